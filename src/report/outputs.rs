//! The action's outputs, rendered from the same models as every other
//! format, so an output declared in action.yml cannot be forgotten.

use super::SetReport;
use crate::policy::Selection;

/// The outputs of a `set` run, as `(name, value)` pairs: `updates` holds
/// only what was written, `planned` what was not (a dry run, a refused run).
pub fn set(r: &SetReport) -> Vec<(&'static str, String)> {
    let json = |u: &[crate::plan::Update]| {
        let v: Vec<super::json_v1::UpdateV1> = u.iter().map(Into::into).collect();
        serde_json::to_string(&v).unwrap_or_else(|_| "[]".into())
    };
    vec![
        ("changed", r.changed.to_string()),
        ("commit-sha", r.commit.clone().unwrap_or_default()),
        (
            "pull-request-url",
            r.pull_request
                .as_ref()
                .map(|p| p.url.clone())
                .unwrap_or_default(),
        ),
        ("updates", json(r.written_updates())),
        ("planned", json(r.planned_updates())),
        ("summary", super::summary::headline(r)),
    ]
}

/// The outputs of an `explain` run: `selected-tag`, `selected-digest` (the
/// winner's index digest, when the registry was asked) and `summary`.
pub fn explain(sel: &Selection, digest: Option<&str>) -> Vec<(&'static str, String)> {
    let summary = match (&sel.winner, &sel.failure) {
        (Some(w), _) => format!("{} selects {w}", sel.policy),
        (None, Some(e)) => format!("nothing selected: {e}"),
        (None, None) => "nothing selected".to_owned(),
    };
    vec![
        ("selected-tag", sel.winner.clone().unwrap_or_default()),
        ("selected-digest", digest.unwrap_or_default().to_owned()),
        ("summary", summary),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_strings_and_updates_are_json() {
        let o = set(&super::super::summary::tests::report());
        assert_eq!(o[0], ("changed", "true".to_owned()));
        assert_eq!(o[1].1, "0123456789abcdef0123");
        let updates: serde_json::Value = serde_json::from_str(&o[3].1).expect("json");
        assert_eq!(updates[0]["to"], "v2");
        assert_eq!(o[4], ("planned", "[]".to_owned()));
        assert_eq!(o[5].1, "committed 0123456789ab (1 value(s) in 1 file(s))");
    }

    // See: issue #12 §4 (the action's `updates` reported bumps that never
    // happened).
    #[test]
    fn issue_12_updates_hold_only_what_was_written() {
        let mut r = super::super::summary::tests::report();
        r.written = false;
        r.commit = None;
        r.findings.push(crate::finding::Finding::error(
            crate::finding::Kind::Downgrade,
            None,
            "no",
        ));
        let o = set(&r);
        assert_eq!(o[3], ("updates", "[]".to_owned()));
        let planned: serde_json::Value = serde_json::from_str(&o[4].1).expect("json");
        assert_eq!(planned[0]["to"], "v2");
    }
}

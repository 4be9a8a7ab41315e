//! The action's outputs, rendered from the same models as every other
//! format, so an output declared in action.yml cannot be forgotten.

use super::SetReport;
use crate::policy::Selection;

/// The outputs of a `set` run, as `(name, value)` pairs.
pub fn set(r: &SetReport) -> Vec<(&'static str, String)> {
    let updates: Vec<super::json_v1::UpdateV1> = r.updates.iter().map(Into::into).collect();
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
        (
            "updates",
            serde_json::to_string(&updates).unwrap_or_else(|_| "[]".into()),
        ),
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

/// The outputs of a `sync` run: `changed`, `commit`, `pull-request-urls`
/// (one per line), `drift` (references not up to date) and `report` (the
/// path of the JSON document, when it was written).
pub fn sync(
    r: &super::sync::SyncReport,
    report: Option<&std::path::Path>,
) -> Vec<(&'static str, String)> {
    vec![
        ("changed", r.changed.to_string()),
        ("commit", r.commit.clone().unwrap_or_default()),
        (
            "pull-request-urls",
            r.pull_requests
                .iter()
                .map(|p| p.url.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        ("drift", r.drift().count().to_string()),
        (
            "report",
            report.map(|p| p.display().to_string()).unwrap_or_default(),
        ),
        ("summary", r.headline()),
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
        assert_eq!(o[4].1, "committed 0123456789ab (1 value(s) in 1 file(s))");
    }
}

//! The action's outputs, rendered from the same models as every other
//! format, so an output declared in action.yml cannot be forgotten.
//!
//! Every output stays under GitHub's limit ([`OUTPUT_LIMIT`]): `summary` is
//! one line cut to [`LINE_LIMIT`] characters, and `updates` keeps the first
//! updates that fit, then ends with a marker object
//! `{"truncated": true, "shown": K, "total": N}` (K updates before it, N in
//! the run), so it stays a JSON array that says it is incomplete. The
//! whole list is in `--output json` and the job log.

use super::SetReport;
use crate::policy::Selection;

/// Largest output, in bytes as GitHub counts them: "Outputs can be a
/// maximum of 1 MB per job … Size is approximated based on UTF-16
/// encoding" (docs.github.com, workflow syntax `jobs.<job_id>.outputs`), so
/// two bytes per UTF-16 code unit. The outputs of one run share it.
pub const OUTPUT_LIMIT: usize = 1_000_000;

/// Most characters of a one-line output such as `summary`.
pub const LINE_LIMIT: usize = 4096;

/// The outputs of a `set` run, as `(name, value)` pairs: `updates` holds
/// only what was written, `planned` what was not (a dry run, a refused
/// run); `commit` and `pull-request-urls` repeat `commit-sha` and
/// `pull-request-url` under the names `sync` fills, so a workflow reads
/// either command the same way.
/// `pull-request-url` is the pull request that carries the bump (opened,
/// updated or already up to date); it is empty when the run closed it (the
/// `summary` says so).
pub fn set(r: &SetReport) -> Vec<(&'static str, String)> {
    let url = r
        .pull_request
        .as_ref()
        .filter(|p| p.action != crate::backend::PullRequestAction::Closed)
        .map(|p| p.url.clone())
        .unwrap_or_default();
    let commit = r.commit.clone().unwrap_or_default();
    let mut out = vec![
        ("changed", r.changed.to_string()),
        ("commit-sha", commit.clone()),
        ("pull-request-url", url.clone()),
        ("summary", one_line(&super::summary::headline(r))),
        ("commit", commit),
        ("pull-request-urls", url),
    ];
    let used: usize = out
        .iter()
        .map(|(n, v)| github_size(n) + github_size(v))
        .sum();
    let room = OUTPUT_LIMIT.saturating_sub(used + github_size("updates") + github_size("planned"));
    // Each value is in exactly one of the two lists, so one of them is
    // nearly always `[]`: the planned list takes what it needs first.
    let planned = updates(r.planned_updates(), room);
    let written = updates(
        r.written_updates(),
        room.saturating_sub(github_size(&planned)),
    );
    out.insert(3, ("updates", written));
    out.insert(4, ("planned", planned));
    out
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
        ("summary", one_line(&summary)),
    ]
}

/// The outputs of a `sync` run: `changed`, `commit` (and `commit-sha`,
/// `set`'s name for it), `pull-request-urls` (one per line), `drift` (references not up to date) and `report` (the
/// path of the JSON document, when it was written).
pub fn sync(
    r: &super::sync::SyncReport,
    report: Option<&std::path::Path>,
) -> Vec<(&'static str, String)> {
    vec![
        ("changed", r.changed.to_string()),
        ("commit", r.commit.clone().unwrap_or_default()),
        ("commit-sha", r.commit.clone().unwrap_or_default()),
        (
            "pull-request-urls",
            r.pull_requests
                .iter()
                .filter(|p| p.action != crate::backend::PullRequestAction::Closed)
                .map(|p| p.url.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        ("drift", r.drift().count().to_string()),
        (
            "report",
            report.map(|p| p.display().to_string()).unwrap_or_default(),
        ),
        ("summary", one_line(&r.headline())),
    ]
}

/// The `updates` (or `planned`) output: a JSON array of `list`, within
/// `room` bytes as GitHub counts them; when they do not all fit, the first
/// ones that do and the marker `{"truncated": true, "shown": K, "total": N}`.
pub fn updates(list: &[crate::plan::Update], room: usize) -> String {
    let all: Vec<String> = list
        .iter()
        .map(|u| serde_json::to_string(&super::json_v1::UpdateV1::from(u)).unwrap_or_default())
        .collect();
    let whole = format!("[{}]", all.join(","));
    if github_size(&whole) <= room {
        return whole;
    }
    let total = all.len();
    // The marker with the widest counts, so it always fits after the cut.
    let marker = |shown: usize| {
        serde_json::json!({ "truncated": true, "shown": shown, "total": total }).to_string()
    };
    let reserve = github_size(&marker(total)) + 2 * 2;
    let mut used = 0;
    let mut shown = 0;
    for u in &all {
        let size = github_size(u) + 2; // and its comma
        if used + size + reserve > room {
            break;
        }
        used += size;
        shown += 1;
    }
    let mut items: Vec<&str> = all[..shown].iter().map(String::as_str).collect();
    let last = marker(shown);
    items.push(&last);
    format!("[{}]", items.join(","))
}

/// `s`'s size as GitHub counts an output: two bytes per UTF-16 code unit.
pub fn github_size(s: &str) -> usize {
    2 * s.encode_utf16().count()
}

/// `s` as one line of at most [`LINE_LIMIT`] characters, with `…` when cut.
fn one_line(s: &str) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    if flat.chars().count() <= LINE_LIMIT {
        return flat;
    }
    let mut cut: String = flat.chars().take(LINE_LIMIT - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Finding, Kind};

    #[test]
    fn outputs_are_strings_and_updates_are_json() {
        let o = set(&super::super::summary::tests::report());
        assert_eq!(o[0], ("changed", "true".to_owned()));
        assert_eq!(o[1].1, "0123456789abcdef0123");
        assert_eq!(o[3].0, "updates");
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

    #[test]
    fn many_updates_end_with_a_marker_and_stay_under_the_limit() {
        let mut r = super::super::summary::tests::report();
        let one = r.updates[0].clone();
        r.updates = (0..20_000)
            .map(|i| {
                let mut u = one.clone();
                u.file = format!("apps/service-{i:05}/deployment-with-a-long-name.yaml");
                u
            })
            .collect();
        let o = set(&r);
        let total: usize = o.iter().map(|(n, v)| github_size(n) + github_size(v)).sum();
        assert!(total <= OUTPUT_LIMIT, "{total}");
        let v: serde_json::Value = serde_json::from_str(&o[3].1).expect("still JSON");
        let items = v.as_array().expect("an array");
        let marker = items.last().expect("marker");
        assert_eq!(marker["truncated"], true);
        assert_eq!(marker["total"], 20_000);
        let shown = marker["shown"].as_u64().expect("count");
        assert_eq!(shown as usize, items.len() - 1);
        assert!(shown > 1000, "{shown}");
        assert_eq!(
            items[0]["file"],
            "apps/service-00000/deployment-with-a-long-name.yaml"
        );
        // Under the limit: no marker.
        assert!(
            !updates(
                &super::super::summary::tests::report().updates,
                OUTPUT_LIMIT
            )
            .contains("truncated")
        );
    }

    #[test]
    fn one_line_outputs_are_cut() {
        let mut r = super::super::summary::tests::report();
        r.findings.push(Finding::error(
            Kind::EditRefused,
            None,
            format!("a\nb{}", "x".repeat(3 * 1024 * 1024)),
        ));
        let summary = set(&r)[5].1.clone();
        assert_eq!(summary.chars().count(), LINE_LIMIT);
        assert!(summary.starts_with("failed: a b") && summary.ends_with('…'));
    }
}

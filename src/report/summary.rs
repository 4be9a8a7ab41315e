//! The job summary (`$GITHUB_STEP_SUMMARY`, Markdown, at most
//! [`SUMMARY_LIMIT`]) and the one-line headline a run ends with.

use super::{SetReport, short_sha, show};
use crate::commit::message::markdown_cell as cell;
use crate::finding::Finding;

/// Largest job summary GitHub accepts per step.
pub const SUMMARY_LIMIT: usize = 1024 * 1024;

/// One line saying how a `set` run ended.
pub fn headline(r: &SetReport) -> String {
    let files = r
        .updates
        .iter()
        .map(|u| u.file.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let n = r.updates.len();
    let first_error = r.errors().next();
    let absent = r
        .skipped()
        .find(|f| f.kind == crate::finding::Kind::NoReference);
    match (first_error, r.changed, r.dry_run, &r.commit) {
        (Some(e), _, _, _) => format!("failed: {}", e.message),
        (None, false, _, _) => match absent {
            Some(f) => format!("nothing to change: {}", f.message),
            None => "already up to date".to_owned(),
        },
        (None, true, true, _) => format!("dry run: {n} value(s) in {files} file(s) would change"),
        (None, true, false, Some(c)) => match &r.pull_request {
            Some(pr) => format!(
                "pull request #{} {} with {} ({n} value(s) in {files} file(s))",
                pr.number,
                if pr.created { "opened" } else { "updated" },
                short_sha(c)
            ),
            None => format!(
                "committed {} ({n} value(s) in {files} file(s))",
                short_sha(c)
            ),
        },
        (None, true, false, None) => format!("wrote {n} value(s) in {files} file(s)"),
    }
}

/// The job summary of a `set` run: a table of updates and a collapsed
/// diff, kept under [`SUMMARY_LIMIT`]. `commit_url` links the commit when
/// it is on GitHub.
pub fn set(r: &SetReport, commit_url: Option<&str>) -> String {
    let mut md = format!("### gitops-bump: {}\n\n", cell(&headline(r)));
    let commit = match (&r.commit, commit_url) {
        (Some(c), Some(url)) => format!("[`{}`]({url})", short_sha(c)),
        (Some(c), None) => format!("`{}`", short_sha(c)),
        (None, _) if r.dry_run => "dry run".to_owned(),
        (None, _) if !r.written => "not written".to_owned(),
        (None, _) => String::new(),
    };
    if !r.updates.is_empty() {
        md.push_str("| image | file:line | from → to | commit |\n|---|---|---|---|\n");
        for u in &r.updates {
            md.push_str(&format!(
                "| `{}` | `{}:{}` | `{}` → `{}` | {commit} |\n",
                cell(&u.image),
                cell(&u.file),
                u.line,
                cell(show(&u.from)),
                cell(show(&u.to))
            ));
        }
    }
    for s in r.skipped() {
        let at = location(s);
        let at = if at.is_empty() {
            String::new()
        } else {
            format!("`{}` ", cell(&at))
        };
        md.push_str(&format!(
            "\n- skipped {at}({}): {}",
            cell(s.image.as_deref().unwrap_or_default()),
            cell(&s.message)
        ));
    }
    if let Some(line) = r.chart_template_line() {
        md.push_str(&format!("\n- {}", cell(&line)));
    }
    for e in r.errors() {
        md.push_str(&format!(
            "\n- **error** `{}`: {}",
            cell(&location(e)),
            cell(&e.message)
        ));
    }
    for p in r.problems() {
        md.push_str(&format!(
            "\n- warning `{}`: {}",
            cell(&location(p)),
            cell(&p.message)
        ));
    }
    md.push('\n');
    if let Some(diff) = &r.diff {
        md.push_str(&collapsed_diff(
            diff,
            SUMMARY_LIMIT.saturating_sub(md.len() + 200),
        ));
    }
    md
}

/// A diff in a collapsed `<details>` block, cut to `room` bytes with a note.
pub fn collapsed_diff(diff: &str, room: usize) -> String {
    let mut shown = diff;
    let mut note = "";
    if shown.len() > room {
        let mut cut = room;
        while !shown.is_char_boundary(cut) {
            cut -= 1;
        }
        shown = &shown[..cut];
        note = "\n… diff truncated to fit the 1 MiB summary limit; see the job log\n";
    }
    // A fence longer than any backtick run inside keeps the diff verbatim.
    let fence = "`".repeat(3.max(longest_backtick_run(shown) + 1));
    let newline = if shown.ends_with('\n') { "" } else { "\n" };
    format!(
        "\n<details><summary>Diff</summary>\n\n{fence}diff\n{shown}{newline}{fence}\n{note}</details>\n"
    )
}

fn location(f: &Finding) -> String {
    f.at().unwrap_or_default()
}

fn longest_backtick_run(s: &str) -> usize {
    s.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::manifest::Dialect;
    use crate::plan::Update;

    pub(crate) fn report() -> SetReport {
        SetReport {
            changed: true,
            written: true,
            commit: Some("0123456789abcdef0123".into()),
            updates: vec![Update {
                file: "a|b.yaml".into(),
                line: 3,
                column: 5,
                dialect: Dialect::Workload,
                image: "ghcr.io/acme/app".into(),
                from: "v1".into(),
                to: "v2".into(),
                aliases: vec![],
            }],
            ..SetReport::default()
        }
    }

    #[test]
    fn summary_escapes_cells_and_links_the_commit() {
        let md = set(&report(), Some("https://github.com/o/r/commit/0123"));
        assert!(md.contains("| `ghcr.io/acme/app` | `a\\|b.yaml:3` | `v1` → `v2` | [`0123456789ab`](https://github.com/o/r/commit/0123) |"), "{md}");
    }

    #[test]
    fn summary_diff_is_fenced_and_bounded() {
        let mut r = report();
        r.dry_run = true;
        r.diff = Some(format!("+ x ```` y\n{}", "+".repeat(2 * SUMMARY_LIMIT)));
        let md = set(&r, None);
        assert!(md.len() <= SUMMARY_LIMIT, "{}", md.len());
        assert!(
            md.contains("`````diff\n"),
            "fence longer than the diff's backticks"
        );
        assert!(md.contains("truncated"));
    }

    #[test]
    fn a_commit_id_that_is_not_ascii_does_not_panic() {
        let mut r = report();
        r.commit = Some("ééééééééééééé".into());
        assert!(headline(&r).starts_with("committed ééééé"));
    }
}

//! The job summary (`$GITHUB_STEP_SUMMARY`, Markdown, at most
//! [`SUMMARY_LIMIT`]) and the one-line headline a run ends with.

use super::{SetReport, short_sha, show};
use crate::backend::PullRequestAction;
use crate::commit::message::markdown_cell as cell;
use crate::finding::{Finding, Severity};

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
        (None, false, _, _) => match (absent, &r.pull_request) {
            (Some(f), _) => format!("nothing to change: {}", f.message),
            (None, Some(pr)) if pr.action == PullRequestAction::Closed => format!(
                "already up to date; closed pull request #{} ({})",
                pr.number,
                pr.reason.as_deref().unwrap_or("nothing left to do")
            ),
            (None, Some(pr)) => format!("pull request #{} already up to date", pr.number),
            (None, None) => "already up to date".to_owned(),
        },
        (None, true, true, _) => format!("dry run: {n} value(s) in {files} file(s) would change"),
        (None, true, false, Some(c)) => match &r.pull_request {
            Some(pr) => format!(
                "pull request #{} {} with {} ({n} value(s) in {files} file(s))",
                pr.number,
                if pr.created() { "opened" } else { "updated" },
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
/// it is on GitHub. When the lists do not fit, each keeps what its share
/// holds and says how many it left out; the diff gets what remains.
pub fn set(r: &SetReport, commit_url: Option<&str>) -> String {
    let mut md = format!(
        "### gitops-bump: {}\n\n",
        cell(&cut(&headline(r), HEADLINE_LIMIT))
    );
    let commit = match (&r.commit, commit_url) {
        (Some(c), Some(url)) => format!("[`{}`]({url})", short_sha(c)),
        (Some(c), None) => format!("`{}`", short_sha(c)),
        (None, _) if r.dry_run => "dry run".to_owned(),
        (None, _) if !r.written => "not written".to_owned(),
        (None, _) => String::new(),
    };
    let rows: Vec<String> = r
        .updates
        .iter()
        .map(|u| {
            format!(
                "| `{}` | `{}:{}` | `{}` → `{}` | {commit} |\n",
                cell(&u.image),
                cell(&u.file),
                u.line,
                cell(show(&u.from)),
                cell(show(&u.to))
            )
        })
        .collect();
    let mut skipped: Vec<String> = r
        .skipped()
        .map(|s| {
            let at = location(s);
            let at = if at.is_empty() {
                String::new()
            } else {
                format!("`{}` ", cell(&at))
            };
            format!(
                "\n- skipped {at}({}): {}",
                cell(s.image.as_deref().unwrap_or_default()),
                cell(&s.message)
            )
        })
        .collect();
    skipped.extend(
        r.chart_template_line()
            .map(|line| format!("\n- {}", cell(&line))),
    );
    let errors: Vec<String> = r
        .errors()
        .map(|e| {
            format!(
                "\n- **error** `{}`: {}",
                cell(&location(e)),
                cell(&e.message)
            )
        })
        .collect();
    let problems: Vec<String> = r
        .problems()
        .map(|p| match (p.severity, p.at()) {
            // The count of files .gitignore hides: a note about no file.
            (Severity::Notice, _) => format!("\n- note: {}", cell(&p.message)),
            _ => format!("\n- warning `{}`: {}", cell(&location(p)), cell(&p.message)),
        })
        .collect();
    let sections = [
        ("update(s)", rows),
        ("skipped value(s)", skipped),
        ("error(s)", errors),
        ("warning(s)", problems),
    ];
    for (i, (noun, lines)) in sections.iter().enumerate() {
        if lines.is_empty() {
            continue;
        }
        if i == 0 {
            md.push_str("| image | file:line | from → to | commit |\n|---|---|---|---|\n");
        }
        // Later sections (and the diff) keep a share of the room, so
        // errors always show.
        let later: usize = sections[i + 1..]
            .iter()
            .map(|(_, l)| l.iter().map(String::len).sum::<usize>().min(SECTION_SHARE) + NOTE_ROOM)
            .sum::<usize>()
            + r.diff
                .as_ref()
                .map_or(0, |d| d.len().min(SECTION_SHARE) + NOTE_ROOM);
        let room = SUMMARY_LIMIT.saturating_sub(md.len() + later + NOTE_ROOM);
        push_bounded(&mut md, lines, room, noun);
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

/// The job summary of a `sync` run: the total, then a table per
/// directory of the references that are not up to date (verdict, image,
/// Git tag → selected tag, policy), the other findings, and with `--apply`
/// the diff, collapsed; kept under [`SUMMARY_LIMIT`].
pub fn sync(r: &super::sync::SyncReport) -> String {
    let mut md = format!("### gitops-bump sync: {}\n\n", cell(&r.headline()));
    let totals = r.totals();
    md.push_str("| verdict | references |\n|---|---|\n");
    for v in crate::drift::Verdict::ALL {
        if totals[v.as_str()] > 0 {
            md.push_str(&format!("| {} | {} |\n", v.as_str(), totals[v.as_str()]));
        }
    }
    for (dir, refs) in r.by_directory() {
        let section = format!(
            "\n#### `{}`\n\n| verdict | file:line | image | Git → selected | policy | why |\n|---|---|---|---|---|---|\n",
            cell(dir)
        );
        if md.len() + section.len() > SUMMARY_LIMIT - 4096 {
            md.push_str(
                "\n… more directories not shown (the 1 MiB summary limit); see the job log\n",
            );
            break;
        }
        md.push_str(&section);
        for x in refs {
            let row = format!(
                "| {} | `{}:{}` | `{}` | `{}` → `{}` | {} | {} |\n",
                x.verdict.as_str(),
                cell(&x.file),
                x.line,
                cell(&x.image),
                cell(&x.shown_current()),
                cell(x.selected.as_deref().unwrap_or("-")),
                cell(x.policy.as_deref().unwrap_or("-")),
                cell(&x.message)
            );
            if md.len() + row.len() > SUMMARY_LIMIT - 4096 {
                break;
            }
            md.push_str(&row);
        }
    }
    for f in r.listed_findings() {
        md.push_str(&format!(
            "\n- {:?} `{}`: {}",
            f.severity,
            cell(&location(f)),
            cell(&f.message)
        ));
    }
    if let Some(line) = r.chart_template_line() {
        md.push_str(&format!("\n- {}", cell(&line)));
    }
    md.push('\n');
    if let Some(diff) = r.diff.as_ref().or(r.applied_diff.as_ref()) {
        md.push_str(&collapsed_diff(
            diff,
            SUMMARY_LIMIT.saturating_sub(md.len() + 200),
        ));
    }
    md
}

/// Room a later section of the summary keeps while an earlier one fills up.
const SECTION_SHARE: usize = 64 * 1024;
/// Room for one "… not shown" note.
const NOTE_ROOM: usize = 256;
/// Most characters of the headline in the summary's title.
const HEADLINE_LIMIT: usize = 1000;

/// Appends `lines` while they fit in `room` bytes of `md`; then one line
/// saying how many `noun` were left out.
fn push_bounded(md: &mut String, lines: &[String], room: usize, noun: &str) {
    let start = md.len();
    for (shown, line) in lines.iter().enumerate() {
        if md.len() - start + line.len() > room {
            md.push_str(&format!(
                "\n… {} more {noun} not shown: the job summary is limited to 1 MiB; see the job log or `--output json`\n",
                lines.len() - shown
            ));
            return;
        }
        md.push_str(line);
    }
}

/// `s` cut to `limit` characters, with `…` when cut.
fn cut(s: &str, limit: usize) -> String {
    if s.chars().count() <= limit {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(limit - 1).collect();
    out.push('…');
    out
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
    fn summary_lists_stay_under_the_limit_and_count_what_they_leave_out() {
        let mut r = report();
        let one = r.updates[0].clone();
        r.updates = (0..30_000)
            .map(|i| {
                let mut u = one.clone();
                u.file = format!("apps/service-{i:05}/deployment.yaml");
                u
            })
            .collect();
        r.findings = (0..3)
            .map(|i| {
                crate::finding::Finding::error(
                    crate::finding::Kind::Downgrade,
                    Some(crate::finding::Location::line("x.yaml", i + 1)),
                    "no",
                )
            })
            .collect();
        r.dry_run = true;
        r.diff = Some("+ x\n".repeat(100_000));
        let md = set(&r, None);
        assert!(md.len() <= SUMMARY_LIMIT, "{}", md.len());
        assert!(
            md.contains("more update(s) not shown: the job summary is limited to 1 MiB"),
            "count"
        );
        assert_eq!(
            md.matches("- **error** `x.yaml:").count(),
            3,
            "errors keep their share: {}",
            &md[md.len().saturating_sub(3000)..]
        );
        assert!(md.contains("`apps/service-00000/deployment.yaml:3`"));
        assert!(md.contains("<details><summary>Diff</summary>"));
    }

    #[test]
    fn a_commit_id_that_is_not_ascii_does_not_panic() {
        let mut r = report();
        r.commit = Some("ééééééééééééé".into());
        assert!(headline(&r).starts_with("committed ééééé"));
    }
}

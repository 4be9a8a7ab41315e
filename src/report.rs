//! Report: the one place that writes to stdout and stderr. Renders the
//! outcome of a run as readable text or as one JSON document.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write;

use serde::Serialize;

use crate::backend::{FileChange, Problem, PullRequest};
use crate::guard::{Refusal, Skipped};
use crate::plan::Update;

/// Everything a `set` run has to say.
#[derive(Debug, Default, Serialize)]
pub struct SetReport {
    /// True if and only if files were (or, in a dry run, would be) changed.
    pub changed: bool,
    /// Commit made, if any.
    pub commit: Option<String>,
    /// Nothing was written.
    pub dry_run: bool,
    /// Changed values.
    pub updates: Vec<Update>,
    /// Pinned sites left alone.
    pub skipped: Vec<Skipped>,
    /// Files that could not be read (not fatal on their own).
    pub problems: Vec<ProblemOut>,
    /// Reasons the run failed.
    pub errors: Vec<Refusal>,
    /// Registry requests and rate limits, when the registry was checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<crate::registry::RegistryStats>,
    /// Read-plan-write rounds (more than 1 after the branch moved under us).
    pub attempts: usize,
    /// API requests sent (network backends only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_requests: Option<u64>,
    /// Unified diff of the change (dry run only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// The pull request opened or updated (`--pull-request` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<PullRequest>,
    /// What verification would check after the write (dry run only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<VerifyPlan>,
}

/// The verification a real run makes after its write, shown by a dry run.
#[derive(Debug, Serialize)]
pub struct VerifyPlan {
    /// What is re-read: the branch (or directory) written to.
    pub target: String,
    /// The head the plan was computed at (`None` for a plain directory).
    pub head: Option<String>,
    /// Lines each changed file must hold after the write.
    pub checks: Vec<VerifyCheck>,
    /// Conditions beyond the lines (the commit is reachable from the head,
    /// the pull request is open).
    pub conditions: Vec<String>,
}

/// One line a file must hold after the write.
#[derive(Debug, Serialize)]
pub struct VerifyCheck {
    /// File path.
    pub file: String,
    /// 1-based line in the new content.
    pub line: usize,
    /// The line's text, without its line ending.
    pub text: String,
}

impl VerifyPlan {
    /// The plan for `changes` planned at `head`, against `target`.
    pub fn new(
        target: String,
        head: Option<String>,
        changes: &[FileChange],
        conditions: Vec<String>,
    ) -> VerifyPlan {
        let checks = changes
            .iter()
            .flat_map(|c| {
                c.written_lines()
                    .into_iter()
                    .map(|(line, text)| VerifyCheck {
                        file: c.path.clone(),
                        line,
                        text,
                    })
            })
            .collect();
        VerifyPlan {
            target,
            head,
            checks,
            conditions,
        }
    }
}

/// A file problem as reported.
#[derive(Debug, Serialize)]
pub struct ProblemOut {
    /// File path.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl From<&Problem> for ProblemOut {
    fn from(p: &Problem) -> Self {
        ProblemOut {
            file: p.file.clone(),
            line: p.line,
            message: p.message.clone(),
        }
    }
}

/// Unified diff of `changes`, `a/` and `b/` prefixed like `git diff`.
pub fn unified_diff(changes: &[FileChange]) -> String {
    let mut out = String::new();
    for c in changes {
        let diff = similar::TextDiff::from_lines(&c.old, &c.new);
        out.push_str(
            &diff
                .unified_diff()
                .context_radius(3)
                .header(&format!("a/{}", c.path), &format!("b/{}", c.path))
                .to_string(),
        );
    }
    out
}

/// Formats `file:line` (or just `file`).
pub fn at(file: &str, line: Option<usize>) -> String {
    match line {
        Some(l) => format!("{file}:{l}"),
        None => file.to_owned(),
    }
}

/// Formats `file:line: ` in front of a message, or nothing for errors that
/// belong to no file (registry checks, a missing gitops commit).
fn prefix(file: &str, line: Option<usize>) -> String {
    if file.is_empty() {
        String::new()
    } else {
        format!("{}: ", at(file, line))
    }
}

/// Prints the report as text (stdout) with warnings and errors on stderr.
/// Inside GitHub Actions (`actions`), problems, updates and errors are also
/// annotations at their `file:line`.
pub fn print_text(r: &SetReport, actions: bool) {
    if actions {
        print_annotations(r);
    }
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    for p in &r.problems {
        let _ = writeln!(err, "warning: {}: {}", at(&p.file, p.line), p.message);
    }
    if let Some(diff) = &r.diff {
        // A long diff folds into a log group on the run page. Diff lines
        // start with ' ', '+', '-' or '@', never with "::".
        if actions {
            let _ = write!(out, "{}", crate::actions::command("group", &[], "diff"));
        }
        let _ = write!(out, "{diff}");
        if actions {
            let _ = write!(out, "{}", crate::actions::command("endgroup", &[], ""));
        }
    }
    for u in &r.updates {
        let aliases = if u.aliases.is_empty() {
            String::new()
        } else {
            format!(" (also via alias at line {})", join(&u.aliases))
        };
        let verb = if r.dry_run { "would update" } else { "updated" };
        let _ = writeln!(
            out,
            "{verb} {}:{}  {}  {} → {}  [{}]{aliases}",
            u.file,
            u.line,
            u.image,
            show(&u.from),
            show(&u.to),
            u.dialect.as_str()
        );
    }
    for s in &r.skipped {
        let _ = writeln!(
            out,
            "skipped {}:{}  {}  {}",
            s.file, s.line, s.image, s.reason
        );
    }
    if let Some(v) = &r.verify {
        let head = v
            .head
            .as_deref()
            .map(|h| format!(" (read at {})", &h[..h.len().min(12)]))
            .unwrap_or_default();
        let _ = writeln!(out, "would verify {}{head} after writing:", v.target);
        for c in &v.checks {
            let _ = writeln!(out, "  {}:{} holds {:?}", c.file, c.line, c.text.trim());
        }
        for c in &v.conditions {
            let _ = writeln!(out, "  {c}");
        }
    }
    if let Some(pr) = &r.pull_request {
        let verb = if pr.created { "opened" } else { "updated" };
        let _ = writeln!(
            out,
            "{verb} pull request #{} from {}: {}",
            pr.number, pr.branch, pr.url
        );
    }
    for e in &r.errors {
        let _ = writeln!(err, "error: {}{}", prefix(&e.file, e.line), e.message);
    }
    if let Some(n) = r.registry.as_ref().and_then(|s| s.ratelimit_remaining) {
        let _ = writeln!(err, "note: Docker Hub pulls remaining in this window: {n}");
    }
    if r.errors.is_empty() {
        let note = if r.dry_run && r.changed {
            "; nothing written"
        } else {
            ""
        };
        let _ = writeln!(out, "{}{note}", headline(r));
    } else {
        let _ = writeln!(
            err,
            "error: nothing written ({} problem(s))",
            r.errors.len()
        );
    }
}

/// The runner shows at most this many annotations of each level per step.
pub const ANNOTATION_LIMIT: usize = 10;

/// Workflow-command annotations for a `set` report, at most
/// [`ANNOTATION_LIMIT`] per level; the rest are summarized in one more.
pub fn annotations(r: &SetReport) -> String {
    use crate::actions::{Annotation, Level, annotation};
    let at = |title: &str, file: &str, line: Option<usize>, col: Option<usize>| Annotation {
        title: Some(title.to_owned()),
        file: Some(file.to_owned()).filter(|f| !f.is_empty()),
        line,
        col,
        ..Annotation::default()
    };
    let errors: Vec<(String, Annotation)> = r
        .errors
        .iter()
        .map(|e| (e.message.clone(), at("gitops-bump", &e.file, e.line, None)))
        .collect();
    let warnings: Vec<(String, Annotation)> = r
        .problems
        .iter()
        .map(|p| {
            (
                p.message.clone(),
                at("gitops-bump: file skipped", &p.file, p.line, None),
            )
        })
        .collect();
    let verb = if r.dry_run { "would update" } else { "updated" };
    let notices: Vec<(String, Annotation)> = r
        .updates
        .iter()
        .map(|u| {
            (
                format!("{verb} {} {} → {}", u.image, show(&u.from), show(&u.to)),
                at("gitops-bump: image", &u.file, Some(u.line), Some(u.column)),
            )
        })
        .chain(r.skipped.iter().map(|s| {
            (
                format!("{} {}", s.image, s.reason),
                at("gitops-bump: skipped", &s.file, Some(s.line), None),
            )
        }))
        .collect();
    let mut out = String::new();
    for (level, items) in [
        (Level::Error, errors),
        (Level::Warning, warnings),
        (Level::Notice, notices),
    ] {
        let shown = if items.len() > ANNOTATION_LIMIT {
            ANNOTATION_LIMIT - 1
        } else {
            items.len()
        };
        for (message, a) in &items[..shown] {
            out.push_str(&annotation(level, message, a));
        }
        if items.len() > shown {
            let rest = items.len() - shown;
            out.push_str(&annotation(
                level,
                &format!("{rest} more not shown here; see the job log and summary"),
                &Annotation {
                    title: Some("gitops-bump".into()),
                    ..Annotation::default()
                },
            ));
        }
    }
    out
}

fn print_annotations(r: &SetReport) {
    let _ = write!(std::io::stdout().lock(), "{}", annotations(r));
}

/// Prints the report as one JSON document on stdout.
pub fn print_json(r: &SetReport) {
    print_json_value(r);
}

/// Prints any serializable document as pretty JSON on stdout.
pub fn print_json_value<T: Serialize>(v: &T) {
    let text =
        serde_json::to_string_pretty(v).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

/// Emits `::add-mask::` for every secret before anything else is printed.
pub fn mask<'a>(secrets: impl Iterator<Item = &'a str>) {
    let mut out = std::io::stdout().lock();
    for s in secrets {
        let _ = write!(out, "{}", crate::actions::add_mask(s.trim()));
    }
}

/// Prints one warning line on stderr.
pub fn warn(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "warning: {message}");
}

/// Prints one fatal error line on stderr, and inside GitHub Actions also as
/// an `::error::` annotation so the failure shows on the run page.
pub fn fatal(message: &str) {
    if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
        let a = crate::actions::Annotation {
            title: Some("gitops-bump".into()),
            ..Default::default()
        };
        let _ = write!(
            std::io::stdout().lock(),
            "{}",
            crate::actions::annotation(crate::actions::Level::Error, message, &a)
        );
    }
    let _ = writeln!(std::io::stderr().lock(), "error: {message}");
}

fn show(v: &str) -> &str {
    if v.is_empty() { "(none)" } else { v }
}

fn join(lines: &[usize]) -> String {
    lines
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `explain --output json` (DESIGN §2 / issue #3 contract).
#[derive(Debug, Serialize)]
pub struct ExplainJson {
    /// The winner, or null.
    pub selected: Option<SelectedJson>,
    /// Every tag with its verdict.
    pub candidates: Vec<CandidateJson>,
    /// "Probably not what you meant" notes.
    pub warnings: Vec<String>,
    /// Why nothing was selected, when nothing was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Requests made, when the registry was asked (absent with `--tags-from`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<crate::registry::RegistryStats>,
}

/// The selected tag.
#[derive(Debug, Serialize)]
pub struct SelectedJson {
    /// Tag as listed.
    pub tag: String,
    /// Index digest, when the registry was asked.
    pub digest: Option<String>,
}

/// One candidate.
#[derive(Debug, Serialize)]
pub struct CandidateJson {
    /// Tag as listed.
    pub tag: String,
    /// Still a candidate after every step.
    pub kept: bool,
    /// `kept`, or the step that dropped it.
    pub reason: String,
    /// The ordering key the policy used.
    pub key: Option<String>,
}

impl ExplainJson {
    /// Builds the document from a selection.
    pub fn new(sel: &crate::policy::Selection, digest: Option<String>) -> ExplainJson {
        use crate::policy::Verdict;
        ExplainJson {
            selected: sel.winner.clone().map(|tag| SelectedJson { tag, digest }),
            candidates: sel
                .candidates
                .iter()
                .map(|c| CandidateJson {
                    tag: c.tag.clone(),
                    kept: c.kept(),
                    reason: match &c.verdict {
                        Verdict::Kept => "kept".to_owned(),
                        Verdict::Dropped(r) => r.to_string(),
                    },
                    key: c.key.clone(),
                })
                .collect(),
            warnings: sel.warnings.iter().map(ToString::to_string).collect(),
            error: sel.failure.as_ref().map(ToString::to_string),
            registry: None,
        }
    }

    /// Adds the registry's request counters.
    pub fn with_registry(mut self, stats: Option<crate::registry::RegistryStats>) -> ExplainJson {
        self.registry = stats;
        self
    }
}

/// Prints an explanation as a readable table: ranked candidates first, then
/// dropped tags with the step that dropped them, then warnings. `digest` is
/// the winner's index digest, when the registry was asked.
pub fn print_explain_text(image: &str, sel: &crate::policy::Selection, digest: Option<&str>) {
    use crate::policy::Verdict;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{image}  policy {}  ({} tags)",
        sel.policy,
        sel.candidates.len()
    );
    let width = sel
        .candidates
        .iter()
        .map(|c| c.tag.len())
        .max()
        .unwrap_or(3)
        .clamp(3, 48);
    for (rank, &i) in sel.ranking.iter().enumerate() {
        let c = &sel.candidates[i];
        let mark = if sel.winner.as_deref() == Some(c.tag.as_str()) {
            "  ← selected"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  #{:<3} {:<width$}  key {}{mark}",
            rank + 1,
            c.tag,
            c.key.as_deref().unwrap_or("-")
        );
    }
    for c in &sel.candidates {
        if let Verdict::Dropped(reason) = &c.verdict {
            let _ = writeln!(out, "  drop {:<width$}  {reason}", c.tag);
        }
    }
    for w in &sel.warnings {
        let _ = writeln!(std::io::stderr().lock(), "warning: {w}");
    }
    match (&sel.winner, &sel.failure) {
        (Some(w), _) => {
            let _ = match digest {
                Some(d) => writeln!(out, "selected: {w}@{d}"),
                None => writeln!(out, "selected: {w}"),
            };
        }
        (None, Some(e)) => {
            let _ = writeln!(std::io::stderr().lock(), "error: nothing selected: {e}");
        }
        (None, None) => {
            let _ = writeln!(std::io::stderr().lock(), "error: nothing selected");
        }
    }
}

/// Largest job summary GitHub accepts per step.
pub const SUMMARY_LIMIT: usize = 1024 * 1024;

/// The action's outputs for a `set` report, as `(name, value)` pairs.
pub fn outputs(r: &SetReport) -> Vec<(&'static str, String)> {
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
            serde_json::to_string(&r.updates).unwrap_or_else(|_| "[]".into()),
        ),
        ("summary", headline(r)),
    ]
}

/// One line saying how the run ended.
pub fn headline(r: &SetReport) -> String {
    let files = r
        .updates
        .iter()
        .map(|u| u.file.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let n = r.updates.len();
    match (r.errors.is_empty(), r.changed, r.dry_run, &r.commit) {
        (false, _, _, _) => format!(
            "failed: {}",
            r.errors.first().map_or("", |e| e.message.as_str())
        ),
        (true, false, _, _) => "already up to date".to_owned(),
        (true, true, true, _) => format!("dry run: {n} value(s) in {files} file(s) would change"),
        (true, true, false, Some(c)) => match &r.pull_request {
            Some(pr) => format!(
                "pull request #{} {} with {} ({n} value(s) in {files} file(s))",
                pr.number,
                if pr.created { "opened" } else { "updated" },
                &c[..c.len().min(12)]
            ),
            None => format!(
                "committed {} ({n} value(s) in {files} file(s))",
                &c[..c.len().min(12)]
            ),
        },
        (true, true, false, None) => format!("wrote {n} value(s) in {files} file(s)"),
    }
}

/// The job summary: a table of updates and a collapsed diff, kept under
/// [`SUMMARY_LIMIT`]. `commit_url` links the commit when it is on GitHub.
pub fn step_summary(r: &SetReport, commit_url: Option<&str>) -> String {
    let cell = |s: &str| {
        s.replace('|', "\\|")
            .replace('`', "'")
            .replace(['\n', '\r'], " ")
    };
    let mut md = format!("### gitops-bump: {}\n\n", cell(&headline(r)));
    let commit = match (&r.commit, commit_url) {
        (Some(c), Some(url)) => format!("[`{}`]({url})", &c[..c.len().min(12)]),
        (Some(c), None) => format!("`{}`", &c[..c.len().min(12)]),
        (None, _) if r.dry_run => "dry run".to_owned(),
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
    for s in &r.skipped {
        md.push_str(&format!(
            "\n- skipped `{}:{}` ({}): {}",
            cell(&s.file),
            s.line,
            cell(&s.image),
            cell(&s.reason)
        ));
    }
    for e in &r.errors {
        md.push_str(&format!(
            "\n- **error** `{}`: {}",
            cell(&at(&e.file, e.line)),
            cell(&e.message)
        ));
    }
    for p in &r.problems {
        md.push_str(&format!(
            "\n- warning `{}`: {}",
            cell(&at(&p.file, p.line)),
            cell(&p.message)
        ));
    }
    md.push('\n');
    if let Some(diff) = &r.diff {
        let room = SUMMARY_LIMIT.saturating_sub(md.len() + 200);
        let mut shown = diff.as_str();
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
        md.push_str(&format!("\n<details><summary>Diff</summary>\n\n{fence}diff\n{shown}{}{fence}\n{note}</details>\n", if shown.ends_with('\n') { "" } else { "\n" }));
    }
    md
}

fn longest_backtick_run(s: &str) -> usize {
    s.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// Writes `explain`'s outputs: `selected-tag`, `selected-digest` and `summary`.
pub fn write_explain_outputs(
    sel: &crate::policy::Selection,
    digest: Option<&str>,
    path: &std::path::Path,
) -> Result<(), String> {
    let summary = match (&sel.winner, &sel.failure) {
        (Some(w), _) => format!("{} selects {w}", sel.policy),
        (None, Some(e)) => format!("nothing selected: {e}"),
        (None, None) => "nothing selected".to_owned(),
    };
    let outputs = [
        ("selected-tag", sel.winner.clone().unwrap_or_default()),
        ("selected-digest", digest.unwrap_or_default().to_owned()),
        ("summary", summary),
    ];
    for (name, value) in outputs {
        crate::actions::append_output(path, name, &value)
            .map_err(|e| format!("$GITHUB_OUTPUT: {e}"))?;
    }
    Ok(())
}

/// Writes the outputs and the job summary to the files the runner names.
pub fn write_action_files(
    r: &SetReport,
    output: Option<&std::path::Path>,
    summary: Option<&std::path::Path>,
    commit_url: Option<&str>,
) -> Result<(), String> {
    if let Some(path) = output {
        for (name, value) in outputs(r) {
            crate::actions::append_output(path, name, &value)
                .map_err(|e| format!("$GITHUB_OUTPUT: {e}"))?;
        }
    }
    if let Some(path) = summary {
        let text = step_summary(r, commit_url);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| format!("$GITHUB_STEP_SUMMARY {}: {e}", path.display()))?;
        f.write_all(text.as_bytes())
            .map_err(|e| format!("$GITHUB_STEP_SUMMARY {}: {e}", path.display()))?;
    }
    Ok(())
}

/// Installs the process's log subscriber: events at WARN or above from any
/// layer (GitHub retries, a moved branch) print as one `warning: …` line on
/// stderr, so lower layers never call into `report`. Safe to call twice.
pub fn init_logging() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let subscriber = tracing_subscriber::registry().with(WarningLines);
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// Prints WARN and ERROR events as `warning: {message}` lines.
struct WarningLines;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for WarningLines {
    fn enabled(
        &self,
        metadata: &tracing::Metadata<'_>,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        *metadata.level() <= tracing::Level::WARN
    }

    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let mut message = Message(String::new());
        event.record(&mut message);
        warn(&message.0);
    }
}

/// Collects an event's `message` field.
struct Message(String);

impl tracing::field::Visit for Message {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Dialect;

    fn report() -> SetReport {
        SetReport {
            changed: true,
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
    fn outputs_are_strings_and_updates_are_json() {
        let o = outputs(&report());
        assert_eq!(o[0], ("changed", "true".to_owned()));
        assert_eq!(o[1].1, "0123456789abcdef0123");
        let updates: serde_json::Value = serde_json::from_str(&o[3].1).expect("json");
        assert_eq!(updates[0]["to"], "v2");
        assert_eq!(o[4].1, "committed 0123456789ab (1 value(s) in 1 file(s))");
    }

    #[test]
    fn summary_escapes_cells_and_links_the_commit() {
        let md = step_summary(&report(), Some("https://github.com/o/r/commit/0123"));
        assert!(md.contains("| `ghcr.io/acme/app` | `a\\|b.yaml:3` | `v1` → `v2` | [`0123456789ab`](https://github.com/o/r/commit/0123) |"), "{md}");
    }

    #[test]
    fn summary_diff_is_fenced_and_bounded() {
        let mut r = report();
        r.dry_run = true;
        r.diff = Some(format!("+ x ```` y\n{}", "+".repeat(2 * SUMMARY_LIMIT)));
        let md = step_summary(&r, None);
        assert!(md.len() <= SUMMARY_LIMIT, "{}", md.len());
        assert!(
            md.contains("`````diff\n"),
            "fence longer than the diff's backticks"
        );
        assert!(md.contains("truncated"));
    }
}

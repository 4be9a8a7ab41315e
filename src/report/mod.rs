//! Report, the last step of the spine: one model per command in, one file
//! per format out. [`SetReport`] and the explain model are rendered as
//! readable text ([`text`]), workflow-command annotations
//! ([`annotations`]), the job summary ([`summary`]), the action's outputs
//! ([`outputs`]) and frozen JSON documents ([`json_v1`]). The exit code is
//! computed here, once, from the findings ([`exit_code`]). [`log`] prints
//! the notices lower layers emit as `tracing` events (and, with
//! `--verbose` or `GITOPS_BUMP_LOG`, every event).
//!
//! The only module that writes to stdout and stderr, and every line it
//! writes goes through [`safe`]: text that a repository or registry
//! controls is neutralised there, once, for the GitHub runner and for
//! terminals; only the workflow commands built by `gha::commands` pass
//! ([`safe::Lines::command`]), and `::add-mask::` lines exactly as built
//! ([`mask`]). A new renderer writes through [`safe::Lines`] too.

#![allow(clippy::print_stdout, clippy::print_stderr)]

pub mod annotations;
pub mod json_v1;
pub mod log;
pub mod outputs;
pub mod safe;
pub mod summary;
pub mod sync;
pub mod text;

use std::io::Write;

use crate::backend::{FileChange, PullRequest};
use crate::commit::verify::VerifyPlan;
pub use crate::finding::FailOn;
use crate::finding::{Finding, Kind, Severity};
use crate::plan::Update;

/// Everything a `set` run has to say.
#[derive(Debug, Default)]
pub struct SetReport {
    /// True if and only if files were (or, in a dry run, would be) changed.
    pub changed: bool,
    /// Commit made, if any.
    pub commit: Option<String>,
    /// Nothing was written.
    pub dry_run: bool,
    /// True if and only if the write was made (it landed, whatever
    /// verification said after it): `updates` were written.
    pub written: bool,
    /// The values the run changed when `written`, else the values it
    /// planned (a dry run, or a refused run: not written).
    pub updates: Vec<Update>,
    /// Everything found on the way, in the order the steps found it.
    pub findings: Vec<Finding>,
    /// Registry requests and rate limits, when the registry was checked.
    pub registry: Option<crate::registry::RegistryStats>,
    /// Read-plan-write rounds (more than 1 after the branch moved under us).
    pub attempts: usize,
    /// API requests sent (network backends only).
    pub api_requests: Option<u64>,
    /// Unified diff of the change (dry run only).
    pub diff: Option<String>,
    /// The pull request opened, updated, found up to date or closed
    /// (`--pull-request` only; set through [`SetReport::record_pull_request`]).
    pub pull_request: Option<PullRequest>,
    /// What verification would check after the write (dry run only).
    pub verify: Option<VerifyPlan>,
}

impl SetReport {
    /// The findings of `severity`, in order.
    pub fn with_severity(&self, severity: Severity) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.severity == severity)
    }

    /// The errors: non-empty means the run failed and nothing was written.
    pub fn errors(&self) -> impl Iterator<Item = &Finding> {
        self.with_severity(Severity::Error)
    }

    /// References left alone, with the reason: pinned by
    /// `# gitops-bump:ignore`, on another tag track, in YAML that cannot be
    /// edited (warnings), and IMAGE_REFs absent under `--allow-absent`.
    pub fn skipped(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| {
            matches!(
                f.kind,
                Kind::Pinned | Kind::NotSelected | Kind::BlockSkipped
            ) || (f.kind == Kind::NoReference && f.severity != Severity::Error)
        })
    }

    /// Helm chart templates not read (one notice per file; reports count
    /// them in one line).
    pub fn chart_templates(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.kind == Kind::ChartTemplate)
    }

    /// The values written: `updates` when the write was made, else none.
    pub fn written_updates(&self) -> &[Update] {
        if self.written { &self.updates } else { &[] }
    }

    /// The values planned but not written (a dry run, or a refused run).
    pub fn planned_updates(&self) -> &[Update] {
        if self.written { &[] } else { &self.updates }
    }

    /// How an update line starts: `updated` for what was written, `would
    /// update` for a plan (a dry run, a refused run).
    pub fn verb(&self) -> &'static str {
        if self.written {
            "updated"
        } else {
            "would update"
        }
    }

    /// What an update line ends with when the run failed: `" (not
    /// written)"` for the plan of a refused run, `" (not verified)"` for a
    /// write that landed but failed verification; else `""`.
    pub fn caveat(&self) -> &'static str {
        match (self.written, self.errors().next().is_some()) {
            (false, true) => " (not written)",
            (true, true) => " (not verified)",
            (_, false) => "",
        }
    }

    /// One line saying how many chart templates were skipped, with the
    /// first of them, when there were any ([`chart_template_line`]).
    pub fn chart_template_line(&self) -> Option<String> {
        chart_template_line(&self.findings)
    }

    /// Records what the run did to its pull request. One whose branch
    /// already held the plan (up to date, retitled) or that was closed
    /// changed no file: `changed` is false and no value is listed as
    /// updated, as in any "already up to date" run.
    pub fn record_pull_request(&mut self, pull_request: Option<PullRequest>) {
        if let Some(pr) = &pull_request
            && !pr.wrote()
        {
            self.changed = false;
            self.updates.clear();
        }
        self.pull_request = pull_request;
    }

    /// Files skipped while reading, and the count of those `.gitignore`
    /// kept out.
    pub fn problems(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| matches!(f.kind, Kind::FileSkipped | Kind::Ignored))
    }
}

/// One line saying how many of `findings` are skipped chart templates
/// ([`Kind::ChartTemplate`], one notice per file), with the first of them,
/// when there are any: every report prints them as this one line.
pub fn chart_template_line(findings: &[Finding]) -> Option<String> {
    let mut templates = findings.iter().filter(|f| f.kind == Kind::ChartTemplate);
    let first = templates.next()?;
    let n = 1 + templates.count();
    let (noun, them, their) = if n == 1 {
        ("template", "it", "its")
    } else {
        ("templates", "them", "their")
    };
    Some(format!(
        "{n} chart {noun} skipped (not YAML until Helm renders {them}; {their} images come from values files), e.g. {}",
        first.file()
    ))
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0: done, including "nothing to change".
    Success,
    /// Exit 1: the job failed (a guard refused, verification failed).
    Failed,
}

/// The one exit-code rule: the run failed if and only if a finding reaches
/// the `fail_on` level, or a write could not be verified (a failed job
/// whatever `--fail-on` says).
pub fn exit_code<'a>(findings: impl IntoIterator<Item = &'a Finding>, fail_on: FailOn) -> Outcome {
    let least = match fail_on {
        FailOn::Error => Some(Severity::Error),
        FailOn::Warning => Some(Severity::Warning),
        FailOn::Never => None,
    };
    let failed =
        |f: &Finding| f.kind == Kind::CommitMissing || least.is_some_and(|l| f.severity >= l);
    if findings.into_iter().any(failed) {
        Outcome::Failed
    } else {
        Outcome::Success
    }
}

/// The exit code of a run that ended in an error: 2 for usage and
/// configuration errors, 128 + the signal for a write interrupted by
/// SIGINT or SIGTERM (as a shell reports it), 1 for anything else.
pub fn error_exit_code(e: &anyhow::Error) -> u8 {
    if e.downcast_ref::<crate::finding::UsageError>().is_some() {
        return 2;
    }
    match e.downcast_ref::<crate::commit::CommitError>() {
        Some(crate::commit::CommitError::Backend {
            error: crate::backend::BackendError::Interrupted(i),
            ..
        }) => i.exit_code(),
        _ => 1,
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

/// Emits `::add-mask::` for every secret before anything else is printed.
/// Written as built, not through [`safe::Lines`]: the runner must receive
/// the secret's exact characters to mask them.
pub fn mask<'a>(secrets: impl Iterator<Item = &'a str>) {
    let mut out = std::io::stdout().lock();
    for s in secrets {
        let _ = out.write_all(crate::gha::commands::add_mask(s.trim()).as_bytes());
    }
}

/// Prints one warning line on stderr.
pub fn warn(message: &str) {
    let _ = writeln!(
        safe::Lines::new(std::io::stderr().lock()),
        "warning: {message}"
    );
}

/// Prints one fatal error line on stderr, and inside GitHub Actions
/// (`actions`) also as an `::error::` annotation so the failure shows on
/// the run page.
pub fn fatal(message: &str, actions: bool) {
    if actions {
        let a = crate::gha::commands::Annotation {
            title: Some("gitops-bump".into()),
            ..Default::default()
        };
        let _ = safe::Lines::new(std::io::stdout().lock()).command(
            &crate::gha::commands::annotation(crate::gha::commands::Level::Error, message, &a),
        );
    }
    let _ = writeln!(
        safe::Lines::new(std::io::stderr().lock()),
        "error: {message}"
    );
}

/// Prints a serializable document as pretty JSON on stdout, with its
/// strings re-escaped by [`safe::json`] (same values, nothing a runner or
/// terminal acts on).
pub fn print_json<T: serde::Serialize>(v: &T) {
    // Streamed: a report of 50,000 references is never held as text.
    let stdout = std::io::stdout().lock();
    let mut out = safe::JsonWriter::new(std::io::BufWriter::new(stdout));
    if let Err(e) = serde_json::to_writer_pretty(&mut out, v) {
        warn(&format!("cannot write the JSON document: {e}"));
    }
    if let Ok(mut inner) = out.finish() {
        let _ = writeln!(inner);
    }
}

/// One line saying what a run did to a pull request:
/// `opened pull request #1 from gitops-bump/main/app: URL`, `pull request #1
/// from … already up to date: URL`, `closed pull request #1 from …: main
/// already holds app:v2; deleted its branch`.
pub fn pull_request_line(pr: &PullRequest) -> String {
    use crate::backend::PullRequestAction as A;
    let (n, branch, url) = (pr.number, &pr.branch, &pr.url);
    match pr.action {
        A::Opened => format!("opened pull request #{n} from {branch}: {url}"),
        A::Updated => format!("updated pull request #{n} from {branch}: {url}"),
        A::Retitled => format!(
            "retitled pull request #{n} from {branch} (its branch was already up to date): {url}"
        ),
        A::UpToDate => format!("pull request #{n} from {branch} already up to date: {url}"),
        A::Closed => format!(
            "closed pull request #{n} from {branch}: {}; {}",
            pr.reason.as_deref().unwrap_or("nothing left to do"),
            if pr.branch_deleted {
                "deleted its branch"
            } else {
                "its branch moved meanwhile and was kept"
            }
        ),
    }
}

/// The first 12 characters of a commit id, as `git log --oneline` shows it.
pub fn short_sha(oid: &str) -> &str {
    oid.get(..12).unwrap_or(oid)
}

/// An empty tag or digest shows as `(none)`.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Location;

    #[test]
    fn exit_code_follows_fail_on() {
        let warning = Finding::warning(Kind::FileSkipped, Some(Location::file("a")), "x");
        let error = Finding::error(Kind::TagMissing, None, "y");
        assert_eq!(exit_code([&warning], FailOn::Error), Outcome::Success);
        assert_eq!(exit_code([&warning], FailOn::Warning), Outcome::Failed);
        assert_eq!(
            exit_code([&warning, &error], FailOn::Error),
            Outcome::Failed
        );
        assert_eq!(exit_code([&error], FailOn::Never), Outcome::Success);
        assert_eq!(exit_code([], FailOn::Warning), Outcome::Success);
    }
}

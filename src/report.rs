//! Report: the one place that writes to stdout and stderr. Renders the
//! outcome of a run as readable text or as one JSON document.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write;

use serde::Serialize;

use crate::backend::{FileChange, Problem};
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
    /// Read-plan-write rounds (more than 1 after the branch moved under us).
    pub attempts: usize,
    /// API requests sent (network backends only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_requests: Option<u64>,
    /// Unified diff of the change (dry run only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
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

/// Prints the report as text (stdout) with warnings and errors on stderr.
pub fn print_text(r: &SetReport) {
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    for p in &r.problems {
        let _ = writeln!(err, "warning: {}: {}", at(&p.file, p.line), p.message);
    }
    if let Some(diff) = &r.diff {
        let _ = write!(out, "{diff}");
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
    for e in &r.errors {
        // Run-wide errors (a missing gitops commit) name no file.
        if e.file.is_empty() {
            let _ = writeln!(err, "error: {}", e.message);
        } else {
            let _ = writeln!(err, "error: {}: {}", at(&e.file, e.line), e.message);
        }
    }
    if r.errors.is_empty() {
        let files = r
            .updates
            .iter()
            .map(|u| u.file.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        let line = match (&r.commit, r.changed, r.dry_run) {
            (_, false, _) => "already up to date".to_owned(),
            (_, true, true) => format!(
                "dry run: {} value(s) in {files} file(s) would change; nothing written",
                r.updates.len()
            ),
            (Some(c), true, false) => format!(
                "committed {} ({} value(s) in {files} file(s))",
                &c[..c.len().min(12)],
                r.updates.len()
            ),
            (None, true, false) => format!("wrote {} value(s) in {files} file(s)", r.updates.len()),
        };
        let _ = writeln!(out, "{line}");
    } else {
        let _ = writeln!(
            err,
            "error: nothing written ({} problem(s))",
            r.errors.len()
        );
    }
}

/// Prints the report as one JSON document on stdout.
pub fn print_json(r: &SetReport) {
    let text =
        serde_json::to_string_pretty(r).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

/// Prints one warning line on stderr.
pub fn warn(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "warning: {message}");
}

/// Prints one fatal error line on stderr.
pub fn fatal(message: &str) {
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

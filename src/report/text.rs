//! Readable text: results on stdout, warnings and errors on stderr. Inside
//! GitHub Actions the annotations come first and the diff folds into a log
//! group. Every line goes through [`Lines`], which neutralises what the
//! repository or registry controls; only the annotations and the group
//! commands pass as built.

use std::io::Write;

use super::safe::Lines;
use super::{SetReport, join, short_sha, show};
use crate::finding::{Finding, Severity};
use crate::gha::commands::command;
use crate::policy::{Selection, Status};
use crate::registry::RegistryStats;

/// Writes a `set` report: skipped files and uneditable references as
/// warnings, chart templates in one note, the diff (dry run), one line per
/// update (`updated` only for what was written; `would update`, and `(not
/// written)` in a refused run) and per skipped reference, the verification
/// plan, the pull request, errors, and the closing headline.
pub fn set(out: &mut dyn Write, err: &mut dyn Write, r: &SetReport, actions: bool) {
    let (out, err) = (&mut Lines::new(out), &mut Lines::new(err));
    if actions {
        let _ = out.command(&super::annotations::set(r));
    }
    for p in r.problems() {
        match p.severity {
            Severity::Notice => writeln!(err, "note: {}", p.message),
            _ => writeln!(err, "warning: {}: {}", location(p), p.message),
        }
        .ok();
    }
    for s in r.skipped().filter(|s| s.severity == Severity::Warning) {
        let image = s.image.as_deref().unwrap_or_default();
        let _ = writeln!(err, "warning: {}: {image}: {}", location(s), s.message);
    }
    if let Some(line) = r.chart_template_line() {
        let _ = writeln!(err, "note: {line}");
    }
    if let Some(diff) = &r.diff {
        // A long diff folds into a log group on the run page. Its lines are
        // the repository's text: a context line ` ::error::…` is a command
        // to the runner (it trims the space), and `##[` counts anywhere, so
        // `out` neutralises them like every other line.
        if actions {
            let _ = out.command(&command("group", &[], "diff"));
        }
        let _ = write!(out, "{diff}");
        if actions {
            let _ = out.command(&command("endgroup", &[], ""));
        }
    }
    for u in &r.updates {
        let aliases = if u.aliases.is_empty() {
            String::new()
        } else {
            format!(" (also via alias at line {})", join(&u.aliases))
        };
        let _ = writeln!(
            out,
            "{} {}:{}  {}  {} → {}  [{}]{aliases}{}",
            r.verb(),
            u.file,
            u.line,
            u.image,
            show(&u.from),
            show(&u.to),
            u.dialect.as_str(),
            r.caveat()
        );
    }
    for s in r.skipped().filter(|s| s.severity == Severity::Notice) {
        let at = location(s);
        let at = if at.is_empty() {
            String::new()
        } else {
            format!("{at}  ")
        };
        let _ = writeln!(
            out,
            "skipped {at}{}  {}",
            s.image.as_deref().unwrap_or_default(),
            s.message
        );
    }
    if let Some(v) = &r.verify {
        let head = v
            .head
            .as_deref()
            .map(|h| format!(" (read at {})", short_sha(h)))
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
        let _ = writeln!(out, "{}", super::pull_request_line(pr));
    }
    let errors: Vec<&Finding> = r.errors().collect();
    for e in &errors {
        let prefix = e.at().map(|at| format!("{at}: ")).unwrap_or_default();
        let _ = writeln!(err, "error: {prefix}{}", e.message);
    }
    if let Some(n) = r.registry.as_ref().and_then(|s| s.ratelimit_remaining) {
        let _ = writeln!(err, "note: Docker Hub pulls remaining in this window: {n}");
    }
    if errors.is_empty() {
        let note = if r.dry_run && r.changed {
            "; nothing written"
        } else {
            ""
        };
        let _ = writeln!(out, "{}{note}", super::summary::headline(r));
    } else if r.written {
        // The write was made; what failed is the check after it.
        let _ = writeln!(
            err,
            "error: the write was sent and acknowledged, but verification failed ({} problem(s))",
            errors.len()
        );
    } else {
        let _ = writeln!(err, "error: nothing written ({} problem(s))", errors.len());
    }
}

/// Writes an explanation as a readable table: ranked candidates first,
/// then dropped tags with the step that dropped them, then warnings and the
/// winner. `digest` is the winner's index digest, when the registry was
/// asked.
pub fn explain(
    out: &mut dyn Write,
    err: &mut dyn Write,
    image: &str,
    sel: &Selection,
    digest: Option<&str>,
    registry: Option<&RegistryStats>,
) {
    let (out, err) = (&mut Lines::new(out), &mut Lines::new(err));
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
        if let Status::Dropped(reason) = &c.status {
            let _ = writeln!(out, "  drop {:<width$}  {reason}", c.tag);
        }
    }
    for w in &sel.warnings {
        let _ = writeln!(err, "warning: {w}");
    }
    if let Some(stats) = registry.filter(|s| s.invalid_tags_dropped > 0) {
        let _ = writeln!(
            err,
            "warning: the registry listed {} tag(s) that break the OCI tag grammar; they were dropped before the policy saw them (e.g. {})",
            stats.invalid_tags_dropped,
            stats.invalid_tag_examples.join(", ")
        );
    }
    match (&sel.winner, &sel.failure) {
        (Some(w), _) => {
            let _ = match digest {
                Some(d) => writeln!(out, "selected: {w}@{d}"),
                None => writeln!(out, "selected: {w}"),
            };
        }
        (None, Some(e)) => {
            let _ = writeln!(err, "error: nothing selected: {e}");
        }
        (None, None) => {
            let _ = writeln!(err, "error: nothing selected");
        }
    }
}

/// `file:line`, or `file`, or nothing.
fn location(f: &Finding) -> String {
    f.at().unwrap_or_default()
}

/// Writes a `sync` report: one line per reference that is not up to date,
/// grouped by directory; findings on stderr; the diff of `--apply
/// --dry-run`; what was written; and a one-line total.
pub fn sync(out: &mut dyn Write, err: &mut dyn Write, r: &super::sync::SyncReport, actions: bool) {
    let (out, err) = (&mut Lines::new(out), &mut Lines::new(err));
    if actions {
        let _ = out.command(&super::annotations::sync(r));
    }
    for f in r.listed_findings() {
        let level = match f.severity {
            crate::finding::Severity::Error => "error",
            crate::finding::Severity::Warning => "warning",
            crate::finding::Severity::Notice => "note",
        };
        let prefix = f.at().map(|at| format!("{at}: ")).unwrap_or_default();
        let _ = writeln!(err, "{level}: {prefix}{}", f.message);
    }
    if let Some(line) = r.chart_template_line() {
        let _ = writeln!(err, "note: {line}");
    }
    for (dir, refs) in r.by_directory() {
        let _ = writeln!(out, "{dir}/");
        for x in refs {
            let name = x.file.rsplit_once('/').map_or(x.file.as_str(), |(_, n)| n);
            let _ = writeln!(
                out,
                "  {:<16} {name}:{}  {}  {}",
                x.verdict.as_str(),
                x.line,
                x.image,
                x.message
            );
        }
    }
    if let Some(diff) = &r.diff {
        if actions {
            let _ = out.command(&command("group", &[], "diff"));
        }
        let _ = write!(out, "{diff}");
        if actions {
            let _ = out.command(&command("endgroup", &[], ""));
        }
    }
    for pr in &r.pull_requests {
        let _ = writeln!(out, "{}", super::pull_request_line(pr));
    }
    let _ = writeln!(out, "sync: {}", r.headline());
}

//! Workflow-command annotations (`::error file=…,line=…::`), at most
//! [`ANNOTATION_LIMIT`] per level, because the runner shows no more per
//! step; the rest are counted in one more annotation.

use super::{SetReport, show};
use crate::finding::{Finding, Severity};
use crate::gha::commands::{Annotation, Level, annotation};

/// The runner shows at most this many annotations of each level per step.
pub const ANNOTATION_LIMIT: usize = 10;

/// Annotations for a `set` report: errors, then skipped files and
/// references that cannot be edited (warnings), then updates, skipped
/// references and the chart-template count (notices).
pub fn set(r: &SetReport) -> String {
    let errors: Vec<(String, Annotation)> = r
        .errors()
        .map(|e| (e.message.clone(), at("gitops-bump", e, None)))
        .collect();
    let skipped = |s: &Finding| {
        (
            format!("{} {}", s.image.as_deref().unwrap_or_default(), s.message),
            at("gitops-bump: skipped", s, None),
        )
    };
    let warnings: Vec<(String, Annotation)> = r
        .problems()
        .filter(|p| p.severity == Severity::Warning)
        .map(|p| (p.message.clone(), at("gitops-bump: file skipped", p, None)))
        .chain(
            r.skipped()
                .filter(|s| s.severity == Severity::Warning)
                .map(skipped),
        )
        .collect();
    let (verb, caveat) = (r.verb(), r.caveat());
    let notices: Vec<(String, Annotation)> = r
        .updates
        .iter()
        .map(|u| {
            (
                format!(
                    "{verb} {} {} → {}{caveat}",
                    u.image,
                    show(&u.from),
                    show(&u.to)
                ),
                Annotation {
                    title: Some("gitops-bump: image".into()),
                    file: Some(u.file.clone()),
                    line: Some(u.line),
                    col: Some(u.column),
                    ..Annotation::default()
                },
            )
        })
        .chain(
            r.skipped()
                .filter(|s| s.severity == Severity::Notice)
                .map(skipped),
        )
        .chain(r.chart_template_line().map(|line| {
            let a = Annotation {
                title: Some("gitops-bump: skipped".into()),
                ..Annotation::default()
            };
            (line, a)
        }))
        .collect();
    capped([
        (Level::Error, errors),
        (Level::Warning, warnings),
        (Level::Notice, notices),
    ])
}

/// Renders each level's annotations, keeping [`ANNOTATION_LIMIT`] per
/// level: when there are more, the last slot says how many were left out.
pub fn capped(levels: [(Level, Vec<(String, Annotation)>); 3]) -> String {
    let mut out = String::new();
    for (level, items) in levels {
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

/// The annotation properties for a finding: `title`, and its file, line
/// and column when it has them.
pub fn at(title: &str, f: &Finding, col: Option<usize>) -> Annotation {
    Annotation {
        title: Some(title.to_owned()),
        file: f.location.as_ref().map(|l| l.file.clone()),
        line: f.line(),
        col: col.or(f.location.as_ref().and_then(|l| l.column)),
        ..Annotation::default()
    }
}

/// Annotations for a `sync` report: one per reference that is not up to
/// date, at its `file:line`, at its verdict's severity, then the other
/// findings.
pub fn sync(r: &super::sync::SyncReport) -> String {
    let mut levels: [(Level, Vec<(String, Annotation)>); 3] = [
        (Level::Error, Vec::new()),
        (Level::Warning, Vec::new()),
        (Level::Notice, Vec::new()),
    ];
    let findings = r
        .drift()
        .map(|x| (x.finding(), "gitops-bump: drift"))
        .chain(r.listed_findings().map(|f| (f.clone(), "gitops-bump")));
    for (f, title) in findings {
        let slot = match f.severity {
            Severity::Error => 0,
            Severity::Warning => 1,
            Severity::Notice => 2,
        };
        levels[slot]
            .1
            .push((f.message.clone(), at(title, &f, None)));
    }
    if let Some(line) = r.chart_template_line() {
        let a = Annotation {
            title: Some("gitops-bump: skipped".into()),
            ..Annotation::default()
        };
        levels[2].1.push((line, a));
    }
    capped(levels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Kind, Location};

    #[test]
    fn each_level_keeps_ten_and_counts_the_rest() {
        let r = SetReport {
            findings: (0..12)
                .map(|i| {
                    Finding::error(Kind::Downgrade, Some(Location::line("a.yaml", i + 1)), "no")
                })
                .collect(),
            ..SetReport::default()
        };
        let out = set(&r);
        assert_eq!(out.lines().count(), ANNOTATION_LIMIT);
        assert!(
            out.lines().last().is_some_and(
                |l| l.ends_with("::3 more not shown here; see the job log and summary")
            ),
            "{out}"
        );
    }
}

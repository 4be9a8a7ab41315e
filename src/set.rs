//! `set`: the spine for one or more IMAGE_REFs. inputs → resolve (the
//! registry, once) → the write path (`commit::run`: read → discover → plan
//! → guard → commit → publish → verify, re-run from the read when the head
//! moved) → report.

use crate::backend::{Backend, PullRequestSpec, Snapshot, Target, Write};
use crate::commit::{self, CommitError, Planned, Written, message};
use crate::discover::discover;
use crate::finding::{Finding, Kind};
use crate::guard;
use crate::plan::{self, Desired};
use crate::report::SetReport;
use crate::settings::Settings;

/// Runs `set` and returns the report; errors in it mean exit 1.
pub fn run(settings: &Settings, backend: &mut dyn Backend) -> Result<SetReport, CommitError> {
    // resolve: once, before anything is read. The registry's answer does not
    // depend on the files, so a retry after a stale write reuses it.
    let resolution = crate::resolve::resolve(
        &settings.targets,
        &settings.platforms,
        &settings.registry,
        settings.no_verify,
    );
    if !resolution.errors.is_empty() {
        return Ok(SetReport {
            dry_run: settings.dry_run,
            findings: resolution.errors,
            registry: resolution.stats,
            ..SetReport::default()
        });
    }
    let committed = commit::run(
        backend,
        &settings.files,
        settings.retry,
        settings.dry_run,
        &mut |snapshot| attempt(settings, &resolution.targets, snapshot),
    )?;
    let mut report = committed.outcome;
    report.registry = resolution.stats;
    report.attempts = committed.attempts;
    report.api_requests = backend.api_requests();
    match committed.written {
        Written::Nothing => {}
        Written::DryRun { write, verify } => {
            report.diff = Some(crate::report::unified_diff(&write.changes));
            report.verify = Some(verify);
        }
        Written::Done {
            commit,
            pull_request,
            missing,
            ..
        } => {
            report.commit = commit;
            report.pull_request = pull_request;
            report.findings.extend(missing.into_iter().map(|m| {
                Finding::error(
                    Kind::CommitMissing,
                    None,
                    format!("gitops commit missing: {m}"),
                )
            }));
        }
    }
    Ok(report)
}

/// One round on `snapshot`: discover, plan, guard, merge; the report so far
/// and the write, unless nothing changes or a guard refused.
fn attempt(settings: &Settings, targets: &[Desired], snapshot: &Snapshot) -> Planned<SetReport> {
    let holds_target = |m: &crate::manifest::Manifest| {
        m.sites.iter().any(|s| {
            m.image_of(s)
                .repository
                .is_some_and(|r| targets.iter().any(|t| t.reference.repository() == r))
        })
    };
    let found = discover(snapshot, &holds_target);
    let plans = plan::plan(&found.manifests, targets);
    let decision = guard::check(
        &found.manifests,
        targets,
        &plans,
        &found.unreadable,
        settings.no_verify,
        &settings.downgrades,
    );
    let merged = plan::merge::merge(&found.manifests, &plans, &decision.allowed);
    let mut report = SetReport {
        dry_run: settings.dry_run,
        findings: decision.findings,
        updates: merged.updates,
        ..SetReport::default()
    };
    report.findings.extend(merged.findings);
    report
        .findings
        .extend(found.unreadable.iter().map(|u| u.finding.clone()));
    report.changed = !merged.changes.is_empty() && report.errors().next().is_none();
    if !report.changed {
        return Planned {
            outcome: report,
            write: None,
        };
    }
    let id = uuid::Uuid::new_v4().to_string();
    let target = if settings.pull_request {
        let (title, body) = message::pull_request(&settings.message, &report.updates);
        Target::PullRequest(PullRequestSpec {
            key: targets
                .iter()
                .map(|t| t.reference.repository().to_string())
                .collect(),
            title,
            body,
        })
    } else {
        Target::Branch
    };
    let write = Write {
        target,
        changes: merged.changes,
        message: message::render(&settings.message, &report.updates, &id),
        id,
    };
    Planned {
        outcome: report,
        write: Some(write),
    }
}

//! `set`: the spine for one or more IMAGE_REFs. inputs → resolve (the
//! registry, once) → the write path (`commit::run`: read → discover → plan
//! → guard → commit → publish → verify, re-run from the read when the head
//! moved) → report.

use anyhow::Result;

use super::Context;
use crate::backend::{Backend, PullRequestSpec, Retire, Snapshot, Target, Write};
use crate::cli::OutputFormat;
use crate::commit::{self, CommitError, Planned, Written, message};
use crate::discover::discover;
use crate::finding::{Finding, Kind};
use crate::guard;
use crate::plan::{self, Desired};
use crate::registry::Client;
use crate::report::{self, FailOn, Outcome, SetReport};
use crate::resolve::verify::{Resolution, verify_all};
use crate::settings::Settings;

/// Runs `set` and reports it; exit 1 when the report holds an error.
pub fn run(settings: &Settings, cx: &Context) -> Result<Outcome> {
    let resolution = resolve(settings, cx);
    let mut backend = cx.open(
        &settings.store,
        settings.commit && !settings.dry_run,
        settings.retry,
    )?;
    let r = set(settings, resolution, backend.as_mut())?;
    let commit_url = cx.commit_url(&settings.store, r.commit.as_deref());
    let summary = report::summary::set(&r, commit_url.as_deref());
    cx.write_action_files(&report::outputs::set(&r), Some(&summary));
    match settings.output {
        OutputFormat::Text => report::text::set(
            &mut std::io::stdout().lock(),
            &mut std::io::stderr().lock(),
            &r,
            cx.actions,
        ),
        OutputFormat::Json => report::print_json(&report::json_v1::set(&r)),
    }
    Ok(report::exit_code(&r.findings, FailOn::Error))
}

/// The registry checks, once, before anything is read: the registry's
/// answer does not depend on the files, so a retry after a stale write
/// reuses it. With `--no-verify`, the targets as given.
fn resolve(settings: &Settings, cx: &Context) -> Resolution {
    if settings.no_verify {
        return Resolution {
            targets: settings.targets.clone(),
            ..Resolution::default()
        };
    }
    match Client::new(settings.registry.clone()) {
        Ok(client) => {
            cx.runtime
                .block_on(verify_all(&client, &settings.targets, &settings.platforms))
        }
        Err(e) => Resolution {
            targets: settings.targets.clone(),
            errors: vec![crate::resolve::verify::registry_finding(&e)],
            stats: None,
        },
    }
}

/// The write path for `settings` after `resolution`: the report, with the
/// commit, pull request and verification filled in.
pub fn set(
    settings: &Settings,
    resolution: Resolution,
    backend: &mut dyn Backend,
) -> Result<SetReport, CommitError> {
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
        Written::Retired { pull_request } => report.record_pull_request(Some(pull_request)),
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
            report.record_pull_request(pull_request);
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
    let cx = guard::Context {
        manifests: &found.manifests,
        desired: targets,
        no_verify: settings.no_verify,
        downgrades: &settings.downgrades,
    };
    let decision = guard::check(&cx, &plans, &found.unreadable);
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
    let key = || {
        targets
            .iter()
            .map(|t| t.reference.repository().to_string())
            .collect()
    };
    if !report.changed {
        // The base already holds every target (each was found, nothing
        // changes): a pull request for them has nothing left to do.
        let holds = (0..targets.len()).all(|i| plans.iter().any(|p| p.desired == i));
        let retire =
            (settings.pull_request && holds && report.errors().next().is_none()).then(|| Retire {
                key: key(),
                held: targets
                    .iter()
                    .map(|t| t.reference.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        return Planned {
            outcome: report,
            write: None,
            retire,
        };
    }
    let id = uuid::Uuid::new_v4().to_string();
    let target = if settings.pull_request {
        let (title, body) = message::pull_request(&settings.message, &report.updates);
        Target::PullRequest(PullRequestSpec {
            key: key(),
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
        retire: None,
    }
}

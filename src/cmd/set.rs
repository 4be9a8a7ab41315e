//! `set`: the spine for one or more IMAGE_REFs. inputs → resolve (the
//! registry, once) → the write path (`commit::run`: read → discover → plan
//! → guard → commit → publish → verify, re-run from the read when the head
//! moved) → report.

use anyhow::Result;

use super::Context;
use super::writers::{self, Guarding, Planning, Registry};
use crate::backend::{Backend, PullRequestSpec, Snapshot, Target, Write};
use crate::cli::OutputFormat;
use crate::commit::{self, CommitError, HistoryReader, Planned, Written, message};
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
    let (resolution, client) = resolve(settings, cx);
    let mut backend = cx.open(
        &settings.store,
        settings.commit && !settings.dry_run,
        settings.retry,
    )?;
    let registry = client.as_ref().map(|client| Registry {
        client,
        runtime: &cx.runtime,
        platform: settings.platforms.first(),
    });
    let r = set(settings, resolution, backend.as_mut(), registry)?;
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
/// reuses it. With `--no-verify`, the targets as given. The client is kept
/// for the build times the out-of-order check may need.
fn resolve(settings: &Settings, cx: &Context) -> (Resolution, Option<Client>) {
    if settings.no_verify {
        let resolution = Resolution {
            targets: settings.targets.clone(),
            ..Resolution::default()
        };
        return (resolution, None);
    }
    match Client::new(settings.registry.clone()) {
        Ok(client) => {
            let resolution =
                cx.runtime
                    .block_on(verify_all(&client, &settings.targets, &settings.platforms));
            (resolution, Some(client))
        }
        Err(e) => {
            let resolution = Resolution {
                targets: settings.targets.clone(),
                errors: vec![crate::resolve::verify::registry_finding(&e)],
                stats: None,
            };
            (resolution, None)
        }
    }
}

/// The write path for `settings` after `resolution`: the report, with the
/// commit, pull request and verification filled in. `registry` answers the
/// out-of-order check's build-time questions (`None`: `--no-verify`).
pub fn set(
    settings: &Settings,
    resolution: Resolution,
    backend: &mut dyn Backend,
    registry: Option<Registry<'_>>,
) -> Result<SetReport, CommitError> {
    if !resolution.errors.is_empty() {
        return Ok(SetReport {
            dry_run: settings.dry_run,
            findings: resolution.errors,
            registry: resolution.stats,
            ..SetReport::default()
        });
    }
    let mut guarding = Guarding::new(settings.writers.clone());
    let committed = commit::run(
        backend,
        &settings.files,
        settings.retry,
        settings.dry_run,
        &mut |snapshot, history| {
            let round = Round {
                history,
                guarding: &mut guarding,
                registry,
            };
            attempt(settings, &resolution.targets, snapshot, round)
        },
    )?;
    let mut report = committed.outcome;
    report.registry = match (resolution.stats, registry) {
        // The out-of-order check may have asked for build times since.
        (Some(_), Some(r)) => Some(r.client.stats()),
        (stats, _) => stats,
    };
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

/// What one round of the write path lends the plan step for the writer
/// guards.
struct Round<'r, 'h> {
    history: &'r mut HistoryReader<'h>,
    guarding: &'r mut Guarding,
    registry: Option<Registry<'r>>,
}

/// One round on `snapshot`: discover, plan, guard, merge; the report so far
/// and the write, unless nothing changes or a guard refused.
fn attempt(
    settings: &Settings,
    targets: &[Desired],
    snapshot: &Snapshot,
    round: Round<'_, '_>,
) -> Planned<SetReport> {
    let holds_target = |m: &crate::manifest::Manifest| {
        m.sites.iter().any(|s| {
            m.image_of(s)
                .repository
                .is_some_and(|r| targets.iter().any(|t| t.reference.repository() == r))
        })
        // Flux's automations say who else writes which paths.
        || m.text.contains("ImageUpdateAutomation")
    };
    let found = discover(snapshot, &holds_target);
    let plans = plan::plan(&found.manifests, targets);
    let planning = Planning {
        manifests: &found.manifests,
        desired: targets,
        no_verify: settings.no_verify,
        downgrades: &settings.downgrades,
    };
    let refused = |finding: Finding| Planned {
        outcome: SetReport {
            dry_run: settings.dry_run,
            findings: vec![finding],
            ..SetReport::default()
        },
        write: None,
    };
    let mut writers = match writers::governance(snapshot, &found.manifests) {
        Ok(governed) => round.guarding.writers(governed),
        Err(finding) => return refused(finding),
    };
    if let Err(finding) = round.guarding.gather(
        &mut writers,
        planning,
        &plans,
        round.history,
        round.registry,
    ) {
        return refused(finding);
    }
    let cx = planning.context(&writers);
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

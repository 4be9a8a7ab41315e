//! `set`: the spine for one or more IMAGE_REFs. inputs → resolve (the
//! registry, once) → the write path (`commit::run`: read → discover →
//! select → plan → guard → commit → publish → verify, re-run from the read
//! when the head moved) → report.

use anyhow::Result;

use super::Context;
use super::writers::{self, Guarding, Planning, Registry};
use crate::backend::{Backend, PullRequestSpec, Retire, Snapshot, Target, Write};
use crate::cli::OutputFormat;
use crate::commit::{self, CommitError, HistoryReader, Planned, Written, message};
use crate::discover::config::DEFAULT_PATH as CONFIG_PATH;
use crate::discover::{Discovery, discover};
use crate::finding::{Finding, Kind};
use crate::guard;
use crate::guard::absent::Seen;
use crate::manifest::Manifest;
use crate::manifest::text::reference_lines;
use crate::plan::select::{Selection, TagRule};
use crate::plan::{self, Desired, Pin, Pins};
use crate::registry::Client;
use crate::report::{self, FailOn, Outcome, SetReport};
use crate::resolve::verify::{Resolution, repin_all, verify_all};
use crate::settings::Settings;

/// Asks the registry what pinned digests become under their targets
/// (nothing under `--no-verify`).
pub type Repin<'a> = dyn FnMut(&[Desired], Vec<Pin>) -> Pins + 'a;

/// Runs `set` and reports it; exit 1 when the report holds an error.
pub fn run(settings: &Settings, cx: &Context) -> Result<Outcome> {
    let (resolution, client) = resolve(settings, cx);
    let mut backend = cx.open(
        &settings.store,
        settings.commit && !settings.dry_run,
        settings.retry,
    )?;
    // Pins are answered once per run: a retry after a stale write asks
    // only about pins it has not seen.
    let mut answers = Pins::new();
    let mut repin = |targets: &[Desired], wanted: Vec<Pin>| -> Pins {
        let Some(client) = &client else {
            return Pins::new();
        };
        let missing: Vec<Pin> = wanted
            .iter()
            .filter(|p| !answers.contains_key(*p))
            .cloned()
            .collect();
        if !missing.is_empty() {
            answers.extend(cx.runtime.block_on(repin_all(client, targets, missing)));
        }
        wanted
            .into_iter()
            .filter_map(|p| answers.get(&p).cloned().map(|a| (p, a)))
            .collect()
    };
    let registry = client.as_ref().map(|client| Registry {
        client,
        runtime: &cx.runtime,
        platform: settings.platforms.first(),
    });
    let mut r = set(settings, resolution, backend.as_mut(), &mut repin, registry)?;
    if let Some(client) = &client {
        // Pins and the out-of-order check may have asked since.
        r.registry = Some(client.stats());
    }
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
/// commit, pull request and verification filled in. `repin` says what
/// pinned digests become; `registry` answers the out-of-order check's
/// build-time questions (`None`: `--no-verify`).
pub fn set(
    settings: &Settings,
    resolution: Resolution,
    backend: &mut dyn Backend,
    repin: &mut Repin<'_>,
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
        &selection_for(settings, &resolution.targets),
        settings.retry,
        settings.dry_run,
        &mut |snapshot, history| {
            let round = Round {
                history,
                guarding: &mut guarding,
                registry,
                repin: &mut *repin,
            };
            attempt(settings, &resolution.targets, &*snapshot, round)
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
            report.written = true;
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

/// What a run for `targets` keeps of the files it reads: manifests with a
/// site of a target, or a block that holds one but cannot be edited
/// (reported, never silently dropped); and what the writer guards read:
/// the configuration and Flux's automations, which say who else writes
/// which paths. Owns its data, so the backend can apply it as it reads
/// ([`FileSelection::keep`]).
fn holds_target(targets: &[Desired]) -> impl Fn(&Manifest) -> bool + Send + Sync + 'static {
    let targets = targets.to_vec();
    let repositories: Vec<_> = targets.iter().map(|t| t.reference.repository()).collect();
    move |m: &Manifest| {
        m.sites.iter().any(|s| {
            m.image_of(s)
                .repository
                .is_some_and(|r| repositories.contains(&r))
        }) || (!m.skipped.is_empty()
            && targets
                .iter()
                .any(|t| guard::blocks::mentions(std::slice::from_ref(m), t)))
            || m.text.contains("ImageUpdateAutomation")
            || m.path == CONFIG_PATH
    }
}

/// The files `set` reads for `targets`: the selection, keeping only what
/// [`holds_target`] keeps as it reads, and searching files too large to
/// keep for the targets' repositories (so the broken-file guard can tell
/// whether one of them would be left behind).
fn selection_for(settings: &Settings, targets: &[Desired]) -> crate::backend::files::FileSelection {
    settings
        .files
        .clone()
        .searching(
            targets
                .iter()
                .map(|t| guard::broken::needle(&t.reference.repository())),
        )
        .keeping(crate::discover::file_filter(holds_target(targets)))
}

/// What one round of the write path lends the plan step: the history
/// reader and state of the writer guards, the registry, and the pin answers.
struct Round<'r, 'h, 'p> {
    history: &'r mut HistoryReader<'h>,
    guarding: &'r mut Guarding,
    registry: Option<Registry<'r>>,
    repin: &'r mut Repin<'p>,
}

/// One round on `snapshot`: discover, select, plan, guard, merge; the
/// report so far and the write, unless nothing changes or a guard refused.
fn attempt(
    settings: &Settings,
    targets: &[Desired],
    snapshot: &Snapshot,
    round: Round<'_, '_, '_>,
) -> Planned<SetReport> {
    let found = discover(snapshot, &holds_target(targets));
    let selection = plan::select::select(&found.manifests, targets, &settings.tags);
    let pins = (round.repin)(
        targets,
        plan::pins_to_resolve(&found.manifests, targets, &selection.intents),
    );
    let plans = plan::plan_pinned(&found.manifests, targets, &selection.intents, &pins);
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
        retire: None,
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
    let match_tag = match &settings.tags {
        TagRule::Matches(re) => Some(re.as_str()),
        TagRule::Track => None,
    };
    let seen = seen(targets, &found, &selection, match_tag);
    let mut report = SetReport {
        dry_run: settings.dry_run,
        findings: decision.findings,
        updates: merged.updates,
        ..SetReport::default()
    };
    report.findings.extend(merged.findings);
    report.findings.extend(selection.skipped);
    report
        .findings
        .extend(guard::blocks::check(&found.manifests, targets));
    report.findings.extend(guard::absent::check(
        targets,
        &seen,
        // The configuration read only for its owners was no place to look.
        snapshot.files.len() + snapshot.dropped
            - usize::from(
                settings.config_added && snapshot.files.iter().any(|f| f.path == CONFIG_PATH),
            ),
        settings.allow_absent,
    ));
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

/// What the run saw of each target, for [`guard::absent`].
fn seen(
    targets: &[Desired],
    found: &Discovery,
    selection: &Selection,
    match_tag: Option<&str>,
) -> Vec<Seen> {
    targets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let repo = t.reference.repository();
            let mut s = Seen {
                found: selection.found[i],
                selected: selection.intents.iter().filter(|x| x.desired == i).count(),
                left_out: selection.left_out[i].clone(),
                elsewhere: guard::blocks::mentions(&found.manifests, t),
                templates: Vec::new(),
                match_tag: match_tag.map(str::to_owned),
            };
            for u in &found.unreadable {
                let Some(text) = &u.text else { continue };
                let lines = reference_lines(text.as_bytes(), &repo);
                let Some(&first) = lines.first() else {
                    continue;
                };
                // A template line that takes its tag from values is a hint;
                // a literal one is the broken-file guard's to report.
                let templated =
                    |l: &usize| text.lines().nth(l - 1).is_some_and(|t| t.contains("{{"));
                if u.finding.kind == Kind::ChartTemplate && lines.iter().all(templated) {
                    s.templates.push(format!("{}:{first}", u.finding.file()));
                } else {
                    s.elsewhere = true;
                }
            }
            s
        })
        .collect()
}

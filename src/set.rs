//! `set`: the spine for one or more IMAGE_REFs.
//! inputs → discover → resolve → plan → guard → commit → publish (the
//! pull request, `--pull-request` only) → verify → report.

use std::collections::BTreeMap;

use anyhow::{Context, Result};

use crate::backend::{Backend, BackendError, FileChange};
use crate::discover::discover;
use crate::finding::{Finding, Kind, Location};
use crate::guard;
use crate::manifest::Change;
use crate::plan::Desired;
use crate::plan::{self, Update};
use crate::report::{SetReport, VerifyPlan};
use crate::retry::{Backoff, Deadline};
use crate::settings::Settings;

/// Runs `set` and returns the report; `errors` non-empty means exit 1.
///
/// A compare-and-swap miss re-runs the whole spine from the read: contents
/// computed on an old head are never resent (DESIGN.md §6). Between rounds
/// it waits with full jitter, within `--max-attempts` and `--deadline`.
pub fn run(settings: &Settings, backend: &mut dyn Backend) -> Result<SetReport> {
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
    let max = settings.retry.max_attempts;
    let deadline = Deadline::after(settings.retry.deadline);
    let mut backoff = Backoff::cas();
    let mut attempt = 0;
    loop {
        attempt += 1;
        match once(settings, &resolution.targets, backend)? {
            Attempt::Done(report) => {
                let mut report = *report;
                report.registry = resolution.stats;
                report.attempts = attempt;
                report.api_requests = backend.api_requests();
                return Ok(report);
            }
            Attempt::Stale(what) if attempt < max => {
                let wait = backoff.next_wait();
                if deadline.exceeded_by(wait) {
                    anyhow::bail!(
                        "{what} kept changing while writing; gave up at the --deadline of {}s after {attempt} attempt(s)",
                        deadline.total().as_secs()
                    );
                }
                warn_stale(&what, attempt, max);
                std::thread::sleep(wait);
            }
            Attempt::Stale(what) => {
                anyhow::bail!("{what} kept changing while writing; gave up after {max} attempts")
            }
        }
    }
}

enum Attempt {
    /// Boxed: the report is large and an attempt is made a handful of times.
    Done(Box<SetReport>),
    Stale(String),
}

fn once(settings: &Settings, targets: &[Desired], backend: &mut dyn Backend) -> Result<Attempt> {
    // discover
    let snapshot = backend
        .read(&settings.files)
        .with_context(|| backend.describe())?;
    let holds_target = |m: &crate::manifest::Manifest| {
        m.sites.iter().any(|s| {
            m.image_of(s)
                .repository
                .is_some_and(|r| targets.iter().any(|t| t.reference.repository() == r))
        })
    };
    let found = discover(&snapshot, &holds_target);
    // plan
    let candidates = plan::plan(&found.manifests, targets);
    // guard
    let decision = guard::check(
        &found.manifests,
        targets,
        &candidates,
        &found.unreadable,
        settings.no_verify,
        &settings.downgrades,
    );
    let mut report = SetReport {
        dry_run: settings.dry_run,
        findings: decision.findings,
        ..SetReport::default()
    };
    report
        .findings
        .extend(found.unreadable.iter().map(|u| u.finding.clone()));

    let mut per_file: BTreeMap<usize, (Vec<Change>, Vec<Update>)> = BTreeMap::new();
    for &i in &decision.allowed {
        let c = &candidates[i];
        let entry = per_file.entry(c.manifest).or_default();
        for (change, update) in c.changes.iter().zip(&c.updates) {
            match entry.0.iter().find(|x| x.node == change.node) {
                Some(prev) if prev.value != change.value => report.findings.push(Finding::error(
                    Kind::Conflict,
                    Some(Location::line(&update.file, update.line)),
                    format!(
                        "two images want different values here ({:?} and {:?})",
                        prev.value, change.value
                    ),
                )),
                Some(_) => {}
                None => {
                    entry.0.push(change.clone());
                    entry.1.push(update.clone());
                }
            }
        }
    }
    let mut changes = Vec::new();
    for (mi, (file_changes, updates)) in per_file {
        let m = &found.manifests[mi];
        match m.apply(&file_changes) {
            Ok((new, _)) => {
                changes.push(FileChange {
                    path: m.path.clone(),
                    old: m.text.clone(),
                    new,
                });
                report.updates.extend(updates);
            }
            Err(e) => report.findings.push(Finding::error(
                Kind::EditRefused,
                Some(Location::file(&m.path)),
                e.to_string(),
            )),
        }
    }
    report
        .updates
        .sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    report.changed = !changes.is_empty();
    if report.errors().next().is_some() {
        report.changed = false;
        return Ok(Attempt::Done(Box::new(report)));
    }
    if !report.changed {
        return Ok(Attempt::Done(Box::new(report)));
    }
    if settings.dry_run {
        report.diff = Some(crate::report::unified_diff(&changes));
        // Issue #4: verification "also runs on --dry-run to show what would
        // be verified": the same checks, as a plan, without a write to check.
        let (target, conditions) = backend.verify_plan();
        report.verify = Some(VerifyPlan::new(
            target,
            snapshot.head.clone(),
            &changes,
            conditions,
        ));
        return Ok(Attempt::Done(Box::new(report)));
    }
    // commit
    let message = crate::message::render(&settings.message, &report.updates);
    let commit = match backend.commit(&snapshot, &changes, &message) {
        Ok(c) => c,
        Err(BackendError::Stale(what)) => return Ok(Attempt::Stale(what)),
        Err(e) => return Err(e).with_context(|| backend.describe()),
    };
    // publish: pull-request mode opens or updates the pull request before
    // verification, so that verification can check it is open.
    let (title, body) = crate::message::pull_request(&settings.message, &report.updates);
    report.pull_request = backend
        .publish(&title, &body)
        .with_context(|| backend.describe())?;
    // verify
    let missing = backend
        .verify(commit.as_deref(), &changes)
        .with_context(|| backend.describe())?;
    for m in missing {
        report.findings.push(Finding::error(
            Kind::CommitMissing,
            None,
            format!("gitops commit missing: {m}"),
        ));
    }
    report.commit = commit;
    Ok(Attempt::Done(Box::new(report)))
}

fn warn_stale(what: &str, attempt: usize, max: usize) {
    tracing::warn!(
        what,
        attempt = attempt + 1,
        "{what} changed while writing; re-reading (attempt {} of {max})",
        attempt + 1
    );
}

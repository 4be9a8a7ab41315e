//! `sync`: the scheduled checker. A second driver over the same spine as
//! `set`: read → discover (+ what is tracked, by which rule) → resolve (one
//! survey of the registry) → classify (`drift`) → and, with `--apply`,
//! plan → guard → the one write path (`commit::run`: one commit for the
//! `commit` entries, one pull request per `pull-request` entry) → report.
//!
//! Each round of the write path re-reads the snapshot, the configuration
//! with it, and re-plans; the registry's answers are asked once per run and
//! reused (the client caches them), so a compare-and-swap miss costs only
//! the re-read.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Result;

use super::Context;
use super::set::Repin;
use super::writers::{self, Guarding, Planning};
use crate::backend::{Backend, PullRequest, PullRequestSpec, Retire, Snapshot, Target, Write};
use crate::cli::OutputFormat;
use crate::commit::{self, HistoryReader, Written, message};
use crate::discover::config::{self, Mode};
use crate::discover::tracked::{self, Rule, Tracking};
use crate::discover::{self, Discovery};
use crate::discover::{argocd, flux};
use crate::drift::{self, Facts, Selected, Verdict};
use crate::finding::{Finding, Kind, Severity};
use crate::guard;
use crate::manifest::{Dialect, Manifest};
use crate::plan::{self, Desired, Intent, Pin, Pins};
use crate::reference::{Reference, Repository};
use crate::registry::{Client, Platform};
use crate::report::sync::{ReferenceReport, SyncReport};
use crate::report::{self, Outcome};
use crate::resolve::survey::{self, Answers, Ask, Key};
use crate::resolve::verify::{repin_all, verify_all};
use crate::settings::{SyncSettings, UsageError};

/// Runs `sync` and reports it.
pub fn run(settings: &SyncSettings, cx: &Context) -> Result<Outcome> {
    let git = settings.commit && settings.apply && !settings.dry_run;
    let mut backend = cx.open(&settings.store, git, settings.retry)?;
    let report = check(settings, cx, backend.as_mut())?;
    if cx.actions {
        let path = cx.report_file("gitops-bump-sync.json");
        if let Some(path) = &path
            && let Err(e) = report::json_v1::write_sync(path, &report)
        {
            report::warn(&format!("{}: {e}", path.display()));
        }
        cx.write_action_files(
            &report::outputs::sync(&report, path.as_deref()),
            Some(&report::summary::sync(&report)),
        );
    }
    match settings.output {
        OutputFormat::Text => report::text::sync(
            &mut std::io::stdout().lock(),
            &mut std::io::stderr().lock(),
            &report,
            cx.actions,
        ),
        OutputFormat::Json => report::print_json(&report::json_v1::sync(&report)),
    }
    let findings = report
        .references
        .iter()
        .map(ReferenceReport::finding)
        .chain(report.findings.iter().cloned())
        .collect::<Vec<_>>();
    Ok(report::exit_code(&findings, settings.fail_on))
}

/// `sync` on `backend`, without presenting it: every reference with its
/// verdict, and with `--apply` what was written (or would be, with
/// `--dry-run`).
///
/// # Errors
/// A configuration or usage error ([`UsageError`]), a backend that cannot
/// be read, or a write path that failed.
pub fn check(
    settings: &SyncSettings,
    cx: &Context,
    backend: &mut dyn Backend,
) -> Result<SyncReport> {
    let mut checker = Checker {
        settings,
        cx,
        client: None,
        insecure: Vec::new(),
        answers: Answers::default(),
        ages: HashMap::new(),
        now: now(),
        guarding: Guarding::new(settings.writers.clone()),
        rechecks: 0,
    };
    let whole = Arc::new(Mutex::new(BTreeSet::new()));
    let files = selection(settings, configured(settings, backend)?, Arc::clone(&whole));
    let report = if settings.apply {
        apply(&mut checker, backend, &files, &whole)?
    } else {
        let mut snapshot = backend
            .read(&files)
            .map_err(|e| anyhow::anyhow!("{}: {e}", backend.describe()))?;
        let mut round = checker.round(&mut snapshot, None)?;
        round.report.attempts = 1;
        round.report
    };
    let mut report = report;
    report.registry = checker.client.as_ref().map(|c| {
        let mut stats = c.stats();
        stats.requests += checker.rechecks;
        stats
    });
    report.api_requests = backend.api_requests();
    report.dry_run = settings.dry_run || !settings.apply;
    Ok(report)
}

/// `--apply`: the commit entries together through one write path, then
/// each pull-request entry through its own. Every round re-reads and
/// re-plans; what it planned for the write that landed is what is reported.
fn apply(
    checker: &mut Checker<'_>,
    backend: &mut dyn Backend,
    files: &crate::backend::files::FileSelection,
    whole: &Mutex<BTreeSet<String>>,
) -> Result<SyncReport> {
    let (committed, mut round) = write_group(checker, backend, files, whole, &Group::Commit)?;
    let mut report = std::mem::take(&mut round.report);
    report.attempts = committed.attempts;
    record(
        &mut report,
        committed.written,
        std::mem::take(&mut round.updates),
        std::mem::take(&mut round.fixed),
    );
    for key in round.pull_request_keys() {
        let group = Group::PullRequest(key);
        let (committed, mut pr_round) = write_group(checker, backend, files, whole, &group)?;
        report.attempts = report.attempts.max(committed.attempts);
        record(
            &mut report,
            committed.written,
            std::mem::take(&mut pr_round.updates),
            std::mem::take(&mut pr_round.fixed),
        );
    }
    Ok(report)
}

/// One group's write path ([`commit::run`]) and the round that planned
/// what it wrote. A round that finds drift to fix in files read as
/// outlines writes nothing: the files join `whole`, and the write path
/// starts again (three times at most).
fn write_group(
    checker: &mut Checker<'_>,
    backend: &mut dyn Backend,
    files: &crate::backend::files::FileSelection,
    whole: &Mutex<BTreeSet<String>>,
    group: &Group,
) -> Result<(commit::Committed<Option<Round>>, Round)> {
    let settings = checker.settings;
    let mut tries = 0;
    loop {
        let mut failure: Option<anyhow::Error> = None;
        let mut committed = commit::run(
            backend,
            files,
            settings.retry,
            settings.dry_run,
            &mut |snapshot, history| match checker.round(snapshot, Some(history)) {
                Ok(round) if !round.reread.is_empty() => {
                    failure = Some(Reread(round.reread).into());
                    commit::Planned {
                        outcome: None,
                        write: None,
                        retire: None,
                    }
                }
                Ok(mut round) => {
                    let (write, retire) = round.take_write(group);
                    commit::Planned {
                        outcome: Some(round),
                        write,
                        retire,
                    }
                }
                Err(e) => {
                    failure = Some(e);
                    commit::Planned {
                        outcome: None,
                        write: None,
                        retire: None,
                    }
                }
            },
        )?;
        if let Some(round) = committed.outcome.take() {
            return Ok((committed, round));
        }
        let failure =
            failure.unwrap_or_else(|| anyhow::anyhow!("impossible: a round without a plan"));
        match failure.downcast::<Reread>() {
            // Nothing was written: read those files whole and plan again.
            Ok(Reread(paths)) if tries < 3 => {
                tries += 1;
                if let Ok(mut whole) = whole.lock() {
                    whole.extend(paths);
                }
            }
            Ok(reread) => return Err(reread.into()),
            Err(other) => return Err(other),
        }
    }
}

/// Adds what one write path wrote (or would write) to the report. The
/// references a verified write fixed stay in the report with what was
/// found, as notices: the drift is gone.
fn record(
    report: &mut SyncReport,
    written: Written,
    updates: Vec<plan::Update>,
    fixed: Vec<(String, usize)>,
) {
    match written {
        Written::Nothing => {}
        Written::Retired { pull_request } => report.pull_requests.push(pull_request),
        Written::DryRun { write, .. } => {
            report.changed = true;
            report.updates.extend(updates);
            let diff = crate::report::unified_diff(&write.changes);
            report.diff.get_or_insert_with(String::new).push_str(&diff);
        }
        Written::Done {
            write,
            commit,
            pull_request,
            missing,
        } => {
            // A pull request whose branch already held the fix changed
            // nothing and updated no value, as in `set`.
            let wrote = pull_request.as_ref().is_none_or(PullRequest::wrote);
            report.changed |= wrote;
            if wrote {
                report.updates.extend(updates);
                let diff = crate::report::unified_diff(&write.changes);
                report
                    .applied_diff
                    .get_or_insert_with(String::new)
                    .push_str(&diff);
            }
            if pull_request.is_none() {
                report.commit.clone_from(&commit);
            }
            if missing.is_empty() {
                let how = match (&pull_request, &commit) {
                    (Some(pr), _) => format!("pull request #{}", pr.number),
                    (None, Some(c)) => format!("commit {}", crate::report::short_sha(c)),
                    (None, None) => "this run".to_owned(),
                };
                for r in report.references.iter_mut() {
                    if fixed.iter().any(|(f, l)| *f == r.file && *l == r.line) {
                        r.severity = Severity::Notice;
                        r.message = format!("fixed by {how}: {}", r.message);
                    }
                }
            }
            report.pull_requests.extend(pull_request);
            report.findings.extend(missing.into_iter().map(|m| {
                Finding::error(
                    Kind::CommitMissing,
                    None,
                    format!("gitops commit missing: {m}"),
                )
            }));
        }
    }
}

/// One group's write, the values it changes and the references it fixes
/// (by file and line).
struct Planned {
    write: Write,
    updates: Vec<plan::Update>,
    fixed: Vec<(String, usize)>,
}

/// Which references one write path writes.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Group {
    /// Every applicable reference of a `commit` rule.
    Commit,
    /// The references of one `pull-request` entry (its key).
    PullRequest(String),
}

/// What one run asks and remembers across rounds.
struct Checker<'a> {
    settings: &'a SyncSettings,
    cx: &'a Context,
    /// Built at the first survey, once the repository's objects have said
    /// which registries they allow plain HTTP for.
    client: Option<Client>,
    /// Hosts `ImageRepository` objects mark `insecure`.
    insecure: Vec<String>,
    answers: Answers,
    ages: HashMap<(Repository, String), Option<String>>,
    now: i64,
    /// The writer guards' state across rounds.
    guarding: Guarding,
    /// Registry requests of [`Checker::recheck`], which asks past the cache.
    rechecks: u64,
}

/// One round: the snapshot's references, their verdicts, and what
/// `--apply` would write for them.
struct Round {
    report: SyncReport,
    /// Per write group: the write, the values it changes, and the
    /// references it fixes (by file and line).
    writes: Vec<(Group, Planned)>,
    /// The keys of every pull-request entry that governs a reference,
    /// whether or not it has something to write.
    pr_keys: Vec<String>,
    /// Per pull-request group with nothing to write and every reference
    /// up to date: the pull request to close as having nothing left to do.
    retires: Vec<(Group, Retire)>,
    /// The values the write taken by [`Round::take_write`] changes.
    updates: Vec<plan::Update>,
    /// The references it fixes.
    fixed: Vec<(String, usize)>,
    /// Files read as outlines that hold drift to fix: under `--apply`, the
    /// round plans nothing until they are read whole ([`Reread`]).
    reread: Vec<String>,
}

/// A round found drift to fix in files read as outlines: read them whole
/// and plan again. Nothing was written.
#[derive(Debug, thiserror::Error)]
#[error("{}: drift to fix appeared in files read as outlines in three rounds running (the repository keeps changing); run again", .0.join(", "))]
struct Reread(Vec<String>);

impl Checker<'_> {
    /// The registry client, built on first use.
    fn client(&mut self) -> Result<&Client> {
        if self.client.is_none() {
            self.client = Some(Client::new(self.registry_options())?);
        }
        Ok(self.client.as_ref().expect("impossible: built above"))
    }

    /// `--insecure-registry` and friends, plus the hosts the repository's
    /// `ImageRepository` objects mark `insecure`.
    fn registry_options(&self) -> crate::registry::RegistryOptions {
        let mut options = self.settings.registry.clone();
        for host in &self.insecure {
            if !options.insecure.contains(host) {
                options.insecure.push(host.clone());
            }
        }
        options
    }

    /// Asks the registry again, past the run's cache, about every reference
    /// `--apply` is about to write: the tag still exists, still has the
    /// digest written with it, and provides the platforms the reference
    /// needs (as `set` checks its targets). The survey's answers may be
    /// seconds or, after compare-and-swap retries, longer old. A fix that
    /// fails is not written; the failure is an error at its reference.
    fn recheck(
        &mut self,
        fixes: &mut Vec<(usize, Desired)>,
        keys: &[Option<Box<Key>>],
        report: &mut SyncReport,
    ) -> Result<()> {
        let fresh = Client::new(self.registry_options())?;
        let mut by_platforms: std::collections::BTreeMap<Vec<Platform>, Vec<usize>> =
            std::collections::BTreeMap::new();
        for (j, (i, _)) in fixes.iter().enumerate() {
            let platforms = keys[*i].as_ref().map(|k| k.platforms.clone());
            by_platforms
                .entry(platforms.unwrap_or_default())
                .or_default()
                .push(j);
        }
        let mut failed = vec![false; fixes.len()];
        for (platforms, members) in by_platforms {
            let targets: Vec<Desired> = members
                .iter()
                .map(|&j| Desired {
                    resolved_digest: None,
                    ..fixes[j].1.clone()
                })
                .collect();
            let checked = self
                .cx
                .runtime
                .block_on(verify_all(&fresh, &targets, &platforms));
            // One error per refused target, in target order, unless a check
            // itself crashed: then no error can be told apart.
            let refused = checked
                .targets
                .iter()
                .filter(|t| t.resolved_digest.is_none())
                .count();
            let errors = if checked.errors.len() == refused {
                checked.errors
            } else {
                Vec::new()
            };
            let mut errors = errors.into_iter();
            for (&j, target) in members.iter().zip(checked.targets) {
                match target.resolved_digest {
                    Some(digest) => fixes[j].1.resolved_digest = Some(digest),
                    None => {
                        failed[j] = true;
                        let r = &mut report.references[fixes[j].0];
                        let why = errors
                            .next()
                            .map_or_else(|| "the registry check failed".to_owned(), |f| f.message);
                        r.severity = Severity::Error;
                        r.message = format!("not written: checked again before writing, {why}");
                    }
                }
            }
        }
        self.rechecks += fresh.stats().requests;
        let mut j = 0;
        fixes.retain(|_| {
            j += 1;
            !failed[j - 1]
        });
        Ok(())
    }

    /// One round on `snapshot`; with `history` (under `--apply`), the
    /// writes it would make, guarded with the history of their files.
    fn round(
        &mut self,
        snapshot: &mut Snapshot,
        mut history: Option<&mut HistoryReader<'_>>,
    ) -> Result<Round> {
        let settings = self.settings;
        let mut discovery = discover::discover_taking(snapshot, &tracks_anything);
        let config = read_config(settings, snapshot)?;
        let objects = flux::Objects::read(&discovery.manifests);
        flux::name_markers(&objects, &mut discovery.manifests);
        self.insecure.extend(objects.insecure_hosts());
        let reader = flux::FluxReader {
            objects: &objects,
            mode: settings.mode,
        };
        let argo_objects = argocd::Objects::read(&discovery.manifests);
        let argo = argocd::ArgoReader {
            objects: &argo_objects,
            mode: settings.mode,
        };
        let tracking = tracked::track(
            &discovery.manifests,
            config.as_ref(),
            &[&reader, &argo],
            &settings.default_policy,
            settings.default_explicit,
            settings.mode,
        )
        .map_err(|e| UsageError(e.to_string()))?;
        let manifests = &discovery.manifests;
        // What each reference asks the registry; thousands of references
        // ask a few questions, so each is held once.
        let mut asks: HashMap<Key, Ask> = HashMap::new();
        // Boxed: most references of a large repository ask nothing.
        let mut keys: Vec<Option<Box<Key>>> = Vec::with_capacity(tracking.refs.len());
        for t in &tracking.refs {
            let Some(ri) = t.rule.filter(|_| t.unchecked.is_none()) else {
                keys.push(None);
                continue;
            };
            let rule = &tracking.rules[ri];
            let m = &manifests[t.manifest];
            let site = &m.sites[t.site];
            let image = m.image_of(site);
            let Some(repository) = image.repository.clone() else {
                keys.push(None);
                continue;
            };
            let key = Key {
                repository,
                rule: ri,
                platforms: platforms(settings, rule, m, site),
            };
            let digest = image.digest.is_some()
                || rule.writes_digest(site)
                || matches!(rule.policy, crate::policy::Policy::Digest { .. });
            asks.entry(key.clone())
                .and_modify(|a| a.digest |= digest)
                .or_insert_with(|| Ask {
                    key: key.clone(),
                    policy: rule.policy.clone(),
                    filter: rule.filter.clone(),
                    digest,
                });
            keys.push(Some(Box::new(key)));
        }
        let client = self.client()?.clone();
        let bar = progress_bar(self.cx, settings);
        self.cx.runtime.block_on(survey::survey(
            &client,
            asks.into_values().collect(),
            settings.max_candidates,
            &mut self.answers,
            &mut |done, total| {
                if let Some(bar) = &bar {
                    bar.set_length(total as u64);
                    bar.set_position(done as u64);
                }
            },
        ));
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        // What the selections warn about, once per rule at its origin.
        let policy_warnings = tracked::policy_warnings(
            &tracking,
            manifests,
            keys.iter().flatten().filter_map(|k| {
                let s = self.answers.selections.get(k)?.as_ref().ok()?;
                Some((k.rule, s.selection.warnings.as_slice()))
            }),
        );
        // Classify; learn build times only for what is behind under a grace.
        // Boxed: most references of a large repository have none.
        let mut facts: Vec<Option<Box<Facts>>> = tracking
            .refs
            .iter()
            .zip(&keys)
            .map(|(t, key)| {
                self.facts(&discovery, &tracking, t, key.as_deref())
                    .map(Box::new)
            })
            .collect();
        let mut wanted = Vec::new();
        for (f, key) in facts.iter().zip(&keys) {
            let (Some(f), Some(key)) = (f, key) else {
                continue;
            };
            if f.grace > Duration::ZERO
                && drift::classify(f).verdict == Verdict::Behind
                && let Some(tag) = &f.selected.tag
                && !self
                    .ages
                    .contains_key(&(key.repository.clone(), tag.clone()))
            {
                wanted.push((
                    key.repository.clone(),
                    tag.clone(),
                    key.platforms.first().cloned(),
                ));
            }
        }
        if !wanted.is_empty() {
            let times = self
                .cx
                .runtime
                .block_on(survey::build_times(&client, wanted));
            self.ages.extend(times);
        }
        for (f, key) in facts.iter_mut().zip(&keys) {
            if let (Some(f), Some(key)) = (f, key)
                && let Some(tag) = &f.selected.tag
                && let Some(Some(time)) = self.ages.get(&(key.repository.clone(), tag.clone()))
                && let Some(at) = crate::policy::order::parse_rfc3339(time)
            {
                f.selected_age = Some(Duration::from_secs(
                    self.now.saturating_sub(at).max(0) as u64
                ));
            }
        }
        // A file that cannot be read but holds a tracked image: no verdict
        // about that image is complete without it.
        let tracked: Vec<Repository> = config
            .iter()
            .flat_map(|c| c.entries.iter().map(|e| e.repository.clone()))
            .chain(
                tracking
                    .refs
                    .iter()
                    .filter(|t| t.rule.is_some())
                    .filter_map(|t| {
                        let m = &manifests[t.manifest];
                        m.image_of(&m.sites[t.site]).repository.clone()
                    }),
            )
            .collect();
        let mut report = SyncReport::default();
        report.references.reserve_exact(tracking.refs.len());
        let mut fixes = Vec::new();
        // Files read as outlines that hold drift `--apply` would fix.
        let mut round_reread: Vec<String> = Vec::new();
        for (i, (t, f)) in tracking.refs.iter().zip(&facts).enumerate() {
            let m = &discovery.manifests[t.manifest];
            let site = &m.sites[t.site];
            let image = m.image_of(site);
            let rule = t.rule.map(|r| &tracking.rules[r]);
            let f = f.as_deref().cloned().unwrap_or_else(|| Facts {
                image: image.name.clone(),
                unchecked: Some((
                    t.unchecked
                        .as_deref()
                        .unwrap_or("no policy applies")
                        .to_owned(),
                    false,
                )),
                ..Facts::default()
            });
            let c = drift::classify(&f);
            let (line, column) = site
                .slots()
                .first()
                .map_or((m.site_line(site), 1), |&n| m.node_position(n));
            if matches!(c.verdict, Verdict::Behind | Verdict::InFlight)
                && let Some(rule) = rule
                && rule.applicable
                && rule.mode != Mode::Report
                && (c.verdict == Verdict::Behind || settings.grace.is_zero())
                && let Some(tag) = &f.selected.tag
            {
                // A pin keeps its kind (the new index for an index pin, the
                // same platform's image for a child pin): the registry is
                // asked at plan time, as `set` does. Where the rule writes a
                // digest the site does not pin yet (`policy: digest`, Flux's
                // digest reflection, Argo CD's digest strategy), it is the
                // selected tag's index digest.
                let mut written = format!("{}:{tag}", image.name);
                if (rule.writes_digest(site)
                    || (image.digest.is_none()
                        && matches!(rule.policy, crate::policy::Policy::Digest { .. })))
                    && let Some(d) = &f.selected.digest
                {
                    written.push('@');
                    written.push_str(d);
                }
                if m.is_outline() {
                    round_reread.push(m.path.clone());
                } else if let Ok(reference) = Reference::parse(&written) {
                    fixes.push((
                        i,
                        Desired {
                            arg: written.clone(),
                            reference,
                            resolved_digest: f.selected.digest.clone(),
                        },
                    ));
                }
            }
            report.references.push(ReferenceReport {
                file: m.path.clone(),
                line,
                column,
                dialect: site.dialect,
                image: image.name.clone(),
                current: image.tag.clone(),
                current_digest: image.digest.clone(),
                selected: f.selected.tag.clone(),
                selected_digest: f.selected.digest.clone(),
                verdict: c.verdict,
                severity: c.severity,
                policy: rule.map(|r| r.policy.to_string()),
                policy_source: rule.map(|r| r.source),
                platforms: keys[i]
                    .as_ref()
                    .map(|k| k.platforms.iter().map(ToString::to_string).collect())
                    .unwrap_or_default(),
                message: c.message,
            });
            // Reported: without `--apply` nothing reads an outline again,
            // so its memory goes to the next references' reports.
            if !settings.apply
                && tracking
                    .refs
                    .get(i + 1)
                    .is_none_or(|next| next.manifest != t.manifest)
            {
                discovery.manifests[t.manifest].release();
            }
        }
        report.findings.extend(tracking.findings.iter().cloned());
        report.findings.extend(policy_warnings);
        report
            .findings
            .extend(guard::broken::unchecked(&tracked, &discovery.unreadable));
        let mut round = Round {
            report,
            writes: Vec::new(),
            pr_keys: Vec::new(),
            retires: Vec::new(),
            updates: Vec::new(),
            fixed: Vec::new(),
            reread: round_reread,
        };
        if settings.apply && !round.reread.is_empty() {
            // Planned again once they are read whole.
            return Ok(round);
        }
        if settings.apply && !fixes.is_empty() {
            self.recheck(&mut fixes, &keys, &mut round.report)?;
        }
        if settings.apply {
            // Every pull-request entry, not only those with something to
            // write: one whose drift was fixed on the base has a pull
            // request to close.
            let mut groups = vec![Group::Commit];
            for t in &tracking.refs {
                if let Some(rule) = t.rule.map(|r| &tracking.rules[r])
                    && rule.mode == Mode::PullRequest
                    && rule.applicable
                    && rule.unchecked.is_none()
                {
                    let g = Group::PullRequest(rule.key.clone());
                    if !groups.contains(&g) {
                        round.pr_keys.push(rule.key.clone());
                        groups.push(g);
                    }
                }
            }
            let governed = writers::governed(&discovery.manifests, &tracking, &objects);
            let cx = self.cx;
            let mut repin = |desired: &[Desired], pins: Vec<Pin>| -> Pins {
                if pins.is_empty() {
                    return Pins::new();
                }
                cx.runtime.block_on(repin_all(&client, desired, pins))
            };
            for group in groups {
                let writing = Writing {
                    repin: &mut repin,
                    governed: &governed,
                    guarding: &mut self.guarding,
                    history: history.as_deref_mut(),
                };
                if let Some(planned) = plan_write(
                    settings,
                    &discovery,
                    &tracking,
                    &fixes,
                    &group,
                    &mut round.report,
                    writing,
                ) {
                    round.writes.push((group, planned));
                } else if let Group::PullRequest(key) = &group
                    && let Some(held) = held(&tracking, key, &round.report)
                {
                    let retire = Retire {
                        key: vec![pull_request_key(key)],
                        held,
                    };
                    round.retires.push((group, retire));
                }
            }
        }
        Ok(round)
    }

    /// The facts about one reference, `None` when it has no rule.
    fn facts(
        &self,
        discovery: &Discovery,
        tracking: &Tracking,
        t: &tracked::Tracked,
        key: Option<&Key>,
    ) -> Option<Facts> {
        let key = key?;
        let rule = &tracking.rules[t.rule?];
        let m = &discovery.manifests[t.manifest];
        let site = &m.sites[t.site];
        let image = m.image_of(site);
        let mut f = Facts {
            image: image.name.clone(),
            current: image.tag.clone(),
            current_digest: image.digest.clone(),
            policy: rule.policy.to_string(),
            grace: rule.grace.unwrap_or(self.settings.grace),
            default_policy: rule.source == tracked::Source::Default,
            default_explicit: rule.source == tracked::Source::Default && rule.applicable,
            ..Facts::default()
        };
        if m.is_pinned(site) {
            f.blocked = Some("pinned by # gitops-bump:ignore".into());
        }
        let listed = match self.answers.tags.get(&key.repository) {
            Some(Ok(tags)) => tags.clone(),
            Some(Err(e)) => {
                f.unchecked = Some((format!("{}: {e}", image.name), true));
                return Some(f);
            }
            None => {
                f.unchecked = Some((format!("{}: the registry was not asked", image.name), true));
                return Some(f);
            }
        };
        let selection = match self.answers.selections.get(key) {
            Some(Ok(s)) => s.clone(),
            Some(Err(e)) => {
                f.unchecked = Some((format!("{}: {e}", image.name), true));
                return Some(f);
            }
            None => {
                f.unchecked = Some((format!("{}: the registry was not asked", image.name), true));
                return Some(f);
            }
        };
        f.current_listed = f
            .current
            .as_ref()
            .is_none_or(|c| listed.iter().any(|t| t == c));
        f.selected = Selected {
            tag: selection.selection.winner.clone(),
            digest: selection.digest.clone(),
            lacking: selection.lacking.clone(),
            failure: selection
                .selection
                .failure
                .as_ref()
                .map(|e| format!("policy {}: {e}", rule.policy)),
        };
        // The walk down the ranking saw the current tag when it ranks above
        // the winner: if it lacks a platform, that was recorded.
        if let Some(current) = &f.current
            && let Some((_, lacks)) = selection.lacking.iter().find(|(t, _)| t == current)
        {
            f.current_lacks = vec![lacks.clone()];
        }
        // A selection a policy warning questions is not written unless told.
        if !self.settings.allow_downgrade
            && let Some(w) = selection
                .selection
                .warnings
                .iter()
                .find(|w| w.code.questions_selection())
        {
            f.blocked.get_or_insert(format!(
                "policy {} probably does not select what its author meant ({}: {}); write it with --allow-downgrade",
                rule.policy, w.code, w.message
            ));
        }
        if let crate::policy::Policy::Digest { .. } = rule.policy {
            f.followed_digest = selection.digest.clone();
            // A child pin (one platform's image of the followed index) holds
            // the index too: the write keeps its kind, so it is up to date.
            if let (Some(index), Some(pinned), Some(client)) =
                (&selection.digest, &f.current_digest, &self.client)
                && index != pinned
                && let Ok(crate::registry::PinKind::Child(_)) = self
                    .cx
                    .runtime
                    .block_on(client.pin_kind(&key.repository, index, pinned))
            {
                f.followed_digest = Some(pinned.clone());
            }
        } else if f.selected.tag == f.current
            && rule.writes_digest(site)
            && (f.current_digest.is_none() || rule.follow_digest)
        {
            // Flux digestReflectionPolicy: the digest is written with the
            // tag; with `Always`, a tag pushed again moves it too.
            f.followed_digest = selection.digest.clone();
        } else if let (Some(current), Some(winner)) = (&f.current, &f.selected.tag) {
            f.current_excluded = !matches!(
                rule.filter.classify(current),
                crate::policy::FilterVerdict::Kept(_)
            );
            f.order = match rule.policy {
                crate::policy::Policy::NewestBuild => {
                    let key_of = |tag: &str| {
                        selection
                            .selection
                            .candidates
                            .iter()
                            .find(|c| c.tag == tag)
                            .and_then(|c| c.key.clone())
                    };
                    match (key_of(current), key_of(winner)) {
                        (Some(c), Some(w)) => Some(w.cmp(&c)),
                        _ => None,
                    }
                }
                _ => rule.policy.compare_filtered(&rule.filter, current, winner),
            };
        }
        Some(f)
    }
}

impl Round {
    /// The keys of the pull-request entries with something to do: a write,
    /// or a pull request to retire (each gets a write path of its own,
    /// which re-reads; the others would read for nothing).
    fn pull_request_keys(&self) -> Vec<String> {
        self.pr_keys
            .iter()
            .filter(|k| {
                let g = Group::PullRequest((*k).clone());
                self.writes.iter().any(|(w, _)| *w == g)
                    || self.retires.iter().any(|(r, _)| *r == g)
            })
            .cloned()
            .collect()
    }

    /// The write for `group`, if it has one (its updates move to
    /// `updates`); else the pull request it retires, if any.
    fn take_write(&mut self, group: &Group) -> (Option<Write>, Option<Retire>) {
        let Some(i) = self.writes.iter().position(|(g, _)| g == group) else {
            let retire = self
                .retires
                .iter()
                .position(|(g, _)| g == group)
                .map(|i| self.retires.swap_remove(i).1);
            return (None, retire);
        };
        let (_, planned) = self.writes.swap_remove(i);
        self.updates = planned.updates;
        self.fixed = planned.fixed;
        (Some(planned.write), None)
    }
}

/// What planning one write group needs beyond the fixes: the registry's
/// answer for pinned digests, what governs each reference, and the writer
/// guards' state and history reader.
struct Writing<'g, 'h> {
    repin: &'g mut Repin<'g>,
    governed: &'g HashMap<(usize, usize), guard::Governed>,
    guarding: &'g mut Guarding,
    history: Option<&'g mut HistoryReader<'h>>,
}

/// The key of a `sync` entry's pull request: `sync:` and the entry's key,
/// so it never shares a branch with `set --pull-request`, whose keys are
/// image repositories (`pull_branch` keeps distinct keys on distinct
/// branches).
fn pull_request_key(entry: &str) -> String {
    format!("sync:{entry}")
}

/// What the base holds for pull-request entry `key` when its pull request
/// has nothing left to do: every reference it governs is up to date (none
/// behind, blocked, refused or unchecked). `image:tag` of each, joined.
fn held(tracking: &Tracking, key: &str, report: &SyncReport) -> Option<String> {
    let mut held: Vec<String> = Vec::new();
    for (t, r) in tracking.refs.iter().zip(&report.references) {
        let Some(rule) = t.rule.map(|ri| &tracking.rules[ri]) else {
            continue;
        };
        if rule.mode != Mode::PullRequest || rule.key != key {
            continue;
        }
        if r.verdict != Verdict::UpToDate {
            return None;
        }
        let shown = format!("{}:{}", r.image, r.shown_current());
        if !held.contains(&shown) {
            held.push(shown);
        }
    }
    (!held.is_empty()).then(|| held.join(", "))
}

/// Plans `group`'s fixes, guards them and merges them per file. A fix a
/// guard refuses is reported as blocked and left out (an error when it
/// would fight another writer or feed a storm); a conflict between two
/// fixes of one file writes nothing for the group (an error). A pinned
/// digest moves by its kind, as in `set`: [`Writing::repin`] asks the
/// registry what each pin becomes.
fn plan_write(
    settings: &SyncSettings,
    discovery: &Discovery,
    tracking: &Tracking,
    fixes: &[(usize, Desired)],
    group: &Group,
    report: &mut SyncReport,
    writing: Writing<'_, '_>,
) -> Option<Planned> {
    let manifests = &discovery.manifests;
    let mut desired = Vec::new();
    let mut intents = Vec::new();
    let mut refs = Vec::new();
    for (i, d) in fixes {
        let t = &tracking.refs[*i];
        let rule = &tracking.rules[t.rule?];
        let ours = match group {
            Group::Commit => rule.mode == Mode::Commit,
            Group::PullRequest(key) => rule.mode == Mode::PullRequest && &rule.key == key,
        };
        if !ours {
            continue;
        }
        refs.push(*i);
        intents.push(Intent {
            manifest: t.manifest,
            site: t.site,
            desired: desired.len(),
        });
        desired.push(d.clone());
    }
    if intents.is_empty() {
        return None;
    }
    let pins = (writing.repin)(
        &desired,
        plan::pins_to_resolve(manifests, &desired, &intents),
    );
    let plans = plan::plan_pinned(manifests, &desired, &intents, &pins);
    let downgrades = if settings.allow_downgrade {
        guard::Downgrades::Allowed
    } else {
        guard::Downgrades::default()
    };
    let planning = Planning {
        manifests,
        desired: &desired,
        no_verify: false,
        downgrades: &downgrades,
    };
    // Each reference's own policy orders it; a tag its policy ranks above
    // Git's is what drift calls behind, so build times are never needed.
    let mut writers = writing.guarding.writers(writing.governed.clone());
    if let Some(history) = writing.history
        && let Err(finding) = writing
            .guarding
            .gather(&mut writers, planning, &plans, history, None)
    {
        report.findings.push(finding);
        return None;
    }
    let cx = planning.context(&writers);
    let decision = guard::check(&cx, &plans, &discovery.unreadable);
    // An unreadable file holding an image this group changes: writing
    // would leave it behind, so the group writes nothing.
    let broken: Vec<&Finding> = (decision.findings.iter())
        .filter(|f| f.kind == Kind::BrokenFile)
        .collect();
    if !broken.is_empty() {
        for f in broken {
            if !(report.findings.iter()).any(|r| r.kind == Kind::BrokenFile && r.file() == f.file())
            {
                report.findings.push(f.clone());
            }
        }
        return None;
    }
    // A refused fix: the reference is blocked, with the guard's reason.
    for (pi, plan) in plans.iter().enumerate() {
        if plan.changes.is_empty() || decision.allowed.contains(&pi) {
            continue;
        }
        let Some(r) = report.references.get_mut(refs[pi]) else {
            continue;
        };
        if let Some(f) = decision
            .findings
            .iter()
            .find(|f| f.file() == r.file && f.line() == Some(r.line))
        {
            r.verdict = Verdict::Blocked;
            r.severity = match f.kind {
                // Another writer keeps moving it: someone must act.
                Kind::Fight | Kind::Storm => Severity::Error,
                _ => Severity::Warning,
            };
            r.message = f.message.clone();
        }
    }
    let merged = plan::merge::merge(manifests, &plans, &decision.allowed);
    if !merged.findings.is_empty() {
        report.findings.extend(merged.findings);
        return None;
    }
    if merged.changes.is_empty() {
        return None;
    }
    let id = uuid::Uuid::new_v4().to_string();
    let target = match group {
        Group::Commit => Target::Branch,
        Group::PullRequest(key) => {
            let (title, body) = message::pull_request(&settings.message, &merged.updates);
            Target::PullRequest(PullRequestSpec {
                key: vec![pull_request_key(key)],
                title,
                body,
            })
        }
    };
    let write = Write {
        target,
        changes: merged.changes,
        message: message::render(&settings.message, &merged.updates, &id),
        id,
    };
    let fixed = decision
        .allowed
        .iter()
        .filter_map(|&pi| report.references.get(refs[pi]))
        .map(|r| (r.file.clone(), r.line))
        .collect();
    Some(Planned {
        write,
        updates: merged.updates,
        fixed,
    })
}

/// The configuration in `snapshot`, if any.
fn read_config(settings: &SyncSettings, snapshot: &Snapshot) -> Result<Option<config::Config>> {
    let Some(file) = snapshot.files.iter().find(|f| f.path == settings.config) else {
        if settings.config_given {
            return Err(UsageError(format!(
                "--config {}: not found in the repository",
                settings.config
            ))
            .into());
        }
        return Ok(None);
    };
    let text = std::str::from_utf8(&file.bytes)
        .map_err(|e| UsageError(format!("{}: not UTF-8 ({e})", settings.config)))?;
    Ok(Some(
        config::parse(&settings.config, text).map_err(|e| UsageError(e.to_string()))?,
    ))
}

/// The platforms a reference needs: its rule's, else `--platform`, else
/// what its workload says (`nodeSelector`, required node affinity), sorted.
fn platforms(
    settings: &SyncSettings,
    rule: &Rule,
    m: &Manifest,
    site: &crate::manifest::Site,
) -> Vec<Platform> {
    let mut out = if !rule.platforms.is_empty() {
        rule.platforms.clone()
    } else if !settings.platforms.is_empty() {
        settings.platforms.clone()
    } else {
        hints(m, site)
    };
    out.sort();
    out.dedup();
    out
}

/// The platforms the file holding `site` says its workloads run on.
fn hints(m: &Manifest, site: &crate::manifest::Site) -> Vec<Platform> {
    let mut names = m.platforms(site);
    if names.is_empty() && matches!(site.dialect, Dialect::Kustomize | Dialect::HelmValues) {
        names = file_hints(&m.text);
    }
    names
        .iter()
        .filter_map(|p| Platform::parse_list(p).ok())
        .flatten()
        .collect()
}

/// `kubernetes.io/arch: X` anywhere in a kustomization's patches or a Helm
/// values file's `nodeSelector`: the images it names run there.
fn file_hints(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim().trim_start_matches("- ");
        for key in ["kubernetes.io/arch", "beta.kubernetes.io/arch"] {
            if let Some(rest) = line
                .strip_prefix(key)
                .or_else(|| line.strip_prefix(&format!("\"{key}\"")))
                .and_then(|r| r.trim_start().strip_prefix(':'))
            {
                let arch = rest
                    .split('#')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .trim_matches(['"', '\'']);
                if !arch.is_empty() && arch.chars().all(|c| c.is_ascii_alphanumeric()) {
                    out.push(format!("linux/{arch}"));
                }
            }
        }
    }
    out
}

/// A progress line on stderr while the registry is asked, only where a
/// person watches it: stderr is a terminal, not inside Actions (whose log
/// is not one), and not with `--output json` (kept for machines).
fn progress_bar(cx: &Context, settings: &SyncSettings) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal as _;
    if cx.actions || settings.output == OutputFormat::Json || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("sync: asking registries {pos}/{len} {wide_bar}")
            .expect("impossible: the template is valid"),
    );
    Some(bar)
}

/// What `sync` keeps of the files it reads: files with references, and the
/// objects that say how they are tracked (Flux, Argo CD).
fn tracks_anything(m: &Manifest) -> bool {
    !m.sites.is_empty() || !m.markers.is_empty() || !m.skipped.is_empty() || holds_objects(m)
}

/// Returns true if and only if the file may hold Flux or Argo CD objects
/// (by their API groups), which their readers read from the whole tree.
fn holds_objects(m: &Manifest) -> bool {
    m.text.contains("toolkit.fluxcd.io/") || m.text.contains("argoproj.io/")
}

/// The files `sync` reads: the selection, keeping as it reads only what
/// [`tracks_anything`] keeps, and the configuration file; a file too large
/// to read is searched for the `configured` repositories, so one that holds
/// a configured image fails the run instead of being left behind.
fn selection(
    settings: &SyncSettings,
    configured: Vec<crate::reference::Repository>,
    whole: Arc<Mutex<BTreeSet<String>>>,
) -> crate::backend::files::FileSelection {
    let needles = configured
        .iter()
        .map(guard::broken::needle)
        .collect::<Vec<_>>();
    let needs = Needs {
        config: settings.config.clone(),
        apply: settings.apply,
        // `--default-policy none` writes nothing.
        every: settings.default_explicit
            && !matches!(settings.default_policy, tracked::DefaultPolicy::None),
        configured,
        whole,
    };
    settings
        .files
        .clone()
        .searching(needles)
        .keeping(discover::outlining_filter(move |m: &Manifest| {
            needs.fate(m)
        }))
}

/// What `sync` needs of each file it reads: whole where it may edit it or
/// reads objects in it; an outline where it only reports its references
/// (memory then follows what may change, not what is read).
struct Needs {
    config: String,
    /// `--apply`: files with drift to fix are edited.
    apply: bool,
    /// `--default-policy` given: every reference may be written.
    every: bool,
    /// The repositories `.gitops-bump.yaml` names (read before the files).
    configured: Vec<crate::reference::Repository>,
    /// Files a round found drift to fix in while they were outlines.
    whole: Arc<Mutex<BTreeSet<String>>>,
}

impl Needs {
    fn fate(&self, m: &Manifest) -> discover::Fate {
        use discover::Fate;
        if m.path == self.config {
            return Fate::Whole;
        }
        if !tracks_anything(m) {
            return Fate::Drop;
        }
        if holds_objects(m) {
            return Fate::Whole;
        }
        if !self.apply {
            return Fate::Outline;
        }
        // What a rule may write: a configured image, anything under an
        // explicit default policy, and what Flux and Argo CD Image Updater
        // write (markers, kustomizations, Helm values, Argo CD's override
        // files). Anything else found to drift is read whole next round.
        let file_name = m.path.rsplit('/').next().unwrap_or(&m.path);
        let writable = self.every
            || file_name.starts_with(".argocd-source")
            || m.sites.iter().any(|s| {
                !matches!(s.dialect, Dialect::Workload | Dialect::Image)
                    || m.image_of(s)
                        .repository
                        .is_some_and(|r| self.configured.contains(&r))
            })
            || self.whole.lock().is_ok_and(|w| w.contains(&m.path));
        if writable { Fate::Whole } else { Fate::Outline }
    }
}

/// The repositories the configuration names, read before the manifests
/// (one exact-path read) so the manifests' read can search oversized files
/// for them. A configuration that does not parse is left to the full read,
/// which reports it with its line.
fn configured(
    settings: &SyncSettings,
    backend: &mut dyn Backend,
) -> Result<Vec<crate::reference::Repository>> {
    let only = crate::backend::files::FileSelection::new(
        std::slice::from_ref(&settings.config),
        settings.files.max_size,
    )
    .map_err(|e| UsageError(format!("--config {}: {e}", settings.config)))?;
    let snapshot = backend
        .read(&only)
        .map_err(|e| anyhow::anyhow!("{}: {e}", backend.describe()))?;
    Ok(match read_config(settings, &snapshot) {
        Ok(Some(config)) => config
            .entries
            .iter()
            .map(|e| e.repository.clone())
            .collect(),
        _ => Vec::new(),
    })
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

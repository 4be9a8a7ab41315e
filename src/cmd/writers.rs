//! The writer guards' evidence, gathered for `set` and `sync` (issue #11):
//! who owns each reference and which policy orders its tags (from
//! `.gitops-bump.yaml` and the Flux objects of the snapshot), the recent
//! history of the files a round would change (read through the write
//! path's [`HistoryReader`], every round, and attributed to writers by
//! their `Gitops-Bump-Writer` trailer), and build times of tags no policy
//! orders (from the registry, once per run).
//!
//! Owns the gathering; the guard (pure) decides with what it is given.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::backend::{FileHistory, Snapshot};
use crate::commit::HistoryReader;
use crate::commit::trailer::Trailers;
use crate::discover::config::{self, Mode};
use crate::discover::flux::Objects;
use crate::discover::tracked::{self, DefaultPolicy, Source, Tracking};
use crate::finding::{Finding, Kind};
use crate::guard::history::{Commit, FileLog, HUMAN, History};
use crate::guard::writers::DEFAULT_WRITER;
use crate::guard::{self, Downgrades, Governed, Owner, WriterRules, Writers};
use crate::manifest::Manifest;
use crate::plan::{Desired, SitePlan};
use crate::reference::Repository;
use crate::registry::{Client, Platform};

/// The registry, for build times; `None` under `--no-verify`.
#[derive(Clone, Copy)]
pub struct Registry<'a> {
    /// The run's client (its caches hold what `resolve` already read).
    pub client: &'a Client,
    /// The command's runtime.
    pub runtime: &'a tokio::runtime::Runtime,
    /// The platform whose image config says when a single-platform child
    /// was built, when the index itself does not say.
    pub platform: Option<&'a Platform>,
}

/// What the guard plans against, besides the writer guards' knowledge.
#[derive(Clone, Copy)]
pub struct Planning<'a> {
    /// The manifests planned.
    pub manifests: &'a [Manifest],
    /// The desired states.
    pub desired: &'a [Desired],
    /// `--no-verify`.
    pub no_verify: bool,
    /// The run's no-downgrade rule.
    pub downgrades: &'a Downgrades,
}

impl<'a> Planning<'a> {
    /// The guard's context with `writers`.
    pub fn context(&self, writers: &'a Writers) -> guard::Context<'a> {
        guard::Context {
            manifests: self.manifests,
            desired: self.desired,
            no_verify: self.no_verify,
            downgrades: self.downgrades,
            writers,
        }
    }
}

/// The writer guards' state across the rounds of one run.
pub struct Guarding {
    rules: WriterRules,
    /// True once the "no history" warning was printed.
    warned: bool,
    /// Build times asked so far (`None`: the registry did not say).
    built: HashMap<(Repository, String), Option<i64>>,
}

impl Guarding {
    /// The state for a run with `rules`.
    pub fn new(rules: WriterRules) -> Guarding {
        Guarding {
            rules,
            warned: false,
            built: HashMap::new(),
        }
    }

    /// The knowledge for one round, before anything is read: the rules and
    /// what governs each site.
    pub fn writers(&self, governed: HashMap<(usize, usize), Governed>) -> Writers {
        Writers {
            governed,
            ..Writers::new(self.rules.clone())
        }
    }

    /// Reads what the checks need for `plans` into `writers`: the history of
    /// the files they would change ([`guard::touched`]), and with
    /// `registry`, the build times of tags the ordering cannot compare. A
    /// failed history read is an error finding: the guards cannot tell
    /// whether the change fights another writer.
    pub fn gather(
        &mut self,
        writers: &mut Writers,
        planning: Planning<'_>,
        plans: &[SitePlan],
        reader: &mut HistoryReader<'_>,
        registry: Option<Registry<'_>>,
    ) -> Result<(), Finding> {
        let (touched, unordered) = {
            let cx = planning.context(writers);
            // Build times only where the registry is asked at all.
            let unordered = match registry {
                Some(_) if !planning.no_verify => guard::downgrade::unordered(&cx, plans),
                _ => Vec::new(),
            };
            (guard::touched(&cx, plans), unordered)
        };
        writers.history = self.history(reader, &touched)?;
        if let Some(registry) = registry
            && !unordered.is_empty()
        {
            writers.built = self.build_times(registry, unordered);
        }
        Ok(())
    }

    /// The history of `paths`, attributed to writers; `None` when nothing
    /// is to be read, or the backend has none (then a warning, once).
    fn history(
        &mut self,
        reader: &mut HistoryReader<'_>,
        paths: &[String],
    ) -> Result<Option<History>, Finding> {
        if paths.is_empty() {
            return Ok(None);
        }
        let now = now();
        let read = reader
            .read(paths, now - self.rules.reach(), self.rules.depth)
            .map_err(|e| {
                Finding::error(
                    Kind::Fight,
                    None,
                    format!(
                        "{}: could not read the history of {}: {e}; without it the writer guards cannot tell whether this change fights another writer, so nothing was written",
                        reader.describe(),
                        paths.join(", ")
                    ),
                )
            })?;
        let Some(read) = read else {
            if !self.warned {
                self.warned = true;
                tracing::warn!(
                    "{}: no Git history, so the writer guards could not check for fights (reverts of another writer's change, the storm brake); going on",
                    reader.describe()
                );
            }
            return Ok(None);
        };
        let logs: Vec<FileLog> = read.iter().map(log).collect();
        Ok(Some(History::build(now, &logs)))
    }

    /// Build times of `tags` (Unix seconds), asking the registry for those
    /// not asked yet in this run.
    fn build_times(
        &mut self,
        registry: Registry<'_>,
        tags: Vec<(Repository, String)>,
    ) -> HashMap<(Repository, String), i64> {
        let wanted: Vec<(Repository, String, Option<Platform>)> = tags
            .iter()
            .filter(|k| !self.built.contains_key(*k))
            .map(|(r, t)| (r.clone(), t.clone(), registry.platform.cloned()))
            .collect();
        if !wanted.is_empty() {
            let times = registry
                .runtime
                .block_on(crate::resolve::survey::build_times(registry.client, wanted));
            for (key, time) in times {
                let secs = time
                    .as_deref()
                    .and_then(crate::policy::order::parse_rfc3339);
                self.built.insert(key, secs);
            }
        }
        tags.into_iter()
            .filter_map(|k| {
                let secs = self.built.get(&k).copied().flatten()?;
                Some((k, secs))
            })
            .collect()
    }
}

/// What governs each reference `set` may write: the `.gitops-bump.yaml`
/// entries (their `writer:` and policy) when the snapshot holds the file,
/// and Flux's `ImageUpdateAutomation` objects among `manifests`. A broken
/// configuration is an error finding (nothing is written).
pub fn governance(
    snapshot: &Snapshot,
    manifests: &[Manifest],
) -> Result<HashMap<(usize, usize), Governed>, Finding> {
    let bad = |message: String| Finding::error(Kind::Configuration, None, message);
    let config = match snapshot
        .files
        .iter()
        .find(|f| f.path == config::DEFAULT_PATH)
    {
        None => None,
        Some(f) => {
            let text = std::str::from_utf8(&f.bytes)
                .map_err(|e| bad(format!("{}: not UTF-8 ({e})", f.path)))?;
            Some(config::parse(&f.path, text).map_err(|e| bad(e.to_string()))?)
        }
    };
    let tracking = tracked::track(
        manifests,
        config.as_ref(),
        &[],
        &DefaultPolicy::None,
        false,
        Mode::Commit,
    )
    .map_err(|e| bad(e.to_string()))?;
    Ok(governed(manifests, &tracking, &Objects::read(manifests)))
}

/// What governs each tracked reference: a configuration entry's `writer:`
/// and policy; else, for a Flux setter marker in a path an
/// `ImageUpdateAutomation` updates, the owner `flux` (that controller is
/// set up to write it); else its rule's writer and policy.
pub fn governed(
    manifests: &[Manifest],
    tracking: &Tracking,
    objects: &Objects,
) -> HashMap<(usize, usize), Governed> {
    let mut out = HashMap::new();
    for t in &tracking.refs {
        let m = &manifests[t.manifest];
        let site = &m.sites[t.site];
        let rule = t.rule.map(|r| &tracking.rules[r]);
        let automation = site
            .marker
            .as_ref()
            .and_then(|_| objects.automation_of(&m.path));
        let owner = match (rule, automation) {
            (Some(rule), _) if rule.source == Source::Config => {
                rule.writer.clone().map(|id| Owner {
                    id,
                    source: rule
                        .origin
                        .as_ref()
                        .and_then(|o| Some(format!("{}:{}", o.file, o.line?)))
                        .unwrap_or_else(|| rule.label.clone()),
                })
            }
            (_, Some(a)) => Some(Owner {
                id: "flux".to_owned(),
                source: format!(
                    "ImageUpdateAutomation {} at {}:{} updates this path",
                    a.name,
                    a.at.file,
                    a.at.line.unwrap_or(1)
                ),
            }),
            // A Flux rule is shared by every file its ImagePolicy marks;
            // whether an automation updates a file is decided above, per file.
            (Some(rule), None) if rule.source == Source::Flux => None,
            (Some(rule), None) => rule.writer.clone().map(|id| Owner {
                id,
                source: rule.label.clone(),
            }),
            (None, None) => None,
        };
        let order = rule.map(|r| (r.policy.clone(), r.filter.clone()));
        if owner.is_some() || order.is_some() {
            out.insert((t.manifest, t.site), Governed { owner, order });
        }
    }
    out
}

/// One file's history as the guard reads it: each commit attributed to
/// its `Gitops-Bump-Writer`, or to `human` when it has no trailers.
fn log(h: &FileHistory) -> FileLog {
    FileLog {
        path: h.path.clone(),
        commits: h
            .commits
            .iter()
            .map(|c| {
                let trailers = Trailers::parse(&c.message);
                let writer = if trailers.is_ours() {
                    trailers.writer.unwrap_or_else(|| DEFAULT_WRITER.to_owned())
                } else {
                    HUMAN.to_owned()
                };
                Commit {
                    oid: c.oid.clone(),
                    time: c.time,
                    writer,
                    author: c.author.clone(),
                    before: c.before.clone(),
                    after: c.after.clone(),
                }
            })
            .collect(),
        truncated: h.truncated,
    }
}

/// Unix seconds now.
fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

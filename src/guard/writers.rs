//! What the writer guards know (issue #11): who this run is and what it
//! may override ([`WriterRules`], from the settings), and, per run round,
//! the evidence gathered for it ([`Writers`]): who owns each reference and
//! which policy orders its tags, the recent history of the files the run
//! would change, and the build times of tags no policy orders.
//!
//! Owns the shape of that knowledge; does not gather it (`cmd` reads the
//! configuration, the history and the registry) and decides nothing (the
//! checks: [`owner`](super::owner), [`storm`](super::storm),
//! [`revert`](super::revert), [`downgrade`](super::downgrade)). Pure.

use std::collections::HashMap;

use super::history::History;
use crate::policy::{Policy, TagFilter};
use crate::reference::Repository;

/// The default `--writer-id` outside GitHub Actions.
pub const DEFAULT_WRITER: &str = "gitops-bump";

/// The writer guards' settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriterRules {
    /// This run's writer (`--writer-id`).
    pub id: String,
    /// `--allow-revert`: a change may undo another writer's.
    pub allow_revert: bool,
    /// `--fight-window`, seconds: how far back a revert counts.
    pub window: i64,
    /// `--fight-depth`: most commits read per file.
    pub depth: usize,
    /// `--max-changes`: more changes than this of one image in one file
    /// within the last hour is a storm.
    pub max_changes: usize,
}

impl Default for WriterRules {
    /// The defaults of the flags: 24 h, 50 commits, 10 changes.
    fn default() -> Self {
        WriterRules {
            id: DEFAULT_WRITER.to_owned(),
            allow_revert: false,
            window: 24 * 3600,
            depth: 50,
            max_changes: 10,
        }
    }
}

/// How far back the storm brake looks, seconds.
pub const STORM_WINDOW: i64 = 3600;

impl WriterRules {
    /// How far back the history is read: the fight window, and at least
    /// the storm brake's hour.
    pub fn reach(&self) -> i64 {
        self.window.max(STORM_WINDOW)
    }
}

/// Who may write a reference, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// The writer id that owns it (`flux`, `argocd-image-updater`, `ci-edge`).
    pub id: String,
    /// What says so, for messages: `.gitops-bump.yaml:12`, or `ImageUpdateAutomation
    /// flux-system/fleet (clusters/dev/flux-system/automation.yaml:1)`.
    pub source: String,
}

/// What governs one reference.
#[derive(Clone, Debug, Default)]
pub struct Governed {
    /// The only writer allowed to change it, if one is named.
    pub owner: Option<Owner>,
    /// The policy (with its filter) of the entry that governs it, whose
    /// ordering the no-downgrade check uses instead of the run's own.
    pub order: Option<(Policy, TagFilter)>,
}

/// The writer guards' knowledge for one round.
#[derive(Clone, Debug, Default)]
pub struct Writers {
    /// The settings.
    pub rules: WriterRules,
    /// Per site (manifest index, site index): what governs it. A site
    /// without an entry is governed by nothing but the run's settings.
    pub governed: HashMap<(usize, usize), Governed>,
    /// The history of the files the run would change; `None` when it was
    /// not read (nothing to change yet) or there is none (a plain directory).
    pub history: Option<History>,
    /// When each (repository, tag) was built, Unix seconds, where the
    /// registry said; asked only for tags no policy orders.
    pub built: HashMap<(Repository, String), i64>,
}

impl Writers {
    /// Knowledge with `rules` and nothing gathered yet.
    pub fn new(rules: WriterRules) -> Writers {
        Writers {
            rules,
            ..Writers::default()
        }
    }

    /// What governs site `site` of manifest `manifest`, if anything does.
    pub fn of(&self, manifest: usize, site: usize) -> Option<&Governed> {
        self.governed.get(&(manifest, site))
    }
}

#[cfg(test)]
mod tests {
    //! The writer guards through [`check`](super::super::check), on
    //! hand-built histories. See: issue #11.

    use super::super::history::{Commit, FileLog, HUMAN};
    use super::super::{Context, Downgrades, check, touched};
    use super::*;
    use crate::finding::Kind;
    use crate::manifest::Manifest;
    use crate::plan::{self, Desired};
    use crate::reference::Reference;

    const NOW: i64 = 1_700_000_000;
    const FILE: &str = "apps/app.yaml";

    fn app(tag: &str) -> String {
        format!("containers:\n- name: app\n  image: ghcr.io/acme/app:{tag}\n")
    }

    fn desired(arg: &str) -> Desired {
        Desired {
            arg: arg.into(),
            reference: Reference::parse(arg).expect("valid"),
            resolved_digest: None,
        }
    }

    fn commit(oid: &str, ago: i64, writer: &str, from: &str, to: &str) -> Commit {
        Commit {
            oid: oid.into(),
            time: NOW - ago,
            writer: writer.into(),
            author: "Alice Doe".into(),
            before: Some(app(from)),
            after: Some(app(to)),
        }
    }

    /// The findings of moving `FILE` from `current` to `target` as `writers`
    /// after `commits` (newest first).
    fn run(
        current: &str,
        target: &str,
        commits: Vec<Commit>,
        writers: &mut Writers,
    ) -> Vec<(Kind, String)> {
        let manifests = vec![Manifest::parse(FILE, app(current)).expect("parses")];
        let desired = vec![desired(&format!("ghcr.io/acme/app:{target}"))];
        let plans = plan::plan(&manifests, &desired);
        let downgrades = Downgrades::default();
        let wanted = {
            let cx = Context {
                manifests: &manifests,
                desired: &desired,
                no_verify: true,
                downgrades: &downgrades,
                writers,
            };
            touched(&cx, &plans)
        };
        writers.history = Some(History::build(
            NOW,
            &[FileLog {
                path: FILE.into(),
                commits,
                truncated: false,
            }],
        ))
        .filter(|_| !wanted.is_empty());
        let cx = Context {
            manifests: &manifests,
            desired: &desired,
            no_verify: true,
            downgrades: &downgrades,
            writers,
        };
        check(&cx, &plans, &[])
            .findings
            .into_iter()
            .map(|f| (f.kind, f.message))
            .collect()
    }

    fn as_writer(id: &str) -> Writers {
        Writers::new(WriterRules {
            id: id.into(),
            ..WriterRules::default()
        })
    }

    #[test]
    fn undoing_another_writers_change_is_a_fight_naming_both() {
        let found = run(
            "sha-2222222",
            "sha-1111111",
            vec![commit(
                "0123456789abcdef",
                720,
                "amd64",
                "sha-1111111",
                "sha-2222222",
            )],
            &mut as_writer("arm64"),
        );
        assert_eq!(found.len(), 1, "{found:?}");
        let (kind, message) = &found[0];
        assert_eq!(*kind, Kind::Fight);
        assert_eq!(
            message,
            "ghcr.io/acme/app: sha-2222222 → sha-1111111 would undo commit 0123456789ab by writer amd64 (12m ago), which moved it sha-1111111 → sha-2222222; this run is writer arm64, so two writers are fighting over this reference. For a deliberate rollback pass --allow-revert; otherwise give both writers the same platforms and policy, or each its own write-back path (or one owner in .gitops-bump.yaml)"
        );
    }

    #[test]
    fn own_reverts_old_changes_and_allowed_rollbacks_pass() {
        let by = |writer: &str, ago: i64| vec![commit("c1", ago, writer, "v1", "v2")];
        assert!(
            run("v2", "v1", by("arm64", 60), &mut as_writer("arm64"))
                .iter()
                .all(|(k, _)| *k != Kind::Fight),
            "its own change"
        );
        assert!(
            run("v2", "v1", by("amd64", 25 * 3600), &mut as_writer("arm64"))
                .iter()
                .all(|(k, _)| *k != Kind::Fight),
            "outside the window"
        );
        let mut allowed = as_writer("arm64");
        allowed.rules.allow_revert = true;
        assert!(
            run("v2", "v1", by("amd64", 60), &mut allowed)
                .iter()
                .all(|(k, _)| *k != Kind::Fight)
        );
        // A new value nobody replaced is no revert.
        assert!(run("v2", "v3", by("amd64", 60), &mut as_writer("arm64")).is_empty());
    }

    #[test]
    fn a_persons_edit_is_protected_and_named() {
        let found = run(
            "v1",
            "v2",
            vec![commit("c1", 300, HUMAN, "v2", "v1")],
            &mut as_writer("ci"),
        );
        assert_eq!(found[0].0, Kind::Fight);
        assert!(
            found[0].1.contains("by writer human (Alice Doe) (5m ago)"),
            "{}",
            found[0].1
        );
    }

    #[test]
    fn a_storm_is_refused_whoever_causes_it() {
        // 11 changes within the hour: one more than --max-changes 10.
        let commits: Vec<Commit> = (0..11)
            .map(|i| {
                let (from, to) = if i % 2 == 0 {
                    ("v1", "v2")
                } else {
                    ("v2", "v1")
                };
                commit(
                    &format!("c{i}"),
                    60 + i * 60,
                    if i % 2 == 0 { "a" } else { "b" },
                    from,
                    to,
                )
            })
            .collect();
        let found = run("v2", "v3", commits.clone(), &mut as_writer("c"));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, Kind::Storm);
        assert!(
            found[0].1.contains(
                "changed 11 times in this file within the last hour, more than --max-changes 10"
            ) && found[0]
                .1
                .contains("c0 by a (60s ago), c1 by b (2m ago), c2 by a (3m ago)"),
            "{}",
            found[0].1
        );
        let mut relaxed = as_writer("c");
        relaxed.rules.max_changes = 11;
        assert!(run("v2", "v3", commits.clone(), &mut relaxed).is_empty());
        // The commit that created the file is no change of the image: ten
        // moves and a creation are not eleven changes.
        let mut created = commits[..10].to_vec();
        created.push(Commit {
            before: None,
            ..commit("c10", 60 + 10 * 60, "a", "v2", "v1")
        });
        assert!(run("v2", "v3", created, &mut as_writer("c")).is_empty());
        // Older than an hour: not a storm.
        let old: Vec<Commit> = commits
            .into_iter()
            .map(|mut c| {
                c.time -= 3600;
                c
            })
            .collect();
        assert!(run("v2", "v3", old, &mut as_writer("c")).is_empty());
    }

    #[test]
    fn an_owned_reference_is_refused_unless_run_as_its_owner() {
        let mut w = as_writer("ci-dev");
        w.governed.insert(
            (0, 0),
            Governed {
                owner: Some(Owner {
                    id: "flux".into(),
                    source:
                        "ImageUpdateAutomation fleet at clusters/dev/a.yaml:1 updates this path"
                            .into(),
                }),
                order: None,
            },
        );
        let found = run("v1", "v2", Vec::new(), &mut w);
        assert_eq!(found[0].0, Kind::Owned);
        assert!(
            found[0].1.starts_with("ghcr.io/acme/app is owned by writer flux (ImageUpdateAutomation fleet at clusters/dev/a.yaml:1 updates this path), and this run is writer ci-dev"),
            "{}",
            found[0].1
        );
        assert!(w.history.is_none(), "an owned file's history is not read");
        w.rules.id = "flux".into();
        assert!(run("v1", "v2", Vec::new(), &mut w).is_empty());
    }

    #[test]
    fn the_governing_policy_orders_and_build_times_order_the_rest() {
        // The entry's alphabetical order says v1.10 < v1.9; semver would not.
        let mut w = as_writer("ci");
        assert!(run("v1.9", "v1.10", Vec::new(), &mut w).is_empty());
        w.governed.insert(
            (0, 0),
            Governed {
                owner: None,
                order: Some((
                    crate::policy::Policy::parse("alphabetical").expect("valid"),
                    TagFilter::default(),
                )),
            },
        );
        let found = run("v1.9", "v1.10", Vec::new(), &mut w);
        assert_eq!(found[0].0, Kind::Downgrade);
        assert!(
            found[0].1.contains("(alphabetical:asc order)"),
            "{}",
            found[0].1
        );
        // Tags without an order: the build times decide.
        let mut w = as_writer("ci");
        let repo = Reference::parse("ghcr.io/acme/app")
            .expect("valid")
            .repository();
        w.built
            .insert((repo.clone(), "sha-bbbbbbb".into()), 1_709_287_200);
        w.built
            .insert((repo.clone(), "sha-aaaaaaa".into()), 1_709_200_800);
        let found = run("sha-bbbbbbb", "sha-aaaaaaa", Vec::new(), &mut w);
        assert_eq!(found[0].0, Kind::OutOfOrder);
        assert_eq!(
            found[0].1,
            "ghcr.io/acme/app: sha-bbbbbbb (built 2024-03-01T10:00:00Z) → sha-aaaaaaa (built 2024-02-29T10:00:00Z) replaces a newer build with an older one: the semver order cannot compare these tags, so their build times decide (a pipeline that finished out of order?); pass --allow-downgrade to move back"
        );
        assert!(run("sha-aaaaaaa", "sha-bbbbbbb", Vec::new(), &mut w).is_empty());
        w.built.remove(&(repo, "sha-aaaaaaa".to_owned()));
        assert!(
            run("sha-bbbbbbb", "sha-aaaaaaa", Vec::new(), &mut w).is_empty(),
            "unknown: allowed"
        );
    }
}

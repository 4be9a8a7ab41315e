//! Guard: decides which planned changes may be written. Pins
//! (`# gitops-bump:ignore`), stale digests, sites that cannot hold the
//! target, moves to an older tag (no-downgrade), and broken files that
//! mention a target. Pure.
//!
//! Owns what may be written; does not own tag selection (`policy`), whose
//! orderings the no-downgrade check borrows through [`compare_tags`].

use std::cmp::Ordering;

use serde::Serialize;

use crate::backend::Problem;
use crate::manifest::Manifest;
use crate::plan::Candidate;
use crate::policy::{Constraints, Order, Policy, SemverParse, Version, order};
use crate::settings::Target;

/// A site left alone on purpose.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// File path.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// Target image.
    pub image: String,
    /// Why.
    pub reason: String,
}

/// A reason the whole run must fail with nothing written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// File path.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong and what to do, one line.
    pub message: String,
}

/// The guard's verdict.
#[derive(Debug, Default)]
pub struct Verdict {
    /// Candidates cleared for writing (indices into the plan).
    pub allowed: Vec<usize>,
    /// Pinned sites.
    pub skipped: Vec<Skipped>,
    /// Reasons to fail.
    pub refusals: Vec<Refusal>,
}

/// The no-downgrade check of `set`.
#[derive(Clone, Debug)]
pub enum Downgrades {
    /// `--allow-downgrade`: every move is allowed.
    Allowed,
    /// Refuse a move to a tag that this policy orders before the current
    /// tag. Only the ordering is used, never the policy's range or filter.
    Refused(Policy),
}

impl Default for Downgrades {
    /// Semver with lenient parsing (`1.2` is a version too), so any two tags
    /// that read as versions are compared and everything else is allowed.
    fn default() -> Self {
        let range = Constraints::parse("*").expect("impossible: `*` is a valid range");
        Downgrades::Refused(Policy::Semver {
            range,
            parse: SemverParse::Lenient,
        })
    }
}

impl Downgrades {
    /// Returns true if and only if moving from `current` to `new` goes
    /// backwards under the ordering in force. Tags the ordering cannot
    /// compare (`main` → `sha-abc` under semver) are never a downgrade, and
    /// neither are tags of equal precedence (`v1.2.3` → `1.2.3`).
    pub fn refuses(&self, current: &str, new: &str) -> bool {
        match self {
            Downgrades::Allowed => false,
            Downgrades::Refused(policy) => {
                compare_tags(policy, current, new) == Some(Ordering::Less)
            }
        }
    }
}

/// How `new` ranks against `current` under `policy`'s preference:
/// `Greater` means the policy would prefer `new` (an upgrade), `Less` that
/// it prefers `current` (a downgrade). `None` when the policy cannot order
/// the two: a tag that does not parse as a version or number, or a policy
/// with no order of its own that is knowable without the registry
/// (`newest-build`, `digest`).
pub fn compare_tags(policy: &Policy, current: &str, new: &str) -> Option<Ordering> {
    let directed = |o: &Order, by: Ordering| match o {
        Order::Asc => by,
        Order::Desc => by.reverse(),
    };
    match policy {
        Policy::Semver { parse, .. } => {
            let read = |t: &str| match parse {
                SemverParse::Strict => Version::parse_flux(t).ok(),
                SemverParse::Lenient => Version::parse(t).ok(),
            };
            Some(read(new)?.compare(&read(current)?))
        }
        Policy::Alphabetical { order } => {
            Some(directed(order, new.as_bytes().cmp(current.as_bytes())))
        }
        Policy::Numerical { order } => {
            let (a, b) = (order::go_parse_float(new)?, order::go_parse_float(current)?);
            // NaN orders nothing; partial_cmp gives None for it.
            Some(directed(order, a.partial_cmp(&b)?))
        }
        Policy::NewestBuild | Policy::Digest { .. } => None,
    }
}

/// Checks the plan.
pub fn check(
    manifests: &[Manifest],
    targets: &[Target],
    plan: &[Candidate],
    unreadable: &[(Problem, Option<String>)],
    no_verify: bool,
    downgrades: &Downgrades,
) -> Verdict {
    let mut v = Verdict::default();
    for (i, c) in plan.iter().enumerate() {
        let m = &manifests[c.manifest];
        let site = &m.sites[c.site];
        let line = site.slots().first().map_or(1, |&n| m.node_position(n).0);
        let image = targets[c.target].reference.name_as_written().to_owned();
        if m.is_pinned(site) {
            if !c.changes.is_empty() {
                v.skipped.push(Skipped {
                    file: m.path.clone(),
                    line,
                    image,
                    reason: "pinned by # gitops-bump:ignore".into(),
                });
            }
            continue;
        }
        if c.changes.is_empty() {
            continue;
        }
        if let Some(reason) = &c.unfit {
            v.refusals.push(Refusal {
                file: m.path.clone(),
                line: Some(line),
                message: format!("{image}: {reason}"),
            });
            continue;
        }
        let current = m.image_of(site).tag;
        if let (Some(current), Some(new)) = (current.as_deref(), targets[c.target].reference.tag())
            && downgrades.refuses(current, new)
        {
            let by = match downgrades {
                Downgrades::Refused(p @ Policy::Semver { .. }) => p.name().to_owned(),
                Downgrades::Refused(p) => p.to_string(),
                Downgrades::Allowed => String::new(),
            };
            v.refusals.push(Refusal {
                file: m.path.clone(),
                line: Some(line),
                message: format!(
                    "{image}: {current} → {new} is a downgrade ({by} order); pass --allow-downgrade to move backwards"
                ),
            });
            continue;
        }
        if let (Some(old), true) = (&c.stale_digest, no_verify) {
            let short = old.get(..19).unwrap_or(old);
            v.refusals.push(Refusal {
                file: m.path.clone(),
                line: Some(line),
                message: format!("{image} is pinned to digest {short}…, and with --no-verify the new digest is unknown; pass {image}:TAG@sha256:… or drop --no-verify"),
            });
            continue;
        }
        v.allowed.push(i);
    }
    for (problem, text) in unreadable {
        let Some(text) = text else { continue };
        if let Some(t) = targets
            .iter()
            .find(|t| mentions(text, &t.reference.repository()))
        {
            v.refusals.push(Refusal {
                file: problem.file.clone(),
                line: problem.line,
                message: format!(
                    "{}; it mentions {}, so the run cannot be complete without it",
                    problem.message.trim_end_matches("; skipped"),
                    t.reference.name_as_written()
                ),
            });
        }
    }
    v
}

/// Returns true if and only if `text` holds something shaped like a
/// reference to the repository (`nginx:1`, `docker.io/library/nginx`,
/// `image: nginx`), not merely the word (a port named `nginx`).
// NOTE(engine): delegates to `manifest::text::reference_lines`, which also
// reads UTF-16 and Latin-1 bytes; wire non-UTF-8 files through it from discover.
fn mentions(text: &str, repo: &crate::reference::Repository) -> bool {
    !crate::manifest::text::reference_lines(text.as_bytes(), repo).is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::Reference;

    fn refuses(d: &Downgrades, current: &str, new: &str) -> bool {
        d.refuses(current, new)
    }

    #[test]
    fn default_guard_compares_lenient_semver_only() {
        let d = Downgrades::default();
        assert!(refuses(&d, "v1.2.3", "v1.2.2"));
        assert!(refuses(&d, "1.10.0", "1.9.0"), "numeric, not byte-wise");
        assert!(refuses(&d, "1.2", "1.1.9"), "lenient: 1.2 is 1.2.0");
        assert!(
            refuses(&d, "1.0.0", "1.0.0-rc.1"),
            "a pre-release precedes its release"
        );
        assert!(!refuses(&d, "v1.2.2", "v1.2.3"));
        // Equal precedence is not a move backwards.
        assert!(!refuses(&d, "v1.2.3", "1.2.3"));
        assert!(!refuses(&d, "1.11", "1.11.0"));
        assert!(!refuses(&d, "1.2.3+a", "1.2.3+b"));
        // Not comparable: allowed.
        assert!(!refuses(&d, "main", "sha-abc"));
        assert!(!refuses(&d, "v2.0.0", "latest"));
        assert!(!refuses(&d, "latest", "v1.0.0"));
        assert!(!refuses(&Downgrades::Allowed, "v2.0.0", "v1.0.0"));
    }

    #[test]
    fn a_policy_given_to_set_supplies_the_order() {
        let p = |spec: &str| Downgrades::Refused(Policy::parse(spec).expect("valid"));
        // Strict semver (Flux) does not read `1.2` as a version.
        assert!(!refuses(&p("semver:*"), "1.2", "1.1.0"));
        assert!(refuses(&p("semver:*"), "1.2.0", "1.1.0"));
        // The range is not a filter here: only the order counts.
        assert!(refuses(&p("semver:^1"), "3.0.0", "2.0.0"));
        assert!(refuses(
            &p("alphabetical"),
            "main-20240301",
            "main-20240101"
        ));
        assert!(!refuses(
            &p("alphabetical:desc"),
            "main-20240301",
            "main-20240101"
        ));
        assert!(refuses(
            &p("alphabetical:desc"),
            "main-20240101",
            "main-20240301"
        ));
        assert!(refuses(&p("numerical"), "10", "9"));
        assert!(!refuses(&p("numerical"), "10", "10.0"), "equal values");
        assert!(!refuses(&p("numerical"), "10", "abc"), "not a number");
        assert!(!refuses(&p("numerical"), "10", "NaN"));
        assert!(refuses(&p("numerical:desc"), "9", "10"));
        assert!(!refuses(&p("newest-build"), "sha-b", "sha-a"));
        assert!(!refuses(&p("digest:latest"), "v2", "v1"));
    }

    #[test]
    fn compare_tags_says_which_way() {
        let semver = Policy::parse("semver:*").expect("valid");
        assert_eq!(
            compare_tags(&semver, "1.0.0", "2.0.0"),
            Some(Ordering::Greater)
        );
        assert_eq!(
            compare_tags(&semver, "v1.0.0", "1.0.0"),
            Some(Ordering::Equal)
        );
        assert_eq!(compare_tags(&semver, "main", "1.0.0"), None);
    }

    #[test]
    fn mentions_whole_words_only() {
        let repo = Reference::parse("ghcr.io/acme/app:v1")
            .expect("valid")
            .repository();
        assert!(mentions("image: ghcr.io/acme/app:{{ .Values.tag }}", &repo));
        assert!(!mentions("image: ghcr.io/acme/application:v1", &repo));
        let nginx = Reference::parse("nginx:1").expect("valid").repository();
        assert!(mentions("image: nginx:{{ x }}", &nginx));
        assert!(!mentions("image: bitnami/nginx-exporter:1", &nginx));
    }
}

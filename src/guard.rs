//! Guard: decides which planned changes may be written. Pins
//! (`# gitops-bump:ignore`), stale digests, sites that cannot hold the
//! target, moves to an older tag (no-downgrade), and broken files that
//! mention a target. Pure.
//!
//! Owns what may be written; does not own tag selection (`policy`), whose
//! orderings the no-downgrade check borrows through [`Policy::compare`], the
//! same comparison the selection ranks with.

use std::cmp::Ordering;

use crate::discover::Unreadable;
use crate::finding::{Finding, Kind, Location};
use crate::manifest::Manifest;
use crate::plan::Candidate;
use crate::plan::Desired;
use crate::policy::{Constraints, Policy, SemverParse};

/// The guard's decision.
#[derive(Debug, Default)]
pub struct Decision {
    /// Site plans cleared for writing (indices into the plan).
    pub allowed: Vec<usize>,
    /// Pinned sites (notices) and refusals (errors: the run fails).
    pub findings: Vec<Finding>,
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
            Downgrades::Refused(policy) => policy.compare(current, new) == Some(Ordering::Less),
        }
    }
}

/// Checks the plan.
pub fn check(
    manifests: &[Manifest],
    targets: &[Desired],
    plan: &[Candidate],
    unreadable: &[Unreadable],
    no_verify: bool,
    downgrades: &Downgrades,
) -> Decision {
    let mut v = Decision::default();
    for (i, c) in plan.iter().enumerate() {
        let m = &manifests[c.manifest];
        let site = &m.sites[c.site];
        let line = site.slots().first().map_or(1, |&n| m.node_position(n).0);
        let image = targets[c.target].reference.name_as_written().to_owned();
        let at = || Some(Location::line(&m.path, line));
        if m.is_pinned(site) {
            if !c.changes.is_empty() {
                v.findings.push(
                    Finding::notice(Kind::Pinned, at(), "pinned by # gitops-bump:ignore")
                        .about(image.clone()),
                );
            }
            continue;
        }
        if c.changes.is_empty() {
            continue;
        }
        if let Some(reason) = &c.unfit {
            let message = format!("{image}: {reason}");
            v.findings
                .push(Finding::error(Kind::Unfit, at(), message).about(image.clone()));
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
            let message = format!(
                "{image}: {current} → {new} is a downgrade ({by} order); pass --allow-downgrade to move backwards"
            );
            v.findings
                .push(Finding::error(Kind::Downgrade, at(), message).about(image.clone()));
            continue;
        }
        if let (Some(old), true) = (&c.stale_digest, no_verify) {
            let short = old.get(..19).unwrap_or(old);
            let message = format!(
                "{image} is pinned to digest {short}…, and with --no-verify the new digest is unknown; pass {image}:TAG@sha256:… or drop --no-verify"
            );
            v.findings
                .push(Finding::error(Kind::StaleDigest, at(), message).about(image.clone()));
            continue;
        }
        v.allowed.push(i);
    }
    for u in unreadable {
        let Some(text) = &u.text else { continue };
        if let Some(t) = targets
            .iter()
            .find(|t| mentions(text, &t.reference.repository()))
        {
            let message = format!(
                "{}; it mentions {}, so the run cannot be complete without it",
                u.finding.message.trim_end_matches("; skipped"),
                t.reference.name_as_written()
            );
            v.findings.push(
                Finding::error(Kind::BrokenFile, u.finding.location.clone(), message)
                    .about(t.reference.name_as_written()),
            );
        }
    }
    v
}

/// Returns true if and only if `text` contains the repository path as a
/// whole word (`acme/app`, or `nginx` for `docker.io/library/nginx`).
fn mentions(text: &str, repo: &crate::reference::Repository) -> bool {
    let path = repo.path();
    let needle = if repo.domain() == "docker.io" {
        path.strip_prefix("library/").unwrap_or(path)
    } else {
        path
    };
    let word = |c: char| c.is_ascii_alphanumeric() || "-_./".contains(c);
    text.match_indices(needle).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + needle.len()..].chars().next();
        !before.is_some_and(|c| word(c) && c != '/') && !after.is_some_and(|c| word(c) && c != '.')
    })
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

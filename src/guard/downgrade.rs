//! No downgrades: a move to a tag that the policy in force orders before
//! the current tag is refused, unless `--allow-downgrade`. The policy in
//! force is the one of the entry that governs the reference (a
//! `.gitops-bump.yaml` entry, a Flux `ImagePolicy`), else the run's own
//! ([`Downgrades`]).
//!
//! Tags that no policy orders (`sha-5b09d68`, `main-<sha>-<n>`) are
//! compared by their images' build times when the registry was asked
//! (issue #11: two CI runs for commits X then Y, the run for X finishing
//! last, must not set `sha-x` over `sha-y`): replacing a newer build with an
//! older one is refused as out of order.

use std::cmp::Ordering;

use super::{Check, Context};
use crate::finding::{Finding, Kind};
use crate::plan::SitePlan;
use crate::policy::order::format_unix;
use crate::policy::{Constraints, Policy, SemverParse, TagFilter};
use crate::reference::Repository;

/// The no-downgrade check of `set`.
#[derive(Clone, Debug)]
pub enum Downgrades {
    /// `--allow-downgrade`: every move is allowed.
    Allowed,
    /// Refuse a move to a tag that this policy orders before the current
    /// tag, unless the configuration entry governing the reference orders
    /// its tags (then that entry's policy decides). Only the ordering is
    /// used, never the policy's range or filter.
    Refused(Policy),
    /// `--policy` given on the command line: this ordering decides for
    /// every reference, over any entry's (the person said so for this run).
    Given(Policy),
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
            Downgrades::Refused(policy) | Downgrades::Given(policy) => {
                policy.compare(current, new) == Some(Ordering::Less)
            }
        }
    }
}

/// Refuses moves backwards, and older builds over newer ones.
pub struct NoDowngrade;

impl Check for NoDowngrade {
    fn check(&self, cx: &Context<'_>, plan: &SitePlan) -> Option<Finding> {
        let (m, image, at) = cx.site(plan);
        let site = m.image_of(&m.sites[plan.site]);
        let current = site.tag?;
        let new = cx.desired[plan.desired].reference.tag()?;
        let (policy, filter) = order(cx, plan)?;
        match compare(policy, filter, &current, new) {
            Some(Ordering::Less) => {
                let message = format!(
                    "{image}: {current} → {new} is a downgrade ({} order); pass --allow-downgrade to move backwards",
                    named(policy)
                );
                Some(Finding::error(Kind::Downgrade, Some(at), message).about(image))
            }
            Some(_) => None,
            None => {
                let repository = site.repository?;
                let built = |tag: &str| {
                    cx.writers
                        .built
                        .get(&(repository.clone(), tag.to_owned()))
                        .copied()
                };
                let (was, will) = (built(&current)?, built(new)?);
                if will >= was || current == new {
                    return None;
                }
                let message = format!(
                    "{image}: {current} (built {}) → {new} (built {}) replaces a newer build with an older one: the {} order cannot compare these tags, so their build times decide (a pipeline that finished out of order?); pass --allow-downgrade to move back",
                    format_unix(was),
                    format_unix(will),
                    named(policy)
                );
                Some(Finding::error(Kind::OutOfOrder, Some(at), message).about(image))
            }
        }
    }
}

/// The tags whose build times the out-of-order check needs: for every
/// plan that changes something, its current and new tag when the ordering
/// in force cannot compare them.
pub fn unordered(cx: &Context<'_>, plans: &[SitePlan]) -> Vec<(Repository, String)> {
    let mut out = Vec::new();
    for plan in plans.iter().filter(|p| !p.changes.is_empty()) {
        let (m, _, _) = cx.site(plan);
        let site = m.image_of(&m.sites[plan.site]);
        let (Some(repository), Some(current), Some(new)) = (
            site.repository,
            site.tag,
            cx.desired[plan.desired].reference.tag(),
        ) else {
            continue;
        };
        let Some((policy, filter)) = order(cx, plan) else {
            continue;
        };
        if current != new && compare(policy, filter, &current, new).is_none() {
            for tag in [current, new.to_owned()] {
                let key = (repository.clone(), tag);
                if !out.contains(&key) {
                    out.push(key);
                }
            }
        }
    }
    out
}

/// The ordering in force for `plan`: its entry's (with the entry's filter,
/// whose extracted values the policy compares), else the run's; `None`
/// with `--allow-downgrade`.
fn order<'a>(cx: &Context<'a>, plan: &SitePlan) -> Option<(&'a Policy, Option<&'a TagFilter>)> {
    let fallback = match cx.downgrades {
        Downgrades::Allowed => return None,
        Downgrades::Given(policy) => return Some((policy, None)),
        Downgrades::Refused(policy) => policy,
    };
    match cx
        .writers
        .of(plan.manifest, plan.site)
        .and_then(|g| g.order.as_ref())
    {
        Some((p, f)) => Some((p, Some(f))),
        None => Some((fallback, None)),
    }
}

/// How `policy` orders `new` against `current`.
fn compare(
    policy: &Policy,
    filter: Option<&TagFilter>,
    current: &str,
    new: &str,
) -> Option<Ordering> {
    match filter {
        Some(f) => policy.compare_filtered(f, current, new),
        None => policy.compare(current, new),
    }
}

/// `semver`, or the policy as written (`numerical:desc`).
fn named(policy: &Policy) -> String {
    match policy {
        Policy::Semver { .. } => policy.name().to_owned(),
        p => p.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}

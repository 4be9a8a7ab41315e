//! Drift: `sync`'s verdict for one tracked reference, from what Git holds
//! and what the registry says. Exactly one [`Verdict`] per reference, with
//! its severity and a one-line message that says why. Pure.
//!
//! | verdict | when | severity |
//! |---|---|---|
//! | `up-to-date` | the policy selects what Git holds | notice |
//! | `behind` | the policy selects a newer tag (or, for `digest`, another digest) | error for a configured image older than the grace ("gitops commit missing"); notice for default-policy drift |
//! | `in-flight` | behind, but the selected image is younger than the grace | notice |
//! | `ahead` | Git holds a tag the policy ranks above its choice, or that its filter excludes | warning |
//! | `missing-tag` | the tag in Git is not in the registry | error |
//! | `missing-platform` | the tag in Git, or the newer tag the policy would move to, lacks a required platform | error |
//! | `blocked` | a guard refuses the change (`# gitops-bump:ignore`, the writer guards), or a platform filter selects a tag older than Git's (moving back would be a downgrade) | warning; error when another writer keeps moving the reference, or when the tag in Git lacks a platform the workload runs on |
//! | `unchecked` | nothing can be said (no policy applies, a template, the policy selects no tag, the registry failed) | notice; warning when the policy selects no tag; error when the registry failed |

use std::cmp::Ordering;
use std::time::Duration;

use serde::Serialize;

use crate::finding::Severity;
use crate::settings::units::show_duration;

/// A reference's verdict (JSON spelling in kebab-case).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// What Git holds is what the policy selects.
    UpToDate,
    /// The policy selects a newer tag or another digest.
    Behind,
    /// Behind, but the selected image is younger than the grace.
    InFlight,
    /// Git holds a tag the policy ranks above its choice or excludes.
    Ahead,
    /// The tag in Git does not exist in the registry.
    MissingTag,
    /// A required platform is missing.
    MissingPlatform,
    /// A guard refuses the change.
    Blocked,
    /// Nothing can be said.
    Unchecked,
}

impl Verdict {
    /// Every verdict, in report order.
    pub const ALL: [Verdict; 8] = [
        Verdict::MissingTag,
        Verdict::MissingPlatform,
        Verdict::Behind,
        Verdict::InFlight,
        Verdict::Ahead,
        Verdict::Blocked,
        Verdict::Unchecked,
        Verdict::UpToDate,
    ];

    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::UpToDate => "up-to-date",
            Verdict::Behind => "behind",
            Verdict::InFlight => "in-flight",
            Verdict::Ahead => "ahead",
            Verdict::MissingTag => "missing-tag",
            Verdict::MissingPlatform => "missing-platform",
            Verdict::Blocked => "blocked",
            Verdict::Unchecked => "unchecked",
        }
    }
}

/// What the policy selected for a reference.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selected {
    /// The tag selected with the required platforms, if any.
    pub tag: Option<String>,
    /// Its index digest.
    pub digest: Option<String>,
    /// Tags ranked above `tag` that lack a required platform, best first,
    /// with the platforms they lack.
    pub lacking: Vec<(String, String)>,
    /// Why nothing was selected, when nothing was.
    pub failure: Option<String>,
}

/// Everything the classifier needs about one reference.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// The image as written.
    pub image: String,
    /// The tag in Git (`None` for a digest-only reference).
    pub current: Option<String>,
    /// The digest pinned in Git, if any.
    pub current_digest: Option<String>,
    /// Why the reference cannot be checked at all (a template, no policy,
    /// the registry failed), and whether that is an error.
    pub unchecked: Option<(String, bool)>,
    /// Returns true if and only if the current tag is in the registry's list.
    pub current_listed: bool,
    /// The required platforms the current tag lacks (empty: none, or not checked).
    pub current_lacks: Vec<String>,
    /// The policy's selection.
    pub selected: Selected,
    /// For `digest` policies: the digest the followed tag has now.
    pub followed_digest: Option<String>,
    /// How the policy ranks the selected tag against the current one
    /// (`Greater`: the selected tag is newer); `None` when it cannot order
    /// them.
    pub order: Option<Ordering>,
    /// Returns true if and only if the policy's filter excludes the current tag.
    pub current_excluded: bool,
    /// The policy, for messages (`semver:^1.0`).
    pub policy: String,
    /// A guard that refuses moving this reference, with its reason.
    pub blocked: Option<String>,
    /// How old the selected image is, when known.
    pub selected_age: Option<Duration>,
    /// The grace before a newer image missing from Git is an error.
    pub grace: Duration,
    /// Returns true if and only if the policy is the default one (not configured).
    pub default_policy: bool,
    /// Returns true if and only if that default was given with
    /// `--default-policy`, so `--apply` writes its drift.
    pub default_explicit: bool,
}

/// One reference's verdict and what to say about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Classified {
    /// The verdict.
    pub verdict: Verdict,
    /// Its severity.
    pub severity: Severity,
    /// One line saying why.
    pub message: String,
}

/// Classifies one reference. The checks run in a fixed order, so each
/// reference gets exactly one verdict: unchecked, missing-tag,
/// missing-platform (the tag in Git), nothing selected, up-to-date (with
/// missing-platform when a newer tag lacks the platform), ahead, blocked,
/// then behind or in-flight.
pub fn classify(f: &Facts) -> Classified {
    let done = |verdict, severity, message: String| Classified {
        verdict,
        severity,
        message,
    };
    if let Some((why, failed)) = &f.unchecked {
        let severity = if *failed {
            Severity::Error
        } else {
            Severity::Notice
        };
        return done(Verdict::Unchecked, severity, why.clone());
    }
    let current = f.current.as_deref().unwrap_or("");
    let shown = if current.is_empty() {
        f.current_digest.clone().unwrap_or_default()
    } else {
        current.to_owned()
    };
    if !current.is_empty() && !f.current_listed {
        return done(
            Verdict::MissingTag,
            Severity::Error,
            format!(
                "{}:{current} is not in the registry; a pod that pulls it gets ImagePullBackOff",
                f.image
            ),
        );
    }
    if !f.current_lacks.is_empty() {
        // The newest tag with the platform is older than Git's: a platform
        // filter must never turn into a downgrade (issue #11, the arm64
        // updater that undid the amd64 one).
        if let Some(t) = &f.selected.tag
            && t != current
            && f.order == Some(Ordering::Less)
        {
            return done(
                Verdict::Blocked,
                Severity::Error,
                format!(
                    "{}:{shown} lacks platform {} that the workload runs on, and the newest tag that has it, {t}, is older: moving back would be a downgrade, so it is not written; push {shown} for {} (or give the workload its own write-back path)",
                    f.image,
                    f.current_lacks.join(", "),
                    f.current_lacks.join(", ")
                ),
            );
        }
        let newest = match &f.selected.tag {
            Some(t) if t != current => format!("; the newest tag that has it is {t}"),
            _ => String::new(),
        };
        return done(
            Verdict::MissingPlatform,
            Severity::Error,
            format!(
                "{}:{shown} lacks platform {} that the workload runs on{newest}",
                f.image,
                f.current_lacks.join(", ")
            ),
        );
    }
    let Some(selected) = f.selected.tag.as_deref() else {
        if let Some((tag, lacks)) = f.selected.lacking.first() {
            return done(
                Verdict::MissingPlatform,
                Severity::Error,
                format!(
                    "policy {} would move {} to {tag}, which lacks platform {lacks}, and no tag it allows has the platform",
                    f.policy, f.image
                ),
            );
        }
        let why = f
            .selected
            .failure
            .clone()
            .unwrap_or_else(|| format!("policy {} selects no tag", f.policy));
        return done(Verdict::Unchecked, Severity::Warning, why);
    };
    let lacking_note = match f.selected.lacking.first() {
        Some((tag, lacks)) => format!(" ({tag} is newer but lacks platform {lacks})"),
        None => String::new(),
    };
    let same = match (&f.followed_digest, &f.current_digest) {
        // digest policy: the followed tag's digest is the target.
        (Some(want), Some(have)) => want == have,
        (Some(_), None) => false,
        (None, _) => selected == current,
    };
    if same {
        if let Some((tag, lacks)) = f.selected.lacking.first() {
            return done(
                Verdict::MissingPlatform,
                Severity::Error,
                format!(
                    "policy {} would move {} to {tag}, which lacks platform {lacks}; {shown} is the newest tag that has it",
                    f.policy, f.image
                ),
            );
        }
        return done(
            Verdict::UpToDate,
            Severity::Notice,
            format!("{shown} is what policy {} selects", f.policy),
        );
    }
    if f.followed_digest.is_none() {
        if f.current_excluded {
            return done(
                Verdict::Ahead,
                Severity::Warning,
                format!(
                    "{shown} is excluded by the policy's filter, so policy {} would move it to {selected}; a hand edit, or a policy that does not mean what its author thought",
                    f.policy
                ),
            );
        }
        match f.order {
            Some(Ordering::Less | Ordering::Equal) => {
                return done(
                    Verdict::Ahead,
                    Severity::Warning,
                    format!(
                        "{shown} ranks at or above {selected}, which policy {} selects{lacking_note}; not moved back",
                        f.policy
                    ),
                );
            }
            None if !current.is_empty() => {
                return done(
                    Verdict::Ahead,
                    Severity::Warning,
                    format!(
                        "policy {} cannot order {shown} against its choice {selected}; not moved (give the reference a policy that reads both)",
                        f.policy
                    ),
                );
            }
            _ => {}
        }
    }
    let target = match &f.followed_digest {
        Some(d) => format!("{selected}@{}", short_digest(d)),
        None => selected.to_owned(),
    };
    if let Some(why) = &f.blocked {
        return done(
            Verdict::Blocked,
            Severity::Warning,
            format!("{shown} → {target} is blocked: {why}"),
        );
    }
    if let Some(age) = f.selected_age
        && age < f.grace
    {
        return done(
            Verdict::InFlight,
            Severity::Notice,
            format!(
                "{target} was built {} ago, within the grace of {}; its deploy is probably on its way",
                human(age),
                show_duration(f.grace)
            ),
        );
    }
    if f.default_policy {
        let applied = if f.default_explicit {
            "given with --default-policy: --apply writes it"
        } else {
            "not configured: never applied unless --default-policy is given"
        };
        return done(
            Verdict::Behind,
            Severity::Notice,
            format!(
                "{shown} → {target} by the default policy {}{lacking_note} ({applied})",
                f.policy
            ),
        );
    }
    let age = match f.selected_age {
        Some(age) => format!(
            "{target} was built {} ago, past the grace of {}: a deploy was probably lost",
            human(age),
            show_duration(f.grace)
        ),
        None => format!("{target} is in the registry but not in Git"),
    };
    done(
        Verdict::Behind,
        Severity::Error,
        format!(
            "{shown} → {target} by policy {}{lacking_note}; {age}",
            f.policy
        ),
    )
}

/// `sha256:0123456789ab…`.
fn short_digest(d: &str) -> String {
    match d.get(..19) {
        Some(s) if s.len() < d.len() => format!("{s}…"),
        _ => d.to_owned(),
    }
}

/// `90s`, `15m`, `3h`, `2d`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..120 => format!("{s}s"),
        120..7200 => format!("{}m", s / 60),
        7200..172_800 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(current: &str, selected: &str) -> Facts {
        Facts {
            image: "ghcr.io/acme/app".into(),
            current: Some(current.into()),
            current_listed: true,
            selected: Selected {
                tag: Some(selected.into()),
                ..Selected::default()
            },
            order: Some(if current == selected {
                Ordering::Equal
            } else {
                Ordering::Greater
            }),
            policy: "semver:*".into(),
            grace: Duration::from_secs(900),
            ..Facts::default()
        }
    }

    fn verdict(f: &Facts) -> (Verdict, Severity) {
        let c = classify(f);
        (c.verdict, c.severity)
    }

    #[test]
    fn each_verdict_with_its_severity() {
        assert_eq!(
            verdict(&facts("v1", "v1")),
            (Verdict::UpToDate, Severity::Notice)
        );
        assert_eq!(
            verdict(&facts("v1", "v2")),
            (Verdict::Behind, Severity::Error)
        );
        let mut f = facts("v1", "v2");
        f.selected_age = Some(Duration::from_secs(60));
        assert_eq!(verdict(&f), (Verdict::InFlight, Severity::Notice));
        f.selected_age = Some(Duration::from_secs(86_400 * 3));
        let c = classify(&f);
        assert_eq!(c.verdict, Verdict::Behind);
        assert!(
            c.message.contains("built 3d ago") && c.message.contains("lost"),
            "{}",
            c.message
        );
        let mut f = facts("v3", "v2");
        f.order = Some(Ordering::Less);
        assert_eq!(verdict(&f), (Verdict::Ahead, Severity::Warning));
        let mut f = facts("v1", "v2");
        f.current_listed = false;
        assert_eq!(verdict(&f), (Verdict::MissingTag, Severity::Error));
        let mut f = facts("v1", "v2");
        f.current_lacks = vec!["linux/arm64".into()];
        let c = classify(&f);
        assert_eq!(c.verdict, Verdict::MissingPlatform);
        assert!(
            c.message.contains("the newest tag that has it is v2"),
            "{}",
            c.message
        );
        // The newest tag with the platform is older: never moved back.
        // See: issue #11.
        let mut f = facts("v1.2.0", "v1.1.0");
        f.order = Some(Ordering::Less);
        f.current_lacks = vec!["linux/arm64".into()];
        let c = classify(&f);
        assert_eq!((c.verdict, c.severity), (Verdict::Blocked, Severity::Error));
        assert!(
            c.message.contains("lacks platform linux/arm64")
                && c.message
                    .contains("the newest tag that has it, v1.1.0, is older")
                && c.message.contains("downgrade"),
            "{}",
            c.message
        );
        let mut f = facts("v1", "v2");
        f.blocked = Some("pinned by # gitops-bump:ignore".into());
        assert_eq!(verdict(&f), (Verdict::Blocked, Severity::Warning));
        let f = Facts {
            unchecked: Some(("a template".into(), false)),
            ..Facts::default()
        };
        assert_eq!(verdict(&f), (Verdict::Unchecked, Severity::Notice));
        let f = Facts {
            unchecked: Some(("registry unreachable".into(), true)),
            ..Facts::default()
        };
        assert_eq!(verdict(&f), (Verdict::Unchecked, Severity::Error));
        let mut f = facts("v1", "v2");
        f.default_policy = true;
        assert_eq!(verdict(&f), (Verdict::Behind, Severity::Notice));
        assert!(classify(&f).message.contains("never applied unless"));
        // Given explicitly, the message says it is applied.
        f.default_explicit = true;
        let c = classify(&f);
        assert_eq!((c.verdict, c.severity), (Verdict::Behind, Severity::Notice));
        assert!(
            c.message
                .contains("given with --default-policy: --apply writes it")
                && !c.message.contains("never applied"),
            "{}",
            c.message
        );
    }

    #[test]
    fn a_newer_tag_without_the_platform_is_named() {
        // On the newest tag that has the platform, while a newer one lacks it.
        let mut f = facts("v1.1", "v1.1");
        f.selected.lacking = vec![("v1.2".into(), "linux/arm64".into())];
        let c = classify(&f);
        assert_eq!(c.verdict, Verdict::MissingPlatform);
        assert!(
            c.message.contains(
                "v1.2, which lacks platform linux/arm64; v1.1 is the newest tag that has it"
            ),
            "{}",
            c.message
        );
        // Behind the newest that has it: move there, and say why not further.
        let mut f = facts("v1.0", "v1.1");
        f.selected.lacking = vec![("v1.2".into(), "linux/arm64".into())];
        let c = classify(&f);
        assert_eq!(c.verdict, Verdict::Behind);
        assert!(
            c.message
                .contains("v1.2 is newer but lacks platform linux/arm64"),
            "{}",
            c.message
        );
        // No allowed tag has it at all.
        let mut f = facts("v1.0", "v1.0");
        f.selected = Selected {
            tag: None,
            lacking: vec![("v1.2".into(), "linux/arm64".into())],
            ..Selected::default()
        };
        assert_eq!(verdict(&f).0, Verdict::MissingPlatform);
    }

    #[test]
    fn excluded_and_unorderable_current_tags_are_ahead_never_moved() {
        let mut f = facts("hotfix-1", "v2");
        f.current_excluded = true;
        assert_eq!(verdict(&f).0, Verdict::Ahead);
        let mut f = facts("main", "v2");
        f.order = None;
        assert_eq!(verdict(&f).0, Verdict::Ahead);
    }

    #[test]
    fn digest_policies_compare_digests() {
        let mut f = facts("latest", "latest");
        f.current_digest = Some("sha256:aaa".into());
        f.followed_digest = Some("sha256:aaa".into());
        f.order = None;
        assert_eq!(verdict(&f).0, Verdict::UpToDate);
        f.followed_digest = Some("sha256:bbb".into());
        assert_eq!(verdict(&f).0, Verdict::Behind);
    }
}

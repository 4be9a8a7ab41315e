//! What `sync` tracks: every image reference the engine finds, bound to
//! the [`Rule`] that governs it. Rules come from [`PolicyReader`]s (the
//! configuration file; Flux and Argo CD objects in the repository) and,
//! for references no reader claims, from the default policy. A reference
//! claimed by two configuration entries is a configuration error naming
//! both. Pure: everything is read from the manifests of one snapshot.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::config::{Config, Mode};
use crate::finding::{Finding, Kind, Location};
use crate::manifest::{Manifest, Shape, Site};
use crate::policy::{Policy, TagFilter};
use crate::policy::{Warning, WarningCode};
use crate::registry::Platform;

/// Where a reference's policy comes from (JSON `policy_source`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// An entry of `.gitops-bump.yaml`.
    Config,
    /// `--default-policy`: nothing else governs the reference.
    Default,
    /// A Flux `ImagePolicy`, through a setter marker.
    Flux,
    /// Argo CD Image Updater annotations or its `ImageUpdater` resource.
    Argo,
}

/// One policy that governs references.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Where it comes from.
    pub source: Source,
    /// How reports name it (`.gitops-bump.yaml:6 ghcr.io/acme/backend`,
    /// `flux-system/frontend`, `default`).
    pub label: String,
    /// Where it is written, when it is written somewhere.
    pub origin: Option<Location>,
    /// The policy.
    pub policy: Policy,
    /// Exclusions, filter and extract template.
    pub filter: TagFilter,
    /// Platforms every tag written must provide (empty: what the workload says).
    pub platforms: Vec<Platform>,
    /// How drift is fixed under `--apply`.
    pub mode: Mode,
    /// The grace before a newer image missing from Git is an error.
    pub grace: Option<Duration>,
    /// The only writer allowed to change what the rule governs.
    pub writer: Option<String>,
    /// Returns true if and only if `--apply` may write what it selects
    /// (configured rules; the default policy only when given explicitly).
    pub applicable: bool,
    /// The pull-request key of the references it governs: its entry, by
    /// what it governs (a configuration entry: its image and `files:`
    /// scope, never its line, so an edit above it keeps its branch).
    pub key: String,
    /// Write the index digest with the tag (`tag@sha256:…`) even where the
    /// reference pins none, wherever the site has a place for one (Flux
    /// `digestReflectionPolicy: IfNotPresent` or `Always`; Argo CD's
    /// `digest` strategy). See [`Rule::writes_digest`].
    pub digest: bool,
    /// Returns true if and only if a tag pushed again is drift: the digest
    /// of the selected tag is compared even when the tag is the one in Git
    /// (Flux `digestReflectionPolicy: Always`). With `IfNotPresent` a digest
    /// is written once and kept while the tag stays.
    pub follow_digest: bool,
    /// Why the references the rule claims cannot be checked, when they
    /// cannot (Argo CD Image Updater's `argocd` write-back keeps their state
    /// in the cluster, not in Git): they are reported `unchecked` with this
    /// reason and the registry is not asked about them.
    pub unchecked: Option<String>,
}

impl Rule {
    /// A rule that claims references it cannot check, for `why` (an
    /// object whose policy is invalid, a write-back Git does not see): they
    /// are reported `unchecked` instead of falling to the default policy.
    pub fn unchecking(
        source: Source,
        label: String,
        origin: Location,
        mode: Mode,
        why: String,
    ) -> Rule {
        Rule {
            source,
            key: label.clone(),
            label,
            origin: Some(origin),
            policy: Policy::NewestBuild,
            filter: TagFilter::pass_all(),
            platforms: Vec::new(),
            mode,
            grace: None,
            writer: None,
            applicable: false,
            digest: false,
            follow_digest: false,
            unchecked: Some(why),
        }
    }

    /// Returns true if and only if the rule pins the index digest in
    /// `site`: it writes digests ([`Rule::digest`]) and the site has a
    /// place for one (a whole reference, a digest field, or a kustomize or
    /// Helm map a digest field can be added to). A Flux `:tag` marker alone
    /// has none, so only its tag is written, as image-automation-controller
    /// does.
    pub fn writes_digest(&self, site: &Site) -> bool {
        self.digest
            && match &site.shape {
                Shape::Full { .. } => true,
                Shape::Split { digest, fill, .. } => {
                    digest.is_some() || fill.as_ref().is_some_and(|f| f.digest_key.is_some())
                }
            }
    }
}

/// A reference and what governs it.
#[derive(Clone, Debug)]
pub struct Tracked {
    /// Index into the manifests.
    pub manifest: usize,
    /// Index into that manifest's sites.
    pub site: usize,
    /// The rule that governs it; `None` when nothing can be checked.
    pub rule: Option<usize>,
    /// Why it cannot be checked: when `rule` is `None`, or when its rule
    /// cannot check what it governs ([`Rule::unchecked`]). Shared: a large
    /// repository repeats a few reasons over thousands of references.
    pub unchecked: Option<Arc<str>>,
}

/// A rule's claim on one reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claim {
    /// Index into the manifests.
    pub manifest: usize,
    /// Index into that manifest's sites.
    pub site: usize,
    /// Index into the rules.
    pub rule: usize,
}

/// A source of policies: reads the manifests (and its own objects among
/// them) and claims the references its rules govern.
pub trait PolicyReader {
    /// Adds its rules to `rules` and returns its claims, plus findings about
    /// its own objects (a marker naming a policy that does not exist).
    fn read(&self, manifests: &[Manifest], rules: &mut Vec<Rule>) -> (Vec<Claim>, Vec<Finding>);
}

/// The default policy for references nothing else governs.
#[derive(Clone, Debug)]
pub enum DefaultPolicy {
    /// The newest stable semver tag in the current tag's style and track
    /// ([`Policy::default_for`]).
    SameTrack,
    /// A given policy, keeping the current tag's track.
    Spec(Policy),
    /// `--default-policy none`: untracked references are unchecked.
    None,
}

/// Everything tracked in one snapshot.
#[derive(Clone, Debug, Default)]
pub struct Tracking {
    /// The rules, claimed by index.
    pub rules: Vec<Rule>,
    /// One entry per image reference, in manifest and site order.
    pub refs: Vec<Tracked>,
    /// Findings of the readers.
    pub findings: Vec<Finding>,
}

/// A configuration error: a reference governed by two entries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{file}:{line}: {image} is governed by two configuration entries, {first} and {second}; give them disjoint files: scopes"
)]
pub struct Conflict {
    /// The reference's file.
    pub file: String,
    /// Its line.
    pub line: usize,
    /// The image.
    pub image: String,
    /// The first entry.
    pub first: String,
    /// The second entry.
    pub second: String,
}

/// Binds every reference of `manifests` to its rule: the configuration's
/// entries first, then the other readers (Flux, Argo CD) for what the
/// configuration leaves, then `default` (`applicable` when the default was
/// given explicitly). `grace` and `mode` apply where a rule sets none.
pub fn track(
    manifests: &[Manifest],
    config: Option<&Config>,
    readers: &[&dyn PolicyReader],
    default: &DefaultPolicy,
    default_explicit: bool,
    mode: Mode,
) -> Result<Tracking, Conflict> {
    let mut t = Tracking::default();
    let mut owner: HashMap<(usize, usize), usize> = HashMap::new();
    if let Some(config) = config {
        let (claims, findings) = ConfigReader { config, mode }.read(manifests, &mut t.rules);
        t.findings.extend(findings);
        for c in claims {
            if let Some(&first) = owner.get(&(c.manifest, c.site)) {
                let m = &manifests[c.manifest];
                let site = &m.sites[c.site];
                let line = site.slots().first().map_or(1, |&n| m.node_position(n).0);
                return Err(Conflict {
                    file: m.path.clone(),
                    line,
                    image: m.image_of(site).name,
                    first: t.rules[first].label.clone(),
                    second: t.rules[c.rule].label.clone(),
                });
            }
            owner.insert((c.manifest, c.site), c.rule);
        }
    }
    for reader in readers {
        let (claims, findings) = reader.read(manifests, &mut t.rules);
        t.findings.extend(findings);
        for c in claims {
            owner.entry((c.manifest, c.site)).or_insert(c.rule);
        }
    }
    let mut defaults: HashMap<String, usize> = HashMap::new();
    let mut reasons: HashMap<String, Arc<str>> = HashMap::new();
    t.refs
        .reserve_exact(manifests.iter().map(|m| m.sites.len()).sum());
    for (mi, m) in manifests.iter().enumerate() {
        for (si, site) in m.sites.iter().enumerate() {
            let image = m.image_of(site);
            let rule = owner.get(&(mi, si)).copied();
            let mut tracked = Tracked {
                manifest: mi,
                site: si,
                rule,
                // A rule that cannot check what it governs says why.
                unchecked: rule.and_then(|r| t.rules[r].unchecked.as_deref().map(Arc::from)),
            };
            if tracked.rule.is_none() {
                if image.repository.is_none() {
                    tracked.unchecked = Some(Arc::from(format!(
                        "{:?} is not an image reference gitops-bump can read (a template?)",
                        image.name
                    )));
                } else {
                    match default_rule(default, image.tag.as_deref(), default_explicit, mode) {
                        Ok(rule) => {
                            let key = format!("{}|{:?}", rule.policy, rule.filter.track());
                            let index = *defaults.entry(key).or_insert_with(|| {
                                t.rules.push(rule);
                                t.rules.len() - 1
                            });
                            tracked.rule = Some(index);
                        }
                        Err(why) => {
                            let shared = reasons
                                .entry(why)
                                .or_insert_with_key(|k| Arc::from(k.as_str()));
                            tracked.unchecked = Some(Arc::clone(shared));
                        }
                    }
                }
            }
            t.refs.push(tracked);
        }
    }
    Ok(t)
}

/// The warnings of the selections made for a snapshot's rules, as
/// findings at each rule's origin (the ImagePolicy, the Application's
/// annotation, the configuration entry): once per rule and warning code,
/// in rule order. `selections` pairs a rule index with the warnings one of
/// its selections gave. Rules written nowhere (the default policy) are
/// skipped, and so are warnings about the run rather than the policy
/// (`candidate-cap`, `rate-limit-low`); `mutable-tag-ignored` is reported
/// only when a reference the rule governs holds that mutable tag, since
/// most registries push `latest` next to the versions a policy follows.
pub fn policy_warnings<'a>(
    tracking: &Tracking,
    manifests: &[Manifest],
    selections: impl IntoIterator<Item = (usize, &'a [Warning])>,
) -> Vec<Finding> {
    let holds_mutable = |rule: usize| {
        tracking.refs.iter().any(|t| {
            t.rule == Some(rule)
                && manifests
                    .get(t.manifest)
                    .and_then(|m| m.sites.get(t.site).map(|s| m.image_of(s)))
                    .and_then(|i| i.tag)
                    .is_some_and(|tag| crate::policy::order::is_mutable_tag(&tag))
        })
    };
    let mut seen: BTreeMap<(usize, &'static str), ()> = BTreeMap::new();
    let mut found: Vec<(usize, Finding)> = Vec::new();
    for (rule_index, warnings) in selections {
        let Some(rule) = tracking.rules.get(rule_index) else {
            continue;
        };
        let Some(origin) = &rule.origin else { continue };
        for w in warnings {
            let skip = match w.code {
                WarningCode::CandidateCap | WarningCode::RateLimitLow => true,
                WarningCode::MutableTagIgnored => !holds_mutable(rule_index),
                _ => false,
            };
            if skip || seen.insert((rule_index, w.code.as_str()), ()).is_some() {
                continue;
            }
            found.push((
                rule_index,
                Finding::warning(
                    Kind::Configuration,
                    Some(origin.clone()),
                    format!("{}: {w}", rule.label),
                ),
            ));
        }
    }
    found.sort_by_key(|(r, _)| *r);
    found.into_iter().map(|(_, f)| f).collect()
}

/// The configuration file as a policy reader: an entry claims every
/// reference to its repository in its `files:` scope.
struct ConfigReader<'a> {
    config: &'a Config,
    mode: Mode,
}

impl PolicyReader for ConfigReader<'_> {
    fn read(&self, manifests: &[Manifest], rules: &mut Vec<Rule>) -> (Vec<Claim>, Vec<Finding>) {
        let mut claims = Vec::new();
        for entry in &self.config.entries {
            let label = format!("{}:{} {}", self.config.path, entry.line, entry.name);
            // The pull-request key names the entry by what it governs, not
            // by its line, so editing the file above it keeps its branch.
            let key = match &entry.files {
                Some(scope) => format!("{} files={}", entry.name, scope.patterns.join(",")),
                None => entry.name.clone(),
            };
            let mut first = None;
            for (mi, m) in manifests.iter().enumerate() {
                if entry.files.as_ref().is_some_and(|s| !s.contains(&m.path)) {
                    continue;
                }
                for (si, site) in m.sites.iter().enumerate() {
                    let image = m.image_of(site);
                    if image.repository.as_ref() != Some(&entry.repository) {
                        continue;
                    }
                    let index = *first.get_or_insert_with(|| {
                        rules.push(Rule {
                            source: Source::Config,
                            label: label.clone(),
                            origin: Some(Location::line(&self.config.path, entry.line)),
                            policy: entry.policy.clone(),
                            filter: entry.filter.clone(),
                            platforms: entry.platforms.clone(),
                            mode: entry.mode.unwrap_or(self.mode),
                            grace: entry.grace,
                            writer: entry.writer.clone(),
                            applicable: true,
                            key: key.clone(),
                            digest: false,
                            follow_digest: false,
                            unchecked: None,
                        });
                        rules.len() - 1
                    });
                    claims.push(Claim {
                        manifest: mi,
                        site: si,
                        rule: index,
                    });
                }
            }
        }
        (claims, Vec::new())
    }
}

/// The default rule for a reference whose tag is `current`.
fn default_rule(
    default: &DefaultPolicy,
    current: Option<&str>,
    explicit: bool,
    mode: Mode,
) -> Result<Rule, String> {
    let current =
        current.ok_or_else(|| {
        "no tag to compare (a digest-only reference, or a name a kustomize images: entry sets) and no policy governs it".to_owned()
    })?;
    let (policy, filter) = match default {
        DefaultPolicy::None => return Err("no policy applies (--default-policy none)".into()),
        DefaultPolicy::SameTrack => Policy::default_for(current).ok_or_else(|| {
            format!("no policy applies and {current:?} is not a semver tag; configure one in .gitops-bump.yaml")
        })?,
        DefaultPolicy::Spec(p) => (
            p.clone(),
            TagFilter::default()
                .on_track_of(current)
                .unwrap_or_default(),
        ),
    };
    Ok(Rule {
        source: Source::Default,
        label: "default".into(),
        origin: None,
        policy,
        filter,
        platforms: Vec::new(),
        mode,
        grace: None,
        writer: None,
        applicable: explicit,
        key: "default".into(),
        digest: false,
        follow_digest: false,
        unchecked: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::config;

    fn manifests(files: &[(&str, &str)]) -> Vec<Manifest> {
        files
            .iter()
            .map(|(p, t)| Manifest::parse(p, (*t).to_owned()).expect("parses"))
            .collect()
    }

    const DEV: &str = "containers:\n- image: ghcr.io/acme/app:v1.0.0\n- image: nginx:1.25-alpine\n- image: ghcr.io/acme/app:latest\n";
    const PROD: &str = "containers:\n- image: ghcr.io/acme/app:v0.9.0\n";

    #[test]
    fn entries_claim_their_scope_and_the_rest_gets_the_default() {
        let ms = manifests(&[("dev/a.yaml", DEV), ("prod/a.yaml", PROD)]);
        let cfg = config::parse(
            ".gitops-bump.yaml",
            "images:\n  - name: ghcr.io/acme/app\n    policy: semver:^1\n    files: ['dev/**']\n",
        )
        .expect("valid");
        let t = track(
            &ms,
            Some(&cfg),
            &[],
            &DefaultPolicy::SameTrack,
            false,
            Mode::Commit,
        )
        .expect("no conflict");
        let source = |mi: usize, si: usize| {
            let r = t
                .refs
                .iter()
                .find(|r| r.manifest == mi && r.site == si)
                .expect("tracked");
            r.rule.map(|i| (t.rules[i].source, t.rules[i].applicable))
        };
        assert_eq!(source(0, 0), Some((Source::Config, true)));
        assert_eq!(
            source(0, 1),
            Some((Source::Default, false)),
            "nginx: default"
        );
        assert_eq!(
            source(0, 2),
            Some((Source::Config, true)),
            "latest is the entry's too"
        );
        assert_eq!(
            source(1, 0),
            Some((Source::Default, false)),
            "prod is out of scope"
        );
        let t = track(&ms, None, &[], &DefaultPolicy::None, true, Mode::Commit).expect("ok");
        assert!(
            t.refs
                .iter()
                .all(|r| r.rule.is_none() && r.unchecked.is_some())
        );
    }

    #[test]
    fn two_entries_on_one_reference_are_a_conflict_naming_both() {
        let ms = manifests(&[("dev/a.yaml", DEV)]);
        let cfg = config::parse(
            "c.yaml",
            "images:\n  - name: ghcr.io/acme/app\n    policy: semver:*\n  - name: ghcr.io/acme/app\n    policy: semver:*\n    files: ['dev/*']\n",
        )
        .expect("valid");
        let e = track(
            &ms,
            Some(&cfg),
            &[],
            &DefaultPolicy::SameTrack,
            false,
            Mode::Commit,
        )
        .expect_err("conflict");
        assert_eq!((e.file.as_str(), e.line), ("dev/a.yaml", 2));
        assert!(
            e.to_string()
                .contains("c.yaml:2 ghcr.io/acme/app and c.yaml:4 ghcr.io/acme/app"),
            "{e}"
        );
    }

    #[test]
    fn default_rules_are_shared_per_track() {
        let ms = manifests(&[(
            "a.yaml",
            "containers:\n- image: nginx:1.25-alpine\n- image: nginx:1.24-alpine\n- image: nginx:1.25.3\n- image: app:latest\n",
        )]);
        let t = track(
            &ms,
            None,
            &[],
            &DefaultPolicy::SameTrack,
            false,
            Mode::Commit,
        )
        .expect("ok");
        assert_eq!(t.refs[0].rule, t.refs[1].rule, "same track, same rule");
        assert_ne!(t.refs[0].rule, t.refs[2].rule, "another track");
        assert!(
            t.refs[3]
                .unchecked
                .as_deref()
                .is_some_and(|u| u.contains("\"latest\" is not a semver tag"))
        );
    }

    /// A reader whose rule cannot check what it claims.
    struct Unchecking;

    impl PolicyReader for Unchecking {
        fn read(
            &self,
            manifests: &[Manifest],
            rules: &mut Vec<Rule>,
        ) -> (Vec<Claim>, Vec<Finding>) {
            let mut rule = default_rule(
                &DefaultPolicy::SameTrack,
                Some("v1.0.0"),
                true,
                Mode::Commit,
            )
            .expect("a semver tag");
            rule.origin = Some(Location::line("app.yaml", 7));
            rule.label = "Application argocd/app".into();
            rule.unchecked = Some("the live Application holds it".into());
            rules.push(rule);
            let claims = (0..manifests[0].sites.len())
                .map(|site| Claim {
                    manifest: 0,
                    site,
                    rule: rules.len() - 1,
                })
                .collect();
            (claims, Vec::new())
        }
    }

    #[test]
    fn an_unchecking_rule_keeps_its_references_and_says_why() {
        let ms = manifests(&[("dev/a.yaml", DEV)]);
        let t = track(
            &ms,
            None,
            &[&Unchecking],
            &DefaultPolicy::SameTrack,
            false,
            Mode::Commit,
        )
        .expect("ok");
        assert!(t.refs.iter().all(|r| r.rule == Some(0)
            && r.unchecked.as_deref() == Some("the live Application holds it")));
    }

    #[test]
    fn policy_warnings_are_reported_once_per_rule_at_its_origin() {
        let ms = manifests(&[("dev/a.yaml", DEV)]);
        let mut t = track(
            &ms,
            None,
            &[&Unchecking],
            &DefaultPolicy::SameTrack,
            false,
            Mode::Commit,
        )
        .expect("ok");
        t.rules[0].unchecked = None;
        let w = |code, message: &str| Warning {
            code,
            message: message.into(),
        };
        let desc = [
            w(WarningCode::DescSelectsOldest, "oldest"),
            w(WarningCode::CandidateCap, "cap"),
        ];
        let mutable = [w(WarningCode::MutableTagIgnored, "latest ignored")];
        let found = policy_warnings(&t, &ms, [(0, &desc[..]), (0, &desc[..]), (0, &mutable[..])]);
        let messages: Vec<String> = found
            .iter()
            .map(|f| format!("{:?} {}", f.at(), f.message))
            .collect();
        // One desc warning (not two), no run-level cap; `latest` is held by
        // a reference of the rule, so the mutable-tag warning is kept.
        assert_eq!(
            messages,
            [
                "Some(\"app.yaml:7\") Application argocd/app: oldest [desc-selects-oldest]",
                "Some(\"app.yaml:7\") Application argocd/app: latest ignored [mutable-tag-ignored]",
            ]
        );
        // Rules written nowhere say nothing.
        t.rules[0].origin = None;
        assert!(policy_warnings(&t, &ms, [(0, &desc[..])]).is_empty());
    }
}

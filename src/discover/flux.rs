//! Flux image automation as a policy source: the `ImageRepository`,
//! `ImagePolicy` and `ImageUpdateAutomation` objects in the repository
//! (`image.toolkit.fluxcd.io` `v1beta2` and `v1`), and every setter marker
//! `# {"$imagepolicy": "NAMESPACE:NAME[:tag|:name|:digest]"}` that names
//! one of those policies. A marked reference is governed by its policy,
//! selected the way image-reflector-controller selects
//! ([`Policy::from_flux`]), and written where image-automation-controller
//! writes.
//!
//! Field names follow the upstream CRDs: `ImageRepository.spec.{image,
//! exclusionList, insecure, provider, secretRef, certSecretRef}`,
//! `ImagePolicy.spec.{imageRepositoryRef.{name, namespace}, policy,
//! filterTags, digestReflectionPolicy}`, `ImageUpdateAutomation.spec.{update.path,
//! git.push.branch, git.checkout.ref.branch}`.
//!
//! Several clusters in one repository may define a policy of the same
//! name (`clusters/dev/…` and `clusters/prod/…`): a marker then binds to
//! the policy of the cluster that deploys its file (a Flux `Kustomization`
//! whose `spec.path` holds it, or a `HelmRelease` that names it in
//! `valuesFiles` or as its chart). A cluster is the directory above a
//! `flux-system/` directory. Pure: reads the parsed manifests only.

use std::collections::{BTreeMap, BTreeSet};

use super::config::Mode;
use super::tracked::{Claim, PolicyReader, Rule, Source};
use crate::finding::{Finding, Kind, Location};
use crate::manifest::Manifest;
use crate::manifest::tree::{NodeId, Stream};
use crate::policy::Policy;
use crate::policy::flux::{FilterTags, ImagePolicySpec, OrderPolicy, PolicyChoice, SemVerPolicy};
use crate::reference::Reference;

/// The Flux objects of a repository.
#[derive(Clone, Debug, Default)]
pub struct Objects {
    /// `ImageRepository` objects.
    pub repositories: Vec<ImageRepository>,
    /// `ImagePolicy` objects.
    pub policies: Vec<ImagePolicy>,
    /// `ImageUpdateAutomation` objects.
    pub automations: Vec<Automation>,
    /// Which clusters deploy which paths: (cluster, path prefix or file).
    pub deploys: Vec<(String, String)>,
}

/// An `ImageRepository`.
#[derive(Clone, Debug)]
pub struct ImageRepository {
    /// `metadata.namespace` (`None` when unset).
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: String,
    /// `spec.image`.
    pub image: String,
    /// `spec.exclusionList`; `None` when absent (then Flux's default,
    /// `^.*\.sig$`, applies), `Some(vec![])` when written empty (the API
    /// server defaults only absent fields, so nothing is excluded).
    pub exclusions: Option<Vec<String>>,
    /// `spec.insecure`.
    pub insecure: bool,
    /// `spec.provider`, `spec.secretRef.name`, `spec.certSecretRef.name`,
    /// when set: credentials only the cluster has.
    pub credentials: Vec<String>,
    /// Where it is written.
    pub at: Location,
    /// Its cluster directory (`clusters/dev`), or `""`.
    pub cluster: String,
}

/// An `ImagePolicy`.
#[derive(Clone, Debug)]
pub struct ImagePolicy {
    /// `metadata.namespace`.
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: String,
    /// `spec.imageRepositoryRef.namespace` (default: the policy's own).
    pub repository_namespace: Option<String>,
    /// `spec.imageRepositoryRef.name`.
    pub repository: String,
    /// `spec.policy` and `spec.filterTags`.
    pub spec: ImagePolicySpec,
    /// `spec.digestReflectionPolicy` is `IfNotPresent` or `Always`.
    pub reflects_digest: bool,
    /// `spec.digestReflectionPolicy` as written (`Never` when absent).
    pub reflection: Reflection,
    /// Where it is written.
    pub at: Location,
    /// Its cluster directory, or `""`.
    pub cluster: String,
}

/// `ImagePolicy.spec.digestReflectionPolicy`: whether the selected tag's
/// digest is written with it, and when it is looked up again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reflection {
    /// No digest (the default).
    #[default]
    Never,
    /// The digest is written once for a tag and kept while the tag stays.
    IfNotPresent,
    /// The digest is looked up at every interval: a tag pushed again moves.
    Always,
}

/// An `ImageUpdateAutomation`.
#[derive(Clone, Debug)]
pub struct Automation {
    /// `metadata.name`.
    pub name: String,
    /// `spec.update.path`, without a leading `./` (`""`: the whole repository).
    pub path: String,
    /// `spec.git.push.branch`, when it pushes to another branch.
    pub push_branch: Option<String>,
    /// `spec.git.checkout.ref.branch`.
    pub checkout_branch: Option<String>,
    /// Where it is written.
    pub at: Location,
    /// Its cluster directory, or `""`.
    pub cluster: String,
}

impl Objects {
    /// Reads every Flux object in `manifests`.
    pub fn read(manifests: &[Manifest]) -> Objects {
        let clusters: BTreeSet<String> = manifests
            .iter()
            .filter_map(|m| {
                m.path
                    .split_once("/flux-system/")
                    .map(|(c, _)| c.to_owned())
            })
            .collect();
        let cluster_of = |path: &str| -> String {
            clusters
                .iter()
                .filter(|c| path.starts_with(&format!("{c}/")))
                .max_by_key(|c| c.len())
                .cloned()
                .unwrap_or_default()
        };
        let mut out = Objects::default();
        for m in manifests {
            let s = &m.stream;
            for root in s.docs.iter().flatten().copied() {
                let api = s.get_str(root, "apiVersion").unwrap_or_default();
                let kind = s.get_str(root, "kind").unwrap_or_default();
                let meta = s.get(root, "metadata");
                let name = meta.and_then(|m| s.get_str(m, "name")).unwrap_or_default();
                let namespace = meta
                    .and_then(|m| s.get_str(m, "namespace"))
                    .map(str::to_owned);
                let spec = s.get(root, "spec");
                let at = Location::line(&m.path, s.line(root));
                let cluster = cluster_of(&m.path);
                let field = |path: &[&str]| -> Option<String> {
                    let mut node = spec?;
                    for key in path {
                        node = s.get(node, key)?;
                    }
                    s.scalar(s.resolve(node)).map(str::to_owned)
                };
                if api.starts_with("image.toolkit.fluxcd.io/") {
                    match kind {
                        "ImageRepository" => out.repositories.push(ImageRepository {
                            namespace,
                            name: name.to_owned(),
                            image: field(&["image"]).unwrap_or_default(),
                            exclusions: spec
                                .and_then(|sp| s.get(sp, "exclusionList"))
                                .filter(|&l| !s.is_null(l))
                                .map(|l| strings(s, l)),
                            insecure: field(&["insecure"]).as_deref() == Some("true"),
                            credentials: [
                                field(&["provider"])
                                    .filter(|p| p != "generic")
                                    .map(|p| format!("spec.provider {p}")),
                                field(&["secretRef", "name"])
                                    .map(|n| format!("spec.secretRef {n}")),
                                field(&["certSecretRef", "name"])
                                    .map(|n| format!("spec.certSecretRef {n}")),
                            ]
                            .into_iter()
                            .flatten()
                            .collect(),
                            at,
                            cluster,
                        }),
                        "ImagePolicy" => out.policies.push(ImagePolicy {
                            namespace,
                            name: name.to_owned(),
                            repository_namespace: field(&["imageRepositoryRef", "namespace"]),
                            repository: field(&["imageRepositoryRef", "name"]).unwrap_or_default(),
                            spec: ImagePolicySpec {
                                policy: PolicyChoice {
                                    semver: field(&["policy", "semver", "range"])
                                        .map(|range| SemVerPolicy { range }),
                                    alphabetical: spec
                                        .and_then(|sp| s.get(sp, "policy"))
                                        .and_then(|p| s.get(p, "alphabetical"))
                                        .map(|_| OrderPolicy {
                                            order: field(&["policy", "alphabetical", "order"])
                                                .unwrap_or_default(),
                                        }),
                                    numerical: spec
                                        .and_then(|sp| s.get(sp, "policy"))
                                        .and_then(|p| s.get(p, "numerical"))
                                        .map(|_| OrderPolicy {
                                            order: field(&["policy", "numerical", "order"])
                                                .unwrap_or_default(),
                                        }),
                                },
                                filter_tags: spec.and_then(|sp| s.get(sp, "filterTags")).map(
                                    |_| FilterTags {
                                        pattern: field(&["filterTags", "pattern"])
                                            .unwrap_or_default(),
                                        extract: field(&["filterTags", "extract"])
                                            .unwrap_or_default(),
                                    },
                                ),
                            },
                            reflects_digest: matches!(
                                field(&["digestReflectionPolicy"]).as_deref(),
                                Some("IfNotPresent" | "Always")
                            ),
                            reflection: match field(&["digestReflectionPolicy"]).as_deref() {
                                Some("IfNotPresent") => Reflection::IfNotPresent,
                                Some("Always") => Reflection::Always,
                                _ => Reflection::Never,
                            },
                            at,
                            cluster,
                        }),
                        "ImageUpdateAutomation" => out.automations.push(Automation {
                            name: name.to_owned(),
                            path: field(&["update", "path"])
                                .unwrap_or_default()
                                .trim_start_matches("./")
                                .trim_end_matches('/')
                                .to_owned(),
                            push_branch: field(&["git", "push", "branch"]),
                            checkout_branch: field(&["git", "checkout", "ref", "branch"]),
                            at,
                            cluster,
                        }),
                        _ => {}
                    }
                } else if api.starts_with("kustomize.toolkit.fluxcd.io/") && kind == "Kustomization"
                {
                    if let Some(path) = field(&["path"]) {
                        out.deploys.push((cluster, clean(&path)));
                    }
                } else if api.starts_with("helm.toolkit.fluxcd.io/") && kind == "HelmRelease" {
                    if let Some(chart) = field(&["chart", "spec", "chart"]) {
                        out.deploys.push((cluster.clone(), clean(&chart)));
                    }
                    let files = spec
                        .and_then(|sp| s.get(sp, "chart"))
                        .and_then(|c| s.get(c, "spec"))
                        .and_then(|c| s.get(c, "valuesFiles"))
                        .map(|l| strings(s, l))
                        .unwrap_or_default();
                    for f in files {
                        out.deploys.push((cluster.clone(), clean(&f)));
                    }
                }
            }
        }
        out
    }

    /// The clusters that deploy `path` most specifically: a `HelmRelease`
    /// naming the file in `valuesFiles` beats one whose chart directory
    /// holds it, and a longer `Kustomization` path beats a shorter one.
    fn clusters_of(&self, path: &str) -> BTreeSet<&str> {
        let score = |p: &str| -> Option<usize> {
            if path == p {
                Some(usize::MAX)
            } else if path.starts_with(&format!("{p}/")) || p.is_empty() {
                Some(p.len())
            } else {
                None
            }
        };
        let best = self.deploys.iter().filter_map(|(_, p)| score(p)).max();
        self.deploys
            .iter()
            .filter(|(_, p)| best.is_some() && score(p) == best)
            .map(|(c, _)| c.as_str())
            .collect()
    }

    /// The policy a marker naming `ns:name` in `file` means: the only one
    /// of that name, or the one of the cluster that deploys `file`.
    fn policy(&self, marker: &str, file: &str) -> Option<&ImagePolicy> {
        let (ns, name) = marker.split_once(':').unwrap_or(("", marker));
        let named: Vec<&ImagePolicy> = self
            .policies
            .iter()
            .filter(|p| p.name == name && p.namespace.as_deref().is_none_or(|n| n == ns))
            .collect();
        if named.len() <= 1 {
            return named.first().copied();
        }
        let clusters = self.clusters_of(file);
        named
            .iter()
            .find(|p| clusters.contains(p.cluster.as_str()))
            .or(named.first())
            .copied()
    }

    /// The repository `policy` points at.
    fn repository(&self, policy: &ImagePolicy) -> Option<&ImageRepository> {
        let ns = policy
            .repository_namespace
            .as_ref()
            .or(policy.namespace.as_ref());
        let candidates: Vec<&ImageRepository> = self
            .repositories
            .iter()
            .filter(|r| {
                r.name == policy.repository
                    && (ns.is_none() || r.namespace.as_ref() == ns || r.namespace.is_none())
            })
            .collect();
        candidates
            .iter()
            .find(|r| r.cluster == policy.cluster)
            .or(candidates.first())
            .copied()
    }

    /// The automation whose `spec.update.path` covers `file`, if any.
    pub fn automation_of(&self, file: &str) -> Option<&Automation> {
        self.automations
            .iter()
            .filter(|a| {
                a.path.is_empty() || file == a.path || file.starts_with(&format!("{}/", a.path))
            })
            .max_by_key(|a| a.path.len())
    }

    /// Registry hosts an `ImageRepository` allows plain HTTP for.
    pub fn insecure_hosts(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .repositories
            .iter()
            .filter(|r| r.insecure)
            .filter_map(|r| Reference::parse(&r.image).ok())
            .map(|r| r.repository().domain().to_owned())
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// Names the sites of `:tag` and `:digest` markers that have no image name
/// in their file (a HelmRelease `image.tag` with a marker), from their
/// policy's `ImageRepository.spec.image`.
pub fn name_markers(objects: &Objects, manifests: &mut [Manifest]) {
    for m in manifests.iter_mut() {
        let policies: BTreeSet<String> = m.markers.iter().map(|k| k.policy.clone()).collect();
        for marker in policies {
            let image = objects
                .policy(&marker, &m.path)
                .and_then(|p| objects.repository(p))
                .map(|r| r.image.clone());
            if let Some(image) = image {
                m.name_policy(&marker, &image);
            }
        }
    }
}

/// Flux's objects as a [`PolicyReader`]: every marked site is claimed by
/// its `ImagePolicy`.
///
/// `ImageUpdateAutomation.spec.update.path` is the scope of the markers:
/// image-automation-controller writes only the files under the path of an
/// automation. When the repository holds automations, a marker outside
/// every automation's path is still checked against its policy, but its
/// rule is `report` only (never written, since Flux would never write it)
/// and a notice at the marker says so. When the repository holds no
/// automation at all (it may live in another repository), every marker is
/// in scope.
pub struct FluxReader<'a> {
    /// The objects read from the repository.
    pub objects: &'a Objects,
    /// The write mode (`--pull-request` or not).
    pub mode: Mode,
}

impl Objects {
    /// The rule `policy` makes (`mode` for how it writes; `in_scope` when an
    /// automation writes the files it governs, `writer` the automation's
    /// writer then), or the finding that says why it makes none.
    pub fn rule(&self, policy: &ImagePolicy, mode: Mode, in_scope: bool) -> Result<Rule, Finding> {
        let repository = self.repository(policy);
        let exclusions = repository.and_then(|r| r.exclusions.clone());
        let made = Policy::from_flux(&policy.spec, exclusions.as_deref().unwrap_or(&[])).and_then(
            |(p, f)| match &exclusions {
                // Written empty: nothing is excluded, not even signatures.
                Some(list) if list.is_empty() => Ok((p, f.with_exclusions(&[])?)),
                _ => Ok((p, f)),
            },
        );
        let (p, filter) = made.map_err(|e| {
            Finding::error(
                Kind::Configuration,
                Some(policy.at.clone()),
                format!("ImagePolicy {}: {e}", policy.name),
            )
        })?;
        let label = format!(
            "ImagePolicy {}/{} ({}:{})",
            policy.namespace.as_deref().unwrap_or("default"),
            policy.name,
            policy.at.file,
            policy.at.line.unwrap_or(1)
        );
        Ok(Rule {
            source: Source::Flux,
            label: label.clone(),
            origin: Some(policy.at.clone()),
            policy: p,
            filter,
            platforms: Vec::new(),
            mode: if in_scope { mode } else { Mode::Report },
            grace: None,
            writer: (in_scope && !self.automations.is_empty()).then(|| "flux".to_owned()),
            applicable: true,
            // By name, not line: an edit above the object keeps its branch.
            key: if in_scope {
                format!(
                    "ImagePolicy {}/{}",
                    policy.namespace.as_deref().unwrap_or("default"),
                    policy.name
                )
            } else {
                format!("{label} outside every update.path")
            },
            digest: policy.reflects_digest,
            follow_digest: policy.reflection == Reflection::Always,
            unchecked: None,
        })
    }

    /// Returns true if and only if image-automation-controller writes
    /// `file`: an automation's `spec.update.path` holds it, or the
    /// repository holds no automation (then it is somewhere else).
    pub fn in_scope(&self, file: &str) -> bool {
        self.automations.is_empty() || self.automation_of(file).is_some()
    }

    /// The `ImagePolicy` named `name` (`NAME` or `NAMESPACE/NAME`; any when
    /// `None` and there is exactly one), its rule and its image
    /// (`ImageRepository.spec.image`), for `explain --from`.
    pub fn explain(&self, name: Option<&str>) -> Result<(String, Rule), String> {
        let found: Vec<&ImagePolicy> = self
            .policies
            .iter()
            .filter(|p| match name {
                None => true,
                Some(n) => match n.split_once('/') {
                    Some((ns, n)) => p.name == n && p.namespace.as_deref() == Some(ns),
                    None => p.name == n,
                },
            })
            .collect();
        let names = || {
            self.policies
                .iter()
                .map(|p| p.name.clone())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let policy = match (found.as_slice(), name) {
            ([one], _) => *one,
            ([], Some(n)) => {
                return Err(format!(
                    "no ImagePolicy named {n:?} (it holds: {})",
                    names()
                ));
            }
            ([], None) => return Err("no ImagePolicy in it".into()),
            (_, _) => {
                return Err(format!(
                    "it holds several ImagePolicies ({}); name one with --alias NAME",
                    names()
                ));
            }
        };
        let repository = self.repository(policy).ok_or_else(|| {
            format!(
                "ImagePolicy {} names ImageRepository {:?}, which is neither in the file nor in its directory",
                policy.name, policy.repository
            )
        })?;
        let rule = self
            .rule(policy, Mode::Report, true)
            .map_err(|f| f.message)?;
        Ok((repository.image.clone(), rule))
    }
}

impl PolicyReader for FluxReader<'_> {
    fn read(&self, manifests: &[Manifest], rules: &mut Vec<Rule>) -> (Vec<Claim>, Vec<Finding>) {
        let mut claims = Vec::new();
        let mut findings = Vec::new();
        // (cluster, namespace, name, in scope) → rule.
        let mut made: BTreeMap<(String, String, String, bool), usize> = BTreeMap::new();
        for repo in &self.objects.repositories {
            if !repo.credentials.is_empty() {
                findings.push(Finding::notice(
                    Kind::Configuration,
                    Some(repo.at.clone()),
                    format!(
                        "ImageRepository {} uses {}, which only the cluster can read; give gitops-bump credentials for {} with --registry-auth HOST=USER:ENV_VAR, a docker config (DOCKER_CONFIG), or GITHUB_TOKEN for ghcr.io",
                        repo.name,
                        repo.credentials.join(" and "),
                        Reference::parse(&repo.image).map(|r| r.repository().domain().to_owned()).unwrap_or_else(|_| repo.image.clone())
                    ),
                ));
            }
        }
        for a in &self.objects.automations {
            if let Some(push) = &a.push_branch
                && a.checkout_branch.as_ref() != Some(push)
            {
                findings.push(Finding::notice(
                    Kind::Configuration,
                    Some(a.at.clone()),
                    format!(
                        "ImageUpdateAutomation {} pushes its updates to branch {push}, not the branch it checks out; compare that branch (--branch {push}) to see what Flux wrote",
                        a.name
                    ),
                ));
            }
        }
        for (mi, m) in manifests.iter().enumerate() {
            let mut reported: BTreeSet<String> = BTreeSet::new();
            let in_scope = self.objects.in_scope(&m.path);
            for marker in &m.markers {
                let exists = self.objects.policy(&marker.policy, &m.path).is_some();
                if !reported.insert(marker.policy.clone()) {
                    continue;
                }
                let line = m.stream.line(marker.node);
                if !exists {
                    findings.push(Finding::error(
                        Kind::Configuration,
                        Some(Location::line(&m.path, line)),
                        format!(
                            "the setter marker names ImagePolicy {}, and the repository holds no ImagePolicy of that name",
                            marker.policy
                        ),
                    ));
                } else if !in_scope {
                    let paths: Vec<String> = self
                        .objects
                        .automations
                        .iter()
                        .map(|a| {
                            format!(
                                "{} ({})",
                                a.name,
                                if a.path.is_empty() { "." } else { &a.path }
                            )
                        })
                        .collect();
                    findings.push(Finding::notice(
                        Kind::Configuration,
                        Some(Location::line(&m.path, line)),
                        format!(
                            "the setter marker for ImagePolicy {} is outside the spec.update.path of every ImageUpdateAutomation ({}), so Flux never writes it; it is checked but not written",
                            marker.policy,
                            paths.join(", ")
                        ),
                    ));
                }
            }
            for (si, site) in m.sites.iter().enumerate() {
                let Some(marker) = &site.marker else { continue };
                let Some(policy) = self.objects.policy(marker, &m.path) else {
                    continue;
                };
                let key = (
                    policy.cluster.clone(),
                    policy.namespace.clone().unwrap_or_default(),
                    policy.name.clone(),
                    in_scope,
                );
                let index = *made.entry(key).or_insert_with(|| {
                    if self.objects.repository(policy).is_none() {
                        findings.push(Finding::notice(
                            Kind::Configuration,
                            Some(policy.at.clone()),
                            format!(
                                "ImagePolicy {} names ImageRepository {:?}, which the repository does not hold; the image is read from the marked field and Flux's default exclusionList (^.*\\.sig$) is assumed",
                                policy.name, policy.repository
                            ),
                        ));
                    }
                    let rule = self
                        .objects
                        .rule(policy, self.mode, in_scope)
                        .unwrap_or_else(|f| {
                            // Its markers are unchecked, not left to the default policy.
                            let why = f.message.clone();
                            findings.push(f);
                            Rule::unchecking(
                                Source::Flux,
                                format!("ImagePolicy {}", policy.name),
                                policy.at.clone(),
                                Mode::Report,
                                why,
                            )
                        });
                    rules.push(rule);
                    rules.len() - 1
                });
                claims.push(Claim {
                    manifest: mi,
                    site: si,
                    rule: index,
                });
            }
        }
        (claims, findings)
    }
}

/// A list of scalars.
fn strings(s: &Stream, list: NodeId) -> Vec<String> {
    s.items(s.resolve(list))
        .iter()
        .filter_map(|&i| s.scalar(s.resolve(i)).map(str::to_owned))
        .collect()
}

/// `./apps/x/` → `apps/x`.
fn clean(path: &str) -> String {
    path.trim_start_matches("./")
        .trim_end_matches('/')
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLUSTER: &str = "\
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImageRepository
metadata:
  name: app
  namespace: flux-system
spec:
  image: ghcr.io/acme/app
  insecure: true
  secretRef:
    name: ghcr-auth
---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImagePolicy
metadata:
  name: app
  namespace: flux-system
spec:
  imageRepositoryRef:
    name: app
  filterTags:
    pattern: '^main-(?P<ts>[0-9]+)$'
    extract: '$ts'
  policy:
    numerical:
      order: asc
  digestReflectionPolicy: Always
---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImageUpdateAutomation
metadata:
  name: fleet
  namespace: flux-system
spec:
  git:
    checkout:
      ref:
        branch: main
    push:
      branch: flux-updates
  update:
    path: ./apps
";

    fn manifests(files: &[(&str, &str)]) -> Vec<Manifest> {
        files
            .iter()
            .map(|(p, t)| Manifest::parse(p, (*t).to_owned()).expect("parses"))
            .collect()
    }

    #[test]
    fn reads_every_field_and_binds_markers() {
        let mut ms = manifests(&[
            ("clusters/dev/flux-system/images.yaml", CLUSTER),
            (
                "apps/a/values.yaml",
                "image:\n  tag: main-100 # {\"$imagepolicy\": \"flux-system:app:tag\"}\n",
            ),
            (
                "apps/b.yaml",
                "containers:\n- image: ghcr.io/acme/app:main-1 # {\"$imagepolicy\": \"flux-system:nope\"}\n",
            ),
        ]);
        let objects = Objects::read(&ms);
        assert_eq!(objects.insecure_hosts(), vec!["ghcr.io".to_owned()]);
        assert!(objects.policies[0].reflects_digest);
        assert_eq!(objects.automations[0].path, "apps");
        name_markers(&objects, &mut ms);
        let mut rules = Vec::new();
        let (claims, findings) = FluxReader {
            objects: &objects,
            mode: Mode::Commit,
        }
        .read(&ms, &mut rules);
        assert_eq!(claims.len(), 1, "{claims:?}");
        assert_eq!(ms[1].image_of(&ms[1].sites[0]).name, "ghcr.io/acme/app");
        assert_eq!(rules[0].policy.to_string(), "numerical:asc");
        assert_eq!(
            rules[0].writer.as_deref(),
            Some("flux"),
            "covered by the automation"
        );
        let messages: Vec<String> = findings
            .iter()
            .map(|f| format!("{:?} {}", f.at(), f.message))
            .collect();
        assert!(
            messages
                .iter()
                .any(|m| m.contains("spec.secretRef ghcr-auth")),
            "{messages:?}"
        );
        assert!(
            messages.iter().any(|m| m.contains("branch flux-updates")),
            "{messages:?}"
        );
        assert!(
            messages
                .iter()
                .any(|m| m.contains("apps/b.yaml:2") && m.contains("flux-system:nope")),
            "{messages:?}"
        );
    }

    #[test]
    fn a_marker_binds_to_the_policy_of_the_cluster_that_deploys_its_file() {
        let policy = |range: &str| {
            format!(
                "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata:\n  name: app\n  namespace: flux-system\nspec:\n  image: ghcr.io/acme/app\n---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata:\n  name: app\n  namespace: flux-system\nspec:\n  imageRepositoryRef:\n    name: app\n  policy:\n    semver:\n      range: \"{range}\"\n"
            )
        };
        let deploy = |env: &str| {
            format!(
                "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: app\nspec:\n  path: ./apps/app/{env}\n"
            )
        };
        let marked = "containers:\n- image: ghcr.io/acme/app:1.0.0 # {\"$imagepolicy\": \"flux-system:app\"}\n";
        let (dev_policy, prod_policy) = (policy(">=1.0.0"), policy("~1.0"));
        let (dev_deploy, prod_deploy) = (deploy("dev"), deploy("prod"));
        let ms = manifests(&[
            ("clusters/dev/flux-system/p.yaml", &dev_policy),
            ("clusters/dev/apps.yaml", &dev_deploy),
            ("clusters/prod/flux-system/p.yaml", &prod_policy),
            ("clusters/prod/apps.yaml", &prod_deploy),
            ("apps/app/dev/d.yaml", marked),
            ("apps/app/prod/d.yaml", marked),
        ]);
        let objects = Objects::read(&ms);
        let mut rules = Vec::new();
        let (claims, _) = FluxReader {
            objects: &objects,
            mode: Mode::Commit,
        }
        .read(&ms, &mut rules);
        let range_of = |mi: usize| {
            let c = claims.iter().find(|c| c.manifest == mi).expect("claimed");
            rules[c.rule].policy.to_string()
        };
        assert_eq!(range_of(4), "semver:>=1.0.0");
        assert_eq!(range_of(5), "semver:~1.0");
    }

    #[test]
    fn exclusion_lists_reflection_and_the_update_path_shape_the_rules() {
        let objects = |exclusions: &str, reflection: &str| {
            format!(
                "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata:\n  name: app\n  namespace: flux-system\nspec:\n  image: ghcr.io/acme/app\n{exclusions}---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata:\n  name: app\n  namespace: flux-system\nspec:\n  imageRepositoryRef:\n    name: app\n  policy:\n    alphabetical: {{}}\n{reflection}---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageUpdateAutomation\nmetadata:\n  name: a\nspec:\n  update:\n    path: ./apps\n"
            )
        };
        let marked =
            "containers:\n- image: ghcr.io/acme/app:1 # {\"$imagepolicy\": \"flux-system:app\"}\n";
        let rules_of = |text: &str| {
            let ms = manifests(&[
                ("f.yaml", text),
                ("apps/a.yaml", marked),
                ("old/b.yaml", marked),
            ]);
            let objects = Objects::read(&ms);
            let mut rules = Vec::new();
            let (claims, findings) = FluxReader {
                objects: &objects,
                mode: Mode::Commit,
            }
            .read(&ms, &mut rules);
            (claims, findings, rules)
        };
        let (claims, findings, rules) = rules_of(&objects("", ""));
        assert_eq!(
            rules[0].filter.exclusions().collect::<Vec<_>>(),
            [r"^.*\.sig$"],
            "absent: Flux's default"
        );
        assert!(!rules[0].digest && !rules[0].follow_digest);
        // In apps/: written by the automation; in old/: checked, never written.
        let mode_of = |mi: usize| {
            rules[claims
                .iter()
                .find(|c| c.manifest == mi)
                .expect("claimed")
                .rule]
                .mode
        };
        assert_eq!((mode_of(1), mode_of(2)), (Mode::Commit, Mode::Report));
        assert_eq!(rules[0].writer.as_deref(), Some("flux"));
        assert!(
            findings
                .iter()
                .any(|f| f.at().as_deref() == Some("old/b.yaml:2")
                    && f.message.contains("spec.update.path")),
            "{findings:?}"
        );
        let (_, _, rules) = rules_of(&objects(
            "  exclusionList: []\n",
            "  digestReflectionPolicy: IfNotPresent\n",
        ));
        assert_eq!(
            rules[0].filter.exclusions().count(),
            0,
            "written empty: nothing excluded"
        );
        assert!(rules[0].digest && !rules[0].follow_digest);
        let (_, _, rules) = rules_of(&objects(
            "  exclusionList: ['^dev-']\n",
            "  digestReflectionPolicy: Always\n",
        ));
        assert_eq!(rules[0].filter.exclusions().collect::<Vec<_>>(), ["^dev-"]);
        assert!(rules[0].digest && rules[0].follow_digest);
    }
}

//! Argo CD Image Updater as a policy source: `Application` objects
//! (`argoproj.io/v1alpha1`) annotated with
//! `argocd-image-updater.argoproj.io/image-list`, the `ImageUpdater`
//! custom resource (`argocd-image-updater.argoproj.io/v1alpha1`, Image
//! Updater v1), and the Argo CD cluster `Secret`s that say what a cluster
//! runs on. Each image an updater manages becomes a [`Rule`] with Argo CD's
//! policy ([`Policy::from_argocd_image`]: lenient semver, its tie-breaks),
//! and claims the references Argo CD renders that image from.
//!
//! Which files: the Application's `spec.source.path` (and every
//! `spec.sources[].path`) inside this repository, and the write-back
//! target:
//!
//! | write-back | files checked, first that holds the image |
//! |---|---|
//! | `git` (default target) | `PATH/.argocd-source-NAME.yaml` (or `…-NAMESPACE_NAME.yaml`), then the Application's own Helm parameters and `kustomize.images`, then the kustomization in `PATH`, then the Helm values files (`valueFiles`, `PATH/values.yaml`) |
//! | `git` + `write-back-target: kustomization[:DIR]` | the kustomization in `DIR` (relative to `PATH`, or to the root with a leading `/`) |
//! | `git` + `write-back-target: helmvalues[:FILE]` | `FILE` (default `PATH/values.yaml`) |
//! | `argocd` (the default method) | none: the live Application holds the state, so the references are `unchecked` |
//!
//! When the override file holds the image, the same image in the
//! Application's own parameters is shadowed by it; that reference is
//! reported `unchecked`, naming the override's line.
//!
//! Annotations are read on every Application that has `image-list`, as Image
//! Updater v0.x did (v1 reads them only for an `ImageUpdater` whose
//! `applicationRefs` entry says `useAnnotations: true`; an `ImageUpdater`
//! that selects an Application wins over its annotations otherwise).
//! `ApplicationSet` templates are not read.
//!
//! Field and annotation names follow argoproj-labs/argocd-image-updater
//! (`pkg/argocd/annotations.go`, `api/v1alpha1/imageupdater_types.go`,
//! `pkg/common/constants.go`). Pure: reads the parsed manifests only.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use globset::GlobBuilder;

use super::config::Mode;
use super::tracked::{Claim, PolicyReader, Rule, Source};
use crate::finding::{Finding, Kind, Location};
use crate::manifest::tree::{NodeId, Stream};
use crate::manifest::{Dialect, Manifest, Shape, Site};
use crate::policy::Policy;
use crate::policy::argocd::{ANNOTATION_PREFIX, ImageSettings, Strategy};
use crate::reference::Repository;
use crate::registry::Platform;

/// The writer name of references Argo CD Image Updater writes to Git.
pub const WRITER: &str = "argocd-image-updater";

/// The Argo CD and Image Updater objects of a repository.
#[derive(Clone, Debug, Default)]
pub struct Objects {
    /// `Application` objects.
    pub applications: Vec<Application>,
    /// `ImageUpdater` objects.
    pub updaters: Vec<ImageUpdater>,
    /// Argo CD cluster `Secret`s (`argocd.argoproj.io/secret-type: cluster`).
    pub clusters: Vec<Cluster>,
    /// Each path of the manifests it was read from, with its index (the
    /// reader is given the same manifests); empty when there is no
    /// `Application`.
    pub paths: HashMap<String, usize>,
}

/// An annotation's value and where it is written.
#[derive(Clone, Debug)]
pub struct Annotation {
    /// The value, trimmed.
    pub value: String,
    /// Its line.
    pub at: Location,
}

/// An Argo CD `Application`.
#[derive(Clone, Debug)]
pub struct Application {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: Option<String>,
    /// `metadata.labels`.
    pub labels: BTreeMap<String, String>,
    /// `metadata.annotations` (all of them).
    pub annotations: BTreeMap<String, Annotation>,
    /// Every source's `path`, relative to the repository root (`""`: the root).
    pub paths: Vec<String>,
    /// Every source's Helm `valueFiles`, relative to the repository root
    /// (`$ref/` prefixes dropped).
    pub value_files: Vec<String>,
    /// `spec.destination.name` and `.server`.
    pub destination: (Option<String>, Option<String>),
    /// The manifest that holds it (an index into the manifests read).
    pub manifest: usize,
    /// Its document in that manifest.
    pub doc: usize,
    /// Where it is written.
    pub at: Location,
}

/// Settings an `ImageUpdater` or annotations give an image (Go
/// `CommonUpdateSettings`); `None` when not given at that level.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// `updateStrategy` / `update-strategy`, with where it is written.
    pub strategy: Option<(String, Location)>,
    /// `allowTags` / `allow-tags`.
    pub allow_tags: Option<String>,
    /// `ignoreTags` / `ignore-tags` (globs).
    pub ignore_tags: Option<Vec<String>>,
    /// `platforms`.
    pub platforms: Option<Vec<String>>,
    /// `forceUpdate` / `force-update`.
    pub force_update: Option<bool>,
}

impl Settings {
    /// These settings with `more`'s given ones on top (Go `mergeCommonUpdateSettings`).
    fn under(&self, more: &Settings) -> Settings {
        Settings {
            strategy: more.strategy.clone().or_else(|| self.strategy.clone()),
            allow_tags: more.allow_tags.clone().or_else(|| self.allow_tags.clone()),
            ignore_tags: more
                .ignore_tags
                .clone()
                .or_else(|| self.ignore_tags.clone()),
            platforms: more.platforms.clone().or_else(|| self.platforms.clone()),
            force_update: more.force_update.or(self.force_update),
        }
    }
}

/// Write-back settings as written (Go `WriteBackConfig`).
#[derive(Clone, Debug, Default)]
pub struct WriteBackSpec {
    /// `method` / `write-back-method`: `argocd`, `git`, `git:CREDS`.
    pub method: Option<String>,
    /// `gitConfig.branch` / `git-branch`: `BRANCH` or `BASE:TARGET`.
    pub branch: Option<String>,
    /// `gitConfig.writeBackTarget` / `write-back-target`.
    pub target: Option<String>,
    /// Where the method is written (or the object, when it is not).
    pub at: Option<Location>,
}

impl WriteBackSpec {
    /// These settings with `more`'s given ones on top.
    fn under(&self, more: &WriteBackSpec) -> WriteBackSpec {
        WriteBackSpec {
            method: more.method.clone().or_else(|| self.method.clone()),
            branch: more.branch.clone().or_else(|| self.branch.clone()),
            target: more.target.clone().or_else(|| self.target.clone()),
            at: more.at.clone().or_else(|| self.at.clone()),
        }
    }
}

/// Where Helm keeps an image (`helm.image-name`, `.image-tag`, `.image-spec`;
/// `manifestTargets.helm.{name, tag, spec}`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Helm {
    /// The key holding the repository.
    pub name: Option<String>,
    /// The key holding the tag.
    pub tag: Option<String>,
    /// The key holding the whole reference.
    pub spec: Option<String>,
}

/// One image of an `ImageUpdater` (`spec.applicationRefs[].images[]`).
#[derive(Clone, Debug)]
pub struct ImageEntry {
    /// `alias`.
    pub alias: String,
    /// `imageName` (`IMAGE[:CONSTRAINT]`).
    pub image_name: String,
    /// `commonUpdateSettings`.
    pub settings: Settings,
    /// `manifestTargets.helm`.
    pub helm: Helm,
    /// `manifestTargets.kustomize.name`.
    pub kustomize_name: Option<String>,
    /// Where it is written.
    pub at: Location,
}

/// A label selector (`matchLabels`, `matchExpressions`).
#[derive(Clone, Debug, Default)]
pub struct Selector {
    /// `matchLabels`.
    pub labels: BTreeMap<String, String>,
    /// `matchExpressions`: key, operator, values.
    pub expressions: Vec<(String, String, Vec<String>)>,
}

impl Selector {
    /// Returns true if and only if `labels` satisfy the selector
    /// (Kubernetes `LabelSelectorAsSelector`; an unknown operator matches
    /// nothing).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && self.expressions.iter().all(|(k, op, values)| {
                let have = labels.get(k);
                match op.as_str() {
                    "In" => have.is_some_and(|h| values.contains(h)),
                    "NotIn" => have.is_none_or(|h| !values.contains(h)),
                    "Exists" => have.is_some(),
                    "DoesNotExist" => have.is_none(),
                    _ => false,
                }
            })
    }
}

/// One `spec.applicationRefs[]` entry.
#[derive(Clone, Debug)]
pub struct AppRef {
    /// `namePattern` (a Go `filepath.Match` glob).
    pub name_pattern: String,
    /// `labelSelectors`.
    pub selector: Option<Selector>,
    /// `useAnnotations`.
    pub use_annotations: bool,
    /// `commonUpdateSettings`.
    pub settings: Settings,
    /// `writeBackConfig`.
    pub write_back: WriteBackSpec,
    /// `images`.
    pub images: Vec<ImageEntry>,
    /// Where it is written.
    pub at: Location,
}

impl AppRef {
    /// Go `calculateSpecificity`: an exact name beats a glob, more literal
    /// characters beat fewer, a label selector adds to both.
    fn specificity(&self) -> usize {
        let p = &self.name_pattern;
        let mut score = 0;
        if !p.contains(['*', '?', '[', ']']) {
            score += 1_000_000;
        }
        let mut without_sets = String::new();
        let mut depth = 0;
        for c in p.chars() {
            match c {
                '[' => depth += 1,
                ']' if depth > 0 => depth -= 1,
                _ if depth == 0 && c != '*' && c != '?' => without_sets.push(c),
                _ => {}
            }
        }
        score += without_sets.len();
        if let Some(s) = &self.selector {
            score += 10_000 + 100 * (s.labels.len() + s.expressions.len());
        }
        score
    }

    /// Returns true if and only if the entry selects `app`.
    fn selects(&self, app: &Application) -> bool {
        let name = GlobBuilder::new(&self.name_pattern)
            .literal_separator(true)
            .build()
            .is_ok_and(|g| g.compile_matcher().is_match(&app.name));
        name && self
            .selector
            .as_ref()
            .is_none_or(|s| s.matches(&app.labels))
    }
}

/// An `ImageUpdater`.
#[derive(Clone, Debug)]
pub struct ImageUpdater {
    /// `metadata.name`.
    pub name: String,
    /// `spec.namespace` (older CRDs), else `metadata.namespace`: where the
    /// Applications it selects live.
    pub namespace: Option<String>,
    /// `spec.commonUpdateSettings`.
    pub settings: Settings,
    /// `spec.writeBackConfig`.
    pub write_back: WriteBackSpec,
    /// `spec.applicationRefs`.
    pub refs: Vec<AppRef>,
    /// Where it is written.
    pub at: Location,
}

/// An Argo CD cluster `Secret`.
#[derive(Clone, Debug)]
pub struct Cluster {
    /// `stringData.name` (else `metadata.name`).
    pub name: String,
    /// `stringData.server`.
    pub server: Option<String>,
    /// The label or annotation that says it runs arm64 nodes, if one does.
    pub arm64: Option<String>,
    /// Where it is written.
    pub at: Location,
}

/// How an updater writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Method {
    /// `argocd`: the live Application's parameters (the default).
    Argocd,
    /// `git`, `git:CREDS`: a commit to the repository.
    Git,
}

/// Where `git` write-back writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `.argocd-source-NAME.yaml` in the Application's path.
    Default,
    /// Another override file (a bare `write-back-target`), from the root.
    Override(String),
    /// `kustomization[:DIR]`: the kustomization in this directory.
    Kustomization(String),
    /// `helmvalues[:FILE]`: this values file.
    HelmValues(String),
}

/// An image one updater manages in one Application, every level merged.
#[derive(Clone, Debug)]
pub struct Image {
    /// Index into [`Objects::applications`].
    pub app: usize,
    /// Its alias (`alias=` in `image-list`, `alias` in an `ImageUpdater`).
    pub alias: Option<String>,
    /// The image as written, without a constraint.
    pub name: String,
    /// Its repository, when the name is valid.
    pub repository: Option<Repository>,
    /// The constraint (`:~1.2`; for `digest`, the tag to follow).
    pub constraint: Option<String>,
    /// Strategy, tag filters, platforms, force-update.
    pub settings: Settings,
    /// Helm keys.
    pub helm: Helm,
    /// `kustomize.image-name`.
    pub kustomize_name: Option<String>,
    /// The write-back method.
    pub method: Method,
    /// The write-back target.
    pub target: Target,
    /// `BASE:TARGET` of `git-branch`, split.
    pub branch: (Option<String>, Option<String>),
    /// Where the image is declared (its `image-list` annotation, or its
    /// `ImageUpdater` entry).
    pub origin: Location,
    /// Where the write-back is declared.
    pub write_back_at: Location,
    /// Who declares it (`Application argocd/dev`, `ImageUpdater argocd/u`).
    pub by: String,
}

impl Image {
    /// The alias as annotations spell it, or the image name.
    fn shown(&self) -> String {
        match &self.alias {
            Some(a) => format!("alias {a} ({})", self.name),
            None => self.name.clone(),
        }
    }
}

/// An image as declared (by annotations or an `ImageUpdater` entry), its
/// settings merged, before its write-back is resolved for an Application.
struct Declared {
    alias: Option<String>,
    spec: ImageSpec,
    settings: Settings,
    helm: Helm,
    kustomize_name: Option<String>,
    origin: Location,
    by: String,
}

impl Declared {
    /// An `ImageUpdater` entry under `settings` (the spec's and its
    /// `applicationRefs` entry's), declared `by`.
    fn entry(e: &ImageEntry, settings: &Settings, by: &str) -> Declared {
        Declared {
            alias: Some(e.alias.clone()),
            // As Image Updater does: `alias=imageName`, so a constraint may
            // hold `=` (`>=1.0`).
            spec: ImageSpec::parse(&format!("{}={}", e.alias, e.image_name)),
            settings: settings.under(&e.settings),
            helm: e.helm.clone(),
            kustomize_name: e.kustomize_name.clone(),
            origin: e.at.clone(),
            by: by.to_owned(),
        }
    }

    /// The image in Application `ai` whose first source path is `base`,
    /// its write-back `wb` resolved (targets relative to `base`).
    fn resolve(self, ai: usize, base: Option<&String>, wb: &WriteBackSpec) -> Image {
        let base = base.map_or("", String::as_str);
        let method = match wb.method.as_deref().map(str::trim) {
            Some(m) if m == "git" || m.starts_with("git:") => Method::Git,
            _ => Method::Argocd,
        };
        let target = match wb.target.as_deref().map(str::trim) {
            None | Some("") => Target::Default,
            Some(t) if t.starts_with("kustomization") => Target::Kustomization(
                t.strip_prefix("kustomization:")
                    .map_or_else(|| base.to_owned(), |d| join(base, d)),
            ),
            Some(t) if t.starts_with("helmvalues") => Target::HelmValues(
                t.strip_prefix("helmvalues:")
                    .map_or_else(|| join(base, "values.yaml"), |f| join(base, f)),
            ),
            Some(t) => Target::Override(join("", t)),
        };
        let branch = match wb.branch.as_deref() {
            Some(b) => match b.split_once(':') {
                Some((base, target)) => (
                    Some(base.to_owned()).filter(|s| !s.is_empty()),
                    Some(target.to_owned()).filter(|s| !s.is_empty()),
                ),
                None => (Some(b.to_owned()), None),
            },
            None => (None, None),
        };
        Image {
            app: ai,
            alias: self.alias,
            repository: Repository::parse(&self.spec.name).ok(),
            name: self.spec.name,
            constraint: self.spec.constraint,
            settings: self.settings,
            helm: self.helm,
            kustomize_name: self.kustomize_name,
            method,
            target,
            branch,
            write_back_at: wb.at.clone().unwrap_or_else(|| self.origin.clone()),
            origin: self.origin,
            by: self.by,
        }
    }
}

impl Image {
    /// The rule Image Updater's settings for this image make, or why they make
    /// none (named after the annotation or field).
    pub fn rule(&self, mode: Mode) -> Result<Rule, String> {
        let ignore = self.settings.ignore_tags.as_ref().map(|l| l.join(","));
        let alias = self.alias.as_deref();
        let settings = ImageSettings {
            alias,
            constraint: self.constraint.as_deref(),
            update_strategy: self.settings.strategy.as_ref().map(|(s, _)| s.as_str()),
            allow_tags: self.settings.allow_tags.as_deref(),
            ignore_tags: ignore.as_deref(),
        };
        let (policy, filter) = Policy::from_argocd_image(&settings).map_err(|e| e.to_string())?;
        let mut platforms = Vec::new();
        for p in self.settings.platforms.iter().flatten() {
            platforms.push(Platform::parse(p).map_err(|e| {
                format!(
                    "{ANNOTATION_PREFIX}/{}.platforms: {p:?}: {e}",
                    alias.unwrap_or("<alias>")
                )
            })?);
        }
        let label = format!(
            "{} {} ({}:{})",
            self.by,
            self.shown(),
            self.origin.file,
            self.origin.line.unwrap_or(1)
        );
        let digest = matches!(policy, Policy::Digest { .. });
        Ok(Rule {
            source: Source::Argo,
            label: label.clone(),
            origin: Some(self.origin.clone()),
            policy,
            filter,
            platforms,
            mode,
            grace: None,
            writer: Some(WRITER.to_owned()),
            applicable: true,
            key: label,
            digest,
            follow_digest: digest,
            unchecked: (self.method == Method::Argocd).then(|| {
                format!(
                    "{} writes {} with write-back-method argocd: Argo CD Image Updater sets it in the live Application, not in Git, so Git is not where its state lives",
                    self.by,
                    self.shown()
                )
            }),
        })
    }
}

/// An Argo CD image spec, `[ALIAS=]IMAGE[:CONSTRAINT][@DIGEST]`, split the
/// way Image Updater's `NewFromIdentifier` splits it: the alias ends at the
/// first `=`, the digest starts at `@`, and the constraint is what follows
/// the last `:` after the last `/` (so a registry port is not one, and a
/// constraint may hold characters a tag may not: `~1.2`, `>=1.0`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageSpec {
    /// The alias, when written.
    pub alias: Option<String>,
    /// The image name.
    pub name: String,
    /// The tag or constraint.
    pub constraint: Option<String>,
    /// The digest.
    pub digest: Option<String>,
}

impl ImageSpec {
    /// Splits `value` (trimmed).
    pub fn parse(value: &str) -> ImageSpec {
        let value = value.trim();
        let (alias, rest) = match value.split_once('=') {
            Some((a, r)) => (Some(a.trim().to_owned()), r.trim()),
            None => (None, value),
        };
        let (rest, digest) = match rest.split_once('@') {
            Some((r, d)) => (r, Some(d.to_owned())),
            None => (rest, None),
        };
        let slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, constraint) = match rest[slash..].rfind(':') {
            Some(i) => (
                &rest[..slash + i],
                Some(rest[slash + i + 1..].to_owned()).filter(|c| !c.is_empty()),
            ),
            None => (rest, None),
        };
        ImageSpec {
            alias: alias.filter(|a| !a.is_empty()),
            name: name.to_owned(),
            constraint,
            digest,
        }
    }
}

impl Objects {
    /// Reads every Argo CD object in `manifests`.
    pub fn read(manifests: &[Manifest]) -> Objects {
        let mut out = Objects::default();
        for (mi, m) in manifests.iter().enumerate() {
            let s = &m.stream;
            for (doc, root) in s.docs.iter().enumerate() {
                let Some(root) = *root else { continue };
                let api = s.get_str(root, "apiVersion").unwrap_or_default();
                let kind = s.get_str(root, "kind").unwrap_or_default();
                let head = Head::of(m, root);
                if api.starts_with("argoproj.io/") && kind == "Application" {
                    out.applications.push(application(m, mi, doc, root, head));
                } else if api.starts_with("argocd-image-updater.argoproj.io/")
                    && kind == "ImageUpdater"
                {
                    out.updaters.extend(updater(m, root, head));
                } else if api == "v1"
                    && kind == "Secret"
                    && head
                        .labels
                        .get("argocd.argoproj.io/secret-type")
                        .map(String::as_str)
                        == Some("cluster")
                {
                    out.clusters.push(cluster(m, root, head));
                }
            }
        }
        // Only an Application's files are looked up, and a large
        // repository has tens of thousands of paths.
        if !out.applications.is_empty() {
            out.paths = manifests
                .iter()
                .enumerate()
                .map(|(mi, m)| (m.path.clone(), mi))
                .collect();
        }
        out
    }

    /// Every image an updater manages in an Application of the repository,
    /// every level of settings merged, plus findings about declarations
    /// that manage nothing or cannot be read.
    pub fn images(&self) -> (Vec<Image>, Vec<Finding>) {
        let mut out = Vec::new();
        let mut findings = Vec::new();
        let mut selected_any: BTreeSet<usize> = BTreeSet::new();
        for (ai, app) in self.applications.iter().enumerate() {
            // The most specific applicationRefs entry of any ImageUpdater.
            let chosen = self
                .updaters
                .iter()
                .enumerate()
                .filter(|(_, u)| {
                    u.namespace.is_none() || app.namespace.is_none() || u.namespace == app.namespace
                })
                .flat_map(|(ui, u)| u.refs.iter().map(move |r| (ui, u, r)))
                .filter(|(_, _, r)| r.selects(app))
                .max_by_key(|(ui, _, r)| (r.specificity(), std::cmp::Reverse(*ui)));
            match chosen {
                Some((ui, u, r)) if !r.use_annotations => {
                    selected_any.insert(ui);
                    let by = format!(
                        "ImageUpdater {}/{}",
                        u.namespace.as_deref().unwrap_or("argocd"),
                        u.name
                    );
                    let settings = u.settings.under(&r.settings);
                    let wb = u.write_back.under(&r.write_back);
                    for e in &r.images {
                        let declared = Declared::entry(e, &settings, &by);
                        out.push(declared.resolve(ai, app.paths.first(), &wb));
                    }
                }
                chosen => {
                    if let Some((ui, _, _)) = chosen {
                        selected_any.insert(ui);
                    }
                    let (images, errors) = self.annotated(ai);
                    out.extend(images);
                    findings.extend(errors);
                }
            }
        }
        for (ui, u) in self.updaters.iter().enumerate() {
            if !selected_any.contains(&ui) {
                findings.push(Finding::notice(
                    Kind::Configuration,
                    Some(u.at.clone()),
                    format!(
                        "ImageUpdater {}: its applicationRefs select no Application in this repository, so nothing it manages is checked",
                        u.name
                    ),
                ));
            }
        }
        (out, findings)
    }

    /// The images of Application `ai` declared by its annotations.
    fn annotated(&self, ai: usize) -> (Vec<Image>, Vec<Finding>) {
        let app = &self.applications[ai];
        let get = |key: &str| app.annotations.get(&format!("{ANNOTATION_PREFIX}/{key}"));
        let Some(list) = get("image-list") else {
            return (Vec::new(), Vec::new());
        };
        let by = format!(
            "Application {}/{}",
            app.namespace.as_deref().unwrap_or("argocd"),
            app.name
        );
        let wb = WriteBackSpec {
            method: get("write-back-method").map(|a| a.value.clone()),
            branch: get("git-branch").map(|a| a.value.clone()),
            target: get("write-back-target").map(|a| a.value.clone()),
            at: get("write-back-target")
                .or(get("write-back-method"))
                .map(|a| a.at.clone()),
        };
        let common = annotation_settings(app, None);
        let mut out = Vec::new();
        for entry in list
            .value
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            let spec = ImageSpec::parse(entry);
            let (settings, helm, kustomize_name) = match &spec.alias {
                Some(alias) => {
                    let key = |k: &str| get(&format!("{alias}.{k}")).map(|a| a.value.clone());
                    (
                        common.under(&annotation_settings(app, Some(alias))),
                        Helm {
                            name: key("helm.image-name"),
                            tag: key("helm.image-tag"),
                            spec: key("helm.image-spec"),
                        },
                        key("kustomize.image-name"),
                    )
                }
                None => (common.clone(), Helm::default(), None),
            };
            let declared = Declared {
                alias: spec.alias.clone(),
                spec,
                settings,
                helm,
                kustomize_name,
                origin: list.at.clone(),
                by: by.clone(),
            };
            out.push(declared.resolve(ai, app.paths.first(), &wb));
        }
        let errors = if out.is_empty() {
            vec![Finding::error(
                Kind::Configuration,
                Some(list.at.clone()),
                format!("{by}: the image-list annotation names no image"),
            )]
        } else {
            Vec::new()
        };
        (out, errors)
    }

    /// The kustomization files of directory `dir` among the manifests read.
    fn kustomizations(&self, dir: &str) -> Vec<String> {
        ["kustomization.yaml", "kustomization.yml", "Kustomization"]
            .iter()
            .map(|f| join(dir, f))
            .filter(|f| self.paths.contains_key(f))
            .collect()
    }

    /// The files `image`'s updater writes, repository paths.
    pub fn target_files(&self, image: &Image) -> Vec<String> {
        let app = &self.applications[image.app];
        match &image.target {
            Target::Default => app
                .paths
                .iter()
                .flat_map(|p| {
                    let ns = app.namespace.as_deref().unwrap_or("argocd");
                    [
                        join(p, &format!(".argocd-source-{}.yaml", app.name)),
                        join(p, &format!(".argocd-source-{ns}_{}.yaml", app.name)),
                    ]
                })
                .collect(),
            Target::Override(f) | Target::HelmValues(f) => vec![f.clone()],
            Target::Kustomization(dir) => {
                let found = self.kustomizations(dir);
                if found.is_empty() {
                    // Not read (no images in it), or not there yet: still the file it writes.
                    vec![join(dir, "kustomization.yaml")]
                } else {
                    found
                }
            }
        }
    }

    /// The groups of references Argo CD renders `image` from, most
    /// effective first: `(files or None for the Application itself, sites)`.
    fn groups(&self, image: &Image, manifests: &[Manifest]) -> Vec<Vec<(usize, usize)>> {
        let app = &self.applications[image.app];
        let in_files = |files: &[String]| -> Vec<(usize, usize)> {
            let mut out = Vec::new();
            let mut found: Vec<usize> = files
                .iter()
                .filter_map(|f| self.paths.get(f).copied())
                .collect();
            found.sort_unstable();
            found.dedup();
            for mi in found {
                let Some(m) = manifests.get(mi) else { continue };
                for (si, site) in m.sites.iter().enumerate() {
                    if self.matches(image, m, site) {
                        out.push((mi, si));
                    }
                }
            }
            out
        };
        let targets = self.target_files(image);
        match &image.target {
            Target::Default | Target::Override(_) => {
                let own: Vec<(usize, usize)> = manifests
                    .get(app.manifest)
                    .map(|m| {
                        m.sites
                            .iter()
                            .enumerate()
                            .filter(|(_, site)| site.doc == app.doc && self.matches(image, m, site))
                            .map(|(si, _)| (app.manifest, si))
                            .collect()
                    })
                    .unwrap_or_default();
                let kust: Vec<String> = app
                    .paths
                    .iter()
                    .flat_map(|p| self.kustomizations(p))
                    .collect();
                let mut values = app.value_files.clone();
                values.extend(app.paths.iter().map(|p| join(p, "values.yaml")));
                vec![in_files(&targets), own, in_files(&kust), in_files(&values)]
            }
            Target::Kustomization(_) | Target::HelmValues(_) => vec![in_files(&targets)],
        }
    }

    /// Returns true if and only if `site` in `m` is where Argo CD renders
    /// `image` from: the Helm key `helm.image-spec` or `helm.image-tag`
    /// names, the kustomize entry `kustomize.image-name` names, or else the
    /// same repository.
    fn matches(&self, image: &Image, m: &Manifest, site: &Site) -> bool {
        let s = &m.stream;
        if let Some(spec) = &image.helm.spec {
            return matches!(&site.shape, Shape::Full { slot, .. } if helm_key(s, *slot) == *spec);
        }
        if let Some(tag) = &image.helm.tag
            && matches!(site.dialect, Dialect::HelmValues | Dialect::ArgoCd)
            && let Shape::Split {
                tag: Some(node), ..
            } = &site.shape
        {
            return helm_key(s, *node) == *tag;
        }
        if let Some(k) = &image.kustomize_name {
            let named = |v: &str| {
                v == k
                    || matches!((Repository::parse(v), Repository::parse(k)), (Ok(a), Ok(b)) if a == b)
            };
            return match &site.shape {
                Shape::Split { .. } => site.names.iter().any(|&n| s.scalar(n).is_some_and(named)),
                Shape::Full { slot, prefix_len } if *prefix_len > 0 => s
                    .scalar(*slot)
                    .and_then(|v| v.get(..prefix_len - 1))
                    .is_some_and(named),
                Shape::Full { .. } => m.image_of(site).repository == Repository::parse(k).ok(),
            };
        }
        image.repository.is_some() && m.image_of(site).repository == image.repository
    }

    /// The `ImageUpdater` image or annotated Application image named
    /// `alias` (any when `None` and there is exactly one), with its rule,
    /// for `explain --from`. An Application in the file is read with its
    /// annotations; an `ImageUpdater` with its settings merged (spec,
    /// `applicationRefs` entry, image).
    pub fn explain(&self, alias: Option<&str>) -> Result<(String, Rule), String> {
        let mut found: Vec<Image> = Vec::new();
        for ai in 0..self.applications.len() {
            found.extend(self.annotated(ai).0);
        }
        // An ImageUpdater alone in its file: its images without an Application.
        for u in &self.updaters {
            let by = format!("ImageUpdater {}", u.name);
            for r in &u.refs {
                let settings = u.settings.under(&r.settings);
                let wb = u.write_back.under(&r.write_back);
                for e in &r.images {
                    found.push(Declared::entry(e, &settings, &by).resolve(0, None, &wb));
                }
            }
        }
        let aliases = || {
            found
                .iter()
                .map(|i| i.alias.clone().unwrap_or_else(|| i.name.clone()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let picked: Vec<&Image> = found
            .iter()
            .filter(|i| alias.is_none_or(|a| i.alias.as_deref() == Some(a) || i.name == a))
            .collect();
        let image = match (picked.as_slice(), alias) {
            ([one], _) => *one,
            ([], Some(a)) => {
                return Err(format!("no image alias {a:?} (it declares: {})", aliases()));
            }
            ([], None) => {
                return Err(
                    "no Argo CD Image Updater image-list annotation or ImageUpdater images in it"
                        .into(),
                );
            }
            (_, _) => {
                return Err(format!(
                    "it declares several images ({}); name one with --alias NAME",
                    aliases()
                ));
            }
        };
        let mut rule = image.rule(Mode::Report)?;
        rule.unchecked = None;
        Ok((image.name.clone(), rule))
    }
}

/// Argo CD Image Updater's annotations, Applications and `ImageUpdater`s
/// as a [`PolicyReader`].
pub struct ArgoReader<'a> {
    /// The objects read from the repository.
    pub objects: &'a Objects,
    /// The write mode (`--pull-request` or not).
    pub mode: Mode,
}

impl PolicyReader for ArgoReader<'_> {
    fn read(&self, manifests: &[Manifest], rules: &mut Vec<Rule>) -> (Vec<Claim>, Vec<Finding>) {
        let objects = self.objects;
        let (images, mut findings) = objects.images();
        let mut claims = Vec::new();
        let mut writers: BTreeMap<String, Vec<(usize, Location)>> = BTreeMap::new();
        // Per Application: what says its cluster runs arm64 nodes (a scan of its files).
        let mut evidence: BTreeMap<usize, Option<String>> = BTreeMap::new();
        for image in &images {
            let app = &objects.applications[image.app];
            let made = image.rule(self.mode);
            let rule = match made {
                // One pull request per Application and image, as Image
                // Updater writes each Application apart; named by them,
                // not by a line, so an edit above keeps its branch.
                Ok(rule) => {
                    let of = format!(
                        "Application {}/{}",
                        app.namespace.as_deref().unwrap_or("argocd"),
                        app.name
                    );
                    let key = if image.by == of {
                        format!("{of} {}", image.shown())
                    } else {
                        format!("{} {} for {of}", image.by, image.shown())
                    };
                    Rule { key, ..rule }
                }
                Err(why) => {
                    findings.push(Finding::error(
                        Kind::Configuration,
                        Some(image.origin.clone()),
                        format!("{} {}: {why}", image.by, image.shown()),
                    ));
                    // Its references are unchecked, not left to the default policy.
                    Rule::unchecking(
                        Source::Argo,
                        format!("{} {}", image.by, image.shown()),
                        image.origin.clone(),
                        self.mode,
                        format!("{} {}: {why}", image.by, image.shown()),
                    )
                }
            };
            let groups = objects.groups(image, manifests);
            let first = groups.iter().position(|g| !g.is_empty());
            let mine: &[(usize, usize)] = first.map_or(&[], |f| &groups[f]);
            let arm64 = evidence
                .entry(image.app)
                .or_insert_with(|| arm64_evidence(objects, app, manifests));
            findings.extend(warnings(image, manifests, mine, arm64.as_deref()));
            rules.push(rule);
            let index = rules.len() - 1;
            if let Some(first) = first {
                for &(manifest, site) in &groups[first] {
                    claims.push(Claim {
                        manifest,
                        site,
                        rule: index,
                    });
                }
                // The Application's own value under an override that holds the image.
                if first == 0 && groups.len() > 1 && !groups[1].is_empty() {
                    let (om, os) = groups[0][0];
                    let line = manifests[om].site_line(&manifests[om].sites[os]);
                    let mut shadowed = rules[index].clone();
                    shadowed.unchecked = Some(format!(
                        "Argo CD renders {} from {}:{line}, the override Argo CD Image Updater writes, not from this value",
                        image.name, manifests[om].path
                    ));
                    rules.push(shadowed);
                    let si = rules.len() - 1;
                    for &(manifest, site) in &groups[1] {
                        claims.push(Claim {
                            manifest,
                            site,
                            rule: si,
                        });
                    }
                }
            } else {
                let files = objects.target_files(image);
                let why = if image.settings.force_update == Some(true) {
                    format!(
                        "{} {}: force-update is set, so Argo CD Image Updater would add it to {}; no file of the Application names it, and gitops-bump only checks references that exist",
                        image.by,
                        image.shown(),
                        files.join(" or ")
                    )
                } else {
                    format!(
                        "{} {}: no file of the Application ({}) names it; Argo CD Image Updater updates only images the Application runs (set force-update to have it add one)",
                        image.by,
                        image.shown(),
                        if app.paths.is_empty() {
                            "it has no source path in this repository".to_owned()
                        } else {
                            app.paths.join(", ")
                        }
                    )
                };
                findings.push(Finding::notice(
                    Kind::Configuration,
                    Some(image.origin.clone()),
                    why,
                ));
            }
            if image.method == Method::Git {
                for f in objects.target_files(image) {
                    let list = writers.entry(f).or_default();
                    if !list.iter().any(|(a, _)| *a == image.app) {
                        list.push((image.app, image.write_back_at.clone()));
                    }
                }
                if let (base, Some(target)) = &image.branch
                    && base.as_ref() != Some(target)
                {
                    findings.push(Finding::notice(
                        Kind::Configuration,
                        Some(image.write_back_at.clone()),
                        format!(
                            "{} writes its updates to branch {target}{}; compare that branch (--branch {target}) to see what Argo CD Image Updater wrote",
                            image.by,
                            base.as_ref().map(|b| format!(", not {b}")).unwrap_or_default()
                        ),
                    ));
                }
            }
        }
        // Two Applications whose updaters write one file fight over it.
        for (file, apps) in &writers {
            if apps.len() < 2 {
                continue;
            }
            for (i, (app, at)) in apps.iter().enumerate() {
                let others: Vec<String> = apps
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, (o, _))| format!("Application {}", objects.applications[*o].name))
                    .collect();
                findings.push(Finding::warning(
                    Kind::Configuration,
                    Some(at.clone()),
                    format!(
                        "Application {} and {} both have Argo CD Image Updater write {file}: each write undoes the other's (two clusters fighting over one file); give each its own write-back-target",
                        objects.applications[*app].name,
                        others.join(" and ")
                    ),
                ));
            }
        }
        findings.sort_by_key(|f| (f.file().to_owned(), f.line()));
        findings.dedup_by(|a, b| a.at() == b.at() && a.message == b.message);
        (claims, findings)
    }
}

/// The warnings about `image`'s configuration: the legacy `latest`
/// strategy over a mutable tag, and platforms missing where the cluster
/// runs arm64 nodes.
fn warnings(
    image: &Image,
    manifests: &[Manifest],
    sites: &[(usize, usize)],
    arm64: Option<&str>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    // The tags its references hold now.
    let held: Vec<String> = sites
        .iter()
        .filter_map(|&(mi, si)| {
            let m = manifests.get(mi)?;
            m.image_of(m.sites.get(si)?).tag
        })
        .collect();
    if let Some((strategy, at)) = &image.settings.strategy
        && Strategy::parse(strategy) == Strategy::NewestBuild
    {
        let mutable = image
            .constraint
            .iter()
            .chain(&held)
            .find(|t| crate::policy::order::is_mutable_tag(t));
        if let Some(tag) = mutable {
            let legacy = if strategy.eq_ignore_ascii_case("latest") {
                " (Argo CD's legacy name for newest-build)"
            } else {
                ""
            };
            out.push(Finding::warning(
                Kind::Configuration,
                Some(at.clone()),
                format!(
                    "{} {}: update-strategy {strategy}{legacy} selects the most recently built tag of {}, not the digest {tag:?} points to; to follow {tag:?} by digest, use update-strategy: digest with {}{}:{tag} in image-list",
                    image.by,
                    image.shown(),
                    image.name,
                    image.alias.as_ref().map(|a| format!("{a}=")).unwrap_or_default(),
                    image.name
                ),
            ));
        }
    }
    let has_arm64 = image
        .settings
        .platforms
        .iter()
        .flatten()
        .any(|p| p.contains("arm64") || p.contains("aarch64"));
    if !has_arm64 && let Some(evidence) = arm64 {
        out.push(Finding::warning(
            Kind::Configuration,
            Some(image.origin.clone()),
            format!(
                "{} {}: the cluster runs arm64 nodes ({evidence}), and no platforms setting names linux/arm64, so Argo CD Image Updater checks only its own platform and can select a tag without arm64; set {ANNOTATION_PREFIX}/{}.platforms: linux/amd64,linux/arm64 (or platforms in the ImageUpdater)",
                image.by,
                image.shown(),
                image.alias.as_deref().unwrap_or("<alias>")
            ),
        ));
    }
    out
}

/// What in the repository says the Application's cluster runs arm64
/// nodes: its cluster `Secret`'s architecture label, or a workload in its
/// path that selects arm64 nodes.
fn arm64_evidence(objects: &Objects, app: &Application, manifests: &[Manifest]) -> Option<String> {
    let (name, server) = &app.destination;
    if let Some(c) = objects.clusters.iter().find(|c| {
        c.arm64.is_some()
            && (name.as_deref() == Some(c.name.as_str())
                || (server.is_some() && server.as_ref() == c.server.as_ref()))
    }) {
        return Some(format!(
            "cluster Secret {} at {}: {}",
            c.name,
            c.at.file,
            c.arm64.clone().unwrap_or_default()
        ));
    }
    for m in manifests {
        if !app.paths.iter().any(|p| under(p, &m.path)) {
            continue;
        }
        for site in &m.sites {
            if m.platforms(site)
                .iter()
                .any(|p| p.contains("arm64") || p.contains("aarch64"))
            {
                return Some(format!(
                    "{}:{} selects arm64 nodes",
                    m.path,
                    m.site_line(site)
                ));
            }
        }
        for (i, line) in m.text.lines().enumerate() {
            let line = line.trim().trim_start_matches("- ");
            if let Some(v) = line
                .strip_prefix("kubernetes.io/arch:")
                .or_else(|| line.strip_prefix("\"kubernetes.io/arch\":"))
                && v.trim().trim_matches(['"', '\'']) == "arm64"
            {
                return Some(format!("{}:{} selects arm64 nodes", m.path, i + 1));
            }
        }
    }
    None
}

/// An object's `metadata` and where it starts.
struct Head {
    name: String,
    namespace: Option<String>,
    labels: BTreeMap<String, String>,
    annotations: Option<NodeId>,
    at: Location,
}

impl Head {
    fn of(m: &Manifest, root: NodeId) -> Head {
        let s = &m.stream;
        let meta = s.get(root, "metadata");
        let get = |k: &str| meta.and_then(|x| s.get_str(x, k)).map(str::to_owned);
        Head {
            name: get("name").unwrap_or_default(),
            namespace: get("namespace"),
            labels: meta
                .and_then(|x| s.get(x, "labels"))
                .map(|l| string_map(s, l))
                .unwrap_or_default(),
            annotations: meta.and_then(|x| s.get(x, "annotations")),
            at: Location::line(&m.path, s.line(root)),
        }
    }
}

/// An `Application`: its annotations with their lines, every source's path
/// and Helm value files, its destination.
fn application(m: &Manifest, mi: usize, doc: usize, root: NodeId, head: Head) -> Application {
    let s = &m.stream;
    let annotations = head
        .annotations
        .map(|a| {
            s.entries(a)
                .iter()
                .filter_map(|&(k, v)| {
                    let value = s.scalar(v)?.trim().to_owned();
                    let at = Location::line(&m.path, s.line(v));
                    Some((s.scalar(k)?.to_owned(), Annotation { value, at }))
                })
                .collect()
        })
        .unwrap_or_default();
    let spec = s.get(root, "spec");
    let mut sources: Vec<NodeId> = spec
        .and_then(|sp| s.get(sp, "source"))
        .into_iter()
        .collect();
    if let Some(list) = spec.and_then(|sp| s.get(sp, "sources")) {
        sources.extend(s.items(list).iter().copied());
    }
    let (mut paths, mut value_files) = (Vec::new(), Vec::new());
    for source in sources {
        let path = s.get_str(source, "path").map(|p| join("", p));
        let files = s
            .get(source, "helm")
            .and_then(|h| s.get(h, "valueFiles"))
            .map(|l| strings(s, l))
            .unwrap_or_default();
        for f in files {
            let file = match f.strip_prefix('$') {
                // `$ref/rest`: a file of the source named `ref`.
                Some(r) => r
                    .split_once('/')
                    .map_or(String::new(), |(_, p)| join("", p)),
                None => join(path.as_deref().unwrap_or(""), &f),
            };
            if !file.is_empty() {
                value_files.push(file);
            }
        }
        paths.extend(path);
    }
    let destination = spec
        .and_then(|sp| s.get(sp, "destination"))
        .map(|d| {
            let get = |k: &str| s.get_str(d, k).map(str::to_owned);
            (get("name"), get("server"))
        })
        .unwrap_or_default();
    Application {
        name: head.name,
        namespace: head.namespace,
        labels: head.labels,
        annotations,
        paths,
        value_files,
        destination,
        manifest: mi,
        doc,
        at: head.at,
    }
}

/// An `ImageUpdater` (`None` without a spec).
fn updater(m: &Manifest, root: NodeId, head: Head) -> Option<ImageUpdater> {
    let s = &m.stream;
    let spec = s.get(root, "spec")?;
    let refs = s
        .get(spec, "applicationRefs")
        .map(|l| s.items(l).iter().map(|&r| app_ref(m, r)).collect())
        .unwrap_or_default();
    Some(ImageUpdater {
        name: head.name,
        namespace: s
            .get_str(spec, "namespace")
            .map(str::to_owned)
            .or(head.namespace),
        settings: settings(m, spec),
        write_back: write_back(m, spec),
        refs,
        at: head.at,
    })
}

/// An Argo CD cluster `Secret`: its name and server, and whether a label
/// or annotation (`kubernetes.io/arch`, `…/arch`, `…-arch`,
/// `…/architecture`) names arm64.
fn cluster(m: &Manifest, root: NodeId, head: Head) -> Cluster {
    let s = &m.stream;
    let data = s.get(root, "stringData");
    let annotations = head
        .annotations
        .map(|a| string_map(s, a))
        .unwrap_or_default();
    let arm64 = head
        .labels
        .iter()
        .chain(&annotations)
        .find(|(k, v)| {
            let last = k.rsplit('/').next().unwrap_or(k);
            (last == "arch" || last == "architecture" || last.ends_with("-arch"))
                && v.split([',', ' ']).any(|a| a == "arm64" || a == "aarch64")
        })
        .map(|(k, v)| format!("{k}: {v}"));
    Cluster {
        name: data
            .and_then(|d| s.get_str(d, "name"))
            .map_or(head.name, str::to_owned),
        server: data.and_then(|d| s.get_str(d, "server")).map(str::to_owned),
        arm64,
        at: head.at,
    }
}

/// Settings from `<alias>.KEY` annotations, or the Application-wide `KEY`
/// ones for `alias` `None` (which have no `platforms`, as in Image Updater).
fn annotation_settings(app: &Application, alias: Option<&str>) -> Settings {
    let get = |key: &str| {
        let full = match alias {
            Some(a) => format!("{ANNOTATION_PREFIX}/{a}.{key}"),
            None => format!("{ANNOTATION_PREFIX}/{key}"),
        };
        app.annotations.get(&full).filter(|a| !a.value.is_empty())
    };
    let list = |v: &str| -> Vec<String> {
        v.split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::to_owned)
            .collect()
    };
    Settings {
        strategy: get("update-strategy").map(|a| (a.value.clone(), a.at.clone())),
        allow_tags: get("allow-tags").map(|a| a.value.clone()),
        ignore_tags: get("ignore-tags").map(|a| list(&a.value)),
        platforms: alias
            .and_then(|_| get("platforms"))
            .map(|a| list(&a.value))
            .filter(|l| !l.is_empty()),
        force_update: get("force-update").map(|a| a.value.eq_ignore_ascii_case("true")),
    }
}

/// `commonUpdateSettings` under `parent`.
fn settings(m: &Manifest, parent: NodeId) -> Settings {
    let s = &m.stream;
    let Some(c) = s.get(parent, "commonUpdateSettings") else {
        return Settings::default();
    };
    Settings {
        strategy: s.get(c, "updateStrategy").and_then(|n| {
            Some((
                s.scalar(n)?.trim().to_owned(),
                Location::line(&m.path, s.line(n)),
            ))
        }),
        allow_tags: s.get_str(c, "allowTags").map(str::to_owned),
        ignore_tags: s.get(c, "ignoreTags").map(|l| strings(s, l)),
        platforms: s.get(c, "platforms").map(|l| strings(s, l)),
        force_update: s.get_str(c, "forceUpdate").map(|v| v == "true"),
    }
}

/// `writeBackConfig` under `parent`.
fn write_back(m: &Manifest, parent: NodeId) -> WriteBackSpec {
    let s = &m.stream;
    let Some(w) = s.get(parent, "writeBackConfig") else {
        return WriteBackSpec::default();
    };
    let git = s.get(w, "gitConfig");
    WriteBackSpec {
        method: s.get_str(w, "method").map(str::to_owned),
        branch: git.and_then(|g| s.get_str(g, "branch")).map(str::to_owned),
        target: git
            .and_then(|g| s.get_str(g, "writeBackTarget"))
            .map(str::to_owned),
        at: Some(Location::line(&m.path, s.line(w))),
    }
}

/// One `applicationRefs[]` entry.
fn app_ref(m: &Manifest, r: NodeId) -> AppRef {
    let s = &m.stream;
    let selector = s.get(r, "labelSelectors").map(|l| Selector {
        labels: s
            .get(l, "matchLabels")
            .map(|x| string_map(s, x))
            .unwrap_or_default(),
        expressions: s
            .get(l, "matchExpressions")
            .map(|x| {
                s.items(x)
                    .iter()
                    .map(|&e| {
                        (
                            s.get_str(e, "key").unwrap_or_default().to_owned(),
                            s.get_str(e, "operator").unwrap_or_default().to_owned(),
                            s.get(e, "values")
                                .map(|v| strings(s, v))
                                .unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
    });
    let images = s
        .get(r, "images")
        .map(|l| {
            s.items(l)
                .iter()
                .map(|&i| {
                    let targets = s.get(i, "manifestTargets");
                    let helm = targets.and_then(|t| s.get(t, "helm"));
                    let key = |k: &str| helm.and_then(|h| s.get_str(h, k)).map(str::to_owned);
                    ImageEntry {
                        alias: s.get_str(i, "alias").unwrap_or_default().to_owned(),
                        image_name: s.get_str(i, "imageName").unwrap_or_default().to_owned(),
                        settings: settings(m, i),
                        helm: Helm {
                            name: key("name"),
                            tag: key("tag"),
                            spec: key("spec"),
                        },
                        kustomize_name: targets
                            .and_then(|t| s.get(t, "kustomize"))
                            .and_then(|k| s.get_str(k, "name"))
                            .map(str::to_owned),
                        at: Location::line(&m.path, s.line(i)),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    AppRef {
        name_pattern: s.get_str(r, "namePattern").unwrap_or("*").to_owned(),
        selector,
        use_annotations: s.get_str(r, "useAnnotations") == Some("true"),
        settings: settings(m, r),
        write_back: write_back(m, r),
        images,
        at: Location::line(&m.path, s.line(r)),
    }
}

/// The Helm key a scalar is the value of: a parameter's `name` (Argo CD
/// `helm.parameters`, also in an override file), else its dotted key path
/// in a values file.
fn helm_key(s: &Stream, node: NodeId) -> String {
    if let Some(parent) = s.nodes[node].parent
        && s.key_of(node).and_then(|k| s.scalar(k)) == Some("value")
        && let Some(name) = s.get_str(parent, "name")
    {
        return name.to_owned();
    }
    let mut keys = Vec::new();
    let mut at = node;
    while let Some(k) = s.key_of(at) {
        keys.push(s.scalar(k).unwrap_or_default().to_owned());
        match s.nodes[at].parent {
            Some(p) => at = p,
            None => break,
        }
    }
    keys.reverse();
    keys.join(".")
}

/// Returns true if and only if `file` is inside directory `dir` (`""`: the root).
fn under(dir: &str, file: &str) -> bool {
    dir.is_empty() || file.starts_with(&format!("{dir}/"))
}

/// `rel` joined to directory `base`, `.` and `..` resolved (`/x` is from the
/// root); a repository path without a leading or trailing `/`.
pub fn join(base: &str, rel: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    let rel = match rel.strip_prefix('/') {
        Some(r) => r,
        None => {
            parts.extend(base.split('/').filter(|p| !p.is_empty() && *p != "."));
            rel
        }
    };
    for p in rel.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// A list of scalars.
fn strings(s: &Stream, list: NodeId) -> Vec<String> {
    s.items(s.resolve(list))
        .iter()
        .filter_map(|&i| s.scalar(s.resolve(i)).map(|v| v.trim().to_owned()))
        .collect()
}

/// A mapping of scalars.
fn string_map(s: &Stream, map: NodeId) -> BTreeMap<String, String> {
    s.entries(map)
        .iter()
        .filter_map(|&(k, v)| Some((s.scalar(k)?.to_owned(), s.scalar(v)?.trim().to_owned())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifests(files: &[(&str, &str)]) -> Vec<Manifest> {
        files
            .iter()
            .map(|(p, t)| Manifest::parse(p, (*t).to_owned()).expect("parses"))
            .collect()
    }

    const APP: &str = "apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: api
  namespace: argocd
  labels:
    team: payments
  annotations:
    argocd-image-updater.argoproj.io/image-list: api=ghcr.io/acme/api:~1.2, ghcr.io/acme/sidecar
    argocd-image-updater.argoproj.io/update-strategy: newest-build
    argocd-image-updater.argoproj.io/api.update-strategy: semver
    argocd-image-updater.argoproj.io/api.platforms: linux/amd64, linux/arm64
    argocd-image-updater.argoproj.io/write-back-method: git:secret:argocd/git
    argocd-image-updater.argoproj.io/write-back-target: kustomization:../base
    argocd-image-updater.argoproj.io/git-branch: main:updates
spec:
  sources:
    - repoURL: https://github.com/acme/gitops.git
      path: ./apps/api/overlays/dev/
      helm:
        valueFiles:
          - values-dev.yaml
          - $values/charts/api/values.yaml
  destination:
    name: edge
";

    #[test]
    fn reads_annotations_with_every_level_merged() {
        let ms = manifests(&[("argocd/api.yaml", APP)]);
        let objects = Objects::read(&ms);
        let app = &objects.applications[0];
        assert_eq!(app.paths, ["apps/api/overlays/dev"]);
        assert_eq!(
            app.value_files,
            [
                "apps/api/overlays/dev/values-dev.yaml",
                "charts/api/values.yaml"
            ]
        );
        assert_eq!(app.destination.0.as_deref(), Some("edge"));
        let (images, findings) = objects.images();
        assert!(findings.is_empty(), "{findings:?}");
        assert_eq!(images.len(), 2);
        let api = &images[0];
        assert_eq!(api.alias.as_deref(), Some("api"));
        assert_eq!(api.constraint.as_deref(), Some("~1.2"));
        assert_eq!(api.method, Method::Git);
        assert_eq!(
            api.target,
            Target::Kustomization("apps/api/overlays/base".into())
        );
        assert_eq!(api.branch, (Some("main".into()), Some("updates".into())));
        let rule = api.rule(Mode::Commit).expect("valid");
        assert_eq!(
            rule.policy.to_string(),
            "semver:~1.2",
            "the alias's own strategy wins"
        );
        assert_eq!(rule.platforms.len(), 2);
        assert_eq!(rule.writer.as_deref(), Some(WRITER));
        assert_eq!(rule.origin.as_ref().and_then(|o| o.line), Some(9));
        // Without an alias, the Application-wide strategy applies.
        let sidecar = images[1].rule(Mode::Commit).expect("valid");
        assert_eq!(sidecar.policy.to_string(), "newest-build");
        assert!(sidecar.platforms.is_empty());
    }

    #[test]
    fn pull_request_keys_name_the_application_and_image_not_a_line() {
        let keys = |app: &str| {
            let kust = "images:\n  - name: ghcr.io/acme/api\n    newTag: 1.2.0\n";
            let ms = manifests(&[
                ("argocd/api.yaml", app),
                ("apps/api/overlays/base/kustomization.yaml", kust),
            ]);
            let objects = Objects::read(&ms);
            let reader = ArgoReader {
                objects: &objects,
                mode: Mode::PullRequest,
            };
            let mut rules = Vec::new();
            let (claims, _) = reader.read(&ms, &mut rules);
            assert!(!claims.is_empty(), "the kustomization is claimed");
            claims
                .iter()
                .map(|c| rules[c.rule].key.clone())
                .collect::<Vec<_>>()
        };
        let before = keys(APP);
        // Lines added above the annotations: the same entries, the same keys.
        let after = keys(&format!("# owned by payments\n# see the runbook\n{APP}"));
        assert_eq!(before, after);
        assert_eq!(
            before,
            ["Application argocd/api alias api (ghcr.io/acme/api)"]
        );
    }

    #[test]
    fn an_image_updater_wins_over_annotations_unless_it_says_use_them() {
        let updater = |use_annotations: bool| {
            format!(
                "apiVersion: argocd-image-updater.argoproj.io/v1alpha1
kind: ImageUpdater
metadata:
  name: u
  namespace: argocd
spec:
  writeBackConfig:
    method: git
  applicationRefs:
    - namePattern: 'ap?'
      useAnnotations: {use_annotations}
      images:
        - alias: api
          imageName: ghcr.io/acme/api:>=2.0
    - namePattern: '*'
      labelSelectors:
        matchExpressions:
          - key: team
            operator: NotIn
            values: [payments]
      images:
        - alias: other
          imageName: ghcr.io/acme/other
"
            )
        };
        let ms = manifests(&[("a.yaml", APP), ("u.yaml", &updater(false))]);
        let objects = Objects::read(&ms);
        let (images, _) = objects.images();
        assert_eq!(images.len(), 1, "{images:?}");
        assert_eq!(images[0].constraint.as_deref(), Some(">=2.0"));
        assert_eq!(images[0].by, "ImageUpdater argocd/u");
        let ms = manifests(&[("a.yaml", APP), ("u.yaml", &updater(true))]);
        let (images, _) = Objects::read(&ms).images();
        assert_eq!(images.len(), 2, "the annotations: {images:?}");
        assert_eq!(images[0].by, "Application argocd/api");
    }

    #[test]
    fn specificity_and_selectors_follow_image_updater() {
        let r = |pattern: &str, labels: usize| AppRef {
            name_pattern: pattern.into(),
            selector: (labels > 0).then(|| Selector {
                labels: (0..labels).map(|i| (format!("k{i}"), "v".into())).collect(),
                expressions: Vec::new(),
            }),
            use_annotations: false,
            settings: Settings::default(),
            write_back: WriteBackSpec::default(),
            images: Vec::new(),
            at: Location::file("x"),
        };
        assert!(r("app-1", 0).specificity() > r("app-*", 3).specificity());
        assert!(r("app-prod-*", 0).specificity() > r("app-*", 0).specificity());
        assert!(r("app-*", 1).specificity() > r("app-prod-*", 0).specificity());
        assert!(r("[ab]pp", 0).specificity() < r("app", 0).specificity());
        let sel = Selector {
            labels: BTreeMap::from([("team".into(), "a".into())]),
            expressions: vec![("env".into(), "In".into(), vec!["dev".into()])],
        };
        let labels = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>()
        };
        assert!(sel.matches(&labels(&[("team", "a"), ("env", "dev")])));
        assert!(!sel.matches(&labels(&[("team", "a"), ("env", "prod")])));
        assert!(!sel.matches(&labels(&[("env", "dev")])));
    }

    #[test]
    fn paths_join_like_image_updater() {
        assert_eq!(join("apps/x/overlays/dev", "../../base"), "apps/x/base");
        assert_eq!(join("apps/x", "/config/bar"), "config/bar");
        assert_eq!(join("", "./values.yaml"), "values.yaml");
        assert_eq!(join(".", "a/"), "a");
        assert_eq!(
            ImageSpec::parse(" web = ghcr.io:443/acme/web:~1.2@sha256:ab "),
            ImageSpec {
                alias: Some("web".into()),
                name: "ghcr.io:443/acme/web".into(),
                constraint: Some("~1.2".into()),
                digest: Some("sha256:ab".into()),
            }
        );
        assert_eq!(ImageSpec::parse("registry:5000/web").constraint, None);
    }

    #[test]
    fn helm_keys_are_parameter_names_or_value_paths() {
        let ms = manifests(&[
            (
                "app.yaml",
                "helm:\n  parameters:\n    - name: api.image.tag\n      value: v1\n",
            ),
            ("values.yaml", "api:\n  image:\n    tag: v1\n"),
        ]);
        let s = &ms[0].stream;
        let value = s.nodes.iter().position(|n| matches!(&n.kind, crate::manifest::tree::Kind::Scalar { value, .. } if value == "v1")).expect("v1");
        assert_eq!(helm_key(s, value), "api.image.tag");
        let s = &ms[1].stream;
        let value = s.nodes.iter().position(|n| matches!(&n.kind, crate::manifest::tree::Kind::Scalar { value, .. } if value == "v1")).expect("v1");
        assert_eq!(helm_key(s, value), "api.image.tag");
    }
}

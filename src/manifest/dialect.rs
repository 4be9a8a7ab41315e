//! Dialect rules: where image references live in Kubernetes, kustomize, Helm,
//! Flux and Argo CD YAML, and where an `image` field is *not* one.
//!
//! Owns the mapping from a parsed [`Stream`] (embedded block-scalar YAML
//! included) to [`Site`]s and Flux setter [`Marker`]s. Does not decide what
//! to change (that is `plan`) and never reads files.
//!
//! Rules, in the order they claim a value:
//! - `workload`: `image` of the items of `containers`, `initContainers` and
//!   `ephemeralContainers` lists at any depth, and `image.reference` of a
//!   pod volume (Kubernetes image volumes).
//! - `kustomize`: `images:` entries of a kustomization or a Flux
//!   `Kustomization`; JSON 6902 patch operations (`add`/`replace`) whose
//!   path ends in a container's `image` or whose value holds containers.
//! - `argocd`: `kustomize.images` and Helm `parameters` of an Argo CD source.
//! - `helm_values`: maps that hold an image as fields: `repository` +
//!   `tag`/`version`/`digest`/`sha` (+ `registry`); an image-named map
//!   (`image`, `*Image`, `*_image`, `*-image`) with `registry`/`repository`/
//!   `image`/`name`/`tag`/`imageTag`/`digest`/`sha` (ingress-nginx's
//!   `{registry, image, tag, digest}`); `image: repo` beside `tag`,
//!   `imageTag` or `version` (+ `registry`, `imageRegistry` or Istio's
//!   `hub`); `imageRegistry` + `imageRepository` + `imageTag`; `<x>Image`
//!   + `<x>ImageTag`. A missing or null tag field is filled.
//! - `flux_marker`: scalars carrying `# {"$imagepolicy": …}`.
//! - `image`: any other `image:` string, unless the object says it is not a
//!   pullable reference (Flux `ImageRepository`, Kargo, skaffold artifacts,
//!   Shipwright outputs, Ceph RBD volumes, compose services that `build`).
//!   A repository without a tag there is completed only where the map is a
//!   container (or a compose/CI service); elsewhere it is refused as
//!   ambiguous, because the tool reading it may add its own tag.

use std::collections::{BTreeMap, HashSet};

use super::tree::{Kind, NodeId, NodeKind, Stream};
use super::{Dialect, Fill, Shape, Site};
use crate::reference::Reference;

/// Upper bound on nodes visited *through aliases*; a billion-laughs
/// document trips it instead of exhausting memory or time. Alias-free files
/// never count against it, however large.
pub const ALIAS_BUDGET: usize = 1_000_000;

/// Why a stream could not be scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanError {
    /// Alias expansion visited more than [`ALIAS_BUDGET`] nodes.
    AliasBudget,
}

/// What the walker needs to know about the file.
pub struct FileHints<'a> {
    /// The file name (last path component).
    pub file_name: &'a str,
    /// Source text, for line-based comment lookups.
    pub text: &'a str,
}

/// Which part of an image a Flux setter marker sets.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MarkerField {
    /// The whole reference (`ns:policy`).
    Image,
    /// The tag (`ns:policy:tag`).
    Tag,
    /// The repository name (`ns:policy:name`).
    Name,
    /// The digest (`ns:policy:digest`).
    Digest,
}

/// A Flux setter comment (`# {"$imagepolicy": "ns:policy[:field]"}`) on a scalar's line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker {
    /// The scalar the marker sets.
    pub node: NodeId,
    /// 0-based document index.
    pub doc: usize,
    /// `namespace:name` of the ImagePolicy.
    pub policy: String,
    /// Which part it sets.
    pub field: MarkerField,
}

/// Finds every image site in `stream` (embedded YAML included), and every
/// Flux setter marker.
pub fn scan(stream: &Stream, hints: &FileHints<'_>) -> Result<(Vec<Site>, Vec<Marker>), ScanError> {
    let mut w = Walker {
        s: stream,
        hints,
        sites: Vec::new(),
        covered: HashSet::new(),
        named: HashSet::new(),
        groups: HashSet::new(),
        visits: 0,
        markers: Vec::new(),
    };
    w.collect_markers();
    for (doc, root) in stream.docs.iter().enumerate() {
        let Some(root) = *root else { continue };
        let ctx = Ctx {
            doc,
            ..Ctx::default()
        };
        w.document(root, ctx, true)?;
    }
    for embed in &stream.embeds {
        let ctx = w.embed_ctx(embed.host);
        for root in embed.docs.iter().flatten() {
            w.document(*root, ctx, false)?;
        }
    }
    w.marker_sites();
    for site in &mut w.sites {
        let mut via: Vec<NodeId> = site
            .slots()
            .iter()
            .flat_map(|&n| stream.aliases_reaching(n))
            .collect();
        via.sort_unstable();
        via.dedup();
        site.via_alias = via;
    }
    Ok((w.sites, w.markers))
}

/// Builds the site a Flux policy's `:tag`/`:digest` markers describe once
/// the policy's image `name` is known (from its ImageRepository), or `None`
/// when no marker of `policy` sets a tag or digest.
pub fn marker_site(stream: &Stream, markers: &[Marker], policy: &str, name: &str) -> Option<Site> {
    let of = |f: MarkerField| {
        markers
            .iter()
            .find(|m| m.policy == policy && m.field == f)
            .map(|m| stream.resolve(m.node))
    };
    let (tag, digest) = (of(MarkerField::Tag), of(MarkerField::Digest));
    let doc = markers
        .iter()
        .find(|m| m.policy == policy && matches!(m.field, MarkerField::Tag | MarkerField::Digest))?
        .doc;
    Some(Site {
        dialect: super::Dialect::FluxMarker,
        doc,
        shape: Shape::Split {
            name: name.to_owned(),
            tag,
            tag_holds_digest: tag
                .and_then(|n| stream.scalar(n))
                .is_some_and(|v| v.contains('@')),
            digest,
            digest_hex_only: false,
            fill: None,
        },
        via_alias: Vec::new(),
        marker: Some(policy.to_owned()),
        names: of(MarkerField::Name).into_iter().collect(),
        unfit: None,
    })
}

const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

/// Keys that make a mapping a container (or a CI/compose job running one),
/// where a repository without a tag means `:latest` and may be completed.
const CONTAINER_KEYS: [&str; 20] = [
    "command",
    "args",
    "env",
    "envFrom",
    "ports",
    "volumeMounts",
    "resources",
    "imagePullPolicy",
    "securityContext",
    "workingDir",
    "script",
    "entrypoint",
    "commands",
    "environment",
    "options",
    "pull_policy",
    "restart",
    "depends_on",
    "livenessProbe",
    "readinessProbe",
];

#[derive(Clone, Copy, Default)]
struct Ctx<'k> {
    doc: usize,
    /// Key under which the current node sits (for a sequence item: none).
    parent_key: Option<&'k str>,
    /// For a sequence item: the key of its sequence.
    item_of: Option<&'k str>,
    argocd: bool,
    /// The document is an Argo CD Application or ApplicationSet.
    argo_doc: bool,
    via_alias: Option<NodeId>,
    /// The document has `apiVersion` and `kind` (a Kubernetes object).
    k8s: bool,
    /// Inside Helm values (a values file, HelmRelease `spec.values`, Argo CD values).
    values: bool,
    /// `image` fields here are repositories, never references (Flux
    /// ImageRepository, Kargo).
    repo_only: bool,
    /// A skaffold configuration (`build.artifacts[].image` is a build output).
    skaffold: bool,
    /// A Shipwright build (`output.image` is a push target).
    shipwright: bool,
    /// The map is a value of a `services:` map (compose, CI services).
    service: bool,
}

struct Walker<'a> {
    s: &'a Stream,
    hints: &'a FileHints<'a>,
    sites: Vec<Site>,
    /// Scalar nodes already claimed as a site's slot.
    covered: HashSet<NodeId>,
    /// Scalar nodes claimed as a split site's name part.
    named: HashSet<NodeId>,
    /// Split sites already made, by (holder, tag, digest).
    groups: HashSet<(NodeId, Option<NodeId>, Option<NodeId>)>,
    /// Nodes visited through aliases.
    visits: usize,
    markers: Vec<Marker>,
}

/// One image described by a mapping's fields.
struct Group {
    /// The mapping.
    map: NodeId,
    /// The image name assembled from the fields.
    name: String,
    tag: Option<NodeId>,
    digest: Option<NodeId>,
    /// The digest field holds bare hex (`sha:`).
    hex_only: bool,
    /// Value nodes of the name fields.
    names: Vec<NodeId>,
    /// Key node a missing tag field would follow.
    after: Option<NodeId>,
    unfit: Option<String>,
}

/// The fields of one mapping that may describe an image.
#[derive(Default)]
struct Fields {
    registry: Option<(NodeId, NodeId)>,
    repository: Option<(NodeId, NodeId)>,
    name: Option<(NodeId, NodeId)>,
    image: Option<(NodeId, NodeId)>,
    tag: Option<(NodeId, NodeId)>,
    image_tag: Option<(NodeId, NodeId)>,
    version: Option<(NodeId, NodeId)>,
    digest: Option<(NodeId, NodeId)>,
    sha: Option<(NodeId, NodeId)>,
    image_registry: Option<(NodeId, NodeId)>,
    image_repository: Option<(NodeId, NodeId)>,
    /// `<x>Image`-style keys with scalar values.
    prefixed: Vec<(NodeId, NodeId)>,
}

impl<'a> Walker<'a> {
    fn document(&mut self, root: NodeId, base: Ctx<'a>, outer: bool) -> Result<(), ScanError> {
        let s = self.s;
        let kind = s.get_str(root, "kind").unwrap_or_default();
        let api = s.get_str(root, "apiVersion").unwrap_or_default();
        let name = self.hints.file_name;
        let kustomization_file = outer
            && matches!(
                name,
                "kustomization.yaml" | "kustomization.yml" | "Kustomization"
            );
        if api.starts_with("kustomize.config.k8s.io/")
            || (kustomization_file
                && (api.is_empty() || api.starts_with("kustomize.config.k8s.io/")))
        {
            if let Some(images) = s.get(root, "images") {
                self.kustomize_images(images, base);
            }
        } else if api.starts_with("kustomize.toolkit.fluxcd.io/")
            && kind == "Kustomization"
            && let Some(images) = s.get(root, "spec").and_then(|sp| s.get(sp, "images"))
        {
            self.kustomize_images(images, base);
        }
        if s.kind(s.resolve(root)) == NodeKind::Seq {
            self.json_patch(root, base)?;
        }
        let k8s = !api.is_empty() && !kind.is_empty();
        let argo =
            api.starts_with("argoproj.io/") && (kind == "Application" || kind == "ApplicationSet");
        let ctx = Ctx {
            argo_doc: argo,
            k8s,
            values: base.values || (!k8s && s.kind(s.resolve(root)) == NodeKind::Map),
            repo_only: (api.starts_with("image.toolkit.fluxcd.io/") && kind == "ImageRepository")
                || api.starts_with("kargo.akuity.io/"),
            skaffold: api.starts_with("skaffold/"),
            shipwright: api.starts_with("shipwright.io/"),
            ..base
        };
        if argo {
            let mut spec = s.get(root, "spec");
            if kind == "ApplicationSet" {
                spec = spec
                    .and_then(|sp| s.get(sp, "template"))
                    .and_then(|t| s.get(t, "spec"));
            }
            if let Some(spec) = spec {
                for source in self.sources(spec) {
                    self.argocd_source(source, ctx);
                }
            }
        } else if outer && name.starts_with(".argocd-source") {
            self.argocd_source(root, ctx);
        }
        self.walk(root, ctx)
    }

    /// The context for the documents embedded in block scalar `host`.
    fn embed_ctx(&self, host: NodeId) -> Ctx<'a> {
        let s = self.s;
        let doc = s.doc_of(host);
        let key = s.key_of(host).and_then(|k| s.scalar(k)).or_else(|| {
            let seq = s.nodes[host].parent?;
            s.key_of(seq).and_then(|k| s.scalar(k))
        });
        let root = s.docs.get(doc).copied().flatten();
        let (api, kind) = root.map_or(("", ""), |r| {
            (
                s.get_str(r, "apiVersion").unwrap_or_default(),
                s.get_str(r, "kind").unwrap_or_default(),
            )
        });
        let argo =
            api.starts_with("argoproj.io/") && (kind == "Application" || kind == "ApplicationSet");
        let values = matches!(key, Some("values" | "valuesContent"))
            || key.is_some_and(|k| k.ends_with(".yaml") || k.ends_with(".yml"));
        Ctx {
            doc,
            argocd: argo && key == Some("values"),
            values,
            ..Ctx::default()
        }
    }

    fn sources(&self, spec: NodeId) -> Vec<NodeId> {
        let mut out: Vec<NodeId> = self.s.get(spec, "source").into_iter().collect();
        if let Some(list) = self.s.get(spec, "sources") {
            out.extend(self.s.items(list));
        }
        out
    }

    fn walk(&mut self, id: NodeId, ctx: Ctx<'a>) -> Result<(), ScanError> {
        let s = self.s;
        let rid = s.resolve(id);
        let ctx = if rid != id {
            Ctx {
                via_alias: ctx.via_alias.or(Some(id)),
                ..ctx
            }
        } else {
            ctx
        };
        if ctx.via_alias.is_some() {
            self.visits += 1;
            if self.visits > ALIAS_BUDGET {
                return Err(ScanError::AliasBudget);
            }
        }
        match &s.nodes[rid].kind {
            Kind::Map(_) => {
                let merged = s
                    .entries(rid)
                    .iter()
                    .any(|&(k, _)| s.scalar(k) == Some("<<"));
                let owned;
                let pairs: &[(NodeId, NodeId)] = if merged {
                    owned = s.pairs(rid);
                    &owned
                } else {
                    s.entries(rid)
                };
                if !ctx.repo_only {
                    self.helm_maps(rid, pairs, ctx);
                }
                for &(k, v) in pairs {
                    let Some(key) = s.scalar(k) else {
                        continue;
                    };
                    if CONTAINER_LISTS.contains(&key) {
                        for &item in s.items(v) {
                            if let Some(image) = s.get(item, "image") {
                                self.full(image, Dialect::Workload, ctx, 0, None);
                            }
                        }
                    } else if key == "volumes" {
                        // Kubernetes image volumes: `image: {reference: repo:tag}`.
                        for &item in s.items(v) {
                            if let Some(r) =
                                s.get(item, "image").and_then(|i| s.get(i, "reference"))
                            {
                                self.full(r, Dialect::Workload, ctx, 0, None);
                            }
                        }
                    }
                }
                for &(k, v) in pairs {
                    let key = s.scalar(k);
                    if key == Some("image") && s.scalar(v).is_some() {
                        self.image_field(pairs, v, ctx);
                    }
                    // `valuesObject` of an Argo CD source is Helm values.
                    let argocd = ctx.argocd || (ctx.argo_doc && key == Some("valuesObject"));
                    let values = ctx.values
                        || argocd
                        || (ctx.k8s && matches!(key, Some("values" | "valuesInline")));
                    self.walk(
                        v,
                        Ctx {
                            parent_key: key,
                            item_of: None,
                            argocd,
                            values,
                            service: ctx.parent_key == Some("services"),
                            ..ctx
                        },
                    )?;
                }
            }
            Kind::Seq(items) => {
                for &item in items {
                    self.walk(
                        item,
                        Ctx {
                            parent_key: None,
                            item_of: ctx.parent_key,
                            service: false,
                            ..ctx
                        },
                    )?;
                }
            }
            Kind::Scalar { .. } | Kind::Alias(_) => {}
        }
        Ok(())
    }

    /// A generic `image:` string of mapping `map`.
    fn image_field(&mut self, pairs: &[(NodeId, NodeId)], v: NodeId, ctx: Ctx<'a>) {
        let s = self.s;
        let rv = s.resolve(v);
        // Claimed already: a container's image, or a split site's name part.
        if self.named.contains(&rv) || self.covered.contains(&rv) {
            return;
        }
        // Objects whose `image` is a repository or a build output, never a
        // reference to pull: Flux ImageRepository (a tag is rejected),
        // skaffold `build.artifacts[].image`, Shipwright `output.image`,
        // Ceph RBD volumes, compose services built from source.
        let key = |k: &str| pairs.iter().any(|&(pk, _)| s.scalar(pk) == Some(k));
        if ctx.repo_only
            || ctx.parent_key == Some("rbd")
            || (ctx.skaffold && ctx.item_of == Some("artifacts"))
            || (ctx.shipwright && ctx.parent_key == Some("output"))
            || key("build")
        {
            return;
        }
        let value = s.scalar(rv).unwrap_or_default();
        let untagged =
            Reference::parse(value).is_ok_and(|r| r.tag().is_none() && r.digest().is_none());
        let pullable = ctx.service
            || (ctx.item_of.is_some() && key("name"))
            || ctx
                .parent_key
                .is_some_and(|k| k.to_ascii_lowercase().ends_with("container"))
            || CONTAINER_KEYS.iter().any(|k| key(k));
        let unfit = (untagged && !pullable).then(|| {
            "`image` holds a repository without a tag, and nothing here says the tag belongs in it \
             (the chart or tool reading it may add its own); write the tag by hand or add a `tag` field"
                .to_owned()
        });
        self.full(v, Dialect::Image, ctx, 0, unfit);
    }

    /// A scalar holding `name[:tag][@digest]`, after `prefix_len` bytes of an
    /// Argo CD `alias=` prefix.
    fn full(
        &mut self,
        node: NodeId,
        dialect: Dialect,
        ctx: Ctx<'_>,
        prefix_len: usize,
        unfit: Option<String>,
    ) {
        let rid = self.s.resolve(node);
        let Some(value) = self.s.scalar(rid) else {
            return;
        };
        if value.len() < prefix_len || self.s.is_null(rid) || value.is_empty() {
            return;
        }
        let dialect = if ctx.argocd && dialect != Dialect::Kustomize {
            Dialect::ArgoCd
        } else {
            dialect
        };
        if !self.covered.insert(rid) {
            return;
        }
        self.sites.push(Site {
            dialect,
            doc: ctx.doc,
            shape: Shape::Full {
                slot: rid,
                prefix_len,
            },
            via_alias: Vec::new(),
            marker: None,
            names: Vec::new(),
            unfit,
        });
    }

    fn kustomize_images(&mut self, images: NodeId, ctx: Ctx<'_>) {
        let s = self.s;
        for &entry in s.items(images) {
            let field = |k: &str| {
                s.get(entry, k)
                    .filter(|&n| s.scalar(n).is_some() && !s.is_null(n))
            };
            // A null `newTag:`/`digest:` is still the field: it is filled in place.
            let slot = |k: &str| s.get(entry, k).filter(|&n| s.scalar(n).is_some());
            let (name, new_name, new_tag, digest) = (
                field("name"),
                field("newName"),
                slot("newTag"),
                slot("digest"),
            );
            let Some(effective) = new_name.or(name).and_then(|n| s.scalar(n)) else {
                continue;
            };
            let after = ["newName", "name"]
                .iter()
                .find_map(|k| key_node(s, entry, k));
            let shape = Shape::Split {
                name: effective.to_owned(),
                tag: new_tag,
                tag_holds_digest: false,
                digest,
                digest_hex_only: false,
                fill: after.map(|after| Fill {
                    map: s.resolve(entry),
                    tag_key: "newTag",
                    digest_key: Some("digest"),
                    after,
                }),
            };
            let names = name.into_iter().chain(new_name).collect();
            self.push_split(
                s.resolve(entry),
                shape,
                names,
                Dialect::Kustomize,
                ctx,
                None,
            );
        }
    }

    /// JSON 6902 patch operations (a kustomize `patches` target):
    /// `{op: replace|add, path: …/containers/0/image, value: repo:tag}`, or
    /// a value holding containers.
    fn json_patch(&mut self, root: NodeId, ctx: Ctx<'a>) -> Result<(), ScanError> {
        let s = self.s;
        for &op in s.items(root) {
            let (Some(kind), Some(path), Some(value)) = (
                s.get_str(op, "op"),
                s.get_str(op, "path"),
                s.get(op, "value"),
            ) else {
                continue;
            };
            if !matches!(kind, "add" | "replace") {
                continue;
            }
            let segs: Vec<String> = path
                .split('/')
                .skip(1)
                .map(|p| p.replace("~1", "/").replace("~0", "~"))
                .collect();
            let seg = |back: usize| -> Option<&str> {
                segs.len()
                    .checked_sub(back)
                    .and_then(|i| segs.get(i))
                    .map(String::as_str)
            };
            let index = |p: Option<&str>| p.is_some_and(|p| p == "-" || p.parse::<usize>().is_ok());
            let container_item = |back: usize| {
                index(seg(back)) && seg(back + 1).is_some_and(|l| CONTAINER_LISTS.contains(&l))
            };
            match s.kind(s.resolve(value)) {
                NodeKind::Scalar if seg(1) == Some("image") && container_item(2) => {
                    self.full(value, Dialect::Kustomize, ctx, 0, None);
                }
                NodeKind::Scalar if seg(1) == Some("reference") && seg(2) == Some("image") => {
                    self.full(value, Dialect::Kustomize, ctx, 0, None);
                }
                NodeKind::Map if container_item(1) => {
                    if let Some(image) = s.get(value, "image") {
                        self.full(image, Dialect::Kustomize, ctx, 0, None);
                    }
                }
                NodeKind::Seq if seg(1).is_some_and(|l| CONTAINER_LISTS.contains(&l)) => {
                    for &item in s.items(value) {
                        if let Some(image) = s.get(item, "image") {
                            self.full(image, Dialect::Kustomize, ctx, 0, None);
                        }
                    }
                }
                NodeKind::Map | NodeKind::Seq => {
                    let last = seg(1).filter(|l| !index(Some(l)));
                    let parent_key = last.and_then(|l| {
                        // The key must outlive the walk: find it in the path scalar.
                        let p = s.get_str(op, "path")?;
                        let at = p.rfind(l)?;
                        p.get(at..at + l.len())
                    });
                    self.walk(value, Ctx { parent_key, ..ctx })?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn argocd_source(&mut self, source: NodeId, ctx: Ctx<'_>) {
        let s = self.s;
        let ctx = Ctx {
            argocd: true,
            ..ctx
        };
        if let Some(images) = s.get(source, "kustomize").and_then(|k| s.get(k, "images")) {
            for &item in s.items(images) {
                let Some(value) = s.scalar(item) else {
                    continue;
                };
                // `alias=name:tag`: the part after `=` is the image.
                let prefix_len = value.find('=').map_or(0, |i| i + 1);
                self.full(item, Dialect::ArgoCd, ctx, prefix_len, None);
            }
        }
        let Some(helm) = s.get(source, "helm") else {
            return;
        };
        if let Some(params) = s.get(helm, "parameters") {
            self.argocd_parameters(params, ctx);
        }
    }

    /// Helm parameters `image.repository` + `image.tag` form one image per prefix.
    fn argocd_parameters(&mut self, params: NodeId, ctx: Ctx<'_>) {
        let s = self.s;
        let mut groups: BTreeMap<String, BTreeMap<String, NodeId>> = BTreeMap::new();
        for &item in s.items(params) {
            let (Some(name), Some(value)) = (s.get_str(item, "name"), s.get(item, "value")) else {
                continue;
            };
            if s.scalar(value).is_none() {
                continue;
            }
            match name.rsplit_once('.') {
                Some((prefix, field))
                    if matches!(field, "repository" | "registry" | "tag" | "digest" | "name") =>
                {
                    groups
                        .entry(prefix.to_owned())
                        .or_default()
                        .insert(field.to_owned(), value);
                }
                _ if name.to_ascii_lowercase().contains("image") => {
                    self.full(value, Dialect::ArgoCd, ctx, 0, None)
                }
                _ => {}
            }
        }
        for fields in groups.values() {
            let name_nodes: Vec<NodeId> = ["registry", "repository", "name"]
                .iter()
                .filter_map(|f| fields.get(*f).copied())
                .collect();
            // `image.name: repo:tag` alone is a whole reference.
            if fields.len() == 1 && name_nodes.len() == 1 {
                let node = name_nodes[0];
                if s.scalar(node).is_some_and(|v| v.contains([':', '@'])) {
                    self.full(node, Dialect::ArgoCd, ctx, 0, None);
                    continue;
                }
            }
            let text = |f: &str| {
                fields
                    .get(f)
                    .and_then(|&n| s.scalar(n))
                    .filter(|v| !v.is_empty())
            };
            let repo = text("repository")
                .or_else(|| text("name"))
                .unwrap_or_default();
            let name = join_registry(text("registry"), repo);
            let (tag, digest) = (fields.get("tag").copied(), fields.get("digest").copied());
            let holder = name_nodes.first().copied().or(tag).or(digest);
            let Some(holder) = holder else { continue };
            let shape = Shape::Split {
                name,
                tag,
                tag_holds_digest: false,
                digest,
                digest_hex_only: false,
                fill: None,
            };
            self.push_split(holder, shape, name_nodes, Dialect::ArgoCd, ctx, None);
        }
    }

    /// Helm values: maps that describe an image as separate fields.
    ///
    /// Shapes (surveyed in bitnami, ingress-nginx, prometheus-community,
    /// grafana, cert-manager, argo-cd, elastic, gitlab-runner, rancher and
    /// the old `stable` charts):
    /// 1. `repository` + `tag`/`version`/`digest`/`sha`, optional `registry`;
    /// 2. any of `registry`/`repository`/`image`/`name`/`tag`/`digest`/`sha`
    ///    under an image-named key (`image`, `*Image`, `*_image`, `*-image`),
    ///    so `image: {registry, image, tag, digest}` (ingress-nginx) too;
    /// 3. `image: repo` beside `tag`, `imageTag` or `version` (and
    ///    `registry`/`imageRegistry`, or Istio's `hub`), flat in any map;
    /// 4. `imageRepository` + `imageTag` (+ `imageRegistry`), and
    ///    `<x>Image` + `<x>ImageTag`/`<x>Tag` pairs.
    ///
    /// A map that could mean two things (a tagged `image` beside a tag
    /// field, two tag fields, a path-like `repository` beside `image`) is
    /// still a site, marked [`Site::unfit`], so the planner refuses it.
    fn helm_maps(&mut self, map: NodeId, pairs: &[(NodeId, NodeId)], ctx: Ctx<'_>) {
        if matches!(self.hints.file_name, "Chart.yaml" | "requirements.yaml") {
            return;
        }
        let s = self.s;
        let mut f = Fields::default();
        for &(k, v) in pairs {
            let Some(key) = s.scalar(k) else { continue };
            if s.scalar(v).is_none() {
                continue;
            }
            let slot = Some((k, v));
            match key {
                "registry" => f.registry = slot,
                "repository" => f.repository = slot,
                "name" => f.name = slot,
                "image" => f.image = slot,
                "tag" => f.tag = slot,
                "imageTag" | "image_tag" => f.image_tag = slot,
                "version" => f.version = slot,
                "digest" => f.digest = slot,
                "sha" => f.sha = slot,
                // Istio's per-component `hub` is the registry and organization.
                "imageRegistry" | "image_registry" | "hub" => f.image_registry = slot,
                "imageRepository" | "image_repository" => f.image_repository = slot,
                other if image_named(other) => f.prefixed.push((k, v)),
                _ => {}
            }
        }
        let text = |n: Option<(NodeId, NodeId)>| {
            n.and_then(|(_, v)| s.scalar(v))
                .filter(|v| !v.is_empty() && !is_null_text(v))
        };
        let not_url = |r: &str| {
            !r.contains("://")
                && !r.starts_with('@')
                && !r.starts_with("oci:")
                && !r.starts_with("file:")
        };
        let dialect = if ctx.argocd {
            Dialect::ArgoCd
        } else {
            Dialect::HelmValues
        };
        let image_key = ctx.parent_key.is_some_and(image_named);
        let repo_ok = f
            .repository
            .is_some_and(|(_, v)| s.scalar(v).is_some_and(not_url));
        let any_version = f
            .tag
            .or(f.image_tag)
            .or(f.version)
            .or(f.digest)
            .or(f.sha)
            .is_some();
        // Shapes 1 and 2: the map itself is the image.
        if (repo_ok && any_version)
            || (image_key
                && (any_version
                    || f.registry.is_some()
                    || f.repository.is_some()
                    || f.name.is_some()
                    || f.image.is_some()))
        {
            let mut unfit = None;
            let repository = text(f.repository).filter(|r| not_url(r));
            let image = text(f.image);
            // The path comes from `repository`, else `image` (ingress-nginx),
            // else `name` (image maps only). A host-like `repository` beside
            // `image` is the registry.
            let (registry, path) = match (repository, image) {
                (Some(r), Some(i)) if f.registry.is_none() && is_host(r) => (Some(r), i),
                (Some(r), Some(_)) => {
                    unfit = Some(
                        "the map has both `repository` and `image`; it is unclear which one names the image".to_owned(),
                    );
                    (text(f.registry), r)
                }
                (Some(r), None) => (text(f.registry), r),
                (None, Some(i)) => (text(f.registry), i),
                (None, None) => (
                    text(f.registry),
                    if image_key {
                        text(f.name).unwrap_or_default()
                    } else {
                        ""
                    },
                ),
            };
            if let Some(i) = image
                && has_version(i)
                && f.tag.or(f.image_tag).or(f.version).is_some()
                && unfit.is_none()
            {
                unfit = Some(format!(
                    "`image: {i}` carries its own tag beside a tag field; it is unclear which one is used"
                ));
            }
            let name = join_registry(registry, name_part(path));
            let tag_node = f.tag.or(f.image_tag).or(f.version).map(|(_, v)| v);
            if f.tag.is_some() && f.image_tag.is_some() && unfit.is_none() {
                unfit = Some(
                    "the map has both `tag` and `imageTag`; it is unclear which one is used"
                        .to_owned(),
                );
            }
            let (digest_node, hex_only) = match (f.digest, f.sha) {
                (Some((_, d)), _) => (Some(d), false),
                (None, Some((_, sh))) => (Some(sh), true),
                (None, None) => (None, false),
            };
            let after = [f.image, f.repository, f.name, f.registry]
                .iter()
                .flatten()
                .map(|&(k, _)| k)
                .max_by_key(|&k| s.nodes[k].span.start);
            let names: Vec<NodeId> = [f.registry, f.repository, f.name, f.image]
                .iter()
                .flatten()
                .map(|&(_, v)| v)
                .collect();
            self.split_group(
                Group {
                    map,
                    name,
                    tag: tag_node,
                    digest: digest_node,
                    hex_only,
                    names,
                    after,
                    unfit,
                },
                dialect,
                ctx,
            );
            return;
        }
        // Shape 3: `image: repo` beside a tag field.
        if let Some((ik, iv)) = f.image
            && !self.covered.contains(&s.resolve(iv))
        {
            let tags: Vec<(NodeId, NodeId)> = [f.tag, f.image_tag, f.version]
                .into_iter()
                .flatten()
                .collect();
            if let Some(&(_, tag)) = tags.first() {
                let image = text(f.image).unwrap_or_default();
                let mut unfit = None;
                if tags.len() > 1 {
                    unfit = Some(format!(
                        "`image` has {} tag fields beside it; it is unclear which one is used",
                        tags.len()
                    ));
                } else if has_version(image) {
                    unfit = Some(format!(
                        "`image: {image}` carries its own tag beside a tag field; it is unclear which one is used"
                    ));
                } else if f.version.is_some() && !ctx.values {
                    unfit = Some(
                        "`version` beside `image` may be the application's version, not the image tag".to_owned(),
                    );
                }
                let registry = text(f.registry).or(text(f.image_registry));
                let image = name_part(image);
                let digest = f.digest.map(|(_, d)| d);
                let names: Vec<NodeId> = [f.registry.or(f.image_registry), Some((ik, iv))]
                    .iter()
                    .flatten()
                    .map(|&(_, v)| v)
                    .collect();
                let name = join_registry(registry, image);
                self.split_group(
                    Group {
                        map,
                        name,
                        tag: Some(tag),
                        digest,
                        hex_only: false,
                        names,
                        after: Some(ik),
                        unfit,
                    },
                    dialect,
                    ctx,
                );
            }
        }
        // Shape 4: `imageRepository` + `imageTag`.
        if let (Some((rk, rv)), Some((_, tv))) = (f.image_repository, f.image_tag.or(f.tag))
            && f.image.is_none()
        {
            let registry = text(f.image_registry).or(text(f.registry));
            let name = join_registry(registry, text(f.image_repository).unwrap_or_default());
            let names: Vec<NodeId> = [f.image_registry.or(f.registry), Some((rk, rv))]
                .iter()
                .flatten()
                .map(|&(_, v)| v)
                .collect();
            self.split_group(
                Group {
                    map,
                    name,
                    tag: Some(tv),
                    digest: None,
                    hex_only: false,
                    names,
                    after: Some(rk),
                    unfit: None,
                },
                dialect,
                ctx,
            );
        }
        // Shape 4: `<x>Image` + `<x>ImageTag` / `<x>Tag`.
        for &(k, v) in &f.prefixed {
            let Some(key) = s.scalar(k) else { continue };
            let stem = key
                .strip_suffix("Image")
                .or_else(|| key.strip_suffix("_image"))
                .or_else(|| key.strip_suffix("-image"))
                .unwrap_or(key);
            let partner = [
                format!("{key}Tag"),
                format!("{key}_tag"),
                format!("{key}-tag"),
                format!("{stem}Tag"),
            ]
            .into_iter()
            .find_map(|t| s.get(map, &t).filter(|&n| s.scalar(n).is_some()));
            let Some(tag) = partner else { continue };
            let image = s.scalar(v).unwrap_or_default();
            let unfit = has_version(image).then(|| {
                format!("`{key}: {image}` carries its own tag beside a tag field; it is unclear which one is used")
            });
            self.split_group(
                Group {
                    map,
                    name: name_part(image).to_owned(),
                    tag: Some(tag),
                    digest: None,
                    hex_only: false,
                    names: vec![v],
                    after: Some(k),
                    unfit,
                },
                dialect,
                ctx,
            );
        }
    }

    fn split_group(&mut self, g: Group, dialect: Dialect, ctx: Ctx<'_>) {
        let Group {
            map,
            name,
            tag,
            digest,
            hex_only,
            names,
            after,
            unfit,
        } = g;
        let s = self.s;
        // Claimed already as a whole reference (a container's `image`): not a name part.
        if names.iter().any(|&n| self.covered.contains(&s.resolve(n))) && tag.is_none() {
            return;
        }
        let tag_holds_digest = tag
            .and_then(|n| s.scalar(n))
            .is_some_and(|v| v.contains('@'));
        let fill = after.map(|after| Fill {
            map,
            tag_key: "tag",
            digest_key: None,
            after,
        });
        let shape = Shape::Split {
            name,
            tag,
            tag_holds_digest,
            digest,
            digest_hex_only: hex_only,
            fill,
        };
        self.push_split(map, shape, names, dialect, ctx, unfit);
    }

    fn push_split(
        &mut self,
        holder: NodeId,
        shape: Shape,
        names: Vec<NodeId>,
        dialect: Dialect,
        ctx: Ctx<'_>,
        unfit: Option<String>,
    ) {
        let s = self.s;
        let Shape::Split {
            name,
            tag,
            tag_holds_digest,
            digest,
            digest_hex_only,
            fill,
        } = shape
        else {
            return;
        };
        let (tag, digest) = (tag.map(|n| s.resolve(n)), digest.map(|n| s.resolve(n)));
        // The same fields reached again (through an alias of their map) are the same site.
        if !self.groups.insert((s.resolve(holder), tag, digest)) {
            return;
        }
        self.covered
            .extend(tag.iter().chain(digest.iter()).copied());
        self.named.extend(names.iter().map(|&n| s.resolve(n)));
        self.sites.push(Site {
            dialect,
            doc: ctx.doc,
            shape: Shape::Split {
                name,
                tag,
                tag_holds_digest,
                digest,
                digest_hex_only,
                fill,
            },
            via_alias: Vec::new(),
            marker: None,
            names,
            unfit,
        });
    }

    /// Flux setters: `# {"$imagepolicy": "ns:name[:tag|:name|:digest]"}` right
    /// after a scalar on its line.
    fn collect_markers(&mut self) {
        let text = self.hints.text;
        if !text.contains("$imagepolicy") {
            return;
        }
        let s = self.s;
        let mut comments = s.comments.iter().peekable();
        let mut scalars: Vec<(usize, NodeId)> = s
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| matches!(n.kind, Kind::Scalar { .. }))
            .map(|(i, n)| (n.span.end, i))
            .collect();
        scalars.sort_unstable();
        for (end, node) in scalars {
            while comments.peek().is_some_and(|c| c.span.start < end) {
                comments.next();
            }
            let Some(comment) = comments.peek() else {
                break;
            };
            let between = &text.get(end..comment.span.start).unwrap_or("x");
            if !between.chars().all(|c| c == ' ' || c == '\t') {
                continue;
            }
            let Some((policy, field)) = parse_marker(&comment.text) else {
                continue;
            };
            self.markers.push(Marker {
                node,
                doc: s.doc_of(node),
                policy,
                field,
            });
        }
    }

    fn marker_sites(&mut self) {
        let s = self.s;
        let markers = self.markers.clone();
        for m in markers.iter().filter(|m| m.field == MarkerField::Image) {
            let ctx = Ctx {
                doc: m.doc,
                ..Ctx::default()
            };
            if !self.covered.contains(&s.resolve(m.node)) {
                self.full(m.node, Dialect::FluxMarker, ctx, 0, None);
            }
        }
        // Markers of one policy describe one image, file-wide (Flux applies
        // a policy wherever its marker appears).
        let mut groups: BTreeMap<&str, [Option<&Marker>; 4]> = BTreeMap::new();
        for m in &markers {
            let slot = match m.field {
                MarkerField::Name => 0,
                MarkerField::Tag => 1,
                MarkerField::Digest => 2,
                MarkerField::Image => 3,
            };
            groups.entry(m.policy.as_str()).or_default()[slot].get_or_insert(m);
        }
        for [name, tag, digest, image] in groups.values() {
            // Only slots no other rule claimed: Flux's `newDigest` beside a
            // kustomize entry's `newTag` becomes its own digest-only site.
            let loose = |m: &Option<&Marker>| {
                m.map(|m| s.resolve(m.node))
                    .filter(|n| !self.covered.contains(n))
            };
            let (tag_node, digest_node) = (loose(tag), loose(digest));
            let Some(doc) = tag.or(*digest).map(|m| m.doc) else {
                continue;
            };
            let from_image = image
                .and_then(|m| s.scalar(m.node))
                .and_then(|v| Reference::parse(v).ok())
                .map(|r| r.name_as_written().to_owned());
            // Without a name, the marker waits for its ImagePolicy's
            // repository (see `marker_site`).
            let Some(name_text) = name
                .and_then(|m| s.scalar(m.node))
                .map(str::to_owned)
                .or(from_image)
            else {
                continue;
            };
            let Some(holder) = tag_node.or(digest_node) else {
                continue;
            };
            let shape = Shape::Split {
                name: name_text,
                tag: tag_node,
                tag_holds_digest: tag_node
                    .and_then(|n| s.scalar(n))
                    .is_some_and(|v| v.contains('@')),
                digest: digest_node,
                digest_hex_only: false,
                fill: None,
            };
            let names = name.map(|m| m.node).into_iter().collect();
            self.push_split(
                holder,
                shape,
                names,
                Dialect::FluxMarker,
                Ctx {
                    doc,
                    ..Ctx::default()
                },
                None,
            );
        }
        for m in &markers {
            let node = s.resolve(m.node);
            for site in &mut self.sites {
                if site.marker.is_none() && site.slots().contains(&node) {
                    site.marker = Some(m.policy.clone());
                }
            }
        }
    }
}

/// Returns true if and only if `key` names an image by convention: `image`,
/// `*Image`, `*_image`, `*-image`.
fn image_named(key: &str) -> bool {
    key == "image" || key.ends_with("Image") || key.ends_with("_image") || key.ends_with("-image")
}

/// The name of a reference written with a tag or digest (`mysql` of
/// `mysql:5.7`), or the text itself.
fn name_part(value: &str) -> &str {
    match Reference::parse(value) {
        Ok(r) if r.tag().is_some() || r.digest().is_some() => {
            let n = r.name_as_written().len();
            &value[..n.min(value.len())]
        }
        _ => value,
    }
}

/// Returns true if and only if a reference string carries a tag or digest.
fn has_version(value: &str) -> bool {
    Reference::parse(value).is_ok_and(|r| r.tag().is_some() || r.digest().is_some())
}

/// Returns true if and only if `value` is a registry host (`ghcr.io`,
/// `localhost:5000`) rather than a repository path.
fn is_host(value: &str) -> bool {
    !value.contains('/')
        && crate::reference::is_domain(value)
        && (value.contains(['.', ':']) || value == "localhost")
}

fn is_null_text(v: &str) -> bool {
    matches!(v, "~" | "null" | "Null" | "NULL")
}

fn join_registry(registry: Option<&str>, path: &str) -> String {
    match registry {
        Some(reg) if !path.is_empty() => format!("{}/{}", reg.trim_end_matches('/'), path),
        Some(reg) => format!("{}/", reg.trim_end_matches('/')),
        None => path.to_owned(),
    }
}

/// The key node of `key` among a mapping's own pairs.
fn key_node(s: &Stream, map: NodeId, key: &str) -> Option<NodeId> {
    s.entries(map)
        .iter()
        .find(|&&(k, _)| s.scalar(k) == Some(key))
        .map(|&(k, _)| k)
}

/// Parses a Flux setter comment body into (policy, field).
fn parse_marker(comment: &str) -> Option<(String, MarkerField)> {
    let body = comment.trim();
    let inner = body.strip_prefix('{')?.strip_suffix('}')?.trim();
    let rest = inner
        .strip_prefix("\"$imagepolicy\"")?
        .trim_start()
        .strip_prefix(':')?
        .trim();
    let value = rest.strip_prefix('"')?.strip_suffix('"')?;
    let mut parts = value.split(':');
    let (ns, name) = (parts.next()?, parts.next()?);
    let field = match parts.next() {
        None => MarkerField::Image,
        Some("tag") => MarkerField::Tag,
        Some("name") => MarkerField::Name,
        Some("digest") => MarkerField::Digest,
        Some(_) => return None,
    };
    if parts.next().is_some() || ns.is_empty() || name.is_empty() {
        return None;
    }
    Some((format!("{ns}:{name}"), field))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_markers() {
        assert_eq!(
            parse_marker(r#" {"$imagepolicy": "flux-system:app"}"#),
            Some(("flux-system:app".into(), MarkerField::Image))
        );
        assert_eq!(
            parse_marker(r#" {"$imagepolicy": "ns:app:tag"}"#),
            Some(("ns:app".into(), MarkerField::Tag))
        );
        assert_eq!(parse_marker(r#" {"$imagepolicy": "ns:app:bogus"}"#), None);
        assert_eq!(parse_marker(r#" {"$openapi": "image-tag"}"#), None);
    }

    #[test]
    fn registry_hosts_are_told_from_paths() {
        assert!(is_host("ghcr.io"));
        assert!(is_host("localhost:5000"));
        assert!(!is_host("bitnami/nginx"));
        assert!(!is_host("nginx"));
    }
}

//! Dialect rules: where image references live in Kubernetes, kustomize, Helm,
//! Flux and Argo CD YAML.
//!
//! Owns the mapping from a parsed [`Stream`] to [`Site`]s. Does not decide
//! what to change (that is `plan`) and never reads files.

use std::collections::{BTreeMap, HashSet};

use super::tree::{Kind, NodeId, Stream};
use super::{Dialect, Shape, Site};
use crate::reference::Reference;

/// Upper bound on nodes visited while following aliases; a billion-laughs
/// document trips it instead of exhausting memory or time.
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

/// Finds every image site in `stream`, and every Flux setter marker.
pub fn scan(stream: &Stream, hints: &FileHints<'_>) -> Result<(Vec<Site>, Vec<Marker>), ScanError> {
    let mut w = Walker {
        s: stream,
        hints,
        sites: Vec::new(),
        covered: HashSet::new(),
        visits: 0,
        markers: Vec::new(),
    };
    w.collect_markers();
    for (doc, root) in stream.docs.iter().enumerate() {
        let Some(root) = *root else { continue };
        w.document(doc, root)?;
    }
    w.marker_sites();
    Ok((w.sites, w.markers))
}

const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

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

#[derive(Clone, Copy, Default)]
struct Ctx<'k> {
    doc: usize,
    parent_key: Option<&'k str>,
    argocd: bool,
    /// The document is an Argo CD Application or ApplicationSet.
    argo_doc: bool,
    via_alias: Option<NodeId>,
}

struct Walker<'a> {
    s: &'a Stream,
    hints: &'a FileHints<'a>,
    sites: Vec<Site>,
    /// Scalar nodes already claimed by a site.
    covered: HashSet<NodeId>,
    visits: usize,
    markers: Vec<Marker>,
}

impl<'a> Walker<'a> {
    fn document(&mut self, doc: usize, root: NodeId) -> Result<(), ScanError> {
        let ctx = Ctx {
            doc,
            ..Ctx::default()
        };
        let kind = self.get_str(root, "kind").unwrap_or_default();
        let api = self.get_str(root, "apiVersion").unwrap_or_default();
        let name = self.hints.file_name;
        let kustomization_file = matches!(
            name,
            "kustomization.yaml" | "kustomization.yml" | "Kustomization"
        );
        if api.starts_with("kustomize.config.k8s.io/")
            || (kustomization_file
                && (api.is_empty() || api.starts_with("kustomize.config.k8s.io/")))
        {
            if let Some(images) = self.get(root, "images") {
                self.kustomize_images(images, ctx);
            }
        } else if api.starts_with("kustomize.toolkit.fluxcd.io/")
            && kind == "Kustomization"
            && let Some(images) = self.get(root, "spec").and_then(|s| self.get(s, "images"))
        {
            self.kustomize_images(images, ctx);
        }
        let argo =
            api.starts_with("argoproj.io/") && (kind == "Application" || kind == "ApplicationSet");
        let ctx = Ctx {
            argo_doc: argo,
            ..ctx
        };
        if argo {
            let mut spec = self.get(root, "spec");
            if kind == "ApplicationSet" {
                spec = spec
                    .and_then(|s| self.get(s, "template"))
                    .and_then(|t| self.get(t, "spec"));
            }
            if let Some(spec) = spec {
                for source in self.sources(spec) {
                    self.argocd_source(source, ctx);
                }
            }
        } else if name.starts_with(".argocd-source") {
            self.argocd_source(root, ctx);
        }
        self.walk(root, ctx)
    }

    fn sources(&self, spec: NodeId) -> Vec<NodeId> {
        let mut out: Vec<NodeId> = self.get(spec, "source").into_iter().collect();
        if let Some(list) = self.get(spec, "sources") {
            out.extend(self.items(list));
        }
        out
    }

    fn walk(&mut self, id: NodeId, ctx: Ctx<'_>) -> Result<(), ScanError> {
        self.visits += 1;
        if self.visits > ALIAS_BUDGET {
            return Err(ScanError::AliasBudget);
        }
        let rid = self.s.resolve(id);
        let ctx = if rid != id {
            Ctx {
                via_alias: ctx.via_alias.or(Some(id)),
                ..ctx
            }
        } else {
            ctx
        };
        match &self.s.nodes[rid].kind {
            Kind::Map(_) => {
                self.helm_group(rid, ctx);
                let pairs = self.pairs(rid);
                for &(k, v) in &pairs {
                    let Some(key) = self.s.scalar(k) else {
                        continue;
                    };
                    if CONTAINER_LISTS.contains(&key) {
                        for item in self.items(v) {
                            if let Some(image) = self.get(item, "image") {
                                self.full(image, Dialect::Workload, ctx, 0);
                            }
                        }
                    }
                }
                for &(k, v) in &pairs {
                    let key = self.s.scalar(k);
                    if key == Some("image") && self.s.scalar(v).is_some() {
                        self.full(v, Dialect::Image, ctx, 0);
                    }
                    // `valuesObject` of an Argo CD source is Helm values.
                    let argocd = ctx.argocd || (ctx.argo_doc && key == Some("valuesObject"));
                    self.walk(
                        v,
                        Ctx {
                            parent_key: key,
                            argocd,
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
                            ..ctx
                        },
                    )?;
                }
            }
            Kind::Scalar { .. } | Kind::Alias(_) => {}
        }
        Ok(())
    }

    /// A scalar holding `name[:tag][@digest]`, after `prefix_len` bytes of an
    /// Argo CD `alias=` prefix.
    fn full(&mut self, node: NodeId, dialect: Dialect, ctx: Ctx<'_>, prefix_len: usize) {
        let rid = self.s.resolve(node);
        let Some(value) = self.s.scalar(rid) else {
            return;
        };
        if value.len() < prefix_len || self.s.is_null(rid) {
            return;
        }
        let dialect = if ctx.argocd && dialect != Dialect::Kustomize {
            Dialect::ArgoCd
        } else {
            dialect
        };
        let via = self.via(node, ctx);
        if !self.covered.insert(rid) {
            self.add_alias_use(rid, via);
            return;
        }
        self.sites.push(Site {
            dialect,
            doc: ctx.doc,
            shape: Shape::Full {
                slot: rid,
                prefix_len,
            },
            via_alias: via.into_iter().collect(),
            marker: None,
            names: Vec::new(),
        });
    }

    fn via(&self, node: NodeId, ctx: Ctx<'_>) -> Option<NodeId> {
        if self.s.resolve(node) != node {
            Some(node)
        } else {
            ctx.via_alias
        }
    }

    fn add_alias_use(&mut self, slot: NodeId, via: Option<NodeId>) {
        let Some(via) = via else { return };
        for site in &mut self.sites {
            if site.slots().contains(&slot) && !site.via_alias.contains(&via) {
                site.via_alias.push(via);
            }
        }
    }

    fn kustomize_images(&mut self, images: NodeId, ctx: Ctx<'_>) {
        for entry in self.items(images) {
            let field = |w: &Self, k: &str| {
                w.get(entry, k)
                    .filter(|&n| w.s.scalar(n).is_some() && !w.s.is_null(n))
            };
            let (name, new_name, new_tag, digest) = (
                field(self, "name"),
                field(self, "newName"),
                field(self, "newTag"),
                field(self, "digest"),
            );
            let Some(effective) = new_name.or(name).and_then(|n| self.s.scalar(n)) else {
                continue;
            };
            let shape = Shape::Split {
                name: effective.to_owned(),
                tag: new_tag,
                tag_holds_digest: false,
                digest,
                digest_hex_only: false,
            };
            let names = name.into_iter().chain(new_name).collect();
            self.push_split(shape, names, Dialect::Kustomize, ctx);
        }
    }

    fn argocd_source(&mut self, source: NodeId, ctx: Ctx<'_>) {
        let ctx = Ctx {
            argocd: true,
            ..ctx
        };
        if let Some(images) = self
            .get(source, "kustomize")
            .and_then(|k| self.get(k, "images"))
        {
            for item in self.items(images) {
                let Some(value) = self.s.scalar(item) else {
                    continue;
                };
                // `alias=name:tag`: the part after `=` is the image.
                let prefix_len = value.find('=').map_or(0, |i| i + 1);
                self.full(item, Dialect::ArgoCd, ctx, prefix_len);
            }
        }
        let Some(helm) = self.get(source, "helm") else {
            return;
        };
        if let Some(params) = self.get(helm, "parameters") {
            self.argocd_parameters(params, ctx);
        }
    }

    /// Helm parameters `image.repository` + `image.tag` form one image per prefix.
    fn argocd_parameters(&mut self, params: NodeId, ctx: Ctx<'_>) {
        let mut groups: BTreeMap<String, BTreeMap<String, NodeId>> = BTreeMap::new();
        for item in self.items(params) {
            let (Some(name), Some(value)) = (self.get_str(item, "name"), self.get(item, "value"))
            else {
                continue;
            };
            if self.s.scalar(value).is_none() {
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
                    self.full(value, Dialect::ArgoCd, ctx, 0)
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
                if self.s.scalar(node).is_some_and(|v| v.contains([':', '@'])) {
                    self.full(node, Dialect::ArgoCd, ctx, 0);
                    continue;
                }
            }
            let text = |f: &str| {
                fields
                    .get(f)
                    .and_then(|&n| self.s.scalar(n))
                    .filter(|v| !v.is_empty())
            };
            let repo = text("repository")
                .or_else(|| text("name"))
                .unwrap_or_default();
            let name = match text("registry") {
                Some(reg) => format!("{}/{}", reg.trim_end_matches('/'), repo),
                None => repo.to_owned(),
            };
            let shape = Shape::Split {
                name,
                tag: fields.get("tag").copied(),
                tag_holds_digest: false,
                digest: fields.get("digest").copied(),
                digest_hex_only: false,
            };
            self.push_split(shape, name_nodes, Dialect::ArgoCd, ctx);
        }
    }

    /// Helm values: `repository` + `tag`/`digest`/`version`, or an
    /// image-named map with `registry`/`repository`/`name`/`tag`/`digest`.
    fn helm_group(&mut self, map: NodeId, ctx: Ctx<'_>) {
        if matches!(self.hints.file_name, "Chart.yaml" | "requirements.yaml") {
            return;
        }
        let scalar = |w: &Self, k: &str| w.get(map, k).filter(|&n| w.s.scalar(n).is_some());
        let text = |w: &Self, k: &str| {
            scalar(w, k)
                .and_then(|n| w.s.scalar(n))
                .filter(|v| !v.is_empty() && !w.s.is_null(scalar(w, k).unwrap_or(0)))
        };
        let repository = text(self, "repository").filter(|r| {
            !r.contains("://")
                && !r.starts_with(['@'])
                && !r.starts_with("oci:")
                && !r.starts_with("file:")
        });
        let (tag, version, digest, sha) = (
            scalar(self, "tag"),
            scalar(self, "version"),
            scalar(self, "digest"),
            scalar(self, "sha"),
        );
        let any_version = tag.or(version).or(digest).or(sha).is_some();
        // An empty `repository: ""` still marks an image map (the chart fills it).
        let repo_scalar = scalar(self, "repository").is_some_and(|n| {
            self.s.scalar(n).is_some_and(|r| {
                !r.contains("://")
                    && !r.starts_with(['@'])
                    && !r.starts_with("oci:")
                    && !r.starts_with("file:")
            })
        });
        let c1 = repo_scalar && any_version;
        let image_key = ctx.parent_key.is_some_and(|k| {
            k == "image" || k.ends_with("Image") || k.ends_with("_image") || k.ends_with("-image")
        });
        let c2 = image_key
            && (any_version
                || scalar(self, "registry").is_some()
                || repository.is_some()
                || scalar(self, "name").is_some());
        if !(c1 || c2) {
            return;
        }
        let base = match (repository, c2.then(|| text(self, "name")).flatten()) {
            (Some(r), _) => r,
            (None, Some(n)) => n,
            // No name in the map (the chart supplies it): kept as a site so
            // it is visible, but it can never match a target.
            (None, None) => "",
        };
        let name = match text(self, "registry") {
            Some(reg) => format!("{}/{}", reg.trim_end_matches('/'), base),
            None => base.to_owned(),
        };
        let tag_node = tag.or(version).filter(|&n| !self.s.is_null(n));
        let tag_holds_digest = tag_node
            .and_then(|n| self.s.scalar(n))
            .is_some_and(|v| v.contains('@'));
        let (digest_node, hex_only) = match (digest, sha) {
            (Some(d), _) => (Some(d), false),
            (None, Some(s)) => (Some(s), true),
            (None, None) => (None, false),
        };
        let shape = Shape::Split {
            name,
            tag: tag_node,
            tag_holds_digest,
            digest: digest_node.filter(|&n| !self.s.is_null(n)),
            digest_hex_only: hex_only,
        };
        let dialect = if ctx.argocd {
            Dialect::ArgoCd
        } else {
            Dialect::HelmValues
        };
        let names = ["registry", "repository", "name"]
            .iter()
            .filter_map(|k| scalar(self, k))
            .collect();
        self.push_split(shape, names, dialect, ctx);
    }

    fn push_split(&mut self, shape: Shape, names: Vec<NodeId>, dialect: Dialect, ctx: Ctx<'_>) {
        let Shape::Split { tag, digest, .. } = &shape else {
            return;
        };
        let slots: Vec<NodeId> = tag
            .iter()
            .chain(digest.iter())
            .map(|&n| self.s.resolve(n))
            .collect();
        // A site without slots still matters: setting its image must fail
        // loudly ("no tag field") instead of silently skipping it.
        if slots.iter().any(|n| self.covered.contains(n)) {
            for &n in &slots {
                self.add_alias_use(n, ctx.via_alias);
            }
            return;
        }
        self.covered.extend(slots.iter().copied());
        let shape = match shape {
            Shape::Split {
                name,
                tag,
                tag_holds_digest,
                digest,
                digest_hex_only,
            } => Shape::Split {
                name,
                tag: tag.map(|n| self.s.resolve(n)),
                tag_holds_digest,
                digest: digest.map(|n| self.s.resolve(n)),
                digest_hex_only,
            },
            full => full,
        };
        self.sites.push(Site {
            dialect,
            doc: ctx.doc,
            shape,
            via_alias: ctx.via_alias.into_iter().collect(),
            marker: None,
            names,
        });
    }

    /// Flux setters: `# {"$imagepolicy": "ns:name[:tag|:name|:digest]"}` right
    /// after a scalar on its line.
    fn collect_markers(&mut self) {
        let text = self.hints.text;
        if !text.contains("$imagepolicy") {
            return;
        }
        let mut doc_of_node = vec![0usize; self.s.nodes.len()];
        for (doc, root) in self.s.docs.iter().enumerate() {
            if let Some(root) = root {
                // Nodes of a document are contiguous and start at its root.
                for slot in doc_of_node.iter_mut().skip(*root) {
                    *slot = doc;
                }
            }
        }
        let mut comments = self.s.comments.iter().peekable();
        let mut scalars: Vec<(usize, NodeId)> = self
            .s
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
                doc: doc_of_node[node],
                policy,
                field,
            });
        }
    }

    fn marker_sites(&mut self) {
        let markers = self.markers.clone();
        for m in markers.iter().filter(|m| m.field == MarkerField::Image) {
            let ctx = Ctx {
                doc: m.doc,
                ..Ctx::default()
            };
            if !self.covered.contains(&m.node) {
                self.full(m.node, Dialect::FluxMarker, ctx, 0);
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
            let loose =
                |m: &Option<&Marker>| m.map(|m| m.node).filter(|n| !self.covered.contains(n));
            let (tag_node, digest_node) = (loose(tag), loose(digest));
            let Some(doc) = tag.or(*digest).map(|m| m.doc) else {
                continue;
            };
            let from_image = image
                .and_then(|m| self.s.scalar(m.node))
                .and_then(|v| Reference::parse(v).ok())
                .map(|r| r.name_as_written().to_owned());
            let Some(name_text) = name
                .and_then(|m| self.s.scalar(m.node))
                .map(str::to_owned)
                .or(from_image)
            else {
                continue;
            };
            if tag_node.is_none() && digest_node.is_none() {
                continue;
            }
            let shape = Shape::Split {
                name: name_text,
                tag: tag_node,
                tag_holds_digest: tag_node
                    .and_then(|n| self.s.scalar(n))
                    .is_some_and(|v| v.contains('@')),
                digest: digest_node,
                digest_hex_only: false,
            };
            let names = name.map(|m| m.node).into_iter().collect();
            self.push_split(
                shape,
                names,
                Dialect::FluxMarker,
                Ctx {
                    doc,
                    ..Ctx::default()
                },
            );
        }
        for m in &markers {
            let policy = m.policy.clone();
            for site in &mut self.sites {
                if site.marker.is_none() && site.slots().contains(&m.node) {
                    site.marker = Some(policy.clone());
                }
            }
        }
    }

    // --- small tree helpers -------------------------------------------------

    /// Key/value pairs of a mapping, with `<<` merge keys expanded (own keys win).
    fn pairs(&self, map: NodeId) -> Vec<(NodeId, NodeId)> {
        let Kind::Map(pairs) = &self.s.nodes[self.s.resolve(map)].kind else {
            return Vec::new();
        };
        let mut out: Vec<(NodeId, NodeId)> = Vec::with_capacity(pairs.len());
        let mut merged = Vec::new();
        for &(k, v) in pairs {
            if self.s.scalar(k) == Some("<<") {
                let v = self.s.resolve(v);
                match &self.s.nodes[v].kind {
                    Kind::Seq(items) => merged.extend(items.iter().copied()),
                    _ => merged.push(v),
                }
            } else {
                out.push((k, v));
            }
        }
        for m in merged {
            if let Kind::Map(extra) = &self.s.nodes[self.s.resolve(m)].kind {
                for &(k, v) in extra {
                    let key = self.s.scalar(k);
                    if !out.iter().any(|&(ok, _)| self.s.scalar(ok) == key) {
                        out.push((k, v));
                    }
                }
            }
        }
        out
    }

    fn get(&self, map: NodeId, key: &str) -> Option<NodeId> {
        let Kind::Map(pairs) = &self.s.nodes[self.s.resolve(map)].kind else {
            return None;
        };
        // Fast path without allocation; merge keys (rare) take the full path.
        let mut merge = false;
        for &(k, v) in pairs {
            match self.s.scalar(k) {
                Some(name) if name == key => return Some(v),
                Some("<<") => merge = true,
                _ => {}
            }
        }
        if !merge {
            return None;
        }
        self.pairs(map)
            .into_iter()
            .find(|&(k, _)| self.s.scalar(k) == Some(key))
            .map(|(_, v)| v)
    }

    fn get_str(&self, map: NodeId, key: &str) -> Option<&'a str> {
        let s: &'a Stream = self.s;
        self.get(map, key).and_then(|v| s.scalar(v))
    }

    fn items(&self, seq: NodeId) -> Vec<NodeId> {
        match &self.s.nodes[self.s.resolve(seq)].kind {
            Kind::Seq(items) => items.clone(),
            _ => Vec::new(),
        }
    }
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
}

//! The manifest engine: finds image references in YAML and edits them
//! without touching any other byte.
//!
//! A file is parsed once into a [`tree::Stream`] (byte spans, comments,
//! anchors and aliases kept explicit); YAML held in literal block scalars
//! (Argo CD `helm.values: |`, a ConfigMap's `values.yaml: |`, inline
//! kustomize patches) is parsed too and grafted in ([`tree::Embed`]);
//! [`dialect`] rules turn the stream into [`Site`]s; an edit is a list of
//! [`Change`]s (a new scalar value, or a key/value pair inserted into a
//! mapping), spliced into the original bytes and then proven by re-parsing
//! ([`Manifest::apply`]): the re-parsed stream must equal the original plus
//! exactly the planned values, inside embedded YAML and outside.
//!
//! Also here: platform hints from a workload ([`Manifest::platforms`]),
//! shared-anchor reach ([`Manifest::reach`]), and raw-text searches for files
//! that are not YAML ([`text`]).
//!
//! # Does not preserve / does not support
//! - YAML inside folded (`>`) block scalars or inside quoted strings (line
//!   folding and escapes make the file's bytes differ from the text): such a
//!   block is listed in [`Manifest::skipped`] with its line and the images it
//!   holds, never edited.
//! - Quoted scalars that use escapes or span lines: editing them would
//!   re-encode bytes outside the tag, so the edit is refused.
//! - Inserting a field into a mapping reached through an alias (the field
//!   would appear at every alias), or after a key written with properties
//!   (`&a key:`) or as an explicit `? key`: refused with the line.
//! - YAML nested two levels deep in block scalars: only the first level is parsed.
//! - Helm templates (`{{ … }}` outside scalars) are not YAML: see
//!   [`text::is_chart_template`] and [`text::reference_lines`].
//! - Recursive aliases (`a: &x {b: *x}`): a file holding one is reported as
//!   invalid YAML at the alias and skipped, as Kubernetes rejects it.

pub mod dialect;
mod edit;
mod embed;
mod platform;
pub mod scalar;
pub mod text;
pub mod tree;

use std::ops::Range;

use serde::Serialize;

use crate::reference::{Reference, Repository};
use scalar::Repr;
use tree::{NodeId, Stream};

pub use dialect::{Marker, MarkerField};

/// Default largest file the engine reads (5 MiB).
pub const DEFAULT_MAX_FILE_SIZE: u64 = 5 * 1024 * 1024;

/// The YAML convention an image reference was found in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    /// `image:` of a container in `containers`, `initContainers` or
    /// `ephemeralContainers`, or `image.reference` of a pod image volume.
    Workload,
    /// A kustomize (or Flux `Kustomization`) `images:` entry, or a JSON 6902
    /// patch operation that sets a container image.
    Kustomize,
    /// A Helm values image map (`repository` + `tag`, `image` + `imageTag`, …).
    HelmValues,
    /// A value carrying a Flux setter marker comment.
    FluxMarker,
    /// An Argo CD `Application` source (`kustomize.images`, Helm parameters,
    /// `valuesObject`, `values: |`).
    #[serde(rename = "argocd")]
    ArgoCd,
    /// Any other `image:` string (CRDs, Tekton steps, `image: "repo:tag"` in values).
    Image,
}

impl Dialect {
    /// The name used in reports and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Workload => "workload",
            Dialect::Kustomize => "kustomize",
            Dialect::HelmValues => "helm_values",
            Dialect::FluxMarker => "flux_marker",
            Dialect::ArgoCd => "argocd",
            Dialect::Image => "image",
        }
    }
}

/// Where the parts of one image reference live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shape {
    /// One scalar holding `name[:tag][@digest]`, after `prefix_len` bytes
    /// (Argo CD's `alias=` prefix).
    Full {
        /// The scalar node.
        slot: NodeId,
        /// Bytes of the decoded value before the reference.
        prefix_len: usize,
    },
    /// Name, tag and digest in separate scalars.
    Split {
        /// The image name as assembled from the file (`registry/repository`).
        name: String,
        /// Scalar holding the tag (`tag`, `newTag`, `version`, `imageTag`);
        /// a null or empty one counts (it is filled in place).
        tag: Option<NodeId>,
        /// The tag scalar holds `tag@sha256:…` (Renovate-style pin).
        tag_holds_digest: bool,
        /// Scalar holding the digest (`digest`, `sha`).
        digest: Option<NodeId>,
        /// The digest scalar holds only hex, without `sha256:` (Helm `sha:`).
        digest_hex_only: bool,
        /// Where a missing tag or digest field can be added.
        fill: Option<Fill>,
    },
}

/// Where a missing field of a [`Shape::Split`] site can be inserted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fill {
    /// The mapping holding the image's fields.
    pub map: NodeId,
    /// Key to add for a missing tag (`newTag`, `tag`).
    pub tag_key: &'static str,
    /// Key to add for a missing digest (`digest`); `None` when the
    /// convention has no digest field (Helm maps take `tag@digest` instead).
    pub digest_key: Option<&'static str>,
    /// Key node of the pair the new fields follow (the name field).
    pub after: NodeId,
}

/// One image reference found in a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    /// The convention it was found in.
    pub dialect: Dialect,
    /// 0-based document index in the stream.
    pub doc: usize,
    /// Where its parts live.
    pub shape: Shape,
    /// Alias nodes through which its slots are also reached (the anchored
    /// scalar is edited once, and the change shows at every alias).
    pub via_alias: Vec<NodeId>,
    /// Flux `$imagepolicy` marker on one of its scalars.
    pub marker: Option<String>,
    /// Scalars holding name parts (registry, repository, `newName`), never edited.
    pub names: Vec<NodeId>,
    /// Why this site must not be edited automatically (the map could mean
    /// two things, or a repository has no tag and nothing says where one
    /// goes); the planner turns it into a refusal at the site's line.
    pub unfit: Option<String>,
}

impl Site {
    /// The scalar nodes an edit of this site may change.
    pub fn slots(&self) -> Vec<NodeId> {
        match &self.shape {
            Shape::Full { slot, .. } => vec![*slot],
            Shape::Split { tag, digest, .. } => tag.iter().chain(digest.iter()).copied().collect(),
        }
    }
}

/// The image a site holds right now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteImage {
    /// Name as written (`nginx`, `ghcr.io/acme/app`).
    pub name: String,
    /// Normalized repository, when the name is a valid reference.
    pub repository: Option<Repository>,
    /// Current tag (empty or null slot = `None`).
    pub tag: Option<String>,
    /// Current digest with its algorithm (`sha256:…`).
    pub digest: Option<String>,
}

/// A planned edit: a scalar's new value, or key/value pairs inserted into a mapping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The scalar whose value changes; for an insertion, the mapping that
    /// receives the pairs.
    pub node: NodeId,
    /// The scalar's new decoded value; for an insertion, the pairs as
    /// `key: value` joined by `, ` (so equal insertions compare equal).
    pub value: String,
    /// Present for an insertion.
    pub insert: Option<Insert>,
}

/// Key/value pairs to add to a mapping, in the file's own indentation,
/// quoting and line-ending style.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Insert {
    /// Key node of the pair the new pairs follow.
    pub after: NodeId,
    /// The pairs, in order (decoded key, decoded value).
    pub pairs: Vec<(String, String)>,
}

impl Change {
    /// A new value for scalar `node`.
    pub fn replace(node: NodeId, value: impl Into<String>) -> Change {
        Change {
            node,
            value: value.into(),
            insert: None,
        }
    }

    /// Pairs to insert into mapping `map`, after the pair whose key node is `after`.
    pub fn insert(map: NodeId, after: NodeId, pairs: Vec<(String, String)>) -> Change {
        let value = pairs
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join(", ");
        Change {
            node: map,
            value,
            insert: Some(Insert { after, pairs }),
        }
    }
}

/// A byte-level replacement, the result of rendering a [`Change`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edit {
    /// Byte range in the original text (empty for an insertion).
    pub span: Range<usize>,
    /// The bytes there now.
    pub old: Repr,
    /// The bytes that replace them.
    pub new: Repr,
}

/// YAML in a block scalar or string that the engine reads but cannot edit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedBlock {
    /// The scalar holding the YAML.
    pub node: NodeId,
    /// 1-based line of its key (where the block starts).
    pub line: usize,
    /// Why it cannot be edited, one line.
    pub reason: String,
    /// Image names found inside, as written (empty when it does not parse).
    pub images: Vec<String>,
}

/// Everything a scalar reaches: the sites that hold it and the alias nodes
/// that show it elsewhere in the file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reach {
    /// Indices into [`Manifest::sites`] whose slots include the node.
    pub sites: Vec<usize>,
    /// Alias nodes that reach the node (of it, or of a collection holding it).
    pub aliases: Vec<NodeId>,
    /// 1-based lines of those aliases.
    pub alias_lines: Vec<usize>,
}

/// Why a file could not be read as YAML.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// The YAML is malformed.
    #[error("line {line}, column {column}: invalid YAML: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// Following aliases visits more nodes than the budget allows.
    #[error(
        "excessive alias expansion (aliases reach more than {} nodes); refusing to follow aliases",
        dialect::ALIAS_BUDGET
    )]
    AliasBudget,
}

/// Why an edit was refused. Nothing is written when any edit is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// The scalar uses escapes, folding or a block style, so a byte-exact edit is impossible.
    #[error(
        "line {line}: the value is written with escapes, line folding or as a block scalar; edit it by hand"
    )]
    NotVerbatim {
        /// 1-based line of the scalar.
        line: usize,
    },
    /// A field cannot be inserted into this mapping.
    #[error("line {line}: cannot add a field here: {reason}")]
    Insert {
        /// 1-based line of the mapping's anchor pair.
        line: usize,
        /// Why.
        reason: String,
    },
    /// Two planned changes overlap.
    #[error("line {line}: two planned changes touch the same bytes")]
    Overlap {
        /// 1-based line of the second change.
        line: usize,
    },
    /// Re-parsing the edited text did not give back the original plus the planned values.
    #[error(
        "line {line}: edited YAML does not re-parse to the planned values ({detail}); nothing written"
    )]
    Verification {
        /// 1-based line near the first difference.
        line: usize,
        /// What differed.
        detail: String,
    },
    /// The manifest is an outline ([`Manifest::outline`]): it was read to
    /// be reported, and its text is gone.
    #[error("the file was read as an outline to be reported, not to be edited; nothing written")]
    Outline,
}

/// One parsed YAML file with its image sites.
#[derive(Clone, Debug)]
pub struct Manifest {
    /// Path relative to the repository root, with `/` separators.
    pub path: String,
    /// The original text; in an outline ([`Manifest::outline`]), only its
    /// lines that name `kubernetes.io/arch`, at their own line numbers.
    pub text: String,
    /// The parsed stream (embedded YAML grafted in); boxed, so a repository
    /// of outlines ([`Manifest::outline`]) costs little per file.
    pub stream: Box<Stream>,
    /// Image sites in source order of their first slot.
    pub sites: Vec<Site>,
    /// Flux setter markers in source order.
    pub markers: Vec<Marker>,
    /// Embedded YAML that holds images but cannot be edited.
    pub skipped: Vec<SkippedBlock>,
    /// What an outline keeps of what it dropped, per site (empty when no
    /// site is pinned or names a platform); `None` for a whole file.
    outline: Option<Vec<Kept>>,
}

/// The answers about one site an outline cannot derive from the paths it
/// keeps (pins are comments, platforms sibling fields), computed before.
#[derive(Clone, Debug)]
struct Kept {
    /// [`Manifest::is_pinned`].
    pinned: bool,
    /// [`Manifest::platforms`].
    platforms: Vec<String>,
}

impl Manifest {
    /// Parses `text` (the file at `path`) and finds its image sites.
    pub fn parse(path: &str, text: String) -> Result<Manifest, ManifestError> {
        let mut stream = Stream::parse(&text).map_err(|e| ManifestError::Syntax {
            line: e.line,
            column: e.column,
            message: e.message,
        })?;
        let file_name = path.rsplit('/').next().unwrap_or(path);
        let skipped = embed::embed(&text, &mut stream);
        let hints = dialect::FileHints {
            file_name,
            text: &text,
        };
        let (mut sites, markers) =
            dialect::scan(&stream, &hints).map_err(|_| ManifestError::AliasBudget)?;
        sort_sites(&stream, &mut sites);
        Ok(Manifest {
            path: path.to_owned(),
            text,
            stream: Box::new(stream),
            sites,
            markers,
            skipped,
            outline: None,
        })
    }

    /// The same manifest in a fraction of the memory, for a file that is
    /// reported and never edited: the stream keeps only the paths to its
    /// image sites ([`Stream::restricted`]; for containers' `image:` alone,
    /// only the scalars), and what sites say through other parts (pins,
    /// platforms) is kept as answers. Every read-only
    /// query about the sites answers as before (image, lines, columns,
    /// dialect, document, keys on the path, pins, platforms); edits fail
    /// with [`EditError::Outline`]. A file with Flux markers, skipped
    /// blocks, aliases or embedded YAML is given back whole (see
    /// [`Manifest::is_outline`]): its readers need more than the paths.
    pub fn outline(self) -> Manifest {
        if self.outline.is_some() {
            return self;
        }
        if !self.markers.is_empty() || !self.skipped.is_empty() {
            return self;
        }
        let nodes = self.sites.iter().flat_map(|s| {
            let mut n = s.slots();
            n.extend(&s.names);
            n.extend(&s.via_alias);
            if let Shape::Split { fill: Some(f), .. } = &s.shape {
                n.extend([f.map, f.after]);
            }
            n
        });
        // A container's `image:` is read alone; other dialects are matched
        // by the keys above them (Argo CD's Helm parameters, for one).
        let paths = !self.sites.iter().all(|s| {
            s.dialect == Dialect::Workload
                && matches!(s.shape, Shape::Full { .. })
                && s.names.is_empty()
        });
        let Some((stream, map)) = self.stream.restricted(nodes.collect::<Vec<_>>(), paths) else {
            return self;
        };
        let mut outline: Vec<Kept> = self
            .sites
            .iter()
            .map(|s| Kept {
                pinned: self.is_pinned(s),
                platforms: self.platforms(s),
            })
            .collect();
        // No pin and no platform, the usual case: nothing to keep.
        if outline.iter().all(|k| !k.pinned && k.platforms.is_empty()) {
            outline = Vec::new();
        }
        let id = |n: NodeId| map[n].expect("impossible: a site's nodes are kept");
        let mut sites = self
            .sites
            .into_iter()
            .map(|mut s| {
                s.shape = match s.shape {
                    Shape::Full { slot, prefix_len } => Shape::Full {
                        slot: id(slot),
                        prefix_len,
                    },
                    Shape::Split {
                        name,
                        tag,
                        tag_holds_digest,
                        digest,
                        digest_hex_only,
                        fill,
                    } => Shape::Split {
                        name,
                        tag: tag.map(id),
                        tag_holds_digest,
                        digest: digest.map(id),
                        digest_hex_only,
                        fill: fill.map(|f| Fill {
                            map: id(f.map),
                            after: id(f.after),
                            ..f
                        }),
                    },
                };
                s.names = s.names.into_iter().map(id).collect();
                s.via_alias = s.via_alias.into_iter().map(id).collect();
                s
            })
            .collect::<Vec<_>>();
        sites.shrink_to_fit();
        // Readers look for architectures in text the tree does not show
        // (a kustomize patch file's path, a values file's `nodeSelector`).
        const ARCH: &str = "kubernetes.io/arch";
        let text = if self.text.contains(ARCH) {
            self.text
                .split('\n')
                .map(|line| if line.contains(ARCH) { line } else { "" })
                .collect::<Vec<_>>()
                .join("\n")
        } else {
            String::new()
        };
        Manifest {
            path: self.path,
            text,
            stream: Box::new(stream),
            sites,
            markers: Vec::new(),
            skipped: Vec::new(),
            outline: Some(outline),
        }
    }

    /// Drops what an outline holds once its references are reported: its
    /// sites, stream and answers (the path stays). A released outline has
    /// no site left to ask about. A whole manifest is left as it is.
    pub fn release(&mut self) {
        if self.outline.is_some() {
            self.sites = Vec::new();
            *self.stream = Stream::default();
            self.outline = Some(Vec::new());
        }
    }

    /// Returns true if and only if this is an outline ([`Manifest::outline`]).
    pub fn is_outline(&self) -> bool {
        self.outline.is_some()
    }

    /// The index of `site` among [`Manifest::sites`]: the same element, or
    /// one with the same nodes.
    fn site_index(&self, site: &Site) -> Option<usize> {
        self.sites
            .iter()
            .position(|s| std::ptr::eq(s, site))
            .or_else(|| {
                self.sites.iter().position(|s| {
                    s.slots() == site.slots() && s.names == site.names && s.doc == site.doc
                })
            })
    }

    /// The image `site` holds now.
    pub fn image_of(&self, site: &Site) -> SiteImage {
        match &site.shape {
            Shape::Full { slot, prefix_len } => {
                let value = self.stream.scalar(*slot).unwrap_or_default();
                let value = value.get(*prefix_len..).unwrap_or_default();
                match Reference::parse(value) {
                    Ok(r) => SiteImage {
                        name: r.name_as_written().to_owned(),
                        repository: Some(r.repository()),
                        tag: r.tag().map(str::to_owned),
                        digest: r.digest().map(str::to_owned),
                    },
                    Err(_) => SiteImage {
                        name: value.to_owned(),
                        repository: None,
                        tag: None,
                        digest: None,
                    },
                }
            }
            Shape::Split {
                name,
                tag,
                tag_holds_digest,
                digest,
                digest_hex_only,
                ..
            } => {
                let value = |n: &Option<NodeId>| {
                    n.filter(|&n| !self.stream.is_null(n))
                        .and_then(|n| self.stream.scalar(n))
                        .filter(|v| !v.is_empty())
                };
                let (mut t, mut d) = (value(tag).map(str::to_owned), None);
                if *tag_holds_digest
                    && let Some((tv, dv)) = t.clone().as_deref().and_then(|v| v.split_once('@'))
                {
                    t = Some(tv.to_owned()).filter(|s| !s.is_empty());
                    d = Some(dv.to_owned());
                }
                if let Some(dv) = value(digest) {
                    d = Some(if *digest_hex_only {
                        format!("sha256:{dv}")
                    } else {
                        dv.to_owned()
                    });
                }
                SiteImage {
                    name: name.clone(),
                    repository: Repository::parse(name).ok(),
                    tag: t,
                    digest: d,
                }
            }
        }
    }

    /// 1-based line and byte column of byte offset `at`.
    pub fn position(&self, at: usize) -> (usize, usize) {
        self.stream.position(at)
    }

    /// 1-based line and byte column of a node's first byte.
    pub fn node_position(&self, node: NodeId) -> (usize, usize) {
        self.position(self.stream.nodes[node].span.start)
    }

    /// 1-based line of a site: its first slot, else its first name part,
    /// else its mapping.
    pub fn site_line(&self, site: &Site) -> usize {
        let node = site
            .slots()
            .first()
            .copied()
            .or(site.names.first().copied());
        let node = node.or(match &site.shape {
            Shape::Split { fill: Some(f), .. } => Some(f.after),
            _ => None,
        });
        node.map_or(1, |n| self.node_position(n).0)
    }

    /// Returns true if and only if a `# gitops-bump:ignore` comment sits on
    /// the line of one of the site's scalars, or on the line of any alias
    /// that reaches one of them (`image: *img # gitops-bump:ignore` pins
    /// the anchored value everywhere).
    pub fn is_pinned(&self, site: &Site) -> bool {
        if let Some(o) = &self.outline {
            return self
                .site_index(site)
                .and_then(|i| o.get(i))
                .is_some_and(|k| k.pinned);
        }
        let mut lines: Vec<usize> = Vec::new();
        for n in site.slots() {
            lines.push(self.node_position(n).0);
            lines.extend(self.reach(n).alias_lines);
        }
        if lines.is_empty()
            && let Shape::Split { fill: Some(f), .. } = &site.shape
        {
            // Nothing to edit yet: a pin on the name line holds the insertion.
            lines.push(self.node_position(f.after).0);
        }
        self.stream.comments.iter().any(|c| {
            c.text.trim_start().starts_with("gitops-bump:ignore")
                && lines.contains(&self.position(c.span.start).0)
        })
    }

    /// Everything scalar `node` reaches: every site whose slots hold it
    /// (two images sharing `tag: &ver v1` both list it), and every alias
    /// of it or of a collection holding it, with their lines. An edit of
    /// the node changes all of them; the guard refuses unless each is
    /// meant to change the same way.
    pub fn reach(&self, node: NodeId) -> Reach {
        let node = self.stream.resolve(node);
        let sites = self
            .sites
            .iter()
            .enumerate()
            .filter(|(_, s)| s.slots().contains(&node))
            .map(|(i, _)| i)
            .collect();
        let aliases = self.stream.aliases_reaching(node);
        let alias_lines = aliases.iter().map(|&a| self.node_position(a).0).collect();
        Reach {
            sites,
            aliases,
            alias_lines,
        }
    }

    /// The site Flux markers of `policy` (`namespace:name` of an
    /// ImagePolicy) describe, once the policy's image `name` is known (from
    /// its ImageRepository's `spec.image`). `None` when no `:tag` or
    /// `:digest` marker of that policy is in this file.
    pub fn site_for_policy(&self, policy: &str, name: &str) -> Option<Site> {
        dialect::marker_site(&self.stream, &self.markers, policy, name)
    }

    /// Gives `name` to every site whose slots carry a marker of `policy`
    /// and whose name is empty (a `:tag` marker with no `:name` sibling),
    /// adding the policy's site when no site holds its markers yet.
    /// Returns the indices of the named sites (in [`Manifest::sites`] after
    /// this call).
    pub fn name_policy(&mut self, policy: &str, name: &str) -> Vec<usize> {
        let mut named = Vec::new();
        for site in &mut self.sites {
            if site.marker.as_deref() != Some(policy) {
                continue;
            }
            // No usable name in the file (`image: {tag: v1 # marker}`).
            if let Shape::Split { name: n, .. } = &mut site.shape
                && Repository::parse(n).is_err()
            {
                *n = name.to_owned();
            }
        }
        let held: Vec<NodeId> = self.sites.iter().flat_map(Site::slots).collect();
        let loose = self
            .markers
            .iter()
            .any(|m| m.policy == policy && !held.contains(&self.stream.resolve(m.node)));
        if loose && let Some(mut site) = self.site_for_policy(policy, name) {
            if let Shape::Split { tag, digest, .. } = &mut site.shape {
                *tag = tag.filter(|n| !held.contains(n));
                *digest = digest.filter(|n| !held.contains(n));
            }
            if !site.slots().is_empty() {
                site.via_alias = site
                    .slots()
                    .iter()
                    .flat_map(|&n| self.stream.aliases_reaching(n))
                    .collect();
                self.sites.push(site);
                sort_sites(&self.stream, &mut self.sites);
            }
        }
        for (i, site) in self.sites.iter().enumerate() {
            if site.marker.as_deref() == Some(policy)
                && matches!(&site.shape, Shape::Split { name: n, .. } if n == name)
            {
                named.push(i);
            }
        }
        named
    }

    /// The platforms (`os/arch`, e.g. `linux/arm64`) the workload holding
    /// `site` says it runs on: `nodeSelector` on `kubernetes.io/arch` and
    /// `kubernetes.io/os` (and their `beta.` forms), and required node
    /// affinity `matchExpressions` with `In` on those keys (several values,
    /// several platforms; terms are alternatives, so their platforms add
    /// up). Empty when the site is not in a pod spec or nothing names an
    /// architecture; the OS defaults to `linux`.
    pub fn platforms(&self, site: &Site) -> Vec<String> {
        if let Some(o) = &self.outline {
            return self
                .site_index(site)
                .and_then(|i| o.get(i))
                .map(|k| k.platforms.clone())
                .unwrap_or_default();
        }
        platform::platforms(&self.stream, site)
    }

    /// Renders `changes` as byte edits, splices them into the original text
    /// and proves the result: it must re-parse to the original stream except
    /// for the changed scalars and the inserted pairs, inside embedded YAML
    /// and outside.
    pub fn apply(&self, changes: &[Change]) -> Result<(String, Vec<Edit>), EditError> {
        if self.outline.is_some() {
            return Err(EditError::Outline);
        }
        edit::apply(&self.text, &self.stream, changes)
    }

    /// 1-based line and byte column the first inserted value of an
    /// insertion change will have in the edited file (for reports), or why
    /// the insertion is impossible.
    pub fn insertion_position(&self, change: &Change) -> Result<(usize, usize), EditError> {
        if self.outline.is_some() {
            return Err(EditError::Outline);
        }
        edit::insertion_position(&self.text, &self.stream, change)
    }
}

fn sort_sites(stream: &Stream, sites: &mut [Site]) {
    sites.sort_by_key(|s| {
        s.slots()
            .first()
            .or(s.names.first())
            .map(|&n| stream.nodes[n].span.start)
    });
}

#[cfg(test)]
mod tests;

//! The manifest engine: finds image references in YAML and edits them
//! without touching any other byte.
//!
//! A file is parsed once into a [`tree::Stream`] (byte spans, comments,
//! anchors and aliases kept explicit); [`dialect`] rules turn it into
//! [`Site`]s; an edit is a list of [`Change`]s to scalar nodes, spliced into
//! the original bytes and then proven by re-parsing ([`Manifest::apply`]).
//!
//! # Does not preserve / does not support
//! - Images inside block scalars (`|`, `>`), e.g. Argo CD `helm.values: |`
//!   strings: they are text to YAML, so they are never edited.
//! - Quoted scalars that use escapes or span lines: editing them would
//!   re-encode bytes outside the tag, so the edit is refused.
//! - Adding a missing field (a kustomize entry without `newTag`): the edit is
//!   refused with a message naming the entry.
//! - Helm templates (`{{ … }}` outside scalars) are not YAML and are skipped
//!   as unparseable files.
//! - Recursive aliases (`a: &x {b: *x}`): a file holding one is reported as
//!   invalid YAML at the alias and skipped, as Kubernetes rejects it.

pub mod dialect;
pub mod scalar;
pub mod tree;

use std::ops::Range;

use granit_parser::ScalarStyle;
use serde::Serialize;

use crate::reference::{Reference, Repository};
use scalar::Repr;
use tree::{Kind, NodeId, Sig, Stream};

/// Default largest file the engine reads (5 MiB).
pub const DEFAULT_MAX_FILE_SIZE: u64 = 5 * 1024 * 1024;

/// The YAML convention an image reference was found in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    /// `image:` of a container in `containers`, `initContainers` or `ephemeralContainers`.
    Workload,
    /// A kustomize (or Flux `Kustomization`) `images:` entry.
    Kustomize,
    /// A Helm values image map (`repository` + `tag`/`digest`/`version`).
    HelmValues,
    /// A value carrying a Flux setter marker comment.
    FluxMarker,
    /// An Argo CD `Application` source (`kustomize.images`, Helm parameters, `valuesObject`).
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
        /// Scalar holding the tag (`tag`, `newTag`, `version`).
        tag: Option<NodeId>,
        /// The tag scalar holds `tag@sha256:…` (Renovate-style pin).
        tag_holds_digest: bool,
        /// Scalar holding the digest (`digest`, `sha`).
        digest: Option<NodeId>,
        /// The digest scalar holds only hex, without `sha256:` (Helm `sha:`).
        digest_hex_only: bool,
    },
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
    /// Alias nodes through which it is also reached (the anchored scalar is edited once).
    pub via_alias: Vec<NodeId>,
    /// Flux `$imagepolicy` marker on one of its scalars.
    pub marker: Option<String>,
    /// Scalars holding name parts (registry, repository, `newName`), never edited.
    pub names: Vec<NodeId>,
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
    /// Current tag (empty slot = `None`).
    pub tag: Option<String>,
    /// Current digest with its algorithm (`sha256:…`).
    pub digest: Option<String>,
}

/// A planned new value for one scalar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The scalar node.
    pub node: NodeId,
    /// Its new decoded value.
    pub value: String,
}

/// A byte-level replacement, the result of rendering a [`Change`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edit {
    /// Byte range in the original text.
    pub span: Range<usize>,
    /// The bytes there now.
    pub old: Repr,
    /// The bytes that replace them.
    pub new: Repr,
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
    /// Aliases expand to more nodes than the budget allows.
    #[error(
        "excessive alias expansion (more than {} nodes); refusing to follow aliases",
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
}

/// One parsed YAML file with its image sites.
#[derive(Debug)]
pub struct Manifest {
    /// Path relative to the repository root, with `/` separators.
    pub path: String,
    /// The original text.
    pub text: String,
    /// The parsed stream.
    pub stream: Stream,
    /// Image sites in source order of their first slot.
    pub sites: Vec<Site>,
    /// Flux setter markers in source order.
    pub markers: Vec<dialect::Marker>,
    line_starts: Vec<usize>,
}

impl Manifest {
    /// Parses `text` (the file at `path`) and finds its image sites.
    pub fn parse(path: &str, text: String) -> Result<Manifest, ManifestError> {
        let stream = Stream::parse(&text).map_err(|e| ManifestError::Syntax {
            line: e.line,
            column: e.column,
            message: e.message,
        })?;
        let file_name = path.rsplit('/').next().unwrap_or(path);
        let hints = dialect::FileHints {
            file_name,
            text: &text,
        };
        let (mut sites, markers) =
            dialect::scan(&stream, &hints).map_err(|_| ManifestError::AliasBudget)?;
        sites.sort_by_key(|s| s.slots().first().map(|&n| stream.nodes[n].span.start));
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Ok(Manifest {
            path: path.to_owned(),
            text,
            stream,
            sites,
            markers,
            line_starts,
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
            } => {
                let value = |n: &Option<NodeId>| {
                    n.and_then(|n| self.stream.scalar(n))
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
        let line = self.line_starts.partition_point(|&s| s <= at);
        let start = self.line_starts[line.saturating_sub(1)];
        (line, at - start + 1)
    }

    /// 1-based line and byte column of a node's first byte.
    pub fn node_position(&self, node: NodeId) -> (usize, usize) {
        self.position(self.stream.nodes[node].span.start)
    }

    /// Returns true if and only if a `# gitops-bump:ignore` comment sits on
    /// the line of one of the site's scalars.
    pub fn is_pinned(&self, site: &Site) -> bool {
        site.slots().iter().any(|&n| {
            let line = self.node_position(n).0;
            self.stream.comments.iter().any(|c| {
                self.position(c.span.start).0 == line
                    && c.text.trim_start().starts_with("gitops-bump:ignore")
            })
        })
    }

    /// Renders `changes` as byte edits, splices them into the original text
    /// and proves the result: it must re-parse to the original stream except
    /// for the changed scalars.
    pub fn apply(&self, changes: &[Change]) -> Result<(String, Vec<Edit>), EditError> {
        let mut edits = Vec::with_capacity(changes.len());
        // The original's signature is built only now: most files are never edited.
        let original = Stream::parse_signed(&self.text).map_err(|e| EditError::Verification {
            line: e.line,
            detail: e.message,
        })?;
        let mut expected = original.signature;
        for change in changes {
            let node = &self.stream.nodes[change.node];
            let line = self.node_position(change.node).0;
            let Kind::Scalar {
                value,
                style,
                event,
            } = &node.kind
            else {
                return Err(EditError::NotVerbatim { line });
            };
            let raw = &self.text[node.span.clone()];
            if !scalar::is_verbatim(raw, value, *style) {
                return Err(EditError::NotVerbatim { line });
            }
            let new = scalar::render_keeping_style(&change.value, *style)
                .ok_or(EditError::NotVerbatim { line })?;
            let new_style = match new.0.as_bytes().first() {
                Some(b'"') => ScalarStyle::DoubleQuoted,
                Some(b'\'') => ScalarStyle::SingleQuoted,
                _ => ScalarStyle::Plain,
            };
            if let Some(Sig::Scalar(v, s, _)) = expected.get_mut(*event) {
                *v = change.value.clone();
                *s = new_style;
            }
            edits.push(narrow(node.span.clone(), raw, &new.0));
        }
        edits.sort_by_key(|e| e.span.start);
        for pair in edits.windows(2) {
            if pair[1].span.start < pair[0].span.end {
                return Err(EditError::Overlap {
                    line: self.position(pair[1].span.start).0,
                });
            }
        }
        let mut out = self.text.clone();
        for e in edits.iter().rev() {
            out.replace_range(e.span.clone(), &e.new.0);
        }
        self.prove(&out, &expected)?;
        Ok((out, edits))
    }

    fn prove(&self, out: &str, expected: &[Sig]) -> Result<(), EditError> {
        let fail = |line: usize, detail: String| EditError::Verification { line, detail };
        let reparsed = Stream::parse_signed(out).map_err(|e| fail(e.line, e.message))?;
        if reparsed.signature.len() != expected.len() {
            return Err(fail(
                1,
                format!(
                    "{} events became {}",
                    expected.len(),
                    reparsed.signature.len()
                ),
            ));
        }
        match reparsed
            .signature
            .iter()
            .zip(expected)
            .position(|(a, b)| a != b)
        {
            None => Ok(()),
            Some(i) => {
                let line = reparsed
                    .nodes
                    .iter()
                    .find(|n| matches!(n.kind, Kind::Scalar { event, .. } if event >= i))
                    .map_or(1, |n| {
                        let starts: Vec<usize> = std::iter::once(0)
                            .chain(out.match_indices('\n').map(|(i, _)| i + 1))
                            .collect();
                        starts.partition_point(|&s| s <= n.span.start)
                    });
                Err(fail(
                    line,
                    format!(
                        "expected {:?}, found {:?}",
                        expected[i], reparsed.signature[i]
                    ),
                ))
            }
        }
    }
}

/// Trims the common prefix and suffix of `old` and `new`, so the edit covers
/// only the bytes that really change (the tag or digest).
fn narrow(span: Range<usize>, old: &str, new: &str) -> Edit {
    let prefix = old
        .bytes()
        .zip(new.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    let max_suffix = old.len().min(new.len()) - prefix;
    let suffix = old
        .bytes()
        .rev()
        .zip(new.bytes().rev())
        .take(max_suffix)
        .take_while(|(a, b)| a == b)
        .count();
    // Stay on char boundaries: tags are ASCII, but other text may not be.
    let (mut p, mut s) = (prefix, suffix);
    while !(old.is_char_boundary(p) && new.is_char_boundary(p)) {
        p -= 1;
    }
    while !(old.is_char_boundary(old.len() - s) && new.is_char_boundary(new.len() - s)) {
        s -= 1;
    }
    Edit {
        span: span.start + p..span.end - s,
        old: Repr(old[p..old.len() - s].to_owned()),
        new: Repr(new[p..new.len() - s].to_owned()),
    }
}

#[cfg(test)]
mod tests;

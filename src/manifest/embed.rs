//! YAML held in block scalars: finds the strings that are YAML by where
//! they sit, parses them, and grafts the literal ones into the stream so
//! their images are sites like any other.
//!
//! Where YAML is held as text: an Argo CD source's `helm.values: |`, a
//! k3s `HelmChart`'s `valuesContent: |`, a helmfile's `values: [ | … ]`, a
//! ConfigMap's `values.yaml: |` (any key ending in `.yaml`/`.yml`), and
//! kustomize's inline `patch: |` and `patchesStrategicMerge` items.
//!
//! A literal block (`|`, `|-`, `|+`, `|2`) is editable: each line of its
//! text is the file's line minus the block's indentation
//! ([`LineMap::literal`] checks this for every line). A folded block (`>`),
//! or a quoted string with escapes or line breaks, is not: it is listed as
//! skipped with the images it holds. Does not own the dialect rules (it asks
//! [`dialect::scan`] what a block holds) nor editing (`edit`).

use granit_parser::ScalarStyle;

use super::SkippedBlock;
use super::dialect::{self, FileHints};
use super::tree::{Kind, LineMap, NodeId, NodeKind, Stream};
use crate::reference::Reference;

/// Grafts every editable embedded YAML into `stream` and returns the
/// blocks that hold images but cannot be edited.
pub(super) fn embed(text: &str, stream: &mut Stream) -> Vec<SkippedBlock> {
    let mut skipped = Vec::new();
    let hosts: Vec<NodeId> = (0..stream.nodes.len())
        .filter(|&n| is_host(stream, n))
        .collect();
    for host in hosts {
        let Kind::Scalar { value, style, .. } = &stream.nodes[host].kind else {
            continue;
        };
        let (value, style) = (value.clone(), *style);
        let line = stream
            .key_of(host)
            .map_or_else(|| stream.line(host), |k| stream.line(k));
        let inner = match Stream::parse(&value) {
            Ok(inner) if holds_data(&inner) => inner,
            Ok(_) => continue,
            Err(e) => {
                if mentions_images(&value) {
                    skipped.push(SkippedBlock {
                        node: host,
                        line,
                        reason: format!(
                            "the text under this key is not valid YAML (its line {}: {})",
                            e.line, e.message
                        ),
                        images: Vec::new(),
                    });
                }
                continue;
            }
        };
        let map = match style {
            ScalarStyle::Literal => LineMap::literal(text, region(text, stream, host), &value),
            _ => None,
        };
        match map {
            Some(map) => stream.graft(host, value, inner, map),
            None => {
                let images = images_in(&inner, &value);
                if images.is_empty() {
                    continue;
                }
                let reason = match style {
                    ScalarStyle::Folded => {
                        "YAML in a folded block scalar (`>`): its line breaks are folded, so an edit cannot be mapped to the file's bytes; use `|`"
                    }
                    ScalarStyle::Literal => {
                        "YAML in a block scalar whose indentation cannot be mapped to the file's lines"
                    }
                    _ => {
                        "YAML in a quoted string (escapes and folded lines make the file's bytes differ from the text); use a `|` block"
                    }
                };
                skipped.push(SkippedBlock {
                    node: host,
                    line,
                    reason: reason.to_owned(),
                    images,
                });
            }
        }
    }
    skipped
}

/// Returns true if and only if scalar `node` sits where YAML is kept as
/// text and spans lines.
fn is_host(s: &Stream, node: NodeId) -> bool {
    let Kind::Scalar { value, .. } = &s.nodes[node].kind else {
        return false;
    };
    if !value.contains('\n') {
        return false;
    }
    let key = |n: NodeId| s.key_of(n).and_then(|k| s.scalar(k));
    match key(node) {
        Some(k) => {
            matches!(k, "values" | "valuesContent" | "patch")
                || k.ends_with(".yaml")
                || k.ends_with(".yml")
        }
        None => {
            let Some(seq) = s.nodes[node].parent else {
                return false;
            };
            s.kind(seq) == NodeKind::Seq
                && matches!(key(seq), Some("values" | "patchesStrategicMerge"))
        }
    }
}

/// Returns true if and only if the stream's first document is a mapping or
/// a sequence (a block of prose or a script is not YAML data).
fn holds_data(s: &Stream) -> bool {
    s.docs
        .iter()
        .flatten()
        .next()
        .is_some_and(|&r| matches!(s.kind(s.resolve(r)), NodeKind::Map | NodeKind::Seq))
}

fn mentions_images(text: &str) -> bool {
    text.contains("image") || text.contains("repository") || text.contains("$imagepolicy")
}

/// The bytes of a literal block's content: from the line after its header
/// to the end of its span.
fn region(text: &str, s: &Stream, host: NodeId) -> std::ops::Range<usize> {
    let span = s.nodes[host].span.clone();
    let line_start = s.line_start(span.start);
    let header = if text[line_start..span.start].bytes().all(|b| b == b' ') {
        // The span starts at the content: the header is on an earlier line.
        text[..line_start].trim_end_matches(['\n', '\r', ' ']).len()
    } else {
        span.start
    };
    let start = text[header..]
        .find('\n')
        .map_or(text.len(), |i| header + i + 1)
        .min(span.end.max(header));
    start..span.end
}

/// Image names (as written) that the dialect rules find in a stream.
fn images_in(inner: &Stream, text: &str) -> Vec<String> {
    let hints = FileHints {
        file_name: "",
        text,
    };
    let Ok((sites, _)) = dialect::scan(inner, &hints) else {
        return Vec::new();
    };
    let mut names: Vec<String> = sites
        .iter()
        .filter_map(|site| match &site.shape {
            super::Shape::Full { slot, prefix_len } => inner
                .scalar(*slot)
                .and_then(|v| v.get(*prefix_len..))
                .and_then(|v| Reference::parse(v).ok())
                .map(|r| r.name_as_written().to_owned()),
            super::Shape::Split { name, .. } => Some(name.clone()).filter(|n| !n.is_empty()),
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

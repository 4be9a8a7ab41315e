//! A small node tree built from granit-parser's span-reporting event stream,
//! and the generic queries readers need to walk it.
//!
//! Owns: parsing one YAML stream into nodes with byte spans, parents,
//! comments, anchors and aliases kept explicit; YAML embedded in block
//! scalars grafted in with spans in the file's coordinates ([`Embed`]); and
//! a flat event signature used to prove that an edit changed nothing but the
//! planned values. Does not own any knowledge of Kubernetes or image
//! references: that is `dialect`.

use std::collections::HashMap;
use std::ops::Range;

use granit_parser::{Event, Parser, ScalarStyle, StructureStyle};

/// Index of a node in [`Stream::nodes`].
pub type NodeId = usize;

/// What a node holds.
#[derive(Debug, Clone)]
pub enum Kind {
    /// A scalar: decoded value and source style.
    Scalar {
        /// The value after YAML escape processing.
        value: String,
        /// How the scalar is written.
        style: ScalarStyle,
        /// Index of its event in the signature of the stream that parsed it
        /// (for a grafted node, the embedded stream's; see [`Embed`]).
        event: usize,
    },
    /// A sequence of nodes.
    Seq(Vec<NodeId>),
    /// A mapping as ordered key/value pairs (duplicates kept).
    Map(Vec<(NodeId, NodeId)>),
    /// An alias to the anchored node it names.
    Alias(NodeId),
}

impl Kind {
    /// The same kind with its node ids passed through `id` (a renumbering).
    fn renumbered(&self, id: impl Fn(NodeId) -> NodeId) -> Kind {
        match self {
            Kind::Scalar {
                value,
                style,
                event,
            } => Kind::Scalar {
                value: value.clone(),
                style: *style,
                event: *event,
            },
            Kind::Seq(items) => Kind::Seq(items.iter().map(|&i| id(i)).collect()),
            Kind::Map(pairs) => Kind::Map(pairs.iter().map(|&(k, v)| (id(k), id(v))).collect()),
            Kind::Alias(t) => Kind::Alias(id(*t)),
        }
    }
}

/// The kind of a node without its data, for readers that only branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// A scalar.
    Scalar,
    /// A sequence.
    Seq,
    /// A mapping.
    Map,
    /// An alias (see [`Stream::resolve`]).
    Alias,
}

/// One node with its byte span in the source.
#[derive(Debug, Clone)]
pub struct Node {
    /// What the node holds.
    pub kind: Kind,
    /// Byte range of the node's text (quotes included for quoted scalars;
    /// a block scalar's span starts at its first content byte, not at `|`).
    pub span: Range<usize>,
    /// Anchor name defined on this node, if any.
    pub anchor: Option<String>,
    /// The collection holding this node (a key's parent is its mapping).
    pub parent: Option<NodeId>,
}

/// A comment and the byte range of its `# …` text.
#[derive(Debug, Clone)]
pub struct Comment {
    /// Byte range, starting at `#`, excluding the line break.
    pub span: Range<usize>,
    /// Text after `#`.
    pub text: String,
}

/// YAML held in a literal block scalar (`values: |`), parsed and grafted
/// into the outer stream.
///
/// The grafted nodes (ids in [`Embed::nodes`]) carry spans in the file's
/// coordinates, so positions, pins and markers work as for any node; the
/// inner stream keeps the block's own coordinates for editing. Each line of
/// the block's decoded text is the file's line minus [`LineMap::indent`]
/// bytes, which is what makes an edit inside it byte-exact.
#[derive(Clone, Debug)]
pub struct Embed {
    /// The block scalar holding the YAML.
    pub host: NodeId,
    /// Ids of the grafted nodes in the outer stream; inner id = outer id - start.
    pub nodes: Range<NodeId>,
    /// Root of each embedded document, as outer ids.
    pub docs: Vec<Option<NodeId>>,
    /// The embedded stream in the block's own coordinates.
    pub inner: Stream,
    /// The block's decoded text (what `inner` parsed).
    pub text: String,
    /// How inner offsets map to file offsets.
    pub map: LineMap,
}

/// Maps offsets in a literal block scalar's decoded text to file offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineMap {
    /// Indentation (bytes) stripped from every content line.
    pub indent: usize,
    /// The file's line break inside the block (`\n` or `\r\n`).
    pub eol: &'static str,
    /// File offset just after the block's last content line (its line break included).
    pub end: usize,
    /// File offset where each inner line starts (before its indentation).
    outer_lines: Vec<usize>,
    /// File offset where each inner line's text ends (before its break).
    outer_ends: Vec<usize>,
    /// Offset in the decoded text where each inner line starts.
    inner_lines: Vec<usize>,
    /// Offset in the decoded text where each inner line's text ends.
    inner_ends: Vec<usize>,
    /// Length of the decoded text.
    len: usize,
    /// The decoded text ends with a line break.
    trailing_break: bool,
    /// The file has a line break after the block's last content line.
    file_break: bool,
}

/// One parsed YAML stream (all documents of a file).
#[derive(Clone, Debug, Default)]
pub struct Stream {
    /// Every node, in document order; grafted embedded nodes come last.
    pub nodes: Vec<Node>,
    /// Root node of each document (`None` for an empty document).
    pub docs: Vec<Option<NodeId>>,
    /// Every comment, in source order (embedded ones included).
    pub comments: Vec<Comment>,
    /// The event stream minus positions, for before/after comparison
    /// (empty unless parsed with [`Stream::parse_signed`]).
    pub signature: Vec<Sig>,
    /// Start byte of each signature event (same length as `signature`).
    pub sig_offsets: Vec<usize>,
    /// YAML embedded in block scalars, in host order.
    pub embeds: Vec<Embed>,
    /// Byte offset of the start of every line; in a restricted stream, of
    /// the lines its nodes start on ([`Stream::restricted`]).
    line_starts: Vec<usize>,
    /// The 1-based line number of each of `line_starts` when they are not
    /// every line (a restricted stream); empty when they are.
    line_numbers: Vec<usize>,
    /// Number of nodes that belong to the stream itself (not grafted).
    own_nodes: usize,
    /// The stream (or a grafted one) holds an alias.
    has_aliases: bool,
}

/// An event without its position. Two streams with equal signatures hold
/// the same data, comments, anchors, aliases, styles and document markers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sig {
    /// Document start, explicit (`---`) or not.
    DocStart(bool),
    /// Document end.
    DocEnd,
    /// Scalar value, style, and explicit tag.
    Scalar(String, ScalarStyle, Option<String>),
    /// Sequence start.
    SeqStart(StructureStyle, Option<String>),
    /// Sequence end.
    SeqEnd,
    /// Mapping start.
    MapStart(StructureStyle, Option<String>),
    /// Mapping end.
    MapEnd,
    /// Alias by anchor name.
    Alias(String),
    /// Anchor definition by name.
    Anchor(String),
    /// Comment text.
    Comment(String),
}

/// A parse failure at a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What the parser said.
    pub message: String,
}

impl Stream {
    /// Parses `text` into a stream, or the first syntax error. The
    /// signature is left empty: most files are never edited, so it is only
    /// built by [`Stream::parse_signed`] when an edit needs proving.
    pub fn parse(text: &str) -> Result<Stream, ParseError> {
        Self::parse_impl(text, false)
    }

    /// Like [`Stream::parse`], also recording [`Stream::signature`] and
    /// [`Stream::sig_offsets`].
    pub fn parse_signed(text: &str) -> Result<Stream, ParseError> {
        Self::parse_impl(text, true)
    }

    // --- queries -----------------------------------------------------------

    /// Follows aliases to the node that holds the data.
    pub fn resolve(&self, mut id: NodeId) -> NodeId {
        // Aliases point backwards, so this terminates; the bound is belt and braces.
        for _ in 0..64 {
            match self.nodes[id].kind {
                Kind::Alias(target) => id = target,
                _ => return id,
            }
        }
        id
    }

    /// The kind of a node (not following aliases).
    pub fn kind(&self, id: NodeId) -> NodeKind {
        match self.nodes[id].kind {
            Kind::Scalar { .. } => NodeKind::Scalar,
            Kind::Seq(_) => NodeKind::Seq,
            Kind::Map(_) => NodeKind::Map,
            Kind::Alias(_) => NodeKind::Alias,
        }
    }

    /// The decoded value of a scalar (through aliases), if the node is one.
    pub fn scalar(&self, id: NodeId) -> Option<&str> {
        match &self.nodes[self.resolve(id)].kind {
            Kind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// The style of a scalar (through aliases), if the node is one.
    pub fn style(&self, id: NodeId) -> Option<ScalarStyle> {
        match &self.nodes[self.resolve(id)].kind {
            Kind::Scalar { style, .. } => Some(*style),
            _ => None,
        }
    }

    /// Returns true if and only if the node (through aliases) is a null
    /// scalar: plain `null`, `Null`, `NULL`, `~`, or nothing at all.
    pub fn is_null(&self, id: NodeId) -> bool {
        match &self.nodes[self.resolve(id)].kind {
            Kind::Scalar {
                value,
                style: ScalarStyle::Plain,
                ..
            } => matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL"),
            _ => false,
        }
    }

    /// The value of key `key` in mapping `map` (through aliases), with `<<`
    /// merge keys honoured (own keys win). `None` when `map` is not a
    /// mapping or has no such key.
    pub fn get(&self, map: NodeId, key: &str) -> Option<NodeId> {
        let Kind::Map(pairs) = &self.nodes[self.resolve(map)].kind else {
            return None;
        };
        // Fast path without allocation; merge keys (rare) take the full path.
        let mut merge = false;
        for &(k, v) in pairs {
            match self.scalar(k) {
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
            .find(|&(k, _)| self.scalar(k) == Some(key))
            .map(|(_, v)| v)
    }

    /// The scalar value of key `key` in mapping `map` (see [`Stream::get`]).
    pub fn get_str(&self, map: NodeId, key: &str) -> Option<&str> {
        self.get(map, key).and_then(|v| self.scalar(v))
    }

    /// The items of a sequence (through aliases); empty for anything else.
    pub fn items(&self, seq: NodeId) -> &[NodeId] {
        match &self.nodes[self.resolve(seq)].kind {
            Kind::Seq(items) => items,
            _ => &[],
        }
    }

    /// The mapping's own key/value pairs in source order (through aliases,
    /// merge keys not expanded, duplicates kept); empty for anything else.
    pub fn entries(&self, map: NodeId) -> &[(NodeId, NodeId)] {
        match &self.nodes[self.resolve(map)].kind {
            Kind::Map(pairs) => pairs,
            _ => &[],
        }
    }

    /// Key/value pairs of a mapping with `<<` merge keys expanded (own keys
    /// win, then merged mappings in order), the way YAML 1.1 loaders read it.
    pub fn pairs(&self, map: NodeId) -> Vec<(NodeId, NodeId)> {
        let pairs = self.entries(map);
        let mut out: Vec<(NodeId, NodeId)> = Vec::with_capacity(pairs.len());
        let mut merged = Vec::new();
        for &(k, v) in pairs {
            if self.scalar(k) == Some("<<") {
                let v = self.resolve(v);
                match &self.nodes[v].kind {
                    Kind::Seq(items) => merged.extend(items.iter().copied()),
                    _ => merged.push(v),
                }
            } else {
                out.push((k, v));
            }
        }
        for m in merged {
            for &(k, v) in self.entries(m) {
                let key = self.scalar(k);
                if !out.iter().any(|&(ok, _)| self.scalar(ok) == key) {
                    out.push((k, v));
                }
            }
        }
        out
    }

    /// The key node under which `node` sits in its parent mapping, if its
    /// parent is a mapping and `node` is a value there.
    pub fn key_of(&self, node: NodeId) -> Option<NodeId> {
        let parent = self.nodes[node].parent?;
        self.entries(parent)
            .iter()
            .find(|&&(_, v)| v == node)
            .map(|&(k, _)| k)
    }

    /// `node`'s ancestors, nearest first (parents, not alias users).
    pub fn ancestors(&self, node: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        std::iter::successors(self.nodes[node].parent, |&p| self.nodes[p].parent)
    }

    /// Every alias node that reaches `node`: aliases of `node` itself and
    /// of any collection holding it, through grafted embeds too.
    pub fn aliases_reaching(&self, node: NodeId) -> Vec<NodeId> {
        // Most files have no alias at all: nothing to look for.
        if !self.has_aliases {
            return Vec::new();
        }
        let node = self.resolve(node);
        let mut targets: Vec<NodeId> = vec![node];
        targets.extend(self.ancestors(node));
        if !targets.iter().any(|&t| self.nodes[t].anchor.is_some()) {
            return Vec::new();
        }
        let mut out: Vec<NodeId> = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| matches!(n.kind, Kind::Alias(t) if targets.contains(&t)))
            .map(|(i, _)| i)
            .collect();
        // Aliases of an alias's ancestors reach it as well (nested reuse).
        let mut i = 0;
        while i < out.len() {
            let alias = out[i];
            for up in self.ancestors(alias).collect::<Vec<_>>() {
                if self.nodes[up].anchor.is_none() {
                    continue;
                }
                for (j, n) in self.nodes.iter().enumerate() {
                    if matches!(n.kind, Kind::Alias(t) if t == up) && !out.contains(&j) {
                        out.push(j);
                    }
                }
            }
            i += 1;
        }
        out.sort_unstable();
        out
    }

    /// 0-based document index of a node (an embedded node belongs to its host's document).
    pub fn doc_of(&self, node: NodeId) -> usize {
        let node = self.host_root(node);
        // Documents are contiguous in node order and start at their root.
        let mut doc = 0;
        for (i, root) in self.docs.iter().enumerate() {
            match root {
                Some(r) if *r <= node => doc = i,
                Some(_) => break,
                None => {}
            }
        }
        doc
    }

    /// The stream restricted to `keep` and, with `paths`, to the paths that
    /// lead to them: each kept node, its ancestors, and the key of every
    /// kept value. A kept mapping holds its kept pairs and its scalar pairs
    /// (the `name:` next to a Helm parameter's `value:`), the others
    /// dropped; a kept sequence holds all its items (the others emptied) so
    /// item indices stay; every document root stays so document numbers
    /// do. Without `paths`, the nodes of `keep` alone, with no parent and
    /// no document root.
    /// Spans, values and styles are exact, and so are the positions of the
    /// kept nodes' first bytes (only their lines are kept); comments, the
    /// signature and embeds are dropped. Node ids are renumbered in order:
    /// the second value maps old ids to new.
    ///
    /// `None` for a stream with an alias or an embed: what a node reaches
    /// there is not on its path, so no restriction is faithful.
    pub fn restricted(
        &self,
        keep: impl IntoIterator<Item = NodeId>,
        paths: bool,
    ) -> Option<(Stream, Vec<Option<NodeId>>)> {
        if self.has_aliases || !self.embeds.is_empty() {
            return None;
        }
        let mut kept = vec![false; self.nodes.len()];
        for node in keep {
            if !paths {
                if let Some(k) = kept.get_mut(node) {
                    *k = true;
                }
                continue;
            }
            let mut at = Some(node);
            while let Some(n) = at {
                if n >= kept.len() {
                    break;
                }
                kept[n] = true;
                if let Some(key) = self.key_of(n) {
                    kept[key] = true;
                }
                at = self.nodes[n].parent;
            }
        }
        if paths {
            for root in self.docs.iter().flatten() {
                kept[*root] = true;
            }
        }
        // Both halves of a kept pair, and every item of a kept sequence.
        for n in 0..self.nodes.len() {
            if !kept[n] || !paths {
                continue;
            }
            match &self.nodes[n].kind {
                Kind::Map(pairs) => {
                    for &(k, v) in pairs {
                        let scalar = matches!(self.nodes[v].kind, Kind::Scalar { .. });
                        if kept[k] || kept[v] || scalar {
                            kept[k] = true;
                            kept[v] = true;
                        }
                    }
                }
                Kind::Seq(items) => items.iter().for_each(|&i| kept[i] = true),
                Kind::Scalar { .. } | Kind::Alias(_) => {}
            }
        }
        let mut map = vec![None; self.nodes.len()];
        let mut next = 0;
        for (n, &k) in kept.iter().enumerate() {
            if k {
                map[n] = Some(next);
                next += 1;
            }
        }
        let id = |n: NodeId| map[n].expect("impossible: a kept node's relatives are kept");
        let nodes = self
            .nodes
            .iter()
            .zip(&kept)
            .filter(|(_, k)| **k)
            .map(|(node, _)| Node {
                kind: match &node.kind {
                    // Only the pairs kept: both halves are.
                    Kind::Map(pairs) => Kind::Map(
                        pairs
                            .iter()
                            .filter(|(k, v)| kept[*k] && kept[*v])
                            .map(|&(k, v)| (id(k), id(v)))
                            .collect(),
                    ),
                    other => other.renumbered(id),
                },
                span: node.span.clone(),
                anchor: node.anchor.clone(),
                parent: node.parent.and_then(|p| map[p]),
            })
            .collect::<Vec<_>>();
        let mut nodes = nodes;
        nodes.shrink_to_fit();
        let own_nodes = nodes.len();
        let mut lines: Vec<(usize, usize)> = nodes
            .iter()
            .map(|n| {
                let at = n.span.start;
                let line = self.line_starts.partition_point(|&s| s <= at);
                (self.line_starts[line.saturating_sub(1)], line.max(1))
            })
            .collect();
        lines.sort_unstable();
        lines.dedup();
        if lines.first().is_none_or(|&(start, _)| start > 0) {
            lines.insert(0, (0, 1));
        }
        Some((
            Stream {
                nodes,
                // Without paths no root is kept: no document to walk.
                docs: if paths {
                    self.docs.iter().map(|d| d.and_then(|r| map[r])).collect()
                } else {
                    Vec::new()
                },
                line_starts: lines.iter().map(|&(s, _)| s).collect(),
                line_numbers: lines.iter().map(|&(_, l)| l).collect(),
                own_nodes,
                ..Stream::default()
            },
            map,
        ))
    }

    /// 1-based line and byte column of byte offset `at`.
    pub fn position(&self, at: usize) -> (usize, usize) {
        let line = self.line_starts.partition_point(|&s| s <= at);
        let start = self.line_starts[line.saturating_sub(1)];
        match self.line_numbers.get(line.saturating_sub(1)) {
            Some(&number) => (number, at - start + 1),
            None => (line, at - start + 1),
        }
    }

    /// 1-based line of a node's first byte.
    pub fn line(&self, node: NodeId) -> usize {
        self.position(self.nodes[node].span.start).0
    }

    /// Byte offset where the line holding byte `at` starts.
    pub fn line_start(&self, at: usize) -> usize {
        let line = self.line_starts.partition_point(|&s| s <= at);
        self.line_starts[line.saturating_sub(1)]
    }

    /// The embed whose grafted nodes include `node`, if any.
    pub fn embed_of(&self, node: NodeId) -> Option<&Embed> {
        if node < self.own_nodes {
            return None;
        }
        self.embeds.iter().find(|e| e.nodes.contains(&node))
    }

    /// Grafts an embedded stream (parsed from the decoded text of block
    /// scalar `host`) into this one: its nodes and comments are appended
    /// with spans mapped to file offsets through `map`.
    pub fn graft(&mut self, host: NodeId, text: String, inner: Stream, map: LineMap) {
        let base = self.nodes.len();
        let shift = |id: NodeId| id + base;
        for node in &inner.nodes {
            if matches!(node.kind, Kind::Alias(_)) {
                self.has_aliases = true;
            }
            let kind = node.kind.renumbered(shift);
            self.nodes.push(Node {
                kind,
                span: map.outer(node.span.start)..map.outer(node.span.end),
                anchor: node.anchor.clone(),
                // Embedded roots hang off their host, so ancestors and
                // documents lead back to the file.
                parent: Some(node.parent.map_or(host, shift)),
            });
        }
        for c in &inner.comments {
            self.comments.push(Comment {
                span: map.outer(c.span.start)..map.outer(c.span.end),
                text: c.text.clone(),
            });
        }
        self.comments.sort_by_key(|c| c.span.start);
        let docs = inner.docs.iter().map(|d| d.map(shift)).collect();
        self.embeds.push(Embed {
            host,
            nodes: base..self.nodes.len(),
            docs,
            inner,
            text,
            map,
        });
    }

    // --- parsing -----------------------------------------------------------

    fn host_root(&self, node: NodeId) -> NodeId {
        match self.embed_of(node) {
            Some(e) => e.host,
            None => node,
        }
    }

    fn parse_impl(text: &str, signed: bool) -> Result<Stream, ParseError> {
        // Real values files carry long comment blocks; the bound stays finite.
        let options = granit_parser::options! { emit_anchor_events: true, max_buffered_comment_events: 65_536 };
        let mut out = Stream {
            line_starts: std::iter::once(0).chain(line_breaks(text)).collect(),
            ..Stream::default()
        };
        let mut stack: Vec<(NodeId, Option<NodeId>)> = Vec::new(); // (collection, pending key)
        let mut anchors: HashMap<usize, NodeId> = HashMap::new();
        let mut names: HashMap<usize, String> = HashMap::new();
        let mut last_node: Option<NodeId> = None;
        // Event indices are counted even when unsigned, so `Kind::Scalar::event`
        // matches a later signed parse of the same text.
        let mut events = 0usize;
        let mut sig = |out: &mut Stream, at: usize, make: &dyn Fn() -> Sig| {
            events += 1;
            if signed {
                out.signature.push(make());
                out.sig_offsets.push(at);
            }
            events - 1
        };
        for next in Parser::new_from_str_with_options(text, options) {
            let (event, span) = next.map_err(|e| ParseError {
                line: e.marker().line(),
                column: e.marker().col() + 1,
                message: e.info().to_string(),
            })?;
            let range = span.start.byte_offset().unwrap_or(0)..span.end.byte_offset().unwrap_or(0);
            let at = range.start;
            let tag = |t: &Option<std::borrow::Cow<'_, granit_parser::Tag>>| {
                t.as_ref().map(|t| t.original())
            };
            match event {
                Event::StreamStart | Event::StreamEnd => {}
                Event::DocumentStart(explicit, _) => {
                    out.docs.push(None);
                    sig(&mut out, at, &|| Sig::DocStart(explicit));
                }
                Event::DocumentEnd => {
                    sig(&mut out, at, &|| Sig::DocEnd);
                }
                Event::Scalar(value, style, _, t) => {
                    let event = sig(&mut out, at, &|| {
                        Sig::Scalar(value.to_string(), style, tag(&t))
                    });
                    let kind = Kind::Scalar {
                        value: value.into_owned(),
                        style,
                        event,
                    };
                    let id = out.push(kind, range, &mut stack);
                    last_node = Some(id);
                }
                Event::SequenceStart(style, _, t) => {
                    sig(&mut out, at, &|| Sig::SeqStart(style, tag(&t)));
                    let id = out.push(Kind::Seq(Vec::new()), range, &mut stack);
                    stack.push((id, None));
                    last_node = Some(id);
                }
                Event::MappingStart(style, _, t) => {
                    sig(&mut out, at, &|| Sig::MapStart(style, tag(&t)));
                    let id = out.push(Kind::Map(Vec::new()), range, &mut stack);
                    stack.push((id, None));
                    last_node = Some(id);
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let end = if matches!(event, Event::SequenceEnd) {
                        Sig::SeqEnd
                    } else {
                        Sig::MapEnd
                    };
                    sig(&mut out, at, &|| end.clone());
                    if let Some((id, _)) = stack.pop() {
                        out.nodes[id].span.end = range.end.max(out.nodes[id].span.end);
                    }
                }
                Event::Anchor(id, name) => {
                    sig(&mut out, at, &|| Sig::Anchor(name.to_string()));
                    if let Some(node) = last_node {
                        out.nodes[node].anchor = Some(name.to_string());
                        anchors.insert(id, node);
                        names.insert(id, name.into_owned());
                    }
                }
                Event::Alias(id) => {
                    sig(&mut out, at, &|| {
                        Sig::Alias(names.get(&id).cloned().unwrap_or_default())
                    });
                    // The parser resolved the alias, so the anchor exists.
                    let target = anchors.get(&id).copied().unwrap_or(0);
                    // An alias inside the collection its anchor names makes a
                    // cycle no walk could finish; go-yaml (Kubernetes)
                    // rejects it too ("anchor 'x' value contains itself").
                    if stack.iter().any(|&(open, _)| open == target) {
                        let name = names.get(&id).map_or("", String::as_str);
                        return Err(ParseError {
                            line: span.start.line(),
                            column: span.start.col() + 1,
                            message: format!(
                                "the alias *{name} is inside the node anchored &{name} (a recursive alias)"
                            ),
                        });
                    }
                    out.has_aliases = true;
                    out.push(Kind::Alias(target), range, &mut stack);
                }
                Event::Comment(text, _) => {
                    sig(&mut out, at, &|| Sig::Comment(text.to_string()));
                    out.comments.push(Comment {
                        span: range,
                        text: text.into_owned(),
                    });
                }
                _ => {}
            }
        }
        out.own_nodes = out.nodes.len();
        Ok(out)
    }

    fn push(
        &mut self,
        kind: Kind,
        span: Range<usize>,
        stack: &mut [(NodeId, Option<NodeId>)],
    ) -> NodeId {
        let id = self.nodes.len();
        self.nodes.push(Node {
            kind,
            span,
            anchor: None,
            parent: stack.last().map(|&(p, _)| p),
        });
        match stack.last_mut() {
            None => {
                if let Some(root) = self.docs.last_mut() {
                    *root = Some(id);
                }
            }
            Some((parent, pending)) => {
                let parent = *parent;
                match &mut self.nodes[parent].kind {
                    Kind::Seq(items) => items.push(id),
                    Kind::Map(pairs) => match pending.take() {
                        None => *pending = Some(id),
                        Some(key) => pairs.push((key, id)),
                    },
                    _ => {}
                }
            }
        }
        id
    }
}

impl LineMap {
    /// Builds the map for a literal block scalar whose decoded value is
    /// `value` and whose content occupies `region` of `text` (from the
    /// first byte after the header's line break to the scalar's end).
    /// `None` when the file's lines do not reproduce the value exactly
    /// (the proof that every inner byte sits at a known file offset).
    pub fn literal(text: &str, region: Range<usize>, value: &str) -> Option<LineMap> {
        let body = text.get(region.clone())?;
        // File lines of the block: (offset of line start, line without break).
        let mut lines: Vec<(usize, &str)> = Vec::new();
        let mut at = region.start;
        let mut eol = "\n";
        for piece in body.split_inclusive('\n') {
            let Some(line) = piece.strip_suffix('\n') else {
                // A last piece without a break: the next line's indentation
                // (part of the span), or content at the end of the file.
                if !piece.trim_start_matches(' ').is_empty() {
                    lines.push((at, piece));
                }
                break;
            };
            let line = match line.strip_suffix('\r') {
                Some(l) => {
                    eol = "\r\n";
                    l
                }
                None => line,
            };
            lines.push((at, line));
            at += piece.len();
        }
        let inner_lines: Vec<usize> = std::iter::once(0)
            .chain(value.match_indices('\n').map(|(i, _)| i + 1))
            .filter(|&s| s < value.len())
            .collect();
        let inner_ends: Vec<usize> = inner_lines
            .iter()
            .map(|&s| value[s..].find('\n').map_or(value.len(), |e| s + e))
            .collect();
        if inner_lines.is_empty() || inner_lines.len() > lines.len() {
            return None;
        }
        let first = lines
            .iter()
            .find(|(_, l)| !l.trim_start_matches(' ').is_empty())?;
        let widest = first.1.len() - first.1.trim_start_matches(' ').len();
        // The indentation indicator (`|2`) may make it smaller than the first
        // line's: take the largest that reproduces the value.
        'indent: for indent in (0..=widest).rev() {
            for (i, (&start, &end)) in inner_lines.iter().zip(&inner_ends).enumerate() {
                let want = &value[start..end];
                let line = lines[i].1;
                let got = if line.len() > indent {
                    if !line.as_bytes()[..indent].iter().all(|&b| b == b' ') {
                        continue 'indent;
                    }
                    &line[indent..]
                } else if line.bytes().all(|b| b == b' ') {
                    ""
                } else {
                    continue 'indent;
                };
                if got != want {
                    continue 'indent;
                }
            }
            let used = &lines[..inner_lines.len()];
            let (last_start, last) = used[used.len() - 1];
            let after_last = last_start + last.len();
            let file_break = text[after_last..].starts_with(eol);
            let end = if file_break {
                after_last + eol.len()
            } else {
                after_last
            };
            return Some(LineMap {
                indent,
                eol,
                end,
                outer_lines: used.iter().map(|&(s, _)| s).collect(),
                outer_ends: used.iter().map(|&(s, l)| s + l.len()).collect(),
                inner_lines,
                inner_ends,
                len: value.len(),
                trailing_break: value.ends_with('\n'),
                file_break,
            });
        }
        None
    }

    /// The file offset of inner offset `at`.
    pub fn outer(&self, at: usize) -> usize {
        let i = self
            .inner_lines
            .partition_point(|&s| s <= at)
            .saturating_sub(1);
        let (Some(&start), Some(&end)) = (self.inner_lines.get(i), self.inner_ends.get(i)) else {
            return self.end;
        };
        if at > end {
            // Past the last line's break.
            return self.outer_lines.get(i + 1).copied().unwrap_or(self.end);
        }
        let width = self.outer_ends[i] - self.outer_lines[i];
        self.outer_lines[i] + (self.indent + (at - start)).min(width)
    }

    /// Where and what to write in the file for `text` inserted at inner
    /// offset `at`: every line break becomes the file's break plus the
    /// block's indentation. Returns (file offset, bytes).
    pub fn translate_insert(&self, at: usize, text: &str) -> (usize, String) {
        let pad = " ".repeat(self.indent);
        let line = self.inner_lines.binary_search(&at).ok();
        let at_end_line = at == self.len && self.trailing_break;
        if let (true, Some(body)) = (line.is_some() || at_end_line, text.strip_suffix('\n')) {
            // Whole new lines: they go before the file line, indentation first.
            let body = body.replace('\n', &format!("{}{pad}", self.eol));
            return match line {
                Some(i) => (self.outer_lines[i], format!("{pad}{body}{}", self.eol)),
                // After the last line: it has no break in the file at its end.
                None if !self.file_break => (self.end, format!("{}{pad}{body}", self.eol)),
                None => (self.end, format!("{pad}{body}{}", self.eol)),
            };
        }
        let body = text.replace('\n', &format!("{}{pad}", self.eol));
        (self.outer(at), body)
    }

    /// 0-based inner line holding inner offset `at`.
    pub fn inner_line(&self, at: usize) -> usize {
        self.inner_lines
            .partition_point(|&s| s <= at)
            .saturating_sub(1)
    }

    /// File offset where inner line `line` (0-based) starts, or the block's end.
    pub fn outer_line_start(&self, line: usize) -> usize {
        self.outer_lines.get(line).copied().unwrap_or(self.end)
    }
}

fn line_breaks(text: &str) -> impl Iterator<Item = usize> + '_ {
    text.bytes()
        .enumerate()
        .filter(|&(_, b)| b == b'\n')
        .map(|(i, _)| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_maps_with_spans_and_aliases() {
        let text = "a: &x 'v'\nb: *x\nc: [1, 2]\n";
        let s = Stream::parse(text).expect("parses");
        let root = s.docs[0].expect("root");
        let Kind::Map(pairs) = &s.nodes[root].kind else {
            panic!("map")
        };
        assert_eq!(pairs.len(), 3);
        let (_, a) = pairs[0];
        assert_eq!(&text[s.nodes[a].span.clone()], "'v'");
        assert_eq!(s.nodes[a].anchor.as_deref(), Some("x"));
        let (_, b) = pairs[1];
        assert_eq!(s.scalar(b), Some("v"));
        assert_eq!(s.resolve(b), a);
        assert_eq!(s.aliases_reaching(a), vec![b]);
        assert_eq!(s.nodes[a].parent, Some(root));
        assert_eq!(s.line(b), 2);
    }

    #[test]
    fn queries_walk_maps_sequences_and_merges() {
        let text = "base: &b {tag: v1, pull: x}\nimg:\n  <<: *b\n  tag: v2\nlist: [a, b]\n";
        let s = Stream::parse(text).expect("parses");
        let root = s.docs[0].expect("root");
        let img = s.get(root, "img").expect("img");
        assert_eq!(s.get_str(img, "tag"), Some("v2"), "own keys win");
        assert_eq!(s.get_str(img, "pull"), Some("x"), "merged keys are seen");
        assert_eq!(s.entries(img).len(), 2, "entries do not expand merges");
        assert_eq!(s.pairs(img).len(), 2, "tag (own) and pull (merged)");
        let list = s.get(root, "list").expect("list");
        assert_eq!(s.kind(list), NodeKind::Seq);
        assert_eq!(s.items(list).len(), 2);
        assert_eq!(s.key_of(list).and_then(|k| s.scalar(k)), Some("list"));
        // The merged mapping's tag is reached through `*b`.
        let base = s.get(root, "base").expect("base");
        let tag = s.get(base, "tag").expect("tag");
        assert_eq!(s.aliases_reaching(tag).len(), 1);
    }

    #[test]
    fn reports_errors_with_position() {
        let err = Stream::parse("a: [b\n").expect_err("unclosed");
        assert_eq!(err.line, 1);
    }

    #[test]
    fn literal_blocks_map_line_by_line() {
        for (text, value) in [
            ("v: |\n  a: 1\n  b:\n    c: 2\nn: 1\n", "a: 1\nb:\n  c: 2\n"),
            ("v: |2\r\n    a: 1\r\n   b\r\n", "  a: 1\n b\n"),
            ("v: |-\n  a: 1\n\n  b: 2", "a: 1\n\nb: 2"),
        ] {
            let s = Stream::parse(text).expect("parses");
            let root = s.docs[0].expect("root");
            let host = s.get(root, "v").expect("v");
            assert_eq!(s.scalar(host), Some(value));
            let header_end = text.find('\n').expect("header") + 1;
            let map = LineMap::literal(text, header_end..s.nodes[host].span.end, value)
                .unwrap_or_else(|| panic!("maps {text:?}"));
            for (i, b) in value.bytes().enumerate() {
                if b != b'\n' {
                    assert_eq!(text.as_bytes()[map.outer(i)], b, "{text:?} byte {i}");
                }
            }
        }
    }
}

//! A small node tree built from granit-parser's span-reporting event stream.
//!
//! Owns: parsing one YAML stream into nodes with byte spans, comments, anchors
//! and aliases kept explicit, plus a flat event signature used to prove that
//! an edit changed nothing but the planned scalars. Does not own any
//! knowledge of Kubernetes or image references.

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
        /// Index of its event in [`Stream::signature`].
        event: usize,
    },
    /// A sequence of nodes.
    Seq(Vec<NodeId>),
    /// A mapping as ordered key/value pairs (duplicates kept).
    Map(Vec<(NodeId, NodeId)>),
    /// An alias to the anchored node it names.
    Alias(NodeId),
}

/// One node with its byte span in the source.
#[derive(Debug, Clone)]
pub struct Node {
    /// What the node holds.
    pub kind: Kind,
    /// Byte range of the node's text (quotes included for quoted scalars).
    pub span: Range<usize>,
    /// Anchor name defined on this node, if any.
    pub anchor: Option<String>,
}

/// A comment and the byte range of its `# …` text.
#[derive(Debug, Clone)]
pub struct Comment {
    /// Byte range, starting at `#`, excluding the line break.
    pub span: Range<usize>,
    /// Text after `#`.
    pub text: String,
}

/// One parsed YAML stream (all documents of a file).
#[derive(Debug, Default)]
pub struct Stream {
    /// Every node, in document order.
    pub nodes: Vec<Node>,
    /// Root node of each document (`None` for an empty document).
    pub docs: Vec<Option<NodeId>>,
    /// Every comment, in source order.
    pub comments: Vec<Comment>,
    /// The event stream minus positions, for before/after comparison
    /// (empty unless parsed with [`Stream::parse_signed`]).
    pub signature: Vec<Sig>,
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

    /// Like [`Stream::parse`], also recording [`Stream::signature`].
    pub fn parse_signed(text: &str) -> Result<Stream, ParseError> {
        Self::parse_impl(text, true)
    }

    fn parse_impl(text: &str, signed: bool) -> Result<Stream, ParseError> {
        // Real values files carry long comment blocks; the bound stays finite.
        let options = granit_parser::options! { emit_anchor_events: true, max_buffered_comment_events: 65_536 };
        let mut out = Stream::default();
        let mut stack: Vec<(NodeId, Option<NodeId>)> = Vec::new(); // (collection, pending key)
        let mut anchors: HashMap<usize, NodeId> = HashMap::new();
        let mut names: HashMap<usize, String> = HashMap::new();
        let mut last_node: Option<NodeId> = None;
        // Event indices are counted even when unsigned, so `Kind::Scalar::event`
        // matches a later signed parse of the same text.
        let mut events = 0usize;
        let mut sig = |out: &mut Stream, make: &dyn Fn() -> Sig| {
            events += 1;
            if signed {
                out.signature.push(make());
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
            let tag = |t: &Option<std::borrow::Cow<'_, granit_parser::Tag>>| {
                t.as_ref().map(|t| t.original())
            };
            match event {
                Event::StreamStart | Event::StreamEnd => {}
                Event::DocumentStart(explicit, _) => {
                    out.docs.push(None);
                    sig(&mut out, &|| Sig::DocStart(explicit));
                }
                Event::DocumentEnd => {
                    sig(&mut out, &|| Sig::DocEnd);
                }
                Event::Scalar(value, style, _, t) => {
                    let event = sig(&mut out, &|| Sig::Scalar(value.to_string(), style, tag(&t)));
                    let kind = Kind::Scalar {
                        value: value.into_owned(),
                        style,
                        event,
                    };
                    let id = out.push(kind, range, &mut stack);
                    last_node = Some(id);
                }
                Event::SequenceStart(style, _, t) => {
                    sig(&mut out, &|| Sig::SeqStart(style, tag(&t)));
                    let id = out.push(Kind::Seq(Vec::new()), range, &mut stack);
                    stack.push((id, None));
                    last_node = Some(id);
                }
                Event::MappingStart(style, _, t) => {
                    sig(&mut out, &|| Sig::MapStart(style, tag(&t)));
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
                    sig(&mut out, &|| end.clone());
                    if let Some((id, _)) = stack.pop() {
                        out.nodes[id].span.end = range.end.max(out.nodes[id].span.end);
                    }
                }
                Event::Anchor(id, name) => {
                    sig(&mut out, &|| Sig::Anchor(name.to_string()));
                    if let Some(node) = last_node {
                        out.nodes[node].anchor = Some(name.to_string());
                        anchors.insert(id, node);
                        names.insert(id, name.into_owned());
                    }
                }
                Event::Alias(id) => {
                    sig(&mut out, &|| {
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
                    out.push(Kind::Alias(target), range, &mut stack);
                }
                Event::Comment(text, _) => {
                    sig(&mut out, &|| Sig::Comment(text.to_string()));
                    out.comments.push(Comment {
                        span: range,
                        text: text.into_owned(),
                    });
                }
                _ => {}
            }
        }
        Ok(out)
    }

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

    /// The decoded value of a scalar (through aliases), if the node is one.
    pub fn scalar(&self, id: NodeId) -> Option<&str> {
        match &self.nodes[self.resolve(id)].kind {
            Kind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// Returns true if and only if the node (through aliases) is a null scalar.
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
    }

    #[test]
    fn reports_errors_with_position() {
        let err = Stream::parse("a: [b\n").expect_err("unclosed");
        assert_eq!(err.line, 1);
    }
}

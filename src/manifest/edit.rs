//! Editing: renders [`Change`]s as byte edits, splices them into the
//! original text, and proves the result by re-parsing.
//!
//! Owns the lossless guarantee: a replacement changes only the bytes of one
//! scalar (narrowed to the bytes that differ); an insertion adds one line
//! per pair in the mapping's own indentation, quoting and line breaks (or
//! `, key: value` in a flow mapping); an edit inside YAML embedded in a
//! literal block scalar is made on the block's text, proven there, and
//! mapped onto the file's lines. The proof: the edited file re-parses to
//! the original event stream with exactly the planned scalar values changed
//! and exactly the inserted pairs added, at their places. Does not decide
//! what to change (`plan`).

use std::collections::BTreeMap;

use granit_parser::ScalarStyle;

use super::scalar::{self, Repr};
use super::tree::{Embed, Kind, NodeId, Sig, Stream};
use super::{Change, Edit, EditError, Insert};

/// See [`super::Manifest::apply`].
pub(super) fn apply(
    text: &str,
    stream: &Stream,
    changes: &[Change],
) -> Result<(String, Vec<Edit>), EditError> {
    let line_of = |at: usize| stream.position(at).0;
    // The original's signature is built only now: most files are never edited.
    let original = Stream::parse_signed(text).map_err(|e| EditError::Verification {
        line: e.line,
        detail: e.message,
    })?;
    let mut expected = original.signature.clone();
    let mut edits: Vec<Edit> = Vec::with_capacity(changes.len());
    // (event index, insertion offset, events) of inserted pairs.
    let mut added: Vec<(usize, usize, Vec<Sig>)> = Vec::new();
    let mut embedded: BTreeMap<usize, Vec<Change>> = BTreeMap::new();
    for (n, change) in changes.iter().enumerate() {
        // The same change planned twice (two sites sharing an anchor) is one edit.
        if changes[..n].contains(change) {
            continue;
        }
        if let Some(i) = stream
            .embeds
            .iter()
            .position(|e| e.nodes.contains(&change.node))
        {
            embedded
                .entry(i)
                .or_default()
                .push(inner_change(&stream.embeds[i], change));
            continue;
        }
        match &change.insert {
            Some(insert) => {
                let ins = insertion(text, stream, change.node, insert)?;
                let index = original.sig_offsets.partition_point(|&o| o < ins.at);
                added.push((index, ins.at, ins.events));
                edits.push(Edit {
                    span: ins.at..ins.at,
                    old: Repr(String::new()),
                    new: Repr(ins.bytes),
                });
            }
            None => {
                let (edit, event, style) = replacement(text, stream, change)?;
                if let Some(Sig::Scalar(v, s, _)) = expected.get_mut(event) {
                    v.clone_from(&change.value);
                    *s = style;
                }
                edits.push(edit);
            }
        }
    }
    for (i, inner_changes) in embedded {
        let embed = &stream.embeds[i];
        let host_line = line_of(stream.nodes[embed.host].span.start);
        let relocate =
            |inner_line: usize| line_of(embed.map.outer_line_start(inner_line.saturating_sub(1)));
        let (new_inner, inner_edits) = apply(&embed.text, &embed.inner, &inner_changes)
            .map_err(|e| relocate_error(e, relocate))?;
        for e in inner_edits {
            let (span, new) = if e.span.is_empty() {
                let (at, bytes) = embed.map.translate_insert(e.span.start, &e.new.0);
                (at..at, bytes)
            } else {
                let pad = format!("{}{}", embed.map.eol, " ".repeat(embed.map.indent));
                (
                    embed.map.outer(e.span.start)..embed.map.outer(e.span.end),
                    e.new.0.replace('\n', &pad),
                )
            };
            edits.push(Edit {
                old: Repr(text[span.clone()].to_owned()),
                span,
                new: Repr(new),
            });
        }
        let Kind::Scalar { event, .. } = &stream.nodes[embed.host].kind else {
            return Err(EditError::NotVerbatim { line: host_line });
        };
        if let Some(Sig::Scalar(v, _, _)) = expected.get_mut(*event) {
            *v = new_inner;
        }
    }
    edits.sort_by_key(|e| (e.span.start, e.span.end));
    for pair in edits.windows(2) {
        if pair[1].span.start < pair[0].span.end
            || (pair[1].span.start == pair[0].span.start && pair[0].span.is_empty())
        {
            return Err(EditError::Overlap {
                line: line_of(pair[1].span.start),
            });
        }
    }
    let mut out = text.to_owned();
    for e in edits.iter().rev() {
        out.replace_range(e.span.clone(), &e.new.0);
    }
    added.sort_by_key(|&(index, at, _)| (index, at));
    for (index, _, events) in added.into_iter().rev() {
        let index = index.min(expected.len());
        expected.splice(index..index, events);
    }
    prove(&out, &expected)?;
    Ok((out, edits))
}

/// See [`super::Manifest::insertion_position`].
pub(super) fn insertion_position(
    text: &str,
    stream: &Stream,
    change: &Change,
) -> Result<(usize, usize), EditError> {
    let Some(insert) = &change.insert else {
        return Ok(stream.position(stream.nodes[change.node].span.start));
    };
    if let Some(embed) = stream
        .embeds
        .iter()
        .find(|e| e.nodes.contains(&change.node))
    {
        let inner = inner_change(embed, change);
        let (line, col) = insertion_position(&embed.text, &embed.inner, &inner)?;
        let at = embed.map.outer_line_start(line.saturating_sub(1));
        return Ok((stream.position(at).0, col + embed.map.indent));
    }
    let ins = insertion(text, stream, change.node, insert)?;
    let (line, col) = stream.position(ins.at);
    Ok(match ins.flow {
        true => (line, col + ins.value_column),
        false if ins.at == text.len() && !text.ends_with('\n') => (line + 1, ins.value_column + 1),
        false => (line, ins.value_column + 1),
    })
}

/// An inner-coordinates copy of a change to a grafted node.
fn inner_change(embed: &Embed, change: &Change) -> Change {
    let base = embed.nodes.start;
    Change {
        node: change.node - base,
        value: change.value.clone(),
        insert: change.insert.as_ref().map(|i| Insert {
            after: i.after - base,
            pairs: i.pairs.clone(),
        }),
    }
}

fn relocate_error(e: EditError, relocate: impl Fn(usize) -> usize) -> EditError {
    match e {
        EditError::NotVerbatim { line } => EditError::NotVerbatim {
            line: relocate(line),
        },
        EditError::Insert { line, reason } => EditError::Insert {
            line: relocate(line),
            reason,
        },
        EditError::Overlap { line } => EditError::Overlap {
            line: relocate(line),
        },
        EditError::Verification { line, detail } => EditError::Verification {
            line: relocate(line),
            detail: format!("inside the block scalar: {detail}"),
        },
        EditError::Outline => EditError::Outline,
    }
}

/// A scalar's new bytes, its event index, and its new style.
fn replacement(
    text: &str,
    stream: &Stream,
    change: &Change,
) -> Result<(Edit, usize, ScalarStyle), EditError> {
    let node = &stream.nodes[change.node];
    let line = stream.position(node.span.start).0;
    let Kind::Scalar {
        value,
        style,
        event,
    } = &node.kind
    else {
        return Err(EditError::NotVerbatim { line });
    };
    let raw = &text[node.span.clone()];
    // `tag:` with nothing after it: an empty plain null, filled in place.
    let implicit_null = raw.is_empty() && *style == ScalarStyle::Plain && value == "~";
    if !implicit_null && !scalar::is_verbatim(raw, value, *style) {
        return Err(EditError::NotVerbatim { line });
    }
    let mut new = scalar::render_keeping_style(&change.value, *style)
        .ok_or(EditError::NotVerbatim { line })?;
    let new_style = match new.0.as_bytes().first() {
        Some(b'"') => ScalarStyle::DoubleQuoted,
        Some(b'\'') => ScalarStyle::SingleQuoted,
        _ => ScalarStyle::Plain,
    };
    if implicit_null {
        // The parser puts an empty value right after its key, before `:`.
        let rest = &text[node.span.start..];
        let colon = rest.len() - rest.trim_start_matches([' ', '\t']).len();
        if !rest[colon..].starts_with(':') {
            return Err(EditError::NotVerbatim { line });
        }
        let mut at = node.span.start + colon + 1;
        if text[at..].starts_with(' ') {
            at += 1;
        } else {
            new.0.insert(0, ' ');
        }
        let edit = Edit {
            span: at..at,
            old: Repr(String::new()),
            new,
        };
        return Ok((edit, *event, new_style));
    }
    Ok((narrow(node.span.clone(), raw, &new.0), *event, new_style))
}

/// One rendered insertion.
struct Insertion {
    /// Byte offset where the bytes go.
    at: usize,
    /// The bytes.
    bytes: String,
    /// The events the pairs add.
    events: Vec<Sig>,
    /// Byte offset of the first value within `bytes` (after the first line
    /// break for a block insertion at the end of a file without one).
    value_column: usize,
    /// Inserted into a flow mapping.
    flow: bool,
}

fn insertion(
    text: &str,
    stream: &Stream,
    map: NodeId,
    insert: &Insert,
) -> Result<Insertion, EditError> {
    let after = insert.after;
    let line = stream.position(stream.nodes[after].span.start).0;
    let refuse = |reason: &str| EditError::Insert {
        line,
        reason: reason.to_owned(),
    };
    if stream.resolve(map) != map || !matches!(stream.nodes[map].kind, Kind::Map(_)) {
        return Err(refuse("the mapping is an alias of another one"));
    }
    if !stream.aliases_reaching(map).is_empty() {
        return Err(refuse(
            "the mapping is reused through an anchor, so the field would appear at every alias",
        ));
    }
    let own = stream.entries(map);
    if let Some((k, _)) = insert.pairs.iter().find(|(k, _)| {
        own.iter()
            .any(|&(ok, _)| stream.scalar(ok) == Some(k.as_str()))
    }) {
        return Err(refuse(&format!(
            "the mapping already has a `{k}` field that is not a plain value"
        )));
    }
    // After the name field, or (when that comes from a `<<` merge) after
    // the mapping's last own single-line field.
    let single_line = |&&(k, v): &&(NodeId, NodeId)| {
        stream.scalar(k).is_some_and(|k| k != "<<")
            && matches!(stream.nodes[v].kind, Kind::Scalar { .. } | Kind::Alias(_))
            && !text[stream.nodes[v].span.clone()].contains('\n')
    };
    let Some(&(key, value)) = own
        .iter()
        .find(|&&(k, _)| k == after)
        .or_else(|| own.iter().rev().find(single_line))
    else {
        return Err(refuse(
            "the mapping has no field of its own to insert after",
        ));
    };
    let (Some(key_style), Some(_)) = (stream.style(key), stream.scalar(key)) else {
        return Err(refuse("the key before the new field is not a plain string"));
    };
    let value_node = &stream.nodes[value];
    let value_style = match &value_node.kind {
        Kind::Scalar { style, .. } => *style,
        Kind::Alias(_) => ScalarStyle::Plain,
        _ => return Err(refuse("the field before the new one holds a collection")),
    };
    if matches!(value_style, ScalarStyle::Literal | ScalarStyle::Folded)
        || text[value_node.span.clone()].contains('\n')
    {
        return Err(refuse("the field before the new one spans several lines"));
    }
    let quote = match value_style {
        ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => value_style,
        _ => ScalarStyle::Plain,
    };
    let mut events = Vec::new();
    let mut rendered = Vec::new();
    for (k, v) in &insert.pairs {
        let k_repr = scalar::render(k, key_style)
            .or_else(|| scalar::render(k, ScalarStyle::Plain))
            .or_else(|| scalar::render(k, ScalarStyle::DoubleQuoted))
            .ok_or_else(|| refuse("the new key cannot be written"))?;
        let v_repr = scalar::render_keeping_style(v, quote)
            .ok_or_else(|| refuse("the new value cannot be written"))?;
        let style_of = |r: &Repr| match r.0.as_bytes().first() {
            Some(b'"') => ScalarStyle::DoubleQuoted,
            Some(b'\'') => ScalarStyle::SingleQuoted,
            _ => ScalarStyle::Plain,
        };
        events.push(Sig::Scalar(k.clone(), style_of(&k_repr), None));
        events.push(Sig::Scalar(v.clone(), style_of(&v_repr), None));
        rendered.push((k_repr.0, v_repr.0));
    }
    let flow = text[stream.nodes[map].span.clone()].starts_with('{');
    if flow {
        let at = value_node.span.end;
        let mut bytes = String::new();
        for (k, v) in &rendered {
            bytes.push_str(&format!(", {k}: {v}"));
        }
        let value_column = 2 + rendered[0].0.len() + 2;
        return Ok(Insertion {
            at,
            bytes,
            events,
            value_column,
            flow,
        });
    }
    let key_start = stream.nodes[key].span.start;
    let line_start = stream.line_start(key_start);
    let lead = &text[line_start..key_start];
    // Only spaces and `- ` sequence markers may precede the key: anything
    // else (`? `, `&anchor`, `!tag`) would give the new line another meaning.
    if !lead.split(' ').all(|w| w.is_empty() || w == "-") {
        return Err(refuse(
            "the key before the new field is written with properties or `?`",
        ));
    }
    let indent = " ".repeat(lead.len());
    let rest_start = value_node.span.end;
    let line_end = text[rest_start..].find('\n').map(|i| rest_start + i);
    let rest = &text[rest_start..line_end.unwrap_or(text.len())];
    let rest = rest.trim_end_matches('\r').trim();
    if !(rest.is_empty() || rest.starts_with('#')) {
        return Err(refuse(
            "the line of the field before the new one holds more than that field",
        ));
    }
    let eol = match line_end {
        Some(i) if text[..i].ends_with('\r') => "\r\n",
        Some(_) => "\n",
        None if text.contains("\r\n") => "\r\n",
        None => "\n",
    };
    let lines: Vec<String> = rendered
        .iter()
        .map(|(k, v)| format!("{indent}{k}: {v}"))
        .collect();
    let value_column = indent.len() + rendered[0].0.len() + 2;
    let (at, bytes) = match line_end {
        Some(i) => (i + 1, lines.iter().map(|l| format!("{l}{eol}")).collect()),
        None => (
            text.len(),
            lines.iter().map(|l| format!("{eol}{l}")).collect(),
        ),
    };
    Ok(Insertion {
        at,
        bytes,
        events,
        value_column,
        flow,
    })
}

fn prove(out: &str, expected: &[Sig]) -> Result<(), EditError> {
    let fail = |line: usize, detail: String| EditError::Verification { line, detail };
    let reparsed = Stream::parse_signed(out).map_err(|e| fail(e.line, e.message))?;
    match reparsed
        .signature
        .iter()
        .zip(expected)
        .position(|(a, b)| a != b)
    {
        None if reparsed.signature.len() == expected.len() => Ok(()),
        None => Err(fail(
            1,
            format!(
                "{} events became {}",
                expected.len(),
                reparsed.signature.len()
            ),
        )),
        Some(i) => {
            let line = reparsed.position(reparsed.sig_offsets[i]).0;
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

/// Trims the common prefix and suffix of `old` and `new`, so the edit covers
/// only the bytes that really change (the tag or digest).
fn narrow(span: std::ops::Range<usize>, old: &str, new: &str) -> Edit {
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

//! Safe lines: the one place where text bound for stdout or stderr is made
//! harmless before it leaves the process. Every renderer in `report` writes
//! its lines through [`Lines`] (or [`json`] for documents), so text that a
//! repository, a registry or a commit controls (file names, comments on
//! image lines, diff context, tags, error messages) can neither run a
//! workflow command nor drive a terminal. Workflow commands that
//! gitops-bump itself emits are built by `gha::commands` (which escapes
//! their data) and bypass the neutraliser through [`Lines::command`].
//!
//! The rules, one per reader of our output:
//! - **The GitHub runner** reads both streams line by line, breaking at LF,
//!   CR and CRLF; it trims leading whitespace before looking for `::`, and
//!   finds the legacy `##[` anywhere in a line (actions/runner
//!   `ActionCommand.TryParseV2` and `TryParse`). A line whose trimmed text
//!   starts with `::` has that first `:` written as `\u{3a}`, and every
//!   `##[` (and Azure Pipelines' `##vso[`) has its second `#` written as
//!   `\u{23}`.
//! - **A terminal** acts on control characters: C0 controls except tab,
//!   DEL, C1 controls (8-bit CSI), Unicode line and paragraph separators
//!   and the bidirectional overrides that reorder what a line shows are
//!   written as Rust escapes (`\u{1b}`, `\r`). A CR directly before the LF
//!   stays: a CRLF file's diff lines end that way.
//!
//! The same rules apply inside and outside GitHub Actions, on a terminal or
//! a pipe: text output is for people, a pipe usually ends in a log that a
//! terminal shows later, and other CI runners read the same commands, so
//! the output never depends on where it runs. The exact bytes stay
//! available in `--output json`, whose strings [`json`] only re-escapes
//! (the decoded values are unchanged).
//!
//! `::stop-commands::TOKEN` blocks were not used: the runner's stop state is
//! shared by stdout and stderr, which it reads concurrently, so a block on
//! one stream cannot cover lines on the other, and a block ends for both.

use std::borrow::Cow;
use std::io::{self, Write};

/// A writer that neutralises every line written to it (see the module
/// docs). Lines are buffered until their LF; a partial last line is
/// written when the wrapper is flushed or dropped.
pub struct Lines<W: Write> {
    inner: W,
    pending: Vec<u8>,
}

impl<W: Write> Lines<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Lines<W> {
        Lines {
            inner,
            pending: Vec::new(),
        }
    }

    /// Writes workflow commands built by `gha::commands` (one or more
    /// lines, each starting with `::`), after any partial line already
    /// written. Only for commands gitops-bump means to send (annotations,
    /// groups, masks, debug lines), whose data `gha::commands` has escaped
    /// for the runner; terminal controls in them are escaped here (the
    /// runner's log viewer renders ANSI sequences), so a file name with an
    /// escape sequence is shown, not obeyed.
    pub fn command(&mut self, command: &str) -> io::Result<()> {
        self.finish_partial()?;
        for line in command.split_inclusive('\n') {
            let (body, end) = match line.strip_suffix('\n') {
                Some(body) => (body, "\n"),
                None => (line, ""),
            };
            self.inner.write_all(controls(body).as_bytes())?;
            self.inner.write_all(end.as_bytes())?;
        }
        Ok(())
    }

    fn finish_partial(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let rest = std::mem::take(&mut self.pending);
        let text = String::from_utf8_lossy(&rest);
        self.inner.write_all(line(&text).as_bytes())
    }
}

impl<W: Write> Write for Lines<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        while let Some(at) = rest.iter().position(|&b| b == b'\n') {
            self.pending.extend_from_slice(&rest[..at]);
            let whole = std::mem::take(&mut self.pending);
            let text = String::from_utf8_lossy(&whole);
            // A CR right before the LF is the line's ending (CRLF files).
            let (body, cr) = match text.strip_suffix('\r') {
                Some(body) => (body, "\r"),
                None => (&*text, ""),
            };
            self.inner.write_all(line(body).as_bytes())?;
            self.inner.write_all(cr.as_bytes())?;
            self.inner.write_all(b"\n")?;
            rest = &rest[at + 1..];
        }
        self.pending.extend_from_slice(rest);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.finish_partial()?;
        self.inner.flush()
    }
}

impl<W: Write> Drop for Lines<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// One line of text (without its line ending) made safe for the runner and
/// a terminal: control characters escaped, a leading `::` and every `##[`
/// broken. Borrowed when nothing needed changing, which is almost always.
pub fn line(text: &str) -> Cow<'_, str> {
    let mut out = controls(text);
    let start = out.len() - out.trim_start_matches(is_runner_space).len();
    if out[start..].starts_with("::") {
        let mut s = out.into_owned();
        s.replace_range(start..start + 1, "\\u{3a}");
        out = Cow::Owned(s);
    }
    for legacy in ["##[", "##vso["] {
        if out.contains(legacy) {
            let broken = format!("#\\u{{23}}{}", &legacy[2..]);
            out = Cow::Owned(out.replace(legacy, &broken));
        }
    }
    out
}

/// `text` with every control character ([`is_control`]) written as a Rust
/// escape; borrowed when there is none.
pub fn controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_control) {
        return Cow::Borrowed(text);
    }
    let mut s = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_control(c) {
            escape(c, &mut s);
        } else {
            s.push(c);
        }
    }
    Cow::Owned(s)
}

/// A serialized JSON document made safe the same way without changing what
/// it means: `#[` inside strings becomes `\u0023[` (no `##[` is left), and
/// DEL, C1 controls, line and paragraph separators and bidirectional
/// overrides become `\u` escapes such as `\u2028` (serde_json already
/// escapes C0), and pretty-printed JSON never has a line starting with `::`.
pub fn json(text: &str) -> Cow<'_, str> {
    if !text.contains("#[") && !text.chars().any(is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        push_json(c, chars.peek().copied(), &mut out);
    }
    Cow::Owned(out)
}

/// One character of serialized JSON as [`json`] writes it, `next` being
/// the one after it.
fn push_json(c: char, next: Option<char>, out: &mut String) {
    if c == '#' && next == Some('[') {
        // Outside a string `#` is not JSON, so this is inside one.
        out.push_str("\\u0023");
    } else if is_control(c) && !matches!(c, '\n' | '\r' | '\t') {
        // Structural whitespace aside, a control here is inside a string.
        let mut units = [0u16; 2];
        for unit in c.encode_utf16(&mut units) {
            out.push_str(&format!("\\u{unit:04x}"));
        }
    } else {
        out.push(c);
    }
}

/// A writer that makes serialized JSON safe as [`json`] does, as it is
/// written: a large document goes out without being held whole. A
/// character split between two writes, or a `#` that may precede `[`,
/// waits for the next write (or [`JsonWriter::finish`]).
pub struct JsonWriter<W: std::io::Write> {
    inner: W,
    /// Bytes not yet written: an incomplete UTF-8 sequence, or a last `#`.
    pending: Vec<u8>,
}

impl<W: std::io::Write> JsonWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> JsonWriter<W> {
        JsonWriter {
            inner,
            pending: Vec::new(),
        }
    }

    /// Writes what is pending and returns the inner writer, flushed.
    ///
    /// # Errors
    /// The inner writer's.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.drain(true)?;
        self.inner.flush()?;
        Ok(self.inner)
    }

    /// Writes the pending bytes that are complete characters; with `all`,
    /// every byte (invalid UTF-8 as it is: serde_json writes none).
    fn drain(&mut self, all: bool) -> std::io::Result<()> {
        let valid = match std::str::from_utf8(&self.pending) {
            Ok(_) => self.pending.len(),
            Err(e) => e.valid_up_to(),
        };
        let text = std::str::from_utf8(&self.pending[..valid]).unwrap_or_default();
        let mut out = String::with_capacity(text.len() + 16);
        let mut chars = text.chars().peekable();
        let mut used = 0;
        while let Some(c) = chars.next() {
            let next = chars.peek().copied();
            if next.is_none() && c == '#' && !(all && valid == self.pending.len()) {
                break; // it may precede a `[` of the next write
            }
            push_json(c, next, &mut out);
            used += c.len_utf8();
        }
        self.inner.write_all(out.as_bytes())?;
        let rest = if all { self.pending.len() } else { used };
        if all && used < self.pending.len() {
            // An invalid tail, or a `#` that ended the document.
            self.inner.write_all(&self.pending[used..])?;
        }
        self.pending.drain(..rest);
        Ok(())
    }
}

impl<W: std::io::Write> std::io::Write for JsonWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if self.pending.len() >= 8192 {
            self.drain(false)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        // Only whole characters: the document may go on.
        self.drain(false)?;
        self.inner.flush()
    }
}

/// Writes control character `c` as a Rust escape: `\r`, `\n`, `\0` or
/// `\u{1b}` (never the character itself, whatever Unicode thinks of it).
fn escape(c: char, out: &mut String) {
    match c {
        '\r' => out.push_str("\\r"),
        '\n' => out.push_str("\\n"),
        '\0' => out.push_str("\\0"),
        c => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
    }
}

/// Returns true if and only if `c` is a character a terminal or the
/// runner would act on rather than show: a C0 control other than tab, DEL,
/// a C1 control, a line or paragraph separator, or a bidirectional
/// embedding, override or isolate (and the marks that steer them).
pub fn is_control(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{8}' | '\u{a}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}'
        | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Returns true if and only if the runner may trim `c` before looking for
/// `::` (.NET `TrimStart` trims Unicode white space); invisible characters
/// that some versions count as white space are included to be safe.
fn is_runner_space(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\u{180e}' | '\u{200b}' | '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_that_would_be_commands_are_broken_and_controls_escaped() {
        for (input, want) in [
            (
                "updated a.yaml:3  app  v1 → v2",
                "updated a.yaml:3  app  v1 → v2",
            ),
            ("::error::pwned", "\\u{3a}:error::pwned"),
            ("   ::error::pwned", "   \\u{3a}:error::pwned"),
            (
                "\t \u{a0}\u{3000}::warning::x",
                "\t \u{a0}\u{3000}\\u{3a}:warning::x",
            ),
            ("\u{feff}::add-mask::x", "\u{feff}\\u{3a}:add-mask::x"),
            ("+  ::error::x", "+  ::error::x"),
            ("a ##[error]b", "a #\\u{23}[error]b"),
            ("###[x] ##[y", "##\\u{23}[x] #\\u{23}[y"),
            (
                "##vso[task.setvariable variable=x]1",
                "#\\u{23}vso[task.setvariable variable=x]1",
            ),
            ("a\r::error::pwned", "a\\r::error::pwned"),
            ("\u{1b}]0;title\u{7}x", "\\u{1b}]0;title\\u{7}x"),
            ("\u{9b}31m", "\\u{9b}31m"),
            ("a\u{202e}lmth.exe", "a\\u{202e}lmth.exe"),
            ("a\u{2028}::error::x", "a\\u{2028}::error::x"),
            ("\u{b}::error::x", "\\u{b}::error::x"),
            ("tab\tkept", "tab\tkept"),
            ("# 😀 ünïcode", "# 😀 ünïcode"),
        ] {
            assert_eq!(line(input), want, "{input:?}");
        }
        assert!(matches!(line("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn the_writer_keeps_line_endings_and_lets_commands_through() {
        let mut buf = Vec::new();
        {
            let mut w = Lines::new(&mut buf);
            write!(w, "first ").expect("write");
            writeln!(w, "line").expect("write");
            w.command("::group::diff\n").expect("write");
            w.command("::notice file=a\u{1b}[2J.yaml::x\n::notice::y\n")
                .expect("write");
            write!(w, " ::error::context\r\n+ x ##[warning]y\nunfinished ::").expect("write");
            w.command("::endgroup::\n").expect("write");
            write!(w, "::tail").expect("write");
        }
        assert_eq!(
            String::from_utf8(buf).expect("utf-8"),
            "first line\n::group::diff\n::notice file=a\\u{1b}[2J.yaml::x\n::notice::y\n \\u{3a}:error::context\r\n+ x #\\u{23}[warning]y\nunfinished ::::endgroup::\n\\u{3a}:tail"
        );
    }

    #[test]
    fn json_keeps_its_meaning() {
        for value in [
            "plain",
            "##[error]x",
            "a#[b",
            "\u{7f}\u{85}\u{9b}",
            "\u{202e}x\u{2028}",
            "\\##[",
            "😀",
        ] {
            let doc =
                serde_json::to_string_pretty(&serde_json::json!({ "v": value, "k": [value] }))
                    .expect("json");
            let safe = json(&doc);
            assert!(!safe.contains("##["), "{safe}");
            assert!(
                !safe.chars().any(|c| is_control(c) && c != '\n'),
                "{safe:?}"
            );
            let back: serde_json::Value = serde_json::from_str(&safe).expect("still JSON");
            assert_eq!(back["v"], value);
            assert_eq!(back["k"][0], value);
        }
    }

    #[test]
    fn json_writer_writes_what_json_makes_however_the_writes_are_split() {
        let doc = serde_json::to_string_pretty(&serde_json::json!({
            "v": ["plain", "##[error]x", "a#[b", "\u{7f}\u{85}", "\u{202e}x\u{2028}", "😀#", "#", "é#[", "end#"],
        }))
        .expect("json");
        let want = json(&doc).into_owned();
        // Every split size, so a write ends inside a character, between
        // `#` and `[`, and at the end.
        for size in 1..=doc.len() {
            let mut w = JsonWriter::new(Vec::new());
            for part in doc.as_bytes().chunks(size) {
                std::io::Write::write_all(&mut w, part).expect("write");
            }
            let got = String::from_utf8(w.finish().expect("finish")).expect("utf-8");
            assert_eq!(got, want, "writes of {size} bytes");
        }
        // A document that ends with `#`.
        let mut w = JsonWriter::new(Vec::new());
        std::io::Write::write_all(&mut w, b"\"a#").expect("write");
        assert_eq!(w.finish().expect("finish"), b"\"a#");
    }
}

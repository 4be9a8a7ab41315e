//! Which files a backend offers to the spine: `--files` globs (where `*`
//! never crosses `/`), `--exclude` globs, the size cap, and exact paths a
//! backend may fetch by name; how a file's bytes become the text the engine
//! reads ([`Encoding`]: UTF-8, or UTF-16 by its byte order mark); and the
//! bounded streaming search ([`search`]) that tells whether a file too
//! large to keep mentions an image. Pure apart from reading a caller's
//! `Read`; the backends do the file system and network I/O.

use std::io::Read;
use std::sync::Arc;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::finding::{Finding, Kind, Location};

/// Default `--files` patterns.
pub const DEFAULT_FILES: [&str; 2] = ["**/*.yaml", "**/*.yml"];

/// The warning for a file over `--max-file-size`; every backend says it
/// the same way.
pub fn too_large(path: &str, size: u64, max: u64) -> Finding {
    skipped(
        path,
        format!(
            "{size} bytes is over the {max} byte limit (raise it with --max-file-size); skipped"
        ),
    )
}

/// A [`Kind::FileSkipped`] warning about `path` (no path: about no file).
pub fn skipped(path: &str, message: String) -> Finding {
    let location = (!path.is_empty()).then(|| Location::file(path));
    Finding::warning(Kind::FileSkipped, location, message)
}

/// A `--files` pattern that is not a valid glob or could escape the root.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PatternError(pub String);

/// Which files to read.
#[derive(Clone, Debug)]
pub struct FileSelection {
    /// The patterns as given.
    pub patterns: Vec<String>,
    /// Compiled with `literal_separator(true)`.
    pub set: GlobSet,
    /// Largest file read.
    pub max_size: u64,
    /// Words to look for in selected files that cannot be offered whole
    /// (over `max_size`): the backend searches them as it streams the file
    /// and reports which it found ([`SkippedContent::Mentions`]). `set` puts
    /// the repository path of every image of the run here, in the form
    /// [`mentions`] matches.
    ///
    /// [`SkippedContent::Mentions`]: crate::backend::SkippedContent::Mentions
    pub needles: Vec<String>,
    /// `--exclude` patterns as given.
    pub excluded: Vec<String>,
    /// Compiled like `set`; a path it matches is never read.
    pub exclude: GlobSet,
    /// Which files the run can use, decided right after each is read; the
    /// backend drops the others at once (counting them in
    /// [`Snapshot::dropped`]), so memory follows what the run needs, not
    /// the size of the repository. `None` keeps every file.
    ///
    /// [`Snapshot::dropped`]: crate::backend::Snapshot::dropped
    pub keep: Option<Keep>,
}

/// A filter over files as read: `(path, text)` → keep it. Text is UTF-8
/// where the file was (UTF-16 already decoded), else the raw bytes. The
/// command builds it from what discovery would keep, so dropping early
/// changes nothing but memory.
#[derive(Clone)]
pub struct Keep(pub Arc<KeepFn>);

/// The function inside a [`Keep`].
pub type KeepFn = dyn Fn(&str, &[u8]) -> bool + Send + Sync;

impl std::fmt::Debug for Keep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keep(..)")
    }
}

/// Files a backend reads before it filters them with [`Keep`]: enough to
/// share the parsing among cores, few enough to stay a few MiB.
pub const KEEP_BATCH: usize = 512;

impl Keep {
    /// Drops the files of `files[from..]` this filter rejects, judging them
    /// on up to 8 threads; returns how many it dropped.
    pub fn retain(&self, files: &mut Vec<crate::backend::SourceFile>, from: usize) -> usize {
        let tail = &files[from.min(files.len())..];
        if tail.is_empty() {
            return 0;
        }
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(8);
        let chunk = tail.len().div_ceil(threads).max(1);
        let verdicts: Vec<bool> = std::thread::scope(|scope| {
            let handles: Vec<_> = tail
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .map(|f| (self.0)(&f.path, &f.bytes))
                            .collect::<Vec<bool>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                // A filter that panicked keeps its files: dropping is only
                // ever an optimisation.
                .flat_map(|h| h.join().unwrap_or_else(|_| vec![true; chunk]))
                .collect()
        });
        let before = files.len();
        let mut index = 0;
        files.retain(|_| {
            let keep = index < from || verdicts.get(index - from).copied().unwrap_or(true);
            index += 1;
            keep
        });
        before - files.len()
    }
}

impl FileSelection {
    /// Returns true if and only if `path` (relative, `/`-separated) is
    /// selected: a `--files` pattern matches it and no `--exclude` does.
    pub fn matches(&self, path: &str) -> bool {
        self.set.is_match(path) && !self.exclude.is_match(path)
    }

    /// The patterns as plain paths when none has a glob metacharacter, so a
    /// backend can fetch them by name without listing the tree.
    pub fn exact_paths(&self) -> Option<Vec<String>> {
        self.patterns.iter().all(|p| is_literal(p)).then(|| {
            self.patterns
                .iter()
                .filter(|p| !self.exclude.is_match(p.as_str()))
                .cloned()
                .collect()
        })
    }

    /// The patterns that name one path each (no glob metacharacter). A
    /// backend reads such a path even where an ignore rule would hide it:
    /// naming a file is asking for it.
    pub fn literal_paths(&self) -> impl Iterator<Item = &str> {
        self.patterns
            .iter()
            .filter(|p| is_literal(p))
            .map(String::as_str)
    }

    /// The same selection, also searching files too large to keep for
    /// `needles` (see [`FileSelection::needles`]).
    pub fn searching(mut self, needles: impl IntoIterator<Item = String>) -> FileSelection {
        self.needles = needles.into_iter().collect();
        self
    }

    /// Builds a selection from patterns, rejecting any that could escape the root.
    pub fn new(patterns: &[String], max_size: u64) -> Result<FileSelection, PatternError> {
        let patterns: Vec<String> = if patterns.is_empty() {
            DEFAULT_FILES.iter().map(|s| s.to_string()).collect()
        } else {
            patterns.to_vec()
        };
        Ok(FileSelection {
            set: glob_set("--files", &patterns)?,
            patterns,
            max_size,
            needles: Vec::new(),
            excluded: Vec::new(),
            exclude: GlobSet::empty(),
            keep: None,
        })
    }

    /// The same selection, keeping only the files `keep` accepts (see
    /// [`FileSelection::keep`]).
    pub fn keeping(mut self, keep: Keep) -> FileSelection {
        self.keep = Some(keep);
        self
    }

    /// The same selection without the paths `patterns` match (`--exclude`,
    /// with the rules of `--files`).
    pub fn excluding(mut self, patterns: &[String]) -> Result<FileSelection, PatternError> {
        self.exclude = glob_set("--exclude", patterns)?;
        self.excluded = patterns.to_vec();
        Ok(self)
    }
}

/// Compiles `patterns` (of the flag `flag`), rejecting any that could
/// escape the root.
fn glob_set(flag: &str, patterns: &[String]) -> Result<GlobSet, PatternError> {
    let mut builder = GlobSetBuilder::new();
    for p in patterns {
        if p.starts_with('/') || p.split('/').any(|c| c == "..") || p.contains('\\') {
            return Err(PatternError(format!(
                "{flag} {p:?}: the pattern must stay inside the directory (no leading '/', no '..')"
            )));
        }
        let glob = GlobBuilder::new(p)
            .literal_separator(true)
            .build()
            .map_err(|e| PatternError(format!("{flag} {p:?}: {e}")))?;
        builder.add(glob);
    }
    builder
        .build()
        .map_err(|e| PatternError(format!("{flag}: {e}")))
}

/// Returns true if and only if `pattern` has no glob metacharacter, so it
/// matches exactly one path: itself.
fn is_literal(pattern: &str) -> bool {
    !pattern.contains(['*', '?', '[', ']', '{', '}', '\\'])
}

/// How a file's bytes encode its text. YAML files are UTF-8, with or
/// without a byte order mark; UTF-16 is recognised by its byte order mark
/// only, as go-yaml does (`yaml_parser_determine_encoding`), so exactly the
/// files kubectl, Argo CD and Flux read as UTF-16 are read as UTF-16 here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 (or anything that is not UTF-16 with a byte order mark).
    Utf8,
    /// UTF-16, little endian: starts with `FF FE`.
    Utf16Le,
    /// UTF-16, big endian: starts with `FE FF`.
    Utf16Be,
}

/// Bytes that say they are UTF-16 (by their byte order mark) but are not.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// An odd number of bytes: the last code unit is cut.
    #[error("not valid UTF-16: {0} bytes is an odd length")]
    OddLength(usize),
    /// A surrogate without its pair.
    #[error("not valid UTF-16: unpaired surrogate at byte offset {0}")]
    Unpaired(usize),
}

impl Encoding {
    /// The encoding `bytes` declare by their first bytes.
    pub fn sniff(bytes: &[u8]) -> Encoding {
        match bytes {
            [0xFF, 0xFE, ..] => Encoding::Utf16Le,
            [0xFE, 0xFF, ..] => Encoding::Utf16Be,
            _ => Encoding::Utf8,
        }
    }

    /// The text of UTF-16 `bytes`, byte order mark kept as U+FEFF, so that
    /// [`Encoding::encode`] gives the same bytes back. `None` for
    /// [`Encoding::Utf8`]: the engine reads those bytes as they are (and
    /// names the line of an invalid byte itself).
    pub fn decode(self, bytes: &[u8]) -> Option<Result<String, DecodeError>> {
        let le = match self {
            Encoding::Utf8 => return None,
            Encoding::Utf16Le => true,
            Encoding::Utf16Be => false,
        };
        if !bytes.len().is_multiple_of(2) {
            return Some(Err(DecodeError::OddLength(bytes.len())));
        }
        let units = bytes.chunks_exact(2).map(|p| unit(p[0], p[1], le));
        let mut text = String::with_capacity(bytes.len() / 2);
        let mut offset = 0;
        for c in char::decode_utf16(units) {
            match c {
                Ok(c) => {
                    offset += 2 * c.len_utf16();
                    text.push(c);
                }
                Err(_) => return Some(Err(DecodeError::Unpaired(offset))),
            }
        }
        Some(Ok(text))
    }

    /// `text` in this encoding.
    pub fn encode(self, text: &str) -> Vec<u8> {
        match self {
            Encoding::Utf8 => text.as_bytes().to_vec(),
            Encoding::Utf16Le => text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
            Encoding::Utf16Be => text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
        }
    }

    /// Returns true if and only if `bytes` hold exactly `text` in this
    /// encoding.
    pub fn holds(self, bytes: &[u8], text: &str) -> bool {
        match self.decode(bytes) {
            None => bytes == text.as_bytes(),
            Some(decoded) => decoded.is_ok_and(|t| t == text),
        }
    }
}

/// The text of `bytes` as the engine should read it: UTF-16 (by its byte
/// order mark) decoded, anything else as it is; for history and
/// verification, where a file is only compared and searched.
pub fn text_of(bytes: Vec<u8>) -> String {
    match Encoding::sniff(&bytes).decode(&bytes) {
        Some(Ok(text)) => text,
        Some(Err(_)) => String::from_utf8_lossy(&bytes).into_owned(),
        None => String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

/// Returns true if and only if `text` contains `needle` as a whole word:
/// not preceded by a letter, digit, `-`, `_` or `.`, and not followed by a
/// letter, digit, `-`, `_` or `/`. So `acme/app` is mentioned by
/// `ghcr.io/acme/app:{{ .Values.tag }}` but not by `acme/application`, and
/// `nginx` by `docker.io/library/nginx` but not by `nginx-exporter`. Works on
/// bytes: any non-ASCII byte is a word boundary, as any non-ASCII character
/// is; so Latin-1 and UTF-8 text are searched alike.
pub fn mentions(text: &[u8], needle: &str) -> bool {
    mentions_within(text, needle, true, true)
}

/// Which of `needles` `reader` [`mentions`], reading it in chunks of 64 KiB
/// so that memory stays bounded whatever its size. UTF-16 (by its byte
/// order mark) is decoded on the way, so a needle matches whatever the
/// file's encoding. The answer keeps the order of `needles`.
pub fn search(mut reader: impl Read, needles: &[String]) -> std::io::Result<Vec<String>> {
    const CHUNK: usize = 64 * 1024;
    // A match not yet decided (its next byte unread) lies in the last
    // `longest` bytes; one more keeps the byte before it.
    let keep = needles.iter().map(String::len).max().unwrap_or(0) + 1;
    let mut found = vec![false; needles.len()];
    let mut chunk = vec![0u8; CHUNK];
    let mut window: Vec<u8> = Vec::with_capacity(CHUNK + keep);
    let mut decoder: Option<Utf16Stream> = None;
    let (mut first, mut at_start) = (true, true);
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let mut bytes = &chunk[..n];
        if first && n > 0 {
            first = false;
            let le = match Encoding::sniff(bytes) {
                Encoding::Utf8 => None,
                Encoding::Utf16Le => Some(true),
                Encoding::Utf16Be => Some(false),
            };
            if let Some(le) = le {
                decoder = Some(Utf16Stream::new(le));
                bytes = &bytes[2..];
            }
        }
        match &mut decoder {
            Some(d) => d.push(bytes, &mut window),
            None => window.extend_from_slice(bytes),
        }
        let end = n == 0;
        for (needle, found) in needles.iter().zip(found.iter_mut()) {
            *found = *found || mentions_within(&window, needle, at_start, end);
        }
        if end || found.iter().all(|f| *f) {
            break;
        }
        let cut = window.len().saturating_sub(keep);
        if cut > 0 {
            window.drain(..cut);
            at_start = false;
        }
    }
    Ok(needles
        .iter()
        .zip(found)
        .filter(|(_, f)| *f)
        .map(|(n, _)| n.clone())
        .collect())
}

/// [`mentions`] within a window of a longer text: `starts` says whether
/// the window starts the text (else a match at its first byte is skipped:
/// the byte before it is gone, and the previous window decided it), `ends`
/// whether it ends it (else a match at its last byte is skipped: the byte
/// after it is unknown, and the next window decides it).
fn mentions_within(text: &[u8], needle: &str, starts: bool, ends: bool) -> bool {
    let needle = needle.as_bytes();
    if needle.is_empty() || text.len() < needle.len() {
        return false;
    }
    let word = |b: u8| b.is_ascii_alphanumeric() || b"-_./".contains(&b);
    for i in memchr::memmem::find_iter(text, needle) {
        let after = text.get(i + needle.len()).copied();
        if (i == 0 && !starts) || (after.is_none() && !ends) {
            continue;
        }
        let before = i.checked_sub(1).map(|j| text[j]);
        if !before.is_some_and(|b| word(b) && b != b'/')
            && !after.is_some_and(|b| word(b) && b != b'.')
        {
            return true;
        }
    }
    false
}

fn unit(a: u8, b: u8, le: bool) -> u16 {
    if le {
        u16::from_le_bytes([a, b])
    } else {
        u16::from_be_bytes([a, b])
    }
}

/// Decodes UTF-16 that arrives in pieces into UTF-8 (invalid units become
/// U+FFFD), carrying a cut byte or a high surrogate to the next piece.
struct Utf16Stream {
    le: bool,
    odd: Option<u8>,
    high: Option<u16>,
}

impl Utf16Stream {
    fn new(le: bool) -> Utf16Stream {
        Utf16Stream {
            le,
            odd: None,
            high: None,
        }
    }

    fn push(&mut self, mut bytes: &[u8], out: &mut Vec<u8>) {
        let mut units = Vec::with_capacity(bytes.len() / 2 + 2);
        units.extend(self.high.take());
        if let (Some(a), Some(&b)) = (self.odd, bytes.first()) {
            units.push(unit(a, b, self.le));
            self.odd = None;
            bytes = &bytes[1..];
        }
        let pairs = bytes.chunks_exact(2);
        self.odd = pairs.remainder().first().copied().or(self.odd);
        units.extend(pairs.map(|p| unit(p[0], p[1], self.le)));
        if let Some(&last) = units.last()
            && (0xD800..0xDC00).contains(&last)
        {
            self.high = units.pop();
        }
        let mut buf = [0u8; 4];
        for c in char::decode_utf16(units) {
            let c = c.unwrap_or(char::REPLACEMENT_CHARACTER);
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_paths_only_without_metacharacters() {
        let exact = FileSelection::new(&["a/b.yaml".into(), "c.yml".into()], 1).expect("valid");
        assert_eq!(
            exact.exact_paths(),
            Some(vec!["a/b.yaml".to_owned(), "c.yml".to_owned()])
        );
        let glob = FileSelection::new(&["a/b.yaml".into(), "*.yml".into()], 1).expect("valid");
        assert_eq!(glob.exact_paths(), None);
        assert_eq!(
            FileSelection::new(&[], 1).expect("valid").exact_paths(),
            None
        );
    }

    #[test]
    fn literal_paths_are_the_patterns_without_metacharacters() {
        let sel = FileSelection::new(&["a/b.yaml".into(), "*.yml".into()], 1).expect("valid");
        assert_eq!(sel.literal_paths().collect::<Vec<_>>(), ["a/b.yaml"]);
    }

    #[test]
    fn utf16_round_trips_byte_for_byte() {
        let text = "\u{feff}image: ghcr.io/acme/app:v1 # caf\u{e9} \u{1f680}\r\n";
        for enc in [Encoding::Utf16Le, Encoding::Utf16Be] {
            let bytes = enc.encode(text);
            assert_eq!(Encoding::sniff(&bytes), enc);
            assert_eq!(enc.decode(&bytes), Some(Ok(text.to_owned())));
            assert!(enc.holds(&bytes, text));
            assert_eq!(text_of(bytes), text);
        }
        assert_eq!(Encoding::sniff(b"\xef\xbb\xbfa: 1"), Encoding::Utf8);
        assert_eq!(Encoding::Utf8.decode(b"a"), None);
        assert!(Encoding::Utf8.holds(b"a: 1", "a: 1"));
        // Invalid UTF-16: cut, or a lone surrogate.
        assert_eq!(
            Encoding::Utf16Le.decode(&[0xFF, 0xFE, b'a']),
            Some(Err(DecodeError::OddLength(3)))
        );
        assert_eq!(
            Encoding::Utf16Le.decode(&[0xFF, 0xFE, b'a', 0, 0x00, 0xD8, b'b', 0]),
            Some(Err(DecodeError::Unpaired(4)))
        );
    }

    #[test]
    fn mentions_whole_words_only() {
        // The same cases as the guard's text search.
        assert!(mentions(
            b"image: ghcr.io/acme/app:{{ .Values.tag }}",
            "acme/app"
        ));
        assert!(!mentions(b"image: ghcr.io/acme/application:v1", "acme/app"));
        assert!(mentions(b"image: nginx:{{ x }}", "nginx"));
        assert!(!mentions(b"image: bitnami/nginx-exporter:1", "nginx"));
        assert!(mentions(b"image: docker.io/library/nginx", "nginx"));
        assert!(!mentions(b"x.nginx", "nginx"));
        assert!(mentions(b"nginx.", "nginx"));
        // Latin-1 around the word is a boundary, as in UTF-8.
        assert!(mentions(b"caf\xe9 acme/app\xe9", "acme/app"));
        assert!(!mentions(b"", "acme/app"));
        assert!(!mentions(b"acme/app", ""));
    }

    #[test]
    fn search_streams_across_chunk_boundaries_and_encodings() {
        let needles = ["acme/app".to_owned(), "acme/other".to_owned()];
        let chunk = 64 * 1024;
        // Every placement of the word around the first chunk boundary.
        for at in chunk - 12..chunk + 4 {
            let mut text = vec![b' '; at];
            text.extend_from_slice(b"acme/app ");
            let found = search(text.as_slice(), &needles).expect("read");
            assert_eq!(found, ["acme/app"], "at {at}");
            // A word character before it, just past the boundary: no match.
            text[at - 1] = b'x';
            assert!(
                search(text.as_slice(), &needles).expect("read").is_empty(),
                "at {at}"
            );
            // And after it.
            text[at - 1] = b' ';
            text[at + 8] = b'-';
            assert!(
                search(text.as_slice(), &needles).expect("read").is_empty(),
                "at {at}"
            );
        }
        // UTF-16 in both byte orders, the word split across chunks.
        let body = format!(
            "\u{feff}{}image: ghcr.io/acme/other:v1\n",
            " ".repeat(chunk / 2 - 7)
        );
        for enc in [Encoding::Utf16Le, Encoding::Utf16Be] {
            let found = search(enc.encode(&body).as_slice(), &needles).expect("read");
            assert_eq!(found, ["acme/other"]);
        }
        assert!(search(&b""[..], &needles).expect("read").is_empty());
    }

    #[test]
    fn globs_never_cross_slash_and_never_escape() {
        let sel = FileSelection::new(&["overlays/*.yaml".into()], 1).expect("valid");
        assert!(sel.matches("overlays/a.yaml"));
        assert!(!sel.matches("overlays/dev/a.yaml"));
        let default = FileSelection::new(&[], 1).expect("valid");
        assert!(default.matches("a.yaml") && default.matches("x/y/b.yml"));
        for bad in ["../x.yaml", "/etc/*.yaml", "a/../../b.yaml"] {
            assert!(FileSelection::new(&[bad.into()], 1).is_err(), "{bad}");
        }
    }

    #[test]
    fn excluded_paths_are_never_selected_nor_fetched() {
        let sel = FileSelection::new(&[], 1)
            .expect("valid")
            .excluding(&["charts/**".into(), "*.generated.yaml".into()])
            .expect("valid");
        assert!(sel.matches("base/a.yaml"));
        assert!(!sel.matches("charts/x/templates/deploy.yaml"));
        assert!(!sel.matches("x.generated.yaml"));
        assert!(
            sel.matches("base/x.generated.yaml"),
            "`*` never crosses `/`"
        );
        let exact = FileSelection::new(&["a.yaml".into(), "b.yaml".into()], 1)
            .expect("valid")
            .excluding(&["b.yaml".into()])
            .expect("valid");
        assert_eq!(exact.exact_paths(), Some(vec!["a.yaml".to_owned()]));
        let e = FileSelection::new(&[], 1)
            .expect("valid")
            .excluding(&["../x".into()])
            .expect_err("escapes");
        assert!(e.to_string().starts_with("--exclude \"../x\""), "{e}");
    }
}

//! Which files a backend offers to the spine: `--files` globs (where `*`
//! never crosses `/`), `--exclude` globs, the size cap, and exact paths a
//! backend may fetch by name; how a file's bytes become the text the engine
//! reads ([`Encoding`]: UTF-8, or UTF-16 by its byte order mark); and the
//! bounded streaming search ([`search`], [`Search`] for pieces) that tells whether a file too
//! large to keep mentions an image. Pure apart from reading a caller's
//! `Read`; the backends do the file system and network I/O.

use std::any::Any;
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

/// A filter over files as read: `(path, text)` → what to keep of it. Text
/// is UTF-8 where the file was (UTF-16 already decoded), else the raw
/// bytes. The command builds it from what discovery would keep, so
/// dropping early changes nothing but memory.
#[derive(Clone)]
pub struct Keep(pub Arc<KeepFn>);

/// The function inside a [`Keep`].
pub type KeepFn = dyn Fn(&str, &[u8]) -> Kept + Send + Sync;

/// What a [`Keep`] filter makes of one file.
#[derive(Debug)]
pub enum Kept {
    /// Offer the file as read.
    File,
    /// Drop it: it holds nothing the run can use.
    Dropped,
    /// Drop its bytes and offer the caller's digest of it instead (for
    /// `sync`, the outline of a manifest that is only reported, never
    /// written): [`Snapshot::outlines`](crate::backend::Snapshot::outlines).
    Outline(Outline),
}

/// A caller's digest of a file, carried by a snapshot in place of its
/// bytes; opaque to the backend, which never looks inside.
pub type Outline = Arc<dyn Any + Send + Sync>;

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
    /// on up to 8 threads, and puts the outlines it makes of others in
    /// `outlines`; returns how many it dropped.
    pub fn retain(
        &self,
        files: &mut Vec<crate::backend::SourceFile>,
        from: usize,
        outlines: &mut Vec<Outline>,
    ) -> usize {
        let tail = &files[from.min(files.len())..];
        if tail.is_empty() {
            return 0;
        }
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(8);
        let chunk = tail.len().div_ceil(threads).max(1);
        let verdicts: Vec<Kept> = std::thread::scope(|scope| {
            let handles: Vec<_> = tail
                .chunks(chunk)
                .map(|part| {
                    let len = part.len();
                    let judged = scope.spawn(move || {
                        part.iter()
                            .map(|f| (self.0)(&f.path, &f.bytes))
                            .collect::<Vec<Kept>>()
                    });
                    (judged, len)
                })
                .collect();
            handles
                .into_iter()
                // A filter that panicked keeps its files: dropping is only
                // ever an optimisation.
                .flat_map(|(h, len)| {
                    h.join()
                        .unwrap_or_else(|_| (0..len).map(|_| Kept::File).collect())
                })
                .collect()
        });
        let mut verdicts = verdicts.into_iter();
        let mut dropped = 0;
        let mut index = 0;
        files.retain(|_| {
            let verdict = if index < from {
                Kept::File
            } else {
                verdicts.next().unwrap_or(Kept::File)
            };
            index += 1;
            match verdict {
                Kept::File => true,
                Kept::Dropped => {
                    dropped += 1;
                    false
                }
                Kept::Outline(o) => {
                    outlines.push(o);
                    false
                }
            }
        });
        dropped
    }
}

impl FileSelection {
    /// Applies [`FileSelection::keep`] to the files a backend read into
    /// `snapshot` since `*unfiltered`, once [`KEEP_BATCH`] of them have
    /// gathered or when the read is `done`, counting the ones dropped in
    /// [`Snapshot::dropped`](crate::backend::Snapshot::dropped). Every
    /// backend calls it after each file (or chunk) it reads.
    pub fn keep_read(
        &self,
        snapshot: &mut crate::backend::Snapshot,
        unfiltered: &mut usize,
        done: bool,
    ) {
        let Some(keep) = &self.keep else { return };
        if done || snapshot.files.len() - *unfiltered >= KEEP_BATCH {
            snapshot.dropped +=
                keep.retain(&mut snapshot.files, *unfiltered, &mut snapshot.outlines);
            *unfiltered = snapshot.files.len();
        }
    }

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
/// file's encoding. The answer keeps the order of `needles`. A [`Search`]
/// fed by hand does the same for bytes that arrive otherwise (a network
/// stream).
pub fn search(mut reader: impl Read, needles: &[String]) -> std::io::Result<Vec<String>> {
    let mut search = Search::new(needles);
    let mut chunk = vec![0u8; SEARCH_CHUNK];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 || !search.push(&chunk[..n]) {
            break;
        }
    }
    Ok(search.finish())
}

/// Bytes a [`Search`] looks at in one step.
const SEARCH_CHUNK: usize = 64 * 1024;

/// A streaming [`mentions`] search for several needles over a text that
/// arrives in pieces of any size: [`Search::push`] each piece in order,
/// then [`Search::finish`]. Memory stays at one 64 KiB step plus the
/// longest needle, whatever the text's length; UTF-16 (by its byte order
/// mark) is decoded on the way.
pub struct Search<'n> {
    needles: &'n [String],
    found: Vec<bool>,
    /// The text not yet decided: the tail of what was searched (a match
    /// that may go on), then what was pushed since.
    window: Vec<u8>,
    /// Bytes kept from one step to the next: the longest needle (a match
    /// not yet decided) and the byte before it.
    keep: usize,
    /// Up to the first two bytes, until the byte order mark is known.
    head: Vec<u8>,
    /// `None` until the encoding is known; then the UTF-16 decoder, if any.
    decoder: Option<Option<Utf16Stream>>,
    /// True while the window starts the text.
    at_start: bool,
}

impl<'n> Search<'n> {
    /// A search for `needles`, nothing read yet.
    pub fn new(needles: &'n [String]) -> Search<'n> {
        Search {
            needles,
            found: vec![false; needles.len()],
            window: Vec::new(),
            keep: needles.iter().map(String::len).max().unwrap_or(0) + 1,
            head: Vec::new(),
            decoder: None,
            at_start: true,
        }
    }

    /// Searches the next piece of the text. Returns true if and only if
    /// more text could change the answer (a needle is still not found).
    pub fn push(&mut self, mut bytes: &[u8]) -> bool {
        if self.decoder.is_none() {
            // The byte order mark may arrive split across pieces.
            let take = bytes.len().min(2 - self.head.len());
            self.head.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.head.len() < 2 {
                return self.undecided();
            }
            self.start();
        }
        for step in bytes.chunks(SEARCH_CHUNK) {
            self.feed(step);
            if !self.undecided() {
                break;
            }
        }
        self.undecided()
    }

    /// The needles found, in the order given; the text ends here.
    pub fn finish(mut self) -> Vec<String> {
        if self.decoder.is_none() {
            self.start();
        }
        self.scan(true);
        self.needles
            .iter()
            .zip(self.found)
            .filter(|(_, f)| *f)
            .map(|(n, _)| n.clone())
            .collect()
    }

    fn undecided(&self) -> bool {
        self.found.iter().any(|f| !f)
    }

    /// Decides the encoding from [`Search::head`] and searches what it held.
    fn start(&mut self) {
        let head = std::mem::take(&mut self.head);
        let le = match Encoding::sniff(&head) {
            Encoding::Utf8 => None,
            Encoding::Utf16Le => Some(true),
            Encoding::Utf16Be => Some(false),
        };
        self.decoder = Some(le.map(Utf16Stream::new));
        match le {
            // The byte order mark itself is not text.
            Some(_) => {}
            None => self.feed(&head),
        }
    }

    /// Appends one step of bytes, searches, and forgets what is decided.
    fn feed(&mut self, bytes: &[u8]) {
        match &mut self.decoder {
            Some(Some(d)) => d.push(bytes, &mut self.window),
            _ => self.window.extend_from_slice(bytes),
        }
        self.scan(false);
        let cut = self.window.len().saturating_sub(self.keep);
        if cut > 0 {
            self.window.drain(..cut);
            self.at_start = false;
        }
    }

    fn scan(&mut self, ends: bool) {
        for (needle, found) in self.needles.iter().zip(self.found.iter_mut()) {
            *found = *found || mentions_within(&self.window, needle, self.at_start, ends);
        }
    }
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
    fn search_takes_pieces_of_any_size() {
        let needles = ["acme/app".to_owned(), "nginx".to_owned()];
        let body = format!(
            "{}image: ghcr.io/acme/app:v1\nimage: nginx\n",
            "x ".repeat(40_000)
        );
        for enc in [Encoding::Utf8, Encoding::Utf16Le, Encoding::Utf16Be] {
            let mut bytes = enc.encode(&body);
            if enc != Encoding::Utf8 {
                // The byte order mark, so the file says it is UTF-16.
                let mut bom = enc.encode("\u{feff}");
                bom.append(&mut bytes);
                bytes = bom;
            }
            // One byte at a time (the byte order mark split), odd sizes
            // (code units split), and pieces larger than one step.
            for size in [1, 3, 7, 64 * 1024 + 1, 300_000] {
                let mut s = Search::new(&needles);
                let mut more = true;
                for piece in bytes.chunks(size) {
                    more = s.push(piece);
                    if !more {
                        break;
                    }
                }
                assert!(!more, "{enc:?} in pieces of {size}: decided at the end");
                assert_eq!(s.finish(), needles, "{enc:?} in pieces of {size}");
            }
        }
        // A needle at the very end is decided only by finish.
        let mut s = Search::new(&needles);
        assert!(s.push(b"image: nginx"));
        assert_eq!(s.finish(), ["nginx"]);
        let mut s = Search::new(&needles);
        assert!(s.push(b"image: nginx-exporter"));
        assert!(s.finish().is_empty());
        // One byte only: never UTF-16, still searched.
        let one = ["a".to_owned()];
        let mut s = Search::new(&one);
        s.push(b"a");
        assert_eq!(s.finish(), ["a"]);
    }

    fn files(names: &[&str]) -> Vec<crate::backend::SourceFile> {
        names
            .iter()
            .map(|n| crate::backend::SourceFile {
                path: (*n).to_owned(),
                bytes: n.as_bytes().to_vec(),
            })
            .collect()
    }

    /// A filter that keeps a file whole or drops it.
    fn by_bool(f: impl Fn(&str, &[u8]) -> bool + Send + Sync + 'static) -> Keep {
        Keep(Arc::new(move |path: &str, bytes: &[u8]| {
            if f(path, bytes) {
                Kept::File
            } else {
                Kept::Dropped
            }
        }))
    }

    fn paths(files: &[crate::backend::SourceFile]) -> Vec<&str> {
        files.iter().map(|f| f.path.as_str()).collect()
    }

    #[test]
    fn keep_retain_drops_what_it_rejects_in_order_from_an_offset() {
        // Keeps paths that end in an even digit; judged on the bytes.
        let even = by_bool(|path: &str, bytes: &[u8]| {
            assert_eq!(
                path.as_bytes(),
                bytes,
                "the filter sees the file's own bytes"
            );
            bytes.last().is_some_and(|b| (b - b'0').is_multiple_of(2))
        });
        let mut f = files(&["a1", "a2", "a3", "a4", "a5", "a6"]);
        assert_eq!(even.retain(&mut f, 0, &mut Vec::new()), 3);
        assert_eq!(paths(&f), ["a2", "a4", "a6"]);
        // `from`: files before it were judged already and stay.
        let mut f = files(&["a1", "a3", "b1", "b2", "b3"]);
        assert_eq!(even.retain(&mut f, 2, &mut Vec::new()), 2);
        assert_eq!(paths(&f), ["a1", "a3", "b2"]);
        // `from` at or past the end: nothing to judge.
        let mut f = files(&["a1", "a3"]);
        assert_eq!(even.retain(&mut f, 2, &mut Vec::new()), 0);
        assert_eq!(even.retain(&mut f, 9, &mut Vec::new()), 0);
        assert_eq!(paths(&f), ["a1", "a3"]);
        let mut none: Vec<crate::backend::SourceFile> = Vec::new();
        assert_eq!(even.retain(&mut none, 0, &mut Vec::new()), 0);
        // All dropped, none dropped.
        let drop_all = by_bool(|_: &str, _: &[u8]| false);
        let keep_all = by_bool(|_: &str, _: &[u8]| true);
        let mut f = files(&["a1", "a2", "a3"]);
        assert_eq!(keep_all.retain(&mut f, 0, &mut Vec::new()), 0);
        assert_eq!(paths(&f), ["a1", "a2", "a3"]);
        assert_eq!(drop_all.retain(&mut f, 1, &mut Vec::new()), 2);
        assert_eq!(paths(&f), ["a1"]);
        assert_eq!(drop_all.retain(&mut f, 0, &mut Vec::new()), 1);
        assert!(f.is_empty());
    }

    #[test]
    fn keep_retain_in_batches_equals_one_pass() {
        // As a backend calls it: every KEEP_BATCH files, then the rest;
        // sizes around the batch boundary and around the thread split.
        let third = by_bool(|path: &str, _: &[u8]| {
            path.trim_start_matches('f')
                .parse::<usize>()
                .is_ok_and(|n| n % 3 == 0)
        });
        for n in [
            1,
            7,
            KEEP_BATCH - 1,
            KEEP_BATCH,
            KEEP_BATCH + 1,
            2 * KEEP_BATCH + 5,
        ] {
            let names: Vec<String> = (0..n).map(|i| format!("f{i}")).collect();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let mut whole = files(&refs);
            let dropped = third.retain(&mut whole, 0, &mut Vec::new());
            let mut batched = Vec::new();
            let (mut unfiltered, mut dropped_batched) = (0, 0);
            for f in files(&refs) {
                batched.push(f);
                if batched.len() - unfiltered >= KEEP_BATCH {
                    dropped_batched += third.retain(&mut batched, unfiltered, &mut Vec::new());
                    unfiltered = batched.len();
                }
            }
            dropped_batched += third.retain(&mut batched, unfiltered, &mut Vec::new());
            let want: Vec<String> = (0..n)
                .filter(|i| i % 3 == 0)
                .map(|i| format!("f{i}"))
                .collect();
            assert_eq!(paths(&whole), want, "{n} files");
            assert_eq!(paths(&batched), want, "{n} files in batches");
            assert_eq!(dropped, n - want.len());
            assert_eq!(dropped_batched, dropped);
        }
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

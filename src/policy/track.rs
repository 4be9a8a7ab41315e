//! Tag tracks: the non-version text around a tag's version. `agent-0.0.1` is on the
//! `agent-<version>` track, `1.25-alpine` on `<version>-alpine`, `v1.2.3` on `v<version>`.
//! A reference whose current tag is on one track is not moved to a tag on another: a new
//! `1.26-bookworm` is no update for `1.25-alpine`.
//!
//! # Rules
//!
//! A tag is split into tokens (runs of ASCII letters and digits) and separators (`-`, `_`,
//! `.`). Its **version** is the first run of dot-separated numbers (`1.25.3`) that starts the
//! tag or follows `-`, `_` or a lowercase `v` that does, and that ends the tag or is followed by
//! a separator or a glued pre-release word (`3.13.0rc1`). A run with two or more numbers wins
//! over a bare number; a bare number of seven or more digits is an identifier (a commit SHA, a
//! date, a Unix time), not a version. Around the version:
//!
//! | text | what it is | part of the track |
//! |---|---|---|
//! | `v` right before the version | the v-style | yes: `v1.2` and `1.3` differ |
//! | tokens before the version (`agent-`) | the prefix | yes, identifiers masked as `*` |
//! | pre-release words after it (`rc`, `rc1`, `alpha`, `beta.2`, `dev`, `snapshot`, …) | a pre-release | no: `1.2.3-rc.1` and `1.2.3` are on one track |
//! | a number right after the version or a dropped token (`-1`, `_9`, `-14`) | a counter or revision | no |
//! | `r` + number (`-r1`, bitnami), identifiers (`5b09d68`, `g5b09d68`, `20240101T1200Z`) | a build | no |
//! | a word (`alpine`, `bookworm`, `jdk`, `amd64`) | a variant | yes |
//! | a word's own version: digits glued to it (`alpine3`, `jdk17`) or the first number after it (`debian-11`) | the variant's major | yes: `jdk17` and `jdk21` differ |
//! | further numbers of a variant's version (`.19` in `alpine3.19`, `.04` in `ubuntu-22.04`) | the variant's minor | no: `alpine3.19` and `alpine3.20` are one track |
//!
//! The number of parts (`1.25` against `1.25.3`) is not part of the track; the default policy
//! ([`crate::policy::Policy::default_for`]) keeps it. Tags without a version (`latest`, `main`,
//! `sha-abc1234`) have no track; two of them are on the same "track" only when they have the
//! same shape once identifiers are masked (`sha-abc1234` and `sha-def5678`).
//!
//! This module is pure; it does not select (`select`) or filter (`filter`).

use std::fmt;

use super::{Constraints, Policy, SemverParse, TagFilter};

/// The non-version text around a tag's version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Track {
    /// Text before the version (and its `v`), identifiers masked as `*`: `agent-`, `main-*-`.
    pub prefix: String,
    /// Returns true if and only if a lowercase `v` precedes the version.
    pub v: bool,
    /// Variant text after the version, pre-releases, counters and builds removed, variant
    /// versions cut to their major: `-alpine3`, `-debian-11`, `-jdk-jammy`.
    pub suffix: String,
}

/// A tag read around its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned<'a> {
    /// The version as written, without `v`: `1.25.3`.
    pub version: &'a str,
    /// How many numbers the version has (`1.25` → 2).
    pub parts: usize,
    /// Everything after the version, as written: `-alpine3.19`.
    pub rest: &'a str,
    /// The pre-release identifiers found after the version (`["rc", "1"]` for `-rc.1`); empty
    /// for a stable tag.
    pub prerelease: Vec<&'a str>,
    /// The tokens after the version, in order (`["alpine3", "19"]`).
    pub rest_tokens: Vec<&'a str>,
    /// The track.
    pub track: Track,
}

impl Track {
    /// The track of `tag`, or `None` when it has no version (`latest`, `main`, `sha-abc1234`).
    pub fn of(tag: &str) -> Option<Track> {
        parse(tag).map(|v| v.track)
    }

    /// Returns true if and only if `a` and `b` are on the same track: both have a version and
    /// the same prefix, v-style and suffix, or neither has one and both have the same shape
    /// once identifiers are masked (`sha-abc1234` and `sha-def5678`; `main` and `main`).
    pub fn same(a: &str, b: &str) -> bool {
        match (parse(a), parse(b)) {
            (Some(x), Some(y)) => x.track == y.track,
            (None, None) => shape(a) == shape(b),
            _ => false,
        }
    }
}

impl fmt::Display for Track {
    /// `agent-<version>`, `v<version>-alpine3`, `<version>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = if self.v { "v" } else { "" };
        write!(f, "{}{v}<version>{}", self.prefix, self.suffix)
    }
}

/// Reads `tag` around its version (see the module rules); `None` when it has none.
pub fn parse(tag: &str) -> Option<Versioned<'_>> {
    let tokens = tokenize(tag);
    let mut bare = None;
    for k in 0..tokens.len() {
        let Some(core) = core_at(tag, &tokens, k) else {
            continue;
        };
        if core.parts >= 2 {
            return Some(build(tag, &tokens, core));
        }
        bare.get_or_insert(core);
    }
    bare.map(|core| build(tag, &tokens, core))
}

/// Returns true if and only if `token` looks like an identifier rather than a word or a
/// version: seven or more hexadecimal digits with at least one decimal digit (a commit SHA, a
/// date, a Unix time), optionally after `g` (git describe), or six or more digits followed by
/// letters and digits (`20240101T1200Z`).
pub fn is_identifier(token: &str) -> bool {
    let hexish = |t: &str| {
        t.len() >= 7
            && t.bytes().all(|b| b.is_ascii_hexdigit())
            && t.bytes().any(|b| b.is_ascii_digit())
    };
    let lead = token.bytes().take_while(u8::is_ascii_digit).count();
    let stamp = lead >= 6 && lead < token.len();
    hexish(token) || token.strip_prefix('g').is_some_and(hexish) || stamp
}

/// Returns true if and only if `token` is a pre-release word (`rc`, `rc1`, `alpha`, `beta2`,
/// `pre`, `preview`, `dev`, `snapshot`, `canary`, `nightly`, `ea`, or `a`/`b`/`m` + digits),
/// in any case.
pub fn is_prerelease_word(token: &str) -> bool {
    let t = token.to_ascii_lowercase();
    let word = t.trim_end_matches(|c: char| c.is_ascii_digit());
    let digits = t.len() > word.len();
    matches!(
        word,
        "alpha"
            | "beta"
            | "rc"
            | "pre"
            | "preview"
            | "dev"
            | "snapshot"
            | "canary"
            | "nightly"
            | "ea"
            | "milestone"
    ) || (digits && matches!(word, "a" | "b" | "m"))
}

impl Policy {
    /// The policy `sync` applies to a reference that names no policy: the newest stable
    /// semver tag in the same `v`-prefix style and on the same track as `current`, with as many
    /// version parts (`1.25-alpine` → `1.27-alpine`, not `1.27.3-alpine` or `1.27-bookworm`).
    ///
    /// Returns semver `*` (pre-releases excluded) with lenient parsing, and a filter with the
    /// default exclusions that keeps `current`'s track ([`TagFilter::on_track_of`]); compare
    /// two tags under it with [`Policy::compare_filtered`]. `None` when `current` is not
    /// semver-like: no version (`latest`, `main`, `sha-abc1234`), a bare number (`7`,
    /// `917005`: a major, a build number and a short SHA look alike) or more than three parts
    /// (`1.2.3.4`, which Masterminds cannot read). Such references are reported as unchecked.
    pub fn default_for(current: &str) -> Option<(Policy, TagFilter)> {
        let v = parse(current)?;
        if !(2..=3).contains(&v.parts) {
            return None;
        }
        let range = Constraints::parse("*").expect("impossible: `*` is a valid range");
        let policy = Policy::Semver {
            range,
            parse: SemverParse::Lenient,
        };
        Some((policy, TagFilter::default().on_track_of(current)?))
    }
}

// ---------------------------------------------------------------------------------------------
// Private helpers.

/// A token: its text, its byte range, and the separator before it (`None` at the start or
/// when glued to the previous token, which cannot happen between alphanumeric runs).
#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    text: &'a str,
    start: usize,
    end: usize,
    sep: Option<u8>,
}

fn tokenize(tag: &str) -> Vec<Token<'_>> {
    let b = tag.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_alphanumeric() {
            i += 1;
        }
        let sep = start.checked_sub(1).map(|p| b[p]);
        out.push(Token {
            text: &tag[start..i],
            start,
            end: i,
            sep,
        });
    }
    out
}

/// A version found at token `first`.
#[derive(Debug, Clone, Copy)]
struct Core {
    /// Index of the first token of the version.
    first: usize,
    /// Index of the last token of the version.
    last: usize,
    /// Byte offset where the version starts (after any `v`).
    start: usize,
    /// Byte offset where the version ends.
    end: usize,
    v: bool,
    parts: usize,
    /// A pre-release word glued to the last number (`rc1` in `3.13.0rc1`).
    glued: Option<(usize, usize)>,
}

fn core_at(tag: &str, tokens: &[Token<'_>], k: usize) -> Option<Core> {
    let t = tokens[k];
    if !matches!(t.sep, None | Some(b'-' | b'_')) {
        return None;
    }
    // A lowercase `v` is the v-style; an uppercase one stays in the prefix (Flux rejects it).
    let (v, digits_from) = match t.text.as_bytes() {
        [b'v', d, ..] if d.is_ascii_digit() => (true, t.start + 1),
        [b'V', d, ..] if d.is_ascii_digit() => (false, t.start + 1),
        _ => (false, t.start),
    };
    let first_digits = tag[digits_from..t.end]
        .bytes()
        .take_while(u8::is_ascii_digit)
        .count();
    if first_digits == 0 {
        return None;
    }
    let mut parts = 1;
    let mut last = k;
    let mut end = digits_from + first_digits;
    let mut glued = None;
    if end < t.end {
        // Letters glued to the number: only a pre-release word may be (`3rc1`).
        if !is_prerelease_word(&tag[end..t.end]) {
            return None;
        }
        glued = Some((end, t.end));
    } else {
        while let Some(n) = tokens.get(last + 1) {
            if n.sep != Some(b'.') || n.start != end + 1 {
                break;
            }
            let d = n.text.bytes().take_while(u8::is_ascii_digit).count();
            if d == 0 {
                break;
            }
            if d < n.text.len() {
                if !is_prerelease_word(&n.text[d..]) {
                    break;
                }
                glued = Some((n.start + d, n.end));
            }
            parts += 1;
            last += 1;
            end = n.start + d;
            if glued.is_some() {
                break;
            }
        }
    }
    if parts == 1 && glued.is_none() && is_identifier(&tag[digits_from..end]) {
        return None;
    }
    // The version must end the tag or be followed by a separator.
    let after = glued.map_or(end, |(_, e)| e);
    if after < tag.len() && !matches!(tag.as_bytes()[after], b'-' | b'_' | b'.') {
        return None;
    }
    Some(Core {
        first: k,
        last,
        start: digits_from,
        end,
        v,
        parts,
        glued,
    })
}

fn build<'a>(tag: &'a str, tokens: &[Token<'a>], core: Core) -> Versioned<'a> {
    // The prefix ends before the `v`; an uppercase `V` stays in it.
    let prefix_end = if core.v { core.start - 1 } else { core.start };
    let prefix = mask(tag, &tokens[..core.first], prefix_end);
    let rest_start = core.glued.map_or(core.end, |(s, _)| s);
    let mut prerelease = Vec::new();
    if let Some((s, e)) = core.glued {
        prerelease.push(&tag[s..e]);
    }
    let rest_tokens: Vec<&str> = tokens[core.last + 1..].iter().map(|t| t.text).collect();
    let mut suffix = String::new();
    // What the previous token left behind: a word that may take a version number next.
    let mut word_awaits_version = false;
    let mut in_prerelease = core.glued.is_some();
    for t in &tokens[core.last + 1..] {
        let text = t.text;
        let sep = t.sep.map_or(String::new(), |s| char::from(s).to_string());
        if is_prerelease_word(text) {
            prerelease.push(text);
            in_prerelease = true;
            word_awaits_version = false;
        } else if text.bytes().all(|b| b.is_ascii_digit()) {
            if in_prerelease && t.sep == Some(b'.') {
                prerelease.push(text);
            } else if word_awaits_version && !is_identifier(text) {
                suffix.push_str(&sep);
                suffix.push_str(text);
            }
            word_awaits_version = false;
        } else if is_identifier(text) || is_revision(text) {
            word_awaits_version = false;
            in_prerelease = false;
        } else {
            suffix.push_str(&sep);
            suffix.push_str(text);
            word_awaits_version = !text.ends_with(|c: char| c.is_ascii_digit());
            in_prerelease = false;
        }
    }
    Versioned {
        version: &tag[core.start..core.end],
        parts: core.parts,
        rest: &tag[rest_start..],
        prerelease,
        rest_tokens,
        track: Track {
            prefix,
            v: core.v,
            suffix,
        },
    }
}

/// `r` + digits: a package revision (bitnami's `-r1`).
fn is_revision(token: &str) -> bool {
    token
        .strip_prefix('r')
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

/// The text of `tag` up to `end`, with identifier tokens replaced by `*`.
fn mask(tag: &str, tokens: &[Token<'_>], end: usize) -> String {
    mask_with(tag, tokens, end, is_identifier)
}

/// The text of `tag` up to `end`, with the tokens `hide` accepts replaced by `*`.
fn mask_with(tag: &str, tokens: &[Token<'_>], end: usize, hide: impl Fn(&str) -> bool) -> String {
    let mut out = String::new();
    let mut at = 0;
    for t in tokens.iter().filter(|t| t.end <= end) {
        out.push_str(&tag[at..t.start]);
        out.push_str(if hide(t.text) { "*" } else { t.text });
        at = t.end;
    }
    out.push_str(&tag[at..end]);
    out
}

/// A version-less tag's shape: identifiers masked, and so is a run of seven or more
/// hexadecimal letters: about one short commit SHA in a thousand has no decimal digit
/// (`sha-abcdefa`), and in a tag without a version nothing else looks like that.
fn shape(tag: &str) -> String {
    let sha = |t: &str| t.len() >= 7 && t.bytes().all(|b| b.is_ascii_hexdigit());
    mask_with(tag, &tokenize(tag), tag.len(), |t| {
        sha(t) || is_identifier(t)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// (tag, track as displayed or None, version, pre-release)
    #[test]
    fn tracks_of_tags() {
        for (tag, track, version, pre) in [
            ("1.2.3", Some("<version>"), "1.2.3", ""),
            ("v1.2.3", Some("v<version>"), "1.2.3", ""),
            ("agent-0.0.1", Some("agent-<version>"), "0.0.1", ""),
            ("app-v2.0", Some("app-v<version>"), "2.0", ""),
            ("1.25-alpine", Some("<version>-alpine"), "1.25", ""),
            ("1.25.3-alpine3.19", Some("<version>-alpine3"), "1.25.3", ""),
            ("1.25-bookworm", Some("<version>-bookworm"), "1.25", ""),
            (
                "1.25.3-slim-bookworm",
                Some("<version>-slim-bookworm"),
                "1.25.3",
                "",
            ),
            ("1.2.3-rc.1", Some("<version>"), "1.2.3", "rc.1"),
            ("1.2.3-rc1", Some("<version>"), "1.2.3", "rc1"),
            ("3.13.0rc1-slim", Some("<version>-slim"), "3.13.0", "rc1"),
            (
                "1.2.3-beta.2-alpine",
                Some("<version>-alpine"),
                "1.2.3",
                "beta.2",
            ),
            ("1.0.0-14", Some("<version>"), "1.0.0", ""),
            (
                "17.0.9_9-jdk-jammy",
                Some("<version>-jdk-jammy"),
                "17.0.9",
                "",
            ),
            ("8.5-jdk17", Some("<version>-jdk17"), "8.5", ""),
            (
                "1.25.3-debian-11-r1",
                Some("<version>-debian-11"),
                "1.25.3",
                "",
            ),
            (
                "22.04-ubuntu-22.04",
                Some("<version>-ubuntu-22"),
                "22.04",
                "",
            ),
            ("v1.2.3-5-g5b09d68", Some("v<version>"), "1.2.3", ""),
            ("1.2.3-5b09d68", Some("<version>"), "1.2.3", ""),
            ("1.2.3-20240101T1200Z", Some("<version>"), "1.2.3", ""),
            ("1.2.3-amd64", Some("<version>-amd64"), "1.2.3", ""),
            ("python3-1.2.3", Some("python3-<version>"), "1.2.3", ""),
            ("7-alpine", Some("<version>-alpine"), "7", ""),
            ("2.3.0.Final", Some("<version>.Final"), "2.3.0", ""),
            ("main-20240101.1", Some("main-<version>"), "20240101.1", ""),
            ("sha-abc1234", None, "", ""),
            ("sha-1234567", None, "", ""),
            ("latest", None, "", ""),
            ("main", None, "", ""),
            ("main-5b09d68-1700000000", None, "", ""),
            ("dev1.2.3", None, "", ""),
            ("V1.2.3", Some("V<version>"), "1.2.3", ""),
        ] {
            let got = parse(tag);
            assert_eq!(
                got.as_ref().map(|v| v.track.to_string()).as_deref(),
                track,
                "{tag}"
            );
            if let Some(v) = got {
                assert_eq!(v.version, version, "{tag}");
                assert_eq!(v.prerelease.join("."), pre, "{tag}");
            }
        }
    }

    #[test]
    fn same_track_table() {
        for (a, b, same) in [
            ("1.25.3-alpine3.19", "1.25.4-alpine3.20", true),
            ("1.25-bookworm", "1.25-alpine", false),
            ("1.2.3-rc.1", "1.2.3", true),
            ("v1.2", "1.3", false),
            ("v1.2", "v1.3.0", true),
            ("1.25", "1.25.3", true),
            ("agent-0.0.1", "agent-0.0.2", true),
            ("agent-0.0.1", "server-0.0.2", false),
            ("1.25-alpine", "1.25.3-alpine3.19", false),
            ("8.5-jdk17", "8.6-jdk21", false),
            ("1.25.3-debian-11-r1", "1.25.4-debian-11-r7", true),
            ("1.25.3-debian-11-r1", "1.25.4-debian-12-r0", false),
            ("1.0.0-1", "1.0.0-14", true),
            ("17.0.9_9-jdk-jammy", "21.0.1_12-jdk-jammy", true),
            ("v1.2.3-5-g5b09d68", "v1.2.4-0-ga1b2c3d", true),
            ("1.2.3-amd64", "1.2.4-arm64", false),
            ("sha-abc1234", "sha-def5678", true),
            ("sha-abc1234", "sha-1234567", true),
            ("sha-abc1234", "sha-abcdefa", true),
            ("sha-aaaaaaa", "sha-bbbbbbb", true),
            ("abcdefa", "1234567", true),
            ("main-abcdefa", "main-5b09d68", true),
            ("sha-abcdefa", "sha-abcdef", false),
            ("main-5b09d68-1700000000", "main-a1b2c3d-1700000100", true),
            ("main", "main", true),
            ("main", "develop", false),
            ("latest", "1.2.3", false),
            ("1.2.3", "latest", false),
        ] {
            assert_eq!(Track::same(a, b), same, "{a} vs {b}");
            assert_eq!(Track::same(b, a), same, "{b} vs {a} (symmetric)");
        }
    }

    fn default_selects(current: &str, tags: &[&str]) -> Option<String> {
        let (policy, filter) = Policy::default_for(current)?;
        let tags: Vec<String> = tags.iter().map(|t| (*t).to_owned()).collect();
        crate::policy::select(
            &policy,
            &filter,
            &crate::policy::flux_scan_order(&tags),
            None,
        )
        .winner
    }

    #[test]
    fn default_policy_follows_the_track() {
        let nginx = [
            "1.25.3-alpine3.18",
            "1.25.4-alpine3.19",
            "1.26.0-alpine3.19",
            "1.27.0-rc.1-alpine3.20",
            "1.26.1-bookworm",
            "1.26-alpine",
            "1.27-alpine",
            "1.26.2-alpine",
            "1.26.2",
            "latest",
            "v1.30.0",
        ];
        for (current, want) in [
            ("1.25.3-alpine3.18", Some("1.26.0-alpine3.19")),
            ("1.25-alpine", Some("1.27-alpine")),
            ("1.25.0-alpine", Some("1.26.2-alpine")),
            ("1.25.0", Some("1.26.2")),
            ("v1.0.0", Some("v1.30.0")),
            ("1.25.3-bookworm", Some("1.26.1-bookworm")),
        ] {
            assert_eq!(
                default_selects(current, &nginx).as_deref(),
                want,
                "{current}"
            );
        }
        // Pre-releases stay out; revisions and counters of one version tie, and the
        // byte-wise greatest wins (Flux's scan order).
        assert_eq!(
            default_selects(
                "2.4.1-r0",
                &["2.4.1-r0", "2.4.2-r1", "2.4.2-r3", "2.5.0-rc.1-r0"]
            )
            .as_deref(),
            Some("2.4.2-r3")
        );
        for current in [
            "latest",
            "main",
            "sha-abc1234",
            "7",
            "917005",
            "1.2.3.4",
            "7-alpine",
        ] {
            assert!(Policy::default_for(current).is_none(), "{current}");
        }
    }

    #[test]
    fn default_policy_explains_other_tracks_and_compares_through_the_filter() {
        let (policy, filter) = Policy::default_for("1.25-alpine").unwrap();
        let tags: Vec<String> = ["1.26-alpine", "1.26-bookworm", "1.26.1-alpine", "main"]
            .map(String::from)
            .to_vec();
        let sel = crate::policy::select(&policy, &filter, &tags, None);
        let reason = |tag: &str| {
            sel.candidates
                .iter()
                .find(|c| c.tag == tag)
                .map(|c| format!("{:?}", c.status))
                .unwrap()
        };
        assert!(
            reason("1.26-bookworm")
                .contains("on the track <version>-bookworm, not <version>-alpine")
        );
        assert!(reason("1.26.1-alpine").contains("a 3-part version, not 2-part"));
        assert!(reason("main").contains("no version"));
        assert_eq!(sel.winner.as_deref(), Some("1.26-alpine"));
        use std::cmp::Ordering;
        assert_eq!(
            policy.compare_filtered(&filter, "1.25-alpine", "1.26-alpine"),
            Some(Ordering::Greater)
        );
        assert_eq!(
            policy.compare_filtered(&filter, "1.26-alpine", "1.25-alpine"),
            Some(Ordering::Less)
        );
        assert_eq!(
            policy.compare_filtered(&filter, "1.25-alpine", "1.26-bookworm"),
            None
        );
    }

    #[test]
    fn identifiers_and_prerelease_words() {
        for t in [
            "5b09d68",
            "g5b09d68",
            "1234567",
            "20240101",
            "20240101T1200Z",
            "abcdef0123",
        ] {
            assert!(is_identifier(t), "{t}");
        }
        for t in ["alpine3", "123456", "deadbeef", "amd64", "abc12"] {
            assert!(!is_identifier(t), "{t}");
        }
        for t in ["rc", "RC1", "alpha", "beta2", "a1", "b2", "dev", "SNAPSHOT"] {
            assert!(is_prerelease_word(t), "{t}");
        }
        for t in ["a", "alpine", "b", "debian", "r1"] {
            assert!(!is_prerelease_word(t), "{t}");
        }
    }
}

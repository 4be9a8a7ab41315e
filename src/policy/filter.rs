//! Tag filtering that happens before a policy orders anything: exclusions (cosign artifacts by
//! default), the Flux-style `filterTags` pattern with its `extract` template (Go
//! `regexp.Expand` semantics), and the translation of Argo CD `allow-tags` / `ignore-tags` into
//! the same shape.
//!
//! Regexes use the `regex` crate, whose syntax is RE2's (Go's). Differences that can matter:
//! Rust's `\d`, `\w`, `\s`, `\b` are Unicode-aware where Go's are ASCII-only, which changes
//! nothing for OCI tags (they are ASCII by spec), and Go's `\C` and `\Q…\E` are not supported.
//!
//! This module does not own ordering, policies or the collapsing of equal extracted values
//! (that is `select` in `mod.rs`).

use regex::{Captures, Regex};

use super::PolicyError;
use super::track::{self, Track, Versioned};

/// The exclusions applied when none are given, as unanchored regexes.
///
/// `^.*\.sig$` is Flux's default `exclusionList` (cosign signatures); `^.*\.att$` and
/// `^.*\.sbom$` add cosign attestations and SBOMs in the same shape. Flux does not exclude the
/// last two, so a tag literally named `x.att` is dropped here and kept by Flux.
pub const DEFAULT_EXCLUSIONS: &[&str] = &[r"^.*\.sig$", r"^.*\.att$", r"^.*\.sbom$"];

/// What the filter does with one tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterVerdict {
    /// An exclusion matched; holds the exclusion as the user wrote it (regex or glob).
    Excluded(String),
    /// The filter pattern did not match.
    Mismatch,
    /// Not on the filter's track ([`TagFilter::on_track_of`]); holds why, for people.
    OtherTrack(String),
    /// The tag passes; holds the value the policy sees (the expanded `extract`, or the tag).
    Kept(String),
}

/// Which tags a policy may see, and what it sees of them.
///
/// Built with [`TagFilter::new`] (default exclusions), [`TagFilter::pass_all`] (nothing
/// excluded) or [`TagFilter::from_argocd`]; exclusions can be replaced with
/// [`TagFilter::with_exclusions`] or extended with [`TagFilter::exclude_regex`] and
/// [`TagFilter::exclude_glob`].
#[derive(Debug, Clone)]
pub struct TagFilter {
    pattern: Option<Regex>,
    extract: Option<String>,
    exclude: Vec<Exclusion>,
    /// Keep only tags on this track with this many version parts.
    track: Option<(Track, usize)>,
}

impl Default for TagFilter {
    /// No pattern, the [`DEFAULT_EXCLUSIONS`].
    fn default() -> TagFilter {
        TagFilter::pass_all()
            .with_exclusions(DEFAULT_EXCLUSIONS)
            .expect("impossible: the default exclusions are valid regexes")
    }
}

impl TagFilter {
    /// A filter with the unanchored `pattern` (Flux `filterTags.pattern`), the `extract`
    /// template (Flux `filterTags.extract`; empty means the whole tag) and the
    /// [`DEFAULT_EXCLUSIONS`].
    pub fn new(pattern: Option<&str>, extract: Option<&str>) -> Result<TagFilter, PolicyError> {
        Ok(TagFilter {
            pattern: pattern.map(|p| compile("filter", p)).transpose()?,
            extract: extract.filter(|e| !e.is_empty()).map(str::to_owned),
            ..TagFilter::default()
        })
    }

    /// A filter that keeps every tag as it is (no pattern, no exclusions).
    pub fn pass_all() -> TagFilter {
        TagFilter {
            pattern: None,
            extract: None,
            exclude: Vec::new(),
            track: None,
        }
    }

    /// The Argo CD Image Updater filters, without default exclusions (Argo has none).
    ///
    /// `allow_tags`: `""` or `any` (any case) keeps all; `regexp:RE` (prefix in any case) keeps
    /// tags RE matches anywhere. `ignore_tags`: Go `path/filepath.Match` globs. Where Argo
    /// silently matches nothing (an unknown allow-tags syntax, an invalid regexp or glob), this
    /// returns an error instead.
    pub fn from_argocd(allow_tags: &str, ignore_tags: &[&str]) -> Result<TagFilter, PolicyError> {
        let mut f = TagFilter::pass_all();
        if !(allow_tags.is_empty() || allow_tags.eq_ignore_ascii_case("any")) {
            let re = allow_tags
                .get(..7)
                .filter(|p| p.eq_ignore_ascii_case("regexp:"))
                .and_then(|_| allow_tags.get(7..))
                .ok_or_else(|| PolicyError::UnsupportedAllowTags {
                    spec: allow_tags.to_owned(),
                })?;
            f.pattern = Some(compile("allow-tags", re)?);
        }
        for glob in ignore_tags {
            f = f.exclude_glob(glob)?;
        }
        Ok(f)
    }

    /// Replaces the exclusions with `patterns` (unanchored regexes), as a non-empty Flux
    /// `exclusionList` replaces the default.
    pub fn with_exclusions(mut self, patterns: &[&str]) -> Result<TagFilter, PolicyError> {
        self.exclude.clear();
        for p in patterns {
            self = self.exclude_regex(p)?;
        }
        Ok(self)
    }

    /// Adds an exclusion regex (unanchored).
    pub fn exclude_regex(mut self, pattern: &str) -> Result<TagFilter, PolicyError> {
        self.exclude.push(Exclusion {
            label: pattern.to_owned(),
            regex: compile("exclusion", pattern)?,
        });
        Ok(self)
    }

    /// Adds an exclusion glob with Go `path/filepath.Match` syntax (`*`, `?`, `[…]`, `[^…]`,
    /// `\` escapes; whole-tag match).
    pub fn exclude_glob(mut self, glob: &str) -> Result<TagFilter, PolicyError> {
        let re = glob_to_regex(glob).map_err(|message| PolicyError::InvalidGlob {
            glob: glob.to_owned(),
            message,
        })?;
        self.exclude.push(Exclusion {
            label: glob.to_owned(),
            regex: compile("exclusion", &re)?,
        });
        Ok(self)
    }

    /// The same filter keeping only tags on `current`'s track ([`Track::same`]) whose version
    /// has as many parts as `current`'s (`1.25` keeps `1.26`, not `1.26.1`). The policy then
    /// sees each kept tag's version as semver: `1.25.3-rc.1-alpine3.19` →
    /// `1.25.3-rc.1+alpine3.19` (pre-release kept, variant text as build metadata, which
    /// orders nothing); an extract template is not used. `None` when `current` has no version.
    pub fn on_track_of(mut self, current: &str) -> Option<TagFilter> {
        let v = track::parse(current)?;
        self.track = Some((v.track, v.parts));
        Some(self)
    }

    /// The track and version parts this filter keeps, if any.
    pub fn track(&self) -> Option<(&Track, usize)> {
        self.track.as_ref().map(|(t, n)| (t, *n))
    }

    /// The filter pattern, if any.
    pub fn pattern(&self) -> Option<&str> {
        self.pattern.as_ref().map(Regex::as_str)
    }

    /// The extract template, if any.
    pub fn extract(&self) -> Option<&str> {
        self.extract.as_deref()
    }

    /// The exclusions as written (regexes or globs).
    pub fn exclusions(&self) -> impl Iterator<Item = &str> {
        self.exclude.iter().map(|e| e.label.as_str())
    }

    /// The group names the extract template refers to (`ts` for `$ts`, `1` for `${1}`), in
    /// template order; empty without a template.
    pub fn template_groups(&self) -> Vec<&str> {
        self.extract
            .as_deref()
            .map(template_refs)
            .unwrap_or_default()
    }

    /// The template's group names that the pattern does not define (`1suffix` in `$1suffix`,
    /// Go's reading of it); they always expand to nothing.
    pub fn undefined_groups(&self) -> Vec<&str> {
        let Some(re) = &self.pattern else {
            return self.template_groups();
        };
        self.template_groups()
            .into_iter()
            .filter(|name| match group_number(name) {
                Some(n) => n >= re.captures_len(),
                None => !re.capture_names().any(|c| c == Some(*name)),
            })
            .collect()
    }

    /// What each group of [`TagFilter::template_groups`] captured in `tag`: `None` for a group
    /// that did not participate or does not exist. `None` overall when the tag does not pass
    /// the pattern or there is no template.
    pub fn template_captures(&self, tag: &str) -> Option<Vec<Option<String>>> {
        let re = self.pattern.as_ref()?;
        let caps = re.captures(tag)?;
        Some(
            self.template_groups()
                .into_iter()
                .map(|name| {
                    let group = match group_number(name) {
                        Some(n) => caps.get(n),
                        None => caps.name(name),
                    };
                    group.map(|m| m.as_str().to_owned())
                })
                .collect(),
        )
    }

    /// Decides one tag: exclusions first, then the pattern (leftmost match, like Go's
    /// `FindStringSubmatchIndex`), then the extract template.
    pub fn classify(&self, tag: &str) -> FilterVerdict {
        if let Some(ex) = self.exclude.iter().find(|e| e.regex.is_match(tag)) {
            return FilterVerdict::Excluded(ex.label.clone());
        }
        let value = match &self.pattern {
            None => tag.to_owned(),
            Some(re) => match re.captures(tag) {
                None => return FilterVerdict::Mismatch,
                Some(caps) => match &self.extract {
                    None => tag.to_owned(),
                    Some(t) => expand(re, &caps, t),
                },
            },
        };
        let Some((want, parts)) = &self.track else {
            return FilterVerdict::Kept(value);
        };
        match track::parse(tag) {
            None => FilterVerdict::OtherTrack(format!("no version, so not on the track {want}")),
            Some(v) if v.track != *want => {
                FilterVerdict::OtherTrack(format!("on the track {}, not {want}", v.track))
            }
            Some(v) if v.parts != *parts => FilterVerdict::OtherTrack(format!(
                "a {}-part version, not {parts}-part like the current tag",
                v.parts
            )),
            Some(v) => FilterVerdict::Kept(track_value(&v)),
        }
    }
}

/// Expands `template` like Go's `regexp.Expand`: `$name` / `${name}` take the longest run of
/// letters, digits and `_` as the name (so `$1suffix` is the group named `1suffix`, usually
/// empty; write `${1}suffix`), `$$` is a `$`, a malformed reference is kept literally, and
/// missing or non-participating groups expand to nothing.
pub fn expand(re: &Regex, caps: &Captures<'_>, template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
            continue;
        }
        let Some((name, after)) = template_name(rest) else {
            out.push('$');
            continue;
        };
        rest = after;
        let group = match group_number(name) {
            Some(n) => caps.get(n),
            None => re
                .capture_names()
                .enumerate()
                .filter(|(_, n)| *n == Some(name))
                .find_map(|(i, _)| caps.get(i)),
        };
        if let Some(m) = group {
            out.push_str(m.as_str());
        }
    }
    out.push_str(rest);
    out
}

// ---------------------------------------------------------------------------------------------
// Private helpers.

/// A tag on a track as the semver policy sees it: version, pre-release, then every token
/// after the version as build metadata (which keeps values unique and orders nothing).
fn track_value(v: &Versioned<'_>) -> String {
    let mut out = v.version.to_owned();
    if !v.prerelease.is_empty() {
        out.push('-');
        out.push_str(&v.prerelease.join("."));
    }
    if !v.rest_tokens.is_empty() {
        out.push('+');
        out.push_str(&v.rest_tokens.join("."));
    }
    out
}

/// The names `expand` would look up in `template`, in order.
fn template_refs(template: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(pos) = rest.find('$') {
        rest = &rest[pos + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            rest = after;
            continue;
        }
        if let Some((name, after)) = template_name(rest) {
            names.push(name);
            rest = after;
        }
    }
    names
}

#[derive(Debug, Clone)]
struct Exclusion {
    label: String,
    regex: Regex,
}

fn compile(role: &'static str, pattern: &str) -> Result<Regex, PolicyError> {
    Regex::new(pattern).map_err(|e| {
        // The parser's message spans lines (the pattern and a caret
        // diagram); its last line says what is wrong, and bad input is
        // reported in one line.
        let text = e.to_string();
        let why = text.lines().last().unwrap_or_default();
        PolicyError::InvalidRegex {
            role,
            pattern: pattern.to_owned(),
            message: why.trim_start_matches("error: ").to_owned(),
        }
    })
}

/// Go's `extract`: the reference name after `$` and the rest of the template.
fn template_name(s: &str) -> Option<(&str, &str)> {
    let (brace, body) = match s.strip_prefix('{') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let end = body
        .char_indices()
        .find(|(_, c)| !(c.is_alphabetic() || c.is_numeric() || *c == '_'))
        .map_or(body.len(), |(i, _)| i);
    if end == 0 {
        return None;
    }
    let name = &body[..end];
    let rest = &body[end..];
    if brace {
        return rest.strip_prefix('}').map(|r| (name, r));
    }
    Some((name, rest))
}

/// Go's group-number rule: all ASCII digits, below 1e8, no leading zero.
fn group_number(name: &str) -> Option<usize> {
    if name.len() > 1 && name.starts_with('0') {
        return None;
    }
    if !name.bytes().all(|b| b.is_ascii_digit()) || name.len() > 8 {
        return None;
    }
    name.parse().ok()
}

/// Translates a Go `path/filepath.Match` pattern into an anchored regex.
fn glob_to_regex(glob: &str) -> Result<String, String> {
    let mut out = String::from("^(?s:");
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push_str("[^/]*"),
            '?' => out.push_str("[^/]"),
            '\\' => {
                let e = chars.next().ok_or("trailing backslash")?;
                out.push_str(&regex::escape(&e.to_string()));
            }
            '[' => {
                let negated = chars.next_if_eq(&'^').is_some();
                let mut ranges = Vec::new();
                loop {
                    if !ranges.is_empty() && chars.next_if_eq(&']').is_some() {
                        break;
                    }
                    let lo = class_char(&mut chars)?;
                    let hi = if chars.next_if_eq(&'-').is_some() {
                        class_char(&mut chars)?
                    } else {
                        lo
                    };
                    ranges.push((lo, hi));
                }
                // Go accepts reversed ranges and never matches them; the regex crate rejects them.
                let body: String = ranges
                    .iter()
                    .filter(|(lo, hi)| lo <= hi)
                    .map(|(lo, hi)| format!("\\x{{{:x}}}-\\x{{{:x}}}", *lo as u32, *hi as u32))
                    .collect();
                match (negated, body.is_empty()) {
                    (true, true) => out.push('.'),
                    (false, true) => out.push_str(r"\b\B"),
                    (true, false) => out.push_str(&format!("[^{body}]")),
                    (false, false) => out.push_str(&format!("[{body}]")),
                }
            }
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out.push_str(")$");
    Ok(out)
}

/// Go's `getEsc`: one (possibly escaped) character of a class range.
fn class_char(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<char, String> {
    let c = match chars.next() {
        None => return Err("unterminated character class".into()),
        Some('-' | ']') => return Err("misplaced '-' or ']' in character class".into()),
        Some('\\') => chars.next().ok_or("trailing backslash")?,
        Some(c) => c,
    };
    if chars.peek().is_none() {
        return Err("unterminated character class".into());
    }
    Ok(c)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn kept(f: &TagFilter, tag: &str) -> Option<String> {
        match f.classify(tag) {
            FilterVerdict::Kept(v) => Some(v),
            _ => None,
        }
    }

    #[test]
    fn extract_named_and_numbered_groups() {
        let f = TagFilter::new(Some(r"^main-[a-f0-9]+-(?P<ts>\d+)"), Some("$ts")).unwrap();
        assert_eq!(
            kept(&f, "main-abc-1700000000").as_deref(),
            Some("1700000000")
        );
        let f = TagFilter::new(Some(r"^v(\d)$"), Some("${1}suffix")).unwrap();
        assert_eq!(kept(&f, "v1").as_deref(), Some("1suffix"));
    }

    #[test]
    fn extract_go_quirks() {
        // `$1suffix` is the (missing) group named `1suffix`.
        let f = TagFilter::new(Some(r"^v(\d)$"), Some("$1suffix")).unwrap();
        assert_eq!(kept(&f, "v1").as_deref(), Some(""));
        let f = TagFilter::new(Some(r"^v(\d)$"), Some("$$-$2-${1-$")).unwrap();
        assert_eq!(kept(&f, "v1").as_deref(), Some("$--${1-$"));
        // Leading zero: not a number, so a (missing) name.
        let f = TagFilter::new(Some(r"^v(\d)$"), Some("$01")).unwrap();
        assert_eq!(kept(&f, "v1").as_deref(), Some(""));
    }

    #[test]
    fn template_groups_and_captures() {
        let f = TagFilter::new(
            Some(r"^(?P<date>\d{8})-(?P<n>\d+)(-x)?$"),
            Some("$date$$${n}$1suffix$3"),
        )
        .unwrap();
        assert_eq!(f.template_groups(), ["date", "n", "1suffix", "3"]);
        assert_eq!(f.undefined_groups(), ["1suffix"]);
        assert_eq!(
            f.template_captures("20220210-1"),
            Some(vec![
                Some("20220210".to_owned()),
                Some("1".to_owned()),
                None,
                None
            ])
        );
        assert_eq!(f.template_captures("latest"), None);
        assert!(
            TagFilter::new(Some("x"), None)
                .unwrap()
                .template_groups()
                .is_empty()
        );
    }

    #[test]
    fn pattern_is_unanchored_and_extract_empty_keeps_tag() {
        let f = TagFilter::new(Some("rel"), Some("")).unwrap();
        assert_eq!(kept(&f, "x-rel-1").as_deref(), Some("x-rel-1"));
        assert_eq!(f.classify("dev"), FilterVerdict::Mismatch);
    }

    #[test]
    fn default_exclusions_drop_cosign_artifacts() {
        let f = TagFilter::default();
        for t in ["sha256-abc.sig", "sha256-abc.att", "sha256-abc.sbom"] {
            assert!(matches!(f.classify(t), FilterVerdict::Excluded(_)), "{t}");
        }
        assert_eq!(kept(&f, "x.sig.bak").as_deref(), Some("x.sig.bak"));
    }

    #[test]
    fn invalid_regex_names_the_pattern() {
        let e = TagFilter::new(Some("(["), None).unwrap_err();
        assert!(
            e.to_string().contains(r#"invalid filter regex "([""#),
            "{e}"
        );
        // One line, saying what is wrong.
        assert_eq!(
            e.to_string(),
            r#"invalid filter regex "([": unclosed character class"#
        );
    }

    #[test]
    fn globs_follow_filepath_match() {
        let f = TagFilter::pass_all().exclude_glob("*-rc*").unwrap();
        assert!(matches!(
            f.classify("1.0.0-rc1"),
            FilterVerdict::Excluded(_)
        ));
        let f = TagFilter::pass_all().exclude_glob("*").unwrap();
        assert!(kept(&f, "a/b").is_some());
        let f = TagFilter::pass_all().exclude_glob("v[^0-4z-a]").unwrap();
        assert!(kept(&f, "v3").is_some());
        assert!(kept(&f, "v7").is_none());
        assert!(TagFilter::pass_all().exclude_glob("[a").is_err());
        assert!(TagFilter::pass_all().exclude_glob("a\\").is_err());
        assert!(TagFilter::pass_all().exclude_glob("[]").is_err());
    }
}

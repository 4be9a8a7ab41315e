//! Masterminds/semver v3 semantics, re-implemented: version parsing (strict `StrictNewVersion`,
//! loose `NewVersion` with and without coercion, and fluxcd/pkg `ParseVersion`), precedence,
//! increments, and constraints (parsing, `Check`, `Validate`, canonical `String`).
//!
//! The behaviour follows the snapshot the oracles were taken from (Masterminds/semver `71f2b39`,
//! v3.4.0 + 6 commits): error texts quote with Go's `%q`, hyphen ranges are rewritten textually,
//! and the pre-release rule is decided per AND-group.
//!
//! This module does not decide which tags are versions for a policy, how tags are ordered or how
//! ties are broken; that is `policy` (`mod.rs`).

use std::cmp::Ordering;
use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

/// An error from parsing or changing a [`Version`]; the texts are Masterminds' own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// `StrictNewVersion("")`.
    #[error("version string empty")]
    Empty,
    /// The text does not have the shape of a version.
    #[error("invalid semantic version")]
    InvalidSemVer,
    /// A numeric part holds something other than digits (strict parsing).
    #[error("invalid characters in version")]
    InvalidCharacters,
    /// A numeric part or numeric pre-release identifier has a leading zero.
    #[error("version segment starts with 0")]
    SegmentStartsZero,
    /// The build metadata is empty or has characters outside `[0-9A-Za-z-]`.
    #[error("invalid metadata string")]
    InvalidMetadata,
    /// The pre-release is empty or has characters outside `[0-9A-Za-z-]`.
    #[error("invalid prerelease string")]
    InvalidPrerelease,
    /// A numeric part does not fit in 64 bits (or is empty); the text is Go's `strconv` message.
    #[error("{0}")]
    Segment(String),
    /// `inc_*` would overflow a 64-bit part (Masterminds panics here).
    #[error("version increment would overflow uint64")]
    IncrementOverflow,
}

/// An error from parsing a constraint (range); the texts are Masterminds' own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConstraintError {
    /// The OR-group (quoted as written) is not a list of comparators.
    #[error("improper constraint: {}", go_quote(.0))]
    Improper(String),
    /// A comparator has the right shape but holds an impossible version (e.g. `1x`, `1.2.3-01`).
    #[error("constraint parser error")]
    Parser,
}

/// A parsed semantic version, as Masterminds' `Version`.
///
/// `==` is structural (it sees `v`, metadata and the original text); use [`Version::compare`]
/// for precedence.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: String,
    metadata: String,
    original: String,
}

impl Version {
    /// Builds a version from its parts without validating them (Masterminds `New`).
    pub fn new(major: u64, minor: u64, patch: u64, pre: &str, metadata: &str) -> Version {
        let mut v = Version {
            major,
            minor,
            patch,
            pre: pre.to_owned(),
            metadata: metadata.to_owned(),
            original: String::new(),
        };
        v.original = v.to_string();
        v
    }

    /// Parses like Masterminds `NewVersion` with `CoerceNewVersion = true` (the default, used by
    /// Flux and Argo CD): optional lowercase `v`, 1 to 3 numeric parts (`1` → `1.0.0`), leading
    /// zeros allowed in numeric parts, pre-release and metadata validated.
    pub fn parse(s: &str) -> Result<Version, VersionError> {
        let p = scan_loose(s).ok_or(VersionError::InvalidSemVer)?;
        let v = Version {
            major: loose_segment(p.major)?,
            minor: p.minor.map(loose_segment).transpose()?.unwrap_or(0),
            patch: p.patch.map(loose_segment).transpose()?.unwrap_or(0),
            pre: p.pre.unwrap_or_default().to_owned(),
            metadata: p.meta.unwrap_or_default().to_owned(),
            original: s.to_owned(),
        };
        if !v.pre.is_empty() {
            validate_prerelease(&v.pre)?;
        }
        if !v.metadata.is_empty() {
            validate_metadata(&v.metadata)?;
        }
        Ok(v)
    }

    /// Parses like `NewVersion` with `CoerceNewVersion = false`: as [`Version::parse`] but
    /// leading zeros are rejected. With `detailed` false every failure is `invalid semantic
    /// version` (Masterminds `DetailedNewVersionErrors = false`).
    pub fn parse_no_coerce(s: &str, detailed: bool) -> Result<Version, VersionError> {
        let Some(p) = scan_loose(s).filter(LooseParts::is_canonical) else {
            if !detailed {
                return Err(VersionError::InvalidSemVer);
            }
            let p = scan_loose(s).ok_or(VersionError::InvalidSemVer)?;
            for seg in [Some(p.major), p.minor, p.patch].into_iter().flatten() {
                if seg.len() > 1 && seg.starts_with('0') {
                    return Err(VersionError::SegmentStartsZero);
                }
                loose_segment(seg)?;
            }
            if let Some(pre) = p.pre {
                validate_prerelease(pre)?;
            }
            if let Some(meta) = p.meta {
                validate_metadata(meta)?;
            }
            return Err(VersionError::InvalidSemVer);
        };
        Ok(Version {
            major: loose_segment(p.major)?,
            minor: p.minor.map(loose_segment).transpose()?.unwrap_or(0),
            patch: p.patch.map(loose_segment).transpose()?.unwrap_or(0),
            pre: p.pre.unwrap_or_default().to_owned(),
            metadata: p.meta.unwrap_or_default().to_owned(),
            original: s.to_owned(),
        })
    }

    /// Parses like Masterminds `StrictNewVersion`: exactly `MAJOR.MINOR.PATCH[-PRE][+META]`, no
    /// `v`, no leading zeros.
    pub fn parse_strict(s: &str) -> Result<Version, VersionError> {
        if s.is_empty() {
            return Err(VersionError::Empty);
        }
        let mut parts: Vec<&str> = s.splitn(3, '.').collect();
        if parts.len() != 3 {
            return Err(VersionError::InvalidSemVer);
        }
        let mut metadata = "";
        let mut pre = "";
        if let Some((rest, meta)) = parts[2].split_once('+') {
            validate_metadata(meta)?;
            metadata = meta;
            parts[2] = rest;
        }
        if let Some((rest, p)) = parts[2].split_once('-') {
            validate_prerelease(p)?;
            pre = p;
            parts[2] = rest;
        }
        for p in &parts {
            if !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(VersionError::InvalidCharacters);
            }
            if p.len() > 1 && p.starts_with('0') {
                return Err(VersionError::SegmentStartsZero);
            }
        }
        Ok(Version {
            major: parse_uint(parts[0])?,
            minor: parse_uint(parts[1])?,
            patch: parse_uint(parts[2])?,
            pre: pre.to_owned(),
            metadata: metadata.to_owned(),
            original: s.to_owned(),
        })
    }

    /// Parses like fluxcd/pkg `version.ParseVersion` (Flux's semver policy): the text must split
    /// into exactly three parts on `.` (Go `strings.SplitN(v, ".", 3)`, i.e. at least two dots),
    /// then [`Version::parse`] applies (so `v1.2.3` and `v2025.07.03` parse, `1.2` does not).
    pub fn parse_flux(s: &str) -> Result<Version, VersionError> {
        if s.splitn(3, '.').count() != 3 {
            return Err(VersionError::InvalidSemVer);
        }
        Version::parse(s)
    }

    /// The major number.
    pub fn major(&self) -> u64 {
        self.major
    }

    /// The minor number.
    pub fn minor(&self) -> u64 {
        self.minor
    }

    /// The patch number.
    pub fn patch(&self) -> u64 {
        self.patch
    }

    /// The pre-release (without `-`), empty when there is none.
    pub fn prerelease(&self) -> &str {
        &self.pre
    }

    /// The build metadata (without `+`), empty when there is none.
    pub fn metadata(&self) -> &str {
        &self.metadata
    }

    /// The text the version was parsed from (Masterminds `Original()`).
    pub fn original(&self) -> &str {
        &self.original
    }

    /// Precedence order (Masterminds `Compare`): numbers, then a release is greater than its
    /// pre-releases, pre-releases compared identifier by identifier; metadata is ignored.
    pub fn compare(&self, o: &Version) -> Ordering {
        self.major
            .cmp(&o.major)
            .then(self.minor.cmp(&o.minor))
            .then(self.patch.cmp(&o.patch))
            .then_with(|| match (self.pre.is_empty(), o.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_prerelease(&self.pre, &o.pre),
            })
    }

    /// The next patch version (Masterminds `IncPatch`): a pre-release drops its pre-release and
    /// metadata and keeps its patch number; otherwise the patch number grows by one.
    pub fn inc_patch(&self) -> Result<Version, VersionError> {
        let mut next = self.clone();
        next.pre.clear();
        next.metadata.clear();
        if self.pre.is_empty() {
            next.patch = self
                .patch
                .checked_add(1)
                .ok_or(VersionError::IncrementOverflow)?;
        }
        Ok(next.with_original_from(self))
    }

    /// The next minor version (Masterminds `IncMinor`).
    pub fn inc_minor(&self) -> Result<Version, VersionError> {
        let mut next = self.clone();
        next.pre.clear();
        next.metadata.clear();
        next.patch = 0;
        next.minor = self
            .minor
            .checked_add(1)
            .ok_or(VersionError::IncrementOverflow)?;
        Ok(next.with_original_from(self))
    }

    /// The next major version (Masterminds `IncMajor`).
    pub fn inc_major(&self) -> Result<Version, VersionError> {
        let mut next = self.clone();
        next.pre.clear();
        next.metadata.clear();
        next.patch = 0;
        next.minor = 0;
        next.major = self
            .major
            .checked_add(1)
            .ok_or(VersionError::IncrementOverflow)?;
        Ok(next.with_original_from(self))
    }

    /// This version with another pre-release (Masterminds `SetPrerelease`); empty removes it.
    pub fn set_prerelease(&self, pre: &str) -> Result<Version, VersionError> {
        if !pre.is_empty() {
            validate_prerelease(pre)?;
        }
        let mut next = self.clone();
        next.pre = pre.to_owned();
        Ok(next.with_original_from(self))
    }

    /// This version with other build metadata (Masterminds `SetMetadata`); empty removes it.
    pub fn set_metadata(&self, metadata: &str) -> Result<Version, VersionError> {
        if !metadata.is_empty() {
            validate_metadata(metadata)?;
        }
        let mut next = self.clone();
        next.metadata = metadata.to_owned();
        Ok(next.with_original_from(self))
    }

    /// Keeps the `v` prefix of `from` in the new original text, as Masterminds does.
    fn with_original_from(mut self, from: &Version) -> Version {
        let prefix = if from.original.starts_with('v') {
            "v"
        } else {
            ""
        };
        self.original = format!("{prefix}{self}");
        self
    }
}

impl fmt::Display for Version {
    /// The canonical form without `v` (Masterminds `String()`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre)?;
        }
        if !self.metadata.is_empty() {
            write!(f, "+{}", self.metadata)?;
        }
        Ok(())
    }
}

/// Checks a pre-release (without `-`) like Masterminds `validatePrerelease`.
pub fn validate_prerelease(p: &str) -> Result<(), VersionError> {
    for ident in p.split('.') {
        if ident.is_empty() {
            return Err(VersionError::InvalidPrerelease);
        } else if ident.bytes().all(|b| b.is_ascii_digit()) {
            if ident.len() > 1 && ident.starts_with('0') {
                return Err(VersionError::SegmentStartsZero);
            }
        } else if !ident.bytes().all(is_ident_byte) {
            return Err(VersionError::InvalidPrerelease);
        }
    }
    Ok(())
}

/// Checks build metadata (without `+`) like Masterminds `validateMetadata`.
pub fn validate_metadata(m: &str) -> Result<(), VersionError> {
    if m.split('.')
        .all(|i| !i.is_empty() && i.bytes().all(is_ident_byte))
    {
        Ok(())
    } else {
        Err(VersionError::InvalidMetadata)
    }
}

/// Returns true if and only if `s` is a wildcard version part: `x`, `X` or `*`.
pub fn is_wildcard(s: &str) -> bool {
    matches!(s, "x" | "X" | "*")
}

/// Rewrites hyphen ranges `A - B` into `>= A, <= B ` textually, exactly as Masterminds
/// `rewriteRange` does before a constraint is parsed.
pub fn rewrite_range(i: &str) -> String {
    if !i.contains('-') {
        return i.to_owned();
    }
    let mut o = i.to_owned();
    for caps in RANGE_RE.captures_iter(i) {
        let (Some(whole), Some(a), Some(b)) = (caps.get(0), caps.get(1), caps.get(11)) else {
            continue;
        };
        let t = format!(">= {}, <= {} ", a.as_str(), b.as_str());
        o = o.replacen(whole.as_str(), &t, 1);
    }
    o
}

/// The operator of a [`Comparator`], named after Masterminds' check functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// No operator or `=`: tilde when the version has wildcards or missing parts, else equality.
    TildeOrEqual,
    /// `!=`.
    NotEqual,
    /// `>`.
    GreaterThan,
    /// `<`.
    LessThan,
    /// `>=` or `=>`.
    GreaterThanEqual,
    /// `<=` or `=<`.
    LessThanEqual,
    /// `~` or `~>`.
    Tilde,
    /// `^`.
    Caret,
}

impl Operator {
    /// Masterminds' name for the check function (`constraintTildeOrEqual`, …).
    pub fn go_name(self) -> &'static str {
        match self {
            Operator::TildeOrEqual => "constraintTildeOrEqual",
            Operator::NotEqual => "constraintNotEqual",
            Operator::GreaterThan => "constraintGreaterThan",
            Operator::LessThan => "constraintLessThan",
            Operator::GreaterThanEqual => "constraintGreaterThanEqual",
            Operator::LessThanEqual => "constraintLessThanEqual",
            Operator::Tilde => "constraintTilde",
            Operator::Caret => "constraintCaret",
        }
    }
}

/// One comparator of a constraint, such as `>=1.2` or `~1.x`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparator {
    op_text: String,
    op: Operator,
    orig: String,
    con: Version,
    dirty: bool,
    minor_dirty: bool,
    patch_dirty: bool,
}

impl Comparator {
    /// Parses a single comparator like Masterminds' internal `parseConstraint`; the empty string
    /// is the wildcard (the public [`Constraints::parse`] rejects it).
    pub fn parse(c: &str) -> Result<Comparator, ConstraintError> {
        if c.is_empty() {
            return Ok(Comparator {
                op_text: String::new(),
                op: Operator::TildeOrEqual,
                orig: String::new(),
                con: Version::new(0, 0, 0, "", ""),
                dirty: true,
                minor_dirty: false,
                patch_dirty: false,
            });
        }
        let s = skip_space(c);
        if s.is_empty() {
            return Err(ConstraintError::Improper(c.to_owned()));
        }
        let (cmp, rest) = scan_comparator(s).map_err(|e| improper_as(e, c))?;
        if !skip_space(rest).is_empty() {
            return Err(ConstraintError::Improper(c.to_owned()));
        }
        Ok(cmp)
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.op
    }

    /// The version the comparator compares with, wildcards and missing parts set to 0.
    pub fn version(&self) -> &Version {
        &self.con
    }

    /// Returns true if and only if `v` satisfies this comparator, with pre-releases of `v`
    /// allowed if and only if `include_pre` (the AND-group rule is applied by [`Constraints`]).
    pub fn check(&self, v: &Version, include_pre: bool) -> bool {
        self.check_reason(v, include_pre).is_ok()
    }

    /// Why `v` fails this comparator, in Masterminds' words (`"1.2.3" is less than "2"`).
    pub fn explain(&self, v: &Version, include_pre: bool) -> Option<String> {
        self.check_reason(v, include_pre)
            .err()
            .map(|r| r.message(v, &self.orig))
    }

    fn check_reason(&self, v: &Version, include_pre: bool) -> Result<(), Fail> {
        if !v.pre.is_empty() && !include_pre {
            return Err(Fail::Prerelease);
        }
        let c = &self.con;
        match self.op {
            Operator::NotEqual => {
                if self.dirty {
                    if c.major != v.major {
                        return Ok(());
                    }
                    if c.minor != v.minor && !self.minor_dirty {
                        return Ok(());
                    } else if self.minor_dirty {
                        return Err(Fail::Equal);
                    } else if c.patch != v.patch && !self.patch_dirty {
                        return Ok(());
                    } else if self.patch_dirty {
                        if (!v.pre.is_empty() || !c.pre.is_empty())
                            && compare_prerelease(&v.pre, &c.pre) != Ordering::Equal
                        {
                            return Ok(());
                        }
                        return Err(Fail::Equal);
                    }
                }
                ok_or(v.compare(c) != Ordering::Equal, Fail::Equal)
            }
            Operator::GreaterThan => {
                if !self.dirty {
                    return ok_or(v.compare(c) == Ordering::Greater, Fail::LessThanEqual);
                }
                if v.major > c.major {
                    Ok(())
                } else if v.major < c.major || self.minor_dirty {
                    Err(Fail::LessThanEqual)
                } else if self.patch_dirty {
                    ok_or(v.minor > c.minor, Fail::LessThanEqual)
                } else {
                    ok_or(v.compare(c) == Ordering::Greater, Fail::LessThanEqual)
                }
            }
            Operator::LessThan => ok_or(v.compare(c) == Ordering::Less, Fail::GreaterThanEqual),
            Operator::GreaterThanEqual => ok_or(v.compare(c) != Ordering::Less, Fail::LessThan),
            Operator::LessThanEqual => {
                if !self.dirty {
                    return ok_or(v.compare(c) != Ordering::Greater, Fail::GreaterThan);
                }
                if v.major > c.major
                    || (v.major == c.major && v.minor > c.minor && !self.minor_dirty)
                {
                    return Err(Fail::GreaterThan);
                }
                Ok(())
            }
            Operator::Tilde => self.tilde(v),
            Operator::TildeOrEqual => {
                if self.dirty {
                    self.tilde(v)
                } else {
                    ok_or(v.compare(c) == Ordering::Equal, Fail::NotEqual)
                }
            }
            Operator::Caret => {
                if v.compare(c) == Ordering::Less {
                    return Err(Fail::LessThan);
                }
                if c.major > 0 || self.minor_dirty {
                    return ok_or(v.major == c.major, Fail::Major);
                }
                if v.major > 0 {
                    return Err(Fail::Major);
                }
                if c.minor > 0 || self.patch_dirty {
                    return ok_or(v.minor == c.minor, Fail::CaretMinor);
                }
                if v.minor > 0 {
                    return Err(Fail::CaretMinorZero);
                }
                ok_or(c.patch == v.patch, Fail::CaretPatch)
            }
        }
    }

    fn tilde(&self, v: &Version) -> Result<(), Fail> {
        let c = &self.con;
        if v.compare(c) == Ordering::Less {
            return Err(Fail::LessThan);
        }
        // `~0.0.0` accepts everything (>= 0.0.0).
        if c.major == 0 && c.minor == 0 && c.patch == 0 && !self.minor_dirty && !self.patch_dirty {
            return Ok(());
        }
        if v.major != c.major {
            return Err(Fail::Major);
        }
        if v.minor != c.minor && !self.minor_dirty {
            return Err(Fail::MajorMinor);
        }
        Ok(())
    }
}

impl fmt::Display for Comparator {
    /// The operator and version as written, without inner space (`>=1.2`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.op_text, self.orig)
    }
}

/// A parsed constraint (range): OR-groups (`||`) of AND-ed comparators (space or comma).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraints {
    groups: Vec<Vec<Comparator>>,
    contains_pre: Vec<bool>,
    include_prerelease: bool,
    source: String,
}

impl Constraints {
    /// Parses like Masterminds `NewConstraint` (after [`rewrite_range`]).
    pub fn parse(c: &str) -> Result<Constraints, ConstraintError> {
        let rewritten = rewrite_range(c);
        let mut groups = Vec::new();
        let mut contains_pre = Vec::new();
        for g in rewritten.split("||") {
            let group = parse_group(g)?;
            contains_pre.push(group.iter().any(|c| !c.con.pre.is_empty()));
            groups.push(group);
        }
        Ok(Constraints {
            groups,
            contains_pre,
            include_prerelease: false,
            source: c.to_owned(),
        })
    }

    /// Sets Masterminds' `IncludePrerelease`: pre-releases may match in every AND-group.
    pub fn with_include_prerelease(mut self, include: bool) -> Constraints {
        self.include_prerelease = include;
        self
    }

    /// The text this was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The OR-groups, each a list of AND-ed comparators.
    pub fn groups(&self) -> &[Vec<Comparator>] {
        &self.groups
    }

    /// Returns true if and only if pre-releases may match in at least one AND-group (a
    /// comparator of that group carries a pre-release, or `IncludePrerelease` is set).
    pub fn admits_prereleases(&self) -> bool {
        (0..self.groups.len()).any(|i| self.group_includes_pre(i))
    }

    /// Returns true if and only if `v` satisfies the constraint (Masterminds `Check`).
    pub fn check(&self, v: &Version) -> bool {
        self.groups.iter().enumerate().any(|(i, g)| {
            let pre = self.group_includes_pre(i);
            g.iter().all(|c| c.check(v, pre))
        })
    }

    /// Masterminds `Validate`: whether `v` satisfies the constraint and, if not, every reason in
    /// Masterminds' words (the pre-release reason at most once).
    pub fn validate(&self, v: &Version) -> (bool, Vec<String>) {
        let mut errors = Vec::new();
        let mut pre_reported = false;
        for (i, g) in self.groups.iter().enumerate() {
            let pre = self.group_includes_pre(i);
            let mut joy = true;
            for c in g {
                if !pre && !v.pre.is_empty() {
                    if !pre_reported {
                        errors.push(Fail::Prerelease.message(v, &c.orig));
                        pre_reported = true;
                    }
                    joy = false;
                } else if let Err(r) = c.check_reason(v, pre) {
                    errors.push(r.message(v, &c.orig));
                    joy = false;
                }
            }
            if joy {
                return (true, Vec::new());
            }
        }
        (false, errors)
    }

    fn group_includes_pre(&self, i: usize) -> bool {
        self.include_prerelease || self.contains_pre.get(i).copied().unwrap_or(false)
    }
}

impl fmt::Display for Constraints {
    /// The canonical form (Masterminds `String()`): comparators joined by a space, groups by
    /// ` || `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, g) in self.groups.iter().enumerate() {
            if k > 0 {
                f.write_str(" || ")?;
            }
            for (kk, c) in g.iter().enumerate() {
                if kk > 0 {
                    f.write_str(" ")?;
                }
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// Quotes like Go's `%q` / `strconv.Quote` for the characters that can occur here.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0b' => out.push_str("\\v"),
            '\x0c' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

// ---------------------------------------------------------------------------------------------
// Private helpers.

/// Masterminds' `cvRegex`, with Go's ASCII `\s` spelled out for the range rewrite.
const CV: &str = r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";

static RANGE_RE: LazyLock<Regex> = LazyLock::new(|| {
    let ws = r"[\t\n\x0C\r ]";
    Regex::new(&format!(r"{ws}*({CV}){ws}+-{ws}+({CV}){ws}*"))
        .expect("impossible: the hyphen-range regex is a constant")
});

/// Why a comparator failed (Masterminds `failReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fail {
    Prerelease,
    Equal,
    NotEqual,
    LessThan,
    LessThanEqual,
    GreaterThan,
    GreaterThanEqual,
    Major,
    MajorMinor,
    CaretMinor,
    CaretMinorZero,
    CaretPatch,
}

impl Fail {
    fn message(self, v: &Version, orig: &str) -> String {
        let (v, c) = (go_quote(&v.to_string()), go_quote(orig));
        match self {
            Fail::Prerelease => format!(
                "{v} is a prerelease version and the constraint is only looking for release versions"
            ),
            Fail::Equal => format!("{v} is equal to {c}"),
            Fail::NotEqual => format!("{v} is not equal to {c}"),
            Fail::LessThan => format!("{v} is less than {c}"),
            Fail::LessThanEqual => format!("{v} is less than or equal to {c}"),
            Fail::GreaterThan => format!("{v} is greater than {c}"),
            Fail::GreaterThanEqual => format!("{v} is greater than or equal to {c}"),
            Fail::Major => format!("{v} does not have same major version as {c}"),
            Fail::MajorMinor => format!("{v} does not have same major and minor version as {c}"),
            Fail::CaretMinor => format!(
                "{v} does not have same minor version as {c}. Expected minor versions to match when constraint major version is 0"
            ),
            Fail::CaretMinorZero => format!("{v} does not have same minor version as {c}"),
            Fail::CaretPatch => format!(
                "{v} does not equal {c}. Expect version and constraint to equal when major and minor versions are 0"
            ),
        }
    }
}

fn ok_or(cond: bool, fail: Fail) -> Result<(), Fail> {
    if cond { Ok(()) } else { Err(fail) }
}

/// The pieces of a match of Masterminds' `looseSemVerRegex`.
struct LooseParts<'a> {
    major: &'a str,
    minor: Option<&'a str>,
    patch: Option<&'a str>,
    pre: Option<&'a str>,
    meta: Option<&'a str>,
}

impl LooseParts<'_> {
    /// Returns true if and only if the text also matches Masterminds' strict `semVerRegex`: no
    /// leading zeros in numeric parts or numeric pre-release identifiers.
    fn is_canonical(&self) -> bool {
        let no_zero = |s: &str| s.len() == 1 || !s.starts_with('0');
        [Some(self.major), self.minor, self.patch]
            .into_iter()
            .flatten()
            .all(no_zero)
            && self.pre.is_none_or(|p| {
                p.split('.')
                    .all(|i| !i.bytes().all(|b| b.is_ascii_digit()) || no_zero(i))
            })
    }
}

/// Matches `^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-IDENTS)?(\+IDENTS)?$` where IDENTS are non-empty
/// `[0-9A-Za-z-]+` joined by dots. The grammar is unambiguous, so a greedy scan is exact.
fn scan_loose(s: &str) -> Option<LooseParts<'_>> {
    let b = s.as_bytes();
    let digits_end = |from: usize| {
        let mut j = from;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        j
    };
    let mut i = usize::from(b.first() == Some(&b'v'));
    let j = digits_end(i);
    if j == i {
        return None;
    }
    let major = &s[i..j];
    i = j;
    let mut nums = [None, None];
    for slot in &mut nums {
        if b.get(i) == Some(&b'.') {
            let j = digits_end(i + 1);
            if j == i + 1 {
                return None;
            }
            *slot = Some(&s[i + 1..j]);
            i = j;
        }
    }
    let idents = |lead: u8, i: &mut usize| -> Option<Option<&str>> {
        if b.get(*i) != Some(&lead) {
            return Some(None);
        }
        let start = *i + 1;
        let mut j = start;
        while j < b.len() && (is_ident_byte(b[j]) || b[j] == b'.') {
            j += 1;
        }
        let text = &s[start..j];
        if text.split('.').any(str::is_empty) {
            return None;
        }
        *i = j;
        Some(Some(text))
    };
    let pre = idents(b'-', &mut i)?;
    let meta = idents(b'+', &mut i)?;
    if i != b.len() {
        return None;
    }
    Some(LooseParts {
        major,
        minor: nums[0],
        patch: nums[1],
        pre,
        meta,
    })
}

/// Returns true if and only if `b` may appear in a pre-release or metadata identifier.
fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

/// A numeric part of a loose version (digits only, guaranteed by the scanner).
fn loose_segment(s: &str) -> Result<u64, VersionError> {
    parse_uint(s).map_err(|e| VersionError::Segment(format!("error parsing version segment: {e}")))
}

/// Go `strconv.ParseUint(s, 10, 64)` over an all-digit (possibly empty) string.
fn parse_uint(s: &str) -> Result<u64, VersionError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VersionError::Segment(format!(
            "strconv.ParseUint: parsing {}: invalid syntax",
            go_quote(s)
        )));
    }
    s.parse::<u64>().map_err(|_| {
        VersionError::Segment(format!(
            "strconv.ParseUint: parsing {}: value out of range",
            go_quote(s)
        ))
    })
}

fn compare_prerelease(v: &str, o: &str) -> Ordering {
    let sp: Vec<&str> = v.split('.').collect();
    let op: Vec<&str> = o.split('.').collect();
    for i in 0..sp.len().max(op.len()) {
        let s = sp.get(i).copied().unwrap_or("");
        let o = op.get(i).copied().unwrap_or("");
        let d = compare_pre_part(s, o);
        if d != Ordering::Equal {
            return d;
        }
    }
    Ordering::Equal
}

/// Masterminds `comparePrePart`, quirks included: numeric identifiers that differ only in
/// spelling (`1` vs `01`) compare as "less".
fn compare_pre_part(s: &str, o: &str) -> Ordering {
    if s == o {
        return Ordering::Equal;
    }
    if s.is_empty() {
        return Ordering::Less;
    }
    if o.is_empty() {
        return Ordering::Greater;
    }
    let num = |x: &str| {
        if x.bytes().all(|b| b.is_ascii_digit()) {
            x.parse::<u64>().ok()
        } else {
            None
        }
    };
    match (num(s), num(o)) {
        (None, None) if s > o => Ordering::Greater,
        (Some(a), Some(b)) if a > b => Ordering::Greater,
        // A number is lower than a word.
        (None, Some(_)) => Ordering::Greater,
        _ => Ordering::Less,
    }
}

/// Returns true if and only if `b` is in Go's ASCII `\s` class.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0c' | b'\r')
}

fn skip_space(s: &str) -> &str {
    s.trim_start_matches(|c: char| c.is_ascii() && is_space(c as u8))
}

/// Replaces the text quoted by an `Improper` error with `whole`.
fn improper_as(e: ConstraintError, whole: &str) -> ConstraintError {
    match e {
        ConstraintError::Improper(_) => ConstraintError::Improper(whole.to_owned()),
        other => other,
    }
}

/// Parses one OR-group: comparators separated by whitespace, a comma, or a comma with spaces.
fn parse_group(g: &str) -> Result<Vec<Comparator>, ConstraintError> {
    let improper = || ConstraintError::Improper(g.to_owned());
    let mut s = skip_space(g);
    if s.is_empty() {
        return Err(improper());
    }
    let mut out = Vec::with_capacity(2);
    loop {
        let (c, rest) = scan_comparator(s).map_err(|e| improper_as(e, g))?;
        out.push(c);
        let mut trimmed = skip_space(rest);
        if trimmed.is_empty() {
            return Ok(out);
        }
        if let Some(after_comma) = trimmed.strip_prefix(',') {
            trimmed = skip_space(after_comma);
        } else if trimmed.len() == rest.len() {
            // Two comparators glued together (`>1<2`, `1.0.0p`).
            return Err(improper());
        }
        if trimmed.is_empty() {
            return Err(improper());
        }
        s = trimmed;
    }
}

/// Reads one comparator from the front of `s` (no leading space) and returns the remainder.
fn scan_comparator(s: &str) -> Result<(Comparator, &str), ConstraintError> {
    let (op_text, op, rest) = scan_operator(s);
    let rest = skip_space(rest);
    let Some((segs, n, pre, meta, after)) = scan_constraint_version(rest) else {
        return Err(ConstraintError::Improper(s.to_owned()));
    };
    let orig = &rest[..rest.len() - after.len()];
    let mut con = Version {
        major: 0,
        minor: 0,
        patch: 0,
        pre: pre.to_owned(),
        metadata: String::new(),
        original: orig.to_owned(),
    };
    let (mut dirty, mut minor_dirty, mut patch_dirty) = (false, false, false);
    if is_wildcard(segs[0]) {
        dirty = true;
    } else if n < 2 || is_wildcard(segs[1]) {
        (dirty, minor_dirty) = (true, true);
        con.major = constraint_segment(segs[0])?;
    } else if n < 3 || is_wildcard(segs[2]) {
        (dirty, patch_dirty) = (true, true);
        con.major = constraint_segment(segs[0])?;
        con.minor = constraint_segment(segs[1])?;
    } else {
        // Metadata only counts when the version is complete.
        con.metadata = meta.to_owned();
        con.major = constraint_segment(segs[0])?;
        con.minor = constraint_segment(segs[1])?;
        con.patch = constraint_segment(segs[2])?;
    }
    if !pre.is_empty() && validate_prerelease(pre).is_err() {
        return Err(ConstraintError::Parser);
    }
    let cmp = Comparator {
        op_text: op_text.to_owned(),
        op,
        orig: orig.to_owned(),
        con,
        dirty,
        minor_dirty,
        patch_dirty,
    };
    Ok((cmp, after))
}

fn scan_operator(s: &str) -> (&str, Operator, &str) {
    const TWO: [(&str, Operator); 6] = [
        ("!=", Operator::NotEqual),
        (">=", Operator::GreaterThanEqual),
        ("=>", Operator::GreaterThanEqual),
        ("<=", Operator::LessThanEqual),
        ("=<", Operator::LessThanEqual),
        ("~>", Operator::Tilde),
    ];
    const ONE: [(&str, Operator); 5] = [
        ("=", Operator::TildeOrEqual),
        (">", Operator::GreaterThan),
        ("<", Operator::LessThan),
        ("~", Operator::Tilde),
        ("^", Operator::Caret),
    ];
    for (text, op) in TWO.into_iter().chain(ONE) {
        if let Some(rest) = s.strip_prefix(text) {
            return (text, op, rest);
        }
    }
    ("", Operator::TildeOrEqual, s)
}

/// Returns true if and only if `b` may appear in a numeric part of a constraint version.
fn is_seg_byte(b: u8) -> bool {
    // Masterminds' `[0-9|x|X|\*]` class, literal `|` included.
    b.is_ascii_digit() || matches!(b, b'x' | b'X' | b'*' | b'|')
}

type ScannedVersion<'a> = ([&'a str; 3], usize, &'a str, &'a str, &'a str);

/// Reads `v?SEG(.SEG){0,2}(-IDENTS)?(+IDENTS)?` from the front of `s`; anything else is left in
/// the returned remainder for the caller to reject.
fn scan_constraint_version(s: &str) -> Option<ScannedVersion<'_>> {
    let b = s.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'v'));
    let mut segs = [""; 3];
    let mut n = 0;
    loop {
        let start = i;
        while i < b.len() && is_seg_byte(b[i]) {
            i += 1;
        }
        if i == start {
            return None;
        }
        segs[n] = &s[start..i];
        n += 1;
        // A dot only separates when a segment follows it.
        if n == 3 || i + 1 >= b.len() || b[i] != b'.' || !is_seg_byte(b[i + 1]) {
            break;
        }
        i += 1;
    }
    let mut pre = "";
    let mut meta = "";
    if b.get(i) == Some(&b'-') {
        let end = scan_identifiers(b, i + 1);
        if end > i + 1 {
            pre = &s[i + 1..end];
            i = end;
        }
    }
    if b.get(i) == Some(&b'+') {
        let end = scan_identifiers(b, i + 1);
        if end > i + 1 {
            meta = &s[i + 1..end];
            i = end;
        }
    }
    Some((segs, n, pre, meta, &s[i..]))
}

/// The index just past the dot-separated `[0-9A-Za-z-]+` identifiers starting at `i`.
fn scan_identifiers(b: &[u8], i: usize) -> usize {
    let mut end = i;
    loop {
        let start = end;
        while end < b.len() && is_ident_byte(b[end]) {
            end += 1;
        }
        if end == start {
            return start;
        }
        if end + 1 < b.len() && b[end] == b'.' && is_ident_byte(b[end + 1]) {
            end += 1;
            continue;
        }
        return end;
    }
}

fn constraint_segment(s: &str) -> Result<u64, ConstraintError> {
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConstraintError::Parser);
    }
    s.parse::<u64>().map_err(|_| ConstraintError::Parser)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn loose_parse_coerces_and_keeps_original() {
        let v = Version::parse("v1.2").unwrap();
        assert_eq!(v.to_string(), "1.2.0");
        assert_eq!(v.original(), "v1.2");
        assert_eq!(Version::parse("01.02.03").unwrap().to_string(), "1.2.3");
        assert_eq!(
            Version::parse("1.2.3-01"),
            Err(VersionError::SegmentStartsZero)
        );
        assert_eq!(Version::parse("V1.2.3"), Err(VersionError::InvalidSemVer));
        assert_eq!(Version::parse("1.2.3.4"), Err(VersionError::InvalidSemVer));
    }

    #[test]
    fn flux_parse_needs_three_parts() {
        assert!(Version::parse_flux("1.2").is_err());
        assert!(Version::parse_flux("v2025.07.03").is_ok());
        assert!(Version::parse_flux("1.2.3.4").is_err());
    }

    #[test]
    fn prerelease_precedence() {
        let c = |a: &str, b: &str| {
            Version::parse(a)
                .unwrap()
                .compare(&Version::parse(b).unwrap())
        };
        assert_eq!(c("1.0.0-alpha", "1.0.0-alpha.1"), Ordering::Less);
        assert_eq!(c("1.0.0-alpha.1", "1.0.0-alpha.beta"), Ordering::Less);
        assert_eq!(c("1.0.0-beta.11", "1.0.0-beta.2"), Ordering::Greater);
        assert_eq!(c("1.0.0-rc.1", "1.0.0"), Ordering::Less);
        assert_eq!(c("1.0.0+a", "1.0.0+b"), Ordering::Equal);
    }

    #[test]
    fn and_group_prerelease_rule() {
        let v = Version::parse("1.5.0-rc.1").unwrap();
        assert!(Constraints::parse(">=1.0.0 <2.0.0-0").unwrap().check(&v));
        assert!(
            !Constraints::parse(">=1.0.0 <2.0.0 || >=3.0.0-0")
                .unwrap()
                .check(&v)
        );
    }

    #[test]
    fn improper_constraints_name_the_group() {
        let e = Constraints::parse("1.x.y").unwrap_err();
        assert_eq!(e.to_string(), r#"improper constraint: "1.x.y""#);
        assert_eq!(
            Constraints::parse("1x").unwrap_err(),
            ConstraintError::Parser
        );
        assert!(Constraints::parse("").is_err());
        assert!(Constraints::parse("*-*").is_err());
    }

    #[test]
    fn hyphen_range_rewrite() {
        assert_eq!(rewrite_range("1.0 - 2"), ">= 1.0, <= 2 ");
        assert_eq!(
            Constraints::parse("1.0 - 2").unwrap().to_string(),
            ">=1.0 <=2"
        );
    }

    #[test]
    fn go_quote_escapes_controls() {
        assert_eq!(go_quote("a\"b\n"), "\"a\\\"b\\n\"");
    }
}

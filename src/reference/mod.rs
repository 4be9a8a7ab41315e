//! Container image references, following `github.com/distribution/reference` (the grammar
//! Docker, containerd and Kubernetes use) with digests checked as `opencontainers/go-digest` does.
//!
//! Owns: parsing, normalizing (`nginx` → `docker.io/library/nginx`) and familiarizing reference
//! strings, tag/digest validation, the upstream grammar regexps and the small upstream helpers
//! (`ParseNamed`, `ParseAnyReference`, `ParseDockerRef`, `WithName`/`WithTag`/`WithDigest`,
//! `FamiliarMatch`). [`Reference`] keeps the user's spelling so edits can be lossless.
//!
//! Does not own: registry I/O, tag selection, manifest editing, or kustomize's looser
//! `images:` matching (see [`kustomize`]).

pub mod kustomize;

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

/// Maximum length of a repository path (upstream `RepositoryNameTotalLengthMax`).
pub const REPOSITORY_NAME_TOTAL_LENGTH_MAX: usize = 255;

/// Errors with upstream's exact messages (distribution/reference, go-digest v1.0.0, Go `path`).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ReferenceError {
    /// The string does not follow the reference grammar (`ErrReferenceInvalidFormat`).
    #[error("invalid reference format")]
    InvalidFormat,
    /// A tag given to [`Named::with_tag`] is malformed (`ErrTagInvalidFormat`).
    #[error("invalid tag format")]
    InvalidTagFormat,
    /// A digest given to [`Named::with_digest`] is malformed (`ErrDigestInvalidFormat`).
    #[error("invalid digest format")]
    InvalidDigestFormat,
    /// The repository only parses when lowercased (`ErrNameContainsUppercase`, from [`parse`]).
    #[error("repository name must be lowercase")]
    NameContainsUppercase,
    /// The normalized repository path contains uppercase letters (from normalized parsing).
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    UppercaseRepository(String),
    /// Empty input (`ErrNameEmpty`).
    #[error("repository name must have at least one component")]
    NameEmpty,
    /// The repository path exceeds 255 characters (`ErrNameTooLong`).
    #[error("repository name must not be more than 255 characters")]
    NameTooLong,
    /// [`parse_named`] got a name that is not already fully normalized (`ErrNameNotCanonical`).
    #[error("repository name must be canonical")]
    NameNotCanonical,
    /// A bare 64-hex string was given where a name is required.
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexIdentifierName(String),
    /// The digest is not `algorithm:encoded` or its hex is malformed (go-digest).
    #[error("invalid checksum digest format")]
    DigestInvalidFormat,
    /// The digest's hex has the wrong length for its algorithm (go-digest).
    #[error("invalid checksum digest length")]
    DigestInvalidLength,
    /// The digest algorithm is well-formed but not supported (go-digest).
    #[error("unsupported digest algorithm")]
    DigestUnsupported,
    /// A [`familiar_match`] pattern is malformed (Go `path.ErrBadPattern`).
    #[error("syntax error in pattern")]
    BadPattern,
    /// [`Repository::parse`] got a tag or digest (no upstream equivalent).
    #[error("repository name must not include a tag or digest ({0})")]
    NotARepository(String),
}

/// A parsed, normalized reference that keeps the user's spelling.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    /// Everything before `:tag`/`@digest`, exactly as written.
    name: String,
    /// Byte index of the `/` ending the written domain, when a domain was written.
    domain_end: Option<usize>,
    /// Upstream's `ParseNormalizedNamed` result.
    named: Named,
}

impl Reference {
    /// Parses the docker CLI / Kubernetes form (`nginx`, `nginx:1.2`, `ghcr.io/a/b:t@sha256:…`),
    /// like upstream `ParseNormalizedNamed`.
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        let named = parse_normalized_named(s)?;
        // `s` ends with exactly `[:tag][@digest]`, so the written name is what precedes it.
        let suffix = named.tag.as_ref().map_or(0, |t| t.len() + 1)
            + named.digest.as_ref().map_or(0, |d| d.len() + 1);
        let name = s
            .get(..s.len().saturating_sub(suffix))
            .ok_or(ReferenceError::InvalidFormat)?;
        let domain_end = name
            .split_once('/')
            .filter(|(first, _)| looks_like_domain(first))
            .map(|(first, _)| first.len());
        Ok(Reference {
            name: name.to_string(),
            domain_end,
            named,
        })
    }

    /// The normalized repository (`docker.io/library/` implied, host lowercased).
    pub fn repository(&self) -> Repository {
        Repository::canonical(self.named.domain(), self.named.path())
    }

    /// The tag, if one was written.
    pub fn tag(&self) -> Option<&str> {
        self.named.tag()
    }

    /// The digest (`algorithm:hex`), if one was written.
    pub fn digest(&self) -> Option<&str> {
        self.named.digest()
    }

    /// Everything before `:tag`/`@digest`, exactly as written.
    pub fn name_as_written(&self) -> &str {
        &self.name
    }

    /// The written domain, or `None` when it was implied (Docker Hub).
    pub fn domain_as_written(&self) -> Option<&str> {
        self.domain_end.and_then(|i| self.name.get(..i))
    }

    /// The written path (the name without the written domain).
    pub fn path_as_written(&self) -> &str {
        self.domain_end
            .and_then(|i| self.name.get(i + 1..))
            .unwrap_or(&self.name)
    }

    /// Upstream `FamiliarString`: `nginx:1.2` for `docker.io/library/nginx:1.2`.
    pub fn familiar(&self) -> String {
        self.named.familiar_string()
    }

    /// Upstream `String()` of the normalized reference; no implicit `:latest`.
    pub fn normalized(&self) -> String {
        self.named.to_string()
    }

    /// The normalized reference as upstream models it.
    pub fn named(&self) -> &Named {
        &self.named
    }
}

/// Writes the reference exactly as it was parsed.
impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        write_suffix(f, self.tag(), self.digest())
    }
}

/// A repository identity: registry host (lowercased) and path, Docker Hub fully spelled out.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Repository {
    domain: String,
    path: String,
}

impl Repository {
    /// Parses a repository name without tag or digest (`nginx`, `ghcr.io/acme/app`).
    pub fn parse(s: &str) -> Result<Repository, ReferenceError> {
        let reference = Reference::parse(s)?;
        if reference.tag().is_some() || reference.digest().is_some() {
            return Err(ReferenceError::NotARepository(s.to_string()));
        }
        Ok(reference.repository())
    }

    /// The registry host (and port), lowercased; `docker.io` for Docker Hub.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The path on the registry (`library/nginx`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Upstream `FamiliarName`: `nginx` for `docker.io/library/nginx`. A host
    /// is written as [`Repository`]'s `Display` writes it.
    pub fn familiar(&self) -> String {
        let (domain, path) = familiarize(&self.domain, &self.path);
        join_name(&written_domain(domain), path)
    }

    /// Hosts are case-insensitive, so lowercasing may reveal Docker Hub (`DOCKER.IO/x`); apply
    /// upstream's Docker Hub canonicalization again after it.
    fn canonical(domain: &str, path: &str) -> Repository {
        let mut domain = domain.to_ascii_lowercase();
        if domain == LEGACY_DEFAULT_DOMAIN {
            domain = DEFAULT_DOMAIN.to_string();
        }
        let path = if domain == DEFAULT_DOMAIN && !path.contains('/') {
            format!("{OFFICIAL_REPO_PREFIX}{path}")
        } else {
            path.to_string()
        };
        Repository { domain, path }
    }
}

/// `docker.io/library/nginx`. A host that only capitals mark as a host
/// (`LOCALDOMAIN/debian`: no `.`, no `:`, not `localhost`) is written in
/// capitals, so the text re-parses to the same repository instead of a
/// Docker Hub one.
impl fmt::Display for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&join_name(&written_domain(&self.domain), &self.path))
    }
}

/// `domain` (lowercased) as a name must spell it to be read as a domain:
/// uppercased when nothing else marks it as one (upstream `splitDockerDomain`).
fn written_domain(domain: &str) -> std::borrow::Cow<'_, str> {
    if domain.is_empty() || looks_like_domain(domain) {
        std::borrow::Cow::Borrowed(domain)
    } else {
        std::borrow::Cow::Owned(domain.to_ascii_uppercase())
    }
}

/// A reference as distribution/reference models it: domain and path split by whichever
/// upstream function produced it, plus optional tag and digest.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Named {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl Named {
    /// Upstream `Domain()`; empty when the name has no domain.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// Upstream `Path()`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Upstream `Tag()`.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// Upstream `Digest()`.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// Upstream `Name()`: `domain/path`, or `path` without a domain.
    pub fn name(&self) -> String {
        join_name(&self.domain, &self.path)
    }

    /// Upstream `FamiliarName`.
    pub fn familiar_name(&self) -> String {
        let (domain, path) = familiarize(&self.domain, &self.path);
        join_name(domain, path)
    }

    /// Upstream `FamiliarString`.
    pub fn familiar_string(&self) -> String {
        let mut s = self.familiar_name();
        push_suffix(&mut s, self.tag(), self.digest());
        s
    }

    /// Upstream `WithTag`: sets the tag, keeping any digest.
    pub fn with_tag(&self, tag: &str) -> Result<Named, ReferenceError> {
        if !is_valid_tag(tag) {
            return Err(ReferenceError::InvalidTagFormat);
        }
        Ok(Named {
            tag: Some(tag.to_string()),
            ..self.clone()
        })
    }

    /// Upstream `WithDigest`: sets the digest (grammar check only), keeping any tag.
    pub fn with_digest(&self, digest: &str) -> Result<Named, ReferenceError> {
        if !ANCHORED_DIGEST.is_match(digest) {
            return Err(ReferenceError::InvalidDigestFormat);
        }
        Ok(Named {
            digest: Some(digest.to_string()),
            ..self.clone()
        })
    }
}

/// Upstream `String()`: `name[:tag][@digest]`.
impl fmt::Display for Named {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())?;
        write_suffix(f, self.tag(), self.digest())
    }
}

/// What upstream `ParseAnyReference` returns.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AnyReference {
    /// A named reference.
    Named(Named),
    /// A digest-only reference (`sha256:…`).
    Digest(String),
}

/// Upstream `String()`.
impl fmt::Display for AnyReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnyReference::Named(named) => named.fmt(f),
            AnyReference::Digest(digest) => f.write_str(digest),
        }
    }
}

/// Upstream `Parse`: grammar check without normalization (`test.com:5000` is repo + tag).
pub fn parse(s: &str) -> Result<Named, ReferenceError> {
    if s.is_empty() {
        return Err(ReferenceError::NameEmpty);
    }
    let Some(caps) = REFERENCE.captures(s) else {
        let lower = s.to_lowercase();
        if lower != s && REFERENCE.is_match(&lower) {
            return Err(ReferenceError::NameContainsUppercase);
        }
        return Err(ReferenceError::InvalidFormat);
    };
    let group = |i| caps.get(i).map_or("", |m| m.as_str());
    let (name, tag, digest) = (group(1), group(2), group(3));
    let (domain, path) = split_name(name).unwrap_or(("", name));
    if path.len() > REPOSITORY_NAME_TOTAL_LENGTH_MAX {
        return Err(ReferenceError::NameTooLong);
    }
    if !digest.is_empty() {
        validate_digest_with(digest, REFERENCE_ALGORITHMS)?;
    }
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    Ok(Named {
        domain: domain.to_string(),
        path: path.to_string(),
        tag: non_empty(tag),
        digest: non_empty(digest),
    })
}

/// Upstream `ParseNormalizedNamed`: familiar names become canonical (`ubuntu` →
/// `docker.io/library/ubuntu`); uppercase in the path is an error naming it.
pub fn parse_normalized_named(s: &str) -> Result<Named, ReferenceError> {
    if is_identifier(s) {
        return Err(ReferenceError::HexIdentifierName(s.to_string()));
    }
    let (domain, remainder) = split_docker_domain(s);
    let remote = remainder.split(':').next().unwrap_or_default();
    if remote.to_lowercase() != remote {
        return Err(ReferenceError::UppercaseRepository(remote.to_string()));
    }
    parse(&format!("{domain}/{remainder}"))
}

/// Upstream `ParseNamed`: like [`parse_normalized_named`] but the input must already be canonical.
pub fn parse_named(s: &str) -> Result<Named, ReferenceError> {
    let named = parse_normalized_named(s)?;
    if named.to_string() != s {
        return Err(ReferenceError::NameNotCanonical);
    }
    Ok(named)
}

/// Upstream `ParseAnyReference`: a 64-hex identifier or a digest becomes a digest-only reference,
/// anything else is parsed as a normalized name.
pub fn parse_any_reference(s: &str) -> Result<AnyReference, ReferenceError> {
    if is_identifier(s) {
        return Ok(AnyReference::Digest(format!("sha256:{s}")));
    }
    if validate_digest_with(s, REFERENCE_ALGORITHMS).is_ok() {
        return Ok(AnyReference::Digest(s.to_string()));
    }
    parse_normalized_named(s).map(AnyReference::Named)
}

/// Upstream `ParseDockerRef`: normalized, `:latest` added when neither tag nor digest is given,
/// and the tag dropped when both are given.
pub fn parse_docker_ref(s: &str) -> Result<Named, ReferenceError> {
    let named = parse_normalized_named(s)?;
    match (named.tag(), named.digest()) {
        (Some(_), Some(digest)) => with_name(&named.name())?.with_digest(digest),
        (None, None) => named.with_tag(DEFAULT_TAG),
        _ => Ok(named),
    }
}

/// Upstream `WithName`: a bare name (no tag/digest, no normalization).
pub fn with_name(name: &str) -> Result<Named, ReferenceError> {
    let (domain, path) = split_name(name).ok_or(ReferenceError::InvalidFormat)?;
    if path.len() > REPOSITORY_NAME_TOTAL_LENGTH_MAX {
        return Err(ReferenceError::NameTooLong);
    }
    Ok(Named {
        domain: domain.to_string(),
        path: path.to_string(),
        tag: None,
        digest: None,
    })
}

/// Upstream `FamiliarMatch`: Go `path.Match` of `pattern` against the familiar string, then
/// against the familiar name.
pub fn familiar_match(pattern: &str, reference: &AnyReference) -> Result<bool, ReferenceError> {
    match reference {
        AnyReference::Digest(digest) => path_match(pattern.as_bytes(), digest.as_bytes()),
        AnyReference::Named(named) => {
            let matched = path_match(pattern.as_bytes(), named.familiar_string().as_bytes())?;
            Ok(matched || path_match(pattern.as_bytes(), named.familiar_name().as_bytes())?)
        }
    }
}

/// Upstream `DomainRegexp`, anchored: a registry host with optional port.
pub fn is_domain(s: &str) -> bool {
    ANCHORED_DOMAIN.is_match(s)
}

/// Upstream `anchoredNameRegexp`: splits a bare name into `(domain, path)`; domain is `""`
/// when absent. `None` when `s` is not a valid name.
pub fn split_name(s: &str) -> Option<(&str, &str)> {
    let caps = ANCHORED_NAME.captures(s)?;
    let group = |i| caps.get(i).map_or("", |m| m.as_str());
    Some((group(1), group(2)))
}

/// Upstream `ReferenceRegexp`: `(name, tag, digest)`, each `""` when absent.
pub fn split_reference(s: &str) -> Option<(&str, &str, &str)> {
    let caps = REFERENCE.captures(s)?;
    let group = |i| caps.get(i).map_or("", |m| m.as_str());
    Some((group(1), group(2), group(3)))
}

/// Upstream `anchoredIdentifierRegexp`: exactly 64 lowercase hex characters.
pub fn is_identifier(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(is_lower_hex)
}

/// Upstream tag grammar `[\w][\w.-]{0,127}` (ASCII `\w`, as in Go).
pub fn is_valid_tag(s: &str) -> bool {
    let word = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
    match s.as_bytes().split_first() {
        Some((first, rest)) => {
            word(first)
                && rest.len() <= 127
                && rest.iter().all(|b| word(b) || *b == b'.' || *b == b'-')
        }
        None => false,
    }
}

/// go-digest `Digest.Validate` with sha256/sha384/sha512 available: `sha256` needs exactly 64
/// lowercase hex, `sha512` 128.
pub fn is_valid_digest(s: &str) -> bool {
    validate_digest(s).is_ok()
}

/// Like [`is_valid_digest`], with go-digest's error.
pub fn validate_digest(s: &str) -> Result<(), ReferenceError> {
    validate_digest_with(s, GO_DIGEST_ALGORITHMS)
}

const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const OFFICIAL_REPO_PREFIX: &str = "library/";
const DEFAULT_TAG: &str = "latest";

/// go-digest's algorithms and hex lengths.
const GO_DIGEST_ALGORITHMS: &[(&str, usize)] = &[("sha256", 64), ("sha384", 96), ("sha512", 128)];
/// Algorithms accepted when parsing references: upstream's test binary registers only
/// `crypto/sha256`, and its tests assert `sha512` digests are "unsupported".
const REFERENCE_ALGORITHMS: &[(&str, usize)] = &[("sha256", 64)];

// Grammar pieces, verbatim from upstream regexp.go except `\w`, spelled out because the
// regex crate's `\w` is Unicode-aware and Go's is ASCII.
const ALPHANUMERIC: &str = "[a-z0-9]+";
const SEPARATOR: &str = "(?:[._]|__|[-]+)";
const DOMAIN_NAME_COMPONENT: &str = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const OPTIONAL_PORT: &str = "(?::[0-9]+)?";
const TAG: &str = "[0-9A-Za-z_][0-9A-Za-z_.-]{0,127}";
const DIGEST: &str = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[[:xdigit:]]{32,}";
const IPV6_ADDRESS: &str = r"\[(?:[a-fA-F0-9:]+)\]";

static ANCHORED_DOMAIN: LazyLock<Regex> =
    LazyLock::new(|| compile(&format!("^{}$", domain_and_port())));
static ANCHORED_NAME: LazyLock<Regex> = LazyLock::new(|| {
    compile(&format!(
        "^(?:({})/)?({})$",
        domain_and_port(),
        remote_name()
    ))
});
static REFERENCE: LazyLock<Regex> = LazyLock::new(|| {
    let name = format!("(?:{}/)?{}", domain_and_port(), remote_name());
    compile(&format!("^({name})(?::({TAG}))?(?:@({DIGEST}))?$"))
});
static ANCHORED_DIGEST: LazyLock<Regex> = LazyLock::new(|| compile(&format!("^{DIGEST}$")));
/// go-digest `DigestRegexpAnchored`, used to tell "unsupported" from "malformed".
static GO_DIGEST_ANCHORED: LazyLock<Regex> =
    LazyLock::new(|| compile("^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$"));

fn compile(pattern: &str) -> Regex {
    Regex::new(pattern).expect("impossible: constant reference grammar regexp compiles")
}

fn domain_and_port() -> String {
    let name = format!("{DOMAIN_NAME_COMPONENT}(?:\\.{DOMAIN_NAME_COMPONENT})*");
    format!("(?:{name}|{IPV6_ADDRESS}){OPTIONAL_PORT}")
}

fn remote_name() -> String {
    let component = format!("{ALPHANUMERIC}(?:{SEPARATOR}{ALPHANUMERIC})*");
    format!("{component}(?:/{component})*")
}

/// Upstream `splitDockerDomain`: `(domain, remainder)` with Docker Hub defaults applied.
fn split_docker_domain(name: &str) -> (&str, String) {
    let (domain, remainder) = match name.split_once('/') {
        None => return (DEFAULT_DOMAIN, format!("{OFFICIAL_REPO_PREFIX}{name}")),
        Some((LEGACY_DEFAULT_DOMAIN, rest)) => (DEFAULT_DOMAIN, rest),
        Some((first, rest)) if looks_like_domain(first) => (first, rest),
        Some(_) => (DEFAULT_DOMAIN, name),
    };
    if domain == DEFAULT_DOMAIN && !remainder.contains('/') {
        return (domain, format!("{OFFICIAL_REPO_PREFIX}{remainder}"));
    }
    (domain, remainder.to_string())
}

/// Upstream's test for "the first component is a registry": `localhost`, contains `.` or `:`,
/// or has uppercase (namespaces cannot).
fn looks_like_domain(first: &str) -> bool {
    first == "localhost" || first.contains(['.', ':']) || first.to_lowercase() != first
}

/// Upstream `familiarizeName`: strips `docker.io` and a single-level `library/`.
fn familiarize<'a>(domain: &'a str, path: &'a str) -> (&'a str, &'a str) {
    if domain != DEFAULT_DOMAIN {
        return (domain, path);
    }
    match path.strip_prefix(OFFICIAL_REPO_PREFIX) {
        Some(rest) if !rest.contains('/') => ("", rest),
        _ => ("", path),
    }
}

fn join_name(domain: &str, path: &str) -> String {
    if domain.is_empty() {
        path.to_string()
    } else {
        format!("{domain}/{path}")
    }
}

fn push_suffix(s: &mut String, tag: Option<&str>, digest: Option<&str>) {
    if let Some(tag) = tag {
        s.push(':');
        s.push_str(tag);
    }
    if let Some(digest) = digest {
        s.push('@');
        s.push_str(digest);
    }
}

fn write_suffix(
    f: &mut fmt::Formatter<'_>,
    tag: Option<&str>,
    digest: Option<&str>,
) -> fmt::Result {
    let mut s = String::new();
    push_suffix(&mut s, tag, digest);
    f.write_str(&s)
}

fn is_lower_hex(b: u8) -> bool {
    matches!(b, b'0'..=b'9' | b'a'..=b'f')
}

/// go-digest `Digest.Validate` against the given available algorithms.
fn validate_digest_with(s: &str, algorithms: &[(&str, usize)]) -> Result<(), ReferenceError> {
    let (algorithm, encoded) = s
        .split_once(':')
        .filter(|(a, e)| !a.is_empty() && !e.is_empty())
        .ok_or(ReferenceError::DigestInvalidFormat)?;
    let Some(&(_, len)) = algorithms.iter().find(|(a, _)| *a == algorithm) else {
        return Err(if GO_DIGEST_ANCHORED.is_match(s) {
            ReferenceError::DigestUnsupported
        } else {
            ReferenceError::DigestInvalidFormat
        });
    };
    if encoded.len() != len {
        return Err(ReferenceError::DigestInvalidLength);
    }
    if !encoded.bytes().all(is_lower_hex) {
        return Err(ReferenceError::DigestInvalidFormat);
    }
    Ok(())
}

// Go `path.Match`, ported over bytes (Go slices strings by byte; so do we, without panicking).

fn path_match(mut pattern: &[u8], mut name: &[u8]) -> Result<bool, ReferenceError> {
    'pattern: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            // A trailing `*` matches the rest unless it crosses a `/`.
            return Ok(!name.contains(&b'/'));
        }
        if let Some(t) = match_chunk(chunk, name)? {
            // The last chunk must consume the whole name.
            if t.is_empty() || !pattern.is_empty() {
                name = t;
                continue;
            }
        }
        if star {
            // Let the star swallow more bytes, but never a `/`.
            let mut i = 0;
            while i < name.len() && name[i] != b'/' {
                if let Some(t) = match_chunk(chunk, &name[i + 1..])? {
                    if pattern.is_empty() && !t.is_empty() {
                        i += 1;
                        continue;
                    }
                    name = t;
                    continue 'pattern;
                }
                i += 1;
            }
        }
        // No match; still report a malformed remainder of the pattern, as Go does.
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            match_chunk(chunk, b"")?;
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

fn scan_chunk(mut pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut star = false;
    while let [b'*', rest @ ..] = pattern {
        pattern = rest;
        star = true;
    }
    let (mut in_range, mut i) = (false, 0);
    while i < pattern.len() {
        match pattern[i] {
            b'\\' if i + 1 < pattern.len() => i += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => break,
            _ => {}
        }
        i += 1;
    }
    (star, &pattern[..i], &pattern[i..])
}

/// Matches one star-free chunk at the start of `s`; `Some(rest)` on success. Keeps scanning
/// after a failure so malformed patterns are always reported.
fn match_chunk<'a>(mut chunk: &[u8], mut s: &'a [u8]) -> Result<Option<&'a [u8]>, ReferenceError> {
    let mut failed = false;
    while let Some(&c) = chunk.first() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match c {
            b'[' => {
                let mut r = '\0';
                if !failed {
                    let (ch, n, _) = decode_rune(s);
                    r = ch;
                    s = &s[n..];
                }
                chunk = &chunk[1..];
                let negated = chunk.first() == Some(&b'^');
                if negated {
                    chunk = &chunk[1..];
                }
                let (mut matched, mut ranges) = (false, 0);
                loop {
                    if chunk.first() == Some(&b']') && ranges > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = get_esc(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    if let [b'-', rest @ ..] = chunk {
                        (hi, chunk) = get_esc(rest)?;
                    }
                    matched |= lo <= r && r <= hi;
                    ranges += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            b'?' => {
                if !failed {
                    failed = s.first() == Some(&b'/');
                    s = &s[decode_rune(s).1..];
                }
                chunk = &chunk[1..];
            }
            _ => {
                if c == b'\\' {
                    chunk = &chunk[1..];
                }
                let Some(&literal) = chunk.first() else {
                    return Err(ReferenceError::BadPattern);
                };
                if !failed {
                    failed = s.first() != Some(&literal);
                    s = s.get(1..).unwrap_or_default();
                }
                chunk = &chunk[1..];
            }
        }
    }
    Ok((!failed).then_some(s))
}

/// One (possibly escaped) character of a `[...]` class, and the rest of the chunk.
fn get_esc(chunk: &[u8]) -> Result<(char, &[u8]), ReferenceError> {
    let chunk = match chunk {
        [] | [b'-' | b']', ..] | [b'\\'] => return Err(ReferenceError::BadPattern),
        [b'\\', rest @ ..] => rest,
        _ => chunk,
    };
    let (r, n, valid) = decode_rune(chunk);
    let rest = &chunk[n..];
    if !valid || rest.is_empty() {
        return Err(ReferenceError::BadPattern);
    }
    Ok((r, rest))
}

/// Go `utf8.DecodeRuneInString`: `(rune, width, valid)`; invalid input is U+FFFD of width 1.
fn decode_rune(b: &[u8]) -> (char, usize, bool) {
    let width = match b.first() {
        None => return (char::REPLACEMENT_CHARACTER, 0, false),
        Some(0x00..=0x7f) => 1,
        Some(0xf0..) => 4,
        Some(0xe0..) => 3,
        Some(_) => 2,
    };
    b.get(..width)
        .and_then(|p| std::str::from_utf8(p).ok())
        .and_then(|p| p.chars().next())
        .map_or((char::REPLACEMENT_CHARACTER, 1, false), |c| {
            (c, width, true)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX64: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

    #[test]
    fn familiar_name_is_docker_hub_library() {
        let short = Reference::parse("nginx").expect("valid");
        let long = Reference::parse("docker.io/library/nginx").expect("valid");
        assert_eq!(short.repository(), long.repository());
        assert_eq!(short.repository().to_string(), "docker.io/library/nginx");
        assert_eq!(short.normalized(), "docker.io/library/nginx");
        assert_eq!(long.familiar(), "nginx");
        assert_eq!(short.domain_as_written(), None);
        assert_eq!(long.domain_as_written(), Some("docker.io"));
        let legacy = Reference::parse("index.docker.io/nginx:1").expect("valid");
        assert_eq!(legacy.repository(), short.repository());
        assert_eq!(legacy.normalized(), "docker.io/library/nginx:1");
    }

    #[test]
    fn registry_host_is_case_insensitive() {
        let upper = Reference::parse("GHCR.io/acme/x:1").expect("valid");
        let lower = Reference::parse("ghcr.io/acme/x").expect("valid");
        assert_eq!(upper.repository(), lower.repository());
        assert_eq!(upper.repository().domain(), "ghcr.io");
        // Upstream keeps the spelling in its own strings.
        assert_eq!(upper.normalized(), "GHCR.io/acme/x:1");
        let hub = Repository::parse("DOCKER.IO/nginx").expect("valid");
        assert_eq!(hub, Repository::parse("nginx").expect("valid"));
        assert_eq!(hub.familiar(), "nginx");
    }

    #[test]
    fn localhost_with_port_is_a_domain() {
        let r = Reference::parse("localhost:5000/x:2").expect("valid");
        assert_eq!(r.repository().domain(), "localhost:5000");
        assert_eq!(r.repository().path(), "x");
        assert_eq!(r.tag(), Some("2"));
        assert_eq!(r.familiar(), "localhost:5000/x:2");
        // Without a slash, "localhost:5000" is Docker Hub's library/localhost, tag 5000.
        let bare = Reference::parse("localhost:5000").expect("valid");
        assert_eq!(bare.normalized(), "docker.io/library/localhost:5000");
    }

    #[test]
    fn digest_errors() {
        let short = format!("nginx@sha256:{}", &HEX64[..40]);
        assert_eq!(
            Reference::parse(&short),
            Err(ReferenceError::DigestInvalidLength)
        );
        let upper = format!("nginx@sha256:{}", HEX64.to_uppercase());
        assert_eq!(
            Reference::parse(&upper),
            Err(ReferenceError::DigestInvalidFormat)
        );
        assert!(is_valid_digest(&format!("sha256:{HEX64}")));
        assert!(is_valid_digest(&format!("sha512:{HEX64}{HEX64}")));
        assert!(!is_valid_digest(&format!("sha512:{HEX64}")));
        assert_eq!(
            validate_digest("sha256"),
            Err(ReferenceError::DigestInvalidFormat)
        );
        assert_eq!(
            validate_digest(&format!("md5:{HEX64}")),
            Err(ReferenceError::DigestUnsupported)
        );
        let both = Reference::parse(&format!("ghcr.io/a/b:t@sha256:{HEX64}")).expect("valid");
        assert_eq!(
            (both.tag(), both.digest()),
            (Some("t"), Some(&*format!("sha256:{HEX64}")))
        );
    }

    #[test]
    fn uppercase_path_is_named_in_the_error() {
        assert_eq!(
            Reference::parse("library/Uppercase:1").map_err(|e| e.to_string()),
            Err(
                "invalid reference format: repository name (library/Uppercase) must be lowercase"
                    .into()
            )
        );
    }

    #[test]
    fn tag_length_limit() {
        assert!(is_valid_tag(&"a".repeat(128)));
        assert!(!is_valid_tag(&"a".repeat(129)));
        assert!(!is_valid_tag("") && !is_valid_tag("-x") && !is_valid_tag(".x"));
        assert!(is_valid_tag("_x") && is_valid_tag("V1.2-rc_3"));
        assert_eq!(
            Reference::parse(&format!("nginx:{}", "a".repeat(129))),
            Err(ReferenceError::InvalidFormat)
        );
    }

    #[test]
    fn name_as_written_keeps_spelling() {
        let input = format!("Registry.Example.com:443/team/app:v1@sha256:{HEX64}");
        let r = Reference::parse(&input).expect("valid");
        assert_eq!(r.name_as_written(), "Registry.Example.com:443/team/app");
        assert_eq!(r.domain_as_written(), Some("Registry.Example.com:443"));
        assert_eq!(r.path_as_written(), "team/app");
        assert_eq!(r.to_string(), input);
        assert_eq!(
            r.repository().to_string(),
            "registry.example.com:443/team/app"
        );
        let hub = Reference::parse("library/nginx:1").expect("valid");
        assert_eq!(
            (hub.name_as_written(), hub.path_as_written()),
            ("library/nginx", "library/nginx")
        );
    }

    #[test]
    fn repository_parse_rejects_tags() {
        assert!(matches!(
            Repository::parse("nginx:1"),
            Err(ReferenceError::NotARepository(_))
        ));
        assert_eq!(
            Repository::parse("ghcr.io/a/b").expect("valid").familiar(),
            "ghcr.io/a/b"
        );
    }

    #[test]
    fn public_functions_never_panic() {
        const ALPHABET: &[&str] = &[
            "a",
            "Z",
            "0",
            "f",
            "/",
            ":",
            "@",
            ".",
            "-",
            "_",
            "[",
            "]",
            "*",
            "?",
            "\\",
            "^",
            "é",
            "sha256",
            "docker.io",
            "localhost",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..2_000 {
            let mut s = String::new();
            for _ in 0..(seed % 12) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                s.push_str(ALPHABET[(seed % ALPHABET.len() as u64) as usize]);
            }
            if let Ok(r) = Reference::parse(&s) {
                let _ = (
                    r.repository().familiar(),
                    r.domain_as_written(),
                    r.path_as_written(),
                );
                assert_eq!(r.to_string(), s);
            }
            let _ = (
                parse(&s),
                parse_named(&s),
                parse_docker_ref(&s),
                Repository::parse(&s),
            );
            let _ = (
                with_name(&s),
                is_valid_digest(&s),
                split_reference(&s),
                is_domain(&s),
            );
            if let Ok(any) = parse_any_reference("a/b:c") {
                let _ = familiar_match(&s, &any);
            }
            let _ = kustomize::split(&s);
            let _ = kustomize::apply_images_entry(
                &s,
                &kustomize::ImagesEntry {
                    name: s.clone(),
                    ..Default::default()
                },
            );
        }
    }

    #[test]
    fn path_match_never_panics_on_odd_bytes() {
        for pattern in ["*", "[", "[^", "\\", "é?", "[é-ü]*", "a[", "*[-]"] {
            for name in ["", "é", "aé/b", "[]"] {
                let _ = path_match(pattern.as_bytes(), name.as_bytes());
            }
        }
        assert_eq!(
            path_match(b"[\xc3-\xc4]", "é".as_bytes()),
            Err(ReferenceError::BadPattern)
        );
        assert_eq!(path_match("?".as_bytes(), "é".as_bytes()), Ok(true));
    }
}

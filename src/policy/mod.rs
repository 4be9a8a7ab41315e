//! Tag selection: which tag a policy picks from a list of tags, and why, compatible with Flux's
//! image-reflector-controller and Argo CD Image Updater (DESIGN.md §5).
//!
//! [`Policy::parse`] reads a policy spec (`semver:RANGE`, `alphabetical[:asc|desc]`,
//! `numerical[:asc|desc]`, `newest-build`, `digest[:TAG]`); [`Policy::from_flux`] reads a Flux
//! `ImagePolicy` spec ([`flux`]), [`Policy::from_argocd_image`] Argo CD Image Updater's
//! annotations ([`argocd`]), and [`Policy::default_for`] gives `sync`'s default for a current
//! tag ([`track`]). [`TagFilter`] says which tags the policy sees and what it sees of them;
//! [`select`] returns a [`Selection`] that explains every tag: which step dropped it, the
//! ordering of the rest, the winner, and [`Warning`]s about configurations that probably do not
//! do what the user meant (each with a stable [`WarningCode`]).
//!
//! # One ordering
//!
//! [`Policy::compare`]`(current, new)` is each policy's ordering, direction and parse mode
//! included: `Greater` means the policy prefers `new`. `select` ranks through the same
//! comparison, and the no-downgrade guard refuses exactly what it calls `Less`, so the two can
//! never disagree. `newest-build` and `digest` have no order of their own (`None`).
//!
//! # Tie-breaking
//!
//! `select` is deterministic: the result depends only on the policy, the filter and the tag
//! list *in the order given*. Where the policy finds two kept tags equal, position decides, as
//! in Flux's policies, except for newest-build:
//! - **semver**, equal precedence (`v1.2.3` vs `1.2.3`, `1.2.3+a` vs `1.2.3+b`, and under
//!   [`SemverParse::Lenient`] `1.11` vs `1.11.0`): the first in the list wins (Flux keeps the
//!   first of equals).
//! - **numerical**, equal values (`1`, `01`, `1.0`): the last in the list wins (Flux keeps the
//!   last of equals).
//! - **extract collisions**: tags with equal extracted values collapse onto the last in the
//!   list (Flux's map); the others are dropped as [`DropReason::Superseded`].
//! - **alphabetical**: values are unique after extraction, so there are no ties.
//! - **newest-build**, equal build times: the byte-wise greatest tag wins (Argo CD's rule).
//!
//! Callers should pass tags in [`flux_scan_order`] (byte-wise descending, how Flux's
//! ImageRepository stores them and feeds its policies). Then the rules above become independent
//! of the registry's listing order and agree with both tools: semver ties go to the byte-wise
//! greatest tag (Flux's controller and Argo CD both pick it), numerical ties and extract
//! collisions to the byte-wise smallest (as Flux's controller does; Argo CD has neither).
//!
//! # Where Flux or Argo CD behave by accident
//!
//! Selections match Flux and Argo CD (the shared oracles check it). Where their behaviour is
//! a quirk rather than a rule, the rule here is documented and the quirk is warned about:
//! - Flux with `filterTags` iterates a Go map, so which of two equal versions wins is random;
//!   here the first in the list wins (with [`flux_scan_order`], the byte-wise greatest), and
//!   [`WarningCode::EqualPrecedence`] fires.
//! - Flux reads `NaN` as a number that orders nothing, so its fold picks whichever value
//!   follows it in the list; this is reproduced, [`Policy::compare`] orders nothing with it,
//!   and [`WarningCode::NotANumberValue`] fires.
//! - Flux's numerical values are `float64`: `9007199254740993` ties with `9007199254740992`
//!   (reproduced).
//! - The default exclusions add cosign `.att` and `.sbom` to Flux's `^.*\.sig$`
//!   ([`DEFAULT_EXCLUSIONS`]); [`Policy::from_flux`] uses Flux's exact default.
//! - Where Argo CD silently matches nothing (an unusable `allow-tags`, an invalid regexp) or
//!   ignores nothing (an invalid glob), this module returns an error.
//!
//! # Digest
//!
//! `digest:TAG` follows one mutable tag (`latest`, `main`): it keeps only `TAG`, which must
//! exist and pass the filters; the caller then pins that tag's *index* digest. A bare `digest`
//! carries no tag; the caller sets it from the manifest ([`Policy::Digest`]) before calling
//! `select`, otherwise the selection fails with [`PolicyError::DigestNeedsTag`].
//!
//! This module does no I/O: registry listing, image-config fetching (build times) and digest
//! resolution belong to the caller. Platform checks are the caller's too; it records them with
//! [`Selection::drop_tag`] and [`DropReason::PlatformMissing`].

mod advice;
pub mod argocd;
pub mod filter;
pub mod flux;
pub mod order;
pub mod semver;
pub mod track;

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;

use serde::{Serialize, Serializer};

pub use filter::{DEFAULT_EXCLUSIONS, FilterVerdict, TagFilter};
pub use semver::{ConstraintError, Constraints, Version, VersionError};

/// How the semver policy reads tags as versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SemverParse {
    /// Flux (`fluxcd/pkg/version.ParseVersion`): exactly three dot-separated parts, optional
    /// lowercase `v`, leading zeros allowed. The default: floating tags such as `1` or `1.2`
    /// move, so they are not versions to pin.
    #[default]
    Strict,
    /// Argo CD Image Updater (Masterminds `NewVersion`): also `1` and `1.2` (read as `1.0.0`,
    /// `1.2.0`).
    Lenient,
}

impl SemverParse {
    /// Reads `value` as a version in this mode ([`Version::parse_flux`] or [`Version::parse`]).
    pub fn read(self, value: &str) -> Result<Version, VersionError> {
        match self {
            SemverParse::Strict => Version::parse_flux(value),
            SemverParse::Lenient => Version::parse(value),
        }
    }
}

/// Sort direction of the alphabetical and numerical policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Order {
    /// Selects the greatest (the default).
    #[default]
    Asc,
    /// Selects the smallest.
    Desc,
}

impl Order {
    /// Turns an ascending comparison into this direction's preference: unchanged for `Asc`,
    /// reversed for `Desc`.
    pub fn directed(self, ascending: Ordering) -> Ordering {
        match self {
            Order::Asc => ascending,
            Order::Desc => ascending.reverse(),
        }
    }
}

/// A tag-selection policy.
#[derive(Debug, Clone)]
pub enum Policy {
    /// Greatest version satisfying a Masterminds v3 range.
    Semver {
        /// The range.
        range: Constraints,
        /// How tags are read as versions.
        parse: SemverParse,
    },
    /// Byte-wise string order.
    Alphabetical {
        /// Direction.
        order: Order,
    },
    /// Tags read as Go `float64`; one unparseable tag fails the policy, as in Flux.
    Numerical {
        /// Direction.
        order: Order,
    },
    /// Newest image config `created` time, supplied by the caller.
    NewestBuild,
    /// Follows one mutable tag by digest; `None` until the caller names the tag.
    Digest {
        /// The tag to follow.
        tag: Option<String>,
    },
}

impl Policy {
    /// Parses a policy spec: `semver:RANGE`, `alphabetical`, `alphabetical:asc|desc`,
    /// `numerical`, `numerical:asc|desc`, `newest-build`, `digest` or `digest:TAG`. Names and
    /// orders are case-insensitive; semver uses [`SemverParse::Strict`].
    pub fn parse(spec: &str) -> Result<Policy, PolicyError> {
        let (kind, arg) = match spec.split_once(':') {
            Some((k, a)) => (k, Some(a)),
            None => (spec, None),
        };
        match kind.to_ascii_lowercase().as_str() {
            "semver" => {
                let range = arg.ok_or_else(|| PolicyError::MissingRange {
                    spec: spec.to_owned(),
                })?;
                Ok(Policy::Semver {
                    range: parse_range(range)?,
                    parse: SemverParse::Strict,
                })
            }
            "alphabetical" => Ok(Policy::Alphabetical {
                order: parse_order(spec, arg)?,
            }),
            "numerical" => Ok(Policy::Numerical {
                order: parse_order(spec, arg)?,
            }),
            "newest-build" if arg.is_none() => Ok(Policy::NewestBuild),
            "digest" => Ok(Policy::Digest {
                tag: arg.filter(|t| !t.is_empty()).map(str::to_owned),
            }),
            _ => Err(PolicyError::UnknownPolicy {
                spec: spec.to_owned(),
            }),
        }
    }

    /// The same policy with another semver tag-parsing mode (no effect on other policies).
    pub fn with_semver_parse(self, mode: SemverParse) -> Policy {
        match self {
            Policy::Semver { range, .. } => Policy::Semver { range, parse: mode },
            other => other,
        }
    }

    /// The policy's name: `semver`, `alphabetical`, `numerical`, `newest-build` or `digest`.
    pub fn name(&self) -> &'static str {
        match self {
            Policy::Semver { .. } => "semver",
            Policy::Alphabetical { .. } => "alphabetical",
            Policy::Numerical { .. } => "numerical",
            Policy::NewestBuild => "newest-build",
            Policy::Digest { .. } => "digest",
        }
    }

    /// How this policy ranks `new` against `current`, the two values it would see (tags, or
    /// their extracted values): **`Greater` means the policy prefers `new`** (moving to it is
    /// an upgrade), `Less` that it prefers `current` (a downgrade), `Equal` that it cannot tell
    /// them apart (`v1.2.3` and `1.2.3`; `1`, `01` and `1.0`).
    ///
    /// Only the ordering counts, never the semver range: `semver:^1` still says `3.0.0` is
    /// preferred to `2.0.0`. `None` when the policy cannot order the two: a value that does
    /// not read as a version (in the policy's [`SemverParse`] mode) or as a number (Go
    /// `ParseFloat`), a `NaN` (which orders nothing), or a policy whose order is not in the
    /// tags (`newest-build` needs build times, `digest` follows one tag).
    ///
    /// [`select`] ranks with the same comparison, so a winner is never `Less` than another
    /// kept candidate under `compare`.
    pub fn compare(&self, current: &str, new: &str) -> Option<Ordering> {
        let (current, new) = (self.key(current).ok()?, self.key(new).ok()?);
        self.prefer(&current, &new)
    }

    /// [`Policy::compare`] on the values `filter` gives the two tags (the extracted values
    /// when a template is set). `None` also when either tag does not pass the filter.
    pub fn compare_filtered(
        &self,
        filter: &TagFilter,
        current: &str,
        new: &str,
    ) -> Option<Ordering> {
        let (FilterVerdict::Kept(current), FilterVerdict::Kept(new)) =
            (filter.classify(current), filter.classify(new))
        else {
            return None;
        };
        self.compare(&current, &new)
    }

    /// The key this policy orders `value` by; the reason when it has none.
    fn key(&self, value: &str) -> Result<Key, String> {
        match self {
            Policy::Semver { parse, .. } => parse
                .read(value)
                .map(Key::Version)
                .map_err(|e| e.to_string()),
            Policy::Alphabetical { .. } => Ok(Key::Text(value.to_owned())),
            Policy::Numerical { .. } => order::go_parse_float(value)
                .map(Key::Number)
                .ok_or_else(|| format!("not a number: {value:?}")),
            Policy::NewestBuild | Policy::Digest { .. } => {
                Err(format!("{} has no order of its own", self.name()))
            }
        }
    }

    /// The one comparison every ordering goes through: `Greater` means the policy prefers
    /// `new` to `current`. `None` for keys of different kinds and for `NaN`.
    fn prefer(&self, current: &Key, new: &Key) -> Option<Ordering> {
        match (self, current, new) {
            (Policy::Semver { .. }, Key::Version(c), Key::Version(n)) => {
                Some(prefer_versions(c, n))
            }
            (Policy::Alphabetical { order }, Key::Text(c), Key::Text(n)) => {
                Some(prefer_text(*order, c, n))
            }
            (Policy::Numerical { order }, Key::Number(c), Key::Number(n)) => {
                prefer_numbers(*order, *c, *n)
            }
            _ => None,
        }
    }
}

// The three orderings. `Policy::compare` and the selectors both go through these, so the
// downgrade guard and the selection cannot disagree. `Greater` means `new` is preferred.

/// Masterminds precedence (build metadata ignored).
fn prefer_versions(current: &Version, new: &Version) -> Ordering {
    new.compare(current)
}

/// Byte-wise (Go `sort.StringSlice`), in the policy's direction.
fn prefer_text(order: Order, current: &str, new: &str) -> Ordering {
    order.directed(new.as_bytes().cmp(current.as_bytes()))
}

/// `float64` order in the policy's direction; `None` when either is `NaN`.
fn prefer_numbers(order: Order, current: f64, new: f64) -> Option<Ordering> {
    new.partial_cmp(&current).map(|o| order.directed(o))
}

/// A value as one policy reads it.
#[derive(Debug, Clone)]
enum Key {
    Version(Version),
    Text(String),
    Number(f64),
}

impl fmt::Display for Policy {
    /// The spec form (`semver:>=1.0.0`, `alphabetical:desc`, `digest:latest`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = |o: &Order| match o {
            Order::Asc => "asc",
            Order::Desc => "desc",
        };
        match self {
            Policy::Semver { range, .. } => write!(f, "semver:{}", range.source()),
            Policy::Alphabetical { order } => write!(f, "alphabetical:{}", dir(order)),
            Policy::Numerical { order } => write!(f, "numerical:{}", dir(order)),
            Policy::NewestBuild => f.write_str("newest-build"),
            Policy::Digest { tag: Some(t) } => write!(f, "digest:{t}"),
            Policy::Digest { tag: None } => f.write_str("digest"),
        }
    }
}

/// Errors from building a policy or filter, and reasons a selection has no winner.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyError {
    /// The spec names no known policy.
    #[error(
        "unknown policy {spec:?}: expected semver:RANGE, alphabetical[:asc|desc], numerical[:asc|desc], newest-build or digest[:TAG]"
    )]
    UnknownPolicy {
        /// The spec as given.
        spec: String,
    },
    /// `semver` without `:RANGE`.
    #[error("policy {spec:?} needs a range, e.g. semver:>=1.0.0")]
    MissingRange {
        /// The spec as given.
        spec: String,
    },
    /// The semver range does not parse.
    #[error("invalid semver range {range:?}: {source}")]
    InvalidRange {
        /// The range as given.
        range: String,
        /// Masterminds' reason.
        source: ConstraintError,
    },
    /// The order is neither `asc` nor `desc`.
    #[error("invalid order {order:?}: expected asc or desc")]
    InvalidOrder {
        /// The spec as given.
        spec: String,
        /// The order as given.
        order: String,
    },
    /// A filter, allow-tags or exclusion regex does not compile.
    #[error("invalid {role} regex {pattern:?}: {message}")]
    InvalidRegex {
        /// `filter`, `allow-tags` or `exclusion`.
        role: &'static str,
        /// The pattern as given.
        pattern: String,
        /// The compiler's reason.
        message: String,
    },
    /// An ignore-tags glob is malformed (Argo CD would silently ignore nothing with it).
    #[error("invalid glob {glob:?}: {message}")]
    InvalidGlob {
        /// The glob as given.
        glob: String,
        /// What is wrong.
        message: String,
    },
    /// An Argo CD allow-tags value that is neither `any` nor `regexp:…` (Argo CD would then
    /// match no tag at all).
    #[error("unsupported allow-tags {spec:?}: expected \"any\" or \"regexp:<pattern>\"")]
    UnsupportedAllowTags {
        /// The value as given.
        spec: String,
    },
    /// A field of a policy object (a Flux `ImagePolicy`, Argo CD annotations) is invalid.
    #[error("{field}: {source}")]
    InField {
        /// The field, as its object spells it (`spec.policy.semver.range`, `allow-tags`).
        field: String,
        /// What is wrong with it.
        source: Box<PolicyError>,
    },
    /// A Flux `ImagePolicy` sets none of `spec.policy.semver`, `alphabetical`, `numerical`
    /// (Flux: `given ImagePolicyChoice object is invalid`).
    #[error("set one of semver.range, alphabetical.order or numerical.order")]
    NoPolicyChoice,
    /// `digest` without the tag to follow.
    #[error("the digest policy needs the tag to follow: write digest:TAG")]
    DigestNeedsTag,
    /// Nothing passed the exclusions and the filter (Flux: `version list argument cannot be
    /// empty`).
    #[error("no tag passed the filters ({listed} tags listed)")]
    NoCandidates {
        /// How many tags were listed.
        listed: usize,
    },
    /// Tags passed the filters but none satisfies the policy (Flux: `unable to determine
    /// latest version from provided list`).
    #[error("no tag satisfies policy {policy}")]
    NoMatch {
        /// The policy, in spec form.
        policy: String,
    },
    /// The tag followed by a digest policy is not in the list (or was filtered out).
    #[error("tag {tag:?} is not among the listed tags that passed the filters")]
    TagNotFound {
        /// The tag.
        tag: String,
    },
    /// Every ranked tag the caller was allowed to check lacked a required platform, and more
    /// ranked tags remain.
    #[error(
        "the first {cap} ranked tags all lack a required platform; raise --max-candidates to try more"
    )]
    CandidateCapReached {
        /// How many ranked tags were tried.
        cap: usize,
    },
    /// Some values are not numbers, which fails Flux's whole numerical policy.
    #[error(
        "failed to parse invalid numeric value '{}'{}",
        .values.first().map_or("", String::as_str),
        more(.values.len())
    )]
    NotANumber {
        /// The values the policy saw (extracted when a template is set), in input order; never
        /// empty.
        values: Vec<String>,
    },
}

impl Serialize for PolicyError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Why a tag is not a candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", content = "detail", rename_all = "kebab-case")]
pub enum DropReason {
    /// An exclusion matched.
    Excluded {
        /// The exclusion as written.
        pattern: String,
    },
    /// The filter pattern did not match.
    FilterMismatch {
        /// The filter pattern.
        pattern: String,
    },
    /// Not on the current tag's track (the default policy of `sync`).
    OtherTrack {
        /// Which track it is on, or why it has none.
        detail: String,
    },
    /// A later tag has the same extracted value and replaced this one (Flux's map).
    Superseded {
        /// The tag that replaced it.
        by: String,
    },
    /// Not a version (semver) or not a number (numerical).
    Unparseable {
        /// Why.
        detail: String,
    },
    /// A version outside the range.
    OutsideRange {
        /// Masterminds' first reason (`"2.0.0" is greater than or equal to "2"`).
        detail: String,
    },
    /// A pre-release the range would accept but for the pre-release rule: no comparator of an
    /// AND-group it satisfies carries a pre-release.
    PreRelease,
    /// No build time is known (newest-build).
    NoBuildTime,
    /// Not the tag a digest policy follows.
    NotTracked {
        /// The followed tag.
        tracked: String,
    },
    /// The image lacks a required platform (recorded by the caller).
    PlatformMissing(String),
    /// Not looked at: the caller caps how many tags it checks against the
    /// registry (build times for newest-build), and this one fell outside.
    BeyondCandidateCap {
        /// The cap.
        cap: usize,
    },
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DropReason::Excluded { pattern } => write!(f, "excluded by {pattern:?}"),
            DropReason::FilterMismatch { pattern } => write!(f, "filter {pattern:?} did not match"),
            DropReason::OtherTrack { detail } => f.write_str(detail),
            DropReason::Superseded { by } => {
                write!(f, "same extracted value as the later tag {by:?}, which replaces it")
            }
            DropReason::Unparseable { detail } => f.write_str(detail),
            DropReason::OutsideRange { detail } => write!(f, "outside the range: {detail}"),
            DropReason::PreRelease => f.write_str(
                "pre-release, and no comparator of its AND-group of the range has one (add -0 to admit pre-releases, e.g. >=1.0.0-0)",
            ),
            DropReason::NoBuildTime => f.write_str("no build time known"),
            DropReason::NotTracked { tracked } => write!(f, "not the followed tag {tracked:?}"),
            DropReason::PlatformMissing(p) => write!(f, "platform {p} missing"),
            DropReason::BeyondCandidateCap { cap } => write!(
                f,
                "build time not fetched: beyond the first {cap} candidates (raise --max-candidates)"
            ),
        }
    }
}

/// What happened to a tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "why", rename_all = "kebab-case")]
pub enum Status {
    /// A candidate for the policy's ordering.
    Kept,
    /// Dropped, and why.
    Dropped(DropReason),
}

/// One listed tag and what the selection did with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    /// The tag as listed.
    pub tag: String,
    /// The value the policy saw, when an extract template is set.
    pub extracted: Option<String>,
    /// The ordering key as shown to users: the parsed version, the number, the build time or
    /// the string compared.
    pub key: Option<String>,
    /// Kept or dropped.
    pub status: Status,
}

impl Candidate {
    /// Returns true if and only if the tag is still a candidate.
    pub fn kept(&self) -> bool {
        self.status == Status::Kept
    }
}

/// The kind of a [`Warning`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WarningCode {
    /// `desc` over date- or time-stamp-like tags selects the oldest.
    DescSelectsOldest,
    /// Numerical policy over tags that are not numbers (Flux fails the whole policy).
    NotNumbers,
    /// The semver range matches nothing although versions exist.
    RangeMatchesNothing,
    /// Tags equal in precedence compete for the win; two tools could flip-flop.
    EqualPrecedence,
    /// A mutable tag such as `latest` is ignored by the semver policy.
    MutableTagIgnored,
    /// Tags built in the same second compete for the win.
    BuildTimeTie,
    /// `NaN` makes Flux's numerical choice depend on list position.
    NotANumberValue,
    /// The caller's cap on registry look-ups (`--max-candidates`) left tags unchecked.
    CandidateCap,
    /// The registry reports little rate-limit quota left (Docker Hub's `ratelimit-remaining`).
    RateLimitLow,
    /// Alphabetical order over digit runs of different widths selects `1.0.0-9` over
    /// `1.0.0-14`.
    NumbersComparedAsText,
    /// Numerical order over an extract that joins numbers of varying widths (`$date$n`).
    ConcatenatedNumbers,
    /// Lenient semver reads a tag without dots (`917005`) as `N.0.0`, above every dotted
    /// version.
    BareNumberWins,
    /// The filter pattern matches none of the tags it was tried on.
    FilterMatchesNothing,
    /// The extract template names a group the pattern does not define.
    ExtractGroupUndefined,
    /// An extract group captures nothing in some tags.
    EmptyExtract,
    /// No tag that passed the filters reads as a version.
    NoVersions,
}

impl WarningCode {
    /// The stable name, as shown after a warning and in JSON (`desc-selects-oldest`).
    pub fn as_str(self) -> &'static str {
        match self {
            WarningCode::DescSelectsOldest => "desc-selects-oldest",
            WarningCode::NotNumbers => "not-numbers",
            WarningCode::RangeMatchesNothing => "range-matches-nothing",
            WarningCode::EqualPrecedence => "equal-precedence",
            WarningCode::MutableTagIgnored => "mutable-tag-ignored",
            WarningCode::BuildTimeTie => "build-time-tie",
            WarningCode::NotANumberValue => "not-a-number-value",
            WarningCode::CandidateCap => "candidate-cap",
            WarningCode::RateLimitLow => "rate-limit-low",
            WarningCode::NumbersComparedAsText => "numbers-compared-as-text",
            WarningCode::ConcatenatedNumbers => "concatenated-numbers",
            WarningCode::BareNumberWins => "bare-number-wins",
            WarningCode::FilterMatchesNothing => "filter-matches-nothing",
            WarningCode::ExtractGroupUndefined => "extract-group-undefined",
            WarningCode::EmptyExtract => "empty-extract",
            WarningCode::NoVersions => "no-versions",
        }
    }

    /// Returns true if and only if the warning says the selected tag is
    /// probably not the one the policy's author meant (the oldest build, a
    /// number compared as text, values collapsed by an extract template, a
    /// choice made by list position), so a checker should not write it
    /// without being told to.
    pub fn questions_selection(self) -> bool {
        matches!(
            self,
            WarningCode::DescSelectsOldest
                | WarningCode::NumbersComparedAsText
                | WarningCode::ConcatenatedNumbers
                | WarningCode::BareNumberWins
                | WarningCode::ExtractGroupUndefined
                | WarningCode::EmptyExtract
                | WarningCode::NotANumberValue
        )
    }
}

impl fmt::Display for WarningCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A "probably not what you meant" note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// What kind.
    pub code: WarningCode,
    /// For people.
    pub message: String,
}

impl fmt::Display for Warning {
    /// The message, then the code in brackets: `… use order asc [desc-selects-oldest]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}]", self.message, self.code)
    }
}

/// The explained result of [`select`].
///
/// Exactly one of `winner` and `failure` is `Some`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Selection {
    /// The policy in spec form.
    pub policy: String,
    /// Every listed tag, in input order.
    pub candidates: Vec<Candidate>,
    /// Indices into `candidates` of the kept tags, best first (for numerical policies that
    /// failed, the order the parseable tags would have had).
    pub ranking: Vec<usize>,
    /// The selected tag, as listed.
    pub winner: Option<String>,
    /// Why there is no winner.
    pub failure: Option<PolicyError>,
    /// Notes about configurations that probably do not do what the user meant.
    pub warnings: Vec<Warning>,
}

impl Selection {
    /// Drops a kept tag for a reason found after selection (e.g.
    /// [`DropReason::PlatformMissing`]); if it was the winner, the next kept tag in the
    /// ranking wins, or the selection fails with [`PolicyError::NoMatch`].
    pub fn drop_tag(&mut self, tag: &str, reason: DropReason) {
        for c in &mut self.candidates {
            if c.tag == tag && c.kept() {
                c.status = Status::Dropped(reason.clone());
            }
        }
        let candidates = &self.candidates;
        self.ranking
            .retain(|&i| candidates.get(i).is_some_and(Candidate::kept));
        self.settle();
    }

    /// Adds a warning found outside the policy (by the caller that talks to the registry).
    pub fn add_warning(&mut self, code: WarningCode, message: String) {
        warn(self, code, message);
    }

    /// Ends the selection without a winner, for a reason found after selection.
    pub fn fail(&mut self, reason: PolicyError) {
        self.failure = Some(reason);
        self.settle();
    }

    /// Restores the invariant that exactly one of `winner` and `failure` is set: a failure
    /// clears the winner; otherwise the first of the ranking wins, and an empty ranking fails
    /// with [`PolicyError::NoMatch`]. The only place that decides the winner.
    fn settle(&mut self) {
        if self.failure.is_some() {
            self.winner = None;
            return;
        }
        self.winner = self
            .ranking
            .first()
            .and_then(|&i| self.candidates.get(i))
            .map(|c| c.tag.clone());
        if self.winner.is_none() {
            self.failure = Some(PolicyError::NoMatch {
                policy: self.policy.clone(),
            });
        }
    }
}

/// Looks up a listed tag's image config `created` time, in Unix seconds.
pub type BuildTimes<'a> = &'a dyn Fn(&str) -> Option<i64>;

/// Selects a tag from `tags` (in the order they were listed) with `policy` after `filter`, and
/// explains every step. `build_times` gives each listed tag's image `created` time in Unix
/// seconds, for [`Policy::NewestBuild`]; other policies ignore it.
pub fn select(
    policy: &Policy,
    filter: &TagFilter,
    tags: &[String],
    build_times: Option<BuildTimes<'_>>,
) -> Selection {
    let mut sel = Selection {
        policy: policy.to_string(),
        candidates: Vec::with_capacity(tags.len()),
        ranking: Vec::new(),
        winner: None,
        failure: None,
        warnings: Vec::new(),
    };
    // Filter, then collapse equal extracted values onto the later tag, like Flux's map.
    let mut by_value: HashMap<String, usize> = HashMap::new();
    for (i, tag) in tags.iter().enumerate() {
        let mut c = Candidate {
            tag: tag.clone(),
            extracted: None,
            key: None,
            status: Status::Kept,
        };
        match filter.classify(tag) {
            FilterVerdict::Excluded(pattern) => {
                c.status = Status::Dropped(DropReason::Excluded { pattern });
            }
            FilterVerdict::Mismatch => {
                let pattern = filter.pattern().unwrap_or_default().to_owned();
                c.status = Status::Dropped(DropReason::FilterMismatch { pattern });
            }
            FilterVerdict::OtherTrack(detail) => {
                c.status = Status::Dropped(DropReason::OtherTrack { detail });
            }
            FilterVerdict::Kept(value) => {
                if let Some(j) = by_value.insert(value.clone(), i) {
                    sel.candidates[j].status =
                        Status::Dropped(DropReason::Superseded { by: tag.clone() });
                }
                if filter.extract().is_some() || filter.track().is_some() {
                    c.extracted = Some(value);
                }
            }
        }
        sel.candidates.push(c);
    }
    advice::filter_matches_nothing(&mut sel, filter);
    advice::extract_problems(&mut sel, filter);
    let survivors: Vec<usize> = (0..sel.candidates.len())
        .filter(|&i| sel.candidates[i].kept())
        .collect();
    if survivors.is_empty() {
        sel.failure = Some(PolicyError::NoCandidates { listed: tags.len() });
        return sel;
    }
    match policy {
        Policy::Semver { range, parse } => select_semver(&mut sel, &survivors, range, *parse),
        Policy::Alphabetical { order } => {
            select_alphabetical(&mut sel, &survivors, *order);
            advice::numbers_compared_as_text(&mut sel, filter, *order);
            advice::desc_selects_oldest(&mut sel, *order);
        }
        Policy::Numerical { order } => {
            select_numerical(&mut sel, &survivors, *order);
            if sel.failure.is_none() {
                advice::concatenated_numbers(&mut sel, filter, *order);
                advice::desc_selects_oldest(&mut sel, *order);
            }
        }
        Policy::NewestBuild => select_newest_build(&mut sel, &survivors, build_times),
        Policy::Digest { tag } => select_digest(&mut sel, &survivors, tag.as_deref()),
    }
    sel.settle();
    sel
}

/// Tags in the order Flux's ImageRepository stores them (byte-wise descending), which is the
/// order its policies see when no filter is set. Passing this to [`select`] reproduces the
/// controller's tie-breaks exactly.
pub fn flux_scan_order(tags: &[String]) -> Vec<String> {
    let mut v = tags.to_vec();
    v.sort_by(|a, b| b.as_bytes().cmp(a.as_bytes()));
    v
}

// ---------------------------------------------------------------------------------------------
// Private helpers.

fn more(n: usize) -> String {
    if n > 1 {
        format!(" (and {} more)", n - 1)
    } else {
        String::new()
    }
}

fn parse_range(range: &str) -> Result<Constraints, PolicyError> {
    Constraints::parse(range).map_err(|source| PolicyError::InvalidRange {
        range: range.to_owned(),
        source,
    })
}

fn parse_order(spec: &str, arg: Option<&str>) -> Result<Order, PolicyError> {
    match arg.map(str::to_ascii_uppercase).as_deref() {
        None | Some("" | "ASC") => Ok(Order::Asc),
        Some("DESC") => Ok(Order::Desc),
        Some(_) => Err(PolicyError::InvalidOrder {
            spec: spec.to_owned(),
            order: arg.unwrap_or_default().to_owned(),
        }),
    }
}

/// The value the policy sees for candidate `i`.
fn value(sel: &Selection, i: usize) -> &str {
    let c = &sel.candidates[i];
    c.extracted.as_deref().unwrap_or(&c.tag)
}

fn drop(sel: &mut Selection, i: usize, reason: DropReason) {
    sel.candidates[i].status = Status::Dropped(reason);
}

fn warn(sel: &mut Selection, code: WarningCode, message: String) {
    sel.warnings.push(Warning { code, message });
}

fn quoted_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let all: Vec<String> = items.into_iter().map(|s| format!("{s:?}")).collect();
    if all.len() > 5 {
        format!("{} and {} more", all[..5].join(", "), all.len() - 5)
    } else {
        all.join(", ")
    }
}

fn select_semver(sel: &mut Selection, survivors: &[usize], range: &Constraints, mode: SemverParse) {
    let with_pre = range.clone().with_include_prerelease(true);
    let mut kept: Vec<(usize, Version)> = Vec::new();
    let mut parsed: Vec<(usize, Version)> = Vec::new();
    for &i in survivors {
        let v = value(sel, i);
        let version = match mode.read(v) {
            Ok(version) => version,
            Err(e) => {
                let detail = match mode {
                    SemverParse::Strict if Version::parse(v).is_ok() => {
                        "not a full MAJOR.MINOR.PATCH version (strict parsing, as Flux)".to_owned()
                    }
                    _ => format!("not a version: {e}"),
                };
                drop(sel, i, DropReason::Unparseable { detail });
                continue;
            }
        };
        sel.candidates[i].key = Some(version.to_string());
        parsed.push((i, version.clone()));
        if range.check(&version) {
            kept.push((i, version));
        } else if !version.prerelease().is_empty() && with_pre.check(&version) {
            drop(sel, i, DropReason::PreRelease);
        } else {
            // The pre-release message is not the reason here; prefer a comparison.
            let (_, reasons) = with_pre.validate(&version);
            let detail = reasons.into_iter().next().unwrap_or_default();
            drop(sel, i, DropReason::OutsideRange { detail });
        }
    }
    // Best first. Stable: equal precedence keeps list order, so the first of equals wins (Flux).
    kept.sort_by(|(_, a), (_, b)| prefer_versions(a, b));
    sel.ranking = kept.iter().map(|(i, _)| *i).collect();

    // Warnings.
    let mutable: Vec<&str> = survivors
        .iter()
        .map(|&i| &sel.candidates[i])
        .filter(|c| !c.kept() && order::is_mutable_tag(&c.tag))
        .map(|c| c.tag.as_str())
        .collect();
    if !mutable.is_empty() {
        let msg = format!(
            "{} ignored by the semver policy (not a version); to follow a moving tag use the digest policy (digest:{})",
            match mutable.as_slice() {
                [one] => format!("tag {one:?} is"),
                many => format!("tags {} are", quoted_list(many.iter().copied())),
            },
            mutable[0]
        );
        warn(sel, WarningCode::MutableTagIgnored, msg);
    }
    if parsed.is_empty() {
        advice::no_versions(sel, survivors, mode);
    } else if kept.is_empty() {
        advice::range_matches_nothing(sel, range, &parsed);
    } else {
        advice::bare_number_wins(sel, mode);
        let top = &kept[0].1;
        let ties: Vec<&str> = kept
            .iter()
            .take_while(|(_, v)| v.compare(top) == Ordering::Equal)
            .map(|(i, _)| sel.candidates[*i].tag.as_str())
            .collect();
        if ties.len() > 1 {
            let msg = format!(
                "tags {} are equal in precedence ({top}); {:?} wins only because it comes first in the list (Flux keeps the first of equals, Argo CD the byte-wise greatest, and with an extract template Flux's order is random), so two tools can flip-flop between them; narrow the tags with --filter",
                quoted_list(ties.iter().copied()),
                ties[0]
            );
            warn(sel, WarningCode::EqualPrecedence, msg);
        }
    }
}

fn select_alphabetical(sel: &mut Selection, survivors: &[usize], order: Order) {
    for &i in survivors {
        sel.candidates[i].key = Some(value(sel, i).to_owned());
    }
    let mut ranking = survivors.to_vec();
    // Best first; values are unique after extraction, the tag only makes the sort total.
    ranking.sort_by(|&a, &b| {
        prefer_text(order, value(sel, a), value(sel, b))
            .then_with(|| prefer_text(order, &sel.candidates[a].tag, &sel.candidates[b].tag))
    });
    sel.ranking = ranking;
}

fn select_numerical(sel: &mut Selection, survivors: &[usize], order: Order) {
    let mut numbers: Vec<(usize, f64)> = Vec::new();
    let mut bad: Vec<usize> = Vec::new();
    for &i in survivors {
        let v = value(sel, i);
        match order::go_parse_float(v) {
            Some(f) => {
                let shown = if f.to_string() == v {
                    v.to_owned()
                } else {
                    format!("{v} (= {f})")
                };
                sel.candidates[i].key = Some(shown);
                numbers.push((i, f));
            }
            None => bad.push(i),
        }
    }
    for &i in &bad {
        let detail = format!("not a number: {:?}", value(sel, i));
        drop(sel, i, DropReason::Unparseable { detail });
    }
    // Best first; equal values: the later in the input first, as Flux keeps the last of equals.
    let mut ranked = numbers.clone();
    // NaN orders nothing; `total_cmp` only gives it a place in the listing (the fold below
    // decides the winner).
    ranked.sort_by(|(a, fa), (b, fb)| {
        prefer_numbers(order, *fa, *fb)
            .unwrap_or_else(|| order.directed(fb.total_cmp(fa)))
            .then(b.cmp(a))
    });
    sel.ranking = ranked.iter().map(|(i, _)| *i).collect();
    if !bad.is_empty() {
        let values: Vec<String> = bad.iter().map(|&i| value(sel, i).to_owned()).collect();
        let tags: Vec<&str> = bad
            .iter()
            .map(|&i| sel.candidates[i].tag.as_str())
            .collect();
        let msg = format!(
            "the numerical policy fails because {} {} not numbers: {}; Flux fails the whole policy on a single such tag. Keep only numeric tags with --filter, e.g. --filter '^[0-9]+$', or extract the number with --filter '^main-[a-f0-9]+-(?P<ts>[0-9]+)$' --extract '$ts'",
            tags.len(),
            if tags.len() == 1 {
                "tag is"
            } else {
                "tags are"
            },
            quoted_list(tags.iter().copied())
        );
        warn(sel, WarningCode::NotNumbers, msg);
        sel.failure = Some(PolicyError::NotANumber { values });
        return;
    }
    // Flux's fold (`cv < pv → skip`) decides the winner: a value replaces the winner unless the
    // policy strictly prefers the winner. It differs from the sort only when NaN is present.
    let mut winner: Option<(usize, f64)> = None;
    for &(i, cv) in &numbers {
        let skip =
            winner.is_some_and(|(_, pv)| prefer_numbers(order, pv, cv) == Some(Ordering::Less));
        if !skip {
            winner = Some((i, cv));
        }
    }
    let nan: Vec<usize> = numbers
        .iter()
        .filter(|(_, f)| f.is_nan())
        .map(|(i, _)| *i)
        .collect();
    if let (false, Some((w, _))) = (nan.is_empty(), winner) {
        sel.ranking.retain(|&i| i != w);
        sel.ranking.insert(0, w);
        let msg = format!(
            "{} as NaN, which orders nothing, so Flux's choice ({:?}) depends on where it is listed; exclude it (--exclude '^(?i)nan$')",
            match nan.as_slice() {
                [one] => format!("tag {:?} reads", sel.candidates[*one].tag),
                many => format!(
                    "tags {} read",
                    quoted_list(many.iter().map(|&i| sel.candidates[i].tag.as_str()))
                ),
            },
            sel.candidates[w].tag
        );
        warn(sel, WarningCode::NotANumberValue, msg);
    }
}

fn select_newest_build(
    sel: &mut Selection,
    survivors: &[usize],
    build_times: Option<BuildTimes<'_>>,
) {
    let mut timed: Vec<(usize, i64)> = Vec::new();
    for &i in survivors {
        match build_times.and_then(|f| f(&sel.candidates[i].tag)) {
            Some(t) => {
                sel.candidates[i].key = Some(order::format_unix(t));
                timed.push((i, t));
            }
            None => drop(sel, i, DropReason::NoBuildTime),
        }
    }
    timed.sort_by(|(a, ta), (b, tb)| {
        tb.cmp(ta)
            .then_with(|| sel.candidates[*b].tag.cmp(&sel.candidates[*a].tag))
    });
    sel.ranking = timed.iter().map(|(i, _)| *i).collect();
    if let Some(&(_, top)) = timed.first() {
        let ties: Vec<&str> = timed
            .iter()
            .take_while(|(_, t)| *t == top)
            .map(|(i, _)| sel.candidates[*i].tag.as_str())
            .collect();
        if ties.len() > 1 {
            let msg = format!(
                "tags {} were built in the same second ({}); this picks {:?}, the byte-wise greatest, as Argo CD does; if they are different images, the choice is arbitrary",
                quoted_list(ties.iter().copied()),
                order::format_unix(top),
                ties[0]
            );
            warn(sel, WarningCode::BuildTimeTie, msg);
        }
    }
}

fn select_digest(sel: &mut Selection, survivors: &[usize], tag: Option<&str>) {
    let Some(tracked) = tag else {
        sel.failure = Some(PolicyError::DigestNeedsTag);
        return;
    };
    for &i in survivors {
        if sel.candidates[i].tag == tracked {
            sel.candidates[i].key = Some("followed by digest".to_owned());
            sel.ranking.push(i);
        } else {
            let tracked = tracked.to_owned();
            drop(sel, i, DropReason::NotTracked { tracked });
        }
    }
    if sel.ranking.is_empty() {
        sel.failure = Some(PolicyError::TagNotFound {
            tag: tracked.to_owned(),
        });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

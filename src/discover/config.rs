//! The configuration file, `.gitops-bump.yaml` at the root of the GitOps
//! repository (or `--config PATH`): which images `sync` tracks, with which
//! policy, platforms, scope and write mode.
//!
//! ```yaml
//! defaults:               # optional; every key may also be set per image
//!   grace: 15m
//!   platforms: [linux/amd64]
//!   mode: commit          # commit | pull-request | report
//! images:
//!   - name: ghcr.io/acme/backend
//!     policy: semver:^1.0
//!     filter: '^v'        # with extract and exclude as in explain
//!     platforms: [linux/amd64, linux/arm64]
//!     files: ['overlays/dev/**']
//!     mode: pull-request
//! ```
//!
//! Read with a typed, span-reporting reader (serde-saphyr): every error
//! names `file:line:column`, and unknown keys are errors, so a misspelled
//! `plaforms:` is never ignored. It is read from the same snapshot as the
//! manifests, so a compare-and-swap retry never plans with configuration
//! from another commit. Pure.

use std::time::Duration;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::policy::{Policy, PolicyError, SemverParse, TagFilter};
use crate::reference::{Reference, Repository};
use crate::registry::Platform;

/// Where the configuration is read from by default.
pub const DEFAULT_PATH: &str = ".gitops-bump.yaml";

/// How an entry's drift is fixed under `--apply`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mode {
    /// Together with every other `commit` entry, in one commit on the branch.
    Commit,
    /// In a pull request of its own.
    PullRequest,
    /// Never written; only reported.
    Report,
}

impl Mode {
    /// `commit`, `pull-request` or `report`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Commit => "commit",
            Mode::PullRequest => "pull-request",
            Mode::Report => "report",
        }
    }
}

/// A checked configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// The file it was read from.
    pub path: String,
    /// The images tracked, in file order.
    pub entries: Vec<Entry>,
}

/// One `images:` entry, defaults applied.
#[derive(Clone, Debug)]
pub struct Entry {
    /// 1-based line of the entry's `name:`.
    pub line: usize,
    /// The image as written.
    pub name: String,
    /// Its normalized repository.
    pub repository: Repository,
    /// The policy.
    pub policy: Policy,
    /// Exclusions, filter and extract template.
    pub filter: TagFilter,
    /// Platforms every tag written must provide (empty: what the workload says).
    pub platforms: Vec<Platform>,
    /// Which files' references the entry governs (`None`: all).
    pub files: Option<Scope>,
    /// How drift is fixed; `None` when neither the entry nor `defaults:`
    /// says (then `--pull-request` decides).
    pub mode: Option<Mode>,
    /// How long a newer image may wait before its absence is an error.
    pub grace: Option<Duration>,
    /// The only writer allowed to change what the entry governs.
    pub writer: Option<String>,
}

/// A `files:` scope: globs over repository paths (`*` never crosses `/`).
#[derive(Clone, Debug)]
pub struct Scope {
    /// The globs as written.
    pub patterns: Vec<String>,
    set: GlobSet,
}

impl Scope {
    /// Returns true if and only if `path` is in the scope.
    pub fn contains(&self, path: &str) -> bool {
        self.set.is_match(path)
    }
}

/// A configuration error at `file:line:column` (exit 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ConfigError {
    /// The configuration file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong, one line.
    pub message: String,
}

/// Reads the configuration `text` of the file `path`.
pub fn parse(path: &str, text: &str) -> Result<Config, ConfigError> {
    let raw: Raw = serde_saphyr::from_str(text).map_err(|e| {
        let (line, column) = e
            .location()
            .map_or((1, 1), |l| (l.line() as usize, l.column() as usize));
        let options = serde_saphyr::render_options! {
            snippets: serde_saphyr::SnippetMode::Off,
        };
        let rendered = e.render_with_options(options);
        ConfigError {
            file: path.to_owned(),
            line,
            column,
            message: strip_location(&rendered),
        }
    })?;
    let at = |s: &serde_saphyr::Location, message: String| ConfigError {
        file: path.to_owned(),
        line: s.line() as usize,
        column: s.column() as usize,
        message,
    };
    let defaults = raw.defaults.unwrap_or_default();
    // Checked on their own, so a broken default is an error even where every
    // entry overrides it, or when there are no entries yet.
    if let Some(list) = &defaults.platforms {
        platforms(list, &at)?;
    }
    mode(defaults.mode.as_ref(), &at)?;
    grace(defaults.grace.as_ref(), &at)?;
    writer(defaults.writer.as_ref(), &at)?;
    let mut entries = Vec::with_capacity(raw.images.len());
    for image in raw.images {
        let image = image.value;
        let name = &image.name;
        let reference = Reference::parse(&name.value)
            .map_err(|e| at(&name.referenced, format!("name {:?}: {e}", name.value)))?;
        if reference.tag().is_some() || reference.digest().is_some() {
            return Err(at(
                &name.referenced,
                format!(
                    "name {:?}: give the repository without a tag or digest; the policy selects the tag",
                    name.value
                ),
            ));
        }
        let semver_parse = match &image.semver_parse {
            None => SemverParse::Strict,
            Some(s) => match s.value.as_str() {
                "strict" => SemverParse::Strict,
                "lenient" => SemverParse::Lenient,
                other => {
                    return Err(at(
                        &s.referenced,
                        format!("semver-parse {other:?}: expected strict or lenient"),
                    ));
                }
            },
        };
        let mut policy = Policy::parse(&image.policy.value)
            .map_err(|e| at(&image.policy.referenced, format!("policy: {e}")))?
            .with_semver_parse(semver_parse);
        match (&mut policy, &image.tag) {
            (Policy::Digest { tag: tag @ None }, Some(t)) => *tag = Some(t.value.clone()),
            (Policy::Digest { tag: None }, None) => {
                return Err(at(
                    &image.policy.referenced,
                    "policy digest: name the mutable tag to follow (tag: latest, or digest:latest)"
                        .into(),
                ));
            }
            (Policy::Digest { .. }, _) => {}
            (_, Some(t)) => {
                return Err(at(
                    &t.referenced,
                    "tag: only with policy digest (the tag whose digest is followed)".into(),
                ));
            }
            _ => {}
        }
        let filter_at = image
            .filter
            .as_ref()
            .map_or(&name.referenced, |f| &f.referenced);
        let mut filter = TagFilter::new(
            image.filter.as_ref().map(|f| f.value.as_str()),
            image.extract.as_ref().map(|e| e.value.as_str()),
        )
        .map_err(|e| at(filter_at, format!("filter: {}", policy_message(&e))))?;
        for pattern in image.exclude.iter().flatten() {
            filter = filter.exclude_regex(&pattern.value).map_err(|e| {
                at(
                    &pattern.referenced,
                    format!("exclude: {}", policy_message(&e)),
                )
            })?;
        }
        let platforms = match image.platforms.as_ref().or(defaults.platforms.as_ref()) {
            None => Vec::new(),
            Some(list) => platforms(list, &at)?,
        };
        let files = match &image.files {
            None => None,
            Some(patterns) => Some(scope(patterns, &at)?),
        };
        let mode = mode(image.mode.as_ref().or(defaults.mode.as_ref()), &at)?;
        let grace = grace(image.grace.as_ref().or(defaults.grace.as_ref()), &at)?;
        let writer = writer(image.writer.as_ref().or(defaults.writer.as_ref()), &at)?;
        entries.push(Entry {
            line: name.referenced.line() as usize,
            name: name.value.clone(),
            repository: reference.repository(),
            policy,
            filter,
            platforms,
            files,
            mode,
            grace,
            writer,
        });
    }
    Ok(Config {
        path: path.to_owned(),
        entries,
    })
}

// ---------------------------------------------------------------------------------------------
// The file's shape, as read.

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    defaults: Option<RawDefaults>,
    #[serde(default)]
    images: Vec<Spanned<RawImage>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    grace: Option<Spanned<String>>,
    platforms: Option<Spanned<Vec<Spanned<String>>>>,
    mode: Option<Spanned<String>>,
    writer: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawImage {
    name: Spanned<String>,
    policy: Spanned<String>,
    semver_parse: Option<Spanned<String>>,
    filter: Option<Spanned<String>>,
    extract: Option<Spanned<String>>,
    exclude: Option<Vec<Spanned<String>>>,
    tag: Option<Spanned<String>>,
    platforms: Option<Spanned<Vec<Spanned<String>>>>,
    files: Option<Vec<Spanned<String>>>,
    mode: Option<Spanned<String>>,
    grace: Option<Spanned<String>>,
    writer: Option<Spanned<String>>,
}

/// A `mode:` value.
fn mode(
    m: Option<&Spanned<String>>,
    at: &dyn Fn(&serde_saphyr::Location, String) -> ConfigError,
) -> Result<Option<Mode>, ConfigError> {
    let Some(m) = m else { return Ok(None) };
    match m.value.as_str() {
        "commit" => Ok(Some(Mode::Commit)),
        "pull-request" => Ok(Some(Mode::PullRequest)),
        "report" => Ok(Some(Mode::Report)),
        other => Err(at(
            &m.referenced,
            format!("mode {other:?}: expected commit, pull-request or report"),
        )),
    }
}

/// A `grace:` value.
fn grace(
    g: Option<&Spanned<String>>,
    at: &dyn Fn(&serde_saphyr::Location, String) -> ConfigError,
) -> Result<Option<std::time::Duration>, ConfigError> {
    let Some(g) = g else { return Ok(None) };
    crate::settings::units::parse_duration(&g.value)
        .map(Some)
        .ok_or_else(|| {
            at(
                &g.referenced,
                format!(
                    "grace {:?}: expected seconds, or a number with ms/s/m/h",
                    g.value
                ),
            )
        })
}

/// A `writer:` value: one non-empty line, trimmed.
fn writer(
    w: Option<&Spanned<String>>,
    at: &dyn Fn(&serde_saphyr::Location, String) -> ConfigError,
) -> Result<Option<String>, ConfigError> {
    match w {
        Some(w) if w.value.trim().is_empty() || w.value.contains(['\n', '\r']) => Err(at(
            &w.referenced,
            "writer: must be one non-empty line".into(),
        )),
        w => Ok(w.map(|w| w.value.trim().to_owned())),
    }
}

fn platforms(
    list: &Spanned<Vec<Spanned<String>>>,
    at: &dyn Fn(&serde_saphyr::Location, String) -> ConfigError,
) -> Result<Vec<Platform>, ConfigError> {
    let mut out: Vec<Platform> = Vec::new();
    for p in &list.value {
        for p in Platform::parse_list(&p.value)
            .map_err(|e| at(&p.referenced, format!("platforms: {e}")))?
        {
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    Ok(out)
}

fn scope(
    patterns: &[Spanned<String>],
    at: &dyn Fn(&serde_saphyr::Location, String) -> ConfigError,
) -> Result<Scope, ConfigError> {
    let mut builder = GlobSetBuilder::new();
    for p in patterns {
        let bad = |why: String| at(&p.referenced, format!("files {:?}: {why}", p.value));
        if p.value.starts_with('/') || p.value.split('/').any(|c| c == "..") {
            return Err(bad(
                "must stay inside the repository (no leading '/', no '..')".into(),
            ));
        }
        let glob = GlobBuilder::new(&p.value)
            .literal_separator(true)
            .build()
            .map_err(|e| bad(e.kind().to_string()))?;
        builder.add(glob);
    }
    let set = builder
        .build()
        .map_err(|e| at(&patterns[0].referenced, format!("files: {e}")))?;
    Ok(Scope {
        patterns: patterns.iter().map(|p| p.value.clone()).collect(),
        set,
    })
}

/// A policy error without the spec it repeats.
fn policy_message(e: &PolicyError) -> String {
    e.to_string()
}

/// serde-saphyr's plain message ends with ` at line L column C`; the
/// location is reported in front instead.
fn strip_location(message: &str) -> String {
    let first = message.lines().next().unwrap_or(message).trim();
    match first.rfind(" at line ") {
        Some(i) => first[..i].to_owned(),
        None => first.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = "\
defaults:
  grace: 15m
  platforms: [linux/amd64]
  mode: commit
images:
  - name: ghcr.io/acme/backend
    policy: semver:^1.0
    platforms: [linux/amd64, linux/arm64]
    files: ['overlays/dev/**']
    mode: pull-request
  - name: ghcr.io/acme/worker
    policy: newest-build
    filter: '^sha-[0-9a-f]{7}$'
  - name: ghcr.io/acme/edge
    policy: digest
    tag: latest
    mode: report
    writer: ci-edge
";

    #[test]
    fn reads_every_key_and_applies_defaults() {
        let c = parse(".gitops-bump.yaml", FULL).expect("valid");
        assert_eq!(c.entries.len(), 3);
        let b = &c.entries[0];
        assert_eq!((b.line, b.mode), (6, Some(Mode::PullRequest)));
        assert_eq!(b.platforms.len(), 2);
        assert!(
            b.files
                .as_ref()
                .is_some_and(|s| s.contains("overlays/dev/a.yaml"))
        );
        assert!(
            !b.files
                .as_ref()
                .is_some_and(|s| s.contains("overlays/prod/a.yaml"))
        );
        assert_eq!(b.grace, Some(Duration::from_secs(900)));
        let w = &c.entries[1];
        assert_eq!(w.platforms.len(), 1, "defaults.platforms");
        assert_eq!(w.mode, Some(Mode::Commit), "defaults.mode");
        assert_eq!(w.filter.pattern(), Some("^sha-[0-9a-f]{7}$"));
        let e = &c.entries[2];
        assert_eq!(e.policy.to_string(), "digest:latest");
        assert_eq!(e.writer.as_deref(), Some("ci-edge"));
    }

    #[test]
    fn every_error_names_file_line_and_column() {
        for (text, at, needle) in [
            (
                "images:\n  - name: a/b\n    policy: semver:*\n    plaforms: [linux/amd64]\n",
                (4, 5),
                "plaforms",
            ),
            ("images:\n  - name: a/b\n", (2, 5), "policy"),
            // A broken default is an error with no entry, or where every
            // entry overrides it.
            ("defaults:\n  grace: 15x\n", (2, 10), "grace"),
            ("defaults:\n  mode: sometimes\n", (2, 9), "mode"),
            ("defaults:\n  platforms: [linux]\n", (2, 15), "platforms"),
            ("defaults:\n  writer: ' '\n", (2, 11), "writer"),
            (
                "defaults:\n  grace: 15x\nimages:\n  - name: a/b\n    policy: semver:*\n    grace: 1m\n",
                (2, 10),
                "grace",
            ),
            ("imgs: []\n", (1, 1), "imgs"),
            (
                "images:\n  - name: a/b\n    policy: semver:nope\n",
                (3, 13),
                "policy",
            ),
            (
                "images:\n  - name: a/b:v1\n    policy: semver:*\n",
                (2, 11),
                "without a tag",
            ),
            (
                "images:\n  - name: a/b\n    policy: semver:*\n    tag: latest\n",
                (4, 10),
                "only with policy digest",
            ),
            (
                "images:\n  - name: a/b\n    policy: digest\n",
                (3, 13),
                "name the mutable tag",
            ),
            (
                "images:\n  - name: a/b\n    policy: semver:*\n    mode: sometimes\n",
                (4, 11),
                "mode",
            ),
            (
                "images:\n  - name: a/b\n    policy: semver:*\n    files: ['../x']\n",
                (4, 13),
                "inside",
            ),
            (
                "images:\n  - name: a/b\n    policy: semver:*\n    platforms: [linux]\n",
                (4, 17),
                "platforms",
            ),
            (
                "images:\n  - name: a/b\n    policy: semver:*\n    grace: soon\n",
                (4, 12),
                "grace",
            ),
            ("images: [\n", (1, 9), "unclosed"),
        ] {
            let e = parse("cfg.yaml", text).expect_err(text);
            assert_eq!((e.line, e.column), at, "{text}: {e}");
            assert!(
                e.to_string()
                    .starts_with(&format!("cfg.yaml:{}:{}: ", at.0, at.1)),
                "{e}"
            );
            assert!(e.message.contains(needle), "{text}: {e}");
            assert!(!e.message.contains('\n'), "one line: {e:?}");
        }
    }
}

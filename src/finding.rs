//! Findings: the one record every step of the spine produces and every
//! renderer (text, annotations, job summary, JSON) consumes. A finding is a
//! located, typed, one-line message with a severity; the exit code is
//! computed from findings in one place (`report::exit_code`).
//!
//! Owns the shape of a finding. Does not own how findings are printed
//! (`report`) or which checks produce them.

use serde::Serialize;

/// Where a finding points: a file, and a 1-based line and byte column when
/// known (the first byte of the value concerned).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Location {
    /// Path relative to the repository root, `/`-separated.
    pub file: String,
    /// 1-based line.
    pub line: Option<usize>,
    /// 1-based byte column.
    pub column: Option<usize>,
}

impl Location {
    /// A whole file.
    pub fn file(file: impl Into<String>) -> Location {
        Location {
            file: file.into(),
            line: None,
            column: None,
        }
    }

    /// A line of a file.
    pub fn line(file: impl Into<String>, line: usize) -> Location {
        Location {
            file: file.into(),
            line: Some(line),
            column: None,
        }
    }
}

/// How much a finding matters. Ordered: `Notice < Warning < Error`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing; never fails a run.
    Notice,
    /// Probably wrong; fails a run only with `--fail-on warning`.
    Warning,
    /// The run failed, or would leave the cluster broken.
    Error,
}

/// What a finding is about. Stable names: they appear in JSON and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A file the backend offered could not be read or parsed; it was skipped.
    FileSkipped,
    /// Files the selection matched that the repository's `.gitignore`
    /// excludes: not read (one notice with the count).
    Ignored,
    /// A reference pinned by `# gitops-bump:ignore` was left alone.
    Pinned,
    /// A reference of the image whose current tag the run does not select
    /// (another tag track than the new tag's, or not matching `--match-tag`).
    NotSelected,
    /// An image inside YAML held in a block scalar or string that cannot be
    /// edited byte-exactly (folded, quoted); it is not updated.
    BlockSkipped,
    /// A Helm chart template: not YAML until Helm renders it, so not read.
    ChartTemplate,
    /// An IMAGE_REF that matches no reference in the files read.
    NoReference,
    /// The reference cannot hold the desired value (no field for a digest).
    Unfit,
    /// The change would move an image to an older tag.
    Downgrade,
    /// The change would replace a newer build with an older one (tags
    /// without an order of their own, compared by build time).
    OutOfOrder,
    /// The change would undo another writer's recent change: two writers
    /// are fighting (or the history that would tell could not be read).
    Fight,
    /// Another writer owns the reference.
    Owned,
    /// The image keeps changing in the file: a loop is already running.
    Storm,
    /// A pinned digest would go stale (the new digest is unknown).
    StaleDigest,
    /// A file that could not be read mentions an image of this run.
    BrokenFile,
    /// Two images want different values in the same place.
    Conflict,
    /// The edit could not be made byte-exactly, or did not re-parse.
    EditRefused,
    /// The registry says the tag (or digest) does not exist.
    TagMissing,
    /// The image lacks a required platform.
    PlatformMissing,
    /// The registry's digest for the tag is not the one given.
    DigestMismatch,
    /// The registry could not be asked (unreachable, unauthorized, protocol).
    RegistryFailed,
    /// The policy selected no tag.
    NothingSelected,
    /// The write could not be verified after it was made.
    CommitMissing,
    /// A `sync` verdict about one reference (the verdict is in the message).
    Drift,
    /// An object that says how images are tracked (a Flux ImagePolicy, an
    /// Argo CD annotation) is wrong, or needs something gitops-bump cannot do.
    Configuration,
}

/// The least severity that fails a run (`--fail-on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailOn {
    /// Errors fail the run (the default).
    #[default]
    Error,
    /// Warnings and errors fail the run.
    Warning,
    /// Nothing found fails the run; only a failed write does.
    Never,
}

/// A usage or configuration error: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// One located, typed message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Where it points; `None` for findings about no file (a registry check).
    pub location: Option<Location>,
    /// How much it matters.
    pub severity: Severity,
    /// What it is about.
    pub kind: Kind,
    /// The image concerned, as the user wrote it, when there is one.
    pub image: Option<String>,
    /// What is wrong and what to do, one line.
    pub message: String,
}

impl Finding {
    /// An error.
    pub fn error(kind: Kind, location: Option<Location>, message: impl Into<String>) -> Finding {
        Finding {
            location,
            severity: Severity::Error,
            kind,
            image: None,
            message: message.into(),
        }
    }

    /// A warning.
    pub fn warning(kind: Kind, location: Option<Location>, message: impl Into<String>) -> Finding {
        Finding {
            severity: Severity::Warning,
            ..Finding::error(kind, location, message)
        }
    }

    /// A notice.
    pub fn notice(kind: Kind, location: Option<Location>, message: impl Into<String>) -> Finding {
        Finding {
            severity: Severity::Notice,
            ..Finding::error(kind, location, message)
        }
    }

    /// The same finding, about `image`.
    pub fn about(mut self, image: impl Into<String>) -> Finding {
        self.image = Some(image.into());
        self
    }

    /// The file it points at, or `""` for none.
    pub fn file(&self) -> &str {
        self.location.as_ref().map_or("", |l| l.file.as_str())
    }

    /// The 1-based line it points at, when known.
    pub fn line(&self) -> Option<usize> {
        self.location.as_ref().and_then(|l| l.line)
    }

    /// `file:line` (or `file`), or `None` for findings about no file.
    pub fn at(&self) -> Option<String> {
        let l = self.location.as_ref()?;
        Some(match l.line {
            Some(line) => format!("{}:{line}", l.file),
            None => l.file.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_order_and_locations_print() {
        assert!(Severity::Notice < Severity::Warning && Severity::Warning < Severity::Error);
        let f = Finding::warning(Kind::FileSkipped, Some(Location::line("a.yaml", 3)), "x");
        assert_eq!(f.at().as_deref(), Some("a.yaml:3"));
        assert_eq!(f.file(), "a.yaml");
        let g = Finding::error(Kind::TagMissing, None, "y").about("app");
        assert_eq!(
            (g.at(), g.file(), g.image.as_deref()),
            (None, "", Some("app"))
        );
        assert_eq!(
            serde_json::to_value(Kind::FileSkipped).expect("json"),
            "file-skipped"
        );
    }
}

//! The JSON documents, version 1: a public contract (DESIGN.md §2, the
//! README). These structs are the wire format; the models they are built
//! from may change, these may not.

use serde::Serialize;

use super::{SetReport, VerifyPlan};
use crate::backend::{PullRequest, PullRequestAction};
use crate::finding::Finding;
use crate::manifest::Dialect;
use crate::plan::Update;
use crate::policy::{Selection, Status};
use crate::registry::RegistryStats;

/// `set --output json`.
#[derive(Debug, Serialize)]
pub struct SetV1<'a> {
    /// True if and only if files were (or, in a dry run, would be) changed.
    pub changed: bool,
    /// Commit made, if any.
    pub commit: Option<&'a str>,
    /// Nothing was written.
    pub dry_run: bool,
    /// Values written. Empty in a dry run and in a refused run: only what
    /// was written is here.
    pub updates: Vec<UpdateV1>,
    /// Values planned but not written: what a dry run would write, or what
    /// a refused run would have written. Each value is in exactly one of
    /// `updates` and `planned`.
    pub planned: Vec<UpdateV1>,
    /// References left alone, with the reason (pinned, another tag track,
    /// YAML that cannot be edited, an absent image under `--allow-absent`,
    /// a chart template).
    pub skipped: Vec<SkippedV1<'a>>,
    /// Files that could not be read (not fatal on their own).
    pub problems: Vec<ProblemV1<'a>>,
    /// Reasons the run failed.
    pub errors: Vec<ProblemV1<'a>>,
    /// Registry requests and rate limits, when the registry was checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<&'a RegistryStats>,
    /// Read-plan-write rounds.
    pub attempts: usize,
    /// API requests sent (network backends only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_requests: Option<u64>,
    /// Unified diff of the change (dry run only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<&'a str>,
    /// The pull request opened, updated, found up to date or closed
    /// (`--pull-request` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<PullRequestV1<'a>>,
    /// What verification would check after the write (dry run only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<&'a VerifyPlan>,
}

/// A pull request and what the run did to it. `url`, `number`, `created`
/// and `branch` are the original fields; `action` and, for a closed one,
/// `reason` and `branch_deleted` were added by issue #14.
#[derive(Debug, Serialize)]
pub struct PullRequestV1<'a> {
    /// Its page on GitHub.
    pub url: &'a str,
    /// Its number.
    pub number: u64,
    /// True if and only if this run opened it.
    pub created: bool,
    /// The head branch (`gitops-bump/…`).
    pub branch: &'a str,
    /// `opened`, `updated` (its branch moved to a new commit), `retitled`
    /// (only its title or body changed), `up_to_date` (nothing written) or
    /// `closed` (the base already held the target state).
    pub action: &'static str,
    /// Why it was closed (`closed` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
    /// Whether its branch was deleted (`closed` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch_deleted: Option<bool>,
}

impl<'a> From<&'a PullRequest> for PullRequestV1<'a> {
    fn from(p: &'a PullRequest) -> Self {
        let closed = p.action == PullRequestAction::Closed;
        PullRequestV1 {
            url: &p.url,
            number: p.number,
            created: p.created(),
            branch: &p.branch,
            action: p.action.as_str(),
            reason: p.reason.as_deref(),
            branch_deleted: closed.then_some(p.branch_deleted),
        }
    }
}

/// One changed value (DESIGN.md §2): `line` and `column` are 1-based and
/// point at the value's first byte; `column` counts bytes.
#[derive(Debug, Serialize)]
pub struct UpdateV1 {
    /// File path relative to the root.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based byte column.
    pub column: usize,
    /// Where the value was found.
    pub dialect: Dialect,
    /// The image as the user wrote it.
    pub image: String,
    /// Old tag and/or digest.
    pub from: String,
    /// New tag and/or digest.
    pub to: String,
    /// Lines of aliases that reach this value too.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<usize>,
}

impl From<&Update> for UpdateV1 {
    fn from(u: &Update) -> Self {
        UpdateV1 {
            file: u.file.clone(),
            line: u.line,
            column: u.column,
            dialect: u.dialect,
            image: u.image.clone(),
            from: u.from.clone(),
            to: u.to.clone(),
            aliases: u.aliases.clone(),
        }
    }
}

/// A reference (or file) left alone.
#[derive(Debug, Serialize)]
pub struct SkippedV1<'a> {
    /// File path, or `""` for an absent image.
    pub file: &'a str,
    /// 1-based line.
    pub line: Option<usize>,
    /// The image, or `""` for a chart template.
    pub image: &'a str,
    /// Why.
    pub reason: &'a str,
}

/// A file problem or an error; `file` is `""` and `line` null for errors
/// about no file.
#[derive(Debug, Serialize)]
pub struct ProblemV1<'a> {
    /// File path, or `""`.
    pub file: &'a str,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: &'a str,
}

impl<'a> From<&'a Finding> for ProblemV1<'a> {
    fn from(f: &'a Finding) -> Self {
        ProblemV1 {
            file: f.file(),
            line: f.line(),
            message: &f.message,
        }
    }
}

/// The document for a `set` report.
pub fn set(r: &SetReport) -> SetV1<'_> {
    SetV1 {
        changed: r.changed,
        commit: r.commit.as_deref(),
        dry_run: r.dry_run,
        updates: r.written_updates().iter().map(Into::into).collect(),
        planned: r.planned_updates().iter().map(Into::into).collect(),
        skipped: r
            .skipped()
            .chain(r.chart_templates())
            .map(|s| SkippedV1 {
                file: s.file(),
                line: s.line(),
                image: s.image.as_deref().unwrap_or_default(),
                reason: &s.message,
            })
            .collect(),
        problems: r.problems().map(Into::into).collect(),
        errors: r.errors().map(Into::into).collect(),
        registry: r.registry.as_ref(),
        attempts: r.attempts,
        api_requests: r.api_requests,
        diff: r.diff.as_deref(),
        pull_request: r.pull_request.as_ref().map(Into::into),
        verify: r.verify.as_ref(),
    }
}

/// `explain --output json`.
#[derive(Debug, Serialize)]
pub struct ExplainV1 {
    /// The winner, or null.
    pub selected: Option<SelectedV1>,
    /// Every tag with its verdict.
    pub candidates: Vec<CandidateV1>,
    /// "Probably not what you meant" notes.
    pub warnings: Vec<String>,
    /// Why nothing was selected, when nothing was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Requests made, when the registry was asked (absent with `--tags-from`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<RegistryStats>,
}

/// The selected tag.
#[derive(Debug, Serialize)]
pub struct SelectedV1 {
    /// Tag as listed.
    pub tag: String,
    /// Index digest, when the registry was asked.
    pub digest: Option<String>,
}

/// One candidate tag.
#[derive(Debug, Serialize)]
pub struct CandidateV1 {
    /// Tag as listed.
    pub tag: String,
    /// Still a candidate after every step.
    pub kept: bool,
    /// `kept`, or the step that dropped it.
    pub reason: String,
    /// The ordering key the policy used.
    pub key: Option<String>,
}

/// The document for an explanation.
pub fn explain(
    sel: &Selection,
    digest: Option<String>,
    registry: Option<RegistryStats>,
) -> ExplainV1 {
    ExplainV1 {
        selected: sel.winner.clone().map(|tag| SelectedV1 { tag, digest }),
        candidates: sel
            .candidates
            .iter()
            .map(|c| CandidateV1 {
                tag: c.tag.clone(),
                kept: c.kept(),
                reason: match &c.status {
                    Status::Kept => "kept".to_owned(),
                    Status::Dropped(r) => r.to_string(),
                },
                key: c.key.clone(),
            })
            .collect(),
        warnings: sel.warnings.iter().map(ToString::to_string).collect(),
        error: sel.failure.as_ref().map(ToString::to_string),
        registry,
    }
}

/// `sync --output json`.
#[derive(Debug, Serialize)]
pub struct SyncV1<'a> {
    /// One entry per image reference.
    pub references: Vec<ReferenceV1<'a>>,
    /// How many references have each verdict.
    pub totals: std::collections::BTreeMap<&'static str, usize>,
    /// True if and only if files were (or, in a dry run, would be) changed.
    pub changed: bool,
    /// The commit made for the `commit` entries.
    pub commit: Option<&'a str>,
    /// Pull requests opened, updated, found up to date or closed.
    pub pull_requests: Vec<PullRequestV1<'a>>,
    /// The values written (or that `--apply --dry-run` would write), in `set`'s shape.
    pub updates: Vec<UpdateV1>,
    /// Nothing was written.
    pub dry_run: bool,
    /// Findings about no single reference (files skipped, objects in error).
    pub findings: Vec<FindingV1<'a>>,
    /// Registry requests and rate limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<&'a RegistryStats>,
    /// API requests sent (network backends only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_requests: Option<u64>,
    /// The unified diff (`--apply --dry-run`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<&'a str>,
}

/// One reference with its verdict.
#[derive(Debug, Serialize)]
pub struct ReferenceV1<'a> {
    /// File path.
    pub file: &'a str,
    /// 1-based line.
    pub line: usize,
    /// 1-based byte column.
    pub column: usize,
    /// Where it was found.
    pub dialect: Dialect,
    /// The image as written.
    pub image: &'a str,
    /// The tag in Git.
    pub current: Option<&'a str>,
    /// The digest in Git.
    pub current_digest: Option<&'a str>,
    /// The tag the policy selects.
    pub selected: Option<&'a str>,
    /// Its index digest, when read.
    pub selected_digest: Option<&'a str>,
    /// The verdict (`up-to-date`, `behind`, `in-flight`, `ahead`, `missing-tag`,
    /// `missing-platform`, `blocked`, `unchecked`).
    pub verdict: &'static str,
    /// `error`, `warning` or `notice`.
    pub severity: crate::finding::Severity,
    /// The policy.
    pub policy: Option<&'a str>,
    /// `config`, `default`, `flux` or `argo`.
    pub policy_source: Option<crate::discover::tracked::Source>,
    /// Platforms the tag must provide.
    pub platforms: &'a [String],
    /// Why, one line.
    pub message: &'a str,
}

/// A finding about no single reference.
#[derive(Debug, Serialize)]
pub struct FindingV1<'a> {
    /// File path, or `""`.
    pub file: &'a str,
    /// 1-based line.
    pub line: Option<usize>,
    /// `error`, `warning` or `notice`.
    pub severity: crate::finding::Severity,
    /// What kind.
    pub kind: crate::finding::Kind,
    /// What is wrong.
    pub message: &'a str,
}

/// The document for a `sync` report.
pub fn sync(r: &super::sync::SyncReport) -> SyncV1<'_> {
    SyncV1 {
        references: r
            .references
            .iter()
            .map(|x| ReferenceV1 {
                file: &x.file,
                line: x.line,
                column: x.column,
                dialect: x.dialect,
                image: &x.image,
                current: x.current.as_deref(),
                current_digest: x.current_digest.as_deref(),
                selected: x.selected.as_deref(),
                selected_digest: x.selected_digest.as_deref(),
                verdict: x.verdict.as_str(),
                severity: x.severity,
                policy: x.policy.as_deref(),
                policy_source: x.policy_source,
                platforms: &x.platforms,
                message: &x.message,
            })
            .collect(),
        totals: r.totals(),
        changed: r.changed,
        commit: r.commit.as_deref(),
        pull_requests: r.pull_requests.iter().map(Into::into).collect(),
        updates: r.updates.iter().map(Into::into).collect(),
        dry_run: r.dry_run,
        findings: r
            .findings
            .iter()
            .map(|f| FindingV1 {
                file: f.file(),
                line: f.line(),
                severity: f.severity,
                kind: f.kind,
                message: &f.message,
            })
            .collect(),
        registry: r.registry.as_ref(),
        api_requests: r.api_requests,
        diff: r.diff.as_deref(),
    }
}

/// Writes [`sync`]'s document to `path`, streamed, whole or not at all: it
/// goes to a temporary file next to `path`, renamed over it once written.
///
/// # Errors
/// Creating, writing or renaming the file.
pub fn write_sync(path: &std::path::Path, r: &super::sync::SyncReport) -> std::io::Result<()> {
    use std::io::Write as _;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    {
        let mut out = std::io::BufWriter::new(file.as_file_mut());
        serde_json::to_writer_pretty(&mut out, &sync(r))?;
        out.flush()?;
    }
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

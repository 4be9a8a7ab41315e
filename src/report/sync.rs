//! The model of a `sync` run: one [`ReferenceReport`] per image reference
//! with its verdict, plus what `--apply` wrote. Rendered by the same
//! per-format files as `set` (`text`, `annotations`, `summary`, `outputs`,
//! `json_v1`).

use std::collections::BTreeMap;

use crate::backend::PullRequest;
use crate::discover::tracked::Source;
use crate::drift::Verdict;
use crate::finding::{Finding, Kind, Location, Severity};
use crate::manifest::Dialect;
use crate::plan::Update;
use crate::registry::RegistryStats;

/// Everything a `sync` run has to say.
#[derive(Debug, Default)]
pub struct SyncReport {
    /// One entry per image reference, in file and position order.
    pub references: Vec<ReferenceReport>,
    /// Findings that are not about one reference (files skipped, a marker
    /// naming no policy, a write that cannot be verified).
    pub findings: Vec<Finding>,
    /// True if and only if files were (or, in a dry run, would be) changed.
    pub changed: bool,
    /// The commit made for the `commit` entries, if any.
    pub commit: Option<String>,
    /// The pull requests opened or updated, one per `pull-request` entry.
    pub pull_requests: Vec<PullRequest>,
    /// The values written (or, with `--apply --dry-run`, that would be).
    pub updates: Vec<Update>,
    /// Nothing was written (no `--apply`, or `--dry-run`).
    pub dry_run: bool,
    /// The unified diff (`--apply --dry-run`).
    pub diff: Option<String>,
    /// The unified diff of what `--apply` wrote (not a dry run): the job
    /// summary shows it collapsed; text and JSON keep `diff` for the plan.
    pub applied_diff: Option<String>,
    /// Registry requests and rate limits.
    pub registry: Option<RegistryStats>,
    /// API requests sent (network backends only).
    pub api_requests: Option<u64>,
    /// Read-plan-write rounds of the longest write path.
    pub attempts: usize,
}

/// One image reference and its verdict (the JSON `references[]` entry).
#[derive(Clone, Debug)]
pub struct ReferenceReport {
    /// File path relative to the root.
    pub file: String,
    /// 1-based line of the value (the tag, or the reference).
    pub line: usize,
    /// 1-based byte column.
    pub column: usize,
    /// Where it was found.
    pub dialect: Dialect,
    /// The image as written.
    pub image: String,
    /// The tag in Git.
    pub current: Option<String>,
    /// The digest in Git.
    pub current_digest: Option<String>,
    /// The tag the policy selects.
    pub selected: Option<String>,
    /// Its index digest, when it was read.
    pub selected_digest: Option<String>,
    /// The verdict.
    pub verdict: Verdict,
    /// Its severity.
    pub severity: Severity,
    /// The policy (`semver:^1.0`), when one applies.
    pub policy: Option<String>,
    /// Where the policy comes from.
    pub policy_source: Option<Source>,
    /// The platforms required of the tag.
    pub platforms: Vec<String>,
    /// Why, one line.
    pub message: String,
}

impl ReferenceReport {
    /// The reference as a finding (for the exit code and annotations).
    pub fn finding(&self) -> Finding {
        Finding {
            location: Some(Location {
                file: self.file.clone(),
                line: Some(self.line),
                column: Some(self.column),
            }),
            severity: self.severity,
            kind: Kind::Drift,
            image: Some(self.image.clone()),
            message: format!("{}: {}", self.verdict.as_str(), self.message),
        }
    }

    /// `v1.2.3`, `v1.2.3@sha256:…` or the digest alone.
    pub fn shown_current(&self) -> String {
        match (&self.current, &self.current_digest) {
            (Some(t), Some(d)) => format!("{t}@{}", short(d)),
            (Some(t), None) => t.clone(),
            (None, Some(d)) => short(d),
            (None, None) => "(none)".into(),
        }
    }
}

impl SyncReport {
    /// How many references have each verdict (every verdict listed).
    pub fn totals(&self) -> BTreeMap<&'static str, usize> {
        let mut out: BTreeMap<&'static str, usize> =
            Verdict::ALL.iter().map(|v| (v.as_str(), 0)).collect();
        for r in &self.references {
            *out.entry(r.verdict.as_str()).or_default() += 1;
        }
        out
    }

    /// The findings listed one by one: all but skipped chart templates,
    /// which [`SyncReport::chart_template_line`] counts in one line.
    pub fn listed_findings(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.kind != Kind::ChartTemplate)
    }

    /// One line counting the skipped chart templates, as `set` says it.
    pub fn chart_template_line(&self) -> Option<String> {
        super::chart_template_line(&self.findings)
    }

    /// References that are not up to date.
    pub fn drift(&self) -> impl Iterator<Item = &ReferenceReport> {
        self.references
            .iter()
            .filter(|r| r.verdict != Verdict::UpToDate)
    }

    /// The references that are not up to date, grouped by directory.
    pub fn by_directory(&self) -> BTreeMap<&str, Vec<&ReferenceReport>> {
        let mut out: BTreeMap<&str, Vec<&ReferenceReport>> = BTreeMap::new();
        for r in self.drift() {
            let dir = r.file.rsplit_once('/').map_or(".", |(d, _)| d);
            out.entry(dir).or_default().push(r);
        }
        out
    }

    /// One line saying how the run ended.
    pub fn headline(&self) -> String {
        let n = self.references.len();
        let drift = self.drift().count();
        let totals = self.totals();
        let parts: Vec<String> = Verdict::ALL
            .iter()
            .filter(|v| **v != Verdict::UpToDate && totals[v.as_str()] > 0)
            .map(|v| format!("{} {}", totals[v.as_str()], v.as_str()))
            .collect();
        // A skipped file may hold references nobody checked: never say
        // "all up to date" past it.
        let unread = (self.findings.iter())
            .filter(|f| matches!(f.kind, Kind::FileSkipped | Kind::BrokenFile))
            .filter_map(|f| f.location.as_ref().map(|l| l.file.as_str()))
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        let mut line = if drift == 0 && unread > 0 {
            format!(
                "{n} reference(s) in the files read, no drift; {unread} file(s) could not be read"
            )
        } else if drift == 0 {
            format!("{n} reference(s), all up to date")
        } else {
            format!(
                "{n} reference(s): {} up to date, {}",
                totals["up-to-date"],
                parts.join(", ")
            )
        };
        if drift > 0 && unread > 0 {
            line.push_str(&format!("; {unread} file(s) could not be read"));
        }
        let files = self
            .updates
            .iter()
            .map(|u| u.file.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        if self.changed {
            let what = format!("{} value(s) in {files} file(s)", self.updates.len());
            if self.dry_run {
                line.push_str(&format!("; --apply would write {what}"));
            } else {
                if let Some(c) = &self.commit {
                    line.push_str(&format!("; committed {} ({what})", super::short_sha(c)));
                } else if self.pull_requests.is_empty() {
                    line.push_str(&format!("; wrote {what}"));
                }
                for pr in self.pull_requests.iter().filter(|p| p.wrote()) {
                    line.push_str(&format!(
                        "; pull request #{} {}",
                        pr.number,
                        pr.action.as_str()
                    ));
                }
            }
        }
        for pr in &self.pull_requests {
            if pr.action == crate::backend::PullRequestAction::Closed {
                line.push_str(&format!("; closed pull request #{}", pr.number));
            }
        }
        line
    }
}

/// `sha256:0123456789ab…`.
fn short(d: &str) -> String {
    match d.get(..19) {
        Some(s) if s.len() < d.len() => format!("{s}…"),
        _ => d.to_owned(),
    }
}

//! The seam between the spine and where manifests live: the [`Backend`]
//! trait and the data exchanged across it. [`local`] implements it for
//! `--dir`, [`github`] over the GitHub API; [`files`] says which files they
//! offer. This folder is the only part of the spine that touches the file
//! system or GitHub.

use std::collections::BTreeMap;

pub mod files;
pub mod github;
pub mod local;
#[cfg(test)]
pub mod memory;

/// A file read from the backend.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// Path relative to the root, `/`-separated.
    pub path: String,
    /// Raw bytes.
    pub bytes: Vec<u8>,
}

/// What the backend saw at one moment: the head it read and the files.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Commit the files were read at (`None` for a plain directory).
    pub head: Option<String>,
    /// Selected files.
    pub files: Vec<SourceFile>,
    /// Files skipped while reading ([`Kind::FileSkipped`](crate::finding::Kind) warnings).
    pub problems: Vec<crate::finding::Finding>,
    /// What was kept of the files in `problems`, by path, so a guard can
    /// tell whether a skipped file mentions an image of the run. A skipped
    /// file with no entry could not be read at all (a broken symlink, no
    /// permission).
    pub skipped: BTreeMap<String, SkippedContent>,
    /// Paths the selection matched that the repository's `.gitignore` files
    /// exclude, sorted; they were not read. Only a local Git work tree has
    /// any: a commit (and so the GitHub API) holds no ignored file.
    pub ignored: Vec<String>,
    /// Files read and then dropped because the selection's
    /// [`files::FileSelection::keep`] filter rejected them: they hold
    /// nothing this run can use.
    pub dropped: usize,
    /// What the [`files::FileSelection::keep`] filter kept of the files it
    /// outlined, in reading order: their bytes were dropped and the
    /// filter's digest of them kept ([`files::Kept::Outline`]).
    pub outlines: Vec<files::Outline>,
}

/// What a backend kept of a file it could not offer as a manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkippedContent {
    /// Its bytes as stored (it was no larger than `--max-file-size`).
    Raw(Vec<u8>),
    /// It was too large to keep: the [`files::FileSelection::needles`] it
    /// [`files::mentions`], found by a streaming search in bounded memory
    /// (UTF-16 decoded by its byte order mark).
    Mentions(Vec<String>),
}

/// One file's planned new content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileChange {
    /// Path relative to the root.
    pub path: String,
    /// Content the plan was computed from.
    pub old: String,
    /// Content to write.
    pub new: String,
}

impl FileChange {
    /// The lines this change writes, as `(1-based line in the new content,
    /// text without the line ending)`. Verification looks for exactly these
    /// after the write: other writers may change other lines meanwhile.
    pub fn written_lines(&self) -> Vec<(usize, String)> {
        similar::TextDiff::from_lines(&self.old, &self.new)
            .iter_all_changes()
            .filter(|c| c.tag() == similar::ChangeTag::Insert)
            .filter_map(|c| {
                let line = c.new_index()? + 1;
                Some((line, c.value().trim_end_matches(['\n', '\r']).to_owned()))
            })
            .collect()
    }

    /// Returns true if and only if `text` (the file as it is now) still
    /// holds every line this change wrote. Other writers may have changed
    /// other lines since, so this is checked line by line rather than byte
    /// for byte.
    pub fn held_by(&self, text: &str) -> bool {
        if text == self.new {
            return true;
        }
        let present: std::collections::HashSet<&str> = text.lines().collect();
        self.written_lines()
            .iter()
            .all(|(_, line)| present.contains(line.as_str()))
    }
}

/// A pull request a run opened, updated, found up to date or closed
/// (pull-request mode).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullRequest {
    /// Its page on GitHub.
    pub url: String,
    /// Its number.
    pub number: u64,
    /// The head branch (`gitops-bump/…`).
    pub branch: String,
    /// What this run did to it.
    pub action: PullRequestAction,
    /// [`PullRequestAction::Closed`] only: why, in one line (the comment
    /// posted on it says the same at more length).
    pub reason: Option<String>,
    /// [`PullRequestAction::Closed`] only: true if and only if its branch
    /// was deleted (it is kept when it moved while the run closed it).
    pub branch_deleted: bool,
}

impl PullRequest {
    /// Returns true if and only if this run opened it.
    pub fn created(&self) -> bool {
        self.action == PullRequestAction::Opened
    }

    /// Returns true if and only if this run changed what it proposes: it
    /// opened it, or moved its branch to a new commit.
    pub fn wrote(&self) -> bool {
        matches!(
            self.action,
            PullRequestAction::Opened | PullRequestAction::Updated
        )
    }
}

/// What a run did to a pull request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PullRequestAction {
    /// Opened it (its branch was created or already held the change).
    Opened,
    /// Moved its branch to a new commit (and its title and body, when they
    /// differed).
    Updated,
    /// Its branch already held the change; only its title or body was
    /// rewritten.
    Retitled,
    /// Its branch already held exactly this change: nothing was written.
    UpToDate,
    /// The base branch already held the target state: it was closed with a
    /// comment saying so.
    Closed,
}

impl PullRequestAction {
    /// `opened`, `updated`, `retitled`, `up_to_date` or `closed`: the JSON
    /// value.
    pub fn as_str(self) -> &'static str {
        match self {
            PullRequestAction::Opened => "opened",
            PullRequestAction::Updated => "updated",
            PullRequestAction::Retitled => "retitled",
            PullRequestAction::UpToDate => "up_to_date",
            PullRequestAction::Closed => "closed",
        }
    }
}

/// A pull request that a run with nothing to write may close: the base
/// branch already holds what the run asked for, so an open pull request
/// for the same key has nothing left to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retire {
    /// The key of the pull request (as in [`PullRequestSpec::key`]).
    pub key: Vec<String>,
    /// What the base branch already holds, in a few words for the comment
    /// (`ghcr.io/acme/backend:v1.4.0`).
    pub held: String,
}

/// Where a write goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// The branch that was read (`--branch`, or the default branch; the
    /// directory itself for `--dir`).
    Branch,
    /// A pull request into that branch, from a branch of its own.
    PullRequest(PullRequestSpec),
}

/// A pull request a write opens or updates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullRequestSpec {
    /// What the pull request is for, from which its branch name is derived
    /// (`set`: the image repositories it moves): equal keys mean the same
    /// branch and the same pull request.
    pub key: Vec<String>,
    /// Its title.
    pub title: String,
    /// Its body (Markdown).
    pub body: String,
}

/// One atomic write: every change lands together, on top of the snapshot
/// it was planned at, or none does.
#[derive(Clone, Debug)]
pub struct Write {
    /// Where it goes.
    pub target: Target,
    /// The new contents.
    pub changes: Vec<FileChange>,
    /// The commit message, `Gitops-Bump-*` trailers included.
    pub message: String,
    /// Its `Gitops-Bump-Id`, by which a write whose answer was lost is found.
    pub id: String,
}

/// Whether a write whose answer was lost is on the branch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Landed {
    /// It is: this commit holds it.
    Yes(String),
    /// It is not; the branch is at `head` now.
    No {
        /// The branch head now.
        head: Option<String>,
    },
}

/// One commit in a file's recent history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileCommit {
    /// The commit id.
    pub oid: String,
    /// Committer date, Unix seconds.
    pub time: i64,
    /// Who made it: a login, or a name when there is none.
    pub author: String,
    /// The full commit message (`Gitops-Bump-*` trailers included).
    pub message: String,
    /// The file in the commit's first parent; `None` where it did not exist.
    pub before: Option<String>,
    /// The file in the commit; `None` where the commit deleted it.
    pub after: Option<String>,
}

/// The recent history of one file, newest commit first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileHistory {
    /// Path relative to the root.
    pub path: String,
    /// Commits that changed the file within the window, newest first.
    pub commits: Vec<FileCommit>,
    /// True if and only if `depth` cut the list before the window ended.
    pub truncated: bool,
}

/// Backend failures.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The branch head or a file changed since it was read; re-read and re-plan.
    #[error("{0} changed since it was read")]
    Stale(String),
    /// A write got no answer: it may or may not have landed ([`Backend::landed`] says).
    #[error("{what}: no answer ({why})")]
    Ambiguous {
        /// The request.
        what: String,
        /// The transport failure.
        why: String,
    },
    /// A signal (SIGINT, SIGTERM) arrived while writing; the write was
    /// undone or finished first, as [`Interruption`] says.
    #[error("{0}")]
    Interrupted(Interruption),
    /// Anything else, one line, naming the file or command.
    #[error("{0}")]
    Failed(String),
}

/// A write that a signal interrupted. The write is never left half-done:
/// before the first file is replaced it is abandoned (`written` is false;
/// so is a commit whose git step the same Ctrl-C killed: the files are put
/// back); from then on it is finished, commit included, and then reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interruption {
    /// The signal's number (2 for SIGINT, 15 for SIGTERM).
    pub signal: i32,
    /// Its name (`SIGTERM`).
    pub name: &'static str,
    /// True if and only if the write was finished before stopping.
    pub written: bool,
    /// Files the write replaced (0 when it was abandoned).
    pub files: usize,
    /// The commit made, when the write was finished with `--commit`.
    pub commit: Option<String>,
}

impl Interruption {
    /// The conventional exit status of a process stopped by this signal
    /// (128 + its number: 130 for SIGINT, 143 for SIGTERM), so a calling
    /// shell or CI runner sees an interruption, not a failure.
    pub fn exit_code(&self) -> u8 {
        u8::try_from(128 + self.signal).unwrap_or(1)
    }
}

impl std::fmt::Display for Interruption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = self.name;
        if !self.written {
            return write!(
                f,
                "interrupted by {name}; the write was abandoned and nothing was written"
            );
        }
        let files = self.files;
        match &self.commit {
            Some(c) => write!(
                f,
                "interrupted by {name} while writing; the write was finished first ({files} file(s), commit {c}) but not verified"
            ),
            None => write!(
                f,
                "interrupted by {name} while writing; the write was finished first ({files} file(s)) but not verified"
            ),
        }
    }
}

/// Where manifests are read from and written to. Synchronous: backends
/// that talk to an API block on the command's runtime.
pub trait Backend {
    /// A short description for reports (`dir ./gitops`).
    fn describe(&self) -> String;

    /// Reads the head and the selected files.
    fn read(&mut self, files: &files::FileSelection) -> Result<Snapshot, BackendError>;

    /// Makes `write` atomically, on top of `at` only (compare-and-swap):
    /// [`BackendError::Stale`] when the target moved since. Returns the
    /// commit id when one was made.
    fn write(&mut self, at: &Snapshot, write: &Write) -> Result<Option<String>, BackendError>;

    /// After [`BackendError::Ambiguous`]: whether `write` landed (found by
    /// its id in recent history) and where the target is now.
    fn landed(&mut self, write: &Write) -> Result<Landed, BackendError> {
        let _ = write;
        Err(BackendError::Failed(format!(
            "{}: cannot tell whether a write landed",
            self.describe()
        )))
    }

    /// After a write: opens or updates its pull request, for
    /// [`Target::PullRequest`]. `None` otherwise.
    fn publish(&mut self, write: &Write) -> Result<Option<PullRequest>, BackendError> {
        let _ = write;
        Ok(None)
    }

    /// When a run has nothing to write: closes the open pull request for
    /// `retire`'s key, with a comment saying why, and deletes its branch.
    /// `None` when there is none, or the backend has no pull requests.
    /// Refuses (an error, nothing changed) when the branch holds work the
    /// backend did not make.
    fn retire(&mut self, retire: &Retire) -> Result<Option<PullRequest>, BackendError> {
        let _ = retire;
        Ok(None)
    }

    /// Checks that `write` is really in place (and `commit` is reachable
    /// from the head). Returns one line per missing piece.
    fn verify(&mut self, write: &Write, commit: Option<&str>) -> Result<Vec<String>, BackendError>;

    /// What [`Backend::verify`] reads (a branch, a directory) and the checks
    /// it makes beyond "each changed file holds its written lines", for the
    /// verification plan a dry run shows.
    fn verify_plan(&self, write: &Write) -> (String, Vec<String>) {
        let _ = write;
        (self.describe(), Vec::new())
    }

    /// The commits of the last `since` (Unix seconds, inclusive) that
    /// changed each of `paths` on the branch that was read, at most `depth`
    /// per file, newest first. `None` when the backend has no history (a
    /// plain directory). Backends that talk to an API read every path in
    /// one request.
    fn history(
        &mut self,
        paths: &[String],
        since: i64,
        depth: usize,
    ) -> Result<Option<Vec<FileHistory>>, BackendError> {
        let _ = (paths, since, depth);
        Ok(None)
    }

    /// API requests sent so far, for backends that talk to an API.
    fn api_requests(&self) -> Option<u64> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_by_tolerates_other_writers_lines() {
        let change = FileChange {
            path: "a.yaml".into(),
            old: "a: 1\nb: 1\n".into(),
            new: "a: 2\nb: 1\n".into(),
        };
        assert!(change.held_by("a: 2\nb: 1\n"));
        assert!(change.held_by("a: 2\nb: 7\n"));
        assert!(!change.held_by("a: 1\nb: 7\n"));
    }
}

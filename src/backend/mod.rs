//! The seam between the spine and where manifests live: the [`Backend`]
//! trait and the data exchanged across it. [`local`] implements it for
//! `--dir`, [`github`] over the GitHub API; [`files`] says which files they
//! offer. This folder is the only part of the spine that touches the file
//! system or GitHub.

pub mod files;
pub mod github;
pub mod local;

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
}

/// A pull request opened or updated for a write (pull-request mode).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PullRequest {
    /// Its page on GitHub.
    pub url: String,
    /// Its number.
    pub number: u64,
    /// True if and only if this run opened it (false: an open one was updated).
    pub created: bool,
    /// The head branch (`gitops-bump/…`).
    pub branch: String,
}

/// Backend failures.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The branch head or a file changed since it was read; re-read and re-plan.
    #[error("{0} changed since it was read")]
    Stale(String),
    /// Anything else, one line, naming the file or command.
    #[error("{0}")]
    Failed(String),
}

/// Where manifests are read from and written to.
pub trait Backend {
    /// A short description for reports (`dir ./gitops`).
    fn describe(&self) -> String;

    /// Reads the head and the selected files.
    fn read(&mut self, files: &files::FileSelection) -> Result<Snapshot, BackendError>;

    /// Writes `changes` atomically, on top of `snapshot` only (compare-and-swap).
    /// Returns the commit id when one was made.
    fn commit(
        &mut self,
        snapshot: &Snapshot,
        changes: &[FileChange],
        message: &str,
    ) -> Result<Option<String>, BackendError>;

    /// Checks that `changes` are really in place (and `commit` is reachable
    /// from the head). Returns one line per missing piece.
    fn verify(
        &mut self,
        commit: Option<&str>,
        changes: &[FileChange],
    ) -> Result<Vec<String>, BackendError>;

    /// API requests sent so far, for backends that talk to an API.
    fn api_requests(&self) -> Option<u64> {
        None
    }

    /// After a commit: opens or updates the pull request for it, when the
    /// backend works in pull-request mode. `None` otherwise.
    fn publish(&mut self, _title: &str, _body: &str) -> Result<Option<PullRequest>, BackendError> {
        Ok(None)
    }

    /// What [`Backend::verify`] reads (a branch, a directory) and the checks
    /// it makes beyond "each changed file holds its written lines", for the
    /// verification plan a dry run shows.
    fn verify_plan(&self) -> (String, Vec<String>) {
        (self.describe(), Vec::new())
    }
}

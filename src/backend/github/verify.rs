//! Verification on GitHub: re-read the branch after a write; the commit
//! must be its head or an ancestor, and each changed file must still hold
//! the lines written (other writers may have changed other lines since).

use serde_json::Value;

use super::client::REST_LIMIT;
use super::read::{Fetched, classify_file};
use super::{Api, GitHubError, short};
use crate::backend::FileChange;

impl Api {
    /// Re-reads the branch: `commit` must be its head or an ancestor, and
    /// each changed file there must still hold the lines we wrote.
    pub(super) async fn verify(
        &self,
        commit: Option<&str>,
        changes: &[FileChange],
    ) -> Result<Vec<String>, GitHubError> {
        let paths: Vec<String> = changes.iter().map(|c| c.path.clone()).collect();
        let (at_head, history) = self.query_files(&paths, None, true).await?;
        let mut missing = Vec::new();
        let branch = self.branch();
        if let Some(commit) = commit {
            let in_history = history
                .as_ref()
                .is_some_and(|h| h.nodes.iter().any(|n| n.oid == commit));
            if !in_history && let Some(problem) = self.not_ancestor(commit, &at_head.oid).await? {
                missing.push(problem);
            }
        }
        for (change, entry) in changes.iter().zip(at_head.files) {
            let text = match classify_file(entry, u64::MAX) {
                Fetched::Text(t) => Some(t),
                // The file holds what we wrote plus what others wrote since:
                // read it even past --max-file-size, within reason.
                Fetched::Blob(oid) => self
                    .blob(
                        &oid,
                        &change.path,
                        self.max_size.max(4 * change.new.len() as u64),
                    )
                    .await
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok()),
                Fetched::Absent | Fetched::TooLarge { .. } => None,
            };
            if !text.is_some_and(|t| change.held_by(&t)) {
                missing.push(format!(
                    "{} at {branch} head {} does not hold the new content",
                    change.path,
                    short(&at_head.oid)
                ));
            }
        }
        Ok(missing)
    }

    /// For a commit older than the history window: the compare API says
    /// whether the head contains it. `None` when it does.
    async fn not_ancestor(&self, commit: &str, head: &str) -> Result<Option<String>, GitHubError> {
        let what = format!("compare {} with {}", short(commit), self.branch());
        let url = self.rest(&format!("compare/{commit}...{head}"));
        match self.get(url, &what, REST_LIMIT).await {
            Ok(v) => {
                let status = v.get("status").and_then(Value::as_str).unwrap_or("");
                Ok(match status {
                    "ahead" | "identical" => None,
                    other => Some(format!(
                        "commit {commit} is not on {} (head {}; compare says {other:?})",
                        self.branch(),
                        short(head)
                    )),
                })
            }
            Err(GitHubError::NotFound { .. }) => Ok(Some(format!(
                "commit {commit} is not in {} at all",
                self.repo
            ))),
            Err(e) => Err(e),
        }
    }
}

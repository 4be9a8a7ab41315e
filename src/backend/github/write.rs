//! The write side of the GitHub backend: one `createCommitOnBranch` with
//! `expectedHeadOid` (a true compare-and-swap on the branch head), or, for
//! `--api rest`, a commit built with the Git data API and a `PATCH` of the
//! ref with `force: false`; and the lookup of a write whose answer was lost,
//! by its `Gitops-Bump-Id` in recent history. Retrying is the write path's
//! (`crate::commit`), not this module's: every call sends once.

use base64::Engine as _;
use serde_json::{Value, json};

use super::client::{Req, message_of};
use super::graphql::{self, History};
use super::types::encode_path;
use super::{Api, GitHubError, ReadState, short};
use crate::backend::{FileChange, Landed};
use crate::commit::trailer;

impl Api {
    /// Commits `changes` on top of `state.head` with one
    /// `createCommitOnBranch`; returns the new commit id.
    pub(super) async fn commit_graphql(
        &self,
        state: &ReadState,
        changes: &[FileChange],
        message: &str,
    ) -> Result<String, GitHubError> {
        let (headline, body) = message.split_once('\n').unwrap_or((message, ""));
        let b64 = base64::engine::general_purpose::STANDARD;
        let additions: Vec<Value> = changes
            .iter()
            .map(|c| json!({"path": c.path, "contents": b64.encode(&c.new)}))
            .collect();
        let vars = json!({"input": {
            "branch": {"repositoryNameWithOwner": self.repo.to_string(), "branchName": self.branch()},
            "expectedHeadOid": state.head,
            "message": {"headline": headline.trim(), "body": body.trim()},
            "fileChanges": {"additions": additions},
        }});
        let what = format!("commit to {}", self.branch());
        let sent = self
            .client
            .graphql(
                &self.endpoints.graphql,
                graphql::CREATE_COMMIT,
                vars,
                &what,
                false,
            )
            .await;
        match sent {
            Ok(data) => data
                .pointer("/createCommitOnBranch/commit/oid")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| GitHubError::Unexpected {
                    what: what.clone(),
                    message: "no commit in the answer".into(),
                }),
            Err(GitHubError::Stale(m)) => Err(GitHubError::Stale(format!(
                "branch {} ({m})",
                self.branch()
            ))),
            Err(e) => Err(e),
        }
    }

    /// `--api rest`: builds the commit with the Git data API, then moves the
    /// branch to it with `force: false`; returns the new commit id.
    pub(super) async fn commit_rest(
        &self,
        state: &ReadState,
        changes: &[FileChange],
        message: &str,
    ) -> Result<String, GitHubError> {
        let commit = self.detached_commit(state, changes, message).await?;
        let what = format!("move {} to {}", self.branch(), short(&commit));
        let body = json!({"sha": commit, "force": false});
        let r = self
            .client
            .send(&Req {
                method: reqwest::Method::PATCH,
                url: self.rest(&format!("git/refs/heads/{}", encode_path(self.branch()))),
                body: Some(&body),
                what: &what,
                idempotent: false,
            })
            .await?;
        match r.status.as_u16() {
            _ if r.status.is_success() => Ok(commit),
            // https://docs.github.com/en/rest/git/refs#update-a-reference
            422 => Err(GitHubError::Stale(format!(
                "branch {} ({})",
                self.branch(),
                message_of(&r.json)
            ))),
            status => Err(GitHubError::Unexpected {
                what,
                message: format!("HTTP {status}: {}", message_of(&r.json)),
            }),
        }
    }

    /// A commit of `changes` on top of the head `state` saw, on no branch
    /// yet (Git data API: a tree with `base_tree`, then the commit).
    pub(super) async fn detached_commit(
        &self,
        state: &ReadState,
        changes: &[FileChange],
        message: &str,
    ) -> Result<String, GitHubError> {
        let entries: Vec<Value> = changes
            .iter()
            .map(|c| {
                let mode = state.modes.get(&c.path).copied().unwrap_or(0o100644);
                json!({"path": c.path, "mode": format!("{mode:o}"), "type": "blob", "content": c.new})
            })
            .collect();
        // Creating trees and commits is content-addressed: repeating it is harmless.
        let tree = self
            .post_sha(
                "git/trees",
                &json!({"base_tree": state.tree, "tree": entries}),
                "create a tree",
            )
            .await?;
        self.post_sha(
            "git/commits",
            &json!({"message": message, "tree": tree, "parents": [state.head]}),
            "create a commit",
        )
        .await
    }

    async fn post_sha(&self, path: &str, body: &Value, what: &str) -> Result<String, GitHubError> {
        let r = self
            .client
            .send(&Req {
                method: reqwest::Method::POST,
                url: self.rest(path),
                body: Some(body),
                what,
                idempotent: true,
            })
            .await?;
        match r.json.get("sha").and_then(Value::as_str) {
            Some(sha) if r.status.is_success() => Ok(sha.to_owned()),
            _ => Err(GitHubError::Unexpected {
                what: what.to_owned(),
                message: format!("HTTP {}: {}", r.status.as_u16(), message_of(&r.json)),
            }),
        }
    }

    /// Looks through the branch's recent history for the commit carrying
    /// `Gitops-Bump-Id: id`.
    pub(super) async fn landed(&self, id: &str) -> Result<Landed, GitHubError> {
        let data = self
            .graphql(
                graphql::RECENT_HISTORY,
                json!({"owner": self.repo.owner, "name": self.repo.name,
                       "ref": self.qualified_ref(), "depth": graphql::HISTORY_DEPTH}),
                &format!("look for our commit on {}", self.branch()),
            )
            .await?;
        let target = data.pointer("/repository/ref/target");
        let head = target
            .and_then(|t| t.get("oid"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let history: History = target
            .and_then(|t| t.get("history"))
            .and_then(|h| serde_json::from_value(h.clone()).ok())
            .unwrap_or(History { nodes: Vec::new() });
        let ours = history.nodes.iter().find(|n| {
            n.message
                .as_deref()
                .and_then(trailer::id)
                .is_some_and(|found| found == id)
        });
        Ok(match ours {
            Some(n) => Landed::Yes(n.oid.clone()),
            None => Landed::No { head },
        })
    }
}

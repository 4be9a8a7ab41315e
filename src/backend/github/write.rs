//! The write side of the GitHub backend: one `createCommitOnBranch` with
//! `expectedHeadOid` (a true compare-and-swap on the branch head), or, for
//! `--api rest`, a commit built with the Git data API and a `PATCH` of the
//! ref with `force: false`; and the lookup of a write whose answer was lost,
//! by its `Gitops-Bump-Id` in recent history. Pull-request mode (`pull`)
//! uses the same commit on any branch ([`Api::commit_on`]) and the tree
//! GitHub computes for a plan ([`Api::tree_with`]). Retrying is the write path's
//! (`crate::commit`), not this module's: every call sends once.
//!
//! Every answer is classified into exactly one of the write path's classes:
//! landed (a checked commit id), [`GitHubError::Stale`] (any of GitHub's
//! compare-and-swap wordings, [`super::lost_race`]), [`GitHubError::Ambiguous`]
//! (no answer, or an unusable answer to a mutation that may have landed), or
//! a failure.

use base64::Engine as _;
use serde_json::{Value, json};

use super::client::{Req, lost_race, message_of};
use super::graphql::{self, History};
use super::types::{checked_oid, encode_path};
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
        let branch = self.branch().to_owned();
        let (oid, _) = self
            .commit_on(&branch, &state.head, changes, message)
            .await?;
        Ok(oid)
    }

    /// Commits `changes` to `branch` on top of `expected` only, with one
    /// `createCommitOnBranch` (which GitHub signs); returns the new commit
    /// id and, when GitHub answered it, its tree's id.
    pub(super) async fn commit_on(
        &self,
        branch: &str,
        expected: &str,
        changes: &[FileChange],
        message: &str,
    ) -> Result<(String, Option<String>), GitHubError> {
        let (headline, body) = message.split_once('\n').unwrap_or((message, ""));
        let b64 = base64::engine::general_purpose::STANDARD;
        let additions: Vec<Value> = changes
            .iter()
            .map(|c| json!({"path": c.path, "contents": b64.encode(&c.new)}))
            .collect();
        let vars = json!({"input": {
            "branch": {"repositoryNameWithOwner": self.repo.to_string(), "branchName": branch},
            "expectedHeadOid": expected,
            "message": {"headline": headline.trim(), "body": body.trim()},
            "fileChanges": {"additions": additions},
        }});
        let what = format!("commit to {branch}");
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
            // The mutation answered without errors, so it most likely
            // landed; an answer without a usable commit id is refused and,
            // like a lost answer, looked up by its `Gitops-Bump-Id`.
            Ok(data) => {
                let oid = data
                    .pointer("/createCommitOnBranch/commit/oid")
                    .and_then(Value::as_str);
                let oid = checked_oid(oid, "the new commit's oid", &what).map_err(|e| {
                    GitHubError::Ambiguous {
                        what: what.clone(),
                        message: match e {
                            GitHubError::Unexpected { message, .. } => {
                                format!("unexpected answer: {message}")
                            }
                            other => other.to_string(),
                        },
                    }
                })?;
                let tree = data
                    .pointer("/createCommitOnBranch/commit/tree/oid")
                    .and_then(Value::as_str)
                    .filter(|t| super::types::is_oid(t))
                    .map(str::to_owned);
                Ok((oid, tree))
            }
            Err(GitHubError::Stale(m)) => Err(GitHubError::Stale(format!("branch {branch} ({m})"))),
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
        let url = self.rest(&format!("git/refs/heads/{}", encode_path(self.branch())));
        let r = self
            .client
            .send(&Req::rest(
                reqwest::Method::PATCH,
                url,
                Some(&body),
                &what,
                false,
            ))
            .await?;
        let message = message_of(&r.json);
        match r.status.as_u16() {
            _ if r.status.is_success() => Ok(commit),
            // https://docs.github.com/en/rest/git/refs#update-a-reference:
            // "Update is not a fast forward", or the race lost after it.
            422 if lost_race(&message) => Err(GitHubError::Stale(format!(
                "branch {} ({message})",
                self.branch()
            ))),
            422 if message.contains("Reference does not exist") => {
                Err(GitHubError::NotFound { what, message })
            }
            status => Err(GitHubError::Unexpected {
                what,
                message: format!("HTTP {status}: {message}"),
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
        let tree = self.tree_with(state, changes).await?;
        self.post_sha(
            "git/commits",
            &json!({"message": message, "tree": tree, "parents": [state.head]}),
            "create a commit",
        )
        .await
    }

    /// The tree of the head `state` saw with `changes` written over it,
    /// each file keeping its mode (Git data API, `POST git/trees` with
    /// `base_tree`): GitHub computes it, no commit is made. Repeating it is
    /// harmless (content-addressed).
    pub(super) async fn tree_with(
        &self,
        state: &ReadState,
        changes: &[FileChange],
    ) -> Result<String, GitHubError> {
        let entries: Vec<Value> = changes
            .iter()
            .map(|c| {
                let mode = state.modes.get(&c.path).copied().unwrap_or(0o100644);
                json!({"path": c.path, "mode": format!("{mode:o}"), "type": "blob", "content": c.new})
            })
            .collect();
        self.post_sha(
            "git/trees",
            &json!({"base_tree": state.tree, "tree": entries}),
            "create a tree",
        )
        .await
    }

    async fn post_sha(&self, path: &str, body: &Value, what: &str) -> Result<String, GitHubError> {
        let r = self
            .client
            .send(&Req::rest(
                reqwest::Method::POST,
                self.rest(path),
                Some(body),
                what,
                true,
            ))
            .await?;
        if !r.status.is_success() {
            return Err(GitHubError::Unexpected {
                what: what.to_owned(),
                message: format!("HTTP {}: {}", r.status.as_u16(), message_of(&r.json)),
            });
        }
        checked_oid(r.json.get("sha").and_then(Value::as_str), "sha", what)
    }

    /// Looks through the branch's recent history for the commit carrying
    /// `Gitops-Bump-Id: id`.
    pub(super) async fn landed(&self, id: &str) -> Result<Landed, GitHubError> {
        let what = format!("look for our commit on {}", self.branch());
        let data = self
            .graphql(
                graphql::RECENT_HISTORY,
                json!({"owner": self.repo.owner, "name": self.repo.name,
                       "ref": self.qualified_ref(), "depth": graphql::HISTORY_DEPTH}),
                &what,
            )
            .await?;
        let target = data
            .pointer("/repository/ref/target")
            .filter(|t| !t.is_null());
        let head = target
            .map(|t| {
                checked_oid(
                    t.get("oid").and_then(Value::as_str),
                    "the head's oid",
                    &what,
                )
            })
            .transpose()?;
        let history = match target.and_then(|t| t.get("history")) {
            Some(h) => History::from_answer(h, &what)?,
            None => History { nodes: Vec::new() },
        };
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

//! The GitHub backend: reads manifests at a branch head and commits with
//! compare-and-swap through the API, without cloning (DESIGN.md §6).
//!
//! Owns the request plan: tree listing → one pinned GraphQL file query
//! ([`read`]) → one `createCommitOnBranch`, or the REST fallback for
//! `--api rest`, and the "did my lost write land?" lookup by the
//! `Gitops-Bump-Id` trailer ([`write`]) → one verification read
//! ([`verify`]). Pull-request targets (the branch, the pull request, its
//! check and closing it when stale) live in [`pull`], with the branch name
//! in [`pull_branch`] and the "is this branch still ours?" judgment in
//! [`pull_head`]; configuration and value types in [`types`]; the
//! recent history of the files a write touches, for the writer guards, in
//! `history`.
//! Does not own retrying a write or re-planning after a CAS miss: it
//! answers [`BackendError::Stale`] or [`BackendError::Ambiguous`] and the
//! write path (`crate::commit`) decides.
//!
//! The [`Backend`] trait is synchronous; this backend blocks on the
//! command's current-thread tokio runtime for each call, so the spine stays
//! simple.

mod client;
pub mod graphql;
mod history;
mod pull;
mod pull_branch;
mod pull_head;
mod read;
mod types;
mod verify;
mod write;

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::backend::files::FileSelection;
use crate::backend::{
    Backend, BackendError, FileHistory, Landed, PullRequest, Retire, Snapshot, Target, Write,
};
use crate::commit::retry::{Deadline, RetrySettings};
use client::{Client, Req, message_of};
pub use client::{GRAPHQL_LIMIT, REST_LIMIT, TREE_LIMIT, USER_AGENT, lost_race};
pub use pull::{TMP_PREFIX, pull_request_branch};
pub use types::{ApiKind, Config, Endpoints, RepoName, valid_branch};

/// Paths per GraphQL file query; more are read in further queries pinned to
/// the same commit.
const CHUNK: usize = 50;

/// GitHub backend failures, before they become [`BackendError`]s.
#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    /// The branch moved since it was read (`STALE_DATA`, 422 not a fast forward).
    #[error("{0}")]
    Stale(String),
    /// 401: the token is wrong or expired.
    #[error(
        "GitHub answered 401 Bad credentials: the token in GITHUB_TOKEN (or GH_TOKEN) is invalid or expired"
    )]
    BadCredentials,
    /// 403 that is not a rate limit: a missing permission.
    #[error(
        "{what}: GitHub answered 403 Forbidden ({message}); the token needs `{permission}` on the repository (in a workflow: `permissions: {permission}`){hint}"
    )]
    Forbidden {
        /// The request.
        what: String,
        /// GitHub's message.
        message: String,
        /// The permission the request needs (`contents: write`).
        permission: &'static str,
        /// More help, starting with `; ` (or empty).
        hint: &'static str,
    },
    /// 404 or `NOT_FOUND`: repository or branch.
    #[error(
        "{what}: not found ({message}); check --repo and --branch, and that the token can read the repository (`contents: read`)"
    )]
    NotFound {
        /// The request.
        what: String,
        /// GitHub's message.
        message: String,
    },
    /// The primary rate limit resets after the deadline.
    #[error("{what}: {why}; that is {wait_secs}s away, past the --deadline of {deadline_secs}s")]
    RateLimited {
        /// The request.
        what: String,
        /// Which limit.
        why: String,
        /// Seconds until the reset.
        wait_secs: u64,
        /// The configured deadline.
        deadline_secs: u64,
    },
    /// Retries ran out (attempts or deadline).
    #[error("{what}: gave up after {attempts} attempt(s); last: {last}")]
    GaveUp {
        /// The request.
        what: String,
        /// Attempts made.
        attempts: usize,
        /// The last failure.
        last: String,
    },
    /// A write got no answer: it may or may not have landed.
    #[error("{what}: no answer ({message}); the write may have landed")]
    Ambiguous {
        /// The request.
        what: String,
        /// The transport failure.
        message: String,
    },
    /// An answer longer than its cap ([`TREE_LIMIT`], [`GRAPHQL_LIMIT`], …):
    /// refused at once, never retried (another attempt gets the same).
    #[error("{what}: the answer is larger than {}; refusing it", size(*limit))]
    TooLarge {
        /// The request.
        what: String,
        /// The cap, in bytes.
        limit: usize,
    },
    /// A non-recursive tree listing GitHub cut short: the REST tree API has
    /// no way to page it, and reading on would silently miss files.
    #[error(
        "{what}: GitHub cut the listing of {dir} short (`truncated: true`), so files in it would be missed; name the files with exact --files paths instead of globs"
    )]
    Truncated {
        /// The request.
        what: String,
        /// The directory (`/` for the root).
        dir: String,
    },
    /// An answer we did not expect. The message is shown as one bounded
    /// line (it may quote the answer, for example in a decoding error).
    #[error("{what}: unexpected answer: {}", client::bounded(message))]
    Unexpected {
        /// The request.
        what: String,
        /// What was wrong with it.
        message: String,
    },
    /// Pull-request mode: the branch head is not exactly a commit
    /// gitops-bump made (someone amended it, stacked a commit on it…).
    #[error(
        "{branch} holds work gitops-bump did not make: its head {commit} (committed by {committer}) {why}. gitops-bump re-creates that branch from the base on every run and will not throw that work away, so nothing was written: merge or close its pull request and delete the branch, then run again"
    )]
    BranchModified {
        /// The pull-request branch.
        branch: String,
        /// The head commit, shortened.
        commit: String,
        /// Who committed it.
        committer: String,
        /// What shows it is not gitops-bump's.
        why: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot set up the HTTP client: {0}")]
    Setup(String),
}

impl From<GitHubError> for BackendError {
    fn from(e: GitHubError) -> Self {
        match e {
            GitHubError::Stale(m) => BackendError::Stale(m),
            GitHubError::Ambiguous { what, message } => {
                BackendError::Ambiguous { what, why: message }
            }
            e => BackendError::Failed(e.to_string()),
        }
    }
}

/// The GitHub backend for `--repo`.
#[derive(Debug)]
pub struct GitHub {
    rt: std::sync::Arc<tokio::runtime::Runtime>,
    api: Api,
    /// What the last read saw, for the REST write path (base tree, modes).
    last: Option<ReadState>,
    /// Pull-request state per pull-request branch, for this run.
    pulls: HashMap<String, pull::PrContext>,
}

impl GitHub {
    /// Builds the backend on the command's runtime; no request is sent yet.
    pub fn new(
        source: &Config,
        retry: RetrySettings,
        rt: std::sync::Arc<tokio::runtime::Runtime>,
    ) -> Result<GitHub, BackendError> {
        let client = Client::new(
            source.token.clone(),
            retry.max_attempts,
            Deadline::after(retry.deadline),
        )?;
        Ok(GitHub {
            rt,
            api: Api {
                client,
                repo: source.repo.clone(),
                branch: source.branch.clone(),
                on: None,
                kind: source.api,
                endpoints: source.endpoints.clone(),
                max_size: u64::MAX,
            },
            last: None,
            pulls: HashMap::new(),
        })
    }

    /// The base branch: `--branch`, or the default branch once read.
    fn base(&self) -> &str {
        self.api.branch.as_deref().unwrap_or("the default branch")
    }
}

/// The pull-request state for `key`'s branch on `base`.
fn pull_state<'a>(
    pulls: &'a mut HashMap<String, pull::PrContext>,
    base: &str,
    key: &[String],
) -> &'a mut pull::PrContext {
    pulls
        .entry(pull_request_branch(base, key))
        .or_insert_with(|| pull::PrContext::new(key.to_vec()))
}

impl Backend for GitHub {
    fn describe(&self) -> String {
        match &self.api.branch {
            Some(b) => format!("github {}@{b}", self.api.repo),
            None => format!("github {}", self.api.repo),
        }
    }

    fn read(&mut self, files: &FileSelection) -> Result<Snapshot, BackendError> {
        if self.api.branch.is_none() {
            let branch = self.rt.block_on(self.api.default_branch())?;
            self.api.branch = Some(branch);
        }
        // Every round reads `--branch`, also in pull-request mode: the pull
        // request's branch is re-created from it (see `pull`).
        self.api.on = None;
        self.api.max_size = files.max_size;
        let (snapshot, state) = self.rt.block_on(self.api.read(files))?;
        self.last = Some(state);
        Ok(snapshot)
    }

    fn write(
        &mut self,
        snapshot: &Snapshot,
        write: &Write,
    ) -> Result<Option<String>, BackendError> {
        let state = match (self.last.take(), &snapshot.head) {
            (Some(s), Some(head)) if &s.head == head => s,
            _ => {
                return Err(BackendError::Failed(
                    "impossible: commit without a read of the same head".into(),
                ));
            }
        };
        let (changes, message) = (&write.changes, write.message.as_str());
        let oid = match &write.target {
            Target::PullRequest(spec) => {
                let base = self.base().to_owned();
                let pr = pull_state(&mut self.pulls, &base, &spec.key);
                self.rt
                    .block_on(pull::commit(&mut self.api, pr, &state, write))
            }
            Target::Branch => match self.api.kind {
                ApiKind::Graphql => self
                    .rt
                    .block_on(self.api.commit_graphql(&state, changes, message))
                    .map(Some),
                ApiKind::Rest => self
                    .rt
                    .block_on(self.api.commit_rest(&state, changes, message))
                    .map(Some),
            },
        };
        // A write with no answer may be sent again on the same read.
        self.last = Some(state);
        Ok(oid?)
    }

    fn landed(&mut self, write: &Write) -> Result<Landed, BackendError> {
        Ok(self.rt.block_on(self.api.landed(&write.id))?)
    }

    fn publish(&mut self, write: &Write) -> Result<Option<PullRequest>, BackendError> {
        let Target::PullRequest(spec) = &write.target else {
            return Ok(None);
        };
        let base = self.base().to_owned();
        let pr = pull_state(&mut self.pulls, &base, &spec.key);
        let out = self
            .rt
            .block_on(pull::publish(&self.api, pr, &spec.title, &spec.body))?;
        Ok(Some(out))
    }

    fn retire(&mut self, retire: &Retire) -> Result<Option<PullRequest>, BackendError> {
        let base = self.base().to_owned();
        let head = self.last.as_ref().map(|s| s.head.clone());
        let pr = pull_state(&mut self.pulls, &base, &retire.key);
        Ok(self.rt.block_on(pull::retire(
            &mut self.api,
            pr,
            head.as_deref(),
            &retire.held,
        ))?)
    }

    fn verify(&mut self, write: &Write, commit: Option<&str>) -> Result<Vec<String>, BackendError> {
        if let Target::PullRequest(spec) = &write.target {
            let base = self.base().to_owned();
            let pr = pull_state(&mut self.pulls, &base, &spec.key);
            return Ok(self.rt.block_on(pull::verify(&self.api, pr, write))?);
        }
        Ok(self.rt.block_on(self.api.verify(commit, &write.changes))?)
    }

    fn verify_plan(&self, write: &Write) -> (String, Vec<String>) {
        let base = self.base();
        match &write.target {
            Target::PullRequest(spec) => {
                let branch = pull_request_branch(base, &spec.key);
                (
                    branch.clone(),
                    vec![
                        format!("the new commit is the head of {branch} or an ancestor of it"),
                        format!("the pull request from {branch} into {base} is open"),
                    ],
                )
            }
            Target::Branch => (
                base.to_owned(),
                vec![format!(
                    "the new commit is the head of {base} or an ancestor of it"
                )],
            ),
        }
    }

    fn history(
        &mut self,
        paths: &[String],
        since: i64,
        depth: usize,
    ) -> Result<Option<Vec<FileHistory>>, BackendError> {
        if self.api.branch.is_none() {
            let branch = self.rt.block_on(self.api.default_branch())?;
            self.api.branch = Some(branch);
        }
        let head = self.last.as_ref().map(|s| s.head.clone());
        let found = self
            .rt
            .block_on(self.api.history(paths, head.as_deref(), since, depth))?;
        Ok(Some(found))
    }

    fn api_requests(&self) -> Option<u64> {
        Some(self.api.client.requests())
    }
}

/// What one read saw.
#[derive(Debug)]
struct ReadState {
    head: String,
    tree: String,
    /// Git modes by path (`0o100644`), for the REST tree.
    modes: HashMap<String, u32>,
}

/// The request side, apart from the runtime so `block_on` can borrow both.
#[derive(Debug)]
struct Api {
    client: Client,
    repo: RepoName,
    /// `--branch` (or the default branch, once looked up).
    branch: Option<String>,
    /// The branch being written, when it is not `branch` (the pull-request
    /// branch, after [`GitHub::write`] chose it); reads of `--branch` reset it.
    on: Option<String>,
    kind: ApiKind,
    endpoints: Endpoints,
    /// `--max-file-size` of the last read (blob answers are capped by it).
    max_size: u64,
}

impl Api {
    /// The branch requests are about: the one being written when that is
    /// not `--branch` (pull-request mode), else `--branch`.
    fn branch(&self) -> &str {
        self.on
            .as_deref()
            .or(self.branch.as_deref())
            .unwrap_or("HEAD")
    }

    fn qualified_ref(&self) -> String {
        format!("refs/heads/{}", self.branch())
    }

    fn rest(&self, path: &str) -> String {
        format!(
            "{}/repos/{}/{}/{path}",
            self.endpoints.api, self.repo.owner, self.repo.name
        )
    }

    /// GETs `url`, refusing an answer over `limit` bytes.
    async fn get(&self, url: String, what: &str, limit: usize) -> Result<Value, GitHubError> {
        let resp = self
            .client
            .send(&Req {
                limit,
                ..Req::rest(reqwest::Method::GET, url, None, what, true)
            })
            .await?;
        if !resp.status.is_success() {
            return Err(GitHubError::Unexpected {
                what: what.to_owned(),
                message: format!("HTTP {}: {}", resp.status.as_u16(), message_of(&resp.json)),
            });
        }
        Ok(resp.json)
    }

    async fn graphql(&self, query: &str, vars: Value, what: &str) -> Result<Value, GitHubError> {
        self.client
            .graphql(&self.endpoints.graphql, query, vars, what, true)
            .await
    }

    async fn default_branch(&self) -> Result<String, GitHubError> {
        let what = format!("find the default branch of {}", self.repo);
        let data = self
            .graphql(
                graphql::DEFAULT_BRANCH,
                json!({"owner": self.repo.owner, "name": self.repo.name}),
                &what,
            )
            .await?;
        data.pointer("/repository/defaultBranchRef/name")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| GitHubError::NotFound {
                what,
                message: "the repository has no default branch (is it empty?)".into(),
            })
    }
}

fn short(oid: &str) -> &str {
    oid.get(..12).unwrap_or(oid)
}

/// `bytes` for messages: whole mebibytes as `64 MiB`, else bytes.
fn size(bytes: usize) -> String {
    if bytes >= client::MIB && bytes.is_multiple_of(client::MIB) {
        format!("{} MiB", bytes / client::MIB)
    } else {
        format!("{bytes} bytes")
    }
}

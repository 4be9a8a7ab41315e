//! The GitHub backend: reads manifests at a branch head and commits with
//! compare-and-swap through the API, without cloning (DESIGN.md §6).
//!
//! Owns the request plan (tree listing → one pinned GraphQL file query →
//! one `createCommitOnBranch` → one verification read), the REST fallback
//! (`--api rest`), and the "did my lost write land?" lookup by the
//! `Gitops-Bump-Id` trailer. Pull-request mode (`--pull-request`: the
//! branch, the pull request and its check) lives in `pull`. Does not own
//! re-planning after a CAS miss: it answers [`BackendError::Stale`] and the
//! `set` loop re-reads.
//!
//! The [`Backend`] trait is synchronous; this backend owns a current-thread
//! tokio runtime and blocks on each call, so the spine stays simple.

mod client;
pub mod graphql;
mod pull;

use std::collections::HashMap;
use std::fmt;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::backend::files::{FileSelection, too_large};
use crate::backend::{Backend, BackendError, FileChange, PullRequest, Snapshot, SourceFile};
use crate::finding::Finding;
use crate::retry::RetrySettings;
use crate::retry::{Backoff, Deadline};
pub use client::USER_AGENT;
use client::{Client, Req, message_of};
use graphql::{Anchor, BlobFields, FileEntry, History};
pub use pull::pull_request_branch;

/// Paths per GraphQL file query; more are read in further queries pinned to
/// the same commit.
const CHUNK: usize = 50;

/// Everything the GitHub backend needs, checked by `settings`.
#[derive(Debug)]
pub struct Config {
    /// `OWNER/NAME`.
    pub repo: RepoName,
    /// Branch to commit to; `None` means the default branch.
    pub branch: Option<String>,
    /// Write path.
    pub api: ApiKind,
    /// REST and GraphQL endpoints.
    pub endpoints: Endpoints,
    /// From `GITHUB_TOKEN` or `GH_TOKEN` (redacted in `Debug`).
    pub token: Token,
    /// `--pull-request`: the image repositories the branch name is derived
    /// from (see [`pull_request_branch`]); `None` commits to the branch
    /// itself.
    pub pull_request: Option<Vec<String>>,
}

/// How commits are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiKind {
    /// One `createCommitOnBranch` mutation (compare-and-swap on `expectedHeadOid`).
    Graphql,
    /// Blobs and tree, a commit, then `PATCH git/refs` with `force: false`
    /// (GitHub Enterprise Server versions without `createCommitOnBranch`).
    Rest,
}

/// An API token. `Debug` and `Display` never show it.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// Wraps a token read from the environment.
    pub fn new(secret: String) -> Token {
        Token(secret)
    }

    /// The secret itself, for the `Authorization` header only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// `OWNER/NAME`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoName {
    /// User or organization.
    pub owner: String,
    /// Repository name.
    pub name: String,
}

impl RepoName {
    /// Parses `OWNER/NAME` (letters, digits, `-`, `_`, `.`).
    pub fn parse(s: &str) -> Result<RepoName, String> {
        let ok = |p: &str| {
            !p.is_empty()
                && p != "."
                && p != ".."
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        match s.trim().split_once('/') {
            Some((owner, name)) if ok(owner) && ok(name) => Ok(RepoName {
                owner: owner.to_owned(),
                name: name.to_owned(),
            }),
            _ => Err("expected OWNER/NAME".into()),
        }
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// The REST and GraphQL base URLs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    /// REST base, without a trailing `/` (`https://HOST/api/v3` on GHES).
    pub api: String,
    /// GraphQL endpoint.
    pub graphql: String,
}

impl Endpoints {
    /// From `GITHUB_API_URL` and `GITHUB_GRAPHQL_URL`. URLs are joined by
    /// appending, never with a URL join, which would drop GHES's `v3`.
    pub fn resolve(api: Option<String>, graphql: Option<String>) -> Result<Endpoints, String> {
        let api = api
            .unwrap_or_else(|| "https://api.github.com".into())
            .trim_end_matches('/')
            .to_owned();
        let graphql = match graphql {
            Some(g) => g.trim_end_matches('/').to_owned(),
            None => match api.strip_suffix("/api/v3") {
                Some(host) => format!("{host}/api/graphql"),
                None => format!("{api}/graphql"),
            },
        };
        for (var, url) in [("GITHUB_API_URL", &api), ("GITHUB_GRAPHQL_URL", &graphql)] {
            if !(url.starts_with("https://") || is_loopback_http(url)) {
                return Err(format!(
                    "{var} {url:?}: must be an https:// URL (plain http only on loopback), so the token is never sent in clear"
                ));
            }
        }
        Ok(Endpoints { api, graphql })
    }
}

/// Returns true if and only if `b` is a plausible branch name
/// (`git check-ref-format --branch` rules, roughly).
pub fn valid_branch(b: &str) -> bool {
    !b.is_empty()
        && !b.starts_with(['-', '/', '.'])
        && !b.ends_with(['/', '.'])
        && !b.ends_with(".lock")
        && !b.contains("..")
        && !b.contains("//")
        && !b.contains("@{")
        && !b
            .chars()
            .any(|c| c.is_control() || matches!(c, ' ' | '~' | '^' | ':' | '?' | '*' | '[' | '\\'))
}

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
    /// An answer we did not expect.
    #[error("{what}: unexpected answer: {message}")]
    Unexpected {
        /// The request.
        what: String,
        /// What was wrong with it.
        message: String,
    },
    /// Pull-request mode: the branch holds a commit gitops-bump did not make.
    #[error(
        "{branch} has commit {commit}, which gitops-bump did not make; it re-creates that branch from the base on every run and will not throw away someone's work: merge or close its pull request and delete the branch, then run again"
    )]
    BranchModified {
        /// The pull-request branch.
        branch: String,
        /// The foreign commit (or how many commits there are).
        commit: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot set up the HTTP client: {0}")]
    Setup(String),
}

impl From<GitHubError> for BackendError {
    fn from(e: GitHubError) -> Self {
        match e {
            GitHubError::Stale(m) => BackendError::Stale(m),
            e => BackendError::Failed(e.to_string()),
        }
    }
}

/// The GitHub backend for `--repo`.
#[derive(Debug)]
pub struct GitHub {
    rt: tokio::runtime::Runtime,
    api: Api,
    /// What the last read saw, for the REST write path (base tree, modes).
    last: Option<ReadState>,
    /// Pull-request mode (`--pull-request`).
    pr: Option<pull::PrContext>,
}

impl GitHub {
    /// Builds the backend; no request is sent yet.
    pub fn new(source: &Config, retry: RetrySettings) -> Result<GitHub, BackendError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| BackendError::Failed(format!("cannot start the async runtime: {e}")))?;
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
            },
            last: None,
            pr: source.pull_request.clone().map(pull::PrContext::new),
        })
    }
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
        let (snapshot, state) = self.rt.block_on(self.api.read(files))?;
        self.last = Some(state);
        Ok(snapshot)
    }

    fn commit(
        &mut self,
        snapshot: &Snapshot,
        changes: &[FileChange],
        message: &str,
    ) -> Result<Option<String>, BackendError> {
        let state = match (&self.last, &snapshot.head) {
            (Some(s), Some(head)) if &s.head == head => s,
            _ => {
                return Err(BackendError::Failed(
                    "impossible: commit without a read of the same head".into(),
                ));
            }
        };
        if let Some(pr) = &mut self.pr {
            let oid = self
                .rt
                .block_on(pull::commit(&mut self.api, pr, state, changes, message))?;
            return Ok(Some(oid));
        }
        let oid = match self.api.kind {
            ApiKind::Graphql => self
                .rt
                .block_on(self.api.commit_graphql(state, changes, message))?,
            ApiKind::Rest => self
                .rt
                .block_on(self.api.commit_rest(state, changes, message))?,
        };
        Ok(Some(oid))
    }

    fn verify(
        &mut self,
        commit: Option<&str>,
        changes: &[FileChange],
    ) -> Result<Vec<String>, BackendError> {
        let mut missing = self.rt.block_on(self.api.verify(commit, changes))?;
        if let Some(pr) = &self.pr {
            missing.extend(self.rt.block_on(pull::verify(&self.api, pr))?);
        }
        Ok(missing)
    }

    fn api_requests(&self) -> Option<u64> {
        Some(self.api.client.requests())
    }

    fn publish(&mut self, title: &str, body: &str) -> Result<Option<PullRequest>, BackendError> {
        let Some(pr) = &mut self.pr else {
            return Ok(None);
        };
        let out = self
            .rt
            .block_on(pull::publish(&self.api, pr, title, body))?;
        Ok(Some(out))
    }

    fn verify_plan(&self) -> (String, Vec<String>) {
        let base = self.api.branch.as_deref().unwrap_or("the default branch");
        match &self.pr {
            Some(pr) => {
                let branch = pr.branch(base);
                (
                    branch.clone(),
                    vec![
                        format!("the new commit is the head of {branch} or an ancestor of it"),
                        format!("the pull request from {branch} into {base} is open"),
                    ],
                )
            }
            None => (
                base.to_owned(),
                vec![format!(
                    "the new commit is the head of {base} or an ancestor of it"
                )],
            ),
        }
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
    /// branch, after [`GitHub::commit`] chose it); reads of `--branch` reset it.
    on: Option<String>,
    kind: ApiKind,
    endpoints: Endpoints,
}

/// One file answer, ready to become bytes.
enum Fetched {
    Absent,
    Text(String),
    /// Binary or truncated: fetch the blob by id.
    Blob(String),
    TooLarge(u64),
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

    async fn get(&self, url: String, what: &str) -> Result<Value, GitHubError> {
        let resp = self
            .client
            .send(&Req {
                method: reqwest::Method::GET,
                url,
                body: None,
                what,
                idempotent: true,
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

    /// Lists the selected paths (unless they are exact), then reads them in
    /// queries pinned to one commit.
    async fn read(&self, files: &FileSelection) -> Result<(Snapshot, ReadState), GitHubError> {
        let mut listing = match files.exact_paths() {
            Some(paths) => Listing::exact(paths),
            None => self.list(self.branch(), files).await?,
        };
        let (head, tree, fetched, modes) = self.fetch_files(&listing.paths, None).await?;
        if listing.tree.as_ref().is_some_and(|t| t != &tree) {
            // The listing and the file query are two requests: the branch
            // moved in between. List the tree the query saw, read that commit.
            listing = self.list(&tree, files).await?;
            let (head, tree, fetched, modes) =
                self.fetch_files(&listing.paths, Some(&head)).await?;
            return self
                .finish(files, listing, head, tree, fetched, modes)
                .await;
        }
        self.finish(files, listing, head, tree, fetched, modes)
            .await
    }

    async fn finish(
        &self,
        files: &FileSelection,
        listing: Listing,
        head: String,
        tree: String,
        fetched: Vec<(String, Fetched)>,
        mut modes: HashMap<String, u32>,
    ) -> Result<(Snapshot, ReadState), GitHubError> {
        let mut snapshot = Snapshot {
            head: Some(head.clone()),
            files: Vec::new(),
            problems: listing.problems,
        };
        for (path, f) in fetched {
            let bytes = match f {
                Fetched::Absent => continue,
                Fetched::TooLarge(size) => {
                    snapshot
                        .problems
                        .push(too_large(&path, size, files.max_size));
                    continue;
                }
                Fetched::Text(t) => t.into_bytes(),
                Fetched::Blob(oid) => self.blob(&oid, &path).await?,
            };
            snapshot.files.push(SourceFile { path, bytes });
        }
        modes.extend(listing.modes);
        snapshot.files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok((snapshot, ReadState { head, tree, modes }))
    }

    /// The blob paths under `treeish` that `files` selects. Walks subtrees
    /// when GitHub truncates the recursive listing.
    async fn list(&self, treeish: &str, files: &FileSelection) -> Result<Listing, GitHubError> {
        let mut listing = Listing::default();
        // (tree, path prefix, recursive?)
        let mut stack = vec![(treeish.to_owned(), String::new(), true)];
        while let Some((sha, prefix, recursive)) = stack.pop() {
            let what = format!("list the files of {}", self.qualified_ref());
            let mut url = self.rest(&format!("git/trees/{}", encode_path(&sha)));
            if recursive {
                url.push_str("?recursive=1");
            }
            let v = self.get(url, &what).await?;
            if listing.tree.is_none() {
                listing.tree = v.get("sha").and_then(Value::as_str).map(str::to_owned);
            }
            if recursive && v.get("truncated").and_then(Value::as_bool) == Some(true) {
                // https://docs.github.com/en/rest/git/trees#get-a-tree: fetch
                // "the sub-trees individually" when the recursive answer is cut.
                stack.push((sha, prefix, false));
                continue;
            }
            for entry in v
                .get("tree")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let field = |k: &str| entry.get(k).and_then(Value::as_str).unwrap_or("");
                let path = format!("{prefix}{}", field("path"));
                match field("type") {
                    "tree" if !recursive => {
                        stack.push((field("sha").to_owned(), format!("{path}/"), true));
                    }
                    "blob" if files.matches(&path) => {
                        let size = entry.get("size").and_then(Value::as_u64).unwrap_or(0);
                        if let Ok(mode) = u32::from_str_radix(field("mode"), 8) {
                            listing.modes.insert(path.clone(), mode);
                        }
                        if size > files.max_size {
                            listing
                                .problems
                                .push(too_large(&path, size, files.max_size));
                        } else {
                            listing.paths.push(path);
                        }
                    }
                    _ => {}
                }
            }
        }
        listing.paths.sort();
        Ok(listing)
    }

    /// Reads `paths` in chunks: the first at the branch head (or at `pin`),
    /// the rest pinned to the commit the first one saw.
    #[allow(clippy::type_complexity)]
    async fn fetch_files(
        &self,
        paths: &[String],
        pin: Option<&str>,
    ) -> Result<(String, String, Vec<(String, Fetched)>, HashMap<String, u32>), GitHubError> {
        let mut head = pin.map(str::to_owned);
        let mut tree = String::new();
        let mut fetched = Vec::with_capacity(paths.len());
        let mut modes = HashMap::new();
        let mut chunks: Vec<&[String]> = paths.chunks(CHUNK).collect();
        if chunks.is_empty() {
            chunks.push(&[]);
        }
        for chunk in chunks {
            let (commit, _) = self.query_files(chunk, head.as_deref(), false).await?;
            head = Some(commit.oid.clone());
            tree = commit.tree;
            for (path, entry) in chunk.iter().zip(commit.files) {
                if let Some(mode) = entry.as_ref().and_then(|e| e.mode) {
                    modes.insert(path.clone(), mode);
                }
                fetched.push((path.clone(), classify_file(entry, u64::MAX)));
            }
        }
        let head = head.ok_or_else(|| GitHubError::Unexpected {
            what: "read files".into(),
            message: "no head commit".into(),
        })?;
        Ok((head, tree, fetched, modes))
    }

    /// One files query. With `pin`, reads that commit; else the branch head.
    async fn query_files(
        &self,
        paths: &[String],
        pin: Option<&str>,
        history: bool,
    ) -> Result<(CommitFiles, Option<History>), GitHubError> {
        let anchor = if pin.is_some() {
            Anchor::Commit
        } else {
            Anchor::Branch
        };
        let mut vars = json!({"owner": self.repo.owner, "name": self.repo.name});
        match pin {
            Some(oid) => vars["head"] = json!(oid),
            None => vars["ref"] = json!(self.qualified_ref()),
        }
        if history {
            vars["depth"] = json!(graphql::HISTORY_DEPTH);
        }
        for (i, p) in paths.iter().enumerate() {
            vars[format!("p{i}")] = json!(p);
        }
        let what = format!("read files at {}", self.qualified_ref());
        let data = self
            .graphql(
                &graphql::files_query(paths.len(), anchor, history),
                vars,
                &what,
            )
            .await?;
        let pointer = match anchor {
            Anchor::Branch => "/repository/ref/target",
            Anchor::Commit => "/repository/object",
        };
        let Some(commit) = data.pointer(pointer).filter(|v| !v.is_null()) else {
            return Err(GitHubError::NotFound {
                what,
                message: match pin {
                    Some(oid) => format!("commit {oid} is not in {}", self.repo),
                    None => format!("branch {:?} is not in {}", self.branch(), self.repo),
                },
            });
        };
        let oid = commit.get("oid").and_then(Value::as_str).unwrap_or("");
        let tree = commit
            .pointer("/tree/oid")
            .and_then(Value::as_str)
            .unwrap_or("");
        if oid.is_empty() {
            return Err(GitHubError::Unexpected {
                what,
                message: "the branch does not point at a commit".into(),
            });
        }
        let mut files = Vec::with_capacity(paths.len());
        for i in 0..paths.len() {
            let entry = commit
                .get(format!("f{i}"))
                .filter(|v| !v.is_null())
                .map(|v| serde_json::from_value::<FileEntry>(v.clone()))
                .transpose()
                .map_err(|e| GitHubError::Unexpected {
                    what: what.clone(),
                    message: e.to_string(),
                })?;
            files.push(entry);
        }
        let history = commit
            .get("history")
            .map(|h| serde_json::from_value::<History>(h.clone()))
            .transpose()
            .map_err(|e| GitHubError::Unexpected {
                what: what.clone(),
                message: e.to_string(),
            })?;
        Ok((
            CommitFiles {
                oid: oid.to_owned(),
                tree: tree.to_owned(),
                files,
            },
            history,
        ))
    }

    async fn blob(&self, oid: &str, path: &str) -> Result<Vec<u8>, GitHubError> {
        let what = format!("read {path}");
        let v = self
            .get(self.rest(&format!("git/blobs/{oid}")), &what)
            .await?;
        let content: String = v
            .get("content")
            .and_then(Value::as_str)
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        base64::engine::general_purpose::STANDARD
            .decode(content)
            .map_err(|e| GitHubError::Unexpected {
                what,
                message: format!("blob content is not base64: {e}"),
            })
    }

    async fn commit_graphql(
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
        let id = bump_id(message);
        let mut backoff = Backoff::server();
        for _ in 0..self.client.max_attempts() {
            let sent = self
                .client
                .graphql(
                    &self.endpoints.graphql,
                    graphql::CREATE_COMMIT,
                    vars.clone(),
                    &what,
                    false,
                )
                .await;
            match sent {
                Ok(data) => {
                    return data
                        .pointer("/createCommitOnBranch/commit/oid")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .ok_or_else(|| GitHubError::Unexpected {
                            what: what.clone(),
                            message: "no commit in the answer".into(),
                        });
                }
                Err(GitHubError::Stale(m)) => {
                    return Err(GitHubError::Stale(format!(
                        "branch {} ({m})",
                        self.branch()
                    )));
                }
                Err(GitHubError::Ambiguous { message, .. }) => {
                    let ours = |n: &graphql::HistoryNode| {
                        id.as_deref().is_some_and(|id| {
                            n.message.as_deref().is_some_and(|m| has_trailer(m, id))
                        })
                    };
                    let settled = self.settle(&what, &message, &mut backoff, &state.head, ours);
                    if let Some(oid) = settled.await? {
                        return Ok(oid);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(GitHubError::GaveUp {
            what,
            attempts: self.client.max_attempts(),
            last: "no answer to the mutation".into(),
        })
    }

    async fn commit_rest(
        &self,
        state: &ReadState,
        changes: &[FileChange],
        message: &str,
    ) -> Result<String, GitHubError> {
        let commit = self.detached_commit(state, changes, message).await?;
        let what = format!("move {} to {}", self.branch(), short(&commit));
        let body = json!({"sha": commit, "force": false});
        let mut backoff = Backoff::server();
        for _ in 0..self.client.max_attempts() {
            let sent = self
                .client
                .send(&Req {
                    method: reqwest::Method::PATCH,
                    url: self.rest(&format!("git/refs/heads/{}", encode_path(self.branch()))),
                    body: Some(&body),
                    what: &what,
                    idempotent: false,
                })
                .await;
            match sent {
                Ok(r) if r.status.is_success() => return Ok(commit),
                // https://docs.github.com/en/rest/git/refs#update-a-reference
                Ok(r) if r.status.as_u16() == 422 => {
                    return Err(GitHubError::Stale(format!(
                        "branch {} ({})",
                        self.branch(),
                        message_of(&r.json)
                    )));
                }
                Ok(r) => {
                    return Err(GitHubError::Unexpected {
                        what,
                        message: format!("HTTP {}: {}", r.status.as_u16(), message_of(&r.json)),
                    });
                }
                Err(GitHubError::Ambiguous { message, .. }) => {
                    let ours = |n: &graphql::HistoryNode| n.oid == commit;
                    let settled = self.settle(&what, &message, &mut backoff, &state.head, ours);
                    if let Some(oid) = settled.await? {
                        return Ok(oid);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(GitHubError::GaveUp {
            what,
            attempts: self.client.max_attempts(),
            last: "no answer to the ref update".into(),
        })
    }

    /// A commit of `changes` on top of the head `state` saw, on no branch
    /// yet (Git data API: a tree with `base_tree`, then the commit).
    async fn detached_commit(
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

    /// Waits before looking for a write whose answer was lost.
    async fn pause(&self, what: &str, why: &str, backoff: &mut Backoff) -> Result<(), GitHubError> {
        let wait = backoff.next_wait();
        if self.client.deadline().exceeded_by(wait) {
            return Err(GitHubError::GaveUp {
                what: what.to_owned(),
                attempts: 1,
                last: why.to_owned(),
            });
        }
        tracing::warn!(
            what,
            reason = why,
            "{what}: no answer ({why}); checking whether it landed before writing again"
        );
        tokio::time::sleep(wait).await;
        Ok(())
    }

    /// After a write got no answer: waits, then looks for it in recent
    /// history. `Some(oid)` when it landed; `None` when the branch is still
    /// at `head`, so sending again is safe; stale when the branch moved.
    async fn settle(
        &self,
        what: &str,
        why: &str,
        backoff: &mut Backoff,
        head: &str,
        is_ours: impl Fn(&graphql::HistoryNode) -> bool,
    ) -> Result<Option<String>, GitHubError> {
        self.pause(what, why, backoff).await?;
        match self.landed(is_ours).await? {
            Landed::Yes(oid) => Ok(Some(oid)),
            Landed::No { head: now } if now == head => Ok(None),
            Landed::No { .. } => Err(GitHubError::Stale(format!(
                "branch {} (moved while our write had no answer)",
                self.branch()
            ))),
        }
    }

    /// Looks through recent history for a commit that `is_ours` accepts.
    async fn landed(
        &self,
        is_ours: impl Fn(&graphql::HistoryNode) -> bool,
    ) -> Result<Landed, GitHubError> {
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
            .unwrap_or("")
            .to_owned();
        let history: History = target
            .and_then(|t| t.get("history"))
            .and_then(|h| serde_json::from_value(h.clone()).ok())
            .unwrap_or(History { nodes: Vec::new() });
        Ok(match history.nodes.iter().find(|n| is_ours(n)) {
            Some(n) => Landed::Yes(n.oid.clone()),
            None => Landed::No { head },
        })
    }

    /// Re-reads the branch: `commit` must be its head or an ancestor, and
    /// each changed file there must still hold the lines we wrote.
    async fn verify(
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
                Fetched::Blob(oid) => self
                    .blob(&oid, &change.path)
                    .await
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok()),
                Fetched::Absent | Fetched::TooLarge(_) => None,
            };
            if !text.is_some_and(|t| holds(&t, change)) {
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
        match self.get(url, &what).await {
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

#[derive(Debug, Default)]
struct Listing {
    /// Tree id the listing saw (`None` for exact paths: nothing listed).
    tree: Option<String>,
    paths: Vec<String>,
    modes: HashMap<String, u32>,
    problems: Vec<Finding>,
}

impl Listing {
    fn exact(paths: Vec<String>) -> Listing {
        Listing {
            paths,
            ..Listing::default()
        }
    }
}

struct CommitFiles {
    oid: String,
    tree: String,
    files: Vec<Option<FileEntry>>,
}

enum Landed {
    Yes(String),
    No { head: String },
}

fn classify_file(entry: Option<FileEntry>, max: u64) -> Fetched {
    let Some(BlobFields {
        oid,
        byte_size,
        is_binary,
        is_truncated,
        text,
    }) = entry.and_then(|e| e.object)
    else {
        return Fetched::Absent;
    };
    let size = byte_size.unwrap_or(0);
    if size > max {
        return Fetched::TooLarge(size);
    }
    match (text, oid) {
        (Some(t), _) if !is_truncated && is_binary != Some(true) => Fetched::Text(t),
        (_, Some(oid)) => Fetched::Blob(oid),
        (Some(t), None) => Fetched::Text(t),
        (None, None) => Fetched::Absent,
    }
}

/// Returns true if and only if `text` (the file at the head now) still holds
/// every line `change` wrote. Other writers may have changed other lines
/// since, so this is checked line by line rather than byte for byte.
fn holds(text: &str, change: &FileChange) -> bool {
    if text == change.new {
        return true;
    }
    let present: std::collections::HashSet<&str> = text.lines().collect();
    change
        .written_lines()
        .iter()
        .all(|(_, line)| present.contains(line.as_str()))
}

/// The `Gitops-Bump-Id` trailer value of `message`.
fn bump_id(message: &str) -> Option<String> {
    message
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("Gitops-Bump-Id:"))
        .map(|v| v.trim().to_owned())
}

/// Returns true if and only if `message` carries `Gitops-Bump-Id: id`.
fn has_trailer(message: &str, id: &str) -> bool {
    message
        .lines()
        .filter_map(|l| l.strip_prefix("Gitops-Bump-Id:"))
        .any(|v| v.trim() == id)
}

fn short(oid: &str) -> &str {
    oid.get(..12).unwrap_or(oid)
}

/// Percent-encodes what must not appear raw in a path, keeping `/`
/// (branch names such as `release/1.x`).
fn encode_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn is_loopback_http(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split('/').next().unwrap_or("");
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    };
    host == "localhost" || host == "[::1]" || host.starts_with("127.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ghes_endpoints_keep_v3() {
        let e = Endpoints::resolve(Some("https://ghe.example.com/api/v3/".into()), None)
            .expect("valid");
        assert_eq!(e.api, "https://ghe.example.com/api/v3");
        assert_eq!(e.graphql, "https://ghe.example.com/api/graphql");
        let dotcom = Endpoints::resolve(None, None).expect("valid");
        assert_eq!(dotcom.graphql, "https://api.github.com/graphql");
        assert!(Endpoints::resolve(Some("http://example.com".into()), None).is_err());
        assert!(Endpoints::resolve(Some("http://127.0.0.1:8080".into()), None).is_ok());
    }

    #[test]
    fn token_is_redacted() {
        let t = Token::new("ghp_secret123".into());
        assert_eq!(format!("{t:?}"), "Token(<redacted>)");
    }

    #[test]
    fn repo_names_and_branches() {
        assert_eq!(
            RepoName::parse("acme/gitops").map(|r| r.to_string()),
            Ok("acme/gitops".into())
        );
        for bad in ["acme", "acme/", "/x", "a/b/c", "a/.."] {
            assert!(RepoName::parse(bad).is_err(), "{bad}");
        }
        assert!(valid_branch("release/1.x") && valid_branch("main"));
        for bad in ["", "-x", "a..b", "a b", "x.lock", "a/"] {
            assert!(!valid_branch(bad), "{bad}");
        }
    }

    #[test]
    fn holds_tolerates_other_writers_lines() {
        let change = FileChange {
            path: "a.yaml".into(),
            old: "a: 1\nb: 1\n".into(),
            new: "a: 2\nb: 1\n".into(),
        };
        assert!(holds("a: 2\nb: 1\n", &change));
        assert!(holds("a: 2\nb: 7\n", &change));
        assert!(!holds("a: 1\nb: 7\n", &change));
    }

    #[test]
    fn trailer_lookup() {
        let msg = "chore: x\n\nGitops-Bump-Writer: w\nGitops-Bump-Id: abc\n";
        assert_eq!(bump_id(msg).as_deref(), Some("abc"));
        assert!(has_trailer(msg, "abc") && !has_trailer(msg, "ab"));
    }
}

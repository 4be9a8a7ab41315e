//! Pull-request mode (`--pull-request`; `sync --apply` for its
//! `pull-request` entries): instead of committing to `--branch`, commit to
//! `gitops-bump/<base>/<key>` ([`pull_request_branch`]) and open (or update)
//! one pull request from it into `--branch`; when the base already holds
//! what a run asks for, close that pull request ([`retire`]). Owns the
//! "create, keep, re-create or refuse" decision for one branch, the
//! pull-request lookup, the pull request's text and state, and the
//! pull-request half of verification. Everything here is per branch (one
//! [`PrContext`] each), so `sync` can run it once per entry through the
//! same write path. Does not own planning: the plan is made against
//! `--branch` as always, and a [`GitHubError::Stale`] from here sends the
//! write path back to re-read, exactly like a compare-and-swap miss.
//!
//! # The branch is re-created, never stacked
//!
//! Like Renovate, the branch is a function of (base head, plan): always
//! exactly one gitops-bump commit on top of the base head the run read, so
//! the pull request shows one bump and merges cleanly after the base moved.
//! Per run, after one lookup and one `POST git/trees` (GitHub computes the
//! tree the plan makes, without a commit):
//!
//! - branch missing: `createRef` at the base head, then `createCommitOnBranch`
//!   (`expectedHeadOid` = that head);
//! - branch head exactly ours (`pull_head`), on the base head, holding that
//!   very tree: nothing is written, the pull request is "already up to date";
//! - branch head ours, or already in the base: the new commit is made with
//!   `createCommitOnBranch` on a temporary branch `gitops-bump-tmp/<id>`
//!   created at the base head, then one atomic `updateRefs` moves the branch
//!   to it (`force`, `beforeOid` = the head seen: a compare-and-swap) and
//!   deletes the temporary branch. The branch never passes through the base
//!   head, which GitHub would take as "no commits" and close the pull request;
//! - branch head anything else (someone amended the commit, stacked one on
//!   it, merged the base into it): [`GitHubError::BranchModified`], naming
//!   the branch, the commit and who committed it; nothing is written.
//!
//! Every commit gitops-bump makes on these branches is made by
//! `createCommitOnBranch`, so GitHub signs it (Verified, with
//! `GITHUB_TOKEN` or an App token); only refs are moved otherwise. Each
//! commit records the base it was made on and the tree it holds
//! (`Gitops-Bump-Base`, `Gitops-Bump-Tree`): that is what a later run
//! checks. Should GitHub's commit hold another tree than the one
//! `git/trees` computed (a file mode it does not keep), the temporary
//! branch is put back and the commit made again, recording GitHub's tree
//! and the planned one (`Gitops-Bump-Planned-Tree`).
//!
//! A request that gets no answer is never repeated blindly: the temporary
//! branch is deleted and the round starts again from the read.

use serde_json::{Value, json};

use super::graphql::{self, PullRequestNode};
pub use super::pull_branch::pull_request_branch;
use super::pull_head::{self, Actor, Foreign, Head, Verdict};
use super::types::checked_oid;
use super::{Api, GitHubError, ReadState, short};
use crate::backend::{PullRequest, PullRequestAction, Write};
use crate::commit::trailer;

/// GitHub refuses pull-request bodies over 65,536 characters.
const BODY_LIMIT: usize = 65_000;

/// Temporary branches (where a re-created commit is made before the
/// pull-request branch moves to it) start with this.
pub const TMP_PREFIX: &str = "gitops-bump-tmp/";

/// Pull-request mode state for one branch across one run.
#[derive(Debug)]
pub struct PrContext {
    /// The pull request's key, for the branch name.
    key: Vec<String>,
    /// The repository's node id (mutations take it).
    repo_id: Option<String>,
    /// The open pull request from the branch, as last seen.
    open: Option<PullRequestNode>,
    /// The commit the last [`commit`] made; `None` when the branch already
    /// held the plan.
    written: Option<String>,
    /// What the last [`publish`] did.
    action: Option<PullRequestAction>,
    /// The pull request this run opened or updated.
    number: Option<u64>,
}

impl PrContext {
    /// Pull-request mode for this key.
    pub fn new(key: Vec<String>) -> PrContext {
        PrContext {
            key,
            repo_id: None,
            open: None,
            written: None,
            action: None,
            number: None,
        }
    }

    /// The pull-request branch on `base`.
    pub fn branch(&self, base: &str) -> String {
        pull_request_branch(base, &self.key)
    }
}

/// Makes the pull-request branch hold `write` (planned at `state`, the base
/// head): returns the commit made, or `None` when the branch already held
/// exactly that (module docs).
pub(super) async fn commit(
    api: &mut Api,
    pr: &mut PrContext,
    state: &ReadState,
    write: &Write,
) -> Result<Option<String>, GitHubError> {
    api.on = None;
    pr.written = None;
    let base = api.branch().to_owned();
    let branch = pr.branch(&base);
    let seen = lookup(api, &base, &branch).await?;
    pr.repo_id = Some(seen.repo_id.clone());
    pr.open = seen.open.clone();
    let verdict = seen
        .head
        .as_ref()
        .map(|h| pull_head::judge(h, seen.ahead_by));
    if let Some(Verdict::Foreign(f)) = &verdict {
        return Err(modified(&branch, f.clone()));
    }
    let planned = api.tree_with(state, &write.changes).await?;
    api.on = Some(branch.clone());
    if let (Some(head), Some(Verdict::Ours { base, planned: p })) = (&seen.head, &verdict)
        && *base == state.head
        && (head.tree == planned || p.as_deref() == Some(planned.as_str()))
    {
        return Ok(None);
    }
    let made = Made {
        api,
        repo_id: &seen.repo_id,
        state,
        write,
        planned: &planned,
    };
    let sent = match &seen.head {
        None => made.create(&branch).await,
        Some(head) => made.rebuild(&branch, &head.oid).await,
    };
    let commit = sent.map_err(|e| match e {
        // Never repeated blindly: the next round re-reads and decides
        // again, seeing whatever did land.
        GitHubError::Ambiguous { what, message } => {
            GitHubError::Stale(format!("{branch} ({what}: no answer, {message})"))
        }
        e => e,
    })?;
    pr.written = Some(commit.clone());
    Ok(Some(commit))
}

/// Opens the pull request from the branch [`commit`] wrote (or found up to
/// date), or updates the open one (title and body only when they differ).
pub(super) async fn publish(
    api: &Api,
    pr: &mut PrContext,
    title: &str,
    body: &str,
) -> Result<PullRequest, GitHubError> {
    let branch = api.branch().to_owned();
    let base = api.branch.clone().unwrap_or_default();
    let body = bounded(body);
    let moved = pr.written.is_some();
    let updated = |retitled: bool| {
        if moved {
            PullRequestAction::Updated
        } else if retitled {
            PullRequestAction::Retitled
        } else {
            PullRequestAction::UpToDate
        }
    };
    let (node, action) = match pr.open.clone() {
        Some(open) => {
            let (node, retitled) = update_pull_request(api, &open, title, &body).await?;
            (node, updated(retitled))
        }
        None => {
            let repo_id = pr.repo_id.clone().unwrap_or_default();
            match create_pull_request(api, &repo_id, &base, &branch, title, &body).await {
                Ok(node) => (node, PullRequestAction::Opened),
                // Another run opened it since our lookup, or our request
                // landed but its answer was lost: use the open one, so there
                // is never a second pull request for the branch.
                Err(e @ (GitHubError::Ambiguous { .. } | GitHubError::Unexpected { .. })) => {
                    let seen = lookup(api, &base, &branch).await?;
                    match seen.open {
                        Some(open) => {
                            let (node, retitled) =
                                update_pull_request(api, &open, title, &body).await?;
                            (node, updated(retitled))
                        }
                        None => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            }
        }
    };
    pr.number = Some(node.number);
    pr.open = Some(node.clone());
    pr.action = Some(action);
    Ok(PullRequest {
        url: node.url,
        number: node.number,
        branch,
        action,
        reason: None,
        branch_deleted: false,
    })
}

/// The pull-request side of verification, after [`publish`]: a commit
/// made must be the branch head or an ancestor, with every changed file
/// holding its lines (`Api::verify`), and a pull request opened or moved
/// must be open, from the branch into `--branch`. A branch found up to date
/// was proven by content in the lookup, so it costs no request.
pub(super) async fn verify(
    api: &Api,
    pr: &PrContext,
    write: &Write,
) -> Result<Vec<String>, GitHubError> {
    let mut missing = Vec::new();
    if let Some(commit) = &pr.written {
        missing.extend(api.verify(Some(commit), &write.changes).await?);
    }
    if pr.written.is_none() && pr.action != Some(PullRequestAction::Opened) {
        return Ok(missing);
    }
    let Some(number) = pr.number else {
        missing.push("no pull request was opened".into());
        return Ok(missing);
    };
    let what = format!("read pull request #{number}");
    let data = api
        .graphql(
            &graphql::with_pull_request_fields(graphql::PULL_REQUEST),
            json!({"owner": api.repo.owner, "name": api.repo.name, "number": number}),
            &what,
        )
        .await
        .map_err(needs_pull_requests_read)?;
    let node = data
        .pointer("/repository/pullRequest")
        .filter(|v| !v.is_null())
        .map(|v| serde_json::from_value::<PullRequestNode>(v.clone()))
        .transpose()
        .map_err(|e| GitHubError::Unexpected {
            what: what.clone(),
            message: e.to_string(),
        })?;
    let branch = api.branch();
    let base = api.branch.as_deref().unwrap_or("");
    // Its `headRefOid` is not compared: GitHub updates it asynchronously
    // after a push, and the branch head itself was checked already.
    missing.extend(match node {
        None => vec![format!("pull request #{number} does not exist")],
        Some(n) if n.state != "OPEN" => {
            vec![format!(
                "pull request #{number} is {}",
                n.state.to_lowercase()
            )]
        }
        Some(n) if n.head_ref_name != branch || n.base_ref_name != base => vec![format!(
            "pull request #{number} is from {} into {}, not from {branch} into {base}",
            n.head_ref_name, n.base_ref_name
        )],
        Some(_) => Vec::new(),
    });
    Ok(missing)
}

/// The base already holds what the run asked for (`held`, at `head`):
/// closes the open pull request from the branch with a comment saying so,
/// then deletes the branch with a compare-and-swap on the head seen (kept,
/// and said so, when it moved meanwhile). `None` when no pull request is
/// open. Refuses, writing nothing, when the branch holds someone's work.
pub(super) async fn retire(
    api: &mut Api,
    pr: &mut PrContext,
    head: Option<&str>,
    held: &str,
) -> Result<Option<PullRequest>, GitHubError> {
    api.on = None;
    let base = api.branch().to_owned();
    let branch = pr.branch(&base);
    let seen = lookup(api, &base, &branch).await?;
    let Some(open) = seen.open else {
        return Ok(None);
    };
    if let Some(h) = &seen.head
        && let Verdict::Foreign(f) = pull_head::judge(h, seen.ahead_by)
    {
        return Err(modified(&branch, f));
    }
    let at = head
        .map(|h| format!(" (at `{}`)", short(h)))
        .unwrap_or_default();
    let reason = format!("{base} already holds {held}");
    let comment = format!(
        "Closed by gitops-bump: `{}`{at} already holds `{}`, the state the last run asked for, so this pull request has nothing left to do. Its branch `{}` is deleted with it; a later bump opens a new pull request.\n",
        markdown_code(&base),
        markdown_code(held),
        markdown_code(&branch)
    );
    add_comment(api, &open, &comment).await?;
    let node = close_pull_request(api, &open).await?;
    let branch_deleted = match &seen.head {
        None => false,
        Some(h) => {
            let gone = delete_ref(api, &seen.repo_id, &branch, &h.oid).await;
            if let Err(e) = &gone {
                tracing::warn!(
                    branch,
                    "{branch} was not deleted after closing pull request #{}: {e}",
                    node.number
                );
            }
            gone.is_ok()
        }
    };
    Ok(Some(PullRequest {
        url: node.url,
        number: node.number,
        branch,
        action: PullRequestAction::Closed,
        reason: Some(reason),
        branch_deleted,
    }))
}

/// What the lookup saw.
#[derive(Debug)]
struct Seen {
    repo_id: String,
    head: Option<Head>,
    /// How many of the branch's commits the base lacks.
    ahead_by: u64,
    /// The open pull request from the branch into the base (the oldest,
    /// if someone opened more by hand).
    open: Option<PullRequestNode>,
}

/// One write in the making: what [`commit`] needs to create or re-create
/// the branch.
struct Made<'a> {
    api: &'a Api,
    repo_id: &'a str,
    state: &'a ReadState,
    write: &'a Write,
    /// The tree `git/trees` computed for the plan.
    planned: &'a str,
}

impl Made<'_> {
    /// The branch is missing: create it at the base head and commit on it.
    async fn create(&self, branch: &str) -> Result<String, GitHubError> {
        create_ref(self.api, self.repo_id, branch, &self.state.head).await?;
        self.signed(branch).await
    }

    /// The branch is ours (or empty): make the commit on a temporary
    /// branch, then move the branch to it and delete the temporary one in
    /// one atomic compare-and-swap.
    async fn rebuild(&self, branch: &str, seen: &str) -> Result<String, GitHubError> {
        let tmp = format!("{TMP_PREFIX}{}", self.write.id);
        create_ref(self.api, self.repo_id, &tmp, &self.state.head).await?;
        let commit = match self.signed(&tmp).await {
            Ok(c) => c,
            Err(e) => {
                self.clean_up(&tmp).await;
                return Err(e);
            }
        };
        let zero = "0".repeat(commit.len());
        let moved = update_refs(
            self.api,
            self.repo_id,
            &[
                RefUpdate::new(branch, Some(seen), &commit),
                RefUpdate::new(&tmp, Some(&commit), &zero),
            ],
            &format!("move {branch} to {}", short(&commit)),
        )
        .await;
        if let Err(e) = moved {
            self.clean_up(&tmp).await;
            return Err(e);
        }
        Ok(commit)
    }

    /// `createCommitOnBranch` on `branch` (at the base head), recording the
    /// base and the tree; when GitHub's tree is not the planned one, puts
    /// `branch` back and commits again recording GitHub's tree too.
    async fn signed(&self, branch: &str) -> Result<String, GitHubError> {
        let (changes, head) = (&self.write.changes, &self.state.head);
        let message = record(&self.write.message, head, self.planned, None);
        let (commit, tree) = self.api.commit_on(branch, head, changes, &message).await?;
        let Some(made) = tree.filter(|t| t != self.planned) else {
            return Ok(commit);
        };
        tracing::warn!(
            branch,
            "GitHub's commit holds tree {} where {} was planned (a file mode it does not keep); committing again with that tree recorded",
            short(&made),
            short(self.planned)
        );
        update_refs(
            self.api,
            self.repo_id,
            &[RefUpdate::new(branch, Some(&commit), head)],
            &format!("put {branch} back at {}", short(head)),
        )
        .await?;
        let message = record(&self.write.message, head, &made, Some(self.planned));
        let (again, tree) = self.api.commit_on(branch, head, changes, &message).await?;
        match tree {
            Some(t) if t != made => Err(GitHubError::Unexpected {
                what: format!("commit to {branch}"),
                message: format!(
                    "GitHub built tree {} and then {} from the same changes",
                    short(&made),
                    short(&t)
                ),
            }),
            _ => Ok(again),
        }
    }

    /// Deletes the temporary branch after a failure, if it is still there;
    /// a failure here is only logged (the branch is named for what it is).
    async fn clean_up(&self, tmp: &str) {
        let zero = "0".repeat(self.state.head.len());
        let gone = update_refs(
            self.api,
            self.repo_id,
            &[RefUpdate::new(tmp, None, &zero)],
            &format!("delete {tmp}"),
        )
        .await;
        if let Err(e) = gone {
            tracing::warn!(tmp, "could not delete the temporary branch {tmp}: {e}");
        }
    }
}

/// The message with the pull-request record appended to its trailers.
fn record(message: &str, base: &str, tree: &str, planned: Option<&str>) -> String {
    let mut out = message.to_owned();
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&format!(
        "{}: {base}\n{}: {tree}\n",
        trailer::BASE,
        trailer::TREE
    ));
    if let Some(p) = planned {
        out.push_str(&format!("{}: {p}\n", pull_head::PLANNED));
    }
    out
}

/// The error for a branch holding someone's work.
fn modified(branch: &str, f: Foreign) -> GitHubError {
    GitHubError::BranchModified {
        branch: branch.to_owned(),
        commit: f.commit,
        committer: f.committer,
        why: f.why,
    }
}

/// Reads the branch and its pull request ([`graphql::PULL_REQUEST_STATE`]);
/// read again, at most twice more, when the branch moved while GitHub
/// answered.
async fn lookup(api: &Api, base: &str, branch: &str) -> Result<Seen, GitHubError> {
    let mut tries = 0;
    loop {
        tries += 1;
        match lookup_once(api, base, branch).await {
            Err(GitHubError::Stale(_)) if tries < 3 => continue,
            other => return other,
        }
    }
}

async fn lookup_once(api: &Api, base: &str, branch: &str) -> Result<Seen, GitHubError> {
    let what = format!("look up the pull request from {branch}");
    let data = api
        .graphql(
            &graphql::with_pull_request_fields(graphql::PULL_REQUEST_STATE),
            json!({"owner": api.repo.owner, "name": api.repo.name,
                   "base": base, "baseRef": format!("refs/heads/{base}"),
                   "head": branch, "headRef": format!("refs/heads/{branch}")}),
            &what,
        )
        .await
        .map_err(needs_pull_requests_read)?;
    let unexpected = |message: String| GitHubError::Unexpected {
        what: what.clone(),
        message,
    };
    let repo = data
        .get("repository")
        .filter(|v| !v.is_null())
        .ok_or_else(|| unexpected("no repository in the answer".into()))?;
    let repo_id = repo
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| unexpected("no repository id in the answer".into()))?
        .to_owned();
    let head = match repo.pointer("/headRef/target").filter(|t| !t.is_null()) {
        None => None,
        Some(t) => Some(head_of(t, &what)?),
    };
    let compare = repo.pointer("/baseRef/compare").filter(|c| !c.is_null());
    let ahead_by = match (&head, compare) {
        (None, _) => 0,
        (Some(h), Some(c)) => {
            let compared = c.pointer("/headTarget/oid").and_then(Value::as_str);
            if compared != Some(h.oid.as_str()) {
                // GitHub resolved the fields one after the other and the
                // branch moved in between: read it again.
                return Err(GitHubError::Stale(format!(
                    "branch {branch} (moved while it was read)"
                )));
            }
            c.get("aheadBy")
                .and_then(Value::as_u64)
                .ok_or_else(|| unexpected("no aheadBy in the comparison".into()))?
        }
        (Some(_), None) => {
            return Err(unexpected(format!(
                "GitHub cannot compare {branch} with {base}"
            )));
        }
    };
    let open: Vec<PullRequestNode> = repo
        .pointer("/pullRequests/nodes")
        .map(|v| serde_json::from_value(v.clone()))
        .transpose()
        .map_err(|e| unexpected(e.to_string()))?
        .unwrap_or_default();
    Ok(Seen {
        repo_id,
        head,
        ahead_by,
        open: open.into_iter().min_by_key(|p| p.number),
    })
}

/// The branch head in a lookup answer, every object id checked.
fn head_of(t: &Value, what: &str) -> Result<Head, GitHubError> {
    let oid = checked_oid(
        t.get("oid").and_then(Value::as_str),
        "the branch head",
        what,
    )?;
    let tree = checked_oid(
        t.pointer("/tree/oid").and_then(Value::as_str),
        "the branch head's tree",
        what,
    )?;
    let mut parents = Vec::new();
    for p in t
        .pointer("/parents/nodes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        parents.push(checked_oid(
            p.get("oid").and_then(Value::as_str),
            "a parent's oid",
            what,
        )?);
    }
    let parent_count = t
        .pointer("/parents/totalCount")
        .and_then(Value::as_u64)
        .unwrap_or(parents.len() as u64);
    let actor = |key: &str| -> Actor {
        t.get(key)
            .and_then(|a| serde_json::from_value(a.clone()).ok())
            .unwrap_or_default()
    };
    Ok(Head {
        oid,
        parents,
        parent_count,
        tree,
        message: t
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        committer: actor("committer"),
        author: actor("author"),
    })
}

async fn create_ref(api: &Api, repo_id: &str, branch: &str, oid: &str) -> Result<(), GitHubError> {
    let what = format!("create branch {branch}");
    let input = json!({"input": {"repositoryId": repo_id, "name": format!("refs/heads/{branch}"), "oid": oid}});
    match api
        .client
        .graphql(
            &api.endpoints.graphql,
            graphql::CREATE_REF,
            input,
            &what,
            false,
        )
        .await
    {
        Ok(_) => Ok(()),
        // Another run created it first: the next round sees the branch and
        // decides again.
        Err(GitHubError::Unexpected { message, .. }) if message.contains("already exists") => Err(
            GitHubError::Stale(format!("branch {branch} (created meanwhile: {message})")),
        ),
        Err(e) => Err(e),
    }
}

/// One `RefUpdate` of `updateRefs`.
struct RefUpdate {
    name: String,
    before: Option<String>,
    after: String,
}

impl RefUpdate {
    fn new(branch: &str, before: Option<&str>, after: &str) -> RefUpdate {
        RefUpdate {
            name: format!("refs/heads/{branch}"),
            before: before.map(str::to_owned),
            after: after.to_owned(),
        }
    }
}

/// All `updates` or none (`updateRefs` is atomic), each forced (a branch
/// re-created from the base is never a fast forward) and checked against
/// its `before` when given.
async fn update_refs(
    api: &Api,
    repo_id: &str,
    updates: &[RefUpdate],
    what: &str,
) -> Result<(), GitHubError> {
    let updates: Vec<Value> = updates
        .iter()
        .map(|u| {
            let mut v = json!({"name": u.name, "afterOid": u.after, "force": true});
            if let Some(b) = &u.before {
                v["beforeOid"] = json!(b);
            }
            v
        })
        .collect();
    let input = json!({"input": {"repositoryId": repo_id, "refUpdates": updates}});
    match api
        .client
        .graphql(
            &api.endpoints.graphql,
            graphql::UPDATE_REFS,
            input,
            what,
            false,
        )
        .await
    {
        Ok(_) => Ok(()),
        // A `beforeOid` mismatch, or the race lost after the check (the
        // client's `lost_race` knows the wordings): re-read. Any other
        // rejection is GitHub's message, once.
        Err(GitHubError::Stale(message)) => Err(GitHubError::Stale(format!(
            "{what} (updateRefs: {message})"
        ))),
        Err(e) => Err(e),
    }
}

/// Deletes `branch` if it is still at `at`.
async fn delete_ref(api: &Api, repo_id: &str, branch: &str, at: &str) -> Result<(), GitHubError> {
    let zero = "0".repeat(at.len());
    update_refs(
        api,
        repo_id,
        &[RefUpdate::new(branch, Some(at), &zero)],
        &format!("delete {branch}"),
    )
    .await
}

async fn create_pull_request(
    api: &Api,
    repo_id: &str,
    base: &str,
    branch: &str,
    title: &str,
    body: &str,
) -> Result<PullRequestNode, GitHubError> {
    let what = format!("open a pull request from {branch} into {base}");
    let input = json!({"input": {"repositoryId": repo_id, "baseRefName": base,
        "headRefName": branch, "title": title, "body": body}});
    let data = api
        .client
        .graphql(
            &api.endpoints.graphql,
            &graphql::with_pull_request_fields(graphql::CREATE_PULL_REQUEST),
            input,
            &what,
            false,
        )
        .await
        .map_err(needs_pull_requests_write)?;
    node(&data, "/createPullRequest/pullRequest", &what)
}

/// Rewrites the title and body when they differ; returns the pull request
/// and true if and only if it sent the change.
async fn update_pull_request(
    api: &Api,
    open: &PullRequestNode,
    title: &str,
    body: &str,
) -> Result<(PullRequestNode, bool), GitHubError> {
    if open.title == title && open.body.replace("\r\n", "\n").trim() == body.trim() {
        return Ok((open.clone(), false));
    }
    let what = format!("update pull request #{}", open.number);
    let input = json!({"input": {"pullRequestId": open.id, "title": title, "body": body}});
    // Setting a title and body twice does no harm.
    let data = api
        .client
        .graphql(
            &api.endpoints.graphql,
            &graphql::with_pull_request_fields(graphql::UPDATE_PULL_REQUEST),
            input,
            &what,
            true,
        )
        .await
        .map_err(needs_pull_requests_write)?;
    Ok((node(&data, "/updatePullRequest/pullRequest", &what)?, true))
}

async fn add_comment(api: &Api, open: &PullRequestNode, body: &str) -> Result<(), GitHubError> {
    let what = format!("comment on pull request #{}", open.number);
    let input = json!({"input": {"subjectId": open.id, "body": body}});
    api.client
        .graphql(
            &api.endpoints.graphql,
            graphql::ADD_COMMENT,
            input,
            &what,
            false,
        )
        .await
        .map_err(needs_pull_requests_write)?;
    Ok(())
}

async fn close_pull_request(
    api: &Api,
    open: &PullRequestNode,
) -> Result<PullRequestNode, GitHubError> {
    let what = format!("close pull request #{}", open.number);
    let input = json!({"input": {"pullRequestId": open.id}});
    // Closing a closed pull request changes nothing.
    let data = api
        .client
        .graphql(
            &api.endpoints.graphql,
            &graphql::with_pull_request_fields(graphql::CLOSE_PULL_REQUEST),
            input,
            &what,
            true,
        )
        .await
        .map_err(needs_pull_requests_write)?;
    node(&data, "/closePullRequest/pullRequest", &what)
}

fn node(data: &Value, pointer: &str, what: &str) -> Result<PullRequestNode, GitHubError> {
    data.pointer(pointer)
        .filter(|v| !v.is_null())
        .ok_or_else(|| "no pull request in the answer".to_owned())
        .and_then(|v| serde_json::from_value(v.clone()).map_err(|e| e.to_string()))
        .map_err(|message| GitHubError::Unexpected {
            what: what.to_owned(),
            message,
        })
}

/// A 403 on a pull-request request names `pull-requests: write`, and the
/// repository setting that blocks `GITHUB_TOKEN` from opening them.
fn needs_pull_requests_write(e: GitHubError) -> GitHubError {
    match e {
        GitHubError::Forbidden { what, message, .. } => GitHubError::Forbidden {
            what,
            message,
            permission: "pull-requests: write",
            hint: "; with GITHUB_TOKEN, also enable Settings → Actions → General → \"Allow GitHub Actions to create and approve pull requests\"",
        },
        e => e,
    }
}

fn needs_pull_requests_read(e: GitHubError) -> GitHubError {
    match e {
        GitHubError::Forbidden { what, message, .. } => GitHubError::Forbidden {
            what,
            message,
            permission: "pull-requests: read",
            hint: "",
        },
        e => e,
    }
}

/// `text` inside a Markdown code span: a backtick would end it.
fn markdown_code(text: &str) -> String {
    text.replace('`', "'").replace(['\n', '\r'], " ")
}

/// The body, cut to what GitHub accepts.
fn bounded(body: &str) -> String {
    if body.len() <= BODY_LIMIT {
        return body.to_owned();
    }
    let mut cut = BODY_LIMIT;
    while !body.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(
        "{}\n\n… cut to fit GitHub's limit; the commit message lists every change.\n",
        &body[..cut]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_extends_the_trailers() {
        let m = record("chore: x\n\nGitops-Bump-Id: a\n", "b0", "t0", None);
        assert_eq!(
            m,
            "chore: x\n\nGitops-Bump-Id: a\nGitops-Bump-Base: b0\nGitops-Bump-Tree: t0\n"
        );
        let m = record("chore: x\n\nGitops-Bump-Id: a", "b0", "t1", Some("t0"));
        assert!(
            m.ends_with("Gitops-Bump-Tree: t1\nGitops-Bump-Planned-Tree: t0\n"),
            "{m}"
        );
        assert_eq!(trailer::value(&m, trailer::TREE).as_deref(), Some("t1"));
    }

    #[test]
    fn bodies_are_cut_on_a_character_boundary() {
        let long = "é".repeat(BODY_LIMIT);
        let cut = bounded(&long);
        assert!(cut.len() < long.len() && cut.contains("cut to fit"));
        assert_eq!(bounded("short"), "short");
        assert_eq!(markdown_code("a`b\nc"), "a'b c");
    }
}

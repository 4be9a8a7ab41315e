//! Pull-request mode (`--pull-request`): instead of committing to
//! `--branch`, commit to `gitops-bump/<base>/<images>` and open (or update)
//! one pull request from it into `--branch`. Owns the branch name, the
//! "create, keep or re-create" decision, the pull-request lookup and the
//! pull-request half of verification. Does not own planning: the `set` loop
//! plans against `--branch` as always, and a [`GitHubError::Stale`] from here
//! sends it back to re-read, exactly like a compare-and-swap miss.
//!
//! # The branch is re-created, never stacked
//!
//! Like Renovate, the pull-request branch is a function of (base head,
//! targets): it is always exactly one gitops-bump commit on top of the base
//! head the run read, so the pull request shows exactly one bump and merges
//! cleanly even after the base moved. Per run:
//!
//! - branch missing: `createRef` at the base head, then the usual
//!   `createCommitOnBranch` with `expectedHeadOid` = that head;
//! - branch already one commit on the base head, and that commit sets the
//!   same images to the same values (its `Gitops-Bump-Image`/`-To`
//!   trailers): nothing is written, so a re-run does not re-trigger checks;
//! - otherwise: build the commit on the base head with the Git data API and
//!   move the branch to it with one `updateRefs` (`force`, `beforeOid` = the
//!   head seen): a compare-and-swap that never passes through the base head,
//!   which GitHub would take as "no commits" and close the pull request.
//!
//! Commits on the branch that gitops-bump did not make (no `Gitops-Bump-Id`
//! trailer; merges of the base branch excepted) stop the run with an error
//! instead of being thrown away.

use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Digest as _;

use super::graphql::{self, PullRequestNode};
use super::types::checked_oid;
use super::{Api, GitHubError, ReadState, short};
use crate::backend::{FileChange, PullRequest};
use crate::commit::trailer::{self, Trailers};

/// Longest image part of a branch name before it is shortened with a hash.
const MAX_IMAGES_LEN: usize = 80;

/// Commits looked at on the pull-request branch; more than this many
/// commits ahead of the base count as "modified by someone else".
const AHEAD_DEPTH: u32 = 50;

/// GitHub refuses pull-request bodies over 65,536 characters.
const BODY_LIMIT: usize = 65_000;

/// The pull-request branch for `images` (repositories, any order) on `base`:
/// `gitops-bump/<base>/<images>`.
///
/// `<images>` is each repository's familiar name, sorted, with `/` and `:`
/// turned into `-` and the names joined by `+`, so the same images always
/// share one branch whatever their tags (`ghcr.io/acme/backend` →
/// `gitops-bump/main/ghcr.io-acme-backend`). When that part is longer than
/// 80 characters it is cut and `-` plus 10 hex digits of the SHA-256 of the
/// full names is appended, keeping it unique.
pub fn pull_request_branch(base: &str, images: &[String]) -> String {
    let mut names: Vec<String> = images.iter().map(|i| familiar(i)).collect();
    names.sort();
    names.dedup();
    let mut part = names
        .iter()
        .map(|n| sanitize(n))
        .collect::<Vec<_>>()
        .join("+");
    if part.chars().count() > MAX_IMAGES_LEN {
        let hash = sha2::Sha256::digest(names.join("\n").as_bytes());
        let hex: String = hash.iter().take(5).map(|b| format!("{b:02x}")).collect();
        let cut: String = part.chars().take(MAX_IMAGES_LEN).collect();
        part = format!("{}-{hex}", cut.trim_end_matches(['-', '.', '+']));
    }
    let branch = format!("gitops-bump/{base}/{part}");
    if super::valid_branch(&branch) {
        branch
    } else {
        // `sanitize` keeps only ref-safe characters, so this is for odd
        // bases; the hash alone is always valid.
        let hash = sha2::Sha256::digest(names.join("\n").as_bytes());
        let hex: String = hash.iter().take(5).map(|b| format!("{b:02x}")).collect();
        format!("gitops-bump/{base}/{hex}")
    }
}

/// Pull-request mode state across one run.
#[derive(Debug)]
pub struct PrContext {
    /// Target repositories, for the branch name.
    images: Vec<String>,
    /// The repository's node id (mutations take it).
    repo_id: Option<String>,
    /// The open pull request from the branch, as last seen.
    open: Option<PullRequestNode>,
    /// The pull request this run opened or updated.
    number: Option<u64>,
}

impl PrContext {
    /// Pull-request mode for these target repositories.
    pub fn new(images: Vec<String>) -> PrContext {
        PrContext {
            images,
            repo_id: None,
            open: None,
            number: None,
        }
    }

    /// The pull-request branch on `base`.
    pub fn branch(&self, base: &str) -> String {
        pull_request_branch(base, &self.images)
    }
}

/// Commits `changes` (planned at `state`, the base head) to the
/// pull-request branch; returns the commit that holds them.
pub(super) async fn commit(
    api: &mut Api,
    pr: &mut PrContext,
    state: &ReadState,
    changes: &[FileChange],
    message: &str,
) -> Result<String, GitHubError> {
    api.on = None;
    let base = api.branch().to_owned();
    let branch = pr.branch(&base);
    let seen = lookup(api, &base, &branch).await?;
    pr.repo_id = Some(seen.repo_id.clone());
    pr.open = seen.open.clone();
    api.on = Some(branch.clone());
    let Some(head) = &seen.head else {
        create_ref(api, &seen.repo_id, &branch, &state.head).await?;
        return api.commit_graphql(state, changes, message).await;
    };
    if let Some(foreign) = seen.foreign(&base) {
        return Err(GitHubError::BranchModified {
            branch,
            commit: foreign,
        });
    }
    let ours = seen.ahead.iter().find(|c| c.oid == head.oid);
    if head.parents == [state.head.as_str()]
        && ours.is_some_and(|c| same_bump(c.message.as_deref().unwrap_or(""), message))
    {
        return Ok(head.oid.clone());
    }
    let commit = api.detached_commit(state, changes, message).await?;
    update_ref(api, &seen.repo_id, &branch, &head.oid, &commit).await?;
    Ok(commit)
}

/// Opens the pull request from the branch [`commit`] wrote, or updates the
/// open one (title and body only when they differ).
pub(super) async fn publish(
    api: &Api,
    pr: &mut PrContext,
    title: &str,
    body: &str,
) -> Result<PullRequest, GitHubError> {
    let branch = api.branch().to_owned();
    let base = api.branch.clone().unwrap_or_default();
    let body = bounded(body);
    let (node, created) = match pr.open.clone() {
        Some(open) => (update_pull_request(api, &open, title, &body).await?, false),
        None => {
            let repo_id = pr.repo_id.clone().unwrap_or_default();
            match create_pull_request(api, &repo_id, &base, &branch, title, &body).await {
                Ok(node) => (node, true),
                // Another run opened it since our lookup, or our request
                // landed but its answer was lost: use the open one, so there
                // is never a second pull request for the branch.
                Err(e @ (GitHubError::Ambiguous { .. } | GitHubError::Unexpected { .. })) => {
                    let seen = lookup(api, &base, &branch).await?;
                    match seen.open {
                        Some(open) => (update_pull_request(api, &open, title, &body).await?, false),
                        None => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            }
        }
    };
    pr.number = Some(node.number);
    pr.open = Some(node.clone());
    Ok(PullRequest {
        url: node.url,
        number: node.number,
        created,
        branch,
    })
}

/// The pull-request half of verification: the pull request is open, from
/// the branch into `--branch`. Its `headRefOid` is not compared: GitHub
/// updates it asynchronously after a push, and the branch head itself was
/// checked already.
pub(super) async fn verify(api: &Api, pr: &PrContext) -> Result<Vec<String>, GitHubError> {
    let Some(number) = pr.number else {
        return Ok(vec!["no pull request was opened".into()]);
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
    Ok(match node {
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
    })
}

/// What the lookup saw.
#[derive(Debug)]
struct Seen {
    repo_id: String,
    head: Option<Head>,
    /// Commits on the branch that the base lacks, oldest first.
    ahead: Vec<graphql::HistoryNode>,
    /// How many there are (may exceed `ahead.len()`).
    ahead_by: u64,
    /// Open pull requests from the branch into the base (at most one, unless
    /// someone opened more by hand).
    open: Option<PullRequestNode>,
}

#[derive(Debug)]
struct Head {
    oid: String,
    parents: Vec<String>,
}

impl Seen {
    /// The first commit on the branch that gitops-bump did not make.
    fn foreign(&self, base: &str) -> Option<String> {
        if self.ahead_by > self.ahead.len() as u64 {
            return Some(format!(
                "{} commits ahead of {base}, more than gitops-bump ever makes",
                self.ahead_by
            ));
        }
        let merge = format!("Merge branch '{base}' into ");
        self.ahead
            .iter()
            .find(|c| {
                let m = c.message.as_deref().unwrap_or("");
                trailer::id(m).is_none() && !m.starts_with(&merge)
            })
            .map(|c| short(&c.oid).to_owned())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Comparison {
    ahead_by: u64,
    commits: graphql::History,
}

async fn lookup(api: &Api, base: &str, branch: &str) -> Result<Seen, GitHubError> {
    let what = format!("look up the pull request from {branch}");
    let data = api
        .graphql(
            &graphql::with_pull_request_fields(graphql::PULL_REQUEST_STATE),
            json!({"owner": api.repo.owner, "name": api.repo.name,
                   "base": base, "baseRef": format!("refs/heads/{base}"),
                   "head": branch, "headRef": format!("refs/heads/{branch}"),
                   "depth": AHEAD_DEPTH}),
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
        Some(t) => {
            let oid = checked_oid(
                t.get("oid").and_then(Value::as_str),
                "the branch head",
                &what,
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
                    &what,
                )?);
            }
            Some(Head { oid, parents })
        }
    };
    let comparison = repo
        .pointer("/baseRef/compare")
        .filter(|v| !v.is_null())
        .map(|c| serde_json::from_value::<Comparison>(c.clone()))
        .transpose()
        .map_err(|e| unexpected(e.to_string()))?;
    for c in comparison.iter().flat_map(|c| &c.commits.nodes) {
        checked_oid(Some(&c.oid), "a commit's oid", &what)?;
    }
    if head.is_some() && comparison.is_none() {
        return Err(unexpected(format!(
            "GitHub cannot compare {branch} with {base}"
        )));
    }
    let (ahead, ahead_by) = comparison.map_or((Vec::new(), 0), |c| (c.commits.nodes, c.ahead_by));
    let open: Vec<PullRequestNode> = repo
        .pointer("/pullRequests/nodes")
        .map(|v| serde_json::from_value(v.clone()))
        .transpose()
        .map_err(|e| unexpected(e.to_string()))?
        .unwrap_or_default();
    Ok(Seen {
        repo_id,
        head,
        ahead,
        ahead_by,
        // Oldest first: if someone opened two by hand, keep updating the first.
        open: open.into_iter().min_by_key(|p| p.number),
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
        // Another run created it first, or ours landed without an answer:
        // either way the next round sees the branch and decides again.
        Err(GitHubError::Unexpected { message, .. }) if message.contains("already exists") => Err(
            GitHubError::Stale(format!("branch {branch} (created meanwhile: {message})")),
        ),
        Err(GitHubError::Ambiguous { message, .. }) => Err(GitHubError::Stale(format!(
            "branch {branch} (no answer to createRef: {message})"
        ))),
        Err(e) => Err(e),
    }
}

async fn update_ref(
    api: &Api,
    repo_id: &str,
    branch: &str,
    before: &str,
    after: &str,
) -> Result<(), GitHubError> {
    let what = format!("move {branch} to {}", short(after));
    let input = json!({"input": {"repositoryId": repo_id, "refUpdates": [{
        "name": format!("refs/heads/{branch}"), "beforeOid": before, "afterOid": after, "force": true,
    }]}});
    match api
        .client
        .graphql(
            &api.endpoints.graphql,
            graphql::UPDATE_REFS,
            input,
            &what,
            false,
        )
        .await
    {
        Ok(_) => Ok(()),
        // A `beforeOid` mismatch, or the race lost after the check (the
        // client's `lost_race` knows the wordings): re-read. Any other
        // rejection is GitHub's message, once.
        Err(GitHubError::Stale(message)) => Err(GitHubError::Stale(format!(
            "branch {branch} (updateRefs: {message})"
        ))),
        Err(GitHubError::Ambiguous { message, .. }) => Err(GitHubError::Stale(format!(
            "branch {branch} (no answer to updateRefs: {message})"
        ))),
        Err(e) => Err(e),
    }
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

async fn update_pull_request(
    api: &Api,
    open: &PullRequestNode,
    title: &str,
    body: &str,
) -> Result<PullRequestNode, GitHubError> {
    if open.title == title && open.body.replace("\r\n", "\n").trim() == body.trim() {
        return Ok(open.clone());
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
    node(&data, "/updatePullRequest/pullRequest", &what)
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

/// Returns true if and only if `theirs` is a gitops-bump commit that sets
/// the same images to the same values as the message `ours`.
fn same_bump(theirs: &str, ours: &str) -> bool {
    let theirs = Trailers::parse(theirs);
    theirs.id.is_some() && Trailers::parse(ours).same_bump(&theirs)
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

/// `docker.io/library/nginx` → `nginx`, like `docker` prints it.
fn familiar(image: &str) -> String {
    crate::reference::Repository::parse(image)
        .map(|r| r.familiar())
        .unwrap_or_else(|_| image.to_owned())
}

/// Keeps `[a-z0-9._-]`, turns anything else into `-`, and never leaves `..`
/// or a `.lock` ending, which Git refuses in a ref component.
fn sanitize(name: &str) -> String {
    let mut out: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    while out.contains("..") {
        out = out.replace("..", ".");
    }
    if let Some(stem) = out.strip_suffix(".lock") {
        out = format!("{stem}-lock");
    }
    out.trim_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_names_are_stable_sanitized_and_bounded() {
        assert_eq!(
            pull_request_branch("main", &["ghcr.io/acme/backend".into()]),
            "gitops-bump/main/ghcr.io-acme-backend"
        );
        // Order does not matter; Docker Hub names are familiar.
        assert_eq!(
            pull_request_branch(
                "release/1.x",
                &[
                    "docker.io/library/nginx".into(),
                    "localhost:5000/a/b".into()
                ]
            ),
            "gitops-bump/release/1.x/localhost-5000-a-b+nginx"
        );
        assert_eq!(
            pull_request_branch(
                "release/1.x",
                &["localhost:5000/a/b".into(), "nginx".into()]
            ),
            "gitops-bump/release/1.x/localhost-5000-a-b+nginx"
        );
        let many: Vec<String> = (0..20).map(|i| format!("ghcr.io/acme/svc-{i}")).collect();
        let long = pull_request_branch("main", &many);
        assert!(long.len() <= "gitops-bump/main/".len() + 80 + 11, "{long}");
        assert!(super::super::valid_branch(&long), "{long}");
        let mut fewer = many.clone();
        fewer.pop();
        assert_ne!(long, pull_request_branch("main", &fewer));
        assert_eq!(sanitize("acme/x.lock"), "acme-x-lock");
    }
}

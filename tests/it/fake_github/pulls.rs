//! Pull requests and their comments in the fake, and the rules by which
//! GitHub changes a pull request's state on its own when its branches move.
//! Owns the data and those rules; the GraphQL and REST shapes live in
//! `graphql` and `rest`.
//!
//! What GitHub does without being asked (each rule cites what it follows):
//!
//! | event | state | source |
//! |---|---|---|
//! | head branch deleted | `CLOSED` (unless `Faults::keep_pulls_open_on_head_delete`) | comit-network/comit-rs#3102 ("if we force delete it the PR gets closed"); bitcoin-core/gitian.sigs#84 ("GitHub closes a pull request if … the branch is removed"); the opposite was observed for a while in 2022: Mergifyio/mergify#4422 |
//! | base branch deleted | `CLOSED` | Mergify docs, `delete_head_branch` `force`: "GitHub will therefore close the dependent pull requests" |
//! | head moved to a commit with no commits beyond the base | `CLOSED` | grafana/mimir-prometheus#933 (force-pushing the head to the base "closes the existing PR"); gitops-bump's `src/github/pull.rs` relies on it |
//! | base moved to contain the (unchanged) head | `MERGED` | bitcoin-core/gitian.sigs#84 ("if the underlying commit is … merged"); servo/homu#46 |
//! | reopen with the head deleted | refused: "state cannot be changed. The B branch has been deleted." | pytorch/pytorch#114423 (REST 422 body) |
//! | reopen after the head moved while closed | refused: "… The B branch was force pushed or recreated." | isaacs/github#361 (the reopen button's tooltip); rucio/rucio#8289 ("the branch must be in the exact state it was at the time it was closed") |

use super::git::Repo;

/// A pull request in the fake.
#[derive(Clone, Debug)]
pub struct Pull {
    /// Number (shared with nothing else: the fake has no issues).
    pub number: u64,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// `OPEN`, `CLOSED` or `MERGED`.
    pub state: String,
    /// Branch it merges into.
    pub base: String,
    /// Branch it merges from.
    pub head: String,
    /// The head commit GitHub last saw (kept when the branch is deleted,
    /// as `PullRequest.headRefOid` is).
    pub head_oid: String,
    /// Opened as a draft.
    pub draft: bool,
    /// Login of whoever opened it (`github-actions` for the fake's token).
    pub author: String,
    /// ISO 8601 UTC creation time.
    pub created_at: String,
    /// ISO 8601 UTC time it was closed or merged.
    pub closed_at: Option<String>,
}

impl Pull {
    /// Its node id.
    pub fn id(&self) -> String {
        format!("PR_fake{}", self.number)
    }

    /// Its page.
    pub fn url(&self) -> String {
        format!(
            "https://github.com/{}/{}/pull/{}",
            super::OWNER,
            super::NAME,
            self.number
        )
    }

    /// Returns true if and only if it is open.
    pub fn is_open(&self) -> bool {
        self.state == "OPEN"
    }
}

/// A comment on a pull request (`addComment`).
#[derive(Clone, Debug)]
pub struct Comment {
    /// Node id (`IC_fake<N>`).
    pub id: String,
    /// Pull request number it is on.
    pub pull: u64,
    /// Markdown body.
    pub body: String,
    /// Login of its author.
    pub author: String,
    /// ISO 8601 UTC creation time.
    pub created_at: String,
}

impl Comment {
    /// Its page (`…/pull/N#issuecomment-M`).
    pub fn url(&self) -> String {
        let n = self.id.trim_start_matches("IC_fake");
        format!(
            "https://github.com/{}/{}/pull/{}#issuecomment-{n}",
            super::OWNER,
            super::NAME,
            self.pull
        )
    }
}

/// Applies GitHub's automatic state changes (module table) to every open
/// pull request, given the branches as they are now.
pub fn reconcile(pulls: &mut [Pull], repo: &Repo, keep_open_on_head_delete: bool, now: &str) {
    for p in pulls.iter_mut().filter(|p| p.is_open()) {
        let (head, base) = (repo.head(&p.head), repo.head(&p.base));
        let close = |p: &mut Pull, state: &str| {
            p.state = state.into();
            p.closed_at = Some(now.to_owned());
        };
        match (head, base) {
            (None, _) => {
                if !keep_open_on_head_delete {
                    close(p, "CLOSED");
                }
            }
            (Some(_), None) => close(p, "CLOSED"),
            (Some(head), Some(base)) => {
                if repo.range(&base, &head).is_empty() {
                    if head == p.head_oid {
                        close(p, "MERGED");
                    } else {
                        close(p, "CLOSED");
                    }
                }
                p.head_oid = head;
            }
        }
    }
}

/// Why `pull` cannot be reopened now, in GitHub's words; `None` when it can.
pub fn reopen_refusal(pull: &Pull, repo: &Repo) -> Option<String> {
    if pull.state == "MERGED" {
        // NOTE: GitHub's exact wording for reopening a merged pull request
        // was not found; waffleio/waffle.io#2194 only says it is refused.
        return Some("state cannot be changed. The pull request is merged (in the fake).".into());
    }
    match repo.head(&pull.head) {
        None => Some(format!(
            "state cannot be changed. The {} branch has been deleted.",
            pull.head
        )),
        Some(h) if h != pull.head_oid => Some(format!(
            "state cannot be changed. The {} branch was force pushed or recreated.",
            pull.head
        )),
        Some(h) => {
            let Some(base) = repo.head(&pull.base) else {
                return Some(format!(
                    "state cannot be changed. The {} branch has been deleted.",
                    pull.base
                ));
            };
            repo.range(&base, &h).is_empty().then(|| {
                format!(
                    "state cannot be changed. There are no new commits on the {} branch (in the fake).",
                    pull.head
                )
            })
        }
    }
}

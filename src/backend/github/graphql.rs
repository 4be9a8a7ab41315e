//! Every GraphQL document the GitHub backend sends, and the shapes of their
//! answers. The documents are public so that a test can validate each one
//! against GitHub's published schema (an invented field fails the build).
//!
//! Posted by hand rather than through octocrab: on GitHub Enterprise Server
//! octocrab joins its GraphQL URL wrongly (`/api/v3/graphql`), and its error
//! type drops `type: STALE_DATA`, which is our compare-and-swap signal.

use serde::Deserialize;
use serde_json::Value;

use super::GitHubError;
use super::types::checked_oid;

/// The fields read for each file: enough to tell text from binary and to
/// notice GraphQL's truncation (then the blob API is used).
pub const FILE_FIELDS: &str = "fragment FileFields on TreeEntry {
  mode
  object {
    ... on Blob { oid byteSize isBinary isTruncated text }
  }
}
";

/// The one write: all file changes in one commit, on top of
/// `expectedHeadOid` only (a compare-and-swap on the branch head). The tree
/// is read back for pull-request branches, whose commits record it.
pub const CREATE_COMMIT: &str = "mutation CreateCommit($input: CreateCommitOnBranchInput!) {
  createCommitOnBranch(input: $input) {
    commit { oid tree { oid } }
  }
}
";

/// Recent commits on the branch, to find our `Gitops-Bump-Id` trailer after
/// a mutation whose answer was lost.
pub const RECENT_HISTORY: &str =
    "query RecentHistory($owner: String!, $name: String!, $ref: String!, $depth: Int!) {
  repository(owner: $owner, name: $name) {
    ref(qualifiedName: $ref) {
      target {
        oid
        ... on Commit {
          history(first: $depth) { nodes { oid message } }
        }
      }
    }
  }
}
";

/// The repository's default branch, when `--branch` is not given.
pub const DEFAULT_BRANCH: &str = "query DefaultBranch($owner: String!, $name: String!) {
  repository(owner: $owner, name: $name) {
    defaultBranchRef { name }
  }
}
";

/// The fields read for each pull request.
pub const PULL_REQUEST_FIELDS: &str = "fragment PullRequestFields on PullRequest {
  id
  number
  url
  title
  body
  state
  baseRefName
  headRefName
  headRefOid
}
";

/// Pull-request mode, before writing: the repository's node id (mutations
/// take it); the pull-request branch's head with what decides whether it is
/// still only gitops-bump's (its parents, tree, message and the people on
/// it: `pull_head`); how many of its commits the base lacks (with the head
/// that count is about: fields are resolved one after the other, and the
/// branch may move in between); and the open
/// pull requests from it into `--branch` (never open a second).
pub const PULL_REQUEST_STATE: &str = "query PullRequestState($owner: String!, $name: String!, $base: String!, $baseRef: String!, $head: String!, $headRef: String!) {
  repository(owner: $owner, name: $name) {
    id
    headRef: ref(qualifiedName: $headRef) {
      target {
        oid
        ... on Commit {
          message
          tree { oid }
          parents(first: 2) { totalCount nodes { oid } }
          committer { name email user { login } }
          author { name email user { login } }
        }
      }
    }
    baseRef: ref(qualifiedName: $baseRef) {
      compare(headRef: $head) { aheadBy headTarget { oid } }
    }
    pullRequests(headRefName: $head, baseRefName: $base, states: [OPEN], first: 10) {
      nodes { ...PullRequestFields }
    }
  }
}
";

/// Creates the pull-request branch (or a temporary one) at the base head
/// (`createCommitOnBranch` cannot create branches).
pub const CREATE_REF: &str = "mutation CreateRef($input: CreateRefInput!) {
  createRef(input: $input) {
    ref { name target { oid } }
  }
}
";

/// Moves the pull-request branch to a re-created commit and deletes the
/// temporary branch it was made on, in one atomic, compare-and-swap update
/// (`beforeOid`), never through the base head; also deletes a branch
/// (`afterOid` all zeros).
pub const UPDATE_REFS: &str = "mutation UpdateRefs($input: UpdateRefsInput!) {
  updateRefs(input: $input) { clientMutationId }
}
";

/// Says on a pull request why gitops-bump closes it.
pub const ADD_COMMENT: &str = "mutation AddComment($input: AddCommentInput!) {
  addComment(input: $input) { commentEdge { node { url } } }
}
";

/// Closes a pull request that has nothing left to do.
pub const CLOSE_PULL_REQUEST: &str = "mutation ClosePullRequest($input: ClosePullRequestInput!) {
  closePullRequest(input: $input) {
    pullRequest { ...PullRequestFields }
  }
}
";

/// Opens the pull request.
pub const CREATE_PULL_REQUEST: &str =
    "mutation CreatePullRequest($input: CreatePullRequestInput!) {
  createPullRequest(input: $input) {
    pullRequest { ...PullRequestFields }
  }
}
";

/// Rewrites an open pull request's title and body.
pub const UPDATE_PULL_REQUEST: &str =
    "mutation UpdatePullRequest($input: UpdatePullRequestInput!) {
  updatePullRequest(input: $input) {
    pullRequest { ...PullRequestFields }
  }
}
";

/// Verification in pull-request mode: the pull request by number.
pub const PULL_REQUEST: &str = "query PullRequest($owner: String!, $name: String!, $number: Int!) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) { ...PullRequestFields }
  }
}
";

/// `doc` with the [`PULL_REQUEST_FIELDS`] fragment it spreads.
pub fn with_pull_request_fields(doc: &str) -> String {
    format!("{doc}{PULL_REQUEST_FIELDS}")
}

/// How many recent commits the verification and the trailer lookup see.
pub const HISTORY_DEPTH: u32 = 100;

/// Where a file query starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anchor {
    /// The branch head (`$ref`), answering its oid: the first chunk of a read.
    Branch,
    /// One commit (`$head`), so later chunks read the very same tree.
    Commit,
}

/// A query for `n` files (variables `$p0…`), at `anchor`; with `history`,
/// also the recent commit ids (for verification).
pub fn files_query(n: usize, anchor: Anchor, history: bool) -> String {
    let mut vars = String::from("$owner: String!, $name: String!");
    vars.push_str(match anchor {
        Anchor::Branch => ", $ref: String!",
        Anchor::Commit => ", $head: GitObjectID!",
    });
    if history {
        vars.push_str(", $depth: Int!");
    }
    let mut fields = String::new();
    for i in 0..n {
        vars.push_str(&format!(", $p{i}: String!"));
        fields.push_str(&format!(
            "          f{i}: file(path: $p{i}) {{ ...FileFields }}\n"
        ));
    }
    if history {
        fields.push_str("          history(first: $depth) { nodes { oid } }\n");
    }
    let open = match anchor {
        Anchor::Branch => "ref(qualifiedName: $ref) {\n      target {",
        Anchor::Commit => "object(oid: $head) {\n      ... on Commit {",
    };
    let body = match anchor {
        Anchor::Branch => format!(
            "    {open}\n        oid\n        ... on Commit {{\n          tree {{ oid }}\n{fields}        }}\n      }}\n    }}\n"
        ),
        Anchor::Commit => format!(
            "    {open}\n          oid\n          tree {{ oid }}\n{fields}      }}\n    }}\n"
        ),
    };
    let mut doc = format!(
        "query ReadFiles({vars}) {{\n  repository(owner: $owner, name: $name) {{\n{body}  }}\n}}\n"
    );
    if n > 0 {
        doc.push_str(FILE_FIELDS);
    }
    doc
}

/// The fields of each commit in a file's history ([`history_query`]).
pub const HISTORY_COMMIT_FIELDS: &str = "fragment HistoryCommit on Commit {
  oid
  committedDate
  message
  author { name user { login } }
}
";

/// Most commits one `history` connection answers (GitHub: `first` is 1..=100).
pub const MAX_PAGE: usize = 100;

/// GitHub's node limit for one GraphQL query (docs, "Rate limits and query
/// limits for the GraphQL API": at most 500,000 total nodes).
pub const NODE_LIMIT: usize = 500_000;

/// A query for the recent history of `n` files (variables `$p0…`, `$since`,
/// `$depth`), at `anchor`: one aliased `h{i}: history(path:, since:,
/// first:)` per file, each commit with its message, committer date, author,
/// the file's text in it and in its first parent. It asks GitHub for
/// `2 × depth` nodes per file (the commits and their first parents).
/// `n` is at least 1: with no file there is nothing to ask.
pub fn history_query(n: usize, anchor: Anchor) -> String {
    let mut vars = String::from("$owner: String!, $name: String!");
    vars.push_str(match anchor {
        Anchor::Branch => ", $ref: String!",
        Anchor::Commit => ", $head: GitObjectID!",
    });
    vars.push_str(", $since: GitTimestamp!, $depth: Int!");
    let mut fields = String::new();
    for i in 0..n {
        vars.push_str(&format!(", $p{i}: String!"));
        fields.push_str(&format!(
            "          h{i}: history(path: $p{i}, since: $since, first: $depth) {{
            pageInfo {{ hasNextPage }}
            nodes {{
              ...HistoryCommit
              file(path: $p{i}) {{ ...FileFields }}
              parents(first: 1) {{ nodes {{ file(path: $p{i}) {{ ...FileFields }} }} }}
            }}
          }}
"
        ));
    }
    let body = match anchor {
        Anchor::Branch => format!(
            "    ref(qualifiedName: $ref) {{\n      target {{\n        oid\n        ... on Commit {{\n{fields}        }}\n      }}\n    }}\n"
        ),
        Anchor::Commit => format!(
            "    object(oid: $head) {{\n      ... on Commit {{\n          oid\n{fields}      }}\n    }}\n"
        ),
    };
    let mut doc = format!(
        "query FileHistory({vars}) {{\n  repository(owner: $owner, name: $name) {{\n{body}  }}\n}}\n"
    );
    doc.push_str(HISTORY_COMMIT_FIELDS);
    doc.push_str(FILE_FIELDS);
    doc
}

/// Every document shape the backend can send, named, for schema validation.
pub fn all_documents() -> Vec<(String, String)> {
    let mut out = vec![
        ("CREATE_COMMIT".to_owned(), CREATE_COMMIT.to_owned()),
        ("RECENT_HISTORY".to_owned(), RECENT_HISTORY.to_owned()),
        ("DEFAULT_BRANCH".to_owned(), DEFAULT_BRANCH.to_owned()),
        (
            "PULL_REQUEST_STATE".to_owned(),
            with_pull_request_fields(PULL_REQUEST_STATE),
        ),
        ("CREATE_REF".to_owned(), CREATE_REF.to_owned()),
        ("UPDATE_REFS".to_owned(), UPDATE_REFS.to_owned()),
        ("ADD_COMMENT".to_owned(), ADD_COMMENT.to_owned()),
        (
            "CLOSE_PULL_REQUEST".to_owned(),
            with_pull_request_fields(CLOSE_PULL_REQUEST),
        ),
        (
            "CREATE_PULL_REQUEST".to_owned(),
            with_pull_request_fields(CREATE_PULL_REQUEST),
        ),
        (
            "UPDATE_PULL_REQUEST".to_owned(),
            with_pull_request_fields(UPDATE_PULL_REQUEST),
        ),
        (
            "PULL_REQUEST".to_owned(),
            with_pull_request_fields(PULL_REQUEST),
        ),
    ];
    for anchor in [Anchor::Branch, Anchor::Commit] {
        for n in [1, 3] {
            out.push((
                format!("history_query({n}, {anchor:?})"),
                history_query(n, anchor),
            ));
        }
        for history in [false, true] {
            for n in [0, 1, 3] {
                out.push((
                    format!("files_query({n}, {anchor:?}, history={history})"),
                    files_query(n, anchor, history),
                ));
            }
        }
    }
    out
}

/// `... on Blob` fields of one file.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlobFields {
    /// Blob id, for the REST blob fallback.
    pub oid: Option<String>,
    /// Size in bytes.
    pub byte_size: Option<u64>,
    /// GitHub's guess; binary blobs have no `text`.
    pub is_binary: Option<bool>,
    /// True when `text` was cut short.
    #[serde(default)]
    pub is_truncated: bool,
    /// UTF-8 text (lossy on GitHub's side for invalid UTF-8).
    pub text: Option<String>,
}

/// One `FileFields` answer.
#[derive(Debug, Deserialize)]
pub struct FileEntry {
    /// Git file mode as a number (`33188` is `100644`).
    pub mode: Option<u32>,
    /// The blob (`None` for a directory or submodule).
    pub object: Option<BlobFields>,
}

/// A recent commit.
#[derive(Debug, Deserialize)]
pub struct HistoryNode {
    /// Commit id.
    pub oid: String,
    /// Full message (only in [`RECENT_HISTORY`]).
    #[serde(default)]
    pub message: Option<String>,
}

/// `PullRequestFields`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PullRequestNode {
    /// Node id, for `updatePullRequest`.
    pub id: String,
    /// Number.
    pub number: u64,
    /// Page on GitHub.
    pub url: String,
    /// Title.
    pub title: String,
    /// Body (Markdown).
    pub body: String,
    /// `OPEN`, `CLOSED` or `MERGED`.
    pub state: String,
    /// The branch it merges into.
    pub base_ref_name: String,
    /// The branch it merges from.
    pub head_ref_name: String,
    /// The commit its head branch points at.
    pub head_ref_oid: String,
}

/// `CommitHistoryConnection { nodes }`.
#[derive(Debug, Deserialize)]
pub struct History {
    /// Newest first.
    #[serde(default)]
    pub nodes: Vec<HistoryNode>,
}

impl History {
    /// The `history` (or `commits`) connection in the answer to `what`, every
    /// commit id checked.
    pub fn from_answer(v: &Value, what: &str) -> Result<History, GitHubError> {
        let history: History =
            serde_json::from_value(v.clone()).map_err(|e| GitHubError::Unexpected {
                what: what.to_owned(),
                message: e.to_string(),
            })?;
        for n in &history.nodes {
            checked_oid(Some(&n.oid), "a commit's oid", what)?;
        }
        Ok(history)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_query_has_one_alias_per_path_and_no_unused_fragment() {
        let q = files_query(2, Anchor::Branch, false);
        assert!(q.contains("f0: file(path: $p0)") && q.contains("f1: file(path: $p1)"));
        assert!(q.contains("fragment FileFields"));
        assert!(!files_query(0, Anchor::Commit, true).contains("fragment"));
    }

    #[test]
    fn history_query_has_one_aliased_history_per_path() {
        let q = history_query(2, Anchor::Commit);
        for i in 0..2 {
            assert!(q.contains(&format!(
                "h{i}: history(path: $p{i}, since: $since, first: $depth)"
            )));
            assert_eq!(q.matches(&format!("file(path: $p{i})")).count(), 2, "{q}");
        }
        assert!(q.contains("fragment HistoryCommit") && q.contains("fragment FileFields"));
    }
}

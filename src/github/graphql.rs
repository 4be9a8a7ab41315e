//! Every GraphQL document the GitHub backend sends, and the shapes of their
//! answers. The documents are public so that a test can validate each one
//! against GitHub's published schema (an invented field fails the build).
//!
//! Posted by hand rather than through octocrab: on GitHub Enterprise Server
//! octocrab joins its GraphQL URL wrongly (`/api/v3/graphql`), and its error
//! type drops `type: STALE_DATA`, which is our compare-and-swap signal.

use serde::Deserialize;

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
/// `expectedHeadOid` only (a compare-and-swap on the branch head).
pub const CREATE_COMMIT: &str = "mutation CreateCommit($input: CreateCommitOnBranchInput!) {
  createCommitOnBranch(input: $input) {
    commit { oid }
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

/// Every document shape the backend can send, named, for schema validation.
pub fn all_documents() -> Vec<(String, String)> {
    let mut out = vec![
        ("CREATE_COMMIT".to_owned(), CREATE_COMMIT.to_owned()),
        ("RECENT_HISTORY".to_owned(), RECENT_HISTORY.to_owned()),
        ("DEFAULT_BRANCH".to_owned(), DEFAULT_BRANCH.to_owned()),
    ];
    for anchor in [Anchor::Branch, Anchor::Commit] {
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

/// `CommitHistoryConnection { nodes }`.
#[derive(Debug, Deserialize)]
pub struct History {
    /// Newest first.
    #[serde(default)]
    pub nodes: Vec<HistoryNode>,
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
}

//! The read side of the GitHub backend: list the selected paths with the
//! REST tree API (walking subtrees when GitHub truncates a recursive
//! listing; a cut non-recursive listing cannot be paged and fails), then
//! read them in GraphQL queries pinned to one commit, with a blob fallback
//! for binary or truncated text (DESIGN.md §6). `--max-file-size` applies
//! to listed and exact paths alike (GraphQL's `byteSize`); a file over it
//! is streamed (raw blob, never held whole) through a search for the
//! selection's needles, as `--dir` searches it, so a run cannot silently
//! leave a too-large file that holds its image behind. The selection's keep
//! filter drops what the run cannot use as the file queries answer. Every
//! object id taken from an answer is checked before it is used.

use std::collections::HashMap;

use base64::Engine as _;
use serde_json::{Value, json};

use super::client::{BLOB_CEILING, Req, Sink, TREE_LIMIT, message_of};
use super::graphql::{self, Anchor, BlobFields, FileEntry, History};
use super::types::{checked_oid, encode_path};
use super::{Api, CHUNK, GitHubError, ReadState};
use crate::backend::files::{FileSelection, Search, too_large};
use crate::backend::{SkippedContent, Snapshot, SourceFile};
use crate::finding::Finding;

/// One file answer, ready to become bytes.
pub(super) enum Fetched {
    Absent,
    Text(String),
    /// Binary or truncated: fetch the blob by id.
    Blob(String),
    /// Over the size limit (`byteSize`): its size, and its blob id when
    /// GitHub gave one, to search it for [`FileSelection::needles`].
    TooLarge {
        size: u64,
        oid: Option<String>,
    },
}

/// The media type that makes `GET git/blobs/{sha}` answer the blob's bytes
/// instead of base64 in JSON (docs, "Get a blob": "Returns the raw blob
/// data"; blobs up to 100 MB).
const RAW: &str = "application/vnd.github.raw+json";

/// What one pass over a listing ended with.
enum Pass {
    /// The snapshot, and what the write path needs of the read.
    Read(Snapshot, ReadState),
    /// The branch moved between the listing and the first file query: the
    /// query read commit `head` with tree `tree`.
    Moved { head: String, tree: String },
}

impl Api {
    /// Lists the selected paths (unless they are exact), then reads them in
    /// queries pinned to one commit, dropping what `files.keep` rejects as
    /// each batch arrives.
    pub(super) async fn read(
        &self,
        files: &FileSelection,
    ) -> Result<(Snapshot, ReadState), GitHubError> {
        let mut listing = match files.exact_paths() {
            Some(paths) => Listing::exact(paths),
            None => self.list(self.branch(), files).await?,
        };
        let mut pin: Option<String> = None;
        loop {
            match self.read_listed(files, &listing, pin.as_deref()).await? {
                Pass::Read(snapshot, state) => return Ok((snapshot, state)),
                Pass::Moved { head, tree } => {
                    // The listing and the file query are two requests: the
                    // branch moved in between. List the tree the query saw,
                    // read that commit (pinned, so this happens once).
                    listing = self.list(&tree, files).await?;
                    pin = Some(head);
                }
            }
        }
    }

    /// Reads `listing.paths` in chunks: the first at the branch head (or at
    /// `pin`), the rest pinned to the commit the first one saw. Files over
    /// `files.max_size` (`byteSize`, or the listing's size) are skipped with
    /// a warning, exact paths included, and streamed through a search for
    /// `files.needles` when there are any. Every [`KEEP_BATCH`] files kept,
    /// `files.keep` drops what the run cannot use, so memory follows what
    /// the run needs, not the number of files.
    async fn read_listed(
        &self,
        files: &FileSelection,
        listing: &Listing,
        pin: Option<&str>,
    ) -> Result<Pass, GitHubError> {
        let mut snapshot = Snapshot::default();
        let mut modes = HashMap::new();
        let mut head = pin.map(str::to_owned);
        let mut tree = String::new();
        let mut unfiltered = 0;
        let mut chunks: Vec<&[String]> = listing.paths.chunks(CHUNK).collect();
        if chunks.is_empty() {
            chunks.push(&[]);
        }
        for (i, chunk) in chunks.into_iter().enumerate() {
            let (commit, _) = self.query_files(chunk, head.as_deref(), false).await?;
            if i == 0 {
                if pin.is_none() && listing.tree.as_ref().is_some_and(|t| t != &commit.tree) {
                    return Ok(Pass::Moved {
                        head: commit.oid,
                        tree: commit.tree,
                    });
                }
                snapshot.problems.clone_from(&listing.problems);
                for big in &listing.too_large {
                    self.skip_too_large(
                        files,
                        &big.path,
                        big.size,
                        big.oid.as_deref(),
                        &mut snapshot,
                    )
                    .await?;
                }
            }
            head = Some(commit.oid);
            tree = commit.tree;
            for (path, entry) in chunk.iter().zip(commit.files) {
                if let Some(mode) = entry.as_ref().and_then(|e| e.mode) {
                    modes.insert(path.clone(), mode);
                }
                let bytes = match classify_file(entry, files.max_size) {
                    Fetched::Absent => continue,
                    Fetched::TooLarge { size, oid } => {
                        self.skip_too_large(files, path, size, oid.as_deref(), &mut snapshot)
                            .await?;
                        continue;
                    }
                    Fetched::Text(t) => t.into_bytes(),
                    Fetched::Blob(oid) => self.blob(&oid, path, files.max_size).await?,
                };
                // A blob read without `byteSize` is checked once it is here.
                if bytes.len() as u64 > files.max_size {
                    snapshot
                        .problems
                        .push(too_large(path, bytes.len() as u64, files.max_size));
                    if !files.needles.is_empty() {
                        let mut search = Search::new(&files.needles);
                        search.push(&bytes);
                        snapshot
                            .skipped
                            .insert(path.clone(), SkippedContent::Mentions(search.finish()));
                    }
                    continue;
                }
                snapshot.files.push(SourceFile {
                    path: path.clone(),
                    bytes,
                });
            }
            files.keep_read(&mut snapshot, &mut unfiltered, false);
        }
        files.keep_read(&mut snapshot, &mut unfiltered, true);
        let head = head.ok_or_else(|| GitHubError::Unexpected {
            what: "read files".into(),
            message: "no head commit".into(),
        })?;
        modes.extend(listing.modes.iter().map(|(p, m)| (p.clone(), *m)));
        snapshot.head = Some(head.clone());
        snapshot.files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Pass::Read(snapshot, ReadState { head, tree, modes }))
    }

    /// Skips `path`, `size` bytes over the limit, with the warning every
    /// backend gives; with needles to look for, streams its blob `oid`
    /// through [`Api::search_blob`] and keeps what it mentions, so a guard
    /// can fail a run that would leave it behind (as `--dir` does).
    async fn skip_too_large(
        &self,
        files: &FileSelection,
        path: &str,
        size: u64,
        oid: Option<&str>,
        snapshot: &mut Snapshot,
    ) -> Result<(), GitHubError> {
        snapshot
            .problems
            .push(too_large(path, size, files.max_size));
        if files.needles.is_empty() {
            return Ok(());
        }
        let Some(oid) = oid else {
            // GitHub gave no blob id: nothing to search, as for a file
            // `--dir` cannot open.
            return Ok(());
        };
        let found = self.search_blob(oid, path, &files.needles).await?;
        snapshot
            .skipped
            .insert(path.to_owned(), SkippedContent::Mentions(found));
        Ok(())
    }

    /// Which of `needles` the blob `oid` (the content of `path`)
    /// [`mentions`](crate::backend::files::mentions): one `GET git/blobs/{sha}`
    /// in the [`RAW`] media type, streamed through a [`Search`], so memory
    /// stays a few KiB whatever the blob's size (at most [`BLOB_CEILING`]
    /// bytes are read). Goes through the client's waits and retries and is
    /// counted like any request.
    async fn search_blob(
        &self,
        oid: &str,
        path: &str,
        needles: &[String],
    ) -> Result<Vec<String>, GitHubError> {
        let what = format!("search {path} (over --max-file-size) for the images of this run");
        let oid = checked_oid(Some(oid), "the blob's oid", &what)?;
        let mut sink = Searching {
            needles,
            search: Search::new(needles),
        };
        let resp = self
            .client
            .stream(
                &Req {
                    limit: BLOB_CEILING,
                    ..Req::rest(
                        reqwest::Method::GET,
                        self.rest(&format!("git/blobs/{oid}")),
                        None,
                        &what,
                        true,
                    )
                },
                RAW,
                &mut sink,
            )
            .await?;
        if !resp.status.is_success() {
            return Err(GitHubError::Unexpected {
                what,
                message: format!("HTTP {}: {}", resp.status.as_u16(), message_of(&resp.json)),
            });
        }
        Ok(sink.search.finish())
    }

    /// The blob paths under `treeish` that `files` selects. Walks subtrees
    /// when GitHub truncates the recursive listing; fails with
    /// [`GitHubError::Truncated`] when a non-recursive listing is cut too
    /// (the API cannot page it).
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
            let v = self.get(url, &what, TREE_LIMIT).await?;
            if listing.tree.is_none() {
                let sha = v.get("sha").and_then(Value::as_str);
                listing.tree = Some(checked_oid(sha, "the tree's sha", &what)?);
            }
            let truncated = v.get("truncated").and_then(Value::as_bool) == Some(true);
            if truncated && recursive {
                // https://docs.github.com/en/rest/git/trees#get-a-tree: fetch
                // "the sub-trees individually" when the recursive answer is cut.
                stack.push((sha, prefix, false));
                continue;
            }
            if truncated {
                let dir = prefix.trim_end_matches('/');
                return Err(GitHubError::Truncated {
                    what,
                    dir: if dir.is_empty() {
                        "/".into()
                    } else {
                        dir.into()
                    },
                });
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
                        let sha = checked_oid(
                            entry.get("sha").and_then(Value::as_str),
                            "a subtree's sha",
                            &what,
                        )?;
                        stack.push((sha, format!("{path}/"), true));
                    }
                    "blob" if files.matches(&path) => {
                        let size = entry.get("size").and_then(Value::as_u64).unwrap_or(0);
                        if let Ok(mode) = u32::from_str_radix(field("mode"), 8) {
                            listing.modes.insert(path.clone(), mode);
                        }
                        if size > files.max_size {
                            let oid = entry.get("sha").and_then(Value::as_str).map(str::to_owned);
                            listing.too_large.push(Oversized { path, size, oid });
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

    /// One files query. With `pin`, reads that commit; else the branch head.
    pub(super) async fn query_files(
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
        if commit.get("oid").is_none_or(Value::is_null) {
            return Err(GitHubError::Unexpected {
                what,
                message: "the branch does not point at a commit".into(),
            });
        }
        let oid = checked_oid(
            commit.get("oid").and_then(Value::as_str),
            "the commit's oid",
            &what,
        )?;
        let tree = checked_oid(
            commit.pointer("/tree/oid").and_then(Value::as_str),
            "the commit's tree oid",
            &what,
        )?;
        let mut files = Vec::with_capacity(paths.len());
        for i in 0..paths.len() {
            let entry = file_entry(commit.get(format!("f{i}")), &what)?;
            files.push(entry);
        }
        let history = commit
            .get("history")
            .map(|h| History::from_answer(h, &what))
            .transpose()?;
        Ok((CommitFiles { oid, tree, files }, history))
    }

    /// The blob `oid` (the content of `path`) through the REST blob API,
    /// for texts GraphQL cut or withheld. Its answer is capped at what a
    /// file of `max` bytes takes in base64 (at most [`BLOB_CEILING`]).
    pub(super) async fn blob(
        &self,
        oid: &str,
        path: &str,
        max: u64,
    ) -> Result<Vec<u8>, GitHubError> {
        let what = format!("read {path}");
        let oid = checked_oid(Some(oid), "the blob's oid", &what)?;
        let v = self
            .get(
                self.rest(&format!("git/blobs/{oid}")),
                &what,
                blob_answer_limit(max),
            )
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
}

#[derive(Debug, Default)]
struct Listing {
    /// Tree id the listing saw (`None` for exact paths: nothing listed).
    tree: Option<String>,
    paths: Vec<String>,
    modes: HashMap<String, u32>,
    problems: Vec<Finding>,
    /// Selected blobs over the size limit, in listing order: not read.
    too_large: Vec<Oversized>,
}

/// A listed blob over `--max-file-size`.
#[derive(Debug)]
struct Oversized {
    path: String,
    size: u64,
    /// Its sha as the listing gave it (checked before it is used).
    oid: Option<String>,
}

/// A [`Sink`] that searches a streamed blob.
struct Searching<'n> {
    needles: &'n [String],
    search: Search<'n>,
}

impl Sink for Searching<'_> {
    fn restart(&mut self) {
        self.search = Search::new(self.needles);
    }

    fn push(&mut self, piece: &[u8]) -> bool {
        self.search.push(piece)
    }
}

impl Listing {
    fn exact(paths: Vec<String>) -> Listing {
        Listing {
            paths,
            ..Listing::default()
        }
    }
}

/// One files query's answer: the commit it read and each path's entry.
pub(super) struct CommitFiles {
    pub(super) oid: String,
    pub(super) tree: String,
    pub(super) files: Vec<Option<FileEntry>>,
}

/// One `FileFields` answer (`null` when the path does not exist), its blob
/// id checked.
pub(super) fn file_entry(v: Option<&Value>, what: &str) -> Result<Option<FileEntry>, GitHubError> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let entry: FileEntry =
        serde_json::from_value(v.clone()).map_err(|e| GitHubError::Unexpected {
            what: what.to_owned(),
            message: e.to_string(),
        })?;
    if let Some(blob) = &entry.object
        && blob.oid.is_some()
    {
        checked_oid(blob.oid.as_deref(), "a blob's oid", what)?;
    }
    Ok(Some(entry))
}

/// The largest blob answer accepted for a file of at most `max` bytes:
/// base64 (4 bytes per 3) wrapped at 60 columns (61 per 60, as GitHub sends
/// it), plus room for the JSON around it, at most [`BLOB_CEILING`].
pub(super) fn blob_answer_limit(max: u64) -> usize {
    let base64 = max.div_ceil(3).saturating_mul(4);
    let wrapped = base64.saturating_add(base64 / 60);
    usize::try_from(wrapped.saturating_add(64 * 1024))
        .unwrap_or(usize::MAX)
        .min(BLOB_CEILING)
}

pub(super) fn classify_file(entry: Option<FileEntry>, max: u64) -> Fetched {
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
        return Fetched::TooLarge { size, oid };
    }
    match (text, oid) {
        (Some(t), _) if !is_truncated && is_binary != Some(true) => Fetched::Text(t),
        (_, Some(oid)) => Fetched::Blob(oid),
        (Some(t), None) => Fetched::Text(t),
        (None, None) => Fetched::Absent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_answers_are_capped_by_the_file_size_limit() {
        // 5 MiB in base64 wrapped at 60 columns, plus 64 KiB of room.
        let five: u64 = 5 * 1024 * 1024;
        let base64 = five.div_ceil(3) * 4;
        assert_eq!(
            blob_answer_limit(five),
            (base64 + base64 / 60 + 64 * 1024) as usize
        );
        // GitHub's real answer for a file of exactly the limit fits.
        let bytes = vec![b'x'; 1000];
        let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let wrapped: Vec<&str> = encoded
            .as_bytes()
            .chunks(60)
            .map(|c| std::str::from_utf8(c).expect("ascii"))
            .collect();
        let answer = serde_json::json!({"sha": "a".repeat(40), "size": 1000,
            "encoding": "base64", "content": wrapped.join("\n")});
        assert!(answer.to_string().len() <= blob_answer_limit(1000));
        assert_eq!(blob_answer_limit(u64::MAX), BLOB_CEILING);
    }
}

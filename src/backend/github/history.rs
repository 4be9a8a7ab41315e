//! The recent history of the files a write touches, for the writer guards
//! (issue #11): who changed each file, when, with what message, and what it
//! held before and after. One GraphQL query per call ([`graphql::history_query`]):
//! one aliased `history(path:, since:, first:)` per file, pinned to the head
//! the read saw, each commit with the file's text in it and in its first
//! parent. Split into more queries only past GitHub's node limit.
//!
//! Does not decide anything: the guards read the answer.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::graphql::{self, Anchor, MAX_PAGE, NODE_LIMIT};
use super::read::{Fetched, classify_file, file_entry};
use super::types::checked_oid;
use super::{Api, GitHubError};
use crate::backend::{FileCommit, FileHistory};

impl Api {
    /// The commits since `since` (Unix seconds, inclusive) that changed each
    /// of `paths` on the branch that was read, at `head` when given (else at
    /// the branch head), at most `depth` per file (and at most
    /// [`MAX_PAGE`], GitHub's page size), newest first. `depth` 0 asks
    /// nothing and answers every history as cut.
    ///
    /// A text GitHub withheld from the answer (binary, or over 512,000
    /// bytes) is read through the blob API, capped by `--max-file-size`.
    pub(super) async fn history(
        &self,
        paths: &[String],
        head: Option<&str>,
        since: i64,
        depth: usize,
    ) -> Result<Vec<FileHistory>, GitHubError> {
        if depth == 0 || paths.is_empty() {
            return Ok(paths
                .iter()
                .map(|p| FileHistory {
                    path: p.clone(),
                    commits: Vec::new(),
                    truncated: depth == 0,
                })
                .collect());
        }
        let first = depth.min(MAX_PAGE);
        // Each file costs `first` commits plus their first parents.
        let per_query = (NODE_LIMIT / (2 * first)).max(1);
        let branch = self.branch.as_deref().unwrap_or("HEAD").to_owned();
        let mut pin = head.map(str::to_owned);
        let mut texts: HashMap<String, String> = HashMap::new();
        let mut out = Vec::with_capacity(paths.len());
        for chunk in paths.chunks(per_query) {
            let what = format!("read the history of {} file(s) on {branch}", chunk.len());
            let anchor = if pin.is_some() {
                Anchor::Commit
            } else {
                Anchor::Branch
            };
            let mut vars = json!({"owner": self.repo.owner, "name": self.repo.name,
                "since": iso_utc(since), "depth": first});
            match &pin {
                Some(oid) => vars["head"] = json!(oid),
                None => vars["ref"] = json!(format!("refs/heads/{branch}")),
            }
            for (i, p) in chunk.iter().enumerate() {
                vars[format!("p{i}")] = json!(p);
            }
            let data = self
                .graphql(&graphql::history_query(chunk.len(), anchor), vars, &what)
                .await?;
            let pointer = match anchor {
                Anchor::Branch => "/repository/ref/target",
                Anchor::Commit => "/repository/object",
            };
            let Some(commit) = data.pointer(pointer).filter(|v| !v.is_null()) else {
                return Err(GitHubError::NotFound {
                    what,
                    message: match &pin {
                        Some(oid) => format!("commit {oid} is not in {}", self.repo),
                        None => format!("branch {branch:?} is not in {}", self.repo),
                    },
                });
            };
            let oid = commit.get("oid").and_then(Value::as_str);
            pin = Some(checked_oid(oid, "the commit's oid", &what)?);
            for (i, path) in chunk.iter().enumerate() {
                let connection = commit.get(format!("h{i}")).filter(|v| !v.is_null());
                out.push(
                    self.file_history(path, connection, &what, &mut texts)
                        .await?,
                );
            }
        }
        Ok(out)
    }

    /// One `h{i}` connection as a [`FileHistory`].
    async fn file_history(
        &self,
        path: &str,
        connection: Option<&Value>,
        what: &str,
        texts: &mut HashMap<String, String>,
    ) -> Result<FileHistory, GitHubError> {
        let unexpected = |message: String| GitHubError::Unexpected {
            what: what.to_owned(),
            message,
        };
        let Some(connection) = connection else {
            return Ok(FileHistory {
                path: path.to_owned(),
                commits: Vec::new(),
                truncated: false,
            });
        };
        let connection: Connection = serde_json::from_value(connection.clone())
            .map_err(|e| unexpected(format!("history of {path}: {e}")))?;
        let mut commits = Vec::with_capacity(connection.nodes.len());
        for node in connection.nodes {
            let oid = checked_oid(Some(&node.oid), "a commit's oid", what)?;
            let time = parse_iso(&node.committed_date).ok_or_else(|| {
                unexpected(format!(
                    "commit {oid}: committedDate is not an ISO 8601 date"
                ))
            })?;
            let author = node
                .author
                .map(|a| match a.user {
                    Some(u) => u.login,
                    None => a.name.unwrap_or_default(),
                })
                .unwrap_or_default();
            let parent = node.parents.nodes.into_iter().next();
            let before = match parent.and_then(|p| p.file) {
                Some(v) => self.text(path, Some(&v), what, texts).await?,
                None => None,
            };
            let after = self.text(path, node.file.as_ref(), what, texts).await?;
            commits.push(FileCommit {
                oid,
                time,
                author,
                message: node.message,
                before,
                after,
            });
        }
        Ok(FileHistory {
            path: path.to_owned(),
            commits,
            truncated: connection.page_info.has_next_page,
        })
    }

    /// The text of one `FileFields` answer: `None` where the path is not a
    /// file; read through the blob API (once per blob) where GitHub withheld it.
    async fn text(
        &self,
        path: &str,
        entry: Option<&Value>,
        what: &str,
        texts: &mut HashMap<String, String>,
    ) -> Result<Option<String>, GitHubError> {
        match classify_file(file_entry(entry, what)?, u64::MAX) {
            Fetched::Text(t) => Ok(Some(t)),
            Fetched::Absent | Fetched::TooLarge { .. } => Ok(None),
            Fetched::Blob(oid) => {
                if let Some(t) = texts.get(&oid) {
                    return Ok(Some(t.clone()));
                }
                let bytes = self.blob(&oid, path, self.max_size).await?;
                let text = String::from_utf8_lossy(&bytes).into_owned();
                texts.insert(oid, text.clone());
                Ok(Some(text))
            }
        }
    }
}

/// `CommitHistoryConnection { pageInfo nodes }` as [`graphql::history_query`] asks it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Connection {
    page_info: PageInfo,
    #[serde(default)]
    nodes: Vec<Node>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    has_next_page: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Node {
    oid: String,
    committed_date: String,
    message: String,
    author: Option<Actor>,
    file: Option<Value>,
    parents: Parents,
}

#[derive(Deserialize)]
struct Actor {
    name: Option<String>,
    user: Option<User>,
}

#[derive(Deserialize)]
struct User {
    login: String,
}

#[derive(Deserialize)]
struct Parents {
    #[serde(default)]
    nodes: Vec<Parent>,
}

#[derive(Deserialize)]
struct Parent {
    file: Option<Value>,
}

// HACK: two date conversions, hand-written (Howard Hinnant's civil-date
// algorithms) rather than a date crate for a `GitTimestamp` argument and a
// `DateTime` answer.

/// `secs` since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (a `GitTimestamp`).
fn iso_utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// An ISO 8601 date-time (`2024-03-01T10:00:00Z`, with optional fractions
/// and a `±HH:MM` offset instead of `Z`) as Unix seconds.
fn parse_iso(s: &str) -> Option<i64> {
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let sep = |i: usize, c: u8| s.as_bytes().get(i) == Some(&c);
    if !(sep(4, b'-') && sep(7, b'-') && (sep(10, b'T') || sep(10, b't')) && sep(13, b':'))
        || !sep(16, b':')
    {
        return None;
    }
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let mut rest = s.get(19..)?;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (h, m) = rest.get(1..)?.split_once(':')?;
            if h.len() != 2 || m.len() != 2 {
                return None;
            }
            sign * (h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60)
        }
    };
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_and_offsets_count() {
        for secs in [0, 951_782_400, 1_709_287_200, 4_102_444_799, -86_400] {
            assert_eq!(parse_iso(&iso_utc(secs)), Some(secs), "{secs}");
        }
        assert_eq!(iso_utc(1_709_287_200), "2024-03-01T10:00:00Z");
        assert_eq!(parse_iso("2024-03-01T11:00:00+01:00"), Some(1_709_287_200));
        assert_eq!(
            parse_iso("2024-03-01T05:30:00.123-04:30"),
            Some(1_709_287_200)
        );
        for bad in [
            "",
            "2024-03-01",
            "2024-13-01T00:00:00Z",
            "2024-03-01T10:00:00",
            "２０２４-03-01T10:00:00Z",
        ] {
            assert_eq!(parse_iso(bad), None, "{bad}");
        }
    }
}

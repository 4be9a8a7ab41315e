//! The recent history of the files a run would change, as the writer
//! guards read it (issue #11): per file and image, every change of the
//! image's value, newest first, with the writer that made it, the commit
//! and its time. Built from what a backend read (each commit's writer, and
//! the file before and after it) by parsing both texts with the manifest
//! engine, so a person's hand edit counts exactly like a bot's commit.
//!
//! Owns what "a change of an image in a file" is; does not read anything
//! (the backend reads, `cmd` attributes each commit to its writer through
//! the `Gitops-Bump-Writer` trailer) and decides nothing (`revert`,
//! `storm`). Pure.

use std::collections::{BTreeSet, HashMap};

use crate::manifest::Manifest;
use crate::reference::Repository;

/// The writer of a commit without `Gitops-Bump-*` trailers: a person, or a
/// tool that does not say who it is.
pub const HUMAN: &str = "human";

/// An image's value at a site: its tag and/or digest.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Value {
    /// The tag, if any.
    pub tag: Option<String>,
    /// The digest with its algorithm (`sha256:…`), if any.
    pub digest: Option<String>,
}

impl Value {
    /// Returns true if and only if both name the same image version: equal
    /// tags whose digests do not disagree (`v1` is `v1@sha256:…`), or, where
    /// either has no tag, equal digests.
    pub fn same(&self, other: &Value) -> bool {
        match (&self.tag, &other.tag) {
            (Some(a), Some(b)) => {
                a == b
                    && match (&self.digest, &other.digest) {
                        (Some(x), Some(y)) => x == y,
                        _ => true,
                    }
            }
            _ => self.digest.is_some() && self.digest == other.digest,
        }
    }
}

impl std::fmt::Display for Value {
    /// `v1`, `v1@sha256:…`, `sha256:…`, or `(none)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.tag, &self.digest) {
            (Some(t), Some(d)) => write!(f, "{t}@{d}"),
            (Some(t), None) => write!(f, "{t}"),
            (None, Some(d)) => write!(f, "{d}"),
            (None, None) => write!(f, "(none)"),
        }
    }
}

/// One commit of a file, as the backend read it and `cmd` attributed it.
#[derive(Clone, Debug)]
pub struct Commit {
    /// The commit id.
    pub oid: String,
    /// Committer time, Unix seconds.
    pub time: i64,
    /// Its `Gitops-Bump-Writer`, or [`HUMAN`].
    pub writer: String,
    /// Who made it (a login or a name), for messages about [`HUMAN`] writers.
    pub author: String,
    /// The file before the commit; `None` where it did not exist.
    pub before: Option<String>,
    /// The file after it; `None` where the commit deleted it.
    pub after: Option<String>,
}

/// One file's commits, newest first, as read.
#[derive(Clone, Debug)]
pub struct FileLog {
    /// Path relative to the root.
    pub path: String,
    /// Commits within the window, newest first.
    pub commits: Vec<Commit>,
    /// True if and only if the depth cut the list before the window ended.
    pub truncated: bool,
}

/// One change of one image's value in one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// Who made it: a `Gitops-Bump-Writer`, or [`HUMAN`].
    pub writer: String,
    /// The commit's author, as the backend names it.
    pub author: String,
    /// The commit id.
    pub commit: String,
    /// Committer time, Unix seconds.
    pub time: i64,
    /// The image's values in the file before (sorted, distinct; empty when
    /// the file or the image was not there).
    pub from: Vec<Value>,
    /// Its values after.
    pub to: Vec<Value>,
}

impl Change {
    /// The writer as a message names it: `amd64`, or `human (Alice Doe)`.
    pub fn who(&self) -> String {
        if self.writer == HUMAN && !self.author.is_empty() {
            format!("{HUMAN} ({})", self.author)
        } else {
            self.writer.clone()
        }
    }
}

/// The history the guards see: per file and image, the changes newest
/// first, and the time the run reads it at.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// Now, Unix seconds: windows end here and "how long ago" counts from here.
    pub now: i64,
    files: HashMap<String, FileChanges>,
}

#[derive(Clone, Debug, Default)]
struct FileChanges {
    by_image: HashMap<Repository, Vec<Change>>,
}

impl History {
    /// Parses `logs` read at `now`: for each commit, the values of every
    /// image in the file before and after it; an image whose values differ
    /// was changed by the commit. A text that does not parse has no images.
    pub fn build(now: i64, logs: &[FileLog]) -> History {
        let mut files = HashMap::new();
        for log in logs {
            let mut parsed: HashMap<&str, Images> = HashMap::new();
            let mut by_image: HashMap<Repository, Vec<Change>> = HashMap::new();
            for c in &log.commits {
                let before = cached(&mut parsed, &log.path, c.before.as_deref());
                let after = cached(&mut parsed, &log.path, c.after.as_deref());
                let repos: BTreeSet<&Repository> = before.keys().chain(after.keys()).collect();
                for repo in repos {
                    let from = before.get(repo).cloned().unwrap_or_default();
                    let to = after.get(repo).cloned().unwrap_or_default();
                    if from == to {
                        continue;
                    }
                    by_image.entry(repo.clone()).or_default().push(Change {
                        writer: c.writer.clone(),
                        author: c.author.clone(),
                        commit: c.oid.clone(),
                        time: c.time,
                        from: from.into_iter().collect(),
                        to: to.into_iter().collect(),
                    });
                }
            }
            files.insert(log.path.clone(), FileChanges { by_image });
        }
        History { now, files }
    }

    /// Returns true if and only if the history of `file` was read.
    pub fn knows(&self, file: &str) -> bool {
        self.files.contains_key(file)
    }

    /// The changes of `image` in `file`, newest first.
    pub fn changes(&self, file: &str, image: &Repository) -> &[Change] {
        self.files
            .get(file)
            .and_then(|f| f.by_image.get(image))
            .map_or(&[], Vec::as_slice)
    }
}

/// `90s`, `15m`, `3h`, `2d`: how long ago `time` was, at `now`.
pub fn ago(now: i64, time: i64) -> String {
    let s = now.saturating_sub(time).max(0);
    match s {
        0..120 => format!("{s}s"),
        120..7200 => format!("{}m", s / 60),
        7200..172_800 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// `sha-1, sha-2`.
pub fn list(values: &[Value]) -> String {
    if values.is_empty() {
        return "(none)".into();
    }
    values
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The first 12 characters of a commit id, as `git log --oneline` shows it.
pub fn short(oid: &str) -> &str {
    oid.get(..12).unwrap_or(oid)
}

/// An image's values in one text, by repository.
type Images = HashMap<Repository, BTreeSet<Value>>;

/// [`images`] of `text`, parsed once per distinct text (a commit's "before"
/// is usually the next older commit's "after").
fn cached<'a>(parsed: &mut HashMap<&'a str, Images>, path: &str, text: Option<&'a str>) -> Images {
    match text {
        None => Images::new(),
        Some(t) => parsed.entry(t).or_insert_with(|| images(path, t)).clone(),
    }
}

/// Every image's values in `text` (the file `path`), by repository.
fn images(path: &str, text: &str) -> Images {
    let mut out = Images::new();
    let Ok(m) = Manifest::parse(path, text.to_owned()) else {
        return out;
    };
    for site in &m.sites {
        let image = m.image_of(site);
        if let Some(repo) = image.repository {
            out.entry(repo).or_default().insert(Value {
                tag: image.tag,
                digest: image.digest,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(
        oid: &str,
        time: i64,
        writer: &str,
        before: Option<&str>,
        after: Option<&str>,
    ) -> Commit {
        Commit {
            oid: oid.into(),
            time,
            writer: writer.into(),
            author: "Alice".into(),
            before: before.map(str::to_owned),
            after: after.map(str::to_owned),
        }
    }

    fn tag(t: &str) -> Value {
        Value {
            tag: Some(t.into()),
            digest: None,
        }
    }

    #[test]
    fn changes_are_per_file_and_image_from_the_texts() {
        let v = |app: &str, db: &str| {
            format!("a:\n  image: ghcr.io/acme/app:{app}\nb:\n  image: db:{db}\n")
        };
        let log = FileLog {
            path: "apps/a.yaml".into(),
            commits: vec![
                commit("c3", 300, "amd64", Some(&v("v2", "1")), Some(&v("v2", "2"))),
                commit("c2", 200, HUMAN, Some(&v("v1", "1")), Some(&v("v2", "1"))),
                commit("c1", 100, HUMAN, None, Some(&v("v1", "1"))),
                commit("c0", 50, "x", Some("not: [yaml"), Some("neither: [")),
            ],
            truncated: false,
        };
        let h = History::build(400, &[log]);
        let app = crate::reference::Reference::parse("ghcr.io/acme/app")
            .expect("valid")
            .repository();
        let db = crate::reference::Reference::parse("db")
            .expect("valid")
            .repository();
        let app_changes = h.changes("apps/a.yaml", &app);
        assert_eq!(app_changes.len(), 2, "{app_changes:?}");
        assert_eq!(
            (
                app_changes[0].commit.as_str(),
                &app_changes[0].from,
                &app_changes[0].to
            ),
            ("c2", &vec![tag("v1")], &vec![tag("v2")])
        );
        assert_eq!(app_changes[1].from, Vec::new(), "created");
        assert_eq!(app_changes[0].who(), "human (Alice)");
        let db_changes = h.changes("apps/a.yaml", &db);
        assert_eq!(db_changes[0].writer, "amd64");
        assert!(h.knows("apps/a.yaml") && !h.knows("apps/b.yaml"));
        assert!(h.changes("apps/b.yaml", &db).is_empty());
    }

    #[test]
    fn values_match_by_tag_unless_digests_disagree() {
        let d = |t: Option<&str>, d: Option<&str>| Value {
            tag: t.map(str::to_owned),
            digest: d.map(str::to_owned),
        };
        assert!(d(Some("v1"), None).same(&d(Some("v1"), Some("sha256:a"))));
        assert!(!d(Some("v1"), Some("sha256:b")).same(&d(Some("v1"), Some("sha256:a"))));
        assert!(!d(Some("v1"), None).same(&d(Some("v2"), None)));
        assert!(d(None, Some("sha256:a")).same(&d(Some("v1"), Some("sha256:a"))));
        assert!(!d(None, None).same(&d(None, None)));
        assert_eq!(d(Some("v1"), Some("sha256:a")).to_string(), "v1@sha256:a");
        assert_eq!(list(&[]), "(none)");
        assert_eq!(ago(1000, 1000 - 90), "90s");
        assert_eq!(ago(100_000, 100_000 - 3 * 86_400), "3d");
    }
}

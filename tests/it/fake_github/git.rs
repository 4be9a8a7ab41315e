//! The fake's storage: a real bare Git repository driven with the git CLI
//! plumbing, so trees, commits, dates and history are real and inspectable.
//! Owns object creation, the atomic ref compare-and-swap
//! (`git update-ref refs/heads/B NEW OLD`), commit metadata, path/time
//! filtered history and tree diffs; knows nothing about HTTP, pull requests
//! or signatures (the server keeps those beside the repository, as GitHub
//! keeps them beside Git).

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The all-zero object id Git uses for "no object".
pub const ZERO_OID: &str = "0000000000000000000000000000000000000000";

/// One tree entry (`git ls-tree -l`).
#[derive(Clone, Debug)]
pub struct Entry {
    /// Octal mode text (`100644`, `040000`).
    pub mode: String,
    /// `blob`, `tree` or `commit`.
    pub kind: String,
    /// Object id.
    pub sha: String,
    /// Blob size (`None` for trees).
    pub size: Option<u64>,
    /// Path relative to the listed tree.
    pub path: String,
}

/// A commit's author or committer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    /// Display name.
    pub name: String,
    /// Email address (GitHub maps it to an account).
    pub email: String,
    /// When, in any form `git` accepts for `GIT_AUTHOR_DATE`; ISO 8601
    /// with an offset (`2024-03-01T10:00:00+01:00`) is what tests use.
    pub date: String,
}

impl Person {
    /// A person with a date.
    pub fn new(name: &str, email: &str, date: &str) -> Person {
        Person {
            name: name.to_owned(),
            email: email.to_owned(),
            date: date.to_owned(),
        }
    }
}

/// One side of a commit as Git stores it, with the date both as written
/// (GitHub's `GitActor.date`, a `GitTimestamp` keeping the offset) and in
/// UTC (`Commit.committedDate`, a `DateTime`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// Name.
    pub name: String,
    /// Email.
    pub email: String,
    /// Strict ISO 8601 with the original offset (`git log %aI`).
    pub date: String,
    /// The same instant in UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub date_utc: String,
}

/// What `git log -1` knows about one commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitInfo {
    /// Commit id.
    pub oid: String,
    /// Root tree id.
    pub tree: String,
    /// Parent ids, in order.
    pub parents: Vec<String>,
    /// Author.
    pub author: Signature,
    /// Committer.
    pub committer: Signature,
    /// Full message, without Git's trailing newline.
    pub message: String,
}

/// One changed path between two trees (`git diff-tree -r -M`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// Git's status letter: `A`, `M`, `D`, `R`, `C` or `T`.
    pub status: char,
    /// Path on the new side (the old path for a deletion).
    pub path: String,
    /// Path on the old side, for renames and copies.
    pub old_path: Option<String>,
    /// Blob id on the old side (`ZERO_OID` when added).
    pub old_sha: String,
    /// Blob id on the new side (`ZERO_OID` when deleted).
    pub new_sha: String,
    /// Lines added (0 for binary files).
    pub additions: u64,
    /// Lines deleted (0 for binary files).
    pub deletions: u64,
}

/// A bare repository in a temporary directory.
pub struct Repo {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Repo {
    /// A bare repository whose `branch` holds one commit of `worktree`'s files.
    pub fn from_files(worktree: &Path, branch: &str) -> Repo {
        let tmp = tempfile::tempdir().expect("tempdir");
        let work = tmp.path().join("work");
        crate::common::copy_dir(worktree, &work);
        crate::common::git(&work, &["init", "-q", "-b", branch]);
        crate::common::git(&work, &["add", "-A"]);
        crate::common::git(&work, &["commit", "-q", "-m", "initial"]);
        let dir = tmp.path().join("repo.git");
        let out = Command::new("git")
            .args(["clone", "-q", "--bare"])
            .arg(&work)
            .arg(&dir)
            .output()
            .expect("git clone");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Repo { _tmp: tmp, dir }
    }

    /// Runs git; `Err` carries stderr's first line.
    pub fn git(&self, args: &[&str]) -> Result<Vec<u8>, String> {
        self.git_with(args, None, &[])
    }

    /// Runs git with `stdin` and extra environment. Without an identity in
    /// `env`, commits are authored by `fake <fake@example.com>` and
    /// committed by `GitHub <noreply@github.com>`.
    pub fn git_with(
        &self,
        args: &[&str],
        stdin: Option<&[u8]>,
        env: &[(&str, &OsStr)],
    ) -> Result<Vec<u8>, String> {
        let mut cmd = Command::new("git");
        cmd.arg("--git-dir")
            .arg(&self.dir)
            .args(args)
            .env("GIT_AUTHOR_NAME", "fake")
            .env("GIT_AUTHOR_EMAIL", "fake@example.com")
            .env("GIT_COMMITTER_NAME", "GitHub")
            .env("GIT_COMMITTER_EMAIL", "noreply@github.com")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().map_err(|e| e.to_string())?;
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .expect("piped")
                .write_all(input)
                .map_err(|e| e.to_string())?;
        }
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(err.lines().next().unwrap_or("git failed").to_owned());
        }
        Ok(out.stdout)
    }

    fn text(&self, args: &[&str]) -> Option<String> {
        self.git(args)
            .ok()
            .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
    }

    fn lines(&self, args: &[&str]) -> Vec<String> {
        self.text(args)
            .map(|t| t.lines().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// The commit `refs/heads/branch` points at.
    pub fn head(&self, branch: &str) -> Option<String> {
        self.text(&[
            "rev-parse",
            "--verify",
            "-q",
            &format!("refs/heads/{branch}"),
        ])
    }

    /// `rev` peeled to `kind` (`commit`, `tree`, `blob`), when it exists.
    pub fn peel(&self, rev: &str, kind: &str) -> Option<String> {
        if rev.starts_with('-') {
            return None;
        }
        self.text(&["rev-parse", "--verify", "-q", &format!("{rev}^{{{kind}}}")])
    }

    /// The type of object `sha`.
    pub fn kind(&self, sha: &str) -> Option<String> {
        if sha.starts_with('-') {
            return None;
        }
        self.text(&["cat-file", "-t", sha])
    }

    /// Entries of `tree`, optionally recursive (trees included, like GitHub).
    pub fn ls_tree(&self, tree: &str, recursive: bool) -> Vec<Entry> {
        let mut args = vec!["ls-tree", "-l", "-z"];
        if recursive {
            args.extend(["-r", "-t"]);
        }
        args.push(tree);
        parse_ls_tree(&self.git(&args).unwrap_or_default())
    }

    /// The entry at `path` in `commit`.
    pub fn entry(&self, commit: &str, path: &str) -> Option<Entry> {
        let path = path.trim_end_matches('/');
        if path.is_empty() {
            return None;
        }
        let out = self
            .git(&["ls-tree", "-l", "-z", commit, "--", path])
            .ok()?;
        parse_ls_tree(&out).into_iter().find(|e| e.path == path)
    }

    /// Raw bytes of a blob.
    pub fn blob(&self, sha: &str) -> Option<Vec<u8>> {
        self.git(&["cat-file", "blob", sha]).ok()
    }

    /// Size in bytes of a blob, without reading it.
    pub fn blob_size(&self, sha: &str) -> Option<u64> {
        self.text(&["cat-file", "-s", sha])?.parse().ok()
    }

    /// Full message of `commit`.
    pub fn message(&self, commit: &str) -> String {
        self.git(&["log", "-1", "--format=%B", commit])
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Everything `Commit` answers about `commit`, or `None` when it is not
    /// a commit.
    pub fn info(&self, commit: &str) -> Option<CommitInfo> {
        if commit.starts_with('-') {
            return None;
        }
        // One process: `git log` prints nothing for a tree or blob id.
        // `format-local` under TZ=UTC prints the UTC instant; %aI/%cI keep
        // the offset the commit was written with.
        let utc = OsString::from("UTC");
        let out = self
            .git_with(
                &[
                    "log",
                    "-1",
                    "--date=format-local:%Y-%m-%dT%H:%M:%SZ",
                    "--format=%H%x00%T%x00%P%x00%an%x00%ae%x00%aI%x00%ad%x00%cn%x00%ce%x00%cI%x00%cd%x00%B",
                    commit,
                ],
                None,
                &[("TZ", utc.as_os_str())],
            )
            .ok()?;
        let text = String::from_utf8_lossy(&out);
        let f: Vec<&str> = text.splitn(12, '\0').collect();
        if f.len() < 12 {
            return None;
        }
        let sig = |i: usize| Signature {
            name: f[i].to_owned(),
            email: f[i + 1].to_owned(),
            date: f[i + 2].to_owned(),
            date_utc: f[i + 3].to_owned(),
        };
        Some(CommitInfo {
            oid: f[0].to_owned(),
            tree: f[1].to_owned(),
            parents: f[2].split_whitespace().map(str::to_owned).collect(),
            author: sig(3),
            committer: sig(7),
            message: f[11].trim_end_matches('\n').to_owned(),
        })
    }

    /// The newest `n` commits reachable from `commit`, newest first.
    pub fn history(&self, commit: &str, n: usize) -> Vec<String> {
        self.lines(&["rev-list", &format!("--max-count={n}"), commit])
    }

    /// Commits reachable from `commit`, newest first, that touch `path`
    /// (Git's default history simplification, no rename following) and
    /// whose committer date is within `since`/`until`: exactly
    /// `git rev-list [--since] [--until] commit -- path`, which is how
    /// GitHub walks `Commit.history` (including Git's quirk that `--since`
    /// stops the walk at a run of older commits).
    pub fn filtered_history(
        &self,
        commit: &str,
        path: Option<&str>,
        since: Option<&str>,
        until: Option<&str>,
    ) -> Vec<String> {
        if commit.starts_with('-') {
            return Vec::new();
        }
        let mut args = vec!["rev-list".to_owned()];
        if let Some(s) = since {
            args.push(format!("--since={s}"));
        }
        if let Some(u) = until {
            args.push(format!("--until={u}"));
        }
        args.push(commit.to_owned());
        if let Some(p) = path {
            args.push("--".into());
            args.push(p.to_owned());
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.lines(&refs)
    }

    /// Commits reachable from `head` but not from `base` (`base..head`), newest first.
    pub fn range(&self, base: &str, head: &str) -> Vec<String> {
        self.lines(&["rev-list", &format!("{base}..{head}")])
    }

    /// The best common ancestor of `a` and `b`.
    pub fn merge_base(&self, a: &str, b: &str) -> Option<String> {
        self.text(&["merge-base", a, b])
    }

    /// The parents of `commit`, in order.
    pub fn parents(&self, commit: &str) -> Vec<String> {
        self.text(&["rev-list", "--parents", "-n", "1", commit])
            .map(|t| t.split_whitespace().skip(1).map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// Returns true if and only if `a` is an ancestor of (or equal to) `b`.
    pub fn is_ancestor(&self, a: &str, b: &str) -> bool {
        self.git(&["merge-base", "--is-ancestor", a, b]).is_ok()
    }

    /// Paths that differ between commits (or trees) `old` and `new`, with
    /// renames detected, sorted by path.
    pub fn diff(&self, old: &str, new: &str) -> Vec<Change> {
        let raw = self
            .git(&["diff-tree", "-r", "-z", "-M", "--raw", old, new])
            .unwrap_or_default();
        let num = self
            .git(&["diff-tree", "-r", "-z", "-M", "--numstat", old, new])
            .unwrap_or_default();
        let mut changes = parse_raw_diff(&raw);
        let stats = parse_numstat(&num);
        for c in &mut changes {
            if let Some((a, d)) = stats.get(&c.path) {
                c.additions = *a;
                c.deletions = *d;
            }
        }
        changes.sort_by(|a, b| a.path.cmp(&b.path));
        changes
    }

    /// Writes a blob.
    pub fn hash_object(&self, bytes: &[u8]) -> String {
        let out = self
            .git_with(&["hash-object", "-w", "--stdin"], Some(bytes), &[])
            .expect("hash-object");
        String::from_utf8_lossy(&out).trim().to_owned()
    }

    /// A tree: `base` with `files` written (path, mode, bytes) and `deleted` removed.
    pub fn tree_with(
        &self,
        base: &str,
        files: &[(String, Option<String>, Vec<u8>)],
        deleted: &[String],
    ) -> Result<String, String> {
        let index = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
        let env = [("GIT_INDEX_FILE", index.path().as_os_str())];
        self.git_with(&["read-tree", base], None, &env)?;
        for (path, mode, bytes) in files {
            let sha = self.hash_object(bytes);
            let mode = mode
                .clone()
                .or_else(|| self.entry(base, path).map(|e| e.mode))
                .unwrap_or_else(|| "100644".into());
            self.git_with(
                &[
                    "update-index",
                    "--add",
                    "--cacheinfo",
                    &format!("{mode},{sha},{path}"),
                ],
                None,
                &env,
            )?;
        }
        // `--index-info` with mode 0 removes entries without a work tree
        // (`--force-remove` needs one).
        let removals: String = deleted
            .iter()
            .map(|path| format!("0 {ZERO_OID}\t{path}\n"))
            .collect();
        if !removals.is_empty() {
            self.git_with(
                &["update-index", "--index-info"],
                Some(removals.as_bytes()),
                &env,
            )?;
        }
        let out = self.git_with(&["write-tree"], None, &env)?;
        Ok(String::from_utf8_lossy(&out).trim().to_owned())
    }

    /// A commit of `tree` on `parents` with `message`, by the default identities.
    pub fn commit_tree(
        &self,
        tree: &str,
        parents: &[String],
        message: &str,
    ) -> Result<String, String> {
        self.commit_tree_as(tree, parents, message, None, None)
    }

    /// A commit of `tree` on `parents` with `message`, by `author` and
    /// `committer` (each defaulting as in [`Repo::git_with`], dated now).
    pub fn commit_tree_as(
        &self,
        tree: &str,
        parents: &[String],
        message: &str,
        author: Option<&Person>,
        committer: Option<&Person>,
    ) -> Result<String, String> {
        let mut args = vec!["commit-tree".to_owned(), tree.to_owned()];
        for p in parents {
            args.push("-p".into());
            args.push(p.clone());
        }
        args.push("-F".into());
        args.push("-".into());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut env: Vec<(&str, &OsStr)> = Vec::new();
        if let Some(a) = author {
            env.push(("GIT_AUTHOR_NAME", OsStr::new(&a.name)));
            env.push(("GIT_AUTHOR_EMAIL", OsStr::new(&a.email)));
            env.push(("GIT_AUTHOR_DATE", OsStr::new(&a.date)));
        }
        if let Some(c) = committer {
            env.push(("GIT_COMMITTER_NAME", OsStr::new(&c.name)));
            env.push(("GIT_COMMITTER_EMAIL", OsStr::new(&c.email)));
            env.push(("GIT_COMMITTER_DATE", OsStr::new(&c.date)));
        }
        let out = self.git_with(&refs, Some(message.as_bytes()), &env)?;
        Ok(String::from_utf8_lossy(&out).trim().to_owned())
    }

    /// Moves `branch` from `old` to `new` atomically; false when it was not at `old`.
    pub fn update_ref(&self, branch: &str, new: &str, old: &str) -> bool {
        self.git(&["update-ref", &format!("refs/heads/{branch}"), new, old])
            .is_ok()
    }

    /// Points `branch` at `new` whatever it pointed at (a force push),
    /// creating it when missing.
    pub fn force_ref(&self, branch: &str, new: &str) -> bool {
        self.git(&["update-ref", &format!("refs/heads/{branch}"), new])
            .is_ok()
    }

    /// Creates `branch` at `oid`; false when it already exists.
    pub fn create_ref(&self, branch: &str, oid: &str) -> bool {
        self.git(&["update-ref", &format!("refs/heads/{branch}"), oid, ZERO_OID])
            .is_ok()
    }

    /// Deletes `branch` if it still points at `old`; false otherwise.
    pub fn delete_ref(&self, branch: &str, old: &str) -> bool {
        self.git(&["update-ref", "-d", &format!("refs/heads/{branch}"), old])
            .is_ok()
    }

    /// Commits `files` (path, bytes) on top of `branch` and moves it.
    pub fn commit_on(&self, branch: &str, files: &[(&str, &[u8])], message: &str) -> String {
        self.commit_on_as(branch, files, &[], message, None, None)
    }

    /// Commits `files` (path, bytes) and `deleted` paths on top of `branch`
    /// as `author`/`committer`, and moves the branch (compare-and-swap).
    pub fn commit_on_as(
        &self,
        branch: &str,
        files: &[(&str, &[u8])],
        deleted: &[&str],
        message: &str,
        author: Option<&Person>,
        committer: Option<&Person>,
    ) -> String {
        let head = self.head(branch).expect("branch exists");
        let files: Vec<(String, Option<String>, Vec<u8>)> = files
            .iter()
            .map(|(p, b)| (p.to_string(), None, b.to_vec()))
            .collect();
        let deleted: Vec<String> = deleted.iter().map(|d| d.to_string()).collect();
        let tree = self.tree_with(&head, &files, &deleted).expect("tree");
        let commit = self
            .commit_tree_as(
                &tree,
                std::slice::from_ref(&head),
                message,
                author,
                committer,
            )
            .expect("commit");
        assert!(self.update_ref(branch, &commit, &head), "CAS under lock");
        commit
    }

    /// A file's text at the branch head.
    pub fn read(&self, branch: &str, path: &str) -> String {
        String::from_utf8(
            self.git(&["show", &format!("refs/heads/{branch}:{path}")])
                .expect("file exists"),
        )
        .expect("utf-8")
    }
}

fn parse_ls_tree(out: &[u8]) -> Vec<Entry> {
    out.split(|b| *b == 0)
        .filter(|r| !r.is_empty())
        .filter_map(|record| {
            let record = String::from_utf8_lossy(record);
            let (meta, path) = record.split_once('\t')?;
            let mut parts = meta.split_whitespace();
            let mode = parts.next()?.to_owned();
            let kind = parts.next()?.to_owned();
            let sha = parts.next()?.to_owned();
            let size = parts.next().and_then(|s| s.parse().ok());
            Some(Entry {
                mode,
                kind,
                sha,
                size,
                path: path.to_owned(),
            })
        })
        .collect()
}

/// `diff-tree --raw -z`: `:old new oldsha newsha STATUS\0path\0[newpath\0]`.
fn parse_raw_diff(out: &[u8]) -> Vec<Change> {
    let fields: Vec<String> = out
        .split(|b| *b == 0)
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect();
    let mut changes = Vec::new();
    let mut i = 0;
    while i < fields.len() {
        let meta = &fields[i];
        let Some(meta) = meta.strip_prefix(':') else {
            i += 1;
            continue;
        };
        let parts: Vec<&str> = meta.split_whitespace().collect();
        if parts.len() < 5 {
            break;
        }
        let status = parts[4].chars().next().unwrap_or('M');
        let (old_path, path) = if matches!(status, 'R' | 'C') {
            let old = fields.get(i + 1).cloned().unwrap_or_default();
            let new = fields.get(i + 2).cloned().unwrap_or_default();
            i += 3;
            (Some(old), new)
        } else {
            let p = fields.get(i + 1).cloned().unwrap_or_default();
            i += 2;
            (None, p)
        };
        changes.push(Change {
            status,
            path,
            old_path,
            old_sha: parts[2].to_owned(),
            new_sha: parts[3].to_owned(),
            additions: 0,
            deletions: 0,
        });
    }
    changes
}

/// `diff-tree --numstat -z`, keyed by the new path: `a\td\tpath\0` or, for
/// renames, `a\td\t\0old\0new\0`; binary files show `-`.
fn parse_numstat(out: &[u8]) -> std::collections::HashMap<String, (u64, u64)> {
    let fields: Vec<String> = out
        .split(|b| *b == 0)
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect();
    let mut stats = std::collections::HashMap::new();
    let mut i = 0;
    while i < fields.len() {
        let f = &fields[i];
        let mut parts = f.splitn(3, '\t');
        let (Some(a), Some(d), Some(p)) = (parts.next(), parts.next(), parts.next()) else {
            i += 1;
            continue;
        };
        let n = |s: &str| s.parse().unwrap_or(0);
        if p.is_empty() {
            let new = fields.get(i + 2).cloned().unwrap_or_default();
            stats.insert(new, (n(a), n(d)));
            i += 3;
        } else {
            stats.insert(p.to_owned(), (n(a), n(d)));
            i += 1;
        }
    }
    stats
}

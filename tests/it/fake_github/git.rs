//! The fake's storage: a real bare Git repository driven with the git CLI
//! plumbing, so trees, commits and history are real and inspectable. Owns
//! object creation and the atomic ref compare-and-swap
//! (`git update-ref refs/heads/B NEW OLD`); knows nothing about HTTP.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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

    /// Runs git with `stdin` and extra environment.
    pub fn git_with(
        &self,
        args: &[&str],
        stdin: Option<&[u8]>,
        env: &[(&str, &Path)],
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

    /// Full message of `commit`.
    pub fn message(&self, commit: &str) -> String {
        self.git(&["log", "-1", "--format=%B", commit])
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// The newest `n` commits reachable from `commit`, newest first.
    pub fn history(&self, commit: &str, n: usize) -> Vec<String> {
        self.text(&["rev-list", &format!("--max-count={n}"), commit])
            .map(|t| t.lines().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// Commits reachable from `head` but not from `base` (`base..head`), newest first.
    pub fn range(&self, base: &str, head: &str) -> Vec<String> {
        self.text(&["rev-list", &format!("{base}..{head}")])
            .map(|t| t.lines().map(str::to_owned).collect())
            .unwrap_or_default()
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
        let env = [("GIT_INDEX_FILE", index.path())];
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
        for path in deleted {
            self.git_with(&["update-index", "--force-remove", "--", path], None, &env)?;
        }
        let out = self.git_with(&["write-tree"], None, &env)?;
        Ok(String::from_utf8_lossy(&out).trim().to_owned())
    }

    /// A commit of `tree` on `parents` with `message`.
    pub fn commit_tree(
        &self,
        tree: &str,
        parents: &[String],
        message: &str,
    ) -> Result<String, String> {
        let mut args = vec!["commit-tree".to_owned(), tree.to_owned()];
        for p in parents {
            args.push("-p".into());
            args.push(p.clone());
        }
        args.push("-F".into());
        args.push("-".into());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.git_with(&refs, Some(message.as_bytes()), &[])?;
        Ok(String::from_utf8_lossy(&out).trim().to_owned())
    }

    /// Moves `branch` from `old` to `new` atomically; false when it was not at `old`.
    pub fn update_ref(&self, branch: &str, new: &str, old: &str) -> bool {
        self.git(&["update-ref", &format!("refs/heads/{branch}"), new, old])
            .is_ok()
    }

    /// Creates `branch` at `oid`; false when it already exists.
    pub fn create_ref(&self, branch: &str, oid: &str) -> bool {
        self.git(&[
            "update-ref",
            &format!("refs/heads/{branch}"),
            oid,
            "0000000000000000000000000000000000000000",
        ])
        .is_ok()
    }

    /// Commits `files` (path, bytes) on top of `branch` and moves it.
    pub fn commit_on(&self, branch: &str, files: &[(&str, &[u8])], message: &str) -> String {
        let head = self.head(branch).expect("branch exists");
        let files: Vec<(String, Option<String>, Vec<u8>)> = files
            .iter()
            .map(|(p, b)| (p.to_string(), None, b.to_vec()))
            .collect();
        let tree = self.tree_with(&head, &files, &[]).expect("tree");
        let commit = self
            .commit_tree(&tree, std::slice::from_ref(&head), message)
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

//! The local backend: a directory, optionally a Git work tree committed to
//! with the git CLI. The only module besides the network backends that
//! touches the file system.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::backend::files::FileSelection;
use crate::backend::files::{skipped, too_large};
use crate::backend::{Backend, BackendError, FileChange, Snapshot, SourceFile};

/// A directory on disk.
pub struct Local {
    root: PathBuf,
    canonical_root: PathBuf,
    git: bool,
}

impl Local {
    /// Opens `root`; with `git`, commits go through the git CLI.
    pub fn open(root: &Path, git: bool) -> Result<Local, BackendError> {
        let canonical_root = root
            .canonicalize()
            .map_err(|e| BackendError::Failed(format!("--dir {}: {e}", root.display())))?;
        let local = Local {
            root: root.to_path_buf(),
            canonical_root,
            git,
        };
        if git {
            local.git(&["rev-parse", "--show-toplevel"]).map_err(|_| {
                BackendError::Failed(format!(
                    "--commit: {} is not inside a Git work tree",
                    root.display()
                ))
            })?;
        }
        Ok(local)
    }

    fn git(&self, args: &[&str]) -> Result<String, BackendError> {
        self.git_bytes(args)
            .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
    }

    fn git_bytes(&self, args: &[&str]) -> Result<Vec<u8>, BackendError> {
        let out = Command::new("git")
            .arg("-C")
            .arg(&self.root)
            .args(args)
            .output()
            .map_err(|e| BackendError::Failed(format!("git: {e}")))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let first = err
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("failed");
            return Err(BackendError::Failed(format!(
                "git {}: {first}",
                args.first().unwrap_or(&"")
            )));
        }
        Ok(out.stdout)
    }

    fn head(&self) -> Result<Option<String>, BackendError> {
        if !self.git {
            return Ok(None);
        }
        // An unborn branch has no HEAD yet.
        Ok(self.git(&["rev-parse", "--verify", "-q", "HEAD"]).ok())
    }

    /// Writes every change or none: new contents go to temporary files
    /// first, then renames; a failed rename restores what was renamed.
    fn write_all(&self, changes: &[FileChange]) -> Result<(), BackendError> {
        let mut staged = Vec::with_capacity(changes.len());
        for c in changes {
            let path = self.root.join(&c.path);
            let current =
                fs::read(&path).map_err(|e| BackendError::Failed(format!("{}: {e}", c.path)))?;
            if current != c.old.as_bytes() {
                return Err(BackendError::Stale(c.path.clone()));
            }
            let dir = path.parent().unwrap_or(&self.root);
            let mut tmp = tempfile::NamedTempFile::new_in(dir)
                .map_err(|e| BackendError::Failed(format!("{}: {e}", c.path)))?;
            tmp.write_all(c.new.as_bytes())
                .and_then(|()| tmp.as_file().sync_all())
                .map_err(|e| BackendError::Failed(format!("{}: {e}", c.path)))?;
            if let Ok(meta) = fs::metadata(&path) {
                let _ = fs::set_permissions(tmp.path(), meta.permissions());
            }
            staged.push((tmp, path, c));
        }
        let mut done: Vec<(&PathBuf, &FileChange)> = Vec::new();
        for (tmp, path, c) in &staged {
            if let Err(e) = fs::rename(tmp.path(), path) {
                for (p, c) in done {
                    let _ = fs::write(p, c.old.as_bytes());
                }
                return Err(BackendError::Failed(format!("{}: {e}", c.path)));
            }
            done.push((path, c));
        }
        Ok(())
    }

    /// Path of a `--dir`-relative file relative to the work tree's top.
    fn repo_path(&self, rel: &str) -> Result<String, BackendError> {
        let prefix = self.git(&["rev-parse", "--show-prefix"])?;
        Ok(format!("{prefix}{rel}"))
    }

    fn restore(&self, changes: &[FileChange]) {
        for c in changes {
            let _ = fs::write(self.root.join(&c.path), c.old.as_bytes());
        }
    }
}

impl Backend for Local {
    fn describe(&self) -> String {
        format!("dir {}", self.root.display())
    }

    fn read(&mut self, files: &FileSelection) -> Result<Snapshot, BackendError> {
        let head = self.head()?;
        let mut snapshot = Snapshot {
            head,
            ..Snapshot::default()
        };
        let walker = ignore::WalkBuilder::new(&self.root)
            .hidden(false)
            .follow_links(false)
            .filter_entry(|e| e.file_name() != ".git")
            .sort_by_file_name(|a, b| a.cmp(b))
            .build();
        for entry in walker {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    snapshot.problems.push(skipped("", e.to_string()));
                    continue;
                }
            };
            let Ok(rel) = entry.path().strip_prefix(&self.root) else {
                continue;
            };
            let rel = rel.to_string_lossy().replace('\\', "/");
            if rel.is_empty() || !files.matches(&rel) {
                continue;
            }
            let problem = |message: String| skipped(&rel, message);
            let Some(ft) = entry.file_type() else {
                continue;
            };
            if ft.is_symlink() {
                match entry.path().canonicalize() {
                    Ok(target) if target.starts_with(&self.canonical_root) => {} // read where it lives
                    Ok(_) => snapshot
                        .problems
                        .push(problem("symlink points outside --dir; skipped".into())),
                    Err(e) => snapshot
                        .problems
                        .push(problem(format!("broken symlink: {e}"))),
                }
                continue;
            }
            if !ft.is_file() {
                continue;
            }
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            if size > files.max_size {
                snapshot
                    .problems
                    .push(too_large(&rel, size, files.max_size));
                continue;
            }
            match fs::read(entry.path()) {
                Ok(bytes) => snapshot.files.push(SourceFile { path: rel, bytes }),
                Err(e) => snapshot.problems.push(problem(format!("cannot read: {e}"))),
            }
        }
        Ok(snapshot)
    }

    fn write(
        &mut self,
        snapshot: &Snapshot,
        write: &crate::backend::Write,
    ) -> Result<Option<String>, BackendError> {
        let (changes, message) = (&write.changes, write.message.as_str());
        if !self.git {
            self.write_all(changes)?;
            return Ok(None);
        }
        if self.head()? != snapshot.head {
            return Err(BackendError::Stale("HEAD".into()));
        }
        let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
        let mut status = vec!["status", "--porcelain", "--"];
        status.extend(&paths);
        let dirty = String::from_utf8_lossy(&self.git_bytes(&status)?).into_owned();
        if let Some(line) = dirty.lines().next() {
            return Err(BackendError::Failed(format!(
                "{}: has uncommitted changes; commit or stash them first",
                line.get(3..).unwrap_or(line)
            )));
        }
        self.write_all(changes)?;
        let mut args: Vec<String> = Vec::new();
        if self.git(&["config", "user.email"]).is_err() {
            args.extend(
                [
                    "-c",
                    "user.name=gitops-bump",
                    "-c",
                    "user.email=gitops-bump@users.noreply.github.com",
                ]
                .map(String::from),
            );
        }
        args.extend(["commit", "--quiet", "--only", "-m", message, "--"].map(String::from));
        args.extend(paths.iter().map(|p| p.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        if let Err(e) = self.git(&refs) {
            self.restore(changes);
            return Err(e);
        }
        Ok(Some(self.git(&["rev-parse", "HEAD"])?))
    }

    fn verify(
        &mut self,
        write: &crate::backend::Write,
        commit: Option<&str>,
    ) -> Result<Vec<String>, BackendError> {
        let changes = &write.changes;
        let mut missing = Vec::new();
        if let Some(commit) = commit
            && self
                .git(&["merge-base", "--is-ancestor", commit, "HEAD"])
                .is_err()
        {
            missing.push(format!("commit {commit} is not an ancestor of HEAD"));
        }
        for c in changes {
            let now = match commit {
                Some(_) => self.git_bytes(&["show", &format!("HEAD:{}", self.repo_path(&c.path)?)]),
                None => fs::read(self.root.join(&c.path))
                    .map_err(|e| BackendError::Failed(format!("{}: {e}", c.path))),
            };
            if !now.is_ok_and(|bytes| bytes == c.new.as_bytes()) {
                missing.push(format!("{} does not hold the new content", c.path));
            }
        }
        Ok(missing)
    }
}

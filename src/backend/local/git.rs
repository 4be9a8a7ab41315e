//! The git CLI, as the local backend uses it: which files the work tree
//! holds (`ls-files`, with the repository's `.gitignore` files only),
//! blobs in one `cat-file --batch` process, per-file history (`log`), and a
//! commit made with plumbing (`read-tree`, `update-index`, `write-tree`,
//! `commit-tree`, then `update-ref` with the expected old head) so that the
//! branch moves by compare-and-swap, at one instant, and a failure at any
//! earlier step leaves no trace but unreachable objects.
//!
//! Every command runs with `GIT_LITERAL_PATHSPECS=1`: paths are paths,
//! never globs. Does not own which files are selected or how they are
//! written (`local`, `stage`).

use std::ffi::OsStr;
use std::io::{Read, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::backend::{BackendError, FileCommit};

/// A Git work tree that holds the `--dir` directory.
#[derive(Clone, Debug)]
pub(super) struct Git {
    /// The `--dir` directory; commands run there.
    dir: PathBuf,
    /// `dir` relative to the top of the work tree, `/`-terminated or empty.
    prefix: String,
}

/// How a command treats the terminal's signals.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Group {
    /// In this process's group: Ctrl-C reaches it too (it may need the
    /// terminal, as `commit-tree` does to sign).
    Shared,
    /// In a process group of its own, so a Ctrl-C meant for gitops-bump
    /// cannot kill it half-way through a step that must finish.
    Own,
}

/// The identity and signing settings a commit needs.
pub(super) struct CommitSettings {
    /// `-c user.name=… -c user.email=…` when the repository names no
    /// committer, so a fresh CI checkout can still commit.
    pub fallback_identity: bool,
    /// `commit.gpgSign`, which `commit-tree` does not read by itself.
    pub sign: bool,
}

impl Git {
    /// The work tree holding `dir`, or `None` when `dir` is not inside one
    /// (or git cannot be run).
    pub fn discover(dir: &Path) -> Option<Git> {
        let git = Git {
            dir: dir.to_path_buf(),
            prefix: String::new(),
        };
        let out = git
            .run(&["rev-parse", "--is-inside-work-tree", "--show-prefix"])
            .ok()?;
        let text = String::from_utf8(out).ok()?;
        let mut lines = text.lines();
        if lines.next() != Some("true") {
            return None;
        }
        Some(Git {
            prefix: lines.next().unwrap_or("").to_owned(),
            ..git
        })
    }

    /// The path of a `--dir`-relative file from the top of the work tree,
    /// as `<rev>:<path>` expressions want it.
    pub fn repo_path(&self, rel: &str) -> String {
        format!("{}{rel}", self.prefix)
    }

    /// A git command in the directory.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("git");
        cmd.arg("-C")
            .arg(&self.dir)
            .args(args)
            .env("GIT_LITERAL_PATHSPECS", "1")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs git and returns its standard output; a failure is one line
    /// naming the subcommand and git's first line of complaint.
    pub fn run(&self, args: &[&str]) -> Result<Vec<u8>, BackendError> {
        self.run_with(args, &[], None, Group::Shared)
    }

    /// [`Git::run`], trimmed to text.
    pub fn text(&self, args: &[&str]) -> Result<String, BackendError> {
        self.run(args)
            .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
    }

    /// [`Git::run`] with extra environment, standard input and a process
    /// group.
    pub fn run_with(
        &self,
        args: &[&str],
        env: &[(&str, &OsStr)],
        stdin: Option<&[u8]>,
        group: Group,
    ) -> Result<Vec<u8>, BackendError> {
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        #[cfg(unix)]
        if group == Group::Own {
            use std::os::unix::process::CommandExt as _;
            cmd.process_group(0);
        }
        let _ = group;
        if stdin.is_some() {
            cmd.stdin(Stdio::piped());
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| BackendError::Failed(format!("git: {e}")))?;
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // Small inputs (a commit message): written before reading.
            let _ = pipe.write_all(input);
        }
        let out = child
            .wait_with_output()
            .map_err(|e| BackendError::Failed(format!("git: {e}")))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let first = err
                .lines()
                .map(|l| {
                    l.trim_start_matches("fatal: ")
                        .trim_start_matches("error: ")
                })
                .find(|l| !l.trim().is_empty())
                .unwrap_or("failed");
            let sub = args
                .iter()
                .find(|a| !a.starts_with('-'))
                .copied()
                .unwrap_or("");
            return Err(BackendError::Failed(format!("git {sub}: {first}")));
        }
        Ok(out.stdout)
    }

    /// The commit `HEAD` names, `None` on an unborn branch.
    pub fn head(&self) -> Result<Option<String>, BackendError> {
        let out = self.run(&["rev-parse", "--verify", "-q", "HEAD^{commit}"]);
        Ok(out
            .ok()
            .map(|b| String::from_utf8_lossy(&b).trim().to_owned()))
    }

    /// The files of the work tree under the directory, relative to it:
    /// tracked files, and untracked ones the repository's `.gitignore`
    /// files do not exclude; then the untracked files they do exclude.
    /// `.git/info/exclude`, `core.excludesFile` and `.ignore` files are
    /// never read: they belong to one person's setup, and the result must
    /// not depend on who runs the tool.
    pub fn files(&self) -> Result<(Vec<String>, Vec<String>), BackendError> {
        let split = |out: Vec<u8>| -> Vec<String> {
            out.split(|b| *b == 0)
                .filter(|p| !p.is_empty())
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect()
        };
        let per_dir = "--exclude-per-directory=.gitignore";
        let listed = self.run(&["ls-files", "-z", "--cached", "--others", per_dir])?;
        let ignored = self.run(&["ls-files", "-z", "--others", "--ignored", per_dir])?;
        Ok((split(listed), split(ignored)))
    }

    /// `git status --porcelain` for `paths`: one line per path with
    /// uncommitted changes (staged, unstaged), or not tracked (`??`, and
    /// `!!` for one an ignore rule of any kind hides).
    pub fn dirty(&self, paths: &[&str]) -> Result<Vec<String>, BackendError> {
        let mut args = vec![
            "status",
            "--porcelain",
            "--untracked-files=all",
            "--ignored=matching",
            "--",
        ];
        args.extend(paths);
        let out = self.run(&args)?;
        Ok(String::from_utf8_lossy(&out)
            .lines()
            .map(str::to_owned)
            .collect())
    }

    /// The content of each `<rev>:<path>` expression in `specs`, in order;
    /// `None` where it names no blob (no such commit, no such path). One
    /// `git cat-file --batch` process for all of them.
    pub fn blobs(&self, specs: &[String]) -> Result<Vec<Option<Vec<u8>>>, BackendError> {
        let mut out = vec![None; specs.len()];
        // `--batch` reads one expression per line: a path with a newline
        // (legal, never seen in practice) is asked for on its own.
        let (batch, odd): (Vec<usize>, Vec<usize>) =
            (0..specs.len()).partition(|&i| !specs[i].contains('\n'));
        for i in odd {
            out[i] = self.run(&["cat-file", "blob", &specs[i]]).ok();
        }
        if batch.is_empty() {
            return Ok(out);
        }
        let failed = |e: std::io::Error| BackendError::Failed(format!("git cat-file: {e}"));
        let mut child = self
            .command(&["cat-file", "--batch"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(failed)?;
        let mut input = Vec::new();
        for &i in &batch {
            input.extend_from_slice(specs[i].as_bytes());
            input.push(b'\n');
        }
        let mut stdin = child.stdin.take().expect("impossible: stdin is piped");
        // Written from a thread: git answers while it reads, and a full
        // pipe each way would otherwise stall both.
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let mut stdout = child.stdout.take().expect("impossible: stdout is piped");
        let mut answer = Vec::new();
        let read = stdout.read_to_end(&mut answer);
        let written = writer.join();
        let status = child.wait().map_err(failed)?;
        read.map_err(failed)?;
        if !status.success() || !matches!(written, Ok(Ok(()))) {
            return Err(BackendError::Failed("git cat-file: failed".into()));
        }
        let mut rest = answer.as_slice();
        for &i in &batch {
            let Some(nl) = rest.iter().position(|b| *b == b'\n') else {
                return Err(BackendError::Failed("git cat-file: short answer".into()));
            };
            let header = String::from_utf8_lossy(&rest[..nl]).into_owned();
            rest = &rest[nl + 1..];
            let fields: Vec<&str> = header.rsplitn(3, ' ').collect();
            // `<oid> <type> <size>`, or `<spec> missing|ambiguous`.
            let (Some(size), Some(kind)) = (
                fields.first().and_then(|s| s.parse::<usize>().ok()),
                fields.get(1),
            ) else {
                continue;
            };
            if rest.len() < size + 1 {
                return Err(BackendError::Failed("git cat-file: short answer".into()));
            }
            if *kind == "blob" {
                out[i] = Some(rest[..size].to_vec());
            }
            rest = &rest[size + 1..];
        }
        Ok(out)
    }

    /// The commits that changed `rel` since `since` (Unix seconds,
    /// inclusive), newest first, at most `limit`, from `HEAD`: exactly
    /// `git log --since=@<since> -n <limit> HEAD -- <rel>` (Git's default
    /// history simplification, no rename following, as GitHub's
    /// `Commit.history(path:)` walks). `before`/`after` are left `None`.
    pub fn log(
        &self,
        rel: &str,
        since: i64,
        limit: usize,
    ) -> Result<Vec<FileCommit>, BackendError> {
        let since = format!("--since=@{since}");
        let limit = format!("--max-count={limit}");
        let out = self.run(&[
            "-c",
            "log.follow=false",
            "-c",
            "log.showSignature=false",
            "log",
            "-z",
            "--no-color",
            "--format=%H%x1f%ct%x1f%an%x1f%B",
            &since,
            &limit,
            "HEAD",
            "--",
            rel,
        ])?;
        let mut commits = Vec::new();
        for record in out.split(|b| *b == 0).filter(|r| !r.is_empty()) {
            let record = String::from_utf8_lossy(record);
            let mut f = record.splitn(4, '\u{1f}');
            let (Some(oid), Some(time), Some(author), Some(message)) =
                (f.next(), f.next(), f.next(), f.next())
            else {
                continue;
            };
            commits.push(FileCommit {
                oid: oid.trim_start_matches('\n').to_owned(),
                time: time.parse().unwrap_or(0),
                author: author.to_owned(),
                message: message.trim_end_matches('\n').to_owned(),
                before: None,
                after: None,
            });
        }
        Ok(commits)
    }

    /// The committer identity and signing settings of the repository.
    pub fn commit_settings(&self) -> CommitSettings {
        CommitSettings {
            fallback_identity: self.run(&["config", "user.email"]).is_err(),
            sign: self
                .text(&["config", "--type=bool", "commit.gpgSign"])
                .is_ok_and(|v| v == "true"),
        }
    }

    /// Makes a commit of the work-tree content of `paths` (relative to the
    /// directory) on top of `parent` and moves `HEAD` to it only if `HEAD`
    /// is still `parent` (compare-and-swap). Nothing before the ref update
    /// is visible; [`BackendError::Stale`] when `HEAD` moved.
    pub fn commit(
        &self,
        paths: &[&str],
        message: &str,
        parent: Option<&str>,
        settings: &CommitSettings,
    ) -> Result<String, BackendError> {
        let scratch = tempfile::tempdir()
            .map_err(|e| BackendError::Failed(format!("temporary index: {e}")))?;
        let index = scratch.path().join("index");
        let env = [("GIT_INDEX_FILE", index.as_os_str())];
        match parent {
            Some(p) => self.run_with(&["read-tree", p], &env, None, Group::Own)?,
            None => self.run_with(&["read-tree", "--empty"], &env, None, Group::Own)?,
        };
        let mut add = vec!["update-index", "--add", "--"];
        add.extend(paths);
        self.run_with(&add, &env, None, Group::Own)?;
        let tree = self.run_with(&["write-tree"], &env, None, Group::Own)?;
        let tree = String::from_utf8_lossy(&tree).trim().to_owned();
        let mut args: Vec<&str> = Vec::new();
        if settings.fallback_identity {
            args.extend([
                "-c",
                "user.name=gitops-bump",
                "-c",
                "user.email=gitops-bump@users.noreply.github.com",
            ]);
        }
        args.extend(["commit-tree", &tree]);
        if let Some(p) = parent {
            args.extend(["-p", p]);
        }
        if settings.sign {
            args.push("-S");
        }
        args.extend(["-F", "-"]);
        let message = cleanup(message);
        // Shared group: signing may ask for a passphrase on the terminal.
        let commit = self.run_with(&args, &[], Some(message.as_bytes()), Group::Shared)?;
        let commit = String::from_utf8_lossy(&commit).trim().to_owned();
        let subject = message.lines().next().unwrap_or("");
        let reflog = format!("commit: {subject}");
        let old = parent.unwrap_or("");
        let moved = self.run_with(
            &["update-ref", "-m", &reflog, "HEAD", &commit, old],
            &[],
            None,
            Group::Own,
        );
        if moved.is_err() && self.head()?.as_deref() != Some(commit.as_str()) {
            return Err(if self.head()?.as_deref() != parent {
                BackendError::Stale("HEAD".into())
            } else {
                moved
                    .err()
                    .unwrap_or(BackendError::Failed("git update-ref".into()))
            });
        }
        Ok(commit)
    }

    /// Brings the index entries of `paths` to their work-tree content (the
    /// content just committed), so the work tree is clean after a commit.
    pub fn refresh_index(&self, paths: &[&str]) -> Result<(), BackendError> {
        let mut args = vec!["update-index", "--"];
        args.extend(paths);
        self.run_with(&args, &[], None, Group::Own).map(|_| ())
    }
}

/// A commit message as `git commit -m` stores it (its default `whitespace`
/// cleanup): trailing whitespace removed from every line, runs of blank
/// lines collapsed, no leading or trailing blank lines, one final newline.
pub(super) fn cleanup(message: &str) -> String {
    let mut out = String::with_capacity(message.len() + 1);
    let mut blank = false;
    for line in message.lines().map(str::trim_end) {
        if line.is_empty() {
            blank = !out.is_empty();
            continue;
        }
        if blank {
            out.push('\n');
            blank = false;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleanup_matches_git_commit_m() {
        assert_eq!(cleanup("subject"), "subject\n");
        assert_eq!(
            cleanup("\n\nsubject  \n\n\n\nbody\t\nTrailer: x\n\n"),
            "subject\n\nbody\nTrailer: x\n"
        );
    }
}

//! The local backend (`--dir`): a directory, optionally a Git work tree
//! committed to with the git CLI. The only module besides the network
//! backends that touches the file system.
//!
//! **Which files.** In a Git work tree, the files Git lists under the
//! directory: tracked files, and untracked ones unless the repository's
//! own `.gitignore` files exclude them, exactly what a commit of the work
//! tree would hold. `.git/info/exclude`, the user's `core.excludesFile`
//! and `.ignore` files are never read: they belong to one person's setup,
//! and which manifests a run sees must not depend on who runs it. Outside a
//! Git work tree, every file. A path named exactly by `--files` is read
//! even when a `.gitignore` excludes it; the others it excludes are counted
//! in [`Snapshot::ignored`].
//!
//! **What is kept of skipped files.** A file over `--max-file-size`, a
//! symlink leading outside the directory, or a symlink to a file the run
//! does not read is skipped with a warning, and [`Snapshot::skipped`] keeps
//! its bytes (when small enough) or the needles a streaming search found in
//! it, so a guard can fail a run that would leave it behind. UTF-16 files
//! with a byte order mark are read as text (as kubectl reads them) and
//! written back in the same encoding.
//!
//! **Writes** are all or nothing (`stage`). SIGINT and SIGTERM are
//! caught only while a write runs (`signals`): before the first file is
//! replaced the write is abandoned and its temporary files removed; after,
//! it is finished, commit included, and the run then stops with
//! [`BackendError::Interrupted`]. `--commit` makes the commit with git
//! plumbing (`git`): the branch moves by compare-and-swap on the head
//! that was read, and no commit hook runs, as with a commit through the
//! GitHub API.
//!
//! **Test hook** (debug builds only): `GITOPS_BUMP_TEST_PAUSE=PHASE:N:FILE`
//! makes a write create `FILE` and wait (up to a minute) for a signal at one
//! point: after the `N`th file is staged (`stage`), after the `N`th rename
//! (`rename`), or after the commit moved the branch (`commit:1`). Tests use
//! it to deliver a signal at a chosen point; release builds ignore it.

mod git;
mod signals;
mod stage;

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use crate::backend::files::{Encoding, FileSelection, search, skipped, text_of, too_large};
use crate::backend::{
    Backend, BackendError, FileHistory, Interruption, SkippedContent, Snapshot, SourceFile,
};
use crate::finding::{Finding, Kind};
use git::Git;
use signals::Guard;

/// A directory on disk.
pub struct Local {
    root: PathBuf,
    canonical_root: PathBuf,
    /// True if and only if writes end in a commit (`--commit`).
    commit: bool,
    /// The Git work tree holding the directory, if any.
    git: Option<Git>,
}

impl Local {
    /// Opens `root`; with `commit`, writes end in one commit, and `root`
    /// must be inside a Git work tree.
    pub fn open(root: &Path, commit: bool) -> Result<Local, BackendError> {
        let canonical_root = root
            .canonicalize()
            .map_err(|e| BackendError::Failed(format!("--dir {}: {e}", root.display())))?;
        let git = Git::discover(root);
        if commit && git.is_none() {
            return Err(BackendError::Failed(format!(
                "--commit: {} is not inside a Git work tree",
                root.display()
            )));
        }
        Ok(Local {
            root: root.to_path_buf(),
            canonical_root,
            commit,
            git,
        })
    }

    /// The work tree, for commits (open checked it exists).
    fn repo(&self) -> Result<&Git, BackendError> {
        self.git
            .as_ref()
            .ok_or_else(|| BackendError::Failed("not inside a Git work tree".into()))
    }

    /// The selected paths (sorted as a directory walk meets them), the
    /// paths `.gitignore` hides, and problems met while listing.
    fn list(&self, files: &FileSelection) -> Result<Listing, BackendError> {
        let Some(git) = &self.git else {
            return Ok(self.walk(files));
        };
        let (listed, ignored) = git.files()?;
        let mut listing = Listing {
            paths: listed.into_iter().filter(|p| files.matches(p)).collect(),
            ignored: ignored.into_iter().filter(|p| files.matches(p)).collect(),
            problems: Vec::new(),
        };
        // Naming a file is asking for it: never hidden.
        let named: HashSet<&str> = files.literal_paths().collect();
        listing.ignored.retain(|p| !named.contains(p.as_str()));
        for p in named {
            let in_git_dir = p.split('/').any(|c| c == ".git");
            if !in_git_dir && fs::symlink_metadata(self.root.join(p)).is_ok() {
                listing.paths.push(p.to_owned());
            }
        }
        listing.paths.sort_by(|a, b| a.split('/').cmp(b.split('/')));
        listing.paths.dedup();
        listing.ignored.sort();
        Ok(listing)
    }

    /// Every file under the directory but `.git`: outside a work tree no
    /// ignore file of any kind applies.
    fn walk(&self, files: &FileSelection) -> Listing {
        let mut listing = Listing::default();
        let walker = ignore::WalkBuilder::new(&self.root)
            .standard_filters(false)
            .hidden(false)
            .follow_links(false)
            .filter_entry(|e| e.file_name() != ".git")
            .sort_by_file_name(|a, b| a.cmp(b))
            .build();
        for entry in walker {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    listing.problems.push(skipped("", e.to_string()));
                    continue;
                }
            };
            if entry.file_type().is_none_or(|t| t.is_dir()) {
                continue;
            }
            let Ok(rel) = entry.path().strip_prefix(&self.root) else {
                continue;
            };
            let rel = rel.to_string_lossy().replace('\\', "/");
            if !rel.is_empty() && files.matches(&rel) {
                listing.paths.push(rel);
            }
        }
        listing
    }

    /// Reads one listed path into `snapshot`: a file, a problem, or nothing
    /// (a directory, a tracked file deleted from the work tree, a symlink to
    /// a file that is read where it lives).
    fn load(
        &self,
        rel: &str,
        files: &FileSelection,
        read: &HashSet<&str>,
        snapshot: &mut Snapshot,
    ) {
        let path = self.root.join(rel);
        let meta = match fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) => {
                snapshot
                    .problems
                    .push(skipped(rel, format!("cannot read: {e}")));
                return;
            }
        };
        if meta.file_type().is_symlink() {
            return self.load_link(rel, &path, files, read, snapshot);
        }
        if !meta.is_file() {
            return;
        }
        if meta.len() > files.max_size {
            snapshot
                .problems
                .push(too_large(rel, meta.len(), files.max_size));
            if let Some(content) = withhold(&path, files) {
                snapshot.skipped.insert(rel.to_owned(), content);
            }
            return;
        }
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                snapshot
                    .problems
                    .push(skipped(rel, format!("cannot read: {e}")));
                return;
            }
        };
        match Encoding::sniff(&bytes).decode(&bytes) {
            None => snapshot.files.push(SourceFile {
                path: rel.to_owned(),
                bytes,
            }),
            Some(Ok(text)) => snapshot.files.push(SourceFile {
                path: rel.to_owned(),
                bytes: text.into_bytes(),
            }),
            Some(Err(e)) => {
                snapshot
                    .problems
                    .push(skipped(rel, format!("{e}; skipped")));
                snapshot
                    .skipped
                    .insert(rel.to_owned(), SkippedContent::Raw(bytes));
            }
        }
    }

    /// A symlink: silently skipped when it leads to a file the run reads
    /// anyway, else a problem, with what its target holds.
    fn load_link(
        &self,
        rel: &str,
        path: &Path,
        files: &FileSelection,
        read: &HashSet<&str>,
        snapshot: &mut Snapshot,
    ) {
        let target = match path.canonicalize() {
            Ok(t) => t,
            Err(e) => {
                snapshot
                    .problems
                    .push(skipped(rel, format!("broken symlink: {e}")));
                return;
            }
        };
        let inside = target
            .strip_prefix(&self.canonical_root)
            .ok()
            .map(|t| t.to_string_lossy().replace('\\', "/"));
        let is_file = fs::metadata(&target).is_ok_and(|m| m.is_file());
        let message = match &inside {
            // Read where it lives (or a directory, walked where it lives).
            Some(t) if read.contains(t.as_str()) || !is_file => return,
            Some(t) => format!("symlink to {t}, which this run does not read; skipped"),
            None => "symlink points outside --dir; skipped".to_owned(),
        };
        snapshot.problems.push(skipped(rel, message));
        if is_file && let Some(content) = withhold(&target, files) {
            snapshot.skipped.insert(rel.to_owned(), content);
        }
    }

    /// Pauses at a named point of a write, for tests (see the module docs).
    fn pause(guard: &Guard, phase: &str, n: usize) {
        #[cfg(debug_assertions)]
        {
            let Ok(spec) = std::env::var("GITOPS_BUMP_TEST_PAUSE") else {
                return;
            };
            let mut parts = spec.splitn(3, ':');
            let (Some(p), Some(at), Some(marker)) = (parts.next(), parts.next(), parts.next())
            else {
                return;
            };
            if p != phase || at.parse() != Ok(n) {
                return;
            }
            let _ = fs::write(marker, phase);
            for _ in 0..6000 {
                if guard.caught().is_some() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        #[cfg(not(debug_assertions))]
        let _ = (guard, phase, n);
    }
}

/// What listing found.
#[derive(Default)]
struct Listing {
    paths: Vec<String>,
    ignored: Vec<String>,
    problems: Vec<Finding>,
}

/// What to keep of a skipped regular file: its bytes when it is within the
/// size limit, else the needles a streaming search finds in it; `None` when
/// it cannot be read.
fn withhold(path: &Path, files: &FileSelection) -> Option<SkippedContent> {
    let meta = fs::metadata(path).ok()?;
    if meta.len() <= files.max_size {
        return fs::read(path).ok().map(SkippedContent::Raw);
    }
    let file = fs::File::open(path).ok()?;
    search(std::io::BufReader::new(file), &files.needles)
        .ok()
        .map(SkippedContent::Mentions)
}

impl Backend for Local {
    fn describe(&self) -> String {
        format!("dir {}", self.root.display())
    }

    fn read(&mut self, files: &FileSelection) -> Result<Snapshot, BackendError> {
        let head = match (&self.git, self.commit) {
            (Some(git), true) => git.head()?,
            _ => None,
        };
        let mut listing = self.list(files)?;
        if let Some(first) = listing.ignored.first() {
            // Counted, never silent: which manifests a run sees must be
            // visible when the repository's own rules hide some.
            listing.problems.push(Finding::notice(
                Kind::Ignored,
                None,
                format!(
                    "{} file(s) the selection matches are ignored by the repository's .gitignore and were not read, e.g. {first}; name one with --files to read it",
                    listing.ignored.len()
                ),
            ));
        }
        let mut snapshot = Snapshot {
            head,
            problems: listing.problems,
            ignored: listing.ignored,
            ..Snapshot::default()
        };
        let read: HashSet<&str> = listing.paths.iter().map(String::as_str).collect();
        let mut unfiltered = 0;
        for rel in &listing.paths {
            self.load(rel, files, &read, &mut snapshot);
            files.keep_read(&mut snapshot, &mut unfiltered, false);
        }
        files.keep_read(&mut snapshot, &mut unfiltered, true);
        Ok(snapshot)
    }

    fn write(
        &mut self,
        snapshot: &Snapshot,
        write: &crate::backend::Write,
    ) -> Result<Option<String>, BackendError> {
        let changes = &write.changes;
        let guard = Guard::install().map_err(BackendError::Failed)?;
        let pause = |phase: &str, n: usize| Local::pause(&guard, phase, n);
        let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
        let repo = if self.commit {
            let git = self.repo()?;
            if git.head()? != snapshot.head {
                return Err(BackendError::Stale("HEAD".into()));
            }
            if let Some(line) = git.dirty(&paths)?.first() {
                let (state, path) = line.split_at(line.len().min(3));
                let why = if matches!(state, "?? " | "!! ") {
                    "is not tracked by Git; commit it first"
                } else {
                    "has uncommitted changes; commit or stash them first"
                };
                return Err(BackendError::Failed(format!("{path}: {why}")));
            }
            Some((git, git.commit_settings()))
        } else {
            None
        };
        let staged = stage::stage(&self.root, changes, &guard, &pause)?;
        // From the first rename on, the write is finished whatever arrives.
        let replaced = staged.replace(&pause)?;
        let mut commit = None;
        if let Some((git, settings)) = repo {
            match git.commit(&paths, &write.message, snapshot.head.as_deref(), &settings) {
                Ok(oid) => commit = Some(oid),
                Err(e) => {
                    let unrestored = replaced.rollback();
                    return Err(match (e, guard.caught()) {
                        // A Ctrl-C reaches git too (it shares the terminal):
                        // the failure is the interruption, and it was undone.
                        (BackendError::Failed(_), Some(signal)) if unrestored.is_empty() => {
                            BackendError::Interrupted(Interruption {
                                signal: signal.number,
                                name: signal.name,
                                written: false,
                                files: 0,
                                commit: None,
                            })
                        }
                        (BackendError::Failed(m), _) => {
                            BackendError::Failed(stage::with_unrestored(m, &unrestored))
                        }
                        (other, _) => other,
                    });
                }
            }
            pause("commit", 1);
            if let Err(e) = git.refresh_index(&paths) {
                let oid = commit.as_deref().unwrap_or_default();
                return Err(BackendError::Failed(format!(
                    "committed {oid}, but the index could not be updated ({e}); run `git reset -q -- <files>`"
                )));
            }
        }
        let files = replaced.len();
        replaced.finish();
        if let Some(signal) = guard.caught() {
            return Err(BackendError::Interrupted(Interruption {
                signal: signal.number,
                name: signal.name,
                written: true,
                files,
                commit,
            }));
        }
        Ok(commit)
    }

    fn verify(
        &mut self,
        write: &crate::backend::Write,
        commit: Option<&str>,
    ) -> Result<Vec<String>, BackendError> {
        let changes = &write.changes;
        let mut missing = Vec::new();
        let now: Vec<Option<Vec<u8>>> = match commit {
            Some(commit) => {
                let git = self.repo()?;
                if git
                    .run(&["merge-base", "--is-ancestor", commit, "HEAD"])
                    .is_err()
                {
                    missing.push(format!("commit {commit} is not an ancestor of HEAD"));
                }
                let specs: Vec<String> = changes
                    .iter()
                    .map(|c| format!("HEAD:{}", git.repo_path(&c.path)))
                    .collect();
                git.blobs(&specs)?
            }
            None => changes
                .iter()
                .map(|c| fs::read(self.root.join(&c.path)).ok())
                .collect(),
        };
        for (c, now) in changes.iter().zip(now) {
            let held = now.is_some_and(|b| Encoding::sniff(&b).holds(&b, &c.new));
            if !held {
                missing.push(format!("{} does not hold the new content", c.path));
            }
        }
        Ok(missing)
    }

    /// `git log` of each path from `HEAD` (whether or not this run commits:
    /// the guards read history in both cases), then the file before (first
    /// parent) and after each commit in one `git cat-file --batch`: one git
    /// process per path, plus one.
    fn history(
        &mut self,
        paths: &[String],
        since: i64,
        depth: usize,
    ) -> Result<Option<Vec<FileHistory>>, BackendError> {
        let Some(git) = &self.git else {
            return Ok(None);
        };
        let unborn = git.head()?.is_none();
        let mut histories = Vec::with_capacity(paths.len());
        for path in paths {
            let mut commits = if unborn {
                Vec::new()
            } else {
                git.log(path, since, depth.saturating_add(1))?
            };
            let truncated = commits.len() > depth;
            commits.truncate(depth);
            histories.push(FileHistory {
                path: path.clone(),
                commits,
                truncated,
            });
        }
        let specs: Vec<String> = histories
            .iter()
            .flat_map(|h| {
                let repo_path = git.repo_path(&h.path);
                h.commits.iter().flat_map(move |c| {
                    [
                        format!("{}^:{repo_path}", c.oid),
                        format!("{}:{repo_path}", c.oid),
                    ]
                })
            })
            .collect();
        let mut blobs = git.blobs(&specs)?.into_iter().map(|b| b.map(text_of));
        for c in histories.iter_mut().flat_map(|h| h.commits.iter_mut()) {
            c.before = blobs.next().flatten();
            c.after = blobs.next().flatten();
        }
        Ok(Some(histories))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selection(patterns: &[&str], max: u64) -> FileSelection {
        let patterns: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
        FileSelection::new(&patterns, max).expect("valid")
    }

    #[test]
    fn utf16_files_are_read_as_text() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let text = "\u{feff}image: ghcr.io/acme/app:v1 # café\n";
        fs::write(tmp.path().join("le.yaml"), Encoding::Utf16Le.encode(text)).expect("write");
        let mut odd = Encoding::Utf16Le.encode(text);
        odd.push(b'x');
        fs::write(tmp.path().join("odd.yaml"), &odd).expect("write");
        let mut local = Local::open(tmp.path(), false).expect("open");
        let snap = local.read(&selection(&[], 1 << 20)).expect("read");
        assert_eq!(snap.files.len(), 1);
        assert_eq!(snap.files[0].bytes, text.as_bytes());
        assert_eq!(snap.problems.len(), 1);
        assert!(
            snap.problems[0].message.contains("odd length"),
            "{:?}",
            snap.problems
        );
        assert_eq!(
            snap.skipped.get("odd.yaml"),
            Some(&SkippedContent::Raw(odd))
        );
    }

    #[test]
    fn files_over_the_limit_are_searched_for_the_needles() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut big = "# padding\n".repeat(20_000);
        big.push_str("image: ghcr.io/acme/app:v1\n");
        fs::write(tmp.path().join("big.yaml"), &big).expect("write");
        fs::write(
            tmp.path().join("big16.yaml"),
            Encoding::Utf16Be.encode(&format!("\u{feff}{big}")),
        )
        .expect("write");
        let mut local = Local::open(tmp.path(), false).expect("open");
        let files = selection(&[], 1024).searching(["acme/app".into(), "acme/other".into()]);
        let snap = local.read(&files).expect("read");
        assert!(snap.files.is_empty());
        for f in ["big.yaml", "big16.yaml"] {
            assert_eq!(
                snap.skipped.get(f),
                Some(&SkippedContent::Mentions(vec!["acme/app".into()])),
                "{f}"
            );
        }
    }
}

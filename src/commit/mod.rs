//! Commit and verify, the shared write path: the project's core guarantee
//! lives in [`run`], and every command that writes (`set`, `sync`) goes
//! through it.
//!
//! One round reads the backend, asks the caller to plan against what it
//! read, writes with compare-and-swap on the head it read, opens or updates
//! the pull request, and verifies; with nothing to write, it may close the
//! pull request the plan names as having nothing left to do
//! ([`Planned::retire`]). When the head moved, the whole round runs
//! again from the read: contents computed on an old head are never resent
//! (DESIGN.md §6). When a write got no answer, it is looked up by its
//! `Gitops-Bump-Id` before anything is sent again, so a lost answer never
//! makes a second commit. Waits use full-jitter backoff within
//! `--max-attempts` and `--deadline`.
//!
//! The plan step may read the recent history of files through a
//! [`HistoryReader`] (the writer guards, issue #11): it asks for the files
//! it would change, every round, so a racing writer's commit that made the
//! head move is in the history the next round sees.
//!
//! Also here: commit messages ([`message`]), the `Gitops-Bump-*` trailers
//! ([`trailer`]), retry timing ([`retry`]) and the verification plan
//! ([`verify`]). `trailer` and `retry` are leaves that the backends use too.

pub mod message;
pub mod retry;
pub mod trailer;
pub mod verify;

use crate::backend::files::FileSelection;
use crate::backend::{
    Backend, BackendError, FileHistory, Landed, PullRequest, Retire, Snapshot, Write,
};
use retry::{Backoff, Deadline, RetrySettings};
use verify::VerifyPlan;

/// What the caller's plan step returns for one snapshot.
#[derive(Debug)]
pub struct Planned<R> {
    /// The caller's own result for this round (its report so far).
    pub outcome: R,
    /// What to write; `None` when there is nothing to write (already up to
    /// date, or a guard refused).
    pub write: Option<Write>,
    /// With no `write`, in pull-request mode, when the base already holds
    /// what the run asked for (never after a refusal): the pull request
    /// to close as having nothing left to do. Ignored in a dry run.
    pub retire: Option<Retire>,
}

/// How the write path ended.
#[derive(Debug)]
pub enum Written {
    /// The plan had nothing to write.
    Nothing,
    /// The plan had nothing to write, and the open pull request it named
    /// ([`Planned::retire`]) was closed.
    Retired {
        /// The pull request closed.
        pull_request: PullRequest,
    },
    /// A dry run: nothing was written; this is what would be verified.
    DryRun {
        /// The write that would be made.
        write: Write,
        /// The checks verification would make after it.
        verify: VerifyPlan,
    },
    /// The write was made.
    Done {
        /// The write made.
        write: Write,
        /// The commit that holds it, when the backend makes commits.
        commit: Option<String>,
        /// The pull request opened or updated, for pull-request targets.
        pull_request: Option<PullRequest>,
        /// One line per piece verification could not find: non-empty means
        /// the gitops commit is missing.
        missing: Vec<String>,
    },
}

/// The result of [`run`].
#[derive(Debug)]
pub struct Committed<R> {
    /// The caller's result from the last round.
    pub outcome: R,
    /// What was written.
    pub written: Written,
    /// Read-plan-write rounds (more than 1 after the head moved).
    pub attempts: usize,
    /// The head the last round planned at.
    pub head: Option<String>,
}

/// Why the write path gave up.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The backend failed; `backend` describes it (`github acme/gitops@main`).
    /// The message already holds `error`'s, so it is not an error source (a
    /// chain would print it twice).
    #[error("{backend}: {error}")]
    Backend {
        /// [`Backend::describe`].
        backend: String,
        /// What failed.
        error: BackendError,
    },
    /// The head kept moving until the deadline.
    #[error(
        "{what} kept changing while writing; gave up at the --deadline of {deadline_secs}s after {attempts} attempt(s)"
    )]
    Deadline {
        /// What kept moving.
        what: String,
        /// The configured deadline.
        deadline_secs: u64,
        /// Rounds made.
        attempts: usize,
    },
    /// The head kept moving for every attempt.
    #[error("{what} kept changing while writing; gave up after {attempts} attempts")]
    Attempts {
        /// What kept moving.
        what: String,
        /// Rounds made.
        attempts: usize,
    },
    /// A write kept getting no answer, or the deadline came while looking
    /// for it.
    #[error("{what}: gave up after {attempts} attempt(s); last: {last}")]
    Unanswered {
        /// The request.
        what: String,
        /// Sends made.
        attempts: usize,
        /// The last failure.
        last: String,
    },
}

/// The plan step's view of the backend's history: the recent commits of
/// the files it asks for, on the branch the round read.
pub struct HistoryReader<'a> {
    backend: &'a mut dyn Backend,
}

impl HistoryReader<'_> {
    /// [`Backend::history`] of `paths`: the commits since `since` (Unix
    /// seconds), at most `depth` per file, newest first; `None` when the
    /// backend has no history (a plain directory).
    pub fn read(
        &mut self,
        paths: &[String],
        since: i64,
        depth: usize,
    ) -> Result<Option<Vec<FileHistory>>, BackendError> {
        self.backend.history(paths, since, depth)
    }

    /// The backend's description (`dir ./gitops`), for messages.
    pub fn describe(&self) -> String {
        self.backend.describe()
    }
}

/// Runs the write path: read `files`, `plan`, write, publish, verify,
/// re-running the round from the read when the head moved. With `dry_run`,
/// stops before the write and returns what would be verified.
///
/// `plan` is called once per round with that round's snapshot and must
/// plan from it alone; it may read the history of the files it would
/// change through the reader it is given.
pub fn run<R>(
    backend: &mut dyn Backend,
    files: &FileSelection,
    retry: RetrySettings,
    dry_run: bool,
    plan: &mut dyn FnMut(&mut Snapshot, &mut HistoryReader<'_>) -> Planned<R>,
) -> Result<Committed<R>, CommitError> {
    let deadline = Deadline::after(retry.deadline);
    let mut backoff = Backoff::cas();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let mut snapshot = backend.read(files).map_err(|e| failed(backend, e))?;
        let planned = plan(
            &mut snapshot,
            &mut HistoryReader {
                backend: &mut *backend,
            },
        );
        let done = |written| Committed {
            outcome: planned.outcome,
            written,
            attempts,
            head: snapshot.head.clone(),
        };
        let Some(write) = planned.write else {
            let retired = match &planned.retire {
                Some(retire) if !dry_run => {
                    backend.retire(retire).map_err(|e| failed(backend, e))?
                }
                _ => None,
            };
            return Ok(done(match retired {
                Some(pull_request) => Written::Retired { pull_request },
                None => Written::Nothing,
            }));
        };
        if dry_run {
            let (target, conditions) = backend.verify_plan(&write);
            let verify = VerifyPlan::new(target, snapshot.head.clone(), &write.changes, conditions);
            return Ok(done(Written::DryRun { write, verify }));
        }
        let what = match send(backend, &snapshot, &write, retry, &deadline)? {
            Sent::Landed(commit) => {
                let pull_request = backend.publish(&write).map_err(|e| failed(backend, e))?;
                let missing = backend
                    .verify(&write, commit.as_deref())
                    .map_err(|e| failed(backend, e))?;
                return Ok(done(Written::Done {
                    write,
                    commit,
                    pull_request,
                    missing,
                }));
            }
            Sent::Stale(what) => what,
        };
        if attempts >= retry.max_attempts {
            return Err(CommitError::Attempts { what, attempts });
        }
        let wait = backoff.next_wait();
        if deadline.exceeded_by(wait) {
            return Err(CommitError::Deadline {
                what,
                deadline_secs: deadline.total().as_secs(),
                attempts,
            });
        }
        tracing::warn!(
            what,
            attempt = attempts + 1,
            "{what} changed while writing; re-reading (attempt {} of {})",
            attempts + 1,
            retry.max_attempts
        );
        std::thread::sleep(wait);
    }
}

/// How sending one write ended.
enum Sent {
    /// On the branch, in this commit.
    Landed(Option<String>),
    /// The head moved: re-read and re-plan.
    Stale(String),
}

/// Sends `write`; when the answer is lost, waits, looks for it by its id,
/// and sends it again only while the head is still where it was read.
fn send(
    backend: &mut dyn Backend,
    at: &Snapshot,
    write: &Write,
    retry: RetrySettings,
    deadline: &Deadline,
) -> Result<Sent, CommitError> {
    let mut backoff = Backoff::server();
    let mut last = String::new();
    let mut what = String::new();
    for sends in 1..=retry.max_attempts {
        match backend.write(at, write) {
            Ok(commit) => return Ok(Sent::Landed(commit)),
            Err(BackendError::Stale(what)) => return Ok(Sent::Stale(what)),
            Err(BackendError::Ambiguous { what: w, why }) => {
                let wait = backoff.next_wait();
                if deadline.exceeded_by(wait) {
                    return Err(CommitError::Unanswered {
                        what: w,
                        attempts: sends,
                        last: why,
                    });
                }
                tracing::warn!(
                    what = w,
                    reason = why,
                    "{w}: no answer ({why}); checking whether it landed before writing again"
                );
                std::thread::sleep(wait);
                match backend.landed(write).map_err(|e| failed(backend, e))? {
                    Landed::Yes(oid) => return Ok(Sent::Landed(Some(oid))),
                    Landed::No { head } if head == at.head => {}
                    Landed::No { .. } => {
                        return Ok(Sent::Stale(format!(
                            "{w} (the head moved while the write had no answer)"
                        )));
                    }
                }
                what = w;
                last = why;
            }
            Err(e) => return Err(failed(backend, e)),
        }
    }
    Err(CommitError::Unanswered {
        what,
        attempts: retry.max_attempts,
        last,
    })
}

fn failed(backend: &dyn Backend, error: BackendError) -> CommitError {
    CommitError::Backend {
        backend: backend.describe(),
        error,
    }
}

#[cfg(test)]
mod tests;

//! The write path against the in-memory backend: compare-and-swap misses
//! re-plan from a fresh read, lost answers never make a second commit, and
//! verification failures are reported, not hidden.

use std::time::Duration;

use super::*;
use crate::backend::files::FileSelection;
use crate::backend::memory::Memory;
use crate::backend::{FileChange, Target};

const BEFORE: &str = "image: app:v1\n";

fn files() -> FileSelection {
    FileSelection::new(&[], 1 << 20).expect("valid")
}

fn retry(max_attempts: usize, deadline: Duration) -> RetrySettings {
    RetrySettings {
        max_attempts,
        deadline,
    }
}

/// Plans `app:v1` → `app:v2` in every file that holds it, recording the
/// heads it planned at.
fn bump(
    heads: &mut Vec<Option<String>>,
) -> impl FnMut(&mut Snapshot, &mut HistoryReader<'_>) -> Planned<usize> + '_ {
    move |snapshot: &mut Snapshot, _: &mut HistoryReader<'_>| {
        heads.push(snapshot.head.clone());
        let changes: Vec<FileChange> = snapshot
            .files
            .iter()
            .filter_map(|f| {
                let old = String::from_utf8(f.bytes.clone()).ok()?;
                let new = old.replace("app:v1", "app:v2");
                (new != old).then(|| FileChange {
                    path: f.path.clone(),
                    old,
                    new,
                })
            })
            .collect();
        let n = changes.len();
        let id = format!("id-{}", heads.len());
        let write = (!changes.is_empty()).then(|| Write {
            target: Target::Branch,
            changes,
            message: format!("bump\n\nGitops-Bump-Id: {id}\n"),
            id,
        });
        Planned {
            outcome: n,
            write,
            retire: None,
        }
    }
}

fn done(c: &Committed<usize>) -> (&Option<String>, &Vec<String>) {
    match &c.written {
        Written::Done {
            commit, missing, ..
        } => (commit, missing),
        other => panic!("expected a write, got {other:?}"),
    }
}

#[test]
fn an_uncontended_write_reads_once_and_commits_once() {
    let mut m = Memory::new(&[("a.yaml", BEFORE)]);
    let mut heads = Vec::new();
    let c = run(
        &mut m,
        &files(),
        retry(5, Duration::from_secs(60)),
        false,
        &mut bump(&mut heads),
    )
    .expect("writes");
    assert_eq!((c.attempts, m.reads, m.writes), (1, 1, 1));
    assert_eq!(done(&c), (&Some("c2".to_owned()), &Vec::new()));
    assert_eq!(m.files["a.yaml"], "image: app:v2\n");
}

#[test]
fn a_moved_head_re_reads_and_re_plans_before_writing_again() {
    let mut m = Memory::new(&[("a.yaml", BEFORE)]);
    m.faults.competitors = 2;
    let mut heads = Vec::new();
    let c = run(
        &mut m,
        &files(),
        retry(5, Duration::from_secs(60)),
        false,
        &mut bump(&mut heads),
    )
    .expect("writes");
    assert_eq!(c.attempts, 3);
    // Every round planned at the head it read, never at an old one.
    assert_eq!(
        heads,
        vec![Some("c1".into()), Some("c2".into()), Some("c3".into())]
    );
    assert_eq!(m.log.len(), 4, "two competitors and one write: {:?}", m.log);
    assert_eq!(
        m.files["a.yaml"],
        "image: app:v2\n# competitor\n# competitor\n"
    );
}

#[test]
fn a_head_that_keeps_moving_gives_up_at_the_deadline_or_the_attempts() {
    let mut m = Memory::new(&[("a.yaml", BEFORE)]);
    m.faults.competitors = 100;
    let mut heads = Vec::new();
    let e = run(
        &mut m,
        &files(),
        retry(50, Duration::ZERO),
        false,
        &mut bump(&mut heads),
    )
    .expect_err("deadline");
    assert!(
        matches!(e, CommitError::Deadline { attempts: 1, .. }),
        "{e}"
    );
    let e = run(
        &mut m,
        &files(),
        retry(2, Duration::from_secs(60)),
        false,
        &mut bump(&mut heads),
    )
    .expect_err("attempts");
    assert!(
        matches!(e, CommitError::Attempts { attempts: 2, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("gave up after 2 attempts"), "{e}");
    assert!(
        !m.log.iter().any(|l| l.starts_with("bump")),
        "nothing written: {:?}",
        m.log
    );
}

#[test]
fn a_lost_answer_after_the_write_landed_makes_no_second_commit() {
    let mut m = Memory::new(&[("a.yaml", BEFORE)]);
    m.faults.lost_after = 1;
    let mut heads = Vec::new();
    let c = run(
        &mut m,
        &files(),
        retry(5, Duration::from_secs(60)),
        false,
        &mut bump(&mut heads),
    )
    .expect("writes");
    assert_eq!(done(&c).0.as_deref(), Some("c2"), "found by its id");
    assert_eq!((m.writes, m.log.len()), (1, 2), "{:?}", m.log);
}

#[test]
fn a_lost_answer_before_the_write_sends_it_again_without_re_planning() {
    let mut m = Memory::new(&[("a.yaml", BEFORE)]);
    m.faults.lost_before = 2;
    let mut heads = Vec::new();
    let c = run(
        &mut m,
        &files(),
        retry(5, Duration::from_secs(60)),
        false,
        &mut bump(&mut heads),
    )
    .expect("writes");
    assert_eq!((c.attempts, m.reads, m.writes), (1, 1, 3));
    assert_eq!(m.log.len(), 2);
    let e = {
        let mut m = Memory::new(&[("a.yaml", BEFORE)]);
        m.faults.lost_before = 10;
        run(
            &mut m,
            &files(),
            retry(3, Duration::from_secs(60)),
            false,
            &mut bump(&mut heads),
        )
        .expect_err("never answered")
    };
    assert!(
        matches!(e, CommitError::Unanswered { attempts: 3, .. }),
        "{e}"
    );
}

#[test]
fn a_write_undone_before_verification_is_reported_missing() {
    let mut m = Memory::new(&[("a.yaml", BEFORE)]);
    m.faults.revert_after = true;
    let mut heads = Vec::new();
    let c = run(
        &mut m,
        &files(),
        retry(5, Duration::from_secs(60)),
        false,
        &mut bump(&mut heads),
    )
    .expect("runs");
    assert_eq!(
        done(&c).1,
        &vec!["a.yaml does not hold the new content".to_owned()]
    );
}

#[test]
fn dry_runs_and_empty_plans_write_nothing() {
    let mut m = Memory::new(&[("a.yaml", BEFORE)]);
    let mut heads = Vec::new();
    let c = run(
        &mut m,
        &files(),
        retry(5, Duration::from_secs(60)),
        true,
        &mut bump(&mut heads),
    )
    .expect("plans");
    let Written::DryRun { verify, .. } = &c.written else {
        panic!("{:?}", c.written);
    };
    assert_eq!(verify.checks[0].text, "image: app:v2");
    assert_eq!((m.writes, m.log.len()), (0, 1));
    let mut m = Memory::new(&[("a.yaml", "image: app:v2\n")]);
    let c = run(
        &mut m,
        &files(),
        retry(5, Duration::from_secs(60)),
        false,
        &mut bump(&mut heads),
    )
    .expect("plans");
    assert!(matches!(c.written, Written::Nothing));
    assert_eq!(m.writes, 0);
}

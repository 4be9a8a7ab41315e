//! `sync --apply` asks the registry again right before it writes: the
//! survey's answers are cached across compare-and-swap rounds, so a tag
//! deleted, re-pushed without a required platform, or moved to another
//! digest between the survey and the write must not be written from the
//! cache. Each test loses one compare-and-swap race on purpose (a backend
//! around the real `Local` answers its first write with
//! [`BackendError::Stale`], after changing the real registry), so the
//! second round plans from cached answers and only the recheck can see the
//! change. A control race that changes nothing writes, and costs registry
//! requests a report-only run does not make.
//!
//! Not here: the survey itself (tests/it/sync.rs) and what each pin kind
//! becomes when nothing races (tests/it/sync_apply.rs).

use std::path::Path;

use gitops_bump::backend::files::FileSelection;
use gitops_bump::backend::local::Local;
use gitops_bump::backend::{Backend, BackendError, Snapshot, Write};
use gitops_bump::finding::{FailOn, Severity};
use gitops_bump::report::sync::{ReferenceReport, SyncReport};
use gitops_bump::report::{self, Outcome};

use crate::common::{git, git_init};
use crate::registry_support::{Pushed, Registry, block_on, write};

const BOTH: [&str; 2] = ["linux/amd64", "linux/arm64"];
const DEPLOYMENT: &str = "deploy.yaml";

/// A backend around the real `Local` that loses the first write's
/// compare-and-swap race: before answering [`BackendError::Stale`] it runs
/// `race` (what changes in the registry meanwhile). Later writes go through.
struct Racer<F: FnMut()> {
    inner: Local,
    race: F,
    writes: usize,
}

impl<F: FnMut()> Backend for Racer<F> {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn read(&mut self, files: &FileSelection) -> Result<Snapshot, BackendError> {
        self.inner.read(files)
    }

    fn write(&mut self, at: &Snapshot, write: &Write) -> Result<Option<String>, BackendError> {
        self.writes += 1;
        if self.writes == 1 {
            (self.race)();
            return Err(BackendError::Stale("the branch (a racer)".to_owned()));
        }
        self.inner.write(at, write)
    }

    crate::common::delegate_backend!(inner);
}

/// `sync --dir DIR --insecure-registry HOST EXTRA…` through the library on
/// `backend`: the report, and the exit code `run` would give it.
fn sync(
    dir: &Path,
    host: &str,
    extra: &[&str],
    backend: &mut dyn Backend,
) -> (SyncReport, Outcome) {
    let mut all = vec!["--insecure-registry", host];
    all.extend_from_slice(extra);
    let report = crate::common::sync_check(dir, &all, backend);
    let findings: Vec<_> = (report.references.iter())
        .map(ReferenceReport::finding)
        .chain(report.findings.iter().cloned())
        .collect();
    let code = report::exit_code(&findings, FailOn::Error);
    (report, code)
}

/// The Deployment: `image` on nodes of `kubernetes.io/arch: arm64`.
fn deployment(image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n    spec:\n      nodeSelector:\n        kubernetes.io/arch: arm64\n      containers:\n      - name: app\n        image: {image}\n"
    )
}

/// A Git repository holding the Deployment on `image` and a configuration
/// tracking `HOST/acme/app` by `semver:^1.0`.
fn repository(host: &str, image: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), DEPLOYMENT, &deployment(image));
    write(
        dir.path(),
        ".gitops-bump.yaml",
        &format!("images:\n  - name: {host}/acme/app\n    policy: semver:^1.0\n"),
    );
    git_init(dir.path());
    dir
}

/// A registry with `acme/app` tags 1.0.0 and 1.1.0, each an index of
/// linux/amd64 and linux/arm64: the two indexes.
fn registry() -> (Registry, Pushed, Pushed) {
    let reg = Registry::start();
    let p = reg.pusher();
    let v100 = block_on(p.index("acme/app", "1.0.0", &BOTH, "2024-01-01T00:00:00Z"));
    let v110 = block_on(p.index("acme/app", "1.1.0", &BOTH, "2024-02-01T00:00:00Z"));
    (reg, v100, v110)
}

/// `--apply --commit` on the Git repository `dir` through a [`Racer`]
/// running `race` at the first write: the report, exit code, and how many
/// writes the backend saw.
fn apply_racing(dir: &Path, host: &str, race: impl FnMut()) -> (SyncReport, Outcome, usize) {
    let mut racer = Racer {
        inner: Local::open(dir, true).expect("open"),
        race,
        writes: 0,
    };
    let (report, code) = sync(dir, host, &["--apply", "--commit"], &mut racer);
    (report, code, racer.writes)
}

/// The one reference, in the Deployment.
fn the_reference(report: &SyncReport) -> &ReferenceReport {
    match report.references.as_slice() {
        [r] => {
            assert_eq!(r.file, DEPLOYMENT);
            r
        }
        other => panic!("one reference expected: {other:#?}"),
    }
}

/// The one reference in `file`.
fn reference_in<'r>(report: &'r SyncReport, file: &str) -> &'r ReferenceReport {
    let mut found = report.references.iter().filter(|r| r.file == file);
    match (found.next(), found.next()) {
        (Some(r), None) => r,
        _ => panic!("one reference in {file} expected: {:#?}", report.references),
    }
}

/// What a fix the recheck refused leaves: the file and Git untouched,
/// nothing reported written, an error at the reference naming `needles`,
/// and a failed run after exactly the one (lost) write.
fn assert_not_written(
    dir: &Path,
    before: &str,
    (report, code, writes): &(SyncReport, Outcome, usize),
    needles: &[&str],
) {
    assert_eq!(*writes, 1, "nothing is sent after the lost race");
    assert_eq!(report.attempts, 2, "the lost race made a second round");
    assert_eq!(
        std::fs::read_to_string(dir.join(DEPLOYMENT)).expect("read"),
        before,
        "the file is unchanged"
    );
    assert!(report.updates.is_empty(), "{:#?}", report.updates);
    assert!(!report.changed);
    assert_eq!(report.commit, None);
    assert_eq!(git(dir, &["rev-list", "--count", "HEAD"]), "1", "no commit");
    assert_eq!(
        git(dir, &["status", "--porcelain"]),
        "",
        "a clean work tree"
    );
    let r = the_reference(report);
    assert_eq!(r.severity, Severity::Error, "{r:#?}");
    assert!(
        r.message
            .starts_with("not written: checked again before writing, "),
        "{r:#?}"
    );
    for needle in needles {
        assert!(r.message.contains(needle), "{needle:?} in {r:#?}");
    }
    assert_eq!(*code, Outcome::Failed);
}

#[test]
fn a_tag_deleted_between_the_survey_and_the_write_is_not_written() {
    let (reg, _, v110) = registry();
    let host = reg.host();
    let before = deployment(&format!("{host}/acme/app:1.0.0"));
    let dir = repository(&host, &format!("{host}/acme/app:1.0.0"));
    let delete = || {
        // Deleting the index by digest untags 1.1.0 (storage.delete is on).
        let url = format!("http://{host}/v2/acme/app/manifests/{}", v110.digest);
        let status = block_on(async {
            reqwest::Client::new()
                .delete(&url)
                .send()
                .await
                .expect("DELETE manifest")
                .status()
                .as_u16()
        });
        assert_eq!(status, 202, "DELETE {url}");
    };
    let run = apply_racing(dir.path(), &host, delete);
    assert_eq!(run.0.references[0].selected.as_deref(), Some("1.1.0"));
    assert_not_written(dir.path(), &before, &run, &["1.1.0"]);
}

#[test]
fn a_tag_pushed_again_without_a_required_platform_is_not_written() {
    let (reg, _, _) = registry();
    let host = reg.host();
    let before = deployment(&format!("{host}/acme/app:1.0.0"));
    let dir = repository(&host, &format!("{host}/acme/app:1.0.0"));
    let p = reg.pusher();
    let amd64_only = || {
        block_on(p.index(
            "acme/app",
            "1.1.0",
            &["linux/amd64"],
            "2024-03-01T00:00:00Z",
        ));
    };
    let run = apply_racing(dir.path(), &host, amd64_only);
    let r = the_reference(&run.0);
    assert_eq!(r.platforms, ["linux/arm64"], "the nodeSelector's platform");
    assert_eq!(r.selected.as_deref(), Some("1.1.0"));
    assert_not_written(dir.path(), &before, &run, &["1.1.0", "linux/arm64"]);
}

/// The recheck refuses references, not runs: a workload on amd64 nodes
/// gets 1.1.0 pushed again as amd64-only, in the same commit the arm64
/// workload is left out of.
#[test]
fn only_the_reference_that_fails_the_recheck_is_left_out_of_the_commit() {
    let (reg, _, _) = registry();
    let host = reg.host();
    let dir = repository(&host, &format!("{host}/acme/app:1.0.0"));
    let amd64 = |image: &str| deployment(image).replace("arm64", "amd64");
    write(
        dir.path(),
        "amd64.yaml",
        &amd64(&format!("{host}/acme/app:1.0.0")),
    );
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "an amd64 workload"]);
    let before = deployment(&format!("{host}/acme/app:1.0.0"));
    let p = reg.pusher();
    let (report, code, writes) = apply_racing(dir.path(), &host, || {
        block_on(p.index(
            "acme/app",
            "1.1.0",
            &["linux/amd64"],
            "2024-03-01T00:00:00Z",
        ));
    });
    assert_eq!(writes, 2);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("amd64.yaml")).expect("read"),
        amd64(&format!("{host}/acme/app:1.1.0")),
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join(DEPLOYMENT)).expect("read"),
        before,
        "the arm64 workload is not moved to an amd64-only tag"
    );
    assert_eq!(report.updates.len(), 1, "{:#?}", report.updates);
    assert_eq!(git(dir.path(), &["rev-list", "--count", "HEAD"]), "3");
    let written = reference_in(&report, "amd64.yaml");
    assert_eq!(written.severity, Severity::Notice, "{written:#?}");
    assert!(
        written.message.starts_with("fixed by commit "),
        "{written:#?}"
    );
    let refused = reference_in(&report, DEPLOYMENT);
    assert_eq!(refused.severity, Severity::Error, "{refused:#?}");
    assert!(
        refused
            .message
            .starts_with("not written: checked again before writing, ")
            && refused.message.contains("linux/arm64"),
        "{refused:#?}"
    );
    assert_eq!(code, Outcome::Failed);
}

/// The control of the two above: a race that changes nothing in the
/// registry writes 1.1.0, byte-exactly; and the recheck asks the registry
/// past the cache, so the run makes more requests than a report-only run
/// of the same repository (which asks no recheck).
#[test]
fn a_lost_race_with_the_registry_unchanged_writes_and_asks_again() {
    let (reg, _, _) = registry();
    let host = reg.host();
    let dir = repository(&host, &format!("{host}/acme/app:1.0.0"));
    let (report, code, writes) = apply_racing(dir.path(), &host, || {});
    assert_eq!(writes, 2, "the lost write, then the one that landed");
    assert_eq!(report.attempts, 2);
    assert_eq!(
        std::fs::read_to_string(dir.path().join(DEPLOYMENT)).expect("read"),
        deployment(&format!("{host}/acme/app:1.1.0")),
        "only the tag changed"
    );
    assert_eq!(report.updates.len(), 1, "{:#?}", report.updates);
    assert!(report.changed);
    assert_eq!(git(dir.path(), &["rev-list", "--count", "HEAD"]), "2");
    assert_eq!(
        report.commit.as_deref(),
        Some(git(dir.path(), &["rev-parse", "HEAD"]).as_str())
    );
    let r = the_reference(&report);
    assert_eq!(r.severity, Severity::Notice, "{r:#?}");
    assert!(r.message.starts_with("fixed by commit "), "{r:#?}");
    assert_eq!(code, Outcome::Success);

    let fresh = repository(&host, &format!("{host}/acme/app:1.0.0"));
    let mut local = Local::open(fresh.path(), false).expect("open");
    let (reported, reported_code) = sync(fresh.path(), &host, &[], &mut local);
    assert_eq!(reported_code, Outcome::Failed, "behind is an error");
    assert_eq!(the_reference(&reported).selected.as_deref(), Some("1.1.0"));
    let asked = |r: &SyncReport| {
        r.registry
            .as_ref()
            .expect("the registry was asked")
            .requests
    };
    assert!(
        asked(&report) > asked(&reported),
        "--apply rechecks past the cache: {} requests, report-only {}",
        asked(&report),
        asked(&reported)
    );
}

/// A digest pin moves to the digest the tag has when it is written, not the
/// one the survey cached: 1.1.0 pushed again (a new index) during the race
/// is written with its new index digest.
#[test]
fn an_index_pin_gets_the_digest_the_tag_has_at_the_write() {
    let (reg, v100, v110) = registry();
    let host = reg.host();
    let dir = repository(&host, &format!("{host}/acme/app:1.0.0@{}", v100.digest));
    let p = reg.pusher();
    let mut again = None;
    let (report, code, writes) = apply_racing(dir.path(), &host, || {
        again = Some(block_on(p.index(
            "acme/app",
            "1.1.0",
            &BOTH,
            "2024-03-01T00:00:00Z",
        )));
    });
    let again = again.expect("the race ran");
    assert_ne!(again.digest, v110.digest);
    assert_eq!(writes, 2);
    assert_eq!(
        std::fs::read_to_string(dir.path().join(DEPLOYMENT)).expect("read"),
        deployment(&format!("{host}/acme/app:1.1.0@{}", again.digest)),
        "the index 1.1.0 has now, not the survey's"
    );
    assert_eq!(code, Outcome::Success, "{:#?}", report.references);
}

/// Where the write itself names a digest (`policy: digest` writes the
/// tracked tag's index digest with it), a tag that moved meanwhile fails
/// the recheck: the cached digest is no longer the tag's.
#[test]
fn a_tracked_tag_that_moved_is_not_written_with_the_cached_digest() {
    let reg = Registry::start();
    let host = reg.host();
    let p = reg.pusher();
    let first = block_on(p.index("acme/app", "main", &BOTH, "2024-01-01T00:00:00Z"));
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let before = deployment(&format!("{host}/acme/app:main"));
    write(d, DEPLOYMENT, &before);
    write(
        d,
        ".gitops-bump.yaml",
        &format!("images:\n  - name: {host}/acme/app\n    policy: digest\n    tag: main\n"),
    );
    git_init(d);
    let run = apply_racing(d, &host, || {
        block_on(p.index("acme/app", "main", &BOTH, "2024-02-01T00:00:00Z"));
    });
    assert_eq!(
        run.0.references[0].selected_digest.as_deref(),
        Some(first.digest.as_str()),
        "the survey's digest"
    );
    assert_not_written(d, &before, &run, &["main", &first.digest, "moved"]);
}

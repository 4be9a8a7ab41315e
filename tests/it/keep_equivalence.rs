//! Keep equivalence: `set` with the read-time keep filter
//! (`FileSelection::keep`, built by `discover::file_filter`) reports
//! exactly what it reports when every file is held, over the shared corpus
//! of real manifests. The run without the filter is the same library call
//! on a backend that reads with the filter taken out of the selection, so
//! no user-facing switch exists for it. Skipped with a message when
//! `../shared/corpus` is absent.

use std::collections::BTreeSet;
use std::fs;

use gitops_bump::backend::files::FileSelection;
use gitops_bump::backend::local::Local;
use gitops_bump::backend::{
    Backend, BackendError, FileHistory, Landed, PullRequest, Retire, Snapshot, Write,
};
use gitops_bump::cli::{Cli, Command};
use gitops_bump::manifest::Manifest;
use gitops_bump::plan::{Desired, Pin, Pins};
use gitops_bump::resolve::verify::Resolution;
use gitops_bump::settings::{Env, Settings};

use crate::common::shared;

/// How many target images one `set` run moves: few enough that the filter
/// drops most of the corpus, enough to keep the number of runs small.
const TARGETS_PER_RUN: usize = 20;

/// A local backend that reads with or without the selection's keep
/// filter, and counts what it held and dropped.
struct Counted {
    inner: Local,
    filter: bool,
    held: usize,
    dropped: usize,
}

impl Backend for Counted {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn read(&mut self, files: &FileSelection) -> Result<Snapshot, BackendError> {
        let mut files = files.clone();
        if !self.filter {
            files.keep = None;
        }
        let snapshot = self.inner.read(&files)?;
        self.held += snapshot.files.len();
        self.dropped += snapshot.dropped;
        Ok(snapshot)
    }

    fn write(&mut self, at: &Snapshot, write: &Write) -> Result<Option<String>, BackendError> {
        self.inner.write(at, write)
    }

    fn landed(&mut self, write: &Write) -> Result<Landed, BackendError> {
        self.inner.landed(write)
    }

    fn publish(&mut self, write: &Write) -> Result<Option<PullRequest>, BackendError> {
        self.inner.publish(write)
    }

    fn retire(&mut self, retire: &Retire) -> Result<Option<PullRequest>, BackendError> {
        self.inner.retire(retire)
    }

    fn verify(&mut self, write: &Write, commit: Option<&str>) -> Result<Vec<String>, BackendError> {
        self.inner.verify(write, commit)
    }

    fn verify_plan(&self, write: &Write) -> (String, Vec<String>) {
        self.inner.verify_plan(write)
    }

    fn history(
        &mut self,
        paths: &[String],
        since: i64,
        depth: usize,
    ) -> Result<Option<Vec<FileHistory>>, BackendError> {
        self.inner.history(paths, since, depth)
    }

    fn api_requests(&self) -> Option<u64> {
        self.inner.api_requests()
    }
}

/// `set --no-verify --dry-run --dir DIR TARGETS…` through the library, with
/// or without the keep filter: the JSON document (with the diff) and the
/// findings, and what the backend held and dropped.
fn run_set(dir: &std::path::Path, targets: &[String], filter: bool) -> (String, usize, usize) {
    let argv = ["gitops-bump", "set", "--no-verify", "--dry-run", "--dir"]
        .into_iter()
        .map(str::to_owned)
        .chain([dir.display().to_string()])
        .chain(targets.iter().cloned());
    let cli = <Cli as clap::Parser>::try_parse_from(argv).expect("valid arguments");
    let Command::Set(args) = cli.command else {
        panic!("not set")
    };
    let settings = Settings::resolve(&args, &Env::from_pairs([])).expect("settings");
    let resolution = Resolution {
        targets: settings.targets.clone(),
        ..Resolution::default()
    };
    let mut backend = Counted {
        inner: Local::open(dir, false).expect("open"),
        filter,
        held: 0,
        dropped: 0,
    };
    let mut repin = |_: &[Desired], _: Vec<Pin>| Pins::new();
    let report = gitops_bump::cmd::set::set(&settings, resolution, &mut backend, &mut repin, None)
        .expect("set runs");
    let doc =
        serde_json::to_string_pretty(&gitops_bump::report::json_v1::set(&report)).expect("json");
    let out = format!("{doc}\n{:#?}", report.findings);
    (out, backend.held, backend.dropped)
}

#[test]
fn set_with_the_keep_filter_reports_what_it_reports_holding_every_file() {
    let Some(corpus) = shared("corpus/files") else {
        return;
    };
    // The corpus in a directory of its own: no Git work tree around it,
    // so every file is read, and nothing can change it under the test.
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut repositories = BTreeSet::new();
    let mut files = 0;
    for owner in fs::read_dir(&corpus).expect("corpus") {
        let owner = owner.expect("entry").path();
        for file in fs::read_dir(&owner).expect("corpus owner") {
            let path = file.expect("entry").path();
            let rel = path.strip_prefix(&corpus).expect("inside");
            let to = tmp.path().join(rel);
            fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
            let bytes = fs::read(&path).expect("read");
            fs::write(&to, &bytes).expect("write");
            files += 1;
            // The targets: every repository the engine finds in the corpus.
            let text = String::from_utf8_lossy(&bytes).into_owned();
            if let Ok(m) = Manifest::parse(&rel.to_string_lossy(), text) {
                for site in &m.sites {
                    if let Some(r) = m.image_of(site).repository {
                        repositories.insert(r.to_string());
                    }
                }
            }
        }
    }
    assert!(files >= 100, "a corpus of {files} files");
    assert!(
        repositories.len() >= 20,
        "{} repositories",
        repositories.len()
    );
    let repositories: Vec<String> = repositories.into_iter().collect();
    let (mut dropped_total, mut planned_total) = (0, 0);
    for group in repositories.chunks(TARGETS_PER_RUN) {
        let targets: Vec<String> = group.iter().map(|r| format!("{r}:v99.0.0")).collect();
        let (with, held, dropped) = run_set(tmp.path(), &targets, true);
        let (without, held_all, dropped_none) = run_set(tmp.path(), &targets, false);
        assert_eq!(
            dropped_none, 0,
            "{targets:?}: the unfiltered run drops nothing"
        );
        assert_eq!(
            held + dropped,
            held_all,
            "{targets:?}: every file is counted"
        );
        assert_eq!(
            with, without,
            "{targets:?}: the keep filter changed the result"
        );
        dropped_total += dropped;
        planned_total += with.matches("\"to\": \"v99.0.0\"").count();
    }
    // The comparison had teeth: the filter dropped files, and runs planned changes.
    assert!(dropped_total > 0, "the filter never dropped a file");
    assert!(planned_total > 0, "no run planned a change");
    eprintln!(
        "{} files, {} repositories in {} runs: {dropped_total} files dropped, {planned_total} changes planned, equal with and without the filter",
        files,
        repositories.len(),
        repositories.len().div_ceil(TARGETS_PER_RUN)
    );
}

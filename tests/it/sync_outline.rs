//! `sync` with outlines, against the real distribution registry: files
//! `sync` only reports are read as outlines (`Manifest::outline`), and
//! `--apply` reads whole what it may write. Proves the fallback when a
//! round under `--apply` finds drift to fix in an outline (the file is read
//! whole and the run plans again, writing nothing in between), that
//! outlines change no verdict of a check, and that `--apply` holds a
//! configured image's file whole from the first read. Runs the library's
//! `cmd::sync::check` on a wrapping backend (`Watched`) that records what
//! each read held; does not cover the GitHub backend (the fallback is the
//! same code above `Backend`).

use std::path::Path;

use gitops_bump::backend::files::FileSelection;
use gitops_bump::backend::local::Local;
use gitops_bump::backend::{Backend, BackendError, Snapshot, Write};
use gitops_bump::finding::Severity;
use gitops_bump::manifest::Manifest;
use gitops_bump::report::sync::SyncReport;
use serde_json::Value;

use crate::common::{git, git_init, snapshot};
use crate::registry_support::{Pushed, Registry, block_on, write};

const BOTH: [&str; 2] = ["linux/amd64", "linux/arm64"];

const CONFIG: &str = ".gitops-bump.yaml";

/// What one read of the backend held.
#[derive(Debug)]
struct Seen {
    /// The read was the exact-path read of the configuration (the
    /// pre-read that names the configured repositories).
    config_only: bool,
    /// Paths offered whole.
    files: Vec<String>,
    /// Paths offered as outlines.
    outlines: Vec<String>,
}

/// A local backend that records what every read held, can read without
/// the selection's keep filter (so without outlines), and can make the
/// configuration pre-read see `stale_config` instead of the file on disk
/// (a configuration that changed between that read and the main read).
struct Watched {
    inner: Local,
    filter: bool,
    stale_config: Option<String>,
    seen: Vec<Seen>,
}

impl Watched {
    fn new(dir: &Path, commit: bool) -> Watched {
        Watched {
            inner: Local::open(dir, commit).expect("open"),
            filter: true,
            stale_config: None,
            seen: Vec::new(),
        }
    }

    /// The reads of the manifests (every read but the configuration's).
    fn main_reads(&self) -> Vec<&Seen> {
        self.seen.iter().filter(|s| !s.config_only).collect()
    }
}

impl Backend for Watched {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn read(&mut self, files: &FileSelection) -> Result<Snapshot, BackendError> {
        let config_only = files.exact_paths() == Some(vec![CONFIG.to_owned()]);
        let mut files = files.clone();
        if !self.filter {
            files.keep = None;
        }
        let mut snapshot = self.inner.read(&files)?;
        if config_only
            && self.seen.is_empty()
            && let Some(stale) = &self.stale_config
        {
            let file = (snapshot.files.iter_mut())
                .find(|f| f.path == CONFIG)
                .expect("the pre-read holds the configuration");
            file.bytes = stale.clone().into_bytes();
        }
        let outlines = snapshot
            .outlines
            .iter()
            .map(|o| {
                o.downcast_ref::<Manifest>()
                    .expect("sync's outlines are manifests")
                    .path
                    .clone()
            })
            .collect();
        self.seen.push(Seen {
            config_only,
            files: snapshot.files.iter().map(|f| f.path.clone()).collect(),
            outlines,
        });
        Ok(snapshot)
    }

    fn write(&mut self, at: &Snapshot, write: &Write) -> Result<Option<String>, BackendError> {
        self.inner.write(at, write)
    }

    crate::common::delegate_backend!(inner);
}

/// `sync --dir DIR --insecure-registry HOST --output json ARGS` through the
/// library on `backend` (no docker config is read): the report.
fn run_sync(dir: &Path, host: &str, args: &[&str], backend: &mut Watched) -> SyncReport {
    let mut all = vec!["--insecure-registry", host];
    all.extend_from_slice(args);
    crate::common::sync_check(dir, &all, backend)
}

fn doc(report: &SyncReport) -> Value {
    serde_json::to_value(gitops_bump::report::json_v1::sync(report)).expect("json")
}

/// The reference reported in `file` of `doc`.
fn reference<'a>(doc: &'a Value, file: &str) -> &'a Value {
    doc["references"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["file"] == file))
        .unwrap_or_else(|| panic!("no reference in {file}: {doc:#}"))
}

/// A Deployment running `image`, with `extra` under its pod spec, a
/// comment and odd spacing so a rewrite that is not byte-exact shows.
fn deployment(name: &str, image: &str, extra: &str) -> String {
    format!(
        "# {name}: keep this comment\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}   # spaced\nspec:\n  template:\n    spec:\n{extra}      containers:\n        - name: {name}\n          image: {image}   # the image\n          args: [\"--x\",  'y']\n"
    )
}

/// A registry with `acme/x` at 1.0.0, 1.1.0 and 2.0.0 and `acme/y` at
/// 1.0.0 and 1.1.0 (amd64 and arm64 each), and `acme/m` at 2.0.0 (amd64
/// only): the registry, and the index of `acme/x:1.0.0`.
fn registry() -> (Registry, Pushed) {
    let reg = Registry::start();
    let p = reg.pusher();
    let x1 = block_on(async {
        let x1 = p
            .index("acme/x", "1.0.0", &BOTH, "2024-01-01T00:00:00Z")
            .await;
        p.index("acme/x", "1.1.0", &BOTH, "2024-02-01T00:00:00Z")
            .await;
        p.index("acme/x", "2.0.0", &BOTH, "2024-03-01T00:00:00Z")
            .await;
        p.index("acme/y", "1.0.0", &BOTH, "2024-01-01T00:00:00Z")
            .await;
        p.index("acme/y", "1.1.0", &BOTH, "2024-02-01T00:00:00Z")
            .await;
        p.index("acme/m", "2.0.0", &["linux/amd64"], "2024-03-01T00:00:00Z")
            .await;
        x1
    });
    (reg, x1)
}

/// The configuration naming `acme/y`, and with `with_x` also `acme/x`
/// under `semver:^1.0`.
fn config(host: &str, with_x: bool) -> String {
    let mut text = format!("images:\n  - name: {host}/acme/y\n    policy: semver:^1\n");
    if with_x {
        text.push_str(&format!(
            "  - name: {host}/acme/x\n    policy: semver:^1.0\n"
        ));
    }
    text
}

/// A repository where `apps/x.yaml` runs `acme/x:1.0.0` (behind once the
/// configuration names it) and `apps/y.yaml` runs `acme/y:1.0.0` (behind,
/// and named by either configuration, so held whole from the first read),
/// under the configuration that names both: the directory and the two
/// files' texts.
fn drifted(host: &str) -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let x = deployment("x", &format!("{host}/acme/x:1.0.0"), "");
    let y = deployment("y", &format!("{host}/acme/y:1.0.0"), "");
    write(d, "apps/x.yaml", &x);
    write(d, "apps/y.yaml", &y);
    write(d, CONFIG, &config(host, true));
    (dir, x, y)
}

/// `text` with `image`'s tag 1.0.0 moved to 1.1.0, nothing else.
fn moved(text: &str, image: &str) -> String {
    let want = text.replace(&format!("{image}:1.0.0"), &format!("{image}:1.1.0"));
    assert_ne!(want, text);
    want
}

/// The `updates` of `doc` as (file, from, to), sorted.
fn updates(doc: &Value) -> Vec<(String, String, String)> {
    let mut out: Vec<_> = doc["updates"]
        .as_array()
        .expect("updates")
        .iter()
        .map(|u| {
            let s = |k: &str| u[k].as_str().unwrap_or_default().to_owned();
            (s("file"), s("from"), s("to"))
        })
        .collect();
    out.sort();
    out
}

/// Both fixes of [`drifted`], as [`updates`] lists them.
fn both_fixed() -> Vec<(String, String, String)> {
    ["apps/x.yaml", "apps/y.yaml"]
        .iter()
        .map(|f| ((*f).to_owned(), "1.0.0".to_owned(), "1.1.0".to_owned()))
        .collect()
}

/// The errors among the report's findings (not its references).
fn errors(report: &SyncReport) -> Vec<String> {
    report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| format!("{f:?}"))
        .collect()
}

/// Asserts the first main read held `apps/x.yaml` as an outline (the
/// stale pre-read did not name `acme/x`) and `apps/y.yaml` whole (so the
/// first round had its fix to write), and the last read both whole.
fn assert_read_as_outline_then_whole(backend: &Watched) {
    let main = backend.main_reads();
    assert!(
        main.len() >= 2,
        "the outline holding drift was read again: {:#?}",
        backend.seen
    );
    let (first, last) = (main[0], main[main.len() - 1]);
    assert!(
        first.outlines.iter().any(|p| p == "apps/x.yaml")
            && first.files.iter().any(|p| p == "apps/y.yaml"),
        "first read: {first:#?}"
    );
    for path in ["apps/x.yaml", "apps/y.yaml"] {
        assert!(
            last.files.iter().any(|p| p == path) && !last.outlines.iter().any(|p| p == path),
            "{path} in the last read: {last:#?}"
        );
    }
}

// The pre-read of the configuration (which decides which files `--apply`
// holds whole) saw an older configuration than the main read: the file of
// the image the newer one adds was outlined although it holds drift to
// fix. The round that finds it writes nothing (not even the fix of the
// file it held whole), the file is read whole, and the next round fixes
// both: with `--commit`, in one commit.
#[test]
fn apply_reads_whole_an_outline_holding_drift_and_fixes_it_in_one_commit() {
    let (reg, _) = registry();
    let host = reg.host();
    let (dir, x, y) = drifted(&host);
    let d = dir.path();
    git_init(d);
    let mut backend = Watched::new(d, true);
    backend.stale_config = Some(config(&host, false));
    let report = run_sync(d, &host, &["--apply", "--commit"], &mut backend);
    let doc = doc(&report);

    assert_read_as_outline_then_whole(&backend);
    let read = |rel: &str| std::fs::read_to_string(d.join(rel)).expect("read");
    assert_eq!(
        read("apps/x.yaml"),
        moved(&x, &format!("{host}/acme/x")),
        "only the tag changed: {doc:#}"
    );
    assert_eq!(read("apps/y.yaml"), moved(&y, &format!("{host}/acme/y")));
    assert_eq!(updates(&doc), both_fixed(), "{doc:#}");
    assert_eq!(doc["changed"], true);
    assert!(errors(&report).is_empty(), "{:#?}", report.findings);
    for file in ["apps/x.yaml", "apps/y.yaml"] {
        let fixed = reference(&doc, file);
        assert_eq!(fixed["severity"], "notice", "{doc:#}");
        assert!(
            fixed["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("fixed by commit ")),
            "{fixed}"
        );
    }
    // One commit of both files (the failed round committed nothing), and
    // the work tree is that commit.
    assert_eq!(git(d, &["rev-list", "--count", "HEAD"]), "2");
    assert_eq!(
        git(d, &["diff", "--name-only", "HEAD~1", "HEAD"]),
        "apps/x.yaml\napps/y.yaml"
    );
    assert_eq!(git(d, &["status", "--porcelain"]), "");
    assert_eq!(
        report.commit.as_deref(),
        Some(git(d, &["rev-parse", "HEAD"]).as_str())
    );
}

// The same under `--apply --dry-run`: the diff of both fixes, nothing
// written.
#[test]
fn apply_dry_run_reads_whole_an_outline_holding_drift_and_shows_the_diff() {
    let (reg, _) = registry();
    let host = reg.host();
    let (dir, _, _) = drifted(&host);
    let d = dir.path();
    let before = snapshot(d);
    let mut backend = Watched::new(d, false);
    backend.stale_config = Some(config(&host, false));
    let report = run_sync(d, &host, &["--apply", "--dry-run"], &mut backend);
    let doc = doc(&report);

    assert_read_as_outline_then_whole(&backend);
    assert_eq!(before, snapshot(d), "--dry-run writes nothing");
    let diff = report.diff.as_deref().unwrap_or_default();
    let changed: Vec<&str> = diff
        .lines()
        .filter(|l| l.starts_with(['-', '+']) && !l.starts_with("---") && !l.starts_with("+++"))
        .collect();
    assert_eq!(
        changed,
        [
            format!("-          image: {host}/acme/x:1.0.0   # the image"),
            format!("+          image: {host}/acme/x:1.1.0   # the image"),
            format!("-          image: {host}/acme/y:1.0.0   # the image"),
            format!("+          image: {host}/acme/y:1.1.0   # the image"),
        ],
        "only the image lines: {diff}"
    );
    assert!(diff.contains("apps/x.yaml"), "{diff}");
    assert_eq!(updates(&doc), both_fixed(), "{doc:#}");
    assert_eq!(
        (doc["changed"].as_bool(), doc["dry_run"].as_bool()),
        (Some(true), Some(true))
    );
    assert!(errors(&report).is_empty(), "{:#?}", report.findings);
}

// Without `--apply` every reference of a plain workload is reported from
// an outline: the verdicts that read more than the tag (a pin comment, a
// node selector, a digest, a value that is not a reference) are the ones
// a whole file gives.
#[test]
fn check_reports_from_outlines_what_it_reports_from_whole_files() {
    let (reg, x1) = registry();
    let host = reg.host();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let arm64 = "      nodeSelector: {kubernetes.io/arch: arm64}\n";
    let files = [
        (
            "pinned/app.yaml",
            deployment(
                "pinned",
                &format!("{host}/acme/x:1.0.0 # gitops-bump:ignore"),
                "",
            ),
        ),
        (
            "arm/app.yaml",
            deployment("arm", &format!("{host}/acme/m:2.0.0"), arm64),
        ),
        (
            "digest/app.yaml",
            deployment("digest", &format!("{host}/acme/x:1.0.0@{}", x1.digest), ""),
        ),
        (
            "template/app.yaml",
            deployment("template", "\"{{ .Values.image }}\"", ""),
        ),
    ];
    for (path, text) in &files {
        write(d, path, text);
    }
    write(
        d,
        CONFIG,
        &format!(
            "images:\n  - name: {host}/acme/x\n    policy: semver:^1.0\n  - name: {host}/acme/m\n    policy: semver:*\n"
        ),
    );
    let mut outlined = Watched::new(d, false);
    let with = doc(&run_sync(d, &host, &[], &mut outlined));
    let mut whole = Watched::new(d, false);
    whole.filter = false;
    let without = doc(&run_sync(d, &host, &[], &mut whole));

    // The comparison has teeth: each file was an outline in the checked
    // run, none in the other.
    let main = outlined.main_reads();
    assert_eq!(main.len(), 1, "{:#?}", outlined.seen);
    for (path, _) in &files {
        assert!(
            main[0].outlines.iter().any(|p| p == path),
            "{path} outlined: {:#?}",
            main[0]
        );
    }
    assert!(main[0].outlines.len() >= files.len());
    assert!(
        whole.main_reads().iter().all(|s| s.outlines.is_empty()),
        "{:#?}",
        whole.seen
    );
    // The verdicts that matter.
    let pinned = reference(&with, "pinned/app.yaml");
    assert_eq!(pinned["verdict"], "blocked", "{with:#}");
    assert!(
        pinned["message"]
            .as_str()
            .is_some_and(|m| m.contains("gitops-bump:ignore")),
        "{pinned}"
    );
    let arm = reference(&with, "arm/app.yaml");
    assert_eq!(
        (arm["verdict"].as_str(), arm["severity"].as_str()),
        (Some("missing-platform"), Some("error")),
        "{with:#}"
    );
    assert_eq!(arm["platforms"], serde_json::json!(["linux/arm64"]));
    assert!(
        arm["message"]
            .as_str()
            .is_some_and(|m| m.contains("linux/arm64")),
        "{arm}"
    );
    let digest = reference(&with, "digest/app.yaml");
    assert_eq!(
        (
            digest["current"].as_str(),
            digest["current_digest"].as_str(),
            digest["selected"].as_str(),
            digest["verdict"].as_str()
        ),
        (
            Some("1.0.0"),
            Some(x1.digest.as_str()),
            Some("1.1.0"),
            Some("behind")
        ),
        "{with:#}"
    );
    let template = reference(&with, "template/app.yaml");
    assert_eq!(template["verdict"], "unchecked", "{with:#}");
    assert!(
        template["message"]
            .as_str()
            .is_some_and(|m| m.contains("{{ .Values.image }}")),
        "{template}"
    );
    assert_eq!(
        with, without,
        "outlines changed the report:\n{with:#}\n{without:#}"
    );
}

// Under `--apply`, the file of an image the configuration names is held
// whole from the first read (it may be written), while a file only
// reported stays an outline; the fix needs no second read.
#[test]
fn apply_holds_a_configured_images_file_whole_from_the_first_read() {
    let (reg, _) = registry();
    let host = reg.host();
    let (dir, x, y) = drifted(&host);
    let d = dir.path();
    // Governed by the default policy alone: reported, never written
    // without --default-policy, so an outline.
    write(
        d,
        "other/app.yaml",
        &deployment("other", &format!("{host}/acme/m:2.0.0"), ""),
    );
    let mut backend = Watched::new(d, false);
    let report = run_sync(d, &host, &["--apply"], &mut backend);
    let doc = doc(&report);

    let main = backend.main_reads();
    assert_eq!(main.len(), 1, "no second read: {:#?}", backend.seen);
    for seen in &main {
        assert!(
            seen.files.iter().any(|p| p == "apps/x.yaml")
                && !seen.outlines.iter().any(|p| p == "apps/x.yaml"),
            "apps/x.yaml whole: {seen:#?}"
        );
        assert!(
            seen.outlines.iter().any(|p| p == "other/app.yaml"),
            "a file only reported is an outline: {seen:#?}"
        );
    }
    let read = |rel: &str| std::fs::read_to_string(d.join(rel)).expect("read");
    assert_eq!(read("apps/x.yaml"), moved(&x, &format!("{host}/acme/x")));
    assert_eq!(read("apps/y.yaml"), moved(&y, &format!("{host}/acme/y")));
    assert_eq!(updates(&doc), both_fixed(), "{doc:#}");
    assert!(errors(&report).is_empty(), "{:#?}", report.findings);

    // `--default-policy none` is explicit but writes nothing: the file it
    // leaves unchecked stays an outline under --apply too.
    write(
        d,
        "other/app.yaml",
        &deployment("other", &format!("{host}/acme/m:1.0.0"), ""),
    );
    let mut backend = Watched::new(d, false);
    run_sync(
        d,
        &host,
        &["--apply", "--default-policy", "none"],
        &mut backend,
    );
    assert!(
        backend
            .main_reads()
            .iter()
            .all(|seen| seen.outlines.iter().any(|p| p == "other/app.yaml")),
        "--default-policy none held a file it cannot write: {:#?}",
        backend.seen
    );
}

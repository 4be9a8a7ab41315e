//! Keep equivalence: `set` with the read-time keep filter
//! (`FileSelection::keep`, built by `discover::file_filter`), and `sync`
//! with the outlines it keeps of files it only reports
//! (`Manifest::outline`), report exactly what they report when every file
//! is held whole, over the shared corpus of real manifests. The run without the filter is the same library call
//! on a backend that reads with the filter taken out of the selection, so
//! no user-facing switch exists for it. Skipped with a message when
//! `../shared/corpus` is absent.

use std::collections::BTreeSet;
use std::fs;

use gitops_bump::backend::files::FileSelection;
use gitops_bump::backend::local::Local;
use gitops_bump::backend::{Backend, BackendError, Snapshot, Write};
use gitops_bump::cli::{Cli, Command};
use gitops_bump::manifest::{Dialect, EditError, Manifest, Shape, Site};
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
    outlined: usize,
}

impl Counted {
    /// A local backend on `dir`, reading with the keep filter or without.
    fn new(dir: &std::path::Path, filter: bool) -> Counted {
        Counted {
            inner: Local::open(dir, false).expect("open"),
            filter,
            held: 0,
            dropped: 0,
            outlined: 0,
        }
    }
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
        self.outlined += snapshot.outlines.len();
        Ok(snapshot)
    }

    fn write(&mut self, at: &Snapshot, write: &Write) -> Result<Option<String>, BackendError> {
        self.inner.write(at, write)
    }

    crate::common::delegate_backend!(inner);
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
    let mut backend = Counted::new(dir, filter);
    let mut repin = |_: &[Desired], _: Vec<Pin>| Pins::new();
    let report = gitops_bump::cmd::set::set(&settings, resolution, &mut backend, &mut repin, None)
        .expect("set runs");
    let doc =
        serde_json::to_string_pretty(&gitops_bump::report::json_v1::set(&report)).expect("json");
    let out = format!("{doc}\n{:#?}", report.findings);
    (out, backend.held, backend.dropped)
}

/// The shared corpus copied into a directory of its own (no Git work tree
/// around it, so every file is read, and nothing can change it under the
/// test): the directory, each file's relative path and text.
fn corpus_copy(corpus: &std::path::Path) -> (tempfile::TempDir, Vec<(String, String)>) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut files = Vec::new();
    for owner in fs::read_dir(corpus).expect("corpus") {
        let owner = owner.expect("entry").path();
        for file in fs::read_dir(&owner).expect("corpus owner") {
            let path = file.expect("entry").path();
            let rel = path.strip_prefix(corpus).expect("inside");
            let to = tmp.path().join(rel);
            fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
            let bytes = fs::read(&path).expect("read");
            fs::write(&to, &bytes).expect("write");
            let text = String::from_utf8_lossy(&bytes).into_owned();
            files.push((rel.to_string_lossy().into_owned(), text));
        }
    }
    (tmp, files)
}

#[test]
fn set_with_the_keep_filter_reports_what_it_reports_holding_every_file() {
    let Some(corpus) = shared("corpus/files") else {
        return;
    };
    let (tmp, texts) = corpus_copy(&corpus);
    let files = texts.len();
    // The targets: every repository the engine finds in the corpus.
    let mut repositories = BTreeSet::new();
    for (rel, text) in texts {
        if let Ok(m) = Manifest::parse(&rel, text) {
            for site in &m.sites {
                if let Some(r) = m.image_of(site).repository {
                    repositories.insert(r.to_string());
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

/// `sync --dir DIR --default-policy none --output json` through the
/// library, with or without the keep filter (and so the outlines): the
/// JSON document, and how many files the backend held and outlined. With
/// no policy the registry is never asked, so only loopback is touched.
fn run_sync(dir: &std::path::Path, filter: bool) -> (String, usize, usize) {
    let mut backend = Counted::new(dir, filter);
    let report = crate::common::sync_check(dir, &["--default-policy", "none"], &mut backend);
    let doc =
        serde_json::to_string_pretty(&gitops_bump::report::json_v1::sync(&report)).expect("json");
    (doc, backend.held, backend.outlined)
}

#[test]
fn sync_with_outlines_reports_what_it_reports_holding_every_file() {
    let Some(corpus) = shared("corpus/files") else {
        return;
    };
    let (tmp, _) = corpus_copy(&corpus);
    let (with, held, outlined) = run_sync(tmp.path(), true);
    let (without, held_all, outlined_none) = run_sync(tmp.path(), false);
    assert_eq!(outlined_none, 0, "the unfiltered run outlines nothing");
    // The comparison has teeth: most files were outlines, and the report
    // names hundreds of references.
    assert!(
        outlined > held,
        "{outlined} outlined, {held} held whole of {held_all}"
    );
    let references = with.matches("\"dialect\"").count();
    assert!(references > 500, "{references} references reported");
    assert!(with == without, "the outlines changed the report");
    eprintln!(
        "{held_all} files: {outlined} outlined, {held} held whole; {references} references reported alike"
    );
}

/// Every read-only answer about `site` of `m`, as text: what the report,
/// the trackers and the readers ask of a site. With `paths`, the keys
/// above its scalars too (an outline of containers' `image:` alone keeps
/// none: no reader asks them).
fn answers(m: &Manifest, site: &Site, paths: bool) -> String {
    let s = &m.stream;
    // Each slot and name: its value, position, and the keys on its path.
    let path = |n: usize| {
        let mut keys = Vec::new();
        let mut at = n;
        for up in s.ancestors(n).filter(|_| paths) {
            match s.key_of(at) {
                Some(k) => keys.push(s.scalar(k).unwrap_or("?").to_owned()),
                None => keys.push(format!(
                    "[{}]",
                    s.items(up)
                        .iter()
                        .position(|&i| i == at)
                        .map_or(-1, |i| i as i64)
                )),
            }
            // The scalar fields next to it (a Helm parameter's `name:`).
            for (k, v) in s.entries(up) {
                if let (Some(k), Some(v)) = (s.scalar(*k), s.scalar(*v)) {
                    keys.push(format!("{k}={v}"));
                }
            }
            at = up;
        }
        format!("{:?} {:?} {keys:?}", s.scalar(n), m.node_position(n))
    };
    let nodes: Vec<String> = site
        .slots()
        .iter()
        .chain(&site.names)
        .map(|&n| path(n))
        .collect();
    format!(
        "{:?} doc {} {:?} line {} pinned {} platforms {:?} unfit {:?} marker {:?} {nodes:?}",
        site.dialect,
        site.doc,
        m.image_of(site),
        m.site_line(site),
        m.is_pinned(site),
        m.platforms(site),
        site.unfit,
        site.marker,
    )
}

/// Manifests the corpus lacks: pins, node selectors, affinity, Helm
/// parameters, kustomize images, several documents, CRLF.
const OUTLINE_CASES: &[(&str, &str)] = &[
    (
        "pinned.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: a\nspec:\n  template:\n    spec:\n      nodeSelector:\n        kubernetes.io/arch: arm64\n      containers:\n        - name: a\n          image: ghcr.io/acme/a:1.0.0 # gitops-bump:ignore\n        - name: b\n          image: ghcr.io/acme/b:2.0.0\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  affinity:\n    nodeAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n        nodeSelectorTerms:\n          - matchExpressions:\n              - key: kubernetes.io/arch\n                operator: In\n                values: [amd64, arm64]\n  containers:\n    - name: c\n      image: \"ghcr.io/acme/c:3.0.0\"\n",
    ),
    (
        "crlf.yaml",
        "apiVersion: batch/v1\r\nkind: CronJob\r\nspec:\r\n  jobTemplate:\r\n    spec:\r\n      template:\r\n        spec:\r\n          nodeSelector: {kubernetes.io/arch: arm64}\r\n          containers:\r\n            - {name: x, image: 'docker.io/library/nginx:1.25@sha256:0000000000000000000000000000000000000000000000000000000000000000'}\r\n",
    ),
    (
        "kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nimages:\n  - name: ghcr.io/acme/a\n    newTag: 1.2.3\n  - name: ghcr.io/acme/b\n    newName: ghcr.io/acme/b2\n    newTag: 0.1.0 # gitops-bump:ignore\n  - name: ghcr.io/acme/c\n    newTag: 2.0.0\n    digest: sha256:1111111111111111111111111111111111111111111111111111111111111111\npatches:\n  - path: arch.yaml # sets kubernetes.io/arch: arm64\n",
    ),
    (
        "values.yaml",
        "image:\n  registry: ghcr.io\n  repository: acme/api\n  tag: 1.4.0\nnodeSelector:\n  kubernetes.io/arch: arm64\nsidecar:\n  image:\n    repository: ghcr.io/acme/side\n    tag: \"\"\n",
    ),
    (
        ".argocd-source-app.yaml",
        "helm:\n  parameters:\n    - name: image.tag\n      value: 1.2.0\n      forcestring: true\n    - name: image.repository\n      value: ghcr.io/acme/api\n",
    ),
];

#[test]
fn outlines_answer_every_site_query_as_the_whole_file() {
    let mut texts: Vec<(String, String)> = OUTLINE_CASES
        .iter()
        .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
        .collect();
    let corpus = shared("corpus/files").map(|c| corpus_copy(&c));
    if let Some((_, files)) = &corpus {
        texts.extend(files.iter().cloned());
    }
    let (mut outlined, mut refused, mut sites, mut pinned, mut platformed) = (0, 0, 0, 0, 0);
    for (path, text) in texts {
        let Ok(whole) = Manifest::parse(&path, text.clone()) else {
            continue;
        };
        if whole.sites.is_empty() {
            continue;
        }
        let paths = !whole.sites.iter().all(|s| {
            s.dialect == Dialect::Workload
                && matches!(s.shape, Shape::Full { .. })
                && s.names.is_empty()
        });
        let want: Vec<String> = whole
            .sites
            .iter()
            .map(|s| answers(&whole, s, paths))
            .collect();
        let arch_lines = |t: &str| {
            t.lines()
                .enumerate()
                .filter(|(_, l)| l.contains("kubernetes.io/arch"))
                .map(|(i, l)| format!("{i}:{l}"))
                .collect::<Vec<_>>()
        };
        let outline = whole.outline();
        if !outline.is_outline() {
            // Given back whole: markers, skipped blocks, aliases, embeds.
            assert!(
                !OUTLINE_CASES.iter().any(|(p, _)| *p == path),
                "{path}: not outlined"
            );
            refused += 1;
            continue;
        }
        let got: Vec<String> = outline
            .sites
            .iter()
            .map(|s| answers(&outline, s, paths))
            .collect();
        assert_eq!(got, want, "{path}: the outline answers differently");
        assert_eq!(arch_lines(&outline.text), arch_lines(&text), "{path}");
        assert!(
            outline.text.len() < text.len() || text.len() < 64,
            "{path}: the outline keeps the text"
        );
        assert!(
            matches!(outline.apply(&[]), Err(EditError::Outline)),
            "{path}: an outline was edited"
        );
        outlined += 1;
        sites += want.len();
        pinned += want.iter().filter(|w| w.contains("pinned true")).count();
        platformed += outline
            .sites
            .iter()
            .filter(|s| !outline.platforms(s).is_empty())
            .count();
    }
    assert!(outlined >= OUTLINE_CASES.len(), "{outlined} outlined");
    assert!(
        pinned >= 2 && platformed >= 3,
        "{pinned} pinned, {platformed} with platforms"
    );
    eprintln!(
        "{outlined} files outlined alike ({sites} sites, {pinned} pinned, {platformed} with platforms), {refused} kept whole"
    );
}

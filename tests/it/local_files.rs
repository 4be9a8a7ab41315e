//! Which files `set --dir` reads, and what it keeps of those it cannot:
//! ignore rules (only the repository's own `.gitignore` files, never a
//! person's `.ignore`, `.git/info/exclude` or global excludes, and never for
//! a path `--files` names), UTF-16 manifests, and files that cannot be read
//! as manifests but hold the target. Real git repositories, a real global
//! excludes file (through `HOME`/`XDG_CONFIG_HOME`), the real binary. See:
//! issue #13.

use std::fs;
use std::path::Path;

use gitops_bump::backend::files::{Encoding, FileSelection};
use gitops_bump::backend::local::Local;
use gitops_bump::backend::{Backend, SkippedContent};

use crate::common::{git, git_init, gitops_bump};

const OLD: &str = "ghcr.io/acme/backend:v1.3.0";
const NEW: &str = "ghcr.io/acme/backend:v1.4.0";

fn pod(image: &str) -> String {
    format!("apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: app\n    image: {image}\n")
}

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(path, text).expect("write");
}

fn holds(dir: &Path, rel: &str, image: &str) -> bool {
    fs::read_to_string(dir.join(rel))
        .expect("read")
        .contains(image)
}

fn selection(patterns: &[&str], max: u64) -> FileSelection {
    let patterns: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
    FileSelection::new(&patterns, max).expect("valid")
}

/// A repository whose manifests are hidden, one by each kind of ignore
/// rule, and two home directories a run may see: one whose `.gitconfig`
/// names a `core.excludesFile`, one with the XDG default
/// `$XDG_CONFIG_HOME/git/ignore` (read only when no `core.excludesFile` is set).
fn ignore_fixture() -> (tempfile::TempDir, [tempfile::TempDir; 2]) {
    let repo = tempfile::tempdir().expect("tempdir");
    let r = repo.path();
    for f in [
        "kept.yaml",
        "untracked.yaml",
        "build/rendered.yaml",
        "tracked-but-ignored.yaml",
        "dot-ignore.yaml",
        "info-exclude.yaml",
        "xdg-global.yaml",
        "home-global.yaml",
        "global-untracked.yaml",
        "apps/x.rendered.yaml",
        "apps/app.yaml",
    ] {
        write(r, f, &pod(OLD));
    }
    write(
        r,
        ".gitignore",
        "build/\ntracked-but-ignored.yaml\n*.rendered.yaml\n",
    );
    write(r, ".ignore", "dot-ignore.yaml\n");
    git(r, &["init", "-q", "-b", "main"]);
    git(
        r,
        &[
            "add",
            ".gitignore",
            ".ignore",
            "kept.yaml",
            "dot-ignore.yaml",
            "info-exclude.yaml",
            "xdg-global.yaml",
            "home-global.yaml",
            "apps/app.yaml",
        ],
    );
    git(r, &["add", "-f", "tracked-but-ignored.yaml"]);
    git(r, &["commit", "-q", "-m", "initial"]);
    write(
        r,
        ".git/info/exclude",
        "info-exclude.yaml\nuntracked.yaml\n",
    );
    let excludes_file = tempfile::tempdir().expect("tempdir");
    let h = excludes_file.path();
    write(
        h,
        "excludes",
        "home-global.yaml\napps/\nglobal-untracked.yaml\n",
    );
    write(
        h,
        ".gitconfig",
        &format!(
            "[core]\n\texcludesFile = {}\n",
            h.join("excludes").display()
        ),
    );
    let xdg = tempfile::tempdir().expect("tempdir");
    write(
        xdg.path(),
        "xdg/git/ignore",
        "xdg-global.yaml\nkept.yaml\nglobal-untracked.yaml\n",
    );
    (repo, [excludes_file, xdg])
}

fn set_in(repo: &Path, home: &Path, extra: &[&str]) -> crate::common::Run {
    gitops_bump()
        .env("HOME", &home.display().to_string())
        .env("XDG_CONFIG_HOME", &home.join("xdg").display().to_string())
        .args(["set", "--no-verify", "--dir"])
        .args([repo])
        .args(extra)
        .args([NEW])
        .run()
}

/// The files a dry run would update.
fn would_update(repo: &Path, home: &Path) -> Vec<String> {
    let r = set_in(repo, home, &["--dry-run", "--output", "json"]);
    assert_eq!(r.code, 0, "{r:?}");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    let mut files: Vec<String> = v["planned"]
        .as_array()
        .expect("planned")
        .iter()
        .map(|u| u["file"].as_str().expect("file").to_owned())
        .collect();
    files.sort();
    files
}

#[test]
fn issue_13_only_the_repositorys_gitignore_hides_manifests() {
    // See: issue #13. `.ignore`, `.git/info/exclude` and the user's global
    // excludes hid manifests, so the result depended on who ran the tool.
    let (repo, homes) = ignore_fixture();
    for home in &homes {
        // The personal rules are real: git itself applies them.
        let status = git_status_as(repo.path(), home.path());
        assert!(!status.contains("global-untracked.yaml"), "{status}");
        assert_eq!(
            would_update(repo.path(), home.path()),
            [
                "apps/app.yaml",
                "dot-ignore.yaml",
                "global-untracked.yaml",
                "home-global.yaml",
                "info-exclude.yaml",
                "kept.yaml",
                "tracked-but-ignored.yaml",
                "untracked.yaml",
                "xdg-global.yaml",
            ],
            "with HOME {}",
            home.path().display()
        );
    }
    // The ones .gitignore hides are counted, as a note, in every output.
    let r = set_in(
        repo.path(),
        homes[0].path(),
        &["--dry-run", "--output", "json"],
    );
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    let ignored: Vec<&serde_json::Value> = v["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .filter(|p| {
            p["message"]
                .as_str()
                .is_some_and(|m| m.contains(".gitignore"))
        })
        .collect();
    assert_eq!(ignored.len(), 1, "{v:#}");
    assert!(
        ignored[0]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("2 file(s) the selection matches are ignored by the repository's .gitignore and were not read, e.g. apps/x.rendered.yaml;")),
        "{v:#}"
    );
    let sync = gitops_bump()
        .env("HOME", &homes[0].path().display().to_string())
        .args(["sync", "--default-policy", "none", "--dir"])
        .args([repo.path()])
        .run();
    assert!(
        sync.stdout
            .contains("2 file(s) the selection matches are ignored")
            || sync
                .stderr
                .contains("2 file(s) the selection matches are ignored"),
        "{sync:?}"
    );
    let summary = tempfile::NamedTempFile::new().expect("summary file");
    let r = gitops_bump()
        .env("HOME", &homes[0].path().display().to_string())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary.path().display().to_string())
        .args(["set", "--no-verify", "--dry-run", "--dir"])
        .args([repo.path()])
        .args([NEW])
        .run();
    assert_eq!(r.code, 0, "{r:?}");
    let text = std::fs::read_to_string(summary.path()).expect("summary");
    assert!(
        text.contains("- note: 2 file(s) the selection matches are ignored"),
        "{text}"
    );
    let r = set_in(repo.path(), homes[0].path(), &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr.contains(
            "note: 2 file(s) the selection matches are ignored by the repository's .gitignore"
        ),
        "{}",
        r.stderr
    );
    assert!(holds(repo.path(), "kept.yaml", NEW));
    for hidden in ["build/rendered.yaml", "apps/x.rendered.yaml"] {
        assert!(holds(repo.path(), hidden, OLD), "{hidden} was read");
    }
}

/// `git status --porcelain` as the user with `home` sees it.
fn git_status_as(repo: &Path, home: &Path) -> String {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["status", "--porcelain", "--untracked-files=all"])
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("xdg"))
        .output()
        .expect("git runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn issue_13_a_path_named_by_files_is_never_hidden() {
    // See: issue #13.
    let (repo, homes) = ignore_fixture();
    let r = set_in(
        repo.path(),
        homes[0].path(),
        &["--files", "build/rendered.yaml", "--files", "kept.yaml"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(holds(repo.path(), "build/rendered.yaml", NEW), "{r:?}");
    assert!(holds(repo.path(), "kept.yaml", NEW));
    assert!(holds(repo.path(), "apps/app.yaml", OLD), "not selected");
}

#[test]
fn issue_13_ignored_files_are_counted_and_the_result_is_the_same_for_everyone() {
    // See: issue #13. The count lets the report say "N files ignored by
    // .gitignore"; a parent directory's .gitignore applies under --dir.
    let (repo, _homes) = ignore_fixture();
    let mut local = Local::open(repo.path(), false).expect("open");
    let snap = local.read(&selection(&[], 1 << 20)).expect("read");
    assert_eq!(
        snap.ignored,
        ["apps/x.rendered.yaml", "build/rendered.yaml"],
        "sorted, selected paths only"
    );
    let read: Vec<&str> = snap.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        read,
        [
            "apps/app.yaml",
            "dot-ignore.yaml",
            "global-untracked.yaml",
            "home-global.yaml",
            "info-exclude.yaml",
            "kept.yaml",
            "tracked-but-ignored.yaml",
            "untracked.yaml",
            "xdg-global.yaml",
        ]
    );
    let mut sub = Local::open(&repo.path().join("apps"), false).expect("open");
    let snap = sub.read(&selection(&[], 1 << 20)).expect("read");
    assert_eq!(snap.ignored, ["x.rendered.yaml"]);
    assert_eq!(snap.files.len(), 1);
    // A named path is read and not counted.
    let snap = local
        .read(&selection(&["build/rendered.yaml", "*.yaml"], 1 << 20))
        .expect("read");
    assert!(snap.ignored.is_empty(), "{:?}", snap.ignored);
    assert!(snap.files.iter().any(|f| f.path == "build/rendered.yaml"));
    // Outside a work tree nothing is ignored, not even by a .gitignore.
    let plain = tempfile::tempdir().expect("tempdir");
    write(plain.path(), ".gitignore", "*.yaml\n");
    write(plain.path(), ".ignore", "*.yaml\n");
    write(plain.path(), "a.yaml", &pod(OLD));
    let snap = Local::open(plain.path(), false)
        .expect("open")
        .read(&selection(&[], 1 << 20))
        .expect("read");
    assert_eq!(snap.files.len(), 1);
    assert!(snap.ignored.is_empty());
}

#[test]
fn issue_13_commit_refuses_changed_files_git_does_not_track() {
    // See: issue #13. A manifest hidden from `git status` by a personal
    // exclude is still untracked: committing only the changed paths would
    // fail half-way, so the run refuses first and writes nothing.
    let (repo, homes) = ignore_fixture();
    let before = fs::read(repo.path().join("info-exclude.yaml")).expect("read");
    git(repo.path(), &["rm", "-q", "--cached", "info-exclude.yaml"]);
    git(repo.path(), &["commit", "-q", "-m", "untrack"]);
    let r = set_in(
        repo.path(),
        homes[0].path(),
        &["--commit", "--files", "info-exclude.yaml"],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("info-exclude.yaml: is not tracked by Git; commit it first"),
        "{}",
        r.stderr
    );
    assert_eq!(
        fs::read(repo.path().join("info-exclude.yaml")).expect("read"),
        before
    );
}

#[test]
fn issue_13_utf16_manifests_are_bumped_and_stay_utf16() {
    // See: issue #13. UTF-16 with a byte order mark is valid YAML that
    // kubectl reads; it was skipped and the run ended "already up to date".
    let tmp = tempfile::tempdir().expect("tempdir");
    let text = format!("\u{feff}# café\r\n{}", pod(OLD).replace('\n', "\r\n"));
    for (name, enc) in [
        ("le.yaml", Encoding::Utf16Le),
        ("be.yaml", Encoding::Utf16Be),
    ] {
        fs::write(tmp.path().join(name), enc.encode(&text)).expect("write");
    }
    git_init(tmp.path());
    let r = gitops_bump()
        .args(["set", "--no-verify", "--commit", "--dir"])
        .args([tmp.path()])
        .args([NEW])
        .run();
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("updated be.yaml:7  ghcr.io/acme/backend  v1.3.0 → v1.4.0"),
        "{}",
        r.stdout
    );
    let expected = text.replace("v1.3.0", "v1.4.0");
    for (name, enc) in [
        ("le.yaml", Encoding::Utf16Le),
        ("be.yaml", Encoding::Utf16Be),
    ] {
        let bytes = fs::read(tmp.path().join(name)).expect("read");
        assert_eq!(bytes, enc.encode(&expected), "{name}: byte for byte");
    }
    assert_eq!(git(tmp.path(), &["status", "--porcelain"]), "");
    let again = gitops_bump()
        .args(["set", "--no-verify", "--dir"])
        .args([tmp.path()])
        .args([NEW])
        .run();
    assert!(again.stdout.contains("already up to date"), "{again:?}");
}

/// A directory holding the target only in files that cannot be read as
/// manifests, one per kind, each paired with a harmless sibling.
fn unreadable_fixture() -> (tempfile::TempDir, tempfile::TempDir) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    write(d, "ok.yaml", &pod("ghcr.io/acme/other:v1"));
    fs::write(
        d.join("latin1.yaml"),
        [b"# caf\xe9\n".as_slice(), pod(OLD).as_bytes()].concat(),
    )
    .expect("write");
    let mut big = "# padding\n".repeat(2_000);
    big.push_str(&pod(OLD));
    write(d, "big.yaml", &big);
    write(outside.path(), "secret.yaml", &pod(OLD));
    write(d, "data/template.txt", &pod(OLD));
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(outside.path().join("secret.yaml"), d.join("outside.yaml"))
            .expect("symlink");
        std::os::unix::fs::symlink("data/template.txt", d.join("inside.yaml")).expect("symlink");
        std::os::unix::fs::symlink("missing.txt", d.join("broken.yaml")).expect("symlink");
    }
    (tmp, outside)
}

#[test]
fn issue_13_the_backend_keeps_what_the_guard_needs_of_skipped_files() {
    // See: issue #13. Raw bytes when small, a streamed answer when over the
    // size limit, nothing when nothing can be read.
    let (tmp, _outside) = unreadable_fixture();
    let mut local = Local::open(tmp.path(), false).expect("open");
    let files = selection(&[], 4096).searching(["acme/backend".to_owned(), "acme/x".to_owned()]);
    let snap = local.read(&files).expect("read");
    assert_eq!(
        snap.skipped.get("big.yaml"),
        Some(&SkippedContent::Mentions(vec!["acme/backend".into()]))
    );
    let problems: Vec<(String, String)> = snap
        .problems
        .iter()
        .map(|p| (p.file().to_owned(), p.message.clone()))
        .collect();
    assert!(
        problems.contains(&(
            "big.yaml".into(),
            format!(
                "{} bytes is over the 4096 byte limit (raise it with --max-file-size); skipped",
                20_000 + pod(OLD).len()
            )
        )),
        "{problems:?}"
    );
    #[cfg(unix)]
    {
        let raw = |p: &str| match snap.skipped.get(p) {
            Some(SkippedContent::Raw(b)) => String::from_utf8_lossy(b).into_owned(),
            other => panic!("{p}: {other:?}"),
        };
        assert_eq!(raw("outside.yaml"), pod(OLD));
        assert_eq!(raw("inside.yaml"), pod(OLD));
        assert!(!snap.skipped.contains_key("broken.yaml"));
        assert!(
            problems.contains(&(
                "inside.yaml".into(),
                "symlink to data/template.txt, which this run does not read; skipped".into()
            )),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|(f, m)| f == "broken.yaml" && m.starts_with("broken symlink"))
        );
        assert!(problems.contains(&(
            "outside.yaml".into(),
            "symlink points outside --dir; skipped".into()
        )));
    }
    // Latin-1 is offered as bytes: discover names the invalid byte's line.
    assert!(snap.files.iter().any(|f| f.path == "latin1.yaml"));
}

#[test]
fn issue_13_unreadable_files_holding_the_target_fail_the_run() {
    // See: issue #13. These ended in "already up to date", exit 0, although
    // the README promises exit 1 when a skipped file mentions the target.
    let (tmp, _outside) = unreadable_fixture();
    let before = crate::common::snapshot(tmp.path());
    let r = gitops_bump()
        .args(["set", "--no-verify", "--max-file-size", "4096", "--dir"])
        .args([tmp.path()])
        .args([NEW])
        .run();
    assert_eq!(r.code, 1, "{r:?}");
    for file in ["latin1.yaml:1", "big.yaml", "outside.yaml", "inside.yaml"] {
        assert!(
            r.stderr.contains(&format!("error: {file}")),
            "{file} in {}",
            r.stderr
        );
    }
    assert!(
        r.stderr.contains("mentions ghcr.io/acme/backend"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("error: broken.yaml"), "{}", r.stderr);
    assert_eq!(
        before,
        crate::common::snapshot(tmp.path()),
        "nothing written"
    );
}

//! `Backend::history` for `--dir` (issue #11): the recent commits of the
//! files a write touches, read from a real repository whose commits have
//! chosen dates (`GIT_COMMITTER_DATE`): bots writing `Gitops-Bump-*`
//! trailers and a person, a deletion, a window and a depth.

use std::fs;
use std::path::Path;
use std::process::Command;

use gitops_bump::backend::files::Encoding;
use gitops_bump::backend::local::Local;
use gitops_bump::backend::{Backend, FileCommit};

const T0: i64 = 1_700_000_000;

/// Commits everything in `dir` as `author` at `T0 + at` seconds.
fn commit(dir: &Path, author: &str, at: i64, message: &str) -> String {
    let date = format!("@{} +0000", T0 + at);
    let run = |args: &[&str]| {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env("GIT_AUTHOR_NAME", author)
            .env("GIT_AUTHOR_EMAIL", format!("{author}@example.com"))
            .env("GIT_COMMITTER_NAME", author)
            .env("GIT_COMMITTER_EMAIL", format!("{author}@example.com"))
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    run(&["add", "-A"]);
    run(&["commit", "-q", "-m", message]);
    run(&["rev-parse", "HEAD"])
}

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(path, text).expect("write");
}

fn bot_message(from: &str, to: &str) -> String {
    format!(
        "chore(gitops): bump ghcr.io/acme/app to {to}\n\nGitops-Bump-Image: ghcr.io/acme/app\nGitops-Bump-From: {from}\nGitops-Bump-To: {to}\nGitops-Bump-Writer: ci-{to}\nGitops-Bump-Id: 00000000-0000-4000-8000-00000000000{}",
        to.len()
    )
}

fn app(tag: &str) -> String {
    format!("image: ghcr.io/acme/app:{tag}\n")
}

/// The repository: a person adds `apps/a.yaml`; a bot moves it to v2;
/// the person edits `apps/b.yaml`; another bot moves `a` to v3; the person
/// deletes `apps/c.yaml`. One commit every 100 seconds.
fn repo() -> (tempfile::TempDir, Vec<String>) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    Command::new("git")
        .args(["init", "-q", "-b", "main"])
        .arg(d)
        .status()
        .expect("git init");
    write(d, "apps/a.yaml", &app("v1"));
    write(d, "apps/b.yaml", "b: 1\n");
    write(d, "apps/c.yaml", "c: 1\n");
    let c0 = commit(d, "alice", 0, "add apps");
    write(d, "apps/a.yaml", &app("v2"));
    let c1 = commit(d, "gitops-bump", 100, &bot_message("v1", "v2"));
    write(d, "apps/b.yaml", "b: 2\n");
    let c2 = commit(d, "alice", 200, "tune b\n\nBecause.");
    write(d, "apps/a.yaml", &app("v3"));
    let c3 = commit(d, "renovate", 300, &bot_message("v2", "v3"));
    fs::remove_file(d.join("apps/c.yaml")).expect("rm");
    let c4 = commit(d, "alice", 400, "drop c");
    (tmp, vec![c0, c1, c2, c3, c4])
}

fn paths(list: &[&str]) -> Vec<String> {
    list.iter().map(|p| p.to_string()).collect()
}

#[test]
fn issue_11_history_within_the_window_newest_first_with_both_sides() {
    // See: issue #11 (writer guards read who changed a file, when, and what
    // it held before and after).
    let (tmp, c) = repo();
    let mut local = Local::open(tmp.path(), false).expect("open");
    let h = local
        .history(
            &paths(&[
                "apps/a.yaml",
                "apps/b.yaml",
                "apps/c.yaml",
                "apps/none.yaml",
            ]),
            T0 + 100,
            10,
        )
        .expect("history")
        .expect("a work tree has history");
    assert_eq!(h.len(), 4);
    assert_eq!(h[0].path, "apps/a.yaml");
    assert_eq!(
        h[0].commits,
        [
            FileCommit {
                oid: c[3].clone(),
                time: T0 + 300,
                author: "renovate".into(),
                message: bot_message("v2", "v3"),
                before: Some(app("v2")),
                after: Some(app("v3")),
            },
            FileCommit {
                oid: c[1].clone(),
                time: T0 + 100,
                author: "gitops-bump".into(),
                message: bot_message("v1", "v2"),
                before: Some(app("v1")),
                after: Some(app("v2")),
            },
        ],
        "the window is inclusive; the person's first commit is outside it"
    );
    assert!(!h[0].truncated);
    assert_eq!(h[1].commits.len(), 1);
    assert_eq!(h[1].commits[0].oid, c[2]);
    assert_eq!(h[1].commits[0].message, "tune b\n\nBecause.");
    assert_eq!(h[1].commits[0].author, "alice");
    let deleted = &h[2].commits;
    assert_eq!(deleted.len(), 1);
    assert_eq!(
        (
            deleted[0].oid.as_str(),
            deleted[0].before.as_deref(),
            deleted[0].after.as_deref()
        ),
        (c[4].as_str(), Some("c: 1\n"), None)
    );
    assert!(h[3].commits.is_empty() && !h[3].truncated);
}

#[test]
fn issue_11_depth_cuts_and_says_so_and_a_root_commit_has_no_before() {
    // See: issue #11.
    let (tmp, c) = repo();
    let mut local = Local::open(tmp.path(), true).expect("open");
    let h = local
        .history(&paths(&["apps/a.yaml"]), T0, 1)
        .expect("history")
        .expect("some");
    assert_eq!(h[0].commits.len(), 1);
    assert_eq!(h[0].commits[0].oid, c[3]);
    assert!(h[0].truncated);
    let h = local
        .history(&paths(&["apps/a.yaml"]), T0, 3)
        .expect("history")
        .expect("some");
    assert!(!h[0].truncated, "exactly three in the window");
    let first = h[0].commits.last().expect("three");
    assert_eq!(
        (
            first.oid.as_str(),
            first.before.as_deref(),
            first.after.as_deref()
        ),
        (c[0].as_str(), None, Some(app("v1").as_str()))
    );
    let none = local
        .history(&paths(&["apps/a.yaml"]), T0 + 301, 10)
        .expect("history")
        .expect("some");
    assert!(none[0].commits.is_empty());
}

#[test]
fn issue_11_history_from_a_subdirectory_a_plain_directory_and_an_unborn_branch() {
    // See: issue #11. Paths are relative to --dir; a plain directory has no
    // history; a repository without commits has empty histories.
    let (tmp, c) = repo();
    let mut sub = Local::open(&tmp.path().join("apps"), false).expect("open");
    let h = sub
        .history(&paths(&["a.yaml"]), T0 + 250, 10)
        .expect("history")
        .expect("some");
    assert_eq!(h[0].path, "a.yaml");
    assert_eq!(h[0].commits.len(), 1);
    assert_eq!(h[0].commits[0].oid, c[3]);
    assert_eq!(h[0].commits[0].before.as_deref(), Some(app("v2").as_str()));

    let plain = tempfile::tempdir().expect("tempdir");
    write(plain.path(), "a.yaml", "a: 1\n");
    let mut local = Local::open(plain.path(), false).expect("open");
    assert_eq!(local.history(&paths(&["a.yaml"]), 0, 10).expect("ok"), None);

    let unborn = tempfile::tempdir().expect("tempdir");
    Command::new("git")
        .args(["init", "-q"])
        .arg(unborn.path())
        .status()
        .expect("git init");
    let mut local = Local::open(unborn.path(), false).expect("open");
    let h = local
        .history(&paths(&["a.yaml"]), 0, 10)
        .expect("ok")
        .expect("a work tree");
    assert!(h[0].commits.is_empty());
}

#[test]
fn issue_11_history_decodes_utf16_and_takes_paths_literally() {
    // See: issue #11. A UTF-16 manifest's history is text; a path with
    // glob characters names that one file only.
    let (tmp, _) = repo();
    let d = tmp.path();
    let text = "\u{feff}image: ghcr.io/acme/app:v9\n";
    fs::write(d.join("apps/u16.yaml"), Encoding::Utf16Le.encode(text)).expect("write");
    write(d, "apps/[ab].yaml", "x: 1\n");
    let c = commit(d, "alice", 500, "add u16");
    let mut local = Local::open(d, false).expect("open");
    let h = local
        .history(&paths(&["apps/u16.yaml", "apps/[ab].yaml"]), T0, 10)
        .expect("history")
        .expect("some");
    assert_eq!(h[0].commits[0].oid, c);
    assert_eq!(h[0].commits[0].after.as_deref(), Some(text));
    assert_eq!(h[1].commits.len(), 1, "only the file named [ab].yaml");
}

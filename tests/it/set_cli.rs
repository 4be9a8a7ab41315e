//! `set --dir` end to end through the real binary: output, exit codes, bad
//! input, and that nothing is ever half-written.

use std::fs;

use crate::common::{example, git, git_init, gitops_bump, snapshot};

const BACKEND: &str = "ghcr.io/acme/backend:v1.4.0";

fn set(dir: &std::path::Path, extra: &[&str]) -> crate::common::Run {
    gitops_bump()
        .args(["set", "--no-verify", "--dir"])
        .args([dir])
        .args(extra)
        .run()
}

#[test]
fn dry_run_prints_diff_and_writes_nothing() {
    let tmp = example();
    let before = snapshot(tmp.path());
    let r = set(tmp.path(), &["--dry-run", BACKEND]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains(
            "--- a/overlays/dev/kustomization.yaml\n+++ b/overlays/dev/kustomization.yaml\n"
        ),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("-    newTag: v1.3.0\n+    newTag: v1.4.0\n")
    );
    assert!(r.stdout.contains("skipped overlays/prod/kustomization.yaml:9  ghcr.io/acme/backend  pinned by # gitops-bump:ignore"));
    assert_eq!(before, snapshot(tmp.path()));
}

#[test]
fn writes_only_the_tag_bytes_then_is_up_to_date() {
    let tmp = example();
    let before = snapshot(tmp.path());
    let r = set(tmp.path(), &[BACKEND]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains(
            "updated base/deployment.yaml:20  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [workload]"
        ),
        "{}",
        r.stdout
    );
    for ((path, old), (_, new)) in before.iter().zip(snapshot(tmp.path())) {
        let old = String::from_utf8(old.clone()).expect("utf8");
        let new = String::from_utf8(new).expect("utf8");
        let prod = path.ends_with("overlays/prod/kustomization.yaml");
        let expected = if prod {
            old.clone()
        } else {
            old.replace("ghcr.io/acme/backend:v1.3.0", "ghcr.io/acme/backend:v1.4.0")
                .replace("newTag: v1.3.0", "newTag: v1.4.0")
                .replace("tag: \"v1.3.0\"", "tag: \"v1.4.0\"")
        };
        assert_eq!(new, expected, "{}", path.display());
    }
    let cron = fs::read(tmp.path().join("jobs/cronjob.yaml")).expect("read");
    assert!(
        cron.windows(2).filter(|w| w == b"\r\n").count() >= 18,
        "CRLF kept"
    );
    let again = set(tmp.path(), &[BACKEND]);
    assert_eq!(again.code, 0);
    assert!(
        again.stdout.contains("already up to date"),
        "{}",
        again.stdout
    );
}

#[test]
fn json_output_follows_the_contract() {
    let tmp = example();
    let r = set(
        tmp.path(),
        &[
            "--output",
            "json",
            "--dry-run",
            BACKEND,
            "ghcr.io/acme/worker:2.10",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("one JSON document");
    assert_eq!(v["changed"], true);
    assert_eq!(v["commit"], serde_json::Value::Null);
    // A dry run writes nothing: its values are `planned`, never `updates`.
    assert_eq!(v["updates"], serde_json::json!([]));
    let updates = v["planned"].as_array().expect("planned");
    assert_eq!(updates.len(), 6);
    let worker = updates
        .iter()
        .find(|u| u["image"] == "ghcr.io/acme/worker")
        .expect("worker");
    assert_eq!(worker["file"], "charts/backend/values.yaml");
    assert_eq!(
        (worker["line"].as_u64(), worker["column"].as_u64()),
        (Some(13), Some(10))
    );
    assert_eq!(
        (
            worker["from"].as_str(),
            worker["to"].as_str(),
            worker["dialect"].as_str()
        ),
        (Some("2.4"), Some("2.10"), Some("helm_values"))
    );
}

#[test]
fn numeric_looking_tag_is_quoted() {
    let tmp = example();
    assert_eq!(set(tmp.path(), &["ghcr.io/acme/worker:2.10"]).code, 0);
    let values = fs::read_to_string(tmp.path().join("charts/backend/values.yaml")).expect("read");
    assert!(
        values.contains("    tag: \"2.10\" # numeric-looking: must stay a string\n"),
        "{values}"
    );
}

#[test]
fn commit_makes_one_commit_with_trailers() {
    let tmp = example();
    git_init(tmp.path());
    let r = set(
        tmp.path(),
        &[
            "--commit",
            "--writer-id",
            "ci-dev",
            "--message",
            "deploy {image} {to}",
            BACKEND,
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(git(tmp.path(), &["rev-list", "--count", "HEAD"]), "2");
    let body = git(tmp.path(), &["log", "-1", "--format=%B"]);
    assert!(
        body.starts_with("deploy ghcr.io/acme/backend v1.4.0\n\n"),
        "{body}"
    );
    for trailer in [
        "Gitops-Bump-Image: ghcr.io/acme/backend",
        "Gitops-Bump-From: v1.3.0",
        "Gitops-Bump-To: v1.4.0",
        "Gitops-Bump-Writer: ci-dev",
    ] {
        assert!(body.contains(trailer), "{trailer} in {body}");
    }
    let id = git(
        tmp.path(),
        &[
            "log",
            "-1",
            "--format=%(trailers:key=Gitops-Bump-Id,valueonly)",
        ],
    );
    assert_eq!(
        uuid::Uuid::parse_str(&id).map(|u| u.get_version_num()),
        Ok(4),
        "{id}"
    );
    assert_eq!(
        git(tmp.path(), &["status", "--porcelain"]),
        "",
        "work tree clean"
    );
    assert!(r.stdout.contains("committed "), "{}", r.stdout);
}

#[test]
fn commit_refuses_dirty_files_and_writes_nothing() {
    let tmp = example();
    git_init(tmp.path());
    let path = tmp.path().join("overlays/dev/kustomization.yaml");
    let dirty = format!("{}# local edit\n", fs::read_to_string(&path).expect("read"));
    fs::write(&path, &dirty).expect("write");
    let before = snapshot(tmp.path());
    let r = set(tmp.path(), &["--commit", BACKEND]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("overlays/dev/kustomization.yaml: has uncommitted changes"),
        "{}",
        r.stderr
    );
    assert_eq!(before, snapshot(tmp.path()));
    assert_eq!(git(tmp.path(), &["rev-list", "--count", "HEAD"]), "1");
}

#[test]
fn commit_outside_git_is_a_usage_error() {
    let tmp = example();
    let r = set(tmp.path(), &["--commit", BACKEND]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("not inside a Git work tree"),
        "{}",
        r.stderr
    );
}

#[test]
fn invalid_image_refs_are_usage_errors_naming_the_argument() {
    let tmp = example();
    let long_tag = format!("app:{}", "a".repeat(129));
    for bad in [
        "ghcr.io/acme/App:v1",
        "app@sha256:abc",
        long_tag.as_str(),
        "app",
        "app:v1 extra",
    ] {
        let r = set(tmp.path(), &[bad]);
        assert_eq!(r.code, 2, "{bad}: {r:?}");
        assert_eq!(r.stderr.lines().count(), 1, "one line: {}", r.stderr);
        assert!(
            r.stderr.contains(&format!("IMAGE_REF {bad:?}")),
            "{}",
            r.stderr
        );
    }
}

#[test]
fn usage_errors_name_the_flag() {
    let tmp = example();
    for (args, needle) in [
        (
            vec!["--files", "../*.yaml", BACKEND],
            "--files \"../*.yaml\"",
        ),
        (
            vec!["--files", "/etc/*.yaml", BACKEND],
            "--files \"/etc/*.yaml\"",
        ),
        (vec!["--max-file-size", "lots", BACKEND], "--max-file-size"),
        (vec!["--output", "xml", BACKEND], "--output"),
    ] {
        let r = set(tmp.path(), &args);
        assert_eq!(r.code, 2, "{args:?}: {r:?}");
        assert!(r.stderr.contains(needle), "{needle} in {}", r.stderr);
    }
    // Registry flags are checked before any request: a platform cannot be
    // verified offline, and a secret must come from the environment.
    for (args, needle) in [
        (vec!["--platform", "linux/amd64", BACKEND], "--platform"),
        (
            vec!["--registry-auth", "ghcr.io=bot:NO_SUCH_VAR_X", BACKEND],
            "NO_SUCH_VAR_X is not set",
        ),
        (
            vec!["--insecure-registry", "http://localhost:5000", BACKEND],
            "--insecure-registry",
        ),
    ] {
        let r = set(tmp.path(), &args);
        assert_eq!(r.code, 2, "{args:?}: {r:?}");
        assert!(r.stderr.contains(needle), "{needle} in {}", r.stderr);
    }
}

#[test]
fn files_glob_star_does_not_cross_slash() {
    let tmp = example();
    let r = set(
        tmp.path(),
        &[
            "--files",
            "overlays/*.yaml",
            "--output",
            "json",
            "--dry-run",
            BACKEND,
        ],
    );
    // No file selected holds the image: that is a failed run, not "up to date".
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("\"changed\": false"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("no reference to ghcr.io/acme/backend found in 0 file(s)"),
        "{}",
        r.stdout
    );
    let r = set(
        tmp.path(),
        &[
            "--files",
            "overlays/*/*.yaml",
            "--output",
            "json",
            "--dry-run",
            BACKEND,
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(v["planned"].as_array().map(Vec::len), Some(1));
}

#[test]
fn unrelated_broken_files_warn_but_do_not_fail() {
    let tmp = example();
    fs::create_dir_all(tmp.path().join("charts/backend/templates")).expect("mkdir");
    fs::write(
        tmp.path().join("charts/backend/templates/svc.yaml"),
        "spec:\n  ports: {{ .Values.ports }}\n  x: [\n",
    )
    .expect("write");
    fs::write(tmp.path().join("latin1.yaml"), b"name: caf\xe9\n").expect("write");
    let r = set(tmp.path(), &[BACKEND]);
    assert_eq!(r.code, 0, "{r:?}");
    // A chart template is not a broken file: one note counts them.
    assert!(
        r.stderr.contains("note: 1 chart template skipped (not YAML until Helm renders it; its images come from values files), e.g. charts/backend/templates/svc.yaml\n"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("warning: charts/"), "{}", r.stderr);
    assert!(
        r.stderr.contains("warning: latin1.yaml:1: not UTF-8"),
        "{}",
        r.stderr
    );
}

#[test]
fn broken_file_mentioning_the_target_fails_and_writes_nothing() {
    let tmp = example();
    fs::write(
        tmp.path().join("broken.yaml"),
        "containers:\n- image: ghcr.io/acme/backend:v1.3.0\n  x: [\n",
    )
    .expect("write");
    let before = snapshot(tmp.path());
    let r = set(tmp.path(), &[BACKEND]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("error: broken.yaml:"), "{}", r.stderr);
    assert!(
        r.stderr.contains("mentions ghcr.io/acme/backend"),
        "{}",
        r.stderr
    );
    assert_eq!(before, snapshot(tmp.path()));
}

#[test]
fn large_files_are_skipped_unless_the_limit_is_raised() {
    let tmp = example();
    let r = set(
        tmp.path(),
        &["--max-file-size", "100", "--dry-run", BACKEND],
    );
    // Every file holding the image was skipped: nothing was looked at.
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("base/deployment.yaml: ") && r.stderr.contains("over the 100 byte limit"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("error: no reference to ghcr.io/acme/backend found in "),
        "{}",
        r.stderr
    );
    let r = set(
        tmp.path(),
        &["--max-file-size", "1MiB", "--dry-run", BACKEND],
    );
    assert!(!r.stderr.contains("byte limit"), "{}", r.stderr);
}

#[cfg(unix)]
#[test]
fn symlinks_outside_the_dir_are_refused() {
    let outside = tempfile::tempdir().expect("tempdir");
    fs::write(
        outside.path().join("secret.yaml"),
        "containers:\n- image: ghcr.io/acme/backend:v1.3.0\n",
    )
    .expect("write");
    let tmp = example();
    std::os::unix::fs::symlink(
        outside.path().join("secret.yaml"),
        tmp.path().join("link.yaml"),
    )
    .expect("symlink");
    let r = set(tmp.path(), &[BACKEND]);
    assert!(
        r.stderr
            .contains("warning: link.yaml: symlink points outside --dir"),
        "{}",
        r.stderr
    );
    assert_eq!(
        fs::read_to_string(outside.path().join("secret.yaml")).expect("read"),
        "containers:\n- image: ghcr.io/acme/backend:v1.3.0\n"
    );
}

#[test]
fn stale_digest_is_refused_under_no_verify() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let digest = format!("sha256:{}", "a".repeat(64));
    let text = format!("spec:\n  containers:\n  - image: ghcr.io/acme/backend:v1.3.0@{digest}\n");
    fs::write(tmp.path().join("pod.yaml"), &text).expect("write");
    let r = set(tmp.path(), &[BACKEND]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("error: pod.yaml:3: ghcr.io/acme/backend is pinned to digest sha256:aaaa"),
        "{}",
        r.stderr
    );
    assert_eq!(
        fs::read_to_string(tmp.path().join("pod.yaml")).expect("read"),
        text
    );
    let new_digest = format!("sha256:{}", "b".repeat(64));
    let r = set(tmp.path(), &[&format!("{BACKEND}@{new_digest}")]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        fs::read_to_string(tmp.path().join("pod.yaml")).expect("read"),
        text.replace(&format!("v1.3.0@{digest}"), &format!("v1.4.0@{new_digest}"))
    );
}

#[test]
fn docker_hub_short_names_match_normalized() {
    let tmp = tempfile::tempdir().expect("tempdir");
    fs::write(tmp.path().join("a.yaml"), "spec:\n  containers:\n  - image: nginx:1.25\n  - image: docker.io/library/nginx:1.25\n  - image: ghcr.io/nginx:1.25\n").expect("write");
    let r = set(tmp.path(), &["index.docker.io/library/nginx:1.27"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        fs::read_to_string(tmp.path().join("a.yaml")).expect("read"),
        "spec:\n  containers:\n  - image: nginx:1.27\n  - image: docker.io/library/nginx:1.27\n  - image: ghcr.io/nginx:1.25\n"
    );
}

#[test]
fn version_and_help_exit_zero() {
    let r = gitops_bump().args(["--version"]).run();
    assert_eq!(r.code, 0);
    assert!(r.stdout.starts_with("gitops-bump "));
}

#[test]
fn inside_actions_updates_and_errors_are_annotations() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut text = String::from("spec:\n  containers:\n");
    for _ in 0..12 {
        text.push_str("  - image: ghcr.io/acme/backend:v1.3.0\n");
    }
    fs::write(tmp.path().join("a,b:c.yaml"), &text).expect("write");
    fs::write(tmp.path().join("broken.yaml"), "x: [\n").expect("write");
    let r = gitops_bump()
        .env("GITHUB_ACTIONS", "true")
        .args(["set", "--no-verify", "--dry-run", "--dir"])
        .args([tmp.path()])
        .args([BACKEND])
        .run();
    assert_eq!(r.code, 0, "{r:?}");
    let notices: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("::notice "))
        .collect();
    assert_eq!(notices.len(), 10, "limit of 10 per step: {}", r.stdout);
    // File names are escaped as properties: ',' and ':' cannot break the command.
    assert_eq!(
        notices[0],
        "::notice title=gitops-bump%3A image,file=a%2Cb%3Ac.yaml,line=3,col=12::would update ghcr.io/acme/backend v1.3.0 → v1.4.0"
    );
    assert_eq!(
        notices[9],
        "::notice title=gitops-bump::3 more not shown here; see the job log and summary"
    );
    assert!(
        r.stdout.contains(
            "::warning title=gitops-bump%3A file skipped,file=broken.yaml,line=1::invalid YAML"
        ),
        "{}",
        r.stdout
    );
}

#[test]
fn inside_actions_fatal_errors_are_annotations() {
    let tmp = example();
    let r = gitops_bump()
        .env("GITHUB_ACTIONS", "true")
        .args(["set", "--no-verify", "--dir"])
        .args([tmp.path()])
        .args(["Bad/Ref:v1"])
        .run();
    assert_eq!(r.code, 2);
    assert!(
        r.stdout
            .starts_with("::error title=gitops-bump::IMAGE_REF \"Bad/Ref:v1\""),
        "{}",
        r.stdout
    );
}

#[test]
fn issue_3_downgrades_are_refused_naming_the_site_unless_allowed() {
    // See: issue #3 (no-downgrade guard in `set`).
    let tmp = example();
    let before = snapshot(tmp.path());
    let r = set(tmp.path(), &["ghcr.io/acme/backend:v1.2.9"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains(
            "base/deployment.yaml:20: ghcr.io/acme/backend: v1.3.0 → v1.2.9 is a downgrade (semver order); pass --allow-downgrade to move backwards"
        ),
        "{}",
        r.stderr
    );
    assert_eq!(before, snapshot(tmp.path()), "nothing written");

    // Equal precedence is not a move backwards; the tag is rewritten as given.
    let r = set(tmp.path(), &["--dry-run", "ghcr.io/acme/backend:1.3.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("v1.3.0 → 1.3.0"), "{}", r.stdout);

    // Tags that do not read as versions are not comparable, so allowed;
    // `main` is on another tag track than `v1.3.0`, so it takes --match-tag.
    let r = set(tmp.path(), &["--dry-run", "ghcr.io/acme/backend:main"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("no reference to ghcr.io/acme/backend is on the tag track of main"),
        "{}",
        r.stderr
    );
    let r = set(
        tmp.path(),
        &[
            "--dry-run",
            "--match-tag",
            "^v",
            "ghcr.io/acme/backend:main",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");

    // --policy supplies the order: byte-wise, `v1.2.9` sorts after `v1.10.0`.
    let r = set(
        tmp.path(),
        &[
            "--dry-run",
            "--policy",
            "alphabetical",
            "ghcr.io/acme/backend:v1.10.0",
        ],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("v1.3.0 → v1.10.0 is a downgrade (alphabetical:asc order)"),
        "{}",
        r.stderr
    );
    let r = set(
        tmp.path(),
        &[
            "--policy",
            "semver:~1",
            "--allow-absent",
            "--dry-run",
            "x:1",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let r = set(tmp.path(), &["--policy", "semver:1.x.y", "x:1"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("--policy: invalid semver range"),
        "{}",
        r.stderr
    );

    let r = set(
        tmp.path(),
        &["--allow-downgrade", "ghcr.io/acme/backend:v1.2.9"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("v1.3.0 → v1.2.9"), "{}", r.stdout);
}

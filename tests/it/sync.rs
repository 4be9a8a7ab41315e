//! `sync` end to end through the binary, against the real distribution
//! registry: every verdict with its severity, the incidents the command
//! exists for (a tag never pushed, an amd64-only mirror on an arm64
//! workload, a build that never reached Git), `--apply` in one commit,
//! `--apply --dry-run` writing nothing, default-policy drift never applied
//! implicitly, and bad input named in one line.
//! See: issue #9.

use std::path::Path;

use serde_json::Value;

use crate::common::{Run, git, git_init, gitops_bump, snapshot};
use crate::registry_support::{Registry, block_on, empty_docker_config, write};

/// An RFC 3339 time `secs` seconds ago.
fn ago(secs: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let t = now - secs;
    // Days since the epoch → civil date (Howard Hinnant's algorithm).
    let (days, rem) = ((t / 86_400) as i64, t % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

const BOTH: [&str; 2] = ["linux/amd64", "linux/arm64"];

/// The registry every test here uses:
/// - `acme/app`: v1.0.0 and v1.1.0 (amd64 + arm64), v1.2.0 (amd64 only);
/// - `acme/mirror`: 2.0.0, amd64 only;
/// - `acme/build`: sha-1111111 (30 days old) and sha-2222222 (3 days old);
/// - `acme/fresh`: sha-aaaaaaa (old) and sha-bbbbbbb (built a minute ago);
/// - `acme/api`: v1 only (no `main`).
fn registry() -> Registry {
    let reg = Registry::start();
    let p = reg.pusher();
    block_on(async {
        p.index("acme/app", "v1.0.0", &BOTH, "2024-01-01T00:00:00Z")
            .await;
        p.index("acme/app", "v1.1.0", &BOTH, "2024-02-01T00:00:00Z")
            .await;
        p.index(
            "acme/app",
            "v1.2.0",
            &["linux/amd64"],
            "2024-03-01T00:00:00Z",
        )
        .await;
        p.index(
            "acme/mirror",
            "2.0.0",
            &["linux/amd64"],
            "2024-03-01T00:00:00Z",
        )
        .await;
        p.index("acme/build", "sha-1111111", &BOTH, &ago(30 * 86_400))
            .await;
        p.index("acme/build", "sha-2222222", &BOTH, &ago(3 * 86_400))
            .await;
        p.index("acme/fresh", "sha-aaaaaaa", &BOTH, &ago(30 * 86_400))
            .await;
        p.index("acme/fresh", "sha-bbbbbbb", &BOTH, &ago(60)).await;
        p.index("acme/api", "v1", &BOTH, "2024-01-01T00:00:00Z")
            .await;
    });
    reg
}

fn deployment(name: &str, image: &str, extra: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  template:\n    spec:\n{extra}      containers:\n        - name: {name}\n          image: {image}\n"
    )
}

const ARM64: &str = "      nodeSelector:\n        kubernetes.io/arch: arm64\n";

/// `sync --dir DIR --insecure-registry HOST ARGS`, with no docker config.
fn sync(reg: &Registry, dir: &Path, args: &[&str]) -> Run {
    let config = empty_docker_config();
    gitops_bump()
        .env("DOCKER_CONFIG", &config.path().to_string_lossy())
        .args(["sync", "--dir"])
        .args([dir])
        .args(["--insecure-registry", &reg.host()])
        .args(args)
        .run()
}

fn json(r: &Run) -> Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {r:?}"))
}

/// The reference in `file` of `doc`.
fn reference<'a>(doc: &'a Value, file: &str) -> &'a Value {
    doc["references"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["file"] == file))
        .unwrap_or_else(|| panic!("no reference in {file}: {doc:#}"))
}

fn verdict(doc: &Value, file: &str) -> (String, String) {
    let r = reference(doc, file);
    (
        r["verdict"].as_str().unwrap_or_default().to_owned(),
        r["severity"].as_str().unwrap_or_default().to_owned(),
    )
}

/// A repository with one reference per verdict.
fn every_verdict(host: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(
        d,
        "up/app.yaml",
        &deployment("up", &format!("{host}/acme/app:v1.2.0"), ""),
    );
    write(
        d,
        "behind/app.yaml",
        &deployment("behind", &format!("{host}/acme/app:v1.0.0"), ""),
    );
    write(
        d,
        "flight/app.yaml",
        &deployment("flight", &format!("{host}/acme/fresh:sha-aaaaaaa"), ""),
    );
    write(
        d,
        "ahead/app.yaml",
        &deployment("ahead", &format!("{host}/acme/app:v1.2.0"), ""),
    );
    write(
        d,
        "missing/app.yaml",
        &deployment("missing", &format!("{host}/acme/api:main"), ""),
    );
    write(
        d,
        "mirror/app.yaml",
        &deployment("mirror", &format!("{host}/acme/mirror:2.0.0"), ARM64),
    );
    write(
        d,
        "pinned/app.yaml",
        &deployment(
            "pinned",
            &format!("{host}/acme/app:v1.0.0 # gitops-bump:ignore"),
            "",
        ),
    );
    write(
        d,
        "template/app.yaml",
        &deployment("template", &format!("{host}/acme/app:latest"), ""),
    );
    write(
        d,
        ".gitops-bump.yaml",
        &format!(
            "defaults:\n  grace: 1h\nimages:\n  - name: {host}/acme/app\n    policy: semver:^1\n    files: ['up/*', 'behind/*', 'pinned/*']\n  - name: {host}/acme/app\n    policy: semver:~1.1\n    files: ['ahead/*']\n  - name: {host}/acme/fresh\n    policy: newest-build\n    filter: '^sha-'\n  - name: {host}/acme/api\n    policy: digest\n    tag: main\n  - name: {host}/acme/mirror\n    policy: semver:*\n"
        ),
    );
    dir
}

#[test]
fn issue_9_every_verdict_with_its_severity_and_exit_code() {
    let reg = registry();
    let host = reg.host();
    let dir = every_verdict(&host);
    let before = snapshot(dir.path());
    let r = sync(&reg, dir.path(), &["--output", "json"]);
    assert_eq!(r.code, 1, "errors fail the run: {r:?}");
    let doc = json(&r);
    let want = [
        ("up/app.yaml", "up-to-date", "notice"),
        ("behind/app.yaml", "behind", "error"),
        ("flight/app.yaml", "in-flight", "notice"),
        ("ahead/app.yaml", "ahead", "warning"),
        ("missing/app.yaml", "missing-tag", "error"),
        ("mirror/app.yaml", "missing-platform", "error"),
        ("pinned/app.yaml", "blocked", "warning"),
        ("template/app.yaml", "unchecked", "notice"),
    ];
    for (file, v, s) in want {
        assert_eq!(
            verdict(&doc, file),
            (v.to_owned(), s.to_owned()),
            "{file}: {doc:#}"
        );
    }
    let behind = reference(&doc, "behind/app.yaml");
    assert_eq!(behind["current"], "v1.0.0");
    assert_eq!(behind["selected"], "v1.2.0");
    assert_eq!(behind["policy"], "semver:^1");
    assert_eq!(behind["policy_source"], "config");
    assert_eq!(
        (behind["line"].as_u64(), behind["dialect"].as_str()),
        (Some(10), Some("workload"))
    );
    let mirror = reference(&doc, "mirror/app.yaml");
    assert_eq!(
        mirror["platforms"],
        serde_json::json!(["linux/arm64"]),
        "from the nodeSelector"
    );
    assert!(
        mirror["message"]
            .as_str()
            .is_some_and(|m| m.contains("lacks platform linux/arm64")),
        "{mirror}"
    );
    assert!(
        reference(&doc, "missing/app.yaml")["message"]
            .as_str()
            .is_some_and(|m| m.contains("acme/api:main is not in the registry")),
        "{doc:#}"
    );
    assert_eq!(doc["totals"]["behind"], 1);
    assert_eq!(doc["totals"]["up-to-date"], 1);
    assert_eq!(doc["changed"], false);
    assert_eq!(doc["updates"], serde_json::json!([]));
    assert_eq!(before, snapshot(dir.path()), "a check writes nothing");

    // --fail-on never: the same findings, exit 0; warning: also exit 1.
    assert_eq!(sync(&reg, dir.path(), &["--fail-on", "never"]).code, 0);
    // Text: one line per reference that is not up to date, by directory,
    // and a total.
    let r = sync(&reg, dir.path(), &[]);
    assert!(
        r.stdout
            .contains("behind/\n  behind           app.yaml:10  "),
        "{}",
        r.stdout
    );
    assert!(
        !r.stdout.contains("up/\n"),
        "up-to-date references are not listed: {}",
        r.stdout
    );
    assert!(
        r.stdout
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("sync: 8 reference(s): 1 up to date, ")),
        "{}",
        r.stdout
    );
}

#[test]
fn issue_9_a_build_that_never_reached_git_is_recovered_in_one_commit() {
    let reg = registry();
    let host = reg.host();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(
        d,
        "dev/build.yaml",
        &deployment("build", &format!("{host}/acme/build:sha-1111111"), ""),
    );
    write(
        d,
        "dev/kustomization.yaml",
        &format!("images:\n  - name: {host}/acme/app\n    newTag: v1.0.0\n"),
    );
    write(
        d,
        ".gitops-bump.yaml",
        &format!(
            "defaults:\n  grace: 15m\nimages:\n  - name: {host}/acme/build\n    policy: newest-build\n    filter: '^sha-[0-9a-f]{{7}}$'\n  - name: {host}/acme/app\n    policy: semver:^1\n"
        ),
    );
    git_init(d);
    let r = sync(&reg, d, &["--output", "json"]);
    assert_eq!(r.code, 1, "{r:?}");
    let doc = json(&r);
    assert_eq!(
        verdict(&doc, "dev/build.yaml"),
        ("behind".into(), "error".into())
    );
    let message = reference(&doc, "dev/build.yaml")["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains("sha-2222222 was built 3d ago")
            && message.contains("a deploy was probably lost"),
        "{message}"
    );
    // --apply --dry-run: the exact diff, nothing written.
    let before = snapshot(d);
    let r = sync(&reg, d, &["--apply", "--dry-run"]);
    assert!(
        r.stdout.contains("-          image: ") && r.stdout.contains("+          image: "),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains(&format!("+          image: {host}/acme/build:sha-2222222")),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("+    newTag: v1.2.0"), "{}", r.stdout);
    assert_eq!(before, snapshot(d), "--apply --dry-run writes nothing");
    assert_eq!(git(d, &["rev-list", "--count", "HEAD"]), "1");
    // --apply --commit: one commit with both images and their trailers.
    let r = sync(&reg, d, &["--apply", "--commit", "--output", "json"]);
    assert_eq!(r.code, 0, "fixed drift is not an error: {r:?}");
    let doc = json(&r);
    assert_eq!(doc["changed"], true);
    assert_eq!(doc["updates"].as_array().map(Vec::len), Some(2), "{doc:#}");
    assert_eq!(git(d, &["rev-list", "--count", "HEAD"]), "2", "one commit");
    let body = git(d, &["log", "-1", "--format=%B"]);
    for trailer in [
        format!("Gitops-Bump-Image: {host}/acme/app"),
        format!("Gitops-Bump-Image: {host}/acme/build"),
        "Gitops-Bump-To: sha-2222222".to_owned(),
        "Gitops-Bump-To: v1.2.0".to_owned(),
    ] {
        assert!(body.contains(&trailer), "{trailer} in {body}");
    }
    assert!(body.starts_with("chore(gitops): bump 2 images: "), "{body}");
    // Again: nothing to do.
    let r = sync(&reg, d, &["--apply", "--commit", "--output", "json"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(json(&r)["changed"], false);
    assert_eq!(git(d, &["rev-list", "--count", "HEAD"]), "2");
}

#[test]
fn issue_9_default_policy_drift_is_a_notice_never_applied_implicitly() {
    let reg = registry();
    let host = reg.host();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(
        d,
        "app.yaml",
        &deployment("app", &format!("{host}/acme/app:v1.0.0"), ""),
    );
    let before = snapshot(d);
    let r = sync(&reg, d, &["--apply", "--output", "json"]);
    assert_eq!(r.code, 0, "notices do not fail: {r:?}");
    let doc = json(&r);
    let app = reference(&doc, "app.yaml");
    assert_eq!(
        (app["verdict"].as_str(), app["severity"].as_str()),
        (Some("behind"), Some("notice"))
    );
    assert_eq!(app["policy_source"], "default");
    assert!(
        app["message"]
            .as_str()
            .is_some_and(|m| m.contains("never applied unless --default-policy"))
    );
    assert_eq!(doc["changed"], false);
    assert_eq!(before, snapshot(d), "not applied");
    // Given explicitly, the report says --apply writes it (never "never
    // applied unless --default-policy is given").
    let r = sync(&reg, d, &["--default-policy", "semver", "--output", "json"]);
    let doc = json(&r);
    let message = reference(&doc, "app.yaml")["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains("given with --default-policy: --apply writes it")
            && !message.contains("never applied"),
        "{message}"
    );
    // Given explicitly, it is applied.
    let r = sync(
        &reg,
        d,
        &["--apply", "--default-policy", "semver", "--output", "json"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(json(&r)["changed"], true);
    let text = std::fs::read_to_string(d.join("app.yaml")).expect("read");
    assert!(
        text.contains(&format!("image: {host}/acme/app:v1.2.0")),
        "{text}"
    );
    // none: nothing is checked without configuration.
    let r = sync(&reg, d, &["--default-policy", "none", "--output", "json"]);
    assert_eq!(verdict(&json(&r), "app.yaml").0, "unchecked");
}

#[test]
fn issue_9_bad_input_is_one_line_naming_the_file_or_the_image() {
    let reg = registry();
    let host = reg.host();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(
        d,
        "app.yaml",
        &deployment("app", &format!("{host}/acme/app:v1.0.0"), ""),
    );
    for (config, needle) in [
        (
            "images:\n  - name: a/b\n    policy: semver:*\n    plaforms: [linux/amd64]\n",
            ".gitops-bump.yaml:4:5: ",
        ),
        (
            "images:\n  - name: a/b\n    policy: sometimes\n",
            ".gitops-bump.yaml:3:13: policy: ",
        ),
        // A regex that does not compile: one line, not the parser's
        // caret diagram.
        (
            "images:\n  - name: a/b\n    policy: semver:*\n    filter: '(['\n",
            ".gitops-bump.yaml:4:13: filter: invalid filter regex \"([\": unclosed character class",
        ),
        (
            &format!(
                "images:\n  - name: {host}/acme/app\n    policy: semver:*\n  - name: {host}/acme/app\n    policy: semver:^1\n"
            ),
            "app.yaml:10: ",
        ),
    ] {
        write(d, ".gitops-bump.yaml", config);
        let r = sync(&reg, d, &[]);
        assert_eq!(r.code, 2, "{config}: {r:?}");
        assert_eq!(r.stderr.lines().count(), 1, "one line: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{needle} in {}", r.stderr);
    }
    std::fs::remove_file(d.join(".gitops-bump.yaml")).expect("rm");
    let r = sync(&reg, d, &["--config", "nope.yaml"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("--config nope.yaml: not found"),
        "{}",
        r.stderr
    );
    // One image's registry is unreachable: that image is unchecked with the
    // error, the others keep their verdicts, exit 1.
    write(
        d,
        "dead.yaml",
        &deployment("dead", "127.0.0.1:1/acme/gone:v1.0.0", ""),
    );
    let config = empty_docker_config();
    let r = gitops_bump()
        .env("DOCKER_CONFIG", &config.path().to_string_lossy())
        .args(["sync", "--dir"])
        .args([d])
        .args([
            "--insecure-registry",
            &host,
            "--insecure-registry",
            "127.0.0.1:1",
        ])
        .args(["--output", "json"])
        .run();
    assert_eq!(r.code, 1, "{r:?}");
    let doc = json(&r);
    assert_eq!(
        verdict(&doc, "dead.yaml"),
        ("unchecked".into(), "error".into())
    );
    assert!(
        reference(&doc, "dead.yaml")["message"]
            .as_str()
            .is_some_and(|m| m.contains("unreachable")),
        "{doc:#}"
    );
    assert_eq!(verdict(&doc, "app.yaml").0, "behind");
}

/// A tracked image held only in files sync cannot read as manifests (a
/// Latin-1 comment, a symlink out of the directory), next to a readable
/// reference that is behind.
fn unreadable_holding(host: &str) -> (tempfile::TempDir, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let old = deployment("a", &format!("{host}/acme/app:v1.0.0"), "");
    write(d, "ok/app.yaml", &old);
    std::fs::write(
        d.join("latin1.yaml"),
        [b"# caf\xe9\n".as_slice(), old.as_bytes()].concat(),
    )
    .expect("write");
    write(outside.path(), "o.yaml", &old);
    #[cfg(unix)]
    std::os::unix::fs::symlink(outside.path().join("o.yaml"), d.join("link.yaml"))
        .expect("symlink");
    write(d, "other.yaml", "a: [\n");
    write(
        d,
        ".gitops-bump.yaml",
        &format!("images:\n  - name: {host}/acme/app\n    policy: semver:^1\n"),
    );
    (dir, outside)
}

// See: issue #13 (item 8), through sync. A file that cannot be read but
// holds a tracked image was a warning: sync said "all up to date" (exit 0)
// when it was the only holder, and `--apply` moved the readable references
// and left it behind.
#[test]
fn issue_13_unreadable_files_holding_a_tracked_image_fail_sync() {
    let reg = registry();
    let host = reg.host();
    let (dir, _outside) = unreadable_holding(&host);
    std::fs::remove_file(dir.path().join("ok/app.yaml")).expect("rm");
    let r = sync(&reg, dir.path(), &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(!r.stdout.contains("all up to date"), "{r:?}");
    assert!(
        r.stdout
            .contains("0 reference(s) in the files read, no drift; 3 file(s) could not be read"),
        "{r:?}"
    );
    let mut holders = vec!["latin1.yaml:1: not UTF-8 (invalid byte at offset 5); line 11"];
    if cfg!(unix) {
        holders.push("link.yaml: symlink points outside --dir; line 10");
    }
    for holder in holders {
        assert!(
            r.stderr.contains(&format!(
                "error: {holder} holds a reference to {host}/acme/app, which sync tracks, so it cannot be checked"
            )),
            "{holder}: {}",
            r.stderr
        );
    }
    // A broken file that holds no tracked image stays a warning.
    assert!(r.stderr.contains("warning: other.yaml:1"), "{}", r.stderr);
}

#[test]
fn issue_13_sync_apply_never_leaves_an_unreadable_holder_behind() {
    let reg = registry();
    let host = reg.host();
    let (dir, _outside) = unreadable_holding(&host);
    git_init(dir.path());
    let before = snapshot(dir.path());
    let r = sync(&reg, dir.path(), &["--apply"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(before, snapshot(dir.path()), "nothing written: {r:?}");
    assert!(
        r.stderr.contains(&format!(
            "error: latin1.yaml:1: not UTF-8 (invalid byte at offset 5); line 11 holds a reference to {host}/acme/app, which sync tracks, so it cannot be checked"
        )),
        "{}",
        r.stderr
    );
    assert!(
        r.stdout
            .contains("1 reference(s): 0 up to date, 1 behind; 3 file(s) could not be read"),
        "{r:?}"
    );
}

#[test]
fn issue_9_deadline_bounds_a_registry_that_never_answers() {
    // A registry that accepts connections and never answers: without the
    // bound, each request waited its own 30 s timeout and retries.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let host = listener.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        // Held open, never answered, until the test process ends.
        let held: Vec<_> = listener.incoming().take(16).collect();
        drop(held);
    });
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "d.yaml",
        &deployment("a", &format!("{host}/acme/app:v1.0.0"), ""),
    );
    git_init(dir.path());
    let config = empty_docker_config();
    let r = gitops_bump()
        .env("DOCKER_CONFIG", &config.path().to_string_lossy())
        .args(["sync", "--dir"])
        .args([dir.path()])
        .args([
            "--insecure-registry",
            &host,
            "--deadline",
            "1s",
            "--output",
            "json",
        ])
        .run();
    assert_eq!(r.code, 1, "{r:?}");
    let doc = json(&r);
    let (verdict, _) = verdict(&doc, "d.yaml");
    assert_eq!(verdict, "unchecked", "{doc:#}");
    assert!(
        reference(&doc, "d.yaml")["message"]
            .as_str()
            .is_some_and(|m| m.contains("no answer within 1 s")),
        "{doc:#}"
    );
}

// See: issue #13 (item 8), the oversized sibling: a file over
// --max-file-size is never read whole, so sync reads the configuration
// first and searches that file for the configured repositories as it
// streams past.
#[test]
fn issue_13_an_oversized_file_holding_a_configured_image_fails_sync() {
    let reg = registry();
    let host = reg.host();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let old = deployment("a", &format!("{host}/acme/app:v1.0.0"), "");
    write(d, "ok/app.yaml", &old);
    let mut big = old.clone();
    while big.len() < 80 * 1024 {
        big.push_str("# padding padding padding padding padding padding padding\n");
    }
    write(d, "big.yaml", &big);
    write(
        d,
        ".gitops-bump.yaml",
        &format!("images:\n  - name: {host}/acme/app\n    policy: semver:^1\n"),
    );
    git_init(d);
    let before = snapshot(d);
    for apply in [false, true] {
        let mut args = vec!["--max-file-size", "64KiB"];
        if apply {
            args.push("--apply");
        }
        let r = sync(&reg, d, &args);
        assert_eq!(r.code, 1, "{r:?}");
        assert!(
            r.stderr.contains("error: big.yaml") && r.stderr.contains(&format!("{host}/acme/app")),
            "{}",
            r.stderr
        );
        assert_eq!(before, snapshot(d), "nothing written: {r:?}");
    }
}

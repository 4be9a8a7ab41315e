//! `set` verifying against the real registry through the binary: a missing
//! tag or platform fails with nothing written, `tag@digest` pins receive
//! the index digest, and credentials come from the docker config or
//! `--registry-auth` without the secret ever being printed.

use std::path::Path;

use crate::common::{Run, gitops_bump, snapshot};
use crate::registry_support::{
    Auth, Pushed, Registry, block_on, docker_config_with, empty_docker_config, write,
};

struct Fixture {
    reg: Registry,
    v1: Pushed,
    v2: Pushed,
    dir: tempfile::TempDir,
    docker_config: tempfile::TempDir,
}

/// A registry with `acme/app`: v1 and v2 are amd64+arm64 indexes, v3 is a
/// single amd64 image; and manifests that use v1 plainly and pinned.
fn fixture() -> Fixture {
    let reg = Registry::start();
    let p = reg.pusher();
    let both = ["linux/amd64", "linux/arm64/v8"];
    let v1 = block_on(p.index("acme/app", "v1", &both, "2024-01-01T00:00:00Z"));
    let v2 = block_on(p.index("acme/app", "v2", &both, "2024-02-01T00:00:00Z"));
    block_on(p.image(
        "acme/app",
        Some("v3"),
        "linux/amd64",
        "2024-03-01T00:00:00Z",
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let host = reg.host();
    write(
        dir.path(),
        "deploy.yaml",
        &format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: {host}/acme/app:v1 # keep me\n"
        ),
    );
    write(
        dir.path(),
        "pinned/kustomization.yaml",
        &format!(
            "images:\n  - name: {host}/acme/app\n    newTag: v1\n    digest: {}\n",
            v1.digest
        ),
    );
    Fixture {
        reg,
        v1,
        v2,
        dir,
        docker_config: empty_docker_config(),
    }
}

impl Fixture {
    fn set(&self, args: &[&str]) -> Run {
        gitops_bump()
            .env(
                "DOCKER_CONFIG",
                &self.docker_config.path().to_string_lossy(),
            )
            .args(["set", "--insecure-registry", &self.reg.host(), "--dir"])
            .args([self.dir.path()])
            .args(args)
            .run()
    }

    fn image(&self, tag: &str) -> String {
        format!("{}/acme/app:{tag}", self.reg.host())
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(rel)).expect("read")
    }
}

#[test]
fn registry_set_writes_tag_and_index_digest_for_pins() {
    let f = fixture();
    let r = f.set(&[
        "--platform",
        "linux/amd64,linux/arm64",
        "--output",
        "json",
        &f.image("v2"),
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        f.read("deploy.yaml")
            .contains(&format!("image: {} # keep me", f.image("v2")))
    );
    assert_eq!(
        f.read("pinned/kustomization.yaml"),
        format!(
            "images:\n  - name: {}/acme/app\n    newTag: v2\n    digest: {}\n",
            f.reg.host(),
            f.v2.digest
        ),
        "the pin gets the index digest, never a child's"
    );
    assert_ne!(f.v1.digest, f.v2.digest);
    let json: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(json["changed"], true);
    // HEAD v2, GET its index (platforms); HEAD v1, whose index the pin
    // is (so it moves to v2's index); nothing more.
    assert_eq!(json["registry"]["requests"], 3, "{}", r.stdout);
}

#[test]
fn registry_set_missing_tag_fails_and_writes_nothing() {
    let f = fixture();
    let before = snapshot(f.dir.path());
    let r = f.set(&[&f.image("v9")]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains(&format!(
            "error: {}: tag not found in the registry",
            f.image("v9")
        )),
        "{}",
        r.stderr
    );
    assert_eq!(before, snapshot(f.dir.path()));
}

#[test]
fn registry_set_missing_platform_fails_naming_it() {
    let f = fixture();
    let before = snapshot(f.dir.path());
    let r = f.set(&[
        "--platform",
        "linux/amd64",
        "--platform",
        "linux/arm64",
        &f.image("v3"),
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains(&format!(
            "error: {}/acme/app:v3 lacks platform linux/arm64 (it has: linux/amd64)",
            f.reg.host()
        )),
        "{}",
        r.stderr
    );
    assert_eq!(before, snapshot(f.dir.path()));
    // The same with --dry-run and JSON: the error is in the document.
    let r = f.set(&[
        "--dry-run",
        "--output",
        "json",
        "--platform",
        "linux/arm64",
        &f.image("v3"),
    ]);
    assert_eq!(r.code, 1);
    let json: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    assert!(
        json["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("lacks platform linux/arm64")),
        "{}",
        r.stdout
    );
}

#[test]
fn registry_set_explicit_digest_must_match_the_tag() {
    let f = fixture();
    let before = snapshot(f.dir.path());
    let wrong = format!("{}@{}", f.image("v2"), f.v1.digest);
    let r = f.set(&[&wrong]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("the tag moved or the digest is wrong"),
        "{}",
        r.stderr
    );
    assert_eq!(before, snapshot(f.dir.path()));
    let right = format!("{}@{}", f.image("v2"), f.v2.digest);
    let r = f.set(&["--dry-run", &right]);
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn registry_set_unknown_repository_and_unreachable_registry() {
    let f = fixture();
    let r = f.set(&[&format!("{}/acme/other:v1", f.reg.host())]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("repository not found in the registry (NAME_UNKNOWN)"),
        "{}",
        r.stderr
    );
}

#[test]
fn registry_set_credentials_from_docker_config_and_flag() {
    let f = fixture();
    let Fixture { reg, dir, .. } = f;
    let old_host = reg.host();
    let reg = reg.restart_with(&Auth::Htpasswd {
        user: "alice".into(),
        password: "pa55-word".into(),
    });
    let host = reg.host();
    // The manifests still name the old port; point them at the new one.
    for rel in ["deploy.yaml", "pinned/kustomization.yaml"] {
        let text = std::fs::read_to_string(dir.path().join(rel)).expect("read");
        let text = text.replace(&old_host, &host);
        std::fs::write(dir.path().join(rel), text).expect("write");
    }
    let image = format!("{host}/acme/app:v2");
    let run = |config: &Path, extra: &[&str], env: &[(&str, &str)]| {
        let mut cmd = gitops_bump()
            .env("DOCKER_CONFIG", &config.to_string_lossy())
            .args(["set", "--dry-run", "--insecure-registry", &host, "--dir"])
            .args([dir.path()])
            .args(extra)
            .args([&image]);
        for (k, v) in env {
            cmd = cmd.env(k, v);
        }
        cmd.run()
    };
    let empty = empty_docker_config();
    let r = run(empty.path(), &[], &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains(&format!(
            "{host}: unauthorized for acme/app (tried: anonymous"
        )),
        "{}",
        r.stderr
    );

    let config = docker_config_with(&host, "alice", "pa55-word");
    let r = run(config.path(), &[], &[]);
    assert_eq!(r.code, 0, "docker config: {r:?}");

    // credHelpers: docker_credential runs docker-credential-<name> get.
    let helpers = tempfile::tempdir().expect("tempdir");
    let helper = helpers.path().join("docker-credential-gbtest");
    std::fs::write(
        &helper,
        "#!/bin/sh\nread server\nprintf '{\"ServerURL\":\"%s\",\"Username\":\"alice\",\"Secret\":\"pa55-word\"}' \"$server\"\n",
    )
    .expect("write helper");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let with_helper = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        with_helper.path().join("config.json"),
        format!("{{\"credHelpers\": {{\"{host}\": \"gbtest\"}}}}"),
    )
    .expect("write config.json");
    let path = format!(
        "{}:{}",
        helpers.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let r = run(with_helper.path(), &[], &[("PATH", &path)]);
    assert_eq!(r.code, 0, "credHelpers: {r:?}");

    let flag = format!("{host}=alice:REG_PASSWORD");
    let r = run(
        empty.path(),
        &["--registry-auth", &flag],
        &[("REG_PASSWORD", "pa55-word")],
    );
    assert_eq!(r.code, 0, "--registry-auth: {r:?}");
    let r = run(
        empty.path(),
        &["--registry-auth", &flag],
        &[("REG_PASSWORD", "not-it-xyz")],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("tried: --registry-auth (password from $REG_PASSWORD)"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("not-it-xyz") && !r.stdout.contains("not-it-xyz"));
}

#[test]
fn registry_set_no_verify_stays_offline() {
    let f = fixture();
    // The registry is gone: --no-verify must not notice.
    let Fixture {
        reg,
        dir,
        docker_config,
        ..
    } = f;
    let host = reg.host();
    drop(reg);
    let r = gitops_bump()
        .env("DOCKER_CONFIG", &docker_config.path().to_string_lossy())
        .args([
            "set",
            "--no-verify",
            "--dry-run",
            "--files",
            "deploy.yaml",
            "--dir",
        ])
        .args([dir.path()])
        .args([format!("{host}/acme/app:v2")])
        .run();
    assert_eq!(r.code, 0, "{r:?}");
    // And the stale-digest refusal still holds offline.
    let r = gitops_bump()
        .env("DOCKER_CONFIG", &docker_config.path().to_string_lossy())
        .args(["set", "--no-verify", "--dry-run", "--dir"])
        .args([dir.path()])
        .args([format!("{host}/acme/app:v2")])
        .run();
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("with --no-verify the new digest is unknown"),
        "{}",
        r.stderr
    );
}

//! `explain IMAGE` against the real distribution registry through the
//! binary: platform checks that fall through to the next ranked tag,
//! newest-build over commit tags with different build times, the index
//! digest in JSON, `Link` pagination, the candidate cap, and clear errors.
//! See: issue #3.

use crate::common::{Run, gitops_bump};
use crate::registry_support::{Auth, PagingProxy, Pushed, Registry, block_on, empty_docker_config};

/// Runs `explain` with plain HTTP to `host` and no docker credentials.
fn explain(host: &str, args: &[&str]) -> Run {
    let config = empty_docker_config();
    gitops_bump()
        .env("DOCKER_CONFIG", &config.path().to_string_lossy())
        .args(["explain", "--insecure-registry", host])
        .args(args)
        .run()
}

fn json(r: &Run) -> serde_json::Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {r:?}"))
}

fn reason<'a>(doc: &'a serde_json::Value, tag: &str) -> &'a str {
    doc["candidates"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["tag"] == tag))
        .and_then(|c| c["reason"].as_str())
        .unwrap_or_else(|| panic!("no candidate {tag} in {doc}"))
}

/// `acme/app`: v1.0.0 and v1.1.0 are amd64+arm64 indexes; v1.2.0, the
/// newest, is an amd64-only index; plus a cosign signature tag.
fn multi_arch() -> (Registry, Pushed) {
    let reg = Registry::start();
    let p = reg.pusher();
    let both = ["linux/amd64", "linux/arm64/v8"];
    block_on(p.index("acme/app", "v1.0.0", &both, "2024-01-01T00:00:00Z"));
    let v110 = block_on(p.index("acme/app", "v1.1.0", &both, "2024-02-01T00:00:00Z"));
    block_on(p.index(
        "acme/app",
        "v1.2.0",
        &["linux/amd64"],
        "2024-03-01T00:00:00Z",
    ));
    block_on(p.image(
        "acme/app",
        Some("sha256-abc.sig"),
        "linux/amd64",
        "2024-03-01T00:00:00Z",
    ));
    (reg, v110)
}

#[test]
fn explain_registry_newest_lacks_arm64_so_the_next_tag_wins() {
    let (reg, v110) = multi_arch();
    let image = format!("{}/acme/app", reg.host());
    let r = explain(
        &reg.host(),
        &[&image, "--platform", "linux/arm64", "--output", "json"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let doc = json(&r);
    assert_eq!(doc["selected"]["tag"], "v1.1.0", "{doc}");
    assert_eq!(
        doc["selected"]["digest"], v110.digest,
        "the index digest, never a child's"
    );
    assert_eq!(reason(&doc, "v1.2.0"), "platform linux/arm64 missing");
    assert_eq!(reason(&doc, "v1.0.0"), "kept");
    assert!(reason(&doc, "sha256-abc.sig").starts_with("excluded"));
    // One tag page, then one GET by tag (digest and index together) for
    // v1.2.0 and for v1.1.0.
    assert_eq!(doc["registry"]["requests"], 3, "{doc}");

    // The text form shows the drop reason and the pinned winner.
    let r = explain(
        &reg.host(),
        &[&image, "--platform", "linux/amd64,linux/arm64"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("  drop v1.2.0 ")
                && l.ends_with("  platform linux/arm64 missing")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains(&format!("selected: v1.1.0@{}", v110.digest)),
        "{}",
        r.stdout
    );

    // No platform asked: the newest wins, with its digest from one HEAD.
    let r = explain(&reg.host(), &[&image, "--output", "json"]);
    assert_eq!(r.code, 0, "{r:?}");
    let doc = json(&r);
    assert_eq!(doc["selected"]["tag"], "v1.2.0");
    assert!(
        doc["selected"]["digest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:"))
    );
    assert_eq!(doc["registry"]["requests"], 2, "{doc}");

    // No tag has s390x: nothing selected, exit 1, every version dropped.
    let r = explain(
        &reg.host(),
        &[&image, "--platform", "linux/s390x", "--output", "json"],
    );
    assert_eq!(r.code, 1, "{r:?}");
    let doc = json(&r);
    assert_eq!(doc["selected"], serde_json::Value::Null);
    assert_eq!(reason(&doc, "v1.0.0"), "platform linux/s390x missing");

    // --max-candidates bounds the platform search.
    let r = explain(
        &reg.host(),
        &[
            &image,
            "--platform",
            "linux/s390x",
            "--max-candidates",
            "2",
            "--output",
            "json",
        ],
    );
    assert_eq!(r.code, 1, "{r:?}");
    let doc = json(&r);
    assert_eq!(reason(&doc, "v1.0.0"), "kept", "never tried: {doc}");
    assert!(
        doc["warnings"].to_string().contains("--max-candidates 2"),
        "{doc}"
    );
    assert!(
        doc["error"]
            .as_str()
            .is_some_and(|e| e.contains("first 2 ranked tags")),
        "{doc}"
    );
}

#[test]
fn explain_registry_follows_link_pagination() {
    let (reg, _) = multi_arch();
    // Pages of 1 tag: every page must be read to see v1.2.0 at all.
    let proxy = PagingProxy::start(&reg.host(), 1, false);
    let image = format!("{}/acme/app", proxy.host());
    let r = explain(&proxy.host(), &[&image, "--output", "json"]);
    assert_eq!(r.code, 0, "{r:?}");
    let doc = json(&r);
    assert_eq!(doc["candidates"].as_array().map(Vec::len), Some(4), "{doc}");
    assert_eq!(doc["selected"]["tag"], "v1.2.0");
    assert_eq!(proxy.count("/tags/list"), 4);
}

#[test]
fn explain_registry_newest_build_orders_commit_tags_by_build_time() {
    let reg = Registry::start();
    let p = reg.pusher();
    // Byte order and build order disagree on purpose.
    for (tag, created) in [
        ("sha-5b09d68", "2024-03-01T10:00:00Z"),
        ("sha-9f1c2e0", "2024-01-01T10:00:00Z"),
        ("sha-c0ffee1", "2024-02-01T10:00:00.123456789Z"),
    ] {
        block_on(p.image("acme/app", Some(tag), "linux/amd64", created));
    }
    let image = format!("{}/acme/app", reg.host());
    let r = explain(
        &reg.host(),
        &[
            &image,
            "--policy",
            "newest-build",
            "--filter",
            "^sha-",
            "--output",
            "json",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let doc = json(&r);
    assert_eq!(doc["selected"]["tag"], "sha-5b09d68", "{doc}");
    let key = |tag: &str| {
        doc["candidates"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["tag"] == tag))
            .map(|c| c["key"].clone())
    };
    assert_eq!(key("sha-c0ffee1"), Some("2024-02-01T10:00:00Z".into()));
    assert_eq!(doc["warnings"], serde_json::json!([]));

    // The cap keeps the last listed and says what it cut. The distribution
    // registry lists in no particular order; the proxy lists in byte order.
    let proxy = PagingProxy::start(&reg.host(), 100, false);
    let r = explain(
        &proxy.host(),
        &[
            &format!("{}/acme/app", proxy.host()),
            "--policy",
            "newest-build",
            "--max-candidates",
            "2",
            "--output",
            "json",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let doc = json(&r);
    assert_eq!(doc["selected"]["tag"], "sha-c0ffee1", "{doc}");
    assert!(
        reason(&doc, "sha-5b09d68").contains("beyond the first 2 candidates"),
        "{doc}"
    );
    assert!(
        doc["warnings"]
            .to_string()
            .contains("build times were fetched for only 2"),
        "{doc}"
    );

    // Two tags of one reproducible build tie; the byte-wise greatest wins.
    block_on(p.image(
        "acme/app",
        Some("sha-0000001"),
        "linux/amd64",
        "2024-03-01T10:00:00Z",
    ));
    let r = explain(
        &reg.host(),
        &[&image, "--policy", "newest-build", "--output", "json"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let doc = json(&r);
    assert_eq!(doc["selected"]["tag"], "sha-5b09d68");
    assert!(doc["warnings"].to_string().contains("same second"), "{doc}");
}

#[test]
fn explain_registry_errors_are_clear() {
    let (reg, _) = multi_arch();
    let host = reg.host();
    let r = explain(&host, &[&format!("{host}/acme/nope")]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("repository not found in the registry (NAME_UNKNOWN)"),
        "{}",
        r.stderr
    );

    // Usage errors are found before any request: exit 2 with nothing listening.
    let dead = format!("127.0.0.1:{}", crate::registry_support::free_port());
    for (args, needle) in [
        (
            vec!["--policy", "semver:1.x.y"],
            "--policy: invalid semver range",
        ),
        (vec!["--filter", "(x"], "--filter: invalid filter regex"),
        (
            vec!["--platform", "linux"],
            "--platform: platform \"linux\"",
        ),
        (vec!["--max-candidates", "0"], "--max-candidates"),
    ] {
        let image = format!("{dead}/acme/app");
        let r = explain(&dead, &[&[image.as_str()], args.as_slice()].concat());
        assert_eq!(r.code, 2, "{args:?}: {r:?}");
        assert!(r.stderr.contains(needle), "{needle}: {}", r.stderr);
    }
    let r = explain(&dead, &[&format!("{dead}/acme/app:v1")]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("without the tag \"v1\""), "{}", r.stderr);
    let r = explain(
        &dead,
        &["x", "--tags-from", "/dev/null", "--platform", "linux/amd64"],
    );
    assert_eq!(r.code, 2, "{r:?}");

    // Nothing listens: unreachable after bounded retries, exit 1.
    let r = explain(&dead, &[&format!("{dead}/acme/app")]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains(&format!("{dead}: registry unreachable: could not connect")),
        "{}",
        r.stderr
    );

    // Behind htpasswd without credentials: unauthorized, naming what was tried.
    let reg = reg.restart_with(&Auth::Htpasswd {
        user: "alice".into(),
        password: "pa55-word".into(),
    });
    let host = reg.host();
    let r = explain(&host, &[&format!("{host}/acme/app")]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains(&format!(
            "{host}: unauthorized for acme/app (tried: anonymous"
        )),
        "{}",
        r.stderr
    );
    // The same flags as set: --registry-auth takes the secret from the env.
    let r = gitops_bump()
        .env(
            "DOCKER_CONFIG",
            &empty_docker_config().path().to_string_lossy(),
        )
        .env("REG_PASSWORD", "pa55-word")
        .args(["explain", "--insecure-registry", &host])
        .args(["--registry-auth", &format!("{host}=alice:REG_PASSWORD")])
        .args([format!("{host}/acme/app")])
        .run();
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("selected: v1.2.0@sha256:"),
        "{}",
        r.stdout
    );
}

/// The action declares `selected-digest`; a workflow pins the digest
/// `explain` found through it. See: issue #8.
#[test]
fn issue_8_explain_writes_the_selected_digest_output() {
    let (reg, v110) = multi_arch();
    let image = format!("{}/acme/app", reg.host());
    let files = tempfile::tempdir().expect("tempdir");
    let output = files.path().join("output");
    std::fs::write(&output, "").expect("write");
    let config = empty_docker_config();
    let r = gitops_bump()
        .env("DOCKER_CONFIG", &config.path().to_string_lossy())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &output.to_string_lossy())
        .args(["explain", "--insecure-registry", &reg.host(), &image])
        .args(["--platform", "linux/arm64"])
        .run();
    assert_eq!(r.code, 0, "{r:?}");
    let written = std::fs::read_to_string(&output).expect("read");
    let value = written
        .split("selected-digest<<")
        .nth(1)
        .and_then(|rest| rest.lines().nth(1))
        .expect("a selected-digest output");
    assert_eq!(value, v110.digest, "{written}");
}

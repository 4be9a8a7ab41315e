//! `--verbose` and `GITOPS_BUMP_LOG` through the binary: a `set --repo`
//! run that verifies against the real registry (Basic auth) and commits
//! through the fake GitHub shows one line per request with method, host,
//! path and status, and never the token or the password; inside Actions
//! with `RUNNER_DEBUG=1` the same events are `::debug::` lines; without
//! either, stderr is exactly what it was. See: issue #13 (item 16).

use crate::common::{Run, gitops_bump};
use crate::fake_github::{self, FakeGitHub};
use crate::registry_support::{Auth, Registry, block_on, empty_docker_config};

const PASSWORD: &str = "pw-Verbose-never-printed-42";

struct Fixture {
    reg: Registry,
    fake: FakeGitHub,
    docker: tempfile::TempDir,
}

/// A registry behind htpasswd holding `acme/app:v1` and `v2`, and a fake
/// GitHub whose repository deploys `acme/app:v1` from it.
fn fixture() -> Fixture {
    let open = Registry::start();
    let p = open.pusher();
    block_on(p.image(
        "acme/app",
        Some("v1"),
        "linux/amd64",
        "2024-01-01T00:00:00Z",
    ));
    block_on(p.image(
        "acme/app",
        Some("v2"),
        "linux/amd64",
        "2024-02-01T00:00:00Z",
    ));
    let storage = open.storage();
    drop(open);
    let reg = Registry::start_on(
        storage,
        &Auth::Htpasswd {
            user: "alice".into(),
            password: PASSWORD.into(),
        },
    );
    let files = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        files.path().join("deploy.yaml"),
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: {}/acme/app:v1\n",
            reg.host()
        ),
    )
    .expect("write");
    let fake = FakeGitHub::start(files.path());
    Fixture {
        reg,
        fake,
        docker: empty_docker_config(),
    }
}

impl Fixture {
    fn set(&self, flags: &[&str], env: &[(&str, &str)]) -> Run {
        let host = self.reg.host();
        let mut cmd = gitops_bump()
            .env("GITHUB_TOKEN", fake_github::TOKEN)
            .env("GITHUB_API_URL", &self.fake.api_url())
            .env("GITHUB_GRAPHQL_URL", &self.fake.graphql_url())
            .env("DOCKER_CONFIG", &self.docker.path().to_string_lossy())
            .env("REG_PW", PASSWORD);
        for (k, v) in env {
            cmd = cmd.env(k, v);
        }
        cmd.args(flags)
            .args(["set", "--repo", "acme/gitops", "--branch", "main"])
            .args(["--insecure-registry", &host])
            .args(["--registry-auth", &format!("{host}=alice:REG_PW")])
            .args([format!("{host}/acme/app:v2")])
            .run()
    }

    fn assert_no_secret(&self, r: &Run) {
        for text in [&r.stdout, &r.stderr] {
            assert!(!text.contains(fake_github::TOKEN), "token in {text}");
            assert!(!text.contains(PASSWORD), "password in {text}");
            assert!(
                !text.to_ascii_lowercase().contains("authorization"),
                "{text}"
            );
            assert!(!text.contains("YWxpY2U6"), "a Basic header in {text}");
        }
    }
}

#[test]
fn issue_13_vv_shows_every_request_and_no_secret() {
    let f = fixture();
    let r = f.set(&["-vv"], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    f.assert_no_secret(&r);
    let host = f.reg.host();
    let head = r
        .stderr
        .lines()
        .find(|l| {
            l.starts_with("debug gitops_bump::registry::transport: registry request method=HEAD")
                && l.contains("status=200")
        })
        .unwrap_or_else(|| panic!("no registry HEAD line in\n{}", r.stderr));
    for field in [
        &format!("host={host}"),
        "path=\"/v2/acme/app/manifests/v2\"",
        "ms=",
        "attempt=1",
    ] {
        assert!(head.contains(field), "{field} in {head}");
    }
    assert!(
        r.stderr.contains("registry request method=HEAD") && r.stderr.contains("status=401"),
        "the challenge is shown too:\n{}",
        r.stderr
    );
    let api = f.fake.api_url();
    let api_host = api
        .trim_start_matches("http://")
        .split('/')
        .next()
        .expect("host");
    let github: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("debug gitops_bump::backend::github"))
        .collect();
    assert_eq!(
        github
            .iter()
            .filter(|l| l.contains("github request"))
            .count() as u64,
        f.fake.total(),
        "one line per API request:\n{}",
        r.stderr
    );
    assert!(
        github.iter().any(|l| l.contains("method=POST")
            && l.contains(&format!("host={api_host}"))
            && l.contains("status=200")),
        "{}",
        r.stderr
    );
    assert!(r.stdout.contains("committed "), "{}", r.stdout);

    // The same run without -v prints only the result: no log lines.
    let quiet = fixture().set(&[], &[]);
    assert_eq!(quiet.code, 0, "{quiet:?}");
    assert_eq!(quiet.stderr, "", "{quiet:?}");

    // -v is info: no request lines.
    let info = fixture().set(&["-v"], &[]);
    assert_eq!(info.code, 0, "{info:?}");
    assert!(!info.stderr.contains("registry request"), "{}", info.stderr);
}

#[test]
fn issue_13_gitops_bump_log_selects_targets_and_is_checked() {
    let f = fixture();
    let r = f.set(&[], &[("GITOPS_BUMP_LOG", "gitops_bump::registry=debug")]);
    assert_eq!(r.code, 0, "{r:?}");
    f.assert_no_secret(&r);
    assert!(
        r.stderr.contains("registry request method=HEAD"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("github request"), "{}", r.stderr);
    // It wins over -vv.
    let r = fixture().set(
        &["-vv"],
        &[("GITOPS_BUMP_LOG", "gitops_bump::backend=debug")],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("github request"), "{}", r.stderr);
    assert!(!r.stderr.contains("registry request"), "{}", r.stderr);
    // An invalid directive is a usage error naming the variable.
    let r = gitops_bump()
        .env("GITOPS_BUMP_LOG", "gitops_bump=loud")
        .args(["explain", "app", "--tags-from", "/dev/null"])
        .run();
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .starts_with("error: GITOPS_BUMP_LOG \"gitops_bump=loud\": "),
        "{}",
        r.stderr
    );
}

#[test]
fn issue_13_runner_debug_gives_debug_commands() {
    let f = fixture();
    let r = f.set(&[], &[("GITHUB_ACTIONS", "true"), ("RUNNER_DEBUG", "1")]);
    assert_eq!(r.code, 0, "{r:?}");
    f.assert_no_secret(&r);
    let debug: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("::debug::"))
        .collect();
    assert!(
        debug.iter().any(|l| l.starts_with(
            "::debug::gitops_bump::registry::transport: registry request method=HEAD"
        ) && l.contains("status=200")),
        "{}",
        r.stdout
    );
    assert!(
        debug
            .iter()
            .any(|l| l.starts_with("::debug::gitops_bump::backend::github")
                && l.contains("github request method=POST")),
        "{}",
        r.stdout
    );
    assert!(!r.stderr.contains("registry request"), "{}", r.stderr);
    // Inside Actions without RUNNER_DEBUG: none.
    let r = fixture().set(&[], &[("GITHUB_ACTIONS", "true")]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!r.stdout.contains("::debug::"), "{}", r.stdout);
}

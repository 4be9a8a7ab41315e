//! Structured GitHub logs: every request to the API is one `tracing` debug
//! event (target under `gitops_bump::backend::github`) with method, host,
//! path, GraphQL operation, status, milliseconds and attempt; every retry
//! one more with the reason and the wait; never the token. Captured with a
//! test subscriber around the library's GitHub backend (the binary
//! installs a subscriber that prints only warnings).
//! See: issue #13 (hardening, GitHub parts).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gitops_bump::backend::files::FileSelection;
use gitops_bump::backend::github::{ApiKind, Config, Endpoints, GitHub, RepoName};
use gitops_bump::backend::{Backend, FileChange, Target, Write};
use gitops_bump::commit::retry::RetrySettings;
use gitops_bump::secret::Secret;

use crate::fake_github::{self, FakeGitHub};
use crate::github::start;

/// A log sink for one test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// Runs `f` with every event of this thread, at every level and from every
/// crate, written to a buffer (without colours); returns the result and
/// the log.
pub(crate) fn capture<T>(f: impl FnOnce() -> T) -> (T, String) {
    let sink = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(sink.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::TRACE)
        .finish();
    let out = tracing::subscriber::with_default(subscriber, f);
    let log = String::from_utf8(sink.0.lock().expect("lock").clone()).expect("utf-8");
    (out, log)
}

/// The library's GitHub backend for `acme/gitops@main` on `fake`.
pub(crate) fn backend(fake: &FakeGitHub, api: ApiKind) -> GitHub {
    let config = Config {
        repo: RepoName::parse("acme/gitops").expect("valid"),
        branch: Some("main".into()),
        api,
        endpoints: Endpoints::resolve(Some(fake.api_url()), Some(fake.graphql_url()))
            .expect("loopback"),
        token: Secret::new(fake_github::TOKEN),
    };
    let retry = RetrySettings {
        max_attempts: 5,
        deadline: Duration::from_secs(60),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    GitHub::new(&config, retry, std::sync::Arc::new(runtime)).expect("backend")
}

/// Bumps the backend image in `base/deployment.yaml` through `gh`: read,
/// one write, verification. Returns the commit.
fn bump_once(gh: &mut GitHub, files: &FileSelection) -> String {
    let snapshot = gh.read(files).expect("read");
    let path = "base/deployment.yaml";
    let old = snapshot
        .files
        .iter()
        .find(|f| f.path == path)
        .map(|f| String::from_utf8(f.bytes.clone()).expect("utf-8"))
        .expect("read the deployment");
    let new = old.replace("backend:v1.3.0", "backend:v1.4.0");
    assert_ne!(old, new);
    let id = "6f2c1c56-3f57-4a43-9d1d-5c3c0b1f0e42";
    let write = Write {
        target: Target::Branch,
        changes: vec![FileChange {
            path: path.into(),
            old,
            new,
        }],
        message: format!("chore(gitops): bump\n\nGitops-Bump-Id: {id}\n"),
        id: id.into(),
    };
    let commit = gh
        .write(&snapshot, &write)
        .expect("write")
        .expect("a commit");
    let missing = gh.verify(&write, Some(&commit)).expect("verify");
    assert!(missing.is_empty(), "{missing:?}");
    commit
}

/// Returns the lines of `log` that are GitHub request events.
fn requests(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains("github request"))
        .collect()
}

#[test]
fn issue_13_every_github_request_is_one_event_and_never_the_token() {
    let fake = start();
    // The first request (the listing, safe to repeat) fails once.
    fake.faults().server_errors.push_back(502);
    let host = fake.url.trim_start_matches("http://").to_owned();
    for api in [ApiKind::Graphql, ApiKind::Rest] {
        let mut gh = backend(&fake, api);
        let files = FileSelection::new(&[], 5 * 1024 * 1024).expect("valid");
        let (commit, log) = capture(|| bump_once(&mut gh, &files));
        assert_eq!(fake.repo().head("main"), Some(commit));
        let lines = requests(&log);
        assert_eq!(
            Some(lines.len() as u64),
            gh.api_requests(),
            "{api:?}: one event per request\n{log}"
        );
        for l in &lines {
            for field in [
                "gitops_bump::backend::github",
                "method=",
                &format!("host={host}"),
                "path=/api/",
                "ms=",
                "attempt=",
            ] {
                assert!(l.contains(field), "{api:?}: {field} in {l}");
            }
            assert!(l.contains("status="), "{api:?}: {l}");
        }
        let graphql: Vec<&&str> = lines
            .iter()
            .filter(|l| l.contains("path=/api/graphql"))
            .collect();
        assert!(
            graphql
                .iter()
                .any(|l| l.contains("operation=\"ReadFiles\"") && l.contains("status=200")),
            "{log}"
        );
        assert!(
            graphql.iter().all(|l| l.contains("operation=")),
            "every GraphQL request names its operation: {log}"
        );
        match api {
            ApiKind::Graphql => assert!(
                graphql
                    .iter()
                    .any(|l| l.contains("operation=\"CreateCommit\"")),
                "{log}"
            ),
            ApiKind::Rest => assert!(
                lines.iter().any(|l| l.contains("method=PATCH")
                    && l.contains("path=/api/v3/repos/acme/gitops/git/refs/heads/main")),
                "{log}"
            ),
        }
        assert!(!log.contains(fake_github::TOKEN), "the token leaked: {log}");
        assert!(!log.to_ascii_lowercase().contains("bearer"), "{log}");
        // Put main back for the next API.
        let initial = fake
            .repo()
            .history("refs/heads/main", 10)
            .last()
            .cloned()
            .expect("initial");
        fake.force_push("main", &initial);
    }
}

#[test]
fn issue_13_retries_say_why_and_how_long_they_wait() {
    let fake = start();
    fake.faults().server_errors.push_back(502);
    fake.faults().secondary_limits = 1;
    let mut gh = backend(&fake, ApiKind::Graphql);
    let files = FileSelection::new(&["base/deployment.yaml".into()], 1 << 20).expect("valid");
    let (_, log) = capture(|| gh.read(&files).expect("read"));
    let retries: Vec<&str> = log.lines().filter(|l| l.contains("github retry")).collect();
    assert_eq!(retries.len(), 2, "{log}");
    assert!(
        retries[0].contains("reason=secondary rate limit (HTTP 403, retry-after 1s)")
            && retries[0].contains("wait_ms=1000"),
        "{log}"
    );
    assert!(
        retries[1].contains("reason=HTTP 502") && retries[1].contains("wait_ms="),
        "{log}"
    );
    for r in &retries {
        assert!(
            r.contains("operation=\"ReadFiles\"") && r.contains("path=/api/graphql"),
            "{r}"
        );
    }
    // The user still sees each retry as a warning.
    assert_eq!(
        log.lines().filter(|l| l.contains(" WARN ")).count(),
        2,
        "{log}"
    );
    let statuses: Vec<&str> = requests(&log)
        .iter()
        .map(|l| {
            let at = l.find("status=").expect("status");
            l[at..].split_whitespace().next().unwrap_or("")
        })
        .collect();
    assert_eq!(
        statuses,
        ["status=403", "status=502", "status=200"],
        "{log}"
    );
}

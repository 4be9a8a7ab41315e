//! Structured registry logs: every request is one `tracing` event with
//! method, host, path, status and milliseconds, retries say why and how long
//! they wait, and an authenticated run's log holds no password, no Basic
//! header and no token. Captured with a test subscriber (the binary installs
//! none).

use std::sync::{Arc, Mutex};

use base64::Engine;
use gitops_bump::registry::{FlagCredential, RegistryOptions, Secret};

use crate::registry::{client, options, repo};
use crate::registry_support::{
    Auth, Fault, FaultProxy, Registry, TokenServer, UNAVAILABLE, block_on,
};

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
/// crate, written to a buffer; returns the result and the log.
fn capture<T>(f: impl FnOnce() -> T) -> (T, String) {
    let sink = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(sink.clone())
        .with_max_level(tracing::Level::TRACE)
        .finish();
    let out = tracing::subscriber::with_default(subscriber, f);
    let log = String::from_utf8(sink.0.lock().expect("lock").clone()).expect("utf-8");
    (out, log)
}

fn with_password(host: &str, password: &str) -> RegistryOptions {
    RegistryOptions {
        credentials: vec![FlagCredential {
            host: host.to_owned(),
            username: "alice".into(),
            password: Secret::new(password),
            env_var: "REG_PW".into(),
        }],
        ..options(&[host])
    }
}

/// Returns the lines of `log` that are registry request events.
fn requests(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains("registry request"))
        .collect()
}

#[test]
fn registry_logs_every_request_and_never_a_secret() {
    const PASSWORD: &str = "pw-Zq8-never-logged";
    let reg = Registry::start();
    let p = reg.pusher();
    let pushed = block_on(p.index(
        "private/app",
        "v1",
        &["linux/amd64"],
        "2024-01-01T00:00:00Z",
    ));
    let tokens = TokenServer::start("alice", PASSWORD);
    let storage = reg.storage();
    drop(reg);

    // Basic auth (htpasswd): the password travels in every request.
    let basic = Registry::start_on(
        storage.clone(),
        &Auth::Htpasswd {
            user: "alice".into(),
            password: PASSWORD.into(),
        },
    );
    let host = basic.host();
    let c = client(with_password(&host, PASSWORD));
    let r = repo(&host, "private/app");
    let (_, basic_log) = capture(|| {
        block_on(async {
            let d = c.digest_of(&r, "v1").await.expect("v1").digest;
            c.platforms(&r, &d).await.expect("platforms");
            c.list_tags(&r).await.expect("tags");
        })
    });
    let lines = requests(&basic_log);
    assert_eq!(lines.len() as u64, c.stats().requests, "{basic_log}");
    let head = lines
        .iter()
        .find(|l| l.contains("method=HEAD") && !l.contains("status=401"))
        .unwrap_or_else(|| panic!("no HEAD in {basic_log}"));
    for field in [
        &format!("host={host}"),
        "path=\"/v2/private/app/manifests/v1\"",
        "status=200",
        "ms=",
        "attempt=1",
    ] {
        assert!(head.contains(field), "{field} in {head}");
    }
    assert!(
        basic_log.contains("status=401"),
        "the challenge is logged too"
    );
    drop(basic);

    // Bearer tokens: the password goes to the token server, the token to
    // the registry.
    let bearer = Registry::start_on(
        storage,
        &Auth::Token {
            realm: tokens.realm(),
            cert_pem: tokens.cert_pem.clone(),
        },
    );
    let host = bearer.host();
    let c = client(with_password(&host, PASSWORD));
    let r = repo(&host, "private/app");
    let (_, bearer_log) = capture(|| {
        block_on(async {
            let d = c.digest_of(&r, "v1").await.expect("v1").digest;
            assert_eq!(d, pushed.digest);
            c.platforms(&r, &d).await.expect("platforms");
        })
    });
    assert!(
        bearer_log.contains(&format!("host=127.0.0.1:{}", tokens.port))
            && bearer_log.contains("path=\"/token\""),
        "the token request is logged: {bearer_log}"
    );
    let issued = tokens.issued.lock().expect("lock").clone();
    assert!(!issued.is_empty());
    let basic_header =
        base64::engine::general_purpose::STANDARD.encode(format!("alice:{PASSWORD}"));
    for log in [&basic_log, &bearer_log] {
        assert!(!log.contains(PASSWORD), "password in {log}");
        assert!(!log.contains(&basic_header), "Basic header in {log}");
        assert!(!log.contains("scope="), "token query in {log}");
        assert!(!log.to_ascii_lowercase().contains("authorization"), "{log}");
        for token in &issued {
            // Any 16 characters of the signature would do; the whole
            // token and its signature are the obvious leaks.
            let signature = token.rsplit('.').next().expect("jwt");
            assert!(
                !log.contains(token.as_str()) && !log.contains(signature),
                "token in {log}"
            );
        }
    }
}

#[test]
fn registry_logs_say_why_a_retry_waits() {
    let reg = Registry::start();
    block_on(reg.pusher().image(
        "acme/app",
        Some("v1"),
        "linux/amd64",
        "2024-01-01T00:00:00Z",
    ));
    let proxy = FaultProxy::start(&reg.host(), vec![Fault::Respond(UNAVAILABLE)], false);
    let c = client(options(&[&proxy.host()]));
    let (got, log) = capture(|| block_on(c.digest_of(&repo(&proxy.host(), "acme/app"), "v1")));
    got.expect("recovers");
    let retry = log
        .lines()
        .find(|l| l.contains("registry retry"))
        .unwrap_or_else(|| panic!("no retry event in {log}"));
    for field in ["method=HEAD", "reason=HTTP 503", "wait_ms=", "attempt=1"] {
        assert!(retry.contains(field), "{field} in {retry}");
    }
    let lines = requests(&log);
    assert_eq!(lines.len(), 2, "{log}");
    assert!(
        lines[0].contains("status=503") && lines[1].contains("attempt=2"),
        "{log}"
    );
}

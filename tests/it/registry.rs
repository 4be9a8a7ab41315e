//! The registry client against the real distribution registry: pagination,
//! digests, indexes and platforms, Basic and Bearer auth, per-run caching,
//! and recovery from faults (429, 503, dropped and stalled connections).

use std::sync::atomic::Ordering;
use std::time::Duration;

use gitops_bump::reference::Repository;
use gitops_bump::registry::{
    Client, FlagCredential, Platform, RegistryError, RegistryOptions, RetryPolicy, Secret,
};

use crate::registry_support::{
    Auth, Fault, FaultProxy, PagingProxy, Registry, TOO_MANY, TokenServer, UNAVAILABLE, block_on,
};

/// Options for loopback tests: plain HTTP, no docker config, short timeouts
/// and a short retry deadline so every failure ends quickly.
pub(crate) fn options(hosts: &[&str]) -> RegistryOptions {
    RegistryOptions {
        insecure: hosts.iter().map(|h| h.to_string()).collect(),
        use_docker_config: false,
        request_timeout: Duration::from_secs(2),
        retry: RetryPolicy {
            max_retries: 3,
            min_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(200),
            deadline: Duration::from_secs(5),
        },
        ..RegistryOptions::default()
    }
}

pub(crate) fn repo(host: &str, path: &str) -> Repository {
    Repository::parse(&format!("{host}/{path}")).expect("repository")
}

pub(crate) fn client(opts: RegistryOptions) -> Client {
    Client::new(opts).expect("client")
}

#[test]
fn registry_tags_follow_link_pagination_relative_and_absolute() {
    let reg = Registry::start();
    let tags: Vec<String> = (0..260).map(|i| format!("1.0.{i}")).collect();
    block_on(reg.pusher().many_tags("acme/many", &tags, 8));
    let mut want = tags.clone();
    want.sort();

    // Relative Link URLs, pages capped at 100 by the "registry".
    let relative = PagingProxy::start(&reg.host(), 100, false);
    let c = client(RegistryOptions {
        page_size: 1000,
        ..options(&[&relative.host()])
    });
    let r = repo(&relative.host(), "acme/many");
    let mut got = block_on(c.list_tags(&r)).expect("tags").to_vec();
    got.sort();
    assert_eq!(got, want);
    assert_eq!(relative.count("/tags/list"), 3, "{:?}", relative.seen);
    // Cached for the run: no second listing.
    block_on(c.list_tags(&r)).expect("tags");
    assert_eq!(relative.count("/tags/list"), 3);

    // Absolute Link URLs, and our own smaller page size.
    let absolute = PagingProxy::start(&reg.host(), 100, true);
    let c = client(RegistryOptions {
        page_size: 50,
        ..options(&[&absolute.host()])
    });
    let got = block_on(c.list_tags(&repo(&absolute.host(), "acme/many"))).expect("tags");
    assert_eq!(got.len(), 260);
    assert_eq!(absolute.count("/tags/list"), 6, "{:?}", absolute.seen);
    assert_eq!(c.stats().requests, 6);
}

#[test]
fn registry_resolves_index_digests_platforms_and_configs_once() {
    let reg = Registry::start();
    let p = reg.pusher();
    let index = block_on(p.index(
        "acme/app",
        "v1",
        &["linux/amd64", "linux/arm64/v8"],
        "2024-05-01T10:00:00Z",
    ));
    let single = block_on(p.image(
        "acme/app",
        Some("v2"),
        "linux/amd64",
        "2024-06-01T10:00:00Z",
    ));
    let proxy = PagingProxy::start(&reg.host(), 100, false);
    let c = client(options(&[&proxy.host()]));
    let r = repo(&proxy.host(), "acme/app");
    block_on(async {
        let v1 = c.digest_of(&r, "v1").await.expect("v1");
        assert_eq!(v1.digest, index.digest, "the index digest, not a child's");
        let plats = c.platforms(&r, &v1.digest).await.expect("platforms");
        let want: Vec<Platform> = ["linux/amd64", "linux/arm64"]
            .iter()
            .map(|p| Platform::parse(p).expect("platform"))
            .collect();
        assert_eq!(plats, want, "arm64/v8 ≡ arm64; unknown/unknown dropped");
        let amd64 = Platform::parse("linux/amd64").expect("platform");
        assert_eq!(
            c.created(&r, &v1.digest, Some(&amd64))
                .await
                .expect("created"),
            Some("2024-05-01T10:00:00Z".into())
        );

        let v2 = c.digest_of(&r, "v2").await.expect("v2");
        assert_eq!(v2.digest, single.digest);
        assert_eq!(
            c.platforms(&r, &v2.digest).await.expect("platforms"),
            vec![amd64],
            "a single-arch image's platform comes from its config"
        );
        // A digest resolves too (HEAD by digest).
        assert_eq!(
            c.digest_of(&r, &index.digest)
                .await
                .expect("by digest")
                .digest,
            index.digest
        );

        let before = c.stats().requests;
        c.digest_of(&r, "v1").await.expect("cached");
        c.platforms(&r, &v1.digest).await.expect("cached");
        c.platforms(&r, &v2.digest).await.expect("cached");
        c.created(
            &r,
            &v1.digest,
            Some(&Platform::parse("linux/amd64").expect("p")),
        )
        .await
        .expect("cached");
        assert_eq!(c.stats().requests, before, "nothing is fetched twice");
    });
    // HEAD for tags; GET only for the index, the child and configs.
    assert_eq!(proxy.count("HEAD /v2/acme/app/manifests/v1"), 1);
    assert_eq!(proxy.count("GET /v2/acme/app/manifests/v1"), 0);
}

#[test]
fn registry_errors_name_what_is_missing() {
    let reg = Registry::start();
    block_on(reg.pusher().image(
        "acme/app",
        Some("v1"),
        "linux/amd64",
        "2024-01-01T00:00:00Z",
    ));
    let c = client(options(&[&reg.host()]));
    block_on(async {
        let e = c
            .digest_of(&repo(&reg.host(), "acme/app"), "v9")
            .await
            .expect_err("missing tag");
        assert!(matches!(e, RegistryError::TagNotFound { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            format!("{}/acme/app:v9: tag not found in the registry", reg.host())
        );
        let e = c
            .list_tags(&repo(&reg.host(), "acme/nope"))
            .await
            .expect_err("missing repository");
        assert!(e.to_string().contains("NAME_UNKNOWN"), "{e}");
        let e = c
            .digest_of(&repo(&reg.host(), "acme/nope"), "v1")
            .await
            .expect_err("missing repository");
        assert!(e.to_string().contains("NAME_UNKNOWN"), "{e}");
    });
    // Nothing listens on this port: unreachable, after bounded retries.
    let dead = format!("127.0.0.1:{}", crate::registry_support::free_port());
    let c = client(options(&[&dead]));
    let e = block_on(c.digest_of(&repo(&dead, "acme/app"), "v1")).expect_err("unreachable");
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!("{dead}: registry unreachable: could not connect")),
        "{msg}"
    );
    assert!(msg.contains("attempt(s)"), "{msg}");
    // Plain HTTP is used only for hosts named insecure: HTTPS to a plain
    // HTTP registry fails clearly instead of silently downgrading.
    let c = client(options(&[]));
    let e = block_on(c.digest_of(&repo(&reg.host(), "acme/app"), "v1")).expect_err("https");
    assert!(matches!(e, RegistryError::Unreachable { .. }), "{e:?}");
}

#[test]
fn registry_htpasswd_basic_auth() {
    let reg = Registry::start();
    let pushed = block_on(reg.pusher().image(
        "private/app",
        Some("v1"),
        "linux/amd64",
        "2024-01-01T00:00:00Z",
    ));
    let reg = reg.restart_with(&Auth::Htpasswd {
        user: "alice".into(),
        password: "s3cret-pw".into(),
    });
    let r = repo(&reg.host(), "private/app");
    let with = |password: &str| RegistryOptions {
        credentials: vec![FlagCredential {
            host: reg.host(),
            username: "alice".into(),
            password: Secret::new(password),
            env_var: "REG_PW".into(),
        }],
        ..options(&[&reg.host()])
    };
    let c = client(with("s3cret-pw"));
    block_on(async {
        assert_eq!(
            c.digest_of(&r, "v1").await.expect("v1").digest,
            pushed.digest
        );
        let tags = c.list_tags(&r).await.expect("tags");
        assert_eq!(*tags, vec!["v1".to_owned()]);
    });
    // One challenge, then Basic up front for the rest of the run.
    assert_eq!(c.stats().requests, 3);

    let e = block_on(client(with("wrong")).digest_of(&r, "v1")).expect_err("wrong password");
    let msg = e.to_string();
    assert!(
        msg.contains("unauthorized") && msg.contains("--registry-auth (password from $REG_PW)"),
        "{msg}"
    );
    assert!(!msg.contains("wrong"), "never the secret: {msg}");
    let e = block_on(client(options(&[&reg.host()])).digest_of(&r, "v1")).expect_err("anonymous");
    assert!(e.to_string().contains("tried: anonymous"), "{e}");
}

#[test]
fn registry_bearer_token_flow_with_real_token_auth() {
    let tokens = TokenServer::start("bob", "t0ken-pw");
    let reg = Registry::start();
    let p = reg.pusher();
    let public = block_on(p.index("public/app", "v1", &["linux/amd64"], "2024-01-01T00:00:00Z"));
    let private = block_on(p.image(
        "private/app",
        Some("v1"),
        "linux/amd64",
        "2024-01-01T00:00:00Z",
    ));
    let reg = reg.restart_with(&Auth::Token {
        realm: tokens.realm(),
        cert_pem: tokens.cert_pem.clone(),
    });
    let host = reg.host();

    // Anonymous token for a public repository.
    let c = client(options(&[&host]));
    block_on(async {
        let r = repo(&host, "public/app");
        assert_eq!(
            c.digest_of(&r, "v1").await.expect("v1").digest,
            public.digest
        );
        c.platforms(&r, &public.digest).await.expect("platforms");
        c.list_tags(&r).await.expect("tags");
    });
    assert_eq!(
        tokens.requests.load(Ordering::SeqCst),
        1,
        "one token per scope"
    );
    let e = block_on(c.digest_of(&repo(&host, "private/app"), "v1")).expect_err("private");
    assert!(
        e.to_string()
            .contains("unauthorized for private/app (tried: anonymous"),
        "{e}"
    );

    // Credentials go to the token server, not the registry.
    let c = client(RegistryOptions {
        credentials: vec![FlagCredential {
            host: host.clone(),
            username: "bob".into(),
            password: Secret::new("t0ken-pw"),
            env_var: "TOKEN_PW".into(),
        }],
        ..options(&[&host])
    });
    let before = tokens.requests.load(Ordering::SeqCst);
    block_on(async {
        let r = repo(&host, "private/app");
        assert_eq!(
            c.digest_of(&r, "v1").await.expect("v1").digest,
            private.digest
        );
        c.platforms(&r, &private.digest).await.expect("platforms");
        let r2 = repo(&host, "public/app");
        c.digest_of(&r2, "v1")
            .await
            .expect("public with credentials");
    });
    assert_eq!(
        tokens.requests.load(Ordering::SeqCst) - before,
        2,
        "two scopes"
    );
    assert!(
        tokens
            .subjects
            .lock()
            .expect("lock")
            .contains(&"bob".to_owned())
    );
}

#[test]
fn registry_recovers_from_429_503_and_dropped_connections() {
    let reg = Registry::start();
    let pushed = block_on(reg.pusher().image(
        "acme/app",
        Some("v1"),
        "linux/amd64",
        "2024-01-01T00:00:00Z",
    ));
    for (name, faults) in [
        ("429 with Retry-After", vec![Fault::Respond(TOO_MANY)]),
        (
            "503 twice",
            vec![Fault::Respond(UNAVAILABLE), Fault::Respond(UNAVAILABLE)],
        ),
        ("dropped connection", vec![Fault::Drop]),
        ("stalled past the timeout", vec![Fault::Stall]),
    ] {
        let proxy = FaultProxy::start(&reg.host(), faults.clone(), false);
        let c = client(RegistryOptions {
            request_timeout: Duration::from_millis(500),
            ..options(&[&proxy.host()])
        });
        let got = block_on(c.digest_of(&repo(&proxy.host(), "acme/app"), "v1"));
        assert_eq!(got.expect(name).digest, pushed.digest, "{name}");
        assert_eq!(
            proxy.connections.load(Ordering::SeqCst),
            faults.len() + 1,
            "{name}: one retry per fault"
        );
    }
}

#[test]
fn registry_gives_up_clearly_within_the_deadline() {
    let reg = Registry::start();
    let short = |host: &str| RegistryOptions {
        request_timeout: Duration::from_millis(300),
        retry: RetryPolicy {
            max_retries: 2,
            min_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(50),
            deadline: Duration::from_secs(3),
        },
        ..options(&[host])
    };
    let cases: [(&str, Fault, &str); 3] = [
        (
            "503 forever",
            Fault::Respond(UNAVAILABLE),
            "server error HTTP 503 after 3 attempt(s)",
        ),
        (
            "stall forever",
            Fault::Stall,
            "registry unreachable: no answer within 0.3 s",
        ),
        (
            "drop forever",
            Fault::Drop,
            "registry unreachable: the connection failed",
        ),
    ];
    for (name, fault, needle) in cases {
        let proxy = FaultProxy::start(&reg.host(), vec![fault], true);
        let e = block_on(
            client(short(&proxy.host())).digest_of(&repo(&proxy.host(), "acme/app"), "v1"),
        )
        .expect_err(name);
        assert!(e.to_string().contains(needle), "{name}: {e}");
    }
    // A Retry-After beyond the deadline fails at once, saying how long.
    const LONG: &str = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3600\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    let proxy = FaultProxy::start(&reg.host(), vec![Fault::Respond(LONG)], true);
    let e =
        block_on(client(short(&proxy.host())).digest_of(&repo(&proxy.host(), "acme/app"), "v1"))
            .expect_err("rate limited");
    assert!(
        e.to_string()
            .contains("rate limited (HTTP 429), the registry asks to wait 3600 s"),
        "{e}"
    );
    assert_eq!(proxy.connections.load(Ordering::SeqCst), 1);
}

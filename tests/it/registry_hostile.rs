//! The registry client against hostile registries, one test per kind of
//! fault an attack on loopback found: `Link` headers to another origin (and
//! endless ones), tag names that break the tag grammar, answers of any
//! size, forged indexes, and redirects to another origin or from https to
//! http. The real registry serves everything it can (auth, blobs through
//! its own `redirect` middleware, TLS through a tunnel); proxies and small
//! servers on loopback add only the fault itself.

use std::sync::atomic::Ordering;

use gitops_bump::registry::{
    self, CONFIG_LIMIT, FlagCredential, MANIFEST_LIMIT, MAX_TAG_PAGES, RegistryError,
    RegistryOptions, Secret, TAG_PAGE_LIMIT, transport::TOKEN_LIMIT,
};

use crate::common::gitops_bump;
use crate::registry::{client, options, repo};
use crate::registry_support::{
    Auth, BodyServer, OCI_INDEX, PagingProxy, Recorder, Registry, TlsFront, TokenServer, Twist,
    block_on, empty_docker_config, free_port, sha256,
};

const CREATED: &str = "2024-01-01T00:00:00Z";
const PASSWORD: &str = "s3cret-pw-hostile";

/// What a server may produce before the client's stop reaches it: the
/// client's limit plus socket buffers, far below what was offered.
const STREAM_BOUND: usize = 64 << 20;

/// Options with Basic credentials for `host` and plain HTTP to `insecure`.
fn with_password(host: &str, insecure: &[&str]) -> RegistryOptions {
    RegistryOptions {
        credentials: vec![FlagCredential {
            host: host.to_owned(),
            username: "alice".into(),
            password: Secret::new(PASSWORD),
            env_var: "REG_PW".into(),
        }],
        ..options(insecure)
    }
}

/// A registry holding `acme/app:v1`, then restarted with htpasswd auth.
fn private_registry() -> Registry {
    let reg = Registry::start();
    block_on(
        reg.pusher()
            .image("acme/app", Some("v1"), "linux/amd64", CREATED),
    );
    reg.restart_with(&Auth::Htpasswd {
        user: "alice".into(),
        password: PASSWORD.into(),
    })
}

fn protocol_message(e: RegistryError) -> String {
    match e {
        RegistryError::Protocol { ref message, .. } => message.clone(),
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

#[test]
fn hostile_link_to_another_origin_is_refused_without_credentials() {
    let reg = private_registry();
    let evil = Recorder::start(None);
    let cases = [
        (
            "absolute Link to another host:port",
            format!(
                "<http://{}/v2/acme/app/tags/list?n=100&last=v1>; rel=\"next\"",
                evil.host()
            ),
            evil.host(),
        ),
        (
            "another repository on the same origin",
            "</v2/acme/other/tags/list?n=100&last=v1>; rel=\"next\"".to_owned(),
            "/v2/acme/other/tags/list".to_owned(),
        ),
    ];
    for (name, link, named) in cases {
        let proxy =
            PagingProxy::start_with(&reg.host(), 100, false, vec![Twist::TagLink(link.clone())]);
        let c = client(with_password(&proxy.host(), &[&proxy.host(), &evil.host()]));
        let e = block_on(c.list_tags(&repo(&proxy.host(), "acme/app"))).expect_err(name);
        let msg = protocol_message(e);
        assert!(
            msg.contains("the Link header points to") && msg.contains(&named),
            "{name}: {msg}"
        );
        // The 401 challenge, then the authorized first page: no other page.
        assert_eq!(proxy.count("/tags/list"), 2, "{name}");
    }
    assert_eq!(evil.requests(), vec![], "nothing reaches the other origin");

    // Bearer: the token is for the registry only.
    let tokens = TokenServer::start("alice", PASSWORD);
    let open = Registry::start();
    block_on(
        open.pusher()
            .image("acme/app", Some("v1"), "linux/amd64", CREATED),
    );
    let reg = open.restart_with(&Auth::Token {
        realm: tokens.realm(),
        cert_pem: tokens.cert_pem.clone(),
    });
    let link = format!(
        "<http://{}/v2/acme/app/tags/list?last=v1>; rel=\"next\"",
        evil.host()
    );
    let proxy = PagingProxy::start_with(&reg.host(), 100, false, vec![Twist::TagLink(link)]);
    let c = client(with_password(&proxy.host(), &[&proxy.host(), &evil.host()]));
    let e = block_on(c.list_tags(&repo(&proxy.host(), "acme/app"))).expect_err("bearer");
    assert!(protocol_message(e).contains(&evil.host()));
    assert_eq!(
        tokens.issued.lock().expect("lock").len(),
        1,
        "the token was used"
    );
    assert_eq!(evil.requests(), vec![], "the token never left the registry");
}

#[test]
fn hostile_link_from_https_to_http_is_refused() {
    let reg = private_registry();
    let evil = Recorder::start(None);
    // https://front → proxy (adds the Link) → the real registry. The Link
    // names the front itself over plain HTTP, or another origin.
    let front_port = free_port();
    for (name, target) in [
        (
            "the same host and port over plain HTTP",
            format!("127.0.0.1:{front_port}"),
        ),
        ("another origin over plain HTTP", evil.host()),
    ] {
        let link = format!("<http://{target}/v2/acme/app/tags/list?n=100&last=v1>; rel=\"next\"");
        let proxy = PagingProxy::start_with(&reg.host(), 100, false, vec![Twist::TagLink(link)]);
        let front = TlsFront::start_on(front_port, &proxy.host());
        let c = client(RegistryOptions {
            ca_certificates: vec![front.ca_pem.clone().into_bytes()],
            ..with_password(&front.host(), &[&evil.host()])
        });
        let r = repo(&front.host(), "acme/app");
        // HTTPS itself works: the tag resolves through the TLS front.
        block_on(c.digest_of(&r, "v1")).expect("over https");
        let e = block_on(c.list_tags(&r)).expect_err(name);
        let msg = protocol_message(e);
        assert!(
            msg.contains(&format!(
                "the Link header points to \"http://{target}/v2/acme/app/tags/list\""
            )) && msg.contains(&format!("outside https://{}", front.host())),
            "{name}: {msg}"
        );
        assert_eq!(proxy.count("/tags/list"), 1, "{name}");
    }
    assert_eq!(evil.requests(), vec![]);
}

#[test]
fn hostile_link_loops_are_bounded() {
    let reg = Registry::start();
    block_on(
        reg.pusher()
            .image("acme/app", Some("v1"), "linux/amd64", CREATED),
    );
    // Every page names a new next page: stop at the page bound.
    let proxy = PagingProxy::start_with(&reg.host(), 100, false, vec![Twist::EndlessLinks]);
    let c = client(options(&[&proxy.host()]));
    let e = block_on(c.list_tags(&repo(&proxy.host(), "acme/app"))).expect_err("endless");
    assert!(
        protocol_message(e).contains(&format!("after {MAX_TAG_PAGES} pages")),
        "endless Link"
    );
    assert_eq!(proxy.count("/tags/list"), MAX_TAG_PAGES);
    assert_eq!(c.stats().requests, MAX_TAG_PAGES as u64);

    // A Link back to the first page ends the listing there.
    let proxy = PagingProxy::start_with(
        &reg.host(),
        100,
        false,
        vec![Twist::TagLink(
            "</v2/acme/app/tags/list?n=100>; rel=\"next\"".into(),
        )],
    );
    let c = client(options(&[&proxy.host()]));
    let tags = block_on(c.list_tags(&repo(&proxy.host(), "acme/app"))).expect("self link");
    assert_eq!(*tags, vec!["v1".to_owned()]);
    assert_eq!(proxy.count("/tags/list"), 1);
}

/// Tags a hostile registry lists: workflow commands, terminal escapes,
/// line breaks, and names the grammar forbids.
fn hostile_tags() -> Vec<String> {
    vec![
        "v3.0.0\r::warning::pwned".into(),
        "##[warning]injected".into(),
        "\u{1b}[2Jv9.9.9".into(),
        "v9.9.9\n".into(),
        "v9.9.9 ".into(),
        "-v9.9.9".into(),
        ".v9.9.9".into(),
        "v9.9.9/x".into(),
        "v9.9.9\u{202e}".into(),
        "9".repeat(129),
    ]
}

#[test]
fn hostile_tags_breaking_the_grammar_are_dropped_and_counted() {
    let reg = Registry::start();
    let p = reg.pusher();
    for tag in ["v1.0.0", "v2.0.0"] {
        block_on(p.image("acme/app", Some(tag), "linux/amd64", CREATED));
    }
    let hostile = hostile_tags();
    let proxy = PagingProxy::start_with(
        &reg.host(),
        100,
        false,
        vec![Twist::ExtraTags(hostile.clone())],
    );
    let c = client(options(&[&proxy.host()]));
    let r = repo(&proxy.host(), "acme/app");
    let listing = block_on(c.tag_listing(&r)).expect("listing");
    assert_eq!(
        *listing.tags,
        vec!["v1.0.0".to_owned(), "v2.0.0".to_owned()]
    );
    assert_eq!(listing.invalid, hostile.len());
    assert_eq!(
        listing.invalid_examples.len(),
        registry::INVALID_TAG_EXAMPLES
    );
    for example in &listing.invalid_examples {
        assert!(
            example.starts_with('"') && example.chars().all(|c| c == ' ' || c.is_ascii_graphic()),
            "{example:?}"
        );
    }
    let stats = c.stats();
    assert_eq!(stats.invalid_tags_dropped, hostile.len() as u64);
    assert_eq!(stats.invalid_tag_examples, listing.invalid_examples);
    // A hostile string never reaches a request either.
    let e = block_on(c.digest_of(&r, "v3.0.0\r::warning::pwned")).expect_err("invalid tag");
    assert!(matches!(e, RegistryError::InvalidReference { .. }), "{e:?}");
    assert!(!e.to_string().contains('\r'), "{e}");

    // Through the binary, as a GitHub Actions step: nothing hostile reaches
    // stdout, stderr or $GITHUB_OUTPUT, and JSON counts the drops.
    let config = empty_docker_config();
    let out = tempfile::tempdir().expect("tempdir");
    let output = out.path().join("output");
    std::fs::write(&output, "").expect("output file");
    let image = format!("{}/acme/app", proxy.host());
    for format in ["text", "json"] {
        let run = gitops_bump()
            .env("DOCKER_CONFIG", &config.path().to_string_lossy())
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_OUTPUT", &output.to_string_lossy())
            .args(["explain", "--insecure-registry", &proxy.host(), &image])
            .args(["--output", format])
            .run();
        assert_eq!(run.code, 0, "{run:?}");
        let written = std::fs::read_to_string(&output).expect("output");
        for text in [&run.stdout, &run.stderr, &written] {
            for needle in ["\r", "\u{1b}", "\u{202e}"] {
                assert!(!text.contains(needle), "{format}: {needle:?} in {text:?}");
            }
            // The runner reads a command from a line's start; escaped
            // examples inside a JSON string are not one.
            for line in text.lines().map(str::trim_start) {
                if line.starts_with("::") || line.starts_with("##[") {
                    for needle in ["pwned", "injected", "v9.9.9"] {
                        assert!(!line.contains(needle), "{format}: {line:?}");
                    }
                }
            }
        }
        for needle in ["pwned", "injected", "v9.9.9", "##["] {
            assert!(!written.contains(needle), "$GITHUB_OUTPUT: {written:?}");
        }
        assert!(written.contains("v2.0.0"), "{written}");
        if format == "text" {
            assert!(
                run.stderr.contains(&format!(
                    "warning: the registry listed {} tag(s) that break the OCI tag grammar; they were dropped",
                    hostile.len()
                )),
                "{}",
                run.stderr
            );
        }
        if format == "json" {
            let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
            assert_eq!(doc["selected"]["tag"], "v2.0.0", "{doc}");
            assert_eq!(
                doc["registry"]["invalid_tags_dropped"],
                hostile.len(),
                "{doc}"
            );
            assert_eq!(doc["candidates"].as_array().map(Vec::len), Some(2), "{doc}");
        }
    }
}

#[test]
fn hostile_answers_of_any_size_fail_once_at_the_limit() {
    let reg = Registry::start();
    let pushed = block_on(
        reg.pusher()
            .image("acme/app", Some("v1"), "linux/amd64", CREATED),
    );
    let body = |path: &str, len: Option<u64>, declare: bool| {
        vec![Twist::Body {
            path: path.into(),
            status: 200,
            len,
            declare,
        }]
    };
    let gib2 = Some(2 << 30);
    let cases: Vec<(&str, Vec<Twist>, &str, &str, usize)> = vec![
        (
            "endless manifest",
            body("/manifests/", None, false),
            "resolve",
            "/v2/acme/app/manifests/v1",
            MANIFEST_LIMIT,
        ),
        (
            "2 GiB manifest, declared",
            body("/manifests/", gib2, true),
            "resolve",
            "/v2/acme/app/manifests/v1",
            MANIFEST_LIMIT,
        ),
        (
            "2 GiB manifest, not declared",
            body("/manifests/", gib2, false),
            "resolve",
            "/v2/acme/app/manifests/v1",
            MANIFEST_LIMIT,
        ),
        (
            "endless tag page",
            body("/tags/list", None, false),
            "tags",
            "/v2/acme/app/tags/list",
            TAG_PAGE_LIMIT,
        ),
        (
            "endless config blob",
            body("/blobs/", None, false),
            "created",
            "/v2/acme/app/blobs/",
            CONFIG_LIMIT,
        ),
    ];
    for (name, twists, call, path, limit) in cases {
        let proxy = PagingProxy::start_with(&reg.host(), 100, false, twists);
        let c = client(options(&[&proxy.host()]));
        let r = repo(&proxy.host(), "acme/app");
        let e = block_on(async {
            match call {
                "resolve" => c.digest_of(&r, "v1").await.map(drop),
                "tags" => c.list_tags(&r).await.map(drop),
                _ => c.created(&r, &pushed.digest, None).await.map(drop),
            }
        })
        .expect_err(name);
        match &e {
            RegistryError::TooLarge {
                path: p, limit: l, ..
            } => {
                assert!(p.starts_with(path), "{name}: {p}");
                assert_eq!(*l, limit, "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }
        let msg = e.to_string();
        assert!(msg.contains(path) && msg.contains("MiB"), "{name}: {msg}");
        let gets = proxy.count(&format!("GET {path}"));
        assert_eq!(gets, 1, "{name}: one GET, no retry: {:?}", proxy.seen);
        let streamed = proxy.streamed.load(Ordering::SeqCst);
        assert!(streamed < STREAM_BOUND, "{name}: {streamed} bytes produced");
    }

    // A token server that never stops talking.
    let endless = BodyServer::start(200, None, false);
    let cert = TokenServer::start("x", "y").cert_pem.clone();
    let storage = reg.storage();
    drop(reg);
    let reg = Registry::start_on(
        storage,
        &Auth::Token {
            realm: endless.realm(),
            cert_pem: cert,
        },
    );
    let c = client(options(&[
        &reg.host(),
        &format!("127.0.0.1:{}", endless.port),
    ]));
    let e = block_on(c.digest_of(&repo(&reg.host(), "acme/app"), "v1")).expect_err("token");
    assert!(
        matches!(&e, RegistryError::TooLarge { path, limit, .. } if path == "/token" && *limit == TOKEN_LIMIT),
        "{e:?}"
    );
    assert_eq!(endless.requests.load(Ordering::SeqCst), 1);
    assert!(endless.streamed.load(Ordering::SeqCst) < STREAM_BOUND);
}

#[test]
fn hostile_error_bodies_are_cut_not_refused() {
    let reg = Registry::start();
    block_on(
        reg.pusher()
            .image("acme/app", Some("v1"), "linux/amd64", CREATED),
    );
    let proxy = PagingProxy::start_with(
        &reg.host(),
        100,
        false,
        vec![Twist::Body {
            path: "/manifests/".into(),
            status: 404,
            len: None,
            declare: false,
        }],
    );
    let c = client(options(&[&proxy.host()]));
    let e = block_on(c.digest_of(&repo(&proxy.host(), "acme/app"), "v9")).expect_err("404");
    assert!(matches!(e, RegistryError::TagNotFound { .. }), "{e:?}");
    assert!(proxy.streamed.load(Ordering::SeqCst) < STREAM_BOUND);
}

/// An OCI index with `children` entries, each `(digest, platform JSON)`.
fn index_body(children: &[(String, serde_json::Value)]) -> Vec<u8> {
    let manifests: Vec<serde_json::Value> = children
        .iter()
        .map(|(digest, platform)| {
            serde_json::json!({
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": digest,
                "size": 100,
                "platform": platform,
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": manifests,
    }))
    .expect("json")
}

/// A proxy that serves `body` as `acme/app:v1` and under its digest.
fn forged(reg: &Registry, body: &[u8]) -> PagingProxy {
    let serve = |suffix: String| Twist::Serve {
        suffix,
        media_type: OCI_INDEX.into(),
        body: body.to_vec(),
    };
    PagingProxy::start_with(
        &reg.host(),
        100,
        false,
        vec![
            serve("/manifests/v1".into()),
            serve(format!("/manifests/{}", sha256(body))),
        ],
    )
}

#[test]
fn hostile_indexes_never_reach_a_url_or_a_message_raw() {
    let reg = Registry::start();
    let amd64 = serde_json::json!({"os": "linux", "architecture": "amd64"});

    // 15,000 distinct platforms (under the 4 MiB cap), one of them with a
    // workflow command for an OS: the list is kept, the hostile one
    // dropped, and a message shows the first few.
    let mut children: Vec<(String, serde_json::Value)> = (0..15_000)
        .map(|i| {
            (
                sha256(format!("{i}").as_bytes()),
                serde_json::json!({"os": "linux", "architecture": "amd64", "variant": format!("v{i}")}),
            )
        })
        .collect();
    children.push((
        sha256(b"hostile"),
        serde_json::json!({"os": "linux\r::error::pwned", "architecture": "amd64"}),
    ));
    let body = index_body(&children);
    assert!(body.len() < MANIFEST_LIMIT);
    let proxy = forged(&reg, &body);
    let c = client(options(&[&proxy.host()]));
    let r = repo(&proxy.host(), "acme/app");
    let platforms = block_on(async {
        let d = c.digest_of(&r, "v1").await.expect("v1").digest;
        c.platforms(&r, &d).await.expect("platforms")
    });
    assert_eq!(platforms.len(), 15_000);
    assert!(platforms.iter().all(|p| p.os() == "linux"));
    let shown = registry::shown_list(&platforms, 5);
    assert!(shown.ends_with(", … and 14995 more"), "{shown}");
    assert!(shown.len() < 200, "{shown}");

    // A child "digest" that would move the next request elsewhere.
    let body = index_body(&[
        (sha256(b"x"), amd64.clone()),
        ("../../../other/app/manifests/latest".into(), amd64.clone()),
    ]);
    let proxy = forged(&reg, &body);
    let c = client(options(&[&proxy.host()]));
    let r = repo(&proxy.host(), "acme/app");
    let e = block_on(async {
        let d = c.digest_of(&r, "v1").await.expect("v1").digest;
        c.platforms(&r, &d).await
    })
    .expect_err("bad child digest");
    assert!(
        protocol_message(e)
            .contains("manifest names \"../../../other/app/manifests/latest\" as a digest")
    );
    assert_eq!(proxy.count("/other/"), 0, "{:?}", proxy.seen);

    // An index over the cap is refused from its Content-Length.
    let many: Vec<(String, serde_json::Value)> = (0..40_000)
        .map(|i| (sha256(format!("{i}").as_bytes()), amd64.clone()))
        .collect();
    let body = index_body(&many);
    assert!(body.len() > MANIFEST_LIMIT);
    let proxy = forged(&reg, &body);
    let c = client(options(&[&proxy.host()]));
    let r = repo(&proxy.host(), "acme/app");
    let e = block_on(async {
        let d = c.digest_of(&r, "v1").await.expect("v1").digest;
        c.platforms(&r, &d).await
    })
    .expect_err("too large");
    assert!(
        matches!(&e, RegistryError::TooLarge { limit, .. } if *limit == MANIFEST_LIMIT),
        "{e:?}"
    );
    assert!(e.to_string().contains("larger than 4 MiB"), "{e}");
}

#[test]
fn hostile_redirects_keep_credentials_home_and_never_downgrade() {
    // The real registry sends blob downloads to a CDN (its `redirect`
    // storage middleware), behind htpasswd auth.
    let open = Registry::start();
    let pushed = block_on(
        open.pusher()
            .image("acme/app", Some("v1"), "linux/amd64", CREATED),
    );
    let storage = open.storage();
    drop(open);
    let cdn = Recorder::start(Some(storage.path()));
    let reg = Registry::start_redirecting(
        storage,
        &Auth::Htpasswd {
            user: "alice".into(),
            password: PASSWORD.into(),
        },
        &format!("http://{}", cdn.host()),
    );
    let r = repo(&reg.host(), "acme/app");
    let c = client(with_password(&reg.host(), &[&reg.host(), &cdn.host()]));
    let created = block_on(c.created(&r, &pushed.digest, None)).expect("config through the CDN");
    assert_eq!(created.as_deref(), Some(CREATED));
    let seen = cdn.requests();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0]
            .0
            .starts_with("GET /docker/registry/v2/blobs/sha256/"),
        "{seen:?}"
    );
    assert_eq!(seen[0].1, None, "no credentials for the CDN");

    // The same registry over HTTPS: the CDN is plain HTTP, so the blob
    // redirect is a downgrade and is refused before anything is sent.
    let front = TlsFront::start(&reg.host());
    let r = repo(&front.host(), "acme/app");
    let c = client(RegistryOptions {
        ca_certificates: vec![front.ca_pem.clone().into_bytes()],
        ..with_password(&front.host(), &[&cdn.host()])
    });
    let e = block_on(c.created(&r, &pushed.digest, None)).expect_err("downgrade");
    let msg = protocol_message(e);
    assert!(
        msg.contains(&format!(
            "refused a redirect from https to http://{} (plain HTTP)",
            cdn.host()
        )),
        "{msg}"
    );
    assert_eq!(cdn.requests().len(), 1, "no second CDN request");

    // A manifest sent to another origin is refused: only blobs (checked
    // against their digest) may come from a CDN.
    let evil = Recorder::start(None);
    let proxy = PagingProxy::start_with(
        &reg.host(),
        100,
        false,
        vec![Twist::Redirect {
            path: "/manifests/".into(),
            location: format!("http://{}/v2/acme/app/manifests/v1", evil.host()),
        }],
    );
    let c = client(with_password(&proxy.host(), &[&proxy.host(), &evil.host()]));
    let e = block_on(c.digest_of(&repo(&proxy.host(), "acme/app"), "v1")).expect_err("manifest");
    let msg = protocol_message(e);
    assert!(
        msg.contains(&format!(
            "refused a redirect to another origin (http://{})",
            evil.host()
        )),
        "{msg}"
    );
    assert_eq!(evil.requests(), vec![]);
}

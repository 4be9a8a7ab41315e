//! Test support for the real registry: starts Debian's `docker-registry`
//! (the CNCF distribution registry) on a free loopback port with temporary
//! storage, pushes images through the HTTP API, and runs small loopback
//! helpers in front of it:
//!
//! - [`PagingProxy`]: the distribution registry 2.8 ignores `?n=` on tag
//!   lists and never sends `Link`, so this proxy pages its real tag list the
//!   way GHCR and Docker Hub do (capped pages, `Link: rel="next"`, relative
//!   or absolute) and forwards everything else untouched;
//! - [`FaultProxy`]: a TCP tunnel whose first connections misbehave (429,
//!   503, dropped, stalled);
//! - [`TokenServer`]: a distribution token issuer (ES256 JWTs with an `x5c`
//!   chain) that the real registry is configured to trust;
//! - hostile parts for what the real registry cannot do wrong by itself:
//!   [`Twist`]s of the paging proxy (a `Link` elsewhere, endless `Link`s,
//!   invalid tags, huge or endless bodies, forged manifests, redirects),
//!   [`Recorder`] (another origin that records what reaches it, and serves
//!   the registry's storage as a blob CDN), [`BodyServer`] (endless answers)
//!   and [`TlsFront`] (HTTPS in front of the registry, with its own CA).
//!
//! Every wait is bounded; every server stops when dropped.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use sha2::Digest;

/// Runs a future on a fresh current-thread runtime.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// How the registry authenticates.
pub enum Auth {
    /// Anyone may pull and push.
    None,
    /// htpasswd Basic auth with one user.
    Htpasswd { user: String, password: String },
    /// Bearer tokens from a token server.
    Token { realm: String, cert_pem: String },
}

/// A running `docker-registry serve`, killed on drop.
pub struct Registry {
    child: Child,
    pub port: u16,
    storage: Arc<tempfile::TempDir>,
    conf: tempfile::TempDir,
}

impl Registry {
    /// Starts an open registry with empty storage.
    pub fn start() -> Registry {
        Registry::start_on(Arc::new(tempfile::tempdir().expect("tempdir")), &Auth::None)
    }

    /// Starts a registry over `storage` with `auth`.
    pub fn start_on(storage: Arc<tempfile::TempDir>, auth: &Auth) -> Registry {
        Registry::start_with(storage, auth, "")
    }

    /// Starts a registry over `storage` with `auth` that redirects blob
    /// downloads to `cdn` (`http://HOST:PORT`) with distribution's `redirect`
    /// storage middleware, as registries backed by S3 or a CDN do. The CDN
    /// must serve [`Registry::storage`] (see [`Recorder::start`]).
    pub fn start_redirecting(storage: Arc<tempfile::TempDir>, auth: &Auth, cdn: &str) -> Registry {
        Registry::start_with(
            storage,
            auth,
            &format!(
                "middleware:\n  storage:\n    - name: redirect\n      options:\n        baseurl: {cdn}\n"
            ),
        )
    }

    /// The storage directory (shared by restarts).
    pub fn storage(&self) -> Arc<tempfile::TempDir> {
        self.storage.clone()
    }

    /// Starts a registry over `storage` with `auth` and `extra` YAML
    /// appended to its configuration.
    pub fn start_with(storage: Arc<tempfile::TempDir>, auth: &Auth, extra: &str) -> Registry {
        let bin = registry_binary();
        let conf = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let auth_yaml = match auth {
            Auth::None => String::new(),
            Auth::Htpasswd { user, password } => {
                let hash = bcrypt::hash(password, 4).expect("bcrypt");
                let path = conf.path().join("htpasswd");
                std::fs::write(&path, format!("{user}:{hash}\n")).expect("write htpasswd");
                format!(
                    "auth:\n  htpasswd:\n    realm: test-realm\n    path: {}\n",
                    path.display()
                )
            }
            Auth::Token { realm, cert_pem } => {
                let path = conf.path().join("root.pem");
                std::fs::write(&path, cert_pem).expect("write cert");
                format!(
                    "auth:\n  token:\n    realm: {realm}\n    service: test-registry\n    issuer: test-issuer\n    rootcertbundle: {}\n",
                    path.display()
                )
            }
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: gitops-bump-tests\n{auth_yaml}{extra}",
            storage.path().display()
        );
        let config_path = conf.path().join("config.yml");
        std::fs::write(&config_path, config).expect("write config");
        let log = std::fs::File::create(conf.path().join("log")).expect("log file");
        let child = Command::new(bin)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start docker-registry");
        let mut registry = Registry {
            child,
            port,
            storage,
            conf,
        };
        registry.wait_ready();
        registry
    }

    /// Stops this registry and starts another over the same storage with
    /// `auth` (images are pushed while it is open, then auth is turned on).
    pub fn restart_with(self, auth: &Auth) -> Registry {
        let storage = self.storage.clone();
        drop(self);
        Registry::start_on(storage, auth)
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn wait_ready(&mut self) {
        for _ in 0..200 {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "docker-registry exited with {status}: {}",
                    std::fs::read_to_string(self.conf.path().join("log")).unwrap_or_default()
                );
            }
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
                let _ = s.write_all(b"GET /v2/ HTTP/1.0\r\nHost: localhost\r\n\r\n");
                let mut buf = [0u8; 12];
                if s.read_exact(&mut buf).is_ok() && buf.starts_with(b"HTTP/1.") {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "docker-registry did not answer on port {} within 10 s",
            self.port
        );
    }

    /// A pusher for this registry (Basic credentials optional).
    pub fn pusher(&self) -> Pusher {
        Pusher::new(&self.host())
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `docker-registry` binary, or a panic that says how to get it.
pub fn registry_binary() -> PathBuf {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/bin")])
        .map(|d| d.join("docker-registry"))
        .find(|p| p.is_file());
    found.unwrap_or_else(|| {
        panic!(
            "docker-registry is not installed; the registry tests need the real registry. \
             Run scripts/test (it installs Debian's docker-registry), or \
             apt-get update && apt-get install -y docker-registry"
        )
    })
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Pushes blobs and manifests through the distribution HTTP API.
pub struct Pusher {
    base: String,
    http: reqwest::Client,
    basic: Option<(String, String)>,
}

/// A pushed manifest.
#[derive(Clone, Debug)]
pub struct Pushed {
    pub digest: String,
    pub media_type: &'static str,
    pub size: usize,
}

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

impl Pusher {
    pub fn new(host: &str) -> Pusher {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Pusher {
            base: format!("http://{host}"),
            http: reqwest::Client::builder().build().expect("client"),
            basic: None,
        }
    }

    /// Uploads a blob (POST, then a monolithic PUT); returns its digest.
    pub async fn blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = sha256(bytes);
        let r = self
            .auth(
                self.http
                    .post(format!("{}/v2/{repo}/blobs/uploads/", self.base)),
            )
            .send()
            .await
            .expect("POST upload");
        assert_eq!(r.status().as_u16(), 202, "start upload {repo}");
        let location = r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .expect("Location")
            .to_owned();
        let mut url = reqwest::Url::parse(&self.base)
            .expect("base")
            .join(&location)
            .expect("location");
        url.query_pairs_mut().append_pair("digest", &digest);
        let r = self
            .auth(self.http.put(url))
            .header("content-type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .await
            .expect("PUT blob");
        assert_eq!(r.status().as_u16(), 201, "finish upload {repo}");
        digest
    }

    /// PUTs a manifest under `reference` (a tag or its digest).
    pub async fn manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &'static str,
        body: &[u8],
    ) -> Pushed {
        let r = self
            .auth(
                self.http
                    .put(format!("{}/v2/{repo}/manifests/{reference}", self.base)),
            )
            .header("content-type", media_type)
            .body(body.to_vec())
            .send()
            .await
            .expect("PUT manifest");
        let status = r.status().as_u16();
        assert_eq!(
            status,
            201,
            "PUT {repo}:{reference}: {}",
            r.text().await.unwrap_or_default()
        );
        Pushed {
            digest: sha256(body),
            media_type,
            size: body.len(),
        }
    }

    /// Pushes a single-platform image (config + manifest, no layers) and
    /// tags it when `tag` is given. `platform` is `os/arch[/variant]`.
    pub async fn image(
        &self,
        repo: &str,
        tag: Option<&str>,
        platform: &str,
        created: &str,
    ) -> Pushed {
        let body = image_manifest(&self.config(repo, platform, created).await);
        let digest = sha256(&body);
        self.manifest(repo, tag.unwrap_or(&digest), OCI_MANIFEST, &body)
            .await
    }

    /// Pushes one image per platform, plus a BuildKit-style attestation
    /// entry (`unknown/unknown`), and an OCI index of them under `tag`.
    pub async fn index(&self, repo: &str, tag: &str, platforms: &[&str], created: &str) -> Pushed {
        let mut entries = Vec::new();
        for p in platforms.iter().chain(["unknown/unknown"].iter()) {
            let child = self.image(repo, None, p, created).await;
            let mut parts = p.split('/');
            let (os, arch, variant) = (parts.next(), parts.next(), parts.next());
            let mut platform = serde_json::json!({"os": os, "architecture": arch});
            if let Some(v) = variant {
                platform["variant"] = v.into();
            }
            entries.push(serde_json::json!({
                "mediaType": child.media_type,
                "digest": child.digest,
                "size": child.size,
                "platform": platform,
            }));
        }
        let body = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": entries,
        }))
        .expect("json");
        self.manifest(repo, tag, OCI_INDEX, &body).await
    }

    /// Tags one small image under every tag in `tags` (one manifest PUT
    /// each, `concurrency` at a time).
    pub async fn many_tags(&self, repo: &str, tags: &[String], concurrency: usize) {
        let body = image_manifest(
            &self
                .config(repo, "linux/amd64", "2024-01-01T00:00:00Z")
                .await,
        );
        let mut set = tokio::task::JoinSet::new();
        let this = Arc::new(Pusher {
            base: self.base.clone(),
            http: self.http.clone(),
            basic: self.basic.clone(),
        });
        for chunk in tags.chunks(tags.len().div_ceil(concurrency.max(1)).max(1)) {
            let (this, body, repo, chunk) =
                (this.clone(), body.clone(), repo.to_owned(), chunk.to_vec());
            set.spawn(async move {
                for t in chunk {
                    this.manifest(&repo, &t, OCI_MANIFEST, &body).await;
                }
            });
        }
        while let Some(r) = set.join_next().await {
            r.expect("push task");
        }
    }

    async fn config(&self, repo: &str, platform: &str, created: &str) -> Descriptor {
        let mut parts = platform.split('/');
        let (os, arch, variant) = (parts.next(), parts.next(), parts.next());
        let mut config = serde_json::json!({
            "architecture": arch,
            "os": os,
            "created": created,
            "rootfs": {"type": "layers", "diff_ids": []},
            "config": {},
        });
        if let Some(v) = variant {
            config["variant"] = v.into();
        }
        let bytes = serde_json::to_vec(&config).expect("json");
        Descriptor {
            digest: self.blob(repo, &bytes).await,
            size: bytes.len(),
        }
    }

    fn auth(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.basic {
            Some((u, p)) => req.basic_auth(u, Some(p)),
            None => req,
        }
    }
}

struct Descriptor {
    digest: String,
    size: usize,
}

fn image_manifest(config: &Descriptor) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config.digest,
            "size": config.size,
        },
        "layers": [],
    }))
    .expect("json")
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", sha2::Sha256::digest(bytes))
}

/// A loopback server on its own thread and runtime, stopped on drop.
struct Background {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Background {
    fn spawn<F, Fut>(listener: TcpListener, serve: F) -> Background
    where
        F: FnOnce(tokio::net::TcpListener, tokio::sync::oneshot::Receiver<()>) -> Fut
            + Send
            + 'static,
        Fut: std::future::Future<Output = ()>,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        listener.set_nonblocking(true).expect("nonblocking");
        let thread = std::thread::spawn(move || {
            block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                serve(listener, rx).await;
            })
        });
        Background {
            stop: Some(tx),
            thread: Some(thread),
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Pages the real registry's tag lists like GHCR and Docker Hub, and
/// forwards every other request unchanged, except where a [`Twist`] says
/// otherwise. Records every request it sees.
pub struct PagingProxy {
    pub port: u16,
    /// `METHOD path?query` of every request, in order.
    pub seen: Arc<Mutex<Vec<String>>>,
    /// Body bytes produced by [`Twist::Body`] answers so far.
    pub streamed: Arc<AtomicUsize>,
    _server: Background,
}

/// A way for the proxy to misbehave, as a hostile registry would.
#[derive(Clone, Debug)]
pub enum Twist {
    /// Every tag-list answer carries this `Link` header value.
    TagLink(String),
    /// Every tag-list answer names a next page that was never seen before
    /// (`?last=pN`), forever; answered without the registry.
    EndlessLinks,
    /// These tags are added to every tag list.
    ExtraTags(Vec<String>),
    /// GETs whose path contains `path` get `status` and a body of `len`
    /// bytes (endless when None; `Content-Length` only when `declare`).
    /// HEADs get the status and no digest.
    Body {
        path: String,
        status: u16,
        len: Option<u64>,
        declare: bool,
    },
    /// GETs and HEADs whose path ends with `suffix` get `body` as a
    /// manifest with its digest.
    Serve {
        suffix: String,
        media_type: String,
        body: Vec<u8>,
    },
    /// Requests whose path contains `path` are redirected (307) to `location`.
    Redirect { path: String, location: String },
    /// Tag-list pages after the first (a `last=` query) of repositories
    /// whose path contains `path` get `status` and an empty body: a listing
    /// that fails mid-pagination.
    FailLaterPages { path: String, status: u16 },
}

struct ProxyState {
    upstream: String,
    page_cap: usize,
    absolute_links: bool,
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
    streamed: Arc<AtomicUsize>,
    twists: Vec<Twist>,
    endless: AtomicUsize,
    http: reqwest::Client,
}

impl PagingProxy {
    /// Starts a proxy to `upstream` (`host:port`) serving at most
    /// `page_cap` tags per page, with absolute or relative `Link` URLs.
    pub fn start(upstream: &str, page_cap: usize, absolute_links: bool) -> PagingProxy {
        PagingProxy::start_with(upstream, page_cap, absolute_links, Vec::new())
    }

    /// Starts a proxy like [`PagingProxy::start`] that also applies `twists`.
    pub fn start_with(
        upstream: &str,
        page_cap: usize,
        absolute_links: bool,
        twists: Vec<Twist>,
    ) -> PagingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let streamed = Arc::new(AtomicUsize::new(0));
        let _ = rustls::crypto::ring::default_provider().install_default();
        let state = Arc::new(ProxyState {
            upstream: upstream.to_owned(),
            page_cap,
            absolute_links,
            port,
            seen: seen.clone(),
            streamed: streamed.clone(),
            twists,
            endless: AtomicUsize::new(0),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
        });
        let server = Background::spawn(listener, move |listener, stop| async move {
            let app = axum::Router::new().fallback(proxy).with_state(state);
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.await;
                })
                .await;
        });
        PagingProxy {
            port,
            seen,
            streamed,
            _server: server,
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Requests seen whose line contains `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.seen
            .lock()
            .expect("lock")
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }
}

/// A body of `len` bytes (endless when None) in 64 KiB chunks, counted in
/// `streamed` as they are produced.
fn filler(len: Option<u64>, streamed: Arc<AtomicUsize>) -> axum::body::Body {
    const CHUNK: usize = 64 << 10;
    static SPACES: [u8; CHUNK] = [b' '; CHUNK];
    let stream = futures_util::stream::unfold(0u64, move |sent| {
        let streamed = streamed.clone();
        async move {
            let n = match len {
                Some(len) if sent >= len => return None,
                Some(len) => (len - sent).min(CHUNK as u64) as usize,
                None => CHUNK,
            };
            streamed.fetch_add(n, Ordering::SeqCst);
            Some((
                Ok::<_, std::io::Error>(bytes::Bytes::from_static(&SPACES[..n])),
                sent + n as u64,
            ))
        }
    });
    axum::body::Body::from_stream(stream)
}

fn filler_response(
    status: u16,
    len: Option<u64>,
    declare: bool,
    head: bool,
    streamed: Arc<AtomicUsize>,
) -> axum::response::Response {
    let body = if head {
        axum::body::Body::empty()
    } else {
        filler(len, streamed)
    };
    let mut resp = axum::response::Response::new(body);
    *resp.status_mut() = axum::http::StatusCode::from_u16(status).expect("status");
    resp.headers_mut()
        .insert("content-type", "application/json".parse().expect("header"));
    if let (true, Some(len)) = (declare, len) {
        resp.headers_mut()
            .insert("content-length", len.to_string().parse().expect("header"));
    }
    resp
}

async fn proxy(
    axum::extract::State(s): axum::extract::State<Arc<ProxyState>>,
    req: axum::extract::Request,
) -> axum::response::Response {
    let method = req.method().clone();
    let path_q = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    s.seen
        .lock()
        .expect("lock")
        .push(format!("{method} {path_q}"));
    let headers = req.headers().clone();
    let body = axum::body::to_bytes(req.into_body(), 64 << 20)
        .await
        .unwrap_or_default();
    let path = path_q.split('?').next().unwrap_or_default().to_owned();
    let head = method == reqwest::Method::HEAD;
    for twist in &s.twists {
        match twist {
            Twist::Redirect { path: p, location } if path.contains(p.as_str()) => {
                let mut resp = axum::response::Response::new(axum::body::Body::empty());
                *resp.status_mut() = axum::http::StatusCode::TEMPORARY_REDIRECT;
                resp.headers_mut()
                    .insert("location", location.parse().expect("header"));
                return resp;
            }
            Twist::Body {
                path: p,
                status,
                len,
                declare,
            } if path.contains(p.as_str()) => {
                return filler_response(*status, *len, *declare, head, s.streamed.clone());
            }
            Twist::Serve {
                suffix,
                media_type,
                body,
            } if path.ends_with(suffix.as_str()) => {
                let mut resp = axum::response::Response::new(if head {
                    axum::body::Body::empty()
                } else {
                    axum::body::Body::from(body.clone())
                });
                let h = resp.headers_mut();
                h.insert("content-type", media_type.parse().expect("header"));
                h.insert(
                    "docker-content-digest",
                    sha256(body).parse().expect("header"),
                );
                return resp;
            }
            Twist::FailLaterPages { path: p, status }
                if path.contains(p.as_str())
                    && path.ends_with("/tags/list")
                    && path_q.contains("last=") =>
            {
                return filler_response(*status, Some(0), true, head, s.streamed.clone());
            }
            Twist::EndlessLinks if path.ends_with("/tags/list") => {
                let n = s.endless.fetch_add(1, Ordering::SeqCst);
                let mut resp = axum::response::Response::new(axum::body::Body::from(
                    serde_json::to_vec(&serde_json::json!({"tags": [format!("p{n}")]}))
                        .expect("json"),
                ));
                resp.headers_mut().insert(
                    "link",
                    format!("<{path}?n=1&last=p{n}>; rel=\"next\"")
                        .parse()
                        .expect("header"),
                );
                return resp;
            }
            _ => {}
        }
    }
    let query: Vec<(String, String)> = reqwest::Url::parse(&format!("http://x{path_q}"))
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default();
    let forward = |url: String, method: reqwest::Method, body: bytes::Bytes| {
        let mut r = s.http.request(method, url).body(body);
        for name in ["accept", "authorization", "content-type"] {
            if let Some(v) = headers.get(name) {
                r = r.header(name, v.as_bytes());
            }
        }
        r
    };
    if method == reqwest::Method::GET && path.ends_with("/tags/list") {
        let up = forward(
            format!("http://{}{path}", s.upstream),
            reqwest::Method::GET,
            bytes::Bytes::new(),
        )
        .send()
        .await
        .expect("upstream");
        if !up.status().is_success() {
            return relay(up).await;
        }
        let v: serde_json::Value =
            serde_json::from_slice(&up.bytes().await.expect("body")).expect("json");
        let mut tags: Vec<String> = serde_json::from_value(v["tags"].clone()).unwrap_or_default();
        for twist in &s.twists {
            if let Twist::ExtraTags(extra) = twist {
                tags.extend(extra.iter().cloned());
            }
        }
        tags.sort();
        let get = |k: &str| {
            query
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        };
        let n = get("n")
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(s.page_cap)
            .min(s.page_cap);
        if let Some(last) = get("last") {
            tags.retain(|t| *t > last);
        }
        let more = tags.len() > n;
        tags.truncate(n);
        let mut resp = axum::response::Response::new(axum::body::Body::from(
            serde_json::to_vec(&serde_json::json!({"name": v["name"], "tags": tags}))
                .expect("json"),
        ));
        resp.headers_mut()
            .insert("content-type", "application/json".parse().expect("header"));
        if let (true, Some(last)) = (more, tags.last()) {
            let prefix = if s.absolute_links {
                format!("http://127.0.0.1:{}", s.port)
            } else {
                String::new()
            };
            let link = format!("<{prefix}{path}?n={n}&last={last}>; rel=\"next\"");
            resp.headers_mut()
                .insert("link", link.parse().expect("header"));
        }
        for twist in &s.twists {
            if let Twist::TagLink(link) = twist {
                resp.headers_mut()
                    .insert("link", link.parse().expect("header"));
            }
        }
        return resp;
    }
    let up = forward(format!("http://{}{path_q}", s.upstream), method, body)
        .send()
        .await
        .expect("upstream");
    relay(up).await
}

async fn relay(up: reqwest::Response) -> axum::response::Response {
    let status = up.status();
    let headers = up.headers().clone();
    let body = up.bytes().await.unwrap_or_default();
    let mut resp = axum::response::Response::new(axum::body::Body::from(body));
    *resp.status_mut() = axum::http::StatusCode::from_u16(status.as_u16()).expect("status");
    for name in [
        "content-type",
        "docker-content-digest",
        "www-authenticate",
        "location",
        "ratelimit-remaining",
    ] {
        if let Some(v) = headers.get(name) {
            resp.headers_mut().insert(
                axum::http::HeaderName::from_static(name),
                axum::http::HeaderValue::from_bytes(v.as_bytes()).expect("header"),
            );
        }
    }
    resp
}

/// `METHOD path?query` and the `Authorization` value of each request.
pub type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// Another origin that records every request reaching it (with its
/// `Authorization`, if any). Serves files under `root` when given (the
/// registry's storage, as a blob CDN), and otherwise a tag list of its own.
pub struct Recorder {
    pub port: u16,
    /// `METHOD path?query` and the `Authorization` value of every request.
    pub seen: Seen,
    _server: Background,
}

struct RecorderState {
    root: Option<PathBuf>,
    seen: Seen,
}

impl Recorder {
    /// Starts a recorder; `root` is served as files when given.
    pub fn start(root: Option<&Path>) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(RecorderState {
            root: root.map(Path::to_path_buf),
            seen: seen.clone(),
        });
        let server = Background::spawn(listener, move |listener, stop| async move {
            let app = axum::Router::new().fallback(record).with_state(state);
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.await;
                })
                .await;
        });
        Recorder {
            port,
            seen,
            _server: server,
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Requests received so far.
    pub fn requests(&self) -> Vec<(String, Option<String>)> {
        self.seen.lock().expect("lock").clone()
    }
}

async fn record(
    axum::extract::State(s): axum::extract::State<Arc<RecorderState>>,
    req: axum::extract::Request,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let path_q = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    s.seen
        .lock()
        .expect("lock")
        .push((format!("{} {path_q}", req.method()), auth));
    let path = req.uri().path().to_owned();
    if let Some(root) = &s.root {
        // The redirect middleware names the storage driver's path.
        let file = root.join(path.trim_start_matches('/'));
        if !path.contains("..")
            && let Ok(bytes) = std::fs::read(&file)
        {
            return ([("content-type", "application/octet-stream")], bytes).into_response();
        }
        return axum::http::StatusCode::NOT_FOUND.into_response();
    }
    (
        [("content-type", "application/json")],
        serde_json::to_vec(&serde_json::json!({"name": "evil", "tags": ["9.9.9-evil"]}))
            .expect("json"),
    )
        .into_response()
}

/// A server whose every answer is `status` with a body of `len` bytes
/// (endless when None): a token server or registry that never stops.
pub struct BodyServer {
    pub port: u16,
    /// Requests received.
    pub requests: Arc<AtomicUsize>,
    /// Body bytes produced so far.
    pub streamed: Arc<AtomicUsize>,
    _server: Background,
}

impl BodyServer {
    /// Starts the server.
    pub fn start(status: u16, len: Option<u64>, declare: bool) -> BodyServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let requests = Arc::new(AtomicUsize::new(0));
        let streamed = Arc::new(AtomicUsize::new(0));
        let (r, st) = (requests.clone(), streamed.clone());
        let server = Background::spawn(listener, move |listener, stop| async move {
            let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
                let (r, st) = (r.clone(), st.clone());
                async move {
                    r.fetch_add(1, Ordering::SeqCst);
                    let head = req.method() == axum::http::Method::HEAD;
                    filler_response(status, len, declare, head, st)
                }
            });
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.await;
                })
                .await;
        });
        BodyServer {
            port,
            requests,
            streamed,
            _server: server,
        }
    }

    /// `http://127.0.0.1:PORT/token`.
    pub fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }
}

/// HTTPS in front of a plain-HTTP upstream (a TLS-terminating tunnel), with
/// a certificate for `127.0.0.1` from a fresh CA.
pub struct TlsFront {
    pub port: u16,
    /// The CA certificate (PEM) clients must trust.
    pub ca_pem: String,
    _server: Background,
}

impl TlsFront {
    /// Starts a TLS tunnel to `upstream` (`host:port`).
    pub fn start(upstream: &str) -> TlsFront {
        TlsFront::start_on(0, upstream)
    }

    /// Starts a TLS tunnel to `upstream` on loopback port `port` (0: any).
    pub fn start_on(port: u16, upstream: &str) -> TlsFront {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "gitops-bump test CA");
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA");
        let leaf_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .expect("params")
            .signed_by(&leaf_key, &ca)
            .expect("leaf");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocols")
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let upstream = upstream.to_owned();
        let server = Background::spawn(listener, move |listener, mut stop| async move {
            loop {
                let accepted = tokio::select! {
                    _ = &mut stop => return,
                    a = listener.accept() => a,
                };
                let Ok((sock, _)) = accepted else {
                    continue;
                };
                let (acceptor, upstream) = (acceptor.clone(), upstream.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(sock).await else {
                        return;
                    };
                    if let Ok(mut up) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
                    }
                });
            }
        });
        TlsFront {
            port,
            ca_pem: ca.pem(),
            _server: server,
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// What one connection to a [`FaultProxy`] does.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Read the request, then close without answering.
    Drop,
    /// Read the request, then never answer (until the proxy stops).
    Stall,
    /// Read the request, then send these raw bytes and close.
    Respond(&'static str),
}

/// `429` with `Retry-After: 1`.
pub const TOO_MANY: &str = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
/// `503`.
pub const UNAVAILABLE: &str =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// A TCP tunnel to the registry whose first connections follow a script of
/// faults; later connections are tunnelled untouched.
pub struct FaultProxy {
    pub port: u16,
    /// Connections accepted so far.
    pub connections: Arc<AtomicUsize>,
    _server: Background,
}

impl FaultProxy {
    /// Starts a tunnel to `upstream` (`host:port`). With `repeat`, the last
    /// fault applies to every connection after the script.
    pub fn start(upstream: &str, faults: Vec<Fault>, repeat: bool) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        let upstream = upstream.to_owned();
        let server = Background::spawn(listener, move |listener, mut stop| async move {
            let mut script: VecDeque<Fault> = faults.into();
            let mut last = None;
            loop {
                let accepted = tokio::select! {
                    _ = &mut stop => return,
                    a = listener.accept() => a,
                };
                let Ok((mut sock, _)) = accepted else {
                    continue;
                };
                counter.fetch_add(1, Ordering::SeqCst);
                let fault = script
                    .pop_front()
                    .or_else(|| if repeat { last.clone() } else { None });
                last = fault.clone().or(last);
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    if fault.is_some() {
                        // Read the request head so the client has sent it.
                        let mut buf = Vec::new();
                        let mut chunk = [0u8; 4096];
                        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                            match sock.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                    }
                    match fault {
                        Some(Fault::Drop) => drop(sock),
                        Some(Fault::Stall) => {
                            tokio::time::sleep(Duration::from_secs(60)).await;
                        }
                        Some(Fault::Respond(raw)) => {
                            let _ = sock.write_all(raw.as_bytes()).await;
                            let _ = sock.shutdown().await;
                        }
                        None => {
                            if let Ok(mut up) = tokio::net::TcpStream::connect(&upstream).await {
                                let _ = tokio::io::copy_bidirectional(&mut sock, &mut up).await;
                            }
                        }
                    }
                });
            }
        });
        FaultProxy {
            port,
            connections,
            _server: server,
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// A distribution token server: Basic credentials (or none) in, an ES256
/// JWT with an `x5c` chain out. Anonymous callers get pull on `public/*`
/// only, as Docker Hub does for public repositories.
pub struct TokenServer {
    pub port: u16,
    /// The certificate the registry must trust (`rootcertbundle`).
    pub cert_pem: String,
    /// Token requests served.
    pub requests: Arc<AtomicUsize>,
    /// Users who asked (`anonymous` when none), in order.
    pub subjects: Arc<Mutex<Vec<String>>>,
    /// Every token issued, in order.
    pub issued: Arc<Mutex<Vec<String>>>,
    _server: Background,
}

struct TokenState {
    user: String,
    password: String,
    cert_der: Vec<u8>,
    key: ring::signature::EcdsaKeyPair,
    requests: Arc<AtomicUsize>,
    subjects: Arc<Mutex<Vec<String>>>,
    issued: Arc<Mutex<Vec<String>>>,
}

impl TokenServer {
    /// Starts a token server that knows one user.
    pub fn start(user: &str, password: &str) -> TokenServer {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let cert = rcgen::CertificateParams::new(vec!["gitops-bump-test-issuer".into()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        let rng = ring::rand::SystemRandom::new();
        let signer = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &key.serialize_der(),
            &rng,
        )
        .expect("signer");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let requests = Arc::new(AtomicUsize::new(0));
        let subjects = Arc::new(Mutex::new(Vec::new()));
        let issued = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(TokenState {
            user: user.to_owned(),
            password: password.to_owned(),
            cert_der: cert.der().to_vec(),
            key: signer,
            requests: requests.clone(),
            subjects: subjects.clone(),
            issued: issued.clone(),
        });
        let server = Background::spawn(listener, move |listener, stop| async move {
            let app = axum::Router::new()
                .route("/token", axum::routing::get(token))
                .with_state(state);
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.await;
                })
                .await;
        });
        TokenServer {
            port,
            cert_pem: cert.pem(),
            requests,
            subjects,
            issued,
            _server: server,
        }
    }

    /// The realm URL to configure in the registry.
    pub fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }
}

async fn token(
    axum::extract::State(s): axum::extract::State<Arc<TokenState>>,
    headers: axum::http::HeaderMap,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    s.requests.fetch_add(1, Ordering::SeqCst);
    let b64 = base64::engine::general_purpose::STANDARD;
    let user = match headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        Some(raw) => {
            let decoded = b64.decode(raw).unwrap_or_default();
            let decoded = String::from_utf8_lossy(&decoded);
            if decoded != format!("{}:{}", s.user, s.password) {
                s.subjects.lock().expect("lock").push("refused".into());
                return (axum::http::StatusCode::UNAUTHORIZED, "bad credentials").into_response();
            }
            s.user.clone()
        }
        None => "anonymous".to_owned(),
    };
    s.subjects.lock().expect("lock").push(user.clone());
    let scope = q.get("scope").cloned().unwrap_or_default();
    let mut access = Vec::new();
    if let Some(name) = scope
        .strip_prefix("repository:")
        .and_then(|r| r.rsplit_once(':'))
        .map(|(name, _)| name.to_owned())
        && (user != "anonymous" || name.starts_with("public/"))
    {
        access.push(serde_json::json!({"type": "repository", "name": name, "actions": ["pull"]}));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header =
        serde_json::json!({"typ": "JWT", "alg": "ES256", "x5c": [b64.encode(&s.cert_der)]});
    let claims = serde_json::json!({
        "iss": "test-issuer",
        "sub": user,
        "aud": q.get("service").cloned().unwrap_or_default(),
        "exp": now + 300,
        "nbf": now - 10,
        "iat": now,
        "jti": format!("{now}-{}", s.requests.load(Ordering::SeqCst)),
        "access": access,
    });
    let input = format!(
        "{}.{}",
        url.encode(serde_json::to_vec(&header).expect("json")),
        url.encode(serde_json::to_vec(&claims).expect("json"))
    );
    let sig = s
        .key
        .sign(&ring::rand::SystemRandom::new(), input.as_bytes())
        .expect("sign");
    let jwt = format!("{input}.{}", url.encode(sig.as_ref()));
    s.issued.lock().expect("lock").push(jwt.clone());
    (
        [("content-type", "application/json")],
        serde_json::to_vec(&serde_json::json!({"token": jwt, "expires_in": 300})).expect("json"),
    )
        .into_response()
}

/// A `DOCKER_CONFIG` directory with nothing in it, so tests never read the
/// developer's own credentials.
pub fn empty_docker_config() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// Writes `config.json` with `auths` for `host` into a new directory.
pub fn docker_config_with(host: &str, user: &str, password: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    std::fs::write(
        dir.path().join("config.json"),
        serde_json::to_vec(&serde_json::json!({"auths": {host: {"auth": auth}}})).expect("json"),
    )
    .expect("write config.json");
    dir
}

/// Path helper for fixtures.
pub fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(p, text).expect("write");
}

//! Registry: the OCI distribution API, spoken directly over one reqwest
//! client. Lists tags following `Link` pagination, resolves digests with
//! HEAD, reads image indexes, platforms and image configs, and caches every
//! answer for the run so nothing is fetched twice.
//!
//! Owns registry I/O (with `github`/`local`, the only network at the edges).
//! Does not own tag selection (`policy`) or what a missing tag means for a
//! run (`resolve`).
//!
//! Why not `oci-client`: its `list_tags` ignores `Link`, its auth layer cannot
//! say which credential source it tried, and requests cannot be counted,
//! capped per host or retried with our policy. The part of the API we need is
//! five GET/HEAD endpoints; see `transport` for the HTTP side.

pub mod auth;
pub mod platform;
pub mod transport;

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use sha2::Digest as _;
use tokio::sync::OnceCell;

pub use auth::{FlagCredential, Secret};
pub use platform::Platform;

use crate::reference::Repository;
use transport::{Reply, Transport};

/// Where Docker Hub's API lives (`docker.io` is only its name).
pub const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";

/// Everything we accept for a manifest, indexes first, so a registry never
/// downgrades a multi-arch tag to one platform's manifest.
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// Largest number of tag pages followed for one repository: a loop guard
/// against a registry whose `Link` never ends (10,000 pages of 100 tags).
const MAX_TAG_PAGES: usize = 10_000;

/// How a [`Client`] talks to registries.
#[derive(Clone, Debug)]
pub struct RegistryOptions {
    /// Hosts (`HOST` or `HOST:PORT`) reached over plain HTTP.
    pub insecure: Vec<String>,
    /// Credentials from `--registry-auth`.
    pub credentials: Vec<FlagCredential>,
    /// `GITHUB_TOKEN` (or `GH_TOKEN`), used for ghcr.io when nothing else is configured.
    pub github_token: Option<Secret>,
    /// Read `$DOCKER_CONFIG/config.json` or `~/.docker/config.json` (and its helpers).
    pub use_docker_config: bool,
    /// Time to connect.
    pub connect_timeout: Duration,
    /// Time for one whole request, body included.
    pub request_timeout: Duration,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
    /// Requests in flight per registry host.
    pub per_host_concurrency: usize,
    /// Tags asked for per page (`?n=`); registries may return fewer.
    pub page_size: usize,
}

/// Exponential backoff with full jitter, a cap and a deadline.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: usize,
    /// First backoff step.
    pub min_delay: Duration,
    /// Largest backoff step.
    pub max_delay: Duration,
    /// No retry starts a wait that would end after this much time since
    /// the first attempt.
    pub deadline: Duration,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            insecure: Vec::new(),
            credentials: Vec::new(),
            github_token: None,
            use_docker_config: true,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            per_host_concurrency: 8,
            page_size: 100,
        }
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 4,
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            deadline: Duration::from_secs(60),
        }
    }
}

impl RegistryOptions {
    /// Returns true if and only if `api_host` was named by
    /// `--insecure-registry` (a name without a port allows every port).
    pub fn is_insecure(&self, api_host: &str) -> bool {
        let bare = |h: &str| -> String { split_port(h).0.to_owned() };
        self.insecure.iter().any(|i| {
            let i = i.trim().to_ascii_lowercase();
            let host = api_host.to_ascii_lowercase();
            i == host || (split_port(&i).1.is_none() && bare(&i) == bare(&host))
        })
    }
}

/// Registry failures, each one line naming the registry and what is missing.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The repository does not exist (404 `NAME_UNKNOWN`).
    #[error("{repository}: repository not found in the registry (NAME_UNKNOWN)")]
    NameUnknown {
        /// `host/path`.
        repository: String,
    },
    /// The tag does not exist in the repository.
    #[error("{repository}:{tag}: tag not found in the registry")]
    TagNotFound {
        /// `host/path`.
        repository: String,
        /// The tag.
        tag: String,
    },
    /// No manifest or blob with this digest.
    #[error("{repository}@{digest}: not found in the registry")]
    DigestNotFound {
        /// `host/path`.
        repository: String,
        /// The digest.
        digest: String,
    },
    /// The registry refused us, after the credential we could find.
    #[error(
        "{registry}: unauthorized for {repository} (tried: {tried}); log in with docker login or pass --registry-auth {registry}=USER:ENV_VAR"
    )]
    Unauthorized {
        /// Registry API host.
        registry: String,
        /// Repository path.
        repository: String,
        /// Which credential source was tried, never the secret.
        tried: String,
    },
    /// Could not connect, or no answer in time, after retries.
    #[error("{registry}: registry unreachable: {reason}")]
    Unreachable {
        /// Registry host.
        registry: String,
        /// What failed, with the number of attempts.
        reason: String,
    },
    /// Still rate limited when the retry deadline ran out.
    #[error("{registry}: rate limited (HTTP 429){}; try again later", retry_after.map(|s| format!(", the registry asks to wait {s} s")).unwrap_or_default())]
    RateLimited {
        /// Registry host.
        registry: String,
        /// Seconds the registry asked us to wait.
        retry_after: Option<u64>,
    },
    /// Server errors until the retry deadline ran out.
    #[error("{registry}: server error HTTP {status} after {attempts} attempt(s)")]
    ServerError {
        /// Registry host.
        registry: String,
        /// Last status.
        status: u16,
        /// Attempts made.
        attempts: u32,
    },
    /// An answer we cannot use: unexpected status, unreadable JSON, wrong digest.
    #[error("{registry}: {message}")]
    Protocol {
        /// Registry host.
        registry: String,
        /// What was wrong.
        message: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot set up the registry client: {0}")]
    Setup(String),
}

/// What a tag (or digest) points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// Digest of the manifest the reference names: the index for a
    /// multi-arch tag, never one of its children.
    pub digest: String,
    /// Media type, when the registry said.
    pub media_type: Option<String>,
}

/// A manifest, reduced to what gitops-bump reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Manifest {
    /// An OCI image index or Docker manifest list.
    Index {
        /// Its entries.
        children: Vec<Child>,
    },
    /// One image.
    Image {
        /// Digest of the image config blob.
        config: String,
    },
}

/// One entry of an index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Child {
    /// Child manifest digest.
    pub digest: String,
    /// Its platform, when the index says.
    pub platform: Option<Platform>,
}

/// The parts of an image config gitops-bump reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageConfig {
    /// RFC 3339 build time, when set.
    pub created: Option<String>,
    /// Platform, when `os` and `architecture` are set.
    pub platform: Option<Platform>,
}

/// Counters for the report.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RegistryStats {
    /// HTTP requests made, retries and token requests included.
    pub requests: u64,
    /// Docker Hub's `ratelimit-remaining` (lowest seen), when reported.
    pub ratelimit_remaining: Option<u64>,
}

/// A registry client for one run. Clones share the caches and counters.
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    transport: Transport,
    tags: Cache<String, Arc<Vec<String>>>,
    resolved: Cache<(String, String), Resolved>,
    manifests: Cache<(String, String), Arc<Manifest>>,
    configs: Cache<(String, String), Arc<ImageConfig>>,
}

impl Client {
    /// Builds a client. No request is made until one is needed.
    pub fn new(options: RegistryOptions) -> Result<Client, RegistryError> {
        Ok(Client {
            inner: Arc::new(Inner {
                transport: Transport::new(options)?,
                tags: Cache::default(),
                resolved: Cache::default(),
                manifests: Cache::default(),
                configs: Cache::default(),
            }),
        })
    }

    /// Requests made and rate limits seen so far.
    pub fn stats(&self) -> RegistryStats {
        RegistryStats {
            requests: self.inner.transport.requests(),
            ratelimit_remaining: self.inner.transport.ratelimit_remaining(),
        }
    }

    /// Every tag of `repo`, in the registry's order, following `Link`
    /// pagination to the end.
    pub async fn list_tags(&self, repo: &Repository) -> Result<Arc<Vec<String>>, RegistryError> {
        let key = repo.to_string();
        self.inner
            .tags
            .get_or_try_init(key, || self.fetch_tags(repo))
            .await
    }

    /// Resolves a tag or digest to the digest of the manifest it names, with
    /// HEAD (free on Docker Hub); GETs only when HEAD gives no digest.
    pub async fn resolve(
        &self,
        repo: &Repository,
        reference: &str,
    ) -> Result<Resolved, RegistryError> {
        let key = (repo.to_string(), reference.to_owned());
        self.inner
            .resolved
            .get_or_try_init(key, || self.fetch_resolved(repo, reference))
            .await
    }

    /// The manifest with `digest` (an index or an image).
    pub async fn manifest(
        &self,
        repo: &Repository,
        digest: &str,
    ) -> Result<Arc<Manifest>, RegistryError> {
        let key = (api_host(repo.domain()), digest.to_owned());
        self.inner
            .manifests
            .get_or_try_init(key, || async {
                let reply = self
                    .get(repo, &format!("manifests/{digest}"), MANIFEST_ACCEPT)
                    .await?;
                let reply = self.expect_found(repo, reply, None, Some(digest)).await?;
                check_digest(repo, digest, &reply.body)?;
                Ok(Arc::new(parse_manifest(repo, &reply)?))
            })
            .await
    }

    /// The image config blob with `digest`.
    pub async fn config(
        &self,
        repo: &Repository,
        digest: &str,
    ) -> Result<Arc<ImageConfig>, RegistryError> {
        let key = (api_host(repo.domain()), digest.to_owned());
        self.inner
            .configs
            .get_or_try_init(key, || async {
                let reply = self.get(repo, &format!("blobs/{digest}"), "*/*").await?;
                let reply = self.expect_found(repo, reply, None, Some(digest)).await?;
                check_digest(repo, digest, &reply.body)?;
                #[derive(Deserialize)]
                struct ConfigJson {
                    created: Option<String>,
                    os: Option<String>,
                    architecture: Option<String>,
                    variant: Option<String>,
                }
                let c: ConfigJson = serde_json::from_slice(&reply.body)
                    .map_err(|e| protocol(repo, format!("config {digest}: {e}")))?;
                let platform = match (&c.os, &c.architecture) {
                    (Some(os), Some(arch)) => Some(Platform::new(os, arch, c.variant.as_deref())),
                    _ => None,
                };
                Ok(Arc::new(ImageConfig {
                    created: c.created,
                    platform,
                }))
            })
            .await
    }

    /// The platforms the manifest `digest` provides: an index's entries
    /// (without BuildKit's `unknown/unknown` attestations), or a single
    /// image's config `os`/`architecture`.
    pub async fn platforms(
        &self,
        repo: &Repository,
        digest: &str,
    ) -> Result<Vec<Platform>, RegistryError> {
        match &*self.manifest(repo, digest).await? {
            Manifest::Index { children } => {
                let mut out: Vec<Platform> = children
                    .iter()
                    .filter_map(|c| c.platform.clone())
                    .filter(|p| !p.is_unknown())
                    .collect();
                out.sort();
                out.dedup();
                Ok(out)
            }
            Manifest::Image { config } => Ok(self
                .config(repo, config)
                .await?
                .platform
                .clone()
                .into_iter()
                .collect()),
        }
    }

    /// The build time (`created`) of the manifest `digest`. For an index,
    /// of the child for `platform`, or of the first real child when none is
    /// given. Fetches configs, so call it only when a policy needs it.
    pub async fn created(
        &self,
        repo: &Repository,
        digest: &str,
        platform: Option<&Platform>,
    ) -> Result<Option<String>, RegistryError> {
        let config = match &*self.manifest(repo, digest).await? {
            Manifest::Image { config } => config.clone(),
            Manifest::Index { children } => {
                let child = children.iter().find(|c| match (platform, &c.platform) {
                    (Some(want), Some(have)) => want == have,
                    (None, Some(have)) => !have.is_unknown(),
                    (_, None) => false,
                });
                let Some(child) = child else {
                    return Ok(None);
                };
                match &*self.manifest(repo, &child.digest).await? {
                    Manifest::Image { config } => config.clone(),
                    Manifest::Index { .. } => return Ok(None),
                }
            }
        };
        Ok(self.config(repo, &config).await?.created.clone())
    }

    async fn fetch_tags(&self, repo: &Repository) -> Result<Arc<Vec<String>>, RegistryError> {
        let page_size = self.inner.transport.options().page_size.max(1);
        let mut url = self.url(repo, &format!("tags/list?n={page_size}"))?;
        let mut tags = Vec::new();
        let mut seen_urls = std::collections::HashSet::new();
        for _ in 0..MAX_TAG_PAGES {
            let reply = self
                .send(repo, Method::GET, url.clone(), "application/json")
                .await?;
            let reply = self.expect_found(repo, reply, None, None).await?;
            #[derive(Deserialize)]
            struct TagsJson {
                tags: Option<Vec<String>>,
            }
            let page: TagsJson = serde_json::from_slice(&reply.body)
                .map_err(|e| protocol(repo, format!("tag list: {e}")))?;
            tags.extend(page.tags.unwrap_or_default());
            let next = reply
                .header("link")
                .and_then(next_link)
                .map(|l| url.join(&l))
                .transpose()
                .map_err(|e| protocol(repo, format!("tag list: bad Link header: {e}")))?;
            match next {
                // A registry that links back to a page already read would
                // loop forever; stop at the first repeat.
                Some(n) if seen_urls.insert(n.clone()) => url = n,
                _ => return Ok(Arc::new(tags)),
            }
        }
        Err(protocol(
            repo,
            format!("tag list: more than {MAX_TAG_PAGES} pages; giving up"),
        ))
    }

    async fn fetch_resolved(
        &self,
        repo: &Repository,
        reference: &str,
    ) -> Result<Resolved, RegistryError> {
        let url = self.url(repo, &format!("manifests/{reference}"))?;
        let head = self
            .send(repo, Method::HEAD, url.clone(), MANIFEST_ACCEPT)
            .await?;
        let tag = (!reference.contains(':')).then_some(reference);
        let digest = tag.is_none().then_some(reference);
        if head.status.is_success()
            && let Some(d) = head.header("docker-content-digest")
        {
            if !crate::reference::is_valid_digest(d) {
                return Err(protocol(
                    repo,
                    format!("invalid Docker-Content-Digest {d:?}"),
                ));
            }
            return Ok(Resolved {
                digest: d.to_owned(),
                media_type: head.header("content-type").map(media_type),
            });
        }
        // HEAD gave no digest (or only a status without an error code, as
        // HEAD has no body): GET once for the body and its error code.
        let reply = self.send(repo, Method::GET, url, MANIFEST_ACCEPT).await?;
        let reply = match self.expect_found(repo, reply, tag, digest).await {
            Err(RegistryError::TagNotFound { .. } | RegistryError::DigestNotFound { .. }) => {
                // The distribution registry answers MANIFEST_UNKNOWN even
                // when the whole repository is missing; one small tag-list
                // request tells the two apart (failure path only).
                let probe = self.get(repo, "tags/list?n=1", "application/json").await?;
                self.expect_found(repo, probe, None, None).await?;
                return Err(match tag {
                    Some(tag) => RegistryError::TagNotFound {
                        repository: repo.to_string(),
                        tag: tag.to_owned(),
                    },
                    None => RegistryError::DigestNotFound {
                        repository: repo.to_string(),
                        digest: reference.to_owned(),
                    },
                });
            }
            other => other?,
        };
        let computed = format!("sha256:{:x}", sha2::Sha256::digest(&reply.body));
        let digest = reply
            .header("docker-content-digest")
            .filter(|d| crate::reference::is_valid_digest(d))
            .map_or(computed, str::to_owned);
        let manifest = parse_manifest(repo, &reply)?;
        self.inner.manifests.insert(
            (api_host(repo.domain()), digest.clone()),
            Arc::new(manifest),
        );
        Ok(Resolved {
            digest,
            media_type: reply.header("content-type").map(media_type),
        })
    }

    async fn get(
        &self,
        repo: &Repository,
        path: &str,
        accept: &str,
    ) -> Result<Reply, RegistryError> {
        let url = self.url(repo, path)?;
        self.send(repo, Method::GET, url, accept).await
    }

    async fn send(
        &self,
        repo: &Repository,
        method: Method,
        url: Url,
        accept: &str,
    ) -> Result<Reply, RegistryError> {
        self.inner
            .transport
            .send(&api_host(repo.domain()), repo.path(), method, url, accept)
            .await
    }

    /// Turns a non-success answer into the error it stands for.
    async fn expect_found(
        &self,
        repo: &Repository,
        reply: Reply,
        tag: Option<&str>,
        digest: Option<&str>,
    ) -> Result<Reply, RegistryError> {
        if reply.status.is_success() {
            return Ok(reply);
        }
        let code = error_code(&reply.body);
        let repository = repo.to_string();
        if reply.status == StatusCode::NOT_FOUND {
            return Err(match (code.as_deref(), tag, digest) {
                (Some("NAME_UNKNOWN"), _, _) => RegistryError::NameUnknown { repository },
                (_, Some(tag), _) => RegistryError::TagNotFound {
                    repository,
                    tag: tag.to_owned(),
                },
                (_, _, Some(digest)) => RegistryError::DigestNotFound {
                    repository,
                    digest: digest.to_owned(),
                },
                _ => RegistryError::NameUnknown { repository },
            });
        }
        Err(protocol(
            repo,
            format!(
                "unexpected HTTP {} for {repository}{}",
                reply.status.as_u16(),
                code.map(|c| format!(" ({c})")).unwrap_or_default()
            ),
        ))
    }

    fn url(&self, repo: &Repository, rest: &str) -> Result<Url, RegistryError> {
        let host = api_host(repo.domain());
        let scheme = if self.inner.transport.options().is_insecure(&host) {
            "http"
        } else {
            "https"
        };
        Url::parse(&format!("{scheme}://{host}/v2/{}/{rest}", repo.path()))
            .map_err(|e| protocol(repo, format!("cannot build a URL: {e}")))
    }
}

/// The host that serves the registry API for a reference domain
/// (`docker.io` → `registry-1.docker.io`).
pub fn api_host(domain: &str) -> String {
    match domain.to_ascii_lowercase().as_str() {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB_API_HOST.to_owned(),
        other => other.to_owned(),
    }
}

/// The `rel="next"` target of a `Link` header, as written (maybe relative).
pub fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|link| {
        let (target, params) = link.split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        params
            .split(';')
            .any(|p| {
                let p = p.trim().replace(' ', "");
                p.eq_ignore_ascii_case("rel=\"next\"") || p.eq_ignore_ascii_case("rel=next")
            })
            .then(|| target.to_owned())
    })
}

fn split_port(h: &str) -> (&str, Option<&str>) {
    match h.rsplit_once(':') {
        Some((host, port))
            if !port.is_empty()
                && port.chars().all(|c| c.is_ascii_digit())
                && (!host.contains(':') || host.ends_with(']')) =>
        {
            (host, Some(port))
        }
        _ => (h, None),
    }
}

fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

fn protocol(repo: &Repository, message: String) -> RegistryError {
    RegistryError::Protocol {
        registry: api_host(repo.domain()),
        message,
    }
}

fn error_code(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Errors {
        errors: Vec<ErrorJson>,
    }
    #[derive(Deserialize)]
    struct ErrorJson {
        code: String,
    }
    serde_json::from_slice::<Errors>(body)
        .ok()?
        .errors
        .into_iter()
        .next()
        .map(|e| e.code)
}

/// Checks a body against the digest it was asked for (sha256 only; other
/// algorithms are taken on trust).
fn check_digest(repo: &Repository, digest: &str, body: &[u8]) -> Result<(), RegistryError> {
    let Some(hex) = digest.strip_prefix("sha256:") else {
        return Ok(());
    };
    let actual = format!("{:x}", sha2::Sha256::digest(body));
    if actual == hex {
        Ok(())
    } else {
        Err(protocol(
            repo,
            format!("content of {digest} has digest sha256:{actual}"),
        ))
    }
}

fn parse_manifest(repo: &Repository, reply: &Reply) -> Result<Manifest, RegistryError> {
    #[derive(Deserialize)]
    struct ManifestJson {
        #[serde(rename = "schemaVersion")]
        schema_version: Option<u32>,
        manifests: Option<Vec<DescriptorJson>>,
        config: Option<DescriptorJson>,
    }
    #[derive(Deserialize)]
    struct DescriptorJson {
        digest: String,
        platform: Option<PlatformJson>,
    }
    #[derive(Deserialize)]
    struct PlatformJson {
        os: String,
        architecture: String,
        variant: Option<String>,
    }
    let m: ManifestJson = serde_json::from_slice(&reply.body)
        .map_err(|e| protocol(repo, format!("{repo}: unreadable manifest: {e}")))?;
    if m.schema_version == Some(1) {
        return Err(protocol(
            repo,
            format!("{repo}: Docker schema 1 manifests are not supported; push the image again"),
        ));
    }
    match (m.manifests, m.config) {
        (Some(children), _) => Ok(Manifest::Index {
            children: children
                .into_iter()
                .map(|c| Child {
                    digest: c.digest,
                    platform: c
                        .platform
                        .map(|p| Platform::new(&p.os, &p.architecture, p.variant.as_deref())),
                })
                .collect(),
        }),
        (None, Some(config)) => Ok(Manifest::Image {
            config: config.digest,
        }),
        (None, None) => Err(protocol(
            repo,
            format!("{repo}: manifest has neither `manifests` nor `config`"),
        )),
    }
}

/// A per-run cache that also merges concurrent fetches of one key. Errors
/// are not cached, so a later call tries again.
#[derive(Debug)]
struct Cache<K, V> {
    cells: Mutex<HashMap<K, Arc<OnceCell<V>>>>,
}

impl<K, V> Default for Cache<K, V> {
    fn default() -> Self {
        Cache {
            cells: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash, V: Clone> Cache<K, V> {
    async fn get_or_try_init<F, Fut>(&self, key: K, init: F) -> Result<V, RegistryError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<V, RegistryError>>,
    {
        let cell = self
            .cells
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(key)
            .or_default()
            .clone();
        cell.get_or_try_init(init).await.cloned()
    }

    fn insert(&self, key: K, value: V) {
        let cell = self
            .cells
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(key)
            .or_default()
            .clone();
        // Already set means another request fetched the same content.
        let _ = cell.set(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links() {
        assert_eq!(
            next_link(r#"</v2/a/tags/list?last=x&n=2>; rel="next""#).as_deref(),
            Some("/v2/a/tags/list?last=x&n=2")
        );
        assert_eq!(
            next_link(r#"<https://r/v2/a/tags/list?last=x>; rel=next, <https://r/p>; rel="prev""#)
                .as_deref(),
            Some("https://r/v2/a/tags/list?last=x")
        );
        assert_eq!(next_link(r#"<https://r/p>; rel="prev""#), None);
        let base = Url::parse("https://r.example/v2/a/tags/list?n=100").expect("url");
        assert_eq!(
            base.join("/v2/a/tags/list?last=b").expect("join").as_str(),
            "https://r.example/v2/a/tags/list?last=b"
        );
    }

    #[test]
    fn docker_hub_and_insecure_hosts() {
        assert_eq!(api_host("docker.io"), DOCKER_HUB_API_HOST);
        assert_eq!(api_host("ghcr.io"), "ghcr.io");
        let o = RegistryOptions {
            insecure: vec!["127.0.0.1".into(), "localhost:5000".into()],
            ..RegistryOptions::default()
        };
        assert!(o.is_insecure("127.0.0.1:41234"));
        assert!(o.is_insecure("localhost:5000"));
        assert!(!o.is_insecure("localhost:5001"));
        assert!(!o.is_insecure("ghcr.io"));
    }

    #[test]
    fn docker_hub_urls_use_the_api_host_and_library() {
        let c = Client::new(RegistryOptions::default()).expect("client");
        let repo = crate::reference::Reference::parse("nginx:1")
            .expect("valid")
            .repository();
        assert_eq!(
            c.url(&repo, "tags/list?n=100").expect("url").as_str(),
            "https://registry-1.docker.io/v2/library/nginx/tags/list?n=100"
        );
        let local = crate::reference::Reference::parse("localhost:5000/a/b:v1")
            .expect("valid")
            .repository();
        let c = Client::new(RegistryOptions {
            insecure: vec!["localhost:5000".into()],
            ..RegistryOptions::default()
        })
        .expect("client");
        assert_eq!(
            c.url(&local, "manifests/v1").expect("url").as_str(),
            "http://localhost:5000/v2/a/b/manifests/v1"
        );
    }

    #[test]
    fn error_codes() {
        assert_eq!(
            error_code(br#"{"errors":[{"code":"NAME_UNKNOWN","message":"x"}]}"#).as_deref(),
            Some("NAME_UNKNOWN")
        );
        assert_eq!(error_code(b""), None);
    }
}

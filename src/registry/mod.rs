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
//!
//! A registry's answers are untrusted input. `Link` pages are followed only
//! within the registry's origin and repository, and at most
//! [`MAX_TAG_PAGES`] of them; listed tags that break the OCI tag grammar are
//! dropped and counted ([`TagListing`]); digests and platforms read from
//! manifests are checked before they reach a URL or a message; every body
//! is capped ([`MANIFEST_LIMIT`], [`CONFIG_LIMIT`], [`TAG_PAGE_LIMIT`],
//! [`TAG_LIST_LIMIT`], [`transport::TOKEN_LIMIT`]); text quoted from a
//! registry in an error is escaped and cut ([`escaped`]).

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

use crate::reference::{is_valid_digest, is_valid_tag};

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

/// Largest number of tag pages followed for one repository: a guard against
/// a registry whose `Link` never ends. 1,000 pages of Docker Hub's and
/// GHCR's 100 tags are 100,000 tags, more than any repository we know.
pub const MAX_TAG_PAGES: usize = 1_000;

/// Largest manifest or index read: 4 MiB, the limit the distribution
/// registry puts on manifests it accepts (`maxManifestBodySize`), so no
/// conforming registry serves a larger one.
pub const MANIFEST_LIMIT: usize = 4 << 20;

/// Largest image config read: 8 MiB. Configs carry the build history and
/// labels; real ones are a few KiB, rarely past 100 KiB.
pub const CONFIG_LIMIT: usize = 8 << 20;

/// Largest tag-list page read: 16 MiB, room for about 400,000 tags in one
/// page from a registry that ignores `?n=` (the distribution registry 2.8
/// does, and answers with every tag at once).
pub const TAG_PAGE_LIMIT: usize = 16 << 20;

/// Largest tag list read over all of a repository's pages: 64 MiB (about
/// 1.5 million tags).
pub const TAG_LIST_LIMIT: usize = 64 << 20;

/// How many dropped tags a [`TagListing`] keeps as examples.
pub const INVALID_TAG_EXAMPLES: usize = 3;

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
    /// PEM certificates trusted in addition to the system roots, for
    /// registries behind a private CA.
    pub ca_certificates: Vec<Vec<u8>>,
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
            ca_certificates: Vec::new(),
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
    /// An answer we cannot use: unexpected status, unreadable JSON, wrong
    /// digest, a `Link` or redirect to another origin.
    #[error("{registry}: {message}")]
    Protocol {
        /// Registry host.
        registry: String,
        /// What was wrong (text quoted from the registry is escaped and cut).
        message: String,
    },
    /// An answer longer than we read for its kind; never retried.
    #[error("{registry}: the answer to {path} is larger than {}; refusing it", size(*limit))]
    TooLarge {
        /// Registry (or token server) host.
        registry: String,
        /// The URL path asked for, without the query.
        path: String,
        /// The limit, in bytes.
        limit: usize,
    },
    /// A tag or digest handed to the client that is neither (it would
    /// change the request URL).
    #[error("{repository}: {reference} is not a valid tag or digest")]
    InvalidReference {
        /// `host/path`.
        repository: String,
        /// The reference, escaped and cut.
        reference: String,
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
pub enum OciManifest {
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
    /// Listed tags that broke the OCI tag grammar and were dropped, over
    /// every repository listed in the run.
    #[serde(skip_serializing_if = "is_zero")]
    pub invalid_tags_dropped: u64,
    /// Up to [`INVALID_TAG_EXAMPLES`] of them, quoted and escaped with
    /// [`escaped`] (safe to print anywhere).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub invalid_tag_examples: Vec<String>,
}

/// One repository's tags as listed, after dropping the ones that break the
/// OCI tag grammar (`[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`): such a "tag"
/// cannot be pulled, and its text (a CR, `::warning::`, a terminal escape)
/// must never reach a selection, a log or `$GITHUB_OUTPUT`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagListing {
    /// Valid tags, in the registry's order.
    pub tags: Arc<Vec<String>>,
    /// How many listed tags were dropped.
    pub invalid: usize,
    /// Up to [`INVALID_TAG_EXAMPLES`] dropped tags, escaped with [`escaped`].
    pub invalid_examples: Vec<String>,
}

/// What a pinned digest is, relative to the tag it is pinned with
/// (`image:TAG@DIGEST`); see [`Client::pin_kind`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PinKind {
    /// The tag's own digest: its index (multi-platform), or its manifest
    /// (single image). Moves to the new tag's digest.
    Tag,
    /// The child of the tag's index for this platform. Moves to the new
    /// tag's child for the same platform ([`Client::platform_child`]).
    Child(Platform),
    /// Neither: not the tag's digest and not one of its platform children
    /// (an attestation entry, another image, or a tag moved since the pin
    /// was written).
    Unrelated,
}

/// A registry client for one run. Clones share the caches and counters.
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    transport: Transport,
    tags: Cache<String, Arc<TagListing>>,
    invalid_tags: Mutex<(u64, Vec<String>)>,
    resolved: Cache<(String, String), Resolved>,
    manifests: Cache<(String, String), Arc<OciManifest>>,
    configs: Cache<(String, String), Arc<ImageConfig>>,
    /// `org.opencontainers.image.created` of each manifest read, by (host, digest).
    annotated: Mutex<HashMap<(String, String), String>>,
}

impl Client {
    /// Builds a client. No request is made until one is needed.
    pub fn new(options: RegistryOptions) -> Result<Client, RegistryError> {
        Ok(Client {
            inner: Arc::new(Inner {
                transport: Transport::new(options)?,
                tags: Cache::default(),
                invalid_tags: Mutex::new((0, Vec::new())),
                resolved: Cache::default(),
                manifests: Cache::default(),
                configs: Cache::default(),
                annotated: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Requests made and rate limits seen so far.
    pub fn stats(&self) -> RegistryStats {
        let (invalid_tags_dropped, invalid_tag_examples) = self
            .inner
            .invalid_tags
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        RegistryStats {
            requests: self.inner.transport.requests(),
            ratelimit_remaining: self.inner.transport.ratelimit_remaining(),
            invalid_tags_dropped,
            invalid_tag_examples,
        }
    }

    /// Every valid tag of `repo`, in the registry's order, following `Link`
    /// pagination to the end (see [`Client::tag_listing`] for what is
    /// dropped).
    pub async fn list_tags(&self, repo: &Repository) -> Result<Arc<Vec<String>>, RegistryError> {
        Ok(self.tag_listing(repo).await?.tags.clone())
    }

    /// `repo`'s tag listing: the valid tags, and how many listed tags broke
    /// the tag grammar and were dropped. Follows `Link: rel="next"` only to
    /// the same origin (scheme, host and port) and the same path, at most
    /// [`MAX_TAG_PAGES`] pages and [`TAG_LIST_LIMIT`] bytes; anything else
    /// is a [`RegistryError::Protocol`] naming the `Link` header.
    pub async fn tag_listing(&self, repo: &Repository) -> Result<Arc<TagListing>, RegistryError> {
        let key = repo.to_string();
        self.inner
            .tags
            .get_or_try_init(key, || self.fetch_tags(repo))
            .await
    }

    /// Resolves a tag or digest to the digest of the manifest it names, with
    /// HEAD (free on Docker Hub); GETs only when HEAD gives no digest.
    pub async fn digest_of(
        &self,
        repo: &Repository,
        reference: &str,
    ) -> Result<Resolved, RegistryError> {
        if !is_valid_tag(reference) && !is_valid_digest(reference) {
            return Err(invalid_reference(repo, reference));
        }
        let key = (repo.to_string(), reference.to_owned());
        self.inner
            .resolved
            .get_or_try_init(key, || self.fetch_resolved(repo, reference))
            .await
    }

    /// The digest `tag` names and its manifest, with one GET when neither
    /// is known yet (a HEAD and a GET otherwise): for callers that need the
    /// manifest anyway (platforms, build times), this halves the requests.
    pub async fn tag_manifest(
        &self,
        repo: &Repository,
        tag: &str,
    ) -> Result<(Resolved, Arc<OciManifest>), RegistryError> {
        if !is_valid_tag(tag) && !is_valid_digest(tag) {
            return Err(invalid_reference(repo, tag));
        }
        let key = (repo.to_string(), tag.to_owned());
        let resolved = self
            .inner
            .resolved
            .get_or_try_init(key, || self.fetch_by_get(repo, tag))
            .await?;
        let manifest = self.manifest(repo, &resolved.digest).await?;
        Ok((resolved, manifest))
    }

    /// The manifest with `digest` (an index or an image).
    pub async fn manifest(
        &self,
        repo: &Repository,
        digest: &str,
    ) -> Result<Arc<OciManifest>, RegistryError> {
        if !is_valid_digest(digest) {
            return Err(invalid_reference(repo, digest));
        }
        let key = (api_host(repo.domain()), digest.to_owned());
        self.inner
            .manifests
            .get_or_try_init(key, || async {
                let reply = self
                    .get(
                        repo,
                        &format!("manifests/{digest}"),
                        MANIFEST_ACCEPT,
                        MANIFEST_LIMIT,
                    )
                    .await?;
                let reply = self.expect_found(repo, reply, None, Some(digest)).await?;
                check_digest(repo, digest, &reply.body)?;
                self.keep_created(repo, digest, &reply);
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
        if !is_valid_digest(digest) {
            return Err(invalid_reference(repo, digest));
        }
        let key = (api_host(repo.domain()), digest.to_owned());
        self.inner
            .configs
            .get_or_try_init(key, || async {
                let reply = self
                    .get(repo, &format!("blobs/{digest}"), "*/*", CONFIG_LIMIT)
                    .await?;
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
                    (Some(os), Some(arch)) => {
                        Platform::from_registry(os, arch, c.variant.as_deref())
                    }
                    _ => None,
                };
                Ok(Arc::new(ImageConfig {
                    // Shown and compared as a time: anything that is not
                    // RFC 3339 text counts as absent.
                    created: c.created.filter(|t| is_timestamp_text(t)),
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
            OciManifest::Index { children } => {
                let mut out: Vec<Platform> = children
                    .iter()
                    .filter_map(|c| c.platform.clone())
                    .filter(|p| !p.is_unknown())
                    .collect();
                out.sort();
                out.dedup();
                Ok(out)
            }
            OciManifest::Image { config } => Ok(self
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
            OciManifest::Image { config } => config.clone(),
            OciManifest::Index { children } => {
                let child = children.iter().find(|c| match (platform, &c.platform) {
                    (Some(want), Some(have)) => want == have,
                    (None, Some(have)) => !have.is_unknown(),
                    (_, None) => false,
                });
                let Some(child) = child else {
                    return Ok(None);
                };
                match &*self.manifest(repo, &child.digest).await? {
                    OciManifest::Image { config } => config.clone(),
                    OciManifest::Index { .. } => return Ok(None),
                }
            }
        };
        Ok(self.config(repo, &config).await?.created.clone())
    }

    /// When the image `digest` was built, as RFC 3339 text: the manifest's
    /// `org.opencontainers.image.created` annotation (the OCI standard
    /// annotation; buildx writes it on indexes), else the config's
    /// `created` for `platform`'s child ([`Client::created`]). `None` when
    /// neither says.
    pub async fn build_time(
        &self,
        repo: &Repository,
        digest: &str,
        platform: Option<&Platform>,
    ) -> Result<Option<String>, RegistryError> {
        self.manifest(repo, digest).await?;
        let annotated = lock(&self.inner.annotated)
            .get(&(api_host(repo.domain()), digest.to_owned()))
            .cloned();
        match annotated {
            Some(t) => Ok(Some(t)),
            None => self.created(repo, digest, platform).await,
        }
    }

    /// What `pinned` is for the tag whose digest is `tag_digest` (from
    /// [`Client::resolve`] of the old tag): the tag's own digest, the child
    /// of its index for one platform, or neither. Reads the tag's manifest
    /// (one GET, none when cached, none when `pinned` is `tag_digest`).
    /// Children without a platform or with BuildKit's `unknown/unknown`
    /// (attestations) are [`PinKind::Unrelated`]; when two children share a
    /// platform, the first wins, as in containerd.
    pub async fn pin_kind(
        &self,
        repo: &Repository,
        tag_digest: &str,
        pinned: &str,
    ) -> Result<PinKind, RegistryError> {
        if pinned == tag_digest {
            return Ok(PinKind::Tag);
        }
        if !is_valid_digest(pinned) {
            return Err(invalid_reference(repo, pinned));
        }
        Ok(match &*self.manifest(repo, tag_digest).await? {
            OciManifest::Index { children } => children
                .iter()
                .find(|c| c.digest == pinned)
                .and_then(|c| c.platform.clone())
                .filter(|p| !p.is_unknown())
                .map_or(PinKind::Unrelated, PinKind::Child),
            OciManifest::Image { .. } => PinKind::Unrelated,
        })
    }

    /// The manifest to pin for `platform` in the manifest `digest` (from
    /// [`Client::resolve`] of the new tag): for an index, its first child
    /// for that platform; for a single image, `digest` itself when its
    /// config's platform is `platform`. None when it lacks the platform.
    /// Cached like [`Client::platforms`]: no request when that ran before.
    pub async fn platform_child(
        &self,
        repo: &Repository,
        digest: &str,
        platform: &Platform,
    ) -> Result<Option<String>, RegistryError> {
        match &*self.manifest(repo, digest).await? {
            OciManifest::Index { children } => Ok(children
                .iter()
                .find(|c| c.platform.as_ref() == Some(platform))
                .map(|c| c.digest.clone())),
            OciManifest::Image { config } => {
                let config = self.config(repo, config).await?;
                Ok((config.platform.as_ref() == Some(platform)).then(|| digest.to_owned()))
            }
        }
    }

    async fn fetch_tags(&self, repo: &Repository) -> Result<Arc<TagListing>, RegistryError> {
        let page_size = self.inner.transport.options().page_size.max(1);
        let first = self.url(repo, &format!("tags/list?n={page_size}"))?;
        let mut url = first.clone();
        let mut listing = TagListing::default();
        let mut tags = Vec::new();
        let mut read = 0usize;
        let mut seen_urls = std::collections::HashSet::from([first.clone()]);
        let mut pages = 0;
        loop {
            pages += 1;
            let reply = self
                .send(
                    repo,
                    Method::GET,
                    url.clone(),
                    "application/json",
                    TAG_PAGE_LIMIT,
                )
                .await?;
            let reply = self.expect_found(repo, reply, None, None).await?;
            read += reply.body.len();
            if read > TAG_LIST_LIMIT {
                return Err(RegistryError::TooLarge {
                    registry: api_host(repo.domain()),
                    path: first.path().to_owned(),
                    limit: TAG_LIST_LIMIT,
                });
            }
            #[derive(Deserialize)]
            struct TagsJson {
                tags: Option<Vec<String>>,
            }
            let page: TagsJson = serde_json::from_slice(&reply.body)
                .map_err(|e| protocol(repo, format!("tag list: {e}")))?;
            for tag in page.tags.unwrap_or_default() {
                if is_valid_tag(&tag) {
                    tags.push(tag);
                } else {
                    listing.invalid += 1;
                    if listing.invalid_examples.len() < INVALID_TAG_EXAMPLES {
                        listing.invalid_examples.push(escaped(&tag, 40));
                    }
                }
            }
            let next = match reply.header("link").map(|h| next_page(&url, &first, h)) {
                None | Some(Ok(None)) => break,
                Some(Ok(Some(next))) => next,
                Some(Err(LinkRefusal::BadUrl { link, error })) => {
                    return Err(protocol(
                        repo,
                        format!("tag list: bad Link header {}: {error}", escaped(&link, 100)),
                    ));
                }
                Some(Err(LinkRefusal::Elsewhere(next))) => {
                    return Err(protocol(
                        repo,
                        format!(
                            "tag list: the Link header points to {}, outside {}://{}{}; refusing to follow it",
                            escaped(
                                &format!(
                                    "{}://{}{}",
                                    next.scheme(),
                                    transport::host_of(&next),
                                    next.path()
                                ),
                                100
                            ),
                            first.scheme(),
                            api_host(repo.domain()),
                            first.path()
                        ),
                    ));
                }
            };
            // A registry that links back to a page already read would
            // loop forever; stop at the first repeat.
            if !seen_urls.insert(next.clone()) {
                break;
            }
            if pages == MAX_TAG_PAGES {
                return Err(protocol(
                    repo,
                    format!(
                        "tag list: the Link header still names a next page after {MAX_TAG_PAGES} pages; giving up"
                    ),
                ));
            }
            url = next;
        }
        listing.tags = Arc::new(tags);
        if listing.invalid > 0 {
            let mut total = self
                .inner
                .invalid_tags
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            total.0 += listing.invalid as u64;
            for e in &listing.invalid_examples {
                if total.1.len() < INVALID_TAG_EXAMPLES {
                    total.1.push(e.clone());
                }
            }
        }
        Ok(Arc::new(listing))
    }

    /// Notes a manifest's `org.opencontainers.image.created` annotation.
    fn keep_created(&self, repo: &Repository, digest: &str, reply: &Reply) {
        #[derive(Deserialize)]
        struct Annotated {
            annotations: Option<HashMap<String, String>>,
        }
        let created = serde_json::from_slice::<Annotated>(&reply.body)
            .ok()
            .and_then(|a| a.annotations?.remove("org.opencontainers.image.created"))
            .filter(|t| is_timestamp_text(t));
        if let Some(t) = created {
            lock(&self.inner.annotated).insert((api_host(repo.domain()), digest.to_owned()), t);
        }
    }

    async fn fetch_resolved(
        &self,
        repo: &Repository,
        reference: &str,
    ) -> Result<Resolved, RegistryError> {
        let head_url = self.url(repo, &format!("manifests/{reference}"))?;
        let head = self
            .send(
                repo,
                Method::HEAD,
                head_url,
                MANIFEST_ACCEPT,
                MANIFEST_LIMIT,
            )
            .await?;
        if head.status.is_success()
            && let Some(d) = head.header("docker-content-digest")
        {
            if !crate::reference::is_valid_digest(d) {
                return Err(protocol(
                    repo,
                    format!("invalid Docker-Content-Digest {}", escaped(d, 80)),
                ));
            }
            return Ok(Resolved {
                digest: d.to_owned(),
                media_type: head.header("content-type").and_then(media_type),
            });
        }
        // HEAD gave no digest (or only a status without an error code, as
        // HEAD has no body): GET once for the body and its error code.
        self.fetch_by_get(repo, reference).await
    }

    /// Resolves `reference` with one GET, keeping the manifest it returns.
    async fn fetch_by_get(
        &self,
        repo: &Repository,
        reference: &str,
    ) -> Result<Resolved, RegistryError> {
        let url = self.url(repo, &format!("manifests/{reference}"))?;
        let tag = (!reference.contains(':')).then_some(reference);
        let digest = tag.is_none().then_some(reference);
        let reply = self
            .send(repo, Method::GET, url, MANIFEST_ACCEPT, MANIFEST_LIMIT)
            .await?;
        let reply = match self.expect_found(repo, reply, tag, digest).await {
            Err(RegistryError::TagNotFound { .. } | RegistryError::DigestNotFound { .. }) => {
                // The distribution registry answers MANIFEST_UNKNOWN even
                // when the whole repository is missing; one small tag-list
                // request tells the two apart (failure path only).
                let probe = self
                    .get(repo, "tags/list?n=1", "application/json", TAG_PAGE_LIMIT)
                    .await?;
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
        self.keep_created(repo, &digest, &reply);
        self.inner.manifests.insert(
            (api_host(repo.domain()), digest.clone()),
            Arc::new(manifest),
        );
        Ok(Resolved {
            digest,
            media_type: reply.header("content-type").and_then(media_type),
        })
    }

    async fn get(
        &self,
        repo: &Repository,
        path: &str,
        accept: &str,
        limit: usize,
    ) -> Result<Reply, RegistryError> {
        let url = self.url(repo, path)?;
        self.send(repo, Method::GET, url, accept, limit).await
    }

    async fn send(
        &self,
        repo: &Repository,
        method: Method,
        url: Url,
        accept: &str,
        limit: usize,
    ) -> Result<Reply, RegistryError> {
        self.inner
            .transport
            .send(
                &api_host(repo.domain()),
                repo.path(),
                method,
                url,
                accept,
                limit,
            )
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
                code.map(|c| format!(" ({})", escaped(&c, 40)))
                    .unwrap_or_default()
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

/// Why a tag list's `Link` header is not followed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkRefusal {
    /// The `rel="next"` target is not a URL, even relative to the page.
    BadUrl {
        /// The target as written.
        link: String,
        /// The URL parser's message.
        error: String,
    },
    /// The target lies outside the first page's origin (scheme, host, port) or path.
    Elsewhere(Url),
}

/// The next tag-list page that `link` (a `Link` header on the page `page`
/// of a listing that started at `first`) names: `None` when it names no
/// `rel="next"`. Credentials (and trust in the answer) belong to `first`'s
/// origin and repository, so a target elsewhere is refused, never followed
/// with or without them.
pub fn next_page(page: &Url, first: &Url, link: &str) -> Result<Option<Url>, LinkRefusal> {
    let Some(target) = next_link(link) else {
        return Ok(None);
    };
    let next = page.join(&target).map_err(|e| LinkRefusal::BadUrl {
        link: target.clone(),
        error: e.to_string(),
    })?;
    if !transport::same_origin(&next, first) || next.path() != first.path() {
        return Err(LinkRefusal::Elsewhere(next));
    }
    Ok(Some(next))
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

/// `text`, quoted, with everything but printable ASCII escaped (`\r`,
/// `\u{1b}`, `\"`) and cut after `max_chars` characters (then `…` and the
/// full length): registry text made safe for a terminal, a log, a workflow
/// command or `$GITHUB_OUTPUT`.
pub fn escaped(text: &str, max_chars: usize) -> String {
    let mut out = String::from("\"");
    for (i, c) in text.chars().enumerate() {
        if i == max_chars {
            out.push_str(&format!("\"… ({} bytes)", text.len()));
            return out;
        }
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c == ' ' || c.is_ascii_graphic() => out.push(c),
            c => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
        }
    }
    out.push('"');
    out
}

/// The first `max` items joined with `, `, then `… and N more` when there
/// are more: a list from a registry (an index's platforms) can hold
/// thousands of entries, and an error line must stay readable.
pub fn shown_list<T: std::fmt::Display>(items: &[T], max: usize) -> String {
    let mut out = items
        .iter()
        .take(max)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > max {
        out.push_str(&format!(", … and {} more", items.len() - max));
    }
    out
}

/// `n` bytes as the largest binary unit that divides it (`4 MiB`), else bytes.
fn size(n: usize) -> String {
    match n {
        n if n >= 1 << 30 && n % (1 << 30) == 0 => format!("{} GiB", n >> 30),
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

/// The media type of a `Content-Type` value, when it is one (RFC 6838
/// characters, at most 255 bytes).
fn media_type(content_type: &str) -> Option<String> {
    let m = content_type.split(';').next().unwrap_or_default().trim();
    (!m.is_empty()
        && m.len() <= 255
        && m.chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$&^_.+-/".contains(c)))
    .then(|| m.to_owned())
}

/// Returns true if and only if `t` could be an RFC 3339 time: 1 to 64
/// characters of digits, letters and `:.+-`.
fn is_timestamp_text(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 64
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || ":.+-".contains(c))
}

fn protocol(repo: &Repository, message: String) -> RegistryError {
    RegistryError::Protocol {
        registry: api_host(repo.domain()),
        message: bounded(message),
    }
}

/// Longest protocol message kept: parts quoted from a registry are escaped
/// and cut already; this also bounds what a JSON parser quotes.
const MAX_MESSAGE: usize = 500;

/// `message`, cut after [`MAX_MESSAGE`] bytes (on a character boundary).
fn bounded(mut message: String) -> String {
    if message.len() > MAX_MESSAGE {
        let mut end = MAX_MESSAGE;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push('…');
    }
    message
}

fn invalid_reference(repo: &Repository, reference: &str) -> RegistryError {
    RegistryError::InvalidReference {
        repository: repo.to_string(),
        reference: escaped(reference, 80),
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
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

fn parse_manifest(repo: &Repository, reply: &Reply) -> Result<OciManifest, RegistryError> {
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
    // Digests from a manifest become request URLs: a non-digest there
    // (`../`, `?`) would point the next request elsewhere.
    let bad = m
        .manifests
        .iter()
        .flatten()
        .chain(&m.config)
        .find(|d| !is_valid_digest(&d.digest));
    if let Some(d) = bad {
        return Err(protocol(
            repo,
            format!(
                "{repo}: manifest names {} as a digest",
                escaped(&d.digest, 80)
            ),
        ));
    }
    if m.schema_version == Some(1) {
        return Err(protocol(
            repo,
            format!("{repo}: Docker schema 1 manifests are not supported; push the image again"),
        ));
    }
    match (m.manifests, m.config) {
        (Some(children), _) => Ok(OciManifest::Index {
            children: children
                .into_iter()
                .map(|c| Child {
                    digest: c.digest,
                    platform: c.platform.and_then(|p| {
                        Platform::from_registry(&p.os, &p.architecture, p.variant.as_deref())
                    }),
                })
                .collect(),
        }),
        (None, Some(config)) => Ok(OciManifest::Image {
            config: config.digest,
        }),
        (None, None) => Err(protocol(
            repo,
            format!("{repo}: manifest has neither `manifests` nor `config`"),
        )),
    }
}

/// Locks one of the client's maps. Every write under these locks is one
/// insert or assignment, so a poisoned lock still holds consistent data.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
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
    fn registry_text_is_escaped_and_cut() {
        assert_eq!(escaped("v1.0.0", 40), r#""v1.0.0""#);
        assert_eq!(escaped("v3\r::warning::x\n", 40), r#""v3\r::warning::x\n""#);
        assert_eq!(
            escaped("\u{1b}[2J\u{202e}\"\\", 40),
            r#""\u{1b}[2J\u{202e}\"\\""#
        );
        assert_eq!(escaped(&"9".repeat(129), 4), "\"9999\"… (129 bytes)");
        assert_eq!(escaped("ü", 4), r#""\u{fc}""#);
        let long = format!("{}é", "x".repeat(MAX_MESSAGE - 1));
        assert_eq!(bounded(long).len(), MAX_MESSAGE - 1 + '…'.len_utf8());
    }

    #[test]
    fn long_lists_show_the_first_few() {
        let many: Vec<usize> = (0..1_000_000).collect();
        assert_eq!(shown_list(&many, 3), "0, 1, 2, … and 999997 more");
        assert_eq!(shown_list(&many[..3], 3), "0, 1, 2");
        assert_eq!(shown_list::<usize>(&[], 3), "");
    }

    #[test]
    fn sizes_media_types_and_times() {
        assert_eq!(size(MANIFEST_LIMIT), "4 MiB");
        assert_eq!(size(transport::TOKEN_LIMIT), "1 MiB");
        assert_eq!(size(transport::ERROR_BODY_LIMIT), "64 KiB");
        assert_eq!(size(1000), "1000 bytes");
        assert_eq!(
            media_type("application/vnd.oci.image.index.v1+json; charset=utf-8").as_deref(),
            Some("application/vnd.oci.image.index.v1+json")
        );
        assert_eq!(media_type("text/html\r::warning::x"), None);
        assert_eq!(media_type(""), None);
        assert!(is_timestamp_text("2024-02-01T10:00:00.123456789Z"));
        assert!(is_timestamp_text("2024-02-01T10:00:00+01:00"));
        assert!(!is_timestamp_text("2024\r::warning::x"));
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

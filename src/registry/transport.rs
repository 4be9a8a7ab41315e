//! How one registry request is made: the per-host concurrency cap, retries
//! with exponential backoff and full jitter under a deadline, `Retry-After`
//! on 429, the auth handshake (Basic, or a Bearer token per scope), request
//! counting and Docker Hub's `ratelimit-remaining`.
//!
//! Owns everything between "send this request for this repository" and a
//! fully read answer. Does not interpret answers (that is [`super::Client`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backon::BackoffBuilder;
use base64::Engine;
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use tokio::sync::Semaphore;

use super::auth::{AuthState, Challenge, Credential, CredentialSource, Secret, parse_challenge};
use super::{RegistryError, RegistryOptions};

/// A fully read answer.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body (empty for HEAD).
    pub body: bytes::Bytes,
}

impl Reply {
    /// A header as text, if present and readable.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends requests for one client. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Transport {
    http: reqwest::Client,
    options: RegistryOptions,
    auth: AuthState,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
    requests: AtomicU64,
    ratelimit_remaining: Mutex<Option<u64>>,
}

impl Transport {
    /// Builds the HTTP client: rustls with the ring provider, timeouts on
    /// connect and on every whole request.
    pub fn new(options: RegistryOptions) -> Result<Transport, RegistryError> {
        // NOTE: reqwest is built with `rustls-no-provider` so neither aws-lc
        // nor OpenSSL is linked; it picks up the process default provider.
        // An error only means a provider was installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .user_agent(concat!("gitops-bump/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout)
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .map_err(|e| RegistryError::Setup(e.to_string()))?;
        Ok(Transport {
            http,
            options,
            auth: AuthState::default(),
            hosts: Mutex::new(HashMap::new()),
            requests: AtomicU64::new(0),
            ratelimit_remaining: Mutex::new(None),
        })
    }

    /// The options this transport was built with.
    pub fn options(&self) -> &RegistryOptions {
        &self.options
    }

    /// HTTP requests sent so far (retries and token requests included).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The lowest `ratelimit-remaining` seen (Docker Hub), if any.
    pub fn ratelimit_remaining(&self) -> Option<u64> {
        *lock(&self.ratelimit_remaining)
    }

    /// Sends `method url` for `repository` (its path, for the pull scope) on
    /// registry `api_host`, authenticating as the registry asks. Answers
    /// other than 401 come back as they are; a 401 or 403 that survives the
    /// handshake becomes [`RegistryError::Unauthorized`].
    pub async fn send(
        &self,
        api_host: &str,
        repository: &str,
        method: Method,
        url: Url,
        accept: &str,
    ) -> Result<Reply, RegistryError> {
        let scope = format!("repository:{repository}:pull");
        let mut auth = self.authorization(api_host, &scope).await?;
        let mut handshakes = 0;
        loop {
            let reply = self
                .exchange(api_host, &method, &url, accept, auth.as_ref())
                .await?;
            let status = reply.status;
            if status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN {
                return Ok(reply);
            }
            // NOTE: one fresh handshake per request: a 401 after it (or a
            // 403 at any point) means the credential is refused, not stale.
            let challenge = reply
                .header(header::WWW_AUTHENTICATE.as_str())
                .and_then(parse_challenge);
            if status == StatusCode::FORBIDDEN || handshakes > 0 || challenge.is_none() {
                return Err(self.unauthorized(api_host, repository));
            }
            handshakes += 1;
            let Some(mut challenge) = challenge else {
                return Err(self.unauthorized(api_host, repository));
            };
            if let Challenge::Bearer { scope: s, .. } = &mut challenge {
                // The scope we ask for is always our pull scope; the one in
                // the challenge may name more actions than we need.
                *s = None;
            }
            self.auth.drop_token(api_host, &scope);
            self.auth.remember_challenge(api_host, challenge);
            auth = self.authorization(api_host, &scope).await?;
            if auth.is_none() {
                return Err(self.unauthorized(api_host, repository));
            }
        }
    }

    /// The `Authorization` value to send up front, from what `api_host`
    /// asked for before (nothing when it never challenged us).
    async fn authorization(
        &self,
        api_host: &str,
        scope: &str,
    ) -> Result<Option<HeaderValue>, RegistryError> {
        let Some(challenge) = self.auth.challenge(api_host) else {
            return Ok(None);
        };
        let (credential, source) = self.credential(api_host);
        match challenge {
            Challenge::Basic => Ok(match credential {
                Some(Credential::Basic { username, password }) => Some(basic(&username, &password)),
                // An identity token only works at a token endpoint.
                Some(Credential::IdentityToken(_)) | None => None,
            }),
            Challenge::Bearer { realm, service, .. } => {
                let token = match self.auth.token(api_host, scope) {
                    Some(t) => t,
                    None => {
                        let (token, expires_in) = self
                            .fetch_token(api_host, &realm, service.as_deref(), scope, credential)
                            .await
                            .map_err(|e| match e {
                                RegistryError::Unauthorized { registry, .. } => {
                                    RegistryError::Unauthorized {
                                        registry,
                                        repository: scope_repository(scope).to_owned(),
                                        tried: source.to_string(),
                                    }
                                }
                                other => other,
                            })?;
                        self.auth
                            .store_token(api_host, scope, token.clone(), expires_in);
                        token
                    }
                };
                HeaderValue::from_str(&format!("Bearer {}", token.expose()))
                    .map(|mut v| {
                        v.set_sensitive(true);
                        Some(v)
                    })
                    .map_err(|_| RegistryError::Protocol {
                        registry: api_host.to_owned(),
                        message: "the token server returned a token that is not a valid header"
                            .into(),
                    })
            }
        }
    }

    /// Asks the token server at `realm` for a token (distribution token
    /// spec): GET with Basic credentials, or the OAuth2 refresh-token POST
    /// for an identity token.
    async fn fetch_token(
        &self,
        api_host: &str,
        realm: &str,
        service: Option<&str>,
        scope: &str,
        credential: Option<Credential>,
    ) -> Result<(Secret, Option<u64>), RegistryError> {
        let protocol = |message: String| RegistryError::Protocol {
            registry: api_host.to_owned(),
            message,
        };
        let mut url = Url::parse(realm)
            .map_err(|e| protocol(format!("token realm {realm:?} is not a URL: {e}")))?;
        if url.scheme() == "http" && !self.options.is_insecure(api_host) {
            return Err(protocol(format!(
                "token realm {realm} is plain HTTP; pass --insecure-registry {api_host} to allow it"
            )));
        }
        let (method, body, auth) = match &credential {
            Some(Credential::IdentityToken(token)) => {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                form.append_pair("grant_type", "refresh_token")
                    .append_pair("client_id", "gitops-bump")
                    .append_pair("refresh_token", token.expose())
                    .append_pair("scope", scope);
                if let Some(s) = service {
                    form.append_pair("service", s);
                }
                (Method::POST, Some(form.finish()), None)
            }
            other => {
                {
                    let mut q = url.query_pairs_mut();
                    if let Some(s) = service {
                        q.append_pair("service", s);
                    }
                    q.append_pair("scope", scope);
                }
                let auth = match other {
                    Some(Credential::Basic { username, password }) => {
                        Some(basic(username, password))
                    }
                    _ => None,
                };
                (Method::GET, None, auth)
            }
        };
        let realm_host = host_of(&url);
        let reply = self
            .retrying(&realm_host, || {
                let mut req = self.http.request(method.clone(), url.clone());
                if let Some(a) = &auth {
                    req = req.header(header::AUTHORIZATION, a.clone());
                }
                if let Some(b) = &body {
                    req = req
                        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                        .body(b.clone());
                }
                req
            })
            .await?;
        if reply.status == StatusCode::UNAUTHORIZED || reply.status == StatusCode::FORBIDDEN {
            return Err(RegistryError::Unauthorized {
                registry: api_host.to_owned(),
                repository: String::new(),
                tried: String::new(),
            });
        }
        if !reply.status.is_success() {
            return Err(protocol(format!(
                "token server {realm} answered HTTP {}",
                reply.status.as_u16()
            )));
        }
        #[derive(serde::Deserialize)]
        struct TokenReply {
            token: Option<String>,
            access_token: Option<String>,
            expires_in: Option<u64>,
        }
        let t: TokenReply = serde_json::from_slice(&reply.body)
            .map_err(|e| protocol(format!("token server {realm}: unreadable answer: {e}")))?;
        let token = t
            .token
            .or(t.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| protocol(format!("token server {realm} returned no token")))?;
        Ok((Secret::new(token), t.expires_in))
    }

    /// One authenticated request with retries.
    async fn exchange(
        &self,
        api_host: &str,
        method: &Method,
        url: &Url,
        accept: &str,
        auth: Option<&HeaderValue>,
    ) -> Result<Reply, RegistryError> {
        let reply = self
            .retrying(api_host, || {
                let mut req = self
                    .http
                    .request(method.clone(), url.clone())
                    .header(header::ACCEPT, accept);
                if let Some(a) = auth {
                    req = req.header(header::AUTHORIZATION, a.clone());
                }
                req
            })
            .await?;
        if let Some(n) = reply
            .header("ratelimit-remaining")
            .and_then(|v| v.split(';').next())
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            let mut seen = lock(&self.ratelimit_remaining);
            *seen = Some(seen.map_or(n, |s| s.min(n)));
        }
        Ok(reply)
    }

    /// Sends the request `build` makes until it gets an answer that is not
    /// transient: retries connection errors, timeouts and 5xx with
    /// exponential backoff and full jitter, honours `Retry-After` on 429 and
    /// 503, and gives up at the deadline. Holds one of `host`'s permits for
    /// each attempt (not while sleeping).
    async fn retrying(
        &self,
        host: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Reply, RegistryError> {
        let retry = &self.options.retry;
        let started = Instant::now();
        let deadline = started + retry.deadline;
        let mut delays = backon::ExponentialBuilder::default()
            .with_min_delay(retry.min_delay)
            .with_max_delay(retry.max_delay)
            .with_max_times(retry.max_retries)
            .build();
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let outcome = {
                let permits = self.semaphore(host);
                let _permit = permits.acquire().await.map_err(|_| {
                    RegistryError::Setup("the per-host request limiter was closed".into())
                })?;
                self.requests.fetch_add(1, Ordering::Relaxed);
                match build().send().await {
                    Ok(resp) => {
                        let status = resp.status();
                        let headers = resp.headers().clone();
                        resp.bytes().await.map(|body| Reply {
                            status,
                            headers,
                            body,
                        })
                    }
                    Err(e) => Err(e),
                }
            };
            let failure = match outcome {
                Ok(reply) if !transient(reply.status) => return Ok(reply),
                Ok(reply) => Failure::Status(reply),
                Err(e) => Failure::Network(e),
            };
            // Full jitter: a random wait in [0, the exponential step]. The
            // schedule also bounds the number of retries, so a registry that
            // keeps sending `Retry-After: 0` cannot make us spin.
            let wait = delays.next().map(|step| match &failure {
                Failure::Status(r) => retry_after(r).unwrap_or(step.mul_f64(fastrand::f64())),
                Failure::Network(_) => step.mul_f64(fastrand::f64()),
            });
            let fits = wait.filter(|w| Instant::now() + *w < deadline);
            match (fits, failure) {
                (Some(w), _) => tokio::time::sleep(w).await,
                (None, Failure::Status(r)) if r.status == StatusCode::TOO_MANY_REQUESTS => {
                    return Err(RegistryError::RateLimited {
                        registry: host.to_owned(),
                        retry_after: retry_after(&r).map(|d| d.as_secs()),
                    });
                }
                (None, Failure::Status(r)) => {
                    return Err(RegistryError::ServerError {
                        registry: host.to_owned(),
                        status: r.status.as_u16(),
                        attempts,
                    });
                }
                (None, Failure::Network(e)) => {
                    return Err(RegistryError::Unreachable {
                        registry: host.to_owned(),
                        reason: network_reason(&e, &self.options, attempts),
                    });
                }
            }
        }
    }

    fn semaphore(&self, host: &str) -> Arc<Semaphore> {
        lock(&self.hosts)
            .entry(host.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.options.per_host_concurrency.max(1))))
            .clone()
    }

    fn credential(&self, api_host: &str) -> (Option<Credential>, CredentialSource) {
        self.auth.credential(
            api_host,
            &self.options.credentials,
            self.options.github_token.as_ref(),
            self.options.use_docker_config,
        )
    }

    fn unauthorized(&self, api_host: &str, repository: &str) -> RegistryError {
        RegistryError::Unauthorized {
            registry: api_host.to_owned(),
            repository: repository.to_owned(),
            tried: self.credential(api_host).1.to_string(),
        }
    }
}

enum Failure {
    Status(Reply),
    Network(reqwest::Error),
}

/// Returns true if and only if `status` is worth retrying: 429 and the
/// server errors that describe a passing state (not 501 or 505).
fn transient(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || (status.is_server_error()
            && status != StatusCode::NOT_IMPLEMENTED
            && status != StatusCode::HTTP_VERSION_NOT_SUPPORTED)
}

/// `Retry-After` as delta-seconds or an HTTP date.
fn retry_after(r: &Reply) -> Option<Duration> {
    let v = r.header(header::RETRY_AFTER.as_str())?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    )
}

fn network_reason(e: &reqwest::Error, options: &RegistryOptions, attempts: u32) -> String {
    let what = if e.is_timeout() {
        format!(
            "no answer within {} s",
            options.request_timeout.as_secs_f64()
        )
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "the connection failed".to_owned()
    };
    // The innermost cause is the useful part ("connection refused",
    // "invalid peer certificate").
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    format!("{what} ({cause}) after {attempts} attempt(s)")
}

fn basic(username: &str, password: &Secret) -> HeaderValue {
    let raw = base64::engine::general_purpose::STANDARD
        .encode(format!("{username}:{}", password.expose()));
    let mut v = HeaderValue::from_str(&format!("Basic {raw}"))
        .expect("impossible: base64 is a valid header value");
    v.set_sensitive(true);
    v
}

fn host_of(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        (None, _) => String::new(),
    }
}

fn scope_repository(scope: &str) -> &str {
    scope
        .strip_prefix("repository:")
        .and_then(|s| s.rsplit_once(':'))
        .map_or(scope, |(repo, _)| repo)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every write under these locks is one assignment, so a poisoned lock
    // still holds consistent data.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_statuses() {
        assert!(transient(StatusCode::TOO_MANY_REQUESTS));
        assert!(transient(StatusCode::SERVICE_UNAVAILABLE));
        assert!(transient(StatusCode::BAD_GATEWAY));
        assert!(!transient(StatusCode::NOT_IMPLEMENTED));
        assert!(!transient(StatusCode::NOT_FOUND));
        assert!(!transient(StatusCode::UNAUTHORIZED));
    }

    #[test]
    fn scope_names_the_repository() {
        assert_eq!(scope_repository("repository:acme/app:pull"), "acme/app");
    }
}

//! How one registry request is made: the per-host concurrency cap, retries
//! with exponential backoff and full jitter under a deadline, `Retry-After`
//! on 429, the auth handshake (Basic, or a Bearer token per scope), the
//! redirect policy, capped body reads, request counting, Docker Hub's
//! `ratelimit-remaining`, and one `tracing` event per request.
//!
//! Owns everything between "send this request for this repository" and a
//! fully read answer. Does not interpret answers (that is [`super::Client`]).
//!
//! Hostile registries: every body is streamed and read up to a limit the
//! caller names (an answer past it fails once, without a retry, before the
//! rest is downloaded); redirects never go from https to http, leave the
//! registry's origin only for blob downloads (a CDN), and never carry our
//! `Authorization` to another origin (reqwest drops it when the scheme,
//! host or port changes). Events name method, host, path, status and
//! timing, never a header or a query string.

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
use super::{RegistryError, RegistryOptions, escaped, lock};

/// Largest token server answer read: a JWT with its `x5c` chain is a few
/// KiB; 1 MiB leaves room for any real one.
pub const TOKEN_LIMIT: usize = 1 << 20;

/// Largest error body read (only its error code is used). Longer error
/// bodies are cut here, not refused: the status is what counts.
pub const ERROR_BODY_LIMIT: usize = 64 << 10;

/// Redirects followed for one request (reqwest's default is 10; registries
/// use one, to a CDN).
pub const MAX_REDIRECTS: usize = 5;

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
    /// Builds the HTTP client: rustls with the ring provider (system roots
    /// plus [`RegistryOptions::ca_certificates`]), timeouts on connect and
    /// on every whole request, and the redirect policy of the module docs.
    pub fn new(options: RegistryOptions) -> Result<Transport, RegistryError> {
        // NOTE: reqwest is built with `rustls-no-provider` so neither aws-lc
        // nor OpenSSL is linked; it picks up the process default provider.
        // An error only means a provider was installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut roots = Vec::new();
        for pem in &options.ca_certificates {
            roots.extend(reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
                RegistryError::Setup(format!("a CA certificate is not valid PEM: {e}"))
            })?);
        }
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("gitops-bump/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout)
            .redirect(redirect_policy())
            // The page a request came from is nobody else's business (a CDN's
            // least of all).
            .referer(false);
        if !roots.is_empty() {
            builder = builder.tls_certs_merge(roots);
        }
        let http = builder
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
    /// handshake becomes [`RegistryError::Unauthorized`]. A successful
    /// answer's body longer than `limit` bytes is
    /// [`RegistryError::TooLarge`]; error bodies are cut at
    /// [`ERROR_BODY_LIMIT`].
    pub async fn send(
        &self,
        api_host: &str,
        repository: &str,
        method: Method,
        url: Url,
        accept: &str,
        limit: usize,
    ) -> Result<Reply, RegistryError> {
        let scope = format!("repository:{repository}:pull");
        let mut auth = self.authorization(api_host, &scope).await?;
        let mut handshakes = 0;
        loop {
            let reply = self
                .exchange(api_host, &method, &url, accept, auth.as_ref(), limit)
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
            message: super::bounded(message),
        };
        let mut url = Url::parse(realm).map_err(|e| {
            protocol(format!(
                "token realm {} is not a URL: {e}",
                escaped(realm, 100)
            ))
        })?;
        // Shown in errors: the realm as the registry wrote it, escaped.
        let realm = escaped(realm, 100);
        if url.scheme() == "http" && !self.options.is_insecure(api_host) {
            return Err(protocol(format!(
                "token realm {realm} is plain HTTP; pass --insecure-registry {api_host} to allow it"
            )));
        }
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(protocol(format!("token realm {realm} is not an HTTP URL")));
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
            .retrying(&realm_host, TOKEN_LIMIT, || {
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
        limit: usize,
    ) -> Result<Reply, RegistryError> {
        let reply = self
            .retrying(api_host, limit, || {
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
    /// each attempt (not while sleeping). A body past `limit` and a refused
    /// redirect fail at once: another attempt would get the same answer.
    async fn retrying(
        &self,
        host: &str,
        limit: usize,
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
            let request = build()
                .build()
                .map_err(|e| RegistryError::Setup(format!("cannot build a request: {e}")))?;
            let (method, url) = (request.method().clone(), request.url().clone());
            let sent = Instant::now();
            let outcome = {
                let permits = self.semaphore(host);
                let _permit = permits.acquire().await.map_err(|_| {
                    RegistryError::Setup("the per-host request limiter was closed".into())
                })?;
                self.requests.fetch_add(1, Ordering::Relaxed);
                match self.http.execute(request).await {
                    Ok(resp) => read_reply(resp, &method, limit).await,
                    Err(e) => Err(ReadError::Network(e)),
                }
            };
            let ms = millis(sent.elapsed());
            let failure = match outcome {
                Ok(reply) => {
                    log_request(&method, &url, Some(reply.status), ms, attempts, None);
                    if !transient(reply.status) {
                        return Ok(reply);
                    }
                    Failure::Status(reply)
                }
                Err(ReadError::TooLarge(status)) => {
                    log_request(&method, &url, Some(status), ms, attempts, Some("too large"));
                    return Err(RegistryError::TooLarge {
                        registry: host.to_owned(),
                        path: url.path().to_owned(),
                        limit,
                    });
                }
                Err(ReadError::Network(e)) if e.is_redirect() => {
                    log_request(&method, &url, None, ms, attempts, Some("redirect refused"));
                    return Err(RegistryError::Protocol {
                        registry: host.to_owned(),
                        message: redirect_refusal(&e, &url),
                    });
                }
                Err(ReadError::Network(e)) => {
                    let reason = network_kind(&e);
                    log_request(&method, &url, None, ms, attempts, Some(reason));
                    Failure::Network(e)
                }
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
                (Some(w), failure) => {
                    tracing::debug!(
                        method = %method,
                        host = %host_of(&url),
                        path = url.path(),
                        attempt = attempts,
                        reason = %failure.reason(),
                        wait_ms = millis(w),
                        "registry retry"
                    );
                    tokio::time::sleep(w).await;
                }
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

impl Failure {
    /// Why a retry happens, for the log.
    fn reason(&self) -> String {
        match self {
            Failure::Status(r) => format!("HTTP {}", r.status.as_u16()),
            Failure::Network(e) => network_kind(e).to_owned(),
        }
    }
}

enum ReadError {
    /// A successful answer longer than the limit (its status).
    TooLarge(StatusCode),
    /// No answer, or the body broke off.
    Network(reqwest::Error),
}

/// Reads an answer, streaming the body and stopping at `limit` bytes for a
/// successful answer (declared or read), at [`ERROR_BODY_LIMIT`] for an
/// error (cut, not refused). Nothing past the limit is downloaded.
async fn read_reply(
    mut resp: reqwest::Response,
    method: &Method,
    limit: usize,
) -> Result<Reply, ReadError> {
    let status = resp.status();
    let headers = resp.headers().clone();
    let success = status.is_success();
    let cap = if success { limit } else { ERROR_BODY_LIMIT };
    // HEAD answers declare the size of the body they do not send.
    if success && *method != Method::HEAD && resp.content_length().is_some_and(|n| n > cap as u64) {
        return Err(ReadError::TooLarge(status));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(ReadError::Network)? {
        let room = cap - body.len();
        if chunk.len() > room {
            if success {
                return Err(ReadError::TooLarge(status));
            }
            body.extend_from_slice(&chunk[..room]);
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Reply {
        status,
        headers,
        body: body.into(),
    })
}

/// Why a redirect was refused; travels inside reqwest's redirect error.
#[derive(Debug)]
struct RedirectRefused(String);

impl std::fmt::Display for RedirectRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RedirectRefused {}

/// The redirect policy: at most [`MAX_REDIRECTS`] hops, never from https to
/// http, and to another origin only for blob downloads (registries send
/// blobs to a CDN; tag lists and manifests come from the registry itself).
/// reqwest drops `Authorization` whenever the origin changes.
fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let verdict = redirect_verdict(attempt.url(), attempt.previous());
        if let Err(why) = verdict {
            return attempt.error(RedirectRefused(why));
        }
        if let Some(from) = attempt.previous().last() {
            tracing::debug!(
                status = attempt.status().as_u16(),
                from_host = %host_of(from),
                from_path = from.path(),
                to_host = %host_of(attempt.url()),
                to_path = attempt.url().path(),
                "registry redirect"
            );
        }
        attempt.follow()
    })
}

/// Whether to follow a redirect to `next` after `previous` (the first is
/// the URL we asked for); the refusal says why.
fn redirect_verdict(next: &Url, previous: &[Url]) -> Result<(), String> {
    let Some(first) = previous.first() else {
        return Ok(());
    };
    let to = format!("{}://{}", next.scheme(), host_of(next));
    if previous.len() > MAX_REDIRECTS {
        return Err(format!("more than {MAX_REDIRECTS} redirects"));
    }
    if next.scheme() != "https" && previous.iter().any(|u| u.scheme() == "https") {
        return Err(format!("redirect from https to {to} (plain HTTP)"));
    }
    if !same_origin(first, next) && !first.path().contains("/blobs/") {
        return Err(format!("redirect to another origin ({to})"));
    }
    Ok(())
}

/// Returns true if and only if `a` and `b` have the same scheme, host and
/// port (RFC 6454 origin; default ports count as written out).
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str().map(str::to_ascii_lowercase) == b.host_str().map(str::to_ascii_lowercase)
        && a.port_or_known_default() == b.port_or_known_default()
}

/// The message for a refused redirect of `url`.
fn redirect_refusal(e: &reqwest::Error, url: &Url) -> String {
    let mut cause: Option<&dyn std::error::Error> = Some(e);
    while let Some(c) = cause {
        if let Some(r) = c.downcast_ref::<RedirectRefused>() {
            return format!("{}: refused a {r}", url.path());
        }
        cause = c.source();
    }
    format!("{}: refused a redirect", url.path())
}

/// One event per request attempt: method, host, path, status (when an
/// answer came), milliseconds, attempt number and what went wrong. Never a
/// header or a query string (token requests carry the scope there, and
/// CDN URLs their signatures).
fn log_request(
    method: &Method,
    url: &Url,
    status: Option<StatusCode>,
    ms: u64,
    attempt: u32,
    error: Option<&str>,
) {
    tracing::debug!(
        method = %method,
        host = %host_of(url),
        path = url.path(),
        status = status.map(|s| s.as_u16()),
        ms,
        attempt,
        error,
        "registry request"
    );
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn network_kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "connection failed"
    }
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

/// `host[:port]` of `url` (the port only when written).
pub(crate) fn host_of(url: &Url) -> String {
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

    fn url(s: &str) -> Url {
        Url::parse(s).expect("url")
    }

    #[test]
    fn redirects_stay_home_except_blobs_and_never_downgrade() {
        let manifest = url("https://r.example/v2/a/manifests/v1");
        let blob = url("https://r.example/v2/a/blobs/sha256:abc");
        // Same origin: fine for anything.
        assert_eq!(
            redirect_verdict(
                &url("https://r.example/v2/a/manifests/sha256:1"),
                std::slice::from_ref(&manifest)
            ),
            Ok(())
        );
        assert_eq!(
            redirect_verdict(
                &url("https://R.EXAMPLE:443/x"),
                std::slice::from_ref(&manifest)
            ),
            Ok(())
        );
        // Another origin: a blob's CDN only.
        assert_eq!(
            redirect_verdict(
                &url("https://cdn.example/x?sig=1"),
                std::slice::from_ref(&blob)
            ),
            Ok(())
        );
        assert_eq!(
            redirect_verdict(
                &url("https://cdn.example/x"),
                std::slice::from_ref(&manifest)
            ),
            Err("redirect to another origin (https://cdn.example)".into())
        );
        assert_eq!(
            redirect_verdict(
                &url("https://r.example:8443/x"),
                std::slice::from_ref(&manifest)
            ),
            Err("redirect to another origin (https://r.example:8443)".into())
        );
        // Never from https to http, not even for blobs, not even later.
        assert_eq!(
            redirect_verdict(&url("http://cdn.example/x"), std::slice::from_ref(&blob)),
            Err("redirect from https to http://cdn.example (plain HTTP)".into())
        );
        assert_eq!(
            redirect_verdict(
                &url("http://r.example/x"),
                &[blob.clone(), url("https://cdn.example/y")]
            ),
            Err("redirect from https to http://r.example (plain HTTP)".into())
        );
        // Plain HTTP registries (--insecure-registry) may redirect within HTTP.
        assert_eq!(
            redirect_verdict(
                &url("http://cdn:81/x"),
                &[url("http://r:5000/v2/a/blobs/sha256:1")]
            ),
            Ok(())
        );
        let hops: Vec<Url> = (0..=MAX_REDIRECTS).map(|_| blob.clone()).collect();
        assert_eq!(
            redirect_verdict(&blob, &hops),
            Err(format!("more than {MAX_REDIRECTS} redirects"))
        );
    }

    #[test]
    fn origins() {
        assert!(same_origin(&url("https://a/x"), &url("https://a:443/y?z")));
        assert!(!same_origin(&url("https://a/x"), &url("http://a/x")));
        assert!(!same_origin(
            &url("http://a:5000/x"),
            &url("http://a:5001/x")
        ));
        assert!(!same_origin(&url("http://a/x"), &url("http://b/x")));
    }

    #[test]
    fn scope_names_the_repository() {
        assert_eq!(scope_repository("repository:acme/app:pull"), "acme/app");
    }
}

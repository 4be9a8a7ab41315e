//! The HTTP side of the GitHub backend: one reqwest client, the token, the
//! request counter, the size cap on every answer, one `tracing` event per
//! request, and the classification of every answer into "use it", "wait and
//! retry" or "stop". Answers are JSON read whole ([`Client::send`]) or, in a
//! raw media type, streamed to a [`Sink`] ([`Client::stream`]) through the
//! same waits and retries. Knows nothing about Git or manifests.
//!
//! Failure classes are kept apart (DESIGN.md §6):
//! - primary rate limit (`x-ratelimit-remaining: 0`, or a GraphQL error of
//!   type `RATE_LIMITED`/`RATE_LIMIT` or code `graphql_rate_limit`): wait
//!   until `x-ratelimit-reset`, or stop at once when that is past the deadline;
//! - secondary rate limit (403/429, or a GraphQL answer saying so): wait
//!   `retry-after`, else until the reset when `x-ratelimit-remaining` is 0,
//!   else at least 60 s;
//! - a compare-and-swap miss, in any of GitHub's wordings ([`lost_race`]):
//!   [`GitHubError::Stale`], for the write path to re-read;
//! - 5xx and transport errors: exponential backoff with full jitter, but only
//!   for requests that are safe to repeat; a mutation gets
//!   [`GitHubError::Ambiguous`] back so its caller can look for the commit;
//! - an answer over its cap: [`GitHubError::TooLarge`] at once, never retried;
//! - 401, other 403s and 404: stop, with a message naming the permission.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::header::{self, HeaderMap, HeaderValue};
use serde_json::Value;

use super::GitHubError;
use crate::commit::retry::{Backoff, Deadline};
use crate::secret::Secret;

/// `User-Agent` on every request: GitHub refuses requests without one.
pub const USER_AGENT: &str = concat!("gitops-bump/", env!("CARGO_PKG_VERSION"));

/// One mebibyte, for the caps below.
pub const MIB: usize = 1024 * 1024;

/// Largest tree listing read. GitHub cuts a recursive listing at 100,000
/// entries or 7 MB (docs, "Get a tree"), so a real one is far below this.
pub const TREE_LIMIT: usize = 64 * MIB;

/// Largest GraphQL answer read: a chunk of file texts (each cut by GitHub
/// at 512,000 bytes) or a history query fits with room to spare.
pub const GRAPHQL_LIMIT: usize = 32 * MIB;

/// Largest answer to any other REST request (a created tree or commit, a
/// comparison).
pub const REST_LIMIT: usize = 32 * MIB;

/// Largest blob answer ever read, whatever `--max-file-size` says.
pub const BLOB_CEILING: usize = 256 * MIB;

/// An error answer's body is cut (not refused) at this many bytes: only its
/// `message` is used.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// A secondary rate limit without `retry-after` waits at least this long
/// (GitHub docs, "Rate limits for the REST API": "wait for at least one minute").
const SECONDARY_WAIT: Duration = Duration::from_secs(60);

/// GitHub messages are cut to this many characters in our errors.
const MAX_MESSAGE: usize = 300;

/// One request, described before it is sent.
#[derive(Debug)]
pub struct Req<'a> {
    /// HTTP method.
    pub method: reqwest::Method,
    /// Full URL.
    pub url: String,
    /// JSON body.
    pub body: Option<&'a Value>,
    /// What this request is for, in errors (`read the tree of main`).
    pub what: &'a str,
    /// Returns true if and only if sending it twice does no harm.
    pub idempotent: bool,
    /// The GraphQL operation name, for the log (`None` for REST).
    pub operation: Option<&'a str>,
    /// Largest successful answer accepted, in bytes; a longer one is
    /// [`GitHubError::TooLarge`].
    pub limit: usize,
}

impl<'a> Req<'a> {
    /// A REST request with the [`REST_LIMIT`] cap.
    pub fn rest(
        method: reqwest::Method,
        url: String,
        body: Option<&'a Value>,
        what: &'a str,
        idempotent: bool,
    ) -> Req<'a> {
        Req {
            method,
            url,
            body,
            what,
            idempotent,
            operation: None,
            limit: REST_LIMIT,
        }
    }
}

/// An answer the caller has to interpret (2xx, 409, 422 and other 4xx).
#[derive(Debug)]
pub struct Resp {
    /// HTTP status.
    pub status: reqwest::StatusCode,
    /// Parsed JSON body (`Null` when empty or not JSON).
    pub json: Value,
}

/// The GitHub HTTP client. `Debug` never shows the token.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    token: Secret,
    requests: Arc<AtomicU64>,
    max_attempts: usize,
    deadline: Deadline,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("token", &self.token)
            .field("requests", &self.requests.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Builds the client (rustls on ring; no OpenSSL, no aws-lc).
    pub fn new(
        token: Secret,
        max_attempts: usize,
        deadline: Deadline,
    ) -> Result<Client, GitHubError> {
        // Ignore the error: another part of the program may have installed
        // the same provider first, which is just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/vnd.github+json"),
        );
        headers.insert(
            "x-github-api-version",
            HeaderValue::from_static("2022-11-28"),
        );
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .default_headers(headers)
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| GitHubError::Setup(e.to_string()))?;
        Ok(Client {
            http,
            token,
            requests: Arc::new(AtomicU64::new(0)),
            max_attempts,
            deadline,
        })
    }

    /// Requests sent so far, retries included.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Sends `req`, waiting out rate limits and retrying what is safe to
    /// retry. 401, 403 (not a rate limit), 404 and an answer over
    /// `req.limit` come back as errors. Every attempt is one `debug` event
    /// (`github request`), every wait one more (`github retry`) besides the
    /// `warn` the user sees.
    pub async fn send(&self, req: &Req<'_>) -> Result<Resp, GitHubError> {
        self.exchange(req, &mut Body::Json).await
    }

    /// Sends `req` like [`Client::send`] (same waits, retries, counting and
    /// log events), asking for the media type `accept`, and hands a
    /// successful answer's body to `sink` piece by piece as it arrives,
    /// never holding it whole: memory stays bounded whatever its size. A
    /// retry restarts the sink; the body stops being read once the sink
    /// wants no more. `req.limit` caps the bytes streamed. The answer's
    /// `json` is `Null`; an error answer is read and classified as usual.
    pub async fn stream(
        &self,
        req: &Req<'_>,
        accept: &'static str,
        sink: &mut dyn Sink,
    ) -> Result<Resp, GitHubError> {
        self.exchange(req, &mut Body::Stream { accept, sink }).await
    }

    /// The retry loop around [`Client::once`].
    async fn exchange(&self, req: &Req<'_>, body: &mut Body<'_>) -> Result<Resp, GitHubError> {
        let mut backoff = Backoff::server();
        let mut attempt = 0;
        let (host, path) = host_and_path(&req.url);
        loop {
            attempt += 1;
            let started = Instant::now();
            let (outcome, status) = self.once(req, body).await;
            let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            tracing::debug!(
                method = %req.method,
                host = %host,
                path = %path,
                operation = req.operation,
                status,
                ms,
                attempt,
                outcome = outcome.label(),
                "github request"
            );
            let wait = match outcome {
                Outcome::Done(resp) => return Ok(resp),
                Outcome::Fatal(e) => return Err(e),
                Outcome::Transient(why) if !req.idempotent => {
                    return Err(GitHubError::Ambiguous {
                        what: req.what.to_owned(),
                        message: why,
                    });
                }
                Outcome::Transient(why) => (backoff.next_wait(), why),
                Outcome::NotSent(why) => (backoff.next_wait(), why),
                Outcome::RateLimited { wait, why } => {
                    if self.deadline.exceeded_by(wait) {
                        return Err(GitHubError::RateLimited {
                            what: req.what.to_owned(),
                            why,
                            wait_secs: wait.as_secs(),
                            deadline_secs: self.deadline.total().as_secs(),
                        });
                    }
                    (wait, why)
                }
            };
            let (wait, why) = wait;
            if attempt >= self.max_attempts || self.deadline.exceeded_by(wait) {
                return Err(GitHubError::GaveUp {
                    what: req.what.to_owned(),
                    attempts: attempt,
                    last: why,
                });
            }
            let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
            tracing::debug!(
                method = %req.method,
                host = %host,
                path = %path,
                operation = req.operation,
                attempt,
                reason = %why,
                wait_ms,
                "github retry"
            );
            tracing::warn!(
                what = req.what,
                reason = %why,
                wait_ms,
                attempt = attempt + 1,
                "{}: {why}; retrying in {:.1}s (attempt {} of {})",
                req.what,
                wait.as_secs_f64(),
                attempt + 1,
                self.max_attempts
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// Posts a GraphQL document. Returns `data`; `errors` become
    /// [`GitHubError`]s (`STALE_DATA` and a lost race are
    /// [`GitHubError::Stale`]).
    pub async fn graphql(
        &self,
        url: &str,
        query: &str,
        variables: Value,
        what: &str,
        idempotent: bool,
    ) -> Result<Value, GitHubError> {
        let body = serde_json::json!({ "query": query, "variables": variables });
        let resp = self
            .send(&Req {
                method: reqwest::Method::POST,
                url: url.to_owned(),
                body: Some(&body),
                what,
                idempotent,
                operation: operation_name(query),
                limit: GRAPHQL_LIMIT,
            })
            .await?;
        if !resp.status.is_success() {
            return Err(GitHubError::Unexpected {
                what: what.to_owned(),
                message: format!("HTTP {}: {}", resp.status.as_u16(), message_of(&resp.json)),
            });
        }
        let errors = resp
            .json
            .get("errors")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        // A compare-and-swap miss anywhere in the answer decides it: the
        // write did not happen and a re-read is the cure.
        if let Some(miss) = errors.iter().find(|e| {
            e.get("type").and_then(Value::as_str) == Some("STALE_DATA") || lost_race(&message_of(e))
        }) {
            // https://docs.github.com/en/graphql/reference/mutations#createcommitonbranch
            return Err(GitHubError::Stale(message_of(miss)));
        }
        if let Some(first) = errors.first() {
            let kind = first.get("type").and_then(Value::as_str).unwrap_or("");
            let message = message_of(first);
            return Err(match kind {
                "NOT_FOUND" => GitHubError::NotFound {
                    what: what.to_owned(),
                    message,
                },
                "FORBIDDEN" | "INSUFFICIENT_SCOPES" => GitHubError::Forbidden {
                    what: what.to_owned(),
                    message,
                    permission: "contents: write",
                    hint: "",
                },
                _ => GitHubError::Unexpected {
                    what: what.to_owned(),
                    message: if kind.is_empty() {
                        message
                    } else {
                        format!("{}: {message}", bounded(kind))
                    },
                },
            });
        }
        Ok(resp.json.get("data").cloned().unwrap_or(Value::Null))
    }

    /// One attempt: the outcome, and the status when an answer came.
    async fn once(&self, req: &Req<'_>, body: &mut Body<'_>) -> (Outcome, Option<u16>) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut auth = match HeaderValue::from_str(&format!("Bearer {}", self.token.expose())) {
            Ok(v) => v,
            Err(_) => {
                let e = GitHubError::Setup(
                    "the token holds characters that cannot go in an HTTP header".into(),
                );
                return (Outcome::Fatal(e), None);
            }
        };
        auth.set_sensitive(true);
        let mut builder = self
            .http
            .request(req.method.clone(), &req.url)
            .header(header::AUTHORIZATION, auth);
        if let Some(body) = req.body {
            builder = builder.json(body);
        }
        if let Body::Stream { accept, .. } = body {
            builder = builder.header(header::ACCEPT, HeaderValue::from_static(accept));
        }
        let response = match builder.send().await {
            Ok(r) => r,
            // A refused or failed connection never reached GitHub: safe to resend.
            Err(e) if e.is_connect() => return (Outcome::NotSent(transport(&e)), None),
            Err(e) => return (Outcome::Transient(transport(&e)), None),
        };
        let status = response.status();
        if let Body::Stream { sink, .. } = body
            && status.is_success()
        {
            // A REST answer in a raw media type: no JSON that could report
            // a rate limit, so a 2xx is the body itself.
            let outcome = match stream_capped(response, req.limit, &mut **sink).await {
                Ok(()) => Outcome::Done(Resp {
                    status,
                    json: Value::Null,
                }),
                Err(Capped::TooLarge) => Outcome::Fatal(GitHubError::TooLarge {
                    what: req.what.to_owned(),
                    limit: req.limit,
                }),
                Err(Capped::Broken(e)) => Outcome::Transient(transport(&e)),
            };
            return (outcome, Some(status.as_u16()));
        }
        let headers = response.headers().clone();
        let bytes = match read_capped(response, req.limit).await {
            Ok(b) => b,
            Err(Capped::TooLarge) => {
                let e = GitHubError::TooLarge {
                    what: req.what.to_owned(),
                    limit: req.limit,
                };
                return (Outcome::Fatal(e), Some(status.as_u16()));
            }
            Err(Capped::Broken(e)) => {
                return (Outcome::Transient(transport(&e)), Some(status.as_u16()));
            }
        };
        let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (
            classify(status, &headers, json, req.what),
            Some(status.as_u16()),
        )
    }
}

/// Returns true if and only if `message` is one of GitHub's wordings for a
/// compare-and-swap miss: the ref moved between our read and our write, so
/// nothing was written and a re-read is the cure.
///
/// - `createCommitOnBranch` and `updateRefs` that pass the `expectedHeadOid`
///   (or `beforeOid`) check and then lose the ref update to a concurrent
///   push: `Ref refs/heads/B is at <oid> but expected <oid>` (type
///   `UNPROCESSABLE`; babarot/gh-infra#163 matches "is at " and "but expected");
/// - an `updateRefs` `beforeOid` mismatch: `… is at <oid>, not at the expected <oid>`;
/// - REST `PATCH git/refs` with `force: false`: 422 "Update is not a fast
///   forward" (docs, "Update a reference"), "Reference cannot be updated"
///   (octokit/octokit.net#2277) and "Reference update failed"
///   (github/rest-api-description#4887).
pub fn lost_race(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    (m.contains(" is at ") && (m.contains("but expected") || m.contains("not at the expected")))
        || m.contains("is not a fast forward")
        || m.contains("is not a fast-forward")
        || m.contains("reference cannot be updated")
        || m.contains("reference update failed")
}

/// The `message` of a GitHub error body: its first line, without control
/// characters, cut after [`MAX_MESSAGE`] characters.
pub fn message_of(json: &Value) -> String {
    bounded(
        json.get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .lines()
            .next()
            .unwrap_or(""),
    )
}

/// `text` made safe for one line of output: control characters become
/// `?`, and it is cut after [`MAX_MESSAGE`] characters.
pub fn bounded(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(MAX_MESSAGE)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().nth(MAX_MESSAGE).is_some() {
        out.push('…');
    }
    out
}

/// The GraphQL operation name of `document` (`ReadFiles` in
/// `query ReadFiles(…)`), for the log.
pub fn operation_name(document: &str) -> Option<&str> {
    let rest = document
        .trim_start()
        .strip_prefix("query")
        .or_else(|| document.trim_start().strip_prefix("mutation"))?;
    let name = rest.trim_start();
    let end = name
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(name.len());
    (end > 0).then(|| &name[..end])
}

/// How one attempt ended.
enum Outcome {
    Done(Resp),
    Fatal(GitHubError),
    /// The request may or may not have been acted on.
    Transient(String),
    /// The request never reached the server.
    NotSent(String),
    /// Not acted on; wait this long.
    RateLimited {
        wait: Duration,
        why: String,
    },
}

impl Outcome {
    /// A short word for the log.
    fn label(&self) -> &'static str {
        match self {
            Outcome::Done(_) => "done",
            Outcome::Fatal(_) => "fatal",
            Outcome::Transient(_) => "transient",
            Outcome::NotSent(_) => "not sent",
            Outcome::RateLimited { .. } => "rate limited",
        }
    }
}

/// Why a capped read stopped.
enum Capped {
    /// A successful answer longer than the cap.
    TooLarge,
    /// The body broke off.
    Broken(reqwest::Error),
}

/// What becomes of a successful answer's body.
enum Body<'s> {
    /// Read whole (up to the request's limit) and parsed as JSON.
    Json,
    /// Asked for in the media type `accept` and handed to `sink` as it
    /// arrives.
    Stream {
        accept: &'static str,
        sink: &'s mut dyn Sink,
    },
}

/// Takes a streamed answer's body ([`Client::stream`]) piece by piece.
pub trait Sink: Send {
    /// Forgets what was pushed: the answer is being sent again from its
    /// first byte (a retry).
    fn restart(&mut self);
    /// Takes the next piece. Returns true if and only if more of the body
    /// is wanted; false stops reading it.
    fn push(&mut self, piece: &[u8]) -> bool;
}

/// Streams a successful answer's body into `sink` (after restarting it):
/// longer than `limit` (declared or read) is [`Capped::TooLarge`], the rest
/// is never downloaded; a sink that wants no more ends the read early.
async fn stream_capped(
    mut resp: reqwest::Response,
    limit: usize,
    sink: &mut dyn Sink,
) -> Result<(), Capped> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(Capped::TooLarge);
    }
    sink.restart();
    let mut read = 0usize;
    while let Some(chunk) = resp.chunk().await.map_err(Capped::Broken)? {
        read = read.saturating_add(chunk.len());
        if read > limit {
            return Err(Capped::TooLarge);
        }
        if !sink.push(&chunk) {
            break;
        }
    }
    Ok(())
}

/// Reads an answer's body as it streams in: a successful answer longer than
/// `limit` (declared or read) is refused without downloading the rest; an
/// error answer is cut at [`ERROR_BODY_LIMIT`] (only its message is used).
async fn read_capped(mut resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, Capped> {
    let success = resp.status().is_success();
    let cap = if success { limit } else { ERROR_BODY_LIMIT };
    if success && resp.content_length().is_some_and(|n| n > cap as u64) {
        return Err(Capped::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(Capped::Broken)? {
        let room = cap - body.len();
        if chunk.len() > room {
            if success {
                return Err(Capped::TooLarge);
            }
            body.extend_from_slice(&chunk[..room]);
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// What kind of rate limit an answer reports, if any.
#[derive(Debug, PartialEq, Eq)]
enum Limit {
    /// The primary limit: the hourly quota.
    Primary,
    /// A secondary limit: too fast, too concurrent, too costly.
    Secondary,
}

fn classify(status: reqwest::StatusCode, headers: &HeaderMap, json: Value, what: &str) -> Outcome {
    let header_num = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let message = message_of(&json);
    let code = status.as_u16();
    let remaining = header_num("x-ratelimit-remaining");
    let limit = match code {
        // GraphQL answers rate limits with HTTP 200 and an error (GraphQL
        // rate-limit docs: "the response status will be 200 or 403"); any
        // error alongside an exhausted quota is taken as the limit.
        200..=299 => graphql_limit(&json).or_else(|| {
            (remaining == Some(0) && json.get("errors").is_some_and(|e| !e.is_null()))
                .then_some(Limit::Primary)
        }),
        403 | 429 => graphql_limit(&json)
            .or_else(|| text_limit(&message))
            .or_else(|| (remaining == Some(0)).then_some(Limit::Primary))
            .or_else(|| header_num("retry-after").map(|_| Limit::Secondary))
            .or_else(|| (code == 429).then_some(Limit::Secondary)),
        _ => None,
    };
    if let Some(limit) = limit {
        return rate_limited(limit, code, remaining, header_num);
    }
    match code {
        200..=299 => Outcome::Done(Resp { status, json }),
        401 => Outcome::Fatal(GitHubError::BadCredentials),
        403 => Outcome::Fatal(GitHubError::Forbidden {
            what: what.to_owned(),
            message,
            permission: "contents: write",
            hint: "",
        }),
        404 => Outcome::Fatal(GitHubError::NotFound {
            what: what.to_owned(),
            message,
        }),
        500..=599 => Outcome::Transient(format!("HTTP {code} {message}").trim_end().to_owned()),
        _ => Outcome::Done(Resp { status, json }),
    }
}

/// How long a rate-limited answer asks us to wait (GitHub docs, "Rate
/// limits for the REST API", exceeding the rate limit): `retry-after` when
/// sent; else the reset when `x-ratelimit-remaining` is 0, or for a primary
/// limit reported with a non-zero remaining count (plugin-throttling.js#632);
/// else at least a minute.
fn rate_limited(
    limit: Limit,
    code: u16,
    remaining: Option<u64>,
    header_num: impl Fn(&str) -> Option<u64>,
) -> Outcome {
    let kind = match limit {
        Limit::Primary => "primary",
        Limit::Secondary => "secondary",
    };
    if let Some(secs) = header_num("retry-after") {
        return Outcome::RateLimited {
            wait: Duration::from_secs(secs),
            why: format!("{kind} rate limit (HTTP {code}, retry-after {secs}s)"),
        };
    }
    let reset = header_num("x-ratelimit-reset");
    if let Some(reset) = reset
        && (remaining == Some(0) || limit == Limit::Primary)
    {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        // One second of slack: the reset is a whole second, our clock is not.
        return Outcome::RateLimited {
            wait: Duration::from_secs(reset.saturating_sub(now) + 1),
            why: format!(
                "API rate limit exhausted until the reset at {reset} (epoch seconds; HTTP {code}, {kind})"
            ),
        };
    }
    Outcome::RateLimited {
        wait: SECONDARY_WAIT,
        why: format!("{kind} rate limit (HTTP {code}, no retry-after: waiting a minute)"),
    }
}

/// The rate limit a GraphQL `errors` array reports: the documented
/// `type: RATE_LIMITED`, the newer `type: RATE_LIMIT` / `code:
/// graphql_rate_limit` (yanyongyu/githubkit#271), or a message saying so.
fn graphql_limit(json: &Value) -> Option<Limit> {
    let errors = json.get("errors").and_then(Value::as_array)?;
    errors.iter().find_map(|e| {
        let field = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("");
        if field("type").starts_with("RATE_LIMIT") || field("code") == "graphql_rate_limit" {
            Some(Limit::Primary)
        } else {
            text_limit(field("message"))
        }
    })
}

/// The rate limit a message names: "secondary rate limit", or the primary
/// limit's "API rate limit exceeded" / "already exceeded".
fn text_limit(message: &str) -> Option<Limit> {
    let m = message.to_ascii_lowercase();
    if m.contains("secondary rate limit") {
        Some(Limit::Secondary)
    } else if m.contains("rate limit exceeded") || m.contains("rate limit already exceeded") {
        Some(Limit::Primary)
    } else {
        None
    }
}

/// `host[:port]` and the path of `url`, for the log (never the query).
fn host_and_path(url: &str) -> (String, String) {
    match url::Url::parse(url) {
        Ok(u) => {
            let host = match (u.host_str(), u.port()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h.to_owned(),
                (None, _) => String::new(),
            };
            (host, u.path().to_owned())
        }
        Err(_) => (String::new(), String::new()),
    }
}

/// A transport error as one line, without the chain's URL query (none of
/// ours carry secrets, but keep it short).
fn transport(e: &reqwest::Error) -> String {
    let mut out = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "connection failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out = format!("{out}: {s}");
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).expect("ascii"));
        }
        h
    }

    #[test]
    fn rate_limits_are_told_apart_from_permissions() {
        let forbidden = reqwest::StatusCode::FORBIDDEN;
        let body = serde_json::json!({"message": "Resource not accessible by integration"});
        assert!(matches!(
            classify(forbidden, &headers(&[]), body.clone(), "x"),
            Outcome::Fatal(GitHubError::Forbidden { .. })
        ));
        assert!(matches!(
            classify(forbidden, &headers(&[("retry-after", "3")]), body.clone(), "x"),
            Outcome::RateLimited { wait, .. } if wait == Duration::from_secs(3)
        ));
        assert!(matches!(
            classify(forbidden, &headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "0")]), body, "x"),
            Outcome::RateLimited { wait, .. } if wait == Duration::from_secs(1)
        ));
        let secondary = serde_json::json!({"message": "You have exceeded a secondary rate limit."});
        assert!(matches!(
            classify(forbidden, &headers(&[]), secondary, "x"),
            Outcome::RateLimited { wait, .. } if wait == SECONDARY_WAIT
        ));
    }

    #[test]
    fn server_errors_are_transient_and_422_is_for_the_caller() {
        let h = headers(&[]);
        assert!(matches!(
            classify(reqwest::StatusCode::BAD_GATEWAY, &h, Value::Null, "x"),
            Outcome::Transient(_)
        ));
        assert!(matches!(
            classify(
                reqwest::StatusCode::UNPROCESSABLE_ENTITY,
                &h,
                Value::Null,
                "x"
            ),
            Outcome::Done(_)
        ));
        assert!(matches!(
            classify(reqwest::StatusCode::UNAUTHORIZED, &h, Value::Null, "x"),
            Outcome::Fatal(GitHubError::BadCredentials)
        ));
    }

    fn wait_of(o: &Outcome) -> Option<Duration> {
        match o {
            Outcome::RateLimited { wait, .. } => Some(*wait),
            _ => None,
        }
    }

    // See: issue #13 (hardening): only `RATE_LIMITED` was waited out.
    #[test]
    fn issue_13_every_graphql_rate_limit_shape_waits() {
        let ok = reqwest::StatusCode::OK;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let reset = (now + 30).to_string();
        let shapes = [
            serde_json::json!({"errors": [{"type": "RATE_LIMITED", "message": "API rate limit exceeded for installation ID 1."}]}),
            serde_json::json!({"errors": [{"type": "RATE_LIMIT", "code": "graphql_rate_limit", "message": "API rate limit already exceeded for installation ID 1."}]}),
            serde_json::json!({"errors": [{"code": "graphql_rate_limit", "message": "x"}]}),
            serde_json::json!({"errors": [{"message": "API rate limit exceeded for user ID 1."}]}),
        ];
        for body in shapes {
            for remaining in ["0", "4"] {
                let h = headers(&[
                    ("x-ratelimit-remaining", remaining),
                    ("x-ratelimit-reset", &reset),
                ]);
                let wait = wait_of(&classify(ok, &h, body.clone(), "x"));
                // Until the reset (30 s away, plus a second of slack), also
                // when GitHub says requests remain.
                assert!(
                    wait.is_some_and(
                        |w| w >= Duration::from_secs(29) && w <= Duration::from_secs(32)
                    ),
                    "{body} remaining {remaining}: {wait:?}"
                );
            }
        }
        // A secondary limit in a GraphQL answer: retry-after, else the reset
        // when nothing remains, else a minute (not the hour-away reset).
        let secondary = serde_json::json!({"errors": [{"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}]});
        let far = (now + 3600).to_string();
        let cases: [(&[(&'static str, &str)], Duration); 3] = [
            (&[("retry-after", "7")], Duration::from_secs(7)),
            (
                &[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "0")],
                Duration::from_secs(1),
            ),
            (
                &[
                    ("x-ratelimit-remaining", "4000"),
                    ("x-ratelimit-reset", &far),
                ],
                SECONDARY_WAIT,
            ),
        ];
        for (h, want) in cases {
            assert_eq!(
                wait_of(&classify(ok, &headers(h), secondary.clone(), "x")),
                Some(want),
                "{h:?}"
            );
        }
        // A plain GraphQL error is the caller's, unless the quota is gone.
        let plain =
            serde_json::json!({"errors": [{"type": "NOT_FOUND", "message": "Could not resolve"}]});
        assert!(matches!(
            classify(ok, &headers(&[]), plain.clone(), "x"),
            Outcome::Done(_)
        ));
        let h = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", &reset),
        ]);
        assert!(wait_of(&classify(ok, &h, plain, "x")).is_some());
        let data = serde_json::json!({"data": {"x": 1}});
        assert!(
            matches!(classify(ok, &h, data, "x"), Outcome::Done(_)),
            "a good answer is used"
        );
    }

    #[test]
    fn issue_13_secondary_limits_wait_a_minute_unless_told() {
        for status in [
            reqwest::StatusCode::FORBIDDEN,
            reqwest::StatusCode::TOO_MANY_REQUESTS,
        ] {
            let body = serde_json::json!({"message": "You have exceeded a secondary rate limit."});
            assert_eq!(
                wait_of(&classify(status, &headers(&[]), body.clone(), "x")),
                Some(SECONDARY_WAIT)
            );
            assert_eq!(
                wait_of(&classify(
                    status,
                    &headers(&[("retry-after", "2")]),
                    body,
                    "x"
                )),
                Some(Duration::from_secs(2))
            );
        }
        // 429 needs no message to be a limit.
        assert_eq!(
            wait_of(&classify(
                reqwest::StatusCode::TOO_MANY_REQUESTS,
                &headers(&[]),
                Value::Null,
                "x"
            )),
            Some(SECONDARY_WAIT)
        );
    }

    // See: issue #13 (hardening): github.com words a lost race differently.
    #[test]
    fn issue_13_every_wording_of_a_compare_and_swap_miss_is_a_lost_race() {
        let oid = "a".repeat(40);
        for miss in [
            format!("Ref refs/heads/main is at {oid} but expected {oid}"),
            format!("Ref refs/heads/main is at {oid}, not at the expected {oid} (in the fake)"),
            "Update is not a fast forward".to_owned(),
            "Reference cannot be updated".to_owned(),
            "Reference update failed".to_owned(),
        ] {
            assert!(lost_race(&miss), "{miss}");
        }
        for other in [
            "Reference does not exist",
            "Object does not exist",
            "A ref named \"refs/heads/x\" already exists in the repository.",
            "Expected value to not be null",
            "Resource not accessible by integration",
        ] {
            assert!(!lost_race(other), "{other}");
        }
    }

    #[test]
    fn messages_are_one_bounded_line_and_operations_are_named() {
        let long = "é".repeat(MAX_MESSAGE + 5);
        let m = message_of(&serde_json::json!({"message": format!("{long}\nsecond line")}));
        assert_eq!(m.chars().count(), MAX_MESSAGE + 1, "cut, with an ellipsis");
        assert_eq!(bounded("a\u{1b}[31mb\rc"), "a?[31mb?c");
        assert_eq!(
            operation_name("query ReadFiles($a: Int) { x }"),
            Some("ReadFiles")
        );
        assert_eq!(
            operation_name("mutation CreateCommit($input: X!) { x }"),
            Some("CreateCommit")
        );
        assert_eq!(operation_name("query { x }"), None);
        assert_eq!(operation_name("{ x }"), None);
    }
}

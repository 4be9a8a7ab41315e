//! The HTTP side of the GitHub backend: one reqwest client, the token, the
//! request counter, and the classification of every answer into "use it",
//! "wait and retry" or "stop". Knows nothing about Git or manifests.
//!
//! Failure classes are kept apart (DESIGN.md §6):
//! - primary rate limit (`x-ratelimit-remaining: 0`): wait until
//!   `x-ratelimit-reset`, or stop at once when that is past the deadline;
//! - secondary rate limit (403/429): wait `retry-after`, else at least 60 s;
//! - 5xx and transport errors: exponential backoff with full jitter, but only
//!   for requests that are safe to repeat; a mutation gets
//!   [`GitHubError::Ambiguous`] back so its caller can look for the commit;
//! - 401, other 403s and 404: stop, with a message naming the permission.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{self, HeaderMap, HeaderValue};
use serde_json::Value;

use super::GitHubError;
use crate::commit::retry::{Backoff, Deadline};
use crate::secret::Secret;

/// `User-Agent` on every request: GitHub refuses requests without one.
pub const USER_AGENT: &str = concat!("gitops-bump/", env!("CARGO_PKG_VERSION"));

/// A secondary rate limit without `retry-after` waits at least this long
/// (GitHub docs, "Rate limits for the REST API": "wait for at least one minute").
const SECONDARY_WAIT: Duration = Duration::from_secs(60);

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
    /// retry. 401, 403 (not a rate limit) and 404 come back as errors.
    pub async fn send(&self, req: &Req<'_>) -> Result<Resp, GitHubError> {
        let mut backoff = Backoff::server();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let wait = match self.once(req).await {
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
            tracing::warn!(
                what = req.what,
                reason = %why,
                wait_ms = wait.as_millis() as u64,
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
    /// [`GitHubError`]s (`STALE_DATA` is [`GitHubError::Stale`]).
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
            })
            .await?;
        if !resp.status.is_success() {
            return Err(GitHubError::Unexpected {
                what: what.to_owned(),
                message: format!("HTTP {}: {}", resp.status.as_u16(), message_of(&resp.json)),
            });
        }
        if let Some(first) = resp
            .json
            .get("errors")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
        {
            let kind = first.get("type").and_then(Value::as_str).unwrap_or("");
            let message = message_of(first);
            return Err(match kind {
                // https://docs.github.com/en/graphql/reference/mutations#createcommitonbranch
                "STALE_DATA" => GitHubError::Stale(message),
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
                        format!("{kind}: {message}")
                    },
                },
            });
        }
        Ok(resp.json.get("data").cloned().unwrap_or(Value::Null))
    }

    async fn once(&self, req: &Req<'_>) -> Outcome {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut auth = match HeaderValue::from_str(&format!("Bearer {}", self.token.expose())) {
            Ok(v) => v,
            Err(_) => {
                return Outcome::Fatal(GitHubError::Setup(
                    "the token holds characters that cannot go in an HTTP header".into(),
                ));
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
        let response = match builder.send().await {
            Ok(r) => r,
            // A refused or failed connection never reached GitHub: safe to resend.
            Err(e) if e.is_connect() => return Outcome::NotSent(transport(&e)),
            Err(e) => return Outcome::Transient(transport(&e)),
        };
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = match response.bytes().await {
            Ok(b) => b,
            Err(e) => return Outcome::Transient(transport(&e)),
        };
        let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        classify(status, &headers, json, req.what)
    }
}

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

fn classify(status: reqwest::StatusCode, headers: &HeaderMap, json: Value, what: &str) -> Outcome {
    let header_num = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let message = message_of(&json);
    let graphql_limited = status.is_success()
        && json
            .get("errors")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(|e| e.get("type"))
            .and_then(Value::as_str)
            == Some("RATE_LIMITED");
    let code = status.as_u16();
    if code == 403 || code == 429 || graphql_limited {
        if let Some(secs) = header_num("retry-after") {
            return Outcome::RateLimited {
                wait: Duration::from_secs(secs),
                why: format!("secondary rate limit (HTTP {code}, retry-after {secs}s)"),
            };
        }
        if header_num("x-ratelimit-remaining") == Some(0) {
            let reset = header_num("x-ratelimit-reset").unwrap_or(0);
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            // One second of slack: the reset is a whole second, our clock is not.
            let wait = Duration::from_secs(reset.saturating_sub(now) + 1);
            return Outcome::RateLimited {
                wait,
                why: format!("API rate limit exhausted until the reset at {reset} (epoch seconds)"),
            };
        }
        if code == 429
            || message
                .to_ascii_lowercase()
                .contains("secondary rate limit")
        {
            return Outcome::RateLimited {
                wait: SECONDARY_WAIT,
                why: format!("secondary rate limit (HTTP {code})"),
            };
        }
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

/// The `message` of a GitHub error body, one line.
pub fn message_of(json: &Value) -> String {
    json.get("message")
        .and_then(Value::as_str)
        .unwrap_or("")
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
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
}

//! A fake GitHub for tests: an axum server on loopback backed by a real Git
//! repository (see `git`). It implements exactly the endpoints the GitHub
//! backend uses, with GitHub's documented semantics and error shapes, plus
//! fault knobs (forced CAS misses, 5xx bursts, dropped connections, rate
//! limits, dropped commits) and per-endpoint request counts.
//!
//! Served under `/api/v3` and `/api/graphql`, the GitHub Enterprise Server
//! layout, so a URL join that drops `v3` fails every test.

pub mod git;
pub mod graphql;

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use base64::Engine as _;
use serde_json::{Value, json};

pub use git::Repo;

/// The token the fake accepts.
pub const TOKEN: &str = "ghs_fakeTOKENvalue0123456789abcdef";
/// The repository it serves.
pub const OWNER: &str = "acme";
/// The repository it serves.
pub const NAME: &str = "gitops";
/// Its default branch.
pub const BRANCH: &str = "main";

/// A hook run under the write lock just before a write is checked: it may
/// commit to the branch as a competitor would.
pub type Hook = Box<dyn FnOnce(&Repo) + Send>;

/// Fault knobs. Each counter is consumed one request (or write) at a time.
#[derive(Default)]
pub struct Faults {
    /// Next N writes: a competing commit lands just before each.
    pub cas_misses: usize,
    /// Run before the next writes, one per write.
    pub before_write: VecDeque<Hook>,
    /// Next requests answer these statuses (502, 503…) without acting.
    pub server_errors: VecDeque<u16>,
    /// Next N writes: the connection drops before the write is applied.
    pub drop_before_write: usize,
    /// Next N writes: the write is applied, then the connection drops.
    pub drop_after_write: usize,
    /// Next N writes: answered as successful, but the branch never moves.
    pub drop_commits: usize,
    /// Next N requests: 403 secondary rate limit with `retry-after: 1`.
    pub secondary_limits: usize,
    /// Recursive tree listings with more entries than this are truncated.
    pub truncate_trees_over: Option<usize>,
    /// `Blob.text` longer than this is cut and `isTruncated` is set.
    pub text_limit: Option<usize>,
    /// `createPullRequest` is refused as a token without `pull-requests:
    /// write` sees it: `Some(200)` as a GraphQL `FORBIDDEN` error, `Some(403)`
    /// as an HTTP 403.
    pub forbid_pull_requests: Option<u16>,
}

/// A pull request in the fake.
#[derive(Clone, Debug)]
pub struct Pull {
    /// Number (shared with nothing else: the fake has no issues).
    pub number: u64,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// `OPEN`, `CLOSED` or `MERGED`.
    pub state: String,
    /// Branch it merges into.
    pub base: String,
    /// Branch it merges from.
    pub head: String,
}

impl Pull {
    /// Its node id.
    pub fn id(&self) -> String {
        format!("PR_fake{}", self.number)
    }

    /// Its page.
    pub fn url(&self) -> String {
        format!("https://github.com/{OWNER}/{NAME}/pull/{}", self.number)
    }
}

/// Shared server state.
pub struct State {
    repo: Repo,
    faults: Mutex<Faults>,
    counts: Mutex<BTreeMap<String, u64>>,
    /// Writes are serialised, as GitHub serialises pushes to one ref.
    write_lock: Mutex<u64>,
    /// Epoch second until which the primary rate limit is exhausted.
    exhausted_until: Mutex<u64>,
    used: Mutex<u64>,
    pulls: Mutex<Vec<Pull>>,
}

/// A running fake; stops when dropped.
pub struct FakeGitHub {
    /// Base URL (`http://127.0.0.1:PORT`).
    pub url: String,
    state: Arc<State>,
    rt: Option<tokio::runtime::Runtime>,
}

impl FakeGitHub {
    /// Serves `files` as `acme/gitops@main`.
    pub fn start(files: &Path) -> FakeGitHub {
        let state = Arc::new(State {
            repo: Repo::from_files(files, BRANCH),
            faults: Mutex::new(Faults::default()),
            counts: Mutex::new(BTreeMap::new()),
            write_lock: Mutex::new(0),
            exhausted_until: Mutex::new(0),
            used: Mutex::new(0),
            pulls: Mutex::new(Vec::new()),
        });
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let app = axum::Router::new()
            .fallback(serve)
            .with_state(state.clone());
        rt.spawn(async move { axum::serve(listener, app).await });
        FakeGitHub {
            url,
            state,
            rt: Some(rt),
        }
    }

    /// `GITHUB_API_URL` for the backend.
    pub fn api_url(&self) -> String {
        format!("{}/api/v3", self.url)
    }

    /// `GITHUB_GRAPHQL_URL` for the backend.
    pub fn graphql_url(&self) -> String {
        format!("{}/api/graphql", self.url)
    }

    /// The repository, for inspection and competing commits.
    pub fn repo(&self) -> &Repo {
        &self.state.repo
    }

    /// Changes fault knobs.
    pub fn faults(&self) -> MutexGuard<'_, Faults> {
        lock(&self.state.faults)
    }

    /// Exhausts the primary rate limit for `secs` seconds from now.
    pub fn exhaust_rate_limit(&self, secs: u64) {
        *lock(&self.state.exhausted_until) = now() + secs;
    }

    /// Requests per endpoint so far.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        lock(&self.state.counts).clone()
    }

    /// All requests so far.
    pub fn total(&self) -> u64 {
        lock(&self.state.counts).values().sum()
    }

    /// Every pull request, open or not, oldest first.
    pub fn pulls(&self) -> Vec<Pull> {
        lock(&self.state.pulls).clone()
    }

    /// Closes pull request `number` without merging it.
    pub fn close_pull(&self, number: u64) {
        for p in lock(&self.state.pulls).iter_mut() {
            if p.number == number {
                p.state = "CLOSED".into();
            }
        }
    }
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// What a handler answers: a response, or a dropped connection.
pub enum Answer {
    /// Status, extra headers, JSON body.
    Json(u16, Vec<(&'static str, String)>, Value),
    /// The connection breaks before a usable response arrives.
    Drop,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn serve(
    AxumState(state): AxumState<Arc<State>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = tokio::task::spawn_blocking(move || state.handle(&method, &uri, &headers, &body))
        .await
        .unwrap_or_else(|_| Answer::Json(500, vec![], json!({"message": "fake panicked"})));
    match answer {
        Answer::Json(status, extra, body) => {
            let mut resp = Response::builder()
                .status(status)
                .header("content-type", "application/json; charset=utf-8");
            for (k, v) in extra {
                resp = resp.header(k, v);
            }
            resp.body(Body::from(body.to_string())).expect("response")
        }
        Answer::Drop => {
            // Headers go out, then the body fails: hyper aborts the
            // connection and the client never sees a complete answer.
            let broken = futures_util::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::other("connection dropped"))
            });
            Response::builder()
                .status(200)
                .body(Body::from_stream(broken))
                .expect("response")
        }
    }
}

impl State {
    fn handle(&self, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Answer {
        let path = uri.path();
        let label = endpoint_label(method, path);
        *lock(&self.counts).entry(label.clone()).or_default() += 1;
        let graphql = path == "/api/graphql";
        let resource = if graphql { "graphql" } else { "core" };
        // Every answer carries the rate-limit headers (GitHub docs, "Rate limits
        // for the REST API": checking the status of your rate limit).
        let exhausted_until = *lock(&self.exhausted_until);
        let limited = now() < exhausted_until;
        let used = {
            let mut used = lock(&self.used);
            *used += 1;
            *used
        };
        let rate = |remaining: u64, reset: u64| {
            vec![
                ("x-ratelimit-limit", "5000".to_owned()),
                ("x-ratelimit-remaining", remaining.to_string()),
                ("x-ratelimit-reset", reset.to_string()),
                ("x-ratelimit-used", used.to_string()),
                ("x-ratelimit-resource", resource.to_owned()),
            ]
        };
        let headers_ok = rate(5000u64.saturating_sub(used), now() + 3600);
        let json = |status: u16, body: Value| Answer::Json(status, headers_ok.clone(), body);

        if headers.get("user-agent").is_none() {
            return json(
                403,
                json!({"message": "Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). Check https://developer.github.com for other possible causes."}),
            );
        }
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if auth != format!("Bearer {TOKEN}") && auth != format!("token {TOKEN}") {
            return json(
                401,
                json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"}),
            );
        }
        if limited {
            let headers = rate(0, exhausted_until);
            let message = "API rate limit exceeded for installation ID 1. If you reach out to GitHub Support for help, please include the request ID.";
            return if graphql {
                Answer::Json(
                    200,
                    headers,
                    json!({"errors": [{"type": "RATE_LIMITED", "message": message}]}),
                )
            } else {
                Answer::Json(
                    403,
                    headers,
                    json!({"message": message, "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}),
                )
            };
        }
        {
            let mut faults = lock(&self.faults);
            if faults.secondary_limits > 0 {
                faults.secondary_limits -= 1;
                let mut h = headers_ok.clone();
                h.push(("retry-after", "1".into()));
                return Answer::Json(
                    403,
                    h,
                    json!({"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}),
                );
            }
            if let Some(status) = faults.server_errors.pop_front() {
                return json(status, json!({"message": "Server Error"}));
            }
        }
        let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let answer = if graphql && method == Method::POST {
            graphql::execute(self, &body)
        } else {
            self.rest(method, path, uri.query().unwrap_or(""), &body)
        };
        match answer {
            Answer::Json(status, extra, body) => {
                let mut h = headers_ok;
                h.extend(extra);
                Answer::Json(status, h, body)
            }
            Answer::Drop => Answer::Drop,
        }
    }

    fn rest(&self, method: &Method, path: &str, query: &str, body: &Value) -> Answer {
        let not_found = || {
            Answer::Json(
                404,
                vec![],
                json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"}),
            )
        };
        let Some(rest) = path.strip_prefix(&format!("/api/v3/repos/{OWNER}/{NAME}/")) else {
            return not_found();
        };
        let repo = &self.repo;
        let (kind, arg) = rest.split_once('/').map_or((rest, ""), |(k, a)| (k, a));
        let arg = percent_decode(arg);
        match (method.as_str(), kind) {
            ("GET", "git") if arg.starts_with("trees/") => {
                let treeish = &arg["trees/".len()..];
                let Some(tree) = repo.peel(treeish, "tree") else {
                    return not_found();
                };
                let recursive = query
                    .split('&')
                    .any(|p| p == "recursive=1" || p == "recursive=true");
                let mut entries = repo.ls_tree(&tree, recursive);
                let mut truncated = false;
                if let Some(max) = lock(&self.faults).truncate_trees_over
                    && recursive
                    && entries.len() > max
                {
                    entries.truncate(max);
                    truncated = true;
                }
                let tree_json: Vec<Value> = entries
                    .iter()
                    .map(|e| {
                        let mut v =
                            json!({"path": e.path, "mode": e.mode, "type": e.kind, "sha": e.sha});
                        if let Some(size) = e.size {
                            v["size"] = json!(size);
                        }
                        v
                    })
                    .collect();
                Answer::Json(
                    200,
                    vec![],
                    json!({"sha": tree, "tree": tree_json, "truncated": truncated}),
                )
            }
            ("GET", "git") if arg.starts_with("blobs/") => {
                let sha = &arg["blobs/".len()..];
                if repo.kind(sha).as_deref() != Some("blob") {
                    return not_found();
                }
                let bytes = repo.blob(sha).unwrap_or_default();
                let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
                // GitHub wraps base64 content at 60 columns.
                let wrapped: Vec<&str> = b64
                    .as_bytes()
                    .chunks(60)
                    .map(|c| std::str::from_utf8(c).unwrap_or(""))
                    .collect();
                Answer::Json(
                    200,
                    vec![],
                    json!({"sha": sha, "size": bytes.len(), "encoding": "base64", "content": wrapped.join("\n") + "\n"}),
                )
            }
            ("POST", "git") if arg == "trees" => self.create_tree(body),
            ("POST", "git") if arg == "commits" => {
                let tree = body.get("tree").and_then(Value::as_str).unwrap_or("");
                let message = body.get("message").and_then(Value::as_str).unwrap_or("");
                let parents: Vec<String> = body
                    .get("parents")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p.as_str().map(str::to_owned))
                    .collect();
                if repo.kind(tree).as_deref() != Some("tree")
                    || parents
                        .iter()
                        .any(|p| repo.kind(p).as_deref() != Some("commit"))
                {
                    return Answer::Json(
                        422,
                        vec![],
                        json!({"message": "Tree SHA does not exist"}),
                    );
                }
                match repo.commit_tree(tree, &parents, message) {
                    Ok(sha) => {
                        Answer::Json(201, vec![], json!({"sha": sha, "tree": {"sha": tree}}))
                    }
                    Err(e) => Answer::Json(422, vec![], json!({"message": e})),
                }
            }
            ("PATCH", "git") if arg.starts_with("refs/heads/") => {
                self.update_ref(&arg["refs/heads/".len()..], body)
            }
            ("GET", "compare") => {
                let Some((base, head)) = arg.split_once("...") else {
                    return not_found();
                };
                let (Some(base), Some(head)) =
                    (repo.peel(base, "commit"), repo.peel(head, "commit"))
                else {
                    return not_found();
                };
                let status = if base == head {
                    "identical"
                } else if repo.is_ancestor(&base, &head) {
                    "ahead"
                } else if repo.is_ancestor(&head, &base) {
                    "behind"
                } else {
                    "diverged"
                };
                Answer::Json(200, vec![], json!({"status": status}))
            }
            _ => not_found(),
        }
    }

    fn create_tree(&self, body: &Value) -> Answer {
        let base = body.get("base_tree").and_then(Value::as_str).unwrap_or("");
        if self.repo.kind(base).as_deref() != Some("tree") {
            return Answer::Json(
                422,
                vec![],
                json!({"message": "base_tree is not a valid tree oid"}),
            );
        }
        let mut files = Vec::new();
        for e in body
            .get("tree")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let path = e
                .get("path")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let mode = e.get("mode").and_then(Value::as_str).map(str::to_owned);
            let Some(content) = e.get("content").and_then(Value::as_str) else {
                return Answer::Json(
                    422,
                    vec![],
                    json!({"message": "only inline content is supported by the fake"}),
                );
            };
            files.push((path, mode, content.as_bytes().to_vec()));
        }
        match self.repo.tree_with(base, &files, &[]) {
            Ok(sha) => Answer::Json(201, vec![], json!({"sha": sha, "truncated": false})),
            Err(e) => Answer::Json(422, vec![], json!({"message": e})),
        }
    }

    fn update_ref(&self, branch: &str, body: &Value) -> Answer {
        let sha = body.get("sha").and_then(Value::as_str).unwrap_or("");
        let force = body.get("force").and_then(Value::as_bool).unwrap_or(false);
        let mut writes = lock(&self.write_lock);
        self.before_write(branch);
        let Some(current) = self.repo.head(branch) else {
            return Answer::Json(422, vec![], json!({"message": "Reference does not exist"}));
        };
        if self.repo.kind(sha).as_deref() != Some("commit") {
            return Answer::Json(422, vec![], json!({"message": "Object does not exist"}));
        }
        // https://docs.github.com/en/rest/git/refs#update-a-reference
        if !force && !self.repo.is_ancestor(&current, sha) {
            return Answer::Json(
                422,
                vec![],
                json!({"message": "Update is not a fast forward", "documentation_url": "https://docs.github.com/rest/git/refs#update-a-reference", "status": "422"}),
            );
        }
        match self.write_fault() {
            WriteFault::DropBefore => return Answer::Drop,
            WriteFault::DropCommit => {
                return Answer::Json(
                    200,
                    vec![],
                    json!({"ref": format!("refs/heads/{branch}"), "object": {"sha": sha, "type": "commit"}}),
                );
            }
            _ => {}
        }
        if !self.repo.update_ref(branch, sha, &current) {
            return Answer::Json(
                422,
                vec![],
                json!({"message": "Update is not a fast forward"}),
            );
        }
        *writes += 1;
        if self.take_drop_after() {
            return Answer::Drop;
        }
        Answer::Json(
            200,
            vec![],
            json!({"ref": format!("refs/heads/{branch}"), "object": {"sha": sha, "type": "commit"}}),
        )
    }

    /// Runs the competitor hooks for one write (caller holds the write lock).
    fn before_write(&self, branch: &str) {
        let (hook, miss) = {
            let mut f = lock(&self.faults);
            let hook = f.before_write.pop_front();
            let miss = f.cas_misses > 0;
            if miss {
                f.cas_misses -= 1;
            }
            (hook, miss)
        };
        if let Some(hook) = hook {
            hook(&self.repo);
        }
        if miss {
            let n = self
                .repo
                .history(&format!("refs/heads/{branch}"), 10_000)
                .len();
            self.repo.commit_on(
                branch,
                &[(
                    "competitor.txt",
                    format!("competing commit {n}\n").as_bytes(),
                )],
                &format!("competitor {n}"),
            );
        }
    }

    fn write_fault(&self) -> WriteFault {
        let mut f = lock(&self.faults);
        if f.drop_before_write > 0 {
            f.drop_before_write -= 1;
            WriteFault::DropBefore
        } else if f.drop_commits > 0 {
            f.drop_commits -= 1;
            WriteFault::DropCommit
        } else {
            WriteFault::None
        }
    }

    fn take_drop_after(&self) -> bool {
        let mut f = lock(&self.faults);
        if f.drop_after_write > 0 {
            f.drop_after_write -= 1;
            true
        } else {
            false
        }
    }
}

enum WriteFault {
    None,
    DropBefore,
    DropCommit,
}

/// `METHOD /route` with ids replaced, so counts group by endpoint.
fn endpoint_label(method: &Method, path: &str) -> String {
    if path == "/api/graphql" {
        return "POST /graphql".into();
    }
    let rest = path
        .strip_prefix(&format!("/api/v3/repos/{OWNER}/{NAME}"))
        .unwrap_or(path);
    let route = if rest.starts_with("/git/trees/") {
        "/git/trees/{sha}"
    } else if rest.starts_with("/git/blobs/") {
        "/git/blobs/{sha}"
    } else if rest.starts_with("/git/refs/") {
        "/git/refs/{ref}"
    } else if rest.starts_with("/compare/") {
        "/compare/{basehead}"
    } else {
        rest
    };
    format!("{method} {route}")
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(h) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(h);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

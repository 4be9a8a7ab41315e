//! A fake GitHub for tests: an axum server on loopback backed by a real Git
//! repository (see `git`). It implements the endpoints gitops-bump uses with
//! GitHub's documented and observed semantics and answer shapes, plus fault
//! knobs and request counters. It does not implement anything else: an
//! unknown REST route is a 404 and an unknown GraphQL field an error, never
//! a silent null. `selftest` pins every answer shape below with raw HTTP.
//!
//! Served under `/api/v3` and `/api/graphql`, the GitHub Enterprise Server
//! layout, so a URL join that drops `v3` fails every test.
//!
//! # What is supported
//!
//! | surface | what | notes (source) |
//! |---|---|---|
//! | GraphQL, every request | parse + validate against `../shared/github/schema.graphql` (apollo-compiler), then variable coercion | one error per diagnostic with `locations`; an unknown field as graphql-ruby words it ("Field 'x' doesn't exist on type 'T'", `extensions.code: undefinedField`); variable problems in graphql-ruby's words, e.g. `Variable $input of type CreateCommitOnBranchInput! was provided invalid value for expectedHeadOid (Expected value to not be null)` (avitorio/outstatic#17) |
//! | GraphQL connections | `first`/`last` required, 1..=100 | `MISSING_PAGINATION_BOUNDARIES`, `EXCESSIVE_PAGINATION` ("Requesting 101 records on the `history` connection exceeds the `first` limit of 100 records.") (docs: "Rate limits and query limits for the GraphQL API", node limit) |
//! | `Query.repository` | `id`, `name`, `nameWithOwner`, `url`, `defaultBranchRef`, `ref(qualifiedName:)`, `object(oid:)` / `object(expression:)`, `pullRequest(number:)`, `pullRequests(headRefName:, baseRefName:, states:, first/last, after)` | |
//! | `Ref` | `id`, `name`, `prefix`, `target`, `compare(headRef:)` → `aheadBy`, `behindBy`, `status`, `commits` | `compare` is null when the head does not resolve (schema doc) |
//! | `Commit` | `oid`, `abbreviatedOid`, `id`, `tree { oid }`, `parents`, `message`, `messageHeadline`, `messageBody`, `author`/`committer { name email date user { login } }`, `authoredDate`, `committedDate`, `signature`, `file(path:)`, `history(path:, since:, until:, author: {emails}, first/last, after/before)`, `url` | history = `git rev-list [--since] [--until] C -- path` (committer dates, no rename following); cursors `"<oid> <n>"` |
//! | `Commit.signature` | `GpgSignature { isValid state wasSignedByGitHub signer { login } email payload signature verifiedAt }` for commits GitHub signed, else null | `createCommitOnBranch` commits are signed by `web-flow` (helium/HIP#1226: `isValid: true, state: VALID, signer: web-flow`); Git-data commits are not (anthropics/claude-code-action#1511) |
//! | `Tree`/`TreeEntry`/`Blob` | `entries`, `mode`, `name`, `path`, `oid`, `type`, `object`, `byteSize`, `isBinary`, `isTruncated`, `text` | `text` cut at 512,000 bytes with `isTruncated: true` by default (sveltia/sveltia-cms#950) |
//! | mutations | `createCommitOnBranch`, `createRef`, `updateRefs` (create, move, delete with all-zero oids, atomically), `deleteRef`, `createPullRequest`, `updatePullRequest`, `closePullRequest`, `addComment` | see `graphql` |
//! | `PullRequest` | `id number url title body state closed merged isDraft baseRefName headRefName headRefOid baseRefOid headRef baseRef createdAt closedAt mergedAt author { login } comments(first/last) { totalCount nodes { id body url createdAt author { login } } }` | GitHub's own state changes: `pulls` |
//! | REST `git/trees/{sha}` | `?recursive=1` | `truncated` (docs: "Get a tree") |
//! | REST `git/blobs/{sha}` | base64 wrapped at 60 columns; with `Accept: application/vnd.github.raw+json` (or `.raw`, `.v3.raw`) the bytes themselves, streamed, `content-type: application/vnd.github.raw` | docs: "Get a blob", custom media types ("Returns the raw blob data") |
//! | REST `git/trees`, `git/commits` (POST) | inline `content`; `author`/`committer` | commits unsigned (`verification.verified: false, reason: "unsigned"`) unless `Faults::sign_rest_commits` |
//! | REST `git/commits/{sha}`, `commits/{ref}` (GET) | with `verification` | |
//! | REST `git/ref/heads/{b}` (GET), `git/refs` (POST), `git/refs/heads/{b}` (PATCH, DELETE) | | `422 Update is not a fast forward`, `422 Reference does not exist`, `422 Reference already exists`, `422 Reference cannot be updated` (osunyorg/admin#104, octokit/octokit.net#2277) |
//! | REST `compare/{base}...{head}` | `status`, `ahead_by`, `behind_by`, `total_commits`, `merge_base_commit`, `commits`, `files[] { sha filename status additions deletions changes blob_url raw_url contents_url previous_filename }` | no `patch` |
//! | every answer | `x-ratelimit-limit/remaining/used/reset/resource` | docs: "Rate limits for the REST API", checking the status |
//!
//! # Knobs ([`Faults`], consumed one request or write at a time)
//!
//! | knob | effect | GitHub source of the answer |
//! |---|---|---|
//! | `cas_misses` | a competitor commits before the write is checked: GraphQL `STALE_DATA` "Expected branch to point to \"…\" but it did not.  Pull and try again.", REST 422 "Update is not a fast forward" | ministryofjustice/modernisation-platform#11985; docs: "Update a reference" |
//! | `lost_races` | the write (`createCommitOnBranch`, `updateRefs`, REST `PATCH`) passes its check, then a competitor lands before the ref moves: GraphQL `UNPROCESSABLE` "Ref refs/heads/B is at NEW but expected OLD" (field null, `path`, `locations`), REST 422 "Reference cannot be updated" | babarot/gh-infra#163 (matches "is at " and "but expected"); octokit/octokit.net#2277 |
//! | `before_write` | hooks run under the write lock before a write is checked | |
//! | `server_errors` | answer these statuses without acting | |
//! | `drop_before_write` / `drop_after_write` | the connection breaks before / after the write lands | |
//! | `drop_commits` | the write answers success, the branch never moves | |
//! | `secondary_limits` | 403 secondary limit with `retry-after: 1` (all endpoints) | docs: "Rate limits for the REST API", exceeding |
//! | `secondary` | a queue of [`SecondaryLimit`]s: status 403/429 (or 200 for GraphQL), with or without `retry-after`, or with `x-ratelimit-remaining: 0` and a near reset | same |
//! | [`FakeGitHub::exhaust_rate_limit`] / `exhaust_rate_limit_of` (the window starts at the next request) | primary limit: GraphQL HTTP 200 + `errors[].type` per `graphql_rate_limit`, REST `rest_rate_limit_status` (403/429), `x-ratelimit-remaining: 0` (or `graphql_rate_limit_remaining`), `x-ratelimit-reset` | octokit/plugin-throttling.js (`RATE_LIMITED`), yanyongyu/githubkit#271 (`RATE_LIMIT`, `code: graphql_rate_limit`), octokit/plugin-throttling.js#632 (remaining not 0) |
//! | `truncate_trees_over` / `truncate_flat_trees_over` | recursive / non-recursive listings cut with `truncated: true` | docs: "Get a tree" |
//! | `text_limit` | `Blob.text` cut at this many bytes with `isTruncated` (default 512,000) | sveltia/sveltia-cms#950 |
//! | `text_missing_over` | `Blob.text` null (and `isTruncated` false) for larger text blobs | hardening: the schema promises `text` only "or null if the Blob is binary"; no threshold is documented |
//! | `broken_raw_blobs` | the next raw blob answers break off halfway through the body | hardening: a long download that fails midway |
//! | `commit_after_listing` | a competitor commits to `main` right after each of the next N tree listings is answered | the branch moving between a reader's requests |
//! | `bad_oids` | the next write answers carry this string as the new commit id | hardening |
//! | `floods` | the next answers are streamed JSON of N bytes, or endless, never built in memory | hardening |
//! | `forbid_pull_requests` | pull-request mutations refused: GraphQL `FORBIDDEN` or HTTP 403 "Resource not accessible by integration" | |
//! | `keep_pulls_open_on_head_delete` | deleting a head branch leaves its pull request open | Mergifyio/mergify#4422 (2022) |
//! | `sign_rest_commits` | Git-data commits without `author`/`committer` are signed, as for App tokens | DataDog/commit-headless#46 |
//! | `commit_modes_reset` | `createCommitOnBranch` writes the files it changes as `100644` (an executable bit dropped) | babarot/gh-infra#167 (new files); existing files undocumented |
//!
//! # Test-side helpers ([`FakeGitHub`])
//!
//! | helper | what it does |
//! |---|---|
//! | `commit(branch, files, deleted, message, &By { author, committer, signed })` | any commit, with chosen people and dates (ISO 8601 with offset), signed or not |
//! | `bot_commit(branch, files, message, date)` | as gitops-bump's `createCommitOnBranch` commit: `github-actions[bot]` author, `GitHub <noreply@github.com>` committer, signed by `web-flow` |
//! | [`bump_message`]`(subject, image, from, to, writer, id)` | a message with the `Gitops-Bump-*` trailers (README, "Commits") |
//! | [`with_record`]`(message, base, tree)` | adds the pull-request record (`Gitops-Bump-Base`, `Gitops-Bump-Tree`) |
//! | `person_commit(branch, files, message, &Person)` | a person's own edit: no trailers, unsigned |
//! | `amend_head(branch, files, message, &Person)` | `git commit --amend` + force push: same parents and author, the person as committer, unsigned |
//! | `force_push(branch, oid)`, `delete_branch(branch)` | as `git push --force` / the web's delete button; pull requests react (`pulls`) |
//! | `register_user(email, login)` | `GitActor.user`; `ID+login@users.noreply.github.com` maps by itself, bots map to null |
//! | `pulls()`, `comments(n)`, `close_pull(n)`, `is_signed(oid)` | assertions and set-up |
//! | `repo()` | the real repository (`git`): `head`, `info`, `range`, `diff`, `read`… |
//!
//! Request counters: [`FakeGitHub::counts`] per endpoint (`POST /graphql`,
//! `GET /git/trees/{sha}`…, `GET /git/blobs/{sha} raw` for the raw media type), [`FakeGitHub::operations`] per GraphQL
//! operation (`query ReadFiles`, `mutation CreatePullRequest`), and
//! [`FakeGitHub::fields`] per executed GraphQL field (`Commit.history`,
//! `Mutation.addComment`, `Ref.compare`), aliases counted each.

pub mod git;
pub mod graphql;
pub mod pulls;
pub mod rest;
mod selftest;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use serde_json::{Value, json};

pub use git::{Person, Repo};
pub use pulls::{Comment, Pull};

/// The token the fake accepts.
pub const TOKEN: &str = "ghs_fakeTOKENvalue0123456789abcdef";
/// The repository it serves.
pub const OWNER: &str = "acme";
/// The repository it serves.
pub const NAME: &str = "gitops";
/// Its default branch.
pub const BRANCH: &str = "main";
/// The token's actor as GraphQL names it (`Bot.login`): the fake's token
/// stands for `GITHUB_TOKEN`.
pub const BOT_LOGIN: &str = "github-actions";
/// The author name `createCommitOnBranch` gives the token's commits.
pub const BOT_NAME: &str = "github-actions[bot]";
/// The author email `createCommitOnBranch` gives the token's commits.
pub const BOT_EMAIL: &str = "41898282+github-actions[bot]@users.noreply.github.com";
/// The account GitHub signs web and API commits with.
pub const WEB_FLOW: &str = "web-flow";

/// A hook run under the write lock just before a write is checked: it may
/// commit to the branch as a competitor would.
pub type Hook = Box<dyn FnOnce(&Repo) + Send>;

/// The shape of a GraphQL primary-rate-limit answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GraphqlRateLimit {
    /// `{"errors":[{"type":"RATE_LIMITED","message":"API rate limit exceeded for …"}]}`,
    /// the documented enum value (octokit/plugin-throttling.js tests).
    #[default]
    RateLimited,
    /// `{"errors":[{"type":"RATE_LIMIT","code":"graphql_rate_limit","message":"API rate limit already exceeded for …"}]}`,
    /// observed since 2025 (yanyongyu/githubkit#271, octokit/plugin-throttling.js#848).
    RateLimit,
}

/// One secondary-rate-limit answer (docs: "Rate limits for the REST API",
/// exceeding the rate limit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecondaryLimit {
    /// 403 or 429; 200 is allowed for GraphQL ("the response status will
    /// be 200 or 403", GraphQL rate-limit docs).
    pub status: u16,
    /// `retry-after` seconds, when sent.
    pub retry_after: Option<u64>,
    /// Send `x-ratelimit-remaining: 0` with `x-ratelimit-reset` this many
    /// seconds from now: the documented alternative to `retry-after`, and
    /// the fast way to test the "no retry-after" path (without either,
    /// clients must wait at least 60 s).
    pub reset_in: Option<u64>,
}

/// A streamed answer too big or endless to build in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flood {
    /// A complete JSON document of at least this many bytes.
    Bytes(u64),
    /// A JSON document that never ends.
    Endless,
}

/// A rate-limit resource (`x-ratelimit-resource`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    /// The REST API.
    Core,
    /// The GraphQL API.
    Graphql,
}

impl Resource {
    fn name(self) -> &'static str {
        match self {
            Resource::Core => "core",
            Resource::Graphql => "graphql",
        }
    }
}

/// Fault knobs (module docs). Each counter is consumed one request (or
/// write) at a time.
pub struct Faults {
    /// Next N writes: a competing commit lands just before each is checked.
    pub cas_misses: usize,
    /// Next N writes: the check passes, then a competing commit lands
    /// before the ref moves (the lost race).
    pub lost_races: usize,
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
    /// Next requests: these secondary-rate-limit answers.
    pub secondary: VecDeque<SecondaryLimit>,
    /// Shape of the GraphQL primary-rate-limit error.
    pub graphql_rate_limit: GraphqlRateLimit,
    /// `x-ratelimit-remaining` on a GraphQL primary-rate-limit answer (0 as
    /// documented; GitHub has sent non-zero values: plugin-throttling.js#632).
    pub graphql_rate_limit_remaining: u64,
    /// Status of a REST primary-rate-limit answer: 403 (default) or 429.
    pub rest_rate_limit_status: u16,
    /// Recursive tree listings with more entries than this are truncated.
    pub truncate_trees_over: Option<usize>,
    /// Non-recursive tree listings with more entries than this are truncated.
    pub truncate_flat_trees_over: Option<usize>,
    /// `Blob.text` longer than this is cut and `isTruncated` is set
    /// (default 512,000 bytes, GitHub's observed limit).
    pub text_limit: Option<usize>,
    /// `Blob.text` is null for text blobs larger than this.
    pub text_missing_over: Option<u64>,
    /// Next N raw blob answers send half the body, then break off.
    pub broken_raw_blobs: usize,
    /// Next N tree listings: a competitor commits to `main` right after.
    pub commit_after_listing: usize,
    /// Next write answers carry this string instead of the new commit id.
    pub bad_oids: VecDeque<String>,
    /// Next requests are answered by these streamed documents.
    pub floods: VecDeque<Flood>,
    /// `createPullRequest` is refused as a token without `pull-requests:
    /// write` sees it: `Some(200)` as a GraphQL `FORBIDDEN` error, `Some(403)`
    /// as an HTTP 403.
    pub forbid_pull_requests: Option<u16>,
    /// Deleting a head branch leaves its open pull request open.
    pub keep_pulls_open_on_head_delete: bool,
    /// Git-data (REST) commits without explicit `author`/`committer` are
    /// signed by GitHub, as for GitHub App tokens.
    pub sign_rest_commits: bool,
    /// `createCommitOnBranch` writes every file it adds as mode `100644`,
    /// dropping an executable bit: observed for new files (babarot/gh-infra#167,
    /// "creates all files as mode 100644"); whether GitHub keeps the mode of
    /// an existing file is not documented, so the fake keeps it unless this
    /// is set.
    pub commit_modes_reset: bool,
}

impl Default for Faults {
    fn default() -> Faults {
        Faults {
            cas_misses: 0,
            lost_races: 0,
            before_write: VecDeque::new(),
            server_errors: VecDeque::new(),
            drop_before_write: 0,
            drop_after_write: 0,
            drop_commits: 0,
            secondary_limits: 0,
            secondary: VecDeque::new(),
            graphql_rate_limit: GraphqlRateLimit::default(),
            graphql_rate_limit_remaining: 0,
            rest_rate_limit_status: 403,
            truncate_trees_over: None,
            truncate_flat_trees_over: None,
            text_limit: Some(TEXT_LIMIT),
            text_missing_over: None,
            broken_raw_blobs: 0,
            commit_after_listing: 0,
            bad_oids: VecDeque::new(),
            floods: VecDeque::new(),
            forbid_pull_requests: None,
            keep_pulls_open_on_head_delete: false,
            sign_rest_commits: false,
            commit_modes_reset: false,
        }
    }
}

/// GitHub cuts `Blob.text` at exactly this many bytes (sveltia/sveltia-cms#950).
pub const TEXT_LIMIT: usize = 512_000;

/// A commit with `Gitops-Bump-*` trailers, as gitops-bump writes them
/// (README, "Commits").
pub fn bump_message(
    subject: &str,
    image: &str,
    from: &str,
    to: &str,
    writer: &str,
    id: &str,
) -> String {
    format!(
        "{subject}\n\nGitops-Bump-Image: {image}\nGitops-Bump-From: {from}\nGitops-Bump-To: {to}\nGitops-Bump-Writer: {writer}\nGitops-Bump-Id: {id}\n"
    )
}

/// `message` with the record gitops-bump adds to a pull-request branch's
/// commit: the base it was made on and the tree it holds (README,
/// "Pull-request mode").
pub fn with_record(message: &str, base: &str, tree: &str) -> String {
    format!("{message}Gitops-Bump-Base: {base}\nGitops-Bump-Tree: {tree}\n")
}

/// Who makes a test-side commit ([`FakeGitHub::commit`]).
#[derive(Clone, Debug)]
pub struct By {
    /// Author.
    pub author: Person,
    /// Committer.
    pub committer: Person,
    /// GitHub signed it (it came through `createCommitOnBranch` or the web).
    pub signed: bool,
}

/// Shared server state.
pub struct State {
    repo: Repo,
    faults: Mutex<Faults>,
    counts: Mutex<BTreeMap<String, u64>>,
    operations: Mutex<BTreeMap<String, u64>>,
    fields: Mutex<BTreeMap<String, u64>>,
    /// Writes are serialised, as GitHub serialises pushes to one ref.
    write_lock: Mutex<u64>,
    /// Each resource's exhausted primary limit.
    exhausted: Mutex<HashMap<&'static str, Exhaustion>>,
    used: Mutex<HashMap<&'static str, u64>>,
    pulls: Mutex<Vec<Pull>>,
    comments: Mutex<Vec<Comment>>,
    /// Commits GitHub signed (web-flow).
    signed: Mutex<HashSet<String>>,
    /// Email → login, for `GitActor.user`.
    users: Mutex<HashMap<String, String>>,
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
        let mut users = HashMap::new();
        users.insert("noreply@github.com".to_owned(), WEB_FLOW.to_owned());
        let state = Arc::new(State {
            repo: Repo::from_files(files, BRANCH),
            faults: Mutex::new(Faults::default()),
            counts: Mutex::new(BTreeMap::new()),
            operations: Mutex::new(BTreeMap::new()),
            fields: Mutex::new(BTreeMap::new()),
            write_lock: Mutex::new(0),
            exhausted: Mutex::new(HashMap::new()),
            used: Mutex::new(HashMap::new()),
            pulls: Mutex::new(Vec::new()),
            comments: Mutex::new(Vec::new()),
            signed: Mutex::new(HashSet::new()),
            users: Mutex::new(users),
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

    /// Exhausts the primary rate limit of both APIs for `secs` seconds from now.
    pub fn exhaust_rate_limit(&self, secs: u64) {
        self.exhaust_rate_limit_of(Resource::Core, secs);
        self.exhaust_rate_limit_of(Resource::Graphql, secs);
    }

    /// Exhausts one API's primary rate limit for `secs` seconds from the
    /// next request to it, so that request is always refused however late it
    /// comes (a window counted from this call could pass before a slow
    /// process sends its first request).
    pub fn exhaust_rate_limit_of(&self, resource: Resource, secs: u64) {
        lock(&self.state.exhausted).insert(resource.name(), Exhaustion::Armed(secs));
    }

    /// Requests per endpoint so far (`POST /graphql`, `GET /git/trees/{sha}`…).
    pub fn counts(&self) -> BTreeMap<String, u64> {
        lock(&self.state.counts).clone()
    }

    /// All requests so far.
    pub fn total(&self) -> u64 {
        lock(&self.state.counts).values().sum()
    }

    /// GraphQL requests per operation (`query ReadFiles`, `mutation
    /// CreateCommit`; `query`/`mutation` alone when anonymous), counted on
    /// arrival, before any fault answers.
    pub fn operations(&self) -> BTreeMap<String, u64> {
        lock(&self.state.operations).clone()
    }

    /// GraphQL fields executed so far, as `Type.field` (`Commit.history`,
    /// `Mutation.createPullRequest`): an aliased field counts once per alias.
    pub fn fields(&self) -> BTreeMap<String, u64> {
        lock(&self.state.fields).clone()
    }

    /// Every pull request, open or not, oldest first, with GitHub's own
    /// state changes applied (`pulls`).
    pub fn pulls(&self) -> Vec<Pull> {
        self.state.reconcile();
        lock(&self.state.pulls).clone()
    }

    /// Closes pull request `number` without merging it.
    pub fn close_pull(&self, number: u64) {
        for p in lock(&self.state.pulls).iter_mut() {
            if p.number == number {
                p.state = "CLOSED".into();
                p.closed_at = Some(iso_utc(now()));
            }
        }
    }

    /// Comments on pull request `number`, oldest first.
    pub fn comments(&self, number: u64) -> Vec<Comment> {
        lock(&self.state.comments)
            .iter()
            .filter(|c| c.pull == number)
            .cloned()
            .collect()
    }

    /// Returns true if and only if GitHub signed commit `oid` (it was made
    /// by `createCommitOnBranch`, or by a helper acting as it).
    pub fn is_signed(&self, oid: &str) -> bool {
        lock(&self.state.signed).contains(oid)
    }

    /// Makes `email` belong to account `login` (`GitActor.user`). Addresses
    /// `ID+login@users.noreply.github.com` map without this.
    pub fn register_user(&self, email: &str, login: &str) {
        lock(&self.state.users).insert(email.to_owned(), login.to_owned());
    }

    /// Commits `files` (path, bytes) and `deleted` paths on `branch` as
    /// `by` says, and moves the branch (under the write lock, like any write).
    pub fn commit(
        &self,
        branch: &str,
        files: &[(&str, &[u8])],
        deleted: &[&str],
        message: &str,
        by: &By,
    ) -> String {
        let _writes = lock(&self.state.write_lock);
        let oid = self.state.repo.commit_on_as(
            branch,
            files,
            deleted,
            message,
            Some(&by.author),
            Some(&by.committer),
        );
        if by.signed {
            lock(&self.state.signed).insert(oid.clone());
        }
        self.state.reconcile();
        oid
    }

    /// A commit as gitops-bump makes it through `createCommitOnBranch`, but
    /// dated `date`: authored by the token's bot, committed by GitHub,
    /// signed. Pair with [`bump_message`] for the trailers.
    pub fn bot_commit(
        &self,
        branch: &str,
        files: &[(&str, &[u8])],
        message: &str,
        date: &str,
    ) -> String {
        let by = By {
            author: Person::new(BOT_NAME, BOT_EMAIL, date),
            committer: Person::new("GitHub", "noreply@github.com", date),
            signed: true,
        };
        self.commit(branch, files, &[], message, &by)
    }

    /// A person's own edit (no trailers, unsigned), pushed with Git.
    pub fn person_commit(
        &self,
        branch: &str,
        files: &[(&str, &[u8])],
        message: &str,
        person: &Person,
    ) -> String {
        let by = By {
            author: person.clone(),
            committer: person.clone(),
            signed: false,
        };
        self.commit(branch, files, &[], message, &by)
    }

    /// `git commit --amend` by `person` then `git push --force`: the head
    /// commit is replaced by one with the same parents, the same author and
    /// (unless `message` is given) the same message, `files` written over
    /// its tree, `person` as committer, unsigned.
    pub fn amend_head(
        &self,
        branch: &str,
        files: &[(&str, &[u8])],
        message: Option<&str>,
        person: &Person,
    ) -> String {
        let _writes = lock(&self.state.write_lock);
        let repo = &self.state.repo;
        let head = repo.head(branch).expect("branch exists");
        let info = repo.info(&head).expect("head is a commit");
        let files: Vec<(String, Option<String>, Vec<u8>)> = files
            .iter()
            .map(|(p, b)| (p.to_string(), None, b.to_vec()))
            .collect();
        let tree = repo.tree_with(&head, &files, &[]).expect("tree");
        let author = Person::new(&info.author.name, &info.author.email, &info.author.date);
        let oid = repo
            .commit_tree_as(
                &tree,
                &info.parents,
                message.unwrap_or(&info.message),
                Some(&author),
                Some(person),
            )
            .expect("commit");
        assert!(repo.force_ref(branch, &oid), "force push");
        self.state.reconcile();
        oid
    }

    /// `git push --force`: points `branch` at `oid`.
    pub fn force_push(&self, branch: &str, oid: &str) {
        let _writes = lock(&self.state.write_lock);
        assert!(self.state.repo.force_ref(branch, oid), "force push");
        self.state.reconcile();
    }

    /// Deletes `branch`, as the web UI's delete button does.
    pub fn delete_branch(&self, branch: &str) {
        let _writes = lock(&self.state.write_lock);
        let oid = self.state.repo.head(branch).expect("branch exists");
        assert!(self.state.repo.delete_ref(branch, &oid), "delete");
        self.state.reconcile();
    }
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// What a handler answers.
pub enum Answer {
    /// Status, extra headers, JSON body.
    Json(u16, Vec<(&'static str, String)>, Value),
    /// Status and headers, no body (204).
    Empty(u16, Vec<(&'static str, String)>),
    /// Status, headers and bytes in a raw media type, sent in pieces of
    /// 16 KiB; with `Some(n)` the connection breaks after `n` bytes.
    Raw(u16, Vec<(&'static str, String)>, Bytes, Option<usize>),
    /// Status, headers and a body produced chunk by chunk as the client
    /// reads it (`Faults::floods`).
    Stream(
        u16,
        Vec<(&'static str, String)>,
        Box<dyn Iterator<Item = Bytes> + Send>,
    ),
    /// The connection breaks before a usable response arrives.
    Drop,
}

impl Answer {
    fn with_headers(self, mut base: Vec<(&'static str, String)>) -> Answer {
        let mut merge = |extra: Vec<(&'static str, String)>| {
            for (k, v) in extra {
                base.retain(|(bk, _)| *bk != k);
                base.push((k, v));
            }
            std::mem::take(&mut base)
        };
        match self {
            Answer::Json(s, h, b) => Answer::Json(s, merge(h), b),
            Answer::Empty(s, h) => Answer::Empty(s, merge(h)),
            Answer::Raw(s, h, b, cut) => Answer::Raw(s, merge(h), b, cut),
            Answer::Stream(s, h, b) => Answer::Stream(s, merge(h), b),
            Answer::Drop => Answer::Drop,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A resource's exhausted primary limit.
enum Exhaustion {
    /// Exhausted for this many seconds from the next request.
    Armed(u64),
    /// Exhausted until this time since the epoch.
    Until(Duration),
}

impl Exhaustion {
    /// Whether a request now is refused, and the reset to announce: the end
    /// of the window rounded up to a whole second, so a client that waits
    /// until `x-ratelimit-reset` is never refused again (rounding down would
    /// announce a reset up to a second before the window ends).
    fn check(&mut self) -> (bool, u64) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        if let Exhaustion::Armed(secs) = *self {
            *self = Exhaustion::Until(now + Duration::from_secs(secs));
        }
        let Exhaustion::Until(until) = *self else {
            unreachable!("armed was just replaced")
        };
        let reset = until.as_secs() + u64::from(until.subsec_nanos() > 0);
        (now < until, reset)
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `secs` since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (GitHub's `DateTime`).
pub fn iso_utc(secs: u64) -> String {
    // Howard Hinnant's civil_from_days.
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
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
    let build = |status: u16, extra: Vec<(&'static str, String)>| {
        let mut resp = Response::builder()
            .status(status)
            .header("content-type", "application/json; charset=utf-8");
        for (k, v) in extra {
            resp = resp.header(k, v);
        }
        resp
    };
    match answer {
        Answer::Json(status, extra, body) => build(status, extra)
            .body(Body::from(body.to_string()))
            .expect("response"),
        Answer::Empty(status, extra) => {
            let mut resp = Response::builder().status(status);
            for (k, v) in extra {
                resp = resp.header(k, v);
            }
            resp.body(Body::empty()).expect("response")
        }
        Answer::Raw(status, extra, bytes, cut) => {
            let end = cut.unwrap_or(bytes.len()).min(bytes.len());
            let mut pieces: Vec<Result<Bytes, std::io::Error>> = (0..end)
                .step_by(16 * 1024)
                .map(|at| Ok(bytes.slice(at..(at + 16 * 1024).min(end))))
                .collect();
            if cut.is_some() {
                pieces.push(Err(std::io::Error::other("connection broke off")));
            }
            let mut resp = Response::builder()
                .status(status)
                .header("content-type", "application/vnd.github.raw");
            if cut.is_none() {
                resp = resp.header("content-length", bytes.len().to_string());
            }
            for (k, v) in extra {
                resp = resp.header(k, v);
            }
            resp.body(Body::from_stream(futures_util::stream::iter(pieces)))
                .expect("response")
        }
        Answer::Stream(status, extra, chunks) => {
            // Polled only as the client reads: an endless body costs one
            // chunk of memory, and stops when the client hangs up.
            let stream = futures_util::stream::iter(chunks.map(Ok::<Bytes, std::io::Error>));
            build(status, extra)
                .body(Body::from_stream(stream))
                .expect("response")
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

/// What went wrong with a write after its check passed.
pub(crate) enum WriteFault {
    None,
    DropBefore,
    DropCommit,
}

impl State {
    fn handle(&self, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Answer {
        let path = uri.path();
        let raw = headers
            .get("accept")
            .and_then(|v| v.to_str().ok())
            .is_some_and(rest::wants_raw);
        let mut label = endpoint_label(method, path);
        if raw && label == "GET /git/blobs/{sha}" {
            label.push_str(" raw");
        }
        *lock(&self.counts).entry(label.clone()).or_default() += 1;
        let graphql = path == "/api/graphql";
        let resource = if graphql {
            Resource::Graphql
        } else {
            Resource::Core
        };
        let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        if graphql && method == Method::POST {
            let op = graphql::operation_label(&body);
            *lock(&self.operations).entry(op).or_default() += 1;
        }
        // Every answer carries the rate-limit headers (docs, "Rate limits for
        // the REST API": checking the status of your rate limit).
        let (limited, reset) = match lock(&self.exhausted).get_mut(resource.name()) {
            Some(e) => e.check(),
            None => (false, 0),
        };
        let used = {
            let mut used = lock(&self.used);
            let u = used.entry(resource.name()).or_default();
            *u += 1;
            *u
        };
        let rate = |remaining: u64, reset: u64| {
            vec![
                ("x-ratelimit-limit", "5000".to_owned()),
                ("x-ratelimit-remaining", remaining.to_string()),
                ("x-ratelimit-reset", reset.to_string()),
                ("x-ratelimit-used", used.to_string()),
                ("x-ratelimit-resource", resource.name().to_owned()),
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
            return self.primary_limit(graphql, rate(0, reset));
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
            if let Some(limit) = faults.secondary.pop_front() {
                return secondary_limit(&limit, graphql, headers_ok.clone(), &rate);
            }
            if let Some(status) = faults.server_errors.pop_front() {
                return json(status, json!({"message": "Server Error"}));
            }
            if let Some(flood) = faults.floods.pop_front() {
                return rest::flood(method, path, graphql, flood).with_headers(headers_ok);
            }
        }
        self.reconcile();
        let answer = if graphql && method == Method::POST {
            graphql::execute(self, &body)
        } else {
            rest::handle(self, method, path, uri.query().unwrap_or(""), &body, raw)
        };
        if label == "GET /git/trees/{sha}" {
            let competitor = {
                let mut f = lock(&self.faults);
                let due = f.commit_after_listing > 0;
                if due {
                    f.commit_after_listing -= 1;
                }
                due
            };
            if competitor {
                let _writes = lock(&self.write_lock);
                self.land_competitor(BRANCH);
            }
        }
        answer.with_headers(headers_ok)
    }

    /// The primary-rate-limit answer (`Faults::graphql_rate_limit`,
    /// `rest_rate_limit_status`, `graphql_rate_limit_remaining`).
    fn primary_limit(&self, graphql: bool, mut headers: Vec<(&'static str, String)>) -> Answer {
        let faults = lock(&self.faults);
        if graphql {
            let remaining = faults.graphql_rate_limit_remaining;
            for (k, v) in headers.iter_mut() {
                if *k == "x-ratelimit-remaining" {
                    *v = remaining.to_string();
                }
            }
            let error = match faults.graphql_rate_limit {
                // The older, documented shape.
                GraphqlRateLimit::RateLimited => json!({
                    "type": "RATE_LIMITED",
                    "message": "API rate limit exceeded for installation ID 1. If you reach out to GitHub Support for help, please include the request ID.",
                }),
                // yanyongyu/githubkit#271, observed 2026-01.
                GraphqlRateLimit::RateLimit => json!({
                    "type": "RATE_LIMIT",
                    "code": "graphql_rate_limit",
                    "message": "API rate limit already exceeded for installation ID 1.",
                }),
            };
            Answer::Json(200, headers, json!({"errors": [error]}))
        } else {
            Answer::Json(
                faults.rest_rate_limit_status,
                headers,
                json!({"message": "API rate limit exceeded for installation ID 1. If you reach out to GitHub Support for help, please include the request ID.", "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}),
            )
        }
    }

    /// Applies GitHub's automatic pull-request state changes (`pulls`).
    fn reconcile(&self) {
        let keep = lock(&self.faults).keep_pulls_open_on_head_delete;
        let mut pulls = lock(&self.pulls);
        if pulls.iter().any(Pull::is_open) {
            pulls::reconcile(&mut pulls, &self.repo, keep, &iso_utc(now()));
        }
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
            self.land_competitor(branch);
        }
    }

    /// A competitor's commit on `branch` (caller holds the write lock).
    fn land_competitor(&self, branch: &str) -> Option<String> {
        self.repo.head(branch)?;
        let n = self
            .repo
            .history(&format!("refs/heads/{branch}"), 10_000)
            .len();
        Some(self.repo.commit_on(
            branch,
            &[(
                "competitor.txt",
                format!("competing commit {n}\n").as_bytes(),
            )],
            &format!("competitor {n}"),
        ))
    }

    /// Returns true if and only if this write loses the race after its
    /// check (`Faults::lost_races`); the competitor has then landed.
    fn lose_race(&self, branch: &str) -> bool {
        let lost = {
            let mut f = lock(&self.faults);
            let lost = f.lost_races > 0;
            if lost {
                f.lost_races -= 1;
            }
            lost
        };
        lost && self.land_competitor(branch).is_some()
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

    /// `oid`, or the next `Faults::bad_oids` string in its place.
    fn answer_oid(&self, oid: &str) -> String {
        lock(&self.faults)
            .bad_oids
            .pop_front()
            .unwrap_or_else(|| oid.to_owned())
    }

    fn sign(&self, oid: &str) {
        lock(&self.signed).insert(oid.to_owned());
    }

    fn is_signed(&self, oid: &str) -> bool {
        lock(&self.signed).contains(oid)
    }

    /// The account `email` belongs to: registered users, `web-flow` for
    /// GitHub's own address, and `ID+login@users.noreply.github.com`
    /// (bots are not users: `GitActor.user` is null for them).
    fn login_for(&self, email: &str) -> Option<String> {
        if let Some(login) = lock(&self.users).get(email) {
            return Some(login.clone());
        }
        let local = email.strip_suffix("@users.noreply.github.com")?;
        let login = local.split_once('+').map_or(local, |(_, l)| l);
        (!login.ends_with("[bot]")).then(|| login.to_owned())
    }

    fn count_field(&self, key: String) {
        *lock(&self.fields).entry(key).or_default() += 1;
    }
}

/// A secondary-rate-limit answer (`Faults::secondary`).
fn secondary_limit(
    limit: &SecondaryLimit,
    graphql: bool,
    mut headers: Vec<(&'static str, String)>,
    rate: &dyn Fn(u64, u64) -> Vec<(&'static str, String)>,
) -> Answer {
    if let Some(secs) = limit.reset_in {
        headers = rate(0, now() + secs);
    }
    if let Some(secs) = limit.retry_after {
        headers.push(("retry-after", secs.to_string()));
    }
    // The wording GitHub sends today (Azure/azure-rest-api-specs#36378,
    // integrations/terraform-provider-github#2329).
    let message = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 0000:00000:000000:000000:00000000.";
    if graphql && limit.status == 200 {
        // NOTE: the docs allow 200 for GraphQL but show no body; this is the
        // GraphQL error envelope with the same message.
        return Answer::Json(200, headers, json!({"errors": [{"message": message}]}));
    }
    Answer::Json(
        limit.status,
        headers,
        json!({"documentation_url": "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits", "message": message}),
    )
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
    } else if rest.starts_with("/git/commits/") {
        "/git/commits/{sha}"
    } else if rest.starts_with("/git/refs/") {
        "/git/refs/{ref}"
    } else if rest.starts_with("/git/ref/") {
        "/git/ref/{ref}"
    } else if rest.starts_with("/commits/") {
        "/commits/{ref}"
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

//! Self-tests of the fake GitHub: raw HTTP (reqwest, no gitops-bump code)
//! against a running fake, pinning each answer shape the module docs of
//! `fake_github` promise, byte for byte where GitHub's wording matters.
//! Run with `cargo test --test it fake_github::`.

use std::path::Path;

use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use super::{
    BOT_EMAIL, BOT_NAME, FakeGitHub, Flood, GraphqlRateLimit, Person, Resource, SecondaryLimit,
    TOKEN, bump_message,
};

/// A fake and a client for it.
struct Gh {
    fake: FakeGitHub,
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
}

/// One answer.
struct Reply {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

const CREATE_COMMIT: &str = "mutation CreateCommit($input: CreateCommitOnBranchInput!) {
  createCommitOnBranch(input: $input) {
    commit { oid }
  }
}
";

const HEAD: &str = "query Head($ref: String!) {
  repository(owner: \"acme\", name: \"gitops\") {
    id
    ref(qualifiedName: $ref) { id target { oid } }
  }
}
";

impl Gh {
    fn new() -> Gh {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Gh {
            fake: FakeGitHub::start(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/gitops")),
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
            http: reqwest::Client::builder().build().expect("client"),
        }
    }

    fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        self.rt.block_on(async {
            let resp = req
                .header("user-agent", "fake-selftest")
                .header("authorization", format!("Bearer {TOKEN}"))
                .send()
                .await
                .expect("request");
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let bytes = resp.bytes().await.expect("body");
            let body = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).expect("JSON body")
            };
            Reply {
                status,
                headers,
                body,
            }
        })
    }

    fn gql(&self, query: &str, variables: Value) -> Reply {
        self.send(
            self.http
                .post(self.fake.graphql_url())
                .json(&json!({"query": query, "variables": variables})),
        )
    }

    fn rest(&self, method: reqwest::Method, route: &str, body: Option<Value>) -> Reply {
        let url = format!("{}/repos/acme/gitops/{route}", self.fake.api_url());
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.send(req)
    }

    fn head(&self, branch: &str) -> String {
        self.fake.repo().head(branch).expect("branch")
    }

    fn repo_id(&self) -> String {
        let r = self.gql(HEAD, json!({"ref": "refs/heads/main"}));
        r.body["data"]["repository"]["id"]
            .as_str()
            .expect("id")
            .to_owned()
    }

    /// `createCommitOnBranch` of one file on `branch` expecting `expected`.
    fn commit(&self, branch: &str, expected: &str, path: &str, text: &str) -> Reply {
        use base64::Engine as _;
        self.gql(
            CREATE_COMMIT,
            json!({"input": {
                "branch": {"repositoryNameWithOwner": "acme/gitops", "branchName": branch},
                "expectedHeadOid": expected,
                "message": {"headline": format!("edit {path}")},
                "fileChanges": {"additions": [{"path": path, "contents": base64::engine::general_purpose::STANDARD.encode(text)}]},
            }}),
        )
    }

    /// A branch from main with one commit, and a pull request from it:
    /// (node id, number).
    fn open_pull(&self, branch: &str) -> (String, u64) {
        let repo = self.repo_id();
        let main = self.head("main");
        let r = self.gql(
            "mutation CreateRef($input: CreateRefInput!) { createRef(input: $input) { ref { name target { oid } } } }",
            json!({"input": {"repositoryId": repo, "name": format!("refs/heads/{branch}"), "oid": main}}),
        );
        assert_eq!(
            r.body["data"]["createRef"]["ref"]["name"], branch,
            "{}",
            r.body
        );
        let r = self.commit(branch, &main, "pr.txt", branch);
        assert!(r.body["errors"].is_null(), "{}", r.body);
        let r = self.gql(
            "mutation Open($input: CreatePullRequestInput!) { createPullRequest(input: $input) { pullRequest { id number state headRefOid } } }",
            json!({"input": {"repositoryId": repo, "baseRefName": "main", "headRefName": branch, "title": format!("bump {branch}"), "body": "b"}}),
        );
        let pr = &r.body["data"]["createPullRequest"]["pullRequest"];
        assert_eq!(pr["state"], "OPEN", "{}", r.body);
        (
            pr["id"].as_str().expect("id").to_owned(),
            pr["number"].as_u64().expect("number"),
        )
    }
}

/// Line and column (1-based) of `needle`'s first byte in `doc`.
fn locate(doc: &str, needle: &str) -> Value {
    let at = doc.find(needle).expect("needle in doc");
    let line = doc[..at].matches('\n').count() + 1;
    let column = at - doc[..at].rfind('\n').map_or(0, |i| i + 1) + 1;
    json!([{"line": line, "column": column}])
}

#[test]
fn stale_head_answers_stale_data_at_the_field() {
    let gh = Gh::new();
    let old = gh.head("main");
    gh.fake.faults().cas_misses = 1;
    let r = gh.commit("main", &old, "a.txt", "a\n");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        json!({
            "data": {"createCommitOnBranch": null},
            "errors": [{
                "type": "STALE_DATA",
                "path": ["createCommitOnBranch"],
                "locations": locate(CREATE_COMMIT, "createCommitOnBranch("),
                "message": format!("Expected branch to point to \"{old}\" but it did not.  Pull and try again."),
            }],
        })
    );
}

#[test]
fn lost_race_answers_unprocessable_and_the_competitor_lands() {
    let gh = Gh::new();
    let old = gh.head("main");
    gh.fake.faults().lost_races = 1;
    let r = gh.commit("main", &old, "a.txt", "a\n");
    let now = gh.head("main");
    assert_ne!(now, old, "a competing commit landed");
    assert_eq!(gh.fake.repo().parents(&now), std::slice::from_ref(&old));
    assert!(gh.fake.repo().message(&now).starts_with("competitor"));
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        json!({
            "data": {"createCommitOnBranch": null},
            "errors": [{
                "type": "UNPROCESSABLE",
                "path": ["createCommitOnBranch"],
                "locations": locate(CREATE_COMMIT, "createCommitOnBranch("),
                "message": format!("Ref refs/heads/main is at {now} but expected {old}"),
            }],
        })
    );
    // The same for updateRefs.
    let repo_id = gh.repo_id();
    gh.fake.faults().lost_races = 1;
    let tip = gh.head("main");
    let r = gh.gql(
        "mutation Move($input: UpdateRefsInput!) { updateRefs(input: $input) { clientMutationId } }",
        json!({"input": {"repositoryId": repo_id, "refUpdates": [{"name": "refs/heads/main", "beforeOid": tip, "afterOid": tip}]}}),
    );
    let raced = gh.head("main");
    assert_eq!(
        r.body["errors"][0]["message"],
        json!(format!(
            "Ref refs/heads/main is at {raced} but expected {tip}"
        ))
    );
    assert_eq!(r.body["errors"][0]["type"], "UNPROCESSABLE");
    let now = raced;
    // The knob is spent: the retry on the new head lands.
    let r = gh.commit("main", &now, "a.txt", "a\n");
    let oid = r.body["data"]["createCommitOnBranch"]["commit"]["oid"].clone();
    assert_eq!(oid, json!(gh.head("main")), "{}", r.body);
}

#[test]
fn rest_ref_updates_answer_githubs_422s() {
    let gh = Gh::new();
    let main = gh.head("main");
    let side = gh.fake.repo().commit_on("main", &[("x.txt", b"x\n")], "x");
    // A commit that does not descend from main's new head.
    let repo = gh.fake.repo();
    let tree = repo.peel(&main, "tree").expect("tree");
    let stray = repo
        .commit_tree(&tree, std::slice::from_ref(&main), "stray")
        .expect("commit");

    let patch = |branch: &str, sha: &str, force: bool| {
        gh.rest(
            reqwest::Method::PATCH,
            &format!("git/refs/heads/{branch}"),
            Some(json!({"sha": sha, "force": force})),
        )
    };
    let r = patch("main", &stray, false);
    assert_eq!(
        (r.status, r.body),
        (
            422,
            json!({"message": "Update is not a fast forward", "documentation_url": "https://docs.github.com/rest/git/refs#update-a-reference", "status": "422"})
        )
    );
    let r = patch("nope", &stray, false);
    assert_eq!(
        (r.status, r.body["message"].clone()),
        (422, json!("Reference does not exist"))
    );

    // The lost race: the fast-forward check passes, a push lands first.
    let next = repo
        .commit_tree(&tree, std::slice::from_ref(&side), "next")
        .expect("commit");
    gh.fake.faults().lost_races = 1;
    let r = patch("main", &next, false);
    assert_eq!(
        (r.status, r.body["message"].clone()),
        (422, json!("Reference cannot be updated"))
    );
    assert_eq!(repo.parents(&gh.head("main")), std::slice::from_ref(&side));

    let r = patch("main", &stray, true);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["object"],
        json!({"sha": stray, "type": "commit", "url": format!("https://api.github.com/repos/acme/gitops/git/commits/{stray}")})
    );
    assert_eq!(gh.head("main"), stray);
}

#[test]
fn rest_create_and_delete_refs() {
    let gh = Gh::new();
    let main = gh.head("main");
    let create = || {
        gh.rest(
            reqwest::Method::POST,
            "git/refs",
            Some(json!({"ref": "refs/heads/feature", "sha": main})),
        )
    };
    let r = create();
    assert_eq!(r.status, 201);
    assert_eq!(r.body["ref"], "refs/heads/feature");
    let r = create();
    assert_eq!(
        (r.status, r.body["message"].clone()),
        (422, json!("Reference already exists"))
    );
    let r = gh.rest(reqwest::Method::GET, "git/ref/heads/feature", None);
    assert_eq!(r.body["object"]["sha"], json!(main));
    let r = gh.rest(reqwest::Method::DELETE, "git/refs/heads/feature", None);
    assert_eq!((r.status, r.body), (204, Value::Null));
    let r = gh.rest(reqwest::Method::DELETE, "git/refs/heads/feature", None);
    assert_eq!(
        (r.status, r.body["message"].clone()),
        (422, json!("Reference does not exist"))
    );
    assert_eq!(gh.fake.counts()["DELETE /git/refs/{ref}"], 2);
}

#[test]
fn graphql_primary_rate_limit_has_both_shapes_and_headers() {
    let gh = Gh::new();
    gh.fake.exhaust_rate_limit_of(Resource::Graphql, 30);
    let r = gh.gql(HEAD, json!({"ref": "refs/heads/main"}));
    assert_eq!(r.status, 200);
    assert_eq!(r.body["errors"][0]["type"], "RATE_LIMITED");
    assert!(
        r.body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("API rate limit exceeded for "))
    );
    assert_eq!(r.header("x-ratelimit-remaining"), Some("0"));
    assert_eq!(r.header("x-ratelimit-resource"), Some("graphql"));
    assert!(r.header("x-ratelimit-used").is_some());
    let reset: u64 = r
        .header("x-ratelimit-reset")
        .and_then(|v| v.parse().ok())
        .expect("reset");
    // The window starts at this request and its end is rounded up.
    assert!(reset > super::now() && reset <= super::now() + 31);

    {
        let mut f = gh.fake.faults();
        f.graphql_rate_limit = GraphqlRateLimit::RateLimit;
        f.graphql_rate_limit_remaining = 4;
    }
    let r = gh.gql(HEAD, json!({"ref": "refs/heads/main"}));
    assert_eq!(
        r.body,
        json!({"errors": [{"type": "RATE_LIMIT", "code": "graphql_rate_limit", "message": "API rate limit already exceeded for installation ID 1."}]})
    );
    assert_eq!(r.header("x-ratelimit-remaining"), Some("4"));

    // The REST API has its own primary limit.
    let r = gh.rest(reqwest::Method::GET, "git/ref/heads/main", None);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-ratelimit-resource"), Some("core"));
}

// A window counted from `exhaust_rate_limit_of` could end before a slow
// process sent its first request: under load the binary's first request
// then succeeded and "waits for the reset" tests failed. The window starts
// at the first request, and its announced reset is never before its end.
#[test]
fn primary_rate_limit_window_starts_at_the_next_request() {
    let gh = Gh::new();
    gh.fake.exhaust_rate_limit_of(Resource::Graphql, 1);
    // Longer than the whole window: a late first request.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let r = gh.gql(HEAD, json!({"ref": "refs/heads/main"}));
    assert_eq!(r.body["errors"][0]["type"], "RATE_LIMITED", "{:?}", r.body);
    let reset: u64 = r
        .header("x-ratelimit-reset")
        .and_then(|v| v.parse().ok())
        .expect("reset");
    // Waiting until the announced reset always ends the window.
    while super::now() < reset {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let r = gh.gql(HEAD, json!({"ref": "refs/heads/main"}));
    assert!(r.body.get("errors").is_none(), "{:?}", r.body);
}

#[test]
fn rest_primary_rate_limit_is_403_or_429_with_reset() {
    let gh = Gh::new();
    gh.fake.exhaust_rate_limit_of(Resource::Core, 20);
    for status in [403, 429] {
        gh.fake.faults().rest_rate_limit_status = status;
        let r = gh.rest(reqwest::Method::GET, "git/ref/heads/main", None);
        assert_eq!(r.status, status);
        assert_eq!(r.header("x-ratelimit-remaining"), Some("0"));
        assert!(r.header("x-ratelimit-reset").is_some());
        assert!(r.header("retry-after").is_none());
        assert!(
            r.body["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("API rate limit exceeded"))
        );
    }
}

#[test]
fn secondary_limits_come_with_retry_after_or_a_reset() {
    let gh = Gh::new();
    gh.fake.faults().secondary.extend([
        SecondaryLimit {
            status: 429,
            retry_after: Some(7),
            reset_in: None,
        },
        SecondaryLimit {
            status: 403,
            retry_after: None,
            reset_in: Some(2),
        },
        SecondaryLimit {
            status: 200,
            retry_after: None,
            reset_in: None,
        },
    ]);
    let r = gh.rest(reqwest::Method::GET, "git/ref/heads/main", None);
    assert_eq!((r.status, r.header("retry-after")), (429, Some("7")));
    assert!(
        r.body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("You have exceeded a secondary rate limit."))
    );
    assert_ne!(r.header("x-ratelimit-remaining"), Some("0"));
    let r = gh.rest(reqwest::Method::GET, "git/ref/heads/main", None);
    assert_eq!((r.status, r.header("retry-after")), (403, None));
    assert_eq!(r.header("x-ratelimit-remaining"), Some("0"));
    let reset: u64 = r
        .header("x-ratelimit-reset")
        .and_then(|v| v.parse().ok())
        .expect("reset");
    assert!(reset <= super::now() + 2);
    let r = gh.gql(HEAD, json!({"ref": "refs/heads/main"}));
    assert_eq!(r.status, 200);
    assert!(
        r.body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("secondary rate limit"))
    );
    // Spent: the next request is answered.
    let r = gh.gql(HEAD, json!({"ref": "refs/heads/main"}));
    assert!(r.body["errors"].is_null(), "{}", r.body);
}

const PULL: &str = "query Pull($n: Int!) {
  repository(owner: \"acme\", name: \"gitops\") {
    pullRequest(number: $n) {
      state closed merged headRefName headRefOid
      comments(first: 10) { totalCount nodes { body author { login } } }
    }
  }
}
";

#[test]
fn pull_requests_open_list_comment_close_and_reopen() {
    let gh = Gh::new();
    let repo = gh.repo_id();
    let (id, n) = gh.open_pull("gitops-bump/main/app");
    assert_eq!(n, 1);
    let open_doc = "mutation Open($input: CreatePullRequestInput!) { createPullRequest(input: $input) { pullRequest { number } } }";
    let open = |head: &str| {
        gh.gql(
            open_doc,
            json!({"input": {"repositoryId": repo, "baseRefName": "main", "headRefName": head, "title": "t"}}),
        )
    };
    let r = open("gitops-bump/main/app");
    assert_eq!(
        r.body["errors"][0],
        json!({"type": "UNPROCESSABLE", "path": ["createPullRequest"], "locations": locate(open_doc, "createPullRequest("), "message": "A pull request already exists for acme:gitops-bump/main/app."})
    );
    assert_eq!(r.body["data"], json!({"createPullRequest": null}));
    gh.fake.repo().create_ref("empty", &gh.head("main"));
    let r = open("empty");
    assert_eq!(
        r.body["errors"][0]["message"],
        "No commits between main and empty"
    );
    let r = open("missing");
    assert_eq!(
        r.body["errors"][0]["message"],
        "Head sha can't be blank, No commits between main and missing, Head ref must be a branch"
    );

    let list = |states: &str| {
        gh.gql(
            &format!("query {{ repository(owner: \"acme\", name: \"gitops\") {{ pullRequests(headRefName: \"gitops-bump/main/app\", baseRefName: \"main\", states: [{states}], first: 5) {{ totalCount nodes {{ number state }} }} }} }}"),
            json!({}),
        )
        .body["data"]["repository"]["pullRequests"]
            .clone()
    };
    assert_eq!(
        list("OPEN"),
        json!({"totalCount": 1, "nodes": [{"number": 1, "state": "OPEN"}]})
    );

    let r = gh.gql(
        "mutation Say($input: AddCommentInput!) { addComment(input: $input) { commentEdge { node { body url author { login } } } subject { id } } }",
        json!({"input": {"subjectId": id, "body": "Superseded by a newer bump.", "clientMutationId": "m1"}}),
    );
    assert_eq!(
        r.body["data"]["addComment"],
        json!({
            "commentEdge": {"node": {"body": "Superseded by a newer bump.", "url": "https://github.com/acme/gitops/pull/1#issuecomment-1", "author": {"login": "github-actions"}}},
            "subject": {"id": id},
        })
    );
    let comments = gh.fake.comments(1);
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].body, "Superseded by a newer bump.");

    let r = gh.gql(
        "mutation Close($input: ClosePullRequestInput!) { closePullRequest(input: $input) { clientMutationId pullRequest { state closed closedAt } } }",
        json!({"input": {"pullRequestId": id, "clientMutationId": "c1"}}),
    );
    let closed = &r.body["data"]["closePullRequest"];
    assert_eq!(closed["clientMutationId"], "c1");
    assert_eq!(closed["pullRequest"]["state"], "CLOSED");
    assert!(closed["pullRequest"]["closedAt"].is_string());
    assert_eq!(list("OPEN")["totalCount"], 0);
    assert_eq!(list("CLOSED")["totalCount"], 1);

    let reopen = || {
        gh.gql(
            "mutation Reopen($input: UpdatePullRequestInput!) { updatePullRequest(input: $input) { pullRequest { state } } }",
            json!({"input": {"pullRequestId": id, "state": "OPEN"}}),
        )
    };
    assert_eq!(
        reopen().body["data"]["updatePullRequest"]["pullRequest"]["state"],
        "OPEN"
    );
    let r = gh.gql(PULL, json!({"n": 1}));
    let pr = &r.body["data"]["repository"]["pullRequest"];
    assert_eq!(pr["comments"]["totalCount"], 1);
    assert_eq!(
        pr["comments"]["nodes"][0],
        json!({"body": "Superseded by a newer bump.", "author": {"login": "github-actions"}})
    );
}

#[test]
fn deleting_the_head_branch_closes_the_pull_request_and_bars_reopening() {
    let gh = Gh::new();
    let (id, n) = gh.open_pull("gitops-bump/main/app");
    let head = gh.head("gitops-bump/main/app");
    let r = gh.gql(HEAD, json!({"ref": "refs/heads/gitops-bump/main/app"}));
    let ref_id = r.body["data"]["repository"]["ref"]["id"].clone();
    let r = gh.gql(
        "mutation Delete($input: DeleteRefInput!) { deleteRef(input: $input) { clientMutationId } }",
        json!({"input": {"refId": ref_id}}),
    );
    assert_eq!(
        r.body,
        json!({"data": {"deleteRef": {"clientMutationId": null}}})
    );
    assert!(gh.fake.repo().head("gitops-bump/main/app").is_none());
    let r = gh.gql(PULL, json!({"n": n}));
    let pr = &r.body["data"]["repository"]["pullRequest"];
    assert_eq!(
        (
            pr["state"].clone(),
            pr["closed"].clone(),
            pr["merged"].clone()
        ),
        (json!("CLOSED"), json!(true), json!(false))
    );
    assert_eq!(
        pr["headRefOid"],
        json!(head),
        "kept after the branch is gone"
    );
    let r = gh.gql(
        "mutation Reopen($input: UpdatePullRequestInput!) { updatePullRequest(input: $input) { pullRequest { state } } }",
        json!({"input": {"pullRequestId": id, "state": "OPEN"}}),
    );
    assert_eq!(
        r.body["errors"][0]["message"],
        "state cannot be changed. The gitops-bump/main/app branch has been deleted."
    );
    // Deleting it again: the ref is gone.
    let r = gh.gql(
        "mutation Delete($input: DeleteRefInput!) { deleteRef(input: $input) { clientMutationId } }",
        json!({"input": {"refId": ref_id}}),
    );
    assert_eq!(r.body["errors"][0]["type"], "NOT_FOUND");

    // The knob that keeps it open, as GitHub did for a while in 2022.
    let gh = Gh::new();
    gh.fake.faults().keep_pulls_open_on_head_delete = true;
    let (_, n) = gh.open_pull("b2");
    gh.fake.delete_branch("b2");
    assert_eq!(gh.fake.pulls()[(n - 1) as usize].state, "OPEN");
}

#[test]
fn pull_request_state_follows_its_branches() {
    let gh = Gh::new();
    // Head force-pushed to the base: no commits left, GitHub closes it.
    let (_, a) = gh.open_pull("a");
    gh.fake.force_push("a", &gh.head("main"));
    assert_eq!(gh.fake.pulls()[(a - 1) as usize].state, "CLOSED");
    // Base fast-forwarded to the head: merged.
    let (_, b) = gh.open_pull("b");
    gh.fake.force_push("main", &gh.head("b"));
    let pr = gh.fake.pulls()[(b - 1) as usize].clone();
    assert_eq!(pr.state, "MERGED");
    let r = gh.gql(
        "query { repository(owner: \"acme\", name: \"gitops\") { pullRequest(number: 2) { merged mergedAt } } }",
        json!({}),
    );
    assert_eq!(r.body["data"]["repository"]["pullRequest"]["merged"], true);
    // REST deletion of the head closes too.
    let (_, c) = gh.open_pull("c");
    gh.rest(reqwest::Method::DELETE, "git/refs/heads/c", None);
    assert_eq!(gh.fake.pulls()[(c - 1) as usize].state, "CLOSED");
}

#[test]
fn compare_answers_counts_commits_and_files() {
    let gh = Gh::new();
    let repo = gh.fake.repo();
    let main = gh.head("main");
    repo.create_ref("feature", &main);
    let by = Person::new(
        "Ada",
        "1+ada@users.noreply.github.com",
        "2024-03-01T10:00:00+01:00",
    );
    gh.fake
        .person_commit("feature", &[("new.yaml", b"a: 1\n")], "add", &by);
    gh.fake.commit(
        "feature",
        &[("base/deployment.yaml", b"changed\n")],
        &["overlays/prod/kustomization.yaml"],
        "edit and remove",
        &super::By {
            author: by.clone(),
            committer: by.clone(),
            signed: false,
        },
    );
    gh.fake
        .repo()
        .commit_on("main", &[("main-only.txt", b"m\n")], "main moves");

    let r = gh.gql(
        "query Cmp { repository(owner: \"acme\", name: \"gitops\") { ref(qualifiedName: \"refs/heads/main\") { compare(headRef: \"feature\") { aheadBy behindBy status commits(first: 10) { totalCount nodes { messageHeadline } } } } } }",
        json!({}),
    );
    assert_eq!(
        r.body["data"]["repository"]["ref"]["compare"],
        json!({"aheadBy": 2, "behindBy": 1, "status": "DIVERGED", "commits": {"totalCount": 2, "nodes": [{"messageHeadline": "add"}, {"messageHeadline": "edit and remove"}]}})
    );
    let r = gh.gql(
        "query { repository(owner: \"acme\", name: \"gitops\") { ref(qualifiedName: \"refs/heads/main\") { compare(headRef: \"nope\") { aheadBy } } } }",
        json!({}),
    );
    assert_eq!(r.body["data"]["repository"]["ref"]["compare"], Value::Null);

    let r = gh.rest(reqwest::Method::GET, "compare/main...feature", None);
    assert_eq!(r.status, 200);
    assert_eq!(
        (
            r.body["status"].clone(),
            r.body["ahead_by"].clone(),
            r.body["behind_by"].clone(),
            r.body["total_commits"].clone()
        ),
        (json!("diverged"), json!(2), json!(1), json!(2))
    );
    assert_eq!(r.body["merge_base_commit"]["sha"], json!(main));
    let files: Vec<(String, String)> = r.body["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            (
                f["filename"].as_str().unwrap_or("").to_owned(),
                f["status"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        files,
        [
            ("base/deployment.yaml".to_owned(), "modified".to_owned()),
            ("new.yaml".to_owned(), "added".to_owned()),
            (
                "overlays/prod/kustomization.yaml".to_owned(),
                "removed".to_owned()
            ),
        ]
    );
    let new_yaml = &r.body["files"][1];
    assert_eq!(
        new_yaml["sha"],
        json!(
            repo.entry(&gh.head("feature"), "new.yaml")
                .expect("entry")
                .sha
        )
    );
    assert_eq!(
        (new_yaml["additions"].clone(), new_yaml["changes"].clone()),
        (json!(1), json!(1))
    );
    let removed = &r.body["files"][2];
    assert_eq!(
        removed["sha"],
        json!(
            repo.entry(&main, "overlays/prod/kustomization.yaml")
                .expect("entry")
                .sha
        ),
        "a removed file names the blob it removed"
    );
    assert_eq!(removed["additions"], 0);
    assert!(removed["deletions"].as_u64().is_some_and(|d| d > 0));
    assert_eq!(r.body["commits"][0]["commit"]["message"], "add");
    assert_eq!(r.body["commits"][0]["author"]["login"], "ada");
    let r = gh.rest(reqwest::Method::GET, "compare/main...feature", None);
    assert_eq!(r.status, 200);
    assert_eq!(gh.fake.counts()["GET /compare/{basehead}"], 2);
}

const COMMIT: &str = "query C($oid: GitObjectID!) {
  repository(owner: \"acme\", name: \"gitops\") {
    object(oid: $oid) {
      ... on Commit {
        oid message messageHeadline messageBody committedDate authoredDate
        tree { oid }
        parents(first: 2) { nodes { oid } }
        author { name email date user { login } }
        committer { name email date user { login } }
        signature { isValid state wasSignedByGitHub signer { login } }
      }
    }
  }
}
";

#[test]
fn commits_made_by_create_commit_on_branch_are_signed_and_git_data_ones_are_not() {
    let gh = Gh::new();
    let main = gh.head("main");
    let r = gh.commit("main", &main, "a.txt", "a\n");
    let signed = r.body["data"]["createCommitOnBranch"]["commit"]["oid"]
        .as_str()
        .expect("oid")
        .to_owned();
    let r = gh.gql(COMMIT, json!({"oid": signed}));
    let c = &r.body["data"]["repository"]["object"];
    assert_eq!(
        c["signature"],
        json!({"isValid": true, "state": "VALID", "wasSignedByGitHub": true, "signer": {"login": "web-flow"}})
    );
    assert_eq!(
        (
            c["author"]["name"].clone(),
            c["author"]["email"].clone(),
            c["author"]["user"].clone()
        ),
        (json!(BOT_NAME), json!(BOT_EMAIL), Value::Null)
    );
    assert_eq!(
        c["committer"]["user"],
        json!({"login": "web-flow"}),
        "GitHub commits as on the web"
    );
    let r = gh.rest(reqwest::Method::GET, &format!("commits/{signed}"), None);
    assert_eq!(r.body["commit"]["verification"]["verified"], true);
    assert_eq!(r.body["commit"]["verification"]["reason"], "valid");

    // The Git data API: tree, commit, ref. Unsigned.
    let tree = gh.rest(
        reqwest::Method::POST,
        "git/trees",
        Some(json!({"base_tree": gh.fake.repo().peel(&signed, "tree"), "tree": [{"path": "b.txt", "mode": "100644", "type": "blob", "content": "b\n"}]})),
    );
    let r = gh.rest(
        reqwest::Method::POST,
        "git/commits",
        Some(json!({"message": "b", "tree": tree.body["sha"], "parents": [signed]})),
    );
    assert_eq!(r.status, 201);
    assert_eq!(
        r.body["verification"],
        json!({"verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null})
    );
    let unsigned = r.body["sha"].as_str().expect("sha").to_owned();
    let r = gh.gql(COMMIT, json!({"oid": unsigned}));
    assert_eq!(
        r.body["data"]["repository"]["object"]["signature"],
        Value::Null
    );
    assert!(!gh.fake.is_signed(&unsigned) && gh.fake.is_signed(&signed));
    let r = gh.rest(
        reqwest::Method::GET,
        &format!("git/commits/{unsigned}"),
        None,
    );
    assert_eq!(r.body["verification"]["verified"], false);
    assert_eq!(r.body["parents"][0]["sha"], json!(signed));

    // With an App token GitHub signs Git-data commits too, unless the
    // author is set.
    gh.fake.faults().sign_rest_commits = true;
    let post = |body: Value| gh.rest(reqwest::Method::POST, "git/commits", Some(body));
    let r = post(json!({"message": "c", "tree": tree.body["sha"], "parents": [unsigned]}));
    assert_eq!(r.body["verification"]["verified"], true);
    let r = post(
        json!({"message": "d", "tree": tree.body["sha"], "parents": [unsigned],
        "author": {"name": "Ada", "email": "ada@example.com", "date": "2024-01-01T00:00:00Z"}}),
    );
    assert_eq!(r.body["verification"]["verified"], false);
    assert_eq!(r.body["author"]["date"], "2024-01-01T00:00:00Z");
}

#[test]
fn commit_details_and_path_history_with_dates() {
    let gh = Gh::new();
    let ada = Person::new(
        "Ada Lovelace",
        "1+ada@users.noreply.github.com",
        "2024-01-10T09:30:00+01:00",
    );
    let by_ada = gh.fake.person_commit(
        "main",
        &[("apps/a.yaml", b"image: app:v1\n")],
        "hand edit of a",
        &ada,
    );
    let bump = bump_message(
        "chore(gitops): bump app to v2",
        "ghcr.io/acme/app",
        "v1",
        "v2",
        "ci-dev",
        "0b0c6f0e-6a4e-4c1e-9c51-3f2f4a3c1f7e",
    );
    let by_bot = gh.fake.bot_commit(
        "main",
        &[("apps/a.yaml", b"image: app:v2\n")],
        &bump,
        "2024-02-10T12:00:00Z",
    );
    let other = gh.fake.bot_commit(
        "main",
        &[("apps/b.yaml", b"image: b:v2\n")],
        "touch b",
        "2024-03-10T12:00:00Z",
    );

    let r = gh.gql(COMMIT, json!({"oid": by_ada}));
    let c = &r.body["data"]["repository"]["object"];
    assert_eq!(
        c["author"],
        json!({"name": "Ada Lovelace", "email": "1+ada@users.noreply.github.com", "date": "2024-01-10T09:30:00+01:00", "user": {"login": "ada"}})
    );
    assert_eq!(c["committedDate"], "2024-01-10T08:30:00Z");
    assert_eq!(c["authoredDate"], "2024-01-10T08:30:00Z");
    assert_eq!(c["signature"], Value::Null);
    assert_eq!(c["messageHeadline"], "hand edit of a");
    // A private address belongs to nobody until registered.
    let grace = Person::new("Grace", "grace@example.com", "2024-01-11T00:00:00Z");
    let by_grace = gh
        .fake
        .person_commit("main", &[("g.txt", b"g\n")], "g", &grace);
    let user = |gh: &Gh| {
        gh.gql(COMMIT, json!({"oid": by_grace})).body["data"]["repository"]["object"]["author"]["user"]
            .clone()
    };
    assert_eq!(user(&gh), Value::Null);
    gh.fake.register_user("grace@example.com", "grace");
    assert_eq!(user(&gh), json!({"login": "grace"}));
    assert_eq!(c["messageBody"], "");
    assert_eq!(
        c["tree"]["oid"],
        json!(gh.fake.repo().peel(&by_ada, "tree"))
    );
    let r = gh.gql(COMMIT, json!({"oid": by_bot}));
    let c = &r.body["data"]["repository"]["object"];
    assert_eq!(c["message"], json!(bump.trim_end()));
    assert_eq!(c["messageHeadline"], "chore(gitops): bump app to v2");
    assert!(
        c["messageBody"]
            .as_str()
            .is_some_and(|b| b.starts_with("Gitops-Bump-Image: ghcr.io/acme/app\n"))
    );
    assert_eq!(c["parents"]["nodes"], json!([{"oid": by_ada}]));
    assert_eq!(c["signature"]["signer"]["login"], "web-flow");

    // One query, several aliased histories: per file and time window.
    let doc = "query Revert($head: GitObjectID!) {
  repository(owner: \"acme\", name: \"gitops\") {
    object(oid: $head) {
      ... on Commit {
        a: history(path: \"apps/a.yaml\", first: 10) { nodes { oid } }
        b: history(path: \"apps/b.yaml\", first: 10) { nodes { oid } }
        aFeb: history(path: \"apps/a.yaml\", since: \"2024-02-01T00:00:00Z\", until: \"2024-02-28T00:00:00Z\", first: 10) { nodes { oid } }
        none: history(path: \"apps/c.yaml\", first: 10) { totalCount nodes { oid } }
      }
    }
  }
}
";
    let r = gh.gql(doc, json!({"head": other}));
    assert_eq!(
        r.body["data"]["repository"]["object"],
        json!({
            "a": {"nodes": [{"oid": by_bot}, {"oid": by_ada}]},
            "b": {"nodes": [{"oid": other}]},
            "aFeb": {"nodes": [{"oid": by_bot}]},
            "none": {"totalCount": 0, "nodes": []},
        }),
        "{}",
        r.body
    );
    assert_eq!(gh.fake.fields()["Commit.history"], 4);
    assert_eq!(gh.fake.operations()["query Revert"], 1);

    // Pages: newest first, GitHub's "<oid> <n>" cursors.
    let page = |after: Option<&str>| {
        let after = after.map_or(String::new(), |a| format!(", after: \"{a}\""));
        gh.gql(
            &format!("query {{ repository(owner: \"acme\", name: \"gitops\") {{ object(oid: \"{other}\") {{ ... on Commit {{ history(first: 2{after}) {{ totalCount pageInfo {{ hasNextPage endCursor }} nodes {{ oid }} }} }} }} }} }}"),
            json!({}),
        )
        .body["data"]["repository"]["object"]["history"]
            .clone()
    };
    let p1 = page(None);
    assert_eq!(p1["totalCount"], 4);
    assert_eq!(
        p1["pageInfo"],
        json!({"hasNextPage": true, "endCursor": format!("{other} 1")})
    );
    assert_eq!(p1["nodes"], json!([{"oid": other}, {"oid": by_bot}]));
    let p2 = page(Some(&format!("{other} 1")));
    assert_eq!(p2["pageInfo"]["hasNextPage"], false);
    assert_eq!(p2["nodes"][0]["oid"], json!(by_ada));
}

#[test]
fn connections_need_first_or_last_up_to_100() {
    let gh = Gh::new();
    let main = gh.head("main");
    let doc = |args: &str| {
        format!(
            "query {{ repository(owner: \"acme\", name: \"gitops\") {{ object(oid: \"{main}\") {{ ... on Commit {{ history{args} {{ nodes {{ oid }} }} }} }} }} }}"
        )
    };
    let r = gh.gql(&doc("(first: 101)"), json!({}));
    let e = &r.body["errors"][0];
    assert_eq!(e["type"], "EXCESSIVE_PAGINATION");
    assert_eq!(
        e["message"],
        "Requesting 101 records on the `history` connection exceeds the `first` limit of 100 records."
    );
    assert_eq!(e["path"], json!(["repository", "object", "history"]));
    assert_eq!(
        r.body["data"]["repository"]["object"]["history"],
        Value::Null
    );
    let r = gh.gql(&doc(""), json!({}));
    assert_eq!(r.body["errors"][0]["type"], "MISSING_PAGINATION_BOUNDARIES");
    assert_eq!(
        r.body["errors"][0]["message"],
        "You must provide a `first` or `last` value to properly paginate the `history` connection."
    );
    let r = gh.gql(&doc("(first: 1, after: \"junk\")"), json!({}));
    assert_eq!(r.body["errors"][0]["type"], "INVALID_CURSOR_ARGUMENTS");
}

#[test]
fn a_person_amending_the_bots_commit_and_force_pushing() {
    let gh = Gh::new();
    let (_, n) = gh.open_pull("gitops-bump/main/app");
    let bot = gh.head("gitops-bump/main/app");
    let eve = Person::new(
        "Eve",
        "2+eve@users.noreply.github.com",
        "2024-05-01T08:00:00Z",
    );
    let amended = gh.fake.amend_head(
        "gitops-bump/main/app",
        &[("pr.txt", b"fixed by hand\n")],
        None,
        &eve,
    );
    assert_ne!(amended, bot);
    let repo = gh.fake.repo();
    let (before, after) = (
        repo.info(&bot).expect("bot"),
        repo.info(&amended).expect("amended"),
    );
    assert_eq!(after.parents, before.parents);
    assert_eq!(after.message, before.message);
    assert_eq!(after.author, before.author, "amend keeps the author");
    assert_eq!(after.committer.email, "2+eve@users.noreply.github.com");
    assert!(!gh.fake.is_signed(&amended) && gh.fake.is_signed(&bot));
    let r = gh.gql(PULL, json!({"n": n}));
    let pr = &r.body["data"]["repository"]["pullRequest"];
    assert_eq!(pr["headRefOid"], json!(amended));
    assert_eq!(pr["state"], "OPEN");
}

const UPDATE_REFS: &str =
    "mutation Refs($input: UpdateRefsInput!) { updateRefs(input: $input) { clientMutationId } }";

// See: issue #14. `updateRefs` creates (`beforeOid` all zeros), moves and
// deletes (`afterOid` all zeros) refs, all or none; an open pull request
// follows its head.
#[test]
fn update_refs_creates_moves_and_deletes_atomically() {
    let gh = Gh::new();
    let repo_id = gh.repo_id();
    let zero = "0".repeat(40);
    let (_, n) = gh.open_pull("gitops-bump/main/app");
    let bot = gh.head("gitops-bump/main/app");
    let main = gh.head("main");
    let update = |updates: Value| {
        gh.gql(
            UPDATE_REFS,
            json!({"input": {"repositoryId": repo_id, "refUpdates": updates}}),
        )
    };
    // Create a temporary branch at main, commit on it.
    let r = update(json!([{"name": "refs/heads/tmp/x", "beforeOid": zero, "afterOid": main}]));
    assert_eq!(
        r.body,
        json!({"data": {"updateRefs": {"clientMutationId": null}}})
    );
    let r = gh.commit("tmp/x", &main, "pr.txt", "rebuilt\n");
    let rebuilt = r.body["data"]["createCommitOnBranch"]["commit"]["oid"]
        .as_str()
        .expect("oid")
        .to_owned();
    // A stale `beforeOid` on the second update: nothing moves.
    let r = update(json!([
        {"name": "refs/heads/gitops-bump/main/app", "beforeOid": bot, "afterOid": rebuilt, "force": true},
        {"name": "refs/heads/tmp/x", "beforeOid": main, "afterOid": zero, "force": true},
    ]));
    assert_eq!(r.body["data"], json!({"updateRefs": null}), "{}", r.body);
    assert!(
        r.body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("is at ") && m.contains("not at the expected")),
        "{}",
        r.body
    );
    assert_eq!(gh.head("gitops-bump/main/app"), bot);
    assert_eq!(gh.head("tmp/x"), rebuilt);
    // Move the branch and delete the temporary one together.
    let r = update(json!([
        {"name": "refs/heads/gitops-bump/main/app", "beforeOid": bot, "afterOid": rebuilt, "force": true},
        {"name": "refs/heads/tmp/x", "beforeOid": rebuilt, "afterOid": zero, "force": true},
    ]));
    assert!(r.body["errors"].is_null(), "{}", r.body);
    assert_eq!(gh.head("gitops-bump/main/app"), rebuilt);
    assert_eq!(gh.fake.repo().head("tmp/x"), None);
    let pr = &gh.gql(PULL, json!({"n": n})).body["data"]["repository"]["pullRequest"];
    assert_eq!(
        (pr["state"].clone(), pr["headRefOid"].clone()),
        (json!("OPEN"), json!(rebuilt))
    );
    // Deleting a ref that is not there is refused.
    let r = update(json!([{"name": "refs/heads/tmp/x", "afterOid": zero, "force": true}]));
    assert!(
        r.body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("does not exist")),
        "{}",
        r.body
    );
    // Deleting the head branch closes its pull request.
    let r = update(
        json!([{"name": "refs/heads/gitops-bump/main/app", "beforeOid": rebuilt, "afterOid": zero}]),
    );
    assert!(r.body["errors"].is_null(), "{}", r.body);
    assert_eq!(gh.fake.pulls()[(n - 1) as usize].state, "CLOSED");
}

// See: issue #14. `commit_modes_reset`: `createCommitOnBranch` drops an
// executable bit; by default the fake keeps the file's mode.
#[test]
fn create_commit_keeps_modes_unless_told_to_reset_them() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("run.yaml"), "a: 1\n").expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(
            tmp.path().join("run.yaml"),
            std::fs::Permissions::from_mode(0o755),
        )
        .expect("chmod");
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let gh = Gh {
        fake: FakeGitHub::start(tmp.path()),
        rt: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime"),
        http: reqwest::Client::builder().build().expect("client"),
    };
    let mode = |gh: &Gh| gh.fake.repo().entry("main", "run.yaml").expect("file").mode;
    if mode(&gh) != "100755" {
        eprintln!("skipped: this file system keeps no executable bit");
        return;
    }
    let r = gh.commit("main", &gh.head("main"), "run.yaml", "a: 2\n");
    assert!(r.body["errors"].is_null(), "{}", r.body);
    assert_eq!(mode(&gh), "100755");
    gh.fake.faults().commit_modes_reset = true;
    let r = gh.commit("main", &gh.head("main"), "run.yaml", "a: 3\n");
    assert!(r.body["errors"].is_null(), "{}", r.body);
    assert_eq!(mode(&gh), "100644");
}

#[test]
fn variables_are_coerced_as_github_does() {
    let gh = Gh::new();
    let r = gh.gql(
        CREATE_COMMIT,
        json!({"input": {
            "branch": {"repositoryNameWithOwner": "acme/gitops", "branchName": "main"},
            "message": {"headline": "x"},
            "fileChanges": {},
        }}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body["data"], Value::Null);
    let e = &r.body["errors"][0];
    assert_eq!(
        e["message"],
        "Variable $input of type CreateCommitOnBranchInput! was provided invalid value for expectedHeadOid (Expected value to not be null)"
    );
    assert_eq!(e["locations"], locate(CREATE_COMMIT, "$input: Create"));
    assert_eq!(
        e["extensions"]["problems"],
        json!([{"path": ["expectedHeadOid"], "explanation": "Expected value to not be null"}])
    );
    let r = gh.gql(
        CREATE_COMMIT,
        json!({"input": {
            "branch": {"repositoryNameWithOwner": "acme/gitops", "branchName": "main"},
            "expectedHeadOid": gh.head("main"),
            "message": {"headline": "x", "extra": 1},
            "fileChanges": {"additions": [{"path": 7, "contents": "eA=="}]},
        }}),
    );
    assert_eq!(
        r.body["errors"][0]["message"],
        "Variable $input of type CreateCommitOnBranchInput! was provided invalid value for fileChanges.additions.0.path (Could not coerce value 7 to String), message.extra (Field is not defined on CommitMessage)"
    );
    // An invented field fails validation, one error per problem with its location.
    let invented = "query { repository(owner: \"acme\", name: \"gitops\") { inventedField } }";
    let r = gh.gql(invented, json!({}));
    assert_eq!(
        r.body["errors"].as_array().map(Vec::len),
        Some(1),
        "{}",
        r.body
    );
    let e = &r.body["errors"][0];
    assert_eq!(
        e["message"],
        "Field 'inventedField' doesn't exist on type 'Repository'"
    );
    assert_eq!(
        e["extensions"],
        json!({"code": "undefinedField", "typeName": "Repository", "fieldName": "inventedField"})
    );
    assert_eq!(e["locations"], locate(invented, "inventedField"));
}

#[test]
fn hardening_faults_truncated_listing_bad_oid_and_missing_text() {
    let gh = Gh::new();
    let main = gh.head("main");
    gh.fake.faults().truncate_flat_trees_over = Some(1);
    let r = gh.rest(reqwest::Method::GET, &format!("git/trees/{main}"), None);
    assert_eq!(r.body["truncated"], true);
    assert_eq!(r.body["tree"].as_array().map(Vec::len), Some(1));
    let r = gh.rest(
        reqwest::Method::GET,
        &format!("git/trees/{main}?recursive=1"),
        None,
    );
    assert_eq!(r.body["truncated"], false, "only flat listings were cut");

    let bad = "ｄｅａｄｂｅｅｆ";
    gh.fake.faults().bad_oids.push_back(bad.into());
    let r = gh.commit("main", &main, "a.txt", "a\n");
    assert_eq!(r.body["data"]["createCommitOnBranch"]["commit"]["oid"], bad);
    assert!(gh.head("main") != main, "the write itself landed");

    // Text: GitHub cuts at 512,000 bytes; the knob hides it entirely.
    let big = "x".repeat(600_000);
    gh.fake
        .repo()
        .commit_on("main", &[("big.txt", big.as_bytes())], "big");
    let doc = "query { repository(owner: \"acme\", name: \"gitops\") { ref(qualifiedName: \"main\") { target { ... on Commit { file(path: \"big.txt\") { object { ... on Blob { byteSize isTruncated text } } } } } } } }";
    let blob = |gh: &Gh| {
        gh.gql(doc, json!({})).body["data"]["repository"]["ref"]["target"]["file"]["object"].clone()
    };
    let b = blob(&gh);
    assert_eq!(
        (b["byteSize"].clone(), b["isTruncated"].clone()),
        (json!(600_000), json!(true))
    );
    assert_eq!(b["text"].as_str().map(str::len), Some(512_000));
    gh.fake.faults().text_missing_over = Some(100_000);
    let b = blob(&gh);
    assert_eq!(b["text"], Value::Null);
    assert_eq!(b["isTruncated"], false);
}

#[test]
fn floods_stream_big_and_endless_bodies() {
    let gh = Gh::new();
    let main = gh.head("main");
    gh.fake
        .faults()
        .floods
        .extend([Flood::Bytes(50 * 1024 * 1024), Flood::Endless]);
    let url = format!(
        "{}/repos/acme/gitops/git/trees/{main}?recursive=1",
        gh.fake.api_url()
    );
    let fetch = |limit: usize| {
        gh.rt.block_on(async {
            let mut resp = gh
                .http
                .get(&url)
                .header("user-agent", "fake-selftest")
                .header("authorization", format!("Bearer {TOKEN}"))
                .send()
                .await
                .expect("request");
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.expect("chunk") {
                body.extend_from_slice(&chunk);
                if body.len() > limit {
                    return (body, false);
                }
            }
            (body, true)
        })
    };
    let (body, ended) = fetch(usize::MAX);
    assert!(ended && body.len() >= 50 * 1024 * 1024);
    let v: Value = serde_json::from_slice(&body).expect("a complete JSON listing");
    assert_eq!(v["truncated"], false);
    assert_eq!(v["tree"][0]["path"], "flood/000000000.yaml");
    let (body, ended) = fetch(8 * 1024 * 1024);
    assert!(!ended, "still streaming after {} bytes", body.len());
    assert!(body.starts_with(b"{\"sha\":"));
    // The fake answers normally afterwards.
    let r = gh.rest(reqwest::Method::GET, "git/ref/heads/main", None);
    assert_eq!(r.status, 200);
}

#[test]
fn counters_group_by_endpoint_operation_and_field() {
    let gh = Gh::new();
    let (id, _) = gh.open_pull("p");
    gh.gql(
        "mutation Close($input: ClosePullRequestInput!) { closePullRequest(input: $input) { pullRequest { state } } }",
        json!({"input": {"pullRequestId": id}}),
    );
    gh.rest(reqwest::Method::GET, "compare/main...p", None);
    let ops = gh.fake.operations();
    for op in [
        "query Head",
        "mutation CreateRef",
        "mutation CreateCommit",
        "mutation Open",
        "mutation Close",
    ] {
        assert_eq!(ops.get(op), Some(&1), "{op}: {ops:?}");
    }
    let fields = gh.fake.fields();
    for f in [
        "Mutation.createRef",
        "Mutation.createCommitOnBranch",
        "Mutation.createPullRequest",
        "Mutation.closePullRequest",
    ] {
        assert_eq!(fields.get(f), Some(&1), "{f}: {fields:?}");
    }
    assert_eq!(gh.fake.counts()["POST /graphql"], 5);
    assert_eq!(gh.fake.counts()["GET /compare/{basehead}"], 1);
    assert_eq!(gh.fake.total(), 6);
}

#[test]
fn date_formatting_is_utc_iso() {
    assert_eq!(super::iso_utc(0), "1970-01-01T00:00:00Z");
    assert_eq!(super::iso_utc(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(super::iso_utc(1_709_287_200), "2024-03-01T10:00:00Z");
}

#[test]
fn blobs_come_raw_when_asked_for_and_can_break_off() {
    let gh = Gh::new();
    let mut bytes = b"\xff\xfe".to_vec();
    bytes.extend((0..200_000u32).map(|i| (i % 251) as u8));
    gh.fake
        .repo()
        .commit_on("main", &[("big.bin", bytes.as_slice())], "big");
    let sha = gh
        .fake
        .repo()
        .entry(&gh.head("main"), "big.bin")
        .expect("blob")
        .sha;
    let url = format!("{}/repos/acme/gitops/git/blobs/{sha}", gh.fake.api_url());
    // (status, content type, body); `Err` when the answer broke off.
    let fetch = |accept: &str| {
        gh.rt.block_on(async {
            let resp = gh
                .http
                .get(&url)
                .header("user-agent", "fake-selftest")
                .header("authorization", format!("Bearer {TOKEN}"))
                .header("accept", accept)
                .send()
                .await?;
            let status = resp.status().as_u16();
            let kind = resp
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let body = resp.bytes().await?.to_vec();
            Ok::<_, reqwest::Error>((status, kind, body))
        })
    };
    for accept in [
        "application/vnd.github.raw+json",
        "application/vnd.github.raw",
        "application/vnd.github.v3.raw",
    ] {
        let (status, kind, body) = fetch(accept).expect("answer");
        assert_eq!((status, kind.as_str()), (200, "application/vnd.github.raw"));
        assert_eq!(body, bytes, "{accept}");
    }
    // The default media type: JSON with base64, as before.
    let (status, kind, body) = fetch("application/vnd.github+json").expect("answer");
    assert_eq!(status, 200);
    assert!(kind.starts_with("application/json"), "{kind}");
    let v: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(v["encoding"], "base64");
    let counts = gh.fake.counts();
    assert_eq!(
        counts.get("GET /git/blobs/{sha} raw"),
        Some(&3),
        "{counts:?}"
    );
    assert_eq!(counts.get("GET /git/blobs/{sha}"), Some(&1), "{counts:?}");
    // Broken off halfway: the client sees an error, never a short body.
    gh.fake.faults().broken_raw_blobs = 1;
    assert!(fetch("application/vnd.github.raw+json").is_err());
    let (_, _, body) = fetch("application/vnd.github.raw+json").expect("answer");
    assert_eq!(body, bytes, "the next answer is whole");
}

//! `set --repo` against a GitHub that misbehaves the ways github.com has
//! been seen to: lost races in its own wording, every rate-limit shape,
//! truncated listings, malformed commit ids, endless answers, and endpoint
//! URLs that only look like loopback. The real binary against the fake
//! GitHub (`fake_github`), one test per finding.
//! See: issue #13 (hardening, GitHub parts).

use std::path::Path;

use crate::common::{copy_dir, gitops_bump};
use crate::fake_github::{self, FakeGitHub, Flood, GraphqlRateLimit, Resource, SecondaryLimit};
use crate::github::{BACKEND, bump, commits, concurrent_with, json, start};

/// Exact path: the first request is the GraphQL file query.
const EXACT: [&str; 4] = ["--branch", "main", "--files", "base/deployment.yaml"];

fn exact(extra: &[&str]) -> Vec<String> {
    EXACT.iter().chain(extra).map(|s| s.to_string()).collect()
}

fn bump_exact(fake: &FakeGitHub, extra: &[&str]) -> crate::common::Run {
    let args = exact(extra);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    bump(fake, &refs)
}

fn holds_new_tag(fake: &FakeGitHub) -> bool {
    fake.repo()
        .read("main", "base/deployment.yaml")
        .contains("ghcr.io/acme/backend:v1.4.0")
}

// See: issue #13. A write that passes its `expectedHeadOid` check and then
// loses the ref update answers `UNPROCESSABLE` "Ref … is at … but expected
// …", not `STALE_DATA`; it was fatal, and 6 or 7 of 8 concurrent writers
// failed. (Four races: each one costs every writer a round, and the test
// keeps the default --max-attempts; `scripts/bench-github` runs eight.)
#[test]
fn issue_13_lost_races_eight_concurrent_writers_all_land() {
    const RACES: usize = 4;
    let (fake, runs) = concurrent_with(8, true, |fake| fake.faults().lost_races = RACES);
    for r in &runs {
        assert_eq!(r.code, 0, "{r:?}");
        assert_eq!(json(r)["changed"], true, "{r:?}");
    }
    assert_eq!(fake.faults().lost_races, 0, "every lost race happened");
    let text = fake.repo().read("main", "fleet.yaml");
    for i in 0..8 {
        assert!(
            text.contains(&format!(
                "image: ghcr.io/acme/svc-{i}:v2 # keep this comment\n"
            )),
            "svc-{i} lost:\n{text}"
        );
    }
    // The initial commit, 8 bumps and the racers that won.
    assert_eq!(commits(&fake), 1 + 8 + RACES);
    assert!(
        runs.iter()
            .any(|r| r.stderr.contains("but expected") && r.stderr.contains("re-reading")),
        "a lost race is retried as a compare-and-swap miss"
    );
}

#[test]
fn issue_13_lost_race_is_a_cas_miss_for_graphql_and_rest() {
    for (api, wording) in [
        ("graphql", "but expected"),
        ("rest", "Reference cannot be updated"),
    ] {
        let fake = start();
        fake.faults().lost_races = 1;
        let r = bump_exact(&fake, &["--api", api, BACKEND]);
        assert_eq!(r.code, 0, "{api}: {r:?}");
        assert_eq!(json(&r)["attempts"], 2, "{api}");
        assert!(
            r.stderr.contains(wording) && r.stderr.contains("re-reading"),
            "{api}: {}",
            r.stderr
        );
        assert_eq!(commits(&fake), 3, "{api}: initial, the racer, ours");
        assert!(holds_new_tag(&fake), "{api}");
        let head = fake.repo().head("main").expect("main");
        assert_eq!(json(&r)["commit"].as_str(), Some(head.as_str()), "{api}");
    }
}

#[test]
fn issue_13_rest_ref_gone_is_not_a_cas_miss() {
    let fake = start();
    fake.faults().before_write.push_back(Box::new(|repo| {
        let head = repo.head("main").expect("main");
        assert!(repo.delete_ref("main", &head));
    }));
    let r = bump_exact(&fake, &["--api", "rest", BACKEND]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("Reference does not exist") && !r.stderr.contains("re-reading"),
        "{}",
        r.stderr
    );
}

const PR_BRANCH: &str = "gitops-bump/main/ghcr.io-acme-backend";

// See: issue #13. `updateRefs` with a `beforeOid` the branch left is a
// compare-and-swap miss too.
#[test]
fn issue_13_pull_request_before_oid_mismatch_rereads() {
    let fake = start();
    let r = bump(&fake, &["--branch", "main", "--pull-request", BACKEND]);
    assert_eq!(r.code, 0, "{r:?}");
    // Another run re-creates the pull-request branch (its own bump, one
    // commit on the base) just before our `updateRefs`: our `beforeOid` no
    // longer matches.
    fake.faults().before_write.push_back(Box::new(|repo| {
        let main = repo.head("main").expect("main");
        let text = repo
            .read("main", "base/deployment.yaml")
            .replace("backend:v1.3.0", "backend:v1.4.9");
        let file = ("base/deployment.yaml".to_owned(), None, text.into_bytes());
        let tree = repo.tree_with(&main, &[file], &[]).expect("tree");
        let message = fake_github::bump_message(
            "chore(gitops): bump ghcr.io/acme/backend to v1.4.9",
            "ghcr.io/acme/backend",
            "v1.3.0",
            "v1.4.9",
            "other-run",
            "00000000-0000-4000-8000-000000000000",
        );
        // As gitops-bump records it (issue #14), so the branch is still only
        // gitops-bump's.
        let message = fake_github::with_record(&message, &main, &tree);
        let theirs = repo.commit_tree(&tree, &[main], &message).expect("commit");
        assert!(repo.force_ref(PR_BRANCH, &theirs));
    }));
    let r = bump(
        &fake,
        &[
            "--branch",
            "main",
            "--pull-request",
            "ghcr.io/acme/backend:v1.5.0",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(json(&r)["attempts"], 2, "{r:?}");
    assert!(r.stderr.contains("updateRefs"), "{}", r.stderr);
    let head = fake.repo().head(PR_BRANCH).expect("branch");
    let main = fake.repo().head("main").expect("main");
    assert_eq!(fake.repo().parents(&head), [main]);
    assert!(
        fake.repo()
            .read(PR_BRANCH, "base/deployment.yaml")
            .contains("ghcr.io/acme/backend:v1.5.0")
    );
    assert_eq!(fake.pulls().len(), 1);
}

// See: issue #13. Only `type: RATE_LIMITED` was waited out; `RATE_LIMIT` /
// `code: graphql_rate_limit`, and a non-zero `x-ratelimit-remaining`, failed
// at once.
#[test]
fn issue_13_every_graphql_primary_rate_limit_shape_waits_for_the_reset() {
    for (shape, remaining) in [
        (GraphqlRateLimit::RateLimit, 0),
        (GraphqlRateLimit::RateLimit, 3),
        (GraphqlRateLimit::RateLimited, 3),
    ] {
        let fake = start();
        {
            let mut f = fake.faults();
            f.graphql_rate_limit = shape;
            f.graphql_rate_limit_remaining = remaining;
        }
        fake.exhaust_rate_limit_of(Resource::Graphql, 1);
        let r = bump_exact(&fake, &[BACKEND]);
        assert_eq!(r.code, 0, "{shape:?} {remaining}: {r:?}");
        assert!(
            r.stderr.contains("rate limit exhausted until the reset"),
            "{shape:?} {remaining}: {}",
            r.stderr
        );
        assert_eq!(commits(&fake), 2);
        assert!(holds_new_tag(&fake));
    }
}

#[test]
fn issue_13_graphql_rate_limit_past_the_deadline_fails_at_once() {
    let fake = start();
    {
        let mut f = fake.faults();
        f.graphql_rate_limit = GraphqlRateLimit::RateLimit;
        f.graphql_rate_limit_remaining = 5;
    }
    fake.exhaust_rate_limit_of(Resource::Graphql, 600);
    let r = bump_exact(&fake, &["--deadline", "5s", BACKEND]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("past the --deadline of 5s"),
        "{}",
        r.stderr
    );
    assert_eq!(fake.total(), 1, "no retry storm");
}

// See: issue #13. Secondary limits (403, 429, or a GraphQL answer with HTTP
// 200) wait `retry-after`, or the reset when nothing remains.
#[test]
fn issue_13_secondary_limits_wait_as_told() {
    for limit in [
        SecondaryLimit {
            status: 403,
            retry_after: None,
            reset_in: Some(1),
        },
        SecondaryLimit {
            status: 429,
            retry_after: Some(1),
            reset_in: None,
        },
        SecondaryLimit {
            status: 429,
            retry_after: None,
            reset_in: Some(1),
        },
        SecondaryLimit {
            status: 200,
            retry_after: Some(1),
            reset_in: None,
        },
        SecondaryLimit {
            status: 200,
            retry_after: None,
            reset_in: Some(1),
        },
    ] {
        let fake = start();
        fake.faults().secondary.push_back(limit.clone());
        let r = bump_exact(&fake, &[BACKEND]);
        assert_eq!(r.code, 0, "{limit:?}: {r:?}");
        assert!(r.stderr.contains("rate limit"), "{limit:?}: {}", r.stderr);
        assert_eq!(commits(&fake), 2, "{limit:?}");
        assert!(holds_new_tag(&fake));
    }
}

// See: issue #13, DESIGN.md §6: without `retry-after` or an exhausted
// quota, a secondary limit waits at least a minute; with a shorter
// --deadline that is known at once.
#[test]
fn issue_13_secondary_limit_without_a_hint_waits_a_minute() {
    for status in [403, 429, 200] {
        let fake = start();
        fake.faults().secondary.push_back(SecondaryLimit {
            status,
            retry_after: None,
            reset_in: None,
        });
        let r = bump_exact(&fake, &["--deadline", "30s", BACKEND]);
        assert_eq!(r.code, 1, "{status}: {r:?}");
        assert!(
            r.stderr.contains("secondary rate limit")
                && r.stderr.contains("60s away, past the --deadline of 30s"),
            "{status}: {}",
            r.stderr
        );
        assert_eq!(fake.total(), 1, "{status}: no retry storm");
    }
}

// See: issue #13. A cut non-recursive listing was read as complete, and
// files were silently missed.
#[test]
fn issue_13_truncated_flat_listing_fails_naming_the_directory() {
    let fake = start();
    {
        let mut f = fake.faults();
        f.truncate_trees_over = Some(3);
        f.truncate_flat_trees_over = Some(2);
    }
    let r = bump(&fake, &["--branch", "main", BACKEND]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("list the files of refs/heads/main: GitHub cut the listing of / short")
            && r.stderr.contains("exact --files paths"),
        "{}",
        r.stderr
    );
    assert_eq!(commits(&fake), 1);

    // A subdirectory: the root fits, `many/` does not.
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(tmp.path().join("many")).expect("mkdir");
    for i in 0..4 {
        std::fs::write(
            tmp.path().join(format!("many/{i}.yaml")),
            "image: ghcr.io/acme/backend:v1.3.0\n",
        )
        .expect("write");
    }
    std::fs::write(tmp.path().join("x.yaml"), "a: 1\n").expect("write");
    let fake = FakeGitHub::start(tmp.path());
    {
        let mut f = fake.faults();
        f.truncate_trees_over = Some(2);
        f.truncate_flat_trees_over = Some(3);
    }
    let r = bump(&fake, &["--branch", "main", BACKEND]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("GitHub cut the listing of many short"),
        "{}",
        r.stderr
    );
    assert_eq!(commits(&fake), 1);
}

#[test]
fn issue_13_withheld_text_falls_back_to_the_blob() {
    let fake = start();
    fake.faults().text_missing_over = Some(100);
    let r = bump(&fake, &["--branch", "main", BACKEND]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(json(&r)["updates"].as_array().map(Vec::len), Some(5));
    assert!(
        fake.counts()["GET /git/blobs/{sha}"] > 1,
        "{:?}",
        fake.counts()
    );
    assert!(holds_new_tag(&fake));
}

// See: issue #13. A malformed commit id in a write's answer is refused
// (never echoed: it could carry terminal escapes or workflow commands);
// the write is then looked up by its `Gitops-Bump-Id`, so it is not made
// twice.
#[test]
fn issue_13_malformed_commit_id_from_createcommitonbranch_is_refused_and_looked_up() {
    for bad in [
        "ｄｅａｄｂｅｅｆ",
        "::error::pwned%0A",
        "0123456789abcdef0123456789abcdef0123456X",
    ] {
        let fake = start();
        fake.faults().bad_oids.push_back(bad.into());
        let r = bump_exact(&fake, &[BACKEND]);
        assert_eq!(r.code, 0, "{bad}: {r:?}");
        assert!(
            r.stderr.contains(
                "commit to main: no answer (unexpected answer: the new commit's oid is not a Git object id ("
            ) && r.stderr.contains("checking whether it landed"),
            "{bad}: {}",
            r.stderr
        );
        assert!(
            !r.stderr.contains(bad) && !r.stdout.contains(bad) && !r.stdout.contains("pwned"),
            "{bad} echoed: {r:?}"
        );
        assert_eq!(commits(&fake), 2, "{bad}: exactly one commit");
        let head = fake.repo().head("main").expect("main");
        assert_eq!(json(&r)["commit"].as_str(), Some(head.as_str()), "{bad}");
    }
}

#[test]
fn issue_13_malformed_commit_id_from_the_git_data_api_stops_before_the_ref_moves() {
    let fake = start();
    fake.faults().bad_oids.push_back("ｄｅａｄｂｅｅｆ".into());
    let r = bump_exact(&fake, &["--api", "rest", BACKEND]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains(
            "create a commit: unexpected answer: sha is not a Git object id (24 bytes, non-ASCII)"
        ),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("ｄｅａｄｂｅｅｆ"));
    assert_eq!(
        fake.counts().get("PATCH /git/refs/{ref}"),
        None,
        "nothing moved"
    );
    assert_eq!(commits(&fake), 1);
}

/// `examples/gitops` plus `big.yaml`: a Pod of `image`, padded with
/// comments to 2 MiB (over the `--max-file-size 1MiB` of these tests), in
/// UTF-16 LE with its byte order mark when `utf16`. Returns the directory
/// and the bytes of `big.yaml`.
fn with_big_file(image: &str, utf16: bool) -> (tempfile::TempDir, Vec<u8>) {
    let tmp = tempfile::tempdir().expect("tempdir");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/gitops"),
        tmp.path(),
    );
    let mut big = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: big\nspec:\n  containers:\n    - name: app\n      image: {image}\n"
    );
    while big.len() < 2 * 1024 * 1024 {
        big.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    let bytes = if utf16 {
        "\u{feff}"
            .encode_utf16()
            .chain(big.encode_utf16())
            .flat_map(u16::to_le_bytes)
            .collect()
    } else {
        big.into_bytes()
    };
    std::fs::write(tmp.path().join("big.yaml"), &bytes).expect("write");
    (tmp, bytes)
}

/// `set ARGS BACKEND --max-file-size 1MiB` (JSON output) on `--repo` (the
/// fake, serving `dir`) and on `--dir` (a copy of `dir`, written for real):
/// the fake, the two runs and the copy.
fn set_on_both(
    dir: &Path,
    args: &[&str],
) -> (
    FakeGitHub,
    crate::common::Run,
    crate::common::Run,
    tempfile::TempDir,
) {
    let fake = FakeGitHub::start(dir);
    let limit = ["--max-file-size", "1MiB", BACKEND];
    let remote = bump(
        &fake,
        &[&["--branch", "main"][..], args, &limit[..]].concat(),
    );
    let copy = tempfile::tempdir().expect("tempdir");
    copy_dir(dir, copy.path());
    let local = gitops_bump()
        .args(["set", "--no-verify", "--output", "json", "--dir"])
        .args([copy.path().to_str().expect("utf-8")])
        .args(args)
        .args(limit)
        .run();
    (fake, remote, local, copy)
}

/// The exact `--files` of these tests: one manifest with the target, and
/// `big.yaml`.
const BIG_EXACT: [&str; 4] = ["--files", "base/deployment.yaml", "--files", "big.yaml"];

/// Asserts both backends refused because `big.yaml` mentions the target,
/// in the same words, and wrote nothing.
fn assert_both_refuse(
    fake: &FakeGitHub,
    remote: &crate::common::Run,
    local: &crate::common::Run,
    dir: &Path,
    copy: &Path,
) {
    for (name, r) in [("--repo", remote), ("--dir", local)] {
        assert_eq!(r.code, 1, "{name}: {r:?}");
        let v = json(r);
        let errors = v["errors"].as_array().expect("errors");
        assert!(
            errors.len() == 1
                && errors[0]["file"] == "big.yaml"
                && errors[0]["message"].as_str().is_some_and(|m| m.ends_with(
                    " bytes is over the 1048576 byte limit (raise it with --max-file-size); it mentions ghcr.io/acme/backend, so the run cannot be complete without it"
                )),
            "{name}: {v}"
        );
        assert_eq!(v["changed"], false, "{name}");
    }
    assert_eq!(json(remote)["errors"], json(local)["errors"]);
    assert_eq!(json(remote)["problems"], json(local)["problems"]);
    assert_eq!(commits(fake), 1, "nothing committed");
    assert_eq!(
        crate::common::snapshot(dir),
        crate::common::snapshot(copy),
        "nothing written by --dir"
    );
}

// See: issue #13. `--max-file-size` was ignored for exact `--files` paths
// with `--repo` (a 30 MB file was read and committed); it applies as it
// does for `--dir`, by GraphQL's `byteSize`. A file over it that mentions
// the target fails the run on both backends (it would be left behind):
// `--repo` streams the blob once, raw, through a bounded search, instead of
// skipping it unread.
#[test]
fn issue_13_max_file_size_applies_to_exact_paths() {
    let (tmp, big) = with_big_file("ghcr.io/acme/backend:v1.3.0", false);
    let (fake, r, local, copy) = set_on_both(tmp.path(), &BIG_EXACT);
    assert_both_refuse(&fake, &r, &local, tmp.path(), copy.path());
    assert_eq!(
        fake.repo().read("main", "big.yaml").as_bytes(),
        big,
        "big.yaml untouched"
    );
    let v = json(&r);
    let problems = v["problems"].to_string();
    assert!(
        problems.contains("big.yaml") && problems.contains("over the 1048576 byte limit"),
        "{v}"
    );
    // The file query, the writer guards' history read of the files the
    // plan touches (issue #11) and one raw read of big.yaml: never its base64 blob,
    // never a write.
    let want: std::collections::BTreeMap<String, u64> = [
        ("POST /graphql".to_owned(), 2),
        ("GET /git/blobs/{sha} raw".to_owned(), 1),
    ]
    .into();
    assert_eq!(fake.counts(), want);
    assert_eq!(v["api_requests"], 3);
}

// See: issue #13. The same through the listing (a glob), where the tree
// gives the size and the blob's sha.
#[test]
fn issue_13_a_listed_file_over_the_limit_that_mentions_the_target_fails_the_run() {
    let (tmp, _) = with_big_file("ghcr.io/acme/backend:v1.3.0", false);
    let (fake, r, local, copy) = set_on_both(tmp.path(), &[]);
    assert_both_refuse(&fake, &r, &local, tmp.path(), copy.path());
    let counts = fake.counts();
    assert_eq!(
        counts.get("GET /git/blobs/{sha} raw"),
        Some(&1),
        "{counts:?}"
    );
    assert_eq!(counts.get("GET /git/blobs/{sha}"), None, "{counts:?}");
}

// See: issue #13. UTF-16 (by its byte order mark) is searched decoded, on
// both backends.
#[test]
fn issue_13_a_utf16_file_over_the_limit_that_mentions_the_target_fails_the_run() {
    let (tmp, _) = with_big_file("ghcr.io/acme/backend:v1.3.0", true);
    let (fake, r, local, copy) = set_on_both(tmp.path(), &BIG_EXACT);
    assert_both_refuse(&fake, &r, &local, tmp.path(), copy.path());
    assert_eq!(fake.counts().get("GET /git/blobs/{sha} raw"), Some(&1));
}

// See: issue #13. A file over the limit that does not mention the target
// is only a warning: both backends write the same change.
#[test]
fn issue_13_a_file_over_the_limit_without_the_target_is_a_warning_only() {
    let (tmp, _) = with_big_file("ghcr.io/acme/backend-exporter:v1.3.0", false);
    let (fake, r, local, copy) = set_on_both(tmp.path(), &BIG_EXACT);
    for (name, r) in [("--repo", &r), ("--dir", &local)] {
        assert_eq!(r.code, 0, "{name}: {r:?}");
        let v = json(r);
        assert_eq!(v["errors"], serde_json::json!([]), "{name}: {v}");
        let problems = v["problems"].to_string();
        assert!(
            problems.contains("big.yaml")
                && problems.contains(
                    "over the 1048576 byte limit (raise it with --max-file-size); skipped"
                ),
            "{name}: {v}"
        );
        assert_eq!(v["changed"], true, "{name}: {v}");
    }
    assert_eq!(commits(&fake), 2, "one commit");
    let written = std::fs::read_to_string(copy.path().join("base/deployment.yaml")).expect("read");
    assert!(written.contains("ghcr.io/acme/backend:v1.4.0"), "{written}");
    assert_eq!(fake.repo().read("main", "base/deployment.yaml"), written);
    assert_eq!(json(&r)["problems"], json(&local)["problems"]);
    assert_eq!(fake.counts().get("GET /git/blobs/{sha} raw"), Some(&1));
}

// See: issue #13. The raw read goes through the client's retries: an
// answer that breaks off halfway is read again from its first byte.
#[test]
fn issue_13_a_raw_blob_read_that_breaks_off_is_retried_from_the_start() {
    let (tmp, big) = with_big_file("ghcr.io/acme/backend:v1.3.0", false);
    // The padding first: the search must read past the break to decide.
    let text = String::from_utf8(big).expect("utf-8");
    let at = text.find("# padding").expect("padding");
    let moved = format!("{}{}", &text[at..], &text[..at]);
    std::fs::write(tmp.path().join("big.yaml"), moved).expect("write");
    let fake = FakeGitHub::start(tmp.path());
    fake.faults().broken_raw_blobs = 1;
    let r = bump(
        &fake,
        &[
            &["--branch", "main", "--max-file-size", "1MiB"][..],
            &BIG_EXACT[..],
            &[BACKEND][..],
        ]
        .concat(),
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        json(&r)["errors"]
            .to_string()
            .contains("it mentions ghcr.io/acme/backend"),
        "{r:?}"
    );
    assert_eq!(
        fake.counts().get("GET /git/blobs/{sha} raw"),
        Some(&2),
        "{r:?}"
    );
    assert!(r.stderr.contains("retrying"), "{}", r.stderr);
    // The file query, the history read and two raw reads.
    assert_eq!(json(&r)["api_requests"], 4);
}

// See: issue #13. Without images to look for (sync), a file over the limit
// is skipped unread, as before.
#[test]
fn issue_13_sync_never_reads_a_file_over_the_limit() {
    let (tmp, _) = with_big_file("ghcr.io/acme/backend:v1.3.0", false);
    // No configuration: with `--default-policy none` nothing asks a registry.
    std::fs::remove_file(tmp.path().join(".gitops-bump.yaml")).expect("remove");
    let fake = FakeGitHub::start(tmp.path());
    let r = gitops_bump()
        .env("GITHUB_TOKEN", fake_github::TOKEN)
        .env("GITHUB_API_URL", &fake.api_url())
        .env("GITHUB_GRAPHQL_URL", &fake.graphql_url())
        .args([
            "sync",
            "--repo",
            "acme/gitops",
            "--branch",
            "main",
            "--output",
            "json",
        ])
        .args(["--default-policy", "none", "--max-file-size", "1MiB"])
        .args(BIG_EXACT)
        .run();
    assert_eq!(r.code, 0, "{r:?}");
    let findings = json(&r)["findings"].to_string();
    assert!(
        findings.contains("big.yaml") && findings.contains("over the 1048576 byte limit"),
        "{findings}"
    );
    // The configuration's own read (it names what an oversized file is
    // searched for), then the files: never big.yaml's blob.
    let want: std::collections::BTreeMap<String, u64> = [("POST /graphql".to_owned(), 2)].into();
    assert_eq!(fake.counts(), want);
}

// The branch moves between the listing and the file query: the read stops
// after the first query, lists the tree that query saw and reads that
// commit, pinned; the write lands on top of the competitor.
#[test]
fn a_branch_that_moves_after_the_listing_is_listed_again_and_read_pinned() {
    let fake = start();
    fake.faults().commit_after_listing = 1;
    let r = bump(&fake, &["--branch", "main", BACKEND]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(json(&r)["changed"], true);
    let counts = fake.counts();
    assert_eq!(counts.get("GET /git/trees/{sha}"), Some(&2), "{counts:?}");
    // Read at the head, read pinned, and the verification read.
    assert_eq!(
        fake.operations().get("query ReadFiles"),
        Some(&3),
        "{:?}",
        fake.operations()
    );
    // The initial commit, the competitor, the bump on top of it.
    assert_eq!(commits(&fake), 3);
    assert!(holds_new_tag(&fake));
    assert_eq!(
        fake.repo().read("main", "competitor.txt"),
        "competing commit 1\n"
    );
}

// See: issue #13. `http://127.evil.example` and `http://127.0.0.1:1@evil.example`
// passed as loopback, so the token could go out in clear.
#[test]
fn issue_13_lookalike_loopback_endpoints_are_refused() {
    for (var, url) in [
        ("GITHUB_API_URL", "http://127.evil.example/api/v3"),
        ("GITHUB_API_URL", "http://127.0.0.1:1@evil.example/api/v3"),
        ("GITHUB_API_URL", "http://localhost@evil.example/api/v3"),
        (
            "GITHUB_GRAPHQL_URL",
            "http://127.0.0.1.evil.example/api/graphql",
        ),
    ] {
        let r = gitops_bump()
            .env("GITHUB_TOKEN", fake_github::TOKEN)
            .env("GITHUB_API_URL", "http://127.0.0.1:9/api/v3")
            .env(var, url)
            .args([
                "set",
                "--no-verify",
                "--repo",
                "acme/gitops",
                "--branch",
                "main",
            ])
            .args([BACKEND])
            .run();
        assert_eq!(r.code, 2, "{url}: {r:?}");
        assert!(r.stderr.contains(var), "{url}: {}", r.stderr);
        assert!(!r.stderr.contains(fake_github::TOKEN));
    }
}

// See: issue #13. An endless tree listing grew the process to 4.2 GB.
#[test]
fn issue_13_endless_answers_are_cut_at_their_cap_and_not_retried() {
    let fake = start();
    fake.faults().floods.push_back(Flood::Endless);
    let r = bump(&fake, &["--branch", "main", BACKEND]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains(
            "list the files of refs/heads/main: the answer is larger than 64 MiB; refusing it"
        ),
        "{}",
        r.stderr
    );
    assert_eq!(fake.total(), 1, "not retried: {:?}", fake.counts());

    let fake = start();
    fake.faults()
        .floods
        .push_back(Flood::Bytes(40 * 1024 * 1024));
    let r = bump_exact(&fake, &[BACKEND]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains(
            "read files at refs/heads/main: the answer is larger than 32 MiB; refusing it"
        ),
        "{}",
        r.stderr
    );
    assert_eq!(fake.total(), 1, "not retried: {:?}", fake.counts());
    assert_eq!(commits(&fake), 1);
}

// The budget holds after the hardening: listing, query, the changed
// files' history (issue #11), mutation, verification.
#[test]
fn issue_13_uncontended_budget_is_unchanged() {
    let fake = start();
    let r = bump(&fake, &["--branch", "main", BACKEND]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(fake.total(), 5, "{:?}", fake.counts());
    let fake = start();
    let r = bump_exact(&fake, &[BACKEND]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(fake.total(), 4, "{:?}", fake.counts());
}

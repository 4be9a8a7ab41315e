//! `set --repo` end to end: the real binary against the fake GitHub
//! (`fake_github`), which is backed by a real Git repository. Covers the
//! request budget, compare-and-swap retries, lost answers, rate limits,
//! permission errors, verification failures and concurrent writers.
//! See: issue #4. The helpers here are shared by `github_hardening`,
//! `github_logs` and `github_history`.

use std::path::Path;

use serde_json::Value;

use crate::common::{Run, gitops_bump};
use crate::fake_github::{self, FakeGitHub};

pub(crate) const BACKEND: &str = "ghcr.io/acme/backend:v1.4.0";

/// The fake, serving `examples/gitops` as `acme/gitops@main`.
pub(crate) fn start() -> FakeGitHub {
    FakeGitHub::start(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/gitops"))
}

/// `gitops-bump set --no-verify --repo acme/gitops --output json ARGS`
/// against `fake`, with the token in the environment only.
pub(crate) fn bump(fake: &FakeGitHub, args: &[&str]) -> Run {
    gitops_bump()
        .env("GITHUB_TOKEN", fake_github::TOKEN)
        .env("GITHUB_API_URL", &fake.api_url())
        .env("GITHUB_GRAPHQL_URL", &fake.graphql_url())
        .args([
            "set",
            "--no-verify",
            "--repo",
            "acme/gitops",
            "--output",
            "json",
        ])
        .args(args)
        .run()
}

pub(crate) fn json(r: &Run) -> Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {r:?}"))
}

pub(crate) fn commits(fake: &FakeGitHub) -> usize {
    fake.repo().history("refs/heads/main", 10_000).len()
}

#[test]
fn issue_4_uncontended_set_commits_once_within_five_requests() {
    let fake = start();
    let r = bump(&fake, &["--branch", "main", BACKEND]);
    assert_eq!(r.code, 0, "{r:?}");
    let v = json(&r);
    assert_eq!(v["changed"], true);
    assert_eq!(v["attempts"], 1);
    let head = fake.repo().head("main").expect("main");
    assert_eq!(v["commit"].as_str(), Some(head.as_str()));
    // Listing, file query, the history of the changed files (issue #11),
    // mutation, verification.
    assert!(fake.total() <= 5, "{:?}", fake.counts());
    assert_eq!(fake.operations().get("query FileHistory"), Some(&1));
    assert_eq!(v["api_requests"].as_u64(), Some(fake.total()));
    assert_eq!(commits(&fake), 2);
    let deployment = fake.repo().read("main", "base/deployment.yaml");
    assert!(deployment.contains("image: ghcr.io/acme/backend:v1.4.0   # runs DB migrations first"));
    let message = fake.repo().message(&head);
    assert!(
        message.contains("Gitops-Bump-Image: ghcr.io/acme/backend"),
        "{message}"
    );
    assert!(message.contains("Gitops-Bump-Id: "), "{message}");
    // The pinned overlay is left alone, everything else moved.
    assert!(
        fake.repo()
            .read("main", "overlays/prod/kustomization.yaml")
            .contains("newTag: v1.2.7 # gitops-bump:ignore")
    );
}

#[test]
fn issue_4_exact_paths_skip_the_listing_four_requests() {
    let fake = start();
    let r = bump(
        &fake,
        &[
            "--branch",
            "main",
            "--files",
            "base/deployment.yaml",
            BACKEND,
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    // File query, history (issue #11), mutation, verification.
    assert_eq!(fake.total(), 4, "{:?}", fake.counts());
    assert!(!fake.counts().keys().any(|k| k.contains("trees")));
    assert_eq!(json(&r)["updates"].as_array().map(Vec::len), Some(2));
}

#[test]
fn issue_4_default_branch_comes_from_the_api() {
    let fake = start();
    let r = bump(&fake, &["--files", "base/deployment.yaml", BACKEND]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(commits(&fake), 2);
}

#[test]
fn issue_4_cas_misses_reread_replan_and_land_once() {
    let fake = start();
    fake.faults().cas_misses = 3;
    let r = bump(&fake, &["--branch", "main", BACKEND]);
    assert_eq!(r.code, 0, "{r:?}");
    let v = json(&r);
    assert_eq!(v["attempts"], 4, "{v}");
    // initial + 3 competitors + ours
    assert_eq!(commits(&fake), 5);
    let ours = fake.repo().head("main").expect("main");
    assert_eq!(v["commit"].as_str(), Some(ours.as_str()));
    assert!(
        fake.repo()
            .read("main", "competitor.txt")
            .starts_with("competing commit")
    );
    // Each miss costs a re-read (listing + query), the history read again
    // (the racer's commit is in it now) and another mutation.
    assert!(fake.total() <= 5 + 3 * 4, "{:?}", fake.counts());
    assert_eq!(fake.operations().get("query FileHistory"), Some(&4));
}

#[test]
fn issue_4_racer_on_another_line_of_the_same_file_is_kept() {
    let fake = start();
    fake.faults().before_write.push_back(Box::new(|repo| {
        let text = repo.read("main", "base/deployment.yaml");
        let raced = text.replace("envoyproxy/envoy:v1.31.2", "envoyproxy/envoy:v1.32.0");
        assert_ne!(text, raced);
        repo.commit_on(
            "main",
            &[("base/deployment.yaml", raced.as_bytes())],
            "racer",
        );
    }));
    let r = bump(&fake, &["--branch", "main", BACKEND]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(json(&r)["attempts"], 2);
    let text = fake.repo().read("main", "base/deployment.yaml");
    assert!(
        text.contains("envoyproxy/envoy:v1.32.0"),
        "racer's line lost"
    );
    assert!(
        text.contains("ghcr.io/acme/backend:v1.4.0"),
        "our line missing"
    );
}

#[test]
fn issue_4_competitor_already_made_our_change_so_no_commit() {
    let fake = start();
    fake.faults().before_write.push_back(Box::new(|repo| {
        let text = repo.read("main", "base/deployment.yaml");
        let done = text.replace("ghcr.io/acme/backend:v1.3.0", "ghcr.io/acme/backend:v1.4.0");
        repo.commit_on(
            "main",
            &[("base/deployment.yaml", done.as_bytes())],
            "someone else",
        );
    }));
    let r = bump(
        &fake,
        &[
            "--branch",
            "main",
            "--files",
            "base/deployment.yaml",
            BACKEND,
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let v = json(&r);
    assert_eq!(v["changed"], false, "{v}");
    assert_eq!(v["commit"], Value::Null);
    assert_eq!(commits(&fake), 2, "only the competitor's commit");
}

#[test]
fn issue_4_server_error_burst_recovers() {
    let fake = start();
    fake.faults().server_errors.extend([502, 503, 502]);
    let r = bump(&fake, &["--branch", "main", BACKEND]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(commits(&fake), 2);
    assert!(r.stderr.contains("HTTP 502"), "{}", r.stderr);
}

#[test]
fn issue_4_lost_answer_after_the_write_landed_makes_no_second_commit() {
    let fake = start();
    fake.faults().drop_after_write = 1;
    let r = bump(&fake, &["--branch", "main", BACKEND]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(commits(&fake), 2, "exactly one commit of ours");
    let head = fake.repo().head("main").expect("main");
    assert_eq!(json(&r)["commit"].as_str(), Some(head.as_str()));
    assert!(
        r.stderr.contains("checking whether it landed"),
        "{}",
        r.stderr
    );
}

#[test]
fn issue_4_lost_answer_before_the_write_sends_it_again() {
    let fake = start();
    fake.faults().drop_before_write = 1;
    let r = bump(&fake, &["--branch", "main", BACKEND]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(commits(&fake), 2);
    // query, file history (issue #11), lost mutation, lookup of the lost
    // write, mutation again, verification
    assert_eq!(
        fake.counts().get("POST /graphql").copied().unwrap_or(0),
        6,
        "{:?}",
        fake.counts()
    );
}

#[test]
fn issue_4_rest_api_writes_with_fast_forward_only() {
    let fake = start();
    fake.faults().cas_misses = 1;
    let r = bump(&fake, &["--branch", "main", "--api", "rest", BACKEND]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(json(&r)["attempts"], 2);
    assert_eq!(commits(&fake), 3, "initial, competitor, ours");
    assert!(
        fake.repo()
            .read("main", "base/deployment.yaml")
            .contains("backend:v1.4.0")
    );
    assert_eq!(fake.counts().get("PATCH /git/refs/{ref}").copied(), Some(2));
}

#[test]
fn issue_4_primary_rate_limit_waits_for_the_reset() {
    let fake = start();
    fake.exhaust_rate_limit(2);
    let r = bump(&fake, &["--branch", "main", BACKEND]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("rate limit exhausted"), "{}", r.stderr);
    assert_eq!(commits(&fake), 2);
}

#[test]
fn issue_4_rate_limit_past_the_deadline_fails_at_once() {
    let fake = start();
    fake.exhaust_rate_limit(600);
    let r = bump(&fake, &["--branch", "main", "--deadline", "5s", BACKEND]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("past the --deadline of 5s"),
        "{}",
        r.stderr
    );
    assert_eq!(fake.total(), 1, "no retry storm");
}

#[test]
fn issue_4_secondary_rate_limit_honours_retry_after() {
    let fake = start();
    fake.faults().secondary_limits = 2;
    let r = bump(&fake, &["--branch", "main", BACKEND]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("secondary rate limit"), "{}", r.stderr);
    assert_eq!(commits(&fake), 2);
}

#[test]
fn issue_4_bad_credentials_fail_once_and_never_print_the_token() {
    let fake = start();
    let secret = "ghp_wrongTOKEN_do_not_print_me_42";
    let r = gitops_bump()
        .env("GITHUB_TOKEN", secret)
        .env("GITHUB_API_URL", &fake.api_url())
        .env("GITHUB_GRAPHQL_URL", &fake.graphql_url())
        .args([
            "set",
            "--no-verify",
            "--repo",
            "acme/gitops",
            "--branch",
            "main",
            BACKEND,
        ])
        .run();
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("401 Bad credentials"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "one line: {}", r.stderr);
    assert!(!r.stderr.contains(secret) && !r.stdout.contains(secret));
    assert_eq!(fake.total(), 1, "no retry");
    assert_eq!(commits(&fake), 1);
}

#[test]
fn issue_4_unreachable_api_names_no_token() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let r = gitops_bump()
        .env("GH_TOKEN", fake_github::TOKEN)
        .env("GITHUB_API_URL", &format!("http://127.0.0.1:{port}/api/v3"))
        .args([
            "set",
            "--no-verify",
            "--repo",
            "acme/gitops",
            "--branch",
            "main",
            "--max-attempts",
            "2",
            BACKEND,
        ])
        .run();
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("could not connect"), "{}", r.stderr);
    assert!(!r.stderr.contains(fake_github::TOKEN) && !r.stdout.contains(fake_github::TOKEN));
}

#[test]
fn issue_4_missing_repository_or_branch_is_a_clear_error() {
    let fake = start();
    for (repo, branch, expect) in [
        ("acme/nope", "main", "Could not resolve to a Repository"),
        ("acme/gitops", "nope", "not found"),
    ] {
        let r = gitops_bump()
            .env("GITHUB_TOKEN", fake_github::TOKEN)
            .env("GITHUB_API_URL", &fake.api_url())
            .env("GITHUB_GRAPHQL_URL", &fake.graphql_url())
            .args(["set", "--no-verify", "--repo", repo, "--branch", branch])
            .args(["--files", "base/deployment.yaml", BACKEND])
            .run();
        assert_eq!(r.code, 1, "{r:?}");
        assert!(r.stderr.contains(expect), "{}", r.stderr);
        assert!(r.stderr.contains("contents: read"), "{}", r.stderr);
        assert!(!r.stderr.contains(fake_github::TOKEN));
    }
    assert_eq!(fake.total(), 2, "no retries: {:?}", fake.counts());
}

#[test]
fn issue_4_no_token_is_a_usage_error() {
    let fake = start();
    let r = gitops_bump()
        .env("GITHUB_API_URL", &fake.api_url())
        .args(["set", "--no-verify", "--repo", "acme/gitops", BACKEND])
        .run();
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("GITHUB_TOKEN"), "{}", r.stderr);
    assert_eq!(fake.total(), 0);
}

#[test]
fn issue_4_dropped_commit_fails_verification_loudly() {
    let fake = start();
    fake.faults().drop_commits = 1;
    let r = bump(&fake, &["--branch", "main", BACKEND]);
    assert_eq!(r.code, 1, "{r:?}");
    let v = json(&r);
    let errors = v["errors"].to_string();
    assert!(errors.contains("gitops commit missing: commit"), "{errors}");
    assert!(errors.contains("does not hold the new content"), "{errors}");
    assert_eq!(commits(&fake), 1, "the branch never moved");
}

#[test]
fn issue_4_dropped_commit_in_text_output_says_gitops_commit_missing() {
    let fake = start();
    fake.faults().drop_commits = 1;
    let r = gitops_bump()
        .env("GITHUB_TOKEN", fake_github::TOKEN)
        .env("GITHUB_API_URL", &fake.api_url())
        .env("GITHUB_GRAPHQL_URL", &fake.graphql_url())
        .args([
            "set",
            "--no-verify",
            "--repo",
            "acme/gitops",
            "--branch",
            "main",
        ])
        .args(["--files", "base/deployment.yaml", BACKEND])
        .run();
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("error: gitops commit missing: commit "),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("error: gitops commit missing: base/deployment.yaml at main head"),
        "{}",
        r.stderr
    );
}

#[test]
fn issue_4_truncated_listings_and_texts_fall_back() {
    let fake = start();
    {
        let mut f = fake.faults();
        f.truncate_trees_over = Some(3);
        f.text_limit = Some(64);
    }
    let r = bump(&fake, &["--branch", "main", BACKEND]);
    assert_eq!(r.code, 0, "{r:?}");
    let v = json(&r);
    assert_eq!(v["updates"].as_array().map(Vec::len), Some(5), "{v}");
    let counts = fake.counts();
    assert!(counts["GET /git/trees/{sha}"] > 1, "{counts:?}");
    assert!(counts["GET /git/blobs/{sha}"] > 1, "{counts:?}");
    assert!(
        fake.repo()
            .read("main", "jobs/cronjob.yaml")
            .contains("backend:v1.4.0")
    );
}

#[test]
fn issue_4_every_graphql_document_is_valid_against_githubs_schema() {
    let Some(schema) = fake_github::graphql::schema() else {
        return; // `shared` printed "skipped: no oracles"
    };
    for (name, doc) in gitops_bump::backend::github::graphql::all_documents() {
        if let Err(e) = apollo_compiler::ExecutableDocument::parse_and_validate(
            schema,
            doc.as_str(),
            "doc.graphql",
        ) {
            panic!(
                "{name} is not valid against GitHub's schema:\n{}\n{doc}",
                e.errors
            );
        }
    }
}

#[test]
fn issue_4_an_invented_field_fails_validation() {
    let Some(schema) = fake_github::graphql::schema() else {
        return;
    };
    let doc = gitops_bump::backend::github::graphql::DEFAULT_BRANCH
        .replace("name }", "name inventedField }");
    assert!(
        apollo_compiler::ExecutableDocument::parse_and_validate(schema, doc, "doc.graphql")
            .is_err()
    );
}

/// A file with `n` services, `ghcr.io/acme/svc-N:v1`, in one Deployment.
pub(crate) fn fleet_file(n: usize) -> String {
    let mut out = String::from(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: fleet\nspec:\n  template:\n    spec:\n      containers:\n",
    );
    for i in 0..n {
        out.push_str(&format!(
            "        - name: svc-{i}\n          image: ghcr.io/acme/svc-{i}:v1 # keep this comment\n"
        ));
    }
    out
}

/// Runs `writers` concurrent `set` processes, writer i bumping svc-i to v2
/// in `fleet.yaml` (`same_file`) or in its own `svc-i.yaml`.
fn concurrent(writers: usize, same_file: bool) -> (FakeGitHub, Vec<Run>) {
    concurrent_with(writers, same_file, |_| {})
}

/// [`concurrent`], with `setup` run on the fake before the writers start
/// (fault knobs).
pub(crate) fn concurrent_with(
    writers: usize,
    same_file: bool,
    setup: impl FnOnce(&FakeGitHub),
) -> (FakeGitHub, Vec<Run>) {
    let tmp = tempfile::tempdir().expect("tempdir");
    if same_file {
        std::fs::write(tmp.path().join("fleet.yaml"), fleet_file(writers)).expect("write");
    } else {
        for i in 0..writers {
            let one = fleet_file(writers)
                .lines()
                .filter(|l| {
                    !l.contains("svc-")
                        || l.contains(&format!("svc-{i}:"))
                        || l.ends_with(&format!("svc-{i}"))
                })
                .collect::<Vec<_>>()
                .join("\n");
            std::fs::write(tmp.path().join(format!("svc-{i}.yaml")), one + "\n").expect("write");
        }
    }
    let fake = FakeGitHub::start(tmp.path());
    setup(&fake);
    let runs = std::thread::scope(|s| {
        let handles: Vec<_> = (0..writers)
            .map(|i| {
                let fake = &fake;
                s.spawn(move || {
                    bump(
                        fake,
                        &["--branch", "main", &format!("ghcr.io/acme/svc-{i}:v2")],
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("writer thread"))
            .collect()
    });
    (fake, runs)
}

#[test]
fn issue_4_sixteen_concurrent_writers_same_file_all_land() {
    let (fake, runs) = concurrent(16, true);
    for r in &runs {
        assert_eq!(r.code, 0, "{r:?}");
        assert_eq!(json(r)["changed"], true);
    }
    let text = fake.repo().read("main", "fleet.yaml");
    for i in 0..16 {
        assert!(
            text.contains(&format!(
                "image: ghcr.io/acme/svc-{i}:v2 # keep this comment\n"
            )),
            "svc-{i} lost:\n{text}"
        );
    }
    assert_eq!(commits(&fake), 17, "exactly 16 new commits");
}

#[test]
fn issue_4_sixteen_concurrent_writers_different_files_all_land() {
    let (fake, runs) = concurrent(16, false);
    for r in &runs {
        assert_eq!(r.code, 0, "{r:?}");
    }
    for i in 0..16 {
        let text = fake.repo().read("main", &format!("svc-{i}.yaml"));
        assert!(text.contains(&format!("ghcr.io/acme/svc-{i}:v2")), "{text}");
    }
    assert_eq!(commits(&fake), 17);
}

/// The numbers behind `scripts/bench-github`: API requests and wall time for
/// one uncontended bump, for 1/4/16 concurrent writers on one file, and for
/// 8 writers each losing a race after the compare-and-swap check passed
/// (commits counts ours only, not the racers').
/// Prints a markdown table; asserts only that every writer landed.
#[test]
#[ignore = "benchmark: run with scripts/bench-github"]
fn bench_github() {
    use std::time::Instant;
    // Parse GitHub's schema (the fake validates every document) before timing.
    let _ = fake_github::graphql::schema();
    println!(
        "| scenario | writers | exit 0 | commits | API requests (total) | attempts per writer (min/mean/max) | wall time |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (name, args) in [
        (
            "uncontended, `--files` globs",
            vec!["--branch", "main", BACKEND],
        ),
        (
            "uncontended, exact `--files` path",
            vec![
                "--branch",
                "main",
                "--files",
                "base/deployment.yaml",
                BACKEND,
            ],
        ),
    ] {
        let fake = start();
        let t = Instant::now();
        let r = bump(&fake, &args);
        let wall = t.elapsed();
        assert_eq!(r.code, 0, "{r:?}");
        println!(
            "| {name} | 1 | 1/1 | {} | {} | {} | {:.0} ms |",
            commits(&fake) - 1,
            fake.total(),
            json(&r)["attempts"],
            wall.as_secs_f64() * 1000.0
        );
    }
    {
        // Pull-request mode: the first run opens, a second tag updates, the
        // same tag again writes nothing, and once the base holds the bump
        // (a direct `set`, not counted) the pull request is closed.
        let fake = start();
        let v15 = "ghcr.io/acme/backend:v1.5.0";
        for (name, image, commits, action) in [
            (
                "`--pull-request`, opens",
                BACKEND,
                "1 on the PR branch",
                "opened",
            ),
            (
                "`--pull-request`, another tag updates",
                v15,
                "1 on the PR branch",
                "updated",
            ),
            (
                "`--pull-request`, same tag: already up to date",
                v15,
                "0",
                "up_to_date",
            ),
            (
                "`--pull-request`, base holds it: closes (issue #14)",
                v15,
                "0",
                "closed",
            ),
        ] {
            if action == "closed" {
                assert_eq!(bump(&fake, &["--branch", "main", v15]).code, 0);
            }
            let before = fake.total();
            let t = Instant::now();
            let r = bump(&fake, &["--branch", "main", "--pull-request", image]);
            let wall = t.elapsed();
            assert_eq!(r.code, 0, "{r:?}");
            assert_eq!(json(&r)["pull_request"]["action"], action, "{r:?}");
            println!(
                "| {name} | 1 | 1/1 | {commits} | {} | {} | {:.0} ms |",
                fake.total() - before,
                json(&r)["attempts"],
                wall.as_secs_f64() * 1000.0
            );
        }
    }
    for (writers, lost_races) in [(1, 0), (4, 0), (16, 0), (8, 8)] {
        let t = Instant::now();
        let (fake, runs) =
            concurrent_with(writers, true, |fake| fake.faults().lost_races = lost_races);
        let wall = t.elapsed();
        let ok = runs.iter().filter(|r| r.code == 0).count();
        let attempts: Vec<u64> = runs
            .iter()
            .filter_map(|r| serde_json::from_str::<Value>(&r.stdout).ok())
            .filter_map(|v| v["attempts"].as_u64())
            .collect();
        let (min, max) = (
            attempts.iter().min().copied().unwrap_or(0),
            attempts.iter().max().copied().unwrap_or(0),
        );
        let mean = attempts.iter().sum::<u64>() as f64 / attempts.len().max(1) as f64;
        let scenario = if lost_races > 0 {
            format!("concurrent, same file, {lost_races} lost races (issue #13)")
        } else {
            "concurrent, same file".to_owned()
        };
        println!(
            "| {scenario} | {writers} | {ok}/{writers} | {} | {} | {min}/{mean:.1}/{max} | {:.0} ms |",
            commits(&fake) - 1 - lost_races,
            fake.total(),
            wall.as_secs_f64() * 1000.0
        );
        assert_eq!(ok, writers);
        assert_eq!(commits(&fake) - 1 - lost_races, writers);
    }
}

#[test]
fn issue_4_dry_run_reads_and_writes_nothing() {
    let fake = start();
    let r = bump(&fake, &["--branch", "main", "--dry-run", BACKEND]);
    assert_eq!(r.code, 0, "{r:?}");
    let v = json(&r);
    assert_eq!(
        (v["changed"].as_bool(), v["commit"].is_null()),
        (Some(true), true)
    );
    assert!(
        v["diff"]
            .as_str()
            .is_some_and(|d| d.contains("+    newTag: v1.4.0"))
    );
    assert_eq!(
        fake.total(),
        3,
        "listing, file query and the files' history (issue #11) only"
    );
    assert_eq!(commits(&fake), 1);
}

const PR_BRANCH: &str = "gitops-bump/main/ghcr.io-acme-backend";

/// Commits on `branch` that main lacks, newest first.
fn ahead_of_main(fake: &FakeGitHub, branch: &str) -> Vec<String> {
    let main = fake.repo().head("main").expect("main");
    let head = fake.repo().head(branch).expect("branch");
    fake.repo().range(&main, &head)
}

#[test]
fn issue_4_pull_request_opens_then_updates_the_same_one() {
    let fake = start();
    let main = fake.repo().head("main").expect("main");
    let r = bump(&fake, &["--branch", "main", "--pull-request", BACKEND]);
    assert_eq!(r.code, 0, "{r:?}");
    let v = json(&r);
    let pr = &v["pull_request"];
    assert_eq!(pr["created"], true, "{v}");
    assert_eq!(pr["number"], 1);
    assert_eq!(pr["url"], "https://github.com/acme/gitops/pull/1");
    assert_eq!(pr["branch"], PR_BRANCH);
    // One commit on the base head, and it is the one reported.
    let head = fake.repo().head(PR_BRANCH).expect("branch created");
    assert_eq!(v["commit"].as_str(), Some(head.as_str()));
    assert_eq!(fake.repo().parents(&head), std::slice::from_ref(&main));
    assert!(
        fake.repo()
            .read(PR_BRANCH, "base/deployment.yaml")
            .contains("ghcr.io/acme/backend:v1.4.0")
    );
    let pulls = fake.pulls();
    assert_eq!(pulls.len(), 1);
    assert_eq!(
        (pulls[0].head.as_str(), pulls[0].base.as_str()),
        (PR_BRANCH, "main")
    );
    assert!(pulls[0].title.contains("v1.4.0"), "{}", pulls[0].title);
    assert!(
        pulls[0].body.contains("| `base/deployment.yaml:")
            && pulls[0].body.contains("`v1.3.0` → `v1.4.0`"),
        "{}",
        pulls[0].body
    );

    // Another tag: the same branch, re-created with one commit, and the same
    // pull request, retitled. Never a second one.
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
    let v = json(&r);
    assert_eq!(v["pull_request"]["created"], false, "{v}");
    assert_eq!(v["pull_request"]["number"], 1);
    let pulls = fake.pulls();
    assert_eq!(pulls.len(), 1, "no duplicate: {pulls:?}");
    assert!(pulls[0].title.contains("v1.5.0"), "{}", pulls[0].title);
    assert!(pulls[0].body.contains("`v1.3.0` → `v1.5.0`"));
    assert_eq!(ahead_of_main(&fake, PR_BRANCH).len(), 1);
    let text = fake.repo().read(PR_BRANCH, "base/deployment.yaml");
    assert!(text.contains("ghcr.io/acme/backend:v1.5.0") && !text.contains("v1.4.0"));

    // The same again: nothing to write, the pull request is left as is.
    let before = fake.repo().head(PR_BRANCH);
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
    assert_eq!(fake.repo().head(PR_BRANCH), before, "no new commit");
    assert_eq!(json(&r)["pull_request"]["number"], 1);

    // The base branch was never written.
    assert_eq!(fake.repo().head("main"), Some(main));
    assert_eq!(commits(&fake), 1);
}

#[test]
fn issue_4_pull_request_branch_is_recreated_on_the_moved_base() {
    let fake = start();
    let r = bump(&fake, &["--branch", "main", "--pull-request", BACKEND]);
    assert_eq!(r.code, 0, "{r:?}");
    let moved = fake
        .repo()
        .commit_on("main", &[("README.md", b"moved on\n")], "unrelated");
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
    let head = fake.repo().head(PR_BRANCH).expect("branch");
    assert_eq!(
        fake.repo().parents(&head),
        [moved],
        "one commit on the new base"
    );
    assert_eq!(fake.pulls().len(), 1);
    assert_eq!(fake.pulls()[0].state, "OPEN");
}

#[test]
fn issue_4_pull_request_branch_with_someone_elses_commit_is_left_alone() {
    let fake = start();
    let r = bump(&fake, &["--branch", "main", "--pull-request", BACKEND]);
    assert_eq!(r.code, 0, "{r:?}");
    let theirs = fake
        .repo()
        .commit_on(PR_BRANCH, &[("NOTES.md", b"hand edit\n")], "fix by hand");
    let r = bump(
        &fake,
        &[
            "--branch",
            "main",
            "--pull-request",
            "ghcr.io/acme/backend:v1.5.0",
        ],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("gitops-bump did not make"),
        "{}",
        r.stderr
    );
    assert_eq!(fake.repo().head(PR_BRANCH), Some(theirs));
}

#[test]
fn issue_4_pull_request_closed_by_hand_is_opened_anew() {
    let fake = start();
    let r = bump(&fake, &["--branch", "main", "--pull-request", BACKEND]);
    assert_eq!(r.code, 0, "{r:?}");
    fake.close_pull(1);
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
    assert_eq!(json(&r)["pull_request"]["number"], 2);
    assert_eq!(json(&r)["pull_request"]["created"], true);
}

#[test]
fn issue_4_pull_request_concurrent_runs_share_one_pull_request() {
    let fake = start();
    let runs: Vec<Run> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let fake = &fake;
                s.spawn(move || bump(fake, &["--branch", "main", "--pull-request", BACKEND]))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("writer thread"))
            .collect()
    });
    for r in &runs {
        assert_eq!(r.code, 0, "{r:?}");
    }
    assert_eq!(fake.pulls().len(), 1, "{:?}", fake.pulls());
    assert_eq!(
        runs.iter()
            .filter(|r| json(r)["pull_request"]["created"] == true)
            .count(),
        1
    );
    assert_eq!(ahead_of_main(&fake, PR_BRANCH).len(), 1);
    assert_eq!(commits(&fake), 1, "main untouched");
}

#[test]
fn issue_4_pull_request_url_is_an_action_output() {
    let fake = start();
    let tmp = tempfile::tempdir().expect("tempdir");
    let output = tmp.path().join("output");
    // The runner creates the file; steps only append to it.
    std::fs::write(&output, "").expect("create $GITHUB_OUTPUT");
    let r = gitops_bump()
        .env("GITHUB_TOKEN", fake_github::TOKEN)
        .env("GITHUB_API_URL", &fake.api_url())
        .env("GITHUB_GRAPHQL_URL", &fake.graphql_url())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &output.display().to_string())
        .args(["set", "--no-verify", "--repo", "acme/gitops"])
        .args(["--branch", "main", "--pull-request", BACKEND])
        .run();
    assert_eq!(r.code, 0, "{r:?}");
    let text = std::fs::read_to_string(&output).expect("outputs written");
    let url = "https://github.com/acme/gitops/pull/1";
    let line = text
        .lines()
        .position(|l| l.starts_with("pull-request-url"))
        .expect("pull-request-url output");
    assert!(
        text.lines().skip(line).take(2).any(|l| l.ends_with(url)),
        "{text}"
    );
    assert!(
        r.stdout
            .contains(&format!("opened pull request #1 from {PR_BRANCH}: {url}")),
        "{}",
        r.stdout
    );
}

#[test]
fn issue_4_pull_request_without_permission_names_pull_requests_write() {
    for status in [403, 200] {
        let fake = start();
        fake.faults().forbid_pull_requests = Some(status);
        let r = bump(&fake, &["--branch", "main", "--pull-request", BACKEND]);
        assert_eq!(r.code, 1, "{r:?}");
        assert!(
            r.stderr.contains("`pull-requests: write`")
                && r.stderr.contains("Resource not accessible by integration"),
            "{status}: {}",
            r.stderr
        );
        assert!(!r.stderr.contains("contents: write"), "{}", r.stderr);
        assert_eq!(
            r.stderr.lines().count(),
            1,
            "one line, no retries: {}",
            r.stderr
        );
        assert!(fake.pulls().is_empty());
        assert_eq!(commits(&fake), 1, "main untouched");
    }
}

#[test]
fn issue_4_dry_run_shows_what_would_be_verified() {
    let fake = start();
    let main = fake.repo().head("main").expect("main");
    let r = bump(
        &fake,
        &[
            "--branch",
            "main",
            "--files",
            "base/deployment.yaml",
            "--dry-run",
            BACKEND,
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let v = json(&r);
    let verify = &v["verify"];
    assert_eq!(verify["target"], "main", "{v}");
    assert_eq!(verify["head"].as_str(), Some(main.as_str()));
    let checks = verify["checks"].as_array().expect("checks");
    assert_eq!(checks.len(), 2, "{verify}");
    for c in checks {
        assert_eq!(c["file"], "base/deployment.yaml");
        assert!(c["line"].as_u64().is_some_and(|l| l > 0));
        assert!(
            c["text"].as_str().is_some_and(|t| t.contains("v1.4.0")),
            "{c}"
        );
    }
    assert!(
        verify["conditions"][0]
            .as_str()
            .is_some_and(|c| c.contains("ancestor"))
    );
    assert_eq!(
        fake.total(),
        2,
        "one file query, the file's history (issue #11), no write"
    );

    // Text output, and pull-request mode: the branch and the pull request.
    let r = gitops_bump()
        .env("GITHUB_TOKEN", fake_github::TOKEN)
        .env("GITHUB_API_URL", &fake.api_url())
        .env("GITHUB_GRAPHQL_URL", &fake.graphql_url())
        .args([
            "set",
            "--no-verify",
            "--repo",
            "acme/gitops",
            "--branch",
            "main",
        ])
        .args([
            "--files",
            "base/deployment.yaml",
            "--dry-run",
            "--pull-request",
            BACKEND,
        ])
        .run();
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains(&format!(
            "would verify {PR_BRANCH} (read at {})",
            &main[..12]
        )),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("  base/deployment.yaml:")
            && r.stdout.contains("ghcr.io/acme/backend:v1.4.0"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(&format!(
            "the pull request from {PR_BRANCH} into main is open"
        )),
        "{}",
        r.stdout
    );
    assert!(fake.repo().head(PR_BRANCH).is_none() && fake.pulls().is_empty());
}

#[test]
fn issue_4_pull_request_is_for_graphql_and_repos_only() {
    let fake = start();
    let r = bump(
        &fake,
        &[
            "--branch",
            "main",
            "--pull-request",
            "--api",
            "rest",
            BACKEND,
        ],
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("--pull-request needs --api graphql"),
        "{}",
        r.stderr
    );
    assert_eq!(fake.total(), 0);
}

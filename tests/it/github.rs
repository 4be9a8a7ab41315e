//! `set --repo` end to end: the real binary against the fake GitHub
//! (`fake_github`), which is backed by a real Git repository. Covers the
//! request budget, compare-and-swap retries, lost answers, rate limits,
//! permission errors, verification failures and concurrent writers.
//! See: issue #4.

use std::path::Path;

use serde_json::Value;

use crate::common::{Run, gitops_bump};
use crate::fake_github::{self, FakeGitHub};

const BACKEND: &str = "ghcr.io/acme/backend:v1.4.0";

fn start() -> FakeGitHub {
    FakeGitHub::start(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/gitops"))
}

/// `gitops-bump set --no-verify --repo acme/gitops --output json ARGS`
/// against `fake`, with the token in the environment only.
fn bump(fake: &FakeGitHub, args: &[&str]) -> Run {
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

fn json(r: &Run) -> Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {r:?}"))
}

fn commits(fake: &FakeGitHub) -> usize {
    fake.repo().history("refs/heads/main", 10_000).len()
}

#[test]
fn issue_4_uncontended_set_commits_once_within_four_requests() {
    let fake = start();
    let r = bump(&fake, &["--branch", "main", BACKEND]);
    assert_eq!(r.code, 0, "{r:?}");
    let v = json(&r);
    assert_eq!(v["changed"], true);
    assert_eq!(v["attempts"], 1);
    let head = fake.repo().head("main").expect("main");
    assert_eq!(v["commit"].as_str(), Some(head.as_str()));
    assert!(fake.total() <= 4, "{:?}", fake.counts());
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

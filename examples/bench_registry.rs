//! Registry benchmark (`scripts/bench-registry`): against the real local
//! distribution registry with 60 repositories × 150 tags, run `explain`'s
//! selection for all 60 through the same code path the command uses
//! ([`gitops_bump::resolve::select::select_from_registry`]): list every tag
//! (following `Link` pages), select with the real policy module
//! (`semver:*`), HEAD the winner and GET its index for the platforms.
//! Counts HTTP requests and times the whole selection (not the pushes).
//!
//! Runs twice: through a proxy that pages tag lists at 100 like GHCR and
//! Docker Hub (2 pages per repository), and against the registry directly
//! (registry 2.8 returns every tag in one page).

#![allow(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used)]

#[allow(unused_imports)]
#[path = "../tests/it/registry_support.rs"]
mod registry_support;

use std::time::{Duration, Instant};

use gitops_bump::policy::{Policy, TagFilter};
use gitops_bump::reference::Repository;
use gitops_bump::registry::{Client, Platform, RegistryOptions};
use gitops_bump::resolve::select::{Query, select_from_registry};
use registry_support::{PagingProxy, Registry, block_on};

const REPOSITORIES: usize = 60;
const TAGS: usize = 150;
const PAGE: usize = 100;

fn main() {
    let reg = Registry::start();
    let started = Instant::now();
    block_on(async {
        let p = reg.pusher();
        // The newest version is a two-platform index; the rest are single
        // images. Patch numbers run past 99 so byte order and semver order
        // disagree (1.0.99 > 1.0.148 byte-wise): only a real semver policy
        // finds 1.1.0.
        let tags: Vec<String> = (0..TAGS - 1).map(|i| format!("1.0.{i}")).collect();
        let newest = "1.1.0".to_owned();
        for r in 0..REPOSITORIES {
            let repo = format!("bench/app-{r:02}");
            p.many_tags(&repo, &tags, 8).await;
            // A distinct build time per repository gives every index its own
            // digest, so the per-digest cache cannot hide index fetches.
            let created = format!("2024-01-01T00:{:02}:00Z", r % 60);
            p.index(&repo, &newest, &["linux/amd64", "linux/arm64"], &created)
                .await;
        }
    });
    println!(
        "pushed {REPOSITORIES} repositories × {TAGS} tags in {:.1} s (not timed below)",
        started.elapsed().as_secs_f64()
    );
    let proxy = PagingProxy::start(&reg.host(), PAGE, false);
    let mut ok = true;
    for (label, host, pages_per_repo) in [
        (
            "paged at 100 (GHCR/Hub-like)",
            proxy.host(),
            TAGS.div_ceil(PAGE),
        ),
        ("registry direct (one page)", reg.host(), 1),
    ] {
        let (elapsed, requests) = run(&host);
        let pages = pages_per_repo * REPOSITORIES;
        let budget = pages + 2 * REPOSITORIES;
        let pass = requests as usize <= budget && elapsed < Duration::from_secs(2);
        ok &= pass;
        println!(
            "{label}: {REPOSITORIES} repositories selected (semver:*, 2 platforms) in {:.3} s; {requests} requests \
             (budget: {pages} tag pages + 2 × {REPOSITORIES} = {budget}; target < 2 s) {}",
            elapsed.as_secs_f64(),
            if pass { "PASS" } else { "FAIL" }
        );
    }
    if !ok {
        std::process::exit(1);
    }
}

/// Selects a tag for every repository through a fresh client, as `explain`
/// does; returns the wall time and the number of HTTP requests.
fn run(host: &str) -> (Duration, u64) {
    let client = Client::new(RegistryOptions {
        insecure: vec![host.to_owned()],
        use_docker_config: false,
        ..RegistryOptions::default()
    })
    .unwrap();
    let policy = Policy::parse("semver:*").unwrap();
    let filter = TagFilter::new(None, None).unwrap();
    let want = Platform::parse_list("linux/amd64,linux/arm64").unwrap();
    let started = Instant::now();
    block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for r in 0..REPOSITORIES {
            let (client, policy, filter, want) =
                (client.clone(), policy.clone(), filter.clone(), want.clone());
            let repo = Repository::parse(&format!("{host}/bench/app-{r:02}")).unwrap();
            set.spawn(async move {
                let query = Query {
                    policy: &policy,
                    filter: &filter,
                    platforms: &want,
                    max_candidates: 100,
                    digest: true,
                };
                let out = select_from_registry(&client, &repo, query).await.unwrap();
                assert_eq!(out.selection.candidates.len(), TAGS);
                assert_eq!(out.selection.winner.as_deref(), Some("1.1.0"));
                assert!(out.digest.is_some());
            });
        }
        while let Some(r) = set.join_next().await {
            r.unwrap();
        }
    });
    (started.elapsed(), client.stats().requests)
}

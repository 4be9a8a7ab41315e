//! Registry benchmark (`scripts/bench-registry`): against the real local
//! distribution registry with 60 repositories × 150 tags, resolve all 60 the
//! way `sync`/`explain` will: list every tag (following `Link` pages), pick
//! the winner, HEAD it, and GET its index for the platforms. Counts HTTP
//! requests and times the whole resolution (not the image pushes).
//!
//! The policy module is not merged yet, so the winner is the
//! alphabetically greatest tag, a stand-in for a real policy.
//!
//! Runs twice: through a proxy that pages tag lists at 100 like GHCR and
//! Docker Hub (2 pages per repository), and against the registry directly
//! (registry 2.8 returns every tag in one page).

#![allow(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used)]

#[allow(unused_imports)]
#[path = "../tests/it/registry_support.rs"]
mod registry_support;

use std::time::{Duration, Instant};

use gitops_bump::reference::Repository;
use gitops_bump::registry::{Client, Platform, RegistryOptions};
use registry_support::{PagingProxy, Registry, block_on};

const REPOSITORIES: usize = 60;
const TAGS: usize = 150;
const PAGE: usize = 100;

fn main() {
    let reg = Registry::start();
    let started = Instant::now();
    block_on(async {
        let p = reg.pusher();
        // The greatest tag is a two-platform index; the rest single images.
        let tags: Vec<String> = (0..TAGS - 1).map(|i| format!("t-{i:03}")).collect();
        let newest = format!("t-{:03}", TAGS - 1);
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
            "{label}: {REPOSITORIES} repositories resolved in {:.3} s; {requests} requests \
             (budget: {pages} tag pages + 2 × {REPOSITORIES} = {budget}; target < 2 s) {}",
            elapsed.as_secs_f64(),
            if pass { "PASS" } else { "FAIL" }
        );
    }
    if !ok {
        std::process::exit(1);
    }
}

/// Resolves every repository through a fresh client; returns the wall time
/// and the number of HTTP requests.
fn run(host: &str) -> (Duration, u64) {
    let client = Client::new(RegistryOptions {
        insecure: vec![host.to_owned()],
        use_docker_config: false,
        ..RegistryOptions::default()
    })
    .unwrap();
    let want = [
        Platform::parse("linux/amd64").unwrap(),
        Platform::parse("linux/arm64").unwrap(),
    ];
    let started = Instant::now();
    block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for r in 0..REPOSITORIES {
            let (client, want) = (client.clone(), want.clone());
            let repo = Repository::parse(&format!("{host}/bench/app-{r:02}")).unwrap();
            set.spawn(async move {
                let tags = client.list_tags(&repo).await.unwrap();
                assert_eq!(tags.len(), TAGS);
                let winner = tags.iter().max().unwrap();
                let resolved = client.resolve(&repo, winner).await.unwrap();
                let platforms = client.platforms(&repo, &resolved.digest).await.unwrap();
                assert!(want.iter().all(|p| platforms.contains(p)));
            });
        }
        while let Some(r) = set.join_next().await {
            r.unwrap();
        }
    });
    (started.elapsed(), client.stats().requests)
}

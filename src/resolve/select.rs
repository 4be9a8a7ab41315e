//! Selection against the registry: which tag a policy selects for a
//! repository, with the registry's tags, build times and platforms. Used by
//! `explain` and, per tracked image, by `sync`.
//!
//! Owns the order of registry look-ups for a selection, so that it stays
//! cheap: one tag listing, build times only for `newest-build` and only for
//! tags that survive the filters, then HEAD plus one index read per ranked
//! tag tried, winner first. Does not own tag ordering (`policy`) or HTTP
//! (`registry`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::policy::{self, DropReason, Policy, PolicyError, Selection, TagFilter, WarningCode};
use crate::reference::Repository;
use crate::registry::{Client, Platform, RegistryError};

/// Below this many requests of Docker Hub quota left, `explain` warns: a
/// `newest-build` selection alone can spend that many.
pub const LOW_RATE_LIMIT: u64 = 20;

/// What to ask the registry for: the compiled policy and what the winner
/// must provide.
#[derive(Clone, Copy, Debug)]
pub struct Query<'a> {
    /// The policy.
    pub policy: &'a Policy,
    /// Exclusions, filter and extract template.
    pub filter: &'a TagFilter,
    /// Platforms the winner must provide; empty means any.
    pub platforms: &'a [Platform],
    /// Most tags checked against the registry: build times fetched, and
    /// ranked tags tried for platforms. At least 1.
    pub max_candidates: usize,
    /// Resolve the winner's digest even when no platform is required.
    pub digest: bool,
}

/// A selection made with the registry.
#[derive(Debug)]
pub struct RegistrySelection {
    /// The explained selection, platform drops and registry warnings included.
    pub selection: Selection,
    /// The winner's digest (the index for a multi-arch tag), when asked
    /// for or when platforms were checked.
    pub digest: Option<String>,
    /// Tags ranked above the winner that lack a required platform, best
    /// first, with the platforms each lacks.
    pub lacking: Vec<(String, String)>,
}

/// Lists `repo`'s tags, selects with the policy and checks the winner:
/// when platforms are required, reads its manifest by tag (one GET gives
/// the digest and the index); a winner lacking a platform is dropped
/// ([`DropReason::PlatformMissing`]) and the next ranked tag is tried, at
/// most `max_candidates` times. Without platforms, the digest comes from
/// one HEAD, and only when `query.digest` asks for it. For `newest-build`, fetches build times
/// first, for at most `max_candidates` of the tags that survive the filters.
///
/// Registry failures (unknown repository, unauthorized, unreachable) are
/// errors; a policy that selects nothing is a selection without a winner.
pub async fn select_from_registry(
    client: &Client,
    repo: &Repository,
    query: Query<'_>,
) -> Result<RegistrySelection, RegistryError> {
    let listed = client.list_tags(repo).await?;
    // Flux's scan order makes the result independent of how tags were listed.
    let ordered = policy::flux_scan_order(&listed);
    let mut selection = match query.policy {
        Policy::NewestBuild => select_newest_build(client, repo, query, &listed, &ordered).await?,
        policy => policy::select(policy, query.filter, &ordered, None),
    };
    let mut digest = None;
    let mut lacking = Vec::new();
    let mut tried = 0;
    while let Some(winner) = selection.winner.clone() {
        if tried == query.max_candidates {
            let cap = query.max_candidates;
            selection.add_warning(
                WarningCode::CandidateCap,
                format!("stopped after trying {cap} ranked tags for platforms {}; --max-candidates {cap} cut the search", super::platforms::joined(query.platforms)),
            );
            selection.fail(PolicyError::CandidateCapReached { cap });
            break;
        }
        tried += 1;
        if query.platforms.is_empty() {
            // HEAD only (free on Docker Hub), and only when the digest is wanted.
            if query.digest {
                digest = Some(client.digest_of(repo, &winner).await?.digest);
            }
            break;
        }
        // One GET gives the digest and the index together.
        let (resolved, _) = client.tag_manifest(repo, &winner).await?;
        let have = client.platforms(repo, &resolved.digest).await?;
        let missing = super::platforms::missing(&have, query.platforms);
        if !missing.is_empty() {
            let missing: Vec<String> = missing.iter().map(ToString::to_string).collect();
            lacking.push((winner.clone(), missing.join(", ")));
            selection.drop_tag(&winner, DropReason::PlatformMissing(missing.join(", ")));
            continue;
        }
        digest = Some(resolved.digest);
        break;
    }
    if let Some(w) = rate_limit_warning(client.stats().ratelimit_remaining) {
        selection.add_warning(WarningCode::RateLimitLow, w);
    }
    Ok(RegistrySelection {
        selection,
        digest,
        lacking,
    })
}

/// The warning for Docker Hub's `ratelimit-remaining`, when it is low.
pub fn rate_limit_warning(remaining: Option<u64>) -> Option<String> {
    let n = remaining.filter(|&n| n < LOW_RATE_LIMIT)?;
    Some(format!(
        "the registry reports {n} pulls left in its rate limit (ratelimit-remaining); every manifest GET counts against it (HEAD does not), and newest-build reads up to two per tag, so log in (docker login) or lower --max-candidates"
    ))
}

/// newest-build: learns which tags survive the filters (a selection without
/// build times drops exactly those as [`DropReason::NoBuildTime`]), fetches
/// build times for at most `max_candidates` of them, concurrently (the client
/// caps requests per host and caches configs per digest), and selects again.
///
/// When the cap cuts, the tags listed *last* by the registry are kept: GHCR
/// lists oldest first, and registries that list in byte order put the
/// greatest (for time-stamped names, the newest) last.
async fn select_newest_build(
    client: &Client,
    repo: &Repository,
    query: Query<'_>,
    listed: &[String],
    ordered: &[String],
) -> Result<Selection, RegistryError> {
    let probe = policy::select(query.policy, query.filter, ordered, None);
    let surviving: HashSet<&str> = probe
        .candidates
        .iter()
        .filter(|c| c.status == policy::Status::Dropped(DropReason::NoBuildTime))
        .map(|c| c.tag.as_str())
        .collect();
    let survivors: Vec<&String> = listed
        .iter()
        .filter(|t| surviving.contains(t.as_str()))
        .collect();
    let cut = survivors.len().saturating_sub(query.max_candidates);
    let fetch = &survivors[cut..];
    let mut tasks = tokio::task::JoinSet::new();
    let platform: Option<Arc<Platform>> = query.platforms.first().cloned().map(Arc::new);
    for tag in fetch {
        let (client, repo, tag, platform) = (
            client.clone(),
            repo.clone(),
            (*tag).clone(),
            platform.clone(),
        );
        tasks.spawn(async move {
            let time = build_time(&client, &repo, &tag, platform.as_deref()).await;
            (tag, time)
        });
    }
    let mut times: HashMap<String, i64> = HashMap::new();
    while let Some(joined) = tasks.join_next().await {
        let (tag, time) = joined.map_err(|e| RegistryError::Protocol {
            registry: crate::registry::api_host(repo.domain()),
            message: format!("build time look-up failed: {e}"),
        })?;
        if let Some(t) = time? {
            times.insert(tag, t);
        }
    }
    let lookup = |tag: &str| times.get(tag).copied();
    let mut selection = policy::select(query.policy, query.filter, ordered, Some(&lookup));
    if cut > 0 {
        let cap = query.max_candidates;
        let skipped: HashSet<&str> = survivors[..cut].iter().map(|t| t.as_str()).collect();
        for c in &mut selection.candidates {
            if skipped.contains(c.tag.as_str()) {
                c.status = policy::Status::Dropped(DropReason::BeyondCandidateCap { cap });
            }
        }
        selection.add_warning(
            WarningCode::CandidateCap,
            format!(
                "{} tags passed the filters, but build times were fetched for only {cap} of them (the last listed) because of --max-candidates {cap}; a newer build may be among the other {cut}; narrow the tags with --filter or raise --max-candidates",
                survivors.len()
            ),
        );
    }
    Ok(selection)
}

/// A tag's build time in Unix seconds: its config's `created`, for
/// `platform`'s child when the tag is an index that has it. `None` when the
/// tag vanished since listing or its config has no readable `created`.
async fn build_time(
    client: &Client,
    repo: &Repository,
    tag: &str,
    platform: Option<&Platform>,
) -> Result<Option<i64>, RegistryError> {
    let digest = match client.digest_of(repo, tag).await {
        Ok(r) => r.digest,
        Err(RegistryError::TagNotFound { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut created = client.created(repo, &digest, platform).await?;
    if created.is_none() && platform.is_some() {
        // The index lacks the platform; the platform check will drop the
        // tag if it wins, with that reason rather than "no build time".
        created = client.created(repo, &digest, None).await?;
    }
    Ok(created.as_deref().and_then(policy::order::parse_rfc3339))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_rate_limits_warn() {
        assert_eq!(rate_limit_warning(None), None);
        assert_eq!(rate_limit_warning(Some(LOW_RATE_LIMIT)), None);
        let w = rate_limit_warning(Some(3)).expect("warns");
        assert!(w.contains("3 pulls left"), "{w}");
    }
}

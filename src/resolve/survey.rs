//! The registry side of `sync`: for every distinct question the tracked
//! references ask (this repository, this rule, these platforms), what the
//! policy selects, asked once and concurrently, plus build times for the
//! tags that turn out to be behind. The client's caches make a tag listing
//! one request per repository for the whole run, and a tag's manifest one
//! request however many questions need it.
//!
//! Owns which registry questions a survey asks; does not own what the
//! answers mean for a reference (`drift`).

use std::collections::HashMap;
use std::sync::Arc;

use super::select::{Query, RegistrySelection, select_from_registry};
use crate::policy::{Policy, TagFilter};
use crate::reference::Repository;
use crate::registry::{Client, Platform, RegistryError};

/// One question: what `policy` selects for `repository`, with `platforms`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    /// The repository.
    pub repository: Repository,
    /// The rule's index (rules are the policies of one snapshot).
    pub rule: usize,
    /// Platforms the selected tag must provide, sorted.
    pub platforms: Vec<Platform>,
}

/// A question with what answering it needs.
#[derive(Clone, Debug)]
pub struct Ask {
    /// The question.
    pub key: Key,
    /// The rule's policy.
    pub policy: Policy,
    /// The rule's filter.
    pub filter: TagFilter,
    /// Resolve the winner's digest even without platforms (a reference
    /// pins a digest, or the policy follows one).
    pub digest: bool,
}

/// The answers of a survey.
#[derive(Debug, Default)]
pub struct Answers {
    /// Each repository's listed tags, or why they could not be listed.
    pub tags: HashMap<Repository, Result<Arc<Vec<String>>, Arc<RegistryError>>>,
    /// Each question's selection.
    pub selections: HashMap<Key, Result<Arc<RegistrySelection>, Arc<RegistryError>>>,
}

/// Asks every question in `asks` not answered yet, concurrently (the
/// client caps requests per host), and adds the answers to `answers`.
/// `progress(done, total)` is called once before the first answer and
/// after each one (questions, not requests), so a caller can show how far
/// the survey is.
pub async fn survey(
    client: &Client,
    asks: Vec<Ask>,
    max_candidates: usize,
    answers: &mut Answers,
    progress: &mut dyn FnMut(usize, usize),
) {
    // Several references ask the same question; the digest is wanted when
    // any of them wants it.
    let mut merged: HashMap<Key, Ask> = HashMap::new();
    for ask in asks {
        if answers.selections.contains_key(&ask.key) {
            continue;
        }
        merged
            .entry(ask.key.clone())
            .and_modify(|a| a.digest |= ask.digest)
            .or_insert(ask);
    }
    let total = merged.len();
    progress(0, total);
    let mut tasks = tokio::task::JoinSet::new();
    for ask in merged.into_values() {
        let client = client.clone();
        tasks.spawn(async move {
            let listed = client.list_tags(&ask.key.repository).await;
            let query = Query {
                policy: &ask.policy,
                filter: &ask.filter,
                platforms: &ask.key.platforms,
                max_candidates,
                digest: ask.digest,
            };
            let selected = select_from_registry(&client, &ask.key.repository, query).await;
            (ask.key, listed, selected)
        });
    }
    let mut done = 0;
    while let Some(joined) = tasks.join_next().await {
        done += 1;
        progress(done, total);
        let Ok((key, listed, selected)) = joined else {
            continue;
        };
        answers
            .tags
            .entry(key.repository.clone())
            .or_insert_with(|| listed.map_err(Arc::new));
        answers
            .selections
            .insert(key, selected.map(Arc::new).map_err(Arc::new));
    }
}

/// When each `(repository, tag)` was built, as RFC 3339 text (`None`: the
/// registry does not say, or could not be asked). One manifest read per tag
/// (none when a selection already read it), plus the config for images
/// without a `created` annotation.
pub async fn build_times(
    client: &Client,
    wanted: Vec<(Repository, String, Option<Platform>)>,
) -> HashMap<(Repository, String), Option<String>> {
    let mut tasks = tokio::task::JoinSet::new();
    for (repo, tag, platform) in wanted {
        let client = client.clone();
        tasks.spawn(async move {
            let time = match client.tag_manifest(&repo, &tag).await {
                Ok((resolved, _)) => client
                    .build_time(&repo, &resolved.digest, platform.as_ref())
                    .await
                    .ok()
                    .flatten(),
                Err(_) => None,
            };
            ((repo, tag), time)
        });
    }
    let mut out = HashMap::new();
    while let Some(joined) = tasks.join_next().await {
        if let Ok((k, v)) = joined {
            out.insert(k, v);
        }
    }
    out
}

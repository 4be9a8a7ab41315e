//! Verification of the references `set` writes: each target's tag (or
//! digest) exists in its registry and provides every `--platform`, and the
//! index digest that `tag@digest` pins must receive.

use crate::finding::{Finding, Kind};
use crate::plan::Desired;
use crate::registry::{Client, Platform, RegistryError, RegistryStats};

/// The targets after the registry checks.
#[derive(Debug, Default)]
pub struct Resolution {
    /// Targets, each with `resolved_digest` set when verified.
    pub targets: Vec<Desired>,
    /// One error per target that failed a check; non-empty fails the run.
    pub errors: Vec<Finding>,
    /// Requests made, when the registry was asked at all.
    pub stats: Option<RegistryStats>,
}

/// Checks every target against its registry, concurrently (the client
/// caps requests per host), on the command's runtime.
pub async fn verify_all(
    client: &Client,
    targets: &[Desired],
    platforms: &[Platform],
) -> Resolution {
    let mut tasks = tokio::task::JoinSet::new();
    for (i, target) in targets.iter().enumerate() {
        let (client, target, platforms) = (client.clone(), target.clone(), platforms.to_vec());
        tasks.spawn(async move { (i, check(&client, &target, &platforms).await) });
    }
    let mut results = Vec::with_capacity(targets.len());
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(r) => results.push(r),
            Err(e) => results.push((
                usize::MAX,
                Err(Finding::error(
                    Kind::RegistryFailed,
                    None,
                    format!("registry check failed: {e}"),
                )),
            )),
        }
    }
    results.sort_by_key(|(i, _)| *i);
    let mut out = Resolution {
        targets: targets.to_vec(),
        ..Resolution::default()
    };
    for (i, result) in results {
        match (result, out.targets.get_mut(i)) {
            (Ok(digest), Some(t)) => t.resolved_digest = Some(digest),
            (Ok(_), None) => {}
            (Err(finding), _) => out.errors.push(finding),
        }
    }
    out.stats = Some(client.stats());
    out
}

/// Verifies one target; returns the digest its tag (or digest) names, or
/// the error finding that says what is wrong with it.
async fn check(
    client: &Client,
    target: &Desired,
    platforms: &[Platform],
) -> Result<String, Finding> {
    let reference = &target.reference;
    let repo = reference.repository();
    let shown = reference.name_as_written();
    let err = |e: RegistryError| registry_finding(&e).about(shown);
    let digest = match (reference.tag(), reference.digest()) {
        (Some(tag), given) => {
            let resolved = client.digest_of(&repo, tag).await.map_err(err)?;
            if let Some(given) = given
                && given != resolved.digest
            {
                let message = format!(
                    "{shown}:{tag} is {} in the registry, not {given}; the tag moved or the digest is wrong",
                    resolved.digest
                );
                return Err(Finding::error(Kind::DigestMismatch, None, message).about(shown));
            }
            resolved.digest
        }
        (None, Some(digest)) => client.digest_of(&repo, digest).await.map_err(err)?.digest,
        (None, None) => {
            let message = format!("{shown}: no tag or digest to verify");
            return Err(Finding::error(Kind::TagMissing, None, message).about(shown));
        }
    };
    if !platforms.is_empty() {
        let have = client.platforms(&repo, &digest).await.map_err(err)?;
        let missing = super::platforms::missing(&have, platforms);
        if !missing.is_empty() {
            let what = reference
                .tag()
                .map_or_else(|| format!("{shown}@{digest}"), |t| format!("{shown}:{t}"));
            let message = super::platforms::lacks(&what, &missing, &have);
            return Err(Finding::error(Kind::PlatformMissing, None, message).about(shown));
        }
    }
    Ok(digest)
}

/// The error finding for a registry failure: a missing tag or digest is
/// [`Kind::TagMissing`], anything else (unreachable, unauthorized, …) is
/// [`Kind::RegistryFailed`], so the two never read alike.
pub fn registry_finding(e: &RegistryError) -> Finding {
    let kind = match e {
        RegistryError::TagNotFound { .. }
        | RegistryError::DigestNotFound { .. }
        | RegistryError::NameUnknown { .. } => Kind::TagMissing,
        _ => Kind::RegistryFailed,
    };
    Finding::error(kind, None, e.to_string())
}

//! Verification of the references `set` writes: each target's tag (or
//! digest) exists in its registry and provides every `--platform`, and the
//! digest each `tag@digest` pin must receive: of the same kind as the pin
//! ([`repin_all`]): the new index for an index pin, the same platform's
//! image for a child-manifest pin.

use crate::finding::{Finding, Kind};
use crate::plan::{Desired, Pin, Pins};
use crate::registry::{Client, OciManifest, PinKind, Platform, RegistryError, RegistryStats};

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

/// What each of `pins` becomes under its target (see [`Pins`]), asked
/// concurrently on the command's runtime. Each pin costs at most a HEAD of
/// its current tag and a GET of that tag's index (both cached for the run),
/// and the new tag's index is usually cached by [`verify_all`] already.
pub async fn repin_all(client: &Client, desired: &[Desired], pins: Vec<Pin>) -> Pins {
    let mut tasks = tokio::task::JoinSet::new();
    for pin in pins.iter().cloned() {
        let Some(target) = desired.get(pin.desired).cloned() else {
            continue;
        };
        let client = client.clone();
        tasks.spawn(async move {
            let answer = repin(&client, &target, &pin).await;
            (pin, answer)
        });
    }
    let mut out = Pins::new();
    while let Some(joined) = tasks.join_next().await {
        if let Ok((pin, answer)) = joined {
            out.insert(pin, answer);
        }
    }
    // A task that failed to finish leaves no answer: say so rather than
    // fall back to a digest of another kind.
    for pin in pins {
        out.entry(pin)
            .or_insert_with(|| Err("the registry check of this pin did not finish".to_owned()));
    }
    out
}

/// The digest `pin` gets under `target`'s tag, keeping its kind: the pin
/// is asked about relative to its current tag ([`Client::pin_kind`]); when
/// that does not tell (no tag, or the tag moved since the pin was written),
/// the pinned manifest itself is read: an index is an index pin, an image
/// is the pin of its config's platform. Err is one line saying why the new
/// digest cannot be told.
pub async fn repin(client: &Client, target: &Desired, pin: &Pin) -> Result<String, String> {
    let repo = target.reference.repository();
    let shown = target.reference.name_as_written();
    let new_tag = target.reference.tag().unwrap_or_default();
    let Some(new) = target.resolved_digest.as_deref() else {
        return Err(format!(
            "{shown}:{new_tag} was not resolved in the registry"
        ));
    };
    let short = pin.pinned.get(..19).unwrap_or(&pin.pinned);
    let failed =
        |e: RegistryError| format!("cannot tell what the pinned digest {short}… becomes: {e}");
    let by_tag = match &pin.tag {
        Some(tag) => match client.digest_of(&repo, tag).await {
            Ok(r) => client
                .pin_kind(&repo, &r.digest, &pin.pinned)
                .await
                .map_err(failed)?,
            Err(RegistryError::TagNotFound { .. }) => PinKind::Unrelated,
            Err(e) => return Err(failed(e)),
        },
        None => PinKind::Unrelated,
    };
    let kind = match by_tag {
        PinKind::Unrelated => match client.manifest(&repo, &pin.pinned).await {
            Ok(m) => match &*m {
                OciManifest::Index { .. } => PinKind::Tag,
                OciManifest::Image { config } => match client.config(&repo, config).await {
                    Ok(c) => c
                        .platform
                        .clone()
                        .filter(|p| !p.is_unknown())
                        .map_or(PinKind::Unrelated, PinKind::Child),
                    Err(e) => return Err(failed(e)),
                },
            },
            Err(
                RegistryError::DigestNotFound { .. }
                | RegistryError::TagNotFound { .. }
                | RegistryError::NameUnknown { .. },
            ) => PinKind::Unrelated,
            Err(e) => return Err(failed(e)),
        },
        known => known,
    };
    let old = pin.tag.as_deref().unwrap_or("the old tag");
    match kind {
        PinKind::Tag => Ok(new.to_owned()),
        PinKind::Child(platform) => match client.platform_child(&repo, new, &platform).await {
            Ok(Some(child)) => Ok(child),
            Ok(None) => Err(format!(
                "the pin {short}… is the {platform} image of {old}, and {shown}:{new_tag} has no {platform} image; pin it yourself with {shown}:{new_tag}@sha256:…"
            )),
            Err(e) => Err(failed(e)),
        },
        PinKind::Unrelated => Err(format!(
            "the pin {short}… is neither {old}'s digest nor one of its platform images, and the registry cannot say what it is; pin it yourself with {shown}:{new_tag}@sha256:…"
        )),
    }
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

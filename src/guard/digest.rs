//! Under `--no-verify` the registry is not asked, so a site pinned to a
//! digest cannot get the new one: refused rather than left pointing at the
//! old image under a new tag.

use super::{Check, Context};
use crate::finding::{Finding, Kind};
use crate::plan::SitePlan;

/// Refuses to move a pinned digest to an unknown one.
pub struct NoStaleDigest;

impl Check for NoStaleDigest {
    fn check(&self, cx: &Context<'_>, plan: &SitePlan) -> Option<Finding> {
        let old = plan.stale_digest.as_ref().filter(|_| cx.no_verify)?;
        let (_, image, at) = cx.site(plan);
        let short = old.get(..19).unwrap_or(old);
        let message = format!(
            "{image} is pinned to digest {short}…, and with --no-verify the new digest is unknown; pass {image}:TAG@sha256:… or drop --no-verify"
        );
        Some(Finding::error(Kind::StaleDigest, Some(at), message).about(image))
    }
}

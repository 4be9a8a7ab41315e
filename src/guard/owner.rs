//! Ownership (issue #11): a reference whose configuration entry names a
//! `writer:` (or that a running controller writes: a Flux setter marker in
//! a path an `ImageUpdateAutomation` updates) may be changed only by a run
//! with that `--writer-id`. Any other run is refused, naming the owner, so
//! two writers never share a reference by accident.

use super::{Check, Context};
use crate::finding::{Finding, Kind};
use crate::plan::SitePlan;

/// Refuses changes to references another writer owns.
pub struct Owned;

impl Check for Owned {
    fn check(&self, cx: &Context<'_>, plan: &SitePlan) -> Option<Finding> {
        let owner = cx.writers.of(plan.manifest, plan.site)?.owner.as_ref()?;
        let me = &cx.writers.rules.id;
        if &owner.id == me {
            return None;
        }
        let (_, image, at) = cx.site(plan);
        let message = format!(
            "{image} is owned by writer {} ({}), and this run is writer {me}: it is left to its owner; run as --writer-id {} to write it, or hand it over in .gitops-bump.yaml (writer: ID)",
            owner.id, owner.source, owner.id
        );
        Some(Finding::error(Kind::Owned, Some(at), message).about(image))
    }
}

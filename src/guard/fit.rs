//! A site that cannot hold the desired value as given (a kustomize entry
//! without a digest field for a digest) is refused with its line.

use super::{Check, Context};
use crate::finding::{Finding, Kind};
use crate::plan::SitePlan;

/// Refuses sites the plan found unfit.
pub struct Fits;

impl Check for Fits {
    fn check(&self, cx: &Context<'_>, plan: &SitePlan) -> Option<Finding> {
        let reason = plan.unfit.as_ref()?;
        let (_, image, at) = cx.site(plan);
        Some(Finding::error(Kind::Unfit, Some(at), format!("{image}: {reason}")).about(image))
    }
}

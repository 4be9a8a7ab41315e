//! `# gitops-bump:ignore` on a reference's line leaves it alone, with a
//! notice saying so.

use super::{Check, Context};
use crate::finding::{Finding, Kind};
use crate::plan::SitePlan;

/// Leaves pinned sites alone.
pub struct Pinned;

impl Check for Pinned {
    fn check(&self, cx: &Context<'_>, plan: &SitePlan) -> Option<Finding> {
        let (m, image, at) = cx.site(plan);
        m.is_pinned(&m.sites[plan.site]).then(|| {
            Finding::notice(Kind::Pinned, Some(at), "pinned by # gitops-bump:ignore").about(image)
        })
    }
}

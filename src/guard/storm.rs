//! The storm brake (issue #11): when one image in one file has changed more
//! than `--max-changes` times within the last hour, a loop is already
//! running, whoever causes it, and one more change would feed it. The run
//! is refused, naming the most recent changes and their writers.

use super::history::{Change, ago, short};
use super::writers::STORM_WINDOW;
use super::{Check, Context};
use crate::finding::{Finding, Kind};
use crate::plan::SitePlan;

/// Refuses a change to an image that keeps changing.
pub struct Storm;

impl Check for Storm {
    fn reads_history(&self) -> bool {
        true
    }

    fn check(&self, cx: &Context<'_>, plan: &SitePlan) -> Option<Finding> {
        let history = cx.writers.history.as_ref()?;
        let (m, image, at) = cx.site(plan);
        let repository = m.image_of(&m.sites[plan.site]).repository?;
        let recent: Vec<&Change> = history
            .changes(&m.path, &repository)
            .iter()
            .filter(|c| c.time > history.now - STORM_WINDOW)
            // A move of its value: the commit that added the image (or the
            // file) or removed it is no step of a loop.
            .filter(|c| !c.from.is_empty() && !c.to.is_empty())
            .collect();
        let max = cx.writers.rules.max_changes;
        if recent.len() <= max {
            return None;
        }
        let latest = recent
            .iter()
            .take(3)
            .map(|c| {
                format!(
                    "{} by {} ({} ago)",
                    short(&c.commit),
                    c.who(),
                    ago(history.now, c.time)
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let message = format!(
            "{image} changed {} times in this file within the last hour, more than --max-changes {max}: a loop is already running (latest: {latest}). Stop the writers that keep changing it (one owner per image in .gitops-bump.yaml, or separate write-back paths), then retry",
            recent.len()
        );
        Some(Finding::error(Kind::Storm, Some(at), message).about(image))
    }
}

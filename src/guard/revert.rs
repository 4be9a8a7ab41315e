//! Revert detection (issue #11): a change that sets an image back to a
//! value a *different* writer replaced within `--fight-window` (X moved it
//! A → B, and now writer Y wants B → A) is the start of a fight: two
//! writers undoing each other forever. It is refused, naming both writers,
//! the commit and how long ago, unless `--allow-revert` says the rollback is
//! deliberate. A writer may undo its own change; a commit without
//! `Gitops-Bump-*` trailers is writer `human`, so a person's edit is
//! protected the same way.

use super::history::{Change, Value, ago, list, short};
use super::{Check, Context};
use crate::finding::{Finding, Kind};
use crate::plan::SitePlan;

/// Refuses undoing another writer's recent change.
pub struct NoRevert;

impl Check for NoRevert {
    fn reads_history(&self) -> bool {
        true
    }

    fn check(&self, cx: &Context<'_>, plan: &SitePlan) -> Option<Finding> {
        let rules = &cx.writers.rules;
        if rules.allow_revert {
            return None;
        }
        let history = cx.writers.history.as_ref()?;
        let (m, image, at) = cx.site(plan);
        let site = m.image_of(&m.sites[plan.site]);
        let repository = site.repository.clone()?;
        let new = planned(cx, plan);
        let undone: &Change = history
            .changes(&m.path, &repository)
            .iter()
            .filter(|c| c.time >= history.now - rules.window)
            .find(|c| {
                c.writer != rules.id
                    && c.from.iter().any(|v| v.same(&new))
                    && !c.to.iter().any(|v| v.same(&new))
            })?;
        let current = Value {
            tag: site.tag,
            digest: site.digest,
        };
        let message = format!(
            "{image}: {current} → {new} would undo commit {} by writer {} ({} ago), which moved it {} → {}; this run is writer {}, so two writers are fighting over this reference. For a deliberate rollback pass --allow-revert; otherwise give both writers the same platforms and policy, or each its own write-back path (or one owner in .gitops-bump.yaml)",
            short(&undone.commit),
            undone.who(),
            ago(history.now, undone.time),
            list(&undone.from),
            list(&undone.to),
            rules.id,
        );
        Some(Finding::error(Kind::Fight, Some(at), message).about(image))
    }
}

/// The value `plan` gives its site, as `plan` computes it: the desired
/// tag, and the desired digest, or the registry's where the site pins one.
pub fn planned(cx: &Context<'_>, plan: &SitePlan) -> Value {
    let (m, _, _) = cx.site(plan);
    let current = m.image_of(&m.sites[plan.site]);
    let desired = &cx.desired[plan.desired];
    Value {
        tag: desired.reference.tag().map(str::to_owned),
        digest: desired
            .reference
            .digest()
            .map(str::to_owned)
            .or_else(|| current.digest.and(desired.resolved_digest.clone())),
    }
}

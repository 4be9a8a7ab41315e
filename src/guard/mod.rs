//! Guard: decides which planned changes may be written. Each rule is one
//! [`Check`] in one file, run in [`CHECKS`] order on every site plan that
//! would change something (a site already in the target state is never
//! judged); the first finding wins and the site is not written. [`anchor`]
//! refuses an edit of a shared anchor that would move what the run does not
//! move (or what a pin on an alias holds); [`pin`] leaves a site alone with
//! a notice; [`fit`], [`downgrade`] and [`digest`] refuse with an error.
//! [`broken`] refuses a run that cannot be complete because a file it could
//! not read holds a reference to one of its images that would change;
//! [`blocks`] warns about such references in YAML held as text that cannot
//! be edited; [`absent`] fails an IMAGE_REF that moves no reference. Pure.
//!
//! The writer guards (issue #11) keep two writers from fighting: [`owner`]
//! refuses a reference another writer owns, [`storm`] an image that keeps
//! changing, [`revert`] undoing another writer's recent change. The last
//! two read the recent history of the files the run would change
//! ([`history`]); [`touched`] says which files those are, so the history
//! is read for them only. What they know is in [`writers`].
//!
//! Owns what may be written; does not own tag selection (`policy`), whose
//! ordering the no-downgrade check borrows through
//! [`Policy::compare`](crate::policy::Policy::compare), the same
//! comparison the selection ranks with.

pub mod absent;
pub mod anchor;
pub mod blocks;
pub mod broken;
pub mod digest;
pub mod downgrade;
pub mod fit;
pub mod history;
pub mod owner;
pub mod pin;
pub mod revert;
pub mod storm;
pub mod writers;

use crate::discover::Unreadable;
use crate::finding::{Finding, Location};
use crate::manifest::Manifest;
use crate::plan::{Desired, SitePlan};
pub use downgrade::Downgrades;
pub use writers::{Governed, Owner, WriterRules, Writers};

/// The guard's decision.
#[derive(Debug, Default)]
pub struct Decision {
    /// Site plans cleared for writing (indices into the plan).
    pub allowed: Vec<usize>,
    /// Pinned sites (notices) and refusals (errors: the run fails).
    pub findings: Vec<Finding>,
}

/// What the checks may look at besides the site plan.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// The manifests planned.
    pub manifests: &'a [Manifest],
    /// The desired states the plans refer to.
    pub desired: &'a [Desired],
    /// `--no-verify`: the registry was not asked, so no digest is known.
    pub no_verify: bool,
    /// The no-downgrade rule in force.
    pub downgrades: &'a Downgrades,
    /// What the writer guards know: ownership, history, build times.
    pub writers: &'a Writers,
}

impl Context<'_> {
    /// The site plan's manifest, its image as the user wrote it, and the
    /// location of the site (its first slot, else its name, where a
    /// missing field would be inserted): where findings point.
    pub fn site(&self, plan: &SitePlan) -> (&Manifest, String, Location) {
        let m = &self.manifests[plan.manifest];
        let line = m.site_line(&m.sites[plan.site]);
        let image = self.desired[plan.desired]
            .reference
            .name_as_written()
            .to_owned();
        (m, image, Location::line(&m.path, line))
    }
}

/// One rule about a site plan that changes something.
pub trait Check: Sync {
    /// The finding that keeps this site from being written, if any: a
    /// notice leaves it alone, an error fails the run.
    fn check(&self, cx: &Context<'_>, plan: &SitePlan) -> Option<Finding>;

    /// Returns true if and only if the check reads the files' history
    /// ([`Writers::history`]); [`touched`] asks the checks before the first
    /// such one which files need it.
    fn reads_history(&self) -> bool {
        false
    }

    /// The same, with every site plan of the run in view; a rule about
    /// plans together ([`anchor`]: do all sites sharing an anchor move the
    /// same way?) overrides it. `plans` holds `plan`.
    fn check_among(
        &self,
        cx: &Context<'_>,
        plans: &[SitePlan],
        plan: &SitePlan,
    ) -> Option<Finding> {
        let _ = plans;
        self.check(cx, plan)
    }
}

/// The checks, in the order they are asked.
pub const CHECKS: &[&dyn Check] = &[
    &anchor::SharedAnchor,
    &pin::Pinned,
    &fit::Fits,
    &owner::Owned,
    &storm::Storm,
    &revert::NoRevert,
    &downgrade::NoDowngrade,
    &digest::NoStaleDigest,
];

/// Checks every site plan, then the unreadable files.
pub fn check(cx: &Context<'_>, plans: &[SitePlan], unreadable: &[Unreadable]) -> Decision {
    let mut d = Decision::default();
    for (i, plan) in plans.iter().enumerate() {
        if plan.changes.is_empty() {
            continue;
        }
        match CHECKS.iter().find_map(|c| c.check_among(cx, plans, plan)) {
            Some(finding) => d.findings.push(finding),
            None => d.allowed.push(i),
        }
    }
    d.findings.extend(broken::check(cx.desired, unreadable));
    d
}

/// The files whose history the checks need: those of every site plan that
/// changes something and that no check before the first history reader
/// stops (a pinned or owned reference is never written, so its file's
/// history is not read). Sorted, distinct.
pub fn touched(cx: &Context<'_>, plans: &[SitePlan]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for plan in plans.iter().filter(|p| !p.changes.is_empty()) {
        let stopped = CHECKS
            .iter()
            .take_while(|c| !c.reads_history())
            .any(|c| c.check_among(cx, plans, plan).is_some());
        if !stopped {
            out.push(cx.manifests[plan.manifest].path.clone());
        }
    }
    out.sort();
    out.dedup();
    out
}

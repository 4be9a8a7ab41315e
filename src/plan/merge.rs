//! Merging site plans into one new content per file: the changes of every
//! allowed site of a file are applied together (and proven by re-parsing),
//! and two images that want different values in the same scalar are a
//! conflict, never a silent last-one-wins.

use std::collections::BTreeMap;

use super::{SitePlan, Update};
use crate::backend::FileChange;
use crate::finding::{Finding, Kind, Location};
use crate::manifest::{Change, Manifest};

/// The files to write and what changed in them.
#[derive(Debug, Default)]
pub struct Merged {
    /// One new content per changed file, in path order.
    pub changes: Vec<FileChange>,
    /// Every changed value, sorted by file, line and column.
    pub updates: Vec<Update>,
    /// Conflicts and refused edits (errors: nothing may be written).
    pub findings: Vec<Finding>,
}

/// Applies the `allowed` site plans of `plans` to their manifests.
pub fn merge(manifests: &[Manifest], plans: &[SitePlan], allowed: &[usize]) -> Merged {
    let mut out = Merged::default();
    let mut per_file: BTreeMap<usize, (Vec<Change>, Vec<Update>)> = BTreeMap::new();
    for &i in allowed {
        let c = &plans[i];
        let entry = per_file.entry(c.manifest).or_default();
        for (change, update) in c.changes.iter().zip(&c.updates) {
            match entry.0.iter().find(|x| x.node == change.node) {
                Some(prev) if prev.value != change.value => out.findings.push(Finding::error(
                    Kind::Conflict,
                    Some(Location::line(&update.file, update.line)),
                    format!(
                        "two images want different values here ({:?} and {:?})",
                        prev.value, change.value
                    ),
                )),
                Some(_) => {}
                None => {
                    entry.0.push(change.clone());
                    entry.1.push(update.clone());
                }
            }
        }
    }
    for (mi, (file_changes, updates)) in per_file {
        let m = &manifests[mi];
        match m.apply(&file_changes) {
            Ok((new, _)) => {
                out.changes.push(FileChange {
                    path: m.path.clone(),
                    old: m.text.clone(),
                    new,
                });
                out.updates.extend(updates);
            }
            Err(e) => out.findings.push(Finding::error(
                Kind::EditRefused,
                Some(Location::file(&m.path)),
                e.to_string(),
            )),
        }
    }
    out.updates
        .sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    out
}

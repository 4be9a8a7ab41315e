//! Shared anchors: a value written once as `&anchor` and reused as `*alias`
//! changes everywhere at once, so editing it for one image must not move
//! anything this run did not mean to move. A change to an anchored scalar
//! is refused, naming every line the anchor reaches, unless every image
//! site that holds it is a target of this run with the same new value;
//! and a `# gitops-bump:ignore` on any line the anchor reaches, other than
//! the anchor's own, refuses it too (a pin on the anchor's own line is an
//! ordinary pin, left to [`super::pin`]). Aliases that are not image sites
//! (`version: *ver` in labels) follow the anchor, as the report says
//! (`also via alias at line N`).
//!
//! Runs first in [`super::CHECKS`]: a pin on an alias line must refuse the
//! edit, not merely skip the site as [`super::pin`] would.
//! See: issue #13 (items 5 and 6).

use super::{Check, Context};
use crate::finding::{Finding, Kind};
use crate::manifest::Manifest;
use crate::manifest::tree::NodeId;
use crate::plan::SitePlan;

/// Refuses edits of a shared anchor that would move an image this run does
/// not move the same way, or a reference pinned at an alias.
pub struct SharedAnchor;

impl Check for SharedAnchor {
    /// Alone, the plan is the whole run: every other site the anchor
    /// reaches is left out of it.
    fn check(&self, cx: &Context<'_>, plan: &SitePlan) -> Option<Finding> {
        self.check_among(cx, std::slice::from_ref(plan), plan)
    }

    fn check_among(
        &self,
        cx: &Context<'_>,
        plans: &[SitePlan],
        plan: &SitePlan,
    ) -> Option<Finding> {
        let (m, image, at) = cx.site(plan);
        for change in plan.changes.iter().filter(|c| c.insert.is_none()) {
            let node = m.stream.resolve(change.node);
            // Only an alias shares a scalar between images; most files
            // have none, and this answers at once for them.
            if m.stream.aliases_reaching(node).is_empty() {
                continue;
            }
            let reach = m.reach(node);
            let others: Vec<usize> = reach
                .sites
                .iter()
                .copied()
                .filter(|&s| s != plan.site)
                .collect();
            let anchor_line = m.node_position(node).0;
            let pins = pin_lines(m);
            if pins.contains(&anchor_line) {
                // Pinned where it is defined: an ordinary pin.
                continue;
            }
            let holds = anchor_phrase(m, node, anchor_line);
            // Pins on the aliases, and on the other slots (a digest line)
            // of the other sites that hold the anchor.
            let mut pinned: Vec<usize> = reach.alias_lines.clone();
            for &s in &others {
                for n in m.sites[s].slots() {
                    pinned.push(m.node_position(n).0);
                    pinned.extend(m.reach(n).alias_lines);
                }
            }
            pinned.retain(|l| *l != anchor_line && pins.contains(l));
            pinned.sort_unstable();
            pinned.dedup();
            if !pinned.is_empty() {
                let message = format!(
                    "{image}: {holds}, reused at {} pinned by # gitops-bump:ignore; editing the anchor would move the pinned reference too. Remove the pin, or give that line its own value instead of the alias",
                    lines(&pinned)
                );
                return Some(Finding::error(Kind::Conflict, Some(at), message).about(image));
            }
            let left_out: Vec<usize> = others
                .iter()
                .copied()
                .filter(|&s| !moves_the_same(plans, plan, s, node, &change.value, m))
                .collect();
            if left_out.is_empty() {
                continue;
            }
            let mut reached: Vec<usize> = reach.alias_lines.clone();
            reached.push(anchor_line);
            reached.sort_unstable();
            reached.dedup();
            let strangers = left_out
                .iter()
                .map(|&s| {
                    let site = &m.sites[s];
                    // Its own name, not one it shares through the alias.
                    let own = site.names.iter().find(|&&n| m.reach(n).aliases.is_empty());
                    let line = own
                        .or(site.names.first())
                        .map_or_else(|| m.site_line(site), |&n| m.node_position(n).0);
                    format!("{} (line {line})", m.image_of(site).name)
                })
                .collect::<Vec<_>>()
                .join(", ");
            let message = format!(
                "{image}: {holds}, which reaches {}; editing it would also move {strangers}, which this run does not set to {:?}. Set every image that shares the anchor to the same value in one run, or give each its own value",
                lines(&reached),
                change.value
            );
            return Some(Finding::error(Kind::Conflict, Some(at), message).about(image));
        }
        None
    }
}

/// Returns true if and only if a plan of this run for site `site` of the
/// same manifest changes `node` to `value` too.
fn moves_the_same(
    plans: &[SitePlan],
    plan: &SitePlan,
    site: usize,
    node: NodeId,
    value: &str,
    m: &Manifest,
) -> bool {
    plans
        .iter()
        .filter(|p| p.manifest == plan.manifest && p.site == site)
        .any(|p| {
            p.changes
                .iter()
                .any(|c| c.insert.is_none() && m.stream.resolve(c.node) == node && c.value == value)
        })
}

/// `line 3 holds the anchor &v`, or `line 5 is part of the anchor
/// &common (line 2)` when the anchor is on a collection holding `node`.
fn anchor_phrase(m: &Manifest, node: NodeId, line: usize) -> String {
    let anchored = std::iter::once(node)
        .chain(m.stream.ancestors(node))
        .find_map(|n| m.stream.nodes[n].anchor.as_ref().map(|a| (n, a)));
    match anchored {
        Some((n, a)) if n == node => format!("line {line} holds the anchor &{a}"),
        Some((n, a)) => format!(
            "line {line} is part of the anchor &{a} (line {})",
            // The anchor is written after the collection's key.
            m.node_position(m.stream.key_of(n).unwrap_or(n)).0
        ),
        None => format!("line {line} is reached through an alias"),
    }
}

/// 1-based lines holding a `# gitops-bump:ignore` comment (the rule of
/// [`Manifest::is_pinned`]).
fn pin_lines(m: &Manifest) -> Vec<usize> {
    m.stream
        .comments
        .iter()
        .filter(|c| c.text.trim_start().starts_with("gitops-bump:ignore"))
        .map(|c| m.position(c.span.start).0)
        .collect()
}

/// `lines 4, 8 and 12`, or `line 4`.
fn lines(lines: &[usize]) -> String {
    match lines {
        [] => String::new(),
        [one] => format!("line {one}"),
        [rest @ .., last] => format!(
            "lines {} and {last}",
            rest.iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::{Downgrades, check};
    use crate::plan::{Desired, plan};
    use crate::reference::Reference;

    fn run(text: &str, targets: &[&str]) -> Vec<Finding> {
        let m = Manifest::parse("values.yaml", text.to_owned()).expect("parses");
        let desired: Vec<Desired> = targets
            .iter()
            .map(|t| Desired {
                arg: (*t).to_owned(),
                reference: Reference::parse(t).expect("valid"),
                resolved_digest: None,
            })
            .collect();
        let manifests = [m];
        let plans = plan(&manifests, &desired);
        let downgrades = Downgrades::default();
        let cx = Context {
            manifests: &manifests,
            desired: &desired,
            no_verify: true,
            downgrades: &downgrades,
            writers: &super::super::Writers::default(),
        };
        check(&cx, &plans, &[]).findings
    }

    const SHARED: &str = "a:\n  image:\n    repository: ghcr.io/acme/a\n    tag: &ver v1.0.0\nb:\n  image:\n    repository: ghcr.io/acme/b\n    tag: *ver\n";

    #[test]
    fn a_shared_tag_moves_only_when_every_image_moves_the_same() {
        let f = run(SHARED, &["ghcr.io/acme/a:v1.1.0"]);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].kind, Kind::Conflict);
        assert_eq!(f[0].line(), Some(4));
        assert_eq!(
            f[0].message,
            "ghcr.io/acme/a: line 4 holds the anchor &ver, which reaches lines 4 and 8; editing it would also move ghcr.io/acme/b (line 7), which this run does not set to \"v1.1.0\". Set every image that shares the anchor to the same value in one run, or give each its own value"
        );
        // From the other side too.
        assert_eq!(run(SHARED, &["ghcr.io/acme/b:v1.1.0"]).len(), 1);
        // Different values: refused.
        let f = run(SHARED, &["ghcr.io/acme/a:v1.1.0", "ghcr.io/acme/b:v1.2.0"]);
        assert!(
            f.iter().all(|f| f.kind == Kind::Conflict) && !f.is_empty(),
            "{f:?}"
        );
        // Both to the same value: allowed.
        assert!(run(SHARED, &["ghcr.io/acme/a:v1.1.0", "ghcr.io/acme/b:v1.1.0"]).is_empty());
    }

    #[test]
    fn one_image_used_through_aliases_moves_freely() {
        let text = "x: &img ghcr.io/acme/a:v1\nspec:\n  containers:\n  - name: a\n    image: *img\n  - name: b\n    image: *img\n";
        assert!(run(text, &["ghcr.io/acme/a:v2"]).is_empty());
    }

    #[test]
    fn a_pin_on_an_alias_line_refuses_the_anchor_edit() {
        let text = "a:\n  image: &img golang:1.26\nb:\n  image: *img # gitops-bump:ignore\n";
        let f = run(text, &["golang:1.27"]);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].kind, Kind::Conflict);
        assert!(
            f[0].message
                .contains("reused at line 4 pinned by # gitops-bump:ignore"),
            "{}",
            f[0].message
        );
        // A pin where the anchor is defined is an ordinary pin.
        let text = "a:\n  image: &img golang:1.26 # gitops-bump:ignore\nb:\n  image: *img\n";
        let f = run(text, &["golang:1.27"]);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].kind, Kind::Pinned);
    }

    #[test]
    fn line_lists_read_as_prose() {
        assert_eq!(lines(&[4]), "line 4");
        assert_eq!(lines(&[4, 8]), "lines 4 and 8");
        assert_eq!(lines(&[4, 8, 12]), "lines 4, 8 and 12");
    }
}

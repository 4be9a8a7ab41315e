//! YAML held as text that the engine can read but not edit byte-exactly (a
//! folded `>` block, a quoted string, a block that does not parse): an
//! image of this run inside it that is not already in the target state is
//! a warning at the block's line, never silence. It is not refused: no
//! run could ever write it, and the warning names the line to edit by hand.

use super::broken::stale_lines;
use crate::finding::{Finding, Kind, Location};
use crate::manifest::text::reference_lines;
use crate::manifest::{Manifest, SiteImage};
use crate::plan::Desired;
use crate::reference::Repository;

/// One warning per skipped block and image of `desired` it holds that
/// would change.
pub fn check(manifests: &[Manifest], desired: &[Desired]) -> Vec<Finding> {
    let mut out = Vec::new();
    for m in manifests {
        for block in &m.skipped {
            let text = m.stream.scalar(block.node).unwrap_or_default();
            for t in desired {
                if holds(block, text, t) != Some(true) {
                    continue;
                }
                let image = t.reference.name_as_written();
                out.push(
                    Finding::warning(
                        Kind::BlockSkipped,
                        Some(Location::line(&m.path, block.line)),
                        format!("{}; not updated, edit it by hand", block.reason),
                    )
                    .about(image),
                );
            }
        }
    }
    out
}

/// Returns true if and only if some manifest holds `desired`'s repository
/// in one of its skipped blocks, whatever the tag.
pub fn mentions(manifests: &[Manifest], desired: &Desired) -> bool {
    manifests.iter().any(|m| {
        m.skipped.iter().any(|b| {
            let text = m.stream.scalar(b.node).unwrap_or_default();
            holds(b, text, desired).is_some()
        })
    })
}

/// Whether the block holds `target`'s repository: `None` when it does not,
/// `Some(true)` when some reference to it there is not in the target state.
fn holds(block: &crate::manifest::SkippedBlock, text: &str, target: &Desired) -> Option<bool> {
    let repo = target.reference.repository();
    let named = block
        .images
        .iter()
        .any(|n| Repository::parse(n).ok().as_ref() == Some(&repo));
    // What the block holds, read as YAML when it parses (a map's
    // `repository` and `tag` on separate lines), else as text.
    if let Ok(inner) = Manifest::parse("block", text.to_owned()) {
        let images: Vec<SiteImage> = inner
            .sites
            .iter()
            .map(|s| inner.image_of(s))
            .filter(|i| i.repository.as_ref() == Some(&repo))
            .collect();
        if !images.is_empty() {
            return Some(images.iter().any(|i| !at_target(i, target)));
        }
    }
    if !named && reference_lines(text.as_bytes(), &repo).is_empty() {
        return None;
    }
    // Named by the engine but not read here: it cannot be told to be at
    // the target, so it is reported.
    Some(named || !stale_lines(text, target).is_empty())
}

/// Returns true if and only if `image` has the target's tag, and its digest
/// when the target names one.
fn at_target(image: &SiteImage, target: &Desired) -> bool {
    let tag = target.reference.tag();
    (tag.is_none() || image.tag.as_deref() == tag)
        && target
            .reference
            .digest()
            .is_none_or(|d| image.digest.as_deref() == Some(d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::Reference;

    fn target(s: &str) -> Desired {
        Desired {
            arg: s.to_owned(),
            reference: Reference::parse(s).expect("valid"),
            resolved_digest: None,
        }
    }

    // See: issue #12 §2 (YAML in block scalars: edit it, or report each
    // occurrence with its line and reason).
    #[test]
    fn issue_12_each_uneditable_block_is_a_warning_at_its_line() {
        let text = "kind: Application\nspec:\n  source:\n    helm:\n      values: >\n        image:\n          repository: app\n          tag: v1\n";
        let m = Manifest::parse("app.yaml", text.to_owned()).expect("parses");
        assert_eq!(m.skipped.len(), 1);
        let found = check(std::slice::from_ref(&m), &[target("app:v2")]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].at().as_deref(), Some("app.yaml:5"));
        assert_eq!(found[0].severity, crate::finding::Severity::Warning);
        assert!(
            found[0].message.contains("folded block scalar"),
            "{}",
            found[0].message
        );
        assert!(mentions(std::slice::from_ref(&m), &target("app:v2")));
        // Already at the target: nothing to say; another image: nothing.
        assert!(check(std::slice::from_ref(&m), &[target("app:v1")]).is_empty());
        assert!(mentions(std::slice::from_ref(&m), &target("app:v1")));
        assert!(check(std::slice::from_ref(&m), &[target("other:v2")]).is_empty());
        assert!(!mentions(std::slice::from_ref(&m), &target("other:v2")));
    }
}

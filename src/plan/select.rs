//! Which references `set` moves. A target binds every site of its
//! repository ([`super::by_repository`]); of those, only the sites whose
//! current tag the [`TagRule`] selects are planned. By default that is the
//! new tag's track ([`Track`]): one repository often carries several
//! (`agent-0.0.1` and `client-0.0.1`, `1.25-alpine` and `1.25`, `main` and
//! `sha-abc1234`), and `set …:agent-0.0.2` means the agent's.
//! `--match-tag REGEX` selects by the current tag instead. Every site left
//! out is a [`Kind::NotSelected`] notice at its line, never silence. Pure.
//!
//! One difference from [`Track::same`]: a `v` before the version is a
//! spelling here, not a track. `sync`'s default policy keeps it because it
//! chooses the tag; in `set` the user names the tag, and one repository
//! does not carry `v1.2` and `1.2` as two lines of images, so
//! `set app:1.3.0` moves `app:v1.2.0`.
//!
//! Owns the selection; does not own what a track is (`policy::track`) nor
//! what happens when nothing is selected (`guard::absent`).

use regex::Regex;

use super::{Desired, Intent, by_repository};
use crate::finding::{Finding, Kind, Location};
use crate::manifest::Manifest;
use crate::policy::track::Track;

/// Which of a target repository's references `set` moves.
#[derive(Clone, Debug, Default)]
pub enum TagRule {
    /// Those whose current tag is on the new tag's track (the default).
    #[default]
    Track,
    /// Those whose current tag this unanchored regex matches (`--match-tag`;
    /// a reference without a tag is matched as the empty string).
    Matches(Regex),
}

/// The sites a run plans, and the ones it leaves out.
#[derive(Debug, Default)]
pub struct Selection {
    /// Sites to plan, in manifest and site order.
    pub intents: Vec<Intent>,
    /// One [`Kind::NotSelected`] notice per site left out.
    pub skipped: Vec<Finding>,
    /// Per desired state (by index): how many sites of its repository were
    /// found, selected or not.
    pub found: Vec<usize>,
    /// Per desired state: `file:line tag` of the sites left out, in order.
    pub left_out: Vec<Vec<String>>,
}

impl TagRule {
    /// Why a reference whose current tag is `current` does not move to
    /// `new`, or `None` when it does. Under [`TagRule::Track`] a reference
    /// without a tag, and an IMAGE_REF without one (a digest), always move.
    pub fn rejects(&self, current: Option<&str>, new: Option<&str>) -> Option<String> {
        match self {
            TagRule::Track => {
                let (current, new) = (current?, new?);
                if same_track(current, new) {
                    return None;
                }
                Some(format!(
                    "current tag {current} ({}) is on another tag track than {new} ({}); not moved (select it with --match-tag)",
                    track(current),
                    track(new)
                ))
            }
            TagRule::Matches(re) => {
                let tag = current.unwrap_or_default();
                if re.is_match(tag) {
                    return None;
                }
                let re = re.as_str();
                Some(match current {
                    Some(t) => {
                        format!("current tag {t} does not match --match-tag {re:?}; not moved")
                    }
                    None => format!(
                        "no current tag, and --match-tag {re:?} does not match the empty string; not moved"
                    ),
                })
            }
        }
    }
}

/// The sites of `desired`'s repositories that `rule` selects, and a notice
/// for each it leaves out.
pub fn select(manifests: &[Manifest], desired: &[Desired], rule: &TagRule) -> Selection {
    let mut out = Selection {
        found: vec![0; desired.len()],
        left_out: vec![Vec::new(); desired.len()],
        ..Selection::default()
    };
    for intent in by_repository(manifests, desired) {
        let m = &manifests[intent.manifest];
        let site = &m.sites[intent.site];
        let target = &desired[intent.desired];
        out.found[intent.desired] += 1;
        let current = m.image_of(site);
        match rule.rejects(current.tag.as_deref(), target.reference.tag()) {
            None => out.intents.push(intent),
            Some(reason) => {
                let line = m.site_line(site);
                out.left_out[intent.desired].push(format!(
                    "{}:{line} {}",
                    m.path,
                    current.tag.as_deref().unwrap_or("(no tag)")
                ));
                out.skipped.push(
                    Finding::notice(
                        Kind::NotSelected,
                        Some(Location::line(&m.path, line)),
                        reason,
                    )
                    .about(target.reference.name_as_written()),
                );
            }
        }
    }
    out
}

/// Returns true if and only if `a` and `b` are on one track, their `v`
/// style aside (see the module docs).
fn same_track(a: &str, b: &str) -> bool {
    match (Track::of(a), Track::of(b)) {
        (Some(x), Some(y)) => x.prefix == y.prefix && x.suffix == y.suffix,
        _ => Track::same(a, b),
    }
}

/// `track agent-<version>`, or `no version`.
fn track(tag: &str) -> String {
    Track::of(tag).map_or_else(|| "no version".to_owned(), |t| format!("track {t}"))
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

    fn selected(text: &str, t: &str, rule: &TagRule) -> (Vec<usize>, Vec<String>) {
        let m = Manifest::parse("a.yaml", text.to_owned()).expect("parses");
        let s = select(std::slice::from_ref(&m), &[target(t)], rule);
        assert_eq!(s.found, vec![s.intents.len() + s.skipped.len()]);
        let lines = s
            .intents
            .iter()
            .map(|i| m.site_line(&m.sites[i.site]))
            .collect();
        let why = s
            .skipped
            .iter()
            .map(|f| format!("{}: {}", f.at().unwrap_or_default(), f.message))
            .collect();
        (lines, why)
    }

    // See: issue #12 §7 (one repository, several tag tracks).
    #[test]
    fn issue_12_a_reference_on_another_track_is_not_moved() {
        let text = "containers:\n- image: r.io/a/agent-image:agent-0.0.1\n- image: r.io/a/agent-image:client-0.0.1\n";
        let (moved, skipped) = selected(text, "r.io/a/agent-image:agent-0.0.2", &TagRule::Track);
        assert_eq!(moved, vec![2]);
        assert_eq!(
            skipped,
            vec![
                "a.yaml:3: current tag client-0.0.1 (track client-<version>) is on another tag track than agent-0.0.2 (track agent-<version>); not moved (select it with --match-tag)"
            ]
        );
        let text =
            "containers:\n- image: nginx:1.25-alpine\n- image: nginx:1.25\n- image: nginx:1.25.3\n";
        let (moved, skipped) = selected(text, "nginx:1.26", &TagRule::Track);
        assert_eq!(moved, vec![3, 4], "the number of parts is no track");
        assert!(
            skipped[0].starts_with("a.yaml:2: current tag 1.25-alpine (track <version>-alpine)"),
            "{skipped:?}"
        );
        let (moved, _) = selected(text, "nginx:1.26-alpine", &TagRule::Track);
        assert_eq!(moved, vec![2]);
        // A `v` is a spelling; a branch name is not a version.
        let text = "containers:\n- image: app:v1.2.0\n- image: app:main\n";
        let (moved, skipped) = selected(text, "app:1.3.0", &TagRule::Track);
        assert_eq!(moved, vec![2]);
        assert!(
            skipped[0].starts_with("a.yaml:3: current tag main (no version) is on another tag track than 1.3.0 (track <version>)"),
            "{skipped:?}"
        );
    }

    #[test]
    fn untagged_references_and_digest_targets_always_move_on_the_track_rule() {
        let d = format!("sha256:{}", "1".repeat(64));
        let text = "containers:\n- image: app\n- image: app:client-1.0.0\n";
        assert_eq!(
            selected(text, "app:agent-1.0.0", &TagRule::Track).0,
            vec![2]
        );
        assert_eq!(
            selected(text, &format!("app@{d}"), &TagRule::Track).0,
            vec![2, 3]
        );
        // Tags without a version share a track when their shapes match.
        let text = "containers:\n- image: app:sha-abc1234\n- image: app:latest\n";
        assert_eq!(
            selected(text, "app:sha-def5678", &TagRule::Track).0,
            vec![2]
        );
    }

    #[test]
    fn match_tag_selects_by_the_current_tag() {
        let text =
            "containers:\n- image: app:agent-0.0.1\n- image: app:client-0.0.1\n- image: app\n";
        let rule = TagRule::Matches(Regex::new("^client-").expect("valid"));
        let (moved, skipped) = selected(text, "app:agent-0.0.2", &rule);
        assert_eq!(moved, vec![3]);
        assert_eq!(
            skipped,
            vec![
                "a.yaml:2: current tag agent-0.0.1 does not match --match-tag \"^client-\"; not moved",
                "a.yaml:4: no current tag, and --match-tag \"^client-\" does not match the empty string; not moved",
            ]
        );
        let all = TagRule::Matches(Regex::new("").expect("valid"));
        assert_eq!(selected(text, "app:agent-0.0.2", &all).0, vec![2, 3, 4]);
    }
}

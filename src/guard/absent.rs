//! An IMAGE_REF that moves no reference is a failed run, not "already up
//! to date": a typo, a wrong registry or an empty `--files` would otherwise
//! turn a CI bump step green having done nothing. `--allow-absent` makes it
//! a notice, for pipelines that run on repositories where the image may be
//! absent. A reference already at the target counts as found.

use crate::finding::{Finding, Kind};
use crate::plan::Desired;

/// What the run saw of one IMAGE_REF.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    /// References of its repository found, selected or not.
    pub found: usize,
    /// Of those, the ones the tag rule selected.
    pub selected: usize,
    /// `file:line current-tag` of the first references left out by the tag rule.
    pub left_out: Vec<String>,
    /// True if and only if it is held where it cannot be edited (a
    /// skipped block, an unreadable file): reported there, not here.
    pub elsewhere: bool,
    /// `file:line` of chart templates that mention it (their tags come
    /// from values that cannot be tied to the image).
    pub templates: Vec<String>,
    /// The `--match-tag` regex that selected references instead of their
    /// tag track, when one was given.
    pub match_tag: Option<String>,
}

/// One finding per target that selects no reference: an error, or with
/// `allow` a notice. `files` is how many files were read.
pub fn check(desired: &[Desired], seen: &[Seen], files: usize, allow: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    for (t, s) in desired.iter().zip(seen) {
        if s.selected > 0 || (s.found == 0 && s.elsewhere) {
            continue;
        }
        let image = t.reference.name_as_written();
        let mut message = if let (true, Some(re)) = (s.found > 0, &s.match_tag) {
            format!(
                "no reference to {image} has a current tag that --match-tag {re:?} matches: its {} reference(s) hold others ({})",
                s.found,
                shown(&s.left_out)
            )
        } else if s.found > 0 {
            let tag = t.reference.tag().unwrap_or_default();
            format!(
                "no reference to {image} is on the tag track of {tag}: its {} reference(s) are on other tracks ({}); select them with --match-tag REGEX",
                s.found,
                shown(&s.left_out)
            )
        } else {
            format!("no reference to {image} found in {files} file(s)")
        };
        if !s.templates.is_empty() {
            message.push_str(&format!(
                "; {} chart template(s) mention it ({}), but their tags come from values that name no image",
                s.templates.len(),
                shown(&s.templates)
            ));
        }
        out.push(
            if allow {
                Finding::notice(Kind::NoReference, None, format!("{message} (allowed by --allow-absent)"))
            } else {
                if s.found == 0 {
                    message.push_str("; check the IMAGE_REF and --files, or pass --allow-absent where the image may be absent");
                }
                Finding::error(Kind::NoReference, None, message)
            }
            .about(image),
        );
    }
    out
}

/// The first three items, and `…` when there are more.
fn shown(items: &[String]) -> String {
    let mut out = items.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > 3 {
        out.push_str(", …");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Severity;
    use crate::reference::Reference;

    fn target(s: &str) -> Desired {
        Desired {
            arg: s.to_owned(),
            reference: Reference::parse(s).expect("valid"),
            resolved_digest: None,
        }
    }

    // See: issue #12 §3 (silence for things that were never looked at).
    #[test]
    fn issue_12_an_image_ref_that_moves_nothing_fails_unless_allowed() {
        let t = [target("ghcr.io/acme/app:v2")];
        let none = [Seen::default()];
        let f = check(&t, &none, 7, false);
        assert_eq!(f[0].severity, Severity::Error);
        assert_eq!(
            f[0].message,
            "no reference to ghcr.io/acme/app found in 7 file(s); check the IMAGE_REF and --files, or pass --allow-absent where the image may be absent"
        );
        let f = check(&t, &none, 7, true);
        assert_eq!(f[0].severity, Severity::Notice);
        assert!(f[0].message.ends_with("(allowed by --allow-absent)"));
        let found = [Seen {
            found: 2,
            selected: 1,
            ..Seen::default()
        }];
        assert!(check(&t, &found, 7, false).is_empty());
        let elsewhere = [Seen {
            elsewhere: true,
            ..Seen::default()
        }];
        assert!(check(&t, &elsewhere, 7, false).is_empty());
        let off_track = [Seen {
            found: 1,
            left_out: vec!["a.yaml:3 client-0.0.1".into()],
            ..Seen::default()
        }];
        assert_eq!(
            check(&t, &off_track, 7, false)[0].message,
            "no reference to ghcr.io/acme/app is on the tag track of v2: its 1 reference(s) are on other tracks (a.yaml:3 client-0.0.1); select them with --match-tag REGEX"
        );
        // Selected by --match-tag instead of tracks: says so.
        let unmatched = [Seen {
            match_tag: Some("^rc-".into()),
            ..off_track[0].clone()
        }];
        assert_eq!(
            check(&t, &unmatched, 7, false)[0].message,
            "no reference to ghcr.io/acme/app has a current tag that --match-tag \"^rc-\" matches: its 1 reference(s) hold others (a.yaml:3 client-0.0.1)"
        );
    }
}

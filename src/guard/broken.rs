//! A file that could not be read but mentions an image of this run fails
//! the run: without it the change would not be complete.

use crate::discover::Unreadable;
use crate::finding::{Finding, Kind};
use crate::plan::Desired;

/// One error per unreadable file that mentions one of `desired`'s images.
pub fn check(desired: &[Desired], unreadable: &[Unreadable]) -> Vec<Finding> {
    let mut out = Vec::new();
    for u in unreadable {
        let Some(text) = &u.text else { continue };
        if let Some(t) = desired
            .iter()
            .find(|t| mentions(text, &t.reference.repository()))
        {
            let message = format!(
                "{}; it mentions {}, so the run cannot be complete without it",
                u.finding.message.trim_end_matches("; skipped"),
                t.reference.name_as_written()
            );
            out.push(
                Finding::error(Kind::BrokenFile, u.finding.location.clone(), message)
                    .about(t.reference.name_as_written()),
            );
        }
    }
    out
}

/// Returns true if and only if `text` holds something shaped like a
/// reference to the repository (`nginx:1`, `docker.io/library/nginx`,
/// `image: nginx`), not merely the word (a port named `nginx`).
fn mentions(text: &str, repo: &crate::reference::Repository) -> bool {
    !crate::manifest::text::reference_lines(text.as_bytes(), repo).is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::Reference;

    #[test]
    fn mentions_whole_words_only() {
        let repo = Reference::parse("ghcr.io/acme/app:v1")
            .expect("valid")
            .repository();
        assert!(mentions("image: ghcr.io/acme/app:{{ .Values.tag }}", &repo));
        assert!(!mentions("image: ghcr.io/acme/application:v1", &repo));
        let nginx = Reference::parse("nginx:1").expect("valid").repository();
        assert!(mentions("image: nginx:{{ x }}", &nginx));
        assert!(!mentions("image: bitnami/nginx-exporter:1", &nginx));
    }
}

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

/// Returns true if and only if `text` contains the repository path as a
/// whole word (`acme/app`, or `nginx` for `docker.io/library/nginx`).
fn mentions(text: &str, repo: &crate::reference::Repository) -> bool {
    let path = repo.path();
    let needle = if repo.domain() == "docker.io" {
        path.strip_prefix("library/").unwrap_or(path)
    } else {
        path
    };
    let word = |c: char| c.is_ascii_alphanumeric() || "-_./".contains(c);
    text.match_indices(needle).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + needle.len()..].chars().next();
        !before.is_some_and(|c| word(c) && c != '/') && !after.is_some_and(|c| word(c) && c != '.')
    })
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

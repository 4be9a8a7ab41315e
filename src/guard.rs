//! Guard: decides which planned changes may be written. Pins
//! (`# gitops-bump:ignore`), stale digests, sites that cannot hold the
//! target, and broken files that mention a target. Pure.

use serde::Serialize;

use crate::backend::Problem;
use crate::manifest::Manifest;
use crate::plan::Candidate;
use crate::settings::Target;

/// A site left alone on purpose.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// File path.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// Target image.
    pub image: String,
    /// Why.
    pub reason: String,
}

/// A reason the whole run must fail with nothing written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// File path.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong and what to do, one line.
    pub message: String,
}

/// The guard's verdict.
#[derive(Debug, Default)]
pub struct Verdict {
    /// Candidates cleared for writing (indices into the plan).
    pub allowed: Vec<usize>,
    /// Pinned sites.
    pub skipped: Vec<Skipped>,
    /// Reasons to fail.
    pub refusals: Vec<Refusal>,
}

/// Checks the plan.
pub fn check(
    manifests: &[Manifest],
    targets: &[Target],
    plan: &[Candidate],
    unreadable: &[(Problem, Option<String>)],
    no_verify: bool,
) -> Verdict {
    let mut v = Verdict::default();
    for (i, c) in plan.iter().enumerate() {
        let m = &manifests[c.manifest];
        let site = &m.sites[c.site];
        let line = site.slots().first().map_or(1, |&n| m.node_position(n).0);
        let image = targets[c.target].reference.name_as_written().to_owned();
        if m.is_pinned(site) {
            if !c.changes.is_empty() {
                v.skipped.push(Skipped {
                    file: m.path.clone(),
                    line,
                    image,
                    reason: "pinned by # gitops-bump:ignore".into(),
                });
            }
            continue;
        }
        if c.changes.is_empty() {
            continue;
        }
        if let Some(reason) = &c.unfit {
            v.refusals.push(Refusal {
                file: m.path.clone(),
                line: Some(line),
                message: format!("{image}: {reason}"),
            });
            continue;
        }
        if let (Some(old), true) = (&c.stale_digest, no_verify) {
            let short = old.get(..19).unwrap_or(old);
            v.refusals.push(Refusal {
                file: m.path.clone(),
                line: Some(line),
                message: format!("{image} is pinned to digest {short}…, and with --no-verify the new digest is unknown; pass {image}:TAG@sha256:… or drop --no-verify"),
            });
            continue;
        }
        v.allowed.push(i);
    }
    for (problem, text) in unreadable {
        let Some(text) = text else { continue };
        if let Some(t) = targets
            .iter()
            .find(|t| mentions(text, &t.reference.repository()))
        {
            v.refusals.push(Refusal {
                file: problem.file.clone(),
                line: problem.line,
                message: format!(
                    "{}; it mentions {}, so the run cannot be complete without it",
                    problem.message.trim_end_matches("; skipped"),
                    t.reference.name_as_written()
                ),
            });
        }
    }
    v
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

//! A file that could not be read but holds a reference to an image of this
//! run, not already in the target state, fails the run: without it the
//! change would not be complete. A Helm chart template is not read (it is
//! not YAML until Helm renders it) and counts only where it writes the
//! image with a literal tag: a line that takes the tag from values
//! (`app:{{ .Values.tag }}`) is changed through the values file.

use crate::discover::Unreadable;
use crate::finding::{Finding, Kind, Location};
use crate::manifest::text::reference_lines;
use crate::plan::Desired;
use crate::reference::Repository;

/// One error per unreadable file that holds a reference to one of
/// `desired`'s images that the run would change.
pub fn check(desired: &[Desired], unreadable: &[Unreadable]) -> Vec<Finding> {
    let mut out = Vec::new();
    for u in unreadable {
        if let Some(t) = desired
            .iter()
            .find(|t| u.mentions.contains(&needle(&t.reference.repository())))
        {
            let image = t.reference.name_as_written();
            let message = format!(
                "{}; it mentions {image}, so the run cannot be complete without it",
                u.finding.message.trim_end_matches("; skipped"),
            );
            out.push(
                Finding::error(Kind::BrokenFile, u.finding.location.clone(), message).about(image),
            );
            continue;
        }
        let Some(text) = &u.text else { continue };
        let template = u.finding.kind == Kind::ChartTemplate;
        let Some((t, line)) = desired.iter().find_map(|t| {
            stale_lines(text, t)
                .into_iter()
                .find(|&l| !(template && line_of(text, l).contains("{{")))
                .map(|l| (t, l))
        }) else {
            continue;
        };
        let image = t.reference.name_as_written();
        let finding = if template {
            Finding::error(
                Kind::BrokenFile,
                Some(Location::line(u.finding.file(), line)),
                format!(
                    "this Helm chart template writes {image} with a literal tag, and templates are not edited; take the tag from values, or leave the file out with --exclude"
                ),
            )
        } else {
            let message = format!(
                "{}; it mentions {image}, so the run cannot be complete without it",
                u.finding.message.trim_end_matches("; skipped"),
            );
            Finding::error(Kind::BrokenFile, u.finding.location.clone(), message)
        };
        out.push(finding.about(image));
    }
    out
}

/// For `sync`, which checks every reference of the images it tracks: the
/// finding of each unreadable file, an error when the file holds a
/// reference to one of `tracked` (its references cannot be checked, so no
/// verdict about that image is complete), else its warning unchanged. A
/// Helm chart template is not a manifest and keeps its notice.
pub fn unchecked(tracked: &[Repository], unreadable: &[Unreadable]) -> Vec<Finding> {
    unreadable
        .iter()
        .map(|u| {
            if u.finding.kind != Kind::FileSkipped {
                return u.finding.clone();
            }
            let found = tracked.iter().find_map(|repo| {
                if u.mentions.contains(&needle(repo)) {
                    return Some((repo, None));
                }
                let text = u.text.as_deref()?;
                let line = reference_lines(text.as_bytes(), repo).into_iter().next()?;
                Some((repo, Some(line)))
            });
            let Some((repo, line)) = found else {
                return u.finding.clone();
            };
            let holder = line.map_or_else(|| "it".to_owned(), |l| format!("line {l}"));
            let message = format!(
                "{}; {holder} holds a reference to {repo}, which sync tracks, so it cannot be checked",
                u.finding.message.trim_end_matches("; skipped"),
            );
            Finding::error(Kind::BrokenFile, u.finding.location.clone(), message)
                .about(repo.to_string())
        })
        .collect()
}

/// The word a streaming search looks for to tell whether a file too large
/// to read mentions `repo`: its path, without Docker Hub's `library/`
/// (`nginx` is how `docker.io/library/nginx` is written), in the form
/// [`mentions`](crate::backend::files::mentions) matches.
pub fn needle(repo: &crate::reference::Repository) -> String {
    let path = repo.path();
    match repo.domain() {
        "docker.io" => path.strip_prefix("library/").unwrap_or(path).to_owned(),
        _ => path.to_owned(),
    }
}

/// The 1-based lines of `text` that hold something shaped like a reference
/// to `target`'s repository (`redis:7`, `docker.io/library/redis`,
/// `image: redis`, but not a port named `redis`) other than the target
/// reference itself: a line already holding `name:TAG` (with the target's
/// digest when it names one; any pin when it names none) needs no change.
pub fn stale_lines(text: &str, target: &Desired) -> Vec<usize> {
    let repo = target.reference.repository();
    let path = repo.path();
    let name = match repo.domain() {
        "docker.io" => path.strip_prefix("library/").unwrap_or(path),
        _ => path,
    };
    let mut wanted = name.to_owned();
    if let Some(tag) = target.reference.tag() {
        wanted.push(':');
        wanted.push_str(tag);
    }
    if let Some(digest) = target.reference.digest() {
        wanted.push('@');
        wanted.push_str(digest);
    }
    reference_lines(text.as_bytes(), &repo)
        .into_iter()
        .filter(|&l| {
            !holds(
                line_of(text, l),
                &wanted,
                target.reference.digest().is_some(),
            )
        })
        .collect()
}

/// Returns true if and only if `line` holds `wanted` (`name:tag[@digest]`)
/// as a whole reference: not followed by more tag characters, nor by a
/// digest when `wanted` has one already.
fn holds(line: &str, wanted: &str, has_digest: bool) -> bool {
    line.match_indices(wanted)
        .any(|(at, _)| match line.as_bytes().get(at + wanted.len()) {
            None => true,
            Some(b) if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_') => false,
            Some(b'@') => !has_digest,
            Some(_) => true,
        })
}

/// Line `n` (1-based) of `text`, or `""`.
fn line_of(text: &str, n: usize) -> &str {
    text.lines().nth(n.saturating_sub(1)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::files::skipped;
    use crate::reference::Reference;

    fn target(s: &str) -> Desired {
        Desired {
            arg: s.to_owned(),
            reference: Reference::parse(s).expect("valid"),
            resolved_digest: None,
        }
    }

    fn unreadable(path: &str, text: &str, kind: Kind) -> Unreadable {
        let mut finding = skipped(path, "invalid YAML at column 1: x; skipped".into());
        finding.kind = kind;
        finding.location = Some(Location::line(path, 1));
        Unreadable {
            finding,
            text: Some(text.to_owned()),
            mentions: Vec::new(),
        }
    }

    #[test]
    fn mentions_whole_references_only() {
        let t = target("ghcr.io/acme/app:v2");
        assert_eq!(
            stale_lines("image: ghcr.io/acme/app:{{ .Values.tag }}", &t),
            vec![1]
        );
        assert!(stale_lines("image: ghcr.io/acme/application:v1", &t).is_empty());
        let nginx = target("nginx:1.27");
        assert_eq!(stale_lines("a: 1\nimage: nginx:{{ x }}", &nginx), vec![2]);
        assert!(stale_lines("image: bitnami/nginx-exporter:1", &nginx).is_empty());
        assert!(stale_lines("ports:\n- name: nginx\nnginx.conf: |\n", &nginx).is_empty());
    }

    // See: issue #12 §9 (a reference already in the target state is never a
    // reason to refuse).
    #[test]
    fn issue_12_a_reference_already_at_the_target_needs_no_file() {
        let t = target("ghcr.io/acme/app:v2");
        assert!(stale_lines("image: ghcr.io/acme/app:v2\n", &t).is_empty());
        let pinned = format!("image: ghcr.io/acme/app:v2@sha256:{}\n", "a".repeat(64));
        assert!(stale_lines(&pinned, &t).is_empty(), "no digest asked");
        assert_eq!(stale_lines("image: ghcr.io/acme/app:v2.1\n", &t), vec![1]);
        let d = format!("ghcr.io/acme/app:v2@sha256:{}", "b".repeat(64));
        assert_eq!(stale_lines(&pinned, &target(&d)), vec![1], "another digest");
        let broken = [unreadable(
            "b.yaml",
            "x: [\nimage: ghcr.io/acme/app:v2\n",
            Kind::FileSkipped,
        )];
        assert!(check(std::slice::from_ref(&t), &broken).is_empty());
        let broken = [unreadable(
            "b.yaml",
            "x: [\nimage: ghcr.io/acme/app:v1\n",
            Kind::FileSkipped,
        )];
        assert_eq!(
            check(&[t], &broken)[0].message,
            "invalid YAML at column 1: x; it mentions ghcr.io/acme/app, so the run cannot be complete without it"
        );
    }

    // See: issue #13 (item 8, sync): an unreadable file holding a tracked
    // image is an error naming the line; others keep their warning.
    #[test]
    fn issue_13_sync_fails_on_unreadable_holders_of_tracked_images() {
        let tracked = [Repository::parse("ghcr.io/acme/app").expect("valid")];
        let files = [
            unreadable(
                "a.yaml",
                "x: [\nimage: ghcr.io/acme/app:v1\n",
                Kind::FileSkipped,
            ),
            unreadable(
                "b.yaml",
                "x: [\nimage: ghcr.io/acme/other:v1\n",
                Kind::FileSkipped,
            ),
            unreadable(
                "c/templates/d.yaml",
                "image: ghcr.io/acme/app:v1\n",
                Kind::ChartTemplate,
            ),
        ];
        let found = unchecked(&tracked, &files);
        assert_eq!(found[0].severity, crate::finding::Severity::Error);
        assert_eq!(
            found[0].message,
            "invalid YAML at column 1: x; line 2 holds a reference to ghcr.io/acme/app, which sync tracks, so it cannot be checked"
        );
        assert_eq!(found[1], files[1].finding);
        assert_eq!(found[2], files[2].finding);
        let mut big = unreadable("big.yaml", "", Kind::FileSkipped);
        big.text = None;
        big.mentions = vec!["acme/app".into()];
        assert_eq!(unchecked(&tracked, &[big])[0].kind, Kind::BrokenFile);
    }

    // See: issue #12 §5 (false refusals by chart templates).
    #[test]
    fn issue_12_chart_templates_count_only_literal_tags() {
        let redis = target("redis:7.2");
        let t = "ports:\n- name: redis\nimage: \"{{ .Values.redis.repository }}:{{ .Values.redis.tag }}\"\nredis.conf: |\n  x\n";
        let templates = [unreadable("c/templates/d.yaml", t, Kind::ChartTemplate)];
        assert!(check(std::slice::from_ref(&redis), &templates).is_empty());
        let t = "{{- if .Values.on }}\nimage: redis:{{ .Values.tag }}\n{{- end }}\n";
        let templates = [unreadable("c/templates/d.yaml", t, Kind::ChartTemplate)];
        assert!(
            check(std::slice::from_ref(&redis), &templates).is_empty(),
            "tag from values"
        );
        let t = "{{- if .Values.on }}\nimage: redis:7.0\n{{- end }}\n";
        let templates = [unreadable("c/templates/d.yaml", t, Kind::ChartTemplate)];
        let found = check(&[redis], &templates);
        assert_eq!(found[0].at().as_deref(), Some("c/templates/d.yaml:2"));
        assert!(
            found[0].message.contains("literal tag"),
            "{}",
            found[0].message
        );
    }
}

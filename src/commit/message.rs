//! Commit messages and pull-request texts: the `--message` template, the
//! subject summary, and the `Gitops-Bump-*` trailers ([`super::trailer`])
//! that let later runs (and people) see who moved what. Pure.

use std::collections::BTreeMap;
use std::collections::BTreeSet;

use super::trailer::{Move, Trailers};
use crate::plan::Update;

/// Default template: a conventional-commit subject.
pub const DEFAULT_TEMPLATE: &str = "chore(gitops): {summary}";

/// How a writer signs its commits: `--message`, `--writer-id`, `--skip-ci`.
#[derive(Clone, Debug)]
pub struct Template {
    /// The subject template; `None` means [`DEFAULT_TEMPLATE`].
    pub subject: Option<String>,
    /// Writer identity for the `Gitops-Bump-Writer` trailer.
    pub writer: String,
    /// Add `[skip ci]` to the subject.
    pub skip_ci: bool,
}

/// Renders the message for `updates`, with trailers and the write's
/// `Gitops-Bump-Id` (`id`, fresh per write).
pub fn render(template: &Template, updates: &[Update], id: &str) -> String {
    let msg = render_with_id(
        template.subject.as_deref().unwrap_or(DEFAULT_TEMPLATE),
        &template.writer,
        updates,
        id,
    );
    if template.skip_ci { skip_ci(&msg) } else { msg }
}

/// Adds `[skip ci]` to the subject, which GitHub Actions reads to skip push
/// and pull_request workflows (docs: "Skipping workflow runs").
pub fn skip_ci(message: &str) -> String {
    let (subject, rest) = message.split_once('\n').unwrap_or((message, ""));
    if subject.contains("[skip ci]") {
        return message.to_owned();
    }
    format!("{subject} [skip ci]\n{rest}")
}

/// Renders with an explicit id (deterministic for tests).
pub fn render_with_id(template: &str, writer: &str, updates: &[Update], id: &str) -> String {
    // image → (from values, to value)
    let mut images: BTreeMap<&str, (BTreeSet<&str>, BTreeSet<&str>)> = BTreeMap::new();
    for u in updates {
        let e = images.entry(u.image.as_str()).or_default();
        e.0.insert(u.from.as_str());
        e.1.insert(u.to.as_str());
    }
    let list = |set: &BTreeSet<&str>| {
        set.iter()
            .map(|s| if s.is_empty() { "(none)" } else { s })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let summary = match images.len() {
        1 => images
            .iter()
            .map(|(i, (_, to))| format!("bump {i} to {}", list(to)))
            .collect::<String>(),
        n => format!(
            "bump {n} images: {}",
            images
                .iter()
                .map(|(i, (_, to))| format!("{} to {}", image_basename(i), list(to)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let names: Vec<&str> = images.keys().copied().collect();
    let froms: Vec<String> = images.values().map(|(f, _)| list(f)).collect();
    let tos: Vec<String> = images.values().map(|(_, t)| list(t)).collect();
    let subject = template
        .replace("{summary}", &summary)
        .replace("{image}", &names.join(", "))
        .replace("{from}", &froms.join(", "))
        .replace("{to}", &tos.join(", "));
    let trailers = Trailers {
        moves: images
            .iter()
            .map(|(image, (from, to))| Move {
                image: (*image).to_owned(),
                from: from.iter().map(|s| (*s).to_owned()).collect(),
                to: to.iter().map(|s| (*s).to_owned()).collect(),
            })
            .collect(),
        writer: Some(writer.to_owned()),
        id: Some(id.to_owned()),
    };
    format!("{}\n\n{}", subject.trim_end(), trailers.render())
}

/// Title and body of the pull request for `updates` (pull-request mode).
/// The title is the commit subject without `[skip ci]` (it would mean
/// nothing there); the body lists every update as `file:line`, from → to.
pub fn pull_request(template: &Template, updates: &[Update]) -> (String, String) {
    let subject = template.subject.as_deref().unwrap_or(DEFAULT_TEMPLATE);
    let message = render_with_id(subject, &template.writer, updates, "");
    let title = message.lines().next().unwrap_or("").trim().to_owned();
    (title, pull_request_body(updates))
}

/// The pull-request body: a table of updates and how the branch is kept.
pub fn pull_request_body(updates: &[Update]) -> String {
    let cell = |s: &str| markdown_cell(if s.is_empty() { "(none)" } else { s });
    let mut body = String::from(
        "gitops-bump sets these image references:\n\n| file:line | image | from → to |\n|---|---|---|\n",
    );
    for u in updates {
        body.push_str(&format!(
            "| `{}:{}` | `{}` | `{}` → `{}` |\n",
            cell(&u.file),
            u.line,
            cell(&u.image),
            cell(&u.from),
            cell(&u.to)
        ));
    }
    body.push_str(
        "\ngitops-bump re-creates this branch from the base branch on every run, so this pull request always holds exactly one bump on top of the latest base. Commits pushed to the branch by hand stop further updates.\n",
    );
    body
}

/// A Markdown table cell: no `|`, backticks or line breaks that would end
/// it or the table.
pub fn markdown_cell(s: &str) -> String {
    s.replace('|', "\\|")
        .replace('`', "'")
        .replace(['\n', '\r'], " ")
}

/// `ghcr.io/acme/backend` → `backend`, for short subjects.
fn image_basename(image: &str) -> &str {
    image.rsplit('/').next().unwrap_or(image)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Dialect;

    fn update(image: &str, from: &str, to: &str) -> Update {
        Update {
            file: "a.yaml".into(),
            line: 1,
            column: 1,
            dialect: Dialect::Workload,
            image: image.into(),
            from: from.into(),
            to: to.into(),
            aliases: vec![],
        }
    }

    #[test]
    fn trailers_per_image_and_placeholders() {
        let msg = render_with_id(
            "deploy {image} {from} -> {to}",
            "ci",
            &[
                update("ghcr.io/acme/app", "v1", "v2"),
                update("ghcr.io/acme/app", "v0", "v2"),
            ],
            "ID",
        );
        assert_eq!(
            msg,
            "deploy ghcr.io/acme/app v0, v1 -> v2\n\nGitops-Bump-Image: ghcr.io/acme/app\nGitops-Bump-From: v0, v1\nGitops-Bump-To: v2\nGitops-Bump-Writer: ci\nGitops-Bump-Id: ID\n"
        );
    }

    #[test]
    fn pull_request_body_lists_file_line_from_to() {
        let body = pull_request_body(&[update("ghcr.io/acme/app", "v1", "v2")]);
        assert!(
            body.contains("| `a.yaml:1` | `ghcr.io/acme/app` | `v1` → `v2` |\n"),
            "{body}"
        );
    }

    #[test]
    fn skip_ci_goes_on_the_subject_once() {
        assert_eq!(skip_ci("a\n\nT: x\n"), "a [skip ci]\n\nT: x\n");
        assert_eq!(skip_ci("a [skip ci]\n"), "a [skip ci]\n");
    }

    #[test]
    fn default_summary_names_images() {
        let msg = render_with_id(
            DEFAULT_TEMPLATE,
            "w",
            &[update("a/x", "1", "2"), update("b/y", "", "3")],
            "ID",
        );
        assert!(
            msg.starts_with("chore(gitops): bump 2 images: x to 2, y to 3\n\n"),
            "{msg}"
        );
        assert!(msg.contains("Gitops-Bump-From: (none)\n"));
    }
}

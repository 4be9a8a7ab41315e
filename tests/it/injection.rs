//! Workflow-command and terminal injection through text output: file
//! names, comments on image lines, diff context and `explain` labels or
//! tag lists that a repository controls must never become a command to the
//! GitHub runner, nor reach a terminal as control characters, on any line
//! the binary prints; the exact bytes stay in `--output json`.
//! See: issue #13 (item 3).

use std::path::Path;

use crate::common::{Run, gitops_bump, snapshot};

/// A Deployment using `ghcr.io/acme/app:v1`, with a hostile comment on the
/// image line and a block scalar whose line would be a diff context line
/// starting with ` ::error::`.
const HOSTILE_DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      containers:
      - name: app
        command:
        - |
          ::error::pwned-by-context
        image: ghcr.io/acme/app:v1 # ##[warning]pwned-by-comment \u{202e}txt.exe
";

/// File names that each break one rule of the runner or a terminal.
const HOSTILE_NAMES: &[&str] = &[
    "##[error]pwned-legacy.yaml",
    "cr\r::error::pwned-cr.yaml",
    "term\u{1b}]0;pwned\u{7}\u{1b}[2J.yaml",
];

/// An unrelated file that does not parse, named to start a command line.
const SKIPPED_NAME: &str = "evil\n::error::pwned-lf.yaml";

fn hostile_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in HOSTILE_NAMES {
        std::fs::write(dir.path().join(name), HOSTILE_DEPLOYMENT).expect("write");
    }
    std::fs::write(dir.path().join(SKIPPED_NAME), "a: [\n").expect("write");
    dir
}

/// The workflow commands the GitHub runner would process in `output`: it
/// breaks lines at LF, CR and CRLF, trims leading white space before
/// looking for `::`, and finds the legacy `##[` anywhere in a line
/// (actions/runner `ActionCommand.TryParseV2`, then `TryParse`).
fn runner_commands(output: &str) -> Vec<String> {
    output
        .split(['\n', '\r'])
        .filter_map(|line| {
            let trimmed = line.trim_start();
            if trimmed.starts_with("::") {
                Some(trimmed.to_owned())
            } else {
                line.find("##[").map(|at| line[at..].to_owned())
            }
        })
        .collect()
}

/// Asserts that every command the runner would see in `r` is one that
/// gitops-bump means to send.
fn only_our_commands(r: &Run) {
    const OURS: &[&str] = &[
        "::error title=gitops-bump",
        "::warning title=gitops-bump",
        "::notice title=gitops-bump",
        "::group::diff",
        "::endgroup::",
    ];
    for (stream, text) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
        for command in runner_commands(text) {
            assert!(
                OURS.iter().any(|ours| command.starts_with(ours)),
                "{stream} carries a command gitops-bump did not mean: {command:?}\n{r:?}"
            );
        }
    }
}

/// Asserts that nothing in `r` would drive a terminal.
fn no_terminal_controls(r: &Run) {
    for (stream, text) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
        let bad = text.char_indices().find(|&(i, c)| {
            let lone_cr = c == '\r' && !text[i + 1..].starts_with('\n');
            lone_cr
                || (c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        });
        assert!(bad.is_none(), "{stream} has {bad:?}: {text:?}");
    }
}

fn set(dir: &Path, actions: bool, extra: &[&str]) -> Run {
    let mut cmd = gitops_bump()
        .args(["set", "--no-verify", "--dir"])
        .args([dir])
        .args(extra)
        .args(["ghcr.io/acme/app:v2"]);
    if actions {
        cmd = cmd.env("GITHUB_ACTIONS", "true");
    }
    cmd.run()
}

#[test]
fn issue_13_hostile_names_and_comments_never_become_runner_commands() {
    let dir = hostile_repo();
    let before = snapshot(dir.path());
    let r = set(dir.path(), true, &["--dry-run"]);
    assert_eq!(r.code, 0, "{r:?}");
    only_our_commands(&r);
    no_terminal_controls(&r);
    // Each file is still named, with the dangerous characters visible.
    for shown in [
        "would update #\\u{23}[error]pwned-legacy.yaml:11  ghcr.io/acme/app  v1 → v2  [workload]",
        "would update cr\\r::error::pwned-cr.yaml:11  ghcr.io/acme/app  v1 → v2  [workload]",
        "would update term\\u{1b}]0;pwned\\u{7}\\u{1b}[2J.yaml:11  ghcr.io/acme/app  v1 → v2  [workload]",
        "--- a/#\\u{23}[error]pwned-legacy.yaml",
        "           \\u{3a}:error::pwned-by-context",
        "-        image: ghcr.io/acme/app:v1 # #\\u{23}[warning]pwned-by-comment \\u{202e}txt.exe",
        "  #\\u{23}[error]pwned-legacy.yaml:11 holds \"image: ghcr.io/acme/app:v2 # #\\u{23}[warning]pwned-by-comment \\u{202e}txt.exe\"",
    ] {
        assert!(r.stdout.contains(shown), "{shown:?} in\n{}", r.stdout);
    }
    // The unrelated skipped file's warning: its LF breaks the line, and the
    // part after it is not a command.
    assert!(
        r.stderr
            .contains("warning: evil\n\\u{3a}:error::pwned-lf.yaml:1: invalid YAML"),
        "{}",
        r.stderr
    );
    assert_eq!(snapshot(dir.path()), before, "a dry run writes nothing");

    // Outside Actions the same lines are printed: no terminal control either.
    let local = set(dir.path(), false, &["--dry-run"]);
    assert_eq!(local.code, 0, "{local:?}");
    no_terminal_controls(&local);
    only_our_commands(&local);
}

#[test]
fn issue_13_json_keeps_the_exact_names_and_writes_them() {
    let dir = hostile_repo();
    let r = set(dir.path(), true, &["--output", "json"]);
    assert_eq!(r.code, 0, "{r:?}");
    only_our_commands(&r);
    no_terminal_controls(&r);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("valid JSON");
    let mut files: Vec<&str> = v["updates"]
        .as_array()
        .expect("updates")
        .iter()
        .map(|u| u["file"].as_str().expect("file"))
        .collect();
    files.sort_unstable();
    let mut want = HOSTILE_NAMES.to_vec();
    want.sort_unstable();
    assert_eq!(files, want, "the exact names, nothing lost");
    assert_eq!(v["problems"][0]["file"], SKIPPED_NAME);
    // The files were written, byte for byte as planned.
    for name in HOSTILE_NAMES {
        let text = std::fs::read_to_string(dir.path().join(name)).expect("read");
        assert_eq!(
            text,
            HOSTILE_DEPLOYMENT.replace("app:v1 #", "app:v2 #"),
            "{name:?}"
        );
    }
}

#[test]
fn issue_13_hostile_explain_labels_and_tag_lists_are_neutralised() {
    let tags = tempfile::NamedTempFile::new().expect("tempfile");
    std::fs::write(tags.path(), "v1.0.0\nv1.1.0\n").expect("write");
    let explain = |label: &str, tags: &Path, extra: &[&str]| {
        gitops_bump()
            .env("GITHUB_ACTIONS", "true")
            .args(["explain", label, "--tags-from"])
            .args([tags])
            .args(extra)
            .run()
    };
    // IMAGE is only a label offline, and starts the first line.
    let r = explain("::error::pwned-label", tags.path(), &[]);
    assert_eq!(r.code, 0, "{r:?}");
    only_our_commands(&r);
    assert!(
        r.stdout
            .starts_with("\\u{3a}:error::pwned-label  policy semver:*  (2 tags)\n"),
        "{}",
        r.stdout
    );
    // A tag list line that is no tag is quoted in the error.
    let bad = tempfile::NamedTempFile::new().expect("tempfile");
    for line in [
        "v1##[error]pwned-tag",
        "  ::error::pwned-tag",
        "v1\u{1b}[2Jx",
    ] {
        std::fs::write(bad.path(), format!("v1.0.0\n{line}\n")).expect("write");
        let r = explain("app", bad.path(), &[]);
        assert_eq!(r.code, 2, "{r:?}");
        only_our_commands(&r);
        no_terminal_controls(&r);
        assert!(r.stderr.contains(": line 2: "), "{}", r.stderr);
    }
    // JSON: the regex is echoed in reasons and warnings, re-escaped only.
    let r = explain(
        "app",
        tags.path(),
        &["--output", "json", "--filter", "##[error]x"],
    );
    assert_eq!(r.code, 1, "{r:?}");
    only_our_commands(&r);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("valid JSON");
    assert!(
        v["candidates"][0]["reason"]
            .as_str()
            .is_some_and(|s| s.contains("\"##[error]x\"")),
        "{v}"
    );
}

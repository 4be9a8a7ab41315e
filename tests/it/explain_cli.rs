//! `explain` end to end through the real binary (offline, `--tags-from`).

use std::io::Write;
use std::process::Stdio;

use crate::common::gitops_bump;

fn explain_stdin(args: &[&str], tags: &str) -> (i32, String, String) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_gitops-bump"))
        .args(["explain", "ghcr.io/acme/app", "--tags-from", "-"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // The binary may exit before reading stdin (a bad policy): a broken pipe is fine.
    let _ = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(tags.as_bytes());
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn json_lists_every_candidate_with_its_reason() {
    let (code, out, _) = explain_stdin(
        &["--policy", "semver:^1.0", "--output", "json"],
        "v1.2.3\nv2.0.0\nv1.3.0-rc.1\nlatest\nv1.9.9.sig\n",
    );
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["selected"]["tag"], "v1.2.3");
    assert_eq!(v["selected"]["digest"], serde_json::Value::Null);
    let candidates = v["candidates"].as_array().expect("candidates");
    assert_eq!(candidates.len(), 5);
    let reason = |tag: &str| {
        candidates
            .iter()
            .find(|c| c["tag"] == tag)
            .map(|c| {
                (
                    c["kept"].as_bool(),
                    c["reason"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .expect("tag")
    };
    assert_eq!(reason("v1.2.3"), (Some(true), "kept".to_owned()));
    assert!(
        reason("v2.0.0").1.starts_with("outside the range"),
        "{:?}",
        reason("v2.0.0")
    );
    assert!(reason("v1.3.0-rc.1").1.starts_with("pre-release"));
    assert!(reason("v1.9.9.sig").1.starts_with("excluded"));
    assert!(
        v["warnings"]
            .as_array()
            .expect("warnings")
            .iter()
            .any(|w| w.as_str().unwrap_or_default().contains("latest"))
    );
}

#[test]
fn nothing_selected_exits_1_with_null() {
    let (code, out, _) = explain_stdin(
        &["--policy", "semver:>=3", "--output", "json"],
        "v1.0.0\nv2.0.0\n",
    );
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["selected"], serde_json::Value::Null);
    assert!(
        v["warnings"].to_string().contains("v2.0.0"),
        "names the newest version: {v}"
    );
}

#[test]
fn desc_over_timestamps_warns_it_selects_the_oldest() {
    let (code, _, err) = explain_stdin(
        &[
            "--policy",
            "alphabetical:desc",
            "--filter",
            "^main-(?P<ts>[0-9]+)$",
            "--extract",
            "$ts",
        ],
        "main-20240101\nmain-20240301\n",
    );
    assert_eq!(code, 0);
    assert!(err.contains("oldest"), "{err}");
}

#[test]
fn invalid_policy_range_or_regex_exit_2_naming_it() {
    for (args, needle) in [
        (
            vec!["--policy", "semver:1.x.y"],
            "--policy: invalid semver range \"1.x.y\"",
        ),
        (
            vec!["--policy", "newest"],
            "--policy: unknown policy \"newest\"",
        ),
        (
            vec!["--filter", "(unclosed"],
            "--filter: invalid filter regex \"(unclosed\"",
        ),
        (
            vec!["--exclude", "["],
            "--exclude: invalid exclusion regex \"[\"",
        ),
    ] {
        let (code, _, err) = explain_stdin(&args, "v1.0.0\n");
        assert_eq!(code, 2, "{args:?}");
        assert!(err.contains(needle), "{needle} in {err}");
    }
    let r = gitops_bump()
        .args(["explain", "x", "--tags-from", "/nonexistent/tags.txt"])
        .run();
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("--tags-from /nonexistent/tags.txt"),
        "{}",
        r.stderr
    );
    let (code, _, err) = explain_stdin(&[], "v1\nnot a tag\n");
    assert_eq!(code, 2);
    assert!(err.contains("line 2: \"not a tag\""), "{err}");
}

#[test]
fn lenient_parsing_admits_short_versions() {
    let (strict, out, _) = explain_stdin(
        &["--policy", "semver:>=1", "--output", "json"],
        "1.2\n1.1.0\n",
    );
    assert_eq!(strict, 0);
    assert!(
        out.contains("\"tag\": \"1.1.0\""),
        "strict ignores 1.2: {out}"
    );
    let (lenient, out, _) = explain_stdin(
        &[
            "--policy",
            "semver:>=1",
            "--semver-parse",
            "lenient",
            "--output",
            "json",
        ],
        "1.2\n1.1.0\n",
    );
    assert_eq!(lenient, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["selected"]["tag"], "1.2");
}

/// One "probably not what you meant" case: the arguments and tags that trigger the warning,
/// text it must name, and a corrected configuration that must stay silent.
struct WarningCase {
    code: &'static str,
    args: &'static [&'static str],
    tags: &'static str,
    selected: Option<&'static str>,
    names: &'static [&'static str],
    silent_args: &'static [&'static str],
    silent_tags: &'static str,
}

const WARNING_CASES: &[WarningCase] = &[
    WarningCase {
        code: "numbers-compared-as-text",
        args: &["--policy", "alphabetical"],
        tags: "1.0.0-1\n1.0.0-2\n1.0.0-9\n1.0.0-10\n1.0.0-14\n",
        selected: Some("1.0.0-9"),
        names: &["\"1.0.0-9\"", "\"1.0.0-14\"", "--policy numerical"],
        silent_args: &[
            "--policy",
            "numerical",
            "--filter",
            r"^1\.0\.0-(?P<n>[0-9]+)$",
            "--extract",
            "$n",
        ],
        silent_tags: "1.0.0-1\n1.0.0-2\n1.0.0-9\n1.0.0-10\n1.0.0-14\n",
    },
    WarningCase {
        code: "concatenated-numbers",
        args: &[
            "--policy",
            "numerical",
            "--filter",
            "^(?P<date>[0-9]{8})-(?P<n>[0-9]+)$",
            "--extract",
            "$date$n",
        ],
        tags: "20220209-22\n20220210-1\n",
        selected: Some("20220209-22"),
        names: &[
            "\"20220209-22\" as 2022020922",
            "\"20220210-1\" as 202202101",
        ],
        silent_args: &[
            "--policy",
            "semver:*",
            "--filter",
            "^(?P<date>[0-9]{8})-(?P<n>[0-9]+)$",
            "--extract",
            "${date}.${n}.0",
        ],
        silent_tags: "20220209-22\n20220210-1\n",
    },
    WarningCase {
        code: "bare-number-wins",
        args: &["--policy", "semver:*", "--semver-parse", "lenient"],
        tags: "1.25.3\n917005\n1.24.0\n",
        selected: Some("917005"),
        names: &["\"917005\"", "917005.0.0", "\"1.25.3\""],
        silent_args: &["--policy", "semver:*"],
        silent_tags: "1.25.3\n917005\n1.24.0\n",
    },
    WarningCase {
        code: "desc-selects-oldest",
        args: &["--policy", "alphabetical:desc"],
        tags: "2024-01-02T10-00-00Z\n2023-12-31T23-59-59Z\n2024-01-03T00-00-00Z\n",
        selected: Some("2023-12-31T23-59-59Z"),
        names: &[
            "\"2023-12-31T23-59-59Z\"",
            "\"2024-01-03T00-00-00Z\"",
            "order asc",
        ],
        silent_args: &["--policy", "alphabetical"],
        silent_tags: "2024-01-02T10-00-00Z\n2023-12-31T23-59-59Z\n2024-01-03T00-00-00Z\n",
    },
    WarningCase {
        code: "not-numbers",
        args: &["--policy", "numerical"],
        tags: "1\n2\nlatest\n",
        selected: None,
        names: &["\"latest\"", "Flux fails the whole policy", "--filter"],
        silent_args: &["--policy", "numerical", "--filter", "^[0-9]+$"],
        silent_tags: "1\n2\nlatest\n",
    },
    WarningCase {
        code: "filter-matches-nothing",
        args: &["--filter", "^v[0-9]"],
        tags: "1.0.0\n1.1.0\n",
        selected: None,
        names: &["\"^v[0-9]\"", "\"1.1.0\", \"1.0.0\""],
        silent_args: &["--filter", "^v?[0-9]"],
        silent_tags: "1.0.0\n1.1.0\n",
    },
    WarningCase {
        code: "range-matches-nothing",
        args: &["--policy", "semver:~1.5"],
        tags: "1.4.9\n1.6.0\n2.0.0\n",
        selected: None,
        names: &["\"1.4.9\" (1.4.9, below it)", "\"1.6.0\" (1.6.0, above it)"],
        silent_args: &["--policy", "semver:~1.6"],
        silent_tags: "1.4.9\n1.6.0\n2.0.0\n",
    },
    WarningCase {
        code: "empty-extract",
        args: &[
            "--policy",
            "alphabetical",
            "--filter",
            "^build-(?P<n>[0-9]*)",
            "--extract",
            "$n",
        ],
        tags: "build-12\nbuild-x\n",
        selected: Some("build-12"),
        names: &["group \"n\"", "\"build-x\""],
        silent_args: &[
            "--policy",
            "alphabetical",
            "--filter",
            "^build-(?P<n>[0-9]+)",
            "--extract",
            "$n",
        ],
        silent_tags: "build-12\nbuild-x\n",
    },
    WarningCase {
        code: "extract-group-undefined",
        args: &[
            "--policy",
            "alphabetical",
            "--filter",
            r"^v(\d)$",
            "--extract",
            "$1suffix",
        ],
        tags: "v1\n",
        selected: Some("v1"),
        names: &["\"1suffix\"", "${1}suffix"],
        silent_args: &[
            "--policy",
            "alphabetical",
            "--filter",
            r"^v(\d)$",
            "--extract",
            "${1}suffix",
        ],
        silent_tags: "v1\n",
    },
    WarningCase {
        code: "no-versions",
        args: &["--policy", "semver:*"],
        tags: "1.2\n1.3\n",
        selected: None,
        names: &["\"1.3\", \"1.2\"", "--semver-parse lenient"],
        silent_args: &["--policy", "semver:*", "--semver-parse", "lenient"],
        silent_tags: "1.2\n1.3\n",
    },
];

/// Runs `explain --tags-from FILE` with `args` over `tags`, as text and as JSON; returns the
/// text run's stderr and the JSON document.
fn explain_file(args: &[&str], tags: &str) -> (String, serde_json::Value) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("tags.txt");
    std::fs::write(&file, tags).expect("write tags");
    let base = |extra: &[&str]| {
        gitops_bump()
            .args(["explain", "ghcr.io/acme/app", "--tags-from"])
            .args([&file])
            .args(args)
            .args(extra)
            .run()
    };
    let text = base(&[]);
    assert!(matches!(text.code, 0 | 1), "{args:?}: {}", text.stderr);
    let json = base(&["--output", "json"]);
    let doc = serde_json::from_str(&json.stdout).expect("json");
    (text.stderr, doc)
}

#[test]
fn every_warning_shows_in_text_and_json_and_a_fixed_config_is_silent() {
    for case in WARNING_CASES {
        let tag = format!("[{}]", case.code);
        let (stderr, doc) = explain_file(case.args, case.tags);
        let line = stderr
            .lines()
            .find(|l| l.starts_with("warning: ") && l.ends_with(&tag))
            .unwrap_or_else(|| panic!("{}: no warning line in {stderr}", case.code));
        let shown = doc["warnings"]
            .as_array()
            .expect("warnings")
            .iter()
            .filter_map(|w| w.as_str())
            .find(|w| w.ends_with(&tag))
            .unwrap_or_else(|| panic!("{}: not in JSON {doc}", case.code));
        for needle in case.names {
            assert!(line.contains(needle), "{}: {needle} in {line}", case.code);
            assert!(shown.contains(needle), "{}: {needle} in {shown}", case.code);
        }
        assert_eq!(
            doc["selected"]["tag"].as_str(),
            case.selected,
            "{}: the selection itself is unchanged",
            case.code
        );
        let (stderr, doc) = explain_file(case.silent_args, case.silent_tags);
        assert!(
            !stderr.contains(&tag),
            "{}: fixed config warns: {stderr}",
            case.code
        );
        assert!(
            !doc["warnings"].to_string().contains(&tag),
            "{}: fixed config warns: {doc}",
            case.code
        );
    }
}

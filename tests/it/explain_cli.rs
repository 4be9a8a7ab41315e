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

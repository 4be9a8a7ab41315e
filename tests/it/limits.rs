//! Bounds a run keeps: `explain --deadline` over the whole registry
//! conversation (a registry that never answers ends in one line naming the
//! deadline), and the action's `updates` output and job summary under
//! GitHub's limits, truncated with a note and the count, through the
//! binary as an Actions step. See: issue #13 (item 14).

use crate::common::gitops_bump;
use crate::registry_support::{Fault, FaultProxy, Registry, block_on, empty_docker_config};

#[test]
fn issue_13_explain_stops_at_its_deadline_with_one_line() {
    let reg = Registry::start();
    block_on(reg.pusher().image(
        "acme/app",
        Some("v1.0.0"),
        "linux/amd64",
        "2024-01-01T00:00:00Z",
    ));
    // Every connection is accepted, read, and never answered.
    let proxy = FaultProxy::start(&reg.host(), vec![Fault::Stall], true);
    let docker = empty_docker_config();
    let explain = |host: &str, extra: &[&str]| {
        gitops_bump()
            .env("DOCKER_CONFIG", &docker.path().to_string_lossy())
            .args([
                "explain",
                &format!("{host}/acme/app"),
                "--insecure-registry",
                host,
            ])
            .args(extra)
            .run()
    };
    let r = explain(&proxy.host(), &["--deadline", "2s"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.stdout, "", "{r:?}");
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr.starts_with(&format!(
            "error: explain {}/acme/app: the registry conversation did not finish within --deadline 2s (",
            proxy.host()
        )),
        "{}",
        r.stderr
    );
    // The same registry, answering: the deadline is no obstacle.
    let r = explain(&reg.host(), &["--deadline", "2m"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("selected: v1.0.0@sha256:"),
        "{}",
        r.stdout
    );
    // A bad deadline is a usage error naming the flag.
    let r = explain(&reg.host(), &["--deadline", "soon"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("--deadline \"soon\""), "{}", r.stderr);
}

#[test]
fn issue_13_outputs_and_summary_stay_under_githubs_limits() {
    // 5,000 files with one long-named image each: the updates' JSON alone
    // is about 1.3 MB (2.6 MB as GitHub counts outputs, in UTF-16), the
    // summary's table about 1.2 MB.
    const N: usize = 5_000;
    const IMAGE: &str = "ghcr.io/acme-corporation/platform-team/application-with-a-long-name";
    const DIR: &str = "clusters/production-eu-west-1/namespaces/application-team-platform";
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join(DIR)).expect("mkdir");
    for i in 0..N {
        std::fs::write(
            dir.path().join(format!("{DIR}/deployment-{i:05}.yaml")),
            format!("apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: c\n    image: {IMAGE}:v1.0.0\n"),
        )
        .expect("write");
    }
    let files = tempfile::tempdir().expect("tempdir");
    let output = files.path().join("output");
    let summary = files.path().join("summary");
    std::fs::write(&output, "").expect("write");
    std::fs::write(&summary, "").expect("write");
    let r = gitops_bump()
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &output.to_string_lossy())
        .env("GITHUB_STEP_SUMMARY", &summary.to_string_lossy())
        .args(["set", "--no-verify", "--dry-run", "--dir"])
        .args([dir.path()])
        .args([format!("{IMAGE}:v1.1.0")])
        .run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout.matches("would update clusters/").count(),
        N,
        "the job log keeps every update"
    );

    let outputs = std::fs::read_to_string(&output).expect("outputs");
    assert_eq!(
        heredoc(&outputs, "updates"),
        "[]",
        "a dry run writes nothing"
    );
    let updates = heredoc(&outputs, "planned");
    let utf16_bytes = 2 * updates.encode_utf16().count();
    assert!(utf16_bytes <= 1_000_000, "{utf16_bytes}");
    let v: serde_json::Value = serde_json::from_str(&updates).expect("a JSON value");
    let items = v.as_array().expect("still an array");
    let marker = items.last().expect("marker");
    assert_eq!(marker["truncated"], true, "{marker}");
    assert_eq!(marker["total"], N);
    assert_eq!(marker["shown"].as_u64(), Some(items.len() as u64 - 1));
    assert_eq!(items[0]["file"], format!("{DIR}/deployment-00000.yaml"));
    assert_eq!(items[0]["line"], 6);
    assert!(items.len() > 1000, "{}", items.len());
    assert_eq!(
        heredoc(&outputs, "summary"),
        format!("dry run: {N} value(s) in {N} file(s) would change")
    );

    let md = std::fs::read_to_string(&summary).expect("summary");
    assert!(md.len() <= 1024 * 1024, "{}", md.len());
    assert!(
        md.contains("more update(s) not shown: the job summary is limited to 1 MiB; see the job log or `--output json`"),
        "{}",
        &md[md.len().saturating_sub(2000)..]
    );
    assert!(md.contains("<details><summary>Diff</summary>"));
}

/// The value of output `name` in a `$GITHUB_OUTPUT` file (heredoc form).
fn heredoc(file: &str, name: &str) -> String {
    let start = file
        .lines()
        .position(|l| l.starts_with(&format!("{name}<<")))
        .unwrap_or_else(|| panic!("no {name} in outputs"));
    let lines: Vec<&str> = file.lines().collect();
    let delimiter = lines[start].split_once("<<").expect("heredoc").1;
    lines[start + 1..]
        .iter()
        .take_while(|l| **l != delimiter)
        .copied()
        .collect::<Vec<_>>()
        .join("\n")
}

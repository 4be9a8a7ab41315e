//! Pins the whole visible output of `set` and `explain`: exit code, stdout,
//! stderr, `$GITHUB_OUTPUT` and `$GITHUB_STEP_SUMMARY`, as text and JSON,
//! inside and outside GitHub Actions. The JSON documents and the action's
//! outputs are a public contract, so a change here must be deliberate.
//! See: issue #8 (the refactor proves it preserves behaviour with these).

use std::path::Path;

use crate::common::{example, git_init, gitops_bump};
use crate::fake_github::{self, FakeGitHub};
use crate::registry_support::{Registry, block_on, empty_docker_config};

const BACKEND: &str = "ghcr.io/acme/backend:v1.4.0";
const WORKER: &str = "ghcr.io/acme/worker:2.10";

/// One run's output in a single reviewable transcript, with paths, ports,
/// commit ids, uuids and heredoc delimiters replaced by stable tokens.
struct Transcript {
    text: String,
}

impl Transcript {
    fn assert(&self, f: impl FnOnce(&str)) {
        insta::with_settings!({filters => vec![
            (r"ghadelimiter_[0-9a-f-]{36}", "ghadelimiter_[UUID]"),
            (r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", "[UUID]"),
            (r"\b[0-9a-f]{40}\b", "[SHA]"),
            (r"\b[0-9a-f]{12}\b", "[SHORT]"),
            (r"127\.0\.0\.1:\d+", "[HOST]"),
            (r"/tmp/\.tmp[A-Za-z0-9]+", "[TMP]"),
        ]}, {
            f(&self.text);
        });
    }
}

/// Runs the binary with `args`; with `actions`, as a GitHub Actions step
/// with output and summary files, whose contents join the transcript.
fn run(args: &[&str], actions: bool, env: &[(&str, &str)]) -> Transcript {
    let files = tempfile::tempdir().expect("tempdir");
    let output = files.path().join("output");
    let summary = files.path().join("summary");
    let mut cmd = gitops_bump().args(args);
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    if actions {
        // The runner creates both files before the step starts.
        std::fs::write(&output, "").expect("write");
        std::fs::write(&summary, "").expect("write");
        cmd = cmd
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_OUTPUT", &output.to_string_lossy())
            .env("GITHUB_STEP_SUMMARY", &summary.to_string_lossy());
    }
    let r = cmd.run();
    let mut text = format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        r.code, r.stdout, r.stderr
    );
    if actions {
        for (name, path) in [
            ("$GITHUB_OUTPUT", &output),
            ("$GITHUB_STEP_SUMMARY", &summary),
        ] {
            let body = std::fs::read_to_string(path).unwrap_or_else(|_| "(absent)\n".into());
            text.push_str(&format!("--- {name}\n{body}"));
        }
    }
    Transcript { text }
}

fn dir_args<'a>(dir: &'a Path, rest: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["set", "--no-verify", "--dir", dir.to_str().expect("utf-8")];
    args.extend(rest);
    args
}

#[test]
fn set_dry_run_text() {
    let tmp = example();
    run(&dir_args(tmp.path(), &["--dry-run", BACKEND, WORKER]), false, &[]).assert(|t| {
        insta::assert_snapshot!(t, @r#"
        exit: 0
        --- stdout
        --- a/base/deployment.yaml
        +++ b/base/deployment.yaml
        @@ -17,11 +17,11 @@
             spec:
               initContainers:
                 - name: migrate
        -          image: ghcr.io/acme/backend:v1.3.0   # runs DB migrations first
        +          image: ghcr.io/acme/backend:v1.4.0   # runs DB migrations first
                   args: ["migrate", "up"]
               containers:
                 - name: api
        -          image: "ghcr.io/acme/backend:v1.3.0"
        +          image: "ghcr.io/acme/backend:v1.4.0"
                   ports:
                     - containerPort: 8080
                 - name: proxy
        --- a/charts/backend/values.yaml
        +++ b/charts/backend/values.yaml
        @@ -4,10 +4,10 @@
         image:
           registry: ghcr.io
           repository: acme/backend
        -  tag: "v1.3.0"
        +  tag: "v1.4.0"
           pullPolicy: IfNotPresent
         
         worker:
           image:
             repository: ghcr.io/acme/worker
        -    tag: 2.4 # numeric-looking: must stay a string
        +    tag: "2.10" # numeric-looking: must stay a string
        --- a/jobs/cronjob.yaml
        +++ b/jobs/cronjob.yaml
        @@ -14,5 +14,5 @@
                       image: busybox:1.36
                   containers:
                     - name: report
        -              image: ghcr.io/acme/backend:v1.3.0
        +              image: ghcr.io/acme/backend:v1.4.0
                       args: [report, --since=24h]
        --- a/overlays/dev/kustomization.yaml
        +++ b/overlays/dev/kustomization.yaml
        @@ -5,4 +5,4 @@
           - ../../base
         images:
           - name: ghcr.io/acme/backend
        -    newTag: v1.3.0
        +    newTag: v1.4.0
        would update base/deployment.yaml:20  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [workload]
        would update base/deployment.yaml:24  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [workload]
        would update charts/backend/values.yaml:7  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [helm_values]
        would update charts/backend/values.yaml:13  ghcr.io/acme/worker  2.4 → 2.10  [helm_values]
        would update jobs/cronjob.yaml:17  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [workload]
        would update overlays/dev/kustomization.yaml:8  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [kustomize]
        skipped overlays/prod/kustomization.yaml:9  ghcr.io/acme/backend  pinned by # gitops-bump:ignore
        would verify dir [TMP] after writing:
          base/deployment.yaml:20 holds "image: ghcr.io/acme/backend:v1.4.0   # runs DB migrations first"
          base/deployment.yaml:24 holds "image: \"ghcr.io/acme/backend:v1.4.0\""
          charts/backend/values.yaml:7 holds "tag: \"v1.4.0\""
          charts/backend/values.yaml:13 holds "tag: \"2.10\" # numeric-looking: must stay a string"
          jobs/cronjob.yaml:17 holds "image: ghcr.io/acme/backend:v1.4.0"
          overlays/dev/kustomization.yaml:8 holds "newTag: v1.4.0"
        dry run: 6 value(s) in 4 file(s) would change; nothing written
        --- stderr
        warning: dir [TMP]: no Git history, so the writer guards could not check for fights (reverts of another writer's change, the storm brake); going on
        "#);
    });
}

#[test]
fn set_dry_run_json() {
    let tmp = example();
    run(
        &dir_args(tmp.path(), &["--dry-run", "--output", "json", BACKEND]),
        false,
        &[],
    )
    .assert(|t| {
        insta::assert_snapshot!(t, @r#"
        exit: 0
        --- stdout
        {
          "changed": true,
          "commit": null,
          "dry_run": true,
          "updates": [],
          "planned": [
            {
              "file": "base/deployment.yaml",
              "line": 20,
              "column": 18,
              "dialect": "workload",
              "image": "ghcr.io/acme/backend",
              "from": "v1.3.0",
              "to": "v1.4.0"
            },
            {
              "file": "base/deployment.yaml",
              "line": 24,
              "column": 18,
              "dialect": "workload",
              "image": "ghcr.io/acme/backend",
              "from": "v1.3.0",
              "to": "v1.4.0"
            },
            {
              "file": "charts/backend/values.yaml",
              "line": 7,
              "column": 8,
              "dialect": "helm_values",
              "image": "ghcr.io/acme/backend",
              "from": "v1.3.0",
              "to": "v1.4.0"
            },
            {
              "file": "jobs/cronjob.yaml",
              "line": 17,
              "column": 22,
              "dialect": "workload",
              "image": "ghcr.io/acme/backend",
              "from": "v1.3.0",
              "to": "v1.4.0"
            },
            {
              "file": "overlays/dev/kustomization.yaml",
              "line": 8,
              "column": 13,
              "dialect": "kustomize",
              "image": "ghcr.io/acme/backend",
              "from": "v1.3.0",
              "to": "v1.4.0"
            }
          ],
          "skipped": [
            {
              "file": "overlays/prod/kustomization.yaml",
              "line": 9,
              "image": "ghcr.io/acme/backend",
              "reason": "pinned by # gitops-bump:ignore"
            }
          ],
          "problems": [],
          "errors": [],
          "attempts": 1,
          "diff": "--- a/base/deployment.yaml\n+++ b/base/deployment.yaml\n@@ -17,11 +17,11 @@\n     spec:\n       initContainers:\n         - name: migrate\n-          image: ghcr.io/acme/backend:v1.3.0   # runs DB migrations first\n+          image: ghcr.io/acme/backend:v1.4.0   # runs DB migrations first\n           args: [\"migrate\", \"up\"]\n       containers:\n         - name: api\n-          image: \"ghcr.io/acme/backend:v1.3.0\"\n+          image: \"ghcr.io/acme/backend:v1.4.0\"\n           ports:\n             - containerPort: 8080\n         - name: proxy\n--- a/charts/backend/values.yaml\n+++ b/charts/backend/values.yaml\n@@ -4,7 +4,7 @@\n image:\n   registry: ghcr.io\n   repository: acme/backend\n-  tag: \"v1.3.0\"\n+  tag: \"v1.4.0\"\n   pullPolicy: IfNotPresent\n \n worker:\n--- a/jobs/cronjob.yaml\n+++ b/jobs/cronjob.yaml\n@@ -14,5 +14,5 @@\n               image: busybox:1.36\r\n           containers:\r\n             - name: report\r\n-              image: ghcr.io/acme/backend:v1.3.0\r\n+              image: ghcr.io/acme/backend:v1.4.0\r\n               args: [report, --since=24h]\r\n--- a/overlays/dev/kustomization.yaml\n+++ b/overlays/dev/kustomization.yaml\n@@ -5,4 +5,4 @@\n   - ../../base\n images:\n   - name: ghcr.io/acme/backend\n-    newTag: v1.3.0\n+    newTag: v1.4.0\n",
          "verify": {
            "target": "dir [TMP]",
            "head": null,
            "checks": [
              {
                "file": "base/deployment.yaml",
                "line": 20,
                "text": "          image: ghcr.io/acme/backend:v1.4.0   # runs DB migrations first"
              },
              {
                "file": "base/deployment.yaml",
                "line": 24,
                "text": "          image: \"ghcr.io/acme/backend:v1.4.0\""
              },
              {
                "file": "charts/backend/values.yaml",
                "line": 7,
                "text": "  tag: \"v1.4.0\""
              },
              {
                "file": "jobs/cronjob.yaml",
                "line": 17,
                "text": "              image: ghcr.io/acme/backend:v1.4.0"
              },
              {
                "file": "overlays/dev/kustomization.yaml",
                "line": 8,
                "text": "    newTag: v1.4.0"
              }
            ],
            "conditions": []
          }
        }
        --- stderr
        warning: dir [TMP]: no Git history, so the writer guards could not check for fights (reverts of another writer's change, the storm brake); going on
        "#);
    });
}

#[test]
fn set_write_text_then_up_to_date_json() {
    let tmp = example();
    run(&dir_args(tmp.path(), &[BACKEND, WORKER]), false, &[]).assert(|t| {
        insta::assert_snapshot!(t, @"
        exit: 0
        --- stdout
        updated base/deployment.yaml:20  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [workload]
        updated base/deployment.yaml:24  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [workload]
        updated charts/backend/values.yaml:7  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [helm_values]
        updated charts/backend/values.yaml:13  ghcr.io/acme/worker  2.4 → 2.10  [helm_values]
        updated jobs/cronjob.yaml:17  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [workload]
        updated overlays/dev/kustomization.yaml:8  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [kustomize]
        skipped overlays/prod/kustomization.yaml:9  ghcr.io/acme/backend  pinned by # gitops-bump:ignore
        wrote 6 value(s) in 4 file(s)
        --- stderr
        warning: dir [TMP]: no Git history, so the writer guards could not check for fights (reverts of another writer's change, the storm brake); going on
        ");
    });
    run(
        &dir_args(tmp.path(), &["--output", "json", BACKEND]),
        false,
        &[],
    )
    .assert(|t| {
        insta::assert_snapshot!(t, @r#"
        exit: 0
        --- stdout
        {
          "changed": false,
          "commit": null,
          "dry_run": false,
          "updates": [],
          "planned": [],
          "skipped": [
            {
              "file": "overlays/prod/kustomization.yaml",
              "line": 9,
              "image": "ghcr.io/acme/backend",
              "reason": "pinned by # gitops-bump:ignore"
            }
          ],
          "problems": [],
          "errors": [],
          "attempts": 1
        }
        --- stderr
        "#);
    });
}

#[test]
fn set_write_inside_actions() {
    let tmp = example();
    run(&dir_args(tmp.path(), &[BACKEND]), true, &[]).assert(|t| {
        insta::assert_snapshot!(t, @r#"
        exit: 0
        --- stdout
        ::notice title=gitops-bump%3A image,file=base/deployment.yaml,line=20,col=18::updated ghcr.io/acme/backend v1.3.0 → v1.4.0
        ::notice title=gitops-bump%3A image,file=base/deployment.yaml,line=24,col=18::updated ghcr.io/acme/backend v1.3.0 → v1.4.0
        ::notice title=gitops-bump%3A image,file=charts/backend/values.yaml,line=7,col=8::updated ghcr.io/acme/backend v1.3.0 → v1.4.0
        ::notice title=gitops-bump%3A image,file=jobs/cronjob.yaml,line=17,col=22::updated ghcr.io/acme/backend v1.3.0 → v1.4.0
        ::notice title=gitops-bump%3A image,file=overlays/dev/kustomization.yaml,line=8,col=13::updated ghcr.io/acme/backend v1.3.0 → v1.4.0
        ::notice title=gitops-bump%3A skipped,file=overlays/prod/kustomization.yaml,line=9::ghcr.io/acme/backend pinned by # gitops-bump:ignore
        updated base/deployment.yaml:20  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [workload]
        updated base/deployment.yaml:24  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [workload]
        updated charts/backend/values.yaml:7  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [helm_values]
        updated jobs/cronjob.yaml:17  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [workload]
        updated overlays/dev/kustomization.yaml:8  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [kustomize]
        skipped overlays/prod/kustomization.yaml:9  ghcr.io/acme/backend  pinned by # gitops-bump:ignore
        wrote 5 value(s) in 4 file(s)
        --- stderr
        warning: dir [TMP]: no Git history, so the writer guards could not check for fights (reverts of another writer's change, the storm brake); going on
        --- $GITHUB_OUTPUT
        changed<<ghadelimiter_[UUID]
        true
        ghadelimiter_[UUID]
        commit-sha<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        pull-request-url<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        updates<<ghadelimiter_[UUID]
        [{"file":"base/deployment.yaml","line":20,"column":18,"dialect":"workload","image":"ghcr.io/acme/backend","from":"v1.3.0","to":"v1.4.0"},{"file":"base/deployment.yaml","line":24,"column":18,"dialect":"workload","image":"ghcr.io/acme/backend","from":"v1.3.0","to":"v1.4.0"},{"file":"charts/backend/values.yaml","line":7,"column":8,"dialect":"helm_values","image":"ghcr.io/acme/backend","from":"v1.3.0","to":"v1.4.0"},{"file":"jobs/cronjob.yaml","line":17,"column":22,"dialect":"workload","image":"ghcr.io/acme/backend","from":"v1.3.0","to":"v1.4.0"},{"file":"overlays/dev/kustomization.yaml","line":8,"column":13,"dialect":"kustomize","image":"ghcr.io/acme/backend","from":"v1.3.0","to":"v1.4.0"}]
        ghadelimiter_[UUID]
        planned<<ghadelimiter_[UUID]
        []
        ghadelimiter_[UUID]
        summary<<ghadelimiter_[UUID]
        wrote 5 value(s) in 4 file(s)
        ghadelimiter_[UUID]
        commit<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        pull-request-urls<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        --- $GITHUB_STEP_SUMMARY
        ### gitops-bump: wrote 5 value(s) in 4 file(s)

        | image | file:line | from → to | commit |
        |---|---|---|---|
        | `ghcr.io/acme/backend` | `base/deployment.yaml:20` | `v1.3.0` → `v1.4.0` |  |
        | `ghcr.io/acme/backend` | `base/deployment.yaml:24` | `v1.3.0` → `v1.4.0` |  |
        | `ghcr.io/acme/backend` | `charts/backend/values.yaml:7` | `v1.3.0` → `v1.4.0` |  |
        | `ghcr.io/acme/backend` | `jobs/cronjob.yaml:17` | `v1.3.0` → `v1.4.0` |  |
        | `ghcr.io/acme/backend` | `overlays/dev/kustomization.yaml:8` | `v1.3.0` → `v1.4.0` |  |

        - skipped `overlays/prod/kustomization.yaml:9` (ghcr.io/acme/backend): pinned by # gitops-bump:ignore
        "#);
    });
}

#[test]
fn set_dry_run_inside_actions() {
    let tmp = example();
    run(&dir_args(tmp.path(), &["--dry-run", WORKER]), true, &[]).assert(|t| {
        insta::assert_snapshot!(t, @r#"
        exit: 0
        --- stdout
        ::notice title=gitops-bump%3A image,file=charts/backend/values.yaml,line=13,col=10::would update ghcr.io/acme/worker 2.4 → 2.10
        ::group::diff
        --- a/charts/backend/values.yaml
        +++ b/charts/backend/values.yaml
        @@ -10,4 +10,4 @@
         worker:
           image:
             repository: ghcr.io/acme/worker
        -    tag: 2.4 # numeric-looking: must stay a string
        +    tag: "2.10" # numeric-looking: must stay a string
        ::endgroup::
        would update charts/backend/values.yaml:13  ghcr.io/acme/worker  2.4 → 2.10  [helm_values]
        would verify dir [TMP] after writing:
          charts/backend/values.yaml:13 holds "tag: \"2.10\" # numeric-looking: must stay a string"
        dry run: 1 value(s) in 1 file(s) would change; nothing written
        --- stderr
        warning: dir [TMP]: no Git history, so the writer guards could not check for fights (reverts of another writer's change, the storm brake); going on
        --- $GITHUB_OUTPUT
        changed<<ghadelimiter_[UUID]
        true
        ghadelimiter_[UUID]
        commit-sha<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        pull-request-url<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        updates<<ghadelimiter_[UUID]
        []
        ghadelimiter_[UUID]
        planned<<ghadelimiter_[UUID]
        [{"file":"charts/backend/values.yaml","line":13,"column":10,"dialect":"helm_values","image":"ghcr.io/acme/worker","from":"2.4","to":"2.10"}]
        ghadelimiter_[UUID]
        summary<<ghadelimiter_[UUID]
        dry run: 1 value(s) in 1 file(s) would change
        ghadelimiter_[UUID]
        commit<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        pull-request-urls<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        --- $GITHUB_STEP_SUMMARY
        ### gitops-bump: dry run: 1 value(s) in 1 file(s) would change

        | image | file:line | from → to | commit |
        |---|---|---|---|
        | `ghcr.io/acme/worker` | `charts/backend/values.yaml:13` | `2.4` → `2.10` | dry run |


        <details><summary>Diff</summary>

        ```diff
        --- a/charts/backend/values.yaml
        +++ b/charts/backend/values.yaml
        @@ -10,4 +10,4 @@
         worker:
           image:
             repository: ghcr.io/acme/worker
        -    tag: 2.4 # numeric-looking: must stay a string
        +    tag: "2.10" # numeric-looking: must stay a string
        ```
        </details>
        "#);
    });
}

#[test]
fn set_commit_text() {
    let tmp = example();
    git_init(tmp.path());
    run(
        &dir_args(tmp.path(), &["--commit", "--writer-id", "ci", BACKEND]),
        false,
        &[],
    )
    .assert(|t| {
        insta::assert_snapshot!(t, @"
        exit: 0
        --- stdout
        updated base/deployment.yaml:20  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [workload]
        updated base/deployment.yaml:24  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [workload]
        updated charts/backend/values.yaml:7  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [helm_values]
        updated jobs/cronjob.yaml:17  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [workload]
        updated overlays/dev/kustomization.yaml:8  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [kustomize]
        skipped overlays/prod/kustomization.yaml:9  ghcr.io/acme/backend  pinned by # gitops-bump:ignore
        committed [SHORT] (5 value(s) in 4 file(s))
        --- stderr
        ");
    });
}

/// Commits everything in `dir` as `author`, `ago` seconds ago.
fn commit_ago(dir: &Path, author: &str, ago: u64, message: &str) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let date = format!("@{} +0000", now - ago);
    for args in [&["add", "-A"][..], &["commit", "-q", "-m", message]] {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env("GIT_AUTHOR_NAME", author)
            .env("GIT_AUTHOR_EMAIL", "a@example.com")
            .env("GIT_COMMITTER_NAME", author)
            .env("GIT_COMMITTER_EMAIL", "a@example.com")
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Two writers fighting (issue #11): writer amd64 moved the app two hours
/// ago, and writer arm64 would move it back.
#[test]
fn set_refuses_a_fight_text_json_and_actions() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    crate::common::git(d, &["init", "-q", "-b", "main"]);
    let app =
        |tag: &str| format!("containers:\n  - name: app\n    image: ghcr.io/acme/app:{tag}\n");
    std::fs::write(d.join("app.yaml"), app("sha-aaaaaaa")).expect("write");
    commit_ago(d, "Alice Doe", 3 * 3600, "add the app");
    std::fs::write(d.join("app.yaml"), app("sha-bbbbbbb")).expect("write");
    commit_ago(
        d,
        "gitops-bump",
        2 * 3600,
        "chore(gitops): bump ghcr.io/acme/app to sha-bbbbbbb\n\nGitops-Bump-Image: ghcr.io/acme/app\nGitops-Bump-From: sha-aaaaaaa\nGitops-Bump-To: sha-bbbbbbb\nGitops-Bump-Writer: amd64\nGitops-Bump-Id: 1\n",
    );
    let args = dir_args(d, &["--writer-id", "arm64", "ghcr.io/acme/app:sha-aaaaaaa"]);
    run(&args, false, &[]).assert(|t| {
        insta::assert_snapshot!(t, @"
        exit: 1
        --- stdout
        --- stderr
        error: app.yaml:3: ghcr.io/acme/app: sha-bbbbbbb → sha-aaaaaaa would undo commit [SHORT] by writer amd64 (2h ago), which moved it sha-aaaaaaa → sha-bbbbbbb; this run is writer arm64, so two writers are fighting over this reference. For a deliberate rollback pass --allow-revert; otherwise give both writers the same platforms and policy, or each its own write-back path (or one owner in .gitops-bump.yaml)
        error: nothing written (1 problem(s))
        ");
    });
    let mut json = args.clone();
    json.extend(["--output", "json"]);
    run(&json, false, &[]).assert(|t| {
        insta::assert_snapshot!(t, @r#"
        exit: 1
        --- stdout
        {
          "changed": false,
          "commit": null,
          "dry_run": false,
          "updates": [],
          "planned": [],
          "skipped": [],
          "problems": [],
          "errors": [
            {
              "file": "app.yaml",
              "line": 3,
              "message": "ghcr.io/acme/app: sha-bbbbbbb → sha-aaaaaaa would undo commit [SHORT] by writer amd64 (2h ago), which moved it sha-aaaaaaa → sha-bbbbbbb; this run is writer arm64, so two writers are fighting over this reference. For a deliberate rollback pass --allow-revert; otherwise give both writers the same platforms and policy, or each its own write-back path (or one owner in .gitops-bump.yaml)"
            }
          ],
          "attempts": 1
        }
        --- stderr
        "#);
    });
    run(&args, true, &[]).assert(|t| {
        insta::assert_snapshot!(t, @"
        exit: 1
        --- stdout
        ::error title=gitops-bump,file=app.yaml,line=3::ghcr.io/acme/app: sha-bbbbbbb → sha-aaaaaaa would undo commit [SHORT] by writer amd64 (2h ago), which moved it sha-aaaaaaa → sha-bbbbbbb; this run is writer arm64, so two writers are fighting over this reference. For a deliberate rollback pass --allow-revert; otherwise give both writers the same platforms and policy, or each its own write-back path (or one owner in .gitops-bump.yaml)
        --- stderr
        error: app.yaml:3: ghcr.io/acme/app: sha-bbbbbbb → sha-aaaaaaa would undo commit [SHORT] by writer amd64 (2h ago), which moved it sha-aaaaaaa → sha-bbbbbbb; this run is writer arm64, so two writers are fighting over this reference. For a deliberate rollback pass --allow-revert; otherwise give both writers the same platforms and policy, or each its own write-back path (or one owner in .gitops-bump.yaml)
        error: nothing written (1 problem(s))
        --- $GITHUB_OUTPUT
        changed<<ghadelimiter_[UUID]
        false
        ghadelimiter_[UUID]
        commit-sha<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        pull-request-url<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        updates<<ghadelimiter_[UUID]
        []
        ghadelimiter_[UUID]
        planned<<ghadelimiter_[UUID]
        []
        ghadelimiter_[UUID]
        summary<<ghadelimiter_[UUID]
        failed: ghcr.io/acme/app: sha-bbbbbbb → sha-aaaaaaa would undo commit [SHORT] by writer amd64 (2h ago), which moved it sha-aaaaaaa → sha-bbbbbbb; this run is writer arm64, so two writers are fighting over this reference. For a deliberate rollback pass --allow-revert; otherwise give both writers the same platforms and policy, or each its own write-back path (or one owner in .gitops-bump.yaml)
        ghadelimiter_[UUID]
        commit<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        pull-request-urls<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        --- $GITHUB_STEP_SUMMARY
        ### gitops-bump: failed: ghcr.io/acme/app: sha-bbbbbbb → sha-aaaaaaa would undo commit [SHORT] by writer amd64 (2h ago), which moved it sha-aaaaaaa → sha-bbbbbbb; this run is writer arm64, so two writers are fighting over this reference. For a deliberate rollback pass --allow-revert; otherwise give both writers the same platforms and policy, or each its own write-back path (or one owner in .gitops-bump.yaml)


        - **error** `app.yaml:3`: ghcr.io/acme/app: sha-bbbbbbb → sha-aaaaaaa would undo commit [SHORT] by writer amd64 (2h ago), which moved it sha-aaaaaaa → sha-bbbbbbb; this run is writer arm64, so two writers are fighting over this reference. For a deliberate rollback pass --allow-revert; otherwise give both writers the same platforms and policy, or each its own write-back path (or one owner in .gitops-bump.yaml)
        ");
    });
}

/// A downgrade, a kustomize entry that cannot hold a digest, an unrelated
/// broken file (a warning) and a broken file that mentions the image (an
/// error), all in one refused run.
fn refused_fixture() -> tempfile::TempDir {
    let tmp = example();
    std::fs::write(
        tmp.path().join("broken.yaml"),
        "a: [unclosed\nimage: ghcr.io/acme/backend:v1\n",
    )
    .expect("write");
    std::fs::write(tmp.path().join("other.yaml"), "b: {unclosed\n").expect("write");
    tmp
}

#[test]
fn set_refused_text_json_and_actions() {
    let tmp = refused_fixture();
    let args = dir_args(tmp.path(), &["ghcr.io/acme/backend:v1.2.0"]);
    run(&args, false, &[]).assert(|t| {
        insta::assert_snapshot!(t, @"
        exit: 1
        --- stdout
        skipped overlays/prod/kustomization.yaml:9  ghcr.io/acme/backend  pinned by # gitops-bump:ignore
        --- stderr
        warning: dir [TMP]: no Git history, so the writer guards could not check for fights (reverts of another writer's change, the storm brake); going on
        warning: broken.yaml:2: invalid YAML at column 6: illegal placement of ':' indicator; skipped
        warning: other.yaml:1: invalid YAML at column 4: unclosed bracket '{'; skipped
        error: base/deployment.yaml:20: ghcr.io/acme/backend: v1.3.0 → v1.2.0 is a downgrade (semver order); pass --allow-downgrade to move backwards
        error: base/deployment.yaml:24: ghcr.io/acme/backend: v1.3.0 → v1.2.0 is a downgrade (semver order); pass --allow-downgrade to move backwards
        error: charts/backend/values.yaml:7: ghcr.io/acme/backend: v1.3.0 → v1.2.0 is a downgrade (semver order); pass --allow-downgrade to move backwards
        error: jobs/cronjob.yaml:17: ghcr.io/acme/backend: v1.3.0 → v1.2.0 is a downgrade (semver order); pass --allow-downgrade to move backwards
        error: overlays/dev/kustomization.yaml:8: ghcr.io/acme/backend: v1.3.0 → v1.2.0 is a downgrade (semver order); pass --allow-downgrade to move backwards
        error: broken.yaml:2: invalid YAML at column 6: illegal placement of ':' indicator; it mentions ghcr.io/acme/backend, so the run cannot be complete without it
        error: nothing written (6 problem(s))
        ");
    });
    let mut json = args.clone();
    json.extend(["--output", "json"]);
    run(&json, false, &[]).assert(|t| {
        insta::assert_snapshot!(t, @r#"
        exit: 1
        --- stdout
        {
          "changed": false,
          "commit": null,
          "dry_run": false,
          "updates": [],
          "planned": [],
          "skipped": [
            {
              "file": "overlays/prod/kustomization.yaml",
              "line": 9,
              "image": "ghcr.io/acme/backend",
              "reason": "pinned by # gitops-bump:ignore"
            }
          ],
          "problems": [
            {
              "file": "broken.yaml",
              "line": 2,
              "message": "invalid YAML at column 6: illegal placement of ':' indicator; skipped"
            },
            {
              "file": "other.yaml",
              "line": 1,
              "message": "invalid YAML at column 4: unclosed bracket '{'; skipped"
            }
          ],
          "errors": [
            {
              "file": "base/deployment.yaml",
              "line": 20,
              "message": "ghcr.io/acme/backend: v1.3.0 → v1.2.0 is a downgrade (semver order); pass --allow-downgrade to move backwards"
            },
            {
              "file": "base/deployment.yaml",
              "line": 24,
              "message": "ghcr.io/acme/backend: v1.3.0 → v1.2.0 is a downgrade (semver order); pass --allow-downgrade to move backwards"
            },
            {
              "file": "charts/backend/values.yaml",
              "line": 7,
              "message": "ghcr.io/acme/backend: v1.3.0 → v1.2.0 is a downgrade (semver order); pass --allow-downgrade to move backwards"
            },
            {
              "file": "jobs/cronjob.yaml",
              "line": 17,
              "message": "ghcr.io/acme/backend: v1.3.0 → v1.2.0 is a downgrade (semver order); pass --allow-downgrade to move backwards"
            },
            {
              "file": "overlays/dev/kustomization.yaml",
              "line": 8,
              "message": "ghcr.io/acme/backend: v1.3.0 → v1.2.0 is a downgrade (semver order); pass --allow-downgrade to move backwards"
            },
            {
              "file": "broken.yaml",
              "line": 2,
              "message": "invalid YAML at column 6: illegal placement of ':' indicator; it mentions ghcr.io/acme/backend, so the run cannot be complete without it"
            }
          ],
          "attempts": 1
        }
        --- stderr
        warning: dir [TMP]: no Git history, so the writer guards could not check for fights (reverts of another writer's change, the storm brake); going on
        "#);
    });
    run(&args, true, &[]).assert(|t| {
        insta::assert_snapshot!(t, @"
        exit: 1
        --- stdout
        ::error title=gitops-bump,file=base/deployment.yaml,line=20::ghcr.io/acme/backend: v1.3.0 → v1.2.0 is a downgrade (semver order); pass --allow-downgrade to move backwards
        ::error title=gitops-bump,file=base/deployment.yaml,line=24::ghcr.io/acme/backend: v1.3.0 → v1.2.0 is a downgrade (semver order); pass --allow-downgrade to move backwards
        ::error title=gitops-bump,file=charts/backend/values.yaml,line=7::ghcr.io/acme/backend: v1.3.0 → v1.2.0 is a downgrade (semver order); pass --allow-downgrade to move backwards
        ::error title=gitops-bump,file=jobs/cronjob.yaml,line=17::ghcr.io/acme/backend: v1.3.0 → v1.2.0 is a downgrade (semver order); pass --allow-downgrade to move backwards
        ::error title=gitops-bump,file=overlays/dev/kustomization.yaml,line=8::ghcr.io/acme/backend: v1.3.0 → v1.2.0 is a downgrade (semver order); pass --allow-downgrade to move backwards
        ::error title=gitops-bump,file=broken.yaml,line=2::invalid YAML at column 6: illegal placement of ':' indicator; it mentions ghcr.io/acme/backend, so the run cannot be complete without it
        ::warning title=gitops-bump%3A file skipped,file=broken.yaml,line=2::invalid YAML at column 6: illegal placement of ':' indicator; skipped
        ::warning title=gitops-bump%3A file skipped,file=other.yaml,line=1::invalid YAML at column 4: unclosed bracket '{'; skipped
        ::notice title=gitops-bump%3A skipped,file=overlays/prod/kustomization.yaml,line=9::ghcr.io/acme/backend pinned by # gitops-bump:ignore
        skipped overlays/prod/kustomization.yaml:9  ghcr.io/acme/backend  pinned by # gitops-bump:ignore
        --- stderr
        warning: dir [TMP]: no Git history, so the writer guards could not check for fights (reverts of another writer's change, the storm brake); going on
        warning: broken.yaml:2: invalid YAML at column 6: illegal placement of ':' indicator; skipped
        warning: other.yaml:1: invalid YAML at column 4: unclosed bracket '{'; skipped
        error: base/deployment.yaml:20: ghcr.io/acme/backend: v1.3.0 → v1.2.0 is a downgrade (semver order); pass --allow-downgrade to move backwards
        error: base/deployment.yaml:24: ghcr.io/acme/backend: v1.3.0 → v1.2.0 is a downgrade (semver order); pass --allow-downgrade to move backwards
        error: charts/backend/values.yaml:7: ghcr.io/acme/backend: v1.3.0 → v1.2.0 is a downgrade (semver order); pass --allow-downgrade to move backwards
        error: jobs/cronjob.yaml:17: ghcr.io/acme/backend: v1.3.0 → v1.2.0 is a downgrade (semver order); pass --allow-downgrade to move backwards
        error: overlays/dev/kustomization.yaml:8: ghcr.io/acme/backend: v1.3.0 → v1.2.0 is a downgrade (semver order); pass --allow-downgrade to move backwards
        error: broken.yaml:2: invalid YAML at column 6: illegal placement of ':' indicator; it mentions ghcr.io/acme/backend, so the run cannot be complete without it
        error: nothing written (6 problem(s))
        --- $GITHUB_OUTPUT
        changed<<ghadelimiter_[UUID]
        false
        ghadelimiter_[UUID]
        commit-sha<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        pull-request-url<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        updates<<ghadelimiter_[UUID]
        []
        ghadelimiter_[UUID]
        planned<<ghadelimiter_[UUID]
        []
        ghadelimiter_[UUID]
        summary<<ghadelimiter_[UUID]
        failed: ghcr.io/acme/backend: v1.3.0 → v1.2.0 is a downgrade (semver order); pass --allow-downgrade to move backwards
        ghadelimiter_[UUID]
        commit<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        pull-request-urls<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        --- $GITHUB_STEP_SUMMARY
        ### gitops-bump: failed: ghcr.io/acme/backend: v1.3.0 → v1.2.0 is a downgrade (semver order); pass --allow-downgrade to move backwards


        - skipped `overlays/prod/kustomization.yaml:9` (ghcr.io/acme/backend): pinned by # gitops-bump:ignore
        - **error** `base/deployment.yaml:20`: ghcr.io/acme/backend: v1.3.0 → v1.2.0 is a downgrade (semver order); pass --allow-downgrade to move backwards
        - **error** `base/deployment.yaml:24`: ghcr.io/acme/backend: v1.3.0 → v1.2.0 is a downgrade (semver order); pass --allow-downgrade to move backwards
        - **error** `charts/backend/values.yaml:7`: ghcr.io/acme/backend: v1.3.0 → v1.2.0 is a downgrade (semver order); pass --allow-downgrade to move backwards
        - **error** `jobs/cronjob.yaml:17`: ghcr.io/acme/backend: v1.3.0 → v1.2.0 is a downgrade (semver order); pass --allow-downgrade to move backwards
        - **error** `overlays/dev/kustomization.yaml:8`: ghcr.io/acme/backend: v1.3.0 → v1.2.0 is a downgrade (semver order); pass --allow-downgrade to move backwards
        - **error** `broken.yaml:2`: invalid YAML at column 6: illegal placement of ':' indicator; it mentions ghcr.io/acme/backend, so the run cannot be complete without it
        - warning `broken.yaml:2`: invalid YAML at column 6: illegal placement of ':' indicator; skipped
        - warning `other.yaml:1`: invalid YAML at column 4: unclosed bracket '{'; skipped
        ");
    });
}

#[test]
fn set_refuses_stale_digests_and_unfit_entries() {
    let tmp = example();
    let digest = format!("sha256:{}", "1".repeat(64));
    std::fs::write(
        tmp.path().join("pinned.yaml"),
        format!("containers:\n- image: ghcr.io/acme/backend:v1.3.0@{digest}\n"),
    )
    .expect("write");
    run(&dir_args(tmp.path(), &[BACKEND]), false, &[]).assert(|t| {
        insta::assert_snapshot!(t, @"
        exit: 1
        --- stdout
        would update base/deployment.yaml:20  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [workload] (not written)
        would update base/deployment.yaml:24  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [workload] (not written)
        would update charts/backend/values.yaml:7  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [helm_values] (not written)
        would update jobs/cronjob.yaml:17  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [workload] (not written)
        would update overlays/dev/kustomization.yaml:8  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [kustomize] (not written)
        skipped overlays/prod/kustomization.yaml:9  ghcr.io/acme/backend  pinned by # gitops-bump:ignore
        --- stderr
        warning: dir [TMP]: no Git history, so the writer guards could not check for fights (reverts of another writer's change, the storm brake); going on
        error: pinned.yaml:2: ghcr.io/acme/backend is pinned to digest sha256:[SHORT]…, and with --no-verify the new digest is unknown; pass ghcr.io/acme/backend:TAG@sha256:… or drop --no-verify
        error: nothing written (1 problem(s))
        ");
    });
    let tmp = example();
    run(
        &dir_args(tmp.path(), &[&format!("ghcr.io/acme/backend:v1.4.0@{digest}")]),
        false,
        &[],
    )
    .assert(|t| {
        insta::assert_snapshot!(t, @"
        exit: 0
        --- stdout
        updated base/deployment.yaml:20  ghcr.io/acme/backend  v1.3.0 → v1.4.0@sha256:1111111111111111111111111111111111111111111111111111111111111111  [workload]
        updated base/deployment.yaml:24  ghcr.io/acme/backend  v1.3.0 → v1.4.0@sha256:1111111111111111111111111111111111111111111111111111111111111111  [workload]
        updated charts/backend/values.yaml:7  ghcr.io/acme/backend  v1.3.0 → v1.4.0@sha256:1111111111111111111111111111111111111111111111111111111111111111  [helm_values]
        updated jobs/cronjob.yaml:17  ghcr.io/acme/backend  v1.3.0 → v1.4.0@sha256:1111111111111111111111111111111111111111111111111111111111111111  [workload]
        updated overlays/dev/kustomization.yaml:8  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [kustomize]
        updated overlays/dev/kustomization.yaml:8  ghcr.io/acme/backend  (none) → sha256:1111111111111111111111111111111111111111111111111111111111111111  [kustomize]
        skipped overlays/prod/kustomization.yaml:9  ghcr.io/acme/backend  pinned by # gitops-bump:ignore
        wrote 6 value(s) in 4 file(s)
        --- stderr
        warning: dir [TMP]: no Git history, so the writer guards could not check for fights (reverts of another writer's change, the storm brake); going on
        ");
    });
}

#[test]
fn usage_errors_outside_and_inside_actions() {
    run(&["set", "--dir", "/nonexistent", BACKEND], false, &[]).assert(|t| {
        insta::assert_snapshot!(t, @"
        exit: 2
        --- stdout
        --- stderr
        error: --dir /nonexistent: not a directory
        ");
    });
    run(
        &["set", "--no-verify", "--dir", "/nonexistent", BACKEND],
        true,
        &[],
    )
    .assert(|t| {
        insta::assert_snapshot!(t, @"
        exit: 2
        --- stdout
        ::error title=gitops-bump::--dir /nonexistent: not a directory
        --- stderr
        error: --dir /nonexistent: not a directory
        --- $GITHUB_OUTPUT
        --- $GITHUB_STEP_SUMMARY
        ");
    });
    run(
        &[
            "explain",
            "app",
            "--policy",
            "semver:nope",
            "--tags-from",
            "-",
        ],
        false,
        &[],
    )
    .assert(|t| {
        insta::assert_snapshot!(t, @r#"
            exit: 2
            --- stdout
            --- stderr
            error: --policy: invalid semver range "nope": improper constraint: "nope"
            "#);
    });
}

fn tags_file(tags: &str) -> tempfile::NamedTempFile {
    let f = tempfile::NamedTempFile::new().expect("tempfile");
    std::fs::write(f.path(), tags).expect("write");
    f
}

#[test]
fn explain_offline_text_json_and_actions() {
    let tags = tags_file("v1.2.3\nv2.0.0\nv1.3.0-rc.1\nlatest\nv1.9.9.sig\n");
    let path = tags.path().to_str().expect("utf-8");
    let base = [
        "explain",
        "ghcr.io/acme/app",
        "--tags-from",
        path,
        "--policy",
        "semver:^1.0",
    ];
    run(&base, false, &[]).assert(|t| {
        insta::assert_snapshot!(t, @r#"
        exit: 0
        --- stdout
        ghcr.io/acme/app  policy semver:^1.0  (5 tags)
          #1   v1.2.3       key 1.2.3  ← selected
          drop v2.0.0       outside the range: "2.0.0" does not have same major version as "1.0"
          drop v1.9.9.sig   excluded by "^.*\\.sig$"
          drop v1.3.0-rc.1  pre-release, and no comparator of its AND-group of the range has one (add -0 to admit pre-releases, e.g. >=1.0.0-0)
          drop latest       not a version: invalid semantic version
        selected: v1.2.3
        --- stderr
        warning: tag "latest" is ignored by the semver policy (not a version); to follow a moving tag use the digest policy (digest:latest) [mutable-tag-ignored]
        "#);
    });
    let mut json = base.to_vec();
    json.extend(["--output", "json"]);
    run(&json, false, &[]).assert(|t| {
        insta::assert_snapshot!(t, @r#"
        exit: 0
        --- stdout
        {
          "selected": {
            "tag": "v1.2.3",
            "digest": null
          },
          "candidates": [
            {
              "tag": "v2.0.0",
              "kept": false,
              "reason": "outside the range: \"2.0.0\" does not have same major version as \"1.0\"",
              "key": "2.0.0"
            },
            {
              "tag": "v1.9.9.sig",
              "kept": false,
              "reason": "excluded by \"^.*\\\\.sig$\"",
              "key": null
            },
            {
              "tag": "v1.3.0-rc.1",
              "kept": false,
              "reason": "pre-release, and no comparator of its AND-group of the range has one (add -0 to admit pre-releases, e.g. >=1.0.0-0)",
              "key": "1.3.0-rc.1"
            },
            {
              "tag": "v1.2.3",
              "kept": true,
              "reason": "kept",
              "key": "1.2.3"
            },
            {
              "tag": "latest",
              "kept": false,
              "reason": "not a version: invalid semantic version",
              "key": null
            }
          ],
          "warnings": [
            "tag \"latest\" is ignored by the semver policy (not a version); to follow a moving tag use the digest policy (digest:latest) [mutable-tag-ignored]"
          ]
        }
        --- stderr
        "#);
    });
    run(&base, true, &[]).assert(|t| {
        insta::assert_snapshot!(t, @r#"
        exit: 0
        --- stdout
        ghcr.io/acme/app  policy semver:^1.0  (5 tags)
          #1   v1.2.3       key 1.2.3  ← selected
          drop v2.0.0       outside the range: "2.0.0" does not have same major version as "1.0"
          drop v1.9.9.sig   excluded by "^.*\\.sig$"
          drop v1.3.0-rc.1  pre-release, and no comparator of its AND-group of the range has one (add -0 to admit pre-releases, e.g. >=1.0.0-0)
          drop latest       not a version: invalid semantic version
        selected: v1.2.3
        --- stderr
        warning: tag "latest" is ignored by the semver policy (not a version); to follow a moving tag use the digest policy (digest:latest) [mutable-tag-ignored]
        --- $GITHUB_OUTPUT
        selected-tag<<ghadelimiter_[UUID]
        v1.2.3
        ghadelimiter_[UUID]
        selected-digest<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        summary<<ghadelimiter_[UUID]
        semver:^1.0 selects v1.2.3
        ghadelimiter_[UUID]
        --- $GITHUB_STEP_SUMMARY
        "#);
    });
    // A warning, and a policy that selects nothing (exit 1).
    let stamps = tags_file("main-20240101\nmain-20240301\nmain-20240201\n");
    let stamps = stamps.path().to_str().expect("utf-8");
    run(
        &["explain", "app", "--tags-from", stamps, "--policy", "alphabetical:desc"],
        false,
        &[],
    )
    .assert(|t| {
        insta::assert_snapshot!(t, @r#"
        exit: 0
        --- stdout
        app  policy alphabetical:desc  (3 tags)
          #1   main-20240101  key main-20240101  ← selected
          #2   main-20240201  key main-20240201
          #3   main-20240301  key main-20240301
        selected: main-20240101
        --- stderr
        warning: order desc selects the smallest value, and these tags look like dates or time stamps, so it selects the oldest, "main-20240101", and stays there as newer tags arrive (the newest is "main-20240301"); use order asc (the default) to follow the newest [desc-selects-oldest]
        "#);
    });
    run(
        &[
            "explain",
            "app",
            "--tags-from",
            stamps,
            "--policy",
            "semver:*",
        ],
        true,
        &[],
    )
    .assert(|t| {
        insta::assert_snapshot!(t, @r#"
        exit: 1
        --- stdout
        app  policy semver:*  (3 tags)
          drop main-20240301  not a version: invalid semantic version
          drop main-20240201  not a version: invalid semantic version
          drop main-20240101  not a version: invalid semantic version
        --- stderr
        warning: none of the 3 tags that passed the filters reads as a version ("main-20240301", "main-20240201", "main-20240101"); the semver policy cannot order them: use alphabetical, numerical with --extract, newest-build or digest:TAG [no-versions]
        error: nothing selected: no tag satisfies policy semver:*
        --- $GITHUB_OUTPUT
        selected-tag<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        selected-digest<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        summary<<ghadelimiter_[UUID]
        nothing selected: no tag satisfies policy semver:*
        ghadelimiter_[UUID]
        --- $GITHUB_STEP_SUMMARY
        "#);
    });
}

/// `acme/app` with an amd64+arm64 v1.1.0 and an amd64-only v1.2.0.
fn registry() -> Registry {
    let reg = Registry::start();
    let p = reg.pusher();
    let both = ["linux/amd64", "linux/arm64/v8"];
    block_on(p.index("acme/app", "v1.1.0", &both, "2024-02-01T00:00:00Z"));
    block_on(p.index(
        "acme/app",
        "v1.2.0",
        &["linux/amd64"],
        "2024-03-01T00:00:00Z",
    ));
    reg
}

#[test]
fn explain_and_set_against_the_registry() {
    let reg = registry();
    let config = empty_docker_config();
    let docker = config.path().to_str().expect("utf-8").to_owned();
    let env = [("DOCKER_CONFIG", docker.as_str())];
    let host = reg.host();
    let image = format!("{host}/acme/app");
    let explain = [
        "explain",
        "--insecure-registry",
        &host,
        &image,
        "--platform",
        "linux/arm64",
    ];
    run(&explain, false, &env).assert(|t| {
        insta::assert_snapshot!(t, @"
        exit: 0
        --- stdout
        [HOST]/acme/app  policy semver:*  (2 tags)
          #1   v1.1.0  key 1.1.0  ← selected
          drop v1.2.0  platform linux/arm64 missing
        selected: v1.1.0@sha256:cf709876b59408287fbdea4f793d122b569bb83c1e8f3953104bc7362bab7757
        --- stderr
        ");
    });
    run(&explain, true, &env).assert(|t| {
        insta::assert_snapshot!(t, @"
        exit: 0
        --- stdout
        [HOST]/acme/app  policy semver:*  (2 tags)
          #1   v1.1.0  key 1.1.0  ← selected
          drop v1.2.0  platform linux/arm64 missing
        selected: v1.1.0@sha256:cf709876b59408287fbdea4f793d122b569bb83c1e8f3953104bc7362bab7757
        --- stderr
        --- $GITHUB_OUTPUT
        selected-tag<<ghadelimiter_[UUID]
        v1.1.0
        ghadelimiter_[UUID]
        selected-digest<<ghadelimiter_[UUID]
        sha256:cf709876b59408287fbdea4f793d122b569bb83c1e8f3953104bc7362bab7757
        ghadelimiter_[UUID]
        summary<<ghadelimiter_[UUID]
        semver:* selects v1.1.0
        ghadelimiter_[UUID]
        --- $GITHUB_STEP_SUMMARY
        ");
    });
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        tmp.path().join("app.yaml"),
        format!("containers:\n- image: {image}:v1.1.0\n"),
    )
    .expect("write");
    let dir = tmp.path().to_str().expect("utf-8");
    let target = format!("{image}:v1.2.0");
    let set = [
        "set",
        "--insecure-registry",
        &host,
        "--dir",
        dir,
        "--platform",
        "linux/arm64",
        &target,
    ];
    run(&set, false, &env).assert(|t| {
        insta::assert_snapshot!(t, @"
        exit: 1
        --- stdout
        --- stderr
        error: [HOST]/acme/app:v1.2.0 lacks platform linux/arm64 (it has: linux/amd64)
        error: nothing written (1 problem(s))
        ");
    });
    let mut json = set.to_vec();
    json.extend(["--output", "json"]);
    run(&json, false, &env).assert(|t| {
        insta::assert_snapshot!(t, @r#"
        exit: 1
        --- stdout
        {
          "changed": false,
          "commit": null,
          "dry_run": false,
          "updates": [],
          "planned": [],
          "skipped": [],
          "problems": [],
          "errors": [
            {
              "file": "",
              "line": null,
              "message": "[HOST]/acme/app:v1.2.0 lacks platform linux/arm64 (it has: linux/amd64)"
            }
          ],
          "registry": {
            "requests": 2,
            "ratelimit_remaining": null
          },
          "attempts": 0
        }
        --- stderr
        "#);
    });
    let missing = format!("{image}:v9.9.9");
    run(
        &["set", "--insecure-registry", &host, "--dir", dir, &missing],
        true,
        &env,
    )
    .assert(|t| {
        insta::assert_snapshot!(t, @"
        exit: 1
        --- stdout
        ::error title=gitops-bump::[HOST]/acme/app:v9.9.9: tag not found in the registry
        --- stderr
        error: [HOST]/acme/app:v9.9.9: tag not found in the registry
        error: nothing written (1 problem(s))
        --- $GITHUB_OUTPUT
        changed<<ghadelimiter_[UUID]
        false
        ghadelimiter_[UUID]
        commit-sha<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        pull-request-url<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        updates<<ghadelimiter_[UUID]
        []
        ghadelimiter_[UUID]
        planned<<ghadelimiter_[UUID]
        []
        ghadelimiter_[UUID]
        summary<<ghadelimiter_[UUID]
        failed: [HOST]/acme/app:v9.9.9: tag not found in the registry
        ghadelimiter_[UUID]
        commit<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        pull-request-urls<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        --- $GITHUB_STEP_SUMMARY
        ### gitops-bump: failed: [HOST]/acme/app:v9.9.9: tag not found in the registry


        - **error** ``: [HOST]/acme/app:v9.9.9: tag not found in the registry
        ");
    });
}

fn github_env(fake: &FakeGitHub) -> Vec<(&'static str, String)> {
    vec![
        ("GITHUB_TOKEN", fake_github::TOKEN.to_owned()),
        ("GITHUB_API_URL", fake.api_url()),
        ("GITHUB_GRAPHQL_URL", fake.graphql_url()),
    ]
}

#[test]
fn set_through_github_commit_and_pull_request() {
    let files = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/gitops");
    let fake = FakeGitHub::start(&files);
    let env = github_env(&fake);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let repo = [
        "set",
        "--no-verify",
        "--repo",
        "acme/gitops",
        "--branch",
        "main",
    ];
    let mut dry = repo.to_vec();
    dry.extend(["--dry-run", BACKEND]);
    run(&dry, false, &env).assert(|t| {
        insta::assert_snapshot!(t, @r#"
        exit: 0
        --- stdout
        --- a/base/deployment.yaml
        +++ b/base/deployment.yaml
        @@ -17,11 +17,11 @@
             spec:
               initContainers:
                 - name: migrate
        -          image: ghcr.io/acme/backend:v1.3.0   # runs DB migrations first
        +          image: ghcr.io/acme/backend:v1.4.0   # runs DB migrations first
                   args: ["migrate", "up"]
               containers:
                 - name: api
        -          image: "ghcr.io/acme/backend:v1.3.0"
        +          image: "ghcr.io/acme/backend:v1.4.0"
                   ports:
                     - containerPort: 8080
                 - name: proxy
        --- a/charts/backend/values.yaml
        +++ b/charts/backend/values.yaml
        @@ -4,7 +4,7 @@
         image:
           registry: ghcr.io
           repository: acme/backend
        -  tag: "v1.3.0"
        +  tag: "v1.4.0"
           pullPolicy: IfNotPresent
         
         worker:
        --- a/jobs/cronjob.yaml
        +++ b/jobs/cronjob.yaml
        @@ -14,5 +14,5 @@
                       image: busybox:1.36
                   containers:
                     - name: report
        -              image: ghcr.io/acme/backend:v1.3.0
        +              image: ghcr.io/acme/backend:v1.4.0
                       args: [report, --since=24h]
        --- a/overlays/dev/kustomization.yaml
        +++ b/overlays/dev/kustomization.yaml
        @@ -5,4 +5,4 @@
           - ../../base
         images:
           - name: ghcr.io/acme/backend
        -    newTag: v1.3.0
        +    newTag: v1.4.0
        would update base/deployment.yaml:20  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [workload]
        would update base/deployment.yaml:24  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [workload]
        would update charts/backend/values.yaml:7  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [helm_values]
        would update jobs/cronjob.yaml:17  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [workload]
        would update overlays/dev/kustomization.yaml:8  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [kustomize]
        skipped overlays/prod/kustomization.yaml:9  ghcr.io/acme/backend  pinned by # gitops-bump:ignore
        would verify main (read at [SHORT]) after writing:
          base/deployment.yaml:20 holds "image: ghcr.io/acme/backend:v1.4.0   # runs DB migrations first"
          base/deployment.yaml:24 holds "image: \"ghcr.io/acme/backend:v1.4.0\""
          charts/backend/values.yaml:7 holds "tag: \"v1.4.0\""
          jobs/cronjob.yaml:17 holds "image: ghcr.io/acme/backend:v1.4.0"
          overlays/dev/kustomization.yaml:8 holds "newTag: v1.4.0"
          the new commit is the head of main or an ancestor of it
        dry run: 5 value(s) in 4 file(s) would change; nothing written
        --- stderr
        "#);
    });
    let mut commit = repo.to_vec();
    commit.push(BACKEND);
    run(&commit, true, &env).assert(|t| {
        insta::assert_snapshot!(t, @r#"
        exit: 0
        --- stdout
        ::notice title=gitops-bump%3A image,file=base/deployment.yaml,line=20,col=18::updated ghcr.io/acme/backend v1.3.0 → v1.4.0
        ::notice title=gitops-bump%3A image,file=base/deployment.yaml,line=24,col=18::updated ghcr.io/acme/backend v1.3.0 → v1.4.0
        ::notice title=gitops-bump%3A image,file=charts/backend/values.yaml,line=7,col=8::updated ghcr.io/acme/backend v1.3.0 → v1.4.0
        ::notice title=gitops-bump%3A image,file=jobs/cronjob.yaml,line=17,col=22::updated ghcr.io/acme/backend v1.3.0 → v1.4.0
        ::notice title=gitops-bump%3A image,file=overlays/dev/kustomization.yaml,line=8,col=13::updated ghcr.io/acme/backend v1.3.0 → v1.4.0
        ::notice title=gitops-bump%3A skipped,file=overlays/prod/kustomization.yaml,line=9::ghcr.io/acme/backend pinned by # gitops-bump:ignore
        updated base/deployment.yaml:20  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [workload]
        updated base/deployment.yaml:24  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [workload]
        updated charts/backend/values.yaml:7  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [helm_values]
        updated jobs/cronjob.yaml:17  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [workload]
        updated overlays/dev/kustomization.yaml:8  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [kustomize]
        skipped overlays/prod/kustomization.yaml:9  ghcr.io/acme/backend  pinned by # gitops-bump:ignore
        committed [SHORT] (5 value(s) in 4 file(s))
        --- stderr
        --- $GITHUB_OUTPUT
        changed<<ghadelimiter_[UUID]
        true
        ghadelimiter_[UUID]
        commit-sha<<ghadelimiter_[UUID]
        [SHA]
        ghadelimiter_[UUID]
        pull-request-url<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        updates<<ghadelimiter_[UUID]
        [{"file":"base/deployment.yaml","line":20,"column":18,"dialect":"workload","image":"ghcr.io/acme/backend","from":"v1.3.0","to":"v1.4.0"},{"file":"base/deployment.yaml","line":24,"column":18,"dialect":"workload","image":"ghcr.io/acme/backend","from":"v1.3.0","to":"v1.4.0"},{"file":"charts/backend/values.yaml","line":7,"column":8,"dialect":"helm_values","image":"ghcr.io/acme/backend","from":"v1.3.0","to":"v1.4.0"},{"file":"jobs/cronjob.yaml","line":17,"column":22,"dialect":"workload","image":"ghcr.io/acme/backend","from":"v1.3.0","to":"v1.4.0"},{"file":"overlays/dev/kustomization.yaml","line":8,"column":13,"dialect":"kustomize","image":"ghcr.io/acme/backend","from":"v1.3.0","to":"v1.4.0"}]
        ghadelimiter_[UUID]
        planned<<ghadelimiter_[UUID]
        []
        ghadelimiter_[UUID]
        summary<<ghadelimiter_[UUID]
        committed [SHORT] (5 value(s) in 4 file(s))
        ghadelimiter_[UUID]
        commit<<ghadelimiter_[UUID]
        [SHA]
        ghadelimiter_[UUID]
        pull-request-urls<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        --- $GITHUB_STEP_SUMMARY
        ### gitops-bump: committed [SHORT] (5 value(s) in 4 file(s))

        | image | file:line | from → to | commit |
        |---|---|---|---|
        | `ghcr.io/acme/backend` | `base/deployment.yaml:20` | `v1.3.0` → `v1.4.0` | [`[SHORT]`](https://github.com/acme/gitops/commit/[SHA]) |
        | `ghcr.io/acme/backend` | `base/deployment.yaml:24` | `v1.3.0` → `v1.4.0` | [`[SHORT]`](https://github.com/acme/gitops/commit/[SHA]) |
        | `ghcr.io/acme/backend` | `charts/backend/values.yaml:7` | `v1.3.0` → `v1.4.0` | [`[SHORT]`](https://github.com/acme/gitops/commit/[SHA]) |
        | `ghcr.io/acme/backend` | `jobs/cronjob.yaml:17` | `v1.3.0` → `v1.4.0` | [`[SHORT]`](https://github.com/acme/gitops/commit/[SHA]) |
        | `ghcr.io/acme/backend` | `overlays/dev/kustomization.yaml:8` | `v1.3.0` → `v1.4.0` | [`[SHORT]`](https://github.com/acme/gitops/commit/[SHA]) |

        - skipped `overlays/prod/kustomization.yaml:9` (ghcr.io/acme/backend): pinned by # gitops-bump:ignore
        "#);
    });
    let mut pr = repo.to_vec();
    pr.extend(["--pull-request", "--output", "json", WORKER]);
    run(&pr, false, &env).assert(|t| {
        insta::assert_snapshot!(t, @r#"
        exit: 0
        --- stdout
        {
          "changed": true,
          "commit": "[SHA]",
          "dry_run": false,
          "updates": [
            {
              "file": "charts/backend/values.yaml",
              "line": 13,
              "column": 10,
              "dialect": "helm_values",
              "image": "ghcr.io/acme/worker",
              "from": "2.4",
              "to": "2.10"
            }
          ],
          "planned": [],
          "skipped": [],
          "problems": [],
          "errors": [],
          "attempts": 1,
          "api_requests": 10,
          "pull_request": {
            "url": "https://github.com/acme/gitops/pull/1",
            "number": 1,
            "created": true,
            "branch": "gitops-bump/main/ghcr.io-acme-worker",
            "action": "opened"
          }
        }
        --- stderr
        "#);
    });
    let mut pr_text = repo.to_vec();
    pr_text.extend(["--pull-request", "ghcr.io/acme/worker:2.11"]);
    run(&pr_text, true, &env).assert(|t| {
        insta::assert_snapshot!(t, @r#"
        exit: 0
        --- stdout
        ::notice title=gitops-bump%3A image,file=charts/backend/values.yaml,line=13,col=10::updated ghcr.io/acme/worker 2.4 → 2.11
        updated charts/backend/values.yaml:13  ghcr.io/acme/worker  2.4 → 2.11  [helm_values]
        updated pull request #1 from gitops-bump/main/ghcr.io-acme-worker: https://github.com/acme/gitops/pull/1
        pull request #1 updated with [SHORT] (1 value(s) in 1 file(s))
        --- stderr
        --- $GITHUB_OUTPUT
        changed<<ghadelimiter_[UUID]
        true
        ghadelimiter_[UUID]
        commit-sha<<ghadelimiter_[UUID]
        [SHA]
        ghadelimiter_[UUID]
        pull-request-url<<ghadelimiter_[UUID]
        https://github.com/acme/gitops/pull/1
        ghadelimiter_[UUID]
        updates<<ghadelimiter_[UUID]
        [{"file":"charts/backend/values.yaml","line":13,"column":10,"dialect":"helm_values","image":"ghcr.io/acme/worker","from":"2.4","to":"2.11"}]
        ghadelimiter_[UUID]
        planned<<ghadelimiter_[UUID]
        []
        ghadelimiter_[UUID]
        summary<<ghadelimiter_[UUID]
        pull request #1 updated with [SHORT] (1 value(s) in 1 file(s))
        ghadelimiter_[UUID]
        commit<<ghadelimiter_[UUID]
        [SHA]
        ghadelimiter_[UUID]
        pull-request-urls<<ghadelimiter_[UUID]
        https://github.com/acme/gitops/pull/1
        ghadelimiter_[UUID]
        --- $GITHUB_STEP_SUMMARY
        ### gitops-bump: pull request #1 updated with [SHORT] (1 value(s) in 1 file(s))

        | image | file:line | from → to | commit |
        |---|---|---|---|
        | `ghcr.io/acme/worker` | `charts/backend/values.yaml:13` | `2.4` → `2.11` | [`[SHORT]`](https://github.com/acme/gitops/commit/[SHA]) |
        "#);
    });
    // The same again: nothing written, and said so (issue #14).
    run(&pr_text, true, &env).assert(|t| {
        insta::assert_snapshot!(t, @"
        exit: 0
        --- stdout
        pull request #1 from gitops-bump/main/ghcr.io-acme-worker already up to date: https://github.com/acme/gitops/pull/1
        pull request #1 already up to date
        --- stderr
        --- $GITHUB_OUTPUT
        changed<<ghadelimiter_[UUID]
        false
        ghadelimiter_[UUID]
        commit-sha<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        pull-request-url<<ghadelimiter_[UUID]
        https://github.com/acme/gitops/pull/1
        ghadelimiter_[UUID]
        updates<<ghadelimiter_[UUID]
        []
        ghadelimiter_[UUID]
        planned<<ghadelimiter_[UUID]
        []
        ghadelimiter_[UUID]
        summary<<ghadelimiter_[UUID]
        pull request #1 already up to date
        ghadelimiter_[UUID]
        commit<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        pull-request-urls<<ghadelimiter_[UUID]
        https://github.com/acme/gitops/pull/1
        ghadelimiter_[UUID]
        --- $GITHUB_STEP_SUMMARY
        ### gitops-bump: pull request #1 already up to date
        ");
    });
    // The base takes the same bump without a pull request: the pull
    // request is stale and closed (issue #14).
    let mut direct = repo.to_vec();
    direct.extend(["--output", "json", "ghcr.io/acme/worker:2.11"]);
    run(&direct, false, &env).assert(|t| assert!(t.starts_with("exit: 0\n"), "{t}"));
    run(&pr_text, true, &env).assert(|t| {
        insta::assert_snapshot!(t, @"
        exit: 0
        --- stdout
        closed pull request #1 from gitops-bump/main/ghcr.io-acme-worker: main already holds ghcr.io/acme/worker:2.11; deleted its branch
        already up to date; closed pull request #1 (main already holds ghcr.io/acme/worker:2.11)
        --- stderr
        --- $GITHUB_OUTPUT
        changed<<ghadelimiter_[UUID]
        false
        ghadelimiter_[UUID]
        commit-sha<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        pull-request-url<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        updates<<ghadelimiter_[UUID]
        []
        ghadelimiter_[UUID]
        planned<<ghadelimiter_[UUID]
        []
        ghadelimiter_[UUID]
        summary<<ghadelimiter_[UUID]
        already up to date; closed pull request #1 (main already holds ghcr.io/acme/worker:2.11)
        ghadelimiter_[UUID]
        commit<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        pull-request-urls<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        --- $GITHUB_STEP_SUMMARY
        ### gitops-bump: already up to date; closed pull request #1 (main already holds ghcr.io/acme/worker:2.11)
        ");
    });
}

/// What a run leaves alone (another tag track, YAML in a folded block, a
/// chart template, an absent image under `--allow-absent`) and a refused
/// run's plan, in every format. See: issue #12 §3, §4, §5, §7.
fn issue_12_fixture() -> tempfile::TempDir {
    let tmp = example();
    let write = |rel: &str, text: &str| {
        let p = tmp.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    };
    write(
        "agents/pod.yaml",
        "spec:\n  containers:\n  - image: ghcr.io/acme/agent-image:agent-0.0.1\n  - image: ghcr.io/acme/agent-image:client-0.0.1\n",
    );
    write(
        "apps/backend.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n  source:\n    helm:\n      values: >\n        image:\n          repository: ghcr.io/acme/backend\n          tag: v1.3.0\n",
    );
    write(
        "charts/backend/templates/deployment.yaml",
        "{{- if .Values.enabled }}\nspec:\n  containers:\n  - image: \"{{ .Values.image.registry }}/{{ .Values.image.repository }}:{{ .Values.image.tag }}\"\n{{- end }}\n",
    );
    tmp
}

#[test]
fn set_issue_12_skipped_references_in_every_format() {
    let tmp = issue_12_fixture();
    let args = dir_args(
        tmp.path(),
        &[
            "--dry-run",
            "--allow-absent",
            "--files",
            "agents/*.yaml",
            "--files",
            "apps/*.yaml",
            "--files",
            "charts/**/*.yaml",
            BACKEND,
            "ghcr.io/acme/agent-image:agent-0.0.2",
            "ghcr.io/acme/gone:v1",
        ],
    );
    run(&args, false, &[]).assert(|t| {
        insta::assert_snapshot!(t, @r#"
        exit: 0
        --- stdout
        --- a/agents/pod.yaml
        +++ b/agents/pod.yaml
        @@ -1,4 +1,4 @@
         spec:
           containers:
        -  - image: ghcr.io/acme/agent-image:agent-0.0.1
        +  - image: ghcr.io/acme/agent-image:agent-0.0.2
           - image: ghcr.io/acme/agent-image:client-0.0.1
        --- a/charts/backend/values.yaml
        +++ b/charts/backend/values.yaml
        @@ -4,7 +4,7 @@
         image:
           registry: ghcr.io
           repository: acme/backend
        -  tag: "v1.3.0"
        +  tag: "v1.4.0"
           pullPolicy: IfNotPresent
         
         worker:
        would update agents/pod.yaml:3  ghcr.io/acme/agent-image  agent-0.0.1 → agent-0.0.2  [workload]
        would update charts/backend/values.yaml:7  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [helm_values]
        skipped agents/pod.yaml:4  ghcr.io/acme/agent-image  current tag client-0.0.1 (track client-<version>) is on another tag track than agent-0.0.2 (track agent-<version>); not moved (select it with --match-tag)
        skipped ghcr.io/acme/gone  no reference to ghcr.io/acme/gone found in 4 file(s) (allowed by --allow-absent)
        would verify dir [TMP] after writing:
          agents/pod.yaml:3 holds "- image: ghcr.io/acme/agent-image:agent-0.0.2"
          charts/backend/values.yaml:7 holds "tag: \"v1.4.0\""
        dry run: 2 value(s) in 2 file(s) would change; nothing written
        --- stderr
        warning: dir [TMP]: no Git history, so the writer guards could not check for fights (reverts of another writer's change, the storm brake); going on
        warning: apps/backend.yaml:6: ghcr.io/acme/backend: YAML in a folded block scalar (`>`): its line breaks are folded, so an edit cannot be mapped to the file's bytes; use `|`; not updated, edit it by hand
        note: 1 chart template skipped (not YAML until Helm renders it; its images come from values files), e.g. charts/backend/templates/deployment.yaml
        "#);
    });
    let mut json = args.clone();
    json.extend(["--output", "json"]);
    run(&json, false, &[]).assert(|t| {
        insta::assert_snapshot!(t, @r#"
        exit: 0
        --- stdout
        {
          "changed": true,
          "commit": null,
          "dry_run": true,
          "updates": [],
          "planned": [
            {
              "file": "agents/pod.yaml",
              "line": 3,
              "column": 12,
              "dialect": "workload",
              "image": "ghcr.io/acme/agent-image",
              "from": "agent-0.0.1",
              "to": "agent-0.0.2"
            },
            {
              "file": "charts/backend/values.yaml",
              "line": 7,
              "column": 8,
              "dialect": "helm_values",
              "image": "ghcr.io/acme/backend",
              "from": "v1.3.0",
              "to": "v1.4.0"
            }
          ],
          "skipped": [
            {
              "file": "agents/pod.yaml",
              "line": 4,
              "image": "ghcr.io/acme/agent-image",
              "reason": "current tag client-0.0.1 (track client-<version>) is on another tag track than agent-0.0.2 (track agent-<version>); not moved (select it with --match-tag)"
            },
            {
              "file": "apps/backend.yaml",
              "line": 6,
              "image": "ghcr.io/acme/backend",
              "reason": "YAML in a folded block scalar (`>`): its line breaks are folded, so an edit cannot be mapped to the file's bytes; use `|`; not updated, edit it by hand"
            },
            {
              "file": "",
              "line": null,
              "image": "ghcr.io/acme/gone",
              "reason": "no reference to ghcr.io/acme/gone found in 4 file(s) (allowed by --allow-absent)"
            },
            {
              "file": "charts/backend/templates/deployment.yaml",
              "line": null,
              "image": "",
              "reason": "a Helm chart template (not YAML until Helm renders it); skipped"
            }
          ],
          "problems": [],
          "errors": [],
          "attempts": 1,
          "diff": "--- a/agents/pod.yaml\n+++ b/agents/pod.yaml\n@@ -1,4 +1,4 @@\n spec:\n   containers:\n-  - image: ghcr.io/acme/agent-image:agent-0.0.1\n+  - image: ghcr.io/acme/agent-image:agent-0.0.2\n   - image: ghcr.io/acme/agent-image:client-0.0.1\n--- a/charts/backend/values.yaml\n+++ b/charts/backend/values.yaml\n@@ -4,7 +4,7 @@\n image:\n   registry: ghcr.io\n   repository: acme/backend\n-  tag: \"v1.3.0\"\n+  tag: \"v1.4.0\"\n   pullPolicy: IfNotPresent\n \n worker:\n",
          "verify": {
            "target": "dir [TMP]",
            "head": null,
            "checks": [
              {
                "file": "agents/pod.yaml",
                "line": 3,
                "text": "  - image: ghcr.io/acme/agent-image:agent-0.0.2"
              },
              {
                "file": "charts/backend/values.yaml",
                "line": 7,
                "text": "  tag: \"v1.4.0\""
              }
            ],
            "conditions": []
          }
        }
        --- stderr
        warning: dir [TMP]: no Git history, so the writer guards could not check for fights (reverts of another writer's change, the storm brake); going on
        "#);
    });
    run(&args, true, &[]).assert(|t| {
        insta::assert_snapshot!(t, @r#"
        exit: 0
        --- stdout
        ::warning title=gitops-bump%3A skipped,file=apps/backend.yaml,line=6::ghcr.io/acme/backend YAML in a folded block scalar (`>`): its line breaks are folded, so an edit cannot be mapped to the file's bytes; use `|`; not updated, edit it by hand
        ::notice title=gitops-bump%3A image,file=agents/pod.yaml,line=3,col=12::would update ghcr.io/acme/agent-image agent-0.0.1 → agent-0.0.2
        ::notice title=gitops-bump%3A image,file=charts/backend/values.yaml,line=7,col=8::would update ghcr.io/acme/backend v1.3.0 → v1.4.0
        ::notice title=gitops-bump%3A skipped,file=agents/pod.yaml,line=4::ghcr.io/acme/agent-image current tag client-0.0.1 (track client-<version>) is on another tag track than agent-0.0.2 (track agent-<version>); not moved (select it with --match-tag)
        ::notice title=gitops-bump%3A skipped::ghcr.io/acme/gone no reference to ghcr.io/acme/gone found in 4 file(s) (allowed by --allow-absent)
        ::notice title=gitops-bump%3A skipped::1 chart template skipped (not YAML until Helm renders it; its images come from values files), e.g. charts/backend/templates/deployment.yaml
        ::group::diff
        --- a/agents/pod.yaml
        +++ b/agents/pod.yaml
        @@ -1,4 +1,4 @@
         spec:
           containers:
        -  - image: ghcr.io/acme/agent-image:agent-0.0.1
        +  - image: ghcr.io/acme/agent-image:agent-0.0.2
           - image: ghcr.io/acme/agent-image:client-0.0.1
        --- a/charts/backend/values.yaml
        +++ b/charts/backend/values.yaml
        @@ -4,7 +4,7 @@
         image:
           registry: ghcr.io
           repository: acme/backend
        -  tag: "v1.3.0"
        +  tag: "v1.4.0"
           pullPolicy: IfNotPresent
         
         worker:
        ::endgroup::
        would update agents/pod.yaml:3  ghcr.io/acme/agent-image  agent-0.0.1 → agent-0.0.2  [workload]
        would update charts/backend/values.yaml:7  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [helm_values]
        skipped agents/pod.yaml:4  ghcr.io/acme/agent-image  current tag client-0.0.1 (track client-<version>) is on another tag track than agent-0.0.2 (track agent-<version>); not moved (select it with --match-tag)
        skipped ghcr.io/acme/gone  no reference to ghcr.io/acme/gone found in 4 file(s) (allowed by --allow-absent)
        would verify dir [TMP] after writing:
          agents/pod.yaml:3 holds "- image: ghcr.io/acme/agent-image:agent-0.0.2"
          charts/backend/values.yaml:7 holds "tag: \"v1.4.0\""
        dry run: 2 value(s) in 2 file(s) would change; nothing written
        --- stderr
        warning: dir [TMP]: no Git history, so the writer guards could not check for fights (reverts of another writer's change, the storm brake); going on
        warning: apps/backend.yaml:6: ghcr.io/acme/backend: YAML in a folded block scalar (`>`): its line breaks are folded, so an edit cannot be mapped to the file's bytes; use `|`; not updated, edit it by hand
        note: 1 chart template skipped (not YAML until Helm renders it; its images come from values files), e.g. charts/backend/templates/deployment.yaml
        --- $GITHUB_OUTPUT
        changed<<ghadelimiter_[UUID]
        true
        ghadelimiter_[UUID]
        commit-sha<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        pull-request-url<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        updates<<ghadelimiter_[UUID]
        []
        ghadelimiter_[UUID]
        planned<<ghadelimiter_[UUID]
        [{"file":"agents/pod.yaml","line":3,"column":12,"dialect":"workload","image":"ghcr.io/acme/agent-image","from":"agent-0.0.1","to":"agent-0.0.2"},{"file":"charts/backend/values.yaml","line":7,"column":8,"dialect":"helm_values","image":"ghcr.io/acme/backend","from":"v1.3.0","to":"v1.4.0"}]
        ghadelimiter_[UUID]
        summary<<ghadelimiter_[UUID]
        dry run: 2 value(s) in 2 file(s) would change
        ghadelimiter_[UUID]
        commit<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        pull-request-urls<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        --- $GITHUB_STEP_SUMMARY
        ### gitops-bump: dry run: 2 value(s) in 2 file(s) would change

        | image | file:line | from → to | commit |
        |---|---|---|---|
        | `ghcr.io/acme/agent-image` | `agents/pod.yaml:3` | `agent-0.0.1` → `agent-0.0.2` | dry run |
        | `ghcr.io/acme/backend` | `charts/backend/values.yaml:7` | `v1.3.0` → `v1.4.0` | dry run |

        - skipped `agents/pod.yaml:4` (ghcr.io/acme/agent-image): current tag client-0.0.1 (track client-<version>) is on another tag track than agent-0.0.2 (track agent-<version>); not moved (select it with --match-tag)
        - skipped `apps/backend.yaml:6` (ghcr.io/acme/backend): YAML in a folded block scalar ('>'): its line breaks are folded, so an edit cannot be mapped to the file's bytes; use '\|'; not updated, edit it by hand
        - skipped (ghcr.io/acme/gone): no reference to ghcr.io/acme/gone found in 4 file(s) (allowed by --allow-absent)
        - 1 chart template skipped (not YAML until Helm renders it; its images come from values files), e.g. charts/backend/templates/deployment.yaml

        <details><summary>Diff</summary>

        ```diff
        --- a/agents/pod.yaml
        +++ b/agents/pod.yaml
        @@ -1,4 +1,4 @@
         spec:
           containers:
        -  - image: ghcr.io/acme/agent-image:agent-0.0.1
        +  - image: ghcr.io/acme/agent-image:agent-0.0.2
           - image: ghcr.io/acme/agent-image:client-0.0.1
        --- a/charts/backend/values.yaml
        +++ b/charts/backend/values.yaml
        @@ -4,7 +4,7 @@
         image:
           registry: ghcr.io
           repository: acme/backend
        -  tag: "v1.3.0"
        +  tag: "v1.4.0"
           pullPolicy: IfNotPresent
         
         worker:
        ```
        </details>
        "#);
    });
}

#[test]
fn set_issue_12_a_refused_run_inside_actions() {
    let tmp = example();
    let digest = format!("sha256:{}", "1".repeat(64));
    std::fs::write(
        tmp.path().join("pinned.yaml"),
        format!("containers:\n- image: ghcr.io/acme/backend:v1.3.0@{digest}\n"),
    )
    .expect("write");
    run(
        &dir_args(tmp.path(), &["--files", "*.yaml", "--files", "base/*.yaml", BACKEND]),
        true,
        &[],
    )
    .assert(|t| {
        insta::assert_snapshot!(t, @r#"
        exit: 1
        --- stdout
        ::error title=gitops-bump,file=pinned.yaml,line=2::ghcr.io/acme/backend is pinned to digest sha256:[SHORT]…, and with --no-verify the new digest is unknown; pass ghcr.io/acme/backend:TAG@sha256:… or drop --no-verify
        ::notice title=gitops-bump%3A image,file=base/deployment.yaml,line=20,col=18::would update ghcr.io/acme/backend v1.3.0 → v1.4.0 (not written)
        ::notice title=gitops-bump%3A image,file=base/deployment.yaml,line=24,col=18::would update ghcr.io/acme/backend v1.3.0 → v1.4.0 (not written)
        would update base/deployment.yaml:20  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [workload] (not written)
        would update base/deployment.yaml:24  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [workload] (not written)
        --- stderr
        warning: dir [TMP]: no Git history, so the writer guards could not check for fights (reverts of another writer's change, the storm brake); going on
        error: pinned.yaml:2: ghcr.io/acme/backend is pinned to digest sha256:[SHORT]…, and with --no-verify the new digest is unknown; pass ghcr.io/acme/backend:TAG@sha256:… or drop --no-verify
        error: nothing written (1 problem(s))
        --- $GITHUB_OUTPUT
        changed<<ghadelimiter_[UUID]
        false
        ghadelimiter_[UUID]
        commit-sha<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        pull-request-url<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        updates<<ghadelimiter_[UUID]
        []
        ghadelimiter_[UUID]
        planned<<ghadelimiter_[UUID]
        [{"file":"base/deployment.yaml","line":20,"column":18,"dialect":"workload","image":"ghcr.io/acme/backend","from":"v1.3.0","to":"v1.4.0"},{"file":"base/deployment.yaml","line":24,"column":18,"dialect":"workload","image":"ghcr.io/acme/backend","from":"v1.3.0","to":"v1.4.0"}]
        ghadelimiter_[UUID]
        summary<<ghadelimiter_[UUID]
        failed: ghcr.io/acme/backend is pinned to digest sha256:[SHORT]…, and with --no-verify the new digest is unknown; pass ghcr.io/acme/backend:TAG@sha256:… or drop --no-verify
        ghadelimiter_[UUID]
        commit<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        pull-request-urls<<ghadelimiter_[UUID]

        ghadelimiter_[UUID]
        --- $GITHUB_STEP_SUMMARY
        ### gitops-bump: failed: ghcr.io/acme/backend is pinned to digest sha256:[SHORT]…, and with --no-verify the new digest is unknown; pass ghcr.io/acme/backend:TAG@sha256:… or drop --no-verify

        | image | file:line | from → to | commit |
        |---|---|---|---|
        | `ghcr.io/acme/backend` | `base/deployment.yaml:20` | `v1.3.0` → `v1.4.0` | not written |
        | `ghcr.io/acme/backend` | `base/deployment.yaml:24` | `v1.3.0` → `v1.4.0` | not written |

        - **error** `pinned.yaml:2`: ghcr.io/acme/backend is pinned to digest sha256:[SHORT]…, and with --no-verify the new digest is unknown; pass ghcr.io/acme/backend:TAG@sha256:… or drop --no-verify
        "#);
    });
}

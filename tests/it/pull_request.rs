//! Pull-request mode (`set --pull-request`) against the fake GitHub, which
//! serves GitHub's GraphQL pull-request API over a real Git repository:
//! whose the branch is (decided by content: a person's commit stacked on the
//! bot's, or the bot's commit amended, stops the run and nothing is
//! written), the same-tag re-run that writes nothing, stale pull requests
//! closed when the base already holds the target, signed commits, the base
//! moving, lost answers, and a file mode GitHub does not keep.
//! See: issue #14.

use std::path::Path;

use serde_json::Value;

use crate::common::{Run, gitops_bump};
use crate::fake_github::{self, FakeGitHub, Person};
use crate::github::{BACKEND, bump, commits, json, start};
use gitops_bump::backend::github::TMP_PREFIX;

const PR_BRANCH: &str = "gitops-bump/main/ghcr.io-acme-backend";
const V15: &str = "ghcr.io/acme/backend:v1.5.0";

/// The files the backend bump changes in `examples/gitops`.
const BUMPED: [&str; 4] = [
    "base/deployment.yaml",
    "charts/backend/values.yaml",
    "jobs/cronjob.yaml",
    "overlays/dev/kustomization.yaml",
];

fn pr(fake: &FakeGitHub, image: &str) -> Run {
    bump(fake, &["--branch", "main", "--pull-request", image])
}

/// The same run, as text inside GitHub Actions; returns the run and the
/// `$GITHUB_OUTPUT` file's text.
fn pr_in_actions(fake: &FakeGitHub, image: &str) -> (Run, String) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let output = tmp.path().join("output");
    std::fs::write(&output, "").expect("create $GITHUB_OUTPUT");
    let r = gitops_bump()
        .env("GITHUB_TOKEN", fake_github::TOKEN)
        .env("GITHUB_API_URL", &fake.api_url())
        .env("GITHUB_GRAPHQL_URL", &fake.graphql_url())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &output.display().to_string())
        .args(["set", "--no-verify", "--repo", "acme/gitops"])
        .args(["--branch", "main", "--pull-request", image])
        .run();
    let text = std::fs::read_to_string(&output).expect("outputs written");
    (r, text)
}

/// The value of action output `name` in a `$GITHUB_OUTPUT` text.
fn output(text: &str, name: &str) -> String {
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        if let Some(delim) = l.strip_prefix(&format!("{name}<<")) {
            let value: Vec<&str> = lines.by_ref().take_while(|v| *v != delim).collect();
            return value.join("\n");
        }
    }
    panic!("no output {name} in {text}")
}

fn jane() -> Person {
    Person::new("Jane Doe", "jane@example.com", "2026-01-02T10:00:00+01:00")
}

/// Mutations sent so far.
fn mutations(fake: &FakeGitHub) -> u64 {
    fake.operations()
        .iter()
        .filter(|(op, _)| op.starts_with("mutation"))
        .map(|(_, n)| n)
        .sum()
}

/// Branches whose name starts with `prefix`.
fn branches(fake: &FakeGitHub, prefix: &str) -> Vec<String> {
    let out = fake
        .repo()
        .git(&["for-each-ref", "--format=%(refname:short)", "refs/heads/"])
        .expect("for-each-ref");
    String::from_utf8_lossy(&out)
        .lines()
        .filter(|b| b.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

/// A `Key: value` trailer of `message`.
fn trailer(message: &str, key: &str) -> Option<String> {
    message
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}: ")))
        .map(str::to_owned)
        .next_back()
}

/// Asserts that `oid` is exactly what gitops-bump makes on a pull-request
/// branch: one commit on `base`, signed by GitHub, recording its base and
/// tree.
fn assert_ours(fake: &FakeGitHub, oid: &str, base: &str) {
    let info = fake.repo().info(oid).expect("commit");
    assert_eq!(info.parents, [base], "one commit on the base");
    assert!(fake.is_signed(oid), "{oid} is signed");
    assert_eq!(
        trailer(&info.message, "Gitops-Bump-Base").as_deref(),
        Some(base)
    );
    assert_eq!(
        trailer(&info.message, "Gitops-Bump-Tree").as_deref(),
        Some(info.tree.as_str())
    );
}

// See: issue #14. A re-run with the same tags wrote nothing but said
// `changed: true` and "updated with <sha>".
#[test]
fn issue_14_same_tags_write_nothing_and_say_up_to_date() {
    let fake = start();
    let r = pr(&fake, BACKEND);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(json(&r)["pull_request"]["action"], "opened");
    let head = fake.repo().head(PR_BRANCH).expect("branch");
    let (before, sent) = (fake.total(), mutations(&fake));

    let r = pr(&fake, BACKEND);
    assert_eq!(r.code, 0, "{r:?}");
    let v = json(&r);
    assert_eq!(v["changed"], false, "{v}");
    assert!(v["commit"].is_null(), "{v}");
    assert_eq!(v["updates"], serde_json::json!([]), "{v}");
    let p = &v["pull_request"];
    assert_eq!(
        (&p["action"], &p["number"], &p["created"]),
        (
            &Value::from("up_to_date"),
            &Value::from(1),
            &Value::from(false)
        ),
        "{v}"
    );
    assert_eq!(mutations(&fake), sent, "nothing written");
    // The listing, the file query, the history the writer guards read
    // (issue #11), the lookup and the tree GitHub computes for the plan: the
    // lookup proves the branch, nothing is verified again.
    assert_eq!(fake.total() - before, 5, "{:?}", fake.counts());
    assert_eq!(fake.repo().head(PR_BRANCH), Some(head));

    let (r, outputs) = pr_in_actions(&fake, BACKEND);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains(&format!(
            "pull request #1 from {PR_BRANCH} already up to date: https://github.com/acme/gitops/pull/1"
        )),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .lines()
            .last()
            .is_some_and(|l| l == "pull request #1 already up to date"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("updated "), "{}", r.stdout);
    assert_eq!(output(&outputs, "changed"), "false");
    assert_eq!(output(&outputs, "commit-sha"), "");
    assert_eq!(
        output(&outputs, "pull-request-url"),
        "https://github.com/acme/gitops/pull/1"
    );
    assert_eq!(mutations(&fake), sent, "nothing written");
    assert_eq!(commits(&fake), 1, "main untouched");
}

// See: issue #14. Someone amends the bot's commit (an extra file, the same
// message, so the same `Gitops-Bump-Id`) and force-pushes: the next run
// threw the file away.
#[test]
fn issue_14_an_amended_commit_stops_the_run_and_nothing_is_written() {
    for next in [V15, BACKEND] {
        let fake = start();
        assert_eq!(pr(&fake, BACKEND).code, 0);
        fake.register_user("jane@example.com", "jane");
        let amended = fake.amend_head(
            PR_BRANCH,
            &[("apps/backend/limits.yaml", b"limits:\n  memory: 512Mi\n")],
            None,
            &jane(),
        );
        let title = fake.pulls()[0].title.clone();
        let sent = mutations(&fake);

        let r = pr(&fake, next);
        assert_eq!(r.code, 1, "{next}: {r:?}");
        let stderr = r.stderr.trim_end();
        assert_eq!(stderr.lines().count(), 1, "one error: {stderr}");
        for part in [
            PR_BRANCH,
            &amended[..12],
            "Jane Doe (@jane)",
            "gitops-bump did not make",
            "Gitops-Bump-Tree",
            "nothing was written",
        ] {
            assert!(stderr.contains(part), "{next}: {part} in {stderr}");
        }
        assert_eq!(stderr.matches(PR_BRANCH).count(), 1, "said once: {stderr}");
        assert_eq!(r.stdout, "", "no JSON document for a failed run");
        assert_eq!(mutations(&fake), sent, "{next}: nothing written");
        assert_eq!(fake.repo().head(PR_BRANCH), Some(amended.clone()));
        assert!(
            fake.repo()
                .read(PR_BRANCH, "apps/backend/limits.yaml")
                .contains("512Mi")
        );
        assert_eq!(fake.pulls()[0].title, title);
        assert_eq!(fake.pulls()[0].state, "OPEN");
    }
}

// See: issue #14. A person's commit stacked on the bot's is refused by
// what it holds, naming it and its committer.
#[test]
fn issue_14_a_stacked_commit_stops_the_run_and_nothing_is_written() {
    let fake = start();
    assert_eq!(pr(&fake, BACKEND).code, 0);
    let theirs = fake.person_commit(
        PR_BRANCH,
        &[("NOTES.md", b"roll out on Tuesday\n")],
        "docs: rollout note",
        &jane(),
    );
    let sent = mutations(&fake);
    let r = pr(&fake, V15);
    assert_eq!(r.code, 1, "{r:?}");
    for part in [
        PR_BRANCH,
        &theirs[..12],
        "Jane Doe <jane@example.com>",
        "has no Gitops-Bump trailers",
    ] {
        assert!(r.stderr.contains(part), "{part} in {}", r.stderr);
    }
    assert_eq!(mutations(&fake), sent, "nothing written");
    assert_eq!(fake.repo().head(PR_BRANCH), Some(theirs));
}

// See: issue #14. The base already holds the target because a person
// merged the same bump by hand: the pull request is closed, saying why,
// and its branch deleted.
#[test]
fn issue_14_a_bump_merged_by_hand_closes_the_stale_pull_request() {
    let fake = start();
    assert_eq!(pr(&fake, BACKEND).code, 0);
    let files: Vec<(&str, Vec<u8>)> = BUMPED
        .iter()
        .map(|p| (*p, fake.repo().read(PR_BRANCH, p).into_bytes()))
        .collect();
    let files: Vec<(&str, &[u8])> = files.iter().map(|(p, b)| (*p, b.as_slice())).collect();
    let merged = fake.person_commit("main", &files, "bump backend by hand", &jane());
    assert_eq!(fake.pulls()[0].state, "OPEN", "GitHub keeps it open");

    let r = pr(&fake, BACKEND);
    assert_eq!(r.code, 0, "{r:?}");
    let v = json(&r);
    assert_eq!(v["changed"], false, "{v}");
    let p = &v["pull_request"];
    assert_eq!(p["action"], "closed", "{v}");
    assert_eq!(p["number"], 1);
    assert_eq!(p["branch_deleted"], true);
    assert_eq!(
        p["reason"], "main already holds ghcr.io/acme/backend:v1.4.0",
        "{v}"
    );
    assert_eq!(fake.pulls()[0].state, "CLOSED");
    assert_eq!(fake.repo().head(PR_BRANCH), None, "branch deleted");
    let comments = fake.comments(1);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert_eq!(comments[0].author, fake_github::BOT_LOGIN);
    assert!(
        comments[0].body.starts_with(&format!(
            "Closed by gitops-bump: `main` (at `{}`) already holds `ghcr.io/acme/backend:v1.4.0`",
            &merged[..12]
        )),
        "{}",
        comments[0].body
    );
    assert_eq!(fake.repo().head("main"), Some(merged), "main untouched");

    // Nothing left: the next run only looks.
    let before = fake.total();
    let r = pr(&fake, BACKEND);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(json(&r).get("pull_request").is_none(), "{}", r.stdout);
    assert_eq!(fake.total() - before, 3, "{:?}", fake.counts());
    assert_eq!(fake.pulls().len(), 1);
}

// See: issue #14. `set` ran without `--pull-request`: the pull request for
// the same bump is stale, and the run says so in text and outputs.
#[test]
fn issue_14_a_direct_set_makes_the_pull_request_stale_and_it_is_closed() {
    let fake = start();
    assert_eq!(pr(&fake, BACKEND).code, 0);
    let r = bump(&fake, &["--branch", "main", BACKEND]);
    assert_eq!(r.code, 0, "{r:?}");
    let (r, outputs) = pr_in_actions(&fake, BACKEND);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains(&format!(
            "closed pull request #1 from {PR_BRANCH}: main already holds ghcr.io/acme/backend:v1.4.0; deleted its branch"
        )),
        "{}",
        r.stdout
    );
    assert_eq!(output(&outputs, "changed"), "false");
    assert_eq!(output(&outputs, "pull-request-url"), "", "closed: no URL");
    assert_eq!(
        output(&outputs, "summary"),
        "already up to date; closed pull request #1 (main already holds ghcr.io/acme/backend:v1.4.0)"
    );
    assert_eq!(fake.pulls()[0].state, "CLOSED");
    assert!(branches(&fake, "gitops-bump").is_empty());

    // A dry run never closes anything, nor looks.
    let fake = start();
    assert_eq!(pr(&fake, BACKEND).code, 0);
    assert_eq!(bump(&fake, &["--branch", "main", BACKEND]).code, 0);
    let sent = mutations(&fake);
    let r = bump(
        &fake,
        &["--branch", "main", "--pull-request", "--dry-run", BACKEND],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(mutations(&fake), sent);
    assert_eq!(fake.pulls()[0].state, "OPEN");
}

// See: issue #14. A stale pull request whose branch holds someone's work is
// not closed and its branch not deleted.
#[test]
fn issue_14_a_stale_pull_request_with_someones_work_is_left_alone() {
    let fake = start();
    assert_eq!(pr(&fake, BACKEND).code, 0);
    let theirs = fake.person_commit(PR_BRANCH, &[("NOTES.md", b"hi\n")], "notes", &jane());
    assert_eq!(bump(&fake, &["--branch", "main", BACKEND]).code, 0);
    let sent = mutations(&fake);
    let r = pr(&fake, BACKEND);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains(&theirs[..12]), "{}", r.stderr);
    assert_eq!(mutations(&fake), sent, "nothing written");
    assert_eq!(fake.pulls()[0].state, "OPEN");
    assert!(fake.comments(1).is_empty());
    assert_eq!(fake.repo().head(PR_BRANCH), Some(theirs));
}

// See: issue #14. Commits went through the REST Git data API, which GitHub
// does not sign: every commit on the branch is now `createCommitOnBranch`'s.
#[test]
fn issue_14_every_commit_on_the_branch_is_signed_and_records_what_it_holds() {
    let fake = start();
    let main = fake.repo().head("main").expect("main");
    assert_eq!(pr(&fake, BACKEND).code, 0);
    assert_ours(&fake, &fake.repo().head(PR_BRANCH).expect("branch"), &main);

    // Another tag: re-created on the same base, on a temporary branch.
    let r = pr(&fake, V15);
    assert_eq!(r.code, 0, "{r:?}");
    let v = json(&r);
    assert_eq!(v["pull_request"]["action"], "updated", "{v}");
    assert_eq!(v["changed"], true);
    let head = fake.repo().head(PR_BRANCH).expect("branch");
    assert_eq!(v["commit"].as_str(), Some(head.as_str()));
    assert_ours(&fake, &head, &main);

    // The base moved: re-created on it, even with the same tag.
    let moved = fake
        .repo()
        .commit_on("main", &[("README.md", b"moved on\n")], "unrelated");
    let r = pr(&fake, V15);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(json(&r)["pull_request"]["action"], "updated");
    let rebuilt = fake.repo().head(PR_BRANCH).expect("branch");
    assert_ours(&fake, &rebuilt, &moved);
    assert!(
        fake.repo()
            .read(PR_BRANCH, "base/deployment.yaml")
            .contains("ghcr.io/acme/backend:v1.5.0")
    );
    assert_eq!(fake.repo().read(PR_BRANCH, "README.md"), "moved on\n");

    let counts = fake.counts();
    assert!(!counts.contains_key("POST /git/commits"), "{counts:?}");
    assert_eq!(counts.get("POST /git/trees"), Some(&3), "{counts:?}");
    assert!(branches(&fake, TMP_PREFIX).is_empty());
    assert_eq!(fake.pulls().len(), 1);
    assert_eq!(fake.pulls()[0].state, "OPEN");
}

// See: issue #14. A lost answer to the commit on the temporary branch is
// never resent blindly: the temporary branch is deleted and the round
// starts again from the read.
#[test]
fn issue_14_a_lost_answer_leaves_no_temporary_branch() {
    let fake = start();
    assert_eq!(pr(&fake, BACKEND).code, 0);
    fake.faults().drop_after_write = 1;
    let r = pr(&fake, V15);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(json(&r)["attempts"], 2, "{r:?}");
    assert!(r.stderr.contains("no answer"), "{}", r.stderr);
    assert!(branches(&fake, TMP_PREFIX).is_empty());
    let main = fake.repo().head("main").expect("main");
    assert_ours(&fake, &fake.repo().head(PR_BRANCH).expect("branch"), &main);
    assert_eq!(fake.pulls().len(), 1);

    // A lost answer when the branch is created: the next round finds the
    // commit there, ours, and opens the pull request.
    let fake = start();
    let main = fake.repo().head("main").expect("main");
    fake.faults().drop_after_write = 1;
    let r = pr(&fake, BACKEND);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(json(&r)["pull_request"]["action"], "opened", "{r:?}");
    assert_eq!(fake.repo().range(&main, PR_BRANCH).len(), 1);
}

// See: issue #14. When GitHub's commit holds another tree than the one
// `git/trees` computed (a file mode it does not keep), the commit is made
// again recording GitHub's tree, and the branch stays gitops-bump's.
#[test]
fn issue_14_a_file_mode_github_drops_is_recorded_not_mistaken_for_a_person() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("gitops");
    crate::common::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/gitops"),
        &dir,
    );
    let exe = dir.join("base/deployment.yaml");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let fake = FakeGitHub::start(&dir);
    if fake
        .repo()
        .entry("main", "base/deployment.yaml")
        .expect("file")
        .mode
        != "100755"
    {
        eprintln!("skipped: this file system keeps no executable bit");
        return;
    }
    fake.faults().commit_modes_reset = true;
    let r = pr(&fake, BACKEND);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("committing again"), "{}", r.stderr);
    let head = fake.repo().head(PR_BRANCH).expect("branch");
    let main = fake.repo().head("main").expect("main");
    assert_ours(&fake, &head, &main);
    assert!(
        trailer(
            &fake.repo().info(&head).expect("c").message,
            "Gitops-Bump-Planned-Tree"
        )
        .is_some()
    );
    assert!(branches(&fake, TMP_PREFIX).is_empty());

    let r = pr(&fake, BACKEND);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(json(&r)["pull_request"]["action"], "up_to_date", "{r:?}");
    assert_eq!(fake.repo().head(PR_BRANCH), Some(head));
}

// See: issue #14. Images whose names differ only where `-` and `/` meet
// get pull requests of their own.
#[test]
fn issue_14_images_that_used_to_share_a_branch_get_their_own() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("apps.yaml"),
        "a: {image: ghcr.io/a-b/c:1.0.0}\nb: {image: ghcr.io/a/b-c:1.0.0}\n",
    )
    .expect("write");
    let fake = FakeGitHub::start(dir.path());
    for image in ["ghcr.io/a-b/c:1.1.0", "ghcr.io/a/b-c:1.1.0"] {
        let r = pr(&fake, image);
        assert_eq!(r.code, 0, "{r:?}");
        assert_eq!(json(&r)["pull_request"]["action"], "opened", "{r:?}");
    }
    let pulls = fake.pulls();
    let heads: Vec<&str> = pulls.iter().map(|p| p.head.as_str()).collect();
    assert_eq!(
        heads,
        [
            "gitops-bump/main/ghcr.io-a--b-c",
            "gitops-bump/main/ghcr.io-a-b--c"
        ]
    );
}

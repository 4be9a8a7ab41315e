//! `sync --repo … --apply` through the fake GitHub (a real Git repository)
//! and the real distribution registry: one compare-and-swap commit for every
//! `commit` entry, re-planned on a racer's head without losing its change;
//! one pull request per `pull-request` entry, kept (never duplicated) by a
//! second run and closed once the base holds the fix, on branches of their
//! own apart from `set --pull-request`'s; `--apply --dry-run` sends no
//! mutation; a repository that does not exist is one line.
//! See: issue #9 ("Apply"), issue #14 (pull-request mode).

use serde_json::Value;

use crate::common::{Run, gitops_bump};
use crate::fake_github::{self, FakeGitHub};
use crate::registry_support::{Registry, block_on, empty_docker_config, write};

const BOTH: [&str; 2] = ["linux/amd64", "linux/arm64"];

/// `acme/app` and `acme/web`, each at v1.0.0, v1.1.0 and v1.2.0.
fn registry() -> Registry {
    let reg = Registry::start();
    let p = reg.pusher();
    block_on(async {
        for repo in ["acme/app", "acme/web"] {
            for (tag, created) in [
                ("v1.0.0", "2024-01-01T00:00:00Z"),
                ("v1.1.0", "2024-02-01T00:00:00Z"),
                ("v1.2.0", "2024-03-01T00:00:00Z"),
            ] {
                p.index(repo, tag, &BOTH, created).await;
            }
        }
    });
    reg
}

fn deployment(name: &str, image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  template:\n    spec:\n      containers:\n        - name: {name}\n          image: {image}\n"
    )
}

/// `dev/` follows both images in one commit; `prod/` gets each image
/// through a pull request of its own entry. Every reference at v1.0.0.
fn repository(host: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    for env in ["dev", "prod"] {
        for name in ["app", "web"] {
            write(
                d,
                &format!("{env}/{name}.yaml"),
                &deployment(name, &format!("{host}/acme/{name}:v1.0.0")),
            );
        }
    }
    write(
        d,
        ".gitops-bump.yaml",
        &format!(
            "defaults:\n  grace: 0s\nimages:\n  - name: {host}/acme/app\n    policy: semver:^1\n    files: ['dev/**']\n  - name: {host}/acme/web\n    policy: semver:^1\n    files: ['dev/**']\n  - name: {host}/acme/app\n    policy: semver:^1\n    files: ['prod/**']\n    mode: pull-request\n  - name: {host}/acme/web\n    policy: semver:^1\n    files: ['prod/**']\n    mode: pull-request\n"
        ),
    );
    dir
}

/// `gitops-bump sync --repo REPO --branch main --insecure-registry HOST
/// --output json ARGS` against `fake`.
fn sync_repo(fake: &FakeGitHub, repo: &str, host: &str, args: &[&str]) -> Run {
    let docker = empty_docker_config();
    gitops_bump()
        .env("DOCKER_CONFIG", &docker.path().to_string_lossy())
        .env("GITHUB_TOKEN", fake_github::TOKEN)
        .env("GITHUB_API_URL", &fake.api_url())
        .env("GITHUB_GRAPHQL_URL", &fake.graphql_url())
        .args(["sync", "--repo", repo, "--branch", "main"])
        .args(["--insecure-registry", host])
        .args(args)
        .run()
}

fn sync(fake: &FakeGitHub, host: &str, args: &[&str]) -> Run {
    sync_repo(fake, "acme/gitops", host, args)
}

fn json(r: &Run) -> Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {r:?}"))
}

fn commits(fake: &FakeGitHub) -> usize {
    fake.repo().history("refs/heads/main", 10_000).len()
}

/// Mutations sent so far.
fn mutations(fake: &FakeGitHub) -> u64 {
    fake.operations()
        .iter()
        .filter(|(op, _)| op.starts_with("mutation"))
        .map(|(_, n)| n)
        .sum()
}

/// `(number, action, branch)` of each pull request a run reports, by number.
fn pull_requests(doc: &Value) -> Vec<(u64, String, String)> {
    let mut out: Vec<(u64, String, String)> = doc["pull_requests"]
        .as_array()
        .expect("pull_requests")
        .iter()
        .map(|p| {
            (
                p["number"].as_u64().expect("number"),
                p["action"].as_str().expect("action").to_owned(),
                p["branch"].as_str().expect("branch").to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn issue_9_sync_repo_one_commit_one_pull_request_per_entry_kept_then_closed() {
    let reg = registry();
    let host = reg.host();
    let files = repository(&host);
    let fake = FakeGitHub::start(files.path());
    let image = |name: &str, tag: &str| format!("image: {host}/acme/{name}:{tag}");

    // First run: both commit entries in one commit, one pull request each
    // for the two pull-request entries.
    let r = sync(&fake, &host, &["--apply", "--output", "json"]);
    assert_eq!(r.code, 0, "{r:?}");
    let doc = json(&r);
    assert_eq!(doc["changed"], true);
    assert_eq!(commits(&fake), 2, "one commit for every commit entry");
    let head = fake.repo().head("main").expect("main");
    assert_eq!(doc["commit"].as_str(), Some(head.as_str()));
    for name in ["app", "web"] {
        assert!(
            fake.repo()
                .read("main", &format!("dev/{name}.yaml"))
                .contains(&image(name, "v1.2.0"))
        );
        assert!(
            fake.repo()
                .read("main", &format!("prod/{name}.yaml"))
                .contains(&image(name, "v1.0.0")),
            "prod changes only through its pull request"
        );
    }
    let opened = pull_requests(&doc);
    assert_eq!(opened.len(), 2, "{doc:#}");
    assert!(opened.iter().all(|(_, a, _)| a == "opened"), "{opened:?}");
    assert_ne!(opened[0].2, opened[1].2, "a branch per entry");
    for (_, _, branch) in &opened {
        assert!(
            branch.starts_with("gitops-bump/main/_sync-"),
            "apart from set's image-named branches: {branch}"
        );
    }
    let on_branch = |number: u64, rel: &str| {
        let branch = &opened.iter().find(|p| p.0 == number).expect("pr").2;
        fake.repo().read(branch, rel)
    };
    let (app_pr, web_pr) = if on_branch(opened[0].0, "prod/app.yaml").contains("v1.2.0") {
        (opened[0].clone(), opened[1].clone())
    } else {
        (opened[1].clone(), opened[0].clone())
    };
    assert!(on_branch(app_pr.0, "prod/app.yaml").contains(&image("app", "v1.2.0")));
    assert!(on_branch(app_pr.0, "prod/web.yaml").contains(&image("web", "v1.0.0")));
    assert!(on_branch(web_pr.0, "prod/web.yaml").contains(&image("web", "v1.2.0")));

    // Second run: nothing to commit, the same pull requests, up to date.
    let r = sync(&fake, &host, &["--apply", "--output", "json"]);
    assert_eq!(r.code, 0, "{r:?}");
    let doc = json(&r);
    assert_eq!(doc["changed"], false, "{doc:#}");
    assert_eq!(doc["updates"], serde_json::json!([]), "{doc:#}");
    assert_eq!(commits(&fake), 2);
    let again = pull_requests(&doc);
    assert_eq!(
        again,
        vec![
            (opened[0].0, "up_to_date".into(), opened[0].2.clone()),
            (opened[1].0, "up_to_date".into(), opened[1].2.clone()),
        ]
    );
    assert_eq!(fake.pulls().len(), 2, "no duplicate pull request");

    // An edit above the entries keeps each entry's branch and pull request.
    let config = fake.repo().read("main", ".gitops-bump.yaml");
    fake.repo().commit_on(
        "main",
        &[(
            ".gitops-bump.yaml",
            format!("# Tracked images.\n\n{config}").as_bytes(),
        )],
        "config: a comment",
    );
    let r = sync(&fake, &host, &["--apply", "--output", "json"]);
    assert_eq!(r.code, 0, "{r:?}");
    let moved = pull_requests(&json(&r));
    assert_eq!(
        moved.iter().map(|p| (p.0, &p.2)).collect::<Vec<_>>(),
        opened.iter().map(|p| (p.0, &p.2)).collect::<Vec<_>>(),
        "{moved:?}"
    );
    assert_eq!(fake.pulls().len(), 2, "no duplicate pull request");

    // `set --pull-request` for the same image gets a branch of its own.
    let r = gitops_bump()
        .env("GITHUB_TOKEN", fake_github::TOKEN)
        .env("GITHUB_API_URL", &fake.api_url())
        .env("GITHUB_GRAPHQL_URL", &fake.graphql_url())
        .args(["set", "--no-verify", "--repo", "acme/gitops", "--branch"])
        .args(["main", "--pull-request", "--files", "prod/app.yaml"])
        .args(["--output", "json", &format!("{host}/acme/app:v1.1.0")])
        .run();
    assert_eq!(r.code, 0, "{r:?}");
    let set_pr = json(&r)["pull_request"].clone();
    assert_eq!(set_pr["action"], "opened", "{set_pr}");
    assert!(
        opened
            .iter()
            .all(|(_, _, b)| set_pr["branch"] != b.as_str()),
        "{set_pr} {opened:?}"
    );

    // A person fixes prod/app.yaml on main by hand: its pull request has
    // nothing left to do and is closed; the other is kept.
    let fixed = fake
        .repo()
        .read("main", "prod/app.yaml")
        .replace(&image("app", "v1.0.0"), &image("app", "v1.2.0"));
    fake.repo().commit_on(
        "main",
        &[("prod/app.yaml", fixed.as_bytes())],
        "prod: app v1.2.0 by hand",
    );
    let r = sync(&fake, &host, &["--apply", "--output", "json"]);
    assert_eq!(r.code, 0, "{r:?}");
    let doc = json(&r);
    let third = pull_requests(&doc);
    let app = third.iter().find(|p| p.0 == app_pr.0).expect("app pr");
    assert_eq!(app.1, "closed", "{doc:#}");
    let web = third.iter().find(|p| p.0 == web_pr.0).expect("web pr");
    assert_ne!(web.1, "closed", "{doc:#}");
    let pulls = fake.pulls();
    let state = |n: u64| {
        pulls
            .iter()
            .find(|p| p.number == n)
            .map(|p| p.state.clone())
    };
    assert_eq!(state(app_pr.0).as_deref(), Some("CLOSED"));
    assert_eq!(state(web_pr.0).as_deref(), Some("OPEN"));
    assert_eq!(fake.repo().head(&app_pr.2), None, "its branch is deleted");
    assert!(
        fake.comments(app_pr.0)
            .iter()
            .any(|c| c.body.contains("already holds")),
        "the comment says why"
    );
    assert_eq!(fake.pulls().len(), 3, "set's and the two of sync, no more");
    assert_eq!(commits(&fake), 4, "the people's commits only");
}

#[test]
fn issue_9_sync_repo_a_racing_writer_is_kept_and_the_run_lands_once() {
    let reg = registry();
    let host = reg.host();
    let files = repository(&host);
    // Only the commit entries.
    write(
        files.path(),
        ".gitops-bump.yaml",
        &format!(
            "images:\n  - name: {host}/acme/app\n    policy: semver:^1\n    files: ['dev/**']\n  - name: {host}/acme/web\n    policy: semver:^1\n    files: ['dev/**']\n"
        ),
    );
    let fake = FakeGitHub::start(files.path());
    // Between this run's read and its write, a person moves dev/web.yaml
    // to v1.1.0 and adds a line to dev/app.yaml.
    let racer = host.clone();
    fake.faults().before_write.push_back(Box::new(move |repo| {
        let web = repo.read("main", "dev/web.yaml").replace(
            &format!("{racer}/acme/web:v1.0.0"),
            &format!("{racer}/acme/web:v1.1.0"),
        );
        let app = format!(
            "# owned by the app team\n{}",
            repo.read("main", "dev/app.yaml")
        );
        repo.commit_on(
            "main",
            &[
                ("dev/web.yaml", web.as_bytes()),
                ("dev/app.yaml", app.as_bytes()),
            ],
            "racer",
        );
    }));
    let r = sync(&fake, &host, &["--apply", "--output", "json"]);
    assert_eq!(r.code, 0, "{r:?}");
    let doc = json(&r);
    assert_eq!(commits(&fake), 3, "the racer's commit and one of ours");
    let head = fake.repo().head("main").expect("main");
    assert_eq!(doc["commit"].as_str(), Some(head.as_str()));
    let app = fake.repo().read("main", "dev/app.yaml");
    assert!(
        app.starts_with("# owned by the app team\n"),
        "racer kept: {app}"
    );
    assert!(app.contains(&format!("{host}/acme/app:v1.2.0")), "{app}");
    let web = fake.repo().read("main", "dev/web.yaml");
    assert!(web.contains(&format!("{host}/acme/web:v1.2.0")), "{web}");
    // What the run reports was planned on the racer's head.
    let from: Vec<&str> = doc["updates"]
        .as_array()
        .expect("updates")
        .iter()
        .filter(|u| u["file"] == "dev/web.yaml")
        .filter_map(|u| u["from"].as_str())
        .collect();
    assert_eq!(from, ["v1.1.0"], "{doc:#}");
}

#[test]
fn issue_9_sync_repo_dry_run_sends_no_mutation_and_a_missing_repository_is_one_line() {
    let reg = registry();
    let host = reg.host();
    let files = repository(&host);
    let fake = FakeGitHub::start(files.path());
    let head = fake.repo().head("main").expect("main");
    let r = sync(&fake, &host, &["--apply", "--dry-run"]);
    // Nothing was fixed: the drift is still an error.
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout
            .ends_with("4 behind; --apply would write 4 value(s) in 4 file(s)\n"),
        "{}",
        r.stdout
    );
    assert_eq!(mutations(&fake), 0, "{:?}", fake.operations());
    assert_eq!(fake.repo().head("main").as_deref(), Some(head.as_str()));
    assert!(fake.pulls().is_empty());
    for name in ["app", "web"] {
        for env in ["dev", "prod"] {
            assert!(
                r.stdout.contains(&format!("{env}/{name}.yaml\n"))
                    && r.stdout.contains(&format!(
                        "-          image: {host}/acme/{name}:v1.0.0\n+          image: {host}/acme/{name}:v1.2.0\n"
                    )),
                "{env}/{name}: {}",
                r.stdout
            );
        }
    }

    // A repository that does not exist: one line naming it, exit 1, nothing
    // on stdout.
    for args in [&[][..], &["--apply"][..], &["--files", "dev/app.yaml"][..]] {
        let before = fake.total();
        let r = sync_repo(&fake, "acme/nope", &host, args);
        assert_eq!(r.code, 1, "{args:?}: {r:?}");
        assert_eq!(r.stderr.lines().count(), 1, "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.starts_with("error: github acme/nope@main: ")
                && (r.stderr.contains("not found")
                    || r.stderr.contains("Could not resolve to a Repository"))
                && r.stderr.contains("contents: read"),
            "{args:?}: {}",
            r.stderr
        );
        assert_eq!(r.stdout, "", "{args:?}");
        assert_eq!(fake.total() - before, 1, "no retries: {:?}", fake.counts());
    }
}

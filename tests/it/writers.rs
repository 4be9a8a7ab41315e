//! The writer guards end to end (issue #11): two updaters that once undid
//! each other ~540 times a day, now run alternately against one file, with
//! real Git history (a local work tree, and the fake GitHub over a real
//! repository) and the real registry; revert detection by the same writer,
//! another writer, a person, inside and outside the window and with
//! `--allow-revert`; ownership from `.gitops-bump.yaml` and Flux; the storm
//! brake; out-of-order builds; the policy of the governing entry; the
//! writer identity inside Actions; the request budget; bad flags.
//! See: issue #11.

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::common::{Run, git, git_init, gitops_bump};
use crate::fake_github::{self, FakeGitHub, Person, bump_message, iso_utc};
use crate::registry_support::{Registry, block_on, empty_docker_config, write};

const BOTH: [&str; 2] = ["linux/amd64", "linux/arm64"];

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The registry of the incident: `acme/app` where the newest tag lacks
/// arm64 (`sha-2222222`, amd64 only, built a day ago; `sha-1111111`, both,
/// two days ago), and `acme/web` with semver tags `v1.1.0` (both) and
/// `v1.2.0` (amd64 only).
fn registry() -> Registry {
    let reg = Registry::start();
    let p = reg.pusher();
    let (two_days, one_day) = (iso_utc(now() - 2 * 86_400), iso_utc(now() - 86_400));
    block_on(async {
        p.index("acme/app", "sha-1111111", &BOTH, &two_days).await;
        p.index("acme/app", "sha-2222222", &["linux/amd64"], &one_day)
            .await;
        p.index("acme/web", "v1.1.0", &BOTH, "2024-02-01T00:00:00Z")
            .await;
        p.index(
            "acme/web",
            "v1.2.0",
            &["linux/amd64"],
            "2024-03-01T00:00:00Z",
        )
        .await;
    });
    reg
}

fn deployment(image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: {image}\n"
    )
}

fn json(r: &Run) -> Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {r:?}"))
}

/// Where a writer writes: a local work tree, or the fake GitHub.
enum Store<'a> {
    Dir(&'a Path),
    GitHub(&'a FakeGitHub),
}

impl Store<'_> {
    /// `gitops-bump ARGS` against the store: `--dir D --commit`, or
    /// `--repo acme/gitops --branch main` with the token in the environment.
    fn run(&self, command: &str, args: &[&str]) -> Run {
        let docker = empty_docker_config();
        let cmd = gitops_bump()
            .env("DOCKER_CONFIG", &docker.path().to_string_lossy())
            .args([command]);
        match self {
            Store::Dir(d) => cmd.args(["--dir"]).args([d]).args(["--commit"]),
            Store::GitHub(fake) => cmd
                .env("GITHUB_TOKEN", fake_github::TOKEN)
                .env("GITHUB_API_URL", &fake.api_url())
                .env("GITHUB_GRAPHQL_URL", &fake.graphql_url())
                .args(["--repo", "acme/gitops", "--branch", "main"]),
        }
        .args(args)
        .run()
    }

    fn read(&self, path: &str) -> String {
        match self {
            Store::Dir(d) => std::fs::read_to_string(d.join(path)).expect("read"),
            Store::GitHub(fake) => fake.repo().read("main", path),
        }
    }

    fn commits(&self) -> usize {
        match self {
            Store::Dir(d) => git(d, &["rev-list", "--count", "HEAD"])
                .parse()
                .expect("count"),
            Store::GitHub(fake) => fake.repo().history("refs/heads/main", 10_000).len(),
        }
    }

    fn head(&self) -> String {
        match self {
            Store::Dir(d) => git(d, &["rev-parse", "HEAD"]),
            Store::GitHub(fake) => fake.repo().head("main").expect("main"),
        }
    }
}

/// The tag `explain` selects for `image` with `platform`: what each
/// updater of the incident did before writing.
fn newest_with(reg: &Registry, image: &str, platform: &str) -> String {
    let docker = empty_docker_config();
    let r = gitops_bump()
        .env("DOCKER_CONFIG", &docker.path().to_string_lossy())
        .args(["explain", image, "--policy", "newest-build"])
        .args(["--platform", platform, "--insecure-registry", &reg.host()])
        .args(["--output", "json"])
        .run();
    assert_eq!(r.code, 0, "{r:?}");
    json(&r)["selected"]["tag"]
        .as_str()
        .unwrap_or_else(|| panic!("nothing selected: {r:?}"))
        .to_owned()
}

/// Two writers, amd64 and arm64, each setting the newest tag that has its
/// platform, alternately `rounds` times: exactly one change lands, every
/// arm64 run is refused with the fight error, and the file never moves
/// back. Returns the refusals' texts.
fn alternate(reg: &Registry, store: &Store<'_>, rounds: usize) -> Vec<String> {
    let image = format!("{}/acme/app", reg.host());
    let commits = store.commits();
    let mut landed: Option<(String, String)> = None;
    let mut refusals = Vec::new();
    for round in 0..rounds {
        for (writer, platform) in [("amd64", "linux/amd64"), ("arm64", "linux/arm64")] {
            let tag = newest_with(reg, &image, platform);
            let r = store.run(
                "set",
                &[
                    "--writer-id",
                    writer,
                    "--platform",
                    platform,
                    "--insecure-registry",
                    &reg.host(),
                    "--files",
                    "app.yaml",
                    "--output",
                    "json",
                    &format!("{image}:{tag}"),
                ],
            );
            let text = store.read("app.yaml");
            match (writer, round) {
                ("amd64", 0) => {
                    assert_eq!(
                        (r.code, json(&r)["changed"].as_bool()),
                        (0, Some(true)),
                        "{r:?}"
                    );
                    assert_eq!(tag, "sha-2222222");
                    landed = Some((store.head(), text.clone()));
                }
                ("amd64", _) => {
                    assert_eq!(
                        (r.code, json(&r)["changed"].as_bool()),
                        (0, Some(false)),
                        "round {round}: {r:?}"
                    );
                }
                _ => {
                    assert_eq!(tag, "sha-1111111");
                    assert_eq!(r.code, 1, "round {round}: {r:?}");
                    let doc = json(&r);
                    assert_eq!(doc["changed"], false);
                    let error = doc["errors"][0]["message"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    let (commit, _) = landed.as_ref().expect("amd64 landed first");
                    assert!(
                        error.starts_with(&format!(
                            "{image}: sha-2222222 → sha-1111111 would undo commit {} by writer amd64 (",
                            &commit[..12]
                        )) && error.contains(
                            "ago), which moved it sha-1111111 → sha-2222222; this run is writer arm64, so two writers are fighting over this reference. For a deliberate rollback pass --allow-revert"
                        ),
                        "round {round}: {error}"
                    );
                    assert_eq!(doc["errors"][0]["file"], "app.yaml");
                    assert_eq!(doc["errors"][0]["line"], 10);
                    refusals.push(error);
                }
            }
            let (_, kept) = landed.as_ref().expect("amd64 ran first");
            assert_eq!(
                &text, kept,
                "round {round} {writer}: the file never oscillates"
            );
        }
    }
    assert_eq!(store.commits(), commits + 1, "exactly one change landed");
    refusals
}

#[test]
fn issue_11_two_writers_alternating_twenty_times_land_one_change_locally() {
    let reg = registry();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(
        d,
        "app.yaml",
        &deployment(&format!("{}/acme/app:sha-1111111", reg.host())),
    );
    git_init(d);
    let refusals = alternate(&reg, &Store::Dir(d), 20);
    assert_eq!(refusals.len(), 20);
}

#[test]
fn issue_11_two_writers_alternating_twenty_times_land_one_change_through_github() {
    let reg = registry();
    let files = tempfile::tempdir().expect("tempdir");
    write(
        files.path(),
        "app.yaml",
        &deployment(&format!("{}/acme/app:sha-1111111", reg.host())),
    );
    let fake = FakeGitHub::start(files.path());
    let refusals = alternate(&reg, &Store::GitHub(&fake), 20);
    assert_eq!(refusals.len(), 20);
    // Each refused run read the file and its history, nothing more.
    assert_eq!(
        fake.operations().get("query FileHistory"),
        Some(&21),
        "{:?}",
        fake.operations()
    );
}

/// Commits everything in `dir` as `author`, `ago` seconds ago.
fn commit_as(dir: &Path, author: &str, ago: u64, message: &str) -> String {
    let date = format!("@{} +0000", now() - ago);
    let run = |args: &[&str]| {
        let out = Command::new("git")
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
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    run(&["add", "-A"]);
    run(&["commit", "-q", "-m", message]);
    run(&["rev-parse", "HEAD"])
}

const APP: &str = "ghcr.io/acme/app";

/// A work tree whose `app.yaml` holds `tag`, committed by a person `ago`
/// seconds ago.
fn work_tree(tag: &str, ago: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    git(d, &["init", "-q", "-b", "main"]);
    write(d, "app.yaml", &deployment(&format!("{APP}:{tag}")));
    commit_as(d, "Alice Doe", ago, "add the app");
    dir
}

/// `writer` moved `app.yaml` from `from` to `to`, `ago` seconds ago.
fn bumped(d: &Path, writer: &str, from: &str, to: &str, ago: u64) -> String {
    write(d, "app.yaml", &deployment(&format!("{APP}:{to}")));
    commit_as(
        d,
        "gitops-bump",
        ago,
        &bump_message(
            &format!("chore(gitops): bump {APP} to {to}"),
            APP,
            from,
            to,
            writer,
            "1",
        ),
    )
}

/// `set --no-verify` in `d` (no registry: only the writer guards and the
/// semver order, which these tags do not have).
fn set(d: &Path, args: &[&str]) -> Run {
    Store::Dir(d).run(
        "set",
        &[&["--no-verify", "--output", "json"], args].concat(),
    )
}

fn refusal(r: &Run) -> String {
    assert_eq!(r.code, 1, "{r:?}");
    let doc = json(r);
    assert_eq!(doc["changed"], false, "{r:?}");
    doc["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn landed(r: &Run) {
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(json(r)["changed"], true, "{r:?}");
}

#[test]
fn issue_11_reverts_same_writer_other_writer_window_allow_revert_and_a_person() {
    let target = format!("{APP}:sha-aaaaaaa");
    // The same writer may undo its own change.
    let t = work_tree("sha-aaaaaaa", 7200);
    bumped(t.path(), "ci", "sha-aaaaaaa", "sha-bbbbbbb", 3600);
    landed(&set(t.path(), &["--writer-id", "ci", &target]));

    // Another writer within the window is refused, and nothing is written.
    let t = work_tree("sha-aaaaaaa", 7200);
    let d = t.path();
    let oid = bumped(d, "ci", "sha-aaaaaaa", "sha-bbbbbbb", 3600);
    let before = (
        std::fs::read_to_string(d.join("app.yaml")).expect("read"),
        git(d, &["rev-parse", "HEAD"]),
    );
    let message = refusal(&set(d, &["--writer-id", "hotfix", &target]));
    assert_eq!(
        message,
        format!(
            "{APP}: sha-bbbbbbb → sha-aaaaaaa would undo commit {} by writer ci (60m ago), which moved it sha-aaaaaaa → sha-bbbbbbb; this run is writer hotfix, so two writers are fighting over this reference. For a deliberate rollback pass --allow-revert; otherwise give both writers the same platforms and policy, or each its own write-back path (or one owner in .gitops-bump.yaml)",
            &oid[..12]
        )
    );
    let after = (
        std::fs::read_to_string(d.join("app.yaml")).expect("read"),
        git(d, &["rev-parse", "HEAD"]),
    );
    assert_eq!(before, after, "nothing written");
    // A narrower window no longer sees it; --allow-revert lets it through.
    let dry = |extra: &[&str]| {
        set(
            d,
            &[
                &["--writer-id", "hotfix", "--dry-run"],
                extra,
                &[target.as_str()],
            ]
            .concat(),
        )
    };
    landed(&dry(&["--fight-window", "30m"]));
    landed(&dry(&["--allow-revert"]));
    landed(&set(
        d,
        &["--writer-id", "hotfix", "--allow-revert", &target],
    ));

    // Outside the default window of 24 h: allowed.
    let t = work_tree("sha-aaaaaaa", 3 * 86_400);
    bumped(t.path(), "ci", "sha-aaaaaaa", "sha-bbbbbbb", 25 * 3600);
    landed(&set(t.path(), &["--writer-id", "hotfix", &target]));

    // A person's edit (no trailers) is writer `human`, protected alike.
    let t = work_tree("sha-aaaaaaa", 7200);
    let d = t.path();
    write(d, "app.yaml", &deployment(&format!("{APP}:sha-ccccccc")));
    let oid = commit_as(
        d,
        "Alice Doe",
        600,
        "roll back by hand: sha-aaaaaaa crashes",
    );
    let message = refusal(&set(d, &["--writer-id", "ci", &target]));
    assert!(
        message.contains(&format!(
            "would undo commit {} by writer human (Alice Doe) (10m ago), which moved it sha-aaaaaaa → sha-ccccccc; this run is writer ci",
            &oid[..12]
        )),
        "{message}"
    );
    // A value nobody replaced is no revert.
    landed(&set(
        d,
        &["--writer-id", "ci", &format!("{APP}:sha-ddddddd")],
    ));
}

#[test]
fn issue_11_reverts_through_github_and_the_history_read_in_the_budget() {
    let files = tempfile::tempdir().expect("tempdir");
    write(
        files.path(),
        "app.yaml",
        &deployment(&format!("{APP}:sha-aaaaaaa")),
    );
    let fake = FakeGitHub::start(files.path());
    let text = fake.repo().read("main", "app.yaml");
    let oid = fake.bot_commit(
        "main",
        &[(
            "app.yaml",
            text.replace("sha-aaaaaaa", "sha-bbbbbbb").as_bytes(),
        )],
        &bump_message(
            "chore(gitops): bump",
            APP,
            "sha-aaaaaaa",
            "sha-bbbbbbb",
            "ci",
            "1",
        ),
        &iso_utc(now() - 1800),
    );
    let store = Store::GitHub(&fake);
    let set = |args: &[&str]| {
        store.run(
            "set",
            &[
                &["--no-verify", "--files", "app.yaml", "--output", "json"],
                args,
            ]
            .concat(),
        )
    };
    let target = format!("{APP}:sha-aaaaaaa");
    let r = set(&["--writer-id", "hotfix", &target]);
    let message = refusal(&r);
    assert!(
        message.contains(&format!(
            "would undo commit {} by writer ci (30m ago)",
            &oid[..12]
        )),
        "{message}"
    );
    // The read (one query, exact paths) and the history: two requests.
    assert_eq!(json(&r)["api_requests"], 2, "{:?}", fake.counts());
    assert_eq!(fake.operations().get("query FileHistory"), Some(&1));
    // Allowed: read, history, mutation, verification.
    let before = fake.total();
    let r = set(&["--writer-id", "hotfix", "--allow-revert", &target]);
    landed(&r);
    assert_eq!(json(&r)["api_requests"], 4);
    assert_eq!(fake.total() - before, 4);
    // The person's hand edit through GitHub is protected.
    let text = fake.repo().read("main", "app.yaml");
    let alice = Person::new("Alice Doe", "alice@example.com", &iso_utc(now() - 120));
    let hand = fake.person_commit(
        "main",
        &[(
            "app.yaml",
            text.replace("sha-aaaaaaa", "sha-ccccccc").as_bytes(),
        )],
        "roll back by hand",
        &alice,
    );
    let message = refusal(&set(&["--writer-id", "ci", &target]));
    assert!(
        message.contains(&format!(
            "would undo commit {} by writer human (Alice Doe) (",
            &hand[..12]
        )),
        "{message}"
    );
    // Nothing to change: no history read at all.
    let history = fake.operations().get("query FileHistory").copied();
    let r = set(&["--writer-id", "ci", &format!("{APP}:sha-ccccccc")]);
    assert_eq!(
        (r.code, json(&r)["changed"].as_bool()),
        (0, Some(false)),
        "{r:?}"
    );
    assert_eq!(fake.operations().get("query FileHistory").copied(), history);
    assert_eq!(json(&r)["api_requests"], 1);
}

#[test]
fn issue_11_the_storm_brake_stops_an_image_that_keeps_changing() {
    let t = work_tree("v0", 7200);
    let d = t.path();
    // Eleven changes by two writers within the hour.
    for i in 0..11u64 {
        let (from, to, writer) = if i % 2 == 0 {
            ("sha-aaaaaaa", "sha-bbbbbbb", "amd64")
        } else {
            ("sha-bbbbbbb", "sha-aaaaaaa", "arm64")
        };
        bumped(d, writer, from, to, 3000 - i * 60);
    }
    let r = set(d, &["--writer-id", "third", &format!("{APP}:sha-ccccccc")]);
    let message = refusal(&r);
    assert!(
        message.starts_with(&format!(
            "{APP} changed 11 times in this file within the last hour, more than --max-changes 10: a loop is already running (latest: "
        )) && message.contains("by amd64 (")
            && message.contains("Stop the writers that keep changing it"),
        "{message}"
    );
    landed(&set(
        d,
        &[
            "--writer-id",
            "third",
            "--max-changes",
            "11",
            &format!("{APP}:sha-ccccccc"),
        ],
    ));
}

/// `app.yaml` plus `.gitops-bump.yaml` giving the image to `owner`.
fn owned_by(owner: &str) -> tempfile::TempDir {
    let t = work_tree("v1.0.0", 7200);
    let d = t.path();
    write(
        d,
        ".gitops-bump.yaml",
        &format!("images:\n  - name: {APP}\n    policy: semver:^1\n    writer: {owner}\n"),
    );
    commit_as(d, "Alice Doe", 3600, "hand the app to its owner");
    t
}

#[test]
fn issue_11_set_refuses_a_reference_another_writer_owns() {
    for owner in ["ci-edge", "argocd-image-updater"] {
        let t = owned_by(owner);
        let d = t.path();
        let target = format!("{APP}:v1.1.0");
        let message = refusal(&set(d, &["--writer-id", "ci-dev", &target]));
        assert_eq!(
            message,
            format!(
                "{APP} is owned by writer {owner} (.gitops-bump.yaml:2), and this run is writer ci-dev: it is left to its owner; run as --writer-id {owner} to write it, or hand it over in .gitops-bump.yaml (writer: ID)"
            )
        );
        landed(&set(d, &["--writer-id", owner, &target]));
        let body = git(d, &["log", "-1", "--format=%B"]);
        assert!(
            body.contains(&format!("Gitops-Bump-Writer: {owner}")),
            "{body}"
        );
    }
    // Only --files narrowed to the manifest: the configuration is read anyway.
    let t = owned_by("ci-edge");
    let r = set(
        t.path(),
        &[
            "--files",
            "app.yaml",
            "--writer-id",
            "ci-dev",
            &format!("{APP}:v1.1.0"),
        ],
    );
    assert!(refusal(&r).contains("owned by writer ci-edge"), "{r:?}");
    // A broken configuration: nothing written, the file, line and column named.
    write(
        t.path(),
        ".gitops-bump.yaml",
        &format!("images:\n  - name: {APP}\n    policy: semver:^1\n    writter: ci\n"),
    );
    let message = refusal(&set(
        t.path(),
        &["--writer-id", "ci", &format!("{APP}:v1.1.0")],
    ));
    assert!(message.starts_with(".gitops-bump.yaml:4:5: "), "{message}");
    assert!(message.contains("writter"), "{message}");
}

const AUTOMATION: &str = "apiVersion: image.toolkit.fluxcd.io/v1beta2\nkind: ImageUpdateAutomation\nmetadata:\n  name: fleet\n  namespace: flux-system\nspec:\n  update:\n    path: ./apps\n";

#[test]
fn issue_11_a_flux_marker_an_automation_updates_belongs_to_flux() {
    let t = work_tree("v1.0.0", 7200);
    let d = t.path();
    std::fs::remove_file(d.join("app.yaml")).expect("rm");
    write(
        d,
        "apps/app.yaml",
        &format!("image: {APP}:v1.0.0 # {{\"$imagepolicy\": \"flux-system:app\"}}\n"),
    );
    write(d, "clusters/dev/flux-system/automation.yaml", AUTOMATION);
    write(
        d,
        "other/app.yaml",
        &format!("image: {APP}:v1.0.0 # {{\"$imagepolicy\": \"flux-system:app\"}}\n"),
    );
    commit_as(d, "Alice Doe", 3600, "flux");
    let r = set(
        d,
        &["--writer-id", "ci", "--dry-run", &format!("{APP}:v1.1.0")],
    );
    assert_eq!(r.code, 1, "{r:?}");
    let doc = json(&r);
    assert_eq!(doc["errors"][0]["file"], "apps/app.yaml");
    assert_eq!(
        doc["errors"][0]["message"],
        format!(
            "{APP} is owned by writer flux (ImageUpdateAutomation fleet at clusters/dev/flux-system/automation.yaml:1 updates this path), and this run is writer ci: it is left to its owner; run as --writer-id flux to write it, or hand it over in .gitops-bump.yaml (writer: ID)"
        )
    );
    assert_eq!(
        doc["errors"].as_array().map(Vec::len),
        Some(1),
        "other/ is not updated by flux: {doc:#}"
    );
    // The configuration hands it over.
    write(
        d,
        ".gitops-bump.yaml",
        &format!("images:\n  - name: {APP}\n    policy: semver:^1\n    writer: ci\n"),
    );
    landed(&set(
        d,
        &["--writer-id", "ci", "--dry-run", &format!("{APP}:v1.1.0")],
    ));
}

#[test]
fn issue_11_set_orders_each_reference_by_the_policy_of_its_entry() {
    let t = work_tree("v1.9", 7200);
    let d = t.path();
    write(d, "db.yaml", &deployment("ghcr.io/acme/db:v1.9"));
    write(
        d,
        ".gitops-bump.yaml",
        &format!("images:\n  - name: {APP}\n    policy: alphabetical\n"),
    );
    commit_as(d, "Alice Doe", 3600, "config");
    // Semver (no entry) says v1.9 → v1.10 is forward; the app's
    // alphabetical entry says it is backward.
    let r = set(
        d,
        &[
            "--dry-run",
            &format!("{APP}:v1.10"),
            "ghcr.io/acme/db:v1.10",
        ],
    );
    let doc = json(&r);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(doc["errors"].as_array().map(Vec::len), Some(1), "{doc:#}");
    assert_eq!(doc["errors"][0]["file"], "app.yaml");
    assert_eq!(
        doc["errors"][0]["message"],
        format!(
            "{APP}: v1.9 → v1.10 is a downgrade (alphabetical:asc order); pass --allow-downgrade to move backwards"
        )
    );
}

#[test]
fn issue_11_an_older_build_over_a_newer_one_is_out_of_order() {
    let reg = Registry::start();
    let p = reg.pusher();
    block_on(async {
        p.index("acme/build", "sha-aaaaaaa", &BOTH, "2024-03-01T10:00:00Z")
            .await;
        p.index("acme/build", "sha-bbbbbbb", &BOTH, "2024-03-02T10:00:00Z")
            .await;
        p.index("acme/build", "sha-ccccccc", &BOTH, "2024-03-03T10:00:00Z")
            .await;
        p.index("acme/semver", "v1.0.0", &BOTH, "2024-03-03T10:00:00Z")
            .await;
        p.index("acme/semver", "v1.1.0", &BOTH, "2024-03-01T10:00:00Z")
            .await;
    });
    let image = format!("{}/acme/build", reg.host());
    let t = work_tree("x", 7200);
    let d = t.path();
    write(d, "app.yaml", &deployment(&format!("{image}:sha-bbbbbbb")));
    write(
        d,
        "semver.yaml",
        &deployment(&format!("{}/acme/semver:v1.0.0", reg.host())),
    );
    commit_as(d, "Alice Doe", 3600, "builds");
    let run = |args: &[&str]| {
        Store::Dir(d).run(
            "set",
            &[
                &[
                    "--insecure-registry",
                    reg.host().as_str(),
                    "--output",
                    "json",
                ],
                args,
            ]
            .concat(),
        )
    };
    // The run for sha-aaaaaaa finished last.
    let message = refusal(&run(&[&format!("{image}:sha-aaaaaaa")]));
    assert_eq!(
        message,
        format!(
            "{image}: sha-bbbbbbb (built 2024-03-02T10:00:00Z) → sha-aaaaaaa (built 2024-03-01T10:00:00Z) replaces a newer build with an older one: the semver order cannot compare these tags, so their build times decide (a pipeline that finished out of order?); pass --allow-downgrade to move back"
        )
    );
    landed(&run(&[
        "--dry-run",
        "--allow-downgrade",
        &format!("{image}:sha-aaaaaaa"),
    ]));
    // A newer build moves; a semver move never asks for build times (v1.1.0
    // is older by build time, yet newer by its version).
    let newer = run(&["--dry-run", &format!("{image}:sha-ccccccc")]);
    landed(&newer);
    let ordered = run(&["--dry-run", &format!("{}/acme/semver:v1.1.0", reg.host())]);
    landed(&ordered);
    let requests = |r: &Run| json(r)["registry"]["requests"].as_u64().unwrap_or_default();
    assert!(
        requests(&ordered) < requests(&newer),
        "build times only for tags without an order: {} vs {}",
        requests(&ordered),
        requests(&newer)
    );
}

#[test]
fn issue_11_the_writer_is_the_workflow_inside_actions() {
    let t = work_tree("sha-aaaaaaa", 7200);
    let d = t.path();
    let r = gitops_bump()
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_WORKFLOW", "deploy dev")
        .env("GITHUB_REPOSITORY", "acme/app")
        .args(["set", "--no-verify", "--commit", "--dir"])
        .args([d])
        .args([&format!("{APP}:sha-bbbbbbb")])
        .run();
    assert_eq!(r.code, 0, "{r:?}");
    let body = git(d, &["log", "-1", "--format=%B"]);
    assert!(
        body.contains("Gitops-Bump-Writer: deploy dev@acme/app\n"),
        "{body}"
    );
    // Another workflow is another writer: it may not undo that.
    let r = gitops_bump()
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_WORKFLOW", "hotfix")
        .env("GITHUB_REPOSITORY", "acme/app")
        .args(["set", "--no-verify", "--dir"])
        .args([d])
        .args([&format!("{APP}:sha-aaaaaaa")])
        .run();
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout.contains("by writer deploy dev@acme/app (")
            && r.stdout.contains("this run is writer hotfix@acme/app"),
        "{r:?}"
    );
}

#[test]
fn issue_11_a_plain_directory_warns_once_and_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "app.yaml",
        &deployment(&format!("{APP}:sha-aaaaaaa")),
    );
    let r = gitops_bump()
        .args(["set", "--no-verify", "--dir"])
        .args([dir.path()])
        .args([&format!("{APP}:sha-bbbbbbb")])
        .run();
    assert_eq!(r.code, 0, "{r:?}");
    let warnings: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.contains("could not check for fights"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", r.stderr);
    assert!(warnings[0].starts_with("warning: dir ") && warnings[0].ends_with("no Git history, so the writer guards could not check for fights (reverts of another writer's change, the storm brake); going on"), "{}", r.stderr);
    assert!(
        std::fs::read_to_string(dir.path().join("app.yaml"))
            .expect("read")
            .contains("sha-bbbbbbb")
    );
}

#[test]
fn issue_11_bad_writer_guard_flags_are_one_line_naming_the_flag() {
    let dir = tempfile::tempdir().expect("tempdir");
    for command in [&["set", "a/b:1"][..], &["sync"]] {
        for (flag, value) in [
            ("--fight-window", "soon"),
            ("--fight-window", "0"),
            ("--fight-depth", "0"),
            ("--fight-depth", "101"),
            ("--max-changes", "0"),
            ("--max-changes", "60"),
            ("--writer-id", " "),
        ] {
            let r = gitops_bump()
                .args(&command[..1])
                .args(["--dir"])
                .args([dir.path()])
                .args([flag, value])
                .args(&command[1..])
                .run();
            assert_eq!(r.code, 2, "{command:?} {flag} {value}: {r:?}");
            assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
            assert!(
                r.stderr.starts_with(&format!("error: {flag}")),
                "{}",
                r.stderr
            );
        }
    }
}

/// The sync side: `acme/web` tracked by semver; the amd64 and arm64
/// updaters are `sync --apply` with their platform.
fn sync(reg: &Registry, d: &Path, writer: &str, platform: &str) -> Run {
    Store::Dir(d).run(
        "sync",
        &[
            "--apply",
            "--writer-id",
            writer,
            "--platform",
            platform,
            "--insecure-registry",
            &reg.host(),
            "--output",
            "json",
        ],
    )
}

fn web_reference(doc: &Value) -> &Value {
    doc["references"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["file"] == "app.yaml"))
        .unwrap_or_else(|| panic!("no reference: {doc:#}"))
}

#[test]
fn issue_11_sync_writers_never_fight_a_platform_filter_is_blocked() {
    let reg = registry();
    let image = format!("{}/acme/web", reg.host());
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(d, "app.yaml", &deployment(&format!("{image}:v1.1.0")));
    write(
        d,
        ".gitops-bump.yaml",
        &format!("images:\n  - name: {image}\n    policy: semver:^1\n"),
    );
    git_init(d);
    for round in 0..4 {
        let r = sync(&reg, d, "amd64", "linux/amd64");
        assert_eq!(r.code, 0, "round {round}: {r:?}");
        assert_eq!(json(&r)["changed"], round == 0, "round {round}: {r:?}");
        let r = sync(&reg, d, "arm64", "linux/arm64");
        assert_eq!(r.code, 1, "round {round}: {r:?}");
        let doc = json(&r);
        let reference = web_reference(&doc);
        assert_eq!(
            (
                reference["verdict"].as_str(),
                reference["severity"].as_str()
            ),
            (Some("blocked"), Some("error"))
        );
        assert_eq!(
            reference["message"],
            format!(
                "{image}:v1.2.0 lacks platform linux/arm64 that the workload runs on, and the newest tag that has it, v1.1.0, is older: moving back would be a downgrade, so it is not written; push v1.2.0 for linux/arm64 (or give the workload its own write-back path)"
            )
        );
        assert_eq!(doc["changed"], false);
    }
    assert_eq!(
        git(d, &["rev-list", "--count", "HEAD"]),
        "2",
        "one change landed"
    );
}

#[test]
fn issue_11_sync_blocks_a_revert_and_an_owned_reference() {
    let reg = registry();
    let image = format!("{}/acme/web", reg.host());
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    git(d, &["init", "-q", "-b", "main"]);
    write(d, "app.yaml", &deployment(&format!("{image}:v1.2.0")));
    write(
        d,
        ".gitops-bump.yaml",
        &format!("images:\n  - name: {image}\n    policy: semver:^1\n"),
    );
    commit_as(d, "Alice Doe", 7200, "web");
    // A person rolled it back by hand ten minutes ago.
    write(d, "app.yaml", &deployment(&format!("{image}:v1.1.0")));
    let hand = commit_as(d, "Alice Doe", 600, "roll back: v1.2.0 crashes");
    let r = sync(&reg, d, "amd64", "linux/amd64");
    assert_eq!(r.code, 1, "{r:?}");
    let doc = json(&r);
    let reference = web_reference(&doc);
    assert_eq!(
        (
            reference["verdict"].as_str(),
            reference["severity"].as_str()
        ),
        (Some("blocked"), Some("error"))
    );
    let message = reference["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!(
            "v1.1.0 → v1.2.0 would undo commit {} by writer human (Alice Doe) (10m ago)",
            &hand[..12]
        )),
        "{message}"
    );
    assert_eq!(doc["changed"], false);
    // The entry names an owner: blocked (a warning), naming it.
    write(
        d,
        ".gitops-bump.yaml",
        &format!("images:\n  - name: {image}\n    policy: semver:^1\n    writer: release\n"),
    );
    commit_as(d, "Alice Doe", 300, "the release workflow owns web");
    let r = sync(&reg, d, "amd64", "linux/amd64");
    assert_eq!(r.code, 0, "{r:?}");
    let doc = json(&r);
    let reference = web_reference(&doc);
    assert_eq!(
        (
            reference["verdict"].as_str(),
            reference["severity"].as_str()
        ),
        (Some("blocked"), Some("warning"))
    );
    assert!(
        reference["message"]
            .as_str()
            .is_some_and(|m| m.starts_with(&format!(
                "{image} is owned by writer release (.gitops-bump.yaml:2)"
            ))),
        "{doc:#}"
    );
    // Its owner with --allow-revert writes it.
    let r = Store::Dir(d).run(
        "sync",
        &[
            "--apply",
            "--writer-id",
            "release",
            "--allow-revert",
            "--platform",
            "linux/amd64",
            "--insecure-registry",
            &reg.host(),
            "--output",
            "json",
        ],
    );
    assert_eq!(
        (r.code, json(&r)["changed"].as_bool()),
        (0, Some(true)),
        "{r:?}"
    );
}

#[test]
fn issue_11_sync_leaves_a_reference_flux_updates_to_flux_until_handed_over() {
    let reg = registry();
    let image = format!("{}/acme/web", reg.host());
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(
        d,
        "clusters/dev/flux-system/images.yaml",
        &format!(
            "apiVersion: image.toolkit.fluxcd.io/v1beta2\nkind: ImageRepository\nmetadata:\n  name: web\n  namespace: flux-system\nspec:\n  image: {image}\n---\napiVersion: image.toolkit.fluxcd.io/v1beta2\nkind: ImagePolicy\nmetadata:\n  name: web\n  namespace: flux-system\nspec:\n  imageRepositoryRef:\n    name: web\n  policy:\n    semver:\n      range: '>=1.0.0'\n---\n{AUTOMATION}"
        ),
    );
    let marked = format!("image: {image}:v1.1.0 # {{\"$imagepolicy\": \"flux-system:web\"}}\n");
    // The same policy marks a file outside the automation's path: not
    // flux's to write, and (issue #10) no marker Flux would write either, so
    // it is checked, reported behind and left alone.
    write(d, "other/web.yaml", &marked);
    write(d, "apps/web.yaml", &marked);
    git_init(d);
    let r = sync(&reg, d, "ci", "linux/amd64");
    assert_eq!(r.code, 1, "only the unwritten drift fails the run: {r:?}");
    let doc = json(&r);
    let other = doc["references"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["file"] == "other/web.yaml"))
        .unwrap_or_else(|| panic!("{doc:#}"));
    assert_eq!(other["verdict"], "behind", "{doc:#}");
    assert_eq!(doc["changed"], false, "{doc:#}");
    assert_eq!(
        std::fs::read_to_string(d.join("other/web.yaml")).expect("read"),
        marked
    );
    let web = doc["references"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["file"] == "apps/web.yaml"))
        .unwrap_or_else(|| panic!("{doc:#}"));
    assert_eq!(
        (
            web["verdict"].as_str(),
            web["severity"].as_str(),
            web["policy_source"].as_str()
        ),
        (Some("blocked"), Some("warning"), Some("flux"))
    );
    assert_eq!(
        web["message"],
        format!(
            "{image} is owned by writer flux (ImageUpdateAutomation fleet at clusters/dev/flux-system/images.yaml:21 updates this path), and this run is writer ci: it is left to its owner; run as --writer-id flux to write it, or hand it over in .gitops-bump.yaml (writer: ID)"
        )
    );
    assert_eq!(
        std::fs::read_to_string(d.join("apps/web.yaml")).expect("read"),
        marked
    );
    // The configuration hands it over to ci.
    std::fs::remove_file(d.join("other/web.yaml")).expect("remove");
    write(
        d,
        ".gitops-bump.yaml",
        &format!("images:\n  - name: {image}\n    policy: semver:^1\n    writer: ci\n"),
    );
    git(d, &["add", "-A"]);
    git(d, &["commit", "-q", "-m", "hand web over to ci"]);
    let r = sync(&reg, d, "ci", "linux/amd64");
    assert_eq!(
        (r.code, json(&r)["changed"].as_bool()),
        (0, Some(true)),
        "{r:?}"
    );
    assert!(
        std::fs::read_to_string(d.join("apps/web.yaml"))
            .expect("read")
            .contains(&format!("{image}:v1.2.0 # ")),
    );
}

#[test]
fn issue_11_sync_orders_each_reference_by_its_own_policy() {
    // v1.9 was built after v1.10 (a rebuilt base image): the newest-build
    // entry selects it. Under one global semver order that move was refused
    // as a downgrade.
    let reg = Registry::start();
    let p = reg.pusher();
    block_on(async {
        p.index("acme/alpha", "v1.10", &BOTH, "2024-03-01T00:00:00Z")
            .await;
        p.index("acme/alpha", "v1.9", &BOTH, "2024-04-01T00:00:00Z")
            .await;
    });
    let image = format!("{}/acme/alpha", reg.host());
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(d, "app.yaml", &deployment(&format!("{image}:v1.10")));
    write(
        d,
        ".gitops-bump.yaml",
        &format!("images:\n  - name: {image}\n    policy: newest-build\n"),
    );
    git_init(d);
    let r = sync(&reg, d, "ci", "linux/amd64");
    assert_eq!(
        (r.code, json(&r)["changed"].as_bool()),
        (0, Some(true)),
        "{r:?}"
    );
    assert!(
        std::fs::read_to_string(d.join("app.yaml"))
            .expect("read")
            .contains(&format!("image: {image}:v1.9\n"))
    );
}

#[test]
fn issue_11_a_lost_race_brings_the_racers_commit_into_the_next_rounds_history() {
    let files = tempfile::tempdir().expect("tempdir");
    write(
        files.path(),
        "app.yaml",
        &deployment(&format!("{APP}:sha-aaaaaaa")),
    );
    let fake = FakeGitHub::start(files.path());
    // While this run writes sha-bbbbbbb, writer `racer` lands it first and
    // then moves on to sha-ccccccc: after the lost race, this run would
    // set sha-bbbbbbb back over the racer's change.
    fake.faults().before_write.push_back(Box::new(|repo| {
        let text = repo.read("main", "app.yaml");
        for (from, to) in [
            ("sha-aaaaaaa", "sha-bbbbbbb"),
            ("sha-bbbbbbb", "sha-ccccccc"),
        ] {
            let moved = repo.read("main", "app.yaml").replace(from, to);
            assert_ne!(text, moved);
            repo.commit_on(
                "main",
                &[("app.yaml", moved.as_bytes())],
                &bump_message("chore(gitops): bump", APP, from, to, "racer", to),
            );
        }
    }));
    let r = Store::GitHub(&fake).run(
        "set",
        &[
            "--no-verify",
            "--files",
            "app.yaml",
            "--writer-id",
            "ci",
            "--output",
            "json",
            &format!("{APP}:sha-bbbbbbb"),
        ],
    );
    let message = refusal(&r);
    assert!(
        message.contains("sha-ccccccc → sha-bbbbbbb would undo commit ")
            && message.contains("by writer racer ("),
        "{message}"
    );
    assert_eq!(json(&r)["attempts"], 2, "{r:?}");
    assert_eq!(
        fake.operations().get("query FileHistory"),
        Some(&2),
        "read in each round"
    );
    assert!(fake.repo().read("main", "app.yaml").contains("sha-ccccccc"));
}

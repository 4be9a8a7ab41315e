//! Issue #12's `set`-path kinds through the real binary: an IMAGE_REF that
//! moves nothing fails, reports are past tense only for what was written,
//! `--exclude`, digest pins keep their kind (against the real registry),
//! one repository's tag tracks, references already at the target are never
//! a reason to refuse, and what the engine cannot edit is reported with its
//! line. See: issue #12.

use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::common::{Run, example, gitops_bump, snapshot};
use crate::registry::{client, options, repo};
use crate::registry_support::{Registry, block_on, empty_docker_config, write};

const BACKEND: &str = "ghcr.io/acme/backend:v1.4.0";

fn set(dir: &Path, extra: &[&str]) -> Run {
    gitops_bump()
        .args(["set", "--no-verify", "--dir"])
        .args([dir])
        .args(extra)
        .run()
}

fn json(r: &Run) -> Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {r:?}"))
}

fn read(dir: &Path, rel: &str) -> String {
    fs::read_to_string(dir.join(rel)).expect("read")
}

// ---- §3: an IMAGE_REF that matches nothing ----------------------------

#[test]
fn issue_12_an_image_ref_that_matches_nothing_fails_naming_the_files_read() {
    let tmp = example();
    let before = snapshot(tmp.path());
    // A typo in the repository, a wrong registry, an empty directory.
    for (image, files) in [
        ("ghcr.io/acme/backedn:v1.4.0", "8"),
        ("docker.io/acme/backend:v1.4.0", "8"),
    ] {
        let r = set(tmp.path(), &[image]);
        assert_eq!(r.code, 1, "{r:?}");
        let name = image.split(':').next().expect("name");
        assert!(
            r.stderr.contains(&format!(
                "error: no reference to {name} found in {files} file(s); check the IMAGE_REF and --files, or pass --allow-absent where the image may be absent\n"
            )),
            "{}",
            r.stderr
        );
        assert!(!r.stdout.contains("already up to date"), "{}", r.stdout);
    }
    let empty = tempfile::tempdir().expect("tempdir");
    let r = set(empty.path(), &[BACKEND]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("no reference to ghcr.io/acme/backend found in 0 file(s)"),
        "{}",
        r.stderr
    );
    // One image present, one absent: the run fails and writes nothing.
    let r = set(tmp.path(), &[BACKEND, "ghcr.io/acme/backedn:v2"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("error: nothing written"), "{}", r.stderr);
    assert_eq!(before, snapshot(tmp.path()));
}

#[test]
fn issue_12_allow_absent_turns_it_into_a_skipped_line_and_still_writes_the_rest() {
    let tmp = example();
    let r = set(
        tmp.path(),
        &[
            "--allow-absent",
            "ghcr.io/acme/backedn:v2",
            "ghcr.io/acme/worker:2.10",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains(
            "skipped ghcr.io/acme/backedn  no reference to ghcr.io/acme/backedn found in 8 file(s) (allowed by --allow-absent)\n"
        ),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("updated charts/backend/values.yaml:13"),
        "{}",
        r.stdout
    );
    // Alone, the run says what it did not find instead of "up to date".
    let r = set(
        tmp.path(),
        &[
            "--allow-absent",
            "--output",
            "json",
            "ghcr.io/acme/backedn:v2",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let v = json(&r);
    assert_eq!(v["skipped"][0]["image"], "ghcr.io/acme/backedn");
    assert_eq!(v["skipped"][0]["file"], "");
    let r = set(tmp.path(), &["--allow-absent", "ghcr.io/acme/backedn:v2"]);
    assert!(
        r.stdout.ends_with(
            "nothing to change: no reference to ghcr.io/acme/backedn found in 8 file(s) (allowed by --allow-absent)\n"
        ),
        "{}",
        r.stdout
    );
    // An image whose references already hold the tag is found, not absent.
    let r = set(tmp.path(), &["ghcr.io/acme/worker:2.10"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("already up to date"), "{}", r.stdout);
}

// ---- §4: truthful reports -----------------------------------------------

#[test]
fn issue_12_a_refused_run_says_would_update_not_written_and_lists_nothing_as_written() {
    let tmp = example();
    let pinned = format!("sha256:{}", "1".repeat(64));
    write(
        tmp.path(),
        "pinned.yaml",
        &format!("containers:\n- image: ghcr.io/acme/backend:v1.3.0@{pinned}\n"),
    );
    let before = snapshot(tmp.path());
    let r = set(tmp.path(), &[BACKEND]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(!r.stdout.contains("updated "), "{}", r.stdout);
    assert!(
        r.stdout.contains(
            "would update base/deployment.yaml:20  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [workload] (not written)\n"
        ),
        "{}",
        r.stdout
    );
    let v = json(&set(tmp.path(), &["--output", "json", BACKEND]));
    assert_eq!(v["changed"], false);
    assert_eq!(v["updates"], serde_json::json!([]));
    assert_eq!(v["planned"].as_array().map(Vec::len), Some(5));
    assert_eq!(before, snapshot(tmp.path()));
    // The action's outputs say the same: nothing in `updates`.
    let out = tempfile::NamedTempFile::new().expect("tempfile");
    let r = gitops_bump()
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &out.path().to_string_lossy())
        .args(["set", "--no-verify", "--dir"])
        .args([tmp.path()])
        .args([BACKEND])
        .run();
    assert_eq!(r.code, 1, "{r:?}");
    let outputs = fs::read_to_string(out.path()).expect("read");
    let value = |name: &str| {
        let start = outputs
            .find(&format!("{name}<<"))
            .unwrap_or_else(|| panic!("{name} in {outputs}"));
        outputs[start..]
            .lines()
            .nth(1)
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(value("updates"), "[]");
    assert!(value("planned").contains("\"to\":\"v1.4.0\""), "{outputs}");
    assert!(
        r.stdout.contains("::notice title=gitops-bump%3A image,file=base/deployment.yaml,line=20,col=18::would update ghcr.io/acme/backend v1.3.0 → v1.4.0 (not written)"),
        "{}",
        r.stdout
    );
}

#[test]
fn issue_12_a_dry_run_plans_into_planned_and_keeps_would_update() {
    let tmp = example();
    let r = set(tmp.path(), &["--dry-run", "--output", "json", BACKEND]);
    assert_eq!(r.code, 0, "{r:?}");
    let v = json(&r);
    assert_eq!(
        (v["dry_run"].clone(), v["changed"].clone()),
        (true.into(), true.into())
    );
    assert_eq!(v["updates"], serde_json::json!([]));
    assert_eq!(v["planned"].as_array().map(Vec::len), Some(5));
    let r = set(tmp.path(), &["--dry-run", BACKEND]);
    assert!(
        r.stdout.contains(
            "would update base/deployment.yaml:20  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [workload]\n"
        ),
        "{}",
        r.stdout
    );
}

#[test]
fn issue_12_a_verification_failure_after_the_write_never_says_nothing_written() {
    use crate::fake_github::{self, FakeGitHub};
    let fake = FakeGitHub::start(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/gitops"));
    fake.faults().drop_commits = 1;
    let r = gitops_bump()
        .env("GITHUB_TOKEN", fake_github::TOKEN)
        .env("GITHUB_API_URL", &fake.api_url())
        .env("GITHUB_GRAPHQL_URL", &fake.graphql_url())
        .args([
            "set",
            "--no-verify",
            "--repo",
            "acme/gitops",
            "--branch",
            "main",
        ])
        .args(["--files", "base/deployment.yaml", BACKEND])
        .run();
    assert_eq!(r.code, 1, "{r:?}");
    assert!(!r.stderr.contains("nothing written"), "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "error: the write was sent and acknowledged, but verification failed (2 problem(s))"
        ),
        "{}",
        r.stderr
    );
    assert!(
        r.stdout.contains(
            "updated base/deployment.yaml:20  ghcr.io/acme/backend  v1.3.0 → v1.4.0  [workload] (not verified)\n"
        ),
        "{}",
        r.stdout
    );
}

// ---- §5: false refusals ------------------------------------------------------

#[test]
fn issue_12_exclude_leaves_files_out_of_the_run() {
    let tmp = example();
    write(
        tmp.path(),
        "vendor/broken.yaml",
        "containers:\n- image: ghcr.io/acme/backend:v1.3.0\n  x: [\n",
    );
    let r = set(tmp.path(), &["--dry-run", BACKEND]);
    assert_eq!(
        r.code, 1,
        "a broken file that holds the image refuses: {r:?}"
    );
    let r = set(
        tmp.path(),
        &[
            "--dry-run",
            "--exclude",
            "vendor/**",
            "--output",
            "json",
            BACKEND,
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(json(&r)["problems"], serde_json::json!([]));
    // Repeatable, and it wins over an exact --files path.
    let r = set(
        tmp.path(),
        &[
            "--dry-run",
            "--exclude",
            "vendor/**",
            "--exclude",
            "base/*.yaml",
            "--output",
            "json",
            BACKEND,
        ],
    );
    let v = json(&r);
    assert!(
        v["planned"]
            .as_array()
            .expect("planned")
            .iter()
            .all(|u| u["file"] != "base/deployment.yaml"),
        "{v}"
    );
    let r = set(
        tmp.path(),
        &[
            "--files",
            "base/deployment.yaml",
            "--exclude",
            "base/deployment.yaml",
            BACKEND,
        ],
    );
    assert!(r.stderr.contains("found in 0 file(s)"), "{}", r.stderr);
    // A pattern that could escape the root names the flag.
    let r = set(tmp.path(), &["--exclude", "../x/*.yaml", BACKEND]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("--exclude \"../x/*.yaml\": the pattern must stay inside the directory"),
        "{}",
        r.stderr
    );
}

#[test]
fn issue_12_chart_templates_are_one_note_and_block_only_with_a_literal_tag() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write(
        tmp.path(),
        "values.yaml",
        "redis:\n  image:\n    repository: redis\n    tag: \"7.0\"\n",
    );
    // A port named redis, a redis.conf key, and the image from values.
    let template = "{{- if .Values.redis.enabled }}\nspec:\n  ports:\n  - name: redis\n  containers:\n  - image: \"{{ .Values.redis.repository }}:{{ .Values.redis.tag }}\"\n{{- end }}\n";
    for i in 0..3 {
        write(tmp.path(), &format!("chart/templates/t{i}.yaml"), template);
    }
    // A template that happens to parse is read like any file: its
    // templated image is no reference, so it is left alone.
    let cm = "data:\n  redis.conf: |\n    {{ .Values.conf }}\n  image: redis:{{ .Values.tag }}\n";
    write(tmp.path(), "chart/templates/cm.yaml", cm);
    let r = set(tmp.path(), &["redis:7.2"]);
    assert_eq!(r.code, 0, "{r:?}");
    // (A plain directory also warns that it has no history for the writer
    // guards; that line is the writers' test's.)
    let notes: String = r
        .stderr
        .lines()
        .filter(|l| !l.contains("no Git history"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        notes,
        "note: 3 chart templates skipped (not YAML until Helm renders them; their images come from values files), e.g. chart/templates/t0.yaml\n"
    );
    assert!(read(tmp.path(), "values.yaml").contains("tag: \"7.2\""));
    assert_eq!(read(tmp.path(), "chart/templates/cm.yaml"), cm);
    // A template that writes the image with a literal tag cannot be complete.
    write(
        tmp.path(),
        "chart/templates/job.yaml",
        "{{- if .Values.job }}\nspec:\n  containers:\n  - image: redis:7.0\n{{- end }}\n",
    );
    let before = snapshot(tmp.path());
    let r = set(tmp.path(), &["redis:7.4"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("error: chart/templates/job.yaml:4: this Helm chart template writes redis with a literal tag"),
        "{}",
        r.stderr
    );
    assert_eq!(before, snapshot(tmp.path()));
    // An image only a template names (its tag in values under no image
    // name) is not found, and the error says where it is mentioned.
    let r = set(tmp.path(), &["ghcr.io/acme/api:v2"]);
    assert_eq!(r.code, 1, "{r:?}");
    write(
        tmp.path(),
        "chart/templates/api.yaml",
        "{{- if .Values.api }}\nspec:\n  containers:\n  - image: ghcr.io/acme/api:{{ .Values.api.tag }}\n{{- end }}\n",
    );
    let r = set(tmp.path(), &["ghcr.io/acme/api:v2"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("error: no reference to ghcr.io/acme/api found in 7 file(s); 1 chart template(s) mention it (chart/templates/api.yaml:4), but their tags come from values that name no image; check the IMAGE_REF"),
        "{}",
        r.stderr
    );
}

#[test]
fn issue_12_a_broken_file_counts_only_with_a_reference_that_would_change() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write(
        tmp.path(),
        "deploy.yaml",
        "spec:\n  containers:\n  - image: redis:7.0\n",
    );
    // Not a chart template (no templates/ directory), not YAML, and only
    // the word: a port named redis, a redis.conf key.
    write(
        tmp.path(),
        "notes.yaml",
        "ports:\n- name: redis\nredis.conf: [\n",
    );
    let r = set(tmp.path(), &["redis:7.2"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("warning: notes.yaml:"), "{}", r.stderr);
    // A broken file already at the target needs nothing either.
    write(tmp.path(), "notes.yaml", "x: [\nimage: redis:7.2\n");
    let r = set(tmp.path(), &["redis:7.2"]);
    assert_eq!(r.code, 0, "{r:?}");
    write(tmp.path(), "notes.yaml", "x: [\nimage: redis:7.1\n");
    let r = set(tmp.path(), &["redis:7.2"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("it mentions redis"), "{}", r.stderr);
}

// ---- §1: what the engine found, wired into the run ---------------------------

#[test]
fn issue_12_an_insertion_refusal_points_at_the_sites_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write(
        tmp.path(),
        "values.yaml",
        "# shared image\nimage: &img\n  repository: app\nsidecar:\n  image: *img\n",
    );
    let r = set(tmp.path(), &["app:v2"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("error: values.yaml:3: app: the helm_values entry has no `tag` field and one cannot be added"),
        "{}",
        r.stderr
    );
}

#[test]
fn issue_12_yaml_in_a_block_that_cannot_be_edited_is_a_warning_at_its_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write(
        tmp.path(),
        "apps/api.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n  source:\n    helm:\n      values: >\n        image:\n          repository: ghcr.io/acme/api\n          tag: v1\n",
    );
    write(
        tmp.path(),
        "deploy.yaml",
        "spec:\n  containers:\n  - image: ghcr.io/acme/api:v1\n",
    );
    let r = set(tmp.path(), &["ghcr.io/acme/api:v2"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr.contains(
            "warning: apps/api.yaml:6: ghcr.io/acme/api: YAML in a folded block scalar (`>`)"
        ),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("not updated, edit it by hand"),
        "{}",
        r.stderr
    );
    assert!(read(tmp.path(), "deploy.yaml").contains("api:v2"));
    // The file whose only reference is in the block is kept and reported
    // in JSON, and the image counts as found.
    fs::remove_file(tmp.path().join("deploy.yaml")).expect("rm");
    let r = set(tmp.path(), &["--output", "json", "ghcr.io/acme/api:v3"]);
    assert_eq!(r.code, 0, "{r:?}");
    let v = json(&r);
    assert_eq!(v["skipped"][0]["file"], "apps/api.yaml");
    assert_eq!(v["skipped"][0]["line"], 6);
    assert_eq!(v["skipped"][0]["image"], "ghcr.io/acme/api");
}

// ---- §7: one repository, several tag tracks -----------------------------------

#[test]
fn issue_12_references_on_another_tag_track_are_skipped_with_the_reason() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let text = "spec:\n  containers:\n  - image: ghcr.io/acme/agent-image:agent-0.0.1\n  - image: ghcr.io/acme/agent-image:client-0.0.1\n  - image: nginx:1.25-alpine\n  - image: nginx:1.25\n";
    write(tmp.path(), "pod.yaml", text);
    let r = set(
        tmp.path(),
        &["ghcr.io/acme/agent-image:agent-0.0.2", "nginx:1.26"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        read(tmp.path(), "pod.yaml"),
        text.replace("agent-0.0.1", "agent-0.0.2")
            .replace("nginx:1.25\n", "nginx:1.26\n")
    );
    assert!(
        r.stdout.contains("skipped pod.yaml:4  ghcr.io/acme/agent-image  current tag client-0.0.1 (track client-<version>) is on another tag track than agent-0.0.2 (track agent-<version>); not moved (select it with --match-tag)\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(
            "skipped pod.yaml:5  nginx  current tag 1.25-alpine (track <version>-alpine)"
        ),
        "{}",
        r.stdout
    );
    // --match-tag selects by the current tag instead.
    let r = set(
        tmp.path(),
        &[
            "--match-tag",
            "^client-",
            "ghcr.io/acme/agent-image:agent-0.0.3",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(read(tmp.path(), "pod.yaml").contains("agent-image:agent-0.0.3\n  - image: nginx"));
    assert!(read(tmp.path(), "pod.yaml").contains("agent-image:agent-0.0.2\n"));
    // Nothing on the new tag's track: a failed run naming what is there.
    let r = set(tmp.path(), &["nginx:1.27-bookworm"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("error: no reference to nginx is on the tag track of 1.27-bookworm: its 2 reference(s) are on other tracks (pod.yaml:5 1.25-alpine, pod.yaml:6 1.26); select them with --match-tag REGEX"),
        "{}",
        r.stderr
    );
    // --match-tag matching nothing: the message names the regex, not tag
    // tracks, and does not ask for the --match-tag that was given.
    let r = set(tmp.path(), &["--match-tag", "zzz", "nginx:1.27-bookworm"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("error: no reference to nginx has a current tag that --match-tag \"zzz\" matches: its 2 reference(s) hold others (pod.yaml:5 1.25-alpine, pod.yaml:6 1.26)\n"),
        "{}",
        r.stderr
    );
    let r = set(tmp.path(), &["--match-tag", "(", "nginx:1.27"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(r.stderr, "error: --match-tag \"(\": unclosed group\n");
}

// ---- §9: references that need no change ---------------------------------------

#[test]
fn issue_12_a_pin_already_at_the_target_tag_never_refuses_the_run() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = format!("sha256:{}", "7".repeat(64));
    let pinned = format!(
        "spec:\n  containers:\n  - image: redis:7.1.4@{d}\n  - image: docker.io/library/redis:7.1.4@{d}\n"
    );
    write(tmp.path(), "redis.yaml", &pinned);
    write(
        tmp.path(),
        "app.yaml",
        "spec:\n  containers:\n  - image: ghcr.io/acme/app:v1\n",
    );
    let r = set(tmp.path(), &["redis:7.1.4", "ghcr.io/acme/app:v2"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(read(tmp.path(), "redis.yaml"), pinned, "left alone");
    assert!(read(tmp.path(), "app.yaml").contains("app:v2"));
    // A new tag still cannot keep the old digest offline.
    let r = set(tmp.path(), &["redis:7.1.5"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("with --no-verify the new digest is unknown"),
        "{}",
        r.stderr
    );
}

// ---- §6: the kind of digest pin is kept (real registry) ---------------------------

#[test]
fn issue_12_digest_pins_keep_their_kind_against_the_registry() {
    let reg = Registry::start();
    let p = reg.pusher();
    let both = ["linux/amd64", "linux/arm64/v8"];
    let v1 = block_on(p.index("acme/app", "v1", &both, "2024-01-01T00:00:00Z"));
    let v2 = block_on(p.index("acme/app", "v2", &both, "2024-02-01T00:00:00Z"));
    let v3 = block_on(p.image(
        "acme/app",
        Some("v3"),
        "linux/amd64",
        "2024-03-01T00:00:00Z",
    ));
    let host = reg.host();
    let c = client(options(&[&host]));
    let r = repo(&host, "acme/app");
    let child = |index: &str, platform: &str| -> String {
        block_on(async {
            match &*c.manifest(&r, index).await.expect("index") {
                gitops_bump::registry::OciManifest::Index { children } => children
                    .iter()
                    .find(|ch| {
                        ch.platform.as_ref().map(ToString::to_string).as_deref() == Some(platform)
                    })
                    .map(|ch| ch.digest.clone())
                    .expect("child"),
                other => panic!("not an index: {other:?}"),
            }
        })
    };
    let (v1_amd64, v1_arm64) = (
        child(&v1.digest, "linux/amd64"),
        child(&v1.digest, "linux/arm64"),
    );
    let (v2_amd64, v2_arm64) = (
        child(&v2.digest, "linux/amd64"),
        child(&v2.digest, "linux/arm64"),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let image = |tag: &str| format!("{host}/acme/app:{tag}");
    let pins = |tag: &str, index: &str, amd64: &str, arm64: &str| {
        format!(
            "spec:\n  containers:\n  - image: {host}/acme/app:{tag}@{amd64}\n  - image: {host}/acme/app:{tag}@{arm64}\n  - image: {host}/acme/app:{tag}@{index}\n  - image: {host}/acme/app:{tag}\n"
        )
    };
    let kustomization = |tag: &str, digest: &str| {
        format!("images:\n- name: {host}/acme/app\n  newTag: {tag}\n  digest: {digest}\n")
    };
    write(
        dir.path(),
        "pod.yaml",
        &pins("v1", &v1.digest, &v1_amd64, &v1_arm64),
    );
    write(
        dir.path(),
        "kustomization.yaml",
        &kustomization("v1", &v1_arm64),
    );
    let docker_config = empty_docker_config();
    let run = |args: &[&str]| {
        gitops_bump()
            .env("DOCKER_CONFIG", &docker_config.path().to_string_lossy())
            .args(["set", "--insecure-registry", &host, "--dir"])
            .args([dir.path()])
            .args(args)
            .run()
    };
    // Re-setting the tag the pins were written for changes nothing.
    let r = run(&[&image("v1")]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("already up to date"), "{}", r.stdout);
    // A child pin moves to the same platform's child; an index pin to the
    // new index; an unpinned reference stays unpinned.
    let r = run(&[&image("v2")]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        read(dir.path(), "pod.yaml"),
        pins("v2", &v2.digest, &v2_amd64, &v2_arm64)
    );
    assert_eq!(
        read(dir.path(), "kustomization.yaml"),
        kustomization("v2", &v2_arm64)
    );
    let r = run(&[&image("v2")]);
    assert!(r.stdout.contains("already up to date"), "{}", r.stdout);
    // A single-platform tag: the amd64 pin gets its manifest; the arm64 pin
    // cannot be moved, and the run refuses naming the line.
    let before = snapshot(dir.path());
    let r = run(&[&image("v3")]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains(&format!(
            "error: pod.yaml:4: {host}/acme/app: the pin {}… is the linux/arm64 image of v2, and {host}/acme/app:v3 has no linux/arm64 image; pin it yourself with {host}/acme/app:v3@sha256:…",
            &v2_arm64[..19]
        )),
        "{}",
        r.stderr
    );
    assert_eq!(before, snapshot(dir.path()));
    // A pin the registry does not know is refused rather than guessed.
    let unknown = format!("sha256:{}", "e".repeat(64));
    write(
        dir.path(),
        "pod.yaml",
        &format!("spec:\n  containers:\n  - image: {host}/acme/app:v2@{unknown}\n"),
    );
    fs::remove_file(dir.path().join("kustomization.yaml")).expect("rm");
    let r = run(&[&image("v3")]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("the pin sha256:eeeeeeeeeeee… is neither v2's digest nor one of its platform images, and the registry cannot say what it is"),
        "{}",
        r.stderr
    );
    // An explicit digest is written as given, everywhere.
    let r = run(&[&format!("{}@{}", image("v3"), v3.digest)]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        read(dir.path(), "pod.yaml"),
        format!(
            "spec:\n  containers:\n  - image: {host}/acme/app:v3@{}\n",
            v3.digest
        )
    );
}

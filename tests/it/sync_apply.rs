//! `sync --apply` writes what `set` would write, against the real
//! distribution registry: a digest pin keeps its kind (a child pin moves to
//! the same platform's image of the selected tag, an index pin and a Helm
//! or kustomize `digest:` to its index), `policy: digest` writes the
//! tracked tag's index digest (inserting the field a kustomize entry lacks;
//! a child pin moves to the same platform's image and is then up to date),
//! chart templates are one note as in `set`, and a tag list that fails
//! mid-pagination leaves that image unchecked while the others keep their
//! verdicts. See: issue #9 ("Apply", "Bad input and tests").

use std::path::Path;

use serde_json::Value;

use crate::common::{git, git_init, snapshot};
use crate::registry::{client, options, repo};
use crate::registry_support::{PagingProxy, Registry, Twist, block_on, write};
use crate::sync_flux::{json, line_of, reference, sync};

const BOTH: [&str; 2] = ["linux/amd64", "linux/arm64"];

/// The `platform` child of the index `digest` of `host/name`.
fn child(host: &str, name: &str, index: &str, platform: &str) -> String {
    let c = client(options(&[host]));
    let r = repo(host, name);
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
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).expect("read")
}

/// Every pin kind `sync --apply` meets, before (`v1`, index `main@A`) and
/// after (`v2`, index `main@B`) as `set` writes them.
struct Files {
    pod: String,
    kustomization: String,
    values: String,
    tracked_pod: String,
}

#[test]
fn issue_9_sync_apply_keeps_each_pin_kind_and_writes_the_tracked_tags_index() {
    let reg = Registry::start();
    let host = reg.host();
    let p = reg.pusher();
    let v1 = block_on(p.index("acme/app", "v1.0.0", &BOTH, "2024-01-01T00:00:00Z"));
    let v2 = block_on(p.index("acme/app", "v1.1.0", &BOTH, "2024-02-01T00:00:00Z"));
    // `main` is pushed twice: Git holds the first index, the registry the second.
    let main_a = block_on(p.index("acme/tracked", "main", &BOTH, "2024-01-01T00:00:00Z"));
    let main_b = block_on(p.index("acme/tracked", "main", &BOTH, "2024-03-01T00:00:00Z"));
    assert_ne!(main_a.digest, main_b.digest);
    let c = |index: &str, platform: &str| child(&host, "acme/app", index, platform);
    let state = |tag: &str, index: &str, main: &str| {
        let (amd64, arm64) = (c(index, "linux/amd64"), c(index, "linux/arm64"));
        Files {
            pod: format!(
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: app\nspec:\n  containers:\n  - name: a\n    image: {host}/acme/app:{tag}@{amd64}\n  - name: b\n    image: {host}/acme/app:{tag}@{arm64}\n  - name: c\n    image: {host}/acme/app:{tag}@{index}\n  - name: d\n    image: {host}/acme/app:{tag}\n"
            ),
            kustomization: format!(
                "images:\n- name: {host}/acme/app\n  newTag: {tag}\n  digest: {arm64}\n"
            ),
            values: format!(
                "image:\n  repository: {host}/acme/app\n  tag: {tag}\n  digest: {index}\n"
            ),
            tracked_pod: format!(
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: t\nspec:\n  containers:\n  - name: pinned\n    image: {host}/acme/tracked:main@{main}\n  - name: child\n    image: {host}/acme/tracked:main@{}\n",
                child(&host, "acme/tracked", main, "linux/arm64")
            ),
        }
    };
    let before = state("v1.0.0", &v1.digest, &main_a.digest);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(d, "pod/pod.yaml", &before.pod);
    write(d, "kust/kustomization.yaml", &before.kustomization);
    write(d, "chart/values.yaml", &before.values);
    write(d, "tracked/pod.yaml", &before.tracked_pod);
    // An unpinned `main` under `policy: digest`: the digest field is added.
    write(
        d,
        "tracked/kustomization.yaml",
        &format!("images:\n- name: {host}/acme/tracked\n  newTag: main\n"),
    );
    write(
        d,
        ".gitops-bump.yaml",
        &format!(
            "defaults:\n  platforms: [linux/amd64, linux/arm64]\nimages:\n  - name: {host}/acme/app\n    policy: semver:^1\n  - name: {host}/acme/tracked\n    policy: digest\n    tag: main\n"
        ),
    );
    git_init(d);
    let r = sync(d, &host, &[]);
    assert_eq!(r.code, 1, "behind is an error: {r:?}");
    let doc = json(&r);
    for name in ["pinned", "child"] {
        let line = line_of(&before.tracked_pod, &format!("name: {name}")) + 1;
        assert_eq!(
            reference(&doc, "tracked/pod.yaml", line)["verdict"],
            "behind",
            "{name}"
        );
    }

    let r = sync(d, &host, &["--apply", "--commit"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(json(&r)["changed"], true);
    assert_eq!(git(d, &["rev-list", "--count", "HEAD"]), "2", "one commit");
    let after = state("v1.1.0", &v2.digest, &main_b.digest);
    assert_eq!(
        read(d, "pod/pod.yaml"),
        after.pod,
        "child pins stay children"
    );
    assert_eq!(read(d, "kust/kustomization.yaml"), after.kustomization);
    assert_eq!(read(d, "chart/values.yaml"), after.values);
    assert_eq!(read(d, "tracked/pod.yaml"), after.tracked_pod);
    assert_eq!(
        read(d, "tracked/kustomization.yaml"),
        format!(
            "images:\n- name: {host}/acme/tracked\n  digest: {}\n  newTag: main\n",
            main_b.digest
        ),
        "the tracked tag's index digest, in a field of the entry's own style"
    );
    // Everything is now what the policies select.
    let r = sync(d, &host, &["--apply", "--commit"]);
    assert_eq!(r.code, 0, "{r:?}");
    let doc = json(&r);
    assert_eq!(doc["changed"], false, "{doc:#}");
    let drift: Vec<&Value> = doc["references"]
        .as_array()
        .expect("references")
        .iter()
        .filter(|x| x["verdict"] != "up-to-date")
        .collect();
    assert!(drift.is_empty(), "{drift:#?}");
    assert_eq!(git(d, &["rev-list", "--count", "HEAD"]), "2");
}

#[test]
fn issue_9_sync_counts_chart_templates_in_one_note_as_set_does() {
    let reg = Registry::start();
    let host = reg.host();
    block_on(
        reg.pusher()
            .index("acme/app", "v1.0.0", &BOTH, "2024-01-01T00:00:00Z"),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(
        d,
        "chart/values.yaml",
        &format!("image:\n  repository: {host}/acme/app\n  tag: v1.0.0\n"),
    );
    let template = "{{- if .Values.enabled }}\nspec:\n  containers:\n  - image: \"{{ .Values.image.repository }}:{{ .Values.image.tag }}\"\n{{- end }}\n";
    for i in 0..3 {
        write(d, &format!("chart/templates/t{i}.yaml"), template);
    }
    let r = crate::common::gitops_bump()
        .env(
            "DOCKER_CONFIG",
            &crate::registry_support::empty_docker_config()
                .path()
                .to_string_lossy(),
        )
        .args(["sync", "--insecure-registry", &host, "--dir"])
        .args([d])
        .run();
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.stderr,
        "note: 3 chart templates skipped (not YAML until Helm renders them; their images come from values files), e.g. chart/templates/t0.yaml\n"
    );
    // JSON keeps one finding per file, as `set` does.
    let doc = json(&sync(d, &host, &[]));
    let templates = doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["kind"] == "chart-template")
        .count();
    assert_eq!(templates, 3, "{doc:#}");
}

#[test]
fn issue_9_a_tag_list_failing_mid_pagination_leaves_only_that_image_unchecked() {
    let reg = Registry::start();
    let p = reg.pusher();
    for tag in ["v1.0.0", "v1.1.0", "v1.2.0"] {
        block_on(p.index("acme/many", tag, &BOTH, "2024-01-01T00:00:00Z"));
        block_on(p.index("acme/app", tag, &BOTH, "2024-01-01T00:00:00Z"));
    }
    // One tag per page; every page of acme/many after the first fails.
    let proxy = PagingProxy::start_with(
        &reg.host(),
        1,
        false,
        vec![Twist::FailLaterPages {
            path: "/acme/many/".into(),
            status: 500,
        }],
    );
    let host = proxy.host();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let pod = |name: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n  - name: c\n    image: {host}/acme/{name}:v1.0.0\n"
        )
    };
    write(d, "many.yaml", &pod("many"));
    write(d, "app.yaml", &pod("app"));
    write(
        d,
        ".gitops-bump.yaml",
        &format!(
            "images:\n  - name: {host}/acme/many\n    policy: semver:^1\n  - name: {host}/acme/app\n    policy: semver:^1\n"
        ),
    );
    let before = snapshot(d);
    let r = sync(d, &host, &["--apply"]);
    assert_eq!(r.code, 1, "{r:?}");
    let doc = json(&r);
    let many = reference(&doc, "many.yaml", 8);
    assert_eq!(
        (many["verdict"].as_str(), many["severity"].as_str()),
        (Some("unchecked"), Some("error")),
        "{doc:#}"
    );
    let message = many["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with(&format!("{host}/acme/many: ")) && message.contains("500"),
        "{message}"
    );
    // The other image, paginated by the same proxy, is behind and fixed.
    let app = reference(&doc, "app.yaml", 8);
    assert_eq!(app["selected"], "v1.2.0", "{doc:#}");
    assert!(
        read(d, "app.yaml").contains("acme/app:v1.2.0"),
        "{}",
        read(d, "app.yaml")
    );
    assert_eq!(read(d, "many.yaml"), pod("many"), "nothing guessed");
    assert_ne!(before, snapshot(d));
    assert!(proxy.count("/acme/many/tags/list?") >= 1, "it paginated");
}

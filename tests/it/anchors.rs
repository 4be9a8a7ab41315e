//! Shared anchors through the binary (`set --dir --no-verify`): an anchor
//! that two images share moves only when every image that holds it moves
//! to the same value in the run, and a `# gitops-bump:ignore` on an alias
//! line holds the anchor; otherwise exit 1, every line the anchor reaches
//! named, nothing written. Also: alias-free files of any size are never
//! refused for alias expansion.
//! See: issue #13 (items 5, 6 and 15).

use std::path::Path;

use crate::common::{Run, gitops_bump, snapshot};

fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    dir
}

fn set(dir: &Path, images: &[&str]) -> Run {
    gitops_bump()
        .args(["set", "--no-verify", "--dir"])
        .args([dir])
        .args(images)
        .run()
}

/// Runs `set` with `images`, which must be refused: exit 1, one error
/// (or one per image) naming `want` (every line the anchor reaches),
/// nothing written.
fn refused(files: &[(&str, &str)], images: &[&str], want: &str) {
    let dir = repo(files);
    let before = snapshot(dir.path());
    let r = set(dir.path(), images);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains(want), "{want:?} in\n{}", r.stderr);
    // One error per site the anchor holds that this run would move.
    assert!(
        r.stderr
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("error: nothing written (")),
        "{}",
        r.stderr
    );
    assert_eq!(snapshot(dir.path()), before, "nothing written");
}

const HELM_BLOCK: &str = "a:
  image:
    repository: ghcr.io/acme/a
    tag: &ver v1.0.0
b:
  image:
    repository: ghcr.io/acme/b
    tag: *ver
";

#[test]
fn issue_13_a_shared_helm_tag_is_refused_unless_both_images_move_together() {
    let files = [("values.yaml", HELM_BLOCK)];
    refused(
        &files,
        &["ghcr.io/acme/a:v1.1.0"],
        "error: values.yaml:4: ghcr.io/acme/a: line 4 holds the anchor &ver, which reaches lines 4 and 8; editing it would also move ghcr.io/acme/b (line 7), which this run does not set to \"v1.1.0\"",
    );
    // From the alias side: the edit would still land on the anchor.
    refused(
        &files,
        &["ghcr.io/acme/b:v1.1.0"],
        "error: values.yaml:4: ghcr.io/acme/b: line 4 holds the anchor &ver, which reaches lines 4 and 8; editing it would also move ghcr.io/acme/a (line 3)",
    );
    // Two different values for one anchor.
    refused(
        &files,
        &["ghcr.io/acme/a:v1.1.0", "ghcr.io/acme/b:v1.2.0"],
        "holds the anchor &ver",
    );
    // Both images to the same value: one edit, at the anchor.
    let dir = repo(&files);
    let r = set(
        dir.path(),
        &["ghcr.io/acme/a:v1.1.0", "ghcr.io/acme/b:v1.1.0"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("values.yaml")).expect("read"),
        HELM_BLOCK.replace("&ver v1.0.0", "&ver v1.1.0")
    );
    assert!(
        r.stdout
            .contains("updated values.yaml:4  ghcr.io/acme/a  v1.0.0 → v1.1.0  [helm_values] (also via alias at line 8)"),
        "{}",
        r.stdout
    );
}

#[test]
fn issue_13_kustomize_new_tag_anchors_block_and_flow() {
    let block = "images:\n- name: ghcr.io/acme/api\n  newTag: &v v1.0.0\n- name: ghcr.io/acme/worker\n  newTag: *v\n";
    refused(
        &[("kustomization.yaml", block)],
        &["ghcr.io/acme/api:v1.1.0"],
        "error: kustomization.yaml:3: ghcr.io/acme/api: line 3 holds the anchor &v, which reaches lines 3 and 5; editing it would also move ghcr.io/acme/worker (line 4)",
    );
    let flow = "images: [{name: ghcr.io/acme/api, newTag: &v v1.0.0}, {name: ghcr.io/acme/worker, newTag: *v}]\n";
    refused(
        &[("kustomization.yaml", flow)],
        &["ghcr.io/acme/worker:v1.1.0"],
        "error: kustomization.yaml:1: ghcr.io/acme/worker: line 1 holds the anchor &v, which reaches line 1; editing it would also move ghcr.io/acme/api (line 1)",
    );
    let dir = repo(&[("kustomization.yaml", flow)]);
    let r = set(
        dir.path(),
        &["ghcr.io/acme/api:v1.1.0", "ghcr.io/acme/worker:v1.1.0"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("kustomization.yaml")).expect("read"),
        flow.replace("&v v1.0.0", "&v v1.1.0")
    );
}

#[test]
fn issue_13_a_helm_map_shared_through_a_merge_key() {
    let values = "a:\n  image: &common\n    registry: ghcr.io\n    repository: acme/a\n    tag: v1.0.0\nb:\n  image:\n    <<: *common\n    repository: acme/b\n";
    refused(
        &[("values.yaml", values)],
        &["ghcr.io/acme/a:v1.1.0"],
        "error: values.yaml:5: ghcr.io/acme/a: line 5 is part of the anchor &common (line 2), which reaches lines 5 and 8; editing it would also move ghcr.io/acme/b (line 9)",
    );
    // One image reused through aliases of a whole map moves freely.
    let one =
        "base: &image\n  repository: ghcr.io/acme/a\n  tag: v1.0.0\nother:\n  image: *image\n";
    let dir = repo(&[("values.yaml", one)]);
    let r = set(dir.path(), &["ghcr.io/acme/a:v1.1.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("(also via alias at line 5)"),
        "{}",
        r.stdout
    );
}

#[test]
fn issue_13_a_pin_on_an_alias_line_blocks_the_anchor_edit() {
    let workload = "spec:\n  template:\n    spec:\n      initContainers:\n      - name: a\n        image: &img ghcr.io/acme/app:v1\n      containers:\n      - name: b\n        image: *img # gitops-bump:ignore\n";
    refused(
        &[("deploy.yaml", workload)],
        &["ghcr.io/acme/app:v2"],
        "error: deploy.yaml:6: ghcr.io/acme/app: line 6 holds the anchor &img, reused at line 9 pinned by # gitops-bump:ignore; editing the anchor would move the pinned reference too",
    );
    let helm = HELM_BLOCK.replace("tag: *ver", "tag: *ver # gitops-bump:ignore");
    refused(
        &[("values.yaml", &helm)],
        &["ghcr.io/acme/a:v1.1.0", "ghcr.io/acme/b:v1.1.0"],
        "reused at line 8 pinned by # gitops-bump:ignore",
    );
    // A pin where the anchor is defined is an ordinary pin: skipped, exit 0.
    let pinned = workload.replace(
        "&img ghcr.io/acme/app:v1\n",
        "&img ghcr.io/acme/app:v1 # gitops-bump:ignore\n",
    );
    let pinned = pinned.replace("*img # gitops-bump:ignore", "*img");
    let dir = repo(&[("deploy.yaml", &pinned)]);
    let before = snapshot(dir.path());
    let r = set(dir.path(), &["ghcr.io/acme/app:v2"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("skipped deploy.yaml:6  ghcr.io/acme/app  pinned by # gitops-bump:ignore"),
        "{}",
        r.stdout
    );
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn issue_13_a_large_file_without_aliases_is_never_an_alias_bomb() {
    // 2.2 MB, over 100,000 nodes, not one alias; the image at the end.
    let mut text = String::from("config:\n  items: [");
    for i in 0..110_000 {
        text.push_str(&format!("{i},"));
    }
    text.push_str("0]\ncontainers:\n- name: app\n  image: ghcr.io/acme/app:v1\n");
    let padding = "# padding line to grow the file past two megabytes\n".repeat(30_000);
    text.push_str(&padding);
    assert!(text.len() > 2_000_000, "{}", text.len());
    let dir = repo(&[("big.yaml", &text)]);
    let r = gitops_bump()
        .args(["set", "--no-verify", "--max-file-size", "8MiB", "--dir"])
        .args([dir.path()])
        .args(["ghcr.io/acme/app:v2"])
        .run();
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!r.stderr.contains("alias"), "{}", r.stderr);
    assert!(
        r.stdout
            .contains("updated big.yaml:5  ghcr.io/acme/app  v1 → v2  [workload]"),
        "{}",
        r.stdout
    );
    // A real alias bomb is still refused, with its line.
    let bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\nimage: ghcr.io/acme/app:v1\n";
    let dir = repo(&[("bomb.yaml", bomb)]);
    let r = set(dir.path(), &["ghcr.io/acme/app:v2"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("excessive alias expansion"),
        "{}",
        r.stderr
    );
}

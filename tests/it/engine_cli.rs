//! The engine's precision, recall and insertion cases end to end through
//! the real binary (`set --dir … --no-verify`): what is written, what is
//! left alone, and what is refused with its line.

use std::fs;
use std::path::Path;

use crate::common::{gitops_bump, snapshot};

fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    for (path, text) in files {
        let p = tmp.path().join(path);
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs::write(p, text).expect("write");
    }
    tmp
}

fn set(dir: &Path, images: &[&str]) -> crate::common::Run {
    gitops_bump()
        .args(["set", "--no-verify", "--dir"])
        .args([dir])
        .args(images)
        .run()
}

fn read(dir: &Path, path: &str) -> String {
    fs::read_to_string(dir.join(path)).expect("read")
}

const IMAGE_REPOSITORY: &str = "apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImageRepository
metadata:
  name: app
spec:
  image: ghcr.io/acme/app
  interval: 5m
";

const VALUES: &str = "mysql:
  image: mysql
  imageTag: \"5.7.30\"
app:
  image: ghcr.io/acme/app
  tag: v1.0.0
";

#[test]
fn tags_go_only_where_tags_belong() {
    let tmp = tree(&[
        ("flux/image-repository.yaml", IMAGE_REPOSITORY),
        ("charts/values.yaml", VALUES),
    ]);
    let r = set(tmp.path(), &["mysql:5.7.31", "ghcr.io/acme/app:v1.1.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        read(tmp.path(), "flux/image-repository.yaml"),
        IMAGE_REPOSITORY
    );
    assert_eq!(
        read(tmp.path(), "charts/values.yaml"),
        VALUES
            .replace("\"5.7.30\"", "\"5.7.31\"")
            .replace("tag: v1.0.0", "tag: v1.1.0")
    );
    assert!(
        r.stdout
            .contains("charts/values.yaml:3  mysql  5.7.30 → 5.7.31  [helm_values]"),
        "{}",
        r.stdout
    );
}

#[test]
fn an_ambiguous_map_is_refused_with_its_line() {
    let tmp = tree(&[(
        "values.yaml",
        "# db\nmysql:\n  image: mysql:5.7\n  imageTag: \"5.7.30\"\n",
    )]);
    let before = snapshot(tmp.path());
    let r = set(tmp.path(), &["mysql:5.7.31"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("error: values.yaml:4:")
            && r.stderr.contains("carries its own tag beside a tag field"),
        "{}",
        r.stderr
    );
    assert_eq!(before, snapshot(tmp.path()));
}

#[test]
fn ingress_nginx_maps_are_found() {
    let text = "controller:\n  image:\n    registry: registry.k8s.io\n    image: ingress-nginx/controller\n    tag: \"v1.9.4\"\n    digest: \"\"\n";
    let tmp = tree(&[("values.yaml", text)]);
    let r = set(
        tmp.path(),
        &["registry.k8s.io/ingress-nginx/controller:v1.9.5"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        read(tmp.path(), "values.yaml"),
        text.replace("v1.9.4", "v1.9.5")
    );
}

#[test]
fn helm_values_in_an_argo_cd_block_scalar_are_edited() {
    let text = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n  source:\n    helm:\n      values: |\n        image:\n          repository: ghcr.io/acme/app\n          tag: v1.0.0\n";
    let tmp = tree(&[("apps/app.yaml", text)]);
    let r = set(tmp.path(), &["ghcr.io/acme/app:v1.1.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        read(tmp.path(), "apps/app.yaml"),
        text.replace("v1.0.0", "v1.1.0")
    );
    assert!(
        r.stdout
            .contains("apps/app.yaml:9  ghcr.io/acme/app  v1.0.0 → v1.1.0  [argocd]"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_missing_helm_tag_is_inserted() {
    let text = "image:\n  repository: quay.io/jetstack/cert-manager-controller\n  pullPolicy: IfNotPresent\n";
    let tmp = tree(&[("values.yaml", text)]);
    let r = set(
        tmp.path(),
        &["quay.io/jetstack/cert-manager-controller:v1.14.5"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        read(tmp.path(), "values.yaml"),
        "image:\n  repository: quay.io/jetstack/cert-manager-controller\n  tag: v1.14.5\n  pullPolicy: IfNotPresent\n"
    );
    assert!(
        r.stdout
            .contains("values.yaml:3  quay.io/jetstack/cert-manager-controller  (none) → v1.14.5"),
        "{}",
        r.stdout
    );
    // A second run finds the new tag and has nothing to do.
    let r = set(
        tmp.path(),
        &["quay.io/jetstack/cert-manager-controller:v1.14.5"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!r.stdout.contains("updated"), "{}", r.stdout);
}

#[test]
fn an_impossible_insertion_is_refused_with_its_line() {
    let text = "base: &image\n  repository: ghcr.io/acme/app\napp:\n  image: *image\n";
    let tmp = tree(&[("values.yaml", text)]);
    let r = set(tmp.path(), &["ghcr.io/acme/app:v2"]);
    assert_eq!(r.code, 1, "{r:?}");
    // NOTE: the guard names the site's first slot line; a site without
    // slots should use `Manifest::site_line` (2 here). The reason names it.
    assert!(
        r.stderr.contains("error: values.yaml:")
            && r.stderr.contains("no `tag` field and one cannot be added")
            && r.stderr.contains("every alias (line 2)"),
        "{}",
        r.stderr
    );
    assert_eq!(read(tmp.path(), "values.yaml"), text);
}

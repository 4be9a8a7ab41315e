//! kustomize renders the edited overlay to the intended image (runs where
//! `kubectl` is installed, and says so when it is skipped).

use crate::common::{example, gitops_bump};

fn kubectl_kustomize(dir: &std::path::Path) -> Option<String> {
    let out = std::process::Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "kubectl kustomize failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn edited_overlays_render_the_new_image() {
    let tmp = example();
    let Some(before) = kubectl_kustomize(&tmp.path().join("overlays/dev")) else {
        eprintln!("skipped: kubectl not installed");
        return;
    };
    assert!(
        before.contains("image: ghcr.io/acme/backend:v1.3.0"),
        "{before}"
    );
    let r = gitops_bump()
        .args(["set", "--no-verify", "--dir"])
        .args([tmp.path()])
        .args(["ghcr.io/acme/backend:v1.4.0"])
        .run();
    assert_eq!(r.code, 0, "{r:?}");
    let dev = kubectl_kustomize(&tmp.path().join("overlays/dev")).expect("kubectl");
    assert_eq!(
        dev.matches("image: ghcr.io/acme/backend:v1.4.0").count(),
        2,
        "{dev}"
    );
    assert!(!dev.contains("v1.3.0"), "{dev}");
    // The pinned prod overlay still renders its own tag.
    let prod = kubectl_kustomize(&tmp.path().join("overlays/prod")).expect("kubectl");
    assert_eq!(
        prod.matches("image: ghcr.io/acme/backend:v1.2.7").count(),
        2,
        "{prod}"
    );
}

/// Writes `files` (path, text) under a fresh temporary directory.
fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    for (path, text) in files {
        let p = tmp.path().join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }
    tmp
}

const BASE_DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  selector:
    matchLabels: {app: app}
  template:
    metadata:
      labels: {app: app}
    spec:
      containers:
        - name: app
          image: ghcr.io/acme/app:v0.9.0
";

/// A JSON 6902 patch decides what kustomize renders: bumping only the base
/// would leave the old image in the output.
#[test]
fn json6902_patches_are_bumped_and_render_the_new_image() {
    let tmp = tree(&[
        ("base/deployment.yaml", BASE_DEPLOYMENT),
        ("base/kustomization.yaml", "resources: [deployment.yaml]\n"),
        (
            "overlays/dev/kustomization.yaml",
            "resources: [../../base]
patches:
  - path: patch-image.yaml
    target: {kind: Deployment, name: app}
",
        ),
        (
            "overlays/dev/patch-image.yaml",
            "- op: replace
  path: /spec/template/spec/containers/0/image
  value: ghcr.io/acme/app:v1.0.0
",
        ),
        (
            "overlays/inline/kustomization.yaml",
            "resources: [../../base]
patches:
  - target: {kind: Deployment, name: app}
    patch: |-
      - op: replace
        path: /spec/template/spec/containers/0/image
        value: ghcr.io/acme/app:v1.0.0
",
        ),
    ]);
    let Some(before) = kubectl_kustomize(&tmp.path().join("overlays/dev")) else {
        eprintln!("skipped: kubectl not installed");
        return;
    };
    assert!(
        before.contains("image: ghcr.io/acme/app:v1.0.0"),
        "{before}"
    );
    let r = gitops_bump()
        .args(["set", "--no-verify", "--dir"])
        .args([tmp.path()])
        .args(["ghcr.io/acme/app:v1.1.0"])
        .run();
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains(
            "overlays/dev/patch-image.yaml:3  ghcr.io/acme/app  v1.0.0 → v1.1.0  [kustomize]"
        ),
        "{}",
        r.stdout
    );
    for overlay in ["overlays/dev", "overlays/inline"] {
        let after = kubectl_kustomize(&tmp.path().join(overlay)).expect("kubectl");
        assert!(
            after.contains("image: ghcr.io/acme/app:v1.1.0"),
            "{overlay}: {after}"
        );
        assert!(!after.contains("v1.0.0"), "{overlay}: {after}");
    }
}

/// A kustomize `images:` entry without `newTag` gets one, and kustomize
/// renders it.
#[test]
fn a_missing_new_tag_is_inserted_and_rendered() {
    let tmp = tree(&[
        ("base/deployment.yaml", BASE_DEPLOYMENT),
        ("base/kustomization.yaml", "resources: [deployment.yaml]\n"),
        (
            "overlays/dev/kustomization.yaml",
            "resources:\r\n  - ../../base\r\nimages:\r\n  - name: ghcr.io/acme/app\r\n    newName: ghcr.io/acme/app-mirror # mirrored\r\n",
        ),
    ]);
    let Some(before) = kubectl_kustomize(&tmp.path().join("overlays/dev")) else {
        eprintln!("skipped: kubectl not installed");
        return;
    };
    assert!(
        before.contains("image: ghcr.io/acme/app-mirror:v0.9.0"),
        "{before}"
    );
    let r = gitops_bump()
        .args(["set", "--no-verify", "--dir"])
        .args([tmp.path()])
        .args(["ghcr.io/acme/app-mirror:v2.0.0"])
        .run();
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("overlays/dev/kustomization.yaml")).expect("read"),
        "resources:\r\n  - ../../base\r\nimages:\r\n  - name: ghcr.io/acme/app\r\n    newName: ghcr.io/acme/app-mirror # mirrored\r\n    newTag: v2.0.0\r\n"
    );
    let after = kubectl_kustomize(&tmp.path().join("overlays/dev")).expect("kubectl");
    assert!(
        after.contains("image: ghcr.io/acme/app-mirror:v2.0.0"),
        "{after}"
    );
}

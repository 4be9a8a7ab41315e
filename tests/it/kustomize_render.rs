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

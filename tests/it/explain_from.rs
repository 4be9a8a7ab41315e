//! `explain --from PATH [--alias NAME]`: the selection of one Flux
//! ImagePolicy (its ImageRepository in the same file or directory), one
//! Argo CD Application annotation alias or `ImageUpdater` image, or one
//! `.gitops-bump.yaml` entry, with the same candidates and warnings as
//! `explain IMAGE`; flags that would say the same thing again are usage
//! errors. See: issue #10.

use std::path::Path;

use crate::common::{Run, gitops_bump};
use crate::registry_support::{Registry, block_on, empty_docker_config, write};
use crate::sync_flux::json;

fn explain(args: &[&str]) -> Run {
    let config = empty_docker_config();
    gitops_bump()
        .env("DOCKER_CONFIG", &config.path().to_string_lossy())
        .args(["explain"])
        .args(args)
        .run()
}

fn path(dir: &Path, rel: &str) -> String {
    dir.join(rel).to_string_lossy().into_owned()
}

const FLUX: &str = "apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImagePolicy
metadata:
  name: app
  namespace: flux-system
spec:
  imageRepositoryRef:
    name: app
  policy:
    semver:
      range: '~1.1'
---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImagePolicy
metadata:
  name: app-rc
  namespace: flux-system
spec:
  imageRepositoryRef:
    name: app
  policy:
    semver:
      range: '>=1.0.0-0'
";

const TAGS: &str = "1.0.0\n1.1.0\n1.1.3\n1.2\n1.3.0-rc.1\nlatest\n";

#[test]
fn explain_from_an_image_policy_reads_its_repository_from_the_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(dir, "flux/policies.yaml", FLUX);
    write(
        dir,
        "flux/repositories.yaml",
        "apiVersion: image.toolkit.fluxcd.io/v1beta2\nkind: ImageRepository\nmetadata:\n  name: app\n  namespace: flux-system\nspec:\n  image: ghcr.io/acme/app\n  exclusionList: ['^1\\.1\\.3$']\n",
    );
    write(dir, "tags.txt", TAGS);
    let (from, tags) = (path(dir, "flux/policies.yaml"), path(dir, "tags.txt"));
    let r = explain(&["--from", &from, "--alias", "app", "--tags-from", &tags]);
    assert_eq!(r.code, 0, "{r:?}");
    // The ImageRepository's exclusionList drops 1.1.3; strict semver drops 1.2.
    assert!(
        r.stdout
            .starts_with("ghcr.io/acme/app  from ImagePolicy flux-system/app ("),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("policy semver:~1.1"), "{}", r.stdout);
    assert!(r.stdout.contains("selected: 1.1.0"), "{}", r.stdout);
    assert!(
        r.stdout.contains("excluded by \"^1\\\\.1\\\\.3$\""),
        "{}",
        r.stdout
    );
    // The other policy of the file, by name.
    let r = explain(&[
        "--from",
        &from,
        "--alias",
        "app-rc",
        "--tags-from",
        &tags,
        "--output",
        "json",
    ]);
    assert_eq!(json(&r)["selected"]["tag"], "1.3.0-rc.1", "{r:?}");
    // Two policies and no --alias: a usage error naming them.
    let r = explain(&["--from", &from, "--tags-from", &tags]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("app, app-rc") && r.stderr.contains("--alias"),
        "{}",
        r.stderr
    );
    // No ImageRepository anywhere near: says where it looked.
    std::fs::remove_file(dir.join("flux/repositories.yaml")).unwrap();
    let r = explain(&["--from", &from, "--alias", "app", "--tags-from", &tags]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("neither in the file nor in its directory"),
        "{}",
        r.stderr
    );
}

#[test]
fn explain_from_flags_the_object_already_says_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(dir, "p.yaml", FLUX);
    let from = path(dir, "p.yaml");
    for extra in [
        &["ghcr.io/acme/app"][..],
        &["--policy", "semver:*"],
        &["--filter", "^v"],
        &["--exclude", "^x"],
        &["--semver-parse", "lenient"],
    ] {
        let mut args = vec!["--from", from.as_str()];
        args.extend_from_slice(extra);
        let r = explain(&args);
        assert_eq!(r.code, 2, "{extra:?}: {r:?}");
        assert!(
            r.stderr.contains("cannot be used with"),
            "{extra:?}: {}",
            r.stderr
        );
    }
    let r = explain(&["--alias", "app", "ghcr.io/acme/app"]);
    assert_eq!(r.code, 2, "--alias needs --from: {r:?}");
    // A file that holds nothing to explain.
    write(
        dir,
        "d.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n",
    );
    let r = explain(&["--from", &path(dir, "d.yaml")]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("--from") && r.stderr.contains("no Flux ImagePolicy"),
        "{}",
        r.stderr
    );
    let r = explain(&["--from", &path(dir, "missing.yaml")]);
    assert_eq!(r.code, 2, "{r:?}");
}

#[test]
fn explain_from_an_application_alias_uses_argo_settings() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let app = "apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: api
  namespace: argocd
  annotations:
    argocd-image-updater.argoproj.io/image-list: api=ghcr.io/acme/api:^1, web=ghcr.io/acme/web
    argocd-image-updater.argoproj.io/api.ignore-tags: 1.1.*
    argocd-image-updater.argoproj.io/web.update-strategy: alphabetical
    argocd-image-updater.argoproj.io/web.allow-tags: regexp:^1\\.
spec:
  source:
    repoURL: https://github.com/acme/gitops.git
    path: apps/api
";
    write(dir, "app.yaml", app);
    write(dir, "tags.txt", TAGS);
    let (from, tags) = (path(dir, "app.yaml"), path(dir, "tags.txt"));
    let r = explain(&[
        "--from",
        &from,
        "--alias",
        "api",
        "--tags-from",
        &tags,
        "--output",
        "json",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    // Lenient semver (Argo CD reads 1.2 as 1.2.0) and ignore-tags.
    let doc = json(&r);
    assert_eq!(doc["selected"]["tag"], "1.2", "{doc:#}");
    let r = explain(&["--from", &from, "--alias", "web", "--tags-from", &tags]);
    assert!(
        r.stdout.contains("policy alphabetical:asc") && r.stdout.contains("selected: 1.3.0-rc.1"),
        "{}",
        r.stdout
    );
    let r = explain(&["--from", &from, "--alias", "nope", "--tags-from", &tags]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("api, web"), "{}", r.stderr);
}

#[test]
fn explain_from_an_image_updater_and_a_configuration_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(
        dir,
        "updater.yaml",
        "apiVersion: argocd-image-updater.argoproj.io/v1alpha1
kind: ImageUpdater
metadata:
  name: u
  namespace: argocd
spec:
  commonUpdateSettings:
    updateStrategy: semver
  applicationRefs:
    - namePattern: '*'
      commonUpdateSettings:
        ignoreTags: ['1.2']
      images:
        - alias: api
          imageName: ghcr.io/acme/api:~1.1
",
    );
    write(
        dir,
        ".gitops-bump.yaml",
        "images:\n  - name: ghcr.io/acme/app\n    policy: semver:>=1.0.0\n    exclude: ['^1\\.3']\n  - name: ghcr.io/acme/web\n    policy: alphabetical\n",
    );
    write(dir, "tags.txt", TAGS);
    let tags = path(dir, "tags.txt");
    let r = explain(&[
        "--from",
        &path(dir, "updater.yaml"),
        "--tags-from",
        &tags,
        "--output",
        "json",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(json(&r)["selected"]["tag"], "1.1.3");
    let config = path(dir, ".gitops-bump.yaml");
    let r = explain(&[
        "--from",
        &config,
        "--alias",
        "ghcr.io/acme/app",
        "--tags-from",
        &tags,
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("from ") && r.stdout.contains(".gitops-bump.yaml:2 ghcr.io/acme/app"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("selected: 1.1.3"), "{}", r.stdout);
    let r = explain(&["--from", &config, "--tags-from", &tags]);
    assert_eq!(r.code, 2, "two entries, no --alias: {r:?}");
}

/// Against the registry: an Application with the digest strategy follows
/// `latest` and shows its index digest.
#[test]
fn explain_from_a_digest_alias_resolves_the_index_digest() {
    let reg = Registry::start();
    let host = reg.host();
    let p = reg.pusher();
    block_on(p.index(
        "acme/web",
        "v1.0.0",
        &["linux/amd64"],
        "2024-01-01T00:00:00Z",
    ));
    let latest = block_on(p.index(
        "acme/web",
        "latest",
        &["linux/amd64"],
        "2024-02-01T00:00:00Z",
    ));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(
        dir,
        "app.yaml",
        &format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: web\n  annotations:\n    argocd-image-updater.argoproj.io/image-list: web={host}/acme/web:latest\n    argocd-image-updater.argoproj.io/web.update-strategy: digest\nspec:\n  source:\n    path: apps/web\n"
        ),
    );
    let r = explain(&[
        "--from",
        &path(dir, "app.yaml"),
        "--insecure-registry",
        &host,
        "--output",
        "json",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let doc = json(&r);
    assert_eq!(doc["selected"]["tag"], "latest", "{doc:#}");
    assert_eq!(doc["selected"]["digest"], latest.digest.as_str());
}

/// The bundled example is complete for `sync`: its setter marker
/// (`flux/frontend.yaml`) names an ImagePolicy the example holds, so the
/// marker is governed by Flux's selection instead of being an error
/// ("the repository holds no ImagePolicy of that name"). Offline, through
/// `explain --from` on the same file.
#[test]
fn the_examples_setter_marker_names_an_imagepolicy_the_example_holds() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/gitops");
    let file = path(&example, "flux/frontend.yaml");
    let text = std::fs::read_to_string(&file).expect("read");
    assert!(
        text.contains(r#"# {"$imagepolicy": "flux-system:frontend"}"#),
        "{text}"
    );
    let tags = tempfile::tempdir().expect("tempdir");
    write(tags.path(), "tags.txt", "3.0.0\n3.2.1\n4.0.0\n");
    let r = explain(&[
        "--from",
        &file,
        "--alias",
        "frontend",
        "--tags-from",
        &path(tags.path(), "tags.txt"),
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("from ImagePolicy flux-system/frontend"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("selected: 3.2.1"), "{}", r.stdout);
}

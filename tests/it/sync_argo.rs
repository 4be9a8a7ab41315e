//! `sync` over Argo CD Image Updater configuration, end to end through the
//! binary against the real distribution registry: Application annotations
//! and the `ImageUpdater` resource, the files their write-back targets
//! name, Argo CD's lenient semver, the `argocd` write-back method, and the
//! warnings (the legacy `latest` strategy over a mutable tag, two
//! Applications writing one file, arm64 clusters without platforms). Also
//! Image Updater's own image-spec vectors for `ImageSpec::parse`. See:
//! issue #10.

use serde_json::Value;

use gitops_bump::discover::argocd::ImageSpec;

use crate::common::{shared, snapshot};
use crate::registry_support::{Registry, block_on, write};
use crate::sync_flux::{findings_at, json, line_of, push_tags, reference, sync};

const P: &str = "argocd-image-updater.argoproj.io";

/// An Application of `path` with these annotations (`key: value` lines
/// under the prefix) and `source` lines added to `spec.source`.
fn application(name: &str, path: &str, annotations: &[(&str, &str)], source: &str) -> String {
    let mut a = String::new();
    if !annotations.is_empty() {
        a.push_str("  annotations:\n");
        for (k, v) in annotations {
            a.push_str(&format!("    {P}/{k}: {v}\n"));
        }
    }
    format!(
        "apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {name}
  namespace: argocd
{a}spec:
  project: default
  source:
    repoURL: https://github.com/acme/gitops.git
    targetRevision: main
    path: {path}
{source}  destination:
    server: https://kubernetes.default.svc
    namespace: {name}
"
    )
}

fn kustomization(image: &str, tag: &str, digest: Option<&str>) -> String {
    let digest = digest
        .map(|d| format!("    digest: {d}\n"))
        .unwrap_or_default();
    format!(
        "apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../base
images:
  - name: {image}
    newTag: {tag}
{digest}"
    )
}

/// The second scenario of the issue: the dev Application annotated with
/// `update-strategy: latest` over the `latest` tag, expecting digest
/// tracking. `sync` warns at the annotation (the strategy selects the newest
/// build, not the digest of `latest`); with `digest`, `--apply` writes the
/// new index digest of `latest` into the dev kustomization, and prod,
/// without annotations, is left alone.
#[test]
fn sync_argo_latest_strategy_warns_and_digest_strategy_writes_the_new_digest() {
    let reg = Registry::start();
    let host = reg.host();
    let p = reg.pusher();
    let both = ["linux/amd64", "linux/arm64"];
    block_on(p.index("acme/web", "v1.0.0", &both, "2024-01-01T00:00:00Z"));
    let old = block_on(p.index("acme/web", "latest", &both, "2024-02-01T00:00:00Z"));
    let new = block_on(p.index("acme/web", "latest", &both, "2024-03-01T00:00:00Z"));
    assert_ne!(old.digest, new.digest);
    let image = format!("{host}/acme/web");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let dev = |strategy: &str| {
        application(
            "web-dev",
            "apps/web/overlays/dev",
            &[
                ("image-list", &format!("web={image}:latest")),
                ("web.update-strategy", strategy),
                ("write-back-method", "git"),
                ("write-back-target", "kustomization"),
            ],
            "",
        )
    };
    write(dir, "argocd/web-dev.yaml", &dev("latest"));
    write(
        dir,
        "argocd/web-prod.yaml",
        &application("web-prod", "apps/web/overlays/prod", &[], ""),
    );
    let dev_kust = kustomization(&image, "latest", Some(&old.digest));
    let prod_kust = kustomization(&image, "latest", Some(&old.digest));
    write(dir, "apps/web/overlays/dev/kustomization.yaml", &dev_kust);
    write(dir, "apps/web/overlays/prod/kustomization.yaml", &prod_kust);

    let r = sync(dir, &host, &[]);
    let doc = json(&r);
    let strategy_line = line_of(&dev("latest"), "web.update-strategy");
    let warned = findings_at(&doc, "argocd/web-dev.yaml", strategy_line);
    assert_eq!(warned.len(), 1, "{doc:#}");
    let w = warned[0]["message"].as_str().unwrap();
    assert!(
        warned[0]["severity"] == "warning"
            && w.contains("legacy name for newest-build")
            && w.contains("not the digest \"latest\" points to")
            && w.contains("update-strategy: digest"),
        "{w}"
    );
    let dev_ref = reference(&doc, "apps/web/overlays/dev/kustomization.yaml", 7);
    assert_eq!(dev_ref["policy_source"], "argo", "{dev_ref:#}");
    assert_eq!(dev_ref["policy"], "newest-build");
    // newest-build selects the tag `latest` itself: nothing looks wrong,
    // which is the trap the warning names.
    assert_eq!(dev_ref["selected"], "latest");
    assert_eq!(dev_ref["verdict"], "up-to-date", "{dev_ref:#}");
    let prod_ref = reference(&doc, "apps/web/overlays/prod/kustomization.yaml", 7);
    assert_ne!(prod_ref["policy_source"], "argo", "{prod_ref:#}");

    // The digest strategy: silent, and --apply writes the new index digest.
    write(dir, "argocd/web-dev.yaml", &dev("digest"));
    let prod_before = std::fs::read(dir.join("apps/web/overlays/prod/kustomization.yaml")).unwrap();
    let r = sync(dir, &host, &[]);
    let doc = json(&r);
    assert!(
        findings_at(&doc, "argocd/web-dev.yaml", 0).is_empty(),
        "{doc:#}"
    );
    let dev_ref = reference(&doc, "apps/web/overlays/dev/kustomization.yaml", 7);
    assert_eq!(dev_ref["policy"], "digest:latest");
    assert_eq!(dev_ref["verdict"], "behind", "{dev_ref:#}");
    assert_eq!(dev_ref["selected_digest"], new.digest.as_str());
    // Run as the updater it replaces: the Application makes these its own (issue #11).
    let r = sync(
        dir,
        &host,
        &["--apply", "--writer-id", "argocd-image-updater"],
    );
    let doc = json(&r);
    assert_eq!(doc["changed"], true, "{doc:#}");
    assert_eq!(
        std::fs::read_to_string(dir.join("apps/web/overlays/dev/kustomization.yaml")).unwrap(),
        dev_kust.replace(&old.digest, &new.digest)
    );
    assert_eq!(
        std::fs::read(dir.join("apps/web/overlays/prod/kustomization.yaml")).unwrap(),
        prod_before,
        "prod is left alone"
    );
    // Up to date now.
    let doc = json(&sync(dir, &host, &[]));
    assert_eq!(
        reference(&doc, "apps/web/overlays/dev/kustomization.yaml", 7)["verdict"],
        "up-to-date"
    );
}

/// Image Updater's own image-spec vectors (`[alias=]image[:constraint][@digest]`):
/// the alias, the constraint and the digest `ImageSpec::parse` splits off.
#[test]
fn argo_image_spec_parses_like_image_updater() {
    let Some(path) = shared("oracles/argocd_image_updater.json") else {
        return;
    };
    let cases: Vec<Value> = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let mut n = 0;
    for c in cases.iter().filter(|c| c["kind"] == "parse_identifier") {
        let input = c["image"].as_str().unwrap();
        let want = if c["computed"].is_object() {
            &c["computed"]
        } else {
            &c["expected"]
        };
        let got = ImageSpec::parse(input);
        let alias = want["image_alias"].as_str().filter(|a| !a.is_empty());
        assert_eq!(got.alias.as_deref(), alias, "{input}");
        let tag = want["tag_name"].as_str().filter(|t| !t.is_empty());
        assert_eq!(got.constraint.as_deref(), tag, "{input}");
        let digest = want["tag_digest"].as_str().filter(|d| !d.is_empty());
        assert_eq!(got.digest.as_deref(), digest, "{input}");
        // The name without tag, as Image Updater writes it (it drops
        // docker.io's library/ on output; the repository is the same).
        let full = want["full_name_without_tag"].as_str().unwrap();
        let same = got.name == full
            || matches!(
                (
                    gitops_bump::reference::Repository::parse(&got.name),
                    gitops_bump::reference::Repository::parse(full)
                ),
                (Ok(a), Ok(b)) if a == b
            );
        assert!(same, "{input}: {} vs {full}", got.name);
        n += 1;
    }
    assert_eq!(n, 34, "every parse_identifier case ran");
}

/// `helm:` lines for `spec.source` with these parameters.
fn helm(params: &[(&str, &str)]) -> String {
    let mut out = String::from("    helm:\n      parameters:\n");
    for (n, v) in params {
        out.push_str(&format!("        - name: {n}\n          value: {v}\n"));
    }
    out
}

/// Every annotation and `ImageUpdater` field changes what `sync` says, each
/// warning fires on a minimal case and stays silent on a correct one.
#[test]
fn sync_argo_every_field_changes_the_outcome() {
    let reg = Registry::start();
    let host = reg.host();
    // Pushed in build order: newest-build picks 1.2.0 (pushed last).
    push_tags(
        &reg,
        "acme/api",
        &["1.0.0", "latest", "2.1.0-rc.1", "1.5", "2.0.0", "1.2.0"],
    );
    let p = reg.pusher();
    block_on(p.index(
        "acme/multi",
        "1.0.0",
        &["linux/amd64", "linux/arm64"],
        "2024-01-01T00:00:00Z",
    ));
    block_on(p.index(
        "acme/multi",
        "1.1.0",
        &["linux/amd64"],
        "2024-02-01T00:00:00Z",
    ));
    let api = format!("{host}/acme/api");
    let multi = format!("{host}/acme/multi");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let git = (
        "write-back-method",
        "git:secret:argocd-image-updater/git-creds",
    );
    let list = format!("api={api}:^1");
    let kust = |image: &str| kustomization(image, "1.0.0", None);

    // update-strategy and the constraint (lenient semver), allow-tags, ignore-tags.
    // (Application, annotations, what it selects)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);
    let strategies: Vec<Case> = vec![
        ("semver", vec![], "1.5"),
        (
            "newest",
            vec![("api.update-strategy", "newest-build")],
            "1.2.0",
        ),
        (
            "legacy-latest",
            vec![("api.update-strategy", "latest")],
            "1.2.0",
        ),
        (
            "alpha",
            vec![("api.update-strategy", "alphabetical")],
            "latest",
        ),
        (
            "legacy-name",
            vec![("api.update-strategy", "name")],
            "latest",
        ),
        (
            "allow",
            vec![("api.allow-tags", "regexp:^1\\.[0-2]")],
            "1.2.0",
        ),
        ("ignore", vec![("api.ignore-tags", "1.5, 1.4*")], "1.2.0"),
    ];
    for (name, extra, _) in &strategies {
        let mut ann = vec![
            ("image-list", list.as_str()),
            git,
            ("write-back-target", "kustomization"),
        ];
        ann.extend(extra.iter().copied());
        write(
            dir,
            &format!("argocd/{name}.yaml"),
            &application(name, &format!("apps/{name}"), &ann, ""),
        );
        write(dir, &format!("apps/{name}/kustomization.yaml"), &kust(&api));
    }
    // platforms
    let multi_list = format!("m={multi}");
    for (name, platforms) in [("arm", Some("linux/amd64, linux/arm64")), ("noarm", None)] {
        let mut ann = vec![
            ("image-list", multi_list.as_str()),
            git,
            ("write-back-target", "kustomization"),
        ];
        if let Some(pl) = platforms {
            ann.push(("m.platforms", pl));
        }
        write(
            dir,
            &format!("argocd/{name}.yaml"),
            &application(name, &format!("apps/{name}"), &ann, ""),
        );
        write(
            dir,
            &format!("apps/{name}/kustomization.yaml"),
            &kust(&multi),
        );
    }
    // helm.image-name / image-tag: only the api.* parameters are the alias's.
    let helm_app = application(
        "helm",
        "charts/helm",
        &[
            ("image-list", &list),
            git,
            ("api.helm.image-name", "api.image.repository"),
            ("api.helm.image-tag", "api.image.tag"),
        ],
        &helm(&[
            ("worker.image.repository", &api),
            ("worker.image.tag", "1.0.0"),
            ("api.image.repository", &api),
            ("api.image.tag", "1.0.0"),
        ]),
    );
    write(dir, "argocd/helm.yaml", &helm_app);
    // helm.image-spec: one parameter holds the whole reference.
    let spec_app = application(
        "spec",
        "charts/spec",
        &[
            ("image-list", &list),
            git,
            ("api.helm.image-spec", "app.image"),
        ],
        &helm(&[
            ("app.image", &format!("{api}:1.0.0")),
            ("sidecar.image", &format!("{api}:1.0.0")),
        ]),
    );
    write(dir, "argocd/spec.yaml", &spec_app);
    // kustomize.image-name: the entry named `api-b`, not `api-a`.
    write(
        dir,
        "argocd/kname.yaml",
        &application(
            "kname",
            "apps/kname",
            &[
                ("image-list", &list),
                git,
                ("write-back-target", "kustomization"),
                ("api.kustomize.image-name", "api-b"),
            ],
            "",
        ),
    );
    let kname = format!(
        "images:\n  - name: api-a\n    newName: {api}\n    newTag: 1.0.0\n  - name: api-b\n    newName: {api}\n    newTag: 1.0.0\n"
    );
    write(dir, "apps/kname/kustomization.yaml", &kname);
    // write-back-method argocd (the default): unchecked.
    write(
        dir,
        "argocd/live.yaml",
        &application("live", "apps/live", &[("image-list", &list)], ""),
    );
    write(dir, "apps/live/kustomization.yaml", &kust(&api));
    // write-back-target kustomization:../base; helmvalues:FILE; the default override file.
    write(
        dir,
        "argocd/based.yaml",
        &application(
            "based",
            "apps/based/overlay",
            &[
                ("image-list", &list),
                git,
                ("write-back-target", "kustomization:../base"),
            ],
            "",
        ),
    );
    write(dir, "apps/based/base/kustomization.yaml", &kust(&api));
    write(dir, "apps/based/overlay/kustomization.yaml", &kust(&api));
    write(
        dir,
        "argocd/values.yaml",
        &application(
            "values",
            "charts/values",
            &[
                ("image-list", &list),
                git,
                ("write-back-target", "helmvalues:values-prod.yaml"),
                ("git-branch", "main:image-updates"),
            ],
            "",
        ),
    );
    let image_values = format!("image:\n  repository: {api}\n  tag: 1.0.0\n");
    write(dir, "charts/values/values-prod.yaml", &image_values);
    write(dir, "charts/values/values.yaml", &image_values);
    let override_app = application(
        "over",
        "charts/over",
        &[
            ("image-list", &list),
            git,
            ("api.helm.image-name", "image.repository"),
            ("api.helm.image-tag", "image.tag"),
        ],
        &helm(&[("image.repository", &api), ("image.tag", "1.0.0")]),
    );
    write(dir, "argocd/over.yaml", &override_app);
    let override_file = format!(
        "helm:\n  parameters:\n  - name: image.repository\n    value: {api}\n    forcestring: true\n  - name: image.tag\n    value: 1.2.0\n    forcestring: true\n"
    );
    write(dir, "charts/over/.argocd-source-over.yaml", &override_file);
    // force-update: the image is in none of the Application's files.
    let ghost = format!("ghost={host}/acme/ghost");
    for (name, force) in [("forced", true), ("unforced", false)] {
        let mut ann = vec![("image-list", ghost.as_str()), git];
        if force {
            ann.push(("ghost.force-update", "true"));
        }
        write(
            dir,
            &format!("argocd/{name}.yaml"),
            &application(name, &format!("apps/{name}"), &ann, ""),
        );
        write(dir, &format!("apps/{name}/kustomization.yaml"), &kust(&api));
    }
    // Two Applications writing one kustomization.
    for name in ["shared-a", "shared-b"] {
        write(
            dir,
            &format!("argocd/{name}.yaml"),
            &application(
                name,
                &format!("apps/{name}"),
                &[
                    ("image-list", &list),
                    git,
                    ("write-back-target", "kustomization:/apps/shared"),
                ],
                "",
            ),
        );
    }
    write(dir, "apps/shared/kustomization.yaml", &kust(&api));
    // An arm64 cluster (its Secret says so), with and without platforms.
    write(
        dir,
        "argocd/clusters/edge.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: edge-cluster\n  namespace: argocd\n  labels:\n    argocd.argoproj.io/secret-type: cluster\n    kubernetes.io/arch: arm64\ntype: Opaque\nstringData:\n  name: edge\n  server: https://edge.example.com\n",
    );
    for (name, platforms) in [("edge", None), ("edge-ok", Some("linux/arm64"))] {
        let mut ann = vec![
            ("image-list", multi_list.as_str()),
            git,
            ("write-back-target", "kustomization"),
        ];
        if let Some(pl) = platforms {
            ann.push(("m.platforms", pl));
        }
        let app = application(name, &format!("apps/{name}"), &ann, "")
            .replace("server: https://kubernetes.default.svc", "name: edge");
        write(dir, &format!("argocd/{name}.yaml"), &app);
        write(
            dir,
            &format!("apps/{name}/kustomization.yaml"),
            &kust(&multi),
        );
    }
    // The ImageUpdater resource: namePattern + labels select team-a only.
    let updater = format!(
        "apiVersion: argocd-image-updater.argoproj.io/v1alpha1
kind: ImageUpdater
metadata:
  name: payments
  namespace: argocd
spec:
  commonUpdateSettings:
    updateStrategy: semver
    ignoreTags: [\"1.5\"]
  writeBackConfig:
    method: git
    gitConfig:
      branch: main
      writeBackTarget: kustomization
  applicationRefs:
    - namePattern: \"team-*\"
      labelSelectors:
        matchLabels:
          team: payments
      images:
        - alias: api
          imageName: {api}:^1
          commonUpdateSettings:
            allowTags: \"regexp:^1\\\\.[01]\"
            platforms: [\"linux/amd64\"]
          manifestTargets:
            kustomize:
              name: {api}
"
    );
    write(dir, "argocd/updater.yaml", &updater);
    for (name, team) in [("team-a", "payments"), ("team-b", "other")] {
        let app = application(name, &format!("apps/{name}"), &[], "").replace(
            "  namespace: argocd\n",
            &format!("  namespace: argocd\n  labels:\n    team: {team}\n"),
        );
        write(dir, &format!("argocd/{name}.yaml"), &app);
        write(dir, &format!("apps/{name}/kustomization.yaml"), &kust(&api));
    }

    let r = sync(dir, &host, &[]);
    let doc = json(&r);
    let kref = |name: &str| reference(&doc, &format!("apps/{name}/kustomization.yaml"), 7);
    for (name, _, selected) in &strategies {
        let r = kref(name);
        assert_eq!(r["policy_source"], "argo", "{name}: {r:#}");
        assert_eq!(r["selected"], *selected, "{name}: {r:#}");
        assert_eq!(r["verdict"], "behind", "{name}: {r:#}");
    }
    assert_eq!(kref("semver")["policy"], "semver:^1");
    assert_eq!(kref("legacy-latest")["policy"], "newest-build");
    assert_eq!(kref("legacy-name")["policy"], "alphabetical:asc");
    // platforms: linux/arm64 skips 1.1.0, which lacks it.
    assert_eq!(kref("arm")["selected"], "1.0.0", "{doc:#}");
    // 1.0.0 is what Git holds; the newer 1.1.0 lacks arm64 (drift says so).
    assert_eq!(kref("arm")["verdict"], "missing-platform");
    assert_eq!(kref("noarm")["selected"], "1.1.0");
    // helm.image-name / image-tag: the api.* pair, not worker.*.
    let helm_ref = |param: &str| {
        reference(
            &doc,
            "argocd/helm.yaml",
            line_of(&helm_app, &format!("name: {param}")) + 1,
        )
    };
    assert_eq!(
        helm_ref("api.image.tag")["policy_source"],
        "argo",
        "{doc:#}"
    );
    assert_eq!(helm_ref("api.image.tag")["selected"], "1.5");
    assert_ne!(helm_ref("worker.image.tag")["policy_source"], "argo");
    // helm.image-spec
    let spec_ref = |param: &str| {
        reference(
            &doc,
            "argocd/spec.yaml",
            line_of(&spec_app, &format!("name: {param}")) + 1,
        )
    };
    assert_eq!(spec_ref("app.image")["policy_source"], "argo", "{doc:#}");
    assert_ne!(spec_ref("sidecar.image")["policy_source"], "argo");
    // kustomize.image-name
    assert_ne!(
        reference(&doc, "apps/kname/kustomization.yaml", 4)["policy_source"],
        "argo"
    );
    assert_eq!(
        reference(&doc, "apps/kname/kustomization.yaml", 7)["policy_source"],
        "argo"
    );
    // write-back-method argocd: unchecked, with the reason.
    let live = kref("live");
    assert_eq!(live["verdict"], "unchecked", "{live:#}");
    assert_eq!(live["policy_source"], "argo");
    assert!(
        live["message"]
            .as_str()
            .unwrap()
            .contains("write-back-method argocd"),
        "{live:#}"
    );
    // write-back-target kustomization:../base
    assert_eq!(
        reference(&doc, "apps/based/base/kustomization.yaml", 7)["policy_source"],
        "argo"
    );
    assert_ne!(
        reference(&doc, "apps/based/overlay/kustomization.yaml", 7)["policy_source"],
        "argo"
    );
    // helmvalues:FILE
    assert_eq!(
        reference(&doc, "charts/values/values-prod.yaml", 3)["policy_source"],
        "argo"
    );
    assert_ne!(
        reference(&doc, "charts/values/values.yaml", 3)["policy_source"],
        "argo"
    );
    // git-branch base:target: compare that branch.
    let branch = findings_at(&doc, "argocd/values.yaml", 0);
    assert!(
        branch.iter().any(|f| f["message"]
            .as_str()
            .unwrap()
            .contains("--branch image-updates")),
        "{branch:#?}"
    );
    // The override file is what Argo CD renders; the Application's own value is shadowed.
    let over = reference(&doc, "charts/over/.argocd-source-over.yaml", 7);
    assert_eq!(
        (over["policy_source"].as_str(), over["current"].as_str()),
        (Some("argo"), Some("1.2.0")),
        "{over:#}"
    );
    let shadowed = reference(
        &doc,
        "argocd/over.yaml",
        line_of(&override_app, "name: image.tag") + 1,
    );
    assert_eq!(shadowed["verdict"], "unchecked", "{shadowed:#}");
    assert!(
        shadowed["message"]
            .as_str()
            .unwrap()
            .contains(".argocd-source-over.yaml:7"),
        "{shadowed:#}"
    );
    // force-update
    let forced = findings_at(&doc, "argocd/forced.yaml", 0);
    assert!(
        forced.iter().any(|f| f["message"]
            .as_str()
            .unwrap()
            .contains("force-update is set")),
        "{forced:#?}"
    );
    let unforced = findings_at(&doc, "argocd/unforced.yaml", 0);
    assert!(
        unforced.iter().any(|f| f["message"]
            .as_str()
            .unwrap()
            .contains("updates only images the Application runs")),
        "{unforced:#?}"
    );
    // Two Applications writing one file: a warning at each, none elsewhere.
    let fights = |name: &str| {
        findings_at(&doc, &format!("argocd/{name}.yaml"), 0)
            .into_iter()
            .filter(|f| {
                f["message"]
                    .as_str()
                    .unwrap()
                    .contains("each write undoes the other's")
            })
            .count()
    };
    assert_eq!(
        (fights("shared-a"), fights("shared-b"), fights("semver")),
        (1, 1, 0),
        "{doc:#}"
    );
    // An arm64 cluster without platforms: a warning; with them: silent.
    let arm64 = |name: &str| {
        findings_at(&doc, &format!("argocd/{name}.yaml"), 0)
            .into_iter()
            .filter(|f| f["message"].as_str().unwrap().contains("runs arm64 nodes"))
            .count()
    };
    assert_eq!(
        (arm64("edge"), arm64("edge-ok"), arm64("noarm")),
        (1, 0, 0),
        "{doc:#}"
    );
    // The legacy latest strategy over versioned tags: silent.
    assert!(
        findings_at(&doc, "argocd/legacy-latest.yaml", 0).is_empty(),
        "{doc:#}"
    );
    // ImageUpdater: team-a is selected (allowTags ^1.[01], so 1.0.0 stays), team-b is not.
    let a = kref("team-a");
    assert_eq!(
        (a["policy_source"].as_str(), a["verdict"].as_str()),
        (Some("argo"), Some("up-to-date")),
        "{a:#}"
    );
    assert_eq!(a["platforms"], serde_json::json!(["linux/amd64"]));
    assert_ne!(kref("team-b")["policy_source"], "argo");

    // --apply writes the override, the kustomizations and values the
    // updaters write, and nothing of the argocd method or shadowed values.
    let before = snapshot(dir);
    let r = sync(
        dir,
        &host,
        &[
            "--apply",
            "--dry-run",
            "--writer-id",
            "argocd-image-updater",
        ],
    );
    let doc = json(&r);
    let files: Vec<&str> = doc["updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["file"].as_str().unwrap())
        .collect();
    for f in [
        "apps/semver/kustomization.yaml",
        "apps/based/base/kustomization.yaml",
        "charts/values/values-prod.yaml",
        "argocd/helm.yaml",
    ] {
        assert!(files.contains(&f), "{f} in {files:?}");
    }
    for f in [
        "apps/live/kustomization.yaml",
        "argocd/over.yaml",
        "charts/values/values.yaml",
        "apps/based/overlay/kustomization.yaml",
    ] {
        assert!(!files.contains(&f), "{f} not in {files:?}");
    }
    assert_eq!(snapshot(dir), before, "a dry run writes nothing");
}

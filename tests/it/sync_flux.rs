//! `sync` over Flux image automation objects, end to end through the binary
//! against the real distribution registry: every `ImageRepository`,
//! `ImagePolicy` and `ImageUpdateAutomation` field the issue lists changes
//! an outcome, each policy warning fires at the ImagePolicy's line on a
//! minimal case and stays silent on a correct one, and a selection a
//! warning questions (`order: desc` over time stamps) is never written
//! without `--allow-downgrade`. See: issue #10.

use std::path::Path;

use serde_json::Value;

use crate::common::{Run, gitops_bump, snapshot};
use crate::registry_support::{Registry, block_on, empty_docker_config, write};

/// Runs `sync --dir DIR --output json` with plain HTTP to `host` (unless
/// `host` is empty) and no docker credentials.
pub fn sync(dir: &Path, host: &str, args: &[&str]) -> Run {
    let config = empty_docker_config();
    let mut cmd = gitops_bump()
        .env("DOCKER_CONFIG", &config.path().to_string_lossy())
        .args(["sync", "--dir"])
        .args([dir])
        .args(["--output", "json"]);
    if !host.is_empty() {
        cmd = cmd.args(["--insecure-registry", host]);
    }
    cmd.args(args).run()
}

/// The JSON document of a run.
pub fn json(r: &Run) -> Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {r:?}"))
}

/// The reference reported at `file:line`.
pub fn reference<'a>(doc: &'a Value, file: &str, line: u64) -> &'a Value {
    doc["references"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["file"] == file && r["line"] == line))
        .unwrap_or_else(|| panic!("no reference at {file}:{line} in {doc:#}"))
}

/// The findings at `file:line` (any line when `line` is 0).
pub fn findings_at<'a>(doc: &'a Value, file: &str, line: u64) -> Vec<&'a Value> {
    doc["findings"]
        .as_array()
        .map(|fs| {
            fs.iter()
                .filter(|f| f["file"] == file && (line == 0 || f["line"] == line))
                .collect()
        })
        .unwrap_or_default()
}

/// The 1-based line of the first line of `text` that contains `needle`.
pub fn line_of(text: &str, needle: &str) -> u64 {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i as u64 + 1)
        .unwrap_or_else(|| panic!("{needle:?} not in {text}"))
}

/// Pushes one single-platform image per tag, each built at its own time,
/// so every tag has its own digest.
pub fn push_tags(reg: &Registry, repo: &str, tags: &[&str]) {
    let p = reg.pusher();
    for (i, tag) in tags.iter().enumerate() {
        let created = format!("2024-01-{:02}T00:00:00Z", i + 1);
        block_on(p.image(repo, Some(tag), "linux/amd64", &created));
    }
}

const STAMPS: [&str; 3] = [
    "20240105-0900-sha-1a2b3c4",
    "20240212-1430-sha-5d6e7f8",
    "20240301-0815-sha-9a8b7c6",
];

/// The first scenario of the issue: an ImagePolicy with `order: desc` over
/// `YYYYMMDD-HHMM-sha-…` tags, and a manifest someone moved to the newest
/// tag by hand. `sync` never moves it back (also with `--apply`), warns at
/// the ImagePolicy's line that desc selects the oldest, writes only with
/// `--allow-downgrade`, and `explain --from` shows the cause and that asc
/// selects the newest.
#[test]
fn sync_flux_desc_over_timestamps_is_blocked_and_explained() {
    let reg = Registry::start();
    let host = reg.host();
    push_tags(&reg, "acme/web", &STAMPS);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let automation = format!(
        "apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImageRepository
metadata:
  name: web
  namespace: flux-system
spec:
  image: {host}/acme/web
  interval: 5m
---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImagePolicy
metadata:
  name: web
  namespace: flux-system
spec:
  imageRepositoryRef:
    name: web
  filterTags:
    pattern: '^[0-9]{{8}}-[0-9]{{4}}-sha-[a-f0-9]+$'
  policy:
    alphabetical:
      order: desc
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata:
  name: prod
  namespace: flux-system
spec:
  interval: 30m
  sourceRef:
    kind: GitRepository
    name: flux-system
  git:
    checkout:
      ref:
        branch: main
    commit:
      author:
        name: fluxcdbot
        email: fluxcdbot@users.noreply.github.com
  update:
    path: ./apps/prod
    strategy: Setters
"
    );
    write(
        dir,
        "clusters/prod/flux-system/image-automation.yaml",
        &automation,
    );
    let deployment = format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: web
          image: {host}/acme/web:{} # {{\"$imagepolicy\": \"flux-system:web\"}}
",
        STAMPS[2]
    );
    write(dir, "apps/prod/deployment.yaml", &deployment);
    let policy_line = line_of(&automation, "kind: ImagePolicy") - 1;
    let before = snapshot(dir);

    let r = sync(dir, &host, &[]);
    let doc = json(&r);
    let web = reference(&doc, "apps/prod/deployment.yaml", 10);
    assert_eq!(web["verdict"], "blocked", "{doc:#}");
    assert_eq!(web["policy_source"], "flux");
    assert_eq!(web["current"], STAMPS[2]);
    assert_eq!(web["selected"], STAMPS[0], "desc selects the oldest");
    let message = web["message"].as_str().unwrap();
    assert!(
        message.contains("desc-selects-oldest") && message.contains("--allow-downgrade"),
        "{message}"
    );
    let at_policy = findings_at(
        &doc,
        "clusters/prod/flux-system/image-automation.yaml",
        policy_line,
    );
    assert_eq!(
        at_policy.len(),
        1,
        "one warning at the ImagePolicy: {doc:#}"
    );
    assert_eq!(at_policy[0]["severity"], "warning");
    let warning = at_policy[0]["message"].as_str().unwrap();
    assert!(
        warning.contains("[desc-selects-oldest]")
            && warning.contains(&format!("the newest is \"{}\"", STAMPS[2])),
        "{warning}"
    );
    assert_eq!(r.code, 0, "a warning does not fail the run: {r:?}");

    // --apply never moves it back.
    // Run as the controller it replaces: an automation makes these flux's (issue #11).
    let r = sync(dir, &host, &["--apply", "--writer-id", "flux"]);
    let doc = json(&r);
    assert_eq!(doc["changed"], false, "{doc:#}");
    assert_eq!(
        reference(&doc, "apps/prod/deployment.yaml", 10)["verdict"],
        "blocked"
    );
    assert_eq!(snapshot(dir), before, "nothing written");
    assert_eq!(r.code, 0);
    // --fail-on warning makes it fail the run.
    assert_eq!(sync(dir, &host, &["--fail-on", "warning"]).code, 1);

    // explain --from names the cause: desc selects the oldest; asc the newest.
    let config = empty_docker_config();
    let explain = |file: &Path| {
        gitops_bump()
            .env("DOCKER_CONFIG", &config.path().to_string_lossy())
            .args(["explain", "--insecure-registry", &host, "--output", "json"])
            .args(["--from"])
            .args([file])
            .run()
    };
    let from = dir.join("clusters/prod/flux-system/image-automation.yaml");
    let e = explain(&from);
    assert_eq!(e.code, 0, "{e:?}");
    let doc = json(&e);
    assert_eq!(doc["selected"]["tag"], STAMPS[0], "{doc:#}");
    let warnings = doc["warnings"].to_string();
    assert!(
        warnings.contains("desc-selects-oldest") && warnings.contains("use order asc"),
        "{warnings}"
    );
    let asc = dir.join("asc/image-automation.yaml");
    write(
        dir,
        "asc/image-automation.yaml",
        &automation.replace("order: desc", "order: asc"),
    );
    let doc = json(&explain(&asc));
    assert_eq!(doc["selected"]["tag"], STAMPS[2], "asc follows the newest");
    assert_eq!(doc["warnings"], serde_json::json!([]), "{doc:#}");
    std::fs::remove_dir_all(dir.join("asc")).unwrap();

    // Told explicitly, --apply writes what the policy selects.
    let r = sync(
        dir,
        &host,
        &["--apply", "--writer-id", "flux", "--allow-downgrade"],
    );
    let doc = json(&r);
    assert_eq!(doc["changed"], true, "{doc:#}");
    let now = std::fs::read_to_string(dir.join("apps/prod/deployment.yaml")).unwrap();
    assert_eq!(now, deployment.replace(STAMPS[2], STAMPS[0]));
}

/// An ImageRepository (`extra` is appended under `spec:`).
fn repository(name: &str, namespace: &str, image: &str, extra: &str) -> String {
    format!(
        "---\napiVersion: image.toolkit.fluxcd.io/v1beta2\nkind: ImageRepository\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n  image: {image}\n  interval: 5m\n{extra}"
    )
}

/// An ImagePolicy in flux-system (`spec` is its indented spec body).
fn policy(name: &str, spec: &str) -> String {
    format!(
        "---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata:\n  name: {name}\n  namespace: flux-system\nspec:\n{spec}"
    )
}

/// Every ImageRepository and ImagePolicy field changes what `sync` says
/// about the reference its marker governs; each policy warning fires at its
/// ImagePolicy's line on a minimal case and stays silent on the correct
/// twin; a marker naming no policy is an error at its line; a marker
/// outside every automation's `update.path` is checked but never written.
#[test]
fn sync_flux_every_field_changes_the_outcome() {
    let reg = Registry::start();
    let host = reg.host();
    push_tags(
        &reg,
        "acme/app",
        &[
            "1.0.0",
            "1.1.0",
            "1.2.0",
            "2.0.0",
            "latest",
            "sha256-abc.sig",
        ],
    );
    push_tags(&reg, "acme/other", &["3.0.0", "3.1.0"]);
    push_tags(&reg, "acme/num", &["1", "2", "10"]);
    push_tags(&reg, "acme/build", &["build-1", "build-2", "build-10"]);
    push_tags(&reg, "acme/rel", &["v1-a", "v2-b", "v3-"]);
    // acme/dig:1.0.0 is pushed twice: Git pins the first digest.
    let p = reg.pusher();
    let old = block_on(p.image(
        "acme/dig",
        Some("1.0.0"),
        "linux/amd64",
        "2024-01-01T00:00:00Z",
    ));
    let new = block_on(p.image(
        "acme/dig",
        Some("1.0.0"),
        "linux/amd64",
        "2024-02-01T00:00:00Z",
    ));
    assert_ne!(old.digest, new.digest);

    let img = |repo: &str| format!("{host}/acme/{repo}");
    let mut repos = String::new();
    repos += &repository("app", "flux-system", &img("app"), "");
    repos += &repository(
        "app-noexcl",
        "flux-system",
        &img("app"),
        "  exclusionList: []\n",
    );
    repos += &repository(
        "app-excl",
        "flux-system",
        &img("app"),
        "  exclusionList:\n    - '^latest$'\n    - '\\.sig$'\n",
    );
    repos += &repository("app", "team-b", &img("other"), "");
    repos += &repository("num", "flux-system", &img("num"), "");
    repos += &repository("build", "flux-system", &img("build"), "");
    repos += &repository("rel", "flux-system", &img("rel"), "");
    repos += &repository("dig", "flux-system", &img("dig"), "");
    repos += &repository(
        "private",
        "flux-system",
        &img("app"),
        "  provider: aws\n  secretRef:\n    name: ecr-auth\n  certSecretRef:\n    name: ca\n",
    );
    let semver = |repo: &str, range: &str| {
        format!(
            "  imageRepositoryRef:\n    name: {repo}\n  policy:\n    semver:\n      range: '{range}'\n"
        )
    };
    let ordered = |repo: &str, kind: &str, order: &str, filter: &str| {
        format!(
            "  imageRepositoryRef:\n    name: {repo}\n{filter}  policy:\n    {kind}:\n      order: {order}\n"
        )
    };
    let filter = |pattern: &str, extract: &str| {
        let extract = if extract.is_empty() {
            String::new()
        } else {
            format!("    extract: '{extract}'\n")
        };
        format!("  filterTags:\n    pattern: '{pattern}'\n{extract}")
    };
    let reflect = |how: &str| format!("{}  digestReflectionPolicy: {how}\n", semver("dig", "~1.0"));
    let policies: Vec<(&str, String)> = vec![
        ("semver-tilde", semver("app", "~1.1")),
        ("semver-all", semver("app", ">=1.0.0")),
        ("semver-none", semver("app", ">=5.0.0")),
        ("alpha-default", ordered("app", "alphabetical", "asc", "")),
        ("alpha-noexcl", ordered("app-noexcl", "alphabetical", "asc", "")),
        ("alpha-excl", ordered("app-excl", "alphabetical", "asc", "")),
        (
            "ns-other",
            "  imageRepositoryRef:\n    name: app\n    namespace: team-b\n  policy:\n    semver:\n      range: '>=0.0.0'\n".to_owned(),
        ),
        ("num-asc", ordered("num", "numerical", "asc", &filter("^[0-9]+$", ""))),
        ("num-desc", ordered("num", "numerical", "desc", &filter("^[0-9]+$", ""))),
        (
            "build-extract",
            ordered("build", "numerical", "asc", &filter("^build-(?P<n>[0-9]+)$", "$n")),
        ),
        (
            "build-noextract",
            ordered("build", "numerical", "asc", &filter("^build-(?P<n>[0-9]+)$", "")),
        ),
        ("filter-none", ordered("app", "alphabetical", "asc", &filter("^release-", ""))),
        (
            "rel-empty",
            ordered("rel", "alphabetical", "asc", &filter("^v(?P<n>[0-9]+)-(?P<s>[a-z]*)$", "$n$s")),
        ),
        (
            "rel-full",
            ordered("rel", "alphabetical", "asc", &filter("^v(?P<n>[0-9]+)-(?P<s>[a-z]+)$", "$n$s")),
        ),
        ("private", semver("private", ">=1.0.0")),
        ("bad-range", semver("app", "not a range")),
        ("dig-never", reflect("Never")),
        ("dig-ifnp", reflect("IfNotPresent")),
        ("dig-always", reflect("Always")),
        ("dig-ifnp-unpinned", reflect("IfNotPresent")),
        ("dig-never-unpinned", reflect("Never")),
    ];
    let policies_text: String = policies.iter().map(|(n, s)| policy(n, s)).collect();
    let automation = "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageUpdateAutomation\nmetadata:\n  name: dev\n  namespace: flux-system\nspec:\n  git:\n    checkout:\n      ref:\n        branch: main\n    push:\n      branch: flux-image-updates\n  update:\n    path: ./apps\n    strategy: Setters\n";
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(dir, "clusters/dev/flux-system/repositories.yaml", &repos);
    write(
        dir,
        "clusters/dev/flux-system/policies.yaml",
        &policies_text,
    );
    write(dir, "clusters/dev/flux-system/automation.yaml", automation);
    // `:tag` markers: the image comes from the ImageRepository.
    let values: String = policies
        .iter()
        .filter(|(n, _)| !n.starts_with("dig-"))
        .map(|(n, _)| {
            let start = if n.starts_with("num") {
                "1"
            } else if n.starts_with("build") {
                "build-1"
            } else if n.starts_with("rel") {
                "v1-a"
            } else if *n == "ns-other" {
                "3.0.0"
            } else {
                "1.0.0"
            };
            format!("{n}:\n  tag: {start} # {{\"$imagepolicy\": \"flux-system:{n}:tag\"}}\n")
        })
        .collect();
    write(dir, "apps/dev/values.yaml", &values);
    let pinned = |n: &str, digest: Option<&str>| {
        let at = digest.map(|d| format!("@{d}")).unwrap_or_default();
        format!(
            "        - name: {n}\n          image: {}:1.0.0{at} # {{\"$imagepolicy\": \"flux-system:{n}\"}}\n",
            img("dig")
        )
    };
    let digests = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: dig\nspec:\n  template:\n    spec:\n      containers:\n{}{}{}{}{}",
        pinned("dig-never", Some(&old.digest)),
        pinned("dig-ifnp", Some(&old.digest)),
        pinned("dig-always", Some(&old.digest)),
        pinned("dig-ifnp-unpinned", None),
        pinned("dig-never-unpinned", None),
    );
    write(dir, "apps/dev/digests.yaml", &digests);
    // Outside the automation's update.path, and a marker naming nothing.
    let legacy = format!(
        "containers:\n  - image: {}:1.0.0 # {{\"$imagepolicy\": \"flux-system:semver-all\"}}\n  - image: {}:1.0.0 # {{\"$imagepolicy\": \"flux-system:nope\"}}\n",
        img("app"),
        img("app")
    );
    write(dir, "legacy/app.yaml", &legacy);

    let r = sync(dir, &host, &[]);
    let doc = json(&r);
    assert_eq!(
        r.code, 1,
        "the marker naming no ImagePolicy is an error: {r:?}"
    );
    let at = |name: &str| {
        let line = line_of(&values, &format!("flux-system:{name}:tag"));
        reference(&doc, "apps/dev/values.yaml", line)
    };
    // (policy, image, verdict, selected)
    let app = img("app");
    for (name, image, verdict, selected) in [
        // semver.range
        ("semver-tilde", app.as_str(), "behind", Some("1.1.0")),
        ("semver-all", &app, "behind", Some("2.0.0")),
        ("semver-none", &app, "unchecked", None),
        // exclusionList: Flux's default, written empty, given
        ("alpha-default", &app, "behind", Some("latest")),
        ("alpha-noexcl", &app, "behind", Some("sha256-abc.sig")),
        ("alpha-excl", &app, "behind", Some("2.0.0")),
        // imageRepositoryRef.namespace
        ("ns-other", &img("other"), "behind", Some("3.1.0")),
        // numerical.order
        ("num-asc", &img("num"), "behind", Some("10")),
        ("num-desc", &img("num"), "up-to-date", Some("1")),
        // filterTags.extract
        ("build-extract", &img("build"), "behind", Some("build-10")),
        ("build-noextract", &img("build"), "unchecked", None),
        // filterTags.pattern
        ("filter-none", &app, "unchecked", None),
        ("rel-empty", &img("rel"), "blocked", Some("v3-")),
        ("rel-full", &img("rel"), "behind", Some("v2-b")),
        ("private", &app, "behind", Some("2.0.0")),
        // an invalid policy: its marker is unchecked, not the default's
        ("bad-range", &app, "unchecked", None),
    ] {
        let r = at(name);
        assert_eq!(r["image"], image, "{name}: {r:#}");
        assert_eq!(r["verdict"], verdict, "{name}: {r:#}");
        assert_eq!(r["selected"].as_str(), selected, "{name}: {r:#}");
        assert_eq!(r["policy_source"], "flux", "{name}");
    }
    // digestReflectionPolicy
    let dig = |name: &str| {
        let line = line_of(&digests, &format!("flux-system:{name}\""));
        reference(&doc, "apps/dev/digests.yaml", line)
    };
    for (name, verdict) in [
        ("dig-never", "up-to-date"),
        ("dig-ifnp", "up-to-date"),
        ("dig-always", "behind"),
        ("dig-ifnp-unpinned", "behind"),
        ("dig-never-unpinned", "up-to-date"),
    ] {
        let r = dig(name);
        assert_eq!(r["verdict"], verdict, "{name}: {r:#}");
        assert_eq!(r["selected"], "1.0.0", "{name}");
        // Never, unpinned: no digest is needed, so none is asked.
        let digest = (name != "dig-never-unpinned").then_some(new.digest.as_str());
        assert_eq!(r["selected_digest"].as_str(), digest, "{name}");
    }

    // Warnings at each ImagePolicy's line: each fires on its minimal case,
    // and the correct twin is silent.
    let policy_line = |name: &str| {
        let at = policies_text
            .lines()
            .position(|l| l == format!("  name: {name}"))
            .expect("the policy is written");
        at as u64 + 1 - 3
    };
    let codes_at = |name: &str| -> Vec<String> {
        findings_at(
            &doc,
            "clusters/dev/flux-system/policies.yaml",
            policy_line(name),
        )
        .iter()
        .map(|f| {
            assert_eq!(f["severity"], "warning", "{f}");
            let m = f["message"].as_str().unwrap();
            assert!(
                m.starts_with(&format!("ImagePolicy flux-system/{name} ")),
                "{m}"
            );
            m.rsplit('[')
                .next()
                .unwrap()
                .trim_end_matches(']')
                .to_owned()
        })
        .collect()
    };
    for (name, want) in [
        ("build-noextract", vec!["not-numbers"]),
        ("build-extract", vec![]),
        ("filter-none", vec!["filter-matches-nothing"]),
        ("num-asc", vec![]),
        ("semver-none", vec!["range-matches-nothing"]),
        ("semver-all", vec![]),
        ("rel-empty", vec!["empty-extract"]),
        ("rel-full", vec![]),
    ] {
        assert_eq!(codes_at(name), want, "{name}: {doc:#}");
    }
    // An invalid ImagePolicy: an error at its line, naming the field.
    let bad = findings_at(
        &doc,
        "clusters/dev/flux-system/policies.yaml",
        policy_line("bad-range"),
    );
    assert!(
        bad.len() == 1
            && bad[0]["severity"] == "error"
            && bad[0]["message"]
                .as_str()
                .unwrap()
                .contains("spec.policy.semver.range"),
        "{bad:#?}"
    );
    assert!(
        at("bad-range")["message"]
            .as_str()
            .unwrap()
            .contains("spec.policy.semver.range")
    );
    // A selection an extract warning questions is not written.
    assert!(
        at("rel-empty")["message"]
            .as_str()
            .unwrap()
            .contains("empty-extract"),
        "{doc:#}"
    );

    // Credentials only the cluster has: one notice at the ImageRepository.
    let private_line = line_of(&repos, "  name: private") - 3;
    let notes = findings_at(&doc, "clusters/dev/flux-system/repositories.yaml", 0);
    assert_eq!(notes.len(), 1, "only the private repository: {notes:#?}");
    assert_eq!(notes[0]["line"], private_line);
    let note = notes[0]["message"].as_str().unwrap();
    for part in [
        "spec.provider aws",
        "spec.secretRef ecr-auth",
        "spec.certSecretRef ca",
        "--registry-auth",
    ] {
        assert!(note.contains(part), "{note}");
    }
    // git.push.branch: compare that branch.
    let pushes = findings_at(&doc, "clusters/dev/flux-system/automation.yaml", 1);
    assert!(
        pushes.len() == 1
            && pushes[0]["message"]
                .as_str()
                .unwrap()
                .contains("--branch flux-image-updates"),
        "{pushes:#?}"
    );
    // A marker naming no ImagePolicy: an error at its line.
    let nope = findings_at(&doc, "legacy/app.yaml", 3);
    assert!(
        nope.len() == 1
            && nope[0]["severity"] == "error"
            && nope[0]["message"]
                .as_str()
                .unwrap()
                .contains("flux-system:nope"),
        "{doc:#}"
    );
    // Outside update.path: checked, with a notice, and never written.
    assert_eq!(reference(&doc, "legacy/app.yaml", 2)["verdict"], "behind");
    let outside = findings_at(&doc, "legacy/app.yaml", 2);
    assert!(
        outside.len() == 1
            && outside[0]["message"]
                .as_str()
                .unwrap()
                .contains("spec.update.path"),
        "{outside:#?}"
    );

    let r = sync(dir, &host, &["--apply", "--dry-run", "--writer-id", "flux"]);
    let doc = json(&r);
    let updated: Vec<(String, String)> = doc["updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["file"].as_str().unwrap().to_owned(),
                u["to"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        updated.iter().all(|(f, _)| f.starts_with("apps/")),
        "{updated:?}"
    );
    assert!(
        updated.contains(&("apps/dev/values.yaml".to_owned(), "1.1.0".to_owned())),
        "{updated:?}"
    );
    assert!(
        !updated.iter().any(|(_, to)| to == "v3-"),
        "the questioned selection is not written: {updated:?}"
    );
    let always = format!("1.0.0@{}", new.digest);
    assert_eq!(
        updated
            .iter()
            .filter(|(f, to)| f == "apps/dev/digests.yaml" && to == &always)
            .count(),
        2,
        "Always moves the pinned digest, IfNotPresent adds one where none is: {updated:?}"
    );
}

/// `spec.insecure` lets gitops-bump reach the registry over plain HTTP
/// without `--insecure-registry`; without it, the registry is asked over
/// HTTPS and the reference cannot be checked.
#[test]
fn sync_flux_insecure_repository_allows_plain_http() {
    let reg = Registry::start();
    let host = reg.host();
    push_tags(&reg, "acme/app", &["1.0.0", "1.1.0"]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let objects = |insecure: &str| {
        repository("app", "flux-system", &format!("{host}/acme/app"), insecure)
            + &policy(
                "app",
                "  imageRepositoryRef:\n    name: app\n  policy:\n    semver:\n      range: '>=1.0.0'\n",
            )
    };
    write(dir, "flux/images.yaml", &objects("  insecure: true\n"));
    write(
        dir,
        "apps/app.yaml",
        &format!(
            "containers:\n  - image: {host}/acme/app:1.0.0 # {{\"$imagepolicy\": \"flux-system:app\"}}\n"
        ),
    );
    let r = sync(dir, "", &[]);
    let doc = json(&r);
    let app = reference(&doc, "apps/app.yaml", 2);
    assert_eq!(app["verdict"], "behind", "{doc:#}");
    assert_eq!(app["selected"], "1.1.0");

    write(dir, "flux/images.yaml", &objects(""));
    let r = sync(dir, "", &[]);
    let doc = json(&r);
    let app = reference(&doc, "apps/app.yaml", 2);
    assert_eq!(app["verdict"], "unchecked", "{doc:#}");
    assert_eq!(app["severity"], "error");
    assert_eq!(r.code, 1);
}

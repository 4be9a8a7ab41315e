//! Unit tests for discovery and lossless editing across dialects.

use super::*;

fn parse(path: &str, text: &str) -> Manifest {
    Manifest::parse(path, text.to_owned()).expect("parses")
}

fn images(m: &Manifest) -> Vec<(Dialect, String, Option<String>, Option<String>)> {
    m.sites
        .iter()
        .map(|s| {
            let i = m.image_of(s);
            (s.dialect, i.name, i.tag, i.digest)
        })
        .collect()
}

/// Changes every slot of the first site to `value`.
fn set_first(m: &Manifest, value: &str) -> String {
    let changes: Vec<Change> = m.sites[0]
        .slots()
        .into_iter()
        .map(|node| Change::replace(node, value.to_owned()))
        .collect();
    m.apply(&changes).expect("applies").0
}

#[test]
fn workload_containers_at_any_depth() {
    let m = parse(
        "cj.yaml",
        "kind: CronJob\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          initContainers:\n          - name: init\n            image: busybox:1.36\n          containers:\n          - name: app\n            image: ghcr.io/acme/app:v1 # keep me\n",
    );
    assert_eq!(
        images(&m),
        vec![
            (
                Dialect::Workload,
                "busybox".into(),
                Some("1.36".into()),
                None
            ),
            (
                Dialect::Workload,
                "ghcr.io/acme/app".into(),
                Some("v1".into()),
                None
            ),
        ]
    );
}

#[test]
fn kustomize_entries_use_new_name() {
    let m = parse(
        "kustomization.yaml",
        "images:\n- name: app\n  newName: ghcr.io/acme/app\n  newTag: v1\n- name: other\n  digest: sha256:aaaa\n",
    );
    let got = images(&m);
    assert_eq!(
        got[0],
        (
            Dialect::Kustomize,
            "ghcr.io/acme/app".into(),
            Some("v1".into()),
            None
        )
    );
    assert_eq!(got[1].1, "other");
}

#[test]
fn helm_values_maps_and_registry() {
    let m = parse(
        "values.yaml",
        "image:\n  registry: ghcr.io\n  repository: acme/app\n  tag: \"1.2.3\"\n  digest: \"\"\nsidecar:\n  repository: nginx\n  tag: 1.25@sha256:0123456789012345678901234567890123456789012345678901234567890123\n",
    );
    let got = images(&m);
    assert_eq!(
        got[0],
        (
            Dialect::HelmValues,
            "ghcr.io/acme/app".into(),
            Some("1.2.3".into()),
            None
        )
    );
    assert_eq!(got[1].2.as_deref(), Some("1.25"));
    assert!(
        got[1]
            .3
            .as_deref()
            .is_some_and(|d| d.starts_with("sha256:0123"))
    );
}

#[test]
fn flux_markers_group_by_policy() {
    let text = "images:\n- name: app\n  newName: ghcr.io/acme/app # {\"$imagepolicy\": \"ns:app:name\"}\n  newTag: v1 # {\"$imagepolicy\": \"ns:app:tag\"}\n";
    let m = parse("k.yaml", text);
    assert_eq!(
        images(&m),
        vec![(
            Dialect::FluxMarker,
            "ghcr.io/acme/app".into(),
            Some("v1".into()),
            None
        )]
    );
    assert_eq!(m.sites[0].marker.as_deref(), Some("ns:app"));
}

#[test]
fn argocd_sources() {
    let text = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n  source:\n    kustomize:\n      images:\n      - web=ghcr.io/acme/web:v2\n    helm:\n      parameters:\n      - name: image.repository\n        value: ghcr.io/acme/api\n      - name: image.tag\n        value: v3\n      valuesObject:\n        image:\n          repository: ghcr.io/acme/worker\n          tag: v4\n";
    let m = parse("app.yaml", text);
    let got = images(&m);
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got.iter().all(|g| g.0 == Dialect::ArgoCd));
    assert_eq!(got[0].1, "ghcr.io/acme/web");
}

#[test]
fn edit_changes_only_tag_bytes_and_keeps_everything() {
    let text = "\u{feff}# head\r\nspec:\r\n  containers:\r\n  - image: 'ghcr.io/acme/app:v1'   # trailing\r\n...\r\n";
    let m = parse("p.yaml", text);
    let out = set_first(&m, "ghcr.io/acme/app:v2");
    assert_eq!(out, text.replace(":v1'", ":v2'"));
}

#[test]
fn numeric_tags_get_quoted() {
    let m = parse("values.yaml", "image:\n  repository: app\n  tag: 1.9\n");
    assert_eq!(
        set_first(&m, "1.10"),
        "image:\n  repository: app\n  tag: \"1.10\"\n"
    );
    let m = parse("values.yaml", "image:\n  repository: app\n  tag: v1\n");
    assert_eq!(
        set_first(&m, "yes"),
        "image:\n  repository: app\n  tag: \"yes\"\n"
    );
}

#[test]
fn anchored_value_edited_once_and_alias_reported() {
    let text = "a:\n  image: &img golang:1.26\nb:\n  image: *img\n";
    let m = parse("ci.yaml", text);
    assert_eq!(m.sites.len(), 1);
    assert_eq!(m.sites[0].via_alias.len(), 1);
    assert_eq!(set_first(&m, "golang:1.27"), text.replace("1.26", "1.27"));
}

#[test]
fn escaped_scalars_are_refused() {
    let m = parse(
        "p.yaml",
        "spec:\n  containers:\n  - image: \"app:\\u00761\"\n",
    );
    let node = m.sites[0].slots()[0];
    let err = m
        .apply(&[Change::replace(node, "app:v2")])
        .expect_err("refused");
    assert_eq!(err, EditError::NotVerbatim { line: 3 });
}

#[test]
fn ignore_comment_pins() {
    let m = parse(
        "p.yaml",
        "spec:\n  containers:\n  - image: app:v1 # gitops-bump:ignore\n  - image: app:v1\n",
    );
    assert!(m.is_pinned(&m.sites[0]));
    assert!(!m.is_pinned(&m.sites[1]));
}

#[test]
fn billion_laughs_is_bounded() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let prev = i - 1;
        text.push_str(&format!("a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"));
    }
    assert_eq!(
        Manifest::parse("bomb.yaml", text).expect_err("budget"),
        ManifestError::AliasBudget
    );
}

#[test]
fn positions_are_one_based_bytes() {
    let m = parse("p.yaml", "x: é\nspec:\n  containers:\n  - image: app:v1\n");
    assert_eq!(m.node_position(m.sites[0].slots()[0]), (4, 12));
}

#[test]
fn shared_tag_anchor_reaches_both_images() {
    let text = "api:\n  image:\n    repository: ghcr.io/acme/api\n    tag: &ver v1.0.0\nworker:\n  image:\n    repository: ghcr.io/acme/worker\n    tag: *ver\n";
    let m = parse("values.yaml", text);
    assert_eq!(
        images(&m)
            .iter()
            .map(|i| (i.1.as_str(), i.2.as_deref()))
            .collect::<Vec<_>>(),
        vec![
            ("ghcr.io/acme/api", Some("v1.0.0")),
            ("ghcr.io/acme/worker", Some("v1.0.0"))
        ]
    );
    let slot = m.sites[0].slots()[0];
    assert_eq!(
        m.sites[1].slots(),
        vec![slot],
        "both edit the anchored scalar"
    );
    let reach = m.reach(slot);
    assert_eq!(reach.sites, vec![0, 1]);
    assert_eq!(reach.alias_lines, vec![8]);
    // Each site reports the alias line that sees its change.
    assert_eq!(m.sites[0].via_alias, reach.aliases);
    assert_eq!(m.sites[1].via_alias, reach.aliases);
}

#[test]
fn kustomize_new_tag_anchors_are_shared() {
    let text = "images:\n- name: ghcr.io/acme/api\n  newTag: &v v1\n- name: ghcr.io/acme/worker\n  newTag: *v\n";
    let m = parse("kustomization.yaml", text);
    assert_eq!(m.sites.len(), 2);
    let reach = m.reach(m.sites[1].slots()[0]);
    assert_eq!(reach.sites, vec![0, 1]);
    assert_eq!(reach.alias_lines, vec![5]);
}

#[test]
fn a_pin_on_any_alias_line_holds_the_anchor() {
    let text = "a:\n  image: &img golang:1.26\nb:\n  image: *img # gitops-bump:ignore\n";
    let m = parse("ci.yaml", text);
    assert_eq!(m.sites.len(), 1);
    assert!(m.is_pinned(&m.sites[0]));
    // Through an alias of a whole map, too.
    let text = "base: &image\n  repository: app\n  tag: v1\nother:\n  image: *image # gitops-bump:ignore\n";
    let m = parse("values.yaml", text);
    assert!(m.is_pinned(&m.sites[0]));
    let text = "base: &image\n  repository: app\n  tag: v1\nother:\n  image: *image\n";
    let m = parse("values.yaml", text);
    assert!(!m.is_pinned(&m.sites[0]));
    assert_eq!(m.reach(m.sites[0].slots()[0]).alias_lines, vec![5]);
}

#[test]
fn alias_budget_counts_expansion_not_size() {
    // 2.2 MB and over a million nodes, without a single alias.
    let mut text = String::from("items: [");
    for _ in 0..1_100_000 {
        text.push_str("1,");
    }
    text.push_str("1]\n");
    assert!(text.len() > 2_000_000);
    let m = Manifest::parse("big.yaml", text).expect("no alias, no budget");
    assert!(m.sites.is_empty());
}

#[test]
fn flux_tag_markers_wait_for_their_policy_name() {
    let text = "spec:\n  values:\n    app:\n      tag: v1.0.0 # {\"$imagepolicy\": \"flux-system:app:tag\"}\n    image:\n      tag: v2.0.0 # {\"$imagepolicy\": \"flux-system:web:tag\"}\n";
    let mut m = parse("helmrelease.yaml", text);
    assert_eq!(m.markers.len(), 2);
    assert!(
        m.markers
            .iter()
            .all(|mk| mk.field == dialect::MarkerField::Tag)
    );
    // `image: {tag}` is an image map without a name; `app.tag` is no site yet.
    assert_eq!(images(&m).len(), 1);
    let site = m
        .site_for_policy("flux-system:app", "ghcr.io/acme/app")
        .expect("site");
    assert_eq!(m.image_of(&site).tag.as_deref(), Some("v1.0.0"));
    assert!(m.site_for_policy("flux-system:none", "x").is_none());
    let named = m.name_policy("flux-system:app", "ghcr.io/acme/app");
    assert_eq!(named.len(), 1);
    let named_web = m.name_policy("flux-system:web", "ghcr.io/acme/web");
    assert_eq!(named_web.len(), 1);
    let got: Vec<(String, Option<String>)> = m
        .sites
        .iter()
        .map(|s| (m.image_of(s).name, m.image_of(s).tag))
        .collect();
    assert_eq!(
        got,
        vec![
            ("ghcr.io/acme/app".to_owned(), Some("v1.0.0".to_owned())),
            ("ghcr.io/acme/web".to_owned(), Some("v2.0.0".to_owned()))
        ]
    );
}

#[test]
fn edits_inside_block_scalars_are_proven_and_located() {
    let text = "spec:\n  source:\n    helm:\n      values: |\n        image:\n          repository: app\n          tag: \"v\\u0031\"\n";
    let m = parse("app.yaml", text);
    let node = m.sites[0].slots()[0];
    assert_eq!(m.node_position(node), (7, 16));
    let err = m
        .apply(&[Change::replace(node, "v2")])
        .expect_err("escaped");
    assert_eq!(err, EditError::NotVerbatim { line: 7 });
}

#[test]
fn stream_queries_work_inside_embedded_yaml() {
    let text = "data:\n  values.yaml: |\n    image:\n      repository: app\n      tag: v1\n";
    let m = parse("cm.yaml", text);
    assert_eq!(m.stream.embeds.len(), 1);
    let embed = &m.stream.embeds[0];
    let root = embed.docs[0].expect("root");
    let image = m.stream.get(root, "image").expect("image");
    assert_eq!(m.stream.get_str(image, "tag"), Some("v1"));
    assert_eq!(m.stream.doc_of(image), 0);
    assert_eq!(m.stream.line(image), 4);
}

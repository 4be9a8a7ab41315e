//! Lossless editing under random documents (proptest): after an edit, every
//! byte outside the edited spans is identical, the re-parse equals the
//! original except the edited scalars, and any tag the writer emits reads
//! back as the same string.

use gitops_bump::manifest::{Change, Manifest, Shape};
use proptest::prelude::*;

/// Tags, including ones YAML would read as numbers, booleans or null.
fn tag() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}",
        "[0-9]{1,4}(\\.[0-9]{1,3}){0,2}",
        "[0-9]{1,3}e[0-9]{1,3}",
        Just("0e1234".to_owned()),
        Just("1.10".to_owned()),
        Just("true".to_owned()),
        Just("yes".to_owned()),
        Just("on".to_owned()),
        Just("null".to_owned()),
        Just("0x1F".to_owned()),
        Just("012".to_owned()),
        Just("2024-01-15".to_owned()),
    ]
}

/// One random document holding a container image and other noise.
fn document() -> impl Strategy<Value = (String, bool)> {
    let quote = prop_oneof![Just(""), Just("'"), Just("\"")];
    let comment = prop_oneof![
        Just(""),
        Just("  # note"),
        Just(" # {\"$imagepolicy\": \"ns:app\"}")
    ];
    let noise = prop_oneof![
        Just("labels: {a: b, c: [1, 2]}\n".to_owned()),
        Just("script: |\n  echo image: app:v0\n  exit 0\n".to_owned()),
        Just("anchor: &x {k: v}\nalias: *x\n".to_owned()),
        Just("# a comment line\n".to_owned()),
        Just("empty:\n".to_owned()),
        Just("text: \"é ü 漢字\"\n".to_owned()),
    ];
    (quote, comment, proptest::collection::vec(noise, 0..4), any::<bool>(), any::<bool>(), any::<bool>(), tag())
        .prop_map(|(q, c, noise, crlf, bom, multi, t)| {
            let mut doc = String::new();
            if bom {
                doc.push('\u{feff}');
            }
            if multi {
                doc.push_str("---\nkind: ConfigMap\ndata: {x: y}\n---\n");
            }
            for n in &noise {
                doc.push_str(n);
            }
            doc.push_str(&format!("spec:\n  containers:\n    - name: app\n      image: {q}ghcr.io/acme/app:{}{q}{c}\n", if q.is_empty() { "v1".to_owned() } else { t }));
            doc.push_str("...\n");
            if crlf {
                doc = doc.replace('\n', "\r\n");
            }
            (doc, crlf)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn edits_touch_only_their_spans((doc, _crlf) in document(), new_tag in tag()) {
        let m = Manifest::parse("d.yaml", doc.clone()).expect("generated YAML parses");
        let site = m.sites.iter().find(|s| m.image_of(s).name == "ghcr.io/acme/app").expect("site found");
        let node = site.slots()[0];
        let value = format!("ghcr.io/acme/app:{new_tag}");
        let (out, edits) = m.apply(&[Change::replace(node, value.clone())]).expect("edit applies");
        // Locality: outside the (single) edit, bytes are identical.
        prop_assert_eq!(edits.len(), 1);
        let e = &edits[0];
        prop_assert_eq!(&out.as_bytes()[..e.span.start], &doc.as_bytes()[..e.span.start]);
        prop_assert_eq!(&out.as_bytes()[e.span.start + e.new.0.len()..], &doc.as_bytes()[e.span.end..]);
        // Semantics: the new value reads back as exactly the string written.
        let again = Manifest::parse("d.yaml", out).expect("re-parses");
        prop_assert_eq!(again.stream.scalar(node), Some(value.as_str()));
    }

    #[test]
    fn every_tag_the_writer_emits_reads_back_as_a_string(t in tag(), style in 0..3usize) {
        let old = ["v1", "'v1'", "\"v1\""][style];
        let doc = format!("image:\n  repository: app\n  tag: {old}\n");
        let m = Manifest::parse("values.yaml", doc).expect("parses");
        let node = m.sites[0].slots()[0];
        let (out, _) = m.apply(&[Change::replace(node, t.clone())]).expect("applies");
        let again = Manifest::parse("values.yaml", out.clone()).expect("re-parses");
        prop_assert_eq!(again.stream.scalar(node), Some(t.as_str()));
        // A plain result must be a string under YAML 1.1 and 1.2 alike.
        let raw = out.trim_end().rsplit("tag: ").next().unwrap_or_default().to_owned();
        if !raw.starts_with(['\'', '"']) {
            prop_assert!(gitops_bump::manifest::scalar::plain_is_string(&raw), "{raw} left plain");
        }
    }
}

/// Kustomize and Helm tooling read YAML 1.1: the quoting rule must hold for
/// the known-dangerous values.
#[test]
fn dangerous_tags_are_quoted() {
    for t in [
        "1.10",
        "0e1234",
        "706798e8",
        "123456",
        "true",
        "null",
        "0x1F",
        "012",
        "yes",
        "on",
        "2024-01-15",
    ] {
        let m = Manifest::parse(
            "values.yaml",
            "image:\n  repository: app\n  tag: v1\n".into(),
        )
        .expect("parses");
        let (out, _) = m
            .apply(&[Change::replace(m.sites[0].slots()[0], t)])
            .expect("applies");
        assert_eq!(out, format!("image:\n  repository: app\n  tag: \"{t}\"\n"));
    }
}

/// A kustomization entry without `newTag`, in random styles.
fn entry_without_tag() -> impl Strategy<Value = String> {
    let indent = prop_oneof![Just(""), Just("  "), Just("    ")];
    let quote = prop_oneof![Just(""), Just("'"), Just("\"")];
    let comment = prop_oneof![Just(""), Just(" # mirrored"), Just("  # é")];
    (
        indent,
        quote,
        comment,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(i, q, c, crlf, final_newline, trailing)| {
            let mut doc =
                format!("images:\n{i}- name: app\n{i}  newName: {q}ghcr.io/acme/app{q}{c}\n");
            if trailing {
                doc.push_str("resources:\n- base\n");
            }
            if !final_newline {
                doc.pop();
            }
            if crlf {
                doc = doc.replace('\n', "\r\n");
            }
            doc
        })
}

/// An Argo CD Application whose Helm values are a literal block.
fn values_block() -> impl Strategy<Value = String> {
    let header = prop_oneof![Just("|"), Just("|-"), Just("|+"), Just("|2")];
    let extra = prop_oneof![Just(""), Just("  # note"), Just("\n\n")];
    (header, extra, any::<bool>(), any::<bool>()).prop_map(|(h, extra, crlf, quoted)| {
        let pad = if h == "|2" { "      " } else { "        " };
        let tag = if quoted { "\"v1\"" } else { "v1" };
        let mut doc = format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n  source:\n    helm:\n      values: {h}\n{pad}image:\n{pad}  repository: ghcr.io/acme/app\n{pad}  tag: {tag}{extra}\n{pad}replicas: 1\n"
        );
        if crlf {
            doc = doc.replace('\n', "\r\n");
        }
        doc
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn insertions_add_only_their_bytes(doc in entry_without_tag(), new_tag in tag()) {
        let m = Manifest::parse("kustomization.yaml", doc.clone()).expect("parses");
        let site = &m.sites[0];
        let Shape::Split { fill: Some(fill), tag: None, .. } = &site.shape else {
            panic!("a kustomize entry without newTag: {:?}", site.shape)
        };
        let change = Change::insert(fill.map, fill.after, vec![("newTag".into(), new_tag.clone())]);
        let (out, edits) = m.apply(&[change]).expect("insertion applies");
        prop_assert_eq!(edits.len(), 1);
        let e = &edits[0];
        prop_assert!(e.span.is_empty());
        prop_assert_eq!(&out[..e.span.start], &doc[..e.span.start]);
        prop_assert_eq!(&out[e.span.start + e.new.0.len()..], &doc[e.span.start..]);
        prop_assert_eq!(doc.contains("\r\n"), e.new.0.contains("\r\n"));
        let again = Manifest::parse("kustomization.yaml", out).expect("re-parses");
        prop_assert_eq!(again.image_of(&again.sites[0]).tag, Some(new_tag));
    }

    #[test]
    fn edits_inside_block_scalars_touch_only_their_spans(doc in values_block(), new_tag in tag()) {
        let m = Manifest::parse("app.yaml", doc.clone()).expect("parses");
        prop_assert_eq!(m.sites.len(), 1, "{:?}", m.skipped);
        let node = m.sites[0].slots()[0];
        let (out, edits) = m.apply(&[Change::replace(node, new_tag.clone())]).expect("applies");
        prop_assert_eq!(edits.len(), 1);
        let e = &edits[0];
        prop_assert_eq!(&out[..e.span.start], &doc[..e.span.start]);
        prop_assert_eq!(&out[e.span.start + e.new.0.len()..], &doc[e.span.end..]);
        let again = Manifest::parse("app.yaml", out).expect("re-parses");
        prop_assert_eq!(again.image_of(&again.sites[0]).tag, Some(new_tag));
    }
}

//! Oracle tests for `reference` (distribution/reference) and `reference::kustomize` (kustomize's
//! images transformer), driven by the upstream vectors in `shared/oracles/`.
//!
//! Owns only the harness: one test per oracle kind, each asserting how many cases it ran and
//! reporting every failing case with its upstream source and input. Each case is checked against
//! `expected` (what upstream asserts) and, when present, `computed` (upstream's full result).

use gitops_bump::reference::kustomize::{self, ImagesEntry};
use gitops_bump::reference::{self as r, AnyReference, Named, Reference, ReferenceError};
use serde_json::{Value, json};

use crate::common::shared;

/// Cases deliberately not run: (case id as printed on failure, reason).
const SKIPPED: &[(&str, &str)] = &[
    (
        "TestIssue1281_JsonPatchAndImageTag@doc0:/spec/template/spec/containers[0]/image",
        "a JSON6902 patch rewrote the value to 'costello' before the images transformer ran",
    ),
    (
        "TestTransfomersImageCustomConfig@doc0:/spec/template/spec/myContainers[0]/image",
        CUSTOM_KIND,
    ),
    (
        "TestTransfomersImageCustomConfig@doc0:/spec2/template/spec/myContainers[0]/image",
        CUSTOM_KIND,
    ),
    (
        "TestTransfomersImageCustomConfig@doc0:/spec2/template/spec/myContainers[1]/image",
        CUSTOM_KIND,
    ),
    (
        "TestTransfomersImageCustomConfig@doc0:/spec3/template/spec/myInitContainers[0]/image",
        CUSTOM_KIND,
    ),
    (
        "TestTransfomersImageCustomConfig@doc0:/spec3/template/spec/myInitContainers[1]/image",
        CUSTOM_KIND,
    ),
    (
        "TestTransfomersImageCustomConfig@doc0:/spec3/template/spec/myInitContainers[2]/image",
        CUSTOM_KIND,
    ),
    (
        "TestTransfomersImageCustomConfig@doc0:/spec3/template/spec/myInitContainers[3]/image",
        CUSTOM_KIND,
    ),
    (
        "TestTransfomersImageCustomConfig@doc0:/spec3/template/spec/myInitContainers[5]/image",
        CUSTOM_KIND,
    ),
];
const CUSTOM_KIND: &str = "field selection, not value rewriting: the test's fieldSpecs say \
    `kind: Custom` but the resource is `customKind`, so no images transform runs there";

const REFERENCES: &str = "oracles/references.json";
const KUSTOMIZE: &str = "oracles/kustomize_images.json";

#[test]
fn skipped_cases_exist() {
    let Some(path) = shared(KUSTOMIZE) else {
        return;
    };
    let text = std::fs::read_to_string(path).expect("oracle file is readable");
    let all: Vec<Value> = serde_json::from_str(&text).expect("oracle file is a JSON array");
    for (id, _) in SKIPPED {
        assert!(
            all.iter().any(|c| case_id(c) == *id),
            "stale SKIPPED entry: {id}"
        );
    }
}

#[test]
fn reference_parse() {
    run_references("parse", 52, |c| Ok(named_result(r::parse(input(c)))));
}

#[test]
fn reference_parse_normalized_named() {
    run_references("parse_normalized_named", 123, |c| {
        let reference = match Reference::parse(input(c)) {
            Ok(reference) => reference,
            Err(e) => return Ok(error_json(&e)),
        };
        if reference.to_string() != input(c) {
            return Err(format!("Display does not round-trip: {reference}"));
        }
        let named = reference.named();
        let mut actual = named_json(named);
        let tag_name_only = match (named.tag(), named.digest()) {
            (None, None) => named.with_tag("latest").map_err(|e| e.to_string())?,
            _ => named.clone(),
        };
        actual["tag_name_only"] = json!(tag_name_only.to_string());
        actual["trim_named"] = json!(named.name());
        Ok(actual)
    });
}

#[test]
fn reference_parse_named() {
    run_references("parse_named", 8, |c| {
        Ok(named_result(r::parse_named(input(c))))
    });
}

#[test]
fn reference_parse_any_reference() {
    run_references("parse_any_reference", 14, |c| {
        Ok(match r::parse_any_reference(input(c)) {
            Ok(AnyReference::Named(named)) => named_json(&named),
            Ok(AnyReference::Digest(d)) => {
                json!({"ok": true, "string": d, "digest": d, "go_type": "digest_only"})
            }
            Err(e) => error_json(&e),
        })
    });
}

#[test]
fn reference_parse_docker_ref() {
    run_references("parse_docker_ref", 11, |c| {
        Ok(named_result(r::parse_docker_ref(input(c))))
    });
}

#[test]
fn reference_with_name() {
    run_references("with_name", 13, |c| {
        Ok(named_result(r::with_name(input(c))))
    });
}

#[test]
fn reference_with_tag() {
    run_references("with_tag", 6, |c| {
        let mut named = base_name(c);
        if let Some(digest) = field(c, "digest") {
            named = named.and_then(|n| n.with_digest(digest));
        }
        Ok(named_result(named.and_then(|n| {
            n.with_tag(field(c, "tag").unwrap_or_default())
        })))
    });
}

#[test]
fn reference_with_digest() {
    run_references("with_digest", 5, |c| {
        let mut named = base_name(c);
        if let Some(tag) = field(c, "tag") {
            named = named.and_then(|n| n.with_tag(tag));
        }
        let digest = field(c, "digest").unwrap_or_default();
        Ok(named_result(named.and_then(|n| n.with_digest(digest))))
    });
}

#[test]
fn reference_familiar_match() {
    run_references("familiar_match", 10, |c| {
        let reference = r::parse_any_reference(input(c)).map_err(|e| e.to_string())?;
        Ok(
            match r::familiar_match(field(c, "pattern").unwrap_or_default(), &reference) {
                Ok(matched) => json!({"ok": true, "match": matched}),
                Err(e) => error_json(&e),
            },
        )
    });
}

#[test]
fn reference_domain_regexp() {
    run_references("domain_regexp", 30, |c| {
        Ok(json!({"match": r::is_domain(input(c))}))
    });
}

#[test]
fn reference_anchored_name_regexp() {
    run_references("anchored_name_regexp", 63, |c| {
        Ok(match r::split_name(input(c)) {
            Some((domain, path)) => json!({"match": true, "submatches": [domain, path]}),
            None => json!({"match": false}),
        })
    });
}

#[test]
fn reference_reference_regexp() {
    run_references("reference_regexp", 12, |c| {
        Ok(match r::split_reference(input(c)) {
            Some((name, tag, digest)) => json!({"match": true, "submatches": [name, tag, digest]}),
            None => json!({"match": false}),
        })
    });
}

#[test]
fn reference_anchored_identifier_regexp() {
    run_references("anchored_identifier_regexp", 5, |c| {
        Ok(json!({"match": r::is_identifier(input(c))}))
    });
}

#[test]
fn kustomize_split() {
    run_kustomize("split", 12, |c| {
        let (name, tag, digest) = kustomize::split(field(c, "value").unwrap_or_default());
        Ok(json!({"name": name, "tag": tag, "digest": digest}))
    });
}

#[test]
fn kustomize_is_image_matched() {
    run_kustomize("is_image_matched", 10, |c| {
        let (value, name) = (field(c, "value"), field(c, "name"));
        let matched =
            kustomize::is_image_matched(value.unwrap_or_default(), name.unwrap_or_default());
        Ok(json!({"is_matched": matched}))
    });
}

#[test]
fn kustomize_image_value() {
    run_kustomize("image_value", 120, |c| {
        let entries = c["images_entries"]
            .as_array()
            .ok_or("images_entries is not a list")?;
        let mut value = field(c, "input_image").ok_or("no input_image")?.to_string();
        let mut matched = false;
        for entry in entries {
            if let Some(next) = kustomize::apply_images_entry(&value, &images_entry(entry)?) {
                (value, matched) = (next, true);
            }
        }
        Ok(json!({"output_image": value, "matched": matched}))
    });
}

/// Runs the `upstream_test` cases of one references.json kind.
fn run_references(kind: &str, count: usize, check: impl Fn(&Value) -> Result<Value, String>) {
    run(REFERENCES, kind, true, count, check);
}

/// Runs all cases of one kustomize_images.json kind.
fn run_kustomize(kind: &str, count: usize, check: impl Fn(&Value) -> Result<Value, String>) {
    run(KUSTOMIZE, kind, false, count, check);
}

/// Checks every case of `kind`; `count` includes skipped cases so the total is pinned.
#[allow(clippy::print_stderr)]
fn run(
    file: &str,
    kind: &str,
    upstream_only: bool,
    count: usize,
    check: impl Fn(&Value) -> Result<Value, String>,
) {
    let Some(path) = shared(file) else { return };
    let text = std::fs::read_to_string(&path).expect("oracle file is readable");
    let all: Vec<Value> = serde_json::from_str(&text).expect("oracle file is a JSON array");
    let cases: Vec<&Value> = all
        .iter()
        .filter(|c| c["kind"] == kind && (!upstream_only || c["origin"] == "upstream_test"))
        .collect();
    let (mut ran, mut skipped, mut failures) = (0, 0, Vec::new());
    for case in &cases {
        let id = case_id(case);
        if SKIPPED.iter().any(|(skip, _)| *skip == id) {
            skipped += 1;
            continue;
        }
        ran += 1;
        let problems = match check(case) {
            Ok(actual) => mismatches(case, &actual),
            Err(message) => vec![message],
        };
        if !problems.is_empty() {
            failures.push(format!(
                "{id}\n  case: {}\n  {}",
                inputs(case),
                problems.join("\n  ")
            ));
        }
    }
    assert_eq!(cases.len(), count, "{kind}: number of cases in {file}");
    assert!(ran > 0, "{kind}: no case ran");
    eprintln!(
        "{kind}: {} of {ran} passed, {skipped} skipped",
        ran - failures.len()
    );
    assert!(
        failures.is_empty(),
        "{kind}: {} of {ran} cases failed ({skipped} skipped):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Differences between `actual` and the case's `expected` and `computed` objects.
fn mismatches(case: &Value, actual: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for section in ["expected", "computed"] {
        let Some(oracle) = case[section].as_object() else {
            continue;
        };
        for (key, want) in oracle {
            let got = actual.get(key).unwrap_or(&Value::Null);
            if got != want {
                out.push(format!("{section}.{key}: want {want}, got {got}"));
            }
        }
    }
    out
}

/// `test[/subtest][#case_index][@resource_path]`, unique enough to name a case in SKIPPED.
fn case_id(case: &Value) -> String {
    let source = &case["source"];
    let mut id = source["test"].as_str().unwrap_or("?").to_string();
    if let Some(subtest) = source["subtest"].as_str() {
        id += &format!("/{subtest}");
    }
    if let Some(index) = source["case_index"].as_u64() {
        id += &format!("#{index}");
    }
    if let Some(resource) = source["resource_path"].as_str() {
        id += &format!("@{resource}");
    }
    id
}

/// The case's input fields, for failure messages.
fn inputs(case: &Value) -> String {
    let keys = [
        "input",
        "name",
        "tag",
        "digest",
        "pattern",
        "value",
        "images_entries",
        "input_image",
    ];
    let fields: serde_json::Map<String, Value> = keys
        .iter()
        .filter_map(|k| case.get(*k).map(|v| (k.to_string(), v.clone())))
        .collect();
    Value::Object(fields).to_string()
}

fn field<'a>(case: &'a Value, key: &str) -> Option<&'a str> {
    case[key].as_str()
}

fn input(case: &Value) -> &str {
    field(case, "input").unwrap_or_default()
}

/// The starting name for the builder cases: `WithName`, or `ParseNormalizedNamed` where the
/// upstream test used it.
fn base_name(case: &Value) -> Result<Named, ReferenceError> {
    let name = field(case, "name").unwrap_or_default();
    if field(case, "note").is_some_and(|n| n.contains("ParseNormalizedNamed")) {
        r::parse_normalized_named(name)
    } else {
        r::with_name(name)
    }
}

/// The fields upstream's `computed` records for a named reference.
fn named_json(n: &Named) -> Value {
    let go_type = match (n.tag(), n.digest()) {
        (None, None) => "repository",
        (Some(_), None) => "tagged",
        (None, Some(_)) => "canonical",
        (Some(_), Some(_)) => "tagged_and_digested",
    };
    json!({
        "ok": true, "string": n.to_string(), "name": n.name(), "domain": n.domain(),
        "path": n.path(), "tag": n.tag(), "digest": n.digest(), "go_type": go_type,
        "familiar_name": n.familiar_name(), "familiar_string": n.familiar_string(),
    })
}

fn error_json(e: &ReferenceError) -> Value {
    json!({"ok": false, "error": e.to_string()})
}

fn named_result(result: Result<Named, ReferenceError>) -> Value {
    result.map_or_else(|e| error_json(&e), |n| named_json(&n))
}

/// An images entry from the oracle; kustomize matches config keys case-insensitively.
fn images_entry(value: &Value) -> Result<ImagesEntry, String> {
    let mut entry = ImagesEntry::default();
    for (key, v) in value.as_object().ok_or("images entry is not an object")? {
        let v = v
            .as_str()
            .ok_or(format!("images entry {key} is not a string"))?
            .to_string();
        match key.to_ascii_lowercase().as_str() {
            "name" => entry.name = v,
            "newname" => entry.new_name = Some(v),
            "newtag" => entry.new_tag = Some(v),
            "digest" => entry.digest = Some(v),
            "tagsuffix" => entry.tag_suffix = Some(v),
            other => return Err(format!("unknown images entry key {other}")),
        }
    }
    Ok(entry)
}

//! Flux image-automation setter vectors (`../shared/oracles/flux_setters.json`):
//! the engine finds the same markers Flux does and, given the policies'
//! latest images, writes byte-for-byte what Flux writes.

use gitops_bump::manifest::dialect::MarkerField;
use gitops_bump::manifest::{Change, Manifest};
use serde_json::Value;

use crate::common::shared;

/// Some fields are stored as JSON-encoded strings in the oracle file.
fn field(v: &Value) -> Value {
    match v.as_str() {
        Some(s) if s.starts_with(['[', '{', '"']) => {
            serde_json::from_str(s).unwrap_or_else(|_| v.clone())
        }
        _ => v.clone(),
    }
}

/// What Flux writes into a marked scalar for `policy`.
fn latest(policies: &Value, policy: &str, f: MarkerField) -> Option<String> {
    let p = policies.as_array()?.iter().find(|p| {
        format!(
            "{}:{}",
            p["namespace"].as_str().unwrap_or_default(),
            p["name"].as_str().unwrap_or_default()
        ) == policy
    })?;
    let r = &p["latest_ref"];
    let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    Some(match f {
        MarkerField::Image => s(&p["latest_image"]),
        MarkerField::Tag => s(&r["tag"]),
        MarkerField::Name => s(&r["name"]),
        MarkerField::Digest => s(&r["digest"]),
    })
}

/// Applies every marker like Flux's setters; `None` when nothing changes.
fn apply(path: &str, input: &str, policies: &Value) -> Result<Option<String>, String> {
    // Flux reads only files containing the token; others are not even parsed.
    if !input.contains("$imagepolicy") {
        return Ok(None);
    }
    let m = Manifest::parse(path, input.to_owned()).map_err(|e| e.to_string())?;
    let changes: Vec<Change> = m
        .markers
        .iter()
        .filter_map(|mk| {
            latest(policies, &mk.policy, mk.field).map(|value| Change::replace(mk.node, value))
        })
        .filter(|c| m.stream.scalar(c.node) != Some(c.value.as_str()))
        .collect();
    if changes.is_empty() {
        return Ok(None);
    }
    m.apply(&changes)
        .map(|(out, _)| Some(out))
        .map_err(|e| e.to_string())
}

#[test]
fn flux_setter_vectors() {
    let Some(path) = shared("oracles/flux_setters.json") else {
        return;
    };
    let cases: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json");
    let (mut ran, mut failures) = (0, Vec::new());
    for case in &cases {
        let kind = case["kind"].as_str().unwrap_or_default();
        let policies = field(&case["policies"]);
        let id = format!("{} {}", case["source"]["test"], case["source"]["subtest"]);
        match kind {
            "update_file" => {
                let input = field(&case["input_yaml"]);
                let input = input.as_str().unwrap_or_default();
                let name = case["file_name"].as_str().unwrap_or("f.yaml");
                let expected = &case["expected"];
                let written = expected["file_written"].as_bool().unwrap_or(true);
                let want = field(&expected["output_yaml"]);
                match apply(name, input, &policies) {
                    Ok(Some(out)) if written && Some(out.as_str()) == want.as_str() => {}
                    Ok(None) if !written => {}
                    // Not YAML at all: Flux skips it, and so do we (reported as unparseable).
                    Err(_) if !written && !input.contains("$imagepolicy") => {}
                    other => failures.push(format!("{id} ({name}): got {other:?}")),
                }
                ran += 1;
            }
            "marker_value" => {
                let marker = case["marker"].as_str().unwrap_or_default();
                let input = case["input_value"].as_str().unwrap_or_default();
                let key = case["field"].as_str().unwrap_or("image");
                let doc = format!("{key}: {input} # {marker}\n");
                let want = format!(
                    "{key}: {} # {marker}\n",
                    case["expected"]["output_value"]
                        .as_str()
                        .unwrap_or_default()
                );
                match apply("f.yaml", &doc, &policies) {
                    Ok(Some(out)) if out == want => {}
                    Ok(None) if doc == want => {}
                    other => failures.push(format!("{id} marker {marker}: got {other:?}")),
                }
                ran += 1;
            }
            "apply_policies" | "update_directory" => {
                let Some(files) = case["input_files"].as_object() else {
                    continue;
                };
                let after = case["expected"]["files_after"]
                    .as_object()
                    .or(case["expected"]["written_files"].as_object());
                let prefix = case["update_strategy"]["path"]
                    .as_str()
                    .map(|p| p.trim_start_matches("./").to_owned());
                for (name, input) in files {
                    let input = input.as_str().unwrap_or_default();
                    let in_scope = prefix.as_ref().is_none_or(|p| name.starts_with(p.as_str()));
                    let out = if in_scope {
                        apply(name, input, &policies)
                    } else {
                        Ok(None)
                    };
                    let want = after.and_then(|a| a.get(name)).and_then(Value::as_str);
                    match (out, want) {
                        (Ok(Some(out)), Some(w)) if out == w => {}
                        (Ok(None), Some(w)) if w == input => {}
                        (Ok(None), None) => {}
                        other => failures.push(format!("{id} {name}: got {other:?}")),
                    }
                }
                ran += 1;
            }
            _ => {}
        }
    }
    eprintln!("flux setters: {ran} cases");
    assert!(ran >= 20, "ran {ran}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Flux's removed "replace everywhere" mode is what `set` does: run those
/// vectors through the real binary.
#[test]
fn historical_replace_everywhere_through_set() {
    let Some(path) = shared("oracles/flux_setters.json") else {
        return;
    };
    let cases: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json");
    let mut ran = 0;
    for case in cases
        .iter()
        .filter(|c| c["kind"] == "historical_replace_everywhere")
    {
        let tmp = tempfile::tempdir().expect("tempdir");
        for (name, text) in case["input_files"].as_object().expect("files") {
            std::fs::write(tmp.path().join(name), text.as_str().unwrap_or_default())
                .expect("write");
        }
        // Flux replaced everywhere, silently doing nothing where the image
        // is absent; `set` fails there unless told it may be absent.
        let r = crate::common::gitops_bump()
            .args(["set", "--no-verify", "--allow-absent", "--dir"])
            .args([tmp.path()])
            .args([case["new_image_ref"].as_str().expect("ref")])
            .run();
        assert_eq!(r.code, 0, "{r:?}");
        for (name, want) in case["expected"]["files_after"].as_object().expect("after") {
            assert_eq!(
                std::fs::read_to_string(tmp.path().join(name)).expect("read"),
                want.as_str().unwrap_or_default(),
                "{name}"
            );
        }
        ran += 1;
    }
    assert_eq!(ran, 3);
}

//! Workflow commands against @actions/core's own test vectors
//! (`../shared/oracles/actions_core_commands.json`): every applicable case
//! must produce exactly the bytes @actions/core writes.

use gitops_bump::gha::commands::{self as actions, Annotation, Level};
use serde_json::Value;

use crate::common::shared;

/// The uuid @actions/core's tests mock `crypto.randomUUID` with.
const MOCK_DELIMITER: &str = "ghadelimiter_9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d";

/// Functions gitops-bump has no use for, with why.
const NOT_APPLICABLE: &[(&str, &str)] = &[
    (
        "exportVariable",
        "gitops-bump sets no environment variables for later steps",
    ),
    ("saveState", "no post step, so no state"),
    ("getState", "no post step, so no state"),
    ("addPath", "nothing to add to PATH"),
    ("setCommandEcho", "command echo is never toggled"),
    ("isDebug", "gitops-bump has no debug mode to switch on"),
    (
        "group",
        "JavaScript callback wrapper; startGroup/endGroup are covered",
    ),
    (
        "getMultilineInput",
        "lists also split on commas and drop blank entries (README: action inputs)",
    ),
    (
        "getInput",
        "only cases whose environment is in the oracle can be replayed",
    ),
    (
        "getBooleanInput",
        "only cases whose environment is in the oracle can be replayed",
    ),
    (
        "utils.toCommandValue",
        "JavaScript value coercion; callers here pass strings",
    ),
];

/// JavaScript `toCommandValue`, and `Error.toString()` for `{"$error": …}`.
fn js_string(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Object(o) if o.contains_key("$error") => {
            format!("Error: {}", o["$error"].as_str().unwrap_or_default())
        }
        other => other.to_string(),
    }
}

/// JavaScript falsiness, for properties @actions/core leaves out.
fn falsy(v: &Value) -> bool {
    matches!(v, Value::Null | Value::Bool(false))
        || v.as_str() == Some("")
        || v.as_f64() == Some(0.0)
}

fn annotation_props(v: Option<&Value>) -> Annotation {
    let Some(p) = v else {
        return Annotation::default();
    };
    let n = |k: &str| p.get(k).and_then(Value::as_u64).map(|n| n as usize);
    Annotation {
        title: p.get("title").and_then(Value::as_str).map(str::to_owned),
        file: p.get("file").and_then(Value::as_str).map(str::to_owned),
        line: n("startLine"),
        end_line: n("endLine"),
        col: n("startColumn"),
        end_column: n("endColumn"),
    }
}

/// What gitops-bump writes for one call, or None when not applicable.
fn stdout_for(call: &Value) -> Option<String> {
    let f = call["function"].as_str().unwrap_or_default();
    let args = call["args"].as_array().cloned().unwrap_or_default();
    let arg = |i: usize| args.get(i).cloned().unwrap_or(Value::Null);
    Some(match f {
        "command.issueCommand" => {
            let props: Vec<(String, String)> = arg(1)
                .as_object()
                .map(|o| {
                    o.iter()
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                if falsy(v) {
                                    String::new()
                                } else {
                                    js_string(v)
                                },
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let refs: Vec<(&str, String)> =
                props.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
            actions::command(&js_string(&arg(0)), &refs, &js_string(&arg(2)))
        }
        "command.issue" => actions::command(&js_string(&arg(0)), &[], &js_string(&arg(1))),
        "error" | "setFailed" => actions::annotation(
            Level::Error,
            &js_string(&arg(0)),
            &annotation_props(args.get(1)),
        ),
        "warning" => actions::annotation(
            Level::Warning,
            &js_string(&arg(0)),
            &annotation_props(args.get(1)),
        ),
        "notice" => actions::annotation(
            Level::Notice,
            &js_string(&arg(0)),
            &annotation_props(args.get(1)),
        ),
        "debug" => actions::command("debug", &[], &js_string(&arg(0))),
        "setSecret" => actions::command("add-mask", &[], &js_string(&arg(0))),
        "startGroup" => actions::command("group", &[], &js_string(&arg(0))),
        "endGroup" => actions::command("endgroup", &[], ""),
        _ => return None,
    })
}

#[test]
fn actions_core_vectors() {
    let Some(path) = shared("oracles/actions_core_commands.json") else {
        return;
    };
    let cases: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json");
    let (mut ran, mut skipped, mut failures) = (0, 0, Vec::new());
    for case in &cases {
        let calls = case["calls"].as_array().cloned().unwrap_or_default();
        let id = format!("{} {}", case["source"]["test"], case["calls"]);
        match case["kind"].as_str().unwrap_or_default() {
            // The legacy `::set-output` form is only for runners without GITHUB_OUTPUT;
            // gitops-bump always writes the file command.
            "stdout_command" if calls.iter().any(|c| c["function"] == "setOutput") => skipped += 1,
            "stdout_command" => {
                let got: Option<Vec<String>> = calls.iter().map(stdout_for).collect();
                let Some(got) = got else {
                    assert!(
                        calls
                            .iter()
                            .all(|c| NOT_APPLICABLE.iter().any(|(f, _)| c["function"] == *f)),
                        "unlisted function in {id}"
                    );
                    skipped += 1;
                    continue;
                };
                let want: Vec<String> = case["expected"]["stdout"]
                    .as_array()
                    .map(|a| a.iter().map(js_string).collect())
                    .unwrap_or_default();
                if got.concat() != want.concat() {
                    failures.push(format!("{id}: got {got:?}, want {want:?}"));
                }
                ran += 1;
            }
            "file_command" if case["file_command"] == "OUTPUT" => {
                let mut file = String::new();
                let mut error = None;
                for c in &calls {
                    match actions::key_value_message(
                        &js_string(&c["args"][0]),
                        &js_string(&c["args"][1]),
                        MOCK_DELIMITER,
                    ) {
                        Ok(text) => file.push_str(&(text + "\n")),
                        Err(e) => error = Some(e.to_string()),
                    }
                }
                let ok = match (
                    &case["expected"]["file"],
                    &case["expected"]["throws"],
                    error,
                ) {
                    (Value::String(want), _, None) => &file == want,
                    (_, Value::String(want), Some(got)) => &got == want,
                    _ => false,
                };
                if !ok {
                    failures.push(format!("{id}: got {file:?}"));
                }
                ran += 1;
            }
            // Input reading; only cases that carry their environment can be replayed.
            "function"
                if case["env"].is_object()
                    && calls.iter().any(|c| {
                        c["function"] == "getInput" || c["function"] == "getBooleanInput"
                    }) =>
            {
                let env: std::collections::BTreeMap<String, String> = case["env"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), js_string(v)))
                    .collect();
                let call = &calls[0];
                let name = js_string(&call["args"][0]);
                let want = &case["expected"];
                let ok = match call["function"].as_str() {
                    Some("getInput") => {
                        want["returns"].as_str()
                            == Some(
                                gitops_bump::gha::inputs::read(&env, &name)
                                    .unwrap_or_default()
                                    .as_str(),
                            )
                    }
                    _ => match gitops_bump::gha::inputs::boolean(&env, &name) {
                        Ok(b) => want["returns"].as_bool() == Some(b),
                        Err(_) => want["throws"].is_string(),
                    },
                };
                if !ok {
                    failures.push(format!("{id}: differs from {want}"));
                }
                ran += 1;
            }
            "function"
                if calls
                    .iter()
                    .any(|c| c["function"] == "fileCommand.prepareKeyValueMessage") =>
            {
                let args = &calls[0]["args"];
                let got = actions::key_value_message(
                    &js_string(&args[0]),
                    &js_string(&args[1]),
                    MOCK_DELIMITER,
                )
                .map_err(|e| e.to_string());
                let want = &case["expected"];
                if !(want["returns"]
                    .as_str()
                    .is_some_and(|w| got.as_deref() == Ok(w))
                    || want["throws"]
                        .as_str()
                        .is_some_and(|w| got.as_ref().err().map(String::as_str) == Some(w)))
                {
                    failures.push(format!("{id}: got {got:?}"));
                }
                ran += 1;
            }
            "function"
                if calls
                    .iter()
                    .any(|c| c["function"] == "utils.toCommandProperties") =>
            {
                // The mapping startLine→line, startColumn→col is what `annotation` emits.
                let a = annotation_props(calls[0]["args"].get(0));
                let rendered = actions::annotation(Level::Notice, "m", &a);
                let want = &case["expected"]["returns"];
                for (k, v) in want.as_object().into_iter().flatten() {
                    if !rendered.contains(&format!("{k}={}", js_string(v))) {
                        failures.push(format!("{id}: {k} missing from {rendered:?}"));
                    }
                }
                ran += 1;
            }
            _ => skipped += 1,
        }
    }
    eprintln!("actions core: {ran} cases run, {skipped} not applicable");
    assert!(ran >= 60, "ran {ran}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

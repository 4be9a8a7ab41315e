//! The module layering of `src/`: every `crate::<module>` path in a file
//! must point at a module on a lower layer than the file's own, so the
//! spine reads bottom-up and no import cycle can return. See: issue #8.

use std::collections::BTreeMap;
use std::path::Path;

/// Layers, bottom first. A module may use modules of lower layers only.
/// Paths are top-level modules, or `top::sub` where a leaf lives inside a
/// folder of a higher layer (the longest matching path wins).
const LAYERS: &[&[&str]] = &[
    // Leaves: grammar, wire formats, timing.
    &[
        "reference",
        "finding",
        "gha",
        "cli",
        "secret",
        "commit::retry",
        "commit::trailer",
        "settings::units",
    ],
    // Engines and adapters (I/O only at `backend` and `registry`), and the
    // environment snapshot.
    &["manifest", "policy", "registry", "backend", "settings::env"],
    // The spine's early steps.
    &["discover", "plan"],
    &["resolve", "guard", "drift"],
    // The shared write path (`commit::retry` and `commit::trailer` are
    // leaves the backends use too).
    &["commit"],
    // Presentation and inputs.
    &["report", "settings"],
    // Commands.
    &["cmd"],
];

fn layer_of(path: &str) -> Option<usize> {
    LAYERS
        .iter()
        .enumerate()
        .flat_map(|(i, mods)| mods.iter().map(move |m| (i, *m)))
        .filter(|(_, m)| path == *m || path.starts_with(&format!("{m}::")))
        .max_by_key(|(_, m)| m.len())
        .map(|(i, _)| i)
}

/// The module path of a source file (`backend/github/mod.rs` →
/// `backend::github`); `None` for the crate root and the binary.
fn module_of(rel: &Path) -> Option<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    let file = parts.pop()?;
    let stem = file.strip_suffix(".rs")?;
    if parts.is_empty() && matches!(stem, "lib" | "main") {
        return None;
    }
    if stem != "mod" {
        parts.push(stem.to_owned());
    }
    Some(parts.join("::"))
}

/// `crate::a::b` paths used in `text` outside comments, as `a::b` (the
/// first two segments).
fn crate_paths(text: &str) -> Vec<String> {
    let re = regex::Regex::new(r"crate::([a-z_]+)(?:::([a-z_]+))?").expect("valid");
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .flat_map(|l| {
            re.captures_iter(l)
                .map(|c| match c.get(2) {
                    Some(sub) => format!("{}::{}", &c[1], sub.as_str()),
                    None => c[1].to_owned(),
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn issue_8_modules_only_use_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut violations = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for entry in ignore::WalkBuilder::new(&src).build().flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let rel = path.strip_prefix(&src).expect("under src");
        let Some(module) = module_of(rel) else {
            continue;
        };
        let Some(own) = layer_of(&module) else {
            violations.push(format!("{}: module {module} is in no layer", rel.display()));
            continue;
        };
        seen.insert(module.clone(), own);
        let text = std::fs::read_to_string(path).expect("read");
        for used in crate_paths(&text) {
            let top = used.split("::").next().unwrap_or("");
            let own_top = module.split("::").next().unwrap_or("");
            if top == own_top {
                continue;
            }
            match layer_of(&used) {
                Some(l) if l < own => {}
                Some(l) => violations.push(format!(
                    "{}: {module} (layer {own}) uses crate::{used} (layer {l})",
                    rel.display()
                )),
                None => violations.push(format!("{}: crate::{used} is in no layer", rel.display())),
            }
        }
    }
    assert!(seen.len() > 10, "too few modules found: {seen:?}");
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn the_layer_check_catches_an_upward_edge() {
    assert_eq!(
        crate_paths("use crate::report::warn; // crate::set\n"),
        vec!["report::warn"]
    );
    assert!(layer_of("backend::github") < layer_of("report"));
    assert_eq!(
        module_of(Path::new("backend/github/mod.rs")).as_deref(),
        Some("backend::github")
    );
    assert_eq!(module_of(Path::new("lib.rs")), None);
}

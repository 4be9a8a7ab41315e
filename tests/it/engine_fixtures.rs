//! Data-driven engine cases: YAML fixtures under `tests/it/fixtures/engine/`
//! embed their input and expectations (the sites found, and what `set`
//! plans and writes), and one loop runs them all (STYLE §12).
//!
//! A case (one YAML document per case):
//! - `name`, `input`, and optionally `file` (the path the engine sees,
//!   default `values.yaml`) and `crlf: true` (input and output use CRLF);
//! - `sites`: every site in order, as `dialect name tag digest` (`-` for
//!   none; a trailing ` unfit` when the site is refused);
//! - `set`: an IMAGE_REF planned against the file, with one of `output`
//!   (the file after applying every planned change), `refused` (a
//!   substring of the refusal) or `unchanged: true`;
//! - `aliases`: the alias lines the updates report; `skipped`: the lines of
//!   embedded YAML listed as not editable; `platforms`: per site, what
//!   `Manifest::platforms` gives.

use std::path::Path;

use gitops_bump::manifest::{Change, Manifest};
use gitops_bump::plan::Desired;
use gitops_bump::plan::plan;
use gitops_bump::reference::Reference;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default = "values_yaml")]
    file: String,
    #[serde(default)]
    crlf: bool,
    input: String,
    #[serde(default)]
    sites: Option<Vec<String>>,
    #[serde(default)]
    set: Option<String>,
    #[serde(default)]
    output: Option<String>,
    #[serde(default)]
    refused: Option<String>,
    #[serde(default)]
    unchanged: bool,
    #[serde(default)]
    aliases: Option<Vec<usize>>,
    #[serde(default)]
    skipped: Option<Vec<usize>>,
    #[serde(default)]
    platforms: Option<Vec<Vec<String>>>,
}

fn values_yaml() -> String {
    "values.yaml".to_owned()
}

fn sites_of(m: &Manifest) -> Vec<String> {
    m.sites
        .iter()
        .map(|s| {
            let i = m.image_of(s);
            let dash = |v: Option<String>| v.unwrap_or_else(|| "-".to_owned());
            let name = if i.name.is_empty() {
                "-".to_owned()
            } else {
                i.name
            };
            let mut line = format!(
                "{} {} {} {}",
                s.dialect.as_str(),
                name,
                dash(i.tag),
                dash(i.digest)
            );
            if s.unfit.is_some() {
                line.push_str(" unfit");
            }
            line
        })
        .collect()
}

/// Runs one case; `Err` says what differed.
fn run(case: &Case) -> Result<(), String> {
    let crlf = |t: &str| {
        if case.crlf {
            t.replace('\n', "\r\n")
        } else {
            t.to_owned()
        }
    };
    let input = crlf(&case.input);
    let m = Manifest::parse(&case.file, input.clone()).map_err(|e| format!("parse: {e}"))?;
    if let Some(want) = &case.sites {
        let got = sites_of(&m);
        if &got != want {
            return Err(format!("sites: got {got:#?}"));
        }
    }
    if let Some(want) = &case.skipped {
        let got: Vec<usize> = m.skipped.iter().map(|s| s.line).collect();
        if &got != want {
            return Err(format!("skipped: got {got:?} ({:?})", m.skipped));
        }
    }
    if let Some(want) = &case.platforms {
        let got: Vec<Vec<String>> = m.sites.iter().map(|s| m.platforms(s)).collect();
        if &got != want {
            return Err(format!("platforms: got {got:?}"));
        }
    }
    let Some(image) = &case.set else {
        return Ok(());
    };
    let target = Desired {
        arg: image.clone(),
        reference: Reference::parse(image).map_err(|e| format!("set: {e}"))?,
        resolved_digest: None,
    };
    let candidates = plan(std::slice::from_ref(&m), &[target]);
    let changed: Vec<_> = candidates
        .iter()
        .filter(|c| !c.changes.is_empty())
        .collect();
    if let Some(want) = &case.refused {
        return match changed.iter().find_map(|c| c.unfit.as_deref()) {
            Some(u) if u.contains(want.as_str()) => Ok(()),
            other => Err(format!("refusal: got {other:?}")),
        };
    }
    if let Some(u) = changed.iter().find_map(|c| c.unfit.as_deref()) {
        return Err(format!("unexpected refusal: {u}"));
    }
    if case.unchanged {
        return match changed.is_empty() {
            true => Ok(()),
            false => Err(format!("planned {:?}", changed[0].updates)),
        };
    }
    if let Some(want) = &case.aliases {
        let got: Vec<usize> = changed
            .iter()
            .flat_map(|c| c.updates.iter().flat_map(|u| u.aliases.iter().copied()))
            .collect();
        if &got != want {
            return Err(format!("aliases: got {got:?}"));
        }
    }
    let changes: Vec<Change> = changed.iter().flat_map(|c| c.changes.clone()).collect();
    let (out, _) = m.apply(&changes).map_err(|e| format!("apply: {e}"))?;
    let want = crlf(case.output.as_deref().unwrap_or(&case.input));
    if out != want {
        return Err(format!("output:\n{out}\n--- wanted:\n{want}"));
    }
    // The written file is itself stable: planning again changes nothing.
    let again = Manifest::parse(&case.file, out).map_err(|e| format!("re-parse: {e}"))?;
    let target = Desired {
        arg: image.clone(),
        reference: Reference::parse(image).map_err(|e| e.to_string())?,
        resolved_digest: None,
    };
    if plan(std::slice::from_ref(&again), &[target])
        .iter()
        .any(|c| !c.changes.is_empty())
    {
        return Err("a second run would change the file again".to_owned());
    }
    Ok(())
}

#[test]
fn engine_fixtures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures/engine");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    let (mut ran, mut failures) = (0, Vec::new());
    for path in &paths {
        let text = std::fs::read_to_string(path).expect("read fixture");
        let cases: Vec<Case> = serde_saphyr::from_multiple(&text)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for case in &cases {
            ran += 1;
            if let Err(e) = run(case) {
                let file = path.file_name().unwrap_or_default().to_string_lossy();
                failures.push(format!("{file}: {}: {e}", case.name));
            }
        }
    }
    eprintln!("engine fixtures: {ran} cases");
    assert!(ran >= 50, "ran {ran}");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

//! The shared real-world corpus (`../shared/corpus`): the engine must find
//! every image value the ground truth lists, and bumping any of them must
//! change exactly that value's bytes.

use std::collections::BTreeMap;

use gitops_bump::manifest::{Change, Manifest, Shape};
use serde_json::Value;

use crate::common::shared;

/// Ground-truth records the engine reads differently from the corpus's
/// supplementary `other_image` rule (any `image:` string), with why. Each
/// is checked: a `Name` must be a site's name part, a `NotAReference` must
/// be no site's slot (it is never edited).
const READ_DIFFERENTLY: &[(&str, usize, Part, &str)] = &[
    (
        "kubernetes__examples/_archived__volumes__rbd__rbd.yaml",
        20,
        Part::NotAReference,
        "a Ceph RBD volume's image name",
    ),
    (
        "kubernetes__examples/_archived__volumes__rbd__rbd-with-secret.yaml",
        20,
        Part::NotAReference,
        "a Ceph RBD volume's image name",
    ),
    (
        "ThePixelExpert__Professional-Website/flux__clusters__production__image-automation__image-repositories.yaml",
        9,
        Part::NotAReference,
        "Flux ImageRepository: a repository, Flux rejects a tag",
    ),
    (
        "ThePixelExpert__Professional-Website/flux__clusters__production__image-automation__image-repositories.yaml",
        21,
        Part::NotAReference,
        "Flux ImageRepository: a repository, Flux rejects a tag",
    ),
    (
        "krancour__kargo-examples/02-git-driven__03-kustomize-driven__01-image-only__01-basic__kargo.yaml",
        84,
        Part::NotAReference,
        "Kargo promotion step: the repository to promote",
    ),
    (
        "krancour__kargo-examples/02-git-driven__03-kustomize-driven__02-commit-n-image__kargo.yaml",
        95,
        Part::NotAReference,
        "Kargo promotion step: the repository to promote",
    ),
    (
        "krancour__kargo-examples/03-features__v1.10.0__03-gpg__kargo.yaml",
        195,
        Part::NotAReference,
        "Kargo promotion step: the repository to promote",
    ),
    (
        "krancour__kargo-examples/03-features__v1.10.0__11-git-merge-squash__kargo.yaml",
        85,
        Part::NotAReference,
        "Kargo promotion step: the repository to promote",
    ),
    (
        "krancour__kargo-examples/03-features__v1.10.0__11-git-merge-squash__kargo.yaml",
        104,
        Part::NotAReference,
        "Kargo promotion step: the repository to promote",
    ),
    (
        "grafana__helm-charts/charts__loki-stack__values.yaml",
        74,
        Part::Name,
        "`image:` beside `imageTag:` is the repository; the tag is its own field",
    ),
    (
        "small-hack__argocd-apps/demo__elk__elk_argocd_appset.yaml",
        56,
        Part::Name,
        "`image:` beside `repository: ghcr.io` and `tag:` is the path of a split reference",
    ),
];

/// Which part of an image a record holds.
#[derive(Debug, PartialEq, Clone, Copy)]
enum Part {
    /// A value the tool edits (full reference, tag, digest).
    Slot,
    /// A name part (repository, registry, newName): must be part of a site's name.
    Name,
    /// Not something gitops-bump reads (kustomize `tagSuffix`).
    Ignored,
    /// An `image` field that is not a pullable reference: never a slot.
    NotAReference,
}

fn part(file: &str, r: &Value) -> Part {
    let line = r["line"].as_u64().unwrap_or(0) as usize;
    if let Some(&(_, _, p, _)) = READ_DIFFERENTLY
        .iter()
        .find(|&&(f, l, _, _)| file.strip_prefix("files/") == Some(f) && l == line)
    {
        return p;
    }
    let field = r["field"].as_str().unwrap_or_default();
    let name_field = |f: &str| matches!(f, "name" | "newName" | "repository" | "registry");
    match r["dialect"].as_str().unwrap_or_default() {
        "workload" | "other_image" => Part::Slot,
        "kustomize" if field == "tagSuffix" => Part::Ignored,
        "kustomize" | "helm_values" if name_field(field) => Part::Name,
        "kustomize" | "helm_values" => Part::Slot,
        "flux_marker" => {
            if r["marker_field"] == "name" {
                Part::Name
            } else {
                Part::Slot
            }
        }
        "argocd" => match field {
            "kustomize.images" => Part::Slot,
            "helm.parameters" => {
                let p = r["param"].as_str().unwrap_or_default();
                if p.ends_with(".repository") || p.ends_with(".registry") {
                    Part::Name
                } else {
                    Part::Slot
                }
            }
            _ => match r["values_field"].as_str() {
                Some(f) if name_field(f) => Part::Name,
                _ => Part::Slot,
            },
        },
        _ => Part::Ignored,
    }
}

struct Corpus {
    root: std::path::PathBuf,
    files: Vec<Value>,
}

fn corpus() -> Option<Corpus> {
    let index = shared("corpus/index.json")?;
    let files: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&index).expect("index")).expect("json");
    Some(Corpus {
        root: index.parent().expect("dir").to_path_buf(),
        files,
    })
}

fn load(c: &Corpus, entry: &Value) -> Manifest {
    let rel = entry["file"].as_str().expect("file");
    let text = std::fs::read_to_string(c.root.join(rel)).expect("corpus file is UTF-8");
    // The tool sees the original path, which carries kustomize/Argo CD file-name rules.
    let path = entry["source_path"].as_str().unwrap_or(rel);
    Manifest::parse(path, text).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn every_corpus_file_parses_and_every_reference_is_found() {
    let Some(c) = corpus() else { return };
    let (mut found, mut total) = (BTreeMap::<String, (usize, usize)>::new(), 0);
    let mut misses = Vec::new();
    for entry in &c.files {
        let m = load(&c, entry);
        let slots: Vec<usize> = m
            .sites
            .iter()
            .flat_map(|s| s.slots())
            .map(|n| m.stream.nodes[n].span.start)
            .collect();
        let names: Vec<usize> = m
            .sites
            .iter()
            .flat_map(|s| s.names.iter())
            .map(|&n| m.stream.nodes[n].span.start)
            .collect();
        let site_names: Vec<String> = m.sites.iter().map(|s| m.image_of(s).name).collect();
        for r in entry["images"].as_array().expect("images") {
            let file = entry["file"].as_str().unwrap_or_default();
            let p = part(file, r);
            if p == Part::Ignored {
                continue;
            }
            let offset = r["offset"].as_u64().expect("offset") as usize;
            let value = r["value"].as_str().unwrap_or_default();
            let hit = match p {
                Part::Slot => slots.contains(&offset),
                Part::Name => {
                    names.contains(&offset)
                        || site_names.iter().any(|n| !value.is_empty() && n == value)
                }
                Part::NotAReference => !slots.contains(&offset),
                Part::Ignored => true,
            };
            total += 1;
            let dialect = r["dialect"].as_str().unwrap_or_default().to_owned();
            let e = found.entry(dialect).or_default();
            e.1 += 1;
            let line = r["line"].as_u64().unwrap_or(0) as usize;
            if hit {
                e.0 += 1;
            } else {
                misses.push(format!(
                    "{file}:{line} {} {:?} {value:?}",
                    r["dialect"], r["yaml_path"]
                ));
            }
        }
    }
    for (d, (f, t)) in &found {
        eprintln!("recall {d}: {f}/{t}");
    }
    assert!(total > 1000, "ran {total} records");
    assert!(
        misses.is_empty(),
        "{} not found:\n{}",
        misses.len(),
        misses.join("\n")
    );
}

/// Values the engine refuses to edit on purpose, with why.
fn refusal_allowed(style: &str) -> Option<&'static str> {
    match style {
        "literal" | "folded" => Some("block scalars are text, never edited"),
        _ => None,
    }
}

#[test]
fn bumping_any_reference_changes_exactly_its_bytes() {
    let Some(c) = corpus() else { return };
    let (mut edited, mut problems) = (0, Vec::new());
    for entry in &c.files {
        let m = load(&c, entry);
        let text = &m.text;
        for r in entry["images"].as_array().expect("images") {
            if part(entry["file"].as_str().unwrap_or_default(), r) != Part::Slot {
                continue;
            }
            let offset = r["offset"].as_u64().expect("offset") as usize;
            let end = r["end_offset"].as_u64().expect("end") as usize;
            let Some(site) = m.sites.iter().find(|s| {
                s.slots()
                    .iter()
                    .any(|&n| m.stream.nodes[n].span.start == offset)
            }) else {
                continue;
            };
            let node = site
                .slots()
                .into_iter()
                .find(|&n| m.stream.nodes[n].span.start == offset)
                .expect("slot");
            let old = m.stream.scalar(node).unwrap_or_default();
            let Some(new) = bumped(site, old) else {
                continue;
            };
            let file = entry["file"].as_str().unwrap_or_default();
            match m.apply(&[Change::replace(node, new.clone())]) {
                Ok((out, _)) => {
                    edited += 1;
                    let ok = out.as_bytes()[..offset] == text.as_bytes()[..offset]
                        && out.as_bytes()[out.len() - (text.len() - end)..]
                            == text.as_bytes()[end..];
                    if !ok {
                        problems.push(format!(
                            "{file}:{}: bytes outside the value changed",
                            r["line"]
                        ));
                    }
                    let again = Manifest::parse(&m.path, out).expect("re-parses");
                    if again.stream.scalar(node) != Some(new.as_str()) {
                        problems.push(format!(
                            "{file}:{}: re-parse gives {:?}, wanted {new:?}",
                            r["line"],
                            again.stream.scalar(node)
                        ));
                    }
                }
                Err(e) if refusal_allowed(r["style"].as_str().unwrap_or_default()).is_some() => {
                    drop(e)
                }
                Err(e) => problems.push(format!("{file}:{}: {e}", r["line"])),
            }
        }
    }
    eprintln!("edited {edited} corpus values");
    assert!(edited > 950, "edited {edited}");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A plausible new value of the same shape as `old`.
fn bumped(site: &gitops_bump::manifest::Site, old: &str) -> Option<String> {
    let digest = format!("sha256:{}", "b".repeat(64));
    match &site.shape {
        Shape::Full { prefix_len, .. } => {
            let (prefix, rest) = old.split_at((*prefix_len).min(old.len()));
            let r = gitops_bump::reference::Reference::parse(rest).ok()?;
            let version = if r.digest().is_some() {
                format!(":9.9.9@{digest}")
            } else {
                ":9.9.9".to_owned()
            };
            Some(format!("{prefix}{}{version}", r.name_as_written()))
        }
        Shape::Split {
            digest_hex_only, ..
        } => Some(if old.starts_with("sha256:") {
            digest
        } else if *digest_hex_only && old.len() == 64 {
            "b".repeat(64)
        } else if old.contains('@') {
            format!("10.0@{digest}")
        } else {
            // A numeric-looking tag exercises the quoting rule everywhere.
            "10.0".to_owned()
        }),
    }
}

/// Every corpus site that lacks a tag field and can take one gets it
/// inserted: exactly the inserted bytes are added, and the site then reads
/// the new tag.
#[test]
fn inserting_a_missing_tag_adds_exactly_its_bytes() {
    let Some(c) = corpus() else { return };
    let (mut inserted, mut refused, mut problems) = (0, 0, Vec::new());
    for entry in &c.files {
        let m = load(&c, entry);
        let file = entry["file"].as_str().unwrap_or_default();
        for (i, site) in m.sites.iter().enumerate() {
            let Shape::Split {
                tag: None,
                fill: Some(fill),
                ..
            } = &site.shape
            else {
                continue;
            };
            let key = fill.tag_key.to_owned();
            let change = Change::insert(fill.map, fill.after, vec![(key, "9.9.9".into())]);
            match m.apply(&[change]) {
                Ok((out, edits)) => {
                    inserted += 1;
                    let e = &edits[0];
                    let ok = edits.len() == 1
                        && e.span.is_empty()
                        && out[..e.span.start] == m.text[..e.span.start]
                        && out[e.span.start + e.new.0.len()..] == m.text[e.span.start..];
                    if !ok {
                        problems.push(format!(
                            "{file}: site {i}: bytes outside the insertion changed"
                        ));
                    }
                    let again = Manifest::parse(&m.path, out).expect("re-parses");
                    let tags: Vec<_> = again.sites.iter().map(|s| again.image_of(s).tag).collect();
                    if !tags.contains(&Some("9.9.9".to_owned())) {
                        problems.push(format!("{file}: site {i}: the new tag is not read back"));
                    }
                }
                Err(gitops_bump::manifest::EditError::Insert { .. }) => refused += 1,
                Err(e) => problems.push(format!("{file}: site {i}: {e}")),
            }
        }
    }
    eprintln!("inserted {inserted} missing tags, {refused} refused");
    assert!(inserted > 10, "inserted {inserted}");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

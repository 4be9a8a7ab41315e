//! `explain`: which tag a policy selects, and why. Tags come from a file
//! (`--tags-from`, offline) or from the registry (`resolve::select`); the
//! report shows every candidate, the step that dropped it, the ordering,
//! the winner and the warnings. With `--from`, the image and policy come
//! from an object in a file (a Flux ImagePolicy, an Argo CD Application or
//! `ImageUpdater`, a `.gitops-bump.yaml` entry), read here and handed to
//! the readers `sync` uses, so both read an object the same way.

use std::io::Read;
use std::path::Path;

use anyhow::Result;

use super::Context;
use crate::discover::config::{self, Mode};
use crate::discover::tracked::{Rule, Source};
use crate::discover::{argocd, flux};
use crate::finding::Location;
use crate::manifest::Manifest;
use crate::policy::{self, Selection};
use crate::registry::{Client, RegistryStats};
use crate::report::{self, Outcome};
use crate::resolve::select::{Query, select_from_registry};
use crate::settings::{ExplainSettings, TagSource, UsageError};

/// The outcome of `explain`.
#[derive(Debug)]
pub struct Explained {
    /// The image as given.
    pub image: String,
    /// The explained selection.
    pub selection: Selection,
    /// The winner's index digest, when the registry was asked.
    pub digest: Option<String>,
    /// Registry requests, when the registry was asked.
    pub stats: Option<RegistryStats>,
}

/// Runs `explain` and reports it; exit 1 when nothing is selected.
pub fn run(settings: &ExplainSettings, cx: &Context) -> Result<Outcome> {
    let e = explain(settings, cx)?;
    match settings.output {
        crate::cli::OutputFormat::Text => report::text::explain(
            &mut std::io::stdout().lock(),
            &mut std::io::stderr().lock(),
            &e.image,
            &e.selection,
            e.digest.as_deref(),
            e.stats.as_ref(),
        ),
        crate::cli::OutputFormat::Json => report::print_json(&report::json_v1::explain(
            &e.selection,
            e.digest.clone(),
            e.stats.clone(),
        )),
    }
    cx.write_action_files(
        &report::outputs::explain(&e.selection, e.digest.as_deref()),
        None,
    );
    Ok(if e.selection.winner.is_some() {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

/// Selects offline on `--tags-from`, otherwise against the registry.
pub fn explain(settings: &ExplainSettings, cx: &Context) -> Result<Explained> {
    match &settings.source {
        TagSource::Object { path, alias, .. } => {
            let (label, settings) = from_object(settings, path, alias.as_deref())?;
            let mut e = explain(&settings, cx)?;
            e.image = format!("{}  from {label}", e.image);
            Ok(e)
        }
        TagSource::File(path) => offline(settings, path),
        TagSource::Registry(repo) => {
            let client = Client::new(settings.registry.clone())?;
            let query = Query {
                policy: &settings.policy,
                filter: &settings.filter,
                platforms: &settings.platforms,
                max_candidates: settings.max_candidates,
                digest: true,
            };
            // One deadline over the whole conversation: pages, retries,
            // waits for rate limits, build times and platform tries.
            let out = cx
                .runtime
                .block_on(async {
                    tokio::time::timeout(
                        settings.deadline,
                        select_from_registry(&client, repo, query),
                    )
                    .await
                })
                .map_err(|_| {
                    anyhow::anyhow!(
                        "explain {}: the registry conversation did not finish within --deadline {} ({} request(s) sent); raise --deadline or check the registry",
                        settings.image,
                        crate::settings::units::show_duration(settings.deadline),
                        client.stats().requests
                    )
                })??;
            Ok(Explained {
                image: settings.image.clone(),
                selection: out.selection,
                digest: out.digest,
                stats: Some(client.stats()),
            })
        }
    }
}

/// Reads the object `--from` names and returns how to name it and the
/// settings for what it selects. A Flux ImagePolicy's ImageRepository may
/// be in the same file or in another YAML file of its directory.
fn from_object(
    settings: &ExplainSettings,
    path: &Path,
    alias: Option<&str>,
) -> Result<(String, ExplainSettings)> {
    let shown = path.display().to_string();
    let usage = |why: String| UsageError(format!("--from {shown}: {why}"));
    let text = std::fs::read_to_string(path).map_err(|e| usage(e.to_string()))?;
    let manifest = Manifest::parse(&shown, text.clone()).map_err(|e| usage(e.to_string()))?;
    let is_config = manifest.stream.docs.iter().flatten().all(|&root| {
        manifest.stream.get(root, "apiVersion").is_none()
            && manifest.stream.get(root, "images").is_some()
    }) && manifest.stream.docs.iter().flatten().next().is_some();
    let (image, rule) = if is_config {
        config_entry(&shown, &text, alias).map_err(usage)?
    } else {
        let flux = flux::Objects::read(std::slice::from_ref(&manifest));
        let argo = argocd::Objects::read(std::slice::from_ref(&manifest));
        if !flux.policies.is_empty() {
            let mut all = vec![manifest];
            all.extend(siblings(path));
            let mut objects = flux::Objects::read(&all);
            objects.policies.retain(|p| p.at.file == shown);
            objects.explain(alias).map_err(usage)?
        } else if !argo.applications.is_empty() || !argo.updaters.is_empty() {
            argo.explain(alias).map_err(usage)?
        } else {
            return Err(usage(
                "no Flux ImagePolicy, Argo CD Image Updater Application or ImageUpdater, and not a .gitops-bump.yaml".into(),
            )
            .into());
        }
    };
    let label = rule.label.clone();
    let settings = settings.for_object(&shown, &image, rule.policy, rule.filter, rule.platforms)?;
    Ok((label, settings))
}

/// The entry of the configuration `text` named `alias` (its image name;
/// any when `None` and there is one), as an image and a rule.
fn config_entry(
    path: &str,
    text: &str,
    alias: Option<&str>,
) -> std::result::Result<(String, Rule), String> {
    let config = config::parse(path, text).map_err(|e| e.to_string())?;
    let names = || {
        config
            .entries
            .iter()
            .map(|e| e.name.clone())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let found: Vec<&config::Entry> = config
        .entries
        .iter()
        .filter(|e| alias.is_none_or(|a| e.name == a))
        .collect();
    let entry = match (found.as_slice(), alias) {
        ([one], _) => *one,
        ([], Some(a)) => return Err(format!("no entry named {a:?} (it has: {})", names())),
        ([], None) => return Err("it has no images: entries".into()),
        (_, _) => {
            return Err(format!(
                "it has several entries ({}); name one with --alias NAME",
                names()
            ));
        }
    };
    let label = format!("{path}:{} {}", entry.line, entry.name);
    Ok((
        entry.name.clone(),
        Rule {
            source: Source::Config,
            label: label.clone(),
            origin: Some(Location::line(path, entry.line)),
            policy: entry.policy.clone(),
            filter: entry.filter.clone(),
            platforms: entry.platforms.clone(),
            mode: Mode::Report,
            grace: entry.grace,
            writer: entry.writer.clone(),
            applicable: true,
            key: label,
            digest: false,
            follow_digest: false,
            unchecked: None,
        },
    ))
}

/// The other YAML files of `path`'s directory that parse (where an
/// ImagePolicy's ImageRepository usually is).
fn siblings(path: &Path) -> Vec<Manifest> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let p = entry.path();
        let yaml = p.extension().is_some_and(|e| e == "yaml" || e == "yml");
        if !yaml || p == path || !p.is_file() {
            continue;
        }
        if let Ok(text) = std::fs::read_to_string(&p)
            && let Ok(m) = Manifest::parse(&p.display().to_string(), text)
        {
            out.push(m);
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// One tag per line; blank lines and `#` comments are skipped. Returns the
/// 1-based line and text of the first invalid tag.
pub fn parse_tag_list(text: &str) -> Result<Vec<String>, (usize, String)> {
    let mut tags = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let tag = line.trim();
        if tag.is_empty() || tag.starts_with('#') {
            continue;
        }
        if !crate::reference::is_valid_tag(tag) {
            return Err((i + 1, tag.to_owned()));
        }
        tags.push(tag.to_owned());
    }
    Ok(tags)
}

fn offline(settings: &ExplainSettings, source: &std::path::Path) -> Result<Explained> {
    let text = if source.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| UsageError(format!("--tags-from -: {e}")))?;
        s
    } else {
        std::fs::read_to_string(source)
            .map_err(|e| UsageError(format!("--tags-from {}: {e}", source.display())))?
    };
    let tags = parse_tag_list(&text).map_err(|(line, tag)| {
        UsageError(format!(
            "--tags-from {}: line {line}: {tag:?} is not a valid tag",
            source.display()
        ))
    })?;
    // Flux's scan order makes the result independent of how tags were listed.
    let selection = policy::select(
        &settings.policy,
        &settings.filter,
        &policy::flux_scan_order(&tags),
        None,
    );
    Ok(Explained {
        image: settings.image.clone(),
        selection,
        digest: None,
        stats: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_lists_skip_blanks_and_comments_and_name_bad_lines() {
        assert_eq!(
            parse_tag_list("v1\n\n# old\n v2 \r\n"),
            Ok(vec!["v1".to_owned(), "v2".to_owned()])
        );
        assert_eq!(
            parse_tag_list("v1\nbad tag\n"),
            Err((2, "bad tag".to_owned()))
        );
    }
}

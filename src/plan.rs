//! Plan: for every site that holds a target image, the scalar changes that
//! would move it to the target, and the updates to report. Pure.

use serde::Serialize;

use crate::manifest::{Change, Dialect, Manifest, Shape, Site, SiteImage};
use crate::settings::Target;

/// One changed value, as reported (DESIGN.md §2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Update {
    /// File path relative to the root.
    pub file: String,
    /// 1-based line of the value's first byte.
    pub line: usize,
    /// 1-based byte column of the value's first byte.
    pub column: usize,
    /// Where the value was found.
    pub dialect: Dialect,
    /// The target image as the user wrote it.
    pub image: String,
    /// Old tag and/or digest (`v1`, `v1@sha256:…`, `sha256:…`).
    pub from: String,
    /// New tag and/or digest.
    pub to: String,
    /// Lines of aliases that reach this value too (the value changes there as well).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<usize>,
}

/// A site that holds a target, and what would change.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// Index into the manifests.
    pub manifest: usize,
    /// Index into that manifest's sites.
    pub site: usize,
    /// Index into the targets.
    pub target: usize,
    /// Scalar changes (empty when already up to date).
    pub changes: Vec<Change>,
    /// What the changes mean, one per changed scalar.
    pub updates: Vec<Update>,
    /// The site pins a digest the target does not give.
    pub stale_digest: Option<String>,
    /// The site cannot hold the target as given (e.g. no digest field); why.
    pub unfit: Option<String>,
}

/// Plans every site of every manifest against every target.
pub fn plan(manifests: &[Manifest], targets: &[Target]) -> Vec<Candidate> {
    let mut out = Vec::new();
    for (mi, m) in manifests.iter().enumerate() {
        for (si, site) in m.sites.iter().enumerate() {
            let current = m.image_of(site);
            let Some(repo) = &current.repository else {
                continue;
            };
            let Some(ti) = targets
                .iter()
                .position(|t| &t.reference.repository() == repo)
            else {
                continue;
            };
            out.push(plan_site(m, mi, si, site, &current, ti, &targets[ti]));
        }
    }
    out
}

fn plan_site(
    m: &Manifest,
    mi: usize,
    si: usize,
    site: &Site,
    current: &SiteImage,
    ti: usize,
    target: &Target,
) -> Candidate {
    let new_tag = target.reference.tag();
    // A digest the user gave is written everywhere; one the registry gave is
    // written only where the site already pins a digest, so unpinned sites
    // stay unpinned.
    let new_digest = target.reference.digest().or(current
        .digest
        .as_ref()
        .and(target.resolved_digest.as_deref()));
    let mut c = Candidate {
        manifest: mi,
        site: si,
        target: ti,
        changes: Vec::new(),
        updates: Vec::new(),
        stale_digest: None,
        unfit: None,
    };
    if new_digest.is_none() {
        c.stale_digest = current.digest.clone();
    }
    let scalar = |n: usize| m.stream.scalar(n).unwrap_or_default().to_owned();
    let mut changes: Vec<(usize, String, String, String)> = Vec::new(); // node, new value, from, to
    match &site.shape {
        Shape::Full { slot, prefix_len } => {
            let value = scalar(*slot);
            let prefix = value.get(..*prefix_len).unwrap_or_default();
            let version = |tag: Option<&str>, digest: Option<&str>| {
                format!(
                    "{}{}",
                    tag.map(|t| format!(":{t}")).unwrap_or_default(),
                    digest.map(|d| format!("@{d}")).unwrap_or_default()
                )
            };
            let new = format!("{prefix}{}{}", current.name, version(new_tag, new_digest));
            let from = version(current.tag.as_deref(), current.digest.as_deref());
            let to = version(new_tag, new_digest);
            changes.push((
                *slot,
                new,
                from.trim_start_matches(':').to_owned(),
                to.trim_start_matches(':').to_owned(),
            ));
        }
        Shape::Split {
            tag,
            tag_holds_digest,
            digest,
            digest_hex_only,
            ..
        } => {
            match (tag, new_tag) {
                (Some(node), Some(t)) => {
                    let value = match (tag_holds_digest, new_digest, digest) {
                        (true, Some(d), None) => format!("{t}@{d}"),
                        _ => t.to_owned(),
                    };
                    changes.push((*node, value.clone(), scalar(*node), value));
                }
                (None, Some(_)) => {
                    c.unfit = Some(format!(
                        "the {} entry has no tag field to set; add one",
                        site.dialect.as_str()
                    ))
                }
                _ => {}
            }
            if let Some(d) = new_digest {
                match (digest, tag) {
                    (Some(node), _) => {
                        let value = if *digest_hex_only {
                            d.split_once(':').map_or(d, |(_, hex)| hex).to_owned()
                        } else {
                            d.to_owned()
                        };
                        changes.push((*node, value.clone(), scalar(*node), value));
                    }
                    (None, Some(node)) if *tag_holds_digest && new_tag.is_none() => {
                        let keep = current.tag.clone().unwrap_or_default();
                        let value = format!("{keep}@{d}");
                        changes.push((*node, value.clone(), scalar(*node), value));
                    }
                    (None, Some(node))
                        if site.dialect == Dialect::HelmValues && new_tag.is_none() =>
                    {
                        // Renovate-style `tag: v1@sha256:…` keeps a chart working without a digest field.
                        let value = format!("{}@{d}", current.tag.clone().unwrap_or_default());
                        changes.push((*node, value.clone(), scalar(*node), value));
                    }
                    (None, Some(_)) if site.dialect == Dialect::HelmValues || *tag_holds_digest => {
                        if let Some(last) = changes.last_mut() {
                            last.1 = format!("{}@{d}", new_tag.unwrap_or_default());
                            last.3 = last.1.clone();
                        }
                    }
                    _ => {
                        c.unfit = Some(format!(
                            "the {} entry has no digest field to pin {d}; add one",
                            site.dialect.as_str()
                        ))
                    }
                }
            }
        }
    }
    let aliases: Vec<usize> = site
        .via_alias
        .iter()
        .map(|&n| m.node_position(n).0)
        .collect();
    for (node, value, from, to) in changes {
        if m.stream.scalar(node) == Some(value.as_str()) {
            continue;
        }
        let (line, column) = m.node_position(node);
        c.updates.push(Update {
            file: m.path.clone(),
            line,
            column,
            dialect: site.dialect,
            image: target.reference.name_as_written().to_owned(),
            from,
            to,
            aliases: aliases.clone(),
        });
        c.changes.push(Change { node, value });
    }
    c
}

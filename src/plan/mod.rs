//! Plan: for every site that holds a target image, the scalar changes that
//! would move it to the target, and the updates to report. Pure.

use serde::Serialize;

pub mod merge;

use crate::manifest::{Change, Dialect, Manifest, Shape, Site, SiteImage};
use crate::reference::Reference;

/// The state a run wants an image in: the reference to write where a
/// site holds the same repository. `set` builds one per IMAGE_REF.
#[derive(Clone, Debug)]
pub struct Desired {
    /// The argument as typed.
    pub arg: String,
    /// The parsed reference.
    pub reference: Reference,
    /// The digest the registry gave for the tag (the index digest for a
    /// multi-arch image), once `resolve` verified it. `plan` writes it only
    /// where a site already pins a digest.
    pub resolved_digest: Option<String>,
}

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

/// Which desired state a site should be in: `set` binds every site of a
/// target's repository ([`by_repository`]); `sync` binds each tracked site
/// to its own policy's selection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Intent {
    /// Index into the manifests.
    pub manifest: usize,
    /// Index into that manifest's sites.
    pub site: usize,
    /// Index into the desired states.
    pub desired: usize,
}

/// A site bound to a desired state, and what would change.
#[derive(Clone, Debug)]
pub struct SitePlan {
    /// Index into the manifests.
    pub manifest: usize,
    /// Index into that manifest's sites.
    pub site: usize,
    /// Index into the desired states.
    pub desired: usize,
    /// Scalar changes (empty when already up to date).
    pub changes: Vec<Change>,
    /// What the changes mean, one per changed scalar.
    pub updates: Vec<Update>,
    /// The site pins a digest the target does not give.
    pub stale_digest: Option<String>,
    /// The site cannot hold the target as given (e.g. no digest field); why.
    pub unfit: Option<String>,
}

/// Plans every site of every manifest against the desired state of its
/// repository (`set`).
pub fn plan(manifests: &[Manifest], desired: &[Desired]) -> Vec<SitePlan> {
    plan_intents(manifests, desired, &by_repository(manifests, desired))
}

/// Binds every site whose repository is one of `desired`'s to it.
pub fn by_repository(manifests: &[Manifest], desired: &[Desired]) -> Vec<Intent> {
    let mut out = Vec::new();
    for (mi, m) in manifests.iter().enumerate() {
        for (si, site) in m.sites.iter().enumerate() {
            let Some(repo) = m.image_of(site).repository else {
                continue;
            };
            if let Some(di) = desired
                .iter()
                .position(|d| d.reference.repository() == repo)
            {
                out.push(Intent {
                    manifest: mi,
                    site: si,
                    desired: di,
                });
            }
        }
    }
    out
}

/// Plans each intent: the scalar changes that move its site to its desired
/// state, in intent order.
pub fn plan_intents(
    manifests: &[Manifest],
    desired: &[Desired],
    intents: &[Intent],
) -> Vec<SitePlan> {
    intents
        .iter()
        .map(|i| {
            let m = &manifests[i.manifest];
            let site = &m.sites[i.site];
            let current = m.image_of(site);
            plan_site(
                m,
                i.manifest,
                i.site,
                site,
                &current,
                i.desired,
                &desired[i.desired],
            )
        })
        .collect()
}

fn plan_site(
    m: &Manifest,
    mi: usize,
    si: usize,
    site: &Site,
    current: &SiteImage,
    ti: usize,
    target: &Desired,
) -> SitePlan {
    let new_tag = target.reference.tag();
    // A digest the user gave is written everywhere; one the registry gave is
    // written only where the site already pins a digest, so unpinned sites
    // stay unpinned.
    let new_digest = target.reference.digest().or(current
        .digest
        .as_ref()
        .and(target.resolved_digest.as_deref()));
    let mut c = SitePlan {
        manifest: mi,
        site: si,
        desired: ti,
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
            // A new digest goes to its own field, or else onto the tag
            // (`v1@sha256:…`, Renovate's form) where the tag already holds
            // one or in Helm values, whose templates accept it there.
            let digest_in_tag = new_digest.is_some()
                && digest.is_none()
                && (*tag_holds_digest || site.dialect == Dialect::HelmValues);
            match tag {
                Some(node) => {
                    let keep = || current.tag.clone().unwrap_or_default();
                    let tag_text = new_tag
                        .map(str::to_owned)
                        .or_else(|| digest_in_tag.then(keep));
                    if let Some(t) = tag_text {
                        let value = match new_digest.filter(|_| digest_in_tag) {
                            Some(d) => format!("{t}@{d}"),
                            None => t,
                        };
                        changes.push((*node, value.clone(), scalar(*node), value));
                    }
                }
                None if new_tag.is_some() => {
                    c.unfit = Some(format!(
                        "the {} entry has no tag field to set; add one",
                        site.dialect.as_str()
                    ));
                }
                None => {}
            }
            if let Some(d) = new_digest {
                match digest {
                    Some(node) => {
                        let value = match d.split_once(':') {
                            Some((_, hex)) if *digest_hex_only => hex.to_owned(),
                            _ => d.to_owned(),
                        };
                        changes.push((*node, value.clone(), scalar(*node), value));
                    }
                    None if digest_in_tag && tag.is_some() => {}
                    None => {
                        c.unfit = Some(format!(
                            "the {} entry has no digest field to pin {d}; add one",
                            site.dialect.as_str()
                        ));
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

#[cfg(test)]
mod tests {
    use super::*;

    const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    fn target(s: &str) -> Desired {
        Desired {
            arg: s.to_owned(),
            reference: Reference::parse(s).expect("valid"),
            resolved_digest: None,
        }
    }

    #[test]
    fn a_registry_digest_goes_only_where_a_digest_is_pinned() {
        let mut t = target("app:v2");
        t.resolved_digest = Some(D2.to_owned());
        let text = format!("containers:\n- image: app:v1@{D1}\n- image: app:v1\n");
        let m = Manifest::parse("p.yaml", text).expect("parses");
        let c = plan(&[m], &[t]);
        assert_eq!(c[0].changes[0].value, format!("app:v2@{D2}"));
        assert_eq!(c[0].stale_digest, None);
        assert_eq!(c[1].changes[0].value, "app:v2", "unpinned stays unpinned");
    }

    fn plan_one(path: &str, text: &str, t: &str) -> Vec<SitePlan> {
        let m = Manifest::parse(path, text.to_owned()).expect("parses");
        plan(&[m], &[target(t)])
    }

    fn values(c: &SitePlan) -> Vec<(&str, &str)> {
        c.updates
            .iter()
            .map(|u| (u.from.as_str(), u.to.as_str()))
            .collect()
    }

    #[test]
    fn full_reference_takes_exactly_the_target_version() {
        let c = plan_one(
            "p.yaml",
            "containers:\n- image: ghcr.io/acme/app:v1\n",
            "ghcr.io/acme/app:v2",
        );
        assert_eq!(values(&c[0]), vec![("v1", "v2")]);
        assert_eq!(c[0].changes[0].value, "ghcr.io/acme/app:v2");
        let c = plan_one(
            "p.yaml",
            "containers:\n- image: ghcr.io/acme/app:v1\n",
            &format!("ghcr.io/acme/app@{D2}"),
        );
        assert_eq!(c[0].changes[0].value, format!("ghcr.io/acme/app@{D2}"));
    }

    #[test]
    fn other_images_and_up_to_date_sites_plan_nothing() {
        assert!(
            plan_one(
                "p.yaml",
                "containers:\n- image: ghcr.io/acme/other:v1\n",
                "ghcr.io/acme/app:v2"
            )
            .is_empty()
        );
        let c = plan_one(
            "p.yaml",
            "containers:\n- image: ghcr.io/acme/app:v2\n",
            "ghcr.io/acme/app:v2",
        );
        assert!(c[0].changes.is_empty());
    }

    #[test]
    fn a_pinned_digest_without_a_new_one_is_stale() {
        let c = plan_one(
            "p.yaml",
            &format!("containers:\n- image: app:v1@{D1}\n"),
            "app:v2",
        );
        assert_eq!(c[0].stale_digest.as_deref(), Some(D1));
        let c = plan_one(
            "p.yaml",
            &format!("containers:\n- image: app:v1@{D1}\n"),
            &format!("app:v2@{D2}"),
        );
        assert_eq!(c[0].stale_digest, None);
        assert_eq!(
            values(&c[0]),
            vec![(&*format!("v1@{D1}"), &*format!("v2@{D2}"))]
        );
    }

    #[test]
    fn helm_maps_fill_tag_and_digest_slots() {
        let text = "image:\n  repository: app\n  tag: v1\n  digest: \"\"\n";
        let c = plan_one("values.yaml", text, &format!("app:v2@{D2}"));
        assert_eq!(
            c[0].changes
                .iter()
                .map(|c| c.value.as_str())
                .collect::<Vec<_>>(),
            vec!["v2", D2]
        );
        // Renovate-style pins keep their shape.
        let c = plan_one(
            "values.yaml",
            &format!("image:\n  repository: app\n  tag: v1@{D1}\n"),
            &format!("app:v2@{D2}"),
        );
        assert_eq!(c[0].changes[0].value, format!("v2@{D2}"));
        // `sha:` slots hold bare hex.
        let c = plan_one(
            "values.yaml",
            "image:\n  repository: app\n  tag: v1\n  sha: \"\"\n",
            &format!("app:v1@{D2}"),
        );
        assert_eq!(c[0].changes[0].value, D2.trim_start_matches("sha256:"));
    }

    #[test]
    fn kustomize_entries_without_new_tag_are_unfit() {
        let c = plan_one(
            "kustomization.yaml",
            "images:\n- name: app\n  newName: ghcr.io/acme/app\n",
            "ghcr.io/acme/app:v2",
        );
        assert!(
            c[0].unfit
                .as_deref()
                .is_some_and(|u| u.contains("no tag field")),
            "{:?}",
            c[0].unfit
        );
        let c = plan_one(
            "kustomization.yaml",
            "images:\n- name: app\n  newTag: v1\n",
            &format!("app:v1@{D2}"),
        );
        assert!(
            c[0].unfit
                .as_deref()
                .is_some_and(|u| u.contains("no digest field")),
            "{:?}",
            c[0].unfit
        );
    }

    /// Backstop for the documented limitation: block scalars are text, never sites.
    #[test]
    fn images_inside_block_scalars_are_not_sites() {
        let text = "spec:\n  source:\n    helm:\n      values: |\n        image:\n          repository: app\n          tag: v1\n";
        assert!(plan_one("app.yaml", text, "app:v2").is_empty());
    }
}

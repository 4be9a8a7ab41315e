//! Plan: for every site that holds a target image, the scalar changes that
//! would move it to the target, and the updates to report. Pure.
//!
//! A site that already holds the target state plans no change, so no guard
//! ever judges it: under `--no-verify` a `tag@digest` pin that already has
//! the target tag keeps its digest (the IMAGE_REF named none), and with the
//! registry a pin moves by its kind ([`Pins`]), so re-setting the same tag
//! leaves it alone.

use std::collections::HashMap;

use serde::Serialize;

pub mod merge;
pub mod select;

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

/// A pinned digest as a site holds it, under its current tag: the key of
/// [`Pins`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pin {
    /// Index into the desired states.
    pub desired: usize,
    /// The site's current tag, when it has one.
    pub tag: Option<String>,
    /// The digest pinned now (`sha256:…`).
    pub pinned: String,
}

/// What each pinned digest becomes under the target's tag, as the registry
/// answered (`resolve::verify::repin`): the new digest of the same kind
/// (the new index for an index pin, the same platform's image for a child
/// pin), or why it cannot be told (the site is then refused if it would
/// change). A pin not in the table gets the target's resolved digest.
pub type Pins = HashMap<Pin, Result<String, String>>;

/// Plans every site of every manifest against the desired state of its
/// repository (`set`).
pub fn plan(manifests: &[Manifest], desired: &[Desired]) -> Vec<SitePlan> {
    plan_intents(manifests, desired, &by_repository(manifests, desired))
}

/// The pins the intents' sites hold where the registry must say what they
/// become: a digest pinned, no digest given by the user, and a verified
/// target digest to move to.
pub fn pins_to_resolve(
    manifests: &[Manifest],
    desired: &[Desired],
    intents: &[Intent],
) -> Vec<Pin> {
    let mut out: Vec<Pin> = Vec::new();
    for i in intents {
        let target = &desired[i.desired];
        if target.reference.digest().is_some() || target.resolved_digest.is_none() {
            continue;
        }
        let m = &manifests[i.manifest];
        let current = m.image_of(&m.sites[i.site]);
        if let Some(pinned) = current.digest {
            let pin = Pin {
                desired: i.desired,
                tag: current.tag,
                pinned,
            };
            if !out.contains(&pin) {
                out.push(pin);
            }
        }
    }
    out
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
    plan_pinned(manifests, desired, intents, &Pins::new())
}

/// [`plan_intents`], with what the registry said each pinned digest
/// becomes.
pub fn plan_pinned(
    manifests: &[Manifest],
    desired: &[Desired],
    intents: &[Intent],
    pins: &Pins,
) -> Vec<SitePlan> {
    intents
        .iter()
        .map(|i| {
            let m = &manifests[i.manifest];
            let site = &m.sites[i.site];
            let current = m.image_of(site);
            plan_site(
                m,
                (i.manifest, i.site),
                site,
                &current,
                i.desired,
                &desired[i.desired],
                pins,
            )
        })
        .collect()
}

/// The digest a site pinned as `current` gets, and why its new value is
/// unknown when it is. A digest the user gave is written everywhere; one
/// the registry gave only where the site already pins a digest (unpinned
/// sites stay unpinned), and of the pin's kind when [`Pins`] knows it. A
/// pin that already has the target tag keeps its digest when nothing
/// better is known: the site holds the target state.
fn new_digest(
    current: &SiteImage,
    ti: usize,
    target: &Desired,
    pins: &Pins,
) -> (Option<String>, Option<String>) {
    if let Some(d) = target.reference.digest() {
        return (Some(d.to_owned()), None);
    }
    let Some(pinned) = &current.digest else {
        return (None, None);
    };
    let same_tag =
        target.reference.tag().is_some() && current.tag.as_deref() == target.reference.tag();
    let key = Pin {
        desired: ti,
        tag: current.tag.clone(),
        pinned: pinned.clone(),
    };
    match (pins.get(&key), &target.resolved_digest) {
        (Some(Ok(d)), _) => (Some(d.clone()), None),
        (Some(Err(why)), _) if same_tag => (Some(pinned.clone()), Some(why.clone())),
        (Some(Err(why)), resolved) => (resolved.clone(), Some(why.clone())),
        (None, Some(d)) => (Some(d.clone()), None),
        (None, None) if same_tag => (Some(pinned.clone()), None),
        (None, None) => (None, None),
    }
}

fn plan_site(
    m: &Manifest,
    (mi, si): (usize, usize),
    site: &Site,
    current: &SiteImage,
    ti: usize,
    target: &Desired,
    pins: &Pins,
) -> SitePlan {
    let new_tag = target.reference.tag();
    let (new_digest, repin_failed) = new_digest(current, ti, target, pins);
    let new_digest = new_digest.as_deref();
    let mut c = SitePlan {
        manifest: mi,
        site: si,
        desired: ti,
        changes: Vec::new(),
        updates: Vec::new(),
        stale_digest: None,
        // An ambiguous site is planned like any other, so the guard refuses
        // it (with its line) exactly when it would change.
        unfit: site.unfit.clone(),
    };
    if new_digest.is_none() {
        c.stale_digest = current.digest.clone();
    }
    if let Some(why) = repin_failed {
        c.unfit.get_or_insert(why);
    }
    let scalar = |n: usize| {
        if m.stream.is_null(n) {
            String::new()
        } else {
            m.stream.scalar(n).unwrap_or_default().to_owned()
        }
    };
    let mut changes: Vec<(Change, String, String)> = Vec::new(); // change, from, to
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
                Change::replace(*slot, new),
                from.trim_start_matches(':').to_owned(),
                to.trim_start_matches(':').to_owned(),
            ));
        }
        Shape::Split {
            tag,
            tag_holds_digest,
            digest,
            digest_hex_only,
            fill,
            ..
        } => {
            // A new digest goes to its own field, or else onto the tag
            // (`v1@sha256:…`, Renovate's form) where the tag already holds
            // one or in Helm values, whose templates accept it there.
            let helm_map = fill.as_ref().is_some_and(|f| f.digest_key.is_none());
            let digest_in_tag = new_digest.is_some()
                && digest.is_none()
                && (*tag_holds_digest || site.dialect == Dialect::HelmValues || helm_map);
            let mut inserts: Vec<(String, String)> = Vec::new();
            let keep = || current.tag.clone().unwrap_or_default();
            let tag_text = new_tag
                .map(str::to_owned)
                .or_else(|| digest_in_tag.then(keep))
                .map(|t| match new_digest.filter(|_| digest_in_tag) {
                    Some(d) => format!("{t}@{d}"),
                    None => t,
                });
            match (tag, fill) {
                (Some(node), _) => {
                    if let Some(value) = tag_text {
                        changes.push((Change::replace(*node, value.clone()), scalar(*node), value));
                    }
                }
                (None, Some(f)) if new_tag.is_some() => {
                    if let Some(value) = tag_text {
                        inserts.push((f.tag_key.to_owned(), value));
                    }
                }
                (None, None) if new_tag.is_some() => {
                    c.unfit = Some(format!(
                        "the {} entry has no tag field to set; add one",
                        site.dialect.as_str()
                    ));
                }
                (None, _) => {}
            }
            let tag_written = tag.is_some() || !inserts.is_empty();
            if let Some(d) = new_digest {
                match (digest, fill.as_ref().and_then(|f| f.digest_key)) {
                    (Some(node), _) => {
                        let value = match d.split_once(':') {
                            Some((_, hex)) if *digest_hex_only => hex.to_owned(),
                            _ => d.to_owned(),
                        };
                        changes.push((Change::replace(*node, value.clone()), scalar(*node), value));
                    }
                    (None, _) if digest_in_tag && tag_written => {}
                    (None, Some(key)) => inserts.push((key.to_owned(), d.to_owned())),
                    (None, None) => {
                        c.unfit = Some(format!(
                            "the {} entry has no digest field to pin {d}; add one",
                            site.dialect.as_str()
                        ));
                    }
                }
            }
            if let (false, Some(f)) = (inserts.is_empty(), fill) {
                let to = inserts
                    .iter()
                    .map(|(_, v)| v.as_str())
                    .collect::<Vec<_>>()
                    .join("@");
                let keys = inserts
                    .iter()
                    .map(|(k, _)| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(" and ");
                let change = Change::insert(f.map, f.after, inserts);
                if let Err(e) = m.insertion_position(&change) {
                    let why = match e {
                        crate::manifest::EditError::Insert { line, reason } => {
                            format!("{reason} (line {line})")
                        }
                        other => other.to_string(),
                    };
                    c.unfit = Some(format!(
                        "the {} entry has no {keys} field and one cannot be added: {why}; add it by hand",
                        site.dialect.as_str()
                    ));
                }
                changes.push((change, String::new(), to));
            }
        }
    }
    let aliases: Vec<usize> = site
        .via_alias
        .iter()
        .map(|&n| m.node_position(n).0)
        .collect();
    for (change, from, to) in changes {
        if change.insert.is_none() && m.stream.scalar(change.node) == Some(change.value.as_str()) {
            continue;
        }
        let (line, column) = match &change.insert {
            Some(i) => m
                .insertion_position(&change)
                .unwrap_or_else(|_| m.node_position(i.after)),
            None => m.node_position(change.node),
        };
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
        c.changes.push(change);
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

    // See: issue #12 §9 (refusals for references that need no change).
    #[test]
    fn issue_12_a_pin_that_already_has_the_target_tag_changes_nothing_offline() {
        for text in [
            format!("containers:\n- image: redis:7.1.4@{D1}\n"),
            format!("image:\n  repository: redis\n  tag: 7.1.4@{D1}\n"),
            format!("image:\n  repository: redis\n  tag: 7.1.4\n  digest: {D1}\n"),
            format!("images:\n- name: redis\n  newTag: 7.1.4\n  digest: {D1}\n"),
        ] {
            let c = plan_one("kustomization.yaml", &text, "redis:7.1.4");
            assert!(c[0].changes.is_empty(), "{text}: {:?}", c[0].changes);
            assert_eq!(c[0].stale_digest, None, "{text}");
        }
        // A new tag still cannot keep the old digest.
        let c = plan_one(
            "p.yaml",
            &format!("containers:\n- image: redis:7.1.4@{D1}\n"),
            "redis:7.1.5",
        );
        assert_eq!(c[0].stale_digest.as_deref(), Some(D1));
    }

    // See: issue #12 §6 (the kind of digest pin is not kept).
    #[test]
    fn issue_12_pins_move_by_the_registrys_answer_for_their_kind() {
        let m = Manifest::parse(
            "p.yaml",
            format!("containers:\n- image: app:v1@{D1}\n- image: app:v1\n"),
        )
        .expect("parses");
        let mut t = target("app:v2");
        t.resolved_digest = Some(D2.to_owned());
        let ms = std::slice::from_ref(&m);
        let intents = by_repository(ms, std::slice::from_ref(&t));
        let pins = pins_to_resolve(ms, std::slice::from_ref(&t), &intents);
        let pin = Pin {
            desired: 0,
            tag: Some("v1".into()),
            pinned: D1.into(),
        };
        assert_eq!(pins, vec![pin.clone()], "unpinned sites ask nothing");
        let child = format!("sha256:{}", "3".repeat(64));
        let answer = Pins::from([(pin.clone(), Ok(child.clone()))]);
        let c = plan_pinned(ms, std::slice::from_ref(&t), &intents, &answer);
        assert_eq!(c[0].changes[0].value, format!("app:v2@{child}"));
        assert_eq!(c[1].changes[0].value, "app:v2");
        // Unknown kind: refused where it would change, left alone where
        // the tag is already the target's.
        let unknown = Pins::from([(pin, Err("the pin is unknown".to_owned()))]);
        let c = plan_pinned(ms, std::slice::from_ref(&t), &intents, &unknown);
        assert_eq!(c[0].unfit.as_deref(), Some("the pin is unknown"));
        let mut same = target("app:v1");
        same.resolved_digest = Some(D2.to_owned());
        let c = plan_pinned(ms, std::slice::from_ref(&same), &intents, &unknown);
        assert!(c[0].changes.is_empty() && c[1].changes.is_empty());
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
    fn missing_tag_and_digest_fields_are_inserted() {
        let text = "images:\n- name: app\n  newName: ghcr.io/acme/app # moved\n";
        let m = Manifest::parse("kustomization.yaml", text.to_owned()).expect("parses");
        let c = plan(std::slice::from_ref(&m), &[target("ghcr.io/acme/app:v2")]);
        assert_eq!(c[0].unfit, None);
        assert_eq!(values(&c[0]), vec![("", "v2")]);
        assert_eq!((c[0].updates[0].line, c[0].updates[0].column), (4, 11));
        let (out, _) = m.apply(&c[0].changes).expect("applies");
        assert_eq!(out, format!("{text}  newTag: v2\n"));
        // A digest the user gives is pinned in a new `digest` field.
        let text = "images:\n- name: app\n  newTag: v1\n";
        let m = Manifest::parse("kustomization.yaml", text.to_owned()).expect("parses");
        let c = plan(std::slice::from_ref(&m), &[target(&format!("app:v1@{D2}"))]);
        let (out, _) = m.apply(&c[0].changes).expect("applies");
        assert_eq!(
            out,
            format!("images:\n- name: app\n  digest: {D2}\n  newTag: v1\n")
        );
        // Helm maps without a tag, or with a null one, get one.
        for (before, after) in [
            (
                "image:\n  repository: app\n",
                "image:\n  repository: app\n  tag: v2\n",
            ),
            (
                "image:\n  repository: app\n  tag:\n",
                "image:\n  repository: app\n  tag: v2\n",
            ),
            (
                "image:\n  repository: app\n  tag: ~\n",
                "image:\n  repository: app\n  tag: v2\n",
            ),
            (
                "image: {repository: app}\n",
                "image: {repository: app, tag: v2}\n",
            ),
        ] {
            let m = Manifest::parse("values.yaml", before.to_owned()).expect("parses");
            let c = plan(std::slice::from_ref(&m), &[target("app:v2")]);
            assert_eq!(c[0].unfit, None, "{before:?}");
            assert_eq!(m.apply(&c[0].changes).expect("applies").0, after);
        }
    }

    #[test]
    fn an_insertion_into_a_shared_mapping_is_refused_with_its_line() {
        let text = "image: &img\n  repository: app\nsidecar:\n  image: *img\n";
        let c = plan_one("values.yaml", text, "app:v2");
        assert!(
            c[0].unfit
                .as_deref()
                .is_some_and(|u| u.contains("line 2") && u.contains("every alias")),
            "{:?}",
            c[0].unfit
        );
        assert!(
            !c[0].changes.is_empty(),
            "the guard refuses only what would change"
        );
    }

    /// Literal block scalars holding YAML are edited in place; the
    /// limitation that remains (folded blocks) is listed as skipped.
    #[test]
    fn images_inside_block_scalars() {
        let text = "spec:\n  source:\n    helm:\n      values: |\n        image:\n          repository: app\n          tag: v1\n";
        let c = plan_one("app.yaml", text, "app:v2");
        assert_eq!(values(&c[0]), vec![("v1", "v2")]);
        assert_eq!(c[0].updates[0].line, 7);
        let folded = text.replace("values: |", "values: >");
        let m = Manifest::parse("app.yaml", folded).expect("parses");
        assert!(plan(std::slice::from_ref(&m), &[target("app:v2")]).is_empty());
        assert_eq!(m.skipped.len(), 1);
        assert_eq!(
            (m.skipped[0].line, m.skipped[0].images.clone()),
            (4, vec!["app".to_owned()])
        );
    }
}

//! Platform hints: which `os/arch` a workload says it runs on, read from
//! its pod spec's `nodeSelector` and required node affinity.
//!
//! Owns the reading of the well-known node labels `kubernetes.io/arch` and
//! `kubernetes.io/os` (and their deprecated `beta.kubernetes.io/` forms,
//! <https://kubernetes.io/docs/reference/labels-annotations-taints/>). Does
//! not decide what to do with them (`sync` checks the registry).

use std::collections::BTreeSet;

use super::Site;
use super::tree::{NodeId, Stream};

const ARCH: [&str; 2] = ["kubernetes.io/arch", "beta.kubernetes.io/arch"];
const OS: [&str; 2] = ["kubernetes.io/os", "beta.kubernetes.io/os"];

/// See [`super::Manifest::platforms`].
pub(super) fn platforms(s: &Stream, site: &Site) -> Vec<String> {
    let Some(&node) = site.slots().first().or(site.names.first()) else {
        return Vec::new();
    };
    // The pod spec: the nearest mapping holding the site with a `containers` list.
    let Some(spec) = s.ancestors(node).find(|&a| {
        s.get(a, "containers")
            .is_some_and(|c| s.kind(s.resolve(c)) == super::tree::NodeKind::Seq)
    }) else {
        return Vec::new();
    };
    let selector = s.get(spec, "nodeSelector");
    let label = |keys: &[&str; 2]| {
        selector.and_then(|sel| {
            keys.iter()
                .find_map(|k| s.get_str(sel, k))
                .map(str::to_owned)
        })
    };
    let (sel_arch, sel_os) = (label(&ARCH), label(&OS));
    let terms: Vec<NodeId> = s
        .get(spec, "affinity")
        .and_then(|a| s.get(a, "nodeAffinity"))
        .and_then(|n| s.get(n, "requiredDuringSchedulingIgnoredDuringExecution"))
        .and_then(|r| s.get(r, "nodeSelectorTerms"))
        .map(|t| s.items(t).to_vec())
        .unwrap_or_default();
    let mut out = BTreeSet::new();
    let mut add = |archs: Vec<String>, oses: Vec<String>| {
        for os in &oses {
            for arch in &archs {
                out.insert(format!("{os}/{arch}"));
            }
        }
    };
    let narrow = |from_term: Option<Vec<String>>, from_selector: &Option<String>| match (
        from_term,
        from_selector,
    ) {
        (Some(t), Some(sel)) => Some(t.into_iter().filter(|v| v == sel).collect()),
        (Some(t), None) => Some(t),
        (None, Some(sel)) => Some(vec![sel.clone()]),
        (None, None) => None,
    };
    let mut any_term = false;
    for term in terms {
        let (archs, oses) = (values_in(s, term, &ARCH), values_in(s, term, &OS));
        let Some(archs) = narrow(archs, &sel_arch) else {
            continue;
        };
        any_term = true;
        let oses = narrow(oses, &sel_os).unwrap_or_else(|| vec!["linux".to_owned()]);
        add(archs, oses);
    }
    if !any_term && let Some(arch) = sel_arch {
        add(
            vec![arch],
            vec![sel_os.unwrap_or_else(|| "linux".to_owned())],
        );
    }
    out.into_iter().collect()
}

/// The values of `In` expressions on `keys` in one node selector term, or
/// `None` when the term does not constrain those keys.
fn values_in(s: &Stream, term: NodeId, keys: &[&str; 2]) -> Option<Vec<String>> {
    let mut found: Option<Vec<String>> = None;
    for &expr in s
        .get(term, "matchExpressions")
        .map_or(&[][..], |e| s.items(e))
    {
        let key = s.get_str(expr, "key").unwrap_or_default();
        if !keys.contains(&key) || s.get_str(expr, "operator") != Some("In") {
            continue;
        }
        let values: Vec<String> = s
            .get(expr, "values")
            .map_or(&[][..], |v| s.items(v))
            .iter()
            .filter_map(|&v| s.scalar(v).map(str::to_owned))
            .collect();
        // Expressions of one term are ANDed.
        found = Some(match found {
            Some(prev) => prev.into_iter().filter(|p| values.contains(p)).collect(),
            None => values,
        });
    }
    found
}

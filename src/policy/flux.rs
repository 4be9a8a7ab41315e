//! Flux's `ImagePolicy` as a [`Policy`] and a [`TagFilter`]: the spec fields that choose and
//! filter tags (`image.toolkit.fluxcd.io` `v1beta2` and `v1` have the same ones), and the
//! `exclusionList` of the `ImageRepository` the policy points at.
//!
//! Field names follow fluxcd/image-reflector-controller `api/v1/imagepolicy_types.go` and
//! `api/v1beta2/imagepolicy_types.go` (`spec.policy.{semver.range, alphabetical.order,
//! numerical.order}`, `spec.filterTags.{pattern, extract}`) and `imagerepository_types.go`
//! (`spec.exclusionList`, default `["^.*\\.sig$"]`). The structs deserialize from the
//! object's `spec` with serde and ignore the fields that do not choose tags
//! (`imageRepositoryRef`, `digestReflectionPolicy`, `interval`, `suspend`).
//!
//! This module does not read Kubernetes objects from files (the caller does) and does not
//! select (`select` in `mod.rs`).

use serde::Deserialize;

use super::{Order, Policy, PolicyError, TagFilter, parse_order, parse_range};

/// The `ImageRepository` `spec.exclusionList` default: cosign signatures. Unlike
/// [`super::DEFAULT_EXCLUSIONS`], it does not exclude `.att` and `.sbom`, so
/// [`Policy::from_flux`] sees exactly the tags Flux stores.
pub const FLUX_DEFAULT_EXCLUSION_LIST: &[&str] = &[r"^.*\.sig$"];

/// An `ImagePolicy`'s `spec`, reduced to the fields that choose tags.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImagePolicySpec {
    /// `spec.policy`: which ordering (exactly one of its fields should be set).
    #[serde(default)]
    pub policy: PolicyChoice,
    /// `spec.filterTags`: which tags the policy sees, and what it sees of them.
    #[serde(default)]
    pub filter_tags: Option<FilterTags>,
}

/// `spec.policy` (Go `ImagePolicyChoice`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyChoice {
    /// `spec.policy.semver`.
    #[serde(default)]
    pub semver: Option<SemVerPolicy>,
    /// `spec.policy.alphabetical`.
    #[serde(default)]
    pub alphabetical: Option<OrderPolicy>,
    /// `spec.policy.numerical`.
    #[serde(default)]
    pub numerical: Option<OrderPolicy>,
}

/// `spec.policy.semver` (Go `SemVerPolicy`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct SemVerPolicy {
    /// `range`: a Masterminds v3 constraint (required; empty is invalid, as in Flux).
    #[serde(default)]
    pub range: String,
}

/// `spec.policy.alphabetical` and `spec.policy.numerical` (Go `AlphabeticalPolicy`,
/// `NumericalPolicy`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct OrderPolicy {
    /// `order`: `asc` (the default, also when empty) or `desc`, in any case.
    #[serde(default)]
    pub order: String,
}

/// `spec.filterTags` (Go `TagFilter`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct FilterTags {
    /// `pattern`: an unanchored RE2 regex; empty matches every tag.
    #[serde(default)]
    pub pattern: String,
    /// `extract`: a Go `regexp.Expand` template (`$ts`, `${1}`); empty means the whole tag.
    #[serde(default)]
    pub extract: String,
}

impl Policy {
    /// The policy and filter Flux's image-reflector-controller applies for `spec`, over the
    /// tags its `ImageRepository` stores after `exclusion_list` (`spec.exclusionList`; empty
    /// means Flux's default, [`FLUX_DEFAULT_EXCLUSION_LIST`]; a non-empty list replaces it).
    ///
    /// Like Flux's `PolicerFromSpec`, when several of `semver`, `alphabetical` and
    /// `numerical` are set, the first in that order is used; semver reads tags strictly
    /// ([`super::SemverParse::Strict`]).
    ///
    /// Errors wrap the reason in [`PolicyError::InField`] naming the field:
    /// `spec.policy` (none set), `spec.policy.semver.range`, `spec.policy.alphabetical.order`,
    /// `spec.policy.numerical.order`, `spec.filterTags.pattern`, or
    /// `ImageRepository spec.exclusionList[N]`.
    pub fn from_flux(
        spec: &ImagePolicySpec,
        exclusion_list: &[String],
    ) -> Result<(Policy, TagFilter), PolicyError> {
        let choice = &spec.policy;
        let policy = if let Some(semver) = &choice.semver {
            Policy::Semver {
                range: parse_range(&semver.range).map_err(in_field("spec.policy.semver.range"))?,
                parse: super::SemverParse::Strict,
            }
        } else if let Some(alpha) = &choice.alphabetical {
            Policy::Alphabetical {
                order: flux_order("alphabetical", &alpha.order)?,
            }
        } else if let Some(num) = &choice.numerical {
            Policy::Numerical {
                order: flux_order("numerical", &num.order)?,
            }
        } else {
            return Err(PolicyError::InField {
                field: "spec.policy".to_owned(),
                source: Box::new(PolicyError::NoPolicyChoice),
            });
        };
        let filter = match &spec.filter_tags {
            None => TagFilter::pass_all(),
            Some(f) => TagFilter::new(Some(&f.pattern), Some(&f.extract))
                .map_err(in_field("spec.filterTags.pattern"))?
                .with_exclusions(&[])
                .expect("impossible: no exclusions to compile"),
        };
        Ok((policy, flux_exclusions(filter, exclusion_list)?))
    }
}

/// `filter` with the `ImageRepository`'s exclusions (Flux's default when `list` is empty).
pub fn flux_exclusions(filter: TagFilter, list: &[String]) -> Result<TagFilter, PolicyError> {
    let mut filter = filter.with_exclusions(&[])?;
    if list.is_empty() {
        for p in FLUX_DEFAULT_EXCLUSION_LIST {
            filter = filter.exclude_regex(p)?;
        }
        return Ok(filter);
    }
    for (i, p) in list.iter().enumerate() {
        filter = filter.exclude_regex(p).map_err(in_field(&format!(
            "ImageRepository spec.exclusionList[{i}]"
        )))?;
    }
    Ok(filter)
}

// ---------------------------------------------------------------------------------------------
// Private helpers.

fn in_field(field: &str) -> impl Fn(PolicyError) -> PolicyError + '_ {
    move |source| PolicyError::InField {
        field: field.to_owned(),
        source: Box::new(source),
    }
}

fn flux_order(kind: &str, order: &str) -> Result<Order, PolicyError> {
    parse_order(&format!("{kind}:{order}"), Some(order))
        .map_err(in_field(&format!("spec.policy.{kind}.order")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::policy::{FilterVerdict, select};

    fn spec(yaml: &str) -> ImagePolicySpec {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn reads_the_crd_fields() {
        let s = spec(
            "imageRepositoryRef: {name: app}\npolicy:\n  numerical:\n    order: Desc\nfilterTags:\n  pattern: '^main-(?P<ts>[0-9]+)$'\n  extract: '$ts'\ndigestReflectionPolicy: Never\n",
        );
        let (policy, filter) = Policy::from_flux(&s, &[]).unwrap();
        assert_eq!(policy.to_string(), "numerical:desc");
        assert_eq!(filter.pattern(), Some("^main-(?P<ts>[0-9]+)$"));
        assert_eq!(filter.extract(), Some("$ts"));
        assert_eq!(filter.exclusions().collect::<Vec<_>>(), [r"^.*\.sig$"]);
        // Flux's default excludes signatures only; attestations are tags like any other.
        assert_eq!(
            filter.classify("main-1.att"),
            FilterVerdict::Mismatch,
            "not excluded, just not matching the pattern"
        );
        let s = spec("policy:\n  semver:\n    range: '>=1.0.0'\n");
        let (policy, filter) = Policy::from_flux(&s, &[]).unwrap();
        assert_eq!(policy.to_string(), "semver:>=1.0.0");
        let sel = select(
            &policy,
            &filter,
            &["1.0.0".into(), "1.1.0".into(), "sha256-x.sig".into()],
            None,
        );
        assert_eq!(sel.winner.as_deref(), Some("1.1.0"));
    }

    #[test]
    fn semver_wins_when_several_are_set_as_in_flux() {
        let s = spec("policy:\n  alphabetical: {}\n  semver: {range: '*'}\n");
        let (policy, _) = Policy::from_flux(&s, &[]).unwrap();
        assert_eq!(policy.name(), "semver");
        let s = spec("policy:\n  numerical: {}\n  alphabetical: {order: desc}\n");
        assert_eq!(
            Policy::from_flux(&s, &[]).unwrap().0.to_string(),
            "alphabetical:desc"
        );
    }

    #[test]
    fn errors_name_the_field() {
        for (yaml, list, want) in [
            (
                "policy: {}\n",
                vec![],
                "spec.policy: set one of semver.range, alphabetical.order or numerical.order",
            ),
            (
                "policy: {semver: {range: ''}}\n",
                vec![],
                "spec.policy.semver.range: invalid semver range \"\"",
            ),
            (
                "policy: {alphabetical: {order: random}}\n",
                vec![],
                "spec.policy.alphabetical.order: invalid order \"random\"",
            ),
            (
                "policy: {numerical: {order: up}}\n",
                vec![],
                "spec.policy.numerical.order: invalid order \"up\"",
            ),
            (
                "policy: {numerical: {}}\nfilterTags: {pattern: '(?!rc)'}\n",
                vec![],
                "spec.filterTags.pattern: invalid filter regex \"(?!rc)\"",
            ),
            (
                "policy: {numerical: {}}\n",
                vec!["ok".to_owned(), "[".to_owned()],
                "ImageRepository spec.exclusionList[1]: invalid exclusion regex \"[\"",
            ),
        ] {
            let e = Policy::from_flux(&spec(yaml), &list)
                .unwrap_err()
                .to_string();
            assert!(e.starts_with(want), "{yaml}: {e}");
        }
    }

    #[test]
    fn a_nonempty_exclusion_list_replaces_the_default() {
        let s = spec("policy: {alphabetical: {}}\n");
        let (_, filter) = Policy::from_flux(&s, &["^dev-".to_owned()]).unwrap();
        assert_eq!(filter.exclusions().collect::<Vec<_>>(), ["^dev-"]);
        assert!(matches!(filter.classify("x.sig"), FilterVerdict::Kept(_)));
    }
}

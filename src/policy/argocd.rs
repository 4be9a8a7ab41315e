//! Argo CD Image Updater's per-image settings as a [`Policy`] and a [`TagFilter`]: the
//! `update-strategy`, the version constraint written in `image-list`
//! (`alias=image:constraint`), `allow-tags` and `ignore-tags`
//! (argoproj-labs/argocd-image-updater, `registry-scanner/pkg/image/options.go`).
//!
//! Strategy names are case-insensitive: `semver` (also the default, for an empty or unknown
//! name, as Argo CD does after logging a warning), `newest-build` (legacy `latest`),
//! `alphabetical` (legacy `name`) and `digest`. Where Argo CD silently matches nothing (an
//! allow-tags value that is neither `any` nor `regexp:…`, an invalid regexp) or ignores
//! nothing (an invalid glob), these constructors return an error naming the annotation.
//!
//! This module does not read `Application` objects or annotations from files (the caller
//! does) and does not select (`select` in `mod.rs`).

use super::{Order, Policy, PolicyError, SemverParse, TagFilter, parse_range};

/// The annotation prefix of every Argo CD Image Updater setting.
pub const ANNOTATION_PREFIX: &str = "argocd-image-updater.argoproj.io";

/// What Argo CD Image Updater reads for one image of an `Application`; each field is the
/// annotation's value as written (`None` when the annotation is absent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImageSettings<'a> {
    /// The image's alias in `image-list` (`alias=image`), used to name annotations in errors.
    pub alias: Option<&'a str>,
    /// The version constraint after the image in `image-list` (`image:~1.2`); for `digest`,
    /// the tag to follow.
    pub constraint: Option<&'a str>,
    /// `<alias>.update-strategy`.
    pub update_strategy: Option<&'a str>,
    /// `<alias>.allow-tags`: `any` or `regexp:<RE2>`.
    pub allow_tags: Option<&'a str>,
    /// `<alias>.ignore-tags`: comma-separated Go `path/filepath.Match` globs.
    pub ignore_tags: Option<&'a str>,
}

/// An Argo CD update strategy, with the legacy names resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// `semver`, and any empty or unknown name.
    Semver,
    /// `newest-build`, or the legacy `latest`.
    NewestBuild,
    /// `alphabetical`, or the legacy `name`.
    Alphabetical,
    /// `digest`.
    Digest,
}

impl Strategy {
    /// Reads an `update-strategy` value like Argo CD's `ParseUpdateStrategy`: case-insensitive,
    /// legacy names accepted, anything else is [`Strategy::Semver`].
    pub fn parse(name: &str) -> Strategy {
        match name.to_ascii_lowercase().as_str() {
            "newest-build" | "latest" => Strategy::NewestBuild,
            "alphabetical" | "name" => Strategy::Alphabetical,
            "digest" => Strategy::Digest,
            _ => Strategy::Semver,
        }
    }

    /// Returns true if and only if `name` is a legacy spelling (`latest`, `name`) or not a
    /// strategy at all (read as semver), so a caller can suggest the current name. An empty
    /// name is the documented default (semver), not unknown.
    pub fn is_legacy_or_unknown(name: &str) -> bool {
        !matches!(
            name.to_ascii_lowercase().as_str(),
            "" | "semver" | "newest-build" | "alphabetical" | "digest"
        )
    }
}

impl Policy {
    /// The policy Argo CD Image Updater uses for an `update-strategy` and the version
    /// constraint of the image spec: see [`Strategy::parse`]; semver reads an empty
    /// constraint as `*` and tags with [`SemverParse::Lenient`]; `alphabetical` ignores the
    /// constraint; `digest` needs it (the tag to follow).
    pub fn from_argocd(strategy: &str, constraint: Option<&str>) -> Result<Policy, PolicyError> {
        let constraint = constraint.filter(|c| !c.is_empty());
        match Strategy::parse(strategy) {
            Strategy::NewestBuild => Ok(Policy::NewestBuild),
            Strategy::Alphabetical => Ok(Policy::Alphabetical { order: Order::Asc }),
            Strategy::Digest => match constraint {
                Some(tag) => Ok(Policy::Digest {
                    tag: Some(tag.to_owned()),
                }),
                None => Err(PolicyError::DigestNeedsTag),
            },
            Strategy::Semver => Ok(Policy::Semver {
                range: parse_range(constraint.unwrap_or("*"))?,
                parse: SemverParse::Lenient,
            }),
        }
    }

    /// The policy and filter Argo CD Image Updater applies to one image. Errors wrap the
    /// reason in [`PolicyError::InField`] naming the annotation
    /// (`argocd-image-updater.argoproj.io/<alias>.allow-tags`, or `image-list` for the
    /// constraint).
    pub fn from_argocd_image(
        image: &ImageSettings<'_>,
    ) -> Result<(Policy, TagFilter), PolicyError> {
        let field = |name: &str| match image.alias {
            Some(alias) => format!("{ANNOTATION_PREFIX}/{alias}.{name}"),
            None => format!("{ANNOTATION_PREFIX}/<alias>.{name}"),
        };
        let in_field = |name: String| {
            move |source: PolicyError| PolicyError::InField {
                field: name,
                source: Box::new(source),
            }
        };
        let policy = Policy::from_argocd(image.update_strategy.unwrap_or(""), image.constraint)
            .map_err(in_field(format!("{ANNOTATION_PREFIX}/image-list")))?;
        let mut filter = TagFilter::from_argocd(image.allow_tags.unwrap_or(""), &[])
            .map_err(in_field(field("allow-tags")))?;
        for glob in ignore_tags(image.ignore_tags.unwrap_or("")) {
            filter = filter
                .exclude_glob(glob)
                .map_err(in_field(field("ignore-tags")))?;
        }
        Ok((policy, filter))
    }
}

/// Splits an `ignore-tags` value as Argo CD's `GetParameterIgnoreTags` does: on commas, each
/// glob trimmed, empty ones dropped.
pub fn ignore_tags(value: &str) -> Vec<&str> {
    value
        .trim()
        .split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::policy::{FilterVerdict, select};

    #[test]
    fn legacy_and_unknown_strategy_names() {
        for (name, want) in [
            ("semver", "semver"),
            ("SemVer", "semver"),
            ("latest", "newest-build"),
            ("LATEST", "newest-build"),
            ("Newest-Build", "newest-build"),
            ("name", "alphabetical"),
            ("Name", "alphabetical"),
            ("alphabetical", "alphabetical"),
            ("", "semver"),
            ("SemVer2", "semver"),
        ] {
            assert_eq!(
                Policy::from_argocd(name, Some("1.0.0")).unwrap().name(),
                want,
                "{name:?}"
            );
        }
        assert!(Strategy::is_legacy_or_unknown("latest"));
        assert!(Strategy::is_legacy_or_unknown("Name"));
        assert!(Strategy::is_legacy_or_unknown("semver2"));
        assert!(!Strategy::is_legacy_or_unknown("Newest-Build"));
        assert!(!Strategy::is_legacy_or_unknown(""));
    }

    #[test]
    fn image_settings_build_policy_and_filter() {
        let image = ImageSettings {
            alias: Some("app"),
            constraint: Some("~1.2"),
            update_strategy: Some("semver"),
            allow_tags: Some("regexp:^v?1\\."),
            ignore_tags: Some(" *-rc*, ,1.2.9 "),
        };
        let (policy, filter) = Policy::from_argocd_image(&image).unwrap();
        assert_eq!(policy.to_string(), "semver:~1.2");
        assert_eq!(filter.exclusions().collect::<Vec<_>>(), ["*-rc*", "1.2.9"]);
        assert!(matches!(filter.classify("2.0.0"), FilterVerdict::Mismatch));
        let tags: Vec<String> = ["1.2", "1.2.3-rc1", "1.2.9", "1.2.4", "2.0.0"]
            .map(String::from)
            .to_vec();
        let sel = select(&policy, &filter, &tags, None);
        assert_eq!(sel.winner.as_deref(), Some("1.2.4"));
    }

    #[test]
    fn errors_name_the_annotation() {
        let base = ImageSettings {
            alias: Some("app"),
            ..ImageSettings::default()
        };
        for (image, want) in [
            (
                ImageSettings {
                    allow_tags: Some("glob:v*"),
                    ..base
                },
                "argocd-image-updater.argoproj.io/app.allow-tags: unsupported allow-tags",
            ),
            (
                ImageSettings {
                    allow_tags: Some("regexp:[a"),
                    ..base
                },
                "argocd-image-updater.argoproj.io/app.allow-tags: invalid allow-tags regex",
            ),
            (
                ImageSettings {
                    ignore_tags: Some("ok,[a"),
                    ..base
                },
                "argocd-image-updater.argoproj.io/app.ignore-tags: invalid glob \"[a\"",
            ),
            (
                ImageSettings {
                    update_strategy: Some("digest"),
                    ..base
                },
                "argocd-image-updater.argoproj.io/image-list: the digest policy needs",
            ),
            (
                ImageSettings {
                    constraint: Some("latest"),
                    ..base
                },
                "argocd-image-updater.argoproj.io/image-list: invalid semver range \"latest\"",
            ),
        ] {
            let e = Policy::from_argocd_image(&image).unwrap_err().to_string();
            assert!(e.starts_with(want), "{e}");
        }
    }

    #[test]
    fn ignore_tags_split_like_argocd() {
        assert_eq!(ignore_tags(" a, b ,,c "), ["a", "b", "c"]);
        assert!(ignore_tags("  ").is_empty());
    }
}

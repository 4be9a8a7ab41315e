//! Settings for `explain`: the policy and filter, and where the tags come
//! from (a file, or the registry).

use std::path::PathBuf;
use std::time::Duration;

use super::{Env, UsageError, registry_settings, units};
use crate::cli::{ExplainArgs, OutputFormat, SemverParseArg};
use crate::policy::{Policy, SemverParse, TagFilter};
use crate::reference::{Reference, Repository};
use crate::registry::{Platform, RegistryOptions};

/// Where `explain` gets its tags.
#[derive(Debug)]
pub enum TagSource {
    /// `--tags-from FILE` (`-` is stdin): offline.
    File(PathBuf),
    /// The registry, for this repository.
    Registry(Repository),
}

/// Checked settings for `explain`.
#[derive(Debug)]
pub struct ExplainSettings {
    /// The IMAGE argument as given.
    pub image: String,
    /// The compiled policy.
    pub policy: Policy,
    /// Exclusions, filter and extract template.
    pub filter: TagFilter,
    /// Where the tags come from.
    pub source: TagSource,
    /// Platforms the winner must provide (registry only).
    pub platforms: Vec<Platform>,
    /// How to reach the registry.
    pub registry: RegistryOptions,
    /// Most tags checked against the registry (build times, platform tries).
    pub max_candidates: usize,
    /// Time allowed for the whole registry conversation (`--deadline`).
    pub deadline: Duration,
    /// Output format.
    pub output: OutputFormat,
}

impl ExplainSettings {
    /// Validates `explain` arguments against `env`.
    pub fn resolve(args: &ExplainArgs, env: &Env) -> Result<ExplainSettings, UsageError> {
        let (mut policy, filter) = compile_policy(args)?;
        let (platforms, registry) = registry_settings(&args.registry, env)?;
        if args.max_candidates == 0 {
            return Err(UsageError("--max-candidates: must be at least 1".into()));
        }
        let deadline = units::parse_duration(&args.deadline).ok_or_else(|| {
            UsageError(format!(
                "--deadline {:?}: expected seconds, or a number with ms/s/m/h",
                args.deadline
            ))
        })?;
        if deadline.is_zero() {
            // Unlike set's, it bounds the first request too.
            return Err(UsageError(format!(
                "--deadline {:?}: must be more than zero",
                args.deadline
            )));
        }
        let source = match &args.tags_from {
            Some(path) => {
                if matches!(policy, Policy::NewestBuild) {
                    return Err(UsageError("--policy newest-build orders by image build time, which only the registry knows; it cannot work with --tags-from".into()));
                }
                if !platforms.is_empty() {
                    return Err(UsageError(
                        "--platform needs the registry; drop --tags-from or drop --platform".into(),
                    ));
                }
                TagSource::File(path.clone())
            }
            None => {
                let reference = Reference::parse(&args.image)
                    .map_err(|e| UsageError(format!("IMAGE {:?}: {e}", args.image)))?;
                if reference.digest().is_some() {
                    return Err(UsageError(format!(
                        "IMAGE {:?}: give the repository without a digest; explain selects the tag",
                        args.image
                    )));
                }
                // A bare `digest` policy follows the tag written on the image
                // (`explain app:latest --policy digest`); any other policy
                // selects the tag, so a tag given there would be ignored.
                match (&mut policy, reference.tag()) {
                    (Policy::Digest { tag: tag @ None }, Some(t)) => *tag = Some(t.to_owned()),
                    (_, Some(t)) => {
                        return Err(UsageError(format!(
                            "IMAGE {:?}: give the repository without the tag {t:?}; the policy selects the tag (only --policy digest follows a tag written there)",
                            args.image
                        )));
                    }
                    (_, None) => {}
                }
                TagSource::Registry(reference.repository())
            }
        };
        Ok(ExplainSettings {
            image: args.image.clone(),
            policy,
            filter,
            source,
            platforms,
            registry,
            max_candidates: args.max_candidates,
            deadline,
            output: args.output.output,
        })
    }
}

/// Builds the policy and filter from `explain` arguments (no I/O), naming
/// the flag that is wrong.
pub fn compile_policy(args: &ExplainArgs) -> Result<(Policy, TagFilter), UsageError> {
    let mode = match args.semver_parse {
        SemverParseArg::Strict => SemverParse::Strict,
        SemverParseArg::Lenient => SemverParse::Lenient,
    };
    let policy = Policy::parse(&args.policy)
        .map_err(|e| UsageError(format!("--policy: {e}")))?
        .with_semver_parse(mode);
    let mut filter = TagFilter::new(args.filter.as_deref(), args.extract.as_deref())
        .map_err(|e| UsageError(format!("--filter: {e}")))?;
    for pattern in &args.exclude {
        filter = filter
            .exclude_regex(pattern)
            .map_err(|e| UsageError(format!("--exclude: {e}")))?;
    }
    Ok((policy, filter))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explain_settings(argv: &[&str]) -> Result<ExplainSettings, UsageError> {
        use clap::Parser;
        let mut full = vec!["gitops-bump", "explain"];
        full.extend(argv);
        match crate::cli::Cli::try_parse_from(full)
            .expect("parses")
            .command
        {
            crate::cli::Command::Explain(args) => ExplainSettings::resolve(&args, &Env::default()),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn explain_settings_pick_the_tag_source_and_check_the_image() {
        let s =
            explain_settings(&["ghcr.io/acme/app", "--platform", "linux/arm64"]).expect("valid");
        assert!(matches!(&s.source, TagSource::Registry(r) if r.to_string() == "ghcr.io/acme/app"));
        assert_eq!(s.platforms.len(), 1);
        assert_eq!(s.max_candidates, 100);
        assert_eq!(s.deadline, Duration::from_secs(300), "the default of set");
        let s = explain_settings(&["ghcr.io/acme/app", "--deadline", "90s"]).expect("valid");
        assert_eq!(s.deadline, Duration::from_secs(90));
        // A bare digest policy follows the tag written on the image.
        let s = explain_settings(&["ghcr.io/acme/app:main", "--policy", "digest"]).expect("valid");
        assert_eq!(s.policy.to_string(), "digest:main");
        for bad in [
            &["ghcr.io/acme/app:v1"][..],
            &[
                "ghcr.io/acme/app@sha256:0000000000000000000000000000000000000000000000000000000000000000",
            ],
            &["label", "--tags-from", "-", "--policy", "newest-build"],
            &["label", "--tags-from", "-", "--platform", "linux/amd64"],
            &["ghcr.io/acme/app", "--max-candidates", "0"],
            &["ghcr.io/acme/app", "--deadline", "soon"],
            &["ghcr.io/acme/app", "--deadline", "0s"],
        ] {
            assert!(explain_settings(bad).is_err(), "{bad:?}");
        }
        // Offline, IMAGE is only a label.
        let s = explain_settings(&["not a reference", "--tags-from", "-"]).expect("valid");
        assert!(matches!(s.source, TagSource::File(_)));
    }
}

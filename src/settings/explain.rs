//! Settings for `explain`: the policy and filter, and where the tags come
//! from (a file, or the registry); or, with `--from`, the object that says
//! both (read by the command: settings do no file I/O).

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
    /// `--from PATH [--alias NAME]`: the image, policy and filter come from
    /// an object in a file; [`ExplainSettings::for_object`] completes the
    /// settings once the command has read it.
    Object {
        /// The file.
        path: PathBuf,
        /// Which policy, alias or entry in it.
        alias: Option<String>,
        /// `--tags-from`, when given.
        tags_from: Option<PathBuf>,
    },
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
        // clap does not enforce `requires` when the required flag conflicts
        // with one that is present (IMAGE), so it is checked here.
        if args.alias.is_some() && args.from.is_none() {
            return Err(UsageError(
                "--alias names what to explain in the --from file; give --from PATH".into(),
            ));
        }
        if let Some(path) = &args.from {
            return Ok(ExplainSettings {
                image: String::new(),
                policy,
                filter,
                source: TagSource::Object {
                    path: path.clone(),
                    alias: args.alias.clone(),
                    tags_from: args.tags_from.clone(),
                },
                platforms,
                registry,
                max_candidates: args.max_candidates,
                deadline,
                output: args.output.output,
            });
        }
        let image = args.image.clone().unwrap_or_default();
        let source = source(&image, &mut policy, args.tags_from.as_ref(), &platforms)?;
        Ok(ExplainSettings {
            image,
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

    /// The settings for what the object named by `--from` says: its image
    /// (`name:tag` only for a digest policy, which follows that tag), policy,
    /// filter and platforms (`--platform` when it names none). `from` names
    /// the object in errors.
    pub fn for_object(
        &self,
        from: &str,
        image: &str,
        mut policy: Policy,
        filter: TagFilter,
        platforms: Vec<Platform>,
    ) -> Result<ExplainSettings, UsageError> {
        let TagSource::Object { tags_from, .. } = &self.source else {
            return Err(UsageError(
                "impossible: --from settings without --from".into(),
            ));
        };
        let platforms = if platforms.is_empty() {
            self.platforms.clone()
        } else {
            platforms
        };
        let source = source(image, &mut policy, tags_from.as_ref(), &platforms)
            .map_err(|e| UsageError(format!("--from {from}: {}", e.0)))?;
        Ok(ExplainSettings {
            image: image.to_owned(),
            policy,
            filter,
            source,
            platforms,
            registry: self.registry.clone(),
            max_candidates: self.max_candidates,
            deadline: self.deadline,
            output: self.output,
        })
    }
}

/// Where the tags for `image` come from, checking that `policy` and
/// `platforms` can work with it (a digest policy without a tag takes the
/// tag written on the image).
fn source(
    image: &str,
    policy: &mut Policy,
    tags_from: Option<&PathBuf>,
    platforms: &[Platform],
) -> Result<TagSource, UsageError> {
    let args_image = image;
    let source = match tags_from {
        Some(path) => {
            if matches!(*policy, Policy::NewestBuild) {
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
            let reference = Reference::parse(args_image)
                .map_err(|e| UsageError(format!("IMAGE {args_image:?}: {e}")))?;
            if reference.digest().is_some() {
                return Err(UsageError(format!(
                    "IMAGE {args_image:?}: give the repository without a digest; explain selects the tag"
                )));
            }
            // A bare `digest` policy follows the tag written on the image
            // (`explain app:latest --policy digest`); any other policy
            // selects the tag, so a tag given there would be ignored.
            match (&mut *policy, reference.tag()) {
                (Policy::Digest { tag: tag @ None }, Some(t)) => *tag = Some(t.to_owned()),
                (_, Some(t)) => {
                    return Err(UsageError(format!(
                        "IMAGE {args_image:?}: give the repository without the tag {t:?}; the policy selects the tag (only --policy digest follows a tag written there)"
                    )));
                }
                (_, None) => {}
            }
            TagSource::Registry(reference.repository())
        }
    };
    Ok(source)
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

    #[test]
    fn from_defers_to_the_object_and_then_checks_it_like_image() {
        let s = explain_settings(&["--from", "p.yaml", "--alias", "app", "--tags-from", "t"])
            .expect("valid");
        assert!(matches!(
            &s.source,
            TagSource::Object { alias: Some(a), tags_from: Some(_), .. } if a == "app"
        ));
        // What the object says goes through the same checks as IMAGE.
        let digest = Policy::parse("digest:latest").expect("valid");
        let done = s
            .for_object(
                "p.yaml",
                "ghcr.io/acme/app",
                digest,
                TagFilter::default(),
                Vec::new(),
            )
            .expect("valid");
        assert!(matches!(done.source, TagSource::File(_)));
        let e = s
            .for_object(
                "p.yaml",
                "ghcr.io/acme/app",
                Policy::NewestBuild,
                TagFilter::default(),
                Vec::new(),
            )
            .expect_err("newest-build needs the registry");
        assert!(
            e.0.starts_with("--from p.yaml: --policy newest-build"),
            "{e}"
        );
        let s = explain_settings(&["--from", "p.yaml"]).expect("valid");
        let e = s
            .for_object(
                "p.yaml",
                "ghcr.io/acme/app:v1",
                Policy::NewestBuild,
                TagFilter::default(),
                Vec::new(),
            )
            .expect_err("a tag on a non-digest policy");
        assert!(e.0.contains("without the tag"), "{e}");
        // --alias without --from (clap lets it through when IMAGE is given).
        let e = explain_settings(&["--alias", "app", "ghcr.io/acme/app"]).expect_err("no --from");
        assert!(e.0.contains("--from"), "{e}");
    }
}

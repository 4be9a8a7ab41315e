//! Settings for `set`: the IMAGE_REFs as desired states, where the
//! manifests are, how to write, the registry checks and the downgrade guard.

use super::{Env, Store, UsageError, registry_settings};
use crate::backend::files::FileSelection;
use crate::backend::github::ApiKind;
use crate::cli::{OutputFormat, SetArgs};
use crate::commit::message::Template;
use crate::commit::retry::RetrySettings;
use crate::discover::config::DEFAULT_PATH as CONFIG_PATH;
use crate::guard::{Downgrades, WriterRules};
use crate::plan::Desired;
use crate::plan::select::TagRule;
use crate::policy::Policy;
use crate::reference::Reference;
use crate::registry::{Platform, RegistryOptions};

/// Checked settings for `set`.
#[derive(Debug)]
pub struct Settings {
    /// Images to set, one per repository.
    pub targets: Vec<Desired>,
    /// Where the manifests are.
    pub store: Store,
    /// Files to read.
    pub files: FileSelection,
    /// Returns true if and only if `files` holds `.gitops-bump.yaml` only for
    /// the writer guards' owners: `--files` did not select it, so it is no
    /// file the IMAGE_REFs were searched in.
    pub config_added: bool,
    /// Write nothing.
    pub dry_run: bool,
    /// Write through a pull request (`--pull-request`) instead of to the branch.
    pub pull_request: bool,
    /// Registry checks skipped.
    pub no_verify: bool,
    /// Make a local Git commit.
    pub commit: bool,
    /// Commit message template, writer identity and `[skip ci]`.
    pub message: Template,
    /// Retry bounds.
    pub retry: RetrySettings,
    /// Output format.
    pub output: OutputFormat,
    /// Platforms every target must provide.
    pub platforms: Vec<Platform>,
    /// How to reach registries.
    pub registry: RegistryOptions,
    /// The no-downgrade check.
    pub downgrades: Downgrades,
    /// Which references of a target's repository move (`--match-tag`, or
    /// the new tag's track).
    pub tags: TagRule,
    /// An IMAGE_REF that matches no reference is a notice, not an error.
    pub allow_absent: bool,
    /// The writer guards' settings.
    pub writers: WriterRules,
}

impl Settings {
    /// Validates `set` arguments against `env`.
    pub fn resolve(args: &SetArgs, env: &Env) -> Result<Settings, UsageError> {
        let mut targets: Vec<Desired> = Vec::new();
        for arg in &args.images {
            let reference =
                Reference::parse(arg).map_err(|e| UsageError(format!("IMAGE_REF {arg:?}: {e}")))?;
            if reference.tag().is_none() && reference.digest().is_none() {
                return Err(UsageError(format!(
                    "IMAGE_REF {arg:?}: give a tag or a digest (name:tag, name@sha256:…)"
                )));
            }
            if let Some(other) = targets
                .iter()
                .find(|t| t.reference.repository() == reference.repository())
            {
                return Err(UsageError(format!(
                    "IMAGE_REF {arg:?}: the same image is already set by {:?}",
                    other.arg
                )));
            }
            targets.push(Desired {
                arg: arg.clone(),
                reference,
                resolved_digest: None,
            });
        }
        let store = super::store(&args.source, env, "set")?;
        if args.write.pull_request {
            match &store {
                Store::Dir(_) => {
                    return Err(UsageError(
                        "--pull-request is for --repo; with --dir, open the pull request yourself"
                            .into(),
                    ));
                }
                Store::GitHub(gh) if gh.api == ApiKind::Rest => {
                    // NOTE: GHES versions without `createCommitOnBranch` lack
                    // `createRef`/`updateRefs` in GraphQL too.
                    return Err(UsageError(
                        "--pull-request needs --api graphql (createRef, updateRefs and createPullRequest)"
                            .into(),
                    ));
                }
                Store::GitHub(_) => {}
            }
        }
        let (platforms, registry) = registry_settings(&args.registry, env)?;
        let downgrades = match (&args.guard.policy, args.guard.allow_downgrade) {
            (_, true) => Downgrades::Allowed,
            (None, false) => Downgrades::default(),
            (Some(spec), false) => Downgrades::Given(
                Policy::parse(spec).map_err(|e| UsageError(format!("--policy: {e}")))?,
            ),
        };
        if args.no_verify && !platforms.is_empty() {
            return Err(UsageError(
                "--platform needs the registry check; drop --no-verify or drop --platform".into(),
            ));
        }
        let mut files = super::files(&args.source)?;
        // The configuration names owners and policies (issue #11): read it
        // with the manifests, from the same snapshot.
        let config_added = !files.matches(CONFIG_PATH);
        if config_added {
            let mut patterns = files.patterns.clone();
            patterns.push(CONFIG_PATH.to_owned());
            files = FileSelection::new(&patterns, files.max_size)
                .map_err(|e| UsageError(e.to_string()))?;
        }
        let files = files
            .excluding(&args.select.exclude)
            .map_err(|e| UsageError(e.to_string()))?;
        let tags = match &args.select.match_tag {
            None => TagRule::Track,
            Some(re) => TagRule::Matches(regex::Regex::new(re).map_err(|e| {
                // The parser's message spans lines (a caret diagram);
                // its last line says what is wrong.
                let text = e.to_string();
                let why = text.lines().last().unwrap_or_default();
                UsageError(format!(
                    "--match-tag {re:?}: {}",
                    why.trim_start_matches("error: ")
                ))
            })?),
        };
        let message = super::template(&args.write, env)?;
        let writers = super::writer_rules(&args.writers, &message.writer)?;
        let retry = super::retry(&args.write)?;
        if args.write.commit && matches!(store, Store::GitHub(_)) {
            return Err(UsageError(
                "--commit is for --dir; with --repo every write is a commit".into(),
            ));
        }
        Ok(Settings {
            targets,
            store,
            files,
            config_added,
            dry_run: args.write.dry_run,
            pull_request: args.write.pull_request,
            no_verify: args.no_verify,
            commit: args.write.commit,
            message,
            retry,
            output: args.output.output,
            platforms,
            registry,
            downgrades,
            tags,
            allow_absent: args.select.allow_absent,
            writers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_args(argv: &[&str]) -> SetArgs {
        use clap::Parser;
        let mut full = vec!["gitops-bump", "set"];
        full.extend(argv);
        match crate::cli::Cli::try_parse_from(full)
            .expect("parses")
            .command
        {
            crate::cli::Command::Set(args) => args,
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn repo_settings_come_from_env_and_never_show_the_token() {
        let args = set_args(&["--no-verify", "--branch", "main", "a/b:1"]);
        let env = Env::from_pairs([
            ("GITHUB_REPOSITORY", "acme/gitops"),
            ("GITHUB_TOKEN", "  "), // empty counts as unset
            ("GH_TOKEN", "ghp_SECRET"),
            ("GITHUB_API_URL", "https://ghe.example.com/api/v3"),
        ]);
        let settings = Settings::resolve(&args, &env).expect("valid");
        let Store::GitHub(gh) = &settings.store else {
            panic!("expected the GitHub backend");
        };
        assert_eq!(gh.repo.to_string(), "acme/gitops");
        assert_eq!(gh.endpoints.graphql, "https://ghe.example.com/api/graphql");
        assert!(!format!("{settings:?}").contains("ghp_SECRET"));
        let no_token = Env::from_pairs([("GITHUB_REPOSITORY", "acme/gitops")]);
        assert!(Settings::resolve(&args, &no_token).is_err());
    }
}

//! Settings for `sync`: where the manifests and the configuration are, the
//! default policy, the grace, the `--fail-on` level, and how `--apply`
//! writes.

use std::time::Duration;

use super::{Env, Store, UsageError, registry_settings};
use crate::backend::files::FileSelection;
use crate::backend::github::ApiKind;
use crate::cli::{FailOnArg, OutputFormat, SyncArgs};
use crate::commit::message::Template;
use crate::commit::retry::RetrySettings;
use crate::discover::config::{DEFAULT_PATH, Mode};
use crate::discover::tracked::DefaultPolicy;
use crate::finding::FailOn;
use crate::guard::WriterRules;
use crate::policy::Policy;
use crate::registry::{Platform, RegistryOptions};

/// Checked settings for `sync`.
#[derive(Debug)]
pub struct SyncSettings {
    /// Where the manifests are.
    pub store: Store,
    /// Files to read (the configuration file always among them).
    pub files: FileSelection,
    /// The configuration file's path, relative to the root.
    pub config: String,
    /// Returns true if and only if `--config` named it (then it must exist).
    pub config_given: bool,
    /// Fix drift.
    pub apply: bool,
    /// Write nothing (with `--apply`: print the diff).
    pub dry_run: bool,
    /// With `--dir`: make one local Git commit.
    pub commit: bool,
    /// The write mode of entries that name none (`--pull-request`).
    pub mode: Mode,
    /// The default policy for references nothing governs.
    pub default_policy: DefaultPolicy,
    /// Returns true if and only if `--default-policy` was given (its drift is then applied).
    pub default_explicit: bool,
    /// The grace where an entry sets none.
    pub grace: Duration,
    /// The least severity that fails the run.
    pub fail_on: FailOn,
    /// Allow writing a tag that orders before the current one.
    pub allow_downgrade: bool,
    /// Most tags checked against the registry per question.
    pub max_candidates: usize,
    /// Platforms every written tag must provide where an entry names none.
    pub platforms: Vec<Platform>,
    /// How to reach registries.
    pub registry: RegistryOptions,
    /// Commit message template, writer identity and `[skip ci]`.
    pub message: Template,
    /// The writer guards' settings.
    pub writers: WriterRules,
    /// Retry bounds.
    pub retry: RetrySettings,
    /// Output format.
    pub output: OutputFormat,
}

impl SyncSettings {
    /// Validates `sync` arguments against `env`.
    pub fn resolve(args: &SyncArgs, env: &Env) -> Result<SyncSettings, UsageError> {
        let store = super::store(&args.source, env, "sync")?;
        if args.write.pull_request
            && let Store::GitHub(gh) = &store
            && gh.api == ApiKind::Rest
        {
            return Err(UsageError(
                "--pull-request needs --api graphql (createRef, updateRefs and createPullRequest)"
                    .into(),
            ));
        }
        if args.write.pull_request && matches!(store, Store::Dir(_)) {
            return Err(UsageError(
                "--pull-request is for --repo; with --dir, open the pull request yourself".into(),
            ));
        }
        if args.write.commit && matches!(store, Store::GitHub(_)) {
            return Err(UsageError(
                "--commit is for --dir; with --repo every write is a commit".into(),
            ));
        }
        if args.write.commit && !args.apply {
            return Err(UsageError("--commit needs --apply".into()));
        }
        let (config, config_given) = match &args.config {
            Some(path) => {
                let path = path.trim_start_matches("./");
                if path.is_empty() || path.starts_with('/') || path.split('/').any(|c| c == "..") {
                    return Err(UsageError(format!(
                        "--config {path:?}: give a path inside the repository, relative to its root"
                    )));
                }
                (path.to_owned(), true)
            }
            None => (DEFAULT_PATH.to_owned(), false),
        };
        let max_size = super::units::parse_size(&args.source.max_file_size).ok_or_else(|| {
            UsageError(format!(
                "--max-file-size {:?}: expected bytes, or a number with KiB/MiB/GiB",
                args.source.max_file_size
            ))
        })?;
        let mut patterns = if args.source.files.is_empty() {
            crate::backend::files::DEFAULT_FILES
                .iter()
                .map(|s| (*s).to_owned())
                .collect()
        } else {
            args.source.files.clone()
        };
        if !patterns.contains(&config) {
            patterns.push(config.clone());
        }
        let files = FileSelection::new(&patterns, max_size)
            .and_then(|f| f.excluding(&args.exclude))
            .map_err(|e| UsageError(e.to_string()))?;
        if !files.matches(&config) {
            return Err(UsageError(format!(
                "--exclude: excludes the configuration file {config}; pass --config elsewhere or narrow the pattern"
            )));
        }
        let (default_policy, default_explicit) = match args.default_policy.as_deref() {
            None => (DefaultPolicy::SameTrack, false),
            Some("none") => (DefaultPolicy::None, true),
            Some("semver") => (DefaultPolicy::SameTrack, true),
            Some(spec) => (
                DefaultPolicy::Spec(
                    Policy::parse(spec)
                        .map_err(|e| UsageError(format!("--default-policy: {e}")))?,
                ),
                true,
            ),
        };
        let grace = match &args.grace {
            None => Duration::ZERO,
            Some(g) => super::units::parse_duration(g).ok_or_else(|| {
                UsageError(format!(
                    "--grace {g:?}: expected seconds, or a number with ms/s/m/h"
                ))
            })?,
        };
        if args.max_candidates == 0 {
            return Err(UsageError("--max-candidates: must be at least 1".into()));
        }
        let (platforms, mut registry) = registry_settings(&args.registry, env)?;
        let message = super::template(&args.write, env)?;
        let writers = super::writer_rules(&args.writers, &message.writer)?;
        let retry = super::retry(&args.write)?;
        // --deadline bounds the registry too: no request, retry or wait of
        // the survey outlives it (an unreachable registry is unchecked then).
        registry.retry.deadline = registry.retry.deadline.min(retry.deadline);
        registry.request_timeout = registry.request_timeout.min(retry.deadline);
        registry.connect_timeout = registry.connect_timeout.min(retry.deadline);
        Ok(SyncSettings {
            store,
            files,
            config,
            config_given,
            apply: args.apply,
            dry_run: args.write.dry_run,
            commit: args.write.commit,
            mode: if args.write.pull_request {
                Mode::PullRequest
            } else {
                Mode::Commit
            },
            default_policy,
            default_explicit,
            grace,
            fail_on: match args.fail_on {
                FailOnArg::Error => FailOn::Error,
                FailOnArg::Warning => FailOn::Warning,
                FailOnArg::Never => FailOn::Never,
            },
            allow_downgrade: args.allow_downgrade,
            max_candidates: args.max_candidates,
            platforms,
            registry,
            message,
            writers,
            retry,
            output: args.output.output,
        })
    }
}

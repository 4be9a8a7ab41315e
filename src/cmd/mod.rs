//! The commands: thin drivers over the spine. Each builds what it needs
//! from its settings (the backend, the registry client, one async runtime
//! for the whole invocation), runs the shared steps, and hands the model to
//! `report`. `lib.rs` only dispatches here.

pub mod action;
pub mod explain;
pub mod set;
pub mod sync;
pub mod writers;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;

use crate::backend::Backend;
use crate::backend::github::GitHub;
use crate::backend::local::Local;
use crate::cli::Command;
use crate::commit::retry::RetrySettings;
use crate::gha;
use crate::report;
use crate::report::Outcome;
use crate::settings::{Env, ExplainSettings, Settings, Store, SyncSettings, UsageError, Var};

/// What every command gets: the environment, read once, and the one
/// runtime that the registry client and the GitHub backend share.
pub struct Context {
    /// The environment snapshot.
    pub env: Env,
    /// A current-thread runtime for every async step of this invocation.
    pub runtime: Arc<tokio::runtime::Runtime>,
    /// True if and only if this process runs as a GitHub Actions step.
    pub actions: bool,
}

/// Runs one command in `cx`: builds its settings, then runs it.
pub fn dispatch(command: Command, cx: &Context) -> Result<Outcome> {
    match command {
        Command::Action => action::run(cx),
        Command::Set(args) => set::run(&Settings::resolve(&args, &cx.env)?, cx),
        Command::Sync(args) => sync::run(&SyncSettings::resolve(&args, &cx.env)?, cx),
        Command::Explain(args) => explain::run(&ExplainSettings::resolve(&args, &cx.env)?, cx),
    }
}

impl Context {
    /// The context of this process.
    pub fn new(env: Env) -> Result<Context> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?;
        Ok(Context {
            actions: env.in_actions(),
            env,
            runtime: Arc::new(runtime),
        })
    }

    /// Opens the backend for `store`: a directory (with `git` for local
    /// commits), or the GitHub API.
    pub fn open(&self, store: &Store, git: bool, retry: RetrySettings) -> Result<Box<dyn Backend>> {
        Ok(match store {
            Store::Dir(dir) => {
                if !dir.is_dir() {
                    return Err(
                        UsageError(format!("--dir {}: not a directory", dir.display())).into(),
                    );
                }
                Box::new(Local::open(dir, git).map_err(|e| UsageError(e.to_string()))?)
            }
            Store::GitHub(config) => Box::new(GitHub::new(config, retry, self.runtime.clone())?),
        })
    }

    /// Inside Actions, writes `outputs` to `$GITHUB_OUTPUT` and `summary` to
    /// `$GITHUB_STEP_SUMMARY`, when the runner names them; a failure to
    /// write is a warning, not a failed run.
    pub fn write_action_files(&self, outputs: &[(&str, String)], summary: Option<&str>) {
        if !self.actions {
            return;
        }
        let path = |v: Var| self.env.get(v).map(PathBuf::from);
        if let Some(path) = path(Var::GithubOutput) {
            for (name, value) in outputs {
                if let Err(e) = gha::files::append_output(&path, name, value) {
                    report::warn(&format!("$GITHUB_OUTPUT: {e}"));
                    break;
                }
            }
        }
        if let (Some(path), Some(summary)) = (path(Var::GithubStepSummary), summary)
            && let Err(e) = gha::files::append_summary(&path, summary)
        {
            report::warn(&e);
        }
    }

    /// Inside Actions, where a step leaves a file named `name` for later
    /// steps (`$RUNNER_TEMP`); `None` outside Actions.
    pub fn report_file(&self, name: &str) -> Option<PathBuf> {
        if !self.actions {
            return None;
        }
        let dir = self
            .env
            .get(Var::RunnerTemp)
            .map_or_else(std::env::temp_dir, PathBuf::from);
        Some(dir.join(name))
    }

    /// A link to `commit` on GitHub, for the job summary; local commits
    /// have none.
    pub fn commit_url(&self, store: &Store, commit: Option<&str>) -> Option<String> {
        let Store::GitHub(gh) = store else {
            return None;
        };
        let server = self
            .env
            .get(Var::GithubServerUrl)
            .unwrap_or_else(|| "https://github.com".into());
        Some(format!(
            "{}/{}/commit/{}",
            server.trim_end_matches('/'),
            gh.repo,
            commit?
        ))
    }
}

//! gitops-bump: move image tags in a GitOps repository correctly.
//!
//! Every command flows through one spine, one module per step:
//!
//! `settings` (inputs) → `discover` → `resolve` → `plan` → `guard` →
//! `commit` (with verify) → `report`
//!
//! with the adapters apart: `backend` (`local`, `github`: where manifests
//! live), `registry` (the OCI distribution API) and `gha` (the GitHub
//! Actions wire format); and the engines: `manifest` (lossless YAML),
//! `policy` (tag selection) and `reference` (image references). `finding`
//! is the record every step produces and `secret` the one redacted string.
//! The commands in `cmd` are thin drivers over the spine; `tests/it/layers.rs`
//! keeps every module on its layer.

#![warn(missing_docs)]

pub mod backend;
pub mod cli;
pub mod cmd;
pub mod commit;
pub mod discover;
pub mod drift;
pub mod finding;
pub mod gha;
pub mod guard;
pub mod manifest;
pub mod plan;
pub mod policy;
pub mod reference;
pub mod registry;
pub mod report;
pub mod resolve;
pub mod secret;
pub mod settings;

pub use report::Outcome;

/// Runs a parsed command line. Usage errors come back as
/// [`settings::UsageError`] inside the `anyhow::Error` (exit 2).
pub fn run(cli: cli::Cli) -> anyhow::Result<Outcome> {
    let env = settings::Env::from_process();
    report::log::init(&report::log::LogConfig {
        verbose: cli.verbose,
        directive: env.get(settings::Var::GitopsBumpLog),
        runner_debug: env.in_actions()
            && env.get(settings::Var::RunnerDebug).as_deref() == Some("1"),
    })
    .map_err(|e| settings::UsageError(e.to_string()))?;
    let cx = cmd::Context::new(env)?;
    cmd::dispatch(cli.command, &cx)
}

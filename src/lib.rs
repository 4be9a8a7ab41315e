//! gitops-bump: move image tags in a GitOps repository correctly.
//!
//! Every command flows through one spine, one module per step:
//! `settings` (inputs) → `discover` → resolve → `plan` → `guard` →
//! commit/verify (`backend`: `local`, `github`) → `report`. `manifest` and
//! `reference` hold the pure engine; `set` wires the spine together; `retry`
//! holds the deadline and backoff shared by that loop and the network backend.

#![warn(missing_docs)]

pub mod actions;
pub mod backend;
pub mod cli;
pub mod discover;
pub mod explain;
pub mod github;
pub mod guard;
pub mod local;
pub mod manifest;
pub mod message;
pub mod plan;
pub mod policy;
pub mod reference;
pub mod report;
pub mod retry;
pub mod set;
pub mod settings;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0: done, including "nothing to change".
    Success,
    /// Exit 1: the job failed (a guard refused, verification failed).
    Failed,
}

/// Returns true if and only if this process runs as a GitHub Actions step.
fn in_actions() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

/// Runs a parsed command line. Usage errors come back as
/// [`settings::UsageError`] inside the `anyhow::Error` (exit 2).
pub fn run(cli: cli::Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        cli::Command::Set(args) => {
            let settings = settings::Settings::resolve(&args)?;
            let mut backend: Box<dyn backend::Backend> = match &settings.source {
                settings::Source::Dir(dir) => Box::new(
                    local::Local::open(dir, settings.commit && !settings.dry_run)
                        .map_err(|e| settings::UsageError(e.to_string()))?,
                ),
                settings::Source::GitHub(gh) => Box::new(github::GitHub::new(gh, settings.retry)?),
            };
            let r = set::run(&settings, backend.as_mut())?;
            match settings.output {
                cli::OutputFormat::Text => report::print_text(&r, in_actions()),
                cli::OutputFormat::Json => report::print_json(&r),
            }
            Ok(if r.errors.is_empty() {
                Outcome::Success
            } else {
                Outcome::Failed
            })
        }
        cli::Command::Explain(args) => {
            let e = explain::run(&args)?;
            match args.output.output {
                cli::OutputFormat::Text => report::print_explain_text(&e.image, &e.selection),
                cli::OutputFormat::Json => {
                    report::print_json_value(&report::ExplainJson::new(&e.selection, None))
                }
            }
            Ok(if e.selection.winner.is_some() {
                Outcome::Success
            } else {
                Outcome::Failed
            })
        }
    }
}

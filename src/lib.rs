//! gitops-bump: move image tags in a GitOps repository correctly.
//!
//! Every command flows through one spine, one module per step:
//! `settings` (inputs) → `discover` → `resolve` (over `registry`) → `plan` →
//! `guard` → commit/verify (`backend`: `local`, `github`) → `report`.
//! `manifest` and `reference` hold the pure engine; `set` wires the spine
//! together; `retry` holds the deadline and backoff shared by that loop and
//! the network backends.

#![warn(missing_docs)]

pub mod backend;
pub mod cli;
pub mod commit;
pub mod discover;
pub mod explain;
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
pub mod set;
pub mod settings;

pub use report::Outcome;

/// The `action` subcommand: masks secrets first, then turns `INPUT_*`
/// variables into a command line and runs it like any other.
fn run_action() -> anyhow::Result<Outcome> {
    use clap::Parser as _;
    let env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    let mut secrets: Vec<&str> = ["INPUT_TOKEN", "GITHUB_TOKEN", "GH_TOKEN"]
        .iter()
        .filter_map(|k| env.get(*k))
        .map(String::as_str)
        .collect();
    secrets.sort_unstable();
    secrets.dedup();
    report::mask(secrets.into_iter());
    for name in gha::inputs::unknown(&env) {
        report::warn(&format!(
            "{name} matches no input of this action; is `with:` misspelled?"
        ));
    }
    let args = gha::inputs::translate(&env).map_err(|e| settings::UsageError(e.to_string()))?;
    let cli = cli::Cli::try_parse_from(std::iter::once("gitops-bump".to_owned()).chain(args))
        .map_err(|e| {
            let text = e.render().to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("invalid arguments")
                .trim_start_matches("error: ");
            settings::UsageError(format!("inputs: {first}"))
        })?;
    if matches!(cli.command, cli::Command::Action) {
        return Err(settings::UsageError("input command: action is not a command".into()).into());
    }
    run(cli)
}

/// A link to the commit on GitHub, for the job summary; local commits have none.
fn commit_url(settings: &settings::Settings, commit: Option<&str>) -> Option<String> {
    let settings::Source::GitHub(gh) = &settings.source else {
        return None;
    };
    let server = std::env::var("GITHUB_SERVER_URL").unwrap_or_else(|_| "https://github.com".into());
    Some(format!(
        "{}/{}/commit/{}",
        server.trim_end_matches('/'),
        gh.repo,
        commit?
    ))
}

/// Writes outputs to `$GITHUB_OUTPUT` and a summary to
/// `$GITHUB_STEP_SUMMARY`, when the runner names them; a failure to write
/// is a warning, not a failed run.
fn write_action_files(outputs: &[(&str, String)], summary: Option<&str>) {
    let var = |k: &str| std::env::var_os(k).map(std::path::PathBuf::from);
    if let Some(path) = var("GITHUB_OUTPUT") {
        for (name, value) in outputs {
            if let Err(e) = gha::files::append_output(&path, name, value) {
                report::warn(&format!("$GITHUB_OUTPUT: {e}"));
                break;
            }
        }
    }
    if let (Some(path), Some(summary)) = (var("GITHUB_STEP_SUMMARY"), summary)
        && let Err(e) = gha::files::append_summary(&path, summary)
    {
        report::warn(&e);
    }
}

/// Returns true if and only if this process runs as a GitHub Actions step.
fn in_actions() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

/// Runs a parsed command line. Usage errors come back as
/// [`settings::UsageError`] inside the `anyhow::Error` (exit 2).
pub fn run(cli: cli::Cli) -> anyhow::Result<Outcome> {
    report::log::init();
    match cli.command {
        cli::Command::Action => run_action(),
        cli::Command::Set(args) => {
            let settings = settings::Settings::resolve(&args)?;
            let mut backend: Box<dyn backend::Backend> = match &settings.source {
                settings::Source::Dir(dir) => Box::new(
                    backend::local::Local::open(dir, settings.commit && !settings.dry_run)
                        .map_err(|e| settings::UsageError(e.to_string()))?,
                ),
                settings::Source::GitHub(gh) => {
                    Box::new(backend::github::GitHub::new(gh, settings.retry)?)
                }
            };
            let r = set::run(&settings, backend.as_mut())?;
            let actions = in_actions();
            if actions {
                let commit_url = commit_url(&settings, r.commit.as_deref());
                let summary = report::summary::set(&r, commit_url.as_deref());
                write_action_files(&report::outputs::set(&r), Some(&summary));
            }
            match settings.output {
                cli::OutputFormat::Text => report::text::set(
                    &mut std::io::stdout().lock(),
                    &mut std::io::stderr().lock(),
                    &r,
                    actions,
                ),
                cli::OutputFormat::Json => report::print_json(&report::json_v1::set(&r)),
            }
            Ok(report::exit_code(&r.findings, report::FailOn::Error))
        }
        cli::Command::Explain(args) => {
            let settings = settings::ExplainSettings::resolve(&args)?;
            let e = explain::run(&settings)?;
            match settings.output {
                cli::OutputFormat::Text => report::text::explain(
                    &mut std::io::stdout().lock(),
                    &mut std::io::stderr().lock(),
                    &e.image,
                    &e.selection,
                    e.digest.as_deref(),
                ),
                cli::OutputFormat::Json => report::print_json(&report::json_v1::explain(
                    &e.selection,
                    e.digest.clone(),
                    e.stats.clone(),
                )),
            }
            if in_actions() {
                write_action_files(
                    &report::outputs::explain(&e.selection, e.digest.as_deref()),
                    None,
                );
            }
            Ok(if e.selection.winner.is_some() {
                Outcome::Success
            } else {
                Outcome::Failed
            })
        }
    }
}

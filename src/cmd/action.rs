//! The hidden `action` command: how action.yml runs the binary. Masks
//! every secret first, then turns the `INPUT_*` variables into a command
//! line and runs it like any other.

use anyhow::Result;
use clap::Parser as _;

use super::Context;
use crate::cli;
use crate::report::{self, Outcome};
use crate::settings::UsageError;

/// Runs the command the action's inputs describe.
pub fn run(cx: &Context) -> Result<Outcome> {
    let env = cx.env.all();
    let mut secrets: Vec<&str> = ["INPUT_TOKEN", "GITHUB_TOKEN", "GH_TOKEN"]
        .iter()
        .filter_map(|k| env.get(*k))
        .map(String::as_str)
        .collect();
    secrets.sort_unstable();
    secrets.dedup();
    report::mask(secrets.into_iter());
    for name in crate::gha::inputs::unknown(env) {
        report::warn(&format!(
            "{name} matches no input of this action; is `with:` misspelled?"
        ));
    }
    let args = crate::gha::inputs::translate(env).map_err(|e| UsageError(e.to_string()))?;
    let cli = cli::Cli::try_parse_from(std::iter::once("gitops-bump".to_owned()).chain(args))
        .map_err(|e| {
            let text = e.render().to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("invalid arguments")
                .trim_start_matches("error: ");
            UsageError(format!("inputs: {first}"))
        })?;
    if matches!(cli.command, cli::Command::Action) {
        return Err(UsageError("input command: action is not a command".into()).into());
    }
    // `-v` in `extra-args`: the subscriber was installed before the inputs were read.
    report::log::raise(cli.verbose);
    super::dispatch(cli.command, cx)
}

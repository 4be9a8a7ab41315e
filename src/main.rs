//! Entry point: parse arguments, run, map the result to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // `--help` and `--version` exit here, before any runtime or I/O.
    let cli = gitops_bump::cli::Cli::parse();
    match gitops_bump::run(cli) {
        Ok(gitops_bump::Outcome::Success) => ExitCode::SUCCESS,
        Ok(gitops_bump::Outcome::Failed) => ExitCode::from(1),
        Err(e) => {
            gitops_bump::report::fatal(
                &format!("{e:#}"),
                gitops_bump::settings::Env::from_process().in_actions(),
            );
            ExitCode::from(gitops_bump::report::error_exit_code(&e))
        }
    }
}

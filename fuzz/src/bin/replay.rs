//! Runs one target on saved inputs without AFL++, to triage a crash:
//! `replay TARGET FILE...`. Exits non-zero at the first panic.

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(name) = args.next() else {
        eprintln!("usage: replay TARGET FILE...");
        return ExitCode::from(2);
    };
    let Some(target) = gitops_bump_fuzz::targets::target(&name) else {
        eprintln!("replay: no target {name:?}");
        return ExitCode::from(2);
    };
    for path in args {
        let data = match std::fs::read(&path) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("replay: {path}: {e}");
                return ExitCode::from(2);
            }
        };
        eprintln!("replay: {name} {path}");
        target(&data);
    }
    ExitCode::SUCCESS
}

//! The log subscriber: lower layers (the registry and GitHub clients, the
//! write loop) emit `tracing` events instead of printing, and this prints
//! them.
//!
//! - WARN and ERROR events, always, as one `warning: {message}` line on
//!   stderr (the message only).
//! - With `-v` (info), `-vv` (debug), `-vvv` (trace) — gitops-bump's own
//!   events — or `GITOPS_BUMP_LOG` (an env-filter directive such as `debug`
//!   or `gitops_bump::registry=debug`, which wins over `-v`): every other
//!   event as one line on stderr, `{level} {target}: {message} {field}={value}…`.
//!   Fields are printed as the code records them; the clients record
//!   method, host, path, status, milliseconds, attempt and retry reasons,
//!   never a header, query string or token.
//! - Inside GitHub Actions with `RUNNER_DEBUG=1` (a re-run with debug
//!   logging): gitops-bump's debug events as `::debug::` lines on stdout,
//!   which the runner shows only in such runs.
//!
//! Every line goes through [`super::safe`]: fields carry paths and names
//! that a registry or repository chose.

use std::io::Write as _;
use std::sync::OnceLock;

use tracing::Level;
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::{Layer, reload};

/// What to log, from the command line and the environment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogConfig {
    /// How many `-v` were given: 1 info, 2 debug, 3 or more trace.
    pub verbose: u8,
    /// `GITOPS_BUMP_LOG`, an env-filter directive; wins over `verbose`.
    pub directive: Option<String>,
    /// Inside GitHub Actions with `RUNNER_DEBUG=1`: debug events become
    /// `::debug::` lines on stdout.
    pub runner_debug: bool,
}

/// `GITOPS_BUMP_LOG` is not an env-filter directive (exit 2).
#[derive(Debug, thiserror::Error)]
#[error(
    "GITOPS_BUMP_LOG {directive:?}: {reason} (expected a level such as `debug`, or `target=level` pairs such as `gitops_bump::registry=debug`)"
)]
pub struct LogError {
    /// The value given.
    pub directive: String,
    /// The parser's reason.
    pub reason: String,
}

/// Installs the process's log subscriber for `config`. Only the first call
/// installs one; a later call (the `action` command, after reading
/// `extra-args`) may only make it more verbose: see [`raise`].
pub fn init(config: &LogConfig) -> Result<(), LogError> {
    let filter = filter(config)?;
    if STATE.get().is_some() {
        raise(config.verbose);
        return Ok(());
    }
    let (filter, handle) = reload::Layer::new(filter);
    let events = EventLines {
        debug_commands: config.runner_debug,
    }
    .with_filter(filter);
    let subscriber = tracing_subscriber::registry()
        .with(WarningLines.with_filter(LevelFilter::WARN))
        .with(events);
    if tracing::subscriber::set_global_default(subscriber).is_ok() {
        let config = config.clone();
        let _ = STATE.set(State {
            config: std::sync::Mutex::new(config),
            reload: Box::new(move |f| {
                let _ = handle.reload(f);
            }),
        });
    }
    Ok(())
}

/// Makes the installed subscriber at least as verbose as `verbose` `-v`
/// flags, unless `GITOPS_BUMP_LOG` chose the filter.
pub fn raise(verbose: u8) {
    let Some(state) = STATE.get() else { return };
    let Ok(mut config) = state.config.lock() else {
        return;
    };
    if config.directive.is_some() || verbose <= config.verbose {
        return;
    }
    config.verbose = verbose;
    if let Ok(f) = filter(&config) {
        (state.reload)(f);
    }
}

/// The filter of the event lines for `config`.
fn filter(config: &LogConfig) -> Result<EnvFilter, LogError> {
    if let Some(directive) = &config.directive {
        return EnvFilter::builder()
            .with_regex(false)
            .parse(directive)
            .map_err(|e| LogError {
                directive: directive.clone(),
                reason: e.to_string(),
            });
    }
    let level = match (config.verbose, config.runner_debug) {
        (0, false) => "off",
        (1, false) => "info",
        (0..=2, _) => "debug",
        _ => "trace",
    };
    Ok(EnvFilter::new(format!("gitops_bump={level}")))
}

struct State {
    config: std::sync::Mutex<LogConfig>,
    reload: Box<dyn Fn(EnvFilter) + Send + Sync>,
}

static STATE: OnceLock<State> = OnceLock::new();

/// Prints WARN and ERROR events as `warning: {message}` lines.
struct WarningLines;

impl<S: tracing::Subscriber> Layer<S> for WarningLines {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        super::warn(&fields.message);
    }
}

/// Prints the events its filter lets through (below WARN: warnings are
/// [`WarningLines`]'), with their fields.
struct EventLines {
    /// `::debug::` lines on stdout instead of plain lines on stderr.
    debug_commands: bool,
}

impl<S: tracing::Subscriber> Layer<S> for EventLines {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let meta = event.metadata();
        if *meta.level() <= Level::WARN {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        // `::debug::` says the level already.
        let level = if self.debug_commands && *meta.level() == Level::DEBUG {
            String::new()
        } else {
            format!("{} ", meta.level().as_str().to_ascii_lowercase())
        };
        let line = format!(
            "{level}{}: {}{}",
            meta.target(),
            fields.message,
            fields.rest
        );
        if self.debug_commands {
            let command = crate::gha::commands::command("debug", &[], &super::safe::line(&line));
            let _ = super::safe::Lines::new(std::io::stdout().lock()).command(&command);
        } else {
            let _ = writeln!(super::safe::Lines::new(std::io::stderr().lock()), "{line}");
        }
    }
}

/// An event's `message`, and its other fields as ` name=value` (strings
/// quoted, `%`-recorded values as displayed: the `fmt` subscriber's style).
#[derive(Default)]
struct Fields {
    message: String,
    rest: String,
}

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.rest.push_str(&format!(" {}={value:?}", field.name()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_follows_the_flags_and_the_directive_wins() {
        let f = |verbose, directive: Option<&str>, runner_debug| {
            filter(&LogConfig {
                verbose,
                directive: directive.map(str::to_owned),
                runner_debug,
            })
            .map(|f| f.to_string())
        };
        assert_eq!(f(0, None, false).expect("valid"), "gitops_bump=off");
        assert_eq!(f(1, None, false).expect("valid"), "gitops_bump=info");
        assert_eq!(f(2, None, false).expect("valid"), "gitops_bump=debug");
        assert_eq!(f(0, None, true).expect("valid"), "gitops_bump=debug");
        assert_eq!(f(3, None, false).expect("valid"), "gitops_bump=trace");
        assert_eq!(
            f(2, Some("gitops_bump::registry=debug"), false).expect("valid"),
            "gitops_bump::registry=debug"
        );
        let e = f(0, Some("gitops_bump=loud"), false).expect_err("invalid");
        assert!(
            e.to_string()
                .starts_with("GITOPS_BUMP_LOG \"gitops_bump=loud\": "),
            "{e}"
        );
    }
}

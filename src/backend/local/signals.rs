//! Signals during a local write. While a [`Guard`] lives, SIGINT and
//! SIGTERM are caught and recorded instead of killing the process, so the
//! writer can remove its temporary files, or finish the renames it started,
//! and then stop with one line. Outside a guard they keep their default
//! action: reading and planning change nothing on disk, so dying at once is
//! right there.
//!
//! Built on `signal-hook`'s flag handlers (async-signal-safe atomics, no
//! unsafe code here). Its handlers stay installed once registered, so the
//! default action is emulated whenever no guard is active. A signal the
//! process inherited as ignored (`nohup`, a background job of a
//! non-interactive shell) stays ignored: on Linux that is read from
//! `/proc/self/status`; elsewhere both signals are assumed to have their
//! default action. Does nothing on platforms without Unix signals.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// A caught signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Signal {
    /// Its number.
    pub number: i32,
    /// Its name (`SIGTERM`).
    pub name: &'static str,
}

/// Catches SIGINT and SIGTERM for as long as it lives (and as long as any
/// other guard of the process lives).
pub(crate) struct Guard {
    hooks: Option<&'static Hooks>,
}

impl Guard {
    /// Starts catching. Fails only when the handlers cannot be installed.
    pub fn install() -> Result<Guard, String> {
        match HOOKS.get_or_init(Hooks::register) {
            Ok(hooks) => Ok(Guard::on(hooks)),
            Err(e) => Err(format!("cannot handle signals: {e}")),
        }
    }

    fn on(hooks: &'static Hooks) -> Guard {
        let mut active = hooks.active.lock().unwrap_or_else(|p| p.into_inner());
        if *active == 0 {
            hooks.caught.store(0, Ordering::SeqCst);
        }
        *active += 1;
        hooks.unguarded.store(false, Ordering::SeqCst);
        Guard { hooks: Some(hooks) }
    }

    /// A guard that catches nothing, for writes that need no protection.
    #[cfg(test)]
    pub fn none() -> Guard {
        Guard { hooks: None }
    }

    /// The signal caught since the guard was installed, if any.
    pub fn caught(&self) -> Option<Signal> {
        let number = self.hooks?.caught.load(Ordering::SeqCst);
        let number = i32::try_from(number).ok().filter(|n| *n != 0)?;
        Some(Signal {
            number,
            name: name(number),
        })
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let Some(hooks) = self.hooks else { return };
        let mut active = hooks.active.lock().unwrap_or_else(|p| p.into_inner());
        *active = active.saturating_sub(1);
        if *active == 0 {
            hooks.unguarded.store(true, Ordering::SeqCst);
        }
    }
}

/// The process-wide handler state, registered once.
struct Hooks {
    /// True while no guard is active: the handlers then act as the default.
    unguarded: Arc<AtomicBool>,
    /// The last signal caught while guarded (0: none).
    caught: Arc<AtomicUsize>,
    /// Guards alive (writes may overlap in tests, which run on threads).
    active: Mutex<usize>,
}

static HOOKS: OnceLock<Result<Hooks, String>> = OnceLock::new();

impl Hooks {
    fn unregistered() -> Hooks {
        Hooks {
            unguarded: Arc::new(AtomicBool::new(true)),
            caught: Arc::new(AtomicUsize::new(0)),
            active: Mutex::new(0),
        }
    }
}

#[cfg(unix)]
impl Hooks {
    fn register() -> Result<Hooks, String> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let hooks = Hooks::unregistered();
        let ignored = inherited_ignores();
        for signal in [SIGINT, SIGTERM] {
            if ignored.contains(&signal) {
                continue;
            }
            // Order matters: the default action runs first when unguarded,
            // so an unguarded signal never reaches the flag.
            signal_hook::flag::register_conditional_default(signal, hooks.unguarded.clone())
                .and_then(|_| {
                    signal_hook::flag::register_usize(
                        signal,
                        hooks.caught.clone(),
                        usize::try_from(signal).unwrap_or(usize::MAX),
                    )
                })
                .map_err(|e| format!("{}: {e}", name(signal)))?;
        }
        Ok(hooks)
    }
}

#[cfg(not(unix))]
impl Hooks {
    fn register() -> Result<Hooks, String> {
        Ok(Hooks::unregistered())
    }
}

/// The signal's name, for the one line the run ends with.
fn name(signal: i32) -> &'static str {
    #[cfg(unix)]
    if let Some(name) = signal_hook::low_level::signal_name(signal) {
        return name;
    }
    let _ = signal;
    "a signal"
}

/// Signals this process inherited as ignored (Linux: the `SigIgn` mask of
/// `/proc/self/status`, bit `n - 1` for signal `n`).
#[cfg(unix)]
fn inherited_ignores() -> Vec<i32> {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return Vec::new();
    };
    let Some(mask) = status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
    else {
        return Vec::new();
    };
    (1..=64).filter(|n| mask & (1 << (n - 1)) != 0).collect()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn inherited_ignores_reads_the_mask() {
        // The test harness ignores SIGPIPE (Rust's runtime does), and
        // nothing else this module handles.
        if std::path::Path::new("/proc/self/status").exists() {
            let ignored = inherited_ignores();
            assert!(ignored.contains(&13), "{ignored:?}");
        }
    }

    #[test]
    fn guards_nest_and_report_what_they_caught() {
        let hooks: &'static Hooks = Box::leak(Box::new(Hooks::unregistered()));
        let a = Guard::on(hooks);
        let b = Guard::on(hooks);
        hooks.caught.store(15, Ordering::SeqCst);
        drop(a);
        assert!(!hooks.unguarded.load(Ordering::SeqCst), "b still guards");
        assert_eq!(
            b.caught(),
            Some(Signal {
                number: 15,
                name: "SIGTERM"
            })
        );
        drop(b);
        assert!(hooks.unguarded.load(Ordering::SeqCst));
        // A new write starts with nothing caught.
        assert_eq!(Guard::on(hooks).caught(), None);
        assert_eq!(Guard::none().caught(), None);
    }
}

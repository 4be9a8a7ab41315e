//! Retry timing shared by the set loop and the network backends: the run's
//! deadline and exponential backoff with full jitter. Owns no I/O and no
//! failure classification; callers decide *whether* to retry, this module
//! only says *how long* to wait and whether the budget allows it.

use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

/// Bounds on retries, shared by the write loop and the network backends
/// (`--max-attempts`, `--deadline`).
#[derive(Clone, Copy, Debug)]
pub struct RetrySettings {
    /// Most attempts at one write, and at one API request.
    pub max_attempts: usize,
    /// Total time for all retries and waits of one run.
    pub deadline: Duration,
}

/// The wall-clock budget of one run (`--deadline`).
#[derive(Clone, Copy, Debug)]
pub struct Deadline {
    at: Instant,
    total: Duration,
}

impl Deadline {
    /// A deadline `total` from now.
    pub fn after(total: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + total,
            total,
        }
    }

    /// Time left, zero when passed.
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// Returns true if and only if waiting `wait` would end past the deadline.
    pub fn exceeded_by(&self, wait: Duration) -> bool {
        Instant::now() + wait > self.at
    }

    /// The configured total, for messages.
    pub fn total(&self) -> Duration {
        self.total
    }
}

/// Exponential backoff with full jitter: each wait is uniform in
/// `[0, base]`, where `base` doubles from `min` up to `max`.
///
/// NOTE: backon's own jitter adds `(0, base)` on top of `base`, which keeps
/// synchronised writers synchronised; full jitter (AWS architecture blog,
/// "Exponential Backoff And Jitter") spreads them, which is what many CAS
/// writers on one branch need. backon supplies the capped exponential series.
#[derive(Debug)]
pub struct Backoff {
    series: ExponentialBackoff,
    max: Duration,
}

impl Backoff {
    /// A series from `min` doubling to `max`.
    pub fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            series: ExponentialBuilder::default()
                .with_min_delay(min)
                .with_max_delay(max)
                .with_factor(2.0)
                .without_max_times()
                .build(),
            max,
        }
    }

    /// For compare-and-swap misses: starts short, because the competitor has
    /// already finished its write, but grows past one read-plan-write round
    /// (~100 ms) quickly so that many writers on one branch spread out.
    pub fn cas() -> Backoff {
        Backoff::new(Duration::from_millis(100), Duration::from_secs(5))
    }

    /// For server errors and dropped connections.
    pub fn server() -> Backoff {
        Backoff::new(Duration::from_millis(250), Duration::from_secs(16))
    }

    /// The next wait.
    pub fn next_wait(&mut self) -> Duration {
        let base = self.series.next().unwrap_or(self.max);
        base.mul_f64(fastrand::f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_jitter_stays_under_the_capped_series() {
        let mut b = Backoff::new(Duration::from_millis(10), Duration::from_millis(80));
        let caps = [10, 20, 40, 80, 80, 80];
        for cap in caps {
            assert!(b.next_wait() <= Duration::from_millis(cap));
        }
    }

    #[test]
    fn deadline_counts_down() {
        let d = Deadline::after(Duration::from_secs(60));
        assert!(d.remaining() <= Duration::from_secs(60));
        assert!(!d.exceeded_by(Duration::from_secs(1)));
        assert!(d.exceeded_by(Duration::from_secs(61)));
        assert!(Deadline::after(Duration::ZERO).exceeded_by(Duration::from_millis(1)));
    }
}

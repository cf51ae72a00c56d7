//! Clock helpers: Baton stores times as Unix milliseconds and shows them as ISO 8601.
//!
//! Most code reads the wall clock through [`now_ms`]. Code whose timing is worth testing
//! without waiting (the scheduler's chores) takes a [`Clock`] instead: [`SystemClock`] in
//! the binaries, [`ManualClock`] in tests, which step it.

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as u64)
        .unwrap_or(0)
}

/// Formats Unix milliseconds as an ISO 8601 UTC timestamp with microseconds
/// (`2021-03-04T12:27:11.245700+00:00`).
pub fn iso8601(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, false)
}

/// A source of "now", in Unix milliseconds.
pub trait Clock: Send + Sync + Debug {
    /// Milliseconds since the Unix epoch, now.
    fn now_ms(&self) -> u64;
}

/// The wall clock ([`now_ms`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        now_ms()
    }
}

/// A clock that stands still until it is set or advanced: tests step it instead of sleeping.
#[derive(Debug, Default)]
pub struct ManualClock {
    now_ms: AtomicU64,
}

impl ManualClock {
    /// A clock showing `now_ms` (Unix ms).
    pub fn new(now_ms: u64) -> Self {
        Self {
            now_ms: AtomicU64::new(now_ms),
        }
    }

    /// Shows `now_ms` from now on (it may go back).
    pub fn set(&self, now_ms: u64) {
        self.now_ms.store(now_ms, Ordering::SeqCst);
    }

    /// Moves the clock forward by `by`; returns the new time.
    pub fn advance(&self, by: Duration) -> u64 {
        let by = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.now_ms
            .fetch_add(by, Ordering::SeqCst)
            .saturating_add(by)
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.now_ms.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_show_as_utc_with_microseconds() {
        assert_eq!(
            iso8601(1_614_860_831_245),
            "2021-03-04T12:27:11.245000+00:00"
        );
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000000+00:00");
    }

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(1_000);
        assert_eq!(clock.now_ms(), 1_000);
        assert_eq!(clock.now_ms(), 1_000);
        assert_eq!(clock.advance(Duration::from_millis(250)), 1_250);
        assert_eq!(clock.now_ms(), 1_250);
        clock.set(500);
        assert_eq!(clock.now_ms(), 500);
    }

    #[test]
    fn the_system_clock_is_the_wall_clock() {
        let before = now_ms();
        let read = SystemClock.now_ms();
        assert!(read >= before && read <= now_ms());
    }

    #[test]
    fn clocks_are_usable_behind_a_shared_pointer() {
        let clock: std::sync::Arc<dyn Clock> = std::sync::Arc::new(ManualClock::new(7));
        assert_eq!(clock.now_ms(), 7);
    }
}

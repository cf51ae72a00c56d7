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
    Iso8601(ms).to_string()
}

/// Unix milliseconds shown as [`iso8601`] formats them, without allocating: for answers that
/// show many times (a list's runs), serialised straight into the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Iso8601(pub u64);

impl Iso8601 {
    /// Length of the text of a time in the years 0 to 9999.
    const LEN: usize = "2021-03-04T12:27:11.245700+00:00".len();

    /// The time as text; `None` outside the years 0 to 9999, which chrono formats itself.
    fn text(self) -> Option<[u8; Self::LEN]> {
        use chrono::{Datelike, Timelike};
        let time = chrono::DateTime::from_timestamp_millis(self.0 as i64).unwrap_or_default();
        let year = u32::try_from(time.year())
            .ok()
            .filter(|year| *year <= 9999)?;
        let mut text = *b"0000-00-00T00:00:00.000000+00:00";
        let mut digits = |at: usize, width: usize, mut value: u32| {
            for place in (at..at + width).rev() {
                text[place] = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        digits(0, 4, year);
        digits(5, 2, time.month());
        digits(8, 2, time.day());
        digits(11, 2, time.hour());
        digits(14, 2, time.minute());
        digits(17, 2, time.second());
        digits(20, 6, time.nanosecond() / 1000);
        Some(text)
    }
}

impl std::fmt::Display for Iso8601 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.text() {
            Some(text) => f.write_str(std::str::from_utf8(&text).map_err(|_| std::fmt::Error)?),
            None => f.write_str(
                &chrono::DateTime::from_timestamp_millis(self.0 as i64)
                    .unwrap_or_default()
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, false),
            ),
        }
    }
}

impl serde::Serialize for Iso8601 {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.text() {
            Some(text) => serializer
                .serialize_str(std::str::from_utf8(&text).map_err(serde::ser::Error::custom)?),
            None => serializer.collect_str(self),
        }
    }
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
    fn times_read_as_chrono_formats_them_in_text_and_in_json() {
        let chrono_text = |ms: u64| {
            chrono::DateTime::from_timestamp_millis(ms as i64)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, false)
        };
        // Leap days, year ends, the last millisecond of year 9999, years beyond it and
        // times past chrono's range (the epoch), and a walk over sixty thousand years.
        let mut times = vec![
            951_782_400_000,
            1_709_164_800_999,
            1_735_689_599_999,
            253_402_300_799_999,
            253_402_300_800_000,
            u64::MAX,
            i64::MAX as u64,
        ];
        times.extend((0..20_000u64).map(|step| step * 94_608_000_123 + step % 1000));
        for ms in times {
            let expected = chrono_text(ms);
            assert_eq!(iso8601(ms), expected, "{ms}");
            assert_eq!(
                serde_json::to_string(&Iso8601(ms)).unwrap(),
                format!("\"{expected}\""),
                "{ms}"
            );
        }
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

//! When something done every so often is due again, by the scheduler's [clock](common::time).

use std::sync::atomic::{AtomicU64, Ordering};

/// The last start of something done every so often: none yet, so the first is due at once.
const NEVER: u64 = u64::MAX;

/// When something done every so often last started (Unix ms, by the scheduler's clock).
#[derive(Debug)]
pub struct Cadence {
    last_ms: AtomicU64,
}

impl Cadence {
    /// Never started: due at once.
    pub const fn new() -> Self {
        Self {
            last_ms: AtomicU64::new(NEVER),
        }
    }

    /// Whether, at `now_ms`, `every_ms` have passed since the last start. A clock that went
    /// back before the last start makes it due at once rather than after the clock catches up.
    pub fn is_due(&self, now_ms: u64, every_ms: u64) -> bool {
        let last = self.last_ms.load(Ordering::Acquire);
        last == NEVER || now_ms < last || now_ms - last >= every_ms
    }

    /// Records a start at `now_ms`.
    pub fn started(&self, now_ms: u64) {
        self.last_ms.store(now_ms, Ordering::Release);
    }

    /// Records a start at `now_ms` when one is due; true when it was.
    pub fn start_if_due(&self, now_ms: u64, every_ms: u64) -> bool {
        let due = self.is_due(now_ms, every_ms);
        if due {
            self.started(now_ms);
        }
        due
    }
}

impl Default for Cadence {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_at_once_then_once_per_interval() {
        let cadence = Cadence::new();
        assert!(cadence.start_if_due(1_000, 500));
        assert!(!cadence.start_if_due(1_000, 500));
        assert!(!cadence.start_if_due(1_499, 500));
        assert!(cadence.start_if_due(1_500, 500));
        assert!(!cadence.is_due(1_999, 500));
        assert!(cadence.is_due(2_000, 500));
    }

    #[test]
    fn due_at_once_from_time_zero_too() {
        let cadence = Cadence::new();
        assert!(cadence.start_if_due(0, 60_000));
        assert!(!cadence.start_if_due(59_999, 60_000));
    }

    #[test]
    fn a_clock_gone_back_makes_it_due() {
        let cadence = Cadence::new();
        cadence.started(10_000);
        assert!(!cadence.is_due(10_001, 500));
        assert!(cadence.is_due(9_000, 500));
    }
}

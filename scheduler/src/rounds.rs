//! Chores that call other services run in the background, one round at a time: the tick only
//! starts a round when one is due and none is under way, so the engine's chores never wait on
//! a remote service.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use common::time::now_ms;

/// The bookkeeping of one background chore: one per process, since ticks are free functions.
#[derive(Debug)]
pub struct Rounds {
    /// Whether a round is under way.
    running: AtomicBool,
    /// When the last round started (Unix ms; 0: never, so the first is due at once).
    last_started_ms: AtomicU64,
}

impl Rounds {
    /// No round started yet.
    pub const fn new() -> Self {
        Self {
            running: AtomicBool::new(false),
            last_started_ms: AtomicU64::new(0),
        }
    }

    /// Spawns `round` when `every_ms` have passed since the last one started and none is
    /// running; true when started.
    pub fn start_if_due<F>(&'static self, every_ms: u64, round: F) -> bool
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let now = now_ms();
        if now.saturating_sub(self.last_started_ms.load(Ordering::Relaxed)) < every_ms {
            return false;
        }
        if self.running.swap(true, Ordering::AcqRel) {
            return false;
        }
        self.last_started_ms.store(now, Ordering::Relaxed);
        tokio::spawn(async move {
            round.await;
            self.running.store(false, Ordering::Release);
        });
        true
    }
}

impl Default for Rounds {
    fn default() -> Self {
        Self::new()
    }
}

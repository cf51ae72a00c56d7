//! Chores that call other services run in the background, one round at a time: the tick only
//! starts a round when one is due and none is under way, so the engine's chores never wait on
//! a remote service.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;

use crate::cadence::Cadence;

/// The bookkeeping of one background chore; the [`Chores`](crate::chores::Chores) own one per
/// chore.
#[derive(Debug)]
pub struct Rounds {
    /// Whether a round is under way.
    running: Arc<watch::Sender<bool>>,
    /// When the last round started.
    cadence: Cadence,
}

impl Rounds {
    /// No round started yet: the first is due at once.
    pub fn new() -> Self {
        Self {
            running: Arc::new(watch::Sender::new(false)),
            cadence: Cadence::new(),
        }
    }

    /// Spawns `round` when, at `now_ms`, `every_ms` have passed since the last one started and
    /// none is running; true when started.
    pub fn start_if_due<F>(&self, now_ms: u64, every_ms: u64, round: F) -> bool
    where
        F: Future<Output = ()> + Send + 'static,
    {
        if !self.cadence.is_due(now_ms, every_ms) {
            return false;
        }
        let started = self.running.send_if_modified(|running| {
            let idle = !*running;
            *running = true;
            idle
        });
        if !started {
            return false;
        }
        self.cadence.started(now_ms);
        let running = Arc::clone(&self.running);
        tokio::spawn(async move {
            round.await;
            running.send_replace(false);
        });
        true
    }

    /// Whether a round is under way.
    pub fn is_running(&self) -> bool {
        *self.running.borrow()
    }

    /// Waits until no round is under way.
    pub async fn idle(&self) {
        let mut running = self.running.subscribe();
        // The sender lives as long as `self`: waiting cannot fail.
        let _ = running.wait_for(|running| !*running).await;
    }
}

impl Default for Rounds {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::oneshot;

    #[tokio::test]
    async fn a_round_starts_once_per_interval_and_never_beside_a_running_one() {
        let rounds = Rounds::new();
        let (finish, finished) = oneshot::channel::<()>();
        assert!(rounds.start_if_due(1_000, 500, async move {
            let _ = finished.await;
        }));
        assert!(rounds.is_running());
        assert!(
            !rounds.start_if_due(1_000, 500, async {}),
            "not due yet, and one runs"
        );
        assert!(
            !rounds.start_if_due(1_600, 500, async {}),
            "due, but one still runs"
        );
        finish.send(()).unwrap();
        rounds.idle().await;
        assert!(!rounds.is_running());
        assert!(rounds.start_if_due(1_600, 500, async {}), "due and idle");
        rounds.idle().await;
        assert!(
            !rounds.start_if_due(2_099, 500, async {}),
            "the interval counts from the last start"
        );
        assert!(rounds.start_if_due(2_100, 500, async {}));
        rounds.idle().await;
    }
}

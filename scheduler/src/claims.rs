//! The human claims chore: returns to the pool every claimed human task whose holder has done
//! nothing on it (no claim, no save) for `BATON_HUMAN_CLAIM_TIMEOUT_SECS`, so an abandoned
//! task waits for anyone again (see [`Store::release_abandoned_human_tasks`]; each release is
//! logged). Sweeps run in the [background](crate::rounds), one at a time, a few times per
//! timeout.
//!
//! A claim is returned once its holder's last activity is older than the timeout by the
//! scheduler's [clock](common::time::Clock) and its pending entry has been idle that long by
//! Redis's clock.

use std::sync::Arc;

use common::store::Store;
use common::time::Clock;

use crate::rounds::Rounds;

/// Settings of the chore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimSettings {
    /// Milliseconds a claim may go without activity; `None`: claims are never returned.
    pub timeout_ms: Option<u64>,
}

impl ClaimSettings {
    /// The settings for a timeout of `secs` seconds (0: never).
    pub fn from_secs(secs: u64) -> Self {
        Self {
            timeout_ms: (secs > 0).then(|| secs.saturating_mul(1000)),
        }
    }
}

/// Starts a sweep in the background when one is due on `clock` and none of `rounds` is
/// running; true when started.
pub fn sweep_if_due(
    rounds: &Rounds,
    clock: &Arc<dyn Clock>,
    store: &Store,
    settings: &ClaimSettings,
) -> bool {
    let Some(timeout_ms) = settings.timeout_ms else {
        return false;
    };
    let (store, clock) = (store.clone(), Arc::clone(clock));
    rounds.start_if_due(clock.now_ms(), sweep_every_ms(timeout_ms), async move {
        match store
            .release_abandoned_human_tasks(timeout_ms, clock.now_ms())
            .await
        {
            Ok(released) if !released.is_empty() => {
                tracing::info!(
                    released = released.len(),
                    timeout_ms,
                    "abandoned human claims returned to the pool"
                );
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(cause = %error, "human claim sweep failed"),
        }
    })
}

/// Milliseconds between sweeps: a quarter of the timeout, from a quarter of a second to a
/// minute.
pub fn sweep_every_ms(timeout_ms: u64) -> u64 {
    (timeout_ms / 4).clamp(250, 60_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_disables_and_sweeps_come_a_few_times_per_timeout() {
        assert_eq!(ClaimSettings::from_secs(0).timeout_ms, None);
        assert_eq!(ClaimSettings::from_secs(2).timeout_ms, Some(2000));
        assert_eq!(sweep_every_ms(2000), 500);
        assert_eq!(sweep_every_ms(100), 250);
        assert_eq!(sweep_every_ms(86_400_000), 60_000);
    }
}

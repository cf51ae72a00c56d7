//! Connecting when a service starts, while Redis may not be reachable yet: a deployment that
//! starts everything at once, a Redis restart, or a Sentinel or Cluster failover.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::{Store, StoreResult, redacted_url};
use crate::config::StoreOptions;

/// First wait between two attempts; each failure doubles it up to [`LONGEST_WAIT`].
const FIRST_WAIT: Duration = Duration::from_millis(100);
/// Longest wait between two attempts.
const LONGEST_WAIT: Duration = Duration::from_secs(2);

impl Store {
    /// Connects like [`Store::connect`], trying again for up to `patience` while the failure
    /// is Redis not being reachable for now ([`StoreError::is_transient`]); any other failure
    /// (a refused password, say) and the last one are returned at once.
    ///
    /// [`StoreError::is_transient`]: crate::error::StoreError::is_transient
    pub async fn connect_patiently(
        options: &StoreOptions,
        patience: Duration,
    ) -> StoreResult<Self> {
        let redis = redacted_url(&options.redis_url);
        patiently(&redis, "connecting", patience, || Self::connect(options)).await
    }
}

/// Runs `step`, a service's start-up work against Redis (`what` it does, for the logs, on
/// `redis`), again for up to `patience` while it fails only because Redis cannot be reached for
/// now ([`StoreError::is_transient`]): a Redis that drops the connection just after it was made
/// (a failover as the service starts) delays the start instead of ending it. Any other failure,
/// and the last one, are returned at once. `step` must be safe to run again after a failure
/// (preparing a queue, publishing definitions).
///
/// [`StoreError::is_transient`]: crate::error::StoreError::is_transient
pub async fn patiently<T, F, Fut>(
    redis: &str,
    what: &str,
    patience: Duration,
    mut step: F,
) -> StoreResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = StoreResult<T>>,
{
    let deadline = Instant::now() + patience;
    let mut wait = FIRST_WAIT;
    loop {
        match step().await {
            Err(error) if error.is_transient() && Instant::now() + wait <= deadline => {
                tracing::warn!(
                    redis,
                    step = what,
                    cause = %error,
                    retry_in_ms = wait.as_millis() as u64,
                    "waiting for Redis"
                );
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(LONGEST_WAIT);
            }
            result => return result,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::error::StoreError;

    fn dropped() -> StoreError {
        StoreError::Redis(std::io::Error::from(std::io::ErrorKind::BrokenPipe).into())
    }

    #[tokio::test(start_paused = true)]
    async fn a_step_that_fails_while_redis_is_away_is_run_again() {
        let calls = AtomicU32::new(0);
        let result = patiently("redis://test", "testing", Duration::from_secs(5), || {
            let call = calls.fetch_add(1, Ordering::SeqCst);
            async move { if call < 2 { Err(dropped()) } else { Ok(call) } }
        })
        .await;
        assert_eq!(result.unwrap(), 2);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn other_failures_and_the_last_are_returned() {
        let calls = AtomicU32::new(0);
        let result: StoreResult<()> =
            patiently("redis://test", "testing", Duration::from_secs(5), || {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err(StoreError::Corrupt("bad".into())) }
            })
            .await;
        assert!(matches!(result, Err(StoreError::Corrupt(_))));
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "not transient: not run again"
        );

        let calls = AtomicU32::new(0);
        let result: StoreResult<()> =
            patiently("redis://test", "testing", Duration::from_secs(1), || {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err(dropped()) }
            })
            .await;
        assert!(result.unwrap_err().is_transient());
        // Waits of 100, 200 and 400 ms fit in a second; the next (800) does not.
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }
}

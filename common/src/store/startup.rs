//! Connecting when a service starts, while Redis may not be reachable yet: a deployment that
//! starts everything at once, a Redis restart, or a Sentinel or Cluster failover.

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
        let deadline = Instant::now() + patience;
        let mut wait = FIRST_WAIT;
        loop {
            match Self::connect(options).await {
                Err(error) if error.is_transient() && Instant::now() + wait <= deadline => {
                    tracing::warn!(
                        redis = %redacted_url(&options.redis_url),
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
}

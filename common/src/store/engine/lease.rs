//! A leader lease: one holder at a time, kept by renewing before it lapses.

use crate::scripts;
use crate::store::{Store, StoreResult};

impl Store {
    /// Takes the scheduler lease for `holder`, or renews it if `holder` has it; true when
    /// `holder` is the leader for the next `lease_ms`.
    pub async fn acquire_scheduler_lease(&self, holder: &str, lease_ms: u64) -> StoreResult<bool> {
        let mut conn = self.conn().await?;
        let held: i64 = scripts::RENEW_LEASE
            .key(self.keys.scheduler_lease())
            .arg(holder)
            .arg(lease_ms)
            .invoke_async(&mut conn)
            .await?;
        Ok(held == 1)
    }

    /// Gives the scheduler lease up if `holder` has it, so a standby takes over at once.
    pub async fn release_scheduler_lease(&self, holder: &str) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        scripts::RELEASE_LEASE
            .key(self.keys.scheduler_lease())
            .arg(holder)
            .invoke_async::<i64>(&mut conn)
            .await?;
        Ok(())
    }

    /// The current leader's id, if any.
    pub async fn scheduler_leader(&self) -> StoreResult<Option<String>> {
        let mut conn = self.conn().await?;
        Ok(redis::cmd("GET")
            .arg(self.keys.scheduler_lease())
            .query_async(&mut conn)
            .await?)
    }
}

//! Task service health: what pings of `/status` and answers to actions say about a service.

use redis::AsyncCommands;

use super::records::{Record, TaskService};
use super::{Store, StoreResult};
use crate::releases::IdKind;
use crate::time::now_ms;

/// Failed pings in a row after which a service is marked `down` (more than this many).
pub const DOWN_AFTER_FAILED_PINGS: u32 = 3;

impl Store {
    /// Records that a task service answered (a ping or an action): `ok`, no failed pings.
    pub async fn record_service_answer(&self, service_id: &str) -> StoreResult<()> {
        if !IdKind::TaskService.is_valid(service_id) {
            return Ok(());
        }
        let key = self
            .keys
            .release_record(TaskService::COLLECTION, service_id);
        let mut conn = self.conn().await?;
        // Only an existing service: a deleted one must not come back as a stub.
        let exists: bool = conn.exists(&key).await?;
        if exists {
            let _: () = conn
                .hset_multiple(
                    &key,
                    &[
                        ("health_status", "ok".to_owned()),
                        ("last_ok_status", "0".to_owned()),
                        ("last_ok_ms", now_ms().to_string()),
                    ],
                )
                .await?;
        }
        Ok(())
    }

    /// Records a failed ping: one more in a row, and `down` past
    /// [`DOWN_AFTER_FAILED_PINGS`]. Returns the count of failed pings in a row.
    pub async fn record_service_failure(&self, service_id: &str) -> StoreResult<u32> {
        if !IdKind::TaskService.is_valid(service_id) {
            return Ok(0);
        }
        let key = self
            .keys
            .release_record(TaskService::COLLECTION, service_id);
        let mut conn = self.conn().await?;
        let exists: bool = conn.exists(&key).await?;
        if !exists {
            return Ok(0);
        }
        let failures: u32 = conn.hincr(&key, "last_ok_status", 1).await?;
        if failures > DOWN_AFTER_FAILED_PINGS {
            let _: () = conn.hset(&key, "health_status", "down").await?;
        }
        Ok(failures)
    }
}

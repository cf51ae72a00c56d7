//! The worker registry: each worker's heartbeat record, so live workers are visible.

use serde::{Deserialize, Serialize};

use super::{Store, StoreResult};

/// What a worker says about itself on every heartbeat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerRecord {
    /// Unique id (host, pid and a random suffix).
    pub id: String,
    /// Host name.
    pub host: String,
    /// Process id.
    pub pid: u32,
    /// Queues it consumes.
    pub queues: Vec<String>,
    /// Start time (Unix ms).
    pub started_ms: u64,
    /// Last heartbeat (Unix ms).
    pub last_seen_ms: u64,
    /// Jobs it is executing now.
    pub in_flight: usize,
    /// Jobs it has finished since it started.
    pub done: u64,
}

impl Store {
    /// Records a worker's heartbeat.
    pub async fn heartbeat(&self, record: &WorkerRecord) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        redis::cmd("HSET")
            .arg(self.keys.workers())
            .arg(&record.id)
            .arg(serde_json::to_string(record)?)
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    /// Removes a worker from the registry (on shutdown, or when found dead).
    pub async fn remove_worker(&self, id: &str) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        redis::cmd("HDEL")
            .arg(self.keys.workers())
            .arg(id)
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    /// Every registered worker.
    pub async fn workers(&self) -> StoreResult<Vec<WorkerRecord>> {
        let mut conn = self.conn().await?;
        let records: Vec<String> = redis::cmd("HVALS")
            .arg(self.keys.workers())
            .query_async(&mut conn)
            .await?;
        Ok(records
            .iter()
            .filter_map(|record| serde_json::from_str(record).ok())
            .collect())
    }

    /// Removes workers whose last heartbeat is older than `stale_ms`; returns their ids.
    pub async fn remove_dead_workers(&self, stale_ms: u64) -> StoreResult<Vec<String>> {
        let cutoff = crate::time::now_ms().saturating_sub(stale_ms);
        let mut dead = Vec::new();
        for worker in self.workers().await? {
            if worker.last_seen_ms < cutoff {
                self.remove_worker(&worker.id).await?;
                dead.push(worker.id);
            }
        }
        Ok(dead)
    }
}

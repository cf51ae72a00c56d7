//! The worker registry: each worker's heartbeat record, so live workers are visible and those
//! that stopped heart-beating are seen as stale until the scheduler forgets them.

use serde::{Deserialize, Serialize};

use crate::store::{Store, StoreResult};

/// Milliseconds between a worker's heartbeats, unless it is configured otherwise (its record
/// says which interval it keeps).
pub const HEARTBEAT_INTERVAL_MS: u64 = 2_000;

/// Heartbeats a worker may miss before it is taken for stale.
pub const MISSED_HEARTBEATS_BEFORE_STALE: u64 = 3;

/// Milliseconds a stale worker's record stays in the registry before the scheduler removes it,
/// unless the scheduler is configured otherwise.
pub const STALE_WORKER_KEPT_MS: u64 = 10 * 60 * 1_000;

fn default_heartbeat_ms() -> u64 {
    HEARTBEAT_INTERVAL_MS
}

/// A job a worker is executing, as its heartbeat lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InFlightJob {
    /// The run the job belongs to.
    pub run_id: String,
    /// The task's index in its run.
    pub task: u32,
    /// The task's name within its definition (empty when unknown).
    #[serde(default)]
    pub task_key: String,
    /// The queue the job came from.
    pub queue: String,
    /// When the worker started executing it (Unix ms).
    pub since_ms: u64,
}

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
    /// Jobs it executes at the same time at most (0 in records of older workers).
    #[serde(default)]
    pub concurrency: usize,
    /// The jobs it is executing now.
    #[serde(default)]
    pub jobs: Vec<InFlightJob>,
    /// Milliseconds between its heartbeats.
    #[serde(default = "default_heartbeat_ms")]
    pub heartbeat_ms: u64,
}

impl WorkerRecord {
    /// True once the worker has missed [`MISSED_HEARTBEATS_BEFORE_STALE`] heartbeats as of
    /// `now_ms`: it died, hangs, or lost Redis.
    pub fn is_stale(&self, now_ms: u64) -> bool {
        let interval = if self.heartbeat_ms == 0 {
            HEARTBEAT_INTERVAL_MS
        } else {
            self.heartbeat_ms
        };
        now_ms.saturating_sub(self.last_seen_ms) > interval * MISSED_HEARTBEATS_BEFORE_STALE
    }
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

    /// Every registered worker, live and stale (see [`WorkerRecord::is_stale`]), by id.
    pub async fn workers(&self) -> StoreResult<Vec<WorkerRecord>> {
        let mut conn = self.conn().await?;
        let records: Vec<String> = redis::cmd("HVALS")
            .arg(self.keys.workers())
            .query_async(&mut conn)
            .await?;
        let mut workers: Vec<WorkerRecord> = records
            .iter()
            .filter_map(|record| serde_json::from_str(record).ok())
            .collect();
        workers.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(workers)
    }

    /// The registered workers that are not stale as of `now_ms`, by id.
    pub async fn live_workers(&self, now_ms: u64) -> StoreResult<Vec<WorkerRecord>> {
        let mut workers = self.workers().await?;
        workers.retain(|worker| !worker.is_stale(now_ms));
        Ok(workers)
    }

    /// Removes workers whose last heartbeat is older than `stale_ms` at `now_ms`; returns
    /// their ids.
    pub async fn remove_dead_workers(
        &self,
        stale_ms: u64,
        now_ms: u64,
    ) -> StoreResult<Vec<String>> {
        let cutoff = now_ms.saturating_sub(stale_ms);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn record(last_seen_ms: u64, heartbeat_ms: u64) -> WorkerRecord {
        WorkerRecord {
            id: "w1".into(),
            host: "h".into(),
            pid: 1,
            queues: vec!["default".into()],
            started_ms: 0,
            last_seen_ms,
            in_flight: 0,
            done: 0,
            concurrency: 4,
            jobs: Vec::new(),
            heartbeat_ms,
        }
    }

    #[test]
    fn a_worker_is_stale_after_three_missed_heartbeats_of_its_own_interval() {
        let worker = record(10_000, 1_000);
        assert!(!worker.is_stale(10_000));
        assert!(!worker.is_stale(13_000));
        assert!(worker.is_stale(13_001));
        // A clock slightly behind the worker's is not staleness.
        assert!(!worker.is_stale(9_000));
        let unknown_interval = record(10_000, 0);
        assert!(!unknown_interval.is_stale(10_000 + 3 * HEARTBEAT_INTERVAL_MS));
        assert!(unknown_interval.is_stale(10_001 + 3 * HEARTBEAT_INTERVAL_MS));
    }

    #[test]
    fn records_of_older_workers_still_parse_with_defaults() {
        let old = r#"{"id":"w","host":"h","pid":7,"queues":["default"],"started_ms":1,
            "last_seen_ms":2,"in_flight":0,"done":3}"#;
        let parsed: WorkerRecord = serde_json::from_str(old).unwrap();
        assert_eq!(parsed.concurrency, 0);
        assert!(parsed.jobs.is_empty());
        assert_eq!(parsed.heartbeat_ms, HEARTBEAT_INTERVAL_MS);
        let round_trip: WorkerRecord =
            serde_json::from_str(&serde_json::to_string(&record(5, 1_000)).unwrap()).unwrap();
        assert_eq!(round_trip, record(5, 1_000));
    }
}

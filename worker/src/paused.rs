//! Which of the worker's queues are paused: re-read from Redis at least every second, and
//! with every batch of jobs read (in the same round trip, right after the read), so no job of
//! a queue paused before it was read is started. (A woken worker's take script reads the
//! queue's pause marker on the jobs' shard instead, in the same step as the read.)

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::engine::model::QueueName;
use common::error::StoreError;
use common::store::RedisConnection;
use common::store::Store;
use common::store::engine::jobs::Job;

/// Longest time the worker goes without re-reading the paused queues: a resumed queue's jobs
/// are taken again within about this long.
pub const PAUSED_REFRESH: Duration = Duration::from_secs(1);

/// The worker's view of the paused queues.
#[derive(Debug, Default)]
pub struct PausedQueues {
    paused: BTreeSet<QueueName>,
    read_at: Option<Instant>,
}

impl PausedQueues {
    /// The queues of `queues` not paused, re-reading the paused set when it is older than
    /// [`PAUSED_REFRESH`]. When Redis cannot say, the last known set stands.
    pub async fn active(&mut self, store: &Store, queues: &[QueueName]) -> Vec<QueueName> {
        let due = self
            .read_at
            .is_none_or(|read_at| read_at.elapsed() >= PAUSED_REFRESH);
        if due && let Err(error) = self.refresh(store).await {
            tracing::warn!(cause = %error, "cannot read the paused queues");
        }
        queues
            .iter()
            .filter(|queue| !self.paused.contains(*queue))
            .cloned()
            .collect()
    }

    /// Of jobs just read, the ones to start: those whose queue is not in `paused_now` (the
    /// paused queues as read right after the jobs). The others are handed back to their
    /// streams to wait for the queue's resume (should that fail, they stay pending and the
    /// scheduler puts them back after the visibility timeout).
    pub async fn keep_unpaused(
        &mut self,
        store: &Store,
        conn: &mut RedisConnection,
        jobs: Vec<Job>,
        paused_now: BTreeSet<QueueName>,
    ) -> Vec<Job> {
        self.paused = paused_now;
        self.read_at = Some(Instant::now());
        let (paused, kept): (Vec<Job>, Vec<Job>) = jobs
            .into_iter()
            .partition(|job| self.paused.contains(&job.queue));
        if !paused.is_empty() {
            match store.hand_back_jobs(conn, &paused).await {
                Ok(()) => {
                    tracing::info!(
                        jobs = paused.len(),
                        "queue paused meanwhile: jobs handed back"
                    )
                }
                Err(error) => {
                    tracing::error!(cause = %error, jobs = paused.len(), "cannot hand back jobs of a paused queue")
                }
            }
        }
        kept
    }

    /// Forgets when the paused set was read, so the next [`PausedQueues::active`] reads it:
    /// a take script found a queue's pause marker, so the set may have changed.
    pub fn read_again(&mut self) {
        self.read_at = None;
    }

    async fn refresh(&mut self, store: &Store) -> Result<(), StoreError> {
        self.paused = store.paused_queues().await?;
        self.read_at = Some(Instant::now());
        Ok(())
    }
}

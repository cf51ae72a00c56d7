//! The attempts a worker is executing, so they can be stopped (cancel, timeout, shutdown) and
//! kept alive in the consumer group while they run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use common::engine::model::{Priority, QueueName};
use common::keys::Shard;
use common::store::engine::jobs::Job;
use common::store::engine::workers::InFlightJob;
use common::time::now_ms;
use tokio_util::sync::CancellationToken;

/// Why an attempt was told to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// Its run was canceled.
    Canceled,
    /// It ran past its timeout.
    TimedOut,
    /// The worker is shutting down past its grace period.
    Shutdown,
}

/// The stop switch of one attempt: a token and the first reason it was pulled for.
#[derive(Debug, Clone, Default)]
pub struct StopSignal {
    /// Cancelled when the attempt must stop.
    pub token: CancellationToken,
    reason: Arc<OnceLock<StopReason>>,
}

impl StopSignal {
    /// Stops the attempt for `reason` (the first reason given wins).
    pub fn stop(&self, reason: StopReason) {
        let _ = self.reason.set(reason);
        self.token.cancel();
    }

    /// Why it was stopped, if it was.
    pub fn reason(&self) -> Option<StopReason> {
        self.reason.get().copied()
    }
}

/// One attempt being executed.
#[derive(Debug, Clone)]
pub struct InFlight {
    /// The job.
    pub job: Job,
    /// Its stop switch.
    pub stop: StopSignal,
    /// When it started.
    pub started: Instant,
    /// When it started (Unix ms), as the worker's heartbeat reports it.
    pub started_ms: u64,
    /// The task's name within its definition.
    pub task_key: String,
}

/// The stream entry a job was read from: its entry id is unique on its stream only (every
/// shard's stream of a queue and priority numbers its entries by the same clock, so two jobs
/// created in the same millisecond on two shards share an id).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct EntryKey {
    queue: QueueName,
    shard: Shard,
    priority: Priority,
    entry_id: String,
}

impl EntryKey {
    fn of(job: &Job) -> Self {
        Self {
            queue: job.queue.clone(),
            shard: job.shard,
            priority: job.priority,
            entry_id: job.entry_id.clone(),
        }
    }
}

/// Every attempt a worker is executing, by the stream entry of its job.
#[derive(Debug, Clone, Default)]
pub struct InFlightSet {
    attempts: Arc<Mutex<HashMap<EntryKey, InFlight>>>,
}

impl InFlightSet {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<EntryKey, InFlight>> {
        // A panic while holding this lock leaves only plain data behind; keep using it.
        self.attempts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds an attempt of the task named `task_key` and returns its stop switch.
    pub fn insert(&self, job: Job, task_key: &str) -> StopSignal {
        let stop = StopSignal::default();
        let attempt = InFlight {
            job: job.clone(),
            stop: stop.clone(),
            started: Instant::now(),
            started_ms: now_ms(),
            task_key: task_key.to_owned(),
        };
        self.lock().insert(EntryKey::of(&job), attempt);
        stop
    }

    /// Removes the attempt of `job` once it has ended.
    pub fn remove(&self, job: &Job) {
        self.lock().remove(&EntryKey::of(job));
    }

    /// How many attempts are in flight.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when nothing is in flight.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stops every attempt of a run; returns how many.
    pub fn stop_run(&self, run_id: &str, reason: StopReason) -> usize {
        let attempts = self.lock();
        let mut stopped = 0;
        for attempt in attempts
            .values()
            .filter(|attempt| attempt.job.job.run_id == run_id)
        {
            attempt.stop.stop(reason);
            stopped += 1;
        }
        stopped
    }

    /// Stops every attempt.
    pub fn stop_all(&self, reason: StopReason) {
        for attempt in self.lock().values() {
            attempt.stop.stop(reason);
        }
    }

    /// The attempts in flight as a heartbeat lists them, oldest first.
    pub fn jobs(&self) -> Vec<InFlightJob> {
        let mut jobs: Vec<InFlightJob> = self
            .lock()
            .values()
            .map(|attempt| InFlightJob {
                run_id: attempt.job.job.run_id.clone(),
                task: attempt.job.job.task,
                task_key: attempt.task_key.clone(),
                queue: attempt.job.queue.to_string(),
                since_ms: attempt.started_ms,
            })
            .collect();
        jobs.sort_by_key(|job| job.since_ms);
        jobs
    }

    /// The attempts that have been running for at least `age`.
    pub fn older_than(&self, age: std::time::Duration) -> Vec<InFlight> {
        self.lock()
            .values()
            .filter(|attempt| attempt.started.elapsed() >= age)
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use common::engine::model::JobRef;

    use super::*;

    /// A job of run `run_id` read from `shard`'s normal stream of queue `q` as entry `entry_id`.
    fn job(run_id: &str, shard: u16, entry_id: &str) -> Job {
        Job {
            shard: Shard::new(shard),
            queue: QueueName::parse("q").unwrap(),
            priority: Priority::Normal,
            entry_id: entry_id.to_owned(),
            job: JobRef {
                run_id: run_id.to_owned(),
                task: 0,
                attempt: 1,
                redeliveries: 0,
            },
        }
    }

    #[test]
    fn jobs_of_two_shards_with_the_same_entry_id_are_both_in_flight() {
        let inflight = InFlightSet::default();
        let first = job("run-a", 0, "1700000000000-0");
        let second = job("run-b", 1, "1700000000000-0");
        let first_stop = inflight.insert(first.clone(), "A");
        let second_stop = inflight.insert(second.clone(), "B");
        assert_eq!(inflight.len(), 2);

        // The first ends: the second is still in flight, and a cancel of its run reaches it.
        inflight.remove(&first);
        assert_eq!(inflight.len(), 1);
        assert_eq!(inflight.stop_run("run-b", StopReason::Canceled), 1);
        assert_eq!(second_stop.reason(), Some(StopReason::Canceled));
        assert_eq!(first_stop.reason(), None);
        inflight.remove(&second);
        assert!(inflight.is_empty());
    }
}

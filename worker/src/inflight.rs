//! The attempts a worker is executing, so they can be stopped (cancel, timeout, shutdown) and
//! kept alive in the consumer group while they run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

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

/// Every attempt a worker is executing, by job entry id.
#[derive(Debug, Clone, Default)]
pub struct InFlightSet {
    attempts: Arc<Mutex<HashMap<String, InFlight>>>,
}

impl InFlightSet {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, InFlight>> {
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
        self.lock().insert(job.entry_id, attempt);
        stop
    }

    /// Removes an attempt once it has ended.
    pub fn remove(&self, entry_id: &str) {
        self.lock().remove(entry_id);
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

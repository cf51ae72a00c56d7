//! `baton-bench --protocol default`: Baton's own protocol, in three phases on one key prefix
//! (the latency phase on a prefix of its own), then a report.
//!
//! 1. [`enqueue`]: with no worker running, `jobs` one-task no-op runs created in batches from
//!    concurrent tasks → runs (= jobs) created per second.
//! 2. [`e2e`]: `workers` `baton-worker` processes drain them → jobs per second from their
//!    start, with the workers' memory and CPU time.
//! 3. [`latency`]: an embedded worker measures enqueue-to-start latencies at a fixed rate.
//!
//! [`report`] reads Redis's command statistics (reset before phase 1, read after phases 1
//! and 2, giving the Redis commands per job) and prints each phase's lines and the final JSON
//! object. `baton-bench` runs the phases in order and prints as it goes.

pub mod e2e;
pub mod enqueue;
pub mod latency;
pub mod report;

use std::time::Duration;

/// How often the drain and the latency phase poll.
const POLL: Duration = Duration::from_millis(20);

/// Settings of the default protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultOptions {
    /// Redis URL.
    pub url: String,
    /// Jobs (one-task no-op runs) enqueued and drained.
    pub jobs: u64,
    /// `baton-worker` processes started for the drain.
    pub workers: u64,
    /// Concurrency of each worker process.
    pub concurrency: u64,
    /// Runs per `create_runs` call of the enqueue phase.
    pub batch: u64,
    /// Concurrent tasks calling `create_runs` in the enqueue phase.
    pub enqueuers: u64,
    /// Runs created per second in the latency phase.
    pub rate: u64,
    /// Seconds the latency phase enqueues for.
    pub latency_secs: u64,
    /// How long the drain may take before it gives up and reports the rate it reached.
    pub drain_timeout: Duration,
}

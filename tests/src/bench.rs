//! What the benchmark programs share: running one on a runtime and latency percentiles, plus
//! the protocols of `baton-bench` that live in this library:
//!
//! - [`peers`]: the protocol of the peer job-queue benchmarks (single and bulk enqueue, drain
//!   of a backlog by `baton-worker` processes, latency at a steady rate);
//! - [`steady`]: enqueue-to-completion latency under a steady load below the drain rate;
//! - [`default`]: the default protocol's phases (enqueue, drain, latency) and its report.
//!
//! Their parts: [`runs`] (store, run specs, clock), [`fleet`] (the worker processes),
//! [`drain`] (timing a backlog's drain), [`redis_info`] (`INFO` of the bench's Redis),
//! [`process_cpu`] (the CPU each process used), [`queued_memory`] (the
//! Redis memory a queued job takes, by structure); [`api_load`] is `baton-api-bench`'s closed-loop
//! load of signed requests.

pub mod api_load;
pub mod default;
pub mod drain;
pub mod fleet;
pub mod peers;
pub mod process_cpu;
pub mod queued_memory;
pub mod redis_info;
pub mod runs;
pub mod steady;

use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

use common::error::{InvalidInput, StoreError};

/// A failure of a benchmark protocol.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The bench's own Redis commands failed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A store operation failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A name or value was refused.
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    /// A worker process exited while it was needed.
    #[error("worker pid {pid} exited early; last log lines:\n{log_tail}")]
    WorkerExited {
        /// Its process id.
        pid: u32,
        /// The end of its log.
        log_tail: String,
    },
    /// A step did not end in time.
    #[error("{what} did not end within {secs} s")]
    TimedOut {
        /// The step.
        what: &'static str,
        /// The time it was given.
        secs: u64,
    },
    /// A task of the benchmark panicked or was aborted.
    #[error("benchmark task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The embedded worker of the latency phase failed.
    #[error(transparent)]
    Worker(#[from] worker::WorkerError),
    /// A runtime of the benchmark could not be started.
    #[error("cannot start a runtime: {0}")]
    Runtime(std::io::Error),
    /// The embedded worker of the latency phase did not run its warm-up runs.
    #[error("the embedded worker did not run the warm-up runs")]
    WarmUpNotRun,
}

/// Result of a benchmark step.
pub type BenchResult<T> = Result<T, BenchError>;

/// Runs a benchmark's async body on a fresh runtime; prints `NAME failed: ...` and fails on
/// error.
pub fn run_main<F, E>(name: &str, body: F) -> ExitCode
where
    F: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(body) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{name} failed: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `count` per second over `elapsed`; `NaN` when no time passed.
pub fn per_second(count: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        count as f64 / secs
    } else {
        f64::NAN
    }
}

/// The `p`-th percentile (0–100) of latencies sorted ascending in microseconds, in ms.
pub fn percentile_ms(sorted_us: &[u64], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted_us.len() as f64).ceil().max(1.0) as usize;
    sorted_us[rank.min(sorted_us.len()) - 1] as f64 / 1000.0
}

/// The `p`-th percentile (0–100) of latencies sorted ascending in microseconds, in ms, as the
/// peer drivers compute it: the sample at index `min(len - 1, floor(p / 100 × len))`. `None`
/// when there are no samples.
pub fn peer_percentile_ms(sorted_us: &[u64], p: f64) -> Option<f64> {
    let last = sorted_us.len().checked_sub(1)?;
    let index = ((p / 100.0) * sorted_us.len() as f64).floor() as usize;
    Some(sorted_us[index.min(last)] as f64 / 1000.0)
}

/// `value` rounded to two decimals, as the peer drivers print their numbers; `None` when it is
/// not finite.
pub fn two_decimals(value: f64) -> Option<f64> {
    value.is_finite().then(|| (value * 100.0).round() / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_percentiles_take_the_floor_index() {
        let samples: Vec<u64> = (1..=100).map(|ms| ms * 1000).collect();
        assert_eq!(peer_percentile_ms(&samples, 50.0), Some(51.0));
        assert_eq!(peer_percentile_ms(&samples, 99.0), Some(100.0));
        assert_eq!(peer_percentile_ms(&[1500], 99.0), Some(1.5));
        assert_eq!(peer_percentile_ms(&[], 50.0), None);
    }

    #[test]
    fn numbers_keep_two_decimals() {
        assert_eq!(two_decimals(8914.1749), Some(8914.17));
        assert_eq!(two_decimals(1.236), Some(1.24));
        assert_eq!(two_decimals(f64::NAN), None);
    }
}

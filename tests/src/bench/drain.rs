//! Timing the drain of a backlog, as the peer benchmarks do: poll how many jobs are not yet
//! finished every 20 ms; the clock starts at the first poll that sees progress (so worker
//! start-up is not counted) and stops when nothing is left.

use std::time::{Duration, Instant};

use common::engine::model::QueueName;
use common::store::Store;

use super::BenchResult;
use super::fleet::WorkerFleet;

/// How often the drain polls.
pub const POLL: Duration = Duration::from_millis(20);

/// A queue's finished jobs (succeeded + failed counters of its summary; 0 for a queue never
/// used).
pub async fn finished_jobs(store: &Store, queue: &QueueName) -> BenchResult<u64> {
    Ok(store
        .queue_summary(queue)
        .await?
        .map_or(0, |summary| summary.succeeded + summary.failed))
}

/// What a drain measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Drain {
    /// Jobs not yet finished at the first poll that saw progress.
    pub left_at_start: u64,
    /// From that poll to the one that saw nothing left (or to the give-up).
    pub elapsed: Duration,
    /// Jobs still not finished at the end (0 when the drain completed).
    pub left_at_end: u64,
}

impl Drain {
    /// Jobs finished per second between the two polls; `None` when the drain did not
    /// complete or took no measurable time.
    pub fn per_second(&self) -> Option<f64> {
        let secs = self.elapsed.as_secs_f64();
        (self.left_at_end == 0 && secs > 0.0).then(|| self.left_at_start as f64 / secs)
    }
}

/// Polls `queue` until the `jobs` enqueued after `finished_before` jobs had finished are all
/// finished too, for at most `timeout`, while `fleet` works; fails when a worker exits.
pub async fn measure_drain(
    store: &Store,
    queue: &QueueName,
    fleet: &mut WorkerFleet,
    jobs: u64,
    finished_before: u64,
    timeout: Duration,
) -> BenchResult<Drain> {
    let deadline = Instant::now() + timeout;
    let mut first_progress: Option<(Instant, u64)> = None;
    loop {
        let finished = finished_jobs(store, queue)
            .await?
            .saturating_sub(finished_before);
        let left = jobs.saturating_sub(finished);
        let now = Instant::now();
        if first_progress.is_none() && left < jobs {
            first_progress = Some((now, left));
        }
        if left == 0 || now >= deadline {
            let (started, left_at_start) = first_progress.unwrap_or((now, jobs));
            return Ok(Drain {
                left_at_start,
                elapsed: now - started,
                left_at_end: left,
            });
        }
        fleet.check_running()?;
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_counts_the_jobs_left_at_the_first_progress() {
        let drain = Drain {
            left_at_start: 900,
            elapsed: Duration::from_millis(300),
            left_at_end: 0,
        };
        assert_eq!(drain.per_second(), Some(3000.0));
    }

    #[test]
    fn an_incomplete_drain_has_no_rate() {
        let drain = Drain {
            left_at_start: 900,
            elapsed: Duration::from_secs(1),
            left_at_end: 5,
        };
        assert_eq!(drain.per_second(), None);
    }
}

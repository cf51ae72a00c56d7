//! The `baton-worker` processes a benchmark runs: the real binary, found next to the
//! benchmark's own (see [`crate::binary_path`]), each with its log in a temporary file.

use std::time::Duration;

use common::store::Store;

use super::runs::{QUEUE, now_us};
use super::{BenchError, BenchResult};
use crate::BatonProcess;

/// Longest a worker may take to exit after SIGTERM before it is killed.
const EXIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often [`WorkerFleet::wait_ready`] looks at the heartbeats.
const READY_POLL: Duration = Duration::from_millis(20);
/// Log lines shown of a worker that exited early.
const LOG_TAIL_LINES: usize = 20;

/// Running `baton-worker` processes on one deployment (Redis URL and key prefix). Dropping
/// the fleet kills whatever is still running.
#[derive(Debug)]
pub struct WorkerFleet {
    workers: Vec<BatonProcess>,
}

impl WorkerFleet {
    /// Starts `count` workers on `url` under `prefix`, each running `concurrency` jobs at
    /// once, on the benchmark's queue, logging warnings only.
    pub fn start(count: u64, url: &str, prefix: &str, concurrency: u64) -> Self {
        let concurrency = concurrency.to_string();
        let env = [
            ("BATON_REDIS_URL", url),
            ("BATON_PREFIX", prefix),
            ("BATON_CONCURRENCY", concurrency.as_str()),
            ("BATON_QUEUES", QUEUE),
            ("RUST_LOG", "warn"),
        ];
        let workers = (0..count)
            .map(|_| BatonProcess::spawn("baton-worker", &[], &env))
            .collect();
        Self { workers }
    }

    /// The worker processes.
    pub fn workers(&self) -> &[BatonProcess] {
        &self.workers
    }

    /// An error naming the first worker that has exited, with its log's tail; `Ok` while all
    /// run.
    pub fn check_running(&mut self) -> BenchResult<()> {
        match self
            .workers
            .iter_mut()
            .find_map(|worker| (!worker.is_running()).then_some(worker))
        {
            Some(worker) => Err(BenchError::WorkerExited {
                pid: worker.pid(),
                log_tail: worker.log_tail(LOG_TAIL_LINES),
            }),
            None => Ok(()),
        }
    }

    /// Waits until every worker has sent a heartbeat to `store` (so each is reading its
    /// queue), for at most `timeout`.
    pub async fn wait_ready(&mut self, store: &Store, timeout: Duration) -> BenchResult<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let live = store.live_workers(now_us() / 1000).await?.len();
            if live >= self.workers.len() {
                return Ok(());
            }
            self.check_running()?;
            if tokio::time::Instant::now() >= deadline {
                return Err(BenchError::TimedOut {
                    what: "the workers' start",
                    secs: timeout.as_secs(),
                });
            }
            tokio::time::sleep(READY_POLL).await;
        }
    }

    /// Sends SIGTERM to every worker, then waits for each to exit; kills those that do not
    /// within 10 s.
    pub async fn stop(&mut self) {
        for worker in &mut self.workers {
            worker.terminate();
        }
        for worker in &mut self.workers {
            if worker.wait_exit_async(EXIT_TIMEOUT).await.is_none() {
                tracing::warn!(
                    pid = worker.pid(),
                    "worker did not exit within {} s of SIGTERM: killed",
                    EXIT_TIMEOUT.as_secs()
                );
                worker.kill_9();
            }
        }
    }
}

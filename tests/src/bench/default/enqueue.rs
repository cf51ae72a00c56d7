//! Phase 1 of the default protocol, the bulk enqueue: with no worker running, `jobs` one-task
//! no-op runs created with `Store::create_runs` in batches of `batch`, from `enqueuers`
//! concurrent tasks.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::store::Store;
use tokio::task::JoinSet;

use super::DefaultOptions;
use crate::bench::runs::noop_run;
use crate::bench::{BenchError, BenchResult};

/// Longest the enqueue phase may take before it gives up and reports what it reached.
const ENQUEUE_TIMEOUT: Duration = Duration::from_secs(300);

/// What the enqueue phase measured.
#[derive(Debug)]
pub struct EnqueueResult {
    /// Runs created.
    pub created: u64,
    /// Wall time of the phase.
    pub elapsed: Duration,
}

/// Phase 1: creates `jobs` no-op runs in batches of `batch` from `enqueuers` concurrent tasks.
pub async fn run(store: &Store, options: &DefaultOptions) -> BenchResult<EnqueueResult> {
    let jobs = options.jobs;
    let batch = options.batch;
    let next = Arc::new(AtomicUsize::new(0));
    let created = Arc::new(AtomicUsize::new(0));
    let template = noop_run();
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..options.enqueuers {
        let store = store.clone();
        let next = Arc::clone(&next);
        let created = Arc::clone(&created);
        let template = template.clone();
        tasks.spawn(async move {
            loop {
                let first = next.fetch_add(batch as usize, Ordering::Relaxed) as u64;
                if first >= jobs {
                    return Ok::<(), BenchError>(());
                }
                let count = batch.min(jobs - first) as usize;
                let specs = vec![template.clone(); count];
                store.create_runs(&specs).await?;
                created.fetch_add(count, Ordering::Relaxed);
            }
        });
    }
    let joined = tokio::time::timeout(ENQUEUE_TIMEOUT, async {
        while let Some(joined) = tasks.join_next().await {
            joined??;
        }
        Ok::<(), BenchError>(())
    })
    .await;
    let elapsed = started.elapsed();
    match joined {
        Ok(result) => result?,
        Err(_) => {
            tasks.abort_all();
            println!(
                "[enqueue] GAVE UP after {} s with {} runs created",
                ENQUEUE_TIMEOUT.as_secs(),
                created.load(Ordering::Relaxed)
            );
        }
    }
    Ok(EnqueueResult {
        created: created.load(Ordering::Relaxed) as u64,
        elapsed,
    })
}

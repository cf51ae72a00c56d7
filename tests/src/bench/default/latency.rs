//! Phase 3 of the default protocol, the latency: under a fresh prefix, an embedded
//! [`worker::Worker`] (concurrency 64) runs a handler that records `now - payload.enqueued_us`,
//! while runs are created one at a time at `rate` per second for `latency_secs` seconds. The
//! time is taken just before `create_run`, so the latency covers the enqueue round trips too.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use common::engine::model::RunSpec;
use common::store::Store;
use serde_json::json;
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use worker::{HandlerRegistry, Worker, WorkerOptions};

use super::{DefaultOptions, POLL};
use crate::bench::runs::{QUEUE, connect, now_us, run_with};
use crate::bench::{BenchError, BenchResult};

/// Longest the latency phase waits, after its last enqueue, for every run to start.
const LATENCY_WAIT: Duration = Duration::from_secs(30);
/// Longest the embedded worker of the latency phase may take to stop.
const WORKER_EXIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Concurrency of the embedded worker of the latency phase.
const LATENCY_CONCURRENCY: &str = "64";
/// Runs created (and awaited) before the latency measurement starts, to warm up connections.
const LATENCY_WARMUP_RUNS: usize = 20;

/// What the latency phase measured.
#[derive(Debug)]
pub struct LatencyResult {
    /// Runs whose creation succeeded.
    pub created: u64,
    /// Runs whose creation failed.
    pub failed: u64,
    /// Latencies recorded by the handler, in microseconds, sorted.
    pub samples_us: Vec<u64>,
    /// How long enqueueing took (should be `--latency-secs`).
    pub enqueue_elapsed: Duration,
}

/// Phase 3: an embedded worker records enqueue-to-start latencies of runs created at `rate`
/// per second for `latency_secs` seconds, under `prefix` (deleted at the end on a given
/// server).
pub async fn run(options: &DefaultOptions, prefix: &str) -> BenchResult<LatencyResult> {
    let url = options.url.as_str();
    let store = connect(url, prefix).await?;
    let samples: Arc<Mutex<Vec<u64>>> = Arc::default();
    let mut handlers = HandlerRegistry::new();
    let sink = Arc::clone(&samples);
    handlers.register("bench_latency", move |ctx| {
        let sink = Arc::clone(&sink);
        async move {
            let now = now_us();
            let enqueued = ctx.input["payload"]["enqueued_us"].as_u64().unwrap_or(now);
            sink.lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(now.saturating_sub(enqueued));
            Ok(None)
        }
    });
    let worker_options = WorkerOptions::parse_from([
        "baton-worker",
        "--redis-url",
        url,
        "--prefix",
        prefix,
        "--concurrency",
        LATENCY_CONCURRENCY,
        "--queues",
        QUEUE,
    ]);
    let worker = Worker::new(worker_options, handlers).await?;
    let shutdown = CancellationToken::new();
    let worker_task = tokio::spawn(worker.run(shutdown.clone()));
    let result = measure_latency(&store, options, &samples).await;
    shutdown.cancel();
    match tokio::time::timeout(WORKER_EXIT_TIMEOUT, worker_task).await {
        Ok(joined) => joined??,
        Err(_) => println!("[latency] the embedded worker did not stop in time"),
    }
    result
}

/// Counts `(created, failed)` runs from a finished `create_run` task.
fn count_create(
    joined: Result<Result<(), BenchError>, tokio::task::JoinError>,
    created: &mut u64,
    failed: &mut u64,
) {
    match joined {
        Ok(Ok(())) => *created += 1,
        Ok(Err(error)) => {
            *failed += 1;
            if *failed <= 3 {
                println!("[latency] create_run failed: {error}");
            }
        }
        Err(error) => {
            *failed += 1;
            println!("[latency] create_run task failed: {error}");
        }
    }
}

/// The latency phase's measurement, with the embedded worker already running.
async fn measure_latency(
    store: &Store,
    options: &DefaultOptions,
    samples: &Arc<Mutex<Vec<u64>>>,
) -> BenchResult<LatencyResult> {
    let recorded = || samples.lock().map_or(0, |samples| samples.len());

    // Warm-up: a few runs to open the connections and wake the worker; not measured.
    for _ in 0..LATENCY_WARMUP_RUNS {
        store.create_run(&latency_run(now_us())).await?;
    }
    let warm_deadline = Instant::now() + LATENCY_WAIT;
    while recorded() < LATENCY_WARMUP_RUNS && Instant::now() < warm_deadline {
        tokio::time::sleep(POLL).await;
    }
    if recorded() < LATENCY_WARMUP_RUNS {
        return Err(BenchError::WarmUpNotRun);
    }
    samples
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clear();

    // One run per tick, each created by its own task so a slow call never delays the next
    // (an open-loop load); ticks missed are made up at once.
    let total = options.rate * options.latency_secs;
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / options.rate as f64));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut creates: JoinSet<Result<(), BenchError>> = JoinSet::new();
    let (mut created, mut failed) = (0, 0);
    let started = Instant::now();
    for _ in 0..total {
        ticks.tick().await;
        let store = store.clone();
        creates.spawn(async move {
            let enqueued_us = now_us();
            store.create_run(&latency_run(enqueued_us)).await?;
            Ok(())
        });
        while let Some(joined) = creates.try_join_next() {
            count_create(joined, &mut created, &mut failed);
        }
    }
    let enqueue_elapsed = started.elapsed();
    let wait_deadline = tokio::time::Instant::now() + LATENCY_WAIT;
    loop {
        match tokio::time::timeout_at(wait_deadline, creates.join_next()).await {
            Ok(Some(joined)) => count_create(joined, &mut created, &mut failed),
            Ok(None) => break,
            Err(_) => {
                println!("[latency] some create_run calls did not return in time");
                creates.abort_all();
                break;
            }
        }
    }
    while (recorded() as u64) < created && tokio::time::Instant::now() < wait_deadline {
        tokio::time::sleep(POLL).await;
    }
    let mut samples_us = samples
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    if (samples_us.len() as u64) < created {
        println!(
            "[latency] only {} of {created} runs started within {} s",
            samples_us.len(),
            LATENCY_WAIT.as_secs()
        );
    }
    samples_us.sort_unstable();
    Ok(LatencyResult {
        created,
        failed,
        samples_us,
        enqueue_elapsed,
    })
}

/// The key prefix of the latency phase, derived from a fresh prefix.
pub fn latency_prefix_of(prefix: &str) -> String {
    format!("{prefix}-lat")
}

/// A one-task run for the latency phase, carrying when it was enqueued.
fn latency_run(enqueued_us: u64) -> RunSpec {
    run_with(
        "bench.latency",
        "bench_latency",
        json!({ "enqueued_us": enqueued_us }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::runs::noop_run;

    #[test]
    fn runs_are_valid() {
        assert!(noop_run().validate().is_ok());
        assert!(latency_run(now_us()).validate().is_ok());
    }
}

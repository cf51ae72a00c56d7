//! `baton-bench --protocol steady`: enqueue-to-completion latency under a steady load below
//! the drain rate, with the workers running all along.
//!
//! 1. **drain rate**: taken from `drain_rate` when given (the workers are then started and
//!    awaited), else measured as in the peers protocol: a bulk-enqueued backlog of `jobs`
//!    no-op runs drained by the workers (see [`super::drain`]).
//! 2. **steady load**: for `secs` seconds, probe runs are due on a fixed schedule at
//!    `load_pct` % of the drain rate. `enqueuers` tasks each create every run already due
//!    (at most `batch`) in one `create_runs` call, so the producer keeps up at high rates; a
//!    run's payload carries its *scheduled* time, so a stall of the enqueuer shows in the
//!    latency instead of being hidden.
//! 3. **results**: once every run has finished, each run gives its latency from the scheduled
//!    time to its task's finish (stored in whole ms) and, from the probe, to its task's start.
//!
//! Progress goes to stderr; the caller prints the [`SteadyReport`] as one JSON line.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::engine::model::QueueName;
use common::store::Store;
use serde::Serialize;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::drain::{POLL, finished_jobs, measure_drain};
use super::fleet::WorkerFleet;
use super::redis_info::RedisNodes;
use super::runs::{
    QUEUE, completed_after_us, connect, create_noop_runs, fresh_prefix, now_us, probe_run,
    read_runs, waited_us,
};
use super::{BenchResult, peer_percentile_ms, per_second, two_decimals};

/// Longest the workers may take to send their first heartbeat.
const WORKER_START_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest the bench waits, after the last scheduled run, for every run to finish.
const FINISH_WAIT: Duration = Duration::from_secs(60);
/// How often the backlog is sampled during the steady load.
const BACKLOG_POLL: Duration = Duration::from_millis(100);

/// Settings of the steady protocol.
#[derive(Debug, Clone)]
pub struct SteadyOptions {
    /// Redis to use.
    pub url: String,
    /// True when the bench started that Redis itself.
    pub own_redis: bool,
    /// Backlog drained to measure the drain rate.
    pub jobs: u64,
    /// Runs per `create_runs` call when building that backlog.
    pub bulk_chunk: u64,
    /// The drain rate (jobs/s) to load at `load_pct` %, instead of measuring it.
    pub drain_rate: Option<u64>,
    /// Load as a percentage of the drain rate.
    pub load_pct: u64,
    /// Seconds of steady load.
    pub secs: u64,
    /// Concurrent enqueuing tasks.
    pub enqueuers: u64,
    /// Most runs one `create_runs` call of the steady load carries.
    pub batch: u64,
    /// `baton-worker` processes.
    pub workers: u64,
    /// Concurrency of each worker.
    pub concurrency: u64,
    /// Longest the drain may take before it gives up.
    pub drain_timeout: Duration,
}

/// The steady protocol's JSON line.
#[derive(Debug, Clone, Serialize)]
pub struct SteadyReport {
    /// Always `baton`.
    pub system: &'static str,
    /// Always `steady`.
    pub mode: &'static str,
    /// Baton's version.
    pub version: &'static str,
    /// The drain rate the load derives from, jobs/s.
    pub drain_per_s: Option<f64>,
    /// True when the drain rate was measured, false when it was given.
    pub drain_measured: bool,
    /// Rate of the schedule: `load_pct` % of the drain rate, runs/s.
    pub offered_per_s: Option<f64>,
    /// Rate the runs were actually created at, runs/s.
    pub enqueued_per_s: Option<f64>,
    /// Seconds of steady load.
    pub steady_secs: u64,
    /// Runs scheduled.
    pub jobs: u64,
    /// Runs read back with a finish time.
    pub completed: usize,
    /// Median latency from a run's scheduled time to its task's finish, ms.
    pub lat_p50_ms: Option<f64>,
    /// 99th percentile of the same, ms.
    pub lat_p99_ms: Option<f64>,
    /// Median latency from a run's scheduled time to its task's start (the probe), ms.
    pub start_p50_ms: Option<f64>,
    /// 99th percentile of the same, ms.
    pub start_p99_ms: Option<f64>,
    /// 99th percentile of how late a create call returned after the scheduled time of the
    /// first run it carried, ms.
    pub enqueue_lag_p99_ms: Option<f64>,
    /// Largest number of jobs queued, running or delayed seen during the load.
    pub backlog_max: u64,
    /// Redis CPU time (user + system) over the load and the wait for it to finish, per job, µs.
    pub redis_cpu_us_per_job: Option<f64>,
    /// How Baton was set up.
    pub config: String,
}

/// The fixed schedule: run `i` is due `i / rate` seconds after the start.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    /// Start on the monotonic clock.
    start: tokio::time::Instant,
    /// Start on the wall clock, µs since the epoch (the clock the probe compares with).
    start_us: u64,
    /// Runs per second.
    rate: f64,
    /// Runs in all.
    total: u64,
}

impl Schedule {
    /// When run `index` is due, on the monotonic clock.
    fn due_at(&self, index: u64) -> tokio::time::Instant {
        self.start + Duration::from_secs_f64(index as f64 / self.rate)
    }

    /// When run `index` is due, µs since the epoch.
    fn scheduled_us(&self, index: u64) -> u64 {
        self.start_us + (index as f64 * 1e6 / self.rate) as u64
    }

    /// How many runs are due `elapsed` after the start (run 0 is due at once).
    fn due_by(&self, elapsed: Duration) -> u64 {
        ((elapsed.as_secs_f64() * self.rate).floor() as u64 + 1).min(self.total)
    }
}

/// What the enqueuers share.
#[derive(Debug, Default)]
struct Progress {
    /// The next run not yet claimed by an enqueuer.
    next: AtomicU64,
    /// Ids of the runs created.
    ids: Mutex<Vec<String>>,
    /// For each create call, how late it returned after its first run was due, µs.
    lags_us: Mutex<Vec<u64>>,
}

/// Measures (or takes) the drain rate, runs the steady load and returns the report; stops
/// the workers it started.
pub async fn run(options: &SteadyOptions) -> BenchResult<SteadyReport> {
    let admin = RedisNodes::connect(&options.url).await?;
    let redis_version = admin.server_version().await?;
    let queue = QueueName::parse(QUEUE)?;
    let prefix = fresh_prefix();
    let store = connect(&options.url, &prefix).await?;

    // 1. The drain rate.
    let mut fleet;
    let drain_rate = match options.drain_rate {
        Some(rate) => {
            fleet = WorkerFleet::start(options.workers, &options.url, &prefix, options.concurrency);
            fleet.wait_ready(&store, WORKER_START_TIMEOUT).await?;
            eprintln!("[steady] drain rate given: {rate}/s");
            rate as f64
        }
        None => {
            create_noop_runs(&store, options.jobs, options.bulk_chunk).await?;
            fleet = WorkerFleet::start(options.workers, &options.url, &prefix, options.concurrency);
            let drain = measure_drain(
                &store,
                &queue,
                &mut fleet,
                options.jobs,
                0,
                options.drain_timeout,
            )
            .await?;
            let rate = drain.per_second().ok_or(super::BenchError::TimedOut {
                what: "the drain of the backlog",
                secs: options.drain_timeout.as_secs(),
            })?;
            eprintln!(
                "[steady] drain: {rate:.0}/s ({} jobs in {:.2} s)",
                drain.left_at_start,
                drain.elapsed.as_secs_f64()
            );
            rate
        }
    };

    // 2. The steady load.
    let rate = drain_rate * options.load_pct as f64 / 100.0;
    let total = (rate * options.secs as f64).round() as u64;
    let finished_before = finished_jobs(&store, &queue).await?;
    let cpu_before = admin.cpu_secs().await?;
    let sampling = CancellationToken::new();
    let sampler = tokio::spawn(max_backlog(store.clone(), queue.clone(), sampling.clone()));
    let schedule = Schedule {
        start: tokio::time::Instant::now(),
        start_us: now_us(),
        rate,
        total,
    };
    eprintln!(
        "[steady] load: {total} probe runs at {rate:.0}/s ({} % of the drain rate) for {} s, \
         {} enqueuers, up to {} runs per call",
        options.load_pct, options.secs, options.enqueuers, options.batch
    );
    let progress = Arc::new(Progress::default());
    let mut enqueuers = JoinSet::new();
    for _ in 0..options.enqueuers {
        enqueuers.spawn(enqueue_on_schedule(
            store.clone(),
            schedule,
            options.batch,
            Arc::clone(&progress),
        ));
    }
    while let Some(joined) = enqueuers.join_next().await {
        joined??;
    }
    let enqueued_per_s = per_second(total, schedule.start.elapsed());
    wait_finished(&store, &queue, &mut fleet, finished_before + total).await?;
    let redis_cpu_us_per_job = 1e6 * (admin.cpu_secs().await? - cpu_before) / total as f64;
    sampling.cancel();
    let backlog_max = sampler.await??;
    fleet.stop().await;

    // 3. The results.
    let ids = std::mem::take(&mut *lock(&progress.ids));
    let runs = read_runs(&store, &ids).await?;
    let mut completion_us: Vec<u64> = runs.iter().filter_map(completed_after_us).collect();
    let mut start_us: Vec<u64> = runs.iter().filter_map(waited_us).collect();
    let mut lags_us = std::mem::take(&mut *lock(&progress.lags_us));
    completion_us.sort_unstable();
    start_us.sort_unstable();
    lags_us.sort_unstable();
    eprintln!(
        "[steady] created {} runs at {enqueued_per_s:.0}/s; {} finished; backlog at most \
         {backlog_max}",
        ids.len(),
        completion_us.len()
    );
    if !options.own_redis {
        admin.delete_prefix(&prefix).await?;
    }

    let percentile =
        |samples: &[u64], p: f64| peer_percentile_ms(samples, p).and_then(two_decimals);
    Ok(SteadyReport {
        system: "baton",
        mode: "steady",
        version: env!("CARGO_PKG_VERSION"),
        drain_per_s: two_decimals(drain_rate),
        drain_measured: options.drain_rate.is_none(),
        offered_per_s: two_decimals(rate),
        enqueued_per_s: two_decimals(enqueued_per_s),
        steady_secs: options.secs,
        jobs: total,
        completed: completion_us.len(),
        lat_p50_ms: percentile(&completion_us, 50.0),
        lat_p99_ms: percentile(&completion_us, 99.0),
        start_p50_ms: percentile(&start_us, 50.0),
        start_p99_ms: percentile(&start_us, 99.0),
        enqueue_lag_p99_ms: percentile(&lags_us, 99.0),
        backlog_max,
        redis_cpu_us_per_job: two_decimals(redis_cpu_us_per_job),
        config: format!(
            "1 bench process ({} enqueuers, create_runs of the runs due, at most {}) + {} \
             baton-worker process(es), concurrency {} each; redis {redis_version}{}",
            options.enqueuers,
            options.batch,
            options.workers,
            options.concurrency,
            if options.own_redis {
                ", own server, no persistence"
            } else {
                ", given server"
            }
        ),
    })
}

/// One enqueuer: claims the runs already due (at most `batch`), creates them in one call,
/// and sleeps until the next run is due when none is; ends when every run is claimed.
async fn enqueue_on_schedule(
    store: Store,
    schedule: Schedule,
    batch: u64,
    progress: Arc<Progress>,
) -> BenchResult<()> {
    loop {
        let first = progress.next.load(Ordering::Acquire);
        if first >= schedule.total {
            return Ok(());
        }
        let due = schedule.due_by(schedule.start.elapsed());
        if first >= due {
            tokio::time::sleep_until(schedule.due_at(first)).await;
            continue;
        }
        let end = due.min(first + batch);
        if progress
            .next
            .compare_exchange(first, end, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            continue;
        }
        let specs: Vec<_> = (first..end)
            .map(|index| probe_run(schedule.scheduled_us(index)))
            .collect();
        let ids = store.create_runs(&specs).await?;
        let lag = tokio::time::Instant::now().saturating_duration_since(schedule.due_at(first));
        lock(&progress.lags_us).push(lag.as_micros() as u64);
        lock(&progress.ids).extend(ids);
    }
}

/// Waits until `goal` jobs of `queue` have finished, for at most a minute.
async fn wait_finished(
    store: &Store,
    queue: &QueueName,
    fleet: &mut WorkerFleet,
    goal: u64,
) -> BenchResult<()> {
    let deadline = Instant::now() + FINISH_WAIT;
    while finished_jobs(store, queue).await? < goal {
        fleet.check_running()?;
        if Instant::now() >= deadline {
            eprintln!(
                "[steady] not every run finished within {} s of the load's end",
                FINISH_WAIT.as_secs()
            );
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    Ok(())
}

/// Samples the jobs queued, running or delayed on `queue` until `stop`; returns the most seen.
async fn max_backlog(store: Store, queue: QueueName, stop: CancellationToken) -> BenchResult<u64> {
    let mut most = 0;
    loop {
        if let Some(summary) = store.queue_summary(&queue).await? {
            most = most.max(summary.waiting_total() + summary.running + summary.delayed);
        }
        tokio::select! {
            _ = tokio::time::sleep(BACKLOG_POLL) => {}
            _ = stop.cancelled() => return Ok(most),
        }
    }
}

/// Locks `mutex`, taking its data even when a panicking holder poisoned it.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(rate: f64, total: u64) -> Schedule {
        Schedule {
            start: tokio::time::Instant::now(),
            start_us: 1_000_000,
            rate,
            total,
        }
    }

    #[test]
    fn runs_fall_due_at_the_rate() {
        let schedule = schedule(1000.0, 50);
        assert_eq!(schedule.due_by(Duration::ZERO), 1);
        assert_eq!(schedule.due_by(Duration::from_micros(9_999)), 10);
        assert_eq!(schedule.due_by(Duration::from_millis(10)), 11);
        assert_eq!(schedule.due_by(Duration::from_secs(1)), 50);
    }

    #[test]
    fn scheduled_times_follow_the_wall_clock_start() {
        let schedule = schedule(500.0, 10);
        assert_eq!(schedule.scheduled_us(0), 1_000_000);
        assert_eq!(schedule.scheduled_us(3), 1_006_000);
        let apart = schedule.due_at(3) - schedule.due_at(0);
        assert!((apart.as_secs_f64() - 0.006).abs() < 1e-6, "{apart:?}");
    }
}

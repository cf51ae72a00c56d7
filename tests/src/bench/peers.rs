//! `baton-bench --protocol peers`: the protocol of the peer job-queue benchmarks (BullMQ,
//! Celery, RQ, Sidekiq, apalis), step by step, so Baton's numbers stand next to theirs.
//!
//! 1. **single enqueue**: `jobs` one-task no-op runs, one awaited `Store::create_run` call at
//!    a time → `enqueue_per_s`; then the queue is emptied (`FLUSHALL` on the bench's own
//!    Redis, else the phase's key prefix is deleted).
//! 2. **bulk enqueue**: the same number through `Store::create_runs` in chunks of
//!    `bulk_chunk` → `enqueue_bulk_per_s`, with no worker running: the backlog for step 3.
//!    Redis's `used_memory` before and after gives `redis_bytes_per_queued_job`, and
//!    [`super::queued_memory`] where those bytes go.
//! 3. **processing**: `workers` `baton-worker` processes drain the backlog; the queue's
//!    succeeded + failed counters are polled every 20 ms (see [`super::drain`]) →
//!    `process_per_s`. Redis's CPU time over the phase gives `redis_cpu_us_per_job` (summed
//!    over the masters of a Redis Cluster, which adds `redis_nodes` and each master's share,
//!    `redis_cpu_us_per_job_by_node`). The run statuses cross-check the count.
//! 4. **latency**: with the workers idle, `lat_n` runs of the worker's built-in `probe`
//!    handler are created at `lat_rate` per second, single awaited calls on a fixed schedule,
//!    each carrying the time (µs, `SystemTime`) taken just before its create call; the probe
//!    subtracts it from its clock first thing → `lat_p50_ms`, `lat_p99_ms`.
//!
//! Progress goes to stderr; the caller prints the [`PeersReport`] as one JSON line.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use common::engine::model::QueueName;
use common::store::Store;
use serde::Serialize;

use super::drain::{POLL, finished_jobs, measure_drain};
use super::fleet::WorkerFleet;
use super::process_cpu::CpuMeter;
use super::queued_memory::{self, QueuedMemory};
use super::redis_info::{CommandCost, RedisNodes, profile_lines};
use super::runs::{
    NOOP_DEFINITION, QUEUE, connect, count_succeeded, create_noop_runs, fresh_prefix, noop_run,
    now_us, probe_run, read_runs, waited_us,
};
use super::{BenchError, BenchResult, peer_percentile_ms, per_second, two_decimals};

/// Pause between the drain and the latency step, as the peer drivers make.
const IDLE_BEFORE_LATENCY: Duration = Duration::from_millis(500);
/// Longest the latency step waits, after its last enqueue, for every probe to finish.
const LATENCY_WAIT: Duration = Duration::from_secs(60);

/// Settings of the peers protocol.
#[derive(Debug, Clone)]
pub struct PeersOptions {
    /// Redis to use.
    pub url: String,
    /// True when the bench started that Redis itself (it may then be flushed).
    pub own_redis: bool,
    /// Jobs of the enqueue and processing steps (the peers' `N`, 50,000).
    pub jobs: u64,
    /// Runs per `create_runs` call of the bulk enqueue (the peers' `BULK_CHUNK`, 1,000).
    pub bulk_chunk: u64,
    /// Probe runs of the latency step (the peers' `LAT_N`, 2,000).
    pub lat_n: u64,
    /// Probe runs created per second in the latency step (the peers' `LAT_RATE`, 500).
    pub lat_rate: u64,
    /// `baton-worker` processes.
    pub workers: u64,
    /// Concurrency of each worker.
    pub concurrency: u64,
    /// Longest the drain may take before it gives up (the peers give it 240 s).
    pub drain_timeout: Duration,
}

/// The peers' JSON line, with Baton's Redis costs added.
#[derive(Debug, Clone, Serialize)]
pub struct PeersReport {
    /// Always `baton`.
    pub system: &'static str,
    /// Baton's version.
    pub version: &'static str,
    /// Runs created per second, one awaited `create_run` at a time.
    pub enqueue_per_s: Option<f64>,
    /// Runs created per second through `create_runs` in chunks.
    pub enqueue_bulk_per_s: Option<f64>,
    /// Jobs of the backlog finished per second; `None` when the drain did not complete.
    pub process_per_s: Option<f64>,
    /// Median enqueue-to-start latency in the latency step, ms.
    pub lat_p50_ms: Option<f64>,
    /// 99th percentile of the same, ms.
    pub lat_p99_ms: Option<f64>,
    /// Jobs of the enqueue and processing steps.
    pub n: u64,
    /// Probe results read back in the latency step.
    pub lat_samples: usize,
    /// Rate the latency step actually offered, runs per second.
    pub lat_offered_per_s: Option<f64>,
    /// How Baton was set up.
    pub config: String,
    /// Redis CPU time (user + system) over the processing step, per job, µs.
    pub redis_cpu_us_per_job: Option<f64>,
    /// Growth of Redis's `used_memory` over the bulk enqueue, per job, bytes.
    pub redis_bytes_per_queued_job: Option<f64>,
    /// The same by structure (`MEMORY USAGE`: run hash, indexes, stream); absent on a cluster.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_bytes_per_queued_job_by_structure: Option<QueuedMemory>,
    /// On a Redis Cluster: its masters (absent on a single server).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_nodes: Option<usize>,
    /// On a Redis Cluster: each master's CPU time over the processing step, per job, µs, by
    /// address (absent on a single server).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_cpu_us_per_job_by_node: Option<BTreeMap<String, Option<f64>>>,
}

/// What the latency step measured.
#[derive(Debug)]
struct Latency {
    /// Probe results (enqueue to start), µs, sorted.
    samples_us: Vec<u64>,
    /// Runs created per second.
    offered_per_s: f64,
}

/// Prints what each Redis command cost per job in a step (`INFO commandstats`) to stderr.
fn print_profile(
    step: &str,
    before: &HashMap<String, CommandCost>,
    after: &HashMap<String, CommandCost>,
    jobs: u64,
) {
    eprintln!("[peers] {step}: Redis commands per job (scripts include what they call)");
    for line in profile_lines(before, after, jobs) {
        eprintln!("[peers]   {line}");
    }
}

/// Runs the four steps and returns the report; stops the workers it started.
pub async fn run(options: &PeersOptions) -> BenchResult<PeersReport> {
    let admin = RedisNodes::connect(&options.url).await?;
    let redis_version = admin.server_version().await?;
    let queue = QueueName::parse(QUEUE)?;
    let jobs = options.jobs;

    // 1. Single enqueue, under a prefix of its own, emptied afterwards.
    let single_prefix = fresh_prefix();
    let cost = StepCost::start(&admin).await?;
    let enqueue_per_s = on_client(&options.url, &single_prefix, move |store| async move {
        single_enqueue(&store, jobs).await
    })
    .await?;
    cost.print(&admin, "single enqueue", jobs).await?;
    empty(&admin, options.own_redis, &single_prefix).await?;

    // 2. Bulk enqueue: the backlog.
    let prefix = fresh_prefix();
    let store = connect(&options.url, &prefix).await?;
    let memory_before = admin.used_memory().await?;
    let cost = StepCost::start(&admin).await?;
    let started = Instant::now();
    let ids = create_noop_runs(&store, jobs, options.bulk_chunk).await?;
    let enqueue_bulk_per_s = per_second(jobs, started.elapsed());
    let memory_after = admin.used_memory().await?;
    cost.print(&admin, "bulk enqueue", jobs).await?;
    let bytes_per_job = memory_after.saturating_sub(memory_before) as f64 / jobs as f64;
    let waiting = store
        .queue_summary(&queue)
        .await?
        .map_or(0, |summary| summary.waiting_total());
    eprintln!(
        "[peers] create_runs({}): {enqueue_bulk_per_s:.0}/s; waiting={waiting}; redis \
         used_memory +{} bytes = {bytes_per_job:.0} per job",
        options.bulk_chunk,
        memory_after.saturating_sub(memory_before)
    );
    let by_structure = if admin.is_cluster() {
        None
    } else {
        let memory = queued_memory::measure(&store, &ids, NOOP_DEFINITION, &queue).await?;
        eprintln!(
            "[peers] redis bytes per queued job by structure (MEMORY USAGE): run hash {:.0}, \
             index of active runs {:.0}, definition index {:.0}, stream {:.0}; {:.0} in all",
            memory.run_hash,
            memory.active_index,
            memory.definition_index,
            memory.stream,
            memory.total()
        );
        Some(memory)
    };

    // 3. Processing.
    let finished_before = finished_jobs(&store, &queue).await?;
    let cpu_before = admin.cpu_secs_by_node().await?;
    let costs_before = admin.command_costs().await?;
    let mut fleet = WorkerFleet::start(options.workers, &options.url, &prefix, options.concurrency);
    let drain = measure_drain(
        &store,
        &queue,
        &mut fleet,
        jobs,
        finished_before,
        options.drain_timeout,
    )
    .await?;
    let cpu_by_node: Vec<(String, f64)> = admin
        .cpu_secs_by_node()
        .await?
        .into_iter()
        .zip(&cpu_before)
        .map(|((address, after), (_, before))| (address, 1e6 * (after - before) / jobs as f64))
        .collect();
    let redis_cpu_us_per_job: f64 = cpu_by_node.iter().map(|(_, us)| us).sum();
    print_profile("drain", &costs_before, &admin.command_costs().await?, jobs);
    eprintln!(
        "[peers] drain: {:.0}/s ({} jobs in {:.2} s, {} left); redis CPU {redis_cpu_us_per_job:.1} \
         us per job",
        drain.per_second().unwrap_or(f64::NAN),
        drain.left_at_start,
        drain.elapsed.as_secs_f64(),
        drain.left_at_end
    );
    if admin.is_cluster() {
        for (address, us) in &cpu_by_node {
            eprintln!(
                "[peers]   node {address}: redis CPU {us:.1} us per job ({:.0} % of the total)",
                100.0 * us / redis_cpu_us_per_job
            );
        }
    }
    cross_check(&store, &queue, &ids).await?;

    // 4. Latency, the workers idle.
    tokio::time::sleep(IDLE_BEFORE_LATENCY).await;
    let finished_before = finished_jobs(&store, &queue).await?;
    let latency = probe_latency(
        (&options.url, &prefix),
        &store,
        &queue,
        &mut fleet,
        options.lat_n,
        options.lat_rate,
        finished_before,
    )
    .await?;
    fleet.stop().await;
    if !options.own_redis {
        admin.delete_prefix(&prefix).await?;
    }

    Ok(PeersReport {
        system: "baton",
        version: env!("CARGO_PKG_VERSION"),
        enqueue_per_s: two_decimals(enqueue_per_s),
        enqueue_bulk_per_s: two_decimals(enqueue_bulk_per_s),
        process_per_s: drain.per_second().and_then(two_decimals),
        lat_p50_ms: peer_percentile_ms(&latency.samples_us, 50.0).and_then(two_decimals),
        lat_p99_ms: peer_percentile_ms(&latency.samples_us, 99.0).and_then(two_decimals),
        n: jobs,
        lat_samples: latency.samples_us.len(),
        lat_offered_per_s: two_decimals(latency.offered_per_s),
        config: format!(
            "1 bench process + {} baton-worker process(es), concurrency {} each; create_run / \
             create_runs({}); redis {redis_version}{}",
            options.workers,
            options.concurrency,
            options.bulk_chunk,
            if options.own_redis {
                ", own server, no persistence".to_owned()
            } else if admin.is_cluster() {
                format!(", given cluster of {} masters", admin.count())
            } else {
                ", given server".to_owned()
            }
        ),
        redis_cpu_us_per_job: two_decimals(redis_cpu_us_per_job),
        redis_bytes_per_queued_job: two_decimals(bytes_per_job),
        redis_bytes_per_queued_job_by_structure: by_structure,
        redis_nodes: admin.is_cluster().then(|| admin.count()),
        redis_cpu_us_per_job_by_node: admin.is_cluster().then(|| {
            cpu_by_node
                .into_iter()
                .map(|(address, us)| (address, two_decimals(us)))
                .collect()
        }),
    })
}

/// What an enqueue step costs per job: CPU in the bench's process (the client; nothing else
/// runs in it during the enqueue steps) and in Redis, which are machine-independent where
/// rates are not, and Redis's commands.
struct StepCost {
    client: CpuMeter,
    redis_secs: f64,
    commands: HashMap<String, CommandCost>,
}

impl StepCost {
    /// Starts measuring.
    async fn start(admin: &RedisNodes) -> BenchResult<Self> {
        Ok(Self {
            client: CpuMeter::start(&[("client", std::process::id())]),
            redis_secs: admin.cpu_secs().await?,
            commands: admin.command_costs().await?,
        })
    }

    /// Prints what `step` cost per job over `jobs` jobs.
    async fn print(self, admin: &RedisNodes, step: &str, jobs: u64) -> BenchResult<()> {
        let redis_us = 1e6 * (admin.cpu_secs().await? - self.redis_secs) / jobs.max(1) as f64;
        let client_us: f64 = self
            .client
            .per_unit(jobs)
            .iter()
            .map(|cpu| cpu.us_per_unit)
            .sum();
        eprintln!("[peers] {step}: CPU per job: client {client_us:.1} us, redis {redis_us:.1} us");
        print_profile(step, &self.commands, &admin.command_costs().await?, jobs);
        Ok(())
    }
}

/// Runs `body` with a store of its own on a client of its own: a single-threaded runtime on
/// a thread of its own, as the peers' clients are (one Node or Ruby thread awaiting each
/// call), so that an awaited call is one write and one read on that thread rather than a
/// hand-off between the bench's runtime threads and the connection's driver task.
async fn on_client<T, F, Fut>(url: &str, prefix: &str, body: F) -> BenchResult<T>
where
    F: FnOnce(Store) -> Fut + Send + 'static,
    Fut: Future<Output = BenchResult<T>>,
    T: Send + 'static,
{
    let (url, prefix) = (url.to_owned(), prefix.to_owned());
    let client = tokio::task::spawn_blocking(move || -> BenchResult<T> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(BenchError::Runtime)?;
        runtime.block_on(async move { body(connect(&url, &prefix).await?).await })
    });
    client.await?
}

/// Step 1: creates `jobs` no-op runs one awaited `create_run` call at a time; runs per second.
async fn single_enqueue(store: &Store, jobs: u64) -> BenchResult<f64> {
    let template = noop_run();
    let started = Instant::now();
    for _ in 0..jobs {
        store.create_run(&template).await?;
    }
    let rate = per_second(jobs, started.elapsed());
    eprintln!("[peers] create_run: {rate:.0}/s");
    Ok(rate)
}

/// Empties what step 1 left: the whole server when it is the bench's own (as the peer
/// drivers do), else the keys under `prefix`.
async fn empty(admin: &RedisNodes, own_redis: bool, prefix: &str) -> BenchResult<()> {
    if own_redis {
        admin.flush_all().await
    } else {
        admin.delete_prefix(prefix).await.map(|_| ())
    }
}

/// Logs the drain's cross-check: the backlog's runs that succeeded by their own status, next
/// to the queue's counters and what is still on it.
async fn cross_check(store: &Store, queue: &QueueName, ids: &[String]) -> BenchResult<()> {
    let succeeded = count_succeeded(store, ids).await?;
    let summary = store.queue_summary(queue).await?;
    let (counted, failed, left) = summary.map_or((0, 0, 0), |summary| {
        (
            summary.succeeded,
            summary.failed,
            summary.waiting_total() + summary.running + summary.delayed,
        )
    });
    let verdict = if succeeded == ids.len() as u64 && counted == succeeded && failed == 0 {
        "ok"
    } else {
        "MISMATCH"
    };
    eprintln!(
        "[peers] cross-check {verdict}: {succeeded} of {} runs succeeded by their status; queue \
         counters succeeded={counted} failed={failed}; still queued, running or delayed: {left}",
        ids.len()
    );
    Ok(())
}

/// Step 4: creates `count` probe runs at `rate` per second on a fixed schedule, one awaited
/// `create_run` each on a client of its own (the Redis at `url`, keys under `prefix`), then
/// reads the probes' results with `store` once all have finished (or after 60 s).
async fn probe_latency(
    (url, prefix): (&str, &str),
    store: &Store,
    queue: &QueueName,
    fleet: &mut WorkerFleet,
    count: u64,
    rate: u64,
    finished_before: u64,
) -> BenchResult<Latency> {
    let (ids, offered_per_s) = on_client(url, prefix, move |client| async move {
        let started = tokio::time::Instant::now();
        let mut ids = Vec::with_capacity(count as usize);
        for i in 0..count {
            let due = started + Duration::from_secs_f64(i as f64 / rate as f64);
            tokio::time::sleep_until(due).await;
            ids.push(client.create_run(&probe_run(now_us())).await?);
        }
        Ok((ids, per_second(count, started.elapsed())))
    })
    .await?;
    let deadline = Instant::now() + LATENCY_WAIT;
    while finished_jobs(store, queue).await? < finished_before + count {
        fleet.check_running()?;
        if Instant::now() >= deadline {
            eprintln!(
                "[peers] latency: not every probe finished within {} s",
                LATENCY_WAIT.as_secs()
            );
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    let mut samples_us: Vec<u64> = read_runs(store, &ids)
        .await?
        .iter()
        .filter_map(waited_us)
        .collect();
    samples_us.sort_unstable();
    eprintln!(
        "[peers] latency: offered {offered_per_s:.0}/s, got {} samples",
        samples_us.len()
    );
    Ok(Latency {
        samples_us,
        offered_per_s,
    })
}

//! `baton-bench`: measures Baton's throughput and latency on one machine, against a real
//! `redis-server` and real `baton-worker` processes.
//!
//! Run it from a release build (the worker binaries are taken from the same target directory
//! as the benchmark itself):
//!
//! ```text
//! cargo build --release -p baton-tests --bin baton-bench -p worker --bin baton-worker
//! ./target/release/baton-bench --jobs 200000 --workers 2           # the default protocol
//! ./target/release/baton-bench --protocol peers                     # as the peer benchmarks
//! ./target/release/baton-bench --protocol steady --steady-secs 30   # latency at 80 % load
//! ```
//!
//! Without `--redis-url` it starts its own throw-away `redis-server` on a free loopback port
//! (no RDB snapshots, no AOF) and kills it at the end. With `--redis-url` it uses that server,
//! under fresh key prefixes that it deletes at the end; note that the default protocol resets
//! the server's command statistics (`CONFIG RESETSTAT`). The URL may name a Redis Cluster
//! (`redis+cluster://HOST:PORT,...`) or Sentinel (`redis+sentinel://.../MASTER`) as
//! `BATON_REDIS_URL` does: the bench then reads `INFO` from (and resets, flushes and deletes
//! on) every master, summing CPU time, memory and command statistics over them. See
//! `scripts/bench-cluster` to start a throw-away cluster and run the peers protocol on it.
//!
//! # The default protocol (`--protocol default`)
//! 1. **enqueue**: with no worker running, creates `--jobs` one-task no-op runs with
//!    `Store::create_runs`, in batches of `--batch`, from several concurrent tasks; reports
//!    runs (= jobs) created per second.
//! 2. **e2e**: starts `--workers` `baton-worker` processes (`--concurrency` each) and measures
//!    the time from their start until the queue's `succeeded` counter reaches `--jobs`: the
//!    drain rate in jobs per second. Meanwhile it samples each worker's resident memory
//!    (`VmRSS`, and `VmHWM` at the end). Redis's command statistics are reset at the start of
//!    phase 1 and read after phase 2, giving the Redis commands per job (enqueue plus
//!    execution, commands run inside Lua scripts included).
//! 3. **latency**: under a fresh prefix, an embedded [`worker::Worker`] (concurrency 64) runs a
//!    handler that records `now - payload.enqueued_us`, while runs are created one at a time at
//!    `--rate` per second for `--latency-secs` seconds. The time is taken just before
//!    `create_run`, so the latency covers the enqueue round trips too: from the start of the
//!    enqueue call to the start of the handler.
//!
//! Human-readable lines come first; the last line is one JSON object:
//! `{"enqueue_per_s":..,"e2e_per_s":..,"lat_p50_ms":..,"lat_p99_ms":..,"redis_cmds_per_job":..,
//! "worker_rss_mb":..,"jobs":..,"workers":..,"concurrency":..}`.
//!
//! # The peers protocol (`--protocol peers`)
//! The protocol of the peer job-queue benchmarks (BullMQ, Celery, RQ, Sidekiq, apalis), step
//! by step (see [`baton_tests::bench::peers`]): `--jobs` (default 50,000) single awaited
//! `create_run` calls; the queue emptied; the same number through `create_runs` in chunks of
//! `--bulk-chunk` (1,000) as the backlog; its drain by `--workers` `baton-worker` processes,
//! polled every 20 ms from the first progress to the end; then `--lat-n` (2,000) runs of the
//! worker's built-in `probe` handler at `--lat-rate` (500) per second, single awaited calls on
//! a fixed schedule. Progress goes to stderr; stdout is one JSON line with the peers' keys
//! (`system`, `version`, `enqueue_per_s`, `enqueue_bulk_per_s`, `process_per_s`,
//! `lat_p50_ms`, `lat_p99_ms`, `n`, `lat_samples`, `lat_offered_per_s`, `config`) plus
//! `redis_cpu_us_per_job` (Redis CPU over the drain) and `redis_bytes_per_queued_job`
//! (Redis `used_memory` growth over the bulk enqueue); on a Redis Cluster also `redis_nodes`
//! (its masters) and `redis_cpu_us_per_job_by_node` (each master's CPU over the drain).
//!
//! # The steady protocol (`--protocol steady`)
//! Measures the drain rate as above (or takes `--rate` as the drain rate), then, with the
//! workers running, schedules probe runs at `--steady-load-pct` (80) % of it for
//! `--steady-secs` (30) seconds from `--enqueuers` tasks, each creating the runs already due
//! (at most `--batch`) in one `create_runs` call. Latency counts from each run's *scheduled*
//! time, so stalls of the enqueuer are not hidden: to its task's finish (`lat_p50_ms`,
//! `lat_p99_ms`) and to its start (`start_p50_ms`, `start_p99_ms`). See
//! [`baton_tests::bench::steady`]; stdout is one JSON line.
//!
//! Every wait is bounded: the program always ends by itself and kills the processes it
//! started, also on SIGINT and SIGTERM.

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use baton_tests::RedisServer;
use baton_tests::bench::fleet::WorkerFleet;
use baton_tests::bench::redis_info::RedisNodes;
use baton_tests::bench::runs::{QUEUE, connect, fresh_prefix, noop_run, now_us, run_with};
use baton_tests::bench::{peers, per_second, steady};
use clap::{Parser, ValueEnum};
use common::engine::model::{QueueName, RunSpec};
use common::store::Store;
use serde_json::json;
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use worker::{HandlerRegistry, Worker, WorkerOptions};

/// Any error of the benchmark: it reports it and exits with a failure status.
type BenchError = Box<dyn std::error::Error + Send + Sync>;
/// Result of a benchmark step.
type BenchResult<T> = Result<T, BenchError>;

/// How often the drain and the latency phase poll.
const POLL: Duration = Duration::from_millis(20);
/// Longest the enqueue phase may take before it gives up and reports what it reached.
const ENQUEUE_TIMEOUT: Duration = Duration::from_secs(300);
/// Longest the latency phase waits, after its last enqueue, for every run to start.
const LATENCY_WAIT: Duration = Duration::from_secs(30);
/// Longest the embedded worker of the latency phase may take to stop.
const WORKER_EXIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Concurrency of the embedded worker of the latency phase.
const LATENCY_CONCURRENCY: &str = "64";
/// Runs created (and awaited) before the latency measurement starts, to warm up connections.
const LATENCY_WARMUP_RUNS: usize = 20;
/// Commands listed in the per-command breakdown of the Redis statistics.
const TOP_COMMANDS: usize = 20;
/// Clock ticks per second of the CPU times in `/proc/PID/stat` (`USER_HZ`, 100 on Linux).
const USER_HZ: f64 = 100.0;
/// Jobs of the default protocol unless `--jobs` says otherwise.
const DEFAULT_JOBS: u64 = 200_000;
/// Jobs of the peers and steady protocols unless `--jobs` says otherwise (the peers' `N`).
const PEERS_JOBS: u64 = 50_000;
/// Runs per second of the default protocol's latency phase unless `--rate` says otherwise.
const DEFAULT_RATE: u64 = 1000;

/// Which measurements to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Protocol {
    /// Enqueue with concurrent batches, drain, latency with an embedded worker, Redis
    /// commands per job and worker memory.
    Default,
    /// The peer benchmarks' protocol: single and bulk enqueue, drain, latency at a steady rate.
    Peers,
    /// Enqueue-to-completion latency under a steady load at a share of the drain rate.
    Steady,
}

/// Measures Baton's enqueue rate, end-to-end drain rate, enqueue-to-start latency, Redis
/// commands per job and worker memory.
///
/// Build first: `cargo build --release -p baton-tests --bin baton-bench -p worker --bin
/// baton-worker`; then run `./target/release/baton-bench --jobs 200000 --workers 2`, or
/// `--protocol peers`, or `--protocol steady`. The last output line is a JSON object with the
/// results.
#[derive(Debug, Clone, Parser)]
#[command(name = "baton-bench", version)]
struct Args {
    /// Which measurements to make: `default`, `peers` (the peer benchmarks' protocol) or
    /// `steady` (latency under a steady load).
    #[arg(long, value_enum, default_value_t = Protocol::Default)]
    protocol: Protocol,

    /// Jobs (one-task no-op runs) enqueued and drained: 200,000 by default; 50,000 with
    /// `--protocol peers` or `steady`.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    jobs: Option<u64>,

    /// `baton-worker` processes started for the e2e phase.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=64))]
    workers: u64,

    /// Concurrency of each worker process (`BATON_CONCURRENCY`).
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..))]
    concurrency: u64,

    /// Runs created per `create_runs` call in the enqueue phase; with `--protocol steady`, the
    /// most runs one call of the steady load carries.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..))]
    batch: u64,

    /// Concurrent tasks calling `create_runs` in the enqueue phase, and in the steady load of
    /// `--protocol steady`.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=256))]
    enqueuers: u64,

    /// Runs created per second in the latency phase, one `create_run` call each (default
    /// 1,000). With `--protocol steady`: the drain rate to load at `--steady-load-pct`, instead
    /// of measuring it.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    rate: Option<u64>,

    /// Seconds the latency phase enqueues for.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
    latency_secs: u64,

    /// Seconds the e2e phase waits for the queue to drain before it gives up and reports the
    /// rate it reached.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    drain_timeout_secs: u64,

    /// Runs per `create_runs` call of the bulk enqueue (`--protocol peers` and `steady`).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    bulk_chunk: u64,

    /// Probe runs of the latency step of `--protocol peers`.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..))]
    lat_n: u64,

    /// Probe runs created per second in the latency step of `--protocol peers`.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    lat_rate: u64,

    /// Seconds of steady load (`--protocol steady`).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    steady_secs: u64,

    /// Steady load as a percentage of the drain rate (`--protocol steady`).
    #[arg(long, default_value_t = 80, value_parser = clap::value_parser!(u64).range(1..=1000))]
    steady_load_pct: u64,

    /// Redis to use (e.g. `redis://127.0.0.1:6390`, or a `redis+cluster://` or
    /// `redis+sentinel://` URL as `BATON_REDIS_URL` takes); when absent, a throw-away `redis-server`
    /// is started on a free loopback port, with no persistence.
    #[arg(long)]
    redis_url: Option<String>,
}

impl Args {
    /// Jobs to enqueue and drain: `--jobs`, else the protocol's default.
    fn jobs(&self) -> u64 {
        self.jobs.unwrap_or(match self.protocol {
            Protocol::Default => DEFAULT_JOBS,
            Protocol::Peers | Protocol::Steady => PEERS_JOBS,
        })
    }

    /// Runs per second of the default protocol's latency phase.
    fn latency_rate(&self) -> u64 {
        self.rate.unwrap_or(DEFAULT_RATE)
    }

    /// Settings of `--protocol peers`.
    fn peers_options(&self, url: &str, own_redis: bool) -> peers::PeersOptions {
        peers::PeersOptions {
            url: url.to_owned(),
            own_redis,
            jobs: self.jobs(),
            bulk_chunk: self.bulk_chunk,
            lat_n: self.lat_n,
            lat_rate: self.lat_rate,
            workers: self.workers,
            concurrency: self.concurrency,
            drain_timeout: Duration::from_secs(self.drain_timeout_secs),
        }
    }

    /// Settings of `--protocol steady`.
    fn steady_options(&self, url: &str, own_redis: bool) -> steady::SteadyOptions {
        steady::SteadyOptions {
            url: url.to_owned(),
            own_redis,
            jobs: self.jobs(),
            bulk_chunk: self.bulk_chunk,
            drain_rate: self.rate,
            load_pct: self.steady_load_pct,
            secs: self.steady_secs,
            enqueuers: self.enqueuers,
            batch: self.batch,
            workers: self.workers,
            concurrency: self.concurrency,
            drain_timeout: Duration::from_secs(self.drain_timeout_secs),
        }
    }
}

/// What the enqueue phase measured.
#[derive(Debug)]
struct EnqueueResult {
    /// Runs created.
    created: u64,
    /// Wall time of the phase.
    elapsed: Duration,
}

/// What the e2e phase measured.
#[derive(Debug)]
struct E2eResult {
    /// Value of the queue's `succeeded` counter when the phase ended.
    succeeded: u64,
    /// From the workers' start until the counter reached the goal (or the phase gave up).
    elapsed: Duration,
    /// True when the counter reached the goal.
    complete: bool,
    /// Largest `VmRSS` sampled from any worker, in kB.
    max_rss_kb: u64,
    /// Largest `VmHWM` (peak resident memory) of any worker at the end, in kB.
    max_hwm_kb: u64,
    /// CPU time each worker used, in seconds (from `/proc/PID/stat`).
    worker_cpu_secs: Vec<f64>,
}

/// What the latency phase measured.
#[derive(Debug)]
struct LatencyResult {
    /// Runs whose creation succeeded.
    created: u64,
    /// Runs whose creation failed.
    failed: u64,
    /// Latencies recorded by the handler, in microseconds, sorted.
    samples_us: Vec<u64>,
    /// How long enqueueing took (should be `--latency-secs`).
    enqueue_elapsed: Duration,
}

/// Redis's command statistics: calls and total microseconds per command.
#[derive(Debug, Default)]
struct CommandStats {
    /// `(command, calls, usec)`, most calls first.
    commands: Vec<(String, u64, u64)>,
}

impl CommandStats {
    /// Total calls of every command.
    fn total_calls(&self) -> u64 {
        self.commands.iter().map(|(_, calls, _)| calls).sum()
    }

    /// `(calls, usec)` of one command; zeros when it was never called.
    fn get(&self, command: &str) -> (u64, u64) {
        self.commands
            .iter()
            .find(|(name, _, _)| name == command)
            .map_or((0, 0), |(_, calls, usec)| (*calls, *usec))
    }

    /// Calls of one command.
    fn calls(&self, command: &str) -> u64 {
        self.get(command).0
    }

    /// Mean microseconds per call of one command; `NaN` when it was never called.
    fn usec_per_call(&self, command: &str) -> f64 {
        let (calls, usec) = self.get(command);
        usec as f64 / calls as f64
    }

    /// Mean microseconds per call of one command since the statistics `earlier` were read.
    fn usec_per_call_since(&self, command: &str, earlier: &CommandStats) -> f64 {
        let (calls, usec) = self.get(command);
        let (calls_before, usec_before) = earlier.get(command);
        usec.saturating_sub(usec_before) as f64 / calls.saturating_sub(calls_before) as f64
    }
}

/// Parses the flags, starts Redis unless `--redis-url` is given, runs the phases on a tokio
/// runtime (stopping early on SIGINT or SIGTERM) and cleans up whatever it started.
fn main() -> ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();

    // Our own server lives until the end of `main`, so it outlives every phase and is killed
    // on the way out (its `Drop`), also after a panic.
    let (own_redis, url) = match &args.redis_url {
        Some(url) => (None, url.clone()),
        None => {
            let server = RedisServer::start();
            let url = server.url();
            (Some(server), url)
        }
    };

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("baton-bench: cannot start the tokio runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        tokio::select! {
            result = run_protocol(&args, &url, own_redis.is_some()) => Some(result),
            signal = interrupted() => {
                eprintln!("baton-bench: {signal} received: stopping");
                None
            }
        }
    });
    // Dropping the runtime stops any task still running; the workers were dropped (killed)
    // with the `run` future.
    runtime.shutdown_timeout(Duration::from_secs(5));
    drop(own_redis);
    match outcome {
        Some(Ok(())) => ExitCode::SUCCESS,
        Some(Err(error)) => {
            eprintln!("baton-bench: failed: {error}");
            ExitCode::FAILURE
        }
        None => ExitCode::from(130),
    }
}

/// Resolves on the first SIGINT or SIGTERM, naming it.
async fn interrupted() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut interrupt), Ok(mut terminate)) => tokio::select! {
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        },
        _ => std::future::pending().await,
    }
}

/// Runs the protocol `--protocol` names and prints its results.
async fn run_protocol(args: &Args, url: &str, own_redis: bool) -> BenchResult<()> {
    match args.protocol {
        Protocol::Default => run(args, url, own_redis).await,
        Protocol::Peers => {
            let report = peers::run(&args.peers_options(url, own_redis)).await?;
            println!("{}", serde_json::to_string(&report)?);
            Ok(())
        }
        Protocol::Steady => {
            let report = steady::run(&args.steady_options(url, own_redis)).await?;
            println!("{}", serde_json::to_string(&report)?);
            Ok(())
        }
    }
}

/// Runs the default protocol's three phases and prints the results.
async fn run(args: &Args, url: &str, own_redis: bool) -> BenchResult<()> {
    let admin = RedisNodes::connect(url).await?;
    let redis_version = admin.server_version().await?;
    println!(
        "baton-bench: jobs={} workers={} concurrency={} batch={} enqueuers={} rate={}/s \
         latency_secs={}",
        args.jobs(),
        args.workers,
        args.concurrency,
        args.batch,
        args.enqueuers,
        args.latency_rate(),
        args.latency_secs
    );
    println!(
        "redis: {url} ({}, redis-server {}), cpus: {}",
        if own_redis {
            "own throw-away server, no persistence".to_owned()
        } else if admin.is_cluster() {
            format!("given cluster of {} masters", admin.count())
        } else {
            "given server".to_owned()
        },
        redis_version,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let worker_bin = baton_tests::binary_path("baton-worker");
    println!("worker binary: {}", worker_bin.display());
    if !worker_bin.components().any(|c| c.as_os_str() == "release") {
        println!("warning: the worker binary is not a release build; the numbers will be low");
    }

    let prefix = fresh_prefix();
    let store = connect(url, &prefix).await?;
    let queue = QueueName::parse(QUEUE)?;

    // Phase 1: enqueue.
    admin.reset_stats().await?;
    let cpu_before = admin.cpu_secs().await?;
    let enqueue = enqueue_phase(&store, args).await?;
    let cpu_enqueue = admin.cpu_secs().await? - cpu_before;
    let enqueue_rate = per_second(enqueue.created, enqueue.elapsed);
    let stats = store.queue_stats(&queue).await?;
    let (waiting, pending) = store.queue_depth(&queue).await?;
    let memory = admin.info("memory").await?;
    println!(
        "[enqueue] {} runs in {:.3} s = {:.0} jobs/s ({} enqueuers, batches of {}); \
         redis CPU {:.0}% of a core",
        enqueue.created,
        enqueue.elapsed.as_secs_f64(),
        enqueue_rate,
        args.enqueuers,
        args.batch,
        100.0 * cpu_enqueue / enqueue.elapsed.as_secs_f64().max(1e-9)
    );
    println!(
        "[enqueue] queue counter enqueued={}, depth waiting={waiting} pending={pending}, \
         redis used_memory={}",
        stats.get("enqueued").copied().unwrap_or(0),
        used_memory_human(&memory)
    );
    let enqueue_stats = command_stats(&admin).await?;

    // Phase 2: e2e drain.
    let goal = enqueue.created;
    let cpu_before = admin.cpu_secs().await?;
    let e2e = e2e_phase(args, url, &prefix, &store, &queue, goal).await?;
    let cpu_e2e = admin.cpu_secs().await? - cpu_before;
    let all_stats = command_stats(&admin).await?;
    let e2e_rate = per_second(e2e.succeeded, e2e.elapsed);
    println!(
        "[e2e] {}/{goal} jobs succeeded in {:.3} s = {:.0} jobs/s ({} x baton-worker, concurrency \
         {} each){}",
        e2e.succeeded,
        e2e.elapsed.as_secs_f64(),
        e2e_rate,
        args.workers,
        args.concurrency,
        if e2e.complete {
            String::new()
        } else {
            format!(" -- GAVE UP after {} s", args.drain_timeout_secs)
        }
    );
    println!(
        "[e2e] worker memory: max VmRSS sampled {:.1} MB, max VmHWM {:.1} MB; worker CPU {} s; \
         redis CPU {:.0}% of a core",
        e2e.max_rss_kb as f64 / 1024.0,
        e2e.max_hwm_kb as f64 / 1024.0,
        e2e.worker_cpu_secs
            .iter()
            .map(|secs| format!("{secs:.1}"))
            .collect::<Vec<_>>()
            .join(" + "),
        100.0 * cpu_e2e / e2e.elapsed.as_secs_f64().max(1e-9)
    );
    let cmds_per_job = all_stats.total_calls() as f64 / goal.max(1) as f64;
    println!(
        "[redis] {} commands = {:.2} per job (enqueue {:.2} + execution {:.2}), commands inside \
         Lua scripts included; redis CPU {:.1} us per job",
        all_stats.total_calls(),
        cmds_per_job,
        enqueue_stats.total_calls() as f64 / goal.max(1) as f64,
        all_stats
            .total_calls()
            .saturating_sub(enqueue_stats.total_calls()) as f64
            / goal.max(1) as f64,
        1e6 * (cpu_enqueue + cpu_e2e) / goal.max(1) as f64
    );
    if !e2e.complete {
        println!(
            "[redis]   note: the drain did not complete, so the execution share covers only \
             {} of the {goal} jobs",
            e2e.succeeded
        );
    }
    println!(
        "[redis]   per job: {:<14} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "command", "calls", "enqueue", "execute", "us", "us/call"
    );
    let jobs = goal.max(1) as f64;
    for (name, calls, usec) in all_stats.commands.iter().take(TOP_COMMANDS) {
        let enqueue_calls = enqueue_stats.calls(name);
        println!(
            "[redis]            {name:<14} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
            *calls as f64 / jobs,
            enqueue_calls as f64 / jobs,
            calls.saturating_sub(enqueue_calls) as f64 / jobs,
            *usec as f64 / jobs,
            *usec as f64 / (*calls).max(1) as f64
        );
    }
    println!(
        "[redis]   (evalsha's time includes the commands its scripts call; enqueue evalsha = \
         {:.2} us/call, execute evalsha = {:.2} us/call)",
        enqueue_stats.usec_per_call("evalsha"),
        all_stats.usec_per_call_since("evalsha", &enqueue_stats)
    );

    // Phase 3: latency.
    let latency = latency_phase(url, args, &latency_prefix_of(&prefix)).await?;
    let p50 = percentile_ms(&latency.samples_us, 50.0);
    let p99 = percentile_ms(&latency.samples_us, 99.0);
    println!(
        "[latency] {} runs at {}/s over {:.3} s ({} failed to enqueue), {} started; \
         enqueue-to-start p50 {p50:.3} ms, p90 {:.3} ms, p99 {p99:.3} ms, max {:.3} ms",
        latency.created,
        args.latency_rate(),
        latency.enqueue_elapsed.as_secs_f64(),
        latency.failed,
        latency.samples_us.len(),
        percentile_ms(&latency.samples_us, 90.0),
        percentile_ms(&latency.samples_us, 100.0),
    );

    if !own_redis {
        let mut removed = admin.delete_prefix(&prefix).await?;
        removed += admin.delete_prefix(&latency_prefix_of(&prefix)).await?;
        println!("cleanup: deleted {removed} keys of prefixes {prefix}*");
    }

    let rss_mb = e2e.max_rss_kb.max(e2e.max_hwm_kb) as f64 / 1024.0;
    println!(
        "{{\"enqueue_per_s\":{},\"e2e_per_s\":{},\"lat_p50_ms\":{},\"lat_p99_ms\":{},\
         \"redis_cmds_per_job\":{},\"worker_rss_mb\":{},\"jobs\":{},\"workers\":{},\
         \"concurrency\":{}}}",
        number(enqueue_rate, 0),
        number(e2e_rate, 0),
        number(p50, 3),
        number(p99, 3),
        number(cmds_per_job, 2),
        number(rss_mb, 1),
        args.jobs(),
        args.workers,
        args.concurrency
    );
    Ok(())
}

/// Phase 1: creates `--jobs` no-op runs in batches from `--enqueuers` concurrent tasks.
async fn enqueue_phase(store: &Store, args: &Args) -> BenchResult<EnqueueResult> {
    let jobs = args.jobs();
    let batch = args.batch;
    let next = Arc::new(AtomicUsize::new(0));
    let created = Arc::new(AtomicUsize::new(0));
    let template = noop_run();
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..args.enqueuers {
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

/// Phase 2: starts the worker processes and waits until `goal` jobs have succeeded, sampling
/// the workers' memory; stops the workers at the end.
async fn e2e_phase(
    args: &Args,
    url: &str,
    prefix: &str,
    store: &Store,
    queue: &QueueName,
    goal: u64,
) -> BenchResult<E2eResult> {
    let started = Instant::now();
    let mut fleet = WorkerFleet::start(args.workers, url, prefix, args.concurrency);
    let deadline = started + Duration::from_secs(args.drain_timeout_secs);
    let mut max_rss_kb = 0;
    let mut succeeded = 0;
    let mut complete = false;
    let mut elapsed;
    let mut crashed = None;
    loop {
        let stats = store.queue_stats(queue).await?;
        succeeded = stats.get("succeeded").copied().unwrap_or(succeeded);
        elapsed = started.elapsed();
        if succeeded >= goal {
            complete = true;
            break;
        }
        for worker in fleet.workers() {
            max_rss_kb = max_rss_kb.max(proc_status_kb(worker.pid(), "VmRSS").unwrap_or(0));
        }
        if let Err(crash) = fleet.check_running() {
            crashed = Some(crash);
            break;
        }
        if Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    let mut max_hwm_kb = 0;
    let mut worker_cpu_secs = Vec::new();
    for worker in fleet.workers() {
        max_rss_kb = max_rss_kb.max(proc_status_kb(worker.pid(), "VmRSS").unwrap_or(0));
        max_hwm_kb = max_hwm_kb.max(proc_status_kb(worker.pid(), "VmHWM").unwrap_or(0));
        if let Some(secs) = cpu_secs(worker.pid()) {
            worker_cpu_secs.push(secs);
        }
    }
    fleet.stop().await;
    for worker in fleet.workers() {
        let log = worker.log();
        if !log.trim().is_empty() {
            println!(
                "[e2e] worker pid {} logged {} lines (RUST_LOG=warn); last ones:\n{}",
                worker.pid(),
                log.lines().count(),
                worker.log_tail(10)
            );
        }
    }
    if let Some(crash) = crashed {
        return Err(crash.into());
    }
    Ok(E2eResult {
        succeeded,
        elapsed,
        complete,
        max_rss_kb,
        max_hwm_kb,
        worker_cpu_secs,
    })
}

/// Phase 3: an embedded worker records enqueue-to-start latencies of runs created at `--rate`
/// per second for `--latency-secs` seconds, under `prefix` (deleted at the end on a given
/// server).
async fn latency_phase(url: &str, args: &Args, prefix: &str) -> BenchResult<LatencyResult> {
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
    let options = WorkerOptions::parse_from([
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
    let worker = Worker::new(options, handlers).await?;
    let shutdown = CancellationToken::new();
    let worker_task = tokio::spawn(worker.run(shutdown.clone()));
    let result = measure_latency(&store, args, &samples).await;
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
    args: &Args,
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
        return Err("the embedded worker did not run the warm-up runs".into());
    }
    samples
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clear();

    // One run per tick, each created by its own task so a slow call never delays the next
    // (an open-loop load); ticks missed are made up at once.
    let total = args.latency_rate() * args.latency_secs;
    let mut ticks =
        tokio::time::interval(Duration::from_secs_f64(1.0 / args.latency_rate() as f64));
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
fn latency_prefix_of(prefix: &str) -> String {
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

/// The `p`-th percentile (nearest rank) of sorted microsecond samples, in milliseconds;
/// `NaN` when there are none.
fn percentile_ms(sorted_us: &[u64], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted_us.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted_us.len()) - 1;
    sorted_us[index] as f64 / 1000.0
}

/// `value` as a JSON number with `decimals` decimals, or `null` when it is not finite.
fn number(value: f64, decimals: usize) -> String {
    if value.is_finite() {
        format!("{value:.decimals$}")
    } else {
        "null".to_owned()
    }
}

/// Redis's `used_memory_human` from each master's `INFO memory`: the server's own on a single
/// server, else the masters' `used_memory` summed, in MiB.
fn used_memory_human(memory: &[HashMap<String, String>]) -> String {
    match memory {
        [one] => one
            .get("used_memory_human")
            .cloned()
            .unwrap_or_else(|| "?".to_owned()),
        many => {
            let bytes: u64 = many
                .iter()
                .filter_map(|node| node.get("used_memory")?.parse::<u64>().ok())
                .sum();
            format!("{:.2}M", bytes as f64 / (1024.0 * 1024.0))
        }
    }
}

/// A field of `/proc/PID/status` given in kB (`VmRSS`, `VmHWM`); `None` when unreadable.
fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    let status =
        std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("status")).ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// CPU time (user + system) used so far by process `pid`, in seconds, from `/proc/PID/stat`.
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat =
        std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat")).ok()?;
    // Fields after the command name (which may hold spaces, hence the last ')'): state is
    // field 3, utime field 14 and stime field 15.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / USER_HZ)
}

/// `INFO commandstats` (summed over the masters): calls and time per command since the last
/// `CONFIG RESETSTAT`.
async fn command_stats(admin: &RedisNodes) -> BenchResult<CommandStats> {
    let mut commands: Vec<(String, u64, u64)> = admin
        .command_costs()
        .await?
        .into_iter()
        .map(|(name, cost)| (name, cost.calls, cost.usec))
        .collect();
    commands.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(CommandStats { commands })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples: Vec<u64> = (1..=100).map(|ms| ms * 1000).collect();
        assert_eq!(percentile_ms(&samples, 50.0), 50.0);
        assert_eq!(percentile_ms(&samples, 99.0), 99.0);
        assert_eq!(percentile_ms(&samples, 100.0), 100.0);
        assert_eq!(percentile_ms(&[1500], 50.0), 1.5);
        assert!(percentile_ms(&[], 50.0).is_nan());
    }

    #[test]
    fn numbers_are_json() {
        assert_eq!(number(1234.56, 0), "1235");
        assert_eq!(number(0.12345, 3), "0.123");
        assert_eq!(number(f64::NAN, 3), "null");
    }

    #[test]
    fn the_defaults_match_the_documentation() {
        let args = Args::parse_from(["baton-bench"]);
        assert_eq!(args.jobs(), 200_000);
        assert_eq!(args.workers, 2);
        assert_eq!(args.concurrency, 256);
        assert_eq!(args.batch, 500);
        assert_eq!(args.latency_rate(), 1000);
        assert_eq!(args.latency_secs, 5);
        assert!(args.redis_url.is_none());
        assert_eq!(args.protocol, Protocol::Default);
    }

    #[test]
    fn the_peers_protocol_takes_the_peers_defaults() {
        let args = Args::parse_from(["baton-bench", "--protocol", "peers"]);
        let options = args.peers_options("redis://127.0.0.1:1", true);
        assert_eq!(options.jobs, 50_000);
        assert_eq!(options.bulk_chunk, 1000);
        assert_eq!(options.lat_n, 2000);
        assert_eq!(options.lat_rate, 500);
        let args = Args::parse_from(["baton-bench", "--protocol", "peers", "--jobs", "5000"]);
        assert_eq!(args.peers_options("redis://127.0.0.1:1", true).jobs, 5000);
    }

    #[test]
    fn the_steady_protocol_measures_the_drain_unless_given_a_rate() {
        let args = Args::parse_from(["baton-bench", "--protocol", "steady"]);
        let options = args.steady_options("redis://127.0.0.1:1", true);
        assert_eq!(options.drain_rate, None);
        assert_eq!((options.load_pct, options.secs), (80, 30));
        let args = Args::parse_from(["baton-bench", "--protocol", "steady", "--rate", "9000"]);
        assert_eq!(
            args.steady_options("redis://127.0.0.1:1", true).drain_rate,
            Some(9000)
        );
    }

    #[test]
    fn the_own_process_status_is_readable() {
        assert!(proc_status_kb(std::process::id(), "VmRSS").unwrap_or(0) > 0);
        assert!(proc_status_kb(std::process::id(), "NoSuchField").is_none());
    }

    #[test]
    fn the_own_cpu_time_is_readable() {
        let spin = Instant::now();
        while spin.elapsed() < Duration::from_millis(50) {
            std::hint::black_box(now_us());
        }
        assert!(cpu_secs(std::process::id()).unwrap_or(0.0) > 0.0);
    }

    #[test]
    fn runs_are_valid() {
        assert!(noop_run().validate().is_ok());
        assert!(latency_run(now_us()).validate().is_ok());
    }
}

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
//! The phases and the report live in [`baton_tests::bench::default`]. Human-readable lines
//! come first; the last line is one JSON object:
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

use std::process::ExitCode;
use std::time::Duration;

use baton_tests::RedisServer;
use baton_tests::bench::default::{DefaultOptions, e2e, enqueue, latency, report};
use baton_tests::bench::redis_info::RedisNodes;
use baton_tests::bench::runs::{QUEUE, connect, fresh_prefix};
use baton_tests::bench::{peers, steady};
use clap::{Parser, ValueEnum};
use common::engine::model::QueueName;
use mimalloc::MiMalloc;

/// Any error of the benchmark: it reports it and exits with a failure status.
type BenchError = Box<dyn std::error::Error + Send + Sync>;
/// Result of a benchmark step.
type BenchResult<T> = Result<T, BenchError>;

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

    /// Settings of the default protocol.
    fn default_options(&self, url: &str) -> DefaultOptions {
        DefaultOptions {
            url: url.to_owned(),
            jobs: self.jobs(),
            workers: self.workers,
            concurrency: self.concurrency,
            batch: self.batch,
            enqueuers: self.enqueuers,
            rate: self.latency_rate(),
            latency_secs: self.latency_secs,
            drain_timeout: Duration::from_secs(self.drain_timeout_secs),
        }
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

/// Parses the flags, starts Redis unless `--redis-url` is given, runs the phases on a tokio
/// runtime (stopping early on SIGINT or SIGTERM) and cleans up whatever it started.
/// mimalloc, as `baton-api` and `baton-worker` run with: the bench's enqueue steps stand in
/// for the API's, whose calls allocate many small, short-lived buffers (arguments, replies).
#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

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
    let options = args.default_options(url);
    let admin = RedisNodes::connect(url).await?;
    let redis_version = admin.server_version().await?;
    report::print_header(&options, own_redis, &admin, &redis_version);

    let prefix = fresh_prefix();
    let store = connect(url, &prefix).await?;
    let queue = QueueName::parse(QUEUE)?;

    // Phase 1: enqueue.
    admin.reset_stats().await?;
    let cpu_before = admin.cpu_secs().await?;
    let enqueued = enqueue::run(&store, &options).await?;
    let cpu_enqueue = admin.cpu_secs().await? - cpu_before;
    let stats = store.queue_stats(&queue).await?;
    let (waiting, pending) = store.queue_depth(&queue).await?;
    let memory = admin.info("memory").await?;
    let after_enqueue = report::QueueAfterEnqueue {
        enqueued: stats.get("enqueued").copied().unwrap_or(0),
        waiting,
        pending,
        memory,
    };
    report::print_enqueue(&options, &enqueued, cpu_enqueue, &after_enqueue);
    let enqueue_stats = report::command_stats(&admin).await?;

    // Phase 2: e2e drain.
    let goal = enqueued.created;
    let cpu_before = admin.cpu_secs().await?;
    let drained = e2e::run(&options, &prefix, &store, &queue, goal).await?;
    let cpu_e2e = admin.cpu_secs().await? - cpu_before;
    let all_stats = report::command_stats(&admin).await?;
    report::print_e2e(&options, &drained, goal, cpu_e2e);
    report::print_redis(
        &all_stats,
        &enqueue_stats,
        &drained,
        goal,
        cpu_enqueue + cpu_e2e,
    );

    // Phase 3: latency.
    let latency_prefix = latency::latency_prefix_of(&prefix);
    let latency = latency::run(&options, &latency_prefix).await?;
    report::print_latency(&options, &latency);

    if !own_redis {
        let mut removed = admin.delete_prefix(&prefix).await?;
        removed += admin.delete_prefix(&latency_prefix).await?;
        println!("cleanup: deleted {removed} keys of prefixes {prefix}*");
    }

    report::print_summary(
        &options,
        &enqueued,
        &drained,
        &latency,
        report::commands_per_job(&all_stats, goal),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
}

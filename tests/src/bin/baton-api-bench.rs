//! `baton-api-bench`: the API's throughput and latency, measured end to end over real sockets.
//!
//! It starts its own `redis-server` and `baton-api` (with a 3-task chain definition whose tasks
//! are the worker's built-in `noop` handler), creates an admin key, then runs one scenario:
//!
//! - `create` (the default): `--clients` concurrent clients send signed `POST /api/workflows`
//!   (each with its own payload) for `--secs` seconds with no worker running, then `--workers`
//!   `baton-worker` processes run the created chains: requests/s, latency p50/p99, and
//!   workflows/s end to end;
//! - `list`, `detail`, `mixed`: `--runs` chains are created through the API and run to success
//!   first; then the clients read for `--secs` seconds: `GET /api/workflows?per_page=N`
//!   (`--per-page`), `GET /api/workflows/ID` of random runs, or both (one list in five).
//!   Besides requests/s and latency, the Redis commands each request cost (`INFO
//!   commandstats` over the read phase, `PING` and `UNWATCH` among them);
//! - `signed`: signed `GET /api/definitions`, answered from memory once the request is
//!   admitted: what a signed request costs before it reads anything.
//!
//! Every read scenario also reports the CPU each request cost in `baton-api`, in
//! `redis-server` and in the bench itself (the load generator shares the machine), from
//! `/proc`, so the figures show which of them limits the rate.
//!
//! Every request is signed with a unique signed `X-Request-Id` (no two signatures repeat). The
//! last line is one JSON object. Build the release binaries first:
//!
//! ```sh
//! cargo build --release --workspace --bins
//! ./target/release/baton-api-bench --clients 32 --secs 5 --workers 2
//! ./target/release/baton-api-bench --scenario list --runs 5000 --per-page 100 --clients 8
//! ```

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use baton_tests::bench::api_load::{LoadReport, Request, Until, closed_loop};
use baton_tests::bench::process_cpu::CpuMeter;
use baton_tests::bench::redis_info::RedisNodes;
use baton_tests::process::BatonProcess;
use baton_tests::redis_server::RedisServer;
use clap::{Parser, ValueEnum};
use common::auth::signing::sign::Signer;
use common::config::StoreOptions;
use common::engine::model::QueueName;
use common::store::Store;
use serde_json::{Value, json};

/// Measures signed API requests: creating workflows, or reading them.
#[derive(Debug, Parser)]
#[command(name = "baton-api-bench", about)]
struct Args {
    /// What to measure.
    #[arg(long, value_enum, default_value_t = Scenario::Create)]
    scenario: Scenario,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Seconds of requests.
    #[arg(long, default_value_t = 5)]
    secs: u64,
    /// Worker processes that run the workflows.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Concurrency of each worker.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Workflows created (and run to success) before a read scenario.
    #[arg(long, default_value_t = 5000)]
    runs: u64,
    /// `per_page` of the listed pages.
    #[arg(long, default_value_t = 100)]
    per_page: usize,
}

/// A bench scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// Signed `POST /api/workflows`, then the created chains run by workers.
    Create,
    /// `GET /api/workflows?per_page=N` over preloaded runs.
    List,
    /// `GET /api/workflows/ID` of random preloaded runs.
    Detail,
    /// One list in five, the rest details.
    Mixed,
    /// Signed `GET /api/definitions`: admission and an answer from memory.
    Signed,
}

const DEFINITIONS: &str = "bench.CHAIN:\n  tasks: [A, B, C]\nexecutors:\n  A: {type: handler, name: noop}\n  B: {type: handler, name: noop}\n  C: {type: handler, name: noop}\n";
const MASTER_KEY: &str = "bench-master-key-0123456789";

/// The running API and what reaching it takes.
struct Deployment {
    redis: RedisServer,
    api: BatonProcess,
    _definitions: tempfile::TempDir,
    url: String,
    prefix: String,
    base: String,
    http: reqwest::Client,
    signer: Arc<Signer>,
    common_env: Vec<(String, String)>,
    /// The API's environment: `common_env` and where it listens and finds definitions.
    api_env: Vec<(String, String)>,
}

impl Deployment {
    /// Replaces the API with a new process, which has seen no run yet, and waits until it
    /// answers.
    async fn restart_api(&mut self) {
        self.api.kill_9();
        self.api = BatonProcess::spawn("baton-api", &[], &refs(&self.api_env));
        baton_tests::signed_http::wait_for_health(&self.http, &self.base).await;
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    baton_tests::bench::run_main("baton-api-bench", run(&args))
}

async fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut deployment = deploy(args).await?;
    println!(
        "baton-api-bench: scenario={:?} clients={} secs={} workers={} concurrency={}",
        args.scenario, args.clients, args.secs, args.workers, args.concurrency
    );
    let summary = match args.scenario {
        Scenario::Create => create_scenario(args, &deployment).await?,
        scenario => read_scenario(args, &mut deployment, scenario).await?,
    };
    println!("{summary}");
    Ok(())
}

/// Starts Redis and the API, and creates an admin key.
async fn deploy(args: &Args) -> Result<Deployment, Box<dyn std::error::Error>> {
    let redis = RedisServer::start();
    let prefix = baton_tests::unique_prefix();
    let definitions = tempfile::tempdir()?;
    std::fs::write(definitions.path().join("bench.yml"), DEFINITIONS)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let listen = format!("127.0.0.1:{port}");
    let url = redis.url();
    let common_env: Vec<(String, String)> = [
        ("BATON_REDIS_URL", url.as_str()),
        ("BATON_PREFIX", prefix.as_str()),
        ("BATON_MASTER_KEY", MASTER_KEY),
        ("RUST_LOG", "warn"),
    ]
    .iter()
    .map(|(name, value)| (name.to_string(), value.to_string()))
    .collect();
    let secret = BatonProcess::last_line_of(
        "baton-api",
        &["keys", "create", "bench", "--permissions", "admin"],
        &refs(&common_env),
    )
    .await?;
    let mut api_env = refs(&common_env);
    let dir = definitions.path().display().to_string();
    api_env.extend([
        ("BATON_LISTEN", listen.as_str()),
        ("BATON_DEFINITIONS", dir.as_str()),
    ]);
    let api = BatonProcess::spawn("baton-api", &[], &api_env);
    let api_env = api_env
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .build()?;
    let base = format!("http://{listen}");
    baton_tests::signed_http::wait_for_health(&http, &base).await;
    let mut signer = Signer::new("bench", secret.into_bytes());
    signer.headers.push("x-request-id".to_owned());
    Ok(Deployment {
        redis,
        api,
        _definitions: definitions,
        url,
        prefix,
        base,
        http,
        signer: Arc::new(signer),
        common_env,
        api_env,
    })
}

/// Signed `POST /api/workflows` for `secs` (or `count` of them), each with its own payload.
async fn create_workflows(args: &Args, deployment: &Deployment, until: Until) -> LoadReport {
    let next = Arc::new(|n: u64| {
        Request::post(
            "/api/workflows",
            &json!({"project": "bench", "name": "CHAIN", "payload": {"n": n}}),
            201,
        )
    });
    closed_loop(
        &deployment.base,
        &deployment.signer,
        args.clients,
        until,
        next,
    )
    .await
}

/// Runs every created chain to success with `--workers` workers; workflows per second.
async fn run_to_success(
    args: &Args,
    deployment: &Deployment,
    created: u64,
) -> Result<f64, Box<dyn std::error::Error>> {
    let store = Store::connect(&StoreOptions {
        redis_url: deployment.url.clone(),
        prefix: deployment.prefix.clone(),
        retention_secs: 3600,
        shards: common::keys::DEFAULT_SHARDS,
        list_cache_runs: common::config::DEFAULT_LIST_CACHE_RUNS,
        tls: Default::default(),
        replication: Default::default(),
    })
    .await?;
    let concurrency = args.concurrency.to_string();
    let mut worker_env = without_master_key(&refs(&deployment.common_env));
    worker_env.push(("BATON_CONCURRENCY", concurrency.as_str()));
    let drain_started = Instant::now();
    let mut workers: Vec<BatonProcess> = (0..args.workers)
        .map(|_| BatonProcess::spawn("baton-worker", &[], &worker_env))
        .collect();
    let queue = QueueName::default();
    let wanted = created * 3;
    let mut done = 0;
    while drain_started.elapsed() < Duration::from_secs(300) {
        done = store
            .queue_stats(&queue)
            .await?
            .get("succeeded")
            .copied()
            .unwrap_or(0);
        if done >= wanted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let drain = drain_started.elapsed().as_secs_f64();
    let workflows_per_s = (done / 3) as f64 / drain;
    println!(
        "[3-task chains] {} of {created} workflows succeeded in {drain:.3} s = {workflows_per_s:.0} workflows/s ({} tasks/s)",
        done / 3,
        (done as f64 / drain).round()
    );
    for worker in &mut workers {
        worker.terminate();
    }
    for worker in &mut workers {
        worker.wait_exit_async(Duration::from_secs(10)).await;
    }
    Ok(workflows_per_s)
}

/// Signed creations for `--secs`, then the chains run by workers.
async fn create_scenario(
    args: &Args,
    deployment: &Deployment,
) -> Result<Value, Box<dyn std::error::Error>> {
    let load = create_workflows(args, deployment, Until::Elapsed(secs(args))).await;
    println!("{}", load.summary("signed POST /api/workflows"));
    let workflows_per_s = run_to_success(args, deployment, load.succeeded).await?;
    Ok(json!({
        "scenario": "create",
        "signed_requests_per_s": load.per_second().round(),
        "request_p50_ms": three_decimals(load.percentile_ms(50.0)),
        "request_p99_ms": three_decimals(load.percentile_ms(99.0)),
        "chain_workflows_per_s": workflows_per_s.round(),
        "clients": args.clients,
        "workers": args.workers,
    }))
}

/// `--runs` chains created and run to success, then `--secs` of reads from a new API process,
/// which, like a replica that did not create them, has seen none of the runs; with the Redis
/// commands the reads cost.
async fn read_scenario(
    args: &Args,
    deployment: &mut Deployment,
    scenario: Scenario,
) -> Result<Value, Box<dyn std::error::Error>> {
    if scenario != Scenario::Signed {
        let preload = create_workflows(args, deployment, Until::Sent(args.runs)).await;
        println!("{}", preload.summary("preload: signed POST /api/workflows"));
        run_to_success(args, deployment, preload.succeeded).await?;
    }
    let ids = workflow_ids(deployment).await?;
    println!("[preload] {} workflows listed by the API", ids.len());
    deployment.restart_api().await;
    println!("[preload] the API restarted: it has seen none of the runs");
    let deployment = &*deployment;
    let listed = ids.len();
    let ids = Arc::new(ids);
    let per_page = args.per_page;
    let list = format!("/api/workflows?per_page={per_page}");
    let next: Arc<dyn Fn(u64) -> Request + Send + Sync> = Arc::new(move |n: u64| {
        let detail = || Request::get(format!("/api/workflows/{}", ids[pick(n, ids.len())]));
        match scenario {
            Scenario::List => Request::get(list.clone()),
            Scenario::Detail => detail(),
            Scenario::Signed => Request::get("/api/definitions"),
            _ if n.is_multiple_of(5) => Request::get(list.clone()),
            _ => detail(),
        }
    });
    let redis = RedisNodes::connect(&deployment.url).await?;
    redis.reset_stats().await?;
    let mut processes = vec![("api", deployment.api.pid()), ("bench", std::process::id())];
    processes.extend(deployment.redis.pid().map(|pid| ("redis", pid)));
    let cpu = CpuMeter::start(&processes);
    let load = closed_loop(
        &deployment.base,
        &deployment.signer,
        args.clients,
        Until::Elapsed(secs(args)),
        next,
    )
    .await;
    let cpu = cpu.per_unit(load.succeeded + load.failed);
    let costs = redis.command_costs().await?;
    let requests = (load.succeeded + load.failed).max(1) as f64;
    // Per request: calls and microseconds of each command.
    let mut by_command: Vec<(String, f64, f64)> = costs
        .iter()
        .map(|(command, cost)| {
            (
                command.clone(),
                cost.calls as f64 / requests,
                cost.usec as f64 / requests,
            )
        })
        .filter(|(_, per_request, _)| *per_request >= 0.001)
        .collect();
    by_command.sort_by(|a, b| b.2.total_cmp(&a.2));
    let commands_per_request: f64 = by_command.iter().map(|(_, calls, _)| calls).sum();
    let redis_us_per_request = costs.values().map(|cost| cost.usec).sum::<u64>() as f64 / requests;
    let label = match scenario {
        Scenario::List => format!("GET /api/workflows?per_page={per_page}"),
        Scenario::Detail => "GET /api/workflows/ID".to_owned(),
        Scenario::Signed => "GET /api/definitions".to_owned(),
        _ => format!(
            "mixed: 1 in 5 GET /api/workflows?per_page={per_page}, else GET /api/workflows/ID"
        ),
    };
    println!("{}", load.summary(&label));
    let shown: Vec<String> = by_command
        .iter()
        .map(|(command, calls, usec)| format!("{command} {calls:.2} ({usec:.1} us)"))
        .collect();
    println!(
        "[redis] {commands_per_request:.2} commands and {redis_us_per_request:.1} us of Redis CPU per request: {}",
        shown.join(", ")
    );
    let spent: Vec<String> = cpu
        .iter()
        .map(|process| {
            format!(
                "{} {:.1} us ({:.2} cores)",
                process.name, process.us_per_unit, process.cores
            )
        })
        .collect();
    println!("[cpu] per request: {}", spent.join(", "));
    Ok(json!({
        "scenario": format!("{scenario:?}").to_lowercase(),
        "runs": listed,
        "per_page": per_page,
        "requests_per_s": load.per_second().round(),
        "p50_ms": three_decimals(load.percentile_ms(50.0)),
        "p99_ms": three_decimals(load.percentile_ms(99.0)),
        "failed": load.failed,
        "redis_commands_per_request": three_decimals(commands_per_request),
        "redis_us_per_request": three_decimals(redis_us_per_request),
        "cpu_us_per_request": cpu.iter().map(|process| (process.name.clone(), json!(three_decimals(process.us_per_unit)))).collect::<serde_json::Map<String, Value>>(),
        "cpu_cores": cpu.iter().map(|process| (process.name.clone(), json!(three_decimals(process.cores)))).collect::<serde_json::Map<String, Value>>(),
        "redis_commands": by_command.iter().map(|(command, calls, _)| (command.clone(), json!(three_decimals(*calls)))).collect::<serde_json::Map<String, Value>>(),
        "clients": args.clients,
    }))
}

/// The ids of every workflow, read through the API a thousand at a time.
async fn workflow_ids(deployment: &Deployment) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let mut ids = Vec::new();
    for page in 1.. {
        let path = format!("/api/workflows?per_page=1000&page={page}&with_payload=false");
        let answer = baton_tests::signed_http::send_signed(
            &deployment.http,
            &deployment.base,
            Some(&deployment.signer),
            "GET",
            &path,
            &[],
            &[("x-request-id", &uuid::Uuid::new_v4().simple().to_string())],
        )
        .await;
        let listed = answer.body.as_array().cloned().unwrap_or_default();
        ids.extend(
            listed
                .iter()
                .filter_map(|workflow| workflow["id"].as_str().map(str::to_owned)),
        );
        if listed.len() < 1000 {
            break;
        }
    }
    Ok(ids)
}

/// A well-spread index below `len` for request `n` (a multiplicative hash).
fn pick(n: u64, len: usize) -> usize {
    (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) as usize % len.max(1)
}

fn secs(args: &Args) -> Duration {
    Duration::from_secs(args.secs)
}

fn three_decimals(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

fn refs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect()
}

/// `env` without the master key, which only `baton-api` may hold (workers and the scheduler
/// refuse to start with it).
fn without_master_key<'a>(env: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    env.iter()
        .copied()
        .filter(|(name, _)| *name != "BATON_MASTER_KEY")
        .collect()
}

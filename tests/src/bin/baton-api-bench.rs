//! `baton-api-bench`: the API's throughput and latency, measured end to end over real sockets.
//!
//! It starts its own `redis-server` and `baton-api` (with a 3-task chain definition whose tasks
//! are the worker's built-in `noop` handler), creates an admin key, then:
//! 1. **signed requests**: `--clients` concurrent clients send signed `POST /api/workflows`
//!    (each with its own payload, so no two signatures repeat) for `--secs` seconds, with no
//!    worker running; it reports requests/s and latency p50/p99;
//! 2. **workflows**: starts `--workers` `baton-worker` processes and measures how fast the 3-task
//!    chain workflows created in phase 1 run to success (workflows/s end to end).
//!
//! The last line is one JSON object. Build the release binaries first:
//!
//! ```sh
//! cargo build --release --workspace --bins
//! ./target/release/baton-api-bench --clients 32 --secs 5 --workers 2
//! ```

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use baton_tests::bench::percentile_ms;
use baton_tests::process::BatonProcess;
use baton_tests::redis_server::RedisServer;
use clap::Parser;
use common::config::StoreOptions;
use common::model::QueueName;
use common::signing::Signer;
use common::store::Store;
use serde_json::json;

/// Measures signed API requests and end-to-end workflows.
#[derive(Debug, Parser)]
#[command(name = "baton-api-bench", about)]
struct Args {
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Seconds of signed requests.
    #[arg(long, default_value_t = 5)]
    secs: u64,
    /// Worker processes for the workflow phase.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Concurrency of each worker.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
}

const DEFINITIONS: &str = "bench.CHAIN:\n  tasks: [A, B, C]\nexecutors:\n  A: {type: handler, name: noop}\n  B: {type: handler, name: noop}\n  C: {type: handler, name: noop}\n";
const MASTER_KEY: &str = "bench-master-key-0123456789";

fn main() -> ExitCode {
    let args = Args::parse();
    baton_tests::bench::run_main("baton-api-bench", run(&args))
}

async fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let redis = RedisServer::start();
    let prefix = baton_tests::unique_prefix();
    let definitions = tempfile::tempdir()?;
    std::fs::write(definitions.path().join("bench.yml"), DEFINITIONS)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let listen = format!("127.0.0.1:{port}");
    let url = redis.url();
    let dir = definitions.path().display().to_string();
    let common_env = [
        ("BATON_REDIS_URL", url.as_str()),
        ("BATON_PREFIX", prefix.as_str()),
        ("BATON_MASTER_KEY", MASTER_KEY),
        ("RUST_LOG", "warn"),
    ];
    let secret = BatonProcess::last_line_of(
        "baton-api",
        &["keys", "create", "bench", "--permissions", "admin"],
        &common_env,
    )
    .await?;
    let mut api_env = common_env.to_vec();
    api_env.extend([
        ("BATON_LISTEN", listen.as_str()),
        ("BATON_DEFINITIONS", dir.as_str()),
    ]);
    let _api = BatonProcess::spawn("baton-api", &[], &api_env);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .build()?;
    let base = format!("http://{listen}");
    baton_tests::signed_http::wait_for_health(&http, &base).await;
    println!(
        "baton-api-bench: clients={} secs={} workers={} concurrency={}",
        args.clients, args.secs, args.workers, args.concurrency
    );

    // Phase 1: signed POSTs.
    let signer = Arc::new(Signer::new("bench", secret.into_bytes()));
    let counter = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.secs);
    let mut clients = Vec::new();
    for _ in 0..args.clients {
        let (http, signer, counter, base) = (
            http.clone(),
            Arc::clone(&signer),
            Arc::clone(&counter),
            base.clone(),
        );
        clients.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0u64;
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let body = serde_json::to_vec(
                    &json!({"project": "bench", "name": "CHAIN", "payload": {"n": n}}),
                )
                .unwrap_or_default();
                let mut headers = http::HeaderMap::new();
                headers.insert(
                    "content-type",
                    http::HeaderValue::from_static("application/json"),
                );
                signer.sign_request(
                    &http::Method::POST,
                    "/api/workflows",
                    &mut headers,
                    &body,
                    chrono::Utc::now(),
                );
                let sent = Instant::now();
                let response = http
                    .post(format!("{base}/api/workflows"))
                    .headers(headers)
                    .body(body)
                    .send()
                    .await;
                match response {
                    Ok(response) if response.status().as_u16() == 201 => {
                        latencies.push(sent.elapsed().as_micros() as u64);
                    }
                    _ => failures += 1,
                }
            }
            (latencies, failures)
        }));
    }
    let mut latencies = Vec::new();
    let mut failures = 0;
    for client in clients {
        let (mut samples, failed) = client.await?;
        latencies.append(&mut samples);
        failures += failed;
    }
    let elapsed = args.secs as f64;
    latencies.sort_unstable();
    let created = latencies.len() as u64;
    let requests_per_s = created as f64 / elapsed;
    let (p50, p99) = (
        percentile_ms(&latencies, 50.0),
        percentile_ms(&latencies, 99.0),
    );
    println!(
        "[signed POST /api/workflows] {created} created in {elapsed:.1} s = {requests_per_s:.0} requests/s, {failures} failed; latency p50 {p50:.3} ms, p99 {p99:.3} ms"
    );

    // Phase 2: the created 3-task chains, run by workers.
    let store = Store::connect(&StoreOptions {
        redis_url: url.clone(),
        prefix: prefix.clone(),
        retention_secs: 3600,
        shards: common::keys::DEFAULT_SHARDS,
        tls: Default::default(),
        replication: Default::default(),
    })
    .await?;
    let concurrency = args.concurrency.to_string();
    let mut worker_env = without_master_key(&common_env);
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
    println!(
        "{}",
        json!({
            "signed_requests_per_s": requests_per_s.round(),
            "request_p50_ms": (p50 * 1000.0).round() / 1000.0,
            "request_p99_ms": (p99 * 1000.0).round() / 1000.0,
            "chain_workflows_per_s": workflows_per_s.round(),
            "clients": args.clients,
            "workers": args.workers,
        })
    );
    Ok(())
}

/// `env` without the master key, which only `baton-api` may hold (workers and the scheduler
/// refuse to start with it).
fn without_master_key<'a>(env: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    env.iter()
        .copied()
        .filter(|(name, _)| *name != "BATON_MASTER_KEY")
        .collect()
}

//! `baton-reports-bench`: the reports front (OrderlyWeb's API v1 under `/api/v1/`), measured
//! end to end over real sockets.
//!
//! It starts its own `redis-server`, makes a git repository of two reports (`trivial`, which
//! writes one artefact, and `chatty`, which prints a numbered line every 50 ms for `seconds`
//! seconds), creates a user with `baton-api tokens create`, starts `baton-api` and
//! `baton-scheduler`, logs in (`POST /api/v1/login/`) and sends the bearer token on every
//! request. Then:
//! 1. **runs**: with no worker running, `--clients` concurrent clients queue `--runs` runs of
//!    `trivial` (`POST /api/v1/reports/trivial/run/`); it reports runs queued per second and
//!    the request latency p50/p99. It then starts `--workers` `baton-worker` processes
//!    (`--concurrency` each) and times, from their start, until `GET /api/v1/queue/status/`
//!    is empty and `GET /api/v1/reports/trivial/` lists `--runs` versions: runs executed per
//!    second;
//! 2. **status**: queues `--streaming` runs of `chatty` (lasting `--secs` + 5 seconds), waits
//!    until they are all `running`, then `--clients` clients send
//!    `GET /api/v1/reports/<key>/status/?output=true` round-robin over them for `--secs`
//!    seconds; it reports requests/s, latency p50/p99, failures and the average number of log
//!    lines in the last answer for each run (showing that the logs were streaming). The runs
//!    are then killed (`DELETE /api/v1/reports/<key>/kill/`).
//!
//! The last line is one JSON object. Build the release binaries first:
//!
//! ```sh
//! cargo build --release --workspace --bins
//! ./target/release/baton-reports-bench --runs 500 --clients 32 --workers 2 --concurrency 8 --streaming 8 --secs 5
//! ```

use std::path::Path;
use std::process::ExitCode;

use common::test_support::{git, write_file};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use baton_tests::bench::percentile_ms;
use baton_tests::process::BatonProcess;
use baton_tests::redis_server::RedisServer;
use clap::Parser;
use serde_json::{Value, json};

/// Measures queuing, executing and watching report runs through the reports front.
#[derive(Debug, Parser)]
#[command(name = "baton-reports-bench", about)]
struct Args {
    /// Runs of `trivial` queued, then executed.
    #[arg(long, default_value_t = 500)]
    runs: usize,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Worker processes.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Concurrency of each worker.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Runs of `chatty` streaming their logs while the status endpoint is measured.
    #[arg(long, default_value_t = 8)]
    streaming: usize,
    /// Seconds of status requests.
    #[arg(long, default_value_t = 5)]
    secs: u64,
}

const MASTER_KEY: &str = "bench-master-key-0123456789";
const TRIVIAL_YML: &str =
    "script: run.sh\nartefacts:\n  - data: {description: Out, filenames: out.txt}\n";
const TRIVIAL_SH: &str = "#!/bin/sh\necho hello > out.txt\n";
const CHATTY_YML: &str = "script: run.sh\nparameters:\n  seconds: {default: 5}\nartefacts:\n  - data: {description: Out, filenames: out.txt}\n";
const CHATTY_SH: &str = "#!/bin/sh\ni=0\nwhile [ $i -lt $((seconds * 20)) ]; do\n  i=$((i + 1))\n  echo \"line $i\"\n  sleep 0.05\ndone\necho done > out.txt\n";
/// The longest wait for the workers to execute the queued runs.
const EXECUTE_TIMEOUT: Duration = Duration::from_secs(600);
/// The longest wait for the versions to be recorded once the queue is empty.
const VERSIONS_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest wait for the streaming runs to start.
const RUNNING_TIMEOUT: Duration = Duration::from_secs(60);

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn main() -> ExitCode {
    let args = Args::parse();
    baton_tests::bench::run_main("baton-reports-bench", run(&args))
}

fn round3(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

/// The reports repository: `trivial` and `chatty`, in one commit on `master`.
fn reports_repository(dir: &Path) -> BenchResult<()> {
    git(dir, &["init", "-q", "-b", "master"]);
    write_file(dir, "src/trivial/orderly.yml", TRIVIAL_YML, false);
    write_file(dir, "src/trivial/run.sh", TRIVIAL_SH, true);
    write_file(dir, "src/chatty/orderly.yml", CHATTY_YML, false);
    write_file(dir, "src/chatty/run.sh", CHATTY_SH, true);
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", "reports"]);
    Ok(())
}

/// A client of the reports front, sending a bearer token.
#[derive(Clone)]
struct Api {
    http: reqwest::Client,
    base: String,
    bearer: String,
}

impl Api {
    /// Sends a request and returns the HTTP status and the body (`null` when not JSON).
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), reqwest::Error> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("authorization", &self.bearer);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    /// The `data` of a successful answer in OrderlyWeb's envelope; an error describing the
    /// answer otherwise.
    async fn data(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, String> {
        let (status, answer) = self
            .send(method.clone(), path, body)
            .await
            .map_err(|error| format!("{method} {path}: {error}"))?;
        envelope_data(status, answer).map_err(|error| format!("{method} {path}: {error}"))
    }
}

/// The `data` of a `200` answer `{"status": "success", "data": ..., "errors": []}`.
fn envelope_data(status: u16, mut answer: Value) -> Result<Value, String> {
    if status != 200 || answer["status"] != "success" || answer["errors"] != json!([]) {
        return Err(format!("HTTP {status}: {answer}"));
    }
    Ok(answer["data"].take())
}

/// The number of versions of report `name` (0 while it has none: the front answers 404).
async fn version_count(api: &Api, name: &str) -> Result<usize, String> {
    let path = format!("/api/v1/reports/{name}/");
    match api.send(reqwest::Method::GET, &path, None).await {
        Ok((404, _)) => Ok(0),
        Ok((status, answer)) => match envelope_data(status, answer)? {
            Value::Array(ids) => Ok(ids.len()),
            other => Err(format!("GET {path}: data is not a list: {other}")),
        },
        Err(error) => Err(format!("GET {path}: {error}")),
    }
}

/// How many of the runs `keys` are in each status, e.g. `success=98 error=2`.
async fn status_summary(api: &Api, keys: &[String]) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for key in keys {
        let path = format!("/api/v1/reports/{key}/status/");
        let status = match api.data(reqwest::Method::GET, &path, None).await {
            Ok(data) => data["status"].as_str().unwrap_or("?").to_owned(),
            Err(_) => "unreadable".to_owned(),
        };
        match counts.iter_mut().find(|(known, _)| *known == status) {
            Some((_, count)) => *count += 1,
            None => counts.push((status, 1)),
        }
    }
    counts
        .iter()
        .map(|(status, count)| format!("{status}={count}"))
        .collect::<Vec<_>>()
        .join(" ")
}

async fn run(args: &Args) -> BenchResult<()> {
    if args.runs == 0 || args.clients == 0 || args.workers == 0 || args.streaming == 0 {
        return Err("--runs, --clients, --workers and --streaming must be at least 1".into());
    }
    let redis = RedisServer::start();
    let prefix = baton_tests::unique_prefix();
    let repo = tempfile::tempdir()?;
    reports_repository(repo.path())?;
    let artefacts = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let listen = format!("127.0.0.1:{port}");
    let url = redis.url();
    let repo_dir = repo.path().display().to_string();
    let artefacts_dir = artefacts.path().display().to_string();
    let common_env = [
        ("BATON_REDIS_URL", url.as_str()),
        ("BATON_PREFIX", prefix.as_str()),
        ("BATON_MASTER_KEY", MASTER_KEY),
        ("BATON_REPORTS_REPO", repo_dir.as_str()),
        ("BATON_ARTEFACTS", artefacts_dir.as_str()),
        ("RUST_LOG", "warn"),
    ];
    let user_token = BatonProcess::last_line_of(
        "baton-api",
        &[
            "tokens",
            "create",
            "bench",
            "--permissions",
            "reports.read,reports.review,reports.run",
        ],
        &common_env,
    )
    .await?;
    let mut api_env = common_env.to_vec();
    api_env.push(("BATON_LISTEN", listen.as_str()));
    let _api = BatonProcess::spawn("baton-api", &[], &api_env);
    let mut scheduler_env = without_master_key(&common_env);
    scheduler_env.push(("BATON_TICK_MS", "50"));
    let _scheduler = BatonProcess::spawn("baton-scheduler", &[], &scheduler_env);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .build()?;
    let base = format!("http://{listen}");
    baton_tests::signed_http::wait_for_health(&http, &base).await;
    let login = http
        .post(format!("{base}/api/v1/login/"))
        .header("authorization", format!("token {user_token}"))
        .send()
        .await?;
    let login_status = login.status().as_u16();
    let login: Value = serde_json::from_slice(&login.bytes().await?).unwrap_or(Value::Null);
    let access_token = match (login_status, &login["access_token"], &login["token_type"]) {
        (200, Value::String(token), token_type) if token_type == "bearer" => token.clone(),
        _ => {
            return Err(
                format!("POST /api/v1/login/ answered HTTP {login_status}: {login}").into(),
            );
        }
    };
    let api = Api {
        http,
        base,
        bearer: format!("Bearer {access_token}"),
    };
    println!(
        "baton-reports-bench: runs={} clients={} workers={} concurrency={} streaming={} secs={}",
        args.runs, args.clients, args.workers, args.concurrency, args.streaming, args.secs
    );

    // Phase 1: queue runs of `trivial` with no worker running, then execute them.
    let next = Arc::new(AtomicUsize::new(0));
    let queue_started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..args.clients {
        let (api, next, runs) = (api.clone(), Arc::clone(&next), args.runs);
        clients.push(tokio::spawn(async move {
            let mut keys = Vec::new();
            let mut latencies = Vec::new();
            let mut failures = Vec::new();
            let body = json!({});
            while next.fetch_add(1, Ordering::Relaxed) < runs {
                let sent = Instant::now();
                let answer = api
                    .data(
                        reqwest::Method::POST,
                        "/api/v1/reports/trivial/run/",
                        Some(&body),
                    )
                    .await;
                let elapsed = sent.elapsed().as_micros() as u64;
                match answer {
                    Ok(data) => match data["key"].as_str() {
                        Some(key) if data["name"] == "trivial" => {
                            latencies.push(elapsed);
                            keys.push(key.to_owned());
                        }
                        _ => failures.push(format!("unexpected run answer: {data}")),
                    },
                    Err(error) => failures.push(error),
                }
            }
            (keys, latencies, failures)
        }));
    }
    let mut keys = Vec::new();
    let mut latencies = Vec::new();
    let mut queue_failures = Vec::new();
    for client in clients {
        let (mut client_keys, mut samples, mut failed) = client.await?;
        keys.append(&mut client_keys);
        latencies.append(&mut samples);
        queue_failures.append(&mut failed);
    }
    let queue_elapsed = queue_started.elapsed().as_secs_f64();
    if let Some(first) = queue_failures.first() {
        eprintln!(
            "{} of {} run requests failed; the first: {first}",
            queue_failures.len(),
            args.runs
        );
    }
    latencies.sort_unstable();
    let queued = keys.len();
    let queued_per_s = queued as f64 / queue_elapsed;
    let (queue_p50, queue_p99) = (
        percentile_ms(&latencies, 50.0),
        percentile_ms(&latencies, 99.0),
    );

    let concurrency = args.concurrency.to_string();
    let mut worker_env = without_master_key(&common_env);
    worker_env.push(("BATON_CONCURRENCY", concurrency.as_str()));
    let execute_started = Instant::now();
    let mut workers: Vec<BatonProcess> = (0..args.workers)
        .map(|_| BatonProcess::spawn("baton-worker", &[], &worker_env))
        .collect();
    loop {
        let data = api
            .data(reqwest::Method::GET, "/api/v1/queue/status/", None)
            .await?;
        match data["tasks"].as_array() {
            Some(tasks) if tasks.is_empty() => break,
            Some(_) => {}
            None => return Err(format!("GET /api/v1/queue/status/: no task list: {data}").into()),
        }
        if execute_started.elapsed() > EXECUTE_TIMEOUT {
            return Err(format!(
                "the queue still had runs after {EXECUTE_TIMEOUT:?}: {}",
                status_summary(&api, &keys).await
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let queue_emptied = execute_started.elapsed();
    let mut versions;
    loop {
        versions = version_count(&api, "trivial").await?;
        if versions >= queued {
            break;
        }
        if execute_started.elapsed() > queue_emptied + VERSIONS_TIMEOUT {
            return Err(format!(
                "the queue is empty but only {versions} of {queued} versions of 'trivial' were \
                 recorded after {VERSIONS_TIMEOUT:?}; the runs: {}",
                status_summary(&api, &keys).await
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let execute_elapsed = execute_started.elapsed().as_secs_f64();
    let executed_per_s = versions as f64 / execute_elapsed;
    println!(
        "[runs: POST /api/v1/reports/trivial/run/] {queued} queued in {queue_elapsed:.3} s = \
         {queued_per_s:.0} runs/s, {} failed; latency p50 {queue_p50:.3} ms, p99 {queue_p99:.3} ms; \
         {versions} executed to versions in {execute_elapsed:.3} s = {executed_per_s:.1} runs/s \
         (queue empty after {:.3} s)",
        queue_failures.len(),
        queue_emptied.as_secs_f64()
    );

    // Phase 2: the status endpoint, with output, while runs stream their logs.
    let params = json!({"params": {"seconds": args.secs + 5}});
    let mut streaming = Vec::new();
    for _ in 0..args.streaming {
        let data = api
            .data(
                reqwest::Method::POST,
                "/api/v1/reports/chatty/run/",
                Some(&params),
            )
            .await?;
        let key = data["key"]
            .as_str()
            .ok_or_else(|| format!("the run answer has no key: {data}"))?;
        streaming.push(key.to_owned());
    }
    let running_started = Instant::now();
    loop {
        let mut running = 0;
        for key in &streaming {
            let path = format!("/api/v1/reports/{key}/status/");
            let data = api.data(reqwest::Method::GET, &path, None).await?;
            match data["status"].as_str() {
                Some("running") => running += 1,
                Some("queued") => {}
                _ => return Err(format!("run {key} is neither queued nor running: {data}").into()),
            }
        }
        if running == streaming.len() {
            break;
        }
        if running_started.elapsed() > RUNNING_TIMEOUT {
            return Err(format!(
                "only {running} of {} chatty runs were running after {RUNNING_TIMEOUT:?}",
                streaming.len()
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let streaming = Arc::new(streaming);
    let counter = Arc::new(AtomicU64::new(0));
    let status_started = Instant::now();
    let deadline = status_started + Duration::from_secs(args.secs);
    let mut clients = Vec::new();
    for _ in 0..args.clients {
        let (api, streaming, counter) = (api.clone(), Arc::clone(&streaming), Arc::clone(&counter));
        clients.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = Vec::new();
            // For each run, the request number and log length of the latest answer seen.
            let mut last = vec![None; streaming.len()];
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let index = (n % streaming.len() as u64) as usize;
                let path = format!("/api/v1/reports/{}/status/?output=true", streaming[index]);
                let sent = Instant::now();
                let answer = api.data(reqwest::Method::GET, &path, None).await;
                let elapsed = sent.elapsed().as_micros() as u64;
                match answer {
                    Ok(data) => match data["output"].as_array() {
                        Some(lines) => {
                            latencies.push(elapsed);
                            last[index] = Some((n, lines.len()));
                        }
                        None => failures.push(format!("{path}: output is not a list: {data}")),
                    },
                    Err(error) => failures.push(error),
                }
            }
            (latencies, failures, last)
        }));
    }
    let mut latencies = Vec::new();
    let mut status_failures = Vec::new();
    let mut last_lines: Vec<Option<(u64, usize)>> = vec![None; streaming.len()];
    for client in clients {
        let (mut samples, mut failed, last) = client.await?;
        latencies.append(&mut samples);
        status_failures.append(&mut failed);
        for (merged, seen) in last_lines.iter_mut().zip(last) {
            if seen.is_some_and(|(n, _)| merged.is_none_or(|(m, _)| n > m)) {
                *merged = seen;
            }
        }
    }
    let status_elapsed = status_started.elapsed().as_secs_f64();
    if let Some(first) = status_failures.first() {
        eprintln!(
            "{} status requests failed; the first: {first}",
            status_failures.len()
        );
    }
    latencies.sort_unstable();
    let answered = latencies.len();
    let status_per_s = answered as f64 / status_elapsed;
    let (status_p50, status_p99) = (
        percentile_ms(&latencies, 50.0),
        percentile_ms(&latencies, 99.0),
    );
    let seen: Vec<usize> = last_lines
        .iter()
        .flatten()
        .map(|(_, lines)| *lines)
        .collect();
    let log_lines_avg = if seen.is_empty() {
        0.0
    } else {
        seen.iter().sum::<usize>() as f64 / seen.len() as f64
    };
    println!(
        "[status: GET /api/v1/reports/<key>/status/?output=true over {} streaming runs] {answered} \
         answered in {status_elapsed:.3} s = {status_per_s:.0} requests/s, {} failed; latency p50 \
         {status_p50:.3} ms, p99 {status_p99:.3} ms; {log_lines_avg:.1} log lines per run in the \
         last answers",
        streaming.len(),
        status_failures.len()
    );

    for key in streaming.iter() {
        let path = format!("/api/v1/reports/{key}/kill/");
        if let Err(error) = api.data(reqwest::Method::DELETE, &path, None).await {
            eprintln!("cannot kill run {key}: {error}");
        }
    }
    for worker in &mut workers {
        worker.terminate();
    }
    for worker in &mut workers {
        worker.wait_exit_async(Duration::from_secs(10)).await;
    }
    println!(
        "{}",
        json!({
            "queued_per_s": queued_per_s.round(),
            "queue_p50_ms": round3(queue_p50),
            "queue_p99_ms": round3(queue_p99),
            "queue_failures": queue_failures.len(),
            "executed_per_s": (executed_per_s * 10.0).round() / 10.0,
            "status_per_s": status_per_s.round(),
            "status_p50_ms": round3(status_p50),
            "status_p99_ms": round3(status_p99),
            "status_failures": status_failures.len(),
            "log_lines_avg": (log_lines_avg * 10.0).round() / 10.0,
            "runs": args.runs,
            "clients": args.clients,
            "workers": args.workers,
            "concurrency": args.concurrency,
            "streaming": args.streaming,
            "secs": args.secs,
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

//! `baton-console-bench`: how fast the console's busiest pages render with a large store.
//!
//! It starts its own `redis-server` and `baton-api` (through the tests' `TestApp`), fills Redis with `--runs` workflow runs
//! spread over `--queues` queues (written through the store in batches, as the API writes
//! them, so every index and queue counter is real), signs in through the console's form, then
//! requests each page `--requests` times, one after another, and reports p50, p99 and the
//! slowest latency per page:
//! - `/ui/` (the overview: every queue's counts, workers, the two charts),
//! - `/ui/runs` (the newest page of runs),
//! - `/ui/runs?definition=...&status=pending` (a filtered page, read from the indexes).
//!
//! The last line is one JSON object. Build the release binaries first:
//!
//! ```sh
//! cargo build --release --workspace --bins
//! ./target/release/baton-console-bench --runs 100000 --queues 10 --requests 500
//! ```

use std::time::Instant;

use baton_tests::TestApp;
use baton_tests::bench::percentile_ms;
use clap::Parser;
use serde_json::{Map, Value, json};

/// Measures console page latency over a large store.
#[derive(Debug, Parser)]
#[command(name = "baton-console-bench", about)]
struct Args {
    /// Workflow runs in Redis.
    #[arg(long, default_value_t = 100_000)]
    runs: usize,
    /// Queues (one workflow definition per queue).
    #[arg(long, default_value_t = 10)]
    queues: usize,
    /// Requests per page.
    #[arg(long, default_value_t = 500)]
    requests: usize,
}

/// Runs written per store call.
const BATCH: usize = 1000;

fn definitions(queues: usize) -> String {
    let mut yaml = String::new();
    for queue in 0..queues {
        yaml.push_str(&format!(
            "bench.Q{queue}:\n  queue: q{queue}\n  tasks: [A, B]\n"
        ));
    }
    yaml.push_str(
        "executors:\n  A: {type: handler, name: noop}\n  B: {type: handler, name: noop}\n",
    );
    yaml
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    baton_tests::bench::run_main("baton-console-bench", run(&args))
}

async fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let yaml = definitions(args.queues.max(1));
    let workflows = common::workflows::load::load_str(&yaml, std::path::Path::new("bench.yml"))?;
    let app = TestApp::builder()
        .definitions(&yaml)
        .api_env("RUST_LOG", "warn")
        .spawn()
        .await;
    let store = app.store().await;
    let filling = Instant::now();
    let mut written = 0;
    while written < args.runs {
        let count = BATCH.min(args.runs - written);
        let specs: Vec<_> = (written..written + count)
            .map(|n| {
                workflows[n % workflows.len()]
                    .definition
                    .run_spec(json!({"n": n}))
            })
            .collect();
        store.create_runs(&specs).await?;
        written += count;
    }
    let fill_secs = filling.elapsed().as_secs_f64();

    let secret = app.create_key("bench", "admin", &[]).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let base = app.base().to_owned();
    let signed_in = http
        .post(format!("{base}/ui/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("key_id=bench&secret={secret}"))
        .send()
        .await?;
    let cookie = signed_in
        .headers()
        .get("set-cookie")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .ok_or("signing in gave no session cookie")?
        .to_owned();
    println!(
        "baton-console-bench: runs={} queues={} requests={} (filled in {fill_secs:.1} s)",
        args.runs, args.queues, args.requests
    );

    let pages = [
        ("overview", "/ui/".to_owned()),
        ("run_list", "/ui/runs".to_owned()),
        (
            "run_list_filtered",
            "/ui/runs?definition=bench.Q3&status=pending".to_owned(),
        ),
    ];
    let mut report = Map::new();
    for (name, path) in &pages {
        // Warm the connection and the server's caches once.
        http.get(format!("{base}{path}"))
            .header("cookie", &cookie)
            .send()
            .await?
            .error_for_status()?;
        let mut latencies = Vec::with_capacity(args.requests);
        for _ in 0..args.requests {
            let sent = Instant::now();
            let response = http
                .get(format!("{base}{path}"))
                .header("cookie", &cookie)
                .send()
                .await?;
            let status = response.status();
            let body = response.bytes().await?;
            if !status.is_success() || body.is_empty() {
                return Err(format!("{path} answered {status}").into());
            }
            latencies.push(sent.elapsed().as_micros() as u64);
        }
        latencies.sort_unstable();
        let p50 = percentile_ms(&latencies, 50.0);
        let p99 = percentile_ms(&latencies, 99.0);
        let max = percentile_ms(&latencies, 100.0);
        println!("{name:>14} {path}: p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms");
        report.insert(
            (*name).to_owned(),
            json!({"path": path, "p50_ms": p50, "p99_ms": p99, "max_ms": max}),
        );
    }
    report.insert("runs".into(), json!(args.runs));
    report.insert("queues".into(), json!(args.queues));
    report.insert("requests".into(), json!(args.requests));
    println!("{}", Value::Object(report));
    Ok(())
}

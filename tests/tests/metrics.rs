//! End-to-end tests of `/metrics` as Prometheus scrapes it: with the scrape token or an admin
//! signature, in OpenMetrics or the 0.0.4 text format as asked, read by the Python
//! `prometheus_client` parsers (which `scripts/test` installs), with the task duration and
//! start latency histograms the workers record.

use std::time::Duration;

use baton_tests::process::BatonProcess;
use baton_tests::redis_server::RedisServer;
use baton_tests::signed_http::{free_port, send_signed, wait_for_health};
use baton_tests::unique_prefix;
use baton_tests::wait::wait_for;
use common::auth::signing::sign::Signer;
use serde_json::{Value, json};

const MASTER_KEY: &str = "test-master-key-0123456789";
const TOKEN: &str = "metrics-scrape-token-0123456789abcdef";
/// What Prometheus 3 sends when it scrapes.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,\
    application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,\
    text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

const DEFINITIONS: &str = r#"
example.ETL:
  tasks:
    - EXTRACT
    - TRANSFORM
    - LOAD
executors:
  EXTRACT: {type: command, argv: ["sh", "-c", "echo 1 > \"$BATON_RESULT\""]}
  TRANSFORM: {type: command, argv: ["sh", "-c", "sleep 0.2; echo 2 > \"$BATON_RESULT\""]}
  LOAD: {type: command, argv: ["sh", "-c", "echo 3 > \"$BATON_RESULT\""]}
"#;

/// A running API (with `token` as its scrape token, if any), its Redis and a worker.
struct Api {
    redis: RedisServer,
    prefix: String,
    base: String,
    _api: BatonProcess,
    _worker: BatonProcess,
    _definitions: tempfile::TempDir,
    http: reqwest::Client,
}

impl Api {
    async fn start(token: Option<&str>) -> Self {
        let redis = RedisServer::start();
        let prefix = unique_prefix();
        let definitions = tempfile::tempdir().unwrap();
        std::fs::write(definitions.path().join("workflows.yml"), DEFINITIONS).unwrap();
        let listen = format!("127.0.0.1:{}", free_port());
        let url = redis.url();
        let definitions_dir = definitions.path().display().to_string();
        let mut api_env = vec![
            ("BATON_REDIS_URL", url.as_str()),
            ("BATON_PREFIX", prefix.as_str()),
            ("BATON_MASTER_KEY", MASTER_KEY),
            ("BATON_LISTEN", listen.as_str()),
            ("BATON_DEFINITIONS", definitions_dir.as_str()),
        ];
        if let Some(token) = token {
            api_env.push(("BATON_METRICS_TOKEN", token));
        }
        let api = BatonProcess::spawn("baton-api", &[], &api_env);
        let worker = BatonProcess::spawn(
            "baton-worker",
            &[],
            &[
                ("BATON_REDIS_URL", url.as_str()),
                ("BATON_PREFIX", prefix.as_str()),
                ("BATON_BLOCK_MS", "200"),
            ],
        );
        let api = Self {
            redis,
            prefix,
            base: format!("http://{listen}"),
            _api: api,
            _worker: worker,
            _definitions: definitions,
            http: reqwest::Client::new(),
        };
        wait_for_health(&api.http, &api.base).await;
        api
    }

    /// Creates a key and returns a signer for it.
    async fn signer(&self, id: &str, permissions: &str) -> Signer {
        let mut process = BatonProcess::spawn(
            "baton-api",
            &["keys", "create", id, "--permissions", permissions],
            &[
                ("BATON_REDIS_URL", self.redis.url().as_str()),
                ("BATON_PREFIX", self.prefix.as_str()),
                ("BATON_MASTER_KEY", MASTER_KEY),
            ],
        );
        let status = process
            .wait_exit_async(Duration::from_secs(20))
            .await
            .expect("the command ends");
        let output = process.log();
        assert!(status.success(), "key creation failed: {output}");
        let secret = output.lines().last().unwrap().trim().to_owned();
        Signer::new(id, secret.into_bytes())
    }

    /// `GET /metrics` with these headers (no signature): status, content type and body.
    async fn scrape(&self, headers: &[(&str, &str)]) -> (u16, String, String) {
        let mut request = self.http.get(format!("{}/metrics", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("the API answers");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (status, content_type, response.text().await.unwrap())
    }

    /// Runs `count` ETL workflows (three jobs each) to success.
    async fn run_workflows(&self, signer: &Signer, count: usize) {
        let mut ids = Vec::new();
        for n in 0..count {
            // A different body each time: the same signed change twice is a replay.
            let body = json!({"project": "example", "name": "ETL", "payload": {"n": n}});
            let created = send_signed(
                &self.http,
                &self.base,
                Some(signer),
                "POST",
                "/api/workflows",
                &serde_json::to_vec(&body).unwrap(),
                &[],
            )
            .await;
            assert_eq!(created.status, 201, "{:?}", created.body);
            ids.push(created.body["id"].as_str().unwrap().to_owned());
        }
        for id in ids {
            wait_for(
                Duration::from_secs(30),
                &format!("workflow {id} succeeds"),
                || async {
                    let answer = send_signed(
                        &self.http,
                        &self.base,
                        Some(signer),
                        "GET",
                        &format!("/api/workflows/{id}"),
                        b"",
                        &[],
                    )
                    .await;
                    (answer.body["status"] == "success").then_some(())
                },
            )
            .await;
        }
    }
}

/// Parses an exposition with the Python `prometheus_client` parser of `format` (`text` for
/// 0.0.4, `openmetrics`) and returns its families as JSON: `[{name, type, samples: [{name,
/// labels, value}]}]`.
fn parse_with_prometheus_client(exposition: &str, format: &str) -> Vec<Value> {
    const SCRIPT: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families as text
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics
parse = {"text": text, "openmetrics": openmetrics}[sys.argv[2]]
families = [
    {"name": family.name, "type": family.type,
     "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in family.samples]}
    for family in parse(open(sys.argv[1]).read())
]
print(json.dumps(families))
"#;
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("parse.py");
    let input = dir.path().join("metrics.txt");
    std::fs::write(&script, SCRIPT).unwrap();
    std::fs::write(&input, exposition).unwrap();
    let output = std::process::Command::new("python3")
        .arg(&script)
        .arg(&input)
        .arg(format)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "prometheus_client could not parse the {format} exposition: {}\n{exposition}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice::<Vec<Value>>(&output.stdout).expect("the parser's JSON")
}

fn family<'a>(families: &'a [Value], name: &str) -> &'a Value {
    families
        .iter()
        .find(|family| family["name"] == name)
        .unwrap_or_else(|| panic!("no family {name} in {families:?}"))
}

/// The value of the sample `name` with `labels` among a family's samples.
fn sample(family: &Value, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    family["samples"]
        .as_array()?
        .iter()
        .find(|sample| {
            sample["name"] == name
                && labels
                    .iter()
                    .all(|(label, value)| sample["labels"][*label] == *value)
        })
        .and_then(|sample| sample["value"].as_f64())
}

/// What every scrape must show, whatever its format: each family typed, every counter with
/// samples, and both histograms with buckets for `queue` counting at least `jobs` attempts.
fn assert_exposition(families: &[Value], queue: &str, jobs: u64, format: &str) {
    for family in families {
        let kind = family["type"].as_str().unwrap_or_default();
        assert!(
            ["counter", "gauge", "histogram"].contains(&kind),
            "{format}: family {} has type {kind}",
            family["name"]
        );
        if kind == "counter" {
            assert!(
                !family["samples"].as_array().unwrap().is_empty(),
                "{format}: counter {} has no samples",
                family["name"]
            );
        }
    }
    let succeeded = family(families, "baton_jobs_succeeded");
    assert_eq!(succeeded["type"], "counter");
    assert_eq!(
        sample(succeeded, "baton_jobs_succeeded_total", &[("queue", queue)]),
        Some(jobs as f64),
        "{format}"
    );
    let requests = family(families, "baton_http_requests");
    assert!(
        sample(
            requests,
            "baton_http_requests_total",
            &[
                ("route", "/api/workflows"),
                ("method", "POST"),
                ("status", "201")
            ]
        )
        .is_some(),
        "{format}: {requests}"
    );
    for name in [
        "baton_task_duration_seconds",
        "baton_task_start_latency_seconds",
    ] {
        let histogram = family(families, name);
        assert_eq!(histogram["type"], "histogram", "{format}: {name}");
        let count = sample(histogram, &format!("{name}_count"), &[("queue", queue)])
            .unwrap_or_else(|| panic!("{format}: no {name}_count for {queue}: {histogram}"));
        assert!(count >= jobs as f64, "{format}: {name} counts {count}");
        let infinite = sample(
            histogram,
            &format!("{name}_bucket"),
            &[("queue", queue), ("le", "+Inf")],
        );
        assert_eq!(infinite, Some(count), "{format}: {name}");
        let buckets: Vec<f64> = histogram["samples"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|sample| {
                sample["name"] == format!("{name}_bucket") && sample["labels"]["queue"] == queue
            })
            .map(|sample| sample["value"].as_f64().unwrap())
            .collect();
        assert!(buckets.len() > 10, "{format}: {name}: {buckets:?}");
        assert!(
            buckets.windows(2).all(|pair| pair[0] <= pair[1]),
            "{format}: {name} buckets are cumulative: {buckets:?}"
        );
        let sum = sample(histogram, &format!("{name}_sum"), &[("queue", queue)]).unwrap();
        assert!(sum >= 0.0, "{format}: {name}_sum {sum}");
    }
    // Every TRANSFORM attempt sleeps 0.2 s: some durations lie past the 0.1 s bound.
    let durations = family(families, "baton_task_duration_seconds");
    let quick = sample(
        durations,
        "baton_task_duration_seconds_bucket",
        &[("queue", queue), ("le", "0.1")],
    )
    .unwrap();
    let count = sample(
        durations,
        "baton_task_duration_seconds_count",
        &[("queue", queue)],
    )
    .unwrap();
    assert!(quick < count, "{format}: {quick} of {count} under 0.1 s");
}

#[tokio::test]
async fn prometheus_scrapes_with_its_token_and_reads_every_family() {
    let api = Api::start(Some(TOKEN)).await;
    let admin = api.signer("ops", "admin").await;
    let runner = api.signer("runner", "workflows.read,workflows.run").await;
    api.run_workflows(&runner, 3).await;
    let jobs = 9;
    let bearer = format!("Bearer {TOKEN}");

    // The worker records timings once the outcomes are; wait until all have landed.
    wait_for(
        Duration::from_secs(20),
        "the timings of every job",
        || async {
            let (_, _, text) = api.scrape(&[("authorization", bearer.as_str())]).await;
            let families = parse_with_prometheus_client(&text, "text");
            let durations = family(&families, "baton_task_duration_seconds");
            sample(
                durations,
                "baton_task_duration_seconds_count",
                &[("queue", "default")],
            )
            .filter(|count| *count >= jobs as f64)
        },
    )
    .await;

    // A client that asks for nothing in particular gets the 0.0.4 text format.
    let (status, content_type, text) = api.scrape(&[("authorization", bearer.as_str())]).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    assert!(!text.contains("# EOF"), "{text}");
    assert_exposition(
        &parse_with_prometheus_client(&text, "text"),
        "default",
        jobs,
        "text",
    );

    // Prometheus asks for OpenMetrics first and gets it.
    let (status, content_type, text) = api
        .scrape(&[
            ("authorization", bearer.as_str()),
            ("accept", PROMETHEUS_ACCEPT),
        ])
        .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        content_type,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert_exposition(
        &parse_with_prometheus_client(&text, "openmetrics"),
        "default",
        jobs,
        "openmetrics",
    );

    // An admin's signed request still reads it; a signed key without admin does not.
    let signed = send_signed(
        &api.http,
        &api.base,
        Some(&admin),
        "GET",
        "/metrics",
        b"",
        &[],
    )
    .await;
    assert_eq!(signed.status, 200);
    assert!(
        signed
            .body
            .as_str()
            .unwrap()
            .contains("baton_jobs_succeeded_total{queue=\"default\"} 9"),
        "{:?}",
        signed.body
    );
    let forbidden = send_signed(
        &api.http,
        &api.base,
        Some(&runner),
        "GET",
        "/metrics",
        b"",
        &[],
    )
    .await;
    assert_eq!(forbidden.status, 403, "{:?}", forbidden.body);
    assert_eq!(forbidden.body["error"]["code"], "forbidden");

    // A wrong token, another scheme or no credentials at all: 401 in Baton's error format.
    for headers in [
        vec![(
            "authorization",
            "Bearer metrics-scrape-token-0123456789abcdeX",
        )],
        vec![("authorization", "Bearer ")],
        vec![("authorization", "bearer wrong")],
        vec![("authorization", "Basic b3BzOnNlY3JldA==")],
        vec![],
    ] {
        let (status, content_type, text) = api.scrape(&headers).await;
        assert_eq!(status, 401, "{headers:?}: {text}");
        assert_eq!(content_type, "application/json", "{headers:?}");
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["error"]["code"], "unauthorized", "{headers:?}: {body}");
    }
    // The scheme is case-insensitive, as HTTP has it.
    let lower = format!("bearer {TOKEN}");
    assert_eq!(
        api.scrape(&[("authorization", lower.as_str())]).await.0,
        200
    );
}

#[tokio::test]
async fn without_a_token_only_signed_admins_read_metrics() {
    let api = Api::start(None).await;
    let admin = api.signer("ops", "admin").await;
    let bearer = format!("Bearer {TOKEN}");
    let (status, _, text) = api.scrape(&[("authorization", bearer.as_str())]).await;
    assert_eq!(status, 401, "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["error"]["code"], "unauthorized", "{body}");
    let signed = send_signed(
        &api.http,
        &api.base,
        Some(&admin),
        "GET",
        "/metrics",
        b"",
        &[],
    )
    .await;
    assert_eq!(signed.status, 200, "{:?}", signed.body);
    let families = parse_with_prometheus_client(signed.body.as_str().unwrap(), "text");
    assert_eq!(family(&families, "baton_workers")["type"], "gauge");
}

#[tokio::test]
async fn a_short_or_unsendable_token_is_refused_at_start() {
    let redis = RedisServer::start();
    let prefix = unique_prefix();
    let url = redis.url();
    let listen = format!("127.0.0.1:{}", free_port());
    for (token, complaint) in [
        ("too-short-token", "at least 24 characters"),
        (
            "a token with spaces that is long enough",
            "printable ASCII without spaces",
        ),
    ] {
        let mut api = BatonProcess::spawn(
            "baton-api",
            &[],
            &[
                ("BATON_REDIS_URL", url.as_str()),
                ("BATON_PREFIX", prefix.as_str()),
                ("BATON_MASTER_KEY", MASTER_KEY),
                ("BATON_LISTEN", listen.as_str()),
                ("BATON_METRICS_TOKEN", token),
            ],
        );
        let status = api
            .wait_exit_async(Duration::from_secs(20))
            .await
            .expect("the API refuses to start");
        assert!(!status.success());
        let log = api.log();
        assert!(log.contains(complaint), "{log}");
        assert!(!log.contains(token), "the token is never logged: {log}");
    }
}

//! Closed-loop load on a running API: `clients` concurrent clients each send one signed
//! request, wait for its answer and send the next, for a given time or number of requests.
//! Used by `baton-api-bench` for its create, list, detail and mixed scenarios.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::auth::signing::sign::Signer;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

use super::percentile_ms;

/// One request to send: method, path with query, body and the status that counts as success.
#[derive(Debug, Clone)]
pub struct Request {
    /// HTTP method.
    pub method: http::Method,
    /// Path and query, as signed.
    pub path: String,
    /// Body (empty for a GET).
    pub body: Vec<u8>,
    /// The status of a successful answer.
    pub expect: u16,
}

impl Request {
    /// A `GET` of `path` answered with 200.
    pub fn get(path: impl Into<String>) -> Self {
        Self {
            method: http::Method::GET,
            path: path.into(),
            body: Vec::new(),
            expect: 200,
        }
    }

    /// A JSON `POST` of `body` to `path` answered with `expect`.
    pub fn post(path: impl Into<String>, body: &serde_json::Value, expect: u16) -> Self {
        Self {
            method: http::Method::POST,
            path: path.into(),
            body: serde_json::to_vec(body).unwrap_or_default(),
            expect,
        }
    }
}

/// When a load stops.
#[derive(Debug, Clone, Copy)]
pub enum Until {
    /// After this long.
    Elapsed(Duration),
    /// Once this many requests were sent.
    Sent(u64),
}

/// What a load measured.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Requests answered as expected.
    pub succeeded: u64,
    /// Requests that failed or got another status.
    pub failed: u64,
    /// Wall time of the load.
    pub elapsed: Duration,
    /// Latency of the successful requests, µs, sorted.
    pub latencies_us: Vec<u64>,
}

impl LoadReport {
    /// Successful requests per second.
    pub fn per_second(&self) -> f64 {
        self.succeeded as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    /// Latency percentile `p` (0-100) in ms.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        percentile_ms(&self.latencies_us, p)
    }

    /// One line for humans: `LABEL: N requests/s, p50 X ms, p99 Y ms (F failed)`.
    pub fn summary(&self, label: &str) -> String {
        format!(
            "[{label}] {} in {:.1} s = {:.0} requests/s, {} failed; latency p50 {:.3} ms, p99 {:.3} ms",
            self.succeeded,
            self.elapsed.as_secs_f64(),
            self.per_second(),
            self.failed,
            self.percentile_ms(50.0),
            self.percentile_ms(99.0)
        )
    }
}

/// Sends the requests `next(n)` makes (n counts from 0 over all clients), signed by `signer`,
/// from `clients` concurrent clients to `base`, until `until`.
///
/// The clients run on a load generator of their own: a single-threaded runtime on a thread
/// of its own with its own HTTP client, as a load tool such as `wrk` runs, so that each
/// request is written and read on that thread rather than handed between runtime threads
/// and the connection's task, and the generator takes as little of the machine it shares
/// with the API and Redis as it can.
pub async fn closed_loop(
    base: &str,
    signer: &Arc<Signer>,
    clients: usize,
    until: Until,
    next: Arc<dyn Fn(u64) -> Request + Send + Sync>,
) -> LoadReport {
    let (base, signer) = (base.to_owned(), Arc::clone(signer));
    let generator = tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        runtime.block_on(load(&base, &signer, clients, until, next))
    });
    match generator.await {
        Ok(Some(report)) => report,
        // No runtime or thread for the generator: nothing was sent.
        _ => LoadReport {
            succeeded: 0,
            failed: clients.max(1) as u64,
            elapsed: Duration::ZERO,
            latencies_us: Vec::new(),
        },
    }
}

/// [`closed_loop`]'s clients, on the runtime they run on.
async fn load(
    base: &str,
    signer: &Arc<Signer>,
    clients: usize,
    until: Until,
    next: Arc<dyn Fn(u64) -> Request + Send + Sync>,
) -> Option<LoadReport> {
    let host = base
        .strip_prefix("http://")
        .unwrap_or(base)
        .trim_end_matches('/')
        .to_owned();
    let counter = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients.max(1) {
        let client = Client {
            host: host.clone(),
            signer: Arc::clone(signer),
            connection: None,
        };
        let (counter, next) = (Arc::clone(&counter), Arc::clone(&next));
        tasks.push(tokio::spawn(async move {
            let mut client = client;
            let mut latencies = Vec::new();
            let mut failed = 0u64;
            loop {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let done = match until {
                    Until::Elapsed(limit) => started.elapsed() >= limit,
                    Until::Sent(limit) => n >= limit,
                };
                if done {
                    break;
                }
                let request = next(n);
                let sent = Instant::now();
                if client.send(&request).await {
                    latencies.push(sent.elapsed().as_micros() as u64);
                } else {
                    failed += 1;
                }
            }
            (latencies, failed)
        }));
    }
    let mut report = LoadReport {
        succeeded: 0,
        failed: 0,
        elapsed: Duration::ZERO,
        latencies_us: Vec::new(),
    };
    for task in tasks {
        match task.await {
            Ok((mut latencies, failed)) => {
                report.latencies_us.append(&mut latencies);
                report.failed += failed;
            }
            Err(_) => report.failed += 1,
        }
    }
    report.elapsed = started.elapsed();
    report.succeeded = report.latencies_us.len() as u64;
    report.latencies_us.sort_unstable();
    Some(report)
}

/// One client: a kept-alive HTTP/1 connection of its own (made again after a failure).
struct Client {
    /// `host:port` of the API.
    host: String,
    /// Signs each request.
    signer: Arc<Signer>,
    /// The open connection, once made.
    connection: Option<SendRequest<Full<Bytes>>>,
}

impl Client {
    /// Sends one signed request; true when it got the expected status.
    async fn send(&mut self, request: &Request) -> bool {
        let open = match self.connection.take() {
            Some(connection) => Some(connection),
            None => self.connect().await,
        };
        let Some(mut connection) = open else {
            return false;
        };
        let Some(signed) = self.signed(request) else {
            return false;
        };
        let sent = async {
            connection.ready().await.ok()?;
            let answer = connection.send_request(signed).await.ok()?;
            let ok = answer.status().as_u16() == request.expect;
            // Read the body: the request is not done until the answer is.
            answer.into_body().collect().await.ok()?;
            Some(ok)
        }
        .await;
        match sent {
            Some(ok) => {
                self.connection = Some(connection);
                ok
            }
            // The connection failed: the next request makes another.
            None => false,
        }
    }

    /// A new connection to the API, its driver running on this runtime.
    async fn connect(&self) -> Option<SendRequest<Full<Bytes>>> {
        let stream = tokio::net::TcpStream::connect(&self.host).await.ok()?;
        stream.set_nodelay(true).ok()?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .ok()?;
        tokio::spawn(connection);
        Some(sender)
    }

    /// `request` as sent: signed, with a request id of its own (so that no two signatures
    /// repeat: a replay is refused).
    fn signed(&self, request: &Request) -> Option<http::Request<Full<Bytes>>> {
        let mut headers = http::HeaderMap::new();
        if !request.body.is_empty() {
            headers.insert(
                "content-type",
                http::HeaderValue::from_static("application/json"),
            );
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        headers.insert("x-request-id", http::HeaderValue::from_str(&id).ok()?);
        headers.insert("host", http::HeaderValue::from_str(&self.host).ok()?);
        self.signer.sign_request(
            &request.method,
            &request.path,
            &mut headers,
            &request.body,
            chrono::Utc::now(),
        );
        let mut built = http::Request::builder()
            .method(request.method.clone())
            .uri(&request.path)
            .body(Full::new(Bytes::from(request.body.clone())))
            .ok()?;
        *built.headers_mut() = headers;
        Some(built)
    }
}

//! Admission: nothing expensive happens before a request is authenticated. Signatures are
//! refused while they are parsed when they list too many headers; every route authenticates
//! the headers before reading the body, and a bundle streams to a file; metrics labels come
//! from closed sets; a request with two `Host` headers is refused; a forged `Host` never
//! reaches an absolute link; and a signed change is admitted once for as long as its `Date`
//! is accepted.

use std::time::{Duration, Instant};

use baton_tests::TestApp;
use baton_tests::signed_http::send_signed;
use common::auth::signing::sign::Signer;
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// 32 random bytes, as hex.
const MASTER_KEY: &str = "5f1d3c8a9b2e4f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8";

/// A running API on its own Redis.
struct Api {
    app: TestApp,
    address: String,
    base: String,
    http: reqwest::Client,
}

impl Api {
    /// Starts an API with `extra` environment on top of Redis, prefix, master key and port.
    async fn start(extra: &[(&str, &str)]) -> Self {
        let mut builder = TestApp::builder().master_key(MASTER_KEY);
        for (name, value) in extra {
            builder = builder.api_env(name, value);
        }
        let app = builder.spawn().await;
        Self {
            address: app.address().to_string(),
            base: app.base().to_owned(),
            http: app.http().clone(),
            app,
        }
    }

    /// Creates a key with `permissions` and returns a strict signer for it.
    async fn key(&self, id: &str, permissions: &str) -> Signer {
        self.app.key(id, permissions).await
    }

    /// The API process's CPU time so far (user and system), from `/proc`.
    fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.app.api_process().pid()))
            .unwrap();
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .collect();
        // utime and stime, fields 14 and 15 of stat(5), in ticks of 1/100 s.
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        Duration::from_millis(ticks * 10)
    }

    /// The API process's peak resident memory, in bytes, from `/proc`.
    fn peak_rss(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.app.api_process().pid()))
                .unwrap();
        let line = status
            .lines()
            .find(|line| line.starts_with("VmHWM:"))
            .unwrap();
        let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kib * 1024
    }

    /// Sends `head` (a request line and headers, without the blank line) and `body` on a new
    /// connection, and returns the status and the rest of the answer.
    async fn raw(&self, head: &str, body: &[u8]) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.address).await.unwrap();
        stream
            .write_all(format!("{head}\r\nConnection: close\r\n\r\n").as_bytes())
            .await
            .unwrap();
        stream.write_all(body).await.unwrap();
        read_answer(&mut stream, Duration::from_secs(10)).await
    }
}

/// Reads an HTTP/1.1 answer until the connection closes (or its body has arrived, when it
/// announces a length), within `timeout`: its status and text.
async fn read_answer(stream: &mut TcpStream, timeout: Duration) -> (u16, String) {
    let mut received = Vec::new();
    let read = async {
        let mut buffer = [0u8; 8192];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
            if answer_complete(&received) {
                break;
            }
        }
    };
    tokio::time::timeout(timeout, read)
        .await
        .expect("the API answers in time");
    let text = String::from_utf8_lossy(&received).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"));
    (status, text)
}

/// True once `received` holds a whole answer with a `content-length`.
fn answer_complete(received: &[u8]) -> bool {
    let text = String::from_utf8_lossy(received);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    head.lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .is_some_and(|length| body.len() >= length)
}

/// The signed headers of a request as lines for a raw request.
fn signed_lines(signer: &Signer, method: &str, path: &str, body: &[u8]) -> String {
    let mut headers = http::HeaderMap::new();
    signer.sign_request(
        &http::Method::from_bytes(method.as_bytes()).unwrap(),
        path,
        &mut headers,
        body,
        chrono::Utc::now(),
    );
    headers
        .iter()
        .map(|(name, value)| format!("{name}: {}", value.to_str().unwrap()))
        .collect::<Vec<_>>()
        .join("\r\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_signature_over_twenty_thousand_headers_is_refused_at_once() {
    let api = Api::start(&[]).await;
    let reader = api.key("reader", "workflows.read").await;
    let names: Vec<String> = (0..20_000).map(|i| format!("x-h{i}")).collect();
    let authorization = format!(
        "Signature keyId=\"{}\",algorithm=\"hmac-sha256\",headers=\"{}\",signature=\"AAAA\"",
        reader.key_id,
        names.join(" ")
    );
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let before = api.cpu_time();
    for _ in 0..200 {
        let response = http
            .get(format!("{}/api/workflows", api.base))
            .header(
                "date",
                common::auth::signing::sign::http_date(chrono::Utc::now()),
            )
            .header("authorization", &authorization)
            .send()
            .await
            .expect("the API answers at once");
        assert_eq!(response.status(), 401);
        let body: serde_json::Value = response.json().await.unwrap();
        let message = body["error"].as_str().unwrap();
        assert!(message.contains("at most 16 headers"), "{message}");
    }
    let spent = api.cpu_time() - before;
    // Such a list is refused by its length, before it is parsed: 200 refusals cost far less
    // than one full signature check over 20,000 headers did.
    assert!(
        spent < Duration::from_secs(2),
        "200 refusals took {spent:?} of CPU"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn made_up_methods_do_not_grow_the_metrics() {
    let api = Api::start(&[]).await;
    let admin = api.key("admin", "admin").await;
    let paths = [
        "/api/workflows",
        "/api/anything",
        "/releases",
        "/orchestra/api/project/create_project",
        "/api/v1/reports/",
        "/nowhere",
    ];
    let send_many = |count: usize, seed: usize| {
        let http = api.http.clone();
        let base = api.base.clone();
        futures::stream::iter(0..count)
            .map(move |i| {
                let http = http.clone();
                let base = base.clone();
                async move {
                    // A different made-up method each time, 8 to 40 letters.
                    let n = i + seed;
                    let method: String = (0..8 + n % 33)
                        .map(|j| char::from(b'A' + ((n * 7 + j * 13) % 26) as u8))
                        .collect();
                    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
                    http.request(method, format!("{base}{}", paths[n % paths.len()]))
                        .body("x")
                        .send()
                        .await
                        .expect("the API answers");
                }
            })
            .buffer_unordered(16)
            .collect::<Vec<()>>()
    };
    let metrics = || async {
        let answer = send_signed(
            &api.http,
            &api.base,
            Some(&admin),
            "GET",
            "/metrics",
            b"",
            &[],
        )
        .await;
        assert_eq!(answer.status, 200);
        answer.body.as_str().unwrap().to_owned()
    };
    // Every label the attack can reach exists once this warm-up is done.
    send_many(50, 0).await;
    let before = metrics().await;
    send_many(2_000, 1_000).await;
    let after = metrics().await;
    assert!(after.contains("method=\"OTHER\""), "{after}");
    assert!(after.contains("route=\"unmatched\""), "{after}");
    assert!(
        after.len() < before.len() + 1_000,
        "/metrics grew from {} to {} bytes",
        before.len(),
        after.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unsigned_requests_are_answered_before_their_body_is_sent() {
    let api = Api::start(&[]).await;
    let host = format!("Host: {}", api.address);
    for (method, path) in [
        ("POST", "/api/workflows"),
        ("POST", "/releases"),
        ("POST", "/orchestra/api/project/create_project"),
        ("POST", "/api/v1/reports/minimal/run/"),
        ("POST", "/api/v1/bundle/import/"),
    ] {
        // The body is announced and never sent: an answer proves it was not waited for.
        let head = format!("{method} {path} HTTP/1.1\r\n{host}\r\nContent-Length: 1000000");
        let (status, text) = api.raw(&head, b"").await;
        assert_eq!(status, 401, "{method} {path}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unsigned_bundle_upload_is_refused_before_its_body_is_read() {
    let api = Api::start(&[]).await;
    const TOTAL: usize = 200 * 1024 * 1024;
    let stream = TcpStream::connect(&api.address).await.unwrap();
    let (mut reading, mut writing) = stream.into_split();
    let head = format!(
        "POST /api/v1/bundle/import/ HTTP/1.1\r\nHost: {}\r\nContent-Type: application/zip\r\n\
         Content-Length: {TOTAL}\r\n\r\n",
        api.address
    );
    writing.write_all(head.as_bytes()).await.unwrap();
    let sender = tokio::spawn(async move {
        let chunk = vec![b'z'; 1024 * 1024];
        let mut sent = 0;
        while sent < TOTAL {
            match tokio::time::timeout(Duration::from_secs(3), writing.write_all(&chunk)).await {
                Ok(Ok(())) => sent += chunk.len(),
                _ => break,
            }
        }
        sent
    });
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let answered = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match reading.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
            if answer_complete(&received) {
                break;
            }
        }
    })
    .await;
    let still_sending = !sender.is_finished();
    let sent = sender.await.unwrap();
    let text = String::from_utf8_lossy(&received);
    assert!(answered.is_ok(), "no answer; {sent} bytes sent");
    assert!(text.starts_with("HTTP/1.1 401"), "{text}");
    assert!(text.contains("\"status\":\"failure\""), "{text}");
    assert!(
        still_sending || sent < TOTAL,
        "the answer came only after all {TOTAL} bytes were sent"
    );
    let peak = api.peak_rss();
    assert!(
        peak < 100 * 1024 * 1024,
        "the API's peak RSS is {peak} bytes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bundle_whose_digest_does_not_match_is_refused() {
    let api = Api::start(&[]).await;
    let runner = api.key("runner", "reports.run,reports.read").await;
    let sent: Vec<u8> = (0..5 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let mut signed_for = sent.clone();
    signed_for[1234] ^= 1;
    let lines = signed_lines(&runner, "POST", "/api/v1/bundle/import/", &signed_for);
    let head = format!(
        "POST /api/v1/bundle/import/ HTTP/1.1\r\nHost: {}\r\nContent-Type: application/zip\r\n\
         Content-Length: {}\r\n{lines}",
        api.address,
        sent.len()
    );
    let (status, text) = api.raw(&head, &sent).await;
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("bad Digest"), "{text}");
    let peak = api.peak_rss();
    assert!(
        peak < 100 * 1024 * 1024,
        "the API's peak RSS is {peak} bytes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bundles_received_at_once_are_bounded() {
    let api = Api::start(&[("BATON_BUNDLE_UPLOADS", "1")]).await;
    let runner = api.key("runner", "reports.run,reports.read").await;
    let body = vec![b'z'; 1024 * 1024];
    let head = |body: &[u8]| {
        format!(
            "POST /api/v1/bundle/import/ HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n{}\r\n\r\n",
            api.address,
            body.len(),
            signed_lines(&runner, "POST", "/api/v1/bundle/import/", body)
        )
    };
    // The first upload sends its head and half its body, and holds the only slot.
    let mut first = TcpStream::connect(&api.address).await.unwrap();
    first.write_all(head(&body).as_bytes()).await.unwrap();
    first.write_all(&body[..body.len() / 2]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut other = body.clone();
    other[0] = b'y';
    let mut second = TcpStream::connect(&api.address).await.unwrap();
    second.write_all(head(&other).as_bytes()).await.unwrap();
    let (status, text) = read_answer(&mut second, Duration::from_secs(10)).await;
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("too many bundles"), "{text}");
    // Once the first is received (and refused: it is no zip), the slot is free again.
    first.write_all(&body[body.len() / 2..]).await.unwrap();
    let (status, text) = read_answer(&mut first, Duration::from_secs(10)).await;
    assert_eq!(status, 400, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_host_headers_are_refused() {
    let api = Api::start(&[]).await;
    let reader = api.key("reader", "releases.read").await;
    let (status, text) = api
        .raw(
            &format!(
                "GET /healthz HTTP/1.1\r\nHost: {0}\r\nHost: {0}",
                api.address
            ),
            b"",
        )
        .await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("more than one Host"), "{text}");
    let lines = signed_lines(&reader, "GET", "/releases", b"");
    let (status, text) = api
        .raw(
            &format!(
                "GET /releases HTTP/1.1\r\nHost: {}\r\nHost: evil.example\r\n{lines}",
                api.address
            ),
            b"",
        )
        .await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("{\"message\":"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_forged_host_never_reaches_absolute_links() {
    let api = Api::start(&[]).await;
    let reader = api.key("reader", "releases.read").await;
    let path = "/events?limit=1&offset=1";
    let lines = signed_lines(&reader, "GET", path, b"");
    let (status, text) = api
        .raw(
            &format!("GET {path} HTTP/1.1\r\nHost: evil.example\r\n{lines}"),
            b"",
        )
        .await;
    assert_eq!(status, 200, "{text}");
    assert!(!text.contains("evil.example"), "{text}");
    assert!(
        text.contains(&format!("\"previous\":\"http://{}/events?", api.address)),
        "{text}"
    );
    // The server's own address is echoed as sent.
    let lines = signed_lines(&reader, "GET", path, b"");
    let port = api.address.rsplit_once(':').unwrap().1;
    let (status, text) = api
        .raw(
            &format!("GET {path} HTTP/1.1\r\nHost: localhost:{port}\r\n{lines}"),
            b"",
        )
        .await;
    assert_eq!(status, 200, "{text}");
    assert!(
        text.contains(&format!("http://localhost:{port}/events?")),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replayed_change_is_refused_as_long_as_its_date_is_accepted() {
    let api = Api::start(&[("BATON_SIGNATURE_SKEW_SECS", "1")]).await;
    let writer = api.key("writer", "releases.read,releases.write").await;
    // A Date 1 to 2 s ahead: whole seconds would accept it at once, and for nearly 4 s.
    let now = chrono::Utc::now();
    let date = chrono::DateTime::from_timestamp(now.timestamp() + 2, 0).unwrap();
    let body = br#"{"message": "replayed"}"#;
    let mut headers = http::HeaderMap::new();
    headers.insert("content-type", "application/json".parse().unwrap());
    writer.sign_request(&http::Method::POST, "/events", &mut headers, body, date);
    let mut admitted = Vec::new();
    let deadline = Instant::now() + Duration::from_millis(4_500);
    while Instant::now() < deadline {
        let response = api
            .http
            .post(format!("{}/events", api.base))
            .headers(headers.clone())
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        if status == 401 {
            assert!(
                text.contains("replayed request") || text.contains("away from the server"),
                "{text}"
            );
        } else {
            admitted.push((status, text));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(admitted.len(), 1, "admitted: {admitted:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn malformed_requests_are_not_logged_as_errors() {
    let api = Api::start(&[]).await;
    let host = format!("Host: {}", api.address);
    let long_path = format!("/{}", "a".repeat(70_000));
    // Far over the HTTP layer's ~400 KB head buffer: a head only a little over it may still
    // be read whole when its last read brings the rest, so the refusal would depend on timing.
    let huge_header = format!("X-Junk: {}", "j".repeat(2_000_000));
    for (request, expected) in [
        (format!("GET {long_path} HTTP/1.1\r\n{host}"), 414),
        (
            format!("GET /healthz HTTP/1.1\r\n{host}\r\n{huge_header}"),
            431,
        ),
        (format!("G(T /healthz HTTP/1.1\r\n{host}"), 400),
        ("NONSENSE".to_owned(), 400),
    ] {
        for _ in 0..20 {
            let mut stream = TcpStream::connect(&api.address).await.unwrap();
            // The server may answer and close before it has read all of a huge head.
            let _ = stream
                .write_all(format!("{request}\r\n\r\n").as_bytes())
                .await;
            let (status, text) = read_answer(&mut stream, Duration::from_secs(10)).await;
            assert_eq!(status, expected, "{text}");
        }
    }
    let (status, _) = api
        .raw(&format!("GET /healthz HTTP/1.1\r\n{host}"), b"")
        .await;
    assert_eq!(status, 200);
    let log = api.app.api_process().log();
    assert!(!log.contains("ERROR"), "{log}");
}

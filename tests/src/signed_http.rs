//! HTTP to a running `baton-api`, as the end-to-end tests use it: a free port to listen on,
//! waiting until it answers, and signed requests.

use std::time::Duration;

use common::auth::signing::sign::Signer;
use serde_json::Value;

/// An HTTP answer: status, headers and JSON body (or the text when it is not JSON).
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The body as JSON, or as a JSON string holding the text.
    pub body: Value,
    /// The headers.
    pub headers: http::HeaderMap,
    /// The body as received.
    pub bytes: Vec<u8>,
}

impl Answer {
    /// The value of header `name`, when present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The `Content-Type` header, or `""`.
    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or_default()
    }
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answer")
            .field("status", &self.status)
            .field("body", &self.body)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

/// Sends `method path` to `base` with `body` (JSON content type when not empty) and extra
/// headers, signed by `signer` when given.
pub async fn send_signed(
    http: &reqwest::Client,
    base: &str,
    signer: Option<&Signer>,
    method: &str,
    path: &str,
    body: &[u8],
    extra_headers: &[(&str, &str)],
) -> Answer {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
    let mut headers = http::HeaderMap::new();
    if !body.is_empty() {
        headers.insert(
            "content-type",
            http::HeaderValue::from_static("application/json"),
        );
    }
    for (name, value) in extra_headers {
        headers.insert(
            http::HeaderName::from_bytes(name.as_bytes()).expect("a header name"),
            value.parse().expect("a header value"),
        );
    }
    if let Some(signer) = signer {
        signer.sign_request(&method, path, &mut headers, body, chrono::Utc::now());
    }
    let response = http
        .request(method, format!("{base}{path}"))
        .headers(headers)
        .body(body.to_vec())
        .send()
        .await
        .expect("the API answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("a readable body").to_vec();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Answer {
        status,
        body,
        headers,
        bytes,
    }
}

/// A port free on 127.0.0.1 right now, for a `baton-api` to listen on.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// Waits (up to 20 s) until the API at `base` answers `/healthz`.
pub async fn wait_for_health(http: &reqwest::Client, base: &str) {
    crate::wait::wait_until(
        Duration::from_secs(20),
        "the API answers /healthz",
        || async {
            http.get(format!("{base}/healthz"))
                .send()
                .await
                .is_ok_and(|response| response.status().is_success())
        },
    )
    .await;
}

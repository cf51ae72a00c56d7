//! Signed HTTP requests to a running `baton-api`, as the end-to-end tests send them.

use common::signing::Signer;
use serde_json::Value;

/// An HTTP answer: status and JSON body (or the text when it is not JSON).
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The body as JSON, or as a JSON string holding the text.
    pub body: Value,
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
    let text = response.text().await.expect("a readable body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer { status, body }
}

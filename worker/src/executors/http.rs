//! The `http` executor: POSTs the task input as JSON to a URL and takes the response body as
//! the task's result. The call follows the [outbound policy](common::outbound): a URL it
//! refuses makes the task invalid, and an error answer is quoted only as a short excerpt.

use common::engine::executor::HttpSpec;
use common::outbound::{self, OutboundClient};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Response};
use serde_json::Value;

use crate::context::TaskContext;
use crate::error::TaskError;

/// Longest response body accepted, in bytes.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// POSTs `ctx.input` as JSON to `spec.url` with `spec.headers` and returns the response body:
/// parsed as JSON, as a JSON string when it is not JSON, or `None` when it is empty.
///
/// A malformed URL or header, or a URL the outbound policy refuses (a host that resolves to a
/// refused address included), is [`TaskError::Invalid`]; a connection error or a non-2xx
/// status is [`TaskError::Failed`]; a canceled attempt is [`TaskError::Interrupted`].
pub async fn run_http(
    client: &OutboundClient,
    spec: &HttpSpec,
    ctx: &TaskContext,
) -> Result<Option<Value>, TaskError> {
    let headers = parse_headers(spec)?;
    let url = outbound::redact(&spec.url);
    let request = client
        .request(Method::POST, &spec.url)
        .map_err(|refusal| TaskError::Invalid(format!("HTTP request to {url}: {refusal}")))?
        .json(&ctx.input)
        .headers(headers);

    let exchange = async {
        let response = request.send().await.map_err(|e| {
            let reason = outbound::describe(&e);
            ctx.log(format!("POST {url} failed: {reason}"));
            let message = format!("HTTP request to {url} failed: {reason}");
            if outbound::refusal(&e).is_some() {
                TaskError::Invalid(message)
            } else {
                TaskError::Failed(message)
            }
        })?;
        let status = response.status();
        ctx.log(format!("POST {url} -> {status}"));
        let body = read_body(response).await.map_err(|e| {
            TaskError::Failed(format!("reading the response from {url} failed: {e}"))
        })?;
        if !status.is_success() {
            let quoted = outbound::excerpt(&body, outbound::summary::EXCERPT_CHARS);
            let separator = if quoted.is_empty() { "" } else { ": " };
            return Err(TaskError::Failed(format!(
                "HTTP {} from {url}{separator}{quoted}",
                status.as_u16()
            )));
        }
        Ok(parse_body(&body))
    };
    tokio::select! {
        outcome = exchange => outcome,
        () = ctx.cancel.cancelled() => Err(TaskError::Interrupted),
    }
}

/// Validates the spec's headers.
fn parse_headers(spec: &HttpSpec) -> Result<HeaderMap, TaskError> {
    let mut headers = HeaderMap::new();
    for (name, value) in &spec.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| TaskError::Invalid(format!("invalid HTTP header name '{name}'")))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| TaskError::Invalid(format!("invalid value for HTTP header '{name}'")))?;
        headers.append(name, value);
    }
    Ok(headers)
}

/// Reads the whole body, refusing one larger than [`MAX_BODY`].
async fn read_body(mut response: Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| outbound::describe(&e))? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(format!("the body is larger than {MAX_BODY} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The result a 2xx body stands for.
fn parse_body(body: &[u8]) -> Option<Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    Some(
        serde_json::from_slice(body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned())),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use serde_json::json;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio::sync::{mpsc, oneshot};
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::context::{TaskEvent, TaskReport};

    fn context(input: Value) -> (TaskContext, mpsc::UnboundedReceiver<TaskEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let ctx = TaskContext::new(
            "run-1".into(),
            "NOTIFY".into(),
            0,
            1,
            input,
            CancellationToken::new(),
            tx,
        );
        (ctx, rx)
    }

    /// A client allowed to reach the tests' local servers.
    fn client() -> OutboundClient {
        OutboundClient::new(outbound::AllowList::parse("127.0.0.1").unwrap()).unwrap()
    }

    fn spec(url: String) -> HttpSpec {
        HttpSpec {
            url,
            headers: BTreeMap::from([("X-Token".to_owned(), "secret".to_owned())]),
        }
    }

    fn logs(rx: &mut mpsc::UnboundedReceiver<TaskEvent>) -> Vec<String> {
        let mut lines = Vec::new();
        while let Ok(event) = rx.try_recv() {
            if let TaskReport::Log(line) = event.report {
                lines.push(line);
            }
        }
        lines
    }

    /// A request as the test server saw it: head (lowercased) and body.
    struct Seen {
        head: String,
        body: Vec<u8>,
    }

    /// Serves one request with a fixed `status` and `body`; reports what it received.
    async fn serve_once(
        status: &'static str,
        body: &'static str,
    ) -> (String, oneshot::Receiver<Seen>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut data = Vec::new();
            let mut buf = [0u8; 4096];
            let head_end = loop {
                if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                    break end + 4;
                }
                let n = socket.read(&mut buf).await.unwrap();
                assert!(n > 0, "connection closed mid-request");
                data.extend_from_slice(&buf[..n]);
            };
            let head = String::from_utf8_lossy(&data[..head_end]).to_lowercase();
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            while data.len() < head_end + length {
                let n = socket.read(&mut buf).await.unwrap();
                assert!(n > 0, "connection closed mid-body");
                data.extend_from_slice(&buf[..n]);
            }
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            socket.write_all(response.as_bytes()).await.unwrap();
            socket.shutdown().await.unwrap();
            let _ = tx.send(Seen {
                head,
                body: data[head_end..head_end + length].to_vec(),
            });
        });
        (url, rx)
    }

    #[tokio::test]
    async fn a_2xx_response_returns_the_parsed_body() {
        let input = json!({"run_id": "run-1", "payload": {"n": 1}, "parents": []});
        let (ctx, mut rx) = context(input.clone());
        let (url, seen) = serve_once("200 OK", r#"{"ok": true, "rows": [1, 2]}"#).await;

        let result = run_http(&client(), &spec(url.clone()), &ctx).await;
        assert_eq!(result, Ok(Some(json!({"ok": true, "rows": [1, 2]}))));

        let seen = seen.await.unwrap();
        assert!(
            seen.head.starts_with("post /hook http/1.1\r\n"),
            "{}",
            seen.head
        );
        assert!(
            seen.head.contains("\r\nx-token: secret\r\n"),
            "{}",
            seen.head
        );
        assert!(
            seen.head.contains("\r\ncontent-type: application/json\r\n"),
            "{}",
            seen.head
        );
        assert_eq!(serde_json::from_slice::<Value>(&seen.body).unwrap(), input);
        assert_eq!(logs(&mut rx), [format!("POST {url} -> 200 OK")]);
    }

    #[tokio::test]
    async fn non_json_and_empty_bodies() {
        let (ctx, _rx) = context(json!(null));
        let (url, _seen) = serve_once("201 Created", "plain text").await;
        assert_eq!(
            run_http(&client(), &spec(url), &ctx).await,
            Ok(Some(json!("plain text")))
        );
        let (url, _seen) = serve_once("204 No Content", "").await;
        assert_eq!(run_http(&client(), &spec(url), &ctx).await, Ok(None));
    }

    #[tokio::test]
    async fn a_500_response_fails_with_the_start_of_the_body() {
        let (ctx, mut rx) = context(json!(null));
        let (url, _seen) = serve_once("500 Internal Server Error", "database is down").await;
        assert_eq!(
            run_http(&client(), &spec(url.clone()), &ctx).await,
            Err(TaskError::Failed(format!(
                "HTTP 500 from {url}: database is down"
            )))
        );
        assert_eq!(
            logs(&mut rx),
            [format!("POST {url} -> 500 Internal Server Error")]
        );
    }

    #[tokio::test]
    async fn connection_errors_fail_and_bad_specs_are_invalid() {
        let (ctx, mut rx) = context(json!(null));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        drop(listener);
        let result = run_http(&client(), &spec(url.clone()), &ctx).await;
        let Err(TaskError::Failed(message)) = result else {
            panic!("{result:?}")
        };
        assert!(
            message.starts_with(&format!("HTTP request to {url} failed: ")),
            "{message}"
        );
        assert_eq!(logs(&mut rx).len(), 1);

        let result = run_http(&client(), &spec("not a url".into()), &ctx).await;
        assert!(matches!(result, Err(TaskError::Invalid(_))), "{result:?}");
        let mut bad_header = spec("http://127.0.0.1:1/".into());
        bad_header.headers.insert("bad header".into(), "x".into());
        let result = run_http(&client(), &bad_header, &ctx).await;
        assert!(matches!(result, Err(TaskError::Invalid(_))), "{result:?}");
    }

    #[tokio::test]
    async fn a_long_error_answer_is_quoted_short_and_printable() {
        let (ctx, _rx) = context(json!(null));
        let junk: &'static str = Box::leak("junk\r\nline\u{1b}".repeat(2000).into_boxed_str());
        let (url, _seen) = serve_once("500 Internal Server Error", junk).await;
        let Err(TaskError::Failed(message)) = run_http(&client(), &spec(url), &ctx).await else {
            panic!("the task fails")
        };
        assert!(message.len() < 300, "{message}");
        assert!(!message.chars().any(char::is_control), "{message}");
    }

    #[tokio::test]
    async fn the_outbound_policy_refuses_loopback_unless_allowed() {
        let (ctx, _rx) = context(json!(null));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let strict = OutboundClient::new(outbound::AllowList::default()).unwrap();
        for url in [
            format!("http://127.0.0.1:{port}/"),
            format!("http://localhost:{port}/"),
        ] {
            let result = run_http(&strict, &spec(url.clone()), &ctx).await;
            let Err(TaskError::Invalid(message)) = result else {
                panic!("{url}: {result:?}")
            };
            assert!(message.contains("outbound policy"), "{message}");
        }
        let accepted = tokio::time::timeout(Duration::from_millis(100), listener.accept()).await;
        assert!(accepted.is_err(), "nothing reached the server");
        let result = run_http(&strict, &spec("http://u:p@example.org/".into()), &ctx).await;
        let Err(TaskError::Invalid(message)) = result else {
            panic!("{result:?}")
        };
        assert!(!message.contains("u:p"), "{message}");
    }

    #[tokio::test]
    async fn cancel_interrupts_a_pending_request() {
        let (ctx, _rx) = context(json!(null));
        // Accepts the connection but never answers.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (_socket, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(60)).await;
        });
        let cancel = ctx.cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            cancel.cancel();
        });
        let result = tokio::time::timeout(
            Duration::from_secs(5),
            run_http(&client(), &spec(url), &ctx),
        )
        .await;
        assert_eq!(result, Ok(Err(TaskError::Interrupted)));
    }
}

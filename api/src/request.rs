//! What a handler gets of a request: its head (everything the signature covers), the caller
//! the head authenticated, and the body, read only once the head is authenticated, within
//! the route's size limit.

use std::pin::Pin;

use bytes::{Buf, Bytes};
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use warp::Filter;
use warp::http::{HeaderMap, Method, header};

use crate::auth::Caller;
use crate::error::ApiError;

/// A request's body, not yet read.
pub type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, warp::Error>> + Send>>;

/// A request's method, target and headers: what is known before its body is read.
#[derive(Debug, Clone)]
pub struct RequestHead {
    /// The method.
    pub method: Method,
    /// Path and query, exactly as sent (what `(request-target)` signs).
    pub path_and_query: String,
    /// The headers.
    pub headers: HeaderMap,
    /// The peer's address, when known.
    pub remote: Option<std::net::SocketAddr>,
}

impl RequestHead {
    /// The length `Content-Length` announces, if any.
    pub fn content_length(&self) -> Option<u64> {
        self.headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
    }

    /// The value of a query parameter, if present (first occurrence, percent-decoded).
    pub fn query(&self, name: &str) -> Option<String> {
        let query = self.path_and_query.split_once('?')?.1;
        url_decoded_pairs(query)
            .into_iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }
}

/// A request as a handler sees it.
#[derive(Debug, Clone)]
pub struct RequestParts {
    /// The method.
    pub method: Method,
    /// Path and query, exactly as sent (what `(request-target)` signs).
    pub path_and_query: String,
    /// The headers.
    pub headers: HeaderMap,
    /// The body (empty when none, and on routes that take no credentials).
    pub body: Bytes,
    /// Who sent it, as its route's wrapper authenticated it; `None` on public routes.
    pub caller: Option<Caller>,
    /// The peer's address, when known.
    pub remote: Option<std::net::SocketAddr>,
}

impl RequestParts {
    /// The request made of an authenticated `head`, its `body` and its `caller`.
    pub fn new(head: RequestHead, body: Bytes, caller: Option<Caller>) -> Self {
        Self {
            method: head.method,
            path_and_query: head.path_and_query,
            headers: head.headers,
            body,
            caller,
            remote: head.remote,
        }
    }

    /// The value of a query parameter, if present (first occurrence, percent-decoded).
    pub fn query(&self, name: &str) -> Option<String> {
        let query = self.path_and_query.split_once('?')?.1;
        url_decoded_pairs(query)
            .into_iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }

    /// A whole-number query parameter from 1 to `max`, `default` when absent; anything else is
    /// a 400 naming the parameter and what was sent.
    pub fn bounded_query(&self, name: &str, default: usize, max: usize) -> Result<usize, ApiError> {
        match self.query(name) {
            None => Ok(default),
            Some(text) => match text.trim().parse::<usize>() {
                Ok(value) if (1..=max).contains(&value) => Ok(value),
                _ => Err(ApiError::BadRequest {
                    message: format!("'{name}' must be a whole number from 1 to {max}"),
                    details: vec![format!("{name}: got '{text}'")],
                }),
            },
        }
    }
}

fn url_decoded_pairs(query: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query).unwrap_or_default()
}

/// Refuses a request with more than one `Host` header: which one names the server would be
/// a guess, and proxies and this server could guess differently.
fn check_single_host(headers: &HeaderMap) -> Result<(), ApiError> {
    if headers.get_all(header::HOST).iter().nth(1).is_some() {
        return Err(ApiError::bad_request(
            "the request has more than one Host header",
        ));
    }
    Ok(())
}

/// Extracts a request's head (or the error to answer for a malformed one) and its body,
/// unread. It never rejects, so each front answers in its own error format.
pub fn request_head()
-> impl Filter<Extract = (Result<RequestHead, ApiError>, BodyStream), Error = warp::Rejection> + Clone
{
    warp::method()
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and(crate::serving::client_addr())
        .and(warp::body::stream())
        .map(
            |method,
             path: warp::path::FullPath,
             query: String,
             headers: HeaderMap,
             remote,
             body| {
                let head = check_single_host(&headers).map(|()| RequestHead {
                    remote,
                    method,
                    path_and_query: if query.is_empty() {
                        path.as_str().to_owned()
                    } else {
                        format!("{}?{query}", path.as_str())
                    },
                    headers,
                });
                (head, boxed(body))
            },
        )
        .untuple_one()
}

/// The body as chunks of bytes, boxed so every route names one type.
fn boxed<S, B>(body: S) -> BodyStream
where
    S: Stream<Item = Result<B, warp::Error>> + Send + 'static,
    B: Buf + Send,
{
    Box::pin(body.map(|chunk| chunk.map(|mut chunk| chunk.copy_to_bytes(chunk.remaining()))))
}

/// Refuses a body whose announced length is over `limit` before reading any of it.
fn check_announced(head: &RequestHead, limit: u64) -> Result<(), ApiError> {
    if head.content_length().is_some_and(|length| length > limit) {
        return Err(ApiError::PayloadTooLarge(limit));
    }
    Ok(())
}

/// Reads the body whole, up to `limit` bytes (announced by `Content-Length` or found while
/// reading a chunked body).
pub async fn read_body(
    head: &RequestHead,
    body: BodyStream,
    limit: u64,
) -> Result<Bytes, ApiError> {
    check_announced(head, limit)?;
    let mut collected = bytes::BytesMut::new();
    let mut body = body;
    while let Some(chunk) = body.next().await {
        let chunk = chunk
            .map_err(|error| ApiError::bad_request(format!("cannot read the body: {error}")))?;
        if collected.len() as u64 + chunk.len() as u64 > limit {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        collected.extend_from_slice(&chunk);
    }
    Ok(collected.freeze())
}

/// A body written to a temporary file as it arrived, with its SHA-256; the file is removed
/// when this is dropped.
#[derive(Debug)]
pub struct SpooledBody {
    /// The file holding the body.
    pub file: tempfile::NamedTempFile,
    /// How many bytes it holds.
    pub len: u64,
    /// The SHA-256 of the body.
    pub sha256: [u8; 32],
}

/// Writes the body to a temporary file, hashing it as it arrives, up to `limit` bytes: a
/// large body is never held in memory.
pub async fn spool_body(
    head: &RequestHead,
    body: BodyStream,
    limit: u64,
) -> Result<SpooledBody, ApiError> {
    check_announced(head, limit)?;
    let unavailable =
        |error: std::io::Error| ApiError::Unavailable(format!("cannot keep the body: {error}"));
    let file = tempfile::NamedTempFile::new().map_err(unavailable)?;
    let mut writer = tokio::io::BufWriter::new(tokio::fs::File::from_std(
        file.reopen().map_err(unavailable)?,
    ));
    let mut hasher = Sha256::new();
    let mut len = 0u64;
    let mut body = body;
    while let Some(chunk) = body.next().await {
        let chunk = chunk
            .map_err(|error| ApiError::bad_request(format!("cannot read the body: {error}")))?;
        len += chunk.len() as u64;
        if len > limit {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        hasher.update(&chunk);
        writer.write_all(&chunk).await.map_err(unavailable)?;
    }
    writer.flush().await.map_err(unavailable)?;
    Ok(SpooledBody {
        file,
        len,
        sha256: hasher.finalize().into(),
    })
}

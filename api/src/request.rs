//! What a handler gets of a request: everything the signature covers, and the body, read once
//! within the size limit.

use bytes::Bytes;
use futures::StreamExt;

use crate::error::ApiError;
use warp::Filter;
use warp::http::{HeaderMap, Method};

/// A request as received.
#[derive(Debug, Clone)]
pub struct RequestParts {
    /// The method.
    pub method: Method,
    /// Path and query, exactly as sent (what `(request-target)` signs).
    pub path_and_query: String,
    /// The headers.
    pub headers: HeaderMap,
    /// The body (empty when none).
    pub body: Bytes,
    /// The peer's address, when known.
    pub remote: Option<std::net::SocketAddr>,
}

impl RequestParts {
    /// The value of a query parameter, if present (first occurrence, percent-decoded).
    pub fn query(&self, name: &str) -> Option<String> {
        let query = self.path_and_query.split_once('?')?.1;
        url_decoded_pairs(query)
            .into_iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }
}

fn url_decoded_pairs(query: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query).unwrap_or_default()
}

/// Extracts [`RequestParts`], or the error to answer when the body is larger than `limit`
/// bytes (announced by `Content-Length` or found while reading a chunked body) or unreadable.
/// It never rejects, so each front answers in its own error format.
pub fn request_parts(
    limit: u64,
) -> impl Filter<Extract = (Result<RequestParts, ApiError>,), Error = warp::Rejection> + Clone {
    warp::method()
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and(warp::addr::remote())
        .and(warp::body::stream())
        .then(
            move |method,
                  path: warp::path::FullPath,
                  query: String,
                  headers: HeaderMap,
                  remote,
                  body| async move {
                let body = read_limited(&headers, body, limit).await?;
                let path_and_query = if query.is_empty() {
                    path.as_str().to_owned()
                } else {
                    format!("{}?{query}", path.as_str())
                };
                Ok(RequestParts {
                    method,
                    path_and_query,
                    headers,
                    body,
                    remote,
                })
            },
        )
}

async fn read_limited<S, B>(headers: &HeaderMap, body: S, limit: u64) -> Result<Bytes, ApiError>
where
    S: futures::Stream<Item = Result<B, warp::Error>>,
    B: bytes::Buf,
{
    let announced = headers
        .get(warp::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if announced.is_some_and(|length| length > limit) {
        return Err(ApiError::PayloadTooLarge(limit));
    }
    let mut collected = bytes::BytesMut::new();
    futures::pin_mut!(body);
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk
            .map_err(|error| ApiError::bad_request(format!("cannot read the body: {error}")))?;
        if collected.len() as u64 + chunk.remaining() as u64 > limit {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            collected.extend_from_slice(part);
            let read = part.len();
            chunk.advance(read);
        }
    }
    Ok(collected.freeze())
}

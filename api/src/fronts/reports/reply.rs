//! OrderlyWeb's response envelope, file downloads and `Accept` checks.

use futures::{SinkExt, Stream, StreamExt};
use serde::Serialize;
use serde_json::json;
use warp::Reply;
use warp::http::{HeaderValue, StatusCode, header};

use super::route::Answers;
use crate::error::ApiError;
use crate::request::RequestParts;

/// `data` wrapped in the success envelope, with 200.
pub fn success(data: impl Serialize) -> warp::reply::Response {
    success_with(StatusCode::OK, data)
}

/// `data` wrapped in the success envelope, with `status`.
pub fn success_with(status: StatusCode, data: impl Serialize) -> warp::reply::Response {
    warp::reply::with_status(
        warp::reply::json(&json!({"status": "success", "data": data, "errors": []})),
        status,
    )
    .into_response()
}

/// A file download: its bytes, its content type and a file name to save it as.
pub fn download(bytes: bytes::Bytes, content_type: &str, file_name: &str) -> warp::reply::Response {
    with_download_headers(
        warp::reply::Response::new(bytes.into()),
        content_type,
        file_name,
    )
}

/// Chunks a streamed download keeps ready ahead of the client: the memory one download holds.
const STREAM_AHEAD_CHUNKS: usize = 8;

/// A file download streamed from `chunks` (`size` bytes in all), never held whole in memory.
/// An error midway ends the answer short, which the client sees against `Content-Length`.
pub fn download_stream<E>(
    chunks: impl Stream<Item = Result<bytes::Bytes, E>> + Send + 'static,
    size: u64,
    content_type: &str,
    file_name: &str,
) -> warp::reply::Response
where
    E: std::fmt::Display + Send + 'static,
{
    let (mut sender, receiver) = futures::channel::mpsc::channel(STREAM_AHEAD_CHUNKS);
    let name = file_name.to_owned();
    tokio::spawn(async move {
        let mut chunks = std::pin::pin!(chunks);
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|error| {
                tracing::error!(file = %name, cause = %error, "a download failed midway");
                std::io::Error::other(error.to_string())
            });
            let failed = chunk.is_err();
            // A send fails once the client has gone: nothing more to read then.
            if sender.send(chunk).await.is_err() || failed {
                break;
            }
        }
    });
    let mut response = warp::reply::stream(receiver).into_response();
    if let Ok(value) = HeaderValue::from_str(&size.to_string()) {
        response.headers_mut().insert(header::CONTENT_LENGTH, value);
    }
    with_download_headers(response, content_type, file_name)
}

fn with_download_headers(
    mut response: warp::reply::Response,
    content_type: &str,
    file_name: &str,
) -> warp::reply::Response {
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    let safe_name: String = file_name
        .rsplit('/')
        .next()
        .unwrap_or(file_name)
        .chars()
        .filter(|c| c.is_ascii_graphic() && *c != '"' && *c != '\\')
        .collect();
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{safe_name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// The content type of a file, from its name.
pub fn content_type_of(name: &str) -> String {
    mime_guess::from_path(name)
        .first_or_octet_stream()
        .essence_str()
        .to_owned()
}

/// The answer for a URL that is not part of the API (or asked with the wrong `Accept`).
pub fn unknown_resource() -> ApiError {
    ApiError::NotFound("Unknown resource. Please check the URL".into())
}

/// Refuses, as an unknown resource, a request whose `Accept` header excludes what the route
/// answers with. No `Accept` header accepts anything.
pub fn check_accept(request: &RequestParts, answers: Answers) -> Result<(), ApiError> {
    let Some(accept) = request
        .headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
    else {
        return Ok(());
    };
    let accepted = |wanted: &str| {
        let (family, _) = wanted.split_once('/').unwrap_or((wanted, ""));
        accept.split(',').any(|item| {
            let media = item
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            media == "*/*" || media == wanted || media == format!("{family}/*")
        })
    };
    let ok = match answers {
        Answers::Json => accepted("application/json"),
        Answers::Csv => accepted("text/csv"),
        Answers::Download => true,
    };
    if ok { Ok(()) } else { Err(unknown_resource()) }
}

/// Reads a boolean query parameter (`true`/`false`, any case); `None` when absent.
pub fn bool_query(request: &RequestParts, name: &str) -> Result<Option<bool>, ApiError> {
    match request.query(name) {
        None => Ok(None),
        Some(value) if value.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(value) if value.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(value) => Err(ApiError::bad_request(format!(
            "query parameter '{name}' must be true or false, not '{value}'"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warp::http::{HeaderMap, Method};

    fn request(accept: Option<&str>, query: &str) -> RequestParts {
        let mut headers = HeaderMap::new();
        if let Some(accept) = accept {
            headers.insert(header::ACCEPT, HeaderValue::from_str(accept).unwrap());
        }
        RequestParts {
            method: Method::GET,
            path_and_query: format!("/api/v1/x/{query}"),
            headers,
            body: bytes::Bytes::new(),
            caller: None,
            remote: None,
        }
    }

    #[test]
    fn accept_headers_are_checked_per_route() {
        assert!(check_accept(&request(None, ""), Answers::Json).is_ok());
        assert!(check_accept(&request(Some("application/json"), ""), Answers::Json).is_ok());
        assert!(check_accept(&request(Some("text/html, */*;q=0.8"), ""), Answers::Json).is_ok());
        assert!(check_accept(&request(Some("text/csv"), ""), Answers::Json).is_err());
        assert!(check_accept(&request(Some("text/csv"), ""), Answers::Csv).is_ok());
        assert!(check_accept(&request(Some("application/json"), ""), Answers::Csv).is_err());
    }

    #[test]
    fn booleans_are_case_insensitive() {
        assert_eq!(
            bool_query(&request(None, "?output=TRUE"), "output"),
            Ok(Some(true))
        );
        assert_eq!(
            bool_query(&request(None, "?output=False"), "output"),
            Ok(Some(false))
        );
        assert_eq!(bool_query(&request(None, ""), "output"), Ok(None));
        assert!(bool_query(&request(None, "?output=yes"), "output").is_err());
    }
}

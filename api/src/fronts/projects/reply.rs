//! What the front's handlers share: JSON answers, request bodies, ids and Orchestra's dates.

use serde_json::{Map, Value};
use warp::Reply;
use warp::http::StatusCode;

use crate::error::ApiError;
use crate::request::RequestParts;

/// A JSON answer with status 200.
pub fn ok(body: &Value) -> warp::reply::Response {
    warp::reply::with_status(warp::reply::json(body), StatusCode::OK).into_response()
}

/// The request's body as a JSON object (an empty body is an empty object).
pub fn body_object(request: &RequestParts) -> Result<Map<String, Value>, ApiError> {
    if request.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&request.body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(ApiError::bad_request("the body must be a JSON object")),
        Err(error) => Err(ApiError::bad_request(format!(
            "the body is not valid JSON: {error}"
        ))),
    }
}

/// An integer id given as a JSON number or a string of digits.
pub fn integer_id(value: &Value, name: &str) -> Result<u64, ApiError> {
    let parsed = match value {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    };
    parsed.ok_or_else(|| {
        ApiError::bad_request(format!("'{name}' must be an integer id, not {value}"))
    })
}

/// An id from a path segment.
pub fn path_id(text: &str, what: &str) -> Result<u64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::NotFound(format!("no {what} '{text}': ids are integers")))
}

/// The `limit` query parameter of a list: `default` when absent, else 1 to `most`.
pub fn query_limit(request: &RequestParts, default: usize, most: usize) -> Result<usize, ApiError> {
    match request.query("limit") {
        None => Ok(default),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|limit| (1..=most).contains(limit))
            .ok_or_else(|| ApiError::bad_request(format!("'limit' must be from 1 to {most}"))),
    }
}

/// A body's optional `work_time_seconds`: a whole number, or `None` when absent or null.
pub fn work_time_seconds(body: &Map<String, Value>) -> Result<Option<u64>, ApiError> {
    match body.get("work_time_seconds") {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value.as_u64().map(Some).ok_or_else(|| {
            ApiError::bad_request(format!(
                "'work_time_seconds' must be a whole number, not {value}"
            ))
        }),
    }
}

/// A time as Orchestra shows `start_datetime`: `2015-09-23T20:16:02.667288Z`.
pub fn datetime_utc(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

/// A time as Orchestra shows a snapshot's `datetime` (UTC, no zone): `2015-09-23T20:16:15.821171`.
pub fn datetime_naive(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.6f")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_have_orchestras_shapes() {
        assert_eq!(
            datetime_utc(1_443_039_362_667),
            "2015-09-23T20:16:02.667000Z"
        );
        assert_eq!(
            datetime_naive(1_443_039_375_821),
            "2015-09-23T20:16:15.821000"
        );
    }

    #[test]
    fn ids_are_numbers_or_digit_strings() {
        assert_eq!(integer_id(&serde_json::json!(12), "id").unwrap(), 12);
        assert_eq!(integer_id(&serde_json::json!("12"), "id").unwrap(), 12);
        assert!(integer_id(&serde_json::json!(-1), "id").is_err());
        assert!(integer_id(&serde_json::json!("x"), "id").is_err());
        assert!(integer_id(&serde_json::json!(1.5), "id").is_err());
    }
}

//! What every handler of the front shares: JSON answers, the URLs of related resources,
//! pagination, query and body parsing, and how records are shown.

use common::releases::records::{Event, Release, ReleaseNote, Study, Task, TaskService};
use common::store::releases::records::Record;
use common::store::releases::{Order, Page};
use serde_json::{Map, Value, json};
use warp::Reply;
use warp::http::StatusCode;

use super::route::Collection;
use crate::error::ApiError;
use crate::request::RequestParts;
use crate::state::AppState;

/// Default page size.
const LIMIT_DEFAULT: usize = 10;
/// Largest page size.
const LIMIT_MAX: usize = 1000;

/// A JSON answer.
pub fn json_response(status: StatusCode, body: &Value) -> warp::reply::Response {
    warp::reply::with_status(warp::reply::json(body), status).into_response()
}

/// `200 OK` in JSON, as the seed answers a delete, with a message naming what went.
pub fn deleted(collection: Collection, id: &str) -> warp::reply::Response {
    let message = format!("{} {id} deleted", noun(collection));
    json_response(StatusCode::OK, &json!({ "message": message }))
}

/// Creation time as the Release Coordinator shows it (`2018-09-13T19:48:49.467518Z`).
pub fn timestamp(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

/// Builds absolute URLs from `BATON_PUBLIC_URL`, or from the request's `Host` when the
/// server knows it as its own ([`crate::hosts`]).
#[derive(Debug, Clone)]
pub struct Urls {
    base: String,
}

impl Urls {
    /// The URL base for `request`.
    pub fn new(state: &AppState, request: &RequestParts) -> Self {
        Self {
            base: state.links.base_for(&request.headers),
        }
    }

    /// The URL of one record.
    pub fn of(&self, collection: Collection, id: &str) -> String {
        format!("{}/{}/{id}", self.base, collection.segment())
    }

    /// The URL of a record when there is one, else null.
    pub fn maybe(&self, collection: Collection, id: Option<&str>) -> Value {
        id.map_or(Value::Null, |id| json!(self.of(collection, id)))
    }

    /// A path with a query, made absolute.
    pub fn absolute(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.base)
    }
}

/// The page asked for: `limit` (default 10) and `offset` (default 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// Most records.
    pub limit: usize,
    /// Records skipped.
    pub offset: usize,
}

/// Reads `limit` and `offset`.
pub fn page_request(request: &RequestParts) -> Result<PageRequest, ApiError> {
    let number = |name: &str, default: usize, min: usize, max: usize| match request.query(name) {
        None => Ok(default),
        Some(text) => match text.trim().parse::<usize>() {
            Ok(value) if (min..=max).contains(&value) => Ok(value),
            _ => Err(ApiError::bad_request(format!(
                "'{name}' must be a whole number from {min} to {max} (got '{text}')"
            ))),
        },
    };
    Ok(PageRequest {
        limit: number("limit", LIMIT_DEFAULT, 1, LIMIT_MAX)?,
        offset: number("offset", 0, 0, usize::MAX / 2)?,
    })
}

/// A listing's filters on fields holding ids (`?release=RE_...`), as asked; an empty value
/// filters nothing.
pub fn id_filters(request: &RequestParts, fields: &[&'static str]) -> Vec<(&'static str, String)> {
    fields
        .iter()
        .filter_map(|field| {
            let value = request.query(field).filter(|value| !value.is_empty())?;
            Some((*field, value))
        })
        .collect()
}

/// A page of the `R`s whose indexed fields have every value in `filters` (as stored), newest
/// first, as the Release Coordinator orders every list (`-created_at`).
pub async fn filtered_page<R: Record>(
    state: &AppState,
    asked: PageRequest,
    filters: &[(&'static str, String)],
) -> Result<Page<R>, ApiError> {
    let filters: Vec<(&'static str, &str)> = filters
        .iter()
        .map(|(field, value)| (*field, value.as_str()))
        .collect();
    Ok(state
        .store
        .list_release_records_in(&filters, Order::NewestFirst, asked.offset, asked.limit)
        .await?)
}

/// The paginated answer: `count`, `next`, `previous` (URLs or null) and `results`.
pub fn paginated<R>(
    urls: &Urls,
    request: &RequestParts,
    asked: PageRequest,
    page: &Page<R>,
    render: impl Fn(&R) -> Value,
) -> warp::reply::Response {
    let link = |offset: usize| {
        let (path, query) = request
            .path_and_query
            .split_once('?')
            .unwrap_or((request.path_and_query.as_str(), ""));
        let mut pairs: Vec<(String, String)> =
            serde_urlencoded::from_str::<Vec<(String, String)>>(query)
                .unwrap_or_default()
                .into_iter()
                .filter(|(name, _): &(String, String)| name != "limit" && name != "offset")
                .collect();
        pairs.push(("limit".into(), asked.limit.to_string()));
        pairs.push(("offset".into(), offset.to_string()));
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        json!(urls.absolute(&format!("{path}?{query}")))
    };
    let next = if asked.offset + asked.limit < page.count {
        link(asked.offset + asked.limit)
    } else {
        Value::Null
    };
    let previous = if asked.offset > 0 {
        link(asked.offset.saturating_sub(asked.limit))
    } else {
        Value::Null
    };
    let results: Vec<Value> = page.items.iter().map(render).collect();
    json_response(
        StatusCode::OK,
        &json!({"count": page.count, "next": next, "previous": previous, "results": results}),
    )
}

/// A query parameter read as a boolean (`True`/`False`, any case, or 1/0).
pub fn query_bool(request: &RequestParts, name: &str) -> Result<Option<bool>, ApiError> {
    match request.query(name) {
        None => Ok(None),
        Some(text) => match text.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(Some(true)),
            "false" | "0" | "no" => Ok(Some(false)),
            _ => Err(ApiError::bad_request(format!(
                "'{name}' must be True or False (got '{text}')"
            ))),
        },
    }
}

/// The body as a JSON object.
pub fn body_object(request: &RequestParts) -> Result<Map<String, Value>, ApiError> {
    if request.body.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&request.body) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(_) => Err(ApiError::bad_request("the body must be a JSON object")),
        Err(error) => Err(ApiError::bad_request(format!(
            "the body is not valid JSON: {error}"
        ))),
    }
}

/// A body field that must be a string (or null) when present.
pub fn string_field(fields: &Map<String, Value>, name: &str) -> Result<Option<String>, ApiError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err(ApiError::bad_request(format!(
            "'{name}' must be a string, not {other}"
        ))),
    }
}

/// A required, non-empty string field.
pub fn required_string(fields: &Map<String, Value>, name: &str) -> Result<String, ApiError> {
    string_field(fields, name)?
        .filter(|text| !text.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request(format!("'{name}' is required")))
}

/// A body field that must be a boolean when present.
pub fn bool_field(fields: &Map<String, Value>, name: &str) -> Result<Option<bool>, ApiError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(value)) => Ok(Some(*value)),
        Some(other) => Err(ApiError::bad_request(format!(
            "'{name}' must be true or false, not {other}"
        ))),
    }
}

/// A body field that must be a list of strings when present.
pub fn string_list_field(
    fields: &Map<String, Value>,
    name: &str,
) -> Result<Option<Vec<String>>, ApiError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(text) => Ok(text.clone()),
                other => Err(ApiError::bad_request(format!(
                    "'{name}' must be a list of strings ({other} is not one)"
                ))),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(other) => Err(ApiError::bad_request(format!(
            "'{name}' must be a list of strings, not {other}"
        ))),
    }
}

/// A task service as shown.
pub fn service_json(service: &TaskService) -> Value {
    json!({
        "kf_id": service.kf_id,
        "name": service.name,
        "description": service.description,
        "last_ok_status": service.last_ok_status,
        "author": service.author,
        "health_status": service.health_status,
        "url": common::outbound::redact(&service.url),
        "created_at": timestamp(service.created_ms),
        "enabled": service.enabled,
    })
}

/// A task as shown.
pub fn task_json(urls: &Urls, task: &Task) -> Value {
    json!({
        "kf_id": task.kf_id,
        "state": task.state,
        "progress": task.progress,
        "release": urls.of(Collection::Releases, &task.release),
        "task_service": urls.of(Collection::Services, &task.task_service),
        "created_at": timestamp(task.created_ms),
        "service_name": task.service_name,
    })
}

/// A release as shown, with its tasks and notes.
pub fn release_json(
    urls: &Urls,
    release: &Release,
    tasks: &[Task],
    notes: &[ReleaseNote],
) -> Value {
    json!({
        "kf_id": release.kf_id,
        "name": release.name,
        "description": release.description,
        "notes": notes.iter().map(|note| note_json(urls, note)).collect::<Vec<_>>(),
        "state": release.state,
        "studies": release.studies,
        "tasks": tasks.iter().map(|task| task_json(urls, task)).collect::<Vec<_>>(),
        "version": release.version,
        "created_at": timestamp(release.created_ms),
        "tags": release.tags,
        "author": release.author,
        "is_major": release.is_major,
    })
}

/// An event as shown.
pub fn event_json(urls: &Urls, event: &Event) -> Value {
    json!({
        "kf_id": event.kf_id,
        "event_type": event.event_type,
        "message": event.message,
        "release": urls.maybe(Collection::Releases, event.release.as_deref()),
        "task_service": urls.maybe(Collection::Services, event.task_service.as_deref()),
        "task": urls.maybe(Collection::Tasks, event.task.as_deref()),
        "study": urls.maybe(Collection::Studies, event.study.as_deref()),
        "created_at": timestamp(event.created_ms),
    })
}

/// A release note as shown.
pub fn note_json(urls: &Urls, note: &ReleaseNote) -> Value {
    json!({
        "kf_id": note.kf_id,
        "description": note.description,
        "author": note.author,
        "created_at": timestamp(note.created_ms),
        "release": urls.of(Collection::Releases, &note.release),
        "study": urls.maybe(Collection::Studies, note.study.as_deref()),
    })
}

/// A study as shown.
pub fn study_json(study: &Study) -> Value {
    json!({
        "kf_id": study.kf_id,
        "name": study.name,
        "version": study.version,
        "visible": study.visible,
        "last_pub_version": study.last_pub_version,
        "last_pub_date": study.last_pub_date_ms.map(timestamp),
        "deleted": study.deleted,
        "created_at": timestamp(study.created_ms),
    })
}

/// What a record of `collection` is called in messages.
fn noun(collection: Collection) -> &'static str {
    match collection {
        Collection::Services => "task service",
        Collection::Releases => "release",
        Collection::Tasks => "task",
        Collection::Notes => "release note",
        Collection::Events => "event",
        Collection::Studies => "study",
    }
}

/// 404 for a record of `collection` that does not exist.
pub fn not_found(collection: Collection, id: &str) -> ApiError {
    ApiError::NotFound(format!("{} {id} not found", noun(collection)))
}

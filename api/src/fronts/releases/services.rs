//! `/task-services`: registering (after a `/status` ping), listing, reading, changing and
//! deleting task services. A service's URL must pass the outbound policy, and is shown and
//! logged without credentials.

use common::outbound;
use common::releases::IdKind;
use common::store::releases::records::{TaskService, bit};
use common::task_service;
use common::time::now_ms;
use serde_json::{Map, Value};
use warp::http::StatusCode;

use super::reply::{
    PageRequest, Urls, body_object, bool_field, deleted, filtered_page, json_response, not_found,
    page_request, paginated, query_bool, required_string, service_json, string_field,
};
use super::route::Collection;
use crate::error::ApiError;
use crate::request::RequestParts;
use crate::state::AppState;

/// Refuses a URL the outbound policy refuses (scheme, credentials, fragment, address), or
/// one with blanks.
fn check_url(state: &AppState, url: &str) -> Result<(), ApiError> {
    if url.chars().any(char::is_whitespace) {
        return Err(ApiError::bad_request(
            "'url' must be an http:// or https:// URL without blanks",
        ));
    }
    state
        .releases
        .client
        .check(url)
        .map_err(|refusal| ApiError::bad_request(format!("'url' is refused: {refusal}")))?;
    Ok(())
}

/// Refuses a service whose `/status` does not answer 200 (a name that resolves to an address
/// the outbound policy refuses included).
async fn check_reachable(state: &AppState, url: &str) -> Result<(), ApiError> {
    task_service::ping(&state.releases.client, url)
        .await
        .map_err(|error| {
            ApiError::bad_request(format!(
                "the task service at {} did not answer GET /status with 200: {error}",
                outbound::redact(url)
            ))
        })
}

/// `GET /task-services`
pub async fn list(
    state: &AppState,
    request: &RequestParts,
) -> Result<warp::reply::Response, ApiError> {
    let asked: PageRequest = page_request(request)?;
    let enabled = query_bool(request, "enabled")?;
    let filters: Vec<_> = enabled
        .map(|enabled| ("enabled", bit(enabled)))
        .into_iter()
        .collect();
    let page = filtered_page::<TaskService>(state, asked, &filters).await?;
    Ok(paginated(
        &Urls::new(state, request),
        request,
        asked,
        &page,
        service_json,
    ))
}

/// `GET /task-services/<id>`
pub async fn get(state: &AppState, id: &str) -> Result<warp::reply::Response, ApiError> {
    let service = find(state, id).await?;
    Ok(json_response(StatusCode::OK, &service_json(&service)))
}

async fn find(state: &AppState, id: &str) -> Result<TaskService, ApiError> {
    state
        .store
        .release_record::<TaskService>(id)
        .await?
        .ok_or_else(|| not_found(Collection::Services, id))
}

/// Registers a task service from a body's fields (`name` and `url` required,
/// `description`, `author`, `enabled`): refused (400) unless the URL passes the outbound
/// policy and `<url>/status` answers 200. The API and the console both register here.
pub(crate) async fn register(
    state: &AppState,
    fields: &Map<String, Value>,
) -> Result<TaskService, ApiError> {
    let name = required_string(fields, "name")?;
    let url = required_string(fields, "url")?;
    check_url(state, &url)?;
    let service = TaskService {
        kf_id: IdKind::TaskService.new_id(),
        name,
        description: string_field(fields, "description")?.unwrap_or_default(),
        author: string_field(fields, "author")?.unwrap_or_default(),
        url,
        enabled: bool_field(fields, "enabled")?.unwrap_or(true),
        health_status: "ok".into(),
        last_ok_status: 0,
        last_ok_ms: now_ms(),
        created_ms: now_ms(),
    };
    check_reachable(state, &service.url).await?;
    state.store.insert_release_record(&service).await?;
    tracing::info!(service = %service.kf_id, url = %outbound::redact(&service.url), "task service registered");
    Ok(service)
}

/// `POST /task-services`
pub async fn create(
    state: &AppState,
    request: &RequestParts,
) -> Result<warp::reply::Response, ApiError> {
    let service = register(state, &body_object(request)?).await?;
    Ok(json_response(StatusCode::OK, &service_json(&service)))
}

/// Changes task service `id` from a body's fields (`name`, `description`, `author`, `url`
/// checked as at registration, `enabled`); 404 when there is none. The API and the console
/// both change services here.
pub(crate) async fn change(
    state: &AppState,
    id: &str,
    fields: &Map<String, Value>,
) -> Result<(), ApiError> {
    find(state, id).await?;
    let mut changes = Vec::new();
    for name in ["name", "description", "author"] {
        if let Some(value) = string_field(fields, name)? {
            changes.push((name, value));
        }
    }
    if let Some(url) = string_field(fields, "url")? {
        check_url(state, &url)?;
        check_reachable(state, &url).await?;
        changes.push(("url", url));
    }
    if let Some(enabled) = bool_field(fields, "enabled")? {
        changes.push(("enabled", bit(enabled)));
    }
    state
        .store
        .update_release_record::<TaskService>(id, &changes)
        .await?;
    Ok(())
}

/// `PATCH /task-services/<id>`
pub async fn update(
    state: &AppState,
    request: &RequestParts,
    id: &str,
) -> Result<warp::reply::Response, ApiError> {
    change(state, id, &body_object(request)?).await?;
    get(state, id).await
}

/// `DELETE /task-services/<id>`
pub async fn delete(state: &AppState, id: &str) -> Result<warp::reply::Response, ApiError> {
    if state.store.delete_release_record::<TaskService>(id).await? {
        Ok(deleted(Collection::Services, id))
    } else {
        Err(not_found(Collection::Services, id))
    }
}

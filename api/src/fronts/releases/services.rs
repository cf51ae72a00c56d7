//! `/task-services`: registering (after a `/status` ping; the answer carries the service's
//! token, once), listing, reading, changing and deleting task services. A service's URL must
//! pass the outbound policy, and is shown and logged without credentials.

use common::outbound;
use common::releases::records::TaskService;
use common::releases::task_service;
use common::releases::{IdKind, ServiceToken};
use common::store::record_fields::field_value;
use common::store::releases::services::Registration;
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
        .map(|enabled| ("enabled", field_value(&enabled)))
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

/// A registration: the service as registered, and the token it reports progress with.
pub(crate) struct Registered {
    /// The service.
    pub service: TaskService,
    /// Its new token; only its digest is kept, so this is the one time it is seen.
    pub token: ServiceToken,
}

/// Registers a task service from a body's fields (`name` and `url` required,
/// `description`, `author`, `enabled`), with the service's new token: refused (400) unless
/// the URL passes the outbound policy and `<url>/status` answers 200. The API and the console
/// both register here. A service registered at the same URL already is registered again: it
/// keeps its id, creation time and (unless `enabled` is given) whether it is enabled, takes
/// the new name, description and author, and its old token stops working.
pub(crate) async fn register_with_token(
    state: &AppState,
    fields: &Map<String, Value>,
) -> Result<Registered, ApiError> {
    let name = required_string(fields, "name")?;
    let url = required_string(fields, "url")?;
    check_url(state, &url)?;
    let enabled = bool_field(fields, "enabled")?;
    let now = now_ms();
    let service = TaskService {
        kf_id: IdKind::TaskService.new_id(),
        name,
        description: string_field(fields, "description")?.unwrap_or_default(),
        author: string_field(fields, "author")?.unwrap_or_default(),
        url,
        enabled: enabled.unwrap_or(true),
        health_status: "ok".into(),
        last_ok_status: 0,
        last_ok_ms: now,
        created_ms: now,
    };
    check_reachable(state, &service.url).await?;
    let token = ServiceToken::issue(&service.kf_id);
    let registration = state
        .store
        .register_task_service(&service, enabled, &token.digest())
        .await?;
    let token = token.naming(registration.id());
    let again = matches!(registration, Registration::Replaced(_));
    tracing::info!(
        service = %registration.id(),
        url = %outbound::redact(&service.url),
        again,
        "task service registered"
    );
    Ok(Registered {
        service: find(state, registration.id()).await?,
        token,
    })
}

/// `POST /task-services`: the service as registered, with `token`, the credential its
/// progress reports (`PATCH /tasks/<id>`) carry as `Authorization: Bearer <token>`. It is
/// answered only here, once; registering again answers a new one.
pub async fn create(
    state: &AppState,
    request: &RequestParts,
) -> Result<warp::reply::Response, ApiError> {
    let registered = register_with_token(state, &body_object(request)?).await?;
    let mut answer = service_json(&registered.service);
    answer["token"] = Value::String(registered.token.reveal());
    Ok(json_response(StatusCode::OK, &answer))
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
        changes.push(("enabled", field_value(&enabled)));
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

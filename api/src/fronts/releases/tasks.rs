//! `/tasks`: listing and reading tasks, and services reporting their progress
//! (`PATCH /tasks/<id>`, signed or with the service's token), applied through the same
//! guarded transition as the phases.

use common::releases::TaskState;
use common::releases::records::Task;
use common::store::releases::lifecycle::StepResult;
use serde_json::Value;
use warp::http::StatusCode;

use super::reply::{
    Urls, body_object, filtered_page, id_filters, json_response, not_found, page_request,
    paginated, string_field, task_json,
};
use super::route::Collection;
use crate::error::ApiError;
use crate::request::RequestParts;
use crate::state::AppState;

/// `GET /tasks`
pub async fn list(
    state: &AppState,
    request: &RequestParts,
) -> Result<warp::reply::Response, ApiError> {
    let asked = page_request(request)?;
    let wanted = match request.query("state") {
        Some(text) => Some(
            text.parse::<TaskState>()
                .map_err(|error| ApiError::bad_request(error.to_string()))?,
        ),
        None => None,
    };
    let mut filters = id_filters(request, &["release", "task_service"]);
    filters.extend(wanted.map(|wanted| ("state", wanted.as_str().to_owned())));
    let page = filtered_page::<Task>(state, asked, &filters).await?;
    let urls = Urls::new(state, request);
    Ok(paginated(&urls, request, asked, &page, |task| {
        task_json(&urls, task)
    }))
}

async fn find(state: &AppState, id: &str) -> Result<Task, ApiError> {
    state
        .store
        .release_record::<Task>(id)
        .await?
        .ok_or_else(|| not_found(Collection::Tasks, id))
}

/// `GET /tasks/<id>`
pub async fn get(
    state: &AppState,
    request: &RequestParts,
    id: &str,
) -> Result<warp::reply::Response, ApiError> {
    let task = find(state, id).await?;
    Ok(json_response(
        StatusCode::OK,
        &task_json(&Urls::new(state, request), &task),
    ))
}

fn progress_field(fields: &serde_json::Map<String, Value>) -> Result<Option<u8>, ApiError> {
    match fields.get("progress") {
        None | Some(Value::Null) => Ok(None),
        Some(value) => match value.as_u64() {
            Some(progress) if progress <= 100 => Ok(Some(progress as u8)),
            _ => Err(ApiError::bad_request(format!(
                "'progress' must be a whole number from 0 to 100, not {value}"
            ))),
        },
    }
}

/// `PATCH /tasks/<id>`, signed: `state` (checked against the task state machine) and
/// `progress`.
pub async fn update(
    state: &AppState,
    request: &RequestParts,
    id: &str,
) -> Result<warp::reply::Response, ApiError> {
    apply_report(state, request, id).await
}

/// `PATCH /tasks/<id>` with a task service's token, already checked against the task's
/// service ([`super::service_token`]) before the body was read.
pub async fn report(
    state: &AppState,
    request: &RequestParts,
    id: &str,
    service: &str,
) -> Result<warp::reply::Response, ApiError> {
    tracing::debug!(task = %id, service = %service, "progress reported with a service token");
    apply_report(state, request, id).await
}

/// Applies a report's `state` and `progress` to task `id` through the guarded transition.
async fn apply_report(
    state: &AppState,
    request: &RequestParts,
    id: &str,
) -> Result<warp::reply::Response, ApiError> {
    let fields = body_object(request)?;
    let wanted = string_field(&fields, "state")?
        .map(|text| {
            text.parse::<TaskState>()
                .map_err(|error| ApiError::bad_request(error.to_string()))
        })
        .transpose()?;
    let progress = progress_field(&fields)?;
    let task = find(state, id).await?;
    let to = wanted.unwrap_or(task.state);
    let outcome = state.store.apply_task_state(id, to, progress, None).await?;
    match outcome.result {
        StepResult::Missing => return Err(not_found(Collection::Tasks, id)),
        StepResult::Refused => {
            return Err(ApiError::bad_request(format!(
                "task {id} cannot change from {} to {to}",
                outcome.previous
            )));
        }
        StepResult::Changed => {
            tracing::info!(task = %id, from = %outcome.previous, to = %to, "task state reported");
        }
        StepResult::Same => {}
    }
    state.store.ensure_release_phase(&task.release).await?;
    get(state, request, id).await
}

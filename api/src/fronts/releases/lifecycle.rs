//! `/releases`: starting, listing, reading, changing, publishing and canceling releases.

use std::collections::HashMap;

use common::operations::releases::mirror_named_studies;
use common::releases::ReleaseState;
use common::releases::records::{Release, ReleaseNote, Task};
use common::store::record_fields::field_value;
use common::store::releases::lifecycle::{NewRelease, StepResult};
use serde_json::{Map, Value, json};
use warp::http::StatusCode;

use super::reply::{
    Urls, body_object, bool_field, filtered_page, json_response, not_found, page_request,
    paginated, release_json, required_string, string_field, string_list_field,
};
use super::route::Collection;
use crate::error::ApiError;
use crate::request::RequestParts;
use crate::state::AppState;

/// Releases with their tasks and notes, ready to show.
struct Shown {
    tasks: HashMap<String, Task>,
    notes: Vec<ReleaseNote>,
}

async fn gather(state: &AppState, releases: &[Release]) -> Result<Shown, ApiError> {
    let task_ids: Vec<String> = releases
        .iter()
        .flat_map(|release| release.tasks.iter().cloned())
        .collect();
    let tasks = state
        .store
        .release_records::<Task>(&task_ids)
        .await?
        .into_iter()
        .flatten()
        .map(|task| (task.kf_id.clone(), task))
        .collect();
    let wanted: Vec<&str> = releases.iter().map(|r| r.kf_id.as_str()).collect();
    let notes = state
        .store
        .release_records_by::<ReleaseNote>("release", &wanted)
        .await?;
    Ok(Shown { tasks, notes })
}

fn show(urls: &Urls, release: &Release, shown: &Shown) -> serde_json::Value {
    let tasks: Vec<Task> = release
        .tasks
        .iter()
        .filter_map(|id| shown.tasks.get(id).cloned())
        .collect();
    let notes: Vec<ReleaseNote> = shown
        .notes
        .iter()
        .filter(|note| note.release == release.kf_id)
        .cloned()
        .collect();
    release_json(urls, release, &tasks, &notes)
}

async fn find(state: &AppState, id: &str) -> Result<Release, ApiError> {
    state
        .store
        .release_record::<Release>(id)
        .await?
        .ok_or_else(|| not_found(Collection::Releases, id))
}

async fn answer_release(
    state: &AppState,
    request: &RequestParts,
    id: &str,
    status: StatusCode,
) -> Result<warp::reply::Response, ApiError> {
    let release = find(state, id).await?;
    let shown = gather(state, std::slice::from_ref(&release)).await?;
    Ok(json_response(
        status,
        &show(&Urls::new(state, request), &release, &shown),
    ))
}

/// `GET /releases`
pub async fn list(
    state: &AppState,
    request: &RequestParts,
) -> Result<warp::reply::Response, ApiError> {
    let asked = page_request(request)?;
    let wanted = match request.query("state") {
        Some(text) => Some(
            text.parse::<ReleaseState>()
                .map_err(|error| ApiError::bad_request(error.to_string()))?,
        ),
        None => None,
    };
    let filters: Vec<_> = wanted
        .map(|wanted| ("state", wanted.as_str().to_owned()))
        .into_iter()
        .collect();
    let page = filtered_page::<Release>(state, asked, &filters).await?;
    let shown = gather(state, &page.items).await?;
    let urls = Urls::new(state, request);
    Ok(paginated(&urls, request, asked, &page, |release| {
        show(&urls, release, &shown)
    }))
}

/// `GET /releases/<id>`
pub async fn get(
    state: &AppState,
    request: &RequestParts,
    id: &str,
) -> Result<warp::reply::Response, ApiError> {
    answer_release(state, request, id, StatusCode::OK).await
}

/// What a new release is made of, read from a body's fields: `name` (required),
/// `description`, `author`, `is_major`, `tags` and `studies`. The console's form is read
/// through it too, so both are checked alike.
pub(crate) fn new_release(fields: &Map<String, Value>) -> Result<NewRelease, ApiError> {
    Ok(NewRelease {
        name: required_string(fields, "name")?,
        description: string_field(fields, "description")?.unwrap_or_default(),
        author: string_field(fields, "author")?.unwrap_or_default(),
        is_major: bool_field(fields, "is_major")?.unwrap_or(false),
        tags: string_list_field(fields, "tags")?.unwrap_or_default(),
        studies: string_list_field(fields, "studies")?.unwrap_or_default(),
    })
}

/// Starts a release: one task per enabled task service, initializing (study ids are
/// checked by the store). Studies not kept yet are mirrored from the data service first (one
/// it does not know is refused); without one they are made with their ids as names. The API
/// and the console both start releases here.
pub(crate) async fn start_release(state: &AppState, new: &NewRelease) -> Result<Release, ApiError> {
    mirror_named_studies(
        &state.store,
        state.releases.data_service.as_ref(),
        &new.studies,
    )
    .await?;
    let release = state.store.create_release(new).await?;
    tracing::info!(release = %release.kf_id, tasks = release.tasks.len(), "release created");
    Ok(release)
}

/// `POST /releases`: a release with one task per enabled task service, initializing.
pub async fn create(
    state: &AppState,
    request: &RequestParts,
) -> Result<warp::reply::Response, ApiError> {
    let new = new_release(&body_object(request)?)?;
    let release = start_release(state, &new).await?;
    answer_release(state, request, &release.kf_id, StatusCode::OK).await
}

/// `PATCH /releases/<id>`: name, description, author, tags.
pub async fn update(
    state: &AppState,
    request: &RequestParts,
    id: &str,
) -> Result<warp::reply::Response, ApiError> {
    let fields = body_object(request)?;
    find(state, id).await?;
    let mut changes = Vec::new();
    for name in ["name", "description", "author"] {
        if let Some(value) = string_field(&fields, name)? {
            changes.push((name, value));
        }
    }
    if let Some(tags) = string_list_field(&fields, "tags")? {
        changes.push(("tags", field_value(&tags)));
    }
    state
        .store
        .update_release_record::<Release>(id, &changes)
        .await?;
    answer_release(state, request, id, StatusCode::OK).await
}

/// Starts publishing release `id`: refused (400) unless it is `staged`. The API and the
/// console both publish here.
pub(crate) async fn publish_release(state: &AppState, id: &str) -> Result<(), ApiError> {
    let outcome = state.store.publish_release(id).await?;
    match outcome.result {
        StepResult::Missing => Err(not_found(Collection::Releases, id)),
        StepResult::Refused => Err(ApiError::bad_request(format!(
            "release {id} is {}: only a staged release can be published",
            outcome.previous
        ))),
        StepResult::Changed | StepResult::Same => {
            tracing::info!(release = %id, "release publishing");
            Ok(())
        }
    }
}

/// `POST /releases/<id>/publish`: only from `staged`.
pub async fn publish(state: &AppState, id: &str) -> Result<warp::reply::Response, ApiError> {
    publish_release(state, id).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"message": "publishing"}),
    ))
}

/// Cancels release `id`: refused (400) once it has finished. The API and the console both
/// cancel here.
pub(crate) async fn cancel_release(state: &AppState, id: &str) -> Result<(), ApiError> {
    let outcome = state.store.cancel_release(id).await?;
    match outcome.result {
        StepResult::Missing => Err(not_found(Collection::Releases, id)),
        StepResult::Refused => Err(ApiError::bad_request(format!(
            "release {id} is {} and can no longer be canceled",
            outcome.previous
        ))),
        StepResult::Changed | StepResult::Same => {
            tracing::info!(release = %id, "release canceling");
            Ok(())
        }
    }
}

/// `DELETE /releases/<id>`: cancels an unfinished release.
pub async fn cancel(
    state: &AppState,
    request: &RequestParts,
    id: &str,
) -> Result<warp::reply::Response, ApiError> {
    cancel_release(state, id).await?;
    answer_release(state, request, id, StatusCode::OK).await
}

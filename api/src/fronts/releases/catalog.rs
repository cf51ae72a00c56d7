//! `/events`, `/release-notes` and `/studies`: the records around releases.

use common::releases::IdKind;
use common::releases::records::{Event, Release, ReleaseNote, Study, Task, TaskService};
use common::store::releases::records::Record;
use common::time::now_ms;
use serde_json::{Map, Value};
use warp::http::StatusCode;

use super::reply::{
    Urls, body_object, deleted, event_json, filtered_page, id_filters, json_response, not_found,
    note_json, page_request, paginated, required_string, string_field, study_json,
};
use super::route::Collection;
use crate::error::ApiError;
use crate::request::RequestParts;
use crate::state::AppState;

/// An optional reference field that must name an existing record of `R`.
async fn reference<R: common::store::releases::records::Record>(
    state: &AppState,
    fields: &Map<String, Value>,
    name: &str,
    collection: Collection,
) -> Result<Option<String>, ApiError> {
    let Some(id) = string_field(fields, name)?.filter(|id| !id.is_empty()) else {
        return Ok(None);
    };
    if state.store.release_record::<R>(&id).await?.is_none() {
        return Err(ApiError::bad_request(format!(
            "'{name}': {}",
            not_found(collection, &id)
        )));
    }
    Ok(Some(id))
}

/// `GET /events`
pub async fn list_events(
    state: &AppState,
    request: &RequestParts,
) -> Result<warp::reply::Response, ApiError> {
    let asked = page_request(request)?;
    let page = filtered_page::<Event>(state, asked, &id_filters(request, Event::INDEXED)).await?;
    let urls = Urls::new(state, request);
    Ok(paginated(&urls, request, asked, &page, |event| {
        event_json(&urls, event)
    }))
}

/// `GET /events/<id>`
pub async fn get_event(
    state: &AppState,
    request: &RequestParts,
    id: &str,
) -> Result<warp::reply::Response, ApiError> {
    let event = state
        .store
        .release_record::<Event>(id)
        .await?
        .ok_or_else(|| not_found(Collection::Events, id))?;
    Ok(json_response(
        StatusCode::OK,
        &event_json(&Urls::new(state, request), &event),
    ))
}

/// `POST /events`
pub async fn create_event(
    state: &AppState,
    request: &RequestParts,
) -> Result<warp::reply::Response, ApiError> {
    let fields = body_object(request)?;
    let event_type = string_field(&fields, "event_type")?.unwrap_or_else(|| "info".into());
    if !["info", "warning", "error"].contains(&event_type.as_str()) {
        return Err(ApiError::bad_request(format!(
            "'event_type' must be info, warning or error (got '{event_type}')"
        )));
    }
    let event = Event {
        kf_id: IdKind::Event.new_id(),
        event_type,
        message: required_string(&fields, "message")?,
        release: reference::<Release>(state, &fields, "release", Collection::Releases).await?,
        task: reference::<Task>(state, &fields, "task", Collection::Tasks).await?,
        task_service: reference::<TaskService>(
            state,
            &fields,
            "task_service",
            Collection::Services,
        )
        .await?,
        study: reference::<Study>(state, &fields, "study", Collection::Studies).await?,
        created_ms: now_ms(),
    };
    state.store.insert_release_record(&event).await?;
    Ok(json_response(
        StatusCode::OK,
        &event_json(&Urls::new(state, request), &event),
    ))
}

/// `DELETE /events/<id>`
pub async fn delete_event(state: &AppState, id: &str) -> Result<warp::reply::Response, ApiError> {
    if state.store.delete_release_record::<Event>(id).await? {
        Ok(deleted(Collection::Events, id))
    } else {
        Err(not_found(Collection::Events, id))
    }
}

/// `GET /release-notes`
pub async fn list_notes(
    state: &AppState,
    request: &RequestParts,
) -> Result<warp::reply::Response, ApiError> {
    let asked = page_request(request)?;
    let page =
        filtered_page::<ReleaseNote>(state, asked, &id_filters(request, ReleaseNote::INDEXED))
            .await?;
    let urls = Urls::new(state, request);
    Ok(paginated(&urls, request, asked, &page, |note| {
        note_json(&urls, note)
    }))
}

async fn find_note(state: &AppState, id: &str) -> Result<ReleaseNote, ApiError> {
    state
        .store
        .release_record::<ReleaseNote>(id)
        .await?
        .ok_or_else(|| not_found(Collection::Notes, id))
}

/// `GET /release-notes/<id>`
pub async fn get_note(
    state: &AppState,
    request: &RequestParts,
    id: &str,
) -> Result<warp::reply::Response, ApiError> {
    let note = find_note(state, id).await?;
    Ok(json_response(
        StatusCode::OK,
        &note_json(&Urls::new(state, request), &note),
    ))
}

/// `POST /release-notes`
pub async fn create_note(
    state: &AppState,
    request: &RequestParts,
) -> Result<warp::reply::Response, ApiError> {
    let fields = body_object(request)?;
    required_string(&fields, "release")?;
    let note = ReleaseNote {
        kf_id: IdKind::Note.new_id(),
        description: required_string(&fields, "description")?,
        author: string_field(&fields, "author")?.unwrap_or_default(),
        release: reference::<Release>(state, &fields, "release", Collection::Releases)
            .await?
            .unwrap_or_default(),
        study: reference::<Study>(state, &fields, "study", Collection::Studies).await?,
        created_ms: now_ms(),
    };
    state.store.insert_release_record(&note).await?;
    Ok(json_response(
        StatusCode::OK,
        &note_json(&Urls::new(state, request), &note),
    ))
}

/// `PATCH /release-notes/<id>`
pub async fn update_note(
    state: &AppState,
    request: &RequestParts,
    id: &str,
) -> Result<warp::reply::Response, ApiError> {
    let fields = body_object(request)?;
    find_note(state, id).await?;
    let mut changes = Vec::new();
    for name in ["description", "author"] {
        if let Some(value) = string_field(&fields, name)? {
            changes.push((name, value));
        }
    }
    if let Some(release) =
        reference::<Release>(state, &fields, "release", Collection::Releases).await?
    {
        changes.push(("release", release));
    }
    if let Some(study) = reference::<Study>(state, &fields, "study", Collection::Studies).await? {
        changes.push(("study", study));
    }
    state
        .store
        .update_release_record::<ReleaseNote>(id, &changes)
        .await?;
    get_note(state, request, id).await
}

/// `DELETE /release-notes/<id>`
pub async fn delete_note(state: &AppState, id: &str) -> Result<warp::reply::Response, ApiError> {
    if state.store.delete_release_record::<ReleaseNote>(id).await? {
        Ok(deleted(Collection::Notes, id))
    } else {
        Err(not_found(Collection::Notes, id))
    }
}

/// `GET /studies`
pub async fn list_studies(
    state: &AppState,
    request: &RequestParts,
) -> Result<warp::reply::Response, ApiError> {
    let asked = page_request(request)?;
    let page = filtered_page::<Study>(state, asked, &[]).await?;
    Ok(paginated(
        &Urls::new(state, request),
        request,
        asked,
        &page,
        study_json,
    ))
}

/// `GET /studies/<id>`
pub async fn get_study(state: &AppState, id: &str) -> Result<warp::reply::Response, ApiError> {
    let study = state
        .store
        .release_record::<Study>(id)
        .await?
        .ok_or_else(|| not_found(Collection::Studies, id))?;
    Ok(json_response(StatusCode::OK, &study_json(&study)))
}

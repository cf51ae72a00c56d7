//! `/ui/releases/{id}`: a release's tasks (each service's state and progress), its events as
//! a timeline and its notes, polled until it reaches a final state, and its Publish and
//! Cancel buttons, which go through the releases front's own publish and cancel.

use std::collections::HashMap;

use askama::Template;
use common::releases::ReleaseState;
use common::releases::records::{Event, Release, ReleaseNote, Task};
use warp::http::StatusCode;

use super::progress::{release_percent, task_percent};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::fronts::console::form::Form;
use crate::fronts::console::html::{
    Chrome, clock, datetime, final_fragment, page, page_with_status, see_other,
};
use crate::fronts::releases::lifecycle::{cancel_release, publish_release};
use crate::state::AppState;

/// Most events shown: the latest.
const EVENTS_SHOWN: usize = 200;
/// Most notes shown: the first.
const NOTES_SHOWN: usize = 100;

/// A task as the release's page shows it.
#[derive(Debug, Clone)]
struct TaskRow {
    id: String,
    service: String,
    service_id: String,
    state: &'static str,
    percent: Option<u8>,
    reported: u8,
    updated: String,
}

/// An event of the timeline.
#[derive(Debug, Clone)]
struct EventRow {
    kind: String,
    message: String,
    service: String,
    at: String,
    at_full: String,
}

/// A release note.
#[derive(Debug, Clone)]
struct NoteRow {
    description: String,
    author: String,
    study: String,
    created: String,
}

/// The live part of a release's page.
#[derive(Debug, Clone)]
struct ReleaseLive {
    id: String,
    name: String,
    state: &'static str,
    finished: bool,
    version: String,
    percent: Option<u8>,
    tasks: Vec<TaskRow>,
    events: Vec<EventRow>,
    notes: Vec<NoteRow>,
    can_publish: bool,
    can_cancel: bool,
    csrf: String,
}

#[derive(Template)]
#[template(path = "console/releases/release.html")]
struct ReleasePage {
    chrome: Chrome,
    description: String,
    author: String,
    created: String,
    is_major: bool,
    studies: Vec<String>,
    tags: Vec<String>,
    problem: Option<String>,
    live: ReleaseLive,
}

#[derive(Template)]
#[template(path = "console/releases/release_live.html")]
struct ReleaseLiveFragment {
    live: ReleaseLive,
}

async fn find(state: &AppState, id: &str) -> Result<Release, ApiError> {
    state
        .store
        .release_record::<Release>(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no release '{id}'")))
}

/// The latest [`EVENTS_SHOWN`] events of a release, oldest first.
async fn latest_events(state: &AppState, id: &str) -> Result<Vec<Event>, ApiError> {
    let filter = [("release", id)];
    let count = state
        .store
        .list_release_records::<Event>(&filter, 0, 0)
        .await?
        .count;
    Ok(state
        .store
        .list_release_records::<Event>(&filter, count.saturating_sub(EVENTS_SHOWN), EVENTS_SHOWN)
        .await?
        .items)
}

/// True when `state` is one a release may still be canceled from (as the store's cancel
/// accepts it, less `canceling`, which is under way already).
fn cancelable(state: ReleaseState) -> bool {
    !state.is_finished() && state != ReleaseState::Canceling
}

async fn release_live(
    state: &AppState,
    caller: &Caller,
    release: &Release,
) -> Result<ReleaseLive, ApiError> {
    let tasks: Vec<Task> = state.store.release_tasks(release).await?;
    let services: HashMap<&str, &str> = tasks
        .iter()
        .map(|task| (task.kf_id.as_str(), task.service_name.as_str()))
        .collect();
    let events = latest_events(state, &release.kf_id).await?;
    let notes = state
        .store
        .list_release_records::<ReleaseNote>(&[("release", &release.kf_id)], 0, NOTES_SHOWN)
        .await?
        .items;
    let states: Vec<_> = tasks
        .iter()
        .map(|task| (task.state, task.progress))
        .collect();
    let can_write = super::can_write(caller);
    Ok(ReleaseLive {
        id: release.kf_id.clone(),
        name: release.name.clone(),
        state: release.state.as_str(),
        finished: release.state.is_finished(),
        version: release.version.clone(),
        percent: release_percent(release.state, &states),
        tasks: tasks
            .iter()
            .map(|task| TaskRow {
                id: task.kf_id.clone(),
                service: task.service_name.clone(),
                service_id: task.task_service.clone(),
                state: task.state.as_str(),
                percent: task_percent(task.state, task.progress),
                reported: task.progress,
                updated: datetime(task.updated_ms),
            })
            .collect(),
        events: events
            .into_iter()
            .map(|event| EventRow {
                service: event
                    .task
                    .as_deref()
                    .and_then(|task| services.get(task))
                    .map(|name| (*name).to_owned())
                    .unwrap_or_default(),
                kind: event.event_type,
                message: event.message,
                at: clock(event.created_ms),
                at_full: datetime(event.created_ms),
            })
            .collect(),
        notes: notes
            .into_iter()
            .map(|note| NoteRow {
                description: note.description,
                author: note.author,
                study: note.study.unwrap_or_default(),
                created: datetime(note.created_ms),
            })
            .collect(),
        can_publish: can_write && release.state == ReleaseState::Staged,
        can_cancel: can_write && cancelable(release.state),
        csrf: super::csrf_of(caller),
    })
}

async fn release_page(
    state: &AppState,
    caller: &Caller,
    id: &str,
    query: &Form,
    problem: Option<String>,
    status: StatusCode,
) -> Result<warp::reply::Response, ApiError> {
    let release = find(state, id).await?;
    let live = release_live(state, caller, &release).await?;
    page_with_status(
        &ReleasePage {
            chrome: Chrome::new(caller, format!("Release {}", release.name), "releases")
                .with_notice(super::notice(query)),
            description: release.description,
            author: release.author,
            created: datetime(release.created_ms),
            is_major: release.is_major,
            studies: release.studies,
            tags: release.tags,
            problem,
            live,
        },
        status,
    )
}

/// `GET /ui/releases/{id}`.
pub async fn page_of_release(
    state: &AppState,
    caller: &Caller,
    id: &str,
    query: &Form,
) -> Result<warp::reply::Response, ApiError> {
    release_page(state, caller, id, query, None, StatusCode::OK).await
}

/// `GET /ui/releases/{id}/live`: the state, tasks, events and notes, polled until the release
/// reaches a final state (answered with 286 then, which stops htmx polling).
pub async fn live(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<warp::reply::Response, ApiError> {
    let release = find(state, id).await?;
    let fragment = ReleaseLiveFragment {
        live: release_live(state, caller, &release).await?,
    };
    if release.state.is_finished() {
        final_fragment(&fragment)
    } else {
        page(&fragment)
    }
}

/// Shows the release's page again with a refused action's reason (400), or passes any other
/// error on.
async fn refused(
    state: &AppState,
    caller: &Caller,
    id: &str,
    error: ApiError,
) -> Result<warp::reply::Response, ApiError> {
    match error {
        ApiError::BadRequest { .. } => {
            release_page(
                state,
                caller,
                id,
                &Form::default(),
                Some(error.to_string()),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        other => Err(other),
    }
}

/// `POST /ui/releases/{id}/publish`: only a staged release.
pub async fn publish(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<warp::reply::Response, ApiError> {
    match publish_release(state, id).await {
        Ok(()) => Ok(see_other(&format!("/ui/releases/{id}?done=publishing"))),
        Err(error) => refused(state, caller, id, error).await,
    }
}

/// `POST /ui/releases/{id}/cancel`: only an unfinished release.
pub async fn cancel(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<warp::reply::Response, ApiError> {
    match cancel_release(state, id).await {
        Ok(()) => Ok(see_other(&format!("/ui/releases/{id}?done=canceling"))),
        Err(error) => refused(state, caller, id, error).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unfinished_releases_not_already_canceling_offer_cancel() {
        use ReleaseState::*;
        for state in [
            Waiting,
            Initializing,
            Initialized,
            Running,
            Staged,
            Publishing,
        ] {
            assert!(cancelable(state), "{state}");
        }
        for state in [Canceling, Canceled, Failed, Published] {
            assert!(!cancelable(state), "{state}");
        }
    }
}

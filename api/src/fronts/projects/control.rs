//! Project control, as Orchestra's project-management API has it (under
//! `/orchestra/api/interface/project_management/`, `projects.manage`): ending a project and
//! pausing or resuming it; and what a paused project means to the people's task API: its
//! human tasks are neither listed as available nor claimed by id.
//!
//! Errors are Orchestra's: an unknown project is a 400 `Project not found for the given id.`,
//! a status other than `paused` or `active` a 400 `Invalid project status.`.

use std::collections::HashSet;

use common::store::projects::control::{EndProject, ProjectState, SetProjectState};
use serde_json::{Map, Value, json};

use super::reply::{body_object, integer_id, ok};
use super::tasks::HumanTask;
use crate::error::ApiError;
use crate::request::RequestParts;
use crate::state::AppState;

/// Orchestra's answer for an unknown project.
const PROJECT_NOT_FOUND: &str = "Project not found for the given id.";

/// Orchestra's answer for a status other than `paused` or `active`.
const INVALID_STATUS: &str = "Invalid project status.";

/// The `project_id` of a body.
fn project_id(body: &Map<String, Value>) -> Result<u64, ApiError> {
    match body.get("project_id") {
        None | Some(Value::Null) => Err(ApiError::bad_request("'project_id' is required")),
        Some(id) => integer_id(id, "project_id"),
    }
}

/// `POST .../project_management/end_project` with `{"project_id": N}`: ends the project: its
/// run is canceled (its unfinished tasks are aborted) and its status is `aborted`. Ending it
/// again answers the same; a completed project cannot be ended (400).
pub async fn end_project(
    state: &AppState,
    request: &RequestParts,
) -> Result<warp::reply::Response, ApiError> {
    let id = project_id(&body_object(request)?)?;
    match state.store.end_project(id).await? {
        EndProject::Missing => Err(ApiError::bad_request(PROJECT_NOT_FOUND)),
        EndProject::Completed => Err(ApiError::bad_request(format!(
            "Project {id} is completed: there is nothing left to end."
        ))),
        EndProject::Aborted { .. } => Ok(ok(&json!({
            "project_id": id,
            "status": ProjectState::Aborted.as_str(),
            "success": true,
        }))),
    }
}

/// `POST .../project_management/set_project_status` with `{"project_id": N, "status":
/// "paused" | "active"}`: pauses or resumes the project; `{"status": ..., "success": true}`.
/// A completed or aborted project keeps its status (400).
pub async fn set_project_status(
    state: &AppState,
    request: &RequestParts,
) -> Result<warp::reply::Response, ApiError> {
    let body = body_object(request)?;
    let id = project_id(&body)?;
    let paused = match body.get("status").and_then(Value::as_str) {
        Some("paused") => true,
        Some("active") => false,
        _ => return Err(ApiError::bad_request(INVALID_STATUS)),
    };
    match state.store.set_project_state(id, paused).await? {
        SetProjectState::Missing => Err(ApiError::bad_request(PROJECT_NOT_FOUND)),
        SetProjectState::Completed => Err(ApiError::bad_request(format!(
            "Project {id} is completed: it can no longer be paused or resumed."
        ))),
        SetProjectState::Aborted => Err(ApiError::bad_request(format!(
            "Project {id} is aborted: it can no longer be paused or resumed."
        ))),
        SetProjectState::Set(_) => {
            let status = if paused { "paused" } else { "active" };
            Ok(ok(&json!({"status": status, "success": true})))
        }
    }
}

/// The `tasks` whose projects offer them to people: those of paused (or ended) projects are
/// left out. One round trip.
pub(crate) async fn offered(
    state: &AppState,
    tasks: Vec<HumanTask>,
) -> Result<Vec<HumanTask>, ApiError> {
    let mut ids: Vec<u64> = tasks.iter().map(|task| task.project.id).collect();
    ids.sort_unstable();
    ids.dedup();
    let states = state.store.project_statuses(&ids).await?;
    let withheld: HashSet<u64> = ids
        .into_iter()
        .zip(states)
        .filter(|(_, project)| project.is_some_and(ProjectState::withholds_tasks))
        .map(|(id, _)| id)
        .collect();
    Ok(tasks
        .into_iter()
        .filter(|task| !withheld.contains(&task.project.id))
        .collect())
}

/// Refuses (409) to let a person claim `task` while its project is paused.
pub(crate) async fn refuse_if_paused(state: &AppState, task: &HumanTask) -> Result<(), ApiError> {
    let project = state
        .store
        .project_statuses(&[task.project.id])
        .await?
        .pop()
        .flatten();
    if project == Some(ProjectState::Paused) {
        return Err(ApiError::Conflict(format!(
            "task {} belongs to project {}, which is paused: its tasks are offered again once \
             it is resumed",
            task.id(),
            task.project.id
        )));
    }
    Ok(())
}

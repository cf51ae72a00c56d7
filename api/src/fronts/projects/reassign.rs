//! Who holds a human task: the person holding one may give it up
//! (`POST /orchestra/api/tasks/<id>/release`, `projects.work`), and a manager
//! (`projects.manage`) may assign a waiting task to a person or move a claimed one to another,
//! with Orchestra's project-management routes (`assign_task`, `reassign_assignment`). A person
//! is named by their key id (Orchestra's `worker_username`); a key that does not exist or was
//! revoked is Orchestra's 400 `Worker not found for the given username.`, one without
//! `projects.work` (which could not save or submit) a 400 too.
//!
//! A manager may assign a task of a paused project: pausing keeps tasks from being offered,
//! not from being given to someone on purpose.

use common::auth::permissions::{Permission, grants};
use common::engine::model::TaskStatus;
use common::store::projects::human::HumanClaim;
use common::store::projects::reassign::HolderChange;
use serde_json::{Map, Value, json};

use super::reply::{body_object, integer_id, ok, path_id};
use super::tasks::{HumanTask, find_task};
use super::view::{is_human, task_status};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::request::RequestParts;
use crate::state::AppState;

/// Orchestra's answer for an unknown worker.
const WORKER_NOT_FOUND: &str = "Worker not found for the given username.";

/// The answer for an unknown task on the project-management routes (Orchestra's are 400s).
const TASK_NOT_FOUND: &str = "Task not found for the given id.";

/// The answer for an unknown assignment.
const ASSIGNMENT_NOT_FOUND: &str = "Assignment not found for the given id.";

/// `POST /orchestra/api/tasks/<id>/release`: the caller gives up a task they claimed and have
/// not submitted; it waits for anyone again (listed as available, claimable by all). 403 when
/// someone else holds it, 409 when nobody does or it is submitted, in review or finished.
pub async fn release(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<warp::reply::Response, ApiError> {
    let task_id = path_id(id, "task")?;
    let found = find_task(state, task_id).await?;
    if !is_human(found.task()) {
        return Err(machine_step(task_id));
    }
    let person = &caller.key.id;
    let change = state
        .store
        .release_human_task(
            &found.project.run_id,
            found.index,
            person,
            (&found.task().queue, found.record.priority),
        )
        .await?;
    match change {
        HolderChange::Released { .. } => {
            tracing::info!(project = found.project.id, task = task_id, person = %person, "human task released");
            Ok(ok(&json!({
                "task_id": task_id,
                "status": task_status(TaskStatus::Queued),
            })))
        }
        HolderChange::NotYours(_) => Err(ApiError::Forbidden(format!(
            "task {task_id} is claimed by someone else"
        ))),
        HolderChange::NotClaimed(_) => Err(ApiError::Conflict(format!(
            "task {task_id} is not claimed: there is nothing to release"
        ))),
        other => Err(refused(task_id, other)),
    }
}

/// `POST .../project_management/assign_task` with `{"worker_username": KEY, "task_id": N}`:
/// gives a waiting human task to that person, as their claim would (assigning it again to
/// them answers the same). 409 when someone else holds it or it waits for nobody.
pub async fn assign_task(
    state: &AppState,
    request: &RequestParts,
) -> Result<warp::reply::Response, ApiError> {
    let body = body_object(request)?;
    let worker = worker(state, &body).await?;
    let task_id = required_id(&body, "task_id")?;
    let found = find_task(state, task_id)
        .await
        .map_err(not_found_as(TASK_NOT_FOUND))?;
    if !is_human(found.task()) {
        return Err(machine_step(task_id));
    }
    let claim = state
        .store
        .claim_human_task(&found.project.run_id, found.index, &worker)
        .await?;
    let refusal = match claim {
        HumanClaim::Claimed(_) | HumanClaim::Yours => None,
        HumanClaim::Missing => Some(ApiError::bad_request(TASK_NOT_FOUND)),
        HumanClaim::Machine => Some(machine_step(task_id)),
        HumanClaim::Taken(holder) => Some(ApiError::Conflict(format!(
            "task {task_id} is already claimed by {holder}: reassign its assignment {} instead",
            found.project.assignment_id(found.index)
        ))),
        HumanClaim::NotWaiting(TaskStatus::Pending) => Some(ApiError::Conflict(format!(
            "task {task_id} is not ready: the steps before it have not finished"
        ))),
        HumanClaim::NotWaiting(TaskStatus::Queued) => Some(ApiError::Conflict(format!(
            "task {task_id} cannot be assigned now (its job is being read); try again"
        ))),
        HumanClaim::NotWaiting(TaskStatus::Running) => Some(ApiError::Conflict(format!(
            "task {task_id} is already submitted"
        ))),
        HumanClaim::NotWaiting(status) => Some(ApiError::Conflict(format!(
            "task {task_id} is {}: it takes no more work",
            task_status(status)
        ))),
    };
    if let Some(error) = refusal {
        return Err(error);
    }
    tracing::info!(project = found.project.id, task = task_id, worker = %worker, "human task assigned");
    Ok(ok(&assigned(&found, &worker)))
}

/// `POST .../project_management/reassign_assignment` with `{"worker_username": KEY,
/// "assignment_id": N}`: moves a claimed human task, not submitted nor in review, to that
/// person (to its holder: nothing changes). 409 when nobody holds it or it is submitted, in
/// review or finished.
pub async fn reassign_assignment(
    state: &AppState,
    request: &RequestParts,
) -> Result<warp::reply::Response, ApiError> {
    let body = body_object(request)?;
    let worker = worker(state, &body).await?;
    let assignment_id = required_id(&body, "assignment_id")?;
    let (project, index) = state
        .store
        .assignment_task(assignment_id)
        .await?
        .ok_or_else(|| ApiError::bad_request(ASSIGNMENT_NOT_FOUND))?;
    let found = find_task(state, project.task_id(index))
        .await
        .map_err(not_found_as(ASSIGNMENT_NOT_FOUND))?;
    let task_id = found.id();
    if !is_human(found.task()) {
        return Err(ApiError::bad_request(format!(
            "assignment {assignment_id} is a machine step's: nobody works on it"
        )));
    }
    let change = state
        .store
        .reassign_human_task(
            &found.project.run_id,
            found.index,
            &worker,
            (&found.task().queue, found.record.priority),
        )
        .await?;
    match change {
        HolderChange::Reassigned | HolderChange::Same => {
            tracing::info!(project = found.project.id, task = task_id, assignment = assignment_id, worker = %worker, "assignment reassigned");
            Ok(ok(&assigned(&found, &worker)))
        }
        HolderChange::NotClaimed(_) => Err(ApiError::Conflict(format!(
            "task {task_id} is not claimed: give it with assign_task instead"
        ))),
        other => Err(refused(task_id, other)),
    }
}

/// What assigning `task` to `worker` answers.
fn assigned(task: &HumanTask, worker: &str) -> Value {
    json!({
        "task_id": task.id(),
        "assignment_id": task.project.assignment_id(task.index),
        "worker_username": worker,
        "success": true,
    })
}

/// The person a manager names (`worker_username`): an existing, unrevoked key that may work
/// on human tasks.
async fn worker(state: &AppState, body: &Map<String, Value>) -> Result<String, ApiError> {
    let name = match body.get("worker_username") {
        Some(Value::String(name)) if !name.is_empty() => name,
        None | Some(Value::Null) => {
            return Err(ApiError::bad_request("'worker_username' is required"));
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "'worker_username' must be a key id, not {other}"
            )));
        }
    };
    let key = state
        .store
        .api_key(name)
        .await?
        .filter(|key| key.revoked_ms.is_none())
        .ok_or_else(|| ApiError::bad_request(WORKER_NOT_FOUND))?;
    if !grants(&key.permissions, Permission::ProjectsWork) {
        return Err(ApiError::bad_request(format!(
            "Worker not certified for this task: key '{}' lacks {}.",
            key.id,
            Permission::ProjectsWork
        )));
    }
    Ok(key.id)
}

/// The integer id `name` of a body, required.
fn required_id(body: &Map<String, Value>, name: &str) -> Result<u64, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Err(ApiError::bad_request(format!("'{name}' is required"))),
        Some(id) => integer_id(id, name),
    }
}

/// Turns a 404 into Orchestra's 400 `message`, for the project-management routes.
fn not_found_as(message: &'static str) -> impl Fn(ApiError) -> ApiError {
    move |error| match error {
        ApiError::NotFound(_) => ApiError::bad_request(message),
        other => other,
    }
}

/// The error for a machine step named where a human one is needed.
fn machine_step(task_id: u64) -> ApiError {
    ApiError::bad_request(format!(
        "task {task_id} is a machine step: nobody works on it"
    ))
}

/// The error for a change of holder the task's state refused.
fn refused(task_id: u64, change: HolderChange) -> ApiError {
    match change {
        HolderChange::Missing => ApiError::NotFound(format!("task {task_id} not found")),
        HolderChange::Machine => machine_step(task_id),
        HolderChange::Submitted => ApiError::Conflict(format!(
            "task {task_id} is already submitted: it stays with its holder"
        )),
        HolderChange::InReview(review) => ApiError::Conflict(format!(
            "task {task_id} is in review ({review}): it stays with its holder"
        )),
        HolderChange::Closed(status) => ApiError::Conflict(format!(
            "task {task_id} is {}: it takes no more work",
            task_status(status)
        )),
        HolderChange::NotClaimed(_) => ApiError::Conflict(format!("task {task_id} is not claimed")),
        HolderChange::NotYours(_)
        | HolderChange::Touched
        | HolderChange::Released { .. }
        | HolderChange::Reassigned
        | HolderChange::Same => {
            ApiError::Conflict(format!("task {task_id} changed meanwhile; try again"))
        }
    }
}

//! The human-task API: people (keys with `projects.work`) list the human tasks waiting for
//! someone, claim the next one, save their work in progress and submit it. A person is named
//! by their key id: it is their consumer name on the human queue and the assignment's worker.

use std::collections::HashSet;

use common::model::{QueueName, TaskStatus};
use common::store::projects::human::HumanWork;
use common::store::projects::{ProjectRef, ProjectRun};
use common::time::now_ms;
use serde_json::{Map, Value, json};

use super::reply::{body_object, ok, path_id};
use super::view::{assignment_json, is_human, snapshot, task_status};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::request::RequestParts;
use crate::state::AppState;

/// Default and largest number of tasks `available` lists.
const AVAILABLE_DEFAULT: usize = 100;
const AVAILABLE_MAX: usize = 500;

/// The human queue asked for (`human` by default).
fn human_queue(name: Option<&str>) -> Result<QueueName, ApiError> {
    let Some(name) = name else {
        return Ok(QueueName::human());
    };
    let queue = QueueName::parse(name).map_err(|error| ApiError::bad_request(error.to_string()))?;
    if queue.is_human() {
        Ok(queue)
    } else {
        Err(ApiError::bad_request(format!(
            "queue '{queue}' is not a human queue: use 'human' or 'human.NAME'"
        )))
    }
}

/// The project a run belongs to.
fn project_of(record: &ProjectRun) -> Option<ProjectRef> {
    Some(ProjectRef {
        id: record.run.payload["project_id"].as_u64()?,
        run_id: record.run.id.clone(),
        steps: record.run.tasks.len() as u64,
    })
}

/// A human task as people see it: its project, step, priority and the results of the steps
/// it depends on (`prerequisites`, by step slug).
fn person_task_json(
    state: &AppState,
    project: &ProjectRef,
    record: &ProjectRun,
    index: usize,
) -> Value {
    let run = &record.run;
    let task = &run.tasks[index];
    let payload = &run.payload;
    let slug = payload["workflow_slug"].as_str().unwrap_or("");
    let description = state
        .projects
        .get(slug)
        .and_then(|workflow| workflow.steps.iter().find(|step| step.slug == task.key))
        .map(|step| step.description.clone())
        .unwrap_or_default();
    let prerequisites: Map<String, Value> = task
        .depends_on
        .iter()
        .filter_map(|&dep| run.tasks.get(dep))
        .map(|dep| (dep.key.clone(), dep.result.clone().unwrap_or(Value::Null)))
        .collect();
    json!({
        "id": project.task_id(index),
        "project": project.id,
        "status": task_status(task.status),
        "step_slug": task.key,
        "step_description": description,
        "workflow_slug": slug,
        "priority": payload["priority"],
        "short_description": payload["description"],
        "project_data": payload["project_data"],
        "prerequisites": prerequisites,
    })
}

/// `GET /orchestra/api/tasks/available[?queue=human&limit=100]`: human tasks nobody has
/// claimed yet, highest priority first, then oldest first.
pub async fn available(
    state: &AppState,
    request: &RequestParts,
) -> Result<warp::reply::Response, ApiError> {
    let queue = human_queue(request.query("queue").as_deref())?;
    let limit = match request.query("limit") {
        None => AVAILABLE_DEFAULT,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|limit| (1..=AVAILABLE_MAX).contains(limit))
            .ok_or_else(|| {
                ApiError::bad_request(format!("'limit' must be from 1 to {AVAILABLE_MAX}"))
            })?,
    };
    let jobs = state.store.available_human_jobs(&queue, limit).await?;
    let mut seen = HashSet::new();
    let jobs: Vec<_> = jobs
        .into_iter()
        .filter(|job| seen.insert((job.job.run_id.clone(), job.job.task)))
        .collect();
    let mut run_ids: Vec<String> = jobs.iter().map(|job| job.job.run_id.clone()).collect();
    run_ids.sort();
    run_ids.dedup();
    let records = state.store.project_runs(&run_ids).await?;
    let mut tasks = Vec::new();
    for job in &jobs {
        let Some(record) = run_ids
            .iter()
            .position(|id| *id == job.job.run_id)
            .and_then(|position| records[position].as_ref())
        else {
            continue;
        };
        let index = job.job.task as usize;
        let waiting = record
            .run
            .tasks
            .get(index)
            .is_some_and(|task| task.status == TaskStatus::Queued);
        if let (true, Some(project)) = (waiting, project_of(record)) {
            tasks.push(person_task_json(state, &project, record, index));
        }
    }
    Ok(ok(&json!({"tasks": tasks})))
}

/// `POST /orchestra/api/tasks/claim` (body optional: `{"queue": "human.NAME"}`): claims the
/// next human task for the caller; 404 when none is waiting.
pub async fn claim(
    state: &AppState,
    request: &RequestParts,
    caller: &Caller,
) -> Result<warp::reply::Response, ApiError> {
    let body = body_object(request)?;
    let queue = match body.get("queue") {
        None => human_queue(None)?,
        Some(Value::String(name)) => human_queue(Some(name))?,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "'queue' must be a string, not {other}"
            )));
        }
    };
    let person = caller.key.id.as_str();
    let job = state
        .store
        .claim_human_job(&queue, person)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!("no human task is waiting on queue '{queue}'"))
        })?;
    let record = state
        .store
        .project_runs(std::slice::from_ref(&job.job.run_id))
        .await?
        .pop()
        .flatten()
        .ok_or_else(|| ApiError::NotFound(format!("run {} not found", job.job.run_id)))?;
    let project = project_of(&record)
        .ok_or_else(|| ApiError::NotFound(format!("run {} is not a project", job.job.run_id)))?;
    let index = job.job.task as usize;
    let mut task = person_task_json(state, &project, &record, index);
    let human = record.human.get(index).cloned().unwrap_or_default();
    task["assignment"] =
        assignment_json(&project, &record.run.tasks[index], &human).unwrap_or(Value::Null);
    tracing::info!(
        project = project.id,
        task = project.task_id(index),
        person,
        "human task claimed"
    );
    Ok(ok(&json!({"task": task})))
}

/// The task's project and record, or 404.
async fn find_task(
    state: &AppState,
    task_id: u64,
) -> Result<(ProjectRef, usize, ProjectRun), ApiError> {
    let not_found = || ApiError::NotFound(format!("task {task_id} not found"));
    let (project, index) = state
        .store
        .task_project(task_id)
        .await?
        .ok_or_else(not_found)?;
    let record = state
        .store
        .project_runs(std::slice::from_ref(&project.run_id))
        .await?
        .pop()
        .flatten()
        .ok_or_else(not_found)?;
    if index >= record.run.tasks.len() {
        return Err(not_found());
    }
    Ok((project, index, record))
}

/// The `task_data` of a save or submit.
fn task_data(body: &Map<String, Value>) -> Result<Value, ApiError> {
    match body.get("task_data") {
        Some(Value::Object(data)) => Ok(Value::Object(data.clone())),
        Some(other) => Err(ApiError::bad_request(format!(
            "'task_data' must be a JSON object, not {other}"
        ))),
        None => Err(ApiError::bad_request(
            "'task_data' is required (a JSON object)",
        )),
    }
}

/// The error for work that could not be saved or submitted.
fn refused(task_id: u64, work: HumanWork) -> ApiError {
    match work {
        HumanWork::Missing => ApiError::NotFound(format!("task {task_id} not found")),
        HumanWork::Machine => ApiError::bad_request(format!(
            "task {task_id} is a machine step: nobody works on it"
        )),
        HumanWork::NotClaimed(_) => {
            ApiError::Conflict(format!("task {task_id} is not claimed: claim it first"))
        }
        HumanWork::NotYours(_) => {
            ApiError::Forbidden(format!("task {task_id} is claimed by someone else"))
        }
        HumanWork::Closed(status) => ApiError::Conflict(format!(
            "task {task_id} is {}: it takes no more work",
            if status == TaskStatus::Running {
                "submitted"
            } else {
                task_status(status)
            }
        )),
        HumanWork::Saved | HumanWork::Submitted { .. } => {
            ApiError::Conflict(format!("task {task_id} changed meanwhile; try again"))
        }
    }
}

/// `POST /orchestra/api/tasks/<id>/save` with `{"task_data": {...}}`: stores the caller's
/// work in progress on a task they claimed.
pub async fn save(
    state: &AppState,
    request: &RequestParts,
    caller: &Caller,
    id: &str,
) -> Result<warp::reply::Response, ApiError> {
    let task_id = path_id(id, "task")?;
    let data = task_data(&body_object(request)?)?;
    let (project, index, _) = find_task(state, task_id).await?;
    match state
        .store
        .save_human_work(&project.run_id, index, &caller.key.id, &data)
        .await?
    {
        HumanWork::Saved => Ok(ok(&json!({
            "task_id": task_id,
            "status": "Processing",
            "in_progress_task_data": data,
        }))),
        other => Err(refused(task_id, other)),
    }
}

/// `POST /orchestra/api/tasks/<id>/submit` with `{"task_data": {...}, "work_time_seconds":
/// N}` (the time defaults to the time since the claim): submits the caller's work, and the
/// task finishes with it as its result. Repeating the same submission answers the same; a
/// different one is refused (409).
pub async fn submit(
    state: &AppState,
    request: &RequestParts,
    caller: &Caller,
    id: &str,
) -> Result<warp::reply::Response, ApiError> {
    let task_id = path_id(id, "task")?;
    let body = body_object(request)?;
    let data = task_data(&body)?;
    let (project, index, record) = find_task(state, task_id).await?;
    let task = &record.run.tasks[index];
    if !is_human(task) {
        return Err(refused(task_id, HumanWork::Machine));
    }
    let now = now_ms();
    let work_time_seconds = match body.get("work_time_seconds") {
        None | Some(Value::Null) => now.saturating_sub(task.started_ms.unwrap_or(now)) / 1000,
        Some(value) => value.as_u64().ok_or_else(|| {
            ApiError::bad_request(format!(
                "'work_time_seconds' must be a whole number, not {value}"
            ))
        })?,
    };
    let work = state
        .store
        .submit_human_work(
            &project.run_id,
            index,
            &caller.key.id,
            &data,
            &snapshot(&data, now, work_time_seconds),
            (&task.queue, record.run.priority),
        )
        .await?;
    match work {
        HumanWork::Submitted { data: first, again } => {
            if again && first != data {
                return Err(ApiError::Conflict(format!(
                    "task {task_id} was already submitted with other data"
                )));
            }
            if !again {
                tracing::info!(project = project.id, task = task_id, person = %caller.key.id, "human task submitted");
            }
            Ok(ok(&json!({
                "task_id": task_id,
                "status": "Submitted",
                "task_data": first,
            })))
        }
        other => Err(refused(task_id, other)),
    }
}

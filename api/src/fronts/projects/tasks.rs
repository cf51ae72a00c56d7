//! The human-task API: people (keys with `projects.work`) list the human tasks waiting for
//! someone, claim the next one (or one by id), save their work in progress and submit it. A
//! person is named by their key id: it is their consumer name on the human queue and the
//! assignment's worker.
//!
//! The use cases are functions the console's work pages call too ([`available_tasks`],
//! [`claimed_tasks`], [`claim_task`], [`save_work`], [`submit_work`]), so both check the same
//! things in the same order; a submission is checked against its step's `form` here.

use std::cmp::Reverse;
use std::collections::HashSet;

use common::engine::model::{QueueName, TaskStatus};
use common::projects::workflow::Step;
use common::store::engine::jobs::Job;
use common::store::engine::runs::TaskView;
use common::store::projects::human::{HumanClaim, HumanSubmission, HumanWork, entry_order};
use common::store::projects::tasks::ProjectTask;
use common::store::projects::{HumanRecord, ProjectRef, ReviewState};
use common::time::now_ms;
use serde_json::{Map, Value, json};

use super::reply::{body_object, integer_id, ok, path_id, query_limit, work_time_seconds};
use super::view::{
    SNAPSHOT_SUBMIT, assignment_json, human_task_status, is_human, snapshot, task_status,
};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::request::RequestParts;
use crate::state::AppState;

/// Default and largest number of tasks `available` lists.
const AVAILABLE_DEFAULT: usize = 100;
const AVAILABLE_MAX: usize = 500;

/// A human task of a project, as read for the person who may work on it.
#[derive(Debug, Clone)]
pub(crate) struct HumanTask {
    /// Its project.
    pub project: ProjectRef,
    /// The task as read, with what it shows of its project's run.
    pub record: ProjectTask,
    /// The task's step index.
    pub index: usize,
}

impl HumanTask {
    /// The task as the engine holds it.
    pub fn task(&self) -> &TaskView {
        &self.record.task
    }

    /// What people recorded on it (saved work, the submission).
    pub fn human(&self) -> &HumanRecord {
        &self.record.human
    }

    /// The task's id.
    pub fn id(&self) -> u64 {
        self.project.task_id(self.index)
    }

    /// The project's priority (Orchestra's integer, higher first).
    pub fn priority(&self) -> i64 {
        self.record.payload["priority"].as_i64().unwrap_or(0)
    }

    /// The workflow's slug.
    pub fn workflow_slug(&self) -> &str {
        self.record.payload["workflow_slug"].as_str().unwrap_or("")
    }

    /// The task's step in its loaded workflow (`None` when the workflow no longer has it).
    pub fn step<'a>(&self, state: &'a AppState) -> Option<&'a Step> {
        let key = &self.task().key;
        state
            .projects
            .get(self.workflow_slug())?
            .steps
            .iter()
            .find(|step| &step.slug == key)
    }

    /// The results of the steps it depends on, by step slug (`null` for none).
    pub fn prerequisites(&self) -> &[(String, Value)] {
        &self.record.prerequisites
    }

    /// True when `person` holds it and has not submitted it yet: theirs to work on. A task
    /// submitted for review is not, until the reviewer sends it back.
    pub fn is_open_to(&self, person: &str) -> bool {
        let human = self.human();
        self.task().status == TaskStatus::Running
            && self.task().worker.as_deref() == Some(person)
            && !human.submitted
            && matches!(human.review, None | Some(ReviewState::PostReview))
    }
}

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

/// Every human queue the loaded workflows' steps use.
pub(crate) fn human_queues(state: &AppState) -> Vec<QueueName> {
    let mut queues: Vec<QueueName> = state
        .projects
        .values()
        .flat_map(|workflow| workflow.steps.iter())
        .map(|step| step.queue.clone())
        .filter(QueueName::is_human)
        .collect();
    queues.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    queues.dedup();
    queues
}

/// The project a task's run belongs to.
fn project_of(record: &ProjectTask) -> Option<ProjectRef> {
    Some(ProjectRef {
        id: record.payload["project_id"].as_u64()?,
        run_id: record.run_id.clone(),
        steps: record.steps as u64,
    })
}

/// A human task as people see it: its project, step, priority and the results of the steps
/// it depends on (`prerequisites`, by step slug).
pub(crate) fn person_task_json(state: &AppState, task: &HumanTask) -> Value {
    let payload = &task.record.payload;
    let prerequisites: Map<String, Value> = task.prerequisites().iter().cloned().collect();
    json!({
        "id": task.id(),
        "project": task.project.id,
        "status": human_task_status(task.task(), task.human()),
        "step_slug": task.task().key,
        "step_description": task.step(state).map(|step| step.description.clone()).unwrap_or_default(),
        "workflow_slug": task.workflow_slug(),
        "priority": payload["priority"],
        "short_description": payload["description"],
        "project_data": payload["project_data"],
        "prerequisites": prerequisites,
    })
}

/// The human tasks of `jobs` that still stand as the jobs say (per `keep`), with their
/// projects, each once, in the jobs' order.
async fn tasks_of_jobs(
    state: &AppState,
    jobs: &[Job],
    keep: impl Fn(&HumanTask) -> bool,
) -> Result<Vec<HumanTask>, ApiError> {
    let tasks: Vec<(String, usize)> = jobs
        .iter()
        .map(|job| (job.job.run_id.clone(), job.job.task as usize))
        .collect();
    tasks_of(state, &tasks, keep).await
}

/// The human tasks named by `tasks` (run id, step index) that stand as `keep` wants, with
/// their projects, each once, in order.
pub(crate) async fn tasks_of(
    state: &AppState,
    tasks: &[(String, usize)],
    keep: impl Fn(&HumanTask) -> bool,
) -> Result<Vec<HumanTask>, ApiError> {
    let mut seen = HashSet::new();
    let named: Vec<(String, usize)> = tasks
        .iter()
        .filter(|task| seen.insert((*task).clone()))
        .cloned()
        .collect();
    let records = state.store.project_tasks(&named).await?;
    Ok(named
        .into_iter()
        .zip(records)
        .filter_map(|((_, index), record)| human_task(record?, index))
        .filter(|task| keep(task))
        .collect())
}

/// The human task `index` of a task read from its project's run (`None` when the run does
/// not name its project).
fn human_task(record: ProjectTask, index: usize) -> Option<HumanTask> {
    Some(HumanTask {
        project: project_of(&record)?,
        record,
        index,
    })
}

/// Reads task `index` of project run `run_id`; `None` when either is unknown.
async fn read_task(
    state: &AppState,
    run_id: &str,
    index: usize,
) -> Result<Option<HumanTask>, ApiError> {
    let record = state
        .store
        .project_tasks(&[(run_id.to_owned(), index)])
        .await?
        .pop()
        .flatten();
    Ok(record.and_then(|record| human_task(record, index)))
}

/// Human tasks of `queues` nobody has claimed yet, of projects that are not paused, highest
/// priority (the projects' integer) first, then oldest first; at most `limit`.
pub(crate) async fn available_tasks(
    state: &AppState,
    queues: &[QueueName],
    limit: usize,
) -> Result<Vec<HumanTask>, ApiError> {
    let mut jobs = Vec::new();
    for queue in queues {
        jobs.extend(state.store.available_human_jobs(queue, limit).await?);
    }
    jobs.sort_by_key(|job| entry_order(&job.entry_id));
    let tasks = tasks_of_jobs(state, &jobs, |task| {
        task.task().status == TaskStatus::Queued
    })
    .await?;
    // A paused project's tasks are not offered.
    let mut tasks = super::control::offered(state, tasks).await?;
    // Stable: among equal priorities the oldest stays first.
    tasks.sort_by_key(|task| Reverse(task.priority()));
    tasks.truncate(limit);
    Ok(tasks)
}

/// The human tasks of `queues` that `person` claimed and has not submitted, oldest first.
pub(crate) async fn claimed_tasks(
    state: &AppState,
    queues: &[QueueName],
    person: &str,
) -> Result<Vec<HumanTask>, ApiError> {
    held_tasks(state, queues, person, |task| task.is_open_to(person)).await
}

/// The human tasks of `queues` that `person` submitted for review and that wait for their
/// reviewer (or are being reviewed), oldest first.
pub(crate) async fn in_review_tasks(
    state: &AppState,
    queues: &[QueueName],
    person: &str,
) -> Result<Vec<HumanTask>, ApiError> {
    held_tasks(state, queues, person, |task| {
        task.task().status == TaskStatus::Running
            && task.task().worker.as_deref() == Some(person)
            && matches!(
                task.human().review,
                Some(ReviewState::Pending | ReviewState::Reviewing)
            )
    })
    .await
}

/// The human tasks of `queues` whose jobs are pending under `person`, oldest first, that
/// stand as `keep` wants.
async fn held_tasks(
    state: &AppState,
    queues: &[QueueName],
    person: &str,
    keep: impl Fn(&HumanTask) -> bool,
) -> Result<Vec<HumanTask>, ApiError> {
    let mut jobs = Vec::new();
    for queue in queues {
        jobs.extend(
            state
                .store
                .held_human_jobs(queue, person, AVAILABLE_MAX)
                .await?,
        );
    }
    jobs.sort_by_key(|job| entry_order(&job.entry_id));
    tasks_of_jobs(state, &jobs, keep).await
}

/// `GET /orchestra/api/tasks/available[?queue=human&limit=100]`: human tasks nobody has
/// claimed yet, highest priority first, then oldest first.
pub async fn available(
    state: &AppState,
    request: &RequestParts,
) -> Result<warp::reply::Response, ApiError> {
    let queue = human_queue(request.query("queue").as_deref())?;
    let limit = query_limit(request, AVAILABLE_DEFAULT, AVAILABLE_MAX)?;
    let tasks: Vec<Value> = available_tasks(state, std::slice::from_ref(&queue), limit)
        .await?
        .iter()
        .map(|task| person_task_json(state, task))
        .collect();
    Ok(ok(&json!({"tasks": tasks})))
}

/// Claims a human task for `person`: task `task_id`, or else the next one waiting on `queue`.
/// A task someone else holds is refused (409), one the caller holds already is theirs again;
/// so is one of a paused project (409).
pub(crate) async fn claim_task(
    state: &AppState,
    person: &str,
    task_id: Option<u64>,
    queue: &QueueName,
) -> Result<HumanTask, ApiError> {
    let (run_id, index) = match task_id {
        None => {
            let job = state
                .store
                .claim_human_job(queue, person)
                .await?
                .ok_or_else(|| {
                    ApiError::NotFound(format!("no human task is waiting on queue '{queue}'"))
                })?;
            (job.job.run_id, job.job.task as usize)
        }
        Some(task_id) => {
            let found = find_task(state, task_id).await?;
            if !found.is_open_to(person) {
                super::control::refuse_if_paused(state, &found).await?;
            }
            let refused = match state
                .store
                .claim_human_task(&found.project.run_id, found.index, person)
                .await?
            {
                HumanClaim::Claimed(_) | HumanClaim::Yours => None,
                HumanClaim::Missing => {
                    Some(ApiError::NotFound(format!("task {task_id} not found")))
                }
                HumanClaim::Machine => Some(ApiError::bad_request(format!(
                    "task {task_id} is a machine step: nobody works on it"
                ))),
                HumanClaim::Taken(_) => Some(ApiError::Conflict(format!(
                    "task {task_id} is already claimed by someone else"
                ))),
                HumanClaim::NotWaiting(TaskStatus::Pending) => Some(ApiError::Conflict(format!(
                    "task {task_id} is not ready: the steps before it have not finished"
                ))),
                HumanClaim::NotWaiting(TaskStatus::Queued) => Some(ApiError::Conflict(format!(
                    "task {task_id} cannot be claimed by id now: claim the next task instead"
                ))),
                HumanClaim::NotWaiting(TaskStatus::Running) => Some(ApiError::Conflict(format!(
                    "task {task_id} is already submitted"
                ))),
                HumanClaim::NotWaiting(status) => Some(ApiError::Conflict(format!(
                    "task {task_id} is {}: it takes no more work",
                    task_status(status)
                ))),
            };
            if let Some(error) = refused {
                return Err(error);
            }
            (found.project.run_id, found.index)
        }
    };
    let task = read_task(state, &run_id, index)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("run {run_id} is not a project's")))?;
    tracing::info!(
        project = task.project.id,
        task = task.id(),
        person,
        "human task claimed"
    );
    Ok(task)
}

/// `POST /orchestra/api/tasks/claim` (body optional: `{"task_id": N}` for that task, or
/// `{"queue": "human.NAME"}` for the next one of that queue): claims a human task for the
/// caller; 404 when none is waiting, 409 when the task asked for is someone else's.
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
    let task_id = match body.get("task_id") {
        None | Some(Value::Null) => None,
        Some(id) => Some(integer_id(id, "task_id")?),
    };
    let claimed = claim_task(state, &caller.key.id, task_id, &queue).await?;
    let mut task = person_task_json(state, &claimed);
    task["assignment"] =
        assignment_json(&claimed.project, claimed.task(), claimed.human()).unwrap_or(Value::Null);
    Ok(ok(&json!({"task": task})))
}

/// Task `task_id` with its project and record, or 404 (a machine step's too).
pub(crate) async fn find_task(state: &AppState, task_id: u64) -> Result<HumanTask, ApiError> {
    let not_found = || ApiError::NotFound(format!("task {task_id} not found"));
    let (project, index) = state
        .store
        .task_project(task_id)
        .await?
        .ok_or_else(not_found)?;
    let record = state
        .store
        .project_tasks(&[(project.run_id.clone(), index)])
        .await?
        .pop()
        .flatten()
        .ok_or_else(not_found)?;
    Ok(HumanTask {
        project,
        record,
        index,
    })
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
pub(crate) fn refused(task_id: u64, work: HumanWork) -> ApiError {
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
        HumanWork::Saved | HumanWork::Submitted { .. } | HumanWork::InReview { .. } => {
            ApiError::Conflict(format!("task {task_id} changed meanwhile; try again"))
        }
    }
}

/// Stores `data` as `person`'s work in progress on task `task_id`, which they hold.
pub(crate) async fn save_work(
    state: &AppState,
    person: &str,
    task_id: u64,
    data: &Value,
) -> Result<(), ApiError> {
    let found = find_task(state, task_id).await?;
    match state
        .store
        .save_human_work(&found.project.run_id, found.index, person, data)
        .await?
    {
        HumanWork::Saved => Ok(()),
        other => Err(refused(task_id, other)),
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
    save_work(state, &caller.key.id, task_id, &data).await?;
    Ok(ok(&json!({
        "task_id": task_id,
        "status": "Processing",
        "in_progress_task_data": data,
    })))
}

/// Submits `person`'s work `data` on task `task_id` (worked `work_time_seconds`, or the time
/// since the claim): once it passes the step's form, the task finishes with it as its result.
/// Answers the data the task was submitted with (the first submission's, for a repeat; a
/// repeat with other data is a 409). Data breaking the form is a 400 whose details name each
/// problem from `task_data` (`task_data/score: ...`).
pub(crate) async fn submit_work(
    state: &AppState,
    person: &str,
    task_id: u64,
    data: &Value,
    work_time_seconds: Option<u64>,
) -> Result<Value, ApiError> {
    let found = find_task(state, task_id).await?;
    let task = found.task();
    if !is_human(task) {
        return Err(refused(task_id, HumanWork::Machine));
    }
    // Checked only for the person holding it, so others learn nothing but that it is not theirs.
    if found.is_open_to(person)
        && let Some(form) = found.step(state).and_then(|step| step.form.as_ref())
    {
        let problems = form.problems(data);
        if !problems.is_empty() {
            return Err(ApiError::BadRequest {
                message: "the task data does not match the step's form".into(),
                details: problems,
            });
        }
    }
    let now = now_ms();
    let work_time_seconds = work_time_seconds
        .unwrap_or_else(|| now.saturating_sub(task.started_ms.unwrap_or(now)) / 1000);
    let submission = HumanSubmission {
        review: found.step(state).is_some_and(|step| step.review),
        project_priority: found.priority(),
        job: (&task.queue, found.record.priority),
    };
    let snapshot = snapshot(data, now, work_time_seconds, SNAPSHOT_SUBMIT);
    let work = state
        .store
        .submit_human_work(
            &found.project.run_id,
            found.index,
            person,
            (data, &snapshot),
            submission,
        )
        .await?;
    match work {
        HumanWork::InReview { data: first, again } => {
            if again && &first != data {
                return Err(ApiError::Conflict(format!(
                    "task {task_id} was already submitted for review with other data"
                )));
            }
            if !again {
                tracing::info!(
                    project = found.project.id,
                    task = task_id,
                    person,
                    "human task submitted for review"
                );
            }
            Ok(first)
        }
        HumanWork::Submitted { data: first, again } => {
            if again && &first != data {
                return Err(ApiError::Conflict(format!(
                    "task {task_id} was already submitted with other data"
                )));
            }
            if !again {
                tracing::info!(
                    project = found.project.id,
                    task = task_id,
                    person,
                    "human task submitted"
                );
            }
            Ok(first)
        }
        other => Err(refused(task_id, other)),
    }
}

/// `POST /orchestra/api/tasks/<id>/submit` with `{"task_data": {...}, "work_time_seconds":
/// N}` (the time defaults to the time since the claim): submits the caller's work, and the
/// task finishes with it as its result. Repeating the same submission answers the same; a
/// different one is refused (409); data that breaks the step's `form` is a 400.
pub async fn submit(
    state: &AppState,
    request: &RequestParts,
    caller: &Caller,
    id: &str,
) -> Result<warp::reply::Response, ApiError> {
    let task_id = path_id(id, "task")?;
    let body = body_object(request)?;
    let data = task_data(&body)?;
    let work_time_seconds = work_time_seconds(&body)?;
    let first = submit_work(state, &caller.key.id, task_id, &data, work_time_seconds).await?;
    // A step under review says where its review stands.
    let task = find_task(state, task_id).await?;
    let status = match task.human().review {
        None | Some(ReviewState::Accepted) => "Submitted",
        Some(_) => human_task_status(task.task(), task.human()),
    };
    Ok(ok(&json!({
        "task_id": task_id,
        "status": status,
        "task_data": first,
    })))
}

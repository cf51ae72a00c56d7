//! The review API: people with `projects.review` list the human tasks submitted for review,
//! claim one (never their own work), then accept it (the step completes with the reviewed
//! data) or reject it (it goes back to its claimant, `Post-review Processing`, with the
//! reviewer's data as their work). Each decision is a snapshot of the reviewer's assignment,
//! with Orchestra's snapshot types (accept 1, reject 2).

use common::store::projects::ReviewState;
use common::store::projects::human::{ReviewClaim, ReviewDecision, ReviewOutcome};
use common::time::now_ms;
use serde_json::{Map, Value, json};

use super::reply::{body_object, integer_id, ok, path_id, query_limit, work_time_seconds};
use super::tasks::{HumanTask, find_task, person_task_json, tasks_of};
use super::view::{
    SNAPSHOT_ACCEPT, SNAPSHOT_REJECT, assignment_json, human_task_status, review_assignment_json,
    snapshot,
};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::request::RequestParts;
use crate::state::AppState;

/// Most tasks `available` lists.
const AVAILABLE_MAX: usize = 500;

/// Tasks submitted for review and waiting for a reviewer that `person` may review (not their
/// own work), most urgent project first, then the oldest submission; at most `limit`.
pub(crate) async fn available_reviews(
    state: &AppState,
    person: &str,
    limit: usize,
) -> Result<Vec<HumanTask>, ApiError> {
    let waiting = state.store.pending_reviews(AVAILABLE_MAX).await?;
    let tasks = tasks_of(state, &waiting, |task| {
        task.human().review == Some(ReviewState::Pending)
            && task.task().worker.as_deref() != Some(person)
    })
    .await?;
    Ok(tasks.into_iter().take(limit).collect())
}

/// A task under review as its reviewer sees it: the task, the work submitted, and both
/// assignments.
fn review_json(state: &AppState, task: &HumanTask) -> Value {
    let human = task.human();
    let mut json = person_task_json(state, task);
    json["status"] = json!(human_task_status(task.task(), human));
    json["task_data"] = human.work.clone().unwrap_or(Value::Null);
    json["worker"] = json!(task.task().worker);
    json["assignment"] = assignment_json(&task.project, task.task(), human).unwrap_or(Value::Null);
    json["review_assignment"] =
        review_assignment_json(&task.project, task.task(), human).unwrap_or(Value::Null);
    json
}

/// `GET /orchestra/api/reviews/available[?limit=100]`: the tasks waiting for a reviewer that
/// the caller may review.
pub async fn available(
    state: &AppState,
    request: &RequestParts,
    caller: &Caller,
) -> Result<warp::reply::Response, ApiError> {
    let limit = query_limit(request, 100, AVAILABLE_MAX)?;
    let tasks: Vec<Value> = available_reviews(state, &caller.key.id, limit)
        .await?
        .iter()
        .map(|task| review_json(state, task))
        .collect();
    Ok(ok(&json!({"tasks": tasks})))
}

/// Makes `person` the reviewer of task `task_id`, or else of the next task waiting for one.
pub(crate) async fn claim_review(
    state: &AppState,
    person: &str,
    task_id: Option<u64>,
) -> Result<HumanTask, ApiError> {
    let (run_id, index) = match task_id {
        None => state
            .store
            .claim_next_review(person)
            .await?
            .ok_or_else(|| ApiError::NotFound("no task is waiting for review".into()))?,
        Some(task_id) => {
            let found = find_task(state, task_id).await?;
            match state
                .store
                .claim_review_task(&found.project.run_id, found.index, person)
                .await?
            {
                ReviewClaim::Claimed | ReviewClaim::Yours => {}
                ReviewClaim::Missing => {
                    return Err(ApiError::NotFound(format!("task {task_id} not found")));
                }
                ReviewClaim::OwnWork => {
                    return Err(ApiError::Forbidden(format!(
                        "task {task_id} is your own work: someone else must review it"
                    )));
                }
                ReviewClaim::NotPending => {
                    return Err(ApiError::Conflict(format!(
                        "task {task_id} is not waiting for a reviewer"
                    )));
                }
            }
            (found.project.run_id, found.index)
        }
    };
    let task = find_task_by_run(state, &run_id, index).await?;
    tracing::info!(
        project = task.project.id,
        task = task.id(),
        person,
        "review claimed"
    );
    Ok(task)
}

/// The task of step `index` of project run `run_id`.
async fn find_task_by_run(
    state: &AppState,
    run_id: &str,
    index: usize,
) -> Result<HumanTask, ApiError> {
    tasks_of(state, &[(run_id.to_owned(), index)], |_| true)
        .await?
        .pop()
        .ok_or_else(|| ApiError::NotFound(format!("run {run_id} is not a project")))
}

/// `POST /orchestra/api/reviews/claim` (body optional: `{"task_id": N}`): makes the caller the
/// reviewer of that task, or of the next one waiting; 404 when none waits.
pub async fn claim(
    state: &AppState,
    request: &RequestParts,
    caller: &Caller,
) -> Result<warp::reply::Response, ApiError> {
    let body = body_object(request)?;
    let task_id = match body.get("task_id") {
        None | Some(Value::Null) => None,
        Some(id) => Some(integer_id(id, "task_id")?),
    };
    let task = claim_review(state, &caller.key.id, task_id).await?;
    Ok(ok(&json!({"task": review_json(state, &task)})))
}

/// Records `person`'s decision on task `task_id`, which they review, with `data` (the
/// reviewed data; the submitted work when `None`). An accepted task's data is checked against
/// its step's form. Answers the task as it stands after.
pub(crate) async fn decide(
    state: &AppState,
    person: &str,
    task_id: u64,
    decision: ReviewDecision,
    data: Option<Value>,
    work_time_seconds: Option<u64>,
) -> Result<HumanTask, ApiError> {
    let found = find_task(state, task_id).await?;
    let human = found.human();
    let data = data.unwrap_or_else(|| human.work.clone().unwrap_or_else(|| json!({})));
    let reviewing = human.reviewer.as_deref() == Some(person);
    if reviewing
        && decision == ReviewDecision::Accept
        && let Some(form) = found.step(state).and_then(|step| step.form.as_ref())
    {
        let problems = form.problems(&data);
        if !problems.is_empty() {
            return Err(ApiError::BadRequest {
                message: "the task data does not match the step's form".into(),
                details: problems,
            });
        }
    }
    let now = now_ms();
    let work_time_seconds = work_time_seconds
        .unwrap_or_else(|| now.saturating_sub(human.review_started_ms.unwrap_or(now)) / 1000);
    let kind = match decision {
        ReviewDecision::Accept => SNAPSHOT_ACCEPT,
        ReviewDecision::Reject => SNAPSHOT_REJECT,
    };
    let task = found.task();
    let outcome = state
        .store
        .review_human_work(
            &found.project.run_id,
            found.index,
            person,
            decision,
            (&data, &snapshot(&data, now, work_time_seconds, kind)),
            (&task.queue, found.record.priority),
        )
        .await?;
    match outcome {
        ReviewOutcome::Accepted { .. } | ReviewOutcome::Rejected { .. } => {}
        ReviewOutcome::Missing => {
            return Err(ApiError::NotFound(format!("task {task_id} not found")));
        }
        ReviewOutcome::Machine => {
            return Err(ApiError::bad_request(format!(
                "task {task_id} is a machine step: nobody reviews it"
            )));
        }
        ReviewOutcome::Closed(_) => {
            return Err(ApiError::Conflict(format!(
                "task {task_id} is finished: it takes no more review"
            )));
        }
        ReviewOutcome::NotInReview => {
            return Err(ApiError::Conflict(format!(
                "task {task_id} is not under review: claim its review first"
            )));
        }
        ReviewOutcome::NotReviewer(_) => {
            return Err(ApiError::Forbidden(format!(
                "task {task_id} is reviewed by someone else"
            )));
        }
    }
    tracing::info!(
        project = found.project.id,
        task = task_id,
        person,
        ?decision,
        "review recorded"
    );
    find_task(state, task_id).await
}

/// The optional `task_data` and `work_time_seconds` of a decision.
fn decision_body(body: &Map<String, Value>) -> Result<(Option<Value>, Option<u64>), ApiError> {
    let data = match body.get("task_data") {
        None | Some(Value::Null) => None,
        Some(Value::Object(data)) => Some(Value::Object(data.clone())),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "'task_data' must be a JSON object, not {other}"
            )));
        }
    };
    Ok((data, work_time_seconds(body)?))
}

/// `POST /orchestra/api/reviews/<id>/accept` or `.../reject`, with `{"task_data": {...}}`
/// (optional: the submitted work by default) and `work_time_seconds` (optional).
pub async fn decision(
    state: &AppState,
    request: &RequestParts,
    caller: &Caller,
    id: &str,
    decision: ReviewDecision,
) -> Result<warp::reply::Response, ApiError> {
    let task_id = path_id(id, "task")?;
    let (data, work_time_seconds) = decision_body(&body_object(request)?)?;
    let task = decide(
        state,
        &caller.key.id,
        task_id,
        decision,
        data,
        work_time_seconds,
    )
    .await?;
    Ok(ok(&json!({"task": review_json(state, &task)})))
}

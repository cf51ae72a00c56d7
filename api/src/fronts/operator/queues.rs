//! Queues and their dead letters: counts and recent rates, pausing and resuming, listing,
//! requeueing and deleting dead letters.

use common::engine::model::QueueName;
use common::store::engine::dead_letters::{DeadLetter, DeadLetterTask, RequeueOutcome};
use common::store::engine::queues::QueueSummary;
use common::time::{iso8601, now_ms};
use serde_json::{Map, Value, json};
use warp::http::StatusCode;

use super::json_response;
use crate::error::ApiError;
use crate::request::RequestParts;
use crate::state::AppState;

/// Largest page of dead letters.
const DEAD_PER_PAGE_MAX: usize = 1000;
/// Default page of dead letters.
const DEAD_PER_PAGE_DEFAULT: usize = 100;
/// Most dead letters reached by paging (page times page size).
const DEAD_REACH_MAX: usize = 10_000;
/// The seconds of the series summed into a queue's rate.
const RATE_WINDOW_SECS: usize = 60;

/// A queue the deployment has used, or 404.
async fn known_queue(state: &AppState, name: &str) -> Result<QueueName, ApiError> {
    let not_found = || ApiError::NotFound(format!("no queue '{name}'"));
    let queue = QueueName::parse(name).map_err(|_| not_found())?;
    if state.store.queue_names().await?.contains(&queue) {
        Ok(queue)
    } else {
        Err(not_found())
    }
}

/// A queue's summary with its jobs finished over the last minute.
async fn queue_json(state: &AppState, summary: &QueueSummary) -> Result<Value, ApiError> {
    let series = state.store.queue_series(&summary.name, now_ms()).await?;
    let recent = series.per_second.iter().rev().take(RATE_WINDOW_SECS);
    let (succeeded, failed) = recent.fold((0, 0), |(succeeded, failed), point| {
        (succeeded + point.succeeded, failed + point.failed)
    });
    let waiting: Map<String, Value> = summary
        .waiting
        .iter()
        .map(|(priority, count)| (priority.as_str().to_owned(), json!(count)))
        .collect();
    Ok(json!({
        "name": summary.name.as_str(),
        "paused": summary.paused,
        "waiting": waiting,
        "waiting_total": summary.waiting_total(),
        "running": summary.running,
        "delayed": summary.delayed,
        "retrying": summary.retrying,
        "dead": summary.dead,
        "succeeded": summary.succeeded,
        "failed": summary.failed,
        "rate": {
            "window_secs": RATE_WINDOW_SECS,
            "succeeded": succeeded,
            "failed": failed,
        },
    }))
}

/// `GET /api/queues`: every queue's counts, by name.
pub async fn list(state: &AppState) -> Result<warp::reply::Response, ApiError> {
    let mut queues = Vec::new();
    for summary in state.store.queue_summaries().await? {
        queues.push(queue_json(state, &summary).await?);
    }
    Ok(json_response(StatusCode::OK, &Value::Array(queues)))
}

/// `GET /api/queues/{name}`.
pub async fn show(state: &AppState, name: &str) -> Result<warp::reply::Response, ApiError> {
    let queue = known_queue(state, name).await?;
    let summary = state
        .store
        .queue_summary(&queue)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no queue '{name}'")))?;
    Ok(json_response(
        StatusCode::OK,
        &queue_json(state, &summary).await?,
    ))
}

/// `POST /api/queues/{name}/pause` and `/resume`: answers the queue's counts after.
pub async fn pause(
    state: &AppState,
    name: &str,
    paused: bool,
) -> Result<warp::reply::Response, ApiError> {
    let queue = known_queue(state, name).await?;
    if paused {
        state.store.pause_queue(&queue).await?;
    } else {
        state.store.resume_queue(&queue).await?;
    }
    tracing::info!(queue = %queue, paused, "queue paused or resumed over the API");
    show(state, name).await
}

/// A dead letter, with its task's name and its run's definition when the run still exists.
fn dead_letter_json(letter: &DeadLetter, task: Option<&DeadLetterTask>) -> Value {
    json!({
        "id": letter.id,
        "queue": letter.queue.as_str(),
        "priority": letter.priority.as_str(),
        "run_id": letter.job.run_id,
        "definition": task.map(|task| task.definition.as_str()),
        "task": letter.job.task,
        "task_key": task.and_then(|task| task.task_key.as_deref()),
        "attempt": letter.job.attempt,
        "error": letter.error,
        "failed": iso8601(letter.failed_ms),
    })
}

/// `GET /api/queues/{name}/dead-letters?page=&per_page=`: newest first.
pub async fn dead_letters(
    state: &AppState,
    request: &RequestParts,
    name: &str,
) -> Result<warp::reply::Response, ApiError> {
    let per_page = request.bounded_query("per_page", DEAD_PER_PAGE_DEFAULT, DEAD_PER_PAGE_MAX)?;
    let page = request.bounded_query("page", 1, DEAD_REACH_MAX)?;
    // Pages past the newest DEAD_REACH_MAX records are empty.
    let reach = page.saturating_mul(per_page).min(DEAD_REACH_MAX);
    let queue = known_queue(state, name).await?;
    let total = state
        .store
        .queue_summary(&queue)
        .await?
        .map_or(0, |summary| summary.dead);
    let letters: Vec<DeadLetter> = state
        .store
        .dead_letters(&queue, reach)
        .await?
        .into_iter()
        .skip((page - 1).saturating_mul(per_page))
        .collect();
    let tasks = state.store.dead_letter_tasks(&letters).await?;
    let letters: Vec<Value> = letters
        .iter()
        .zip(&tasks)
        .map(|(letter, task)| dead_letter_json(letter, task.as_ref()))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "queue": queue.as_str(),
            "page": page,
            "per_page": per_page,
            "total": total,
            "dead_letters": letters,
        }),
    ))
}

/// `POST /api/queues/{name}/dead-letters/{id}/requeue`, and `/requeue-all` without an id.
pub async fn requeue(
    state: &AppState,
    name: &str,
    id: Option<&str>,
) -> Result<warp::reply::Response, ApiError> {
    let queue = known_queue(state, name).await?;
    let body = match id {
        Some(id) => {
            let outcome = match state.store.requeue_dead_letter(&queue, id).await? {
                RequeueOutcome::NotFound => {
                    return Err(ApiError::NotFound(format!(
                        "no dead letter '{id}' in '{name}'"
                    )));
                }
                RequeueOutcome::Requeued => "requeued",
                RequeueOutcome::Dropped => "dropped",
            };
            json!({"queue": queue.as_str(), "id": id, "outcome": outcome})
        }
        None => {
            let requeued = state.store.requeue_all_dead_letters(&queue).await?;
            json!({"queue": queue.as_str(), "requeued": requeued})
        }
    };
    tracing::info!(queue = %queue, id = id.unwrap_or("*"), "dead letters requeued over the API");
    Ok(json_response(StatusCode::OK, &body))
}

/// `DELETE /api/queues/{name}/dead-letters/{id}`, and `POST .../delete-all` without an id.
pub async fn delete(
    state: &AppState,
    name: &str,
    id: Option<&str>,
) -> Result<warp::reply::Response, ApiError> {
    let queue = known_queue(state, name).await?;
    let body = match id {
        Some(id) => {
            if !state.store.delete_dead_letter(&queue, id).await? {
                return Err(ApiError::NotFound(format!(
                    "no dead letter '{id}' in '{name}'"
                )));
            }
            json!({"queue": queue.as_str(), "id": id, "deleted": 1})
        }
        None => {
            let deleted = state.store.delete_all_dead_letters(&queue).await?;
            json!({"queue": queue.as_str(), "deleted": deleted})
        }
    };
    tracing::info!(queue = %queue, id = id.unwrap_or("*"), "dead letters deleted over the API");
    Ok(json_response(StatusCode::OK, &body))
}

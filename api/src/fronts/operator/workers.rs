//! The workers: each one's heartbeat record and the jobs it holds.

use common::time::{iso8601, now_ms};
use serde_json::{Value, json};
use warp::http::StatusCode;

use super::json_response;
use crate::error::ApiError;
use crate::state::AppState;

/// `GET /api/workers`: every worker that heart-beats (stale ones marked), by id.
pub async fn list(state: &AppState) -> Result<warp::reply::Response, ApiError> {
    let now = now_ms();
    let mut workers = state.store.workers().await?;
    workers.sort_by(|a, b| a.id.cmp(&b.id));
    let body: Vec<Value> = workers
        .iter()
        .map(|worker| {
            let jobs: Vec<Value> = worker
                .jobs
                .iter()
                .map(|job| {
                    json!({
                        "run_id": job.run_id,
                        "task": job.task,
                        "task_key": job.task_key,
                        "queue": job.queue,
                        "since": iso8601(job.since_ms),
                    })
                })
                .collect();
            json!({
                "id": worker.id,
                "host": worker.host,
                "pid": worker.pid,
                "queues": worker.queues,
                "concurrency": worker.concurrency,
                "in_flight": worker.in_flight,
                "done": worker.done,
                "started": iso8601(worker.started_ms),
                "last_seen": iso8601(worker.last_seen_ms),
                "stale": worker.is_stale(now),
                "jobs": jobs,
            })
        })
        .collect();
    Ok(json_response(StatusCode::OK, &Value::Array(body)))
}

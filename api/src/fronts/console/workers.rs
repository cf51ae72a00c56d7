//! The workers: each live worker's id, host, pid, queues, concurrency, the jobs it holds and
//! since when, when it started and last heart-beat; workers that stopped heart-beating are
//! marked stale.

use askama::Template;

use super::html::{Chrome, clock, datetime, duration, page};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// A job a worker holds, as listed.
#[derive(Debug, Clone)]
struct JobRow {
    run_id: String,
    task: String,
    queue: String,
    running_for: String,
}

/// A worker, as listed.
#[derive(Debug, Clone)]
struct WorkerRow {
    id: String,
    host: String,
    pid: u32,
    queues: String,
    concurrency: usize,
    jobs: Vec<JobRow>,
    started: String,
    last_seen: String,
    last_seen_ago: String,
    stale: bool,
    done: u64,
}

#[derive(Template)]
#[template(path = "console/workers.html")]
struct WorkersPage {
    chrome: Chrome,
    workers: Vec<WorkerRow>,
}

#[derive(Template)]
#[template(path = "console/workers_live.html")]
struct WorkersLiveFragment {
    workers: Vec<WorkerRow>,
}

async fn worker_rows(state: &AppState) -> Result<Vec<WorkerRow>, ApiError> {
    let now = common::time::now_ms();
    let mut workers = state.store.workers().await?;
    workers.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(workers
        .into_iter()
        .map(|worker| WorkerRow {
            stale: worker.is_stale(now),
            jobs: worker
                .jobs
                .iter()
                .map(|job| JobRow {
                    run_id: job.run_id.clone(),
                    task: if job.task_key.is_empty() {
                        format!("task {}", job.task)
                    } else {
                        job.task_key.clone()
                    },
                    queue: job.queue.clone(),
                    running_for: duration(now.saturating_sub(job.since_ms)),
                })
                .collect(),
            id: worker.id,
            host: worker.host,
            pid: worker.pid,
            queues: worker.queues.join(", "),
            concurrency: worker.concurrency,
            started: datetime(worker.started_ms),
            last_seen: clock(worker.last_seen_ms),
            last_seen_ago: duration(now.saturating_sub(worker.last_seen_ms)),
            done: worker.done,
        })
        .collect())
}

/// `GET /ui/workers`.
pub async fn page_of_workers(
    state: &AppState,
    caller: &Caller,
) -> Result<warp::reply::Response, ApiError> {
    page(&WorkersPage {
        chrome: Chrome::new(caller, "Workers", "workers"),
        workers: worker_rows(state).await?,
    })
}

/// `GET /ui/live/workers`: the table, polled.
pub async fn live(state: &AppState) -> Result<warp::reply::Response, ApiError> {
    page(&WorkersLiveFragment {
        workers: worker_rows(state).await?,
    })
}

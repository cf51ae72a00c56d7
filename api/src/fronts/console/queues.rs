//! The queues: every queue's counts (the overview shows them too), one queue's page with its
//! chart and dead letters, pausing and resuming, and requeueing or deleting dead letters.

use askama::Template;
use common::engine::model::QueueName;

use super::chart::{Bucket, bar_chart};
use super::form::Form;
use super::html::{Chrome, datetime, page, see_other};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// One queue's counts, as a row of the queues table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRow {
    /// The queue's name.
    pub name: String,
    /// Workers take no new job from it.
    pub paused: bool,
    /// Jobs waiting, all priorities.
    pub waiting: u64,
    /// Jobs waiting by priority, e.g. `high 2 · normal 5`.
    pub waiting_by_priority: String,
    /// Jobs delivered to a worker, not yet finished.
    pub running: u64,
    /// Jobs due later (delayed runs and retries).
    pub delayed: u64,
    /// Of those, retries.
    pub retrying: u64,
    /// Jobs that succeeded (all time).
    pub succeeded: u64,
    /// Jobs that failed for good (all time).
    pub failed: u64,
    /// Dead letters waiting for an operator.
    pub dead: u64,
}

/// Every queue's counts, by name.
pub async fn queue_rows(state: &AppState) -> Result<Vec<QueueRow>, ApiError> {
    let summaries = state.store.queue_summaries().await?;
    Ok(summaries.into_iter().map(row_of).collect())
}

fn row_of(summary: common::store::engine::queues::QueueSummary) -> QueueRow {
    let waiting_by_priority = summary
        .waiting
        .iter()
        .filter(|(_, count)| *count > 0)
        .map(|(priority, count)| format!("{priority} {count}"))
        .collect::<Vec<_>>()
        .join(" · ");
    QueueRow {
        name: summary.name.to_string(),
        paused: summary.paused,
        waiting: summary.waiting.iter().map(|(_, count)| count).sum(),
        waiting_by_priority,
        running: summary.running,
        delayed: summary.delayed,
        retrying: summary.retrying,
        succeeded: summary.succeeded,
        failed: summary.failed,
        dead: summary.dead,
    }
}

/// The buckets of a series, for a chart.
pub fn buckets(points: &[common::store::engine::series::SeriesPoint]) -> Vec<Bucket> {
    points
        .iter()
        .map(|point| Bucket {
            at_ms: point.at_ms,
            succeeded: point.succeeded,
            failed: point.failed,
        })
        .collect()
}

/// The two charts of a series: per second over 5 minutes, per minute over the hour.
pub fn charts(series: &common::store::engine::series::QueueSeries) -> (String, String) {
    (
        bar_chart(
            "Jobs per second, last 5 minutes",
            &buckets(&series.per_second),
            "5 min ago",
            "now",
        ),
        bar_chart(
            "Jobs per minute, last hour",
            &buckets(&series.per_minute),
            "1 h ago",
            "now",
        ),
    )
}

fn parse_queue(name: &str) -> Result<QueueName, ApiError> {
    QueueName::parse(name).map_err(|_| ApiError::NotFound(format!("no queue '{name}'")))
}

#[derive(Template)]
#[template(path = "console/queues.html")]
struct QueuesPage {
    chrome: Chrome,
    queues: Vec<QueueRow>,
}

/// `GET /ui/queues`.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    query: &Form,
) -> Result<warp::reply::Response, ApiError> {
    let chrome = Chrome::new(caller, "Queues", "queues").with_notice(super::notice(query));
    page(&QueuesPage {
        chrome,
        queues: queue_rows(state).await?,
    })
}

/// A dead letter as the queue page lists it.
#[derive(Debug, Clone)]
struct DeadRow {
    id: String,
    run_id: String,
    task: u32,
    attempt: u32,
    error: String,
    failed_at: String,
}

/// The live part of a queue's page.
#[derive(Debug, Clone)]
struct QueueLive {
    queue: QueueRow,
    per_second: String,
    per_minute: String,
}

#[derive(Template)]
#[template(path = "console/queue.html")]
struct QueuePage {
    chrome: Chrome,
    live: QueueLive,
    dead: Vec<DeadRow>,
}

#[derive(Template)]
#[template(path = "console/queue_live.html")]
struct QueueLiveFragment {
    live: QueueLive,
}

/// Most dead letters listed on a queue's page.
const DEAD_LETTERS_SHOWN: usize = 100;

async fn queue_live(state: &AppState, name: &str) -> Result<QueueLive, ApiError> {
    let queue = parse_queue(name)?;
    let summary = state
        .store
        .queue_summary(&queue)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no queue '{name}'")))?;
    let series = state
        .store
        .queue_series(&queue, common::time::now_ms())
        .await?;
    let (per_second, per_minute) = charts(&series);
    Ok(QueueLive {
        queue: row_of(summary),
        per_second,
        per_minute,
    })
}

/// `GET /ui/queues/{queue}`.
pub async fn page_of_queue(
    state: &AppState,
    caller: &Caller,
    name: &str,
    query: &Form,
) -> Result<warp::reply::Response, ApiError> {
    let live = queue_live(state, name).await?;
    let queue = parse_queue(name)?;
    let dead = state
        .store
        .dead_letters(&queue, DEAD_LETTERS_SHOWN)
        .await?
        .into_iter()
        .map(|letter| DeadRow {
            id: letter.id,
            run_id: letter.job.run_id,
            task: letter.job.task,
            attempt: letter.job.attempt,
            error: letter.error,
            failed_at: datetime(letter.failed_ms),
        })
        .collect();
    let chrome =
        Chrome::new(caller, format!("Queue {name}"), "queues").with_notice(super::notice(query));
    page(&QueuePage { chrome, live, dead })
}

/// `GET /ui/queues/{queue}/live`: the counts and charts, polled.
pub async fn live(
    state: &AppState,
    _caller: &Caller,
    name: &str,
) -> Result<warp::reply::Response, ApiError> {
    page(&QueueLiveFragment {
        live: queue_live(state, name).await?,
    })
}

/// `POST /ui/queues/{queue}/pause` and `/resume`.
pub async fn pause(
    state: &AppState,
    name: &str,
    paused: bool,
) -> Result<warp::reply::Response, ApiError> {
    let queue = parse_queue(name)?;
    let notice = if paused {
        state.store.pause_queue(&queue).await?;
        "paused"
    } else {
        state.store.resume_queue(&queue).await?;
        "resumed"
    };
    Ok(see_other(&format!("/ui/queues/{queue}?done={notice}")))
}

/// `POST /ui/queues/{queue}/dead/{entry}/requeue` and `/dead/requeue` (all of them).
pub async fn requeue(
    state: &AppState,
    name: &str,
    entry: Option<&str>,
) -> Result<warp::reply::Response, ApiError> {
    let queue = parse_queue(name)?;
    match entry {
        Some(entry) => {
            use common::store::engine::dead_letters::RequeueOutcome;
            match state.store.requeue_dead_letter(&queue, entry).await? {
                RequeueOutcome::NotFound => {
                    return Err(ApiError::NotFound(format!("no dead letter '{entry}'")));
                }
                RequeueOutcome::Requeued | RequeueOutcome::Dropped => {}
            }
        }
        None => {
            state.store.requeue_all_dead_letters(&queue).await?;
        }
    }
    Ok(see_other(&format!("/ui/queues/{queue}?done=requeued")))
}

/// `POST /ui/queues/{queue}/dead/{entry}/delete` and `/dead/delete` (all of them).
pub async fn delete(
    state: &AppState,
    name: &str,
    entry: Option<&str>,
) -> Result<warp::reply::Response, ApiError> {
    let queue = parse_queue(name)?;
    match entry {
        Some(entry) => {
            if !state.store.delete_dead_letter(&queue, entry).await? {
                return Err(ApiError::NotFound(format!("no dead letter '{entry}'")));
            }
        }
        None => {
            state.store.delete_all_dead_letters(&queue).await?;
        }
    }
    Ok(see_other(&format!("/ui/queues/{queue}?done=deleted")))
}

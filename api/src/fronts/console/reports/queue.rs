//! `GET /ui/reports/queue`: the report runs queued and running, oldest first, polled live.
//! A running run's version shows only to who started it and the report's reviewers, and a
//! run links to its page for who may run its report.

use askama::Template;
use common::auth::permissions::Permission;

use super::{report_url, segment};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::fronts::console::html::{Chrome, page};
use crate::fronts::reports::access::Access;
use crate::fronts::reports::runs::active_queue;
use crate::state::AppState;

/// A run in the queue, as shown.
#[derive(Debug, Clone)]
struct QueueRow {
    key: String,
    name: String,
    report_url: Option<String>,
    run_url: Option<String>,
    status: &'static str,
    version: String,
}

/// The live table.
#[derive(Debug, Clone)]
struct QueueLive {
    rows: Vec<QueueRow>,
}

#[derive(Template)]
#[template(path = "console/reports/queue.html")]
struct QueuePage {
    chrome: Chrome,
    live: QueueLive,
}

#[derive(Template)]
#[template(path = "console/reports/queue_live.html")]
struct QueueFragment {
    live: QueueLive,
}

async fn queue_live(state: &AppState, access: &Access) -> Result<QueueLive, ApiError> {
    let rows = active_queue(state, access)
        .await?
        .into_iter()
        .map(|entry| QueueRow {
            report_url: access.reads(&entry.name).then(|| report_url(&entry.name)),
            run_url: access
                .may(&entry.name, Permission::ReportsRun)
                .then(|| format!("/ui/reports/runs/{}", segment(&entry.key))),
            key: entry.key,
            name: entry.name,
            status: entry.status,
            version: entry.version.unwrap_or_default(),
        })
        .collect();
    Ok(QueueLive { rows })
}

/// `GET /ui/reports/queue`.
pub async fn page_of_queue(
    state: &AppState,
    caller: &Caller,
    access: &Access,
) -> Result<warp::reply::Response, ApiError> {
    page(&QueuePage {
        chrome: Chrome::new(caller, "Report run queue", "reports"),
        live: queue_live(state, access).await?,
    })
}

/// `GET /ui/reports/queue/live`: the table, polled every two seconds.
pub async fn live(state: &AppState, access: &Access) -> Result<warp::reply::Response, ApiError> {
    page(&QueueFragment {
        live: queue_live(state, access).await?,
    })
}

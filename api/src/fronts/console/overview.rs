//! The overview: every queue's counts, the workers alive, and jobs succeeded and failed per
//! second and per minute, refreshed by polling. It reads counters and the time series the
//! engine keeps, never the runs.

use askama::Template;

use super::form::Form;
use super::html::{Chrome, page};
use super::queues::{QueueRow, charts, queue_rows};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// The live part of the overview.
#[derive(Debug, Clone)]
struct OverviewLive {
    queues: Vec<QueueRow>,
    workers_alive: usize,
    workers_stale: usize,
    per_second: String,
    per_minute: String,
}

#[derive(Template)]
#[template(path = "console/overview.html")]
struct OverviewPage {
    chrome: Chrome,
    live: OverviewLive,
}

#[derive(Template)]
#[template(path = "console/overview_live.html")]
struct OverviewLiveFragment {
    live: OverviewLive,
}

async fn overview_live(state: &AppState) -> Result<OverviewLive, ApiError> {
    let now = common::time::now_ms();
    let (queues, workers, series) = tokio::try_join!(
        queue_rows(state),
        async { Ok::<_, ApiError>(state.store.workers().await?) },
        async { Ok::<_, ApiError>(state.store.all_queues_series(now).await?) },
    )?;
    let workers_stale = workers.iter().filter(|worker| worker.is_stale(now)).count();
    let (per_second, per_minute) = charts(&series);
    Ok(OverviewLive {
        queues,
        workers_alive: workers.len() - workers_stale,
        workers_stale,
        per_second,
        per_minute,
    })
}

/// `GET /ui/`.
pub async fn page_of_overview(
    state: &AppState,
    caller: &Caller,
    query: &Form,
) -> Result<warp::reply::Response, ApiError> {
    let chrome = Chrome::new(caller, "Overview", "overview").with_notice(super::notice(query));
    page(&OverviewPage {
        chrome,
        live: overview_live(state).await?,
    })
}

/// `GET /ui/live/overview`: the counts and charts, polled.
pub async fn live(state: &AppState) -> Result<warp::reply::Response, ApiError> {
    page(&OverviewLiveFragment {
        live: overview_live(state).await?,
    })
}

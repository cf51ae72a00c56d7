//! The schedules: every periodic definition with its interval or crontab, its last and next
//! firing, and its recent runs.

use askama::Template;
use common::engine::model::RunKind;
use common::store::engine::run_index::RunQuery;

use super::html::{Chrome, datetime, page};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// Recent runs shown per schedule.
const RECENT_RUNS: usize = 5;

/// A recent run of a schedule.
#[derive(Debug, Clone)]
struct RecentRun {
    id: String,
    status: &'static str,
    created: String,
}

/// A periodic definition, as listed.
#[derive(Debug, Clone)]
struct ScheduleRow {
    fullname: String,
    schedule: String,
    last: String,
    next: String,
    recent: Vec<RecentRun>,
}

#[derive(Template)]
#[template(path = "console/schedules.html")]
struct SchedulesPage {
    chrome: Chrome,
    schedules: Vec<ScheduleRow>,
}

/// `GET /ui/schedules`.
pub async fn page_of_schedules(
    state: &AppState,
    caller: &Caller,
) -> Result<warp::reply::Response, ApiError> {
    let now = common::time::now_ms();
    let mut schedules = Vec::new();
    for workflow in state.workflows.values() {
        let Some(periodic) = &workflow.definition.periodic else {
            continue;
        };
        let name = &workflow.definition.name;
        let last = state.store.last_fired_slot(name).await?;
        let next = periodic
            .schedule()
            .ok()
            .and_then(|schedule| schedule.next_after(now));
        let recent = state
            .store
            .list_runs(&RunQuery {
                definitions: vec![name.clone()],
                ..RunQuery::new(RunKind::Workflow, RECENT_RUNS)
            })
            .await?
            .runs
            .into_iter()
            .map(|run| RecentRun {
                id: run.id,
                status: run.status.as_str(),
                created: datetime(run.created_ms),
            })
            .collect();
        schedules.push(ScheduleRow {
            fullname: workflow.fullname.clone(),
            schedule: super::workflows::schedule_text(&workflow.definition),
            last: last.map(datetime).unwrap_or_else(|| "never".into()),
            next: next.map(datetime).unwrap_or_default(),
            recent,
        });
    }
    page(&SchedulesPage {
        chrome: Chrome::new(caller, "Schedules", "schedules"),
        schedules,
    })
}

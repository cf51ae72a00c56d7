//! The runs of the workflows front: the list (filtered by definition, status and date, paged,
//! read from indexes), a run's page (its DAG, each task's attempts, timings, result and error,
//! its live log), and the cancel and relaunch buttons.

use askama::Template;
use chrono::NaiveDate;
use common::engine::model::{RunKind, RunStatus};
use common::store::engine::run_index::RunQuery;
use common::store::engine::run_summaries::RunSummary;
use common::store::engine::runs::{RunView, TaskView};

use super::form::Form;
use super::html::{Chrome, datetime, duration, final_fragment, page, see_other};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// Runs per page of the list.
const PER_PAGE: usize = 50;
/// Log lines sent per poll.
const LOG_LINES_PER_POLL: usize = 500;

/// A run as the list shows it.
#[derive(Debug, Clone)]
struct RunRow {
    id: String,
    definition: String,
    status: &'static str,
    created: String,
    took: String,
}

/// The list's filters, as the form sent them.
#[derive(Debug, Clone, Default)]
struct Filters {
    definition: String,
    status: String,
    from: String,
    to: String,
}

#[derive(Template)]
#[template(path = "console/runs.html")]
struct RunsPage {
    chrome: Chrome,
    filters: Filters,
    definitions: Vec<String>,
    statuses: Vec<&'static str>,
    runs: Vec<RunRow>,
    page: usize,
    previous: Option<String>,
    next: Option<String>,
    problem: Option<String>,
}

fn day_start_ms(text: &str) -> Option<u64> {
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    let start = date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis();
    u64::try_from(start).ok()
}

fn row_of(run: &RunSummary) -> RunRow {
    RunRow {
        id: run.id.clone(),
        definition: run.definition.clone(),
        status: run.status.as_str(),
        created: datetime(run.created_ms),
        took: run
            .finished_ms
            .map(|finished| duration(finished.saturating_sub(run.created_ms)))
            .unwrap_or_default(),
    }
}

fn page_link(filters: &Filters, page: usize) -> String {
    let filters = [
        ("definition", filters.definition.as_str()),
        ("status", filters.status.as_str()),
        ("from", filters.from.as_str()),
        ("to", filters.to.as_str()),
    ];
    super::form::page_url("/ui/runs", &filters, page)
}

/// `GET /ui/runs`.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    query: &Form,
) -> Result<warp::reply::Response, ApiError> {
    let filters = Filters {
        definition: query.text("definition").unwrap_or_default().to_owned(),
        status: query.text("status").unwrap_or_default().to_owned(),
        from: query.text("from").unwrap_or_default().to_owned(),
        to: query.text("to").unwrap_or_default().to_owned(),
    };
    let page_number = query
        .text("page")
        .and_then(|page| page.parse::<usize>().ok())
        .filter(|page| (1..=100_000).contains(page))
        .unwrap_or(1);
    let mut problem = None;
    let status = match filters.status.as_str() {
        "" => None,
        text => match text.parse::<RunStatus>() {
            Ok(status) => Some(status),
            Err(_) => {
                problem = Some(format!("Unknown status '{text}'."));
                None
            }
        },
    };
    let mut date = |text: &str, name: &str| match text {
        "" => None,
        text => {
            let parsed = day_start_ms(text);
            if parsed.is_none() {
                problem = Some(format!("The {name} date must read YYYY-MM-DD."));
            }
            parsed
        }
    };
    let created_from_ms = date(&filters.from, "from");
    let created_to_ms = date(&filters.to, "to").map(|start| start + 86_400_000 - 1);
    let found = state
        .store
        .list_runs(&RunQuery {
            definitions: if filters.definition.is_empty() {
                Vec::new()
            } else {
                vec![filters.definition.clone()]
            },
            status,
            created_from_ms,
            created_to_ms,
            offset: (page_number - 1) * PER_PAGE,
            ..RunQuery::new(RunKind::Workflow, PER_PAGE)
        })
        .await?;
    page(&RunsPage {
        chrome: Chrome::new(caller, "Runs", "runs"),
        definitions: state.workflows.keys().cloned().collect(),
        statuses: vec!["pending", "progress", "success", "error", "canceled"],
        runs: found.runs.iter().map(row_of).collect(),
        page: page_number,
        previous: (page_number > 1).then(|| page_link(&filters, page_number - 1)),
        next: found.has_more.then(|| page_link(&filters, page_number + 1)),
        filters,
        problem,
    })
}

/// A task as the run's page shows it.
#[derive(Debug, Clone)]
struct TaskRow {
    index: usize,
    key: String,
    status: &'static str,
    attempt: u32,
    attempts_allowed: u32,
    queue: String,
    worker: String,
    started: String,
    took: String,
    result: String,
    error: String,
    is_hook: bool,
}

/// The live part of a run's page.
#[derive(Debug, Clone)]
struct RunLive {
    id: String,
    status: &'static str,
    finished: bool,
    updated: String,
    took: String,
    failure: Option<(String, String)>,
    dag: String,
    tasks: Vec<TaskRow>,
    can_run: bool,
    csrf: String,
}

#[derive(Template)]
#[template(path = "console/run.html")]
struct RunPage {
    chrome: Chrome,
    definition: String,
    created: String,
    payload: String,
    live: RunLive,
}

#[derive(Template)]
#[template(path = "console/run_live.html")]
struct RunLiveFragment {
    live: RunLive,
}

fn task_row(task: &TaskView) -> TaskRow {
    TaskRow {
        index: task.index,
        key: task.key.clone(),
        status: task.status.as_str(),
        attempt: task.attempt,
        attempts_allowed: task.max_retries + 1,
        queue: task.queue.to_string(),
        worker: task.worker.clone().unwrap_or_default(),
        started: task.started_ms.map(datetime).unwrap_or_default(),
        took: match (task.started_ms, task.finished_ms) {
            (Some(started), Some(finished)) => duration(finished.saturating_sub(started)),
            (Some(started), None) if !task.status.is_finished() => format!(
                "{} so far",
                duration(common::time::now_ms().saturating_sub(started))
            ),
            _ => String::new(),
        },
        result: task
            .result
            .as_ref()
            .map(|result| serde_json::to_string_pretty(result).unwrap_or_default())
            .unwrap_or_default(),
        error: task.error.clone().unwrap_or_default(),
        is_hook: task.is_hook,
    }
}

fn run_live(run: &RunView, caller: &Caller) -> RunLive {
    let failure = run
        .tasks
        .iter()
        .find(|task| task.status == common::engine::model::TaskStatus::Error)
        .map(|task| (task.key.clone(), task.error.clone().unwrap_or_default()));
    RunLive {
        id: run.id.clone(),
        status: run.status.as_str(),
        finished: run.status.is_finished(),
        updated: datetime(run.updated_ms),
        took: match run.finished_ms {
            Some(finished) => duration(finished.saturating_sub(run.created_ms)),
            None => format!(
                "{} so far",
                duration(common::time::now_ms().saturating_sub(run.created_ms))
            ),
        },
        failure,
        dag: super::dag::draw(&run.tasks),
        tasks: run.tasks.iter().map(task_row).collect(),
        can_run: caller.may(common::auth::permissions::Permission::WorkflowsRun),
        csrf: caller
            .session
            .as_ref()
            .map(|session| session.csrf_token.clone())
            .unwrap_or_default(),
    }
}

async fn find_run(state: &AppState, id: &str) -> Result<RunView, ApiError> {
    state
        .store
        .runs_of(RunKind::Workflow)
        .get(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no workflow run '{id}'")))
}

/// `GET /ui/runs/{id}`.
pub async fn page_of_run(
    state: &AppState,
    caller: &Caller,
    id: &str,
    query: &Form,
) -> Result<warp::reply::Response, ApiError> {
    let run = find_run(state, id).await?;
    page(&RunPage {
        chrome: Chrome::new(caller, format!("Run {}", run.definition), "runs")
            .with_notice(super::notice(query)),
        definition: run.definition.clone(),
        created: datetime(run.created_ms),
        payload: serde_json::to_string_pretty(&run.payload).unwrap_or_default(),
        live: run_live(&run, caller),
    })
}

/// `GET /ui/runs/{id}/live`: the status, DAG and tasks, polled until the run finishes.
pub async fn live(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<warp::reply::Response, ApiError> {
    let run = find_run(state, id).await?;
    let fragment = RunLiveFragment {
        live: run_live(&run, caller),
    };
    if run.status.is_finished() {
        final_fragment(&fragment)
    } else {
        page(&fragment)
    }
}

/// A log line as shown.
#[derive(Debug, Clone)]
struct LogRow {
    task: String,
    line: String,
}

#[derive(Template)]
#[template(path = "console/run_log.html")]
struct LogFragment {
    id: String,
    lines: Vec<LogRow>,
    next_after: Option<String>,
}

/// `GET /ui/runs/{id}/log?after=CURSOR`: the lines after the cursor, and (while the run is
/// not finished, or lines remain) the element that polls for the next ones.
pub async fn log(
    state: &AppState,
    id: &str,
    query: &Form,
) -> Result<warp::reply::Response, ApiError> {
    // The status is read before the lines: a run seen finished has written every line.
    let run = find_run(state, id).await?;
    let after = query.text("after").filter(|after| {
        after.len() <= 40 && after.bytes().all(|b| b.is_ascii_digit() || b == b'-')
    });
    let lines = state
        .store
        .read_log(&run.id, None, after, LOG_LINES_PER_POLL)
        .await?;
    let last = lines
        .last()
        .map(|line| line.id.clone())
        .or_else(|| after.map(str::to_owned));
    let more = lines.len() == LOG_LINES_PER_POLL || !run.status.is_finished();
    let rows = lines
        .into_iter()
        .map(|line| LogRow {
            task: run
                .tasks
                .get(line.task as usize)
                .map(|task| task.key.clone())
                .unwrap_or_else(|| format!("task {}", line.task)),
            line: line.line,
        })
        .collect();
    page(&LogFragment {
        id: id.to_owned(),
        lines: rows,
        next_after: more.then(|| last.unwrap_or_default()),
    })
}

/// `POST /ui/runs/{id}/cancel`.
pub async fn cancel(state: &AppState, id: &str) -> Result<warp::reply::Response, ApiError> {
    common::operations::workflows::cancel_workflow(&state.store, id).await?;
    Ok(see_other(&format!("/ui/runs/{id}?done=canceled")))
}

/// `POST /ui/runs/{id}/relaunch`: starts a new run with the same payload and shows it.
pub async fn relaunch(state: &AppState, id: &str) -> Result<warp::reply::Response, ApiError> {
    let run = common::operations::workflows::relaunch_workflow(&state.store, &state.workflows, id)
        .await?;
    Ok(see_other(&format!("/ui/runs/{}", run.id)))
}

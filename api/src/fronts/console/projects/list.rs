//! `/ui/projects`: the projects, newest first, each with its workflow, priority, status and
//! progress (steps complete of all), filtered by workflow and status and paged server-side
//! from the run indexes.

use askama::Template;
use common::engine::model::{RunKind, RunStatus, project_definition};
use common::store::engine::run_index::RunQuery;
use common::store::engine::run_progress::RunProgress;
use common::store::engine::run_summaries::RunSummary;

use super::super::form::Form;
use super::super::html::{Chrome, datetime, page};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::fronts::projects::view::project_state_status;
use crate::state::AppState;
use common::store::projects::control::ProjectState;

/// Projects per page.
const PER_PAGE: usize = 50;

/// The status filter's choices: the engine's statuses, named in Orchestra's words.
const STATUSES: [(&str, &str); 5] = [
    ("pending", "active: not started"),
    ("progress", "active: in progress"),
    ("success", "completed"),
    ("error", "aborted: failed"),
    ("canceled", "aborted: canceled"),
];

/// A project as the list shows it.
#[derive(Debug, Clone)]
struct ProjectRow {
    id: u64,
    description: String,
    workflow: String,
    priority: i64,
    /// Orchestra's word for it.
    status: &'static str,
    /// The engine's status (the badge's colour).
    run_status: &'static str,
    done: usize,
    steps: usize,
    created: String,
}

/// The list's filters, as the form sent them.
#[derive(Debug, Clone, Default)]
struct Filters {
    workflow: String,
    status: String,
}

#[derive(Template)]
#[template(path = "console/projects/index.html")]
struct ProjectsPage {
    chrome: Chrome,
    filters: Filters,
    workflows: Vec<String>,
    statuses: Vec<(&'static str, &'static str)>,
    projects: Vec<ProjectRow>,
    previous: Option<String>,
    next: Option<String>,
    problem: Option<String>,
}

/// A project's row; `None` for a run that carries no project id.
fn row_of(
    run: &RunSummary,
    progress: RunProgress,
    managed: Option<ProjectState>,
) -> Option<ProjectRow> {
    let payload = run.payload_value();
    Some(ProjectRow {
        id: payload["project_id"].as_u64()?,
        description: payload["description"].as_str().unwrap_or("").to_owned(),
        workflow: payload["workflow_slug"].as_str().unwrap_or("").to_owned(),
        priority: payload["priority"].as_i64().unwrap_or(0),
        status: project_state_status(run.status, managed),
        run_status: run.status.as_str(),
        done: progress.done,
        steps: progress.steps,
        created: datetime(run.created_ms),
    })
}

fn page_link(filters: &Filters, page: usize) -> String {
    let filters = [
        ("workflow", filters.workflow.as_str()),
        ("status", filters.status.as_str()),
    ];
    crate::fronts::console::form::page_url("/ui/projects", &filters, page)
}

/// `GET /ui/projects[?workflow=SLUG&status=STATUS&page=N]`.
pub async fn page_of_projects(
    state: &AppState,
    caller: &Caller,
    query: &Form,
) -> Result<warp::reply::Response, ApiError> {
    let mut filters = Filters {
        workflow: query.text("workflow").unwrap_or_default().to_owned(),
        status: query.text("status").unwrap_or_default().to_owned(),
    };
    let page_number = query
        .text("page")
        .and_then(|page| page.parse::<usize>().ok())
        .filter(|page| (1..=100_000).contains(page))
        .unwrap_or(1);
    let mut problem = None;
    let status = match filters.status.as_str() {
        "" => None,
        text if STATUSES.iter().any(|(value, _)| *value == text) => text.parse::<RunStatus>().ok(),
        text => {
            problem = Some(format!("Unknown status '{text}'."));
            filters.status.clear();
            None
        }
    };
    if !filters.workflow.is_empty() && !state.projects.contains_key(&filters.workflow) {
        problem = Some(format!("No workflow '{}' is loaded.", filters.workflow));
        filters.workflow.clear();
    }
    let definitions = if filters.workflow.is_empty() {
        Vec::new()
    } else {
        vec![project_definition(&filters.workflow)]
    };
    let found = state
        .store
        .list_runs(&RunQuery {
            definitions,
            status,
            offset: (page_number - 1) * PER_PAGE,
            ..RunQuery::new(RunKind::Project, PER_PAGE)
        })
        .await?;
    // As its managers set it: a running project may be paused.
    let run_ids: Vec<String> = found.runs.iter().map(|run| run.id.clone()).collect();
    let managed = state.store.project_statuses_of_runs(&run_ids).await?;
    // A row's progress is read from the run's counters, not from its every step.
    let progress = state.store.run_progress(&run_ids).await?;
    page(&ProjectsPage {
        chrome: Chrome::new(caller, "Projects", "projects"),
        workflows: state.projects.keys().cloned().collect(),
        statuses: STATUSES.to_vec(),
        projects: found
            .runs
            .iter()
            .zip(managed)
            .zip(progress)
            .filter_map(|((run, managed), progress)| row_of(run, progress?, managed))
            .collect(),
        previous: (page_number > 1).then(|| page_link(&filters, page_number - 1)),
        next: found.has_more.then(|| page_link(&filters, page_number + 1)),
        filters,
        problem,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_links_keep_the_filters() {
        let filters = Filters {
            workflow: "article".into(),
            status: String::new(),
        };
        assert_eq!(
            page_link(&filters, 2),
            "/ui/projects?workflow=article&page=2"
        );
        for (value, _) in STATUSES {
            assert!(value.parse::<RunStatus>().is_ok(), "{value}");
        }
    }
}

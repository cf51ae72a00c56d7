//! `/ui/projects/{id}`: a project's fields and data, then (polled live until it finishes) its
//! status and progress, the DAG of its steps, and each step's task: its status, its
//! assignment (the person or the machine, when it started, its status), the work in
//! progress, the submitted snapshots, a machine step's result and error. Statuses and
//! assignments are the projects front's (`project_information`'s), in Orchestra's words.

use askama::Template;
use common::engine::model::TaskStatus;
use common::store::engine::runs::TaskView;
use common::store::projects::{ProjectRef, ProjectRun};
use serde_json::Value;

use super::super::html::{Chrome, datetime, duration, final_fragment, page};
use super::rounds::kind_word;
use super::{pretty, snapshot_time};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::fronts::projects::view::{
    assignment_json, human_task_status, is_human, project_state_status, review_assignment_json,
};
use crate::state::AppState;
use common::store::projects::control::ProjectState;

/// A submitted snapshot of an assignment.
#[derive(Debug, Clone)]
struct SnapshotRow {
    /// What it records: submitted, accepted or rejected.
    kind: &'static str,
    /// Who: the claimant, or the reviewer.
    by: String,
    datetime: String,
    work_time: String,
    data: String,
}

/// A step of the project and its task.
#[derive(Debug, Clone)]
struct StepRow {
    slug: String,
    description: String,
    human: bool,
    /// False until the task exists (its dependencies have not all finished).
    exists: bool,
    task_id: u64,
    /// Orchestra's word for the task's status.
    status: &'static str,
    /// The engine's status (the badge's colour).
    engine_status: &'static str,
    /// The steps it waits for, while it does not exist.
    waits_for: Vec<String>,
    /// Who holds the assignment: a person's key id, or the worker that ran a machine step.
    worker: String,
    /// Who reviews it, for a step under review, and their assignment's status.
    reviewer: String,
    review_status: String,
    assignment_status: String,
    started: String,
    took: String,
    in_progress: String,
    saved: String,
    snapshots: Vec<SnapshotRow>,
    result: String,
    error: String,
}

/// The live part of a project's page.
#[derive(Debug, Clone)]
struct ProjectLive {
    id: u64,
    status: &'static str,
    run_status: &'static str,
    finished: bool,
    done: usize,
    steps: usize,
    updated: String,
    failure: Option<(String, String)>,
    dag: String,
    rows: Vec<StepRow>,
}

#[derive(Template)]
#[template(path = "console/projects/project.html")]
struct ProjectPage {
    chrome: Chrome,
    id: u64,
    description: String,
    workflow: String,
    version: String,
    priority: i64,
    task_class: String,
    created: String,
    review_url: Option<String>,
    data: String,
    live: ProjectLive,
}

#[derive(Template)]
#[template(path = "console/projects/project_live.html")]
struct ProjectLiveFragment {
    live: ProjectLive,
}

/// Project `id` and its run, or 404.
async fn find_project(state: &AppState, id: u64) -> Result<(ProjectRef, ProjectRun), ApiError> {
    let not_found = || ApiError::NotFound(format!("no project {id}"));
    let project = state
        .store
        .projects(&[id])
        .await?
        .pop()
        .flatten()
        .ok_or_else(not_found)?;
    let record = state
        .store
        .project_runs(std::slice::from_ref(&project.run_id))
        .await?
        .pop()
        .flatten()
        .ok_or_else(not_found)?;
    Ok((project, record))
}

/// The snapshots of an assignment held by `by` (as `project_information` shows it).
fn snapshots_of(assignment: &Value, by: &str) -> Vec<SnapshotRow> {
    assignment["snapshots"]["snapshots"]
        .as_array()
        .map(|snapshots| {
            snapshots
                .iter()
                .map(|snapshot| {
                    // Orchestra marks the data's format in it; people need not see that.
                    let mut data = snapshot["data"].clone();
                    if let Some(object) = data.as_object_mut() {
                        object.remove("__version");
                    }
                    SnapshotRow {
                        kind: kind_word(snapshot["type"].as_u64().unwrap_or(0)),
                        by: by.to_owned(),
                        datetime: snapshot_time(snapshot),
                        work_time: snapshot["work_time_seconds"]
                            .as_u64()
                            .filter(|seconds| *seconds > 0)
                            .map(|seconds| duration(seconds * 1000))
                            .unwrap_or_default(),
                        data: pretty(&data),
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A human task's rounds: the claimant's submissions and the reviewer's decisions, oldest
/// first (a submission first when they share a second).
fn human_rounds(assignment: &Value, review: &Value) -> Vec<SnapshotRow> {
    let claimant = assignment["worker"].as_str().unwrap_or("");
    let reviewer = review["worker"].as_str().unwrap_or("");
    let mut rounds = snapshots_of(assignment, claimant);
    rounds.extend(snapshots_of(review, reviewer));
    // Stable: equal times keep the submission first.
    rounds.sort_by(|a, b| a.datetime.cmp(&b.datetime));
    rounds
}

fn step_row(
    state: &AppState,
    project: &ProjectRef,
    record: &ProjectRun,
    task: &TaskView,
) -> StepRow {
    let run = &record.run;
    let human = record.human.get(task.index).cloned().unwrap_or_default();
    let description = run.payload["workflow_slug"]
        .as_str()
        .and_then(|slug| state.projects.get(slug))
        .and_then(|workflow| workflow.steps.iter().find(|step| step.slug == task.key))
        .map(|step| step.description.clone())
        .unwrap_or_default();
    let exists = match task.status {
        TaskStatus::Pending => false,
        TaskStatus::Canceled => task.started_ms.is_some(),
        _ => true,
    };
    let assignment = assignment_json(project, task, &human).unwrap_or(Value::Null);
    let review = review_assignment_json(project, task, &human).unwrap_or(Value::Null);
    let person = is_human(task);
    StepRow {
        slug: task.key.clone(),
        description,
        human: person,
        exists,
        task_id: project.task_id(task.index),
        status: if exists {
            human_task_status(task, &human)
        } else {
            "Not started"
        },
        engine_status: task.status.as_str(),
        waits_for: task
            .depends_on
            .iter()
            .filter_map(|&dep| run.tasks.get(dep))
            .filter(|dep| dep.status != TaskStatus::Success)
            .map(|dep| dep.key.clone())
            .collect(),
        worker: task.worker.clone().unwrap_or_default(),
        reviewer: review["worker"].as_str().unwrap_or("").to_owned(),
        review_status: review["status"].as_str().unwrap_or("").to_owned(),
        assignment_status: assignment["status"].as_str().unwrap_or("").to_owned(),
        started: task.started_ms.map(datetime).unwrap_or_default(),
        took: match (task.started_ms, task.finished_ms) {
            (Some(started), Some(finished)) => duration(finished.saturating_sub(started)),
            _ => String::new(),
        },
        in_progress: if person {
            human.work.as_ref().map(pretty).unwrap_or_default()
        } else {
            String::new()
        },
        saved: human.saved_ms.map(datetime).unwrap_or_default(),
        // A machine step's snapshot is its result, shown already.
        snapshots: if person {
            human_rounds(&assignment, &review)
        } else {
            Vec::new()
        },
        result: if person {
            String::new()
        } else {
            task.result.as_ref().map(pretty).unwrap_or_default()
        },
        error: task.error.clone().unwrap_or_default(),
    }
}

fn project_live(
    state: &AppState,
    project: &ProjectRef,
    record: &ProjectRun,
    managed: Option<ProjectState>,
) -> ProjectLive {
    let run = &record.run;
    ProjectLive {
        id: project.id,
        status: project_state_status(run.status, managed),
        run_status: run.status.as_str(),
        finished: run.status.is_finished(),
        done: run
            .tasks
            .iter()
            .filter(|task| task.status == TaskStatus::Success)
            .count(),
        steps: run.tasks.len(),
        updated: datetime(run.updated_ms),
        failure: run
            .tasks
            .iter()
            .find(|task| task.status == TaskStatus::Error)
            .map(|task| (task.key.clone(), task.error.clone().unwrap_or_default())),
        dag: super::super::dag::draw(&run.tasks),
        rows: run
            .tasks
            .iter()
            .map(|task| step_row(state, project, record, task))
            .collect(),
    }
}

/// A link people may follow: http and https only.
fn safe_link(url: &str) -> Option<String> {
    let lower = url.trim().to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://")).then(|| url.trim().to_owned())
}

/// Project `id`'s state as its managers set it (a running project may be paused).
async fn managed_state(state: &AppState, id: u64) -> Result<Option<ProjectState>, ApiError> {
    Ok(state.store.project_statuses(&[id]).await?.pop().flatten())
}

/// `GET /ui/projects/{id}`.
pub async fn page_of_project(
    state: &AppState,
    caller: &Caller,
    id: u64,
) -> Result<warp::reply::Response, ApiError> {
    let (project, record) = find_project(state, id).await?;
    let managed = managed_state(state, id).await?;
    let payload = &record.run.payload;
    let text = |name: &str| payload[name].as_str().unwrap_or("").to_owned();
    let description = text("description");
    page(&ProjectPage {
        chrome: Chrome::new(caller, format!("Project {id}"), "projects"),
        id,
        workflow: text("workflow_slug"),
        version: text("workflow_version"),
        priority: payload["priority"].as_i64().unwrap_or(0),
        task_class: text("task_class"),
        created: datetime(record.run.created_ms),
        review_url: safe_link(payload["review_document_url"].as_str().unwrap_or("")),
        data: pretty(&payload["project_data"]),
        live: project_live(state, &project, &record, managed),
        description,
    })
}

/// `GET /ui/projects/{id}/live`: the status, DAG and steps, polled until the project finishes.
pub async fn live(state: &AppState, id: u64) -> Result<warp::reply::Response, ApiError> {
    let (project, record) = find_project(state, id).await?;
    let managed = managed_state(state, id).await?;
    let fragment = ProjectLiveFragment {
        live: project_live(state, &project, &record, managed),
    };
    if record.run.status.is_finished() {
        final_fragment(&fragment)
    } else {
        page(&fragment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_web_links_are_links() {
        assert_eq!(
            safe_link(" https://docs.example.com/r "),
            Some("https://docs.example.com/r".into())
        );
        assert_eq!(safe_link("HTTP://x"), Some("HTTP://x".into()));
        assert_eq!(safe_link("javascript:alert(1)"), None);
        assert_eq!(safe_link(""), None);
    }

    #[test]
    fn snapshots_read_from_the_assignment() {
        let assignment = json!({"snapshots": {"__version": 1, "snapshots": [
            {"data": {"title": "T", "__version": 1}, "datetime": "2026-01-02T03:04:05.000000", "work_time_seconds": 65, "type": 0}
        ]}});
        let rows = snapshots_of(&assignment, "alice");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].kind, "submitted");
        assert_eq!(rows[0].by, "alice");
        assert_eq!(rows[0].datetime, "2026-01-02 03:04:05");
        assert_eq!(rows[0].work_time, "1 min 5 s");
        assert_eq!(rows[0].data, "{\n  \"title\": \"T\"\n}");
        assert!(snapshots_of(&Value::Null, "alice").is_empty());
    }

    #[test]
    fn rounds_interleave_the_claimants_submissions_and_the_reviewers_decisions() {
        let snapshot = |at: &str, kind: u8| json!({"data": {}, "datetime": at, "type": kind});
        let assignment = json!({"worker": "alice", "snapshots": {"snapshots": [
            snapshot("2026-01-02T03:00:00.000000", 0),
            snapshot("2026-01-02T05:00:00.000000", 0),
        ]}});
        let review = json!({"worker": "bob", "snapshots": {"snapshots": [
            snapshot("2026-01-02T04:00:00.000000", 2),
            snapshot("2026-01-02T06:00:00.000000", 1),
        ]}});
        let rounds: Vec<(&str, String)> = human_rounds(&assignment, &review)
            .into_iter()
            .map(|round| (round.kind, round.by))
            .collect();
        assert_eq!(
            rounds,
            [
                ("submitted", "alice".to_owned()),
                ("rejected", "bob".to_owned()),
                ("submitted", "alice".to_owned()),
                ("accepted", "bob".to_owned()),
            ]
        );
    }
}

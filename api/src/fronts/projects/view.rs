//! Projects, tasks and assignments in Orchestra's shapes (`project_information`).
//!
//! Statuses in Orchestra's words: a project is `active` while its run is pending or in
//! progress (`paused` while its managers have paused it), then `completed` or `aborted`
//! (failed, or canceled: ended by its managers). A task is `Awaiting
//! Processing` while queued (a human task nobody claimed yet), `Processing` while it runs (or
//! waits for a retry), then `Complete`, or `Aborted` when it failed or was canceled. A task's
//! assignment exists once it has started: for a human step, the person who claimed it
//! (`worker`: their key id); for a machine step, the engine (`worker`: null). Its status is
//! `Processing`, then `Submitted` (a person submitted, or the machine step succeeded), or
//! `Failed`. A task is listed once it exists: available, started or finished; a task that was
//! waiting when its project was ended shows `Aborted`.
//!
//! A human step that requires review is `Pending Review` once submitted, `Reviewing` while a
//! reviewer holds it, `Post-review Processing` when the reviewer sent it back; the reviewer
//! has an assignment of their own, whose snapshots are their decisions (accept, reject), as
//! the claimant's are their submissions.

use common::engine::model::{RunStatus, TaskStatus};
use common::projects::project::TaskClass;
use common::projects::workflow::ProjectWorkflow;
use common::store::engine::runs::{RunView, TaskView};
use common::store::projects::control::ProjectState;
use common::store::projects::{HumanRecord, ProjectRef, ProjectRun, ReviewState};
use serde_json::{Map, Value, json};

use super::reply::{datetime_naive, datetime_utc};

/// Orchestra's type of a submitted snapshot.
pub const SNAPSHOT_SUBMIT: u8 = 0;
/// Orchestra's type of a reviewer's accepting snapshot.
pub const SNAPSHOT_ACCEPT: u8 = 1;
/// Orchestra's type of a reviewer's rejecting snapshot.
pub const SNAPSHOT_REJECT: u8 = 2;

/// A project's status in Orchestra's words.
pub fn project_status(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Pending | RunStatus::Progress => "active",
        RunStatus::Success => "completed",
        RunStatus::Error | RunStatus::Canceled => "aborted",
    }
}

/// A project's status in Orchestra's words, with the state its managers set (`state`): a
/// running project may be `paused`; a finished run says what it became.
pub fn project_state_status(status: RunStatus, state: Option<ProjectState>) -> &'static str {
    match (status, state) {
        (RunStatus::Pending | RunStatus::Progress, Some(state)) => match state {
            ProjectState::Active => project_status(status),
            ProjectState::Paused => "paused",
            ProjectState::Aborted => "aborted",
        },
        _ => project_status(status),
    }
}

/// A task's status in Orchestra's words.
pub fn task_status(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Pending | TaskStatus::Queued => "Awaiting Processing",
        TaskStatus::Running | TaskStatus::Retrying => "Processing",
        TaskStatus::Success => "Complete",
        TaskStatus::Error | TaskStatus::Canceled => "Aborted",
    }
}

/// A human task's status in Orchestra's words, its review included.
pub fn human_task_status(task: &TaskView, human: &HumanRecord) -> &'static str {
    match (task.status, human.review) {
        (TaskStatus::Running, Some(ReviewState::Pending)) => "Pending Review",
        (TaskStatus::Running, Some(ReviewState::Reviewing | ReviewState::Accepted)) => "Reviewing",
        (TaskStatus::Running, Some(ReviewState::PostReview)) => "Post-review Processing",
        (status, _) => task_status(status),
    }
}

/// True when the task of step `task` is a human step.
pub fn is_human(task: &TaskView) -> bool {
    task.queue.is_human()
}

/// A snapshot of submitted `data` (Orchestra adds `__version` to an object's data).
pub fn snapshot(data: &Value, at_ms: u64, work_time_seconds: u64, kind: u8) -> Value {
    let data = match data {
        Value::Object(object) => {
            let mut object = object.clone();
            object.insert("__version".into(), json!(1));
            Value::Object(object)
        }
        other => other.clone(),
    };
    json!({
        "data": data,
        "datetime": datetime_naive(at_ms),
        "work_time_seconds": work_time_seconds,
        "type": kind,
    })
}

/// The `project` object (`state`: the state its managers set).
pub fn project_json(project: &ProjectRef, run: &RunView, state: Option<ProjectState>) -> Value {
    let payload = &run.payload;
    let task_class = payload["task_class"]
        .as_str()
        .and_then(|class| TaskClass::parse(&json!(class)).ok())
        .map_or(Value::Null, |class| json!(class.as_number()));
    json!({
        "id": project.id,
        "short_description": payload["description"],
        "priority": payload["priority"],
        "review_document_url": payload["review_document_url"],
        "task_class": task_class,
        "project_data": payload["project_data"],
        "workflow_slug": payload["workflow_slug"],
        "workflow_version_slug": payload["workflow_version"],
        "start_datetime": datetime_utc(run.created_ms),
        "status": project_state_status(run.status, state),
    })
}

/// `project_information` for one project: `project`, `steps` and `tasks` keyed by step slug
/// (only tasks that exist: available, started or finished); `state` is the state its managers
/// set.
pub fn project_information(
    project: &ProjectRef,
    record: &ProjectRun,
    workflow: Option<&ProjectWorkflow>,
    state: Option<ProjectState>,
) -> Value {
    let run = &record.run;
    let steps: Vec<Value> = match workflow {
        Some(workflow) => workflow
            .steps
            .iter()
            .map(|step| json!([step.slug, step.description]))
            .collect(),
        None => run.tasks.iter().map(|task| json!([task.key, ""])).collect(),
    };
    let mut tasks = Map::new();
    for task in &run.tasks {
        let exists = match task.status {
            TaskStatus::Pending => false,
            // A canceled task existed if it had started, or was waiting (queued) when its
            // project was ended: every step before it had completed.
            TaskStatus::Canceled => {
                task.started_ms.is_some()
                    || task.depends_on.iter().all(|&dep| {
                        run.tasks
                            .get(dep)
                            .is_some_and(|dep| dep.status == TaskStatus::Success)
                    })
            }
            _ => true,
        };
        if exists {
            let human = record.human.get(task.index).cloned().unwrap_or_default();
            tasks.insert(task.key.clone(), task_json(project, task, &human));
        }
    }
    json!({
        "project": project_json(project, run, state),
        "steps": steps,
        "tasks": tasks,
    })
}

/// A task with its assignments.
pub fn task_json(project: &ProjectRef, task: &TaskView, human: &HumanRecord) -> Value {
    let latest_data = if is_human(task) {
        human.work.clone().unwrap_or(Value::Null)
    } else {
        task.result.clone().unwrap_or(Value::Null)
    };
    let assignments: Vec<Value> = assignment_json(project, task, human)
        .into_iter()
        .chain(review_assignment_json(project, task, human))
        .collect();
    json!({
        "id": project.task_id(task.index),
        "project": project.id,
        "status": human_task_status(task, human),
        "step_slug": task.key,
        "latest_data": latest_data,
        "assignments": assignments,
    })
}

/// The task's assignment, once it has started.
pub fn assignment_json(
    project: &ProjectRef,
    task: &TaskView,
    human: &HumanRecord,
) -> Option<Value> {
    let started_ms = task.started_ms?;
    let person = is_human(task);
    let status = match task.status {
        TaskStatus::Error | TaskStatus::Canceled => "Failed",
        TaskStatus::Success => "Submitted",
        _ if human.submitted => "Submitted",
        _ if matches!(
            human.review,
            Some(ReviewState::Pending | ReviewState::Reviewing | ReviewState::Accepted)
        ) =>
        {
            "Submitted"
        }
        _ => "Processing",
    };
    let (snapshots, in_progress) = if person {
        (
            human.snapshots.clone(),
            human.work.clone().unwrap_or_else(|| json!({})),
        )
    } else {
        let result = task.result.clone();
        let snapshots = match (task.status, task.finished_ms) {
            (TaskStatus::Success, Some(finished)) => vec![snapshot(
                result.as_ref().unwrap_or(&Value::Null),
                finished,
                finished.saturating_sub(started_ms) / 1000,
                SNAPSHOT_SUBMIT,
            )],
            _ => Vec::new(),
        };
        (snapshots, result.unwrap_or_else(|| json!({})))
    };
    Some(json!({
        "id": project.assignment_id(task.index),
        "snapshots": {"__version": 1, "snapshots": snapshots},
        "worker": if person { json!(task.worker) } else { Value::Null },
        "task": project.task_id(task.index),
        "in_progress_task_data": in_progress,
        "status": status,
        "start_datetime": datetime_utc(started_ms),
    }))
}

/// The reviewer's assignment of a human task, once someone reviews it: their decisions are
/// its snapshots.
pub fn review_assignment_json(
    project: &ProjectRef,
    task: &TaskView,
    human: &HumanRecord,
) -> Option<Value> {
    let id = human.review_assignment?;
    let status = match (task.status, human.review) {
        (TaskStatus::Error | TaskStatus::Canceled, _) => "Failed",
        (TaskStatus::Success, _) => "Submitted",
        (_, Some(ReviewState::Reviewing)) => "Processing",
        _ => "Submitted",
    };
    Some(json!({
        "id": id,
        "snapshots": {"__version": 1, "snapshots": human.review_snapshots},
        "worker": human.reviewer,
        "task": project.task_id(task.index),
        "in_progress_task_data": human.work.clone().unwrap_or_else(|| json!({})),
        "status": status,
        "start_datetime": human.review_started_ms.map(datetime_utc),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_project_shows_the_state_its_managers_set() {
        let running = RunStatus::Progress;
        assert_eq!(project_state_status(running, None), "active");
        assert_eq!(
            project_state_status(running, Some(ProjectState::Active)),
            "active"
        );
        assert_eq!(
            project_state_status(running, Some(ProjectState::Paused)),
            "paused"
        );
        assert_eq!(
            project_state_status(RunStatus::Pending, Some(ProjectState::Aborted)),
            "aborted"
        );
        // A finished run says what it became, whatever was set before.
        assert_eq!(
            project_state_status(RunStatus::Success, Some(ProjectState::Paused)),
            "completed"
        );
        assert_eq!(
            project_state_status(RunStatus::Canceled, Some(ProjectState::Paused)),
            "aborted"
        );
    }
}

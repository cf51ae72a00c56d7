//! Projects (Orchestra's): integer ids mapped to the runs of their workflows, and the human
//! tasks people claim, save and submit ([`human`]).
//!
//! Ids come from one counter (`{proj}:ids`, `INCRBY`): a project of `n` steps takes `2n + 1`
//! consecutive ids: its own, then one per task, then one per assignment, so a task's and an
//! assignment's ids follow from the project's. The project's hash (its run id and step count)
//! and the task → project index are written in one transaction before the run is created
//! (with the fixed id `project-ID`, so creating it again is harmless); a project whose run
//! does not exist (its creator died in between) is not found. Project runs never expire.

pub mod control;
pub mod human;
pub mod reassign;
pub mod tasks;

use std::collections::HashMap;

use redis::AsyncCommands;
use serde_json::Value;

use super::{Store, StoreResult};
use crate::engine::model::{RunKind, RunSpec};
use crate::error::StoreError;
use crate::projects::project::project_run_id;
use crate::store::engine::runs::{RunView, parse_run};
use crate::time::now_ms;

/// A project's place in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectRef {
    /// Its id.
    pub id: u64,
    /// Its run.
    pub run_id: String,
    /// How many steps (tasks) it has.
    pub steps: u64,
}

impl ProjectRef {
    /// The id of the task of step `index`.
    pub fn task_id(&self, index: usize) -> u64 {
        self.id + 1 + index as u64
    }

    /// The id of the assignment of the task of step `index` (one per task: a machine step's
    /// attempts, or the one person who claimed a human step).
    pub fn assignment_id(&self, index: usize) -> u64 {
        self.id + 1 + self.steps + index as u64
    }

    /// The step index of task `task_id`, when it is one of this project's tasks.
    pub fn task_index(&self, task_id: u64) -> Option<usize> {
        let index = task_id.checked_sub(self.id + 1)?;
        (index < self.steps).then_some(index as usize)
    }
}

/// What a person did on a human task, as recorded on it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HumanRecord {
    /// The latest work saved or submitted.
    pub work: Option<Value>,
    /// When work was last saved (Unix ms).
    pub saved_ms: Option<u64>,
    /// The latest submission's snapshot (`{data, datetime, work_time_seconds, type}`).
    pub snapshot: Option<Value>,
    /// Every submission's snapshot, oldest first (several when a review sent it back).
    pub snapshots: Vec<Value>,
    /// True once submitted for good (without review, or accepted by the reviewer).
    pub submitted: bool,
    /// Where its review stands, for a step that requires one.
    pub review: Option<ReviewState>,
    /// The reviewer's key id, once someone reviews it.
    pub reviewer: Option<String>,
    /// The reviewer's assignment id.
    pub review_assignment: Option<u64>,
    /// When the review started (Unix ms).
    pub review_started_ms: Option<u64>,
    /// The reviewer's decisions (accept, reject), oldest first.
    pub review_snapshots: Vec<Value>,
}

/// Where a human task's review stands, as `tN.review` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum ReviewState {
    /// Submitted, waiting for a reviewer.
    Pending,
    /// A reviewer holds it.
    Reviewing,
    /// Sent back to its claimant, who works on it again.
    PostReview,
    /// Accepted: the step completes with it.
    Accepted,
}

/// A project's run, with what people recorded on each of its tasks (by task index).
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectRun {
    /// The run and its tasks.
    pub run: RunView,
    /// People's records, by task index (empty records for machine steps).
    pub human: Vec<HumanRecord>,
}

/// What people recorded on task `index` of a run, from the run hash's fields `tN.*`.
pub(crate) fn human_record(fields: &HashMap<String, String>, index: usize) -> HumanRecord {
    let get = |name: &str| fields.get(&format!("t{index}.{name}"));
    let json = |name: &str| get(name).and_then(|text| serde_json::from_str(text).ok());
    let list = |name: &str| match json(name) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    };
    let snapshot = json("snapshot");
    let mut snapshots = list("snapshots");
    if snapshots.is_empty() {
        snapshots.extend(snapshot.clone());
    }
    HumanRecord {
        work: json("work"),
        saved_ms: get("saved").and_then(|ms| ms.parse().ok()),
        snapshot,
        snapshots,
        submitted: get("submitted").is_some_and(|flag| flag == "1"),
        review: get("review").and_then(|state| state.parse().ok()),
        reviewer: get("reviewer").cloned(),
        review_assignment: get("review_assignment").and_then(|id| id.parse().ok()),
        review_started_ms: get("review_started").and_then(|ms| ms.parse().ok()),
        review_snapshots: list("review_snapshots"),
    }
}

/// The fields `tN.*` [`human_record`] reads.
pub(crate) const HUMAN_FIELDS: [&str; 10] = [
    "work",
    "saved",
    "snapshot",
    "snapshots",
    "submitted",
    "review",
    "reviewer",
    "review_assignment",
    "review_started",
    "review_snapshots",
];

impl Store {
    /// Reads the runs of projects, in order (`None` for a run that does not exist or is not a
    /// project: another front's run is never shown as one).
    pub async fn project_runs(&self, run_ids: &[String]) -> StoreResult<Vec<Option<ProjectRun>>> {
        self.run_hashes(run_ids)
            .await?
            .iter()
            .zip(run_ids)
            .map(|(fields, id)| {
                if fields.is_empty() {
                    return Ok(None);
                }
                let run = parse_run(id, fields)?;
                if !self.runs_of(RunKind::Project).owns(&run) {
                    return Ok(None);
                }
                let human = (0..run.tasks.len())
                    .map(|index| human_record(fields, index))
                    .collect();
                Ok(Some(ProjectRun { run, human }))
            })
            .collect()
    }

    /// Creates a project of `steps` steps: allocates its ids, records them, then creates the
    /// run `build` makes for the project's id. Returns the project.
    pub async fn create_project(
        &self,
        steps: usize,
        build: impl FnOnce(u64) -> RunSpec,
    ) -> StoreResult<ProjectRef> {
        let mut conn = self.conn().await?;
        let steps = steps as u64;
        let last: u64 = conn.incr(self.keys.project_ids(), 2 * steps + 1).await?;
        let id = last - 2 * steps;
        let project = ProjectRef {
            id,
            run_id: project_run_id(id),
            steps,
        };
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset_multiple(
                self.keys.project(id),
                &[
                    ("run", project.run_id.clone()),
                    ("steps", steps.to_string()),
                    ("created", now_ms().to_string()),
                ],
            )
            .ignore();
        let tasks: Vec<(u64, u64)> = (0..steps as usize)
            .map(|index| (project.task_id(index), id))
            .collect();
        if !tasks.is_empty() {
            pipe.hset_multiple(self.keys.project_tasks(), &tasks)
                .ignore();
        }
        pipe.query_async::<()>(&mut conn).await?;
        let mut spec = build(id);
        spec.id = Some(project.run_id.clone());
        self.create_run(&spec).await?;
        Ok(project)
    }

    /// The projects of `ids`, in order (`None` for an unknown id).
    pub async fn projects(&self, ids: &[u64]) -> StoreResult<Vec<Option<ProjectRef>>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.hgetall(self.keys.project(*id));
        }
        let all: Vec<HashMap<String, String>> = pipe.query_async(&mut conn).await?;
        ids.iter()
            .zip(all)
            .map(|(id, fields)| {
                if fields.is_empty() {
                    return Ok(None);
                }
                let run_id = fields
                    .get("run")
                    .cloned()
                    .ok_or_else(|| StoreError::Corrupt(format!("project {id} without a run")))?;
                let steps = fields
                    .get("steps")
                    .and_then(|steps| steps.parse().ok())
                    .ok_or_else(|| StoreError::Corrupt(format!("project {id} without steps")))?;
                Ok(Some(ProjectRef {
                    id: *id,
                    run_id,
                    steps,
                }))
            })
            .collect()
    }

    /// The project of task `task_id`, with the task's step index.
    pub async fn task_project(&self, task_id: u64) -> StoreResult<Option<(ProjectRef, usize)>> {
        let mut conn = self.conn().await?;
        let project: Option<u64> = conn.hget(self.keys.project_tasks(), task_id).await?;
        let Some(project) = project else {
            return Ok(None);
        };
        let found = self.projects(&[project]).await?.pop().flatten();
        Ok(found.and_then(|project| {
            let index = project.task_index(task_id)?;
            Some((project, index))
        }))
    }
}

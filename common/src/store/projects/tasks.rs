//! One task of a project's run, read without the run's other tasks: what the human-task
//! lists, a claim and a task's pages show (its project's fields, the task as the engine and
//! people recorded it, and the results of the steps it depends on).
//!
//! The tasks of one shard are read by one call of `project_tasks.lua` (one `HMGET` of the
//! task's and its run's fields, one per dependency), all shards in one pipeline: one round
//! trip for a page, whatever the projects' sizes.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::{HUMAN_FIELDS, HumanRecord, human_record};
use crate::engine::model::{Priority, RunKind};
use crate::error::StoreError;
use crate::keys::Shard;
use crate::scripts;
use crate::store::engine::runs::{
    TaskDefaults, TaskView, parse_task, stored_kind, stored_priority, stored_queue,
};
use crate::store::{Store, StoreResult};

/// The run fields a project task is read with.
const RUN_FIELDS: [&str; 7] = [
    "kind",
    "definition",
    "payload",
    "priority",
    "ntasks",
    "created",
    "queue",
];

/// The task fields ([`parse_task`]'s) a project task is read with (then [`HUMAN_FIELDS`]);
/// `deps` first, as `project_tasks.lua` expects.
const TASK_FIELDS: [&str; 16] = [
    "deps", "id", "key", "status", "attempt", "queue", "retries", "result", "error", "progress",
    "worker", "hook", "created", "updated", "started", "finished",
];

/// One task of a project's run, with what its pages show of the run.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectTask {
    /// The project's run.
    pub run_id: String,
    /// The run's payload (the project's fields as Orchestra names them).
    pub payload: Value,
    /// The priority of the run's jobs.
    pub priority: Priority,
    /// How many tasks (steps) the run has.
    pub steps: usize,
    /// The task as the engine holds it.
    pub task: TaskView,
    /// What people recorded on it.
    pub human: HumanRecord,
    /// The key and result (`null` for none) of each task it depends on, in order.
    pub prerequisites: Vec<(String, Value)>,
}

/// One task's answer from `project_tasks.lua`: its run's and its own fields, then the key and
/// result of each task it depends on, in turn.
type TaskReply = (Vec<Option<String>>, Vec<Option<String>>);

impl Store {
    /// Tasks `(run id, task index)` of project runs, in order, in one round trip; `None` for a
    /// run that does not exist or is not a project, or a task index it does not have.
    pub async fn project_tasks(
        &self,
        tasks: &[(String, usize)],
    ) -> StoreResult<Vec<Option<ProjectTask>>> {
        if tasks.is_empty() {
            return Ok(Vec::new());
        }
        let mut by_shard: BTreeMap<Shard, Vec<usize>> = BTreeMap::new();
        for (position, (run_id, _)) in tasks.iter().enumerate() {
            by_shard
                .entry(self.keys.shard_of(run_id))
                .or_default()
                .push(position);
        }
        let mut pipe = redis::pipe();
        for positions in by_shard.values() {
            let mut invocation = scripts::PROJECT_TASKS.prepare_invoke();
            invocation.arg(RUN_FIELDS.len()).arg(&RUN_FIELDS[..]);
            invocation
                .arg(TASK_FIELDS.len() + HUMAN_FIELDS.len())
                .arg(&TASK_FIELDS[..])
                .arg(&HUMAN_FIELDS[..]);
            for &position in positions {
                let (run_id, index) = &tasks[position];
                invocation.key(self.keys.run(run_id)).arg(*index);
            }
            pipe.invoke_script(&invocation);
        }
        let mut conn = self.conn().await?;
        let replies: Vec<Vec<TaskReply>> = self.query_pipeline(&mut conn, &pipe).await?;
        let mut found: Vec<Option<ProjectTask>> = vec![None; tasks.len()];
        for (positions, replies) in by_shard.values().zip(replies) {
            if replies.len() != positions.len() {
                return Err(StoreError::UnexpectedReply {
                    script: "project_tasks",
                    reply: format!("{} tasks for {}", replies.len(), positions.len()),
                });
            }
            for (&position, reply) in positions.iter().zip(replies) {
                let (run_id, index) = &tasks[position];
                found[position] = project_task(run_id, *index, reply)?;
            }
        }
        Ok(found)
    }
}

/// A task from its reply; `None` when its run is missing or not a project's, or lacks it.
fn project_task(
    run_id: &str,
    index: usize,
    (values, prerequisites): TaskReply,
) -> StoreResult<Option<ProjectTask>> {
    let task_prefix = format!("t{index}.");
    let names = RUN_FIELDS.iter().map(|name| (*name).to_owned()).chain(
        TASK_FIELDS
            .iter()
            .chain(&HUMAN_FIELDS)
            .map(|name| format!("{task_prefix}{name}")),
    );
    let mut fields: HashMap<String, String> = names
        .zip(values)
        .filter_map(|(name, value)| Some((name, value?)))
        .collect();
    let Some(definition) = fields.get("definition") else {
        return Ok(None);
    };
    if stored_kind(fields.get("kind").map(String::as_str), definition)? != RunKind::Project {
        return Ok(None);
    }
    let number = |name: &str| fields.get(name).and_then(|value| value.parse::<u64>().ok());
    let steps = number("ntasks").unwrap_or(0) as usize;
    if index >= steps {
        return Ok(None);
    }
    let queue = stored_queue(fields.get("queue").map(String::as_str))?;
    let run = TaskDefaults {
        run_id,
        created_ms: number("created").unwrap_or(0),
        queue: &queue,
    };
    let task = parse_task(&fields, index, &run)?;
    let priority = stored_priority(fields.get("priority").map(String::as_str))?;
    let payload = fields
        .remove("payload")
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or(Value::Null);
    let prerequisites = prerequisites
        .chunks(2)
        .filter_map(|pair| {
            let key = pair.first()?.clone()?;
            let result = pair
                .get(1)
                .cloned()
                .flatten()
                .filter(|text| !text.is_empty())
                .and_then(|text| serde_json::from_str(&text).ok())
                .unwrap_or(Value::Null);
            Some((key, result))
        })
        .collect();
    Ok(Some(ProjectTask {
        run_id: run_id.to_owned(),
        payload,
        priority,
        steps,
        human: human_record(&fields, index),
        task,
        prerequisites,
    }))
}

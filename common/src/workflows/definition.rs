//! A workflow's definition: as loaded from Director's YAML ([`WorkflowDefinition`], what
//! Director's API shows of it, with its [`Hooks`]) and as compiled and stored ([`Definition`]:
//! a named DAG of tasks, its queue and priority, an optional periodic schedule, hooks and
//! retention), with the runs it makes.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::schema::PayloadSchema;
use crate::engine::model::{Priority, QueueName, RunHooks, RunKind, RunSpec, TaskSpec};
use crate::engine::schedule::{CronSchedule, Periodic};
use crate::error::InvalidInput;

/// How often a definition runs by itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeriodicSpec {
    /// Fixed interval in seconds.
    #[serde(default)]
    pub interval: Option<u64>,
    /// Cron expression: 5 Unix fields (`m h dom mon dow`), or the cron crate's 6-7 fields.
    #[serde(default)]
    pub crontab: Option<String>,
    /// Payload of the runs it fires.
    #[serde(default)]
    pub payload: Value,
}

impl PeriodicSpec {
    /// The schedule: exactly one of `interval` and `crontab` must be given.
    pub fn schedule(&self) -> Result<Periodic, InvalidInput> {
        match (&self.interval, &self.crontab) {
            (Some(seconds), None) => Periodic::interval_secs(*seconds),
            (None, Some(expression)) => Ok(Periodic::Cron(CronSchedule::parse(expression)?)),
            _ => Err(InvalidInput::new(
                "periodic needs exactly one of 'interval' and 'crontab'",
            )),
        }
    }
}

/// A workflow definition: a named DAG of tasks, its queue, and an optional periodic schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Definition {
    /// Full name (`project.NAME`).
    pub name: String,
    /// The tasks, with dependencies by index.
    pub tasks: Vec<TaskSpec>,
    /// Default queue of the tasks.
    #[serde(default)]
    pub queue: QueueName,
    /// Priority of its jobs.
    #[serde(default)]
    pub priority: Priority,
    /// Fires by itself on this schedule.
    #[serde(default)]
    pub periodic: Option<PeriodicSpec>,
    /// Hook tasks (among `tasks`) run when a run finishes.
    #[serde(default)]
    pub hooks: RunHooks,
    /// Only the newest this many runs are kept (Director's `retention.offset`); all when
    /// `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_offset: Option<u64>,
}

impl Definition {
    /// A run of this definition with `payload`.
    pub fn run_spec(&self, payload: Value) -> RunSpec {
        RunSpec {
            id: None,
            definition: self.name.clone(),
            kind: RunKind::Workflow,
            payload,
            tasks: self.tasks.clone(),
            queue: self.queue.clone(),
            priority: self.priority,
            periodic: false,
            not_before_ms: None,
            hooks: self.hooks.clone(),
        }
    }

    /// The run a periodic schedule fires for the slot starting at `slot_ms`. Its id is derived
    /// from the definition and the slot, so every scheduler that fires the slot creates the
    /// same run, and the slot fires exactly once.
    pub fn periodic_run_spec(&self, prefix: &str, slot_ms: u64) -> RunSpec {
        let payload = self
            .periodic
            .as_ref()
            .map(|periodic| periodic.payload.clone())
            .unwrap_or(Value::Null);
        let seed = format!("{prefix}/{}/{slot_ms}", self.name);
        RunSpec {
            id: Some(uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, seed.as_bytes()).to_string()),
            periodic: true,
            ..self.run_spec(payload)
        }
    }
}

/// Hook task names of a workflow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hooks {
    /// Runs when the workflow succeeds.
    pub success: Option<String>,
    /// Runs when the workflow fails.
    pub failure: Option<String>,
}

/// A loaded workflow: what Director's API shows, and the compiled definition.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowDefinition {
    /// `project.NAME`.
    pub fullname: String,
    /// The project (before the dot).
    pub project: String,
    /// The name (after the dot).
    pub name: String,
    /// `tasks` as written, for `GET /api/definitions`.
    pub tasks_yaml: Value,
    /// `periodic` as written.
    pub periodic_json: Option<Value>,
    /// The payload's JSON Schema (read from its file when given by name), compiled.
    pub schema: Option<PayloadSchema>,
    /// Hook task names.
    pub hooks: Hooks,
    /// Keep only the last N runs (Director's `retention.offset`).
    pub retention_offset: Option<u64>,
    /// The compiled DAG, followed by the hook tasks (`is_hook`) that [`Definition::hooks`]
    /// points at.
    pub definition: Definition,
    /// The file it came from.
    pub source: PathBuf,
}

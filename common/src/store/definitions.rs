//! Workflow definitions as the scheduler and the fronts see them, and the periodic slots fired.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Store, StoreResult};
use crate::error::{InvalidInput, StoreError};
use crate::model::{Priority, QueueName, RunHooks, RunKind, RunSpec, TaskSpec};
use crate::schedule::{CronSchedule, Periodic};
use crate::scripts;

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

impl Store {
    /// Stores (or replaces) a definition.
    pub async fn put_definition(&self, definition: &Definition) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        redis::cmd("HSET")
            .arg(self.keys.definitions())
            .arg(&definition.name)
            .arg(serde_json::to_string(definition)?)
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    /// Every stored definition, by name.
    pub async fn definitions(&self) -> StoreResult<Vec<Definition>> {
        let mut conn = self.conn().await?;
        let all: Vec<String> = redis::cmd("HVALS")
            .arg(self.keys.definitions())
            .query_async(&mut conn)
            .await?;
        let mut definitions: Vec<Definition> = all
            .iter()
            .filter_map(|text| match serde_json::from_str(text) {
                Ok(definition) => Some(definition),
                Err(error) => {
                    tracing::warn!(cause = %error, "skipping an unreadable stored definition");
                    None
                }
            })
            .collect();
        definitions.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(definitions)
    }

    /// The last slot fired for a periodic definition (Unix ms).
    pub async fn last_fired_slot(&self, name: &str) -> StoreResult<Option<u64>> {
        let mut conn = self.conn().await?;
        Ok(redis::cmd("HGET")
            .arg(self.keys.periodic_slots())
            .arg(name)
            .query_async(&mut conn)
            .await?)
    }

    /// Fires the slot `slot_ms` of a periodic definition at `now_ms` (its run's creation
    /// time): creates its run (once, whoever asks) and records the slot; returns the run id.
    pub async fn fire_periodic(
        &self,
        definition: &Definition,
        slot_ms: u64,
        now_ms: u64,
    ) -> StoreResult<String> {
        let spec = definition.periodic_run_spec(self.keys.prefix(), slot_ms);
        let id = self
            .create_runs_at(std::slice::from_ref(&spec), now_ms)
            .await?
            .pop()
            .ok_or_else(|| StoreError::Corrupt("no run id returned".into()))?;
        let mut conn = self.conn().await?;
        scripts::ADVANCE_SLOT
            .key(self.keys.periodic_slots())
            .arg(&definition.name)
            .arg(slot_ms)
            .invoke_async::<i64>(&mut conn)
            .await?;
        Ok(id)
    }
}

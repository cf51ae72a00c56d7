//! The release lifecycle: creating a release with its tasks, guarded transitions of tasks and
//! releases (`release_step.lua`), and the phase runs that send the protocol's actions.
//!
//! A phase is a Baton run with a fixed id (`release-RE_X-start`), one task per release task to
//! call, so ensuring a phase any number of times makes one run. Transitions are compare-and-set
//! and repeating one is a no-op, so a job executed again after a crash heals instead of doubling.

use redis::AsyncCommands;

use super::{Store, StoreResult};
use crate::engine::executor::DomainPayload;
use crate::engine::model::{
    Priority, QueueName, RunHooks, RunKind, RunSpec, TaskSpec, release_definition,
};
use crate::error::{InvalidInput, StoreError};
use crate::releases::call::ReleaseCall;
use crate::releases::records::{Release, Study, Task, TaskService};
use crate::releases::{IdKind, ReleaseState, TaskState, Version, phase_run_id};
use crate::scripts;
use crate::store::record_fields;
use crate::time::now_ms;

/// Events one step may write at most.
const EVENTS_PER_STEP: usize = 8;
/// Attempts of a phase task after the first, for when Redis cannot be reached.
const PHASE_TASK_RETRIES: u32 = 3;
/// Seconds a phase task may take (one HTTP call and a few store writes).
const PHASE_TASK_TIMEOUT_SECS: u64 = 120;

/// What a new release is made of.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewRelease {
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Who starts it.
    pub author: String,
    /// Whether publishing makes the next major version.
    pub is_major: bool,
    /// Free tags.
    pub tags: Vec<String>,
    /// Study ids (`SD_...`); those not kept yet are made, named by their id (with a data
    /// service, the API mirrors them from it first).
    pub studies: Vec<String>,
}

/// What a step asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Move a task of the release to `to`, if it is in a state that may become it.
    Task {
        /// The task.
        task: String,
        /// Its new state.
        to: TaskState,
        /// Progress to record, if any.
        progress: Option<u8>,
        /// Why, appended to the event's message.
        reason: Option<String>,
    },
    /// Move the release to `to` from one of `from`.
    Release {
        /// Its new state.
        to: ReleaseState,
        /// The states it may come from.
        from: Vec<ReleaseState>,
    },
    /// Only recompute the release's state from its tasks'.
    Recompute,
}

/// How a step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepResult {
    /// The state changed.
    Changed,
    /// It was already in the new state; nothing changed (but the progress).
    Same,
    /// It is in a state that may not become the new one.
    Refused,
    /// No such release or task.
    Missing,
}

/// A step's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepOutcome {
    /// How it went.
    pub result: StepResult,
    /// The state of the task (or release) before the step.
    pub previous: String,
    /// The release's state after the step.
    pub release_state: Option<ReleaseState>,
}

fn unfinished_release_states() -> Vec<ReleaseState> {
    ReleaseState::ALL
        .iter()
        .copied()
        .filter(|state| !state.is_finished() && *state != ReleaseState::Canceling)
        .collect()
}

fn join_states<'a>(states: impl IntoIterator<Item = &'a str>) -> String {
    states.into_iter().collect::<Vec<_>>().join(",")
}

impl Store {
    /// The latest published version (`0.0.0` before the first publication).
    pub async fn latest_published_version(&self) -> StoreResult<Version> {
        let mut conn = self.conn().await?;
        let text: Option<String> = conn.hget(self.keys.releases_meta(), "version").await?;
        Ok(text.and_then(|text| text.parse().ok()).unwrap_or_default())
    }

    /// Creates a release with one task per enabled task service, moves it to `initializing`
    /// and ensures its initialize phase. Returns it as it is then.
    pub async fn create_release(&self, new: &NewRelease) -> StoreResult<Release> {
        if let Some(bad) = new.studies.iter().find(|id| !IdKind::Study.is_valid(id)) {
            return Err(InvalidInput::new(format!(
                "'{bad}' is not a study id (SD_ and 8 uppercase letters or digits)"
            ))
            .into());
        }
        let services = self.task_services(true).await?;
        let now = now_ms();
        let release_id = IdKind::Release.new_id();
        let tasks: Vec<Task> = services
            .iter()
            .map(|service| Task {
                kf_id: IdKind::Task.new_id(),
                release: release_id.clone(),
                task_service: service.kf_id.clone(),
                service_name: service.name.clone(),
                state: TaskState::Waiting,
                progress: 0,
                created_ms: now,
                updated_ms: now,
            })
            .collect();
        let mut studies: Vec<String> = Vec::with_capacity(new.studies.len());
        for study in &new.studies {
            if !studies.contains(study) {
                studies.push(study.clone());
            }
        }
        let release = Release {
            kf_id: release_id.clone(),
            name: new.name.clone(),
            description: new.description.clone(),
            author: new.author.clone(),
            is_major: new.is_major,
            state: ReleaseState::Waiting,
            version: self
                .latest_published_version()
                .await?
                .next_patch()
                .to_string(),
            tags: new.tags.clone(),
            studies: studies.clone(),
            tasks: tasks.iter().map(|task| task.kf_id.clone()).collect(),
            created_ms: now,
            updated_ms: now,
        };
        let mut pipe = redis::pipe();
        pipe.atomic();
        for study in &studies {
            // A study no data service described (none is set): its id is its name.
            let record = Study {
                kf_id: study.clone(),
                name: study.clone(),
                version: None,
                visible: true,
                last_pub_version: None,
                last_pub_date_ms: None,
                deleted: false,
                created_ms: now,
            };
            let key = self.keys.release_record("study", study);
            for (field, value) in super::records::Record::to_fields(&record)? {
                pipe.hset_nx(&key, field, value).ignore();
            }
            pipe.cmd("ZADD")
                .arg(self.keys.release_index("study"))
                .arg("NX")
                .arg(now)
                .arg(study)
                .ignore();
        }
        for task in &tasks {
            super::add_record(self, &mut pipe, task)?;
        }
        super::add_record(self, &mut pipe, &release)?;
        pipe.zadd(self.keys.releases_active(), &release_id, now)
            .ignore();
        let mut conn = self.conn().await?;
        pipe.query_async::<()>(&mut conn).await?;
        self.ensure_release_phase(&release_id).await?;
        self.release_record::<Release>(&release_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("release {release_id} vanished")))
    }

    /// One guarded step of `release_id` (see [`Step`]), its release recomputed, with events.
    pub async fn release_step(&self, release_id: &str, step: &Step) -> StoreResult<StepOutcome> {
        let missing = StepOutcome {
            result: StepResult::Missing,
            previous: String::new(),
            release_state: None,
        };
        if !IdKind::Release.is_valid(release_id) {
            return Ok(missing);
        }
        let mut conn = self.conn().await?;
        let (tasks, studies): (Option<String>, Option<String>) = redis::cmd("HMGET")
            .arg(self.keys.release_record("release", release_id))
            .arg("tasks")
            .arg("studies")
            .query_async(&mut conn)
            .await?;
        let list = |text: Option<String>| -> StoreResult<Vec<String>> {
            record_fields::list_value("release", &text.unwrap_or_default())
        };
        let (tasks, studies) = (list(tasks)?, list(studies)?);
        let event_ids: Vec<String> = (0..EVENTS_PER_STEP)
            .map(|_| IdKind::Event.new_id())
            .collect();
        let (mode, position, new_state, allowed, progress, reason) = match step {
            Step::Task {
                task,
                to,
                progress,
                reason,
            } => {
                let Some(position) = tasks.iter().position(|id| id == task) else {
                    return Ok(missing);
                };
                (
                    "task",
                    position + 1,
                    to.as_str(),
                    join_states(to.predecessors().iter().map(|s| s.as_str())),
                    progress.map(|p| p.min(100).to_string()).unwrap_or_default(),
                    reason.clone().unwrap_or_default(),
                )
            }
            Step::Release { to, from } => (
                "release",
                0,
                to.as_str(),
                join_states(from.iter().map(|s| s.as_str())),
                String::new(),
                String::new(),
            ),
            Step::Recompute => (
                "recompute",
                0,
                "",
                String::new(),
                String::new(),
                String::new(),
            ),
        };
        let mut invocation = scripts::RELEASE_STEP.prepare_invoke();
        invocation
            .key(self.keys.release_record("release", release_id))
            .key(self.keys.release_index("event"))
            .key(self.keys.releases_meta())
            .key(self.keys.releases_active());
        for id in &event_ids {
            invocation.key(self.keys.release_record("event", id));
        }
        for task in &tasks {
            invocation.key(self.keys.release_record("task", task));
        }
        for study in &studies {
            invocation.key(self.keys.release_record("study", study));
        }
        invocation
            .arg(now_ms())
            .arg(tasks.len())
            .arg(mode)
            .arg(position)
            .arg(new_state)
            .arg(allowed)
            .arg(progress)
            .arg(reason);
        for id in &event_ids {
            invocation.arg(id);
        }
        invocation
            .arg(self.keys.release_index_by_prefix("event"))
            .arg(self.keys.release_index_by_prefix("task"))
            .arg(self.keys.release_index_by_prefix("release"));
        let (outcome, previous, release_state): (String, String, String) =
            match invocation.invoke_async(&mut conn).await {
                Err(error)
                    if error.kind()
                        == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) =>
                {
                    self.load_scripts().await?;
                    invocation.invoke_async(&mut conn).await?
                }
                other => other?,
            };
        let result = match outcome.as_str() {
            "changed" => StepResult::Changed,
            "same" => StepResult::Same,
            "refused" => StepResult::Refused,
            _ => StepResult::Missing,
        };
        Ok(StepOutcome {
            result,
            previous,
            release_state: release_state.parse().ok(),
        })
    }

    /// Moves task `task_id` to `to` (guarded by the task state machine) and recomputes its
    /// release.
    pub async fn apply_task_state(
        &self,
        task_id: &str,
        to: TaskState,
        progress: Option<u8>,
        reason: Option<String>,
    ) -> StoreResult<StepOutcome> {
        let Some(task) = self.release_record::<Task>(task_id).await? else {
            return Ok(StepOutcome {
                result: StepResult::Missing,
                previous: String::new(),
                release_state: None,
            });
        };
        // A state further along than recorded is reached through the steps in between, each
        // a guarded transition with its event.
        let steps = task
            .state
            .steps_to(to)
            .filter(|steps| steps.len() > 1)
            .unwrap_or_else(|| vec![to]);
        let mut outcome = None;
        for state in steps {
            outcome = Some(
                self.release_step(
                    &task.release,
                    &Step::Task {
                        task: task_id.to_owned(),
                        to: state,
                        progress,
                        reason: reason.clone(),
                    },
                )
                .await?,
            );
        }
        Ok(outcome.unwrap_or(StepOutcome {
            result: StepResult::Missing,
            previous: String::new(),
            release_state: None,
        }))
    }

    /// Starts publishing a staged release. Refused unless it is `staged` (or already
    /// `publishing`, which changes nothing).
    pub async fn publish_release(&self, release_id: &str) -> StoreResult<StepOutcome> {
        let outcome = self
            .release_step(
                release_id,
                &Step::Release {
                    to: ReleaseState::Publishing,
                    from: vec![ReleaseState::Staged],
                },
            )
            .await?;
        if matches!(outcome.result, StepResult::Changed | StepResult::Same) {
            self.ensure_release_phase(release_id).await?;
        }
        Ok(outcome)
    }

    /// Cancels an unfinished release: `canceling`, then its cancel phase. Refused when the
    /// release has finished.
    pub async fn cancel_release(&self, release_id: &str) -> StoreResult<StepOutcome> {
        let outcome = self
            .release_step(
                release_id,
                &Step::Release {
                    to: ReleaseState::Canceling,
                    from: unfinished_release_states(),
                },
            )
            .await?;
        if matches!(outcome.result, StepResult::Changed | StepResult::Same) {
            self.ensure_release_phase(release_id).await?;
        }
        Ok(outcome)
    }

    /// The tasks of a release, in its order.
    pub async fn release_tasks(&self, release: &Release) -> StoreResult<Vec<Task>> {
        Ok(self
            .release_records::<Task>(&release.tasks)
            .await?
            .into_iter()
            .flatten()
            .collect())
    }

    /// Every task service, or only the enabled ones.
    pub async fn task_services(&self, only_enabled: bool) -> StoreResult<Vec<TaskService>> {
        Ok(self
            .list_release_records::<TaskService>(
                if only_enabled {
                    &[("enabled", "1")]
                } else {
                    &[]
                },
                0,
                usize::MAX,
            )
            .await?
            .items)
    }

    /// Ids of the releases not finished yet (and of failed ones whose other tasks are not
    /// canceled yet), oldest first.
    pub async fn active_release_ids(&self, limit: usize) -> StoreResult<Vec<String>> {
        let mut conn = self.conn().await?;
        Ok(conn
            .zrange(self.keys.releases_active(), 0, limit.max(1) as isize - 1)
            .await?)
    }

    /// Ensures the phase run the release's current state calls for (a waiting release is
    /// moved to `initializing` first). Returns the phase's run id, if one is due and has
    /// tasks to call.
    pub async fn ensure_release_phase(&self, release_id: &str) -> StoreResult<Option<String>> {
        let Some(mut release) = self.release_record::<Release>(release_id).await? else {
            return Ok(None);
        };
        if release.state == ReleaseState::Waiting {
            self.release_step(
                release_id,
                &Step::Release {
                    to: ReleaseState::Initializing,
                    from: vec![ReleaseState::Waiting],
                },
            )
            .await?;
            match self.release_record::<Release>(release_id).await? {
                Some(fresh) => release = fresh,
                None => return Ok(None),
            }
        }
        let Some(action) = release.state.due_phase() else {
            return Ok(None);
        };
        let run_id = phase_run_id(release_id, action);
        let mut conn = self.conn().await?;
        let exists: bool = conn.exists(self.keys.run(&run_id)).await?;
        if exists {
            return Ok(Some(run_id));
        }
        let tasks: Vec<Task> = self
            .release_tasks(&release)
            .await?
            .into_iter()
            .filter(|task| action.sent_in().contains(&task.state))
            .collect();
        if tasks.is_empty() {
            return Ok(None);
        }
        let service_ids: Vec<String> = tasks.iter().map(|t| t.task_service.clone()).collect();
        let services = self.release_records::<TaskService>(&service_ids).await?;
        let mut specs = Vec::with_capacity(tasks.len());
        for (task, service) in tasks.iter().zip(services) {
            let call = ReleaseCall {
                release: release_id.to_owned(),
                task: task.kf_id.clone(),
                action,
                url: service.map(|service| service.url).unwrap_or_default(),
                studies: release.studies.clone(),
            };
            specs.push(TaskSpec {
                key: format!("{}:{}", action.as_str(), task.kf_id),
                executor: serde_json::to_value(call.executor()?)?,
                depends_on: Vec::new(),
                queue: None,
                max_retries: PHASE_TASK_RETRIES,
                timeout_secs: Some(PHASE_TASK_TIMEOUT_SECS),
                is_hook: false,
            });
        }
        let spec = RunSpec {
            id: Some(run_id.clone()),
            definition: release_definition(release_id),
            kind: RunKind::Release,
            payload: serde_json::json!({"release": release_id, "action": action.as_str()}),
            tasks: specs,
            queue: QueueName::default(),
            priority: Priority::High,
            periodic: false,
            not_before_ms: None,
            hooks: RunHooks::default(),
        };
        self.create_run(&spec).await?;
        tracing::info!(release = %release_id, run = %run_id, action = %action, "release phase run created");
        Ok(Some(run_id))
    }
}

//! The domain: runs, tasks, attempts and jobs, with their statuses as typed enums.
//!
//! A **run** is a DAG of **tasks**. Each task is executed by one or more **attempts**; each attempt
//! is a **job**: an entry on a queue's stream that names the run, the task and the attempt.

use std::fmt;

use serde::{Deserialize, Serialize};

use strum::{Display, EnumString, IntoStaticStr, VariantArray, VariantNames};

use crate::error::{InvalidInput, unknown_name};

/// Where a run is in its life: `pending → progress → success | error | canceled`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    EnumString,
    Display,
    IntoStaticStr,
    VariantArray,
    VariantNames,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase", parse_err_ty = InvalidInput, parse_err_fn = unknown_name::<Self>)]
pub enum RunStatus {
    /// Created; no task has started yet.
    Pending,
    /// At least one task has started.
    Progress,
    /// Every task succeeded.
    Success,
    /// A task failed for good.
    Error,
    /// Canceled by a client.
    Canceled,
}

impl RunStatus {
    /// The name as stored in Redis and shown to clients.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// True once the run can no longer change by itself.
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Success | Self::Error | Self::Canceled)
    }
}

/// The front a run belongs to. Each front reads, cancels and relaunches only runs of its
/// own kind (see [`crate::store::engine::front_runs`]); the kind is stored with the run when it is
/// created and never changes.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    EnumString,
    Display,
    IntoStaticStr,
    VariantArray,
    VariantNames,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase", parse_err_ty = InvalidInput, parse_err_fn = unknown_name::<Self>)]
pub enum RunKind {
    /// A Director workflow (`/api/workflows`), including periodic ones.
    Workflow,
    /// An OrderlyWeb report run (`/api/v1/reports`).
    Report,
    /// A phase of a Release Coordinator release (`/releases`).
    Release,
    /// An Orchestra project (`/orchestra/api`).
    Project,
}

impl RunKind {
    /// The name as stored in Redis and shown to clients.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// True for runs the workflow listing shows: Director's own. Report runs are listed by
    /// their keys, release phases shown as tasks, projects by their ids.
    pub fn is_listed(self) -> bool {
        self == Self::Workflow
    }

    /// True for runs kept after they finish instead of expiring with the retention period:
    /// projects, which people look up long after they are done, as they do in Orchestra.
    pub fn is_kept(self) -> bool {
        self == Self::Project
    }

    /// The kind of a run stored before runs recorded their kind: told by the prefix its
    /// definition name was given ([`report_definition`], [`release_definition`],
    /// [`project_definition`]); any other name is a workflow's.
    pub fn of_legacy_definition(definition: &str) -> Self {
        if definition.starts_with(REPORT_DEFINITION_PREFIX) {
            Self::Report
        } else if definition.starts_with(RELEASE_DEFINITION_PREFIX) {
            Self::Release
        } else if definition.starts_with(PROJECT_DEFINITION_PREFIX) {
            Self::Project
        } else {
            Self::Workflow
        }
    }
}

/// Where a task is in its life.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    EnumString,
    Display,
    IntoStaticStr,
    VariantArray,
    VariantNames,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase", parse_err_ty = InvalidInput, parse_err_fn = unknown_name::<Self>)]
pub enum TaskStatus {
    /// Waiting for its dependencies.
    Pending,
    /// Its job is on a stream (or delayed), waiting for a worker.
    Queued,
    /// A worker is executing an attempt.
    Running,
    /// An attempt failed; the next one is scheduled after a backoff delay.
    Retrying,
    /// Finished successfully; its result is stored with it.
    Success,
    /// Failed for good (retries exhausted or a permanent error).
    Error,
    /// Canceled before or while it ran.
    Canceled,
}

impl TaskStatus {
    /// The name as stored in Redis and shown to clients.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// True once the task can no longer change by itself.
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Success | Self::Error | Self::Canceled)
    }
}

/// Job priority within a queue: high is served first, low is never starved.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    EnumString,
    Display,
    IntoStaticStr,
    VariantArray,
    VariantNames,
    Default,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase", parse_err_ty = InvalidInput, parse_err_fn = unknown_name::<Self>)]
pub enum Priority {
    /// Served before normal and low.
    High,
    /// The default.
    #[default]
    Normal,
    /// Served after the others, but still served.
    Low,
}

impl Priority {
    /// The name as stored in Redis and shown to clients.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Every priority, highest first.
    pub const ALL: [Priority; 3] = [Priority::High, Priority::Normal, Priority::Low];
}

/// A queue name: 1 to 64 characters of ASCII letters, digits, `-`, `_` and `.`.
///
/// Queue names end up inside Redis keys and hash tags, so braces, colons and spaces are refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct QueueName(String);

impl std::str::FromStr for QueueName {
    type Err = InvalidInput;

    fn from_str(name: &str) -> Result<Self, InvalidInput> {
        Self::parse(name)
    }
}

impl QueueName {
    /// Validates a queue name.
    pub fn parse(name: &str) -> Result<Self, InvalidInput> {
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if valid {
            Ok(Self(name.to_owned()))
        } else {
            Err(InvalidInput::new(format!(
                "invalid queue name '{name}': use 1-64 letters, digits, '-', '_' or '.'"
            )))
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The queue of human steps: `human`.
    pub fn human() -> Self {
        Self(HUMAN_QUEUE.to_owned())
    }

    /// True for a queue of human tasks: `human`, or a name starting with `human.`. People hold
    /// their jobs for hours, so these queues are never reclaimed, and workers never consume them.
    pub fn is_human(&self) -> bool {
        self.0 == HUMAN_QUEUE
            || self
                .0
                .strip_prefix(HUMAN_QUEUE)
                .is_some_and(|rest| rest.starts_with('.'))
    }
}

/// The queue of human steps (see [`QueueName::is_human`]).
const HUMAN_QUEUE: &str = "human";

impl Default for QueueName {
    fn default() -> Self {
        Self("default".to_owned())
    }
}

impl TryFrom<String> for QueueName {
    type Error = InvalidInput;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<QueueName> for String {
    fn from(value: QueueName) -> Self {
        value.0
    }
}

impl fmt::Display for QueueName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One task of a run as it is submitted: what to execute and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSpec {
    /// The task's name within its definition (Director's task name, e.g. `EXTRACT`).
    pub key: String,
    /// How to execute it, as JSON; validated by the worker at execution time.
    pub executor: serde_json::Value,
    /// Indices (within the run) of the tasks this one waits for.
    #[serde(default)]
    pub depends_on: Vec<usize>,
    /// Queue the task's jobs go to; the run's queue when absent.
    #[serde(default)]
    pub queue: Option<QueueName>,
    /// Attempts after the first one before the task fails for good.
    #[serde(default)]
    pub max_retries: u32,
    /// Seconds an attempt may run before it is killed; no limit when absent.
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// True for a hook task (run on success or failure of the workflow).
    #[serde(default)]
    pub is_hook: bool,
}

/// Hook tasks of a run: run once when the run finishes, by outcome. They are tasks of the run
/// (marked `is_hook`), outside its DAG: they never hold up its status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunHooks {
    /// Index of the task to run when the run succeeds.
    #[serde(default)]
    pub on_success: Option<usize>,
    /// Index of the task to run when the run fails.
    #[serde(default)]
    pub on_failure: Option<usize>,
}

/// A run as it is submitted: its tasks (a DAG), payload and placement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    /// Run id; a fresh UUID when absent. A fixed id makes creation idempotent.
    #[serde(default)]
    pub id: Option<String>,
    /// Name of the definition the run was made from (e.g. `example.ETL`).
    pub definition: String,
    /// The front the run belongs to.
    pub kind: RunKind,
    /// The payload every task receives.
    #[serde(default)]
    pub payload: serde_json::Value,
    /// The run's tasks; dependencies refer to indices in this list.
    pub tasks: Vec<TaskSpec>,
    /// Default queue for the tasks.
    #[serde(default)]
    pub queue: QueueName,
    /// Priority of every job of the run.
    #[serde(default)]
    pub priority: Priority,
    /// True when the scheduler fired it from a periodic definition.
    #[serde(default)]
    pub periodic: bool,
    /// Not before this time (Unix milliseconds); now when absent.
    #[serde(default)]
    pub not_before_ms: Option<u64>,
    /// Hook tasks run when the run finishes.
    #[serde(default)]
    pub hooks: RunHooks,
}

/// How the definition of a report run is named: `report:NAME`.
const REPORT_DEFINITION_PREFIX: &str = "report:";

/// The definition name of runs of report `name`.
pub fn report_definition(name: &str) -> String {
    format!("{REPORT_DEFINITION_PREFIX}{name}")
}

/// How the definition of a release's phase runs is named: `release:RE_...`.
const RELEASE_DEFINITION_PREFIX: &str = "release:";

/// The definition name of the phase runs of release `id`.
pub fn release_definition(id: &str) -> String {
    format!("{RELEASE_DEFINITION_PREFIX}{id}")
}

/// How the definition of a project's run is named: `project:WORKFLOW_SLUG`.
const PROJECT_DEFINITION_PREFIX: &str = "project:";

/// The definition name of the runs of projects of workflow `slug`.
pub fn project_definition(slug: &str) -> String {
    format!("{PROJECT_DEFINITION_PREFIX}{slug}")
}

impl RunSpec {
    /// A workflow run of `definition` with `payload` and one task `key` that runs `executor`
    /// once (no retries), on the default queue at normal priority; the store picks its id.
    pub fn one_task(
        definition: &str,
        key: &str,
        executor: serde_json::Value,
        payload: serde_json::Value,
    ) -> Self {
        Self {
            id: None,
            definition: definition.into(),
            kind: RunKind::Workflow,
            payload,
            tasks: vec![TaskSpec {
                key: key.into(),
                executor,
                depends_on: vec![],
                queue: None,
                max_retries: 0,
                timeout_secs: None,
                is_hook: false,
            }],
            queue: QueueName::default(),
            priority: Priority::Normal,
            periodic: false,
            not_before_ms: None,
            hooks: Default::default(),
        }
    }

    /// Checks the DAG: at least one task, dependencies in range, no cycles.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        if self.tasks.is_empty() {
            return Err(InvalidInput::new("a run needs at least one task"));
        }
        let count = self.tasks.len();
        for hook in [self.hooks.on_success, self.hooks.on_failure]
            .into_iter()
            .flatten()
        {
            if !self.tasks.get(hook).is_some_and(|task| task.is_hook) {
                return Err(InvalidInput::new(format!(
                    "hook {hook} is not a hook task of the run"
                )));
            }
        }
        if self.tasks.iter().all(|task| task.is_hook) {
            return Err(InvalidInput::new(
                "a run needs at least one task that is not a hook",
            ));
        }
        for (index, task) in self.tasks.iter().enumerate() {
            if let Some(bad) = task
                .depends_on
                .iter()
                .find(|&&dep| dep >= count || dep == index)
            {
                return Err(InvalidInput::new(format!(
                    "task {index} ('{}') depends on invalid task index {bad}",
                    task.key
                )));
            }
        }
        // Kahn's algorithm: every task must be reachable from the roots.
        let mut remaining: Vec<usize> = self.tasks.iter().map(|t| t.depends_on.len()).collect();
        let mut ready: Vec<usize> = (0..count).filter(|&i| remaining[i] == 0).collect();
        let mut visited = 0;
        while let Some(done) = ready.pop() {
            visited += 1;
            for (index, task) in self.tasks.iter().enumerate() {
                for dep in &task.depends_on {
                    if *dep == done {
                        remaining[index] -= 1;
                        if remaining[index] == 0 {
                            ready.push(index);
                        }
                    }
                }
            }
        }
        if visited == count {
            Ok(())
        } else {
            Err(InvalidInput::new("the task graph has a cycle"))
        }
    }

    /// Successors of every task: the tasks that list it in `depends_on`. Hooks are nobody's
    /// successors: their dependencies only say whose results they receive.
    pub fn successors(&self) -> Vec<Vec<usize>> {
        let mut successors = vec![Vec::new(); self.tasks.len()];
        for (index, task) in self
            .tasks
            .iter()
            .enumerate()
            .filter(|(_, task)| !task.is_hook)
        {
            for &dep in &task.depends_on {
                successors[dep].push(index);
            }
        }
        successors
    }
}

/// A reference to one attempt of one task: what a job on a stream carries.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct JobRef {
    /// The run.
    pub run_id: String,
    /// The task's index within the run.
    pub task: u32,
    /// The attempt, from 1.
    pub attempt: u32,
    /// How many times this attempt has been delivered to a worker before (0 for the first).
    pub redeliveries: u32,
}

impl JobRef {
    /// The compact form used as a sorted-set member and in dead-letter records:
    /// `RUN|TASK|ATTEMPT|REDELIVERIES`.
    pub fn encode(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.run_id, self.task, self.attempt, self.redeliveries
        )
    }

    /// Parses the compact form written by [`JobRef::encode`].
    pub fn decode(text: &str) -> Result<Self, InvalidInput> {
        let mut parts = text.split('|');
        let bad = || InvalidInput::new(format!("malformed job reference '{text}'"));
        let run_id = parts.next().filter(|s| !s.is_empty()).ok_or_else(bad)?;
        let mut number = || -> Result<u32, InvalidInput> {
            parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)
        };
        let task = number()?;
        let attempt = number()?;
        let redeliveries = number()?;
        Ok(Self {
            run_id: run_id.to_owned(),
            task,
            attempt,
            redeliveries,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(key: &str, deps: &[usize]) -> TaskSpec {
        TaskSpec {
            key: key.into(),
            executor: serde_json::json!({"type": "handler", "name": "noop"}),
            depends_on: deps.to_vec(),
            queue: None,
            max_retries: 0,
            timeout_secs: None,
            is_hook: false,
        }
    }

    fn run(tasks: Vec<TaskSpec>) -> RunSpec {
        RunSpec {
            id: None,
            definition: "t.test".into(),
            kind: RunKind::Workflow,
            payload: serde_json::Value::Null,
            tasks,
            queue: QueueName::default(),
            priority: Priority::Normal,
            periodic: false,
            not_before_ms: None,
            hooks: RunHooks::default(),
        }
    }

    #[test]
    fn diamond_dag_is_valid_and_has_successors() {
        let spec = run(vec![
            task("a", &[]),
            task("b", &[0]),
            task("c", &[0]),
            task("d", &[1, 2]),
        ]);
        assert!(spec.validate().is_ok());
        assert_eq!(
            spec.successors(),
            vec![vec![1, 2], vec![3], vec![3], vec![]]
        );
    }

    #[test]
    fn cycles_and_bad_indices_are_refused() {
        assert!(
            run(vec![task("a", &[1]), task("b", &[0])])
                .validate()
                .is_err()
        );
        assert!(run(vec![task("a", &[5])]).validate().is_err());
        assert!(run(vec![task("a", &[0])]).validate().is_err());
        assert!(run(vec![]).validate().is_err());
    }

    #[test]
    fn run_kinds_read_as_stored_and_from_legacy_definitions() {
        for kind in [
            RunKind::Workflow,
            RunKind::Report,
            RunKind::Release,
            RunKind::Project,
        ] {
            assert_eq!(kind.as_str().parse::<RunKind>().unwrap(), kind);
        }
        assert!("workflows".parse::<RunKind>().is_err());
        assert_eq!(
            RunKind::of_legacy_definition(&report_definition("minimal")),
            RunKind::Report
        );
        assert_eq!(
            RunKind::of_legacy_definition(&release_definition("RE_1")),
            RunKind::Release
        );
        assert_eq!(
            RunKind::of_legacy_definition(&project_definition("review")),
            RunKind::Project
        );
        assert_eq!(
            RunKind::of_legacy_definition("example.ETL"),
            RunKind::Workflow
        );
        assert!(RunKind::Workflow.is_listed() && !RunKind::Project.is_listed());
        assert!(RunKind::Project.is_kept() && !RunKind::Report.is_kept());
    }

    #[test]
    fn queue_names_reject_key_breaking_characters() {
        assert!(QueueName::parse("reports.fast-1").is_ok());
        for bad in ["", "a b", "q{x}", "a:b", &"x".repeat(65)] {
            assert!(QueueName::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn human_queues_are_named_human() {
        assert!(QueueName::human().is_human());
        assert!(QueueName::parse("human.review").unwrap().is_human());
        for other in ["default", "humans", "human-x", "reports"] {
            assert!(!QueueName::parse(other).unwrap().is_human(), "{other}");
        }
    }

    #[test]
    fn job_refs_round_trip_and_reject_garbage() {
        let job = JobRef {
            run_id: "r-1".into(),
            task: 3,
            attempt: 2,
            redeliveries: 1,
        };
        assert_eq!(JobRef::decode(&job.encode()).unwrap(), job);
        for bad in ["", "r|x|1|0", "r|1|1", "|1|1|0"] {
            assert!(JobRef::decode(bad).is_err(), "{bad:?} accepted");
        }
    }
}

//! Runs: creating them (idempotently, with their indexes and first jobs in one script per
//! shard), reading them, canceling them, and reading their tasks' logs.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use redis::AsyncCommands;
use serde_json::Value;

use super::run_summaries::listed_at_creation;
use crate::engine::model::{Priority, QueueName, RunKind, RunSpec, RunStatus, TaskStatus};
use crate::error::{InvalidInput, StoreError};
use crate::keys::Shard;
use crate::scripts;
use crate::store::{Store, StoreResult};
use crate::time::now_ms;

/// Most lines kept in one run's log stream; older lines are trimmed.
pub const LOG_MAX_LINES: usize = 10_000;

/// A run as stored: its fields and its tasks.
#[derive(Debug, Clone, PartialEq)]
pub struct RunView {
    /// Run id.
    pub id: String,
    /// Definition it was made from.
    pub definition: String,
    /// The front it belongs to.
    pub kind: RunKind,
    /// Current status.
    pub status: RunStatus,
    /// Creation time (Unix ms).
    pub created_ms: u64,
    /// Last change (Unix ms).
    pub updated_ms: u64,
    /// When it finished (Unix ms), once it has.
    pub finished_ms: Option<u64>,
    /// The payload every task receives.
    pub payload: Value,
    /// True when fired by the scheduler from a periodic definition.
    pub periodic: bool,
    /// Default queue of its tasks.
    pub queue: QueueName,
    /// Priority of its jobs.
    pub priority: Priority,
    /// Not before this time (Unix ms), when the run was created delayed.
    pub not_before_ms: Option<u64>,
    /// Its tasks, by index.
    pub tasks: Vec<TaskView>,
}

/// A task as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskView {
    /// Index within the run.
    pub index: usize,
    /// Task id (a UUID).
    pub id: String,
    /// Name within the definition.
    pub key: String,
    /// Current status.
    pub status: TaskStatus,
    /// Current attempt, from 1.
    pub attempt: u32,
    /// Indices of the tasks it depends on.
    pub depends_on: Vec<usize>,
    /// Queue its jobs go to.
    pub queue: QueueName,
    /// Retries allowed after the first attempt.
    pub max_retries: u32,
    /// The result of the successful attempt.
    pub result: Option<Value>,
    /// The last error.
    pub error: Option<String>,
    /// Progress, 0 to 100.
    pub progress: u8,
    /// The worker running (or that last ran) it.
    pub worker: Option<String>,
    /// True for a hook task.
    pub is_hook: bool,
    /// Creation time (Unix ms).
    pub created_ms: u64,
    /// Last change (Unix ms).
    pub updated_ms: u64,
    /// Start of the current attempt (Unix ms).
    pub started_ms: Option<u64>,
    /// When it finished (Unix ms).
    pub finished_ms: Option<u64>,
}

/// What canceling a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    /// The run does not exist.
    NotFound,
    /// The run had already finished with this status; nothing changed.
    AlreadyFinished(RunStatus),
    /// The run is canceled; these tasks were running and their workers were told to stop them.
    Canceled {
        /// Indices of the tasks that were running.
        running: Vec<u32>,
    },
}

/// Something a running task reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskReport {
    /// One line of its log.
    Log(String),
    /// Its progress, 0 to 100.
    Progress(u8),
}

/// One line of a task's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Stream entry id: pass it back as `after` to read only newer lines.
    pub id: String,
    /// Index of the task that wrote it.
    pub task: u32,
    /// The line.
    pub line: String,
}

impl Store {
    /// Creates one run and enqueues its first jobs; returns its id.
    pub async fn create_run(&self, spec: &RunSpec) -> StoreResult<String> {
        let mut ids = self.create_runs(std::slice::from_ref(spec)).await?;
        ids.pop()
            .ok_or_else(|| StoreError::Corrupt("no run id returned".into()))
    }

    /// Creates runs, indexes them and enqueues their first jobs; returns their ids.
    ///
    /// Creation is idempotent per run id: a spec whose `id` already exists is left as it is.
    /// Runs are grouped by shard and each shard's are created by one script call, so a run,
    /// its indexes and its first jobs appear together or not at all. The shards' calls are
    /// sent one by one as they are built and their replies awaited together.
    pub async fn create_runs(&self, specs: &[RunSpec]) -> StoreResult<Vec<String>> {
        self.create_runs_at(specs, now_ms()).await
    }

    /// [`Store::create_runs`] with the creation time given (Unix ms), for callers that answer
    /// with the new run without reading it back.
    pub async fn create_runs_at(&self, specs: &[RunSpec], now: u64) -> StoreResult<Vec<String>> {
        let mut by_shard: BTreeMap<Shard, Vec<(String, &RunSpec)>> = BTreeMap::new();
        let mut ids = Vec::with_capacity(specs.len());
        for spec in specs {
            spec.validate()?;
            let id = spec
                .id
                .clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            by_shard
                .entry(self.keys.shard_of(&id))
                .or_default()
                .push((id.clone(), spec));
            ids.push(id);
        }
        let queues: BTreeSet<QueueName> = distinct_queues(specs).into_iter().collect();
        for queue in &queues {
            self.ensure_queue(queue).await?;
        }

        // Each shard's call is sent as soon as it is built (when there are several), so that
        // Redis runs one while the next is built.
        let several = by_shard.len() > 1;
        let mut sent = Vec::with_capacity(by_shard.len());
        for (shard, runs) in &by_shard {
            let mut pipe = redis::pipe();
            // The kinds of the shard's runs, whose indexes the call writes.
            let mut kinds: Vec<RunKind> = Vec::new();
            for (_, spec) in runs {
                if !kinds.contains(&spec.kind) {
                    kinds.push(spec.kind);
                }
            }
            let mut call = self.shard_call(&scripts::CREATE_RUNS, *shard, &kinds, &queues);
            let specs: Vec<&RunSpec> = runs.iter().map(|(_, spec)| *spec).collect();
            let shapes = RunShapes::of(&specs);
            call.arg(now)
                .arg(listed_at_creation(now))
                .arg(shapes.shapes.len());
            for (spec, values) in &shapes.shapes {
                call.key(
                    self.keys
                        .definition_index(*shard, spec.kind, &spec.definition),
                );
                for value in values {
                    call.arg(value);
                }
            }
            for ((id, spec), shape) in runs.iter().zip(&shapes.of_run) {
                call.key(self.keys.run(id))
                    .arg(id)
                    .arg(shape + 1)
                    .arg(spec.payload.to_string());
            }
            call.add_to(&mut pipe);
            self.wait_for_replicas(&mut pipe);
            sent.push(if several {
                SentWrite::Spawned(self.spawn_write(pipe))
            } else {
                SentWrite::Built(pipe)
            });
        }
        let mut created: Vec<Vec<i64>> = Vec::with_capacity(sent.len());
        for write in sent {
            let replies = match write {
                SentWrite::Spawned(reply) => reply.await.map_err(|error| {
                    if error.is_panic() {
                        std::panic::resume_unwind(error.into_panic())
                    }
                    StoreError::Interrupted
                })??,
                SentWrite::Built(pipe) => {
                    let mut conn = self.acknowledged_writes_conn();
                    self.query_pipeline(&mut conn, &pipe).await?
                }
            };
            created.extend(self.replicated::<Vec<i64>>(replies)?);
        }
        let runs: usize = created.iter().map(Vec::len).sum();
        if runs != specs.len() {
            return Err(StoreError::UnexpectedReply {
                script: "create_runs",
                reply: format!("{runs} results for {} runs", specs.len()),
            });
        }
        Ok(ids)
    }

    /// Reads a run with its tasks; `None` when it does not exist (or expired).
    pub async fn get_run(&self, run_id: &str) -> StoreResult<Option<RunView>> {
        let mut conn = self.conn().await?;
        let fields: HashMap<String, String> = conn.hgetall(self.keys.run(run_id)).await?;
        if fields.is_empty() {
            return Ok(None);
        }
        parse_run(run_id, &fields).map(Some)
    }

    /// The whole hashes of several runs, in order, in one round trip (empty for a run that no
    /// longer exists).
    pub(crate) async fn run_hashes(
        &self,
        run_ids: &[String],
    ) -> StoreResult<Vec<HashMap<String, String>>> {
        if run_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        for id in run_ids {
            pipe.hgetall(self.keys.run(id));
        }
        Ok(pipe.query_async(&mut conn).await?)
    }

    /// Reads several runs in one round trip, skipping those that no longer exist.
    pub async fn get_runs(&self, run_ids: &[String]) -> StoreResult<Vec<RunView>> {
        self.run_hashes(run_ids)
            .await?
            .iter()
            .zip(run_ids)
            .filter(|(fields, _)| !fields.is_empty())
            .map(|(fields, id)| parse_run(id, fields))
            .collect()
    }

    /// The fields `fields` of each run of `run_ids`, in order, in one round trip (an `HMGET`
    /// per run), each run's decoded as `T`: a tuple with an `Option` per field.
    pub(crate) async fn run_fields<T: redis::FromRedisValue>(
        &self,
        run_ids: &[String],
        fields: &[&str],
    ) -> StoreResult<Vec<T>> {
        if run_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        for id in run_ids {
            pipe.cmd("HMGET").arg(self.keys.run(id)).arg(fields);
        }
        self.query_pipeline(&mut conn, &pipe).await
    }

    /// The status of each run (`None` for a run that no longer exists), in one round trip.
    pub async fn run_statuses(&self, run_ids: &[String]) -> StoreResult<Vec<Option<RunStatus>>> {
        if run_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        for id in run_ids {
            pipe.hget(self.keys.run(id), "status");
        }
        let statuses: Vec<Option<String>> = pipe.query_async(&mut conn).await?;
        Ok(statuses
            .into_iter()
            .map(|status| status.and_then(|s| s.parse().ok()))
            .collect())
    }

    /// Ids of workflow runs, newest first: `limit` of them after skipping `offset`.
    pub async fn list_run_ids(&self, offset: usize, limit: usize) -> StoreResult<Vec<String>> {
        let mut query = super::run_index::RunQuery::new(RunKind::Workflow, limit);
        query.offset = offset;
        Ok(self
            .list_runs(&query)
            .await?
            .runs
            .into_iter()
            .map(|run| run.id)
            .collect())
    }

    /// Cancels a run: its queued tasks will never start and its running tasks are killed by
    /// their workers, which hear of it on the cancel channel (and by polling, should they miss it).
    pub async fn cancel_run(&self, run_id: &str) -> StoreResult<CancelOutcome> {
        let mut conn = self.conn().await?;
        let reply: Vec<String> = scripts::CANCEL_RUN
            .key(self.keys.run(run_id))
            .key(self.keys.run_log(run_id))
            .arg(now_ms())
            .arg(self.retention_secs)
            .invoke_async(&mut conn)
            .await?;
        let outcome = match reply.first().map(String::as_str) {
            Some("canceled") => CancelOutcome::Canceled {
                running: reply[1..]
                    .iter()
                    .filter_map(|index| index.parse().ok())
                    .collect(),
            },
            Some("finished") => {
                let status = reply.get(1).map(String::as_str).unwrap_or("");
                CancelOutcome::AlreadyFinished(status.parse()?)
            }
            _ => CancelOutcome::NotFound,
        };
        if matches!(outcome, CancelOutcome::Canceled { .. }) {
            conn.publish::<_, _, ()>(self.keys.cancel_channel(), run_id)
                .await?;
            self.reindex_runs(&[run_id.to_owned()]).await?;
        }
        Ok(outcome)
    }

    /// Records what running tasks reported (log lines and progress), in one round trip.
    pub async fn record_reports(&self, reports: &[(String, u32, TaskReport)]) -> StoreResult<()> {
        if reports.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        for (run_id, task, report) in reports {
            let (kind, value) = match report {
                TaskReport::Log(line) => ("log", line.clone()),
                TaskReport::Progress(percent) => ("progress", percent.to_string()),
            };
            pipe.invoke_script(
                scripts::REPORT
                    .key(self.keys.run(run_id))
                    .key(self.keys.run_log(run_id))
                    .arg(task)
                    .arg(kind)
                    .arg(value)
                    .arg(LOG_MAX_LINES),
            )
            .ignore();
        }
        self.query_pipeline(&mut conn, &pipe).await
    }

    /// Lines of a run's log, oldest first, after entry id `after` (from the start when `None`),
    /// for one task or for all of them.
    pub async fn read_log(
        &self,
        run_id: &str,
        task: Option<u32>,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<LogLine>> {
        let mut conn = self.conn().await?;
        let start = after
            .map(|id| format!("({id}"))
            .unwrap_or_else(|| "-".to_owned());
        let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(self.keys.run_log(run_id))
            .arg(start)
            .arg("+")
            .arg("COUNT")
            .arg(limit.max(1))
            .query_async(&mut conn)
            .await?;
        Ok(reply
            .ids
            .into_iter()
            .filter_map(|entry| {
                let line_task: u32 = entry.get::<String>("t")?.parse().ok()?;
                let line = entry.get::<String>("m")?;
                (task.is_none() || task == Some(line_task)).then_some(LogLine {
                    id: entry.id,
                    task: line_task,
                    line,
                })
            })
            .collect())
    }
}

/// Every queue the runs' tasks use, each once, in order.
fn distinct_queues(specs: &[RunSpec]) -> Vec<QueueName> {
    let mut queues: Vec<QueueName> = specs
        .iter()
        .flat_map(|spec| {
            spec.tasks
                .iter()
                .map(move |task| task.queue.clone().unwrap_or_else(|| spec.queue.clone()))
        })
        .collect();
    queues.sort();
    queues.dedup();
    queues
}

fn join_indices(indices: &[usize]) -> String {
    indices
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The shapes of runs created by one call: what each run shares with others but its id and
/// payload, as the creation script takes it, each distinct shape once.
struct RunShapes<'a> {
    /// Each distinct shape: a run of it, and its values.
    shapes: Vec<(&'a RunSpec, Vec<String>)>,
    /// Each run's shape, as an index into `shapes`.
    of_run: Vec<usize>,
}

impl<'a> RunShapes<'a> {
    /// The shapes of `specs`, in the order they first appear.
    fn of(specs: &[&'a RunSpec]) -> Self {
        if let [spec] = specs {
            return Self {
                shapes: vec![(*spec, shape_values(spec))],
                of_run: vec![0],
            };
        }
        let mut firsts: Vec<&RunSpec> = Vec::new();
        let mut known: HashMap<Vec<String>, usize> = HashMap::new();
        let of_run = specs
            .iter()
            .map(|spec| {
                *known.entry(shape_values(spec)).or_insert_with(|| {
                    firsts.push(spec);
                    firsts.len() - 1
                })
            })
            .collect();
        let mut values: Vec<Option<Vec<String>>> = vec![None; firsts.len()];
        for (shape, index) in known {
            values[index] = Some(shape);
        }
        let shapes = firsts
            .into_iter()
            .zip(values.into_iter().flatten())
            .collect();
        Self { shapes, of_run }
    }
}

/// A run's shape as the creation script takes it: kind, definition, priority, queue, due
/// time (0 for now), task count, the number of further values and those values
/// ([`further_fields`]), then each task's key, executor, queue and status.
fn shape_values(spec: &RunSpec) -> Vec<String> {
    let further = further_fields(spec);
    let mut values = Vec::with_capacity(7 + 2 * further.len() + 4 * spec.tasks.len());
    values.extend([
        spec.kind.as_str().to_owned(),
        spec.definition.clone(),
        spec.priority.as_str().to_owned(),
        spec.queue.as_str().to_owned(),
        spec.not_before_ms.unwrap_or(0).to_string(),
        spec.tasks.len().to_string(),
        (further.len() * 2).to_string(),
    ]);
    for (field, value) in further {
        values.push(field);
        values.push(value);
    }
    for task in &spec.tasks {
        let status = if task.depends_on.is_empty() && !task.is_hook {
            TaskStatus::Queued
        } else {
            TaskStatus::Pending
        };
        values.extend([
            task.key.clone(),
            task.executor.to_string(),
            task.queue
                .as_ref()
                .unwrap_or(&spec.queue)
                .as_str()
                .to_owned(),
            status.as_str().to_owned(),
        ]);
    }
    values
}

/// A write of [`Store::create_runs_at`]: sent on a task of its own, or to be sent when awaited.
enum SentWrite {
    /// Sent; its replies come through the handle.
    Spawned(tokio::task::JoinHandle<StoreResult<Vec<redis::Value>>>),
    /// Not sent yet.
    Built(redis::Pipeline),
}

/// The hash fields of a new run that differ from the defaults, the run's then its tasks'.
///
/// The creation script writes the rest from the run's own arguments: its definition, kind,
/// status, times, payload, queue, priority and task count, and each task's id, key, executor,
/// queue, status and first attempt. The run's id is its key's, a run not fired by the scheduler
/// is not periodic, a run that has finished no task has done none, and a run not changed since
/// its creation was last updated then: none of these is stored (every byte of a run hash is
/// held for each queued job). `updated` is written by the first change (a start, a cancel, a
/// failure).
fn further_fields(spec: &RunSpec) -> Vec<(String, String)> {
    let successors = spec.successors();
    let mut fields = Vec::new();
    if spec.periodic {
        fields.push(("periodic".to_owned(), "1".to_owned()));
    }
    let hooks = [
        ("hook_success", spec.hooks.on_success),
        ("hook_failure", spec.hooks.on_failure),
    ];
    for (name, hook) in hooks {
        if let Some(index) = hook {
            fields.push((name.to_owned(), index.to_string()));
        }
    }
    if spec.tasks.iter().any(|task| task.is_hook) {
        let work = spec.tasks.iter().filter(|task| !task.is_hook).count();
        fields.push(("nwork".to_owned(), work.to_string()));
    }
    if let Some(due) = spec.not_before_ms {
        fields.push(("not_before".to_owned(), due.to_string()));
    }
    if spec.kind.is_kept() {
        fields.push(("keep".to_owned(), "1".to_owned()));
    }
    // Every queue the run's tasks use, when that is more than the run's own: finishing a task
    // declares them to the script that may enqueue its successors.
    let queues = distinct_queues(std::slice::from_ref(spec));
    if queues.len() > 1 || queues.first() != Some(&spec.queue) {
        let names: Vec<&str> = queues.iter().map(QueueName::as_str).collect();
        fields.push(("queues".to_owned(), names.join(",")));
    }
    // Missing: no dependencies or successors, no retries, no timeout, not a hook, progress 0,
    // delivery 0, created and updated as the run's.
    for (index, task) in spec.tasks.iter().enumerate() {
        let mut task_fields = Vec::new();
        if !task.depends_on.is_empty() {
            task_fields.push(("deps", join_indices(&task.depends_on)));
            task_fields.push(("waiting", task.depends_on.len().to_string()));
        }
        if !successors[index].is_empty() {
            task_fields.push(("succ", join_indices(&successors[index])));
        }
        if task.max_retries > 0 {
            task_fields.push(("retries", task.max_retries.to_string()));
        }
        if let Some(secs) = task.timeout_secs {
            task_fields.push(("timeout", secs.to_string()));
        }
        if task.is_hook {
            task_fields.push(("hook", "1".to_owned()));
        }
        fields.extend(
            task_fields
                .into_iter()
                .map(|(name, value)| (format!("t{index}.{name}"), value)),
        );
    }
    fields
}

/// Run `id` from its hash's fields (runs stored before the id was left out of them also
/// hold it in an `id` field, which is not read).
pub(crate) fn parse_run(id: &str, fields: &HashMap<String, String>) -> StoreResult<RunView> {
    let get = |name: &str| fields.get(name).map(String::as_str);
    let number = |name: &str| get(name).and_then(|value| value.parse::<u64>().ok());
    let required =
        |name: &str| get(name).ok_or_else(|| StoreError::Corrupt(format!("run without '{name}'")));
    let task_count = number("ntasks").unwrap_or(0) as usize;
    let created_ms = number("created").unwrap_or(0);
    let queue = stored_queue(get("queue"))?;
    let run = TaskDefaults {
        run_id: id,
        created_ms,
        queue: &queue,
    };
    let tasks = (0..task_count)
        .map(|index| parse_task(fields, index, &run))
        .collect::<StoreResult<Vec<_>>>()?;
    let definition = required("definition")?.to_owned();
    Ok(RunView {
        kind: stored_kind(get("kind"), &definition)?,
        definition,
        status: stored_value("status", required("status")?)?,
        created_ms,
        updated_ms: latest_time(number("updated"), created_ms, &[number("finished")]),
        finished_ms: number("finished"),
        payload: get("payload")
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or(Value::Null),
        periodic: get("periodic") == Some("1"),
        priority: stored_priority(get("priority"))?,
        queue,
        not_before_ms: number("not_before"),
        tasks,
        id: id.to_owned(),
    })
}

/// A stored field `name`'s value parsed; one that does not parse is corrupt data (not the
/// caller's bad input).
pub(crate) fn stored_value<T: std::str::FromStr<Err = InvalidInput>>(
    name: &str,
    text: &str,
) -> StoreResult<T> {
    text.parse()
        .map_err(|error: InvalidInput| StoreError::Corrupt(format!("field '{name}': {error}")))
}

/// The kind of a stored run from its `kind` field. Runs stored before runs recorded their
/// kind have none: theirs follows from their definition's name, as it did when they were made.
pub(crate) fn stored_kind(kind: Option<&str>, definition: &str) -> StoreResult<RunKind> {
    match kind {
        Some(kind) => kind
            .parse()
            .map_err(|error: crate::error::InvalidInput| StoreError::Corrupt(error.to_string())),
        None => Ok(RunKind::of_legacy_definition(definition)),
    }
}

/// The namespace of task ids (a UUID v5 namespace of its own).
const TASK_ID_NAMESPACE: uuid::Uuid = uuid::uuid!("5d3c6f0e-2a4b-4f7e-9c1d-8b6a0e4f2d17");

/// The id of task `index` of run `run_id`: a UUID (v5) derived from both, the same every time
/// it is read, so a run hash need not hold it.
pub(crate) fn task_id(run_id: &str, index: usize) -> String {
    uuid::Uuid::new_v5(&TASK_ID_NAMESPACE, format!("{run_id}/{index}").as_bytes()).to_string()
}

/// When a run or task last changed: the latest of its stored `updated` (else its creation,
/// `created_ms`) and the times in `later` it has (`finished`, and a task's `started`), which
/// the scripts that set them do not copy into `updated`.
pub(crate) fn latest_time(updated: Option<u64>, created_ms: u64, later: &[Option<u64>]) -> u64 {
    later
        .iter()
        .flatten()
        .fold(updated.unwrap_or(created_ms), |latest, &time| {
            latest.max(time)
        })
}

/// A run's priority from its `priority` field, which a run of the normal priority lacks.
pub(crate) fn stored_priority(priority: Option<&str>) -> StoreResult<Priority> {
    priority.map_or(Ok(Priority::Normal), |text| stored_value("priority", text))
}

/// A run's queue from its `queue` field, which a run of the default queue lacks.
pub(crate) fn stored_queue(queue: Option<&str>) -> StoreResult<QueueName> {
    queue.map_or_else(
        || Ok(QueueName::default()),
        |text| stored_value("queue", text),
    )
}

/// What a task's missing fields stand for: its run's.
pub(crate) struct TaskDefaults<'a> {
    /// The run's id, from which a task's id is derived.
    pub run_id: &'a str,
    /// When the run was created (Unix ms): a task's times until it changes.
    pub created_ms: u64,
    /// The run's queue: a task's unless it names its own.
    pub queue: &'a QueueName,
}

/// Task `index` of a run from the run hash's fields `tN.*`, with `run`'s values for those it
/// lacks. A task stores no attempt until its second, and no id: its id is [`task_id`] (runs
/// stored before that hold a random one, which is read).
pub(crate) fn parse_task(
    fields: &HashMap<String, String>,
    index: usize,
    run: &TaskDefaults<'_>,
) -> StoreResult<TaskView> {
    let run_created_ms = run.created_ms;
    let task_fields = TaskFields::new(fields, index);
    let get = |name: &str| task_fields.get(name);
    let number = |name: &str| get(name).and_then(|value| value.parse::<u64>().ok());
    let required = |name: &str| {
        get(name).ok_or_else(|| StoreError::Corrupt(format!("task {index} without '{name}'")))
    };
    let status: TaskStatus = stored_value("status", required("status")?)?;
    let started_ms = number("started");
    let finished_ms = number("finished");
    Ok(TaskView {
        index,
        id: get("id").map_or_else(|| task_id(run.run_id, index), str::to_owned),
        key: required("key")?.to_owned(),
        status,
        attempt: number("attempt").unwrap_or(1) as u32,
        depends_on: get("deps")
            .unwrap_or("")
            .split(',')
            .filter_map(|dep| dep.parse().ok())
            .collect(),
        queue: get("queue")
            .map(|text| stored_value("queue", text))
            .transpose()?
            .unwrap_or_else(|| run.queue.clone()),
        max_retries: number("retries").unwrap_or(0) as u32,
        result: get("result")
            .filter(|text| !text.is_empty())
            .and_then(|text| serde_json::from_str(text).ok()),
        error: get("error").map(str::to_owned),
        // A task that succeeded is done: its progress is not written.
        progress: if status == TaskStatus::Success {
            100
        } else {
            number("progress").unwrap_or(0).min(100) as u8
        },
        worker: get("worker").map(str::to_owned),
        is_hook: get("hook") == Some("1"),
        created_ms: number("created").unwrap_or(run_created_ms),
        updated_ms: latest_time(
            number("updated"),
            run_created_ms,
            &[started_ms, finished_ms],
        ),
        started_ms,
        finished_ms,
    })
}

/// The fields `tN.*` of one task in a run hash's fields, each name built in one buffer (a task
/// is read by a score of names).
struct TaskFields<'a> {
    fields: &'a HashMap<String, String>,
    /// `tN.` followed by the last name looked up.
    name: std::cell::RefCell<String>,
    prefix_len: usize,
}

impl<'a> TaskFields<'a> {
    fn new(fields: &'a HashMap<String, String>, index: usize) -> Self {
        let name = format!("t{index}.");
        Self {
            fields,
            prefix_len: name.len(),
            name: std::cell::RefCell::new(name),
        }
    }

    /// The value of the task's field `name`.
    fn get(&self, name: &str) -> Option<&'a str> {
        let mut full = self.name.borrow_mut();
        full.truncate(self.prefix_len);
        full.push_str(name);
        self.fields.get(full.as_str()).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run hash of one task, with `task_status` as its task's status.
    fn stored_run(task_status: &str) -> HashMap<String, String> {
        [
            ("id", "r1"),
            ("definition", "example.ETL"),
            ("kind", "workflow"),
            ("status", "progress"),
            ("queue", "default"),
            ("priority", "normal"),
            ("ntasks", "1"),
            ("t0.id", "task-1"),
            ("t0.key", "extract"),
            ("t0.status", task_status),
            ("t0.queue", "default"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
    }

    /// A one-task workflow run of `example.ETL`.
    fn one_task_spec(periodic: bool) -> RunSpec {
        RunSpec {
            periodic,
            ..RunSpec::one_task(
                "example.ETL",
                "extract",
                serde_json::json!({"type": "handler", "name": "noop"}),
                serde_json::json!({"a": 1}),
            )
        }
    }

    #[test]
    fn a_new_run_sends_as_further_fields_only_what_differs_from_the_defaults() {
        assert_eq!(further_fields(&one_task_spec(false)), vec![]);
        assert_eq!(
            further_fields(&one_task_spec(true)),
            vec![("periodic".to_owned(), "1".to_owned())]
        );
    }

    #[test]
    fn a_run_stored_with_its_id_and_defaults_still_reads_the_same() {
        let mut fields = stored_run("queued");
        fields.insert("periodic".into(), "0".into());
        fields.insert("done".into(), "0".into());
        let run = parse_run("r1", &fields).unwrap();
        assert_eq!(run.id, "r1");
        assert!(!run.periodic);
    }

    #[test]
    fn a_task_id_is_a_uuid_derived_from_its_run_and_index() {
        let id = task_id("r1", 0);
        let parsed = uuid::Uuid::parse_str(&id).unwrap();
        assert_eq!(parsed.get_version_num(), 5);
        assert_eq!(task_id("r1", 0), id, "the same every time");
        assert_ne!(task_id("r1", 1), id);
        assert_ne!(task_id("r2", 0), id);
        assert_ne!(task_id("r1", 10), task_id("r11", 0));

        let mut fields = stored_run("queued");
        fields.remove("t0.id");
        assert_eq!(parse_run("r1", &fields).unwrap().tasks[0].id, id);
        assert_eq!(
            parse_run("r1", &stored_run("queued")).unwrap().tasks[0].id,
            "task-1",
            "a stored id is read"
        );
    }

    #[test]
    fn a_run_stored_without_the_defaults_reads_them() {
        let mut fields = stored_run("queued");
        for name in ["priority", "queue", "t0.queue"] {
            fields.remove(name);
        }
        let run = parse_run("r1", &fields).unwrap();
        assert_eq!(run.queue, QueueName::default());
        assert_eq!(run.tasks[0].queue, QueueName::default());

        fields.insert("queue".into(), "reports".into());
        let run = parse_run("r1", &fields).unwrap();
        assert_eq!(run.priority, Priority::Normal);
        assert_eq!(run.payload, Value::Null);
        assert_eq!(run.tasks[0].queue.as_str(), "reports", "the run's queue");
        assert_eq!(run.tasks[0].attempt, 1);

        fields.insert("t0.queue".into(), "other".into());
        fields.insert("t0.attempt".into(), "3".into());
        let run = parse_run("r1", &fields).unwrap();
        assert_eq!(run.tasks[0].queue.as_str(), "other", "its own queue");
        assert_eq!(run.tasks[0].attempt, 3);
    }

    #[test]
    fn a_run_and_its_task_read_their_latest_time_as_updated_and_a_succeeded_task_as_done() {
        let mut fields = stored_run("running");
        fields.extend(
            [
                ("created", "1000"),
                ("updated", "2000"),
                ("t0.started", "2000"),
                ("t0.progress", "40"),
            ]
            .map(|(name, value)| (name.to_owned(), value.to_owned())),
        );
        let run = parse_run("r1", &fields).unwrap();
        assert_eq!((run.updated_ms, run.tasks[0].updated_ms), (2000, 2000));
        assert_eq!(run.tasks[0].progress, 40);

        // The finish writes neither `updated` nor the progress of a task that succeeded.
        for (name, value) in [
            ("status", "success"),
            ("finished", "3000"),
            ("t0.status", "success"),
            ("t0.finished", "3000"),
        ] {
            fields.insert(name.to_owned(), value.to_owned());
        }
        let run = parse_run("r1", &fields).unwrap();
        assert_eq!((run.updated_ms, run.tasks[0].updated_ms), (3000, 3000));
        assert_eq!(run.tasks[0].progress, 100);

        // A change after both (a requeue) is its own `updated`.
        fields.insert("t0.status".into(), "queued".into());
        fields.insert("t0.updated".into(), "4000".into());
        let task = &parse_run("r1", &fields).unwrap().tasks[0];
        assert_eq!((task.updated_ms, task.progress), (4000, 40));
    }

    #[test]
    fn a_stored_value_that_does_not_parse_is_corrupt_data_not_bad_input() {
        let run = parse_run("r1", &stored_run("running")).unwrap();
        assert_eq!(
            run.tasks[0].status,
            crate::engine::model::TaskStatus::Running
        );
        let error = parse_run("r1", &stored_run("not a status")).unwrap_err();
        assert!(
            matches!(&error, StoreError::Corrupt(message) if message.contains("status")),
            "{error:?}"
        );
        let mut bad_queue = stored_run("running");
        bad_queue.insert("queue".into(), "no spaces".into());
        assert!(matches!(
            parse_run("r1", &bad_queue),
            Err(StoreError::Corrupt(_))
        ));
    }
}

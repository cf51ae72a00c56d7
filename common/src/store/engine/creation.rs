//! Creating runs: each run written with its indexes and first jobs by one script call on its
//! shard, idempotently. The creations of several callers that reach a shard while a call of it
//! is on its way go together in its next call (see [`super::creation_line`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::creation_line::{Joined, WaitingCreation};
use super::run_summaries::listed_at_creation;
use crate::engine::model::{QueueName, RunKind, RunSpec, TaskStatus};
use crate::error::StoreError;
use crate::keys::Shard;
use crate::scripts;
use crate::store::{Store, StoreResult};
use crate::time::now_ms;

/// A run ready to be created: what its shard's creation call sends for it.
pub(crate) struct PreparedRun {
    /// Its id.
    id: String,
    /// Its hash's key.
    key: String,
    /// Its kind, whose indexes the call declares.
    kind: RunKind,
    /// Its definition's index on its shard.
    definition_index: String,
    /// Its shape ([`shape_values`]): what it may share with the other runs of a call.
    shape: Vec<String>,
    /// Its payload (JSON).
    payload: String,
}

#[cfg(test)]
impl PreparedRun {
    /// A run `id` with nothing else, for tests that only count runs.
    pub(crate) fn for_test(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            key: String::new(),
            kind: RunKind::Workflow,
            definition_index: String::new(),
            shape: Vec::new(),
            payload: String::new(),
        }
    }
}

/// Runs of one shard that one call creates, with every queue their tasks use.
pub(crate) struct CreationBatch {
    /// The runs, in their callers' order.
    pub(crate) runs: Vec<PreparedRun>,
    /// The queues their tasks use (declared to the script).
    pub(crate) queues: BTreeSet<QueueName>,
}

/// A shard's part of a creation: the caller's own call (on a task of its own when the
/// creation spans several shards), or its place in the shard's next call.
enum ShardReply {
    /// The caller's call, to be made when awaited, and the shard's turn it holds till then.
    Own(Box<Turn>, CreationBatch),
    /// The caller's call, made on a task of its own.
    Spawned(tokio::task::JoinHandle<StoreResult<Vec<i64>>>),
    /// Waiting for the shard's next call.
    Waiting(tokio::sync::oneshot::Receiver<StoreResult<Vec<i64>>>),
}

/// A shard's turn to call, held by whoever makes its call: dropping it (when the call is done,
/// or its caller gave up) hands the turn to the creations waiting, or frees the line.
struct Turn {
    store: Store,
    shard: Shard,
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.store.pass_turn(self.shard);
    }
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
    /// its indexes and its first jobs appear together or not at all. A shard's call waits
    /// while another creation's call of that shard is on its way, and then goes with every
    /// creation that waited; it returns once its runs are written.
    pub async fn create_runs(&self, specs: &[RunSpec]) -> StoreResult<Vec<String>> {
        self.create_runs_at(specs, now_ms()).await
    }

    /// [`Store::create_runs`] with the creation time given (Unix ms), for callers that answer
    /// with the new run without reading it back.
    pub async fn create_runs_at(&self, specs: &[RunSpec], now: u64) -> StoreResult<Vec<String>> {
        let listed = listed_at_creation(now);
        let mut by_shard: BTreeMap<Shard, Vec<PreparedRun>> = BTreeMap::new();
        let mut ids = Vec::with_capacity(specs.len());
        for spec in specs {
            spec.validate()?;
            let id = spec
                .id
                .clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            let shard = self.keys.shard_of(&id);
            by_shard.entry(shard).or_default().push(PreparedRun {
                key: self.keys.run(&id),
                kind: spec.kind,
                definition_index: self
                    .keys
                    .definition_index(shard, spec.kind, &spec.definition),
                shape: shape_values(spec, now, &listed),
                payload: spec.payload.to_string(),
                id: id.clone(),
            });
            ids.push(id);
        }
        let queues: BTreeSet<QueueName> = distinct_queues(specs).into_iter().collect();
        for queue in &queues {
            self.ensure_queue(queue).await?;
        }

        // A creation of several shards makes its own calls each on a task of its own, so that
        // Redis runs one while the next is built.
        let several = by_shard.len() > 1;
        let mut parts = Vec::with_capacity(by_shard.len());
        for (shard, runs) in by_shard {
            let batch = CreationBatch {
                runs,
                queues: queues.clone(),
            };
            parts.push(match self.creation_lines.join(shard, batch) {
                Joined::Call(batch) => {
                    let turn = Turn {
                        store: self.clone(),
                        shard,
                    };
                    if several {
                        ShardReply::Spawned(tokio::spawn(async move {
                            turn.store.call_creation(shard, &batch).await
                        }))
                    } else {
                        ShardReply::Own(Box::new(turn), batch)
                    }
                }
                Joined::Wait(receiver) => ShardReply::Waiting(receiver),
            });
        }
        let mut created = 0;
        for part in parts {
            created += match part {
                ShardReply::Own(turn, batch) => self.call_creation(turn.shard, &batch).await?,
                ShardReply::Spawned(reply) => reply.await.map_err(|error| {
                    if error.is_panic() {
                        std::panic::resume_unwind(error.into_panic())
                    }
                    StoreError::Interrupted
                })??,
                ShardReply::Waiting(reply) => {
                    reply.await.map_err(|_| StoreError::Interrupted)??
                }
            }
            .len();
        }
        if created != specs.len() {
            return Err(StoreError::UnexpectedReply {
                script: "create_runs",
                reply: format!("{created} results for {} runs", specs.len()),
            });
        }
        Ok(ids)
    }

    /// Builds `batch`'s creation call on `shard`, followed by a `WAIT` for replicas when
    /// asked for. Runs of one shape (all but id and payload alike, created in the same
    /// millisecond) send it once.
    fn creation_pipeline(&self, shard: Shard, batch: &CreationBatch) -> redis::Pipeline {
        let mut kinds: Vec<RunKind> = Vec::new();
        for run in &batch.runs {
            if !kinds.contains(&run.kind) {
                kinds.push(run.kind);
            }
        }
        let mut call = self.shard_call(&scripts::CREATE_RUNS, shard, &kinds, &batch.queues);
        let mut shapes: Vec<&PreparedRun> = Vec::new();
        let mut known: HashMap<&[String], usize> = HashMap::new();
        let of_run: Vec<usize> = match batch.runs.as_slice() {
            [run] => {
                shapes.push(run);
                vec![0]
            }
            runs => runs
                .iter()
                .map(|run| {
                    *known.entry(&run.shape).or_insert_with(|| {
                        shapes.push(run);
                        shapes.len() - 1
                    })
                })
                .collect(),
        };
        call.arg(shapes.len());
        for run in &shapes {
            call.key(&run.definition_index);
            for value in &run.shape {
                call.arg(value);
            }
        }
        for (run, shape) in batch.runs.iter().zip(of_run) {
            call.key(&run.key)
                .arg(&run.id)
                .arg(shape + 1)
                .arg(&run.payload);
        }
        let mut pipe = redis::pipe();
        call.add_to(&mut pipe);
        self.wait_for_replicas(&mut pipe);
        pipe
    }

    /// Makes `batch`'s creation call on `shard`: per run, 1 when it was created and 0 when it
    /// already existed.
    async fn call_creation(&self, shard: Shard, batch: &CreationBatch) -> StoreResult<Vec<i64>> {
        let pipe = self.creation_pipeline(shard, batch);
        let mut conn = self.acknowledged_writes_conn();
        let replies = self.query_pipeline(&mut conn, &pipe).await?;
        let created = self
            .replicated::<Vec<i64>>(replies)?
            .pop()
            .unwrap_or_default();
        if created.len() != batch.runs.len() {
            return Err(StoreError::UnexpectedReply {
                script: "create_runs",
                reply: format!("{} results for {} runs", created.len(), batch.runs.len()),
            });
        }
        Ok(created)
    }

    /// Hands `shard`'s turn, once its call is done, to the creations waiting for it: one
    /// call on a task of its own makes them all and then passes the turn on in its turn.
    fn pass_turn(&self, shard: Shard) {
        let Some(waiting) = self.creation_lines.next_waiting(shard) else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let turn = Turn {
                    store: self.clone(),
                    shard,
                };
                runtime.spawn(async move { turn.store.clone().call_waiting(turn, waiting).await });
            }
            Err(_) => {
                drop(waiting);
                self.creation_lines.abandon(shard);
            }
        }
    }

    /// Makes one call for the creations `waiting` on `turn`'s shard and tells each its part
    /// of the reply; the turn passes on when it is done.
    async fn call_waiting(&self, turn: Turn, waiting: Vec<WaitingCreation>) {
        let mut batch = CreationBatch {
            runs: Vec::with_capacity(waiting.iter().map(|w| w.batch.runs.len()).sum()),
            queues: BTreeSet::new(),
        };
        let mut replies = Vec::with_capacity(waiting.len());
        for creation in waiting {
            replies.push((creation.batch.runs.len(), creation.reply));
            batch.runs.extend(creation.batch.runs);
            batch.queues.extend(creation.batch.queues);
        }
        let result = self.call_creation(turn.shard, &batch).await;
        drop(turn);
        match result {
            Ok(created) => {
                let mut created = created.into_iter();
                for (runs, reply) in replies {
                    let _ = reply.send(Ok(created.by_ref().take(runs).collect()));
                }
            }
            Err(error) => {
                for (_, reply) in replies {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
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

/// A run's shape as the creation script takes it: its creation time `now` and the `listed`
/// field of a run created then, kind, definition, priority, queue, due time (0 for at
/// creation), task count, the number of further values and those values
/// ([`further_fields`]), then each task's key, executor, queue and status.
fn shape_values(spec: &RunSpec, now: u64, listed: &str) -> Vec<String> {
    let further = further_fields(spec);
    let mut values = Vec::with_capacity(9 + 2 * further.len() + 4 * spec.tasks.len());
    values.extend([
        now.to_string(),
        listed.to_owned(),
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

#[cfg(test)]
mod tests {
    use super::*;

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
}

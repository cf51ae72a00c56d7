//! The queue protocol: jobs on priority streams, read through a consumer group, started and
//! finished through guarded scripts, acknowledged only once their outcome is recorded.

use std::collections::HashMap;

use redis::Value as RedisValue;
use redis::aio::MultiplexedConnection;
use redis::streams::{StreamId, StreamReadReply};
use serde_json::Value;

use super::dead_letters::dead_letter_fields;
use super::series::{Outcome, push_outcomes};
use super::{Store, StoreResult};
use crate::error::StoreError;
use crate::keys::{CONSUMER_GROUP, Keys};
use crate::model::{JobRef, Priority, QueueName, RunStatus, TaskStatus};
use crate::scripts;
use crate::time::now_ms;

/// Every how many reads a worker serves the lower priorities first, so they are never starved.
const LOW_PRIORITY_FIRST_EVERY: u64 = 5;

/// A job read from a stream.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Job {
    /// Queue it was read from.
    pub queue: QueueName,
    /// Priority stream it was read from.
    pub priority: Priority,
    /// Its entry id on that stream.
    pub entry_id: String,
    /// The attempt it asks for.
    pub job: JobRef,
}

/// What a task needs to run, returned when an attempt starts.
#[derive(Debug, Clone, PartialEq)]
pub struct StartedTask {
    /// The task's name within its definition.
    pub key: String,
    /// The executor spec as stored (JSON text); parsed by the worker.
    pub executor: String,
    /// The run's payload.
    pub payload: Value,
    /// Seconds the attempt may run.
    pub timeout_secs: Option<u64>,
    /// Retries allowed after the first attempt.
    pub max_retries: u32,
    /// Results of the tasks it depends on, in dependency order (`null` for none).
    pub parent_results: Vec<Value>,
}

/// What happened when a worker asked to start a job.
#[derive(Debug, Clone, PartialEq)]
pub enum StartOutcome {
    /// The attempt is running: execute it.
    Start(StartedTask),
    /// The run no longer exists: acknowledge the job.
    RunMissing,
    /// A redelivered job of a task that already succeeded; its successors were re-enqueued.
    AlreadyDone,
    /// A redelivered job of a task waiting for a retry; the retry was scheduled again.
    Rescheduled,
    /// A redelivered job of a task that failed for good; it was moved to the dead letter.
    DeadLettered,
    /// Nothing to do: a duplicate or stale job, or a canceled task.
    Skipped(TaskStatus),
}

/// How an attempt ended, as the worker reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptOutcome {
    /// Success, with the task's result.
    Succeeded(Option<Value>),
    /// Failure; retried at `due_ms` while the task has retries left.
    Retry {
        /// Why it failed.
        error: String,
        /// When the next attempt is due (Unix ms).
        due_ms: u64,
    },
    /// Failure for good: the task fails its run and the job goes to the dead letter.
    Failed(String),
}

/// What recording an attempt's outcome did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinishOutcome {
    /// The task succeeded; this many successors were enqueued.
    Succeeded {
        /// Successor jobs enqueued.
        enqueued: usize,
    },
    /// The task will be retried.
    Retrying,
    /// The task failed for good.
    Failed,
    /// The attempt was no longer current (canceled, or reclaimed by another worker); ignored.
    Stale,
}

/// Adds a job to its queue's stream, in a pipeline.
pub(crate) fn push_job(
    pipe: &mut redis::Pipeline,
    keys: &Keys,
    queue: &QueueName,
    priority: Priority,
    job: &JobRef,
) {
    pipe.cmd("XADD")
        .arg(keys.queue_stream(queue, priority))
        .arg("*")
        .arg("r")
        .arg(&job.run_id)
        .arg("t")
        .arg(job.task)
        .arg("a")
        .arg(job.attempt)
        .arg("d")
        .arg(job.redeliveries)
        .ignore();
}

/// Counter increments gathered over a batch, sent as one `HINCRBY` per queue and counter;
/// outcomes (`succeeded`, `failed`) also go to their queue's time series.
#[derive(Debug, Default)]
pub(crate) struct StatsBatch {
    counts: HashMap<(QueueName, &'static str), i64>,
    keys: Option<Keys>,
}

impl StatsBatch {
    /// Counts one event of `name` on `queue`.
    pub(crate) fn count(&mut self, keys: &Keys, queue: &QueueName, name: &'static str) {
        if self.keys.is_none() {
            self.keys = Some(keys.clone());
        }
        *self.counts.entry((queue.clone(), name)).or_default() += 1;
    }

    /// Adds the increments to `pipe`, outcomes counted in the series at the current second.
    pub(crate) fn flush_into(self, pipe: &mut redis::Pipeline) {
        let Some(keys) = self.keys else {
            return;
        };
        let now = now_ms();
        for ((queue, name), count) in self.counts {
            pipe.cmd("HINCRBY")
                .arg(keys.queue_stats(&queue))
                .arg(name)
                .arg(count)
                .ignore();
            if let Some(outcome) = Outcome::of_counter(name) {
                push_outcomes(pipe, &keys, &queue, outcome, count, now);
            }
        }
    }
}

/// Adds a job to its queue's delayed set, due at `due_ms`, in a pipeline.
pub(crate) fn push_to_delayed(
    pipe: &mut redis::Pipeline,
    keys: &Keys,
    queue: &QueueName,
    priority: Priority,
    job: &JobRef,
    due_ms: u64,
) {
    pipe.cmd("ZADD")
        .arg(keys.queue_delayed(queue))
        .arg(due_ms)
        .arg(format!("{}|{}", priority.as_str(), job.encode()))
        .ignore();
}

/// Adds a retry of a job to its queue's delayed set, due at `due_ms`, and to the set of
/// retries that counts them, in a pipeline. Promotion removes it from both.
pub(crate) fn push_retry(
    pipe: &mut redis::Pipeline,
    keys: &Keys,
    queue: &QueueName,
    priority: Priority,
    job: &JobRef,
    due_ms: u64,
) {
    push_to_delayed(pipe, keys, queue, priority, job, due_ms);
    pipe.cmd("ZADD")
        .arg(keys.queue_retrying(queue))
        .arg(due_ms)
        .arg(format!("{}|{}", priority.as_str(), job.encode()))
        .ignore();
}

pub(crate) fn field<T: redis::FromRedisValue>(entry: &StreamId, name: &str) -> Option<T> {
    entry.get(name)
}

/// Decodes the job fields (`r`, `t`, `a`, `d`) of a stream entry.
pub(crate) fn job_from_entry(entry: &StreamId) -> Option<JobRef> {
    Some(JobRef {
        run_id: field::<String>(entry, "r")?,
        task: field::<String>(entry, "t")?.parse().ok()?,
        attempt: field::<String>(entry, "a")?.parse().ok()?,
        redeliveries: field::<String>(entry, "d")
            .and_then(|d| d.parse().ok())
            .unwrap_or(0),
    })
}

/// The fields of a stream entry carrying `job`.
pub(crate) fn job_fields(job: &JobRef) -> Vec<(&'static str, String)> {
    vec![
        ("r", job.run_id.clone()),
        ("t", job.task.to_string()),
        ("a", job.attempt.to_string()),
        ("d", job.redeliveries.to_string()),
    ]
}

fn bulk_string(value: &RedisValue) -> String {
    match value {
        RedisValue::BulkString(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        RedisValue::SimpleString(text) => text.clone(),
        RedisValue::Int(number) => number.to_string(),
        _ => String::new(),
    }
}

impl Store {
    /// Reads up to `max` jobs for `consumer` from `queues`: high priority first, then normal,
    /// then low, except every few rounds (`round`) when the order is reversed so lower
    /// priorities are never starved. When every stream is empty it blocks up to `block_ms`
    /// on all of them at once; `conn` must have no response timeout.
    pub async fn read_jobs(
        &self,
        conn: &mut MultiplexedConnection,
        queues: &[QueueName],
        consumer: &str,
        max: usize,
        block_ms: u64,
        round: u64,
    ) -> StoreResult<Vec<Job>> {
        let mut order = Priority::ALL;
        if round % LOW_PRIORITY_FIRST_EVERY == LOW_PRIORITY_FIRST_EVERY - 1 {
            order.reverse();
        }
        let mut jobs = Vec::new();
        for priority in order {
            for queue in queues {
                let wanted = max.saturating_sub(jobs.len());
                if wanted == 0 {
                    return Ok(jobs);
                }
                let streams = [(queue.clone(), priority)];
                jobs.extend(
                    self.xreadgroup(conn, &streams, consumer, wanted, None)
                        .await?,
                );
            }
        }
        if !jobs.is_empty() || max == 0 {
            return Ok(jobs);
        }
        let streams: Vec<(QueueName, Priority)> = Priority::ALL
            .iter()
            .flat_map(|&priority| queues.iter().map(move |queue| (queue.clone(), priority)))
            .collect();
        self.xreadgroup(conn, &streams, consumer, 1, Some(block_ms))
            .await
    }

    async fn xreadgroup(
        &self,
        conn: &mut MultiplexedConnection,
        streams: &[(QueueName, Priority)],
        consumer: &str,
        count: usize,
        block_ms: Option<u64>,
    ) -> StoreResult<Vec<Job>> {
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(CONSUMER_GROUP)
            .arg(consumer)
            .arg("COUNT")
            .arg(count);
        if let Some(block) = block_ms {
            cmd.arg("BLOCK").arg(block);
        }
        cmd.arg("STREAMS");
        let keys: Vec<String> = streams
            .iter()
            .map(|(queue, priority)| self.keys.queue_stream(queue, *priority))
            .collect();
        for key in &keys {
            cmd.arg(key);
        }
        for _ in &keys {
            cmd.arg(">");
        }
        let reply: Option<StreamReadReply> = cmd.query_async(conn).await?;
        let mut jobs = Vec::new();
        for stream in reply.map(|reply| reply.keys).unwrap_or_default() {
            let Some(position) = keys.iter().position(|key| *key == stream.key) else {
                continue;
            };
            let (queue, priority) = &streams[position];
            for entry in stream.ids {
                match job_from_entry(&entry) {
                    Some(job) => jobs.push(Job {
                        queue: queue.clone(),
                        priority: *priority,
                        entry_id: entry.id,
                        job,
                    }),
                    None => {
                        tracing::warn!(queue = %queue, entry = %entry.id, "malformed job entry moved to the dead letter");
                        self.dead_letter_malformed(conn, queue, *priority, &entry)
                            .await?;
                    }
                }
            }
        }
        Ok(jobs)
    }

    /// A stream entry that is not a job at all cannot run: keep it in the dead letter with its
    /// raw fields, so nothing is silently dropped.
    async fn dead_letter_malformed(
        &self,
        conn: &mut MultiplexedConnection,
        queue: &QueueName,
        priority: Priority,
        entry: &StreamId,
    ) -> StoreResult<()> {
        let raw: serde_json::Map<String, Value> = entry
            .map
            .iter()
            .map(|(name, value)| (name.clone(), Value::String(bulk_string(value))))
            .collect();
        let mut invocation = scripts::MOVE_ENTRY.key(self.keys.queue_stream(queue, priority));
        invocation
            .key(self.keys.queue_dead(queue))
            .arg(CONSUMER_GROUP)
            .arg(&entry.id)
            .arg("p")
            .arg(priority.as_str())
            .arg("error")
            .arg(format!("malformed job entry: {}", Value::Object(raw)))
            .arg("at")
            .arg(now_ms());
        invocation.invoke_async::<Option<String>>(conn).await?;
        Ok(())
    }

    /// Starts the attempts the jobs ask for, in one round trip (plus one more for any
    /// redelivered jobs that need healing), and returns what to do with each.
    pub async fn start_jobs(
        &self,
        conn: &mut MultiplexedConnection,
        jobs: &[Job],
        worker_id: &str,
    ) -> StoreResult<Vec<StartOutcome>> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_ms();
        let mut pipe = redis::pipe();
        for job in jobs {
            pipe.invoke_script(
                scripts::START_TASK
                    .key(self.keys.run(&job.job.run_id))
                    .arg(job.job.task)
                    .arg(job.job.attempt)
                    .arg(job.job.redeliveries)
                    .arg(worker_id)
                    .arg(now),
            );
        }
        let replies: Vec<Vec<String>> = self.query_pipeline(conn, &pipe).await?;

        let mut outcomes = Vec::with_capacity(jobs.len());
        let mut heal = redis::pipe();
        let mut ack = redis::pipe();
        let mut stats = StatsBatch::default();
        for (job, reply) in jobs.iter().zip(replies) {
            let outcome = match reply.first().map(String::as_str) {
                Some("start") => {
                    stats.count(&self.keys, &job.queue, "started");
                    StartOutcome::Start(parse_started(&reply)?)
                }
                Some("done") => {
                    self.push_successors(&mut heal, &mut stats, job, &reply[1..])?;
                    self.push_ack(&mut ack, job);
                    StartOutcome::AlreadyDone
                }
                Some("reschedule") => {
                    let due = reply
                        .get(1)
                        .and_then(|due| due.parse().ok())
                        .unwrap_or_else(now_ms);
                    let retry = JobRef {
                        attempt: job.job.attempt + 1,
                        redeliveries: 0,
                        ..job.job.clone()
                    };
                    push_retry(&mut heal, &self.keys, &job.queue, job.priority, &retry, due);
                    self.push_ack(&mut ack, job);
                    StartOutcome::Rescheduled
                }
                Some("failed") => {
                    stats.count(&self.keys, &job.queue, "dead");
                    self.push_dead_letter(
                        &mut ack,
                        job,
                        "task failed for good (recorded before a restart)",
                    );
                    StartOutcome::DeadLettered
                }
                Some("skip") => {
                    self.push_ack(&mut ack, job);
                    StartOutcome::Skipped(
                        reply
                            .get(1)
                            .map(String::as_str)
                            .unwrap_or("canceled")
                            .parse()?,
                    )
                }
                _ => {
                    self.push_ack(&mut ack, job);
                    StartOutcome::RunMissing
                }
            };
            outcomes.push(outcome);
        }
        // Heal first, acknowledge after: a crash in between redelivers and heals again.
        stats.flush_into(&mut heal);
        for pipe in [heal, ack] {
            if pipe.cmd_iter().next().is_some() {
                self.query_pipeline::<()>(conn, &pipe).await?;
            }
        }
        Ok(outcomes)
    }

    /// Adds the first jobs of the successors a script listed as `task, queue, ...` pairs;
    /// returns how many.
    fn push_successors(
        &self,
        pipe: &mut redis::Pipeline,
        stats: &mut StatsBatch,
        job: &Job,
        pairs: &[String],
    ) -> StoreResult<usize> {
        let mut pushed = 0;
        for pair in pairs.chunks(2) {
            let [task, queue] = pair else { continue };
            let successor = JobRef {
                run_id: job.job.run_id.clone(),
                task: task
                    .parse()
                    .map_err(|_| StoreError::Corrupt(format!("task index '{task}'")))?,
                attempt: 1,
                redeliveries: 0,
            };
            let queue = QueueName::parse(queue)?;
            push_job(pipe, &self.keys, &queue, job.priority, &successor);
            stats.count(&self.keys, &queue, "enqueued");
            pushed += 1;
        }
        Ok(pushed)
    }

    fn push_ack(&self, pipe: &mut redis::Pipeline, job: &Job) {
        pipe.cmd("XACK")
            .arg(self.keys.queue_stream(&job.queue, job.priority))
            .arg(CONSUMER_GROUP)
            .arg(&job.entry_id)
            .ignore();
    }

    fn push_dead_letter(&self, pipe: &mut redis::Pipeline, job: &Job, error: &str) {
        let mut invocation =
            scripts::MOVE_ENTRY.key(self.keys.queue_stream(&job.queue, job.priority));
        invocation
            .key(self.keys.queue_dead(&job.queue))
            .arg(CONSUMER_GROUP)
            .arg(&job.entry_id);
        for (name, value) in dead_letter_fields(job, error) {
            invocation.arg(name).arg(value);
        }
        pipe.invoke_script(&invocation).ignore();
    }

    /// Records the outcome of attempts, in one round trip, then enqueues successors, schedules
    /// retries or dead-letters, and acknowledges the jobs in a second one.
    pub async fn finish_jobs(
        &self,
        conn: &mut MultiplexedConnection,
        finished: &[(Job, AttemptOutcome)],
    ) -> StoreResult<Vec<FinishOutcome>> {
        if finished.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_ms();
        let mut pipe = redis::pipe();
        for (job, outcome) in finished {
            let (name, detail, due) = match outcome {
                AttemptOutcome::Succeeded(result) => (
                    "success",
                    result.as_ref().map(Value::to_string).unwrap_or_default(),
                    0,
                ),
                AttemptOutcome::Retry { error, due_ms } => ("retry", error.clone(), *due_ms),
                AttemptOutcome::Failed(error) => ("error", error.clone(), 0),
            };
            pipe.invoke_script(
                scripts::FINISH_TASK
                    .key(self.keys.run(&job.job.run_id))
                    .key(self.keys.run_log(&job.job.run_id))
                    .arg(job.job.task)
                    .arg(job.job.attempt)
                    .arg(job.job.redeliveries)
                    .arg(name)
                    .arg(detail)
                    .arg(now)
                    .arg(self.retention_secs)
                    .arg(due),
            );
        }
        let replies: Vec<Vec<String>> = self.query_pipeline(conn, &pipe).await?;

        // Runs these attempts finished move to their status index once the follow-ups are sent.
        let finished_runs: Vec<String> = finished
            .iter()
            .zip(&replies)
            .filter(|(_, reply)| {
                matches!(reply.first().map(String::as_str), Some("success" | "error"))
                    && reply
                        .get(1)
                        .and_then(|status| status.parse::<RunStatus>().ok())
                        .is_some_and(RunStatus::is_finished)
            })
            .map(|((job, _), _)| job.job.run_id.clone())
            .collect();

        let mut follow_up = redis::pipe();
        let mut stats = StatsBatch::default();
        let mut outcomes = Vec::with_capacity(finished.len());
        for ((job, attempt), reply) in finished.iter().zip(replies) {
            let outcome = match reply.first().map(String::as_str) {
                Some("success") => {
                    let enqueued =
                        self.push_successors(&mut follow_up, &mut stats, job, &reply[2..])?;
                    stats.count(&self.keys, &job.queue, "succeeded");
                    self.push_ack(&mut follow_up, job);
                    FinishOutcome::Succeeded { enqueued }
                }
                Some("retry") => {
                    let next_attempt = reply
                        .get(1)
                        .and_then(|a| a.parse().ok())
                        .unwrap_or(job.job.attempt + 1);
                    let due = match attempt {
                        AttemptOutcome::Retry { due_ms, .. } => *due_ms,
                        _ => now,
                    };
                    let retry = JobRef {
                        attempt: next_attempt,
                        redeliveries: 0,
                        ..job.job.clone()
                    };
                    push_retry(
                        &mut follow_up,
                        &self.keys,
                        &job.queue,
                        job.priority,
                        &retry,
                        due,
                    );
                    stats.count(&self.keys, &job.queue, "retried");
                    self.push_ack(&mut follow_up, job);
                    FinishOutcome::Retrying
                }
                Some("error") => {
                    let error = match attempt {
                        AttemptOutcome::Failed(error) | AttemptOutcome::Retry { error, .. } => {
                            error.as_str()
                        }
                        AttemptOutcome::Succeeded(_) => "",
                    };
                    stats.count(&self.keys, &job.queue, "failed");
                    self.push_successors(
                        &mut follow_up,
                        &mut stats,
                        job,
                        reply.get(2..).unwrap_or(&[]),
                    )?;
                    stats.count(&self.keys, &job.queue, "dead");
                    self.push_dead_letter(&mut follow_up, job, error);
                    FinishOutcome::Failed
                }
                _ => {
                    self.push_ack(&mut follow_up, job);
                    FinishOutcome::Stale
                }
            };
            outcomes.push(outcome);
        }
        stats.flush_into(&mut follow_up);
        self.query_pipeline::<()>(conn, &follow_up).await?;
        self.index_finished_runs(&finished_runs).await?;
        Ok(outcomes)
    }

    /// Resets the idle time of jobs a live worker still holds, so the scheduler does not take
    /// them for lost while they run.
    pub async fn touch_jobs(
        &self,
        conn: &mut MultiplexedConnection,
        consumer: &str,
        jobs: &[Job],
    ) -> StoreResult<()> {
        let mut by_stream: HashMap<String, Vec<&str>> = HashMap::new();
        for job in jobs {
            by_stream
                .entry(self.keys.queue_stream(&job.queue, job.priority))
                .or_default()
                .push(&job.entry_id);
        }
        let mut pipe = redis::pipe();
        for (stream, ids) in by_stream {
            pipe.cmd("XCLAIM")
                .arg(stream)
                .arg(CONSUMER_GROUP)
                .arg(consumer)
                .arg(0)
                .arg(ids)
                .arg("JUSTID")
                .ignore();
        }
        self.query_pipeline::<()>(conn, &pipe).await
    }
}

fn parse_started(reply: &[String]) -> StoreResult<StartedTask> {
    let part = |index: usize| reply.get(index).map(String::as_str).unwrap_or("");
    Ok(StartedTask {
        key: part(1).to_owned(),
        executor: part(2).to_owned(),
        payload: serde_json::from_str(part(3)).unwrap_or(Value::Null),
        timeout_secs: part(4).parse().ok().filter(|secs| *secs > 0),
        max_retries: part(5).parse().unwrap_or(0),
        parent_results: reply
            .get(6..)
            .unwrap_or(&[])
            .iter()
            .map(|text| serde_json::from_str(text).unwrap_or(Value::Null))
            .collect(),
    })
}

//! Attempts: jobs started and their outcomes recorded in batches, one guarded script call per
//! shard, every guard (current attempt, delivery, status) checked per job.

use std::collections::HashMap;

use serde_json::Value;

use crate::engine::model::{QueueName, TaskStatus};
use crate::keys::{CONSUMER_GROUP, INDEXED_KINDS, Keys, Shard};
use crate::scripts;
use crate::store::engine::series::Outcome;
use crate::store::engine::shard_call::{BatchItem, ItemReply, ShardCall};
use crate::store::{RedisConnection, Store, StoreResult};
use crate::time::now_ms;

use super::Job;
use super::stats::OutcomeCounts;

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
    /// True for a hook task (run once the workflow has finished).
    pub is_hook: bool,
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

impl Store {
    /// Starts the attempts the jobs ask for, one script call per shard in one round trip, and
    /// returns what to do with each. Jobs that are not started are settled by the same call
    /// (acknowledged, healed, rescheduled or dead-lettered).
    pub async fn start_jobs(
        &self,
        conn: &mut RedisConnection,
        jobs: &[Job],
        worker_id: &str,
    ) -> StoreResult<Vec<StartOutcome>> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_ms();
        let head = |call: &mut ShardCall<'_>| {
            call.arg(worker_id).arg(now);
        };
        let replies = self
            .call_shard_batches(conn, &scripts::START_JOBS, "start_jobs", &[], jobs, &head)
            .await?;
        replies.iter().map(start_outcome).collect()
    }

    /// Records the outcome of attempts, one script call per shard in one round trip: each
    /// result is recorded, successors enqueued, retries scheduled, failures dead-lettered,
    /// finished runs indexed, counters counted and jobs acknowledged by that call. The
    /// queues' outcome series follow in a second round trip.
    pub async fn finish_jobs(
        &self,
        conn: &mut RedisConnection,
        finished: &[(Job, AttemptOutcome)],
    ) -> StoreResult<Vec<FinishOutcome>> {
        let (outcomes, counts) = self.finish_jobs_counted(conn, finished).await?;
        let mut pipe = redis::pipe();
        counts.flush_into(&mut pipe, &self.keys);
        self.query_pipeline::<()>(conn, &pipe).await?;
        Ok(outcomes)
    }

    /// [`Store::finish_jobs`] in one round trip, without the outcome series: their counts are
    /// returned for [`Store::record_job_metrics`], so a worker frees the jobs' slots before it
    /// writes what only describes them.
    pub async fn finish_jobs_counted(
        &self,
        conn: &mut RedisConnection,
        finished: &[(Job, AttemptOutcome)],
    ) -> StoreResult<(Vec<FinishOutcome>, OutcomeCounts)> {
        if finished.is_empty() {
            return Ok((Vec::new(), OutcomeCounts::default()));
        }
        let now = now_ms();
        let retention = self.retention_secs;
        let head = |call: &mut ShardCall<'_>| {
            call.arg(now).arg(retention);
        };
        let items: Vec<FinishedJob<'_>> = finished
            .iter()
            .map(|(job, outcome)| FinishedJob { job, outcome })
            .collect();
        // A finished run moves between its kind's indexes: every kind is declared, since the
        // kinds of the batch's runs are read by the script.
        let replies = self
            .call_shard_batches(
                conn,
                &scripts::FINISH_JOBS,
                "finish_jobs",
                &INDEXED_KINDS,
                &items,
                &head,
            )
            .await?;
        let outcomes: Vec<FinishOutcome> = replies
            .iter()
            .map(finish_outcome)
            .collect::<StoreResult<_>>()?;

        let mut counts = OutcomeCounts::at(now);
        for ((job, _), outcome) in finished.iter().zip(&outcomes) {
            match outcome {
                FinishOutcome::Succeeded { .. } => counts.add(&job.queue, Outcome::Succeeded),
                FinishOutcome::Failed => counts.add(&job.queue, Outcome::Failed),
                FinishOutcome::Retrying | FinishOutcome::Stale => {}
            }
        }
        Ok((outcomes, counts))
    }

    /// Resets the idle time of jobs a live worker still holds, so the scheduler does not take
    /// them for lost while they run.
    pub async fn touch_jobs(
        &self,
        conn: &mut RedisConnection,
        consumer: &str,
        jobs: &[Job],
    ) -> StoreResult<()> {
        let mut by_stream: HashMap<String, Vec<&str>> = HashMap::new();
        for job in jobs {
            by_stream
                .entry(self.keys.stream(job.shard, &job.queue, job.priority))
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

/// An attempt's outcome on its way into the finish script.
struct FinishedJob<'a> {
    job: &'a Job,
    outcome: &'a AttemptOutcome,
}

impl BatchItem for Job {
    fn shard(&self) -> Shard {
        self.shard
    }

    fn queue(&self) -> &QueueName {
        &self.queue
    }

    fn add_to(&self, keys: &Keys, call: &mut ShardCall<'_>) {
        call.key(keys.run(&self.job.run_id))
            .arg(&self.job.run_id)
            .arg(self.job.task)
            .arg(self.job.attempt)
            .arg(self.job.redeliveries)
            .arg(self.queue.as_str())
            .arg(self.priority.as_str())
            .arg(&self.entry_id);
    }
}

impl BatchItem for FinishedJob<'_> {
    fn shard(&self) -> Shard {
        self.job.shard
    }

    fn queue(&self) -> &QueueName {
        &self.job.queue
    }

    fn add_to(&self, keys: &Keys, call: &mut ShardCall<'_>) {
        let job = self.job;
        let (name, detail, due) = match self.outcome {
            AttemptOutcome::Succeeded(result) => (
                "success",
                result.as_ref().map(Value::to_string).unwrap_or_default(),
                0,
            ),
            AttemptOutcome::Retry { error, due_ms } => ("retry", error.clone(), *due_ms),
            AttemptOutcome::Failed(error) => ("error", error.clone(), 0),
        };
        call.key(keys.run(&job.job.run_id))
            .key(keys.run_log(&job.job.run_id))
            .arg(&job.job.run_id)
            .arg(job.job.task)
            .arg(job.job.attempt)
            .arg(job.job.redeliveries)
            .arg(name)
            .arg(detail)
            .arg(due)
            .arg(job.queue.as_str())
            .arg(job.priority.as_str())
            .arg(&job.entry_id);
    }
}

/// Decodes the start script's reply for one job.
pub(super) fn start_outcome(reply: &ItemReply) -> StoreResult<StartOutcome> {
    Ok(match reply.kind.as_str() {
        "start" => StartOutcome::Start(parse_started(&reply.details)),
        "missing" => StartOutcome::RunMissing,
        "done" => StartOutcome::AlreadyDone,
        "reschedule" => StartOutcome::Rescheduled,
        "failed" => StartOutcome::DeadLettered,
        "skip" => StartOutcome::Skipped(reply.detail(0).parse()?),
        _ => return Err(reply.unexpected("start_jobs")),
    })
}

/// Decodes the finish script's reply for one attempt.
fn finish_outcome(reply: &ItemReply) -> StoreResult<FinishOutcome> {
    Ok(match reply.kind.as_str() {
        "success" => FinishOutcome::Succeeded {
            enqueued: reply
                .detail(1)
                .parse()
                .map_err(|_| reply.unexpected("finish_jobs"))?,
        },
        "retry" => FinishOutcome::Retrying,
        "error" => FinishOutcome::Failed,
        "stale" => FinishOutcome::Stale,
        _ => return Err(reply.unexpected("finish_jobs")),
    })
}

/// The task a `start` reply describes (its details: key, executor, payload, timeout,
/// retries, hook flag, then each dependency's result).
fn parse_started(details: &[String]) -> StartedTask {
    let part = |index: usize| details.get(index).map(String::as_str).unwrap_or("");
    StartedTask {
        key: part(0).to_owned(),
        executor: part(1).to_owned(),
        payload: serde_json::from_str(part(2)).unwrap_or(Value::Null),
        timeout_secs: part(3).parse().ok().filter(|secs| *secs > 0),
        max_retries: part(4).parse().unwrap_or(0),
        is_hook: part(5) == "1",
        parent_results: details
            .get(6..)
            .unwrap_or(&[])
            .iter()
            .map(|text| serde_json::from_str(text).unwrap_or(Value::Null))
            .collect(),
    }
}

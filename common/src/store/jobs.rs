//! The queue protocol: jobs on priority streams, read through a consumer group, started and
//! finished through guarded scripts, acknowledged only once their outcome is recorded.

use std::collections::{BTreeSet, HashMap};

use crate::store::RedisConnection;
use redis::ScriptInvocation;
use redis::Value as RedisValue;
use redis::streams::{StreamId, StreamInfoGroupsReply, StreamReadReply};
use serde_json::Value;

pub use super::dead_letters::{DeadLetter, RequeueOutcome};
use super::series::{Outcome, push_outcomes};
use super::shard_call::{BatchItem, ItemReply};
use super::{Store, StoreResult};
use crate::engine::model::{JobRef, Priority, QueueName, TaskStatus};
use crate::keys::{CONSUMER_GROUP, Keys, Shard};
use crate::scripts;
use crate::time::now_ms;

/// Every how many reads a worker serves the lower priorities first, so they are never starved.
const LOW_PRIORITY_FIRST_EVERY: u64 = 5;

/// A job read from a stream.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Job {
    /// Shard of its run, whose stream it was read from.
    pub shard: Shard,
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

/// Adds a job to its queue's stream, in a pipeline.
pub(crate) fn push_job(
    pipe: &mut redis::Pipeline,
    keys: &Keys,
    queue: &QueueName,
    priority: Priority,
    job: &JobRef,
) {
    pipe.cmd("XADD")
        .arg(keys.stream(keys.shard_of(&job.run_id), queue, priority))
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

/// What [`Store::read_jobs`] read: jobs, and the paused queues as read right after them.
#[derive(Debug, Default)]
pub struct JobsRead {
    /// The jobs, now pending under the reader.
    pub jobs: Vec<Job>,
    /// The queues paused when the jobs had been read.
    pub paused: BTreeSet<QueueName>,
}

/// What [`Store::undelivered`] found.
enum Undelivered {
    /// The most urgent priority with entries no worker has been given.
    Found(Priority),
    /// None: the group's last delivered id on each stream (`$` where it has no group yet).
    None { positions: Vec<String> },
}

impl Store {
    /// Reads up to `max` jobs of `shard` for `consumer` from `queues`, without waiting, and
    /// the paused queues as they were right after the last read.
    ///
    /// Priorities are read from `from` down to low, and the reading stops after the first
    /// priority that gave jobs but not all that were wanted: the lower ones wait for the next
    /// read (found by [`Store::wait_for_jobs`]), so one job costs one round trip. A caller that
    /// reads on after a full batch passes [`Priority::High`], so urgent jobs go first. Every few
    /// rounds (`round`) the order is low to high instead and every priority is read, so lower
    /// priorities are never starved.
    #[allow(clippy::too_many_arguments)]
    pub async fn read_jobs(
        &self,
        conn: &mut RedisConnection,
        shard: Shard,
        queues: &[QueueName],
        consumer: &str,
        max: usize,
        round: u64,
        from: Priority,
    ) -> StoreResult<JobsRead> {
        let low_first = round % LOW_PRIORITY_FIRST_EVERY == LOW_PRIORITY_FIRST_EVERY - 1;
        let order: Vec<Priority> = if low_first {
            Priority::ALL.iter().rev().copied().collect()
        } else {
            Priority::ALL
                .iter()
                .copied()
                .skip_while(|priority| *priority != from)
                .collect()
        };
        let mut read = JobsRead::default();
        for priority in order {
            for queue in queues {
                let wanted = max.saturating_sub(read.jobs.len());
                if wanted == 0 {
                    return Ok(read);
                }
                let streams = [(queue.clone(), priority)];
                let (jobs, paused) = self
                    .read_group(conn, shard, &streams, consumer, wanted)
                    .await?;
                read.jobs.extend(jobs);
                read.paused = paused;
            }
            if !low_first && !read.jobs.is_empty() {
                return Ok(read);
            }
        }
        Ok(read)
    }

    /// Waits up to `block_ms` until `shard` has jobs of `queues` not yet delivered to any
    /// worker, without taking them; returns the most urgent priority that has some. A worker
    /// takes its slots first and reads after, so it never holds a job it has no slot for.
    /// `conn` must have no response timeout.
    pub async fn wait_for_jobs(
        &self,
        conn: &mut RedisConnection,
        shard: Shard,
        queues: &[QueueName],
        block_ms: u64,
    ) -> StoreResult<Option<Priority>> {
        let streams = self.priority_streams(shard, queues, Priority::Low);
        let positions = match self.undelivered(conn, &streams).await? {
            Undelivered::Found(priority) => return Ok(Some(priority)),
            Undelivered::None { positions } => positions,
        };
        // Entries after what the group was last given are new work: wait for the first.
        let mut cmd = redis::cmd("XREAD");
        cmd.arg("COUNT")
            .arg(1)
            .arg("BLOCK")
            .arg(block_ms)
            .arg("STREAMS");
        for (stream, _) in &streams {
            cmd.arg(stream);
        }
        for position in &positions {
            cmd.arg(position);
        }
        let reply: Option<StreamReadReply> = cmd.query_async(conn).await?;
        Ok(reply.and_then(|reply| {
            streams
                .iter()
                .find(|(stream, _)| reply.keys.iter().any(|key| key.key == *stream))
                .map(|(_, priority)| *priority)
        }))
    }

    /// The most urgent priority more urgent than `than` that `shard` has jobs of `queues`
    /// waiting for, without waiting or taking them: a reader queued for slots asks it, so it
    /// is served ahead of readers with less urgent work once more urgent work reaches its shard.
    pub async fn more_urgent_waiting(
        &self,
        conn: &mut RedisConnection,
        shard: Shard,
        queues: &[QueueName],
        than: Priority,
    ) -> StoreResult<Option<Priority>> {
        let Some(least) = Priority::ALL
            .iter()
            .copied()
            .take_while(|priority| *priority != than)
            .last()
        else {
            return Ok(None);
        };
        let streams = self.priority_streams(shard, queues, least);
        Ok(match self.undelivered(conn, &streams).await? {
            Undelivered::Found(priority) => Some(priority),
            Undelivered::None { .. } => None,
        })
    }

    /// The job streams of `queues` on `shard`, most urgent first, down to `least`.
    fn priority_streams(
        &self,
        shard: Shard,
        queues: &[QueueName],
        least: Priority,
    ) -> Vec<(String, Priority)> {
        let mut priorities = Vec::new();
        for &priority in Priority::ALL.iter() {
            priorities.push(priority);
            if priority == least {
                break;
            }
        }
        priorities
            .into_iter()
            .flat_map(|priority| {
                queues
                    .iter()
                    .map(move |queue| (self.keys.stream(shard, queue, priority), priority))
            })
            .collect()
    }

    /// Whether `streams` (most urgent first) hold entries not yet delivered to the consumer
    /// group: the most urgent priority that does, or else where the group stands on each.
    async fn undelivered(
        &self,
        conn: &mut RedisConnection,
        streams: &[(String, Priority)],
    ) -> StoreResult<Undelivered> {
        let mut pipe = redis::pipe();
        for (stream, _) in streams {
            pipe.cmd("XINFO").arg("GROUPS").arg(stream);
        }
        let groups: Vec<StreamInfoGroupsReply> = pipe.query_async(conn).await?;
        let mut positions = Vec::with_capacity(streams.len());
        for ((_, priority), groups) in streams.iter().zip(&groups) {
            let group = groups
                .groups
                .iter()
                .find(|group| group.name == CONSUMER_GROUP);
            match group {
                Some(group) if group.lag.is_some_and(|lag| lag > 0) => {
                    return Ok(Undelivered::Found(*priority));
                }
                Some(group) => positions.push(group.last_delivered_id.clone()),
                None => positions.push("$".to_owned()),
            }
        }
        Ok(Undelivered::None { positions })
    }

    /// One non-blocking `XREADGROUP` of `streams`, with `SMEMBERS` of the paused queues in the
    /// same round trip, right after it.
    async fn read_group(
        &self,
        conn: &mut RedisConnection,
        shard: Shard,
        streams: &[(QueueName, Priority)],
        consumer: &str,
        count: usize,
    ) -> StoreResult<(Vec<Job>, BTreeSet<QueueName>)> {
        let keys: Vec<String> = streams
            .iter()
            .map(|(queue, priority)| self.keys.stream(shard, queue, *priority))
            .collect();
        let mut pipe = redis::pipe();
        pipe.cmd("XREADGROUP")
            .arg("GROUP")
            .arg(CONSUMER_GROUP)
            .arg(consumer)
            .arg("COUNT")
            .arg(count)
            .arg("STREAMS")
            .arg(&keys);
        for _ in &keys {
            pipe.arg(">");
        }
        pipe.cmd("SMEMBERS").arg(self.keys.paused_queues());
        let (reply, paused): (Option<StreamReadReply>, Vec<String>) =
            pipe.query_async(conn).await?;
        let paused = paused
            .iter()
            .filter_map(|name| QueueName::parse(name).ok())
            .collect();
        let mut jobs = Vec::new();
        for stream in reply.map(|reply| reply.keys).unwrap_or_default() {
            let Some(position) = keys.iter().position(|key| *key == stream.key) else {
                continue;
            };
            let (queue, priority) = &streams[position];
            for entry in stream.ids {
                // A job names its run, whose shard must be this stream's: the scripts touch
                // the run and the stream together, in one slot.
                let job =
                    job_from_entry(&entry).filter(|job| self.keys.shard_of(&job.run_id) == shard);
                match job {
                    Some(job) => jobs.push(Job {
                        shard,
                        queue: queue.clone(),
                        priority: *priority,
                        entry_id: entry.id,
                        job,
                    }),
                    None => {
                        tracing::warn!(queue = %queue, entry = %entry.id, "malformed job entry (or one on another shard than its run's) moved to the dead letter");
                        self.dead_letter_malformed(conn, shard, queue, *priority, &entry)
                            .await?;
                    }
                }
            }
        }
        Ok((jobs, paused))
    }

    /// A stream entry that is not a job at all cannot run: keep it in the dead letter with its
    /// raw fields, so nothing is silently dropped.
    async fn dead_letter_malformed(
        &self,
        conn: &mut RedisConnection,
        shard: Shard,
        queue: &QueueName,
        priority: Priority,
        entry: &StreamId,
    ) -> StoreResult<()> {
        let raw: serde_json::Map<String, Value> = entry
            .map
            .iter()
            .map(|(name, value)| (name.clone(), Value::String(bulk_string(value))))
            .collect();
        let mut invocation = scripts::MOVE_ENTRY.key(self.keys.stream(shard, queue, priority));
        invocation
            .key(self.keys.dead(shard, queue))
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
        let head = |invocation: &mut ScriptInvocation<'_>| {
            invocation.arg(worker_id).arg(now);
        };
        let replies = self
            .call_shard_batches(conn, &scripts::START_JOBS, "start_jobs", jobs, &head)
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
        if finished.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_ms();
        let retention = self.retention_secs;
        let head = |invocation: &mut ScriptInvocation<'_>| {
            invocation.arg(now).arg(retention);
        };
        let items: Vec<FinishedJob<'_>> = finished
            .iter()
            .map(|(job, outcome)| FinishedJob { job, outcome })
            .collect();
        let replies = self
            .call_shard_batches(conn, &scripts::FINISH_JOBS, "finish_jobs", &items, &head)
            .await?;
        let outcomes: Vec<FinishOutcome> = replies
            .iter()
            .map(finish_outcome)
            .collect::<StoreResult<_>>()?;

        let mut series = OutcomeCounts::default();
        for ((job, _), outcome) in finished.iter().zip(&outcomes) {
            match outcome {
                FinishOutcome::Succeeded { .. } => series.add(&job.queue, Outcome::Succeeded),
                FinishOutcome::Failed => series.add(&job.queue, Outcome::Failed),
                FinishOutcome::Retrying | FinishOutcome::Stale => {}
            }
        }
        let mut pipe = redis::pipe();
        series.flush_into(&mut pipe, &self.keys, now);
        self.query_pipeline::<()>(conn, &pipe).await?;
        Ok(outcomes)
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

    fn add_to(&self, keys: &Keys, invocation: &mut ScriptInvocation<'_>) {
        invocation
            .key(keys.run(&self.job.run_id))
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

    fn add_to(&self, keys: &Keys, invocation: &mut ScriptInvocation<'_>) {
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
        invocation
            .key(keys.run(&job.job.run_id))
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

/// Outcomes of a batch counted per queue, for the queues' outcome series.
#[derive(Debug, Default)]
struct OutcomeCounts(HashMap<(QueueName, Outcome), i64>);

impl OutcomeCounts {
    fn add(&mut self, queue: &QueueName, outcome: Outcome) {
        *self.0.entry((queue.clone(), outcome)).or_default() += 1;
    }

    fn flush_into(self, pipe: &mut redis::Pipeline, keys: &Keys, now: u64) {
        for ((queue, outcome), count) in self.0 {
            push_outcomes(pipe, keys, &queue, outcome, count, now);
        }
    }
}

/// Decodes the start script's reply for one job.
fn start_outcome(reply: &ItemReply) -> StoreResult<StartOutcome> {
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

//! Human tasks: jobs on a human queue ([`QueueName::is_human`]) that people, not workers,
//! read, through the same consumer group, each person being a consumer named by their key id.
//!
//! - A claim reads the next job (`XREADGROUP`, high priority first) and starts its attempt
//!   with the engine's guarded start ([`Store::start_jobs`]), so two people never hold one
//!   task: the stream gives an entry to one consumer, and the start script lets one start.
//! - The job stays pending under the person (the scheduler never reclaims human queues) until
//!   the submission finishes the task through the engine's guarded finish
//!   ([`Store::finish_jobs`]), which enqueues the next steps and acknowledges the job.
//! - The submission is recorded on the task (`human_step.lua`) before the finish, so a
//!   repeated submit, or one whose API died midway, finishes the task with the data recorded
//!   first, exactly once; a submit repeated after the finish re-adds the successors' jobs the
//!   way a redelivered job does (the start guard drops duplicates).
//! - A claim also takes over jobs left pending for [`ABANDONED_MS`] by a claim or a submit
//!   that stopped midway: an entry whose task never started is started for the new claimant;
//!   a submitted task still running is finished; a finished task's entry is healed and
//!   acknowledged. Tasks a person holds are never touched.

use redis::aio::MultiplexedConnection;
use redis::streams::{
    StreamId, StreamInfoGroupsReply, StreamPendingCountReply, StreamRangeReply, StreamReadReply,
};
use serde_json::Value;

use crate::error::StoreError;
use crate::keys::{CONSUMER_GROUP, Shard};
use crate::model::{Priority, QueueName, TaskStatus};
use crate::scripts;
use crate::store::jobs::{AttemptOutcome, FinishOutcome, Job, StartOutcome, job_from_entry};
use crate::store::{Store, StoreResult};
use crate::time::now_ms;

/// How long a human queue's entry must sit untouched, in a state no person works on, before a
/// claim takes it over (its claimer or submitter stopped midway).
pub const ABANDONED_MS: u64 = 30_000;

/// Most stale entries one claim reads past before giving up (finished or duplicate jobs).
const CLAIM_SCAN_LIMIT: usize = 100;

/// Most pending entries of one person examined to find the job of a task they hold.
const HELD_SCAN_LIMIT: usize = 1000;

/// What saving or submitting a person's work did.
#[derive(Debug, Clone, PartialEq)]
pub enum HumanWork {
    /// The run or the task does not exist.
    Missing,
    /// The task is a machine step.
    Machine,
    /// Nobody has claimed the task yet.
    NotClaimed(TaskStatus),
    /// Another person claimed it.
    NotYours(String),
    /// The task is no longer open for this (already submitted, finished or canceled).
    Closed(TaskStatus),
    /// The work in progress is stored.
    Saved,
    /// The task was submitted with `data` and has finished (or is finishing) with it.
    Submitted {
        /// The data recorded by the first submission.
        data: Value,
        /// True when this repeats an earlier submission.
        again: bool,
    },
}

impl Store {
    /// Jobs of `queue` nobody has claimed yet, high priority first, oldest first (at most
    /// `limit`). Some may belong to tasks already started through a duplicate job.
    pub async fn available_human_jobs(
        &self,
        queue: &QueueName,
        limit: usize,
    ) -> StoreResult<Vec<Job>> {
        let mut conn = self.conn().await?;
        let mut jobs = Vec::new();
        for priority in Priority::ALL {
            let mut of_priority = Vec::new();
            for shard in self.keys.shards() {
                let stream = self.keys.stream(shard, queue, priority);
                let groups: StreamInfoGroupsReply = match redis::cmd("XINFO")
                    .arg("GROUPS")
                    .arg(&stream)
                    .query_async(&mut conn)
                    .await
                {
                    Ok(groups) => groups,
                    Err(_) => continue,
                };
                let Some(group) = groups.groups.iter().find(|g| g.name == CONSUMER_GROUP) else {
                    continue;
                };
                let reply: StreamRangeReply = redis::cmd("XRANGE")
                    .arg(&stream)
                    .arg(format!("({}", group.last_delivered_id))
                    .arg("+")
                    .arg("COUNT")
                    .arg(limit.max(1))
                    .query_async(&mut conn)
                    .await?;
                of_priority.extend(reply.ids.iter().filter_map(|entry| {
                    Some(Job {
                        shard,
                        queue: queue.clone(),
                        priority,
                        entry_id: entry.id.clone(),
                        job: job_from_entry(entry)?,
                    })
                }));
            }
            // Oldest first across shards: entry ids start with their time.
            of_priority.sort_by_key(|job| entry_order(&job.entry_id));
            jobs.extend(of_priority);
            if jobs.len() >= limit {
                jobs.truncate(limit);
                break;
            }
        }
        Ok(jobs)
    }

    /// Claims the next human task of `queue` for `person`: its attempt is started (the task
    /// runs, with `person` as its worker) and its job stays pending under `person`. `None`
    /// when no task is waiting.
    pub async fn claim_human_job(
        &self,
        queue: &QueueName,
        person: &str,
    ) -> StoreResult<Option<Job>> {
        self.ensure_queue(queue).await?;
        let mut conn = self.dedicated_connection().await?;
        if let Some(job) = self.take_over_abandoned(&mut conn, queue, person).await? {
            return Ok(Some(job));
        }
        for (priority, shard) in Priority::ALL
            .into_iter()
            .flat_map(|priority| self.keys.shards().map(move |shard| (priority, shard)))
        {
            let stream = self.keys.stream(shard, queue, priority);
            for _ in 0..CLAIM_SCAN_LIMIT {
                let reply: Option<StreamReadReply> = redis::cmd("XREADGROUP")
                    .arg("GROUP")
                    .arg(CONSUMER_GROUP)
                    .arg(person)
                    .arg("COUNT")
                    .arg(1)
                    .arg("STREAMS")
                    .arg(&stream)
                    .arg(">")
                    .query_async(&mut conn)
                    .await?;
                let Some(entry) = reply
                    .and_then(|reply| reply.keys.into_iter().next())
                    .and_then(|key| key.ids.into_iter().next())
                else {
                    break;
                };
                let Some(job) = self
                    .job_of(&mut conn, shard, queue, priority, &entry)
                    .await?
                else {
                    continue;
                };
                if let Some(StartOutcome::Start(_)) = self
                    .start_jobs(&mut conn, std::slice::from_ref(&job), person)
                    .await?
                    .pop()
                {
                    return Ok(Some(job));
                }
            }
        }
        Ok(None)
    }

    /// Stores `data` as the work in progress of task `task` of run `run_id`, if `person`
    /// holds it and has not submitted it.
    pub async fn save_human_work(
        &self,
        run_id: &str,
        task: usize,
        person: &str,
        data: &Value,
    ) -> StoreResult<HumanWork> {
        let reply = self
            .human_step("save", run_id, task, person, data, &Value::Null)
            .await?;
        human_work(&reply, false)
    }

    /// Submits `data` for task `task` of run `run_id` (on `queue`, at `priority`), if `person`
    /// holds it: records the submission with its `snapshot`, then finishes the task with
    /// `data` as its result. Repeating it is harmless (see the module's documentation).
    pub async fn submit_human_work(
        &self,
        run_id: &str,
        task: usize,
        person: &str,
        data: &Value,
        snapshot: &Value,
        (queue, priority): (&QueueName, Priority),
    ) -> StoreResult<HumanWork> {
        let reply = self
            .human_step("submit", run_id, task, person, data, snapshot)
            .await?;
        let work = human_work(&reply, true)?;
        let HumanWork::Submitted { data, .. } = &work else {
            return Ok(work);
        };
        let status = reply.get(2).map(String::as_str).unwrap_or("");
        let mut conn = self.dedicated_connection().await?;
        let held = self
            .held_job(&mut conn, queue, priority, person, run_id, task)
            .await?;
        match (status, held) {
            ("running", Some(job)) => {
                let finished = self
                    .finish_jobs(
                        &mut conn,
                        &[(job, AttemptOutcome::Succeeded(Some(data.clone())))],
                    )
                    .await?;
                if finished.first() == Some(&FinishOutcome::Stale) {
                    let status = self.task_status(run_id, task).await?;
                    if status != Some(TaskStatus::Success) {
                        return Ok(HumanWork::Closed(status.unwrap_or(TaskStatus::Canceled)));
                    }
                }
            }
            ("running", None) => {
                return Err(StoreError::Corrupt(format!(
                    "task {task} of run {run_id} runs under {person}, who holds no job of it"
                )));
            }
            ("success", Some(job)) => {
                // Finished, but not acknowledged: the submitter stopped before the follow-ups.
                self.start_jobs(&mut conn, std::slice::from_ref(&job), person)
                    .await?;
            }
            ("success", None) => {}
            (other, _) => return Ok(HumanWork::Closed(other.parse()?)),
        }
        Ok(work)
    }

    async fn human_step(
        &self,
        operation: &str,
        run_id: &str,
        task: usize,
        person: &str,
        data: &Value,
        snapshot: &Value,
    ) -> StoreResult<Vec<String>> {
        let mut conn = self.conn().await?;
        Ok(scripts::HUMAN_STEP
            .key(self.keys.run(run_id))
            .arg(operation)
            .arg(task)
            .arg(person)
            .arg(data.to_string())
            .arg(snapshot.to_string())
            .arg(now_ms())
            .invoke_async(&mut conn)
            .await?)
    }

    async fn task_status(&self, run_id: &str, task: usize) -> StoreResult<Option<TaskStatus>> {
        let mut conn = self.conn().await?;
        let status: Option<String> = redis::cmd("HGET")
            .arg(self.keys.run(run_id))
            .arg(format!("t{task}.status"))
            .query_async(&mut conn)
            .await?;
        status
            .map(|status| status.parse())
            .transpose()
            .map_err(Into::into)
    }

    /// The job of task `task` of run `run_id` pending under `person`, if any.
    async fn held_job(
        &self,
        conn: &mut MultiplexedConnection,
        queue: &QueueName,
        priority: Priority,
        person: &str,
        run_id: &str,
        task: usize,
    ) -> StoreResult<Option<Job>> {
        let shard = self.keys.shard_of(run_id);
        let stream = self.keys.stream(shard, queue, priority);
        let pending: StreamPendingCountReply = redis::cmd("XPENDING")
            .arg(&stream)
            .arg(CONSUMER_GROUP)
            .arg("-")
            .arg("+")
            .arg(HELD_SCAN_LIMIT)
            .arg(person)
            .query_async(conn)
            .await?;
        if pending.ids.is_empty() {
            return Ok(None);
        }
        let mut pipe = redis::pipe();
        for pending in &pending.ids {
            pipe.cmd("XRANGE")
                .arg(&stream)
                .arg(&pending.id)
                .arg(&pending.id);
        }
        let entries: Vec<StreamRangeReply> = pipe.query_async(conn).await?;
        Ok(entries
            .iter()
            .flat_map(|reply| reply.ids.iter())
            .find_map(|entry| {
                let job = job_from_entry(entry)?;
                (job.run_id == run_id && job.task as usize == task).then(|| Job {
                    shard,
                    queue: queue.clone(),
                    priority,
                    entry_id: entry.id.clone(),
                    job,
                })
            }))
    }

    /// The job an entry carries; an entry that is not a job is acknowledged and skipped.
    async fn job_of(
        &self,
        conn: &mut MultiplexedConnection,
        shard: Shard,
        queue: &QueueName,
        priority: Priority,
        entry: &StreamId,
    ) -> StoreResult<Option<Job>> {
        match job_from_entry(entry) {
            Some(job) => Ok(Some(Job {
                shard,
                queue: queue.clone(),
                priority,
                entry_id: entry.id.clone(),
                job,
            })),
            None => {
                tracing::warn!(queue = %queue, entry = %entry.id, "malformed human job entry dropped");
                redis::cmd("XACK")
                    .arg(self.keys.stream(shard, queue, priority))
                    .arg(CONSUMER_GROUP)
                    .arg(&entry.id)
                    .query_async::<()>(conn)
                    .await?;
                Ok(None)
            }
        }
    }

    /// Finishes what claims and submits that stopped midway left pending (see the module's
    /// documentation); returns a task taken over for `person`, if one was.
    async fn take_over_abandoned(
        &self,
        conn: &mut MultiplexedConnection,
        queue: &QueueName,
        person: &str,
    ) -> StoreResult<Option<Job>> {
        for (priority, shard) in Priority::ALL
            .into_iter()
            .flat_map(|priority| self.keys.shards().map(move |shard| (priority, shard)))
        {
            let stream = self.keys.stream(shard, queue, priority);
            let pending: StreamPendingCountReply = redis::cmd("XPENDING")
                .arg(&stream)
                .arg(CONSUMER_GROUP)
                .arg("IDLE")
                .arg(ABANDONED_MS)
                .arg("-")
                .arg("+")
                .arg(CLAIM_SCAN_LIMIT)
                .query_async(&mut *conn)
                .await?;
            for pending in pending.ids {
                let reply: StreamRangeReply = redis::cmd("XRANGE")
                    .arg(&stream)
                    .arg(&pending.id)
                    .arg(&pending.id)
                    .query_async(&mut *conn)
                    .await?;
                let Some(entry) = reply.ids.first() else {
                    continue;
                };
                let Some(job) = self.job_of(conn, shard, queue, priority, entry).await? else {
                    continue;
                };
                let p = format!("t{}.", job.job.task);
                let (status, submitted, submission): (
                    Option<String>,
                    Option<String>,
                    Option<String>,
                ) = redis::cmd("HMGET")
                    .arg(self.keys.run(&job.job.run_id))
                    .arg(format!("{p}status"))
                    .arg(format!("{p}submitted"))
                    .arg(format!("{p}submission"))
                    .query_async(&mut *conn)
                    .await?;
                match (status.as_deref(), submitted.as_deref()) {
                    (Some("running"), Some("1")) => {
                        let data = submission
                            .and_then(|text| serde_json::from_str(&text).ok())
                            .unwrap_or(Value::Null);
                        tracing::info!(run = %job.job.run_id, task = job.job.task, "finishing a submitted human task left midway");
                        self.finish_jobs(conn, &[(job, AttemptOutcome::Succeeded(Some(data)))])
                            .await?;
                    }
                    (Some("running"), _) => {}
                    _ => {
                        let claimed: Vec<String> = redis::cmd("XCLAIM")
                            .arg(&stream)
                            .arg(CONSUMER_GROUP)
                            .arg(person)
                            .arg(ABANDONED_MS)
                            .arg(&job.entry_id)
                            .arg("JUSTID")
                            .query_async(&mut *conn)
                            .await?;
                        if claimed.is_empty() {
                            continue;
                        }
                        if let Some(StartOutcome::Start(_)) = self
                            .start_jobs(conn, std::slice::from_ref(&job), person)
                            .await?
                            .pop()
                        {
                            tracing::info!(run = %job.job.run_id, task = job.job.task, person, "took over an abandoned human task");
                            return Ok(Some(job));
                        }
                    }
                }
            }
        }
        Ok(None)
    }
}

/// Reads the reply of `human_step.lua`.
fn human_work(reply: &[String], submitting: bool) -> StoreResult<HumanWork> {
    let part = |index: usize| reply.get(index).map(String::as_str).unwrap_or("");
    Ok(match part(0) {
        "missing" => HumanWork::Missing,
        "machine" => HumanWork::Machine,
        "not_claimed" => HumanWork::NotClaimed(part(1).parse()?),
        "not_yours" => HumanWork::NotYours(part(2).to_owned()),
        "closed" => HumanWork::Closed(part(1).parse()?),
        "saved" => HumanWork::Saved,
        name @ ("submitted" | "resubmitted") if submitting => HumanWork::Submitted {
            data: serde_json::from_str(part(1)).unwrap_or(Value::Null),
            again: name == "resubmitted",
        },
        other => {
            return Err(StoreError::Corrupt(format!(
                "unexpected answer '{other}' from human_step.lua"
            )));
        }
    })
}

/// The order of stream entry ids (`MS-SEQ`): by time, then sequence.
fn entry_order(entry_id: &str) -> (u64, u64) {
    let (ms, seq) = entry_id.split_once('-').unwrap_or((entry_id, "0"));
    (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
}

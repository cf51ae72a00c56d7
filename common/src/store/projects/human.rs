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
//! - A person may also claim one task by name ([`Store::claim_human_task`], the console's
//!   Claim button): its attempt is started by the same guarded start (so again one person
//!   wins), then its entry, still undelivered, is put in the person's pending list
//!   (`XCLAIM ... FORCE`). A later claim that reads that entry off the stream finds its task
//!   running under someone else and hands the entry back to them instead of acknowledging it.
//!   Should a race acknowledge it all the same, the holder's submit still finishes the task,
//!   its attempt read from the task itself ([`NO_ENTRY`]).
//! - The tasks a person holds are the jobs pending under them ([`Store::held_human_jobs`]).

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

/// Most undelivered entries of one stream read to find the job of a task claimed by name.
const ENTRY_SCAN_LIMIT: usize = 10_000;

/// Entries read per round trip while looking for a task's job.
const ENTRY_SCAN_PAGE: usize = 500;

/// The entry id given for a job that is pending under nobody: no stream holds it (entries are
/// added with `*`, time-based ids), so acknowledging it changes nothing.
pub const NO_ENTRY: &str = "0-1";

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

/// What claiming one task by name did.
#[derive(Debug, Clone, PartialEq)]
pub enum HumanClaim {
    /// The task is the person's now: its attempt runs and its job is pending under them.
    Claimed(Job),
    /// The run or the task does not exist.
    Missing,
    /// The task is a machine step.
    Machine,
    /// The person holds it already.
    Yours,
    /// Someone else claimed it (their key id).
    Taken(String),
    /// It waits for nobody now: not ready (its dependencies have not finished), submitted,
    /// finished or canceled; or its job is not among the stream's undelivered entries.
    NotWaiting(TaskStatus),
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
                if self.give_back(&mut conn, &job, person).await? {
                    continue;
                }
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

    /// Claims task `task` of run `run_id` (a project's human step) for `person`, if it waits
    /// for someone (see the module's documentation).
    pub async fn claim_human_task(
        &self,
        run_id: &str,
        task: usize,
        person: &str,
    ) -> StoreResult<HumanClaim> {
        let Some(record) = self
            .project_runs(&[run_id.to_owned()])
            .await?
            .pop()
            .flatten()
        else {
            return Ok(HumanClaim::Missing);
        };
        let Some(view) = record.run.tasks.get(task) else {
            return Ok(HumanClaim::Missing);
        };
        if !view.queue.is_human() {
            return Ok(HumanClaim::Machine);
        }
        let submitted = record.human.get(task).is_some_and(|human| human.submitted);
        match (view.status, view.worker.as_deref()) {
            (TaskStatus::Queued, _) => {}
            (TaskStatus::Running, Some(worker)) if worker == person && !submitted => {
                return Ok(HumanClaim::Yours);
            }
            (TaskStatus::Running, Some(worker)) if !submitted => {
                return Ok(HumanClaim::Taken(worker.to_owned()));
            }
            (status, _) => return Ok(HumanClaim::NotWaiting(status)),
        }
        let (queue, priority) = (view.queue.clone(), record.run.priority);
        self.ensure_queue(&queue).await?;
        let mut conn = self.dedicated_connection().await?;
        let Some(mut job) = self
            .undelivered_job(&mut conn, &queue, priority, run_id, task, view.attempt)
            .await?
        else {
            return Ok(HumanClaim::NotWaiting(TaskStatus::Queued));
        };
        // Started with no entry, so that a start refused because someone else started the task
        // acknowledges nothing: the entry may be pending under them.
        let entry_id = std::mem::replace(&mut job.entry_id, NO_ENTRY.to_owned());
        let started = self
            .start_jobs(&mut conn, std::slice::from_ref(&job), person)
            .await?
            .pop();
        job.entry_id = entry_id;
        if let Some(StartOutcome::Start(_)) = started {
            let stream = self.keys.stream(job.shard, &queue, priority);
            redis::cmd("XCLAIM")
                .arg(&stream)
                .arg(CONSUMER_GROUP)
                .arg(person)
                .arg(0)
                .arg(&job.entry_id)
                .arg("FORCE")
                .arg("JUSTID")
                .query_async::<Vec<String>>(&mut conn)
                .await?;
            return Ok(HumanClaim::Claimed(job));
        }
        let (status, worker): (Option<String>, Option<String>) = redis::cmd("HMGET")
            .arg(self.keys.run(run_id))
            .arg(format!("t{task}.status"))
            .arg(format!("t{task}.worker"))
            .query_async(&mut conn)
            .await?;
        let status: TaskStatus = status.as_deref().unwrap_or("canceled").parse()?;
        Ok(match (status, worker) {
            (TaskStatus::Running, Some(worker)) if worker == person => HumanClaim::Yours,
            (TaskStatus::Running, Some(worker)) => HumanClaim::Taken(worker),
            (status, _) => HumanClaim::NotWaiting(status),
        })
    }

    /// The jobs of `queue` pending under `person` (the human tasks they claimed, and may have
    /// submitted), at most `limit` per stream, high priority first, oldest first; read in two
    /// round trips whatever the number of shards (a queue never used holds none).
    pub async fn held_human_jobs(
        &self,
        queue: &QueueName,
        person: &str,
        limit: usize,
    ) -> StoreResult<Vec<Job>> {
        let streams: Vec<(Shard, Priority)> = Priority::ALL
            .into_iter()
            .flat_map(|priority| self.keys.shards().map(move |shard| (shard, priority)))
            .collect();
        let mut conn = self.conn().await?;
        let mut jobs = self
            .pending_jobs(&mut conn, queue, &streams, person, limit)
            .await?;
        jobs.sort_by_key(|job| {
            let rank = Priority::ALL
                .iter()
                .position(|priority| *priority == job.priority);
            (rank, entry_order(&job.entry_id))
        });
        Ok(jobs)
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
            ("running", held) => {
                let job = match held {
                    Some(job) => job,
                    None => self.unheld_job(queue, priority, run_id, task).await?,
                };
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
        Ok(self
            .pending_jobs(conn, queue, &[(shard, priority)], person, HELD_SCAN_LIMIT)
            .await?
            .into_iter()
            .find(|job| job.job.run_id == run_id && job.job.task as usize == task))
    }

    /// The jobs pending under `person` on the `streams` of `queue` (at most `limit` each, in
    /// the order of `streams`, oldest first in each): their ids in one pipeline, their entries
    /// in a second.
    async fn pending_jobs(
        &self,
        conn: &mut (impl redis::aio::ConnectionLike + Send),
        queue: &QueueName,
        streams: &[(Shard, Priority)],
        person: &str,
        limit: usize,
    ) -> StoreResult<Vec<Job>> {
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for (shard, priority) in streams {
            pipe.cmd("XPENDING")
                .arg(self.keys.stream(*shard, queue, *priority))
                .arg(CONSUMER_GROUP)
                .arg("-")
                .arg("+")
                .arg(limit.max(1))
                .arg(person);
        }
        let replies: Vec<redis::RedisResult<StreamPendingCountReply>> =
            pipe.query_async(conn).await?;
        let mut held: Vec<(Shard, Priority, String)> = Vec::new();
        for ((shard, priority), reply) in streams.iter().zip(replies) {
            let pending = match reply {
                Ok(pending) => pending,
                // No stream (or group) yet: nothing was ever queued there.
                Err(error) if error.code() == Some("NOGROUP") => continue,
                Err(error) => return Err(error.into()),
            };
            held.extend(
                pending
                    .ids
                    .into_iter()
                    .map(|entry| (*shard, *priority, entry.id)),
            );
        }
        if held.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for (shard, priority, id) in &held {
            pipe.cmd("XRANGE")
                .arg(self.keys.stream(*shard, queue, *priority))
                .arg(id)
                .arg(id);
        }
        let entries: Vec<StreamRangeReply> = pipe.query_async(conn).await?;
        Ok(held
            .iter()
            .zip(&entries)
            .filter_map(|((shard, priority, _), reply)| {
                let entry = reply.ids.first()?;
                Some(Job {
                    shard: *shard,
                    queue: queue.clone(),
                    priority: *priority,
                    entry_id: entry.id.clone(),
                    job: job_from_entry(entry)?,
                })
            })
            .collect())
    }

    /// The job of attempt `attempt` of task `task` of run `run_id` among the entries of its
    /// stream that no one has read yet, if it is there.
    async fn undelivered_job(
        &self,
        conn: &mut MultiplexedConnection,
        queue: &QueueName,
        priority: Priority,
        run_id: &str,
        task: usize,
        attempt: u32,
    ) -> StoreResult<Option<Job>> {
        let shard = self.keys.shard_of(run_id);
        let stream = self.keys.stream(shard, queue, priority);
        let groups: StreamInfoGroupsReply = redis::cmd("XINFO")
            .arg("GROUPS")
            .arg(&stream)
            .query_async(&mut *conn)
            .await?;
        let Some(group) = groups.groups.iter().find(|g| g.name == CONSUMER_GROUP) else {
            return Ok(None);
        };
        let mut after = group.last_delivered_id.clone();
        let mut read = 0;
        while read < ENTRY_SCAN_LIMIT {
            let reply: StreamRangeReply = redis::cmd("XRANGE")
                .arg(&stream)
                .arg(format!("({after}"))
                .arg("+")
                .arg("COUNT")
                .arg(ENTRY_SCAN_PAGE)
                .query_async(&mut *conn)
                .await?;
            let Some(last) = reply.ids.last() else {
                return Ok(None);
            };
            after = last.id.clone();
            read += reply.ids.len();
            let found = reply.ids.iter().find_map(|entry| {
                let job = job_from_entry(entry)?;
                (job.run_id == run_id && job.task as usize == task && job.attempt == attempt).then(
                    || Job {
                        shard,
                        queue: queue.clone(),
                        priority,
                        entry_id: entry.id.clone(),
                        job,
                    },
                )
            });
            if found.is_some() || reply.ids.len() < ENTRY_SCAN_PAGE {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// The job of task `task` of run `run_id` as its current attempt stands, pending under
    /// nobody ([`NO_ENTRY`]): for a holder whose entry a concurrent claim acknowledged.
    async fn unheld_job(
        &self,
        queue: &QueueName,
        priority: Priority,
        run_id: &str,
        task: usize,
    ) -> StoreResult<Job> {
        let mut conn = self.conn().await?;
        let (attempt, delivery): (Option<u32>, Option<u32>) = redis::cmd("HMGET")
            .arg(self.keys.run(run_id))
            .arg(format!("t{task}.attempt"))
            .arg(format!("t{task}.delivery"))
            .query_async(&mut conn)
            .await?;
        let attempt = attempt.ok_or_else(|| {
            StoreError::Corrupt(format!("task {task} of run {run_id} has no attempt"))
        })?;
        Ok(Job {
            shard: self.keys.shard_of(run_id),
            queue: queue.clone(),
            priority,
            entry_id: NO_ENTRY.to_owned(),
            job: crate::model::JobRef {
                run_id: run_id.to_owned(),
                task: task as u32,
                attempt,
                redeliveries: delivery.unwrap_or(0),
            },
        })
    }

    /// Hands a job read off the stream back to the person whose task it is, when its task
    /// runs under someone other than `person` (claimed by name, see the module's
    /// documentation) and the start would refuse it; true when it did.
    async fn give_back(
        &self,
        conn: &mut MultiplexedConnection,
        job: &Job,
        person: &str,
    ) -> StoreResult<bool> {
        let p = format!("t{}.", job.job.task);
        let (status, worker, attempt, delivery): (
            Option<String>,
            Option<String>,
            Option<u32>,
            Option<u32>,
        ) = redis::cmd("HMGET")
            .arg(self.keys.run(&job.job.run_id))
            .arg(format!("{p}status"))
            .arg(format!("{p}worker"))
            .arg(format!("{p}attempt"))
            .arg(format!("{p}delivery"))
            .query_async(&mut *conn)
            .await?;
        let held_by_other = status.as_deref() == Some("running")
            && attempt == Some(job.job.attempt)
            && job.job.redeliveries <= delivery.unwrap_or(0);
        let Some(holder) = worker.filter(|worker| held_by_other && worker != person) else {
            return Ok(false);
        };
        redis::cmd("XCLAIM")
            .arg(self.keys.stream(job.shard, &job.queue, job.priority))
            .arg(CONSUMER_GROUP)
            .arg(&holder)
            .arg(0)
            .arg(&job.entry_id)
            .arg("FORCE")
            .arg("JUSTID")
            .query_async::<Vec<String>>(&mut *conn)
            .await?;
        tracing::info!(run = %job.job.run_id, task = job.job.task, holder = %holder, "a job read off a human queue went back to its task's holder");
        Ok(true)
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
pub fn entry_order(entry_id: &str) -> (u64, u64) {
    let (ms, seq) = entry_id.split_once('-').unwrap_or((entry_id, "0"));
    (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
}

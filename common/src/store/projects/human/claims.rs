//! Claiming human tasks: the next waiting one by project priority and age, the tasks a
//! person holds, and taking over work left abandoned midway.

use redis::streams::{StreamId, StreamInfoGroupsReply, StreamPendingCountReply, StreamRangeReply};
use serde_json::Value;

use crate::engine::model::{Priority, QueueName, TaskStatus};
use crate::error::StoreError;
use crate::keys::{CONSUMER_GROUP, Shard};
use crate::scripts;
use crate::store::RedisConnection;
use crate::store::engine::jobs::{AttemptOutcome, Job, StartOutcome, job_from_entry};
use crate::store::projects::control::ProjectState;
use crate::store::{Store, StoreResult};

use super::{ABANDONED_MS, CLAIM_CANDIDATES, NO_ENTRY};

/// Most pending entries one claim examines for abandoned work.
const CLAIM_SCAN_LIMIT: usize = 100;

/// Most head entries one pass of a human queue's group moves over.
const PASS_SCAN: usize = 200;

/// Most pending entries of one person examined to find the job of a task they hold.
const HELD_SCAN_LIMIT: usize = 1000;

/// Most undelivered entries of one stream read to find the job of a task claimed by name.
const ENTRY_SCAN_LIMIT: usize = 10_000;

/// Entries read per round trip while looking for a task's job.
const ENTRY_SCAN_PAGE: usize = 500;

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
    /// runs, with `person` as its worker) and its job stays pending under `person`. The next
    /// task is the one of the project with the highest priority (Orchestra's integer), then
    /// the oldest; tasks of paused projects are passed over. `None` when no task is waiting.
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
        let candidates = self.available_human_jobs(queue, CLAIM_CANDIDATES).await?;
        for (run_id, task) in self.claim_order(&mut conn, candidates).await? {
            if let HumanClaim::Claimed(job) = self.claim_human_task(&run_id, task, person).await? {
                return Ok(Some(job));
            }
        }
        Ok(None)
    }

    /// The tasks of `jobs` that wait for someone, each once, highest project priority first,
    /// then oldest first, without those of paused projects.
    pub(super) async fn claim_order(
        &self,
        conn: &mut RedisConnection,
        jobs: Vec<Job>,
    ) -> StoreResult<Vec<(String, usize)>> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for job in &jobs {
            pipe.cmd("HMGET")
                .arg(self.keys.run(&job.job.run_id))
                .arg("payload")
                .arg(format!("t{}.status", job.job.task))
                .arg(format!("t{}.attempt", job.job.task));
        }
        let states: Vec<(Option<String>, Option<String>, Option<u32>)> =
            pipe.query_async(&mut *conn).await?;
        let mut waiting = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (job, (payload, status, attempt)) in jobs.into_iter().zip(states) {
            // A task stores no attempt until its second.
            if status.as_deref() != Some("queued") || attempt.unwrap_or(1) != job.job.attempt {
                continue;
            }
            if !seen.insert((job.job.run_id.clone(), job.job.task)) {
                continue;
            }
            let payload: Value = payload
                .and_then(|text| serde_json::from_str(&text).ok())
                .unwrap_or(Value::Null);
            let priority = payload["priority"].as_i64().unwrap_or(0);
            let project = payload["project_id"].as_u64();
            waiting.push((priority, entry_order(&job.entry_id), project, job));
        }
        let mut projects: Vec<u64> = waiting.iter().filter_map(|(_, _, id, _)| *id).collect();
        projects.sort_unstable();
        projects.dedup();
        let mut pipe = redis::pipe();
        for id in &projects {
            pipe.hget(self.keys.project(*id), "status");
        }
        let statuses: Vec<Option<String>> = if projects.is_empty() {
            Vec::new()
        } else {
            pipe.query_async(&mut *conn).await?
        };
        let paused: std::collections::HashSet<u64> = projects
            .iter()
            .zip(statuses)
            .filter(|(_, status)| ProjectState::parse(status.as_deref()).withholds_tasks())
            .map(|(id, _)| *id)
            .collect();
        waiting.retain(|(_, _, project, _)| !project.is_some_and(|id| paused.contains(&id)));
        waiting.sort_by_key(|(priority, order, _, _)| (std::cmp::Reverse(*priority), *order));
        Ok(waiting
            .into_iter()
            .map(|(_, _, _, job)| (job.job.run_id, job.job.task as usize))
            .collect())
    }

    /// Moves the consumer group of `job`'s stream past the entries at the head of its
    /// undelivered ones whose tasks wait for nobody (`pass_claimed_entries.lua`): claims by
    /// name leave their entries there, and both listing and trimming start from the group's
    /// position.
    pub(super) async fn pass_claimed_entries(
        &self,
        conn: &mut RedisConnection,
        job: &Job,
    ) -> StoreResult<()> {
        let stream = self.keys.stream(job.shard, &job.queue, job.priority);
        let groups: StreamInfoGroupsReply = redis::cmd("XINFO")
            .arg("GROUPS")
            .arg(&stream)
            .query_async(&mut *conn)
            .await?;
        let Some(group) = groups.groups.iter().find(|g| g.name == CONSUMER_GROUP) else {
            return Ok(());
        };
        let reply: StreamRangeReply = redis::cmd("XRANGE")
            .arg(&stream)
            .arg(format!("({}", group.last_delivered_id))
            .arg("+")
            .arg("COUNT")
            .arg(PASS_SCAN)
            .query_async(&mut *conn)
            .await?;
        let mut invocation = scripts::PASS_CLAIMED_ENTRIES.prepare_invoke();
        invocation.key(&stream).arg(CONSUMER_GROUP);
        let mut entries = 0;
        for entry in &reply.ids {
            // A malformed entry stops the pass: a claim acknowledges it when it meets it.
            let Some(found) = job_from_entry(entry) else {
                break;
            };
            invocation
                .key(self.keys.run(&found.run_id))
                .arg(&entry.id)
                .arg(found.task)
                .arg(found.attempt);
            entries += 1;
        }
        if entries > 0 {
            invocation.invoke_async::<String>(&mut *conn).await?;
        }
        Ok(())
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
            .project_tasks(&[(run_id.to_owned(), task)])
            .await?
            .pop()
            .flatten()
        else {
            return Ok(HumanClaim::Missing);
        };
        let view = &record.task;
        if !view.queue.is_human() {
            return Ok(HumanClaim::Machine);
        }
        let submitted = record.human.submitted;
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
        let (queue, priority) = (view.queue.clone(), record.priority);
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
            if let Err(error) = self.pass_claimed_entries(&mut conn, &job).await {
                tracing::warn!(cause = %error, queue = %queue, "moving a human queue past claimed entries failed");
            }
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

    /// The job of task `task` of run `run_id` pending under `person`, if any.
    pub(super) async fn held_job(
        &self,
        conn: &mut RedisConnection,
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
    pub(super) async fn pending_jobs(
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
    pub(super) async fn undelivered_job(
        &self,
        conn: &mut RedisConnection,
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
    pub(super) async fn unheld_job(
        &self,
        queue: &QueueName,
        priority: Priority,
        run_id: &str,
        task: usize,
    ) -> StoreResult<Job> {
        let mut conn = self.conn().await?;
        let (status, attempt, delivery): (Option<String>, Option<u32>, Option<u32>) =
            redis::cmd("HMGET")
                .arg(self.keys.run(run_id))
                .arg(format!("t{task}.status"))
                .arg(format!("t{task}.attempt"))
                .arg(format!("t{task}.delivery"))
                .query_async(&mut conn)
                .await?;
        if status.is_none() {
            return Err(StoreError::Corrupt(format!(
                "task {task} of run {run_id} does not exist"
            )));
        }
        // A task stores no attempt until its second.
        let attempt = attempt.unwrap_or(1);
        Ok(Job {
            shard: self.keys.shard_of(run_id),
            queue: queue.clone(),
            priority,
            entry_id: NO_ENTRY.to_owned(),
            job: crate::engine::model::JobRef {
                run_id: run_id.to_owned(),
                task: task as u32,
                attempt,
                redeliveries: delivery.unwrap_or(0),
            },
        })
    }

    /// The job an entry carries; an entry that is not a job is acknowledged and skipped.
    pub(super) async fn job_of(
        &self,
        conn: &mut RedisConnection,
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
    pub(super) async fn take_over_abandoned(
        &self,
        conn: &mut RedisConnection,
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

/// The order of stream entry ids (`MS-SEQ`): by time, then sequence.
pub fn entry_order(entry_id: &str) -> (u64, u64) {
    let (ms, seq) = entry_id.split_once('-').unwrap_or((entry_id, "0"));
    (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
}

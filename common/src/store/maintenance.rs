//! The scheduler's chores on the queues: promoting delayed jobs, reclaiming jobs whose worker
//! died, and trimming what has grown. Each works through every shard of a queue.

use redis::streams::{StreamAutoClaimReply, StreamInfoGroupsReply, StreamPendingReply};

use super::dead_letters::dead_letter_fields;
use super::jobs::{Job, job_fields, job_from_entry, push_job};
use super::{Store, StoreResult};
use crate::keys::CONSUMER_GROUP;
use crate::model::{JobRef, Priority, QueueName};
use crate::scripts;
use crate::time::now_ms;

/// Consumer name under which the scheduler claims jobs it is about to move.
const RECLAIMER: &str = "baton-reclaimer";
/// Jobs claimed per XAUTOCLAIM call.
const RECLAIM_BATCH: usize = 100;
/// Most dead-letter records kept per queue.
const DEAD_LETTER_MAX: usize = 10_000;

/// What reclaiming did on one queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReclaimReport {
    /// Jobs put back on their stream for another worker.
    pub redelivered: usize,
    /// Jobs lost too many times, moved to the dead letter with their task failed.
    pub dead: usize,
}

impl Store {
    /// Moves the delayed jobs of `queue` that are due onto their streams; returns how many.
    pub async fn promote_due_jobs(&self, queue: &QueueName, limit: usize) -> StoreResult<usize> {
        let mut conn = self.conn().await?;
        let moved: usize = scripts::PROMOTE_DELAYED
            .key(self.keys.queue_delayed(queue))
            .key(self.keys.queue_stream(queue, Priority::High))
            .key(self.keys.queue_stream(queue, Priority::Normal))
            .key(self.keys.queue_stream(queue, Priority::Low))
            .key(self.keys.queue_retrying(queue))
            .arg(now_ms())
            .arg(limit)
            .invoke_async(&mut conn)
            .await?;
        Ok(moved)
    }

    /// Reclaims jobs of `queue` that have been pending for `min_idle_ms` without their worker
    /// touching them (the worker died): each goes back on its stream as a new delivery, or,
    /// past `max_redeliveries`, fails its task and goes to the dead letter.
    ///
    /// A paused queue's jobs are reclaimed the same way: back on their stream, they wait
    /// undelivered until the queue is resumed, as workers read no paused queue.
    ///
    /// Human queues ([`QueueName::is_human`]) are never reclaimed: their jobs are held by
    /// people, for hours, and only the person who claimed one may finish it.
    pub async fn reclaim_stale_jobs(
        &self,
        queue: &QueueName,
        min_idle_ms: u64,
        max_redeliveries: u32,
    ) -> StoreResult<ReclaimReport> {
        if queue.is_human() {
            return Ok(ReclaimReport::default());
        }
        let mut conn = self.conn().await?;
        let mut report = ReclaimReport::default();
        for shard in self.keys.shards() {
            for priority in Priority::ALL {
                let stream = self.keys.stream(shard, queue, priority);
                let dead = self.keys.dead(shard, queue);
                let mut cursor = "0-0".to_owned();
                // Bounded: a huge backlog is worked through over several scheduler ticks.
                for _ in 0..10 {
                    let reply: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
                        .arg(&stream)
                        .arg(CONSUMER_GROUP)
                        .arg(RECLAIMER)
                        .arg(min_idle_ms)
                        .arg(&cursor)
                        .arg("COUNT")
                        .arg(RECLAIM_BATCH)
                        .query_async(&mut conn)
                        .await?;
                    for entry in &reply.claimed {
                        let Some(job) = job_from_entry(entry) else {
                            // Not a job: the dead letter keeps it for an operator.
                            self.move_entry(
                                &stream,
                                &dead,
                                &entry.id,
                                &[
                                    ("p", priority.as_str().to_owned()),
                                    ("error", "malformed job entry".to_owned()),
                                    ("at", now_ms().to_string()),
                                ],
                            )
                            .await?;
                            report.dead += 1;
                            continue;
                        };
                        let job = Job {
                            shard,
                            queue: queue.clone(),
                            priority,
                            entry_id: entry.id.clone(),
                            job,
                        };
                        if self
                            .reclaim_job(&job, &stream, &dead, max_redeliveries)
                            .await?
                        {
                            report.dead += 1;
                        } else {
                            report.redelivered += 1;
                        }
                    }
                    cursor = reply.next_stream_id;
                    if cursor == "0-0" {
                        break;
                    }
                }
            }
        }
        if report != ReclaimReport::default() {
            tracing::info!(queue = %queue, redelivered = report.redelivered, dead = report.dead, "reclaimed lost jobs");
        }
        Ok(report)
    }

    /// Puts a reclaimed job back on its stream as a new delivery, or, past `max_redeliveries`,
    /// fails its task and moves it to the dead letter; true when it went to the dead letter.
    async fn reclaim_job(
        &self,
        job: &Job,
        stream: &str,
        dead: &str,
        max_redeliveries: u32,
    ) -> StoreResult<bool> {
        let redeliveries = job.job.redeliveries + 1;
        if redeliveries <= max_redeliveries {
            let again = JobRef {
                redeliveries,
                ..job.job.clone()
            };
            self.move_entry(stream, stream, &job.entry_id, &job_fields(&again))
                .await?;
            return Ok(false);
        }
        let error =
            format!("job lost {redeliveries} times (its worker stopped answering); giving up");
        self.fail_task(&job.job, job.priority, &error).await?;
        let moved = self
            .move_entry(stream, dead, &job.entry_id, &dead_letter_fields(job, &error))
            .await?;
        if moved.is_some() {
            let mut conn = self.conn().await?;
            redis::cmd("HINCRBY")
                .arg(self.keys.stats(job.shard, &job.queue))
                .arg("dead")
                .arg(1)
                .query_async::<()>(&mut conn)
                .await?;
        }
        Ok(true)
    }

    async fn move_entry(
        &self,
        from: &str,
        to: &str,
        entry_id: &str,
        fields: &[(&'static str, String)],
    ) -> StoreResult<Option<String>> {
        let mut conn = self.conn().await?;
        let mut invocation = scripts::MOVE_ENTRY.key(from);
        invocation.key(to).arg(CONSUMER_GROUP).arg(entry_id);
        for (name, value) in fields {
            invocation.arg(*name).arg(value);
        }
        Ok(invocation.invoke_async(&mut conn).await?)
    }

    /// Fails a task for good at `job`'s attempt, whoever holds it (and enqueues the run's
    /// failure hook when that fails the run); true when it changed.
    pub async fn fail_task(
        &self,
        job: &JobRef,
        priority: Priority,
        error: &str,
    ) -> StoreResult<bool> {
        let mut conn = self.conn().await?;
        let reply: Vec<String> = scripts::FAIL_TASK
            .key(self.keys.run(&job.run_id))
            .key(self.keys.run_log(&job.run_id))
            .arg(job.task)
            .arg(job.attempt)
            .arg(error)
            .arg(now_ms())
            .arg(self.retention_secs)
            .invoke_async(&mut conn)
            .await?;
        if let [_, hook, queue] = reply.as_slice() {
            let queue = QueueName::parse(queue)?;
            self.ensure_queue(&queue).await?;
            let hook_job = JobRef {
                run_id: job.run_id.clone(),
                task: hook.parse().map_err(|_| {
                    crate::error::StoreError::Corrupt(format!("hook index '{hook}'"))
                })?,
                attempt: 1,
                redeliveries: 0,
            };
            let mut pipe = redis::pipe();
            push_job(&mut pipe, &self.keys, &queue, priority, &hook_job);
            self.query_pipeline::<()>(&mut conn, &pipe).await?;
        }
        let changed = reply.first().map(String::as_str) == Some("1");
        if changed {
            self.reindex_runs(std::slice::from_ref(&job.run_id)).await?;
        }
        Ok(changed)
    }

    /// Trims the acknowledged entries from the streams of `queue` (never an entry that is
    /// pending or not yet delivered) and caps its dead letter.
    pub async fn trim_queue(&self, queue: &QueueName) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        for priority in Priority::ALL {
            let stream = self.keys.queue_stream(queue, priority);
            let groups: StreamInfoGroupsReply = match redis::cmd("XINFO")
                .arg("GROUPS")
                .arg(&stream)
                .query_async(&mut conn)
                .await
            {
                Ok(groups) => groups,
                Err(_) => continue,
            };
            let Some(group) = groups
                .groups
                .iter()
                .find(|group| group.name == CONSUMER_GROUP)
            else {
                continue;
            };
            let pending: StreamPendingReply = redis::cmd("XPENDING")
                .arg(&stream)
                .arg(CONSUMER_GROUP)
                .query_async(&mut conn)
                .await?;
            let keep_from = match &pending {
                StreamPendingReply::Data(data) => data.start_id.clone(),
                _ => group.last_delivered_id.clone(),
            };
            redis::cmd("XTRIM")
                .arg(&stream)
                .arg("MINID")
                .arg("~")
                .arg(keep_from)
                .query_async::<()>(&mut conn)
                .await?;
        }
        redis::cmd("XTRIM")
            .arg(self.keys.queue_dead(queue))
            .arg("MAXLEN")
            .arg("~")
            .arg(DEAD_LETTER_MAX)
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    /// Removes from the run indexes the runs older than the retention that have expired (see
    /// [`Store::trim_run_indexes`]); returns how many runs left their kind's index.
    pub async fn trim_expired_runs(&self) -> StoreResult<usize> {
        self.trim_run_indexes().await
    }

    /// Jobs waiting on the streams of `queue` (not yet delivered) and jobs pending (delivered,
    /// not yet acknowledged).
    pub async fn queue_depth(&self, queue: &QueueName) -> StoreResult<(u64, u64)> {
        let mut conn = self.conn().await?;
        let mut waiting = 0;
        let mut pending = 0;
        for priority in Priority::ALL {
            let groups: StreamInfoGroupsReply = match redis::cmd("XINFO")
                .arg("GROUPS")
                .arg(self.keys.queue_stream(queue, priority))
                .query_async(&mut conn)
                .await
            {
                Ok(groups) => groups,
                Err(_) => continue,
            };
            if let Some(group) = groups
                .groups
                .iter()
                .find(|group| group.name == CONSUMER_GROUP)
            {
                waiting += group.lag.unwrap_or(0) as u64;
                pending += group.pending as u64;
            }
        }
        let delayed: u64 = redis::cmd("ZCARD")
            .arg(self.keys.queue_delayed(queue))
            .query_async(&mut conn)
            .await?;
        Ok((waiting + delayed, pending))
    }
}

//! The scheduler's chores on the queues: promoting delayed jobs, reclaiming jobs whose worker
//! died, and trimming what has grown. Each works through every shard of a queue.

use redis::streams::{StreamAutoClaimReply, StreamPendingReply};
use redis::{RedisResult, Value as RedisValue};

use super::dead_letters::dead_letter_fields;
use super::jobs::{Job, job_fields, job_from_entry, push_job};
use super::queues::{consumer_group, decode};
use crate::engine::model::{JobRef, Priority, QueueName};
use crate::keys::CONSUMER_GROUP;
use crate::scripts;
use crate::store::{Store, StoreResult};

/// Consumer name under which the scheduler claims jobs it is about to move.
const RECLAIMER: &str = "baton-reclaimer";
/// Jobs claimed per XAUTOCLAIM call.
const RECLAIM_BATCH: usize = 100;
/// Dead-letter records kept per queue, shared by its shards (see
/// [`dead_letters_kept_per_shard`]).
const DEAD_LETTER_MAX: usize = 10_000;
/// Fewest dead-letter records kept per queue on one shard.
const DEAD_LETTER_MIN_PER_SHARD: usize = 1_000;

/// What reclaiming did on one queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReclaimReport {
    /// Jobs put back on their stream for another worker.
    pub redelivered: usize,
    /// Jobs lost too many times, moved to the dead letter with their task failed.
    pub dead: usize,
}

impl Store {
    /// Moves the delayed jobs of `queue` that are due at `now_ms` onto their streams, on every
    /// shard (at most `limit` per shard), in one round trip; returns how many.
    pub async fn promote_due_jobs(
        &self,
        queue: &QueueName,
        limit: usize,
        now_ms: u64,
    ) -> StoreResult<usize> {
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        for shard in self.keys.shards() {
            pipe.invoke_script(
                scripts::PROMOTE_DELAYED
                    .key(self.keys.delayed(shard, queue))
                    .key(self.keys.stream(shard, queue, Priority::High))
                    .key(self.keys.stream(shard, queue, Priority::Normal))
                    .key(self.keys.stream(shard, queue, Priority::Low))
                    .key(self.keys.retrying(shard, queue))
                    .key(self.keys.wake_list(shard, queue, Priority::High))
                    .key(self.keys.wake_list(shard, queue, Priority::Normal))
                    .key(self.keys.wake_list(shard, queue, Priority::Low))
                    .arg(now_ms)
                    .arg(limit),
            );
        }
        let moved: Vec<usize> = self.query_pipeline(&mut conn, &pipe).await?;
        Ok(moved.into_iter().sum())
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
    ///
    /// The idle time is Redis's (the pending entries' delivery times); `now_ms` dates the
    /// dead-letter records and the failures.
    pub async fn reclaim_stale_jobs(
        &self,
        queue: &QueueName,
        min_idle_ms: u64,
        max_redeliveries: u32,
        now_ms: u64,
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
                                None,
                                &entry.id,
                                &[
                                    ("p", priority.as_str().to_owned()),
                                    ("error", "malformed job entry".to_owned()),
                                    ("at", now_ms.to_string()),
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
                            .reclaim_job(&job, &stream, &dead, max_redeliveries, now_ms)
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
    /// fails its task and moves it to the dead letter (both dated `now_ms`); true when it went
    /// to the dead letter.
    async fn reclaim_job(
        &self,
        job: &Job,
        stream: &str,
        dead: &str,
        max_redeliveries: u32,
        now_ms: u64,
    ) -> StoreResult<bool> {
        let redeliveries = job.job.redeliveries + 1;
        if redeliveries <= max_redeliveries {
            let again = JobRef {
                redeliveries,
                ..job.job.clone()
            };
            let wake = self.keys.wake_list(job.shard, &job.queue, job.priority);
            self.move_entry(
                stream,
                stream,
                Some(&wake),
                &job.entry_id,
                &job_fields(&again),
            )
            .await?;
            return Ok(false);
        }
        let error =
            format!("job lost {redeliveries} times (its worker stopped answering); giving up");
        self.fail_task(&job.job, job.priority, &error, now_ms)
            .await?;
        let moved = self
            .move_entry(
                stream,
                dead,
                None,
                &job.entry_id,
                &dead_letter_fields(job, &error, now_ms),
            )
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

    /// Moves pending entry `entry_id` of stream `from` to `to` as a new entry of `fields`,
    /// once (see `move_entry.lua`); `wake`, the wake list of `to` when it is a job stream, then
    /// wakes a waiting worker.
    async fn move_entry(
        &self,
        from: &str,
        to: &str,
        wake: Option<&str>,
        entry_id: &str,
        fields: &[(&'static str, String)],
    ) -> StoreResult<Option<String>> {
        let mut conn = self.conn().await?;
        let mut invocation = scripts::MOVE_ENTRY.key(from);
        invocation.key(to);
        if let Some(wake) = wake {
            invocation.key(wake);
        }
        invocation.arg(CONSUMER_GROUP).arg(entry_id);
        for (name, value) in fields {
            invocation.arg(*name).arg(value);
        }
        Ok(invocation.invoke_async(&mut conn).await?)
    }

    /// Fails a task for good at `job`'s attempt, whoever holds it, at `now_ms` (and enqueues
    /// the run's failure hook when that fails the run); true when it changed.
    pub async fn fail_task(
        &self,
        job: &JobRef,
        priority: Priority,
        error: &str,
        now_ms: u64,
    ) -> StoreResult<bool> {
        let mut conn = self.conn().await?;
        let reply: Vec<String> = scripts::FAIL_TASK
            .key(self.keys.run(&job.run_id))
            .key(self.keys.run_log(&job.run_id))
            .arg(job.task)
            .arg(job.attempt)
            .arg(error)
            .arg(now_ms)
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

    /// Trims the acknowledged entries from the streams of `queue` on every shard (never an
    /// entry that is pending or not yet delivered) and caps its dead letters on each shard, in
    /// three round trips whatever the number of shards.
    pub async fn trim_queue(&self, queue: &QueueName) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        let streams: Vec<String> = self
            .keys
            .shards()
            .flat_map(|shard| {
                Priority::ALL.map(|priority| self.keys.stream(shard, queue, priority))
            })
            .collect();

        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for stream in &streams {
            pipe.cmd("XINFO").arg("GROUPS").arg(stream);
        }
        let groups: Vec<RedisResult<RedisValue>> = pipe.query_async(&mut conn).await?;
        let mut grouped = Vec::new();
        for (stream, groups) in streams.iter().zip(&groups) {
            // No such stream: nothing to trim.
            let Ok(groups) = groups else { continue };
            if let Some(group) = consumer_group(groups)? {
                grouped.push((stream, group.last_delivered_id));
            }
        }

        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for (stream, _) in &grouped {
            pipe.cmd("XPENDING").arg(*stream).arg(CONSUMER_GROUP);
        }
        let pending: Vec<RedisResult<StreamPendingReply>> = if grouped.is_empty() {
            Vec::new()
        } else {
            pipe.query_async(&mut conn).await?
        };

        let mut pipe = redis::pipe();
        for ((stream, last_delivered), pending) in grouped.iter().zip(pending) {
            let keep_from = match pending {
                Ok(StreamPendingReply::Data(data)) => data.start_id,
                Ok(_) => last_delivered.clone(),
                // The group went away meanwhile: leave the stream be.
                Err(_) => continue,
            };
            pipe.cmd("XTRIM")
                .arg(*stream)
                .arg("MINID")
                .arg("~")
                .arg(keep_from)
                .ignore();
        }
        let kept = dead_letters_kept_per_shard(self.keys.shard_count());
        for shard in self.keys.shards() {
            pipe.cmd("XTRIM")
                .arg(self.keys.dead(shard, queue))
                .arg("MAXLEN")
                .arg("~")
                .arg(kept)
                .ignore();
        }
        self.query_pipeline::<()>(&mut conn, &pipe).await
    }

    /// Removes from the run indexes the runs older than the retention at `now_ms` that have
    /// expired (see [`Store::trim_run_indexes`]); returns how many runs left their status
    /// indexes.
    pub async fn trim_expired_runs(&self, now_ms: u64) -> StoreResult<usize> {
        self.trim_run_indexes(now_ms).await
    }

    /// Jobs waiting on the streams of `queue` (not yet delivered) or for their due time, and
    /// jobs pending (delivered, not yet acknowledged): sums over every shard, read in one
    /// round trip.
    pub async fn queue_depth(&self, queue: &QueueName) -> StoreResult<(u64, u64)> {
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for shard in self.keys.shards() {
            for priority in Priority::ALL {
                pipe.cmd("XINFO")
                    .arg("GROUPS")
                    .arg(self.keys.stream(shard, queue, priority));
            }
            pipe.cmd("ZCARD").arg(self.keys.delayed(shard, queue));
        }
        let replies: Vec<RedisResult<RedisValue>> = pipe.query_async(&mut conn).await?;
        let mut waiting = 0;
        let mut pending = 0;
        for replies in replies.chunks(Priority::ALL.len() + 1) {
            let Some((delayed, streams)) = replies.split_last() else {
                continue;
            };
            for groups in streams {
                // No such stream: nothing was ever queued there.
                let Ok(groups) = groups else { continue };
                if let Some(group) = consumer_group(groups)? {
                    waiting += group.lag.unwrap_or(0) as u64;
                    pending += group.pending as u64;
                }
            }
            waiting += decode::<u64>(delayed)?;
        }
        Ok((waiting, pending))
    }
}

/// Dead-letter records kept per queue on each shard: [`DEAD_LETTER_MAX`] shared by the
/// shards, yet never fewer than [`DEAD_LETTER_MIN_PER_SHARD`], as a run's failures all land
/// on its own shard.
fn dead_letters_kept_per_shard(shards: u16) -> usize {
    (DEAD_LETTER_MAX / usize::from(shards.max(1))).max(DEAD_LETTER_MIN_PER_SHARD)
}

//! Queues as an operator sees them: pausing and resuming them, and a summary of each (jobs
//! waiting by priority, running, delayed, retrying, dead, and the outcome counters) read from
//! the queues' own keys in one pipeline, never from runs.

use std::collections::BTreeSet;

use redis::streams::StreamInfoGroupsReply;
use redis::{FromRedisValue, RedisResult, Value as RedisValue};

use super::jobs::{Job, job_fields};
use super::{Store, StoreResult};
use crate::error::StoreError;
use crate::keys::CONSUMER_GROUP;
use crate::model::{Priority, QueueName};
use crate::scripts;

/// Commands sent per queue by [`Store::queue_summaries`]: three `XINFO GROUPS`, then `ZCARD`
/// of the delayed and retrying sets, `HMGET` of the counters and `XLEN` of the dead letter.
const SUMMARY_COMMANDS: usize = 7;

/// What one queue holds now, for an overview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSummary {
    /// The queue.
    pub name: QueueName,
    /// True while the queue is paused (workers take none of its jobs).
    pub paused: bool,
    /// Jobs on its streams not yet delivered to a worker, by priority, highest first.
    pub waiting: Vec<(Priority, u64)>,
    /// Jobs delivered to a worker and not yet acknowledged.
    pub running: u64,
    /// Jobs waiting for their due time (retries and delayed runs).
    pub delayed: u64,
    /// The delayed jobs that are retries of failed attempts.
    pub retrying: u64,
    /// Jobs that succeeded since the queue was first used.
    pub succeeded: u64,
    /// Jobs that failed for good since the queue was first used.
    pub failed: u64,
    /// Dead-letter records kept now.
    pub dead: u64,
}

impl QueueSummary {
    /// Jobs waiting at every priority.
    pub fn waiting_total(&self) -> u64 {
        self.waiting.iter().map(|(_, count)| count).sum()
    }
}

impl Store {
    /// Pauses `queue`: workers take no new job from it (its jobs wait on their streams) and
    /// finish the ones they hold. Kept in Redis, so it lasts across restarts. True when it
    /// was not paused before.
    pub async fn pause_queue(&self, queue: &QueueName) -> StoreResult<bool> {
        let mut conn = self.conn().await?;
        let added: u64 = redis::cmd("SADD")
            .arg(self.keys.paused_queues())
            .arg(queue.as_str())
            .query_async(&mut conn)
            .await?;
        if added > 0 {
            tracing::info!(queue = %queue, "queue paused");
        }
        Ok(added > 0)
    }

    /// Resumes a paused `queue`: workers take its jobs again within about a second. True
    /// when it was paused.
    pub async fn resume_queue(&self, queue: &QueueName) -> StoreResult<bool> {
        let mut conn = self.conn().await?;
        let removed: u64 = redis::cmd("SREM")
            .arg(self.keys.paused_queues())
            .arg(queue.as_str())
            .query_async(&mut conn)
            .await?;
        if removed > 0 {
            tracing::info!(queue = %queue, "queue resumed");
        }
        Ok(removed > 0)
    }

    /// The queues paused now.
    pub async fn paused_queues(&self) -> StoreResult<BTreeSet<QueueName>> {
        self.queue_set(&self.keys.paused_queues()).await
    }

    /// Puts jobs a worker read but will not start (their queue was paused meanwhile) back on
    /// their streams as new, undelivered entries, so they wait for the queue's resume instead
    /// of staying pending under a worker. Moving is guarded by the acknowledgement, so a job
    /// is put back once; it goes to the end of its stream.
    pub async fn hand_back_jobs(
        &self,
        conn: &mut redis::aio::MultiplexedConnection,
        jobs: &[Job],
    ) -> StoreResult<()> {
        let mut pipe = redis::pipe();
        for job in jobs {
            let stream = self.keys.queue_stream(&job.queue, job.priority);
            let mut invocation = scripts::MOVE_ENTRY.key(&stream);
            invocation
                .key(&stream)
                .arg(CONSUMER_GROUP)
                .arg(&job.entry_id);
            for (name, value) in job_fields(&job.job) {
                invocation.arg(name).arg(value);
            }
            pipe.invoke_script(&invocation).ignore();
        }
        self.query_pipeline::<()>(conn, &pipe).await
    }

    /// The summary of every queue used in this deployment, by name: the names and paused set
    /// in one round trip, every queue's counts in a second one.
    pub async fn queue_summaries(&self) -> StoreResult<Vec<QueueSummary>> {
        let mut conn = self.conn().await?;
        let (names, paused): (Vec<String>, Vec<String>) = redis::pipe()
            .cmd("SMEMBERS")
            .arg(self.keys.queues())
            .cmd("SMEMBERS")
            .arg(self.keys.paused_queues())
            .query_async(&mut conn)
            .await?;
        let mut queues: Vec<QueueName> = names
            .iter()
            .filter_map(|name| QueueName::parse(name).ok())
            .collect();
        queues.sort();
        let paused: BTreeSet<&str> = paused.iter().map(String::as_str).collect();
        self.summaries_of(&mut conn, &queues, &paused).await
    }

    /// The summary of one queue, or `None` when it has never been used.
    pub async fn queue_summary(&self, queue: &QueueName) -> StoreResult<Option<QueueSummary>> {
        let mut conn = self.conn().await?;
        let (known, paused): (bool, bool) = redis::pipe()
            .cmd("SISMEMBER")
            .arg(self.keys.queues())
            .arg(queue.as_str())
            .cmd("SISMEMBER")
            .arg(self.keys.paused_queues())
            .arg(queue.as_str())
            .query_async(&mut conn)
            .await?;
        if !known {
            return Ok(None);
        }
        let paused: BTreeSet<&str> = paused.then_some(queue.as_str()).into_iter().collect();
        Ok(self
            .summaries_of(&mut conn, std::slice::from_ref(queue), &paused)
            .await?
            .pop())
    }

    /// Reads the counts of `queues` in one pipeline. A stream that does not exist (yet)
    /// counts as empty rather than failing the whole read.
    async fn summaries_of(
        &self,
        conn: &mut deadpool_redis::Connection,
        queues: &[QueueName],
        paused: &BTreeSet<&str>,
    ) -> StoreResult<Vec<QueueSummary>> {
        if queues.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for queue in queues {
            for priority in Priority::ALL {
                pipe.cmd("XINFO")
                    .arg("GROUPS")
                    .arg(self.keys.queue_stream(queue, priority));
            }
            pipe.cmd("ZCARD")
                .arg(self.keys.queue_delayed(queue))
                .cmd("ZCARD")
                .arg(self.keys.queue_retrying(queue))
                .cmd("HMGET")
                .arg(self.keys.queue_stats(queue))
                .arg("succeeded")
                .arg("failed")
                .cmd("XLEN")
                .arg(self.keys.queue_dead(queue));
        }
        let replies: Vec<RedisResult<RedisValue>> = pipe.query_async(conn).await?;
        let mut summaries = Vec::with_capacity(queues.len());
        for (queue, replies) in queues.iter().zip(replies.chunks(SUMMARY_COMMANDS)) {
            let [high, normal, low, delayed, retrying, counters, dead] = replies else {
                return Err(StoreError::Corrupt(format!(
                    "queue summary of '{queue}': {} replies",
                    replies.len()
                )));
            };
            let mut waiting = Vec::with_capacity(Priority::ALL.len());
            let mut running = 0;
            for (priority, groups) in Priority::ALL.into_iter().zip([high, normal, low]) {
                let (lag, pending) = match groups {
                    Ok(groups) => self.group_counts(conn, queue, priority, groups).await?,
                    // No such stream: nothing was ever queued at this priority.
                    Err(_) => (0, 0),
                };
                waiting.push((priority, lag));
                running += pending;
            }
            let (succeeded, failed): (Option<u64>, Option<u64>) = decode(counters)?;
            summaries.push(QueueSummary {
                name: queue.clone(),
                paused: paused.contains(queue.as_str()),
                waiting,
                running,
                delayed: decode(delayed)?,
                retrying: decode(retrying)?,
                succeeded: succeeded.unwrap_or(0),
                failed: failed.unwrap_or(0),
                dead: decode(dead)?,
            });
        }
        Ok(summaries)
    }

    /// Jobs not yet delivered and jobs pending in the consumer group of one stream. Redis
    /// gives the lag directly unless entries were deleted past the group's position; then
    /// the undelivered entries are counted (bounded, rare).
    async fn group_counts(
        &self,
        conn: &mut deadpool_redis::Connection,
        queue: &QueueName,
        priority: Priority,
        groups: &RedisValue,
    ) -> StoreResult<(u64, u64)> {
        let groups =
            StreamInfoGroupsReply::from_redis_value_ref(groups).map_err(redis::RedisError::from)?;
        let Some(group) = groups
            .groups
            .iter()
            .find(|group| group.name == CONSUMER_GROUP)
        else {
            return Ok((0, 0));
        };
        let lag = match group.lag {
            Some(lag) => lag as u64,
            None => {
                let undelivered: Vec<RedisValue> = redis::cmd("XRANGE")
                    .arg(self.keys.queue_stream(queue, priority))
                    .arg(format!("({}", group.last_delivered_id))
                    .arg("+")
                    .arg("COUNT")
                    .arg(UNDELIVERED_COUNT_LIMIT)
                    .query_async(conn)
                    .await?;
                undelivered.len() as u64
            }
        };
        Ok((lag, group.pending as u64))
    }
}

/// Most undelivered entries counted one by one when Redis cannot give a stream's lag.
const UNDELIVERED_COUNT_LIMIT: usize = 10_000;

/// Decodes one pipelined reply, an error reply included.
fn decode<T: FromRedisValue>(reply: &RedisResult<RedisValue>) -> StoreResult<T> {
    match reply {
        Ok(value) => Ok(T::from_redis_value_ref(value).map_err(redis::RedisError::from)?),
        Err(error) => Err(StoreError::Redis(error.clone())),
    }
}

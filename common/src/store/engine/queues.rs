//! Queues as an operator sees them: pausing and resuming them, their counters, and a summary
//! of each (jobs waiting by priority, running, delayed, retrying, dead, and the outcome
//! counters) read from the queues' own keys, never from runs.
//!
//! A queue's keys are spread over the shards, so every count here is a sum over the shards,
//! read in one pipeline per call.

use std::collections::{BTreeSet, HashMap};

use redis::streams::{StreamInfoGroup, StreamInfoGroupsReply};
use redis::{FromRedisValue, RedisResult, Value as RedisValue};

use super::jobs::{Job, job_fields};
use crate::engine::model::{Priority, QueueName};
use crate::error::StoreError;
use crate::keys::{CONSUMER_GROUP, Shard};
use crate::scripts;
use crate::store::{Store, StoreResult};

/// Commands sent per queue and shard by [`Store::queue_summaries`]: three `XINFO GROUPS`,
/// then `ZCARD` of the delayed and retrying sets, `HMGET` of the counters and `XLEN` of the
/// dead letters.
const SUMMARY_COMMANDS: usize = 7;

/// Most undelivered entries counted one by one when Redis cannot give a stream's lag.
const UNDELIVERED_COUNT_LIMIT: usize = 10_000;

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

    /// A summary of `queue` with every count at zero, to add shards' counts to.
    fn empty(name: QueueName, paused: bool) -> Self {
        Self {
            name,
            paused,
            waiting: Priority::ALL
                .iter()
                .map(|&priority| (priority, 0))
                .collect(),
            running: 0,
            delayed: 0,
            retrying: 0,
            succeeded: 0,
            failed: 0,
            dead: 0,
        }
    }
}

impl Store {
    /// Pauses `queue`: workers take no new job from it (its jobs wait on their streams) and
    /// finish the ones they hold. Kept in Redis, so it lasts across restarts. True when it
    /// was not paused before.
    ///
    /// The queue's pause marker is set on every shard first, then the queue joins the paused
    /// set, so once this returns neither a worker's read (which reads the set) nor its take
    /// script (which reads the marker) starts a job of it. Pausing again mends a pause cut
    /// short.
    pub async fn pause_queue(&self, queue: &QueueName) -> StoreResult<bool> {
        let mut conn = self.conn().await?;
        let mut markers = redis::pipe();
        for shard in self.keys.shards() {
            markers
                .cmd("SET")
                .arg(self.keys.pause_marker(shard, queue))
                .arg(1)
                .ignore();
        }
        self.query_pipeline::<()>(&mut conn, &markers).await?;
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
    ///
    /// The queue leaves the paused set first, then its markers go: a marker left without the
    /// set (a resume cut short) only sends a woken worker the longer way, through the set,
    /// which says the queue runs. Resuming again removes it.
    pub async fn resume_queue(&self, queue: &QueueName) -> StoreResult<bool> {
        let mut conn = self.conn().await?;
        let removed: u64 = redis::cmd("SREM")
            .arg(self.keys.paused_queues())
            .arg(queue.as_str())
            .query_async(&mut conn)
            .await?;
        let mut markers = redis::pipe();
        for shard in self.keys.shards() {
            markers
                .cmd("DEL")
                .arg(self.keys.pause_marker(shard, queue))
                .ignore();
        }
        self.query_pipeline::<()>(&mut conn, &markers).await?;
        if removed > 0 {
            tracing::info!(queue = %queue, "queue resumed");
        }
        Ok(removed > 0)
    }

    /// The queues paused now.
    pub async fn paused_queues(&self) -> StoreResult<BTreeSet<QueueName>> {
        self.queue_set(&self.keys.paused_queues()).await
    }

    /// Adds to the counters of queues (`started`, `succeeded`, ...). Counts that belong to
    /// no run are kept on the first shard: a queue's counters are read as sums over shards.
    pub async fn add_queue_stats(
        &self,
        counts: &HashMap<(QueueName, &'static str), u64>,
    ) -> StoreResult<()> {
        if counts.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        for ((queue, name), count) in counts {
            pipe.cmd("HINCRBY")
                .arg(self.keys.stats(Shard::new(0), queue))
                .arg(*name)
                .arg(*count)
                .ignore();
        }
        self.query_pipeline(&mut conn, &pipe).await
    }

    /// The counters of a queue (`enqueued`, `started`, `succeeded`, `failed`, `retried`,
    /// `dead`): the sums of its counters on every shard, read in one round trip.
    pub async fn queue_stats(&self, queue: &QueueName) -> StoreResult<HashMap<String, u64>> {
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        for shard in self.keys.shards() {
            pipe.cmd("HGETALL").arg(self.keys.stats(shard, queue));
        }
        let per_shard: Vec<HashMap<String, u64>> = self.query_pipeline(&mut conn, &pipe).await?;
        let mut totals = HashMap::new();
        for counters in per_shard {
            for (name, count) in counters {
                *totals.entry(name).or_default() += count;
            }
        }
        Ok(totals)
    }

    /// Puts jobs a worker read but will not start (their queue was paused meanwhile) back on
    /// their streams as new, undelivered entries, so they wait for the queue's resume instead
    /// of staying pending under a worker. Moving is guarded by the acknowledgement, so a job
    /// is put back once; it goes to the end of its stream, on its run's shard.
    pub async fn hand_back_jobs(
        &self,
        conn: &mut crate::store::RedisConnection,
        jobs: &[Job],
    ) -> StoreResult<()> {
        let mut pipe = redis::pipe();
        for job in jobs {
            let shard = self.keys.shard_of(&job.job.run_id);
            let stream = self.keys.stream(shard, &job.queue, job.priority);
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
    /// in one round trip, every queue's counts on every shard in a second one.
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

    /// Reads the counts of `queues` on every shard in one pipeline and sums them. A stream
    /// that does not exist (yet) counts as empty rather than failing the whole read.
    async fn summaries_of(
        &self,
        conn: &mut crate::store::RedisConnection,
        queues: &[QueueName],
        paused: &BTreeSet<&str>,
    ) -> StoreResult<Vec<QueueSummary>> {
        if queues.is_empty() {
            return Ok(Vec::new());
        }
        let shards: Vec<Shard> = self.keys.shards().collect();
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for queue in queues {
            for &shard in &shards {
                for priority in Priority::ALL {
                    pipe.cmd("XINFO")
                        .arg("GROUPS")
                        .arg(self.keys.stream(shard, queue, priority));
                }
                pipe.cmd("ZCARD")
                    .arg(self.keys.delayed(shard, queue))
                    .cmd("ZCARD")
                    .arg(self.keys.retrying(shard, queue))
                    .cmd("HMGET")
                    .arg(self.keys.stats(shard, queue))
                    .arg("succeeded")
                    .arg("failed")
                    .cmd("XLEN")
                    .arg(self.keys.dead(shard, queue));
            }
        }
        let replies: Vec<RedisResult<RedisValue>> = pipe.query_async(conn).await?;
        let expected = queues.len() * shards.len() * SUMMARY_COMMANDS;
        if replies.len() != expected {
            return Err(StoreError::Corrupt(format!(
                "queue summaries: {} replies for {expected} commands",
                replies.len()
            )));
        }
        let mut summaries = Vec::with_capacity(queues.len());
        let mut blocks = replies.chunks(SUMMARY_COMMANDS);
        for queue in queues {
            let mut summary = QueueSummary::empty(queue.clone(), paused.contains(queue.as_str()));
            for &shard in &shards {
                let Some([high, normal, low, delayed, retrying, counters, dead]) = blocks.next()
                else {
                    return Err(StoreError::Corrupt(format!(
                        "queue summary of '{queue}': missing replies"
                    )));
                };
                for ((priority, waiting), groups) in
                    summary.waiting.iter_mut().zip([high, normal, low])
                {
                    let (lag, pending) = match groups {
                        Ok(groups) => {
                            let stream = self.keys.stream(shard, queue, *priority);
                            self.group_counts(conn, &stream, groups).await?
                        }
                        // No such stream: nothing was ever queued there.
                        Err(_) => (0, 0),
                    };
                    *waiting += lag;
                    summary.running += pending;
                }
                let (succeeded, failed): (Option<u64>, Option<u64>) = decode(counters)?;
                summary.delayed += decode::<u64>(delayed)?;
                summary.retrying += decode::<u64>(retrying)?;
                summary.succeeded += succeeded.unwrap_or(0);
                summary.failed += failed.unwrap_or(0);
                summary.dead += decode::<u64>(dead)?;
            }
            summaries.push(summary);
        }
        Ok(summaries)
    }

    /// Jobs not yet delivered and jobs pending in the consumer group of `stream`, from its
    /// `XINFO GROUPS` reply. Redis gives the lag directly unless entries were deleted past
    /// the group's position; then the undelivered entries are counted (bounded, rare).
    async fn group_counts(
        &self,
        conn: &mut crate::store::RedisConnection,
        stream: &str,
        groups: &RedisValue,
    ) -> StoreResult<(u64, u64)> {
        let Some(group) = consumer_group(groups)? else {
            return Ok((0, 0));
        };
        let lag = match group.lag {
            Some(lag) => lag as u64,
            None => {
                let undelivered: Vec<RedisValue> = redis::cmd("XRANGE")
                    .arg(stream)
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

/// Baton's consumer group in an `XINFO GROUPS` reply, if the stream has it.
pub(crate) fn consumer_group(groups: &RedisValue) -> StoreResult<Option<StreamInfoGroup>> {
    let groups =
        StreamInfoGroupsReply::from_redis_value_ref(groups).map_err(redis::RedisError::from)?;
    Ok(groups
        .groups
        .into_iter()
        .find(|group| group.name == CONSUMER_GROUP))
}

/// Decodes one pipelined reply, an error reply included.
pub(crate) fn decode<T: FromRedisValue>(reply: &RedisResult<RedisValue>) -> StoreResult<T> {
    match reply {
        Ok(value) => Ok(T::from_redis_value_ref(value).map_err(redis::RedisError::from)?),
        Err(error) => Err(StoreError::Redis(error.clone())),
    }
}

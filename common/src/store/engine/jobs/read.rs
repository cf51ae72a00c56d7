//! Reading jobs: each priority's stream of a shard through the consumer group, most urgent
//! first, with a periodic turn for the lower priorities so they are never starved.

use std::collections::BTreeSet;

use redis::streams::{StreamInfoGroupsReply, StreamReadReply};

use crate::engine::model::{Priority, QueueName};
use crate::keys::{CONSUMER_GROUP, Shard};
use crate::store::{RedisConnection, Store, StoreResult};

use super::{Job, JobsRead, job_from_entry};

/// Every how many reads a worker serves the lower priorities first, so they are never starved.
const LOW_PRIORITY_FIRST_EVERY: u64 = 5;

/// What woke a reader waiting for jobs ([`Store::wait_for_jobs`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Woken {
    /// The most urgent priority the shard has jobs of waiting.
    pub priority: Priority,
    /// The job the wait saw arrive on that priority's stream, if it waited for one: no other
    /// worker may have taken it yet. Empty when jobs were waiting already.
    pub seen: Vec<Job>,
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
    /// worker, without taking them; returns the most urgent priority that has some, with the
    /// job the wait saw arrive when it waited for one ([`Store::take_jobs`] reads and starts
    /// it in one step). A worker takes its slots first and reads after, so it never holds a
    /// job it has no slot for. `conn` must have no response timeout.
    pub async fn wait_for_jobs(
        &self,
        conn: &mut RedisConnection,
        shard: Shard,
        queues: &[QueueName],
        block_ms: u64,
    ) -> StoreResult<Option<Woken>> {
        let streams = self.priority_streams(shard, queues, Priority::Low);
        let positions = match self.undelivered(conn, &streams).await? {
            Undelivered::Found(priority) => {
                return Ok(Some(Woken {
                    priority,
                    seen: Vec::new(),
                }));
            }
            Undelivered::None { positions } => positions,
        };
        // Entries after what the group was last given are new work: wait for the first.
        let mut cmd = redis::cmd("XREAD");
        cmd.arg("COUNT")
            .arg(1)
            .arg("BLOCK")
            .arg(block_ms)
            .arg("STREAMS");
        for (stream, _, _) in &streams {
            cmd.arg(stream);
        }
        for position in &positions {
            cmd.arg(position);
        }
        let reply: Option<StreamReadReply> = cmd.query_async(conn).await?;
        let Some(reply) = reply else {
            return Ok(None);
        };
        // The most urgent stream that has an entry; its entry is the job seen.
        Ok(streams.iter().find_map(|(stream, queue, priority)| {
            let read = reply.keys.iter().find(|key| key.key == *stream)?;
            let seen = read
                .ids
                .iter()
                .filter_map(|entry| {
                    let job = job_from_entry(entry)
                        .filter(|job| self.keys.shard_of(&job.run_id) == shard)?;
                    Some(Job {
                        shard,
                        queue: queue.clone(),
                        priority: *priority,
                        entry_id: entry.id.clone(),
                        job,
                    })
                })
                .collect();
            Some(Woken {
                priority: *priority,
                seen,
            })
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

    /// The job streams of `queues` on `shard`, most urgent first, down to `least`, each with
    /// its queue and priority.
    fn priority_streams(
        &self,
        shard: Shard,
        queues: &[QueueName],
        least: Priority,
    ) -> Vec<(String, QueueName, Priority)> {
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
                queues.iter().map(move |queue| {
                    (
                        self.keys.stream(shard, queue, priority),
                        queue.clone(),
                        priority,
                    )
                })
            })
            .collect()
    }

    /// Whether `streams` (most urgent first) hold entries not yet delivered to the consumer
    /// group: the most urgent priority that does, or else where the group stands on each.
    async fn undelivered(
        &self,
        conn: &mut RedisConnection,
        streams: &[(String, QueueName, Priority)],
    ) -> StoreResult<Undelivered> {
        let mut pipe = redis::pipe();
        for (stream, _, _) in streams {
            pipe.cmd("XINFO").arg("GROUPS").arg(stream);
        }
        let groups: Vec<StreamInfoGroupsReply> = pipe.query_async(conn).await?;
        let mut positions = Vec::with_capacity(streams.len());
        for ((_, _, priority), groups) in streams.iter().zip(&groups) {
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
}

//! Reading jobs: each priority's stream of a shard through the consumer group, most urgent
//! first, with a periodic turn for the lower priorities so they are never starved.

use std::collections::BTreeSet;

use redis::streams::{StreamInfoGroupsReply, StreamReadReply};

use crate::engine::model::{Priority, QueueName};
use crate::keys::{CONSUMER_GROUP, Shard};
use crate::store::{RedisConnection, Store, StoreResult};

use super::{Job, JobsRead, job_from_wake, job_on_shard, put_wake};

/// Every how many reads a worker serves the lower priorities first, so they are never starved.
const LOW_PRIORITY_FIRST_EVERY: u64 = 5;

/// What woke a reader waiting for jobs ([`Store::wait_for_jobs`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Woken {
    /// The most urgent priority the shard has jobs of waiting.
    pub priority: Priority,
    /// The job the wait was woken for on that priority's stream, when its wake list named it:
    /// another worker may have taken it since. Empty when jobs were waiting already.
    pub seen: Vec<Job>,
    /// The wake list the wait was woken on and what it held (`None` when jobs were waiting
    /// already), so a worker that cannot take the work now passes it on ([`Store::pass_wake`]).
    pub wake: Option<Wake>,
}

/// The element a wait popped from a wake list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wake {
    /// The wake list.
    list: String,
    /// What it held: a job named as [`Keys::wake_list`](crate::keys::Keys::wake_list) says, or
    /// `-`; with [`PASSED`] in front when a worker passed it on.
    element: String,
}

/// What a wake passed on starts with: it is not passed on again, so a wake-up goes round
/// busy workers at most once instead of for ever.
const PASSED: char = '+';

impl Store {
    /// Reads up to `max` jobs of `shard` for `consumer` from `queues`, without waiting, and
    /// the paused queues as they were right after the last read.
    ///
    /// Priorities are read from `from` down to `least`, and the reading stops after the first
    /// priority that gave jobs but not all that were wanted: the lower ones wait for the next
    /// read (found by [`Store::wait_for_jobs`]), so one job costs one round trip. A caller that
    /// reads on after a full batch passes [`Priority::High`], so urgent jobs go first; it
    /// passes as `least` the priority it took its slots for, so slots handed out before other
    /// readers' for urgent work never go to less urgent work. Every few rounds (`round`) the
    /// order is low to high instead and every priority is read, so lower priorities are never
    /// starved.
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
        least: Priority,
    ) -> StoreResult<JobsRead> {
        let low_first = round % LOW_PRIORITY_FIRST_EVERY == LOW_PRIORITY_FIRST_EVERY - 1;
        let order: Vec<Priority> = if low_first {
            Priority::ALL.iter().rev().copied().collect()
        } else {
            let at = |wanted: Priority| Priority::ALL.iter().position(|p| *p == wanted);
            let (first, last) = (at(from).unwrap_or(0), at(least).unwrap_or(0));
            Priority::ALL[first..=last.max(first)].to_vec()
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
    /// job it was woken for when its wake list named one ([`Store::take_jobs`] reads and
    /// starts it in one step). A worker takes its slots first and reads after, so it never
    /// holds a job it has no slot for. `conn` must have no response timeout.
    ///
    /// The wait is a `BLPOP` of the streams' wake lists ([`Keys::wake_list`](crate::keys::Keys::wake_list)),
    /// most urgent first: whatever adds jobs to a stream puts one element there, which wakes
    /// one waiting worker, so an arrival wakes one worker, not every worker's reader.
    pub async fn wait_for_jobs(
        &self,
        conn: &mut RedisConnection,
        shard: Shard,
        queues: &[QueueName],
        block_ms: u64,
    ) -> StoreResult<Option<Woken>> {
        let streams = self.priority_streams(shard, queues, Priority::Low);
        if let Some(priority) = self.undelivered(conn, &streams).await? {
            return Ok(Some(Woken {
                priority,
                seen: Vec::new(),
                wake: None,
            }));
        }
        let lists: Vec<String> = streams
            .iter()
            .map(|(_, queue, priority)| self.keys.wake_list(shard, queue, *priority))
            .collect();
        // BLPOP takes seconds; zero would wait for ever, as `BLOCK 0` does.
        let timeout = format!("{:.3}", block_ms as f64 / 1000.0);
        let reply: Option<(String, String)> = redis::cmd("BLPOP")
            .arg(&lists)
            .arg(timeout)
            .query_async(conn)
            .await?;
        let Some((list, element)) = reply else {
            return Ok(None);
        };
        let Some((_, queue, priority)) = lists
            .iter()
            .position(|name| *name == list)
            .map(|at| &streams[at])
        else {
            return Ok(None);
        };
        Ok(Some(Woken {
            priority: *priority,
            seen: job_from_wake(
                &self.keys,
                shard,
                queue,
                *priority,
                element.trim_start_matches(PASSED),
            )
            .into_iter()
            .collect(),
            wake: Some(Wake { list, element }),
        }))
    }

    /// Puts back on its wake list what woke `woken`, so another waiting worker wakes for it
    /// as this one did: a woken worker with no free slot passes the work on instead of making
    /// it wait for one. A wake-up is passed on once: nothing is done when `woken` came from
    /// no wake list or from a wake-up passed on before.
    pub async fn pass_wake(&self, conn: &mut RedisConnection, woken: &Woken) -> StoreResult<()> {
        let Some(wake) = &woken.wake else {
            return Ok(());
        };
        if wake.element.starts_with(PASSED) {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        put_wake(&mut pipe, &wake.list, &format!("{PASSED}{}", wake.element));
        pipe.query_async::<()>(conn).await?;
        Ok(())
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
        self.undelivered(conn, &streams).await
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

    /// The most urgent priority of `streams` (most urgent first) with entries not yet
    /// delivered to the consumer group, if any.
    async fn undelivered(
        &self,
        conn: &mut RedisConnection,
        streams: &[(String, QueueName, Priority)],
    ) -> StoreResult<Option<Priority>> {
        let mut pipe = redis::pipe();
        for (stream, _, _) in streams {
            pipe.cmd("XINFO").arg("GROUPS").arg(stream);
        }
        let groups: Vec<StreamInfoGroupsReply> = pipe.query_async(conn).await?;
        // Streams whose lag Redis cannot tell (deletions after the group's position), with
        // that position: whether they have entries past it is asked directly.
        let mut unknown = Vec::new();
        for ((stream, _, priority), groups) in streams.iter().zip(&groups) {
            let group = groups
                .groups
                .iter()
                .find(|group| group.name == CONSUMER_GROUP);
            match group {
                Some(group) if group.lag.is_some_and(|lag| lag > 0) => {
                    return Ok(Some(*priority));
                }
                Some(group) if group.lag.is_none() => {
                    unknown.push((stream, *priority, group.last_delivered_id.clone()));
                }
                _ => {}
            }
        }
        if unknown.is_empty() {
            return Ok(None);
        }
        let mut read = redis::cmd("XREAD");
        read.arg("COUNT").arg(1).arg("STREAMS");
        for (stream, _, _) in &unknown {
            read.arg(*stream);
        }
        for (_, _, position) in &unknown {
            read.arg(position);
        }
        let reply: Option<StreamReadReply> = read.query_async(conn).await?;
        let reply = reply.unwrap_or_default();
        Ok(unknown.iter().find_map(|(stream, priority, _)| {
            reply
                .keys
                .iter()
                .any(|key| key.key == **stream && !key.ids.is_empty())
                .then_some(*priority)
        }))
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
                match job_on_shard(&self.keys, shard, queue, *priority, &entry) {
                    Some(job) => jobs.push(job),
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

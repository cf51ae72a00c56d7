//! Dead letters: jobs that failed for good, kept per queue and shard for an operator to
//! inspect, delete or requeue.
//!
//! A record is named to users by a [`DeadLetterId`]: its entry id on its shard's dead-letter
//! stream and the shard, as `ENTRY.SHARD` (e.g. `1700000000000-0.3`), safe in a URL path.

use std::cmp::Reverse;
use std::fmt;

use redis::streams::{StreamId, StreamRangeReply};

use super::jobs::{Job, field, job_fields, job_from_entry, push_job};
use crate::engine::model::{JobRef, Priority, QueueName};
use crate::error::StoreError;
use crate::keys::{Keys, Shard};
use crate::scripts;
use crate::store::{Store, StoreResult};
use crate::time::now_ms;

/// Dead-letter records read per round trip when requeueing them all.
const DEAD_LETTER_PAGE: usize = 100;

/// A job that failed for good, kept for an operator to inspect and requeue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The record's [`DeadLetterId`], as text (`ENTRY.SHARD`).
    pub id: String,
    /// The queue.
    pub queue: QueueName,
    /// The job's priority.
    pub priority: Priority,
    /// The attempt that failed.
    pub job: JobRef,
    /// Why it failed.
    pub error: String,
    /// When it was dead-lettered (Unix ms).
    pub failed_ms: u64,
}

/// What a list of dead letters shows of the run behind a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterTask {
    /// The definition the run was made from.
    pub definition: String,
    /// The key of the task that failed (`None` when the run has no such task).
    pub task_key: Option<String>,
}

/// What requeueing a dead letter did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequeueOutcome {
    /// The task has a new attempt on its stream; the record is gone.
    Requeued,
    /// No such dead-letter record.
    NotFound,
    /// The task is no longer failed (or its run is gone); the record was dropped.
    Dropped,
}

/// Where a dead-letter record is: the shard and its entry id on the shard's dead-letter
/// stream of its queue. Written `ENTRY.SHARD`, e.g. `1700000000000-0.3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeadLetterId {
    /// The shard whose dead-letter stream holds the record.
    pub shard: Shard,
    /// The stream entry id, as (milliseconds, sequence).
    pub entry: (u64, u64),
}

impl DeadLetterId {
    /// Reads an id written by [`DeadLetterId`]'s `Display`; `None` unless it is exactly that
    /// form and names one of the shards of `keys`.
    pub fn parse(keys: &Keys, text: &str) -> Option<Self> {
        let (entry, shard) = text.rsplit_once('.')?;
        let shard: u16 = shard.parse().ok()?;
        if shard >= keys.shard_count() {
            return None;
        }
        let id = Self {
            shard: Shard::new(shard),
            entry: parse_entry_id(entry)?,
        };
        // Only the canonical form (no sign, no leading zeros) names a record.
        (id.to_string() == text).then_some(id)
    }

    /// The entry id on the stream (`MS-SEQ`).
    pub fn entry_id(&self) -> String {
        format!("{}-{}", self.entry.0, self.entry.1)
    }
}

impl fmt::Display for DeadLetterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}.{}", self.entry.0, self.entry.1, self.shard)
    }
}

/// A stream entry id `MS-SEQ` as numbers, so ids of several streams compare by time.
fn parse_entry_id(text: &str) -> Option<(u64, u64)> {
    let (ms, seq) = text.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

impl Store {
    /// The newest `count` dead-letter records of `queue` on each shard, newest first, in one
    /// round trip (one reply per shard, in shard order).
    async fn newest_on_each_shard(
        &self,
        queue: &QueueName,
        count: usize,
    ) -> StoreResult<Vec<StreamRangeReply>> {
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        for shard in self.keys.shards() {
            pipe.cmd("XREVRANGE")
                .arg(self.keys.dead(shard, queue))
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(count);
        }
        self.query_pipeline(&mut conn, &pipe).await
    }

    /// Dead-letter records of a queue, newest first: the newest `limit` of every shard, read
    /// in one round trip and merged by entry time.
    pub async fn dead_letters(
        &self,
        queue: &QueueName,
        limit: usize,
    ) -> StoreResult<Vec<DeadLetter>> {
        let limit = limit.max(1);
        let replies = self.newest_on_each_shard(queue, limit).await?;
        let mut letters: Vec<(DeadLetterId, &StreamId)> = self
            .keys
            .shards()
            .zip(&replies)
            .flat_map(|(shard, reply)| {
                reply.ids.iter().filter_map(move |entry| {
                    let id = DeadLetterId {
                        shard,
                        entry: parse_entry_id(&entry.id)?,
                    };
                    Some((id, entry))
                })
            })
            .collect();
        letters.sort_by_key(|(id, _)| Reverse((id.entry, id.shard)));
        Ok(letters
            .into_iter()
            .take(limit)
            .map(|(id, entry)| parse_dead_letter(queue, id, entry))
            .collect())
    }

    /// For each of `letters`, its run's definition and its task's key (`None` for a run that
    /// no longer exists), in one round trip: an `HMGET` of those two fields each.
    pub async fn dead_letter_tasks(
        &self,
        letters: &[DeadLetter],
    ) -> StoreResult<Vec<Option<DeadLetterTask>>> {
        if letters.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for letter in letters {
            pipe.cmd("HMGET")
                .arg(self.keys.run(&letter.job.run_id))
                .arg("definition")
                .arg(format!("t{}.key", letter.job.task));
        }
        let mut conn = self.conn().await?;
        let rows: Vec<(Option<String>, Option<String>)> =
            self.query_pipeline(&mut conn, &pipe).await?;
        Ok(rows
            .into_iter()
            .map(|(definition, task_key)| {
                definition.map(|definition| DeadLetterTask {
                    definition,
                    task_key,
                })
            })
            .collect())
    }

    /// Gives the task of a dead-letter record a new attempt on its stream, and removes the
    /// record. An id that names no record (malformed, or of no shard) is
    /// [`RequeueOutcome::NotFound`].
    pub async fn requeue_dead_letter(
        &self,
        queue: &QueueName,
        id: &str,
    ) -> StoreResult<RequeueOutcome> {
        match DeadLetterId::parse(&self.keys, id) {
            Some(id) => self.requeue_record(queue, id).await,
            None => Ok(RequeueOutcome::NotFound),
        }
    }

    async fn requeue_record(
        &self,
        queue: &QueueName,
        id: DeadLetterId,
    ) -> StoreResult<RequeueOutcome> {
        let mut conn = self.conn().await?;
        let dead_key = self.keys.dead(id.shard, queue);
        let entry_id = id.entry_id();
        let reply: StreamRangeReply = redis::cmd("XRANGE")
            .arg(&dead_key)
            .arg(&entry_id)
            .arg(&entry_id)
            .query_async(&mut conn)
            .await?;
        let Some(entry) = reply.ids.first() else {
            return Ok(RequeueOutcome::NotFound);
        };
        let record = parse_dead_letter(queue, id, entry);
        if record.job.run_id.is_empty() {
            redis::cmd("XDEL")
                .arg(&dead_key)
                .arg(&entry_id)
                .query_async::<()>(&mut conn)
                .await?;
            return Ok(RequeueOutcome::Dropped);
        }
        // Back in the active index before the script reopens the run (see `run_index`).
        self.mark_run_active(&record.job.run_id).await?;
        let reply: Vec<String> = scripts::REQUEUE_TASK
            .key(self.keys.run(&record.job.run_id))
            .key(self.keys.run_log(&record.job.run_id))
            .arg(record.job.task)
            .arg(now_ms())
            .invoke_async(&mut conn)
            .await?;
        let run_shard = self.keys.shard_of(&record.job.run_id);
        let mut pipe = redis::pipe();
        let outcome = if reply.first().map(String::as_str) == Some("queued") {
            for triple in reply[1..].chunks(3) {
                let [task, attempt, queue_name] = triple else {
                    continue;
                };
                let job = JobRef {
                    run_id: record.job.run_id.clone(),
                    task: task
                        .parse()
                        .map_err(|_| StoreError::Corrupt(format!("task index '{task}'")))?,
                    attempt: attempt
                        .parse()
                        .map_err(|_| StoreError::Corrupt(format!("attempt '{attempt}'")))?,
                    redeliveries: 0,
                };
                let target = QueueName::parse(queue_name)?;
                self.ensure_queue(&target).await?;
                push_job(&mut pipe, &self.keys, &target, record.priority, &job);
                pipe.cmd("HINCRBY")
                    .arg(self.keys.stats(run_shard, &target))
                    .arg("enqueued")
                    .arg(1)
                    .ignore();
            }
            RequeueOutcome::Requeued
        } else {
            RequeueOutcome::Dropped
        };
        pipe.cmd("XDEL").arg(&dead_key).arg(&entry_id).ignore();
        pipe.query_async::<()>(&mut conn).await?;
        self.reindex_runs(std::slice::from_ref(&record.job.run_id))
            .await?;
        Ok(outcome)
    }

    /// Deletes one dead-letter record of `queue`; true when it existed (false for an id that
    /// names no record). Its task stays failed.
    pub async fn delete_dead_letter(&self, queue: &QueueName, id: &str) -> StoreResult<bool> {
        let Some(id) = DeadLetterId::parse(&self.keys, id) else {
            return Ok(false);
        };
        let mut conn = self.conn().await?;
        let deleted: u64 = redis::cmd("XDEL")
            .arg(self.keys.dead(id.shard, queue))
            .arg(id.entry_id())
            .query_async(&mut conn)
            .await?;
        Ok(deleted > 0)
    }

    /// Deletes every dead-letter record of `queue` on every shard, in one round trip; returns
    /// how many there were. Each shard's records are counted and removed by one command.
    pub async fn delete_all_dead_letters(&self, queue: &QueueName) -> StoreResult<u64> {
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        for shard in self.keys.shards() {
            pipe.cmd("XTRIM")
                .arg(self.keys.dead(shard, queue))
                .arg("MAXLEN")
                .arg(0);
        }
        let removed: Vec<u64> = self.query_pipeline(&mut conn, &pipe).await?;
        Ok(removed.into_iter().sum())
    }

    /// Requeues every dead-letter record of `queue` present when it starts, shard by shard,
    /// oldest first on each, as [`Store::requeue_dead_letter`] does one; returns how many
    /// tasks got a new attempt. Records of tasks no longer failed are dropped, so a task is
    /// requeued once however many records it has and however often this runs.
    pub async fn requeue_all_dead_letters(&self, queue: &QueueName) -> StoreResult<u64> {
        let newest = self.newest_on_each_shard(queue, 1).await?;
        let mut requeued = 0;
        for (shard, newest) in self.keys.shards().zip(&newest) {
            if let Some(last) = newest.ids.first() {
                requeued += self.requeue_shard_up_to(queue, shard, &last.id).await?;
            }
        }
        Ok(requeued)
    }

    /// Requeues the dead-letter records of `queue` on `shard` up to `last_id` included,
    /// oldest first; returns how many tasks got a new attempt.
    async fn requeue_shard_up_to(
        &self,
        queue: &QueueName,
        shard: Shard,
        last_id: &str,
    ) -> StoreResult<u64> {
        let dead_key = self.keys.dead(shard, queue);
        let mut requeued = 0;
        let mut from = "-".to_owned();
        loop {
            let page: StreamRangeReply = {
                let mut conn = self.conn().await?;
                redis::cmd("XRANGE")
                    .arg(&dead_key)
                    .arg(&from)
                    .arg(last_id)
                    .arg("COUNT")
                    .arg(DEAD_LETTER_PAGE)
                    .query_async(&mut conn)
                    .await?
            };
            let Some(end) = page.ids.last().map(|entry| entry.id.clone()) else {
                break;
            };
            for entry in &page.ids {
                let Some(entry) = parse_entry_id(&entry.id) else {
                    continue;
                };
                let id = DeadLetterId { shard, entry };
                if self.requeue_record(queue, id).await? == RequeueOutcome::Requeued {
                    requeued += 1;
                }
            }
            if end == last_id {
                break;
            }
            from = format!("({end}");
        }
        Ok(requeued)
    }
}

/// The fields of a dead-letter record for `job`, dated `now_ms`.
pub(crate) fn dead_letter_fields(
    job: &Job,
    error: &str,
    now_ms: u64,
) -> Vec<(&'static str, String)> {
    let mut fields = job_fields(&job.job);
    fields.push(("p", job.priority.as_str().to_owned()));
    fields.push(("error", error.to_owned()));
    fields.push(("at", now_ms.to_string()));
    fields
}

fn parse_dead_letter(queue: &QueueName, id: DeadLetterId, entry: &StreamId) -> DeadLetter {
    let job = job_from_entry(entry).unwrap_or(JobRef {
        run_id: String::new(),
        task: 0,
        attempt: 0,
        redeliveries: 0,
    });
    DeadLetter {
        id: id.to_string(),
        queue: queue.clone(),
        priority: field::<String>(entry, "p")
            .and_then(|p| p.parse().ok())
            .unwrap_or_default(),
        job,
        error: field::<String>(entry, "error").unwrap_or_default(),
        failed_ms: field::<String>(entry, "at")
            .and_then(|at| at.parse().ok())
            .unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_names_its_entry_and_shard_and_reads_back() {
        let keys = Keys::with_shards("baton", 16);
        let id = DeadLetterId {
            shard: Shard::new(3),
            entry: (1_700_000_000_000, 0),
        };
        assert_eq!(id.to_string(), "1700000000000-0.3");
        assert_eq!(id.entry_id(), "1700000000000-0");
        assert_eq!(DeadLetterId::parse(&keys, "1700000000000-0.3"), Some(id));
        assert_eq!(
            DeadLetterId::parse(&keys, "5-12.15").map(|id| (id.entry, id.shard.index())),
            Some(((5, 12), 15))
        );
    }

    #[test]
    fn a_malformed_or_out_of_range_id_names_nothing() {
        let keys = Keys::with_shards("baton", 16);
        for text in [
            "",
            "1700000000000-0",
            "1700000000000-0.16",
            "1700000000000-0.99999",
            "1700000000000-0.-1",
            "1700000000000-0.+3",
            "1700000000000-0.03",
            "01700000000000-0.3",
            "1700000000000.3",
            "1700000000000-x.3",
            "-0.3",
            "1-0.3.",
            "+-+.3",
            "1700000000000-0.3 ",
        ] {
            assert_eq!(DeadLetterId::parse(&keys, text), None, "{text:?}");
        }
    }
}

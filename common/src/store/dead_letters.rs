//! Dead letters: jobs that failed for good, kept per queue for an operator to inspect,
//! delete or requeue.

use redis::streams::{StreamId, StreamRangeReply};

use super::jobs::{Job, field, job_fields, job_from_entry, push_job};
use super::{Store, StoreResult};
use crate::error::StoreError;
use crate::model::{JobRef, Priority, QueueName};
use crate::scripts;
use crate::time::now_ms;

/// Dead-letter records read per round trip when requeueing them all.
const DEAD_LETTER_PAGE: usize = 100;

/// A job that failed for good, kept for an operator to inspect and requeue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Entry id on the queue's dead-letter stream.
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

impl Store {
    /// Dead-letter records of a queue, newest first.
    pub async fn dead_letters(
        &self,
        queue: &QueueName,
        limit: usize,
    ) -> StoreResult<Vec<DeadLetter>> {
        let mut conn = self.conn().await?;
        let reply: StreamRangeReply = redis::cmd("XREVRANGE")
            .arg(self.keys.queue_dead(queue))
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(limit.max(1))
            .query_async(&mut conn)
            .await?;
        Ok(reply
            .ids
            .iter()
            .map(|entry| parse_dead_letter(queue, entry))
            .collect())
    }

    /// Gives the task of a dead-letter record a new attempt on its stream, and removes the record.
    pub async fn requeue_dead_letter(
        &self,
        queue: &QueueName,
        entry_id: &str,
    ) -> StoreResult<RequeueOutcome> {
        let mut conn = self.conn().await?;
        let dead_key = self.keys.queue_dead(queue);
        let reply: StreamRangeReply = redis::cmd("XRANGE")
            .arg(&dead_key)
            .arg(entry_id)
            .arg(entry_id)
            .query_async(&mut conn)
            .await?;
        let Some(entry) = reply.ids.first() else {
            return Ok(RequeueOutcome::NotFound);
        };
        let record = parse_dead_letter(queue, entry);
        if record.job.run_id.is_empty() {
            redis::cmd("XDEL")
                .arg(&dead_key)
                .arg(entry_id)
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
                    .arg(self.keys.queue_stats(&target))
                    .arg("enqueued")
                    .arg(1)
                    .ignore();
            }
            RequeueOutcome::Requeued
        } else {
            RequeueOutcome::Dropped
        };
        pipe.cmd("XDEL").arg(&dead_key).arg(entry_id).ignore();
        pipe.query_async::<()>(&mut conn).await?;
        self.reindex_runs(std::slice::from_ref(&record.job.run_id))
            .await?;
        Ok(outcome)
    }

    /// Deletes one dead-letter record of `queue`; true when it existed. Its task stays failed.
    pub async fn delete_dead_letter(&self, queue: &QueueName, entry_id: &str) -> StoreResult<bool> {
        let mut conn = self.conn().await?;
        let deleted: u64 = redis::cmd("XDEL")
            .arg(self.keys.queue_dead(queue))
            .arg(entry_id)
            .query_async(&mut conn)
            .await?;
        Ok(deleted > 0)
    }

    /// Deletes every dead-letter record of `queue` at once; returns how many there were.
    pub async fn delete_all_dead_letters(&self, queue: &QueueName) -> StoreResult<u64> {
        let mut conn = self.conn().await?;
        let dead_key = self.keys.queue_dead(queue);
        let (count,): (u64,) = redis::pipe()
            .atomic()
            .cmd("XLEN")
            .arg(&dead_key)
            .cmd("DEL")
            .arg(&dead_key)
            .ignore()
            .query_async(&mut conn)
            .await?;
        Ok(count)
    }

    /// Requeues every dead-letter record of `queue` present when it starts, oldest first, as
    /// [`Store::requeue_dead_letter`] does one; returns how many tasks got a new attempt.
    /// Records of tasks no longer failed are dropped, so a task is requeued once however many
    /// records it has and however often this runs.
    pub async fn requeue_all_dead_letters(&self, queue: &QueueName) -> StoreResult<u64> {
        let dead_key = self.keys.queue_dead(queue);
        let last: StreamRangeReply = {
            let mut conn = self.conn().await?;
            redis::cmd("XREVRANGE")
                .arg(&dead_key)
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(1)
                .query_async(&mut conn)
                .await?
        };
        let Some(last_id) = last.ids.first().map(|entry| entry.id.clone()) else {
            return Ok(0);
        };
        let mut requeued = 0;
        let mut from = "-".to_owned();
        loop {
            let page: StreamRangeReply = {
                let mut conn = self.conn().await?;
                redis::cmd("XRANGE")
                    .arg(&dead_key)
                    .arg(&from)
                    .arg(&last_id)
                    .arg("COUNT")
                    .arg(DEAD_LETTER_PAGE)
                    .query_async(&mut conn)
                    .await?
            };
            let Some(end) = page.ids.last().map(|entry| entry.id.clone()) else {
                break;
            };
            for entry in &page.ids {
                if self.requeue_dead_letter(queue, &entry.id).await? == RequeueOutcome::Requeued {
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

/// The fields of a dead-letter record for `job`.
pub(crate) fn dead_letter_fields(job: &Job, error: &str) -> Vec<(&'static str, String)> {
    let mut fields = job_fields(&job.job);
    fields.push(("p", job.priority.as_str().to_owned()));
    fields.push(("error", error.to_owned()));
    fields.push(("at", now_ms().to_string()));
    fields
}

fn parse_dead_letter(queue: &QueueName, entry: &StreamId) -> DeadLetter {
    let job = job_from_entry(entry).unwrap_or(JobRef {
        run_id: String::new(),
        task: 0,
        attempt: 0,
        redeliveries: 0,
    });
    DeadLetter {
        id: entry.id.clone(),
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

//! The queue protocol: jobs on priority streams, read through a consumer group
//! ([`read`]), started and finished through guarded scripts ([`attempts`]), acknowledged only
//! once their outcome is recorded; entries that are no job at all kept as dead letters
//! ([`dead_letters`]); outcomes counted per queue ([`stats`]). A worker woken by a job reads
//! and starts it in one step ([`take`]).

pub mod attempts;
pub mod dead_letters;
pub mod read;
pub mod stats;
pub mod take;

use std::collections::BTreeSet;

use redis::streams::StreamId;

pub use super::dead_letters::{DeadLetter, RequeueOutcome};
use crate::engine::model::{JobRef, Priority, QueueName};
use crate::keys::{Keys, Shard};
pub use attempts::{AttemptOutcome, FinishOutcome, StartOutcome, StartedTask};

/// A job read from a stream.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Job {
    /// Shard of its run, whose stream it was read from.
    pub shard: Shard,
    /// Queue it was read from.
    pub queue: QueueName,
    /// Priority stream it was read from.
    pub priority: Priority,
    /// Its entry id on that stream.
    pub entry_id: String,
    /// The attempt it asks for.
    pub job: JobRef,
}

/// Adds a job to its queue's stream, in a pipeline.
pub(crate) fn push_job(
    pipe: &mut redis::Pipeline,
    keys: &Keys,
    queue: &QueueName,
    priority: Priority,
    job: &JobRef,
) {
    pipe.cmd("XADD")
        .arg(keys.stream(keys.shard_of(&job.run_id), queue, priority))
        .arg("*")
        .arg("r")
        .arg(&job.run_id)
        .arg("t")
        .arg(job.task)
        .arg("a")
        .arg(job.attempt)
        .arg("d")
        .arg(job.redeliveries)
        .ignore();
}

pub(crate) fn field<T: redis::FromRedisValue>(entry: &StreamId, name: &str) -> Option<T> {
    entry.get(name)
}

/// Decodes the job fields (`r`, `t`, `a`, `d`) of a stream entry.
pub(crate) fn job_from_entry(entry: &StreamId) -> Option<JobRef> {
    Some(JobRef {
        run_id: field::<String>(entry, "r")?,
        task: field::<String>(entry, "t")?.parse().ok()?,
        attempt: field::<String>(entry, "a")?.parse().ok()?,
        redeliveries: field::<String>(entry, "d")
            .and_then(|d| d.parse().ok())
            .unwrap_or(0),
    })
}

/// The fields of a stream entry carrying `job`.
pub(crate) fn job_fields(job: &JobRef) -> Vec<(&'static str, String)> {
    vec![
        ("r", job.run_id.clone()),
        ("t", job.task.to_string()),
        ("a", job.attempt.to_string()),
        ("d", job.redeliveries.to_string()),
    ]
}

/// What [`Store::read_jobs`](crate::store::Store::read_jobs) read: jobs, and the paused queues as read right after them.
#[derive(Debug, Default)]
pub struct JobsRead {
    /// The jobs, now pending under the reader.
    pub jobs: Vec<Job>,
    /// The queues paused when the jobs had been read.
    pub paused: BTreeSet<QueueName>,
}

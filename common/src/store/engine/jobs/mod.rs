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
pub use stats::OutcomeCounts;

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

/// Adds a job to its queue's stream, in a pipeline, and wakes a waiting worker: the stream's
/// wake list then holds `-` (the entry's id is not known until the pipeline runs).
pub(crate) fn push_job(
    pipe: &mut redis::Pipeline,
    keys: &Keys,
    queue: &QueueName,
    priority: Priority,
    job: &JobRef,
) {
    let shard = keys.shard_of(&job.run_id);
    let wake = keys.wake_list(shard, queue, priority);
    pipe.cmd("XADD")
        .arg(keys.stream(shard, queue, priority))
        .arg("*")
        .arg(job_fields(job))
        .ignore();
    put_wake(pipe, &wake, NO_JOB_KNOWN);
}

/// Makes `element` the one element of wake list `list`, in a pipeline: a worker waiting on it
/// wakes (see [`Keys::wake_list`]).
pub(crate) fn put_wake(pipe: &mut redis::Pipeline, list: &str, element: &str) {
    pipe.cmd("DEL").arg(list).ignore();
    pipe.cmd("RPUSH").arg(list).arg(element).ignore();
}

pub(crate) fn field<T: redis::FromRedisValue>(entry: &StreamId, name: &str) -> Option<T> {
    entry.get(name)
}

/// Decodes the job fields (`r`, `t`, `a`, `d`) of a stream entry: one without `d` was never
/// redelivered (see [`job_fields`]).
pub(crate) fn job_from_entry(entry: &StreamId) -> Option<JobRef> {
    let redeliveries = match field::<String>(entry, "d") {
        Some(text) => text.parse().ok()?,
        None => 0,
    };
    Some(JobRef {
        run_id: field::<String>(entry, "r")?,
        task: field::<String>(entry, "t")?.parse().ok()?,
        attempt: field::<String>(entry, "a")?.parse().ok()?,
        redeliveries,
    })
}

/// The job `entry` of the stream of `queue` and `priority` on `shard` carries, or `None` when
/// it carries none, or one whose run is on another shard (the scripts touch the run and the
/// stream together, in one slot).
pub(crate) fn job_on_shard(
    keys: &Keys,
    shard: Shard,
    queue: &QueueName,
    priority: Priority,
    entry: &StreamId,
) -> Option<Job> {
    let job = job_from_entry(entry).filter(|job| keys.shard_of(&job.run_id) == shard)?;
    Some(Job {
        shard,
        queue: queue.clone(),
        priority,
        entry_id: entry.id.clone(),
        job,
    })
}

/// What a wake list holds when the job that woke it is not known.
pub(crate) const NO_JOB_KNOWN: &str = "-";

/// The job a wake list names (`ENTRY|RUN|TASK|ATTEMPT|REDELIVERIES`, see
/// [`Keys::wake_list`]), as a job of the stream of `queue` and `priority` on `shard`; `None`
/// for [`NO_JOB_KNOWN`] and for anything that names no job of that shard.
pub(crate) fn job_from_wake(
    keys: &Keys,
    shard: Shard,
    queue: &QueueName,
    priority: Priority,
    wake: &str,
) -> Option<Job> {
    let (entry_id, rest) = wake.split_once('|')?;
    // The run id comes between the entry id and the last three fields, which are numbers.
    let mut tail = rest.rsplitn(4, '|');
    let redeliveries = tail.next()?.parse().ok()?;
    let attempt = tail.next()?.parse().ok()?;
    let task = tail.next()?.parse().ok()?;
    let run_id = tail.next()?.to_owned();
    if run_id.is_empty() || keys.shard_of(&run_id) != shard {
        return None;
    }
    Some(Job {
        shard,
        queue: queue.clone(),
        priority,
        entry_id: entry_id.to_owned(),
        job: JobRef {
            run_id,
            task,
            attempt,
            redeliveries,
        },
    })
}

/// The fields of a stream entry carrying `job`: its redeliveries only when there were some
/// (every queued job has an entry, and most were never redelivered). The attempt is always
/// there: workers of builds before this one require it.
pub(crate) fn job_fields(job: &JobRef) -> Vec<(&'static str, String)> {
    let mut fields = vec![
        ("r", job.run_id.clone()),
        ("t", job.task.to_string()),
        ("a", job.attempt.to_string()),
    ];
    if job.redeliveries != 0 {
        fields.push(("d", job.redeliveries.to_string()));
    }
    fields
}

/// What [`Store::read_jobs`](crate::store::Store::read_jobs) read: jobs, and the paused queues as read right after them.
#[derive(Debug, Default)]
pub struct JobsRead {
    /// The jobs, now pending under the reader.
    pub jobs: Vec<Job>,
    /// The queues paused when the jobs had been read.
    pub paused: BTreeSet<QueueName>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_on(keys: &Keys, shard: Shard, prefix: &str) -> String {
        (0..)
            .map(|n| format!("{prefix}{n}"))
            .find(|id| keys.shard_of(id) == shard)
            .unwrap()
    }

    #[test]
    fn a_wake_list_names_a_job_of_its_shard_or_none() {
        let keys = Keys::new("baton");
        let (shard, queue) = (Shard::new(2), QueueName::parse("q").unwrap());
        // Run ids may hold the separator: the numbers are taken from the end.
        let run_id = run_on(&keys, shard, "a|b-");
        let named = format!("1700000000000-3|{run_id}|4|2|1");
        let job = job_from_wake(&keys, shard, &queue, Priority::Low, &named).unwrap();
        assert_eq!(job.entry_id, "1700000000000-3");
        assert_eq!(job.priority, Priority::Low);
        assert_eq!(
            job.job,
            JobRef {
                run_id: run_id.clone(),
                task: 4,
                attempt: 2,
                redeliveries: 1,
            }
        );
        let elsewhere = run_on(&keys, Shard::new(5), "r");
        for wake in [
            NO_JOB_KNOWN.to_owned(),
            "garbage".to_owned(),
            format!("1-0|{run_id}|x|1|0"),
            "1-0||4|1|0".to_owned(),
            format!("1-0|{elsewhere}|4|1|0"),
        ] {
            assert_eq!(
                job_from_wake(&keys, shard, &queue, Priority::Low, &wake),
                None,
                "{wake}"
            );
        }
    }

    #[test]
    fn a_job_entry_carries_its_redeliveries_only_when_there_were_some() {
        let entry = |fields: Vec<(&'static str, String)>| StreamId {
            id: "1-0".into(),
            map: fields
                .into_iter()
                .map(|(name, value)| (name.to_owned(), redis::Value::BulkString(value.into())))
                .collect(),
            ..StreamId::default()
        };
        let job = |attempt, redeliveries| JobRef {
            run_id: "r1".into(),
            task: 3,
            attempt,
            redeliveries,
        };
        let first = job_fields(&job(1, 0));
        let fields = |pairs: &[(&'static str, &str)]| -> Vec<(&'static str, String)> {
            pairs
                .iter()
                .map(|(name, value)| (*name, value.to_string()))
                .collect()
        };
        assert_eq!(first, fields(&[("r", "r1"), ("t", "3"), ("a", "1")]));
        for (attempt, redeliveries) in [(1, 0), (2, 0), (1, 4), (3, 2)] {
            let written = job_fields(&job(attempt, redeliveries));
            assert_eq!(
                job_from_entry(&entry(written)),
                Some(job(attempt, redeliveries))
            );
        }
        // An entry with `d` of 0 (as written before) reads the same; one without its attempt, or
        // with one that is not a number, reads as none.
        let written_before = fields(&[("r", "r1"), ("t", "3"), ("a", "1"), ("d", "0")]);
        assert_eq!(job_from_entry(&entry(written_before)), Some(job(1, 0)));
        for malformed in [
            fields(&[("r", "r1"), ("t", "3"), ("a", "x")]),
            fields(&[("r", "r1"), ("t", "3")]),
        ] {
            assert_eq!(job_from_entry(&entry(malformed)), None);
        }
    }
}

//! Taking the jobs a worker was woken for: one script reads the queue's new jobs for the
//! worker and starts the ones its wake list named, unless the queue is paused on their shard,
//! so a job that arrives at an idle worker starts one round trip after the wait wakes, not two.

use std::collections::BTreeSet;

use redis::Value as RedisValue;
use redis::streams::StreamId;

use crate::error::StoreError;
use crate::keys::Shard;
use crate::scripts;
use crate::store::engine::shard_call::ItemReply;
use crate::store::{RedisConnection, Store, StoreResult};
use crate::time::now_ms;

use super::attempts::start_outcome;
use super::{Job, StartOutcome, job_on_shard};

/// Name the take script's replies are reported under.
const SCRIPT: &str = "take_jobs";

/// What [`Store::take_jobs`] did.
#[derive(Debug)]
pub enum Taken {
    /// The queue is paused on the jobs' shard: nothing was read.
    Paused,
    /// Jobs read for the worker, now pending under it, each with what starting it did when
    /// the script started it (`None`: the caller starts it with [`Store::start_jobs`]).
    Read(Vec<(Job, Option<StartOutcome>)>),
}

impl Store {
    /// Reads up to `max` new jobs of the queue and priority of `seen` (the job a wait was
    /// woken for, all of one stream of `shard`) for worker `worker_id`, and starts those of
    /// `seen` among them, in one script call; nothing is read when the queue's pause marker is set on
    /// the shard. Jobs read that were not seen (another worker took the seen one first, or
    /// more had arrived) come back unstarted; entries that are no job of this shard are moved
    /// to the dead letters, as a read does.
    pub async fn take_jobs(
        &self,
        conn: &mut RedisConnection,
        shard: Shard,
        seen: &[Job],
        worker_id: &str,
        max: usize,
    ) -> StoreResult<Taken> {
        let Some(first) = seen.first() else {
            return Ok(Taken::Read(Vec::new()));
        };
        let (queue, priority) = (&first.queue, first.priority);
        let declared = BTreeSet::from([queue.clone()]);
        let mut call = self.shard_call(&scripts::TAKE_JOBS, shard, &[], &declared);
        call.arg(worker_id)
            .arg(now_ms())
            .arg(queue.as_str())
            .arg(priority.as_str())
            .arg(max.max(1));
        for job in seen {
            call.key(self.keys.run(&job.job.run_id))
                .arg(&job.entry_id)
                .arg(&job.job.run_id);
        }
        let mut pipe = redis::pipe();
        call.add_to(&mut pipe);
        let (reply,): (Vec<RedisValue>,) = self.query_pipeline(conn, &pipe).await?;
        let mut parts = reply.into_iter();
        match parts.next().map(redis::from_redis_value::<String>) {
            Some(Ok(kind)) if kind == "paused" => return Ok(Taken::Paused),
            Some(Ok(kind)) if kind == "read" => {}
            other => return Err(unexpected(format!("{other:?}"))),
        }
        let mut taken = Vec::new();
        for part in parts {
            let (id, fields, started): (String, Vec<(String, RedisValue)>, Vec<String>) =
                redis::from_redis_value(part).map_err(|error| unexpected(error.to_string()))?;
            let entry = StreamId {
                id,
                map: fields.into_iter().collect(),
                ..StreamId::default()
            };
            let Some(job) = job_on_shard(&self.keys, shard, queue, priority, &entry) else {
                tracing::warn!(queue = %queue, entry = %entry.id, "malformed job entry (or one on another shard than its run's) moved to the dead letter");
                self.dead_letter_malformed(conn, shard, queue, priority, &entry)
                    .await?;
                continue;
            };
            let outcome = if started.is_empty() {
                None
            } else {
                Some(start_outcome(&ItemReply::parse(SCRIPT, started)?)?)
            };
            taken.push((job, outcome));
        }
        Ok(Taken::Read(taken))
    }
}

/// The error for a reply the take script never gives.
fn unexpected(reply: String) -> StoreError {
    StoreError::UnexpectedReply {
        script: SCRIPT,
        reply,
    }
}

//! Who holds a human task, changed: a person gives up a task they claimed (release), a
//! manager moves a claimed task to another person (reassign), and the scheduler returns to the
//! pool every claim abandoned for longer than the claim timeout.
//!
//! Each change is one guarded script on the run's shard (`human_holder.lua`): only while the
//! task runs under the person expected, in an active run, not submitted and not in review.
//!
//! - A release gives the task a new attempt, queued, whose job is added at the end of its
//!   stream (the run's priority stream of the task's queue), and acknowledges the job pending
//!   under the person (found in their pending list before the call). Should that entry not be
//!   found, it is stale anyway: the engine's guarded start acknowledges the jobs of old
//!   attempts. The work saved so far stays on the task, for whoever claims it next.
//! - A reassignment sets the task's worker to the new person and moves the pending entry to
//!   their pending list (`XCLAIM ... FORCE JUSTID`), so their submit finds it; should it not
//!   be found, their submit still finishes the task, its attempt read from the task itself.
//! - The timeout sweep looks for candidates among the entries of the human queues' streams
//!   idle past the timeout (`XPENDING ... IDLE`): an entry's idle time runs from the claim,
//!   which is never later than the task's last activity (`updated`: the claim, then each
//!   save), so no candidate is missed. The release is guarded by `updated`, so a save racing
//!   the sweep wins.

use redis::aio::ConnectionLike;
use redis::streams::{StreamPendingCountReply, StreamPendingId, StreamRangeReply};

use super::ProjectRef;
use crate::engine::model::{Priority, QueueName, TaskStatus};
use crate::keys::{CONSUMER_GROUP, Shard};
use crate::scripts;
use crate::store::engine::jobs::{Job, job_from_entry};
use crate::store::{Store, StoreResult};
use crate::time::now_ms;

/// Most entries pending under one person examined to find the job of a task they hold.
const HELD_SCAN_LIMIT: usize = 1000;

/// Idle entries read per stream and round trip by the timeout sweep.
const SWEEP_PAGE: usize = 200;

/// Most pages of one stream the timeout sweep reads per round.
const SWEEP_PAGES: usize = 10;

/// Ids read per round trip while looking for an assignment's task.
const ASSIGNMENT_WINDOW: u64 = 256;

/// Most windows read while looking for an assignment's task (a project of up to this many
/// times the window's steps).
const ASSIGNMENT_WINDOWS: u64 = 64;

/// Times a reassignment is tried again when the task changed holder meanwhile.
const REASSIGN_TRIES: usize = 3;

/// A held task's status, worker, `updated` and `started` as the timeout sweep reads them.
type HolderState = (Option<String>, Option<String>, Option<u64>, Option<u64>);

/// What changing who holds a human task did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HolderChange {
    /// The task waits for anyone again, as this attempt.
    Released {
        /// The new attempt.
        attempt: u32,
    },
    /// The task runs under the new person.
    Reassigned,
    /// The new person holds it already: nothing changed.
    Same,
    /// The run or the task does not exist.
    Missing,
    /// The task is a machine step.
    Machine,
    /// Nobody holds it (it is pending or queued).
    NotClaimed(TaskStatus),
    /// It is finished or canceled, or its run is.
    Closed(TaskStatus),
    /// Someone else holds it (their key id).
    NotYours(String),
    /// Its holder submitted it.
    Submitted,
    /// It is in review (the review state).
    InReview(String),
    /// Its holder was active after the cutoff: kept.
    Touched,
}

/// A claim the timeout sweep returned to the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbandonedClaim {
    /// The task's run.
    pub run_id: String,
    /// The task's index.
    pub task: u32,
    /// The person who held it (their key id).
    pub person: String,
    /// The queue it waits on again.
    pub queue: QueueName,
    /// The new attempt.
    pub attempt: u32,
}

/// One call of `human_holder.lua`.
struct HolderCall<'a> {
    operation: &'a str,
    run_id: &'a str,
    task: usize,
    stream: (Shard, &'a QueueName, Priority),
    holder: &'a str,
    entry: Option<&'a str>,
    updated_by: Option<u64>,
    to: &'a str,
    /// When the change happens (Unix ms).
    at: u64,
}

impl Store {
    /// Gives task `task` of run `run_id` (on `queue`, at the run's `priority`) back to the
    /// pool, if `person` holds it, has not submitted it and it is not in review. Repeating it
    /// changes nothing more (the task is no longer claimed).
    pub async fn release_human_task(
        &self,
        run_id: &str,
        task: usize,
        person: &str,
        (queue, priority): (&QueueName, Priority),
    ) -> StoreResult<HolderChange> {
        let shard = self.keys.shard_of(run_id);
        let mut conn = self.conn().await?;
        let entry = self
            .held_entry(&mut conn, (shard, queue, priority), person, run_id, task)
            .await?;
        let change = self
            .change_holder(
                &mut conn,
                &HolderCall {
                    operation: "release",
                    run_id,
                    task,
                    stream: (shard, queue, priority),
                    holder: person,
                    entry: entry.as_deref(),
                    updated_by: None,
                    to: "",
                    at: now_ms(),
                },
            )
            .await?;
        if let HolderChange::Released { attempt } = change {
            tracing::info!(run = %run_id, task, person, attempt, "human task released: it waits for anyone again");
        }
        Ok(change)
    }

    /// Moves task `task` of run `run_id` (on `queue`, at the run's `priority`), claimed and
    /// not submitted nor in review, to person `to`, whoever holds it now.
    pub async fn reassign_human_task(
        &self,
        run_id: &str,
        task: usize,
        to: &str,
        (queue, priority): (&QueueName, Priority),
    ) -> StoreResult<HolderChange> {
        let shard = self.keys.shard_of(run_id);
        let mut conn = self.conn().await?;
        let mut change = HolderChange::Missing;
        for _ in 0..REASSIGN_TRIES {
            let holder: Option<String> = redis::cmd("HGET")
                .arg(self.keys.run(run_id))
                .arg(format!("t{task}.worker"))
                .query_async(&mut conn)
                .await?;
            let holder = holder.unwrap_or_default();
            let entry = match holder.as_str() {
                "" => None,
                holder => {
                    self.held_entry(&mut conn, (shard, queue, priority), holder, run_id, task)
                        .await?
                }
            };
            change = self
                .change_holder(
                    &mut conn,
                    &HolderCall {
                        operation: "reassign",
                        run_id,
                        task,
                        stream: (shard, queue, priority),
                        holder: &holder,
                        entry: entry.as_deref(),
                        updated_by: None,
                        to,
                        at: now_ms(),
                    },
                )
                .await?;
            match &change {
                // It changed hands between the read and the script: read it again.
                HolderChange::NotYours(_) => continue,
                HolderChange::Reassigned => {
                    tracing::info!(run = %run_id, task, from = %holder, to, "human task reassigned");
                }
                _ => {}
            }
            break;
        }
        Ok(change)
    }

    /// Returns to the pool every claimed human task whose holder has done nothing on it (no
    /// claim, no save) for `timeout_ms` at `now_ms`, on every human queue; answers those it
    /// returned. A claim must also have been idle that long by Redis's clock (its pending
    /// entry's idle time).
    pub async fn release_abandoned_human_tasks(
        &self,
        timeout_ms: u64,
        now_ms: u64,
    ) -> StoreResult<Vec<AbandonedClaim>> {
        let cutoff = now_ms.saturating_sub(timeout_ms);
        let queues: Vec<QueueName> = self
            .queue_names()
            .await?
            .into_iter()
            .filter(QueueName::is_human)
            .collect();
        let mut conn = self.conn().await?;
        let mut released = Vec::new();
        for queue in &queues {
            let candidates = self.idle_jobs(&mut conn, queue, timeout_ms).await?;
            for (job, person) in self.inactive_holders(&mut conn, candidates, cutoff).await? {
                let change = self
                    .change_holder(
                        &mut conn,
                        &HolderCall {
                            operation: "release",
                            run_id: &job.job.run_id,
                            task: job.job.task as usize,
                            stream: (job.shard, queue, job.priority),
                            holder: &person,
                            entry: Some(&job.entry_id),
                            updated_by: Some(cutoff),
                            to: "",
                            at: now_ms,
                        },
                    )
                    .await?;
                if let HolderChange::Released { attempt } = change {
                    tracing::info!(run = %job.job.run_id, task = job.job.task, person = %person, attempt, timeout_ms, "abandoned human task returned to the pool");
                    released.push(AbandonedClaim {
                        run_id: job.job.run_id.clone(),
                        task: job.job.task,
                        person,
                        queue: queue.clone(),
                        attempt,
                    });
                }
            }
        }
        Ok(released)
    }

    /// The project and step index of assignment `assignment_id` (whether or not it has
    /// started): assignment ids follow their project's task ids, so the first task id below
    /// it names its project, which is checked to own it.
    pub async fn assignment_task(
        &self,
        assignment_id: u64,
    ) -> StoreResult<Option<(ProjectRef, usize)>> {
        let mut conn = self.conn().await?;
        let mut high = assignment_id;
        for _ in 0..ASSIGNMENT_WINDOWS {
            if high == 0 {
                break;
            }
            let low = high.saturating_sub(ASSIGNMENT_WINDOW);
            let ids: Vec<u64> = (low..high).rev().collect();
            let projects: Vec<Option<u64>> = redis::cmd("HMGET")
                .arg(self.keys.project_tasks())
                .arg(&ids)
                .query_async(&mut conn)
                .await?;
            if let Some(project) = projects.into_iter().flatten().next() {
                let Some(project) = self.projects(&[project]).await?.pop().flatten() else {
                    return Ok(None);
                };
                let index = assignment_id.checked_sub(project.id + 1 + project.steps);
                return Ok(index
                    .filter(|index| *index < project.steps)
                    .map(|index| (project, index as usize)));
            }
            high = low;
        }
        Ok(None)
    }

    /// The id of the entry pending under `person` on `stream` that carries task `task` of run
    /// `run_id` (its latest attempt's, should there be several).
    async fn held_entry(
        &self,
        conn: &mut (impl ConnectionLike + Send),
        (shard, queue, priority): (Shard, &QueueName, Priority),
        person: &str,
        run_id: &str,
        task: usize,
    ) -> StoreResult<Option<String>> {
        let stream = self.keys.stream(shard, queue, priority);
        let pending: StreamPendingCountReply = match redis::cmd("XPENDING")
            .arg(&stream)
            .arg(CONSUMER_GROUP)
            .arg("-")
            .arg("+")
            .arg(HELD_SCAN_LIMIT)
            .arg(person)
            .query_async(&mut *conn)
            .await
        {
            Ok(pending) => pending,
            // No stream (or group) yet: nothing was ever queued there.
            Err(error) if error.code() == Some("NOGROUP") => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        let jobs = self
            .jobs_of_entries(&mut *conn, shard, queue, priority, &pending.ids)
            .await?;
        Ok(jobs
            .into_iter()
            .filter(|(job, _)| job.job.run_id == run_id && job.job.task as usize == task)
            .max_by_key(|(job, _)| (job.job.attempt, job.job.redeliveries))
            .map(|(job, _)| job.entry_id))
    }

    /// The jobs of `pending` entries of a stream, each with the consumer it is pending under;
    /// entries that are gone or not jobs are left out.
    async fn jobs_of_entries(
        &self,
        conn: &mut (impl ConnectionLike + Send),
        shard: Shard,
        queue: &QueueName,
        priority: Priority,
        pending: &[StreamPendingId],
    ) -> StoreResult<Vec<(Job, String)>> {
        if pending.is_empty() {
            return Ok(Vec::new());
        }
        let stream = self.keys.stream(shard, queue, priority);
        let mut pipe = redis::pipe();
        for entry in pending {
            pipe.cmd("XRANGE")
                .arg(&stream)
                .arg(&entry.id)
                .arg(&entry.id);
        }
        let entries: Vec<StreamRangeReply> = pipe.query_async(conn).await?;
        Ok(pending
            .iter()
            .zip(&entries)
            .filter_map(|(pending, reply)| {
                let entry = reply.ids.first()?;
                let job = Job {
                    shard,
                    queue: queue.clone(),
                    priority,
                    entry_id: entry.id.clone(),
                    job: job_from_entry(entry)?,
                };
                Some((job, pending.consumer.clone()))
            })
            .collect())
    }

    /// The jobs of `queue` pending for `idle_ms` or more, with the consumers they are pending
    /// under: the first page of every stream in one round trip, further pages stream by stream.
    async fn idle_jobs(
        &self,
        conn: &mut (impl ConnectionLike + Send),
        queue: &QueueName,
        idle_ms: u64,
    ) -> StoreResult<Vec<(Job, String)>> {
        let streams: Vec<(Shard, Priority)> = self
            .keys
            .shards()
            .flat_map(|shard| {
                Priority::ALL
                    .into_iter()
                    .map(move |priority| (shard, priority))
            })
            .collect();
        let page = |stream: &str, after: Option<&str>| {
            let mut cmd = redis::cmd("XPENDING");
            cmd.arg(stream)
                .arg(CONSUMER_GROUP)
                .arg("IDLE")
                .arg(idle_ms)
                .arg(after.map_or_else(|| "-".to_owned(), |id| format!("({id}")))
                .arg("+")
                .arg(SWEEP_PAGE);
            cmd
        };
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for (shard, priority) in &streams {
            pipe.add_command(page(&self.keys.stream(*shard, queue, *priority), None));
        }
        let firsts: Vec<redis::RedisResult<StreamPendingCountReply>> =
            pipe.query_async(&mut *conn).await?;
        let mut jobs = Vec::new();
        for ((shard, priority), first) in streams.into_iter().zip(firsts) {
            let mut pending = match first {
                Ok(pending) => pending.ids,
                // No stream (or group) yet: nothing was ever queued there.
                Err(error) if error.code() == Some("NOGROUP") => continue,
                Err(error) => return Err(error.into()),
            };
            let stream = self.keys.stream(shard, queue, priority);
            let mut pages = 1;
            while pending.len() == pages * SWEEP_PAGE && pages < SWEEP_PAGES {
                let after = pending.last().map(|entry| entry.id.clone());
                let next: StreamPendingCountReply = page(&stream, after.as_deref())
                    .query_async(&mut *conn)
                    .await?;
                pending.extend(next.ids);
                pages += 1;
            }
            jobs.extend(
                self.jobs_of_entries(&mut *conn, shard, queue, priority, &pending)
                    .await?,
            );
        }
        Ok(jobs)
    }

    /// The `candidates` whose task runs under the consumer holding the entry and was last
    /// touched (updated or started) at or before `cutoff` (one round trip; the release checks
    /// again).
    async fn inactive_holders(
        &self,
        conn: &mut (impl ConnectionLike + Send),
        candidates: Vec<(Job, String)>,
        cutoff: u64,
    ) -> StoreResult<Vec<(Job, String)>> {
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for (job, _) in &candidates {
            let p = format!("t{}.", job.job.task);
            pipe.cmd("HMGET")
                .arg(self.keys.run(&job.job.run_id))
                .arg(format!("{p}status"))
                .arg(format!("{p}worker"))
                .arg(format!("{p}updated"))
                .arg(format!("{p}started"));
        }
        let states: Vec<HolderState> = pipe.query_async(conn).await?;
        Ok(candidates
            .into_iter()
            .zip(states)
            .filter(|((job, person), (status, worker, updated, started))| {
                // Jobs live on their run's shard; the script takes both keys on it.
                job.shard == self.keys.shard_of(&job.job.run_id)
                    && status.as_deref() == Some("running")
                    && worker.as_deref() == Some(person.as_str())
                    // Its last activity: a start writes `started`, not `updated`.
                    && updated.unwrap_or(0).max(started.unwrap_or(0)) <= cutoff
            })
            .map(|(candidate, _)| candidate)
            .collect())
    }

    /// Calls `human_holder.lua` and reads its answer.
    async fn change_holder(
        &self,
        conn: &mut (impl ConnectionLike + Send),
        call: &HolderCall<'_>,
    ) -> StoreResult<HolderChange> {
        let (shard, queue, priority) = call.stream;
        let reply: Vec<String> = scripts::HUMAN_HOLDER
            .key(self.keys.run(call.run_id))
            .key(self.keys.stream(shard, queue, priority))
            .key(self.keys.stats(shard, queue))
            .arg(call.operation)
            .arg(call.task)
            .arg(call.holder)
            .arg(call.entry.unwrap_or(""))
            .arg(call.at)
            .arg(call.updated_by.map(|ms| ms.to_string()).unwrap_or_default())
            .arg(call.to)
            .arg(call.run_id)
            .arg(CONSUMER_GROUP)
            .invoke_async(conn)
            .await?;
        holder_change(&reply)
    }
}

/// Reads the reply of `human_holder.lua`.
fn holder_change(reply: &[String]) -> StoreResult<HolderChange> {
    let part = |index: usize| reply.get(index).map(String::as_str).unwrap_or("");
    Ok(match part(0) {
        "missing" => HolderChange::Missing,
        "machine" => HolderChange::Machine,
        "not_claimed" => HolderChange::NotClaimed(part(1).parse()?),
        "closed" => HolderChange::Closed(part(1).parse()?),
        "not_yours" => HolderChange::NotYours(part(1).to_owned()),
        "submitted" => HolderChange::Submitted,
        "in_review" => HolderChange::InReview(part(1).to_owned()),
        "touched" => HolderChange::Touched,
        "same" => HolderChange::Same,
        "reassigned" => HolderChange::Reassigned,
        "released" => HolderChange::Released {
            attempt: part(1).parse().map_err(|_| {
                crate::error::StoreError::Corrupt(format!(
                    "human_holder.lua answered attempt '{}'",
                    part(1)
                ))
            })?,
        },
        other => {
            return Err(crate::error::StoreError::Corrupt(format!(
                "unexpected answer '{other}' from human_holder.lua"
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_of_the_script_read_as_changes() {
        let reply = |parts: &[&str]| {
            holder_change(
                &parts
                    .iter()
                    .map(|part| part.to_string())
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(
            reply(&["released", "3"]).unwrap(),
            HolderChange::Released { attempt: 3 }
        );
        assert_eq!(
            reply(&["not_claimed", "queued"]).unwrap(),
            HolderChange::NotClaimed(TaskStatus::Queued)
        );
        assert_eq!(
            reply(&["not_yours", "bob"]).unwrap(),
            HolderChange::NotYours("bob".into())
        );
        assert_eq!(
            reply(&["in_review", "pending"]).unwrap(),
            HolderChange::InReview("pending".into())
        );
        assert!(reply(&["what"]).is_err());
        assert!(reply(&["released", "x"]).is_err());
    }
}

//! Reviews of submitted work: claiming one, the pending and held ones, and the decision
//! (accept, or send back to the claimant).

use serde_json::Value;

use crate::engine::model::{Priority, QueueName, TaskStatus};
use crate::error::StoreError;
use crate::store::{Store, StoreResult};

use super::{CLAIM_CANDIDATES, HumanStep, HumanWork, human_work};

/// What claiming a review did.
#[derive(Debug, Clone, PartialEq)]
pub enum ReviewClaim {
    /// The caller reviews it now.
    Claimed,
    /// The caller reviews it already.
    Yours,
    /// The caller did the work: someone else must review it.
    OwnWork,
    /// The run or the task does not exist, or it is a machine step.
    Missing,
    /// It waits for no reviewer (not submitted for review, someone else reviews it, or it
    /// finished).
    NotPending,
}

/// A reviewer's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewDecision {
    /// The work is accepted: the step completes with it.
    Accept,
    /// The work goes back to its claimant with comments.
    Reject,
}

/// What a review did.
#[derive(Debug, Clone, PartialEq)]
pub enum ReviewOutcome {
    /// Accepted: the task finished (or is finishing) with `data`.
    Accepted {
        /// The data the task finished with (the first accept's).
        data: Value,
        /// True when this repeats an earlier accept.
        again: bool,
    },
    /// Sent back to the claimant (`again`: it already was).
    Rejected {
        /// True when this repeats an earlier reject.
        again: bool,
    },
    /// The run or task does not exist.
    Missing,
    /// The task is a machine step.
    Machine,
    /// The task no longer runs (finished or canceled).
    Closed(TaskStatus),
    /// It is not under review now.
    NotInReview,
    /// Someone else reviews it (their key id).
    NotReviewer(String),
}

impl Store {
    /// Makes `person` the reviewer of task `task` of run `run_id`, submitted for review and
    /// waiting for one; never the person who did the work.
    pub async fn claim_review_task(
        &self,
        run_id: &str,
        task: usize,
        person: &str,
    ) -> StoreResult<ReviewClaim> {
        let mut conn = self.conn().await?;
        // An id for the reviewer's assignment, used only the first time the task is reviewed.
        let assignment: u64 = redis::cmd("INCR")
            .arg(self.keys.project_ids())
            .query_async(&mut conn)
            .await?;
        let reply = self
            .human_step(HumanStep::new("review_claim", run_id, task, person).assignment(assignment))
            .await?;
        review_claim(&reply)
    }

    /// Makes `person` the reviewer of the next task waiting for one: the most urgent project's,
    /// then the oldest submission, passing over the person's own work. `None` when none waits.
    pub async fn claim_next_review(&self, person: &str) -> StoreResult<Option<(String, usize)>> {
        for (run_id, task) in self.pending_reviews(CLAIM_CANDIDATES).await? {
            if self.claim_review_task(&run_id, task, person).await? == ReviewClaim::Claimed {
                return Ok(Some((run_id, task)));
            }
        }
        Ok(None)
    }

    /// The tasks waiting for a reviewer (run id, task index), most urgent project first, then
    /// the oldest submission; at most `limit`.
    pub async fn pending_reviews(&self, limit: usize) -> StoreResult<Vec<(String, usize)>> {
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        for shard in self.keys.shards() {
            pipe.cmd("ZRANGE")
                .arg(self.keys.review_queue(shard))
                .arg(0)
                .arg(limit.max(1) - 1)
                .arg("WITHSCORES");
        }
        let replies: Vec<Vec<(String, f64)>> = pipe.query_async(&mut conn).await?;
        let mut waiting: Vec<(f64, String)> = replies
            .into_iter()
            .flatten()
            .map(|(member, score)| (score, member))
            .collect();
        waiting.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        Ok(waiting
            .into_iter()
            .filter_map(|(_, member)| {
                let mut parts = member.splitn(3, '|');
                let (_, run_id, task) = (parts.next()?, parts.next()?, parts.next()?);
                Some((run_id.to_owned(), task.parse().ok()?))
            })
            .take(limit)
            .collect())
    }

    /// The tasks `person` reviews, or sent back and will review again (run id, task index),
    /// until they accept them or the tasks end; in no particular order.
    pub async fn reviews_held(&self, person: &str) -> StoreResult<Vec<(String, usize)>> {
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        for shard in self.keys.shards() {
            pipe.smembers(self.keys.reviewing(shard, person));
        }
        let members: Vec<Vec<String>> = pipe.query_async(&mut conn).await?;
        Ok(members
            .into_iter()
            .flatten()
            .filter_map(|member| {
                let (run_id, task) = member.rsplit_once('|')?;
                Some((run_id.to_owned(), task.parse().ok()?))
            })
            .collect())
    }

    /// Records `person`'s review of task `task` of run `run_id`, which they review: accepting
    /// it finishes the task with `data` (the step's result); rejecting it sends it back to its
    /// claimant with `data` (the reviewer's comments and changes) as their work. Each is a
    /// snapshot of the reviewer's assignment (`snapshot`). Repeating it is harmless.
    pub async fn review_human_work(
        &self,
        run_id: &str,
        task: usize,
        person: &str,
        decision: ReviewDecision,
        (data, snapshot): (&Value, &Value),
        job: (&QueueName, Priority),
    ) -> StoreResult<ReviewOutcome> {
        let operation = match decision {
            ReviewDecision::Accept => "accept",
            ReviewDecision::Reject => "reject",
        };
        let reply = self
            .human_step(
                HumanStep::new(operation, run_id, task, person)
                    .data(data)
                    .snapshot(snapshot),
            )
            .await?;
        let part = |index: usize| reply.get(index).map(String::as_str).unwrap_or("");
        Ok(match part(0) {
            "rejected" => ReviewOutcome::Rejected {
                again: part(1) == "1",
            },
            "submitted" | "resubmitted" => {
                let work = human_work(&reply, true)?;
                match self
                    .finish_submitted(run_id, task, &reply, &work, job)
                    .await?
                {
                    HumanWork::Submitted { data, again } => ReviewOutcome::Accepted { data, again },
                    HumanWork::Closed(status) => ReviewOutcome::Closed(status),
                    other => {
                        return Err(StoreError::Corrupt(format!(
                            "unexpected outcome of an accepted review: {other:?}"
                        )));
                    }
                }
            }
            "missing" => ReviewOutcome::Missing,
            "machine" => ReviewOutcome::Machine,
            "closed" => ReviewOutcome::Closed(part(1).parse()?),
            "not_pending" => ReviewOutcome::NotInReview,
            "not_reviewer" => ReviewOutcome::NotReviewer(part(1).to_owned()),
            other => {
                return Err(StoreError::Corrupt(format!(
                    "unexpected answer '{other}' from human_step.lua"
                )));
            }
        })
    }
}

/// Reads the reply of `human_step.lua` to a review claim.
pub(super) fn review_claim(reply: &[String]) -> StoreResult<ReviewClaim> {
    Ok(match reply.first().map(String::as_str).unwrap_or("") {
        "review_claimed" => ReviewClaim::Claimed,
        "review_yours" => ReviewClaim::Yours,
        "own_work" => ReviewClaim::OwnWork,
        "missing" | "machine" => ReviewClaim::Missing,
        "not_pending" | "closed" => ReviewClaim::NotPending,
        other => {
            return Err(StoreError::Corrupt(format!(
                "unexpected answer '{other}' from human_step.lua"
            )));
        }
    })
}

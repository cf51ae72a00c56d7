//! A person's work on a claimed task: saved, then submitted, which records it and finishes
//! the task through the engine's guarded finish, exactly once.

use serde_json::Value;

use crate::engine::model::{Priority, QueueName, TaskStatus};
use crate::error::StoreError;
use crate::store::engine::jobs::{AttemptOutcome, FinishOutcome};
use crate::store::{Store, StoreResult};

use super::HumanStep;

/// What saving or submitting a person's work did.
#[derive(Debug, Clone, PartialEq)]
pub enum HumanWork {
    /// The run or the task does not exist.
    Missing,
    /// The task is a machine step.
    Machine,
    /// Nobody has claimed the task yet.
    NotClaimed(TaskStatus),
    /// Another person claimed it.
    NotYours(String),
    /// The task is no longer open for this (already submitted, finished or canceled).
    Closed(TaskStatus),
    /// The work in progress is stored.
    Saved,
    /// The task was submitted with `data` for review: it waits for a reviewer, or for the
    /// reviewer who sent it back.
    InReview {
        /// The data submitted.
        data: Value,
        /// True when this repeats a submission already waiting for review.
        again: bool,
    },
    /// The task was submitted with `data` and has finished (or is finishing) with it.
    Submitted {
        /// The data recorded by the first submission.
        data: Value,
        /// True when this repeats an earlier submission.
        again: bool,
    },
}

/// How a submission is to be handled.
#[derive(Debug, Clone, Copy)]
pub struct HumanSubmission<'a> {
    /// True when the step requires review before it completes.
    pub review: bool,
    /// The project's priority (Orchestra's integer): reviews of the most urgent go first.
    pub project_priority: i64,
    /// The task's queue and the run's priority stream, where its job is.
    pub job: (&'a QueueName, Priority),
}

impl Store {
    /// Stores `data` as the work in progress of task `task` of run `run_id`, if `person`
    /// holds it and has not submitted it.
    pub async fn save_human_work(
        &self,
        run_id: &str,
        task: usize,
        person: &str,
        data: &Value,
    ) -> StoreResult<HumanWork> {
        let reply = self
            .human_step(HumanStep::new("save", run_id, task, person).data(data))
            .await?;
        human_work(&reply, false)
    }

    /// Submits `data` for task `task` of run `run_id`, if `person` holds it: records the
    /// submission with its `snapshot`; then, when its step requires no review, finishes the
    /// task with `data` as its result, and otherwise leaves it waiting for a reviewer (or for
    /// the reviewer who sent it back). Repeating it is harmless (see the module's
    /// documentation).
    pub async fn submit_human_work(
        &self,
        run_id: &str,
        task: usize,
        person: &str,
        (data, snapshot): (&Value, &Value),
        submission: HumanSubmission<'_>,
    ) -> StoreResult<HumanWork> {
        let step = HumanStep::new("submit", run_id, task, person)
            .data(data)
            .snapshot(snapshot)
            .review(submission.review, submission.project_priority);
        let reply = self.human_step(step).await?;
        let work = human_work(&reply, true)?;
        if !matches!(work, HumanWork::Submitted { .. }) {
            return Ok(work);
        }
        self.finish_submitted(run_id, task, &reply, &work, submission.job)
            .await
    }

    /// Finishes task `task` of run `run_id` with the submission `human_step.lua` recorded
    /// (its `reply`): the job pending under its claimant succeeds with the data.
    pub(super) async fn finish_submitted(
        &self,
        run_id: &str,
        task: usize,
        reply: &[String],
        work: &HumanWork,
        (queue, priority): (&QueueName, Priority),
    ) -> StoreResult<HumanWork> {
        let HumanWork::Submitted { data, .. } = work else {
            return Ok(work.clone());
        };
        let status = reply.get(2).map(String::as_str).unwrap_or("");
        let holder = reply.get(3).map(String::as_str).unwrap_or("");
        let mut conn = self.dedicated_connection().await?;
        let held = self
            .held_job(&mut conn, queue, priority, holder, run_id, task)
            .await?;
        match (status, held) {
            ("running", held) => {
                let job = match held {
                    Some(job) => job,
                    None => self.unheld_job(queue, priority, run_id, task).await?,
                };
                let finished = self
                    .finish_jobs(
                        &mut conn,
                        &[(job, AttemptOutcome::Succeeded(Some(data.clone())))],
                    )
                    .await?;
                if finished.first() == Some(&FinishOutcome::Stale) {
                    let status = self.task_status(run_id, task).await?;
                    if status != Some(TaskStatus::Success) {
                        return Ok(HumanWork::Closed(status.unwrap_or(TaskStatus::Canceled)));
                    }
                }
            }
            ("success", Some(job)) => {
                // Finished, but not acknowledged: the submitter stopped before the follow-ups.
                self.start_jobs(&mut conn, std::slice::from_ref(&job), holder)
                    .await?;
            }
            ("success", None) => {}
            (other, _) => return Ok(HumanWork::Closed(other.parse()?)),
        }
        Ok(work.clone())
    }
}

/// Reads the reply of `human_step.lua`.
pub(super) fn human_work(reply: &[String], submitting: bool) -> StoreResult<HumanWork> {
    let part = |index: usize| reply.get(index).map(String::as_str).unwrap_or("");
    Ok(match part(0) {
        "missing" => HumanWork::Missing,
        "machine" => HumanWork::Machine,
        "not_claimed" => HumanWork::NotClaimed(part(1).parse()?),
        "not_yours" => HumanWork::NotYours(part(2).to_owned()),
        "closed" => HumanWork::Closed(part(1).parse()?),
        "saved" => HumanWork::Saved,
        name @ ("submitted" | "resubmitted") if submitting => HumanWork::Submitted {
            data: serde_json::from_str(part(1)).unwrap_or(Value::Null),
            again: name == "resubmitted",
        },
        name @ ("in_review" | "in_review_again") if submitting => HumanWork::InReview {
            data: serde_json::from_str(part(1)).unwrap_or(Value::Null),
            again: name == "in_review_again",
        },
        other => {
            return Err(StoreError::Corrupt(format!(
                "unexpected answer '{other}' from human_step.lua"
            )));
        }
    })
}

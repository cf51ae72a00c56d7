//! Human tasks: jobs on a human queue ([`QueueName::is_human`](crate::engine::model::QueueName::is_human)) that people, not workers,
//! read, through the same consumer group, each person being a consumer named by their key id.
//!
//! - A claim takes a task by name: the next one is the waiting task of the project with the
//!   highest priority (Orchestra's integer), then the oldest, among the stream entries no one
//!   has been given (tasks of paused projects are passed over). Its attempt is started with
//!   the engine's guarded start ([`Store::start_jobs`]), so two people never hold one task:
//!   the start script lets one start. Then its entry is put in the person's pending list
//!   (`XCLAIM ... FORCE`), and the group is moved past head entries whose tasks wait for
//!   nobody any more (`pass_claimed_entries.lua`, which never passes a waiting one), so
//!   listing and trimming go on from there. Should a race acknowledge an entry a holder
//!   still needs, the holder's submit still finishes the task, its attempt read from the task
//!   itself ([`NO_ENTRY`]).
//! - The job stays pending under the person (the scheduler never reclaims human queues) until
//!   the submission finishes the task through the engine's guarded finish
//!   ([`Store::finish_jobs`]), which enqueues the next steps and acknowledges the job.
//! - The submission is recorded on the task (`human_step.lua`) before the finish, so a
//!   repeated submit, or one whose API died midway, finishes the task with the data recorded
//!   first, exactly once; a submit repeated after the finish re-adds the successors' jobs the
//!   way a redelivered job does (the start guard drops duplicates).
//! - A claim also takes over jobs left pending for [`ABANDONED_MS`] by a claim or a submit
//!   that stopped midway: an entry whose task never started is started for the new claimant;
//!   a submitted task still running is finished; a finished task's entry is healed and
//!   acknowledged. Tasks a person holds are never touched.
//! - The tasks a person holds are the jobs pending under them ([`Store::held_human_jobs`]).
//!
//! [`claims`] takes tasks, [`work`] saves and submits them, [`reviews`] accepts or returns them.

pub mod claims;
pub mod reviews;
pub mod work;

use serde_json::Value;

use crate::engine::model::TaskStatus;
use crate::scripts;
use crate::store::{Store, StoreResult};
use crate::time::now_ms;

pub use claims::{HumanClaim, entry_order};
pub use reviews::{ReviewClaim, ReviewDecision, ReviewOutcome};
use work::human_work;
pub use work::{HumanSubmission, HumanWork};

/// How long a human queue's entry must sit untouched, in a state no person works on, before a
/// claim takes it over (its claimer or submitter stopped midway).
pub const ABANDONED_MS: u64 = 30_000;

/// Most waiting tasks one claim of the next task weighs by priority.
pub(super) const CLAIM_CANDIDATES: usize = 500;

/// The entry id given for a job that is pending under nobody: no stream holds it (entries are
/// added with `*`, time-based ids), so acknowledging it changes nothing.
pub const NO_ENTRY: &str = "0-1";

/// One call of `human_step.lua`.
pub(super) struct HumanStep<'a> {
    operation: &'static str,
    run_id: &'a str,
    task: usize,
    person: &'a str,
    data: &'a Value,
    snapshot: &'a Value,
    review: bool,
    project_priority: i64,
    assignment: u64,
}

impl<'a> HumanStep<'a> {
    pub(super) fn new(
        operation: &'static str,
        run_id: &'a str,
        task: usize,
        person: &'a str,
    ) -> Self {
        Self {
            operation,
            run_id,
            task,
            person,
            data: &Value::Null,
            snapshot: &Value::Null,
            review: false,
            project_priority: 0,
            assignment: 0,
        }
    }

    pub(super) fn data(mut self, data: &'a Value) -> Self {
        self.data = data;
        self
    }

    pub(super) fn snapshot(mut self, snapshot: &'a Value) -> Self {
        self.snapshot = snapshot;
        self
    }

    pub(super) fn review(mut self, review: bool, project_priority: i64) -> Self {
        self.review = review;
        self.project_priority = project_priority;
        self
    }

    pub(super) fn assignment(mut self, assignment: u64) -> Self {
        self.assignment = assignment;
        self
    }
}

impl Store {
    pub(super) async fn human_step(&self, step: HumanStep<'_>) -> StoreResult<Vec<String>> {
        let mut conn = self.conn().await?;
        Ok(scripts::HUMAN_STEP
            .key(self.keys.run(step.run_id))
            .key(self.keys.review_queue(self.keys.shard_of(step.run_id)))
            .key(
                self.keys
                    .reviewing(self.keys.shard_of(step.run_id), step.person),
            )
            .arg(step.operation)
            .arg(step.task)
            .arg(step.person)
            .arg(step.data.to_string())
            .arg(step.snapshot.to_string())
            .arg(now_ms())
            .arg(if step.review { "1" } else { "" })
            .arg(step.project_priority)
            .arg(step.assignment)
            .arg(step.run_id)
            .invoke_async(&mut conn)
            .await?)
    }

    pub(super) async fn task_status(
        &self,
        run_id: &str,
        task: usize,
    ) -> StoreResult<Option<TaskStatus>> {
        let mut conn = self.conn().await?;
        let status: Option<String> = redis::cmd("HGET")
            .arg(self.keys.run(run_id))
            .arg(format!("t{task}.status"))
            .query_async(&mut conn)
            .await?;
        status
            .map(|status| status.parse())
            .transpose()
            .map_err(Into::into)
    }
}

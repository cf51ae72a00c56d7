//! The runs one front sees: those of its own [`RunKind`].
//!
//! Every front reads, cancels and relaunches runs, and reads their logs, through
//! [`Store::runs_of`], so a run of another front is not found, exactly as an unknown id: a
//! Director key cannot read or cancel a project, a report run or a release phase by its run id.
//! A run's kind is written when it is created and never changes, so checking it before acting
//! on the run holds for the action that follows.

use super::runs::{CancelOutcome, LogLine, RunView, stored_kind};
use crate::engine::model::RunKind;
use crate::store::{Store, StoreResult};

/// The runs of one kind, as one front sees them (see the module's documentation).
#[derive(Debug, Clone, Copy)]
pub struct FrontRuns<'a> {
    /// The store.
    store: &'a Store,
    /// The kind of the runs this front sees.
    kind: RunKind,
}

impl Store {
    /// The runs of `kind`: the only runs the front of that kind reads or changes.
    pub fn runs_of(&self, kind: RunKind) -> FrontRuns<'_> {
        FrontRuns { store: self, kind }
    }

    /// The kind of run `run_id`; `None` when it does not exist (or expired).
    pub async fn run_kind(&self, run_id: &str) -> StoreResult<Option<RunKind>> {
        let mut conn = self.conn().await?;
        let (kind, definition): (Option<String>, Option<String>) = redis::cmd("HMGET")
            .arg(self.keys.run(run_id))
            .arg("kind")
            .arg("definition")
            .query_async(&mut conn)
            .await?;
        definition
            .map(|definition| stored_kind(kind.as_deref(), &definition))
            .transpose()
    }
}

impl FrontRuns<'_> {
    /// The kind of the runs this front sees.
    pub fn kind(&self) -> RunKind {
        self.kind
    }

    /// True when `run` is one of this front's runs.
    pub fn owns(&self, run: &RunView) -> bool {
        run.kind == self.kind
    }

    /// True when run `run_id` exists and is one of this front's runs.
    async fn holds(&self, run_id: &str) -> StoreResult<bool> {
        Ok(self.store.run_kind(run_id).await? == Some(self.kind))
    }

    /// The run `run_id` with its tasks; `None` when it does not exist or is another front's.
    pub async fn get(&self, run_id: &str) -> StoreResult<Option<RunView>> {
        Ok(self
            .store
            .get_run(run_id)
            .await?
            .filter(|run| self.owns(run)))
    }

    /// Cancels run `run_id` (see [`Store::cancel_run`]); [`CancelOutcome::NotFound`], with
    /// nothing changed, when it is another front's.
    pub async fn cancel(&self, run_id: &str) -> StoreResult<CancelOutcome> {
        if !self.holds(run_id).await? {
            return Ok(CancelOutcome::NotFound);
        }
        self.store.cancel_run(run_id).await
    }

    /// Lines of run `run_id`'s log (see [`Store::read_log`]); `None` when the run does not
    /// exist or is another front's.
    pub async fn read_log(
        &self,
        run_id: &str,
        task: Option<u32>,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Option<Vec<LogLine>>> {
        if !self.holds(run_id).await? {
            return Ok(None);
        }
        self.store
            .read_log(run_id, task, after, limit)
            .await
            .map(Some)
    }
}

//! How far runs have got: their steps and how many succeeded, from the two counters every run
//! keeps (`ntasks`, written at creation, and `done`, counted by the script that records a
//! success, the only place a task succeeds), for lists that show progress without reading
//! every task.

use crate::store::{Store, StoreResult};

/// A run's steps and how many of them succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunProgress {
    /// Tasks that succeeded (hooks included, for a workflow with hooks).
    pub done: usize,
    /// Tasks of the run.
    pub steps: usize,
}

impl Store {
    /// The progress of each run of `run_ids`, in order, in one round trip; `None` for a run
    /// that no longer exists.
    pub async fn run_progress(&self, run_ids: &[String]) -> StoreResult<Vec<Option<RunProgress>>> {
        let counters: Vec<(Option<usize>, Option<usize>)> =
            self.run_fields(run_ids, &["ntasks", "done"]).await?;
        Ok(counters
            .into_iter()
            .map(|(steps, done)| {
                steps.map(|steps| RunProgress {
                    done: done.unwrap_or(0),
                    steps,
                })
            })
            .collect())
    }
}

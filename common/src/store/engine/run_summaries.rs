//! Runs as lists show them: the run-level fields of each run's hash, read with one `HMGET`
//! per run in one pipelined round trip, without the tasks' fields (a run hash holds a dozen
//! run fields and several per task; a list shows none of the tasks').

use std::collections::HashMap;

use super::runs::{RunView, parse_run};
use crate::store::{Store, StoreResult};

/// The run-level fields a listed run is read with.
const SUMMARY_FIELDS: [&str; 12] = [
    "id",
    "definition",
    "kind",
    "status",
    "created",
    "updated",
    "finished",
    "payload",
    "periodic",
    "queue",
    "priority",
    "not_before",
];

impl Store {
    /// The runs of `run_ids` without their tasks (`tasks` is empty), in order, in one round
    /// trip, skipping those that no longer exist: what a list of runs shows.
    pub async fn get_run_summaries(&self, run_ids: &[String]) -> StoreResult<Vec<RunView>> {
        if run_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in run_ids {
            pipe.cmd("HMGET")
                .arg(self.keys.run(id))
                .arg(&SUMMARY_FIELDS[..]);
        }
        let mut conn = self.conn().await?;
        let all: Vec<Vec<Option<String>>> = pipe.query_async(&mut conn).await?;
        all.into_iter()
            // A run that expired or was deleted has no `id` any more.
            .filter(|values| values.first().is_some_and(Option::is_some))
            .map(|values| {
                let fields: HashMap<String, String> = SUMMARY_FIELDS
                    .iter()
                    .zip(values)
                    .filter_map(|(name, value)| value.map(|value| ((*name).to_owned(), value)))
                    .collect();
                parse_run(&fields)
            })
            .collect()
    }
}

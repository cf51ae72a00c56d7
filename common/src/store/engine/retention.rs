//! Keeping only the newest runs of a definition (Director's `retention.offset`): older
//! finished runs are deleted with their logs and index entries; active ones stay.

use super::run_index::RunQuery;
use crate::engine::model::RunKind;
use crate::scripts;
use crate::store::{Store, StoreResult};

/// Most runs looked at per call: a definition far over its retention is trimmed over several.
const RETENTION_BATCH: usize = 500;

impl Store {
    /// Deletes the finished runs of workflow definition `definition` beyond its `keep` newest
    /// runs (at most one page of them per call); returns how many were deleted.
    pub async fn enforce_retention(&self, definition: &str, keep: u64) -> StoreResult<usize> {
        let query = RunQuery {
            definitions: vec![definition.to_owned()],
            offset: usize::try_from(keep).unwrap_or(usize::MAX),
            ..RunQuery::new(RunKind::Workflow, RETENTION_BATCH)
        };
        let page = self.list_runs(&query).await?;
        let mut deleted = 0;
        let mut conn = self.conn().await?;
        for run in page.runs.iter().filter(|run| run.status.is_finished()) {
            let shard = self.keys.shard_of(&run.id);
            let mut invocation = scripts::DELETE_FINISHED_RUN.prepare_invoke();
            invocation
                .key(self.keys.run(&run.id))
                .key(self.keys.run_log(&run.id))
                .key(self.keys.definition_index(shard, run.kind, &run.definition));
            for index in self.keys.status_indexes(shard, run.kind) {
                invocation.key(index);
            }
            let removed: u32 = invocation.arg(&run.id).invoke_async(&mut conn).await?;
            self.run_facts.forget(&run.id);
            deleted += removed as usize;
        }
        Ok(deleted)
    }
}

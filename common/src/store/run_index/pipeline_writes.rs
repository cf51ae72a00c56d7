//! Index entries written from Rust for runs created and finished through pipelines of
//! commands, on each run's shard. The run creation and finish scripts write the same entries
//! themselves; this module goes once every run is created and finished by them.

use std::collections::HashSet;

use crate::model::RunKind;
use crate::store::{Store, StoreResult};

impl Store {
    /// Adds to `pipe` the index entries of new runs `(id, kind, definition)` created at `now`,
    /// on each run's shard: by kind, by definition and active. `NX`: an existing run keeps its
    /// entries.
    pub(crate) fn index_new_runs<'a>(
        &self,
        pipe: &mut redis::Pipeline,
        runs: impl IntoIterator<Item = (&'a str, RunKind, &'a str)>,
        now: u64,
    ) {
        let mut named = HashSet::new();
        for (id, kind, definition) in runs {
            let shard = self.keys.shard_of(id);
            pipe.cmd("ZADD")
                .arg(self.keys.kind_index(shard, kind))
                .arg("NX")
                .arg(now)
                .arg(id)
                .ignore();
            pipe.cmd("ZADD")
                .arg(self.keys.definition_index(shard, kind, definition))
                .arg("NX")
                .arg(now)
                .arg(id)
                .ignore();
            // Once per definition and shard of the batch.
            if named.insert((shard, kind, definition)) {
                pipe.cmd("SADD")
                    .arg(self.keys.definitions_of_kind(shard, kind))
                    .arg(definition)
                    .ignore();
            }
            pipe.cmd("ZADD")
                .arg(self.keys.active_index(shard, kind))
                .arg("NX")
                .arg(now)
                .arg(id)
                .ignore();
        }
    }

    /// Moves runs a worker has just seen finish from their shard's active index to their
    /// status's, and nothing more: unlike [`Store::reindex_runs`], it leaves the kind's and
    /// definition's entries (written at creation) and the other statuses' (cleared when a run
    /// is reopened) alone, so the hot path pays two commands a run, all in one round trip.
    /// Each run is added to its status's index before it leaves the active one; whatever a
    /// crash leaves half done, the healer and the readers mend.
    pub(crate) async fn index_finished_runs(&self, run_ids: &[String]) -> StoreResult<()> {
        let found = self.indexed_runs(run_ids).await?;
        let mut pipe = redis::pipe();
        for (id, indexed) in run_ids.iter().zip(&found) {
            let Some(indexed) = indexed.as_ref().filter(|found| found.status.is_finished()) else {
                continue;
            };
            let shard = self.keys.shard_of(id);
            pipe.cmd("ZADD")
                .arg(
                    self.keys
                        .finished_index(shard, indexed.kind, indexed.status),
                )
                .arg(indexed.created_ms)
                .arg(id)
                .ignore();
            pipe.cmd("ZREM")
                .arg(self.keys.active_index(shard, indexed.kind))
                .arg(id)
                .ignore();
        }
        if !pipe.is_empty() {
            let mut conn = self.conn().await?;
            self.query_pipeline::<()>(&mut conn, &pipe).await?;
        }
        Ok(())
    }
}

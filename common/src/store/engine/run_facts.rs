//! What never changes of a run once it is created (its definition, kind, creation time,
//! payload and periodic flag), kept in memory by each process that lists runs, so that a list
//! reads of a run it has shown before only what changes: its status and times.
//!
//! Nothing here is ever invalidated, because nothing here is ever rewritten: those fields are
//! written once, by the script that creates the run. A run deleted and made again under the
//! same id (an id its creator chose) is told apart by its creation time, which every read of
//! the changing fields brings back and checks. The cache is bounded by the bytes it holds and
//! forgets the least used runs first; each process has its own, so none can be stale for
//! another.
//!
//! Beside the facts it keeps the creation times of runs it has seen ranked, which is what a
//! listing merges the shards' indexes by: a page reads a few more entries of each shard than
//! it shows, and those runs' facts are never read, so without their times every listing of
//! the page would read those windows again with their scores.

use std::sync::Arc;

use serde_json::value::RawValue;

use crate::engine::model::RunKind;

/// Most bytes of run facts one process keeps (about 200,000 runs with small payloads).
const CAPACITY_BYTES: u64 = 64 * 1024 * 1024;
/// Runs the cache expects to hold, to size its tables.
const EXPECTED_RUNS: usize = 100_000;
/// Bytes an entry costs beyond its text: the key's and value's headers, the table's slot.
const ENTRY_OVERHEAD_BYTES: u64 = 128;
/// Most creation times one process keeps (about 100 bytes each).
const CREATION_TIMES: u64 = 400_000;

/// The fields of a run that never change after it is created.
#[derive(Debug)]
pub(crate) struct FixedFacts {
    /// Definition it was made from.
    pub(crate) definition: String,
    /// The front it belongs to.
    pub(crate) kind: RunKind,
    /// Creation time (Unix ms).
    pub(crate) created_ms: u64,
    /// Its payload, as stored.
    pub(crate) payload: Box<RawValue>,
    /// True when fired by the scheduler.
    pub(crate) periodic: bool,
}

/// Weighs an entry by the bytes it holds.
#[derive(Debug, Clone, Copy)]
struct ByBytes;

impl quick_cache::Weighter<String, Arc<FixedFacts>> for ByBytes {
    fn weight(&self, id: &String, facts: &Arc<FixedFacts>) -> u64 {
        (id.len() + facts.definition.len() + facts.payload.get().len()) as u64
            + ENTRY_OVERHEAD_BYTES
    }
}

/// The fixed facts of the runs this process listed, by run id.
#[derive(Clone)]
pub(crate) struct RunFactsCache {
    runs: Arc<quick_cache::sync::Cache<String, Arc<FixedFacts>, ByBytes>>,
    /// Creation times (Unix ms) by run id: of every run in `runs`, and of runs seen in an
    /// index read with its scores.
    created: Arc<quick_cache::sync::Cache<String, u64>>,
}

impl std::fmt::Debug for RunFactsCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunFactsCache")
            .field("runs", &self.runs.len())
            .field("created", &self.created.len())
            .finish()
    }
}

impl Default for RunFactsCache {
    fn default() -> Self {
        Self {
            runs: Arc::new(quick_cache::sync::Cache::with_weighter(
                EXPECTED_RUNS,
                CAPACITY_BYTES,
                ByBytes,
            )),
            created: Arc::new(quick_cache::sync::Cache::new(CREATION_TIMES as usize)),
        }
    }
}

impl RunFactsCache {
    /// The facts of run `id`, when this process has read them.
    pub(crate) fn get(&self, id: &str) -> Option<Arc<FixedFacts>> {
        self.runs.get(id)
    }

    /// The creation time (Unix ms) of run `id`, when this process knows it.
    pub(crate) fn created_ms(&self, id: &str) -> Option<u64> {
        self.created.get(id)
    }

    /// Keeps the facts of run `id`.
    pub(crate) fn insert(&self, id: &str, facts: Arc<FixedFacts>) {
        self.created.insert(id.to_owned(), facts.created_ms);
        self.runs.insert(id.to_owned(), facts);
    }

    /// Keeps the creation time of run `id`, as an index scores it.
    pub(crate) fn remember_created(&self, id: &str, created_ms: u64) {
        self.created.insert(id.to_owned(), created_ms);
    }

    /// Forgets run `id` (it is gone, or was made again).
    pub(crate) fn forget(&self, id: &str) {
        self.runs.remove(id);
        self.created.remove(id);
    }
}

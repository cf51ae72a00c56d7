//! Where a queued job's bytes go: Redis's `MEMORY USAGE` of the keys a backlog of one-task runs
//! fills, per job, so that `redis_bytes_per_queued_job` can be read by structure. Run hashes are
//! measured on an even sample of the backlog; every shard's run indexes and job streams whole.
//! On a single server (or the master Sentinel names) only: a cluster spreads the keys over
//! nodes the store's connection would have to route `MEMORY USAGE` to one by one.

use common::engine::model::{Priority, QueueName, RunKind};
use common::keys::Shard;
use common::store::Store;
use serde::Serialize;

use super::BenchResult;

/// Run hashes measured, at most, evenly spread over the backlog.
const RUN_SAMPLE: usize = 200;

/// Bytes per queued job held by each structure a backlog of one-task runs fills.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct QueuedMemory {
    /// The run's hash (its fields and its tasks').
    pub run_hash: f64,
    /// Its entry in the index of unfinished runs.
    pub active_index: f64,
    /// Its entry in its definition's index.
    pub definition_index: f64,
    /// Its job in the queue's stream.
    pub stream: f64,
}

impl QueuedMemory {
    /// The bytes per job the structures account for, in all.
    pub fn total(&self) -> f64 {
        self.run_hash + self.active_index + self.definition_index + self.stream
    }
}

/// Measures the structures of the backlog `ids` (runs of workflow definition `definition`,
/// each with one job waiting in `queue` at normal priority).
pub async fn measure(
    store: &Store,
    ids: &[String],
    definition: &str,
    queue: &QueueName,
) -> BenchResult<QueuedMemory> {
    if ids.is_empty() {
        return Ok(QueuedMemory::default());
    }
    let keys = store.keys();
    let step = ids.len().div_ceil(RUN_SAMPLE).max(1);
    let sample: Vec<String> = ids.iter().step_by(step).map(|id| keys.run(id)).collect();
    let jobs = ids.len() as f64;
    let per_job = async |key: &dyn Fn(Shard) -> String| -> BenchResult<f64> {
        let names: Vec<String> = keys.shards().map(key).collect();
        Ok(memory_usage(store, &names).await? as f64 / jobs)
    };
    let kind = RunKind::Workflow;
    Ok(QueuedMemory {
        run_hash: memory_usage(store, &sample).await? as f64 / sample.len() as f64,
        active_index: per_job(&|shard| keys.active_index(shard, kind)).await?,
        definition_index: per_job(&|shard| keys.definition_index(shard, kind, definition)).await?,
        stream: per_job(&|shard| keys.stream(shard, queue, Priority::Normal)).await?,
    })
}

/// The bytes Redis holds for the keys `names` in all (`MEMORY USAGE ... SAMPLES 0`: every
/// element counted), in one pipelined round trip; a missing key counts 0.
async fn memory_usage(store: &Store, names: &[String]) -> BenchResult<u64> {
    let mut pipe = redis::pipe();
    for name in names {
        pipe.cmd("MEMORY")
            .arg("USAGE")
            .arg(name)
            .arg("SAMPLES")
            .arg(0);
    }
    let mut conn = store.conn().await?;
    let sizes: Vec<Option<u64>> = pipe.query_async(&mut conn).await?;
    Ok(sizes.into_iter().flatten().sum())
}

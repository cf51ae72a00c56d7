//! The benchmark's runs: connecting the store, the one-task runs it creates (`noop` and the
//! worker's built-in `probe`), creating them in chunks, and reading back what they recorded.

use std::time::{SystemTime, UNIX_EPOCH};

use common::config::StoreOptions;
use common::engine::model::RunSpec;
use common::store::Store;
use common::store::engine::runs::RunView;
use serde_json::{Value, json};

use super::BenchResult;

/// The queue every benchmark run goes to.
pub const QUEUE: &str = "default";
/// The definition of the benchmark's no-op runs.
pub const NOOP_DEFINITION: &str = "bench.noop";
/// Seconds finished runs are kept: short, so a shared Redis is not left holding them.
pub const RETENTION_SECS: u64 = 600;
/// Runs read back per `get_runs` / `run_statuses` call.
const READ_CHUNK: usize = 1000;

/// Connects a store to `url` under `prefix`.
pub async fn connect(url: &str, prefix: &str) -> BenchResult<Store> {
    Ok(Store::connect(&StoreOptions {
        redis_url: url.to_owned(),
        prefix: prefix.to_owned(),
        retention_secs: RETENTION_SECS,
        shards: shards_from_env(),
        list_cache_runs: common::config::DEFAULT_LIST_CACHE_RUNS,
        tls: Default::default(),
        replication: Default::default(),
    })
    .await?)
}

/// The shard count: `BATON_SHARDS` when set (the workers inherit it), else the default.
pub fn shards_from_env() -> u16 {
    std::env::var("BATON_SHARDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(common::keys::DEFAULT_SHARDS)
}

/// A fresh key prefix, such as `bench-1a2b3c4d`.
pub fn fresh_prefix() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("bench-{}", &id[..8])
}

/// A one-task run whose task runs the built-in `noop` handler.
pub fn noop_run() -> RunSpec {
    run_with(NOOP_DEFINITION, "noop", Value::Null)
}

/// A one-task run whose task runs the worker's built-in `probe` handler, carrying
/// `enqueued_us`: the probe's result is the time from then to the start of the task.
pub fn probe_run(enqueued_us: u64) -> RunSpec {
    run_with(
        "bench.probe",
        "probe",
        json!({ "enqueued_us": enqueued_us }),
    )
}

/// A one-task run of definition `definition` whose task calls handler `handler`.
pub fn run_with(definition: &str, handler: &str, payload: Value) -> RunSpec {
    crate::runs::one_task_run(
        definition,
        handler,
        json!({ "type": "handler", "name": handler }),
        payload,
    )
}

/// Microseconds since the Unix epoch (`SystemTime`, the clock the worker's probe reads too).
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_micros() as u64)
}

/// Creates `count` no-op runs through `create_runs`, `chunk` at a time; returns their ids.
pub async fn create_noop_runs(store: &Store, count: u64, chunk: u64) -> BenchResult<Vec<String>> {
    let template = noop_run();
    let mut ids = Vec::with_capacity(count as usize);
    let mut first = 0;
    while first < count {
        let size = chunk.min(count - first) as usize;
        ids.extend(store.create_runs(&vec![template.clone(); size]).await?);
        first += size as u64;
    }
    Ok(ids)
}

/// How many of the runs `ids` have succeeded, read from their statuses in chunks.
pub async fn count_succeeded(store: &Store, ids: &[String]) -> BenchResult<u64> {
    let mut succeeded = 0;
    for chunk in ids.chunks(READ_CHUNK) {
        succeeded += store
            .run_statuses(chunk)
            .await?
            .into_iter()
            .filter(|status| *status == Some(common::engine::model::RunStatus::Success))
            .count() as u64;
    }
    Ok(succeeded)
}

/// Reads the runs `ids` in chunks (those that no longer exist are skipped).
pub async fn read_runs(store: &Store, ids: &[String]) -> BenchResult<Vec<RunView>> {
    let mut runs = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(READ_CHUNK) {
        runs.extend(store.get_runs(chunk).await?);
    }
    Ok(runs)
}

/// The `enqueued_us` a probe run carries in its payload.
pub fn enqueued_us(run: &RunView) -> Option<u64> {
    run.payload["enqueued_us"].as_u64()
}

/// The time a probe run's task waited before it started, as the probe recorded it (µs).
pub fn waited_us(run: &RunView) -> Option<u64> {
    run.tasks.first()?.result.as_ref()?["waited_us"].as_u64()
}

/// From a probe run's `enqueued_us` to its task's finish (µs; the finish is stored in whole
/// milliseconds, so this may read up to 1 ms short, and never below 0).
pub fn completed_after_us(run: &RunView) -> Option<u64> {
    let finished_us = run.tasks.first()?.finished_ms? * 1000;
    Some(finished_us.saturating_sub(enqueued_us(run)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_valid() {
        assert!(noop_run().validate().is_ok());
        assert!(probe_run(now_us()).validate().is_ok());
    }

    #[test]
    fn probe_runs_carry_their_enqueue_time_to_the_probe() {
        let spec = probe_run(1234);
        assert_eq!(spec.payload["enqueued_us"], 1234);
        assert_eq!(spec.tasks[0].executor["name"], "probe");
    }

    #[test]
    fn fresh_prefixes_differ() {
        assert_ne!(fresh_prefix(), fresh_prefix());
    }
}

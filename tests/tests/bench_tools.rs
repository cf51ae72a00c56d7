//! The benchmark's own measuring tools, against a real `redis-server`: what they report must
//! be what Redis holds.

use baton_tests::bench::queued_memory;
use baton_tests::bench::redis_info::RedisNodes;
use baton_tests::bench::runs::{NOOP_DEFINITION, QUEUE, create_noop_runs};
use baton_tests::redis_server::RedisServer;
use common::engine::model::QueueName;

/// Backlog measured: enough runs that every shard's indexes leave Redis's compact encodings,
/// as a real backlog's do.
const JOBS: u64 = 4_000;

#[tokio::test]
async fn the_memory_of_a_queued_job_by_structure_accounts_for_what_redis_grew_by() {
    let redis = RedisServer::start();
    let store = redis.store("memory").await;
    let nodes = RedisNodes::connect(&redis.url()).await.unwrap();
    let before = nodes.used_memory().await.unwrap();
    let ids = create_noop_runs(&store, JOBS, 1_000).await.unwrap();
    let grown = nodes.used_memory().await.unwrap().saturating_sub(before) as f64 / JOBS as f64;

    let queue = QueueName::parse(QUEUE).unwrap();
    let memory = queued_memory::measure(&store, &ids, NOOP_DEFINITION, &queue)
        .await
        .unwrap();
    for (structure, bytes) in [
        ("run hash", memory.run_hash),
        ("index of active runs", memory.active_index),
        ("definition index", memory.definition_index),
        ("stream", memory.stream),
    ] {
        assert!(
            bytes > 8.0,
            "{structure}: {bytes} bytes per job in {memory:?}"
        );
    }
    // The structures are most of what a queued job takes; the rest is the shards' few
    // counters and sets, and the allocator's slack.
    assert!(
        memory.total() > 0.75 * grown && memory.total() < 1.1 * grown,
        "{} bytes per job by structure, used_memory grew by {grown} per job",
        memory.total()
    );

    let none = queued_memory::measure(&store, &[], NOOP_DEFINITION, &queue)
        .await
        .unwrap();
    assert_eq!(none.total(), 0.0);
}

/// `scripts/bench-bounds` measures the engine's scripts cut down by its patches: each build's
/// patches must still apply to the scripts as they are, or its figures would no longer be
/// measured against this engine.
#[test]
fn every_cut_down_build_of_bench_bounds_applies_to_the_scripts() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate is in the workspace");
    let output = std::process::Command::new("bash")
        .arg(root.join("scripts/bench-bounds"))
        .arg("--check")
        .current_dir(root)
        .output()
        .expect("bash runs");
    assert!(
        output.status.success(),
        "scripts/bench-bounds --check: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("every build's patches apply"));
}

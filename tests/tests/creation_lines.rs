//! Creations of one shard taken in turns: those that arrive while a call of their shard is on
//! its way go together in its next call, each run with its own caller's creation time; a
//! failed call fails each creation it carried, and a caller that gives up frees the line.
//! Real `redis-server`, driven through the `common` store.

use std::time::Duration;

use baton_tests::TestApp;
use common::engine::model::{Priority, QueueName, RunKind, RunSpec, TaskSpec};
use common::error::StoreError;
use common::keys::Keys;
use common::store::Store;
use serde_json::json;

/// A one-task run of `example.grouped` with id `id` and payload `{"n": n}`.
fn run(id: &str, n: usize) -> RunSpec {
    RunSpec {
        id: Some(id.to_owned()),
        ..RunSpec::one_task(
            "example.grouped",
            "A",
            json!({"type": "handler", "name": "noop"}),
            json!({ "n": n }),
        )
    }
}

/// `count` run ids `{prefix}-N` on the shard of `{prefix}-0`.
fn ids_on_one_shard(keys: &Keys, prefix: &str, count: usize) -> Vec<String> {
    let shard = keys.shard_of(&format!("{prefix}-0"));
    (0..)
        .map(|i| format!("{prefix}-{i}"))
        .filter(|id| keys.shard_of(id) == shard)
        .take(count)
        .collect()
}

/// Calls of scripts (`EVALSHA`) Redis ran since its counters were last reset.
async fn script_calls(conn: &mut impl redis::aio::ConnectionLike) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await
        .unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix("cmdstat_evalsha:calls="))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |calls| calls.parse().unwrap())
}

async fn reset_counters(conn: &mut impl redis::aio::ConnectionLike) {
    redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async::<()>(conn)
        .await
        .unwrap();
}

/// A store whose default queue is known already (so creations go straight to their line).
async fn store_with_queue(app: &TestApp) -> Store {
    let store = app.store().await;
    store.ensure_queue(&QueueName::default()).await.unwrap();
    store
}

#[tokio::test]
async fn creations_arriving_together_go_in_few_calls_each_run_with_its_own_time() {
    let app = TestApp::builder().api(false).spawn().await;
    let store = store_with_queue(&app).await;
    let keys = store.keys().clone();
    let ids = ids_on_one_shard(&keys, "grouped", 64);
    let shard = keys.shard_of(&ids[0]);
    let mut conn = app.redis_connection().await;
    reset_counters(&mut conn).await;

    // 64 callers, one run each, each with its own creation time, all at once.
    let base = 1_800_000_000_000u64;
    let mut callers = tokio::task::JoinSet::new();
    for (n, id) in ids.iter().enumerate() {
        let (store, spec) = (store.clone(), run(id, n));
        callers.spawn(async move { (n, store.create_runs_at(&[spec], base + n as u64).await) });
    }
    while let Some(joined) = callers.join_next().await {
        let (n, created) = joined.unwrap();
        assert_eq!(created.unwrap(), vec![ids[n].clone()]);
    }
    let calls = script_calls(&mut conn).await;
    assert!(
        calls < 8,
        "64 creations of one shard arriving together took {calls} calls"
    );

    for (n, id) in ids.iter().enumerate() {
        let stored = store.get_run(id).await.unwrap().unwrap();
        assert_eq!(
            stored.created_ms,
            base + n as u64,
            "{id}: its own caller's time"
        );
        assert_eq!(stored.payload, json!({ "n": n }), "{id}");
        let score: Option<u64> = redis::cmd("ZSCORE")
            .arg(keys.active_index(shard, RunKind::Workflow))
            .arg(id)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(score, Some(base + n as u64), "{id}: indexed at its time");
    }
    let queued: u64 = redis::cmd("XLEN")
        .arg(keys.stream(shard, &QueueName::default(), Priority::Normal))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(queued, 64, "one first job per run");
}

#[tokio::test]
async fn a_failed_call_fails_every_creation_it_carried_and_the_line_goes_on() {
    let app = TestApp::builder().api(false).spawn().await;
    let store = store_with_queue(&app).await;
    let ids = ids_on_one_shard(store.keys(), "refused", 17);
    let mut conn = app.redis_connection().await;
    // Redis refuses every write while it is over its memory limit.
    let set_maxmemory = |bytes: &str| {
        redis::cmd("CONFIG")
            .arg("SET")
            .arg("maxmemory")
            .arg(bytes)
            .clone()
    };
    set_maxmemory("1")
        .query_async::<()>(&mut conn)
        .await
        .unwrap();

    let mut callers = tokio::task::JoinSet::new();
    for (n, id) in ids[..16].iter().enumerate() {
        let (store, spec) = (store.clone(), run(id, n));
        callers.spawn(async move { store.create_run(&spec).await });
    }
    let mut failed = 0;
    while let Some(joined) = callers.join_next().await {
        let error = joined.unwrap().unwrap_err();
        assert!(
            matches!(&error, StoreError::Redis(cause) if cause.to_string().contains("OOM")),
            "{error:?}"
        );
        failed += 1;
    }
    assert_eq!(failed, 16, "every caller heard of the failure");

    set_maxmemory("0")
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    for id in &ids[..16] {
        assert!(
            store.get_run(id).await.unwrap().is_none(),
            "{id} was not written"
        );
    }
    let created =
        tokio::time::timeout(Duration::from_secs(5), store.create_run(&run(&ids[16], 16)))
            .await
            .expect("the shard's line is free again")
            .unwrap();
    assert_eq!(created, ids[16]);
}

#[tokio::test]
async fn a_caller_that_gives_up_during_its_call_hands_the_turn_to_those_waiting() {
    let app = TestApp::builder().api(false).spawn().await;
    let store = store_with_queue(&app).await;
    let ids = ids_on_one_shard(store.keys(), "abandoned", 3);

    // The first caller sends its call and is dropped before the reply.
    let first_spec = run(&ids[0], 0);
    let mut first = Box::pin(store.create_run(&first_spec));
    tokio::select! {
        biased;
        _ = &mut first => panic!("the call cannot have been answered yet"),
        _ = std::future::ready(()) => {}
    }
    // The second finds the line busy and waits for the next call.
    let second = tokio::spawn({
        let (store, spec) = (store.clone(), run(&ids[1], 1));
        async move { store.create_run(&spec).await }
    });
    tokio::task::yield_now().await;
    drop(first);

    let created = tokio::time::timeout(Duration::from_secs(5), second)
        .await
        .expect("the waiting creation was made")
        .unwrap()
        .unwrap();
    assert_eq!(created, ids[1]);
    assert!(store.get_run(&ids[1]).await.unwrap().is_some());
    let third = tokio::time::timeout(Duration::from_secs(5), store.create_run(&run(&ids[2], 2)))
        .await
        .expect("the line is free afterwards")
        .unwrap();
    assert_eq!(third, ids[2]);
}

/// A run spec with a task on another queue still declares that queue to the grouped call.
#[tokio::test]
async fn grouped_creations_declare_every_queue_their_runs_use() {
    let app = TestApp::builder().api(false).spawn().await;
    let store = store_with_queue(&app).await;
    let keys = store.keys().clone();
    let ids = ids_on_one_shard(&keys, "queues", 8);
    let shard = keys.shard_of(&ids[0]);
    let other = QueueName::parse("grouped-other").unwrap();

    let mut callers = tokio::task::JoinSet::new();
    for (n, id) in ids.iter().enumerate() {
        let mut spec = run(id, n);
        if n % 2 == 1 {
            spec.tasks = vec![TaskSpec {
                queue: Some(other.clone()),
                ..spec.tasks[0].clone()
            }];
        }
        let store = store.clone();
        callers.spawn(async move { store.create_run(&spec).await });
    }
    while let Some(joined) = callers.join_next().await {
        joined.unwrap().unwrap();
    }
    let mut conn = app.redis_connection().await;
    for (queue, expected) in [(QueueName::default(), 4u64), (other, 4)] {
        let queued: u64 = redis::cmd("XLEN")
            .arg(keys.stream(shard, &queue, Priority::Normal))
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(queued, expected, "{queue}");
    }
}

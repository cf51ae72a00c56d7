//! A worker's attempts in flight, against a real `redis-server`: jobs read from two shards'
//! streams under the same entry id are each stopped by their own run's cancel.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use baton_tests::in_process_worker::spawn_worker;
use baton_tests::redis_server::RedisServer;
use baton_tests::runs::handler_run;
use baton_tests::unique_prefix;
use baton_tests::wait::wait_for;
use clap::Parser;
use common::engine::model::{Priority, QueueName, RunSpec, RunStatus};
use common::store::Store;
use serde_json::json;
use worker::{HandlerRegistry, TaskError, WorkerOptions};

/// A run with id `id` of one task calling `handler`, on queue `inflight`.
fn run_of(id: &str, handler: &str) -> RunSpec {
    RunSpec {
        id: Some(id.to_owned()),
        queue: QueueName::parse("inflight").unwrap(),
        ..handler_run("p.INFLIGHT", handler, json!({}))
    }
}

/// The entry id of run `id`'s job on its shard's stream.
async fn entry_of(redis: &RedisServer, store: &Store, id: &str) -> String {
    let keys = store.keys();
    let stream = keys.stream(
        keys.shard_of(id),
        &QueueName::parse("inflight").unwrap(),
        Priority::Normal,
    );
    let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg(&stream)
        .arg("-")
        .arg("+")
        .query_async(&mut redis.connection().await)
        .await
        .unwrap();
    let (entry, _) = entries
        .into_iter()
        .find(|(_, fields)| {
            fields
                .iter()
                .any(|(name, value)| name == "r" && value == id)
        })
        .expect("the run's job");
    entry
}

#[tokio::test]
async fn a_cancel_reaches_a_job_whose_entry_id_another_shards_job_shares() {
    let redis = RedisServer::start();
    let prefix = unique_prefix();
    let store = redis.store(&prefix).await;
    // Two runs on two shards created in one call, again until their jobs' entry ids are the
    // same (each shard's stream numbers its entries by the clock: same millisecond, same id).
    let mut pair = None;
    for attempt in 0..50 {
        let failing = format!("failing-{attempt}");
        let slow = (0..)
            .map(|n| format!("slow-{attempt}-{n}"))
            .find(|id| store.keys().shard_of(id) != store.keys().shard_of(&failing))
            .unwrap();
        store
            .create_runs(&[run_of(&failing, "fail"), run_of(&slow, "slow")])
            .await
            .unwrap();
        if entry_of(&redis, &store, &failing).await == entry_of(&redis, &store, &slow).await {
            pair = Some((failing, slow));
            break;
        }
    }
    let (failing, slow) = pair.expect("two jobs on two shards under one entry id");

    let stopped = Arc::new(AtomicBool::new(false));
    let mut handlers = HandlerRegistry::new();
    handlers.register("fail", |_ctx| async move {
        Err(TaskError::Invalid("broken on purpose".into()))
    });
    let told = Arc::clone(&stopped);
    let waiting = slow.clone();
    handlers.register("slow", move |ctx| {
        let told = Arc::clone(&told);
        let waits = ctx.run_id == waiting;
        async move {
            // Only the chosen run's task waits; those of earlier tries end at once.
            if waits {
                ctx.cancel.cancelled().await;
                told.store(true, Ordering::SeqCst);
            }
            Err(TaskError::Interrupted)
        }
    });
    let options = WorkerOptions::parse_from([
        "worker",
        "--redis-url",
        &redis.url(),
        "--prefix",
        &prefix,
        "--queues",
        "inflight",
        "--block-ms",
        "100",
    ]);
    let (shutdown, worker) = spawn_worker(options, handlers).await;
    wait_for(
        Duration::from_secs(10),
        "one run failed while the other runs",
        || async {
            let runs = store
                .get_run_summaries(&[failing.clone(), slow.clone()])
                .await
                .unwrap();
            (runs[0].status == RunStatus::Error && runs[1].status == RunStatus::Progress)
                .then_some(())
        },
    )
    .await;
    // The failed job's end must not have taken the running one out of the worker's attempts.
    store.cancel_run(&slow).await.unwrap();
    wait_for(
        Duration::from_secs(10),
        "the cancel reached the task",
        || async { stopped.load(Ordering::SeqCst).then_some(()) },
    )
    .await;
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), worker)
        .await
        .expect("the worker stops")
        .unwrap()
        .unwrap();
}

//! End-to-end tests of a worker embedded as a library, with Rust handlers, against a real
//! `redis-server`.

use std::sync::Arc;
use std::time::Duration;

use baton_tests::in_process_worker::spawn_worker;
use baton_tests::redis_server::RedisServer;
use baton_tests::runs;
use baton_tests::unique_prefix;
use baton_tests::wait::wait_for;
use clap::Parser;
use common::config::StoreOptions;
use common::engine::model::{RunKind, RunSpec, RunStatus, TaskStatus};
use common::store::Store;
use serde_json::json;
use tokio::sync::Notify;
use worker::{HandlerRegistry, WorkerOptions};

fn options(redis: &RedisServer, prefix: &str, retention_secs: u64) -> WorkerOptions {
    WorkerOptions::parse_from([
        "worker",
        "--redis-url",
        &redis.url(),
        "--prefix",
        prefix,
        "--retention-secs",
        &retention_secs.to_string(),
        "--block-ms",
        "100",
    ])
}

fn handler_run(handler: &str) -> RunSpec {
    runs::handler_run("test.embedded", handler, json!({"n": 7}))
}

async fn store_for(options: &WorkerOptions) -> Store {
    Store::connect(&StoreOptions {
        redis_url: options.store.redis_url.clone(),
        prefix: options.store.prefix.clone(),
        retention_secs: options.store.retention_secs,
        shards: options.store.shards,
        list_cache_runs: options.store.list_cache_runs,
        tls: options.store.tls.clone(),
        replication: Default::default(),
    })
    .await
    .expect("store connects")
}

#[tokio::test]
async fn a_rust_handler_reports_progress_while_it_runs_and_its_result_is_stored() {
    let redis = RedisServer::start();
    let options = options(&redis, &unique_prefix(), 3600);
    let store = store_for(&options).await;
    let release = Arc::new(Notify::new());
    let mut handlers = HandlerRegistry::new();
    let gate = Arc::clone(&release);
    handlers.register("halfway", move |ctx| {
        let gate = Arc::clone(&gate);
        async move {
            ctx.progress(40);
            ctx.log("at forty");
            gate.notified().await;
            Ok(Some(
                json!({"doubled": ctx.input["payload"]["n"].as_i64().unwrap_or(0) * 2}),
            ))
        }
    });
    let (shutdown, worker) = spawn_worker(options, handlers).await;

    let id = store.create_run(&handler_run("halfway")).await.unwrap();
    let running = wait_for(
        Duration::from_secs(10),
        "progress 40 is visible",
        || async {
            store
                .get_run(&id)
                .await
                .unwrap()
                .filter(|run| run.tasks[0].progress == 40)
        },
    )
    .await;
    assert_eq!(running.tasks[0].status, TaskStatus::Running);
    assert_eq!(running.status, RunStatus::Progress);
    let log = store.read_log(&id, None, None, 10).await.unwrap();
    assert_eq!(log[0].line, "at forty");

    release.notify_one();
    let done = wait_for(Duration::from_secs(10), "the run succeeds", || async {
        store
            .get_run(&id)
            .await
            .unwrap()
            .filter(|run| run.status == RunStatus::Success)
    })
    .await;
    assert_eq!(done.tasks[0].result, Some(json!({"doubled": 14})));
    assert_eq!(done.tasks[0].progress, 100);
    let workers = store.workers().await.unwrap();
    assert_eq!(workers.len(), 1, "the worker is in the registry");
    assert_eq!(
        workers[0].queues,
        vec!["default".to_owned(), "reports".to_owned()],
        "by default a worker takes workflow tasks and report runs"
    );
    assert_eq!(workers[0].pid, std::process::id());

    shutdown.cancel();
    worker.await.unwrap().unwrap();
}

#[tokio::test]
async fn finished_runs_expire_after_the_retention_and_leave_the_index() {
    let redis = RedisServer::start();
    let options = options(&redis, &unique_prefix(), 1);
    let store = store_for(&options).await;
    let (shutdown, worker) = spawn_worker(options, HandlerRegistry::new()).await;

    let id = store.create_run(&handler_run("noop")).await.unwrap();
    wait_for(Duration::from_secs(10), "the run succeeds", || async {
        store
            .get_run(&id)
            .await
            .unwrap()
            .filter(|run| run.status == RunStatus::Success)
    })
    .await;
    wait_for(Duration::from_secs(5), "the run expires", || async {
        store.get_run(&id).await.unwrap().is_none().then_some(())
    })
    .await;
    // The expired run is listed no more, but its index entry stays until trimmed.
    assert!(store.list_run_ids(0, 10).await.unwrap().is_empty());
    let index = store.keys().finished_index(
        store.keys().shard_of(&id),
        RunKind::Workflow,
        RunStatus::Success,
    );
    let mut conn = store.conn().await.unwrap();
    let score = redis::cmd("ZSCORE").arg(&index).arg(&id).clone();
    let before: Option<f64> = score.query_async(&mut conn).await.unwrap();
    assert!(before.is_some());
    assert_eq!(
        store
            .trim_expired_runs(common::time::now_ms())
            .await
            .unwrap(),
        1
    );
    let after: Option<f64> = score.query_async(&mut conn).await.unwrap();
    assert_eq!(after, None);

    shutdown.cancel();
    worker.await.unwrap().unwrap();
}

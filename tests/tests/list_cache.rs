//! Runs' status and times kept in memory for lists while Redis tracks them, against a real
//! `redis-server`: a page listed again reads no run, a change made by another process shows
//! in the next list begun after it, a dropped tracking connection keeps nothing, lists follow
//! runs changing under them, and a process configured without the cache reads every run.
//! Status indexes known to be empty are not read until one changes.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use baton_tests::bench::redis_info::RedisNodes;
use baton_tests::redis_server::RedisServer;
use baton_tests::runs::handler_run;
use baton_tests::unique_prefix;
use common::config::StoreOptions;
use common::engine::model::{QueueName, RunKind, RunSpec, RunStatus};
use common::store::Store;
use common::store::engine::run_index::{RunPage, RunQuery};
use common::store::tracked_cache::CONNECTION_NAME;
use common::time::now_ms;
use serde_json::json;

/// A run with one handler task.
fn a_run() -> RunSpec {
    RunSpec {
        queue: QueueName::parse("cached").unwrap(),
        ..handler_run("p.CACHED", "noop", json!({}))
    }
}

/// `count` runs, one millisecond apart, newest last.
async fn runs(store: &Store, count: u64) -> Vec<String> {
    let base = now_ms() - 3_600_000;
    let mut ids = Vec::new();
    for index in 0..count {
        ids.extend(
            store
                .create_runs_at(&[a_run()], base + index)
                .await
                .unwrap(),
        );
    }
    ids
}

fn page(limit: usize) -> RunQuery {
    RunQuery::new(RunKind::Workflow, limit)
}

fn statuses(page: &RunPage) -> HashMap<String, (RunStatus, u64)> {
    page.runs
        .iter()
        .map(|run| (run.id.clone(), (run.status, run.updated_ms)))
        .collect()
}

/// Calls of `command` since the last reset.
async fn calls(nodes: &RedisNodes, command: &str) -> u64 {
    let costs = nodes.command_costs().await.unwrap();
    costs.get(command).map_or(0, |cost| cost.calls)
}

/// Writes run `id`'s status copy as the scripts do, with `updated_ms`, keeping its creation
/// time.
async fn rewrite_listed(
    conn: &mut redis::aio::MultiplexedConnection,
    store: &Store,
    id: &str,
    status: &str,
    updated_ms: u64,
) {
    let key = store.keys().run(id);
    let listed: String = redis::cmd("HGET")
        .arg(&key)
        .arg("listed")
        .query_async(conn)
        .await
        .unwrap();
    let created = listed.split(' ').nth(2).unwrap().to_owned();
    let _: () = redis::cmd("HSET")
        .arg(&key)
        .arg("listed")
        .arg(format!("{status} {updated_ms} {created} "))
        .query_async(conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_page_listed_again_reads_no_run_until_one_changes() {
    let redis = RedisServer::start();
    let prefix = unique_prefix();
    let writer = redis.store(&prefix).await;
    let created = runs(&writer, 30).await;
    let lister = redis.store(&prefix).await;
    let first = lister.list_runs(&page(20)).await.unwrap();
    assert_eq!(first.runs.len(), 20);

    let nodes = RedisNodes::connect(&redis.url()).await.unwrap();
    nodes.reset_stats().await.unwrap();
    let again = lister.list_runs(&page(20)).await.unwrap();
    assert_eq!(statuses(&again), statuses(&first));
    assert_eq!(calls(&nodes, "hget").await, 0, "no run read again");
    assert_eq!(calls(&nodes, "hmget").await, 0);
    assert_eq!(
        calls(&nodes, "ping").await,
        3,
        "round trips tell no status index changed before the reads nor after them, and that \
         no run did"
    );

    // Another process cancels the newest run: the next list shows it canceled, reading it
    // alone.
    let newest = created.last().unwrap();
    writer.cancel_run(newest).await.unwrap();
    nodes.reset_stats().await.unwrap();
    let after = lister.list_runs(&page(20)).await.unwrap();
    assert_eq!(after.runs[0].id, *newest);
    assert_eq!(after.runs[0].status, RunStatus::Canceled);
    assert_eq!(
        calls(&nodes, "hget").await,
        1,
        "only the run that changed is read"
    );
    let unchanged: Vec<_> = after.runs[1..].iter().map(|run| run.status).collect();
    assert!(unchanged.iter().all(|status| *status == RunStatus::Pending));

    // Deleted, it leaves the list.
    let mut conn = redis.connection().await;
    let _: () = redis::cmd("DEL")
        .arg(writer.keys().run(newest))
        .query_async(&mut conn)
        .await
        .unwrap();
    let gone = lister.list_runs(&page(20)).await.unwrap();
    assert!(gone.runs.iter().all(|run| run.id != *newest));
}

/// How many of the status indexes of workflow runs (every shard's) hold runs.
async fn status_indexes_holding_runs(
    conn: &mut redis::aio::MultiplexedConnection,
    store: &Store,
) -> u64 {
    let keys = store.keys();
    let mut held = 0;
    for shard in keys.shards() {
        for key in keys.status_indexes(shard, RunKind::Workflow) {
            let exists: u64 = redis::cmd("EXISTS")
                .arg(&key)
                .query_async(conn)
                .await
                .unwrap();
            held += exists;
        }
    }
    held
}

#[tokio::test]
async fn a_list_of_every_run_reads_no_status_index_known_empty_until_it_changes() {
    let redis = RedisServer::start();
    let prefix = unique_prefix();
    let writer = redis.store(&prefix).await;
    let created = runs(&writer, 30).await;
    let lister = redis.store(&prefix).await;
    // A page larger than the runs: each index holding runs is read once, in one window.
    let every_run = RunQuery {
        count: true,
        ..page(100)
    };
    let first = lister.list_runs(&every_run).await.unwrap();
    assert_eq!((first.runs.len(), first.total), (30, Some(30)));

    let mut conn = redis.connection().await;
    let held = status_indexes_holding_runs(&mut conn, &writer).await;
    let shards = u64::from(writer.keys().shard_count());
    assert!(
        (1..=shards).contains(&held),
        "only active indexes hold runs: {held}"
    );
    let nodes = RedisNodes::connect(&redis.url()).await.unwrap();
    nodes.reset_stats().await.unwrap();
    let again = lister.list_runs(&every_run).await.unwrap();
    assert_eq!(statuses(&again), statuses(&first));
    assert_eq!(again.total, Some(30));
    assert_eq!(
        calls(&nodes, "zrange").await,
        held,
        "only the indexes holding runs are read"
    );
    assert_eq!(calls(&nodes, "zcount").await, held);
    assert_eq!(calls(&nodes, "exists").await, 0, "every index's state kept");

    // Another process cancels a run: it moves to its shard's index of canceled runs, known
    // empty until then, and the next list shows it there.
    let canceled = &created[7];
    writer.cancel_run(canceled).await.unwrap();
    let after = lister.list_runs(&every_run).await.unwrap();
    assert_eq!(after.total, Some(30));
    let ids: Vec<&str> = after.runs.iter().map(|run| run.id.as_str()).collect();
    let expected: Vec<&str> = created.iter().rev().map(String::as_str).collect();
    assert_eq!(ids, expected, "every run listed once, newest first");
    let status = after.runs.iter().find(|run| run.id == *canceled).unwrap();
    assert_eq!(status.status, RunStatus::Canceled);
    let canceled_only = lister
        .list_runs(&RunQuery {
            status: Some(RunStatus::Canceled),
            ..every_run.clone()
        })
        .await
        .unwrap();
    assert_eq!(canceled_only.total, Some(1));
}

#[tokio::test]
async fn a_dropped_tracking_connection_keeps_nothing() {
    let redis = RedisServer::start();
    let prefix = unique_prefix();
    let writer = redis.store(&prefix).await;
    let created = runs(&writer, 5).await;
    let lister = redis.store(&prefix).await;
    lister.list_runs(&page(5)).await.unwrap();

    // The tracking connection is dropped; a change made then sends it no invalidation.
    let mut conn = redis.connection().await;
    let clients: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut conn)
        .await
        .unwrap();
    let tracking: Vec<&str> = clients
        .lines()
        .filter(|line| line.contains(&format!("name={CONNECTION_NAME} ")))
        .filter_map(|line| line.split(' ').next()?.strip_prefix("id="))
        .collect();
    assert_eq!(tracking.len(), 1, "one tracking connection: {clients}");
    let _: () = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(tracking[0])
        .query_async(&mut conn)
        .await
        .unwrap();
    let changed = &created[2];
    rewrite_listed(&mut conn, &writer, changed, "error", now_ms()).await;

    let listed = lister.list_runs(&page(5)).await.unwrap();
    let status = listed.runs.iter().find(|run| run.id == *changed).unwrap();
    assert_eq!(status.status, RunStatus::Error);
    // And the cache works again through a new connection.
    let nodes = RedisNodes::connect(&redis.url()).await.unwrap();
    lister.list_runs(&page(5)).await.unwrap();
    nodes.reset_stats().await.unwrap();
    let again = lister.list_runs(&page(5)).await.unwrap();
    assert_eq!(statuses(&again), statuses(&listed));
    assert_eq!(calls(&nodes, "hget").await, 0);
}

#[tokio::test]
async fn lists_show_every_change_finished_before_they_began_while_runs_change_under_them() {
    let redis = RedisServer::start();
    let prefix = unique_prefix();
    let writer = redis.store(&prefix).await;
    let created = runs(&writer, 40).await;
    let lister = redis.store(&prefix).await;
    let first = lister.list_runs(&page(40)).await.unwrap();
    let created_ms: HashMap<String, u64> = first
        .runs
        .iter()
        .map(|run| (run.id.clone(), run.created_ms))
        .collect();

    // The writer rewrites every run's status copy in each round, all in one pipeline, so
    // that its writes land between a list's reads of runs and their replies; `written` is the
    // last round it finished.
    let written = Arc::new(AtomicU64::new(0));
    let rounds = 400u64;
    let writing = {
        let (written, created, keys) =
            (Arc::clone(&written), created.clone(), writer.keys().clone());
        let mut conn = redis.connection().await;
        tokio::spawn(async move {
            for round in 1..=rounds {
                let status = if round % 2 == 0 { "progress" } else { "error" };
                let mut pipe = redis::pipe();
                for id in &created {
                    pipe.cmd("HSET")
                        .arg(keys.run(id))
                        .arg("listed")
                        .arg(format!("{status} {round} {} ", created_ms[id]))
                        .ignore();
                }
                let _: () = pipe.query_async(&mut conn).await.unwrap();
                written.store(round, Ordering::SeqCst);
            }
        })
    };
    let mut readers = Vec::new();
    for _ in 0..3 {
        let (written, lister) = (Arc::clone(&written), lister.clone());
        readers.push(tokio::spawn(async move {
            let mut lists = 0;
            loop {
                let before = written.load(Ordering::SeqCst);
                let listed = lister.list_runs(&page(40)).await.unwrap();
                for run in &listed.runs {
                    assert!(
                        run.updated_ms >= before,
                        "run {} listed as of round {}, after round {before} was written",
                        run.id,
                        run.updated_ms
                    );
                }
                lists += 1;
                if before == rounds {
                    return lists;
                }
            }
        }));
    }
    writing.await.unwrap();
    for reader in readers {
        assert!(reader.await.unwrap() > 1);
    }
    // Once the writes stop, every list is exactly what Redis holds.
    for _ in 0..3 {
        let listed = lister.list_runs(&page(40)).await.unwrap();
        assert_eq!(listed.runs.len(), 40);
        for run in &listed.runs {
            let expected = (RunStatus::Progress, rounds);
            assert_eq!((run.status, run.updated_ms), expected, "run {}", run.id);
        }
    }
}

#[tokio::test]
async fn a_process_without_the_cache_reads_every_run() {
    let redis = RedisServer::start();
    let prefix = unique_prefix();
    let writer = redis.store(&prefix).await;
    runs(&writer, 10).await;
    let lister = Store::connect(&StoreOptions {
        redis_url: redis.url(),
        prefix: prefix.clone(),
        retention_secs: 3600,
        shards: common::keys::DEFAULT_SHARDS,
        list_cache_runs: 0,
        tls: Default::default(),
        replication: Default::default(),
    })
    .await
    .unwrap();
    lister.list_runs(&page(10)).await.unwrap();
    let nodes = RedisNodes::connect(&redis.url()).await.unwrap();
    nodes.reset_stats().await.unwrap();
    lister.list_runs(&page(10)).await.unwrap();
    assert_eq!(calls(&nodes, "hget").await, 10);
    assert_eq!(calls(&nodes, "ping").await, 0);
}

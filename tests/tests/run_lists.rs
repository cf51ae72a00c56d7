//! Filtered run lists read from the run indexes, against a real `redis-server`: filters by
//! definition, status and date, paging past the 50,000 runs a filtered list once scanned at
//! most, pages merged newest first across the shards the runs are spread over, the status
//! index following runs to their end (a batch's creations and outcomes writing every run's
//! entries), healing of lost index updates, expiry, backfill, and the
//! workflow use cases' payload checks.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use baton_tests::bench::redis_info::{CommandCost, RedisNodes};
use baton_tests::in_process_worker;
use baton_tests::process::BatonProcess;
use baton_tests::redis_server::RedisServer;
use baton_tests::runs::handler_run;
use baton_tests::signed_http::{free_port, send_signed, wait_for_health};
use baton_tests::unique_prefix;
use baton_tests::wait::wait_for;
use clap::Parser;
use common::auth::signing::sign::Signer;
use common::config::StoreOptions;
use common::engine::model::{JobRef, Priority, QueueName, RunKind, RunSpec, RunStatus, TaskStatus};
use common::keys::{Keys, Shard};
use common::operations::OperationError;
use common::operations::workflows::{Definitions, cancel_workflow, start_workflow};
use common::store::Store;
use common::store::engine::jobs::{AttemptOutcome, Job, StartOutcome};
use common::store::engine::run_index::{RunPage, RunQuery};
use common::store::engine::run_progress::RunProgress;
use common::time::now_ms;
use common::workflows::load::load_str;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use worker::{HandlerRegistry, TaskError, WorkerOptions};

/// A run of `definition` with one handler task, on the `lists` queue.
fn run_of(definition: &str, handler: &str) -> RunSpec {
    RunSpec {
        queue: QueueName::parse("lists").unwrap(),
        ..handler_run(definition, handler, json!({}))
    }
}

/// A counted query of workflow runs.
fn query(definitions: &[&str], status: Option<RunStatus>, offset: usize, limit: usize) -> RunQuery {
    RunQuery {
        definitions: definitions.iter().map(|d| (*d).to_owned()).collect(),
        status,
        offset,
        count: true,
        ..RunQuery::new(RunKind::Workflow, limit)
    }
}

fn ids(page: &RunPage) -> Vec<String> {
    page.runs.iter().map(|run| run.id.clone()).collect()
}

async fn store_with_retention(redis: &RedisServer, prefix: &str, retention_secs: u64) -> Store {
    Store::connect(&StoreOptions {
        redis_url: redis.url(),
        prefix: prefix.to_owned(),
        retention_secs,
        shards: common::keys::DEFAULT_SHARDS,
        list_cache_runs: common::config::DEFAULT_LIST_CACHE_RUNS,
        tls: Default::default(),
        replication: Default::default(),
    })
    .await
    .expect("the store connects")
}

/// The active index of workflows on the shard of run `id`.
fn active_of(keys: &Keys, id: &str) -> String {
    keys.active_index(keys.shard_of(id), RunKind::Workflow)
}

/// The index of workflows finished with `status` on the shard of run `id`.
fn finished_of(keys: &Keys, id: &str, status: RunStatus) -> String {
    keys.finished_index(keys.shard_of(id), RunKind::Workflow, status)
}

/// The score (creation time) of canceled workflow run `id` in its status index.
async fn canceled_at(redis: &RedisServer, keys: &Keys, id: &str) -> f64 {
    zscore(redis, &finished_of(keys, id, RunStatus::Canceled), id)
        .await
        .expect("the run is in the canceled index")
}

async fn zscore(redis: &RedisServer, key: &str, member: &str) -> Option<f64> {
    let mut conn = redis.connection().await;
    redis::cmd("ZSCORE")
        .arg(key)
        .arg(member)
        .query_async(&mut conn)
        .await
        .unwrap()
}

async fn zcard(redis: &RedisServer, key: &str) -> usize {
    let mut conn = redis.connection().await;
    redis::cmd("ZCARD")
        .arg(key)
        .query_async(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn filtered_pages_past_fifty_thousand_runs_are_read_from_the_indexes() {
    let redis = RedisServer::start();
    let store = redis.store(&unique_prefix()).await;
    let base = now_ms() - 3_600_000;
    // Ten rare runs, the oldest of all, one millisecond apart...
    let mut rare = Vec::new();
    for index in 0..10u64 {
        let id = store
            .create_runs_at(&[run_of("p.RARE", "noop")], base + index)
            .await
            .unwrap();
        rare.extend(id);
    }
    // ... then 60,000 newer runs of another definition, in batches of 2,000 (one ms each).
    let bulk = run_of("p.BULK", "noop");
    for batch in 0..30u64 {
        let specs = vec![bulk.clone(); 2000];
        store
            .create_runs_at(&specs, base + 1000 + batch)
            .await
            .unwrap();
    }
    let newest_first: Vec<String> = rare.iter().rev().cloned().collect();

    let all = store.list_runs(&query(&[], None, 0, 5)).await.unwrap();
    assert_eq!(all.total, Some(60_010));
    assert!(all.has_more);
    // Not asked to count, a listing does not.
    let uncounted = RunQuery {
        count: false,
        ..query(&[], None, 0, 5)
    };
    let uncounted = store.list_runs(&uncounted).await.unwrap();
    assert_eq!(uncounted.total, None);
    assert_eq!(ids(&uncounted), ids(&all));
    let all_rare = store
        .list_runs(&query(&[], None, 60_000, 100))
        .await
        .unwrap();
    assert_eq!(
        ids(&all_rare),
        newest_first,
        "the page after 60,000 newer runs holds the rare runs"
    );
    assert!(!all_rare.has_more);

    let by_definition = store
        .list_runs(&query(&["p.RARE"], None, 0, 100))
        .await
        .unwrap();
    assert_eq!(ids(&by_definition), newest_first);
    assert_eq!(by_definition.total, Some(10));
    let paged = store
        .list_runs(&query(&["p.RARE"], None, 4, 3))
        .await
        .unwrap();
    assert_eq!(ids(&paged), newest_first[4..7]);
    assert!(paged.has_more);

    let dated = store
        .list_runs(&RunQuery {
            created_from_ms: Some(base + 2),
            created_to_ms: Some(base + 4),
            count: true,
            ..RunQuery::new(RunKind::Workflow, 100)
        })
        .await
        .unwrap();
    assert_eq!(
        ids(&dated),
        vec![rare[4].clone(), rare[3].clone(), rare[2].clone()]
    );
    assert_eq!(dated.total, Some(3));
    let one_batch = store
        .list_runs(&RunQuery {
            definitions: vec!["p.BULK".into()],
            created_from_ms: Some(base + 1010),
            created_to_ms: Some(base + 1010),
            count: true,
            ..RunQuery::new(RunKind::Workflow, 1)
        })
        .await
        .unwrap();
    assert_eq!(one_batch.total, Some(2000));

    for id in &rare[..3] {
        store.cancel_run(id).await.unwrap();
    }
    let canceled = store
        .list_runs(&query(&["p.RARE"], Some(RunStatus::Canceled), 0, 100))
        .await
        .unwrap();
    assert_eq!(
        ids(&canceled),
        vec![rare[2].clone(), rare[1].clone(), rare[0].clone()]
    );
    assert_eq!(canceled.total, Some(3));
    let canceled_anywhere = store
        .list_runs(&query(
            &["p.RARE", "p.BULK"],
            Some(RunStatus::Canceled),
            1,
            100,
        ))
        .await
        .unwrap();
    assert_eq!(
        ids(&canceled_anywhere),
        vec![rare[1].clone(), rare[0].clone()]
    );
    let pending = store
        .list_runs(&query(&["p.RARE"], Some(RunStatus::Pending), 0, 100))
        .await
        .unwrap();
    assert_eq!(ids(&pending), newest_first[..7]);
    let past_the_old_limit = store
        .list_runs(&query(&[], Some(RunStatus::Pending), 60_000, 100))
        .await
        .unwrap();
    assert_eq!(
        ids(&past_the_old_limit),
        newest_first[..7],
        "pending runs after 60,000 newer ones are found"
    );
    assert!(
        store
            .list_runs(&query(&["p.NONE"], None, 0, 10))
            .await
            .unwrap()
            .runs
            .is_empty()
    );
    assert_eq!(
        store.run_definitions(RunKind::Workflow).await.unwrap(),
        vec!["p.BULK".to_owned(), "p.RARE".to_owned()]
    );
}

/// Every run `template` matches, read page after page of `limit` runs; checks each page's
/// `has_more` and, where counted, that every page counts the same total.
async fn every_page(store: &Store, template: &RunQuery, limit: usize) -> Vec<String> {
    let mut listed = Vec::new();
    let mut totals = HashSet::new();
    loop {
        let page = store
            .list_runs(&RunQuery {
                offset: listed.len(),
                limit,
                ..template.clone()
            })
            .await
            .unwrap();
        assert!(page.runs.len() <= limit);
        totals.insert(page.total);
        listed.extend(ids(&page));
        if !page.has_more {
            break;
        }
        assert_eq!(page.runs.len(), limit, "only the last page is short");
    }
    assert_eq!(totals.len(), 1, "every page counts the same total");
    if let Some(Some(total)) = totals.into_iter().next() {
        assert_eq!(total, listed.len() as u64);
    }
    listed
}

/// The ids of `runs` (creation time, id) newest first, ties by id (the larger first).
fn newest_first_of<'a>(runs: impl IntoIterator<Item = &'a (u64, String)>) -> Vec<String> {
    let mut runs: Vec<&(u64, String)> = runs.into_iter().collect();
    runs.sort_by(|a, b| b.cmp(a));
    runs.into_iter().map(|(_, id)| id.clone()).collect()
}

#[tokio::test]
async fn runs_on_many_shards_list_newest_first_in_stable_pages() {
    let redis = RedisServer::start();
    let prefix = unique_prefix();
    let store = redis.store(&prefix).await;
    let keys = store.keys().clone();
    let base = now_ms() - 3_600_000;
    // 200 runs one millisecond apart, of two definitions in turn...
    let mut created: Vec<(u64, String)> = Vec::new();
    let mut odd_ids = HashSet::new();
    for index in 0..200u64 {
        let definition = if index % 2 == 0 { "p.EVEN" } else { "p.ODD" };
        let id = store
            .create_runs_at(&[run_of(definition, "noop")], base + index)
            .await
            .unwrap()
            .remove(0);
        if index % 2 == 1 {
            odd_ids.insert(id.clone());
        }
        created.push((base + index, id));
    }
    // ... and 30 created within one millisecond, in the middle: ordered by id.
    let tied = store
        .create_runs_at(&vec![run_of("p.ODD", "noop"); 30], base + 100)
        .await
        .unwrap();
    odd_ids.extend(tied.iter().cloned());
    created.extend(tied.into_iter().map(|id| (base + 100, id)));
    let shards: HashSet<_> = created.iter().map(|(_, id)| keys.shard_of(id)).collect();
    assert!(shards.len() > 1, "the runs are spread over shards");
    let newest_first = newest_first_of(&created);

    let everything = every_page(&store, &RunQuery::new(RunKind::Workflow, 0), 7).await;
    assert_eq!(
        everything, newest_first,
        "pages of 7 list every run once, in order"
    );
    let unique: HashSet<&String> = everything.iter().collect();
    assert_eq!(unique.len(), created.len(), "no run listed twice");
    assert_eq!(
        every_page(&store, &query(&["p.EVEN", "p.ODD"], None, 0, 0), 7).await,
        newest_first,
        "the union of both definitions is every run"
    );
    let odd_first = newest_first_of(created.iter().filter(|(_, id)| odd_ids.contains(id)));
    assert_eq!(
        every_page(&store, &query(&["p.ODD"], None, 0, 0), 7).await,
        odd_first
    );
    // Larger pages cut the same list.
    assert_eq!(
        every_page(&store, &RunQuery::new(RunKind::Workflow, 0), 64).await,
        newest_first
    );
    let between = RunQuery {
        created_from_ms: Some(base + 90),
        created_to_ms: Some(base + 110),
        ..RunQuery::new(RunKind::Workflow, 0)
    };
    assert_eq!(
        every_page(&store, &between, 7).await,
        newest_first_of(
            created
                .iter()
                .filter(|(created, _)| (base + 90..=base + 110).contains(created))
        )
    );

    // Every fifth run canceled: the finished index of each shard, and the active ones.
    let canceled: Vec<&(u64, String)> = created.iter().step_by(5).collect();
    for (_, id) in &canceled {
        store.cancel_run(id).await.unwrap();
    }
    let canceled_ids: HashSet<&String> = canceled.iter().map(|(_, id)| id).collect();
    assert_eq!(
        every_page(
            &store,
            &query(&["p.EVEN", "p.ODD"], Some(RunStatus::Canceled), 0, 0),
            7
        )
        .await,
        newest_first_of(canceled.iter().copied())
    );
    let pending: Vec<String> = newest_first
        .iter()
        .filter(|id| !canceled_ids.contains(id))
        .cloned()
        .collect();
    assert_eq!(
        every_page(&store, &query(&[], Some(RunStatus::Pending), 0, 0), 7).await,
        pending
    );
    assert_eq!(
        every_page(
            &store,
            &query(&["p.ODD"], Some(RunStatus::Pending), 0, 0),
            7
        )
        .await,
        pending
            .iter()
            .filter(|id| odd_ids.contains(*id))
            .cloned()
            .collect::<Vec<_>>()
    );

    let mut conn = redis.connection().await;
    let scratch: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*runs:query:*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        scratch.is_empty(),
        "listings delete their scratch sets: {scratch:?}"
    );
}

/// A worker of the `lists` queue with `handlers`, running until its token is canceled.
async fn spawn_worker(
    redis: &RedisServer,
    prefix: &str,
    handlers: HandlerRegistry,
) -> (
    CancellationToken,
    tokio::task::JoinHandle<Result<(), worker::WorkerError>>,
) {
    in_process_worker::spawn_worker(worker_options(redis, prefix), handlers).await
}

fn worker_options(redis: &RedisServer, prefix: &str) -> WorkerOptions {
    WorkerOptions::parse_from([
        "worker",
        "--redis-url",
        &redis.url(),
        "--prefix",
        prefix,
        "--queues",
        "lists",
        "--block-ms",
        "100",
    ])
}

#[tokio::test]
async fn the_status_index_follows_runs_to_success_error_and_canceled() {
    let redis = RedisServer::start();
    let prefix = unique_prefix();
    let store = redis.store(&prefix).await;
    let mut handlers = HandlerRegistry::new();
    handlers.register("ok", |_ctx| async move { Ok(Some(json!(1))) });
    handlers.register("fail", |_ctx| async move {
        Err(TaskError::Invalid("broken on purpose".into()))
    });
    handlers.register("slow", |ctx| async move {
        ctx.cancel.cancelled().await;
        Err(TaskError::Interrupted)
    });
    let (shutdown, worker) = spawn_worker(&redis, &prefix, handlers).await;

    let succeeds = store.create_run(&run_of("p.S", "ok")).await.unwrap();
    let fails = store.create_run(&run_of("p.F", "fail")).await.unwrap();
    let canceled = store.create_run(&run_of("p.C", "slow")).await.unwrap();
    let in_status = |status: RunStatus| {
        let store = store.clone();
        async move {
            ids(&store
                .list_runs(&query(&[], Some(status), 0, 100))
                .await
                .unwrap())
        }
    };
    wait_for(
        Duration::from_secs(10),
        "the canceled run is running",
        || async {
            in_status(RunStatus::Progress)
                .await
                .contains(&canceled)
                .then_some(())
        },
    )
    .await;
    store.cancel_run(&canceled).await.unwrap();
    wait_for(Duration::from_secs(10), "every run finished", || async {
        let runs = store
            .get_runs(&[succeeds.clone(), fails.clone(), canceled.clone()])
            .await
            .unwrap();
        runs.iter()
            .all(|run| run.status.is_finished())
            .then_some(())
    })
    .await;
    assert_eq!(in_status(RunStatus::Success).await, vec![succeeds.clone()]);
    assert_eq!(in_status(RunStatus::Error).await, vec![fails.clone()]);
    assert_eq!(in_status(RunStatus::Canceled).await, vec![canceled.clone()]);
    assert!(in_status(RunStatus::Pending).await.is_empty());
    assert!(in_status(RunStatus::Progress).await.is_empty());
    // Each run's progress, from its counters, agrees with its tasks.
    let all = [succeeds.clone(), fails.clone(), canceled.clone()];
    let progress = store.run_progress(&all).await.unwrap();
    for (run, progress) in store.get_runs(&all).await.unwrap().iter().zip(&progress) {
        let done = run
            .tasks
            .iter()
            .filter(|task| task.status == TaskStatus::Success)
            .count();
        assert_eq!(
            *progress,
            Some(RunProgress {
                done,
                steps: run.tasks.len()
            }),
            "{}",
            run.id
        );
    }
    assert_eq!(progress[0].map(|progress| progress.done), Some(1));
    assert_eq!(
        store
            .run_progress(&["no-such-run".to_owned()])
            .await
            .unwrap(),
        vec![None]
    );
    for id in [&succeeds, &fails, &canceled] {
        assert_eq!(
            zscore(&redis, &active_of(store.keys(), id), id).await,
            None,
            "{id} left the active index"
        );
    }

    shutdown.cancel();
    worker.await.unwrap().unwrap();
    // Every run of the kind, whatever its status, is in one of the status indexes: the
    // listing of all of them (and its count) is theirs, newest first, with a run still
    // pending (made once the worker stopped).
    let pending = store.create_run(&run_of("p.P", "ok")).await.unwrap();
    let every = store
        .list_runs(&RunQuery {
            count: true,
            ..RunQuery::new(RunKind::Workflow, 10)
        })
        .await
        .unwrap();
    assert_eq!(every.total, Some(4));
    let listed: Vec<(String, RunStatus)> = every
        .runs
        .iter()
        .map(|run| (run.id.clone(), run.status))
        .collect();
    assert_eq!(listed.len(), 4, "{listed:?}");
    assert_eq!(listed[0].0, pending, "the newest first: {listed:?}");
    let mut listed_ids: Vec<String> = listed.into_iter().map(|(id, _)| id).collect();
    listed_ids.sort();
    let mut expected = vec![succeeds.clone(), fails.clone(), canceled.clone(), pending];
    expected.sort();
    assert_eq!(listed_ids, expected);
}

#[tokio::test]
async fn a_batch_of_creations_and_outcomes_writes_every_runs_index_entries() {
    // One script call creates every run of a shard, and one records every outcome: each call
    // makes its index writes at its end, one command per sorted set for many runs.
    let redis = RedisServer::start();
    let prefix = unique_prefix();
    let store = redis.store(&prefix).await;
    let keys = store.keys().clone();
    let shard = Shard::new(3);
    let ids: Vec<String> = std::iter::repeat_with(|| uuid::Uuid::new_v4().to_string())
        .filter(|id| keys.shard_of(id) == shard)
        .take(30)
        .collect();
    let spec_of = |id: &String| RunSpec {
        id: Some(id.clone()),
        ..run_of("batch.indexed", "ok")
    };
    // The first run twice: created once, indexed once.
    let mut specs: Vec<RunSpec> = ids.iter().map(spec_of).collect();
    specs.push(spec_of(&ids[0]));
    store.create_runs(&specs).await.unwrap();

    let definition_index = keys.definition_index(shard, RunKind::Workflow, "batch.indexed");
    let active = keys.active_index(shard, RunKind::Workflow);
    for id in &ids {
        for index in [&active, &definition_index] {
            assert!(
                zscore(&redis, index, id).await.is_some(),
                "{id} is in {index}"
            );
        }
    }
    assert_eq!(zcard(&redis, &definition_index).await, ids.len());

    let queue = QueueName::parse("lists").unwrap();
    let mut conn = store.dedicated_connection().await.unwrap();
    let read = store
        .read_jobs(
            &mut conn,
            shard,
            std::slice::from_ref(&queue),
            "w",
            64,
            0,
            Priority::High,
            Priority::Low,
        )
        .await
        .unwrap();
    assert_eq!(read.jobs.len(), ids.len(), "one job per run");
    let started = store.start_jobs(&mut conn, &read.jobs, "w").await.unwrap();
    assert!(
        started
            .iter()
            .all(|outcome| matches!(outcome, StartOutcome::Start(_)))
    );
    // The first twenty succeed, the rest fail for good.
    let outcomes: Vec<(Job, AttemptOutcome)> = read
        .jobs
        .iter()
        .enumerate()
        .map(|(at, job)| {
            let outcome = if at < 20 {
                AttemptOutcome::Succeeded(None)
            } else {
                AttemptOutcome::Failed("broken on purpose".into())
            };
            (job.clone(), outcome)
        })
        .collect();
    store.finish_jobs(&mut conn, &outcomes).await.unwrap();

    for (at, job) in read.jobs.iter().enumerate() {
        let id = &job.job.run_id;
        let (status, other) = if at < 20 {
            (RunStatus::Success, RunStatus::Error)
        } else {
            (RunStatus::Error, RunStatus::Success)
        };
        assert!(
            zscore(&redis, &finished_of(&keys, id, status), id)
                .await
                .is_some(),
            "{id} is in the {status:?} index"
        );
        assert_eq!(
            zscore(&redis, &finished_of(&keys, id, other), id).await,
            None,
            "{id} is not in the {other:?} index"
        );
        assert_eq!(
            zscore(&redis, &active, id).await,
            None,
            "{id} left the active index"
        );
    }
    assert_eq!(zcard(&redis, &active).await, 0);
    let listed = |status| {
        let store = store.clone();
        async move {
            store
                .list_runs(&query(&["batch.indexed"], Some(status), 0, 100))
                .await
                .unwrap()
                .total
        }
    };
    assert_eq!(listed(RunStatus::Success).await, Some(20));
    assert_eq!(listed(RunStatus::Error).await, Some(10));
}

#[tokio::test]
async fn a_run_whose_index_update_was_lost_is_healed() {
    let redis = RedisServer::start();
    let store = redis.store(&unique_prefix()).await;
    let keys = store.keys().clone();
    // A millisecond apart: runs created within one are listed by id, not in this order.
    let base = now_ms() - 1000;
    let mut created = Vec::new();
    for at_ms in [base, base + 1] {
        let spec = run_of("p.A", "noop");
        created.extend(store.create_runs_at(&[spec], at_ms).await.unwrap());
    }
    let [first, second] = <[String; 2]>::try_from(created).unwrap();
    store.cancel_run(&first).await.unwrap();
    store.cancel_run(&second).await.unwrap();
    let created = canceled_at(&redis, &keys, &first).await;

    // The canceler died between the script and the index update: still active only.
    let mut conn = redis.connection().await;
    redis::pipe()
        .cmd("ZREM")
        .arg(finished_of(&keys, &first, RunStatus::Canceled))
        .arg(&first)
        .cmd("ZADD")
        .arg(active_of(&keys, &first))
        .arg(created)
        .arg(&first)
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    let canceled = query(&[], Some(RunStatus::Canceled), 0, 10);
    assert_eq!(
        ids(&store.list_runs(&canceled).await.unwrap()),
        vec![second.clone()]
    );
    assert_eq!(store.heal_run_indexes(1000).await.unwrap(), 1);
    assert_eq!(
        ids(&store.list_runs(&canceled).await.unwrap()),
        vec![second.clone(), first.clone()]
    );
    assert_eq!(
        zscore(&redis, &active_of(&keys, &first), &first).await,
        None
    );

    // An entry in the wrong status index is fixed by the reader that finds it, and skipped.
    let success_index = finished_of(&keys, &second, RunStatus::Success);
    redis::pipe()
        .cmd("ZREM")
        .arg(finished_of(&keys, &second, RunStatus::Canceled))
        .arg(&second)
        .cmd("ZADD")
        .arg(&success_index)
        .arg(created)
        .arg(&second)
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    let success = store
        .list_runs(&query(&[], Some(RunStatus::Success), 0, 10))
        .await
        .unwrap();
    assert!(success.runs.is_empty(), "the misplaced run is skipped");
    assert_eq!(zscore(&redis, &success_index, &second).await, None);
    assert_eq!(
        ids(&store.list_runs(&canceled).await.unwrap()),
        vec![second.clone(), first.clone()]
    );

    // A run left in two status indexes (put back in the active one before a requeue whose
    // process died) is listed once among every run, on every page it falls on.
    let second_created = canceled_at(&redis, &keys, &second).await;
    redis::cmd("ZADD")
        .arg(active_of(&keys, &second))
        .arg(second_created)
        .arg(&second)
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    let every = RunQuery::new(RunKind::Workflow, 10);
    assert_eq!(
        ids(&store.list_runs(&every).await.unwrap()),
        vec![second.clone(), first.clone()]
    );
    assert_eq!(
        zscore(&redis, &active_of(&keys, &second), &second).await,
        None,
        "the listing that found it in two healed it"
    );
    let counted = store
        .list_runs(&RunQuery {
            count: true,
            ..every.clone()
        })
        .await
        .unwrap();
    assert_eq!(counted.total, Some(2));
    assert_eq!(
        every_page(&store, &every, 1).await,
        vec![second.clone(), first.clone()]
    );
}

#[tokio::test]
async fn runs_listed_before_the_indexes_existed_are_backfilled_once() {
    let redis = RedisServer::start();
    let store = redis.store(&unique_prefix()).await;
    let keys = store.keys().clone();
    let old = store.create_run(&run_of("p.OLD", "noop")).await.unwrap();
    store.cancel_run(&old).await.unwrap();
    // As stored before: in the kind index only.
    let shard = keys.shard_of(&old);
    let mut conn = redis.connection().await;
    redis::pipe()
        .cmd("ZADD")
        .arg(keys.legacy_kind_index(shard, RunKind::Workflow))
        .arg(now_ms())
        .arg(&old)
        .cmd("DEL")
        .arg(keys.definition_index(shard, RunKind::Workflow, "p.OLD"))
        .cmd("DEL")
        .arg(keys.definitions_of_kind(shard, RunKind::Workflow))
        .cmd("DEL")
        .arg(finished_of(&keys, &old, RunStatus::Canceled))
        .cmd("DEL")
        .arg(keys.runs_upkeep())
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    assert!(
        store
            .list_runs(&query(&["p.OLD"], None, 0, 10))
            .await
            .unwrap()
            .runs
            .is_empty()
    );
    assert_eq!(
        store
            .backfill_run_indexes(1000, common::time::now_ms())
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .backfill_run_indexes(1000, common::time::now_ms())
            .await
            .unwrap(),
        0,
        "done"
    );
    assert_eq!(
        store
            .backfill_run_indexes(1000, common::time::now_ms())
            .await
            .unwrap(),
        0,
        "and stays done"
    );
    assert_eq!(
        store.run_definitions(RunKind::Workflow).await.unwrap(),
        vec!["p.OLD".to_owned()]
    );
    let found = store
        .list_runs(&query(&["p.OLD"], Some(RunStatus::Canceled), 0, 10))
        .await
        .unwrap();
    assert_eq!(ids(&found), vec![old]);
    for (offset, limit) in [(usize::MAX, 10), (0, usize::MAX), (usize::MAX, usize::MAX)] {
        for status in [None, Some(RunStatus::Pending), Some(RunStatus::Canceled)] {
            let page = store
                .list_runs(&query(&["p.OLD", "p.B"], status, offset, limit))
                .await
                .expect("any offset and limit are answered");
            assert_eq!(
                page.runs.len(),
                usize::from(offset == 0 && status != Some(RunStatus::Pending)),
                "{offset} {limit} {status:?}"
            );
        }
    }
}

#[tokio::test]
async fn expired_runs_leave_every_index() {
    let redis = RedisServer::start();
    let store = store_with_retention(&redis, &unique_prefix(), 1).await;
    let keys = store.keys().clone();
    let id = store
        .create_runs_at(&[run_of("p.GONE", "noop")], now_ms() - 5000)
        .await
        .unwrap()
        .remove(0);
    let kept = store.create_run(&run_of("p.GONE", "noop")).await.unwrap();
    store.cancel_run(&id).await.unwrap();
    // An entry an earlier version wrote in the kind index leaves too.
    let shard = keys.shard_of(&id);
    let legacy = keys.legacy_kind_index(shard, RunKind::Workflow);
    redis::cmd("ZADD")
        .arg(&legacy)
        .arg(now_ms() - 5000)
        .arg(&id)
        .query_async::<()>(&mut redis.connection().await)
        .await
        .unwrap();
    wait_for(Duration::from_secs(5), "the run expires", || async {
        store.get_run(&id).await.unwrap().is_none().then_some(())
    })
    .await;
    assert_eq!(
        store
            .trim_expired_runs(common::time::now_ms())
            .await
            .unwrap(),
        1
    );
    for index in [
        legacy,
        keys.definition_index(shard, RunKind::Workflow, "p.GONE"),
        finished_of(&keys, &id, RunStatus::Canceled),
        active_of(&keys, &id),
    ] {
        assert_eq!(zscore(&redis, &index, &id).await, None, "{index}");
    }
    let left = store
        .list_runs(&query(&["p.GONE"], None, 0, 10))
        .await
        .unwrap();
    assert_eq!(ids(&left), vec![kept]);
}

fn definitions(dir: &Path) -> Definitions {
    load_str(
        "p.TYPED:\n  tasks: [noop]\n  schema:\n    type: object\n    properties:\n      name: {type: string}\n      sizes: {type: array, items: {type: integer}}\n    required: [name]\n",
        &dir.join("flows.yml"),
    )
    .unwrap()
    .into_iter()
    .map(|workflow| (workflow.fullname.clone(), workflow))
    .collect()
}

#[tokio::test]
async fn starting_a_workflow_names_each_payload_problem_by_its_json_path() {
    let redis = RedisServer::start();
    let store = redis.store(&unique_prefix()).await;
    let dir = tempfile::tempdir().unwrap();
    let definitions = definitions(dir.path());

    let error = start_workflow(
        &store,
        &definitions,
        "p.TYPED",
        json!({"name": 3, "sizes": [1, "x"]}),
    )
    .await
    .unwrap_err();
    let OperationError::InvalidPayload(problems) = error else {
        panic!("not an invalid payload: {error}")
    };
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems.iter().any(|p| p.starts_with("payload/name: ")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.starts_with("payload/sizes/1: ")),
        "{problems:?}"
    );
    let missing = start_workflow(&store, &definitions, "p.TYPED", json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(&missing, OperationError::InvalidPayload(p) if p[0].starts_with("payload: ") && p[0].contains("name")),
        "{missing:?}"
    );
    assert!(matches!(
        start_workflow(&store, &definitions, "p.NOPE", json!({})).await,
        Err(OperationError::UnknownWorkflow(name)) if name == "p.NOPE"
    ));
    assert!(
        store
            .list_runs(&RunQuery::new(RunKind::Workflow, 10))
            .await
            .unwrap()
            .runs
            .is_empty(),
        "nothing was started"
    );

    let run = start_workflow(&store, &definitions, "p.TYPED", json!({"name": "x"}))
        .await
        .unwrap();
    assert_eq!(run.status, RunStatus::Pending);
    let canceled = cancel_workflow(&store, &run.id).await.unwrap();
    assert_eq!(canceled.status, RunStatus::Canceled);
    assert!(matches!(
        cancel_workflow(&store, "no-such-run").await,
        Err(OperationError::WorkflowNotFound(_))
    ));
}

/// Runs `baton-api` with `args` and `env`; its output once it exits successfully.
async fn baton_api_command(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut process = BatonProcess::spawn("baton-api", args, env);
    let status = process
        .wait_exit_async(Duration::from_secs(20))
        .await
        .expect("the command ends");
    assert!(status.success(), "baton-api {args:?}: {}", process.log());
    process.log()
}

#[tokio::test]
async fn directors_filtered_list_finds_workflows_past_sixty_thousand_newer_runs() {
    const MASTER_KEY: &str = "test-master-key-0123456789";
    let redis = RedisServer::start();
    let prefix = unique_prefix();
    let store = redis.store(&prefix).await;
    let base = now_ms() - 3_600_000;
    let mut rare = Vec::new();
    for index in 0..3u64 {
        rare.extend(
            store
                .create_runs_at(&[run_of("other.RARE", "noop")], base + index)
                .await
                .unwrap(),
        );
    }
    store.cancel_run(&rare[1]).await.unwrap();
    for batch in 0..30u64 {
        store
            .create_runs_at(
                &vec![run_of("example.BULK", "noop"); 2000],
                base + 1000 + batch,
            )
            .await
            .unwrap();
    }

    let definitions = tempfile::tempdir().unwrap();
    std::fs::write(
        definitions.path().join("workflows.yml"),
        "example.BULK:\n  tasks: [noop]\nother.RARE:\n  tasks: [noop]\n",
    )
    .unwrap();
    let url = redis.url();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let definitions_dir = definitions.path().display().to_string();
    let env = [
        ("BATON_REDIS_URL", url.as_str()),
        ("BATON_PREFIX", prefix.as_str()),
        ("BATON_MASTER_KEY", MASTER_KEY),
        ("BATON_LISTEN", listen.as_str()),
        ("BATON_DEFINITIONS", definitions_dir.as_str()),
    ];
    let output = baton_api_command(
        &[
            "keys",
            "create",
            "reader",
            "--permissions",
            "workflows.read",
        ],
        &env,
    )
    .await;
    let secret = output.lines().last().unwrap().trim().to_owned();
    let signer = Signer::new("reader", secret.into_bytes());
    let _api = BatonProcess::spawn("baton-api", &[], &env);
    let http = reqwest::Client::new();
    let base_url = format!("http://{listen}");
    wait_for_health(&http, &base_url).await;
    let list = |query: &'static str| {
        let (http, base_url, signer) = (http.clone(), base_url.clone(), signer.clone());
        async move {
            let answer = send_signed(
                &http,
                &base_url,
                Some(&signer),
                "GET",
                &format!("/api/workflows?{query}"),
                b"",
                &[],
            )
            .await;
            assert_eq!(answer.status, 200, "{query}: {}", answer.body);
            answer
                .body
                .as_array()
                .unwrap()
                .iter()
                .map(|workflow| workflow["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        list("name=RARE").await,
        vec![rare[2].clone(), rare[1].clone(), rare[0].clone()]
    );
    assert_eq!(
        list("project=other&per_page=1&page=2").await,
        vec![rare[1].clone()]
    );
    assert_eq!(
        list("name=other.RARE&status=canceled").await,
        vec![rare[1].clone()]
    );
    assert_eq!(
        list("project=other&status=pending").await,
        vec![rare[2].clone(), rare[0].clone()]
    );
    assert_eq!(list("name=BULK&per_page=1000&page=61").await.len(), 0);
    assert_eq!(list("name=BULK&per_page=1000&page=60").await.len(), 1000);
    assert_eq!(
        list("per_page=3&page=20001").await,
        vec![rare[2].clone(), rare[1].clone(), rare[0].clone()]
    );
    assert!(list("name=NOPE").await.is_empty());
    assert!(
        list("per_page=1000&page=18446744073709551")
            .await
            .is_empty()
    );
    assert!(
        list("name=RARE&status=pending&per_page=1000&page=18446744073709551")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_listed_run_carries_the_run_fields_a_list_shows_and_a_whole_page_its_tasks() {
    let redis = RedisServer::start();
    let store = redis.store(&unique_prefix()).await;
    let mut delayed = run_of("p.FIELDS", "noop");
    delayed.payload = json!({"region": "eu", "count": 3});
    delayed.priority = Priority::High;
    delayed.periodic = true;
    delayed.not_before_ms = Some(now_ms() + 3_600_000);
    let ids = store
        .create_runs(&[delayed, run_of("p.FIELDS", "noop")])
        .await
        .unwrap();
    store.cancel_run(&ids[1]).await.unwrap();
    let page = store
        .list_runs(&query(&["p.FIELDS"], None, 0, 10))
        .await
        .unwrap();
    assert_eq!(page.runs.len(), 2);
    for listed in &page.runs {
        let whole = store.get_run(&listed.id).await.unwrap().expect("the run");
        assert!(!whole.tasks.is_empty());
        assert_eq!(
            (&listed.definition, listed.kind, listed.status),
            (&whole.definition, whole.kind, whole.status)
        );
        assert_eq!(
            (listed.created_ms, listed.updated_ms, listed.finished_ms),
            (whole.created_ms, whole.updated_ms, whole.finished_ms)
        );
        assert_eq!(listed.payload_value(), whole.payload);
        assert_eq!(listed.periodic, whole.periodic);
    }
    let summaries = store.get_run_summaries(&ids).await.unwrap();
    assert_eq!(
        summaries
            .iter()
            .map(|run| run.id.clone())
            .collect::<Vec<_>>(),
        ids
    );
    // The payload is passed on as stored, unparsed.
    assert_eq!(summaries[0].payload.get(), r#"{"count":3,"region":"eu"}"#);
    assert!(summaries[0].periodic);
    assert_eq!(summaries[1].status, RunStatus::Canceled);
    assert!(summaries[1].finished_ms.is_some());
    // A run that no longer exists is skipped.
    let missing = store
        .get_run_summaries(&["no-such-run".to_owned(), ids[0].clone()])
        .await
        .unwrap();
    assert_eq!(missing.len(), 1);
    // A whole page carries its runs whole.
    let whole = store
        .list_whole_runs(&query(&["p.FIELDS"], None, 0, 10))
        .await
        .unwrap();
    assert_eq!(whole.runs.len(), 2);
    for run in &whole.runs {
        assert_eq!(Some(run), store.get_run(&run.id).await.unwrap().as_ref());
    }
}

#[tokio::test]
async fn a_page_whose_newest_runs_all_sit_on_one_shard_reads_that_shard_again_until_the_page_is_full()
 {
    let redis = RedisServer::start();
    let store = redis.store(&unique_prefix()).await;
    let keys = store.keys().clone();
    let base = now_ms() - 3_600_000;
    // Forty older runs spread over the shards, then sixty newer ones all on one shard, so
    // the first window read from each shard (16 entries) holds only part of the page.
    for index in 0..40u64 {
        store
            .create_runs_at(&[run_of("p.SKEW", "noop")], base + index)
            .await
            .unwrap();
    }
    let crowded = keys.shard_of("skew-0");
    let same_shard: Vec<String> = (0..)
        .map(|n| format!("skew-{n}"))
        .filter(|id| keys.shard_of(id) == crowded)
        .take(60)
        .collect();
    for (index, id) in same_shard.iter().enumerate() {
        let mut spec = run_of("p.SKEW", "noop");
        spec.id = Some(id.clone());
        store
            .create_runs_at(&[spec], base + 1000 + index as u64)
            .await
            .unwrap();
    }
    let page = store
        .list_runs(&query(&["p.SKEW"], None, 0, 50))
        .await
        .unwrap();
    let newest_first: Vec<String> = same_shard.iter().rev().take(50).cloned().collect();
    assert_eq!(ids(&page), newest_first);
    assert!(page.has_more);
    assert_eq!(page.total, Some(100));
    let next = store
        .list_runs(&query(&["p.SKEW"], None, 50, 50))
        .await
        .unwrap();
    assert_eq!(next.runs.len(), 50);
    assert_eq!(
        ids(&next)[..10],
        same_shard[..10].iter().rev().cloned().collect::<Vec<_>>()[..]
    );
    assert!(!next.has_more);
}

#[tokio::test]
async fn a_run_deleted_and_made_again_under_its_id_lists_with_its_new_time_and_payload() {
    let redis = RedisServer::start();
    let prefix = unique_prefix();
    // One process lists (and keeps what never changes of the runs it showed); another
    // deletes a run and makes it again under the same id.
    let lister = redis.store(&prefix).await;
    let writer = redis.store(&prefix).await;
    let base = now_ms() - 3_600_000;
    let mut first = run_of("p.AGAIN", "noop");
    first.id = Some("again".into());
    first.payload = json!({"version": 1});
    writer.create_runs_at(&[first], base + 10).await.unwrap();
    let older = writer
        .create_runs_at(&[run_of("p.AGAIN", "noop")], base + 20)
        .await
        .unwrap()
        .remove(0);
    let newer = writer
        .create_runs_at(&[run_of("p.AGAIN", "noop")], base + 30)
        .await
        .unwrap()
        .remove(0);
    let page = lister
        .list_runs(&query(&["p.AGAIN"], None, 0, 10))
        .await
        .unwrap();
    assert_eq!(
        ids(&page),
        vec![newer.clone(), older.clone(), "again".into()]
    );

    writer.cancel_run("again").await.unwrap();
    assert_eq!(writer.enforce_retention("p.AGAIN", 0).await.unwrap(), 1);
    let mut second = run_of("p.AGAIN", "noop");
    second.id = Some("again".into());
    second.payload = json!({"version": 2});
    writer.create_runs_at(&[second], base + 40).await.unwrap();

    let page = lister
        .list_runs(&query(&["p.AGAIN"], None, 0, 10))
        .await
        .unwrap();
    assert_eq!(ids(&page), vec!["again".into(), newer, older]);
    let remade = &page.runs[0];
    assert_eq!(remade.created_ms, base + 40);
    assert_eq!(remade.status, RunStatus::Pending);
    assert_eq!(remade.payload.get(), r#"{"version":2}"#);
    // A one-run page from the top shows it too, and the next page what follows it.
    let top = lister
        .list_runs(&query(&["p.AGAIN"], None, 0, 1))
        .await
        .unwrap();
    assert_eq!(ids(&top), vec!["again".to_owned()]);
    assert!(top.has_more);
}

#[tokio::test]
async fn one_creation_of_many_definitions_records_each_on_every_shard_it_reaches() {
    let redis = RedisServer::start();
    let store = redis.store(&unique_prefix()).await;
    let specs: Vec<RunSpec> = (0..96)
        .map(|i| match i % 3 {
            0 => run_of("mix.A", "noop"),
            1 => run_of("mix.B", "noop"),
            _ => RunSpec {
                kind: RunKind::Report,
                ..run_of("mix.R", "noop")
            },
        })
        .collect();
    let created = store.create_runs(&specs).await.unwrap();

    let keys = store.keys().clone();
    let mut conn = redis.connection().await;
    for shard in keys.shards() {
        for kind in [RunKind::Workflow, RunKind::Report] {
            let mut expected: Vec<String> = created
                .iter()
                .zip(&specs)
                .filter(|(id, spec)| keys.shard_of(id) == shard && spec.kind == kind)
                .map(|(_, spec)| spec.definition.clone())
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            expected.sort();
            let mut recorded: Vec<String> = redis::cmd("SMEMBERS")
                .arg(keys.definitions_of_kind(shard, kind))
                .query_async(&mut conn)
                .await
                .unwrap();
            recorded.sort();
            assert_eq!(recorded, expected, "shard {shard}, {kind:?}");
        }
    }
    assert_eq!(
        store.run_definitions(RunKind::Workflow).await.unwrap(),
        vec!["mix.A".to_owned(), "mix.B".to_owned()]
    );
    assert_eq!(
        store.run_definitions(RunKind::Report).await.unwrap(),
        vec!["mix.R".to_owned()]
    );
    let of_b = store
        .list_runs(&query(&["mix.B"], None, 0, 100))
        .await
        .unwrap();
    assert_eq!(of_b.total, Some(32));
}

/// Asserts that every run of `ids` lists with the status and times its whole record holds, as
/// read by `store` (whatever it keeps of them) and by a process that never listed them.
async fn lists_as_whole(redis: &RedisServer, prefix: &str, store: &Store, ids: &[String]) {
    let fresh = redis.store(prefix).await;
    for reader in [store, &fresh] {
        let summaries = reader.get_run_summaries(ids).await.unwrap();
        assert_eq!(summaries.len(), ids.len());
        for summary in &summaries {
            let whole = reader.get_run(&summary.id).await.unwrap().expect("the run");
            assert_eq!(
                (
                    summary.status,
                    summary.created_ms,
                    summary.updated_ms,
                    summary.finished_ms
                ),
                (
                    whole.status,
                    whole.created_ms,
                    whole.updated_ms,
                    whole.finished_ms
                ),
                "{}",
                summary.id
            );
        }
    }
}

#[tokio::test]
async fn a_listed_run_shows_the_status_and_times_of_every_transition() {
    let redis = RedisServer::start();
    let prefix = unique_prefix();
    let store = redis.store(&prefix).await;
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
    let mut handlers = HandlerRegistry::new();
    handlers.register("ok", |_ctx| async move { Ok(Some(json!(1))) });
    handlers.register("fail", |_ctx| async move {
        Err(TaskError::Invalid("broken on purpose".into()))
    });
    let opened = std::sync::Arc::clone(&gate);
    handlers.register("gated", move |_ctx| {
        let gate = std::sync::Arc::clone(&opened);
        async move {
            let _ = gate.acquire().await;
            Ok(Some(json!(2)))
        }
    });
    // The last two runs' queue has no worker: their jobs are never taken (as if lost).
    let unread = |definition: &str| RunSpec {
        queue: QueueName::parse("unread").unwrap(),
        ..run_of(definition, "ok")
    };
    let created = store
        .create_runs(&[
            run_of("p.T", "ok"),
            run_of("p.T", "fail"),
            run_of("p.T", "gated"),
            unread("p.T"),
            unread("p.T"),
        ])
        .await
        .unwrap();
    let [succeeds, fails, gated, canceled, lost] =
        <[String; 5]>::try_from(created.clone()).unwrap();
    // Created: pending, listed once (so this process keeps their fixed facts). Not changed
    // yet, a run stores no `updated` (it is its creation time) and lists it as its creation.
    lists_as_whole(&redis, &prefix, &store, &created).await;
    let mut conn = redis.connection().await;
    let stored_updated: bool = redis::cmd("HEXISTS")
        .arg(store.keys().run(&lost))
        .arg("updated")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(!stored_updated, "a new run stores no 'updated'");
    for run in store.get_run_summaries(&created).await.unwrap() {
        assert_eq!(run.updated_ms, run.created_ms, "{}", run.id);
    }

    let (shutdown, worker) = spawn_worker(&redis, &prefix, handlers).await;
    let statuses = || async {
        store
            .get_run_summaries(&created)
            .await
            .unwrap()
            .iter()
            .map(|run| run.status)
            .collect::<Vec<_>>()
    };
    use RunStatus::{Canceled, Error, Pending, Progress, Success};
    wait_for(
        Duration::from_secs(10),
        "the worker's runs moved",
        || async {
            (statuses().await == [Success, Error, Progress, Pending, Pending]).then_some(())
        },
    )
    .await;
    // Succeeded and failed by the worker, one started (in progress).
    lists_as_whole(&redis, &prefix, &store, &created).await;
    gate.add_permits(1);
    store.cancel_run(&canceled).await.unwrap();
    let job = JobRef {
        run_id: lost.clone(),
        task: 0,
        attempt: 1,
        redeliveries: 0,
    };
    assert!(
        store
            .fail_task(&job, Priority::Normal, "lost", now_ms())
            .await
            .unwrap()
    );
    wait_for(Duration::from_secs(10), "every run finished", || async {
        (statuses().await == [Success, Error, Success, Canceled, Error]).then_some(())
    })
    .await;
    shutdown.cancel();
    worker.await.unwrap().unwrap();
    // Finished by the worker, canceled, and failed for good as the scheduler fails a job
    // lost too many times.
    lists_as_whole(&redis, &prefix, &store, &created).await;

    // Requeued from the dead letters: the failed run is in progress again, unfinished.
    let queue = QueueName::parse("lists").unwrap();
    let letter = store
        .dead_letters(&queue, 10)
        .await
        .unwrap()
        .into_iter()
        .find(|letter| letter.job.run_id == fails)
        .expect("the failed run's dead letter");
    store.requeue_dead_letter(&queue, &letter.id).await.unwrap();
    let reopened = store
        .get_run_summaries(std::slice::from_ref(&fails))
        .await
        .unwrap();
    assert_eq!(reopened[0].status, Progress);
    assert_eq!(reopened[0].finished_ms, None);
    lists_as_whole(&redis, &prefix, &store, &created).await;

    // A run stored before runs kept the copy lists read is read from its own fields.
    let mut conn = redis.connection().await;
    let _: () = redis::cmd("HDEL")
        .arg(store.keys().run(&succeeds))
        .arg("listed")
        .query_async(&mut conn)
        .await
        .unwrap();
    lists_as_whole(&redis, &prefix, &store, &created).await;
    // A run gone is skipped, whether this process knew it or not.
    let _: () = redis::cmd("DEL")
        .arg(store.keys().run(&gated))
        .query_async(&mut conn)
        .await
        .unwrap();
    let left = store.get_run_summaries(&created).await.unwrap();
    assert_eq!(left.len(), 4);
    assert!(left.iter().all(|run| run.id != gated));
}

#[tokio::test]
async fn a_process_that_listed_a_page_once_reads_each_shard_once_when_it_lists_it_again() {
    let redis = RedisServer::start();
    let prefix = unique_prefix();
    let creator = redis.store(&prefix).await;
    let base = now_ms() - 3_600_000;
    for index in 0..300u64 {
        creator
            .create_runs_at(&[run_of("p.AGAIN", "noop")], base + index)
            .await
            .unwrap();
    }
    // The windows a page takes depend on how its runs fall on the shards: counted from a
    // process that has listed the page before, so knows the creation time of every run on it.
    let nodes = RedisNodes::connect(&redis.url()).await.unwrap();
    let first_page = RunQuery::new(RunKind::Workflow, 100);
    let zranges = |costs: &std::collections::HashMap<String, CommandCost>| {
        costs.get("zrange").map_or(0, |cost| cost.calls)
    };
    creator.list_runs(&first_page).await.unwrap();
    nodes.reset_stats().await.unwrap();
    let made = creator.list_runs(&first_page).await.unwrap();
    let windows = zranges(&nodes.command_costs().await.unwrap());
    let shards = u64::from(creator.keys().shard_count());
    assert!(windows >= shards, "at least one window per shard");
    // A process that has seen none of the runs: its first page reads each shard's window
    // again with the scores of the runs it does not know, a few more than the page shows.
    let lister = redis.store(&prefix).await;
    nodes.reset_stats().await.unwrap();
    let first = lister.list_runs(&first_page).await.unwrap();
    assert_eq!(ids(&first), ids(&made));
    let unknown = zranges(&nodes.command_costs().await.unwrap());
    assert!(
        unknown > windows,
        "{unknown} windows read, {windows} by the maker"
    );
    // Listed again, the page reads only the windows the other process read.
    nodes.reset_stats().await.unwrap();
    let again = lister.list_runs(&first_page).await.unwrap();
    assert_eq!(ids(&again), ids(&first));
    let costs = nodes.command_costs().await.unwrap();
    assert_eq!(
        zranges(&costs),
        windows,
        "no window read again with scores: {costs:?}"
    );
    // Nor any run: their status and times are kept while Redis tracks them.
    let hgets = costs.get("hget").map_or(0, |cost| cost.calls);
    assert_eq!(hgets, 0, "{costs:?}");
}

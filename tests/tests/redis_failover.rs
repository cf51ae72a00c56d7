//! Failover: a Redis Cluster master and a Sentinel-watched master killed with SIGKILL while
//! runs are being created and executed. Baton's processes are not restarted: they follow the
//! promoted replica by themselves, and with `BATON_MIN_REPLICAS_ACK=1` every run whose
//! creation was confirmed completes.

use std::time::{Duration, Instant};

use baton_tests::{TestApp, Topology, wait_until};
use common::config::{ReplicaAckOptions, StoreOptions};
use common::engine::model::{Priority, QueueName, RunKind, RunSpec, RunStatus, TaskSpec};
use common::store::Store;
use serde_json::json;

/// Runs created before the master is killed.
const BEFORE: usize = 30;
/// Runs created while it fails over.
const DURING: usize = 30;
/// Longest wait for a promoted replica.
const FAILOVER_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait for every confirmed run to finish.
const FINISH_TIMEOUT: Duration = Duration::from_secs(90);

/// A two-task chain whose first task takes a moment, so runs are mid-way when Redis fails.
fn chain(id: &str) -> RunSpec {
    let task = |key: &str, script: &str, depends_on: Vec<usize>| TaskSpec {
        key: key.into(),
        executor: json!({"type": "command", "argv": ["sh", "-c", script]}),
        depends_on,
        queue: None,
        max_retries: 2,
        timeout_secs: None,
        is_hook: false,
    };
    RunSpec {
        id: Some(id.to_owned()),
        definition: "failover.chain".into(),
        kind: RunKind::Workflow,
        payload: json!({}),
        tasks: vec![
            task("first", "sleep 0.2", vec![]),
            task("second", "echo done", vec![0]),
        ],
        queue: QueueName::default(),
        priority: Priority::Normal,
        periodic: false,
        not_before_ms: None,
        hooks: Default::default(),
    }
}

/// An app on `topology` with two workers and a scheduler, creating runs through a store that
/// waits for one replica, as an API with `BATON_MIN_REPLICAS_ACK=1` does.
async fn app_on(topology: Topology) -> (TestApp, Store) {
    let app = TestApp::builder()
        .topology(topology)
        .api(false)
        .workers(2)
        .scheduler(true)
        .env("BATON_MIN_REPLICAS_ACK", "1")
        .worker_env("BATON_HEARTBEAT_SECS", "1")
        .worker_env("BATON_BLOCK_MS", "200")
        .worker_env("BATON_RETRY_BASE_MS", "200")
        .scheduler_env("BATON_TICK_MS", "100")
        .scheduler_env("BATON_VISIBILITY_TIMEOUT_SECS", "3")
        .spawn()
        .await;
    let store = Store::connect(&waiting_for(&app, 1, 500))
        .await
        .expect("the store connects");
    (app, store)
}

/// The options of a store of `app` that waits up to `timeout_ms` for `replicas` replicas.
fn waiting_for(app: &TestApp, replicas: u16, timeout_ms: u64) -> StoreOptions {
    StoreOptions {
        redis_url: app.redis_url().to_owned(),
        prefix: app.prefix().to_owned(),
        retention_secs: 3600,
        shards: common::keys::DEFAULT_SHARDS,
        list_cache_runs: common::config::DEFAULT_LIST_CACHE_RUNS,
        tls: Default::default(),
        replication: ReplicaAckOptions {
            min_replicas_ack: replicas,
            replicas_ack_timeout_ms: timeout_ms,
        },
    }
}

/// Creates run `id`, trying again (with the same id, which is harmless) for up to
/// `patience`; true when a creation was confirmed.
async fn create_confirmed(store: &Store, id: &str, patience: Duration) -> bool {
    let deadline = Instant::now() + patience;
    loop {
        match store.create_run(&chain(id)).await {
            Ok(_) => return true,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(_) => return false,
        }
    }
}

/// Waits until every run of `ids` succeeded, and checks no Baton process had to restart.
async fn every_confirmed_run_succeeds(app: &mut TestApp, store: &Store, ids: &[String]) {
    wait_until(
        FINISH_TIMEOUT,
        "every confirmed run succeeds after the failover",
        || async {
            let Ok(statuses) = store.run_statuses(ids).await else {
                return false;
            };
            statuses
                .iter()
                .all(|status| *status == Some(RunStatus::Success))
        },
    )
    .await;
    for worker in app.workers_mut() {
        assert!(
            worker.is_running(),
            "a worker exited: {}",
            worker.log_tail(30)
        );
    }
    let scheduler = app.scheduler_mut().expect("the scheduler runs");
    assert!(scheduler.is_running(), "{}", scheduler.log_tail(30));
}

/// Creates runs, kills a master with `kill` (which returns what to wait for), keeps
/// creating while the replica takes over, and checks every confirmed run completes.
async fn survives_losing_a_master(
    mut app: TestApp,
    store: Store,
    kill: impl FnOnce(&mut TestApp, &Store) -> Box<dyn FnOnce(&mut TestApp)>,
) {
    let mut confirmed = Vec::new();
    for i in 0..BEFORE {
        let id = format!("before-{i}");
        assert!(
            create_confirmed(&store, &id, Duration::from_secs(5)).await,
            "run {id} was not confirmed before any failure"
        );
        confirmed.push(id);
    }
    let wait_for_failover = kill(&mut app, &store);
    for i in 0..DURING {
        let id = format!("during-{i}");
        // The dead master's shards cannot confirm until a replica is promoted (and then
        // have no replica left to confirm with): only confirmed runs are promised.
        if create_confirmed(&store, &id, Duration::from_millis(300)).await {
            confirmed.push(id);
        }
    }
    wait_for_failover(&mut app);
    every_confirmed_run_succeeds(&mut app, &store, &confirmed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_master_killed_mid_run_fails_over_and_every_confirmed_run_completes() {
    let (app, store) = app_on(Topology::Cluster).await;
    survives_losing_a_master(app, store, |app, store| {
        let key = store.keys().run("before-0");
        let cluster = app
            .redis_deployment()
            .cluster_mut()
            .expect("the app runs on a cluster");
        let master = cluster.master_of_key(&key);
        cluster.kill_node(master);
        Box::new(move |app: &mut TestApp| {
            let cluster = app.redis_deployment().cluster_mut().expect("a cluster");
            cluster.wait_for_failover(master, FAILOVER_TIMEOUT);
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sentinel_master_killed_mid_run_fails_over_and_every_confirmed_run_completes() {
    let (app, store) = app_on(Topology::Sentinel).await;
    survives_losing_a_master(app, store, |app, _| {
        let sentinel = app
            .redis_deployment()
            .sentinel_mut()
            .expect("the app runs on Sentinel");
        let old = sentinel.kill_master();
        Box::new(move |app: &mut TestApp| {
            let sentinel = app.redis_deployment().sentinel_mut().expect("Sentinel");
            let new = sentinel.wait_for_failover(old, FAILOVER_TIMEOUT);
            assert_ne!(new, old);
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_no_replica_acknowledged_is_not_confirmed_and_can_be_repeated() {
    // One server has no replica: a creation that waits for one is refused, and repeating it
    // with the same id once acknowledgements are not asked for creates the run once.
    let app = TestApp::builder()
        .topology(Topology::Single)
        .api(false)
        .spawn()
        .await;
    let waiting = Store::connect(&waiting_for(&app, 1, 100))
        .await
        .expect("connects");
    let error = waiting
        .create_run(&chain("unreplicated"))
        .await
        .expect_err("no replica can acknowledge");
    assert!(
        matches!(
            error,
            common::error::StoreError::NotReplicated {
                acknowledged: 0,
                wanted: 1
            }
        ),
        "{error}"
    );
    let plain = Store::connect(&waiting_for(&app, 0, 100))
        .await
        .expect("connects");
    plain
        .create_run(&chain("unreplicated"))
        .await
        .expect("created");
    let run = plain
        .get_run("unreplicated")
        .await
        .expect("readable")
        .expect("the run exists");
    assert_eq!(run.tasks.len(), 2);
    let queued = plain
        .queue_summary(&QueueName::default())
        .await
        .expect("summary")
        .expect("the queue exists");
    assert_eq!(
        queued.waiting_total(),
        1,
        "the run's first job is queued once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_confirms_a_workflow_only_once_a_replica_holds_it() {
    const DEFINITIONS: &str = r#"
example.ONE:
  tasks:
    - ECHO
executors:
  ECHO: {type: command, argv: ["true"]}
"#;
    let body = json!({"project": "example", "name": "ONE", "payload": {}});
    // Sentinel's master has a replica to acknowledge; a lone server has none.
    for (topology, expected) in [(Topology::Sentinel, 201), (Topology::Single, 503)] {
        let app = TestApp::builder()
            .topology(topology)
            .definitions(DEFINITIONS)
            .api_env("BATON_MIN_REPLICAS_ACK", "1")
            .api_env("BATON_REPLICAS_ACK_TIMEOUT_MS", "200")
            .spawn()
            .await;
        let answer = app.admin().await.post("/api/workflows", &body).await;
        assert_eq!(answer.status, expected, "{topology:?}: {}", answer.body);
        if expected == 503 {
            let error = answer.body["error"].as_str().unwrap_or_default();
            assert!(error.contains("replicas"), "{}", answer.body);
        } else {
            assert_eq!(answer.body["status"], "pending", "{}", answer.body);
        }
    }
}

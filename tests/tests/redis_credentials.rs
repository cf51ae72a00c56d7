//! A Redis Cluster and a Sentinel-watched master that require a password: Baton reaches
//! every node with the password `BATON_REDIS_URL` carries, and without it is refused.

use std::time::Duration;

use baton_tests::runs::echo_run;
use baton_tests::{TestApp, Topology, wait_until};
use common::config::StoreOptions;
use common::engine::model::RunStatus;
use common::store::Store;

const PASSWORD: &str = "cluster-and-sentinel-secret";

/// A plain connection to the server (or sentinel) at `url`.
fn connect(url: &str) -> redis::Connection {
    redis::Client::open(url)
        .and_then(|client| client.get_connection())
        .unwrap_or_else(|error| panic!("cannot reach {url}: {error}"))
}

/// `CONFIG SET`s `pairs` on the server at `url` (no password yet).
fn configure(url: &str, pairs: &[(&str, &str)]) {
    let mut connection = connect(url);
    for (name, value) in pairs {
        let () = redis::cmd("CONFIG")
            .arg("SET")
            .arg(name)
            .arg(value)
            .query(&mut connection)
            .unwrap_or_else(|error| panic!("CONFIG SET {name} on {url}: {error}"));
    }
}

/// `url` (`redis+cluster://HOSTS` or `redis+sentinel://HOSTS/NAME`) with `:PASSWORD@`.
fn with_password(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    format!("{scheme}://:{PASSWORD}@{rest}")
}

fn options(app: &TestApp, url: &str) -> StoreOptions {
    StoreOptions {
        redis_url: url.to_owned(),
        prefix: app.prefix().to_owned(),
        retention_secs: 3600,
        shards: common::keys::DEFAULT_SHARDS,
        list_cache_runs: common::config::DEFAULT_LIST_CACHE_RUNS,
        tls: Default::default(),
        replication: Default::default(),
    }
}

/// With the password, a worker runs runs created through the store; without it, the store
/// does not connect.
async fn works_only_with_the_password(app: &mut TestApp, plain_url: &str) {
    let url = with_password(plain_url);
    let refused = Store::connect(&options(app, plain_url)).await;
    assert!(
        refused.is_err(),
        "connected to {plain_url} without the password"
    );
    let store = Store::connect(&options(app, &url))
        .await
        .expect("connects with the password");
    let worker = app.spawn_process(
        "baton-worker",
        &[],
        &[("BATON_REDIS_URL", &url), ("BATON_BLOCK_MS", "200")],
    );
    app.workers_mut().push(worker);
    let id = store
        .create_run(&echo_run("credentials.check"))
        .await
        .expect("created");
    wait_until(Duration::from_secs(30), "the run succeeds", || async {
        matches!(store.get_run(&id).await, Ok(Some(run)) if run.status == RunStatus::Success)
    })
    .await;
    let log = app.workers()[0].log();
    assert!(!log.contains(PASSWORD), "the worker logged the password");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_that_requires_a_password_is_reached_with_the_urls_password_on_every_node() {
    let mut app = TestApp::builder()
        .topology(Topology::Cluster)
        .api(false)
        .spawn()
        .await;
    let cluster = app.redis_deployment().cluster_mut().expect("a cluster");
    let plain_url = cluster.url();
    for node in cluster.node_urls() {
        configure(
            &node,
            &[("masterauth", PASSWORD), ("requirepass", PASSWORD)],
        );
    }
    works_only_with_the_password(&mut app, &plain_url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sentinel_master_that_requires_a_password_is_reached_with_the_urls_password() {
    let mut app = TestApp::builder()
        .topology(Topology::Sentinel)
        .api(false)
        .spawn()
        .await;
    let sentinel = app.redis_deployment().sentinel_mut().expect("Sentinel");
    let plain_url = sentinel.url();
    let master = sentinel.master_url();
    let sentinels = sentinel.sentinel_urls();
    // The replica first (it must know the password before its master asks for it).
    let mut asked = connect(&sentinels[0]);
    let replicas: Vec<std::collections::HashMap<String, String>> = redis::cmd("SENTINEL")
        .arg("REPLICAS")
        .arg(baton_tests::redis_sentinel::MASTER_NAME)
        .query(&mut asked)
        .expect("the sentinel lists the replicas");
    for replica in &replicas {
        let url = format!("redis://{}:{}", replica["ip"], replica["port"]);
        configure(&url, &[("masterauth", PASSWORD), ("requirepass", PASSWORD)]);
    }
    configure(
        &master,
        &[("masterauth", PASSWORD), ("requirepass", PASSWORD)],
    );
    for url in &sentinels {
        let mut connection = connect(url);
        let () = redis::cmd("SENTINEL")
            .arg("SET")
            .arg(baton_tests::redis_sentinel::MASTER_NAME)
            .arg("auth-pass")
            .arg(PASSWORD)
            .query(&mut connection)
            .expect("the sentinel takes the password");
    }
    works_only_with_the_password(&mut app, &plain_url).await;
}

//! The Redis Cluster and Sentinel fixtures: they come up, serve data, and fail over when a
//! master is killed, with the `redis` clients the application uses following along.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use baton_tests::redis_sentinel::MASTER_NAME;
use baton_tests::{RedisCluster, RedisSentinel};
use redis::cluster::ClusterClient;

/// How long a test waits for a failover; it takes about 2-3 s.
const FAILOVER_TIMEOUT: Duration = Duration::from_secs(15);

/// Uses the async cluster connection, as the application does: the sync
/// `redis::cluster::ClusterConnection` of `redis` 1.8 keeps retrying a killed master's address
/// and fails with "Connection refused" even after the failover (a new connection works).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_client_follows_a_failover() {
    let started = Instant::now();
    let mut cluster = RedisCluster::start();
    let masters = cluster.masters();
    assert_eq!(masters.len(), 3, "{masters:?}");
    let expected_url: Vec<String> = masters.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    assert_eq!(
        cluster.url(),
        format!("redis+cluster://{}", expected_url.join(","))
    );
    assert_eq!(cluster.node_urls().len(), 6);
    eprintln!("cluster up after {:?}", started.elapsed());

    let client = ClusterClient::new(cluster.node_urls()).unwrap();
    let mut con = client.get_async_connection().await.unwrap();
    let keys: Vec<String> = (0..12).map(|i| format!("{{tag-{i}}}:value")).collect();
    for key in &keys {
        let () = redis::cmd("SET")
            .arg(key)
            .arg(format!("before {key}"))
            .query_async(&mut con)
            .await
            .unwrap();
    }
    let owners: HashSet<u16> = keys.iter().map(|k| cluster.master_of_key(k)).collect();
    assert!(owners.len() > 1, "all keys on one master: {owners:?}");
    assert!(owners.iter().all(|p| masters.contains(p)), "{owners:?}");
    // WAIT goes to every master: the writes reached a replica everywhere.
    let replicas: i64 = redis::cmd("WAIT")
        .arg(1)
        .arg(1000)
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(replicas, 1);

    let key = &keys[0];
    let dead = cluster.master_of_key(key);
    cluster.kill_node(dead);
    let killed = Instant::now();
    cluster.wait_for_failover(dead, FAILOVER_TIMEOUT);
    eprintln!("failed over after {:?}", killed.elapsed());

    let new_master = cluster.master_of_key(key);
    assert_ne!(new_master, dead);
    let masters_now = cluster.masters();
    assert_eq!(masters_now.len(), 3, "{masters_now:?}");
    assert!(!masters_now.contains(&dead), "{masters_now:?}");
    assert!(
        !cluster.url().contains(&format!(":{dead}")),
        "{}",
        cluster.url()
    );

    // The same connection finds the promoted replica, with the data it had replicated.
    for key in &keys {
        let value: Option<String> = redis::cmd("GET")
            .arg(key)
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!(value, Some(format!("before {key}")));
    }
    let () = redis::cmd("SET")
        .arg(key)
        .arg("after")
        .query_async(&mut con)
        .await
        .unwrap();
    let value: String = redis::cmd("GET")
        .arg(key)
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(value, "after");
    eprintln!("done after {:?}", started.elapsed());
}

#[test]
fn sentinels_promote_the_replica_when_the_master_dies() {
    let started = Instant::now();
    let mut deployment = RedisSentinel::start();
    let sentinels: Vec<String> = deployment
        .sentinel_urls()
        .iter()
        .map(|u| u.trim_start_matches("redis://").to_owned())
        .collect();
    assert_eq!(sentinels.len(), 3);
    assert_eq!(
        deployment.url(),
        format!("redis+sentinel://{}/baton", sentinels.join(","))
    );
    let old = deployment.master_port();
    assert_eq!(deployment.master_url(), format!("redis://127.0.0.1:{old}"));
    eprintln!("sentinels up after {:?}", started.elapsed());

    let mut con = redis::Client::open(deployment.master_url())
        .unwrap()
        .get_connection()
        .unwrap();
    let () = redis::cmd("SET")
        .arg("survives")
        .arg("yes")
        .query(&mut con)
        .unwrap();
    let replicas: i64 = redis::cmd("WAIT").arg(1).arg(1000).query(&mut con).unwrap();
    assert_eq!(replicas, 1);

    assert_eq!(deployment.kill_master(), old);
    let killed = Instant::now();
    let new = deployment.wait_for_failover(old, FAILOVER_TIMEOUT);
    eprintln!("failed over after {:?}", killed.elapsed());
    assert_ne!(new, old);
    assert_eq!(deployment.master_port(), new);

    let mut con = redis::Client::open(deployment.master_url())
        .unwrap()
        .get_connection()
        .unwrap();
    let value: Option<String> = redis::cmd("GET").arg("survives").query(&mut con).unwrap();
    assert_eq!(value.as_deref(), Some("yes"));
    let () = redis::cmd("SET")
        .arg("after")
        .arg("yes")
        .query(&mut con)
        .unwrap();

    // The `redis` crate's sentinel client finds the new master too.
    let mut sentinel = redis::sentinel::Sentinel::build(deployment.sentinel_urls()).unwrap();
    let client = sentinel.master_for(MASTER_NAME, None).unwrap();
    let mut con = client.get_connection().unwrap();
    let value: Option<String> = redis::cmd("GET").arg("after").query(&mut con).unwrap();
    assert_eq!(value.as_deref(), Some("yes"));
    eprintln!("done after {:?}", started.elapsed());
}

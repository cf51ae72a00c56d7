//! The Redis a test runs on: one server, a Redis Cluster or a master watched by Sentinel.
//!
//! Tests written for any deployment start theirs with [`RedisDeployment::start`] (or through
//! [`TestApp`](crate::TestApp), which does); the deployment comes from
//! `BATON_TEST_REDIS_TOPOLOGY` (`single`, the default; `cluster`; `sentinel`), so the same
//! tests run on all three (`scripts/test` runs the engine's on each).

use common::config::StoreOptions;
use common::store::{RedisConnection, RedisTarget};

use crate::redis_cluster::RedisCluster;
use crate::redis_sentinel::RedisSentinel;
use crate::redis_server::RedisServer;

/// The variable that picks the deployment tests run on.
pub const TOPOLOGY_VARIABLE: &str = "BATON_TEST_REDIS_TOPOLOGY";

/// A kind of Redis deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    /// One `redis-server`.
    Single,
    /// Three masters with a replica each.
    Cluster,
    /// A master, a replica and three sentinels.
    Sentinel,
}

impl Topology {
    /// The deployment `BATON_TEST_REDIS_TOPOLOGY` names (`single` when unset).
    ///
    /// Panics on a value that names none.
    pub fn from_env() -> Self {
        match std::env::var(TOPOLOGY_VARIABLE).as_deref() {
            Err(_) | Ok("") | Ok("single") => Self::Single,
            Ok("cluster") => Self::Cluster,
            Ok("sentinel") => Self::Sentinel,
            Ok(other) => {
                panic!("{TOPOLOGY_VARIABLE}={other} is not one of single, cluster, sentinel")
            }
        }
    }
}

/// A running Redis deployment, stopped when dropped.
#[derive(Debug)]
pub enum RedisDeployment {
    /// One server.
    Single(RedisServer),
    /// A Redis Cluster.
    Cluster(RedisCluster),
    /// A master watched by Sentinel.
    Sentinel(RedisSentinel),
}

impl RedisDeployment {
    /// Starts a deployment of `topology`; a single server gets `extra_args`.
    pub fn start(topology: Topology, extra_args: &[&str]) -> Self {
        match topology {
            Topology::Single => Self::Single(RedisServer::start_with(extra_args)),
            Topology::Cluster => Self::Cluster(RedisCluster::start()),
            Topology::Sentinel => Self::Sentinel(RedisSentinel::start()),
        }
    }

    /// The URL Baton reaches the deployment at (`BATON_REDIS_URL`).
    pub fn url(&self) -> String {
        match self {
            Self::Single(server) => server.url(),
            Self::Cluster(cluster) => cluster.url(),
            Self::Sentinel(sentinel) => sentinel.url(),
        }
    }

    /// Its kind.
    pub fn topology(&self) -> Topology {
        match self {
            Self::Single(_) => Topology::Single,
            Self::Cluster(_) => Topology::Cluster,
            Self::Sentinel(_) => Topology::Sentinel,
        }
    }

    /// The single server. Panics for a cluster or Sentinel: the test needs one server.
    pub fn single(&self) -> &RedisServer {
        match self {
            Self::Single(server) => server,
            other => panic!(
                "this test needs a single Redis server, not {:?}",
                other.topology()
            ),
        }
    }

    /// The single server, to stop or restart it. Panics for a cluster or Sentinel.
    pub fn single_mut(&mut self) -> &mut RedisServer {
        match self {
            Self::Single(server) => server,
            other => panic!(
                "this test needs a single Redis server, not {:?}",
                other.topology()
            ),
        }
    }

    /// The cluster, when it is one.
    pub fn cluster_mut(&mut self) -> Option<&mut RedisCluster> {
        match self {
            Self::Cluster(cluster) => Some(cluster),
            _ => None,
        }
    }

    /// The Sentinel set-up, when it is one.
    pub fn sentinel_mut(&mut self) -> Option<&mut RedisSentinel> {
        match self {
            Self::Sentinel(sentinel) => Some(sentinel),
            _ => None,
        }
    }

    /// A connection as Baton's own (commands routed by key on a cluster, to the master on
    /// Sentinel), for tests to look at keys directly.
    pub async fn connection(&self) -> RedisConnection {
        let options = StoreOptions {
            redis_url: self.url(),
            prefix: String::new(),
            retention_secs: 0,
            shards: common::keys::DEFAULT_SHARDS,
            list_cache_runs: common::config::DEFAULT_LIST_CACHE_RUNS,
            tls: Default::default(),
            replication: Default::default(),
        };
        RedisTarget::new(&options)
            .expect("the deployment's URL is valid")
            .dedicated_connection()
            .await
            .expect("connects to the test deployment")
    }
}

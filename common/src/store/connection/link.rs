//! One connection type for every deployment: a single server, a Redis Cluster or a master
//! found through Sentinel. The store and its callers send commands and pipelines through it
//! without knowing which.

use redis::aio::{ConnectionLike, ConnectionManager, MultiplexedConnection};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};

use super::cluster_pipeline;
use super::sentinel::SentinelConnection;

/// A connection to Baton's Redis, whatever its deployment. Cheap to clone: clones share the
/// underlying multiplexed connections.
#[derive(Clone)]
pub enum RedisConnection {
    /// A single server through a connection that reconnects by itself.
    Managed(ConnectionManager),
    /// A single server through a plain multiplexed connection (blocking reads).
    Multiplexed(MultiplexedConnection),
    /// A Redis Cluster: commands go to the node of their key's slot, following `MOVED` and
    /// `ASK` and the cluster's failovers.
    Cluster(ClusterConnection),
    /// The master that Sentinels name, followed across failovers.
    Sentinel(SentinelConnection),
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Managed(connection) => connection.req_packed_command(cmd),
            Self::Multiplexed(connection) => connection.req_packed_command(cmd),
            Self::Cluster(connection) => connection.req_packed_command(cmd),
            Self::Sentinel(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Managed(connection) => connection.req_packed_commands(pipeline, offset, count),
            Self::Multiplexed(connection) => {
                connection.req_packed_commands(pipeline, offset, count)
            }
            Self::Cluster(connection) => {
                if offset == 0 && count == pipeline.len() {
                    Box::pin(cluster_pipeline::send(connection, pipeline))
                } else {
                    connection.req_packed_commands(pipeline, offset, count)
                }
            }
            Self::Sentinel(connection) => connection.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Managed(connection) => connection.get_db(),
            Self::Multiplexed(connection) => connection.get_db(),
            Self::Cluster(connection) => connection.get_db(),
            Self::Sentinel(connection) => connection.get_db(),
        }
    }
}

//! The Redis store: every read and write of Baton's state goes through here.
//!
//! # Layout
//! One module per domain, as the crate is grouped:
//! - [`engine`]: runs, jobs and queues; dead letters, the scheduler's chores, the worker
//!   registry, the leader lease, run indexes and lists, outcome series and timings.
//! - [`auth`]: API keys with sealed secrets, replay memory, login attempts, console sessions.
//! - [`workflows`]: workflow definitions, their published set, and periodic slots fired.
//! - [`reports`]: report runs by key, and the report versions they become.
//! - [`releases`]: the Release Coordinator's records and release lifecycle transitions.
//! - [`projects`]: projects (Orchestra's) by integer id, and the human tasks people claim.
//! - [`tracked_cache`]: values kept in memory while Redis tracks their keys (runs' status and
//!   times, for lists).
//! - [`connection`]: the Redis client (one server, Cluster or Sentinel; password, TLS) and
//!   URLs shown with passwords masked.
//! - [`record_fields`]: records to and from the string fields of their hashes.
//!
//! Services connect with [`Store::connect_patiently`], which waits for a Redis that is not
//! reachable yet, and run what they prepare in Redis at start with [`patiently`], which rides
//! out a connection dropped meanwhile.

pub mod auth;
pub mod connection;
pub mod engine;
pub mod projects;
pub mod record_fields;
pub mod releases;
pub mod reports;
mod startup;
pub mod tracked_cache;
pub mod workflows;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use redis::{FromRedisValue, Pipeline};

use crate::config::{ReplicaAckOptions, StoreOptions};
use crate::engine::model::{Priority, QueueName};
use crate::error::StoreError;
use crate::keys::{CONSUMER_GROUP, Keys};
use crate::scripts;

pub use connection::{RedisConnection, RedisTarget, redacted_url};
pub use startup::patiently;

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// A handle on Baton's state in one Redis deployment. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    shared: RedisConnection,
    /// The connection creations wait for replicas on (`WAIT` holds up what follows it on a
    /// connection), when they do.
    acknowledged: Option<RedisConnection>,
    replication: ReplicaAckOptions,
    target: RedisTarget,
    keys: Keys,
    retention_secs: u64,
    known_queues: Arc<Mutex<HashSet<QueueName>>>,
    /// The fixed facts of the runs this process listed.
    run_facts: engine::run_facts::RunFactsCache,
    /// The status and times of the runs this process listed, while Redis tracks them.
    listed: tracked_cache::TrackedCache<engine::run_summaries::Listed>,
    /// Whether each status index this process listed from is empty, while Redis tracks it.
    empty_indexes: tracked_cache::TrackedCache<bool>,
    /// When this process last wrote each API key's use.
    key_uses: auth::key_uses::KeyUses,
    /// The key blocks of the shard scripts, named once.
    shard_key_blocks: engine::shard_call::ShardKeyBlocks,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("prefix", &self.keys.prefix())
            .finish()
    }
}

impl Store {
    /// Connects to Redis (a single server, a cluster or the master Sentinels name, with the
    /// URL's password, over TLS for `rediss://`), checks it answers and loads every script.
    /// The shared connection and the dedicated ones for blocking reads reach Redis the same
    /// way.
    pub async fn connect(options: &StoreOptions) -> StoreResult<Self> {
        let target = RedisTarget::new(options)?;
        let shared = target
            .shared_connection()
            .await
            .map_err(|cause| StoreError::Connect {
                url: redacted_url(&options.redis_url),
                cause,
            })?;
        let acknowledged = match options.replication.min_replicas_ack {
            0 => None,
            _ => Some(target.shared_connection().await?),
        };
        let tracked = match &target {
            RedisTarget::Single(client) => Some(&**client),
            _ => None,
        };
        let listed = tracked_cache::TrackedCache::new(tracked, options.list_cache_runs);
        // Every status index of every kind on every shard; none without the list cache.
        let status_index_count = match options.list_cache_runs {
            0 => 0,
            _ => {
                usize::from(options.shards)
                    * crate::keys::INDEXED_KINDS.len()
                    * (crate::keys::INDEXED_FINISHED.len() + 1)
            }
        };
        let empty_indexes = tracked_cache::TrackedCache::named(
            tracked,
            status_index_count,
            tracked_cache::INDEX_CONNECTION_NAME,
        );
        let store = Self {
            shared,
            acknowledged,
            replication: options.replication.clone(),
            target,
            keys: Keys::with_shards(options.prefix.clone(), options.shards),
            retention_secs: options.retention_secs,
            known_queues: Arc::default(),
            run_facts: Default::default(),
            listed,
            empty_indexes,
            key_uses: Default::default(),
            shard_key_blocks: Default::default(),
        };
        store.load_scripts().await?;
        store.check_shard_count().await?;
        tracing::info!(redis = %redacted_url(&options.redis_url), prefix = %options.prefix, shards = options.shards, "connected to Redis");
        Ok(store)
    }

    /// Key names of this deployment.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// Seconds finished runs are kept.
    pub fn retention_secs(&self) -> u64 {
        self.retention_secs
    }

    /// The connection for ordinary commands (bounded response time): one multiplexed
    /// connection shared by every task of the process, which pipelines their commands and
    /// reconnects by itself, so taking it costs no round trip.
    pub async fn conn(&self) -> StoreResult<RedisConnection> {
        Ok(self.shared.clone())
    }

    /// This store with a shared connection of its own, made on the calling task's runtime,
    /// and a cache of listed runs of its own (whose tracking connection its first list opens
    /// on that runtime; its other caches are this store's): a thread running a runtime of its
    /// own takes one, so that its commands are written and their replies read on that thread
    /// instead of being handed to the runtime that made this store's connections.
    pub async fn with_own_connection(&self) -> StoreResult<Self> {
        let mut store = self.clone();
        store.shared = self.target.shared_connection().await?;
        store.listed = self.listed.another();
        store.empty_indexes = self.empty_indexes.another();
        Ok(store)
    }

    /// A connection of its own with no response timeout, for blocking reads (`XREADGROUP
    /// BLOCK`) and pipelines whose replies may take long.
    pub async fn dedicated_connection(&self) -> StoreResult<RedisConnection> {
        Ok(self.target.dedicated_connection().await?)
    }

    /// A pub/sub connection (for the cancel channel).
    pub async fn pubsub(&self) -> StoreResult<redis::aio::PubSub> {
        Ok(self.target.pubsub().await?)
    }

    /// The connection for writes that wait for replicas: its own when
    /// `BATON_MIN_REPLICAS_ACK` is set, else the shared one.
    pub(crate) fn acknowledged_writes_conn(&self) -> RedisConnection {
        self.acknowledged
            .clone()
            .unwrap_or_else(|| self.shared.clone())
    }

    /// Adds a `WAIT` for the configured replicas after the last command of `pipe` (nothing
    /// when none are asked for). On a cluster it goes to the node of that command.
    pub(crate) fn wait_for_replicas(&self, pipe: &mut Pipeline) {
        let wanted = self.replication.min_replicas_ack;
        if wanted > 0 {
            pipe.cmd("WAIT")
                .arg(wanted)
                .arg(self.replication.replicas_ack_timeout_ms);
        }
    }

    /// Sends the write `pipe` on the connection for acknowledged writes from a task of its
    /// own, at once, so the caller can build its next while Redis runs this one.
    pub(crate) fn spawn_write(
        &self,
        pipe: Pipeline,
    ) -> tokio::task::JoinHandle<StoreResult<Vec<redis::Value>>> {
        let store = self.clone();
        tokio::spawn(async move {
            let mut conn = store.acknowledged_writes_conn();
            store.query_pipeline(&mut conn, &pipe).await
        })
    }

    /// The replies of a pipeline built with [`Store::wait_for_replicas`], without the
    /// `WAIT` replies, decoded; an error when a `WAIT` counted fewer replicas than asked.
    pub(crate) fn replicated<T: FromRedisValue>(
        &self,
        replies: Vec<redis::Value>,
    ) -> StoreResult<Vec<T>> {
        let wanted = self.replication.min_replicas_ack;
        if wanted == 0 {
            return replies
                .into_iter()
                .map(|reply| Ok(T::from_redis_value(reply).map_err(redis::RedisError::from)?))
                .collect();
        }
        let mut decoded = Vec::with_capacity(replies.len() / 2);
        let mut replies = replies.into_iter();
        while let (Some(reply), Some(acknowledged)) = (replies.next(), replies.next()) {
            let acknowledged =
                i64::from_redis_value(acknowledged).map_err(redis::RedisError::from)?;
            if acknowledged < i64::from(wanted) {
                return Err(StoreError::NotReplicated {
                    acknowledged,
                    wanted,
                });
            }
            decoded.push(T::from_redis_value(reply).map_err(redis::RedisError::from)?);
        }
        Ok(decoded)
    }

    /// Answers when Redis does.
    pub async fn ping(&self) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        redis::cmd("PING").query_async::<()>(&mut conn).await?;
        Ok(())
    }

    /// Records the shard count on first use and refuses a store written with another: runs
    /// would be looked for on the wrong shards.
    async fn check_shard_count(&self) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        let (_, recorded): ((), u16) = redis::pipe()
            .cmd("HSETNX")
            .arg(self.keys.meta())
            .arg("shards")
            .arg(self.keys.shard_count())
            .ignore()
            .cmd("HGET")
            .arg(self.keys.meta())
            .arg("shards")
            .query_async(&mut conn)
            .await
            .map(|(recorded,): (u16,)| ((), recorded))?;
        if recorded != self.keys.shard_count() {
            return Err(StoreError::ShardCount {
                configured: self.keys.shard_count(),
                recorded,
            });
        }
        Ok(())
    }

    async fn load_scripts(&self) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        for script in scripts::all() {
            script.prepare_invoke().load_async(&mut conn).await?;
        }
        Ok(())
    }

    /// Runs a pipeline; when Redis lost its script cache (a restart), reloads the scripts and
    /// runs it once more. Every pipeline Baton sends is safe to repeat.
    pub(crate) async fn query_pipeline<T: FromRedisValue>(
        &self,
        conn: &mut impl redis::aio::ConnectionLike,
        pipe: &Pipeline,
    ) -> StoreResult<T> {
        // Redis refuses an empty request; an empty pipeline answers as an empty array.
        if pipe.is_empty() {
            return Ok(T::from_redis_value(redis::Value::Array(Vec::new()))
                .map_err(redis::RedisError::from)?);
        }
        match pipe.query_async(conn).await {
            Err(error)
                if error.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) =>
            {
                self.load_scripts().await?;
                Ok(pipe.query_async(conn).await?)
            }
            other => Ok(other?),
        }
    }

    /// Creates the consumer group on every priority stream of `queue` on every shard (reading
    /// from the start, so jobs added before the group existed are not skipped) and records
    /// the queue name, in one round trip; a group that exists already is left as it is. Once
    /// done, this process does not ask again.
    pub async fn ensure_queue(&self, queue: &QueueName) -> StoreResult<()> {
        if self.is_known_queue(queue) {
            return Ok(());
        }
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for shard in self.keys.shards() {
            for priority in Priority::ALL {
                pipe.cmd("XGROUP")
                    .arg("CREATE")
                    .arg(self.keys.stream(shard, queue, priority))
                    .arg(CONSUMER_GROUP)
                    .arg("0")
                    .arg("MKSTREAM");
            }
        }
        pipe.cmd("SADD").arg(self.keys.queues()).arg(queue.as_str());
        let replies: Vec<redis::RedisResult<redis::Value>> = pipe.query_async(&mut conn).await?;
        for reply in replies {
            match reply {
                Err(error) if error.code() == Some("BUSYGROUP") => {}
                other => {
                    other?;
                }
            }
        }
        self.known_queues
            .lock()
            .map_err(|_| StoreError::Corrupt("queue cache poisoned".into()))?
            .insert(queue.clone());
        Ok(())
    }

    fn is_known_queue(&self, queue: &QueueName) -> bool {
        self.known_queues
            .lock()
            .map(|known| known.contains(queue))
            .unwrap_or(false)
    }

    /// Every queue name that has been used in this deployment.
    pub async fn queue_names(&self) -> StoreResult<Vec<QueueName>> {
        self.queue_set(&self.keys.queues()).await
    }

    /// The valid queue names in the set at `key` (the used queues, the paused ones).
    pub(crate) async fn queue_set<C: FromIterator<QueueName>>(&self, key: &str) -> StoreResult<C> {
        let mut conn = self.conn().await?;
        let names: Vec<String> = redis::cmd("SMEMBERS")
            .arg(key)
            .query_async(&mut conn)
            .await?;
        Ok(names
            .iter()
            .filter_map(|name| QueueName::parse(name).ok())
            .collect())
    }
}

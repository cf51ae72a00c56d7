//! A connection to the master that Sentinels name, which follows the master when it changes.
//!
//! The sentinels are asked for the master (and the master's `ROLE` checked) when a connection
//! is first needed. A request that fails because the connection broke, or because the server
//! turned out to be a replica (`READONLY`: a failover demoted it), drops the connection, so
//! the next request asks the sentinels again. The failed request itself is not repeated:
//! its caller decides, as it does for any Redis error.

use std::sync::{Arc, Mutex};

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{
    AsyncConnectionConfig, Cmd, ConnectionAddr, ErrorKind, Pipeline, RedisError, RedisFuture,
    RedisResult, ServerErrorKind, TlsCertificates, TlsMode, Value,
};

use super::address::SentinelAddress;

/// The sentinels of one master, shared by every connection to it.
pub struct Sentinels {
    client: tokio::sync::Mutex<SentinelClient>,
    db: i64,
}

impl Sentinels {
    /// The sentinels `address` names, reached over TLS (with `certificates`) when it says so.
    pub fn new(
        address: &SentinelAddress,
        certificates: Option<TlsCertificates>,
    ) -> RedisResult<Self> {
        let sentinels = address.sentinels.iter().map(|(host, port)| {
            if address.tls {
                ConnectionAddr::TcpTls {
                    host: host.clone(),
                    port: *port,
                    insecure: false,
                    tls_params: None,
                }
            } else {
                ConnectionAddr::Tcp(host.clone(), *port)
            }
        });
        let mut builder = SentinelClientBuilder::new(
            sentinels,
            &address.master_name,
            SentinelServerType::Master,
        )?
        .set_client_to_redis_db(address.db);
        if let Some(username) = &address.username {
            builder = builder.set_client_to_redis_username(username);
        }
        if let Some(password) = &address.password {
            builder = builder.set_client_to_redis_password(password);
        }
        if let Some(password) = &address.sentinel_password {
            builder = builder.set_client_to_sentinel_password(password);
        }
        if address.tls {
            builder = builder
                .set_client_to_redis_tls_mode(TlsMode::Secure)
                .set_client_to_sentinel_tls_mode(TlsMode::Secure);
            if let Some(certificates) = certificates {
                builder = builder
                    .set_client_to_redis_certificates(certificates.clone())
                    .set_client_to_sentinel_certificates(certificates);
            }
        }
        Ok(Self {
            client: tokio::sync::Mutex::new(builder.build()?),
            db: address.db,
        })
    }

    /// A client of the current master, as the sentinels name it and its `ROLE` confirms.
    pub async fn master(&self) -> RedisResult<redis::Client> {
        self.client.lock().await.async_get_client().await
    }
}

/// A multiplexed connection to the current master, opened on first use and reopened after
/// the master changed. Clones share the connection.
#[derive(Clone)]
pub struct SentinelConnection {
    sentinels: Arc<Sentinels>,
    config: AsyncConnectionConfig,
    current: Arc<Mutex<Current>>,
}

/// The open connection, numbered so that a failure drops only the connection it happened on.
#[derive(Default)]
struct Current {
    generation: u64,
    connection: Option<MultiplexedConnection>,
}

impl SentinelConnection {
    /// A connection to the master of `sentinels` with `config`'s timeouts; connects at once,
    /// so an unreachable master is an error here rather than at the first request.
    pub async fn connect(
        sentinels: Arc<Sentinels>,
        config: AsyncConnectionConfig,
    ) -> RedisResult<Self> {
        let connection = Self {
            sentinels,
            config,
            current: Arc::default(),
        };
        connection.open().await?;
        Ok(connection)
    }

    /// The open connection and its number, opening one when there is none.
    async fn open(&self) -> RedisResult<(u64, MultiplexedConnection)> {
        if let Some(open) = self.current_connection() {
            return Ok(open);
        }
        let master = self.sentinels.master().await?;
        let connection = master
            .get_multiplexed_async_connection_with_config(&self.config)
            .await?;
        let mut current = self.lock();
        if let Some(open) = &current.connection {
            // Another request reconnected meanwhile: share its connection.
            return Ok((current.generation, open.clone()));
        }
        current.generation += 1;
        current.connection = Some(connection.clone());
        tracing::info!(master = %master.get_connection_info().addr(), "connected to the master the sentinels name");
        Ok((current.generation, connection))
    }

    fn current_connection(&self) -> Option<(u64, MultiplexedConnection)> {
        let current = self.lock();
        current
            .connection
            .clone()
            .map(|connection| (current.generation, connection))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Current> {
        self.current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Drops connection `generation` when `failed` says the master is gone or changed.
    fn after_error(&self, generation: u64, failed: &RedisError) {
        if !master_lost(failed) {
            return;
        }
        let mut current = self.lock();
        if current.generation == generation && current.connection.take().is_some() {
            tracing::warn!(cause = %failed, "lost the Redis master; asking the sentinels again");
        }
    }

    /// Drops connection `generation` when a pipeline's reply holds a `READONLY` error.
    fn after_replies(&self, generation: u64, replies: &[Value]) {
        let demoted = replies.iter().find_map(|reply| match reply {
            Value::ServerError(error) if error.kind() == Some(ServerErrorKind::ReadOnly) => {
                Some(RedisError::from(error.clone()))
            }
            _ => None,
        });
        if let Some(error) = demoted {
            self.after_error(generation, &error);
        }
    }
}

/// Whether `error` means the connection no longer reaches a writable master.
fn master_lost(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_timeout()
        || matches!(
            error.kind(),
            ErrorKind::Server(ServerErrorKind::ReadOnly | ServerErrorKind::MasterDown)
        )
}

impl ConnectionLike for SentinelConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let (generation, mut connection) = self.open().await?;
            let reply = connection.req_packed_command(cmd).await;
            if let Err(error) = &reply {
                self.after_error(generation, error);
            }
            reply
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let (generation, mut connection) = self.open().await?;
            let replies = connection
                .req_packed_commands(pipeline, offset, count)
                .await;
            match &replies {
                Ok(values) => self.after_replies(generation, values),
                Err(error) => self.after_error(generation, error),
            }
            replies
        })
    }

    fn get_db(&self) -> i64 {
        self.sentinels.db
    }
}

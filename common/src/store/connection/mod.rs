//! Reaching Redis: a single server, a Redis Cluster or a master that Sentinels watch over,
//! as `BATON_REDIS_URL` names it ([`address`]); the connections the store sends its commands
//! through ([`RedisConnection`]); and the URL as logs and errors may show it, with its
//! password masked.
//!
//! - [`address`]: the three URL forms.
//! - [`link`]: [`RedisConnection`], one connection type for the three deployments.
//! - [`cluster_pipeline`]: pipelines cut by hash slot on a cluster.
//! - [`sentinel`]: a connection that follows the master the sentinels name.

pub mod address;
pub mod cluster_pipeline;
pub mod link;
pub mod sentinel;

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder, ClusterConfig};
use redis::{AsyncConnectionConfig, ClientTlsConfig, TlsCertificates, TlsMode};

use crate::config::{RedisTlsOptions, StoreOptions};
use crate::error::{InvalidInput, StoreError};

pub use address::RedisAddress;
pub use link::RedisConnection;
use sentinel::{SentinelConnection, Sentinels};

/// What replaces a URL's password wherever the URL is shown.
const MASK: &str = "***";
/// Longest wait for Redis to answer an ordinary command on the shared connection.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait for a connection to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The Redis deployment a store reaches, ready to open connections to it.
#[derive(Clone)]
pub enum RedisTarget {
    /// One server.
    Single(Box<redis::Client>),
    /// A Redis Cluster (and its seed nodes, for pub/sub).
    Cluster {
        /// The cluster client.
        client: Box<ClusterClient>,
        /// Clients of the seed nodes, tried in turn for pub/sub.
        seeds: Vec<redis::Client>,
    },
    /// The master the sentinels name.
    Sentinel(Arc<Sentinels>),
}

impl RedisTarget {
    /// The deployment `options` name, with the URL's credentials and TLS (verified against
    /// the CA file when one is given, else the system's roots, and presenting the client
    /// certificate when one is given).
    ///
    /// Certificate files with a URL that does not use TLS are refused, rather than silently
    /// sending the password in clear text.
    pub fn new(options: &StoreOptions) -> Result<Self, StoreError> {
        let address = RedisAddress::parse(&options.redis_url)?;
        let certificates = if options.tls.is_configured() {
            if !address.is_tls() {
                return Err(InvalidInput::new(format!(
                    "Redis certificate files are given, but BATON_REDIS_URL '{}' is not a \
                     rediss:// URL",
                    redacted_url(&options.redis_url)
                ))
                .into());
            }
            Some(certificates(&options.tls)?)
        } else {
            None
        };
        Ok(match address {
            RedisAddress::Single(info) => Self::Single(Box::new(match certificates {
                Some(certificates) => redis::Client::build_with_tls(*info, certificates)?,
                None => redis::Client::open(*info)?,
            })),
            RedisAddress::Cluster(cluster) => {
                let seeds = cluster
                    .nodes
                    .iter()
                    .map(|node| match &certificates {
                        Some(certificates) => {
                            redis::Client::build_with_tls(node.clone(), certificates.clone())
                        }
                        None => redis::Client::open(node.clone()),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let mut builder = ClusterClientBuilder::new(cluster.nodes)
                    .connection_timeout(CONNECT_TIMEOUT)
                    .response_timeout(RESPONSE_TIMEOUT);
                if cluster.tls {
                    builder = builder.tls(TlsMode::Secure);
                }
                if let Some(certificates) = certificates {
                    builder = builder.certs(certificates);
                }
                Self::Cluster {
                    client: Box::new(builder.build()?),
                    seeds,
                }
            }
            RedisAddress::Sentinel(sentinel) => {
                Self::Sentinel(Arc::new(Sentinels::new(&sentinel, certificates)?))
            }
        })
    }

    /// The connection for ordinary commands, answered within a bounded time, shared by every
    /// task of a process; it reconnects (and on a cluster or Sentinel, follows failovers) by
    /// itself.
    pub async fn shared_connection(&self) -> redis::RedisResult<RedisConnection> {
        Ok(match self {
            Self::Single(client) => {
                // Bounded, but not redis' 500 ms default: a loaded Redis (or a loaded
                // machine) answering a script late must not turn a request into an error.
                let config = ConnectionManagerConfig::new()
                    .set_response_timeout(Some(RESPONSE_TIMEOUT))
                    .set_connection_timeout(Some(CONNECT_TIMEOUT));
                RedisConnection::Managed(
                    ConnectionManager::new_with_config((**client).clone(), config).await?,
                )
            }
            Self::Cluster { client, .. } => {
                RedisConnection::Cluster(client.get_async_connection().await?)
            }
            Self::Sentinel(sentinels) => {
                let config = AsyncConnectionConfig::new()
                    .set_response_timeout(Some(RESPONSE_TIMEOUT))
                    .set_connection_timeout(Some(CONNECT_TIMEOUT));
                RedisConnection::Sentinel(
                    SentinelConnection::connect(sentinels.clone(), config).await?,
                )
            }
        })
    }

    /// A connection of its own with no response timeout, for blocking reads (`XREADGROUP
    /// BLOCK`) and pipelines whose replies may take long.
    pub async fn dedicated_connection(&self) -> redis::RedisResult<RedisConnection> {
        let config = AsyncConnectionConfig::new()
            .set_response_timeout(None)
            .set_connection_timeout(Some(CONNECT_TIMEOUT));
        Ok(match self {
            Self::Single(client) => RedisConnection::Multiplexed(
                client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await?,
            ),
            Self::Cluster { client, .. } => RedisConnection::Cluster(
                client
                    .get_async_connection_with_config(
                        ClusterConfig::new().set_connection_timeout(CONNECT_TIMEOUT),
                    )
                    .await?,
            ),
            Self::Sentinel(sentinels) => RedisConnection::Sentinel(
                SentinelConnection::connect(sentinels.clone(), config).await?,
            ),
        })
    }

    /// A pub/sub connection. Published messages reach every node of a cluster and the
    /// replicas of a master, so any reachable node will do: a cluster's seed nodes are tried
    /// in turn, and on Sentinel the current master is used.
    pub async fn pubsub(&self) -> redis::RedisResult<redis::aio::PubSub> {
        match self {
            Self::Single(client) => client.get_async_pubsub().await,
            Self::Cluster { seeds, .. } => {
                let mut last_error = None;
                for seed in seeds {
                    match seed.get_async_pubsub().await {
                        Ok(pubsub) => return Ok(pubsub),
                        Err(error) => last_error = Some(error),
                    }
                }
                Err(last_error.unwrap_or_else(|| {
                    std::io::Error::other("the cluster has no seed node").into()
                }))
            }
            Self::Sentinel(sentinels) => sentinels.master().await?.get_async_pubsub().await,
        }
    }
}

/// The single-server client of `options` (see [`RedisTarget::new`]); an error when the URL
/// names a cluster or sentinels.
pub fn client(options: &StoreOptions) -> Result<redis::Client, StoreError> {
    match RedisTarget::new(options)? {
        RedisTarget::Single(client) => Ok(*client),
        _ => Err(InvalidInput::new(format!(
            "BATON_REDIS_URL '{}' names a cluster or sentinels, not one Redis server",
            redacted_url(&options.redis_url)
        ))
        .into()),
    }
}

/// Reads the certificate files of `tls`.
fn certificates(tls: &RedisTlsOptions) -> Result<TlsCertificates, InvalidInput> {
    let read = |path: &std::path::Path, what: &str| {
        std::fs::read(path).map_err(|error| {
            InvalidInput::new(format!(
                "cannot read the Redis {what} {}: {error}",
                path.display()
            ))
        })
    };
    let root_cert = tls
        .redis_ca_cert
        .as_deref()
        .map(|path| read(path, "CA certificate"))
        .transpose()?;
    let client_tls = match (&tls.redis_client_cert, &tls.redis_client_key) {
        (Some(cert), Some(key)) => Some(ClientTlsConfig {
            client_cert: read(cert, "client certificate")?,
            client_key: read(key, "client key")?,
        }),
        (None, None) => None,
        _ => {
            return Err(InvalidInput::new(
                "a Redis client certificate needs its key, and a key its certificate \
                 (BATON_REDIS_CLIENT_CERT and BATON_REDIS_CLIENT_KEY)",
            ));
        }
    };
    Ok(TlsCertificates {
        client_tls,
        root_cert,
    })
}

/// `url` with its password (if any) replaced by `***`, fit for logs and error messages.
/// Text that is not a URL is shown only up to its scheme, since it may hold a password in a
/// form the parser did not understand. A list of nodes (`redis+cluster://:PW@A,B`, seed URLs
/// separated by commas) is masked node by node.
pub fn redacted_url(url: &str) -> String {
    let mut pieces = url.split(',');
    let first = redact_one(pieces.next().unwrap_or_default());
    pieces.fold(first, |mut shown, piece| {
        shown.push(',');
        // A later piece is a bare `HOST:PORT[/NAME]` unless it is a URL of its own.
        if piece.contains("://") || piece.contains('@') {
            shown.push_str(&redact_one(piece));
        } else {
            shown.push_str(piece);
        }
        shown
    })
}

fn redact_one(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                // Only fails for URLs that cannot have a password, which this one has.
                let _ = parsed.set_password(Some(MASK));
            }
            parsed.to_string()
        }
        Err(_) => match url.split_once("://") {
            Some((scheme, _)) => format!("{scheme}://{MASK}"),
            None => MASK.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(url: &str, tls: RedisTlsOptions) -> StoreOptions {
        StoreOptions {
            redis_url: url.to_owned(),
            prefix: "baton".into(),
            retention_secs: 60,
            shards: crate::keys::DEFAULT_SHARDS,
            list_cache_runs: crate::config::DEFAULT_LIST_CACHE_RUNS,
            tls,
            replication: Default::default(),
        }
    }

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            redacted_url("redis://:s3cret@redis:6379"),
            "redis://:***@redis:6379"
        );
        assert_eq!(
            redacted_url("rediss://baton:s3cret@redis.example.com:6380/2"),
            "rediss://baton:***@redis.example.com:6380/2"
        );
        assert_eq!(
            redacted_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
        assert_eq!(
            redacted_url("unix:///run/redis.sock"),
            "unix:///run/redis.sock"
        );
        assert_eq!(redacted_url("redis://:s3cret@[bad"), "redis://***");
        assert_eq!(redacted_url("s3cret"), "***");
    }

    #[test]
    fn debug_output_of_the_options_hides_the_password() {
        let shown = format!(
            "{:?}",
            options("redis://:s3cret@redis", RedisTlsOptions::default())
        );
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("redis://:***@redis"), "{shown}");
    }

    #[test]
    fn urls_with_and_without_credentials_or_tls_make_clients() {
        for url in [
            "redis://127.0.0.1:6379",
            "redis://:pw@127.0.0.1:6379",
            "redis://user:pw@127.0.0.1:6379/3",
            "rediss://:pw@redis.example.com:6380",
        ] {
            let client = client(&options(url, RedisTlsOptions::default())).unwrap();
            let info = client.get_connection_info();
            if url.contains(":pw@") {
                assert_eq!(info.redis_settings().password(), Some("pw"), "{url}");
            }
            assert_eq!(
                matches!(info.addr(), redis::ConnectionAddr::TcpTls { .. }),
                url.starts_with("rediss://"),
                "{url}"
            );
        }
    }

    #[test]
    fn bad_urls_and_certificates_without_tls_are_refused_without_the_password() {
        let error = client(&options("http://:s3cret@x", RedisTlsOptions::default()))
            .unwrap_err()
            .to_string();
        assert!(!error.contains("s3cret"), "{error}");
        let tls = RedisTlsOptions {
            redis_ca_cert: Some("/nonexistent/ca.pem".into()),
            ..RedisTlsOptions::default()
        };
        let error = client(&options("redis://:s3cret@x", tls.clone()))
            .unwrap_err()
            .to_string();
        assert!(error.contains("not a rediss:// URL"), "{error}");
        assert!(!error.contains("s3cret"), "{error}");
        let error = client(&options("rediss://:s3cret@x", tls))
            .unwrap_err()
            .to_string();
        assert!(error.contains("/nonexistent/ca.pem"), "{error}");
    }
}

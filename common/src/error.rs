//! Errors shared across Baton.

use thiserror::Error;

/// Input that Baton refuses, with a message that says why.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct InvalidInput(pub String);

impl InvalidInput {
    /// An error carrying `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// The error of parsing `text` as one of the names of `T` (a status, state or kind): names
/// them all, so the caller sees what would have been accepted.
pub fn unknown_name<T: strum::VariantNames>(text: &str) -> InvalidInput {
    InvalidInput::new(format!(
        "unknown name '{text}': one of {}",
        T::VARIANTS.join(", ")
    ))
}

/// A failure of a store operation.
#[derive(Debug, Error)]
pub enum StoreError {
    /// Redis could not be reached or answered with an error.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// No connection to Redis could be made at first.
    #[error("cannot connect to Redis at {url}: {cause} (set BATON_REDIS_URL)")]
    Connect {
        /// The URL tried, without its password.
        url: String,
        /// Why.
        cause: redis::RedisError,
    },
    /// The input was refused.
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    /// Fewer replicas than `BATON_MIN_REPLICAS_ACK` acknowledged a write in time: it is on
    /// the master but may be lost if the master fails; repeating it is safe.
    #[error(
        "only {acknowledged} of the {wanted} replicas asked for acknowledged the write in time"
    )]
    NotReplicated {
        /// Replicas that acknowledged.
        acknowledged: i64,
        /// Replicas asked for.
        wanted: u16,
    },
    /// The run does not exist (never did, or expired).
    #[error("run '{0}' not found")]
    RunNotFound(String),
    /// Stored data could not be decoded.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The store was written with another shard count than this process is configured with.
    #[error("BATON_SHARDS is {configured} but this store was written with {recorded} shards")]
    ShardCount {
        /// The shard count of this process.
        configured: u16,
        /// The shard count the store records.
        recorded: u16,
    },
    /// A write sent on a task of its own ended without its reply (the runtime is shutting
    /// down); repeating it is safe.
    #[error("a write was interrupted before Redis answered it")]
    Interrupted,
    /// A script answered something it never answers: nothing was acknowledged.
    #[error("unexpected reply from script {script}: {reply}")]
    UnexpectedReply {
        /// The script.
        script: &'static str,
        /// What it answered.
        reply: String,
    },
}

impl StoreError {
    /// Whether the failure is Redis not being reachable for now (refused or dropped
    /// connections, timeouts, a Sentinel that names no master yet, a cluster that is down or
    /// a server still loading its data), so that trying again later may succeed. A refused
    /// password, a malformed URL or any answer Redis gave on purpose is not.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Redis(cause) | Self::Connect { cause, .. } => redis_unreachable(cause),
            _ => false,
        }
    }
}

/// Whether `error` means Redis cannot be reached for now.
fn redis_unreachable(error: &redis::RedisError) -> bool {
    use redis::{ErrorKind, RetryMethod};
    match error.kind() {
        ErrorKind::AuthenticationFailed
        | ErrorKind::InvalidClientConfig
        | ErrorKind::EmptySentinelList => false,
        ErrorKind::MasterNameNotFoundBySentinel
        | ErrorKind::NoValidReplicasFoundBySentinel
        | ErrorKind::ClusterConnectionNotFound => true,
        _ => {
            error.is_io_error()
                || error.is_connection_refusal()
                || error.is_connection_dropped()
                || error.is_timeout()
                || matches!(
                    error.retry_method(),
                    RetryMethod::WaitAndRetry | RetryMethod::RefreshSlotsAndRetry
                )
        }
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(error: serde_json::Error) -> Self {
        Self::Corrupt(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error Redis answers with `reply` (`-LOADING ...`, say).
    fn server_error(reply: &str) -> redis::RedisError {
        match redis::parse_redis_value(format!("-{reply}\r\n").as_bytes()) {
            Ok(redis::Value::ServerError(error)) => error.into(),
            other => panic!("not a server error: {other:?}"),
        }
    }

    #[test]
    fn redis_being_away_is_transient_and_a_refusal_on_purpose_is_not() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let transient = [
            StoreError::Connect {
                url: "redis://127.0.0.1:1".into(),
                cause: refused.into(),
            },
            StoreError::Redis(std::io::Error::from(std::io::ErrorKind::ConnectionReset).into()),
            StoreError::Redis(server_error(
                "LOADING Redis is loading the dataset in memory",
            )),
            StoreError::Redis(server_error("CLUSTERDOWN The cluster is down")),
            StoreError::Redis(
                (
                    redis::ErrorKind::MasterNameNotFoundBySentinel,
                    "no master yet",
                )
                    .into(),
            ),
        ];
        for error in transient {
            assert!(error.is_transient(), "{error}");
        }
        let lasting = [
            StoreError::Connect {
                url: "redis://127.0.0.1:1".into(),
                cause: (redis::ErrorKind::AuthenticationFailed, "wrong password").into(),
            },
            StoreError::Redis(server_error("NOPERM this user has no permissions")),
            StoreError::Redis(server_error("ERR unknown command")),
            StoreError::ShardCount {
                configured: 16,
                recorded: 8,
            },
            StoreError::Invalid(InvalidInput::new("bad")),
        ];
        for error in lasting {
            assert!(!error.is_transient(), "{error}");
        }
    }
}

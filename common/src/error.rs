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
    /// A script answered something it never answers: nothing was acknowledged.
    #[error("unexpected reply from script {script}: {reply}")]
    UnexpectedReply {
        /// The script.
        script: &'static str,
        /// What it answered.
        reply: String,
    },
}

impl From<serde_json::Error> for StoreError {
    fn from(error: serde_json::Error) -> Self {
        Self::Corrupt(error.to_string())
    }
}

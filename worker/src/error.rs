//! How a task execution can fail.

use thiserror::Error;

/// Why a task attempt did not succeed.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum TaskError {
    /// The attempt failed; it is retried while the task has retries left.
    #[error("{0}")]
    Failed(String),
    /// The task can never succeed as given (unknown executor type, malformed spec or payload);
    /// it fails at once, without retries.
    #[error("{0}")]
    Invalid(String),
    /// The attempt was stopped through its cancellation token.
    #[error("interrupted")]
    Interrupted,
}

//! The use cases every client of Baton calls (the HTTP fronts, the web console, a command
//! line): each checks its input, acts through the store and answers with a typed result, so a
//! handler only parses, calls and renders.
//!
//! # Layout
//! - [`workflows`]: starting a workflow from its definition (payload checked against its JSON
//!   Schema), relaunching and canceling one.
//! - [`reports`]: running a report at a branch or commit, with checked parameters.
//! - [`releases`]: studies mirrored from the data service (a sync of them all, and those a
//!   new release names first).

pub mod releases;
pub mod reports;
pub mod workflows;

use crate::error::StoreError;

/// Why a use case refused or failed; each front renders it in its own error format.
#[derive(Debug, thiserror::Error)]
pub enum OperationError {
    /// No loaded workflow definition has this full name (`project.NAME`).
    #[error("Workflow {0} not found")]
    UnknownWorkflow(String),
    /// No workflow run has this id (or it is another front's run).
    #[error("Workflow {0} not found")]
    WorkflowNotFound(String),
    /// The payload breaks the workflow's JSON Schema: each problem with its JSON path
    /// (`payload/name: ...`).
    #[error("Payload is not valid")]
    InvalidPayload(Vec<String>),
    /// The report (or what the run names in it) does not exist.
    #[error("{0}")]
    ReportNotFound(String),
    /// The request is invalid (an unknown branch, a bad parameter, a broken report config).
    #[error("{0}")]
    Invalid(String),
    /// The current state refuses the operation (git cannot do it, no free version id).
    #[error("{0}")]
    Conflict(String),
    /// A dependency stopped before answering (a git call was interrupted).
    #[error("{0}")]
    Interrupted(String),
    /// The store failed or refused the input.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Result of a use case.
pub type OperationResult<T> = Result<T, OperationError>;

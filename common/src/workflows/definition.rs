//! What a loaded workflow is: [`WorkflowDefinition`], what Director's API shows of it and its
//! compiled [`Definition`], with its [`Hooks`].

use std::path::PathBuf;

use serde_json::Value;

use super::schema::PayloadSchema;
use crate::store::definitions::Definition;

/// Hook task names of a workflow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hooks {
    /// Runs when the workflow succeeds.
    pub success: Option<String>,
    /// Runs when the workflow fails.
    pub failure: Option<String>,
}

/// A loaded workflow: what Director's API shows, and the compiled definition.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowDefinition {
    /// `project.NAME`.
    pub fullname: String,
    /// The project (before the dot).
    pub project: String,
    /// The name (after the dot).
    pub name: String,
    /// `tasks` as written, for `GET /api/definitions`.
    pub tasks_yaml: Value,
    /// `periodic` as written.
    pub periodic_json: Option<Value>,
    /// The payload's JSON Schema (read from its file when given by name), compiled.
    pub schema: Option<PayloadSchema>,
    /// Hook task names.
    pub hooks: Hooks,
    /// Keep only the last N runs (Director's `retention.offset`).
    pub retention_offset: Option<u64>,
    /// The compiled DAG, followed by the hook tasks (`is_hook`) that [`Definition::hooks`]
    /// points at.
    pub definition: Definition,
    /// The file it came from.
    pub source: PathBuf,
}

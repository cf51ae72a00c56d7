//! Projects (Orchestra's model): workflows of machine and human steps, loaded from YAML, and
//! projects, each a run of its workflow.
//!
//! - [`workflow`]: the workflow files of `BATON_PROJECTS`, loaded and checked.
//! - [`form`]: a human step's form, the JSON Schema its submissions must match.
//! - [`project`]: a new project's fields, its priority and task class, and its run.

pub mod form;
pub mod project;
pub mod workflow;

//! Baton's core: the domain model, the Redis store and the queue protocol that the API, the
//! workers and the scheduler are thin shells over.
//!
//! # Layout
//! Grouped by domain; each domain's Redis access lives beside the others' under [`store`].
//! - [`engine`]: what every front stands on: runs, tasks and jobs with their statuses, queue
//!   names, run specs as DAGs, periodic schedules, retry backoff, task failures.
//! - [`auth`]: HTTP signatures (draft-cavage: parse, sign, verify) and secrets sealed at rest.
//! - [`workflows`]: workflow definitions in Celery Director's YAML format.
//! - [`reports`]: orderly reports: configs and parameters, the git repository, scripts, their
//!   outputs and artefacts, versions, changelogs, data queries and bundles.
//! - [`releases`]: the Release Coordinator's ids, state machines and versions, the
//!   task-service protocol and the data service studies are mirrored from.
//! - [`projects`]: Orchestra's workflows of machine and human steps, and projects as runs.
//! - [`operations`]: the use cases the fronts, the console and a command line call
//!   (starting a workflow, running a report, ...), so handlers only parse, call and render.
//! - [`store`]: Redis access, one module per domain, over one connection type that reaches a
//!   single server, a cluster or a Sentinel-watched master.
//! - [`keys`]: every Redis key name, each carrying its cluster hash tag.
//! - [`scripts`]: the Lua scripts behind every multi-key transition (`lua/*.lua`).
//! - [`outbound`]: the policy every outbound HTTP call follows (no private addresses unless
//!   allowed, no redirects, no credentials in URLs, bounded quotes of answers).
//! - [`script_env`]: the explicit environment of commands and report scripts; reserved names.
//! - [`config`]: settings shared by every binary (flags and environment).
//! - [`error`]: shared error types.
//! - [`time`]: clock helpers.
//! - [`signals`]: graceful shutdown on SIGTERM and SIGINT.
//! - `test_support` (with the `test-support` feature): real git repositories and files for
//!   tests and benchmarks.

pub mod auth;
pub mod config;
pub mod engine;
pub mod error;
pub mod keys;
pub mod operations;
pub mod outbound;
pub mod projects;
pub mod releases;
pub mod reports;
pub mod script_env;
pub mod scripts;
pub mod signals;
pub mod store;
pub mod time;
pub mod workflows;

#[cfg(any(test, feature = "test-support"))]
pub mod test_support;

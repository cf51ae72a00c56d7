//! Baton's core: the domain model, the Redis store and the queue protocol that the API, the
//! workers and the scheduler are thin shells over.
//!
//! # Layout
//! - [`model`]: runs, tasks, jobs and their statuses as typed enums; run specs as DAGs.
//! - [`keys`]: every Redis key name, each carrying its cluster hash tag.
//! - [`scripts`]: the Lua scripts behind every multi-key transition (`lua/*.lua`).
//! - [`store`]: operations on runs, queues, workers and the scheduler lease.
//! - [`director`]: workflow definitions in Celery Director's YAML format.
//! - [`config`]: settings shared by every binary (flags and environment).
//! - [`reports`]: orderly report configs, run parameters, version ids and run keys.
//! - [`report_version`]: what a report version records (files, data, changelog).
//! - [`changelog`]: orderly's `changelog.txt`, and which version each entry belongs to.
//! - [`report_script`]: how a report's script is started (argv and environment).
//! - [`report_outputs`]: what a version records after its script ran, and storing its files.
//! - [`bundles`]: reports packed into zips, run elsewhere, and imported as versions.
//! - [`report_globals`]: global resources: a repository folder of files reports share.
//! - [`reports_repo`]: the git repository of reports: configs, exports, status, fetch, pull.
//! - [`releases`]: the Release Coordinator's ids, task and release state machines, versions.
//! - [`task_service`]: the task-service protocol over HTTP (status pings, actions).
//! - [`dataservice`]: the data service studies are mirrored from (`/studies`, paged).
//! - [`outbound`]: the policy every outbound HTTP call follows (no private addresses unless
//!   allowed, no redirects, no credentials in URLs, bounded quotes of answers).
//! - [`projects`]: Orchestra's workflows of machine and human steps, and projects as runs.
//! - [`script_env`]: the explicit environment of commands and report scripts; reserved names.
//! - [`schedule`]: periodic schedules (fixed interval or cron) and their slots.
//! - [`artefacts`]: the artefact store of report versions (local directory or S3), with md5s.
//! - [`backoff`]: retry delays with exponential backoff and jitter.
//! - [`error`]: shared error types.
//! - [`signing`]: HTTP signatures (draft-cavage), signing and verifying.
//! - [`sealing`]: secrets sealed at rest under the master key.
//! - [`time`]: clock helpers.
//! - [`signals`]: graceful shutdown on SIGTERM and SIGINT.
//! - [`operations`]: the use cases the fronts, the console and a command line call
//!   (starting a workflow, running a report, ...), so handlers only parse, call and render.

pub mod artefacts;
pub mod backoff;
pub mod bundles;
pub mod changelog;
pub mod config;
pub mod dataservice;
pub mod director;
pub mod error;
pub mod failure;
pub mod keys;
pub mod model;
pub mod operations;
pub mod outbound;
pub mod projects;
pub mod releases;
pub mod report_data;
pub mod report_databases;
pub mod report_globals;
pub mod report_outputs;
pub mod report_script;
pub mod report_version;
pub mod reports;
pub mod reports_repo;
pub mod schedule;
pub mod script_env;
pub mod scripts;
pub mod sealing;
pub mod signals;
pub mod signing;
pub mod store;
pub mod task_service;
pub mod time;

#[cfg(test)]
mod test_support;

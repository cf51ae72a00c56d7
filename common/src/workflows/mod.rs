//! Workflow definitions in Celery Director's YAML format (`workflows.yml`), compiled to DAGs.
//!
//! # Files
//! [`load_dir`] reads every `*.yml` and `*.yaml` file of a directory (`BATON_DEFINITIONS`),
//! sorted by name and not recursively; the `schemas/` subdirectory holds schema files only.
//! The first invalid file stops the load with a [`DefinitionError`] naming the file and the
//! line (`etl.yml:12:1: workflow 'example.ETL': group 'G' has no tasks`). Syntax errors carry
//! the parser's line and column; errors found after parsing point at the line of the
//! workflow's key (`project.NAME:`) or of the executor's entry.
//!
//! # Workflows
//! Each top-level key `project.NAME` (exactly one dot, both parts non-empty) is a workflow:
//!
//! ```yaml
//! example.RANDOMS:
//!   queue: {default: q1, customs: {ADD: q2}}   # or just `queue: q1`
//!   tasks:
//!     - GROUP_RANDOMS:
//!         type: group
//!         tasks:
//!           - RANDOM
//!           - [RANDOM, DOUBLE]                 # a chain inside a group (Baton's extension)
//!     - ADD
//!   periodic: {interval: 3600, payload: {dry_run: false}}
//!   schema: randoms.json                       # or a JSON Schema inline
//!   hooks: {success: NOTIFY_OK, failure: NOTIFY_ERROR}
//!   retention: {offset: 100}
//! ```
//!
//! - `tasks` is a chain: its items run in order. An item is a task name or a group
//!   `{NAME: {type: group, tasks: [...]}}`, whose members run in parallel. A member is a task
//!   name, a list (a chain, run in order) or another group, nested as deep as needed. The item
//!   after a group waits for the last task of every member (fan-in); the members of a group
//!   placed after a task each start by waiting for it (fan-out). A task's `key` is its name,
//!   and a name may appear more than once.
//! - `queue`: the default queue of the tasks, and per-task-name `customs`; never a human queue
//!   (`human`, `human.NAME`), which belongs to projects' human steps.
//! - `periodic`: exactly one of `interval` (seconds), `crontab` (5 Unix fields
//!   `m h dom mon dow`) or Director's legacy `schedule` (fields ordered `m h dow dom mon`,
//!   converted to the Unix order), and the `payload` of the runs it fires (`{}` when absent).
//!   Expressions are checked with [`CronSchedule`] when the file is loaded.
//! - `schema`: the payload's JSON Schema, inline or as a file name under `schemas/` next to the
//!   definition files (JSON or YAML; `.json` is added to a name without an extension).
//! - `hooks`: task names run once the workflow finishes, on `success` or `failure`. They are
//!   not part of the DAG: they are compiled as hook tasks (`is_hook`, waiting for the last
//!   tasks of the workflow, whose results they receive) listed after the DAG's tasks and
//!   indexed by [`Definition::hooks`], and the engine runs the one matching the outcome. Their
//!   names are in [`WorkflowDefinition::hooks`].
//! - `retention`: `offset`, how many runs to keep.
//!
//! # Executors (Baton's extension)
//! Director maps task names to Python functions; Baton maps them to executors, in a top-level
//! `executors:` key of the same files:
//!
//! ```yaml
//! executors:
//!   EXTRACT: {type: command, argv: [sh, -c, "..."], env: {MODE: fast}, retries: 2, timeout: 60}
//!   NOTIFY_OK: {type: http, url: "https://hooks.example.com/ok"}
//!   ADD: {type: handler, name: add}
//! ```
//!
//! `retries` is the number of attempts after the first (`max_retries`, 0 by default) and
//! `timeout` the seconds an attempt may run (no limit by default). The executors of all the
//! files form one namespace: a name defined twice with different specs is an error naming
//! both files.
//!
//! **A task name with no `executors` entry runs `{type: handler, name: TASK_NAME}`**: the Rust
//! handler registered on the worker under that name. A handler's name must be a built-in one
//! ([`BUILT_IN_HANDLERS`]) or be listed under a top-level `handlers:` key (the handlers an
//! embedding application registers on its workers), so a misspelt task name is refused when the
//! files load, at its line, instead of failing when it runs:
//!
//! ```yaml
//! handlers: [add, resize_image]
//! ```
//!
//! Task names (and hook names) are 1 to 128 ASCII letters, digits, `_`, `-` or `.`.
//!
//! # Modules
//! - [`load`]: loading the definition files of a directory (or texts): their top-level keys
//!   (workflows, `executors`, `handlers`), the executors applied to the tasks, the handlers
//!   checked.
//! - [`definition`]: what a loaded workflow is ([`WorkflowDefinition`], [`Hooks`]).
//! - [`error`]: [`DefinitionError`], and the line of the file it points at.
//! - `compile`: one workflow compiled: its name, tasks, queues, hooks and retention.
//! - `blocks`: the task blocks of `tasks` (chains and groups) compiled to a DAG.
//! - `periodic`: the `periodic` block (interval, crontab or legacy schedule).
//! - [`schema`]: the payload's JSON Schema, read and compiled ([`PayloadSchema`]).
//! - `executors`: the top-level `executors:` block.
//! - [`handlers`]: the handlers a task may run, and the check that refuses unknown ones.
//! - `yaml`: reading YAML values, shared by the readers above.
//!
//! [`load_dir`]: load::load_dir
//! [`DefinitionError`]: error::DefinitionError
//! [`WorkflowDefinition`]: definition::WorkflowDefinition
//! [`WorkflowDefinition::hooks`]: definition::WorkflowDefinition::hooks
//! [`Hooks`]: definition::Hooks
//! [`PayloadSchema`]: schema::PayloadSchema
//! [`BUILT_IN_HANDLERS`]: handlers::BUILT_IN_HANDLERS
//! [`CronSchedule`]: crate::engine::schedule::CronSchedule
//! [`Definition::hooks`]: crate::workflows::definition::Definition::hooks

mod blocks;
mod compile;
pub mod definition;
pub mod error;
mod executors;
pub mod handlers;
pub mod load;
mod periodic;
pub mod schema;
#[cfg(test)]
mod tests;
mod yaml;

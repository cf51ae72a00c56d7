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

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};
use serde_yaml::Value as Yaml;

use crate::engine::executor::ExecutorSpec;
use crate::engine::model::{Priority, QueueName, RunHooks, TaskSpec};
use crate::engine::schedule::CronSchedule;
use crate::workflows::definition::{Definition, PeriodicSpec};

/// The top-level key of the executors; every other top-level key but [`HANDLERS_KEY`] is a
/// workflow.
const EXECUTORS_KEY: &str = "executors";

/// The top-level key listing the Rust handlers registered on the workers besides the built-in
/// ones ([`BUILT_IN_HANDLERS`]).
const HANDLERS_KEY: &str = "handlers";

/// The handlers every worker has.
pub const BUILT_IN_HANDLERS: [&str; 2] = ["noop", "probe"];

/// The keys a workflow may have.
const WORKFLOW_KEYS: [&str; 6] = ["tasks", "queue", "periodic", "schema", "hooks", "retention"];

/// The longest task name.
const MAX_TASK_NAME: usize = 128;

/// A definition file that cannot be loaded: where, and why.
///
/// Displayed as `FILE:LINE:COLUMN: MESSAGE`, leaving out what is not known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {message}", file.display(), location(*line, *column))]
pub struct DefinitionError {
    /// The file (the directory itself when it cannot be read).
    pub file: PathBuf,
    /// Line (from 1), when known.
    pub line: Option<usize>,
    /// Column (from 1), when known.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// `:LINE:COLUMN`, `:LINE` or nothing.
fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!(":{line}:{column}"),
        (Some(line), None) => format!(":{line}"),
        _ => String::new(),
    }
}

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

/// A workflow's payload JSON Schema, compiled once when its definition loads; an invalid
/// schema is a load error naming the workflow. Cheap to clone (the validator is shared).
#[derive(Clone)]
pub struct PayloadSchema {
    /// The schema as written.
    json: Value,
    /// The compiled validator.
    validator: Arc<jsonschema::Validator>,
}

impl PayloadSchema {
    /// Compiles `json`; the error says why it is not a valid JSON Schema.
    pub fn compile(json: Value) -> Result<Self, String> {
        let validator = jsonschema::validator_for(&json)
            .map_err(|error| format!("'schema' is not a valid JSON Schema: {error}"))?;
        Ok(Self {
            json,
            validator: Arc::new(validator),
        })
    }

    /// The schema as written, for `GET /api/definitions`.
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// What is wrong with `payload`, each problem named with its JSON path from `payload`
    /// (`payload/name: 1 is not of type "string"`); empty when it is valid.
    pub fn problems(&self, payload: &Value) -> Vec<String> {
        self.validator
            .iter_errors(payload)
            .map(|error| format!("payload{}: {error}", error.instance_path))
            .collect()
    }
}

impl PartialEq for PayloadSchema {
    fn eq(&self, other: &Self) -> bool {
        self.json == other.json
    }
}

impl std::fmt::Debug for PayloadSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PayloadSchema").field(&self.json).finish()
    }
}

/// How one task name runs: an entry of `executors`.
#[derive(Debug, Clone, PartialEq)]
struct Executor {
    /// The [`ExecutorSpec`] as JSON.
    spec: Value,
    /// `max_retries`.
    retries: u32,
    /// `timeout_secs`.
    timeout: Option<u64>,
    /// The file that defined it first.
    source: PathBuf,
}

impl Executor {
    /// True when both say the same thing (wherever they come from).
    fn same_as(&self, other: &Executor) -> bool {
        (&self.spec, self.retries, self.timeout) == (&other.spec, other.retries, other.timeout)
    }
}

/// Loads every definition file of `dir` (`*.yml` and `*.yaml`, sorted by name, not
/// recursive). Workflows come back sorted by full name.
pub fn load_dir(dir: &Path) -> Result<Vec<WorkflowDefinition>, DefinitionError> {
    let failure = |file: &Path, message: String| DefinitionError {
        file: file.to_path_buf(),
        line: None,
        column: None,
        message,
    };
    let entries = std::fs::read_dir(dir).map_err(|error| {
        failure(
            dir,
            format!("cannot read the definitions directory: {error}"),
        )
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|error| {
                failure(
                    dir,
                    format!("cannot read the definitions directory: {error}"),
                )
            })?
            .path();
        let is_definition = matches!(
            path.extension().and_then(|extension| extension.to_str()),
            Some("yml" | "yaml")
        );
        if is_definition && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    let mut documents = Vec::with_capacity(files.len());
    for file in files {
        let text = std::fs::read_to_string(&file)
            .map_err(|error| failure(&file, format!("cannot read: {error}")))?;
        documents.push((file, text));
    }
    load_documents(dir, &documents)
}

/// Loads the definitions of one file's `text`, reported as coming from `source`; schema
/// files are looked up under `schemas/` next to `source`.
pub fn load_str(text: &str, source: &Path) -> Result<Vec<WorkflowDefinition>, DefinitionError> {
    let dir = source.parent().unwrap_or_else(|| Path::new(""));
    load_documents(dir, &[(source.to_path_buf(), text.to_owned())])
}

/// Loads definitions from `(file, text)` pairs, in order, as [`load_dir`] does with the files
/// of `dir`; schema files are looked up under `dir/schemas/`.
pub fn load_documents(
    dir: &Path,
    documents: &[(PathBuf, String)],
) -> Result<Vec<WorkflowDefinition>, DefinitionError> {
    let (workflows, handlers) = compile_documents(dir, documents)?;
    check_handlers(documents, &workflows, &handlers)?;
    Ok(workflows)
}

/// Compiles the workflows of `documents` with their executors, and gathers the handler names
/// known to the workers (built in, or listed under `handlers`).
fn compile_documents(
    dir: &Path,
    documents: &[(PathBuf, String)],
) -> Result<(Vec<WorkflowDefinition>, BTreeSet<String>), DefinitionError> {
    let mut executors: BTreeMap<String, Executor> = BTreeMap::new();
    let mut handlers: BTreeSet<String> =
        BUILT_IN_HANDLERS.iter().map(|&name| name.into()).collect();
    let mut workflows: Vec<WorkflowDefinition> = Vec::new();
    for (file, text) in documents {
        let source = Source { file, text };
        let yaml: Yaml = serde_yaml::from_str(text).map_err(|error| DefinitionError {
            file: file.clone(),
            line: error.location().map(|location| location.line()),
            column: error.location().map(|location| location.column()),
            message: format!("invalid YAML: {error}"),
        })?;
        let root = match yaml {
            Yaml::Mapping(root) => root,
            Yaml::Null => continue,
            other => {
                return Err(source.error(
                    None,
                    format!(
                        "a definition file must be a mapping of workflows ('project.NAME') \
                         and 'executors', not {}",
                        describe(&other)
                    ),
                ));
            }
        };
        for (key, value) in &root {
            let Some(key) = key.as_str() else {
                return Err(source.error(
                    None,
                    format!("top-level keys must be strings, not {}", describe(key)),
                ));
            };
            if key == EXECUTORS_KEY {
                read_executors(&source, value, &mut executors)?;
                continue;
            }
            if key == HANDLERS_KEY {
                let names = read_handlers(value)
                    .map_err(|message| source.workflow_error(HANDLERS_KEY, message))?;
                handlers.extend(names);
                continue;
            }
            let workflow = compile_workflow(dir, &source, key, value)?;
            if let Some(other) = workflows.iter().find(|w| w.fullname == workflow.fullname) {
                return Err(source.workflow_error(
                    key,
                    format!(
                        "workflow '{key}' is defined twice: in {} and in {}",
                        other.source.display(),
                        file.display()
                    ),
                ));
            }
            workflows.push(workflow);
        }
    }
    // Executors may come from any file, before or after the workflows that use them.
    for task in workflows
        .iter_mut()
        .flat_map(|workflow| workflow.definition.tasks.iter_mut())
    {
        if let Some(executor) = executors.get(&task.key) {
            task.executor = executor.spec.clone();
            task.max_retries = executor.retries;
            task.timeout_secs = executor.timeout;
        }
    }
    workflows.sort_by(|a, b| a.fullname.cmp(&b.fullname));
    Ok((workflows, handlers))
}

/// Reads a `handlers` list: task names.
fn read_handlers(value: &Yaml) -> Result<Vec<String>, String> {
    let names = match value {
        Yaml::Sequence(names) => names,
        Yaml::Null => return Ok(Vec::new()),
        other => {
            return Err(format!(
                "'handlers' must list handler names, not be {}",
                describe(other)
            ));
        }
    };
    names
        .iter()
        .map(|name| {
            let name = name
                .as_str()
                .ok_or_else(|| format!("handler names must be strings, not {}", describe(name)))?;
            check_task_name(name).map_err(|message| format!("handler '{name}': {message}"))?;
            Ok(name.to_owned())
        })
        .collect()
}

/// Refuses a task run by a handler (its own name's, or an executor's) that no worker has:
/// neither built in nor listed under `handlers`. The error points at the task in its file.
fn check_handlers(
    documents: &[(PathBuf, String)],
    workflows: &[WorkflowDefinition],
    handlers: &BTreeSet<String>,
) -> Result<(), DefinitionError> {
    for workflow in workflows {
        for task in &workflow.definition.tasks {
            let Ok(ExecutorSpec::Handler { name }) =
                serde_json::from_value::<ExecutorSpec>(task.executor.clone())
            else {
                continue;
            };
            if handlers.contains(&name) {
                continue;
            }
            let text = documents
                .iter()
                .find(|(file, _)| *file == workflow.source)
                .map_or("", |(_, text)| text.as_str());
            let source = Source {
                file: &workflow.source,
                text,
            };
            let what = if name == task.key {
                format!(
                    "task '{}' of workflow '{}' has no entry in 'executors' and no handler \
                     of that name is known",
                    task.key, workflow.fullname
                )
            } else {
                format!(
                    "task '{}' of workflow '{}' runs handler '{name}', which is not known",
                    task.key, workflow.fullname
                )
            };
            let known: Vec<&str> = handlers.iter().map(String::as_str).collect();
            return Err(source.task_error(
                &workflow.fullname,
                &task.key,
                format!(
                    "{what} (known handlers: {}; list the handlers your workers register \
                     under a top-level 'handlers:')",
                    known.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// A definition file being read, to locate errors in.
struct Source<'a> {
    file: &'a Path,
    text: &'a str,
}

impl Source<'_> {
    /// An error at `position` (0-based line and column), if known.
    fn error(&self, position: Option<(usize, usize)>, message: String) -> DefinitionError {
        DefinitionError {
            file: self.file.to_path_buf(),
            line: position.map(|(line, _)| line + 1),
            column: position.map(|(_, column)| column + 1),
            message,
        }
    }

    /// An error at the line of the top-level key `key`.
    fn workflow_error(&self, key: &str, message: String) -> DefinitionError {
        let position = self
            .text
            .lines()
            .enumerate()
            .find(|(_, line)| key_column(line, key) == Some(0))
            .map(|(index, _)| (index, 0));
        self.error(position, message)
    }

    /// An error at the first line of workflow `key` that names task `name` (or at the
    /// workflow's own line).
    fn task_error(&self, key: &str, name: &str, message: String) -> DefinitionError {
        let lines: Vec<&str> = self.text.lines().collect();
        let Some(start) = lines
            .iter()
            .position(|line| key_column(line, key) == Some(0))
        else {
            return self.error(None, message);
        };
        let is_name_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
        let position = lines
            .iter()
            .enumerate()
            .skip(start + 1)
            .take_while(|(_, line)| line.is_empty() || line.starts_with([' ', '\t', '#', '-']))
            .filter(|(_, line)| !line.trim_start().starts_with('#'))
            .find_map(|(index, line)| {
                line.match_indices(name)
                    .find(|(at, _)| {
                        let before = line[..*at].chars().next_back();
                        let after = line[at + name.len()..].chars().next();
                        !before.is_some_and(is_name_char) && !after.is_some_and(is_name_char)
                    })
                    .map(|(at, _)| (index, at))
            });
        self.error(position.or(Some((start, 0))), message)
    }

    /// An error at the line of the entry `name` of `executors` (or of `executors` itself).
    fn executor_error(&self, name: Option<&str>, message: String) -> DefinitionError {
        let lines: Vec<&str> = self.text.lines().collect();
        let Some(start) = lines
            .iter()
            .position(|line| key_column(line, EXECUTORS_KEY) == Some(0))
        else {
            return self.error(None, message);
        };
        let end = lines
            .iter()
            .enumerate()
            .skip(start + 1)
            .find(|(_, line)| !line.is_empty() && !line.starts_with([' ', '\t', '#', '-']))
            .map_or(lines.len(), |(index, _)| index);
        let entry = name.and_then(|name| {
            (start + 1..end).find_map(|index| {
                key_column(lines[index], name)
                    .filter(|column| *column > 0)
                    .map(|column| (index, column))
            })
        });
        self.error(entry.or(Some((start, 0))), message)
    }
}

/// The column where `line` holds the mapping key `key` (bare or quoted), if it does.
fn key_column(line: &str, key: &str) -> Option<usize> {
    let content = line.trim_start();
    let column = line.len() - content.len();
    [key.to_owned(), format!("\"{key}\""), format!("'{key}'")]
        .iter()
        .any(|written| {
            content
                .strip_prefix(written.as_str())
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .then_some(column)
}

/// What a YAML value is, for messages.
fn describe(value: &Yaml) -> &'static str {
    match value {
        Yaml::Null => "an empty value",
        Yaml::Bool(_) => "a boolean",
        Yaml::Number(_) => "a number",
        Yaml::String(_) => "a string",
        Yaml::Sequence(_) => "a list",
        Yaml::Mapping(_) => "a mapping",
        Yaml::Tagged(_) => "a tagged value",
    }
}

/// The value as JSON.
fn to_json(value: &Yaml) -> Result<Value, String> {
    serde_json::to_value(value).map_err(|error| format!("cannot be read as JSON: {error}"))
}

/// Checks a task name: 1 to [`MAX_TASK_NAME`] ASCII letters, digits, `_`, `-` or `.`.
fn check_task_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= MAX_TASK_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "invalid task name '{name}': use 1-{MAX_TASK_NAME} letters, digits, '_', '-' or '.'"
        ))
    }
}

/// Checks that a mapping has only `allowed` keys.
fn check_keys(mapping: &serde_yaml::Mapping, allowed: &[&str], what: &str) -> Result<(), String> {
    for key in mapping.keys() {
        match key.as_str() {
            Some(key) if allowed.contains(&key) => {}
            Some(key) => {
                return Err(format!(
                    "unknown key '{key}' in {what} (known: {})",
                    allowed.join(", ")
                ));
            }
            None => return Err(format!("{what} has a key that is {}", describe(key))),
        }
    }
    Ok(())
}

/// Reads an `executors` block into `executors`.
fn read_executors(
    source: &Source<'_>,
    value: &Yaml,
    executors: &mut BTreeMap<String, Executor>,
) -> Result<(), DefinitionError> {
    let entries = match value {
        Yaml::Mapping(entries) => entries,
        Yaml::Null => return Ok(()),
        other => {
            return Err(source.executor_error(
                None,
                format!(
                    "'executors' must map task names to executors, not be {}",
                    describe(other)
                ),
            ));
        }
    };
    for (name, spec) in entries {
        let Some(name) = name.as_str() else {
            return Err(source.executor_error(
                None,
                format!("executor names must be strings, not {}", describe(name)),
            ));
        };
        let fail = |message: String| {
            source.executor_error(Some(name), format!("executor '{name}': {message}"))
        };
        check_task_name(name).map_err(fail)?;
        let (spec, retries, timeout) = read_executor(spec).map_err(fail)?;
        let executor = Executor {
            spec,
            retries,
            timeout,
            source: source.file.to_path_buf(),
        };
        match executors.get(name) {
            Some(existing) if !existing.same_as(&executor) => {
                return Err(fail(format!(
                    "defined differently in {} and in {}",
                    existing.source.display(),
                    source.file.display()
                )));
            }
            Some(_) => {}
            None => {
                executors.insert(name.to_owned(), executor);
            }
        }
    }
    Ok(())
}

/// Reads one executor: its spec as JSON, its retries and its timeout.
fn read_executor(value: &Yaml) -> Result<(Value, u32, Option<u64>), String> {
    let mut spec = to_json(value)?;
    let Some(object) = spec.as_object_mut() else {
        return Err(format!(
            "must be a mapping with a 'type' (command, http or handler), not {}",
            describe(value)
        ));
    };
    let retries = match object.remove("retries") {
        None => 0,
        Some(retries) => retries
            .as_u64()
            .and_then(|retries| u32::try_from(retries).ok())
            .ok_or_else(|| format!("'retries' must be a whole number, not {retries}"))?,
    };
    let timeout = match object.remove("timeout") {
        None => None,
        Some(timeout) => Some(timeout.as_u64().filter(|seconds| *seconds > 0).ok_or_else(
            || format!("'timeout' must be a positive whole number of seconds, not {timeout}"),
        )?),
    };
    match object.get("type").and_then(Value::as_str) {
        Some("command" | "http" | "handler") => {}
        Some(other) => {
            return Err(format!(
                "unknown type '{other}': use command, http or handler"
            ));
        }
        None => return Err("needs a 'type': command, http or handler".into()),
    }
    let parsed: ExecutorSpec =
        serde_json::from_value(spec.clone()).map_err(|error| error.to_string())?;
    match &parsed {
        ExecutorSpec::Command(command) if command.argv.is_empty() => {
            return Err("'argv' needs at least the program".into());
        }
        ExecutorSpec::Http(http) if http.url.is_empty() => {
            return Err("'url' must not be empty".into());
        }
        ExecutorSpec::Handler { name } if name.is_empty() => {
            return Err("'name' must not be empty".into());
        }
        _ => {}
    }
    Ok((spec, retries, timeout))
}

/// Builds the tasks of one workflow while walking its `tasks`.
struct Compiler<'a> {
    tasks: Vec<TaskSpec>,
    custom_queues: &'a BTreeMap<String, QueueName>,
}

impl Compiler<'_> {
    /// Adds the task `name`, run by the handler of that name until an executor says
    /// otherwise. Returns its index.
    fn task(&mut self, name: &str, depends_on: Vec<usize>, is_hook: bool) -> Result<usize, String> {
        check_task_name(name)?;
        self.tasks.push(TaskSpec {
            key: name.to_owned(),
            executor: json!({"type": "handler", "name": name}),
            depends_on,
            queue: self.custom_queues.get(name).cloned(),
            max_retries: 0,
            timeout_secs: None,
            is_hook,
        });
        Ok(self.tasks.len() - 1)
    }

    /// A chain: each item waits for the last tasks of the one before, the first for `deps`.
    /// Returns the chain's last tasks.
    fn chain(
        &mut self,
        items: &[Yaml],
        deps: Vec<usize>,
        top_level: bool,
    ) -> Result<Vec<usize>, String> {
        let mut last = deps;
        for item in items {
            last = self.item(item, last, top_level)?;
        }
        Ok(last)
    }

    /// One item waiting for `deps`: a task name, a group, or (inside a group) a chain.
    /// Returns its last tasks.
    fn item(
        &mut self,
        item: &Yaml,
        deps: Vec<usize>,
        top_level: bool,
    ) -> Result<Vec<usize>, String> {
        match item {
            Yaml::String(name) => Ok(vec![self.task(name, deps, false)?]),
            Yaml::Sequence(_) if top_level => Err(
                "a list among the workflow's tasks: they already run in order; \
                 to run tasks in parallel, use a group {NAME: {type: group, tasks: [...]}}"
                    .into(),
            ),
            Yaml::Sequence(chain) if chain.is_empty() => {
                Err("an empty list (chain) inside a group".into())
            }
            Yaml::Sequence(chain) => self.chain(chain, deps, false),
            Yaml::Mapping(group) if group.len() == 1 => {
                let (name, body) = group.iter().next().ok_or("an empty group")?;
                self.group(name, body, deps)
            }
            Yaml::Mapping(_) => Err(
                "a group is a mapping with a single key: {NAME: {type: group, tasks: [...]}}"
                    .into(),
            ),
            other => Err(format!(
                "a task must be a name or a group, not {}",
                describe(other)
            )),
        }
    }

    /// A group: every member waits for `deps`; returns the last tasks of all members.
    fn group(&mut self, name: &Yaml, body: &Yaml, deps: Vec<usize>) -> Result<Vec<usize>, String> {
        let Some(name) = name.as_str() else {
            return Err(format!(
                "a group's name must be a string, not {}",
                describe(name)
            ));
        };
        let Yaml::Mapping(body) = body else {
            return Err(format!(
                "'{name}' must be a group {{type: group, tasks: [...]}}, not {}",
                describe(body)
            ));
        };
        match body.get("type") {
            Some(Yaml::String(kind)) if kind == "group" => {}
            Some(Yaml::String(kind)) => {
                return Err(format!(
                    "'{name}' has the unknown type '{kind}': only 'group' is known"
                ));
            }
            Some(other) => {
                return Err(format!(
                    "'{name}' has a type that is {}: only 'group' is known",
                    describe(other)
                ));
            }
            None => return Err(format!("'{name}' has no type: write 'type: group'")),
        }
        check_keys(body, &["type", "tasks"], &format!("group '{name}'"))?;
        let members = match body.get("tasks") {
            Some(Yaml::Sequence(members)) if !members.is_empty() => members,
            None | Some(Yaml::Null) | Some(Yaml::Sequence(_)) => {
                return Err(format!("group '{name}' has no tasks"));
            }
            Some(other) => {
                return Err(format!(
                    "group '{name}': 'tasks' must be a list, not {}",
                    describe(other)
                ));
            }
        };
        let mut last = Vec::new();
        for member in members {
            last.extend(self.item(member, deps.clone(), false)?);
        }
        Ok(last)
    }
}

/// Splits `project.NAME`: exactly one dot, both parts non-empty.
fn split_fullname(fullname: &str) -> Option<(&str, &str)> {
    let (project, name) = fullname.split_once('.')?;
    (!project.is_empty() && !name.is_empty() && !name.contains('.')).then_some((project, name))
}

/// Compiles the workflow `key` of `source`.
fn compile_workflow(
    dir: &Path,
    source: &Source<'_>,
    key: &str,
    value: &Yaml,
) -> Result<WorkflowDefinition, DefinitionError> {
    let fail = |message: String| source.workflow_error(key, format!("workflow '{key}': {message}"));
    let Some((project, name)) = split_fullname(key) else {
        return Err(fail(format!(
            "a workflow's name must be 'project.NAME', with exactly one dot \
             ('{EXECUTORS_KEY}' is the only other top-level key)"
        )));
    };
    let Yaml::Mapping(body) = value else {
        return Err(fail(format!(
            "must be a mapping with 'tasks', not {}",
            describe(value)
        )));
    };
    check_keys(body, &WORKFLOW_KEYS, "a workflow").map_err(fail)?;
    let tasks = match body.get("tasks") {
        Some(Yaml::Sequence(tasks)) if !tasks.is_empty() => tasks,
        _ => return Err(fail("'tasks' must be a non-empty list".into())),
    };

    let (default_queue, custom_queues) = read_queue(body.get("queue")).map_err(fail)?;
    let mut compiler = Compiler {
        tasks: Vec::new(),
        custom_queues: &custom_queues,
    };
    let sinks = compiler.chain(tasks, Vec::new(), true).map_err(fail)?;

    let hooks = read_hooks(body.get("hooks")).map_err(fail)?;
    let mut run_hooks = RunHooks::default();
    if let Some(task) = &hooks.success {
        run_hooks.on_success = Some(compiler.task(task, sinks.clone(), true).map_err(fail)?);
    }
    if let Some(task) = &hooks.failure {
        run_hooks.on_failure = Some(compiler.task(task, sinks.clone(), true).map_err(fail)?);
    }
    let names: BTreeSet<&str> = compiler
        .tasks
        .iter()
        .map(|task| task.key.as_str())
        .collect();
    if let Some(stray) = custom_queues
        .keys()
        .find(|task| !names.contains(task.as_str()))
    {
        return Err(fail(format!(
            "'queue' has a custom queue for '{stray}', which is not a task of the workflow"
        )));
    }

    let (periodic_json, periodic) = match body.get("periodic") {
        None => (None, None),
        Some(block) => {
            let (json, spec) = read_periodic(block).map_err(fail)?;
            (Some(json), Some(spec))
        }
    };
    let schema = body
        .get("schema")
        .map(|schema| read_schema(dir, schema).and_then(PayloadSchema::compile))
        .transpose()
        .map_err(fail)?;
    let retention_offset = read_retention(body.get("retention")).map_err(fail)?;
    let tasks_yaml = to_json(&Yaml::Sequence(tasks.clone())).map_err(fail)?;

    Ok(WorkflowDefinition {
        fullname: key.to_owned(),
        project: project.to_owned(),
        name: name.to_owned(),
        tasks_yaml,
        periodic_json,
        schema,
        hooks,
        retention_offset,
        definition: Definition {
            name: key.to_owned(),
            tasks: compiler.tasks,
            queue: default_queue,
            priority: Priority::Normal,
            periodic,
            hooks: run_hooks,
            retention_offset,
        },
        source: source.file.to_path_buf(),
    })
}

/// Reads `queue`: a name, or `{default: NAME, customs: {TASK: NAME}}`.
fn read_queue(value: Option<&Yaml>) -> Result<(QueueName, BTreeMap<String, QueueName>), String> {
    let parse = |name: &Yaml| -> Result<QueueName, String> {
        let name = name
            .as_str()
            .ok_or_else(|| format!("a queue name must be a string, not {}", describe(name)))?;
        let queue = QueueName::parse(name).map_err(|error| error.to_string())?;
        // Human queues hold Orchestra's human steps, which people claim through the projects
        // front: a workflow's task there would never run, and would show up as a person's task.
        if queue.is_human() {
            return Err(format!(
                "queue '{queue}' is a human queue, kept for projects' human steps"
            ));
        }
        Ok(queue)
    };
    match value {
        None | Some(Yaml::Null) => Ok((QueueName::default(), BTreeMap::new())),
        Some(name @ Yaml::String(_)) => Ok((parse(name)?, BTreeMap::new())),
        Some(Yaml::Mapping(block)) => {
            check_keys(block, &["default", "customs"], "'queue'")?;
            let default = block
                .get("default")
                .map(parse)
                .transpose()?
                .unwrap_or_default();
            let mut customs = BTreeMap::new();
            match block.get("customs") {
                None | Some(Yaml::Null) => {}
                Some(Yaml::Mapping(map)) => {
                    for (task, queue) in map {
                        let task = task.as_str().ok_or_else(|| {
                            format!(
                                "'customs' must map task names to queues; a key is {}",
                                describe(task)
                            )
                        })?;
                        check_task_name(task)?;
                        customs.insert(task.to_owned(), parse(queue)?);
                    }
                }
                Some(other) => {
                    return Err(format!(
                        "'customs' must map task names to queues, not be {}",
                        describe(other)
                    ));
                }
            }
            Ok((default, customs))
        }
        Some(other) => Err(format!(
            "'queue' must be a queue name or {{default, customs}}, not {}",
            describe(other)
        )),
    }
}

/// Reads `hooks`: `{success: TASK, failure: TASK}`, both optional.
fn read_hooks(value: Option<&Yaml>) -> Result<Hooks, String> {
    let block = match value {
        None | Some(Yaml::Null) => return Ok(Hooks::default()),
        Some(Yaml::Mapping(block)) => block,
        Some(other) => {
            return Err(format!(
                "'hooks' must be a mapping with 'success' and/or 'failure', not {}",
                describe(other)
            ));
        }
    };
    check_keys(block, &["success", "failure"], "'hooks'")?;
    let hook = |kind: &str| -> Result<Option<String>, String> {
        match block.get(kind) {
            None | Some(Yaml::Null) => Ok(None),
            Some(Yaml::String(task)) => {
                check_task_name(task).map_err(|error| format!("hook '{kind}': {error}"))?;
                Ok(Some(task.clone()))
            }
            Some(other) => Err(format!(
                "hook '{kind}' must be a task name, not {}",
                describe(other)
            )),
        }
    };
    Ok(Hooks {
        success: hook("success")?,
        failure: hook("failure")?,
    })
}

/// Reads `periodic`: the block as JSON, and the schedule with its payload.
fn read_periodic(value: &Yaml) -> Result<(Value, PeriodicSpec), String> {
    let Yaml::Mapping(block) = value else {
        return Err(format!(
            "'periodic' must be a mapping with 'interval' or 'crontab', not {}",
            describe(value)
        ));
    };
    check_keys(
        block,
        &["interval", "crontab", "schedule", "payload"],
        "'periodic'",
    )?;
    let json = to_json(value)?;
    let payload = json.get("payload").cloned().unwrap_or_else(|| json!({}));
    let spec = match (
        json.get("interval"),
        json.get("crontab"),
        json.get("schedule"),
    ) {
        (Some(interval), None, None) => PeriodicSpec {
            interval: Some(read_interval(interval)?),
            crontab: None,
            payload,
        },
        (None, Some(crontab), None) => {
            let crontab = crontab
                .as_str()
                .ok_or_else(|| format!("'crontab' must be a string, not {crontab}"))?;
            CronSchedule::parse(crontab).map_err(|error| error.to_string())?;
            PeriodicSpec {
                interval: None,
                crontab: Some(crontab.trim().to_owned()),
                payload,
            }
        }
        (None, None, Some(schedule)) => {
            let schedule = schedule
                .as_str()
                .ok_or_else(|| format!("'schedule' must be a string, not {schedule}"))?;
            CronSchedule::parse_legacy(schedule).map_err(|error| error.to_string())?;
            PeriodicSpec {
                interval: None,
                crontab: Some(legacy_to_unix(schedule)?),
                payload,
            }
        }
        _ => {
            return Err(
                "'periodic' needs exactly one of 'interval', 'crontab' and 'schedule'".into(),
            );
        }
    };
    // The scheduler reads it the same way.
    spec.schedule().map_err(|error| error.to_string())?;
    Ok((json, spec))
}

/// A positive whole number of seconds (a number, or a string of digits).
fn read_interval(interval: &Value) -> Result<u64, String> {
    interval
        .as_u64()
        .or_else(|| {
            interval
                .as_f64()
                .filter(|seconds| seconds.fract() == 0.0 && *seconds >= 1.0 && *seconds < 1e18)
                .map(|seconds| seconds as u64)
        })
        .or_else(|| interval.as_str().and_then(|text| text.trim().parse().ok()))
        .filter(|seconds| *seconds > 0)
        .ok_or_else(|| {
            format!("'interval' must be a positive whole number of seconds, not {interval}")
        })
}

/// Director's legacy `schedule` orders the fields `m h dow dom mon`; Unix cron orders them
/// `m h dom mon dow`.
fn legacy_to_unix(expression: &str) -> Result<String, String> {
    match expression.split_whitespace().collect::<Vec<_>>().as_slice() {
        [minute, hour, dow, dom, month] => Ok(format!("{minute} {hour} {dom} {month} {dow}")),
        fields => Err(format!(
            "'schedule' needs 5 fields (minute hour day-of-week day-of-month month), got {}",
            fields.len()
        )),
    }
}

/// Reads `schema`: a JSON Schema inline, or the name of a file under `dir/schemas/`.
fn read_schema(dir: &Path, value: &Yaml) -> Result<Value, String> {
    let schema = match value {
        Yaml::String(name) => read_schema_file(dir, name)?,
        Yaml::Mapping(_) | Yaml::Bool(_) => to_json(value)?,
        other => {
            return Err(format!(
                "'schema' must be a JSON Schema or a file name under schemas/, not {}",
                describe(other)
            ));
        }
    };
    if schema.is_object() || schema.is_boolean() {
        Ok(schema)
    } else {
        Err("'schema' must be a JSON Schema: an object (or a boolean)".into())
    }
}

/// Reads the schema file `name` (JSON or YAML) under `dir/schemas/`; `.json` is added to a
/// name without an extension.
fn read_schema_file(dir: &Path, name: &str) -> Result<Value, String> {
    let relative = Path::new(name);
    let plain = !name.is_empty()
        && relative
            .components()
            .all(|component| matches!(component, Component::Normal(_)));
    if !plain {
        return Err(format!(
            "schema file '{name}' must be a file name under schemas/"
        ));
    }
    let mut path = dir.join("schemas").join(relative);
    if path.extension().is_none() && !path.is_file() {
        path.set_extension("json");
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|error| format!("cannot read the schema file {}: {error}", path.display()))?;
    let yaml: Yaml = serde_yaml::from_str(&text).map_err(|error| {
        let at = error.location().map_or(String::new(), |location| {
            format!(":{}:{}", location.line(), location.column())
        });
        format!("invalid schema file {}{at}: {error}", path.display())
    })?;
    to_json(&yaml).map_err(|error| format!("schema file {}: {error}", path.display()))
}

/// Reads `retention`: `{offset: N}`.
fn read_retention(value: Option<&Yaml>) -> Result<Option<u64>, String> {
    match value {
        None | Some(Yaml::Null) => Ok(None),
        Some(Yaml::Mapping(block)) => {
            check_keys(block, &["offset"], "'retention'")?;
            match block.get("offset") {
                None | Some(Yaml::Null) => Ok(None),
                Some(offset) => offset.as_u64().map(Some).ok_or_else(|| {
                    format!(
                        "'retention.offset' must be a whole number of runs, not {}",
                        describe(offset)
                    )
                }),
            }
        }
        Some(other) => Err(format!(
            "'retention' must be a mapping with 'offset', not {}",
            describe(other)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compiles `text` as `workflows.yml`, whatever handlers its tasks name (what names a
    /// handler must have is tested on its own, with `load_str`).
    fn load(text: &str) -> Result<Vec<WorkflowDefinition>, DefinitionError> {
        compile_documents(Path::new(""), &[("workflows.yml".into(), text.to_owned())])
            .map(|(workflows, _)| workflows)
    }

    #[test]
    fn a_task_run_by_an_unknown_handler_is_refused_at_its_line() {
        let text = "example.ETL:\n  tasks:\n    - EXTRACT\n    - LAOD\n  hooks:\n    failure: NOTIFY\n\n\
                    executors:\n  EXTRACT: {type: command, argv: [\"true\"]}\n  NOTIFY: {type: handler, name: noop}\n";
        let error = load_str(text, Path::new("etl.yml")).unwrap_err();
        assert_eq!((error.line, error.column), (Some(4), Some(7)), "{error}");
        assert!(
            error.message.starts_with(
                "task 'LAOD' of workflow 'example.ETL' has no entry in 'executors' and no \
                 handler of that name is known"
            ),
            "{error}"
        );
        assert!(
            error.message.contains("known handlers: noop, probe"),
            "{error}"
        );

        let hook_typo = text
            .replace("failure: NOTIFY", "failure: NOTIFYY")
            .replace("LAOD", "EXTRACT");
        let error = load_str(&hook_typo, Path::new("etl.yml")).unwrap_err();
        assert_eq!(error.line, Some(6), "{error}");
        assert!(error.message.contains("task 'NOTIFYY'"), "{error}");

        let bad_executor = text
            .replace("LAOD", "EXTRACT")
            .replace("name: noop", "name: nop");
        let error = load_str(&bad_executor, Path::new("etl.yml")).unwrap_err();
        assert!(
            error
                .message
                .contains("task 'NOTIFY' of workflow 'example.ETL' runs handler 'nop'"),
            "{error}"
        );
    }

    #[test]
    fn handlers_listed_under_handlers_and_the_built_in_ones_load() {
        let text = "handlers: [LOAD, resize]\np.A:\n  tasks: [LOAD, noop, probe, X]\n\
                    executors:\n  X: {type: handler, name: resize}\n";
        let workflows = load_str(text, Path::new("a.yml")).unwrap();
        assert_eq!(workflows.len(), 1);
        let error = load_str("handlers: oops\n", Path::new("a.yml")).unwrap_err();
        assert!(
            error.message.contains("'handlers' must list handler names"),
            "{error}"
        );
    }

    fn workflow<'a>(workflows: &'a [WorkflowDefinition], name: &str) -> &'a WorkflowDefinition {
        workflows
            .iter()
            .find(|workflow| workflow.fullname == name)
            .unwrap_or_else(|| panic!("no workflow {name}"))
    }

    fn keys(workflow: &WorkflowDefinition) -> Vec<&str> {
        let tasks = &workflow.definition.tasks;
        tasks.iter().map(|task| task.key.as_str()).collect()
    }

    fn deps(workflow: &WorkflowDefinition) -> Vec<Vec<usize>> {
        let tasks = &workflow.definition.tasks;
        tasks.iter().map(|task| task.depends_on.clone()).collect()
    }

    fn error(text: &str) -> String {
        load(text).unwrap_err().to_string()
    }

    #[test]
    fn the_seed_examples_compile_to_a_chain_and_a_fan_in() {
        let workflows = load(
            "example.ETL:\n  tasks:\n    - EXTRACT\n    - TRANSFORM\n    - LOAD\n  periodic:\n    interval: 3600\n    payload: {dry_run: false}\n\
             example.RANDOMS:\n  tasks:\n    - GROUP_RANDOMS:\n        type: group\n        tasks:\n          - RANDOM\n          - RANDOM\n    - ADD\n",
        )
        .unwrap();
        let etl = workflow(&workflows, "example.ETL");
        assert_eq!(
            (etl.project.as_str(), etl.name.as_str()),
            ("example", "ETL")
        );
        assert_eq!(keys(etl), ["EXTRACT", "TRANSFORM", "LOAD"]);
        assert_eq!(deps(etl), vec![vec![], vec![0], vec![1]]);
        assert_eq!(etl.tasks_yaml, json!(["EXTRACT", "TRANSFORM", "LOAD"]));
        assert_eq!(
            etl.periodic_json,
            Some(json!({"interval": 3600, "payload": {"dry_run": false}}))
        );
        let periodic = etl.definition.periodic.as_ref().unwrap();
        assert_eq!(periodic.interval, Some(3600));
        assert_eq!(periodic.crontab, None);
        assert_eq!(periodic.payload, json!({"dry_run": false}));
        assert_eq!(
            etl.definition.tasks[0].executor,
            json!({"type": "handler", "name": "EXTRACT"}),
            "a task without an executor runs the handler of its name"
        );
        assert_eq!(etl.definition.queue, QueueName::default());
        assert_eq!(etl.definition.hooks, RunHooks::default());
        assert_eq!(etl.source, PathBuf::from("workflows.yml"));

        let randoms = workflow(&workflows, "example.RANDOMS");
        assert_eq!(keys(randoms), ["RANDOM", "RANDOM", "ADD"]);
        assert_eq!(deps(randoms), vec![vec![], vec![], vec![0, 1]]);
        assert_eq!(
            randoms.tasks_yaml,
            json!([{"GROUP_RANDOMS": {"type": "group", "tasks": ["RANDOM", "RANDOM"]}}, "ADD"])
        );
        assert_eq!(randoms.periodic_json, None);
        assert!(randoms.definition.run_spec(json!({})).validate().is_ok());
    }

    #[test]
    fn groups_fan_out_and_in_and_nest_chains_and_groups() {
        let workflows = load(
            "p.W:\n  tasks:\n    - A\n    - G:\n        type: group\n        tasks:\n          - [B, C]\n          - D\n          - INNER:\n              type: group\n              tasks: [E, [F, H]]\n    - Z\n",
        )
        .unwrap();
        let w = &workflows[0];
        assert_eq!(keys(w), ["A", "B", "C", "D", "E", "F", "H", "Z"]);
        assert_eq!(
            deps(w),
            vec![
                vec![],           // A
                vec![0],          // B: fan-out from A
                vec![1],          // C after B
                vec![0],          // D
                vec![0],          // E
                vec![0],          // F
                vec![5],          // H after F
                vec![2, 3, 4, 6], // Z: fan-in of every member's last task
            ]
        );
        assert!(w.definition.run_spec(json!({})).validate().is_ok());
    }

    #[test]
    fn queues_default_and_customs() {
        let workflows = load(
            "p.A:\n  queue: q1\n  tasks: [X, Y]\n\
             p.B:\n  queue:\n    default: q1\n    customs: {Y: q2.fast}\n  tasks: [X, Y]\n\
             p.C:\n  queue: {customs: {X: q3}}\n  tasks: [X, Y]\n",
        )
        .unwrap();
        let queues = |name: &str| {
            let w = workflow(&workflows, name);
            let tasks: Vec<Option<&str>> = w
                .definition
                .tasks
                .iter()
                .map(|task| task.queue.as_ref().map(QueueName::as_str))
                .collect();
            (w.definition.queue.as_str().to_owned(), tasks)
        };
        assert_eq!(queues("p.A"), ("q1".to_owned(), vec![None, None]));
        assert_eq!(
            queues("p.B"),
            ("q1".to_owned(), vec![None, Some("q2.fast")])
        );
        assert_eq!(
            queues("p.C"),
            ("default".to_owned(), vec![Some("q3"), None])
        );
    }

    #[test]
    fn executors_set_the_spec_retries_and_timeout() {
        let workflows = load(
            "p.W:\n  tasks: [A, B, C, D]\n\
             executors:\n  A:\n    type: command\n    argv: [sh, -c, \"echo hi\"]\n    env: {MODE: fast}\n    retries: 2\n    timeout: 30\n  B: {type: http, url: \"http://localhost:1/b\"}\n  C: {type: handler, name: c_handler, retries: 5}\n",
        )
        .unwrap();
        let tasks = &workflows[0].definition.tasks;
        assert_eq!(
            tasks[0].executor,
            json!({"type": "command", "argv": ["sh", "-c", "echo hi"], "env": {"MODE": "fast"}})
        );
        assert_eq!((tasks[0].max_retries, tasks[0].timeout_secs), (2, Some(30)));
        assert_eq!(
            tasks[1].executor,
            json!({"type": "http", "url": "http://localhost:1/b"})
        );
        assert_eq!((tasks[1].max_retries, tasks[1].timeout_secs), (0, None));
        assert_eq!(
            tasks[2].executor,
            json!({"type": "handler", "name": "c_handler"})
        );
        assert_eq!(tasks[2].max_retries, 5);
        assert_eq!(tasks[3].executor, json!({"type": "handler", "name": "D"}));
    }

    #[test]
    fn executors_form_one_namespace_across_files() {
        let documents = |second: &str| {
            vec![
                (PathBuf::from("a.yml"), "p.A:\n  tasks: [X]\n".to_owned()),
                (
                    PathBuf::from("b.yml"),
                    format!("p.B:\n  tasks: [X]\nexecutors:\n  X: {second}\n"),
                ),
                (
                    PathBuf::from("c.yml"),
                    "executors:\n  X: {type: command, argv: [\"true\"]}\n".to_owned(),
                ),
            ]
        };
        // Defined in a later file than a workflow using it; the same spec twice is fine.
        let workflows = load_documents(
            Path::new("/nowhere"),
            &documents("{type: command, argv: [\"true\"]}"),
        )
        .unwrap();
        for w in &workflows {
            assert_eq!(w.definition.tasks[0].executor["type"], "command");
        }
        let error = load_documents(
            Path::new("/nowhere"),
            &documents("{type: command, argv: [\"false\"]}"),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            error,
            "c.yml:2:3: executor 'X': defined differently in b.yml and in c.yml"
        );
    }

    #[test]
    fn periodic_interval_crontab_and_legacy_schedule() {
        let workflows = load(
            "p.A:\n  tasks: [X]\n  periodic: {crontab: \"0 9 * * 1-5\"}\n\
             p.B:\n  tasks: [X]\n  periodic: {schedule: \"30 2 1 * *\", payload: {n: 1}}\n\
             p.C:\n  tasks: [X]\n  periodic: {schedule: \"0 0 * 1-7 6\"}\n\
             p.D:\n  tasks: [X]\n  periodic: {interval: \"90\"}\n",
        )
        .unwrap();
        let periodic = |name: &str| {
            workflow(&workflows, name)
                .definition
                .periodic
                .clone()
                .unwrap()
        };
        assert_eq!(periodic("p.A").crontab.as_deref(), Some("0 9 * * 1-5"));
        assert_eq!(periodic("p.A").payload, json!({}));
        // Legacy: m h dow dom mon → m h dom mon dow.
        assert_eq!(periodic("p.B").crontab.as_deref(), Some("30 2 * * 1"));
        assert_eq!(periodic("p.B").payload, json!({"n": 1}));
        assert_eq!(periodic("p.C").crontab.as_deref(), Some("0 0 1-7 6 *"));
        assert_eq!(periodic("p.D").interval, Some(90));
        assert_eq!(
            workflow(&workflows, "p.B").periodic_json,
            Some(json!({"schedule": "30 2 1 * *", "payload": {"n": 1}}))
        );
        for name in ["p.A", "p.B", "p.C", "p.D"] {
            assert!(periodic(name).schedule().is_ok(), "{name}");
        }
    }

    #[test]
    fn schemas_inline_and_from_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("schemas")).unwrap();
        std::fs::write(
            dir.path().join("schemas/a.json"),
            r#"{"type": "object", "properties": {"n": {"type": "integer"}}}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("schemas/b.yaml"),
            "type: object\nrequired: [source]\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("flows.yml"),
            "handlers: [X]\np.INLINE:\n  tasks: [X]\n  schema:\n    type: object\n    properties: {source: {type: string}}\n    required: [source]\n\
             p.JSON:\n  tasks: [X]\n  schema: a.json\np.NOEXT:\n  tasks: [X]\n  schema: a\np.YAML:\n  tasks: [X]\n  schema: b.yaml\n",
        )
        .unwrap();
        let workflows = load_dir(dir.path()).unwrap();
        let schema = |name: &str| {
            workflow(&workflows, name)
                .schema
                .as_ref()
                .map(|s| s.json().clone())
        };
        assert_eq!(
            schema("p.INLINE"),
            Some(
                json!({"type": "object", "properties": {"source": {"type": "string"}}, "required": ["source"]})
            )
        );
        let a = json!({"type": "object", "properties": {"n": {"type": "integer"}}});
        assert_eq!(schema("p.JSON"), Some(a.clone()));
        assert_eq!(schema("p.NOEXT"), Some(a));
        assert_eq!(
            schema("p.YAML"),
            Some(json!({"type": "object", "required": ["source"]}))
        );

        std::fs::write(
            dir.path().join("flows.yml"),
            "p.A:\n  tasks: [X]\n\np.MISSING:\n  tasks: [X]\n  schema: nope.json\n",
        )
        .unwrap();
        let error = load_dir(dir.path()).unwrap_err().to_string();
        assert!(
            error.contains("flows.yml:4:1: workflow 'p.MISSING': cannot read the schema file"),
            "{error}"
        );
        for (schema, expected) in [
            ("../secret.json", "must be a file name under schemas/"),
            ("[1]", "'schema' must be a JSON Schema"),
            (
                "{type: object, properties: {n: {type: 12}}}",
                "workflow 'p.A': 'schema' is not a valid JSON Schema",
            ),
        ] {
            let error = error_in(
                dir.path(),
                &format!("p.A:\n  tasks: [X]\n  schema: {schema}\n"),
            );
            assert!(error.contains(expected), "{schema}: {error}");
        }
    }

    #[test]
    fn a_compiled_schema_names_each_problem_with_its_json_path() {
        let dir = tempfile::tempdir().unwrap();
        let workflows = load_documents(
            dir.path(),
            &[(
                PathBuf::from("x.yml"),
                "p.A:\n  tasks: [noop]\n  schema:\n    type: object\n    properties: {name: {type: string}, items: {type: array, items: {type: integer}}}\n    required: [name]\n".to_owned(),
            )],
        )
        .unwrap();
        let schema = workflow(&workflows, "p.A").schema.as_ref().unwrap();
        assert!(
            schema
                .problems(&json!({"name": "x", "items": [1]}))
                .is_empty()
        );
        let problems = schema.problems(&json!({"name": 1, "items": [1, "two"]}));
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems.iter().any(|p| p.starts_with("payload/name: ")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.starts_with("payload/items/1: ")),
            "{problems:?}"
        );
        let missing = schema.problems(&json!({}));
        assert!(
            missing[0].starts_with("payload: ") && missing[0].contains("name"),
            "{missing:?}"
        );
    }

    fn error_in(dir: &Path, text: &str) -> String {
        load_documents(dir, &[(PathBuf::from("x.yml"), text.to_owned())])
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn hooks_become_hook_tasks_after_the_dag() {
        let workflows = load(
            "p.W:\n  tasks:\n    - A\n    - G: {type: group, tasks: [B, C]}\n  hooks:\n    failure: KO\n    success: OK\n  retention: {offset: 100}\n\
             p.V:\n  tasks: [A]\n  hooks: {success: OK}\n",
        )
        .unwrap();
        let w = workflow(&workflows, "p.W");
        assert_eq!(
            w.hooks,
            Hooks {
                success: Some("OK".into()),
                failure: Some("KO".into())
            }
        );
        assert_eq!(keys(w), ["A", "B", "C", "OK", "KO"]);
        assert_eq!(
            deps(w),
            vec![vec![], vec![0], vec![0], vec![1, 2], vec![1, 2]]
        );
        assert_eq!(
            w.definition.hooks,
            RunHooks {
                on_success: Some(3),
                on_failure: Some(4)
            }
        );
        let hook_flags: Vec<bool> = w.definition.tasks.iter().map(|t| t.is_hook).collect();
        assert_eq!(hook_flags, [false, false, false, true, true]);
        assert_eq!(w.retention_offset, Some(100));
        let spec = w.definition.run_spec(json!({}));
        assert!(spec.validate().is_ok());
        assert!(
            spec.successors()
                .iter()
                .all(|next| !next.contains(&3) && !next.contains(&4)),
            "hooks are outside the DAG"
        );

        let v = workflow(&workflows, "p.V");
        assert_eq!(v.hooks.failure, None);
        assert_eq!(v.definition.hooks.on_failure, None);
        assert_eq!(v.retention_offset, None);

        for (hooks, expected) in [
            (
                "{success: \"not a name\"}",
                "hook 'success': invalid task name 'not a name'",
            ),
            ("{success: [A]}", "hook 'success' must be a task name"),
            ("{always: A}", "unknown key 'always' in 'hooks'"),
        ] {
            let error = error(&format!("p.A:\n  tasks: [A]\n  hooks: {hooks}\n"));
            assert!(
                error.starts_with("workflows.yml:1:1: workflow 'p.A': "),
                "{error}"
            );
            assert!(error.contains(expected), "{hooks}: {error}");
        }
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let cases = [
            ("p.A:\n  tasks: [X\n", "workflows.yml:3:1: invalid YAML: "),
            (
                "p.A:\n  tasks: [X]\n  tasks: [Y]\n",
                "workflows.yml:2:3: invalid YAML: p.A: duplicate entry with key \"tasks\"",
            ),
            (
                "- p.A\n",
                "workflows.yml: a definition file must be a mapping",
            ),
            (
                "p.A:\n  tasks: []\n",
                "workflows.yml:1:1: workflow 'p.A': 'tasks' must be a non-empty list",
            ),
            (
                "p.A:\n  tasks: [X]\n\n# a comment\np.B:\n  tasks:\n    - G: {type: chord, tasks: [X]}\n",
                "workflows.yml:5:1: workflow 'p.B': 'G' has the unknown type 'chord': only 'group' is known",
            ),
            (
                "p.A:\n  tasks:\n    - G: {type: group}\n",
                "workflows.yml:1:1: workflow 'p.A': group 'G' has no tasks",
            ),
            (
                "p.A:\n  tasks:\n    - G: {type: group, tasks: []}\n",
                "workflows.yml:1:1: workflow 'p.A': group 'G' has no tasks",
            ),
            ("p.A:\n  tasks:\n    - G: {tasks: [X]}\n", "'G' has no type"),
            (
                "p.A:\n  tasks:\n    - G: {type: group, tasks: [X], mode: fast}\n",
                "unknown key 'mode' in group 'G'",
            ),
            (
                "p.A:\n  tasks:\n    - G: {type: group, tasks: [X, []]}\n",
                "an empty list (chain) inside a group",
            ),
            (
                "p.A:\n  tasks: [[X, Y]]\n",
                "a list among the workflow's tasks",
            ),
            (
                "p.A:\n  tasks: [X, 3]\n",
                "a task must be a name or a group, not a number",
            ),
            (
                "p.A:\n  tasks: [X]\n  periodic: {crontab: \"61 * * * *\"}\n",
                "workflows.yml:1:1: workflow 'p.A': invalid cron expression '61 * * * *'",
            ),
            (
                "p.A:\n  tasks: [X]\n  periodic: {schedule: \"0 0 9 * *\"}\n",
                "workflows.yml:1:1: workflow 'p.A': ",
            ),
            (
                "p.A:\n  tasks: [X]\n  periodic: {schedule: \"0 0 *\"}\n",
                "invalid legacy schedule",
            ),
            (
                "p.A:\n  tasks: [X]\n  periodic: {interval: 60, crontab: \"* * * * *\"}\n",
                "exactly one of 'interval', 'crontab' and 'schedule'",
            ),
            (
                "p.A:\n  tasks: [X]\n  periodic: {interval: 0}\n",
                "'interval' must be a positive",
            ),
            (
                "p.A:\n  tasks: [X]\n  periodic: {interval: 1.5}\n",
                "'interval' must be a positive",
            ),
            (
                "p.A:\n  tasks: [X]\n  periodic: {every: 60}\n",
                "unknown key 'every' in 'periodic'",
            ),
            (
                "nodot:\n  tasks: [X]\n",
                "workflows.yml:1:1: workflow 'nodot': a workflow's name must be 'project.NAME'",
            ),
            (
                "a.b.c:\n  tasks: [X]\n",
                "workflow 'a.b.c': a workflow's name must be",
            ),
            (
                ".A:\n  tasks: [X]\n",
                "workflow '.A': a workflow's name must be",
            ),
            (
                "p.A:\n  tasks: [X]\n  queue: \"bad queue\"\n",
                "invalid queue name 'bad queue'",
            ),
            (
                "p.A:\n  tasks: [X]\n  queue: {default: q1, customs: {X: \"a:b\"}}\n",
                "invalid queue name 'a:b'",
            ),
            (
                "p.A:\n  tasks: [X]\n  queue: human\n",
                "queue 'human' is a human queue",
            ),
            (
                "p.A:\n  tasks: [X]\n  queue: {customs: {X: human.review}}\n",
                "queue 'human.review' is a human queue",
            ),
            (
                "p.A:\n  tasks: [X]\n  queue: {customs: {Y: q2}}\n",
                "custom queue for 'Y', which is not a task of the workflow",
            ),
            (
                "p.A:\n  tasks: [X]\n  colour: red\n",
                "unknown key 'colour' in a workflow",
            ),
            (
                "p.A:\n  tasks: [\"two words\"]\n",
                "invalid task name 'two words'",
            ),
            (
                "p.A:\n  tasks: [X]\n  retention: {offset: -1}\n",
                "'retention.offset' must be",
            ),
            (
                "p.A:\n  tasks: [X]\nexecutors:\n  X: {type: command, argv: [\"true\"]}\n  Y: {type: teleport}\n",
                "workflows.yml:5:3: executor 'Y': unknown type 'teleport'",
            ),
            (
                "executors:\n  X:\n    type: report\n    report: r\n",
                "workflows.yml:2:3: executor 'X': unknown type 'report'",
            ),
            (
                "executors:\n  X: {argv: [\"true\"]}\n",
                "executor 'X': needs a 'type'",
            ),
            (
                "executors:\n  X: {type: command, argv: []}\n",
                "'argv' needs at least the program",
            ),
            (
                "executors:\n  X: {type: command, argv: [\"true\"], shell: true}\n",
                "executor 'X': unknown field `shell`",
            ),
            (
                "executors:\n  X: {type: http, url: u, retries: -1}\n",
                "'retries' must be a whole number",
            ),
            (
                "executors:\n  X: {type: http, url: u, timeout: 0}\n",
                "'timeout' must be a positive",
            ),
            (
                "executors: [X]\n",
                "workflows.yml:1:1: 'executors' must map task names",
            ),
        ];
        for (text, expected) in cases {
            let error = error(text);
            assert!(
                error.contains(expected),
                "{text:?}\n  got: {error}\n  expected: {expected}"
            );
        }
    }

    #[test]
    fn a_workflow_defined_in_two_files_names_both() {
        let error = load_documents(
            Path::new("/nowhere"),
            &[
                (PathBuf::from("a.yml"), "p.A:\n  tasks: [X]\n".into()),
                (
                    PathBuf::from("b.yml"),
                    "p.B:\n  tasks: [Y]\n\np.A:\n  tasks: [Y]\n".into(),
                ),
            ],
        )
        .unwrap_err();
        assert_eq!((error.line, error.column), (Some(4), Some(1)));
        assert_eq!(
            error.to_string(),
            "b.yml:4:1: workflow 'p.A' is defined twice: in a.yml and in b.yml"
        );
    }

    #[test]
    fn load_dir_reads_yml_and_yaml_files_in_order_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("b.yaml"),
            "handlers: [X]\np.B:\n  tasks: [X]\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("a.yml"), "p.A:\n  tasks: [X]\n").unwrap();
        std::fs::write(dir.path().join("empty.yml"), "# nothing yet\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not: [yaml").unwrap();
        std::fs::create_dir(dir.path().join("schemas")).unwrap();
        std::fs::write(dir.path().join("schemas/s.yml"), "type: object\n").unwrap();
        let workflows = load_dir(dir.path()).unwrap();
        let names: Vec<&str> = workflows.iter().map(|w| w.fullname.as_str()).collect();
        assert_eq!(names, ["p.A", "p.B"]);
        assert_eq!(workflows[1].source, dir.path().join("b.yaml"));

        std::fs::write(
            dir.path().join("c.yml"),
            "p.C:\n  tasks:\n    - G: {type: group}\n",
        )
        .unwrap();
        let error = load_dir(dir.path()).unwrap_err();
        assert_eq!(error.file, dir.path().join("c.yml"));
        assert_eq!(error.line, Some(1));
        assert!(load_dir(&dir.path().join("missing")).is_err());
    }

    fn examples() -> Vec<WorkflowDefinition> {
        load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/definitions")).unwrap()
    }

    #[test]
    fn the_example_definitions_load() {
        let workflows = examples();
        let names: Vec<&str> = workflows.iter().map(|w| w.fullname.as_str()).collect();
        assert_eq!(
            names,
            ["example.ETL", "example.HEARTBEAT", "example.RANDOMS"]
        );

        let etl = workflow(&workflows, "example.ETL");
        assert_eq!(
            keys(etl),
            ["EXTRACT", "TRANSFORM", "LOAD", "NOTIFY", "NOTIFY"]
        );
        assert_eq!(&deps(etl)[..3], [vec![], vec![0], vec![1]]);
        let schema = etl.schema.as_ref().expect("the ETL schema").json();
        assert_eq!(schema["type"], "object");
        assert!(
            schema.get("required").is_none(),
            "an empty payload is valid"
        );

        let randoms = workflow(&workflows, "example.RANDOMS");
        assert_eq!(keys(randoms), ["RANDOM", "RANDOM", "ADD"]);
        assert_eq!(deps(randoms), vec![vec![], vec![], vec![0, 1]]);

        let heartbeat = workflow(&workflows, "example.HEARTBEAT");
        let periodic = heartbeat.definition.periodic.as_ref().unwrap();
        assert_eq!(periodic.interval, Some(60));
        assert_eq!(periodic.payload, json!({"dry_run": false}));

        for w in &workflows {
            assert!(
                w.definition.run_spec(json!({})).validate().is_ok(),
                "{}",
                w.fullname
            );
            for task in &w.definition.tasks {
                assert_eq!(task.executor["type"], "command", "{}", task.key);
            }
        }
    }

    /// Runs a command task as the worker does: input in `BATON_PAYLOAD` and on stdin, result
    /// file in `BATON_RESULT`. Returns the result, if it wrote one.
    #[cfg(unix)]
    fn run_example_task(task: &TaskSpec, scratch: &Path, input: &Value) -> Option<Value> {
        use std::io::Write;
        use std::process::{Command, Stdio};

        let ExecutorSpec::Command(command) = serde_json::from_value(task.executor.clone()).unwrap()
        else {
            panic!("{} is not a command", task.key);
        };
        let result = scratch.join("result.json");
        let _ = std::fs::remove_file(&result);
        let mut child = Command::new(&command.argv[0])
            .args(&command.argv[1..])
            .envs(&command.env)
            .env("BATON_PAYLOAD", input.to_string())
            .env("BATON_RESULT", &result)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let _ = stdin.write_all(input.to_string().as_bytes());
        drop(stdin);
        let status = child.wait().unwrap();
        assert!(status.success(), "{} failed: {status}", task.key);
        let text = std::fs::read_to_string(&result).ok()?;
        Some(
            serde_json::from_str(&text)
                .unwrap_or_else(|error| panic!("{} wrote {text:?}: {error}", task.key)),
        )
    }

    #[cfg(unix)]
    #[test]
    fn the_example_commands_run_under_sh() {
        let scratch = tempfile::tempdir().unwrap();
        for w in examples() {
            // Tasks come in dependency order: run each with its parents' results.
            let mut results: Vec<Value> = Vec::new();
            for task in &w.definition.tasks {
                let parents: Vec<Value> = task
                    .depends_on
                    .iter()
                    .map(|&dep| results[dep].clone())
                    .collect();
                let input = json!({
                    "run_id": "run-1",
                    // A payload with its own "parents" must not fool the scripts.
                    "payload": {"source": "s3://bucket/key", "parents": [9]},
                    "parents": parents,
                });
                let result = run_example_task(task, scratch.path(), &input);
                results.push(result.unwrap_or(Value::Null));
            }
            match w.fullname.as_str() {
                "example.ETL" => {
                    assert_eq!(
                        results[..3],
                        [json!([1, 2, 3]), json!([2, 4, 6]), json!({"loaded": 3})]
                    );
                }
                "example.RANDOMS" => {
                    let (a, b) = (results[0].as_u64().unwrap(), results[1].as_u64().unwrap());
                    assert!(a < 100 && b < 100, "{results:?}");
                    assert_eq!(results[2], json!(a + b));
                }
                _ => {}
            }
        }
    }
}

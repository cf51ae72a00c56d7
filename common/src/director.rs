//! Workflow definitions in Celery Director's YAML format, compiled to Baton DAGs.
//!
//! A directory holds `*.yml` / `*.yaml` files. Each top-level `project.NAME` key is a workflow:
//! `tasks` (a chain of task names and groups `{GROUP: {type: group, tasks: [...]}}`; a group's
//! members may themselves be chains (lists) or groups), and optionally `queue` (a name, or
//! `{default, customs: {TASK: queue}}`), `periodic` (`interval` seconds, `crontab` in 5 Unix
//! fields, or Director's legacy `schedule` ordered `m h dow dom mon`; with `payload`), `schema`
//! (a JSON Schema inline, or a file name under `schemas/`), `hooks` (`success`, `failure`) and
//! `retention` (`offset`).
//!
//! Baton's extension: a top-level `executors:` map says how each task name runs
//! (`{type: command, argv, env, cwd}`, `{type: http, url, headers}` or `{type: handler, name}`,
//! plus `retries` and `timeout` in seconds). A task name with no entry runs the Rust handler
//! registered under that name on the worker.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use serde_yaml::Value as Yaml;

use crate::model::{ExecutorSpec, Priority, QueueName, RunHooks, TaskSpec};
use crate::schedule::CronSchedule;
use crate::store::definitions::{Definition, PeriodicSpec};

/// A definition file that cannot be loaded: where, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {message}", file.display(), location(*line, *column))]
pub struct DefinitionError {
    /// The file.
    pub file: PathBuf,
    /// Line (from 1), when known.
    pub line: Option<usize>,
    /// Column (from 1), when known.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}

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
    /// The project.
    pub project: String,
    /// The name.
    pub name: String,
    /// `tasks` as written.
    pub tasks_yaml: Value,
    /// `periodic` as written.
    pub periodic_json: Option<Value>,
    /// The payload's JSON Schema.
    pub schema: Option<Value>,
    /// Hook task names.
    pub hooks: Hooks,
    /// Keep only the last N runs (Director's `retention.offset`).
    pub retention_offset: Option<u64>,
    /// The compiled DAG (hooks included as hook tasks).
    pub definition: Definition,
    /// The file it came from.
    pub source: PathBuf,
}

/// How one task name runs.
#[derive(Debug, Clone, PartialEq)]
struct Executor {
    spec: Value,
    retries: u32,
    timeout: Option<u64>,
    source: PathBuf,
}

/// Loads every definition file of `dir` (sorted by name, not recursive).
pub fn load_dir(dir: &Path) -> Result<Vec<WorkflowDefinition>, DefinitionError> {
    let failure = |message: String| DefinitionError {
        file: dir.to_path_buf(),
        line: None,
        column: None,
        message,
    };
    let entries = std::fs::read_dir(dir)
        .map_err(|error| failure(format!("cannot read the directory: {error}")))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.is_file()
                && matches!(
                    path.extension().and_then(|e| e.to_str()),
                    Some("yml" | "yaml")
                )
        })
        .collect();
    files.sort();
    let mut documents = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).map_err(|error| DefinitionError {
            file: file.clone(),
            line: None,
            column: None,
            message: format!("cannot read: {error}"),
        })?;
        documents.push((file.clone(), text));
    }
    load_documents(dir, &documents)
}

/// Loads definitions from `(file, text)` pairs; schema files are looked up under
/// `dir/schemas/`.
pub fn load_documents(
    dir: &Path,
    documents: &[(PathBuf, String)],
) -> Result<Vec<WorkflowDefinition>, DefinitionError> {
    let mut parsed = Vec::new();
    let mut executors: BTreeMap<String, Executor> = BTreeMap::new();
    for (file, text) in documents {
        let yaml: Yaml = serde_yaml::from_str(text).map_err(|error| DefinitionError {
            file: file.clone(),
            line: error.location().map(|l| l.line()),
            column: error.location().map(|l| l.column()),
            message: format!("invalid YAML: {error}"),
        })?;
        let root = match yaml {
            Yaml::Mapping(root) => root,
            Yaml::Null => continue,
            _ => {
                return Err(at(
                    file,
                    text,
                    None,
                    "the file must be a mapping of workflows",
                ));
            }
        };
        for (key, value) in root {
            let Some(key) = key.as_str().map(str::to_owned) else {
                return Err(at(file, text, None, "top-level keys must be strings"));
            };
            if key == "executors" {
                read_executors(file, text, &value, &mut executors)?;
            } else {
                parsed.push((file.clone(), text.clone(), key, value));
            }
        }
    }
    let mut workflows: Vec<WorkflowDefinition> = Vec::new();
    for (file, text, key, value) in parsed {
        let workflow = compile_workflow(dir, &file, &text, &key, &value, &executors)?;
        if let Some(other) = workflows.iter().find(|w| w.fullname == workflow.fullname) {
            return Err(at(
                &file,
                &text,
                Some(&key),
                &format!(
                    "workflow '{key}' is also defined in {}",
                    other.source.display()
                ),
            ));
        }
        workflows.push(workflow);
    }
    workflows.sort_by(|a, b| a.fullname.cmp(&b.fullname));
    Ok(workflows)
}

/// An error located at the line of `key` (or the file's start).
fn at(file: &Path, text: &str, key: Option<&str>, message: &str) -> DefinitionError {
    let line = key.and_then(|key| {
        text.lines()
            .position(|line| {
                let trimmed = line.trim_start();
                trimmed.starts_with(&format!("{key}:"))
                    || trimmed.starts_with(&format!("\"{key}\":"))
            })
            .map(|index| index + 1)
    });
    DefinitionError {
        file: file.to_path_buf(),
        line,
        column: None,
        message: message.to_owned(),
    }
}

fn to_json(value: &Yaml) -> Result<Value, String> {
    serde_json::to_value(value).map_err(|error| format!("cannot be read as JSON: {error}"))
}

fn read_executors(
    file: &Path,
    text: &str,
    value: &Yaml,
    executors: &mut BTreeMap<String, Executor>,
) -> Result<(), DefinitionError> {
    let Yaml::Mapping(entries) = value else {
        return Err(at(
            file,
            text,
            Some("executors"),
            "'executors' must map task names to executors",
        ));
    };
    for (name, spec) in entries {
        let name = name.as_str().ok_or_else(|| {
            at(
                file,
                text,
                Some("executors"),
                "executor names must be strings",
            )
        })?;
        let error = |message: String| {
            at(
                file,
                text,
                Some(name),
                &format!("executor '{name}': {message}"),
            )
        };
        let mut spec = to_json(spec).map_err(error)?;
        let Some(object) = spec.as_object_mut() else {
            return Err(error("must be a mapping with a 'type'".into()));
        };
        let retries = match object.remove("retries") {
            None => 0,
            Some(value) => value
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| error("'retries' must be a whole number".into()))?,
        };
        let timeout =
            match object.remove("timeout") {
                None => None,
                Some(value) => Some(value.as_u64().filter(|n| *n > 0).ok_or_else(|| {
                    error("'timeout' must be a positive number of seconds".into())
                })?),
            };
        serde_json::from_value::<ExecutorSpec>(spec.clone()).map_err(|e| error(e.to_string()))?;
        let executor = Executor {
            spec,
            retries,
            timeout,
            source: file.to_path_buf(),
        };
        if let Some(existing) = executors.get(name)
            && (&existing.spec, existing.retries, existing.timeout)
                != (&executor.spec, executor.retries, executor.timeout)
        {
            return Err(error(format!(
                "is also defined differently in {}",
                existing.source.display()
            )));
        }
        executors.insert(name.to_owned(), executor);
    }
    Ok(())
}

/// Builds tasks while walking `tasks`.
struct Compiler<'a> {
    tasks: Vec<TaskSpec>,
    executors: &'a BTreeMap<String, Executor>,
    default_queue: QueueName,
    custom_queues: BTreeMap<String, QueueName>,
}

impl Compiler<'_> {
    fn task(&mut self, name: &str, depends_on: Vec<usize>, is_hook: bool) -> usize {
        let executor = self.executors.get(name);
        self.tasks.push(TaskSpec {
            key: name.to_owned(),
            executor: executor
                .map(|executor| executor.spec.clone())
                .unwrap_or_else(|| json!({"type": "handler", "name": name})),
            depends_on,
            queue: self.custom_queues.get(name).cloned(),
            max_retries: executor.map(|executor| executor.retries).unwrap_or(0),
            timeout_secs: executor.and_then(|executor| executor.timeout),
            is_hook,
        });
        self.tasks.len() - 1
    }

    /// A chain: each item waits for the last tasks of the one before. Returns its last tasks.
    fn chain(&mut self, items: &[Yaml], deps: Vec<usize>) -> Result<Vec<usize>, String> {
        if items.is_empty() {
            return Err("a chain needs at least one task".into());
        }
        let mut last = deps;
        for item in items {
            last = self.item(item, last)?;
        }
        Ok(last)
    }

    /// One item: a task name, a group, or (inside a group) a chain.
    fn item(&mut self, item: &Yaml, deps: Vec<usize>) -> Result<Vec<usize>, String> {
        match item {
            Yaml::String(name) => Ok(vec![self.task(name, deps, false)]),
            Yaml::Sequence(chain) => self.chain(chain, deps),
            Yaml::Mapping(group) if group.len() == 1 => {
                let (name, body) = group.iter().next().ok_or("empty group")?;
                let name = name.as_str().unwrap_or("?");
                let kind = body.get("type").and_then(Yaml::as_str);
                if kind != Some("group") {
                    return Err(format!("'{name}' has type {kind:?}: only 'group' is known"));
                }
                let members = body
                    .get("tasks")
                    .and_then(Yaml::as_sequence)
                    .filter(|members| !members.is_empty())
                    .ok_or_else(|| format!("group '{name}' has no tasks"))?;
                let mut last = Vec::new();
                for member in members {
                    last.extend(self.item(member, deps.clone())?);
                }
                Ok(last)
            }
            other => Err(format!("a task must be a name or a group, not {other:?}")),
        }
    }
}

fn compile_workflow(
    dir: &Path,
    file: &Path,
    text: &str,
    key: &str,
    value: &Yaml,
    executors: &BTreeMap<String, Executor>,
) -> Result<WorkflowDefinition, DefinitionError> {
    let error = |message: &str| {
        at(
            file,
            text,
            Some(key),
            &format!("workflow '{key}': {message}"),
        )
    };
    let (project, name) = match key.split_once('.') {
        Some((project, name)) if !project.is_empty() && !name.is_empty() && !name.contains('.') => {
            (project, name)
        }
        _ => {
            return Err(error(
                "a workflow's name must be 'project.NAME' (or the key is unknown)",
            ));
        }
    };
    let Yaml::Mapping(body) = value else {
        return Err(error("must be a mapping with 'tasks'"));
    };
    for field in body.keys() {
        let field = field.as_str().unwrap_or("?");
        if !["tasks", "queue", "periodic", "schema", "hooks", "retention"].contains(&field) {
            return Err(error(&format!("unknown key '{field}'")));
        }
    }
    let tasks = body
        .get("tasks")
        .and_then(Yaml::as_sequence)
        .filter(|tasks| !tasks.is_empty())
        .ok_or_else(|| error("'tasks' must be a non-empty list"))?;

    let (default_queue, custom_queues) =
        read_queue(body.get("queue")).map_err(|message| error(&message))?;
    let mut compiler = Compiler {
        tasks: Vec::new(),
        executors,
        default_queue: default_queue.clone(),
        custom_queues,
    };
    let sinks = compiler
        .chain(tasks, Vec::new())
        .map_err(|message| error(&message))?;
    let _ = &compiler.default_queue;

    let mut hooks = Hooks::default();
    let mut run_hooks = RunHooks::default();
    if let Some(block) = body.get("hooks") {
        let Yaml::Mapping(block) = block else {
            return Err(error(
                "'hooks' must be a mapping with 'success' and/or 'failure'",
            ));
        };
        for (kind, task) in block {
            let task = task
                .as_str()
                .ok_or_else(|| error("a hook must be a task name"))?;
            let index = compiler.task(task, sinks.clone(), true);
            match kind.as_str() {
                Some("success") => {
                    hooks.success = Some(task.to_owned());
                    run_hooks.on_success = Some(index);
                }
                Some("failure") => {
                    hooks.failure = Some(task.to_owned());
                    run_hooks.on_failure = Some(index);
                }
                _ => return Err(error("hooks are 'success' and 'failure'")),
            }
        }
    }

    let periodic_json = body
        .get("periodic")
        .map(to_json)
        .transpose()
        .map_err(|message| error(&message))?;
    let periodic = periodic_json
        .as_ref()
        .map(read_periodic)
        .transpose()
        .map_err(|message| error(&message))?;
    let schema = match body.get("schema") {
        None => None,
        Some(Yaml::String(name)) => {
            Some(read_schema_file(dir, name).map_err(|message| error(&message))?)
        }
        Some(inline @ Yaml::Mapping(_)) => {
            Some(to_json(inline).map_err(|message| error(&message))?)
        }
        Some(_) => {
            return Err(error(
                "'schema' must be a JSON Schema or a file name under schemas/",
            ));
        }
    };
    if let Some(schema) = &schema {
        jsonschema_check(schema).map_err(|message| error(&message))?;
    }
    let retention_offset = body
        .get("retention")
        .and_then(|retention| retention.get("offset"))
        .and_then(Yaml::as_u64);

    let definition = Definition {
        name: key.to_owned(),
        tasks: compiler.tasks,
        queue: default_queue,
        priority: Priority::Normal,
        periodic,
        hooks: run_hooks,
    };
    Ok(WorkflowDefinition {
        fullname: key.to_owned(),
        project: project.to_owned(),
        name: name.to_owned(),
        tasks_yaml: to_json(&Yaml::Sequence(tasks.clone())).map_err(|message| error(&message))?,
        periodic_json,
        schema,
        hooks,
        retention_offset,
        definition,
        source: file.to_path_buf(),
    })
}

/// A schema must at least be a JSON object (or boolean); the API compiles it when it loads.
fn jsonschema_check(schema: &Value) -> Result<(), String> {
    if schema.is_object() || schema.is_boolean() {
        Ok(())
    } else {
        Err("'schema' must be a JSON Schema object".into())
    }
}

fn read_queue(value: Option<&Yaml>) -> Result<(QueueName, BTreeMap<String, QueueName>), String> {
    let parse = |name: &Yaml| -> Result<QueueName, String> {
        let name = name.as_str().ok_or("a queue name must be a string")?;
        QueueName::parse(name).map_err(|error| error.to_string())
    };
    match value {
        None => Ok((QueueName::default(), BTreeMap::new())),
        Some(name @ Yaml::String(_)) => Ok((parse(name)?, BTreeMap::new())),
        Some(Yaml::Mapping(block)) => {
            let default = block
                .get("default")
                .map(parse)
                .transpose()?
                .unwrap_or_default();
            let mut customs = BTreeMap::new();
            if let Some(Yaml::Mapping(map)) = block.get("customs") {
                for (task, queue) in map {
                    let task = task
                        .as_str()
                        .ok_or("custom queue task names must be strings")?;
                    customs.insert(task.to_owned(), parse(queue)?);
                }
            }
            Ok((default, customs))
        }
        Some(_) => Err("'queue' must be a name or {default, customs}".into()),
    }
}

fn read_periodic(block: &Value) -> Result<PeriodicSpec, String> {
    let payload = block.get("payload").cloned().unwrap_or(json!({}));
    let interval = block.get("interval");
    let crontab = block.get("crontab").or_else(|| block.get("schedule"));
    match (interval, crontab) {
        (Some(interval), None) => {
            let seconds = interval
                .as_u64()
                .or_else(|| interval.as_f64().filter(|s| *s >= 1.0).map(|s| s as u64))
                .or_else(|| interval.as_str().and_then(|s| s.parse().ok()))
                .filter(|seconds| *seconds > 0)
                .ok_or("'interval' must be a positive number of seconds")?;
            Ok(PeriodicSpec {
                interval: Some(seconds),
                crontab: None,
                payload,
            })
        }
        (None, Some(expression)) => {
            let expression = expression.as_str().ok_or("'crontab' must be a string")?;
            let unix = if block.get("crontab").is_some() {
                expression.to_owned()
            } else {
                legacy_to_unix(expression)?
            };
            CronSchedule::parse(&unix).map_err(|error| error.to_string())?;
            Ok(PeriodicSpec {
                interval: None,
                crontab: Some(unix),
                payload,
            })
        }
        _ => Err("'periodic' needs exactly one of 'interval' and 'crontab'".into()),
    }
}

/// Director's legacy `schedule` orders the fields `m h dow dom mon`.
fn legacy_to_unix(expression: &str) -> Result<String, String> {
    let fields: Vec<&str> = expression.split_whitespace().collect();
    match fields.as_slice() {
        [minute, hour, dow, dom, month] => Ok(format!("{minute} {hour} {dom} {month} {dow}")),
        _ => Err(format!(
            "'schedule' needs 5 fields (m h dow dom mon), got '{expression}'"
        )),
    }
}

fn read_schema_file(dir: &Path, name: &str) -> Result<Value, String> {
    if name.contains("..") || name.starts_with('/') {
        return Err(format!(
            "schema file '{name}' must be a name under schemas/"
        ));
    }
    let mut path = dir.join("schemas").join(name);
    if path.extension().is_none() {
        path.set_extension("json");
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let yaml: Yaml =
        serde_yaml::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))?;
    to_json(&yaml)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Vec<WorkflowDefinition>, DefinitionError> {
        load_documents(
            Path::new("/nonexistent"),
            &[(PathBuf::from("workflows.yml"), text.to_owned())],
        )
    }

    fn deps(workflow: &WorkflowDefinition) -> Vec<Vec<usize>> {
        workflow
            .definition
            .tasks
            .iter()
            .map(|task| task.depends_on.clone())
            .collect()
    }

    #[test]
    fn the_seed_examples_compile_to_a_chain_and_a_fan_in() {
        let workflows = load(
            "example.ETL:\n  tasks:\n    - EXTRACT\n    - TRANSFORM\n    - LOAD\n  periodic:\n    interval: 3600\n    payload: {dry_run: false}\n\
             example.RANDOMS:\n  tasks:\n    - GROUP_RANDOMS:\n        type: group\n        tasks:\n          - RANDOM\n          - RANDOM\n    - ADD\n",
        )
        .unwrap();
        let etl = &workflows[0];
        assert_eq!(etl.fullname, "example.ETL");
        assert_eq!(deps(etl), vec![vec![], vec![0], vec![1]]);
        assert_eq!(
            etl.periodic_json,
            Some(json!({"interval": 3600, "payload": {"dry_run": false}}))
        );
        assert_eq!(
            etl.definition.periodic.as_ref().unwrap().interval,
            Some(3600)
        );
        assert_eq!(
            etl.definition.tasks[0].executor,
            json!({"type": "handler", "name": "EXTRACT"})
        );
        let randoms = &workflows[1];
        assert_eq!(deps(randoms), vec![vec![], vec![], vec![0, 1]]);
        assert_eq!(
            randoms.tasks_yaml,
            json!([{"GROUP_RANDOMS": {"type": "group", "tasks": ["RANDOM", "RANDOM"]}}, "ADD"])
        );
    }

    #[test]
    fn chains_nest_in_groups_and_queues_executors_and_hooks_apply() {
        let workflows = load(
            "p.W:\n  queue: {default: q1, customs: {B: q2}}\n  tasks:\n    - A\n    - G:\n        type: group\n        tasks:\n          - [B, C]\n          - D\n    - E\n  hooks: {success: OK, failure: KO}\n\
             executors:\n  A: {type: command, argv: [\"true\"], retries: 2, timeout: 30}\n",
        )
        .unwrap();
        let w = &workflows[0];
        let keys: Vec<&str> = w.definition.tasks.iter().map(|t| t.key.as_str()).collect();
        assert_eq!(keys, ["A", "B", "C", "D", "E", "OK", "KO"]);
        assert_eq!(
            deps(w),
            vec![
                vec![],
                vec![0],
                vec![1],
                vec![0],
                vec![2, 3],
                vec![4],
                vec![4]
            ]
        );
        assert_eq!(w.definition.queue.as_str(), "q1");
        assert_eq!(w.definition.tasks[1].queue.as_ref().unwrap().as_str(), "q2");
        assert_eq!(w.definition.tasks[0].max_retries, 2);
        assert_eq!(w.definition.tasks[0].timeout_secs, Some(30));
        assert_eq!(
            w.definition.hooks,
            RunHooks {
                on_success: Some(5),
                on_failure: Some(6)
            }
        );
        assert!(w.definition.tasks[5].is_hook && w.definition.tasks[6].is_hook);
        assert_eq!(w.hooks.success.as_deref(), Some("OK"));
    }

    #[test]
    fn periodic_crontab_and_legacy_schedule() {
        let workflows = load(
            "p.A:\n  tasks: [X]\n  periodic: {crontab: \"0 9 * * 1-5\"}\np.B:\n  tasks: [X]\n  periodic: {schedule: \"30 2 1 * *\"}\n",
        )
        .unwrap();
        assert_eq!(
            workflows[0]
                .definition
                .periodic
                .as_ref()
                .unwrap()
                .crontab
                .as_deref(),
            Some("0 9 * * 1-5")
        );
        assert_eq!(
            workflows[1]
                .definition
                .periodic
                .as_ref()
                .unwrap()
                .crontab
                .as_deref(),
            Some("30 2 * * 1")
        );
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let cases = [
            ("p.A:\n  tasks: [X\n", "workflows.yml:"),
            (
                "p.A:\n  tasks: []\n",
                "workflows.yml:1: workflow 'p.A': 'tasks' must be a non-empty list",
            ),
            (
                "p.A:\n  tasks: [X]\np.B:\n  tasks:\n    - G: {type: chord, tasks: [X]}\n",
                "workflows.yml:3: workflow 'p.B'",
            ),
            (
                "p.A:\n  tasks: [X]\n  periodic: {crontab: \"61 * * * *\"}\n",
                "workflows.yml:1:",
            ),
            (
                "nodot:\n  tasks: [X]\n",
                "workflows.yml:1: workflow 'nodot'",
            ),
            (
                "p.A:\n  tasks:\n    - G: {type: group, tasks: []}\n",
                "group 'G' has no tasks",
            ),
            (
                "p.A:\n  tasks: [X]\n  queue: \"bad queue\"\n",
                "invalid queue name",
            ),
            (
                "p.A:\n  tasks: [X]\n  colour: red\n",
                "unknown key 'colour'",
            ),
            ("executors:\n  X: {type: teleport}\n", "executor 'X'"),
        ];
        for (text, expected) in cases {
            let error = load(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
        let twice = load_documents(
            Path::new("/x"),
            &[
                (PathBuf::from("a.yml"), "p.A:\n  tasks: [X]\n".into()),
                (PathBuf::from("b.yml"), "p.A:\n  tasks: [Y]\n".into()),
            ],
        )
        .unwrap_err();
        assert!(
            twice.to_string().contains("also defined in a.yml"),
            "{twice}"
        );
    }

    #[test]
    fn the_example_definitions_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/definitions");
        let workflows = load_dir(&dir).unwrap();
        let names: Vec<&str> = workflows.iter().map(|w| w.fullname.as_str()).collect();
        assert!(
            names.contains(&"example.ETL") && names.contains(&"example.RANDOMS"),
            "{names:?}"
        );
        assert!(workflows.iter().any(|w| w.definition.periodic.is_some()));
    }
}

//! Compiling one workflow (`project.NAME: {...}`) into a [`WorkflowDefinition`]: its name, its
//! tasks as a DAG (see [`super::blocks`]), its queues, its hooks (as hook tasks after the DAG)
//! and its retention, with its periodic schedule and payload schema read by their own modules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_yaml::Value as Yaml;

use super::blocks::Compiler;
use super::definition::{Hooks, WorkflowDefinition};
use super::error::{DefinitionError, Source};
use super::executors::EXECUTORS_KEY;
use super::periodic::read_periodic;
use super::schema::{PayloadSchema, read_schema};
use super::yaml::{check_keys, check_task_name, describe, to_json};
use crate::engine::model::{Priority, QueueName, RunHooks};
use crate::workflows::definition::Definition;

/// The keys a workflow may have.
const WORKFLOW_KEYS: [&str; 6] = ["tasks", "queue", "periodic", "schema", "hooks", "retention"];

/// Splits `project.NAME`: exactly one dot, both parts non-empty.
fn split_fullname(fullname: &str) -> Option<(&str, &str)> {
    let (project, name) = fullname.split_once('.')?;
    (!project.is_empty() && !name.is_empty() && !name.contains('.')).then_some((project, name))
}

/// Compiles the workflow `key` of `source`.
pub(super) fn compile_workflow(
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
    use std::path::PathBuf;

    use serde_json::json;

    use super::*;
    use crate::workflows::tests::{deps, error, keys, load, workflow};

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
}

//! The top-level `executors:` block (Baton's extension): how each task name runs (command,
//! HTTP call or handler), with its retries and timeout. The executors of all the files form one
//! namespace.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;
use serde_yaml::Value as Yaml;

use super::error::{DefinitionError, Source};
use super::yaml::{check_task_name, describe, to_json};
use crate::engine::executor::ExecutorSpec;

/// The top-level key of the executors; every other top-level key but `handlers` is a
/// workflow.
pub(super) const EXECUTORS_KEY: &str = "executors";

/// How one task name runs: an entry of `executors`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Executor {
    /// The [`ExecutorSpec`] as JSON.
    pub(super) spec: Value,
    /// `max_retries`.
    pub(super) retries: u32,
    /// `timeout_secs`.
    pub(super) timeout: Option<u64>,
    /// The file that defined it first.
    source: PathBuf,
}

impl Executor {
    /// True when both say the same thing (wherever they come from).
    fn same_as(&self, other: &Executor) -> bool {
        (&self.spec, self.retries, self.timeout) == (&other.spec, other.retries, other.timeout)
    }
}

/// Reads an `executors` block into `executors`.
pub(super) fn read_executors(
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
    ExecutorSpec::parse_declared(&spec)?;
    Ok((spec, retries, timeout))
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use serde_json::json;

    use crate::workflows::load::load_documents;
    use crate::workflows::tests::load;

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
}

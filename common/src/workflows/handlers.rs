//! The Rust handlers a task may run: the built-in ones ([`BUILT_IN_HANDLERS`]), those a
//! top-level `handlers:` list declares, and the check that refuses, at its line, a task whose
//! handler no worker has.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_yaml::Value as Yaml;

use super::definition::WorkflowDefinition;
use super::error::{DefinitionError, Source};
use super::yaml::{check_task_name, describe};
use crate::engine::executor::ExecutorSpec;

/// The top-level key listing the Rust handlers registered on the workers besides the built-in
/// ones ([`BUILT_IN_HANDLERS`]).
pub(super) const HANDLERS_KEY: &str = "handlers";

/// The handlers every worker has.
pub const BUILT_IN_HANDLERS: [&str; 2] = ["noop", "probe"];

/// Reads a `handlers` list: task names.
pub(super) fn read_handlers(value: &Yaml) -> Result<Vec<String>, String> {
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
pub(super) fn check_handlers(
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::workflows::load::load_str;

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
}

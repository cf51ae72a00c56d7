//! Loading definition files: every `*.yml` / `*.yaml` of a directory ([`load_dir`]), one
//! text ([`load_str`]) or `(file, text)` pairs ([`load_documents`]). Each file's top-level keys
//! are read (workflows, `executors`, `handlers`), the executors applied to the compiled tasks
//! and the handlers checked.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_yaml::Value as Yaml;

use super::compile::compile_workflow;
use super::definition::WorkflowDefinition;
use super::error::{DefinitionError, Source};
use super::executors::{EXECUTORS_KEY, Executor, read_executors};
use super::handlers::{BUILT_IN_HANDLERS, HANDLERS_KEY, check_handlers, read_handlers};
use super::yaml::describe;

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
pub(super) fn compile_documents(
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

#[cfg(test)]
mod tests {
    use super::*;

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
}

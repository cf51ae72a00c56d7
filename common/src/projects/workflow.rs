//! Project workflows: the YAML files of `BATON_PROJECTS`, checked when they are loaded.
//!
//! # Files
//! [`load_dir`] reads every `*.yml` and `*.yaml` file of a directory (sorted by name, not
//! recursively); each file holds one workflow:
//!
//! ```yaml
//! slug: article
//! description: Write an article, have it edited, then publish it.
//! version: v1                      # optional: checked against `workflow_version_slug`
//! steps:
//!   - slug: research
//!     description: Gather sources
//!     type: machine
//!     executor: {type: command, argv: [sh, -c, "..."]}
//!     retries: 2                   # optional: attempts after the first
//!     timeout: 60                  # optional: seconds an attempt may run
//!     queue: default               # optional: the queue of a machine step
//!   - slug: write
//!     description: Write the article
//!     type: human
//!     depends_on: [research]
//!     review: true                 # optional: another person reviews the work
//!     form:                        # optional: the JSON Schema of what the person submits
//!       type: object
//!       required: [title, body]
//!       properties:
//!         title: {type: string, maxLength: 120}
//!         body: {type: string, format: textarea}
//!   - slug: publish
//!     description: Publish it
//!     type: machine
//!     depends_on: [write]
//!     executor: {type: http, url: "https://cms.example.com/publish"}
//! ```
//!
//! - Slugs (of workflows and steps) are 1 to 64 ASCII letters, digits, `_` or `-`; step slugs
//!   are unique within their workflow and workflow slugs across the files.
//! - `type: machine` steps need an `executor`: one the workers know (`command`, `http` or
//!   `handler`). `type: human` steps have none: they wait for a person, on the `human` queue
//!   (or a queue named `human.*` given as `queue`), which workers never consume.
//! - `depends_on` lists step slugs; an unknown step or a cycle refuses the file.
//! - `form` (human steps only) is a JSON Schema of an object: what the person submits as
//!   `task_data` must match it ([`StepForm`]), and the console draws it as a form. A form that
//!   is not a valid JSON Schema of an object refuses the file.
//! - `review: true` (human steps only): after the person submits, the task waits for a
//!   reviewer (another person, with `projects.review`), who accepts it (the step completes
//!   with the reviewed data) or sends it back with comments, as Orchestra's review steps do.
//!
//! An invalid file stops the load with a [`WorkflowFileError`] naming the file and, when it is
//! known, the line (`article.yml:14: step 'write' depends on unknown step 'reserch'`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::form::StepForm;
use crate::engine::executor::ExecutorSpec;
use crate::engine::model::QueueName;

/// The longest slug.
const MAX_SLUG: usize = 64;

/// A workflow file that cannot be loaded: where, and why. Displayed as `FILE:LINE: MESSAGE`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {message}", file.display(), line.map(|line| format!(":{line}")).unwrap_or_default())]
pub struct WorkflowFileError {
    /// The file (the directory itself when it cannot be read).
    pub file: PathBuf,
    /// Line (from 1), when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// Whether a step runs on a worker or waits for a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    /// Executed by a worker.
    Machine,
    /// Done by a person, who claims and submits it through the projects API.
    Human,
}

/// One step of a workflow, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Its slug, unique within the workflow.
    pub slug: String,
    /// What it is, for people.
    pub description: String,
    /// Machine or human.
    pub kind: StepKind,
    /// Indices (within the workflow's steps) of the steps it waits for.
    pub depends_on: Vec<usize>,
    /// How it runs (`{"type": "human"}` for a human step).
    pub executor: Value,
    /// The queue of its jobs.
    pub queue: QueueName,
    /// Attempts after the first (machine steps).
    pub max_retries: u32,
    /// Seconds an attempt may run (machine steps).
    pub timeout_secs: Option<u64>,
    /// The form a person fills in (human steps), when the step declares one.
    pub form: Option<StepForm>,
    /// True when another person must review the work before the step completes (human
    /// steps).
    pub review: bool,
}

/// A workflow of steps, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectWorkflow {
    /// Its slug (`workflow_slug`).
    pub slug: String,
    /// What it is.
    pub description: String,
    /// Its version slug, when it declares one.
    pub version: Option<String>,
    /// Its steps, in the file's order.
    pub steps: Vec<Step>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkflowFile {
    slug: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    version: Option<serde_yaml::Value>,
    steps: Vec<StepFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepFile {
    slug: String,
    #[serde(default)]
    description: String,
    #[serde(rename = "type")]
    kind: StepKind,
    #[serde(default)]
    depends_on: Vec<String>,
    #[serde(default)]
    executor: Option<Value>,
    #[serde(default)]
    queue: Option<String>,
    #[serde(default)]
    retries: u32,
    #[serde(default)]
    timeout: Option<u64>,
    #[serde(default)]
    form: Option<serde_yaml::Value>,
    #[serde(default)]
    review: bool,
}

/// Loads every workflow file of `dir`, by slug.
pub fn load_dir(dir: &Path) -> Result<BTreeMap<String, ProjectWorkflow>, WorkflowFileError> {
    let failure = |file: &Path, message: String| WorkflowFileError {
        file: file.to_owned(),
        line: None,
        message,
    };
    let entries = std::fs::read_dir(dir)
        .map_err(|error| failure(dir, format!("cannot read the directory: {error}")))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.is_file()
                && path
                    .extension()
                    .is_some_and(|ext| ext == "yml" || ext == "yaml")
        })
        .collect();
    files.sort();
    let mut workflows: BTreeMap<String, ProjectWorkflow> = BTreeMap::new();
    let mut sources: HashMap<String, PathBuf> = HashMap::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .map_err(|error| failure(&file, format!("cannot read the file: {error}")))?;
        let workflow = load_str(&text, &file)?;
        if let Some(first) = sources.get(&workflow.slug) {
            return Err(WorkflowFileError {
                line: line_of(&text, "slug", &workflow.slug, 0),
                file,
                message: format!(
                    "workflow '{}' is also defined in {}",
                    workflow.slug,
                    first.display()
                ),
            });
        }
        sources.insert(workflow.slug.clone(), file);
        workflows.insert(workflow.slug.clone(), workflow);
    }
    Ok(workflows)
}

/// Loads the workflow of one file's text; `source` names the file in errors.
pub fn load_str(text: &str, source: &Path) -> Result<ProjectWorkflow, WorkflowFileError> {
    let file: WorkflowFile = serde_yaml::from_str(text).map_err(|error| WorkflowFileError {
        file: source.to_owned(),
        line: error.location().map(|location| location.line()),
        message: error.to_string(),
    })?;
    let fail = |line: Option<usize>, message: String| WorkflowFileError {
        file: source.to_owned(),
        line,
        message,
    };
    let workflow_line = line_of(text, "slug", &file.slug, 0);
    check_slug(&file.slug).map_err(|message| fail(workflow_line, message))?;
    if file.steps.is_empty() {
        return Err(fail(
            workflow_line,
            format!("workflow '{}' has no steps", file.slug),
        ));
    }
    let version = match file.version {
        None | Some(serde_yaml::Value::Null) => None,
        Some(serde_yaml::Value::String(text)) => Some(text),
        Some(serde_yaml::Value::Number(number)) => Some(number.to_string()),
        Some(_) => {
            return Err(fail(
                line_of_key(text, "version"),
                "'version' must be a string or a number".into(),
            ));
        }
    };
    let mut index_of: HashMap<&str, usize> = HashMap::new();
    for (index, step) in file.steps.iter().enumerate() {
        let line = line_of(text, "slug", &step.slug, 1);
        check_slug(&step.slug).map_err(|message| fail(line, message))?;
        if index_of.insert(step.slug.as_str(), index).is_some() {
            return Err(fail(line, format!("step '{}' is defined twice", step.slug)));
        }
    }
    let mut steps = Vec::with_capacity(file.steps.len());
    for step in &file.steps {
        let line = line_of(text, "slug", &step.slug, 1);
        let fail_step = |message: String| fail(line, format!("step '{}': {message}", step.slug));
        let mut depends_on = Vec::with_capacity(step.depends_on.len());
        for dependency in &step.depends_on {
            match index_of.get(dependency.as_str()) {
                Some(&index) if dependency == &step.slug => {
                    return Err(fail_step(format!("depends on itself (step {index})")));
                }
                Some(&index) => depends_on.push(index),
                None => {
                    return Err(fail_step(format!("depends on unknown step '{dependency}'")));
                }
            }
        }
        let (executor, queue) = match step.kind {
            StepKind::Machine => machine_executor(step).map_err(fail_step)?,
            StepKind::Human => human_executor(step).map_err(fail_step)?,
        };
        let form = match (&step.form, step.kind) {
            (None, _) => None,
            (Some(_), StepKind::Machine) => {
                return Err(fail_step(
                    "only a human step takes a 'form': a person fills it in".into(),
                ));
            }
            (Some(schema), StepKind::Human) => {
                Some(StepForm::from_yaml(schema).map_err(fail_step)?)
            }
        };
        if step.review && step.kind == StepKind::Machine {
            return Err(fail_step(
                "only a human step takes 'review': a person reviews another's work".into(),
            ));
        }
        steps.push(Step {
            review: step.review,
            slug: step.slug.clone(),
            description: step.description.clone(),
            kind: step.kind,
            depends_on,
            executor,
            queue,
            max_retries: step.retries,
            timeout_secs: step.timeout,
            form,
        });
    }
    if let Some(cycle) = find_cycle(&steps) {
        let names: Vec<&str> = cycle
            .iter()
            .map(|&index| steps[index].slug.as_str())
            .collect();
        return Err(fail(
            line_of(text, "slug", &steps[cycle[0]].slug, 1),
            format!(
                "workflow '{}': the steps depend on each other in a cycle: {}",
                file.slug,
                names.join(" -> ")
            ),
        ));
    }
    Ok(ProjectWorkflow {
        slug: file.slug,
        description: file.description,
        version,
        steps,
    })
}

fn check_slug(slug: &str) -> Result<(), String> {
    let valid = !slug.is_empty()
        && slug.len() <= MAX_SLUG
        && slug
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "invalid slug '{slug}': use 1-{MAX_SLUG} letters, digits, '_' or '-'"
        ))
    }
}

fn machine_executor(step: &StepFile) -> Result<(Value, QueueName), String> {
    let executor = step
        .executor
        .clone()
        .ok_or("a machine step needs an 'executor' (command, http or handler)")?;
    ExecutorSpec::parse_declared(&executor).map_err(|error| format!("executor: {error}"))?;
    let queue = match &step.queue {
        Some(name) => QueueName::parse(name).map_err(|error| error.to_string())?,
        None => QueueName::default(),
    };
    if queue.is_human() {
        return Err(format!(
            "queue '{queue}' is for human steps; workers never consume it"
        ));
    }
    Ok((executor, queue))
}

fn human_executor(step: &StepFile) -> Result<(Value, QueueName), String> {
    if step.executor.is_some() || step.retries > 0 || step.timeout.is_some() {
        return Err(
            "a human step takes no 'executor', 'retries' or 'timeout': a person does it".into(),
        );
    }
    let queue = match &step.queue {
        Some(name) => QueueName::parse(name).map_err(|error| error.to_string())?,
        None => QueueName::human(),
    };
    if !queue.is_human() {
        return Err(format!(
            "queue '{queue}' is not a human queue: use 'human' or 'human.NAME'"
        ));
    }
    let executor = serde_json::to_value(ExecutorSpec::Human)
        .map_err(|error| format!("cannot encode the executor: {error}"))?;
    Ok((executor, queue))
}

/// A cycle of steps (indices, first repeated last), if the dependencies have one.
fn find_cycle(steps: &[Step]) -> Option<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(at: usize, steps: &[Step], marks: &mut [Mark], path: &mut Vec<usize>) -> bool {
        marks[at] = Mark::Open;
        path.push(at);
        for &next in &steps[at].depends_on {
            let mark = marks[next];
            match mark {
                Mark::Open => {
                    let start = path.iter().position(|&index| index == next).unwrap_or(0);
                    path.drain(..start);
                    path.push(next);
                    return true;
                }
                Mark::New if visit(next, steps, marks, path) => return true,
                _ => {}
            }
        }
        path.pop();
        marks[at] = Mark::Done;
        false
    }
    let mut marks = vec![Mark::New; steps.len()];
    for start in 0..steps.len() {
        let mut path = Vec::new();
        if marks[start] == Mark::New && visit(start, steps, &mut marks, &mut path) {
            return Some(path);
        }
    }
    None
}

/// The line (from 1) of `key: value` indented by at least `min_indent` (0 for the top level,
/// 1 for anything nested), bare or quoted, possibly as a list item.
fn line_of(text: &str, key: &str, value: &str, min_indent: usize) -> Option<usize> {
    text.lines()
        .enumerate()
        .find(|(_, line)| {
            let content = line.trim_start();
            let indent = line.len() - content.len();
            let content = content.strip_prefix("- ").unwrap_or(content).trim_start();
            let top = indent == 0 && !line.trim_start().starts_with("- ");
            if (min_indent == 0) != top {
                return false;
            }
            content
                .strip_prefix(key)
                .and_then(|rest| rest.strip_prefix(':'))
                .map(|rest| {
                    let rest = rest.split(" #").next().unwrap_or("").trim();
                    rest.trim_matches(|c| c == '"' || c == '\'') == value
                })
                .unwrap_or(false)
        })
        .map(|(index, _)| index + 1)
}

/// The line (from 1) of the top-level key `key`.
fn line_of_key(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|line| {
            line.strip_prefix(key)
                .is_some_and(|rest| rest.starts_with(':'))
        })
        .map(|index| index + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARTICLE: &str = "\
slug: article
description: Write and publish an article
version: 2
steps:
  - slug: research
    description: Gather sources
    type: machine
    executor: {type: command, argv: [sh, -c, 'echo {} > \"$BATON_RESULT\"']}
  - slug: write
    description: Write the article
    type: human
    depends_on: [research]
  - slug: publish
    description: Publish it
    type: machine
    depends_on: [write, research]
    executor: {type: handler, name: noop}
    retries: 1
";

    fn load(text: &str) -> Result<ProjectWorkflow, WorkflowFileError> {
        load_str(text, Path::new("article.yml"))
    }

    #[test]
    fn a_workflow_of_machine_and_human_steps_loads() {
        let workflow = load(ARTICLE).unwrap();
        assert_eq!(workflow.slug, "article");
        assert_eq!(workflow.version.as_deref(), Some("2"));
        let slugs: Vec<&str> = workflow.steps.iter().map(|s| s.slug.as_str()).collect();
        assert_eq!(slugs, ["research", "write", "publish"]);
        let write = &workflow.steps[1];
        assert_eq!(write.kind, StepKind::Human);
        assert_eq!(write.executor, serde_json::json!({"type": "human"}));
        assert!(write.queue.is_human());
        assert_eq!(write.depends_on, [0]);
        let publish = &workflow.steps[2];
        assert_eq!(publish.depends_on, [1, 0]);
        assert_eq!(publish.max_retries, 1);
        assert_eq!(publish.queue, QueueName::default());
    }

    #[test]
    fn unknown_dependencies_are_refused_with_the_line() {
        let text = ARTICLE.replace("depends_on: [research]", "depends_on: [reserch]");
        let error = load(&text).unwrap_err();
        assert_eq!(error.line, Some(9), "{error}");
        assert!(error.message.contains("unknown step 'reserch'"), "{error}");
        assert!(error.to_string().starts_with("article.yml:9: "), "{error}");
    }

    #[test]
    fn cycles_are_refused() {
        let text = ARTICLE.replace(
            "    type: machine\n    executor: {type: command",
            "    type: machine\n    depends_on: [publish]\n    executor: {type: command",
        );
        let error = load(&text).unwrap_err();
        assert!(error.message.contains("cycle"), "{error}");
        assert!(error.line.is_some(), "{error}");
    }

    #[test]
    fn bad_steps_are_refused_with_their_line() {
        let cases = [
            (
                ARTICLE.replace("type: human", "type: robot"),
                "unknown variant",
            ),
            (
                ARTICLE.replace("    executor: {type: handler, name: noop}\n", ""),
                "needs an 'executor'",
            ),
            (
                ARTICLE.replace("type: handler, name: noop", "type: report"),
                "executor: unknown type 'report'",
            ),
            (
                ARTICLE.replace("- slug: publish", "- slug: write"),
                "defined twice",
            ),
            (
                ARTICLE.replace("slug: article", "slug: 'a b'"),
                "invalid slug",
            ),
            (
                ARTICLE.replace("description: Gather", "colour: Gather"),
                "unknown field",
            ),
        ];
        for (text, expected) in cases {
            let error = load(&text).unwrap_err();
            assert!(error.message.contains(expected), "{expected}: {error}");
            assert!(error.line.is_some(), "{expected}: {error}");
        }
    }

    #[test]
    fn a_human_step_declares_a_form_checked_at_load() {
        let with_form = ARTICLE.replace(
            "    depends_on: [research]\n",
            "    depends_on: [research]\n    form:\n      type: object\n      required: [title]\n      properties:\n        title: {type: string, maxLength: 80}\n",
        );
        let workflow = load(&with_form).unwrap();
        let form = workflow.steps[1].form.as_ref().unwrap();
        assert_eq!(form.json()["properties"]["title"]["maxLength"], 80);
        assert!(form.problems(&serde_json::json!({"title": "x"})).is_empty());
        assert!(workflow.steps[0].form.is_none());

        let broken = with_form.replace("{type: string, maxLength: 80}", "{type: 7}");
        let error = load(&broken).unwrap_err();
        assert!(error.message.contains("not a valid JSON Schema"), "{error}");
        assert_eq!(error.line, Some(9), "{error}");
        let scalar = with_form.replace("      type: object\n", "      type: string\n");
        let error = load(&scalar).unwrap_err();
        assert!(error.message.contains("describe an object"), "{error}");

        let on_machine = ARTICLE.replace(
            "    retries: 1\n",
            "    retries: 1\n    form: {type: object}\n",
        );
        let error = load(&on_machine).unwrap_err();
        assert!(error.message.contains("only a human step"), "{error}");
        assert!(error.to_string().starts_with("article.yml:"), "{error}");
    }

    #[test]
    fn the_example_workflows_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/projects");
        let loaded = load_dir(&dir).unwrap();
        let article = &loaded["article"];
        let kinds: Vec<StepKind> = article.steps.iter().map(|step| step.kind).collect();
        assert_eq!(
            kinds,
            [StepKind::Machine, StepKind::Human, StepKind::Machine]
        );
    }

    #[test]
    fn directories_load_every_file_and_refuse_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yml"), ARTICLE).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a workflow").unwrap();
        let loaded = load_dir(dir.path()).unwrap();
        assert_eq!(loaded.keys().collect::<Vec<_>>(), ["article"]);
        std::fs::write(dir.path().join("b.yaml"), ARTICLE).unwrap();
        let error = load_dir(dir.path()).unwrap_err();
        assert!(error.to_string().contains("b.yaml:1: "), "{error}");
        assert!(error.message.contains("also defined"), "{error}");
    }

    #[test]
    fn a_human_step_may_require_review_and_a_machine_step_may_not() {
        let reviewed = ARTICLE.replace(
            "    depends_on: [research]\n",
            "    depends_on: [research]\n    review: true\n",
        );
        let workflow = load(&reviewed).unwrap();
        assert!(workflow.steps[1].review);
        assert!(!workflow.steps[0].review);
        let machine = ARTICLE.replace("    retries: 1\n", "    retries: 1\n    review: true\n");
        let error = load(&machine).unwrap_err().to_string();
        assert!(
            error.contains("only a human step takes 'review'"),
            "{error}"
        );
    }
}

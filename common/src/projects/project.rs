//! A project (Orchestra's): what a client creates it with, how its integer priority and task
//! class are read, and the run of its workflow it becomes.
//!
//! A project is a run (definition `project:WORKFLOW_SLUG`, id `project-ID`) with one task per
//! step (the task's key is the step's slug), dependencies as declared, and the project's
//! fields as the payload every task receives ([`NewProject::payload`]).
//!
//! **Priority.** Orchestra's priority is an integer, higher first; the engine has three priority
//! streams per queue. A priority above 0 runs the project's jobs on the high stream, 0 on the
//! normal one, below 0 on the low one ([`priority_stream`]).

use serde_json::{Value, json};

use super::workflow::ProjectWorkflow;
use crate::engine::model::{Priority, RunHooks, RunKind, RunSpec, TaskSpec, project_definition};
use crate::error::InvalidInput;

/// Orchestra's task class: real work or training. Shown as Orchestra's integers: training is
/// 0, real is 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskClass {
    /// A training project (0).
    Training,
    /// A real project (1).
    Real,
}

impl TaskClass {
    /// Reads `real` or `training` (any case), or Orchestra's integers 1 and 0.
    pub fn parse(value: &Value) -> Result<Self, InvalidInput> {
        match value {
            Value::String(text) if text.eq_ignore_ascii_case("real") || text == "1" => {
                Ok(Self::Real)
            }
            Value::String(text) if text.eq_ignore_ascii_case("training") || text == "0" => {
                Ok(Self::Training)
            }
            Value::Number(number) if number.as_u64() == Some(1) => Ok(Self::Real),
            Value::Number(number) if number.as_u64() == Some(0) => Ok(Self::Training),
            other => Err(InvalidInput::new(format!(
                "task_class must be 'real' or 'training' (or 1 or 0), not {other}"
            ))),
        }
    }

    /// The name stored with the project: `real` or `training`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Training => "training",
            Self::Real => "real",
        }
    }

    /// Orchestra's integer: 0 for training, 1 for real.
    pub fn as_number(self) -> u8 {
        match self {
            Self::Training => 0,
            Self::Real => 1,
        }
    }
}

/// The engine's priority stream for Orchestra's integer priority: above 0 high, 0 normal,
/// below 0 low.
pub fn priority_stream(priority: i64) -> Priority {
    match priority {
        1.. => Priority::High,
        0 => Priority::Normal,
        _ => Priority::Low,
    }
}

/// A project as a client asks for it, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct NewProject {
    /// The workflow's slug.
    pub workflow_slug: String,
    /// The workflow's version, when the workflow declares one.
    pub workflow_version: Option<String>,
    /// A short description.
    pub description: String,
    /// Higher first.
    pub priority: i64,
    /// Anything the client wants the steps to get.
    pub project_data: Value,
    /// Real or training.
    pub task_class: TaskClass,
    /// The team's review document.
    pub review_document_url: String,
}

impl NewProject {
    /// What every task of the project receives as `payload`.
    pub fn payload(&self, id: u64) -> Value {
        json!({
            "project_id": id,
            "workflow_slug": self.workflow_slug,
            "workflow_version": self.workflow_version,
            "description": self.description,
            "priority": self.priority,
            "task_class": self.task_class.as_str(),
            "project_data": self.project_data,
            "review_document_url": self.review_document_url,
        })
    }

    /// The run of project `id`: one task per step of `workflow`.
    pub fn run_spec(&self, workflow: &ProjectWorkflow, id: u64) -> RunSpec {
        let tasks = workflow
            .steps
            .iter()
            .map(|step| TaskSpec {
                key: step.slug.clone(),
                executor: step.executor.clone(),
                depends_on: step.depends_on.clone(),
                queue: Some(step.queue.clone()),
                max_retries: step.max_retries,
                timeout_secs: step.timeout_secs,
                is_hook: false,
            })
            .collect();
        RunSpec {
            id: Some(project_run_id(id)),
            definition: project_definition(&workflow.slug),
            kind: RunKind::Project,
            payload: self.payload(id),
            tasks,
            queue: Default::default(),
            priority: priority_stream(self.priority),
            periodic: false,
            not_before_ms: None,
            hooks: RunHooks::default(),
        }
    }
}

/// The run id of project `id`: fixed, so creating it twice makes one run.
pub fn project_run_id(id: u64) -> String {
    format!("project-{id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn priorities_map_to_the_three_streams() {
        assert_eq!(priority_stream(10), Priority::High);
        assert_eq!(priority_stream(1), Priority::High);
        assert_eq!(priority_stream(0), Priority::Normal);
        assert_eq!(priority_stream(-1), Priority::Low);
        assert_eq!(priority_stream(i64::MIN), Priority::Low);
    }

    #[test]
    fn task_classes_read_names_and_numbers() {
        for (value, class) in [
            (json!("real"), TaskClass::Real),
            (json!("Training"), TaskClass::Training),
            (json!(1), TaskClass::Real),
            (json!(0), TaskClass::Training),
            (json!("1"), TaskClass::Real),
        ] {
            assert_eq!(TaskClass::parse(&value).unwrap(), class, "{value}");
        }
        for bad in [json!(2), json!("fake"), json!(null), json!(true)] {
            assert!(TaskClass::parse(&bad).is_err(), "{bad}");
        }
        assert_eq!(TaskClass::Real.as_number(), 1);
        assert_eq!(TaskClass::Training.as_number(), 0);
    }

    #[test]
    fn a_project_becomes_a_run_of_its_steps() {
        let workflow = super::super::workflow::load_str(
            "slug: w\nsteps:\n  - {slug: a, type: human}\n  - {slug: b, type: machine, depends_on: [a], executor: {type: handler, name: noop}}\n",
            Path::new("w.yml"),
        )
        .unwrap();
        let project = NewProject {
            workflow_slug: "w".into(),
            workflow_version: None,
            description: "d".into(),
            priority: -3,
            project_data: json!({"k": "v"}),
            task_class: TaskClass::Real,
            review_document_url: String::new(),
        };
        let spec = project.run_spec(&workflow, 7);
        assert!(spec.validate().is_ok());
        assert_eq!(spec.id.as_deref(), Some("project-7"));
        assert_eq!(spec.priority, Priority::Low);
        assert_eq!(spec.kind, RunKind::Project);
        assert!(!spec.kind.is_listed());
        assert_eq!(spec.tasks[0].key, "a");
        assert_eq!(spec.tasks[0].queue.as_ref().unwrap().as_str(), "human");
        assert_eq!(spec.tasks[1].depends_on, [0]);
        assert_eq!(spec.payload["project_data"], json!({"k": "v"}));
        assert_eq!(spec.payload["project_id"], 7);
    }
}

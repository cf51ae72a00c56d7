//! The workflow definitions, and starting one from a form built from its JSON Schema (drawn
//! by [`schema_form`](super::schema_form), checked against that schema by the same operation
//! as `POST /api/workflows`, each problem shown next to its field).

use askama::Template;
use serde_json::Value;
use warp::http::StatusCode;

use super::form::Form;
use super::html::{Chrome, page, page_with_status, see_other};
use super::schema_form::{Field, fields_of, place_problems, read_form};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// A definition, as listed.
#[derive(Debug, Clone)]
struct DefinitionRow {
    fullname: String,
    tasks: usize,
    queue: String,
    schedule: String,
    has_schema: bool,
}

#[derive(Template)]
#[template(path = "console/workflows.html")]
struct WorkflowsPage {
    chrome: Chrome,
    definitions: Vec<DefinitionRow>,
}

/// A definition's schedule, as people read it (empty when it has none).
pub fn schedule_text(definition: &common::workflows::definition::Definition) -> String {
    match &definition.periodic {
        Some(periodic) => match (&periodic.interval, &periodic.crontab) {
            (Some(seconds), _) => format!("every {seconds} s"),
            (None, Some(crontab)) => format!("cron {crontab}"),
            _ => String::new(),
        },
        None => String::new(),
    }
}

/// `GET /ui/workflows`.
pub async fn list(state: &AppState, caller: &Caller) -> Result<warp::reply::Response, ApiError> {
    let definitions = state
        .workflows
        .values()
        .map(|workflow| DefinitionRow {
            fullname: workflow.fullname.clone(),
            tasks: workflow
                .definition
                .tasks
                .iter()
                .filter(|task| !task.is_hook)
                .count(),
            queue: workflow.definition.queue.to_string(),
            schedule: schedule_text(&workflow.definition),
            has_schema: workflow.schema.is_some(),
        })
        .collect();
    page(&WorkflowsPage {
        chrome: Chrome::new(caller, "Workflows", "workflows"),
        definitions,
    })
}

#[derive(Template)]
#[template(path = "console/workflow.html")]
struct WorkflowPage {
    chrome: Chrome,
    fullname: String,
    tasks: Vec<String>,
    schedule: String,
    fields: Vec<Field>,
    json_mode: bool,
    payload: String,
    problems: Vec<String>,
}

fn workflow_of<'a>(
    state: &'a AppState,
    name: &str,
) -> Result<&'a common::workflows::definition::WorkflowDefinition, ApiError> {
    state
        .workflows
        .get(name)
        .ok_or_else(|| ApiError::NotFound(format!("no workflow '{name}'")))
}

fn workflow_page(
    caller: &Caller,
    workflow: &common::workflows::definition::WorkflowDefinition,
    fields: Option<Vec<Field>>,
    payload: String,
    problems: Vec<String>,
) -> WorkflowPage {
    WorkflowPage {
        chrome: Chrome::new(caller, format!("Start {}", workflow.fullname), "workflows"),
        fullname: workflow.fullname.clone(),
        tasks: workflow
            .definition
            .tasks
            .iter()
            .filter(|task| !task.is_hook)
            .map(|task| task.key.clone())
            .collect(),
        schedule: schedule_text(&workflow.definition),
        json_mode: fields.is_none(),
        fields: fields.unwrap_or_default(),
        payload,
        problems,
    }
}

/// `GET /ui/workflows/{name}`: the definition and its start form.
pub async fn page_of_workflow(
    state: &AppState,
    caller: &Caller,
    name: &str,
) -> Result<warp::reply::Response, ApiError> {
    let workflow = workflow_of(state, name)?;
    let fields = fields_of(workflow.schema.as_ref().map(|schema| schema.json()), &[]);
    page(&workflow_page(
        caller,
        workflow,
        fields,
        "{}".into(),
        Vec::new(),
    ))
}

/// `POST /ui/workflows/{name}/start`: starts a run and shows it, or shows the form again
/// with each problem next to its field (400).
pub async fn start(
    state: &AppState,
    caller: &Caller,
    name: &str,
    form: &Form,
) -> Result<warp::reply::Response, ApiError> {
    let workflow = workflow_of(state, name)?;
    let mut fields = fields_of(workflow.schema.as_ref().map(|schema| schema.json()), &[]);
    let payload_text = form.get("payload").unwrap_or("{}").to_owned();
    let payload = match &mut fields {
        Some(fields) => read_form(fields, form),
        None => match serde_json::from_str::<Value>(&payload_text) {
            Ok(payload @ Value::Object(_)) => payload,
            Ok(_) | Err(_) => {
                let problems = vec!["The payload must be a JSON object.".to_owned()];
                return page_with_status(
                    &workflow_page(caller, workflow, fields, payload_text, problems),
                    StatusCode::BAD_REQUEST,
                );
            }
        },
    };
    use common::operations::OperationError;
    match common::operations::workflows::start_workflow(
        &state.store,
        &state.workflows,
        name,
        payload,
    )
    .await
    {
        Ok(run) => Ok(see_other(&format!("/ui/runs/{}", run.id))),
        Err(OperationError::InvalidPayload(problems)) => {
            let general = match &mut fields {
                Some(fields) => place_problems(fields, problems, "payload"),
                None => problems,
            };
            page_with_status(
                &workflow_page(caller, workflow, fields, payload_text, general),
                StatusCode::BAD_REQUEST,
            )
        }
        Err(other) => Err(other.into()),
    }
}

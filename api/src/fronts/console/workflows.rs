//! The workflow definitions, and starting one from a form built from its JSON Schema (checked
//! against that schema by the same operation as `POST /api/workflows`, each problem shown next
//! to its field).

use askama::Template;
use serde_json::{Map, Value};
use warp::http::StatusCode;

use super::form::Form;
use super::html::{Chrome, page, page_with_status, see_other};
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
pub fn schedule_text(definition: &common::store::definitions::Definition) -> String {
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

/// One input of the start form, made from a property of the schema.
#[derive(Debug, Clone)]
struct Field {
    name: String,
    kind: &'static str,
    required: bool,
    description: String,
    choices: Vec<String>,
    value: String,
    error: Option<String>,
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

/// The form's fields: one per property of an object schema whose properties are all plain
/// values (text, numbers, booleans, choices); `None` when the payload must be written as JSON.
fn fields_of(schema: Option<&Value>) -> Option<Vec<Field>> {
    let Some(schema) = schema else {
        return Some(Vec::new());
    };
    let properties = schema.get("properties")?.as_object()?;
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    properties
        .iter()
        .map(|(name, property)| {
            let choices: Vec<String> = property
                .get("enum")
                .and_then(Value::as_array)
                .map(|values| {
                    values
                        .iter()
                        .map(|value| match value {
                            Value::String(text) => text.clone(),
                            other => other.to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let kind = match property.get("type").and_then(Value::as_str) {
                _ if !choices.is_empty() => "choice",
                Some("string") => "string",
                Some("integer") => "integer",
                Some("number") => "number",
                Some("boolean") => "boolean",
                _ => return None,
            };
            Some(Field {
                name: name.clone(),
                kind,
                required: required.contains(&name.as_str()),
                description: property
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                choices,
                value: property
                    .get("default")
                    .map(|value| match value {
                        Value::String(text) => text.clone(),
                        other => other.to_string(),
                    })
                    .unwrap_or_default(),
                error: None,
            })
        })
        .collect()
}

/// The payload a filled form stands for: each non-empty field as its schema's type (a value
/// that does not read as that type is kept as text, so the schema check names it).
fn payload_of(fields: &mut [Field], form: &Form) -> Value {
    let mut payload = Map::new();
    for field in fields.iter_mut() {
        let text = form.get(&field.name).unwrap_or_default().trim().to_owned();
        field.value = text.clone();
        let value = match field.kind {
            "boolean" => Some(Value::Bool(text == "true")),
            _ if text.is_empty() => None,
            "integer" => Some(
                text.parse::<i64>()
                    .map(Value::from)
                    .unwrap_or(Value::String(text)),
            ),
            "number" => Some(
                text.parse::<f64>()
                    .ok()
                    .and_then(|number| serde_json::Number::from_f64(number).map(Value::Number))
                    .unwrap_or(Value::String(text)),
            ),
            "choice" => Some(
                serde_json::from_str::<Value>(&text)
                    .ok()
                    .filter(|value| !value.is_string() && !value.is_object())
                    .unwrap_or(Value::String(text)),
            ),
            _ => Some(Value::String(text)),
        };
        if let Some(value) = value {
            payload.insert(field.name.clone(), value);
        }
    }
    Value::Object(payload)
}

/// Hands each problem to the field it names (`payload/NAME: ...`); the rest stay general.
fn place_problems(fields: &mut [Field], problems: Vec<String>) -> Vec<String> {
    let mut general = Vec::new();
    for problem in problems {
        let named = problem
            .strip_prefix("payload/")
            .and_then(|rest| rest.split_once([':', '/']))
            .map(|(name, _)| name.to_owned());
        match named.and_then(|name| fields.iter_mut().find(|field| field.name == name)) {
            Some(field) => {
                let text = problem
                    .split_once(": ")
                    .map_or(problem.as_str(), |(_, text)| text);
                field.error = Some(text.to_owned());
            }
            None => general.push(problem),
        }
    }
    general
}

fn workflow_of<'a>(
    state: &'a AppState,
    name: &str,
) -> Result<&'a common::director::WorkflowDefinition, ApiError> {
    state
        .workflows
        .get(name)
        .ok_or_else(|| ApiError::NotFound(format!("no workflow '{name}'")))
}

fn workflow_page(
    caller: &Caller,
    workflow: &common::director::WorkflowDefinition,
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
    let fields = fields_of(workflow.schema.as_ref().map(|schema| schema.json()));
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
    let mut fields = fields_of(workflow.schema.as_ref().map(|schema| schema.json()));
    let payload_text = form.get("payload").unwrap_or("{}").to_owned();
    let payload = match &mut fields {
        Some(fields) => payload_of(fields, form),
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
                Some(fields) => place_problems(fields, problems),
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_plain_object_schema_becomes_typed_fields_and_problems_find_them() {
        let schema = json!({
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "description": "Who"},
                "count": {"type": "integer", "default": 3},
                "mode": {"enum": ["fast", "slow"]},
                "dry": {"type": "boolean"}
            }
        });
        let mut fields = fields_of(Some(&schema)).unwrap();
        assert_eq!(fields.len(), 4);
        let form = Form::parse(b"name=x&count=many&mode=fast&dry=true").unwrap();
        let payload = payload_of(&mut fields, &form);
        assert_eq!(
            payload,
            json!({"name": "x", "count": "many", "mode": "fast", "dry": true})
        );
        let general = place_problems(
            &mut fields,
            vec![
                "payload/count: \"many\" is not of type \"integer\"".into(),
                "payload: something else".into(),
            ],
        );
        assert_eq!(general, vec!["payload: something else".to_owned()]);
        let count = fields.iter().find(|field| field.name == "count").unwrap();
        assert_eq!(
            count.error.as_deref(),
            Some("\"many\" is not of type \"integer\"")
        );
        let nested = json!({"type": "object", "properties": {"deep": {"type": "object"}}});
        assert!(fields_of(Some(&nested)).is_none());
        assert_eq!(fields_of(None).map(|fields| fields.len()), Some(0));
    }
}

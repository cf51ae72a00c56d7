//! The form of a human task's step, as its claimant and its reviewer fill it in: its fields
//! drawn from the step's `form` ([`schema_form`](super::super::schema_form)), or a JSON
//! editor for a step without one (or with a schema no field can stand for), and a posted form
//! read back into the task data.

use serde_json::Value;

use super::super::form::Form;
use super::super::schema_form::{Field, fields_of, read_form, show_values};
use super::pretty;
use crate::error::ApiError;
use crate::fronts::projects::tasks::{HumanTask, find_task};
use crate::fronts::projects::view::is_human;
use crate::state::AppState;

/// The name of the JSON editor's field.
pub(crate) const JSON_FIELD: &str = "task_data";

/// The task's form: its fields, or `None` for the JSON editor.
pub(crate) fn form_fields(state: &AppState, task: &HumanTask) -> Option<Vec<Field>> {
    let form = task.step(state)?.form.as_ref()?;
    fields_of(Some(form.json()), form.property_order())
}

/// The task's form showing its work as it stands (the schema's defaults when it has none):
/// the fields, or `None` for the JSON editor, and the JSON editor's text.
pub(crate) fn prefilled(state: &AppState, task: &HumanTask) -> (Option<Vec<Field>>, String) {
    let work = task.human().work.clone();
    let mut fields = form_fields(state, task);
    if let (Some(fields), Some(work)) = (&mut fields, &work) {
        show_values(fields, work);
    }
    let text = work.as_ref().map_or_else(|| "{}".to_owned(), pretty);
    (fields, text)
}

/// The names of the step form's properties in the order its file lists them (empty without
/// a form), to show task data field by field in the same order.
pub(crate) fn field_order(state: &AppState, task: &HumanTask) -> Vec<String> {
    task.step(state)
        .and_then(|step| step.form.as_ref())
        .map(|form| form.property_order().to_vec())
        .unwrap_or_default()
}

/// What a posted form holds.
pub(crate) struct Posted {
    /// The task data.
    pub data: Value,
    /// The fields as typed (`None` for the JSON editor).
    pub fields: Option<Vec<Field>>,
    /// The JSON editor's text.
    pub text: String,
}

/// A JSON editor's text that is not a JSON object, and why.
pub(crate) struct NotAnObject {
    /// Why it was refused.
    pub problem: String,
    /// The text, to be shown again.
    pub text: String,
}

/// Reads a posted form; a JSON editor whose text is not a JSON object answers why.
pub(crate) fn posted_data(
    state: &AppState,
    task: &HumanTask,
    form: &Form,
) -> Result<Posted, NotAnObject> {
    let mut fields = form_fields(state, task);
    let text = form.get(JSON_FIELD).unwrap_or("{}").to_owned();
    let data = match &mut fields {
        Some(fields) => read_form(fields, form),
        None => match serde_json::from_str::<Value>(&text) {
            Ok(data @ Value::Object(_)) => data,
            Ok(_) | Err(_) => {
                let problem = "The task data must be a JSON object, such as {\"answer\": \"yes\"}.";
                return Err(NotAnObject {
                    problem: problem.to_owned(),
                    text,
                });
            }
        },
    };
    Ok(Posted { data, fields, text })
}

/// Human task `id`, or the console's 404 for a machine step or an unknown id.
pub(crate) async fn human_task(state: &AppState, id: u64) -> Result<HumanTask, ApiError> {
    let task = find_task(state, id).await?;
    if !is_human(task.task()) {
        return Err(ApiError::NotFound(format!(
            "task {id} is a machine step: no person works on it or reviews it"
        )));
    }
    Ok(task)
}

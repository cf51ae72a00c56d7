//! Orchestra's client API: creating projects, reading them, listing workflows.

use common::projects::project::{NewProject, TaskClass};
use common::store::projects::ProjectRef;
use serde_json::{Map, Value, json};

use super::reply::{body_object, integer_id, ok};
use super::view::project_information;
use crate::error::ApiError;
use crate::request::RequestParts;
use crate::state::AppState;

/// Most projects one `project_information` call may ask for.
const MAX_PROJECT_IDS: usize = 100;

/// `POST /orchestra/api/project/create_project`: `{"project_id": N}`.
pub async fn create(
    state: &AppState,
    request: &RequestParts,
) -> Result<warp::reply::Response, ApiError> {
    let body = body_object(request)?;
    let project = new_project(&body)?;
    let workflow = state.projects.get(&project.workflow_slug).ok_or_else(|| {
        ApiError::NotFound(format!(
            "unknown workflow_slug '{}': use one of {}",
            project.workflow_slug,
            known(state)
        ))
    })?;
    if let Some(asked) = &project.workflow_version
        && workflow.version.as_deref() != Some(asked.as_str())
    {
        return Err(ApiError::NotFound(format!(
            "workflow '{}' has no version '{asked}' (its version is {})",
            workflow.slug,
            workflow.version.as_deref().unwrap_or("not set")
        )));
    }
    let created = state
        .store
        .create_project(workflow.steps.len(), |id| project.run_spec(workflow, id))
        .await?;
    tracing::info!(project = created.id, run = %created.run_id, workflow = %workflow.slug, priority = project.priority, "project created");
    Ok(ok(&json!({"project_id": created.id})))
}

fn known(state: &AppState) -> String {
    let slugs: Vec<&str> = state.projects.keys().map(String::as_str).collect();
    if slugs.is_empty() {
        "none (no workflows are loaded: set BATON_PROJECTS)".into()
    } else {
        slugs.join(", ")
    }
}

/// Reads and checks `create_project`'s body.
fn new_project(body: &Map<String, Value>) -> Result<NewProject, ApiError> {
    let mut problems = Vec::new();
    let text = |name: &str, required: bool, problems: &mut Vec<String>| match body.get(name) {
        Some(Value::String(text)) => Some(text.clone()),
        None | Some(Value::Null) => {
            if required {
                problems.push(format!("'{name}' is required"));
            }
            None
        }
        Some(other) => {
            problems.push(format!("'{name}' must be a string, not {other}"));
            None
        }
    };
    let workflow_slug = text("workflow_slug", true, &mut problems);
    let workflow_version = text("workflow_version_slug", false, &mut problems);
    let description = text("description", false, &mut problems).unwrap_or_default();
    let review_document_url = text("review_document_url", false, &mut problems).unwrap_or_default();
    let priority = match body.get("priority") {
        None | Some(Value::Null) => 0,
        Some(Value::Number(number)) if number.is_i64() => number.as_i64().unwrap_or(0),
        Some(Value::String(text)) if text.trim().parse::<i64>().is_ok() => {
            text.trim().parse().unwrap_or(0)
        }
        Some(other) => {
            problems.push(format!("'priority' must be an integer, not {other}"));
            0
        }
    };
    let task_class = match body.get("task_class") {
        None => {
            problems.push("'task_class' is required: 'real' or 'training'".into());
            None
        }
        Some(value) => TaskClass::parse(value)
            .map_err(|error| problems.push(error.to_string()))
            .ok(),
    };
    let project_data = match body.get("project_data") {
        None | Some(Value::Null) => json!({}),
        Some(value) => value.clone(),
    };
    match (workflow_slug, task_class) {
        (Some(workflow_slug), Some(task_class)) if problems.is_empty() => Ok(NewProject {
            workflow_slug,
            workflow_version,
            description,
            priority,
            project_data,
            task_class,
            review_document_url,
        }),
        _ => Err(ApiError::BadRequest {
            message: "invalid project".into(),
            details: problems,
        }),
    }
}

/// `project_information`: `{"project_id": N}` (body, or `?project_id=`) answers the project;
/// `{"project_ids": [...]}` answers an object keyed by id, leaving out unknown ids.
pub async fn information(
    state: &AppState,
    request: &RequestParts,
) -> Result<warp::reply::Response, ApiError> {
    let body = body_object(request)?;
    if body.contains_key("project_ids") && body.contains_key("project_id") {
        return Err(ApiError::bad_request(
            "give 'project_id' or 'project_ids', not both",
        ));
    }
    if let Some(ids) = body.get("project_ids") {
        let ids = ids
            .as_array()
            .ok_or_else(|| ApiError::bad_request("'project_ids' must be a list of ids"))?;
        if ids.len() > MAX_PROJECT_IDS {
            return Err(ApiError::bad_request(format!(
                "at most {MAX_PROJECT_IDS} project_ids at once"
            )));
        }
        let ids = ids
            .iter()
            .map(|id| integer_id(id, "project_ids"))
            .collect::<Result<Vec<_>, _>>()?;
        let found = read_projects(state, &ids).await?;
        let answer: Map<String, Value> = ids
            .iter()
            .zip(found)
            .filter_map(|(id, info)| Some((id.to_string(), info?)))
            .collect();
        return Ok(ok(&Value::Object(answer)));
    }
    let id = match (body.get("project_id"), request.query("project_id")) {
        (Some(id), _) => integer_id(id, "project_id")?,
        (None, Some(id)) => integer_id(&Value::String(id), "project_id")?,
        (None, None) => {
            return Err(ApiError::bad_request(
                "give 'project_id' (or 'project_ids', a list)",
            ));
        }
    };
    let info = read_projects(state, &[id])
        .await?
        .pop()
        .flatten()
        .ok_or_else(|| ApiError::NotFound(format!("project {id} not found")))?;
    Ok(ok(&info))
}

/// The `project_information` of each id (`None` for an unknown one).
async fn read_projects(state: &AppState, ids: &[u64]) -> Result<Vec<Option<Value>>, ApiError> {
    let projects: Vec<Option<ProjectRef>> = state.store.projects(ids).await?;
    let run_ids: Vec<String> = projects
        .iter()
        .flatten()
        .map(|project| project.run_id.clone())
        .collect();
    let mut runs = state.store.project_runs(&run_ids).await?.into_iter();
    let mut states = state.store.project_statuses(ids).await?.into_iter();
    Ok(projects
        .into_iter()
        .map(|project| {
            let managed = states.next().flatten();
            let project = project?;
            let record = runs.next().flatten()?;
            let slug = record.run.payload["workflow_slug"].as_str().unwrap_or("");
            Some(project_information(
                &project,
                &record,
                state.projects.get(slug),
                managed,
            ))
        })
        .collect())
}

/// `GET /orchestra/api/project/workflow_types`: `{"workflows": {slug: description}}`.
pub fn workflow_types(state: &AppState) -> warp::reply::Response {
    let workflows: Map<String, Value> = state
        .projects
        .values()
        .map(|workflow| (workflow.slug.clone(), json!(workflow.description)))
        .collect();
    ok(&json!({"workflows": workflows}))
}

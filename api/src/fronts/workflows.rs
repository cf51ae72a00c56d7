//! The workflows front: Celery Director's API (`/api/...`) over Baton runs.

use std::borrow::Cow;

use common::auth::permissions::Permission;
use common::engine::failure::Failure;
use common::engine::model::{RunKind, RunStatus, TaskStatus};
use common::operations::workflows;
use common::store::engine::run_index::RunQuery;
use common::store::engine::run_summaries::RunSummary;
use common::store::engine::runs::{RunView, TaskView};
use common::time::Iso8601;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use warp::http::StatusCode;
use warp::{Filter, Reply};

use super::{UNMATCHED, endpoint, endpoint_with_id, public_endpoint};
use crate::auth::authorize;
use crate::error::{ApiError, Front};
use crate::request::RequestParts;
use crate::state::AppState;

/// Default and largest page size of `GET /api/workflows`.
const PER_PAGE_DEFAULT: usize = 1000;

/// Every route of the front.
pub fn routes(
    state: AppState,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    let front = Front::Workflows;
    let ping = public_endpoint(
        warp::path!("api" / "ping").and(warp::get()),
        &state,
        front,
        "/api/ping",
        |_state, _request| async move {
            Ok(warp::reply::json(&json!({"message": "pong"})).into_response())
        },
    );
    let definitions = endpoint(
        warp::path!("api" / "definitions").and(warp::get()),
        &state,
        front,
        "/api/definitions",
        list_definitions,
    );
    let list = endpoint(
        warp::path!("api" / "workflows").and(warp::get()),
        &state,
        front,
        "/api/workflows",
        list_workflows,
    );
    let create = endpoint(
        warp::path!("api" / "workflows").and(warp::post()),
        &state,
        front,
        "/api/workflows",
        create_workflow,
    );
    let get = endpoint_with_id(
        warp::path!("api" / "workflows" / String).and(warp::get()),
        &state,
        front,
        "/api/workflows/{id}",
        get_workflow,
    );
    let relaunch = endpoint_with_id(
        warp::path!("api" / "workflows" / String / "relaunch").and(warp::post()),
        &state,
        front,
        "/api/workflows/{id}/relaunch",
        relaunch_workflow,
    );
    let cancel = endpoint_with_id(
        warp::path!("api" / "workflows" / String / "cancel").and(warp::post()),
        &state,
        front,
        "/api/workflows/{id}/cancel",
        cancel_workflow,
    );
    let unknown = public_endpoint(
        warp::path("api"),
        &state,
        front,
        UNMATCHED,
        |_state, request| async move { Err::<warp::reply::Response, _>(unknown_route(&request)) },
    );
    ping.or(definitions)
        .unify()
        .or(list)
        .unify()
        .or(create)
        .unify()
        .or(get)
        .unify()
        .or(relaunch)
        .unify()
        .or(cancel)
        .unify()
        .or(super::workflow_logs::route(&state))
        .unify()
        .or(unknown)
        .unify()
}

/// 405 (with `Allow`) for a documented path with another method, 404 otherwise.
fn unknown_route(request: &RequestParts) -> ApiError {
    let path = request.path_and_query.split('?').next().unwrap_or("");
    super::no_route(&request.method, path, || {
        ApiError::NotFound(format!("no route {} {path}", request.method))
    })
}

fn json_response(status: StatusCode, body: &impl Serialize) -> warp::reply::Response {
    warp::reply::with_status(warp::reply::json(body), status).into_response()
}

async fn list_definitions(
    state: AppState,
    request: RequestParts,
) -> Result<warp::reply::Response, ApiError> {
    authorize(&state, &request, Permission::WorkflowsRead).await?;
    let definitions: Vec<Value> = state
        .workflows
        .values()
        .map(|workflow| {
            let mut item = Map::new();
            item.insert("fullname".into(), json!(workflow.fullname));
            item.insert("name".into(), json!(workflow.name));
            item.insert("project".into(), json!(workflow.project));
            item.insert("tasks".into(), workflow.tasks_yaml.clone());
            if let Some(periodic) = &workflow.periodic_json {
                item.insert("periodic".into(), periodic.clone());
            }
            if let Some(schema) = &workflow.schema {
                item.insert("schema".into(), schema.json().clone());
            }
            Value::Object(item)
        })
        .collect();
    Ok(json_response(StatusCode::OK, &Value::Array(definitions)))
}

/// Director's status of a task: it knows no queued, running or retrying.
fn director_task_status(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Pending | TaskStatus::Queued => "pending",
        TaskStatus::Running | TaskStatus::Retrying => "progress",
        TaskStatus::Success => "success",
        TaskStatus::Error => "error",
        TaskStatus::Canceled => "canceled",
    }
}

/// A run as Director shows a workflow, its fields in Director's (alphabetical) order.
#[derive(Serialize)]
struct DirectorWorkflow<'a> {
    created: Iso8601,
    fullname: &'a str,
    id: &'a str,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<Payload<'a>>,
    periodic: bool,
    project: &'a str,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tasks: Option<Vec<DirectorTask<'a>>>,
    updated: Iso8601,
}

/// A workflow's payload as it was read: the stored JSON text of a listed run, or a whole
/// run's parsed value.
#[derive(Serialize)]
#[serde(untagged)]
enum Payload<'a> {
    Text(&'a RawValue),
    Parsed(&'a Value),
}

/// A task as Director shows one, its fields in Director's (alphabetical) order.
#[derive(Serialize)]
struct DirectorTask<'a> {
    created: Iso8601,
    id: &'a str,
    is_hook: bool,
    key: &'a str,
    previous: Vec<&'a str>,
    result: Cow<'a, Value>,
    status: &'static str,
    task: &'a str,
    updated: Iso8601,
}

impl<'a> DirectorWorkflow<'a> {
    /// The fields a list and a detail share, from the run's definition, status and times.
    fn new(id: &'a str, definition: &'a str, status: RunStatus, times: (u64, u64)) -> Self {
        let (project, name) = definition.split_once('.').unwrap_or(("", definition));
        Self {
            created: Iso8601(times.0),
            fullname: definition,
            id,
            name,
            payload: None,
            periodic: false,
            project,
            status: status.as_str(),
            tasks: None,
            updated: Iso8601(times.1),
        }
    }

    /// A listed run, with its payload or without.
    fn listed(run: &'a RunSummary, with_payload: bool) -> Self {
        Self {
            payload: with_payload.then_some(Payload::Text(&run.payload)),
            periodic: run.periodic,
            ..Self::new(
                &run.id,
                &run.definition,
                run.status,
                (run.created_ms, run.updated_ms),
            )
        }
    }
}

/// A run as Director shows one workflow: with its payload, and its tasks when `with_tasks`.
fn workflow_json(run: &RunView, with_tasks: bool) -> DirectorWorkflow<'_> {
    DirectorWorkflow {
        payload: Some(Payload::Parsed(&run.payload)),
        periodic: run.periodic,
        tasks: with_tasks.then(|| run_tasks_json(run)),
        ..DirectorWorkflow::new(
            &run.id,
            &run.definition,
            run.status,
            (run.created_ms, run.updated_ms),
        )
    }
}

/// The tasks of a run as Director shows them; a hook that never ran (the other outcome's) is
/// not part of the workflow's story.
fn run_tasks_json(run: &RunView) -> Vec<DirectorTask<'_>> {
    run.tasks
        .iter()
        .filter(|task| {
            !(task.is_hook && task.status == TaskStatus::Pending && run.status.is_finished())
        })
        .map(|task| DirectorTask {
            created: Iso8601(task.created_ms),
            id: &task.id,
            is_hook: task.is_hook,
            key: &task.key,
            previous: task
                .depends_on
                .iter()
                .filter_map(|&dep| run.tasks.get(dep))
                .map(|dep| dep.id.as_str())
                .collect(),
            result: director_task_result(task),
            status: director_task_status(task.status),
            task: &task.id,
            updated: Iso8601(task.updated_ms),
        })
        .collect()
}

/// A task's `result` as Director shows it: what it returned, or for a failed task why,
/// as `{"exception": "...", "traceback": "..."}`.
fn director_task_result(task: &TaskView) -> Cow<'_, Value> {
    match (&task.status, &task.error, &task.result) {
        (TaskStatus::Error, Some(error), _) => Cow::Owned(Failure::from_error(error).to_json()),
        (_, _, Some(result)) => Cow::Borrowed(result),
        _ => Cow::Owned(Value::Null),
    }
}

/// Python's `strtobool`, case-insensitive; `None` for anything else.
fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "y" | "yes" | "t" | "true" | "on" | "1" => Some(true),
        "n" | "no" | "f" | "false" | "off" | "0" => Some(false),
        _ => None,
    }
}

async fn list_workflows(
    state: AppState,
    request: RequestParts,
) -> Result<warp::reply::Response, ApiError> {
    authorize(&state, &request, Permission::WorkflowsRead).await?;
    let per_page = request.bounded_query("per_page", PER_PAGE_DEFAULT, PER_PAGE_DEFAULT)?;
    let page = request.bounded_query("page", 1, usize::MAX / PER_PAGE_DEFAULT)?;
    let with_payload = match request.query("with_payload") {
        None => true,
        Some(text) => parse_bool(&text).ok_or_else(|| ApiError::BadRequest {
            message: "'with_payload' must be true or false".into(),
            details: vec![format!("with_payload: got '{text}'")],
        })?,
    };
    let status = match request.query("status") {
        Some(text) => Some(
            text.parse::<RunStatus>()
                .map_err(|_| ApiError::BadRequest {
                    message: format!("unknown status '{text}'"),
                    details: vec![
                        "status: one of pending, progress, success, error, canceled".into(),
                    ],
                })?,
        ),
        None => None,
    };
    let name = request.query("name");
    let project = request.query("project");
    // Director's name matches a workflow's name or its full name; its project, the project.
    let definitions = if name.is_none() && project.is_none() {
        Vec::new()
    } else {
        let matching: Vec<String> = state
            .store
            .run_definitions(RunKind::Workflow)
            .await?
            .into_iter()
            .filter(|definition| {
                let (run_project, run_name) = definition
                    .split_once('.')
                    .unwrap_or(("", definition.as_str()));
                name.as_deref()
                    .is_none_or(|name| name == run_name || name == definition)
                    && project
                        .as_deref()
                        .is_none_or(|project| project == run_project)
            })
            .collect();
        if matching.is_empty() {
            return Ok(json_response(StatusCode::OK, &json!([])));
        }
        matching
    };
    let query = RunQuery {
        definitions,
        status,
        offset: (page - 1) * per_page,
        ..RunQuery::new(RunKind::Workflow, per_page)
    };
    let runs = state.store.list_runs(&query).await?.runs;
    let body: Vec<DirectorWorkflow> = runs
        .iter()
        .map(|run| DirectorWorkflow::listed(run, with_payload))
        .collect();
    Ok(json_response(StatusCode::OK, &body))
}

async fn get_workflow(
    state: AppState,
    request: RequestParts,
    id: String,
) -> Result<warp::reply::Response, ApiError> {
    authorize(&state, &request, Permission::WorkflowsRead).await?;
    let run = workflows::workflow_run(&state.store, &id).await?;
    Ok(json_response(StatusCode::OK, &workflow_json(&run, true)))
}

/// Director's own check of the POST body.
fn parse_create_body(body: &[u8]) -> Result<(String, String, Value), ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|error| ApiError::BadRequest {
        message: "the body is not valid JSON".into(),
        details: vec![error.to_string()],
    })?;
    let Value::Object(mut fields) = value else {
        return Err(ApiError::BadRequest {
            message: "the body must be a JSON object".into(),
            details: vec!["expected {\"project\": ..., \"name\": ..., \"payload\": {...}}".into()],
        });
    };
    let mut problems = Vec::new();
    for unknown in fields
        .keys()
        .filter(|key| !["project", "name", "payload"].contains(&key.as_str()))
    {
        problems.push(format!(
            "Additional properties are not allowed ('{unknown}' was unexpected)"
        ));
    }
    let mut text_field = |name: &str| match fields.get(name) {
        Some(Value::String(text)) => Some(text.clone()),
        Some(other) => {
            problems.push(format!("{name}: {other} is not of type 'string'"));
            None
        }
        None => {
            problems.push(format!("'{name}' is a required property"));
            None
        }
    };
    let project = text_field("project");
    let name = text_field("name");
    let payload = match fields.remove("payload") {
        Some(payload @ Value::Object(_)) => Some(payload),
        Some(other) => {
            problems.push(format!("payload: {other} is not of type 'object'"));
            None
        }
        None => {
            problems.push("'payload' is a required property".into());
            None
        }
    };
    match (project, name, payload) {
        (Some(project), Some(name), Some(payload)) if problems.is_empty() => {
            Ok((project, name, payload))
        }
        _ => Err(ApiError::BadRequest {
            message: "Payload is not valid".into(),
            details: problems,
        }),
    }
}

async fn create_workflow(
    state: AppState,
    request: RequestParts,
) -> Result<warp::reply::Response, ApiError> {
    authorize(&state, &request, Permission::WorkflowsRun).await?;
    let (project, name, payload) = parse_create_body(&request.body)?;
    let run = workflows::start_workflow(
        &state.store,
        &state.workflows,
        &format!("{project}.{name}"),
        payload,
    )
    .await?;
    Ok(json_response(
        StatusCode::CREATED,
        &workflow_json(&run, false),
    ))
}

async fn relaunch_workflow(
    state: AppState,
    request: RequestParts,
    id: String,
) -> Result<warp::reply::Response, ApiError> {
    authorize(&state, &request, Permission::WorkflowsRun).await?;
    let run = workflows::relaunch_workflow(&state.store, &state.workflows, &id).await?;
    Ok(json_response(
        StatusCode::CREATED,
        &workflow_json(&run, false),
    ))
}

async fn cancel_workflow(
    state: AppState,
    request: RequestParts,
    id: String,
) -> Result<warp::reply::Response, ApiError> {
    authorize(&state, &request, Permission::WorkflowsRun).await?;
    let run = workflows::cancel_workflow(&state.store, &id).await?;
    Ok(json_response(StatusCode::OK, &workflow_json(&run, true)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_body_problems_are_each_named() {
        let error =
            parse_create_body(br#"{"project": 1, "payload": [], "extra": true}"#).unwrap_err();
        let ApiError::BadRequest { details, .. } = error else {
            panic!("not a bad request")
        };
        assert!(details.iter().any(|d| d.contains("'extra' was unexpected")));
        assert!(details.iter().any(|d| d.starts_with("project:")));
        assert!(
            details
                .iter()
                .any(|d| d.contains("'name' is a required property"))
        );
        assert!(details.iter().any(|d| d.starts_with("payload:")));
        assert!(parse_create_body(b"not json").is_err());
        assert!(parse_create_body(b"[]").is_err());
        let (project, name, payload) =
            parse_create_body(br#"{"project":"example","name":"ETL","payload":{}}"#).unwrap();
        assert_eq!(
            (project.as_str(), name.as_str(), payload),
            ("example", "ETL", json!({}))
        );
    }

    #[test]
    fn booleans_read_like_python_strtobool() {
        assert_eq!(parse_bool("False"), Some(false));
        assert_eq!(parse_bool("TRUE"), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
    }
}

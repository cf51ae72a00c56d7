//! The OpenAPI 3 document of every route, served at `/openapi.json`. The route table here is
//! what the end-to-end tests check the server against, so the document stays true.

use serde_json::{Map, Value, json};

/// One documented operation.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    /// HTTP method, lower case.
    pub method: &'static str,
    /// Path template (`{id}` for parameters).
    pub path: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// Permission it needs (`None`: no signature needed; `Some("")`: any valid key).
    pub permission: Option<&'static str>,
    /// Success status.
    pub success: u16,
    /// Whether it takes a JSON body.
    pub body: bool,
}

const fn op(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    permission: Option<&'static str>,
    success: u16,
    body: bool,
) -> Operation {
    Operation {
        method,
        path,
        summary,
        permission,
        success,
        body,
    }
}

/// Every route the server answers.
pub const OPERATIONS: &[Operation] = &[
    op(
        "get",
        "/healthz",
        "Liveness and Redis check.",
        None,
        200,
        false,
    ),
    op(
        "get",
        "/metrics",
        "Prometheus metrics.",
        Some("admin"),
        200,
        false,
    ),
    op(
        "get",
        "/openapi.json",
        "This document.",
        Some(""),
        200,
        false,
    ),
    op(
        "get",
        "/api/ping",
        "Director health endpoint.",
        None,
        200,
        false,
    ),
    op(
        "get",
        "/api/definitions",
        "Workflow definitions.",
        Some("workflows.read"),
        200,
        false,
    ),
    op(
        "get",
        "/api/workflows",
        "Workflow runs, newest first (per_page, page, with_payload, name, project, status).",
        Some("workflows.read"),
        200,
        false,
    ),
    op(
        "post",
        "/api/workflows",
        "Start a workflow: {project, name, payload}.",
        Some("workflows.run"),
        201,
        true,
    ),
    op(
        "get",
        "/api/workflows/{id}",
        "A workflow run with its tasks.",
        Some("workflows.read"),
        200,
        false,
    ),
    op(
        "post",
        "/api/workflows/{id}/relaunch",
        "Start the workflow again with the same payload.",
        Some("workflows.run"),
        201,
        false,
    ),
    op(
        "post",
        "/api/workflows/{id}/cancel",
        "Cancel a workflow run.",
        Some("workflows.run"),
        200,
        false,
    ),
];

fn operation_json(operation: &Operation) -> Value {
    let mut body = Map::new();
    body.insert("summary".into(), json!(operation.summary));
    body.insert(
        "operationId".into(),
        json!(format!(
            "{}{}",
            operation.method,
            operation.path.replace(['/', '{', '}', '.'], "_")
        )),
    );
    if operation.path.contains("{id}") {
        body.insert(
            "parameters".into(),
            json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}]),
        );
    }
    if operation.path == "/api/workflows" && operation.method == "get" {
        body.insert(
            "parameters".into(),
            json!([
                {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 1000}},
                {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
                {"name": "with_payload", "in": "query", "schema": {"type": "string", "default": "true"}},
                {"name": "name", "in": "query", "schema": {"type": "string"}},
                {"name": "project", "in": "query", "schema": {"type": "string"}},
                {"name": "status", "in": "query", "schema": {"type": "string", "enum": ["pending", "progress", "success", "error", "canceled"]}}
            ]),
        );
    }
    if operation.body {
        body.insert(
            "requestBody".into(),
            json!({"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewWorkflow"}}}}),
        );
    }
    let mut responses = Map::new();
    responses.insert(
        operation.success.to_string(),
        json!({"description": "Success"}),
    );
    let error = json!({"description": "Error", "content": {"application/json": {"schema": {"type": "object"}}}});
    if operation.permission.is_some() {
        responses.insert("401".into(), error.clone());
        responses.insert("403".into(), error.clone());
        body.insert("security".into(), json!([{"httpSignature": []}]));
    }
    if operation.path.contains("{id}") {
        responses.insert("404".into(), error.clone());
    }
    if operation.body || operation.method == "get" && operation.path == "/api/workflows" {
        responses.insert("400".into(), error.clone());
    }
    if let Some(permission) = operation
        .permission
        .filter(|permission| !permission.is_empty())
    {
        body.insert("x-baton-permission".into(), json!(permission));
    }
    body.insert("responses".into(), Value::Object(responses));
    Value::Object(body)
}

/// The whole document.
pub fn openapi_document() -> Value {
    let mut paths = Map::new();
    for operation in OPERATIONS {
        let item = paths.entry(operation.path).or_insert_with(|| json!({}));
        item[operation.method] = operation_json(operation);
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Baton",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Job and workflow orchestration on Redis. Requests are signed with HTTP signatures (draft-cavage, hmac-sha256)."
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "httpSignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "Signature keyId=\"..\",algorithm=\"hmac-sha256\",headers=\"(request-target) date digest\",signature=\"..\""
                }
            },
            "schemas": {
                "NewWorkflow": {
                    "type": "object",
                    "required": ["project", "name", "payload"],
                    "additionalProperties": false,
                    "properties": {
                        "project": {"type": "string"},
                        "name": {"type": "string"},
                        "payload": {"type": "object"}
                    }
                }
            }
        }
    })
}

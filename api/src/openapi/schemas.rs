//! The document's component schemas: request bodies, and each front's error format.

use common::releases::{ReleaseState, TaskState};
use serde_json::{Value, json};

use crate::error::Front;

/// What a front is, for the document's tags.
pub fn front_description(front: Front) -> &'static str {
    match front {
        Front::Baton => "Baton's own routes: health, metrics and this document.",
        Front::Workflows => "Celery Director's API: workflow runs of YAML definitions.",
        Front::Reports => {
            "OrderlyWeb's API v1 (also /api/v2): report runs, versions, artefacts and publishing."
        }
        Front::Releases => {
            "The Release Coordinator's API: releases driving every registered task service."
        }
        Front::Projects => {
            "Orchestra's client API, and the API people use to claim and submit human steps."
        }
    }
}

/// The name of the component schema of a front's errors.
pub fn error_schema(front: Front) -> &'static str {
    match front {
        Front::Baton => "BatonError",
        Front::Workflows => "DirectorError",
        Front::Reports => "OrderlyWebError",
        Front::Releases => "CoordinatorError",
        Front::Projects => "OrchestraError",
    }
}

fn string() -> Value {
    json!({"type": "string"})
}

fn strings() -> Value {
    json!({"type": "array", "items": {"type": "string"}})
}

fn object(required: &[&str], properties: Value) -> Value {
    // OpenAPI 3.0 forbids an empty `required`.
    if required.is_empty() {
        json!({"type": "object", "properties": properties})
    } else {
        json!({"type": "object", "required": required, "properties": properties})
    }
}

fn states<S: Copy>(all: &[S], name: impl Fn(S) -> &'static str) -> Value {
    json!({"type": "string", "enum": all.iter().map(|state| name(*state)).collect::<Vec<_>>()})
}

/// Every component schema.
pub fn components() -> Value {
    let task_state = states(TaskState::ALL, TaskState::as_str);
    let release_state = states(ReleaseState::ALL, ReleaseState::as_str);
    json!({
        "NewWorkflow": {
            "type": "object",
            "required": ["project", "name", "payload"],
            "additionalProperties": false,
            "properties": {"project": string(), "name": string(), "payload": {"type": "object"}}
        },
        "ReportRun": object(&[], json!({
            "params": {"type": "object", "description": "Values of the report's declared parameters."},
            "instances": {"type": "object", "description": "Database instances, passed to the script."},
            "gitBranch": string(),
            "gitCommit": string(),
            "changelog": object(&["message", "type"], json!({
                "message": string(),
                "type": {"type": "string", "enum": ["public", "internal"]}
            }))
        })),
        "ZipArchive": {"type": "string", "format": "binary"},
        "NewTaskService": object(&["name", "url"], json!({
            "name": string(), "url": string(), "description": string(), "author": string(),
            "enabled": {"type": "boolean", "default": true}
        })),
        "TaskServiceChanges": object(&[], json!({
            "name": string(), "url": string(), "description": string(), "author": string(),
            "enabled": {"type": "boolean"}
        })),
        "NewRelease": object(&["name"], json!({
            "name": string(), "description": string(), "author": string(),
            "is_major": {"type": "boolean", "default": false},
            "tags": strings(),
            "studies": {"type": "array", "items": {"type": "string", "pattern": "^SD_[A-Z0-9]{8}$"}}
        })),
        "ReleaseChanges": object(&[], json!({
            "name": string(), "description": string(), "author": string(), "tags": strings()
        })),
        "ReleaseState": release_state,
        "TaskReport": object(&[], json!({
            "state": task_state,
            "progress": {"type": "integer", "minimum": 0, "maximum": 100}
        })),
        "NewReleaseNote": object(&["release", "description"], json!({
            "release": string(), "study": string(), "description": string(), "author": string()
        })),
        "ReleaseNoteChanges": object(&[], json!({
            "release": string(), "study": string(), "description": string(), "author": string()
        })),
        "NewEvent": object(&["message"], json!({
            "message": string(),
            "event_type": {"type": "string", "enum": ["info", "warning", "error"], "default": "info"},
            "release": string(), "task": string(), "task_service": string(), "study": string()
        })),
        "NewProject": object(&["workflow_slug", "task_class"], json!({
            "workflow_slug": string(),
            "workflow_version_slug": string(),
            "description": string(),
            "priority": {"type": "integer", "default": 0, "description": "Above 0 is served first, below 0 last."},
            "task_class": {"oneOf": [
                {"type": "string", "enum": ["real", "training"]},
                {"type": "integer", "enum": [1, 0]}
            ]},
            "project_data": {"type": "object"},
            "review_document_url": string()
        })),
        "ProjectQuery": object(&[], json!({
            "project_id": {"type": "integer"},
            "project_ids": {"type": "array", "items": {"type": "integer"}}
        })),
        "ClaimRequest": object(&[], json!({"queue": string()})),
        "TaskWork": object(&["task_data"], json!({
            "task_data": {"type": "object"},
            "work_time_seconds": {"type": "integer", "minimum": 0}
        })),
        "BatonError": object(&["error"], json!({
            "error": object(&["code", "message"], json!({
                "code": string(), "message": string(), "details": strings()
            }))
        })),
        "DirectorError": object(&["error"], json!({"error": string(), "errors": strings()})),
        "OrderlyWebError": object(&["status", "errors"], json!({
            "status": {"type": "string", "enum": ["failure"]},
            "data": {"nullable": true},
            "errors": {"type": "array", "items": object(&["code", "message"], json!({
                "code": string(), "message": string()
            }))}
        })),
        "CoordinatorError": object(&["message"], json!({"message": string()})),
        "OrchestraError": object(&["error", "message"], json!({"error": string(), "message": string()}))
    })
}

//! The document's component schemas: request bodies, and each front's error format.

use common::releases::{ReleaseState, TaskState};
use serde_json::{Value, json};

use crate::error::Front;

/// What an operation's own tag (see `Operation::tagged`) stands for.
pub fn tag_description(tag: &str) -> &'static str {
    match tag {
        "operator" => {
            "Baton's operator routes under /api: queues, dead letters, workers and API keys, in \
             Director's error format."
        }
        _ => "",
    }
}

/// What a front's tag stands for.
pub fn front_description(front: Front) -> &'static str {
    match front {
        Front::Baton | Front::Console => "Baton's own routes: health, metrics and this document.",
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
        Front::Baton | Front::Console => "BatonError",
        Front::Workflows => "DirectorError",
        Front::Reports => "OrderlyWebError",
        Front::Releases => "CoordinatorError",
        Front::Projects => "OrchestraError",
    }
}

fn string() -> Value {
    json!({"type": "string"})
}

/// Optional text of the releases front, where `null` means the same as leaving it out.
fn maybe_string() -> Value {
    json!({"type": "string", "nullable": true})
}

/// An optional list of texts of the releases front (`null`: left out).
fn maybe_strings() -> Value {
    json!({"type": "array", "items": {"type": "string"}, "nullable": true})
}

/// An optional boolean of the releases front (`null`: left out).
fn maybe_bool() -> Value {
    json!({"type": "boolean", "nullable": true})
}

/// A URL the server calls: http or https.
fn url() -> Value {
    json!({"type": "string", "pattern": "^https?://[^/?#@ ]+"})
}

/// A git branch or commit.
fn revision() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[A-Za-z0-9_./][A-Za-z0-9_./-]*$"})
}

/// Text that may not be empty (the server refuses an empty one).
fn text() -> Value {
    json!({"type": "string", "minLength": 1})
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
    let mut reported_state = task_state.clone();
    reported_state["nullable"] = json!(true);
    if let Some(values) = reported_state["enum"].as_array_mut() {
        values.push(Value::Null);
    }
    let mut report_run = object(
        &[],
        json!({
            "params": {"type": "object", "description": "Values of the report's declared parameters."},
            "instances": {"type": "object", "description": "Database instances, passed to the script."},
            "gitBranch": revision(),
            "gitCommit": revision(),
            "changelog": object(&["message", "type"], json!({
                "message": text(),
                "type": {"type": "string", "enum": ["public", "internal"]}
            }))
        }),
    );
    report_run["nullable"] = json!(true);
    // `null` means no changelog entry, as leaving it out does.
    report_run["properties"]["changelog"]["nullable"] = json!(true);
    let release_state = states(ReleaseState::ALL, ReleaseState::as_str);
    json!({
        "NewWorkflow": {
            "type": "object",
            "required": ["project", "name", "payload"],
            "additionalProperties": false,
            "properties": {"project": text(), "name": text(), "payload": {"type": "object"}}
        },
        "NewKey": super::operator::new_key_schema(),
        "ReportRun": report_run,
        "ZipArchive": {"type": "string", "format": "binary"},
        "NewTaskService": object(&["name", "url"], json!({
            "name": text(), "url": url(), "description": maybe_string(), "author": maybe_string(),
            "enabled": {"type": "boolean", "default": true, "nullable": true}
        })),
        "TaskServiceChanges": object(&[], json!({
            "name": maybe_string(), "url": {"type": "string", "pattern": "^https?://[^/?#@ ]+", "nullable": true},
            "description": maybe_string(), "author": maybe_string(), "enabled": maybe_bool()
        })),
        "NewRelease": object(&["name"], json!({
            "name": text(), "description": maybe_string(), "author": maybe_string(),
            "is_major": {"type": "boolean", "default": false, "nullable": true},
            "tags": maybe_strings(),
            "studies": {"type": "array", "nullable": true, "items": {"type": "string", "pattern": "^SD_[A-Z0-9]{8}$"}}
        })),
        "ReleaseChanges": object(&[], json!({
            "name": maybe_string(), "description": maybe_string(), "author": maybe_string(),
            "tags": maybe_strings()
        })),
        "ReleaseState": release_state,
        "TaskReport": object(&[], json!({
            "state": reported_state,
            "progress": {"type": "integer", "minimum": 0, "maximum": 100, "nullable": true}
        })),
        "NewReleaseNote": object(&["release", "description"], json!({
            "release": text(), "study": maybe_string(), "description": text(), "author": maybe_string()
        })),
        "ReleaseNoteChanges": object(&[], json!({
            "release": maybe_string(), "study": maybe_string(), "description": maybe_string(),
            "author": maybe_string()
        })),
        "NewEvent": object(&["message"], json!({
            "message": text(),
            "event_type": {"type": "string", "enum": ["info", "warning", "error", null], "default": "info", "nullable": true},
            "release": maybe_string(), "task": maybe_string(), "task_service": maybe_string(),
            "study": maybe_string()
        })),
        "NewProject": object(&["workflow_slug", "task_class"], json!({
            "workflow_slug": text(),
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
        "ProjectQuery": {
            "type": "object",
            "description": "One project (project_id) or several (project_ids, keyed by id in the answer).",
            "properties": {
                "project_id": {"type": "integer", "minimum": 0},
                "project_ids": {"type": "array", "maxItems": 100, "items": {"type": "integer", "minimum": 0}}
            },
            "oneOf": [{"required": ["project_id"]}, {"required": ["project_ids"]}]
        },
        "ClaimRequest": object(&[], json!({
            "queue": {"type": "string", "pattern": super::projects::HUMAN_QUEUE},
            "task_id": {
                "type": "integer", "minimum": 0, "nullable": true,
                "description": "Claim this task (409 when someone else holds it) instead of the next one; absent or null: the next one."
            }
        })),
        "TaskSave": object(&["task_data"], json!({"task_data": {"type": "object"}})),
        "TaskWork": object(&["task_data"], json!({
            "task_data": {"type": "object"},
            "work_time_seconds": {
                "type": "integer", "minimum": 0, "nullable": true,
                "description": "Seconds worked; null or left out: the time since the claim."
            }
        })),
        "ReviewClaim": object(&[], json!({
            "task_id": {"type": "integer", "minimum": 1, "nullable": true}
        })),
        "ReviewDecision": object(&[], json!({
            "task_data": {
                "type": "object", "nullable": true,
                "description": "The reviewed data; null or left out: the work as submitted."
            },
            "work_time_seconds": {
                "type": "integer", "minimum": 0, "nullable": true,
                "description": "Seconds spent reviewing; null or left out: the time since the review was claimed."
            }
        })),
        "ProjectId": object(&["project_id"], json!({"project_id": {"type": "integer", "minimum": 0}})),
        "ProjectStatusChange": object(&["project_id", "status"], json!({
            "project_id": {"type": "integer", "minimum": 0},
            "status": {"type": "string", "enum": ["paused", "active"]}
        })),
        "TaskAssignment": object(&["worker_username", "task_id"], json!({
            "worker_username": {"type": "string", "minLength": 1, "description": "The person's key id."},
            "task_id": {"type": "integer", "minimum": 0}
        })),
        "AssignmentReassignment": object(&["worker_username", "assignment_id"], json!({
            "worker_username": {"type": "string", "minLength": 1, "description": "The person's key id."},
            "assignment_id": {"type": "integer", "minimum": 0}
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

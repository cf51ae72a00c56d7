//! Baton's operator routes under `/api/` (queues, dead letters, workers, keys) and a run's
//! log: Baton additions in Director's error format.

use serde_json::{Value, json};

use super::{Operation, QueryParam};

const DEAD_LETTERS_QUERY: &[QueryParam] = &[
    QueryParam::integer(
        "per_page",
        "Dead letters per page, 1 to 1000 (default 100).",
    )
    .range(1, 1000),
    QueryParam::integer(
        "page",
        "Page number, from 1; only the newest 10000 dead letters are reached.",
    )
    .range(1, 10_000),
];

const LOGS_QUERY: &[QueryParam] = &[
    QueryParam::string(
        "after",
        "Only lines after this cursor (a previous page's `next`).",
    )
    .pattern("^[0-9]+-[0-9]+$"),
    QueryParam::string("task", "Only the lines of the task with this name."),
    QueryParam::integer("limit", "Lines read, 1 to 1000 (default 100).").range(1, 1000),
];

/// The operator routes and the log route.
pub const OPERATIONS: &[Operation] = &[
    Operation::get(
        "/api/queues",
        "Every queue: jobs waiting by priority, running, delayed, retrying, dead, paused, and \
         jobs finished over the last minute.",
    )
    .needs("operator"),
    Operation::get("/api/queues/{name}", "One queue's counts.").needs("operator"),
    Operation::post(
        "/api/queues/{name}/pause",
        "Pause a queue: workers take no new job from it.",
    )
    .needs("operator"),
    Operation::post("/api/queues/{name}/resume", "Resume a paused queue.").needs("operator"),
    Operation::get(
        "/api/queues/{name}/dead-letters",
        "A queue's dead letters, newest first, paged.",
    )
    .needs("operator")
    .query(DEAD_LETTERS_QUERY),
    Operation::post(
        "/api/queues/{name}/dead-letters/{id}/requeue",
        "Give a dead letter's task a new attempt.",
    )
    .needs("operator"),
    Operation::delete(
        "/api/queues/{name}/dead-letters/{id}",
        "Delete a dead letter (its task stays failed).",
    )
    .needs("operator"),
    Operation::post(
        "/api/queues/{name}/dead-letters/requeue-all",
        "Requeue every dead letter of a queue.",
    )
    .needs("operator"),
    Operation::post(
        "/api/queues/{name}/dead-letters/delete-all",
        "Delete every dead letter of a queue.",
    )
    .needs("operator"),
    Operation::get(
        "/api/workers",
        "Every worker: host, pid, queues, concurrency, jobs held, last heartbeat.",
    )
    .needs("operator"),
    Operation::get("/api/keys", "Every API key, without secrets.").needs("admin"),
    Operation::post(
        "/api/keys",
        "Create an API key; its secret is answered this once (409: the id is in use).",
    )
    .needs("admin")
    .body("NewKey")
    .success(201)
    .errors(&[409]),
    Operation::post("/api/keys/{id}/revoke", "Revoke an API key.").needs("admin"),
    Operation::get(
        "/api/workflows/{id}/logs",
        "A run's log, paged: lines with cursor, task, time and message; `next` to ask after.",
    )
    .needs("workflows.read")
    .query(LOGS_QUERY),
];

/// The schema of the body of `POST /api/keys`.
pub fn new_key_schema() -> Value {
    json!({
        "type": "object",
        "required": ["id", "permissions"],
        "additionalProperties": false,
        "properties": {
            "id": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"},
            "permissions": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "string", "minLength": 1},
                "description": "Grants: workflows.read, operator, admin, report:NAME/reports.read, ..."
            },
            "allow_date_only": {"type": "boolean", "default": false}
        }
    })
}

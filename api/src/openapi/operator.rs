//! Baton's operator routes under `/api/` (queues, dead letters, workers, keys), tagged
//! `operator`, and a run's log (tagged with the workflows): Baton additions in Director's
//! error format.

use common::auth::permissions::Permission;
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
        "Page number, from 1; pages past the newest 10000 dead letters are empty.",
    )
    .range(1, 10_000),
];

const LOGS_QUERY: &[QueryParam] = &[
    QueryParam::string(
        "after",
        "Only lines after this cursor (a previous page's `next`).",
    )
    .pattern("^[0-9]{1,19}-[0-9]{1,19}$"),
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
    .needs("operator")
    .tagged("operator"),
    Operation::get("/api/queues/{name}", "One queue's counts.")
        .needs("operator")
        .tagged("operator"),
    Operation::post(
        "/api/queues/{name}/pause",
        "Pause a queue: workers take no new job from it.",
    )
    .needs("operator")
    .tagged("operator"),
    Operation::post("/api/queues/{name}/resume", "Resume a paused queue.")
        .needs("operator")
        .tagged("operator"),
    Operation::get(
        "/api/queues/{name}/dead-letters",
        "A queue's dead letters, newest first, paged.",
    )
    .needs("operator")
    .tagged("operator")
    .query(DEAD_LETTERS_QUERY),
    Operation::post(
        "/api/queues/{name}/dead-letters/{id}/requeue",
        "Give a dead letter's task a new attempt.",
    )
    .needs("operator")
    .tagged("operator"),
    Operation::delete(
        "/api/queues/{name}/dead-letters/{id}",
        "Delete a dead letter (its task stays failed).",
    )
    .needs("operator")
    .tagged("operator"),
    Operation::post(
        "/api/queues/{name}/dead-letters/requeue-all",
        "Requeue every dead letter of a queue.",
    )
    .needs("operator")
    .tagged("operator"),
    Operation::post(
        "/api/queues/{name}/dead-letters/delete-all",
        "Delete every dead letter of a queue.",
    )
    .needs("operator")
    .tagged("operator"),
    Operation::get(
        "/api/workers",
        "Every worker: host, pid, queues, concurrency, jobs held, last heartbeat.",
    )
    .needs("operator")
    .tagged("operator"),
    Operation::get("/api/keys", "Every API key, without secrets.")
        .needs("admin")
        .tagged("operator"),
    Operation::post(
        "/api/keys",
        "Create an API key; its secret is answered this once (409: the id is in use).",
    )
    .needs("admin")
    .tagged("operator")
    .body("NewKey")
    .success(201)
    .errors(&[409]),
    Operation::post(
        "/api/keys/{id}/revoke",
        "Revoke an API key (409: the key signing the request).",
    )
    .needs("admin")
    .tagged("operator")
    .errors(&[409]),
    Operation::get(
        "/api/workflows/{id}/logs",
        "A run's log, paged: lines with cursor, task, time and message; `next` to ask after.",
    )
    .needs("workflows.read")
    .query(LOGS_QUERY),
];

/// The pattern of one grant: a permission's name, or `report:NAME/` and a reports permission.
fn grant_pattern() -> String {
    let names: Vec<String> = Permission::ALL
        .iter()
        .map(|permission| permission.as_str().replace('.', "\\."))
        .collect();
    format!(
        "^({}|report:[A-Za-z0-9_-][A-Za-z0-9_.-]{{0,127}}/reports\\.(read|review|run))$",
        names.join("|")
    )
}

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
                "items": {"type": "string", "pattern": grant_pattern()},
                "description": "Grants: workflows.read, operator, admin, report:NAME/reports.read, ..."
            },
            "allow_date_only": {"type": "boolean", "default": false}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::openapi_document;

    #[test]
    fn operator_routes_are_tagged_operator_and_the_log_route_workflows() {
        let document = openapi_document();
        let operation = |method: &str, path: &str| document["paths"][path][method].clone();
        assert_eq!(operation("get", "/api/queues")["tags"][0], "operator");
        assert_eq!(
            operation("post", "/api/keys")["x-baton-permission"],
            "admin"
        );
        assert!(operation("post", "/api/keys")["responses"]["409"].is_object());
        assert_eq!(
            operation("get", "/api/workflows/{id}/logs")["tags"][0],
            "workflows"
        );
        let tags: Vec<&str> = document["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|tag| tag["name"].as_str().unwrap())
            .collect();
        assert_eq!(tags.iter().filter(|name| **name == "workflows").count(), 1);
        assert_eq!(tags.iter().filter(|name| **name == "operator").count(), 1);
    }
}

//! The workflows front: Celery Director's API.

use super::{Operation, QueryParam};

const LIST_QUERY: &[QueryParam] = &[
    QueryParam::integer("per_page", "Runs per page, 1 to 1000 (default 1000).").range(1, 1000),
    QueryParam::integer("page", "Page number, from 1.").range(1, (usize::MAX / 1000) as u64),
    QueryParam::boolean("with_payload", "Include each run's payload (default true)."),
    QueryParam::string("name", "Only runs of this workflow name."),
    QueryParam::string("project", "Only runs of this project."),
    QueryParam::string("status", "Only runs in this status.")
        .one_of(&["pending", "progress", "success", "error", "canceled"]),
];

/// Director's routes under `/api`.
pub const OPERATIONS: &[Operation] = &[
    Operation::get("/api/ping", "Director health endpoint.").public(),
    Operation::get("/api/definitions", "Workflow definitions.").needs("workflows.read"),
    Operation::get("/api/workflows", "Workflow runs, newest first.")
        .needs("workflows.read")
        .query(LIST_QUERY),
    Operation::post(
        "/api/workflows",
        "Start a workflow (404: no such workflow).",
    )
    .needs("workflows.run")
    .body("NewWorkflow")
    .success(201)
    .errors(&[404]),
    Operation::get("/api/workflows/{id}", "A workflow run with its tasks.").needs("workflows.read"),
    Operation::post(
        "/api/workflows/{id}/relaunch",
        "Start the workflow again with the same payload.",
    )
    .needs("workflows.run")
    .success(201),
    Operation::post("/api/workflows/{id}/cancel", "Cancel a workflow run.").needs("workflows.run"),
];

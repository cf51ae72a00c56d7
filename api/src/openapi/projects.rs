//! The projects front: Orchestra's client API, and the API people use to work on human steps
//! (every trailing slash is optional).

use super::{Operation, QueryParam};

const AVAILABLE_QUERY: &[QueryParam] = &[
    QueryParam::string(
        "queue",
        "The human queue: human (the default) or human.NAME.",
    ),
    QueryParam::integer("limit", "Most tasks answered, 1 to 500 (default 100)."),
];

const INFORMATION_QUERY: &[QueryParam] = &[QueryParam::integer(
    "project_id",
    "The project, when no body names it.",
)];

/// Orchestra's routes under `/orchestra/api`.
pub const OPERATIONS: &[Operation] = &[
    Operation::post(
        "/orchestra/api/project/create_project",
        "Create a project: a run of a workflow.",
    )
    .needs("projects.write")
    .body("NewProject"),
    Operation::post(
        "/orchestra/api/project/project_information",
        "A project, its steps and its tasks (or several, keyed by id).",
    )
    .needs("projects.read")
    .optional_body("ProjectQuery")
    .query(INFORMATION_QUERY),
    Operation::get(
        "/orchestra/api/project/project_information",
        "A project, its steps and its tasks.",
    )
    .needs("projects.read")
    .query(INFORMATION_QUERY),
    Operation::get(
        "/orchestra/api/project/workflow_types",
        "The workflows projects can run.",
    )
    .needs("projects.read"),
    Operation::get(
        "/orchestra/api/tasks/available",
        "Human tasks nobody has claimed, highest priority first.",
    )
    .needs("projects.work")
    .query(AVAILABLE_QUERY),
    Operation::post(
        "/orchestra/api/tasks/claim",
        "Claim the next human task (404 when none waits).",
    )
    .needs("projects.work")
    .optional_body("ClaimRequest"),
    Operation::post(
        "/orchestra/api/tasks/{id}/save",
        "Save work in progress on a claimed task.",
    )
    .needs("projects.work")
    .body("TaskWork"),
    Operation::post(
        "/orchestra/api/tasks/{id}/submit",
        "Submit a claimed task; the workflow goes on.",
    )
    .needs("projects.work")
    .body("TaskWork"),
];

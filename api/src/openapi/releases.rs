//! The releases front: the Release Coordinator's API at its root paths (every trailing
//! slash is optional). Reads need `releases.read`, writes `releases.write`; a task service
//! may report progress with its own token instead. Every list is newest first.

use common::releases::{ReleaseState, TaskState};

use super::{Operation, QueryParam};

const READ: &str = "releases.read";
const WRITE: &str = "releases.write";

const LIMIT: QueryParam =
    QueryParam::integer("limit", "Results per page, 1 to 1000 (default 10).").range(1, 1000);
const OFFSET: QueryParam =
    QueryParam::integer("offset", "Results to skip.").range(0, (usize::MAX / 2) as u64);

const PAGE: &[QueryParam] = &[LIMIT, OFFSET];
const SERVICES_QUERY: &[QueryParam] = &[
    LIMIT,
    OFFSET,
    QueryParam::boolean("enabled", "Only enabled (or disabled) services."),
];
const RELEASES_QUERY: &[QueryParam] = &[
    LIMIT,
    OFFSET,
    QueryParam::string("state", "Only releases in this state.").one_of(ReleaseState::NAMES),
];
const TASKS_QUERY: &[QueryParam] = &[
    LIMIT,
    OFFSET,
    QueryParam::string("release", "Only tasks of this release."),
    QueryParam::string("task_service", "Only tasks of this task service."),
    QueryParam::string("state", "Only tasks in this state.").one_of(TaskState::NAMES),
];
const EVENTS_QUERY: &[QueryParam] = &[
    LIMIT,
    OFFSET,
    QueryParam::string("release", "Only events of this release."),
    QueryParam::string("task", "Only events of this task."),
    QueryParam::string("task_service", "Only events of this task service."),
    QueryParam::string("study", "Only events of this study."),
];
const NOTES_QUERY: &[QueryParam] = &[
    LIMIT,
    OFFSET,
    QueryParam::string("release", "Only notes of this release."),
    QueryParam::string("study", "Only notes of this study."),
];

/// The Release Coordinator's routes.
pub const OPERATIONS: &[Operation] = &[
    Operation::get("/task-services", "Registered task services, newest first.")
        .needs(READ)
        .query(SERVICES_QUERY),
    Operation::post(
        "/task-services",
        "Register a task service (its /status must answer). The answer's `token` is the service's credential for PATCH /tasks/{id}, shown this once; registering again at the same URL keeps the service's id and replaces its token.",
    )
    .needs(WRITE)
    .body("NewTaskService"),
    Operation::get("/task-services/{id}", "A task service.").needs(READ),
    Operation::patch(
        "/task-services/{id}",
        "Update, enable or disable a task service.",
    )
    .needs(WRITE)
    .optional_body("TaskServiceChanges"),
    Operation::delete("/task-services/{id}", "Remove a task service.").needs(WRITE),
    Operation::get("/releases", "Releases, newest first.")
        .needs(READ)
        .query(RELEASES_QUERY),
    Operation::post(
        "/releases",
        "Start a release: one task per enabled task service.",
    )
    .needs(WRITE)
    .body("NewRelease"),
    Operation::get("/releases/{id}", "A release.").needs(READ),
    Operation::patch(
        "/releases/{id}",
        "Update a release's name, description, author or tags.",
    )
    .needs(WRITE)
    .optional_body("ReleaseChanges"),
    Operation::delete(
        "/releases/{id}",
        "Cancel a release (400 when it is over already).",
    )
    .needs(WRITE)
    .errors(&[400]),
    Operation::post(
        "/releases/{id}/publish",
        "Publish a staged release (400 for a release in another state).",
    )
    .needs(WRITE)
    .errors(&[400]),
    Operation::get("/tasks", "Release tasks, newest first.")
        .needs(READ)
        .query(TASKS_QUERY),
    Operation::get("/tasks/{id}", "A release task.").needs(READ),
    Operation::patch(
        "/tasks/{id}",
        "A task service reports its task's state and progress: signed (releases.write), or with the service's token (Authorization: Bearer <token>, its own tasks only).",
    )
    .needs(WRITE)
    .or_scheme("taskServiceToken")
    .optional_body("TaskReport"),
    Operation::get("/release-notes", "Release notes, newest first.")
        .needs(READ)
        .query(NOTES_QUERY),
    Operation::post("/release-notes", "Write a release note.")
        .needs(WRITE)
        .body("NewReleaseNote"),
    Operation::get("/release-notes/{id}", "A release note.").needs(READ),
    Operation::patch("/release-notes/{id}", "Update a release note.")
        .needs(WRITE)
        .optional_body("ReleaseNoteChanges"),
    Operation::delete("/release-notes/{id}", "Remove a release note.").needs(WRITE),
    Operation::get("/events", "Events, newest first.")
        .needs(READ)
        .query(EVENTS_QUERY),
    Operation::post("/events", "Record an event.")
        .needs(WRITE)
        .body("NewEvent"),
    Operation::get("/events/{id}", "An event.").needs(READ),
    Operation::delete("/events/{id}", "Remove an event.").needs(WRITE),
    Operation::get(
        "/studies",
        "Studies, newest first: mirrored from the data service (read-only), or made when a release names them without one.",
    )
        .needs(READ)
        .query(PAGE),
    Operation::get("/studies/{id}", "A study.").needs(READ),
];

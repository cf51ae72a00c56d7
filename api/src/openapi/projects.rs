//! The projects front: Orchestra's client API, and the API people use to work on human steps
//! (every trailing slash is optional).

use super::{Operation, QueryParam};

/// A human queue's name: `human` or `human.NAME`.
pub const HUMAN_QUEUE: &str = "^human(\\.[A-Za-z0-9_.-]{1,58})?$";

const AVAILABLE_QUERY: &[QueryParam] = &[
    QueryParam::string(
        "queue",
        "The human queue: human (the default) or human.NAME.",
    )
    .pattern(HUMAN_QUEUE),
    QueryParam::integer("limit", "Most tasks answered, 1 to 500 (default 100).").range(1, 500),
];

const REVIEWS_QUERY: &[QueryParam] =
    &[QueryParam::integer("limit", "Most tasks answered, 1 to 500 (default 100).").range(1, 500)];

const INFORMATION_QUERY: &[QueryParam] =
    &[QueryParam::integer("project_id", "The project.").required()];

/// Orchestra's routes under `/orchestra/api`.
pub const OPERATIONS: &[Operation] = &[
    Operation::post(
        "/orchestra/api/project/create_project",
        "Create a project: a run of a workflow.",
    )
    .needs("projects.write")
    .body("NewProject")
    .errors(&[404]),
    Operation::post(
        "/orchestra/api/project/project_information",
        "A project, its steps and its tasks (or several, keyed by id).",
    )
    .needs("projects.read")
    .body("ProjectQuery")
    .errors(&[404]),
    Operation::get(
        "/orchestra/api/project/project_information",
        "A project, its steps and its tasks.",
    )
    .needs("projects.read")
    .query(INFORMATION_QUERY)
    .errors(&[404]),
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
        "Claim the next human task, or the one named by task_id (404 when none waits, 409 when \
         the task named is someone else's or not waiting).",
    )
    .needs("projects.work")
    .optional_body("ClaimRequest")
    .errors(&[404, 409]),
    Operation::post(
        "/orchestra/api/tasks/{id}/save",
        "Save work in progress on a claimed task (409 when it is not the caller's to work on).",
    )
    .needs("projects.work")
    .body("TaskSave")
    .errors(&[409]),
    Operation::post(
        "/orchestra/api/tasks/{id}/submit",
        "Submit a claimed task; the workflow goes on (400 when the data breaks the step's form, \
         409 when it is not the caller's to submit).",
    )
    .needs("projects.work")
    .body("TaskWork")
    .errors(&[409]),
    Operation::get(
        "/orchestra/api/reviews/available",
        "Human tasks submitted for review and waiting for a reviewer, other than the caller's \
         own work; highest priority first, then the oldest submission.",
    )
    .needs("projects.review")
    .query(REVIEWS_QUERY),
    Operation::post(
        "/orchestra/api/reviews/claim",
        "Review the next task waiting for a reviewer, or the one named by task_id (404 when \
         none waits, 403 for the caller's own work, 409 when it waits for no reviewer).",
    )
    .needs("projects.review")
    .optional_body("ReviewClaim")
    .errors(&[403, 404, 409]),
    Operation::post(
        "/orchestra/api/reviews/{id}/accept",
        "Accept the work under the caller's review: the step completes with the reviewed data \
         (400 when it breaks the step's form, 403 when someone else reviews it, 409 when it is \
         not under review).",
    )
    .needs("projects.review")
    .optional_body("ReviewDecision")
    .errors(&[403, 409]),
    Operation::post(
        "/orchestra/api/reviews/{id}/reject",
        "Send the work under the caller's review back to its claimant with the reviewer's data \
         (403 when someone else reviews it, 409 when it is not under review).",
    )
    .needs("projects.review")
    .optional_body("ReviewDecision")
    .errors(&[403, 409]),
    Operation::post(
        "/orchestra/api/tasks/{id}/release",
        "Give up a claimed task: it waits for anyone again (403 when someone else holds it, \
         409 when nobody does or it is submitted, in review or finished).",
    )
    .needs("projects.work")
    .errors(&[409]),
    Operation::post(
        "/orchestra/api/interface/project_management/end_project",
        "End a project: its run is canceled, its unfinished tasks aborted, its status aborted \
         (400 for an unknown or completed project; ending it again answers the same).",
    )
    .needs("projects.manage")
    .body("ProjectId"),
    Operation::post(
        "/orchestra/api/interface/project_management/set_project_status",
        "Pause (paused) or resume (active) a project; a paused project's tasks are not offered \
         (400 for an unknown, completed or aborted project, or another status).",
    )
    .needs("projects.manage")
    .body("ProjectStatusChange"),
    Operation::post(
        "/orchestra/api/interface/project_management/assign_task",
        "Give a waiting human task to a person (400 for an unknown worker or task, 409 when \
         someone holds it or it waits for nobody).",
    )
    .needs("projects.manage")
    .body("TaskAssignment")
    .errors(&[409]),
    Operation::post(
        "/orchestra/api/interface/project_management/reassign_assignment",
        "Move a claimed human task, not submitted nor in review, to another person (400 for an \
         unknown worker or assignment, 409 when nobody holds it or it is submitted, in review \
         or finished).",
    )
    .needs("projects.manage")
    .body("AssignmentReassignment")
    .errors(&[409]),
];

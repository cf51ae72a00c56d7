//! `/ui/work`: for a person (a key with `projects.work`), the human tasks they hold and have
//! not submitted, then the tasks they may claim, highest priority first, each with its
//! project's description and data and the results of the steps before it, and a Claim
//! button. Claiming goes through the projects front's claim by id, so a task someone else took
//! meanwhile is refused with a message saying so. A task its reviewer sent back is the
//! person's again, and marked so.

use askama::Template;
use common::engine::model::QueueName;
use common::store::projects::ReviewState;
use warp::http::StatusCode;

use super::super::form::Form;
use super::super::html::{Chrome, datetime, page_with_status, see_other};
use super::{notice, pretty};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::fronts::projects::tasks::{
    HumanTask, available_tasks, claim_task, claimed_tasks, human_queues, in_review_tasks,
};
use crate::fronts::projects::view::human_task_status;
use crate::state::AppState;

/// Most tasks the page offers to claim.
const OFFERED: usize = 50;

/// A task the person may claim, as offered.
#[derive(Debug, Clone)]
struct OfferedTask {
    id: u64,
    project: u64,
    description: String,
    workflow: String,
    priority: i64,
    step: String,
    step_description: String,
    data: String,
    /// The results of the steps before, by step slug.
    prerequisites: Vec<(String, String)>,
    queued: String,
}

/// A task the person holds.
#[derive(Debug, Clone)]
struct HeldTask {
    id: u64,
    project: u64,
    description: String,
    priority: i64,
    step: String,
    step_description: String,
    claimed: String,
    saved: String,
    /// True when its reviewer sent it back (`Post-review Processing`).
    sent_back: bool,
    /// Where it stands, in Orchestra's words (`Pending Review`, `Reviewing`).
    status: &'static str,
    /// Its reviewer, once someone reviews it.
    reviewer: String,
}

#[derive(Template)]
#[template(path = "console/projects/work.html")]
struct WorkPage {
    chrome: Chrome,
    held: Vec<HeldTask>,
    /// The tasks the person submitted for review, waiting for or under review.
    in_review: Vec<HeldTask>,
    offered: Vec<OfferedTask>,
    problem: Option<String>,
}

/// The description of the task's step (empty when the workflow gives none).
pub(super) fn step_description(state: &AppState, task: &HumanTask) -> String {
    task.step(state)
        .map(|step| step.description.clone())
        .unwrap_or_default()
}

/// The short description of the task's project.
pub(super) fn description(task: &HumanTask) -> String {
    task.record.payload["description"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

/// The results of the steps before the task, by step slug, as shown.
pub(super) fn prerequisites(task: &HumanTask) -> Vec<(String, String)> {
    task.prerequisites()
        .iter()
        .map(|(slug, result)| (slug.clone(), pretty(result)))
        .collect()
}

fn offered(state: &AppState, task: &HumanTask) -> OfferedTask {
    OfferedTask {
        id: task.id(),
        project: task.project.id,
        description: description(task),
        workflow: task.workflow_slug().to_owned(),
        priority: task.priority(),
        step: task.task().key.clone(),
        step_description: step_description(state, task),
        data: pretty(&task.record.payload["project_data"]),
        prerequisites: prerequisites(task),
        queued: datetime(task.task().updated_ms),
    }
}

fn held(state: &AppState, task: &HumanTask) -> HeldTask {
    HeldTask {
        id: task.id(),
        project: task.project.id,
        description: description(task),
        priority: task.priority(),
        step: task.task().key.clone(),
        step_description: step_description(state, task),
        claimed: task.task().started_ms.map(datetime).unwrap_or_default(),
        saved: task.human().saved_ms.map(datetime).unwrap_or_default(),
        sent_back: task.human().review == Some(ReviewState::PostReview),
        status: human_task_status(task.task(), task.human()),
        reviewer: task.human().reviewer.clone().unwrap_or_default(),
    }
}

/// Renders the work page with `status`, a notice and a problem.
async fn render(
    state: &AppState,
    caller: &Caller,
    status: StatusCode,
    notice: Option<String>,
    problem: Option<String>,
) -> Result<warp::reply::Response, ApiError> {
    let queues = human_queues(state);
    let person = caller.key.id.as_str();
    let held_tasks = claimed_tasks(state, &queues, person).await?;
    let in_review = in_review_tasks(state, &queues, person).await?;
    let offered_tasks = available_tasks(state, &queues, OFFERED).await?;
    page_with_status(
        &WorkPage {
            chrome: Chrome::new(caller, "My work", "work").with_notice(notice),
            held: held_tasks.iter().map(|task| held(state, task)).collect(),
            in_review: in_review.iter().map(|task| held(state, task)).collect(),
            offered: offered_tasks
                .iter()
                .map(|task| offered(state, task))
                .collect(),
            problem,
        },
        status,
    )
}

/// `GET /ui/work`.
pub async fn page_of_work(
    state: &AppState,
    caller: &Caller,
    query: &Form,
) -> Result<warp::reply::Response, ApiError> {
    render(state, caller, StatusCode::OK, notice(query), None).await
}

/// `POST /ui/work/{task}/claim`: claims the task and opens it; a task that is no longer
/// there to claim (someone else took it, it finished) shows the work page again with why.
pub async fn claim(
    state: &AppState,
    caller: &Caller,
    task_id: u64,
) -> Result<warp::reply::Response, ApiError> {
    match claim_task(state, &caller.key.id, Some(task_id), &QueueName::human()).await {
        Ok(task) => Ok(see_other(&format!("/ui/work/{}?done=claimed", task.id()))),
        Err(
            refused @ (ApiError::Conflict(_) | ApiError::NotFound(_) | ApiError::BadRequest { .. }),
        ) => {
            let message = format!("You cannot claim this task: {refused}.");
            render(state, caller, refused.status(), None, Some(message)).await
        }
        Err(other) => Err(other),
    }
}

//! `/ui/reviews`: for a reviewer (a key with `projects.review`), the human tasks submitted for
//! review and waiting for one that they may review (never their own work), most urgent project
//! first, each with its project, step, priority, the work submitted and who did it, and a
//! Review button; then their reviews: the tasks they review now, and those they sent back,
//! waiting for the claimant (shown, no actions). Both lists and the claim are the projects
//! front's use cases ([`available_reviews`], [`claim_review`]), so the page and the API agree
//! on who may review what.

use std::cmp::Reverse;

use askama::Template;
use common::engine::model::TaskStatus;
use common::store::projects::ReviewState;
use warp::http::StatusCode;

use super::super::form::Form;
use super::super::html::{Chrome, page_with_status, see_other};
use super::task_form::field_order;
use super::work::{description, step_description};
use super::{data_rows, notice, snapshot_time};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::fronts::projects::reviews::{available_reviews, claim_review};
use crate::fronts::projects::tasks::{HumanTask, tasks_of};
use crate::state::AppState;

/// Most tasks the page offers to review.
const OFFERED: usize = 50;

/// A task waiting for a reviewer, as offered.
#[derive(Debug, Clone)]
struct WaitingReview {
    id: u64,
    project: u64,
    description: String,
    workflow: String,
    priority: i64,
    step: String,
    step_description: String,
    /// Who did the work.
    claimant: String,
    /// When it was submitted (UTC).
    submitted: String,
    /// The work submitted, field by field.
    work: Vec<(String, String)>,
}

/// A task the caller reviews, or sent back.
#[derive(Debug, Clone)]
struct HeldReview {
    id: u64,
    project: u64,
    description: String,
    priority: i64,
    step: String,
    step_description: String,
    claimant: String,
    /// True when the caller sent it back and it waits for the claimant.
    sent_back: bool,
    /// When it came to the caller (submitted) or went back (their decision), UTC.
    since: String,
}

#[derive(Template)]
#[template(path = "console/projects/reviews.html")]
struct ReviewsPage {
    chrome: Chrome,
    waiting: Vec<WaitingReview>,
    yours: Vec<HeldReview>,
}

/// Who did the task's work.
fn claimant(task: &HumanTask) -> String {
    task.task().worker.clone().unwrap_or_default()
}

fn waiting(state: &AppState, task: &HumanTask) -> WaitingReview {
    let human = task.human();
    WaitingReview {
        id: task.id(),
        project: task.project.id,
        description: description(task),
        workflow: task.workflow_slug().to_owned(),
        priority: task.priority(),
        step: task.task().key.clone(),
        step_description: step_description(state, task),
        claimant: claimant(task),
        submitted: human
            .snapshot
            .as_ref()
            .map(snapshot_time)
            .unwrap_or_default(),
        work: data_rows(
            human.work.as_ref().unwrap_or(&serde_json::Value::Null),
            &field_order(state, task),
        ),
    }
}

fn held(state: &AppState, task: &HumanTask) -> HeldReview {
    let human = task.human();
    let sent_back = human.review == Some(ReviewState::PostReview);
    let since = if sent_back {
        human.review_snapshots.last()
    } else {
        human.snapshot.as_ref()
    };
    HeldReview {
        id: task.id(),
        project: task.project.id,
        description: description(task),
        priority: task.priority(),
        step: task.task().key.clone(),
        step_description: step_description(state, task),
        claimant: claimant(task),
        sent_back,
        since: since.map(snapshot_time).unwrap_or_default(),
    }
}

/// The tasks `person` reviews (first) or sent back, the most urgent project first.
async fn reviews_of(state: &AppState, person: &str) -> Result<Vec<HumanTask>, ApiError> {
    let named = state.store.reviews_held(person).await?;
    let mut tasks = tasks_of(state, &named, |task| {
        let human = task.human();
        task.task().status == TaskStatus::Running
            && human.reviewer.as_deref() == Some(person)
            && matches!(
                human.review,
                Some(ReviewState::Reviewing | ReviewState::PostReview)
            )
    })
    .await?;
    tasks.sort_by_key(|task| {
        (
            task.human().review == Some(ReviewState::PostReview),
            Reverse(task.priority()),
            task.id(),
        )
    });
    Ok(tasks)
}

/// `GET /ui/reviews`.
pub async fn page_of_reviews(
    state: &AppState,
    caller: &Caller,
    query: &Form,
) -> Result<warp::reply::Response, ApiError> {
    let person = caller.key.id.as_str();
    let offered = available_reviews(state, person, OFFERED).await?;
    let yours = reviews_of(state, person).await?;
    page_with_status(
        &ReviewsPage {
            chrome: Chrome::new(caller, "Reviews", "reviews").with_notice(notice(query)),
            waiting: offered.iter().map(|task| waiting(state, task)).collect(),
            yours: yours.iter().map(|task| held(state, task)).collect(),
        },
        StatusCode::OK,
    )
}

/// `POST /ui/reviews/{task}/claim`: makes the caller the task's reviewer and opens it; the
/// front's refusals (their own work, a task no longer waiting, an unknown one) are the
/// console's error pages with its message.
pub async fn claim(
    state: &AppState,
    caller: &Caller,
    task_id: u64,
) -> Result<warp::reply::Response, ApiError> {
    let task = claim_review(state, &caller.key.id, Some(task_id)).await?;
    Ok(see_other(&format!(
        "/ui/reviews/{}?done=reviewing",
        task.id()
    )))
}

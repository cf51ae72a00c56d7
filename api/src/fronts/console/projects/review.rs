//! `/ui/reviews/{task}`: a human task under review, for its reviewer only (anyone else gets a
//! 403 page; a machine step or an unknown id, a 404): its project's description and data, the
//! results of the steps before, who did the work, the rounds so far (the claimant's
//! submissions and the reviewer's decisions) and the submitted work in the step's form (or the
//! JSON editor), which the reviewer may change.
//!
//! **Accept** submits the form as the reviewed data through the projects front's
//! [`decide`]: its check against the step's form is the one that counts, and its problems come
//! back on the form (400). **Send back** rejects it through the same use case, with the form's
//! data (the reviewer's comments and changes) as the claimant's work. A task the reviewer sent
//! back, accepted, or that ended, is shown without the form.

use askama::Template;
use common::engine::model::TaskStatus;
use common::projects::form::TASK_DATA;
use common::store::engine::runs::TaskView;
use common::store::projects::human::ReviewDecision;
use common::store::projects::{HumanRecord, ReviewState};
use warp::http::StatusCode;

use super::super::form::Form;
use super::super::html::{Chrome, page_with_status, see_other};
use super::super::schema_form::{Field, place_problems};
use super::rounds::{Round, rounds};
use super::task_form::{NotAnObject, Posted, field_order, human_task, posted_data, prefilled};
use super::work::{description, prerequisites, step_description};
use super::{data_rows, notice, pretty};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::fronts::projects::reviews::decide;
use crate::fronts::projects::tasks::HumanTask;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "console/projects/review.html")]
struct ReviewPage {
    chrome: Chrome,
    id: u64,
    project: u64,
    description: String,
    workflow: String,
    priority: i64,
    step: String,
    step_description: String,
    data: String,
    prerequisites: Vec<(String, String)>,
    /// Who did the work.
    claimant: String,
    /// The submissions and decisions so far, oldest first.
    rounds: Vec<Round>,
    /// True while the caller reviews it: the form and its actions are shown.
    open: bool,
    /// Where it stands, when it is not open.
    closed: String,
    /// The task's latest data, field by field, shown when it is not open.
    latest: Vec<(String, String)>,
    json_mode: bool,
    fields: Vec<Field>,
    /// How many fields show a problem.
    marked: usize,
    task_data: String,
    problems: Vec<String>,
}

/// The task, if the caller reviews it (or did, until the task ended); 403 for anyone else,
/// 404 for a machine step or an unknown id.
async fn reviewed_task(state: &AppState, caller: &Caller, id: u64) -> Result<HumanTask, ApiError> {
    let task = human_task(state, id).await?;
    let human = task.human();
    if human.reviewer.as_deref() == Some(caller.key.id.as_str()) {
        return Ok(task);
    }
    Err(ApiError::Forbidden(match (human.review, &human.reviewer) {
        (Some(ReviewState::Pending), None) => {
            format!("task {id} waits for a reviewer: claim its review on the reviews page first")
        }
        (_, Some(_)) => format!("task {id} is reviewed by someone else: only they may see it"),
        _ => format!("task {id} is not under review"),
    }))
}

/// Where a task its reviewer may no longer decide on stands.
fn closed_sentence(task: &TaskView, human: &HumanRecord) -> String {
    let claimant = task.worker.as_deref().unwrap_or("its claimant");
    match (task.status, human.review) {
        (TaskStatus::Success, _) | (_, Some(ReviewState::Accepted)) => {
            "You accepted this task: the project went on with it.".into()
        }
        (TaskStatus::Running, Some(ReviewState::PostReview)) => format!(
            "You sent this task back to {claimant}: it comes back to you when they submit it again."
        ),
        (TaskStatus::Running, _) => "This task waits for no decision of yours now.".into(),
        _ => "This task ended before the review did: it takes no more review.".into(),
    }
}

/// The page of `task`, showing `fields` (or, in the JSON editor, `task_data`).
fn review_page(
    state: &AppState,
    caller: &Caller,
    task: &HumanTask,
    fields: Option<Vec<Field>>,
    task_data: String,
    problems: Vec<String>,
) -> ReviewPage {
    let human = task.human();
    let view = task.task();
    let claimant = view.worker.clone().unwrap_or_default();
    let order = field_order(state, task);
    ReviewPage {
        chrome: Chrome::new(caller, format!("Review of task {}", task.id()), "reviews"),
        id: task.id(),
        project: task.project.id,
        description: description(task),
        workflow: task.workflow_slug().to_owned(),
        priority: task.priority(),
        step: view.key.clone(),
        step_description: step_description(state, task),
        data: pretty(&task.record.payload["project_data"]),
        prerequisites: prerequisites(task),
        rounds: rounds(human, &claimant, &order),
        claimant,
        open: view.status == TaskStatus::Running && human.review == Some(ReviewState::Reviewing),
        closed: closed_sentence(view, human),
        latest: data_rows(
            human.work.as_ref().unwrap_or(&serde_json::Value::Null),
            &order,
        ),
        json_mode: fields.is_none(),
        marked: fields
            .iter()
            .flatten()
            .filter(|field| field.error.is_some())
            .count(),
        fields: fields.unwrap_or_default(),
        task_data,
        problems,
    }
}

/// `GET /ui/reviews/{task}`: the form, showing the work submitted.
pub async fn page_of_review(
    state: &AppState,
    caller: &Caller,
    id: u64,
    query: &Form,
) -> Result<warp::reply::Response, ApiError> {
    let task = reviewed_task(state, caller, id).await?;
    let (fields, text) = prefilled(state, &task);
    let mut page = review_page(state, caller, &task, fields, text, Vec::new());
    page.chrome = page.chrome.with_notice(notice(query));
    page_with_status(&page, StatusCode::OK)
}

/// Records the caller's `decision` on the task with the posted form as its data; the form's
/// problems (an accept's check) and a JSON editor's text that is not an object come back on
/// the form (400).
async fn decide_with_form(
    state: &AppState,
    caller: &Caller,
    id: u64,
    form: &Form,
    decision: ReviewDecision,
) -> Result<warp::reply::Response, ApiError> {
    let task = reviewed_task(state, caller, id).await?;
    let Posted {
        data,
        mut fields,
        text,
    } = match posted_data(state, &task, form) {
        Ok(posted) => posted,
        Err(NotAnObject { problem, text }) => {
            let page = review_page(state, caller, &task, None, text, vec![problem]);
            return page_with_status(&page, StatusCode::BAD_REQUEST);
        }
    };
    match decide(state, &caller.key.id, id, decision, Some(data), None).await {
        Ok(_) => Ok(see_other(match decision {
            ReviewDecision::Accept => "/ui/reviews?done=accepted",
            ReviewDecision::Reject => "/ui/reviews?done=sent-back",
        })),
        Err(ApiError::BadRequest { details, .. }) if !details.is_empty() => {
            let general = match &mut fields {
                Some(fields) => place_problems(fields, details, TASK_DATA),
                None => details,
            };
            let page = review_page(state, caller, &task, fields, text, general);
            page_with_status(&page, StatusCode::BAD_REQUEST)
        }
        Err(other) => Err(other),
    }
}

/// `POST /ui/reviews/{task}/accept`: the step completes with the form's data.
pub async fn accept(
    state: &AppState,
    caller: &Caller,
    id: u64,
    form: &Form,
) -> Result<warp::reply::Response, ApiError> {
    decide_with_form(state, caller, id, form, ReviewDecision::Accept).await
}

/// `POST /ui/reviews/{task}/reject`: back to the claimant with the form's data as their work.
pub async fn reject(
    state: &AppState,
    caller: &Caller,
    id: u64,
    form: &Form,
) -> Result<warp::reply::Response, ApiError> {
    decide_with_form(state, caller, id, form, ReviewDecision::Reject).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(status: TaskStatus) -> TaskView {
        super::super::human_task_view(status)
    }

    #[test]
    fn a_review_without_a_decision_to_make_says_where_it_stands() {
        let human = |review| HumanRecord {
            review: Some(review),
            reviewer: Some("bob".into()),
            ..HumanRecord::default()
        };
        assert_eq!(
            closed_sentence(&task(TaskStatus::Running), &human(ReviewState::PostReview)),
            "You sent this task back to alice: it comes back to you when they submit it again."
        );
        for (status, review) in [
            (TaskStatus::Running, ReviewState::Accepted),
            (TaskStatus::Success, ReviewState::Accepted),
        ] {
            assert!(closed_sentence(&task(status), &human(review)).starts_with("You accepted"));
        }
        assert!(
            closed_sentence(&task(TaskStatus::Canceled), &human(ReviewState::Reviewing))
                .contains("ended before the review did")
        );
    }
}

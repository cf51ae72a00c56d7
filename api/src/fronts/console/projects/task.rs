//! `/ui/work/{task}`: a claimed human task, for the person holding it only: its project's
//! description and data, the results of the steps before, and the form to do the work.
//!
//! The form is drawn from the step's `form` ([`schema_form`](super::super::schema_form));
//! a step without one (or with a schema no field can stand for) gets a JSON editor. **Save
//! progress** stores what is typed as the task's work in progress through the projects
//! front's save (the API's `save`), and the page shows it again after a reload; **Submit**
//! goes through the front's submit, whose check against the form is the one that counts: its
//! problems are shown on the form, next to their fields.
//!
//! A step with `review: true` waits for its reviewer once submitted: the page says so (who
//! reviews it, in the projects front's words). A task the reviewer sent back is open again,
//! and the page shows the reviewer's latest decision (their comments) above the form, which
//! holds their data as the work to go on from.

use askama::Template;
use common::projects::form::TASK_DATA;
use common::store::engine::runs::TaskView;
use common::store::projects::{HumanRecord, ReviewState};
use warp::http::StatusCode;

use super::super::form::Form;
use super::super::html::{Chrome, datetime, page_with_status, see_other};
use super::super::schema_form::{Field, place_problems};
use super::rounds::{Round, sent_back};
use super::task_form::{NotAnObject, Posted, field_order, human_task, posted_data, prefilled};
use super::{notice, pretty};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::fronts::projects::tasks::{HumanTask, save_work, submit_work};
use crate::fronts::projects::view::human_task_status;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "console/projects/task.html")]
struct TaskPage {
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
    claimed: String,
    saved: String,
    /// True while the caller may still save and submit it.
    open: bool,
    /// Why it is not open (submitted, under review, finished, canceled), when it is not.
    closed: String,
    /// The reviewer's latest decision, when they sent it back.
    sent_back: Option<Round>,
    submission: String,
    json_mode: bool,
    fields: Vec<Field>,
    /// How many fields show a problem.
    marked: usize,
    task_data: String,
    problems: Vec<String>,
}

/// The task, if the caller may see it: a human task they claimed (open or not); 403 for
/// one they did not claim, 404 for a machine step or an unknown id.
async fn claimed_task(state: &AppState, caller: &Caller, id: u64) -> Result<HumanTask, ApiError> {
    let task = human_task(state, id).await?;
    let claimant = task.task().worker.as_deref();
    if task.task().started_ms.is_some() && claimant == Some(caller.key.id.as_str()) {
        return Ok(task);
    }
    Err(ApiError::Forbidden(if task.task().started_ms.is_none() {
        format!("task {id} is not yours: claim it on your work page first")
    } else {
        format!("task {id} is claimed by someone else: only they may see it")
    }))
}

/// Why a task its claimant may no longer work on is closed, in the projects front's words: a
/// task under review says who reviews it.
fn closed_sentence(task: &TaskView, human: &HumanRecord) -> String {
    let reviewer = human.reviewer.as_deref().unwrap_or("a reviewer");
    if human.submitted {
        return match human.review {
            Some(ReviewState::Accepted) => {
                format!(
                    "This task is submitted and was accepted by {reviewer}: it takes no more work."
                )
            }
            _ => "This task is submitted: it takes no more work.".into(),
        };
    }
    match human_task_status(task, human) {
        "Pending Review" => "This task is submitted and waiting for review: it comes back to you \
                             only if the reviewer sends it back."
            .into(),
        "Reviewing" => format!(
            "This task is submitted and being reviewed by {reviewer}: it comes back to you only \
             if they send it back."
        ),
        status => format!(
            "This task is {}: it takes no more work.",
            status.to_lowercase()
        ),
    }
}

/// The page of `task`, showing `fields` (or, in the JSON editor, `task_data`).
fn task_page(
    state: &AppState,
    caller: &Caller,
    task: &HumanTask,
    fields: Option<Vec<Field>>,
    task_data: String,
    problems: Vec<String>,
) -> TaskPage {
    let human = task.human();
    let view = task.task();
    let payload = &task.record.payload;
    let open = task.is_open_to(&caller.key.id);
    TaskPage {
        chrome: Chrome::new(caller, format!("Task {}", task.id()), "work"),
        id: task.id(),
        project: task.project.id,
        description: super::work::description(task),
        workflow: task.workflow_slug().to_owned(),
        priority: task.priority(),
        step: view.key.clone(),
        step_description: super::work::step_description(state, task),
        data: pretty(&payload["project_data"]),
        prerequisites: super::work::prerequisites(task),
        claimed: view.started_ms.map(datetime).unwrap_or_default(),
        saved: human.saved_ms.map(datetime).unwrap_or_default(),
        open,
        closed: closed_sentence(view, human),
        sent_back: (human.review == Some(ReviewState::PostReview))
            .then(|| sent_back(human, &field_order(state, task)))
            .flatten(),
        submission: human
            .snapshot
            .as_ref()
            .map(|snapshot| pretty(&snapshot["data"]))
            .or_else(|| human.work.as_ref().filter(|_| human.submitted).map(pretty))
            .unwrap_or_default(),
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

/// `GET /ui/work/{task}`: the form, showing the work saved last.
pub async fn page_of_task(
    state: &AppState,
    caller: &Caller,
    id: u64,
    query: &Form,
) -> Result<warp::reply::Response, ApiError> {
    let task = claimed_task(state, caller, id).await?;
    // Saved work replaces the schema's defaults; none shows them.
    let (fields, text) = prefilled(state, &task);
    let mut page = task_page(state, caller, &task, fields, text, Vec::new());
    page.chrome = page.chrome.with_notice(notice(query));
    page_with_status(&page, StatusCode::OK)
}

/// The JSON editor again, with why its text was refused (400).
fn refused_json(
    state: &AppState,
    caller: &Caller,
    task: &HumanTask,
    refused: NotAnObject,
) -> Result<warp::reply::Response, ApiError> {
    let page = task_page(
        state,
        caller,
        task,
        None,
        refused.text,
        vec![refused.problem],
    );
    page_with_status(&page, StatusCode::BAD_REQUEST)
}

/// `POST /ui/work/{task}/save`: stores the form as the work in progress.
pub async fn save(
    state: &AppState,
    caller: &Caller,
    id: u64,
    form: &Form,
) -> Result<warp::reply::Response, ApiError> {
    let task = claimed_task(state, caller, id).await?;
    let data = match posted_data(state, &task, form) {
        Ok(posted) => posted.data,
        Err(refusal) => return refused_json(state, caller, &task, refusal),
    };
    save_work(state, &caller.key.id, id, &data).await?;
    Ok(see_other(&format!("/ui/work/{id}?done=saved")))
}

/// `POST /ui/work/{task}/submit`: submits the form; what the form's check refuses is shown
/// on the form (400).
pub async fn submit(
    state: &AppState,
    caller: &Caller,
    id: u64,
    form: &Form,
) -> Result<warp::reply::Response, ApiError> {
    let task = claimed_task(state, caller, id).await?;
    let Posted {
        data,
        mut fields,
        text,
    } = match posted_data(state, &task, form) {
        Ok(posted) => posted,
        Err(refusal) => return refused_json(state, caller, &task, refusal),
    };
    match submit_work(state, &caller.key.id, id, &data, None).await {
        Ok(_) if task.step(state).is_some_and(|step| step.review) => {
            Ok(see_other("/ui/work?done=in-review"))
        }
        Ok(_) => Ok(see_other("/ui/work?done=submitted")),
        Err(ApiError::BadRequest { details, .. }) if !details.is_empty() => {
            let general = match &mut fields {
                Some(fields) => place_problems(fields, details, TASK_DATA),
                None => details,
            };
            let page = task_page(state, caller, &task, fields, text, general);
            page_with_status(&page, StatusCode::BAD_REQUEST)
        }
        Err(other) => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::engine::model::TaskStatus;

    fn running() -> TaskView {
        super::super::human_task_view(TaskStatus::Running)
    }

    #[test]
    fn a_closed_task_says_where_its_review_stands() {
        let task = running();
        let mut human = HumanRecord {
            review: Some(ReviewState::Pending),
            ..HumanRecord::default()
        };
        assert!(closed_sentence(&task, &human).contains("waiting for review"));
        human.review = Some(ReviewState::Reviewing);
        human.reviewer = Some("bob".into());
        assert!(closed_sentence(&task, &human).contains("being reviewed by bob"));
        human.review = Some(ReviewState::Accepted);
        human.submitted = true;
        assert!(closed_sentence(&task, &human).contains("accepted by bob"));
        let plain = HumanRecord {
            submitted: true,
            ..HumanRecord::default()
        };
        assert_eq!(
            closed_sentence(&task, &plain),
            "This task is submitted: it takes no more work."
        );
        let canceled = TaskView {
            status: TaskStatus::Canceled,
            ..running()
        };
        assert_eq!(
            closed_sentence(&canceled, &HumanRecord::default()),
            "This task is aborted: it takes no more work."
        );
    }
}

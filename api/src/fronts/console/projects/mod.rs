//! The console's Projects section: Orchestra's projects for the people who follow them, the
//! work page for the people who do their human steps, and the review pages for the people who
//! review them. Its pages call the projects front's use cases
//! ([`crate::fronts::projects::tasks`], [`crate::fronts::projects::reviews`]) and show the
//! front's words for statuses ([`crate::fronts::projects::view`]), so the console and the API
//! never disagree.
//!
//! - [`route`]: the section's paths and the permission each needs (`projects.read` for the
//!   projects, `projects.work` for the work pages, `projects.review` for the review pages).
//! - [`list`]: `/ui/projects`, the projects with their workflow, priority, status and progress.
//! - [`project`]: `/ui/projects/{id}`, a project's steps, tasks and assignments, live.
//! - [`work`]: `/ui/work`, the tasks a person may claim and those they hold; claiming.
//! - [`task`]: `/ui/work/{task}`, the form of a claimed task: saving and submitting it.
//! - [`task_form`]: a task's form (fields from its step's `form`, or a JSON editor), read back.
//! - [`reviews`]: `/ui/reviews`, the tasks waiting for a reviewer and those the caller
//!   reviews or sent back; claiming a review.
//! - [`review`]: `/ui/reviews/{task}`, a task under review: accepting it or sending it back.
//! - [`rounds`]: a task's submissions and its reviewer's decisions, as people read them.

pub mod list;
pub mod project;
pub mod review;
pub mod reviews;
pub mod rounds;
pub mod route;
pub mod task;
pub mod task_form;
pub mod work;

use serde_json::Value;

pub use route::ProjectsRoute;

use super::form::Form;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::request::RequestParts;
use crate::state::AppState;

/// Renders a page of the section (a GET).
pub async fn show(
    state: &AppState,
    caller: &Caller,
    request: &RequestParts,
    route: ProjectsRoute,
) -> Result<warp::reply::Response, ApiError> {
    let query = Form::query(&request.path_and_query);
    match route {
        ProjectsRoute::Index => list::page_of_projects(state, caller, &query).await,
        ProjectsRoute::Project(id) => project::page_of_project(state, caller, id).await,
        ProjectsRoute::ProjectLive(id) => project::live(state, id).await,
        ProjectsRoute::Work => work::page_of_work(state, caller, &query).await,
        ProjectsRoute::Task(id) => task::page_of_task(state, caller, id, &query).await,
        ProjectsRoute::Reviews => reviews::page_of_reviews(state, caller, &query).await,
        ProjectsRoute::Review(id) => review::page_of_review(state, caller, id, &query).await,
        ProjectsRoute::Claim(_)
        | ProjectsRoute::Save(_)
        | ProjectsRoute::Submit(_)
        | ProjectsRoute::ClaimReview(_)
        | ProjectsRoute::Accept(_)
        | ProjectsRoute::Reject(_) => Err(ApiError::NotFound("no such page".into())),
    }
}

/// Does what a form of the section asks (a POST whose CSRF token was checked).
pub async fn act(
    state: &AppState,
    caller: &Caller,
    route: ProjectsRoute,
    form: Form,
) -> Result<warp::reply::Response, ApiError> {
    match route {
        ProjectsRoute::Claim(id) => work::claim(state, caller, id).await,
        ProjectsRoute::Save(id) => task::save(state, caller, id, &form).await,
        ProjectsRoute::Submit(id) => task::submit(state, caller, id, &form).await,
        ProjectsRoute::ClaimReview(id) => reviews::claim(state, caller, id).await,
        ProjectsRoute::Accept(id) => review::accept(state, caller, id, &form).await,
        ProjectsRoute::Reject(id) => review::reject(state, caller, id, &form).await,
        _ => Err(ApiError::NotFound("no such action".into())),
    }
}

/// The notice for `?done=` after an action (a fixed set, so no text comes from the URL).
fn notice(query: &Form) -> Option<String> {
    let text = match query.get("done")? {
        "claimed" => "The task is yours: work on it here, save your progress, then submit it.",
        "saved" => "Your progress is saved.",
        "submitted" => "Submitted: the project goes on with your work.",
        "in-review" => "Submitted for review: a reviewer accepts it, or sends it back to you.",
        "reviewing" => "You review this task now: accept it, or send it back with your comments.",
        "accepted" => "Accepted: the project goes on with the reviewed work.",
        "sent-back" => "Sent back to its claimant: it comes back to you when they submit it again.",
        _ => return None,
    };
    Some(text.to_owned())
}

/// JSON as people read it: indented, and empty for `null`.
fn pretty(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    }
}

/// A snapshot's time as shown (UTC, `YYYY-MM-DD HH:MM:SS`), from Orchestra's datetime.
fn snapshot_time(snapshot: &Value) -> String {
    snapshot["datetime"]
        .as_str()
        .unwrap_or("")
        .chars()
        .take(19)
        .collect::<String>()
        .replace('T', " ")
}

/// Task data as people read it, field by field (those named in `order` first, in that order,
/// then by name): text as it is, anything else as indented JSON, without Orchestra's
/// `__version` mark; data that is not an object is one row, `data`.
fn data_rows(data: &Value, order: &[String]) -> Vec<(String, String)> {
    match data {
        Value::Null => Vec::new(),
        Value::Object(fields) => {
            let mut rows: Vec<(String, String)> = fields
                .iter()
                .filter(|(name, _)| name.as_str() != "__version")
                .map(|(name, value)| {
                    let shown = match value {
                        Value::String(text) => text.clone(),
                        other => pretty(other),
                    };
                    (name.clone(), shown)
                })
                .collect();
            rows.sort_by_key(|(name, _)| {
                let listed = order.iter().position(|listed| listed == name);
                (listed.unwrap_or(usize::MAX), name.clone())
            });
            rows
        }
        other => vec![("data".to_owned(), pretty(other))],
    }
}

/// A claimed human task (step `write`, claimed by `alice`) in `status`, for tests.
#[cfg(test)]
fn human_task_view(
    status: common::engine::model::TaskStatus,
) -> common::store::engine::runs::TaskView {
    common::store::engine::runs::TaskView {
        index: 0,
        id: "t".into(),
        key: "write".into(),
        status,
        attempt: 1,
        depends_on: Vec::new(),
        queue: common::engine::model::QueueName::human(),
        max_retries: 0,
        result: None,
        error: None,
        progress: 0,
        worker: Some("alice".into()),
        is_hook: false,
        created_ms: 0,
        updated_ms: 0,
        started_ms: Some(0),
        finished_ms: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn notices_come_from_a_fixed_set_and_json_reads_indented() {
        assert!(
            notice(&Form::query("/ui/work?done=saved"))
                .unwrap()
                .contains("saved")
        );
        assert_eq!(notice(&Form::query("/ui/work?done=<script>")), None);
        assert_eq!(notice(&Form::query("/ui/work")), None);
        assert_eq!(pretty(&Value::Null), "");
        assert_eq!(pretty(&json!({"a": 1})), "{\n  \"a\": 1\n}");
        assert!(
            notice(&Form::query("/ui/reviews?done=sent-back"))
                .unwrap()
                .contains("Sent back")
        );
    }

    #[test]
    fn data_reads_field_by_field_and_snapshot_times_as_utc() {
        let data = json!({"text": "Line one\nline two", "score": 4, "tags": ["a"], "__version": 1});
        let rows = |order: &[String]| data_rows(&data, order);
        assert_eq!(
            rows(&[]),
            [
                ("score".to_owned(), "4".to_owned()),
                ("tags".to_owned(), "[\n  \"a\"\n]".to_owned()),
                ("text".to_owned(), "Line one\nline two".to_owned()),
            ]
        );
        let names: Vec<String> = rows(&["text".to_owned(), "missing".to_owned()])
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert_eq!(names, ["text", "score", "tags"]);
        assert_eq!(data_rows(&Value::Null, &[]), []);
        assert_eq!(
            data_rows(&json!([1]), &[]),
            [("data".to_owned(), "[\n  1\n]".to_owned())]
        );
        assert_eq!(
            snapshot_time(&json!({"datetime": "2026-01-02T03:04:05.123456"})),
            "2026-01-02 03:04:05"
        );
        assert_eq!(snapshot_time(&Value::Null), "");
    }
}

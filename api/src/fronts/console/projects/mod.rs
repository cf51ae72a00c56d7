//! The console's Projects section: Orchestra's projects for the people who follow them, and
//! the work page for the people who do their human steps. Its pages call the projects front's
//! use cases ([`crate::fronts::projects::tasks`]) and show the front's words for statuses
//! ([`crate::fronts::projects::view`]), so the console and the API never disagree.
//!
//! - [`route`]: the section's paths and the permission each needs (`projects.read` for the
//!   projects, `projects.work` for the work pages).
//! - [`list`]: `/ui/projects`, the projects with their workflow, priority, status and progress.
//! - [`project`]: `/ui/projects/{id}`, a project's steps, tasks and assignments, live.
//! - [`work`]: `/ui/work`, the tasks a person may claim and those they hold; claiming.
//! - [`task`]: `/ui/work/{task}`, the form of a claimed task: saving and submitting it.

pub mod list;
pub mod project;
pub mod route;
pub mod task;
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
        ProjectsRoute::Claim(_) | ProjectsRoute::Save(_) | ProjectsRoute::Submit(_) => {
            Err(ApiError::NotFound("no such page".into()))
        }
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
        _ => Err(ApiError::NotFound("no such action".into())),
    }
}

/// The notice for `?done=` after an action (a fixed set, so no text comes from the URL).
fn notice(query: &Form) -> Option<String> {
    let text = match query.get("done")? {
        "claimed" => "The task is yours: work on it here, save your progress, then submit it.",
        "saved" => "Your progress is saved.",
        "submitted" => "Submitted: the project goes on with your work.",
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
    }
}

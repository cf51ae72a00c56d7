//! The projects front: Orchestra's client API under `/orchestra/api/project/...`, and the API
//! through which people do the human steps, under `/orchestra/api/tasks/...`.
//!
//! A project is a run of its workflow's steps ([`common::projects`]); trailing slashes are
//! optional; bodies and answers are JSON; errors are `{"error": code, "message": "..."}` with
//! a 4xx status. `create_project` needs `projects.write`; `project_information` and
//! `workflow_types` need `projects.read`; the task routes need `projects.work`; the review
//! routes `projects.review`; the project-management routes
//! (`/orchestra/api/interface/project_management/...`) `projects.manage`. Orchestra's client
//! signs `date` alone: give it a key created with `--allow-date-only`.
//!
//! - [`route`]: which endpoint a method and path name.
//! - [`reply`]: answers, bodies, ids and Orchestra's dates.
//! - [`view`]: projects, tasks and assignments in Orchestra's shapes and words.
//! - [`client`]: Orchestra's client API: creating and reading projects, listing workflows.
//! - [`tasks`]: the human-task API (available, claim the next task or one by id, save, submit),
//!   whose use cases the console's work pages call too.
//! - [`reviews`]: the review API (tasks waiting for a reviewer, claim a review, accept or
//!   reject), for keys with `projects.review`.
//! - [`control`]: Orchestra's project management: ending, pausing and resuming projects
//!   (`projects.manage`); a paused project's tasks are not offered.
//! - [`reassign`]: releasing a claimed task (its holder), assigning and reassigning tasks
//!   (`projects.manage`).

mod client;
mod control;
mod reassign;
mod reply;
pub(crate) mod reviews;
mod route;
pub(crate) mod tasks;
pub(crate) mod view;

use common::auth::permissions::Permission;
use common::store::projects::human::ReviewDecision;
use warp::Filter;

use super::routed;
use crate::auth::authorize;
use crate::error::{ApiError, Front};
use crate::request::RequestParts;
use crate::state::AppState;
use route::Route;

/// Every route of the front: everything under `/orchestra/`.
pub fn routes(
    state: AppState,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    routed(warp::path("orchestra"), &state, Front::Projects, dispatch)
}

/// Answers one request to a known route, once its caller holds the permission.
async fn dispatch(
    state: AppState,
    request: RequestParts,
    route: Route,
) -> Result<warp::reply::Response, ApiError> {
    let permission = match route {
        Route::CreateProject => Permission::ProjectsWrite,
        Route::ProjectInformation | Route::WorkflowTypes => Permission::ProjectsRead,
        Route::Available | Route::Claim | Route::Save(_) | Route::Submit(_) => {
            Permission::ProjectsWork
        }
        Route::ReviewsAvailable | Route::ReviewClaim | Route::Accept(_) | Route::Reject(_) => {
            Permission::ProjectsReview
        }
        Route::Release(_) => Permission::ProjectsWork,
        Route::EndProject
        | Route::SetProjectStatus
        | Route::AssignTask
        | Route::ReassignAssignment => Permission::ProjectsManage,
    };
    let caller = authorize(&state, &request, permission).await?;
    let (state, request) = (&state, &request);
    match route {
        Route::CreateProject => client::create(state, request).await,
        Route::ProjectInformation => client::information(state, request).await,
        Route::WorkflowTypes => Ok(client::workflow_types(state)),
        Route::Available => tasks::available(state, request).await,
        Route::Claim => tasks::claim(state, request, &caller).await,
        Route::Save(id) => tasks::save(state, request, &caller, &id).await,
        Route::Submit(id) => tasks::submit(state, request, &caller, &id).await,
        Route::ReviewsAvailable => reviews::available(state, request, &caller).await,
        Route::ReviewClaim => reviews::claim(state, request, &caller).await,
        Route::Accept(id) => {
            reviews::decision(state, request, &caller, &id, ReviewDecision::Accept).await
        }
        Route::Reject(id) => {
            reviews::decision(state, request, &caller, &id, ReviewDecision::Reject).await
        }
        Route::Release(id) => reassign::release(state, &caller, &id).await,
        Route::EndProject => control::end_project(state, request).await,
        Route::SetProjectStatus => control::set_project_status(state, request).await,
        Route::AssignTask => reassign::assign_task(state, request).await,
        Route::ReassignAssignment => reassign::reassign_assignment(state, request).await,
    }
}

//! The releases front: the Release Coordinator's API at its root paths (`/task-services`,
//! `/releases`, `/tasks`, `/release-notes`, `/events`, `/studies`) over releases driven by
//! Baton runs.
//!
//! Trailing slashes are optional; bodies and answers are JSON; errors are
//! `{"message": "..."}` with a 4xx status. Reads need `releases.read`, writes
//! `releases.write`.
//!
//! - [`route`]: which endpoint a method and path name.
//! - [`reply`]: answers, URLs of related resources, pagination, body parsing.
//! - [`services`]: task services; [`lifecycle`]: releases; [`tasks`]: tasks and progress
//!   reports; [`catalog`]: events, release notes and studies.

mod catalog;
pub(crate) mod lifecycle;
mod reply;
mod route;
pub(crate) mod services;
mod tasks;

use common::store::apikeys::Permission;
use warp::Filter;
use warp::http::Method;

use super::routed;
use crate::auth::authorize;
use crate::error::{ApiError, Front};
use crate::request::RequestParts;
use crate::state::AppState;
use route::{Collection, ROOTS, Route};

/// Every route of the front.
pub fn routes(
    state: AppState,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    let roots = warp::path::peek()
        .and_then(|peek: warp::path::Peek| async move {
            let first = peek.segments().next().unwrap_or("");
            if ROOTS.contains(&first) {
                Ok(())
            } else {
                Err(warp::reject::not_found())
            }
        })
        .untuple_one();
    routed(roots, &state, Front::Releases, dispatch)
}

/// Answers one request to a known route, once its caller holds the permission.
async fn dispatch(
    state: AppState,
    request: RequestParts,
    route: Route,
) -> Result<warp::reply::Response, ApiError> {
    let permission = if request.method == Method::GET {
        Permission::ReleasesRead
    } else {
        Permission::ReleasesWrite
    };
    authorize(&state, &request, permission).await?;
    let (state, request) = (&state, &request);
    use Collection::*;
    match route {
        Route::List(Services) => services::list(state, request).await,
        Route::Create(Services) => services::create(state, request).await,
        Route::Get(Services, id) => services::get(state, &id).await,
        Route::Update(Services, id) => services::update(state, request, &id).await,
        Route::Delete(Services, id) => services::delete(state, &id).await,
        Route::List(Releases) => lifecycle::list(state, request).await,
        Route::Create(Releases) => lifecycle::create(state, request).await,
        Route::Get(Releases, id) => lifecycle::get(state, request, &id).await,
        Route::Update(Releases, id) => lifecycle::update(state, request, &id).await,
        Route::Delete(Releases, id) => lifecycle::cancel(state, request, &id).await,
        Route::Publish(id) => lifecycle::publish(state, &id).await,
        Route::List(Tasks) => tasks::list(state, request).await,
        Route::Get(Tasks, id) => tasks::get(state, request, &id).await,
        Route::Update(Tasks, id) => tasks::update(state, request, &id).await,
        Route::List(Events) => catalog::list_events(state, request).await,
        Route::Create(Events) => catalog::create_event(state, request).await,
        Route::Get(Events, id) => catalog::get_event(state, request, &id).await,
        Route::Delete(Events, id) => catalog::delete_event(state, &id).await,
        Route::List(Notes) => catalog::list_notes(state, request).await,
        Route::Create(Notes) => catalog::create_note(state, request).await,
        Route::Get(Notes, id) => catalog::get_note(state, request, &id).await,
        Route::Update(Notes, id) => catalog::update_note(state, request, &id).await,
        Route::Delete(Notes, id) => catalog::delete_note(state, &id).await,
        Route::List(Studies) => catalog::list_studies(state, request).await,
        Route::Get(Studies, id) => catalog::get_study(state, &id).await,
        Route::Create(Tasks | Studies)
        | Route::Update(Events | Studies, _)
        | Route::Delete(Tasks | Studies, _) => {
            let path = request.path_and_query.as_str();
            Err(super::no_route(&request.method, path, || {
                ApiError::NotFound(format!("no route {} {path}", request.method))
            }))
        }
    }
}

//! The releases front: the Release Coordinator's API at its root paths (`/task-services`,
//! `/releases`, `/tasks`, `/release-notes`, `/events`, `/studies`) over releases driven by
//! Baton runs.
//!
//! Trailing slashes are optional; bodies and answers are JSON; errors are
//! `{"message": "..."}` with a 4xx status. Reads need `releases.read`, writes
//! `releases.write`; a task service may instead report its tasks' progress with the token
//! its registration answered. Studies are read-only: they are mirrored from the data service.
//!
//! - [`route`]: which endpoint a method and path name.
//! - [`reply`]: answers, URLs of related resources, pagination (newest first), body parsing.
//! - [`service_token`]: task services' tokens, which their progress reports may carry
//!   instead of a signature.
//! - [`services`]: task services; [`lifecycle`]: releases; [`tasks`]: tasks and progress
//!   reports; [`catalog`]: events, release notes and studies.

mod catalog;
pub(crate) mod lifecycle;
mod reply;
mod route;
mod service_token;
pub(crate) mod services;
mod tasks;

use common::auth::permissions::Permission;
use warp::Filter;
use warp::http::Method;

use super::{NoRoute, UNMATCHED, admit, no_route, respond, with_state};
use crate::auth::{Guard, authorize};
use crate::error::{ApiError, Front};
use crate::metrics::method_label;
use crate::request::{BodyStream, RequestHead, RequestParts, read_body, request_head};
use crate::state::AppState;
use route::{Collection, ROOTS, Route};

/// Every route of the front: each request's route is parsed (an unknown path is a 404, a
/// documented one with another method a 405 naming the methods it takes in `Allow`, both
/// answered without reading the body), its credentials checked from its headers, then its
/// body read and the request answered, in the front's format, logged and counted under the
/// route's pattern.
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
    roots
        .and(warp::path::full())
        .and(with_state(&state))
        .and(request_head())
        .then(
            |path: warp::path::FullPath,
             state: AppState,
             head: Result<RequestHead, ApiError>,
             body: BodyStream| async move {
                let route = match &head {
                    Ok(head) => Route::parse(&head.method, path.as_str()),
                    Err(_) => Err(NoRoute::NotFound),
                };
                let pattern = route.as_ref().map_or(UNMATCHED, Route::pattern);
                respond(
                    state,
                    head,
                    Front::Releases,
                    pattern,
                    |state, head| async move {
                        let Ok(route) = route else {
                            return Err(no_route(&head.method, path.as_str(), || {
                                ApiError::NotFound(format!(
                                    "no route {} {}",
                                    method_label(&head.method),
                                    path.as_str()
                                ))
                            }));
                        };
                        admit_and_dispatch(state, head, body, route).await
                    },
                )
                .await
            },
        )
}

/// Admits a request to `route` and answers it. A progress report (`PATCH /tasks/<id>`) with
/// a task service's token is checked against that task's service before its body is read;
/// every other request (and a signed report) must carry an HTTP signature.
async fn admit_and_dispatch(
    state: AppState,
    head: RequestHead,
    body: BodyStream,
    route: Route,
) -> Result<warp::reply::Response, ApiError> {
    if let Route::Update(Collection::Tasks, id) = &route {
        if let Some(token) = service_token::presented(&head).map(str::to_owned) {
            let service = service_token::check(&state, &token, id).await?;
            let body = read_body(&head, body, state.body_limit).await?;
            let request = RequestParts::new(head, body, None);
            return tasks::report(&state, &request, id, &service).await;
        }
        if service_token::absent(&head) {
            return Err(service_token::missing());
        }
    }
    let limit = state.body_limit;
    let request = admit(&state, head, body, Guard::Signed, limit).await?;
    dispatch(state, request, route).await
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

//! The API fronts, one module each, and what they share: admitting a request (its headers
//! authenticated as its route's [`Guard`] asks before its body is read), running a handler,
//! rendering its error in the front's format, logging and counting the request.
//!
//! - [`workflows`]: Celery Director's API under `/api/...`.
//! - [`reports`]: OrderlyWeb's API under `/api/v1/...`.
//! - [`releases`]: the Release Coordinator's API at `/releases`, `/tasks`, `/task-services`, ...
//! - [`projects`]: Orchestra's API under `/orchestra/api/...`, and its human-task API.
//! - [`operator`]: Baton's operator routes under `/api/` (queues, dead letters, workers, keys),
//!   in Director's error format; [`workflow_logs`]: a run's log under `/api/workflows/{id}/logs`.
//! - [`baton`]: `/healthz`, `/metrics` and `/openapi.json`.
//! - [`console`]: the web console under `/ui/` (signed in with a session cookie).

pub mod baton;
pub mod console;
pub mod operator;
pub mod projects;
pub mod releases;
pub mod reports;
pub mod workflow_logs;
pub mod workflows;

use std::future::Future;
use std::time::Instant;

use sha2::{Digest, Sha256};
use warp::Filter;
use warp::http::Method;

use crate::auth::{Guard, authenticate_head, key_id_of};
use crate::error::{ApiError, Front};
use crate::metrics::method_label;
use crate::request::{BodyStream, RequestHead, RequestParts, read_body, request_head};
use crate::state::AppState;

/// Answers the requests `path` matches with `handler`, in `front`'s format, logged and
/// counted under `route`; the caller must sign the request, and the body is read only once
/// the signature over the headers holds.
pub fn endpoint<P, F, Fut>(
    path: P,
    state: &AppState,
    front: Front,
    route: &'static str,
    handler: F,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone + use<P, F, Fut>
where
    P: Filter<Extract = (), Error = warp::Rejection> + Clone + Send + Sync + 'static,
    F: Fn(AppState, RequestParts) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<warp::reply::Response, ApiError>> + Send + 'static,
{
    guarded_endpoint(path, state, front, route, Guard::Signed, handler)
}

/// [`endpoint`] for a route that takes no credentials (such as `/healthz`): its handler gets
/// no body.
pub fn public_endpoint<P, F, Fut>(
    path: P,
    state: &AppState,
    front: Front,
    route: &'static str,
    handler: F,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone + use<P, F, Fut>
where
    P: Filter<Extract = (), Error = warp::Rejection> + Clone + Send + Sync + 'static,
    F: Fn(AppState, RequestParts) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<warp::reply::Response, ApiError>> + Send + 'static,
{
    guarded_endpoint(path, state, front, route, Guard::Public, handler)
}

fn guarded_endpoint<P, F, Fut>(
    path: P,
    state: &AppState,
    front: Front,
    route: &'static str,
    guard: Guard,
    handler: F,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone + use<P, F, Fut>
where
    P: Filter<Extract = (), Error = warp::Rejection> + Clone + Send + Sync + 'static,
    F: Fn(AppState, RequestParts) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<warp::reply::Response, ApiError>> + Send + 'static,
{
    path.and(with_state(state))
        .and(request_head())
        .then(move |state, head, body| {
            answer(state, head, body, front, route, guard, handler.clone())
        })
}

/// [`endpoint`] for paths with one `{id}` parameter, handed to the handler.
pub fn endpoint_with_id<P, F, Fut>(
    path: P,
    state: &AppState,
    front: Front,
    route: &'static str,
    handler: F,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone + use<P, F, Fut>
where
    P: Filter<Extract = (String,), Error = warp::Rejection> + Clone + Send + Sync + 'static,
    F: Fn(AppState, RequestParts, String) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<warp::reply::Response, ApiError>> + Send + 'static,
{
    path.and(with_state(state))
        .and(request_head())
        .then(move |id: String, state, head, body| {
            let handler = handler.clone();
            answer(
                state,
                head,
                body,
                front,
                route,
                Guard::Signed,
                move |state, request| handler(state, request, id),
            )
        })
}

/// Hands the state to a handler.
pub fn with_state(
    state: &AppState,
) -> impl Filter<Extract = (AppState,), Error = std::convert::Infallible> + Clone + use<> {
    let state = state.clone();
    warp::any().map(move || state.clone())
}

/// Admits a request as `guard` asks (the head authenticated first, then the body read within
/// the state's limit and checked), runs `handler` on it, renders an error in `front`'s
/// format, and logs and counts the request under `route` (a pattern, never the raw path).
/// A public route's body is never read.
pub async fn answer<F, Fut>(
    state: AppState,
    head: Result<RequestHead, ApiError>,
    body: BodyStream,
    front: Front,
    route: &'static str,
    guard: Guard,
    handler: F,
) -> warp::reply::Response
where
    F: FnOnce(AppState, RequestParts) -> Fut,
    Fut: Future<Output = Result<warp::reply::Response, ApiError>>,
{
    let limit = state.body_limit;
    respond(state, head, front, route, move |state, head| async move {
        let request = admit(&state, head, body, guard, limit).await?;
        handler(state, request).await
    })
    .await
}

/// Admits a request as `guard` asks: authenticates its head, then reads its body (up to
/// `limit` bytes; never on a public route) and checks it against the signature's `Digest`
/// and the replay memory.
pub async fn admit(
    state: &AppState,
    head: RequestHead,
    body: BodyStream,
    guard: Guard,
    limit: u64,
) -> Result<RequestParts, ApiError> {
    let proof = authenticate_head(state, &head, guard).await?;
    let body = match guard {
        Guard::Public => bytes::Bytes::new(),
        Guard::Anonymous => {
            read_body(&head, body, limit.min(crate::auth::ANONYMOUS_BODY_LIMIT)).await?
        }
        _ => read_body(&head, body, limit).await?,
    };
    let sha256: [u8; 32] = Sha256::digest(&body).into();
    let caller = proof
        .admit(state, &head, body.len() as u64, &sha256)
        .await?;
    Ok(RequestParts::new(head, body, caller))
}

/// Runs `handler` on a request whose head was read successfully, renders an error in
/// `front`'s format, and logs and counts the request under `route`, with its method among
/// the known ones (any other is `OTHER`).
pub async fn respond<F, Fut>(
    state: AppState,
    head: Result<RequestHead, ApiError>,
    front: Front,
    route: &'static str,
    handler: F,
) -> warp::reply::Response
where
    F: FnOnce(AppState, RequestHead) -> Fut,
    Fut: Future<Output = Result<warp::reply::Response, ApiError>>,
{
    let started = Instant::now();
    let (method, key_id) = match &head {
        Ok(head) => (method_label(&head.method), key_id_of(&head.headers)),
        // Refused before its method was kept (e.g. two Host headers): counted as OTHER rather
        // than as a method it may not have had.
        Err(_) => ("OTHER", None),
    };
    let response = match head {
        Ok(head) => handler(state.clone(), head)
            .await
            .unwrap_or_else(|error| error.into_response(front)),
        Err(error) => error.into_response(front),
    };
    let status = response.status().as_u16();
    state.metrics.record_request(route, method, status);
    tracing::info!(
        method,
        route,
        status,
        latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        key = key_id.as_deref().unwrap_or("-"),
        "request"
    );
    response
}

/// The error for a method and path no route takes: 405 with the methods the document lists
/// for the path (answered in `Allow`), or `not_found` when it lists none (or lists this very
/// method, for a path a route refused for another reason).
pub fn no_route(method: &Method, path: &str, not_found: impl FnOnce() -> ApiError) -> ApiError {
    let path = path.split('?').next().unwrap_or_default();
    let allowed = crate::openapi::allowed_methods(path);
    if allowed.is_empty() || allowed.contains(&method.as_str()) {
        not_found()
    } else {
        ApiError::MethodNotAllowed(allowed)
    }
}

/// Answers, in Baton's own format, what no front's route took: 405 with `Allow` for a
/// documented path, 404 otherwise; counted under the route `unmatched`.
pub fn unmatched(
    state: &AppState,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone + use<> {
    let any = warp::any()
        .and_then(|| async { Ok::<(), warp::Rejection>(()) })
        .untuple_one();
    public_endpoint(
        any,
        state,
        Front::Baton,
        UNMATCHED,
        |_state, request: RequestParts| async move {
            let path = request.path_and_query.clone();
            Err::<warp::reply::Response, _>(no_route(&request.method, &path, || {
                ApiError::NotFound("no such route".into())
            }))
        },
    )
}

/// Why a method and path name no route of a front.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoRoute {
    /// No such path.
    NotFound,
    /// The path exists, not with this method.
    MethodNotAllowed,
}

/// The routes of a front that parses its own paths.
pub trait FrontRoute: Sized + Send + 'static {
    /// The route a method and full path name.
    fn parse(method: &Method, path: &str) -> Result<Self, NoRoute>;
    /// Its pattern, for logs and metrics.
    fn pattern(&self) -> &'static str;
    /// What it asks of callers before their body is read: a signature unless it says
    /// otherwise.
    fn guard(&self) -> Guard {
        Guard::Signed
    }
}

/// The route label of requests no route takes.
pub const UNMATCHED: &str = "unmatched";

/// Answers every request `prefix` lets through: parses its route (an unknown path is a 404,
/// a documented one with another method a 405 naming the methods it takes in `Allow`, both
/// answered without reading the body), admits it as the route's guard asks, hands it to
/// `dispatch`, and answers in `front`'s format, logged and counted under the route's pattern.
pub fn routed<R, P, D, Fut>(
    prefix: P,
    state: &AppState,
    front: Front,
    dispatch: D,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone + use<R, P, D, Fut>
where
    R: FrontRoute,
    P: Filter<Extract = (), Error = warp::Rejection> + Clone + Send + Sync + 'static,
    D: Fn(AppState, RequestParts, R) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<warp::reply::Response, ApiError>> + Send + 'static,
{
    prefix
        .and(warp::path::full())
        .and(with_state(state))
        .and(request_head())
        .then(
            move |path: warp::path::FullPath,
                  state: AppState,
                  head: Result<RequestHead, ApiError>,
                  body: BodyStream| {
                let dispatch = dispatch.clone();
                async move {
                    let route = match &head {
                        Ok(head) => R::parse(&head.method, path.as_str()),
                        Err(_) => Err(NoRoute::NotFound),
                    };
                    let pattern = route.as_ref().map_or(UNMATCHED, R::pattern);
                    let limit = state.body_limit;
                    respond(state, head, front, pattern, |state, head| async move {
                        let Ok(route) = route else {
                            return Err(no_route(&head.method, path.as_str(), || {
                                ApiError::NotFound(format!(
                                    "no route {} {}",
                                    method_label(&head.method),
                                    path.as_str()
                                ))
                            }));
                        };
                        let request = admit(&state, head, body, route.guard(), limit).await?;
                        dispatch(state, request, route).await
                    })
                    .await
                }
            },
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_documented_path_with_another_method_names_its_methods_in_allow() {
        let not_found = || ApiError::NotFound("none".into());
        for (method, path, allowed) in [
            (Method::TRACE, "/api/v1/", "GET"),
            (Method::TRACE, "/api/v2/git/pull/", "POST"),
            (Method::DELETE, "/api/workflows?page=1", "GET, POST"),
            (Method::PUT, "/events/EV_1", "GET, DELETE"),
            (Method::TRACE, "/healthz", "GET"),
        ] {
            let error = no_route(&method, path, not_found);
            assert_eq!(error.status(), 405, "{method} {path}");
            let response = error.into_response(Front::Baton);
            assert_eq!(response.headers()["allow"], allowed, "{method} {path}");
        }
        assert_eq!(no_route(&Method::TRACE, "/nothing", not_found), not_found());
        // A documented method a route refused anyway (a malformed file path) is not found.
        assert_eq!(no_route(&Method::GET, "/healthz", not_found), not_found());
    }
}

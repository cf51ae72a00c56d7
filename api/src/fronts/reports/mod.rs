//! The reports front: OrderlyWeb's API v1 (`/api/v1/...`, also served as `/api/v2/...`) over
//! report runs and versions.
//!
//! Every route takes an optional trailing slash; payloads are wrapped in OrderlyWeb's
//! `{status, data, errors}` envelope; unknown routes, and routes asked for with an `Accept`
//! header they cannot answer, are 404.
//!
//! - [`route`]: which endpoint a method and path name.
//! - [`access`]: who is calling (bearer token, HTTP signature, `?access_token=`) and what they
//!   may see; [`login`]: user tokens for bearer tokens.
//! - [`catalog`]: reports, versions, publishing, changelogs.
//! - [`runs`]: running, status, kill and the queue.
//! - [`files`]: artefact, resource and data dictionaries and downloads, and version zips.
//! - [`git`]: the reports repository's status, fetch and pull.
//! - [`bundles`]: bundle pack and import.
//! - [`reply`]: the envelope and content negotiation.

mod access;
mod bundles;
mod catalog;
mod files;
mod git;
mod login;
mod reply;
mod route;
mod runs;

use warp::Filter;

use super::{answer, with_state};
use crate::error::{ApiError, Front};
use crate::request::{RequestParts, request_parts};
use crate::state::AppState;
use route::Route;

/// Every route of the front.
pub fn routes(
    state: AppState,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    // Bundles are larger than any other body: only their route reads up to the bundle limit.
    let import = warp::path("api")
        .and(version())
        .and(warp::path!("bundle" / "import"))
        .and(warp::post())
        .and(with_state(&state))
        .and(request_parts(state.reports.bundle_limit))
        .then(|state: AppState, request| async move {
            answer(
                state,
                request,
                Front::Reports,
                Route::BundleImport.pattern(),
                |state, request| dispatch(state, request, Route::BundleImport),
            )
            .await
        });
    let other =
        warp::path("api")
            .and(version())
            .and(warp::path::tail())
            .and(with_state(&state))
            .and(request_parts(state.body_limit))
            .then(
                |tail: warp::path::Tail,
                 state: AppState,
                 request: Result<RequestParts, ApiError>| async move {
                    let route = match &request {
                        Ok(request) => Route::parse(&request.method, tail.as_str()),
                        Err(_) => None,
                    };
                    let pattern = route.as_ref().map_or("unknown", Route::pattern);
                    answer(
                        state,
                        request,
                        Front::Reports,
                        pattern,
                        |state, request| async move {
                            match route {
                                Some(route) => dispatch(state, request, route).await,
                                None => Err(super::no_route(
                                    &request.method,
                                    &request.path_and_query,
                                    reply::unknown_resource,
                                )),
                            }
                        },
                    )
                    .await
                },
            );
    import.or(other).unify()
}

/// The API version segment: `v1`, or `v2`, which OrderlyWeb's released Python client
/// (`orderlyweb-api`) calls; both serve the same routes.
fn version() -> impl Filter<Extract = (), Error = warp::Rejection> + Clone {
    warp::path("v1").or(warp::path("v2")).unify()
}

/// Answers one request to a known route.
async fn dispatch(
    state: AppState,
    request: RequestParts,
    route: Route,
) -> Result<warp::reply::Response, ApiError> {
    reply::check_accept(&request, route.answers())?;
    match route {
        Route::Index => Ok(reply::success(route::index())),
        Route::Login => login::login(&state, &request).await,
        Route::BundleImport => bundles::import(&state, &request).await,
        Route::BundlePack { name } => bundles::pack(&state, &request, &name).await,
        Route::GitStatus => git::status(&state, &request).await,
        Route::GitFetch => git::fetch(&state, &request).await,
        Route::GitPull => git::pull(&state, &request).await,
        Route::QueueStatus => runs::queue_status(&state, &request).await,
        Route::Run { name } => runs::run(&state, &request, &name).await,
        Route::Status { key } => runs::status(&state, &request, &key).await,
        Route::Kill { key } => runs::kill(&state, &request, &key).await,
        Route::Reports => catalog::reports(&state, &request).await,
        Route::ReportVersions { name } => catalog::version_ids(&state, &request, &name).await,
        Route::AllVersions => catalog::all_versions(&state, &request).await,
        Route::LatestChangelog { name } => catalog::latest_changelog(&state, &request, &name).await,
        Route::Version { name, version } => {
            catalog::details(&state, &request, &name, &version).await
        }
        Route::Publish { name, version } => {
            catalog::publish(&state, &request, &name, &version).await
        }
        Route::Changelog { name, version } => {
            catalog::changelog(&state, &request, &name, &version).await
        }
        Route::Zip { name, version } => files::zip(&state, &request, &name, &version).await,
        Route::Files {
            name,
            version,
            kind,
        } => files::dictionary(&state, &request, &name, &version, kind).await,
        Route::File {
            name,
            version,
            kind,
            file,
        } => files::download(&state, &request, &name, &version, kind, &file).await,
        Route::DataByHash { id, form } => files::data_by_hash(&state, &request, &id, form).await,
    }
}

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

// `access`, `catalog`, `files`, `route` and `runs` also serve the console's reports pages.
pub(crate) mod access;
mod bundles;
pub(crate) mod catalog;
pub(crate) mod files;
mod git;
mod login;
mod reply;
pub(crate) mod route;
pub(crate) mod runs;

use common::auth::permissions::{Permission, grants};
use warp::Filter;

use super::{UNMATCHED, admit, respond, with_state};
use crate::auth::{Guard, HeadAuth, authenticate_head};
use crate::error::{ApiError, Front};
use crate::request::{BodyStream, RequestHead, RequestParts, request_head, spool_body};
use crate::state::AppState;
use route::Route;

/// Every route of the front. Each request is authenticated from its headers before its body
/// is read; the bundle import's body goes to a temporary file, never into memory.
pub fn routes(
    state: AppState,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    warp::path("api")
        .and(version())
        .and(warp::path::tail())
        .and(with_state(&state))
        .and(request_head())
        .then(
            |tail: warp::path::Tail,
             state: AppState,
             head: Result<RequestHead, ApiError>,
             body: BodyStream| async move {
                let route = match &head {
                    Ok(head) => Route::parse(&head.method, tail.as_str()),
                    Err(_) => None,
                };
                let pattern = route.as_ref().map_or(UNMATCHED, Route::pattern);
                respond(
                    state,
                    head,
                    Front::Reports,
                    pattern,
                    |state, head| async move {
                        let Some(route) = route else {
                            return Err(super::no_route(
                                &head.method,
                                &head.path_and_query,
                                reply::unknown_resource,
                            ));
                        };
                        if route == Route::BundleImport {
                            return import(state, head, body).await;
                        }
                        let limit = state.body_limit;
                        let request = admit(&state, head, body, guard(&route), limit).await?;
                        dispatch(state, request, route).await
                    },
                )
                .await
            },
        )
}

/// What a route asks of its callers: login and the index nothing, downloads a bearer token
/// (also as `?access_token=`, as OrderlyWeb allows for links) or a signature, every other
/// route a bearer token in the header or a signature.
fn guard(route: &Route) -> Guard {
    match route {
        Route::Index | Route::Login => Guard::Public,
        Route::Zip { .. }
        | Route::File { .. }
        | Route::DataByHash { .. }
        | Route::Changelog { .. } => Guard::SignedOrBearer { query_token: true },
        _ => Guard::SignedOrBearer { query_token: false },
    }
}

/// `POST /bundle/import/`: the caller is authenticated and must hold `reports.run` before a
/// byte of the bundle is read; the bundle then streams to a temporary file, hashed as it
/// arrives, and is checked against the `Digest`. At most as many bundles as the settings
/// allow are received at once; more are refused (503) rather than queued.
async fn import(
    state: AppState,
    head: RequestHead,
    body: BodyStream,
) -> Result<warp::reply::Response, ApiError> {
    let proof =
        authenticate_head(&state, &head, Guard::SignedOrBearer { query_token: false }).await?;
    let key = match &proof {
        HeadAuth::Signed { key, .. } => Some(key),
        HeadAuth::Bearer(caller) => Some(&caller.key),
        HeadAuth::Public => None,
    };
    if let Some(key) = key
        && !grants(&key.permissions, Permission::ReportsRun)
    {
        return Err(ApiError::Forbidden(format!(
            "'{}' lacks the '{}' permission",
            key.id,
            Permission::ReportsRun.as_str()
        )));
    }
    let _receiving = state.reports.uploads.try_acquire().map_err(|_| {
        ApiError::Unavailable(
            "too many bundles are being received at once; try again shortly".into(),
        )
    })?;
    let spooled = spool_body(&head, body, state.reports.bundle_limit).await?;
    let caller = proof
        .admit(&state, &head, spooled.len, &spooled.sha256)
        .await?;
    let request = RequestParts::new(head, bytes::Bytes::new(), caller);
    reply::check_accept(&request, Route::BundleImport.answers())?;
    bundles::import(&state, &request, spooled).await
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
        // Its body goes to a file, not through `admit`: `routes` hands it to `import`.
        Route::BundleImport => Err(ApiError::Unavailable(
            "bundles are received by their own handler".into(),
        )),
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

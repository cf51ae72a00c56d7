//! Baton's own routes: `/healthz` (checks Redis), `/metrics` (Prometheus text) and
//! `/openapi.json`.

use common::store::apikeys::Permission;
use serde_json::json;
use warp::http::StatusCode;
use warp::{Filter, Reply};

use super::{endpoint, public_endpoint};
use crate::auth::{authenticate, authorize};
use crate::error::{ApiError, Front};
use crate::openapi::openapi_document;
use crate::state::AppState;

/// Every route of this front.
pub fn routes(
    state: AppState,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    let front = Front::Baton;
    let healthz = public_endpoint(
        warp::path!("healthz").and(warp::get()),
        &state,
        front,
        "/healthz",
        |state: AppState, _request| async move {
            state.store.ping().await.map_err(|error| {
                ApiError::Unavailable(format!("Redis does not answer: {error}"))
            })?;
            Ok(warp::reply::json(&json!({"status": "ok"})).into_response())
        },
    );
    let metrics = endpoint(
        warp::path!("metrics").and(warp::get()),
        &state,
        front,
        "/metrics",
        |state: AppState, request| async move {
            authorize(&state, &request, Permission::Admin).await?;
            let text = state.metrics.render(&state.store).await?;
            Ok(warp::reply::with_header(
                text,
                "content-type",
                "text/plain; version=0.0.4; charset=utf-8",
            )
            .into_response())
        },
    );
    let openapi = endpoint(
        warp::path!("openapi.json").and(warp::get()),
        &state,
        front,
        "/openapi.json",
        |state: AppState, request| async move {
            authenticate(&state, &request).await?;
            Ok(
                warp::reply::with_status(warp::reply::json(&openapi_document()), StatusCode::OK)
                    .into_response(),
            )
        },
    );
    healthz.or(metrics).unify().or(openapi).unify()
}

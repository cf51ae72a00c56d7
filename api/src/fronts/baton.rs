//! Baton's own routes: `/healthz` (checks Redis), `/metrics` (Prometheus text) and
//! `/openapi.json`.

use common::store::apikeys::Permission;
use serde_json::json;
use warp::http::StatusCode;
use warp::{Filter, Reply};

use super::{answer, with_state};
use crate::auth::{authenticate, authorize};
use crate::error::{ApiError, Front};
use crate::openapi::openapi_document;
use crate::request::request_parts;
use crate::state::AppState;

/// Every route of this front.
pub fn routes(
    state: AppState,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    let parts = request_parts(state.body_limit);
    let healthz = warp::path!("healthz")
        .and(warp::get())
        .and(with_state(&state))
        .and(parts.clone())
        .then(|state, request| {
            answer(
                state,
                request,
                Front::Baton,
                "/healthz",
                |state: AppState, _request| async move {
                    state.store.ping().await.map_err(|error| {
                        ApiError::Unavailable(format!("Redis does not answer: {error}"))
                    })?;
                    Ok(warp::reply::json(&json!({"status": "ok"})).into_response())
                },
            )
        });
    let metrics = warp::path!("metrics")
        .and(warp::get())
        .and(with_state(&state))
        .and(parts.clone())
        .then(|state, request| {
            answer(
                state,
                request,
                Front::Baton,
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
            )
        });
    let openapi = warp::path!("openapi.json")
        .and(warp::get())
        .and(with_state(&state))
        .and(parts)
        .then(|state, request| {
            answer(
                state,
                request,
                Front::Baton,
                "/openapi.json",
                |state: AppState, request| async move {
                    authenticate(&state, &request).await?;
                    Ok(warp::reply::with_status(
                        warp::reply::json(&openapi_document()),
                        StatusCode::OK,
                    )
                    .into_response())
                },
            )
        });
    healthz.or(metrics).unify().or(openapi).unify()
}

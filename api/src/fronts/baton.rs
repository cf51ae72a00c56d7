//! Baton's own routes: `/healthz` (checks Redis), `/metrics` (Prometheus' formats, read with
//! the scrape token or an admin signature) and `/openapi.json`.

use common::auth::permissions::Permission;
use serde_json::json;
use warp::http::StatusCode;
use warp::{Filter, Reply};

use super::{admit, endpoint, public_endpoint, respond, with_state};
use crate::auth::{Guard, authenticate, authorize};
use crate::error::{ApiError, Front};
use crate::metrics::Format;
use crate::openapi::openapi_document;
use crate::request::{BodyStream, RequestHead, request_head};
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
    let metrics = warp::path!("metrics")
        .and(warp::get())
        .and(with_state(&state))
        .and(request_head())
        .then(
            move |state: AppState, head: Result<RequestHead, ApiError>, body: BodyStream| {
                respond(state, head, front, "/metrics", move |state, head| {
                    scrape(state, head, body)
                })
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

/// The bearer token in a request's `Authorization` header, if it holds one.
fn bearer_token(head: &RequestHead) -> Option<&str> {
    let value = head.headers.get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// `/metrics`: for the scrape token (`Authorization: Bearer ...`), or a request signed with an
/// admin key; in the format the `Accept` header prefers.
async fn scrape(
    state: AppState,
    head: RequestHead,
    body: BodyStream,
) -> Result<warp::reply::Response, ApiError> {
    let format = Format::negotiate(
        head.headers
            .get("accept")
            .and_then(|value| value.to_str().ok()),
    );
    match bearer_token(&head) {
        Some(token) => {
            if !state.metrics.accepts_token(token) {
                return Err(ApiError::Unauthorized(
                    "the bearer token is not the metrics token (BATON_METRICS_TOKEN); or sign \
                     the request with an admin key"
                        .into(),
                ));
            }
        }
        None => {
            let limit = state.body_limit;
            let request = admit(&state, head, body, Guard::Signed, limit).await?;
            authorize(&state, &request, Permission::Admin).await?;
        }
    }
    let text = state.metrics.render(&state.store, format).await?;
    Ok(warp::reply::with_header(text, "content-type", format.content_type()).into_response())
}

//! `POST /api/v1/login/`: a user token (`Authorization: token USER:SECRET`, as
//! `baton-api tokens create` prints it) for a bearer token that expires.
//!
//! The token is checked by [`crate::credentials::check_secret`]: throttled, constant-time,
//! against a decoy for unknown users.

use common::auth::api_key::parse_user_token;
use serde_json::json;
use warp::Reply;

use crate::error::ApiError;
use crate::request::RequestParts;
use crate::state::AppState;

/// Exchanges a user token for a bearer token. The answer is OrderlyWeb's login payload
/// itself, not wrapped in the envelope, as its clients read it.
pub async fn login(
    state: &AppState,
    request: &RequestParts,
) -> Result<warp::reply::Response, ApiError> {
    let header = request
        .headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| {
            ApiError::Unauthorized("send your user token as 'Authorization: token ...'".into())
        })?;
    let token = match header.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("token") => token.trim(),
        _ => {
            return Err(ApiError::Unauthorized(
                "the Authorization header must read 'token <user token>'".into(),
            ));
        }
    };
    let invalid = || ApiError::Unauthorized("the user token is invalid".into());
    let (user, secret) = parse_user_token(token).ok_or_else(invalid)?;
    let key = crate::credentials::check_secret(state, request.remote, user, secret)
        .await
        .map_err(|error| match error {
            ApiError::Unauthorized(_) => invalid(),
            other => other,
        })?;
    let ttl = state.reports.token_ttl_secs;
    let access_token = state.store.issue_bearer_token(&key.id, ttl).await?;
    Ok(warp::reply::json(&json!({
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": ttl,
    }))
    .into_response())
}

//! `POST /api/v1/login/`: a user token (`Authorization: token USER:SECRET`, as
//! `baton-api tokens create` prints it) for a bearer token that expires.
//!
//! Attempts are counted per user and per client address in a fixed window; past either
//! limit the answer is 429 with `Retry-After`, before any secret is looked at. A token naming
//! an unknown user is checked against a decoy secret, so unknown and known users take the
//! same work and the same time.

use common::store::apikeys::parse_user_token;
use serde_json::json;
use subtle::ConstantTimeEq;
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
    throttle(state, request, user).await?;
    let found = state.store.api_key_secret(&state.master_key, user).await?;
    let policy = &state.reports.login;
    let (revoked, expected) = match &found {
        Some((key, expected)) => (key.revoked_ms.is_some(), expected.clone()),
        None => (
            true,
            state
                .master_key
                .open(&policy.decoy, b"\0login-decoy")
                .unwrap_or_default(),
        ),
    };
    let matches = bool::from(expected.ct_eq(secret.as_bytes()));
    let Some((key, _)) = found.filter(|_| matches && !revoked) else {
        return Err(invalid());
    };
    let ttl = state.reports.token_ttl_secs;
    let access_token = state.store.issue_bearer_token(&key.id, ttl).await?;
    Ok(warp::reply::json(&json!({
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": ttl,
    }))
    .into_response())
}

/// Counts the attempt; refuses it (429) when its user or its address is over the limit.
async fn throttle(state: &AppState, request: &RequestParts, user: &str) -> Result<(), ApiError> {
    let policy = &state.reports.login;
    let address = request
        .remote
        .map_or_else(|| "unknown".to_owned(), |remote| remote.ip().to_string());
    let attempts = state
        .store
        .count_login_attempt(user, &address, policy.window_ms)
        .await?;
    if attempts.by_user > policy.per_user || attempts.from_address > policy.per_address {
        tracing::warn!(user, address, "login throttled");
        return Err(ApiError::TooManyRequests(
            attempts.retry_after_ms.div_ceil(1000).max(1),
        ));
    }
    Ok(())
}

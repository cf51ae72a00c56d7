//! Checking a key's secret presented as it is (OrderlyWeb's user tokens, the console's sign-in
//! form), rather than proven by a signature.
//!
//! Attempts are counted per user and per client address in a fixed window; past either limit
//! the answer is 429 with `Retry-After`, before any secret is looked at. A user that does not
//! exist is checked against a decoy secret, so unknown and known users take the same work and
//! the same time, and the comparison is constant-time.

use common::auth::api_key::ApiKey;
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::state::AppState;

/// The key `user` when `secret` is its secret and it is not revoked; 401 otherwise (the same
/// answer for every reason), 429 past the attempt limits.
pub async fn check_secret(
    state: &AppState,
    remote: Option<std::net::SocketAddr>,
    user: &str,
    secret: &str,
) -> Result<ApiKey, ApiError> {
    throttle(state, remote, user).await?;
    let invalid = || ApiError::Unauthorized("the key id or secret is wrong".into());
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
    found
        .filter(|_| matches && !revoked)
        .map(|(key, _)| key)
        .ok_or_else(invalid)
}

/// Counts the attempt; refuses it (429) when its user or its address is over the limit.
async fn throttle(
    state: &AppState,
    remote: Option<std::net::SocketAddr>,
    user: &str,
) -> Result<(), ApiError> {
    let policy = &state.reports.login;
    let address = remote.map_or_else(|| "unknown".to_owned(), |remote| remote.ip().to_string());
    let attempts = state
        .store
        .count_login_attempt(user, &address, policy.window_ms)
        .await?;
    if attempts.by_user > policy.per_user || attempts.from_address > policy.per_address {
        tracing::warn!(user, address, "sign-in throttled");
        return Err(ApiError::TooManyRequests(
            attempts.retry_after_ms.div_ceil(1000).max(1),
        ));
    }
    Ok(())
}

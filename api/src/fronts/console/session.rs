//! Console sessions as the browser holds them: the cookie (`HttpOnly`, `SameSite=Strict`,
//! `Secure` behind https), the caller a cookie stands for (its key checked on every request,
//! so a revoked key's sessions end at once) and the CSRF check of every state-changing form.

use common::auth::api_key::ApiKey;
use subtle::ConstantTimeEq;
use warp::http::{HeaderMap, header};

use crate::auth::{Caller, Credential};
use crate::error::ApiError;
use crate::request::{RequestHead, RequestParts};
use crate::state::AppState;

/// The session cookie's name.
pub const COOKIE_NAME: &str = "baton_session";

/// The name of the form field carrying the CSRF token.
pub const CSRF_FIELD: &str = "csrf";

/// The session cookie a request carries, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty() && value.len() <= 128)
}

/// The caller a request's session cookie stands for: 401 (sent on to the sign-in page) when
/// there is no cookie, the session has ended, or its key is gone or revoked.
pub async fn session_caller(state: &AppState, head: &RequestHead) -> Result<Caller, ApiError> {
    let signed_out = || ApiError::Unauthorized("sign in to use the console".into());
    let cookie = session_cookie(&head.headers).ok_or_else(signed_out)?;
    let session = state.store.session(&cookie).await?.ok_or_else(signed_out)?;
    let key: ApiKey = state
        .store
        .api_key(&session.key_id)
        .await?
        .ok_or_else(signed_out)?;
    if key.revoked_ms.is_some() {
        state.store.end_session(&cookie).await?;
        return Err(signed_out());
    }
    Ok(Caller {
        key,
        credential: Credential::Session,
        session: Some(session),
    })
}

/// The `Set-Cookie` value that hands a new session to the browser.
pub fn session_set_cookie(cookie: &str, ttl_secs: u64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{COOKIE_NAME}={cookie}; Path=/ui; Max-Age={ttl_secs}; HttpOnly; SameSite=Strict{secure}"
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn session_clear_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE_NAME}=; Path=/ui; Max-Age=0; HttpOnly; SameSite=Strict{secure}")
}

/// Refuses a state-changing request whose form does not carry its session's CSRF token, or
/// that comes from another origin.
pub fn check_csrf(request: &RequestParts, form: &super::form::Form) -> Result<(), ApiError> {
    let forged =
        |why: &str| ApiError::Forbidden(format!("refused: {why}; reload the page and try again"));
    if let Some(origin) = request.headers.get(header::ORIGIN) {
        let host = request
            .headers
            .get(header::HOST)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        let origin = origin.to_str().unwrap_or_default();
        let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
        if origin_host != host {
            return Err(forged("the form was sent from another site"));
        }
    }
    let expected = request
        .caller
        .as_ref()
        .and_then(|caller| caller.session.as_ref())
        .map(|session| session.csrf_token.as_bytes())
        .ok_or_else(|| forged("no session"))?;
    let sent = form.get(CSRF_FIELD).unwrap_or_default();
    if sent.is_empty() || !bool::from(expected.ct_eq(sent.as_bytes())) {
        return Err(forged("the form's CSRF token is missing or wrong"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use warp::http::HeaderValue;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; baton_session=abc123 ; other=1"),
        );
        assert_eq!(session_cookie(&headers).as_deref(), Some("abc123"));
        headers.insert(header::COOKIE, HeaderValue::from_static("baton_session="));
        assert_eq!(session_cookie(&headers), None);
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_behind_https() {
        let cookie = session_set_cookie("tok", 60, true);
        for part in [
            "HttpOnly",
            "SameSite=Strict",
            "Secure",
            "Max-Age=60",
            "Path=/ui",
        ] {
            assert!(cookie.contains(part), "{cookie}");
        }
        assert!(!session_set_cookie("tok", 60, false).contains("Secure"));
    }
}

//! Signing in (a key id and secret, or a `KEY:SECRET` user token, checked as the reports
//! front's login checks them: throttled, constant-time) and out.

use askama::Template;
use common::auth::api_key::parse_user_token;
use warp::http::{HeaderValue, StatusCode, header};

use super::assets::url_of;
use super::form::Form;
use super::html::{page_with_status, see_other};
use super::session::{session_clear_cookie, session_cookie, session_set_cookie};
use crate::error::ApiError;
use crate::request::RequestParts;
use crate::state::AppState;

/// The sign-in page.
#[derive(Template)]
#[template(path = "console/login.html")]
struct SignInPage {
    css_url: &'static str,
    error: Option<String>,
    key_id: String,
    next: String,
}

/// Where to go after signing in: a console page named by `next`, never another site.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(next)
            if next.starts_with("/ui/")
                && !next.starts_with("//")
                && !next.contains('\\')
                && !next.contains("://") =>
        {
            next.to_owned()
        }
        _ => "/ui/".to_owned(),
    }
}

/// `GET /ui/login`: the form.
pub fn page(request: &RequestParts) -> Result<warp::reply::Response, ApiError> {
    let query = Form::query(&request.path_and_query);
    page_with_status(
        &SignInPage {
            css_url: url_of("console.css"),
            error: None,
            key_id: String::new(),
            next: safe_next(query.get("next")),
        },
        StatusCode::OK,
    )
}

/// `POST /ui/login`: begins a session and sends the browser on; a wrong id or secret shows
/// the form again with one message for every reason (401).
pub async fn sign_in(
    state: &AppState,
    request: &RequestParts,
) -> Result<warp::reply::Response, ApiError> {
    let form = Form::parse(&request.body)?;
    let next = safe_next(form.get("next"));
    let typed_id = form.text("key_id").unwrap_or_default().to_owned();
    let secret = form.get("secret").unwrap_or_default().trim().to_owned();
    let (key_id, secret) = if typed_id.is_empty() {
        match parse_user_token(&secret) {
            Some((id, secret)) => (id.to_owned(), secret.to_owned()),
            None => (String::new(), secret),
        }
    } else {
        (typed_id.clone(), secret)
    };
    let refused = |message: &str, status: StatusCode| {
        page_with_status(
            &SignInPage {
                css_url: url_of("console.css"),
                error: Some(message.to_owned()),
                key_id: typed_id.clone(),
                next: next.clone(),
            },
            status,
        )
    };
    if key_id.is_empty() || secret.is_empty() {
        return refused(
            "Enter a key id and its secret, or a user token.",
            StatusCode::UNAUTHORIZED,
        );
    }
    let key = match crate::credentials::check_secret(state, request.remote, &key_id, &secret).await
    {
        Ok(key) => key,
        Err(ApiError::Unauthorized(_)) => {
            return refused("The key id or secret is wrong.", StatusCode::UNAUTHORIZED);
        }
        Err(ApiError::TooManyRequests(secs)) => {
            return refused(
                &format!("Too many attempts: try again in {secs} s."),
                StatusCode::TOO_MANY_REQUESTS,
            );
        }
        Err(other) => return Err(other),
    };
    let ttl = state.console.session_ttl_secs;
    let begun = state.store.begin_session(&key.id, ttl).await?;
    tracing::info!(key = %key.id, "console sign-in");
    let mut response = see_other(&next);
    if let Ok(cookie) = HeaderValue::from_str(&session_set_cookie(
        &begun.cookie,
        ttl,
        state.console.secure_cookies,
    )) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// `POST /ui/logout`: ends the session and clears its cookie.
pub async fn sign_out(
    state: &AppState,
    request: &RequestParts,
) -> Result<warp::reply::Response, ApiError> {
    if let Some(cookie) = session_cookie(&request.headers) {
        state.store.end_session(&cookie).await?;
    }
    let mut response = see_other("/ui/login");
    if let Ok(cookie) = HeaderValue::from_str(&session_clear_cookie(state.console.secure_cookies)) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_never_leaves_the_console() {
        assert_eq!(
            safe_next(Some("/ui/runs?status=error")),
            "/ui/runs?status=error"
        );
        for bad in [
            "//evil.example/ui/",
            "https://evil.example/",
            "/api/workflows",
            "/ui\\x",
        ] {
            assert_eq!(safe_next(Some(bad)), "/ui/", "{bad}");
        }
        assert_eq!(safe_next(None), "/ui/");
    }
}

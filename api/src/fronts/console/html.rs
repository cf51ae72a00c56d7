//! What every console page shares: the layout's data ([`Chrome`]), rendering a template into a
//! response with the console's security headers, redirects, and the error page.

use askama::Template;
use common::auth::permissions::Permission;
use warp::Reply;
use warp::http::{HeaderValue, StatusCode, header};

use super::assets::url_of;
use crate::auth::Caller;
use crate::error::ApiError;

/// The console's Content-Security-Policy: scripts and styles from the console's own files
/// only (no inline script or style), no framing, forms posted only back to the console.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// The layout around every signed-in page: title, navigation, who is signed in, the CSRF
/// token its forms carry, and what the key may do (so buttons it cannot use are not shown).
#[derive(Debug, Clone)]
pub struct Chrome {
    /// The page's title.
    pub title: String,
    /// The navigation entry the page belongs to.
    pub nav: &'static str,
    /// The signed-in key.
    pub key_id: String,
    /// The session's CSRF token, carried by every form.
    pub csrf: String,
    /// May read workflows, queues and workers.
    pub can_read: bool,
    /// May start, relaunch and cancel workflows.
    pub can_run: bool,
    /// May manage queues and keys.
    pub is_admin: bool,
    /// May read reports (the reports portal).
    pub can_reports: bool,
    /// May read releases and task services.
    pub can_releases: bool,
    /// May read projects.
    pub can_projects: bool,
    /// May work on projects' human tasks (the work page).
    pub can_work: bool,
    /// May review projects' human tasks (the review pages).
    pub can_review: bool,
    /// A message about the action just done, if any.
    pub notice: Option<String>,
    /// URL of the stylesheet.
    pub css_url: &'static str,
    /// URL of the console's script.
    pub js_url: &'static str,
    /// URL of htmx.
    pub htmx_url: &'static str,
}

impl Chrome {
    /// The layout of a page titled `title` under `nav`, for `caller`.
    pub fn new(caller: &Caller, title: impl Into<String>, nav: &'static str) -> Self {
        Self {
            title: title.into(),
            nav,
            key_id: caller.key.id.clone(),
            csrf: caller
                .session
                .as_ref()
                .map(|session| session.csrf_token.clone())
                .unwrap_or_default(),
            can_read: caller.may(Permission::WorkflowsRead),
            can_run: caller.may(Permission::WorkflowsRun),
            is_admin: caller.may(Permission::Admin),
            can_reports: super::reports::reads_some_report(&caller.key),
            can_releases: caller.may(Permission::ReleasesRead),
            can_projects: caller.may(Permission::ProjectsRead),
            can_work: caller.may(Permission::ProjectsWork),
            can_review: caller.may(Permission::ProjectsReview),
            notice: None,
            css_url: url_of("console.css"),
            js_url: url_of("console.js"),
            htmx_url: url_of("htmx.min.js"),
        }
    }

    /// The URL of the console's static file `name` (`reports.css`), for a page's own files.
    pub fn asset(&self, name: &str) -> &'static str {
        url_of(name)
    }

    /// The same layout with a notice shown above the page.
    pub fn with_notice(mut self, notice: Option<String>) -> Self {
        self.notice = notice;
        self
    }
}

/// The first page a caller may see: the overview for those who may read workflows, else the
/// first section their key opens (`None` for a key that opens none).
pub fn home_of(caller: &Caller) -> Option<&'static str> {
    [
        (Permission::WorkflowsRead, "/ui/"),
        (Permission::ReportsRead, "/ui/reports"),
        (Permission::ReleasesRead, "/ui/releases"),
        (Permission::ProjectsWork, "/ui/work"),
        (Permission::ProjectsReview, "/ui/reviews"),
        (Permission::ProjectsRead, "/ui/projects"),
    ]
    .into_iter()
    .find(|(permission, _)| match permission {
        Permission::ReportsRead => super::reports::reads_some_report(&caller.key),
        _ => caller.may(*permission),
    })
    .map(|(_, home)| home)
}

/// Adds the console's security headers to a response.
pub fn secure(mut response: warp::reply::Response) -> warp::reply::Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Renders a template as an HTML page with `status`.
pub fn page_with_status(
    template: &impl Template,
    status: StatusCode,
) -> Result<warp::reply::Response, ApiError> {
    let body = template.render().map_err(|error| {
        tracing::error!(cause = %error, "a console template failed to render");
        ApiError::Unavailable("the page could not be rendered".into())
    })?;
    let response = warp::reply::with_status(warp::reply::html(body), status).into_response();
    Ok(secure(response))
}

/// Renders a template as an HTML page.
pub fn page(template: &impl Template) -> Result<warp::reply::Response, ApiError> {
    page_with_status(template, StatusCode::OK)
}

/// HTTP 286: htmx stops polling an element answered with it (a finished run's live parts).
pub const STOP_POLLING: u16 = 286;

/// Renders a fragment that htmx should stop polling once swapped in.
pub fn final_fragment(template: &impl Template) -> Result<warp::reply::Response, ApiError> {
    page_with_status(
        template,
        StatusCode::from_u16(STOP_POLLING).unwrap_or(StatusCode::OK),
    )
}

/// A `303 See Other` to `location` (after a form, so reloading does not post it again).
pub fn see_other(location: &str) -> warp::reply::Response {
    let mut response = warp::reply::Response::default();
    *response.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    secure(response)
}

/// The error page.
#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage<'a> {
    status: u16,
    reason: &'a str,
    message: String,
    css_url: &'static str,
}

/// An error as the console shows it: a request without a live session goes to the sign-in
/// page; anything else is a page naming the status and what went wrong.
pub fn error_page(error: &ApiError) -> warp::reply::Response {
    if let ApiError::Unauthorized(_) = error {
        return see_other("/ui/login");
    }
    let status = error.status();
    let mut message = error.to_string();
    if let ApiError::BadRequest { details, .. } = error
        && !details.is_empty()
    {
        message = format!("{message}: {}", details.join("; "));
    }
    let page = ErrorPage {
        status: status.as_u16(),
        reason: status.canonical_reason().unwrap_or("Error"),
        message,
        css_url: url_of("console.css"),
    };
    match page_with_status(&page, status) {
        Ok(response) => response,
        Err(_) => secure(warp::reply::with_status(error.to_string(), status).into_response()),
    }
}

/// A time of day (UTC), `HH:MM:SS`.
pub fn clock(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .map(|time| time.format("%H:%M:%S").to_string())
        .unwrap_or_default()
}

/// A date and time (UTC), `YYYY-MM-DD HH:MM:SS`.
pub fn datetime(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .map(|time| time.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// A duration as people read it: `850 ms`, `12.4 s`, `3 min 5 s`, `2 h 10 min`.
pub fn duration(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{} min {} s", ms / 60_000, ms % 60_000 / 1000),
        _ => format!("{} h {} min", ms / 3_600_000, ms % 3_600_000 / 60_000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_durations_read_as_people_write_them() {
        assert_eq!(clock(1_764_618_129_000), "19:42:09");
        assert_eq!(datetime(0), "1970-01-01 00:00:00");
        assert_eq!(duration(850), "850 ms");
        assert_eq!(duration(12_400), "12.4 s");
        assert_eq!(duration(185_000), "3 min 5 s");
        assert_eq!(duration(7_800_000), "2 h 10 min");
    }

    #[test]
    fn an_unauthenticated_page_request_goes_to_sign_in_and_errors_are_pages() {
        let response = error_page(&ApiError::Unauthorized("x".into()));
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(response.headers()[header::LOCATION], "/ui/login");
        let response = error_page(&ApiError::Forbidden("key 'k' lacks".into()));
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(response.headers()[header::X_FRAME_OPTIONS], "DENY");
        assert!(
            response.headers()[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("script-src 'self'")
        );
    }
}

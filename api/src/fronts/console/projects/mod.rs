//! The console's Projects pages.

pub mod route;

use askama::Template;

pub use route::ProjectsRoute;

use super::form::Form;
use super::html::{Chrome, page};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::request::RequestParts;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "console/projects/index.html")]
struct IndexPage {
    chrome: Chrome,
}

/// Renders a page of the section (a GET).
pub async fn show(
    _state: &AppState,
    caller: &Caller,
    _request: &RequestParts,
    route: ProjectsRoute,
) -> Result<warp::reply::Response, ApiError> {
    match route {
        ProjectsRoute::Index => page(&IndexPage {
            chrome: Chrome::new(caller, "Projects", "projects"),
        }),
    }
}

/// Does what a form of the section asks (a POST whose CSRF token was checked).
pub async fn act(
    _state: &AppState,
    _caller: &Caller,
    _route: ProjectsRoute,
    _form: Form,
) -> Result<warp::reply::Response, ApiError> {
    Err(ApiError::NotFound("no such action".into()))
}

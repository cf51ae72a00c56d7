//! The console's Releases pages, for release managers: the releases (newest first, with
//! their progress) and a form to start one, a release's page (its tasks, events and notes,
//! live, with Publish and Cancel), and the task services (health, registering, enabling and
//! disabling). Reading takes `releases.read`; every change takes `releases.write` and goes
//! through the releases front's own functions, so the console checks and records exactly
//! what `POST /releases`, `/publish`, `DELETE /releases/<id>`, `POST /task-services` and
//! `PATCH /task-services/<id>` do.
//!
//! - [`route`]: the section's paths.
//! - [`list`]: the releases and the new release form.
//! - [`release`]: a release's page and its buttons.
//! - [`services`]: the task services.
//! - [`progress`]: progress and health as the pages show them.

pub mod list;
pub mod progress;
pub mod release;
pub mod route;
pub mod services;

use common::auth::permissions::Permission;

pub use route::ReleasesRoute;

use super::form::Form;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::request::RequestParts;
use crate::state::AppState;

/// Renders a page of the section (a GET).
pub async fn show(
    state: &AppState,
    caller: &Caller,
    request: &RequestParts,
    route: ReleasesRoute,
) -> Result<warp::reply::Response, ApiError> {
    use ReleasesRoute as R;
    let query = Form::query(&request.path_and_query);
    match route {
        R::Index => list::list(state, caller, &query).await,
        R::IndexLive => list::live(state, &query).await,
        R::Release(id) => release::page_of_release(state, caller, &id, &query).await,
        R::ReleaseLive(id) => release::live(state, caller, &id).await,
        R::Services => services::list(state, caller, &query).await,
        R::ServicesLive => services::live(state, caller).await,
        _ => Err(ApiError::NotFound("no such page".into())),
    }
}

/// Does what a form of the section asks (a POST whose CSRF token was checked, by a key
/// holding `releases.write`).
pub async fn act(
    state: &AppState,
    caller: &Caller,
    route: ReleasesRoute,
    form: Form,
) -> Result<warp::reply::Response, ApiError> {
    use ReleasesRoute as R;
    // The router checked the route's permission; a change is refused here too should a
    // route ever be routed with less.
    if !can_write(caller) {
        return Err(ApiError::Forbidden(format!(
            "key '{}' lacks the 'releases.write' permission",
            caller.key.id
        )));
    }
    match route {
        R::CreateRelease => list::create(state, caller, &form).await,
        R::Publish(id) => release::publish(state, caller, &id).await,
        R::Cancel(id) => release::cancel(state, caller, &id).await,
        R::RegisterService => services::create(state, caller, &form).await,
        R::EnableService(id) => services::set_enabled(state, &id, true).await,
        R::DisableService(id) => services::set_enabled(state, &id, false).await,
        _ => Err(ApiError::NotFound("no such action".into())),
    }
}

/// True when `caller` may change releases and task services (so their buttons are shown).
fn can_write(caller: &Caller) -> bool {
    caller.may(Permission::ReleasesWrite)
}

/// The CSRF token the forms of `caller`'s session carry.
fn csrf_of(caller: &Caller) -> String {
    caller
        .session
        .as_ref()
        .map(|session| session.csrf_token.clone())
        .unwrap_or_default()
}

/// The notice for `?done=` after an action of the section (a fixed set, so no text comes
/// from the URL).
fn notice(query: &Form) -> Option<String> {
    let text = match query.get("done")? {
        "created" => "The release is started: its tasks are being initialized.",
        "publishing" => "Publishing: each task service is publishing its part.",
        "canceling" => "Canceling: each task service is asked to cancel its task.",
        "enabled" => "The task service is enabled: new releases get a task for it.",
        "disabled" => "The task service is disabled: new releases get no task for it.",
        _ => return None,
    };
    Some(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_come_from_a_fixed_set() {
        assert!(
            notice(&Form::query("/ui/releases/RE_X?done=publishing"))
                .unwrap()
                .starts_with("Publishing")
        );
        assert_eq!(notice(&Form::query("/ui/services?done=<script>")), None);
        assert_eq!(notice(&Form::query("/ui/services")), None);
    }
}

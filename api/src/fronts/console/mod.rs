//! The web console, served under `/ui/` (`/` leads there): server-rendered pages (askama
//! templates, escaped by default) for operators, with live parts polled by htmx and charts and
//! DAGs drawn as SVG. Its handlers are a front like the others: they read and change state
//! through the same `common` operations as the API.
//!
//! Signing in with a key's id and secret begins a session ([`session`]); every page checks the
//! key's permission (a missing one is a 403 page, and the buttons it cannot use are not shown)
//! and every state-changing form carries the session's CSRF token. Pages are sent with a
//! Content-Security-Policy that allows no inline script.
//!
//! - [`route`]: the console's paths, their patterns and what each needs.
//! - [`session`]: the session cookie and the CSRF check.
//! - [`sign_in`]: the sign-in page, signing in and out.
//! - [`overview`], [`queues`], [`workers`], [`runs`], [`workflows`], [`schedules`], [`keys`]:
//!   the operators' pages.
//! - [`reports`], [`releases`], [`projects`]: the sections for report readers, reviewers and
//!   runners, release managers, and the people doing projects' human steps, each with its own
//!   routes ([`section`]).
//! - [`chart`], [`dag`]: SVG drawings.
//! - [`html`], [`assets`], [`form`]: rendering, static files, forms.

pub mod assets;
pub mod chart;
pub mod dag;
pub mod form;
pub mod html;
pub mod keys;
pub mod overview;
pub mod projects;
pub mod queues;
pub mod releases;
pub mod reports;
pub mod route;
pub mod runs;
pub mod schedules;
pub mod schema_form;
pub mod section;
pub mod session;
pub mod sign_in;
pub mod workers;
pub mod workflows;

use warp::Filter;

pub use html::error_page;
use route::ConsoleRoute;

use super::routed;
use crate::auth::{Caller, authenticate};
use crate::error::{ApiError, Front};
use crate::request::RequestParts;
use crate::state::AppState;

/// Every route of the console: `/` and everything under `/ui`.
pub fn routes(
    state: AppState,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    let root = warp::path::end()
        .and(warp::get().or(warp::head()).unify())
        .map(|| html::see_other("/ui/"));
    let console = routed(
        warp::path("ui"),
        &state,
        Front::Console,
        |state, request, route| Box::pin(dispatch(state, request, route)),
    );
    root.or(console).unify()
}

async fn dispatch(
    state: AppState,
    request: RequestParts,
    route: ConsoleRoute,
) -> Result<warp::reply::Response, ApiError> {
    use ConsoleRoute as R;
    if route == R::Overview {
        // The landing page: a key that may not read workflows goes to a section it may use.
        let caller = authenticate(&state, &request).await?;
        if !caller.may(common::auth::permissions::Permission::WorkflowsRead)
            && let Some(home) = html::home_of(&caller)
        {
            return Ok(html::see_other(home));
        }
    }
    if let Some(permission) = route.permission() {
        let caller = authenticate(&state, &request).await?;
        if !route.admits(&caller) {
            return Err(ApiError::Forbidden(format!(
                "key '{}' lacks the '{}' permission",
                caller.key.id,
                permission.as_str()
            )));
        }
        if route.changes_state() {
            let form = form::Form::parse(&request.body)?;
            session::check_csrf(&request, &form)?;
            return act(&state, &caller, route, form).await;
        }
        return show(&state, &caller, &request, route).await;
    }
    match route {
        R::Asset(path) => assets::find(&path)
            .map(assets::response)
            .ok_or_else(|| ApiError::NotFound("no such file".into())),
        R::SignInPage => sign_in::page(&request),
        R::SignIn => sign_in::sign_in(&state, &request).await,
        R::SignOut => {
            session::check_csrf(&request, &form::Form::parse(&request.body)?)?;
            sign_in::sign_out(&state, &request).await
        }
        _ => Err(ApiError::NotFound("no such page".into())),
    }
}

/// Renders a page (a GET).
async fn show(
    state: &AppState,
    caller: &Caller,
    request: &RequestParts,
    route: ConsoleRoute,
) -> Result<warp::reply::Response, ApiError> {
    use ConsoleRoute as R;
    let query = form::Form::query(&request.path_and_query);
    match route {
        R::Overview => overview::page_of_overview(state, caller, &query).await,
        R::OverviewLive => overview::live(state).await,
        R::Queues => queues::list(state, caller, &query).await,
        R::Queue(name) => queues::page_of_queue(state, caller, &name, &query).await,
        R::QueueLive(name) => queues::live(state, caller, &name).await,
        R::Workers => workers::page_of_workers(state, caller).await,
        R::WorkersLive => workers::live(state).await,
        R::Runs => runs::list(state, caller, &query).await,
        R::Run(id) => runs::page_of_run(state, caller, &id, &query).await,
        R::RunLive(id) => runs::live(state, caller, &id).await,
        R::RunLog(id) => runs::log(state, &id, &query).await,
        R::Workflows => workflows::list(state, caller).await,
        R::Workflow(name) => workflows::page_of_workflow(state, caller, &name).await,
        R::Schedules => schedules::page_of_schedules(state, caller).await,
        R::Keys => keys::page_of_keys(state, caller, &query).await,
        R::Reports(route) => reports::show(state, caller, request, route).await,
        R::Releases(route) => releases::show(state, caller, request, route).await,
        R::Projects(route) => projects::show(state, caller, request, route).await,
        _ => Err(ApiError::NotFound("no such page".into())),
    }
}

/// Does what a form asks (a POST whose CSRF token was checked).
async fn act(
    state: &AppState,
    caller: &Caller,
    route: ConsoleRoute,
    form: form::Form,
) -> Result<warp::reply::Response, ApiError> {
    use ConsoleRoute as R;
    match route {
        R::PauseQueue(name) => queues::pause(state, &name, true).await,
        R::ResumeQueue(name) => queues::pause(state, &name, false).await,
        R::RequeueDead(name, id) => queues::requeue(state, &name, Some(&id)).await,
        R::RequeueAllDead(name) => queues::requeue(state, &name, None).await,
        R::DeleteDead(name, id) => queues::delete(state, &name, Some(&id)).await,
        R::DeleteAllDead(name) => queues::delete(state, &name, None).await,
        R::CancelRun(id) => runs::cancel(state, &id).await,
        R::RelaunchRun(id) => runs::relaunch(state, &id).await,
        R::StartWorkflow(name) => workflows::start(state, caller, &name, &form).await,
        R::CreateKey => keys::create(state, caller, &form).await,
        R::RevokeKey(id) => keys::revoke(state, &id).await,
        R::Reports(route) => reports::act(state, caller, route, form).await,
        R::Releases(route) => releases::act(state, caller, route, form).await,
        R::Projects(route) => projects::act(state, caller, route, form).await,
        _ => Err(ApiError::NotFound("no such action".into())),
    }
}

/// The notice for `?done=` after an action (a fixed set, so no text comes from the URL).
fn notice(query: &form::Form) -> Option<String> {
    let text = match query.get("done")? {
        "paused" => "The queue is paused: workers take no new job from it.",
        "resumed" => "The queue is resumed.",
        "requeued" => "Requeued.",
        "deleted" => "Deleted.",
        "canceled" => "The run is canceled.",
        "revoked" => "The key is revoked; its sessions have ended.",
        _ => return None,
    };
    Some(text.to_owned())
}

//! The console's paths: each parsed into a [`ConsoleRoute`] naming its pattern (for logs and
//! metrics), what it asks of the caller before the body is read, and the permission it needs.

use common::auth::permissions::Permission;
use percent_encoding::percent_decode_str;
use warp::http::Method;

use super::projects::ProjectsRoute;
use super::releases::ReleasesRoute;
use super::reports::ReportsRoute;
use super::section::SectionRoute;
use crate::auth::{Caller, Guard};
use crate::fronts::{FrontRoute, NoRoute};

/// A console route, with its path's parameters decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsoleRoute {
    /// `GET /ui/static/{file}`: a static file.
    Asset(String),
    /// `GET /ui/login`.
    SignInPage,
    /// `POST /ui/login`.
    SignIn,
    /// `POST /ui/logout`.
    SignOut,
    /// `GET /ui/`.
    Overview,
    /// `GET /ui/live/overview`.
    OverviewLive,
    /// `GET /ui/queues`.
    Queues,
    /// `GET /ui/queues/{queue}`.
    Queue(String),
    /// `GET /ui/queues/{queue}/live`.
    QueueLive(String),
    /// `POST /ui/queues/{queue}/pause`.
    PauseQueue(String),
    /// `POST /ui/queues/{queue}/resume`.
    ResumeQueue(String),
    /// `POST /ui/queues/{queue}/dead/{entry}/requeue`.
    RequeueDead(String, String),
    /// `POST /ui/queues/{queue}/dead/{entry}/delete`.
    DeleteDead(String, String),
    /// `POST /ui/queues/{queue}/dead/requeue`.
    RequeueAllDead(String),
    /// `POST /ui/queues/{queue}/dead/delete`.
    DeleteAllDead(String),
    /// `GET /ui/workers`.
    Workers,
    /// `GET /ui/live/workers`.
    WorkersLive,
    /// `GET /ui/runs`.
    Runs,
    /// `GET /ui/runs/{id}`.
    Run(String),
    /// `GET /ui/runs/{id}/live`.
    RunLive(String),
    /// `GET /ui/runs/{id}/log`.
    RunLog(String),
    /// `POST /ui/runs/{id}/cancel`.
    CancelRun(String),
    /// `POST /ui/runs/{id}/relaunch`.
    RelaunchRun(String),
    /// `GET /ui/workflows`.
    Workflows,
    /// `GET /ui/workflows/{name}`.
    Workflow(String),
    /// `POST /ui/workflows/{name}/start`.
    StartWorkflow(String),
    /// `GET /ui/schedules`.
    Schedules,
    /// `GET /ui/keys`.
    Keys,
    /// `POST /ui/keys`.
    CreateKey,
    /// `POST /ui/keys/{id}/revoke`.
    RevokeKey(String),
    /// `/ui/reports/...`: the reports portal.
    Reports(ReportsRoute),
    /// `/ui/releases/...`, `/ui/services/...`: releases and task services.
    Releases(ReleasesRoute),
    /// `/ui/projects/...`, `/ui/work/...`: projects and the work page.
    Projects(ProjectsRoute),
}

/// A path segment, percent-decoded; `None` when empty, too long, not UTF-8 or holding `/`.
pub fn decoded(segment: &str) -> Option<String> {
    percent_decode_str(segment)
        .decode_utf8()
        .ok()
        .map(|text| text.into_owned())
        .filter(|text| !text.is_empty() && text.len() <= 256 && !text.contains('/'))
}

impl ConsoleRoute {
    fn from_segments(method: &Method, segments: &[&str]) -> Result<Self, NoRoute> {
        use ConsoleRoute as R;
        if let Some(route) = ReportsRoute::parse(method, segments)? {
            return Ok(R::Reports(route));
        }
        if let Some(route) = ReleasesRoute::parse(method, segments)? {
            return Ok(R::Releases(route));
        }
        if let Some(route) = ProjectsRoute::parse(method, segments)? {
            return Ok(R::Projects(route));
        }
        let get = *method == Method::GET || *method == Method::HEAD;
        let post = *method == Method::POST;
        let param = |index: usize| decoded(segments[index]).ok_or(NoRoute::NotFound);
        let (route, is_post) = match segments {
            [] | [""] => (R::Overview, false),
            ["static", file] => (R::Asset(format!("/ui/static/{file}")), false),
            ["login"] if post => (R::SignIn, true),
            ["login"] => (R::SignInPage, false),
            ["logout"] => (R::SignOut, true),
            ["live", "overview"] => (R::OverviewLive, false),
            ["live", "workers"] => (R::WorkersLive, false),
            ["queues"] => (R::Queues, false),
            ["queues", _] => (R::Queue(param(1)?), false),
            ["queues", _, "live"] => (R::QueueLive(param(1)?), false),
            ["queues", _, "pause"] => (R::PauseQueue(param(1)?), true),
            ["queues", _, "resume"] => (R::ResumeQueue(param(1)?), true),
            ["queues", _, "dead", "requeue"] => (R::RequeueAllDead(param(1)?), true),
            ["queues", _, "dead", "delete"] => (R::DeleteAllDead(param(1)?), true),
            ["queues", _, "dead", _, "requeue"] => (R::RequeueDead(param(1)?, param(3)?), true),
            ["queues", _, "dead", _, "delete"] => (R::DeleteDead(param(1)?, param(3)?), true),
            ["workers"] => (R::Workers, false),
            ["runs"] => (R::Runs, false),
            ["runs", _] => (R::Run(param(1)?), false),
            ["runs", _, "live"] => (R::RunLive(param(1)?), false),
            ["runs", _, "log"] => (R::RunLog(param(1)?), false),
            ["runs", _, "cancel"] => (R::CancelRun(param(1)?), true),
            ["runs", _, "relaunch"] => (R::RelaunchRun(param(1)?), true),
            ["workflows"] => (R::Workflows, false),
            ["workflows", _] => (R::Workflow(param(1)?), false),
            ["workflows", _, "start"] => (R::StartWorkflow(param(1)?), true),
            ["schedules"] => (R::Schedules, false),
            ["keys"] if post => (R::CreateKey, true),
            ["keys"] => (R::Keys, false),
            ["keys", _, "revoke"] => (R::RevokeKey(param(1)?), true),
            _ => return Err(NoRoute::NotFound),
        };
        if (is_post && !post) || (!is_post && !get) {
            return Err(NoRoute::MethodNotAllowed);
        }
        Ok(route)
    }

    /// The permission the route needs; `None` for the routes open to everyone (sign-in,
    /// static files) and signing out (any session).
    pub fn permission(&self) -> Option<Permission> {
        use ConsoleRoute as R;
        match self {
            R::Asset(_) | R::SignInPage | R::SignIn | R::SignOut => None,
            R::Reports(route) => Some(route.permission()),
            R::Releases(route) => Some(route.permission()),
            R::Projects(route) => Some(route.permission()),
            R::PauseQueue(_)
            | R::ResumeQueue(_)
            | R::RequeueDead(..)
            | R::DeleteDead(..)
            | R::RequeueAllDead(_)
            | R::DeleteAllDead(_)
            | R::Keys
            | R::CreateKey
            | R::RevokeKey(_) => Some(Permission::Admin),
            R::CancelRun(_) | R::RelaunchRun(_) | R::StartWorkflow(_) => {
                Some(Permission::WorkflowsRun)
            }
            _ => Some(Permission::WorkflowsRead),
        }
    }

    /// True when `caller` may use the route: it holds the route's [`permission`](Self::permission),
    /// or, in a section, what the section admits (see [`SectionRoute::admits`]).
    pub fn admits(&self, caller: &Caller) -> bool {
        use ConsoleRoute as R;
        match self {
            R::Reports(route) => route.admits(&caller.key),
            R::Releases(route) => route.admits(&caller.key),
            R::Projects(route) => route.admits(&caller.key),
            _ => self
                .permission()
                .is_none_or(|permission| caller.may(permission)),
        }
    }

    /// True for the routes that change state (POST forms, which must carry the CSRF token).
    pub fn changes_state(&self) -> bool {
        use ConsoleRoute as R;
        match self {
            R::Reports(route) => return route.changes_state(),
            R::Releases(route) => return route.changes_state(),
            R::Projects(route) => return route.changes_state(),
            _ => {}
        }
        matches!(
            self,
            R::SignIn
                | R::SignOut
                | R::PauseQueue(_)
                | R::ResumeQueue(_)
                | R::RequeueDead(..)
                | R::DeleteDead(..)
                | R::RequeueAllDead(_)
                | R::DeleteAllDead(_)
                | R::CancelRun(_)
                | R::RelaunchRun(_)
                | R::StartWorkflow(_)
                | R::CreateKey
                | R::RevokeKey(_)
        )
    }
}

impl FrontRoute for ConsoleRoute {
    fn parse(method: &Method, path: &str) -> Result<Self, NoRoute> {
        let path = path.split('?').next().unwrap_or_default();
        let rest = path.strip_prefix("/ui").ok_or(NoRoute::NotFound)?;
        if rest.is_empty() {
            // `/ui` itself: the overview, like `/ui/`.
            return Self::from_segments(method, &[]);
        }
        let rest = rest.strip_prefix('/').ok_or(NoRoute::NotFound)?;
        let segments: Vec<&str> = rest.split('/').collect();
        Self::from_segments(method, &segments)
    }

    fn pattern(&self) -> &'static str {
        use ConsoleRoute as R;
        match self {
            R::Asset(_) => "/ui/static/{file}",
            R::SignInPage | R::SignIn => "/ui/login",
            R::SignOut => "/ui/logout",
            R::Overview => "/ui/",
            R::OverviewLive => "/ui/live/overview",
            R::Queues => "/ui/queues",
            R::Queue(_) => "/ui/queues/{queue}",
            R::QueueLive(_) => "/ui/queues/{queue}/live",
            R::PauseQueue(_) => "/ui/queues/{queue}/pause",
            R::ResumeQueue(_) => "/ui/queues/{queue}/resume",
            R::RequeueDead(..) => "/ui/queues/{queue}/dead/{entry}/requeue",
            R::DeleteDead(..) => "/ui/queues/{queue}/dead/{entry}/delete",
            R::RequeueAllDead(_) => "/ui/queues/{queue}/dead/requeue",
            R::DeleteAllDead(_) => "/ui/queues/{queue}/dead/delete",
            R::Workers => "/ui/workers",
            R::WorkersLive => "/ui/live/workers",
            R::Runs => "/ui/runs",
            R::Run(_) => "/ui/runs/{id}",
            R::RunLive(_) => "/ui/runs/{id}/live",
            R::RunLog(_) => "/ui/runs/{id}/log",
            R::CancelRun(_) => "/ui/runs/{id}/cancel",
            R::RelaunchRun(_) => "/ui/runs/{id}/relaunch",
            R::Workflows => "/ui/workflows",
            R::Workflow(_) => "/ui/workflows/{name}",
            R::StartWorkflow(_) => "/ui/workflows/{name}/start",
            R::Schedules => "/ui/schedules",
            R::Keys | R::CreateKey => "/ui/keys",
            R::RevokeKey(_) => "/ui/keys/{id}/revoke",
            R::Reports(route) => route.pattern(),
            R::Releases(route) => route.pattern(),
            R::Projects(route) => route.pattern(),
        }
    }

    fn guard(&self) -> Guard {
        use ConsoleRoute as R;
        match self {
            R::Asset(_) | R::SignInPage => Guard::Public,
            R::SignIn => Guard::Anonymous,
            _ => Guard::Session,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_into_routes_with_decoded_parameters() {
        let get = |path: &str| ConsoleRoute::parse(&Method::GET, path);
        let post = |path: &str| ConsoleRoute::parse(&Method::POST, path);
        assert_eq!(get("/ui/"), Ok(ConsoleRoute::Overview));
        assert_eq!(get("/ui"), Ok(ConsoleRoute::Overview));
        assert_eq!(
            get("/ui/runs/abc?status=error"),
            Ok(ConsoleRoute::Run("abc".into()))
        );
        assert_eq!(
            get("/ui/workflows/example.ETL"),
            Ok(ConsoleRoute::Workflow("example.ETL".into()))
        );
        assert_eq!(
            post("/ui/queues/my%20q/dead/1-0/requeue"),
            Ok(ConsoleRoute::RequeueDead("my q".into(), "1-0".into()))
        );
        assert_eq!(post("/ui/login"), Ok(ConsoleRoute::SignIn));
        assert_eq!(get("/ui/runs/x/cancel"), Err(NoRoute::MethodNotAllowed));
        assert_eq!(post("/ui/runs"), Err(NoRoute::MethodNotAllowed));
        assert_eq!(get("/ui/nothing"), Err(NoRoute::NotFound));
        assert_eq!(get("/ui/runs/%2F"), Err(NoRoute::NotFound));
        assert_eq!(get("/uix"), Err(NoRoute::NotFound));
    }

    #[test]
    fn every_change_is_a_session_route_with_a_permission_or_sign_in() {
        for route in [
            ConsoleRoute::CancelRun("x".into()),
            ConsoleRoute::PauseQueue("q".into()),
            ConsoleRoute::CreateKey,
        ] {
            assert!(route.changes_state());
            assert_eq!(route.guard(), Guard::Session);
            assert!(route.permission().is_some());
        }
        assert_eq!(
            ConsoleRoute::CancelRun("x".into()).permission(),
            Some(Permission::WorkflowsRun)
        );
        assert_eq!(ConsoleRoute::SignIn.guard(), Guard::Anonymous);
    }
}

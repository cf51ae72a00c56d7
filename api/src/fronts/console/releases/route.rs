//! The paths of the console's Releases pages: `/ui/releases...` (releases) and
//! `/ui/services...` (task services).

use common::auth::permissions::Permission;
use warp::http::Method;

use crate::fronts::NoRoute;
use crate::fronts::console::route::decoded;
use crate::fronts::console::section::{SectionRoute, method_matches};

/// A route of the Releases pages, with its path's parameters decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleasesRoute {
    /// `GET /ui/releases`: the releases, newest first, and the new release form.
    Index,
    /// `GET /ui/releases/live`: the releases table, polled.
    IndexLive,
    /// `POST /ui/releases`: starts a release from the form.
    CreateRelease,
    /// `GET /ui/releases/{id}`: a release's tasks, events and notes.
    Release(String),
    /// `GET /ui/releases/{id}/live`: its state, tasks and events, polled until it finishes.
    ReleaseLive(String),
    /// `POST /ui/releases/{id}/publish`.
    Publish(String),
    /// `POST /ui/releases/{id}/cancel`.
    Cancel(String),
    /// `GET /ui/services`: the task services and the registration form.
    Services,
    /// `GET /ui/services/live`: the services table (health), polled.
    ServicesLive,
    /// `POST /ui/services`: registers a task service from the form.
    RegisterService,
    /// `POST /ui/services/{id}/enable`.
    EnableService(String),
    /// `POST /ui/services/{id}/disable`.
    DisableService(String),
}

impl SectionRoute for ReleasesRoute {
    fn parse(method: &Method, segments: &[&str]) -> Result<Option<Self>, NoRoute> {
        use ReleasesRoute as R;
        if !matches!(segments.first(), Some(&"releases" | &"services")) {
            return Ok(None);
        }
        let post = *method == Method::POST;
        let param = |index: usize| decoded(segments[index]).ok_or(NoRoute::NotFound);
        let (route, is_post) = match segments {
            ["releases"] if post => (R::CreateRelease, true),
            ["releases"] => (R::Index, false),
            // Release ids are `RE_` and 8 letters or digits, so `live` names none.
            ["releases", "live"] => (R::IndexLive, false),
            ["releases", _] => (R::Release(param(1)?), false),
            ["releases", _, "live"] => (R::ReleaseLive(param(1)?), false),
            ["releases", _, "publish"] => (R::Publish(param(1)?), true),
            ["releases", _, "cancel"] => (R::Cancel(param(1)?), true),
            ["services"] if post => (R::RegisterService, true),
            ["services"] => (R::Services, false),
            ["services", "live"] => (R::ServicesLive, false),
            ["services", _, "enable"] => (R::EnableService(param(1)?), true),
            ["services", _, "disable"] => (R::DisableService(param(1)?), true),
            _ => return Err(NoRoute::NotFound),
        };
        method_matches(method, is_post)?;
        Ok(Some(route))
    }

    fn pattern(&self) -> &'static str {
        use ReleasesRoute as R;
        match self {
            R::Index | R::CreateRelease => "/ui/releases",
            R::IndexLive => "/ui/releases/live",
            R::Release(_) => "/ui/releases/{id}",
            R::ReleaseLive(_) => "/ui/releases/{id}/live",
            R::Publish(_) => "/ui/releases/{id}/publish",
            R::Cancel(_) => "/ui/releases/{id}/cancel",
            R::Services | R::RegisterService => "/ui/services",
            R::ServicesLive => "/ui/services/live",
            R::EnableService(_) => "/ui/services/{id}/enable",
            R::DisableService(_) => "/ui/services/{id}/disable",
        }
    }

    fn permission(&self) -> Permission {
        if self.changes_state() {
            Permission::ReleasesWrite
        } else {
            Permission::ReleasesRead
        }
    }

    fn changes_state(&self) -> bool {
        use ReleasesRoute as R;
        matches!(
            self,
            R::CreateRelease
                | R::Publish(_)
                | R::Cancel(_)
                | R::RegisterService
                | R::EnableService(_)
                | R::DisableService(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(method: Method, path: &str) -> Result<Option<ReleasesRoute>, NoRoute> {
        let segments: Vec<&str> = path.split('/').collect();
        ReleasesRoute::parse(&method, &segments)
    }

    #[test]
    fn paths_parse_into_routes_with_decoded_ids() {
        use ReleasesRoute as R;
        assert_eq!(parse(Method::GET, "releases"), Ok(Some(R::Index)));
        assert_eq!(parse(Method::HEAD, "releases"), Ok(Some(R::Index)));
        assert_eq!(parse(Method::POST, "releases"), Ok(Some(R::CreateRelease)));
        assert_eq!(parse(Method::GET, "releases/live"), Ok(Some(R::IndexLive)));
        assert_eq!(
            parse(Method::GET, "releases/RE_ABCD1234"),
            Ok(Some(R::Release("RE_ABCD1234".into())))
        );
        assert_eq!(
            parse(Method::GET, "releases/RE_ABCD1234/live"),
            Ok(Some(R::ReleaseLive("RE_ABCD1234".into())))
        );
        assert_eq!(
            parse(Method::POST, "releases/RE%5FX/publish"),
            Ok(Some(R::Publish("RE_X".into())))
        );
        assert_eq!(
            parse(Method::POST, "releases/RE_X/cancel"),
            Ok(Some(R::Cancel("RE_X".into())))
        );
        assert_eq!(parse(Method::GET, "services"), Ok(Some(R::Services)));
        assert_eq!(
            parse(Method::POST, "services"),
            Ok(Some(R::RegisterService))
        );
        assert_eq!(
            parse(Method::GET, "services/live"),
            Ok(Some(R::ServicesLive))
        );
        assert_eq!(
            parse(Method::POST, "services/TS_1/enable"),
            Ok(Some(R::EnableService("TS_1".into())))
        );
        assert_eq!(
            parse(Method::POST, "services/TS_1/disable"),
            Ok(Some(R::DisableService("TS_1".into())))
        );
    }

    #[test]
    fn other_paths_are_not_the_sections_and_wrong_methods_are_refused() {
        assert_eq!(parse(Method::GET, "runs"), Ok(None));
        assert_eq!(parse(Method::GET, ""), Ok(None));
        assert_eq!(parse(Method::GET, "releasesx"), Ok(None));
        assert_eq!(
            parse(Method::GET, "releases/RE_X/nothing"),
            Err(NoRoute::NotFound)
        );
        assert_eq!(parse(Method::GET, "releases/%2F"), Err(NoRoute::NotFound));
        assert_eq!(parse(Method::GET, "services/TS_1"), Err(NoRoute::NotFound));
        assert_eq!(
            parse(Method::GET, "releases/RE_X/publish"),
            Err(NoRoute::MethodNotAllowed)
        );
        assert_eq!(
            parse(Method::POST, "releases/RE_X"),
            Err(NoRoute::MethodNotAllowed)
        );
        assert_eq!(
            parse(Method::DELETE, "services"),
            Err(NoRoute::MethodNotAllowed)
        );
    }

    #[test]
    fn pages_need_read_and_every_change_needs_write() {
        use ReleasesRoute as R;
        for route in [
            R::Index,
            R::IndexLive,
            R::Release("RE_X".into()),
            R::ReleaseLive("RE_X".into()),
            R::Services,
            R::ServicesLive,
        ] {
            assert!(!route.changes_state(), "{route:?}");
            assert_eq!(route.permission(), Permission::ReleasesRead);
        }
        for route in [
            R::CreateRelease,
            R::Publish("RE_X".into()),
            R::Cancel("RE_X".into()),
            R::RegisterService,
            R::EnableService("TS_X".into()),
            R::DisableService("TS_X".into()),
        ] {
            assert!(route.changes_state(), "{route:?}");
            assert_eq!(route.permission(), Permission::ReleasesWrite);
        }
    }
}

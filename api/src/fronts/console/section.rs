//! What a section of the console with its own pages (the reports portal, releases, projects)
//! offers the console's router: its paths under `/ui/`, their patterns, and the permission
//! and CSRF check each needs. The section's own `show` and `act` render and change.

use common::auth::api_key::ApiKey;
use common::auth::permissions::{Permission, grants};
use warp::http::Method;

use crate::fronts::NoRoute;

/// The routes of one section of the console.
pub trait SectionRoute: Sized {
    /// Parses the segments of a path after `/ui/`: `Ok(None)` when the path is not this
    /// section's, an error when it is but no route (or no method) matches.
    fn parse(method: &Method, segments: &[&str]) -> Result<Option<Self>, NoRoute>;

    /// The route's pattern, for logs and metrics (`/ui/reports/{name}`).
    fn pattern(&self) -> &'static str;

    /// The permission the route needs (pages may show less to callers holding less).
    fn permission(&self) -> Permission;

    /// True for the routes that change state (POST forms, which must carry the CSRF token).
    fn changes_state(&self) -> bool;

    /// True when `key` may use the route at all (the handler checks finer grants): by default
    /// when it holds [`permission`](Self::permission) everywhere. A section whose grants may
    /// be scoped to single records (reports: `report:NAME/reports.read`) says more.
    fn admits(&self, key: &ApiKey) -> bool {
        grants(&key.permissions, self.permission())
    }
}

/// Checks the method of a route: `post` routes take POST only, the others GET and HEAD.
pub fn method_matches(method: &Method, post: bool) -> Result<(), NoRoute> {
    let get = *method == Method::GET || *method == Method::HEAD;
    if (post && *method != Method::POST) || (!post && !get) {
        return Err(NoRoute::MethodNotAllowed);
    }
    Ok(())
}

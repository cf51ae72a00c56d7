//! The paths of the console's Releases pages.

use common::store::apikeys::Permission;
use warp::http::Method;

use crate::fronts::NoRoute;
use crate::fronts::console::section::{SectionRoute, method_matches};

/// A route of the Releases pages, with its path's parameters decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleasesRoute {
    /// `GET /ui/releases`.
    Index,
}

impl SectionRoute for ReleasesRoute {
    fn parse(method: &Method, segments: &[&str]) -> Result<Option<Self>, NoRoute> {
        let (route, post) = match segments {
            ["releases"] => (ReleasesRoute::Index, false),
            _ => return Ok(None),
        };
        method_matches(method, post)?;
        Ok(Some(route))
    }

    fn pattern(&self) -> &'static str {
        match self {
            ReleasesRoute::Index => "/ui/releases",
        }
    }

    fn permission(&self) -> Permission {
        Permission::ReleasesRead
    }

    fn changes_state(&self) -> bool {
        false
    }
}

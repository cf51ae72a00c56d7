//! The paths of the console's Reports pages.

use common::store::apikeys::Permission;
use warp::http::Method;

use crate::fronts::NoRoute;
use crate::fronts::console::section::{SectionRoute, method_matches};

/// A route of the Reports pages, with its path's parameters decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportsRoute {
    /// `GET /ui/reports`.
    Index,
}

impl SectionRoute for ReportsRoute {
    fn parse(method: &Method, segments: &[&str]) -> Result<Option<Self>, NoRoute> {
        let (route, post) = match segments {
            ["reports"] => (ReportsRoute::Index, false),
            _ => return Ok(None),
        };
        method_matches(method, post)?;
        Ok(Some(route))
    }

    fn pattern(&self) -> &'static str {
        match self {
            ReportsRoute::Index => "/ui/reports",
        }
    }

    fn permission(&self) -> Permission {
        Permission::ReportsRead
    }

    fn changes_state(&self) -> bool {
        false
    }
}

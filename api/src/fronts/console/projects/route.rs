//! The paths of the console's Projects pages.

use common::store::apikeys::Permission;
use warp::http::Method;

use crate::fronts::NoRoute;
use crate::fronts::console::section::{SectionRoute, method_matches};

/// A route of the Projects pages, with its path's parameters decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectsRoute {
    /// `GET /ui/projects`.
    Index,
}

impl SectionRoute for ProjectsRoute {
    fn parse(method: &Method, segments: &[&str]) -> Result<Option<Self>, NoRoute> {
        let (route, post) = match segments {
            ["projects"] => (ProjectsRoute::Index, false),
            _ => return Ok(None),
        };
        method_matches(method, post)?;
        Ok(Some(route))
    }

    fn pattern(&self) -> &'static str {
        match self {
            ProjectsRoute::Index => "/ui/projects",
        }
    }

    fn permission(&self) -> Permission {
        Permission::ProjectsRead
    }

    fn changes_state(&self) -> bool {
        false
    }
}

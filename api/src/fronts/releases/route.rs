//! Which endpoint a method and path name. Trailing slashes are optional.

use warp::http::Method;

use crate::fronts::NoRoute;

/// The root segments this front serves.
pub const ROOTS: &[&str] = &[
    "task-services",
    "releases",
    "tasks",
    "release-notes",
    "events",
    "studies",
];

/// A collection of the front.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    /// `/task-services`
    Services,
    /// `/releases`
    Releases,
    /// `/tasks`
    Tasks,
    /// `/release-notes`
    Notes,
    /// `/events`
    Events,
    /// `/studies`
    Studies,
}

impl Collection {
    fn parse(segment: &str) -> Option<Self> {
        Some(match segment {
            "task-services" => Self::Services,
            "releases" => Self::Releases,
            "tasks" => Self::Tasks,
            "release-notes" => Self::Notes,
            "events" => Self::Events,
            "studies" => Self::Studies,
            _ => return None,
        })
    }

    /// The collection's path segment.
    pub fn segment(self) -> &'static str {
        match self {
            Self::Services => "task-services",
            Self::Releases => "releases",
            Self::Tasks => "tasks",
            Self::Notes => "release-notes",
            Self::Events => "events",
            Self::Studies => "studies",
        }
    }

    /// The methods a collection's list path takes.
    fn list_methods(self) -> &'static [Method] {
        match self {
            Self::Tasks | Self::Studies => &[Method::GET],
            _ => &[Method::GET, Method::POST],
        }
    }

    /// The methods a collection's item path takes.
    fn item_methods(self) -> &'static [Method] {
        match self {
            Self::Studies => &[Method::GET],
            Self::Tasks => &[Method::GET, Method::PATCH],
            Self::Events => &[Method::GET, Method::DELETE],
            _ => &[Method::GET, Method::PATCH, Method::DELETE],
        }
    }
}

/// An endpoint of the front.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /<collection>`
    List(Collection),
    /// `POST /<collection>`
    Create(Collection),
    /// `GET /<collection>/<id>`
    Get(Collection, String),
    /// `PATCH /<collection>/<id>`
    Update(Collection, String),
    /// `DELETE /<collection>/<id>`
    Delete(Collection, String),
    /// `POST /releases/<id>/publish`
    Publish(String),
}

impl Route {
    /// The endpoint `method` and `path` (the whole path) name.
    pub fn parse(method: &Method, path: &str) -> Result<Self, NoRoute> {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let Some(collection) = segments.first().and_then(|s| Collection::parse(s)) else {
            return Err(NoRoute::NotFound);
        };
        let allowed = |methods: &[Method]| {
            if methods.contains(method) {
                Ok(())
            } else {
                Err(NoRoute::MethodNotAllowed)
            }
        };
        match segments.as_slice() {
            [_] => {
                allowed(collection.list_methods())?;
                Ok(if method == Method::POST {
                    Self::Create(collection)
                } else {
                    Self::List(collection)
                })
            }
            [_, id] => {
                allowed(collection.item_methods())?;
                let id = (*id).to_owned();
                Ok(match *method {
                    Method::PATCH => Self::Update(collection, id),
                    Method::DELETE => Self::Delete(collection, id),
                    _ => Self::Get(collection, id),
                })
            }
            [_, id, "publish"] if collection == Collection::Releases => {
                allowed(&[Method::POST])?;
                Ok(Self::Publish((*id).to_owned()))
            }
            _ => Err(NoRoute::NotFound),
        }
    }

    /// The route's pattern, for logs and metrics.
    pub fn pattern(&self) -> &'static str {
        use Collection::*;
        match self {
            Self::List(c) | Self::Create(c) => match c {
                Services => "/task-services",
                Releases => "/releases",
                Tasks => "/tasks",
                Notes => "/release-notes",
                Events => "/events",
                Studies => "/studies",
            },
            Self::Get(c, _) | Self::Update(c, _) | Self::Delete(c, _) => match c {
                Services => "/task-services/{id}",
                Releases => "/releases/{id}",
                Tasks => "/tasks/{id}",
                Notes => "/release-notes/{id}",
                Events => "/events/{id}",
                Studies => "/studies/{id}",
            },
            Self::Publish(_) => "/releases/{id}/publish",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_with_and_without_trailing_slashes() {
        assert_eq!(
            Route::parse(&Method::GET, "/releases/"),
            Ok(Route::List(Collection::Releases))
        );
        assert_eq!(
            Route::parse(&Method::PATCH, "/tasks/TA_1"),
            Ok(Route::Update(Collection::Tasks, "TA_1".into()))
        );
        assert_eq!(
            Route::parse(&Method::POST, "/releases/RE_1/publish/"),
            Ok(Route::Publish("RE_1".into()))
        );
        assert_eq!(
            Route::parse(&Method::DELETE, "/tasks/TA_1"),
            Err(NoRoute::MethodNotAllowed)
        );
        assert_eq!(
            Route::parse(&Method::GET, "/tasks/TA_1/x"),
            Err(NoRoute::NotFound)
        );
    }

    #[test]
    fn the_document_lists_exactly_the_routes() {
        let methods = [
            Method::GET,
            Method::POST,
            Method::PATCH,
            Method::DELETE,
            Method::PUT,
        ];
        let mut served = std::collections::BTreeSet::new();
        for root in ROOTS {
            for path in [
                format!("/{root}"),
                format!("/{root}/ID"),
                format!("/{root}/ID/publish"),
            ] {
                for method in &methods {
                    if let Ok(route) = Route::parse(method, &path) {
                        served.insert((method.as_str().to_lowercase(), route.pattern()));
                    }
                }
            }
        }
        let documented: std::collections::BTreeSet<_> = crate::openapi::releases::OPERATIONS
            .iter()
            .map(|operation| (operation.method.to_owned(), operation.path))
            .collect();
        assert_eq!(served, documented);
    }
}

//! Which operator route a method and path name.

use warp::http::Method;

use crate::fronts::{FrontRoute, NoRoute};

/// One operator route, with its path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorRoute {
    /// `GET /api/queues`.
    Queues,
    /// `GET /api/queues/{name}`.
    Queue(String),
    /// `POST /api/queues/{name}/pause`.
    Pause(String),
    /// `POST /api/queues/{name}/resume`.
    Resume(String),
    /// `GET /api/queues/{name}/dead-letters`.
    DeadLetters(String),
    /// `POST /api/queues/{name}/dead-letters/{id}/requeue`.
    RequeueDead(String, String),
    /// `DELETE /api/queues/{name}/dead-letters/{id}`.
    DeleteDead(String, String),
    /// `POST /api/queues/{name}/dead-letters/requeue-all`.
    RequeueAllDead(String),
    /// `POST /api/queues/{name}/dead-letters/delete-all`.
    DeleteAllDead(String),
    /// `GET /api/workers`.
    Workers,
    /// `GET /api/keys`.
    Keys,
    /// `POST /api/keys`.
    CreateKey,
    /// `POST /api/keys/{id}/revoke`.
    RevokeKey(String),
}

impl FrontRoute for OperatorRoute {
    fn parse(method: &Method, path: &str) -> Result<Self, NoRoute> {
        use OperatorRoute as R;
        let path = path.split('?').next().unwrap_or_default();
        let path = path.strip_suffix('/').unwrap_or(path);
        let rest = path.strip_prefix("/api/").ok_or(NoRoute::NotFound)?;
        let segments: Vec<&str> = rest.split('/').collect();
        if segments.iter().any(|segment| segment.is_empty()) {
            return Err(NoRoute::NotFound);
        }
        let get = method == Method::GET;
        let post = method == Method::POST;
        let delete = method == Method::DELETE;
        let owned = |index: usize| segments[index].to_owned();
        let (route, allowed) = match segments.as_slice() {
            ["queues"] => (R::Queues, get),
            ["queues", _] => (R::Queue(owned(1)), get),
            ["queues", _, "pause"] => (R::Pause(owned(1)), post),
            ["queues", _, "resume"] => (R::Resume(owned(1)), post),
            ["queues", _, "dead-letters"] => (R::DeadLetters(owned(1)), get),
            ["queues", _, "dead-letters", "requeue-all"] if post => {
                (R::RequeueAllDead(owned(1)), true)
            }
            ["queues", _, "dead-letters", "delete-all"] if post => {
                (R::DeleteAllDead(owned(1)), true)
            }
            ["queues", _, "dead-letters", _] => (R::DeleteDead(owned(1), owned(3)), delete),
            ["queues", _, "dead-letters", _, "requeue"] => {
                (R::RequeueDead(owned(1), owned(3)), post)
            }
            ["workers"] => (R::Workers, get),
            ["keys"] if post => (R::CreateKey, true),
            ["keys"] => (R::Keys, get),
            ["keys", _, "revoke"] => (R::RevokeKey(owned(1)), post),
            _ => return Err(NoRoute::NotFound),
        };
        if allowed {
            Ok(route)
        } else {
            Err(NoRoute::MethodNotAllowed)
        }
    }

    fn pattern(&self) -> &'static str {
        use OperatorRoute as R;
        match self {
            R::Queues => "/api/queues",
            R::Queue(_) => "/api/queues/{name}",
            R::Pause(_) => "/api/queues/{name}/pause",
            R::Resume(_) => "/api/queues/{name}/resume",
            R::DeadLetters(_) => "/api/queues/{name}/dead-letters",
            R::RequeueDead(..) => "/api/queues/{name}/dead-letters/{id}/requeue",
            R::DeleteDead(..) => "/api/queues/{name}/dead-letters/{id}",
            R::RequeueAllDead(_) => "/api/queues/{name}/dead-letters/requeue-all",
            R::DeleteAllDead(_) => "/api/queues/{name}/dead-letters/delete-all",
            R::Workers => "/api/workers",
            R::Keys | R::CreateKey => "/api/keys",
            R::RevokeKey(_) => "/api/keys/{id}/revoke",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_routes_and_other_methods_are_refused() {
        let parse = |method: Method, path: &str| OperatorRoute::parse(&method, path);
        assert_eq!(parse(Method::GET, "/api/queues"), Ok(OperatorRoute::Queues));
        assert_eq!(
            parse(Method::GET, "/api/queues/default/?x=1"),
            Ok(OperatorRoute::Queue("default".into()))
        );
        assert_eq!(
            parse(Method::POST, "/api/queues/q/dead-letters/1-0.0/requeue"),
            Ok(OperatorRoute::RequeueDead("q".into(), "1-0.0".into()))
        );
        assert_eq!(
            parse(Method::DELETE, "/api/queues/q/dead-letters/1-0.0"),
            Ok(OperatorRoute::DeleteDead("q".into(), "1-0.0".into()))
        );
        assert_eq!(
            parse(Method::POST, "/api/queues/q/dead-letters/requeue-all"),
            Ok(OperatorRoute::RequeueAllDead("q".into()))
        );
        assert_eq!(
            parse(Method::POST, "/api/keys"),
            Ok(OperatorRoute::CreateKey)
        );
        assert_eq!(
            parse(Method::DELETE, "/api/queues"),
            Err(NoRoute::MethodNotAllowed)
        );
        assert_eq!(
            parse(Method::GET, "/api/queues/q/pause"),
            Err(NoRoute::MethodNotAllowed)
        );
        assert_eq!(parse(Method::GET, "/api/queues//x"), Err(NoRoute::NotFound));
        assert_eq!(parse(Method::GET, "/api/keys/a/b"), Err(NoRoute::NotFound));
    }
}

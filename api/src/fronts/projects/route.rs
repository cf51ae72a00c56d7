//! Which endpoint of the projects front a method and path name.

use warp::http::Method;

use crate::fronts::NoRoute;

/// An endpoint of the projects front.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `POST /orchestra/api/project/create_project`.
    CreateProject,
    /// `POST` (or `GET`) `/orchestra/api/project/project_information`.
    ProjectInformation,
    /// `GET /orchestra/api/project/workflow_types`.
    WorkflowTypes,
    /// `GET /orchestra/api/tasks/available`.
    Available,
    /// `POST /orchestra/api/tasks/claim`.
    Claim,
    /// `POST /orchestra/api/tasks/<id>/save`.
    Save(String),
    /// `POST /orchestra/api/tasks/<id>/submit`.
    Submit(String),
    /// `GET /orchestra/api/reviews/available`.
    ReviewsAvailable,
    /// `POST /orchestra/api/reviews/claim`.
    ReviewClaim,
    /// `POST /orchestra/api/reviews/<id>/accept`.
    Accept(String),
    /// `POST /orchestra/api/reviews/<id>/reject`.
    Reject(String),
    /// `POST /orchestra/api/tasks/<id>/release`.
    Release(String),
    /// `POST /orchestra/api/interface/project_management/end_project`.
    EndProject,
    /// `POST /orchestra/api/interface/project_management/set_project_status`.
    SetProjectStatus,
    /// `POST /orchestra/api/interface/project_management/assign_task`.
    AssignTask,
    /// `POST /orchestra/api/interface/project_management/reassign_assignment`.
    ReassignAssignment,
}

impl Route {
    /// The endpoint `method` and `path` (without the query; a trailing slash is optional) name.
    pub fn parse(method: &Method, path: &str) -> Result<Self, NoRoute> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (route, methods): (Route, &[Method]) = match segments.as_slice() {
            ["orchestra", "api", "project", "create_project"] => {
                (Route::CreateProject, &[Method::POST])
            }
            ["orchestra", "api", "project", "project_information"] => {
                (Route::ProjectInformation, &[Method::POST, Method::GET])
            }
            ["orchestra", "api", "project", "workflow_types"] => {
                (Route::WorkflowTypes, &[Method::GET])
            }
            ["orchestra", "api", "tasks", "available"] => (Route::Available, &[Method::GET]),
            ["orchestra", "api", "tasks", "claim"] => (Route::Claim, &[Method::POST]),
            ["orchestra", "api", "tasks", id, "save"] => {
                (Route::Save((*id).into()), &[Method::POST])
            }
            ["orchestra", "api", "tasks", id, "submit"] => {
                (Route::Submit((*id).into()), &[Method::POST])
            }
            ["orchestra", "api", "reviews", "available"] => {
                (Route::ReviewsAvailable, &[Method::GET])
            }
            ["orchestra", "api", "reviews", "claim"] => (Route::ReviewClaim, &[Method::POST]),
            ["orchestra", "api", "reviews", id, "accept"] => {
                (Route::Accept((*id).into()), &[Method::POST])
            }
            ["orchestra", "api", "reviews", id, "reject"] => {
                (Route::Reject((*id).into()), &[Method::POST])
            }
            ["orchestra", "api", "tasks", id, "release"] => {
                (Route::Release((*id).into()), &[Method::POST])
            }
            [
                "orchestra",
                "api",
                "interface",
                "project_management",
                action,
            ] => {
                let route = match *action {
                    "end_project" => Route::EndProject,
                    "set_project_status" => Route::SetProjectStatus,
                    "assign_task" => Route::AssignTask,
                    "reassign_assignment" => Route::ReassignAssignment,
                    _ => return Err(NoRoute::NotFound),
                };
                (route, &[Method::POST])
            }
            _ => return Err(NoRoute::NotFound),
        };
        if methods.contains(method) {
            Ok(route)
        } else {
            Err(NoRoute::MethodNotAllowed)
        }
    }

    /// The route's pattern, for logs and metrics.
    pub fn pattern(&self) -> &'static str {
        match self {
            Route::CreateProject => "/orchestra/api/project/create_project",
            Route::ProjectInformation => "/orchestra/api/project/project_information",
            Route::WorkflowTypes => "/orchestra/api/project/workflow_types",
            Route::Available => "/orchestra/api/tasks/available",
            Route::Claim => "/orchestra/api/tasks/claim",
            Route::Save(_) => "/orchestra/api/tasks/{id}/save",
            Route::Submit(_) => "/orchestra/api/tasks/{id}/submit",
            Route::ReviewsAvailable => "/orchestra/api/reviews/available",
            Route::ReviewClaim => "/orchestra/api/reviews/claim",
            Route::Accept(_) => "/orchestra/api/reviews/{id}/accept",
            Route::Reject(_) => "/orchestra/api/reviews/{id}/reject",
            Route::Release(_) => "/orchestra/api/tasks/{id}/release",
            Route::EndProject => "/orchestra/api/interface/project_management/end_project",
            Route::SetProjectStatus => {
                "/orchestra/api/interface/project_management/set_project_status"
            }
            Route::AssignTask => "/orchestra/api/interface/project_management/assign_task",
            Route::ReassignAssignment => {
                "/orchestra/api/interface/project_management/reassign_assignment"
            }
        }
    }
}

impl crate::fronts::FrontRoute for Route {
    fn parse(method: &Method, path: &str) -> Result<Self, NoRoute> {
        Route::parse(method, path)
    }

    fn pattern(&self) -> &'static str {
        Route::pattern(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_routes_with_or_without_a_trailing_slash() {
        let post = Method::POST;
        assert_eq!(
            Route::parse(&post, "/orchestra/api/project/create_project/"),
            Ok(Route::CreateProject)
        );
        assert_eq!(
            Route::parse(&Method::GET, "/orchestra/api/project/project_information"),
            Ok(Route::ProjectInformation)
        );
        assert_eq!(
            Route::parse(&post, "/orchestra/api/tasks/12/submit"),
            Ok(Route::Submit("12".into()))
        );
        assert_eq!(
            Route::parse(&Method::GET, "/orchestra/api/project/create_project"),
            Err(NoRoute::MethodNotAllowed)
        );
        assert_eq!(
            Route::parse(&post, "/orchestra/api/tasks/12/release/"),
            Ok(Route::Release("12".into()))
        );
        assert_eq!(
            Route::parse(
                &post,
                "/orchestra/api/interface/project_management/end_project/"
            ),
            Ok(Route::EndProject)
        );
        assert_eq!(
            Route::parse(
                &post,
                "/orchestra/api/interface/project_management/revert_task/"
            ),
            Err(NoRoute::NotFound)
        );
        assert_eq!(
            Route::parse(&post, "/orchestra/api/nothing"),
            Err(NoRoute::NotFound)
        );
    }

    #[test]
    fn every_documented_operation_names_its_route() {
        for operation in crate::openapi::projects::OPERATIONS {
            let method: Method = operation.method.to_uppercase().parse().unwrap();
            let route =
                Route::parse(&method, &operation.path.replace("{id}", "7")).unwrap_or_else(|_| {
                    panic!("{} {} names no route", operation.method, operation.path)
                });
            assert_eq!(route.pattern(), operation.path);
        }
    }
}

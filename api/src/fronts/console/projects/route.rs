//! The paths of the console's Projects pages: the projects (`/ui/projects...`, for keys with
//! `projects.read`) and the work page of the people doing human steps (`/ui/work...`, for
//! keys with `projects.work`).

use common::store::apikeys::Permission;
use warp::http::Method;

use crate::fronts::NoRoute;
use crate::fronts::console::section::{SectionRoute, method_matches};

/// A route of the Projects pages, with its path's parameters decoded (ids are integers: any
/// other segment is no route).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectsRoute {
    /// `GET /ui/projects`: the projects, filtered and paged.
    Index,
    /// `GET /ui/projects/{id}`: a project's steps and tasks.
    Project(u64),
    /// `GET /ui/projects/{id}/live`: the live part of a project's page.
    ProjectLive(u64),
    /// `GET /ui/work`: the tasks the caller may claim, and those they hold.
    Work,
    /// `GET /ui/work/{task}`: the form of a task the caller holds.
    Task(u64),
    /// `POST /ui/work/{task}/claim`.
    Claim(u64),
    /// `POST /ui/work/{task}/save`: saves the work in progress.
    Save(u64),
    /// `POST /ui/work/{task}/submit`.
    Submit(u64),
}

/// An id segment: digits only (no sign, no spaces), at most 19 of them.
fn id(segment: &str) -> Result<u64, NoRoute> {
    if segment.is_empty() || segment.len() > 19 || !segment.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NoRoute::NotFound);
    }
    segment.parse().map_err(|_| NoRoute::NotFound)
}

impl SectionRoute for ProjectsRoute {
    fn parse(method: &Method, segments: &[&str]) -> Result<Option<Self>, NoRoute> {
        use ProjectsRoute as R;
        let (route, post) = match segments {
            ["projects"] => (R::Index, false),
            ["projects", project] => (R::Project(id(project)?), false),
            ["projects", project, "live"] => (R::ProjectLive(id(project)?), false),
            ["work"] => (R::Work, false),
            ["work", task] => (R::Task(id(task)?), false),
            ["work", task, "claim"] => (R::Claim(id(task)?), true),
            ["work", task, "save"] => (R::Save(id(task)?), true),
            ["work", task, "submit"] => (R::Submit(id(task)?), true),
            ["projects" | "work", ..] => return Err(NoRoute::NotFound),
            _ => return Ok(None),
        };
        method_matches(method, post)?;
        Ok(Some(route))
    }

    fn pattern(&self) -> &'static str {
        use ProjectsRoute as R;
        match self {
            R::Index => "/ui/projects",
            R::Project(_) => "/ui/projects/{id}",
            R::ProjectLive(_) => "/ui/projects/{id}/live",
            R::Work => "/ui/work",
            R::Task(_) => "/ui/work/{task}",
            R::Claim(_) => "/ui/work/{task}/claim",
            R::Save(_) => "/ui/work/{task}/save",
            R::Submit(_) => "/ui/work/{task}/submit",
        }
    }

    fn permission(&self) -> Permission {
        use ProjectsRoute as R;
        match self {
            R::Index | R::Project(_) | R::ProjectLive(_) => Permission::ProjectsRead,
            R::Work | R::Task(_) | R::Claim(_) | R::Save(_) | R::Submit(_) => {
                Permission::ProjectsWork
            }
        }
    }

    fn changes_state(&self) -> bool {
        matches!(
            self,
            ProjectsRoute::Claim(_) | ProjectsRoute::Save(_) | ProjectsRoute::Submit(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(method: Method, path: &str) -> Result<Option<ProjectsRoute>, NoRoute> {
        let segments: Vec<&str> = path.split('/').collect();
        ProjectsRoute::parse(&method, &segments)
    }

    #[test]
    fn project_and_work_paths_parse_with_integer_ids() {
        use ProjectsRoute as R;
        assert_eq!(parse(Method::GET, "projects"), Ok(Some(R::Index)));
        assert_eq!(parse(Method::HEAD, "projects/12"), Ok(Some(R::Project(12))));
        assert_eq!(
            parse(Method::GET, "projects/12/live"),
            Ok(Some(R::ProjectLive(12)))
        );
        assert_eq!(parse(Method::GET, "work"), Ok(Some(R::Work)));
        assert_eq!(parse(Method::GET, "work/7"), Ok(Some(R::Task(7))));
        assert_eq!(parse(Method::POST, "work/7/claim"), Ok(Some(R::Claim(7))));
        assert_eq!(parse(Method::POST, "work/7/save"), Ok(Some(R::Save(7))));
        assert_eq!(parse(Method::POST, "work/7/submit"), Ok(Some(R::Submit(7))));
    }

    #[test]
    fn other_paths_are_not_ours_or_not_found_and_methods_are_checked() {
        assert_eq!(parse(Method::GET, "runs"), Ok(None));
        assert_eq!(parse(Method::GET, "workers"), Ok(None));
        for path in [
            "projects/x",
            "projects/-1",
            "projects/%31",
            "projects/99999999999999999999",
            "work/7/delete",
            "work/",
        ] {
            assert_eq!(parse(Method::GET, path), Err(NoRoute::NotFound), "{path}");
        }
        assert_eq!(
            parse(Method::GET, "work/7/claim"),
            Err(NoRoute::MethodNotAllowed)
        );
        assert_eq!(parse(Method::POST, "work"), Err(NoRoute::MethodNotAllowed));
    }

    #[test]
    fn project_pages_need_read_and_work_pages_need_work() {
        use ProjectsRoute as R;
        assert_eq!(R::Index.permission(), Permission::ProjectsRead);
        assert_eq!(R::ProjectLive(1).permission(), Permission::ProjectsRead);
        for route in [R::Work, R::Task(1), R::Claim(1), R::Save(1), R::Submit(1)] {
            assert_eq!(route.permission(), Permission::ProjectsWork, "{route:?}");
            assert!(route.pattern().starts_with("/ui/work"));
        }
        assert!(R::Submit(1).changes_state());
        assert!(!R::Task(1).changes_state());
    }
}

//! The paths of the console's Projects pages: the projects (`/ui/projects...`, for keys with
//! `projects.read`), the work page of the people doing human steps (`/ui/work...`, for keys
//! with `projects.work`) and the pages of their reviewers (`/ui/reviews...`, for keys with
//! `projects.review`).

use common::auth::permissions::Permission;
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
    /// `GET /ui/reviews`: the tasks waiting for a reviewer the caller may review, and those
    /// they review or sent back.
    Reviews,
    /// `GET /ui/reviews/{task}`: a task the caller reviews, its work in its step's form.
    Review(u64),
    /// `POST /ui/reviews/{task}/claim`: makes the caller the task's reviewer.
    ClaimReview(u64),
    /// `POST /ui/reviews/{task}/accept`: the step completes with the reviewed work.
    Accept(u64),
    /// `POST /ui/reviews/{task}/reject`: sends the task back to its claimant.
    Reject(u64),
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
            ["reviews"] => (R::Reviews, false),
            ["reviews", task] => (R::Review(id(task)?), false),
            ["reviews", task, "claim"] => (R::ClaimReview(id(task)?), true),
            ["reviews", task, "accept"] => (R::Accept(id(task)?), true),
            ["reviews", task, "reject"] => (R::Reject(id(task)?), true),
            ["projects" | "work" | "reviews", ..] => return Err(NoRoute::NotFound),
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
            R::Reviews => "/ui/reviews",
            R::Review(_) => "/ui/reviews/{task}",
            R::ClaimReview(_) => "/ui/reviews/{task}/claim",
            R::Accept(_) => "/ui/reviews/{task}/accept",
            R::Reject(_) => "/ui/reviews/{task}/reject",
        }
    }

    fn permission(&self) -> Permission {
        use ProjectsRoute as R;
        match self {
            R::Index | R::Project(_) | R::ProjectLive(_) => Permission::ProjectsRead,
            R::Work | R::Task(_) | R::Claim(_) | R::Save(_) | R::Submit(_) => {
                Permission::ProjectsWork
            }
            R::Reviews | R::Review(_) | R::ClaimReview(_) | R::Accept(_) | R::Reject(_) => {
                Permission::ProjectsReview
            }
        }
    }

    fn changes_state(&self) -> bool {
        use ProjectsRoute as R;
        matches!(
            self,
            R::Claim(_)
                | R::Save(_)
                | R::Submit(_)
                | R::ClaimReview(_)
                | R::Accept(_)
                | R::Reject(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(permissions: &[Permission]) -> common::auth::api_key::ApiKey {
        common::auth::api_key::ApiKey {
            id: "k".into(),
            permissions: permissions.iter().copied().collect(),
            report_permissions: Default::default(),
            allow_date_only: false,
            created_ms: 0,
            last_used_ms: None,
            revoked_ms: None,
        }
    }

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

    #[test]
    fn review_paths_parse_with_integer_ids_and_check_methods() {
        use ProjectsRoute as R;
        assert_eq!(parse(Method::GET, "reviews"), Ok(Some(R::Reviews)));
        assert_eq!(parse(Method::HEAD, "reviews/9"), Ok(Some(R::Review(9))));
        assert_eq!(
            parse(Method::POST, "reviews/9/claim"),
            Ok(Some(R::ClaimReview(9)))
        );
        assert_eq!(
            parse(Method::POST, "reviews/9/accept"),
            Ok(Some(R::Accept(9)))
        );
        assert_eq!(
            parse(Method::POST, "reviews/9/reject"),
            Ok(Some(R::Reject(9)))
        );
        for path in [
            "reviews/x",
            "reviews/-9",
            "reviews/9/send",
            "reviews/9/accept/now",
            "reviews/",
            "reviews/99999999999999999999/claim",
        ] {
            assert_eq!(parse(Method::POST, path), Err(NoRoute::NotFound), "{path}");
        }
        assert_eq!(
            parse(Method::GET, "reviews/9/accept"),
            Err(NoRoute::MethodNotAllowed)
        );
        assert_eq!(
            parse(Method::POST, "reviews/9"),
            Err(NoRoute::MethodNotAllowed)
        );
        assert_eq!(parse(Method::GET, "reviewers"), Ok(None));
    }

    #[test]
    fn review_pages_need_review_and_only_their_posts_change_state() {
        use ProjectsRoute as R;
        for route in [
            R::Reviews,
            R::Review(1),
            R::ClaimReview(1),
            R::Accept(1),
            R::Reject(1),
        ] {
            assert_eq!(route.permission(), Permission::ProjectsReview, "{route:?}");
            assert!(route.pattern().starts_with("/ui/reviews"), "{route:?}");
        }
        for route in [R::ClaimReview(1), R::Accept(1), R::Reject(1)] {
            assert!(route.changes_state(), "{route:?}");
        }
        assert!(!R::Reviews.changes_state());
        assert!(!R::Review(1).changes_state());
        // A key that may work but not review is not admitted to the review pages.
        assert!(!R::Accept(1).admits(&key(&[Permission::ProjectsWork])));
        assert!(R::Accept(1).admits(&key(&[Permission::ProjectsReview])));
        assert!(!R::Submit(1).admits(&key(&[Permission::ProjectsReview])));
    }

    #[test]
    fn a_reviewer_only_key_lands_on_the_reviews_and_sees_their_link() {
        use crate::auth::{Caller, Credential};
        use crate::fronts::console::html::{Chrome, home_of};
        let caller = |permissions: &[Permission]| Caller {
            key: key(permissions),
            credential: Credential::Session,
            session: None,
        };
        let reviewer = caller(&[Permission::ProjectsReview]);
        assert_eq!(home_of(&reviewer), Some("/ui/reviews"));
        let chrome = Chrome::new(&reviewer, "Reviews", "reviews");
        assert!(chrome.can_review && !chrome.can_work);
        // Working comes first for a key that may do both; a reader of projects alone reads.
        let both = caller(&[Permission::ProjectsWork, Permission::ProjectsReview]);
        assert_eq!(home_of(&both), Some("/ui/work"));
        assert!(Chrome::new(&both, "x", "work").can_review);
        let reader = caller(&[Permission::ProjectsRead]);
        assert_eq!(home_of(&reader), Some("/ui/projects"));
        assert!(!Chrome::new(&reader, "x", "projects").can_review);
    }
}

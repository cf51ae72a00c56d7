//! Every HTTP route the server answers, as `docs/routes.md` lists them: the OpenAPI document's
//! operations (the JSON fronts) and the console's pages and forms, which the document leaves
//! out. The console's part is checked against its router here, and the whole catalogue against
//! a running server by the end-to-end tests.

use warp::http::Method;

use crate::auth::Guard;
use crate::error::Front;
use crate::fronts::FrontRoute;
use crate::fronts::console::assets;
use crate::fronts::console::route::ConsoleRoute;
use crate::openapi::{self, Auth, Operation};

/// The front named in the catalogue for the console's pages.
pub const CONSOLE_FRONT: &str = "console";

/// One route: what `docs/routes.md` says of it, and a concrete request path it answers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RouteDoc {
    /// The method, upper case (`GET`).
    pub method: String,
    /// The path template, `{name}` for parameters.
    pub path: &'static str,
    /// The front answering it: the OpenAPI tag (`workflows`, `operator`, ...) or `console`.
    pub front: &'static str,
    /// What the caller needs: a permission, `any key`, `any session`, a token, or `—`.
    pub permission: String,
    /// A concrete path the server routes to it.
    pub example: String,
}

/// One console page or form.
#[derive(Debug, Clone, Copy)]
pub struct ConsolePage {
    /// `GET` or `POST` (pages also take `HEAD`).
    pub method: &'static str,
    /// The path template, as the console's router names it in logs and metrics.
    pub path: &'static str,
    /// A concrete path of it (the static files' is computed: their names hold a hash).
    pub example: &'static str,
}

const fn page(method: &'static str, path: &'static str, example: &'static str) -> ConsolePage {
    ConsolePage {
        method,
        path,
        example,
    }
}

/// The path template of the console's static files.
const STATIC_FILES: &str = "/ui/static/{file}";

/// Every console page and form, with `GET /` (which leads to the console), in the order
/// `docs/routes.md` lists them.
pub const CONSOLE: &[ConsolePage] = &[
    page("GET", "/", "/"),
    page("GET", "/ui/", "/ui/"),
    page("GET", STATIC_FILES, ""),
    page("GET", "/ui/login", "/ui/login"),
    page("POST", "/ui/login", "/ui/login"),
    page("POST", "/ui/logout", "/ui/logout"),
    page("GET", "/ui/live/overview", "/ui/live/overview"),
    page("GET", "/ui/queues", "/ui/queues"),
    page("GET", "/ui/queues/{queue}", "/ui/queues/default"),
    page("GET", "/ui/queues/{queue}/live", "/ui/queues/default/live"),
    page(
        "POST",
        "/ui/queues/{queue}/pause",
        "/ui/queues/default/pause",
    ),
    page(
        "POST",
        "/ui/queues/{queue}/resume",
        "/ui/queues/default/resume",
    ),
    page(
        "POST",
        "/ui/queues/{queue}/dead/{entry}/requeue",
        "/ui/queues/default/dead/1-0.0/requeue",
    ),
    page(
        "POST",
        "/ui/queues/{queue}/dead/{entry}/delete",
        "/ui/queues/default/dead/1-0.0/delete",
    ),
    page(
        "POST",
        "/ui/queues/{queue}/dead/requeue",
        "/ui/queues/default/dead/requeue",
    ),
    page(
        "POST",
        "/ui/queues/{queue}/dead/delete",
        "/ui/queues/default/dead/delete",
    ),
    page("GET", "/ui/workers", "/ui/workers"),
    page("GET", "/ui/live/workers", "/ui/live/workers"),
    page("GET", "/ui/runs", "/ui/runs"),
    page("GET", "/ui/runs/{id}", "/ui/runs/r1"),
    page("GET", "/ui/runs/{id}/live", "/ui/runs/r1/live"),
    page("GET", "/ui/runs/{id}/log", "/ui/runs/r1/log"),
    page("POST", "/ui/runs/{id}/cancel", "/ui/runs/r1/cancel"),
    page("POST", "/ui/runs/{id}/relaunch", "/ui/runs/r1/relaunch"),
    page("GET", "/ui/workflows", "/ui/workflows"),
    page("GET", "/ui/workflows/{name}", "/ui/workflows/example.ETL"),
    page(
        "POST",
        "/ui/workflows/{name}/start",
        "/ui/workflows/example.ETL/start",
    ),
    page("GET", "/ui/schedules", "/ui/schedules"),
    page("GET", "/ui/keys", "/ui/keys"),
    page("POST", "/ui/keys", "/ui/keys"),
    page("POST", "/ui/keys/{id}/revoke", "/ui/keys/ops/revoke"),
    page("GET", "/ui/reports", "/ui/reports"),
    page("GET", "/ui/reports/queue", "/ui/reports/queue"),
    page("GET", "/ui/reports/queue/live", "/ui/reports/queue/live"),
    page(
        "GET",
        "/ui/reports/runs/{key}",
        "/ui/reports/runs/happy_cat",
    ),
    page(
        "GET",
        "/ui/reports/runs/{key}/live",
        "/ui/reports/runs/happy_cat/live",
    ),
    page(
        "GET",
        "/ui/reports/runs/{key}/log",
        "/ui/reports/runs/happy_cat/log",
    ),
    page(
        "POST",
        "/ui/reports/runs/{key}/kill",
        "/ui/reports/runs/happy_cat/kill",
    ),
    page("GET", "/ui/reports/{name}", "/ui/reports/minimal"),
    page(
        "GET",
        "/ui/reports/{name}/run-options",
        "/ui/reports/minimal/run-options",
    ),
    page("POST", "/ui/reports/{name}/run", "/ui/reports/minimal/run"),
    page(
        "GET",
        "/ui/reports/{name}/versions/{version}",
        "/ui/reports/minimal/versions/v1",
    ),
    page(
        "POST",
        "/ui/reports/{name}/versions/{version}/publish",
        "/ui/reports/minimal/versions/v1/publish",
    ),
    page(
        "GET",
        "/ui/reports/{name}/versions/{version}/zip",
        "/ui/reports/minimal/versions/v1/zip",
    ),
    page(
        "GET",
        "/ui/reports/{name}/versions/{version}/{kind}/{file}",
        "/ui/reports/minimal/versions/v1/artefacts/out.csv",
    ),
    page(
        "GET",
        "/ui/reports/{name}/versions/{version}/preview/{file}",
        "/ui/reports/minimal/versions/v1/preview/out.html",
    ),
    page("GET", "/ui/releases", "/ui/releases"),
    page("POST", "/ui/releases", "/ui/releases"),
    page("GET", "/ui/releases/live", "/ui/releases/live"),
    page("GET", "/ui/releases/{id}", "/ui/releases/RE_00000000"),
    page(
        "GET",
        "/ui/releases/{id}/live",
        "/ui/releases/RE_00000000/live",
    ),
    page(
        "POST",
        "/ui/releases/{id}/publish",
        "/ui/releases/RE_00000000/publish",
    ),
    page(
        "POST",
        "/ui/releases/{id}/cancel",
        "/ui/releases/RE_00000000/cancel",
    ),
    page("GET", "/ui/services", "/ui/services"),
    page("POST", "/ui/services", "/ui/services"),
    page("GET", "/ui/services/live", "/ui/services/live"),
    page(
        "POST",
        "/ui/services/{id}/enable",
        "/ui/services/TS_00000000/enable",
    ),
    page(
        "POST",
        "/ui/services/{id}/disable",
        "/ui/services/TS_00000000/disable",
    ),
    page("GET", "/ui/projects", "/ui/projects"),
    page("GET", "/ui/projects/{id}", "/ui/projects/7"),
    page("GET", "/ui/projects/{id}/live", "/ui/projects/7/live"),
    page("GET", "/ui/work", "/ui/work"),
    page("GET", "/ui/work/{task}", "/ui/work/7"),
    page("POST", "/ui/work/{task}/claim", "/ui/work/7/claim"),
    page("POST", "/ui/work/{task}/save", "/ui/work/7/save"),
    page("POST", "/ui/work/{task}/submit", "/ui/work/7/submit"),
    page("GET", "/ui/reviews", "/ui/reviews"),
    page("GET", "/ui/reviews/{task}", "/ui/reviews/7"),
    page("POST", "/ui/reviews/{task}/claim", "/ui/reviews/7/claim"),
    page("POST", "/ui/reviews/{task}/accept", "/ui/reviews/7/accept"),
    page("POST", "/ui/reviews/{task}/reject", "/ui/reviews/7/reject"),
];

/// Every route: the OpenAPI document's operations, front by front in the document's order,
/// then the console's pages.
pub fn catalogue() -> Vec<RouteDoc> {
    let operations = openapi::fronts()
        .into_iter()
        .flat_map(|(front, operations)| operations.iter().map(move |op| operation(front, op)));
    operations.chain(CONSOLE.iter().map(console_page)).collect()
}

fn operation(front: Front, operation: &Operation) -> RouteDoc {
    let needs = operation.permission.unwrap_or("any key");
    let permission = match operation.auth {
        Auth::Public => "—".to_owned(),
        Auth::UserToken => "a user token".to_owned(),
        Auth::SignedOrMetricsToken => format!("{needs}, or the metrics token"),
        Auth::Signed => match operation.alternative {
            Some(_) => format!("{needs}, or the task service's token"),
            None => needs.to_owned(),
        },
    };
    let example: Vec<String> = operation
        .path
        .split('/')
        .map(|segment| match segment {
            "{id}" => "7".to_owned(),
            _ if segment.starts_with('{') => "x".to_owned(),
            _ => segment.to_owned(),
        })
        .collect();
    RouteDoc {
        method: operation.method.to_ascii_uppercase(),
        path: operation.path,
        front: operation.tag_in(front),
        permission,
        example: example.join("/"),
    }
}

fn console_page(page: &ConsolePage) -> RouteDoc {
    let example = if page.path == STATIC_FILES {
        assets::url_of("console.css").to_owned()
    } else {
        page.example.to_owned()
    };
    let permission = match console_route(page.method, &example) {
        Some(route) => match (route.permission(), route.guard()) {
            (Some(permission), _) => permission.as_str().to_owned(),
            (None, Guard::Session) => "any session".to_owned(),
            (None, _) => "—".to_owned(),
        },
        // `/`, which leads to `/ui/`.
        None => "—".to_owned(),
    };
    RouteDoc {
        method: page.method.to_owned(),
        path: page.path,
        front: CONSOLE_FRONT,
        permission,
        example,
    }
}

/// The console's route for a method and path, if its router takes them.
fn console_route(method: &str, path: &str) -> Option<ConsoleRoute> {
    let method: Method = method.parse().ok()?;
    ConsoleRoute::parse(&method, path).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sources of the console's routers, whose patterns every page must be listed under.
    const ROUTERS: &[&str] = &[
        include_str!("fronts/console/route.rs"),
        include_str!("fronts/console/reports/route.rs"),
        include_str!("fronts/console/releases/route.rs"),
        include_str!("fronts/console/projects/route.rs"),
    ];

    #[test]
    fn every_console_page_is_routed_under_its_pattern() {
        for page in CONSOLE.iter().filter(|page| page.path != "/") {
            let doc = console_page(page);
            let route = console_route(page.method, &doc.example)
                .unwrap_or_else(|| panic!("{} {} names no route", page.method, doc.example));
            assert_eq!(
                route.pattern(),
                page.path,
                "{} {}",
                page.method,
                doc.example
            );
        }
    }

    #[test]
    fn every_pattern_of_the_console_routers_is_catalogued() {
        for source in ROUTERS {
            for (at, _) in source.match_indices("=> \"/ui") {
                let literal = &source[at + 4..];
                let pattern = &literal[..literal.find('"').unwrap()];
                assert!(
                    CONSOLE.iter().any(|page| page.path == pattern),
                    "the console routes {pattern}, which CONSOLE does not list"
                );
            }
        }
    }

    #[test]
    fn routes_are_listed_once() {
        let catalogue = catalogue();
        for (at, route) in catalogue.iter().enumerate() {
            assert!(
                catalogue[..at]
                    .iter()
                    .all(|other| (&other.method, other.path) != (&route.method, route.path)),
                "{} {} is listed twice",
                route.method,
                route.path
            );
        }
    }
}

//! The paths of the console's reports portal.
//!
//! `/ui/reports/queue` and `/ui/reports/runs/{key}` are the portal's own pages, so a report
//! named `queue` has no page of its own in the console (the API still serves it).

use common::auth::api_key::ApiKey;
use common::auth::permissions::Permission;
use warp::http::Method;

use super::reads_some_report;
use crate::fronts::NoRoute;
use crate::fronts::console::route::decoded;
use crate::fronts::console::section::{SectionRoute, method_matches};
use crate::fronts::reports::route::FileKind;

/// Longest file path accepted in a download or preview URL.
const MAX_FILE_PATH: usize = 1024;

/// A route of the reports portal, with its path's parameters decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportsRoute {
    /// `GET /ui/reports[?q=]`: every report, searchable by name.
    Index,
    /// `GET /ui/reports/queue`: report runs queued and running.
    Queue,
    /// `GET /ui/reports/queue/live`: the queue's table, polled.
    QueueLive,
    /// `GET /ui/reports/runs/{key}`: one run, its status and log.
    Run(String),
    /// `GET /ui/reports/runs/{key}/live`: the run's status, polled until it finishes.
    RunLive(String),
    /// `GET /ui/reports/runs/{key}/log[?after=]`: the run's log lines after a cursor.
    RunLog(String),
    /// `POST /ui/reports/runs/{key}/kill`.
    KillRun(String),
    /// `GET /ui/reports/{name}`: a report's versions and its run form.
    Report(String),
    /// `GET /ui/reports/{name}/run-options?branch=&commit=`: the run form's commits and
    /// parameters for a branch and commit.
    RunOptions(String),
    /// `POST /ui/reports/{name}/run`.
    StartRun(String),
    /// `GET /ui/reports/{name}/versions/{version}`.
    Version(String, String),
    /// `POST /ui/reports/{name}/versions/{version}/publish`.
    Publish(String, String),
    /// `GET /ui/reports/{name}/versions/{version}/zip`: every file of the version.
    Zip(String, String),
    /// `GET /ui/reports/{name}/versions/{version}/{artefacts,resources,data}/{file}`.
    Download {
        /// The report.
        name: String,
        /// The version.
        version: String,
        /// Which of the version's files.
        kind: FileKind,
        /// The file's name (it may hold `/`).
        file: String,
    },
    /// `GET /ui/reports/{name}/versions/{version}/preview/{file}`: an artefact shown inline,
    /// sandboxed.
    Preview {
        /// The report.
        name: String,
        /// The version.
        version: String,
        /// The artefact's file name (it may hold `/`).
        file: String,
    },
}

fn param(segment: &str) -> Result<String, NoRoute> {
    decoded(segment).ok_or(NoRoute::NotFound)
}

/// A file path from the segments that follow its route: each decoded, none empty, `.` or
/// `..`, joined with `/`.
fn file_path(segments: &[&str]) -> Result<String, NoRoute> {
    let parts = segments
        .iter()
        .map(|segment| param(segment))
        .collect::<Result<Vec<_>, _>>()?;
    if parts.is_empty() || parts.iter().any(|part| part == "." || part == "..") {
        return Err(NoRoute::NotFound);
    }
    let path = parts.join("/");
    if path.len() > MAX_FILE_PATH {
        return Err(NoRoute::NotFound);
    }
    Ok(path)
}

fn file_kind(segment: &str) -> Option<FileKind> {
    match segment {
        "artefacts" => Some(FileKind::Artefacts),
        "resources" => Some(FileKind::Resources),
        "data" => Some(FileKind::Data),
        _ => None,
    }
}

impl SectionRoute for ReportsRoute {
    fn parse(method: &Method, segments: &[&str]) -> Result<Option<Self>, NoRoute> {
        use ReportsRoute as R;
        let Some((&"reports", rest)) = segments.split_first() else {
            return Ok(None);
        };
        let post = *method == Method::POST;
        let (route, is_post) = match rest {
            [] => (R::Index, false),
            ["queue"] => (R::Queue, false),
            ["queue", "live"] => (R::QueueLive, false),
            ["runs", key] if !post => (R::Run(param(key)?), false),
            ["runs", key, "live"] => (R::RunLive(param(key)?), false),
            ["runs", key, "log"] => (R::RunLog(param(key)?), false),
            ["runs", key, "kill"] => (R::KillRun(param(key)?), true),
            [name] => (R::Report(param(name)?), false),
            [name, "run-options"] => (R::RunOptions(param(name)?), false),
            [name, "run"] => (R::StartRun(param(name)?), true),
            [name, "versions", version] => (R::Version(param(name)?, param(version)?), false),
            [name, "versions", version, "publish"] => {
                (R::Publish(param(name)?, param(version)?), true)
            }
            [name, "versions", version, "zip"] => (R::Zip(param(name)?, param(version)?), false),
            [name, "versions", version, "preview", file @ ..] if !file.is_empty() => (
                R::Preview {
                    name: param(name)?,
                    version: param(version)?,
                    file: file_path(file)?,
                },
                false,
            ),
            [name, "versions", version, kind, file @ ..] if !file.is_empty() => {
                let kind = file_kind(kind).ok_or(NoRoute::NotFound)?;
                (
                    R::Download {
                        name: param(name)?,
                        version: param(version)?,
                        kind,
                        file: file_path(file)?,
                    },
                    false,
                )
            }
            _ => return Err(NoRoute::NotFound),
        };
        method_matches(method, is_post)?;
        Ok(Some(route))
    }

    fn pattern(&self) -> &'static str {
        use ReportsRoute as R;
        match self {
            R::Index => "/ui/reports",
            R::Queue => "/ui/reports/queue",
            R::QueueLive => "/ui/reports/queue/live",
            R::Run(_) => "/ui/reports/runs/{key}",
            R::RunLive(_) => "/ui/reports/runs/{key}/live",
            R::RunLog(_) => "/ui/reports/runs/{key}/log",
            R::KillRun(_) => "/ui/reports/runs/{key}/kill",
            R::Report(_) => "/ui/reports/{name}",
            R::RunOptions(_) => "/ui/reports/{name}/run-options",
            R::StartRun(_) => "/ui/reports/{name}/run",
            R::Version(..) => "/ui/reports/{name}/versions/{version}",
            R::Publish(..) => "/ui/reports/{name}/versions/{version}/publish",
            R::Zip(..) => "/ui/reports/{name}/versions/{version}/zip",
            R::Download { .. } => "/ui/reports/{name}/versions/{version}/{kind}/{file}",
            R::Preview { .. } => "/ui/reports/{name}/versions/{version}/preview/{file}",
        }
    }

    fn permission(&self) -> Permission {
        use ReportsRoute as R;
        match self {
            R::Publish(..) => Permission::ReportsReview,
            R::Run(_)
            | R::RunLive(_)
            | R::RunLog(_)
            | R::KillRun(_)
            | R::RunOptions(_)
            | R::StartRun(_) => Permission::ReportsRun,
            _ => Permission::ReportsRead,
        }
    }

    fn changes_state(&self) -> bool {
        matches!(
            self,
            ReportsRoute::KillRun(_) | ReportsRoute::StartRun(_) | ReportsRoute::Publish(..)
        )
    }

    /// Grants may be scoped to single reports, so a route admits a key that holds its
    /// permission on any report; each handler then checks the report it touches. The queue
    /// is open to readers and runners alike.
    fn admits(&self, key: &ApiKey) -> bool {
        match self {
            ReportsRoute::Queue | ReportsRoute::QueueLive => {
                reads_some_report(key) || key.may_on_some_report(Permission::ReportsRun)
            }
            _ => match self.permission() {
                Permission::ReportsRead => reads_some_report(key),
                permission => key.may_on_some_report(permission),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    fn parse(method: Method, path: &str) -> Result<Option<ReportsRoute>, NoRoute> {
        let path = path.strip_prefix("/ui/").unwrap();
        let segments: Vec<&str> = path.split('/').collect();
        ReportsRoute::parse(&method, &segments)
    }

    fn get(path: &str) -> ReportsRoute {
        parse(Method::GET, path).unwrap().unwrap()
    }

    fn key(global: &[Permission], scoped: &[(&str, Permission)]) -> ApiKey {
        let mut report_permissions: BTreeMap<String, BTreeSet<Permission>> = BTreeMap::new();
        for (report, permission) in scoped {
            report_permissions
                .entry((*report).to_owned())
                .or_default()
                .insert(*permission);
        }
        ApiKey {
            id: "k".into(),
            permissions: global.iter().copied().collect(),
            report_permissions,
            allow_date_only: false,
            created_ms: 0,
            last_used_ms: None,
            revoked_ms: None,
        }
    }

    #[test]
    fn portal_paths_parse_with_decoded_names_and_file_paths() {
        assert_eq!(get("/ui/reports"), ReportsRoute::Index);
        assert_eq!(get("/ui/reports/queue"), ReportsRoute::Queue);
        assert_eq!(get("/ui/reports/queue/live"), ReportsRoute::QueueLive);
        assert_eq!(
            get("/ui/reports/runs/brave_owl"),
            ReportsRoute::Run("brave_owl".into())
        );
        assert_eq!(
            get("/ui/reports/runs/brave_owl/log"),
            ReportsRoute::RunLog("brave_owl".into())
        );
        assert_eq!(
            get("/ui/reports/my%20report"),
            ReportsRoute::Report("my report".into())
        );
        assert_eq!(
            get("/ui/reports/minimal/versions/20240102-030405-0a1b2c3d"),
            ReportsRoute::Version("minimal".into(), "20240102-030405-0a1b2c3d".into())
        );
        assert_eq!(
            get("/ui/reports/minimal/versions/v1/resources/meta/input%20file.csv"),
            ReportsRoute::Download {
                name: "minimal".into(),
                version: "v1".into(),
                kind: FileKind::Resources,
                file: "meta/input file.csv".into(),
            }
        );
        assert_eq!(
            get("/ui/reports/minimal/versions/v1/preview/graph.png"),
            ReportsRoute::Preview {
                name: "minimal".into(),
                version: "v1".into(),
                file: "graph.png".into(),
            }
        );
        assert_eq!(
            get("/ui/reports/minimal/versions/v1/zip"),
            ReportsRoute::Zip("minimal".into(), "v1".into())
        );
        let post = |path: &str| parse(Method::POST, path).unwrap().unwrap();
        assert_eq!(
            post("/ui/reports/minimal/run"),
            ReportsRoute::StartRun("minimal".into())
        );
        // A report called `runs` can still be run.
        assert_eq!(
            post("/ui/reports/runs/run"),
            ReportsRoute::StartRun("runs".into())
        );
        assert_eq!(
            post("/ui/reports/runs/brave_owl/kill"),
            ReportsRoute::KillRun("brave_owl".into())
        );
        assert_eq!(
            post("/ui/reports/minimal/versions/v1/publish"),
            ReportsRoute::Publish("minimal".into(), "v1".into())
        );
    }

    #[test]
    fn other_paths_and_methods_are_refused() {
        assert_eq!(parse(Method::GET, "/ui/runs"), Ok(None));
        assert_eq!(parse(Method::GET, "/ui/reportsx"), Ok(None));
        for bad in [
            "/ui/reports/minimal/versions/v1/elsewhere/x",
            "/ui/reports/minimal/versions/v1/artefacts/../x",
            "/ui/reports/minimal/versions/v1/artefacts/a//b",
            "/ui/reports/minimal/versions/v1/preview/%2E%2E/x",
            "/ui/reports/minimal/nothing",
            "/ui/reports/%2F",
        ] {
            assert_eq!(parse(Method::GET, bad), Err(NoRoute::NotFound), "{bad}");
        }
        assert_eq!(
            parse(Method::GET, "/ui/reports/minimal/run"),
            Err(NoRoute::MethodNotAllowed)
        );
        assert_eq!(
            parse(Method::POST, "/ui/reports/minimal"),
            Err(NoRoute::MethodNotAllowed)
        );
    }

    #[test]
    fn changes_need_their_permission_and_scoped_grants_admit() {
        let publish = ReportsRoute::Publish("minimal".into(), "v".into());
        let start = ReportsRoute::StartRun("minimal".into());
        assert!(publish.changes_state() && start.changes_state());
        assert!(!ReportsRoute::Index.changes_state());
        assert_eq!(publish.permission(), Permission::ReportsReview);
        assert_eq!(start.permission(), Permission::ReportsRun);

        let scoped_reader = key(&[], &[("minimal", Permission::ReportsRead)]);
        assert!(ReportsRoute::Index.admits(&scoped_reader));
        assert!(ReportsRoute::Queue.admits(&scoped_reader));
        assert!(!publish.admits(&scoped_reader));
        assert!(!start.admits(&scoped_reader));
        let scoped_reviewer = key(&[], &[("other", Permission::ReportsReview)]);
        assert!(ReportsRoute::Index.admits(&scoped_reviewer));
        assert!(publish.admits(&scoped_reviewer));
        let runner = key(&[Permission::ReportsRun], &[]);
        assert!(start.admits(&runner));
        assert!(ReportsRoute::Queue.admits(&runner));
        assert!(!ReportsRoute::Index.admits(&runner));
        let nobody = key(&[Permission::WorkflowsRead], &[]);
        assert!(!ReportsRoute::Index.admits(&nobody));
        assert!(!ReportsRoute::Queue.admits(&nobody));
        assert!(ReportsRoute::Index.admits(&key(&[Permission::Admin], &[])));
    }
}

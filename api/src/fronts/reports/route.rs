//! Which endpoint a method and path (below `/api/v1/`) name. Trailing slashes are optional;
//! a file name may span several segments, be percent-encoded, or use `:` for `/` as
//! OrderlyWeb's clients write it (`meta:data.csv`).

use serde_json::{Value, json};
use warp::http::Method;

/// What a route answers with, for `Accept` checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answers {
    /// JSON in the envelope.
    Json,
    /// CSV.
    Csv,
    /// A file download of any type.
    Download,
}

/// The kinds of files a version has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// Declared artefacts.
    Artefacts,
    /// Resources the script read.
    Resources,
    /// Data extracts.
    Data,
}

/// The stored forms of a data extract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataForm {
    /// CSV.
    Csv,
    /// R's RDS.
    Rds,
}

/// An endpoint of the front, with its path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /`
    Index,
    /// `POST /login/`
    Login,
    /// `GET /reports/`
    Reports,
    /// `GET /reports/:name/`
    ReportVersions { name: String },
    /// `POST /reports/:name/run/`
    Run { name: String },
    /// `GET /reports/:key/status/`
    Status { key: String },
    /// `DELETE /reports/:key/kill/`
    Kill { key: String },
    /// `GET /reports/:name/latest/changelog/`
    LatestChangelog { name: String },
    /// `GET /reports/:name/versions/:version/`
    Version { name: String, version: String },
    /// `POST /reports/:name/versions/:version/publish/`
    Publish { name: String, version: String },
    /// `GET /reports/:name/versions/:version/changelog/`
    Changelog { name: String, version: String },
    /// `GET /reports/:name/versions/:version/all/`
    Zip { name: String, version: String },
    /// `GET /reports/:name/versions/:version/{artefacts,resources,data}/`
    Files {
        name: String,
        version: String,
        kind: FileKind,
    },
    /// `GET /reports/:name/versions/:version/{artefacts,resources,data}/:file/`
    File {
        name: String,
        version: String,
        kind: FileKind,
        file: String,
    },
    /// `GET /versions/`
    AllVersions,
    /// `GET /data/{csv,rds}/:id/`
    DataByHash { id: String, form: DataForm },
    /// `GET /git/status/` (also under `/reports/`)
    GitStatus,
    /// `POST /git/fetch/` (also under `/reports/`)
    GitFetch,
    /// `POST /git/pull/` (also under `/reports/`)
    GitPull,
    /// `POST /bundle/pack/:name/`
    BundlePack { name: String },
    /// `POST /bundle/import/`
    BundleImport,
    /// `GET /queue/status/`
    QueueStatus,
}

fn segments(tail: &str) -> Vec<String> {
    tail.split('/')
        .filter(|segment| !segment.is_empty())
        .map(|segment| {
            percent_encoding::percent_decode_str(segment)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect()
}

fn file_name(parts: &[String]) -> String {
    parts.join("/").replace(':', "/")
}

fn file_kind(segment: &str) -> Option<FileKind> {
    match segment {
        "artefacts" => Some(FileKind::Artefacts),
        "resources" => Some(FileKind::Resources),
        "data" => Some(FileKind::Data),
        _ => None,
    }
}

impl Route {
    /// The route a method and path below `/api/v1/` name, if any.
    pub fn parse(method: &Method, tail: &str) -> Option<Self> {
        let parts = segments(tail);
        let words: Vec<&str> = parts.iter().map(String::as_str).collect();
        let get = method == Method::GET;
        let post = method == Method::POST;
        let owned = |index: usize| parts[index].clone();
        let route = match words.as_slice() {
            [] if get => Self::Index,
            ["login"] if post => Self::Login,
            ["reports"] if get => Self::Reports,
            ["versions"] if get => Self::AllVersions,
            ["queue", "status"] if get => Self::QueueStatus,
            ["reports", "git", "status"] | ["git", "status"] if get => Self::GitStatus,
            ["reports", "git", "fetch"] | ["git", "fetch"] if post => Self::GitFetch,
            ["reports", "git", "pull"] | ["git", "pull"] if post => Self::GitPull,
            ["bundle", "pack", _] if post => Self::BundlePack { name: owned(2) },
            ["bundle", "import"] if post => Self::BundleImport,
            ["data", "csv", _] if get => Self::DataByHash {
                id: owned(2),
                form: DataForm::Csv,
            },
            ["data", "rds", _] if get => Self::DataByHash {
                id: owned(2),
                form: DataForm::Rds,
            },
            ["reports", _] if get => Self::ReportVersions { name: owned(1) },
            ["reports", _, "run"] if post => Self::Run { name: owned(1) },
            ["reports", _, "status"] if get => Self::Status { key: owned(1) },
            ["reports", _, "kill"] if method == Method::DELETE => Self::Kill { key: owned(1) },
            ["reports", _, "latest", "changelog"] if get => {
                Self::LatestChangelog { name: owned(1) }
            }
            ["reports", _, "versions", _, rest @ ..] => {
                let (name, version) = (owned(1), owned(3));
                match rest {
                    [] if get => Self::Version { name, version },
                    ["publish"] if post => Self::Publish { name, version },
                    ["changelog"] if get => Self::Changelog { name, version },
                    ["all"] if get => Self::Zip { name, version },
                    [kind] if get => Self::Files {
                        name,
                        version,
                        kind: file_kind(kind)?,
                    },
                    [kind, ..] if get => Self::File {
                        name,
                        version,
                        kind: file_kind(kind)?,
                        file: file_name(&parts[5..]),
                    },
                    _ => return None,
                }
            }
            _ => return None,
        };
        Some(route)
    }

    /// The route's pattern, for logs and metrics.
    pub fn pattern(&self) -> &'static str {
        match self {
            Self::Index => "/api/v1/",
            Self::Login => "/api/v1/login/",
            Self::Reports => "/api/v1/reports/",
            Self::ReportVersions { .. } => "/api/v1/reports/{name}/",
            Self::Run { .. } => "/api/v1/reports/{name}/run/",
            Self::Status { .. } => "/api/v1/reports/{key}/status/",
            Self::Kill { .. } => "/api/v1/reports/{key}/kill/",
            Self::LatestChangelog { .. } => "/api/v1/reports/{name}/latest/changelog/",
            Self::Version { .. } => "/api/v1/reports/{name}/versions/{version}/",
            Self::Publish { .. } => "/api/v1/reports/{name}/versions/{version}/publish/",
            Self::Changelog { .. } => "/api/v1/reports/{name}/versions/{version}/changelog/",
            Self::Zip { .. } => "/api/v1/reports/{name}/versions/{version}/all/",
            Self::Files { .. } => "/api/v1/reports/{name}/versions/{version}/{kind}/",
            Self::File { .. } => "/api/v1/reports/{name}/versions/{version}/{kind}/{file}/",
            Self::AllVersions => "/api/v1/versions/",
            Self::DataByHash { .. } => "/api/v1/data/{form}/{id}/",
            Self::GitStatus => "/api/v1/git/status/",
            Self::GitFetch => "/api/v1/git/fetch/",
            Self::GitPull => "/api/v1/git/pull/",
            Self::BundlePack { .. } => "/api/v1/bundle/pack/{name}/",
            Self::BundleImport => "/api/v1/bundle/import/",
            Self::QueueStatus => "/api/v1/queue/status/",
        }
    }

    /// What the route answers with.
    pub fn answers(&self) -> Answers {
        match self {
            Self::Zip { .. } | Self::File { .. } | Self::BundlePack { .. } => Answers::Download,
            Self::DataByHash {
                form: DataForm::Csv,
                ..
            } => Answers::Csv,
            Self::DataByHash { .. } => Answers::Download,
            _ => Answers::Json,
        }
    }
}

/// The index: every endpoint of the front, as the OpenAPI document lists them.
pub fn index() -> Value {
    let endpoints: Vec<Value> = crate::openapi::reports::OPERATIONS
        .iter()
        .map(|operation| {
            let url = operation
                .path
                .split('/')
                .map(|segment| match segment.strip_prefix('{') {
                    Some(name) => format!(":{}", name.trim_end_matches('}')),
                    None => segment.to_owned(),
                })
                .collect::<Vec<_>>()
                .join("/");
            json!({
                "method": operation.method.to_uppercase(),
                "url": url,
                "permission": crate::openapi::reports::permission_text(operation),
                "description": operation.summary,
            })
        })
        .collect();
    json!({
        "name": "baton",
        "version": env!("CARGO_PKG_VERSION"),
        "endpoints": endpoints,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_slashes_are_optional() {
        for tail in ["reports", "reports/", "reports//"] {
            assert_eq!(Route::parse(&Method::GET, tail), Some(Route::Reports));
        }
        assert_eq!(
            Route::parse(&Method::GET, "reports/brave_otter/status/"),
            Some(Route::Status {
                key: "brave_otter".into()
            })
        );
    }

    #[test]
    fn file_names_may_be_encoded() {
        for tail in [
            "reports/r/versions/v/resources/meta/data.csv",
            "reports/r/versions/v/resources/meta%2Fdata.csv/",
            "reports/r/versions/v/resources/meta:data.csv/",
        ] {
            assert_eq!(
                Route::parse(&Method::GET, tail),
                Some(Route::File {
                    name: "r".into(),
                    version: "v".into(),
                    kind: FileKind::Resources,
                    file: "meta/data.csv".into()
                }),
                "{tail}"
            );
        }
    }

    #[test]
    fn unknown_paths_and_methods_name_no_route() {
        assert_eq!(Route::parse(&Method::GET, "nothing"), None);
        assert_eq!(Route::parse(&Method::GET, "reports/x/run"), None);
        assert_eq!(Route::parse(&Method::POST, "reports"), None);
        assert_eq!(
            Route::parse(&Method::GET, "reports/r/versions/v/movies"),
            None
        );
    }

    #[test]
    fn every_documented_operation_names_its_route() {
        for operation in crate::openapi::reports::OPERATIONS {
            let method: Method = operation.method.to_uppercase().parse().unwrap();
            let tail = operation.path.trim_start_matches("/api/v1/");
            let concrete = tail.replace(['{', '}'], "");
            let route = Route::parse(&method, &concrete).unwrap_or_else(|| {
                panic!("{} {} names no route", operation.method, operation.path)
            });
            let pattern = route
                .pattern()
                .replace("{kind}", concrete.split('/').nth(4).unwrap_or_default())
                .replace("{form}", concrete.split('/').nth(1).unwrap_or_default())
                .replace("{file}", "{artefact}");
            let documented = operation
                .path
                .replace("{data}/", "{artefact}/")
                .replace("{resource}/", "{artefact}/");
            assert_eq!(
                pattern, documented,
                "{} {}",
                operation.method, operation.path
            );
        }
    }
}

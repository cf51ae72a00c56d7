//! The reports front: OrderlyWeb's API v1 (every path is also served under `/api/v2/`, and
//! every trailing slash is optional).

use super::{Auth, Operation, QueryParam};

const DOWNLOAD_QUERY: &[QueryParam] = &[QueryParam::string(
    "access_token",
    "A bearer token, for links opened without an Authorization header.",
)];

const DATA_QUERY: &[QueryParam] = &[
    QueryParam::string("type", "csv (the default) or rds.").one_of(&["csv", "rds"]),
    QueryParam::string(
        "access_token",
        "A bearer token, for links opened without an Authorization header.",
    ),
];

const RUN_QUERY: &[QueryParam] = &[QueryParam::integer(
    "timeout",
    "Seconds before the run is killed, 1 to 604800 (default 10800).",
)
.range(1, 604_800)];

/// What a file download is served as: the type its name implies, or
/// `application/octet-stream` when the name implies none.
const FILE_TYPES: &[&str] = &["*/*"];

const STATUS_QUERY: &[QueryParam] = &[
    QueryParam::boolean(
        "output",
        "Include the run's log: at most 1000 lines, with output_next (a cursor) and \
         output_more (whether more lines wait). Only who started the run and reviewers of its \
         report see its log and version.",
    ),
    QueryParam::string(
        "output_after",
        "With output=true: the lines after this cursor (an output_next of an earlier answer).",
    )
    .pattern("^[0-9]{1,19}-[0-9]{1,19}$"),
];

const PUBLISH_QUERY: &[QueryParam] = &[QueryParam::boolean(
    "value",
    "true publishes (the default), false unpublishes.",
)];

/// OrderlyWeb's routes under `/api/v1/`.
pub const OPERATIONS: &[Operation] = &[
    Operation::get("/api/v1/", "The index of endpoints.").public(),
    Operation::post(
        "/api/v1/login/",
        "A bearer token for a user token; throttled per user and per address (429 with Retry-After).",
    )
    .user_token()
    .errors(&[429]),
    Operation::get(
        "/api/v1/reports/",
        "Reports with their latest visible version.",
    )
    .needs("reports.read"),
    Operation::get(
        "/api/v1/reports/{name}/",
        "The visible version ids of a report.",
    )
    .needs("reports.read"),
    Operation::get(
        "/api/v1/reports/{name}/versions/{version}/",
        "A version's details.",
    )
    .needs("reports.read"),
    Operation::post(
        "/api/v1/reports/{name}/run/",
        "Run a report; answers its key.",
    )
    .needs("reports.run")
    .optional_body("ReportRun")
    .query(RUN_QUERY)
    .errors(&[404]),
    Operation::get(
        "/api/v1/reports/{key}/status/",
        "A run's status, queue position and log.",
    )
    .needs("reports.run")
    .query(STATUS_QUERY),
    Operation::delete(
        "/api/v1/reports/{key}/kill/",
        "Kill a queued or running run (400 for a finished one, as OrderlyWeb answers).",
    )
    .needs("reports.run")
    .errors(&[400]),
    Operation::post(
        "/api/v1/reports/{name}/versions/{version}/publish/",
        "Publish or unpublish a version.",
    )
    .needs("reports.review")
    .query(PUBLISH_QUERY),
    Operation::get(
        "/api/v1/git/status/",
        "The reports repository's git status.",
    )
    .needs("reports.run"),
    Operation::post(
        "/api/v1/git/fetch/",
        "Fetch the reports repository (409 when git cannot).",
    )
    .needs("reports.run")
    .errors(&[409]),
    Operation::post(
        "/api/v1/git/pull/",
        "Pull the reports repository (409 when git cannot, e.g. without an upstream).",
    )
    .needs("reports.run")
    .errors(&[409]),
    Operation::get(
        "/api/v1/reports/{name}/versions/{version}/data/",
        "A version's data extracts and their hashes.",
    )
    .needs("reports.read"),
    Operation::get(
        "/api/v1/reports/{name}/versions/{version}/data/{data}/",
        "Download a data extract: CSV, or RDS with ?type=rds.",
    )
    .needs("reports.read")
    .query(DATA_QUERY)
    .produces("text/csv")
    .or_produces(&["application/octet-stream"]),
    Operation::get(
        "/api/v1/reports/{name}/versions/{version}/artefacts/",
        "A version's artefact files and their hashes.",
    )
    .needs("reports.read"),
    Operation::get(
        "/api/v1/reports/{name}/versions/{version}/artefacts/{artefact}/",
        "Download an artefact file, typed by its name (application/octet-stream when unknown).",
    )
    .needs("reports.read")
    .query(DOWNLOAD_QUERY)
    .produces("application/octet-stream")
    .or_produces(FILE_TYPES),
    Operation::get(
        "/api/v1/reports/{name}/versions/{version}/resources/",
        "A version's resource files and their hashes.",
    )
    .needs("reports.read"),
    Operation::get(
        "/api/v1/reports/{name}/versions/{version}/resources/{resource}/",
        "Download a resource file, typed by its name (application/octet-stream when unknown).",
    )
    .needs("reports.read")
    .query(DOWNLOAD_QUERY)
    .produces("application/octet-stream")
    .or_produces(FILE_TYPES),
    Operation::get(
        "/api/v1/reports/{name}/versions/{version}/all/",
        "A zip of the version (data too for reviewers).",
    )
    .needs("reports.read")
    .query(DOWNLOAD_QUERY)
    .produces("application/zip"),
    Operation::get(
        "/api/v1/reports/{name}/versions/{version}/changelog/",
        "The changelog up to a version.",
    )
    .needs("reports.read"),
    Operation::get(
        "/api/v1/reports/{name}/latest/changelog/",
        "The changelog of the latest visible version.",
    )
    .needs("reports.read"),
    Operation::get(
        "/api/v1/versions/",
        "Every visible version of every report.",
    )
    .needs("reports.read"),
    Operation::get("/api/v1/data/csv/{id}/", "A data extract by hash, as CSV.")
        .needs("reports.read")
        .query(DOWNLOAD_QUERY)
        .produces("text/csv"),
    Operation::get("/api/v1/data/rds/{id}/", "A data extract by hash, as RDS.")
        .needs("reports.read")
        .query(DOWNLOAD_QUERY)
        .produces("application/octet-stream"),
    Operation::post(
        "/api/v1/bundle/pack/{name}/",
        "A bundle zip to run the report elsewhere.",
    )
    .needs("reports.run")
    .optional_body("ReportRun")
    .produces("application/zip")
    .errors(&[404]),
    Operation::post(
        "/api/v1/bundle/import/",
        "Import a completed bundle as an unpublished version (409 when its version id is taken; 503 while as many bundles as allowed are being received).",
    )
    .needs("reports.run")
    .zip_body()
    .errors(&[409, 503]),
    Operation::get(
        "/api/v1/queue/status/",
        "Queued and running report runs (a version only for who started the run and reviewers).",
    ),
];

/// Who may call `operation`, in words, for the front's index.
pub fn permission_text(operation: &Operation) -> &'static str {
    match (operation.auth, operation.permission) {
        (Auth::Public, _) => "none",
        (Auth::UserToken, _) => "none (a user token)",
        (Auth::Signed, Some(permission)) => permission,
        (Auth::Signed, None) => "any authenticated caller",
        (Auth::SignedOrMetricsToken, _) => "admin, or the metrics token",
    }
}

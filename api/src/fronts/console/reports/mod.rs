//! The console's reports portal (OrderlyWeb's web portal): every report of the repository,
//! a report's versions, a version's files, README and changelog, publishing, running a report
//! and following its log, and the queue of report runs.
//!
//! Its pages read and change state through the reports front (`fronts::reports`): readers
//! see published versions only and reviewers all of them, exactly as in the API, and grants
//! may be scoped to single reports (`report:NAME/reports.read`).
//!
//! - [`route`]: the portal's paths and what each needs.
//! - [`index`]: the list of reports; [`report`]: a report's versions and its run form
//!   ([`run_form`]); [`version`]: one version; [`files`]: downloads, previews and zips.
//! - [`run`]: starting, following and killing a run; [`queue`]: the runs queued and running.
//! - [`markdown`]: READMEs rendered without raw HTML; [`repository`]: what the pages read
//!   from the reports repository.

pub mod files;
pub mod index;
pub mod markdown;
pub mod queue;
pub mod report;
pub mod repository;
pub mod route;
pub mod run;
pub mod run_form;
pub mod version;

use common::auth::api_key::ApiKey;
use common::auth::permissions::Permission;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

pub use route::ReportsRoute;

use super::form::Form;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::fronts::reports::access::Access;
use crate::request::RequestParts;
use crate::state::AppState;

/// True when `key` reads at least one report (`reports.read` or `reports.review`, everywhere
/// or on a single report): the portal opens for it.
pub fn reads_some_report(key: &ApiKey) -> bool {
    key.may_on_some_report(Permission::ReportsRead)
        || key.may_on_some_report(Permission::ReportsReview)
}

/// The reports front's view of a console caller.
fn access_of(caller: &Caller) -> Access {
    Access {
        key: caller.key.clone(),
    }
}

/// Renders a page of the portal (a GET).
pub async fn show(
    state: &AppState,
    caller: &Caller,
    request: &RequestParts,
    route: ReportsRoute,
) -> Result<warp::reply::Response, ApiError> {
    use ReportsRoute as R;
    let access = access_of(caller);
    let query = Form::query(&request.path_and_query);
    match route {
        R::Index => index::page_of_reports(state, caller, &access, &query).await,
        R::Queue => queue::page_of_queue(state, caller, &access).await,
        R::QueueLive => queue::live(state, &access).await,
        R::Report(name) => report::page_of_report(state, caller, &access, &name).await,
        R::RunOptions(name) => run_form::options(state, &access, &name, &query).await,
        R::Version(name, id) => {
            version::page_of_version(state, caller, &access, &name, &id, notice(&query)).await
        }
        R::Zip(name, id) => files::zip(state, request, &name, &id).await,
        R::Download {
            name,
            version,
            kind,
            file,
        } => files::download(state, request, &name, &version, kind, &file).await,
        R::Preview {
            name,
            version,
            file,
        } => files::preview(state, request, &name, &version, &file).await,
        R::Run(key) => run::page_of_run(state, caller, &access, &key, notice(&query)).await,
        R::RunLive(key) => run::live(state, caller, &access, &key).await,
        R::RunLog(key) => run::log(state, &access, &key, &query).await,
        R::KillRun(_) | R::StartRun(_) | R::Publish(..) => {
            Err(ApiError::NotFound("no such page".into()))
        }
    }
}

/// Does what a form of the portal asks (a POST whose CSRF token was checked).
pub async fn act(
    state: &AppState,
    caller: &Caller,
    route: ReportsRoute,
    form: Form,
) -> Result<warp::reply::Response, ApiError> {
    use ReportsRoute as R;
    let access = access_of(caller);
    match route {
        R::StartRun(name) => run::start(state, caller, &access, &name, &form).await,
        R::KillRun(key) => run::kill(state, &access, &key).await,
        R::Publish(name, id) => version::publish(state, &access, &name, &id, &form).await,
        _ => Err(ApiError::NotFound("no such action".into())),
    }
}

/// The notice for `?done=` after an action of the portal (a fixed set, so no text comes
/// from the URL).
fn notice(query: &Form) -> Option<String> {
    let text = match query.get("done")? {
        "published" => "Published: every reader of the report sees this version.",
        "unpublished" => "Unpublished: only reviewers see this version now.",
        "killed" => "The run is killed.",
        "finished" => "The run had already finished; nothing was killed.",
        _ => return None,
    };
    Some(text.to_owned())
}

/// Characters kept as they are in a path segment: letters, digits and `-._~`.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `text` percent-encoded as one path segment.
fn segment(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

/// The portal's URL of report `name`.
fn report_url(name: &str) -> String {
    format!("/ui/reports/{}", segment(name))
}

/// The portal's URL of version `id` of report `name`.
fn version_url(name: &str, id: &str) -> String {
    format!("{}/versions/{}", report_url(name), segment(id))
}

/// A file path (which may hold `/`) as URL path segments.
fn file_segments(path: &str) -> String {
    path.split('/').map(segment).collect::<Vec<_>>().join("/")
}

/// A size as people read it: `812 B`, `4.2 KB`, `1.5 MB`.
fn size_text(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A version's date as shown: OrderlyWeb's `2016-10-06 14:23:57.0` without the fraction.
fn date_text(date: &str) -> String {
    date.strip_suffix(".0").unwrap_or(date).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_encode_each_segment_and_sizes_read_well() {
        assert_eq!(report_url("a b/c"), "/ui/reports/a%20b%2Fc");
        assert_eq!(
            version_url("minimal", "20240102-030405-0a1b2c3d"),
            "/ui/reports/minimal/versions/20240102-030405-0a1b2c3d"
        );
        assert_eq!(file_segments("meta/in put.csv"), "meta/in%20put.csv");
        assert_eq!(size_text(812), "812 B");
        assert_eq!(size_text(4_200), "4.2 KB");
        assert_eq!(size_text(1_500_000), "1.5 MB");
        assert_eq!(date_text("2016-10-06 14:23:57.0"), "2016-10-06 14:23:57");
    }

    #[test]
    fn notices_come_from_a_fixed_set() {
        assert!(notice(&Form::query("/x?done=published")).is_some());
        assert_eq!(notice(&Form::query("/x?done=<script>")), None);
    }
}

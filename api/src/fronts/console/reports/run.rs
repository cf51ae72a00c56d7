//! Running a report from the console: the run form's submission, the run's page (its status
//! and the runs ahead of it polled until it finishes, its log for who started it and the
//! report's reviewers, a link to the version it made), and the Kill button.

use askama::Template;
use common::engine::model::RunKind;
use common::operations::OperationError;
use common::operations::reports::RunRequest;
use common::reports::config::ReportConfig;
use common::reports::run_spec::RunChangelog;
use serde_json::Map;
use warp::http::StatusCode;

use super::run_form::{parameter_field, parameter_value};
use super::{report_url, segment, version_url};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::fronts::console::form::Form;
use crate::fronts::console::html::{Chrome, datetime, final_fragment, page, see_other};
use crate::fronts::reports::access::Access;
use crate::fronts::reports::runs::{
    self, DEFAULT_TIMEOUT_SECS, RunProgress, check_changelog, kill_run, progress, run_for,
    sees_details,
};
use crate::state::AppState;

/// Log lines sent per poll.
const LOG_LINES_PER_POLL: usize = 500;
/// Longest changelog message accepted from the form.
const MAX_CHANGELOG: usize = 2000;

/// The URL of run `key`'s page.
fn run_url(key: &str) -> String {
    format!("/ui/reports/runs/{}", segment(key))
}

/// What a submitted run form asks for, given the report's parameters at its commit.
fn run_request(form: &Form, config: &ReportConfig) -> Result<RunRequest, ApiError> {
    let mut params = Map::new();
    for parameter in &config.parameters {
        if let Some(text) = form.text(&parameter_field(&parameter.name)) {
            params.insert(
                parameter.name.clone(),
                parameter_value(text, parameter.default.as_ref()),
            );
        }
    }
    let changelog = match form.text("changelog_message") {
        Some(message) if message.chars().count() > MAX_CHANGELOG => {
            return Err(ApiError::bad_request(format!(
                "the changelog message is longer than {MAX_CHANGELOG} characters"
            )));
        }
        Some(message) => {
            let changelog = RunChangelog {
                message: message.to_owned(),
                label: form.text("changelog_type").unwrap_or("internal").to_owned(),
            };
            check_changelog(&changelog)?;
            Some(changelog)
        }
        None => None,
    };
    Ok(RunRequest {
        instances: Map::new(),
        params,
        git_branch: form.text("branch").map(str::to_owned),
        git_commit: form.text("commit").map(str::to_owned),
        changelog,
    })
}

/// `POST /ui/reports/{name}/run`: queues the run and shows it, or shows the report's page
/// again with the form as sent and why it was refused (400).
pub async fn start(
    state: &AppState,
    caller: &Caller,
    access: &Access,
    name: &str,
    form: &Form,
) -> Result<warp::reply::Response, ApiError> {
    access.require(name, common::auth::permissions::Permission::ReportsRun)?;
    let repo = runs::repo(state)?;
    let runner = runs::runner(state, &repo);
    let refused = |problem: String| async move {
        super::report::render(
            state,
            caller,
            access,
            name,
            Some((form, problem)),
            StatusCode::BAD_REQUEST,
        )
        .await
    };
    let at = RunRequest {
        git_branch: form.text("branch").map(str::to_owned),
        git_commit: form.text("commit").map(str::to_owned),
        ..RunRequest::default()
    };
    let config = match runner.resolve(name, &at).await {
        Ok((_, config)) => config,
        Err(OperationError::Invalid(problem) | OperationError::ReportNotFound(problem)) => {
            return refused(problem).await;
        }
        Err(other) => return Err(other.into()),
    };
    let request = match run_request(form, &config) {
        Ok(request) => request,
        Err(ApiError::BadRequest { message, .. }) => return refused(message).await,
        Err(other) => return Err(other),
    };
    match runner
        .run_report(name, request, &access.key.id, DEFAULT_TIMEOUT_SECS)
        .await
    {
        Ok(reserved) => Ok(see_other(&run_url(&reserved.key))),
        Err(OperationError::Invalid(problem) | OperationError::ReportNotFound(problem)) => {
            refused(problem).await
        }
        Err(other) => Err(other.into()),
    }
}

/// The live part of a run's page.
#[derive(Debug, Clone)]
struct RunLive {
    key: String,
    status: &'static str,
    finished: bool,
    ahead: Vec<String>,
    started: String,
    error: Option<String>,
    version: Option<(String, String)>,
    csrf: String,
}

#[derive(Template)]
#[template(path = "console/reports/run.html")]
struct RunPage {
    chrome: Chrome,
    name: String,
    report_url: String,
    created: String,
    private: bool,
    live: RunLive,
}

#[derive(Template)]
#[template(path = "console/reports/run_live.html")]
struct RunLiveFragment {
    live: RunLive,
}

fn run_live(caller: &Caller, name: &str, key: &str, progress: RunProgress) -> RunLive {
    RunLive {
        key: key.to_owned(),
        status: progress.status,
        finished: progress.finished(),
        ahead: progress.queue.into_iter().map(|entry| entry.key).collect(),
        started: progress.started_ms.map(datetime).unwrap_or_default(),
        error: progress.error,
        version: progress
            .version
            .filter(|_| progress.status == "success")
            .map(|version| (version_url(name, &version), version)),
        csrf: caller
            .session
            .as_ref()
            .map(|session| session.csrf_token.clone())
            .unwrap_or_default(),
    }
}

/// `GET /ui/reports/runs/{key}`.
pub async fn page_of_run(
    state: &AppState,
    caller: &Caller,
    access: &Access,
    key: &str,
    notice: Option<String>,
) -> Result<warp::reply::Response, ApiError> {
    let report_run = run_for(state, access, key).await?;
    let progress = progress(state, access, &report_run).await?;
    page(&RunPage {
        chrome: Chrome::new(caller, format!("Run {key}"), "reports").with_notice(notice),
        report_url: report_url(&report_run.name),
        created: datetime(report_run.created_ms),
        private: sees_details(access, &report_run),
        live: run_live(caller, &report_run.name, key, progress),
        name: report_run.name,
    })
}

/// `GET /ui/reports/runs/{key}/live`: the run's status, polled until it finishes (then 286).
pub async fn live(
    state: &AppState,
    caller: &Caller,
    access: &Access,
    key: &str,
) -> Result<warp::reply::Response, ApiError> {
    let report_run = run_for(state, access, key).await?;
    let progress = progress(state, access, &report_run).await?;
    let fragment = RunLiveFragment {
        live: run_live(caller, &report_run.name, key, progress),
    };
    if fragment.live.finished {
        final_fragment(&fragment)
    } else {
        page(&fragment)
    }
}

#[derive(Template)]
#[template(path = "console/reports/run_log.html")]
struct LogFragment {
    log_url: String,
    lines: Vec<String>,
    next_after: Option<String>,
}

/// `GET /ui/reports/runs/{key}/log?after=CURSOR`: the lines after the cursor and, while the
/// run goes on (or lines remain), the element that polls for the next ones; once the run has
/// finished and every line is sent, 286 so that polling stops.
pub async fn log(
    state: &AppState,
    access: &Access,
    key: &str,
    query: &Form,
) -> Result<warp::reply::Response, ApiError> {
    let report_run = run_for(state, access, key).await?;
    if !sees_details(access, &report_run) {
        return Err(ApiError::Forbidden(format!(
            "only who started run '{key}' and reviewers of report '{}' see its log",
            report_run.name
        )));
    }
    let runs = state.store.runs_of(RunKind::Report);
    // The status is read before the lines: a run seen finished has written every line.
    let finished = runs
        .get(&report_run.run_id)
        .await?
        .is_none_or(|run| run.status.is_finished());
    let after = query.text("after").filter(|after| {
        after.len() <= 40 && after.bytes().all(|b| b.is_ascii_digit() || b == b'-')
    });
    let lines = runs
        .read_log(&report_run.run_id, None, after, LOG_LINES_PER_POLL)
        .await?
        .unwrap_or_default();
    let last = lines
        .last()
        .map(|line| line.id.clone())
        .or_else(|| after.map(str::to_owned));
    let more = lines.len() == LOG_LINES_PER_POLL || !finished;
    let fragment = LogFragment {
        log_url: format!("{}/log", run_url(key)),
        lines: lines.into_iter().map(|line| line.line).collect(),
        next_after: more.then(|| last.unwrap_or_default()),
    };
    if more {
        page(&fragment)
    } else {
        final_fragment(&fragment)
    }
}

/// `POST /ui/reports/runs/{key}/kill`: stops the run and shows it.
pub async fn kill(
    state: &AppState,
    access: &Access,
    key: &str,
) -> Result<warp::reply::Response, ApiError> {
    let report_run = run_for(state, access, key).await?;
    let done = match kill_run(state, access, &report_run).await {
        Ok(()) => "killed",
        // It finished (or was removed) between the page and the click.
        Err(ApiError::BadRequest { .. }) => "finished",
        Err(other) => return Err(other),
    };
    Ok(see_other(&format!("{}?done={done}", run_url(key))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_form_becomes_a_run_request_with_typed_parameters_and_a_checked_changelog() {
        let config = ReportConfig::parse(
            "script: run.sh\nparameters:\n  nmin: ~\n  seconds: {default: 1}\n  label: {default: plain}\n",
        )
        .unwrap();
        let form = Form::parse(
            b"branch=main&commit=&param.nmin=3&param.seconds=4&param.label=&param.other=x&changelog_message=Fixed+it&changelog_type=public",
        )
        .unwrap();
        let request = run_request(&form, &config).unwrap();
        assert_eq!(request.git_branch.as_deref(), Some("main"));
        assert_eq!(request.git_commit, None);
        assert_eq!(
            serde_json::Value::Object(request.params),
            json!({"nmin": "3", "seconds": 4}),
            "undeclared fields are not parameters; an empty one takes its default"
        );
        let changelog = request.changelog.unwrap();
        assert_eq!(
            (changelog.message.as_str(), changelog.label.as_str()),
            ("Fixed it", "public")
        );

        let bad = Form::parse(b"changelog_message=x&changelog_type=Not+A+Label").unwrap();
        assert!(run_request(&bad, &config).is_err());
        let none = Form::parse(b"changelog_message=++&changelog_type=public").unwrap();
        assert!(run_request(&none, &config).unwrap().changelog.is_none());
    }
}

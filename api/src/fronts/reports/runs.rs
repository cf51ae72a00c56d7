//! Running reports: `run`, `status` (with the queue ahead and the log), `kill`, and the
//! queue's status.
//!
//! A run's private details, its version id and its log, are shown only to who started it and
//! to reviewers of its report (who see every version anyway); anyone else sees its key, report
//! and status. The log comes in pages of at most [`OUTPUT_PAGE_LINES`] lines.

use common::auth::permissions::Permission;
use common::engine::model::{RunKind, RunStatus, TaskStatus};
use common::operations::reports::{self, CheckedRun, ReportRunner, RunRequest};
use common::reports::repo::{RepoError, ReportsRepo};
use common::reports::run_spec::RunChangelog;
use common::store::engine::front_runs::FrontRuns;
use common::store::engine::runs::{CancelOutcome, LogLine, RunView};
use common::store::reports::{ReportRun, ReportRunState};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::access::{Access, caller};
use super::reply::{bool_query, success};
use crate::error::ApiError;
use crate::request::RequestParts;
use crate::state::AppState;

/// Seconds a run may take unless `?timeout=` says otherwise (3 hours, as OrderlyWeb).
pub const DEFAULT_TIMEOUT_SECS: u64 = 10_800;
/// Longest timeout accepted (a week).
const MAX_TIMEOUT_SECS: u64 = 7 * 24 * 3600;
/// Most active runs shown in a queue.
pub const QUEUE_LIMIT: usize = 1000;
/// Most log lines one status answer carries (`?output=true`): `output_next` is the cursor to
/// pass as `?output_after=` for the lines after them, `output_more` says whether some wait.
pub const OUTPUT_PAGE_LINES: usize = 1000;

/// The body of `POST /reports/:name/run/`; every member is optional.
#[derive(Debug, Default, Deserialize)]
pub struct RunBody {
    /// Database instances, passed through.
    #[serde(default)]
    pub instances: Map<String, Value>,
    /// Parameter values.
    #[serde(default)]
    pub params: Map<String, Value>,
    /// The branch to run from.
    #[serde(default, rename = "gitBranch")]
    pub git_branch: Option<String>,
    /// The commit to run.
    #[serde(default, rename = "gitCommit")]
    pub git_commit: Option<String>,
    /// A changelog entry for the version.
    #[serde(default)]
    pub changelog: Option<RunChangelog>,
}

/// The configured reports repository; 404 when there is none.
pub fn repo(state: &AppState) -> Result<ReportsRepo, ApiError> {
    state.reports.repo.clone().ok_or_else(|| {
        ApiError::NotFound("this server has no reports repository (BATON_REPORTS_REPO)".into())
    })
}

/// Runs a git operation off the request threads and maps its error.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, RepoError> + Send + 'static,
) -> Result<T, ApiError> {
    Ok(reports::blocking(work).await?)
}

/// The runner of this server's report runs, over its reports repository `repo`.
pub fn runner<'a>(state: &'a AppState, repo: &'a ReportsRepo) -> ReportRunner<'a> {
    ReportRunner {
        store: &state.store,
        repo,
        configs: &state.reports.configs,
        queue: &state.reports.queue,
    }
}

impl RunBody {
    /// What the body asks of a run.
    fn request(&self) -> RunRequest {
        RunRequest {
            instances: self.instances.clone(),
            params: self.params.clone(),
            git_branch: self.git_branch.clone(),
            git_commit: self.git_commit.clone(),
            changelog: self.changelog.clone(),
        }
    }
}

/// The run (or bundle) body: empty or JSON with optional members.
pub fn run_body(request: &RequestParts) -> Result<RunBody, ApiError> {
    if request.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(RunBody::default());
    }
    let invalid =
        |error: serde_json::Error| ApiError::bad_request(format!("invalid run body: {error}"));
    let body: Value = serde_json::from_slice(&request.body).map_err(invalid)?;
    // Only an object names fields (serde would read a list as the fields in order).
    let body: RunBody = match body {
        Value::Null => RunBody::default(),
        Value::Object(_) => serde_json::from_value(body).map_err(invalid)?,
        _ => {
            return Err(ApiError::bad_request(
                "invalid run body: it must be a JSON object",
            ));
        }
    };
    if let Some(changelog) = &body.changelog {
        check_changelog(changelog)?;
    }
    Ok(body)
}

/// Refuses a run's changelog entry without a message or with a label that is not a lowercase
/// word.
pub fn check_changelog(changelog: &RunChangelog) -> Result<(), ApiError> {
    if changelog.message.trim().is_empty()
        || changelog.label.is_empty()
        || !changelog.label.bytes().all(|b| b.is_ascii_lowercase())
    {
        return Err(ApiError::bad_request(
            "changelog needs a non-empty 'message' and a 'type' such as 'public' or 'internal'",
        ));
    }
    Ok(())
}

fn timeout(request: &RequestParts) -> Result<u64, ApiError> {
    let Some(text) = request.query("timeout") else {
        return Ok(DEFAULT_TIMEOUT_SECS);
    };
    match text.parse::<u64>() {
        Ok(secs) if (1..=MAX_TIMEOUT_SECS).contains(&secs) => Ok(secs),
        _ => Err(ApiError::bad_request(format!(
            "timeout must be a number of seconds from 1 to {MAX_TIMEOUT_SECS}, not '{text}'"
        ))),
    }
}

/// A run (or bundle) asked for: who asks, the body, the commit and the checked parameters.
pub struct PreparedRun {
    /// The caller, who holds `reports.run` on the report.
    pub access: Access,
    /// The request's body.
    pub body: RunBody,
    /// The full commit to run.
    pub commit: String,
    /// Parameter values, defaults filled in.
    pub params: Map<String, Value>,
}

/// Checks a run (or bundle) request of report `name`: permission, body, commit, report and
/// parameters.
pub async fn prepare_run(
    state: &AppState,
    request: &RequestParts,
    name: &str,
) -> Result<PreparedRun, ApiError> {
    let access = caller(state, request, false).await?;
    access.require(name, Permission::ReportsRun)?;
    let body = run_body(request)?;
    let repo = repo(state)?;
    let CheckedRun { commit, params } = runner(state, &repo).check(name, &body.request()).await?;
    Ok(PreparedRun {
        access,
        body,
        commit,
        params,
    })
}

/// `POST /reports/:name/run/[?timeout=]`: queues a run of the report at the asked branch or
/// commit, with checked parameters; answers `{name, key, path}`.
pub async fn run(
    state: &AppState,
    request: &RequestParts,
    name: &str,
) -> Result<warp::reply::Response, ApiError> {
    let timeout_secs = timeout(request)?;
    let access = caller(state, request, false).await?;
    access.require(name, Permission::ReportsRun)?;
    let body = run_body(request)?;
    let repo = repo(state)?;
    let reserved = runner(state, &repo)
        .run_report(name, body.request(), &access.key.id, timeout_secs)
        .await?;
    Ok(success(json!({
        "name": name,
        "key": reserved.key,
        "path": format!("/v1/reports/{}/status/", reserved.key),
    })))
}

/// OrderlyWeb's name for a run's status.
pub fn status_name(status: Option<RunStatus>, run: Option<&RunView>) -> &'static str {
    match status {
        None => "missing",
        Some(RunStatus::Pending) => "queued",
        Some(RunStatus::Progress) => match run.and_then(|run| run.tasks.first()) {
            Some(task) if task.status == TaskStatus::Running => "running",
            Some(_) => "queued",
            None => "running",
        },
        Some(RunStatus::Success) => "success",
        Some(RunStatus::Error) => "error",
        Some(RunStatus::Canceled) => "interrupted",
    }
}

/// True when `access` sees the private details of `run` (its version id and its log): it
/// started the run, or it reviews the run's report.
pub fn sees_details(access: &Access, run: &ReportRun) -> bool {
    run.by.as_deref() == Some(access.key.id.as_str()) || access.reviews(&run.name)
}

/// A queued or running report run as a queue shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEntry {
    /// Its key.
    pub key: String,
    /// `queued` or `running`.
    pub status: &'static str,
    /// The report.
    pub name: String,
    /// The version it makes, while running, for who sees the run's details.
    pub version: Option<String>,
}

impl QueueEntry {
    /// The entry for `state`; with its version (when running) when `access` is given and sees
    /// the run's details.
    fn of(state: &ReportRunState, with_version: Option<&Access>) -> Self {
        let status = status_name(state.status, None);
        let version = with_version
            .filter(|access| status == "running" && sees_details(access, &state.run))
            .map(|_| state.run.version.clone());
        Self {
            key: state.run.key.clone(),
            status,
            name: state.run.name.clone(),
            version,
        }
    }

    /// As OrderlyWeb shows it: with a `version` member for queue status only.
    fn json(&self, with_version: bool) -> Value {
        let mut entry = json!({"key": self.key, "status": self.status, "name": self.name});
        if with_version {
            entry["version"] = json!(self.version);
        }
        entry
    }
}

/// The log cursor `?output_after=` (a log entry id, as `output_next` gave it), if any.
fn output_cursor(request: &RequestParts) -> Result<Option<String>, ApiError> {
    let Some(cursor) = request.query("output_after") else {
        return Ok(None);
    };
    let valid = cursor.split_once('-').is_some_and(|(ms, seq)| {
        [ms, seq]
            .iter()
            .all(|part| part.bytes().all(|b| b.is_ascii_digit()) && part.parse::<u64>().is_ok())
    });
    if valid {
        Ok(Some(cursor))
    } else {
        Err(ApiError::bad_request(format!(
            "output_after must be a cursor given as output_next, not '{cursor}'"
        )))
    }
}

/// One page of a run's log after `after`: `(output, output_next, output_more)`.
async fn output_page(
    runs: &FrontRuns<'_>,
    run_id: &str,
    after: Option<String>,
) -> Result<(Value, Value, bool), ApiError> {
    let mut lines: Vec<LogLine> = runs
        .read_log(run_id, None, after.as_deref(), OUTPUT_PAGE_LINES + 1)
        .await?
        .unwrap_or_default();
    let more = lines.len() > OUTPUT_PAGE_LINES;
    lines.truncate(OUTPUT_PAGE_LINES);
    let next = lines.last().map(|line| line.id.clone()).or(after);
    let output: Vec<String> = lines.into_iter().map(|line| line.line).collect();
    Ok((json!(output), json!(next), more))
}

/// The caller and the run a key names, when the caller holds `reports.run` on its report.
async fn known_run(
    state: &AppState,
    request: &RequestParts,
    key: &str,
) -> Result<(Access, ReportRun), ApiError> {
    let access = caller(state, request, false).await?;
    let run = run_for(state, &access, key).await?;
    Ok((access, run))
}

/// The run a key names, when `access` holds `reports.run` on its report; 404 for an unknown
/// key.
pub async fn run_for(state: &AppState, access: &Access, key: &str) -> Result<ReportRun, ApiError> {
    let run = state
        .store
        .report_run(key)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("Unknown report run key: '{key}'")))?;
    access.require(&run.name, Permission::ReportsRun)?;
    Ok(run)
}

/// Where a report run is, as `access` may see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunProgress {
    /// OrderlyWeb's status: `queued`, `running`, `success`, `error`, `interrupted` or
    /// `missing`.
    pub status: &'static str,
    /// The version it makes (running) or made (success), for who sees its details.
    pub version: Option<String>,
    /// The runs queued ahead of it, while it is queued.
    pub queue: Vec<QueueEntry>,
    /// When its task started (Unix ms).
    pub started_ms: Option<u64>,
    /// Its task's error, if it failed.
    pub error: Option<String>,
}

impl RunProgress {
    /// True once the run will change no more.
    pub fn finished(&self) -> bool {
        !matches!(self.status, "queued" | "running")
    }
}

/// Reads where `report_run` is (finalizing it into its version once it has finished).
pub async fn progress(
    state: &AppState,
    access: &Access,
    report_run: &ReportRun,
) -> Result<RunProgress, ApiError> {
    let runs = state.store.runs_of(RunKind::Report);
    let run = runs.get(&report_run.run_id).await?;
    let run_status = run.as_ref().map(|run| run.status);
    if run_status.is_some_and(RunStatus::is_finished) {
        state
            .store
            .finalize_report_run(report_run, common::time::now_ms())
            .await?;
    }
    let status = status_name(run_status, run.as_ref());
    let queue: Vec<QueueEntry> = if status == "queued" {
        state
            .store
            .active_report_runs(QUEUE_LIMIT)
            .await?
            .iter()
            .take_while(|other| other.run.key != report_run.key)
            .filter(|other| other.status.is_some_and(|status| !status.is_finished()))
            .map(|other| QueueEntry::of(other, None))
            .collect()
    } else {
        Vec::new()
    };
    let task = run.as_ref().and_then(|run| run.tasks.first());
    let version = (sees_details(access, report_run) && matches!(status, "success" | "running"))
        .then(|| report_run.version.clone());
    Ok(RunProgress {
        status,
        version,
        queue,
        started_ms: task.and_then(|task| task.started_ms),
        error: task.and_then(|task| task.error.clone()),
    })
}

/// `GET /reports/:key/status/[?output=true]`: the run's status, its version once it
/// succeeded, the runs queued ahead of it, and its log when asked.
pub async fn status(
    state: &AppState,
    request: &RequestParts,
    key: &str,
) -> Result<warp::reply::Response, ApiError> {
    let (access, report_run) = known_run(state, request, key).await?;
    let with_output = bool_query(request, "output")?.unwrap_or(false);
    let after = output_cursor(request)?;
    let private = sees_details(&access, &report_run);
    if with_output && !private {
        return Err(ApiError::Forbidden(format!(
            "only who started run '{key}' and reviewers of report '{}' see its log",
            report_run.name
        )));
    }
    let progress = progress(state, &access, &report_run).await?;
    let queue: Vec<Value> = progress
        .queue
        .iter()
        .map(|entry| entry.json(false))
        .collect();
    let mut answer = json!({
        "key": key,
        "status": progress.status,
        "version": progress.version,
        "output": null,
        "queue": queue,
        "start_time": progress.started_ms.map(|ms| ms / 1000),
        "error": progress.error,
    });
    if with_output {
        let runs = state.store.runs_of(RunKind::Report);
        let (output, next, more) = output_page(&runs, &report_run.run_id, after).await?;
        answer["output"] = output;
        answer["output_next"] = next;
        answer["output_more"] = json!(more);
    }
    Ok(success(answer))
}

/// `DELETE /reports/:key/kill/`: stops a queued or running run.
pub async fn kill(
    state: &AppState,
    request: &RequestParts,
    key: &str,
) -> Result<warp::reply::Response, ApiError> {
    let (access, report_run) = known_run(state, request, key).await?;
    kill_run(state, &access, &report_run).await?;
    Ok(success(json!({"killed": true, "message": null})))
}

/// Stops a queued or running run; 400 when it has finished or no longer exists.
pub async fn kill_run(
    state: &AppState,
    access: &Access,
    report_run: &ReportRun,
) -> Result<(), ApiError> {
    let key = report_run.key.as_str();
    match state
        .store
        .runs_of(RunKind::Report)
        .cancel(&report_run.run_id)
        .await?
    {
        CancelOutcome::Canceled { .. } => {
            state
                .store
                .finalize_report_run(report_run, common::time::now_ms())
                .await?;
            tracing::info!(key, by = %access.key.id, "report run killed");
            Ok(())
        }
        CancelOutcome::AlreadyFinished(status) => Err(ApiError::bad_request(format!(
            "Failed to kill '{key}': the run is not running ({})",
            status_name(Some(status), None)
        ))),
        CancelOutcome::NotFound => Err(ApiError::bad_request(format!(
            "Failed to kill '{key}': the run no longer exists"
        ))),
    }
}

/// `GET /queue/status/`: every queued or running report run, oldest first; a running run's
/// version only for who started it and reviewers of its report.
pub async fn queue_status(
    state: &AppState,
    request: &RequestParts,
) -> Result<warp::reply::Response, ApiError> {
    let access = caller(state, request, false).await?;
    let tasks: Vec<Value> = active_queue(state, &access)
        .await?
        .iter()
        .map(|entry| entry.json(true))
        .collect();
    Ok(success(json!({"tasks": tasks})))
}

/// Every queued or running report run, oldest first; a running run's version only for who
/// started it and reviewers of its report.
pub async fn active_queue(state: &AppState, access: &Access) -> Result<Vec<QueueEntry>, ApiError> {
    Ok(state
        .store
        .active_report_runs(QUEUE_LIMIT)
        .await?
        .iter()
        .filter(|run| run.status.is_some_and(|status| !status.is_finished()))
        .map(|run| QueueEntry::of(run, Some(access)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use warp::http::{HeaderMap, Method};

    fn request(query: &str) -> RequestParts {
        RequestParts {
            method: Method::GET,
            path_and_query: format!("/api/v1/reports/k/status/{query}"),
            headers: HeaderMap::new(),
            body: bytes::Bytes::new(),
            remote: None,
            caller: None,
        }
    }

    #[test]
    fn log_cursors_are_log_entry_ids() {
        assert_eq!(output_cursor(&request("")), Ok(None));
        assert_eq!(
            output_cursor(&request("?output=true&output_after=1733000000000-12")),
            Ok(Some("1733000000000-12".to_owned()))
        );
        for bad in [
            "x",
            "1-",
            "-1",
            "1-2-3",
            "1733000000000",
            "+-1",
            "99999999999999999999999-0",
        ] {
            assert!(
                output_cursor(&request(&format!("?output_after={bad}"))).is_err(),
                "{bad}"
            );
        }
    }
}

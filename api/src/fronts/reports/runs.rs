//! Running reports: `run`, `status` (with the queue ahead and the log), `kill`, and the
//! queue's status.

use common::model::{
    ExecutorSpec, ReportSpec, RunChangelog, RunSpec, RunStatus, TaskSpec, TaskStatus,
    report_definition,
};
use common::reports::{ReportConfig, version_id};
use common::reports_repo::{RepoError, ReportsRepo};
use common::store::apikeys::Permission;
use common::store::reports::{ReportRun, ReportRunState};
use common::store::runs::{CancelOutcome, LOG_MAX_LINES, RunView};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::access::{Access, caller};
use super::reply::{bool_query, success};
use crate::error::ApiError;
use crate::request::RequestParts;
use crate::state::AppState;

/// Seconds a run may take unless `?timeout=` says otherwise (3 hours, as OrderlyWeb).
const DEFAULT_TIMEOUT_SECS: u64 = 10_800;
/// Longest timeout accepted (a week).
const MAX_TIMEOUT_SECS: u64 = 7 * 24 * 3600;
/// Most active runs shown in a queue.
const QUEUE_LIMIT: usize = 1000;

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
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| ApiError::Unavailable(format!("git was interrupted: {error}")))?
        .map_err(|error| match error {
            RepoError::NotFound(message) => ApiError::bad_request(message),
            RepoError::BadConfig { .. } => ApiError::bad_request(error.to_string()),
            // The repository's state refuses the operation (no upstream, diverged, ...).
            RepoError::Git { .. } => {
                tracing::warn!(cause = %error, "git failed");
                ApiError::Conflict(error.to_string())
            }
        })
}

/// Most report configs kept in memory; the cache starts over when full.
const CONFIG_CACHE_LIMIT: usize = 4096;

/// The commit a run or bundle of report `name` uses (from `gitBranch`/`gitCommit`: 400 when
/// unknown) and the report's config there (404 when the report does not exist there).
pub async fn resolve_report(
    state: &AppState,
    name: &str,
    body: &RunBody,
) -> Result<(String, ReportConfig), ApiError> {
    let repo = repo(state)?;
    let (branch, commit) = (body.git_branch.clone(), body.git_commit.clone());
    let lookup = repo.clone();
    let commit = blocking(move || lookup.resolve(branch.as_deref(), commit.as_deref())).await?;
    let cache_key = (name.to_owned(), commit.clone());
    if let Some(config) = lock(&state.reports.configs).get(&cache_key) {
        return Ok((commit, config.clone()));
    }
    let (report, at) = (name.to_owned(), commit.clone());
    let config = tokio::task::spawn_blocking(move || repo.config(&report, &at))
        .await
        .map_err(|error| ApiError::Unavailable(format!("git was interrupted: {error}")))?
        .map_err(|error| match error {
            RepoError::NotFound(message) => ApiError::NotFound(message),
            other => ApiError::bad_request(other.to_string()),
        })?;
    let mut cache = lock(&state.reports.configs);
    if cache.len() >= CONFIG_CACHE_LIMIT {
        cache.clear();
    }
    cache.insert(cache_key, config.clone());
    Ok((commit, config))
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
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
    if let Some(changelog) = &body.changelog
        && (changelog.message.trim().is_empty()
            || changelog.label.is_empty()
            || !changelog.label.bytes().all(|b| b.is_ascii_lowercase()))
    {
        return Err(ApiError::bad_request(
            "changelog needs a non-empty 'message' and a 'type' such as 'public' or 'internal'",
        ));
    }
    Ok(body)
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
    let (commit, config) = resolve_report(state, name, &body).await?;
    let params = config
        .check_parameters(&body.params)
        .map_err(|error| ApiError::bad_request(format!("report '{name}': {error}")))?;
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
    let PreparedRun {
        access,
        body,
        commit,
        params,
    } = prepare_run(state, request, name).await?;
    let version = version_id(chrono::Utc::now());
    let run_id = uuid::Uuid::new_v4().to_string();
    let spec = ReportSpec {
        report: name.to_owned(),
        commit,
        branch: body.git_branch,
        params,
        instances: body.instances,
        version: version.clone(),
        changelog: body.changelog,
    };
    let executor = serde_json::to_value(ExecutorSpec::Report(spec))
        .map_err(|error| ApiError::Unavailable(error.to_string()))?;
    let reserved = state
        .store
        .reserve_report_run(name, &run_id, &version)
        .await?;
    state
        .store
        .create_run(&RunSpec {
            id: Some(run_id),
            definition: report_definition(name),
            payload: Value::Null,
            tasks: vec![TaskSpec {
                key: name.to_owned(),
                executor,
                depends_on: Vec::new(),
                queue: None,
                max_retries: 0,
                timeout_secs: Some(timeout_secs),
                is_hook: false,
            }],
            queue: state.reports.queue.clone(),
            priority: Default::default(),
            periodic: false,
            not_before_ms: None,
            hooks: Default::default(),
        })
        .await?;
    tracing::info!(report = name, key = %reserved.key, version = %version, by = %access.key.id, "report run queued");
    Ok(success(json!({
        "name": name,
        "key": reserved.key,
        "path": format!("/v1/reports/{}/status/", reserved.key),
    })))
}

/// OrderlyWeb's name for a run's status.
fn status_name(status: Option<RunStatus>, run: Option<&RunView>) -> &'static str {
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

fn queue_entry(state: &ReportRunState, with_version: bool) -> Value {
    let status = status_name(state.status, None);
    let mut entry = json!({"key": state.run.key, "status": status, "name": state.run.name});
    if with_version {
        entry["version"] = if status == "running" {
            json!(state.run.version)
        } else {
            Value::Null
        };
    }
    entry
}

/// The caller and the run a key names, when the caller holds `reports.run` on its report.
async fn known_run(
    state: &AppState,
    request: &RequestParts,
    key: &str,
) -> Result<(Access, ReportRun), ApiError> {
    let access = caller(state, request, false).await?;
    let run = state
        .store
        .report_run(key)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("Unknown report run key: '{key}'")))?;
    access.require(&run.name, Permission::ReportsRun)?;
    Ok((access, run))
}

/// `GET /reports/:key/status/[?output=true]`: the run's status, its version once it
/// succeeded, the runs queued ahead of it, and its log when asked.
pub async fn status(
    state: &AppState,
    request: &RequestParts,
    key: &str,
) -> Result<warp::reply::Response, ApiError> {
    let (_, report_run) = known_run(state, request, key).await?;
    let with_output = bool_query(request, "output")?.unwrap_or(false);
    let run = state.store.get_run(&report_run.run_id).await?;
    let run_status = run.as_ref().map(|run| run.status);
    if run_status.is_some_and(RunStatus::is_finished) {
        state.store.finalize_report_run(&report_run).await?;
    }
    let status = status_name(run_status, run.as_ref());
    let queue: Vec<Value> = if status == "queued" {
        state
            .store
            .active_report_runs(QUEUE_LIMIT)
            .await?
            .iter()
            .take_while(|other| other.run.key != key)
            .filter(|other| other.status.is_some_and(|status| !status.is_finished()))
            .map(|other| queue_entry(other, false))
            .collect()
    } else {
        Vec::new()
    };
    let output = if with_output {
        let lines = state
            .store
            .read_log(&report_run.run_id, None, None, LOG_MAX_LINES)
            .await?;
        json!(lines.into_iter().map(|line| line.line).collect::<Vec<_>>())
    } else {
        Value::Null
    };
    let task = run.as_ref().and_then(|run| run.tasks.first());
    Ok(success(json!({
        "key": key,
        "status": status,
        "version": matches!(status, "success" | "running").then_some(&report_run.version),
        "output": output,
        "queue": queue,
        "start_time": task.and_then(|task| task.started_ms).map(|ms| ms / 1000),
        "error": task.and_then(|task| task.error.clone()),
    })))
}

/// `DELETE /reports/:key/kill/`: stops a queued or running run.
pub async fn kill(
    state: &AppState,
    request: &RequestParts,
    key: &str,
) -> Result<warp::reply::Response, ApiError> {
    let (access, report_run) = known_run(state, request, key).await?;
    match state.store.cancel_run(&report_run.run_id).await? {
        CancelOutcome::Canceled { .. } => {
            state.store.finalize_report_run(&report_run).await?;
            tracing::info!(key, by = %access.key.id, "report run killed");
            Ok(success(json!({"killed": true, "message": null})))
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

/// `GET /queue/status/`: every queued or running report run, oldest first.
pub async fn queue_status(
    state: &AppState,
    request: &RequestParts,
) -> Result<warp::reply::Response, ApiError> {
    caller(state, request, false).await?;
    let tasks: Vec<Value> = state
        .store
        .active_report_runs(QUEUE_LIMIT)
        .await?
        .iter()
        .filter(|run| run.status.is_some_and(|status| !status.is_finished()))
        .map(|run| queue_entry(run, true))
        .collect();
    Ok(success(json!({"tasks": tasks})))
}

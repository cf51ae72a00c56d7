//! What the portal reads from the reports repository: its reports at the checked-out
//! commit, a report's `orderly.yml` (through the runner's cache, as a run reads it), and
//! the branches and commits a run may name. Git runs off the request threads, as for the
//! front's git endpoints.

use common::operations::OperationError;
use common::reports::config::ReportConfig;
use common::reports::repo::{CommitSummary, ReportsRepo};

use crate::error::ApiError;
use crate::fronts::reports::runs::{blocking, runner};
use crate::state::AppState;

/// Most commits a run form offers for a branch.
pub const COMMITS_SHOWN: usize = 50;

/// The repository, when this server has one.
pub fn configured(state: &AppState) -> Option<ReportsRepo> {
    state.reports.repo.clone()
}

/// The checked-out commit and the reports it holds (`None` without a repository).
pub async fn reports_at_head(state: &AppState) -> Result<Option<(String, Vec<String>)>, ApiError> {
    let Some(repo) = configured(state) else {
        return Ok(None);
    };
    let found = blocking(move || {
        let head = repo.resolve(None, None)?;
        let names = repo.report_names(&head)?;
        Ok((head, names))
    })
    .await?;
    Ok(Some(found))
}

/// The checked-out commit (`None` without a repository).
pub async fn head(state: &AppState) -> Result<Option<String>, ApiError> {
    let Some(repo) = configured(state) else {
        return Ok(None);
    };
    Ok(Some(blocking(move || repo.resolve(None, None)).await?))
}

/// Report `name`'s `orderly.yml` at the full commit `commit`: `Ok(None)` when the report
/// is not there, `Err` with what is wrong when it cannot be read.
pub async fn config(
    state: &AppState,
    name: &str,
    commit: &str,
) -> Result<Option<ReportConfig>, String> {
    let Some(repo) = configured(state) else {
        return Ok(None);
    };
    match runner(state, &repo).config_at(name, commit).await {
        Ok(config) => Ok(Some(config)),
        Err(OperationError::ReportNotFound(_)) => Ok(None),
        Err(error) => Err(error.to_string()),
    }
}

/// The branches a run may name, and the checked-out one (when it is a branch).
pub async fn branches(state: &AppState) -> Result<(Vec<String>, Option<String>), ApiError> {
    let Some(repo) = configured(state) else {
        return Ok((Vec::new(), None));
    };
    blocking(move || {
        let current = repo.status()?.branch;
        Ok((repo.branches()?, current))
    })
    .await
}

/// The newest commits of `branch`.
pub async fn commits(state: &AppState, branch: &str) -> Result<Vec<CommitSummary>, ApiError> {
    let Some(repo) = configured(state) else {
        return Ok(Vec::new());
    };
    let branch = branch.to_owned();
    blocking(move || repo.commits(&branch, COMMITS_SHOWN)).await
}

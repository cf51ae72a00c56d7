//! The reports repository: `git/status`, `git/fetch` and `git/pull` (also under `/reports/`).

use common::auth::permissions::Permission;
use common::reports::repo::{RepoError, ReportsRepo};
use serde_json::json;

use super::access::caller;
use super::reply::success;
use super::runs::{blocking, repo};
use crate::error::ApiError;
use crate::request::RequestParts;
use crate::state::AppState;

/// `GET /git/status/`: branch, commit, and `git status --porcelain` lines.
pub async fn status(
    state: &AppState,
    request: &RequestParts,
) -> Result<warp::reply::Response, ApiError> {
    caller(state, request, false)
        .await?
        .require_global(Permission::ReportsRun)?;
    let repo = repo(state)?;
    let status = blocking(move || repo.status()).await?;
    Ok(success(json!({
        "branch": status.branch,
        "hash": status.hash,
        "clean": status.output.is_empty(),
        "output": status.output,
    })))
}

/// `POST /git/fetch/`: fetches from the remote; answers git's output lines.
pub async fn fetch(
    state: &AppState,
    request: &RequestParts,
) -> Result<warp::reply::Response, ApiError> {
    update(state, request, "fetched", ReportsRepo::fetch).await
}

/// `POST /git/pull/`: fast-forwards the checked-out branch; answers git's output lines.
pub async fn pull(
    state: &AppState,
    request: &RequestParts,
) -> Result<warp::reply::Response, ApiError> {
    update(state, request, "pulled", ReportsRepo::pull).await
}

/// Runs a git operation that changes the repository (`fetch` or `pull`), for a caller with
/// `reports.run` everywhere.
async fn update(
    state: &AppState,
    request: &RequestParts,
    done: &'static str,
    operation: fn(&ReportsRepo) -> Result<Vec<String>, RepoError>,
) -> Result<warp::reply::Response, ApiError> {
    let access = caller(state, request, false).await?;
    access.require_global(Permission::ReportsRun)?;
    let repo = repo(state)?;
    let lines = blocking(move || operation(&repo)).await?;
    tracing::info!(by = %access.key.id, operation = done, "reports repository updated");
    Ok(success(lines))
}

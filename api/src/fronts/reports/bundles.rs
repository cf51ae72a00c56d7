//! Bundles: `POST /bundle/pack/:name/` packs a report (at a branch or commit, with checked
//! parameters) into a zip to run elsewhere; `POST /bundle/import/` imports a completed one as
//! a new version.

use common::auth::permissions::Permission;
use common::reports::bundles::{BundleError, DEFAULT_MAX_UNPACKED, check_bundle, pack_bundle};
use common::reports::ids::version_id;
use common::store::reports::VersionOwner;
use warp::http::StatusCode;

use super::access::caller;
use super::catalog::details_json;
use super::reply::{download, success_with};
use super::runs::{PreparedRun, prepare_run, repo};
use crate::error::ApiError;
use crate::request::{RequestParts, SpooledBody};
use crate::state::AppState;

/// `POST /bundle/pack/:name/`: the zip of a bundle ready to run.
pub async fn pack(
    state: &AppState,
    request: &RequestParts,
    name: &str,
) -> Result<warp::reply::Response, ApiError> {
    let PreparedRun {
        access,
        body,
        commit,
        params,
    } = prepare_run(state, request, name).await?;
    let repo = repo(state)?;
    let version = version_id(chrono::Utc::now());
    let (report, id) = (name.to_owned(), version.clone());
    let zipped = tokio::task::spawn_blocking(move || {
        pack_bundle(
            &repo,
            &report,
            &commit,
            body.git_branch.as_deref(),
            &params,
            &body.instances,
            &id,
        )
    })
    .await
    .map_err(|error| ApiError::Unavailable(format!("packing was interrupted: {error}")))?
    .map_err(bundle_error)?;
    tracing::info!(report = name, version = %version, by = %access.key.id, "bundle packed");
    Ok(download(
        bytes::Bytes::from(zipped),
        "application/zip",
        &format!("{version}.zip"),
    ))
}

/// `POST /bundle/import/`: stores a completed bundle's files and records it as an unpublished
/// version (409 when that version exists, or its id is reserved by a run or another import).
/// The bundle arrives as `body`, written to a temporary file as it was received and checked
/// against its `Digest`.
pub async fn import(
    state: &AppState,
    request: &RequestParts,
    body: SpooledBody,
) -> Result<warp::reply::Response, ApiError> {
    let access = caller(state, request, false).await?;
    access.require_global(Permission::ReportsRun)?;
    if body.len == 0 {
        return Err(ApiError::bad_request("send the bundle's zip as the body"));
    }
    let checked = check_bundle(body.file.path(), DEFAULT_MAX_UNPACKED)
        .await
        .map_err(bundle_error)?;
    drop(body);
    let conflict = |record: &common::reports::version::VersionRecord| {
        ApiError::Conflict(format!(
            "version '{}' of report '{}' exists",
            record.id, record.name
        ))
    };
    // Files are written only under a version id this import holds: never over an existing
    // version's, a queued or running run's, or a concurrent import's.
    let owner = VersionOwner::import();
    let id = checked.record.id.clone();
    if !state.store.reserve_version(&id, &owner).await? {
        return Err(conflict(&checked.record));
    }
    let stored = match checked.store(&state.reports.artefacts).await {
        Ok(record) => state
            .store
            .insert_version(&record)
            .await
            .map(|created| (record, created))
            .map_err(ApiError::from),
        Err(error) => Err(bundle_error(error)),
    };
    let record = match stored {
        Ok((record, true)) => record,
        Ok((record, false)) => return Err(conflict(&record)),
        Err(error) => {
            state.store.release_version(&id, &owner).await?;
            return Err(error);
        }
    };
    tracing::info!(report = %record.name, version = %record.id, by = %access.key.id, "bundle imported");
    let version = state
        .store
        .version(&record.id)
        .await?
        .ok_or_else(|| ApiError::Unavailable("the imported version vanished".into()))?;
    Ok(success_with(StatusCode::OK, details_json(&version)))
}

fn bundle_error(error: BundleError) -> ApiError {
    if error.is_client_error() {
        ApiError::bad_request(error.to_string())
    } else {
        tracing::error!(cause = %error, "bundle handling failed");
        ApiError::Unavailable(format!("the bundle could not be handled: {error}"))
    }
}

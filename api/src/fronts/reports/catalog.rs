//! Reports, their versions, publishing and changelogs, as each caller may see them.

use common::auth::permissions::Permission;
use common::reports::changelog::{VersionedEntry, changelog_for};
use common::store::reports::{ListedChanges, ListedVersion, StoredVersion, Versions};
use serde_json::{Value, json};

use super::access::{Access, caller};
use super::reply::{bool_query, success};
use crate::error::ApiError;
use crate::request::RequestParts;
use crate::state::AppState;

/// The versions of report `name` the caller may see, as lists show them, oldest first; 403
/// without read access, 404 for a report without versions.
pub async fn visible_versions(
    state: &AppState,
    access: &Access,
    name: &str,
) -> Result<Vec<ListedVersion>, ApiError> {
    access.require_read(name)?;
    let versions = state.store.report_summaries(name).await?;
    if versions.is_empty() {
        return Err(unknown_report(name));
    }
    Ok(versions
        .into_iter()
        .filter(|version| access.sees(name, version.published))
        .collect())
}

/// Version `id` of report `name`, if the caller may see it; 404 otherwise.
pub async fn visible_version(
    state: &AppState,
    access: &Access,
    name: &str,
    id: &str,
) -> Result<StoredVersion, ApiError> {
    access.require_read(name)?;
    state
        .store
        .version(id)
        .await?
        .filter(|version| version.record.name == name && access.sees(name, version.published))
        .ok_or_else(|| unknown_version(name, id))
}

/// The 404 for a report the store has no version of.
pub fn unknown_report(name: &str) -> ApiError {
    ApiError::NotFound(format!("Unknown report: '{name}'"))
}

fn unknown_version(name: &str, id: &str) -> ApiError {
    ApiError::NotFound(format!(
        "Unknown report version: '{name}' has no version '{id}'"
    ))
}

impl Access {
    /// Refuses (403) a caller that may read no report at all.
    pub fn require_some_read(&self) -> Result<(), ApiError> {
        if self.key.may_on_some_report(Permission::ReportsRead)
            || self.key.may_on_some_report(Permission::ReportsReview)
        {
            Ok(())
        } else {
            self.require_global(Permission::ReportsRead)
        }
    }

    /// Which versions of report `name` the caller sees (given they may read it).
    pub fn visible_versions(&self, name: &str) -> Versions {
        if self.reviews(name) {
            Versions::All
        } else {
            Versions::Published
        }
    }

    /// Refuses (403) a caller that may not read report `name`.
    pub fn require_read(&self, name: &str) -> Result<(), ApiError> {
        if self.reads(name) {
            Ok(())
        } else {
            self.require(name, Permission::ReportsRead)
        }
    }
}

/// `GET /reports/`: every report the caller may read that has a version they may see, with
/// its latest such version.
pub async fn reports(
    state: &AppState,
    request: &RequestParts,
) -> Result<warp::reply::Response, ApiError> {
    let access = caller(state, request, false).await?;
    access.require_some_read()?;
    let names: Vec<String> = state
        .store
        .reports_with_versions()
        .await?
        .into_iter()
        .filter(|name| access.reads(name))
        .collect();
    // Names are sorted; a report whose versions the caller may not see is left out.
    let data: Vec<Value> = latest_visible_versions(state, &access, &names)
        .await?
        .into_iter()
        .flatten()
        .map(|version| {
            let summary = version.summary;
            json!({"name": summary.name, "display_name": summary.displayname, "latest_version": summary.id})
        })
        .collect();
    Ok(success(data))
}

/// The latest version the caller may see of each report of `names` (which it reads), in
/// order; `None` for a report with no such version.
pub async fn latest_visible_versions(
    state: &AppState,
    access: &Access,
    names: &[String],
) -> Result<Vec<Option<ListedVersion>>, ApiError> {
    let wanted: Vec<(&str, Versions)> = names
        .iter()
        .map(|name| (name.as_str(), access.visible_versions(name)))
        .collect();
    Ok(state.store.latest_versions(&wanted).await?)
}

/// `GET /reports/:name/`: the ids of the report's versions the caller may see.
pub async fn version_ids(
    state: &AppState,
    request: &RequestParts,
    name: &str,
) -> Result<warp::reply::Response, ApiError> {
    let access = caller(state, request, false).await?;
    access.require_read(name)?;
    if !state.store.has_versions(name).await? {
        return Err(unknown_report(name));
    }
    let ids = state
        .store
        .report_version_ids(name, access.visible_versions(name))
        .await?;
    Ok(success(ids))
}

fn file_list(files: &[common::reports::version::VersionFile]) -> Vec<Value> {
    files
        .iter()
        .map(|file| json!({"name": file.name, "size": file.size}))
        .collect()
}

/// A version's details as OrderlyWeb shows them, plus what it used: other reports' files
/// (`depends`) and which of its `resources` came from the global resources folder
/// (`global_resources`: name, source file and md5).
pub fn details_json(version: &StoredVersion) -> Value {
    let record = &version.record;
    json!({
        "id": record.id,
        "name": record.name,
        "displayname": record.displayname,
        "display_name": record.displayname,
        "description": record.description,
        "artefacts": record.artefacts.iter().map(|group| json!({
            "format": group.format,
            "description": group.description,
            "files": file_list(&group.files),
        })).collect::<Vec<_>>(),
        "resources": file_list(&record.resources),
        "date": record.date,
        "data_info": record.data.iter().map(|data| json!({
            "name": data.name,
            "csv_size": data.csv.size,
            "rds_size": data.rds.as_ref().map(|rds| rds.size),
        })).collect::<Vec<_>>(),
        "parameter_values": record.parameter_values,
        "instances": record.instances,
        "requester": record.requester,
        "author": record.author,
        "published": version.published,
        "git_branch": record.git_branch,
        "git_commit": record.git_commit,
        "depends": record.depends,
        "global_resources": record.global_resources,
    })
}

/// `GET /reports/:name/versions/:version/`.
pub async fn details(
    state: &AppState,
    request: &RequestParts,
    name: &str,
    id: &str,
) -> Result<warp::reply::Response, ApiError> {
    let access = caller(state, request, false).await?;
    let version = visible_version(state, &access, name, id).await?;
    Ok(success(details_json(&version)))
}

/// `GET /versions/`: every version the caller may see.
pub async fn all_versions(
    state: &AppState,
    request: &RequestParts,
) -> Result<warp::reply::Response, ApiError> {
    let access = caller(state, request, false).await?;
    access.require_some_read()?;
    let data: Vec<Value> = state
        .store
        .all_versions()
        .await?
        .into_iter()
        .filter(|version| access.sees(&version.summary.name, version.published))
        .map(|version| {
            let summary = version.summary;
            json!({
                "id": summary.id,
                "name": summary.name,
                "displayname": summary.displayname,
                "resources": summary.resources,
                "date": summary.date,
                "published": version.published,
                "requester": summary.requester,
                "author": summary.author,
            })
        })
        .collect();
    Ok(success(data))
}

/// `POST /reports/:name/versions/:version/publish/[?value=false]`: sets the published flag
/// and answers with it.
pub async fn publish(
    state: &AppState,
    request: &RequestParts,
    name: &str,
    id: &str,
) -> Result<warp::reply::Response, ApiError> {
    let access = caller(state, request, false).await?;
    access.require(name, Permission::ReportsReview)?;
    let value = bool_query(request, "value")?.unwrap_or(true);
    set_published(state, &access, name, id, value).await?;
    Ok(success(value))
}

/// Publishes (or unpublishes) version `id` of report `name`, for a caller who reviews it.
pub async fn set_published(
    state: &AppState,
    access: &Access,
    name: &str,
    id: &str,
    value: bool,
) -> Result<(), ApiError> {
    access.require(name, Permission::ReportsReview)?;
    let exists = state
        .store
        .version(id)
        .await?
        .is_some_and(|version| version.record.name == name);
    if !exists || !state.store.set_published(id, value).await? {
        return Err(unknown_version(name, id));
    }
    tracing::info!(report = name, version = id, published = value, by = %access.key.id, "publish");
    Ok(())
}

/// The changelog of version `id` of report `name` as the caller may see it, from what the
/// changelog needs of every version of the report (`versions`, oldest first).
pub fn changelog_json(
    access: &Access,
    name: &str,
    versions: &[ListedChanges],
    id: &str,
) -> Vec<VersionedEntry> {
    let published = |version: &str| {
        versions
            .iter()
            .any(|listed| listed.changes.id == version && listed.published)
    };
    changelog_for(
        versions.iter().map(|listed| &listed.changes),
        id,
        &published,
        access.reviews(name),
    )
}

/// `GET /reports/:name/versions/:version/changelog/`.
pub async fn changelog(
    state: &AppState,
    request: &RequestParts,
    name: &str,
    id: &str,
) -> Result<warp::reply::Response, ApiError> {
    let access = caller(state, request, true).await?;
    visible_version(state, &access, name, id).await?;
    let versions = state.store.report_changes(name).await?;
    Ok(success(changelog_json(&access, name, &versions, id)))
}

/// `GET /reports/:name/latest/changelog/`: the changelog of the latest version the caller may
/// see.
pub async fn latest_changelog(
    state: &AppState,
    request: &RequestParts,
    name: &str,
) -> Result<warp::reply::Response, ApiError> {
    let access = caller(state, request, false).await?;
    access.require_read(name)?;
    let versions = state.store.report_changes(name).await?;
    let latest = versions
        .iter()
        .rev()
        .find(|listed| access.sees(name, listed.published))
        .map(|listed| listed.changes.id.clone())
        .ok_or_else(|| unknown_report(name))?;
    Ok(success(changelog_json(&access, name, &versions, &latest)))
}

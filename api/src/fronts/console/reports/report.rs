//! `GET /ui/reports/{name}`: a report's versions, newest first, as the caller may see them
//! (readers the published ones, reviewers all, with their published flags), and the form
//! that runs it for those who may.

use askama::Template;
use common::auth::permissions::Permission;
use warp::http::StatusCode;

use super::run_form::{RunForm, RunOptions, run_form};
use super::{date_text, repository, version_url};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::fronts::console::form::Form;
use crate::fronts::console::html::{Chrome, page_with_status};
use crate::fronts::reports::access::Access;
use crate::fronts::reports::catalog::{unknown_report, visible_versions};
use crate::state::AppState;

/// A version, as listed.
#[derive(Debug, Clone)]
struct VersionRow {
    id: String,
    url: String,
    date: String,
    published: bool,
    branch: String,
    commit: String,
}

#[derive(Template)]
#[template(path = "console/reports/report.html")]
struct ReportPage {
    chrome: Chrome,
    name: String,
    display_name: String,
    description: String,
    versions: Vec<VersionRow>,
    reviewer: bool,
    note: Option<String>,
    run_form: Option<RunForm>,
    options: RunOptions,
    cannot_run: Option<&'static str>,
}

/// `GET /ui/reports/{name}`.
pub async fn page_of_report(
    state: &AppState,
    caller: &Caller,
    access: &Access,
    name: &str,
) -> Result<warp::reply::Response, ApiError> {
    render(state, caller, access, name, None, StatusCode::OK).await
}

/// The report's page; with a refused run's form and why (`refused`), with `status`.
pub async fn render(
    state: &AppState,
    caller: &Caller,
    access: &Access,
    name: &str,
    refused: Option<(&Form, String)>,
    status: StatusCode,
) -> Result<warp::reply::Response, ApiError> {
    access.require_read(name)?;
    let versions = match visible_versions(state, access, name).await {
        Ok(versions) => versions,
        Err(ApiError::NotFound(_)) => Vec::new(),
        Err(error) => return Err(error),
    };
    let mut note = None;
    let config = match repository::head(state).await {
        Ok(Some(head)) => repository::config(state, name, &head).await,
        Ok(None) => Ok(None),
        Err(error) => {
            note = Some(format!("The reports repository cannot be read: {error}"));
            Ok(None)
        }
    };
    let in_repository = !matches!(config, Ok(None));
    if versions.is_empty() && !in_repository {
        return Err(unknown_report(name));
    }
    let latest = versions.last().map(|version| &version.summary);
    let from_config = |field: fn(&common::reports::config::ReportConfig) -> Option<String>| {
        config
            .as_ref()
            .ok()
            .and_then(Option::as_ref)
            .and_then(field)
    };
    let display_name = latest
        .and_then(|record| record.displayname.clone())
        .or_else(|| from_config(|config| config.displayname.clone()))
        .unwrap_or_default();
    let description = latest
        .and_then(|record| record.description.clone())
        .or_else(|| from_config(|config| config.description.clone()))
        .unwrap_or_default();
    if let Err(error) = &config {
        note = Some(format!("Its orderly.yml cannot be read: {error}"));
    }
    let rows = versions
        .iter()
        .rev()
        .map(|version| VersionRow {
            id: version.summary.id.clone(),
            url: version_url(name, &version.summary.id),
            date: date_text(&version.summary.date),
            published: version.published,
            branch: version.summary.git_branch.clone().unwrap_or_default(),
            commit: version
                .summary
                .git_commit
                .as_deref()
                .unwrap_or_default()
                .chars()
                .take(8)
                .collect(),
        })
        .collect();
    let (run_form, options, cannot_run) = if !access.may(name, Permission::ReportsRun) {
        (None, RunOptions::default(), None)
    } else if repository::configured(state).is_none() {
        (
            None,
            RunOptions::default(),
            Some("This server has no reports repository to run reports from."),
        )
    } else if !in_repository {
        (
            None,
            RunOptions::default(),
            Some("The repository's checked-out branch does not hold this report."),
        )
    } else {
        let (sent, problem) = match refused {
            Some((form, problem)) => (Some(form), Some(problem)),
            None => (None, None),
        };
        let (form, options) = run_form(state, name, sent, problem).await?;
        (Some(form), options, None)
    };
    let title = if display_name.is_empty() {
        name.to_owned()
    } else {
        display_name.clone()
    };
    page_with_status(
        &ReportPage {
            chrome: Chrome::new(caller, title, "reports"),
            name: name.to_owned(),
            display_name,
            description,
            versions: rows,
            reviewer: access.reviews(name),
            note,
            run_form,
            options,
            cannot_run,
        },
        status,
    )
}

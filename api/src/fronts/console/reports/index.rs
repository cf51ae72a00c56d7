//! `GET /ui/reports`: every report the repository holds and every report with versions, as
//! far as the caller reads them, with the latest version it may see; searchable by name.

use std::collections::BTreeSet;

use askama::Template;

use super::{date_text, report_url, repository, version_url};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::fronts::console::form::Form;
use crate::fronts::console::html::{Chrome, page};
use crate::fronts::reports::access::Access;
use crate::fronts::reports::catalog::latest_visible_versions;
use crate::state::AppState;

/// Longest search accepted.
const MAX_SEARCH: usize = 100;

/// A report's latest visible version, as listed.
#[derive(Debug, Clone)]
struct LatestRow {
    id: String,
    url: String,
    date: String,
}

/// A report, as listed.
#[derive(Debug, Clone)]
struct ReportRow {
    name: String,
    url: String,
    display_name: String,
    description: String,
    latest: Option<LatestRow>,
    note: Option<String>,
}

#[derive(Template)]
#[template(path = "console/reports/index.html")]
struct IndexPage {
    chrome: Chrome,
    search: String,
    rows: Vec<ReportRow>,
    total: usize,
    problem: Option<String>,
}

/// True when the report matches `search` (its name or display name holds it, any case).
fn matches_search(row: &ReportRow, search: &str) -> bool {
    let search = search.to_lowercase();
    search.is_empty()
        || row.name.to_lowercase().contains(&search)
        || row.display_name.to_lowercase().contains(&search)
}

/// `GET /ui/reports[?q=]`.
pub async fn page_of_reports(
    state: &AppState,
    caller: &Caller,
    access: &Access,
    query: &Form,
) -> Result<warp::reply::Response, ApiError> {
    access.require_some_read()?;
    let search: String = query
        .text("q")
        .unwrap_or_default()
        .chars()
        .take(MAX_SEARCH)
        .collect();
    let mut problem = None;
    let (head, in_repository) = match repository::reports_at_head(state).await {
        Ok(Some((head, names))) => (Some(head), names),
        Ok(None) => (None, Vec::new()),
        Err(error) => {
            problem = Some(format!("The reports repository cannot be read: {error}"));
            (None, Vec::new())
        }
    };
    let mut names: BTreeSet<String> = state
        .store
        .reports_with_versions()
        .await?
        .into_iter()
        .collect();
    names.extend(in_repository.iter().cloned());
    let names: Vec<String> = names
        .into_iter()
        .filter(|name| access.reads(name))
        .collect();
    let latest = latest_visible_versions(state, access, &names).await?;
    let mut rows = Vec::with_capacity(names.len());
    for (name, latest) in names.iter().zip(latest) {
        let mut row = ReportRow {
            name: name.clone(),
            url: report_url(name),
            display_name: String::new(),
            description: String::new(),
            latest: None,
            note: None,
        };
        match latest {
            Some(version) => {
                let summary = version.summary;
                row.display_name = summary.displayname.unwrap_or_default();
                row.description = summary.description.unwrap_or_default();
                row.latest = Some(LatestRow {
                    url: version_url(name, &summary.id),
                    date: date_text(&summary.date),
                    id: summary.id,
                });
            }
            None => {
                if let Some(head) = head.as_deref().filter(|_| in_repository.contains(name)) {
                    match repository::config(state, name, head).await {
                        Ok(Some(config)) => {
                            row.display_name = config.displayname.unwrap_or_default();
                            row.description = config.description.unwrap_or_default();
                        }
                        Ok(None) => {}
                        Err(error) => row.note = Some(error),
                    }
                }
            }
        }
        rows.push(row);
    }
    let total = rows.len();
    rows.retain(|row| matches_search(row, &search));
    page(&IndexPage {
        chrome: Chrome::new(caller, "Reports", "reports"),
        search,
        rows,
        total,
        problem,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_finds_names_and_display_names_in_any_case() {
        let row = ReportRow {
            name: "minimal".into(),
            url: String::new(),
            display_name: "Minimal Example".into(),
            description: String::new(),
            latest: None,
            note: None,
        };
        assert!(matches_search(&row, ""));
        assert!(matches_search(&row, "MIN"));
        assert!(matches_search(&row, "example"));
        assert!(!matches_search(&row, "other"));
    }
}

//! `/ui/releases`: the releases, newest first, with their state, version and progress (a
//! table polled while the page is open), and the new release form, which starts a release
//! through the releases front's own reading and checks of `POST /releases`.

use std::collections::HashMap;

use askama::Template;
use common::releases::records::{Release, Task};
use serde_json::{Map, Value, json};
use warp::http::StatusCode;

use super::progress::release_percent;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::fronts::console::form::Form;
use crate::fronts::console::html::{Chrome, datetime, page, page_with_status, see_other};
use crate::fronts::releases::lifecycle::{new_release, start_release};
use crate::state::AppState;

/// Releases per page of the list.
const PER_PAGE: usize = 25;
/// Most study ids a form may name.
const MAX_STUDIES: usize = 200;

/// A release as the list shows it.
#[derive(Debug, Clone)]
pub struct ReleaseRow {
    /// `RE_...`.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its state.
    pub state: &'static str,
    /// Its version.
    pub version: String,
    /// Whether publishing makes a major version.
    pub is_major: bool,
    /// Percent done, `None` once it stopped short of publication.
    pub percent: Option<u8>,
    /// Its tasks' count.
    pub tasks: usize,
    /// Who started it.
    pub author: String,
    /// Creation time, UTC.
    pub created: String,
}

/// The table of releases (the live part of the list).
#[derive(Debug, Clone)]
pub struct ReleasesTable {
    /// The page's releases, newest first.
    pub rows: Vec<ReleaseRow>,
    /// The page number (from 1).
    pub page: usize,
    /// The link to newer releases.
    pub previous: Option<String>,
    /// The link to older releases.
    pub next: Option<String>,
}

/// What the new release form holds (kept when it is shown again with a problem).
#[derive(Debug, Clone, Default)]
pub struct ReleaseForm {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Study ids as typed.
    pub studies: String,
    /// Major release.
    pub is_major: bool,
    /// What was wrong with it, if it was refused.
    pub problem: Option<String>,
}

#[derive(Template)]
#[template(path = "console/releases/releases_table.html")]
struct ReleasesTableFragment {
    table: ReleasesTable,
}

#[derive(Template)]
#[template(path = "console/releases/index.html")]
struct IndexPage {
    chrome: Chrome,
    can_write: bool,
    table: ReleasesTable,
    form: ReleaseForm,
}

fn page_number(query: &Form) -> usize {
    query
        .text("page")
        .and_then(|page| page.parse::<usize>().ok())
        .filter(|page| (1..=100_000).contains(page))
        .unwrap_or(1)
}

/// The range `[start, end)` of oldest-first positions holding page `page` (from 1) of the
/// newest-first list of `count` releases.
fn newest_first_range(count: usize, page: usize) -> (usize, usize) {
    let end = count.saturating_sub(page.saturating_sub(1).saturating_mul(PER_PAGE));
    (end.saturating_sub(PER_PAGE), end)
}

/// Study ids as typed in the form: separated by commas or blanks.
fn study_ids(text: &str) -> Vec<Value> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|id| !id.is_empty())
        .take(MAX_STUDIES)
        .map(|id| Value::String(id.to_owned()))
        .collect()
}

/// The rows of `releases`, with their tasks read in one round trip.
pub async fn rows_of(state: &AppState, releases: &[Release]) -> Result<Vec<ReleaseRow>, ApiError> {
    let task_ids: Vec<String> = releases
        .iter()
        .flat_map(|release| release.tasks.iter().cloned())
        .collect();
    let tasks: HashMap<String, Task> = state
        .store
        .release_records::<Task>(&task_ids)
        .await?
        .into_iter()
        .flatten()
        .map(|task| (task.kf_id.clone(), task))
        .collect();
    Ok(releases
        .iter()
        .map(|release| {
            let states: Vec<_> = release
                .tasks
                .iter()
                .filter_map(|id| tasks.get(id))
                .map(|task| (task.state, task.progress))
                .collect();
            ReleaseRow {
                id: release.kf_id.clone(),
                name: release.name.clone(),
                state: release.state.as_str(),
                version: release.version.clone(),
                is_major: release.is_major,
                percent: release_percent(release.state, &states),
                tasks: release.tasks.len(),
                author: release.author.clone(),
                created: datetime(release.created_ms),
            }
        })
        .collect())
}

async fn table(state: &AppState, page_number: usize) -> Result<ReleasesTable, ApiError> {
    let count = state
        .store
        .list_release_records::<Release>(&[], 0, 0)
        .await?
        .count;
    let (start, end) = newest_first_range(count, page_number);
    let mut releases = if end > start {
        state
            .store
            .list_release_records::<Release>(&[], start, end - start)
            .await?
            .items
    } else {
        Vec::new()
    };
    releases.reverse();
    Ok(ReleasesTable {
        rows: rows_of(state, &releases).await?,
        page: page_number,
        previous: (page_number > 1).then(|| format!("/ui/releases?page={}", page_number - 1)),
        next: (start > 0).then(|| format!("/ui/releases?page={}", page_number + 1)),
    })
}

async fn index_page(
    state: &AppState,
    caller: &Caller,
    query: &Form,
    form: ReleaseForm,
    status: StatusCode,
) -> Result<warp::reply::Response, ApiError> {
    page_with_status(
        &IndexPage {
            chrome: Chrome::new(caller, "Releases", "releases").with_notice(super::notice(query)),
            can_write: super::can_write(caller),
            table: table(state, page_number(query)).await?,
            form,
        },
        status,
    )
}

/// `GET /ui/releases`.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    query: &Form,
) -> Result<warp::reply::Response, ApiError> {
    index_page(state, caller, query, ReleaseForm::default(), StatusCode::OK).await
}

/// `GET /ui/releases/live`: the table, polled.
pub async fn live(state: &AppState, query: &Form) -> Result<warp::reply::Response, ApiError> {
    page(&ReleasesTableFragment {
        table: table(state, page_number(query)).await?,
    })
}

/// `POST /ui/releases`: starts a release (its author is the signed-in key) and shows it, or
/// shows the form again with what was wrong (400).
pub async fn create(
    state: &AppState,
    caller: &Caller,
    form: &Form,
) -> Result<warp::reply::Response, ApiError> {
    let typed = ReleaseForm {
        name: form.get("name").unwrap_or_default().to_owned(),
        description: form.get("description").unwrap_or_default().to_owned(),
        studies: form.get("studies").unwrap_or_default().to_owned(),
        is_major: form.get("is_major") == Some("true"),
        problem: None,
    };
    let fields = Map::from_iter([
        ("name".to_owned(), json!(typed.name.trim())),
        ("description".to_owned(), json!(typed.description.trim())),
        ("author".to_owned(), json!(caller.key.id)),
        ("is_major".to_owned(), json!(typed.is_major)),
        (
            "studies".to_owned(),
            Value::Array(study_ids(&typed.studies)),
        ),
    ]);
    let started = match new_release(&fields) {
        Ok(new) => start_release(state, &new).await,
        Err(error) => Err(error),
    };
    match started {
        Ok(release) => Ok(see_other(&format!(
            "/ui/releases/{}?done=created",
            release.kf_id
        ))),
        Err(error @ ApiError::BadRequest { .. }) => {
            let form = ReleaseForm {
                problem: Some(error.to_string()),
                ..typed
            };
            index_page(
                state,
                caller,
                &Form::default(),
                form,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Err(other) => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_of_the_newest_first_list_cover_every_release_once() {
        assert_eq!(newest_first_range(0, 1), (0, 0));
        assert_eq!(newest_first_range(3, 1), (0, 3));
        assert_eq!(newest_first_range(60, 1), (35, 60));
        assert_eq!(newest_first_range(60, 2), (10, 35));
        assert_eq!(newest_first_range(60, 3), (0, 10));
        assert_eq!(newest_first_range(60, 4), (0, 0));
        assert_eq!(newest_first_range(60, 100_000), (0, 0));
    }

    #[test]
    fn study_ids_are_split_on_commas_and_blanks() {
        assert_eq!(
            study_ids(" SD_ME0WME0W, SD_AAAA1111\nSD_BBBB2222,,"),
            vec![
                json!("SD_ME0WME0W"),
                json!("SD_AAAA1111"),
                json!("SD_BBBB2222")
            ]
        );
        assert!(study_ids("  ,  ").is_empty());
    }
}

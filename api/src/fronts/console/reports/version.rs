//! `GET /ui/reports/{name}/versions/{version}`: one version as the caller may see it (an
//! unpublished version is a 404 for readers, as in the API): its parameters, git branch and
//! commit, artefacts (images and HTML previewed inline), resources, data extracts, README
//! and changelog, with a link to download it all; and, for reviewers, the publish toggle.

use askama::Template;
use common::reports::version::VersionRecord;
use futures::StreamExt;
use serde_json::Value;

use super::files::PreviewKind;
use super::{date_text, file_segments, markdown, report_url, size_text, version_url};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::fronts::console::form::Form;
use crate::fronts::console::html::{Chrome, page, see_other};
use crate::fronts::reports::access::Access;
use crate::fronts::reports::catalog::{changelog_json, set_published, visible_version};
use crate::state::AppState;

/// Largest README rendered; a larger one is offered as a download only.
const MAX_README_BYTES: u64 = 512 * 1024;

/// A file of the version, as listed.
#[derive(Debug, Clone)]
struct FileRow {
    name: String,
    size: String,
    md5: String,
    url: String,
    preview_url: String,
    preview: Option<PreviewKind>,
}

impl FileRow {
    fn is_image(&self) -> bool {
        self.preview == Some(PreviewKind::Image)
    }

    fn is_html(&self) -> bool {
        self.preview == Some(PreviewKind::Html)
    }
}

/// An artefact: its format, description and files.
#[derive(Debug, Clone)]
struct ArtefactRow {
    format: String,
    description: String,
    files: Vec<FileRow>,
}

/// A data extract.
#[derive(Debug, Clone)]
struct DataRow {
    name: String,
    csv_size: String,
    csv_md5: String,
    csv_url: String,
    rds: Option<(String, String)>,
}

/// A changelog entry.
#[derive(Debug, Clone)]
struct ChangeRow {
    label: String,
    value: String,
    version: String,
    version_url: String,
}

/// The README, rendered or as text.
#[derive(Debug, Clone)]
enum Readme {
    /// Markdown rendered to HTML without raw HTML ([`markdown::render`]).
    Html(String),
    /// Plain text.
    Text(String),
    /// Too large to show.
    TooLarge(String),
}

#[derive(Template)]
#[template(path = "console/reports/version.html")]
struct VersionPage {
    chrome: Chrome,
    name: String,
    report_url: String,
    display_name: String,
    description: String,
    id: String,
    url: String,
    date: String,
    published: bool,
    reviewer: bool,
    author: String,
    requester: String,
    git_branch: String,
    git_commit: String,
    parameters: Vec<(String, String)>,
    artefacts: Vec<ArtefactRow>,
    resources: Vec<FileRow>,
    data: Vec<DataRow>,
    readme: Option<Readme>,
    changelog: Vec<ChangeRow>,
}

fn file_row(base: &str, kind: &str, name: &str, size: u64, md5: &str) -> FileRow {
    let path = file_segments(name);
    FileRow {
        name: name.to_owned(),
        size: size_text(size),
        md5: md5.to_owned(),
        url: format!("{base}/{kind}/{path}"),
        preview_url: format!("{base}/preview/{path}"),
        preview: (kind == "artefacts")
            .then(|| PreviewKind::of(name))
            .flatten(),
    }
}

/// Reads the version's README from the artefact store: `None` when it has none or it
/// cannot be read (logged).
async fn readme(state: &AppState, record: &VersionRecord, base: &str) -> Option<Readme> {
    let file = record.readme.as_ref()?;
    let (size, mut chunks) = match state.reports.artefacts.stream(&record.id, file).await {
        Ok(found) => found,
        Err(error) => {
            tracing::warn!(version = %record.id, cause = %error, "a version's README cannot be read");
            return None;
        }
    };
    if size > MAX_README_BYTES {
        return Some(Readme::TooLarge(file.clone()));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    while let Some(chunk) = chunks.next().await {
        match chunk {
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            Err(error) => {
                tracing::warn!(version = %record.id, cause = %error, "a version's README cannot be read");
                return None;
            }
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    let lower = file.to_ascii_lowercase();
    if lower.ends_with(".md") || lower.ends_with(".markdown") {
        Some(Readme::Html(markdown::render(
            &text,
            &format!("{base}/preview/"),
        )))
    } else {
        Some(Readme::Text(text.into_owned()))
    }
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// `GET /ui/reports/{name}/versions/{version}`.
pub async fn page_of_version(
    state: &AppState,
    caller: &Caller,
    access: &Access,
    name: &str,
    id: &str,
    notice: Option<String>,
) -> Result<warp::reply::Response, ApiError> {
    let version = visible_version(state, access, name, id).await?;
    let all = state.store.report_changes(name).await?;
    let changelog = changelog_json(access, name, &all, id)
        .into_iter()
        .map(|entry| ChangeRow {
            label: entry.label,
            value: entry.value,
            version_url: version_url(name, &entry.report_version),
            version: entry.report_version,
        })
        .collect();
    let record = &version.record;
    let base = version_url(name, id);
    let artefacts = record
        .artefacts
        .iter()
        .map(|group| ArtefactRow {
            format: group.format.clone(),
            description: group.description.clone().unwrap_or_default(),
            files: group
                .files
                .iter()
                .map(|file| file_row(&base, "artefacts", &file.name, file.size, &file.md5))
                .collect(),
        })
        .collect();
    let resources = record
        .resources
        .iter()
        .map(|file| file_row(&base, "resources", &file.name, file.size, &file.md5))
        .collect();
    let data = record
        .data
        .iter()
        .map(|extract| {
            let url = format!("{base}/data/{}", file_segments(&extract.name));
            DataRow {
                name: extract.name.clone(),
                csv_size: size_text(extract.csv.size),
                csv_md5: extract.csv.md5.clone(),
                rds: extract
                    .rds
                    .as_ref()
                    .map(|rds| (format!("{url}?type=rds"), size_text(rds.size))),
                csv_url: url,
            }
        })
        .collect();
    let display_name = record.displayname.clone().unwrap_or_default();
    let title = format!(
        "{} {id}",
        if display_name.is_empty() {
            name
        } else {
            &display_name
        }
    );
    page(&VersionPage {
        chrome: Chrome::new(caller, title, "reports").with_notice(notice),
        name: name.to_owned(),
        report_url: report_url(name),
        description: record.description.clone().unwrap_or_default(),
        id: id.to_owned(),
        date: date_text(&record.date),
        published: version.published,
        reviewer: access.reviews(name),
        author: record.author.clone().unwrap_or_default(),
        requester: record.requester.clone().unwrap_or_default(),
        git_branch: record.git_branch.clone().unwrap_or_default(),
        git_commit: record.git_commit.clone().unwrap_or_default(),
        parameters: record
            .parameter_values
            .iter()
            .map(|(key, value)| (key.clone(), value_text(value)))
            .collect(),
        artefacts,
        resources,
        data,
        readme: readme(state, record, &base).await,
        changelog,
        url: base,
        display_name,
    })
}

/// `POST /ui/reports/{name}/versions/{version}/publish` with `value=true` or `false`.
pub async fn publish(
    state: &AppState,
    access: &Access,
    name: &str,
    id: &str,
    form: &Form,
) -> Result<warp::reply::Response, ApiError> {
    let value = match form.get("value") {
        Some("true") => true,
        Some("false") => false,
        _ => return Err(ApiError::bad_request("value must be true or false")),
    };
    set_published(state, access, name, id, value).await?;
    let done = if value { "published" } else { "unpublished" };
    Ok(see_other(&format!("{}?done={done}", version_url(name, id))))
}

//! A version's files: artefact, resource and data dictionaries (name → md5), downloads, data
//! by hash, and the zip of a whole version.
//!
//! Downloads stream from the artefact store; a version's zip is written to a temporary file,
//! a chunk at a time, then streamed from it. No answer holds a whole file in memory.

use std::io::{Seek, Write};

use common::auth::permissions::Permission;
use common::reports::artefacts::{ArtefactError, ArtefactStore};
use common::reports::version::{DATA_FOLDER, VersionRecord};
use futures::StreamExt;
use serde_json::{Map, Value};

use super::access::caller;
use super::catalog::visible_version;
use super::reply::{content_type_of, download_stream, success};
use super::route::{DataForm, FileKind};
use crate::error::ApiError;
use crate::request::RequestParts;
use crate::state::AppState;

/// One file of a version: where the store keeps it and the name it has in the version.
struct StoredPath {
    folder: String,
    object: String,
    name: String,
}

fn artefact_files(record: &VersionRecord) -> impl Iterator<Item = (&str, &str)> {
    record
        .artefacts
        .iter()
        .flat_map(|group| group.files.iter())
        .map(|file| (file.name.as_str(), file.md5.as_str()))
}

fn data_object(md5: &str, form: DataForm) -> String {
    match form {
        DataForm::Csv => format!("{md5}.csv"),
        DataForm::Rds => format!("{md5}.rds"),
    }
}

/// Where the store keeps the version's file `name` of `kind` (`form` for data).
fn stored_path(
    record: &VersionRecord,
    kind: FileKind,
    name: &str,
    form: DataForm,
) -> Option<StoredPath> {
    let in_version = |name: &str| StoredPath {
        folder: record.id.clone(),
        object: name.to_owned(),
        name: name.to_owned(),
    };
    match kind {
        FileKind::Artefacts => artefact_files(record)
            .find(|(file, _)| *file == name)
            .map(|(file, _)| in_version(file)),
        FileKind::Resources => record
            .resources
            .iter()
            .find(|file| file.name == name)
            .map(|file| in_version(&file.name)),
        FileKind::Data => {
            let data = record.data.iter().find(|data| data.name == name)?;
            let (md5, extension) = match form {
                DataForm::Csv => (&data.csv.md5, "csv"),
                DataForm::Rds => (&data.rds.as_ref()?.md5, "rds"),
            };
            Some(StoredPath {
                folder: DATA_FOLDER.to_owned(),
                object: data_object(md5, form),
                name: format!("{}.{extension}", data.name),
            })
        }
    }
}

fn store_error(path: &StoredPath, error: ArtefactError) -> ApiError {
    match error {
        ArtefactError::NotFound(_) | ArtefactError::InvalidName(_) => {
            ApiError::NotFound(format!("Unknown file: '{}'", path.name))
        }
        other => {
            tracing::error!(cause = %other, "artefact store failed");
            ApiError::Unavailable("the artefact store failed; try again".into())
        }
    }
}

/// Streams the stored file `path` as a download of `content_type`.
async fn send(
    state: &AppState,
    path: &StoredPath,
    content_type: &str,
) -> Result<warp::reply::Response, ApiError> {
    let (size, chunks) = state
        .reports
        .artefacts
        .stream(&path.folder, &path.object)
        .await
        .map_err(|error| store_error(path, error))?;
    Ok(download_stream(chunks, size, content_type, &path.name))
}

/// `GET /reports/:name/versions/:version/{artefacts,resources,data}/`: names → md5s.
pub async fn dictionary(
    state: &AppState,
    request: &RequestParts,
    name: &str,
    id: &str,
    kind: FileKind,
) -> Result<warp::reply::Response, ApiError> {
    let access = caller(state, request, false).await?;
    let record = visible_version(state, &access, name, id).await?.record;
    let entries: Map<String, Value> = match kind {
        FileKind::Artefacts => artefact_files(&record)
            .map(|(file, md5)| (file.to_owned(), Value::from(md5)))
            .collect(),
        FileKind::Resources => record
            .resources
            .iter()
            .map(|file| (file.name.clone(), Value::from(file.md5.clone())))
            .collect(),
        FileKind::Data => record
            .data
            .iter()
            .map(|data| (data.name.clone(), Value::from(data.csv.md5.clone())))
            .collect(),
    };
    Ok(success(entries))
}

/// `GET /reports/:name/versions/:version/{artefacts,resources,data}/:file/` (data: `?type=csv`
/// or `rds`, csv by default).
pub async fn download(
    state: &AppState,
    request: &RequestParts,
    name: &str,
    id: &str,
    kind: FileKind,
    file: &str,
) -> Result<warp::reply::Response, ApiError> {
    let access = caller(state, request, true).await?;
    let record = visible_version(state, &access, name, id).await?.record;
    let form = match request.query("type").as_deref() {
        None | Some("csv") => DataForm::Csv,
        Some("rds") => DataForm::Rds,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "type must be csv or rds, not '{other}'"
            )));
        }
    };
    let path = stored_path(&record, kind, file, form)
        .ok_or_else(|| ApiError::NotFound(format!("Unknown file: '{file}' of version {id}")))?;
    let content_type = match (kind, form) {
        (FileKind::Data, DataForm::Csv) => "text/csv".to_owned(),
        (FileKind::Data, DataForm::Rds) => "application/octet-stream".to_owned(),
        _ => content_type_of(&path.name),
    };
    send(state, &path, &content_type).await
}

/// `GET /data/{csv,rds}/:id/`: a data extract by its hash.
pub async fn data_by_hash(
    state: &AppState,
    request: &RequestParts,
    id: &str,
    form: DataForm,
) -> Result<warp::reply::Response, ApiError> {
    let access = caller(state, request, true).await?;
    access.require_global(Permission::ReportsRead)?;
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::NotFound(format!("Unknown data: '{id}'")));
    }
    let path = StoredPath {
        folder: DATA_FOLDER.to_owned(),
        object: data_object(&id.to_ascii_lowercase(), form),
        name: data_object(id, form),
    };
    let content_type = match form {
        DataForm::Csv => "text/csv",
        DataForm::Rds => "application/octet-stream",
    };
    send(state, &path, content_type).await
}

/// Every file of a version that goes in its zip: artefacts, resources and the README for
/// every reader, data too for reviewers.
fn zip_members(record: &VersionRecord, reviewer: bool) -> Vec<StoredPath> {
    let mut members: Vec<StoredPath> = artefact_files(record)
        .filter_map(|(file, _)| stored_path(record, FileKind::Artefacts, file, DataForm::Csv))
        .collect();
    members.extend(
        record
            .resources
            .iter()
            .filter_map(|file| stored_path(record, FileKind::Resources, &file.name, DataForm::Csv)),
    );
    if let Some(readme) = &record.readme
        && !members.iter().any(|member| member.name == *readme)
    {
        members.push(StoredPath {
            folder: record.id.clone(),
            object: readme.clone(),
            name: readme.clone(),
        });
    }
    if reviewer {
        for data in &record.data {
            for form in [DataForm::Csv, DataForm::Rds] {
                if let Some(mut path) = stored_path(record, FileKind::Data, &data.name, form) {
                    path.name = format!("data/{}", path.name);
                    members.push(path);
                }
            }
        }
    }
    members
}

/// `GET /reports/:name/versions/:version/all/`: a zip of the version's files, written to a
/// temporary file a chunk at a time and streamed from it.
pub async fn zip(
    state: &AppState,
    request: &RequestParts,
    name: &str,
    id: &str,
) -> Result<warp::reply::Response, ApiError> {
    let access = caller(state, request, true).await?;
    let record = visible_version(state, &access, name, id).await?.record;
    let members = zip_members(&record, access.reviews(name));
    let (store, folder) = (state.reports.artefacts.clone(), id.to_owned());
    let runtime = tokio::runtime::Handle::current();
    let file = tokio::task::spawn_blocking(move || write_zip(&runtime, &store, &folder, &members))
        .await
        .map_err(|error| ApiError::Unavailable(format!("zip interrupted: {error}")))??;
    let size = file.metadata().map_err(|error| zip_failed(&error))?.len();
    let chunks = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file));
    Ok(download_stream(
        chunks,
        size,
        "application/zip",
        &format!("{id}.zip"),
    ))
}

fn zip_failed(error: &dyn std::fmt::Display) -> ApiError {
    tracing::error!(cause = %error, "cannot build a version's zip");
    ApiError::Unavailable("cannot build the zip; try again".into())
}

/// Writes the zip of `members` (under the folder `top`) into an anonymous temporary file (in
/// `TMPDIR`), copying each from the store a chunk at a time; returns the file, rewound. Blocking: runs
/// the store's reads on `runtime`.
fn write_zip(
    runtime: &tokio::runtime::Handle,
    store: &ArtefactStore,
    top: &str,
    members: &[StoredPath],
) -> Result<std::fs::File, ApiError> {
    let file = tempfile::tempfile().map_err(|error| zip_failed(&error))?;
    let mut writer = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for member in members {
        let (size, mut chunks) = runtime
            .block_on(store.stream(&member.folder, &member.object))
            .map_err(|error| store_error(member, error))?;
        let options = options.large_file(size >= u64::from(u32::MAX));
        writer
            .start_file(format!("{top}/{}", member.name), options)
            .map_err(|error| zip_failed(&error))?;
        while let Some(chunk) = runtime.block_on(chunks.next()) {
            let chunk = chunk.map_err(|error| store_error(member, error))?;
            writer
                .write_all(&chunk)
                .map_err(|error| zip_failed(&error))?;
        }
    }
    let mut file = writer.finish().map_err(|error| zip_failed(&error))?;
    file.rewind().map_err(|error| zip_failed(&error))?;
    Ok(file)
}

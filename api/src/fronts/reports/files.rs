//! A version's files: artefact, resource and data dictionaries (name → md5), downloads, data
//! by hash, and the zip of a whole version.

use std::io::Write;

use bytes::Bytes;
use common::artefacts::ArtefactError;
use common::report_version::{DATA_FOLDER, VersionRecord};
use common::store::apikeys::Permission;
use serde_json::{Map, Value};

use super::access::caller;
use super::catalog::visible_version;
use super::reply::{content_type_of, download as send_file, success};
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

async fn read(state: &AppState, path: &StoredPath) -> Result<Bytes, ApiError> {
    state
        .reports
        .artefacts
        .get(&path.folder, &path.object)
        .await
        .map_err(|error| match error {
            ArtefactError::NotFound(_) | ArtefactError::InvalidName(_) => {
                ApiError::NotFound(format!("Unknown file: '{}'", path.name))
            }
            other => {
                tracing::error!(cause = %other, "artefact store failed");
                ApiError::Unavailable("the artefact store failed; try again".into())
            }
        })
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
    let bytes = read(state, &path).await?;
    let content_type = match (kind, form) {
        (FileKind::Data, DataForm::Csv) => "text/csv".to_owned(),
        (FileKind::Data, DataForm::Rds) => "application/octet-stream".to_owned(),
        _ => content_type_of(&path.name),
    };
    Ok(send_file(bytes, &content_type, &path.name))
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
    let bytes = read(state, &path).await?;
    let content_type = match form {
        DataForm::Csv => "text/csv",
        DataForm::Rds => "application/octet-stream",
    };
    Ok(send_file(bytes, content_type, &path.name))
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

/// `GET /reports/:name/versions/:version/all/`: a zip of the version's files.
pub async fn zip(
    state: &AppState,
    request: &RequestParts,
    name: &str,
    id: &str,
) -> Result<warp::reply::Response, ApiError> {
    let access = caller(state, request, true).await?;
    let record = visible_version(state, &access, name, id).await?.record;
    let mut files = Vec::new();
    for member in zip_members(&record, access.reviews(name)) {
        let bytes = read(state, &member).await?;
        files.push((format!("{id}/{}", member.name), bytes));
    }
    let zipped = tokio::task::spawn_blocking(move || write_zip(&files))
        .await
        .map_err(|error| ApiError::Unavailable(format!("zip interrupted: {error}")))?
        .map_err(|error| ApiError::Unavailable(format!("cannot build the zip: {error}")))?;
    Ok(send_file(
        Bytes::from(zipped),
        "application/zip",
        &format!("{id}.zip"),
    ))
}

fn write_zip(files: &[(String, Bytes)]) -> Result<Vec<u8>, zip::result::ZipError> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in files {
        writer.start_file(name.as_str(), options)?;
        writer.write_all(bytes)?;
    }
    Ok(writer.finish()?.into_inner())
}

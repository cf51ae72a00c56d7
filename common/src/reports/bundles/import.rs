//! Importing a completed bundle: checking every file its version record lists against the
//! files it carries, and storing them as a worker's run would.

use std::io::{Cursor, Read, Seek};
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use super::archive::unzip;
use super::{BundleError, DEFAULT_MAX_UNPACKED, PACK, VERSION, read_config, read_info, read_json};
use crate::reports::artefacts::ArtefactStore;
use crate::reports::outputs::{self, OutputError, OutputFile};
use crate::reports::version::VersionRecord;

/// An unpacked, checked bundle, ready to store; its files live as long as it does.
#[derive(Debug)]
pub struct CheckedBundle {
    _work: TempDir,
    /// The version it records.
    pub record: VersionRecord,
    files: Vec<OutputFile>,
}

impl CheckedBundle {
    /// Stores the bundle's files as a worker's run would; returns its record. Storing the
    /// record itself is the caller's.
    pub async fn store(self, store: &ArtefactStore) -> Result<VersionRecord, BundleError> {
        outputs::store(&self.files, store)
            .await
            .map_err(|error| match error {
                OutputError::Store(error) => BundleError::Store(error),
                other => BundleError::Outputs(other),
            })?;
        Ok(self.record)
    }
}

/// Unpacks and checks the completed bundle in the file at `path` (read from the file, never
/// into memory whole): refuses anything but a zip with one top folder, no escaping paths and
/// at most `max_unpacked` bytes unpacked, and a bundle that was not run; checks that every
/// file its record lists is in `pack/` with the recorded size and md5.
pub async fn check_bundle(path: &Path, max_unpacked: u64) -> Result<CheckedBundle, BundleError> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        let file =
            std::fs::File::open(&path).map_err(|error| BundleError::Io(error.to_string()))?;
        unpack_and_check(std::io::BufReader::new(file), max_unpacked)
    })
    .await
    .map_err(|error| BundleError::Io(format!("import interrupted: {error}")))?
}

/// [`import_bundle_limited`] with the default limit, [`DEFAULT_MAX_UNPACKED`].
pub async fn import_bundle(
    bytes: &[u8],
    store: &ArtefactStore,
) -> Result<VersionRecord, BundleError> {
    import_bundle_limited(bytes, store, DEFAULT_MAX_UNPACKED).await
}

/// Imports the completed bundle `bytes`: refuses anything but a zip with one top folder, no
/// escaping paths and at most `max_unpacked` bytes unpacked, and a bundle that was not run;
/// checks that every file its record lists is in `pack/` with the recorded size and md5; then
/// stores them in `store` and returns the record. Storing the record itself is the caller's.
pub async fn import_bundle_limited(
    bytes: &[u8],
    store: &ArtefactStore,
    max_unpacked: u64,
) -> Result<VersionRecord, BundleError> {
    let bytes = bytes.to_vec();
    tokio::task::spawn_blocking(move || unpack_and_check(Cursor::new(bytes), max_unpacked))
        .await
        .map_err(|error| BundleError::Io(format!("import interrupted: {error}")))??
        .store(store)
        .await
}

fn unpack_and_check<R: Read + Seek>(
    zipped: R,
    max_unpacked: u64,
) -> Result<CheckedBundle, BundleError> {
    let work = tempfile::tempdir().map_err(|error| BundleError::Io(error.to_string()))?;
    let top = unzip(zipped, work.path(), max_unpacked)?;
    let root: PathBuf = work.path().join(&top);
    if !root.join(VERSION).is_file() {
        return Err(BundleError::NotCompleted);
    }
    let info = read_info(&root, &top)?;
    let record: VersionRecord = read_json(&root, VERSION)?;
    if record.id != info.id
        || record.name != info.name
        || record.git_commit.as_deref() != Some(info.git_commit.as_str())
    {
        return Err(BundleError::Invalid(
            "the bundle's version record does not match its info.json".into(),
        ));
    }
    let pack = root.join(PACK);
    let config = read_config(&pack, &info.name)?;
    let files = outputs::record_files(&record, &config, &pack)?;
    outputs::verify(&files)?;
    Ok(CheckedBundle {
        _work: work,
        record,
        files,
    })
}

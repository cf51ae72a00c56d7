//! The artefact store: the files of report versions (artefacts, resources, data), hashed with
//! md5 as OrderlyWeb shows them. A local directory by default; an S3-compatible bucket
//! (`s3://bucket/prefix`, credentials from the usual `AWS_*` variables) serves a fleet of
//! workers on several machines. Built on the `object_store` crate.

use std::path::Path as FsPath;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use md5::{Digest, Md5};
use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;

/// Why the artefact store failed.
#[derive(Debug, thiserror::Error)]
pub enum ArtefactError {
    /// A file name that would leave its version's folder.
    #[error("invalid file name '{0}'")]
    InvalidName(String),
    /// The file does not exist.
    #[error("no file '{0}'")]
    NotFound(String),
    /// The store failed.
    #[error("artefact store: {0}")]
    Store(String),
    /// A local file could not be read.
    #[error("cannot read {path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
}

impl From<object_store::Error> for ArtefactError {
    fn from(error: object_store::Error) -> Self {
        match error {
            object_store::Error::NotFound { path, .. } => Self::NotFound(path),
            other => Self::Store(other.to_string()),
        }
    }
}

/// A stored file of a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    /// Its name within the version (e.g. `mygraph.png`, `source/inputdata.csv`).
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its md5, in hex.
    pub md5: String,
}

/// The md5 of `bytes`, in hex.
pub fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Where versions' files are kept.
#[derive(Debug, Clone)]
pub struct ArtefactStore {
    store: Arc<dyn ObjectStore>,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && name
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

impl ArtefactStore {
    /// A store at `location`: `s3://bucket[/prefix]`, `file:///dir`, or a directory path
    /// (created when missing).
    pub fn open(location: &str) -> Result<Self, ArtefactError> {
        let store: Arc<dyn ObjectStore> = if location.starts_with("s3://") {
            Arc::new(AmazonS3Builder::from_env().with_url(location).build()?)
        } else {
            let dir = location.strip_prefix("file://").unwrap_or(location);
            std::fs::create_dir_all(dir)
                .map_err(|error| ArtefactError::Store(format!("cannot create {dir}: {error}")))?;
            Arc::new(LocalFileSystem::new_with_prefix(dir)?)
        };
        Ok(Self { store })
    }

    fn path(version: &str, name: &str) -> Result<Path, ArtefactError> {
        if !valid_name(version) || version.contains('/') || !valid_name(name) {
            return Err(ArtefactError::InvalidName(format!("{version}/{name}")));
        }
        Ok(Path::from(format!("{version}/{name}")))
    }

    /// Stores `bytes` as file `name` of `version`.
    pub async fn put(
        &self,
        version: &str,
        name: &str,
        bytes: Bytes,
    ) -> Result<StoredFile, ArtefactError> {
        let path = Self::path(version, name)?;
        let stored = StoredFile {
            name: name.to_owned(),
            size: bytes.len() as u64,
            md5: md5_hex(&bytes),
        };
        self.store.put(&path, bytes.into()).await?;
        Ok(stored)
    }

    /// Stores the local file `local` as file `name` of `version`.
    pub async fn put_file(
        &self,
        version: &str,
        name: &str,
        local: &FsPath,
    ) -> Result<StoredFile, ArtefactError> {
        let bytes = tokio::fs::read(local)
            .await
            .map_err(|error| ArtefactError::Read {
                path: local.display().to_string(),
                message: error.to_string(),
            })?;
        self.put(version, name, Bytes::from(bytes)).await
    }

    /// File `name` of `version`.
    pub async fn get(&self, version: &str, name: &str) -> Result<Bytes, ArtefactError> {
        let path = Self::path(version, name)?;
        Ok(self.store.get(&path).await?.bytes().await?)
    }

    /// File `name` of `version` as its size and a stream of chunks, so that a large file is
    /// served without being held in memory whole.
    pub async fn stream(
        &self,
        version: &str,
        name: &str,
    ) -> Result<(u64, BoxStream<'static, Result<Bytes, ArtefactError>>), ArtefactError> {
        let path = Self::path(version, name)?;
        let found = self.store.get(&path).await?;
        let size = found.meta.size;
        Ok((
            size,
            found.into_stream().map_err(ArtefactError::from).boxed(),
        ))
    }

    /// Every file name of `version`, sorted.
    pub async fn list(&self, version: &str) -> Result<Vec<String>, ArtefactError> {
        if !valid_name(version) || version.contains('/') {
            return Err(ArtefactError::InvalidName(version.to_owned()));
        }
        let prefix = Path::from(version);
        let objects: Vec<_> = self.store.list(Some(&prefix)).try_collect().await?;
        let mut names: Vec<String> = objects
            .iter()
            .filter_map(|object| {
                object
                    .location
                    .as_ref()
                    .strip_prefix(&format!("{version}/"))
                    .map(str::to_owned)
            })
            .collect();
        names.sort();
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_matches_known_vectors() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
    }

    #[tokio::test]
    async fn a_local_store_round_trips_files_with_their_md5() {
        let dir = tempfile::tempdir().unwrap();
        let store = ArtefactStore::open(&dir.path().join("store").display().to_string()).unwrap();
        let graph = store
            .put(
                "20161006-142357-e80edf58",
                "mygraph.png",
                Bytes::from_static(b"png"),
            )
            .await
            .unwrap();
        assert_eq!(graph.size, 3);
        assert_eq!(graph.md5, md5_hex(b"png"));
        let local = dir.path().join("input.csv");
        std::fs::write(&local, "a,b\n").unwrap();
        store
            .put_file("20161006-142357-e80edf58", "source/inputdata.csv", &local)
            .await
            .unwrap();
        assert_eq!(
            store
                .get("20161006-142357-e80edf58", "source/inputdata.csv")
                .await
                .unwrap(),
            Bytes::from_static(b"a,b\n")
        );
        let (size, chunks) = store
            .stream("20161006-142357-e80edf58", "source/inputdata.csv")
            .await
            .unwrap();
        let chunks: Vec<Bytes> = chunks.try_collect().await.unwrap();
        assert_eq!((size, chunks.concat()), (4, b"a,b\n".to_vec()));
        assert_eq!(
            store.list("20161006-142357-e80edf58").await.unwrap(),
            vec!["mygraph.png", "source/inputdata.csv"]
        );
        assert!(matches!(
            store.get("20161006-142357-e80edf58", "nope").await,
            Err(ArtefactError::NotFound(_))
        ));
        for bad in ["../x", "/etc/passwd", "a/../b", ""] {
            assert!(
                matches!(
                    store.get("v", bad).await,
                    Err(ArtefactError::InvalidName(_))
                ),
                "{bad}"
            );
        }
    }
}

//! Packing a report at a commit into a bundle to run elsewhere.

use serde_json::{Map, Value};

use super::archive::zip_folder;
use super::{BundleError, BundleInfo, INFO, PACK, io_error};
use crate::reports::globals::{self, GlobalError};
use crate::reports::repo::ReportsRepo;
use crate::reports::version::is_version_id;

/// A bundle of `report` at `commit` for version `version_id`: the report's folder exported
/// into `pack/` (with the global resources it uses copied in) and what was asked for in
/// `meta/info.json`. `parameters` must already be
/// checked against the report's `orderly.yml`. Runs git and writes temporary files: call it
/// from blocking code.
pub fn pack_bundle(
    repo: &ReportsRepo,
    report: &str,
    commit: &str,
    branch: Option<&str>,
    parameters: &Map<String, Value>,
    instances: &Map<String, Value>,
    version_id: &str,
) -> Result<Vec<u8>, BundleError> {
    if !is_version_id(version_id) {
        return Err(BundleError::Invalid(format!(
            "'{version_id}' is not a version id"
        )));
    }
    let work = tempfile::tempdir().map_err(|error| BundleError::Io(error.to_string()))?;
    let root = work.path().join(version_id);
    repo.export(report, commit, &root.join(PACK))?;
    // The global resources the report uses travel with it, as a worker would copy them.
    let config = repo.config(report, commit)?;
    globals::copy_into(repo, commit, &config.global_resources, &root.join(PACK)).map_err(
        |error| match error {
            GlobalError::Repo(error) => BundleError::Repo(error),
            GlobalError::Write { .. } => BundleError::Io(error.to_string()),
            GlobalError::NoFolder { .. } | GlobalError::Missing { .. } => {
                BundleError::Invalid(format!("report '{report}': {error}"))
            }
        },
    )?;
    let info = BundleInfo {
        id: version_id.to_owned(),
        name: report.to_owned(),
        parameters: parameters.clone(),
        instances: instances.clone(),
        git_commit: commit.to_owned(),
        git_branch: branch.map(str::to_owned),
        changelog: None,
    };
    let info_path = root.join(INFO);
    if let Some(meta) = info_path.parent() {
        std::fs::create_dir_all(meta).map_err(|error| io_error(meta, error))?;
    }
    let json = serde_json::to_vec_pretty(&info)
        .map_err(|error| BundleError::Io(format!("cannot encode {INFO}: {error}")))?;
    std::fs::write(&info_path, json).map_err(|error| io_error(&info_path, error))?;
    zip_folder(&root, version_id)
}

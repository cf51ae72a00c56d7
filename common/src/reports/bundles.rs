//! Report bundles, OrderlyWeb's way of running a report away from the server: the server
//! packs a report at a commit into a zip ([`pack_bundle`]); someone completes it where the
//! data lives (`baton-worker bundle run`, behind it [`run_bundle`]); the server imports the
//! completed zip as a new version ([`import_bundle`]).
//!
//! A bundle is a zip with one top folder named by the version id:
//!
//! ```text
//! 20240102-030405-0a1b2c3d/
//!   pack/               the report's folder at the commit (plus, once run, its outputs)
//!   meta/info.json      what was asked for: BundleInfo
//!   meta/version.json   once run: the VersionRecord
//! ```
//!
//! # Layout
//! - `archive`: zipping a folder and unzipping safely (one top folder, no escaping
//!   paths, no links, bounded size).
//! - `pack`, `run`, `import`: the three steps.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::reports::artefacts::ArtefactError;
use crate::reports::config::ReportConfig;
use crate::reports::outputs::OutputError;
use crate::reports::repo::RepoError;
use crate::reports::run_spec::RunChangelog;

mod archive;
mod import;
mod pack;
mod run;

pub use import::{CheckedBundle, check_bundle, import_bundle, import_bundle_limited};
pub use pack::pack_bundle;
pub use run::{run_bundle, run_bundle_file};

/// The largest total a bundle may unpack to, by default: 1 GiB.
pub const DEFAULT_MAX_UNPACKED: u64 = 1 << 30;

/// The folder of a bundle that holds the report's files.
const PACK: &str = "pack";
/// What was asked for, in the `meta` folder.
const INFO: &str = "meta/info.json";
/// The version record of a completed bundle, in the `meta` folder.
const VERSION: &str = "meta/version.json";

/// Why a bundle cannot be made, run or imported.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The bytes are not a zip file.
    #[error("the bundle is not a zip file: {0}")]
    NotZip(String),
    /// The zip cannot be read through.
    #[error("the bundle is damaged: {0}")]
    Damaged(String),
    /// An entry whose path would leave the bundle's top folder.
    #[error("the bundle's entry '{0}' leaves its top folder")]
    UnsafePath(String),
    /// Entries outside one common top folder (or none at all).
    #[error("a bundle holds exactly one top folder, named by its version id")]
    NotOneFolder,
    /// The bundle unpacks to more than the limit.
    #[error("the bundle unpacks to more than {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// A symbolic link: bundles hold plain files only.
    #[error("bundles hold plain files only; '{0}' is a symbolic link")]
    Symlink(String),
    /// A bundle to import has not been run.
    #[error("the bundle is not completed: run it with `baton-worker bundle run` first")]
    NotCompleted,
    /// A bundle to run has already been run.
    #[error("the bundle is already completed: import it")]
    AlreadyCompleted,
    /// The bundle's metadata or report is malformed or inconsistent.
    #[error("{0}")]
    Invalid(String),
    /// The report's script failed while completing the bundle.
    #[error("the report's script failed: {0}")]
    ScriptFailed(String),
    /// The report's outputs are missing or differ from the record.
    #[error(transparent)]
    Outputs(#[from] OutputError),
    /// The artefact store failed while storing an imported version's files.
    #[error(transparent)]
    Store(ArtefactError),
    /// The report or commit to pack cannot be exported.
    #[error(transparent)]
    Repo(#[from] RepoError),
    /// A local file operation failed.
    #[error("{0}")]
    Io(String),
}

impl BundleError {
    /// True when the bundle or the request is at fault (an HTTP 400), false when Baton itself
    /// failed (git, the disk, the artefact store).
    pub fn is_client_error(&self) -> bool {
        match self {
            Self::Outputs(error) => {
                !matches!(error, OutputError::Store(_) | OutputError::Read { .. })
            }
            Self::Repo(error) => !matches!(error, RepoError::Git { .. }),
            Self::Io(_) | Self::Store(_) => false,
            _ => true,
        }
    }
}

/// A local file operation's error, naming the file.
fn io_error(path: &Path, error: impl std::fmt::Display) -> BundleError {
    BundleError::Io(format!("{}: {error}", path.display()))
}

/// What a bundle was packed for: `meta/info.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundleInfo {
    /// The version id the bundle makes.
    pub id: String,
    /// The report's name.
    pub name: String,
    /// Parameter values, checked, with defaults filled in.
    #[serde(default)]
    pub parameters: Map<String, Value>,
    /// Database instances, as given.
    #[serde(default)]
    pub instances: Map<String, Value>,
    /// The full commit packed.
    pub git_commit: String,
    /// The branch asked for, if any.
    #[serde(default)]
    pub git_branch: Option<String>,
    /// A changelog entry to record with the version.
    #[serde(default)]
    pub changelog: Option<RunChangelog>,
}

/// Reads a JSON file of an unpacked bundle.
fn read_json<T: serde::de::DeserializeOwned>(root: &Path, name: &str) -> Result<T, BundleError> {
    let text = std::fs::read(root.join(name))
        .map_err(|error| BundleError::Invalid(format!("the bundle has no {name}: {error}")))?;
    serde_json::from_slice(&text)
        .map_err(|error| BundleError::Invalid(format!("the bundle's {name} is invalid: {error}")))
}

/// Reads `meta/info.json` of an unpacked bundle whose top folder is `top`, and checks it.
fn read_info(root: &Path, top: &str) -> Result<BundleInfo, BundleError> {
    let info: BundleInfo = read_json(root, INFO)?;
    if info.id != top {
        return Err(BundleError::Invalid(format!(
            "the bundle's folder '{top}' is not named by its version id '{}'",
            info.id
        )));
    }
    if !crate::reports::repo::valid_report_name(&info.name) {
        return Err(BundleError::Invalid(format!(
            "invalid report name '{}'",
            info.name
        )));
    }
    Ok(info)
}

/// Reads the `orderly.yml` of an unpacked bundle's report.
fn read_config(pack: &Path, report: &str) -> Result<ReportConfig, BundleError> {
    let text = std::fs::read_to_string(pack.join("orderly.yml")).map_err(|error| {
        BundleError::Invalid(format!("report '{report}' has no orderly.yml: {error}"))
    })?;
    ReportConfig::parse(&text)
        .map_err(|error| BundleError::Invalid(format!("report '{report}': {error}")))
}

#[cfg(test)]
mod tests;

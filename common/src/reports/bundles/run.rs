//! Completing a bundle: running its report's script where the data lives and recording the
//! version, as the worker's `report` executor would, in `meta/version.json`.

use std::path::Path;
use std::process::{Command, Stdio};

use super::archive::{unzip, zip_folder};
use super::{BundleError, PACK, VERSION, io_error, read_config, read_info};
use crate::reports::outputs::{self, CHANGELOG, VersionInputs};
use crate::reports::script;
use crate::reports::version::VersionRecord;
use crate::script_env;

/// Runs the report of the bundle `bundle` and returns the completed bundle (the report's
/// folder with its outputs, and `meta/version.json`) and the version it records. The script's
/// output goes to this process's stderr. Blocks until the script ends.
pub fn run_bundle(
    bundle: &[u8],
    max_unpacked: u64,
) -> Result<(Vec<u8>, VersionRecord), BundleError> {
    let work = tempfile::tempdir().map_err(|error| BundleError::Io(error.to_string()))?;
    let top = unzip(std::io::Cursor::new(bundle), work.path(), max_unpacked)?;
    let root = work.path().join(&top);
    if root.join(VERSION).exists() {
        return Err(BundleError::AlreadyCompleted);
    }
    let info = read_info(&root, &top)?;
    let pack = root.join(PACK);
    let config = read_config(&pack, &info.name)?;
    let parameters = config
        .check_parameters(&info.parameters)
        .map_err(|error| BundleError::Invalid(format!("report '{}': {error}", info.name)))?;
    let changelog = match std::fs::read_to_string(pack.join(CHANGELOG)) {
        Ok(text) => Some(text),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => return Err(io_error(&pack.join(CHANGELOG), error)),
    };
    if let Some(text) = &changelog {
        outputs::parse_changelog(&info.name, text)?;
    }

    tracing::info!(report = %info.name, version = %info.id, "running the bundle's report");
    let argv = script::argv(&pack, &config.script);
    // The same explicit environment as on a worker (see `script_env`): nothing else of this
    // process's environment reaches the script.
    let status = Command::new(&argv[0])
        .args(&argv[1..])
        .env_clear()
        .envs(script_env::passed_through())
        .envs(script::environment(&parameters, &info.id, &info.instances))
        .current_dir(&pack)
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::io::stderr()))
        .status()
        .map_err(|error| {
            BundleError::ScriptFailed(format!("cannot start '{}': {error}", argv[0]))
        })?;
    if !status.success() {
        return Err(BundleError::ScriptFailed(status.to_string()));
    }

    let inputs = VersionInputs {
        name: info.name.clone(),
        version: info.id.clone(),
        parameters,
        instances: info.instances.clone(),
        branch: info.git_branch.clone(),
        commit: Some(info.git_commit.clone()),
        changelog: info.changelog.clone(),
        depends: Vec::new(),
    };
    let outputs = outputs::collect(&pack, &config, &inputs, changelog.as_deref())?;
    let json = serde_json::to_vec_pretty(&outputs.record)
        .map_err(|error| BundleError::Io(format!("cannot encode {VERSION}: {error}")))?;
    std::fs::write(root.join(VERSION), json)
        .map_err(|error| io_error(&root.join(VERSION), error))?;
    Ok((zip_folder(&root, &top)?, outputs.record))
}

/// [`run_bundle`] from the file `input` to the file `output`, as `baton-worker bundle run` does.
pub fn run_bundle_file(
    input: &Path,
    output: &Path,
    max_unpacked: u64,
) -> Result<VersionRecord, BundleError> {
    let bundle = std::fs::read(input).map_err(|error| io_error(input, error))?;
    let (completed, record) = run_bundle(&bundle, max_unpacked)?;
    std::fs::write(output, completed).map_err(|error| io_error(output, error))?;
    Ok(record)
}

//! The report executor: exports the requested commit of a report into a fresh directory, runs
//! its script with its parameters (log streamed, timeout and cancel enforced by the command
//! executor), collects what the version records (every declared artefact must exist) and
//! stores its files, hashed with md5, in the artefact store. The task's result is the
//! version's [`VersionRecord`](common::reports::version::VersionRecord).
//!
//! Files of other reports' versions (`depends:`) are copied into the folder first, and the
//! version records which ones it used.
//!
//! Global resources (`global_resources:`) are copied into the folder first too, from the
//! global resources folder that the repository's `orderly_config.yml` names, at the run's
//! commit (see [`common::reports::globals`]); the version lists them among its resources.
//!
//! Data queries (`data:` entries with a `query`) run before the script, against the
//! databases of the repository's `orderly_config.yml` at the run's commit, and leave their
//! results as CSV files in the report's folder (see [`common::reports::data`]).
//!
//! The script's environment is explicit (see [`common::script_env`]): `PATH`, `HOME` and
//! `LANG` from the worker, one variable per parameter, `ORDERLY_VERSION`,
//! `ORDERLY_PARAMETERS`, `ORDERLY_INSTANCES`, and the `command` executor's `BATON_*`
//! variables; parameters with reserved names never get this far.
//!
//! Files are written only under a version id the run holds: the API reserved it when it
//! created the run, and every execution (a re-execution after a crash too) confirms it first.

use std::path::{Path, PathBuf};

use common::engine::executor::CommandSpec;
use common::reports::artefacts::ArtefactStore;
use common::reports::config::{DependencyVersion, ReportConfig};
use common::reports::data::{self, DataError};
use common::reports::globals::{self, GlobalError};
use common::reports::outputs::{self, CHANGELOG, OutputError, VersionInputs};
use common::reports::repo::{RepoError, ReportsRepo};
use common::reports::run_spec::ReportSpec;
use common::reports::script;
use common::reports::version::DependencyUsed;
use common::reports::version::is_version_id;
use common::store::Store;
use common::store::reports::{VersionOwner, Versions};
use serde_json::Value;

use crate::context::TaskContext;
use crate::error::TaskError;
use crate::executors::command::run_command;

/// Where reports come from and where their versions go.
#[derive(Debug, Clone)]
pub struct ReportSettings {
    /// The git repository of reports.
    pub repo: ReportsRepo,
    /// Where versions' files are stored.
    pub artefacts: ArtefactStore,
    /// Where runs get their fresh working directories.
    pub work_dir: PathBuf,
}

fn repo_error(error: RepoError) -> TaskError {
    match error {
        RepoError::Git { .. } => TaskError::Failed(error.to_string()),
        other => TaskError::Invalid(other.to_string()),
    }
}

/// Runs one report and returns the version's metadata as the task's result.
pub async fn run_report(
    settings: &ReportSettings,
    store: &Store,
    spec: &ReportSpec,
    ctx: &TaskContext,
) -> Result<Option<Value>, TaskError> {
    let dir = settings.work_dir.join(format!(
        "{}-{}-{}",
        spec.version,
        ctx.attempt,
        std::process::id()
    ));
    // A fresh directory: no run ever sees another's files.
    let _ = std::fs::remove_dir_all(&dir);
    let repo = settings.repo.clone();
    let (report, commit, export_dir) = (spec.report.clone(), spec.commit.clone(), dir.clone());
    let fetched = tokio::task::spawn_blocking(move || {
        let fetched = repo.ensure_commit(&commit)?;
        repo.export(&report, &commit, &export_dir)?;
        Ok::<_, RepoError>(fetched)
    })
    .await
    .map_err(|error| TaskError::Failed(format!("export interrupted: {error}")))?
    .map_err(repo_error)?;
    if fetched {
        ctx.log(format!(
            "[ git ] fetched commit {} into the worker's repository",
            spec.commit
        ));
    }
    let result = run_in(settings, store, spec, ctx, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run_in(
    settings: &ReportSettings,
    store: &Store,
    spec: &ReportSpec,
    ctx: &TaskContext,
    dir: &Path,
) -> Result<Option<Value>, TaskError> {
    let invalid = |error: &dyn std::fmt::Display| {
        TaskError::Invalid(format!("report '{}': {error}", spec.report))
    };
    let text = std::fs::read_to_string(dir.join("orderly.yml")).map_err(|error| {
        TaskError::Invalid(format!(
            "report '{}' has no orderly.yml: {error}",
            spec.report
        ))
    })?;
    let config = ReportConfig::parse(&text).map_err(|error| invalid(&error))?;
    let parameters = config
        .check_parameters(&spec.params)
        .map_err(|error| invalid(&error))?;
    if let Some(missing) = config
        .resources
        .iter()
        .find(|resource| !dir.join(resource).is_file())
    {
        return Err(invalid(&format!("resource '{missing}' does not exist")));
    }
    if !is_version_id(&spec.version) {
        return Err(output_error(OutputError::BadVersionId(
            spec.version.clone(),
        )));
    }
    // Read before the script runs, and checked now: a broken changelog fails at once.
    let changelog = match std::fs::read_to_string(dir.join(CHANGELOG)) {
        Ok(text) => Some(text),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => return Err(invalid(&format!("cannot read {CHANGELOG}: {error}"))),
    };
    if let Some(text) = &changelog {
        outputs::parse_changelog(&spec.report, text).map_err(output_error)?;
    }
    // The run's own version id, reserved when it was created, before anything is written.
    let held = store
        .reserve_version(&spec.version, &VersionOwner::run(&ctx.run_id))
        .await
        .map_err(|error| TaskError::Failed(format!("cannot check the version id: {error}")))?;
    if !held {
        return Err(TaskError::Invalid(format!(
            "version id {} is taken by another run or an import; nothing was written",
            spec.version
        )));
    }
    ctx.log(format!("[ name ] {}", spec.report));
    ctx.log(format!("[ id ] {}", spec.version));
    ctx.log(format!("[ commit ] {}", spec.commit));
    copy_global_resources(settings, spec, &config, dir, ctx).await?;
    let depends = copy_dependencies(settings, store, &config, dir, ctx).await?;
    if data::has_queries(&config) {
        run_data_queries(settings, spec, &config, dir, ctx).await?;
    }
    let command = CommandSpec {
        argv: script::argv(dir, &config.script),
        env: script::environment(&parameters, &spec.version, &spec.instances),
        cwd: Some(dir.display().to_string()),
    };
    run_command(&command, ctx).await?;

    let inputs = VersionInputs {
        name: spec.report.clone(),
        version: spec.version.clone(),
        parameters,
        instances: spec.instances.clone(),
        branch: spec.branch.clone(),
        commit: Some(spec.commit.clone()),
        changelog: spec.changelog.clone(),
        depends,
    };
    let report_dir = dir.to_owned();
    let outputs = tokio::task::spawn_blocking(move || {
        outputs::collect(&report_dir, &config, &inputs, changelog.as_deref())
    })
    .await
    .map_err(|error| TaskError::Failed(format!("collecting outputs interrupted: {error}")))?
    .map_err(output_error)?;
    for file in outputs
        .record
        .artefacts
        .iter()
        .flat_map(|group| &group.files)
    {
        ctx.log(format!("[ artefact ] {}: {}", file.name, file.md5));
    }
    for extract in &outputs.record.data {
        ctx.log(format!("[ data ] {}: {}", extract.name, extract.csv.md5));
    }
    outputs::store(&outputs.files, &settings.artefacts)
        .await
        .map_err(output_error)?;
    ctx.log("[ success ] :)");
    let record = serde_json::to_value(&outputs.record)
        .map_err(|error| TaskError::Failed(format!("cannot encode the version: {error}")))?;
    Ok(Some(record))
}

/// Copies the files the report uses from other reports' versions (`depends:`) into its
/// folder `dir`: the version it names, or the report's newest; each file must be one of that
/// version's artefacts. Returns what was used, for the version's record.
async fn copy_dependencies(
    settings: &ReportSettings,
    store: &Store,
    config: &ReportConfig,
    dir: &Path,
    ctx: &TaskContext,
) -> Result<Vec<DependencyUsed>, TaskError> {
    let failed = |error: &dyn std::fmt::Display| TaskError::Failed(error.to_string());
    let mut used = Vec::new();
    for dependency in &config.depends {
        let report = &dependency.report;
        let id = match &dependency.version {
            DependencyVersion::Id(id) => id.clone(),
            DependencyVersion::Latest => store
                .report_version_ids(report, Versions::All)
                .await
                .map_err(|error| failed(&error))?
                .pop()
                .ok_or_else(|| {
                    TaskError::Invalid(format!(
                        "depends on report '{report}', which has no version yet"
                    ))
                })?,
        };
        let version = store
            .version(&id)
            .await
            .map_err(|error| failed(&error))?
            .filter(|version| &version.record.name == report)
            .ok_or_else(|| {
                TaskError::Invalid(format!("report '{report}' has no version '{id}'"))
            })?;
        for (local, file) in &dependency.uses {
            let is_artefact = version
                .record
                .artefacts
                .iter()
                .flat_map(|group| &group.files)
                .any(|artefact| &artefact.name == file);
            if !is_artefact {
                return Err(TaskError::Invalid(format!(
                    "version {id} of report '{report}' has no artefact '{file}'"
                )));
            }
            let bytes = settings
                .artefacts
                .get(&id, file)
                .await
                .map_err(|error| failed(&error))?;
            let target = dir.join(local);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(|error| failed(&error))?;
            }
            std::fs::write(&target, &bytes).map_err(|error| failed(&error))?;
            let hash = common::reports::artefacts::md5_hex(&bytes);
            ctx.log(format!(
                "[ depends ] {report}/{id}/{file}: {local} ({hash})"
            ));
            used.push(DependencyUsed {
                name: report.clone(),
                id: id.clone(),
                filename: file.clone(),
                as_name: local.clone(),
                hash,
                is_latest: dependency.version == DependencyVersion::Latest,
            });
        }
    }
    Ok(used)
}

/// Copies the report's global resources from the repository's global resources folder, as
/// it is at the run's commit, into its folder `dir`, each under its local name. A file that
/// is not there, or no global folder at all, fails the run at once.
async fn copy_global_resources(
    settings: &ReportSettings,
    spec: &ReportSpec,
    config: &ReportConfig,
    dir: &Path,
    ctx: &TaskContext,
) -> Result<(), TaskError> {
    if config.global_resources.is_empty() {
        return Ok(());
    }
    let (repo, commit) = (settings.repo.clone(), spec.commit.clone());
    let (declared, target) = (config.global_resources.clone(), dir.to_owned());
    let copied =
        tokio::task::spawn_blocking(move || globals::copy_into(&repo, &commit, &declared, &target))
            .await
            .map_err(|error| {
                TaskError::Failed(format!("copying global resources interrupted: {error}"))
            })?
            .map_err(|error| match error {
                GlobalError::NoFolder { .. } | GlobalError::Missing { .. } => {
                    TaskError::Invalid(format!("report '{}': {error}", spec.report))
                }
                GlobalError::Repo(error) => repo_error(error),
                GlobalError::Write { .. } => TaskError::Failed(error.to_string()),
            })?;
    for resource in copied {
        ctx.log(format!(
            "[ global ] {} <= {} ({})",
            resource.name, resource.source, resource.md5
        ));
    }
    Ok(())
}

/// Runs the report's data queries against the repository's databases (as declared at the
/// run's commit), writing each extract's CSV file into the report's folder `dir`.
async fn run_data_queries(
    settings: &ReportSettings,
    spec: &ReportSpec,
    config: &ReportConfig,
    dir: &Path,
    ctx: &TaskContext,
) -> Result<(), TaskError> {
    let (repo, commit) = (settings.repo.clone(), spec.commit.clone());
    let databases = tokio::task::spawn_blocking(move || repo.databases(&commit))
        .await
        .map_err(|error| TaskError::Failed(format!("reading databases interrupted: {error}")))?
        .map_err(repo_error)?;
    let env = |name: &str| std::env::var(name).ok();
    let context = data::QueryContext {
        databases: &databases,
        instances: &spec.instances,
        root: settings.repo.path(),
        env: &env,
    };
    let made = data::run_queries(config, dir, &context)
        .await
        .map_err(|error| match error {
            DataError::Connect { .. } | DataError::Write { .. } => {
                TaskError::Failed(error.to_string())
            }
            DataError::Invalid(_) | DataError::Query { .. } => {
                TaskError::Invalid(format!("report '{}': {error}", spec.report))
            }
        })?;
    for extract in made {
        let on = match &extract.instance {
            Some(instance) => format!("{} ({instance})", extract.database),
            None => extract.database.clone(),
        };
        ctx.log(format!(
            "[ query ] {}: from {on} into {}",
            extract.name, extract.csv
        ));
    }
    Ok(())
}

/// A report that can never succeed as it is (broken changelog, bad version id) fails at once;
/// anything else may be retried.
fn output_error(error: OutputError) -> TaskError {
    match error {
        OutputError::Changelog { .. } | OutputError::BadVersionId(_) => {
            TaskError::Invalid(error.to_string())
        }
        other => TaskError::Failed(other.to_string()),
    }
}

//! The report executor: exports the requested commit of a report into a fresh directory, runs
//! its script with its parameters (log streamed, timeout and cancel enforced by the command
//! executor), checks that every declared artefact was produced, and stores artefacts and
//! resources, hashed with md5, in the artefact store under the run's version id.

use std::path::{Path, PathBuf};

use common::artefacts::{ArtefactStore, StoredFile};
use common::model::{CommandSpec, ReportSpec};
use common::reports::ReportConfig;
use common::reports_repo::{RepoError, ReportsRepo};
use serde_json::{Value, json};

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

/// How a script is started: directly when executable, else by its interpreter.
fn script_argv(dir: &Path, script: &str) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(script);
    let executable =
        std::fs::metadata(&path).is_ok_and(|meta| meta.permissions().mode() & 0o111 != 0);
    let relative = format!("./{script}");
    if executable {
        return vec![relative];
    }
    let interpreter = match Path::new(script).extension().and_then(|e| e.to_str()) {
        Some("py") => "python3",
        Some("R" | "r") => "Rscript",
        _ => "sh",
    };
    vec![interpreter.to_owned(), relative]
}

/// A parameter's value as the script sees it in its environment.
fn env_value(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
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
    tokio::task::spawn_blocking(move || repo.export(&report, &commit, &export_dir))
        .await
        .map_err(|error| TaskError::Failed(format!("export interrupted: {error}")))?
        .map_err(repo_error)?;
    let result = run_in(settings, spec, ctx, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run_in(
    settings: &ReportSettings,
    spec: &ReportSpec,
    ctx: &TaskContext,
    dir: &Path,
) -> Result<Option<Value>, TaskError> {
    let text = std::fs::read_to_string(dir.join("orderly.yml")).map_err(|error| {
        TaskError::Invalid(format!(
            "report '{}' has no orderly.yml: {error}",
            spec.report
        ))
    })?;
    let config = ReportConfig::parse(&text)
        .map_err(|error| TaskError::Invalid(format!("report '{}': {error}", spec.report)))?;
    let parameters = config
        .check_parameters(&spec.params)
        .map_err(|error| TaskError::Invalid(format!("report '{}': {error}", spec.report)))?;
    if let Some(missing) = config
        .resources
        .iter()
        .find(|resource| !dir.join(resource).is_file())
    {
        return Err(TaskError::Invalid(format!(
            "report '{}': resource '{missing}' does not exist",
            spec.report
        )));
    }
    ctx.log(format!("[ name ] {}", spec.report));
    ctx.log(format!("[ id ] {}", spec.version));
    ctx.log(format!("[ commit ] {}", spec.commit));
    let mut env: std::collections::BTreeMap<String, String> = parameters
        .iter()
        .map(|(name, value)| (name.clone(), env_value(value)))
        .collect();
    env.insert("ORDERLY_VERSION".into(), spec.version.clone());
    env.insert(
        "ORDERLY_PARAMETERS".into(),
        Value::Object(parameters.clone()).to_string(),
    );
    env.insert(
        "ORDERLY_INSTANCES".into(),
        Value::Object(spec.instances.clone()).to_string(),
    );
    let command = CommandSpec {
        argv: script_argv(dir, &config.script),
        env,
        cwd: Some(dir.display().to_string()),
    };
    run_command(&command, ctx).await?;

    let mut artefacts = Vec::new();
    for artefact in &config.artefacts {
        let mut files = Vec::new();
        for name in &artefact.filenames {
            if !dir.join(name).is_file() {
                return Err(TaskError::Failed(format!(
                    "report '{}' did not produce its declared {} artefact '{name}'",
                    spec.report, artefact.format
                )));
            }
            let stored = store(settings, spec, dir, name).await?;
            ctx.log(format!("[ artefact ] {name}: {}", stored.md5));
            files.push(json!({"name": stored.name, "size": stored.size, "md5": stored.md5}));
        }
        artefacts.push(
            json!({"format": artefact.format, "description": artefact.description, "files": files}),
        );
    }
    let mut resources = Vec::new();
    for name in &config.resources {
        let stored = store(settings, spec, dir, name).await?;
        resources.push(json!({"name": stored.name, "size": stored.size, "md5": stored.md5}));
    }
    ctx.log("[ success ] :)");
    Ok(Some(json!({
        "id": spec.version,
        "name": spec.report,
        "displayname": config.displayname,
        "description": config.description,
        "artefacts": artefacts,
        "resources": resources,
        "data": config.data,
        "parameter_values": parameters,
        "instances": spec.instances,
        "author": config.author,
        "requester": config.requester,
        "git_commit": spec.commit,
        "git_branch": spec.branch,
    })))
}

async fn store(
    settings: &ReportSettings,
    spec: &ReportSpec,
    dir: &Path,
    name: &str,
) -> Result<StoredFile, TaskError> {
    settings
        .artefacts
        .put_file(&spec.version, name, &dir.join(name))
        .await
        .map_err(|error| TaskError::Failed(format!("cannot store '{name}': {error}")))
}

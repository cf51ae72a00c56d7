//! OrderlyWeb reports: run one at a branch or commit, with checked parameters.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::{Map, Value};

use super::{OperationError, OperationResult};
use crate::engine::executor::DomainPayload;
use crate::engine::model::{QueueName, RunKind, RunSpec, TaskSpec, report_definition};
use crate::reports::repo::{RepoError, ReportsRepo};
use crate::reports::run_spec::{ReportSpec, RunChangelog};
use crate::reports::{config::ReportConfig, ids::version_id};
use crate::store::Store;
use crate::store::reports::ReportRun;

/// Most report configs a [`ConfigCache`] keeps; it starts over when full.
const CONFIG_CACHE_LIMIT: usize = 4096;
/// Attempts at a free version id for a new run; ids differ by their millisecond and 16
/// random bits, so a second attempt is already rare.
const VERSION_ATTEMPTS: usize = 4;

/// Report configs already read, by report and commit (a commit's files never change), so a
/// run needs one git call instead of two.
#[derive(Debug, Default)]
pub struct ConfigCache {
    configs: Mutex<HashMap<(String, String), ReportConfig>>,
}

impl ConfigCache {
    fn get(&self, key: &(String, String)) -> Option<ReportConfig> {
        lock(&self.configs).get(key).cloned()
    }

    fn insert(&self, key: (String, String), config: ReportConfig) {
        let mut configs = lock(&self.configs);
        if configs.len() >= CONFIG_CACHE_LIMIT {
            configs.clear();
        }
        configs.insert(key, config);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Where report runs come from and go to.
#[derive(Debug, Clone, Copy)]
pub struct ReportRunner<'a> {
    /// The store.
    pub store: &'a Store,
    /// The git repository of reports.
    pub repo: &'a ReportsRepo,
    /// Configs already read.
    pub configs: &'a ConfigCache,
    /// The queue report runs go to.
    pub queue: &'a QueueName,
}

/// What a run of a report asks for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunRequest {
    /// Database instances, passed through.
    pub instances: Map<String, Value>,
    /// Parameter values.
    pub params: Map<String, Value>,
    /// The branch to run from.
    pub git_branch: Option<String>,
    /// The commit to run.
    pub git_commit: Option<String>,
    /// A changelog entry for the version.
    pub changelog: Option<RunChangelog>,
}

/// A report's commit and checked parameters, ready to run or pack.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedRun {
    /// The full commit.
    pub commit: String,
    /// Parameter values, defaults filled in.
    pub params: Map<String, Value>,
}

/// Runs a git operation off the async threads; maps its errors: an unknown revision or name
/// and a broken config are invalid requests, a failing git a conflict.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, RepoError> + Send + 'static,
) -> OperationResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| OperationError::Interrupted(format!("git was interrupted: {error}")))?
        .map_err(|error| match error {
            RepoError::NotFound(message) => OperationError::Invalid(message),
            RepoError::BadConfig { .. } | RepoError::BadDatabases(_) => {
                OperationError::Invalid(error.to_string())
            }
            RepoError::Git { .. } => {
                tracing::warn!(cause = %error, "git failed");
                OperationError::Conflict(error.to_string())
            }
        })
}

impl ReportRunner<'_> {
    /// The commit `request` names (its branch or commit; the default branch's head when
    /// neither) and report `name`'s config there; [`OperationError::ReportNotFound`] when the
    /// report does not exist at that commit.
    pub async fn resolve(
        &self,
        name: &str,
        request: &RunRequest,
    ) -> OperationResult<(String, ReportConfig)> {
        let (branch, commit) = (request.git_branch.clone(), request.git_commit.clone());
        let lookup = self.repo.clone();
        let commit = blocking(move || lookup.resolve(branch.as_deref(), commit.as_deref())).await?;
        let config = self.config_at(name, &commit).await?;
        Ok((commit, config))
    }

    /// Report `name`'s config at the full commit `commit` (read once per report and commit);
    /// [`OperationError::ReportNotFound`] when the report does not exist there.
    pub async fn config_at(&self, name: &str, commit: &str) -> OperationResult<ReportConfig> {
        let cache_key = (name.to_owned(), commit.to_owned());
        if let Some(config) = self.configs.get(&cache_key) {
            return Ok(config);
        }
        let (repo, report, at) = (self.repo.clone(), name.to_owned(), commit.to_owned());
        let config = tokio::task::spawn_blocking(move || repo.config(&report, &at))
            .await
            .map_err(|error| OperationError::Interrupted(format!("git was interrupted: {error}")))?
            .map_err(|error| match error {
                RepoError::NotFound(message) => OperationError::ReportNotFound(message),
                other => OperationError::Invalid(other.to_string()),
            })?;
        self.configs.insert(cache_key, config.clone());
        Ok(config)
    }

    /// Resolves `request`'s commit and checks its parameters against report `name`'s config.
    pub async fn check(&self, name: &str, request: &RunRequest) -> OperationResult<CheckedRun> {
        let (commit, config) = self.resolve(name, request).await?;
        if !request.instances.is_empty() {
            let (repo, at) = (self.repo.clone(), commit.clone());
            let databases = blocking(move || repo.databases(&at)).await?;
            databases
                .check_instances(&request.instances)
                .map_err(|error| OperationError::Invalid(format!("report '{name}': {error}")))?;
        }
        let params = config
            .check_parameters(&request.params)
            .map_err(|error| OperationError::Invalid(format!("report '{name}': {error}")))?;
        Ok(CheckedRun { commit, params })
    }

    /// Runs report `name` as `request` asks, for key `by`, each attempt allowed `timeout_secs`:
    /// checks it, reserves a fresh version id and a run key, and queues the run. Answers with
    /// the reserved run (its key and version).
    pub async fn run_report(
        &self,
        name: &str,
        request: RunRequest,
        by: &str,
        timeout_secs: u64,
    ) -> OperationResult<ReportRun> {
        let CheckedRun { commit, params } = self.check(name, &request).await?;
        let run_id = uuid::Uuid::new_v4().to_string();
        let reserved = self.reserve_run(name, &run_id, by).await?;
        let spec = ReportSpec {
            report: name.to_owned(),
            commit,
            branch: request.git_branch,
            params,
            instances: request.instances,
            version: reserved.version.clone(),
            changelog: request.changelog,
        };
        let executor = spec
            .executor()
            .and_then(serde_json::to_value)
            .map_err(crate::error::StoreError::from)?;
        self.store
            .create_run(&RunSpec {
                id: Some(run_id),
                definition: report_definition(name),
                kind: RunKind::Report,
                payload: Value::Null,
                tasks: vec![TaskSpec {
                    key: name.to_owned(),
                    executor,
                    depends_on: Vec::new(),
                    queue: None,
                    max_retries: 0,
                    timeout_secs: Some(timeout_secs),
                    is_hook: false,
                }],
                queue: self.queue.clone(),
                priority: Default::default(),
                periodic: false,
                not_before_ms: None,
                hooks: Default::default(),
            })
            .await?;
        tracing::info!(report = name, key = %reserved.key, version = %reserved.version, by, "report run queued");
        Ok(reserved)
    }

    /// Reserves a fresh version id and a key for a new run `run_id` of report `name`;
    /// [`OperationError::Conflict`] when every id tried is taken.
    async fn reserve_run(&self, name: &str, run_id: &str, by: &str) -> OperationResult<ReportRun> {
        for _ in 0..VERSION_ATTEMPTS {
            let version = version_id(chrono::Utc::now());
            if let Some(reserved) = self
                .store
                .reserve_report_run(name, run_id, &version, by)
                .await?
            {
                return Ok(reserved);
            }
            tracing::warn!(report = name, version = %version, "version id taken; trying another");
        }
        Err(OperationError::Conflict(
            "no free version id for the run; try again".into(),
        ))
    }
}

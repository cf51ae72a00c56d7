//! Building the state and the routes; [`crate::serving`] serves them.

use std::collections::BTreeMap;
use std::sync::Arc;

use common::auth::sealing::MasterKey;
use common::engine::model::QueueName;
use common::reports::artefacts::ArtefactStore;
use common::reports::repo::ReportsRepo;
use common::store::workflows::definition_sets::PublishOutcome;
use common::store::{Store, patiently, redacted_url};
use common::workflows::definition::WorkflowDefinition;
use common::workflows::load::load_dir;
use warp::Filter;

use crate::config::ApiOptions;
use crate::error::{ApiError, Front};
use crate::fronts;
use crate::hosts::LinkBase;
use crate::metrics::{Metrics, MetricsToken};
use crate::state::{
    AppState, ConsoleSettings, LoginPolicy, ReleasesSettings, ReportsSettings, SharedState,
};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Redis failed.
    #[error(transparent)]
    Store(#[from] common::error::StoreError),
    /// A definition file is invalid.
    #[error("{0}")]
    Definitions(String),
    /// The master key is missing or too weak.
    #[error("{0}")]
    MasterKey(String),
    /// A command's arguments are invalid, or name something that does not exist.
    #[error("{0}")]
    Invalid(String),
}

/// The master key from the options.
pub fn master_key(options: &ApiOptions) -> Result<MasterKey, ServeError> {
    let secret = options.master_key.as_deref().ok_or_else(|| {
        ServeError::MasterKey(
            "BATON_MASTER_KEY is not set: it seals API key secrets at rest".into(),
        )
    })?;
    MasterKey::from_secret(secret).map_err(|error| ServeError::MasterKey(error.to_string()))
}

/// Loads the definitions, publishes them to Redis (for the scheduler's periodic runs) and
/// builds the shared state.
pub async fn build_state(options: &ApiOptions) -> Result<AppState, ServeError> {
    let metrics_token = options
        .metrics_token
        .as_deref()
        .map(MetricsToken::new)
        .transpose()
        .map_err(|error| ServeError::Invalid(error.to_string()))?;
    let patience = options.startup.connect_patience();
    let store = Store::connect_patiently(&options.store, patience).await?;
    let master_key = master_key(options)?;
    let mut workflows = BTreeMap::new();
    if let Some(dir) = &options.definitions {
        let loaded: Vec<WorkflowDefinition> =
            load_dir(dir).map_err(|error| ServeError::Definitions(error.to_string()))?;
        let definitions: Vec<_> = loaded
            .iter()
            .map(|workflow| workflow.definition.clone())
            .collect();
        let source = format!(
            "{}:{}",
            hostname::get().map_or_else(|_| "?".into(), |name| name.to_string_lossy().into_owned()),
            dir.display()
        );
        let publish =
            || store.publish_definitions(&definitions, &source, options.replace_definitions);
        let redis = redacted_url(&options.store.redis_url);
        match patiently(&redis, "publishing the definitions", patience, publish).await? {
            PublishOutcome::Unchanged => {
                tracing::info!("definitions agree with the published set")
            }
            PublishOutcome::Published { replaced } if replaced.published_source.is_empty() => {
                tracing::info!("definitions published")
            }
            PublishOutcome::Published { replaced } => {
                tracing::warn!(published_by = %replaced.published_source, difference = %replaced, "definitions published, replacing another set (BATON_REPLACE_DEFINITIONS)")
            }
            PublishOutcome::Refused(difference) => {
                return Err(ServeError::Definitions(format!(
                    "the definitions published in Redis (by {}) differ from those in {}: {difference}. \
                     Start this server with the same files, or with BATON_REPLACE_DEFINITIONS=true \
                     to replace them (workflows missing from these files stop, periodic ones too)",
                    if difference.published_source.is_empty() {
                        "another server"
                    } else {
                        difference.published_source.as_str()
                    },
                    dir.display()
                )));
            }
        }
        for workflow in loaded {
            workflows.insert(workflow.fullname.clone(), workflow);
        }
        tracing::info!(dir = %dir.display(), workflows = workflows.len(), "definitions loaded");
    }
    let reports = ReportsSettings {
        repo: options.reports_repo.as_ref().map(ReportsRepo::new),
        artefacts: ArtefactStore::open(&options.artefacts)
            .map_err(|error| ServeError::Invalid(format!("BATON_ARTEFACTS: {error}")))?,
        queue: QueueName::parse(&options.reports_queue)
            .map_err(|error| ServeError::Invalid(format!("BATON_REPORTS_QUEUE: {error}")))?,
        token_ttl_secs: options.token_ttl_secs,
        bundle_limit: options.bundle_limit,
        uploads: tokio::sync::Semaphore::new(options.bundle_uploads.max(1)),
        configs: Default::default(),
        login: LoginPolicy {
            per_user: options.login_attempts_per_user,
            per_address: options.login_attempts_per_address,
            window_ms: options.login_window_secs.saturating_mul(1000),
            decoy: master_key.seal(&rand::random::<[u8; 32]>(), b"\0login-decoy"),
        },
    };
    let client = options
        .outbound
        .client()
        .map_err(|error| ServeError::Invalid(error.to_string()))?;
    let releases = ReleasesSettings {
        data_service: options
            .dataservice
            .data_service(&client)
            .map_err(|error| ServeError::Invalid(format!("BATON_DATASERVICE_URL: {error}")))?,
        client,
    };
    let projects = match &options.projects {
        Some(dir) => {
            let loaded = common::projects::workflow::load_dir(dir)
                .map_err(|error| ServeError::Definitions(error.to_string()))?;
            tracing::info!(dir = %dir.display(), workflows = loaded.len(), "project workflows loaded");
            loaded
        }
        None => BTreeMap::new(),
    };
    Ok(AppState::new(SharedState {
        projects: Arc::new(projects),
        reports: Arc::new(reports),
        releases: Arc::new(releases),
        store,
        master_key: Arc::new(master_key),
        workflows: Arc::new(workflows),
        signature_skew_secs: options.signature_skew_secs,
        body_limit: options.body_limit,
        links: Arc::new(LinkBase::new(
            options.public_url.as_deref(),
            options.listen,
            &options.allowed_hosts,
        )),
        metrics: Arc::new(Metrics::with_token(metrics_token)),
        key_cache: Arc::default(),
        console: Arc::new(ConsoleSettings {
            session_ttl_secs: options.console_session_secs.max(60),
            secure_cookies: options
                .public_url
                .as_deref()
                .is_some_and(|url| url.to_ascii_lowercase().starts_with("https://")),
        }),
    }))
}

/// Every route, with a JSON answer for anything no route takes.
pub fn routes(
    state: AppState,
) -> impl Filter<Extract = (warp::reply::Response,), Error = std::convert::Infallible> + Clone {
    // Each front is boxed: its request future lives on the heap, so the futures of all the
    // fronts together stay small (unboxed, a debug build overflows a worker thread's stack).
    fronts::console::routes(state.clone())
        .boxed()
        .or(fronts::baton::routes(state.clone()).boxed())
        .unify()
        .or(fronts::reports::routes(state.clone()).boxed())
        .unify()
        .or(fronts::releases::routes(state.clone()).boxed())
        .unify()
        .or(fronts::projects::routes(state.clone()).boxed())
        .unify()
        .or(fronts::operator::routes(state.clone()).boxed())
        .unify()
        .or(fronts::workflows::routes(state.clone()).boxed())
        .unify()
        .or(fronts::unmatched(&state))
        .unify()
        .recover(|_rejection: warp::Rejection| async move {
            let error = ApiError::NotFound("no such route".into());
            Ok::<_, std::convert::Infallible>(error.into_response(Front::Baton))
        })
        .unify()
}

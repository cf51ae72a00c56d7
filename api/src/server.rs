//! Building the state and serving the routes on a bound listener.

use std::collections::BTreeMap;
use std::sync::Arc;

use common::artefacts::ArtefactStore;
use common::director::{WorkflowDefinition, load_dir};
use common::model::QueueName;
use common::reports_repo::ReportsRepo;
use common::sealing::MasterKey;
use common::store::Store;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use warp::Filter;

use crate::config::ApiOptions;
use crate::error::{ApiError, Front};
use crate::fronts;
use crate::metrics::Metrics;
use crate::state::{AppState, ReleasesSettings, ReportsSettings};

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
    let store = Store::connect(&options.store).await?;
    let master_key = master_key(options)?;
    let mut workflows = BTreeMap::new();
    if let Some(dir) = &options.definitions {
        let loaded: Vec<WorkflowDefinition> =
            load_dir(dir).map_err(|error| ServeError::Definitions(error.to_string()))?;
        let definitions: Vec<_> = loaded
            .iter()
            .map(|workflow| workflow.definition.clone())
            .collect();
        store.replace_definitions(&definitions).await?;
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
        configs: Default::default(),
    };
    let releases = ReleasesSettings {
        public_url: options
            .public_url
            .as_ref()
            .map(|url| url.trim_end_matches('/').to_owned()),
        client: reqwest::Client::new(),
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
    Ok(AppState {
        projects: Arc::new(projects),
        reports: Arc::new(reports),
        releases: Arc::new(releases),
        store,
        master_key: Arc::new(master_key),
        workflows: Arc::new(workflows),
        signature_skew_secs: options.signature_skew_secs,
        body_limit: options.body_limit,
        metrics: Arc::new(Metrics::new()),
        key_cache: Arc::default(),
    })
}

/// Every route, with a JSON answer for anything no route takes.
pub fn routes(
    state: AppState,
) -> impl Filter<Extract = (warp::reply::Response,), Error = std::convert::Infallible> + Clone {
    fronts::baton::routes(state.clone())
        .or(fronts::reports::routes(state.clone()))
        .unify()
        .or(fronts::releases::routes(state.clone()))
        .unify()
        .or(fronts::projects::routes(state.clone()))
        .unify()
        .or(fronts::workflows::routes(state.clone()))
        .unify()
        .or(fronts::unmatched(&state))
        .unify()
        .recover(|_rejection: warp::Rejection| async move {
            let error = ApiError::NotFound("no such route".into());
            Ok::<_, std::convert::Infallible>(error.into_response(Front::Baton))
        })
        .unify()
}

/// Serves on `listener` until `shutdown` is cancelled.
pub async fn serve(listener: TcpListener, state: AppState, shutdown: CancellationToken) {
    warp::serve(routes(state))
        .incoming(listener)
        .graceful(async move { shutdown.cancelled().await })
        .run()
        .await;
}

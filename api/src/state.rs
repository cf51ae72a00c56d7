//! What every handler shares.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use common::auth::api_key::ApiKey;
use common::auth::sealing::MasterKey;
use common::engine::model::QueueName;
use common::operations::workflows::Definitions;
use common::reports::artefacts::ArtefactStore;
use common::reports::repo::ReportsRepo;
use common::store::Store;

use crate::metrics::Metrics;

/// Keys with their opened secrets, by id.
pub type KeyCache = HashMap<String, (ApiKey, Vec<u8>)>;

/// What the reports front needs.
#[derive(Debug)]
pub struct ReportsSettings {
    /// The git repository of reports, when one is configured.
    pub repo: Option<ReportsRepo>,
    /// Where versions' files are stored.
    pub artefacts: ArtefactStore,
    /// Queue report runs go to.
    pub queue: QueueName,
    /// Seconds a bearer token stays valid.
    pub token_ttl_secs: u64,
    /// Largest bundle accepted for import, in bytes.
    pub bundle_limit: u64,
    /// Bundles being received at once; an import that finds none left is refused (503).
    pub uploads: tokio::sync::Semaphore,
    /// Configs read so far, so a run needs one git call instead of two.
    pub configs: common::operations::reports::ConfigCache,
    /// How logins are throttled.
    pub login: LoginPolicy,
}

/// How `POST /api/v1/login/` is throttled, and what it checks an unknown user's token against
/// so that known and unknown users take the same time.
#[derive(Debug)]
pub struct LoginPolicy {
    /// Attempts one user may make per window.
    pub per_user: u64,
    /// Attempts one client address may make per window.
    pub per_address: u64,
    /// The window, in milliseconds.
    pub window_ms: u64,
    /// A secret sealed under the master key, opened in place of an unknown user's.
    pub decoy: String,
}

/// What the releases front needs.
#[derive(Debug, Clone)]
pub struct ReleasesSettings {
    /// Client for task services' `/status` (registration), following the outbound policy.
    pub client: common::outbound::OutboundClient,
    /// The data service studies are mirrored from, when one is set.
    pub data_service: Option<common::releases::dataservice::DataService>,
}

/// What the web console needs.
#[derive(Debug, Clone)]
pub struct ConsoleSettings {
    /// Seconds a session lasts.
    pub session_ttl_secs: u64,
    /// Whether session cookies are `Secure` (the public URL is https).
    pub secure_cookies: bool,
}

/// Shared state of the API server, behind one `Arc`: every route's filter clones it for each
/// request it looks at, and a clone costs one reference count.
#[derive(Clone)]
pub struct AppState(Arc<SharedState>);

impl AppState {
    /// The state holding `shared`.
    pub fn new(shared: SharedState) -> Self {
        Self(Arc::new(shared))
    }

    /// This state with `store` in place of its store, everything else shared.
    pub fn with_store(&self, store: Store) -> Self {
        let shared = &self.0;
        Self::new(SharedState {
            store,
            master_key: Arc::clone(&shared.master_key),
            workflows: Arc::clone(&shared.workflows),
            signature_skew_secs: shared.signature_skew_secs,
            body_limit: shared.body_limit,
            links: Arc::clone(&shared.links),
            metrics: Arc::clone(&shared.metrics),
            reports: Arc::clone(&shared.reports),
            releases: Arc::clone(&shared.releases),
            console: Arc::clone(&shared.console),
            projects: Arc::clone(&shared.projects),
            key_cache: Arc::clone(&shared.key_cache),
        })
    }
}

impl std::ops::Deref for AppState {
    type Target = SharedState;

    fn deref(&self) -> &SharedState {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct SharedState {
    /// The store.
    pub store: Store,
    /// Seals and opens API key secrets.
    pub master_key: Arc<MasterKey>,
    /// Workflow definitions by full name (`project.NAME`).
    pub workflows: Arc<Definitions>,
    /// Seconds a request's Date may differ from the server clock.
    pub signature_skew_secs: u64,
    /// Largest accepted body, in bytes.
    pub body_limit: u64,
    /// Where absolute links in answers point.
    pub links: Arc<crate::hosts::LinkBase>,
    /// Request and queue metrics.
    pub metrics: Arc<Metrics>,
    /// The reports front's settings.
    pub reports: Arc<ReportsSettings>,
    /// The releases front's settings.
    pub releases: Arc<ReleasesSettings>,
    /// The web console's settings.
    pub console: Arc<ConsoleSettings>,
    /// Project workflows (Orchestra's), by slug.
    pub projects: Arc<BTreeMap<String, common::projects::workflow::ProjectWorkflow>>,
    /// Keys with their opened secrets, by id (a key's secret and permissions never change;
    /// revocation is checked on every request).
    pub key_cache: Arc<Mutex<KeyCache>>,
}

impl std::fmt::Debug for SharedState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedState")
            .field("workflows", &self.workflows.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

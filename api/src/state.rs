//! What every handler shares.

use std::collections::BTreeMap;
use std::sync::Arc;

use common::director::WorkflowDefinition;
use common::sealing::MasterKey;
use common::store::Store;

use crate::metrics::Metrics;

/// Shared state of the API server. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub store: Store,
    /// Seals and opens API key secrets.
    pub master_key: Arc<MasterKey>,
    /// Workflow definitions by full name (`project.NAME`).
    pub workflows: Arc<BTreeMap<String, WorkflowDefinition>>,
    /// Seconds a request's Date may differ from the server clock.
    pub signature_skew_secs: u64,
    /// Largest accepted body, in bytes.
    pub body_limit: u64,
    /// Request and queue metrics.
    pub metrics: Arc<Metrics>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("workflows", &self.workflows.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

//! The studies chore: every `BATON_DATASERVICE_SYNC_SECS` (and as soon as this scheduler
//! leads), mirror the data service's studies (names, `visible`, and `deleted` for those it no
//! longer lists). It runs in the [background](crate::rounds) and only with
//! `BATON_DATASERVICE_URL` set.

use common::operations::releases::sync_studies;
use common::releases::dataservice::DataService;
use common::store::Store;
use common::time::Clock;

use crate::rounds::Rounds;

/// Settings of the chore.
#[derive(Debug, Clone)]
pub struct StudySettings {
    /// The data service, when one is set.
    pub data_service: Option<DataService>,
    /// Milliseconds between syncs.
    pub every_ms: u64,
}

/// Starts a sync in the background when one is due on `clock` and none of `rounds` is
/// running; true when started.
pub fn sync_if_due(
    rounds: &Rounds,
    clock: &dyn Clock,
    store: &Store,
    settings: &StudySettings,
) -> bool {
    let Some(data_service) = settings.data_service.clone() else {
        return false;
    };
    let store = store.clone();
    rounds.start_if_due(clock.now_ms(), settings.every_ms, async move {
        match sync_studies(&store, &data_service).await {
            Ok(sync) => tracing::info!(
                data_service = %data_service.url(),
                listed = sync.listed,
                deleted = ?sync.deleted,
                "studies synced from the data service"
            ),
            Err(error) => tracing::warn!(
                data_service = %data_service.url(),
                cause = %error,
                "studies not synced from the data service"
            ),
        }
    })
}

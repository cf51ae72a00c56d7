//! Studies, mirrored from the data service: the whole listing synced (the scheduler, every
//! `BATON_DATASERVICE_SYNC_SECS`), and the studies a new release names first looked up before
//! it is made (the API and the console).

use std::collections::HashSet;

use futures::StreamExt;

use super::{OperationError, OperationResult};
use crate::releases::IdKind;
use crate::releases::dataservice::DataService;
use crate::store::Store;

/// Lookups of one release's new studies made at once.
const LOOKUPS_AT_ONCE: usize = 8;

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StudySync {
    /// Studies the data service listed (each written).
    pub listed: usize,
    /// Studies kept that it no longer lists, marked deleted by this sync.
    pub deleted: Vec<String>,
}

/// Mirrors every study of the data service: new ones are made, every one gets its name,
/// `visible` and `deleted`, and those it no longer lists are marked deleted. Nothing is marked
/// unless the whole listing was read.
pub async fn sync_studies(store: &Store, data_service: &DataService) -> OperationResult<StudySync> {
    let studies = data_service
        .studies()
        .await
        .map_err(|error| OperationError::Interrupted(error.to_string()))?;
    store.mirror_studies(&studies).await?;
    let present: HashSet<String> = studies.iter().map(|study| study.kf_id.clone()).collect();
    let deleted = store.mark_unlisted_studies_deleted(&present).await?;
    Ok(StudySync {
        listed: studies.len(),
        deleted,
    })
}

/// Makes sure the studies a new release names are kept before it is made: those not kept yet
/// are asked of the data service and mirrored; a study it does not know is refused, as the
/// coordinator refuses a release naming a study it does not hold. Without a data service
/// nothing is asked (the release makes them, named by their ids), nor when an id is malformed
/// (the release's own check refuses it).
pub async fn mirror_named_studies(
    store: &Store,
    data_service: Option<&DataService>,
    studies: &[String],
) -> OperationResult<()> {
    let Some(data_service) = data_service else {
        return Ok(());
    };
    // A release naming a malformed id is refused anyway: nothing is asked for it.
    if studies.iter().any(|id| !IdKind::Study.is_valid(id)) {
        return Ok(());
    }
    let mut named = studies.to_vec();
    named.sort();
    named.dedup();
    let unknown = store.unknown_studies(&named).await?;
    if unknown.is_empty() {
        return Ok(());
    }
    let answers: Vec<_> = futures::stream::iter(unknown)
        .map(|id| async move {
            let answer = data_service.study(&id).await;
            (id, answer)
        })
        .buffered(LOOKUPS_AT_ONCE)
        .collect()
        .await;
    let mut found = Vec::with_capacity(answers.len());
    for (id, answer) in answers {
        match answer {
            Ok(Some(study)) => found.push(study),
            Ok(None) => {
                return Err(OperationError::Invalid(format!(
                    "study {id} is not known to the data service"
                )));
            }
            Err(error) => {
                return Err(OperationError::Interrupted(format!(
                    "cannot look study {id} up: {error}"
                )));
            }
        }
    }
    store.mirror_studies(&found).await?;
    tracing::info!(studies = found.len(), data_service = %data_service.url(), "studies mirrored for a new release");
    Ok(())
}

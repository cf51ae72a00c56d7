//! The releases chore: every `BATON_RELEASE_POLL_MS`, ping every enabled task service's
//! `/status` (health), ask services for the state of tasks in flight (`get_status`), fail
//! tasks whose service stopped answering, and ensure the phase run each active release's
//! state calls for (healing a phase whose creator died).
//!
//! The calls take time, so rounds run in the [background](crate::rounds): the engine's chores
//! never wait on a task service. Every call follows the [outbound policy](common::outbound).

use std::sync::Arc;

use common::error::StoreError;
use common::outbound::OutboundClient;
use common::releases::records::{Release, Task, TaskService};
use common::releases::task_service::{self, ActionBody};
use common::releases::{Action, TaskState};
use common::store::Store;
use common::time::Clock;

use crate::rounds::Rounds;

/// Most active releases looked at per round.
const RELEASES_PER_ROUND: usize = 500;

/// Settings of the chore.
#[derive(Debug, Clone)]
pub struct ReleaseSettings {
    /// Milliseconds between rounds.
    pub poll_ms: u64,
    /// Milliseconds a service may go without answering while one of its tasks is in flight.
    pub service_timeout_ms: u64,
    /// Client for the services, following the outbound policy.
    pub client: OutboundClient,
}

/// Starts a round in the background when one is due on `clock` and none of `rounds` is
/// running; true when started.
pub fn poll_if_due(
    rounds: &Rounds,
    clock: &Arc<dyn Clock>,
    store: &Store,
    settings: &ReleaseSettings,
) -> bool {
    let (store, polled, clock) = (store.clone(), settings.clone(), Arc::clone(clock));
    rounds.start_if_due(clock.now_ms(), settings.poll_ms, async move {
        if let Err(error) = poll_round(&store, &polled, clock.as_ref()).await {
            tracing::warn!(cause = %error, "release polling round failed");
        }
    })
}

/// One round: health, in-flight tasks, timeouts (by `clock`) and phases.
pub async fn poll_round(
    store: &Store,
    settings: &ReleaseSettings,
    clock: &dyn Clock,
) -> Result<(), StoreError> {
    let client = &settings.client;
    ping_services(store, client, clock).await?;
    for release_id in store.active_release_ids(RELEASES_PER_ROUND).await? {
        let Some(release) = store.release_record::<Release>(&release_id).await? else {
            continue;
        };
        for task in store.release_tasks(&release).await? {
            follow_task(store, client, &release, &task, settings, clock).await?;
        }
        store.ensure_release_phase(&release_id).await?;
    }
    Ok(())
}

/// Pings every enabled service's `/status` and records its health.
async fn ping_services(
    store: &Store,
    client: &OutboundClient,
    clock: &dyn Clock,
) -> Result<(), StoreError> {
    let services = store.task_services(true).await?;
    let pings = services
        .iter()
        .map(|service| async move { (service, task_service::ping(client, &service.url).await) });
    for (service, answered) in futures::future::join_all(pings).await {
        match answered {
            Ok(()) => {
                store
                    .record_service_answer(&service.kf_id, clock.now_ms())
                    .await?
            }
            Err(cause) => {
                let failures = store.record_service_failure(&service.kf_id).await?;
                tracing::info!(service = %service.kf_id, failures, %cause, "task service did not answer /status");
            }
        }
    }
    Ok(())
}

/// Asks the service of a task in flight for its state and records it; fails the task when
/// its service has not answered for too long.
async fn follow_task(
    store: &Store,
    client: &OutboundClient,
    release: &Release,
    task: &Task,
    settings: &ReleaseSettings,
    clock: &dyn Clock,
) -> Result<(), StoreError> {
    if !Action::GetStatus.sent_in().contains(&task.state) {
        return Ok(());
    }
    let Some(service) = store
        .release_record::<TaskService>(&task.task_service)
        .await?
    else {
        store
            .apply_task_state(
                &task.kf_id,
                TaskState::Failed,
                None,
                Some(format!("task service {} was deleted", task.task_service)),
            )
            .await?;
        return Ok(());
    };
    let body = ActionBody {
        action: Action::GetStatus,
        task_id: task.kf_id.clone(),
        release_id: release.kf_id.clone(),
        studies: release.studies.clone(),
    };
    let answer = task_service::call(client, &service.url, &body).await;
    if answer.answered() {
        store
            .record_service_answer(&service.kf_id, clock.now_ms())
            .await?;
    }
    match task_service::interpret(Action::GetStatus, &answer) {
        Ok(state) if state != task.state => {
            let outcome = store
                .apply_task_state(&task.kf_id, state, answer.progress(), None)
                .await?;
            tracing::info!(task = %task.kf_id, %state, result = ?outcome.result, "get_status applied");
        }
        Ok(_) => {}
        Err(_) => {
            let silent_ms = clock
                .now_ms()
                .saturating_sub(service.last_ok_ms.max(task.updated_ms));
            if silent_ms > settings.service_timeout_ms {
                let reason = format!(
                    "task service {} stopped answering ({} s without an answer)",
                    service.kf_id,
                    silent_ms / 1000
                );
                tracing::warn!(task = %task.kf_id, %reason, "failing the task");
                store
                    .apply_task_state(&task.kf_id, TaskState::Failed, None, Some(reason))
                    .await?;
            }
        }
    }
    Ok(())
}

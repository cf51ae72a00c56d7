//! The leader loop: hold the lease and tick, or stand by and try to take it.
//!
//! The chores read the wall clock ([`SystemClock`]). The lease is renewed on this process's
//! monotonic clock, a third of the way through it: the lease itself expires on Redis's clock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::store::Store;
use common::time::SystemClock;
use tokio_util::sync::CancellationToken;

use crate::chores::{Chores, TickSettings};
use crate::config::SchedulerOptions;

/// Why the scheduler stopped.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// Redis failed.
    #[error(transparent)]
    Store(#[from] common::error::StoreError),
    /// The outbound HTTP client could not be built.
    #[error(transparent)]
    Outbound(#[from] common::outbound::OutboundBuildError),
    /// The outbound policy refuses `BATON_DATASERVICE_URL`.
    #[error("BATON_DATASERVICE_URL: {0}")]
    DataService(#[from] common::outbound::OutboundError),
}

/// Runs the scheduler until `shutdown` is cancelled, then gives up the lease.
pub async fn run(
    options: SchedulerOptions,
    shutdown: CancellationToken,
) -> Result<(), SchedulerError> {
    let store =
        Store::connect_patiently(&options.store, options.startup.connect_patience()).await?;
    let id = options.scheduler_id.clone().unwrap_or_else(|| {
        let host = hostname();
        format!(
            "{host}-{}-{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..6]
        )
    });
    let client = options.outbound.client()?;
    let settings = TickSettings {
        visibility_timeout_ms: options.visibility_timeout_secs * 1000,
        max_redeliveries: options.max_redeliveries,
        releases: crate::releases::ReleaseSettings {
            poll_ms: options.release_poll_ms.max(10),
            service_timeout_ms: options.task_service_timeout_secs.saturating_mul(1000),
            client: client.clone(),
        },
        studies: crate::studies::StudySettings {
            data_service: options.dataservice.data_service(&client)?,
            every_ms: options.dataservice_sync_secs.max(1).saturating_mul(1000),
        },
        claims: crate::claims::ClaimSettings::from_secs(options.human_claim_timeout_secs),
    };
    let chores = Chores::new(Arc::new(SystemClock));
    let housekeeping_every_ms = options.housekeeping_secs.max(1).saturating_mul(1000);
    let worker_timeout_ms = options.worker_timeout_secs.saturating_mul(1000);
    tracing::info!(scheduler = %id, lease_ms = options.lease_ms, "scheduler started");
    let mut leading = false;
    let mut lease_renewed = Instant::now();
    while !shutdown.is_cancelled() {
        // Renew well before the lease lapses; act only while holding it.
        if !leading || lease_renewed.elapsed() >= Duration::from_millis(options.lease_ms / 3) {
            match store.acquire_scheduler_lease(&id, options.lease_ms).await {
                Ok(held) => {
                    if held != leading {
                        tracing::info!(scheduler = %id, leading = held, "leadership changed");
                    }
                    leading = held;
                    lease_renewed = Instant::now();
                }
                Err(error) => {
                    tracing::warn!(cause = %error, "cannot reach Redis for the lease");
                    leading = false;
                }
            }
        }
        if leading {
            if let Err(error) = chores.tick(&store, &settings).await {
                tracing::warn!(cause = %error, "scheduler tick failed");
            }
            if let Err(error) = chores
                .housekeeping_if_due(&store, housekeeping_every_ms, worker_timeout_ms)
                .await
            {
                tracing::warn!(cause = %error, "housekeeping failed");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(options.tick()) => {}
            _ = shutdown.cancelled() => {}
        }
    }
    if leading {
        store.release_scheduler_lease(&id).await?;
    }
    tracing::info!(scheduler = %id, "scheduler stopped");
    Ok(())
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_default()
}

//! One scheduler tick, as separate steps so each can be tested on its own.
//!
//! Every "now" the chores use comes from the [`Chores`]' [`Clock`]: which slots are due,
//! which delayed jobs are due, when background rounds and housekeeping are due again, and the
//! times handed to the store (run creation, dead letters, cutoffs). The binary uses the wall
//! clock ([`SystemClock`](common::time::SystemClock)); tests step a
//! [`ManualClock`](common::time::ManualClock).
//!
//! Some timing stays Redis's own clock: the idle time of pending jobs (`XAUTOCLAIM` and
//! `XPENDING` min-idle, for lost jobs and abandoned claims), the expiry of the leader lease
//! and of runs past their retention. Records written by store operations shared with the API
//! and the workers (release steps, studies, task states) are dated by the store's wall clock.

use std::sync::Arc;

use common::error::StoreError;
use common::store::Store;
use common::time::Clock;
use common::workflows::definition::Definition;

use crate::cadence::Cadence;
use crate::rounds::Rounds;

/// Most delayed jobs promoted per queue per tick.
const PROMOTE_BATCH: usize = 1000;
/// Most missed slots of one definition fired late after an outage.
const MAX_CATCH_UP_SLOTS: usize = 60;
/// Most finished report runs turned into versions per tick.
const FINALIZE_BATCH: usize = 1000;
/// Active runs whose status index entry is checked per housekeeping round.
const HEAL_BATCH: usize = 1000;
/// Runs listed before the run indexes existed, indexed per housekeeping round.
const BACKFILL_BATCH: usize = 5000;

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Periodic runs fired (run ids).
    pub fired: Vec<String>,
    /// Delayed jobs promoted.
    pub promoted: usize,
    /// Lost jobs redelivered.
    pub redelivered: usize,
    /// Lost jobs dead-lettered.
    pub dead: usize,
    /// Finished report runs finalized (successes recorded as versions).
    pub finalized: usize,
    /// Background rounds started.
    pub rounds: RoundsStarted,
}

/// Which background rounds a tick started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoundsStarted {
    /// Release polling.
    pub releases: bool,
    /// The studies' sync from the data service.
    pub studies: bool,
    /// The sweep of abandoned human claims.
    pub claims: bool,
}

/// Settings a tick needs.
#[derive(Debug, Clone)]
pub struct TickSettings {
    /// Idle time after which a pending job is taken for lost.
    pub visibility_timeout_ms: u64,
    /// Redeliveries before a lost job is dead-lettered.
    pub max_redeliveries: u32,
    /// Release polling: task service health, tasks in flight, phases.
    pub releases: crate::releases::ReleaseSettings,
    /// Studies mirrored from the data service.
    pub studies: crate::studies::StudySettings,
    /// Human claims returned to the pool after their timeout.
    pub claims: crate::claims::ClaimSettings,
}

/// Fires every periodic definition whose current slot has not fired yet.
pub async fn fire_due_periodics(store: &Store, now: u64) -> Result<Vec<String>, StoreError> {
    let mut fired = Vec::new();
    for definition in store.definitions().await? {
        fired.extend(fire_if_due(store, &definition, now).await?);
    }
    Ok(fired)
}

async fn fire_if_due(
    store: &Store,
    definition: &Definition,
    now: u64,
) -> Result<Vec<String>, StoreError> {
    let Some(periodic) = &definition.periodic else {
        return Ok(Vec::new());
    };
    let schedule = match periodic.schedule() {
        Ok(schedule) => schedule,
        Err(error) => {
            tracing::warn!(definition = %definition.name, cause = %error, "invalid periodic schedule");
            return Ok(Vec::new());
        }
    };
    let Some(current) = schedule.slot_at(now) else {
        return Ok(Vec::new());
    };
    // Slots missed while no scheduler led (a failover) are fired late, each once; after a
    // long outage only the most recent ones are.
    let last = store.last_fired_slot(&definition.name).await?;
    let mut slots = Vec::new();
    let mut slot = current;
    while last.is_none_or(|last| slot > last) && slots.len() < MAX_CATCH_UP_SLOTS {
        slots.push(slot);
        if last.is_none() {
            break;
        }
        match schedule.slot_at(slot.saturating_sub(1)) {
            Some(previous) if previous < slot => slot = previous,
            _ => break,
        }
    }
    let mut fired = Vec::new();
    for slot in slots.into_iter().rev() {
        let run_id = store.fire_periodic(definition, slot, now).await?;
        tracing::info!(definition = %definition.name, slot, run = %run_id, "periodic run fired");
        fired.push(run_id);
    }
    Ok(fired)
}

/// The chores of one scheduler, with the clock they read "now" from and the bookkeeping of
/// their background rounds and housekeeping.
#[derive(Debug)]
pub struct Chores {
    clock: Arc<dyn Clock>,
    releases: Rounds,
    studies: Rounds,
    claims: Rounds,
    housekeeping: Cadence,
}

impl Chores {
    /// Chores reading "now" from `clock`, with nothing started yet.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            releases: Rounds::new(),
            studies: Rounds::new(),
            claims: Rounds::new(),
            housekeeping: Cadence::new(),
        }
    }

    /// The clock the chores read.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// One tick of every chore, at the clock's "now".
    pub async fn tick(
        &self,
        store: &Store,
        settings: &TickSettings,
    ) -> Result<TickReport, StoreError> {
        let now = self.clock.now_ms();
        let mut report = TickReport {
            fired: fire_due_periodics(store, now).await?,
            ..TickReport::default()
        };
        for queue in store.queue_names().await? {
            report.promoted += store.promote_due_jobs(&queue, PROMOTE_BATCH, now).await?;
            let reclaimed = store
                .reclaim_stale_jobs(
                    &queue,
                    settings.visibility_timeout_ms,
                    settings.max_redeliveries,
                    now,
                )
                .await?;
            report.redelivered += reclaimed.redelivered;
            report.dead += reclaimed.dead;
        }
        report.finalized = store.finalize_report_runs(FINALIZE_BATCH, now).await?;
        report.rounds = RoundsStarted {
            releases: crate::releases::poll_if_due(
                &self.releases,
                &self.clock,
                store,
                &settings.releases,
            ),
            studies: crate::studies::sync_if_due(
                &self.studies,
                self.clock.as_ref(),
                store,
                &settings.studies,
            ),
            claims: crate::claims::sweep_if_due(&self.claims, &self.clock, store, &settings.claims),
        };
        Ok(report)
    }

    /// Waits until no background round (releases, studies, claims) is under way.
    pub async fn rounds_idle(&self) {
        self.releases.idle().await;
        self.studies.idle().await;
        self.claims.idle().await;
    }

    /// Runs [housekeeping](Chores::housekeeping) when `every_ms` have passed on the clock since
    /// the last one started (the first at once); true when it ran.
    pub async fn housekeeping_if_due(
        &self,
        store: &Store,
        every_ms: u64,
        worker_timeout_ms: u64,
    ) -> Result<bool, StoreError> {
        if !self
            .housekeeping
            .start_if_due(self.clock.now_ms(), every_ms)
        {
            return Ok(false);
        }
        self.housekeeping(store, worker_timeout_ms).await?;
        Ok(true)
    }

    /// The slower chores: trimming streams and the run indexes, healing and backfilling the
    /// run indexes, forgetting dead workers, enforcing the workflows' retention.
    pub async fn housekeeping(
        &self,
        store: &Store,
        worker_timeout_ms: u64,
    ) -> Result<(), StoreError> {
        let now = self.clock.now_ms();
        for queue in store.queue_names().await? {
            store.trim_queue(&queue).await?;
        }
        store.trim_expired_runs(now).await?;
        store.heal_run_indexes(HEAL_BATCH).await?;
        store.backfill_run_indexes(BACKFILL_BATCH, now).await?;
        for worker in store.remove_dead_workers(worker_timeout_ms, now).await? {
            tracing::info!(worker = %worker, "worker stopped sending heartbeats: removed");
        }
        enforce_retention(store).await
    }
}

/// Deletes the finished runs of each workflow beyond its `retention.offset` newest.
async fn enforce_retention(store: &Store) -> Result<(), StoreError> {
    for definition in store.definitions().await? {
        let Some(keep) = definition.retention_offset else {
            continue;
        };
        let deleted = store.enforce_retention(&definition.name, keep).await?;
        if deleted > 0 {
            tracing::info!(workflow = %definition.name, keep, deleted, "runs beyond the workflow's retention deleted");
        }
    }
    Ok(())
}

//! The scheduler's settings, from flags and the environment.

use std::time::Duration;

use clap::Parser;
use common::config::{StartupOptions, StoreOptions};
use common::outbound::OutboundOptions;
use common::releases::dataservice::DataServiceOptions;

/// Fires periodic workflows, promotes delayed jobs and reclaims lost ones.
#[derive(Debug, Clone, Parser)]
#[command(name = "baton-scheduler", version, about)]
pub struct SchedulerOptions {
    /// Redis connection and key prefix.
    #[command(flatten)]
    pub store: StoreOptions,

    /// How long to wait for Redis at start.
    #[command(flatten)]
    pub startup: StartupOptions,

    /// What outbound HTTP (task services' health pings and status polls, the data service)
    /// may reach.
    #[command(flatten)]
    pub outbound: OutboundOptions,

    /// The data service studies are mirrored from.
    #[command(flatten)]
    pub dataservice: DataServiceOptions,

    /// Seconds between syncs of the studies from the data service (the first runs as soon as
    /// this scheduler leads).
    #[arg(long, env = "BATON_DATASERVICE_SYNC_SECS", default_value_t = 600)]
    pub dataservice_sync_secs: u64,

    /// Milliseconds between ticks.
    #[arg(long, env = "BATON_TICK_MS", default_value_t = 200)]
    pub tick_ms: u64,

    /// Milliseconds the leader lease lasts; a standby takes over this long after the leader dies.
    #[arg(long, env = "BATON_LEASE_MS", default_value_t = 5000)]
    pub lease_ms: u64,

    /// Seconds a delivered job may go untouched before it is taken for lost and redelivered
    /// (live workers touch their long jobs on every heartbeat).
    #[arg(long, env = "BATON_VISIBILITY_TIMEOUT_SECS", default_value_t = 30)]
    pub visibility_timeout_secs: u64,

    /// Deliveries after the first before a lost job is dead-lettered and its task failed.
    #[arg(long, env = "BATON_MAX_REDELIVERIES", default_value_t = 5)]
    pub max_redeliveries: u32,

    /// Seconds without a heartbeat after which a worker's record is removed from the registry.
    /// It shows as stale long before (three missed heartbeats), and its jobs are reclaimed
    /// after the visibility timeout whatever this says.
    #[arg(long, env = "BATON_WORKER_TIMEOUT_SECS", default_value_t = common::store::engine::workers::STALE_WORKER_KEPT_MS / 1000)]
    pub worker_timeout_secs: u64,

    /// Seconds between housekeeping rounds (trimming streams and run indexes, healing them,
    /// forgetting dead workers, deleting runs beyond their workflow's `retention.offset`).
    #[arg(long, env = "BATON_HOUSEKEEPING_SECS", default_value_t = 30)]
    pub housekeeping_secs: u64,

    /// Milliseconds between release polls (task service health, tasks in flight, phases).
    #[arg(long, env = "BATON_RELEASE_POLL_MS", default_value_t = 2000)]
    pub release_poll_ms: u64,

    /// Seconds a task service may go without answering while one of its tasks is in flight
    /// before that task is failed.
    #[arg(long, env = "BATON_TASK_SERVICE_TIMEOUT_SECS", default_value_t = 60)]
    pub task_service_timeout_secs: u64,

    /// Seconds a claimed human task may go without its holder's activity (the claim, a save)
    /// before it returns to the pool for anyone to claim; 0 never returns them.
    #[arg(long, env = "BATON_HUMAN_CLAIM_TIMEOUT_SECS", default_value_t = 86_400)]
    pub human_claim_timeout_secs: u64,

    /// Scheduler id; host, pid and a random suffix when absent.
    #[arg(long, env = "BATON_SCHEDULER_ID")]
    pub scheduler_id: Option<String>,

    /// An operator command to run instead of scheduling.
    #[command(subcommand)]
    pub command: Option<OperatorCommand>,
}

/// Operator commands on the dead letter.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum OperatorCommand {
    /// Lists a queue's dead-letter records, newest first, one JSON object a line.
    DeadLetters {
        /// The queue.
        #[arg(long, default_value = "default")]
        queue: String,
        /// Most records to list.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Gives the task of a dead-letter record a new attempt and removes the record.
    Requeue {
        /// The queue.
        #[arg(long, default_value = "default")]
        queue: String,
        /// The record's id, as `dead-letters` lists it.
        id: String,
    },
}

impl SchedulerOptions {
    /// Time between ticks.
    pub fn tick(&self) -> Duration {
        Duration::from_millis(self.tick_ms.max(10))
    }
}

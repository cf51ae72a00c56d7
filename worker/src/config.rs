//! The worker's settings, from flags and the environment.

use std::time::Duration;

use clap::{Parser, Subcommand};
use common::config::{StartupOptions, StoreOptions};
use common::engine::backoff::Backoff;
use common::engine::model::QueueName;
use common::error::InvalidInput;
use common::outbound::OutboundOptions;

/// Runs tasks from Baton's job streams.
#[derive(Debug, Clone, Parser)]
#[command(name = "baton-worker", version, about)]
pub struct WorkerOptions {
    /// Redis connection and key prefix.
    #[command(flatten)]
    pub store: StoreOptions,

    /// How long to wait for Redis at start.
    #[command(flatten)]
    pub startup: StartupOptions,

    /// What outbound HTTP (`http` tasks, task services) may reach.
    #[command(flatten)]
    pub outbound: OutboundOptions,

    /// Queues to consume, comma-separated (`reports` is where report runs go).
    #[arg(
        long,
        env = "BATON_QUEUES",
        default_value = "default,reports",
        value_delimiter = ','
    )]
    pub queues: Vec<String>,

    /// Jobs executed at the same time.
    #[arg(long, env = "BATON_CONCURRENCY", default_value_t = 16)]
    pub concurrency: usize,

    /// Threads that run the worker's own work: reading, starting and recording jobs, and
    /// in-process handlers. Programs, git and file work run apart from them. One (the default)
    /// costs the least CPU per job; run a process per core to use more cores, or give a
    /// process more threads for CPU-heavy in-process handlers. 0: one per core.
    #[arg(long, env = "BATON_WORKER_THREADS", default_value_t = 1)]
    pub threads: usize,

    /// Milliseconds an idle reader waits on its wake lists before asking its streams again
    /// (at most 1,000, so a resumed queue is read again within a second).
    #[arg(long, env = "BATON_BLOCK_MS", default_value_t = 1000)]
    pub block_ms: u64,

    /// Seconds between heartbeats (registry, long-job keep-alive, cancel polling).
    #[arg(long, env = "BATON_HEARTBEAT_SECS", default_value_t = common::store::engine::workers::HEARTBEAT_INTERVAL_MS / 1000)]
    pub heartbeat_secs: u64,

    /// Seconds in-flight jobs may take to finish after SIGTERM before they are stopped and
    /// left for another worker.
    #[arg(long, env = "BATON_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    pub shutdown_grace_secs: u64,

    /// First retry delay in milliseconds; doubles with each retry, with jitter.
    #[arg(long, env = "BATON_RETRY_BASE_MS", default_value_t = 1000)]
    pub retry_base_ms: u64,

    /// Longest retry delay in milliseconds.
    #[arg(long, env = "BATON_RETRY_MAX_MS", default_value_t = 300_000)]
    pub retry_max_ms: u64,

    /// Git repository of reports, for `report` tasks.
    #[arg(long, env = "BATON_REPORTS_REPO")]
    pub reports_repo: Option<std::path::PathBuf>,

    /// Artefact store of report versions: a directory, or `s3://bucket/prefix`.
    #[arg(long, env = "BATON_ARTEFACTS", default_value = ".baton/artefacts")]
    pub artefacts: String,

    /// Directory under which report runs get their fresh working directories.
    #[arg(long, env = "BATON_WORK_DIR")]
    pub work_dir: Option<std::path::PathBuf>,

    /// Worker id; host, pid and a random suffix when absent.
    #[arg(long, env = "BATON_WORKER_ID")]
    pub worker_id: Option<String>,

    /// A one-off command; without one, the worker runs.
    #[command(subcommand)]
    pub command: Option<WorkerCommand>,
}

/// One-off commands of `baton-worker`.
#[derive(Debug, Clone, Subcommand)]
pub enum WorkerCommand {
    /// Report bundles: reports packed by the server to run elsewhere.
    #[command(subcommand)]
    Bundle(BundleCommand),
}

/// What to do with a report bundle.
#[derive(Debug, Clone, Subcommand)]
pub enum BundleCommand {
    /// Runs a bundle's report here and writes the completed bundle, ready to import.
    Run {
        /// The bundle, as packed by the server.
        input: std::path::PathBuf,
        /// Where to write the completed bundle.
        output: std::path::PathBuf,
        /// The most bytes the bundle may unpack to.
        #[arg(long, default_value_t = common::reports::bundles::DEFAULT_MAX_UNPACKED)]
        max_unpacked_bytes: u64,
    },
}

impl WorkerOptions {
    /// The queue names, validated.
    pub fn queue_names(&self) -> Result<Vec<QueueName>, InvalidInput> {
        let names: Vec<QueueName> = self
            .queues
            .iter()
            .map(|name| name.trim())
            .filter(|name| !name.is_empty())
            .map(QueueName::parse)
            .collect::<Result<_, _>>()?;
        if names.is_empty() {
            return Err(InvalidInput::new("give at least one queue"));
        }
        Ok(names)
    }

    /// The retry backoff.
    pub fn backoff(&self) -> Backoff {
        Backoff {
            base_ms: self.retry_base_ms,
            max_ms: self.retry_max_ms,
        }
    }

    /// The heartbeat period.
    pub fn heartbeat(&self) -> Duration {
        Duration::from_secs(self.heartbeat_secs.max(1))
    }
}

//! Settings every binary shares, read from flags and the environment with the same names.

use clap::Args;

/// How to reach Redis and which deployment's keys to use.
#[derive(Debug, Clone, Args)]
pub struct StoreOptions {
    /// Redis URL (`redis://`, `rediss://` or `unix://`).
    #[arg(
        long,
        env = "BATON_REDIS_URL",
        default_value = "redis://127.0.0.1:6379"
    )]
    pub redis_url: String,

    /// Prefix of every key, so several deployments (or test suites) share one Redis.
    #[arg(long, env = "BATON_PREFIX", default_value = "baton")]
    pub prefix: String,

    /// Seconds a finished run (its state, results and log) is kept before it expires.
    #[arg(long, env = "BATON_RETENTION_SECS", default_value_t = 7 * 24 * 3600)]
    pub retention_secs: u64,
}

/// Starts `tracing` output on stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber_filter();
    tracing::subscriber::set_global_default(filter).ok();
}

fn tracing_subscriber_filter() -> impl tracing::Subscriber + Send + Sync {
    use tracing_subscriber::EnvFilter;
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .finish()
}

//! Settings every binary shares, read from flags and the environment with the same names.

use std::path::PathBuf;

use clap::Args;

use crate::error::InvalidInput;

/// The variable holding the master key that seals API key secrets. Only `baton-api` reads it.
pub const MASTER_KEY_VARIABLE: &str = "BATON_MASTER_KEY";

/// How to reach Redis and which deployment's keys to use.
#[derive(Clone, Args)]
pub struct StoreOptions {
    /// Redis URL: `redis://[:PASSWORD@]HOST[:PORT][/DB]`, `rediss://` for TLS (a username
    /// before the password selects a Redis ACL user), or `unix://PATH`; a Redis Cluster as
    /// `redis+cluster://[:PASSWORD@]HOST:PORT,HOST:PORT,...` (or a comma-separated list of
    /// node URLs); a master watched by Sentinel as
    /// `redis+sentinel://[:PASSWORD@]HOST:PORT,HOST:PORT,.../MASTER_NAME[/DB]`
    /// (`rediss+cluster://`, `rediss+sentinel://` for TLS). Logs show it with its password
    /// masked.
    #[arg(
        long,
        env = "BATON_REDIS_URL",
        default_value = "redis://127.0.0.1:6379",
        hide_env_values = true
    )]
    pub redis_url: String,

    /// Prefix of every key, so several deployments (or test suites) share one Redis.
    #[arg(long, env = "BATON_PREFIX", default_value = "baton")]
    pub prefix: String,

    /// Seconds a finished run (its state, results and log) is kept before it expires.
    #[arg(long, env = "BATON_RETENTION_SECS", default_value_t = 7 * 24 * 3600)]
    pub retention_secs: u64,

    /// Shards runs and queues are spread over (1 to 1024). Fixed for the life of a deployment:
    /// every process must use the same number, and a store written with another refuses to
    /// connect.
    #[arg(long, env = "BATON_SHARDS", default_value_t = crate::keys::DEFAULT_SHARDS,
        value_parser = clap::value_parser!(u16).range(1..=crate::keys::MAX_SHARDS as i64))]
    pub shards: u16,

    /// Runs whose status and times a process keeps in memory for its lists while Redis
    /// tracks them (`CLIENT TRACKING`; a single Redis 6+ server); 0 reads every run from Redis.
    #[arg(long, env = "BATON_LIST_CACHE_RUNS", default_value_t = DEFAULT_LIST_CACHE_RUNS)]
    pub list_cache_runs: usize,

    /// TLS settings of a `rediss://` URL.
    #[command(flatten)]
    pub tls: RedisTlsOptions,

    /// How many replicas must hold a created run before it is confirmed.
    #[command(flatten)]
    pub replication: ReplicaAckOptions,
}

impl std::fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreOptions")
            .field("redis_url", &crate::store::redacted_url(&self.redis_url))
            .field("prefix", &self.prefix)
            .field("retention_secs", &self.retention_secs)
            .field("shards", &self.shards)
            .field("list_cache_runs", &self.list_cache_runs)
            .field("tls", &self.tls)
            .field("replication", &self.replication)
            .finish()
    }
}

/// Runs a process keeps the status and times of for its lists, unless configured otherwise.
pub const DEFAULT_LIST_CACHE_RUNS: usize = 200_000;

/// Certificates for a `rediss://` connection. Without a CA file the system's trusted roots
/// verify the server; a client certificate and key are for servers that authenticate
/// clients by certificate (`tls-auth-clients yes`, Redis' default when TLS is on).
#[derive(Debug, Clone, Default, Args)]
pub struct RedisTlsOptions {
    /// PEM file of the CA that signed the Redis server's certificate, trusted instead of the
    /// system's roots.
    #[arg(long, env = "BATON_REDIS_CA_CERT")]
    pub redis_ca_cert: Option<PathBuf>,

    /// PEM file of the client certificate to present to Redis (needs the key too).
    #[arg(long, env = "BATON_REDIS_CLIENT_CERT", requires = "redis_client_key")]
    pub redis_client_cert: Option<PathBuf>,

    /// PEM file of the client certificate's private key.
    #[arg(long, env = "BATON_REDIS_CLIENT_KEY", requires = "redis_client_cert")]
    pub redis_client_key: Option<PathBuf>,
}

impl RedisTlsOptions {
    /// Whether any certificate file is given.
    pub fn is_configured(&self) -> bool {
        self.redis_ca_cert.is_some()
            || self.redis_client_cert.is_some()
            || self.redis_client_key.is_some()
    }
}

/// How a long-running service (API, worker, scheduler) starts when Redis cannot be reached
/// yet: still starting, restarting, or in the middle of a Sentinel or Cluster failover.
#[derive(Debug, Clone, Args)]
pub struct StartupOptions {
    /// Seconds a service keeps trying to reach Redis at start before it gives up (0: give up
    /// at the first failure). A refused password or an unusable URL fails at once.
    #[arg(long, env = "BATON_CONNECT_PATIENCE_SECS", default_value_t = 60)]
    pub connect_patience_secs: u64,
}

impl StartupOptions {
    /// How long to keep trying.
    pub fn connect_patience(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.connect_patience_secs)
    }
}

/// Acknowledged writes: with `min_replicas_ack` above 0, creating runs waits (`WAIT`) until
/// that many replicas of the run's node hold them, so a run the API confirmed survives the
/// loss of its master. Costs a replication round trip per creation.
#[derive(Debug, Clone, Args)]
pub struct ReplicaAckOptions {
    /// Replicas that must hold a created run before it is confirmed (0: do not wait).
    #[arg(long, env = "BATON_MIN_REPLICAS_ACK", default_value_t = 0)]
    pub min_replicas_ack: u16,

    /// Longest wait for those replicas, in milliseconds; creation fails (and may be
    /// retried with the same run id) when fewer acknowledged in time.
    #[arg(long, env = "BATON_REPLICAS_ACK_TIMEOUT_MS", default_value_t = 1000)]
    pub replicas_ack_timeout_ms: u64,
}

impl Default for ReplicaAckOptions {
    fn default() -> Self {
        Self {
            min_replicas_ack: 0,
            replicas_ack_timeout_ms: 1000,
        }
    }
}

/// Refuses to go on when the master key is in this process's environment: only `baton-api`
/// needs it, and a worker or the scheduler holding it would hand it to whatever can read
/// their environment. `program` names the binary in the error.
pub fn refuse_master_key(program: &str) -> Result<(), InvalidInput> {
    if std::env::var_os(MASTER_KEY_VARIABLE).is_some() {
        return Err(InvalidInput::new(format!(
            "{MASTER_KEY_VARIABLE} is set, but {program} must not hold the master key: only \
             baton-api needs it. Unset {MASTER_KEY_VARIABLE} in {program}'s environment"
        )));
    }
    Ok(())
}

/// Starts `tracing` output on stderr, filtered by `RUST_LOG` (default `info`): plain text
/// (coloured only on a terminal), or JSON lines with `BATON_LOG_FORMAT=json`.
pub fn init_tracing() {
    let format = std::env::var(LOG_FORMAT_VAR).unwrap_or_default();
    let json = match LogFormat::parse(&format) {
        Ok(format) => format == LogFormat::Json,
        Err(unknown) => {
            eprintln!(
                "{LOG_FORMAT_VAR}={unknown:?} is not a log format (text or json): using text"
            );
            false
        }
    };
    let colours = std::io::IsTerminal::is_terminal(&std::io::stderr());
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        tracing::subscriber::set_global_default(builder.json().finish()).ok();
    } else {
        tracing::subscriber::set_global_default(builder.with_ansi(colours).finish()).ok();
    }
}

/// The environment variable choosing the log format.
pub const LOG_FORMAT_VAR: &str = "BATON_LOG_FORMAT";

/// How the processes write their logs (to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines; coloured only on a terminal.
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// `text` (or nothing) or `json`, in any case; anything else is returned as the error.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "" | "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            _ => Err(text.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_formats_parse() {
        assert_eq!(LogFormat::parse(""), Ok(LogFormat::Text));
        assert_eq!(LogFormat::parse("Text"), Ok(LogFormat::Text));
        assert_eq!(LogFormat::parse(" JSON "), Ok(LogFormat::Json));
        assert_eq!(LogFormat::parse("yaml"), Err("yaml".to_owned()));
    }
}

//! The API server's settings and its key-management commands, from flags and the environment.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use common::config::{StartupOptions, StoreOptions};
use common::outbound::OutboundOptions;
use common::releases::dataservice::DataServiceOptions;

/// Serves Baton's HTTP API, or manages its API keys.
#[derive(Debug, Clone, Parser)]
#[command(name = "baton-api", version, about)]
pub struct ApiOptions {
    /// Redis connection and key prefix.
    #[command(flatten)]
    pub store: StoreOptions,

    /// How long to wait for Redis at start.
    #[command(flatten)]
    pub startup: StartupOptions,

    /// What outbound HTTP (task services' registration pings, the data service) may reach.
    #[command(flatten)]
    pub outbound: OutboundOptions,

    /// The data service studies are mirrored from (asked for a study a release names first).
    #[command(flatten)]
    pub dataservice: DataServiceOptions,

    /// Address to listen on.
    #[arg(long, env = "BATON_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Threads serving requests, each with a runtime and a Redis connection of its own (a
    /// connection is served whole by the thread it is given to, the one serving the fewest);
    /// 0 for one per core.
    #[arg(long, env = "BATON_API_THREADS", default_value_t = 0)]
    pub threads: usize,

    /// Directory of workflow definitions (Director's YAML format).
    #[arg(long, env = "BATON_DEFINITIONS")]
    pub definitions: Option<PathBuf>,

    /// Publish this server's definitions even when Redis holds another set (published by
    /// another server with other files): that set's workflows no longer in these files stop
    /// (their periodic runs too). Without it, such a server refuses to start.
    #[arg(long, env = "BATON_REPLACE_DEFINITIONS", default_value_t = false)]
    pub replace_definitions: bool,

    /// Directory of project workflows (Orchestra's front: steps done by machines and people).
    #[arg(long, env = "BATON_PROJECTS")]
    pub projects: Option<PathBuf>,

    /// Seals API key secrets at rest: 32 random bytes as 64 hex characters or base64
    /// (`openssl rand -hex 32`), or a passphrase of 24 characters or more (stretched with
    /// Argon2id).
    #[arg(long, env = "BATON_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,

    /// Seconds a request's `Date` may differ from the server's clock.
    #[arg(long, env = "BATON_SIGNATURE_SKEW_SECS", default_value_t = 300)]
    pub signature_skew_secs: u64,

    /// Largest request body accepted, in bytes (bundle imports may be larger, see below).
    #[arg(long, env = "BATON_BODY_LIMIT", default_value_t = 1024 * 1024)]
    pub body_limit: u64,

    /// Largest report bundle accepted by `POST /api/v1/bundle/import/`, in bytes.
    #[arg(long, env = "BATON_BUNDLE_LIMIT", default_value_t = 256 * 1024 * 1024)]
    pub bundle_limit: u64,

    /// The git repository of reports (OrderlyWeb front); the front answers 404 without it.
    #[arg(long, env = "BATON_REPORTS_REPO")]
    pub reports_repo: Option<PathBuf>,

    /// Where report versions' files are stored: a directory, or `s3://bucket/prefix` (with the
    /// usual `AWS_*` variables).
    #[arg(long, env = "BATON_ARTEFACTS", default_value = ".baton/artefacts")]
    pub artefacts: String,

    /// Queue report runs go to.
    #[arg(long, env = "BATON_REPORTS_QUEUE", default_value = "reports")]
    pub reports_queue: String,

    /// Seconds a bearer token from `POST /api/v1/login/` stays valid.
    #[arg(long, env = "BATON_TOKEN_TTL_SECS", default_value_t = 3600)]
    pub token_ttl_secs: u64,

    /// Login attempts (`POST /api/v1/login/`) one user may make per window; more are refused
    /// with 429 until the window ends.
    #[arg(long, env = "BATON_LOGIN_ATTEMPTS_PER_USER", default_value_t = 10)]
    pub login_attempts_per_user: u64,

    /// Login attempts one client address may make per window, whichever users they name.
    #[arg(long, env = "BATON_LOGIN_ATTEMPTS_PER_ADDRESS", default_value_t = 30)]
    pub login_attempts_per_address: u64,

    /// Seconds of the login throttling window.
    #[arg(long, env = "BATON_LOGIN_WINDOW_SECS", default_value_t = 60)]
    pub login_window_secs: u64,

    /// Bundles received at once by `POST /api/v1/bundle/import/`; more are refused (503).
    #[arg(long, env = "BATON_BUNDLE_UPLOADS", default_value_t = 2)]
    pub bundle_uploads: usize,

    /// Base URL of this server as clients reach it, for absolute links in answers (e.g.
    /// `https://releases.example.org`). When absent, links use the request's `Host` only when
    /// it is the listen address or in `BATON_ALLOWED_HOSTS`, and the listen address otherwise.
    #[arg(long, env = "BATON_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Comma-separated `Host` values (`name` for any port, or `name:port`) that absolute links
    /// may use when `BATON_PUBLIC_URL` is not set.
    #[arg(long, env = "BATON_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,

    /// Seconds a console session lasts after signing in.
    #[arg(long, env = "BATON_CONSOLE_SESSION_SECS", default_value_t = 12 * 3600)]
    pub console_session_secs: u64,

    /// A bearer token (24 printable characters or more, e.g. `openssl rand -hex 32`) with which
    /// a scraper reads `/metrics` (`Authorization: Bearer TOKEN`) without signing; when absent,
    /// only requests signed with an admin key may read it.
    #[arg(long, env = "BATON_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// A file the server writes the address it listens on to (such as `127.0.0.1:43121`) once
    /// it accepts connections: with port 0 in `BATON_LISTEN`, how a supervisor or a test learns
    /// the port the system chose. Written whole (to a temporary file, then renamed).
    #[arg(long, env = "BATON_ADDRESS_FILE")]
    pub address_file: Option<PathBuf>,

    /// A key-management command instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Commands of `baton-api`.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Manages API keys.
    Keys {
        /// What to do.
        #[command(subcommand)]
        action: KeysCommand,
    },
    /// Manages user tokens (exchanged for bearer tokens at `POST /api/v1/login/`).
    Tokens {
        /// What to do.
        #[command(subcommand)]
        action: TokensCommand,
    },
}

/// User token management.
#[derive(Debug, Clone, Subcommand)]
pub enum TokensCommand {
    /// Creates a user and prints its token (`USER:SECRET`) alone on the last line (shown only
    /// once). The user is an API key: `keys list` shows it and `keys revoke` revokes it.
    Create {
        /// The user name (1-64 letters, digits, '.', '_' or '-').
        user: String,
        /// Comma-separated permissions: `reports.read`, `reports.review`, `reports.run`, or
        /// one report's only, such as `report:minimal/reports.read`.
        #[arg(long, value_delimiter = ',', required = true)]
        permissions: Vec<String>,
    },
}

/// API key management.
#[derive(Debug, Clone, Subcommand)]
pub enum KeysCommand {
    /// Creates a key and prints its secret alone on the last line (shown only once).
    Create {
        /// The key id (1-64 letters, digits, '.', '_' or '-').
        id: String,
        /// Comma-separated permissions, e.g. `workflows.read,workflows.run` (or `admin`); a
        /// report permission may be given for one report: `report:minimal/reports.read`.
        #[arg(long, value_delimiter = ',', required = true)]
        permissions: Vec<String>,
        /// The secret to use (24 characters or more); a random 256-bit one is generated when
        /// absent.
        #[arg(long)]
        secret: Option<String>,
        /// Accept signatures over `date` alone, with no request target and no body digest, as
        /// Orchestra's client sends them. Weaker: such a signature does not bind the method, path
        /// or body, so within the clock-skew window a captured signature could be replayed on
        /// another request with the same Date. Baton refuses the exact same request twice (method,
        /// path, body hash and signature), which is all this scheme allows.
        #[arg(long)]
        allow_date_only: bool,
    },
    /// Lists keys (never their secrets).
    List,
    /// Revokes a key; requests signed with it are refused from now on.
    Revoke {
        /// The key id.
        id: String,
    },
}

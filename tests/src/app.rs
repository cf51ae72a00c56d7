//! One deployment per test: its own `redis-server`, key prefix and temporary directory, the
//! real `baton-api` on a port the system picks (read back from its address file), optional
//! workers and scheduler, and signed clients.
//!
//! ```no_run
//! # async fn demo() {
//! use baton_tests::TestApp;
//! let app = TestApp::builder()
//!     .workers(2)
//!     .scheduler(true)
//!     .definitions("example.ONE:\n  tasks: [A]\nexecutors:\n  A: {type: command, argv: [\"true\"]}\n")
//!     .env("BATON_SIGNATURE_SKEW_SECS", "60")
//!     .spawn()
//!     .await;
//! let admin = app.admin().await;
//! let answer = admin.get("/api/definitions").await;
//! assert_eq!(answer.status, 200, "{answer:?}");
//! # }
//! ```
//!
//! Only `baton-api` (and its key commands) gets the master key: workers and the scheduler
//! refuse to start with it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::auth::signing::sign::Signer;
use common::config::{RedisTlsOptions, StoreOptions};
use serde_json::Value;
use tempfile::TempDir;
use tokio::sync::OnceCell;

use crate::process::BatonProcess;
use crate::redis_deployment::{RedisDeployment, Topology};
use crate::redis_server::RedisServer;
use crate::signed_http::{Answer, send_signed, wait_for_health};
use crate::unique_prefix;

/// The master key every [`TestApp`] gives `baton-api` unless the builder sets another: a
/// passphrase (24 characters or more, stretched with Argon2id).
pub const MASTER_KEY: &str = "test-master-key-0123456789";
/// The id of the key [`TestApp::admin`] creates.
pub const ADMIN_KEY_ID: &str = "admin";
/// How long `baton-api` may take to write its address file and answer `/healthz`.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a command (keys, tokens, a bundle run) may run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// Settings of a [`TestApp`], built with [`TestApp::builder`]. Environment given later wins
/// over earlier and over the defaults.
#[derive(Debug, Clone)]
pub struct TestAppBuilder {
    /// Whether to start `baton-api`.
    api: bool,
    /// How many workers to start.
    workers: usize,
    /// Whether to start a scheduler.
    scheduler: bool,
    /// The master key `baton-api` and its commands get.
    master_key: String,
    /// Environment of every process.
    env: Vec<(String, String)>,
    /// Environment of `baton-api` and its commands.
    api_env: Vec<(String, String)>,
    /// Environment of the workers.
    worker_env: Vec<(String, String)>,
    /// Environment of the scheduler.
    scheduler_env: Vec<(String, String)>,
    /// Workflow definitions (YAML), when given.
    definitions: Option<String>,
    /// Project workflow files: name and YAML.
    projects: Vec<(String, String)>,
    /// The Redis deployment; `None` for the one `BATON_TEST_REDIS_TOPOLOGY` names.
    topology: Option<Topology>,
    /// Extra `redis-server` arguments.
    redis_args: Vec<String>,
    /// A password Redis requires of every connection, set once it is up.
    redis_password: Option<String>,
    /// The URL processes and the store reach Redis at, instead of the plain one.
    redis_url: Option<String>,
    /// TLS files processes and the store reach Redis with.
    redis_tls: RedisTlsOptions,
}

impl Default for TestAppBuilder {
    fn default() -> Self {
        Self {
            api: true,
            workers: 0,
            scheduler: false,
            master_key: MASTER_KEY.to_owned(),
            env: Vec::new(),
            api_env: Vec::new(),
            // Fast test timings: short blocking reads and heartbeats.
            worker_env: pairs(&[("BATON_BLOCK_MS", "200"), ("BATON_HEARTBEAT_SECS", "1")]),
            scheduler_env: pairs(&[("BATON_TICK_MS", "50")]),
            definitions: None,
            projects: Vec::new(),
            topology: None,
            redis_args: Vec::new(),
            redis_password: None,
            redis_url: None,
            redis_tls: RedisTlsOptions::default(),
        }
    }
}

impl TestAppBuilder {
    /// Whether to start `baton-api` (default: yes). Without it the app is Redis, the store
    /// and whichever workers and scheduler are asked for.
    pub fn api(mut self, api: bool) -> Self {
        self.api = api;
        self
    }

    /// Starts `count` workers (default: none), with [`worker_env`](Self::worker_env).
    pub fn workers(mut self, count: usize) -> Self {
        self.workers = count;
        self
    }

    /// Whether to start a scheduler (default: no), with [`scheduler_env`](Self::scheduler_env).
    pub fn scheduler(mut self, scheduler: bool) -> Self {
        self.scheduler = scheduler;
        self
    }

    /// Sets `name=value` for every process the app starts (API, workers, scheduler,
    /// commands).
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets `name=value` for `baton-api` and its commands only.
    pub fn api_env(mut self, name: &str, value: &str) -> Self {
        self.api_env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets `name=value` for the workers only (defaults: `BATON_BLOCK_MS=200`,
    /// `BATON_HEARTBEAT_SECS=1`).
    pub fn worker_env(mut self, name: &str, value: &str) -> Self {
        self.worker_env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets `name=value` for the scheduler only (default: `BATON_TICK_MS=50`).
    pub fn scheduler_env(mut self, name: &str, value: &str) -> Self {
        self.scheduler_env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Workflow definitions (Director's YAML), written to `definitions/workflows.yml` in the
    /// app's directory and given to every process as `BATON_DEFINITIONS`.
    pub fn definitions(mut self, yaml: &str) -> Self {
        self.definitions = Some(yaml.to_owned());
        self
    }

    /// A project workflow file `file_name` (Orchestra's YAML), written to `projects/` in the
    /// app's directory, which every process gets as `BATON_PROJECTS`.
    pub fn project(mut self, file_name: &str, yaml: &str) -> Self {
        self.projects.push((file_name.to_owned(), yaml.to_owned()));
        self
    }

    /// The git repository of reports every process gets as `BATON_REPORTS_REPO`.
    pub fn reports_repo(self, path: &Path) -> Self {
        let path = path.display().to_string();
        self.env("BATON_REPORTS_REPO", &path)
    }

    /// The master key `baton-api` gets (default: [`MASTER_KEY`]).
    pub fn master_key(mut self, master_key: &str) -> Self {
        self.master_key = master_key.to_owned();
        self
    }

    /// The Redis deployment to run on, instead of the one `BATON_TEST_REDIS_TOPOLOGY` names.
    pub fn topology(mut self, topology: Topology) -> Self {
        self.topology = Some(topology);
        self
    }

    /// Extra `redis-server` arguments (see [`RedisServer::start_with`]).
    pub fn redis_args(mut self, args: &[&str]) -> Self {
        self.redis_args
            .extend(args.iter().map(|arg| (*arg).to_owned()));
        self
    }

    /// Makes Redis require `password` of every connection (set as `requirepass` once the
    /// server is up); the processes and the store connect with it in their URL.
    pub fn redis_password(mut self, password: &str) -> Self {
        self.redis_password = Some(password.to_owned());
        self
    }

    /// The URL processes and the store reach Redis at (`BATON_REDIS_URL`), instead of
    /// `redis://127.0.0.1:PORT` (with the password, when set): a `rediss://` URL of a TLS port
    /// given in [`redis_args`](Self::redis_args), say.
    pub fn redis_url(mut self, url: &str) -> Self {
        self.redis_url = Some(url.to_owned());
        self
    }

    /// The CA and client certificate files processes (`BATON_REDIS_CA_CERT`, ...) and the
    /// store reach Redis over TLS with.
    pub fn redis_tls(mut self, tls: RedisTlsOptions) -> Self {
        self.redis_tls = tls;
        self
    }

    /// Starts Redis, then the API (waiting until it answers `/healthz`), the scheduler and
    /// the workers.
    ///
    /// Panics, with the process's log, when the API does not come up.
    pub async fn spawn(self) -> TestApp {
        let redis_args: Vec<&str> = self.redis_args.iter().map(String::as_str).collect();
        let topology = self.topology.unwrap_or_else(Topology::from_env);
        let redis = RedisDeployment::start(topology, &redis_args);
        if let Some(password) = &self.redis_password {
            require_password(redis.single(), password).await;
        }
        let redis_url = self
            .redis_url
            .clone()
            .unwrap_or_else(|| match &self.redis_password {
                Some(password) => {
                    format!("redis://:{password}@127.0.0.1:{}", redis.single().port())
                }
                None => redis.url(),
            });
        let dir = tempfile::Builder::new()
            .prefix("baton-app-")
            .tempdir()
            .expect("cannot create the app's temporary directory");
        let prefix = unique_prefix();
        let mut env = vec![
            ("BATON_PREFIX".to_owned(), prefix.clone()),
            ("BATON_REDIS_URL".to_owned(), redis_url.clone()),
            (
                "BATON_ARTEFACTS".to_owned(),
                dir.path().join("artefacts").display().to_string(),
            ),
        ];
        let tls_files = [
            ("BATON_REDIS_CA_CERT", &self.redis_tls.redis_ca_cert),
            ("BATON_REDIS_CLIENT_CERT", &self.redis_tls.redis_client_cert),
            ("BATON_REDIS_CLIENT_KEY", &self.redis_tls.redis_client_key),
        ];
        for (name, file) in tls_files {
            if let Some(file) = file {
                env.push((name.to_owned(), file.display().to_string()));
            }
        }
        if let Some(yaml) = &self.definitions {
            let folder = dir.path().join("definitions");
            std::fs::create_dir_all(&folder).expect("cannot create the definitions folder");
            std::fs::write(folder.join("workflows.yml"), yaml)
                .expect("cannot write the definitions");
            env.push(("BATON_DEFINITIONS".to_owned(), folder.display().to_string()));
        }
        if !self.projects.is_empty() {
            let folder = dir.path().join("projects");
            std::fs::create_dir_all(&folder).expect("cannot create the projects folder");
            for (name, yaml) in &self.projects {
                std::fs::write(folder.join(name), yaml).expect("cannot write a project workflow");
            }
            env.push(("BATON_PROJECTS".to_owned(), folder.display().to_string()));
        }
        env.extend(self.env.iter().cloned());
        let mut app = TestApp {
            prefix,
            redis_url,
            redis,
            env,
            settings: self,
            base: String::new(),
            address: None,
            http: reqwest::Client::new(),
            api: None,
            scheduler: None,
            workers: Vec::new(),
            admin: OnceCell::new(),
            dir,
        };
        if app.settings.api {
            app.start_api(&[]).await;
        }
        if app.settings.scheduler {
            let extra = app.settings.scheduler_env.clone();
            app.scheduler = Some(app.spawn_process("baton-scheduler", &[], &refs(&extra)));
        }
        for _ in 0..app.settings.workers {
            app.add_worker(&[]);
        }
        app
    }
}

/// A running deployment for one test; every process and the Redis server are killed when it
/// is dropped (with their logs' tails printed when the test is panicking).
#[derive(Debug)]
pub struct TestApp {
    /// What the app was built with (environments of later processes).
    settings: TestAppBuilder,
    // Processes are declared before Redis so that they are dropped first.
    /// The API, when one runs.
    api: Option<BatonProcess>,
    /// The scheduler, when one runs.
    scheduler: Option<BatonProcess>,
    /// The workers, in the order they were started.
    workers: Vec<BatonProcess>,
    /// The app's own Redis.
    redis: RedisDeployment,
    /// The key prefix of every process.
    prefix: String,
    /// The URL processes and the store reach Redis at.
    redis_url: String,
    /// Environment of every process (Redis, prefix, folders, the builder's `env`).
    env: Vec<(String, String)>,
    /// The API's base URL; empty without an API.
    base: String,
    /// The address the API listens on, when one runs.
    address: Option<SocketAddr>,
    /// The HTTP client the app's clients share.
    http: reqwest::Client,
    /// The admin key's signer, once created.
    admin: OnceCell<Signer>,
    /// Definitions, projects, artefacts and the API's address file.
    dir: TempDir,
}

/// A [`TestApp`] with the default settings: Redis and the API, no workers, no scheduler.
pub async fn spawn_app() -> TestApp {
    TestApp::builder().spawn().await
}

impl TestApp {
    /// The settings of a new app, to change and [`spawn`](TestAppBuilder::spawn).
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder::default()
    }

    /// The app's Redis server. Panics when the app runs on a cluster or Sentinel: use
    /// [`redis_connection`](Self::redis_connection) in tests meant for any deployment.
    pub fn redis(&self) -> &RedisServer {
        self.redis.single()
    }

    /// The app's Redis server, to stop or restart it (panics as [`redis`](Self::redis)).
    pub fn redis_mut(&mut self) -> &mut RedisServer {
        self.redis.single_mut()
    }

    /// The app's Redis deployment (one server, a cluster or Sentinel).
    pub fn redis_deployment(&mut self) -> &mut RedisDeployment {
        &mut self.redis
    }

    /// A connection to the app's Redis, whatever its deployment, routed as Baton's own.
    pub async fn redis_connection(&self) -> common::store::RedisConnection {
        self.redis.connection().await
    }

    /// The key prefix every process of the app uses.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The URL the processes reach Redis at (`BATON_REDIS_URL`), with the password if any.
    pub fn redis_url(&self) -> &str {
        &self.redis_url
    }

    /// The store the processes share (keeping finished runs for an hour).
    pub async fn store(&self) -> common::store::Store {
        common::store::Store::connect(&StoreOptions {
            redis_url: self.redis_url.clone(),
            prefix: self.prefix.clone(),
            retention_secs: 3600,
            shards: common::keys::DEFAULT_SHARDS,
            list_cache_runs: common::config::DEFAULT_LIST_CACHE_RUNS,
            tls: self.settings.redis_tls.clone(),
            replication: Default::default(),
        })
        .await
        .expect("the store connects to the app's Redis")
    }

    /// The app's temporary directory (definitions, projects, artefacts), removed on drop.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The directory of report artefacts the API and workers share.
    pub fn artefacts(&self) -> PathBuf {
        self.dir.path().join("artefacts")
    }

    /// The API's base URL, such as `http://127.0.0.1:43121`.
    ///
    /// Panics when the app runs no API.
    pub fn base(&self) -> &str {
        assert!(!self.base.is_empty(), "this app runs no baton-api");
        &self.base
    }

    /// The full URL of `path` on the API.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    /// The address the API listens on.
    ///
    /// Panics when the app runs no API.
    pub fn address(&self) -> SocketAddr {
        self.address.expect("this app runs no baton-api")
    }

    /// The HTTP client the app's clients share.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The environment a process of the app gets: Redis, prefix, artefacts, definitions and
    /// projects, the builder's `env`, and for `baton-api` the master key and `api_env`.
    pub fn env_of(&self, binary: &str) -> Vec<(String, String)> {
        let mut env = self.env.clone();
        if binary == "baton-api" {
            env.push((
                "BATON_MASTER_KEY".to_owned(),
                self.settings.master_key.clone(),
            ));
            env.extend(self.settings.api_env.iter().cloned());
        }
        env
    }

    /// Spawns the workspace binary `binary` with `args` and the app's environment for it
    /// ([`env_of`](Self::env_of)) plus `extra`, which wins.
    pub fn spawn_process(
        &self,
        binary: &str,
        args: &[&str],
        extra: &[(&str, &str)],
    ) -> BatonProcess {
        let mut env = self.env_of(binary);
        env.extend(pairs(extra));
        BatonProcess::spawn(binary, args, &refs(&env))
    }

    /// The API process. Panics when the app runs no API.
    pub fn api_process(&self) -> &BatonProcess {
        self.api.as_ref().expect("this app runs no baton-api")
    }

    /// The API process, to signal or kill. Panics when the app runs no API.
    pub fn api_process_mut(&mut self) -> &mut BatonProcess {
        self.api.as_mut().expect("this app runs no baton-api")
    }

    /// Kills the API (if running) and starts a new one with `extra` environment on the same
    /// Redis and prefix, on a port the system picks; waits until it answers `/healthz`.
    ///
    /// Panics, with its log, when it does not come up.
    pub async fn start_api(&mut self, extra: &[(&str, &str)]) {
        if let Some(mut api) = self.api.take() {
            api.kill_9();
        }
        let address_file = self.dir.path().join("api.address");
        // A previous API's address must not be read as this one's.
        let _ = std::fs::remove_file(&address_file);
        let file = address_file.display().to_string();
        let mut env = vec![
            ("BATON_LISTEN", "127.0.0.1:0"),
            ("BATON_ADDRESS_FILE", file.as_str()),
        ];
        env.extend_from_slice(extra);
        let mut api = self.spawn_process("baton-api", &[], &env);
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        let address: SocketAddr = loop {
            if let Some(address) = std::fs::read_to_string(&address_file)
                .ok()
                .and_then(|text| text.trim().parse().ok())
            {
                break address;
            }
            if !api.is_running() || tokio::time::Instant::now() >= deadline {
                panic!(
                    "baton-api did not start (no address in {} within {START_TIMEOUT:?}); its log:\n{}",
                    address_file.display(),
                    api.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        self.address = Some(address);
        self.base = format!("http://{address}");
        self.api = Some(api);
        wait_for_health(&self.http, &self.base).await;
    }

    /// The scheduler, when one runs.
    pub fn scheduler(&self) -> Option<&BatonProcess> {
        self.scheduler.as_ref()
    }

    /// The scheduler, when one runs, to signal or kill.
    pub fn scheduler_mut(&mut self) -> Option<&mut BatonProcess> {
        self.scheduler.as_mut()
    }

    /// Starts the scheduler (replacing a running one, which is killed) with the builder's
    /// scheduler environment plus `extra`.
    pub fn start_scheduler(&mut self, extra: &[(&str, &str)]) -> &mut BatonProcess {
        if let Some(mut scheduler) = self.scheduler.take() {
            scheduler.kill_9();
        }
        let mut env = self.settings.scheduler_env.clone();
        env.extend(pairs(extra));
        let scheduler = self.spawn_process("baton-scheduler", &[], &refs(&env));
        self.scheduler.insert(scheduler)
    }

    /// The workers, in the order they were started.
    pub fn workers(&self) -> &[BatonProcess] {
        &self.workers
    }

    /// The workers, in the order they were started, to signal or kill.
    pub fn workers_mut(&mut self) -> &mut Vec<BatonProcess> {
        &mut self.workers
    }

    /// Starts one more worker with the builder's worker environment plus `extra`.
    pub fn add_worker(&mut self, extra: &[(&str, &str)]) -> &mut BatonProcess {
        let mut env = self.settings.worker_env.clone();
        env.extend(pairs(extra));
        let worker = self.spawn_process("baton-worker", &[], &refs(&env));
        self.workers.push(worker);
        self.workers.last_mut().expect("a worker was just added")
    }

    /// Runs the workspace binary `binary` with `args` (a key or token command, say) to its
    /// end; returns whether it succeeded and its output.
    ///
    /// Panics when it runs longer than 60 s.
    pub async fn cli(&self, binary: &str, args: &[&str]) -> (bool, String) {
        self.cli_with(binary, args, &[]).await
    }

    /// [`cli`](Self::cli) with `extra` environment.
    pub async fn cli_with(
        &self,
        binary: &str,
        args: &[&str],
        extra: &[(&str, &str)],
    ) -> (bool, String) {
        let mut process = self.spawn_process(binary, args, extra);
        let status = process
            .wait_exit_async(COMMAND_TIMEOUT)
            .await
            .unwrap_or_else(|| panic!("`{binary} {args:?}` did not end: {}", process.log()));
        (status.success(), process.log())
    }

    /// Creates the API key `id` with comma-separated `permissions` (and extra `keys create`
    /// arguments) and returns its secret.
    ///
    /// Panics, with the command's output, when it fails.
    pub async fn create_key(&self, id: &str, permissions: &str, extra: &[&str]) -> String {
        let mut args = vec!["keys", "create", id, "--permissions", permissions];
        args.extend_from_slice(extra);
        let (ok, output) = self.cli("baton-api", &args).await;
        assert!(ok, "creating key {id} failed: {output}");
        last_line(&output)
    }

    /// Creates the API key `id` with `permissions` and returns a strict signer for it.
    pub async fn key(&self, id: &str, permissions: &str) -> Signer {
        let secret = self.create_key(id, permissions, &[]).await;
        Signer::new(id, secret.into_bytes())
    }

    /// Creates the user `user` with `permissions` and returns its token (`USER:SECRET`), to
    /// exchange at `POST /api/v1/login/`.
    pub async fn create_token(&self, user: &str, permissions: &str) -> String {
        let (ok, output) = self
            .cli(
                "baton-api",
                &["tokens", "create", user, "--permissions", permissions],
            )
            .await;
        assert!(ok, "creating the token of {user} failed: {output}");
        last_line(&output)
    }

    /// The signer of the admin key [`ADMIN_KEY_ID`] (permission `admin`), created on first use.
    pub async fn admin_signer(&self) -> &Signer {
        self.admin
            .get_or_init(|| async {
                let secret = self.create_key(ADMIN_KEY_ID, "admin", &[]).await;
                Signer::new(ADMIN_KEY_ID, secret.into_bytes())
            })
            .await
    }

    /// The admin key's secret (see [`admin_signer`](Self::admin_signer)).
    pub async fn admin_secret(&self) -> String {
        String::from_utf8_lossy(&self.admin_signer().await.secret).into_owned()
    }

    /// A client signing as the admin key (see [`admin_signer`](Self::admin_signer)).
    pub async fn admin(&self) -> Client {
        let signer = self.admin_signer().await.clone();
        self.client(signer)
    }

    /// A client of the API signing with `signer`, with a unique signed `X-Request-Id` on
    /// every request (see [`Client`]).
    pub fn client(&self, signer: Signer) -> Client {
        Client::new(self.http.clone(), self.base(), Some(signer))
    }

    /// A client of the API that signs nothing.
    pub fn anonymous(&self) -> Client {
        Client::new(self.http.clone(), self.base(), None)
    }
}

/// A client of a running API. With a strict signer, every request carries a fresh
/// `X-Request-Id` that the signature covers, so the same change sent twice within a second is
/// two requests, not a replay (the API refuses a signed change it has already seen). A
/// date-only signer ([`Signer::date_only`]) is used as it is.
#[derive(Debug, Clone)]
pub struct Client {
    /// The HTTP client.
    http: reqwest::Client,
    /// The API's base URL.
    base: String,
    /// The signer, when requests are signed.
    signer: Option<Signer>,
    /// Whether each request gets a signed, unique `X-Request-Id`.
    request_ids: bool,
}

impl Client {
    /// A client of the API at `base` (such as `http://127.0.0.1:43121`), signing with
    /// `signer` when given.
    pub fn new(http: reqwest::Client, base: &str, signer: Option<Signer>) -> Self {
        Self {
            http,
            base: base.to_owned(),
            signer,
            request_ids: true,
        }
    }

    /// The same client without the unique `X-Request-Id`: requests are signed exactly as the
    /// signer says, for tests of replay refusal.
    pub fn without_request_id(mut self) -> Self {
        self.request_ids = false;
        self
    }

    /// The signer, when the client signs.
    pub fn signer(&self) -> Option<&Signer> {
        self.signer.as_ref()
    }

    /// The API's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Answer {
        self.send("GET", path, None).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.send("POST", path, Some(body)).await
    }

    /// `PUT path` with a JSON body.
    pub async fn put(&self, path: &str, body: &Value) -> Answer {
        self.send("PUT", path, Some(body)).await
    }

    /// `PATCH path` with a JSON body.
    pub async fn patch(&self, path: &str, body: &Value) -> Answer {
        self.send("PATCH", path, Some(body)).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> Answer {
        self.send("DELETE", path, None).await
    }

    /// `method path` with an optional JSON body.
    pub async fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Answer {
        let bytes = body
            .map(|body| serde_json::to_vec(body).expect("JSON serializes"))
            .unwrap_or_default();
        self.send_raw(method, path, &bytes, &[]).await
    }

    /// `method path` with `body` as it is (JSON content type when not empty) and extra headers.
    pub async fn send_raw(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut signer = self.signer.clone();
        let request_id = uuid::Uuid::new_v4().simple().to_string();
        let mut headers = headers.to_vec();
        if let Some(signer) = signer
            .as_mut()
            .filter(|signer| self.request_ids && !signer.headers.is_empty())
        {
            signer.headers.push("x-request-id".to_owned());
            headers.push(("x-request-id", &request_id));
        }
        send_signed(
            &self.http,
            &self.base,
            signer.as_ref(),
            method,
            path,
            body,
            &headers,
        )
        .await
    }
}

/// Makes `server` require `password` of new connections, as `--requirepass` does (set at run
/// time, so that the server's readiness probe could still reach it).
async fn require_password(server: &RedisServer, password: &str) {
    let mut connection = server.connection().await;
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("requirepass")
        .arg(password)
        .query_async::<()>(&mut connection)
        .await
        .expect("Redis takes the password");
}

/// The last line of a command's output, trimmed: where the key and token commands print the
/// secret.
fn last_line(output: &str) -> String {
    output.lines().last().unwrap_or_default().trim().to_owned()
}

/// Owned copies of `(name, value)` pairs.
fn pairs(env: &[(&str, &str)]) -> Vec<(String, String)> {
    env.iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

/// Borrowed views of owned `(name, value)` pairs.
fn refs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DEFINITIONS: &str =
        "example.ONE:\n  tasks: [A]\nexecutors:\n  A: {type: command, argv: [\"true\"]}\n";

    #[tokio::test]
    async fn the_api_listens_on_the_port_it_reports_and_links_name_it() {
        let app = TestApp::builder().spawn().await;
        assert_ne!(app.address().port(), 0);
        assert_eq!(app.base(), format!("http://{}", app.address()));
        let health = app.anonymous().get("/healthz").await;
        assert_eq!(health.status, 200, "{health:?}");
        assert_eq!(health.body, json!({"status": "ok"}));
        assert!(health.content_type().starts_with("application/json"));
        // Absolute links name the port the system picked, not the port 0 asked for.
        let reader = app.client(app.key("reader", "releases.read").await);
        let events = reader.get("/events?limit=1&offset=1").await;
        assert_eq!(events.status, 200, "{events:?}");
        assert!(
            events.body.to_string().contains(&app.url("/events?")),
            "{events:?}"
        );
    }

    #[tokio::test]
    async fn the_client_repeats_a_change_and_a_change_signed_as_it_is_is_refused_as_a_replay() {
        let app = TestApp::builder().definitions(DEFINITIONS).spawn().await;
        let admin = app.admin().await;
        let start = json!({"project": "example", "name": "ONE", "payload": {}});
        for _ in 0..2 {
            let started = admin.post("/api/workflows", &start).await;
            assert_eq!(started.status, 201, "{started:?}");
        }
        // Without request ids, the same change signed within the same second is a replay (two
        // tries, in case the first pair straddles a second).
        let plain = admin.clone().without_request_id();
        let mut refused = None;
        // (A pair that straddles a second may end with the next pair's first request in the
        // same second as the last: that one is the replay then.)
        for _ in 0..3 {
            let first = plain.post("/api/workflows", &start).await;
            if first.status == 401 {
                refused = Some(first);
                break;
            }
            assert_eq!(first.status, 201, "{first:?}");
            let second = plain.post("/api/workflows", &start).await;
            if second.status == 401 {
                refused = Some(second);
                break;
            }
        }
        let refused = refused.expect("a repeated signed change is refused");
        assert!(refused.body.to_string().contains("replayed"), "{refused:?}");
    }

    #[tokio::test]
    async fn a_restarted_api_gets_a_new_address_and_keeps_the_keys() {
        let mut app = TestApp::builder().workers(1).scheduler(true).spawn().await;
        let admin = app.admin_signer().await.clone();
        let before = app.address();
        app.start_api(&[]).await;
        assert_ne!(app.address(), before);
        let answer = app.client(admin).get("/api/definitions").await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert!(app.workers_mut()[0].is_running());
        assert!(app.scheduler_mut().expect("a scheduler").is_running());
        assert_eq!(app.admin_secret().await.len(), 43);
    }
}

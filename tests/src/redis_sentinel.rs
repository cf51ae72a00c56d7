//! A real, throw-away Redis Sentinel deployment per test.
//!
//! [`RedisSentinel::start`] runs a master and one replica (each a [`RedisServer`] on a free
//! loopback port) and three sentinels watching them under the name [`MASTER_NAME`], each
//! `redis-server FILE --sentinel` with its own writable config file in its own temporary
//! directory, and waits until the sentinels know the replica and each other, so that a
//! failover can happen. A test can kill the master ([`RedisSentinel::kill_master`]) and wait
//! until the sentinels promote the replica ([`RedisSentinel::wait_for_failover`]). Every
//! process is killed (SIGKILL) on drop.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::redis_cluster::{info_field, log_tail, query, redis_binary, spare_port};
use crate::redis_server::RedisServer;

/// The name the sentinels monitor the master under.
pub const MASTER_NAME: &str = "baton";

/// How many sentinels watch the master; two of them must agree that it is down.
const SENTINELS: usize = 3;
/// How many ports one sentinel tries before giving up.
const START_ATTEMPTS: usize = 10;
/// How long one sentinel start attempt waits for `PING` to succeed.
const SENTINEL_START_TIMEOUT: Duration = Duration::from_secs(5);
/// How long [`RedisSentinel::start`] waits for the replica and the sentinels to be ready.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How often the waits poll.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// How many lines of each process's log a panic message shows.
const LOG_LINES: usize = 40;

/// A running master, its replica and three sentinels, private to one test; every process
/// is killed (SIGKILL) on drop.
///
/// ```no_run
/// # fn demo() -> redis::RedisResult<()> {
/// use std::time::Duration;
/// let mut deployment = baton_tests::RedisSentinel::start();
/// let mut con = redis::Client::open(deployment.master_url())?.get_connection()?;
/// let () = redis::cmd("SET").arg("k").arg("v").query(&mut con)?;
/// let old = deployment.kill_master();
/// let new = deployment.wait_for_failover(old, Duration::from_secs(15));
/// assert_ne!(old, new);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct RedisSentinel {
    /// Declared first so that the sentinels go before the servers on drop.
    sentinels: Vec<SentinelProcess>,
    /// The initial master, then the initial replica.
    servers: Vec<RedisServer>,
}

impl RedisSentinel {
    /// Starts a master, a replica of it and three sentinels on free loopback ports, and
    /// waits until the replica is in sync and every sentinel names the master, knows the
    /// replica and the two other sentinels.
    ///
    /// The sentinels consider the master down after 1 s without an answer and need two
    /// votes, so a killed master is replaced within a few seconds. Panics (with the
    /// processes' logs) when something does not come up.
    pub fn start() -> Self {
        // A replica's first sync starts at once instead of after the default 5 s.
        let no_delay = ["--repl-diskless-sync-delay", "0"];
        let master = RedisServer::start_with(&no_delay);
        let master_port = master.port().to_string();
        let replica = RedisServer::start_with(
            &[&no_delay[..], &["--replicaof", "127.0.0.1", &master_port]].concat(),
        );
        let mut deployment = RedisSentinel {
            sentinels: Vec::new(),
            servers: vec![master, replica],
        };
        deployment.wait_replica_in_sync();
        let master_port = deployment.servers[0].port();
        for _ in 0..SENTINELS {
            match SentinelProcess::start(master_port) {
                Ok(sentinel) => deployment.sentinels.push(sentinel),
                Err(e) => panic!("a sentinel did not start: {e}\n{}", deployment.logs()),
            }
        }
        deployment.wait_sentinels_ready(master_port);
        deployment
    }

    /// The URL the application connects with:
    /// `redis+sentinel://127.0.0.1:S1,127.0.0.1:S2,127.0.0.1:S3/baton`.
    pub fn url(&self) -> String {
        let sentinels: Vec<String> = self
            .sentinels
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port))
            .collect();
        format!("redis+sentinel://{}/{MASTER_NAME}", sentinels.join(","))
    }

    /// `redis://127.0.0.1:PORT` for each sentinel: the addresses for a
    /// `redis::sentinel::Sentinel` or `SentinelClient`.
    pub fn sentinel_urls(&self) -> Vec<String> {
        self.sentinels
            .iter()
            .map(|s| format!("redis://127.0.0.1:{}", s.port))
            .collect()
    }

    /// The port of the current master, as the first sentinel that answers names it
    /// (`SENTINEL get-master-addr-by-name baton`).
    ///
    /// Panics when no sentinel answers.
    pub fn master_port(&self) -> u16 {
        let mut errors = Vec::new();
        for sentinel in &self.sentinels {
            match master_addr(sentinel.port) {
                Ok(port) => return port,
                Err(e) => errors.push(format!("sentinel {}: {e}", sentinel.port)),
            }
        }
        panic!(
            "no sentinel names the master:\n{}\n{}",
            errors.join("\n"),
            self.logs()
        );
    }

    /// `redis://127.0.0.1:PORT` of the current master (see [`master_port`](Self::master_port)).
    pub fn master_url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.master_port())
    }

    /// Kills the current master's process with SIGKILL (a crash), keeps it stopped and
    /// returns its port.
    ///
    /// Panics when the sentinels name a master that is not one of this deployment's
    /// servers.
    pub fn kill_master(&mut self) -> u16 {
        let port = self.master_port();
        let server = self
            .servers
            .iter_mut()
            .find(|s| s.port() == port)
            .unwrap_or_else(|| panic!("the sentinels name an unknown master on port {port}"));
        server.stop();
        port
    }

    /// Waits until every sentinel names a master other than `old_port` and that master
    /// answers `ROLE` as a master; returns its port.
    ///
    /// Panics (with the sentinels' answers and the logs) when `timeout` passes first.
    pub fn wait_for_failover(&self, old_port: u16, timeout: Duration) -> u16 {
        let deadline = Instant::now() + timeout;
        loop {
            let answers: Vec<Result<u16, String>> =
                self.sentinels.iter().map(|s| master_addr(s.port)).collect();
            let status = match answers.first() {
                Some(Ok(port))
                    if *port != old_port && answers.iter().all(|a| a.as_ref() == Ok(port)) =>
                {
                    match role(*port) {
                        Ok(role) if role == "master" => return *port,
                        Ok(role) => format!("the new master {port} has role {role:?}"),
                        Err(e) => format!("the new master {port} does not answer ROLE: {e}"),
                    }
                }
                _ => format!("the sentinels name {answers:?}"),
            };
            if Instant::now() >= deadline {
                panic!(
                    "the sentinels did not fail over from {old_port} within {timeout:?}: \
                     {status}\n{}",
                    self.logs()
                );
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Waits until the replica reports `master_link_status:up`.
    fn wait_replica_in_sync(&self) {
        let replica = self.servers[1].port();
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let status = query::<String>(replica, redis::cmd("INFO").arg("replication"))
                .map(|info| info_field(&info, "master_link_status").map(str::to_owned));
            if let Ok(Some(link)) = &status
                && link == "up"
            {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "the replica {replica} did not sync with its master within \
                     {READY_TIMEOUT:?} (master_link_status: {status:?})\n{}",
                    self.logs()
                );
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Waits until every sentinel names `master_port`, knows the replica and both other
    /// sentinels.
    fn wait_sentinels_ready(&self, master_port: u16) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let problems: Vec<String> = self
                .sentinels
                .iter()
                .filter_map(|s| sentinel_ready(s.port, master_port).err())
                .map(|e| e.to_string())
                .collect();
            if problems.is_empty() {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "the sentinels were not ready within {READY_TIMEOUT:?}:\n{}\n{}",
                    problems.join("\n"),
                    self.logs()
                );
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// The last lines of every process's log, for panic messages.
    fn logs(&self) -> String {
        let servers = self.servers.iter().map(|s| {
            let state = if s.pid().is_some() { "" } else { ", killed" };
            format!(
                "--- redis-server {}{state} log ---\n{}",
                s.port(),
                log_tail(&s.log(), LOG_LINES)
            )
        });
        let sentinels = self.sentinels.iter().map(|s| {
            format!(
                "--- sentinel {} log ---\n{}",
                s.port,
                log_tail(&s.log(), LOG_LINES)
            )
        });
        servers.chain(sentinels).collect::<Vec<_>>().join("\n")
    }
}

/// `Ok` when the sentinel on `port` names `master_port` as the master, knows one replica
/// and two other sentinels; else what is missing.
fn sentinel_ready(port: u16, master_port: u16) -> Result<(), String> {
    let master = master_addr(port)?;
    if master != master_port {
        return Err(format!("sentinel {port} names master {master}"));
    }
    let replicas: Vec<Vec<String>> = query(
        port,
        redis::cmd("SENTINEL").arg("replicas").arg(MASTER_NAME),
    )?;
    if replicas.len() != 1 {
        return Err(format!("sentinel {port} knows replicas {replicas:?}"));
    }
    let sentinels: Vec<Vec<String>> = query(
        port,
        redis::cmd("SENTINEL").arg("sentinels").arg(MASTER_NAME),
    )?;
    if sentinels.len() != SENTINELS - 1 {
        return Err(format!(
            "sentinel {port} knows {} other sentinels",
            sentinels.len()
        ));
    }
    Ok(())
}

/// The master's port according to the sentinel on `port`.
fn master_addr(port: u16) -> Result<u16, String> {
    let addr: Option<(String, u16)> = query(
        port,
        redis::cmd("SENTINEL")
            .arg("get-master-addr-by-name")
            .arg(MASTER_NAME),
    )?;
    addr.map(|(_, port)| port)
        .ok_or_else(|| format!("sentinel {port} does not know {MASTER_NAME:?}"))
}

/// The first element of `ROLE` on the server on `port`: `master` or `slave`.
fn role(port: u16) -> Result<String, String> {
    let role: Vec<redis::Value> = query(port, &redis::cmd("ROLE"))?;
    let first = role.first().ok_or("ROLE answered nothing")?;
    redis::from_redis_value_ref(first).map_err(|e| format!("ROLE answered {role:?}: {e}"))
}

/// One running sentinel with its config file and log in its own temporary directory,
/// killed (SIGKILL) on drop.
#[derive(Debug)]
struct SentinelProcess {
    child: Child,
    port: u16,
    dir: TempDir,
}

impl SentinelProcess {
    /// Starts a sentinel monitoring the master on `master_port`, trying several free ports.
    fn start(master_port: u16) -> Result<Self, String> {
        let binary = redis_binary("redis-server");
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            let dir = tempfile::Builder::new()
                .prefix("baton-sentinel-")
                .tempdir()
                .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
            let port = spare_port();
            match Self::launch(&binary, dir.path(), port, master_port) {
                Ok(child) => return Ok(SentinelProcess { child, port, dir }),
                Err(e) => failures.push(format!("port {port}: {e}")),
            }
        }
        Err(format!(
            "{} --sentinel did not start after {START_ATTEMPTS} attempts:\n{}",
            binary.display(),
            failures.join("\n")
        ))
    }

    /// Writes the config file, spawns the sentinel and waits until it answers; on failure,
    /// the child is killed and the error (with the sentinel's log) returned.
    fn launch(binary: &Path, dir: &Path, port: u16, master_port: u16) -> Result<Child, String> {
        let config = dir.join("sentinel.conf");
        std::fs::write(
            &config,
            format!(
                "port {port}\n\
                 bind 127.0.0.1\n\
                 daemonize no\n\
                 dir {dir}\n\
                 sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} 2\n\
                 sentinel down-after-milliseconds {MASTER_NAME} 1000\n\
                 sentinel failover-timeout {MASTER_NAME} 5000\n\
                 sentinel parallel-syncs {MASTER_NAME} 1\n",
                dir = dir.display()
            ),
        )
        .map_err(|e| format!("cannot write {}: {e}", config.display()))?;
        let log_path = log_path(dir);
        let log = File::create(&log_path).map_err(|e| format!("cannot create the log: {e}"))?;
        let log_err = log
            .try_clone()
            .map_err(|e| format!("cannot clone the log file: {e}"))?;
        let mut child = Command::new(binary)
            .arg(&config)
            .arg("--sentinel")
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("cannot spawn {}: {e}", binary.display()))?;
        match wait_ready(&mut child, port) {
            Ok(()) => Ok(child),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                Err(format!("{e}\n--- sentinel log ---\n{log}"))
            }
        }
    }

    /// The sentinel's own log (its stdout and stderr).
    fn log(&self) -> String {
        std::fs::read_to_string(log_path(self.dir.path())).unwrap_or_default()
    }
}

impl Drop for SentinelProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn log_path(dir: &Path) -> PathBuf {
    dir.join("sentinel.log")
}

/// Waits until the sentinel spawned as `child` answers on `port`, checking the answering
/// process's id so that another server that grabbed the port is not mistaken for ours.
fn wait_ready(child: &mut Child, port: u16) -> Result<(), String> {
    let deadline = Instant::now() + SENTINEL_START_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Err(format!("the sentinel exited early: {status}"));
        }
        let pid = query::<String>(port, redis::cmd("INFO").arg("server")).and_then(|info| {
            info_field(&info, "process_id")
                .and_then(|pid| pid.parse::<u32>().ok())
                .ok_or_else(|| "INFO server has no process_id".to_owned())
        });
        match pid {
            Ok(pid) if pid == child.id() => return Ok(()),
            Ok(pid) => {
                return Err(format!(
                    "port taken by another process (pid {pid}, ours is {})",
                    child.id()
                ));
            }
            Err(e) if Instant::now() >= deadline => {
                return Err(format!(
                    "no answer within {SENTINEL_START_TIMEOUT:?} (last error: {e})"
                ));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

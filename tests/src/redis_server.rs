//! A real, throw-away `redis-server` per test.
//!
//! [`RedisServer::start`] runs `redis-server` on a free loopback port (never 6379) with its
//! working directory in a fresh temporary directory, waits until it answers `PING`, and
//! kills it (SIGKILL) when dropped. The binary comes from `BATON_TEST_REDIS_SERVER` or the
//! `PATH`; `scripts/test` installs it when missing.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How many ports [`RedisServer::start_with`] tries before giving up.
const START_ATTEMPTS: usize = 10;
/// How long one start attempt waits for `PING` to succeed.
const READY_TIMEOUT: Duration = Duration::from_secs(5);
/// Ports a test must never use: the default Redis port and `scripts/run`'s default port.
const RESERVED_PORTS: [u16; 2] = [6379, 6390];

/// Ports this test process already handed to a server, so that two servers started in
/// parallel never race for the same port.
static USED_PORTS: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A running `redis-server`, private to one test, killed (SIGKILL) and reaped on drop.
///
/// ```no_run
/// # async fn demo() -> redis::RedisResult<()> {
/// let redis = baton_tests::RedisServer::start();
/// let client = redis::Client::open(redis.url())?;
/// let mut con = client.get_multiplexed_async_connection().await?;
/// let pong: String = redis::cmd("PING").query_async(&mut con).await?;
/// assert_eq!(pong, "PONG");
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    binary: PathBuf,
    extra_args: Vec<String>,
    dir: TempDir,
}

impl RedisServer {
    /// Starts a server with the default settings: no RDB snapshots, no AOF.
    ///
    /// Panics when `redis-server` is missing or does not come up on any of several ports.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a server with `extra_args` appended to the defaults, e.g.
    /// `RedisServer::start_with(&["--appendonly", "yes"])`; later arguments override
    /// earlier ones.
    ///
    /// Panics when `redis-server` is missing or does not come up on any of several ports.
    pub fn start_with(extra_args: &[&str]) -> Self {
        let binary = redis_server_binary();
        let dir = tempfile::Builder::new()
            .prefix("baton-redis-")
            .tempdir()
            .expect("cannot create a temporary directory for redis-server");
        let mut server = RedisServer {
            child: None,
            port: 0,
            binary,
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
            dir,
        };
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            let port = match free_port() {
                Ok(port) => port,
                Err(e) => {
                    failures.push(format!("cannot find a free port: {e}"));
                    continue;
                }
            };
            server.port = port;
            match server.launch() {
                Ok(()) => return server,
                Err(e) => failures.push(format!("port {port}: {e}")),
            }
        }
        panic!(
            "redis-server ({}) did not start after {START_ATTEMPTS} attempts:\n{}",
            server.binary.display(),
            failures.join("\n")
        );
    }

    /// The URL clients connect with: `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The TCP port the server listens on (loopback only).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A `redis` client for [`url`](Self::url).
    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.url()).expect("the server URL is valid")
    }

    /// A multiplexed connection to the server.
    pub async fn connection(&self) -> redis::aio::MultiplexedConnection {
        self.client()
            .get_multiplexed_async_connection()
            .await
            .expect("connects to the test redis-server")
    }

    /// A store on this server under key `prefix`, keeping finished runs for an hour.
    pub async fn store(&self, prefix: &str) -> common::store::Store {
        common::store::Store::connect(&common::config::StoreOptions {
            redis_url: self.url(),
            prefix: prefix.to_owned(),
            retention_secs: 3600,
            shards: common::keys::DEFAULT_SHARDS,
            list_cache_runs: common::config::DEFAULT_LIST_CACHE_RUNS,
            tls: Default::default(),
            replication: Default::default(),
        })
        .await
        .expect("the store connects to the test redis-server")
    }

    /// The server's working directory (`--dir`), where RDB and AOF files go.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The process id of the running server, or `None` after [`stop`](Self::stop).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The server's own log (its stdout and stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Kills the server with SIGKILL (a crash: nothing is flushed) and reaps it.
    /// Does nothing when it is already stopped.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server if it runs and starts it again on the same port, with the same
    /// arguments and data directory (so with `--appendonly yes` the data survives).
    ///
    /// Panics when the server does not come back.
    pub fn restart(&mut self) {
        self.stop();
        // The old socket may linger for a moment; retry on the same port briefly.
        let mut attempt = 0;
        let last_error = loop {
            attempt += 1;
            match self.launch() {
                Ok(()) => return,
                Err(e) if attempt >= 3 => break e,
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        };
        panic!(
            "redis-server did not restart on port {}: {last_error}",
            self.port
        );
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    /// Spawns the server on `self.port` and waits until it answers; on failure, the child
    /// is killed and the error (with the server's log) returned.
    fn launch(&mut self) -> Result<(), String> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|e| format!("cannot open the log file: {e}"))?;
        let log_err = log
            .try_clone()
            .map_err(|e| format!("cannot clone the log file: {e}"))?;
        let port = self.port.to_string();
        let mut child = Command::new(&self.binary)
            .args(["--port", &port, "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "no", "--daemonize", "no"])
            .args(["--loglevel", "warning", "--dir"])
            .arg(self.dir.path())
            .args(&self.extra_args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("cannot spawn {}: {e}", self.binary.display()))?;
        match wait_ready(&mut child, self.port) {
            Ok(()) => {
                self.child = Some(child);
                Ok(())
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("{e}\n--- redis-server log ---\n{}", self.log()))
            }
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The `redis-server` binary: `BATON_TEST_REDIS_SERVER`, else the first one on `PATH`.
fn redis_server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("BATON_TEST_REDIS_SERVER") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "BATON_TEST_REDIS_SERVER={} does not exist",
            path.display()
        );
        return path;
    }
    find_on_path("redis-server").unwrap_or_else(|| {
        panic!(
            "redis-server not found on PATH: the end-to-end tests need a real Redis. Run \
             `scripts/test` (it installs redis-server when missing), or \
             `apt-get install redis-server`, or set BATON_TEST_REDIS_SERVER to its path"
        )
    })
}

/// The first executable file called `name` in a `PATH` directory.
pub(crate) fn find_on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            candidate
                .metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// A loopback port that was free a moment ago, never a reserved one and never one this
/// process handed out before.
fn free_port() -> std::io::Result<u16> {
    let mut used = USED_PORTS.lock().unwrap_or_else(|e| e.into_inner());
    let used = used.get_or_insert_with(HashSet::new);
    loop {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let port = listener.local_addr()?.port();
        if !RESERVED_PORTS.contains(&port) && used.insert(port) {
            return Ok(port);
        }
    }
}

/// Waits until the server spawned as `child` answers `PING` on `port`.
///
/// Checks the answering server's `process_id`, so that another server that happened to
/// grab the port first is not mistaken for ours.
fn wait_ready(child: &mut Child, port: u16) -> Result<(), String> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Err(format!("redis-server exited early: {status}"));
        }
        match probe(port) {
            Ok(pid) if pid == child.id() => return Ok(()),
            Ok(pid) => {
                return Err(format!(
                    "port taken by another redis-server (pid {pid}, ours is {})",
                    child.id()
                ));
            }
            Err(e) if Instant::now() >= deadline => {
                return Err(format!(
                    "no PONG within {READY_TIMEOUT:?} (last error: {e})"
                ));
            }
            Err(_) => {}
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends `PING` and `INFO server` over a fresh connection; returns the server's pid.
fn probe(port: u16) -> Result<u32, String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let timeout = Duration::from_millis(500);
    let stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| e.to_string())?;
    let mut writer = &stream;
    let mut reader = BufReader::new(&stream);

    writer
        .write_all(b"PING\r\n")
        .map_err(|e| format!("PING: {e}"))?;
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .map_err(|e| format!("PING: {e}"))?;
    if line.trim_end() != "+PONG" {
        return Err(format!("PING answered {:?}", line.trim_end()));
    }

    writer
        .write_all(b"INFO server\r\n")
        .map_err(|e| format!("INFO: {e}"))?;
    line.clear();
    reader
        .read_line(&mut line)
        .map_err(|e| format!("INFO: {e}"))?;
    let len: usize = line
        .trim_end()
        .strip_prefix('$')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("INFO answered {:?}", line.trim_end()))?;
    let mut body = vec![0; len + 2];
    reader
        .read_exact(&mut body)
        .map_err(|e| format!("INFO: {e}"))?;
    String::from_utf8_lossy(&body)
        .lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .and_then(|pid| pid.trim().parse().ok())
        .ok_or_else(|| "INFO server has no process_id".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::errno::Errno;
    use nix::sys::signal::kill;
    use nix::unistd::Pid;

    async fn ping(url: &str) -> String {
        let client = redis::Client::open(url).unwrap();
        let mut con = client.get_multiplexed_async_connection().await.unwrap();
        redis::cmd("PING").query_async(&mut con).await.unwrap()
    }

    fn assert_gone(pid: u32) {
        let pid = Pid::from_raw(i32::try_from(pid).unwrap());
        assert_eq!(kill(pid, None), Err(Errno::ESRCH), "{pid} still exists");
    }

    #[tokio::test]
    async fn starts_on_a_free_port_and_answers_ping() {
        let server = RedisServer::start();
        assert_ne!(server.port(), 6379);
        assert_ne!(server.port(), 0);
        assert_eq!(server.url(), format!("redis://127.0.0.1:{}", server.port()));
        assert_eq!(ping(&server.url()).await, "PONG");
    }

    #[tokio::test]
    async fn two_servers_run_at_once_and_are_independent() {
        let a = RedisServer::start();
        let b = RedisServer::start();
        assert_ne!(a.port(), b.port());
        assert_ne!(a.pid(), b.pid());

        let mut con_a = a.client().get_multiplexed_async_connection().await.unwrap();
        let mut con_b = b.client().get_multiplexed_async_connection().await.unwrap();
        let () = redis::cmd("SET")
            .arg("k")
            .arg("a")
            .query_async(&mut con_a)
            .await
            .unwrap();
        let on_b: Option<String> = redis::cmd("GET")
            .arg("k")
            .query_async(&mut con_b)
            .await
            .unwrap();
        assert_eq!(on_b, None);
        assert_eq!(ping(&b.url()).await, "PONG");
    }

    #[test]
    fn the_process_is_gone_after_drop() {
        let server = RedisServer::start();
        let pid = server.pid().unwrap();
        let dir = server.dir().to_path_buf();
        assert!(dir.is_dir());
        drop(server);
        assert_gone(pid);
        assert!(!dir.exists(), "the temporary directory is removed");
    }

    #[test]
    fn start_with_passes_extra_args() {
        let server = RedisServer::start_with(&["--appendonly", "yes"]);
        let mut con = server.client().get_connection().unwrap();
        let config: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("appendonly")
            .query(&mut con)
            .unwrap();
        assert_eq!(config, ["appendonly", "yes"]);
        let save: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("save")
            .query(&mut con)
            .unwrap();
        assert_eq!(save, ["save", ""]);
    }

    #[test]
    fn restart_keeps_the_port_and_aof_data() {
        let mut server =
            RedisServer::start_with(&["--appendonly", "yes", "--appendfsync", "always"]);
        let port = server.port();
        let first_pid = server.pid().unwrap();
        {
            let mut con = server.client().get_connection().unwrap();
            let () = redis::cmd("SET")
                .arg("survives")
                .arg("yes")
                .query(&mut con)
                .unwrap();
        }
        server.stop();
        assert_eq!(server.pid(), None);
        assert_gone(first_pid);
        server.restart();
        assert_eq!(server.port(), port);
        let mut con = server.client().get_connection().unwrap();
        let value: Option<String> = redis::cmd("GET").arg("survives").query(&mut con).unwrap();
        assert_eq!(value.as_deref(), Some("yes"));
    }

    #[test]
    fn a_port_held_by_another_server_is_not_mistaken_for_ours() {
        let other = RedisServer::start();
        let mut child = Command::new(redis_server_binary())
            .args(["--port", &other.port().to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(other.dir())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let result = wait_ready(&mut child, other.port());
        let _ = child.kill();
        let _ = child.wait();
        assert!(result.is_err(), "{result:?}");
    }
}

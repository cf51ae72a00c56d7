//! A real, throw-away PostgreSQL server per test, for reports' data queries.
//!
//! [`PostgresServer::start`] makes a fresh cluster with `initdb` in a temporary directory
//! (password authentication, a superuser `baton`), runs `postgres` on a free loopback port
//! with its socket in that directory, waits until it accepts connections, and stops it
//! (SIGQUIT, then SIGKILL) when dropped. The programs come from `BATON_TEST_PG_BIN` or the
//! newest `/usr/lib/postgresql/*/bin` (Debian's `postgresql` package, which `scripts/test`
//! installs when missing). PostgreSQL refuses to run as root, so under root the cluster
//! belongs to the `postgres` user and its programs run as that user.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, Uid, User, chown};
use tempfile::TempDir;

use crate::signed_http::free_port;

/// The superuser of every test cluster.
pub const USER: &str = "baton";

/// How long the server may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running PostgreSQL server, private to one test.
#[derive(Debug)]
pub struct PostgresServer {
    child: Child,
    port: u16,
    password: String,
    _dir: TempDir,
}

/// The directory holding `initdb` and `postgres`.
fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("BATON_TEST_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|entry| {
                    let version = entry.file_name().to_str()?.parse().ok()?;
                    Some((version, entry.path().join("bin")))
                })
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    versions.pop().map(|(_, dir)| dir).unwrap_or_else(|| {
        panic!(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin): run `apt-get install \
             postgresql` (`scripts/test` does) or set BATON_TEST_PG_BIN"
        )
    })
}

/// A command running `program` of the PostgreSQL binaries, as `postgres` when we are root.
fn command(bin: &Path, program: &str) -> Command {
    let path = bin.join(program);
    if Uid::effective().is_root() {
        // `setpriv` execs the program itself, so the child is the server (and takes signals).
        let mut command = Command::new("setpriv");
        command
            .args([
                "--reuid=postgres",
                "--regid=postgres",
                "--init-groups",
                "--",
            ])
            .arg(path);
        command
    } else {
        Command::new(path)
    }
}

/// Under root, hands `path` to the `postgres` user, as whom the server runs.
fn give_to_server(path: &Path) {
    if !Uid::effective().is_root() {
        return;
    }
    let owner = User::from_name("postgres")
        .ok()
        .flatten()
        .expect("the postgres user (from Debian's postgresql package)");
    chown(path, Some(owner.uid), Some(owner.gid))
        .unwrap_or_else(|error| panic!("cannot give {} to postgres: {error}", path.display()));
}

impl PostgresServer {
    /// Starts a fresh server. Panics when PostgreSQL is missing or does not come up.
    pub fn start() -> Self {
        let bin = bin_dir();
        let dir = tempfile::tempdir().expect("a temporary directory");
        give_to_server(dir.path());
        let password = format!("pw-{}", crate::unique_prefix());
        let password_file = dir.path().join("password");
        std::fs::write(&password_file, &password).expect("write the password file");
        give_to_server(&password_file);
        let data = dir.path().join("data");
        let output = command(&bin, "initdb")
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                USER,
                "-A",
                "scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
            ])
            .arg("--no-sync")
            .arg(format!("--pwfile={}", password_file.display()))
            .stdin(Stdio::null())
            .output()
            .expect("run initdb");
        assert!(
            output.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("server.log")).expect("a log file");
        give_to_server(&dir.path().join("server.log"));
        let child = command(&bin, "postgres")
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-k"])
            .arg(dir.path())
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the log file"))
            .stderr(log)
            .spawn()
            .expect("start postgres");
        let server = Self {
            child,
            port,
            password,
            _dir: dir,
        };
        server.wait_until_ready(&bin);
        server
    }

    fn wait_until_ready(&self, bin: &Path) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let ready = Command::new(bin.join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-q"])
                .status()
                .is_ok_and(|status| status.success());
            if ready {
                return;
            }
            if Instant::now() >= deadline {
                let log = std::fs::read_to_string(self._dir.path().join("server.log"))
                    .unwrap_or_default();
                panic!("postgres did not accept connections within {READY_TIMEOUT:?}: {log}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The password of [`USER`].
    pub fn password(&self) -> &str {
        &self.password
    }

    /// A connection URL for database `dbname`.
    pub fn url(&self, dbname: &str) -> String {
        format!(
            "postgres://{USER}:{}@127.0.0.1:{}/{dbname}",
            self.password, self.port
        )
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        // Immediate shutdown.
        let pid = Pid::from_raw(self.child.id() as i32);
        let _ = kill(pid, Signal::SIGQUIT);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

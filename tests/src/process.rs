//! Spawning Baton's own binaries (`baton-api`, `baton-worker`, `baton-scheduler`) as real
//! processes, with their output captured in a log file.
//!
//! The binaries are the ones `cargo build --workspace --bins` put next to the test
//! executable (see [`binary_path`]); `scripts/test` builds them before running the tests.

use std::ffi::OsStr;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tempfile::TempDir;

/// How often the exit waits poll the child.
const EXIT_POLL: Duration = Duration::from_millis(10);
/// How many log lines a process dropped during a panicking test prints.
const PANIC_LOG_LINES: usize = 60;

/// The path of one of the workspace's binaries, e.g. `binary_path("baton-worker")`.
///
/// Looks in `BATON_BIN_DIR` when set, else in the cargo profile directory of the running
/// executable: integration tests and unit tests run from `target/<profile>/deps/`, the
/// benchmark from `target/<profile>/` itself.
///
/// Panics, saying to run `cargo build --workspace --bins`, when the binary is missing or older
/// than its sources (see [`crate::fresh`]).
pub fn binary_path(name: &str) -> PathBuf {
    let dir = match std::env::var_os("BATON_BIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let exe = std::env::current_exe().expect("cannot locate the running executable");
            profile_dir(&exe)
        }
    };
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "binary `{name}` not found at {}: run `cargo build --workspace --bins` first \
         (`scripts/test` does), or set BATON_BIN_DIR to the directory holding it",
        path.display()
    );
    crate::fresh::check_fresh(name, &path);
    path
}

/// The cargo profile directory (`target/<profile>`) holding the executable `exe`.
pub(crate) fn profile_dir(exe: &Path) -> PathBuf {
    let dir = exe.parent().unwrap_or(Path::new("."));
    match dir.file_name().and_then(OsStr::to_str) {
        Some("deps" | "examples") => dir.parent().unwrap_or(dir).to_path_buf(),
        _ => dir.to_path_buf(),
    }
}

/// One running Baton binary, its stdout and stderr going to a log file in a temporary
/// directory. Dropping it kills the process (SIGKILL) and reaps it; when the current test is
/// panicking, the tail of the log is printed first.
#[derive(Debug)]
pub struct BatonProcess {
    name: String,
    child: Child,
    status: Option<ExitStatus>,
    log_path: PathBuf,
    _dir: TempDir,
}

impl BatonProcess {
    /// Spawns the workspace binary `name` (see [`binary_path`]) with `args`, inheriting the
    /// test's environment plus `env`. `RUST_LOG` is `info` unless `env` sets it.
    ///
    /// Panics when the binary is missing or cannot be started.
    pub fn spawn(name: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::spawn_path(&binary_path(name), args, env)
    }

    /// Like [`spawn`](Self::spawn), for any executable `program`.
    pub fn spawn_path(program: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let name = program.file_name().map_or_else(
            || program.display().to_string(),
            |n| n.to_string_lossy().into(),
        );
        let dir = tempfile::Builder::new()
            .prefix(&format!("{name}-"))
            .tempdir()
            .expect("cannot create a temporary directory for the process log");
        let log_path = dir.path().join(format!("{name}.log"));
        let log = File::options()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("cannot create the process log");
        let log_err = log.try_clone().expect("cannot clone the process log");

        let mut command = Command::new(program);
        command
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {}: {e}", program.display()));
        BatonProcess {
            name,
            child,
            status: None,
            log_path,
            _dir: dir,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The binary's file name, e.g. `baton-worker`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the process is still running (it has not exited, or it has not been reaped).
    pub fn is_running(&mut self) -> bool {
        self.try_status().is_none()
    }

    /// Kills the process with SIGKILL (a crash: no cleanup runs) and waits until it is gone.
    /// Returns its exit status; does nothing more when it had already exited.
    pub fn kill_9(&mut self) -> ExitStatus {
        if let Some(status) = self.try_status() {
            return status;
        }
        self.signal(Signal::SIGKILL);
        self.reap()
    }

    /// Sends SIGTERM (a graceful shutdown request) without waiting; follow with
    /// [`wait_exit`](Self::wait_exit). Does nothing when the process has already exited.
    pub fn terminate(&mut self) {
        if self.try_status().is_none() {
            self.signal(Signal::SIGTERM);
        }
    }

    /// Sends `signal` to the process unless it has already been reaped.
    pub fn signal(&mut self, signal: Signal) {
        if self.status.is_some() {
            return;
        }
        // The child is not reaped yet, so its pid cannot have been reused. ESRCH cannot
        // happen for an unreaped child; ignore errors anyway (e.g. a zombie).
        let _ = kill(self.nix_pid(), signal);
    }

    /// Waits up to `timeout` for the process to exit; `None` when it is still running.
    /// Blocks the thread: in async code prefer [`wait_exit_async`](Self::wait_exit_async).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_status() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(EXIT_POLL);
        }
    }

    /// Like [`wait_exit`](Self::wait_exit), sleeping on the tokio timer between polls.
    pub async fn wait_exit_async(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_status() {
                return Some(status);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(EXIT_POLL).await;
        }
    }

    /// The whole log (stdout and stderr) so far.
    pub fn log(&self) -> String {
        std::fs::read(&self.log_path)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    }

    /// The last `n_lines` lines of the log.
    pub fn log_tail(&self, n_lines: usize) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(n_lines)..].join("\n")
    }

    /// The path of the log file (removed when the process is dropped).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Runs `name args` to completion (up to 30 s) and returns the last line it printed, as
    /// the key and token commands print their secret; the output when it fails.
    pub async fn last_line_of(
        name: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<String, String> {
        let mut process = Self::spawn(name, args, env);
        let status = process
            .wait_exit_async(Duration::from_secs(30))
            .await
            .ok_or_else(|| format!("{name} {args:?} did not finish"))?;
        let output = process.log();
        if !status.success() {
            return Err(format!("{name} {args:?} failed: {output}"));
        }
        Ok(output.lines().last().unwrap_or_default().trim().to_owned())
    }

    /// Polls the log every 20 ms until it contains `needle`; panics with the log's tail
    /// after `timeout`.
    pub async fn wait_for_log(&self, needle: &str, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        while !self.log().contains(needle) {
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "{} did not log {needle:?} within {timeout:?}; log tail:\n{}",
                    self.name,
                    self.log_tail(PANIC_LOG_LINES)
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn nix_pid(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).expect("pids fit in i32"))
    }

    fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    fn reap(&mut self) -> ExitStatus {
        if let Some(status) = self.status {
            return status;
        }
        let status = self
            .child
            .wait()
            .unwrap_or_else(|e| panic!("cannot wait for {}: {e}", self.name));
        self.status = Some(status);
        status
    }
}

impl Drop for BatonProcess {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- last {PANIC_LOG_LINES} log lines of {} (pid {}) ---\n{}\n--- end of {} log ---",
                self.name,
                self.pid(),
                self.log_tail(PANIC_LOG_LINES),
                self.name
            );
        }
        if self.try_status().is_none() {
            self.signal(Signal::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::errno::Errno;
    use std::os::unix::process::ExitStatusExt;

    fn sh(script: &str, env: &[(&str, &str)]) -> BatonProcess {
        BatonProcess::spawn_path(Path::new("/bin/sh"), &["-c", script], env)
    }

    #[test]
    fn profile_dir_handles_deps_and_the_profile_dir_itself() {
        assert_eq!(
            profile_dir(Path::new("/w/target/debug/deps/e2e-0123abcd")),
            Path::new("/w/target/debug")
        );
        assert_eq!(
            profile_dir(Path::new("/w/target/release/baton-bench")),
            Path::new("/w/target/release")
        );
        assert_eq!(
            profile_dir(Path::new("/w/target/debug/examples/demo")),
            Path::new("/w/target/debug")
        );
    }

    #[test]
    #[should_panic(expected = "cargo build --workspace --bins")]
    fn a_missing_binary_says_how_to_build_it() {
        binary_path("baton-no-such-binary");
    }

    #[test]
    fn output_goes_to_the_log_and_rust_log_defaults_to_info() {
        let mut p = sh("echo out; echo err >&2; echo \"level=$RUST_LOG\"", &[]);
        assert!(p.wait_exit(Duration::from_secs(5)).unwrap().success());
        let log = p.log();
        assert!(log.contains("out") && log.contains("err"), "{log}");
        assert_eq!(p.log_tail(1), "level=info");

        let mut p = sh("echo \"level=$RUST_LOG\"", &[("RUST_LOG", "debug")]);
        assert!(p.wait_exit(Duration::from_secs(5)).is_some());
        assert_eq!(p.log_tail(5), "level=debug");
    }

    #[tokio::test]
    async fn terminate_sends_sigterm() {
        let mut p = sh(
            "trap 'echo got-term; exit 3' TERM; echo ready; while :; do sleep 0.05; done",
            &[],
        );
        p.wait_for_log("ready", Duration::from_secs(5)).await;
        assert!(p.is_running());
        assert_eq!(p.wait_exit(Duration::from_millis(50)), None);
        p.terminate();
        let status = p.wait_exit_async(Duration::from_secs(5)).await.unwrap();
        assert_eq!(status.code(), Some(3));
        assert!(p.log().contains("got-term"));
        assert!(!p.is_running());
    }

    #[test]
    fn kill_9_kills_and_reaps() {
        let mut p = sh("exec sleep 30", &[]);
        let status = p.kill_9();
        assert_eq!(status.signal(), Some(9));
        assert_eq!(p.kill_9(), status, "a second kill_9 is harmless");
        p.terminate();
    }

    #[test]
    fn drop_kills_the_process() {
        let p = sh("exec sleep 30", &[]);
        let pid = Pid::from_raw(p.pid() as i32);
        assert_eq!(kill(pid, None), Ok(()));
        drop(p);
        assert_eq!(kill(pid, None), Err(Errno::ESRCH));
    }
}

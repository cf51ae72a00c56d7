//! The `command` executor: runs a program in its own process group.
//!
//! The program receives the task input as JSON on stdin and in `BATON_PAYLOAD`, along with
//! `BATON_RUN_ID`, `BATON_TASK`, `BATON_ATTEMPT` and `BATON_RESULT`: a path in a fresh private
//! directory where it may write its result as JSON. Its stdout and stderr become the task's log,
//! line by line. When the task is canceled, or once the program exits, its whole process group
//! is killed, so no descendant outlives the attempt.
//!
//! Its environment is explicit: it starts empty and gets exactly `PATH`, `HOME` and `LANG`
//! from the worker (when the worker has them), then the spec's `env`, then the `BATON_*`
//! variables above; nothing else of the worker's environment (its Redis URL, its artefact
//! store's credentials, ...). See [`common::script_env`].

use std::collections::VecDeque;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::process::{ExitStatus, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::engine::executor::CommandSpec;
use common::engine::failure::Failure;
use common::script_env;
use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::{ChildStdin, Command};

use crate::context::TaskContext;
use crate::error::TaskError;

/// Longest log line kept, in bytes; longer lines are truncated.
const MAX_LINE: usize = 16 * 1024;

/// Marker appended to a truncated log line.
const TRUNCATED: &str = " [truncated]";

/// How long to wait for the program's output to reach end-of-file once its process group is
/// killed. Only a descendant that left the group (`setsid`) can hold a pipe open that long.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// Lines of stderr a failed command's error carries (its traceback).
const STDERR_TAIL_LINES: usize = 20;

/// Runs `spec` as a task attempt and returns its result: the JSON the program wrote to
/// `BATON_RESULT`, or `None` when it wrote nothing.
///
/// An empty argv is [`TaskError::Invalid`]; a program that cannot be started or exits
/// unsuccessfully is [`TaskError::Failed`]; a canceled attempt is [`TaskError::Interrupted`]
/// after the program's whole process group has been killed.
pub async fn run_command(
    spec: &CommandSpec,
    ctx: &TaskContext,
) -> Result<Option<Value>, TaskError> {
    let (program, args) = spec
        .argv
        .split_first()
        .ok_or_else(|| TaskError::Invalid("command executor needs a non-empty argv".into()))?;
    if ctx.cancel.is_cancelled() {
        return Err(TaskError::Interrupted);
    }
    let payload = serde_json::to_string(&ctx.input)
        .map_err(|e| TaskError::Failed(format!("cannot serialize the task input: {e}")))?;
    let scratch = ScratchDir::create(ctx).map_err(|e| {
        TaskError::Failed(format!(
            "cannot create a directory for the result file: {e}"
        ))
    })?;
    let result_path = scratch.path.join("result.json");

    let mut command = Command::new(program);
    command
        .args(args)
        .env_clear()
        .envs(script_env::passed_through())
        .envs(&spec.env)
        .env("BATON_PAYLOAD", &payload)
        .env("BATON_RUN_ID", &ctx.run_id)
        .env("BATON_TASK", &ctx.task_key)
        .env("BATON_ATTEMPT", ctx.attempt.to_string())
        .env("BATON_RESULT", &result_path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(cwd) = &spec.cwd {
        command.current_dir(cwd);
    }
    let mut child = command
        .spawn()
        .map_err(|e| spawn_error(program, spec.cwd.as_deref(), &e))?;
    // Declared after `child` so that it is dropped first: if this future is dropped mid-run, the
    // group is killed while the unreaped child still holds its id.
    let mut group = ProcessGroup(
        child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .map(Pid::from_raw),
    );
    tracing::debug!(run = %ctx.run_id, task = ctx.task, program = %program, pid = ?group.0, "command started");

    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let mut input = payload.into_bytes();
    input.push(b'\n');
    let stderr_tail = Mutex::new(VecDeque::with_capacity(STDERR_TAIL_LINES));
    let mut io = pin!(async {
        tokio::join!(
            feed_stdin(stdin, input),
            pump_lines(stdout, ctx, None),
            pump_lines(stderr, ctx, Some(&stderr_tail)),
        );
    });

    let mut io_done = false;
    let exit = loop {
        tokio::select! {
            () = &mut io, if !io_done => io_done = true,
            status = child.wait() => break Some(status),
            () = ctx.cancel.cancelled() => break None,
        }
    };
    // Kill whatever is left of the group: everything when canceled, background descendants
    // after a normal exit.
    group.kill();
    let status = match exit {
        Some(status) => status,
        None => {
            let _ = child.wait().await;
            drain(io, io_done).await;
            tracing::debug!(run = %ctx.run_id, task = ctx.task, "command interrupted");
            return Err(TaskError::Interrupted);
        }
    };
    drain(io, io_done).await;

    let status =
        status.map_err(|e| TaskError::Failed(format!("waiting for '{program}' failed: {e}")))?;
    if !status.success() {
        let tail = std::mem::take(
            &mut *stderr_tail
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        return Err(TaskError::Failed(failure_text(status, tail)));
    }
    read_result(&result_path).await
}

/// Turns a spawn error into a message that names the program.
fn spawn_error(program: &str, cwd: Option<&str>, error: &io::Error) -> TaskError {
    let reason = match (error.kind(), cwd) {
        (io::ErrorKind::NotFound, Some(cwd)) if !Path::new(cwd).is_dir() => {
            format!("working directory '{cwd}' does not exist")
        }
        (io::ErrorKind::NotFound, _) => "program not found".to_owned(),
        (io::ErrorKind::PermissionDenied, _) => "permission denied".to_owned(),
        _ if error.raw_os_error() == Some(Errno::E2BIG as i32) => {
            format!("{error} (the task input may be too large for BATON_PAYLOAD)")
        }
        _ => error.to_string(),
    };
    TaskError::Failed(format!("cannot start '{program}': {reason}"))
}

/// The error of a command that exited unsuccessfully: what happened, then (the traceback)
/// the last lines of its stderr, if it wrote any.
fn failure_text(status: ExitStatus, stderr_tail: VecDeque<String>) -> String {
    let exception = describe_failure(status);
    if stderr_tail.is_empty() {
        return exception;
    }
    let details: Vec<String> =
        std::iter::once(format!("last {} line(s) of stderr:", stderr_tail.len()))
            .chain(stderr_tail)
            .collect();
    Failure::error_text(&exception, &details)
}

/// Describes an unsuccessful exit status.
fn describe_failure(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("command exited with status {code}");
    }
    match status.signal() {
        Some(number) => match Signal::try_from(number) {
            Ok(signal) => format!("command was killed by signal {signal} ({number})"),
            Err(_) => format!("command was killed by signal {number}"),
        },
        None => format!("command failed: {status}"),
    }
}

/// Reads the result file after a successful exit: absent or blank means no result.
async fn read_result(path: &Path) -> Result<Option<Value>, TaskError> {
    let bytes = match tokio::fs::read(path).await {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(TaskError::Failed(format!(
                "cannot read the result file: {e}"
            )));
        }
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| TaskError::Failed(format!("result file is not valid JSON: {e}")))
}

/// Lets the output pumps reach end-of-file, for a bounded time.
async fn drain(io: std::pin::Pin<&mut impl Future<Output = ()>>, io_done: bool) {
    if !io_done && tokio::time::timeout(DRAIN_TIMEOUT, io).await.is_err() {
        tracing::warn!("command output still open after its process group was killed; dropping it");
    }
}

/// Writes the input to the program's stdin and closes it. Errors (usually a broken pipe from a
/// program that does not read its input) are ignored.
async fn feed_stdin(stdin: Option<ChildStdin>, input: Vec<u8>) {
    if let Some(mut stdin) = stdin
        && stdin.write_all(&input).await.is_ok()
    {
        let _ = stdin.shutdown().await;
    }
}

/// Sends every line of `reader` to the task log as it arrives, truncating long lines without
/// buffering them whole.
async fn pump_lines<R: AsyncRead + Unpin>(
    reader: Option<R>,
    ctx: &TaskContext,
    tail: Option<&Mutex<VecDeque<String>>>,
) {
    let Some(reader) = reader else { return };
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    let mut truncated = false;
    loop {
        let buf = match reader.fill_buf().await {
            Ok(buf) => buf,
            Err(e) => {
                tracing::debug!(error = %e, "reading command output failed");
                break;
            }
        };
        if buf.is_empty() {
            break;
        }
        let (chunk, used, complete) = match buf.iter().position(|&b| b == b'\n') {
            Some(end) => (&buf[..end], end + 1, true),
            None => (buf, buf.len(), false),
        };
        let room = MAX_LINE - line.len();
        if chunk.len() > room {
            line.extend_from_slice(&chunk[..room]);
            truncated = true;
        } else {
            line.extend_from_slice(chunk);
        }
        reader.consume(used);
        if complete {
            emit_line(ctx, &mut line, &mut truncated, tail);
        }
    }
    if !line.is_empty() || truncated {
        emit_line(ctx, &mut line, &mut truncated, tail);
    }
}

/// Logs one line (keeping it in `tail`, which holds the last [`STDERR_TAIL_LINES`]) and
/// resets the buffer.
fn emit_line(
    ctx: &TaskContext,
    line: &mut Vec<u8>,
    truncated: &mut bool,
    tail: Option<&Mutex<VecDeque<String>>>,
) {
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    let mut text = String::from_utf8_lossy(line).into_owned();
    if *truncated {
        text.push_str(TRUNCATED);
    }
    if let Some(tail) = tail {
        let mut tail = tail.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if tail.len() == STDERR_TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(text.clone());
    }
    ctx.log(text);
    line.clear();
    *truncated = false;
}

/// The program's process group, killed with SIGKILL when asked or when dropped.
struct ProcessGroup(Option<Pid>);

impl ProcessGroup {
    /// Kills every process left in the group, once.
    fn kill(&mut self) {
        if let Some(pgid) = self.0.take() {
            match killpg(pgid, Signal::SIGKILL) {
                Ok(()) | Err(Errno::ESRCH) => {}
                Err(e) => {
                    tracing::warn!(pgid = pgid.as_raw(), error = %e, "cannot kill process group")
                }
            }
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A private directory for the result file, removed when dropped.
struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// Creates `baton-RUN-TASK-ATTEMPT-PID-N` (mode 0700) in the system's temporary directory.
    fn create(ctx: &TaskContext) -> io::Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let run: String = ctx
            .run_id
            .chars()
            .take(64)
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let base = std::env::temp_dir();
        loop {
            let unique = NEXT.fetch_add(1, Ordering::Relaxed);
            let name = format!(
                "baton-{run}-{}-{}-{}-{unique}",
                ctx.task,
                ctx.attempt,
                std::process::id()
            );
            let path = base.join(name);
            match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(Self { path }),
                // Left over from an earlier worker process with the same pid: pick another name.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.path) {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot remove result directory");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Instant;

    use nix::sys::signal::kill;
    use serde_json::json;
    use tokio::sync::mpsc;
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::context::{TaskEvent, TaskReport};

    fn context(input: Value) -> (TaskContext, mpsc::UnboundedReceiver<TaskEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let ctx = TaskContext::new(
            "run-1".into(),
            "EXTRACT".into(),
            2,
            3,
            input,
            CancellationToken::new(),
            tx,
        );
        (ctx, rx)
    }

    fn sh(script: &str) -> CommandSpec {
        CommandSpec {
            argv: vec!["sh".into(), "-c".into(), script.into()],
            env: BTreeMap::new(),
            cwd: None,
        }
    }

    fn logs(rx: &mut mpsc::UnboundedReceiver<TaskEvent>) -> Vec<String> {
        let mut lines = Vec::new();
        while let Ok(event) = rx.try_recv() {
            if let TaskReport::Log(line) = event.report {
                lines.push(line);
            }
        }
        lines
    }

    /// True once `pid` is gone (or a zombie nobody has reaped yet: PID 1 may not reap orphans).
    fn is_dead(pid: i32) -> bool {
        if kill(Pid::from_raw(pid), None) == Err(Errno::ESRCH) {
            return true;
        }
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| {
                stat.rsplit_once(')')
                    .map(|(_, rest)| rest.trim_start().starts_with('Z'))
            })
            .unwrap_or(false)
    }

    async fn assert_dead(pids: &[i32]) {
        let deadline = Instant::now() + Duration::from_secs(2);
        for &pid in pids {
            while !is_dead(pid) {
                assert!(Instant::now() < deadline, "process {pid} is still alive");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }

    async fn read_pids(path: &Path) -> Vec<i32> {
        for _ in 0..500 {
            if let Ok(text) = std::fs::read_to_string(path) {
                return text
                    .split_whitespace()
                    .map(|p| p.parse().unwrap())
                    .collect();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("pid file never appeared");
    }

    #[tokio::test]
    async fn streams_stdout_and_stderr_lines_in_order_of_arrival() {
        let (ctx, mut rx) = context(json!(null));
        let spec = sh("echo one; sleep 0.2; echo two >&2; sleep 0.2; printf 'three\\r\\nfour'");
        assert_eq!(run_command(&spec, &ctx).await, Ok(None));
        assert_eq!(logs(&mut rx), ["one", "two", "three", "four"]);
    }

    #[tokio::test]
    async fn long_lines_are_truncated() {
        let (ctx, mut rx) = context(json!(null));
        let spec = sh("head -c 40000 /dev/zero | tr '\\0' x; echo; echo short");
        assert_eq!(run_command(&spec, &ctx).await, Ok(None));
        let lines = logs(&mut rx);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0], format!("{}{TRUNCATED}", "x".repeat(MAX_LINE)));
        assert_eq!(lines[1], "short");
    }

    #[tokio::test]
    async fn input_arrives_on_stdin_and_in_the_environment() {
        let input = json!({"run_id": "run-1", "payload": {"n": 7, "s": "a b"}, "parents": []});
        let (ctx, mut rx) = context(input.clone());
        let dir = tempfile::tempdir().unwrap();
        let mut spec = sh(
            r#"printf '%s\n' "$BATON_PAYLOAD"; cat; echo "$BATON_RUN_ID $BATON_TASK $BATON_ATTEMPT $EXTRA"; pwd"#,
        );
        spec.env.insert("EXTRA".into(), "extra-value".into());
        spec.cwd = Some(dir.path().to_str().unwrap().into());
        assert_eq!(run_command(&spec, &ctx).await, Ok(None));
        let lines = logs(&mut rx);
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert_eq!(serde_json::from_str::<Value>(&lines[0]).unwrap(), input);
        assert_eq!(serde_json::from_str::<Value>(&lines[1]).unwrap(), input);
        assert_eq!(lines[2], "run-1 EXTRACT 3 extra-value");
        assert_eq!(
            Path::new(&lines[3]).canonicalize().unwrap(),
            dir.path().canonicalize().unwrap()
        );
    }

    #[tokio::test]
    async fn the_environment_holds_only_what_the_task_is_given() {
        let (ctx, mut rx) = context(json!({"n": 1}));
        let mut spec = sh("env");
        spec.env.insert("EXTRA".into(), "extra-value".into());
        assert_eq!(run_command(&spec, &ctx).await, Ok(None));
        let mut names: Vec<String> = logs(&mut rx)
            .iter()
            .filter_map(|line| line.split_once('=').map(|(name, _)| name.to_owned()))
            .collect();
        names.sort();
        // `sh` itself adds `PWD` (and some shells `SHLVL` and `_`).
        names.retain(|name| !["PWD", "SHLVL", "_", "OLDPWD"].contains(&name.as_str()));
        let mut expected: Vec<String> = script_env::passed_through()
            .into_iter()
            .map(|(name, _)| name.to_owned())
            .chain(
                [
                    "EXTRA",
                    "BATON_PAYLOAD",
                    "BATON_RUN_ID",
                    "BATON_TASK",
                    "BATON_ATTEMPT",
                    "BATON_RESULT",
                ]
                .map(String::from),
            )
            .collect();
        expected.sort();
        assert_eq!(names, expected);
    }

    #[tokio::test]
    async fn the_result_file_is_returned_and_removed() {
        let (ctx, mut rx) = context(json!(null));
        let spec = sh(r#"echo "$BATON_RESULT"; echo '{"rows": 42}' > "$BATON_RESULT""#);
        assert_eq!(
            run_command(&spec, &ctx).await,
            Ok(Some(json!({"rows": 42})))
        );
        let path = PathBuf::from(&logs(&mut rx)[0]);
        assert!(path.starts_with(std::env::temp_dir()));
        assert!(
            !path.parent().unwrap().exists(),
            "{} was not removed",
            path.display()
        );
    }

    #[tokio::test]
    async fn an_invalid_or_blank_result_file() {
        let (ctx, _rx) = context(json!(null));
        let result = run_command(&sh(r#"echo 'not json' > "$BATON_RESULT""#), &ctx).await;
        let Err(TaskError::Failed(message)) = result else {
            panic!("{result:?}")
        };
        assert!(
            message.starts_with("result file is not valid JSON: "),
            "{message}"
        );
        assert_eq!(
            run_command(&sh(r#": > "$BATON_RESULT""#), &ctx).await,
            Ok(None)
        );
    }

    #[tokio::test]
    async fn a_failure_carries_the_last_lines_of_stderr() {
        let (ctx, _rx) = context(json!(null));
        let script = "echo out; for i in $(seq 1 30); do echo \"err $i\" >&2; done; exit 2";
        let Err(TaskError::Failed(error)) = run_command(&sh(script), &ctx).await else {
            panic!("the command should fail");
        };
        let failure = Failure::from_error(&error);
        assert_eq!(failure.exception, "command exited with status 2");
        let lines: Vec<&str> = failure.traceback.lines().collect();
        assert_eq!(lines[0], "last 20 line(s) of stderr:");
        assert_eq!(lines[1], "err 11");
        assert_eq!(lines.last(), Some(&"err 30"));
        assert!(!failure.traceback.contains("out"));
    }

    #[tokio::test]
    async fn a_non_zero_exit_or_a_signal_fails() {
        let (ctx, _rx) = context(json!(null));
        assert_eq!(
            run_command(&sh("echo '{}' > \"$BATON_RESULT\"; exit 3"), &ctx).await,
            Err(TaskError::Failed("command exited with status 3".into()))
        );
        assert_eq!(
            run_command(&sh("kill -TERM $$"), &ctx).await,
            Err(TaskError::Failed(
                "command was killed by signal SIGTERM (15)".into()
            ))
        );
    }

    #[tokio::test]
    async fn unknown_programs_and_empty_argv() {
        let (ctx, _rx) = context(json!(null));
        let spec = CommandSpec {
            argv: vec!["baton-no-such-program".into()],
            env: BTreeMap::new(),
            cwd: None,
        };
        assert_eq!(
            run_command(&spec, &ctx).await,
            Err(TaskError::Failed(
                "cannot start 'baton-no-such-program': program not found".into()
            ))
        );
        let spec = CommandSpec {
            argv: vec![],
            env: BTreeMap::new(),
            cwd: None,
        };
        assert!(matches!(
            run_command(&spec, &ctx).await,
            Err(TaskError::Invalid(_))
        ));
    }

    #[tokio::test]
    async fn cancel_kills_the_whole_process_group() {
        let (ctx, _rx) = context(json!(null));
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pids");
        let mut spec = sh(r#"sleep 30 & echo "$$ $!" > "$1.tmp"; mv "$1.tmp" "$1"; wait"#);
        spec.argv
            .extend(["sh".into(), pidfile.to_str().unwrap().into()]);

        let started = Instant::now();
        let canceler = async {
            let pids = read_pids(&pidfile).await;
            ctx.cancel.cancel();
            pids
        };
        let (result, pids) = tokio::join!(run_command(&spec, &ctx), canceler);
        assert_eq!(result, Err(TaskError::Interrupted));
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "took {:?}",
            started.elapsed()
        );
        assert_eq!(pids.len(), 2);
        assert_dead(&pids).await;
    }

    #[tokio::test]
    async fn background_processes_die_with_a_finished_command() {
        let (ctx, _rx) = context(json!(null));
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pids");
        let mut spec = sh(r#"sleep 30 & echo "$!" > "$1""#);
        spec.argv
            .extend(["sh".into(), pidfile.to_str().unwrap().into()]);

        let started = Instant::now();
        assert_eq!(run_command(&spec, &ctx).await, Ok(None));
        // The background sleep held stdout open: it must have been killed, not waited for.
        assert!(
            started.elapsed() < DRAIN_TIMEOUT,
            "took {:?}",
            started.elapsed()
        );
        assert_dead(&read_pids(&pidfile).await).await;
    }

    #[tokio::test]
    async fn dropping_the_future_kills_the_process_group() {
        let (ctx, _rx) = context(json!(null));
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pids");
        let mut spec = sh(r#"sleep 30 & echo "$$ $!" > "$1.tmp"; mv "$1.tmp" "$1"; wait"#);
        spec.argv
            .extend(["sh".into(), pidfile.to_str().unwrap().into()]);

        let run = run_command(&spec, &ctx);
        let pids = tokio::select! {
            result = run => panic!("command finished: {result:?}"),
            pids = read_pids(&pidfile) => pids,
        };
        assert_dead(&pids).await;
    }
}

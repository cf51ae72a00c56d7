//! End-to-end tests of the core engine: real `redis-server`, real `baton-worker` and
//! `baton-scheduler` processes, driven through the `common` store.

use std::path::{Path, PathBuf};
use std::time::Duration;

use baton_tests::TestApp;
use baton_tests::process::BatonProcess;
use baton_tests::wait::{wait_for, wait_until};
use common::engine::model::{
    Priority, QueueName, RunKind, RunSpec, RunStatus, TaskSpec, TaskStatus,
};
use common::keys::CONSUMER_GROUP;
use common::store::Store;
use common::store::engine::dead_letters::RequeueOutcome;
use common::store::engine::runs::{CancelOutcome, RunView};
use common::workflows::definition::{Definition, PeriodicSpec};
use serde_json::{Value, json};

/// One test's world: its own Redis, key prefix and store (no API: the tests drive the store).
struct World {
    app: TestApp,
    store: Store,
    dir: tempfile::TempDir,
}

impl World {
    async fn new() -> Self {
        let app = TestApp::builder().api(false).spawn().await;
        let store = app.store().await;
        Self {
            app,
            store,
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// Spawns one of the binaries with this world's Redis and prefix, fast test timings, and
    /// `extra` settings (which win over the defaults).
    fn spawn(
        &self,
        binary: &str,
        defaults: &[(&str, &str)],
        extra: &[(&str, &str)],
    ) -> BatonProcess {
        let mut env = defaults.to_vec();
        env.extend_from_slice(extra);
        self.app.spawn_process(binary, &[], &env)
    }

    fn worker(&self, extra: &[(&str, &str)]) -> BatonProcess {
        let defaults = [
            ("BATON_HEARTBEAT_SECS", "1"),
            ("BATON_RETRY_BASE_MS", "200"),
            ("BATON_RETRY_MAX_MS", "1000"),
            ("BATON_BLOCK_MS", "200"),
        ];
        self.spawn("baton-worker", &defaults, extra)
    }

    fn scheduler(&self, extra: &[(&str, &str)]) -> BatonProcess {
        let defaults = [
            ("BATON_TICK_MS", "100"),
            ("BATON_VISIBILITY_TIMEOUT_SECS", "3"),
            ("BATON_LEASE_MS", "2000"),
        ];
        self.spawn("baton-scheduler", &defaults, extra)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Run `run_id` once its task `task` has succeeded.
    async fn wait_for_task_success(&self, run_id: &str, task: usize, what: &str) -> RunView {
        wait_for(Duration::from_secs(20), what, || async {
            self.store
                .get_run(run_id)
                .await
                .expect("run readable")
                .filter(|run| run.tasks[task].status == TaskStatus::Success)
        })
        .await
    }

    /// The fields run `id`'s hash holds, as stored.
    async fn stored_fields(&self, id: &str) -> std::collections::BTreeMap<String, String> {
        let mut conn = self.app.redis_connection().await;
        redis::cmd("HGETALL")
            .arg(self.store.keys().run(id))
            .query_async(&mut conn)
            .await
            .unwrap()
    }

    /// Jobs on the default queue's stream of `priority` on `shard` (`XLEN`).
    async fn default_queue_length(&self, shard: common::keys::Shard, priority: Priority) -> u64 {
        let mut conn = self.app.redis_connection().await;
        redis::cmd("XLEN")
            .arg(
                self.store
                    .keys()
                    .stream(shard, &QueueName::default(), priority),
            )
            .query_async(&mut conn)
            .await
            .unwrap()
    }

    async fn wait_for_status(&self, run_id: &str, status: RunStatus, timeout: Duration) -> RunView {
        let what = format!("run {run_id} reaches {status}");
        wait_for(timeout, &what, || async {
            self.store
                .get_run(run_id)
                .await
                .expect("run readable")
                .filter(|run| run.status == status)
        })
        .await
    }
}

fn shell_task(key: &str, script: &str, depends_on: &[usize]) -> TaskSpec {
    TaskSpec {
        key: key.into(),
        executor: json!({"type": "command", "argv": ["sh", "-c", script]}),
        depends_on: depends_on.to_vec(),
        queue: None,
        max_retries: 0,
        timeout_secs: None,
        is_hook: false,
    }
}

fn run_of(tasks: Vec<TaskSpec>, payload: Value) -> RunSpec {
    RunSpec {
        id: None,
        definition: "test.flow".into(),
        kind: RunKind::Workflow,
        payload,
        tasks,
        queue: QueueName::default(),
        priority: Priority::Normal,
        periodic: false,
        not_before_ms: None,
        hooks: Default::default(),
    }
}

/// `count` run ids `{prefix}-N` on the shard of `{prefix}-0`, in order: runs created by one
/// call with them are created by one script call.
fn ids_on_one_shard(keys: &common::keys::Keys, prefix: &str, count: usize) -> Vec<String> {
    let shard = keys.shard_of(&format!("{prefix}-0"));
    (0..)
        .map(|i| format!("{prefix}-{i}"))
        .filter(|id| keys.shard_of(id) == shard)
        .take(count)
        .collect()
}

fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn pid_is_alive(pid: i32) -> bool {
    // A zombie (killed, not yet reaped by an init that does not reap) counts as dead.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .split(") ")
            .nth(1)
            .is_some_and(|rest| rest.starts_with('Z')),
        Err(_) => false,
    }
}

#[tokio::test]
async fn dag_fan_out_and_fan_in_runs_to_success_with_parent_results() {
    let world = World::new().await;
    let _worker = world.worker(&[("BATON_CONCURRENCY", "4")]);
    // extract -> (square_a, square_b, square_c) -> join
    let write_result = |value: &str| format!("echo working; echo '{value}' > \"$BATON_RESULT\"");
    let join = "cat > \"$BATON_RESULT\"";
    let spec = run_of(
        vec![
            shell_task("EXTRACT", &write_result("1"), &[]),
            shell_task("A", &write_result("2"), &[0]),
            shell_task("B", &write_result("3"), &[0]),
            shell_task("C", &write_result("4"), &[0]),
            shell_task("JOIN", join, &[1, 2, 3]),
        ],
        json!({"source": "test"}),
    );
    let id = world.store.create_run(&spec).await.unwrap();

    let run = world
        .wait_for_status(&id, RunStatus::Success, Duration::from_secs(20))
        .await;
    assert!(
        run.tasks
            .iter()
            .all(|task| task.status == TaskStatus::Success)
    );
    assert!(run.tasks.iter().all(|task| task.attempt == 1));
    let joined = run.tasks[4].result.clone().expect("join has a result");
    assert_eq!(
        joined["parents"],
        json!([2, 3, 4]),
        "fan-in sees every parent's result in order"
    );
    assert_eq!(joined["payload"], json!({"source": "test"}));
    assert_eq!(joined["run_id"], json!(id));
    // Fan-out: the three middle tasks started only after EXTRACT finished.
    let extract_done = run.tasks[0].finished_ms.unwrap();
    for task in &run.tasks[1..4] {
        assert!(task.started_ms.unwrap() >= extract_done);
    }
    assert!(
        run.tasks[4].started_ms.unwrap()
            >= run.tasks[1..4]
                .iter()
                .map(|t| t.finished_ms.unwrap())
                .max()
                .unwrap()
    );
    let log = world.store.read_log(&id, Some(0), None, 100).await.unwrap();
    assert_eq!(log.first().map(|line| line.line.as_str()), Some("working"));
    let stats = world
        .store
        .queue_stats(&QueueName::default())
        .await
        .unwrap();
    assert_eq!(stats.get("succeeded"), Some(&5));
}

#[tokio::test]
async fn failing_task_retries_with_backoff_then_fails_its_run_into_the_dead_letter_and_requeue_succeeds()
 {
    let world = World::new().await;
    let marker = world.path("fixed");
    let attempts = world.path("attempts");
    let _scheduler = world.scheduler(&[]);
    let _worker = world.worker(&[]);
    let script = format!(
        "date +%s%3N >> '{}'; test -f '{}' || {{ echo 'not fixed yet' >&2; exit 3; }}",
        attempts.display(),
        marker.display()
    );
    let mut task = shell_task("FLAKY", &script, &[]);
    task.max_retries = 2;
    let id = world
        .store
        .create_run(&run_of(
            vec![task, shell_task("AFTER", "true", &[0])],
            Value::Null,
        ))
        .await
        .unwrap();

    let run = world
        .wait_for_status(&id, RunStatus::Error, Duration::from_secs(20))
        .await;
    assert_eq!(run.tasks[0].status, TaskStatus::Error);
    assert_eq!(run.tasks[0].attempt, 3, "one attempt and two retries");
    assert!(
        run.tasks[0]
            .error
            .as_deref()
            .unwrap()
            .contains("exited with status 3")
    );
    assert_eq!(
        run.tasks[1].status,
        TaskStatus::Pending,
        "a failed task's successor never runs"
    );
    let starts: Vec<u64> = read_lines(&attempts)
        .iter()
        .map(|line| line.parse().unwrap())
        .collect();
    assert_eq!(starts.len(), 3);
    // Base 200 ms with equal jitter: the first retry waits at least 100 ms, the second 200 ms.
    assert!(
        starts[1] - starts[0] >= 100,
        "first backoff too short: {starts:?}"
    );
    assert!(
        starts[2] - starts[1] >= 200,
        "second backoff too short: {starts:?}"
    );

    let queue = QueueName::default();
    let dead = world.store.dead_letters(&queue, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].job.run_id, id);
    assert!(dead[0].error.contains("exited with status 3"));
    let stats = world.store.queue_stats(&queue).await.unwrap();
    assert_eq!(stats.get("retried"), Some(&2));
    assert_eq!(stats.get("dead"), Some(&1));

    std::fs::write(&marker, "").unwrap();
    let outcome = world
        .store
        .requeue_dead_letter(&queue, &dead[0].id)
        .await
        .unwrap();
    assert_eq!(outcome, RequeueOutcome::Requeued);
    let run = world
        .wait_for_status(&id, RunStatus::Success, Duration::from_secs(20))
        .await;
    assert_eq!(run.tasks[0].attempt, 4);
    assert_eq!(run.tasks[1].status, TaskStatus::Success);
    assert!(
        world
            .store
            .dead_letters(&queue, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        world
            .store
            .requeue_dead_letter(&queue, &dead[0].id)
            .await
            .unwrap(),
        RequeueOutcome::NotFound
    );
}

#[tokio::test]
async fn killed_worker_job_is_reclaimed_and_counted_once() {
    let world = World::new().await;
    let ran = world.path("ran");
    let _scheduler = world.scheduler(&[]);
    let mut first = world.worker(&[("BATON_WORKER_ID", "first")]);
    let script = format!(
        "echo $$ >> '{}'; sleep 2; echo '\"done\"' > \"$BATON_RESULT\"",
        ran.display()
    );
    let id = world
        .store
        .create_run(&run_of(
            vec![
                shell_task("SLOW", &script, &[]),
                shell_task("NEXT", "true", &[0]),
            ],
            Value::Null,
        ))
        .await
        .unwrap();

    wait_until(
        Duration::from_secs(10),
        "the first worker starts the job",
        || async { !read_lines(&ran).is_empty() },
    )
    .await;
    first.kill_9();
    let _second = world.worker(&[("BATON_WORKER_ID", "second")]);

    let run = world
        .wait_for_status(&id, RunStatus::Success, Duration::from_secs(30))
        .await;
    assert_eq!(
        read_lines(&ran).len(),
        2,
        "the job ran again on the second worker"
    );
    assert_eq!(
        run.tasks[0].attempt, 1,
        "a reclaimed job is a redelivery, not a new attempt"
    );
    assert_eq!(run.tasks[0].worker.as_deref(), Some("second"));
    assert_eq!(run.tasks[0].result, Some(json!("done")));
    assert_eq!(run.tasks[1].status, TaskStatus::Success);
    // The counters are written just after the outcome that finished the run.
    wait_until(Duration::from_secs(5), "the counters catch up", || async {
        world
            .store
            .queue_stats(&QueueName::default())
            .await
            .unwrap()
            .get("succeeded")
            .is_some_and(|count| *count >= 2)
    })
    .await;
    let stats = world
        .store
        .queue_stats(&QueueName::default())
        .await
        .unwrap();
    assert_eq!(stats.get("succeeded"), Some(&2), "each task counted once");
    assert_eq!(
        stats.get("started"),
        Some(&3),
        "SLOW started twice, NEXT once"
    );
    // Nothing is left pending in the group.
    let mut conn = world.app.redis_connection().await;
    let keys = world.store.keys();
    let stream = keys.stream(keys.shard_of(&id), &QueueName::default(), Priority::Normal);
    let pending: redis::streams::StreamPendingReply = redis::cmd("XPENDING")
        .arg(stream)
        .arg(CONSUMER_GROUP)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(pending.count(), 0);
}

#[tokio::test]
async fn sigterm_lets_in_flight_jobs_finish_before_the_worker_exits() {
    let world = World::new().await;
    let started = world.path("started");
    let mut worker = world.worker(&[]);
    let script = format!(
        "touch '{}'; sleep 2; echo '42' > \"$BATON_RESULT\"",
        started.display()
    );
    let id = world
        .store
        .create_run(&run_of(vec![shell_task("SLOW", &script, &[])], Value::Null))
        .await
        .unwrap();
    wait_until(Duration::from_secs(10), "the job starts", || async {
        started.exists()
    })
    .await;

    worker.terminate();
    let status = worker
        .wait_exit_async(Duration::from_secs(15))
        .await
        .expect("worker exits");
    assert!(status.success(), "clean exit: {status:?}");
    let run = world.store.get_run(&id).await.unwrap().unwrap();
    assert_eq!(
        run.status,
        RunStatus::Success,
        "the in-flight job finished before exit"
    );
    assert_eq!(run.tasks[0].result, Some(json!(42)));
    assert!(
        world.store.workers().await.unwrap().is_empty(),
        "the worker left the registry"
    );
}

#[tokio::test]
async fn cancel_kills_a_running_command_and_its_process_group() {
    let world = World::new().await;
    let pid_file = world.path("child.pid");
    let _worker = world.worker(&[]);
    let script = format!("sleep 60 & echo $! > '{}'; wait", pid_file.display());
    let id = world
        .store
        .create_run(&run_of(
            vec![
                shell_task("LONG", &script, &[]),
                shell_task("NEVER", "true", &[0]),
            ],
            Value::Null,
        ))
        .await
        .unwrap();
    let child: i32 = wait_for(
        Duration::from_secs(10),
        "the command starts its child",
        || async {
            std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|text| text.trim().parse().ok())
        },
    )
    .await;
    assert!(pid_is_alive(child));

    let outcome = world.store.cancel_run(&id).await.unwrap();
    assert_eq!(outcome, CancelOutcome::Canceled { running: vec![0] });
    wait_until(
        Duration::from_secs(5),
        "the background child is killed",
        || async { !pid_is_alive(child) },
    )
    .await;
    let run = world.store.get_run(&id).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Canceled);
    assert!(
        run.tasks
            .iter()
            .all(|task| task.status == TaskStatus::Canceled)
    );
    assert_eq!(
        world.store.cancel_run(&id).await.unwrap(),
        CancelOutcome::AlreadyFinished(RunStatus::Canceled)
    );
}

#[tokio::test]
async fn timeout_kills_the_command_and_fails_the_task() {
    let world = World::new().await;
    let _worker = world.worker(&[]);
    let mut task = shell_task("HANGS", "echo before; sleep 30", &[]);
    task.timeout_secs = Some(1);
    let id = world
        .store
        .create_run(&run_of(vec![task], Value::Null))
        .await
        .unwrap();
    let run = world
        .wait_for_status(&id, RunStatus::Error, Duration::from_secs(10))
        .await;
    assert!(
        run.tasks[0]
            .error
            .as_deref()
            .unwrap()
            .contains("timed out after 1 s")
    );
    let finished = run.tasks[0].finished_ms.unwrap() - run.tasks[0].started_ms.unwrap();
    assert!(finished < 5000, "killed promptly, took {finished} ms");
}

#[tokio::test]
async fn progress_and_log_lines_are_readable_while_the_task_runs() {
    let world = World::new().await;
    let _worker = world.worker(&[]);
    let script = "echo step-1; sleep 1; echo step-2; sleep 30";
    let mut task = shell_task("TALKS", script, &[]);
    task.timeout_secs = Some(20);
    let id = world
        .store
        .create_run(&run_of(vec![task], Value::Null))
        .await
        .unwrap();
    let lines = wait_for(
        Duration::from_secs(10),
        "two log lines while running",
        || async {
            let lines = world.store.read_log(&id, Some(0), None, 100).await.unwrap();
            (lines.len() >= 2).then_some(lines)
        },
    )
    .await;
    assert_eq!(lines[0].line, "step-1");
    assert_eq!(lines[1].line, "step-2");
    let newer = world
        .store
        .read_log(&id, Some(0), Some(&lines[0].id), 100)
        .await
        .unwrap();
    assert_eq!(
        newer[0].line, "step-2",
        "reading after an id gives only newer lines"
    );
    let run = world.store.get_run(&id).await.unwrap().unwrap();
    assert_eq!(run.tasks[0].status, TaskStatus::Running);
    world.store.cancel_run(&id).await.unwrap();
}

#[tokio::test]
async fn malformed_jobs_and_unknown_task_types_fail_cleanly_and_the_worker_keeps_going() {
    let world = World::new().await;
    let mut worker = world.worker(&[]);
    let queue = QueueName::default();
    let mut conn = world.app.redis_connection().await;
    let keys = world.store.keys();
    let stream = keys.stream(keys.shard_of("no-such-run"), &queue, Priority::Normal);
    // Not a job at all, and a job for a run that does not exist.
    redis::cmd("XADD")
        .arg(&stream)
        .arg("*")
        .arg("garbage")
        .arg("yes")
        .query_async::<String>(&mut conn)
        .await
        .unwrap();
    redis::cmd("XADD")
        .arg(&stream)
        .arg("*")
        .arg("r")
        .arg("no-such-run")
        .arg("t")
        .arg("0")
        .arg("a")
        .arg("1")
        .query_async::<String>(&mut conn)
        .await
        .unwrap();
    let unknown_type = TaskSpec {
        executor: json!({"type": "teleport", "to": "mars"}),
        ..shell_task("ODD", "true", &[])
    };
    let unknown_handler = TaskSpec {
        executor: json!({"type": "handler", "name": "does_not_exist"}),
        ..shell_task("NOBODY", "true", &[])
    };
    let bad_argv = TaskSpec {
        executor: json!({"type": "command", "argv": "not a list"}),
        ..shell_task("BADARGS", "true", &[])
    };
    let empty_argv = TaskSpec {
        executor: json!({"type": "command", "argv": []}),
        ..shell_task("EMPTY", "true", &[])
    };
    let mut ids = Vec::new();
    for task in [unknown_type, unknown_handler, bad_argv, empty_argv] {
        let mut task = task;
        task.max_retries = 3;
        ids.push(
            world
                .store
                .create_run(&run_of(vec![task], Value::Null))
                .await
                .unwrap(),
        );
    }
    for id in &ids {
        let run = world
            .wait_for_status(id, RunStatus::Error, Duration::from_secs(10))
            .await;
        assert_eq!(
            run.tasks[0].attempt, 1,
            "a task that can never run is not retried"
        );
        let error = run.tasks[0].error.clone().unwrap();
        assert!(
            error.contains("invalid executor")
                || error.contains("no handler named")
                || error.contains("argv"),
            "unclear error: {error}"
        );
    }
    let good = world
        .store
        .create_run(&run_of(vec![shell_task("FINE", "true", &[])], Value::Null))
        .await
        .unwrap();
    world
        .wait_for_status(&good, RunStatus::Success, Duration::from_secs(10))
        .await;
    assert!(worker.is_running(), "the worker survived");
    let dead = world.store.dead_letters(&queue, 20).await.unwrap();
    assert!(
        dead.iter()
            .any(|record| record.error.contains("malformed job entry"))
    );
}

/// Slot by slot timing (once per slot, the next slot, catch-up) is in `scheduler.rs` on a
/// stepped clock; this proves it across real processes and the leader's crash.
#[tokio::test]
async fn two_schedulers_fire_each_periodic_slot_exactly_once_and_a_standby_takes_over() {
    let world = World::new().await;
    let definition = Definition {
        name: "test.TICK".into(),
        tasks: vec![TaskSpec {
            executor: json!({"type": "handler", "name": "noop"}),
            ..shell_task("TICK", "true", &[])
        }],
        queue: QueueName::default(),
        priority: Priority::Normal,
        periodic: Some(PeriodicSpec {
            interval: Some(1),
            crontab: None,
            payload: json!({"dry_run": false}),
        }),
        hooks: Default::default(),
        retention_offset: None,
    };
    world.store.put_definition(&definition).await.unwrap();
    let _worker = world.worker(&[]);
    let mut first = world.scheduler(&[("BATON_SCHEDULER_ID", "first")]);
    let mut second = world.scheduler(&[("BATON_SCHEDULER_ID", "second")]);
    wait_until(Duration::from_secs(5), "a leader is elected", || async {
        world.store.scheduler_leader().await.unwrap().is_some()
    })
    .await;
    let fired_slot = || async { world.store.last_fired_slot("test.TICK").await.unwrap() };
    wait_until(
        Duration::from_secs(5),
        "the leader fires two slots",
        || async { world.store.list_run_ids(0, 1000).await.unwrap().len() >= 2 },
    )
    .await;

    // Kill the leader; the standby must take over within the lease (2 s) plus a tick.
    let leader = world.store.scheduler_leader().await.unwrap().unwrap();
    let (dead, standby) = if leader == "first" {
        (&mut first, "second")
    } else {
        (&mut second, "first")
    };
    dead.kill_9();
    let killed_at = std::time::Instant::now();
    wait_until(Duration::from_secs(4), "the standby takes over", || async {
        world.store.scheduler_leader().await.unwrap().as_deref() == Some(standby)
    })
    .await;
    assert!(
        killed_at.elapsed() <= Duration::from_millis(3000),
        "takeover took {:?}",
        killed_at.elapsed()
    );
    // The standby fires on: two slots past the one fired when it took over.
    let taken_over_at = fired_slot().await.unwrap();
    wait_until(
        Duration::from_secs(5),
        "the standby fires two more slots",
        || async {
            fired_slot()
                .await
                .is_some_and(|slot| slot >= taken_over_at + 2000)
        },
    )
    .await;
    // Stop firing before reading, so the runs and the last fired slot agree.
    first.kill_9();
    second.kill_9();

    let ids = world.store.list_run_ids(0, 1000).await.unwrap();
    let runs = world.store.get_runs(&ids).await.unwrap();
    assert!(
        runs.iter()
            .all(|run| run.periodic && run.payload == json!({"dry_run": false}))
    );
    // Every slot from the first fired one to the last has exactly one run: the run id is a
    // function of the slot, and no slot is missing, even across the failover.
    let last_slot = world
        .store
        .last_fired_slot("test.TICK")
        .await
        .unwrap()
        .unwrap();
    let expected: Vec<String> = (0..runs.len() as u64)
        .map(|back| {
            definition
                .periodic_run_spec(world.app.prefix(), last_slot - back * 1000)
                .id
                .unwrap()
        })
        .collect();
    let mut actual = ids.clone();
    actual.sort();
    let mut expected_sorted = expected.clone();
    expected_sorted.sort();
    assert_eq!(actual, expected_sorted, "one run per consecutive slot");
    assert!(runs.len() >= 4, "got {}", runs.len());
}

/// When a delayed job is promoted, to the millisecond, is in `scheduler.rs` on a stepped
/// clock; this proves the processes run it, not before it is due.
#[tokio::test]
async fn delayed_runs_start_only_when_due() {
    let world = World::new().await;
    let _scheduler = world.scheduler(&[]);
    let _worker = world.worker(&[]);
    let mut spec = run_of(vec![shell_task("LATER", "true", &[])], Value::Null);
    let due = common::time::now_ms() + 800;
    spec.not_before_ms = Some(due);
    let id = world.store.create_run(&spec).await.unwrap();
    let run = world
        .wait_for_status(&id, RunStatus::Success, Duration::from_secs(10))
        .await;
    assert!(run.tasks[0].started_ms.unwrap() >= due);
}

#[tokio::test]
async fn creating_a_run_twice_with_its_id_is_harmless_and_enqueues_it_once() {
    let world = World::new().await;
    let mut spec = run_of(vec![shell_task("ONCE", "true", &[])], Value::Null);
    spec.id = Some("fixed-run-id".into());
    // Two creators racing for the same deterministic id (the API and the scheduler do).
    let (first, second) =
        tokio::join!(world.store.create_run(&spec), world.store.create_run(&spec));
    assert_eq!(first.unwrap(), "fixed-run-id");
    assert_eq!(second.unwrap(), "fixed-run-id");
    let again = world.store.create_run(&spec).await.unwrap();
    assert_eq!(again, "fixed-run-id");
    let mut conn = world.app.redis_connection().await;
    let keys = world.store.keys();
    let stream = keys.stream(
        keys.shard_of("fixed-run-id"),
        &QueueName::default(),
        Priority::Normal,
    );
    let queued: u64 = redis::cmd("XLEN")
        .arg(&stream)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        queued, 1,
        "one job for the run, however often it is created"
    );
}

#[tokio::test]
async fn finished_runs_expire_with_the_retention_but_projects_are_kept() {
    let world = World::new().await;
    let _worker = world.worker(&[("BATON_RETENTION_SECS", "600")]);
    let ordinary = world
        .store
        .create_run(&run_of(
            vec![shell_task("DONE", "echo hi", &[])],
            Value::Null,
        ))
        .await
        .unwrap();
    let mut project = run_of(vec![shell_task("DONE", "echo hi", &[])], Value::Null);
    project.definition = common::engine::model::project_definition("article");
    project.kind = RunKind::Project;
    let project = world.store.create_run(&project).await.unwrap();
    let mut failing = run_of(
        vec![shell_task("FAIL", "echo bad; exit 3", &[])],
        Value::Null,
    );
    failing.definition = common::engine::model::project_definition("article");
    failing.kind = RunKind::Project;
    let failing = world.store.create_run(&failing).await.unwrap();
    for (id, status) in [
        (&ordinary, RunStatus::Success),
        (&project, RunStatus::Success),
        (&failing, RunStatus::Error),
    ] {
        world
            .wait_for_status(id, status, Duration::from_secs(20))
            .await;
    }
    let conn = world.app.redis_connection().await;
    let keys = world.store.keys();
    let ttl = |key: String| {
        let mut conn = conn.clone();
        async move {
            redis::cmd("TTL")
                .arg(key)
                .query_async::<i64>(&mut conn)
                .await
                .unwrap()
        }
    };
    let expiring = ttl(keys.run(&ordinary)).await;
    assert!((1..=600).contains(&expiring), "ordinary run TTL {expiring}");
    assert!(ttl(keys.run_log(&ordinary)).await > 0);
    for id in [&project, &failing] {
        assert_eq!(ttl(keys.run(id)).await, -1, "project run {id} is kept");
        assert_eq!(ttl(keys.run_log(id)).await, -1, "its log too");
    }
    // A canceled project is kept as well.
    let mut waiting = run_of(vec![shell_task("LATER", "true", &[])], Value::Null);
    waiting.definition = common::engine::model::project_definition("article");
    waiting.kind = RunKind::Project;
    waiting.not_before_ms = Some(common::time::now_ms() + 60_000);
    let waiting = world.store.create_run(&waiting).await.unwrap();
    world.store.cancel_run(&waiting).await.unwrap();
    assert_eq!(ttl(keys.run(&waiting)).await, -1);
}

#[tokio::test]
async fn high_priority_jobs_are_served_before_low_ones() {
    let world = World::new().await;
    let keys = world.store.keys();
    let order = world.path("order");
    let gate = world.path("gate");
    // A busy worker: its only slot runs a task that waits for the gate, while the low jobs
    // and then the high ones arrive.
    let _worker = world.worker(&[("BATON_CONCURRENCY", "1")]);
    let busy = run_of(
        vec![shell_task(
            "BUSY",
            &format!("while [ ! -e '{}' ]; do sleep 0.05; done", gate.display()),
            &[],
        )],
        Value::Null,
    );
    let busy = world.store.create_run(&busy).await.unwrap();
    world
        .wait_for_status(&busy, RunStatus::Progress, Duration::from_secs(10))
        .await;
    // Each high job lands on the shard of a low one, so the reader of that shard first queues
    // for the slot with low work and must notice the high job that arrives after it.
    let job = |priority: Priority, label: String, id: String| {
        let mut spec = run_of(
            vec![shell_task(
                "P",
                &format!("echo {label} >> '{}'", order.display()),
                &[],
            )],
            Value::Null,
        );
        spec.id = Some(id);
        spec.priority = priority;
        spec
    };
    // Each pair on a shard of its own, not the busy run's: each shard's reader then reads
    // its high job and its low one as its first reads after the gate, far from the turn every
    // fifth read of a reader gives the lower priorities first (so they are never starved),
    // which would let a reader that had read several times serve its low job first.
    let mut used = vec![keys.shard_of(&busy)];
    let (mut lows, mut highs) = (Vec::new(), Vec::new());
    for n in 0..6 {
        let low_id = loop {
            let id = uuid::Uuid::new_v4().to_string();
            if !used.contains(&keys.shard_of(&id)) {
                break id;
            }
        };
        used.push(keys.shard_of(&low_id));
        let high_id = loop {
            let id = uuid::Uuid::new_v4().to_string();
            if keys.shard_of(&id) == keys.shard_of(&low_id) {
                break id;
            }
        };
        lows.push(job(Priority::Low, format!("low-{n}"), low_id));
        highs.push(job(Priority::High, format!("high-{n}"), high_id));
    }
    world.store.create_runs(&lows).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    world.store.create_runs(&highs).await.unwrap();
    // Let every shard's reader see its high job before the slot frees up (a loaded machine is
    // slow to wake them all).
    tokio::time::sleep(Duration::from_millis(3000)).await;
    std::fs::write(&gate, "").unwrap();
    wait_until(Duration::from_secs(20), "all twelve ran", || async {
        read_lines(&order).len() == 12
    })
    .await;
    let served = read_lines(&order);
    assert!(
        served[..6].iter().all(|line| line.starts_with("high")),
        "high jobs go first: {served:?}"
    );
    assert!(
        served[6..].iter().all(|line| line.starts_with("low")),
        "low ones still run: {served:?}"
    );
}

#[tokio::test]
async fn a_run_its_indexes_and_its_first_jobs_are_written_together_on_its_shard() {
    let world = World::new().await;
    let spec = run_of(
        vec![
            shell_task("A", "true", &[]),
            shell_task("B", "true", &[]),
            shell_task("C", "true", &[0, 1]),
        ],
        Value::Null,
    );
    let id = world.store.create_run(&spec).await.unwrap();
    let keys = world.store.keys();
    let shard = keys.shard_of(&id);
    let mut conn = world.app.redis_connection().await;
    let (queued, active, by_definition): (u64, Option<f64>, Option<f64>) = redis::pipe()
        .cmd("XLEN")
        .arg(keys.stream(shard, &QueueName::default(), Priority::Normal))
        .cmd("ZSCORE")
        .arg(keys.active_index(shard, RunKind::Workflow))
        .arg(&id)
        .cmd("ZSCORE")
        .arg(keys.definition_index(shard, RunKind::Workflow, &spec.definition))
        .arg(&id)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        queued, 2,
        "the two root tasks are queued, their successor waits"
    );
    assert!(active.is_some() && by_definition.is_some());
    let run_key = keys.run(&id);
    let tag = format!("{{s:{shard}}}");
    assert!(run_key.contains(&tag), "{run_key} is on shard {shard}");
    let _worker = world.worker(&[]);
    world
        .wait_for_status(&id, RunStatus::Success, Duration::from_secs(15))
        .await;
    let (active, succeeded): (Option<f64>, Option<f64>) = redis::pipe()
        .cmd("ZSCORE")
        .arg(keys.active_index(shard, RunKind::Workflow))
        .arg(&id)
        .cmd("ZSCORE")
        .arg(keys.finished_index(shard, RunKind::Workflow, RunStatus::Success))
        .arg(&id)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(active, None, "a finished run leaves the active index");
    assert!(succeeded.is_some(), "and enters its status's index");
}

#[tokio::test]
async fn success_and_failure_hooks_run_once_when_the_run_finishes() {
    let world = World::new().await;
    let _worker = world.worker(&[]);
    let hooked = world.path("hooks");
    let hook = |name: &str, deps: &[usize]| TaskSpec {
        is_hook: true,
        ..shell_task(
            name,
            &format!(
                "echo {name} >> '{}'; cat > \"$BATON_RESULT\"",
                hooked.display()
            ),
            deps,
        )
    };

    let mut good = run_of(
        vec![
            shell_task("WORK", "echo '\"made\"' > \"$BATON_RESULT\"", &[]),
            hook("ON_SUCCESS", &[0]),
            hook("ON_FAILURE", &[0]),
        ],
        Value::Null,
    );
    good.hooks = common::engine::model::RunHooks {
        on_success: Some(1),
        on_failure: Some(2),
    };
    let id = world.store.create_run(&good).await.unwrap();
    let run = world
        .wait_for_task_success(&id, 1, "the success hook ran")
        .await;
    assert_eq!(run.status, RunStatus::Success);
    assert_eq!(
        run.tasks[1].result.as_ref().unwrap()["parents"],
        json!(["made"]),
        "the hook sees the result"
    );
    assert_eq!(
        run.tasks[2].status,
        TaskStatus::Pending,
        "the failure hook never runs"
    );

    let mut bad = run_of(
        vec![
            shell_task("BREAKS", "exit 1", &[]),
            hook("ON_FAILURE", &[0]),
        ],
        Value::Null,
    );
    bad.hooks.on_failure = Some(1);
    let id = world.store.create_run(&bad).await.unwrap();
    let run = world
        .wait_for_task_success(&id, 1, "the failure hook ran")
        .await;
    assert_eq!(
        run.status,
        RunStatus::Error,
        "a hook does not change the run's status"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        read_lines(&hooked),
        vec!["ON_SUCCESS", "ON_FAILURE"],
        "each hook ran exactly once"
    );
}

/// The hash a new run is stored as, with its creation time replaced by `<now>`, so two
/// creations compare equal; and its tasks' ids, as read, are distinct UUIDs.
async fn stored_new_run(
    world: &World,
    spec: &RunSpec,
) -> std::collections::BTreeMap<String, String> {
    let id = world.store.create_run(spec).await.unwrap();
    let read = world.store.get_run(&id).await.unwrap().unwrap();
    let task_ids: std::collections::BTreeSet<&str> =
        read.tasks.iter().map(|task| task.id.as_str()).collect();
    assert_eq!(task_ids.len(), spec.tasks.len(), "distinct task ids");
    assert!(task_ids.iter().all(|id| uuid::Uuid::parse_str(id).is_ok()));
    world
        .stored_fields(&id)
        .await
        .into_iter()
        .map(|(name, value)| {
            let value = if name == "created" || name == "listed" {
                let created = fields_created(&value);
                value.replace(&created, "<now>")
            } else {
                value
            };
            (name, value)
        })
        .collect()
}

/// The creation time (13 digits) within a stored value.
fn fields_created(value: &str) -> String {
    value
        .split(' ')
        .find(|part| part.len() == 13 && part.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or_else(|| panic!("no creation time in {value:?}"))
        .to_owned()
}

#[tokio::test]
async fn a_finished_run_stores_no_time_or_progress_its_readers_derive() {
    let world = World::new().await;
    let _worker = world.worker(&[]);
    let spec = run_of(vec![shell_task("A", "true", &[])], Value::Null);
    let id = world.store.create_run(&spec).await.unwrap();
    let run = world
        .wait_for_status(&id, RunStatus::Success, Duration::from_secs(20))
        .await;
    let fields = world.stored_fields(&id).await;
    // The start and the finish write neither a task's `updated` (the latest of the times that
    // are written), nor a first delivery, nor a succeeded task's progress; the finish leaves
    // the run's `updated` as its start wrote it.
    assert_eq!(fields.get("updated"), fields.get("t0.started"));
    for derived in ["t0.updated", "t0.delivery", "t0.progress"] {
        assert!(!fields.contains_key(derived), "{derived} in {fields:?}");
    }
    let task = &run.tasks[0];
    let (started, finished) = (task.started_ms.unwrap(), task.finished_ms.unwrap());
    assert!(run.created_ms <= started && started <= finished);
    assert_eq!(run.finished_ms, Some(finished));
    assert_eq!((run.updated_ms, task.updated_ms), (finished, finished));
    assert_eq!(task.progress, 100);
}

#[tokio::test]
async fn a_new_run_is_stored_as_its_fields_and_only_what_differs_from_the_defaults() {
    type Fields = std::collections::BTreeMap<String, String>;
    let world = World::new().await;
    let pairs = |pairs: &[(&str, &str)]| -> Fields {
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    };
    // Every new run's own fields, and every task's, with the values that differ between runs.
    // A null payload, the normal priority, the default queue, a task's id (derived from its
    // run's), its first attempt and its queue when it is its run's are not stored.
    let run = |ntasks: &str| -> Fields {
        pairs(&[
            ("definition", "test.flow"),
            ("kind", "workflow"),
            ("status", "pending"),
            ("created", "<now>"),
            ("listed", "pending  <now> "),
            ("ntasks", ntasks),
        ])
    };
    let executor = r#"{"argv":["sh","-c","true"],"type":"command"}"#;
    let task = |index: usize, key: &str, status: &str| -> Fields {
        [("key", key), ("executor", executor), ("status", status)]
            .into_iter()
            .map(|(name, value)| (format!("t{index}.{name}"), value.to_owned()))
            .collect()
    };

    let plain = run_of(vec![shell_task("A", "true", &[])], Value::Null);
    let mut expected = run("1");
    expected.extend(task(0, "A", "queued"));
    assert_eq!(stored_new_run(&world, &plain).await, expected);

    // Everything a run may hold besides: a periodic, delayed, high-priority run whose tasks use
    // two queues, with a dependency, retries, a timeout and a success hook.
    let mut tasks = vec![
        shell_task("A", "true", &[]),
        shell_task("B", "true", &[0]),
        shell_task("H", "true", &[]),
    ];
    tasks[1].queue = Some(QueueName::parse("other").unwrap());
    tasks[1].max_retries = 2;
    tasks[1].timeout_secs = Some(30);
    tasks[2].is_hook = true;
    let mut full = run_of(tasks, json!({"n": 1}));
    full.periodic = true;
    full.priority = Priority::High;
    full.not_before_ms = Some(4_000_000_000_000);
    full.hooks.on_success = Some(2);
    let mut expected = run("3");
    expected.extend(task(0, "A", "queued"));
    expected.extend(task(1, "B", "pending"));
    expected.extend(task(2, "H", "pending"));
    expected.extend(pairs(&[
        ("payload", r#"{"n":1}"#),
        ("priority", "high"),
        ("t1.queue", "other"),
        ("periodic", "1"),
        ("hook_success", "2"),
        ("nwork", "2"),
        ("not_before", "4000000000000"),
        ("queues", "default,other"),
        ("t0.succ", "1"),
        ("t1.deps", "0"),
        ("t1.waiting", "1"),
        ("t1.retries", "2"),
        ("t1.timeout", "30"),
        ("t2.hook", "1"),
    ]));
    assert_eq!(stored_new_run(&world, &full).await, expected);

    // A run on a queue of its own stores it; a task of it on the default queue stores that.
    let mut tasks = vec![shell_task("A", "true", &[]), shell_task("B", "true", &[])];
    tasks[1].queue = Some(QueueName::default());
    let mut elsewhere = run_of(tasks, Value::Null);
    elsewhere.queue = QueueName::parse("other").unwrap();
    let mut expected = run("2");
    expected.extend(task(0, "A", "queued"));
    expected.extend(task(1, "B", "queued"));
    expected.extend(pairs(&[
        ("queue", "other"),
        ("queues", "default,other"),
        ("t1.queue", "default"),
    ]));
    assert_eq!(stored_new_run(&world, &elsewhere).await, expected);
}

#[tokio::test]
async fn a_run_on_a_queue_of_its_own_runs_its_retries_successors_and_hook_there() {
    // Its tasks name no queue and its hash stores none for them: every job of the run (the
    // first, the retry, the successor, the hook) must still go to the run's queue, the only
    // one a worker takes.
    let world = World::new().await;
    let _worker = world.worker(&[("BATON_QUEUES", "elsewhere")]);
    // It promotes the retry when it is due.
    let _scheduler = world.scheduler(&[]);
    let marker = world.path("failed-once");
    let once = format!(
        "test -e '{0}' || {{ touch '{0}'; exit 1; }}",
        marker.display()
    );
    let mut tasks = vec![
        shell_task("A", &once, &[]),
        shell_task("B", "true", &[0]),
        TaskSpec {
            is_hook: true,
            ..shell_task("H", "true", &[])
        },
    ];
    tasks[0].max_retries = 1;
    let mut spec = run_of(tasks, Value::Null);
    spec.queue = QueueName::parse("elsewhere").unwrap();
    spec.hooks.on_success = Some(2);
    let id = "on-its-own-queue".to_owned();
    spec.id = Some(id.clone());
    let stored = stored_new_run(&world, &spec).await;
    assert!(
        stored.keys().all(|name| !name.ends_with(".queue")),
        "{stored:?}"
    );

    let run = world.wait_for_task_success(&id, 2, "the hook ran").await;
    assert_eq!(run.status, RunStatus::Success);
    assert_eq!(run.tasks[0].attempt, 2, "A ran again after failing once");
    for task in &run.tasks {
        assert_eq!(task.queue.as_str(), "elsewhere", "{}", task.key);
    }
    let default = world
        .store
        .queue_stats(&QueueName::default())
        .await
        .unwrap();
    assert_eq!(
        default.get("enqueued").copied().unwrap_or(0),
        0,
        "{default:?}"
    );
}

#[tokio::test]
async fn runs_sharing_a_shape_in_one_call_are_each_stored_with_only_their_own_payload() {
    let world = World::new().await;
    let keys = world.store.keys();
    // Five ids on one shard, so that one script call creates them all.
    let ids = ids_on_one_shard(keys, "shaped", 5);
    let shard = keys.shard_of(&ids[0]);
    let chain = || vec![shell_task("A", "true", &[]), shell_task("B", "true", &[0])];
    let with = |id: &String, payload: Value, tasks: Vec<TaskSpec>| RunSpec {
        id: Some(id.clone()),
        ..run_of(tasks, payload)
    };
    // One of them exists already, with its own payload.
    let existing = with(&ids[2], json!({"kept": true}), chain());
    world.store.create_run(&existing).await.unwrap();
    let mut other = with(&ids[4], json!({"n": 4}), chain());
    other.priority = Priority::High;
    let specs = vec![
        with(&ids[0], json!({"n": 0}), chain()),
        with(&ids[1], Value::Null, chain()),
        with(&ids[2], json!({"n": 2}), chain()),
        with(&ids[3], json!({"n": 3}), vec![shell_task("A", "true", &[])]),
        other,
    ];
    assert_eq!(world.store.create_runs(&specs).await.unwrap(), ids);

    let mut expected = specs.clone();
    expected[2] = existing;
    let mut conn = world.app.redis_connection().await;
    for spec in &expected {
        let id = spec.id.as_ref().unwrap();
        let run = world.store.get_run(id).await.unwrap().unwrap();
        assert_eq!(run.payload, spec.payload, "{id}");
        assert_eq!(run.priority, spec.priority, "{id}");
        assert_eq!(run.tasks.len(), spec.tasks.len(), "{id}");
        assert_eq!(run.tasks[0].status, TaskStatus::Queued, "{id}");
        let has_payload: bool = redis::cmd("HEXISTS")
            .arg(keys.run(id))
            .arg("payload")
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(has_payload, !spec.payload.is_null(), "{id}");
    }
    let normal = world.default_queue_length(shard, Priority::Normal).await;
    let high = world.default_queue_length(shard, Priority::High).await;
    assert_eq!(
        (normal, high),
        (4, 1),
        "one first job per run, the existing one's once"
    );
}

#[tokio::test]
async fn a_run_of_hundreds_of_tasks_is_written_whole() {
    let world = World::new().await;
    // 300 tasks are over 1,800 values to write: creation writes them in chunks of 1,000.
    let tasks: Vec<TaskSpec> = (0..300)
        .map(|index| shell_task(&format!("T{index}"), "true", &[]))
        .collect();
    let spec = RunSpec {
        id: Some("wide-0".into()),
        ..run_of(tasks, json!({"wide": true}))
    };
    world.store.create_runs(&[spec]).await.unwrap();
    let run = world.store.get_run("wide-0").await.unwrap().unwrap();
    assert_eq!(run.payload, json!({"wide": true}));
    assert_eq!(run.tasks.len(), 300);
    assert!(run.tasks.iter().enumerate().all(|(index, task)| {
        task.key == format!("T{index}") && task.status == TaskStatus::Queued
    }));
    let shard = world.store.keys().shard_of("wide-0");
    let queued = world.default_queue_length(shard, Priority::Normal).await;
    assert_eq!(queued, 300, "one first job per task");
}

#[tokio::test]
async fn a_new_run_named_twice_in_one_call_is_created_once() {
    let world = World::new().await;
    // Three new ids on one shard, the first named twice: the call finds none of them stored.
    let ids = ids_on_one_shard(world.store.keys(), "twice", 3);
    let new_run = |at: usize, n: u64| RunSpec {
        id: Some(ids[at].clone()),
        ..run_of(vec![shell_task("A", "true", &[])], json!({ "n": n }))
    };
    let specs = [(0, 0), (1, 1), (0, 2), (2, 3)].map(|(at, n)| new_run(at, n));
    world.store.create_runs(&specs).await.unwrap();
    let shard = world.store.keys().shard_of(&ids[0]);

    let run = world.store.get_run(&ids[0]).await.unwrap().unwrap();
    assert_eq!(run.payload, json!({"n": 0}), "the first naming wins");
    let queued = world.default_queue_length(shard, Priority::Normal).await;
    assert_eq!(queued, 3, "one first job per run");
}

#[tokio::test]
async fn runs_of_two_kinds_created_in_one_call_each_enter_their_own_kinds_indexes() {
    let world = World::new().await;
    let keys = world.store.keys();
    // Two ids on one shard, so that one script call creates both.
    let [first, second]: [String; 2] = ids_on_one_shard(keys, "mixed", 2).try_into().unwrap();
    let shard = keys.shard_of(&first);
    let mut workflow = run_of(vec![shell_task("A", "true", &[])], Value::Null);
    workflow.id = Some(first.clone());
    let mut report = run_of(vec![shell_task("R", "true", &[])], Value::Null);
    report.id = Some(second.clone());
    report.kind = RunKind::Report;
    report.definition = "report:sales".into();
    world
        .store
        .create_runs(&[workflow.clone(), report.clone()])
        .await
        .unwrap();
    let mut conn = world.app.redis_connection().await;
    let score = |key: String, member: &str| redis::cmd("ZSCORE").arg(key).arg(member).clone();
    let scores: Vec<Option<f64>> = redis::pipe()
        .add_command(score(keys.active_index(shard, RunKind::Workflow), &first))
        .add_command(score(keys.active_index(shard, RunKind::Report), &second))
        .add_command(score(
            keys.definition_index(shard, RunKind::Workflow, &workflow.definition),
            &first,
        ))
        .add_command(score(
            keys.definition_index(shard, RunKind::Report, &report.definition),
            &second,
        ))
        .add_command(score(keys.active_index(shard, RunKind::Report), &first))
        .add_command(score(keys.active_index(shard, RunKind::Workflow), &second))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        scores[..4].iter().all(Option::is_some),
        "each run is in its own kind's indexes: {scores:?}"
    );
    assert_eq!(scores[4..], [None, None], "and in no other kind's");
    let queued: u64 = redis::cmd("XLEN")
        .arg(keys.stream(shard, &QueueName::default(), Priority::Normal))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(queued, 2, "both runs' first jobs are queued");
    for (id, kind) in [(&first, RunKind::Workflow), (&second, RunKind::Report)] {
        let run = world.store.get_run(id).await.unwrap().unwrap();
        assert_eq!((run.kind, run.status), (kind, RunStatus::Pending));
    }
}

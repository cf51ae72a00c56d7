//! End-to-end tests of what the console's overview, queues and workers pages read and do:
//! pausing and resuming queues, queue summaries, the outcome series, worker records that go
//! stale, and dead letters deleted or requeued all at once. Real `redis-server`, real
//! `baton-worker` and `baton-scheduler` processes, driven through the `common` store.

use std::path::{Path, PathBuf};
use std::time::Duration;

use baton_tests::TestApp;
use baton_tests::process::BatonProcess;
use baton_tests::wait::{wait_for, wait_until};
use common::engine::model::{
    Priority, QueueName, RunKind, RunSpec, RunStatus, TaskSpec, TaskStatus,
};
use common::keys::Shard;
use common::store::Store;
use common::store::engine::dead_letters::{DeadLetterId, RequeueOutcome};
use common::store::engine::queues::QueueSummary;
use common::store::engine::runs::RunView;
use common::store::engine::series::{PER_MINUTE_POINTS, PER_SECOND_POINTS, SeriesPoint};
use common::store::engine::workers::WorkerRecord;
use common::time::now_ms;
use redis::aio::MultiplexedConnection;
use serde_json::{Value, json};

/// How long a paused queue's job is watched to make sure it stays waiting.
const STAYS_WAITING: Duration = Duration::from_millis(2500);

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

    /// Spawns `binary` with this world's Redis and prefix, `defaults`, then `extra` settings.
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

    /// A worker on `queues` with fast test timings.
    fn worker(&self, queues: &str, extra: &[(&str, &str)]) -> BatonProcess {
        let defaults = [
            ("BATON_QUEUES", queues),
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

    async fn create(&self, queue: &QueueName, task: TaskSpec) -> String {
        self.create_spec(run_on(queue, task, Priority::Normal))
            .await
    }

    async fn create_spec(&self, spec: RunSpec) -> String {
        self.store.create_run(&spec).await.expect("run created")
    }

    async fn run(&self, id: &str) -> RunView {
        self.store
            .get_run(id)
            .await
            .expect("run readable")
            .expect("run exists")
    }

    async fn wait_for_status(&self, id: &str, status: RunStatus, timeout: Duration) -> RunView {
        let what = format!("run {id} reaches {status}");
        wait_for(timeout, &what, || async {
            self.store
                .get_run(id)
                .await
                .expect("run readable")
                .filter(|run| run.status == status)
        })
        .await
    }

    /// Checks for a while that the run's only task stays queued (its job waiting).
    async fn assert_stays_queued(&self, id: &str, why: &str) {
        let until = tokio::time::Instant::now() + STAYS_WAITING;
        while tokio::time::Instant::now() < until {
            let run = self.run(id).await;
            assert_eq!(run.tasks[0].status, TaskStatus::Queued, "{why}: {run:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn summary(&self, queue: &QueueName) -> QueueSummary {
        self.store
            .queue_summary(queue)
            .await
            .expect("summary readable")
            .expect("the queue is known")
    }

    /// Waits until a worker has heart-beaten (so it is up and waiting for jobs).
    async fn wait_for_a_worker(&self) {
        wait_until(
            Duration::from_secs(10),
            "the worker heart-beats",
            || async { !self.store.workers().await.unwrap().is_empty() },
        )
        .await;
    }

    async fn worker_record(&self, id: &str) -> Option<WorkerRecord> {
        self.store
            .workers()
            .await
            .expect("workers readable")
            .into_iter()
            .find(|worker| worker.id == id)
    }
}

fn queue(name: &str) -> QueueName {
    QueueName::parse(name).unwrap()
}

fn shell_task(key: &str, script: &str, max_retries: u32) -> TaskSpec {
    TaskSpec {
        key: key.into(),
        executor: json!({"type": "command", "argv": ["sh", "-c", script]}),
        depends_on: Vec::new(),
        queue: None,
        max_retries,
        timeout_secs: None,
        is_hook: false,
    }
}

/// A task that writes `started` and waits until `release` exists.
fn held_task(key: &str, started: &Path, release: &Path) -> TaskSpec {
    let script = format!(
        "touch '{}'; while [ ! -e '{}' ]; do sleep 0.05; done",
        started.display(),
        release.display()
    );
    shell_task(key, &script, 0)
}

fn run_on(queue: &QueueName, task: TaskSpec, priority: Priority) -> RunSpec {
    RunSpec {
        id: None,
        definition: "test.queues".into(),
        kind: RunKind::Workflow,
        payload: Value::Null,
        tasks: vec![task],
        queue: queue.clone(),
        priority,
        periodic: false,
        not_before_ms: None,
        hooks: Default::default(),
    }
}

fn read_lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .count()
}

fn totals(points: &[SeriesPoint]) -> (u64, u64) {
    points.iter().fold((0, 0), |(succeeded, failed), point| {
        (succeeded + point.succeeded, failed + point.failed)
    })
}

#[tokio::test]
async fn pausing_a_queue_leaves_its_new_jobs_waiting_while_another_queue_runs_and_resume_runs_them()
{
    let world = World::new().await;
    let (paused, running) = (queue("paused-q"), queue("running-q"));
    let worker = world.worker("paused-q,running-q", &[]);
    world.wait_for_a_worker().await;

    // The worker is idle, blocked reading both queues: the pause must still hold for the
    // job added right after it.
    assert!(world.store.pause_queue(&paused).await.unwrap());
    assert!(
        !world.store.pause_queue(&paused).await.unwrap(),
        "pausing twice changes nothing"
    );
    let waiting = world.create(&paused, shell_task("WAITS", "true", 0)).await;
    let runs = world.create(&running, shell_task("RUNS", "true", 0)).await;

    world
        .wait_for_status(&runs, RunStatus::Success, Duration::from_secs(15))
        .await;
    world
        .assert_stays_queued(&waiting, "a paused queue's job is not taken")
        .await;
    let summary = world.summary(&paused).await;
    assert!(summary.paused);
    assert_eq!(summary.waiting_total(), 1, "{summary:?}");
    assert_eq!(summary.running, 0, "{summary:?}");
    assert!(!world.summary(&running).await.paused);
    assert_eq!(
        world.store.paused_queues().await.unwrap(),
        [paused.clone()].into()
    );

    let resumed_at = std::time::Instant::now();
    assert!(world.store.resume_queue(&paused).await.unwrap());
    assert!(!world.store.resume_queue(&paused).await.unwrap());
    world
        .wait_for_status(&waiting, RunStatus::Success, Duration::from_secs(10))
        .await;
    assert!(
        resumed_at.elapsed() < Duration::from_secs(5),
        "taken again soon after the resume: {:?}",
        resumed_at.elapsed()
    );
    assert!(world.store.paused_queues().await.unwrap().is_empty());
    let summary = world.summary(&paused).await;
    assert_eq!((summary.waiting_total(), summary.succeeded), (0, 1));
    drop(worker);
}

#[tokio::test]
async fn a_pause_marker_left_by_a_resume_cut_short_does_not_hold_the_queue() {
    let world = World::new().await;
    let queue = queue("marked");
    // A resume that took the queue out of the paused set and stopped before it removed the
    // queue's pause markers from the shards.
    let mut conn = world.app.redis_connection().await;
    for shard in world.store.keys().shards() {
        redis::cmd("SET")
            .arg(world.store.keys().pause_marker(shard, &queue))
            .arg(1)
            .query_async::<()>(&mut conn)
            .await
            .unwrap();
    }
    let _worker = world.worker("marked", &[]);
    world.wait_for_a_worker().await;
    // Created while the worker waits, so the wait sees them arrive and the take meets the
    // marker: the worker reads the paused set again, which says the queue runs.
    let mut ids = Vec::new();
    for key in ["FIRST", "SECOND", "THIRD"] {
        ids.push(world.create(&queue, shell_task(key, "true", 0)).await);
    }
    for id in &ids {
        world
            .wait_for_status(id, RunStatus::Success, Duration::from_secs(10))
            .await;
    }
    // Resuming again removes the markers.
    assert!(!world.store.resume_queue(&queue).await.unwrap());
    for shard in world.store.keys().shards() {
        let marked: bool = redis::cmd("EXISTS")
            .arg(world.store.keys().pause_marker(shard, &queue))
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(!marked, "shard {shard}");
    }
}

#[tokio::test]
async fn a_pause_survives_a_worker_restart() {
    let world = World::new().await;
    let paused = queue("kept-paused");
    world.store.pause_queue(&paused).await.unwrap();
    let mut first = world.worker("kept-paused", &[]);
    let id = world.create(&paused, shell_task("LATER", "true", 0)).await;
    world
        .assert_stays_queued(&id, "the first worker leaves it")
        .await;

    first.terminate();
    first
        .wait_exit_async(Duration::from_secs(15))
        .await
        .expect("the first worker exits");
    let reconnected = world.app.store().await;
    assert!(reconnected.paused_queues().await.unwrap().contains(&paused));
    let _second = world.worker("kept-paused", &[]);
    world
        .assert_stays_queued(&id, "the restarted worker leaves it too")
        .await;

    reconnected.resume_queue(&paused).await.unwrap();
    world
        .wait_for_status(&id, RunStatus::Success, Duration::from_secs(10))
        .await;
}

#[tokio::test]
async fn a_worker_holding_a_job_when_its_queue_is_paused_finishes_it() {
    let world = World::new().await;
    let held = queue("held");
    let (started, release) = (world.path("started"), world.path("release"));
    let _worker = world.worker("held", &[("BATON_CONCURRENCY", "4")]);
    let first = world
        .create(&held, held_task("HELD", &started, &release))
        .await;
    wait_until(Duration::from_secs(10), "the job starts", || async {
        started.exists()
    })
    .await;

    world.store.pause_queue(&held).await.unwrap();
    let second = world.create(&held, shell_task("NEXT", "true", 0)).await;
    std::fs::write(&release, "").unwrap();
    world
        .wait_for_status(&first, RunStatus::Success, Duration::from_secs(10))
        .await;
    world
        .assert_stays_queued(&second, "no new job is taken while paused")
        .await;

    world.store.resume_queue(&held).await.unwrap();
    world
        .wait_for_status(&second, RunStatus::Success, Duration::from_secs(10))
        .await;
}

#[tokio::test]
async fn summaries_count_waiting_running_delayed_retrying_and_dead_jobs() {
    let world = World::new().await;
    let counted = queue("counted");
    assert_eq!(world.store.queue_summary(&counted).await.unwrap(), None);
    let (started, release) = (world.path("started"), world.path("release"));
    // One job at a time, and retries far in the future.
    let _worker = world.worker(
        "counted",
        &[
            ("BATON_CONCURRENCY", "1"),
            ("BATON_RETRY_BASE_MS", "120000"),
            ("BATON_RETRY_MAX_MS", "120000"),
        ],
    );

    world
        .create(&counted, shell_task("DIES", "exit 1", 0))
        .await;
    world
        .create(&counted, shell_task("RETRIES", "exit 1", 3))
        .await;
    wait_until(
        Duration::from_secs(15),
        "one job dead, one retrying",
        || async {
            let summary = world.summary(&counted).await;
            summary.dead == 1 && summary.retrying == 1
        },
    )
    .await;

    let held = world
        .create(&counted, held_task("HELD", &started, &release))
        .await;
    wait_until(Duration::from_secs(10), "the held job starts", || async {
        started.exists()
    })
    .await;
    for priority in [
        Priority::High,
        Priority::Normal,
        Priority::Normal,
        Priority::Low,
    ] {
        world
            .create_spec(run_on(&counted, shell_task("QUICK", "true", 0), priority))
            .await;
    }
    let mut delayed = run_on(&counted, shell_task("LATER", "true", 0), Priority::Normal);
    delayed.not_before_ms = Some(now_ms() + 120_000);
    world.create_spec(delayed).await;

    let summary = world.summary(&counted).await;
    assert_eq!(
        summary,
        QueueSummary {
            name: counted.clone(),
            paused: false,
            waiting: vec![
                (Priority::High, 1),
                (Priority::Normal, 2),
                (Priority::Low, 1)
            ],
            running: 1,
            delayed: 2,
            retrying: 1,
            succeeded: 0,
            failed: 1,
            dead: 1,
        }
    );
    let all = world.store.queue_summaries().await.unwrap();
    assert_eq!(
        all.iter().find(|summary| summary.name == counted),
        Some(&summary),
        "the overview reads the same counts: {all:?}"
    );

    std::fs::write(&release, "").unwrap();
    world
        .wait_for_status(&held, RunStatus::Success, Duration::from_secs(10))
        .await;
    wait_until(Duration::from_secs(15), "the waiting jobs run", || async {
        let summary = world.summary(&counted).await;
        summary.succeeded == 5 && summary.waiting_total() == 0 && summary.running == 0
    })
    .await;
}

#[tokio::test]
async fn the_series_shows_succeeded_and_failed_jobs_in_the_current_second_and_minute() {
    let world = World::new().await;
    let (first, second) = (queue("series-a"), queue("series-b"));
    let _worker = world.worker("series-a,series-b", &[("BATON_CONCURRENCY", "8")]);
    let before = now_ms();
    let mut runs = Vec::new();
    for _ in 0..3 {
        runs.push(world.create(&first, shell_task("OK", "true", 0)).await);
    }
    for _ in 0..2 {
        runs.push(world.create(&first, shell_task("BAD", "exit 3", 0)).await);
    }
    runs.push(world.create(&second, shell_task("OK", "true", 0)).await);
    for id in &runs {
        wait_until(Duration::from_secs(15), "every run finishes", || async {
            world.run(id).await.status.is_finished()
        })
        .await;
    }
    // The series are written just after the finish script that ends a run, in a round trip
    // of their own.
    wait_until(
        Duration::from_secs(5),
        "the outcomes are counted",
        || async {
            let series = world.store.queue_series(&first, now_ms()).await.unwrap();
            let all = world.store.all_queues_series(now_ms()).await.unwrap();
            totals(&series.per_second) == (3, 2)
                && totals(&series.per_minute) == (3, 2)
                && totals(&all.per_minute) == (4, 2)
        },
    )
    .await;
    let now = now_ms();

    let series = world.store.queue_series(&first, now).await.unwrap();
    assert_eq!(series.per_second.len(), PER_SECOND_POINTS);
    assert_eq!(series.per_minute.len(), PER_MINUTE_POINTS);
    assert_eq!(
        series.per_second.last().map(|point| point.at_ms),
        Some(now - now % 1000)
    );
    assert!(
        series
            .per_second
            .windows(2)
            .all(|pair| pair[1].at_ms == pair[0].at_ms + 1000),
        "oldest first, one point a second"
    );
    assert_eq!(totals(&series.per_second), (3, 2));
    assert_eq!(totals(&series.per_minute), (3, 2));
    for point in series
        .per_second
        .iter()
        .filter(|p| p.succeeded + p.failed > 0)
    {
        assert!(
            point.at_ms + 1000 > before && point.at_ms <= now,
            "counted in the seconds the jobs finished: {point:?}"
        );
    }
    let busy_minutes: Vec<&SeriesPoint> = series
        .per_minute
        .iter()
        .filter(|p| p.succeeded + p.failed > 0)
        .collect();
    assert!(
        (1..=2).contains(&busy_minutes.len()),
        "the current minute (or the one before): {busy_minutes:?}"
    );

    let all = world.store.all_queues_series(now).await.unwrap();
    assert_eq!(totals(&all.per_second), (4, 2));
    assert_eq!(totals(&all.per_minute), (4, 2));

    // Ten minutes on, the seconds have left the window but the minutes have not.
    let later = world
        .store
        .queue_series(&first, now + 10 * 60_000)
        .await
        .unwrap();
    assert_eq!(totals(&later.per_second), (0, 0));
    assert_eq!(totals(&later.per_minute), (3, 2));
    let mut conn = world.app.redis().connection().await;
    let ttl: i64 = redis::cmd("PTTL")
        .arg(
            world
                .store
                .keys()
                .queue_series_seconds(&first, now - now % 60_000),
        )
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        ttl > 300_000 && ttl <= 480_000,
        "the seconds expire on their own: {ttl}"
    );
}

#[tokio::test]
async fn a_killed_worker_stays_listed_as_stale_until_much_later_and_its_job_is_reclaimed() {
    let world = World::new().await;
    let held = queue("stale");
    let (started, release) = (world.path("started"), world.path("release"));
    let mut first = world.worker(
        "stale",
        &[("BATON_WORKER_ID", "first"), ("BATON_CONCURRENCY", "3")],
    );
    let id = world
        .create(&held, held_task("HOLD", &started, &release))
        .await;
    let record = wait_for(
        Duration::from_secs(10),
        "the heartbeat lists the job",
        || async {
            world
                .worker_record("first")
                .await
                .filter(|record| !record.jobs.is_empty())
        },
    )
    .await;
    assert_eq!(record.concurrency, 3);
    assert_eq!(record.heartbeat_ms, 1000);
    assert_eq!(record.in_flight, 1);
    let job = &record.jobs[0];
    assert_eq!(
        (job.run_id.as_str(), job.task, job.task_key.as_str()),
        (id.as_str(), 0, "HOLD")
    );
    assert_eq!(job.queue, "stale");
    assert!(job.since_ms > 0 && job.since_ms <= now_ms());
    assert!(!record.is_stale(now_ms()));

    first.kill_9();
    wait_until(
        Duration::from_secs(10),
        "the killed worker shows stale",
        || async {
            world
                .worker_record("first")
                .await
                .is_some_and(|record| record.is_stale(now_ms()))
        },
    )
    .await;

    // The scheduler cleans up as soon as it leads, yet keeps the stale record for minutes,
    // while reclaiming its job as before.
    let mut scheduler = world.scheduler(&[]);
    scheduler
        .wait_for_log("leadership changed", Duration::from_secs(10))
        .await;
    let _second = world.worker("stale", &[("BATON_WORKER_ID", "second")]);
    std::fs::write(&release, "").unwrap();
    let run = world
        .wait_for_status(&id, RunStatus::Success, Duration::from_secs(30))
        .await;
    assert_eq!(run.tasks[0].worker.as_deref(), Some("second"));
    let stale = world.worker_record("first").await.expect("still listed");
    assert!(stale.is_stale(now_ms()));
    let live: Vec<String> = world
        .store
        .live_workers(now_ms())
        .await
        .unwrap()
        .into_iter()
        .map(|worker| worker.id)
        .collect();
    assert_eq!(live, ["second"]);
    assert!(
        !world
            .worker_record("second")
            .await
            .expect("listed")
            .is_stale(now_ms())
    );

    // With a short removal window, the next scheduler forgets it, and only it.
    scheduler.terminate();
    scheduler
        .wait_exit_async(Duration::from_secs(10))
        .await
        .expect("the scheduler exits");
    let _short = world.scheduler(&[("BATON_WORKER_TIMEOUT_SECS", "2")]);
    wait_until(
        Duration::from_secs(15),
        "the stale record is removed",
        || async { world.worker_record("first").await.is_none() },
    )
    .await;
    assert!(world.worker_record("second").await.is_some());
}

#[tokio::test]
async fn dead_letters_are_deleted_one_or_all_and_requeued_all_once() {
    let world = World::new().await;
    let dead = queue("dead-q");
    let (ran, ok) = (world.path("ran"), world.path("ok"));
    let script = format!(
        "echo x >> '{}'; test -e '{}' || {{ echo 'not ready' >&2; exit 4; }}",
        ran.display(),
        ok.display()
    );
    let _worker = world.worker("dead-q", &[]);
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(world.create(&dead, shell_task("FLAKY", &script, 0)).await);
    }
    let letters = wait_for(Duration::from_secs(15), "three dead letters", || async {
        Some(world.store.dead_letters(&dead, 10).await.unwrap()).filter(|l| l.len() == 3)
    })
    .await;
    for letter in &letters {
        assert!(ids.contains(&letter.job.run_id), "{letter:?}");
        assert_eq!(letter.job.task, 0);
        assert!(!letter.error.is_empty(), "{letter:?}");
        assert!(letter.failed_ms > 0 && letter.failed_ms <= now_ms());
        let id = DeadLetterId::parse(world.store.keys(), &letter.id).expect("an id reads back");
        assert_eq!(
            id.shard,
            world.store.keys().shard_of(&letter.job.run_id),
            "a record is kept on its run's shard"
        );
    }
    // What a list shows of each record's run is read without the whole run; a record whose
    // run is gone (or never had that task) says so.
    let mut asked = letters.clone();
    let mut gone = letters[0].clone();
    gone.job.run_id = "gone".into();
    let mut no_such_task = letters[0].clone();
    no_such_task.job.task = 7;
    asked.extend([gone, no_such_task]);
    let tasks = world.store.dead_letter_tasks(&asked).await.unwrap();
    for task in &tasks[..3] {
        let task = task.as_ref().expect("the run exists");
        assert_eq!(task.definition, "test.queues");
        assert_eq!(task.task_key.as_deref(), Some("FLAKY"));
    }
    assert_eq!(tasks[3], None);
    let without_task = tasks[4].as_ref().expect("the run exists");
    assert_eq!(without_task.task_key, None);
    assert!(world.store.dead_letter_tasks(&[]).await.unwrap().is_empty());

    let deleted = &letters[0];
    assert!(
        world
            .store
            .delete_dead_letter(&dead, &deleted.id)
            .await
            .unwrap()
    );
    assert!(
        !world
            .store
            .delete_dead_letter(&dead, &deleted.id)
            .await
            .unwrap()
    );

    std::fs::write(&ok, "").unwrap();
    let (a, b) = tokio::join!(
        world.store.requeue_all_dead_letters(&dead),
        world.store.requeue_all_dead_letters(&dead)
    );
    assert_eq!(
        a.unwrap() + b.unwrap(),
        2,
        "each task requeued once, however often asked"
    );
    assert_eq!(
        world.store.requeue_all_dead_letters(&dead).await.unwrap(),
        0
    );
    for letter in &letters[1..] {
        world
            .wait_for_status(
                &letter.job.run_id,
                RunStatus::Success,
                Duration::from_secs(15),
            )
            .await;
    }
    assert_eq!(
        world.run(&deleted.job.run_id).await.status,
        RunStatus::Error,
        "a deleted dead letter's task stays failed"
    );
    assert!(
        world
            .store
            .dead_letters(&dead, 10)
            .await
            .unwrap()
            .is_empty()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(read_lines(&ran), 5, "three failures and two reruns");

    std::fs::remove_file(&ok).unwrap();
    for _ in 0..2 {
        world.create(&dead, shell_task("FLAKY", &script, 0)).await;
    }
    wait_until(Duration::from_secs(15), "two more dead letters", || async {
        world.store.dead_letters(&dead, 10).await.unwrap().len() == 2
    })
    .await;
    assert_eq!(world.store.delete_all_dead_letters(&dead).await.unwrap(), 2);
    assert_eq!(world.store.delete_all_dead_letters(&dead).await.unwrap(), 0);
    assert!(
        world
            .store
            .dead_letters(&dead, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(world.summary(&dead).await.dead, 0);
}

#[tokio::test]
async fn a_killed_workers_job_on_a_paused_queue_is_reclaimed_to_wait_for_the_resume() {
    let world = World::new().await;
    let held = queue("reclaimed");
    let (started, release) = (world.path("started"), world.path("release"));
    let ran = world.path("ran");
    let script = format!(
        "echo x >> '{}'; touch '{}'; while [ ! -e '{}' ]; do sleep 0.05; done",
        ran.display(),
        started.display(),
        release.display()
    );
    let mut first = world.worker("reclaimed", &[("BATON_WORKER_ID", "first")]);
    let id = world.create(&held, shell_task("HOLD", &script, 0)).await;
    wait_until(Duration::from_secs(10), "the job starts", || async {
        started.exists()
    })
    .await;
    world.store.pause_queue(&held).await.unwrap();
    first.kill_9();
    std::fs::write(&release, "").unwrap();
    let _scheduler = world.scheduler(&[]);
    let _second = world.worker("reclaimed", &[("BATON_WORKER_ID", "second")]);

    wait_until(
        Duration::from_secs(15),
        "the lost job is back on its stream",
        || async {
            let summary = world.summary(&held).await;
            summary.running == 0 && summary.waiting_total() == 1
        },
    )
    .await;
    tokio::time::sleep(STAYS_WAITING).await;
    let summary = world.summary(&held).await;
    assert_eq!(
        (summary.running, summary.waiting_total()),
        (0, 1),
        "nobody runs it while paused: {summary:?}"
    );
    assert_eq!(read_lines(&ran), 1);

    world.store.resume_queue(&held).await.unwrap();
    let run = world
        .wait_for_status(&id, RunStatus::Success, Duration::from_secs(15))
        .await;
    assert_eq!(run.tasks[0].worker.as_deref(), Some("second"));
    assert_eq!(read_lines(&ran), 2);
}

/// The shard numbered `index`, wrapped to the shards this deployment has.
fn shard(store: &Store, index: u16) -> Shard {
    Shard::new(index % store.keys().shard_count())
}

/// Adds a job entry for `run` to a stream.
async fn add_job(conn: &mut MultiplexedConnection, stream: &str, run: &str) {
    redis::cmd("XADD")
        .arg(stream)
        .arg("*")
        .arg(&[("r", run), ("t", "0"), ("a", "1"), ("d", "0")])
        .query_async::<()>(conn)
        .await
        .unwrap();
}

/// Adds a dead-letter record of `run` with entry id `id` to a shard's dead letters.
async fn add_dead_letter(conn: &mut MultiplexedConnection, key: &str, id: &str, run: &str) {
    redis::cmd("XADD")
        .arg(key)
        .arg(id)
        .arg(&[
            ("r", run),
            ("t", "0"),
            ("a", "1"),
            ("d", "0"),
            ("p", "normal"),
            ("error", "exit 1"),
            ("at", "1700000000000"),
        ])
        .query_async::<()>(conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_queue_is_made_on_every_shard_and_its_counts_are_the_sums_over_its_shards() {
    let world = World::new().await;
    let store = &world.store;
    let keys = store.keys().clone();
    let spread = queue("spread");
    let mut conn = world.app.redis().connection().await;

    store.ensure_queue(&spread).await.unwrap();
    // Another process asks again: the groups exist already, which is fine.
    world.app.store().await.ensure_queue(&spread).await.unwrap();
    for shard in keys.shards() {
        for priority in Priority::ALL {
            let groups: redis::streams::StreamInfoGroupsReply = redis::cmd("XINFO")
                .arg("GROUPS")
                .arg(keys.stream(shard, &spread, priority))
                .query_async(&mut conn)
                .await
                .unwrap();
            let names: Vec<&str> = groups.groups.iter().map(|g| g.name.as_str()).collect();
            assert_eq!(
                names,
                [common::keys::CONSUMER_GROUP],
                "shard {shard} {priority}"
            );
        }
    }
    assert!(store.queue_names().await.unwrap().contains(&spread));

    let (first, middle, last) = (shard(store, 0), shard(store, 5), shard(store, 15));
    add_job(
        &mut conn,
        &keys.stream(first, &spread, Priority::High),
        "r1",
    )
    .await;
    for run in ["r2", "r3"] {
        add_job(
            &mut conn,
            &keys.stream(middle, &spread, Priority::Normal),
            run,
        )
        .await;
    }
    add_job(&mut conn, &keys.stream(last, &spread, Priority::Low), "r4").await;
    // One job delivered to a worker: running, no longer waiting.
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg(common::keys::CONSUMER_GROUP)
        .arg("someone")
        .arg("COUNT")
        .arg(1)
        .arg("STREAMS")
        .arg(keys.stream(middle, &spread, Priority::Normal))
        .arg(">")
        .query_async(&mut conn)
        .await
        .unwrap();
    let later = now_ms() + 600_000;
    for (index, member) in [(1, "normal|r5|0|1|0"), (2, "low|r6|0|2|0")] {
        redis::cmd("ZADD")
            .arg(keys.delayed(shard(store, index), &spread))
            .arg(later)
            .arg(member)
            .query_async::<()>(&mut conn)
            .await
            .unwrap();
    }
    redis::cmd("ZADD")
        .arg(keys.retrying(shard(store, 2), &spread))
        .arg(later)
        .arg("low|r6|0|2|0")
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    for (index, counts) in [
        (0, [("enqueued", 3), ("succeeded", 2), ("failed", 0)]),
        (7, [("enqueued", 4), ("succeeded", 3), ("failed", 1)]),
        (15, [("enqueued", 1), ("succeeded", 0), ("failed", 1)]),
    ] {
        for (name, count) in counts {
            redis::cmd("HINCRBY")
                .arg(keys.stats(shard(store, index), &spread))
                .arg(name)
                .arg(count)
                .query_async::<()>(&mut conn)
                .await
                .unwrap();
        }
    }
    add_dead_letter(&mut conn, &keys.dead(shard(store, 3), &spread), "*", "r7").await;
    add_dead_letter(&mut conn, &keys.dead(shard(store, 9), &spread), "*", "r8").await;

    let expected = QueueSummary {
        name: spread.clone(),
        paused: false,
        waiting: vec![
            (Priority::High, 1),
            (Priority::Normal, 1),
            (Priority::Low, 1),
        ],
        running: 1,
        delayed: 2,
        retrying: 1,
        succeeded: 5,
        failed: 2,
        dead: 2,
    };
    assert_eq!(world.summary(&spread).await, expected);
    let all = store.queue_summaries().await.unwrap();
    assert_eq!(
        all.iter().find(|summary| summary.name == spread),
        Some(&expected),
        "{all:?}"
    );
    let stats = store.queue_stats(&spread).await.unwrap();
    assert_eq!(
        (stats["enqueued"], stats["succeeded"], stats["failed"]),
        (8, 5, 2)
    );
    assert_eq!(
        store.queue_depth(&spread).await.unwrap(),
        (3 + 2, 1),
        "waiting or delayed, and pending"
    );
}

#[tokio::test]
async fn dead_letters_of_every_shard_are_listed_newest_first_by_ids_that_name_their_shard() {
    let world = World::new().await;
    let store = &world.store;
    let keys = store.keys().clone();
    let dead = queue("dead-shards");
    let mut conn = world.app.redis().connection().await;
    let (a, b, c) = (shard(store, 2), shard(store, 7), shard(store, 11));
    for (shard, id, run) in [
        (a, "1000-0", "gone-1"),
        (b, "3000-0", "gone-2"),
        (a, "5000-0", "gone-3"),
        (c, "3000-1", "gone-4"),
    ] {
        add_dead_letter(&mut conn, &keys.dead(shard, &dead), id, run).await;
    }

    let letters = store.dead_letters(&dead, 10).await.unwrap();
    let ids: Vec<&str> = letters.iter().map(|letter| letter.id.as_str()).collect();
    let named = |entry: &str, shard: Shard| format!("{entry}.{shard}");
    assert_eq!(
        ids,
        [
            named("5000-0", a),
            named("3000-1", c),
            named("3000-0", b),
            named("1000-0", a)
        ]
    );
    assert_eq!(letters[0].job.run_id, "gone-3");
    assert_eq!(letters[0].error, "exit 1");
    assert_eq!(letters[0].failed_ms, 1_700_000_000_000);
    for letter in &letters {
        let id = DeadLetterId::parse(&keys, &letter.id).expect("an id reads back");
        assert_eq!(id.to_string(), letter.id);
    }
    let newest: Vec<String> = store
        .dead_letters(&dead, 2)
        .await
        .unwrap()
        .into_iter()
        .map(|letter| letter.id)
        .collect();
    assert_eq!(newest, ids[..2]);

    // Ids that name no record are not found, never an error.
    let elsewhere = named("3000-0", shard(store, 8));
    let beyond = format!("3000-0.{}", keys.shard_count());
    for id in [
        "",
        "nope",
        "3000-0",
        "3000-0.x",
        "x-0.1",
        beyond.as_str(),
        elsewhere.as_str(),
    ] {
        assert!(
            !store.delete_dead_letter(&dead, id).await.unwrap(),
            "{id:?}"
        );
        assert_eq!(
            store.requeue_dead_letter(&dead, id).await.unwrap(),
            RequeueOutcome::NotFound,
            "{id:?}"
        );
    }
    assert_eq!(store.dead_letters(&dead, 10).await.unwrap().len(), 4);

    assert!(store.delete_dead_letter(&dead, ids[2]).await.unwrap());
    assert!(!store.delete_dead_letter(&dead, ids[2]).await.unwrap());
    // The run is gone: its record is dropped, nothing is queued.
    assert_eq!(
        store.requeue_dead_letter(&dead, ids[3]).await.unwrap(),
        RequeueOutcome::Dropped
    );
    assert_eq!(
        store.requeue_dead_letter(&dead, ids[3]).await.unwrap(),
        RequeueOutcome::NotFound
    );
    assert_eq!(store.requeue_all_dead_letters(&dead).await.unwrap(), 0);
    assert!(store.dead_letters(&dead, 10).await.unwrap().is_empty());

    for shard in [a, b, c] {
        add_dead_letter(&mut conn, &keys.dead(shard, &dead), "*", "gone-5").await;
    }
    assert_eq!(store.delete_all_dead_letters(&dead).await.unwrap(), 3);
    assert_eq!(store.delete_all_dead_letters(&dead).await.unwrap(), 0);
    assert!(store.dead_letters(&dead, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn due_jobs_are_promoted_and_queues_trimmed_on_every_shard() {
    let world = World::new().await;
    let store = &world.store;
    let keys = store.keys().clone();
    let chores = queue("chores");
    let mut conn = world.app.redis().connection().await;
    store.ensure_queue(&chores).await.unwrap();

    let due = now_ms() - 1000;
    let later = now_ms() + 600_000;
    let (first, middle, last) = (shard(store, 0), shard(store, 4), shard(store, 15));
    for (shard, score, member) in [
        (first, due, "high|r1|0|1|0"),
        (middle, due, "normal|r2|0|2|0"),
        (middle, later, "normal|r3|0|1|0"),
        (last, due, "low|r4|1|1|0"),
    ] {
        redis::cmd("ZADD")
            .arg(keys.delayed(shard, &chores))
            .arg(score)
            .arg(member)
            .query_async::<()>(&mut conn)
            .await
            .unwrap();
    }
    redis::cmd("ZADD")
        .arg(keys.retrying(middle, &chores))
        .arg(due)
        .arg("normal|r2|0|2|0")
        .query_async::<()>(&mut conn)
        .await
        .unwrap();

    assert_eq!(
        store
            .promote_due_jobs(&chores, 100, now_ms())
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        store
            .promote_due_jobs(&chores, 100, now_ms())
            .await
            .unwrap(),
        0
    );
    let summary = world.summary(&chores).await;
    assert_eq!(
        summary.waiting,
        [
            (Priority::High, 1),
            (Priority::Normal, 1),
            (Priority::Low, 1)
        ]
    );
    assert_eq!((summary.delayed, summary.retrying), (1, 0));
    let promoted: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(keys.stream(middle, &chores, Priority::Normal))
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(promoted.ids.len(), 1);
    let fields: Vec<Option<String>> = ["r", "t", "a", "d"]
        .iter()
        .map(|name| promoted.ids[0].get(name))
        .collect();
    // A job never redelivered carries no redeliveries.
    assert_eq!(
        fields,
        [Some("r2"), Some("0"), Some("2"), None].map(|value| value.map(str::to_owned))
    );

    // Acknowledged entries go; undelivered ones and dead letters up to the cap stay.
    let done = keys.stream(middle, &chores, Priority::Low);
    let waiting = keys.stream(last, &chores, Priority::High);
    let mut pipe = redis::pipe();
    for index in 0..300 {
        let run = format!("bulk-{index}");
        for stream in [&done, &waiting] {
            pipe.cmd("XADD")
                .arg(stream)
                .arg("*")
                .arg(&[("r", run.as_str()), ("t", "0"), ("a", "1"), ("d", "0")])
                .ignore();
        }
    }
    for index in 0..3000 {
        pipe.cmd("XADD")
            .arg(keys.dead(first, &chores))
            .arg("*")
            .arg("r")
            .arg(format!("dead-{index}"))
            .ignore();
    }
    pipe.query_async::<()>(&mut conn).await.unwrap();
    let read: redis::streams::StreamReadReply = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg(common::keys::CONSUMER_GROUP)
        .arg("someone")
        .arg("COUNT")
        .arg(1000)
        .arg("STREAMS")
        .arg(&done)
        .arg(">")
        .query_async(&mut conn)
        .await
        .unwrap();
    let delivered: Vec<String> = read.keys[0].ids.iter().map(|e| e.id.clone()).collect();
    assert_eq!(delivered.len(), 300);
    redis::cmd("XACK")
        .arg(&done)
        .arg(common::keys::CONSUMER_GROUP)
        .arg(&delivered)
        .query_async::<()>(&mut conn)
        .await
        .unwrap();

    store.trim_queue(&chores).await.unwrap();
    let length = |key: String| {
        let mut conn = conn.clone();
        async move {
            redis::cmd("XLEN")
                .arg(key)
                .query_async::<u64>(&mut conn)
                .await
                .unwrap()
        }
    };
    assert!(
        length(done.clone()).await < 300,
        "acknowledged entries trimmed"
    );
    assert_eq!(
        length(waiting.clone()).await,
        300,
        "undelivered entries kept"
    );
    let dead_kept = length(keys.dead(first, &chores)).await;
    assert!(
        (1000..3000).contains(&dead_kept),
        "dead letters capped per shard: {dead_kept}"
    );
    assert_eq!(
        store.queue_depth(&chores).await.unwrap(),
        (1 + 1 + 1 + 300 + 1, 0)
    );
}

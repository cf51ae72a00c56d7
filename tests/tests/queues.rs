//! End-to-end tests of what the console's overview, queues and workers pages read and do:
//! pausing and resuming queues, queue summaries, the outcome series, worker records that go
//! stale, and dead letters deleted or requeued all at once. Real `redis-server`, real
//! `baton-worker` and `baton-scheduler` processes, driven through the `common` store.

use std::path::{Path, PathBuf};
use std::time::Duration;

use baton_tests::TestApp;
use baton_tests::process::BatonProcess;
use baton_tests::wait::{wait_for, wait_until};
use common::model::{Priority, QueueName, RunKind, RunSpec, RunStatus, TaskSpec, TaskStatus};
use common::store::Store;
use common::store::queues::QueueSummary;
use common::store::runs::RunView;
use common::store::series::{PER_MINUTE_POINTS, PER_SECOND_POINTS, SeriesPoint};
use common::store::workers::WorkerRecord;
use common::time::now_ms;
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
    wait_until(
        Duration::from_secs(10),
        "the worker heart-beats",
        || async { !world.store.workers().await.unwrap().is_empty() },
    )
    .await;

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
    }

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

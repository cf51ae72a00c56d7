//! How an idle worker wakes and takes its job, against a real `redis-server`: each arrival
//! wakes one waiting worker (`Store::wait_for_jobs` on the streams' wake lists), whatever adds
//! a job wakes one (creation, promotion of a delayed job, redelivery), a worker that cannot
//! take the work passes the wake on and one that read a full batch wakes another; the job a
//! wait was woken for is read and started by one script call (`Store::take_jobs`), a queue
//! paused after the wake keeps its job waiting, and jobs read besides the seen one come back
//! for the worker to start itself.

use std::time::Duration;

use baton_tests::TestApp;
use common::engine::model::{
    Priority, QueueName, RunKind, RunSpec, RunStatus, TaskSpec, TaskStatus,
};
use common::keys::{CONSUMER_GROUP, Shard};
use common::store::Store;
use common::store::engine::jobs::read::Woken;
use common::store::engine::jobs::take::Taken;
use common::store::engine::jobs::{Job, StartOutcome};
use serde_json::{Value, json};

const WORKER: &str = "worker-1";

/// Long enough for a wait started before it to be blocked in Redis.
const BLOCKED: Duration = Duration::from_millis(200);

/// One test's Redis and store, with the queue `q` made.
struct World {
    _app: TestApp,
    store: Store,
    queue: QueueName,
}

impl World {
    async fn new() -> Self {
        let app = TestApp::builder().api(false).spawn().await;
        let store = app.store().await;
        let queue = QueueName::parse("q").unwrap();
        store.ensure_queue(&queue).await.unwrap();
        Self {
            _app: app,
            store,
            queue,
        }
    }

    /// A fresh run id on `shard`.
    fn run_id_on(&self, shard: Shard) -> String {
        loop {
            let id = uuid::Uuid::new_v4().to_string();
            if self.store.keys().shard_of(&id) == shard {
                return id;
            }
        }
    }

    /// Creates a one-task run with id `id` on the queue.
    async fn create(&self, id: &str) {
        self.store.create_run(&self.spec(id)).await.unwrap();
    }

    /// A one-task run with id `id` on the queue.
    fn spec(&self, id: &str) -> RunSpec {
        RunSpec {
            id: Some(id.to_owned()),
            definition: "test.take".into(),
            kind: RunKind::Workflow,
            payload: Value::Null,
            tasks: vec![TaskSpec {
                key: "T".into(),
                executor: json!({"type": "handler", "name": "probe"}),
                depends_on: Vec::new(),
                queue: None,
                max_retries: 0,
                timeout_secs: None,
                is_hook: false,
            }],
            queue: self.queue.clone(),
            priority: Priority::Normal,
            periodic: false,
            not_before_ms: None,
            hooks: Default::default(),
        }
    }

    /// Two waits of ten seconds on `shard`, both blocked in Redis when this returns.
    async fn two_waits(
        &self,
        shard: Shard,
    ) -> (
        tokio::task::JoinHandle<Option<Woken>>,
        tokio::task::JoinHandle<Option<Woken>>,
    ) {
        let waits = (self.wait(shard, 10_000), self.wait(shard, 10_000));
        tokio::time::sleep(BLOCKED).await;
        waits
    }

    /// Reads up to eight jobs of the queue on `shard` for `consumer`, from `from` down.
    async fn read(
        &self,
        conn: &mut common::store::RedisConnection,
        shard: Shard,
        consumer: &str,
        from: Priority,
    ) -> common::store::engine::jobs::JobsRead {
        self.read_between(conn, shard, consumer, from, Priority::Low)
            .await
    }

    /// Reads up to eight jobs of the queue on `shard` for `consumer`, from `from` down to
    /// `least`.
    async fn read_between(
        &self,
        conn: &mut common::store::RedisConnection,
        shard: Shard,
        consumer: &str,
        from: Priority,
        least: Priority,
    ) -> common::store::engine::jobs::JobsRead {
        self.store
            .read_jobs(
                conn,
                shard,
                std::slice::from_ref(&self.queue),
                consumer,
                8,
                0,
                from,
                least,
            )
            .await
            .unwrap()
    }

    /// Starts a wait of up to `block_ms` on `shard`, on a connection of its own.
    fn wait(&self, shard: Shard, block_ms: u64) -> tokio::task::JoinHandle<Option<Woken>> {
        let (store, queue) = (self.store.clone(), self.queue.clone());
        tokio::spawn(async move {
            let mut conn = store.dedicated_connection().await.unwrap();
            store
                .wait_for_jobs(&mut conn, shard, &[queue], block_ms)
                .await
                .unwrap()
        })
    }

    /// Waits on `shard` while the run `id` is created: what woke the wait.
    async fn wake_on(&self, shard: Shard, id: &str) -> Woken {
        let wait = self.wait(shard, 5_000);
        // The wait blocks first, so it sees the job arrive.
        tokio::time::sleep(BLOCKED).await;
        self.create(id).await;
        wait.await.unwrap().expect("the wait wakes for the job")
    }

    /// A run created on `shard` while a wait watches it: its id, and what woke the wait.
    async fn new_run_seen_on(&self, shard: Shard) -> (String, Woken) {
        let id = self.run_id_on(shard);
        let woken = self.wake_on(shard, &id).await;
        (id, woken)
    }

    async fn take(&self, shard: Shard, seen: &[Job], max: usize) -> Taken {
        let mut conn = self.store.dedicated_connection().await.unwrap();
        self.store
            .take_jobs(&mut conn, shard, seen, WORKER, max)
            .await
            .unwrap()
    }

    async fn task_status(&self, id: &str) -> TaskStatus {
        let run = self.store.get_run(id).await.unwrap().expect("run exists");
        run.tasks[0].status
    }

    fn stream(&self, shard: Shard) -> String {
        self.store
            .keys()
            .stream(shard, &self.queue, Priority::Normal)
    }

    /// How many jobs of `shard`'s normal stream are pending under any worker.
    async fn pending(&self, shard: Shard) -> u64 {
        let mut conn = self.store.dedicated_connection().await.unwrap();
        let (count, ..): (u64, redis::Value, redis::Value, redis::Value) = redis::cmd("XPENDING")
            .arg(self.stream(shard))
            .arg(CONSUMER_GROUP)
            .query_async(&mut conn)
            .await
            .unwrap();
        count
    }
}

fn started(taken: Taken) -> Vec<(Job, Option<StartOutcome>)> {
    match taken {
        Taken::Read(jobs) => jobs,
        Taken::Paused => panic!("the queue is not paused"),
    }
}

#[tokio::test]
async fn a_job_seen_arriving_is_read_and_started_in_one_step() {
    let world = World::new().await;
    let shard = Shard::new(1);
    let (id, woken) = world.new_run_seen_on(shard).await;
    assert_eq!(woken.priority, Priority::Normal);
    assert_eq!(woken.seen.len(), 1, "{woken:?}");
    assert_eq!(woken.seen[0].job.run_id, id);
    assert_eq!(world.task_status(&id).await, TaskStatus::Queued);

    let taken = started(world.take(shard, &woken.seen, 8).await);
    assert_eq!(taken.len(), 1, "{taken:?}");
    let (job, outcome) = &taken[0];
    assert_eq!(job, &woken.seen[0]);
    match outcome {
        Some(StartOutcome::Start(task)) => assert_eq!(task.key, "T"),
        other => panic!("the seen job starts: {other:?}"),
    }
    assert_eq!(world.task_status(&id).await, TaskStatus::Running);
    let run = world.store.get_run(&id).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Progress);
    assert_eq!(
        world.pending(shard).await,
        1,
        "held by the worker until recorded"
    );

    // Taking again reads nothing: the job was delivered once.
    assert!(started(world.take(shard, &woken.seen, 8).await).is_empty());
}

#[tokio::test]
async fn a_queue_paused_after_the_wake_keeps_its_job_waiting_until_it_is_resumed() {
    let world = World::new().await;
    let shard = Shard::new(2);
    let (id, woken) = world.new_run_seen_on(shard).await;

    assert!(world.store.pause_queue(&world.queue).await.unwrap());
    assert!(matches!(
        world.take(shard, &woken.seen, 8).await,
        Taken::Paused
    ));
    assert_eq!(world.task_status(&id).await, TaskStatus::Queued);
    assert_eq!(world.pending(shard).await, 0, "not even read");

    assert!(world.store.resume_queue(&world.queue).await.unwrap());
    let taken = started(world.take(shard, &woken.seen, 8).await);
    assert!(
        matches!(taken.as_slice(), [(_, Some(StartOutcome::Start(_)))]),
        "{taken:?}"
    );
    assert_eq!(world.task_status(&id).await, TaskStatus::Running);
}

#[tokio::test]
async fn jobs_read_besides_the_seen_one_come_back_for_the_worker_to_start() {
    let world = World::new().await;
    let shard = Shard::new(3);
    let (seen_id, next_id) = (world.run_id_on(shard), world.run_id_on(shard));
    let woken = world.wake_on(shard, &seen_id).await;
    world.create(&next_id).await;
    let mut conn = world.store.dedicated_connection().await.unwrap();
    // Something that is no job, after them.
    redis::cmd("XADD")
        .arg(world.stream(shard))
        .arg("*")
        .arg("garbage")
        .arg("1")
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    // Another worker takes the seen job first.
    redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg(CONSUMER_GROUP)
        .arg("worker-2")
        .arg("COUNT")
        .arg(1)
        .arg("STREAMS")
        .arg(world.stream(shard))
        .arg(">")
        .query_async::<redis::Value>(&mut conn)
        .await
        .unwrap();

    let taken = started(world.take(shard, &woken.seen, 8).await);
    assert_eq!(taken.len(), 1, "{taken:?}");
    let (job, outcome) = &taken[0];
    assert_eq!(job.job.run_id, next_id);
    assert_eq!(outcome, &None, "a job not seen is not started by the take");
    assert_eq!(world.task_status(&next_id).await, TaskStatus::Queued);
    assert_eq!(world.task_status(&seen_id).await, TaskStatus::Queued);
    let dead: u64 = redis::cmd("XLEN")
        .arg(world.store.keys().dead(shard, &world.queue))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(dead, 1, "the entry that is no job went to the dead letters");

    let outcomes = world
        .store
        .start_jobs(&mut conn, std::slice::from_ref(job), WORKER)
        .await
        .unwrap();
    assert!(matches!(outcomes.as_slice(), [StartOutcome::Start(_)]));
    assert_eq!(world.task_status(&next_id).await, TaskStatus::Running);
}

/// What woke `wait` within five seconds (`what`: why it should wake).
async fn woken_within(wait: tokio::task::JoinHandle<Option<Woken>>, what: &str) -> Woken {
    tokio::time::timeout(Duration::from_secs(5), wait)
        .await
        .expect(what)
        .unwrap()
        .expect("woken, not timed out")
}

/// Two waits blocked on one shard: which of them woke (with what) and which still waits.
async fn one_of_two_wakes(
    first: tokio::task::JoinHandle<Option<Woken>>,
    second: tokio::task::JoinHandle<Option<Woken>>,
) -> (Woken, tokio::task::JoinHandle<Option<Woken>>) {
    tokio::time::sleep(BLOCKED).await;
    let (woken, other) = if first.is_finished() {
        (first, second)
    } else {
        (second, first)
    };
    assert!(woken.is_finished(), "one wait woke");
    assert!(!other.is_finished(), "the other still waits");
    (woken.await.unwrap().expect("woken, not timed out"), other)
}

#[tokio::test]
async fn an_arrival_wakes_one_waiting_worker_and_a_full_take_wakes_another_for_the_rest() {
    let world = World::new().await;
    let shard = Shard::new(4);
    let (first, second) = world.two_waits(shard).await;
    // Two runs in one call: one wake-up, naming the newer.
    let ids = [world.run_id_on(shard), world.run_id_on(shard)];
    let specs: Vec<RunSpec> = ids.iter().map(|id| world.spec(id)).collect();
    world.store.create_runs(&specs).await.unwrap();
    let (woken, other) = one_of_two_wakes(first, second).await;
    assert_eq!(woken.seen.len(), 1, "{woken:?}");
    assert_eq!(woken.seen[0].job.run_id, ids[1]);

    // A take of one job reads the older and wakes the other worker for the rest.
    let taken = started(world.take(shard, &woken.seen, 1).await);
    assert!(
        matches!(taken.as_slice(), [(job, None)] if job.job.run_id == ids[0]),
        "{taken:?}"
    );
    let other = woken_within(other, "the other worker wakes").await;
    assert_eq!(other.priority, Priority::Normal);
    assert!(other.seen.is_empty(), "the rest is not named: {other:?}");
}

#[tokio::test]
async fn a_worker_without_a_free_slot_passes_its_wake_on() {
    let world = World::new().await;
    let shard = Shard::new(5);
    let (first, second) = world.two_waits(shard).await;
    let id = world.run_id_on(shard);
    world.create(&id).await;
    let (woken, other) = one_of_two_wakes(first, second).await;

    let mut conn = world.store.dedicated_connection().await.unwrap();
    world.store.pass_wake(&mut conn, &woken).await.unwrap();
    let other = woken_within(other, "the other worker wakes").await;
    assert_eq!(other.seen, woken.seen, "for the same job");
    let taken = started(world.take(shard, &other.seen, 8).await);
    assert!(
        matches!(taken.as_slice(), [(_, Some(StartOutcome::Start(_)))]),
        "{taken:?}"
    );
    // A wake-up passed on is not passed on again: it cannot go round busy workers for ever.
    world.store.pass_wake(&mut conn, &other).await.unwrap();
    let third = world.wait(shard, 500).await.unwrap();
    assert!(third.is_none(), "{third:?}");
}

#[tokio::test]
async fn a_promoted_delayed_job_wakes_a_waiting_worker() {
    let world = World::new().await;
    let shard = Shard::new(6);
    let id = world.run_id_on(shard);
    let due = common::time::now_ms() + 60_000;
    let spec = RunSpec {
        not_before_ms: Some(due),
        ..world.spec(&id)
    };
    world.store.create_run(&spec).await.unwrap();
    let wait = world.wait(shard, 10_000);
    tokio::time::sleep(BLOCKED).await;
    assert!(!wait.is_finished(), "nothing to do before it is due");

    let moved = world
        .store
        .promote_due_jobs(&world.queue, 100, due)
        .await
        .unwrap();
    assert_eq!(moved, 1);
    let woken = woken_within(wait, "the promotion wakes the worker").await;
    assert_eq!(woken.seen.len(), 1, "{woken:?}");
    assert_eq!(woken.seen[0].job.run_id, id);
    let taken = started(world.take(shard, &woken.seen, 8).await);
    assert!(
        matches!(taken.as_slice(), [(_, Some(StartOutcome::Start(_)))]),
        "{taken:?}"
    );
}

#[tokio::test]
async fn a_redelivered_job_wakes_a_waiting_worker() {
    let world = World::new().await;
    let shard = Shard::new(7);
    let id = world.run_id_on(shard);
    world.create(&id).await;
    // A worker reads the job and dies holding it.
    let mut conn = world.store.dedicated_connection().await.unwrap();
    let read = world
        .read(&mut conn, shard, "dead-worker", Priority::High)
        .await;
    assert_eq!(read.jobs.len(), 1);
    // The creation's wake-up is still there (the read went past it): a wait takes it at once.
    let stale = world.wait(shard, 10_000).await.unwrap();
    assert!(stale.is_some_and(|woken| woken.seen[0].job.run_id == id));
    let wait = world.wait(shard, 10_000);
    tokio::time::sleep(BLOCKED).await;
    assert!(!wait.is_finished(), "nothing undelivered");

    let report = world
        .store
        .reclaim_stale_jobs(&world.queue, 0, 5, common::time::now_ms())
        .await
        .unwrap();
    assert_eq!(report.redelivered, 1);
    let woken = woken_within(wait, "the redelivery wakes the worker").await;
    assert_eq!(woken.priority, Priority::Normal);
    let read = world.read(&mut conn, shard, WORKER, woken.priority).await;
    assert!(
        matches!(read.jobs.as_slice(), [job] if job.job.run_id == id && job.job.redeliveries == 1),
        "{read:?}"
    );
}

#[tokio::test]
async fn slots_taken_for_urgent_work_are_not_spent_on_less_urgent_jobs() {
    // A reader that took its slots for high-priority work (ahead of readers of low work on
    // other shards) and finds none left reads nothing: it waits again, as low work, rather
    // than spend those slots on its shard's low job.
    let world = World::new().await;
    let shard = Shard::new(3);
    let id = world.run_id_on(shard);
    let mut spec = world.spec(&id);
    spec.priority = Priority::Low;
    world.store.create_run(&spec).await.unwrap();
    let mut conn = world.store.dedicated_connection().await.unwrap();
    let read = world
        .read_between(&mut conn, shard, WORKER, Priority::High, Priority::High)
        .await;
    assert!(read.jobs.is_empty(), "{read:?}");
    let read = world
        .read_between(&mut conn, shard, WORKER, Priority::High, Priority::Low)
        .await;
    assert!(
        matches!(read.jobs.as_slice(), [job] if job.job.run_id == id && job.priority == Priority::Low),
        "{read:?}"
    );
}

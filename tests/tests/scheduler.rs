//! The scheduler's chores against a real `redis-server`, on a [`ManualClock`] the tests step
//! instead of sleeping: periodic slots, catch-up after an outage, delayed jobs, background
//! rounds and housekeeping. The crash and failover of whole scheduler processes are in
//! `engine.rs`.

use std::sync::Arc;

use baton_tests::RedisServer;
use common::engine::model::{Priority, QueueName, RunKind, RunSpec, RunStatus, TaskSpec};
use common::outbound::{AllowList, OutboundClient};
use common::store::Store;
use common::time::{Clock, ManualClock};
use common::workflows::definition::{Definition, PeriodicSpec};
use scheduler::chores::{Chores, RoundsStarted, TickReport, TickSettings};
use scheduler::claims::ClaimSettings;
use scheduler::releases::ReleaseSettings;
use scheduler::studies::StudySettings;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// The key prefix of every test's store.
const PREFIX: &str = "clock";
/// 2030-01-01T10:30:00Z: where the clock starts.
const T0: u64 = 1_893_493_800_000;
const SECOND: u64 = 1000;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

/// One test's scheduler: its own Redis, a store, and chores on a manual clock.
struct Bench {
    redis: RedisServer,
    store: Store,
    clock: Arc<ManualClock>,
    chores: Chores,
    settings: TickSettings,
}

impl Bench {
    async fn new() -> Self {
        Self::with(|_| {}).await
    }

    /// A bench whose tick settings `adjust` changes.
    async fn with(adjust: impl FnOnce(&mut TickSettings)) -> Self {
        let redis = RedisServer::start();
        let store = redis.store(PREFIX).await;
        let clock = Arc::new(ManualClock::new(T0));
        let chores = Chores::new(Arc::clone(&clock) as Arc<dyn Clock>);
        let mut settings = TickSettings {
            visibility_timeout_ms: 30_000,
            max_redeliveries: 5,
            releases: ReleaseSettings {
                poll_ms: 2000,
                service_timeout_ms: 60_000,
                client: client(),
            },
            studies: StudySettings {
                data_service: None,
                every_ms: 600_000,
            },
            claims: ClaimSettings::from_secs(0),
        };
        adjust(&mut settings);
        Self {
            redis,
            store,
            clock,
            chores,
            settings,
        }
    }

    /// Sets the clock to `at` and ticks.
    async fn tick_at(&self, at: u64) -> TickReport {
        self.clock.set(at);
        self.tick().await
    }

    async fn tick(&self) -> TickReport {
        self.chores
            .tick(&self.store, &self.settings)
            .await
            .expect("the tick succeeds")
    }

    /// Ticks at `at`, waits for the rounds it started to end, and says which started.
    async fn rounds_at(&self, at: u64) -> RoundsStarted {
        let rounds = self.tick_at(at).await.rounds;
        self.chores.rounds_idle().await;
        rounds
    }

    /// The id of the run of `definition`'s slot `slot_ms`.
    fn run_of_slot(definition: &Definition, slot_ms: u64) -> String {
        definition
            .periodic_run_spec(PREFIX, slot_ms)
            .id
            .expect("periodic runs have their id")
    }
}

/// A client allowed to reach loopback, where the tests' services listen.
fn client() -> OutboundClient {
    OutboundClient::new(AllowList::parse("127.0.0.1").unwrap()).unwrap()
}

fn periodic(name: &str, interval: Option<u64>, crontab: Option<&str>) -> Definition {
    Definition {
        name: name.into(),
        tasks: vec![noop_task("TICK")],
        queue: QueueName::default(),
        priority: Priority::Normal,
        periodic: Some(PeriodicSpec {
            interval,
            crontab: crontab.map(str::to_owned),
            payload: json!({"dry_run": false}),
        }),
        hooks: Default::default(),
        retention_offset: None,
    }
}

fn noop_task(key: &str) -> TaskSpec {
    TaskSpec {
        key: key.into(),
        executor: json!({"type": "handler", "name": "noop"}),
        depends_on: Vec::new(),
        queue: None,
        max_retries: 0,
        timeout_secs: None,
        is_hook: false,
    }
}

/// An address nothing listens on: calls to it are refused at once.
async fn closed_address() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}/")
}

/// A service that accepts connections and never answers until `hang_up` is sent; then it
/// closes them and stops listening.
async fn silent_service() -> (String, oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (hang_up, hung_up) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let mut held = Vec::new();
        tokio::pin!(hung_up);
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    if let Ok((stream, _)) = accepted {
                        held.push(stream);
                    }
                }
                _ = &mut hung_up => break,
            }
        }
    });
    (format!("http://{address}/"), hang_up)
}

#[tokio::test]
async fn an_interval_fires_once_per_slot_and_the_next_slot_when_it_comes() {
    let bench = Bench::new().await;
    let definition = periodic("test.EVERY_MINUTE", Some(60), None);
    bench.store.put_definition(&definition).await.unwrap();

    // The first tick fires the slot under way, once.
    let first = bench.tick_at(T0 + 15 * SECOND).await;
    assert_eq!(first.fired, vec![Bench::run_of_slot(&definition, T0)]);
    let run = bench.store.get_run(&first.fired[0]).await.unwrap().unwrap();
    assert!(run.periodic && run.payload == json!({"dry_run": false}));
    assert_eq!(
        run.created_ms,
        T0 + 15 * SECOND,
        "created at the clock's time"
    );
    assert_eq!(run.status, RunStatus::Pending);

    // Not again in the same slot, up to its last millisecond.
    assert!(bench.tick().await.fired.is_empty());
    assert!(bench.tick_at(T0 + MINUTE - 1).await.fired.is_empty());

    // Exactly one run at the next slot, and not again.
    let next = bench.tick_at(T0 + MINUTE).await;
    assert_eq!(
        next.fired,
        vec![Bench::run_of_slot(&definition, T0 + MINUTE)]
    );
    assert!(bench.tick().await.fired.is_empty());
    assert!(bench.tick_at(T0 + 2 * MINUTE - 1).await.fired.is_empty());
    assert_eq!(
        bench.store.last_fired_slot(&definition.name).await.unwrap(),
        Some(T0 + MINUTE)
    );
    assert_eq!(bench.store.list_run_ids(0, 100).await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_cron_schedule_fires_at_its_time_and_not_before() {
    let bench = Bench::new().await;
    // Every day at 09:30 UTC; the clock starts at 10:30 on 2030-01-01.
    let definition = periodic("test.DAILY", None, Some("30 9 * * *"));
    bench.store.put_definition(&definition).await.unwrap();
    let today = T0 - HOUR;

    let first = bench.tick_at(T0).await;
    assert_eq!(first.fired, vec![Bench::run_of_slot(&definition, today)]);
    assert!(bench.tick_at(T0 + 12 * HOUR).await.fired.is_empty());

    // Nothing a millisecond before tomorrow's slot, one run at it, none after in the slot.
    let tomorrow = today + DAY;
    assert!(bench.tick_at(tomorrow - 1).await.fired.is_empty());
    let at_slot = bench.tick_at(tomorrow).await;
    assert_eq!(
        at_slot.fired,
        vec![Bench::run_of_slot(&definition, tomorrow)]
    );
    assert!(bench.tick().await.fired.is_empty());
    assert!(bench.tick_at(tomorrow + 23 * HOUR).await.fired.is_empty());

    // The day after, its slot once more.
    let after = bench.tick_at(tomorrow + DAY + SECOND).await;
    assert_eq!(
        after.fired,
        vec![Bench::run_of_slot(&definition, tomorrow + DAY)]
    );
    assert_eq!(bench.store.list_run_ids(0, 100).await.unwrap().len(), 3);
}

#[tokio::test]
async fn slots_missed_during_an_outage_are_fired_late_once_each_and_bounded() {
    let bench = Bench::new().await;
    let definition = periodic("test.CATCH_UP", Some(60), None);
    bench.store.put_definition(&definition).await.unwrap();
    assert_eq!(bench.tick_at(T0).await.fired.len(), 1);

    // Five minutes without a tick: the five missed slots, oldest first, each once.
    let back = bench.tick_at(T0 + 5 * MINUTE + 30 * SECOND).await;
    let expected: Vec<String> = (1..=5)
        .map(|slot| Bench::run_of_slot(&definition, T0 + slot * MINUTE))
        .collect();
    assert_eq!(back.fired, expected);
    assert!(bench.tick().await.fired.is_empty());

    // Two hours without a tick: only the sixty most recent slots.
    let resumed_at = T0 + 5 * MINUTE + 2 * HOUR;
    let long = bench.tick_at(resumed_at).await;
    let expected: Vec<String> = (0..60)
        .rev()
        .map(|back| Bench::run_of_slot(&definition, resumed_at - back * MINUTE))
        .collect();
    assert_eq!(long.fired, expected);
    assert_eq!(
        bench.store.last_fired_slot(&definition.name).await.unwrap(),
        Some(resumed_at)
    );
    assert!(bench.tick().await.fired.is_empty());
    assert_eq!(bench.store.list_run_ids(0, 1000).await.unwrap().len(), 66);
}

#[tokio::test]
async fn a_delayed_run_is_promoted_once_it_is_due_and_only_then() {
    let bench = Bench::new().await;
    let due = T0 + 5 * SECOND;
    let spec = RunSpec {
        id: None,
        definition: "test.later".into(),
        kind: RunKind::Workflow,
        payload: Value::Null,
        tasks: vec![noop_task("LATER")],
        queue: QueueName::default(),
        priority: Priority::Normal,
        periodic: false,
        not_before_ms: Some(due),
        hooks: Default::default(),
    };
    let id = bench
        .store
        .create_runs_at(&[spec], T0)
        .await
        .unwrap()
        .pop()
        .unwrap();

    assert_eq!(bench.tick_at(T0).await.promoted, 0);
    assert_eq!(bench.tick_at(due - 1).await.promoted, 0);
    assert_eq!(
        bench.store.get_run(&id).await.unwrap().unwrap().status,
        RunStatus::Pending
    );
    assert_eq!(bench.tick_at(due).await.promoted, 1);
    assert_eq!(bench.tick().await.promoted, 0, "promoted once");
    assert_eq!(bench.tick_at(due + HOUR).await.promoted, 0);
}

#[tokio::test]
async fn background_rounds_start_once_per_interval() {
    let data_service = closed_address().await;
    let bench = Bench::with(|settings| {
        settings.releases.poll_ms = 2000;
        settings.studies = StudySettings {
            data_service: Some(
                common::releases::dataservice::DataService::new(&data_service, client()).unwrap(),
            ),
            every_ms: 10_000,
        };
        // Sweeps every second: a quarter of the timeout.
        settings.claims = ClaimSettings::from_secs(4);
    })
    .await;
    let all = RoundsStarted {
        releases: true,
        studies: true,
        claims: true,
    };
    let none = RoundsStarted::default();

    assert_eq!(bench.rounds_at(T0).await, all, "all due at first");
    assert_eq!(bench.rounds_at(T0).await, none);
    assert_eq!(bench.rounds_at(T0 + SECOND - 1).await, none);
    let claims = RoundsStarted {
        claims: true,
        ..none
    };
    assert_eq!(bench.rounds_at(T0 + SECOND).await, claims);
    assert_eq!(bench.rounds_at(T0 + SECOND).await, none);
    let releases_and_claims = RoundsStarted {
        releases: true,
        claims: true,
        ..none
    };
    assert_eq!(bench.rounds_at(T0 + 2 * SECOND).await, releases_and_claims);
    assert_eq!(bench.rounds_at(T0 + 9 * SECOND).await, releases_and_claims);
    assert_eq!(bench.rounds_at(T0 + 10 * SECOND - 1).await, none);
    assert_eq!(
        bench.rounds_at(T0 + 10 * SECOND).await,
        RoundsStarted {
            studies: true,
            claims: true,
            ..none
        }
    );
}

#[tokio::test]
async fn a_round_never_starts_while_the_last_one_runs() {
    let (data_service, hang_up) = silent_service().await;
    let bench = Bench::with(|settings| {
        settings.studies = StudySettings {
            data_service: Some(
                common::releases::dataservice::DataService::new(&data_service, client()).unwrap(),
            ),
            every_ms: 10_000,
        };
    })
    .await;

    assert!(bench.tick_at(T0).await.rounds.studies);
    // The data service never answers: the sync runs on, however late it gets.
    assert!(!bench.tick_at(T0 + 10 * SECOND).await.rounds.studies);
    assert!(!bench.tick_at(T0 + HOUR).await.rounds.studies);

    hang_up.send(()).unwrap();
    bench.chores.rounds_idle().await;
    assert!(bench.tick().await.rounds.studies, "due, and none runs");
    bench.chores.rounds_idle().await;
    assert!(!bench.tick().await.rounds.studies);
}

#[tokio::test]
async fn housekeeping_runs_once_per_interval_by_the_clock() {
    let bench = Bench::new().await;
    let every = 30 * SECOND;
    let housekeeping = |at: u64| {
        bench.clock.set(at);
        bench
            .chores
            .housekeeping_if_due(&bench.store, every, 60 * SECOND)
    };
    assert!(housekeeping(T0).await.unwrap(), "due at first");
    assert!(!housekeeping(T0).await.unwrap());
    assert!(!housekeeping(T0 + every - 1).await.unwrap());
    assert!(housekeeping(T0 + every).await.unwrap());
    assert!(!housekeeping(T0 + every).await.unwrap());
    // A clock set back does not hold housekeeping off until it catches up.
    assert!(housekeeping(T0).await.unwrap());
}

#[tokio::test]
async fn an_abandoned_claim_returns_to_the_pool_once_its_timeout_passes_on_the_clock() {
    let bench = Bench::with(|settings| settings.claims = ClaimSettings::from_secs(3600)).await;
    let store = &bench.store;
    let human = QueueName::human();
    store
        .create_project(1, |_| RunSpec {
            id: None,
            definition: "project.decide".into(),
            kind: RunKind::Project,
            payload: json!({}),
            tasks: vec![TaskSpec {
                executor: json!({"type": "human"}),
                queue: Some(human.clone()),
                ..noop_task("decide")
            }],
            queue: QueueName::default(),
            priority: Priority::Normal,
            periodic: false,
            not_before_ms: None,
            hooks: Default::default(),
        })
        .await
        .unwrap();
    let job = store
        .claim_human_job(&human, "alice")
        .await
        .unwrap()
        .expect("alice claims the task");
    // The claim is dated by the wall clock: the scheduler's clock starts there.
    let claimed_at = common::time::now_ms();
    // Redis's side of the timeout, the claim's pending entry idle for two hours, is set
    // rather than waited for.
    let mut conn = bench.redis.connection().await;
    redis::cmd("XCLAIM")
        .arg(store.keys().stream(job.shard, &human, job.priority))
        .arg(common::keys::CONSUMER_GROUP)
        .arg("alice")
        .arg(0)
        .arg(&job.entry_id)
        .arg("IDLE")
        .arg(2 * HOUR)
        .arg("JUSTID")
        .query_async::<Vec<String>>(&mut conn)
        .await
        .unwrap();
    let held = || async { store.held_human_jobs(&human, "alice", 10).await.unwrap() };

    assert!(bench.rounds_at(claimed_at).await.claims);
    assert_eq!(held().await.len(), 1, "alice was active an instant ago");
    assert!(bench.rounds_at(claimed_at + HOUR - MINUTE).await.claims);
    assert_eq!(held().await.len(), 1, "a minute before the timeout");

    assert!(bench.rounds_at(claimed_at + HOUR + MINUTE).await.claims);
    assert!(held().await.is_empty(), "returned to the pool");
    let again = store
        .claim_human_job(&human, "bob")
        .await
        .unwrap()
        .expect("bob claims the returned task");
    assert_eq!(again.job.run_id, job.job.run_id);
}

//! End-to-end tests of the releases front (the Release Coordinator's API), over real sockets,
//! against real `baton-api`, `baton-worker` and `baton-scheduler` processes, a real
//! `redis-server`, and real task services (`examples/task_service.py`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use baton_tests::process::BatonProcess;
use baton_tests::signed_http::{Answer, free_port, send_signed};
use baton_tests::wait::{wait_for, wait_until};
use baton_tests::{Client, TestApp};
use common::auth::signing::sign::Signer;
use serde_json::{Value, json};

/// Seconds a task service may stay silent with a task in flight (kept short for the tests).
const SERVICE_TIMEOUT_SECS: &str = "2";

/// A running coordinator: Redis, API, worker and scheduler, and its keys.
struct Coordinator {
    app: TestApp,
    base: String,
    http: reqwest::Client,
    signer: Signer,
    reader: Signer,
    service_secret: String,
}

/// How an example task service behaves.
#[derive(Default, Clone, Copy)]
struct Behaviour {
    work_secs: f64,
    fail_on: Option<&'static str>,
}

fn example_service() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/task_service.py")
}

impl Coordinator {
    async fn start() -> Self {
        // The example task services listen on loopback, which the outbound policy refuses
        // unless allowed. Only the API holds the master key: the worker and the scheduler
        // refuse to start with it.
        let app = TestApp::builder()
            .env("BATON_OUTBOUND_ALLOW", "127.0.0.1")
            .workers(1)
            .worker_env("BATON_BLOCK_MS", "200")
            .worker_env("BATON_QUEUES", "default")
            .worker_env("BATON_HEARTBEAT_SECS", "1")
            .scheduler(true)
            .scheduler_env("BATON_TICK_MS", "50")
            .scheduler_env("BATON_VISIBILITY_TIMEOUT_SECS", "3")
            .scheduler_env("BATON_RELEASE_POLL_MS", "200")
            .scheduler_env("BATON_TASK_SERVICE_TIMEOUT_SECS", SERVICE_TIMEOUT_SECS)
            .spawn()
            .await;
        let signer = app.key("coordinator", "releases.read,releases.write").await;
        let reader = app.key("reader", "releases.read").await;
        let service_secret = app
            .create_key("service", "releases.read,releases.write", &[])
            .await;
        Self {
            base: app.base().to_owned(),
            http: app.http().clone(),
            signer,
            reader,
            service_secret,
            app,
        }
    }

    /// The store the processes share.
    async fn store(&self) -> common::store::Store {
        self.app.store().await
    }

    /// Starts an example task service and returns it with its base URL.
    async fn task_service(&self, behaviour: Behaviour) -> (BatonProcess, String) {
        self.task_service_with(behaviour, &[]).await
    }

    /// [`Coordinator::task_service`] with extra arguments.
    async fn task_service_with(
        &self,
        behaviour: Behaviour,
        extra: &[&str],
    ) -> (BatonProcess, String) {
        let work = behaviour.work_secs.to_string();
        let mut args = vec![
            example_service().display().to_string(),
            "--port".into(),
            "0".into(),
            "--coordinator".into(),
            self.base.clone(),
            "--key-id".into(),
            "service".into(),
            // The `=` form: a secret may start with '-'.
            format!("--secret={}", self.service_secret),
            "--work-secs".into(),
            work,
        ];
        if let Some(action) = behaviour.fail_on {
            args.extend(["--fail-on".into(), action.into()]);
        }
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let process = BatonProcess::spawn_path(Path::new("python3"), &args, &[]);
        process
            .wait_for_log("listening on ", Duration::from_secs(10))
            .await;
        let port: u16 = process
            .log()
            .lines()
            .find_map(|line| line.strip_prefix("listening on "))
            .and_then(|port| port.trim().parse().ok())
            .expect("the service prints its port");
        (process, format!("http://127.0.0.1:{port}"))
    }

    /// Starts and registers a task service; returns it with its id.
    async fn register(&self, name: &str, behaviour: Behaviour) -> (BatonProcess, String) {
        let (process, url) = self.task_service(behaviour).await;
        let answer = self
            .send(
                "POST",
                "/task-services",
                Some(&json!({"name": name, "description": "test", "author": "tests", "url": url})),
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let id = answer.body["kf_id"].as_str().unwrap().to_owned();
        (process, id)
    }

    async fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Answer {
        let bytes = body
            .map(|b| serde_json::to_vec(b).unwrap())
            .unwrap_or_default();
        self.send_raw(Some(&self.signer), method, path, &bytes)
            .await
    }

    async fn get(&self, path: &str) -> Answer {
        self.send_raw(Some(&self.reader), "GET", path, &[]).await
    }

    async fn send_raw(
        &self,
        signer: Option<&Signer>,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Answer {
        // A signed change is refused when repeated (replay): the client signs a unique
        // request id into each.
        let answer = Client::new(self.http.clone(), &self.base, signer.cloned())
            .send_raw(method, path, body, &[])
            .await;
        if answer.status >= 500 {
            eprintln!(
                "the API answered {} to {method} {path}; its log ends:\n{}",
                answer.status,
                self.app.api_process().log_tail(30)
            );
        }
        answer
    }

    async fn create_release(&self, name: &str, studies: &[&str]) -> Value {
        let answer = self
            .send(
                "POST",
                "/releases",
                Some(&json!({"name": name, "description": "d", "author": "tests", "studies": studies})),
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.body
    }

    async fn release(&self, id: &str) -> Value {
        let answer = self.get(&format!("/releases/{id}")).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.body
    }

    async fn wait_release_state(&self, id: &str, state: &str, timeout: Duration) -> Value {
        wait_for(timeout, &format!("release {id} to be {state}"), || async {
            let release = self.release(id).await;
            (release["state"] == state).then_some(release)
        })
        .await
    }

    /// Every event matching `query`, oldest first (the API lists them newest first).
    async fn events(&self, query: &str) -> Vec<Value> {
        let answer = self.get(&format!("/events?limit=1000&{query}")).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let mut events = answer.body["results"].as_array().unwrap().clone();
        events.reverse();
        events
    }
}

fn messages(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|event| event["message"].as_str().unwrap().to_owned())
        .collect()
}

fn task_id(task: &Value) -> String {
    task["kf_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_release_with_two_services_goes_from_creation_to_published() {
    let coordinator = Coordinator::start().await;
    let fast = Behaviour {
        work_secs: 0.5,
        fail_on: None,
    };
    let (_etl, etl_id) = coordinator.register("ETL Task Service", fast).await;
    let (_snapshot, snapshot_id) = coordinator.register("Snapshot Task Service", fast).await;

    let created = coordinator.create_release("First", &["SD_ME0WME0W"]).await;
    let id = created["kf_id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("RE_") && id.len() == 11, "{id}");
    assert_eq!(created["version"], "0.0.1");
    assert_eq!(created["studies"], json!(["SD_ME0WME0W"]));
    let tasks = created["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2);
    assert!(
        tasks[0]["release"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/releases/{id}"))
    );
    assert!(tasks.iter().any(|t| {
        t["task_service"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/task-services/{etl_id}"))
    }));
    assert!(
        tasks
            .iter()
            .any(|t| t["service_name"] == "Snapshot Task Service")
    );

    let early = coordinator
        .send("POST", &format!("/releases/{id}/publish"), None)
        .await;
    assert_eq!(early.status, 400, "{}", early.body);
    assert!(early.body["message"].as_str().unwrap().contains("staged"));

    let mut observed: Vec<String> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while observed.last().map(String::as_str) != Some("staged") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the release is not staged: {observed:?}"
        );
        let state = coordinator.release(&id).await["state"]
            .as_str()
            .unwrap()
            .to_owned();
        if observed.last() != Some(&state) {
            observed.push(state);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let published = coordinator
        .send("POST", &format!("/releases/{id}/publish/"), None)
        .await;
    assert_eq!(
        (published.status, published.body),
        (200, json!({"message": "publishing"}))
    );
    let release = coordinator
        .wait_release_state(&id, "published", Duration::from_secs(15))
        .await;
    observed.push("published".into());
    let order = [
        "initializing",
        "initialized",
        "running",
        "staged",
        "publishing",
        "published",
    ];
    let positions: Vec<usize> = observed
        .iter()
        .map(|state| order.iter().position(|o| o == state).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{observed:?}");
    assert_eq!(release["version"], "0.1.0");
    assert!(
        release["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|task| task["state"] == "published" && task["progress"] == 100)
    );

    let study = coordinator.get("/studies").await;
    assert_eq!(study.body["count"], 1);
    assert_eq!(study.body["results"][0]["kf_id"], "SD_ME0WME0W");
    assert_eq!(study.body["results"][0]["version"], "0.1.0");
    assert_eq!(study.body["results"][0]["last_pub_version"], "0.1.0");

    let release_events: Vec<String> = messages(&coordinator.events(&format!("release={id}")).await)
        .into_iter()
        .filter(|message| message.starts_with("release "))
        .collect();
    let expected: Vec<String> = [
        ("waiting", "initializing"),
        ("initializing", "initialized"),
        ("initialized", "running"),
        ("running", "staged"),
        ("staged", "publishing"),
    ]
    .iter()
    .map(|(from, to)| format!("release {id}, version 0.0.1 changed from {from} to {to}"))
    .chain([format!(
        "release {id}, version 0.1.0 changed from publishing to published"
    )])
    .collect();
    assert_eq!(release_events, expected);
    for task in release["tasks"].as_array().unwrap() {
        let task_id = task_id(task);
        let events = coordinator.events(&format!("task={task_id}")).await;
        let expected: Vec<String> = [
            ("waiting", "initialized"),
            ("initialized", "running"),
            ("running", "staged"),
            ("staged", "publishing"),
            ("publishing", "published"),
        ]
        .iter()
        .map(|(from, to)| format!("task {task_id} changed from {from} to {to}"))
        .collect();
        assert_eq!(messages(&events), expected);
        assert!(events.iter().all(|event| event["event_type"] == "info"));
        assert!(
            events[0]["task_service"]
                .as_str()
                .unwrap()
                .contains("/task-services/TS_")
        );
    }
    let _ = snapshot_id;

    // The next release starts at the next patch of the published version.
    let next = coordinator.create_release("Second", &[]).await;
    assert_eq!(next["version"], "0.1.1");
}

#[tokio::test]
async fn a_failing_service_fails_the_release_and_cancels_the_other_task() {
    let coordinator = Coordinator::start().await;
    let (_slow, slow_id) = coordinator
        .register(
            "Slow",
            Behaviour {
                work_secs: 30.0,
                fail_on: None,
            },
        )
        .await;
    let (_broken, broken_id) = coordinator
        .register(
            "Broken",
            Behaviour {
                work_secs: 0.5,
                fail_on: Some("start"),
            },
        )
        .await;
    let id = coordinator.create_release("Doomed", &[]).await["kf_id"]
        .as_str()
        .unwrap()
        .to_owned();
    coordinator
        .wait_release_state(&id, "failed", Duration::from_secs(15))
        .await;
    let tasks = wait_for(
        Duration::from_secs(15),
        "the other task to be canceled",
        || async {
            let answer = coordinator.get(&format!("/tasks?release={id}")).await;
            let tasks = answer.body["results"].as_array().unwrap().clone();
            let slow = tasks
                .iter()
                .find(|t| t["task_service"].as_str().unwrap().ends_with(&slow_id))?;
            (slow["state"] == "canceled").then_some(tasks)
        },
    )
    .await;
    let broken = tasks
        .iter()
        .find(|t| t["task_service"].as_str().unwrap().ends_with(&broken_id))
        .unwrap();
    assert_eq!(broken["state"], "failed");
    let events = coordinator
        .events(&format!("task={}", task_id(broken)))
        .await;
    let failure = events.last().unwrap();
    assert_eq!(failure["event_type"], "error");
    assert!(
        failure["message"]
            .as_str()
            .unwrap()
            .contains("changed from initialized to failed"),
        "{failure}"
    );
    let release_events = coordinator.events(&format!("release={id}")).await;
    assert!(
        release_events
            .iter()
            .any(|event| event["event_type"] == "error"
                && event["message"]
                    == format!("release {id}, version 0.0.1 changed from initialized to failed"))
    );
}

#[tokio::test]
async fn canceling_a_running_release_cancels_every_task() {
    let coordinator = Coordinator::start().await;
    let slow = Behaviour {
        work_secs: 30.0,
        fail_on: None,
    };
    let (_a, _) = coordinator.register("A", slow).await;
    let (_b, _) = coordinator.register("B", slow).await;
    let id = coordinator.create_release("Canceled", &[]).await["kf_id"]
        .as_str()
        .unwrap()
        .to_owned();
    coordinator
        .wait_release_state(&id, "running", Duration::from_secs(15))
        .await;
    let canceling = coordinator
        .send("DELETE", &format!("/releases/{id}"), None)
        .await;
    assert_eq!(canceling.status, 200, "{}", canceling.body);
    assert!(
        ["canceling", "canceled"].contains(&canceling.body["state"].as_str().unwrap()),
        "{}",
        canceling.body
    );
    let release = coordinator
        .wait_release_state(&id, "canceled", Duration::from_secs(15))
        .await;
    assert!(
        release["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|task| task["state"] == "canceled")
    );
    let again = coordinator
        .send("DELETE", &format!("/releases/{id}"), None)
        .await;
    assert_eq!(again.status, 400, "{}", again.body);
    let publish = coordinator
        .send("POST", &format!("/releases/{id}/publish"), None)
        .await;
    assert_eq!(publish.status, 400, "{}", publish.body);
    let messages = messages(&coordinator.events(&format!("release={id}")).await);
    for (from, to) in [("running", "canceling"), ("canceling", "canceled")] {
        let expected = format!("release {id}, version 0.0.1 changed from {from} to {to}");
        assert!(messages.contains(&expected), "{messages:?}");
    }
}

#[tokio::test]
async fn a_service_that_does_not_answer_is_not_registered() {
    let coordinator = Coordinator::start().await;
    let dead = format!("http://127.0.0.1:{}", free_port());
    let answer = coordinator
        .send(
            "POST",
            "/task-services",
            Some(&json!({"name": "Dead", "url": dead})),
        )
        .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(answer.body["message"].as_str().unwrap().contains("/status"));
    let missing_url = coordinator
        .send("POST", "/task-services", Some(&json!({"name": "No URL"})))
        .await;
    assert_eq!(missing_url.status, 400);
    let list = coordinator.get("/task-services").await;
    assert_eq!(list.body["count"], 0);
}

#[tokio::test]
async fn lists_paginate_and_filter() {
    let coordinator = Coordinator::start().await;
    let quick = Behaviour {
        work_secs: 30.0,
        fail_on: None,
    };
    let (_one, one) = coordinator.register("One", quick).await;
    let (_two, two) = coordinator.register("Two", quick).await;
    let (_three, three) = coordinator.register("Three", quick).await;
    let disabled = coordinator
        .send(
            "PATCH",
            &format!("/task-services/{three}/"),
            Some(&json!({"enabled": false, "description": "off"})),
        )
        .await;
    assert_eq!(disabled.status, 200, "{}", disabled.body);
    assert_eq!(disabled.body["enabled"], false);
    assert_eq!(disabled.body["description"], "off");

    let page = coordinator.get("/task-services?limit=1&offset=1").await;
    assert_eq!(page.body["count"], 3);
    assert_eq!(page.body["results"].as_array().unwrap().len(), 1);
    assert_eq!(page.body["results"][0]["kf_id"], two.as_str());
    let next = page.body["next"].as_str().unwrap();
    assert!(
        next.contains("limit=1") && next.contains("offset=2"),
        "{next}"
    );
    let previous = page.body["previous"].as_str().unwrap();
    assert!(previous.contains("offset=0"), "{previous}");
    let last = coordinator.get("/task-services?limit=1&offset=2").await;
    assert_eq!(last.body["next"], Value::Null);
    let first = coordinator.get("/task-services?limit=1").await;
    assert_eq!(first.body["previous"], Value::Null);
    // Newest first, as the coordinator lists them.
    assert_eq!(first.body["results"][0]["kf_id"], three.as_str());
    assert_eq!(last.body["results"][0]["kf_id"], one.as_str());
    let off = coordinator.get("/task-services?enabled=False").await;
    assert_eq!(off.body["count"], 1);
    assert_eq!(off.body["results"][0]["kf_id"], three.as_str());
    let on = coordinator.get("/task-services?enabled=True").await;
    assert_eq!(on.body["count"], 2);
    assert_eq!(coordinator.get("/task-services?limit=0").await.status, 400);

    let first_release = coordinator.create_release("R1", &[]).await;
    let r1 = first_release["kf_id"].as_str().unwrap().to_owned();
    assert_eq!(
        first_release["tasks"].as_array().unwrap().len(),
        2,
        "only enabled services"
    );
    let r2 = coordinator.create_release("R2", &[]).await["kf_id"]
        .as_str()
        .unwrap()
        .to_owned();
    coordinator
        .wait_release_state(&r1, "running", Duration::from_secs(15))
        .await;
    let canceled = coordinator
        .send("DELETE", &format!("/releases/{r2}"), None)
        .await;
    assert_eq!(canceled.status, 200);
    coordinator
        .wait_release_state(&r2, "canceled", Duration::from_secs(15))
        .await;

    let releases = coordinator.get("/releases?limit=1").await;
    assert_eq!(releases.body["count"], 2);
    assert!(releases.body["next"].as_str().unwrap().contains("offset=1"));
    let running = coordinator.get("/releases?state=running").await;
    assert_eq!(running.body["count"], 1);
    assert_eq!(running.body["results"][0]["kf_id"], r1.as_str());
    assert_eq!(coordinator.get("/releases?state=bogus").await.status, 400);

    let tasks = coordinator.get("/tasks").await;
    assert_eq!(tasks.body["count"], 4);
    let of_r1 = coordinator
        .get(&format!("/tasks?release={r1}&task_service={one}"))
        .await;
    assert_eq!(of_r1.body["count"], 1);
    assert_eq!(of_r1.body["results"][0]["state"], "running");
    let canceled_tasks = coordinator.get("/tasks?state=canceled").await;
    assert_eq!(canceled_tasks.body["count"], 2);
    for (release, count) in [(&r1, 0), (&r2, 2)] {
        let both = coordinator
            .get(&format!("/tasks?release={release}&state=canceled"))
            .await;
        assert_eq!(both.body["count"], count, "{release}: {}", both.body);
    }
    let paged = coordinator.get("/tasks?limit=3&offset=3").await;
    assert_eq!(paged.body["results"].as_array().unwrap().len(), 1);
    assert_eq!(paged.body["next"], Value::Null);
    assert!(
        paged.body["previous"]
            .as_str()
            .unwrap()
            .contains("offset=0")
    );

    let r1_task = task_id(&of_r1.body["results"][0]);
    let task_events = coordinator.events(&format!("task={r1_task}")).await;
    assert_eq!(
        messages(&task_events),
        vec![
            format!("task {r1_task} changed from waiting to initialized"),
            format!("task {r1_task} changed from initialized to running"),
        ]
    );
    let service_events = coordinator.events(&format!("task_service={one}")).await;
    assert!(service_events.len() >= 3, "{service_events:?}");
    assert!(service_events.iter().all(|event| {
        event["task_service"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/task-services/{one}"))
    }));
    let events_page = coordinator
        .get(&format!("/events?release={r1}&limit=2"))
        .await;
    assert!(events_page.body["count"].as_u64().unwrap() >= 7);
    assert_eq!(events_page.body["results"].as_array().unwrap().len(), 2);

    // Notes and posted events, with their filters.
    let note = coordinator
        .send(
            "POST",
            "/release-notes",
            Some(&json!({"description": "More cats", "author": "daniel", "release": r1})),
        )
        .await;
    assert_eq!(note.status, 200, "{}", note.body);
    let note_id = note.body["kf_id"].as_str().unwrap().to_owned();
    assert!(note_id.starts_with("RN_"));
    let notes = coordinator
        .get(&format!("/release-notes?release={r1}"))
        .await;
    assert_eq!(notes.body["count"], 1);
    assert_eq!(
        coordinator
            .get(&format!("/release-notes?release={r2}"))
            .await
            .body["count"],
        0
    );
    let patched = coordinator
        .send(
            "PATCH",
            &format!("/release-notes/{note_id}"),
            Some(&json!({"description": "Fewer cats"})),
        )
        .await;
    assert_eq!(patched.body["description"], "Fewer cats");
    assert_eq!(
        coordinator.release(&r1).await["notes"][0]["kf_id"],
        note_id.as_str()
    );
    let posted = coordinator
        .send(
            "POST",
            "/events",
            Some(&json!({"event_type": "warning", "message": "hello", "release": r2})),
        )
        .await;
    assert_eq!(posted.status, 200, "{}", posted.body);
    let event_id = posted.body["kf_id"].as_str().unwrap().to_owned();
    assert_eq!(
        coordinator.get(&format!("/events/{event_id}")).await.body["message"],
        "hello"
    );
    assert_eq!(
        coordinator
            .send("DELETE", &format!("/events/{event_id}"), None)
            .await
            .status,
        200
    );
    assert_eq!(
        coordinator
            .send("DELETE", &format!("/release-notes/{note_id}"), None)
            .await
            .status,
        200
    );
    assert_eq!(
        coordinator.get(&format!("/events/{event_id}")).await.status,
        404
    );
    assert_eq!(
        coordinator
            .send("DELETE", &format!("/task-services/{three}"), None)
            .await
            .status,
        200
    );
    assert_eq!(coordinator.get("/task-services").await.body["count"], 2);
}

#[tokio::test]
async fn a_service_killed_mid_release_fails_its_task_after_the_timeout() {
    let coordinator = Coordinator::start().await;
    let slow = Behaviour {
        work_secs: 60.0,
        fail_on: None,
    };
    let (mut doomed, doomed_id) = coordinator.register("Doomed", slow).await;
    let (_alive, _) = coordinator.register("Alive", slow).await;
    let id = coordinator.create_release("Interrupted", &[]).await["kf_id"]
        .as_str()
        .unwrap()
        .to_owned();
    coordinator
        .wait_release_state(&id, "running", Duration::from_secs(15))
        .await;
    doomed.kill_9();
    let release = coordinator
        .wait_release_state(&id, "failed", Duration::from_secs(15))
        .await;
    let doomed_task = release["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["task_service"].as_str().unwrap().ends_with(&doomed_id))
        .unwrap()
        .clone();
    assert_eq!(doomed_task["state"], "failed");
    let events = coordinator
        .events(&format!("task={}", task_id(&doomed_task)))
        .await;
    let failure = events.last().unwrap();
    assert_eq!(failure["event_type"], "error");
    assert!(
        failure["message"]
            .as_str()
            .unwrap()
            .contains(&format!("task service {doomed_id} stopped answering")),
        "{failure}"
    );
    coordinator
        .wait_release_state(&id, "failed", Duration::from_secs(1))
        .await;
    wait_until(
        Duration::from_secs(15),
        "the other task to be canceled",
        || async {
            let release = coordinator.release(&id).await;
            release["tasks"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t["state"] == "failed" || t["state"] == "canceled")
        },
    )
    .await;
    wait_until(
        Duration::from_secs(10),
        "the dead service to be marked down",
        || async {
            coordinator
                .get(&format!("/task-services/{doomed_id}"))
                .await
                .body["health_status"]
                == "down"
        },
    )
    .await;
}

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let coordinator = Coordinator::start().await;
    let (_service, _) = coordinator
        .register(
            "Idle",
            Behaviour {
                work_secs: 30.0,
                fail_on: None,
            },
        )
        .await;
    let release = coordinator.create_release("Checked", &[]).await;
    let id = release["kf_id"].as_str().unwrap().to_owned();
    let task = task_id(&release["tasks"][0]);
    coordinator
        .wait_release_state(&id, "running", Duration::from_secs(15))
        .await;

    let impossible = coordinator
        .send(
            "PATCH",
            &format!("/tasks/{task}"),
            Some(&json!({"state": "published"})),
        )
        .await;
    assert_eq!(impossible.status, 400, "{}", impossible.body);
    assert!(
        impossible.body["message"]
            .as_str()
            .unwrap()
            .contains("cannot change from running to published")
    );
    let unknown_state = coordinator
        .send(
            "PATCH",
            &format!("/tasks/{task}"),
            Some(&json!({"state": "done"})),
        )
        .await;
    assert_eq!(unknown_state.status, 400);
    let bad_progress = coordinator
        .send(
            "PATCH",
            &format!("/tasks/{task}"),
            Some(&json!({"progress": 101})),
        )
        .await;
    assert_eq!(bad_progress.status, 400);
    let progress = coordinator
        .send(
            "PATCH",
            &format!("/tasks/{task}"),
            Some(&json!({"progress": 40})),
        )
        .await;
    assert_eq!(progress.status, 200, "{}", progress.body);
    assert_eq!(
        (
            progress.body["progress"].clone(),
            progress.body["state"].clone()
        ),
        (json!(40), json!("running"))
    );

    let malformed = coordinator
        .send_raw(Some(&coordinator.signer), "POST", "/releases", b"{not json")
        .await;
    assert_eq!(malformed.status, 400);
    assert!(malformed.body["message"].as_str().unwrap().contains("JSON"));
    let wrong_type = coordinator
        .send(
            "POST",
            "/releases",
            Some(&json!({"name": "x", "is_major": "yes"})),
        )
        .await;
    assert_eq!(wrong_type.status, 400);
    let bad_study = coordinator
        .send(
            "POST",
            "/releases",
            Some(&json!({"name": "x", "studies": ["nope"]})),
        )
        .await;
    assert_eq!(bad_study.status, 400);

    for path in [
        "/releases/RE_NOPE0000",
        "/tasks/TA_NOPE0000",
        "/task-services/TS_NOPE0000",
        "/events/EV_NOPE0000",
        "/release-notes/RN_NOPE0000",
        "/studies/SD_NOPE0000",
        "/releases/not-an-id",
    ] {
        let answer = coordinator.get(path).await;
        assert_eq!(answer.status, 404, "{path}: {}", answer.body);
        assert!(
            answer.body["message"]
                .as_str()
                .unwrap()
                .contains("not found")
        );
    }
    let unknown_patch = coordinator
        .send(
            "PATCH",
            "/tasks/TA_NOPE0000",
            Some(&json!({"state": "staged"})),
        )
        .await;
    assert_eq!(unknown_patch.status, 404);
    assert_eq!(
        coordinator
            .send("POST", "/releases/RE_NOPE0000/publish", None)
            .await
            .status,
        404
    );
    assert_eq!(
        coordinator.send("DELETE", "/tasks/x", None).await.status,
        405
    );

    // A fresh client: the server closes the connection of a refused oversized body. It is
    // signed: an unsigned body is refused (401) before its size matters.
    let oversized = send_signed(
        &reqwest::Client::new(),
        &coordinator.base,
        Some(&coordinator.signer),
        "POST",
        "/releases",
        &vec![b' '; 2 * 1024 * 1024],
        &[],
    )
    .await;
    assert_eq!(oversized.status, 413);
    assert!(
        oversized.body["message"]
            .as_str()
            .unwrap()
            .contains("larger than")
    );

    let unsigned = coordinator.send_raw(None, "GET", "/releases", &[]).await;
    assert_eq!(unsigned.status, 401);
    assert!(unsigned.body["message"].is_string());
    let read_only = coordinator
        .send_raw(
            Some(&coordinator.reader),
            "POST",
            "/releases",
            br#"{"name": "x"}"#,
        )
        .await;
    assert_eq!(read_only.status, 403, "{}", read_only.body);
}

#[tokio::test]
async fn the_example_service_registers_itself_once() {
    let coordinator = Coordinator::start().await;
    let (service, url) = coordinator
        .task_service_with(Behaviour::default(), &["--register"])
        .await;
    let registered = wait_for(
        Duration::from_secs(15),
        "the service to register",
        || async {
            let list = coordinator.get("/task-services").await;
            (list.body["count"] == 1).then_some(list.body["results"][0].clone())
        },
    )
    .await;
    assert_eq!(registered["url"], url.as_str());
    assert_eq!(registered["health_status"], "ok");
    service
        .wait_for_log("registered at", Duration::from_secs(5))
        .await;
}

#[tokio::test]
async fn repeated_transitions_and_phases_change_nothing() {
    use common::releases::TaskState;
    use common::store::releases::lifecycle::StepResult;

    let coordinator = Coordinator::start().await;
    let fast = Behaviour {
        work_secs: 0.2,
        fail_on: None,
    };
    let (_service, _) = coordinator.register("Fast", fast).await;
    let id = coordinator.create_release("Once", &[]).await["kf_id"]
        .as_str()
        .unwrap()
        .to_owned();
    coordinator
        .wait_release_state(&id, "staged", Duration::from_secs(15))
        .await;
    let store = coordinator.store().await;
    let task = coordinator.release(&id).await["tasks"][0]["kf_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = coordinator.events(&format!("release={id}")).await.len();
    // A redelivered job finds its work done: the same transition is a no-op, and ensuring
    // the phase of a staged release creates nothing.
    let again = store
        .apply_task_state(&task, TaskState::Staged, None, None)
        .await
        .unwrap();
    assert_eq!(again.result, StepResult::Same);
    let backwards = store
        .apply_task_state(&task, TaskState::Running, None, None)
        .await
        .unwrap();
    assert_eq!(backwards.result, StepResult::Refused);
    assert_eq!(store.ensure_release_phase(&id).await.unwrap(), None);
    assert_eq!(
        coordinator.events(&format!("release={id}")).await.len(),
        before
    );

    // Publishing twice makes one publish phase and one version.
    for _ in 0..2 {
        let answer = coordinator
            .send("POST", &format!("/releases/{id}/publish"), None)
            .await;
        assert!(
            answer.status == 200 || answer.status == 400,
            "{}",
            answer.body
        );
    }
    let run = store.ensure_release_phase(&id).await.unwrap();
    assert!(
        run.is_none() || run.as_deref() == Some(format!("release-{id}-publish").as_str()),
        "{run:?}"
    );
    let release = coordinator
        .wait_release_state(&id, "published", Duration::from_secs(15))
        .await;
    assert_eq!(release["version"], "0.1.0");
    let published = coordinator
        .events(&format!("release={id}"))
        .await
        .iter()
        .filter(|event| {
            let message = event["message"].as_str().unwrap();
            message.starts_with("release ")
                && message.contains("changed from publishing to published")
        })
        .count();
    assert_eq!(published, 1);
    assert_eq!(
        store
            .apply_task_state(&task, TaskState::Published, None, None)
            .await
            .unwrap()
            .result,
        StepResult::Same
    );
    assert_eq!(
        store.latest_published_version().await.unwrap().to_string(),
        "0.1.0"
    );
}

#[tokio::test]
async fn a_worker_killed_during_a_call_to_a_service_leaves_the_release_to_finish_once() {
    let mut coordinator = Coordinator::start().await;
    let fast = Behaviour {
        work_secs: 0.3,
        fail_on: None,
    };
    let (slow, _) = coordinator
        .task_service_with(fast, &["--slow-on", "start", "--slow-secs", "2"])
        .await;
    let url = {
        let port: u16 = slow
            .log()
            .lines()
            .find_map(|line| line.strip_prefix("listening on "))
            .and_then(|port| port.trim().parse().ok())
            .unwrap();
        format!("http://127.0.0.1:{port}")
    };
    let registered = coordinator
        .send(
            "POST",
            "/task-services",
            Some(&json!({"name": "Slow", "description": "test", "author": "tests", "url": url})),
        )
        .await;
    assert_eq!(registered.status, 200, "{}", registered.body);
    let (_other, _) = coordinator.register("Other", fast).await;
    let id = coordinator.create_release("Crash", &[]).await["kf_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The worker dies while the slow service holds its `start` call.
    slow.wait_for_log("start TA_", Duration::from_secs(15))
        .await;
    coordinator.app.workers_mut()[0].kill_9();
    coordinator.app.add_worker(&[]);

    coordinator
        .wait_release_state(&id, "staged", Duration::from_secs(20))
        .await;
    let published = coordinator
        .send("POST", &format!("/releases/{id}/publish"), None)
        .await;
    assert_eq!(published.status, 200, "{}", published.body);
    let release = coordinator
        .wait_release_state(&id, "published", Duration::from_secs(20))
        .await;
    assert_eq!(release["version"], "0.1.0");
    assert!(
        slow.log().matches("start TA_").count() >= 2,
        "the start call was made again after the crash: {}",
        slow.log()
    );
    // Every transition happened once, though the call was made twice.
    let events = messages(&coordinator.events(&format!("release={id}")).await);
    let mut unique = events.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), events.len(), "duplicate events: {events:?}");
    for task in release["tasks"].as_array().unwrap() {
        let task_id = task_id(task);
        let expected: Vec<String> = [
            ("waiting", "initialized"),
            ("initialized", "running"),
            ("running", "staged"),
            ("staged", "publishing"),
            ("publishing", "published"),
        ]
        .iter()
        .map(|(from, to)| format!("task {task_id} changed from {from} to {to}"))
        .collect();
        assert_eq!(
            messages(&coordinator.events(&format!("task={task_id}")).await),
            expected
        );
    }
}

//! End-to-end tests of the projects front (Orchestra's client API and the human-task API),
//! over a real socket, against real `baton-api`, `baton-worker` and `baton-scheduler`
//! processes and a real `redis-server`.

use std::time::Duration;

use baton_tests::signed_http::{Answer, send_signed};
use baton_tests::wait::wait_for;
use baton_tests::{TestApp, python};
use common::auth::signing::sign::Signer;
use serde_json::{Value, json};

/// A machine step, a person's review, then a machine step that returns its whole input.
const REVIEW: &str = r#"
slug: review
description: Prepare a draft, have it reviewed, then use the review.
version: v2
steps:
  - slug: prepare
    description: Prepare the draft
    type: machine
    executor: {type: command, argv: ["sh", "-c", "cat > /dev/null; echo '{\"draft\": \"text\"}' > \"$BATON_RESULT\""]}
  - slug: check
    description: Review the draft
    type: human
    depends_on: [prepare]
  - slug: finish
    description: Use the review
    type: machine
    depends_on: [check]
    executor: {type: command, argv: ["sh", "-c", "cat > \"$BATON_RESULT\""]}
"#;

/// One human step.
const DECIDE: &str = r#"
slug: decide
description: A person decides.
steps:
  - slug: decide
    description: Decide
    type: human
"#;

/// One slow machine step.
const SLOW: &str = r#"
slug: slow
description: Keeps a worker busy.
steps:
  - slug: wait
    description: Wait
    type: machine
    executor: {type: command, argv: ["sh", "-c", "sleep 3"]}
"#;

/// One short machine step.
const QUICK: &str = r#"
slug: quick
description: A short machine step.
steps:
  - slug: work
    description: Work briefly
    type: machine
    executor: {type: command, argv: ["sh", "-c", "sleep 0.2; echo '{}' > \"$BATON_RESULT\""]}
"#;

/// A running API with its Redis, scheduler and keys; workers are started by the tests.
struct Api {
    app: TestApp,
    base: String,
    http: reqwest::Client,
}

impl Api {
    async fn start() -> Self {
        // Jobs idle for a second are reclaimed: human jobs must not be.
        let app = TestApp::builder()
            .project("review.yml", REVIEW)
            .project("decide.yml", DECIDE)
            .project("slow.yml", SLOW)
            .project("quick.yaml", QUICK)
            .api_env("BATON_SIGNATURE_SKEW_SECS", "60")
            .scheduler(true)
            .scheduler_env("BATON_TICK_MS", "50")
            .scheduler_env("BATON_VISIBILITY_TIMEOUT_SECS", "1")
            .spawn()
            .await;
        Self {
            base: app.base().to_owned(),
            http: app.http().clone(),
            app,
        }
    }

    /// Starts a worker on the default queues with `concurrency` slots.
    fn start_worker(&mut self, concurrency: usize) {
        let concurrency = concurrency.to_string();
        self.app.add_worker(&[
            ("BATON_BLOCK_MS", "200"),
            ("BATON_CONCURRENCY", concurrency.as_str()),
        ]);
    }

    /// Creates a key and returns a signer for it.
    async fn key(&self, id: &str, permissions: &str, extra: &[&str]) -> Signer {
        Signer::new(id, self.secret(id, permissions, extra).await.into_bytes())
    }

    /// Creates a key and returns its secret (the last line the command prints).
    async fn secret(&self, id: &str, permissions: &str, extra: &[&str]) -> String {
        self.app.create_key(id, permissions, extra).await
    }

    async fn send(
        &self,
        signer: Option<&Signer>,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Answer {
        let body = body
            .map(|body| serde_json::to_vec(body).unwrap())
            .unwrap_or_default();
        self.send_raw(signer, method, path, &body).await
    }

    async fn send_raw(
        &self,
        signer: Option<&Signer>,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Answer {
        send_signed(&self.http, &self.base, signer, method, path, body, &[]).await
    }

    /// `create_project`; returns the new id.
    async fn create_project(&self, signer: &Signer, workflow: &str, priority: i64) -> u64 {
        let body = json!({
            "workflow_slug": workflow,
            "description": format!("a {workflow} project"),
            "priority": priority,
            "project_data": {"n": priority},
            "task_class": "real",
        });
        let answer = self
            .send(
                Some(signer),
                "POST",
                "/orchestra/api/project/create_project",
                Some(&body),
            )
            .await;
        assert_eq!(answer.status, 200, "{answer:?}");
        answer.body["project_id"].as_u64().expect("an integer id")
    }

    /// `project_information` for one project (polling: the same signed GET may come twice).
    async fn information(&self, signer: &Signer, id: u64) -> Answer {
        self.send(
            Some(signer),
            "GET",
            &format!("/orchestra/api/project/project_information?project_id={id}"),
            None,
        )
        .await
    }

    /// Waits until `check` holds on the project's information, and returns it.
    async fn wait_for_project(
        &self,
        signer: &Signer,
        id: u64,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        wait_for(Duration::from_secs(20), what, || async {
            let answer = self.information(signer, id).await;
            (answer.status == 200 && check(&answer.body)).then_some(answer.body)
        })
        .await
    }
}

/// Checks that `value` is an object with exactly `fields`.
fn assert_fields(value: &Value, fields: &[&str]) {
    let object = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"));
    let mut found: Vec<&str> = object.keys().map(String::as_str).collect();
    let mut wanted = fields.to_vec();
    found.sort();
    wanted.sort();
    assert_eq!(found, wanted, "fields of {value}");
}

fn assert_utc_datetime(value: &Value) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a date: {value}"));
    assert!(
        chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.6fZ").is_ok(),
        "not Orchestra's start_datetime: {text}"
    );
}

#[tokio::test]
async fn a_project_goes_from_create_project_to_complete_through_a_human_step() {
    let mut api = Api::start().await;
    api.start_worker(4);
    let client = api.key("client", "projects.read,projects.write", &[]).await;
    let alice = api.key("alice", "projects.work", &[]).await;
    let bob = api.key("bob", "projects.work", &[]).await;

    let types = api
        .send(
            Some(&client),
            "GET",
            "/orchestra/api/project/workflow_types",
            None,
        )
        .await;
    assert_eq!(types.status, 200);
    assert_eq!(
        types.body["workflows"]["review"],
        "Prepare a draft, have it reviewed, then use the review."
    );
    assert_eq!(types.body["workflows"].as_object().unwrap().len(), 4);

    let body = json!({
        "workflow_slug": "review",
        "workflow_version_slug": "v2",
        "description": "Project Description",
        "priority": 10,
        "project_data": {"sample_data_item": "sample_data_value"},
        "task_class": "real",
        "review_document_url": "http://review.document.url",
    });
    let created = api
        .send(
            Some(&client),
            "POST",
            "/orchestra/api/project/create_project/",
            Some(&body),
        )
        .await;
    assert_eq!(created.status, 200, "{created:?}");
    assert_fields(&created.body, &["project_id"]);
    let id = created.body["project_id"].as_u64().unwrap();

    // The machine step runs; the human step becomes available.
    let info = api
        .wait_for_project(&client, id, "the human step is available", |info| {
            info["tasks"]["check"]["status"] == "Awaiting Processing"
        })
        .await;
    assert_fields(&info, &["project", "steps", "tasks"]);
    let project = &info["project"];
    assert_fields(
        project,
        &[
            "id",
            "short_description",
            "priority",
            "review_document_url",
            "task_class",
            "project_data",
            "workflow_slug",
            "workflow_version_slug",
            "start_datetime",
            "status",
        ],
    );
    assert_eq!(project["id"], id);
    assert_eq!(project["short_description"], "Project Description");
    assert_eq!(project["priority"], 10);
    assert_eq!(project["review_document_url"], "http://review.document.url");
    assert_eq!(project["task_class"], 1);
    assert_eq!(
        project["project_data"],
        json!({"sample_data_item": "sample_data_value"})
    );
    assert_eq!(project["workflow_slug"], "review");
    assert_eq!(project["workflow_version_slug"], "v2");
    assert_eq!(project["status"], "active");
    assert_utc_datetime(&project["start_datetime"]);
    assert_eq!(
        info["steps"],
        json!([
            ["prepare", "Prepare the draft"],
            ["check", "Review the draft"],
            ["finish", "Use the review"]
        ])
    );
    let tasks = info["tasks"].as_object().unwrap();
    assert_eq!(
        tasks.keys().collect::<Vec<_>>(),
        ["check", "prepare"],
        "only tasks that exist"
    );
    let prepare = &info["tasks"]["prepare"];
    assert_fields(
        prepare,
        &[
            "id",
            "project",
            "status",
            "step_slug",
            "latest_data",
            "assignments",
        ],
    );
    assert_eq!(prepare["project"], id);
    assert_eq!(prepare["status"], "Complete");
    assert_eq!(prepare["step_slug"], "prepare");
    assert_eq!(prepare["latest_data"], json!({"draft": "text"}));
    let machine = &prepare["assignments"][0];
    assert_fields(
        machine,
        &[
            "id",
            "snapshots",
            "worker",
            "task",
            "in_progress_task_data",
            "status",
            "start_datetime",
        ],
    );
    assert_eq!(machine["worker"], Value::Null);
    assert_eq!(machine["task"], prepare["id"]);
    assert_eq!(machine["status"], "Submitted");
    assert_eq!(machine["snapshots"]["__version"], 1);
    assert_eq!(
        machine["snapshots"]["snapshots"][0]["data"],
        json!({"draft": "text", "__version": 1})
    );
    assert_utc_datetime(&machine["start_datetime"]);
    let check = &info["tasks"]["check"];
    assert_eq!(check["assignments"], json!([]));
    assert_eq!(check["latest_data"], Value::Null);
    let task_id = check["id"].as_u64().unwrap();
    assert_ne!(task_id, prepare["id"].as_u64().unwrap());

    // People see it, with the data of the step before.
    let available = api
        .send(Some(&alice), "GET", "/orchestra/api/tasks/available", None)
        .await;
    assert_eq!(available.status, 200, "{available:?}");
    let listed = &available.body["tasks"][0];
    assert_eq!(listed["id"], task_id);
    assert_eq!(listed["project"], id);
    assert_eq!(listed["step_slug"], "check");
    assert_eq!(listed["step_description"], "Review the draft");
    assert_eq!(listed["priority"], 10);
    assert_eq!(
        listed["prerequisites"],
        json!({"prepare": {"draft": "text"}})
    );

    // Alice claims it; it is no longer available.
    let claimed = api
        .send(Some(&alice), "POST", "/orchestra/api/tasks/claim", None)
        .await;
    assert_eq!(claimed.status, 200, "{claimed:?}");
    assert_eq!(claimed.body["task"]["id"], task_id);
    assert_eq!(claimed.body["task"]["assignment"]["worker"], "alice");
    assert_eq!(claimed.body["task"]["assignment"]["status"], "Processing");
    let available = api
        .send(Some(&bob), "GET", "/orchestra/api/tasks/available", None)
        .await;
    assert_eq!(available.body["tasks"], json!([]), "{available:?}");
    let nothing = api
        .send(Some(&bob), "POST", "/orchestra/api/tasks/claim", None)
        .await;
    assert_eq!(nothing.status, 404, "{nothing:?}");
    assert_eq!(nothing.body["error"], "not_found");

    // Work in progress: only the claimant may save it.
    let draft = json!({"task_data": {"verdict": "maybe"}});
    let save_path = format!("/orchestra/api/tasks/{task_id}/save");
    let saved = api
        .send(Some(&alice), "POST", &save_path, Some(&draft))
        .await;
    assert_eq!(saved.status, 200, "{saved:?}");
    let stolen = api.send(Some(&bob), "POST", &save_path, Some(&draft)).await;
    assert_eq!(stolen.status, 403, "{stolen:?}");
    let info = api.information(&client, id).await.body;
    let assignment = &info["tasks"]["check"]["assignments"][0];
    assert_eq!(info["tasks"]["check"]["status"], "Processing");
    assert_eq!(assignment["worker"], "alice");
    assert_eq!(assignment["status"], "Processing");
    assert_eq!(assignment["task"], task_id);
    assert_eq!(
        assignment["in_progress_task_data"],
        json!({"verdict": "maybe"})
    );
    assert_eq!(
        assignment["snapshots"],
        json!({"__version": 1, "snapshots": []})
    );
    assert_eq!(
        info["tasks"]["check"]["latest_data"],
        json!({"verdict": "maybe"})
    );

    // The scheduler reclaims jobs idle past a second, but never a person's.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let info = api.information(&client, id).await.body;
    assert_eq!(info["tasks"]["check"]["assignments"][0]["worker"], "alice");
    assert_eq!(info["tasks"]["check"]["status"], "Processing");

    // Submitting finishes the task; the next machine step gets the submission.
    let submission = json!({"task_data": {"verdict": "approved"}, "work_time_seconds": 3660});
    let submit_path = format!("/orchestra/api/tasks/{task_id}/submit");
    let submitted = api
        .send(Some(&alice), "POST", &submit_path, Some(&submission))
        .await;
    assert_eq!(submitted.status, 200, "{submitted:?}");
    assert_eq!(submitted.body["status"], "Submitted");
    let info = api
        .wait_for_project(&client, id, "the project completes", |info| {
            info["project"]["status"] == "completed"
        })
        .await;
    let check = &info["tasks"]["check"];
    assert_eq!(check["status"], "Complete");
    assert_eq!(check["latest_data"], json!({"verdict": "approved"}));
    let assignment = &check["assignments"][0];
    assert_eq!(assignment["status"], "Submitted");
    assert_eq!(
        assignment["in_progress_task_data"],
        json!({"verdict": "approved"})
    );
    let snapshot = &assignment["snapshots"]["snapshots"][0];
    assert_fields(snapshot, &["data", "datetime", "work_time_seconds", "type"]);
    assert_eq!(
        snapshot["data"],
        json!({"verdict": "approved", "__version": 1})
    );
    assert_eq!(snapshot["work_time_seconds"], 3660);
    assert_eq!(snapshot["type"], 0);
    assert!(
        chrono::NaiveDateTime::parse_from_str(
            snapshot["datetime"].as_str().unwrap(),
            "%Y-%m-%dT%H:%M:%S%.6f"
        )
        .is_ok(),
        "{snapshot}"
    );
    let finish = &info["tasks"]["finish"];
    assert_eq!(finish["status"], "Complete");
    assert_eq!(
        finish["latest_data"]["parents"],
        json!([{"verdict": "approved"}])
    );
    assert_eq!(finish["latest_data"]["payload"]["project_id"], id);
    assert_eq!(finish["latest_data"]["payload"]["task_class"], "real");

    // A repeated submit answers the same and changes nothing; other data is refused.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let again = api
        .send(Some(&alice), "POST", &submit_path, Some(&submission))
        .await;
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(again.body["task_data"], json!({"verdict": "approved"}));
    let other = json!({"task_data": {"verdict": "rejected"}});
    let changed = api
        .send(Some(&alice), "POST", &submit_path, Some(&other))
        .await;
    assert_eq!(changed.status, 409, "{changed:?}");
    assert_eq!(changed.body["error"], "conflict");
    let late_save = api
        .send(Some(&alice), "POST", &save_path, Some(&other))
        .await;
    assert_eq!(late_save.status, 409, "{late_save:?}");
    let after = api.information(&client, id).await.body;
    assert_eq!(
        after["tasks"], info["tasks"],
        "a repeated submit changes nothing"
    );

    // Both forms of project_information, as Orchestra's code and docs call it.
    let by_ids = api
        .send(
            Some(&client),
            "POST",
            "/orchestra/api/project/project_information",
            Some(&json!({"project_ids": [id, 999_999]})),
        )
        .await;
    assert_eq!(by_ids.status, 200, "{by_ids:?}");
    assert_eq!(by_ids.body.as_object().unwrap().len(), 1);
    assert_eq!(by_ids.body[id.to_string()], after);
    let by_id = api
        .send(
            Some(&client),
            "POST",
            "/orchestra/api/project/project_information",
            Some(&json!({"project_id": id})),
        )
        .await;
    assert_eq!(by_id.body, after);
}

#[tokio::test]
async fn two_people_racing_for_one_task_never_both_get_it() {
    let api = Api::start().await;
    let client = api.key("client", "projects.read,projects.write", &[]).await;
    let people = [
        api.key("p1", "projects.work", &[]).await,
        api.key("p2", "projects.work", &[]).await,
        api.key("p3", "projects.work", &[]).await,
    ];
    for round in 0..3 {
        if round > 0 {
            // The same claim, signed by the same key within one second, is a replay.
            tokio::time::sleep(Duration::from_millis(1100)).await;
        }
        let id = api.create_project(&client, "decide", round).await;
        let info = api
            .wait_for_project(&client, id, "the task is available", |info| {
                info["tasks"]["decide"]["status"] == "Awaiting Processing"
            })
            .await;
        let task_id = info["tasks"]["decide"]["id"].clone();
        let claim = "/orchestra/api/tasks/claim";
        let (first, second, third) = tokio::join!(
            api.send(Some(&people[0]), "POST", claim, None),
            api.send(Some(&people[1]), "POST", claim, None),
            api.send(Some(&people[2]), "POST", claim, None),
        );
        let claims = [first, second, third];
        let winners: Vec<&Answer> = claims
            .iter()
            .filter(|answer| answer.status == 200)
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {claims:?}");
        assert_eq!(winners[0].body["task"]["id"], task_id);
        assert!(
            claims
                .iter()
                .all(|answer| answer.status == 200 || answer.status == 404),
            "{claims:?}"
        );
        let info = api.information(&client, id).await.body;
        let assignments = info["tasks"]["decide"]["assignments"].as_array().unwrap();
        assert_eq!(assignments.len(), 1);
        assert_eq!(
            assignments[0]["worker"],
            winners[0].body["task"]["assignment"]["worker"]
        );
    }
}

#[tokio::test]
async fn permissions_unknown_ids_and_bad_bodies_get_orchestras_errors() {
    let api = Api::start().await;
    let reader = api.key("reader", "projects.read", &[]).await;
    let writer = api.key("writer", "projects.read,projects.write", &[]).await;
    let create = "/orchestra/api/project/create_project";
    let body = json!({"workflow_slug": "decide", "description": "d", "priority": 0,
                      "project_data": {}, "task_class": "training"});

    let unsigned = api.send(None, "POST", create, Some(&body)).await;
    assert_eq!(unsigned.status, 401, "{unsigned:?}");
    assert_fields(&unsigned.body, &["error", "message"]);
    assert_eq!(unsigned.body["error"], "unauthorized");
    let forbidden = api.send(Some(&reader), "POST", create, Some(&body)).await;
    assert_eq!(forbidden.status, 403, "{forbidden:?}");
    assert!(
        forbidden.body["message"]
            .as_str()
            .unwrap()
            .contains("projects.write")
    );
    for (path, method) in [
        ("/orchestra/api/tasks/available", "GET"),
        ("/orchestra/api/tasks/claim", "POST"),
        ("/orchestra/api/tasks/1/save", "POST"),
        ("/orchestra/api/tasks/1/submit", "POST"),
    ] {
        let answer = api
            .send(Some(&writer), method, path, Some(&json!({})))
            .await;
        assert_eq!(answer.status, 403, "{path}: {answer:?}");
        assert!(
            answer.body["message"]
                .as_str()
                .unwrap()
                .contains("projects.work")
        );
    }

    let created = api.send(Some(&writer), "POST", create, Some(&body)).await;
    assert_eq!(created.status, 200, "{created:?}");
    let id = created.body["project_id"].as_u64().unwrap();
    let info = api.information(&writer, id).await;
    assert_eq!(info.body["project"]["task_class"], 0, "{info:?}");

    // An unknown workflow, or version of one, is not found.
    for (unknown, expected) in [
        (
            json!({"workflow_slug": "nope", "task_class": "real"}),
            "unknown workflow_slug 'nope'",
        ),
        (
            json!({"workflow_slug": "review", "workflow_version_slug": "v9", "task_class": 1}),
            "no version 'v9'",
        ),
    ] {
        let answer = api
            .send(Some(&writer), "POST", create, Some(&unknown))
            .await;
        assert_eq!(answer.status, 404, "{unknown}: {answer:?}");
        assert_eq!(answer.body["error"], "not_found");
        let message = answer.body["message"].as_str().unwrap();
        assert!(message.contains(expected), "{unknown}: {message}");
    }
    let bad_bodies = [
        (
            json!({"workflow_slug": "decide", "task_class": "fake"}),
            "task_class",
        ),
        (
            json!({"workflow_slug": "decide"}),
            "'task_class' is required",
        ),
        (
            json!({"workflow_slug": "decide", "task_class": 1, "priority": "high"}),
            "'priority'",
        ),
        (json!(["not", "an", "object"]), "JSON object"),
    ];
    for (bad, expected) in bad_bodies {
        let answer = api.send(Some(&writer), "POST", create, Some(&bad)).await;
        assert_eq!(answer.status, 400, "{bad}: {answer:?}");
        assert_eq!(answer.body["error"], "bad_request");
        let message = answer.body["message"].as_str().unwrap();
        assert!(message.contains(expected), "{bad}: {message}");
    }
    let malformed = api
        .send_raw(Some(&writer), "POST", create, b"{not json")
        .await;
    assert_eq!(malformed.status, 400, "{malformed:?}");

    let info_path = "/orchestra/api/project/project_information";
    let unknown = api
        .send(
            Some(&reader),
            "POST",
            info_path,
            Some(&json!({"project_id": 987_654})),
        )
        .await;
    assert_eq!(unknown.status, 404, "{unknown:?}");
    assert_eq!(unknown.body["error"], "not_found");
    let bad_id = api
        .send(
            Some(&reader),
            "POST",
            info_path,
            Some(&json!({"project_id": "abc"})),
        )
        .await;
    assert_eq!(bad_id.status, 400, "{bad_id:?}");
    let missing = api
        .send(Some(&reader), "POST", info_path, Some(&json!({})))
        .await;
    assert_eq!(missing.status, 400, "{missing:?}");

    let worker = api.key("person", "projects.work", &[]).await;
    let task_id = id + 1;
    let unclaimed = api
        .send(
            Some(&worker),
            "POST",
            &format!("/orchestra/api/tasks/{task_id}/submit"),
            Some(&json!({"task_data": {}})),
        )
        .await;
    assert_eq!(unclaimed.status, 409, "{unclaimed:?}");
    for path in [
        "/orchestra/api/tasks/424242/save",
        "/orchestra/api/tasks/x/save",
    ] {
        let answer = api
            .send(Some(&worker), "POST", path, Some(&json!({"task_data": {}})))
            .await;
        assert_eq!(answer.status, 404, "{path}: {answer:?}");
    }
    let no_data = api
        .send(
            Some(&worker),
            "POST",
            &format!("/orchestra/api/tasks/{task_id}/save"),
            Some(&json!({"task_data": "text"})),
        )
        .await;
    assert_eq!(no_data.status, 400, "{no_data:?}");
    let wrong_method = api
        .send(
            Some(&reader),
            "DELETE",
            "/orchestra/api/project/workflow_types",
            None,
        )
        .await;
    assert_eq!(wrong_method.status, 405, "{wrong_method:?}");
    let no_route = api
        .send(Some(&reader), "GET", "/orchestra/api/nothing", None)
        .await;
    assert_eq!(no_route.status, 404, "{no_route:?}");
    assert_fields(&no_route.body, &["error", "message"]);
}

#[tokio::test]
async fn a_high_priority_project_runs_before_earlier_low_priority_ones_on_a_busy_queue() {
    let mut api = Api::start().await;
    let client = api.key("client", "projects.read,projects.write", &[]).await;
    // The slow step is the worker's first read, so it is busy when the others arrive.
    let slow = api.create_project(&client, "slow", 0).await;
    api.start_worker(1);
    api.wait_for_project(&client, slow, "the slow step runs", |info| {
        info["tasks"]["wait"]["status"] == "Processing"
    })
    .await;
    let low_first = api.create_project(&client, "quick", -1).await;
    let low_second = api.create_project(&client, "quick", -5).await;
    let normal = api.create_project(&client, "quick", 0).await;
    let high = api.create_project(&client, "quick", 3).await;
    let mut started = Vec::new();
    for id in [high, normal, low_first, low_second] {
        let info = api
            .wait_for_project(&client, id, "the quick project completes", |info| {
                info["project"]["status"] == "completed"
            })
            .await;
        let start = info["tasks"]["work"]["assignments"][0]["start_datetime"]
            .as_str()
            .unwrap()
            .to_owned();
        started.push((start, id));
    }
    let mut by_start = started.clone();
    by_start.sort();
    let order: Vec<u64> = by_start.iter().map(|(_, id)| *id).collect();
    assert_eq!(order[0], high, "high priority first: {started:?}");
    assert_eq!(order[1], normal, "then normal: {started:?}");
}

#[tokio::test]
async fn orchestras_python_client_works_unchanged() {
    let mut api = Api::start().await;
    api.start_worker(2);
    let secret = api
        .secret(
            "orchestra-client",
            "projects.read,projects.write",
            &["--allow-date-only"],
        )
        .await;
    // Orchestra's own client code: HTTPSignatureAuth over `date` alone, X-Api-Key and
    // X-Api-Version headers, JSON bodies posted with `data=json.dumps(...)`.
    let script = r#"
import json, sys
from email.utils import formatdate
import requests
from httpsig.requests_auth import HTTPSignatureAuth

base, key_id, secret = sys.argv[1], sys.argv[2], sys.argv[3]
auth = HTTPSignatureAuth(key_id=key_id, secret=secret, algorithm='hmac-sha256')

def headers():
    return {'Date': formatdate(usegmt=True), 'X-Api-Key': key_id, 'X-Api-Version': 'v1',
            'Content-Type': 'application/json'}

data = {'workflow_slug': 'review', 'workflow_version_slug': 'v2',
        'description': 'from python', 'priority': 2, 'project_data': {'k': 'v'},
        'task_class': 1}
r = requests.post(base + '/orchestra/api/project/create_project/', data=json.dumps(data),
                  auth=auth, headers=headers())
print(r.status_code)
project_id = r.json()['project_id']
print(project_id)
r = requests.post(base + '/orchestra/api/project/project_information/',
                  data=json.dumps({'project_id': project_id}), auth=auth, headers=headers())
print(r.status_code)
print(json.dumps(r.json()['project']))
r = requests.get(base + '/orchestra/api/project/workflow_types/', auth=auth, headers=headers())
print(r.status_code)
"#;
    let text = python(script, &[&api.base, "orchestra-client", &secret]).await;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "200", "create_project refused: {text}");
    let id: u64 = lines[1].parse().expect("an integer project id");
    assert_eq!(lines[2], "200", "project_information refused: {text}");
    let project: Value = serde_json::from_str(lines[3]).unwrap();
    assert_eq!(project["id"], id);
    assert_eq!(project["short_description"], "from python");
    assert_eq!(project["priority"], 2);
    assert_eq!(project["task_class"], 1);
    assert_eq!(project["project_data"], json!({"k": "v"}));
    assert_eq!(lines[4], "200", "workflow_types refused: {text}");

    // The same key cannot sign a strict route's request with date alone elsewhere than it
    // is allowed: its permissions still hold.
    let signer = Signer::date_only("orchestra-client", secret.into_bytes());
    let denied = api
        .send(Some(&signer), "GET", "/orchestra/api/tasks/available", None)
        .await;
    assert_eq!(denied.status, 403, "{denied:?}");
}

impl Api {
    /// A store on this API's Redis, to look at what the API does not show.
    async fn store(&self) -> common::store::Store {
        self.app.store().await
    }
}

#[tokio::test]
async fn a_worker_that_meets_a_human_task_fails_it_as_misconfigured() {
    let mut api = Api::start().await;
    let client = api.key("client", "projects.read,projects.write", &[]).await;
    api.app
        .add_worker(&[("BATON_BLOCK_MS", "200"), ("BATON_QUEUES", "human")]);
    let id = api.create_project(&client, "decide", 0).await;
    let info = api
        .wait_for_project(&client, id, "the misread human task fails", |info| {
            info["project"]["status"] == "aborted"
        })
        .await;
    assert_eq!(info["tasks"]["decide"]["status"], "Aborted");
    assert_eq!(
        info["tasks"]["decide"]["assignments"][0]["status"],
        "Failed"
    );
    let run = api.store().await.get_run(&format!("project-{id}")).await;
    let error = run.unwrap().unwrap().tasks[0].error.clone().unwrap();
    assert!(
        error.contains("is a human step") && error.contains("BATON_QUEUES"),
        "{error}"
    );
}

#[tokio::test]
async fn a_submit_interrupted_after_recording_is_finished_by_its_repeat_exactly_once() {
    let mut api = Api::start().await;
    api.start_worker(2);
    let client = api.key("client", "projects.read,projects.write", &[]).await;
    let alice = api.key("alice", "projects.work", &[]).await;
    let id = api.create_project(&client, "review", 0).await;
    api.wait_for_project(&client, id, "the human step is available", |info| {
        info["tasks"]["check"]["status"] == "Awaiting Processing"
    })
    .await;
    let claimed = api
        .send(Some(&alice), "POST", "/orchestra/api/tasks/claim", None)
        .await;
    assert_eq!(claimed.status, 200, "{claimed:?}");
    let task_id = claimed.body["task"]["id"].as_u64().unwrap();

    // What a submit records first, as if its API had been killed right after: the task still
    // runs, its job is still pending under alice.
    let recorded = json!({"verdict": "first"});
    let mut redis = api.app.redis().client().get_connection().unwrap();
    let run_key = api.store().await.keys().run(&format!("project-{id}"));
    redis::cmd("HSET")
        .arg(&run_key)
        .arg("t1.work")
        .arg(recorded.to_string())
        .arg("t1.submitted")
        .arg("1")
        .arg("t1.submission")
        .arg(recorded.to_string())
        .arg("t1.snapshot")
        .arg(json!({"data": recorded, "datetime": "2026-01-01T00:00:00.000000", "work_time_seconds": 5, "type": 0}).to_string())
        .exec(&mut redis)
        .unwrap();
    let info = api.information(&client, id).await.body;
    assert_eq!(info["tasks"]["check"]["status"], "Processing");
    assert_eq!(
        info["tasks"]["check"]["assignments"][0]["status"],
        "Submitted"
    );

    // The repeat finishes the task with what was recorded first, once.
    let path = format!("/orchestra/api/tasks/{task_id}/submit");
    let repeat = api
        .send(
            Some(&alice),
            "POST",
            &path,
            Some(&json!({"task_data": recorded})),
        )
        .await;
    assert_eq!(repeat.status, 200, "{repeat:?}");
    let info = api
        .wait_for_project(&client, id, "the project completes", |info| {
            info["project"]["status"] == "completed"
        })
        .await;
    assert_eq!(
        info["tasks"]["finish"]["latest_data"]["parents"],
        json!([recorded])
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let again = api
        .send(
            Some(&alice),
            "POST",
            &path,
            Some(&json!({"task_data": recorded})),
        )
        .await;
    assert_eq!(again.status, 200, "{again:?}");
    let store = api.store().await;
    let stats = store
        .queue_stats(&common::engine::model::QueueName::default())
        .await
        .unwrap();
    assert_eq!(
        stats.get("enqueued"),
        Some(&2),
        "prepare and finish, once each: {stats:?}"
    );
    assert_eq!(stats.get("succeeded"), Some(&2), "{stats:?}");
    let human = store
        .queue_stats(&common::engine::model::QueueName::human())
        .await
        .unwrap();
    assert_eq!(human.get("succeeded"), Some(&1), "{human:?}");
}

#[tokio::test]
async fn a_task_claimed_by_id_stays_with_its_claimant_while_others_claim_the_next() {
    let api = Api::start().await;
    let client = api.key("client", "projects.read,projects.write", &[]).await;
    let alice = api.app.client(api.key("alice", "projects.work", &[]).await);
    let bob = api.app.client(api.key("bob", "projects.work", &[]).await);
    // Three one-step projects of one priority: their tasks wait in this order.
    let mut tasks = Vec::new();
    for _ in 0..3 {
        // The same body thrice: each request carries its own X-Request-Id.
        let created = api
            .app
            .client(client.clone())
            .post(
                "/orchestra/api/project/create_project",
                &json!({"workflow_slug": "decide", "priority": 0, "task_class": "real"}),
            )
            .await;
        assert_eq!(created.status, 200, "{created:?}");
        let id = created.body["project_id"].as_u64().unwrap();
        api.wait_for_project(&client, id, "the task is available", |info| {
            info["tasks"]["decide"]["status"] == "Awaiting Processing"
        })
        .await;
        tasks.push((id, id + 1));
    }
    let (middle_project, middle) = tasks[1];

    // Alice claims the middle one by id; asking again answers the same task.
    for _ in 0..2 {
        let claimed = alice
            .post("/orchestra/api/tasks/claim", &json!({"task_id": middle}))
            .await;
        assert_eq!(claimed.status, 200, "{claimed:?}");
        assert_eq!(claimed.body["task"]["id"], middle);
        assert_eq!(claimed.body["task"]["assignment"]["worker"], "alice");
    }
    // Bob, claiming the next ones (in the streams' order), gets the two others, never hers.
    let mut bobs = Vec::new();
    for _ in 0..2 {
        let claimed = bob.post("/orchestra/api/tasks/claim", &json!({})).await;
        assert_eq!(claimed.status, 200, "{claimed:?}");
        bobs.push(claimed.body["task"]["id"].as_u64().unwrap());
    }
    bobs.sort();
    assert_eq!(bobs, [tasks[0].1, tasks[2].1]);
    let none = bob.post("/orchestra/api/tasks/claim", &json!({})).await;
    assert_eq!(none.status, 404, "{none:?}");
    let taken = bob
        .post("/orchestra/api/tasks/claim", &json!({"task_id": middle}))
        .await;
    assert_eq!(taken.status, 409, "{taken:?}");
    assert!(
        taken.body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("already claimed by someone else"),
        "{taken:?}"
    );

    // The middle task's job is pending under alice: Bob's read of it went back to her.
    let store = api.store().await;
    let held = |person: &'static str| {
        let store = store.clone();
        async move {
            let jobs = store
                .held_human_jobs(&common::engine::model::QueueName::human(), person, 10)
                .await
                .unwrap();
            let mut runs: Vec<String> = jobs.into_iter().map(|job| job.job.run_id).collect();
            runs.sort();
            runs
        }
    };
    assert_eq!(held("alice").await, [format!("project-{middle_project}")]);
    assert_eq!(held("bob").await.len(), 2);

    // Even with its job acknowledged by a race, her submit finishes the task, once.
    let run_id = format!("project-{middle_project}");
    let keys = store.keys();
    let stream = keys.stream(
        keys.shard_of(&run_id),
        &common::engine::model::QueueName::human(),
        common::engine::model::Priority::Normal,
    );
    let mut redis = api.app.redis().client().get_connection().unwrap();
    let group = common::keys::CONSUMER_GROUP;
    let pending: redis::streams::StreamPendingCountReply = redis::cmd("XPENDING")
        .arg(&stream)
        .arg(group)
        .arg("-")
        .arg("+")
        .arg(10)
        .arg("alice")
        .query(&mut redis)
        .unwrap();
    assert_eq!(pending.ids.len(), 1, "{pending:?}");
    let acked: i64 = redis::cmd("XACK")
        .arg(&stream)
        .arg(group)
        .arg(&pending.ids[0].id)
        .query(&mut redis)
        .unwrap();
    assert_eq!(acked, 1);
    let submitted = alice
        .post(
            &format!("/orchestra/api/tasks/{middle}/submit"),
            &json!({"task_data": {"choice": "yes"}}),
        )
        .await;
    assert_eq!(submitted.status, 200, "{submitted:?}");
    let info = api
        .wait_for_project(&client, middle_project, "the project completes", |info| {
            info["project"]["status"] == "completed"
        })
        .await;
    assert_eq!(
        info["tasks"]["decide"]["latest_data"],
        json!({"choice": "yes"})
    );
}

#[tokio::test]
async fn a_human_task_is_listed_claimed_and_read_from_its_own_fields_not_its_projects_other_tasks()
{
    let mut api = Api::start().await;
    api.start_worker(2);
    let client = api.key("client", "projects.read,projects.write", &[]).await;
    let alice = api.key("alice", "projects.work", &[]).await;
    let id = api.create_project(&client, "review", 7).await;
    api.wait_for_project(&client, id, "the human step is available", |info| {
        info["tasks"]["check"]["status"] == "Awaiting Processing"
    })
    .await;

    // The last step's record is broken: a page reading the whole project would fail on it.
    let store = api.store().await;
    let run_id = format!("project-{id}");
    let client_redis = redis::Client::open(api.app.redis_url()).unwrap();
    let mut redis = client_redis
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: () = redis::cmd("HSET")
        .arg(store.keys().run(&run_id))
        .arg("t2.status")
        .arg("not a status")
        .query_async(&mut redis)
        .await
        .unwrap();

    let available = api
        .send(Some(&alice), "GET", "/orchestra/api/tasks/available", None)
        .await;
    assert_eq!(available.status, 200, "{available:?}");
    let listed = &available.body["tasks"][0];
    assert_eq!(listed["project"], id);
    assert_eq!(listed["step_slug"], "check");
    assert_eq!(listed["priority"], 7);
    assert_eq!(listed["short_description"], "a review project");
    assert_eq!(listed["project_data"], json!({"n": 7}));
    assert_eq!(
        listed["prerequisites"],
        json!({"prepare": {"draft": "text"}})
    );
    let task_id = listed["id"].as_u64().unwrap();

    let claimed = api
        .send(Some(&alice), "POST", "/orchestra/api/tasks/claim", None)
        .await;
    assert_eq!(claimed.status, 200, "{claimed:?}");
    assert_eq!(claimed.body["task"]["id"], task_id);
    assert_eq!(claimed.body["task"]["assignment"]["worker"], "alice");
    let draft = json!({"task_data": {"verdict": "maybe"}});
    let saved = api
        .send(
            Some(&alice),
            "POST",
            &format!("/orchestra/api/tasks/{task_id}/save"),
            Some(&draft),
        )
        .await;
    assert_eq!(saved.status, 200, "{saved:?}");

    // The store reads one task with its run's fields and its prerequisites' results; an
    // unknown run, a step the project lacks and another front's run read as none.
    let tasks = store
        .project_tasks(&[
            (run_id.clone(), 1),
            (run_id.clone(), 3),
            ("project-999999".to_owned(), 0),
        ])
        .await
        .unwrap();
    let check = tasks[0].as_ref().expect("the human step");
    assert_eq!(check.task.key, "check");
    assert_eq!(check.task.worker.as_deref(), Some("alice"));
    assert_eq!(check.steps, 3);
    assert_eq!(check.payload["priority"], 7);
    assert_eq!(check.human.work, Some(json!({"verdict": "maybe"})));
    assert_eq!(
        check.prerequisites,
        vec![("prepare".to_owned(), json!({"draft": "text"}))]
    );
    assert_eq!(tasks[1], None, "a step the project lacks");
    assert_eq!(tasks[2], None, "an unknown run");
    let workflow_run = store
        .create_run(&baton_tests::runs::echo_run("not-a-project"))
        .await
        .unwrap();
    let read = store.project_tasks(&[(workflow_run, 0)]).await.unwrap();
    assert_eq!(read, vec![None], "another front's run");
}

//! End-to-end tests of the projects front's review cycle and of the order in which people
//! get human tasks: real `baton-api`, `baton-worker` and `baton-scheduler` processes, a real
//! `redis-server`, signed requests over a real socket.

use std::time::Duration;

use baton_tests::TestApp;
use baton_tests::app::Client;
use baton_tests::signed_http::Answer;
use baton_tests::wait::wait_for;
use common::auth::signing::sign::Signer;
use common::engine::model::QueueName;
use serde_json::{Value, json};

/// A person writes, another reviews, then a machine step uses the reviewed text.
const EDITED: &str = r#"
slug: edited
description: Write a text, have it reviewed, then use it.
steps:
  - slug: write
    description: Write the text
    type: human
    review: true
    form:
      type: object
      required: [text]
      properties:
        text: {type: string}
        comments: {type: string}
  - slug: use
    description: Use the text
    type: machine
    depends_on: [write]
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

struct Api {
    app: TestApp,
}

impl Api {
    async fn start() -> Self {
        let mut app = TestApp::builder()
            .project("edited.yml", EDITED)
            .project("decide.yml", DECIDE)
            .api_env("BATON_SIGNATURE_SKEW_SECS", "60")
            .scheduler(true)
            .scheduler_env("BATON_TICK_MS", "50")
            .spawn()
            .await;
        app.add_worker(&[("BATON_BLOCK_MS", "200")]);
        Self { app }
    }

    /// A client signing as a new key `id` with `permissions`.
    async fn key(&self, id: &str, permissions: &str) -> Client {
        let secret = self.app.create_key(id, permissions, &[]).await;
        self.app.client(Signer::new(id, secret.into_bytes()))
    }

    async fn send(&self, client: &Client, method: &str, path: &str, body: Option<Value>) -> Answer {
        client.send(method, path, body.as_ref()).await
    }

    async fn post(&self, client: &Client, path: &str, body: Value) -> Answer {
        client.post(path, &body).await
    }

    async fn create_project(&self, signer: &Client, workflow: &str, priority: i64) -> u64 {
        let body = json!({
            "workflow_slug": workflow,
            "description": format!("a {workflow} project of priority {priority}"),
            "priority": priority,
            "project_data": {"priority": priority},
            "task_class": "real",
        });
        let answer = self
            .post(signer, "/orchestra/api/project/create_project", body)
            .await;
        assert_eq!(answer.status, 200, "{answer:?}");
        answer.body["project_id"].as_u64().unwrap()
    }

    async fn information(&self, signer: &Client, id: u64) -> Value {
        let answer = self
            .send(
                signer,
                "GET",
                &format!("/orchestra/api/project/project_information?project_id={id}"),
                None,
            )
            .await;
        assert_eq!(answer.status, 200, "{answer:?}");
        answer.body
    }

    async fn wait_for_project(
        &self,
        signer: &Client,
        id: u64,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        wait_for(Duration::from_secs(20), what, || async {
            let info = self.information(signer, id).await;
            check(&info).then_some(info)
        })
        .await
    }
}

fn snapshot_types(assignment: &Value) -> Vec<u64> {
    assignment["snapshots"]["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|snapshot| snapshot["type"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn a_reviewed_step_goes_through_rejection_and_a_second_submission_to_completion() {
    let api = Api::start().await;
    let client = api.key("client", "projects.read,projects.write").await;
    let alice = api.key("alice", "projects.work,projects.review").await;
    let bob = api.key("bob", "projects.review").await;
    let carol = api.key("carol", "projects.work").await;
    let id = api.create_project(&client, "edited", 1).await;
    let task = id + 1;
    let claimed = api
        .post(&alice, "/orchestra/api/tasks/claim", json!({}))
        .await;
    assert_eq!(claimed.status, 200, "{claimed:?}");
    assert_eq!(claimed.body["task"]["id"], task);

    // Alice submits: the task waits for a reviewer and does not complete.
    let submitted = api
        .post(
            &alice,
            &format!("/orchestra/api/tasks/{task}/submit"),
            json!({"task_data": {"text": "first draft"}}),
        )
        .await;
    assert_eq!(submitted.status, 200, "{submitted:?}");
    assert_eq!(submitted.body["status"], "Pending Review");
    let info = api.information(&client, id).await;
    assert_eq!(info["tasks"]["write"]["status"], "Pending Review");
    assert!(info["tasks"].get("use").is_none(), "{info}");
    // The same submission again is harmless; other data is refused while it waits.
    let again = api
        .post(
            &alice,
            &format!("/orchestra/api/tasks/{task}/submit"),
            json!({"task_data": {"text": "first draft"}}),
        )
        .await;
    assert_eq!(again.status, 200, "{again:?}");
    let changed = api
        .post(
            &alice,
            &format!("/orchestra/api/tasks/{task}/submit"),
            json!({"task_data": {"text": "sneaky edit"}}),
        )
        .await;
    assert_eq!(changed.status, 409, "{changed:?}");
    assert_eq!(changed.body["error"], "conflict", "{changed:?}");

    // Never the same person; never a key without projects.review.
    let own = api
        .post(
            &alice,
            "/orchestra/api/reviews/claim",
            json!({"task_id": task}),
        )
        .await;
    assert_eq!(own.status, 403, "{own:?}");
    let none_for_alice = api
        .post(&alice, "/orchestra/api/reviews/claim", json!({}))
        .await;
    assert_eq!(none_for_alice.status, 404, "{none_for_alice:?}");
    let mine = api
        .send(&alice, "GET", "/orchestra/api/reviews/available", None)
        .await;
    assert_eq!(mine.body["tasks"], json!([]), "{mine:?}");
    let forbidden = api
        .send(&carol, "GET", "/orchestra/api/reviews/available", None)
        .await;
    assert_eq!(forbidden.status, 403, "{forbidden:?}");
    // Bob sees it, but may not decide before he claims the review.
    let waiting = api
        .send(&bob, "GET", "/orchestra/api/reviews/available", None)
        .await;
    assert_eq!(waiting.status, 200, "{waiting:?}");
    assert_eq!(waiting.body["tasks"][0]["id"], task, "{waiting:?}");
    assert_eq!(waiting.body["tasks"][0]["task_data"]["text"], "first draft");
    let early = api
        .post(
            &bob,
            &format!("/orchestra/api/reviews/{task}/accept"),
            json!({}),
        )
        .await;
    assert_eq!(early.status, 409, "{early:?}");

    // Bob reviews and sends it back with comments.
    let reviewing = api
        .post(&bob, "/orchestra/api/reviews/claim", json!({}))
        .await;
    assert_eq!(reviewing.status, 200, "{reviewing:?}");
    assert_eq!(reviewing.body["task"]["id"], task);
    assert_eq!(reviewing.body["task"]["status"], "Reviewing");
    let rejected = api
        .post(
            &bob,
            &format!("/orchestra/api/reviews/{task}/reject"),
            json!({"task_data": {"text": "first draft", "comments": "too short"}}),
        )
        .await;
    assert_eq!(rejected.status, 200, "{rejected:?}");
    assert_eq!(rejected.body["task"]["status"], "Post-review Processing");
    let info = api.information(&client, id).await;
    let write = &info["tasks"]["write"];
    assert_eq!(write["status"], "Post-review Processing");
    assert_eq!(write["latest_data"]["comments"], "too short");
    // Nobody else may review it now, and Bob's reject repeated is harmless.
    assert_eq!(
        api.post(
            &bob,
            &format!("/orchestra/api/reviews/{task}/reject"),
            json!({})
        )
        .await
        .status,
        200
    );

    // Alice works on it again and submits: it goes straight back to Bob.
    let saved = api
        .post(
            &alice,
            &format!("/orchestra/api/tasks/{task}/save"),
            json!({"task_data": {"text": "second dr"}}),
        )
        .await;
    assert_eq!(saved.status, 200, "{saved:?}");
    let second = api
        .post(
            &alice,
            &format!("/orchestra/api/tasks/{task}/submit"),
            json!({"task_data": {"text": "second draft, longer"}}),
        )
        .await;
    assert_eq!(second.status, 200, "{second:?}");
    assert_eq!(second.body["status"], "Reviewing");
    // Bad data from the reviewer breaks the form: refused, nothing changes.
    let broken = api
        .post(
            &bob,
            &format!("/orchestra/api/reviews/{task}/accept"),
            json!({"task_data": {"text": 7}}),
        )
        .await;
    assert_eq!(broken.status, 400, "{broken:?}");
    let accepted = api
        .post(
            &bob,
            &format!("/orchestra/api/reviews/{task}/accept"),
            json!({}),
        )
        .await;
    assert_eq!(accepted.status, 200, "{accepted:?}");

    // The step completes with the reviewed data, and the workflow goes on with it.
    let info = api
        .wait_for_project(&client, id, "the project completes", |info| {
            info["project"]["status"] == "completed"
        })
        .await;
    let write = &info["tasks"]["write"];
    assert_eq!(write["status"], "Complete");
    assert_eq!(
        info["tasks"]["use"]["latest_data"]["parents"],
        json!([{"text": "second draft, longer"}])
    );
    let assignments = write["assignments"].as_array().unwrap();
    assert_eq!(assignments.len(), 2, "{write}");
    let (work, review) = (&assignments[0], &assignments[1]);
    assert_eq!(work["worker"], "alice");
    assert_eq!(work["status"], "Submitted");
    assert_eq!(snapshot_types(work), vec![0, 0]);
    assert_eq!(
        work["snapshots"]["snapshots"][1]["data"]["text"],
        "second draft, longer"
    );
    assert_eq!(review["worker"], "bob");
    assert_eq!(review["status"], "Submitted");
    assert_eq!(review["task"], task);
    assert_ne!(review["id"], work["id"]);
    assert_eq!(snapshot_types(review), vec![2, 1]);
    assert_eq!(
        review["snapshots"]["snapshots"][0]["data"]["comments"],
        "too short"
    );
    // The step has completed: a late accept takes no more review; unknown tasks are 404s.
    let repeated = api
        .post(
            &bob,
            &format!("/orchestra/api/reviews/{task}/accept"),
            json!({}),
        )
        .await;
    assert_eq!(repeated.status, 409, "{repeated:?}");
    let unknown = api
        .post(&bob, "/orchestra/api/reviews/999999/accept", json!({}))
        .await;
    assert_eq!(unknown.status, 404, "{unknown:?}");
}

#[tokio::test]
async fn people_get_tasks_by_the_projects_whole_priority_then_oldest_first() {
    let api = Api::start().await;
    let client = api.key("client", "projects.read,projects.write").await;
    let alice = api.key("alice", "projects.work").await;
    // All above 0: the engine's three priority bands cannot tell them apart.
    let mut created = Vec::new();
    for priority in [3, 9, 5, 9, 1] {
        created.push((
            priority,
            api.create_project(&client, "decide", priority).await,
        ));
    }
    wait_for(
        Duration::from_secs(20),
        "all five are available",
        || async {
            let answer = api
                .send(&alice, "GET", "/orchestra/api/tasks/available", None)
                .await;
            (answer.body["tasks"].as_array().map(Vec::len) == Some(5)).then_some(())
        },
    )
    .await;
    let listed = api
        .send(&alice, "GET", "/orchestra/api/tasks/available", None)
        .await;
    let listed: Vec<u64> = listed.body["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|task| task["project"].as_u64().unwrap())
        .collect();
    // 9 (the older first), 9, 5, 3, 1.
    let expected: Vec<u64> = [1, 3, 2, 0, 4].iter().map(|&at| created[at].1).collect();
    assert_eq!(listed, expected);
    let mut claimed = Vec::new();
    for _ in 0..3 {
        let answer = api
            .post(&alice, "/orchestra/api/tasks/claim", json!({}))
            .await;
        assert_eq!(answer.status, 200, "{answer:?}");
        claimed.push(answer.body["task"]["project"].as_u64().unwrap());
    }
    assert_eq!(claimed, expected[..3]);
    // What is left is still listed and claimed in order: claims do not hide later tasks.
    let left = api
        .send(&alice, "GET", "/orchestra/api/tasks/available", None)
        .await;
    let left: Vec<u64> = left.body["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|task| task["project"].as_u64().unwrap())
        .collect();
    assert_eq!(left, expected[3..]);
    for want in &expected[3..] {
        let answer = api
            .post(&alice, "/orchestra/api/tasks/claim", json!({}))
            .await;
        assert_eq!(answer.body["task"]["project"], *want, "{answer:?}");
    }
    let none = api
        .post(&alice, "/orchestra/api/tasks/claim", json!({}))
        .await;
    assert_eq!(none.status, 404, "{none:?}");
}

#[tokio::test]
async fn an_accept_interrupted_after_recording_is_finished_by_its_repeat_exactly_once() {
    let api = Api::start().await;
    let client = api.key("client", "projects.read,projects.write").await;
    let alice = api.key("alice", "projects.work").await;
    let bob = api.key("bob", "projects.review").await;
    let id = api.create_project(&client, "edited", 0).await;
    let task = id + 1;
    assert_eq!(
        api.post(&alice, "/orchestra/api/tasks/claim", json!({}))
            .await
            .status,
        200
    );
    let submit = api
        .post(
            &alice,
            &format!("/orchestra/api/tasks/{task}/submit"),
            json!({"task_data": {"text": "draft"}}),
        )
        .await;
    assert_eq!(submit.status, 200, "{submit:?}");
    let claimed = api
        .post(&bob, "/orchestra/api/reviews/claim", json!({}))
        .await;
    assert_eq!(claimed.status, 200, "{claimed:?}");

    // What an accept records first, as if its API had been killed right after: the task still
    // runs, its job is still pending under alice.
    let recorded = json!({"text": "reviewed"});
    let mut redis = api.app.redis().client().get_connection().unwrap();
    let run_key = api.app.store().await.keys().run(&format!("project-{id}"));
    redis::cmd("HSET")
        .arg(&run_key)
        .arg("t0.review")
        .arg("accepted")
        .arg("t0.submitted")
        .arg("1")
        .arg("t0.submission")
        .arg(recorded.to_string())
        .arg("t0.work")
        .arg(recorded.to_string())
        .exec(&mut redis)
        .unwrap();
    let info = api.information(&client, id).await;
    assert_eq!(info["tasks"]["write"]["status"], "Reviewing");

    // The repeat finishes the task with what was recorded first, once, whatever it sends.
    let repeat = api
        .post(
            &bob,
            &format!("/orchestra/api/reviews/{task}/accept"),
            json!({"task_data": {"text": "something else"}}),
        )
        .await;
    assert_eq!(repeat.status, 200, "{repeat:?}");
    let info = api
        .wait_for_project(&client, id, "the project completes", |info| {
            info["project"]["status"] == "completed"
        })
        .await;
    assert_eq!(
        info["tasks"]["use"]["latest_data"]["parents"],
        json!([recorded])
    );
    // The step's job finished once and its successor ran once.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let store = api.app.store().await;
    for queue in [QueueName::human(), QueueName::default()] {
        let stats = store.queue_stats(&queue).await.unwrap();
        assert_eq!(stats.get("succeeded"), Some(&1), "{queue}: {stats:?}");
    }
}

//! End-to-end tests of project control and reassignment on the projects front: ending,
//! pausing and resuming projects (Orchestra's project-management API), a person releasing a
//! claim, managers assigning and reassigning tasks, and the scheduler returning abandoned
//! claims to the pool; over a real socket, against real `baton-api` and `baton-scheduler`
//! processes and a real `redis-server`.

use std::time::Duration;

use baton_tests::signed_http::Answer;
use baton_tests::wait::{poll_for, wait_for};
use baton_tests::{Client, TestApp};
use common::engine::model::QueueName;
use serde_json::{Value, json};

/// One human step.
const DECIDE: &str = r#"
slug: decide
description: A person decides.
steps:
  - slug: decide
    description: Decide
    type: human
"#;

/// Two human steps side by side, then a machine step that needs both.
const PAIR: &str = r#"
slug: pair
description: Two people decide, then a machine step uses both.
steps:
  - slug: first
    description: Decide first
    type: human
  - slug: second
    description: Decide second
    type: human
  - slug: last
    description: Use both
    type: machine
    depends_on: [first, second]
    executor: {type: command, argv: ["sh", "-c", "cat > \"$BATON_RESULT\""]}
"#;

const MANAGEMENT: &str = "/orchestra/api/interface/project_management";
const AVAILABLE: &str = "/orchestra/api/tasks/available";
const CLAIM: &str = "/orchestra/api/tasks/claim";

/// A running API and scheduler (no worker: human steps need none), with a client key.
struct Api {
    app: TestApp,
    client: Client,
}

impl Api {
    /// Starts the API and a scheduler with `scheduler_env` (besides a fast tick).
    async fn start(scheduler_env: &[(&str, &str)]) -> Self {
        let mut builder = TestApp::builder()
            .project("decide.yml", DECIDE)
            .project("pair.yml", PAIR)
            .api_env("BATON_SIGNATURE_SKEW_SECS", "60")
            .scheduler(true)
            .scheduler_env("BATON_TICK_MS", "50");
        for (name, value) in scheduler_env {
            builder = builder.scheduler_env(name, value);
        }
        let app = builder.spawn().await;
        let client = app.client(app.key("client", "projects.read,projects.write").await);
        Self { app, client }
    }

    /// A client signing with a new key `id` holding `permissions`.
    async fn person(&self, id: &str, permissions: &str) -> Client {
        self.app.client(self.app.key(id, permissions).await)
    }

    /// Creates a project of `workflow` and waits until its first task waits for someone;
    /// returns the project's id.
    async fn project(&self, workflow: &str, waiting_step: &str) -> u64 {
        let created = self
            .client
            .post(
                "/orchestra/api/project/create_project",
                &json!({"workflow_slug": workflow, "description": "a project", "priority": 0, "task_class": "real"}),
            )
            .await;
        assert_eq!(created.status, 200, "{created:?}");
        let id = created.body["project_id"].as_u64().expect("an integer id");
        self.wait_for_project(id, "the task to wait for someone", |info| {
            info["tasks"][waiting_step]["status"] == "Awaiting Processing"
        })
        .await;
        id
    }

    /// `project_information` of project `id`.
    async fn information(&self, id: u64) -> Value {
        let answer = self
            .client
            .get(&format!(
                "/orchestra/api/project/project_information?project_id={id}"
            ))
            .await;
        assert_eq!(answer.status, 200, "{answer:?}");
        answer.body
    }

    /// Waits until `check` holds on project `id`'s information, and returns it.
    async fn wait_for_project(&self, id: u64, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        wait_for(Duration::from_secs(20), what, || async {
            let info = self.information(id).await;
            check(&info).then_some(info)
        })
        .await
    }

    /// The ids of the tasks `person` sees as available.
    async fn available(&self, person: &Client) -> Vec<u64> {
        let answer = person.get(AVAILABLE).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        answer.body["tasks"]
            .as_array()
            .expect("a list of tasks")
            .iter()
            .map(|task| task["id"].as_u64().expect("an integer id"))
            .collect()
    }

    /// The runs of the human tasks pending under `person` (their held jobs).
    async fn held(&self, person: &str) -> Vec<String> {
        let store = self.app.store().await;
        let mut runs: Vec<String> = store
            .held_human_jobs(&QueueName::human(), person, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|job| job.job.run_id)
            .collect();
        runs.sort();
        runs
    }

    /// Sets fields of project `id`'s run directly, as another part of the system would.
    async fn set_run_fields(&self, id: u64, fields: &[(&str, &str)]) {
        let run_key = self.app.store().await.keys().run(&format!("project-{id}"));
        let mut redis = self.app.redis().client().get_connection().unwrap();
        let mut hset = redis::cmd("HSET");
        hset.arg(&run_key);
        for (name, value) in fields {
            hset.arg(*name).arg(*value);
        }
        hset.exec(&mut redis).unwrap();
    }
}

async fn claim(person: &Client, task_id: u64) -> Answer {
    person.post(CLAIM, &json!({"task_id": task_id})).await
}

async fn save(person: &Client, task_id: u64, data: Value) -> Answer {
    person
        .post(
            &format!("/orchestra/api/tasks/{task_id}/save"),
            &json!({"task_data": data}),
        )
        .await
}

async fn submit(person: &Client, task_id: u64, data: Value) -> Answer {
    person
        .post(
            &format!("/orchestra/api/tasks/{task_id}/submit"),
            &json!({"task_data": data}),
        )
        .await
}

async fn release(person: &Client, task_id: u64) -> Answer {
    person
        .post(
            &format!("/orchestra/api/tasks/{task_id}/release"),
            &json!({}),
        )
        .await
}

async fn manage(manager: &Client, action: &str, body: Value) -> Answer {
    manager
        .post(&format!("{MANAGEMENT}/{action}/"), &body)
        .await
}

/// Asserts an Orchestra error: `status`, the front's error shape, and a message containing
/// `words`.
fn assert_error(answer: &Answer, status: u16, words: &str) {
    assert_eq!(answer.status, status, "{answer:?}");
    assert!(answer.body["error"].is_string(), "{answer:?}");
    let message = answer.body["message"].as_str().unwrap_or_default();
    assert!(message.contains(words), "'{words}' not in {answer:?}");
}

#[tokio::test]
async fn an_ended_project_aborts_its_unfinished_tasks_and_offers_none() {
    let api = Api::start(&[]).await;
    let manager = api.person("manager", "projects.manage").await;
    let alice = api.person("alice", "projects.work").await;
    let bob = api.person("bob", "projects.work").await;
    let id = api.project("pair", "first").await;
    let other = api.project("decide", "decide").await;
    let info = api.information(id).await;
    let first = info["tasks"]["first"]["id"].as_u64().unwrap();
    let second = info["tasks"]["second"]["id"].as_u64().unwrap();
    assert_eq!(claim(&alice, first).await.status, 200);
    assert!(api.available(&bob).await.contains(&second));

    let ended = manage(&manager, "end_project", json!({"project_id": id})).await;
    assert_eq!(ended.status, 200, "{ended:?}");
    assert_eq!(ended.body["status"], "aborted");
    assert_eq!(ended.body["success"], true);

    // The project and its unfinished tasks are aborted; the step that never became ready
    // never existed.
    let info = api.information(id).await;
    assert_eq!(info["project"]["status"], "aborted");
    assert_eq!(info["tasks"]["first"]["status"], "Aborted");
    assert_eq!(info["tasks"]["first"]["assignments"][0]["status"], "Failed");
    assert_eq!(info["tasks"]["first"]["assignments"][0]["worker"], "alice");
    assert_eq!(info["tasks"]["second"]["status"], "Aborted");
    assert!(info["tasks"]["last"].is_null(), "{info}");

    // Nothing of it is offered, claimed, saved or released; the other project is untouched.
    let available = api.available(&bob).await;
    assert!(!available.contains(&second), "{available:?}");
    assert!(available.contains(&(other + 1)), "{available:?}");
    assert_error(&claim(&bob, second).await, 409, "Aborted");
    assert_error(&save(&alice, first, json!({"x": 1})).await, 409, "Aborted");
    assert_error(&release(&alice, first).await, 409, "Aborted");

    // Ending it again answers the same and changes nothing; it can no longer be paused.
    let again = manage(&manager, "end_project", json!({"project_id": id})).await;
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(again.body, ended.body);
    assert_eq!(api.information(id).await, info);
    let paused = manage(
        &manager,
        "set_project_status",
        json!({"project_id": id, "status": "paused"}),
    )
    .await;
    assert_error(&paused, 400, "aborted");
    assert_eq!(api.information(id).await["project"]["status"], "aborted");

    // Unknown or missing projects are Orchestra's 400.
    let unknown = manage(&manager, "end_project", json!({"project_id": 999_999})).await;
    assert_error(&unknown, 400, "Project not found for the given id.");
    assert_eq!(unknown.body["error"], "bad_request");
    assert_error(
        &manage(&manager, "end_project", json!({})).await,
        400,
        "project_id",
    );
}

#[tokio::test]
async fn a_paused_project_offers_no_task_until_it_is_resumed() {
    let api = Api::start(&[]).await;
    let manager = api.person("manager", "projects.manage").await;
    let bob = api.person("bob", "projects.work").await;
    let paused = api.project("decide", "decide").await;
    let running = api.project("decide", "decide").await;
    let (task, other_task) = (paused + 1, running + 1);

    let set = |status: &'static str| {
        let manager = manager.clone();
        async move {
            manage(
                &manager,
                "set_project_status",
                json!({"project_id": paused, "status": status}),
            )
            .await
        }
    };
    let answer = set("paused").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body, json!({"status": "paused", "success": true}));
    assert_eq!(api.information(paused).await["project"]["status"], "paused");
    assert_eq!(
        api.information(running).await["project"]["status"],
        "active"
    );

    // Its task is neither listed nor claimable by id; the other project's is.
    let available = api.available(&bob).await;
    assert!(!available.contains(&task), "{available:?}");
    assert!(available.contains(&other_task), "{available:?}");
    assert_error(&claim(&bob, task).await, 409, "paused");
    // Claiming the next task passes over it too.
    let next = bob.post("/orchestra/api/tasks/claim", &json!({})).await;
    assert_eq!(next.status, 200, "{next:?}");
    assert_eq!(next.body["task"]["id"], other_task, "{next:?}");
    let none = bob.post("/orchestra/api/tasks/claim", &json!({})).await;
    assert_eq!(none.status, 404, "{none:?}");
    // Pausing again changes nothing.
    assert_eq!(set("paused").await.status, 200);
    assert_eq!(
        api.information(paused).await["tasks"]["decide"]["status"],
        "Awaiting Processing"
    );

    // Resumed, it is offered again, and claimed.
    let answer = set("active").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body, json!({"status": "active", "success": true}));
    assert_eq!(api.information(paused).await["project"]["status"], "active");
    assert!(api.available(&bob).await.contains(&task));
    let claimed = claim(&bob, task).await;
    assert_eq!(claimed.status, 200, "{claimed:?}");
    assert_eq!(claimed.body["task"]["assignment"]["worker"], "bob");

    // Other statuses and unknown projects are Orchestra's 400s.
    for status in [json!("completed"), json!("aborted"), json!(1), Value::Null] {
        let answer = manage(
            &manager,
            "set_project_status",
            json!({"project_id": paused, "status": status}),
        )
        .await;
        assert_error(&answer, 400, "Invalid project status.");
    }
    let unknown = manage(
        &manager,
        "set_project_status",
        json!({"project_id": 999_999, "status": "paused"}),
    )
    .await;
    assert_error(&unknown, 400, "Project not found for the given id.");
}

#[tokio::test]
async fn a_released_claim_goes_back_to_the_pool_for_someone_else() {
    let api = Api::start(&[]).await;
    let manager = api.person("manager", "projects.manage").await;
    let alice = api.person("alice", "projects.work").await;
    let bob = api.person("bob", "projects.work").await;
    let id = api.project("decide", "decide").await;
    let task = id + 1;

    assert_error(&release(&alice, task).await, 409, "not claimed");
    assert_eq!(claim(&alice, task).await.status, 200);
    assert_eq!(save(&alice, task, json!({"draft": "a"})).await.status, 200);
    assert!(!api.available(&bob).await.contains(&task));
    assert_error(&release(&bob, task).await, 403, "someone else");

    // Submitted or in review, it stays with its holder.
    api.set_run_fields(id, &[("t0.submitted", "1")]).await;
    assert_error(&release(&alice, task).await, 409, "submitted");
    api.set_run_fields(id, &[("t0.submitted", ""), ("t0.review", "pending")])
        .await;
    assert_error(&release(&alice, task).await, 409, "in review");
    api.set_run_fields(id, &[("t0.review", "")]).await;

    // Released: it waits for anyone again, with no assignment, the draft kept.
    let released = release(&alice, task).await;
    assert_eq!(released.status, 200, "{released:?}");
    assert_eq!(released.body["status"], "Awaiting Processing");
    let info = api.information(id).await;
    assert_eq!(info["tasks"]["decide"]["status"], "Awaiting Processing");
    assert_eq!(info["tasks"]["decide"]["assignments"], json!([]));
    assert_eq!(
        info["tasks"]["decide"]["latest_data"],
        json!({"draft": "a"})
    );
    assert!(api.available(&bob).await.contains(&task));
    assert!(api.held("alice").await.is_empty());
    // Again: nothing left to release.
    assert_error(&release(&alice, task).await, 409, "not claimed");
    assert_error(
        &save(&alice, task, json!({"draft": "b"})).await,
        409,
        "not claimed",
    );

    // Bob claims it and submits; Alice can no longer touch it.
    let claimed = claim(&bob, task).await;
    assert_eq!(claimed.status, 200, "{claimed:?}");
    assert_eq!(claimed.body["task"]["assignment"]["worker"], "bob");
    assert_eq!(api.held("bob").await, [format!("project-{id}")]);
    assert_error(
        &save(&alice, task, json!({"draft": "c"})).await,
        403,
        "someone else",
    );
    assert_eq!(
        submit(&bob, task, json!({"choice": "yes"})).await.status,
        200
    );
    let info = api
        .wait_for_project(id, "the project to complete", |info| {
            info["project"]["status"] == "completed"
        })
        .await;
    assert_eq!(
        info["tasks"]["decide"]["latest_data"],
        json!({"choice": "yes"})
    );
    assert_eq!(info["tasks"]["decide"]["assignments"][0]["worker"], "bob");
    assert_error(&release(&bob, task).await, 409, "Complete");

    // A completed project is neither ended nor paused.
    let ended = manage(&manager, "end_project", json!({"project_id": id})).await;
    assert_error(&ended, 400, "completed");
    let paused = manage(
        &manager,
        "set_project_status",
        json!({"project_id": id, "status": "paused"}),
    )
    .await;
    assert_error(&paused, 400, "completed");
    assert_eq!(api.information(id).await["project"]["status"], "completed");
}

#[tokio::test]
async fn an_abandoned_claim_returns_to_the_pool_while_a_saved_one_stays() {
    let api = Api::start(&[("BATON_HUMAN_CLAIM_TIMEOUT_SECS", "2")]).await;
    let alice = api.person("alice", "projects.work").await;
    let bob = api.person("bob", "projects.work").await;
    let carol = api.person("carol", "projects.work").await;
    let abandoned = api.project("decide", "decide").await;
    let kept = api.project("decide", "decide").await;
    let (abandoned_task, kept_task) = (abandoned + 1, kept + 1);
    assert_eq!(claim(&alice, abandoned_task).await.status, 200);
    assert_eq!(claim(&bob, kept_task).await.status, 200);

    // Bob saves four times a second for five seconds: each save is still his (a save after his
    // claim went back would be refused). Alice does nothing: her claim goes back.
    let mut released_after = None;
    let started = tokio::time::Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        let saved = save(
            &bob,
            kept_task,
            json!({"at": started.elapsed().as_millis() as u64}),
        )
        .await;
        assert_eq!(saved.status, 200, "bob's claim went back: {saved:?}");
        if released_after.is_none() && api.available(&carol).await.contains(&abandoned_task) {
            released_after = Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let released_after = released_after.expect("alice's abandoned claim to go back within 5 s");
    assert!(
        released_after >= Duration::from_millis(1500),
        "{released_after:?}"
    );
    let info = api.information(kept).await;
    assert_eq!(info["tasks"]["decide"]["status"], "Processing");
    assert_eq!(info["tasks"]["decide"]["assignments"][0]["worker"], "bob");
    assert!(!api.available(&carol).await.contains(&kept_task));
    let info = api.information(abandoned).await;
    assert_eq!(info["tasks"]["decide"]["status"], "Awaiting Processing");
    assert_eq!(info["tasks"]["decide"]["assignments"], json!([]));
    assert!(api.held("alice").await.is_empty());
    assert_error(
        &save(&alice, abandoned_task, json!({})).await,
        409,
        "not claimed",
    );
    let scheduler = api.app.scheduler().expect("a scheduler").log();
    assert!(
        scheduler.contains("abandoned human task returned to the pool"),
        "{scheduler}"
    );

    // Carol claims the returned task and submits it.
    assert_eq!(claim(&carol, abandoned_task).await.status, 200);
    assert_eq!(
        submit(&carol, abandoned_task, json!({"choice": "no"}))
            .await
            .status,
        200
    );
    api.wait_for_project(
        abandoned,
        "the returned task's project to complete",
        |info| info["project"]["status"] == "completed",
    )
    .await;

    // Once Bob stops saving, his claim goes back too.
    let back = poll_for(Duration::from_secs(10), || async {
        api.available(&carol)
            .await
            .contains(&kept_task)
            .then_some(())
    })
    .await;
    assert!(back.is_some(), "bob's quiet claim never went back");
    assert_error(&save(&bob, kept_task, json!({})).await, 409, "not claimed");
}

#[tokio::test]
async fn managers_assign_and_reassign_tasks_and_no_one_else_may() {
    let api = Api::start(&[]).await;
    let manager = api.person("manager", "projects.manage").await;
    let alice = api.person("alice", "projects.work").await;
    let bob = api.person("bob", "projects.work").await;
    api.person("reader", "projects.read").await;
    let id = api.project("decide", "decide").await;
    let waiting = api.project("decide", "decide").await;
    let (task, waiting_task) = (id + 1, waiting + 1);
    // One step: the project's id, its task's, then its assignment's.
    let assignment = id + 2;

    // Only projects.manage may steer.
    for (action, body) in [
        ("end_project", json!({"project_id": id})),
        (
            "set_project_status",
            json!({"project_id": id, "status": "paused"}),
        ),
        (
            "assign_task",
            json!({"worker_username": "alice", "task_id": task}),
        ),
        (
            "reassign_assignment",
            json!({"worker_username": "alice", "assignment_id": assignment}),
        ),
    ] {
        let denied = manage(&alice, action, body).await;
        assert_eq!(denied.status, 403, "{action}: {denied:?}");
    }
    assert_eq!(api.information(id).await["project"]["status"], "active");

    // Workers must exist and may work on tasks; tasks must exist.
    for worker in ["nobody", ""] {
        let answer = manage(
            &manager,
            "assign_task",
            json!({"worker_username": worker, "task_id": task}),
        )
        .await;
        let expected = if worker.is_empty() {
            "worker_username"
        } else {
            "Worker not found for the given username."
        };
        assert_error(&answer, 400, expected);
    }
    let reader = manage(
        &manager,
        "assign_task",
        json!({"worker_username": "reader", "task_id": task}),
    )
    .await;
    assert_error(&reader, 400, "projects.work");
    let unknown = manage(
        &manager,
        "assign_task",
        json!({"worker_username": "alice", "task_id": 999_999}),
    )
    .await;
    assert_error(&unknown, 400, "Task not found for the given id.");
    let unclaimed = manage(
        &manager,
        "reassign_assignment",
        json!({"worker_username": "bob", "assignment_id": waiting + 2}),
    )
    .await;
    assert_error(&unclaimed, 409, "not claimed");

    // Assigned to Alice: hers, as if she had claimed it; again: the same.
    for _ in 0..2 {
        let assigned = manage(
            &manager,
            "assign_task",
            json!({"worker_username": "alice", "task_id": task}),
        )
        .await;
        assert_eq!(assigned.status, 200, "{assigned:?}");
        assert_eq!(assigned.body["assignment_id"], assignment);
        assert_eq!(assigned.body["worker_username"], "alice");
    }
    let info = api.information(id).await;
    assert_eq!(info["tasks"]["decide"]["status"], "Processing");
    assert_eq!(info["tasks"]["decide"]["assignments"][0]["id"], assignment);
    assert_eq!(info["tasks"]["decide"]["assignments"][0]["worker"], "alice");
    assert!(!api.available(&bob).await.contains(&task));
    assert_eq!(api.held("alice").await, [format!("project-{id}")]);
    assert_eq!(
        save(&alice, task, json!({"draft": "alice's"})).await.status,
        200
    );
    let taken = manage(
        &manager,
        "assign_task",
        json!({"worker_username": "bob", "task_id": task}),
    )
    .await;
    assert_error(&taken, 409, "already claimed by alice");

    // Reassigned to Bob: his now, with Alice's draft; the job is pending under him.
    for worker in ["nobody", "reader"] {
        let answer = manage(
            &manager,
            "reassign_assignment",
            json!({"worker_username": worker, "assignment_id": assignment}),
        )
        .await;
        assert_eq!(answer.status, 400, "{answer:?}");
    }
    let unknown = manage(
        &manager,
        "reassign_assignment",
        json!({"worker_username": "bob", "assignment_id": 999_999}),
    )
    .await;
    assert_error(&unknown, 400, "Assignment not found for the given id.");
    let moved = manage(
        &manager,
        "reassign_assignment",
        json!({"worker_username": "bob", "assignment_id": assignment}),
    )
    .await;
    assert_eq!(moved.status, 200, "{moved:?}");
    assert_eq!(moved.body["task_id"], task);
    let info = api.information(id).await;
    assert_eq!(info["tasks"]["decide"]["assignments"][0]["worker"], "bob");
    assert_eq!(
        info["tasks"]["decide"]["assignments"][0]["in_progress_task_data"],
        json!({"draft": "alice's"})
    );
    assert!(api.held("alice").await.is_empty());
    assert_eq!(api.held("bob").await, [format!("project-{id}")]);
    assert_error(&save(&alice, task, json!({})).await, 403, "someone else");
    assert_error(&release(&alice, task).await, 403, "someone else");

    // Submitted or in review, it is not moved.
    api.set_run_fields(id, &[("t0.review", "reviewing")]).await;
    let in_review = manage(
        &manager,
        "reassign_assignment",
        json!({"worker_username": "alice", "assignment_id": assignment}),
    )
    .await;
    assert_error(&in_review, 409, "in review");
    api.set_run_fields(id, &[("t0.review", ""), ("t0.submitted", "1")])
        .await;
    let submitted = manage(
        &manager,
        "reassign_assignment",
        json!({"worker_username": "alice", "assignment_id": assignment}),
    )
    .await;
    assert_error(&submitted, 409, "submitted");
    api.set_run_fields(id, &[("t0.submitted", "")]).await;

    // Bob submits it: the project completes with his work.
    assert_eq!(
        save(&bob, task, json!({"draft": "bob's"})).await.status,
        200
    );
    assert_eq!(
        submit(&bob, task, json!({"choice": "yes"})).await.status,
        200
    );
    let info = api
        .wait_for_project(id, "the project to complete", |info| {
            info["project"]["status"] == "completed"
        })
        .await;
    assert_eq!(
        info["tasks"]["decide"]["latest_data"],
        json!({"choice": "yes"})
    );
    assert!(api.held("bob").await.is_empty());
    let finished = manage(
        &manager,
        "reassign_assignment",
        json!({"worker_username": "alice", "assignment_id": assignment}),
    )
    .await;
    assert_error(&finished, 409, "Complete");

    // The other project's task, still waiting, can be assigned to Bob by a manager.
    let assigned = manage(
        &manager,
        "assign_task",
        json!({"worker_username": "bob", "task_id": waiting_task}),
    )
    .await;
    assert_eq!(assigned.status, 200, "{assigned:?}");
    assert_eq!(
        api.information(waiting).await["tasks"]["decide"]["assignments"][0]["worker"],
        "bob"
    );
}

//! `baton projects ...` against a running deployment (real `baton-api`, `baton-scheduler` and
//! `baton-worker` processes, a real `redis-server`): a project created through the API is
//! shown, its task listed, assigned, reassigned, its project paused, resumed and ended from
//! the command line, with tables and `--json`; Orchestra's errors come through on stderr with
//! exit 2; the tasks waiting for a reviewer are listed.

use std::time::Duration;

use baton_tests::baton_cli::BatonOutput;
use baton_tests::wait::wait_for;
use baton_tests::{Client, TestApp};
use common::auth::signing::sign::Signer;
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
  - slug: use
    description: Use the text
    type: machine
    depends_on: [write]
    executor: {type: command, argv: ["sh", "-c", "cat > \"$BATON_RESULT\""]}
"#;

/// An API key the command signs with.
struct Key {
    id: String,
    secret: String,
}

/// A running deployment with the workflows above, and a client key that creates projects.
struct Deployment {
    app: TestApp,
    client: Client,
}

impl Deployment {
    async fn start() -> Self {
        let app = TestApp::builder()
            .project("decide.yml", DECIDE)
            .project("edited.yml", EDITED)
            .workers(1)
            .scheduler(true)
            .scheduler_env("BATON_TICK_MS", "50")
            .spawn()
            .await;
        let client = app.client(app.key("client", "projects.read,projects.write").await);
        Self { app, client }
    }

    /// Creates the key `id` with `permissions`.
    async fn key(&self, id: &str, permissions: &str) -> Key {
        let secret = self.app.create_key(id, permissions, &[]).await;
        Key {
            id: id.to_owned(),
            secret,
        }
    }

    /// Runs `baton args` signed with `key`.
    async fn baton(&self, key: &Key, args: &[&str]) -> BatonOutput {
        self.app.baton(&key.id, &key.secret, args).await
    }

    /// Runs `baton args --json` signed with `key`, which must succeed; its JSON.
    async fn json(&self, key: &Key, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        let output = self.baton(key, &args).await;
        assert_eq!(output.code, Some(0), "{args:?}: {output:?}");
        output.json()
    }

    /// Creates a project of `workflow` through the API and waits until the task of its step
    /// `first` waits for someone; returns the project's id and that task's.
    async fn project(&self, workflow: &str, first: &str) -> (u64, u64) {
        let created = self
            .client
            .post(
                "/orchestra/api/project/create_project",
                &json!({"workflow_slug": workflow, "description": format!("{workflow} work"),
                    "priority": 1, "task_class": "real"}),
            )
            .await;
        assert_eq!(created.status, 200, "{created:?}");
        let id = created.body["project_id"].as_u64().expect("an integer id");
        let info = wait_for(
            Duration::from_secs(20),
            "the project's first task to wait for someone",
            || async {
                let answer = self
                    .client
                    .get(&format!(
                        "/orchestra/api/project/project_information?project_id={id}"
                    ))
                    .await;
                (answer.body["tasks"][first]["status"] == "Awaiting Processing")
                    .then_some(answer.body)
            },
        )
        .await;
        (id, info["tasks"][first]["id"].as_u64().expect("a task id"))
    }
}

/// The cells of the first table row whose first cell is `first`: columns are apart by two
/// spaces at least (their padding), the words of a cell by one.
fn row(text: &str, first: &str) -> Vec<String> {
    text.lines()
        .map(|line| -> Vec<String> {
            line.trim_matches(|c: char| c == '│' || c.is_whitespace())
                .split("  ")
                .map(str::trim)
                .filter(|cell| !cell.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .find(|cells| cells.first().is_some_and(|cell| cell == first))
        .unwrap_or_else(|| panic!("no row of '{first}' in:\n{text}"))
}

/// The ids of the tasks of a `{"tasks": [...]}` answer.
fn task_ids(answer: &Value) -> Vec<u64> {
    answer["tasks"]
        .as_array()
        .expect("a list of tasks")
        .iter()
        .map(|task| task["id"].as_u64().expect("an integer id"))
        .collect()
}

/// Asserts that `output` failed with exit 2, naming the API's `status` and `message`.
fn assert_refused(output: &BatonOutput, status: u16, message: &str) {
    assert_eq!(output.code, Some(2), "{output:?}");
    assert!(
        output.stderr.starts_with("baton: ")
            && output.stderr.contains(&format!("answered {status}: "))
            && output.stderr.contains(message),
        "'{status}: {message}' not in {output:?}"
    );
    assert!(output.stdout.is_empty(), "{output:?}");
}

#[tokio::test]
async fn a_project_is_shown_assigned_paused_and_ended_from_the_command_line() {
    let deployment = Deployment::start().await;
    let ops = deployment
        .key("ops", "projects.read,projects.work,projects.manage")
        .await;
    deployment.key("alice", "projects.work").await;
    deployment.key("bob", "projects.work").await;
    let (id, task) = deployment.project("decide", "decide").await;
    let (id_text, task_text) = (id.to_string(), task.to_string());

    // Shown: the project, then its step's task waiting for someone.
    let shown = deployment
        .baton(&ops, &["projects", "show", &id_text])
        .await;
    assert_eq!(shown.code, Some(0), "{shown:?}");
    let project = row(&shown.stdout, &id_text);
    assert_eq!(
        project[..5],
        [&id_text, "decide work", "decide", "1", "active"],
        "{shown:?}"
    );
    assert_eq!(
        row(&shown.stdout, "decide"),
        ["decide", &task_text, "Awaiting Processing"]
    );
    for header in ["STEP", "TASK", "STATUS", "ASSIGNMENT", "WORKER", "REVIEWER"] {
        assert!(shown.stdout.contains(header), "{shown:?}");
    }
    let info = deployment.json(&ops, &["projects", "show", &id_text]).await;
    assert_eq!(info["project"]["id"], id);
    assert_eq!(info["project"]["workflow_slug"], "decide");
    assert_eq!(info["project"]["status"], "active");
    assert_eq!(info["tasks"]["decide"]["id"], task);
    assert_eq!(info["tasks"]["decide"]["status"], "Awaiting Processing");

    // Listed as a task waiting for someone, in the default human queue.
    let listed = deployment.baton(&ops, &["projects", "tasks"]).await;
    assert_eq!(listed.code, Some(0), "{listed:?}");
    assert_eq!(
        row(&listed.stdout, &task_text),
        [
            &task_text,
            &id_text,
            "decide",
            "decide",
            "1",
            "Awaiting Processing",
            "decide work"
        ]
    );
    let available = deployment
        .json(&ops, &["projects", "tasks", "--queue", "human"])
        .await;
    assert_eq!(task_ids(&available), [task], "{available}");
    assert_eq!(available["tasks"][0]["project"], id);
    assert_eq!(available["tasks"][0]["step_slug"], "decide");
    let not_human = deployment
        .baton(&ops, &["projects", "tasks", "--queue", "default"])
        .await;
    assert_refused(&not_human, 400, "queue 'default' is not a human queue");
    let too_many = deployment
        .baton(&ops, &["projects", "tasks", "--limit", "501"])
        .await;
    assert_refused(&too_many, 400, "'limit' must be from 1 to 500");

    // Assigned to Alice: hers, no longer offered.
    let assigned = deployment
        .json(&ops, &["projects", "assign", &task_text, "alice"])
        .await;
    assert_eq!(assigned["task_id"], task);
    assert_eq!(assigned["worker_username"], "alice");
    assert_eq!(assigned["success"], true);
    let assignment = assigned["assignment_id"]
        .as_u64()
        .expect("an assignment id");
    let assignment_text = assignment.to_string();
    let shown = deployment
        .baton(&ops, &["projects", "show", &id_text])
        .await;
    assert_eq!(
        row(&shown.stdout, "decide"),
        [
            "decide",
            &task_text,
            "Processing",
            &assignment_text,
            "alice"
        ]
    );
    let available = deployment.json(&ops, &["projects", "tasks"]).await;
    assert!(!task_ids(&available).contains(&task), "{available}");
    let taken = deployment
        .baton(&ops, &["projects", "assign", &task_text, "bob"])
        .await;
    assert_refused(&taken, 409, "already claimed by alice");

    // Reassigned to Bob.
    let moved = deployment
        .baton(&ops, &["projects", "reassign", &assignment_text, "bob"])
        .await;
    assert_eq!(moved.code, Some(0), "{moved:?}");
    assert_eq!(
        moved.stdout.trim(),
        format!("assignment {assignment} (task {task}) reassigned to bob")
    );
    let info = deployment.json(&ops, &["projects", "show", &id_text]).await;
    assert_eq!(info["tasks"]["decide"]["assignments"][0]["worker"], "bob");
    assert_eq!(info["tasks"]["decide"]["assignments"][0]["id"], assignment);
    let shown = deployment
        .baton(&ops, &["projects", "show", &id_text])
        .await;
    assert_eq!(row(&shown.stdout, "decide")[4], "bob", "{shown:?}");

    // Another project, paused: shown paused, its task no longer offered; resumed: offered again.
    let (other, other_task) = deployment.project("decide", "decide").await;
    let other_text = other.to_string();
    let available = deployment.json(&ops, &["projects", "tasks"]).await;
    assert_eq!(task_ids(&available), [other_task], "{available}");
    let paused = deployment
        .baton(&ops, &["projects", "pause", &other_text])
        .await;
    assert_eq!(paused.code, Some(0), "{paused:?}");
    assert_eq!(paused.stdout.trim(), format!("project {other}: paused"));
    let shown = deployment
        .baton(&ops, &["projects", "show", &other_text])
        .await;
    assert_eq!(row(&shown.stdout, &other_text)[4], "paused", "{shown:?}");
    assert_eq!(
        deployment
            .json(&ops, &["projects", "show", &other_text])
            .await["project"]["status"],
        "paused"
    );
    let available = deployment.json(&ops, &["projects", "tasks"]).await;
    assert!(task_ids(&available).is_empty(), "{available}");
    let listed = deployment.baton(&ops, &["projects", "tasks"]).await;
    assert!(
        listed.stdout.contains("TASK") && !listed.stdout.contains("decide work"),
        "{listed:?}"
    );
    let resumed = deployment
        .json(&ops, &["projects", "resume", &other_text])
        .await;
    assert_eq!(resumed, json!({"status": "active", "success": true}));
    assert_eq!(
        deployment
            .json(&ops, &["projects", "show", &other_text])
            .await["project"]["status"],
        "active"
    );
    let available = deployment.json(&ops, &["projects", "tasks"]).await;
    assert_eq!(task_ids(&available), [other_task], "{available}");

    // Ended: aborted, its task too; again: the same answer.
    let ended = deployment.json(&ops, &["projects", "end", &id_text]).await;
    assert_eq!(
        ended,
        json!({"project_id": id, "status": "aborted", "success": true})
    );
    let shown = deployment
        .baton(&ops, &["projects", "show", &id_text])
        .await;
    assert_eq!(row(&shown.stdout, &id_text)[4], "aborted", "{shown:?}");
    assert_eq!(
        row(&shown.stdout, "decide")[..3],
        ["decide", &task_text, "Aborted"]
    );
    let info = deployment.json(&ops, &["projects", "show", &id_text]).await;
    assert_eq!(info["project"]["status"], "aborted");
    assert_eq!(info["tasks"]["decide"]["status"], "Aborted");
    let again = deployment.baton(&ops, &["projects", "end", &id_text]).await;
    assert_eq!(again.code, Some(0), "{again:?}");
    assert_eq!(again.stdout.trim(), format!("project {id} ended: aborted"));

    // Orchestra's refusals: on stderr with the status and message, exit 2, nothing on stdout.
    let unknown = deployment.baton(&ops, &["projects", "end", "999999"]).await;
    assert_refused(&unknown, 400, "Project not found for the given id.");
    let unknown = deployment
        .baton(&ops, &["projects", "pause", "999999", "--json"])
        .await;
    assert_refused(&unknown, 400, "Project not found for the given id.");
    let aborted = deployment
        .baton(&ops, &["projects", "resume", &id_text])
        .await;
    assert_refused(
        &aborted,
        400,
        "is aborted: it can no longer be paused or resumed",
    );
    let unknown = deployment
        .baton(&ops, &["projects", "show", "999999"])
        .await;
    assert_refused(&unknown, 404, "project 999999 not found");
    let nobody = deployment
        .baton(
            &ops,
            &["projects", "assign", &other_task.to_string(), "nobody"],
        )
        .await;
    assert_refused(&nobody, 400, "Worker not found for the given username.");
    let unknown = deployment
        .baton(&ops, &["projects", "reassign", "999999", "bob"])
        .await;
    assert_refused(&unknown, 400, "Assignment not found for the given id.");
    let finished = deployment
        .baton(&ops, &["projects", "assign", &task_text, "alice"])
        .await;
    assert_refused(&finished, 409, "it takes no more work");
    let not_an_id = deployment.baton(&ops, &["projects", "show", "abc"]).await;
    assert_eq!(not_an_id.code, Some(2), "{not_an_id:?}");
    assert!(
        not_an_id.stderr.contains("invalid value 'abc'"),
        "{not_an_id:?}"
    );

    // A key without projects.manage may look but not steer.
    let worker = deployment
        .key("reader", "projects.read,projects.work")
        .await;
    let denied = deployment
        .baton(&worker, &["projects", "pause", &other_text])
        .await;
    assert_refused(
        &denied,
        403,
        "key 'reader' lacks the 'projects.manage' permission",
    );
    let denied = deployment
        .baton(&worker, &["projects", "end", &other_text])
        .await;
    assert_refused(&denied, 403, "projects.manage");
    let shown = deployment
        .json(&worker, &["projects", "show", &other_text])
        .await;
    assert_eq!(shown["project"]["status"], "active");

    // The group is in the shell completions.
    let completions = deployment.baton(&ops, &["completions", "bash"]).await;
    assert_eq!(completions.code, Some(0), "{completions:?}");
    assert!(
        completions.stdout.contains("projects") && completions.stdout.contains("reassign"),
        "{completions:?}"
    );
}

#[tokio::test]
async fn reviews_lists_the_work_waiting_for_a_reviewer_and_show_names_the_reviewer() {
    let deployment = Deployment::start().await;
    let bob = deployment.key("bob", "projects.read,projects.review").await;
    let carol = deployment.key("carol", "projects.work").await;
    let alice = deployment
        .app
        .client(deployment.app.key("alice", "projects.work").await);
    let (id, task) = deployment.project("edited", "write").await;
    let (id_text, task_text) = (id.to_string(), task.to_string());

    // Nothing waits for a reviewer yet.
    let none = deployment.json(&bob, &["projects", "reviews"]).await;
    assert_eq!(none, json!({"tasks": []}));
    let empty = deployment.baton(&bob, &["projects", "reviews"]).await;
    assert!(
        empty.stdout.contains("WORKER") && !empty.stdout.contains("edited"),
        "{empty:?}"
    );

    // Alice claims the task and submits her draft through the API: it waits for review.
    let claimed = alice
        .post("/orchestra/api/tasks/claim", &json!({"task_id": task}))
        .await;
    assert_eq!(claimed.status, 200, "{claimed:?}");
    let submitted = alice
        .post(
            &format!("/orchestra/api/tasks/{task}/submit"),
            &json!({"task_data": {"text": "a draft"}}),
        )
        .await;
    assert_eq!(submitted.status, 200, "{submitted:?}");
    assert_eq!(submitted.body["status"], "Pending Review");

    let waiting = deployment.baton(&bob, &["projects", "reviews"]).await;
    assert_eq!(waiting.code, Some(0), "{waiting:?}");
    assert_eq!(
        row(&waiting.stdout, &task_text),
        [
            &task_text,
            &id_text,
            "edited",
            "write",
            "1",
            "alice",
            "Pending Review",
            "edited work"
        ]
    );
    let waiting = deployment.json(&bob, &["projects", "reviews"]).await;
    assert_eq!(task_ids(&waiting), [task], "{waiting}");
    assert_eq!(waiting["tasks"][0]["worker"], "alice");
    assert_eq!(waiting["tasks"][0]["status"], "Pending Review");
    assert_eq!(waiting["tasks"][0]["task_data"]["text"], "a draft");
    let shown = deployment
        .baton(&bob, &["projects", "show", &id_text])
        .await;
    let write = row(&shown.stdout, "write");
    assert_eq!(
        write[..3],
        ["write", &task_text, "Pending Review"],
        "{shown:?}"
    );
    assert_eq!(write[4..], ["alice"], "{shown:?}");
    assert_eq!(row(&shown.stdout, "use"), ["use", "(no task)"]);

    // Only keys with projects.review see them.
    let denied = deployment.baton(&carol, &["projects", "reviews"]).await;
    assert_refused(
        &denied,
        403,
        "key 'carol' lacks the 'projects.review' permission",
    );

    // Bob takes the review through the API: no longer waiting; the task names its reviewer.
    let bob_api = deployment
        .app
        .client(Signer::new("bob", bob.secret.clone().into_bytes()));
    let reviewing = bob_api
        .post("/orchestra/api/reviews/claim", &json!({"task_id": task}))
        .await;
    assert_eq!(reviewing.status, 200, "{reviewing:?}");
    let waiting = deployment.json(&bob, &["projects", "reviews"]).await;
    assert!(task_ids(&waiting).is_empty(), "{waiting}");
    let shown = deployment
        .baton(&bob, &["projects", "show", &id_text])
        .await;
    let write = row(&shown.stdout, "write");
    assert_eq!(
        [&write[..3], &write[4..]].concat(),
        ["write", &task_text, "Reviewing", "alice", "bob"],
        "{shown:?}"
    );

    // Accepted: the machine step runs and the project completes.
    let accepted = bob_api
        .post(&format!("/orchestra/api/reviews/{task}/accept"), &json!({}))
        .await;
    assert_eq!(accepted.status, 200, "{accepted:?}");
    wait_for(
        Duration::from_secs(20),
        "the project to complete",
        || async {
            let info = deployment.json(&bob, &["projects", "show", &id_text]).await;
            (info["project"]["status"] == "completed").then_some(())
        },
    )
    .await;
    let shown = deployment
        .baton(&bob, &["projects", "show", &id_text])
        .await;
    assert_eq!(row(&shown.stdout, &id_text)[4], "completed", "{shown:?}");
    let write = row(&shown.stdout, "write");
    assert_eq!(
        [&write[..3], &write[4..]].concat(),
        ["write", &task_text, "Complete", "alice", "bob"],
        "{shown:?}"
    );
    let used = row(&shown.stdout, "use");
    assert_eq!(
        [&used[..1], &used[2..3], &used[4..]].concat(),
        ["use", "Complete", "(machine)"],
        "{shown:?}"
    );
}

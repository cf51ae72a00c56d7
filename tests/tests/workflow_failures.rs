//! End-to-end tests of what a failure tells its reader: a failed task's reason in Director's
//! `{"exception", "traceback"}` over the API and in the failure hook's input, the worker's
//! warning, names no worker can run refused when the definitions load, and `retention.offset`.
//! Real `baton-api`, `baton-worker` and `baton-scheduler` processes and a real `redis-server`.

use std::time::Duration;

use baton_tests::wait::wait_for;
use baton_tests::{Client, TestApp};
use serde_json::{Value, json};

const DEFINITIONS: &str = r#"
example.BROKEN:
  tasks:
    - EXTRACT
    - CRASH
  hooks:
    failure: REPORT_FAILURE
example.KEPT:
  tasks:
    - EXTRACT
  retention:
    offset: 2
executors:
  EXTRACT: {type: command, argv: ["sh", "-c", "echo 1 > \"$BATON_RESULT\""]}
  CRASH:
    type: command
    argv: ["sh", "-c", "echo working; echo 'Traceback: boom at line 3' >&2; echo 'ValueError: bad input' >&2; exit 3"]
  REPORT_FAILURE: {type: command, argv: ["sh", "-c", "cat > \"$BATON_RESULT\""]}
"#;

async fn start_app() -> (TestApp, Client) {
    let app = TestApp::builder()
        .definitions(DEFINITIONS)
        .workers(1)
        .worker_env("BATON_BLOCK_MS", "200")
        .scheduler(true)
        .scheduler_env("BATON_HOUSEKEEPING_SECS", "1")
        .spawn()
        .await;
    // The client signs a request id with each change: the same start may be sent twice in
    // one second without being taken for a replay.
    let client = app.client(app.key("director", "workflows.read,workflows.run").await);
    (app, client)
}

async fn start_workflow(client: &Client, name: &str) -> String {
    let body = json!({"project": "example", "name": name, "payload": {}});
    let created = client.post("/api/workflows", &body).await;
    assert_eq!(created.status, 201, "{}", created.body);
    created.body["id"].as_str().unwrap().to_owned()
}

/// The run `id` once `ready` says it is what the test waits for.
async fn wait_for_run(
    client: &Client,
    id: &str,
    what: &str,
    ready: impl Fn(&Value) -> bool,
) -> Value {
    wait_for(Duration::from_secs(30), what, || async {
        let answer = client.get(&format!("/api/workflows/{id}")).await;
        ready(&answer.body).then_some(answer.body)
    })
    .await
}

fn task<'a>(run: &'a Value, key: &str) -> &'a Value {
    run["tasks"]
        .as_array()
        .and_then(|tasks| tasks.iter().find(|task| task["key"] == key))
        .unwrap_or_else(|| panic!("no task {key} in {run}"))
}

#[tokio::test]
async fn a_failed_command_shows_why_over_the_api_to_its_hook_and_in_the_worker_log() {
    let (app, client) = start_app().await;
    let id = start_workflow(&client, "BROKEN").await;
    let run = wait_for_run(&client, &id, "the failure hook ran", |run| {
        run["status"] == "error"
            && run["tasks"].as_array().is_some_and(|tasks| {
                tasks
                    .iter()
                    .any(|t| t["key"] == "REPORT_FAILURE" && t["status"] == "success")
            })
    })
    .await;

    let expected = json!({
        "exception": "command exited with status 3",
        "traceback": "last 2 line(s) of stderr:\nTraceback: boom at line 3\nValueError: bad input",
    });
    assert_eq!(task(&run, "CRASH")["status"], "error");
    assert_eq!(task(&run, "CRASH")["result"], expected, "{run}");
    assert_eq!(task(&run, "EXTRACT")["result"], json!(1));

    let hook_input = &task(&run, "REPORT_FAILURE")["result"];
    assert_eq!(
        hook_input["failed"],
        json!([{
            "task": "CRASH",
            "exception": expected["exception"],
            "traceback": expected["traceback"],
        }]),
        "the failure hook is told which task failed and why: {hook_input}"
    );
    assert_eq!(hook_input["run_id"], json!(id));

    let log = app.workers()[0].log();
    let warning = log
        .lines()
        .find(|line| line.contains("WARN") && line.contains("task failed for good"))
        .unwrap_or_else(|| panic!("no warning for the failure in the worker's log:\n{log}"));
    assert!(warning.contains(&id), "{warning}");
    assert!(warning.contains("CRASH"), "{warning}");
    assert!(
        warning.contains("command exited with status 3"),
        "{warning}"
    );
    assert!(
        !log.contains('\u{1b}'),
        "a log that is not a terminal carries no colour codes"
    );
}

#[tokio::test]
async fn a_misspelt_task_or_hook_name_stops_the_server_at_its_line() {
    let app = TestApp::builder().api(false).spawn().await;
    for (text, line, name) in [
        ("p.A:\n  tasks:\n    - noop\n    - LAOD\n", 4, "LAOD"),
        (
            "p.A:\n  tasks: [noop]\n  hooks:\n    failure: NOTIFYY\n",
            4,
            "NOTIFYY",
        ),
    ] {
        let log = app.refused_api(&[("flows.yml", text)], &[]).await;
        assert!(
            log.contains(&format!("flows.yml:{line}:"))
                && log.contains(&format!("task '{name}' of workflow 'p.A'")),
            "{log}"
        );
    }
}

#[tokio::test]
async fn retention_offset_keeps_exactly_the_newest_runs() {
    let (_app, client) = start_app().await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        let id = start_workflow(&client, "KEPT").await;
        wait_for_run(&client, &id, "the run succeeded", |run| {
            run["status"] == "success"
        })
        .await;
        ids.push(id);
    }
    let kept = wait_for(
        Duration::from_secs(30),
        "only the 2 newest runs are left",
        || async {
            let listed = client.get("/api/workflows?name=KEPT&project=example").await;
            let ids: Vec<String> = listed
                .body
                .as_array()?
                .iter()
                .filter_map(|run| run["id"].as_str().map(str::to_owned))
                .collect();
            (ids.len() == 2).then_some(ids)
        },
    )
    .await;
    assert_eq!(kept, vec![ids[4].clone(), ids[3].clone()], "newest first");
    for old in &ids[..3] {
        let answer = client.get(&format!("/api/workflows/{old}")).await;
        assert_eq!(answer.status, 404, "{old} was deleted: {}", answer.body);
    }
    // The kept runs stay kept.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for id in &ids[3..] {
        let answer = client.get(&format!("/api/workflows/{id}")).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
}

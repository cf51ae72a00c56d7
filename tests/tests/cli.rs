//! The `baton` command against a running deployment: every command with its tables and its
//! `--json`, the exit codes of `workflows run --wait`, `logs --follow` ending with its run,
//! keys created and revoked over the API, and what the operator routes refuse.

use std::time::Duration;

use baton_tests::baton_cli::run_baton;
use baton_tests::{TestApp, wait_for};
use serde_json::Value;

const DEFINITIONS: &str = r#"
example.GOOD:
  tasks: [SAY]
example.BAD:
  tasks: [FAIL]
example.SLOW:
  tasks: [STEPS]
executors:
  SAY: {type: command, argv: ["sh", "-c", "echo line one; echo line two; echo 1 > \"$BATON_RESULT\""]}
  FAIL: {type: command, argv: ["sh", "-c", "echo failing; exit 3"]}
  STEPS: {type: command, argv: ["sh", "-c", "echo before; sleep 2; echo after; echo 2 > \"$BATON_RESULT\""]}
"#;

async fn app() -> TestApp {
    TestApp::builder()
        .definitions(DEFINITIONS)
        .workers(1)
        .scheduler(true)
        .spawn()
        .await
}

/// The item of a JSON array whose `field` is `value`.
fn find<'a>(list: &'a Value, field: &str, value: &str) -> Option<&'a Value> {
    list.as_array()?.iter().find(|item| item[field] == value)
}

#[tokio::test]
async fn workflows_run_wait_show_list_and_logs() {
    let app = app().await;

    let definitions = app.baton_admin(&["definitions", "--json"]).await;
    assert_eq!(definitions.code, Some(0), "{definitions:?}");
    assert!(find(&definitions.json(), "fullname", "example.GOOD").is_some());
    let table = app.baton_admin(&["definitions"]).await;
    assert!(
        table.stdout.contains("WORKFLOW") && table.stdout.contains("example.SLOW"),
        "{table:?}"
    );

    // A run that succeeds exits 0; one that fails exits 1.
    let good = app
        .baton_admin(&[
            "workflows",
            "run",
            "example.GOOD",
            "--payload",
            "{\"n\": 1}",
            "--wait",
            "--json",
        ])
        .await;
    assert_eq!(good.code, Some(0), "{good:?}");
    let good = good.json();
    assert_eq!(good["status"], "success");
    let good_id = good["id"].as_str().unwrap().to_owned();
    let bad = app
        .baton_admin(&["workflows", "run", "example.BAD", "--wait"])
        .await;
    assert_eq!(bad.code, Some(1), "{bad:?}");
    assert!(
        bad.stdout.contains("error") && bad.stdout.contains("FAIL"),
        "{bad:?}"
    );

    let list = app
        .baton_admin(&["workflows", "list", "--json"])
        .await
        .json();
    assert!(find(&list, "id", &good_id).is_some(), "{list}");
    let failed = app
        .baton_admin(&["workflows", "list", "--status", "error", "--json"])
        .await
        .json();
    assert_eq!(failed.as_array().unwrap().len(), 1, "{failed}");
    let table = app.baton_admin(&["workflows", "list"]).await;
    assert!(
        table.stdout.contains(&good_id) && table.stdout.contains("STATUS"),
        "{table:?}"
    );

    let shown = app
        .baton_admin(&["workflows", "show", &good_id, "--json"])
        .await
        .json();
    assert_eq!(shown["payload"]["n"], 1);
    assert_eq!(shown["tasks"][0]["key"], "SAY");
    let table = app.baton_admin(&["workflows", "show", &good_id]).await;
    assert!(
        table.stdout.contains("SAY") && table.stdout.contains("success"),
        "{table:?}"
    );

    // The whole log, then one task's; the lines carry their task, time and cursor.
    let log = app
        .baton_admin(&["workflows", "logs", &good_id, "--json"])
        .await
        .json();
    let messages: Vec<&str> = log["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, ["line one", "line two"], "{log}");
    assert_eq!(log["lines"][0]["task"], "SAY");
    assert!(log["lines"][0]["time"].as_str().unwrap().starts_with("20"));
    assert_eq!(log["finished"], true);
    let text = app
        .baton_admin(&["workflows", "logs", &good_id, "--task", "SAY"])
        .await;
    assert_eq!(text.code, Some(0), "{text:?}");
    assert!(
        text.stdout
            .lines()
            .nth(1)
            .unwrap()
            .ends_with("SAY line two"),
        "{text:?}"
    );
    let unknown_task = app
        .baton_admin(&["workflows", "logs", &good_id, "--task", "NOPE"])
        .await;
    assert_eq!(unknown_task.code, Some(2), "{unknown_task:?}");
    assert!(
        unknown_task.stderr.contains("404") && unknown_task.stderr.contains("no task named 'NOPE'"),
        "{unknown_task:?}"
    );

    // Following a run prints its lines as they come and ends when it finishes.
    let slow = app
        .baton_admin(&["workflows", "run", "example.SLOW", "--json"])
        .await
        .json();
    let slow_id = slow["id"].as_str().unwrap().to_owned();
    let followed = app
        .baton_admin(&["workflows", "logs", &slow_id, "--follow", "--json"])
        .await;
    assert_eq!(followed.code, Some(0), "{followed:?}");
    let lines: Vec<String> = followed
        .json_lines()
        .iter()
        .map(|line| line["message"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(lines, ["before", "after"], "{followed:?}");
    let finished = app
        .baton_admin(&["workflows", "show", &slow_id, "--json"])
        .await
        .json();
    assert_eq!(finished["status"], "success");

    // Relaunch starts a new run of the same workflow; cancel answers the run canceled.
    let relaunched = app
        .baton_admin(&["workflows", "relaunch", &good_id, "--wait", "--json"])
        .await;
    assert_eq!(relaunched.code, Some(0), "{relaunched:?}");
    assert_ne!(relaunched.json()["id"], good_id.as_str());
    let long = app
        .baton_admin(&["workflows", "run", "example.SLOW", "--json"])
        .await
        .json();
    let canceled = app
        .baton_admin(&[
            "workflows",
            "cancel",
            long["id"].as_str().unwrap(),
            "--json",
        ])
        .await;
    assert_eq!(canceled.code, Some(0), "{canceled:?}");
    assert_eq!(canceled.json()["status"], "canceled");

    // Usage errors exit 2 before any request.
    let usage = app.baton_admin(&["workflows", "run", "GOOD"]).await;
    assert_eq!(usage.code, Some(2), "{usage:?}");
    assert!(usage.stderr.contains("PROJECT.NAME"), "{usage:?}");
    let missing = app.baton_admin(&["workflows", "run", "example.NOPE"]).await;
    assert_eq!(missing.code, Some(2), "{missing:?}");
    assert!(missing.stderr.contains("404"), "{missing:?}");
}

#[tokio::test]
async fn queues_dead_letters_workers_and_keys() {
    let app = app().await;
    let bad = app
        .baton_admin(&["workflows", "run", "example.BAD", "--wait", "--json"])
        .await;
    assert_eq!(bad.code, Some(1), "{bad:?}");
    let bad_id = bad.json()["id"].as_str().unwrap().to_owned();

    let queues = app.baton_admin(&["queues", "--json"]).await.json();
    let default = find(&queues, "name", "default").unwrap_or_else(|| panic!("{queues}"));
    assert_eq!(default["dead"], 1, "{queues}");
    assert_eq!(default["paused"], false);
    assert_eq!(default["rate"]["failed"], 1, "{queues}");
    let table = app.baton_admin(&["queues"]).await;
    for header in [
        "QUEUE", "WAITING", "RUNNING", "DELAYED", "DEAD", "PAUSED", "RATE",
    ] {
        assert!(table.stdout.contains(header), "{table:?}");
    }
    let row = table
        .stdout
        .lines()
        .find(|line| line.contains("default"))
        .unwrap();
    assert!(row.contains("no") && row.contains("1/min"), "{row}");

    // Pausing shows in the queue and in the list; resuming undoes it.
    let paused = app
        .baton_admin(&["queue", "pause", "default", "--json"])
        .await
        .json();
    assert_eq!(paused["paused"], true);
    let queues = app.baton_admin(&["queues", "--json"]).await.json();
    assert_eq!(find(&queues, "name", "default").unwrap()["paused"], true);
    let shown = app.baton_admin(&["queue", "show", "default"]).await;
    assert!(
        shown
            .stdout
            .lines()
            .any(|line| line.contains("default") && line.contains("yes")),
        "{shown:?}"
    );
    let resumed = app
        .baton_admin(&["queue", "resume", "default", "--json"])
        .await
        .json();
    assert_eq!(resumed["paused"], false);
    let unknown = app.baton_admin(&["queue", "pause", "nope"]).await;
    assert_eq!(unknown.code, Some(2), "{unknown:?}");
    assert!(
        unknown.stderr.contains("404") && unknown.stderr.contains("no queue 'nope'"),
        "{unknown:?}"
    );

    // A dead letter requeued disappears (its task fails again into a new one).
    let dead = app
        .baton_admin(&["dead-letters", "list", "default", "--json"])
        .await
        .json();
    assert_eq!(dead["total"], 1, "{dead}");
    let letter = &dead["dead_letters"][0];
    assert_eq!(letter["run_id"], bad_id.as_str());
    assert_eq!(letter["task_key"], "FAIL");
    assert_eq!(letter["definition"], "example.BAD");
    let letter_id = letter["id"].as_str().unwrap().to_owned();
    let table = app.baton_admin(&["dead-letters", "list", "default"]).await;
    assert!(
        table.stdout.contains(&letter_id)
            && table.stdout.contains(&bad_id)
            && table.stdout.contains("FAIL"),
        "{table:?}"
    );
    let requeued = app
        .baton_admin(&["dead-letters", "requeue", "default", &letter_id, "--json"])
        .await;
    assert_eq!(requeued.code, Some(0), "{requeued:?}");
    assert_eq!(requeued.json()["outcome"], "requeued");
    let again = wait_for(
        Duration::from_secs(20),
        "the requeued task's new dead letter",
        || async {
            let dead = app
                .baton_admin(&["dead-letters", "list", "default", "--json"])
                .await
                .json();
            let ids: Vec<String> = dead["dead_letters"]
                .as_array()
                .unwrap()
                .iter()
                .map(|letter| letter["id"].as_str().unwrap().to_owned())
                .collect();
            (ids.len() == 1 && ids[0] != letter_id).then(|| ids[0].clone())
        },
    )
    .await;
    let gone = app
        .baton_admin(&["dead-letters", "delete", "default", &letter_id])
        .await;
    assert_eq!(gone.code, Some(2), "{gone:?}");
    assert!(gone.stderr.contains("404"), "{gone:?}");
    let all = app
        .baton_admin(&["dead-letters", "requeue", "default", "--all", "--json"])
        .await;
    assert_eq!(all.json()["requeued"], 1, "{all:?}");
    wait_for(
        Duration::from_secs(20),
        "the task requeued with --all to fail again",
        || async {
            let dead = app
                .baton_admin(&["dead-letters", "list", "default", "--json"])
                .await
                .json();
            (dead["total"] == 1 && dead["dead_letters"][0]["id"] != again.as_str()).then_some(())
        },
    )
    .await;
    let deleted = app
        .baton_admin(&["dead-letters", "delete", "default", "--all", "--json"])
        .await;
    assert_eq!(deleted.json()["deleted"], 1, "{deleted:?}");
    let empty = app
        .baton_admin(&["dead-letters", "list", "default", "--json"])
        .await
        .json();
    assert_eq!(empty["dead_letters"], serde_json::json!([]), "{empty}");
    let neither = app
        .baton_admin(&["dead-letters", "delete", "default"])
        .await;
    assert_eq!(neither.code, Some(2), "{neither:?}");

    let workers = app.baton_admin(&["workers", "--json"]).await.json();
    assert_eq!(workers.as_array().unwrap().len(), 1, "{workers}");
    assert_eq!(workers[0]["stale"], false);
    assert!(
        workers[0]["queues"]
            .as_array()
            .unwrap()
            .contains(&Value::from("default"))
    );
    let table = app.baton_admin(&["workers"]).await;
    let worker_id = workers[0]["id"].as_str().unwrap();
    assert!(
        table.stdout.contains(worker_id) && table.stdout.contains("live"),
        "{table:?}"
    );

    // A key created over the API signs at once; revoked, it is refused.
    let created = app
        .baton_admin(&[
            "keys",
            "create",
            "ops",
            "--permissions",
            "operator",
            "--json",
        ])
        .await;
    assert_eq!(created.code, Some(0), "{created:?}");
    let created = created.json();
    assert_eq!(created["permissions"], serde_json::json!(["operator"]));
    let ops_secret = created["secret"].as_str().unwrap().to_owned();
    let as_ops = app.baton("ops", &ops_secret, &["queues", "--json"]).await;
    assert_eq!(as_ops.code, Some(0), "{as_ops:?}");
    let denied = app.baton("ops", &ops_secret, &["keys", "list"]).await;
    assert_eq!(denied.code, Some(2), "{denied:?}");
    assert!(denied.stderr.contains("403"), "{denied:?}");
    let twice = app
        .baton_admin(&["keys", "create", "ops", "--permissions", "operator"])
        .await;
    assert!(twice.stderr.contains("409"), "{twice:?}");
    let reader = app
        .baton_admin(&[
            "keys",
            "create",
            "reader",
            "--permissions",
            "workflows.read",
        ])
        .await;
    assert_eq!(reader.code, Some(0), "{reader:?}");
    let reader_secret = reader.stdout.lines().last().unwrap().trim().to_owned();
    let refused = app.baton("reader", &reader_secret, &["queues"]).await;
    assert_eq!(refused.code, Some(2), "{refused:?}");
    assert!(
        refused.stderr.contains("403") && refused.stderr.contains("operator"),
        "{refused:?}"
    );
    let keys = app.baton_admin(&["keys", "list", "--json"]).await.json();
    assert!(find(&keys, "id", "ops").is_some() && find(&keys, "id", "reader").is_some());
    assert!(
        keys.as_array()
            .unwrap()
            .iter()
            .all(|key| key.get("secret").is_none())
    );
    let revoked = app.baton_admin(&["keys", "revoke", "ops", "--json"]).await;
    assert_eq!(revoked.code, Some(0), "{revoked:?}");
    assert!(revoked.json()["revoked"].is_string());
    let after = app.baton("ops", &ops_secret, &["queues"]).await;
    assert_eq!(after.code, Some(2), "{after:?}");
    assert!(after.stderr.contains("401"), "{after:?}");
    let table = app.baton_admin(&["keys", "list"]).await;
    assert!(
        table.stdout.contains("PERMISSIONS") && table.stdout.contains("reader"),
        "{table:?}"
    );
    let itself = app.baton_admin(&["keys", "revoke", "admin"]).await;
    assert_eq!(itself.code, Some(2), "{itself:?}");
    assert!(itself.stderr.contains("409"), "{itself:?}");
    let no_key = app.baton_admin(&["keys", "revoke", "nobody"]).await;
    assert!(no_key.stderr.contains("404"), "{no_key:?}");
}

#[tokio::test]
async fn operator_routes_refuse_and_errors_name_their_cause() {
    let app = app().await;
    let admin = app.admin().await;
    // Unsigned: 401; unknown queue: 404 in Director's format.
    let unsigned = app.anonymous().get("/api/queues").await;
    assert_eq!(unsigned.status, 401, "{unsigned:?}");
    let unknown = admin.get("/api/queues/nope").await;
    assert_eq!(unknown.status, 404, "{unknown:?}");
    assert_eq!(unknown.body["error"], "no queue 'nope'");
    assert!(unknown.body["errors"].is_array());
    let no_letter = admin
        .post("/api/queues/nope/dead-letters/1-0.0/requeue", &Value::Null)
        .await;
    assert_eq!(no_letter.status, 404, "{no_letter:?}");
    let bad_page = admin
        .get("/api/queues/default/dead-letters?per_page=0")
        .await;
    assert_eq!(bad_page.status, 400, "{bad_page:?}");
    let bad_body = admin
        .post(
            "/api/keys",
            &serde_json::json!({"id": "x", "permissions": ["fly"]}),
        )
        .await;
    assert_eq!(bad_body.status, 400, "{bad_body:?}");
    let extra = admin
        .post(
            "/api/keys",
            &serde_json::json!({"id": "x", "permissions": ["admin"], "who": 1}),
        )
        .await;
    assert_eq!(extra.status, 400, "{extra:?}");
    let wrong_method = admin.delete("/api/queues").await;
    assert_eq!(wrong_method.status, 405, "{wrong_method:?}");
    let run = admin.get("/api/workflows/nope/logs").await;
    assert_eq!(run.status, 404, "{run:?}");
    let cursor = admin.get("/api/workflows/nope/logs?after=x").await;
    assert_eq!(cursor.status, 400, "{cursor:?}");

    // A key with `operator` reaches the operator routes, not the workflows.
    let operator = app.key("operator", "operator").await;
    let operator = app.client(operator);
    assert_eq!(operator.get("/api/workers").await.status, 200);
    assert_eq!(operator.get("/api/keys").await.status, 403);
    assert_eq!(operator.get("/api/definitions").await.status, 403);

    // Cannot connect: the URL tried is named.
    let secret = app.admin_secret().await;
    let refused = run_baton("http://127.0.0.1:1", "admin", &secret, &["queues"], &[]).await;
    assert_eq!(refused.code, Some(2), "{refused:?}");
    assert!(
        refused.stderr.contains("http://127.0.0.1:1/api/queues"),
        "{refused:?}"
    );
    let no_url = run_baton("", "admin", &secret, &["queues"], &[]).await;
    assert_eq!(no_url.code, Some(2), "{no_url:?}");
    assert!(no_url.stderr.contains("BATON_URL"), "{no_url:?}");

    // A profile of the config file is used instead of the environment.
    let config = app.dir().join("baton.toml");
    std::fs::write(
        &config,
        format!(
            "[profiles.local]\nurl = \"{}\"\nkey_id = \"admin\"\nsecret = \"{secret}\"\n",
            app.base()
        ),
    )
    .unwrap();
    let config = config.display().to_string();
    let profiled = run_baton(
        "http://127.0.0.1:1",
        "nobody",
        "nothing",
        &["--profile", "local", "workers", "--json"],
        &[("BATON_CONFIG", &config)],
    )
    .await;
    assert_eq!(profiled.code, Some(0), "{profiled:?}");

    // The other fronts' errors come through with their status and message.
    let report = app.baton_admin(&["reports", "status", "nokey"]).await;
    assert_eq!(report.code, Some(2), "{report:?}");
    assert!(
        report.stderr.contains("404") && report.stderr.contains("nokey"),
        "{report:?}"
    );
    let log = app.baton_admin(&["reports", "log", "nokey"]).await;
    assert!(log.stderr.contains("404"), "{log:?}");
    let run = app
        .baton_admin(&["reports", "run", "nothing", "--param", "a=1"])
        .await;
    assert_eq!(run.code, Some(2), "{run:?}");
    let releases = app.baton_admin(&["releases", "list", "--json"]).await;
    assert_eq!(releases.code, Some(0), "{releases:?}");
    assert_eq!(releases.json()["count"], 0);
    let table = app.baton_admin(&["releases", "list"]).await;
    assert!(table.stdout.contains("STATE"), "{table:?}");
    for args in [
        ["releases", "show", "RE_NOPE"],
        ["releases", "publish", "RE_NOPE"],
        ["releases", "cancel", "RE_NOPE"],
    ] {
        let answer = app.baton_admin(&args).await;
        assert_eq!(answer.code, Some(2), "{args:?}: {answer:?}");
        assert!(answer.stderr.contains("404"), "{args:?}: {answer:?}");
    }

    let completions = app.baton_admin(&["completions", "bash"]).await;
    assert_eq!(completions.code, Some(0), "{completions:?}");
    assert!(
        completions.stdout.contains("dead-letters"),
        "{completions:?}"
    );
}

#[tokio::test]
async fn reports_and_releases_through_their_fronts() {
    use common::test_support::{git, write_file};
    let repo = tempfile::tempdir().unwrap();
    git(repo.path(), &["init", "-q", "-b", "master"]);
    write_file(
        repo.path(),
        "src/minimal/orderly.yml",
        "script: run.sh\nartefacts:\n  - data:\n      description: The table\n      filenames: out.csv\n",
        false,
    );
    write_file(
        repo.path(),
        "src/minimal/run.sh",
        "#!/bin/sh\necho hello from the report\necho 'a,b' > out.csv\n",
        true,
    );
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-q", "-m", "minimal"]);
    let served = repo.path().display().to_string();
    let app = TestApp::builder()
        .env("BATON_REPORTS_REPO", &served)
        .scheduler(true)
        .workers(1)
        .spawn()
        .await;

    let started = app
        .baton_admin(&["reports", "run", "minimal", "--json"])
        .await;
    assert_eq!(started.code, Some(0), "{started:?}");
    let key = started.json()["data"]["key"].as_str().unwrap().to_owned();
    wait_for(
        Duration::from_secs(30),
        "the report run to succeed",
        || async {
            let status = app
                .baton_admin(&["reports", "status", &key, "--json"])
                .await
                .json();
            (status["data"]["status"] == "success").then_some(())
        },
    )
    .await;
    let table = app.baton_admin(&["reports", "status", &key]).await;
    assert!(
        table.stdout.contains(&key) && table.stdout.contains("success"),
        "{table:?}"
    );
    let log = app.baton_admin(&["reports", "log", &key]).await;
    assert_eq!(log.code, Some(0), "{log:?}");
    assert!(log.stdout.contains("hello from the report"), "{log:?}");
    let log = app
        .baton_admin(&["reports", "log", &key, "--json"])
        .await
        .json();
    assert!(
        log["data"]["output"]
            .as_array()
            .unwrap()
            .iter()
            .any(|line| line == "hello from the report"),
        "{log}"
    );
    let human = app.baton_admin(&["reports", "run", "minimal"]).await;
    assert!(
        human.stdout.starts_with("started minimal (key "),
        "{human:?}"
    );

    // A release with no task service: listed, shown, canceled; publishing it is refused.
    let admin = app.admin().await;
    let created = admin
        .post(
            "/releases",
            &serde_json::json!({"name": "CLI release", "description": "d", "author": "tests"}),
        )
        .await;
    assert_eq!(created.status, 200, "{created:?}");
    let id = created.body["kf_id"].as_str().unwrap().to_owned();
    let list = app
        .baton_admin(&["releases", "list", "--json"])
        .await
        .json();
    assert!(find(&list["results"], "kf_id", &id).is_some(), "{list}");
    let table = app.baton_admin(&["releases", "list"]).await;
    assert!(
        table.stdout.contains(&id) && table.stdout.contains("CLI release"),
        "{table:?}"
    );
    let shown = app
        .baton_admin(&["releases", "show", &id, "--json"])
        .await
        .json();
    assert_eq!(shown["name"], "CLI release");
    let shown = app.baton_admin(&["releases", "show", &id]).await;
    assert!(shown.stdout.contains("CLI release"), "{shown:?}");
    let canceled = app.baton_admin(&["releases", "cancel", &id]).await;
    assert_eq!(canceled.code, Some(0), "{canceled:?}");
    let state = app
        .baton_admin(&["releases", "show", &id, "--json"])
        .await
        .json();
    assert!(
        matches!(state["state"].as_str(), Some("canceling" | "canceled")),
        "{state}"
    );
    let publish = app.baton_admin(&["releases", "publish", &id]).await;
    assert_eq!(publish.code, Some(2), "{publish:?}");
    assert!(publish.stderr.contains("400"), "{publish:?}");
}

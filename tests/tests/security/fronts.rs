//! Isolation between fronts: a run belongs to one front (a Director workflow, an OrderlyWeb
//! report run, a Release Coordinator release phase, an Orchestra project), and every other
//! front's routes that take a run id answer 404 for it, as for an unknown id, and leave it as
//! it was. Each test makes a run on one front, then sends every other front's read, cancel,
//! relaunch and log requests for its run id, each signed by a key holding only that front's
//! permissions. The review found a `workflows.read` key reading an Orchestra project
//! (`GET /api/workflows/project-1`, with its `project_data`) and a `workflows.run` key
//! canceling it.

use std::path::Path;
use std::time::Duration;

use baton_tests::TestApp;
use baton_tests::process::BatonProcess;
use baton_tests::signed_http::Answer;
use baton_tests::wait::wait_for;
use common::auth::signing::sign::Signer;
use common::engine::model::RunStatus;
use common::test_support::{git, write_file};
use serde_json::{Value, json};

/// Director workflows: one that keeps a worker busy for a minute.
const DEFINITIONS: &str = r#"
example.SLOW:
  tasks:
    - SLEEPY
executors:
  SLEEPY: {type: command, argv: ["sh", "-c", "sleep 60"]}
"#;

/// An Orchestra workflow of one human step: its projects wait for a person.
const DECIDE: &str = r#"
slug: decide
description: A person decides.
steps:
  - slug: decide
    description: Decide
    type: human
"#;

/// A marker in the project's data: no other front's answer may contain it.
const PROJECT_SECRET: &str = "project-data-only-orchestra-may-see";

/// One key per front, each with only that front's permissions.
struct Keys {
    director: Signer,
    orderly: Signer,
    coordinator: Signer,
    orchestra: Signer,
}

/// Redis, the API with every front configured, a worker and a scheduler.
struct Deployment {
    app: TestApp,
    keys: Keys,
    _repo: tempfile::TempDir,
}

/// A reports repository with one report, `slow`, that prints a line every 0.2 s for
/// `seconds` seconds.
fn reports_repository(dir: &Path) {
    git(dir, &["init", "-q", "-b", "master"]);
    write_file(
        dir,
        "src/slow/orderly.yml",
        "script: run.sh\nparameters:\n  seconds: {default: 1}\nartefacts:\n  - data: {description: Out, filenames: done.txt}\n",
        false,
    );
    write_file(
        dir,
        "src/slow/run.sh",
        "#!/bin/sh\ni=0\nwhile [ $i -lt $((seconds * 5)) ]; do echo \"tick $i\"; i=$((i + 1)); sleep 0.2; done\necho done > done.txt\n",
        true,
    );
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", "first"]);
}

impl Deployment {
    async fn start() -> Self {
        let repo = tempfile::tempdir().unwrap();
        reports_repository(repo.path());
        let repo_path = repo.path().display().to_string();
        // Only the API holds the master key: the worker and the scheduler refuse to start
        // with it.
        let app = TestApp::builder()
            .definitions(DEFINITIONS)
            .project("decide.yml", DECIDE)
            .env("BATON_REPORTS_REPO", &repo_path)
            // The example task service listens on loopback.
            .env("BATON_OUTBOUND_ALLOW", "127.0.0.0/8")
            .api_env("BATON_SIGNATURE_SKEW_SECS", "60")
            .workers(1)
            .worker_env("BATON_BLOCK_MS", "200")
            .worker_env("BATON_CONCURRENCY", "4")
            .scheduler(true)
            .scheduler_env("BATON_TICK_MS", "50")
            .scheduler_env("BATON_RELEASE_POLL_MS", "200")
            .spawn()
            .await;
        let keys = Keys {
            director: app.key("director", "workflows.read,workflows.run").await,
            orderly: app.key("orderly", "reports.read,reports.run").await,
            coordinator: app.key("coordinator", "releases.read,releases.write").await,
            orchestra: app
                .key("orchestra", "projects.read,projects.write,projects.work")
                .await,
        };
        Self {
            app,
            keys,
            _repo: repo,
        }
    }

    /// A signed request; the client signs a unique request id into each, so a change is never
    /// a replay.
    async fn send(
        &self,
        signer: &Signer,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Answer {
        self.app
            .client(signer.clone())
            .send(method, path, body)
            .await
    }

    /// The stored status of run `run_id`.
    async fn run_status(&self, run_id: &str) -> Option<RunStatus> {
        let store = self.app.store().await;
        store.get_run(run_id).await.unwrap().map(|run| run.status)
    }

    /// Waits until run `run_id` exists with `status`.
    async fn wait_run_status(&self, run_id: &str, status: RunStatus) {
        wait_for(
            Duration::from_secs(30),
            &format!("run {run_id} is {status}"),
            || async { (self.run_status(run_id).await == Some(status)).then_some(()) },
        )
        .await;
    }

    /// Every request of the fronts other than `owner` that takes a run id, for `run_id`,
    /// each signed by that front's key.
    fn foreign_requests<'a>(
        &'a self,
        owner: &str,
        run_id: &str,
    ) -> Vec<(&'a Signer, &'static str, String)> {
        let keys = &self.keys;
        let mut requests = Vec::new();
        if owner != "workflows" {
            requests.extend([
                (&keys.director, "GET", format!("/api/workflows/{run_id}")),
                (
                    &keys.director,
                    "POST",
                    format!("/api/workflows/{run_id}/relaunch"),
                ),
                (
                    &keys.director,
                    "POST",
                    format!("/api/workflows/{run_id}/cancel"),
                ),
            ]);
        }
        if owner != "reports" {
            requests.extend([
                (
                    &keys.orderly,
                    "GET",
                    format!("/api/v1/reports/{run_id}/status/?output=true"),
                ),
                (
                    &keys.orderly,
                    "DELETE",
                    format!("/api/v1/reports/{run_id}/kill/"),
                ),
            ]);
        }
        if owner != "releases" {
            requests.extend([
                (&keys.coordinator, "GET", format!("/releases/{run_id}")),
                (&keys.coordinator, "GET", format!("/tasks/{run_id}")),
            ]);
        }
        // Orchestra names projects and tasks by integer ids of its own records, never by a
        // run id: its routes cannot name another front's run at all.
        requests
    }

    /// Sends every other front's requests for `run_id`: each answers 404, shows nothing of
    /// the run, and the run's status stays as it was. Every request is sent before judging,
    /// so a failure names all the requests that reached the run.
    async fn assert_foreign_fronts_do_not_find(&self, owner: &str, run_id: &str) {
        let before = self.run_status(run_id).await;
        assert!(before.is_some(), "run {run_id} exists");
        let mut reached = Vec::new();
        for (signer, method, path) in self.foreign_requests(owner, run_id) {
            let answer = self.send(signer, method, &path, None).await;
            let text = answer.body.to_string();
            if answer.status != 404 || text.contains(PROJECT_SECRET) || text.contains("\"payload\"")
            {
                reached.push(format!("{method} {path} -> {} {text}", answer.status));
            }
        }
        let after = self.run_status(run_id).await;
        if after != before {
            reached.push(format!("the run went from {before:?} to {after:?}"));
        }
        assert!(
            reached.is_empty(),
            "other fronts reached the {owner} run {run_id}:\n{}",
            reached.join("\n")
        );
    }

    /// Creates a project of `decide` on the Orchestra front; returns its id.
    async fn create_project(&self) -> u64 {
        let body = json!({
            "workflow_slug": "decide",
            "description": "a decision",
            "priority": 0,
            "project_data": {"secret": PROJECT_SECRET},
            "task_class": "real",
        });
        let answer = self
            .send(
                &self.keys.orchestra,
                "POST",
                "/orchestra/api/project/create_project",
                Some(&body),
            )
            .await;
        assert_eq!(answer.status, 200, "{answer:?}");
        answer.body["project_id"].as_u64().expect("an integer id")
    }

    /// The project's information as Orchestra answers it.
    async fn project_information(&self, id: u64) -> Answer {
        self.send(
            &self.keys.orchestra,
            "GET",
            &format!("/orchestra/api/project/project_information?project_id={id}"),
            None,
        )
        .await
    }
}

#[tokio::test]
async fn director_cannot_read_cancel_or_relaunch_an_orchestra_project() {
    let deployment = Deployment::start().await;
    let project = deployment.create_project().await;
    let run_id = format!("project-{project}");
    deployment
        .wait_run_status(&run_id, RunStatus::Pending)
        .await;

    deployment
        .assert_foreign_fronts_do_not_find("projects", &run_id)
        .await;

    let information = deployment.project_information(project).await;
    assert_eq!(information.status, 200, "{information:?}");
    let shown = &information.body["project"];
    assert_eq!(shown["project_data"]["secret"], PROJECT_SECRET);
    assert_eq!(shown["status"], "active", "{information:?}");
}

#[tokio::test]
async fn other_fronts_cannot_read_or_kill_a_report_run() {
    let deployment = Deployment::start().await;
    let answer = deployment
        .send(
            &deployment.keys.orderly,
            "POST",
            "/api/v1/reports/slow/run/",
            Some(&json!({"params": {"seconds": 30}})),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let key = answer.body["data"]["key"].as_str().unwrap().to_owned();
    let store = deployment.app.store().await;
    let run_id = store.report_run(&key).await.unwrap().unwrap().run_id;
    deployment
        .wait_run_status(&run_id, RunStatus::Progress)
        .await;

    deployment
        .assert_foreign_fronts_do_not_find("reports", &run_id)
        .await;

    let status = deployment
        .send(
            &deployment.keys.orderly,
            "GET",
            &format!("/api/v1/reports/{key}/status/"),
            None,
        )
        .await;
    assert_eq!(status.body["data"]["status"], "running", "{status:?}");
}

#[tokio::test]
async fn other_fronts_cannot_read_or_cancel_a_release_phase() {
    let deployment = Deployment::start().await;
    // A task service that takes a minute to answer `initialize`: the phase stays running.
    let service = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/task_service.py");
    let service = service.display().to_string();
    let process = BatonProcess::spawn_path(
        Path::new("python3"),
        &[
            &service,
            "--port",
            "0",
            "--slow-on",
            "initialize",
            "--slow-secs",
            "60",
        ],
        &[],
    );
    process
        .wait_for_log("listening on ", Duration::from_secs(10))
        .await;
    let port = process
        .log()
        .lines()
        .find_map(|line| line.strip_prefix("listening on "))
        .and_then(|port| port.trim().parse::<u16>().ok())
        .expect("the service prints its port");
    let coordinator = &deployment.keys.coordinator;
    let url = format!("http://127.0.0.1:{port}");
    let answer = deployment
        .send(
            coordinator,
            "POST",
            "/task-services",
            Some(&json!({"name": "Slow", "description": "d", "author": "t", "url": url})),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let answer = deployment
        .send(
            coordinator,
            "POST",
            "/releases",
            Some(&json!({"name": "R", "description": "d", "author": "t", "studies": []})),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let release = answer.body["kf_id"].as_str().unwrap().to_owned();
    let run_id = format!("release-{release}-initialize");
    deployment
        .wait_run_status(&run_id, RunStatus::Progress)
        .await;

    deployment
        .assert_foreign_fronts_do_not_find("releases", &run_id)
        .await;

    let answer = deployment
        .send(coordinator, "GET", &format!("/releases/{release}"), None)
        .await;
    assert_eq!(answer.body["state"], "initializing", "{answer:?}");
}

#[tokio::test]
async fn other_fronts_cannot_read_or_kill_a_director_workflow() {
    let deployment = Deployment::start().await;
    let answer = deployment
        .send(
            &deployment.keys.director,
            "POST",
            "/api/workflows",
            Some(&json!({"project": "example", "name": "SLOW", "payload": {}})),
        )
        .await;
    assert_eq!(answer.status, 201, "{answer:?}");
    let run_id = answer.body["id"].as_str().unwrap().to_owned();
    deployment
        .wait_run_status(&run_id, RunStatus::Progress)
        .await;

    deployment
        .assert_foreign_fronts_do_not_find("workflows", &run_id)
        .await;
}

#[tokio::test]
async fn a_run_stored_before_runs_had_a_kind_still_belongs_to_its_front() {
    let deployment = Deployment::start().await;
    let project = deployment.create_project().await;
    let run_id = format!("project-{project}");
    deployment
        .wait_run_status(&run_id, RunStatus::Pending)
        .await;
    // As written before the kind was stored: the definition's name alone tells it.
    let store = deployment.app.store().await;
    let mut conn = deployment.app.redis().connection().await;
    let removed: i64 = redis::cmd("HDEL")
        .arg(store.keys().run(&run_id))
        .arg("kind")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(removed, 1, "the run stored its kind");

    deployment
        .assert_foreign_fronts_do_not_find("projects", &run_id)
        .await;

    let information = deployment.project_information(project).await;
    assert_eq!(information.status, 200, "{information:?}");
    assert_eq!(
        information.body["project"]["project_data"]["secret"],
        PROJECT_SECRET
    );
}

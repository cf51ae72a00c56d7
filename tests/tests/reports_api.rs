//! End-to-end tests of the reports front (OrderlyWeb's API v1) over a real socket, against
//! real `baton-api`, `baton-worker` and `baton-scheduler` processes, a real `redis-server`
//! and a real git repository of reports made here.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use baton_tests::wait::{wait_for, wait_until};
use baton_tests::{TestApp, python};
use common::reports::artefacts::md5_hex;
use common::test_support::{git, write_file};
use serde_json::{Value, json};

/// Writes a file of the test repository; scripts (`.sh`) are executable.
fn write(dir: &Path, file: &str, text: &str) {
    write_file(dir, file, text, file.ends_with(".sh"));
}

const MINIMAL_YML: &str = "script: run.sh
artefacts:
  - staticgraph:
      description: A graph of things
      filenames: graph.svg
  - data:
      description: The table
      filenames: out.csv
resources:
  - meta/input.csv
data:
  dat:
    csv: out.csv
displayname: Minimal example
description: The simplest report
author: Researcher McResearcherface
requester: Funder McFunderface
";

/// The commits of the test repository.
struct Commits {
    first: String,
    second: String,
    feature: String,
}

/// A repository of reports: `minimal` (artefacts, a resource, data, README, changelog),
/// `params`, `slow` (prints a line every 0.2 s), `broken`; a second commit on `master` that
/// changes `minimal` and its changelog; a `feature` branch that changes it otherwise.
fn reports_repository(dir: &Path) -> Commits {
    git(dir, &["init", "-q", "-b", "master"]);
    write(dir, "src/minimal/orderly.yml", MINIMAL_YML);
    write(dir, "src/minimal/meta/input.csv", "name,number\na,1\n");
    write(dir, "src/minimal/README.md", "# Minimal\n");
    write(
        dir,
        "src/minimal/run.sh",
        "#!/bin/sh\necho drawing\necho '<svg>first</svg>' > graph.svg\ncp meta/input.csv out.csv\n",
    );
    write(
        dir,
        "src/minimal/changelog.txt",
        "[public]\nFirst public note\n[internal]\nFirst internal note\n",
    );
    write(
        dir,
        "src/params/orderly.yml",
        "script: run.sh\nparameters:\n  nmin: ~\n  label: {default: plain}\nartefacts:\n  - data: {description: Out, filenames: out.txt}\n",
    );
    write(
        dir,
        "src/params/run.sh",
        "#!/bin/sh\necho \"nmin=$nmin label=$label\" > out.txt\ncat out.txt\n",
    );
    write(
        dir,
        "src/slow/orderly.yml",
        "script: run.sh\nparameters:\n  seconds: {default: 1}\nartefacts:\n  - data: {description: Out, filenames: done.txt}\n",
    );
    write(
        dir,
        "src/slow/run.sh",
        "#!/bin/sh\ni=0\nwhile [ $i -lt $((seconds * 5)) ]; do echo \"tick $i\"; i=$((i + 1)); sleep 0.2; done\necho done > done.txt\n",
    );
    write(dir, "src/broken/orderly.yml", "script: [run.sh\n");
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", "first"]);
    let first = git(dir, &["rev-parse", "HEAD"]);

    git(dir, &["checkout", "-q", "-b", "feature"]);
    write(
        dir,
        "src/minimal/run.sh",
        "#!/bin/sh\necho '<svg>feature</svg>' > graph.svg\ncp meta/input.csv out.csv\n",
    );
    git(dir, &["commit", "-q", "-am", "feature"]);
    let feature = git(dir, &["rev-parse", "HEAD"]);

    git(dir, &["checkout", "-q", "master"]);
    write(
        dir,
        "src/minimal/run.sh",
        "#!/bin/sh\necho '<svg>second</svg>' > graph.svg\ncp meta/input.csv out.csv\necho b,2 >> out.csv\n",
    );
    write(
        dir,
        "src/minimal/changelog.txt",
        "[public]\nSecond public note\n[internal]\nSecond internal note\n[public]\nFirst public note\n[internal]\nFirst internal note\n",
    );
    git(dir, &["commit", "-q", "-am", "second"]);
    let second = git(dir, &["rev-parse", "HEAD"]);
    Commits {
        first,
        second,
        feature,
    }
}

/// An HTTP answer.
struct Answer {
    status: u16,
    body: Value,
    bytes: Vec<u8>,
    content_type: String,
}

/// A running deployment: Redis, API, scheduler, workers, a reports repository and users.
struct Reports {
    app: TestApp,
    base: String,
    repo: tempfile::TempDir,
    /// A clone of `repo` served instead of it, when the test needs a remote.
    _clone: Option<tempfile::TempDir>,
    commits: Commits,
    http: reqwest::Client,
}

impl Reports {
    /// Starts everything, with `workers` workers of `concurrency` each.
    async fn start(workers: usize, concurrency: usize) -> Self {
        Self::start_serving(workers, concurrency, false).await
    }

    /// [`Reports::start`], serving a clone of the repository (whose origin it is) when `clone`.
    async fn start_serving(workers: usize, concurrency: usize, clone: bool) -> Self {
        let repo = tempfile::tempdir().unwrap();
        let commits = reports_repository(repo.path());
        let clone = clone.then(|| {
            let dir = tempfile::tempdir().unwrap();
            let origin = repo.path().display().to_string();
            git(dir.path(), &["clone", "-q", &origin, "."]);
            dir
        });
        let served = clone.as_ref().unwrap_or(&repo).path().display().to_string();
        let concurrency = concurrency.to_string();
        // Only the API holds the master key: workers and the scheduler refuse to start with it.
        let app = TestApp::builder()
            .env("BATON_REPORTS_REPO", &served)
            .api_env("BATON_BODY_LIMIT", "65536")
            .scheduler(true)
            .scheduler_env("BATON_TICK_MS", "50")
            .scheduler_env("BATON_VISIBILITY_TIMEOUT_SECS", "2")
            .workers(workers)
            .worker_env("BATON_BLOCK_MS", "100")
            .worker_env("BATON_CONCURRENCY", &concurrency)
            .worker_env("BATON_HEARTBEAT_SECS", "1")
            .spawn()
            .await;
        Self {
            base: app.base().to_owned(),
            http: app.http().clone(),
            app,
            repo,
            _clone: clone,
            commits,
        }
    }

    /// Runs a `baton-api` or `baton-worker` command; returns whether it succeeded and its output.
    async fn cli(&self, binary: &str, args: &[&str]) -> (bool, String) {
        self.app.cli(binary, args).await
    }

    /// Creates a user with `permissions` and logs in: returns a bearer token.
    async fn user(&self, name: &str, permissions: &str) -> String {
        let (ok, output) = self
            .cli(
                "baton-api",
                &["tokens", "create", name, "--permissions", permissions],
            )
            .await;
        assert!(ok, "token creation failed: {output}");
        let token = output.lines().last().unwrap().trim().to_owned();
        let answer = self
            .request(
                "POST",
                "/api/v1/login/",
                &[("authorization", &format!("token {token}"))],
                Vec::new(),
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.body["token_type"], "bearer");
        assert_eq!(answer.body["expires_in"], 3600);
        answer.body["access_token"].as_str().unwrap().to_owned()
    }

    async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.body(body).send().await.expect("the API answers");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let bytes = response.bytes().await.unwrap().to_vec();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            body,
            bytes,
            content_type,
        }
    }

    /// A request with a bearer token and an optional JSON body.
    async fn call(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> Answer {
        let bearer = format!("Bearer {token}");
        let mut headers = vec![("authorization", bearer.as_str())];
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        let body = body
            .map(|body| serde_json::to_vec(&body).unwrap())
            .unwrap_or_default();
        self.request(method, path, &headers, body).await
    }

    /// The `data` of a successful enveloped answer.
    async fn data(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> Value {
        let answer = self.call(token, method, path, body).await;
        assert_eq!(answer.status, 200, "{method} {path}: {}", answer.body);
        assert_eq!(answer.body["status"], "success", "{}", answer.body);
        assert_eq!(answer.body["errors"], json!([]));
        answer.body["data"].clone()
    }

    /// Starts a run and returns its key.
    async fn run(&self, token: &str, report: &str, body: Value, query: &str) -> String {
        let data = self
            .data(
                token,
                "POST",
                &format!("/api/v1/reports/{report}/run/{query}"),
                Some(body),
            )
            .await;
        assert_eq!(data["name"], report);
        let key = data["key"].as_str().unwrap().to_owned();
        assert_eq!(data["path"], format!("/v1/reports/{key}/status/"));
        let (adjective, animal) = key.rsplit_once('_').expect("adjective_animal");
        assert!(!adjective.is_empty() && !animal.is_empty());
        key
    }

    /// Waits for a run to reach `status` and returns its status payload (with output).
    async fn wait_status(&self, token: &str, key: &str, status: &str) -> Value {
        wait_for(
            Duration::from_secs(30),
            &format!("run {key} is {status}"),
            || async {
                let data = self
                    .data(
                        token,
                        "GET",
                        &format!("/api/v1/reports/{key}/status/?output=true"),
                        None,
                    )
                    .await;
                (data["status"] == status).then_some(data)
            },
        )
        .await
    }

    /// Runs a report to success and returns its version id.
    async fn version(&self, token: &str, report: &str, body: Value) -> String {
        let key = self.run(token, report, body, "").await;
        let status = self.wait_status(token, &key, "success").await;
        status["version"].as_str().unwrap().to_owned()
    }
}

fn zip_names(bytes: &[u8]) -> BTreeSet<String> {
    let archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    archive.file_names().map(str::to_owned).collect()
}

fn zip_file(bytes: &[u8], name: &str) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut file = archive.by_name(name).unwrap();
    let mut content = Vec::new();
    file.read_to_end(&mut content).unwrap();
    content
}

#[tokio::test]
async fn a_run_streams_its_log_and_becomes_a_version_whose_files_match_their_md5s() {
    let api = Reports::start(1, 4).await;
    let runner = api
        .user("runner", "reports.read,reports.review,reports.run")
        .await;

    // The index needs no permission; unknown routes are 404 in the envelope.
    let index = api.request("GET", "/api/v1/", &[], Vec::new()).await;
    assert_eq!(index.status, 200);
    assert!(index.body["data"]["endpoints"].as_array().unwrap().len() > 20);
    let unknown = api
        .call(&runner, "GET", "/api/v1/nothing/here/", None)
        .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.body["status"], "failure");
    assert_eq!(unknown.body["data"], Value::Null);
    assert_eq!(
        unknown.body["errors"][0]["message"],
        "Unknown resource. Please check the URL"
    );

    // A slow run: its status shows it running with a growing log, then its version.
    let key = api
        .run(&runner, "slow", json!({"params": {"seconds": 2}}), "")
        .await;
    let running = wait_for(Duration::from_secs(20), "a live log", || async {
        let data = api
            .data(
                &runner,
                "GET",
                &format!("/api/v1/reports/{key}/status?output=TRUE"),
                None,
            )
            .await;
        let ticks = data["output"].as_array().map_or(0, |lines| {
            lines
                .iter()
                .filter(|l| l.as_str().unwrap_or("").starts_with("tick"))
                .count()
        });
        (data["status"] == "running" && ticks >= 2).then_some(data)
    })
    .await;
    assert!(running["version"].is_string());
    let without_output = api
        .data(
            &runner,
            "GET",
            &format!("/api/v1/reports/{key}/status"),
            None,
        )
        .await;
    assert_eq!(without_output["output"], Value::Null);
    let done = api.wait_status(&runner, &key, "success").await;
    let lines: Vec<&str> = done["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line.as_str().unwrap())
        .collect();
    assert!(lines.contains(&"tick 9"), "{lines:?}");
    assert_eq!(done["queue"], json!([]));

    // The minimal report: every file is listed with its md5 and downloads with those bytes.
    let version = api.version(&runner, "minimal", json!({})).await;
    let base = format!("/api/v1/reports/minimal/versions/{version}");
    let details = api.data(&runner, "GET", &format!("{base}/"), None).await;
    assert_eq!(details["id"], json!(version));
    assert_eq!(details["name"], "minimal");
    assert_eq!(details["displayname"], "Minimal example");
    assert_eq!(details["author"], "Researcher McResearcherface");
    assert_eq!(details["requester"], "Funder McFunderface");
    assert_eq!(details["published"], false);
    assert_eq!(details["git_commit"], json!(api.commits.second));
    assert_eq!(details["artefacts"][0]["format"], "staticgraph");
    assert_eq!(details["artefacts"][0]["files"][0]["name"], "graph.svg");
    assert_eq!(details["data_info"][0]["name"], "dat");
    let date = details["date"].as_str().unwrap();
    assert_eq!(date.len(), "2016-10-06 14:23:57.0".len(), "{date}");

    for (kind, expected) in [
        ("artefacts", vec!["graph.svg", "out.csv"]),
        ("resources", vec!["meta/input.csv"]),
    ] {
        let dictionary = api
            .data(&runner, "GET", &format!("{base}/{kind}/"), None)
            .await;
        let names: Vec<&str> = dictionary
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for name in expected {
            assert!(names.contains(&name), "{kind}: {dictionary}");
            let encoded = name.replace('/', ":");
            let file = api
                .call(&runner, "GET", &format!("{base}/{kind}/{encoded}/"), None)
                .await;
            assert_eq!(file.status, 200, "{name}");
            assert_eq!(json!(md5_hex(&file.bytes)), dictionary[name], "{name}");
        }
    }
    let svg = api
        .call(&runner, "GET", &format!("{base}/artefacts/graph.svg"), None)
        .await;
    assert_eq!(svg.bytes, b"<svg>second</svg>\n");
    assert_eq!(svg.content_type, "image/svg+xml");

    let data = api
        .data(&runner, "GET", &format!("{base}/data/"), None)
        .await;
    let hash = data["dat"].as_str().unwrap().to_owned();
    let csv = api
        .call(&runner, "GET", &format!("{base}/data/dat/?type=csv"), None)
        .await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.bytes, b"name,number\na,1\nb,2\n");
    assert_eq!(md5_hex(&csv.bytes), hash);
    let by_hash = api
        .request(
            "GET",
            &format!("/api/v1/data/csv/{hash}/"),
            &[
                ("authorization", &format!("Bearer {runner}")),
                ("accept", "text/csv"),
            ],
            Vec::new(),
        )
        .await;
    assert_eq!(by_hash.bytes, csv.bytes);
    let rds = api
        .call(&runner, "GET", &format!("{base}/data/dat/?type=rds"), None)
        .await;
    assert_eq!(rds.status, 404, "no rds form was produced");

    // Downloads take the token as a query parameter too; JSON routes check Accept.
    let by_query = api
        .request(
            "GET",
            &format!("{base}/artefacts/graph.svg/?access_token={runner}"),
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(by_query.bytes, svg.bytes);
    let wrong_accept = api
        .request(
            "GET",
            &format!("{base}/"),
            &[
                ("authorization", &format!("Bearer {runner}")),
                ("accept", "text/csv"),
            ],
            Vec::new(),
        )
        .await;
    assert_eq!(wrong_accept.status, 404);

    let ids = api
        .data(&runner, "GET", "/api/v1/reports/minimal", None)
        .await;
    assert_eq!(ids, json!([version]));
    let listing = api.data(&runner, "GET", "/api/v1/reports/", None).await;
    assert!(
        listing
            .as_array()
            .unwrap()
            .contains(&json!({"name": "minimal", "display_name": "Minimal example", "latest_version": version})),
        "{listing}"
    );
}

#[tokio::test]
async fn parameters_refs_timeouts_and_kills_are_checked() {
    let api = Reports::start(1, 4).await;
    let runner = api
        .user("runner", "reports.read,reports.review,reports.run")
        .await;

    // Parameters: required ones missing and undeclared ones given are 400s.
    for (body, expected) in [
        (json!({}), "missing parameters: nmin"),
        (
            json!({"params": {"nmin": 1, "other": 2}}),
            "undeclared parameters: other",
        ),
        (json!({"params": "nmin"}), "invalid run body"),
        (json!({"gitBranch": "nowhere"}), "nowhere"),
        (json!({"gitCommit": "0000000"}), "0000000"),
    ] {
        let answer = api
            .call(
                &runner,
                "POST",
                "/api/v1/reports/params/run/",
                Some(body.clone()),
            )
            .await;
        assert_eq!(answer.status, 400, "{body}: {}", answer.body);
        let message = answer.body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(expected), "{body}: {message}");
    }
    let malformed = api
        .request(
            "POST",
            "/api/v1/reports/params/run/",
            &[("authorization", &format!("Bearer {runner}"))],
            b"{not json".to_vec(),
        )
        .await;
    assert_eq!(malformed.status, 400);
    let unknown = api
        .call(
            &runner,
            "POST",
            "/api/v1/reports/nothing/run/",
            Some(json!({})),
        )
        .await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    let broken = api
        .call(
            &runner,
            "POST",
            "/api/v1/reports/broken/run/",
            Some(json!({})),
        )
        .await;
    assert_eq!(broken.status, 400, "{}", broken.body);
    assert!(
        broken.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("not valid YAML at line"),
        "{}",
        broken.body
    );
    let bad_timeout = api
        .call(
            &runner,
            "POST",
            "/api/v1/reports/slow/run/?timeout=soon",
            Some(json!({})),
        )
        .await;
    assert_eq!(bad_timeout.status, 400);

    // Defaults fill in; the version records the values used.
    let version = api
        .version(&runner, "params", json!({"params": {"nmin": 0.5}}))
        .await;
    let details = api
        .data(
            &runner,
            "GET",
            &format!("/api/v1/reports/params/versions/{version}/"),
            None,
        )
        .await;
    assert_eq!(
        details["parameter_values"],
        json!({"nmin": 0.5, "label": "plain"})
    );
    let out = api
        .call(
            &runner,
            "GET",
            &format!("/api/v1/reports/params/versions/{version}/artefacts/out.txt/"),
            None,
        )
        .await;
    assert_eq!(out.bytes, b"nmin=0.5 label=plain\n");

    // A branch and a commit run what they name.
    for (body, expected) in [
        (json!({"gitBranch": "feature"}), "<svg>feature</svg>\n"),
        (
            json!({"gitCommit": api.commits.first}),
            "<svg>first</svg>\n",
        ),
        (
            json!({"gitBranch": "master", "gitCommit": api.commits.first}),
            "<svg>first</svg>\n",
        ),
    ] {
        let version = api.version(&runner, "minimal", body.clone()).await;
        let svg = api
            .call(
                &runner,
                "GET",
                &format!("/api/v1/reports/minimal/versions/{version}/artefacts/graph.svg/"),
                None,
            )
            .await;
        assert_eq!(String::from_utf8_lossy(&svg.bytes), expected, "{body}");
    }
    let feature_only = api
        .call(
            &runner,
            "POST",
            "/api/v1/reports/minimal/run/",
            Some(json!({"gitBranch": "master", "gitCommit": api.commits.feature})),
        )
        .await;
    assert_eq!(feature_only.status, 400, "a commit not on the branch");

    // A timeout kills the script.
    let key = api
        .run(
            &runner,
            "slow",
            json!({"params": {"seconds": 30}}),
            "?timeout=1",
        )
        .await;
    let failed = api.wait_status(&runner, &key, "error").await;
    assert!(
        failed["error"].as_str().unwrap_or("").contains("timed out"),
        "{failed}"
    );

    // Kill stops a running run; a finished one cannot be killed.
    let key = api
        .run(&runner, "slow", json!({"params": {"seconds": 30}}), "")
        .await;
    api.wait_status(&runner, &key, "running").await;
    let killed = api
        .data(
            &runner,
            "DELETE",
            &format!("/api/v1/reports/{key}/kill/"),
            None,
        )
        .await;
    assert_eq!(killed["killed"], true);
    let status = api.wait_status(&runner, &key, "interrupted").await;
    assert_eq!(status["version"], Value::Null);
    let again = api
        .call(
            &runner,
            "DELETE",
            &format!("/api/v1/reports/{key}/kill/"),
            None,
        )
        .await;
    assert_eq!(again.status, 400);
    let unknown = api
        .call(&runner, "GET", "/api/v1/reports/no_such_key/status/", None)
        .await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn readers_see_published_versions_only_everywhere() {
    let api = Reports::start(1, 4).await;
    let reviewer = api
        .user("reviewer", "reports.read,reports.review,reports.run")
        .await;
    let reader = api.user("reader", "reports.read").await;
    let other_reader = api.user("other", "report:params/reports.read").await;

    let first = api
        .version(
            &reviewer,
            "minimal",
            json!({"gitCommit": api.commits.first, "changelog": {"message": "Run note", "type": "internal"}}),
        )
        .await;
    let second = api.version(&reviewer, "minimal", json!({})).await;
    let base = |version: &str| format!("/api/v1/reports/minimal/versions/{version}");

    // Nothing is published: a reader sees nothing, anywhere.
    assert_eq!(
        api.data(&reader, "GET", "/api/v1/reports/", None).await,
        json!([])
    );
    assert_eq!(
        api.data(&reader, "GET", "/api/v1/versions/", None).await,
        json!([])
    );
    assert_eq!(
        api.data(&reader, "GET", "/api/v1/reports/minimal/", None)
            .await,
        json!([])
    );
    for path in [
        format!("{}/", base(&first)),
        format!("{}/artefacts/", base(&first)),
        format!("{}/artefacts/graph.svg/", base(&first)),
        format!("{}/resources/meta:input.csv/", base(&first)),
        format!("{}/data/", base(&first)),
        format!("{}/all/", base(&first)),
        format!("{}/changelog/", base(&first)),
        "/api/v1/reports/minimal/latest/changelog/".to_owned(),
    ] {
        let answer = api.call(&reader, "GET", &path, None).await;
        assert_eq!(answer.status, 404, "{path}: {}", answer.body);
    }
    assert_eq!(
        api.data(&reviewer, "GET", "/api/v1/reports/minimal/", None)
            .await,
        json!([first, second])
    );

    // Publishing takes reports.review; readers cannot publish or run.
    let refused = api
        .call(&reader, "POST", &format!("{}/publish/", base(&first)), None)
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.body["errors"][0]["code"], "forbidden");
    let refused = api
        .call(
            &reader,
            "POST",
            "/api/v1/reports/minimal/run/",
            Some(json!({})),
        )
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        api.data(
            &reviewer,
            "POST",
            &format!("{}/publish/", base(&first)),
            None
        )
        .await,
        json!(true)
    );

    assert_eq!(
        api.data(&reader, "GET", "/api/v1/reports/minimal/", None)
            .await,
        json!([first])
    );
    let listing = api.data(&reader, "GET", "/api/v1/reports/", None).await;
    assert_eq!(listing[0]["latest_version"], json!(first));
    let versions = api.data(&reader, "GET", "/api/v1/versions/", None).await;
    assert_eq!(versions.as_array().unwrap().len(), 1);
    assert_eq!(versions[0]["published"], true);
    assert_eq!(versions[0]["resources"], json!(["meta/input.csv"]));
    assert_eq!(
        api.call(&reader, "GET", &format!("{}/", base(&second)), None)
            .await
            .status,
        404
    );

    // Zips: readers get artefacts, resources and the README; reviewers the data as well.
    let reader_zip = api
        .call(&reader, "GET", &format!("{}/all/", base(&first)), None)
        .await;
    assert_eq!(reader_zip.status, 200);
    assert_eq!(reader_zip.content_type, "application/zip");
    let expected: BTreeSet<String> = ["graph.svg", "out.csv", "meta/input.csv", "README.md"]
        .iter()
        .map(|name| format!("{first}/{name}"))
        .collect();
    assert_eq!(zip_names(&reader_zip.bytes), expected);
    assert_eq!(
        zip_file(&reader_zip.bytes, &format!("{first}/graph.svg")),
        b"<svg>first</svg>\n"
    );
    let reviewer_zip = api
        .call(&reviewer, "GET", &format!("{}/all/", base(&first)), None)
        .await;
    let names = zip_names(&reviewer_zip.bytes);
    assert!(names.is_superset(&expected));
    assert!(
        names.contains(&format!("{first}/data/dat.csv")),
        "{names:?}"
    );

    // Changelogs: readers see public entries of published versions; reviewers everything.
    let entries = |changelog: &Value| -> Vec<(String, String, String)> {
        changelog
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| {
                (
                    entry["label"].as_str().unwrap().to_owned(),
                    entry["value"].as_str().unwrap().to_owned(),
                    entry["report_version"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let entry = |label: &str, value: &str, version: &str| {
        (label.to_owned(), value.to_owned(), version.to_owned())
    };
    assert_eq!(
        entries(
            &api.data(
                &reader,
                "GET",
                "/api/v1/reports/minimal/latest/changelog/",
                None
            )
            .await
        ),
        vec![entry("public", "First public note", &first)]
    );
    let full = api
        .data(
            &reviewer,
            "GET",
            &format!("{}/changelog/", base(&second)),
            None,
        )
        .await;
    let full = entries(&full);
    for expected in [
        entry("public", "Second public note", &second),
        entry("internal", "Second internal note", &second),
        entry("public", "First public note", &first),
        entry("internal", "First internal note", &first),
        entry("internal", "Run note", &first),
    ] {
        assert!(full.contains(&expected), "{expected:?} in {full:?}");
    }
    assert_eq!(full[0].2, second, "newest version first");
    api.data(
        &reviewer,
        "POST",
        &format!("{}/publish", base(&second)),
        None,
    )
    .await;
    assert_eq!(
        entries(
            &api.data(
                &reader,
                "GET",
                &format!("{}/changelog/", base(&second)),
                None
            )
            .await
        ),
        vec![
            entry("public", "Second public note", &second),
            entry("public", "First public note", &first)
        ]
    );
    // Unpublishing (a case-insensitive boolean) hides the first version again.
    assert_eq!(
        api.data(
            &reviewer,
            "POST",
            &format!("{}/publish/?value=FALSE", base(&first)),
            None
        )
        .await,
        json!(false)
    );
    assert_eq!(
        entries(
            &api.data(
                &reader,
                "GET",
                &format!("{}/changelog/", base(&second)),
                None
            )
            .await
        ),
        vec![entry("public", "Second public note", &second)]
    );
    assert_eq!(
        api.call(
            &reader,
            "GET",
            &format!("{}/artefacts/graph.svg/", base(&first)),
            None
        )
        .await
        .status,
        404
    );

    // Listings follow: the reader sees only the second version, the reviewer both.
    assert_eq!(
        api.data(&reader, "GET", "/api/v1/reports/minimal/", None)
            .await,
        json!([second])
    );
    assert_eq!(
        api.data(&reviewer, "GET", "/api/v1/reports/minimal/", None)
            .await,
        json!([first, second])
    );
    let listing = api.data(&reader, "GET", "/api/v1/reports/", None).await;
    assert_eq!(listing[0]["latest_version"], json!(second));
    assert_eq!(listing[0]["name"], "minimal");

    // Per-report permissions: a reader of another report cannot read this one.
    let forbidden = api
        .call(&other_reader, "GET", "/api/v1/reports/minimal/", None)
        .await;
    assert_eq!(forbidden.status, 403);
    assert_eq!(
        api.data(&other_reader, "GET", "/api/v1/reports/", None)
            .await,
        json!([])
    );

    // Authentication: none, a bad bearer token, a bad user token.
    let anonymous = api
        .request("GET", "/api/v1/reports/", &[], Vec::new())
        .await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.body["status"], "failure");
    let bad = api
        .call("not-a-token", "GET", "/api/v1/reports/", None)
        .await;
    assert_eq!(bad.status, 401);
    let login = api
        .request(
            "POST",
            "/api/v1/login/",
            &[("authorization", "token reader:wrong-secret")],
            Vec::new(),
        )
        .await;
    assert_eq!(login.status, 401);
}

#[tokio::test]
async fn a_packed_bundle_run_elsewhere_imports_as_a_version() {
    let api = Reports::start(0, 1).await;
    let runner = api
        .user("runner", "reports.read,reports.review,reports.run")
        .await;
    let packed = api
        .call(
            &runner,
            "POST",
            "/api/v1/bundle/pack/params/",
            Some(json!({"params": {"nmin": 3}})),
        )
        .await;
    assert_eq!(
        packed.status,
        200,
        "{}",
        String::from_utf8_lossy(&packed.bytes)
    );
    assert_eq!(packed.content_type, "application/zip");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("packed.zip");
    let output = dir.path().join("done.zip");
    std::fs::write(&input, &packed.bytes).unwrap();

    // Not yet run: refused.
    let import = |bytes: Vec<u8>| {
        let bearer = format!("Bearer {runner}");
        let api = &api;
        async move {
            api.request(
                "POST",
                "/api/v1/bundle/import/",
                &[
                    ("authorization", bearer.as_str()),
                    ("content-type", "application/zip"),
                ],
                bytes,
            )
            .await
        }
    };
    let not_run = import(packed.bytes.clone()).await;
    assert_eq!(not_run.status, 400, "{}", not_run.body);

    let (ok, log) = api
        .cli(
            "baton-worker",
            &[
                "bundle",
                "run",
                input.to_str().unwrap(),
                output.to_str().unwrap(),
            ],
        )
        .await;
    assert!(ok, "bundle run failed: {log}");
    let completed = std::fs::read(&output).unwrap();
    let imported = import(completed.clone()).await;
    assert_eq!(imported.status, 200, "{}", imported.body);
    let version = imported.body["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        imported.body["data"]["parameter_values"],
        json!({"nmin": 3, "label": "plain"})
    );

    let ids = api
        .data(&runner, "GET", "/api/v1/reports/params/", None)
        .await;
    assert_eq!(ids, json!([version]));
    let out = api
        .call(
            &runner,
            "GET",
            &format!("/api/v1/reports/params/versions/{version}/artefacts/out.txt/"),
            None,
        )
        .await;
    assert_eq!(out.bytes, b"nmin=3 label=plain\n");

    assert_eq!(import(completed).await.status, 409, "the version exists");
    assert_eq!(import(b"not a zip".to_vec()).await.status, 400);
}

#[tokio::test]
async fn the_queue_shows_runs_waiting_for_the_only_worker() {
    let api = Reports::start(1, 1).await;
    let runner = api
        .user("runner", "reports.read,reports.review,reports.run")
        .await;
    let keys = [
        api.run(&runner, "slow", json!({"params": {"seconds": 2}}), "")
            .await,
        api.run(&runner, "slow", json!({"params": {"seconds": 1}}), "")
            .await,
        api.run(&runner, "minimal", json!({}), "").await,
    ];
    api.wait_status(&runner, &keys[0], "running").await;
    let queue = api
        .data(&runner, "GET", "/api/v1/queue/status/", None)
        .await;
    let tasks = queue["tasks"].as_array().unwrap();
    let summary: Vec<(&str, &str)> = tasks
        .iter()
        .map(|task| {
            (
                task["key"].as_str().unwrap(),
                task["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (keys[0].as_str(), "running"),
            (keys[1].as_str(), "queued"),
            (keys[2].as_str(), "queued")
        ]
    );
    assert!(tasks[0]["version"].is_string());
    assert_eq!(tasks[1]["version"], Value::Null);
    let third = api
        .data(
            &runner,
            "GET",
            &format!("/api/v1/reports/{}/status/", keys[2]),
            None,
        )
        .await;
    assert_eq!(third["status"], "queued");
    assert_eq!(
        third["queue"],
        json!([
            {"key": keys[0], "status": "running", "name": "slow"},
            {"key": keys[1], "status": "queued", "name": "slow"}
        ])
    );

    // A queued run can be killed: it never runs.
    api.data(
        &runner,
        "DELETE",
        &format!("/api/v1/reports/{}/kill/", keys[1]),
        None,
    )
    .await;
    api.wait_status(&runner, &keys[2], "success").await;
    let killed = api
        .data(
            &runner,
            "GET",
            &format!("/api/v1/reports/{}/status/?output=true", keys[1]),
            None,
        )
        .await;
    assert_eq!(killed["status"], "interrupted");
    assert_eq!(killed["output"], json!([]));
    let queue = api.data(&runner, "GET", "/api/v1/queue/status", None).await;
    assert_eq!(queue["tasks"], json!([]));
}

#[tokio::test]
async fn a_run_whose_worker_is_killed_runs_again_and_becomes_one_version() {
    let mut api = Reports::start(1, 1).await;
    let runner = api
        .user("runner", "reports.read,reports.review,reports.run")
        .await;
    let key = api
        .run(&runner, "slow", json!({"params": {"seconds": 2}}), "")
        .await;
    wait_until(Duration::from_secs(20), "the script is running", || async {
        let data = api
            .data(
                &runner,
                "GET",
                &format!("/api/v1/reports/{key}/status/?output=true"),
                None,
            )
            .await;
        data["output"]
            .as_array()
            .is_some_and(|lines| lines.contains(&json!("tick 1")))
    })
    .await;
    api.app.workers_mut()[0].kill_9();
    api.app.add_worker(&[("BATON_CONCURRENCY", "1")]);
    let done = api.wait_status(&runner, &key, "success").await;
    let version = done["version"].as_str().unwrap().to_owned();
    assert_eq!(
        api.data(&runner, "GET", "/api/v1/reports/slow/", None)
            .await,
        json!([version])
    );
    let lines = done["output"].as_array().unwrap();
    assert!(
        lines.iter().filter(|line| *line == "tick 0").count() >= 2,
        "the log shows both executions: {lines:?}"
    );
}

#[tokio::test]
async fn orderly_webs_own_python_client_works_unchanged() {
    let api = Reports::start(1, 4).await;
    let (ok, output) = api
        .cli(
            "baton-api",
            &[
                "tokens",
                "create",
                "pyclient",
                "--permissions",
                "reports.read,reports.review,reports.run",
            ],
        )
        .await;
    assert!(ok, "{output}");
    let token = output.lines().last().unwrap().trim().to_owned();
    // The released `orderlyweb-api` package, as its users call it.
    let script = r#"
import sys, time
from orderlyweb_api import OrderlyWebAPI, OrderlyWebResponseError
try:
    api = OrderlyWebAPI(sys.argv[1], sys.argv[2])
except OrderlyWebResponseError as error:
    sys.exit("login refused: %s %s" % (error.response.status_code, error.response.text))
key = api.run_report("params", {"nmin": 4})
status = api.report_status(key)
while not status.finished:
    time.sleep(0.1)
    status = api.report_status(key)
assert status.success, status.status
details = api.version_details("params", status.version)
assert details.parameter_values == {"nmin": 4, "label": "plain"}, details.parameter_values
assert details.published is False
assert api.publish_report("params", status.version) is True
assert api.version_details("params", status.version).published is True
assert api.report_versions("params") == [status.version]
slow = api.run_report("slow", {"seconds": 30})
while api.report_status(slow).status != "running":
    time.sleep(0.1)
api.kill_report(slow)
while not api.report_status(slow).finished:
    time.sleep(0.1)
print(api.report_status(slow).status)
try:
    api.run_report("params", {})
except Exception as error:
    print("refused:", error.response.status_code)
"#;
    let text = python(script, &[&api.base, &token]).await;
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        vec!["interrupted", "refused: 400"],
        "{text}"
    );
}

#[tokio::test]
async fn git_status_fetch_and_pull_update_the_served_repository() {
    let api = Reports::start_serving(1, 2, true).await;
    let runner = api
        .user("runner", "reports.read,reports.review,reports.run")
        .await;
    let reader = api.user("reader", "reports.read").await;
    let status = api.data(&runner, "GET", "/api/v1/git/status/", None).await;
    assert_eq!(status["branch"], "master");
    assert_eq!(status["clean"], true);
    assert_eq!(status["output"], json!([]));
    // The full hash, as the seed shows it.
    assert_eq!(status["hash"], api.commits.second.as_str());
    assert_eq!(
        api.call(&reader, "GET", "/api/v1/git/status/", None)
            .await
            .status,
        403
    );

    // A new report upstream: unknown until pulled.
    let origin = api.repo.path();
    write(
        origin,
        "src/added/orderly.yml",
        "script: run.sh\nartefacts:\n  - data: {description: Out, filenames: out.txt}\n",
    );
    write(
        origin,
        "src/added/run.sh",
        "#!/bin/sh\necho added > out.txt\n",
    );
    git(origin, &["add", "."]);
    git(origin, &["commit", "-q", "-m", "added"]);
    let head = git(origin, &["rev-parse", "HEAD"]);
    let unknown = api
        .call(
            &runner,
            "POST",
            "/api/v1/reports/added/run/",
            Some(json!({})),
        )
        .await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);

    let fetched = api.data(&runner, "POST", "/api/v1/git/fetch/", None).await;
    assert!(fetched.is_array(), "{fetched}");
    let pulled = api
        .data(&runner, "POST", "/api/v1/reports/git/pull/", None)
        .await;
    let text = pulled.to_string();
    assert!(
        text.contains("Fast-forward") || text.contains("added"),
        "{text}"
    );
    let status = api
        .data(&runner, "GET", "/api/v1/reports/git/status", None)
        .await;
    assert_eq!(status["hash"], head.as_str(), "{status}");
    let version = api.version(&runner, "added", json!({})).await;
    assert!(version.len() > 16);

    // An oversized body is refused in the front's format.
    let huge = vec![b' '; 70_000];
    let refused = api
        .request(
            "POST",
            "/api/v1/reports/added/run/",
            &[("authorization", &format!("Bearer {runner}"))],
            huge,
        )
        .await;
    assert_eq!(refused.status, 413);
    assert_eq!(refused.body["status"], "failure");
}

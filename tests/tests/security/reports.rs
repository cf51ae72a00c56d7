//! Reports: a version id is reserved before any file is written, so a bundle import can never
//! take over a run's version or another import's files; other people's runs keep their
//! version ids and logs to themselves; logs come in capped pages with a cursor; and large
//! downloads stream instead of growing the API's memory.
//!
//! Each test starts Redis, `baton-api`, `baton-scheduler` and workers over a git repository
//! of reports made here, and attacks the reports front (OrderlyWeb's API) through its socket.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use baton_tests::TestApp;
use baton_tests::wait::{wait_for, wait_until};
use common::reports::artefacts::md5_hex;
use common::test_support::{git, write_file};
use serde_json::{Value, json};

const MASTER_KEY: &str = "security-reports-master-key-0123456789";
/// Lines the `chatty` report prints: more than two pages of status output.
const CHATTY_LINES: usize = 2500;
/// Lines one status answer carries at most, as documented.
const PAGE_LINES: usize = 1000;
/// Size of the `big` report's artefact: 50 MiB of random bytes (which do not compress).
const BIG_BYTES: u64 = 50 << 20;

/// A repository of reports: `slow` (a tick every 0.2 s, then `done.txt`), `chatty` (many log
/// lines) and `big` (a 50 MiB artefact).
fn reports_repository(dir: &Path) {
    let write = |file: &str, text: &str| write_file(dir, file, text, file.ends_with(".sh"));
    git(dir, &["init", "-q", "-b", "master"]);
    write(
        "src/slow/orderly.yml",
        "script: run.sh\nparameters:\n  seconds: {default: 1}\nartefacts:\n  - data: {description: Out, filenames: done.txt}\n",
    );
    write(
        "src/slow/run.sh",
        "#!/bin/sh\ni=0\nwhile [ $i -lt $((seconds * 5)) ]; do echo \"tick $i\"; i=$((i + 1)); sleep 0.2; done\necho done > done.txt\n",
    );
    write(
        "src/chatty/orderly.yml",
        "script: run.sh\nartefacts:\n  - data: {description: Out, filenames: out.txt}\n",
    );
    write(
        "src/chatty/run.sh",
        &format!(
            "#!/bin/sh\ni=0\nwhile [ $i -lt {CHATTY_LINES} ]; do echo \"line $i\"; i=$((i + 1)); done\necho ok > out.txt\n"
        ),
    );
    write(
        "src/big/orderly.yml",
        "script: run.sh\nartefacts:\n  - data: {description: Big, filenames: big.bin}\n",
    );
    write(
        "src/big/run.sh",
        &format!("#!/bin/sh\nhead -c {BIG_BYTES} /dev/urandom > big.bin\n"),
    );
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", "reports"]);
}

/// An HTTP answer.
struct Answer {
    status: u16,
    body: Value,
    bytes: Vec<u8>,
}

/// Redis, the API, a scheduler, workers, a reports repository and an artefact store.
struct Deployment {
    app: TestApp,
    base: String,
    _repo: tempfile::TempDir,
    http: reqwest::Client,
}

impl Deployment {
    /// Starts everything with `workers` workers of one slot each.
    async fn start(workers: usize) -> Self {
        let repo = tempfile::tempdir().unwrap();
        reports_repository(repo.path());
        let repo_path = repo.path().display().to_string();
        // Only the API holds the master key: the worker and the scheduler refuse to start with it.
        let app = TestApp::builder()
            .master_key(MASTER_KEY)
            .env("BATON_REPORTS_REPO", &repo_path)
            .scheduler(true)
            .scheduler_env("BATON_TICK_MS", "50")
            .workers(workers)
            .worker_env("BATON_BLOCK_MS", "100")
            .worker_env("BATON_CONCURRENCY", "1")
            .spawn()
            .await;
        Self {
            base: app.base().to_owned(),
            http: app.http().clone(),
            app,
            _repo: repo,
        }
    }

    /// Runs a `baton-api` or `baton-worker` command; asserts it succeeds; returns its output.
    async fn cli(&self, binary: &str, args: &[&str]) -> String {
        let (ok, output) = self.app.cli(binary, args).await;
        assert!(ok, "{binary} {args:?} failed: {output}");
        output
    }

    /// Creates a user with `permissions` and logs in: returns a bearer token.
    async fn user(&self, name: &str, permissions: &str) -> String {
        let output = self
            .cli(
                "baton-api",
                &["tokens", "create", name, "--permissions", permissions],
            )
            .await;
        let token = output.lines().last().unwrap().trim().to_owned();
        let login = self
            .request(
                "POST",
                "/api/v1/login/",
                &format!("token {token}"),
                None,
                Vec::new(),
            )
            .await;
        assert_eq!(login.status, 200, "{}", login.body);
        login.body["access_token"].as_str().unwrap().to_owned()
    }

    fn builder(&self, method: &str, path: &str, authorization: &str) -> reqwest::RequestBuilder {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        self.http
            .request(method, format!("{}{path}", self.base))
            .header("authorization", authorization)
    }

    async fn request(
        &self,
        method: &str,
        path: &str,
        authorization: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Answer {
        let mut request = self.builder(method, path, authorization).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.expect("the API answers");
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap().to_vec();
        Answer {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            bytes,
        }
    }

    /// A request with a bearer token and an optional JSON body.
    async fn call(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> Answer {
        let bytes = body
            .as_ref()
            .map(|body| serde_json::to_vec(body).unwrap())
            .unwrap_or_default();
        let content_type = body.is_some().then_some("application/json");
        self.request(
            method,
            path,
            &format!("Bearer {token}"),
            content_type,
            bytes,
        )
        .await
    }

    /// The `data` of a successful enveloped answer.
    async fn data(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> Value {
        let answer = self.call(token, method, path, body).await;
        assert_eq!(answer.status, 200, "{method} {path}: {}", answer.body);
        assert_eq!(answer.body["status"], "success", "{}", answer.body);
        answer.body["data"].clone()
    }

    /// Starts a run; returns its key.
    async fn run(&self, token: &str, report: &str, body: Value) -> String {
        let path = format!("/api/v1/reports/{report}/run/");
        let data = self.data(token, "POST", &path, Some(body)).await;
        data["key"].as_str().unwrap().to_owned()
    }

    /// Waits for a run to reach `status`; returns its status (without output).
    async fn wait_status(&self, token: &str, key: &str, status: &str) -> Value {
        let path = format!("/api/v1/reports/{key}/status/");
        wait_for(
            Duration::from_secs(90),
            &format!("run {key} is {status}"),
            || async {
                let data = self.data(token, "GET", &path, None).await;
                assert!(
                    !matches!(data["status"].as_str(), Some("error" | "interrupted")),
                    "{data}"
                );
                (data["status"] == status).then_some(data)
            },
        )
        .await
    }

    /// Packs a bundle of `report` and completes it with `baton-worker bundle run`.
    async fn completed_bundle(&self, token: &str, report: &str, body: Value) -> Vec<u8> {
        let packed = self
            .call(
                token,
                "POST",
                &format!("/api/v1/bundle/pack/{report}/"),
                Some(body),
            )
            .await;
        assert_eq!(
            packed.status,
            200,
            "{}",
            String::from_utf8_lossy(&packed.bytes)
        );
        let dir = tempfile::tempdir().unwrap();
        let (input, output) = (dir.path().join("packed.zip"), dir.path().join("done.zip"));
        std::fs::write(&input, &packed.bytes).unwrap();
        self.cli(
            "baton-worker",
            &[
                "bundle",
                "run",
                input.to_str().unwrap(),
                output.to_str().unwrap(),
            ],
        )
        .await;
        std::fs::read(&output).unwrap()
    }

    async fn import(&self, token: &str, bundle: Vec<u8>) -> Answer {
        self.request(
            "POST",
            "/api/v1/bundle/import/",
            &format!("Bearer {token}"),
            Some("application/zip"),
            bundle,
        )
        .await
    }

    /// The API's memory, from `/proc`: a field of its status such as `VmRSS` or `VmHWM`, in
    /// bytes.
    fn api_memory(&self, field: &str) -> u64 {
        let pid = self.app.api_process().pid();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let line = status
            .lines()
            .find(|line| line.starts_with(&format!("{field}:")))
            .unwrap_or_else(|| panic!("no {field} in {status}"));
        let kib: u64 = line
            .split_whitespace()
            .nth(1)
            .and_then(|value| value.parse().ok())
            .unwrap();
        kib * 1024
    }
}

/// The completed bundle `bundle` rewritten as version `id`, with `done.txt` holding `done`
/// (its recorded size and md5 updated to match): a well-formed bundle that claims `id`.
fn forge_bundle(bundle: &[u8], id: &str, done: &[u8]) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bundle)).unwrap();
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).unwrap();
        let name = entry.name().to_owned();
        let (_, rest) = name.split_once('/').unwrap();
        let mut content = Vec::new();
        entry.read_to_end(&mut content).unwrap();
        if entry.is_dir() {
            writer
                .add_directory(format!("{id}/{rest}"), options)
                .unwrap();
            continue;
        }
        let content = match rest {
            "meta/info.json" | "meta/version.json" => {
                let mut json: Value = serde_json::from_slice(&content).unwrap();
                json["id"] = json!(id);
                if rest == "meta/version.json" {
                    for group in json["artefacts"].as_array_mut().unwrap() {
                        for file in group["files"].as_array_mut().unwrap() {
                            if file["name"] == "done.txt" {
                                file["size"] = json!(done.len());
                                file["md5"] = json!(md5_hex(done));
                            }
                        }
                    }
                }
                serde_json::to_vec(&json).unwrap()
            }
            "pack/done.txt" => done.to_vec(),
            _ => content,
        };
        writer.start_file(format!("{id}/{rest}"), options).unwrap();
        writer.write_all(&content).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// The failure envelope's first error code.
fn error_code(answer: &Answer) -> &str {
    assert_eq!(answer.body["status"], "failure", "{}", answer.body);
    answer.body["errors"][0]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn a_bundle_import_cannot_take_a_running_runs_version() {
    let api = Deployment::start(1).await;
    let runner = api
        .user("runner", "reports.read,reports.review,reports.run")
        .await;
    let completed = api
        .completed_bundle(&runner, "slow", json!({"params": {"seconds": 1}}))
        .await;

    let key = api
        .run(&runner, "slow", json!({"params": {"seconds": 4}}))
        .await;
    let running = api.wait_status(&runner, &key, "running").await;
    let version = running["version"].as_str().unwrap().to_owned();

    // A bundle claiming the running run's version id: its files would land in that version.
    let forged = forge_bundle(&completed, &version, b"forged\n");
    let import = api.import(&runner, forged).await;
    assert_eq!(import.status, 409, "{}", import.body);
    assert_eq!(error_code(&import), "conflict");

    // The run completes as its own version, with its own files.
    let done = api.wait_status(&runner, &key, "success").await;
    assert_eq!(done["version"], json!(version));
    let details = api
        .data(
            &runner,
            "GET",
            &format!("/api/v1/reports/slow/versions/{version}/"),
            None,
        )
        .await;
    assert_eq!(details["parameter_values"], json!({"seconds": 4}));
    let file = api
        .call(
            &runner,
            "GET",
            &format!("/api/v1/reports/slow/versions/{version}/artefacts/done.txt/"),
            None,
        )
        .await;
    assert_eq!(file.bytes, b"done\n");
    let artefacts = api
        .data(
            &runner,
            "GET",
            &format!("/api/v1/reports/slow/versions/{version}/artefacts/"),
            None,
        )
        .await;
    assert_eq!(artefacts, json!({"done.txt": md5_hex(b"done\n")}));
    assert_eq!(
        api.data(&runner, "GET", "/api/v1/reports/slow/", None)
            .await,
        json!([version])
    );
}

#[tokio::test]
async fn imports_of_one_version_id_never_overwrite_each_others_files() {
    let api = Deployment::start(0).await;
    let runner = api
        .user("runner", "reports.read,reports.review,reports.run")
        .await;
    let completed = api
        .completed_bundle(&runner, "slow", json!({"params": {"seconds": 0}}))
        .await;

    for round in 0..6 {
        let id = format!(
            "20240102-0304{round:02}-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let first = format!("first {round}\n").into_bytes();
        let second = format!("second {round}\n").into_bytes();
        // Two imports of one id at once: one wins, the other is refused before it writes.
        let (a, b) = tokio::join!(
            api.import(&runner, forge_bundle(&completed, &id, &first)),
            api.import(&runner, forge_bundle(&completed, &id, &second)),
        );
        let mut statuses = [a.status, b.status];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 409], "{} / {}", a.body, b.body);
        let (winner, content) = if a.status == 200 {
            (&a, &first)
        } else {
            (&b, &second)
        };
        let loser = if a.status == 200 { &b } else { &a };
        assert_eq!(error_code(loser), "conflict");
        assert_eq!(winner.body["data"]["id"], json!(id));
        let served = api
            .call(
                &runner,
                "GET",
                &format!("/api/v1/reports/slow/versions/{id}/artefacts/done.txt/"),
                None,
            )
            .await;
        assert_eq!(
            served.bytes, *content,
            "round {round}: the version's file is the one its record lists"
        );

        // Once it exists, the same id is refused again and its files are untouched.
        let again = api
            .import(&runner, forge_bundle(&completed, &id, b"late\n"))
            .await;
        assert_eq!(again.status, 409, "{}", again.body);
        let served = api
            .call(
                &runner,
                "GET",
                &format!("/api/v1/reports/slow/versions/{id}/artefacts/done.txt/"),
                None,
            )
            .await;
        assert_eq!(served.bytes, *content);
    }
}

#[tokio::test]
async fn other_people_see_neither_the_version_nor_the_log_of_a_run() {
    let api = Deployment::start(1).await;
    let alice = api.user("alice", "reports.read,reports.run").await;
    let bob = api.user("bob", "reports.read,reports.run").await;
    let reviewer = api.user("reviewer", "reports.read,reports.review").await;
    let key = api
        .run(&alice, "slow", json!({"params": {"seconds": 4}}))
        .await;
    let running = api.wait_status(&alice, &key, "running").await;
    let version = running["version"].as_str().unwrap().to_owned();

    // The queue any key may read: bob sees alice's run, not its version id.
    let queue = api.call(&bob, "GET", "/api/v1/queue/status/", None).await;
    assert_eq!(queue.status, 200, "{}", queue.body);
    let tasks = queue.body["data"]["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 1, "{}", queue.body);
    assert_eq!(tasks[0]["key"], json!(key));
    assert_eq!(tasks[0]["status"], "running");
    assert_eq!(tasks[0]["version"], Value::Null);
    assert!(
        !String::from_utf8_lossy(&queue.bytes).contains(&version),
        "{}",
        queue.body
    );

    // Nor through the run's status, with its key: no version, and no log.
    let status = api
        .data(&bob, "GET", &format!("/api/v1/reports/{key}/status/"), None)
        .await;
    assert_eq!(status["status"], "running");
    assert_eq!(status["version"], Value::Null);
    let log = api
        .call(
            &bob,
            "GET",
            &format!("/api/v1/reports/{key}/status/?output=true"),
            None,
        )
        .await;
    assert_eq!(log.status, 403, "{}", log.body);
    assert!(!String::from_utf8_lossy(&log.bytes).contains(&version));

    // Who started the run sees its version; so do reviewers, who see every version.
    for token in [&alice, &reviewer] {
        let queue = api.data(token, "GET", "/api/v1/queue/status/", None).await;
        assert_eq!(queue["tasks"][0]["version"], json!(version), "{queue}");
    }
}

#[tokio::test]
async fn a_long_log_comes_in_capped_pages_that_a_cursor_walks_in_order() {
    let api = Deployment::start(1).await;
    let runner = api.user("runner", "reports.read,reports.run").await;
    let key = api.run(&runner, "chatty", json!({})).await;
    api.wait_status(&runner, &key, "success").await;

    let status = |cursor: Option<String>| {
        let api = &api;
        let runner = &runner;
        let key = &key;
        async move {
            let query = cursor.map_or(String::new(), |cursor| format!("&output_after={cursor}"));
            api.data(
                runner,
                "GET",
                &format!("/api/v1/reports/{key}/status/?output=true{query}"),
                None,
            )
            .await
        }
    };
    let first = status(None).await;
    let lines = first["output"].as_array().unwrap();
    assert_eq!(lines.len(), PAGE_LINES, "one page at most");
    assert_eq!(lines[0], "[ name ] chatty");
    assert_eq!(first["output_more"], true);

    let walked = wait_for(
        Duration::from_secs(20),
        "every line of the log is stored",
        || async {
            let mut walked: Vec<String> = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let page = status(cursor.clone()).await;
                let lines = page["output"].as_array().unwrap();
                assert!(lines.len() <= PAGE_LINES);
                walked.extend(lines.iter().map(|line| line.as_str().unwrap().to_owned()));
                cursor = page["output_next"].as_str().map(str::to_owned);
                if page["output_more"] != true {
                    break;
                }
            }
            walked
                .last()
                .is_some_and(|line| line == "[ success ] :)")
                .then_some(walked)
        },
    )
    .await;
    assert!(walked.len() > 2 * PAGE_LINES, "{} lines", walked.len());
    let numbered: Vec<String> = walked
        .iter()
        .filter(|line| line.starts_with("line "))
        .cloned()
        .collect();
    let expected: Vec<String> = (0..CHATTY_LINES).map(|i| format!("line {i}")).collect();
    assert_eq!(numbered, expected, "every line once, in order");
    let first_page: Vec<&str> = lines.iter().filter_map(Value::as_str).collect();
    assert_eq!(
        walked[..PAGE_LINES],
        first_page,
        "the first page starts the walk"
    );

    let bad = api
        .call(
            &runner,
            "GET",
            &format!("/api/v1/reports/{key}/status/?output=true&output_after=x"),
            None,
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(error_code(&bad), "bad-request");
}

/// Streams a download to a file, counting its bytes; returns the file.
async fn download_to_file(api: &Deployment, token: &str, path: &str) -> (u64, std::fs::File) {
    let mut response = api
        .builder("GET", path, &format!("Bearer {token}"))
        .send()
        .await
        .expect("the API answers");
    assert_eq!(response.status(), 200);
    let mut file = tempfile::tempfile().unwrap();
    let mut total = 0;
    while let Some(chunk) = response.chunk().await.expect("the download completes") {
        total += chunk.len() as u64;
        file.write_all(&chunk).unwrap();
    }
    (total, file)
}

#[tokio::test]
async fn a_large_version_downloads_without_growing_the_apis_memory() {
    let api = Deployment::start(1).await;
    let runner = api
        .user("runner", "reports.read,reports.review,reports.run")
        .await;
    let key = api.run(&runner, "big", json!({})).await;
    let version = api.wait_status(&runner, &key, "success").await["version"]
        .as_str()
        .unwrap()
        .to_owned();
    let artefacts = api
        .data(
            &runner,
            "GET",
            &format!("/api/v1/reports/big/versions/{version}/artefacts/"),
            None,
        )
        .await;
    let md5 = artefacts["big.bin"].as_str().unwrap().to_owned();

    let before = api.api_memory("VmRSS");
    let (size, zipped) = download_to_file(
        &api,
        &runner,
        &format!("/api/v1/reports/big/versions/{version}/all/"),
    )
    .await;
    assert!(size > BIG_BYTES, "{size} bytes");
    let mut archive = zip::ZipArchive::new(zipped).unwrap();
    let mut content = Vec::new();
    archive
        .by_name(&format!("{version}/big.bin"))
        .unwrap()
        .read_to_end(&mut content)
        .unwrap();
    assert_eq!(md5_hex(&content), md5);

    let (size, mut file) = download_to_file(
        &api,
        &runner,
        &format!("/api/v1/reports/big/versions/{version}/artefacts/big.bin/"),
    )
    .await;
    assert_eq!(size, BIG_BYTES);
    let mut content = Vec::new();
    std::io::Seek::rewind(&mut file).unwrap();
    file.read_to_end(&mut content).unwrap();
    assert_eq!(md5_hex(&content), md5);

    // The peak of the API's memory stayed well under one copy of the file.
    let peak = api.api_memory("VmHWM");
    assert!(
        peak < before + (BIG_BYTES / 2),
        "the API grew from {before} to a peak of {peak} bytes serving {BIG_BYTES} bytes"
    );
    wait_until(Duration::from_secs(5), "the API still answers", || async {
        api.call(&runner, "GET", "/api/v1/queue/status/", None)
            .await
            .status
            == 200
    })
    .await;
}

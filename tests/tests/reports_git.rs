//! The reports front and its git repository when the API and the workers have their own
//! clones: the API fetches a new commit, and a worker whose clone lacks it fetches it before
//! running it. Real `baton-api` and `baton-worker` processes, a real `redis-server`, real git.

use std::path::Path;

use baton_tests::TestApp;
use baton_tests::reports_client::ReportsClient;
use common::test_support::{git, write_file};
use serde_json::json;

/// Writes report `hello`, saying `word`, and commits it; returns the commit.
fn commit_hello(origin: &Path, word: &str) -> String {
    write_file(
        origin,
        "src/hello/orderly.yml",
        "script: run.sh\nartefacts:\n  - data: {description: The word, filenames: word.txt}\n",
        false,
    );
    write_file(
        origin,
        "src/hello/run.sh",
        &format!("echo {word} > word.txt\n"),
        false,
    );
    git(origin, &["add", "."]);
    git(origin, &["commit", "-q", "-m", word]);
    git(origin, &["rev-parse", "HEAD"])
}

fn clone_of(origin: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    git(
        dir.path(),
        &["clone", "-q", &origin.display().to_string(), "."],
    );
    dir
}

#[tokio::test]
async fn a_worker_fetches_a_commit_its_clone_lacks_and_git_status_shows_full_hashes() {
    let origin = tempfile::tempdir().unwrap();
    git(origin.path(), &["init", "-q", "-b", "master"]);
    let first = commit_hello(origin.path(), "first");
    let (api_clone, worker_clone) = (clone_of(origin.path()), clone_of(origin.path()));
    let app = TestApp::builder()
        .api_env(
            "BATON_REPORTS_REPO",
            &api_clone.path().display().to_string(),
        )
        .worker_env(
            "BATON_REPORTS_REPO",
            &worker_clone.path().display().to_string(),
        )
        .workers(1)
        .worker_env("BATON_BLOCK_MS", "100")
        .spawn()
        .await;
    let client =
        ReportsClient::login(&app, "runner", "reports.read,reports.review,reports.run").await;

    let (status, answer) = client
        .call(reqwest::Method::GET, "/api/v1/git/status/", None)
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["hash"], first.as_str(), "{answer}");

    // A new commit reaches the origin; the API fetches it, the worker's clone has not.
    let second = commit_hello(origin.path(), "second");
    let (status, answer) = client
        .call(reqwest::Method::POST, "/api/v1/git/fetch/", None)
        .await;
    assert_eq!(status, 200, "{answer}");
    let key = client.run("hello", json!({"gitCommit": second})).await;
    let finished = client.finished(&key).await;
    assert_eq!(finished["status"], "success", "{finished}");
    let log = finished["output"].to_string();
    assert!(
        log.contains(&format!("[ git ] fetched commit {second}")),
        "{log}"
    );
    let version = finished["version"].as_str().unwrap();
    let details = client.version("hello", version).await;
    assert_eq!(details["git_commit"], second.as_str(), "{details}");
    let word = client
        .bytes(&format!(
            "/api/v1/reports/hello/versions/{version}/artefacts/word.txt/"
        ))
        .await;
    assert_eq!(word, b"second\n");

    // A commit no remote has fails the run, naming it (the API knows nothing of it either).
    let (status, answer) = client
        .call(
            reqwest::Method::POST,
            "/api/v1/reports/hello/run/",
            Some(json!({"gitCommit": "0123456789abcdef0123456789abcdef01234567"})),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
}

//! Reports that depend on other reports' artefacts (`depends:`), end to end: real
//! `baton-api` and `baton-worker` processes, a real `redis-server`, a real git repository.

use std::path::Path;

use baton_tests::TestApp;
use baton_tests::reports_client::ReportsClient;
use common::reports::artefacts::md5_hex;
use common::test_support::{git, write_file};
use serde_json::json;

/// `source` writes its `word` parameter to `word.txt`; `uses_latest` copies the newest
/// version's `word.txt` to `input/word.txt`; `uses_pinned` asks for a version that does not
/// exist; `uses_missing` for a file that is not an artefact.
fn repository(root: &Path) {
    git(root, &["init", "-q", "-b", "master"]);
    write_file(
        root,
        "src/source/orderly.yml",
        "script: run.sh\nparameters:\n  word: {default: first}\nartefacts:\n  - data: {description: The word, filenames: word.txt}\n",
        false,
    );
    write_file(
        root,
        "src/source/run.sh",
        "echo \"$word\" > word.txt\n",
        false,
    );
    write_file(
        root,
        "src/uses_latest/orderly.yml",
        "script: run.sh\ndepends:\n  source:\n    id: latest\n    use:\n      input/word.txt: word.txt\nartefacts:\n  - data: {description: Echo, filenames: echo.txt}\n",
        false,
    );
    write_file(
        root,
        "src/uses_latest/run.sh",
        "cat input/word.txt > echo.txt\n",
        false,
    );
    write_file(
        root,
        "src/uses_pinned/orderly.yml",
        "script: run.sh\ndepends:\n  - source:\n      id: 20200101-000000-00000000\n      use: {w.txt: word.txt}\n",
        false,
    );
    write_file(root, "src/uses_pinned/run.sh", "echo never\n", false);
    write_file(
        root,
        "src/uses_missing/orderly.yml",
        "script: run.sh\ndepends:\n  source:\n    use: {w.txt: orderly.yml}\n",
        false,
    );
    write_file(root, "src/uses_missing/run.sh", "echo never\n", false);
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "reports with dependencies"]);
}

#[tokio::test]
async fn a_report_uses_the_latest_artefact_of_another_and_records_which() {
    let repo = tempfile::tempdir().unwrap();
    repository(repo.path());
    let app = TestApp::builder()
        .env("BATON_REPORTS_REPO", &repo.path().display().to_string())
        .workers(1)
        .worker_env("BATON_BLOCK_MS", "100")
        .spawn()
        .await;
    let client =
        ReportsClient::login(&app, "runner", "reports.read,reports.review,reports.run").await;

    // Before `source` has a version, depending on its latest fails, saying so.
    let key = client.run("uses_latest", json!({})).await;
    let status = client.finished(&key).await;
    assert_eq!(status["status"], "error", "{status}");
    assert!(
        status["output"].to_string().contains("has no version yet"),
        "{status}"
    );

    let mut versions = Vec::new();
    for word in ["first", "second"] {
        let key = client
            .run("source", json!({"params": {"word": word}}))
            .await;
        let status = client.finished(&key).await;
        assert_eq!(status["status"], "success", "{status}");
        versions.push(status["version"].as_str().unwrap().to_owned());
    }

    let key = client.run("uses_latest", json!({})).await;
    let status = client.finished(&key).await;
    assert_eq!(status["status"], "success", "{status}");
    let version = status["version"].as_str().unwrap();
    let echo = client
        .bytes(&format!(
            "/api/v1/reports/uses_latest/versions/{version}/artefacts/echo.txt/"
        ))
        .await;
    assert_eq!(echo, b"second\n");
    let details = client.version("uses_latest", version).await;
    assert_eq!(
        details["depends"],
        json!([{
            "name": "source",
            "id": versions[1],
            "filename": "word.txt",
            "as": "input/word.txt",
            "hash": md5_hex(b"second\n"),
            "is_latest": true,
        }]),
        "{details}"
    );

    for (report, expected) in [
        ("uses_pinned", "has no version '20200101-000000-00000000'"),
        ("uses_missing", "has no artefact 'orderly.yml'"),
    ] {
        let key = client.run(report, json!({})).await;
        let status = client.finished(&key).await;
        assert_eq!(status["status"], "error", "{status}");
        let log = status["output"].to_string();
        assert!(log.contains(expected) && !log.contains("never"), "{log}");
    }
}

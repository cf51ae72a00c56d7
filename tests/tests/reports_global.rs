//! Global resources end to end: a repository whose `orderly_config.yml` names a
//! `global_resources` folder, and reports that copy files of it into their own folders
//! before their scripts run, through the reports front over a real socket, with real
//! `baton-api` and `baton-worker` processes, a real `redis-server` and a real git repository.

use std::path::Path;

use baton_tests::TestApp;
use baton_tests::reports_client::ReportsClient;
use common::reports::artefacts::md5_hex;
use common::test_support::{git, write_file};
use serde_json::json;

/// The global file on `main`: the report sums its `count` column.
const INPUT: &str = "name,count\napple,3\npear,1\n";
/// The same file on the branch `other`.
const OTHER_INPUT: &str = "name,count\nplum,10\n";

/// On `main`: `orderly_config.yml` names the folder `global`; `totals` uses
/// `global/shared/input.csv` as `data.csv` and writes the sum of its counts to `total.txt`;
/// `gone` asks for a file the folder does not hold. On `other`, the global file has other
/// counts; on `no-folder`, `orderly_config.yml` names no global folder.
fn repository(root: &Path) {
    git(root, &["init", "-q", "-b", "main"]);
    write_file(
        root,
        "orderly_config.yml",
        "global_resources: global\n",
        false,
    );
    write_file(root, "global/shared/input.csv", INPUT, false);
    write_file(
        root,
        "src/totals/orderly.yml",
        "script: run.sh\nglobal_resources:\n  data.csv: shared/input.csv\nartefacts:\n  - data: {description: The total count, filenames: total.txt}\n",
        false,
    );
    write_file(
        root,
        "src/totals/run.sh",
        "set -e\nawk -F, 'NR > 1 { total += $2 } END { print total }' data.csv > total.txt\n",
        false,
    );
    write_file(
        root,
        "src/gone/orderly.yml",
        "script: run.sh\nglobal_resources:\n  data.csv: shared/gone.csv\n",
        false,
    );
    write_file(root, "src/gone/run.sh", "echo never\n", false);
    git(root, &["add", "."]);
    git(
        root,
        &["commit", "-q", "-m", "reports with global resources"],
    );

    git(root, &["checkout", "-q", "-b", "other"]);
    write_file(root, "global/shared/input.csv", OTHER_INPUT, false);
    git(root, &["commit", "-q", "-am", "other counts"]);
    git(root, &["checkout", "-q", "main"]);
    git(root, &["checkout", "-q", "-b", "no-folder"]);
    write_file(root, "orderly_config.yml", "database: {}\n", false);
    git(root, &["commit", "-q", "-am", "no global folder"]);
    git(root, &["checkout", "-q", "main"]);
}

/// The app over the repository, and a user with every reports permission.
async fn setup(repo: &Path) -> (TestApp, ReportsClient) {
    let app = TestApp::builder()
        .env("BATON_REPORTS_REPO", &repo.display().to_string())
        .workers(1)
        .worker_env("BATON_BLOCK_MS", "100")
        .spawn()
        .await;
    let client =
        ReportsClient::login(&app, "analyst", "reports.read,reports.review,reports.run").await;
    (app, client)
}

#[tokio::test]
async fn a_global_resource_is_copied_in_before_the_script_and_recorded_among_the_resources() {
    let repo = tempfile::tempdir().unwrap();
    repository(repo.path());
    let (_app, client) = setup(repo.path()).await;

    let key = client.run("totals", json!({})).await;
    let status = client.finished(&key).await;
    assert_eq!(status["status"], "success", "{status}");
    let md5 = md5_hex(INPUT.as_bytes());
    let log = status["output"].to_string();
    assert!(
        log.contains(&format!("[ global ] data.csv <= shared/input.csv ({md5})")),
        "{log}"
    );
    let version = status["version"].as_str().unwrap().to_owned();

    // The script read the copy: its artefact is derived from it.
    let total = client
        .bytes(&format!(
            "/api/v1/reports/totals/versions/{version}/artefacts/total.txt/"
        ))
        .await;
    assert_eq!(total, b"4\n");

    // Among the version's resources, as any resource, and kept apart as global.
    let details = client.version("totals", &version).await;
    assert_eq!(
        details["resources"],
        json!([{"name": "data.csv", "size": INPUT.len()}]),
        "{details}"
    );
    assert_eq!(
        details["global_resources"],
        json!([{"name": "data.csv", "source": "shared/input.csv", "md5": md5}]),
        "{details}"
    );
    let (code, listed) = client
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/reports/totals/versions/{version}/resources/"),
            None,
        )
        .await;
    assert_eq!(code, 200, "{listed}");
    assert_eq!(listed["data"], json!({"data.csv": md5}));
    let downloaded = client
        .bytes(&format!(
            "/api/v1/reports/totals/versions/{version}/resources/data.csv/"
        ))
        .await;
    assert_eq!(downloaded, INPUT.as_bytes());

    // The global folder is read at the run's commit, not from the checked-out tree.
    let key = client.run("totals", json!({"gitBranch": "other"})).await;
    let status = client.finished(&key).await;
    assert_eq!(status["status"], "success", "{status}");
    let other = status["version"].as_str().unwrap();
    let total = client
        .bytes(&format!(
            "/api/v1/reports/totals/versions/{other}/artefacts/total.txt/"
        ))
        .await;
    assert_eq!(total, b"10\n");
    let details = client.version("totals", other).await;
    assert_eq!(
        details["global_resources"][0]["md5"],
        md5_hex(OTHER_INPUT.as_bytes())
    );
}

#[tokio::test]
async fn a_missing_global_resource_or_folder_fails_the_run_naming_the_file() {
    let repo = tempfile::tempdir().unwrap();
    repository(repo.path());
    let (_app, client) = setup(repo.path()).await;

    for (report, body, expected) in [
        (
            "gone",
            json!({}),
            "global resource 'data.csv': 'shared/gone.csv' is not a file of the global \
             resources folder 'global'",
        ),
        (
            "totals",
            json!({"gitBranch": "no-folder"}),
            "global resource 'data.csv' cannot be found: orderly_config.yml declares no \
             'global_resources' folder",
        ),
    ] {
        let key = client.run(report, body).await;
        let status = client.finished(&key).await;
        assert_eq!(status["status"], "error", "{status}");
        let log = status["output"].to_string();
        assert!(log.contains(expected), "{report}: {log}");
        assert!(!log.contains("never"), "the script must not run: {log}");
        assert!(status["version"].is_null(), "{status}");
        // No version was made.
        let (code, answer) = client
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/reports/{report}/"),
                None,
            )
            .await;
        assert_eq!(code, 404, "{report} has no version: {answer}");
    }
    let (code, versions) = client
        .call(reqwest::Method::GET, "/api/v1/versions/", None)
        .await;
    assert_eq!((code, &versions["data"]), (200, &json!([])), "{versions}");
}

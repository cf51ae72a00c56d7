//! End-to-end tests of report runs on the engine: a real git repository of reports, a real
//! `baton-worker` process, a real `redis-server`, and the local artefact store.

use std::path::Path;
use std::time::Duration;

use baton_tests::process::BatonProcess;
use baton_tests::redis_server::RedisServer;
use baton_tests::unique_prefix;
use common::engine::model::{RunKind, RunSpec, RunStatus};
use common::reports::artefacts::{ArtefactStore, md5_hex};
use common::reports::version::{ChangelogEntry, DATA_FOLDER, VersionRecord};
use common::store::Store;
use common::store::engine::runs::RunView;
use common::test_support::{git, write_file};
use serde_json::{Value, json};

/// A repository with a working parameterised report (with a data extract, a README and a
/// changelog), one that forgets its artefact, and one whose changelog is broken.
fn reports_repository(dir: &Path) -> String {
    git(dir, &["init", "-q", "-b", "main"]);
    write_file(
        dir,
        "src/minimal/orderly.yml",
        "script: run.sh\nartefacts:\n  - data:\n      description: The table\n      filenames: out.csv\nresources:\n  - input.csv\nparameters:\n  - n\ndata:\n  dat:\n    csv: dat.csv\ndisplayname: Minimal example\n",
        false,
    );
    write_file(dir, "src/minimal/input.csv", "name,number\n", false);
    write_file(dir, "src/minimal/README.md", "# Minimal\n", false);
    write_file(
        dir,
        "src/minimal/changelog.txt",
        "[public]\nFirst version\n",
        false,
    );
    write_file(
        dir,
        "src/minimal/run.sh",
        "#!/bin/sh\necho \"making $n\"\ncp input.csv out.csv\necho \"x,$n\" >> out.csv\necho \"v,$ORDERLY_VERSION\" > dat.csv\n",
        true,
    );
    write_file(
        dir,
        "src/unlogged/orderly.yml",
        "script: run.sh\nartefacts:\n  - data: {filenames: out.csv}\n",
        false,
    );
    write_file(dir, "src/unlogged/run.sh", "echo a > out.csv\n", false);
    write_file(
        dir,
        "src/unlogged/changelog.txt",
        "written before any label\n",
        false,
    );
    write_file(
        dir,
        "src/forgetful/orderly.yml",
        "script: run.sh\nartefacts:\n  - staticgraph: {filenames: graph.png}\n",
        false,
    );
    write_file(
        dir,
        "src/forgetful/run.sh",
        "echo 'drawing nothing'\n",
        false,
    );
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", "reports"]);
    git(dir, &["rev-parse", "HEAD"])
}

fn report_run(report: &str, commit: &str, params: Value, version: &str) -> RunSpec {
    report_run_with(
        json!({"type": "report", "report": report, "commit": commit, "params": params, "version": version}),
    )
}

fn report_run_with(executor: Value) -> RunSpec {
    let report = executor["report"].as_str().unwrap().to_owned();
    let mut spec = RunSpec {
        kind: RunKind::Report,
        ..RunSpec::one_task(&format!("report.{report}"), &report, executor, Value::Null)
    };
    spec.tasks[0].max_retries = 2;
    spec.tasks[0].timeout_secs = Some(60);
    spec
}

async fn finished(store: &Store, id: &str) -> RunView {
    let done = baton_tests::wait::poll_for(Duration::from_secs(20), || async {
        store
            .get_run(id)
            .await
            .unwrap()
            .filter(|run| run.status.is_finished())
    })
    .await;
    match done {
        Some(run) => run,
        None => panic!(
            "the report run did not finish: {:?}",
            store.get_run(id).await.unwrap()
        ),
    }
}

#[tokio::test]
async fn a_report_run_stores_its_version_and_checks_artefacts_and_parameters() {
    let redis = RedisServer::start();
    let prefix = unique_prefix();
    let repo = tempfile::tempdir().unwrap();
    let commit = reports_repository(repo.path());
    let artefacts_dir = tempfile::tempdir().unwrap();
    let store = redis.store(&prefix).await;
    let url = redis.url();
    let repo_path = repo.path().display().to_string();
    let artefacts_path = artefacts_dir.path().display().to_string();
    let _worker = BatonProcess::spawn(
        "baton-worker",
        &[],
        &[
            ("BATON_REDIS_URL", url.as_str()),
            ("BATON_PREFIX", prefix.as_str()),
            ("BATON_REPORTS_REPO", repo_path.as_str()),
            ("BATON_ARTEFACTS", artefacts_path.as_str()),
            ("BATON_RETRY_BASE_MS", "100"),
        ],
    );

    // Retries wait in the delayed set until the scheduler promotes them.
    let _scheduler = BatonProcess::spawn(
        "baton-scheduler",
        &[],
        &[
            ("BATON_REDIS_URL", url.as_str()),
            ("BATON_PREFIX", prefix.as_str()),
            ("BATON_TICK_MS", "50"),
        ],
    );

    let id = store
        .create_run(&report_run_with(json!({
            "type": "report",
            "report": "minimal",
            "commit": commit,
            "params": {"n": 7},
            "version": "20240102-030405-0a1b2c3d",
            "changelog": {"message": "Rerun for the test", "type": "internal"},
        })))
        .await
        .unwrap();
    let run = finished(&store, &id).await;
    assert_eq!(run.status, RunStatus::Success, "{:?}", run.tasks[0].error);
    let version: VersionRecord =
        serde_json::from_value(run.tasks[0].result.clone().unwrap()).unwrap();
    assert_eq!(version.id, "20240102-030405-0a1b2c3d");
    assert_eq!(version.date, "2024-01-02 03:04:05.0");
    assert_eq!(version.displayname.as_deref(), Some("Minimal example"));
    assert_eq!(
        version.parameter_values,
        *json!({"n": 7}).as_object().unwrap()
    );
    assert_eq!(version.git_commit.as_deref(), Some(commit.as_str()));
    let file = &version.artefacts[0].files[0];
    assert_eq!(file.name, "out.csv");
    let store_files = ArtefactStore::open(&artefacts_path).unwrap();
    let bytes = store_files
        .get("20240102-030405-0a1b2c3d", "out.csv")
        .await
        .unwrap();
    assert_eq!(&bytes[..], b"name,number\nx,7\n");
    assert_eq!(
        file.md5,
        md5_hex(&bytes),
        "the recorded md5 is the stored bytes'"
    );
    let resources: Vec<&str> = version.resources.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(resources, ["input.csv"]);
    assert_eq!(version.readme.as_deref(), Some("README.md"));
    assert_eq!(
        &store_files
            .get("20240102-030405-0a1b2c3d", "README.md")
            .await
            .unwrap()[..],
        b"# Minimal\n"
    );
    assert_eq!(
        version.changelog,
        vec![
            ChangelogEntry {
                label: "internal".into(),
                value: "Rerun for the test".into(),
                from_file: false,
            },
            ChangelogEntry {
                label: "public".into(),
                value: "First version".into(),
                from_file: true,
            },
        ]
    );
    let extract = &version.data[0];
    assert_eq!(extract.name, "dat");
    let csv = store_files
        .get(DATA_FOLDER, &format!("{}.csv", extract.csv.md5))
        .await
        .unwrap();
    assert_eq!(&csv[..], b"v,20240102-030405-0a1b2c3d\n");
    assert_eq!(extract.csv.md5, md5_hex(&csv));
    let log: Vec<String> = store
        .read_log(&id, None, None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.line)
        .collect();
    assert!(log.contains(&"making 7".to_owned()), "{log:?}");
    assert!(
        log.iter()
            .any(|line| line.starts_with("[ artefact ] out.csv: "))
    );

    let forgetful = store
        .create_run(&report_run(
            "forgetful",
            &commit,
            json!({}),
            "20240102-030405-00000001",
        ))
        .await
        .unwrap();
    let run = finished(&store, &forgetful).await;
    assert_eq!(run.status, RunStatus::Error);
    assert!(
        run.tasks[0]
            .error
            .as_deref()
            .unwrap()
            .contains("declared staticgraph artefact 'graph.png'")
    );

    let unlogged = store
        .create_run(&report_run(
            "unlogged",
            &commit,
            json!({}),
            "20240102-030405-00000004",
        ))
        .await
        .unwrap();
    let run = finished(&store, &unlogged).await;
    assert_eq!(run.status, RunStatus::Error);
    assert_eq!(run.tasks[0].attempt, 1, "a broken changelog is not retried");
    let error = run.tasks[0].error.as_deref().unwrap();
    assert!(
        error.contains(
            "report 'unlogged': changelog.txt line 1: text before the first [label] line"
        ),
        "{error}"
    );

    for (params, expected) in [
        (json!({}), "missing parameters: n"),
        (json!({"n": 1, "m": 2}), "undeclared parameters: m"),
    ] {
        let bad = store
            .create_run(&report_run(
                "minimal",
                &commit,
                params,
                "20240102-030405-00000002",
            ))
            .await
            .unwrap();
        let run = finished(&store, &bad).await;
        assert_eq!(run.status, RunStatus::Error);
        assert_eq!(run.tasks[0].attempt, 1, "bad parameters are not retried");
        assert!(run.tasks[0].error.as_deref().unwrap().contains(expected));
    }
    let unknown = store
        .create_run(&report_run(
            "nosuch",
            &commit,
            json!({}),
            "20240102-030405-00000003",
        ))
        .await
        .unwrap();
    let run = finished(&store, &unknown).await;
    assert!(run.tasks[0].error.as_deref().unwrap().contains("nosuch"));
}

#[tokio::test]
async fn a_version_id_is_held_by_one_owner_until_its_version_is_recorded() {
    use common::store::reports::VersionOwner;

    let redis = RedisServer::start();
    let store = redis.store(&unique_prefix()).await;
    let id = "20240102-030405-0a1b2c3d";
    let run = VersionOwner::run("run-1");
    let import = VersionOwner::import();
    assert!(store.reserve_version(id, &run).await.unwrap());
    assert!(
        store.reserve_version(id, &run).await.unwrap(),
        "a run executed again still holds its own id"
    );
    assert!(!store.reserve_version(id, &import).await.unwrap());
    assert!(
        !store
            .reserve_version(id, &VersionOwner::import())
            .await
            .unwrap()
    );
    store.release_version(id, &import).await.unwrap();
    assert!(
        store.reserve_version(id, &run).await.unwrap(),
        "only the holder gives an id up"
    );

    // An import that failed gives its id up; a recorded version keeps it for good.
    let other = "20240102-030405-0e0f0a0b";
    assert!(store.reserve_version(other, &import).await.unwrap());
    store.release_version(other, &import).await.unwrap();
    let record: VersionRecord = serde_json::from_value(json!({
        "id": other, "name": "minimal", "date": "2024-01-02 03:04:05.0",
    }))
    .unwrap();
    assert!(store.insert_version(&record).await.unwrap());
    assert!(
        !store
            .reserve_version(other, &VersionOwner::import())
            .await
            .unwrap()
    );
    assert!(!store.reserve_version(other, &run).await.unwrap());
}

#[tokio::test]
async fn lists_read_each_version_by_its_summary_and_versions_stored_before_summaries_too() {
    use common::store::reports::Versions;
    use redis::Commands;

    let redis = RedisServer::start();
    let prefix = unique_prefix();
    let store = redis.store(&prefix).await;
    let version = |id: &str, resources: Value| -> VersionRecord {
        serde_json::from_value(json!({
            "id": id, "name": "minimal", "displayname": "Minimal", "description": "d",
            "date": "2024-01-02 03:04:05.0", "author": "a", "requester": "r",
            "resources": resources, "git_branch": "main", "git_commit": "0a1b2c3d4e5f",
            "changelog": [{"label": "public", "value": "x".repeat(10_000), "from_file": true}],
        }))
        .unwrap()
    };
    let old = version(
        "20240102-030405-00000001",
        json!([{"name": "in.csv", "size": 1, "md5": "0"}]),
    );
    let new = version("20240102-030405-00000002", json!([]));
    assert!(store.insert_version(&old).await.unwrap());
    assert!(store.insert_version(&new).await.unwrap());
    assert!(store.set_published(&old.id, true).await.unwrap());

    // The summary holds what lists show, not the record's long parts.
    let mut redis_connection = redis.client().get_connection().unwrap();
    let summary_json: String = redis_connection
        .hget(
            format!("{prefix}:{{reports}}:version:{}", new.id),
            "listing",
        )
        .unwrap_or_default();
    assert!(
        summary_json.contains("\"displayname\":\"Minimal\""),
        "{summary_json}"
    );
    assert!(summary_json.len() < 400, "{} bytes", summary_json.len());
    // Lists never read the record of a version that has a summary: one they could not parse
    // does not stop them.
    let new_key = format!("{prefix}:{{reports}}:version:{}", new.id);
    let _: i64 = redis_connection
        .hset(&new_key, "record", "not a record")
        .unwrap();

    // A version stored before summaries were, or with a summary of before they held the
    // commit, is listed from its record.
    let key = format!("{prefix}:{{reports}}:version:{}", old.id);
    let _: i64 = redis_connection.hdel(&key, "listing").unwrap();
    let _: i64 = redis_connection
        .hset(&key, "summary", r#"{"id":"x","name":"minimal","date":"?"}"#)
        .unwrap();
    let listed = store.all_versions().await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|v| v.summary.id.as_str()).collect();
    assert_eq!(ids, [old.id.as_str(), new.id.as_str()]);
    assert_eq!(listed[0].summary.resources, ["in.csv"]);
    assert!(listed[0].published && !listed[1].published);
    assert_eq!(listed[1].summary.requester.as_deref(), Some("r"));
    for version in &listed {
        assert_eq!(version.summary.git_branch.as_deref(), Some("main"));
        assert_eq!(version.summary.git_commit.as_deref(), Some("0a1b2c3d4e5f"));
    }
    let of_report = store.report_summaries("minimal").await.unwrap();
    assert_eq!(of_report, listed);

    let latest = store
        .latest_versions(&[
            ("minimal", Versions::Published),
            ("minimal", Versions::All),
            ("none", Versions::All),
        ])
        .await
        .unwrap();
    assert_eq!(latest[0].as_ref().unwrap().summary.id, old.id);
    assert_eq!(latest[1].as_ref().unwrap().summary.id, new.id);
    assert!(latest[2].is_none());
}

#[tokio::test]
async fn changelogs_read_each_versions_entries_not_its_record_and_versions_stored_before_too() {
    use common::reports::changelog::changelog_for;
    use redis::Commands;

    let redis = RedisServer::start();
    let prefix = unique_prefix();
    let store = redis.store(&prefix).await;
    let version = |id: &str, entries: Value| -> VersionRecord {
        serde_json::from_value(json!({
            "id": id, "name": "minimal", "date": "2024-01-02 03:04:05.0",
            "changelog": entries,
            "artefacts": [{"format": "data", "description": "big", "files": [
                {"name": "out.csv", "size": 1, "md5": "0"}]}],
        }))
        .unwrap()
    };
    let first = version(
        "20240102-030405-00000001",
        json!([{"label": "public", "value": "first", "from_file": true}]),
    );
    let second = version(
        "20240102-030405-00000002",
        json!([
            {"label": "internal", "value": "second", "from_file": true},
            {"label": "public", "value": "first", "from_file": true},
        ]),
    );
    let third = version("20240102-030405-00000003", json!([]));
    for record in [&first, &second, &third] {
        assert!(store.insert_version(record).await.unwrap());
    }
    assert!(store.set_published(&second.id, true).await.unwrap());

    let mut redis_connection = redis.client().get_connection().unwrap();
    let key = |id: &str| format!("{prefix}:{{reports}}:version:{id}");
    // A changelog never reads the record of a version that stores its entries: one it could
    // not parse does not stop it.
    let _: i64 = redis_connection
        .hset(key(&second.id), "record", "not a record")
        .unwrap();
    // A version stored before entries were stored beside the record is read from its record.
    let _: i64 = redis_connection.hdel(key(&first.id), "changelog").unwrap();

    let listed = store.report_changes("minimal").await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|v| v.changes.id.as_str()).collect();
    assert_eq!(ids, [&first.id, &second.id, &third.id]);
    assert_eq!(listed[0].changes.entries, first.changelog);
    assert_eq!(listed[1].changes.entries, second.changelog);
    assert!(third.changelog.is_empty() && listed[2].changes.entries.is_empty());
    assert!(!listed[0].published && listed[1].published && !listed[2].published);

    let shown: Vec<(String, String)> = changelog_for(
        listed.iter().map(|v| &v.changes),
        &third.id,
        &|_| true,
        true,
    )
    .into_iter()
    .map(|entry| (entry.report_version, entry.value))
    .collect();
    assert_eq!(
        shown,
        [
            (second.id.clone(), "second".to_owned()),
            (first.id.clone(), "first".to_owned()),
        ]
    );
    assert!(store.report_changes("none").await.unwrap().is_empty());
}

//! End-to-end tests of publishing the definitions as one versioned set: API servers with the
//! same files agree, one with other files refuses to start (so the periodic workflows another
//! serves keep firing) unless told to replace them. Real `baton-api`, `baton-worker` and
//! `baton-scheduler` processes and a real `redis-server`.

use std::time::Duration;

use baton_tests::TestApp;
use baton_tests::process::BatonProcess;
use baton_tests::wait::wait_for;

const FIRST: &str = "example.TICK:\n  tasks: [noop]\n  periodic:\n    interval: 1\n\
                     example.ONCE:\n  tasks: [noop]\n";
const OTHER: &str = "example.ONCE:\n  tasks: [probe]\nexample.NEW:\n  tasks: [noop]\n";

/// Periodic runs of `example.TICK` created so far.
async fn ticks(app: &TestApp) -> usize {
    let store = app.store().await;
    let query = common::store::run_index::RunQuery {
        definitions: vec!["example.TICK".into()],
        ..common::store::run_index::RunQuery::new(common::model::RunKind::Workflow, 1000)
    };
    store.list_runs(&query).await.unwrap().runs.len()
}

/// Starts another `baton-api` on the app's Redis with the definitions `yaml`.
fn another_api(
    app: &TestApp,
    yaml: &str,
    extra: &[(&str, &str)],
) -> (BatonProcess, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("flows.yml"), yaml).unwrap();
    let definitions = dir.path().display().to_string();
    let mut env = vec![
        ("BATON_LISTEN", "127.0.0.1:0"),
        ("BATON_DEFINITIONS", definitions.as_str()),
    ];
    env.extend_from_slice(extra);
    (app.spawn_process("baton-api", &[], &env), dir)
}

#[tokio::test]
async fn a_server_with_other_definitions_refuses_to_replace_them_unless_told() {
    let app = TestApp::builder()
        .definitions(FIRST)
        .workers(1)
        .scheduler(true)
        .spawn()
        .await;
    wait_for(
        Duration::from_secs(20),
        "the periodic workflow fires",
        || async { (ticks(&app).await >= 1).then_some(()) },
    )
    .await;

    // Other files: refused, saying what differs, and nothing changes.
    let (mut refused, _dir) = another_api(&app, OTHER, &[]);
    let status = refused
        .wait_exit_async(Duration::from_secs(15))
        .await
        .expect("a server with other definitions refuses to start");
    assert!(!status.success());
    let log = refused.log();
    for expected in [
        "added: example.NEW",
        "removed: example.TICK",
        "changed: example.ONCE",
        "BATON_REPLACE_DEFINITIONS",
    ] {
        assert!(log.contains(expected), "{expected}: {log}");
    }
    let before = ticks(&app).await;
    wait_for(
        Duration::from_secs(20),
        "the periodic workflow keeps firing",
        || async { (ticks(&app).await > before).then_some(()) },
    )
    .await;
    let names: Vec<String> = app
        .store()
        .await
        .definitions()
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(names, ["example.ONCE", "example.TICK"]);

    // The same files: it agrees and serves.
    let (mut agreeing, _same) = another_api(&app, FIRST, &[]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(agreeing.is_running(), "{}", agreeing.log());
    assert!(
        agreeing
            .log()
            .contains("definitions agree with the published set"),
        "{}",
        agreeing.log()
    );

    // Told to replace: the new set is published, and the old periodic workflow stops.
    let (mut replacing, _new) = another_api(&app, OTHER, &[("BATON_REPLACE_DEFINITIONS", "true")]);
    let replaced = wait_for(
        Duration::from_secs(15),
        "the new set is published",
        || async {
            let names: Vec<String> = app
                .store()
                .await
                .definitions()
                .await
                .unwrap()
                .into_iter()
                .map(|d| d.name)
                .collect();
            (names == ["example.NEW", "example.ONCE"]).then_some(names)
        },
    )
    .await;
    assert_eq!(replaced.len(), 2);
    assert!(replacing.is_running(), "{}", replacing.log());
    assert!(
        replacing.log().contains("removed: example.TICK"),
        "{}",
        replacing.log()
    );
}

//! End-to-end tests of publishing the definitions as one versioned set: API servers with the
//! same files agree, one with other files refuses to start (so the periodic workflows another
//! serves keep firing) unless told to replace them. Real `baton-api`, `baton-worker` and
//! `baton-scheduler` processes and a real `redis-server`.

use std::time::Duration;

use baton_tests::TestApp;
use baton_tests::wait::wait_for;
use common::engine::model::RunKind;
use common::store::engine::run_index::RunQuery;

const FIRST: &str = "example.TICK:\n  tasks: [noop]\n  periodic:\n    interval: 1\n\
                     example.ONCE:\n  tasks: [noop]\n";
const OTHER: &str = "example.ONCE:\n  tasks: [probe]\nexample.NEW:\n  tasks: [noop]\n";

/// Periodic runs of `example.TICK` created so far.
async fn ticks(app: &TestApp) -> usize {
    let query = RunQuery {
        definitions: vec!["example.TICK".into()],
        ..RunQuery::new(RunKind::Workflow, 1000)
    };
    let store = app.store().await;
    store.list_runs(&query).await.unwrap().runs.len()
}

/// The names of the published definitions.
async fn published(app: &TestApp) -> Vec<String> {
    let definitions = app.store().await.definitions().await.unwrap();
    definitions.into_iter().map(|d| d.name).collect()
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
    let log = app.refused_api(&[("flows.yml", OTHER)], &[]).await;
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
    assert_eq!(published(&app).await, ["example.ONCE", "example.TICK"]);

    // The same files: it agrees and serves.
    let mut agreeing = app.other_api(&[("flows.yml", FIRST)], &[]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let log = agreeing.process.log();
    assert!(agreeing.process.is_running(), "{log}");
    assert!(
        log.contains("definitions agree with the published set"),
        "{log}"
    );

    // Told to replace: the new set is published, saying what it replaced.
    let mut replacing = app.other_api(
        &[("flows.yml", OTHER)],
        &[("BATON_REPLACE_DEFINITIONS", "true")],
    );
    wait_for(
        Duration::from_secs(15),
        "the new set is published",
        || async { (published(&app).await == ["example.NEW", "example.ONCE"]).then_some(()) },
    )
    .await;
    // The set is published before the server logs what it replaced: wait for the line.
    wait_for(
        Duration::from_secs(10),
        "the replacement is logged",
        || async {
            replacing
                .process
                .log()
                .contains("removed: example.TICK")
                .then_some(())
        },
    )
    .await;
    let log = replacing.process.log();
    assert!(replacing.process.is_running(), "{log}");
}

//! Reports' data queries end to end: a repository whose `orderly_config.yml` declares a
//! SQLite file and a PostgreSQL server (with two instances), reports whose `data:` queries
//! run against them before their scripts, through the reports front over a real socket, with
//! real `baton-api` and `baton-worker` processes, a real `redis-server` and a real
//! PostgreSQL server started for the test.

use std::path::Path;

use baton_tests::TestApp;
use baton_tests::postgres::{PostgresServer, USER};
use baton_tests::reports_client::ReportsClient;
use common::reports::artefacts::md5_hex;
use common::test_support::{git, write_file};
use serde_json::json;
use sqlx::Connection;

/// Fills the SQLite file `source.sqlite` at the repository's root.
async fn make_sqlite(root: &Path) {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(root.join("source.sqlite"))
        .create_if_missing(true);
    let mut db = sqlx::SqliteConnection::connect_with(&options)
        .await
        .unwrap();
    for statement in [
        "CREATE TABLE things (name TEXT, n INTEGER, weight REAL, note TEXT)",
        "INSERT INTO things VALUES ('apple', 3, 1.5, 'red, round'), ('pear', 1, 0.25, NULL)",
    ] {
        sqlx::query(statement).execute(&mut db).await.unwrap();
    }
    db.close().await.unwrap();
}

/// Makes the databases `production` and `staging` on the server, each with a `region`
/// table naming itself.
async fn make_postgres(server: &PostgresServer) {
    let mut admin = sqlx::PgConnection::connect(&server.url("postgres"))
        .await
        .unwrap();
    for name in ["production", "staging"] {
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        let mut db = sqlx::PgConnection::connect(&server.url(name))
            .await
            .unwrap();
        sqlx::query("CREATE TABLE region (code TEXT, population BIGINT, measured DATE)")
            .execute(&mut db)
            .await
            .unwrap();
        sqlx::query(&format!(
            "INSERT INTO region VALUES ('{name}-north', 1200, '2026-01-31'), \
             ('{name}-south', 800, NULL)"
        ))
        .execute(&mut db)
        .await
        .unwrap();
        db.close().await.unwrap();
    }
    admin.close().await.unwrap();
}

/// The repository: `counts` queries both databases and copies their extracts into its
/// artefact; `broken` asks for a table that does not exist.
fn make_repository(root: &Path, postgres: &PostgresServer) {
    git(root, &["init", "-q", "-b", "main"]);
    write_file(
        root,
        "orderly_config.yml",
        &format!(
            "database:\n  source:\n    driver: RSQLite::SQLite\n    args:\n      dbname: source.sqlite\n  warehouse:\n    driver: RPostgres::Postgres\n    args:\n      host: 127.0.0.1\n      port: {}\n      user: {USER}\n      password: $ORDERLY_WAREHOUSE_PASSWORD\n      dbname: postgres\n    instances:\n      production: {{dbname: production}}\n      staging: {{dbname: staging}}\n    default_instance: staging\n",
            postgres.port()
        ),
        false,
    );
    write_file(
        root,
        "src/counts/orderly.yml",
        "script: run.sh\ndata:\n  things:\n    query: SELECT name, n, weight, note FROM things ORDER BY n\n    database: source\n  regions:\n    query: regions.sql\n    database: warehouse\nartefacts:\n  - data: {description: Both extracts, filenames: summary.csv}\n",
        false,
    );
    write_file(
        root,
        "src/counts/regions.sql",
        "-- every region, largest first\nSELECT code, population, measured\nFROM region\nORDER BY population DESC;\n",
        false,
    );
    write_file(
        root,
        "src/counts/run.sh",
        "#!/bin/sh\nset -e\ntest -z \"$ORDERLY_WAREHOUSE_PASSWORD\"\ncat things.csv regions.csv > summary.csv\ncat summary.csv\n",
        true,
    );
    write_file(
        root,
        "src/broken/orderly.yml",
        "script: run.sh\ndata:\n  missing:\n    query: SELECT nope FROM no_such_table\n    database: warehouse\n",
        false,
    );
    write_file(root, "src/broken/run.sh", "echo never\n", false);
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "reports with data queries"]);
}

/// The app, its repository and database servers, and a user with every reports permission.
struct Setup {
    client: ReportsClient,
    _app: TestApp,
    _postgres: PostgresServer,
    _repo: tempfile::TempDir,
}

async fn setup() -> Setup {
    let postgres = PostgresServer::start();
    make_postgres(&postgres).await;
    let repo = tempfile::tempdir().unwrap();
    make_repository(repo.path(), &postgres);
    make_sqlite(repo.path()).await;
    let app = TestApp::builder()
        .env("BATON_REPORTS_REPO", &repo.path().display().to_string())
        .workers(1)
        .worker_env("ORDERLY_WAREHOUSE_PASSWORD", postgres.password())
        .worker_env("BATON_BLOCK_MS", "100")
        .spawn()
        .await;
    let client =
        ReportsClient::login(&app, "analyst", "reports.read,reports.review,reports.run").await;
    Setup {
        client,
        _app: app,
        _postgres: postgres,
        _repo: repo,
    }
}

const THINGS_CSV: &str = "name,n,weight,note\npear,1,0.25,\napple,3,1.5,\"red, round\"\n";

fn regions_csv(instance: &str) -> String {
    format!("code,population,measured\n{instance}-north,1200,2026-01-31\n{instance}-south,800,\n")
}

#[tokio::test]
async fn queries_against_sqlite_and_postgres_make_extracts_for_the_script_and_the_data_routes() {
    let setup = setup().await;
    let client = &setup.client;

    // The instance the run asks for.
    let key = client
        .run("counts", json!({"instances": {"warehouse": "production"}}))
        .await;
    let status = client.finished(&key).await;
    assert_eq!(status["status"], "success", "{status}");
    let log = status["output"].to_string();
    assert!(log.contains("things: from source into things.csv"), "{log}");
    assert!(
        log.contains("regions: from warehouse (production)"),
        "{log}"
    );
    let version = status["version"].as_str().unwrap().to_owned();
    let details = client.version("counts", &version).await;
    assert_eq!(details["instances"], json!({"warehouse": "production"}));

    // Each extract is recorded with the md5 of exactly the query's CSV, and served by it.
    for (name, expected) in [
        ("things", THINGS_CSV.to_owned()),
        ("regions", regions_csv("production")),
    ] {
        let md5 = md5_hex(expected.as_bytes());
        let data = client
            .bytes(&format!(
                "/api/v1/reports/counts/versions/{version}/data/{name}/?type=csv"
            ))
            .await;
        assert_eq!(String::from_utf8(data).unwrap(), expected, "{name}");
        let by_hash = client.bytes(&format!("/api/v1/data/csv/{md5}/")).await;
        assert_eq!(by_hash, expected.as_bytes(), "{name} by its md5");
    }
    // The script read both files (and never saw the database password).
    let summary = client
        .bytes(&format!(
            "/api/v1/reports/counts/versions/{version}/artefacts/summary.csv/"
        ))
        .await;
    assert_eq!(
        String::from_utf8(summary).unwrap(),
        format!("{THINGS_CSV}{}", regions_csv("production"))
    );

    // Without instances, the database's default instance.
    let key = client.run("counts", json!({})).await;
    let status = client.finished(&key).await;
    assert_eq!(status["status"], "success", "{status}");
    let version = status["version"].as_str().unwrap();
    let data = client
        .bytes(&format!(
            "/api/v1/reports/counts/versions/{version}/data/regions/?type=csv"
        ))
        .await;
    assert_eq!(String::from_utf8(data).unwrap(), regions_csv("staging"));
}

#[tokio::test]
async fn a_failing_query_fails_the_run_naming_it_and_unknown_instances_are_refused() {
    let setup = setup().await;
    let client = &setup.client;
    let key = client.run("broken", json!({})).await;
    let status = client.finished(&key).await;
    assert_eq!(status["status"], "error", "{status}");
    let log = status["output"].to_string();
    assert!(
        log.contains("data 'missing': the query failed on database 'warehouse'")
            && log.contains("no_such_table"),
        "{log}"
    );
    assert!(!log.contains("never"), "the script must not run: {log}");

    for instances in [
        json!({"warehouse": "nowhere"}),
        json!({"elsewhere": "production"}),
    ] {
        let (status, answer) = client
            .call(
                reqwest::Method::POST,
                "/api/v1/reports/counts/run/",
                Some(json!({"instances": instances})),
            )
            .await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["status"], "failure");
        let message = answer["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains("instances"), "{answer}");
    }
}

#[tokio::test]
async fn an_unreachable_postgres_server_fails_the_run_naming_the_query_and_makes_no_version() {
    // A port nothing listens on: the connection is refused.
    let port = baton_tests::signed_http::free_port();
    let repo = tempfile::tempdir().unwrap();
    let root = repo.path();
    git(root, &["init", "-q", "-b", "main"]);
    write_file(
        root,
        "orderly_config.yml",
        &format!(
            "database:\n  warehouse:\n    driver: RPostgres::Postgres\n    args: {{host: 127.0.0.1, port: {port}, user: {USER}, dbname: postgres}}\n"
        ),
        false,
    );
    write_file(
        root,
        "src/unreachable/orderly.yml",
        "script: run.sh\ndata:\n  regions:\n    query: SELECT code FROM region\nartefacts:\n  - data: {description: Regions, filenames: out.csv}\n",
        false,
    );
    write_file(
        root,
        "src/unreachable/run.sh",
        "echo never\ncp regions.csv out.csv\n",
        false,
    );
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "a database that is down"]);
    let app = TestApp::builder()
        .env("BATON_REPORTS_REPO", &root.display().to_string())
        .workers(1)
        .worker_env("BATON_BLOCK_MS", "100")
        .spawn()
        .await;
    let client =
        ReportsClient::login(&app, "analyst", "reports.read,reports.review,reports.run").await;

    let key = client.run("unreachable", json!({})).await;
    let status = client.finished(&key).await;
    assert_eq!(status["status"], "error", "{status}");
    let log = status["output"].to_string();
    assert!(
        log.contains("data 'regions': cannot connect to database 'warehouse'"),
        "{log}"
    );
    assert!(
        log.to_lowercase().contains("connection refused"),
        "the connection's error is named: {log}"
    );
    assert!(!log.contains("never"), "the script must not run: {log}");
    assert!(status["version"].is_null(), "{status}");
    let (code, answer) = client
        .call(reqwest::Method::GET, "/api/v1/reports/unreachable/", None)
        .await;
    assert_eq!(code, 404, "no version was made: {answer}");
    let (code, versions) = client
        .call(reqwest::Method::GET, "/api/v1/versions/", None)
        .await;
    assert_eq!((code, &versions["data"]), (200, &json!([])), "{versions}");
}

//! Services started while Redis cannot be reached wait for it (up to
//! `BATON_CONNECT_PATIENCE_SECS`) and then work, and so do a worker whose connection drops
//! while it prepares its queues and an API server whose connection drops while it publishes
//! its definitions; past their patience, or with a password Redis refuses, they
//! exit with the reason.

use std::time::Duration;

use baton_tests::runs::echo_run;
use baton_tests::{BatonProcess, TestApp, Topology, wait_for, wait_until};
use common::engine::model::{RunSpec, RunStatus};

/// How long a service may take to notice Redis is back and connect.
const RECONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// An app on one Redis server with no Baton process running yet.
async fn bare_app(password: Option<&str>) -> TestApp {
    let mut builder = TestApp::builder()
        .topology(Topology::Single)
        .api(false)
        .scheduler(false)
        .workers(0);
    if let Some(password) = password {
        builder = builder.redis_password(password);
    }
    builder.spawn().await
}

/// Waits until `process` exits; panics with its log when it does not within `timeout`.
async fn exit_of(process: &mut BatonProcess, timeout: Duration) -> String {
    let status = process.wait_exit_async(timeout).await.unwrap_or_else(|| {
        panic!(
            "{} did not exit within {timeout:?}: {}",
            process.name(),
            process.log_tail(20)
        )
    });
    assert!(!status.success(), "{}", process.log_tail(20));
    process.log()
}

/// Creates run `id` now and waits until a worker ran it to success.
async fn a_new_run_succeeds(app: &TestApp, id: &str) {
    let store = app.store().await;
    store
        .create_run(&RunSpec {
            id: Some(id.into()),
            ..echo_run("startup.check")
        })
        .await
        .expect("the run is created");
    let ids = [id.to_owned()];
    wait_until(RECONNECT_TIMEOUT, "the run made now succeeds", || {
        let (store, ids) = (store.clone(), ids.clone());
        async move {
            matches!(
                store.run_statuses(&ids).await.as_deref(),
                Ok([Some(RunStatus::Success)])
            )
        }
    })
    .await;
}

#[tokio::test]
async fn services_started_before_redis_wait_for_it_and_then_work() {
    let mut app = bare_app(None).await;
    app.redis_mut().stop();

    let address_file = app.dir().join("api.address");
    let file = address_file.display().to_string();
    let mut api = app.spawn_process(
        "baton-api",
        &[],
        &[
            ("BATON_LISTEN", "127.0.0.1:0"),
            ("BATON_ADDRESS_FILE", file.as_str()),
        ],
    );
    app.start_scheduler(&[("BATON_TICK_MS", "100")]);
    app.add_worker(&[("BATON_BLOCK_MS", "200")]);

    // Each service says what it waits for, and none gives up while Redis is away.
    for process in [
        &api,
        app.scheduler().expect("a scheduler"),
        &app.workers()[0],
    ] {
        process
            .wait_for_log("waiting for Redis", Duration::from_secs(10))
            .await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(api.is_running(), "{}", api.log_tail(20));
    let scheduler = app.scheduler_mut().expect("a scheduler");
    assert!(scheduler.is_running(), "{}", scheduler.log_tail(20));
    let worker = &mut app.workers_mut()[0];
    assert!(worker.is_running(), "{}", worker.log_tail(20));
    assert!(
        !address_file.exists(),
        "the API listened before it reached Redis"
    );

    app.redis_mut().restart();

    // The API comes up and answers.
    let address = wait_for(RECONNECT_TIMEOUT, "the API's address", || {
        let text = std::fs::read_to_string(&address_file).ok();
        async move { text.filter(|text| !text.trim().is_empty()) }
    })
    .await;
    let health = reqwest::get(format!("http://{}/healthz", address.trim()))
        .await
        .expect("the API answers");
    assert!(health.status().is_success(), "{}", api.log_tail(20));
    // The scheduler leads, and a worker runs a run made now.
    app.scheduler()
        .expect("a scheduler")
        .wait_for_log("leading=true", RECONNECT_TIMEOUT)
        .await;
    a_new_run_succeeds(&app, "after-the-wait").await;
    assert!(api.is_running(), "{}", api.log_tail(20));
}

#[tokio::test]
async fn a_service_exits_when_its_patience_runs_out() {
    let mut app = bare_app(None).await;
    app.redis_mut().stop();
    // One try already takes a while (the client's own reconnection attempts): the patience
    // is long enough for a second try, and the worker exits after it.
    let worker = app.add_worker(&[("BATON_CONNECT_PATIENCE_SECS", "12")]);
    let log = exit_of(worker, Duration::from_secs(60)).await;
    assert!(log.contains("waiting for Redis"), "{log}");
    assert!(log.contains("cannot connect to Redis"), "{log}");
}

#[tokio::test]
async fn a_password_redis_refuses_ends_the_service_at_once() {
    let mut app = bare_app(Some("the-right-password")).await;
    let wrong = format!("redis://:not-the-password@127.0.0.1:{}", app.redis().port());
    // Patience is long: only a failure taken for Redis being away would wait that long.
    let worker = app.add_worker(&[
        ("BATON_REDIS_URL", wrong.as_str()),
        ("BATON_CONNECT_PATIENCE_SECS", "600"),
    ]);
    let log = exit_of(worker, Duration::from_secs(15)).await;
    assert!(!log.contains("waiting for Redis"), "{log}");
    assert!(
        !log.contains("not-the-password"),
        "the password was logged: {log}"
    );
}

/// A TCP proxy to Redis at `upstream` that drops the first connection whose client sends
/// `word`, without passing on what it sent; every other byte goes through. Returns its port.
async fn proxy_dropping_first(upstream: u16, word: Vec<u8>) -> u16 {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let armed = Arc::new(AtomicBool::new(true));
    let word: Arc<[u8]> = word.into();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let (armed, word) = (Arc::clone(&armed), Arc::clone(&word));
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                else {
                    return;
                };
                let (mut from_client, mut to_client) = client.into_split();
                let (mut from_server, mut to_server) = server.into_split();
                let replies =
                    tokio::spawn(
                        async move { tokio::io::copy(&mut from_server, &mut to_client).await },
                    );
                let mut buffer = vec![0u8; 64 * 1024];
                loop {
                    let read = match from_client.read(&mut buffer).await {
                        Ok(0) | Err(_) => break,
                        Ok(read) => read,
                    };
                    let sent = &buffer[..read];
                    if sent.windows(word.len()).any(|window| window == &word[..])
                        && armed.swap(false, Ordering::SeqCst)
                    {
                        break;
                    }
                    if to_server.write_all(sent).await.is_err() {
                        break;
                    }
                }
                replies.abort();
            });
        }
    });
    port
}

#[tokio::test]
async fn a_connection_dropped_while_a_worker_prepares_its_queues_delays_its_start() {
    // A failover right after a worker connected: the connection drops while it prepares its
    // queues' streams (`XGROUP CREATE`). The worker tries again instead of exiting.
    let mut app = bare_app(None).await;
    // The command as RESP puts it (a script's text naming it is no match).
    let port = proxy_dropping_first(
        app.redis().port(),
        b"$6\r\nXGROUP\r\n$6\r\nCREATE\r\n".to_vec(),
    )
    .await;
    let url = format!("redis://127.0.0.1:{port}");
    app.add_worker(&[("BATON_REDIS_URL", url.as_str()), ("BATON_BLOCK_MS", "200")]);
    let worker = &app.workers()[0];
    worker
        .wait_for_log("preparing the queues", Duration::from_secs(10))
        .await;
    worker
        .wait_for_log("worker started", RECONNECT_TIMEOUT)
        .await;

    a_new_run_succeeds(&app, "after-the-drop").await;
    let worker = &mut app.workers_mut()[0];
    assert!(worker.is_running(), "{}", worker.log_tail(20));
}

#[tokio::test]
async fn a_connection_dropped_while_the_api_publishes_its_definitions_delays_its_start() {
    // The same at the API server: the connection drops as it publishes its definitions (the
    // call that names their folder), and it publishes them on the next try.
    let app = TestApp::builder()
        .topology(Topology::Single)
        .api(false)
        .scheduler(false)
        .workers(0)
        .definitions("startup.DEFINED:\n  tasks: [SAY]\nexecutors:\n  SAY: {type: command, argv: [\"true\"]}\n")
        .spawn()
        .await;
    let folder = app.dir().join("definitions").display().to_string();
    let port = proxy_dropping_first(app.redis().port(), folder.into_bytes()).await;
    let url = format!("redis://127.0.0.1:{port}");
    let address_file = app.dir().join("api.address");
    let file = address_file.display().to_string();
    let mut api = app.spawn_process(
        "baton-api",
        &[],
        &[
            ("BATON_REDIS_URL", url.as_str()),
            ("BATON_LISTEN", "127.0.0.1:0"),
            ("BATON_ADDRESS_FILE", file.as_str()),
        ],
    );
    api.wait_for_log("publishing the definitions", Duration::from_secs(10))
        .await;
    api.wait_for_log("definitions published", RECONNECT_TIMEOUT)
        .await;
    wait_for(RECONNECT_TIMEOUT, "the API's address", || {
        let text = std::fs::read_to_string(&address_file).ok();
        async move { text.filter(|text| !text.trim().is_empty()) }
    })
    .await;
    let published = app.store().await.definitions().await.unwrap();
    assert!(
        published
            .iter()
            .any(|definition| definition.name == "startup.DEFINED"),
        "{published:?}"
    );
    assert!(api.is_running(), "{}", api.log_tail(20));
}

//! The web console as a person uses it: a real headless Chromium, driven over WebDriver,
//! against the real API, workers and scheduler over a real Redis. Each test saves a
//! screenshot (1280×800) of the page it checked under `<target dir>/console/`.

use std::time::Duration;

use baton_tests::app::ADMIN_KEY_ID;
use baton_tests::{Browser, TestApp};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

/// Chromium sessions open at once (each is a few processes; the machine has two cores).
static BROWSERS: Semaphore = Semaphore::const_new(2);

/// Workflows the tests start: slow with a log, failing, failing until a marker exists, long
/// enough to cancel, one with a schema for the form, and one on a queue the tests pause.
const DEFINITIONS: &str = r#"
console.SLOW:
  tasks:
    - PREPARE
    - COUNT
console.FAILS:
  tasks:
    - BROKEN
console.FLAKY:
  tasks:
    - FLAKY
console.LONG:
  tasks:
    - SLEEPY
console.FORM:
  tasks:
    - PREPARE
  schema:
    type: object
    required: [source]
    properties:
      source: {type: string, description: "Where the data comes from"}
      count: {type: integer}
console.PAUSABLE:
  queue: batch
  tasks:
    - PREPARE
console.TICK:
  tasks:
    - PREPARE
  periodic:
    interval: 3600
executors:
  PREPARE: {type: command, argv: ["sh", "-c", "echo prepared; echo '{\"rows\": 3}' > \"$BATON_RESULT\""]}
  COUNT: {type: command, argv: ["sh", "-c", "for i in 1 2 3 4 5 6; do echo counting line $i; sleep 0.5; done"]}
  BROKEN: {type: command, argv: ["sh", "-c", "echo 'boom: the input file is missing' >&2; exit 3"]}
  FLAKY: {type: command, argv: ["sh", "-c", "test -f MARKER_PATH || { echo 'not ready yet' >&2; exit 1; }; echo ready"]}
  SLEEPY: {type: command, argv: ["sh", "-c", "echo sleeping; sleep 60"]}
"#;

/// An app with the test workflows, a scheduler and `workers` workers on `default` and `batch`.
async fn console_app(workers: usize, extra: &[(&str, &str)]) -> (TestApp, tempfile::TempDir) {
    let marker_dir = tempfile::tempdir().unwrap();
    let marker = marker_dir.path().join("ready");
    let definitions = DEFINITIONS.replace("MARKER_PATH", marker.to_str().unwrap());
    let mut builder = TestApp::builder()
        .definitions(&definitions)
        .workers(workers)
        .scheduler(true)
        .worker_env("BATON_QUEUES", "default,batch");
    for (name, value) in extra {
        builder = builder.env(name, value);
    }
    (builder.spawn().await, marker_dir)
}

/// A browser, holding one of the [`BROWSERS`] permits while it lives.
async fn browser() -> (Browser, tokio::sync::SemaphorePermit<'static>) {
    let permit = BROWSERS.acquire().await.unwrap();
    let mut browser = Browser::start().await;
    browser.set_timeout(Duration::from_secs(20));
    (browser, permit)
}

/// Signs in through the form with `key_id` and `secret`, and waits for the overview.
async fn sign_in(browser: &Browser, app: &TestApp, key_id: &str, secret: &str) {
    browser
        .sign_in(&app.url("/ui/login"), key_id, secret, "Overview")
        .await;
}

/// Starts workflow `name` through the API and returns the run's id.
async fn start_run(app: &TestApp, name: &str, payload: Value) -> String {
    let answer = app
        .admin()
        .await
        .post(
            "/api/workflows",
            &json!({"project": "console", "name": name, "payload": payload}),
        )
        .await;
    assert_eq!(answer.status, 201, "{answer:?}");
    answer.body["id"].as_str().unwrap().to_owned()
}

/// The status of a run, as the API says.
async fn run_status(app: &TestApp, id: &str) -> String {
    let answer = app.admin().await.get(&format!("/api/workflows/{id}")).await;
    answer.body["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn signing_in_shows_the_overview_and_a_started_run_goes_to_success_with_its_log_live() {
    let (app, _marker) = console_app(1, &[]).await;
    let (browser, _permit) = browser().await;
    // Unsigned, the console sends the browser to the sign-in page.
    browser.goto(&app.url("/")).await;
    browser.wait_for_text("h1", "Sign in").await;
    browser.fill("#key_id", ADMIN_KEY_ID).await;
    browser
        .fill("#secret", "not the secret at all, surely")
        .await;
    browser.click("form button[type=submit]").await;
    browser.wait_for_text("#login-error", "wrong").await;
    browser.screenshot("sign-in-refused").await;
    sign_in(&browser, &app, ADMIN_KEY_ID, &app.admin_secret().await).await;

    // Start the slow workflow from its form; the run's page follows it without reloading.
    browser.goto(&app.url("/ui/workflows/console.SLOW")).await;
    browser.click("#start-run").await;
    browser.wait_for("#run-status").await;
    let run_url = browser.current_url().await;
    assert!(run_url.contains("/ui/runs/"), "{run_url}");
    browser.wait_for_text("#run-status", "progress").await;
    browser.wait_for_text("#run-log", "counting line 2").await;
    browser.screenshot("run-running").await;
    // Mark the document: a reload would lose the mark.
    browser
        .execute(
            "document.body.dataset.unreloaded = 'yes'; return true;",
            vec![],
        )
        .await;
    browser.wait_for_text("#run-status", "success").await;
    browser.wait_for_text("#run-log", "counting line 6").await;
    let unreloaded = browser
        .execute("return document.body.dataset.unreloaded || 'no';", vec![])
        .await;
    assert_eq!(unreloaded, json!("yes"), "the page was reloaded");
    assert!(
        !browser.exists("#cancel-run").await,
        "a finished run offers no Cancel"
    );
    assert!(browser.exists("#relaunch-run").await);
    assert_eq!(browser.current_url().await, run_url);
    assert!(browser.exists("svg.dag g.node.status-success").await);
    browser.wait_for_text("table.tasks", "COUNT").await;
    browser.screenshot("run-success").await;

    // The overview counts the jobs and draws them; the runs list finds the run by status.
    browser.goto(&app.url("/ui/")).await;
    // The slow run's two tasks, and the periodic run's when it has fired.
    let succeeded: u64 = browser
        .text("tr[data-queue=default] td[data-count=succeeded]")
        .await
        .trim()
        .parse()
        .unwrap();
    assert!(succeeded >= 2, "{succeeded}");
    assert!(browser.exists("svg.chart rect.bar-succeeded").await);
    browser.wait_for_text("#workers-alive", "1").await;
    browser.screenshot("overview").await;
    browser
        .goto(&app.url("/ui/runs?definition=console.SLOW&status=success"))
        .await;
    browser.wait_for_text("table.runs", "console.SLOW").await;
    browser.screenshot("runs").await;
    browser.goto(&app.url("/ui/schedules")).await;
    browser
        .wait_for_text("tr[data-schedule='console.TICK']", "every 3600 s")
        .await;
    browser.screenshot("schedules").await;

    // At a phone's width the navigation wraps and tables scroll inside their frame.
    browser.client().set_window_size(390, 844).await.unwrap();
    browser
        .goto(&app.url(&run_url.replace(app.base(), "")))
        .await;
    browser.wait_for_text("#run-status", "success").await;
    browser.assert_no_sideways_scroll().await;
    browser.screenshot("run-phone").await;
    browser.close().await;
}

#[tokio::test]
async fn the_start_form_checks_the_schema_and_shows_each_problem_next_to_its_field() {
    let (app, _marker) = console_app(1, &[]).await;
    let (browser, _permit) = browser().await;
    sign_in(&browser, &app, ADMIN_KEY_ID, &app.admin_secret().await).await;
    browser.goto(&app.url("/ui/workflows/console.FORM")).await;
    browser.fill("#field-count", "many").await;
    browser.click("#start-run").await;
    browser.wait_for_text("#error-count", "integer").await;
    browser.wait_for_text("#form-problems", "source").await;
    assert!(browser.current_url().await.ends_with("/start"));
    browser.screenshot("start-form-errors").await;
    browser.fill("#field-source", "warehouse").await;
    browser.fill("#field-count", "7").await;
    browser.click("#start-run").await;
    browser.wait_for_text("#run-status", "success").await;
    browser.close().await;
}

#[tokio::test]
async fn a_failed_tasks_error_is_shown_and_its_requeued_dead_letter_succeeds() {
    let (app, marker) = console_app(1, &[]).await;
    let (browser, _permit) = browser().await;
    sign_in(&browser, &app, ADMIN_KEY_ID, &app.admin_secret().await).await;

    let failed = start_run(&app, "FAILS", json!({})).await;
    browser.goto(&app.url(&format!("/ui/runs/{failed}"))).await;
    browser.wait_for_text("#run-status", "error").await;
    browser
        .wait_for_text("#run-failure", "Task BROKEN failed")
        .await;
    browser
        .wait_for_text("#run-failure", "exited with status 3")
        .await;
    browser
        .wait_for_text(".task-error", "exited with status 3")
        .await;
    // What the task said before it failed is in its log, on the same page.
    browser
        .wait_for_text("#run-log", "boom: the input file is missing")
        .await;
    browser.screenshot("run-failed").await;

    let flaky = start_run(&app, "FLAKY", json!({})).await;
    tokio::time::timeout(Duration::from_secs(20), async {
        while run_status(&app, &flaky).await != "error" {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the flaky run fails first");
    browser.goto(&app.url("/ui/queues/default")).await;
    let row = format!("tr[data-dead] a[href='/ui/runs/{flaky}']");
    browser.wait_for(&row).await;
    browser.screenshot("queue-dead-letters").await;
    std::fs::write(marker.path().join("ready"), "").unwrap();
    browser
        .click(&format!(
            "tr[data-dead]:has(a[href='/ui/runs/{flaky}']) button.requeue"
        ))
        .await;
    browser.wait_for_text(".notice", "Requeued").await;
    assert!(!browser.exists(&row).await);
    browser.goto(&app.url(&format!("/ui/runs/{flaky}"))).await;
    browser.wait_for_text("#run-status", "success").await;
    browser.screenshot("run-requeued-success").await;
    browser.close().await;
}

#[tokio::test]
async fn a_running_run_is_canceled_from_its_button() {
    let (app, _marker) = console_app(1, &[]).await;
    let (browser, _permit) = browser().await;
    sign_in(&browser, &app, ADMIN_KEY_ID, &app.admin_secret().await).await;
    let id = start_run(&app, "LONG", json!({})).await;
    browser.goto(&app.url(&format!("/ui/runs/{id}"))).await;
    browser.wait_for_text("#run-log", "sleeping").await;
    browser.click("#cancel-run").await;
    browser.accept_confirmation().await;
    browser.wait_for_text(".notice", "canceled").await;
    browser.wait_for_text("#run-status", "canceled").await;
    assert!(!browser.exists("#cancel-run").await);
    assert_eq!(run_status(&app, &id).await, "canceled");
    browser.screenshot("run-canceled").await;
    browser.close().await;
}

#[tokio::test]
async fn a_paused_queue_keeps_its_jobs_waiting_until_it_is_resumed() {
    let (app, _marker) = console_app(1, &[]).await;
    let (browser, _permit) = browser().await;
    sign_in(&browser, &app, ADMIN_KEY_ID, &app.admin_secret().await).await;
    // The queue exists once a run has used it.
    let first = start_run(&app, "PAUSABLE", json!({})).await;
    tokio::time::timeout(Duration::from_secs(20), async {
        while run_status(&app, &first).await != "success" {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the first run succeeds");

    browser.goto(&app.url("/ui/queues/batch")).await;
    browser.click("#pause-queue").await;
    browser.accept_confirmation().await;
    browser.wait_for_text("#queue-state", "paused").await;
    let waiting = start_run(&app, "PAUSABLE", json!({})).await;
    browser
        .wait_for_text("#queue-live dd[data-count=waiting]", "1")
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(run_status(&app, &waiting).await, "pending");
    browser.screenshot("queue-paused").await;
    browser.goto(&app.url("/ui/queues")).await;
    browser
        .wait_for_text("tr[data-queue=batch]", "paused")
        .await;

    browser.goto(&app.url("/ui/queues/batch")).await;
    browser.click("#resume-queue").await;
    browser.wait_for_text("#queue-state", "active").await;
    browser
        .wait_for_text("#queue-live dd[data-count=waiting]", "0")
        .await;
    tokio::time::timeout(Duration::from_secs(20), async {
        while run_status(&app, &waiting).await != "success" {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the waiting run runs once the queue is resumed");
    browser.screenshot("queue-resumed").await;
    browser.close().await;
}

#[tokio::test]
async fn a_killed_worker_is_marked_stale() {
    let (mut app, _marker) = console_app(1, &[]).await;
    let (browser, _permit) = browser().await;
    sign_in(&browser, &app, ADMIN_KEY_ID, &app.admin_secret().await).await;
    browser.goto(&app.url("/ui/workers")).await;
    browser.wait_for_text(".worker-state", "alive").await;
    browser
        .wait_for_text("table.workers", "default, batch")
        .await;
    browser.screenshot("workers").await;
    app.workers_mut()[0].kill_9();
    browser.wait_for_text(".worker-state", "stale").await;
    browser.screenshot("workers-stale").await;
    browser.close().await;
}

#[tokio::test]
async fn a_key_without_workflows_run_sees_no_cancel_button_and_is_refused_by_the_action() {
    let (app, _marker) = console_app(1, &[]).await;
    let reader = app.create_key("reader", "workflows.read", &[]).await;
    let id = start_run(&app, "LONG", json!({})).await;
    let (browser, _permit) = browser().await;
    sign_in(&browser, &app, "reader", &reader).await;
    browser.goto(&app.url(&format!("/ui/runs/{id}"))).await;
    browser.wait_for_text("#run-status", "progress").await;
    assert!(!browser.exists("#cancel-run").await);
    assert!(!browser.exists("#relaunch-run").await);
    assert!(!browser.exists("a[href='/ui/keys']").await);
    browser.screenshot("run-read-only").await;
    let csrf = browser.page_csrf().await;
    let status = browser
        .post_form(&format!("/ui/runs/{id}/cancel"), &format!("csrf={csrf}"))
        .await;
    assert_eq!(status, 403);
    browser.goto(&app.url("/ui/keys")).await;
    browser.wait_for_text("h1", "403").await;
    browser.screenshot("forbidden").await;
    assert_eq!(run_status(&app, &id).await, "progress");
    browser.close().await;
}

#[tokio::test]
async fn a_forged_post_without_the_csrf_token_is_refused() {
    let (app, _marker) = console_app(1, &[]).await;
    let id = start_run(&app, "LONG", json!({})).await;
    let (browser, _permit) = browser().await;
    sign_in(&browser, &app, ADMIN_KEY_ID, &app.admin_secret().await).await;
    browser.goto(&app.url(&format!("/ui/runs/{id}"))).await;
    browser.wait_for_text("#run-status", "progress").await;
    let path = format!("/ui/runs/{id}/cancel");
    assert_eq!(browser.post_form(&path, "").await, 403);
    assert_eq!(
        browser
            .post_form(&path, "csrf=forged-token-of-the-right-shape")
            .await,
        403
    );
    assert_eq!(run_status(&app, &id).await, "progress");
    // The page's own token works.
    let csrf = browser.page_csrf().await;
    assert_eq!(
        browser.post_form(&path, &format!("csrf={csrf}")).await,
        0,
        "a redirect (opaque to fetch with redirect: manual) follows the cancel"
    );
    assert_eq!(run_status(&app, &id).await, "canceled");
    browser.close().await;
}

#[tokio::test]
async fn a_revoked_keys_session_ends_at_once() {
    let (app, _marker) = console_app(0, &[]).await;
    let secret = app.create_key("operator", "workflows.read", &[]).await;
    let (browser, _permit) = browser().await;
    sign_in(&browser, &app, "operator", &secret).await;
    browser.goto(&app.url("/ui/runs")).await;
    browser.wait_for_text("h1", "Runs").await;
    let (ok, output) = app.cli("baton-api", &["keys", "revoke", "operator"]).await;
    assert!(ok, "{output}");
    browser.goto(&app.url("/ui/runs")).await;
    browser.wait_for_text("h1", "Sign in").await;
    browser.screenshot("session-ended").await;
    browser.close().await;
}

#[tokio::test]
async fn keys_are_created_with_their_secret_shown_once_and_revoked_from_the_console() {
    let (app, _marker) = console_app(0, &[]).await;
    let (browser, _permit) = browser().await;
    sign_in(&browser, &app, ADMIN_KEY_ID, &app.admin_secret().await).await;
    browser.goto(&app.url("/ui/keys")).await;
    browser.fill("#key-id", "ci.robot").await;
    browser
        .click("input[name=permission][value='workflows.read']")
        .await;
    browser.click("#create-key button[type=submit]").await;
    let secret = browser.text("#created-secret").await;
    assert!(secret.len() >= 40, "{secret}");
    browser.screenshot("key-created").await;
    browser.goto(&app.url("/ui/keys")).await;
    browser.wait_for("tr[data-key='ci.robot']").await;
    assert!(!browser.source().await.contains(&secret));
    browser.click("tr[data-key='ci.robot'] button.revoke").await;
    browser.accept_confirmation().await;
    browser
        .wait_for_text("tr[data-key='ci.robot']", "revoked")
        .await;
    browser.screenshot("keys").await;
    browser.close().await;
}

#[tokio::test]
async fn console_pages_are_sent_with_a_strict_policy_and_sessions_with_strict_cookies() {
    let (app, _marker) = console_app(0, &[]).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = http.get(app.url("/ui/login")).send().await.unwrap();
    assert_eq!(login.status(), 200);
    let csp = login.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(login.headers()["x-frame-options"], "DENY");
    let page = http.get(app.url("/ui/runs")).send().await.unwrap();
    assert_eq!(page.status(), 303);
    assert_eq!(page.headers()["location"], "/ui/login");
    let secret = app.admin_secret().await;
    let signed_in = http
        .post(app.url("/ui/login"))
        .form(&[("key_id", ADMIN_KEY_ID), ("secret", secret.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain http has no Secure cookie: {cookie}"
    );
    let session = cookie.split(';').next().unwrap();
    let value = session.split_once('=').unwrap().1;
    assert!(value.len() >= 43, "256 random bits: {value}");
    let overview = http
        .get(app.url("/ui/"))
        .header("cookie", session)
        .send()
        .await
        .unwrap();
    assert_eq!(overview.status(), 200);
    let html = overview.text().await.unwrap();
    assert!(!html.contains(&secret));
    assert!(!html.contains("<script>"), "no inline script");
    // The session is stored only as its digest.
    let store = app.store().await;
    assert!(store.session(value).await.unwrap().is_some());
    let mut conn = store.conn().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*session*")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(keys.iter().all(|key| !key.contains(value)), "{keys:?}");
    // Signing out ends it.
    let csrf_page = http
        .get(app.url("/ui/"))
        .header("cookie", session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    // A form posted from another site is refused, even with the right token.
    let foreign = http
        .post(app.url("/ui/logout"))
        .header("cookie", session)
        .header("origin", "https://evil.example")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    assert!(store.session(value).await.unwrap().is_some());
    let out = http
        .post(app.url("/ui/logout"))
        .header("cookie", session)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    assert!(store.session(value).await.unwrap().is_none());
    // A secure deployment marks the cookie Secure.
    let (secure_app, _marker) =
        console_app(0, &[("BATON_PUBLIC_URL", "https://baton.example.org")]).await;
    let secret = secure_app.admin_secret().await;
    let signed_in = http
        .post(secure_app.url("/ui/login"))
        .form(&[("key_id", ADMIN_KEY_ID), ("secret", secret.as_str())])
        .send()
        .await
        .unwrap();
    let cookie = signed_in.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
}

//! The console's Releases pages as a release manager uses them: a real headless Chromium,
//! driven over WebDriver, against the real API, worker and scheduler over a real Redis, with
//! the example task service (`examples/task_service.py`) doing the releases' work. Each test
//! saves screenshots (1280×800) of the pages it checked under `<target dir>/console/`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use baton_tests::process::BatonProcess;
use baton_tests::wait::wait_for;
use baton_tests::{Browser, Client, TestApp};
use common::auth::signing::sign::Signer;
use common::releases::ReleaseState;
use common::releases::records::{Release, TaskService};
use serde_json::json;
use tokio::sync::Semaphore;

/// Chromium sessions open at once (each is a few processes; the machine has two cores).
static BROWSERS: Semaphore = Semaphore::const_new(1);

/// How long a release may take to reach a state (a phase is a run a worker executes, and
/// the example service works in the background before it reports).
const RELEASE_TIMEOUT: Duration = Duration::from_secs(40);

/// A running coordinator (Redis, API, worker and scheduler) with a release manager's key
/// (`releases.read`, `releases.write`) and the key the example task services report with.
struct Coordinator {
    app: TestApp,
    manager_secret: String,
    manager: Client,
    service_secret: String,
}

impl Coordinator {
    async fn start() -> Self {
        // The example task services listen on loopback, which the outbound policy refuses
        // unless allowed.
        let app = TestApp::builder()
            .env("BATON_OUTBOUND_ALLOW", "127.0.0.1")
            .workers(1)
            .worker_env("BATON_BLOCK_MS", "200")
            .worker_env("BATON_QUEUES", "default")
            .scheduler(true)
            .scheduler_env("BATON_TICK_MS", "50")
            .scheduler_env("BATON_RELEASE_POLL_MS", "300")
            .spawn()
            .await;
        let manager_secret = app
            .create_key("manager", "releases.read,releases.write", &[])
            .await;
        let manager = app.client(Signer::new("manager", manager_secret.clone().into_bytes()));
        let service_secret = app
            .create_key("service", "releases.read,releases.write", &[])
            .await;
        Self {
            app,
            manager_secret,
            manager,
            service_secret,
        }
    }

    /// Starts an example task service working `work_secs` per phase; returns it with its URL.
    async fn task_service(&self, work_secs: f64) -> (BatonProcess, String) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/task_service.py");
        let args = [
            script.display().to_string(),
            "--port".into(),
            "0".into(),
            "--coordinator".into(),
            self.app.base().to_owned(),
            "--key-id".into(),
            "service".into(),
            // The `=` form: a secret may start with '-'.
            format!("--secret={}", self.service_secret),
            "--work-secs".into(),
            work_secs.to_string(),
        ];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let process = BatonProcess::spawn_path(&PathBuf::from("python3"), &args, &[]);
        process
            .wait_for_log("listening on ", Duration::from_secs(10))
            .await;
        let port: u16 = process
            .log()
            .lines()
            .find_map(|line| line.strip_prefix("listening on "))
            .and_then(|port| port.trim().parse().ok())
            .expect("the service prints its port");
        (process, format!("http://127.0.0.1:{port}"))
    }

    /// Registers a service through the API; returns its id.
    async fn register(&self, name: &str, url: &str) -> String {
        let answer = self
            .manager
            .post(
                "/task-services",
                &json!({"name": name, "description": "tests", "author": "tests", "url": url}),
            )
            .await;
        assert_eq!(answer.status, 200, "{answer:?}");
        answer.body["kf_id"].as_str().unwrap().to_owned()
    }

    /// Starts a release through the API; returns its id.
    async fn create_release(&self, name: &str) -> String {
        let answer = self
            .manager
            .post(
                "/releases",
                &json!({"name": name, "description": "tests", "author": "tests"}),
            )
            .await;
        assert_eq!(answer.status, 200, "{answer:?}");
        answer.body["kf_id"].as_str().unwrap().to_owned()
    }

    /// A release as stored.
    async fn release(&self, id: &str) -> Release {
        self.app
            .store()
            .await
            .release_record::<Release>(id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no release {id}"))
    }

    /// A task service as stored.
    async fn service(&self, id: &str) -> TaskService {
        self.app
            .store()
            .await
            .release_record::<TaskService>(id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no task service {id}"))
    }

    /// Waits until the store says release `id` is in `state`.
    async fn wait_release_state(&self, id: &str, state: ReleaseState) {
        wait_for(
            RELEASE_TIMEOUT,
            &format!("release {id} to be {state}"),
            || async { (self.release(id).await.state == state).then_some(()) },
        )
        .await
    }
}

/// A browser, holding one of the [`BROWSERS`] permits while it lives.
async fn browser() -> (Browser, tokio::sync::SemaphorePermit<'static>) {
    let permit = BROWSERS.acquire().await.unwrap();
    let mut browser = Browser::start().await;
    browser.set_timeout(RELEASE_TIMEOUT);
    (browser, permit)
}

/// Signs in through the form; a key that may only use releases lands on the releases list.
async fn sign_in(browser: &Browser, app: &TestApp, key_id: &str, secret: &str) {
    browser
        .sign_in(&app.url("/ui/login"), key_id, secret, "Releases")
        .await;
}

/// Clicks the first element matching `css` inside a part of the page htmx replaces while it
/// polls: an element replaced between finding and clicking it is looked up again.
async fn click_live(browser: &Browser, css: &str) {
    let mut last_error = String::new();
    for _ in 0..20 {
        let element = browser.wait_for(css).await;
        match element.click().await {
            Ok(()) => return,
            Err(error) => last_error = error.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("cannot click `{css}`: {last_error}");
}

/// Marks the document, so that [`still_unreloaded`] tells whether it was reloaded since.
async fn mark_unreloaded(browser: &Browser) {
    browser
        .execute(
            "document.body.dataset.unreloaded = 'yes'; return true;",
            vec![],
        )
        .await;
}

/// True when the document marked by [`mark_unreloaded`] is still the one shown.
async fn still_unreloaded(browser: &Browser) -> bool {
    browser
        .execute("return document.body.dataset.unreloaded || 'no';", vec![])
        .await
        == json!("yes")
}

/// Sends a request from the page with `fetch` (the session's cookie goes with it) and returns
/// the answer's status and text; redirects are not followed (an opaque answer has status 0).
async fn fetch_from_page(browser: &Browser, method: &str, path: &str, body: &str) -> (u64, String) {
    let answer = browser
        .execute(
            "var init = {method: arguments[0], redirect: 'manual'}; \
             if (arguments[0] === 'POST') { init.headers = {'Content-Type': \
             'application/x-www-form-urlencoded'}; init.body = arguments[2]; } \
             return fetch(arguments[1], init).then(function (r) { \
               return r.text().then(function (t) { return [r.status, t]; }); });",
            vec![json!(method), json!(path), json!(body)],
        )
        .await;
    (
        answer[0].as_u64().unwrap(),
        answer[1].as_str().unwrap_or_default().to_owned(),
    )
}

/// The value of the `<progress>` element matching `css`.
async fn progress_value(browser: &Browser, css: &str) -> f64 {
    browser.wait_for(css).await;
    browser
        .execute(
            "var bar = document.querySelector(arguments[0]); return bar ? bar.value : -1;",
            vec![json!(css)],
        )
        .await
        .as_f64()
        .unwrap()
}

#[tokio::test]
async fn a_release_is_driven_from_creation_to_published_entirely_from_the_buttons() {
    let coordinator = Coordinator::start().await;
    let app = &coordinator.app;
    let (_service, service_url) = coordinator.task_service(5.0).await;
    let (browser, _permit) = browser().await;
    sign_in(&browser, app, "manager", &coordinator.manager_secret).await;

    // Register the example service from the services page.
    browser.goto(&app.url("/ui/services")).await;
    browser
        .wait_for_text("#services-live", "No task services")
        .await;
    browser.fill("#service-name", "Example Task Service").await;
    browser.fill("#service-url", &service_url).await;
    browser.click("#register").await;
    browser.wait_for_text(".notice", "registered").await;
    // The service's token is shown this once, on the page answering the form (not in a URL).
    let token = browser.text("#service-token").await;
    assert!(token.starts_with("TS_") && token.len() > 40, "{token}");
    assert!(!browser.current_url().await.contains("TS_"));
    let row = "#services-live tr[data-service]";
    browser.wait_for_text(row, "Example Task Service").await;
    browser.wait_for_text(row, &service_url).await;
    browser.wait_for_text(".service-health", "up").await;
    browser.wait_for_text(".service-enabled", "enabled").await;
    browser.screenshot("releases-services").await;

    // Start a release from the form: the browser lands on its page.
    browser.goto(&app.url("/ui/releases")).await;
    browser.wait_for_text("#releases-live", "No releases").await;
    browser.fill("#release-name", "Spring data release").await;
    browser
        .fill("#release-description", "New participants and a fixed ETL.")
        .await;
    browser.fill("#release-studies", "SD_ME0WME0W").await;
    browser.click("#start-release").await;
    browser.wait_for_text(".notice", "started").await;
    let url = browser.current_url().await;
    let id = url
        .split("/ui/releases/")
        .nth(1)
        .and_then(|rest| rest.split('?').next())
        .unwrap_or_else(|| panic!("not a release's page: {url}"))
        .to_owned();
    assert!(id.starts_with("RE_"), "{id}");
    browser.wait_for_text("h1", "Spring data release").await;
    browser.wait_for_text(".facts", "SD_ME0WME0W").await;

    // The page follows the task live, without reloading, until the release is staged.
    mark_unreloaded(&browser).await;
    browser
        .wait_for_text("tr[data-task] .task-state", "running")
        .await;
    browser
        .wait_for_text("tr[data-task]", "Example Task Service")
        .await;
    let running = progress_value(&browser, "#release-progress").await;
    assert!((40.0..60.0).contains(&running), "{running}");
    browser
        .wait_for_text("#release-events", "changed from initialized to running")
        .await;
    assert!(
        !browser.exists("#publish-release").await,
        "only a staged release offers Publish"
    );
    assert!(browser.exists("#cancel-release").await);
    browser.screenshot("releases-release").await;
    browser.wait_for_text("#release-state", "staged").await;
    browser
        .wait_for_text("tr[data-task] .task-state", "staged")
        .await;
    assert_eq!(progress_value(&browser, "#release-progress").await, 60.0);
    assert!(still_unreloaded(&browser).await, "the page was reloaded");

    // Publish when staged; the page follows the publication live.
    click_live(&browser, "#publish-release").await;
    browser.accept_confirmation().await;
    browser.wait_for_text(".notice", "Publishing").await;
    mark_unreloaded(&browser).await;
    browser.wait_for_text("#release-state", "published").await;
    browser.wait_for_text("#release-version", "0.1.0").await;
    browser
        .wait_for_text("tr[data-task] .task-state", "published")
        .await;
    browser
        .wait_for_text("#release-events", "changed from publishing to published")
        .await;
    assert!(still_unreloaded(&browser).await, "the page was reloaded");
    assert_eq!(progress_value(&browser, "#release-progress").await, 100.0);
    assert!(!browser.exists("#publish-release").await);
    assert!(!browser.exists("#cancel-release").await);
    browser.screenshot("releases-published").await;
    // A published release's live part tells htmx to stop polling.
    let (status, _) =
        fetch_from_page(&browser, "GET", &format!("/ui/releases/{id}/live"), "").await;
    assert_eq!(status, 286);
    let release = coordinator.release(&id).await;
    assert_eq!(release.state, ReleaseState::Published);
    assert_eq!(release.version, "0.1.0");
    assert_eq!(release.author, "manager");
    assert_eq!(release.studies, vec!["SD_ME0WME0W".to_owned()]);

    // The list shows it, newest first, with its state, version and a full bar.
    let second = coordinator.create_release("Summer data release").await;
    browser.goto(&app.url("/ui/releases")).await;
    let row = format!("tr[data-release='{id}']");
    browser.wait_for_text(&row, "published").await;
    browser.wait_for_text(&row, "0.1.0").await;
    assert_eq!(
        progress_value(&browser, &format!("{row} progress")).await,
        100.0
    );
    browser
        .wait_for_text(
            &format!("tr[data-release='{second}']"),
            "Summer data release",
        )
        .await;
    let order = browser
        .execute(
            "return Array.from(document.querySelectorAll('tr[data-release]'))\
             .map(function (row) { return row.dataset.release; });",
            vec![],
        )
        .await;
    assert_eq!(order, json!([second, id]), "newest first");
    browser.screenshot("releases-list").await;
    // At a phone's width the page still fits: tables scroll inside their frame.
    browser.client().set_window_size(390, 844).await.unwrap();
    browser.goto(&app.url(&format!("/ui/releases/{id}"))).await;
    browser.wait_for_text("#release-state", "published").await;
    browser.assert_no_sideways_scroll().await;
    browser.screenshot("releases-phone").await;
    browser.close().await;
}

#[tokio::test]
async fn a_reader_sees_no_buttons_and_is_refused_when_posting_a_change() {
    let coordinator = Coordinator::start().await;
    let app = &coordinator.app;
    // A release started while no service is enabled has no task: it is staged at once.
    let id = coordinator.create_release("Read-only release").await;
    coordinator
        .wait_release_state(&id, ReleaseState::Staged)
        .await;
    let (_service, url) = coordinator.task_service(1.0).await;
    let service = coordinator.register("Example Task Service", &url).await;
    let reader = app.create_key("reader", "releases.read", &[]).await;
    let (browser, _permit) = browser().await;
    sign_in(&browser, app, "reader", &reader).await;

    // No form and no button for a reader, staged release or not.
    browser
        .wait_for_text(&format!("tr[data-release='{id}']"), "staged")
        .await;
    assert!(!browser.exists("#new-release").await);
    browser.goto(&app.url(&format!("/ui/releases/{id}"))).await;
    browser.wait_for_text("#release-state", "staged").await;
    assert!(!browser.exists("#publish-release").await);
    assert!(!browser.exists("#cancel-release").await);
    assert!(!browser.exists("form[action$='/publish']").await);
    browser.screenshot("releases-read-only").await;
    browser.goto(&app.url("/ui/services")).await;
    browser
        .wait_for_text(&format!("tr[data-service='{service}']"), "enabled")
        .await;
    assert!(!browser.exists("#register-service").await);
    assert!(!browser.exists("button.disable").await);

    // Posting a change anyway, with the session's own token, is a 403 page.
    let csrf = browser.page_csrf().await;
    for (path, body) in [
        (format!("/ui/releases/{id}/publish"), format!("csrf={csrf}")),
        (format!("/ui/releases/{id}/cancel"), format!("csrf={csrf}")),
        (
            "/ui/releases".to_owned(),
            format!("csrf={csrf}&name=Sneaky"),
        ),
        (
            format!("/ui/services/{service}/disable"),
            format!("csrf={csrf}"),
        ),
        (
            "/ui/services".to_owned(),
            format!("csrf={csrf}&name=x&url=http%3A%2F%2F127.0.0.1%3A1"),
        ),
    ] {
        let (status, page) = fetch_from_page(&browser, "POST", &path, &body).await;
        assert_eq!(status, 403, "POST {path}: {page}");
        assert!(page.contains("403 Forbidden"), "{page}");
        assert!(page.contains("releases.write"), "{page}");
    }
    assert_eq!(coordinator.release(&id).await.state, ReleaseState::Staged);
    assert!(coordinator.service(&service).await.enabled);
    // Pages of records that do not exist are the console's 404 page.
    for path in ["/ui/releases/RE_NOTHERE", "/ui/releases/no%20such/live"] {
        let (status, page) = fetch_from_page(&browser, "GET", path, "").await;
        assert_eq!(status, 404, "GET {path}: {page}");
        assert!(page.contains("404 Not Found"), "{page}");
    }
    let answer = coordinator.manager.get("/releases?limit=100").await;
    assert_eq!(answer.body["count"], json!(1), "no release was started");
    browser.close().await;
}

#[tokio::test]
async fn a_running_release_is_canceled_from_its_page() {
    let coordinator = Coordinator::start().await;
    let app = &coordinator.app;
    // The service works long enough for the release to be canceled while it runs.
    let (_service, url) = coordinator.task_service(120.0).await;
    coordinator.register("Slow Task Service", &url).await;
    let id = coordinator.create_release("Release to cancel").await;
    let (browser, _permit) = browser().await;
    sign_in(&browser, app, "manager", &coordinator.manager_secret).await;
    browser.goto(&app.url(&format!("/ui/releases/{id}"))).await;
    browser
        .wait_for_text("tr[data-task] .task-state", "running")
        .await;
    browser.wait_for_text("#release-state", "running").await;
    click_live(&browser, "#cancel-release").await;
    browser.accept_confirmation().await;
    browser.wait_for_text(".notice", "Canceling").await;
    browser.wait_for_text("#release-state", "canceled").await;
    browser
        .wait_for_text("tr[data-task] .task-state", "canceled")
        .await;
    browser
        .wait_for_text("#release-events", "changed from canceling to canceled")
        .await;
    assert!(!browser.exists("#cancel-release").await);
    assert!(!browser.exists("#publish-release").await);
    assert!(
        !browser.exists("#release-progress").await,
        "a canceled release has no bar"
    );
    browser.screenshot("releases-canceled").await;
    assert_eq!(coordinator.release(&id).await.state, ReleaseState::Canceled);
    // Canceling again is refused with the reason, on the release's page.
    let csrf = browser.page_csrf().await;
    let (status, page) = fetch_from_page(
        &browser,
        "POST",
        &format!("/ui/releases/{id}/cancel"),
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("can no longer be canceled"), "{page}");
    browser.close().await;
}

#[tokio::test]
async fn services_are_disabled_and_enabled_and_refused_forms_come_back_with_their_problem() {
    let coordinator = Coordinator::start().await;
    let app = &coordinator.app;
    let (_service, url) = coordinator.task_service(1.0).await;
    let (browser, _permit) = browser().await;
    sign_in(&browser, app, "manager", &coordinator.manager_secret).await;

    // A service whose /status does not answer is not registered: the form comes back.
    browser.goto(&app.url("/ui/services")).await;
    browser.fill("#service-name", "Nowhere").await;
    browser.fill("#service-url", "http://127.0.0.1:1").await;
    browser.click("#register").await;
    browser
        .wait_for_text("#service-problem", "did not answer GET /status")
        .await;
    let kept = browser
        .execute(
            "return document.querySelector('#service-name').value;",
            vec![],
        )
        .await;
    assert_eq!(kept, json!("Nowhere"));
    browser.screenshot("releases-service-refused").await;
    browser.fill("#service-url", &url).await;
    browser.click("#register").await;
    browser.wait_for_text(".notice", "registered").await;
    let row = "#services-live tr[data-service]";
    browser.wait_for_text(row, "Nowhere").await;
    let id = browser
        .execute(
            "return document.querySelector('#services-live tr[data-service]').dataset.service;",
            vec![],
        )
        .await
        .as_str()
        .unwrap()
        .to_owned();

    // Disabled: new releases get no task for it.
    click_live(&browser, &format!("tr[data-service='{id}'] button.disable")).await;
    browser.wait_for_text(".notice", "disabled").await;
    browser.wait_for_text(".service-enabled", "disabled").await;
    assert!(!coordinator.service(&id).await.enabled);
    browser.goto(&app.url("/ui/releases")).await;
    browser.fill("#release-name", "Without the service").await;
    browser.fill("#release-studies", "not-a-study").await;
    browser.click("#start-release").await;
    browser
        .wait_for_text("#release-problem", "'not-a-study' is not a study id")
        .await;
    let kept = browser
        .execute(
            "return document.querySelector('#release-name').value;",
            vec![],
        )
        .await;
    assert_eq!(kept, json!("Without the service"));
    browser.screenshot("releases-form-refused").await;
    browser.fill("#release-name", " ").await;
    browser.fill("#release-studies", "").await;
    browser.click("#start-release").await;
    browser
        .wait_for_text("#release-problem", "'name' is required")
        .await;
    browser.fill("#release-name", "Without the service").await;
    browser.click("#start-release").await;
    browser.wait_for_text(".notice", "started").await;
    browser.wait_for_text("#release-live", "No tasks").await;
    browser.wait_for_text("#release-state", "staged").await;

    // Enabled again: the next release gets its task.
    browser.goto(&app.url("/ui/services")).await;
    click_live(&browser, &format!("tr[data-service='{id}'] button.enable")).await;
    browser.wait_for_text(".notice", "enabled").await;
    browser.wait_for_text(".service-enabled", "enabled").await;
    assert!(coordinator.service(&id).await.enabled);
    // Actions on records that do not exist are the console's 404 page.
    let csrf = browser.page_csrf().await;
    for path in [
        "/ui/services/TS_NOTHERE/enable",
        "/ui/releases/RE_NOTHERE/publish",
        "/ui/releases/RE_NOTHERE/cancel",
    ] {
        let (status, page) = fetch_from_page(&browser, "POST", path, &format!("csrf={csrf}")).await;
        assert_eq!(status, 404, "POST {path}: {page}");
        assert!(page.contains("404 Not Found"), "{page}");
    }
    let release = coordinator.create_release("With the service").await;
    assert_eq!(coordinator.release(&release).await.tasks.len(), 1);
    browser.close().await;
}

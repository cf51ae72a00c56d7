//! Outbound HTTP follows the policy: task services and `http` tasks reach loopback (or any
//! address that is not public) only when `BATON_OUTBOUND_ALLOW` allows it, redirects are
//! never followed, URLs with credentials or other schemes are refused, and what a service
//! answers reaches events only as a short, sanitised excerpt.

use std::time::Duration;

use baton_tests::signed_http::Answer;
use baton_tests::wait::wait_for;
use baton_tests::{Client, TestApp};
use baton_tests::{FakeService, Reply};
use serde_json::{Value, json};

/// Redis, the API, and (when asked) a worker and a scheduler, all with the same allow-list.
struct Baton {
    app: TestApp,
    admin: Client,
}

impl Baton {
    /// Starts the API with `definitions` (workflows YAML) and, when `engine`, a worker and a
    /// scheduler; `allow` is their `BATON_OUTBOUND_ALLOW`, unset when `None`.
    async fn start(allow: Option<&str>, engine: bool, definitions: &str) -> Self {
        let mut builder = TestApp::builder().definitions(definitions);
        if let Some(allow) = allow {
            builder = builder.env("BATON_OUTBOUND_ALLOW", allow);
        }
        // Only the API holds the master key: the worker and the scheduler refuse to start with it.
        let app = builder
            .workers(usize::from(engine))
            .worker_env("BATON_BLOCK_MS", "200")
            .scheduler(engine)
            .scheduler_env("BATON_TICK_MS", "50")
            .scheduler_env("BATON_RELEASE_POLL_MS", "200")
            .spawn()
            .await;
        let admin = app.admin().await;
        Self { app, admin }
    }

    /// A request signed by the admin key; the client signs a unique request id into each, so
    /// a repeated change is not refused as a replay.
    async fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Answer {
        self.admin.send(method, path, body).await
    }

    /// `POST /task-services` for `url`.
    async fn register(&self, url: &str) -> Answer {
        self.send(
            "POST",
            "/task-services",
            Some(&json!({"name": "Service", "description": "d", "author": "tests", "url": url})),
        )
        .await
    }

    /// Creates a release (one task per registered service) and returns its id.
    async fn create_release(&self) -> String {
        let answer = self
            .send(
                "POST",
                "/releases",
                Some(&json!({"name": "R", "description": "d", "author": "tests", "studies": ["SD_ME0WME0W"]})),
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.body["kf_id"].as_str().unwrap().to_owned()
    }

    /// The messages of a release's events, oldest first.
    async fn event_messages(&self, release: &str) -> Vec<String> {
        let answer = self
            .send(
                "GET",
                &format!("/events?limit=1000&release={release}"),
                None,
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        // The API lists them newest first.
        answer.body["results"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .map(|event| event["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Waits for an event of `release` whose message contains `needle`.
    async fn wait_for_event(&self, release: &str, needle: &str) -> String {
        wait_for(
            Duration::from_secs(20),
            &format!("an event of {release} with '{needle}'"),
            || async {
                self.event_messages(release)
                    .await
                    .into_iter()
                    .find(|message| message.contains(needle))
            },
        )
        .await
    }
}

/// A task service that answers `/status` with 200 and `/tasks` with `tasks`.
async fn task_service(tasks: Reply) -> FakeService {
    FakeService::start(move |_, path| match path {
        "/status" => Reply::json(200, &json!({"name": "fake", "version": "1"})),
        _ => tasks.clone(),
    })
    .await
}

fn message(answer: &Answer) -> &str {
    answer.body["message"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_task_service_on_loopback_is_refused_without_the_allow_list() {
    let baton = Baton::start(None, false, "").await;
    let service = task_service(Reply::json(200, &json!({"state": "pending"}))).await;

    for url in [
        format!("http://127.0.0.1:{}", service.port()),
        format!("http://[::ffff:127.0.0.1]:{}", service.port()),
        // A name is checked on what it resolves to.
        format!("http://localhost:{}", service.port()),
    ] {
        let answer = baton.register(&url).await;
        assert_eq!(answer.status, 400, "{url}: {}", answer.body);
        assert!(
            message(&answer).contains("outbound policy")
                && message(&answer).contains("loopback")
                && message(&answer).contains("BATON_OUTBOUND_ALLOW"),
            "{url}: {}",
            answer.body
        );
    }
    assert_eq!(
        service.requests(),
        Vec::<String>::new(),
        "nothing reached it"
    );
    let list = baton.send("GET", "/task-services", None).await;
    assert_eq!(list.body["count"], 0, "{}", list.body);
}

#[tokio::test]
async fn a_task_service_on_loopback_registers_with_the_allow_list() {
    let baton = Baton::start(Some("127.0.0.0/8"), false, "").await;
    let service = task_service(Reply::json(200, &json!({"state": "pending"}))).await;
    let url = format!("http://127.0.0.1:{}", service.port());

    let answer = baton.register(&url).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["url"], url.as_str());
    assert_eq!(service.requests(), ["GET /status"]);
}

#[tokio::test]
async fn a_redirect_from_an_allowed_service_is_not_followed() {
    // Allowed by name only: 127.0.0.1 itself stays refused.
    let baton = Baton::start(Some("localhost"), true, "").await;
    let target = FakeService::start(|_, _| Reply::json(200, &json!({"state": "pending"}))).await;
    let elsewhere = format!("http://127.0.0.1:{}", target.port());

    // Registration: its /status redirects.
    let redirecting = FakeService::start({
        let location = format!("{elsewhere}/status");
        move |_, _| Reply::redirect(302, &location)
    })
    .await;
    let answer = baton
        .register(&format!("http://localhost:{}", redirecting.port()))
        .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(message(&answer).contains("HTTP 302"), "{}", answer.body);
    assert_eq!(redirecting.requests(), ["GET /status"]);

    // Lifecycle calls: /status answers, /tasks redirects (307 would repeat the POST).
    let service = task_service(Reply::redirect(307, &format!("{elsewhere}/tasks"))).await;
    let answer = baton
        .register(&format!("http://localhost:{}", service.port()))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let release = baton.create_release().await;
    let rejected = baton.wait_for_event(&release, "rejected").await;
    assert!(rejected.contains("HTTP 307"), "{rejected}");
    assert!(
        service.requests().iter().any(|r| r == "POST /tasks"),
        "{:?}",
        service.requests()
    );

    assert_eq!(
        target.requests(),
        Vec::<String>::new(),
        "no redirect was followed"
    );
}

#[tokio::test]
async fn an_http_task_aimed_at_loopback_fails_with_the_policys_reason() {
    let target = FakeService::start(|_, _| Reply::json(200, &json!({"ok": true}))).await;
    let definitions = format!(
        "example.HOOK:\n  tasks:\n    - NOTIFY\nexecutors:\n  NOTIFY: {{type: http, url: \"http://127.0.0.1:{}/hook\"}}\n",
        target.port()
    );
    let baton = Baton::start(None, true, &definitions).await;

    let created = baton
        .send(
            "POST",
            "/api/workflows",
            Some(&json!({"project": "example", "name": "HOOK", "payload": {}})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let store = baton.app.store().await;
    let run = wait_for(Duration::from_secs(20), "the run to end", || async {
        store
            .get_run(&id)
            .await
            .unwrap()
            .filter(|run| run.status.is_finished())
    })
    .await;
    assert_eq!(run.status.as_str(), "error", "{run:?}");
    let error = run.tasks[0].error.clone().unwrap_or_default();
    assert!(
        error.contains("outbound policy") && error.contains("loopback"),
        "{error}"
    );
    assert_eq!(
        target.requests(),
        Vec::<String>::new(),
        "nothing reached it"
    );
}

#[tokio::test]
async fn urls_with_credentials_or_another_scheme_are_refused() {
    let baton = Baton::start(Some("127.0.0.1"), false, "").await;
    let service = task_service(Reply::json(200, &json!({"state": "pending"}))).await;
    let port = service.port();

    for (url, reason) in [
        (
            format!("http://admin:hunter2@127.0.0.1:{port}"),
            "credentials",
        ),
        (format!("http://admin@127.0.0.1:{port}"), "credentials"),
        (format!("ftp://127.0.0.1:{port}/"), "scheme"),
        ("file:///etc/passwd".to_owned(), "scheme"),
        (format!("gopher://127.0.0.1:{port}/"), "scheme"),
        (format!("http://127.0.0.1:{port}/#frag"), "fragment"),
    ] {
        let answer = baton.register(&url).await;
        assert_eq!(answer.status, 400, "{url}: {}", answer.body);
        let text = message(&answer);
        assert!(
            text.contains("outbound policy") && text.contains(reason),
            "{url}: {text}"
        );
        assert!(!text.contains("hunter2"), "{url}: {text}");
    }
    assert_eq!(
        service.requests(),
        Vec::<String>::new(),
        "nothing reached it"
    );
}

#[tokio::test]
async fn a_long_junk_error_answer_is_summarised_in_events() {
    let baton = Baton::start(Some("127.0.0.1"), true, "").await;
    let junk = "junk\r\n\u{1b}[31mFORGED EVENT\u{202e}\0".repeat(400);
    assert!(junk.len() >= 10 * 1024);
    let service = task_service(Reply::text(500, junk)).await;
    let answer = baton
        .register(&format!("http://127.0.0.1:{}", service.port()))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);

    let release = baton.create_release().await;
    let rejected = baton.wait_for_event(&release, "HTTP 500").await;
    assert!(rejected.contains("junk"), "{rejected}");
    for message in baton.event_messages(&release).await {
        assert!(
            message.chars().count() <= 400,
            "{} characters: {message}",
            message.chars().count()
        );
        assert!(
            !message.chars().any(|c| c.is_control() || c == '\u{202e}'),
            "{message:?}"
        );
    }
}

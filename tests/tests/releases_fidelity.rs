//! End-to-end tests of the releases front's fidelity to the Release Coordinator, over real
//! sockets against real `baton-*` processes and a real `redis-server`: every list newest
//! first (`-created_at`) with its paging intact; studies mirrored from a data service in the
//! Kids First dataservice's shape (paged `/studies`, `/studies/<kf_id>`), read-only, their
//! versions following the releases that publish them; task services reporting progress with
//! the token their registration answered, and only for their own tasks.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton_tests::process::BatonProcess;
use baton_tests::signed_http::{Answer, send_signed};
use baton_tests::wait::{wait_for, wait_until};
use baton_tests::{Client, FakeService, Reply, TestApp};
use serde_json::{Value, json};

/// Studies per page of the fake data service, so that a sync must follow `next`.
const PAGE: usize = 2;

/// A task service that answers `/status` (and takes every task, which nothing here calls).
async fn idle_task_service() -> FakeService {
    FakeService::start(|_, path| match path {
        "/status" => Reply::json(
            200,
            &json!({"name": "idle", "version": "1", "message": "ok"}),
        ),
        _ => Reply::json(200, &json!({"state": "pending", "progress": 0})),
    })
    .await
}

/// The URL of a fake service.
fn url_of(service: &FakeService) -> String {
    format!("http://127.0.0.1:{}", service.port())
}

/// The ids of a list's results, in the order answered.
fn ids(answer: &Answer) -> Vec<String> {
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["kf_id"].as_str().unwrap().to_owned())
        .collect()
}

/// The path and query of an absolute link (`next`, `previous`).
fn path_of(link: &Value) -> String {
    let link = link.as_str().unwrap();
    let rest = link.split_once("://").unwrap().1;
    rest[rest.find('/').unwrap()..].to_owned()
}

/// A fresh millisecond, so that records made one after the other never share a creation time.
async fn next_millisecond() {
    tokio::time::sleep(Duration::from_millis(5)).await;
}

/// `POST /task-services` for `url`; returns the answer.
async fn register(client: &Client, name: &str, url: &str) -> Answer {
    client
        .post(
            "/task-services",
            &json!({"name": name, "description": "d", "author": "tests", "url": url}),
        )
        .await
}

/// Creates a release naming `studies`; returns it.
async fn create_release(client: &Client, name: &str, studies: &[&str]) -> Value {
    let answer = client
        .post(
            "/releases",
            &json!({"name": name, "author": "tests", "studies": studies}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body
}

#[tokio::test]
async fn every_list_is_newest_first_and_pages_keep_working() {
    let app = TestApp::builder()
        .env("BATON_OUTBOUND_ALLOW", "127.0.0.1")
        .spawn()
        .await;
    let admin = app.admin().await;
    let mut fakes = Vec::new();
    let mut services = Vec::new();
    for name in ["S1", "S2", "S3"] {
        let fake = idle_task_service().await;
        let answer = register(&admin, name, &url_of(&fake)).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        services.push(answer.body["kf_id"].as_str().unwrap().to_owned());
        fakes.push(fake);
        next_millisecond().await;
    }
    let mut releases = Vec::new();
    for (name, study) in [
        ("R1", "SD_AAAAAAA1"),
        ("R2", "SD_AAAAAAA2"),
        ("R3", "SD_AAAAAAA3"),
    ] {
        releases.push(
            create_release(&admin, name, &[study]).await["kf_id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
        next_millisecond().await;
    }
    let (r1, s1) = (&releases[0], &services[0]);
    let mut notes = Vec::new();
    let mut events = Vec::new();
    for n in 1..=3 {
        let note = admin
            .post(
                "/release-notes",
                &json!({"description": format!("note {n}"), "release": r1}),
            )
            .await;
        assert_eq!(note.status, 200, "{}", note.body);
        notes.push(note.body["kf_id"].as_str().unwrap().to_owned());
        let event = admin
            .post(
                "/events",
                &json!({"message": format!("event {n}"), "release": r1, "task_service": s1}),
            )
            .await;
        assert_eq!(event.status, 200, "{}", event.body);
        events.push(event.body["kf_id"].as_str().unwrap().to_owned());
        next_millisecond().await;
    }
    let newest_first = |mut ids: Vec<String>| {
        ids.reverse();
        ids
    };

    assert_eq!(
        ids(&admin.get("/task-services").await),
        newest_first(services.clone())
    );
    assert_eq!(
        ids(&admin.get("/releases").await),
        newest_first(releases.clone())
    );
    assert_eq!(
        ids(&admin.get("/release-notes").await),
        newest_first(notes.clone())
    );
    assert_eq!(
        ids(&admin.get(&format!("/release-notes?release={r1}")).await),
        newest_first(notes.clone())
    );
    // Without a data service, the studies releases name are made with their ids as names.
    let studies = admin.get("/studies").await;
    assert_eq!(ids(&studies), ["SD_AAAAAAA3", "SD_AAAAAAA2", "SD_AAAAAAA1"]);
    for study in studies.body["results"].as_array().unwrap() {
        assert_eq!(study["name"], study["kf_id"]);
    }

    // Events: the posted ones (newest first) before the release's own, older, event; the
    // same through one filter and through two (intersected).
    let of_r1 = ids(&admin.get(&format!("/events?release={r1}")).await);
    assert_eq!(of_r1.len(), 4, "{of_r1:?}");
    assert_eq!(of_r1[..3], newest_first(events.clone())[..]);
    assert_eq!(
        ids(&admin
            .get(&format!("/events?release={r1}&task_service={s1}"))
            .await),
        newest_first(events.clone())
    );
    let all_events = admin.get("/events?limit=1000").await;
    let created: Vec<&str> = all_events.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["created_at"].as_str().unwrap())
        .collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "{created:?}");

    // Tasks: those of the newest release first.
    let tasks = admin.get("/tasks?limit=1000").await;
    assert_eq!(tasks.body["count"], 9);
    let release_of = |task: &Value| {
        let url = task["release"].as_str().unwrap();
        releases
            .iter()
            .position(|id| url.ends_with(&format!("/releases/{id}")))
            .unwrap()
    };
    let order: Vec<usize> = tasks.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(release_of)
        .collect();
    assert_eq!(order, [2, 2, 2, 1, 1, 1, 0, 0, 0]);
    let of_newest = admin
        .get(&format!("/tasks?release={}&state=waiting", releases[2]))
        .await;
    assert_eq!(of_newest.body["count"], 3, "{}", of_newest.body);

    // Paging walks the same order: count, next and previous as before.
    let first = admin.get("/releases?limit=2").await;
    assert_eq!(first.body["count"], 3);
    assert_eq!(ids(&first), [releases[2].clone(), releases[1].clone()]);
    assert_eq!(first.body["previous"], Value::Null);
    let next = path_of(&first.body["next"]);
    assert!(
        next.contains("limit=2") && next.contains("offset=2"),
        "{next}"
    );
    let second = admin.get(&next).await;
    assert_eq!(ids(&second), [releases[0].clone()]);
    assert_eq!(second.body["next"], Value::Null);
    let previous = path_of(&second.body["previous"]);
    assert!(previous.contains("offset=0"), "{previous}");
    assert_eq!(ids(&admin.get(&previous).await), ids(&first));
    let middle = admin.get("/task-services?limit=1&offset=1").await;
    assert_eq!(ids(&middle), [services[1].clone()]);
    let paged_events = admin
        .get(&format!(
            "/events?release={r1}&task_service={s1}&limit=2&offset=1"
        ))
        .await;
    assert_eq!(paged_events.body["count"], 3);
    assert_eq!(ids(&paged_events), [events[1].clone(), events[0].clone()]);
}

/// A data service in the Kids First dataservice's shape: `GET /studies` pages its listed
/// studies [`PAGE`] at a time (`_links.next: /studies?after=N`), `GET /studies/<kf_id>`
/// answers a listed or an unlisted one (`{"results": {...}}`), or 404.
struct DataService {
    fake: FakeService,
    listed: Arc<Mutex<Vec<Value>>>,
    unlisted: Arc<Mutex<Vec<Value>>>,
}

impl DataService {
    async fn start(listed: Vec<Value>) -> Self {
        let listed = Arc::new(Mutex::new(listed));
        let unlisted: Arc<Mutex<Vec<Value>>> = Arc::default();
        let (pages, singles) = (Arc::clone(&listed), Arc::clone(&unlisted));
        let fake = FakeService::start(move |method, path| {
            if method != "GET" {
                return Reply::json(405, &json!({"_status": {"code": 405}}));
            }
            let (route, query) = path.split_once('?').unwrap_or((path, ""));
            if route == "/studies" {
                let after: usize = query
                    .split('&')
                    .find_map(|pair| pair.strip_prefix("after="))
                    .and_then(|after| after.parse().ok())
                    .unwrap_or(0);
                let studies = pages.lock().unwrap().clone();
                let results: Vec<Value> = studies.iter().skip(after).take(PAGE).cloned().collect();
                let mut links = json!({"self": "/studies"});
                if after + PAGE < studies.len() {
                    links["next"] = json!(format!("/studies?after={}", after + PAGE));
                }
                return Reply::json(
                    200,
                    &json!({
                        "_status": {"code": 200, "message": "success"},
                        "_links": links,
                        "limit": PAGE,
                        "total": studies.len(),
                        "results": results,
                    }),
                );
            }
            let Some(id) = route.strip_prefix("/studies/") else {
                return Reply::json(404, &json!({"_status": {"code": 404}}));
            };
            let known = pages
                .lock()
                .unwrap()
                .iter()
                .chain(singles.lock().unwrap().iter())
                .find(|study| study["kf_id"] == id)
                .cloned();
            match known {
                Some(study) => Reply::json(
                    200,
                    &json!({
                        "_status": {"code": 200, "message": "success"},
                        "_links": {"self": format!("/studies/{id}")},
                        "results": study,
                    }),
                ),
                None => Reply::json(
                    404,
                    &json!({"_status": {"code": 404, "message": format!("could not find study {id}")}}),
                ),
            }
        })
        .await;
        Self {
            fake,
            listed,
            unlisted,
        }
    }

    fn url(&self) -> String {
        url_of(&self.fake)
    }

    fn requests(&self) -> Vec<String> {
        self.fake.requests()
    }
}

/// A study as the data service describes it.
fn ds_study(kf_id: &str, name: Value, visible: bool, created_at: &str) -> Value {
    json!({
        "kf_id": kf_id,
        "name": name,
        "short_name": format!("{kf_id} (short)"),
        "visible": visible,
        "created_at": created_at,
        "modified_at": created_at,
        "external_id": "phs000000",
        "_links": {"self": format!("/studies/{kf_id}")},
    })
}

#[tokio::test]
async fn studies_are_mirrored_from_the_data_service_and_follow_the_releases_that_publish_them() {
    let mut deleted_there = ds_study(
        "SD_DDDDDDDD",
        json!("Delta"),
        true,
        "2018-04-01T00:00:00+00:00",
    );
    deleted_there["deleted"] = json!(true);
    let data = DataService::start(vec![
        ds_study(
            "SD_AAAAAAAA",
            json!("Alpha"),
            true,
            "2018-01-01T00:00:00+00:00",
        ),
        ds_study(
            "SD_BBBBBBBB",
            json!("Beta"),
            false,
            "2018-02-01T00:00:00+00:00",
        ),
        ds_study(
            "SD_CCCCCCCC",
            Value::Null,
            true,
            "2018-03-01T00:00:00+00:00",
        ),
        deleted_there,
    ])
    .await;
    let app = TestApp::builder()
        .env("BATON_OUTBOUND_ALLOW", "127.0.0.1")
        .env("BATON_DATASERVICE_URL", &data.url())
        .workers(1)
        .worker_env("BATON_QUEUES", "default")
        .scheduler(true)
        .scheduler_env("BATON_RELEASE_POLL_MS", "200")
        .scheduler_env("BATON_DATASERVICE_SYNC_SECS", "1")
        .spawn()
        .await;
    let admin = app.admin().await;

    // The scheduler's sync reads every page.
    let studies = wait_for(Duration::from_secs(15), "the first sync", || async {
        let answer = admin.get("/studies").await;
        (answer.body["count"] == 4).then_some(answer)
    })
    .await;
    assert!(
        data.requests().iter().any(|r| r == "GET /studies?after=2"),
        "{:?}",
        data.requests()
    );
    // Newest first by the data service's creation time, which they keep.
    assert_eq!(
        ids(&studies),
        ["SD_DDDDDDDD", "SD_CCCCCCCC", "SD_BBBBBBBB", "SD_AAAAAAAA"]
    );
    let by_id = |id: &str| {
        studies.body["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|study| study["kf_id"] == id)
            .unwrap()
            .clone()
    };
    let alpha = by_id("SD_AAAAAAAA");
    assert_eq!(
        (&alpha["name"], &alpha["visible"], &alpha["deleted"]),
        (&json!("Alpha"), &json!(true), &json!(false))
    );
    assert_eq!(alpha["created_at"], "2018-01-01T00:00:00.000000Z");
    assert_eq!(
        (
            &alpha["version"],
            &alpha["last_pub_version"],
            &alpha["last_pub_date"]
        ),
        (&Value::Null, &Value::Null, &Value::Null)
    );
    assert_eq!(
        by_id("SD_BBBBBBBB")["visible"],
        false,
        "invisible there, invisible here"
    );
    assert_eq!(
        by_id("SD_CCCCCCCC")["name"],
        "SD_CCCCCCCC (short)",
        "no name: its short name"
    );
    assert_eq!(by_id("SD_DDDDDDDD")["deleted"], true);

    // Studies are read-only through the API.
    for (method, path) in [
        ("POST", "/studies"),
        ("PATCH", "/studies/SD_AAAAAAAA"),
        ("DELETE", "/studies/SD_AAAAAAAA"),
    ] {
        let refused = admin
            .send(method, path, Some(&json!({"name": "renamed"})))
            .await;
        assert_eq!(refused.status, 405, "{method} {path}: {}", refused.body);
        assert_eq!(refused.header("allow"), Some("GET"));
        assert!(refused.body["message"].is_string(), "{}", refused.body);
    }

    // A study the data service does not know cannot be released.
    let unknown = admin
        .post(
            "/releases",
            &json!({"name": "X", "studies": ["SD_ZZZZZZZZ"]}),
        )
        .await;
    assert_eq!(unknown.status, 400, "{}", unknown.body);
    assert!(
        unknown.body["message"]
            .as_str()
            .unwrap()
            .contains("SD_ZZZZZZZZ is not known to the data service"),
        "{}",
        unknown.body
    );
    assert_eq!(admin.get("/releases").await.body["count"], 0);
    assert_eq!(admin.get("/studies/SD_ZZZZZZZZ").await.status, 404);

    // A task service that registers itself and reports with the token it was answered.
    let secret = app.create_key("service", "releases.write", &[]).await;
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/task_service.py");
    let service = BatonProcess::spawn_path(
        Path::new("python3"),
        &[
            &example.display().to_string(),
            "--port",
            "0",
            "--coordinator",
            app.base(),
            "--key-id",
            "service",
            &format!("--secret={secret}"),
            "--work-secs",
            "0.3",
            "--register",
        ],
        &[],
    );
    service
        .wait_for_log("reports with its token", Duration::from_secs(15))
        .await;

    // A study the data service knows, not seen yet: asked for when a release names it.
    data.unlisted.lock().unwrap().push(ds_study(
        "SD_EEEEEEEE",
        json!("Epsilon"),
        true,
        "2018-05-01T00:00:00+00:00",
    ));
    let release = create_release(&admin, "First", &["SD_AAAAAAAA", "SD_EEEEEEEE"]).await;
    let id = release["kf_id"].as_str().unwrap().to_owned();
    assert!(
        data.requests()
            .iter()
            .any(|r| r == "GET /studies/SD_EEEEEEEE"),
        "{:?}",
        data.requests()
    );
    let epsilon = admin.get("/studies/SD_EEEEEEEE").await;
    assert_eq!(epsilon.status, 200, "{}", epsilon.body);
    assert_eq!(epsilon.body["name"], "Epsilon");
    let moved = data.unlisted.lock().unwrap().pop().unwrap();
    data.listed.lock().unwrap().push(moved);

    // A study the data service no longer lists is marked deleted, and stays listed here.
    data.listed
        .lock()
        .unwrap()
        .retain(|study| study["kf_id"] != "SD_CCCCCCCC");
    wait_until(
        Duration::from_secs(15),
        "Gamma to be marked deleted",
        || async { admin.get("/studies/SD_CCCCCCCC").await.body["deleted"] == true },
    )
    .await;
    assert_eq!(admin.get("/studies").await.body["count"], 5);

    // Publishing the release records its version on its studies.
    wait_for(
        Duration::from_secs(20),
        "the release to be staged",
        || async {
            let release = admin.get(&format!("/releases/{id}")).await;
            (release.body["state"] == "staged").then_some(())
        },
    )
    .await;
    let published = admin
        .post(&format!("/releases/{id}/publish"), &json!({}))
        .await;
    assert_eq!(published.status, 200, "{}", published.body);
    let release = wait_for(
        Duration::from_secs(20),
        "the release to be published",
        || async {
            let release = admin.get(&format!("/releases/{id}")).await;
            (release.body["state"] == "published").then_some(release.body)
        },
    )
    .await;
    assert_eq!(release["version"], "0.1.0");
    // Its reports may still be on their way: the coordinator also polls with get_status.
    for state in ["staged", "published"] {
        service
            .wait_for_log(
                &format!("{state} with its token: HTTP 200"),
                Duration::from_secs(15),
            )
            .await;
    }
    for study in ["SD_AAAAAAAA", "SD_EEEEEEEE"] {
        let shown = admin.get(&format!("/studies/{study}")).await.body;
        assert_eq!(shown["version"], "0.1.0", "{shown}");
        assert_eq!(shown["last_pub_version"], "0.1.0", "{shown}");
        let date = shown["last_pub_date"].as_str().unwrap();
        assert!(
            date >= release["created_at"].as_str().unwrap(),
            "{date} is not after the release's creation"
        );
    }
    let beta = admin.get("/studies/SD_BBBBBBBB").await.body;
    assert_eq!(
        (
            &beta["version"],
            &beta["last_pub_version"],
            &beta["last_pub_date"]
        ),
        (&Value::Null, &Value::Null, &Value::Null),
        "not in the release"
    );

    // Later syncs take the data service's changes and leave the versions be.
    data.listed.lock().unwrap()[0]["name"] = json!("Alpha, renamed");
    let alpha = wait_for(
        Duration::from_secs(15),
        "the rename to be synced",
        || async {
            let alpha = admin.get("/studies/SD_AAAAAAAA").await.body;
            (alpha["name"] == "Alpha, renamed").then_some(alpha)
        },
    )
    .await;
    assert_eq!(alpha["version"], "0.1.0");
    assert_eq!(alpha["last_pub_version"], "0.1.0");
    wait_until(
        Duration::from_secs(15),
        "Epsilon, listed now, to be present",
        || async { admin.get("/studies/SD_EEEEEEEE").await.body["deleted"] == false },
    )
    .await;
}

/// Sends `PATCH /tasks/<task>` with `body`, unsigned, with `authorization` when given.
async fn report(app: &TestApp, task: &str, authorization: Option<&str>, body: &[u8]) -> Answer {
    let headers: Vec<(&str, &str)> = authorization
        .map(|value| ("authorization", value))
        .into_iter()
        .collect();
    app.anonymous()
        .send_raw("PATCH", &format!("/tasks/{task}"), body, &headers)
        .await
}

/// Two registered services, each with its token, and a release with one task of each.
struct TwoServices {
    app: TestApp,
    admin: Client,
    fakes: Vec<FakeService>,
    ids: Vec<String>,
    tokens: Vec<String>,
    tasks: Vec<String>,
}

impl TwoServices {
    async fn start() -> Self {
        let app = TestApp::builder()
            .env("BATON_OUTBOUND_ALLOW", "127.0.0.1")
            .spawn()
            .await;
        let admin = app.admin().await;
        let (mut fakes, mut ids, mut tokens) = (Vec::new(), Vec::new(), Vec::new());
        for name in ["A", "B"] {
            let fake = idle_task_service().await;
            let answer = register(&admin, name, &url_of(&fake)).await;
            assert_eq!(answer.status, 200, "{}", answer.body);
            let id = answer.body["kf_id"].as_str().unwrap().to_owned();
            let token = answer.body["token"].as_str().unwrap().to_owned();
            assert!(token.starts_with(&format!("{id}.")), "{token}");
            ids.push(id);
            tokens.push(token);
            fakes.push(fake);
        }
        let release = create_release(&admin, "R", &[]).await;
        let tasks = ids
            .iter()
            .map(|id| {
                release["tasks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|task| {
                        task["task_service"]
                            .as_str()
                            .unwrap()
                            .ends_with(&format!("/task-services/{id}"))
                    })
                    .unwrap()["kf_id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        Self {
            app,
            admin,
            fakes,
            ids,
            tokens,
            tasks,
        }
    }

    fn bearer(&self, service: usize) -> String {
        format!("Bearer {}", self.tokens[service])
    }
}

#[tokio::test]
async fn a_task_service_reports_progress_with_its_token() {
    let two = TwoServices::start().await;
    // The token is answered once, at registration: never shown again.
    let shown = two
        .admin
        .get(&format!("/task-services/{}", two.ids[0]))
        .await;
    assert_eq!(shown.body.get("token"), None, "{}", shown.body);
    let listed = two.admin.get("/task-services").await;
    assert!(
        !listed.body.to_string().contains("\"token\""),
        "{}",
        listed.body
    );

    let task = &two.tasks[0];
    let progress = report(&two.app, task, Some(&two.bearer(0)), br#"{"progress": 40}"#).await;
    assert_eq!(progress.status, 200, "{}", progress.body);
    assert_eq!(
        (&progress.body["kf_id"], &progress.body["progress"]),
        (&json!(task), &json!(40))
    );
    let moved = report(
        &two.app,
        task,
        Some(&two.bearer(0)),
        br#"{"state": "initialized", "progress": 50}"#,
    )
    .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_eq!(moved.body["state"], "initialized");
    assert_eq!(moved.body["progress"], 50);
    let events = two.admin.get(&format!("/events?task={task}")).await;
    assert_eq!(
        events.body["results"][0]["message"],
        format!("task {task} changed from waiting to initialized")
    );
    // The same checks as a signed report: an impossible transition is a 400.
    let impossible = report(
        &two.app,
        task,
        Some(&two.bearer(0)),
        br#"{"state": "published"}"#,
    )
    .await;
    assert_eq!(impossible.status, 400, "{}", impossible.body);
    // A task that does not exist, reported with a valid token.
    let missing = report(
        &two.app,
        "TA_NOPE0000",
        Some(&two.bearer(0)),
        br#"{"progress": 1}"#,
    )
    .await;
    assert_eq!(missing.status, 404, "{}", missing.body);

    // Signed reports work as before.
    let signed = two
        .admin
        .patch(
            &format!("/tasks/{}", two.tasks[1]),
            &json!({"progress": 70}),
        )
        .await;
    assert_eq!(signed.status, 200, "{}", signed.body);
    assert_eq!(signed.body["progress"], 70);
    let _ = &two.fakes;
}

#[tokio::test]
async fn reports_with_a_wrong_missing_foreign_or_replaced_token_are_refused() {
    let two = TwoServices::start().await;
    let task = &two.tasks[0];
    let body = br#"{"progress": 10}"#;
    let refused = |answer: &Answer, status: u16| {
        assert_eq!(answer.status, status, "{}", answer.body);
        assert!(answer.body["message"].is_string(), "{}", answer.body);
    };

    // None, a malformed one, and a well-formed one that is not the service's.
    let none = report(&two.app, task, None, body).await;
    refused(&none, 401);
    assert!(
        none.body["message"].as_str().unwrap().contains("token"),
        "{}",
        none.body
    );
    refused(
        &report(&two.app, task, Some("Bearer nope"), body).await,
        401,
    );
    let (service, secret) = two.tokens[0].split_once('.').unwrap();
    let forged = format!("Bearer {service}.{}", "A".repeat(secret.len()));
    refused(&report(&two.app, task, Some(&forged), body).await, 401);
    // Another service's token, valid for its own tasks only.
    let foreign = report(&two.app, task, Some(&two.bearer(1)), body).await;
    refused(&foreign, 403);
    assert!(
        foreign.body["message"]
            .as_str()
            .unwrap()
            .contains("another task service"),
        "{}",
        foreign.body
    );
    // The token is checked before the body is read: a wrong token is refused as such
    // whatever the body (malformed, or larger than the limit).
    refused(
        &report(&two.app, task, Some(&forged), b"{not json").await,
        401,
    );
    let oversized = send_signed(
        &reqwest::Client::new(),
        two.app.base(),
        None,
        "PATCH",
        &format!("/tasks/{task}"),
        &vec![b' '; 2 * 1024 * 1024],
        &[("authorization", forged.as_str())],
    )
    .await;
    refused(&oversized, 401);
    let unchanged = two.admin.get(&format!("/tasks/{task}")).await;
    assert_eq!(unchanged.body["progress"], 0, "{}", unchanged.body);

    // Registering again at the same URL keeps the service and replaces its token.
    let again = register(&two.admin, "A, again", &url_of(&two.fakes[0])).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["kf_id"], two.ids[0].as_str());
    assert_eq!(again.body["name"], "A, again");
    let renewed = again.body["token"].as_str().unwrap().to_owned();
    assert_ne!(renewed, two.tokens[0]);
    assert_eq!(two.admin.get("/task-services").await.body["count"], 2);
    refused(
        &report(&two.app, task, Some(&two.bearer(0)), body).await,
        401,
    );
    let accepted = report(&two.app, task, Some(&format!("Bearer {renewed}")), body).await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    assert_eq!(accepted.body["progress"], 10);

    // A deleted service's token is refused.
    let deleted = two
        .admin
        .delete(&format!("/task-services/{}", two.ids[1]))
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    refused(
        &report(&two.app, &two.tasks[1], Some(&two.bearer(1)), body).await,
        401,
    );
    // Only task reports take a service's token.
    let elsewhere = two
        .app
        .anonymous()
        .send_raw(
            "GET",
            "/releases",
            &[],
            &[("authorization", &format!("Bearer {renewed}"))],
        )
        .await;
    refused(&elsewhere, 401);
}

#[tokio::test]
async fn a_release_naming_an_unknown_study_while_the_data_service_is_down_answers_503() {
    // A port nothing listens on: the data service is down.
    let down = format!("http://127.0.0.1:{}", baton_tests::signed_http::free_port());
    let app = TestApp::builder()
        .env("BATON_OUTBOUND_ALLOW", "127.0.0.1")
        .env("BATON_DATASERVICE_URL", &down)
        .spawn()
        .await;
    let admin = app.admin().await;

    let refused = admin
        .post(
            "/releases",
            &json!({"name": "X", "studies": ["SD_ZZZZZZZZ"]}),
        )
        .await;
    assert_eq!(refused.status, 503, "{}", refused.body);
    // The coordinator's error format: one `message`, naming the study and why.
    let body = refused.body.as_object().unwrap();
    assert_eq!(
        body.keys().collect::<Vec<_>>(),
        ["message"],
        "{}",
        refused.body
    );
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("cannot look study SD_ZZZZZZZZ up")
            && message.contains("the data service did not answer"),
        "{message}"
    );
    // Nothing was made.
    assert_eq!(admin.get("/releases").await.body["count"], 0);
    assert_eq!(admin.get("/studies/SD_ZZZZZZZZ").await.status, 404);
}

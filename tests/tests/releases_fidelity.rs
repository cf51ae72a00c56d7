//! End-to-end tests of the releases front's fidelity to the Release Coordinator, over real
//! sockets against real `baton-*` processes and a real `redis-server`: every list newest
//! first (`-created_at`) with its paging intact.

use std::time::Duration;

use baton_tests::signed_http::Answer;
use baton_tests::{Client, FakeService, Reply, TestApp};
use serde_json::{Value, json};

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


//! The release store's listings against a real `redis-server`: filtered listings read their
//! field's index, so they find every matching record however many others exist, and the
//! indexes follow creations, transitions, updates and deletes; several filters intersect.

use baton_tests::redis_server::RedisServer;
use baton_tests::unique_prefix;
use common::releases::ReleaseState;
use common::releases::records::{Event, Release, ReleaseNote, Task, TaskService};
use common::releases::{IdKind, TaskState};
use common::store::Store;
use common::store::record_fields::field_value;
use common::store::releases::lifecycle::NewRelease;
use common::time::now_ms;
use futures::StreamExt;

async fn store(redis: &RedisServer) -> Store {
    redis.store(&unique_prefix()).await
}

fn event(release: &str, message: String) -> Event {
    Event {
        kf_id: IdKind::Event.new_id(),
        event_type: "info".into(),
        message,
        release: Some(release.into()),
        task: None,
        task_service: None,
        study: None,
        created_ms: now_ms(),
    }
}

/// The ids of the tasks matching every filter (checking the count agrees).
async fn task_ids(store: &Store, filters: &[(&'static str, &str)]) -> Vec<String> {
    let page = store
        .list_release_records::<Task>(filters, 0, 10)
        .await
        .unwrap();
    assert_eq!(page.count, page.items.len(), "{filters:?}");
    ids(&page.items, |t| &t.kf_id)
}

/// An enabled task service that was never called.
fn task_service() -> TaskService {
    TaskService {
        kf_id: IdKind::TaskService.new_id(),
        name: "svc".into(),
        description: String::new(),
        author: String::new(),
        url: "http://127.0.0.1:9".into(),
        enabled: true,
        health_status: "ok".into(),
        last_ok_status: 0,
        last_ok_ms: now_ms(),
        created_ms: now_ms(),
    }
}

fn ids<R>(items: &[R], id: impl Fn(&R) -> &str) -> Vec<String> {
    items.iter().map(|item| id(item).to_owned()).collect()
}

#[tokio::test]
async fn a_filtered_listing_finds_old_records_behind_many_newer_ones() {
    let redis = RedisServer::start();
    let store = store(&redis).await;
    let old_release = IdKind::Release.new_id();
    let mine: Vec<Event> = (0..3)
        .map(|n| Event {
            // Apart in time, so the index orders them.
            created_ms: now_ms() - 10 + n,
            ..event(&old_release, format!("mine {n}"))
        })
        .collect();
    for event in &mine {
        store.insert_release_record(event).await.unwrap();
    }
    // Many more newer events of another release.
    let other = IdKind::Release.new_id();
    let newer = 10_050;
    futures::stream::iter(0..newer)
        .map(|n| {
            let store = &store;
            let other = &other;
            async move {
                store
                    .insert_release_record(&event(other, format!("other {n}")))
                    .await
                    .unwrap()
            }
        })
        .buffer_unordered(64)
        .collect::<Vec<()>>()
        .await;

    let page = store
        .list_release_records::<Event>(&[("release", &old_release)], 0, 10)
        .await
        .unwrap();
    assert_eq!(page.count, 3);
    assert_eq!(ids(&page.items, |e| &e.kf_id), ids(&mine, |e| &e.kf_id));
    // The second page of a scoped listing, and the unfiltered total.
    let second = store
        .list_release_records::<Event>(&[("release", &old_release)], 2, 10)
        .await
        .unwrap();
    assert_eq!(ids(&second.items, |e| &e.kf_id), [mine[2].kf_id.clone()]);
    let all = store
        .list_release_records::<Event>(&[], newer, 10)
        .await
        .unwrap();
    assert_eq!(all.count, newer + 3);
    assert_eq!(all.items.len(), 3, "the last page of every event");
}

#[tokio::test]
async fn indexes_follow_transitions_updates_and_deletes() {
    let redis = RedisServer::start();
    let store = store(&redis).await;
    let service = task_service();
    store.insert_release_record(&service).await.unwrap();
    let release = store
        .create_release(&NewRelease {
            name: "R".into(),
            description: String::new(),
            author: String::new(),
            is_major: false,
            tags: Vec::new(),
            studies: Vec::new(),
        })
        .await
        .unwrap();
    let task = release.tasks[0].clone();
    store
        .apply_task_state(&task, TaskState::Initialized, None, None)
        .await
        .unwrap();

    // Events written by the transition script are indexed by release, task and service.
    let of_release = store
        .list_release_records::<Event>(&[("release", &release.kf_id)], 0, 100)
        .await
        .unwrap();
    let of_task = store
        .list_release_records::<Event>(&[("task", &task)], 0, 100)
        .await
        .unwrap();
    let of_service = store
        .list_release_records::<Event>(&[("task_service", &service.kf_id)], 0, 100)
        .await
        .unwrap();
    assert!(of_release.count >= 3, "{:?}", of_release.items);
    assert_eq!(of_task.count, 1, "{:?}", of_task.items);
    assert!(of_task.items[0].message.contains("waiting to initialized"));
    assert_eq!(of_service.items, of_task.items);
    let tasks_of_service = store
        .list_release_records::<Task>(&[("task_service", &service.kf_id)], 0, 10)
        .await
        .unwrap();
    assert_eq!(
        ids(&tasks_of_service.items, |t| &t.kf_id),
        vec![task.clone()]
    );

    // Tasks and releases are indexed by state and move with each transition; several filters
    // intersect their indexes.
    assert_eq!(
        task_ids(&store, &[("state", "initialized")]).await,
        vec![task.clone()]
    );
    assert!(task_ids(&store, &[("state", "waiting")]).await.is_empty());
    let both = [
        ("task_service", service.kf_id.as_str()),
        ("state", "initialized"),
    ];
    assert_eq!(task_ids(&store, &both).await, vec![task.clone()]);
    let none = [
        ("task_service", service.kf_id.as_str()),
        ("state", "running"),
    ];
    assert!(task_ids(&store, &none).await.is_empty());
    let now = store
        .release_record::<Release>(&release.kf_id)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(now.state, ReleaseState::Waiting);
    let releases_in = |state: &'static str| {
        let store = &store;
        async move {
            let page = store
                .list_release_records::<Release>(&[("state", state)], 0, 10)
                .await
                .unwrap();
            ids(&page.items, |r| &r.kf_id)
        }
    };
    assert_eq!(
        releases_in(now.state.as_str()).await,
        vec![release.kf_id.clone()]
    );
    assert!(releases_in("waiting").await.is_empty());

    // A service disabled moves to the other `enabled` index.
    assert_eq!(
        store.task_services(true).await.unwrap(),
        vec![service.clone()]
    );
    assert!(
        store
            .update_release_record::<TaskService>(
                &service.kf_id,
                &[("enabled", field_value(&false))]
            )
            .await
            .unwrap()
    );
    assert!(store.task_services(true).await.unwrap().is_empty());
    let disabled = store
        .list_release_records::<TaskService>(&[("enabled", "0")], 0, 10)
        .await
        .unwrap();
    assert_eq!(
        ids(&disabled.items, |s| &s.kf_id),
        vec![service.kf_id.clone()]
    );

    // A note moved to another release leaves the first one's index.
    let second = IdKind::Release.new_id();
    let note = ReleaseNote {
        kf_id: IdKind::Note.new_id(),
        description: "notes".into(),
        author: String::new(),
        release: release.kf_id.clone(),
        study: None,
        created_ms: now_ms(),
    };
    store.insert_release_record(&note).await.unwrap();
    let notes_of = |id: String| {
        let store = &store;
        async move {
            store
                .release_records_by::<ReleaseNote>("release", &[id.as_str()])
                .await
                .unwrap()
        }
    };
    assert_eq!(notes_of(release.kf_id.clone()).await, vec![note.clone()]);
    assert!(
        store
            .update_release_record::<ReleaseNote>(&note.kf_id, &[("release", second.clone())])
            .await
            .unwrap()
    );
    assert!(notes_of(release.kf_id.clone()).await.is_empty());
    assert_eq!(notes_of(second.clone()).await[0].release, second);

    // A deleted record leaves every index it was in.
    assert!(
        store
            .delete_release_record::<ReleaseNote>(&note.kf_id)
            .await
            .unwrap()
    );
    assert!(notes_of(second).await.is_empty());
    let event = &of_task.items[0];
    assert!(
        store
            .delete_release_record::<Event>(&event.kf_id)
            .await
            .unwrap()
    );
    for (field, value) in [("task", &task), ("task_service", &service.kf_id)] {
        let page = store
            .list_release_records::<Event>(&[(field, value)], 0, 10)
            .await
            .unwrap();
        assert_eq!(page.count, 0, "{field}");
    }
}

#[tokio::test]
async fn concurrent_updates_and_deletes_leave_indexes_agreeing_with_the_hashes() {
    let redis = RedisServer::start();
    let store = store(&redis).await;
    let service = task_service();
    store.insert_release_record(&service).await.unwrap();
    let listed = |enabled: bool| {
        let store = &store;
        async move {
            let page = store
                .list_release_records::<TaskService>(&[("enabled", &*field_value(&enabled))], 0, 10)
                .await
                .unwrap();
            // An index entry without its record would count without being listed.
            assert_eq!(page.count, page.items.len(), "enabled={enabled}");
            ids(&page.items, |s| &s.kf_id)
        }
    };
    for round in 0..20 {
        // Enabling and disabling at once, many times over.
        futures::stream::iter(0..16)
            .map(|n| {
                let store = &store;
                let id = service.kf_id.as_str();
                async move {
                    store
                        .update_release_record::<TaskService>(
                            id,
                            &[("enabled", field_value(&(n % 2 == 0)))],
                        )
                        .await
                        .unwrap()
                }
            })
            .buffer_unordered(16)
            .collect::<Vec<bool>>()
            .await;
        let now = store
            .release_record::<TaskService>(&service.kf_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            listed(now.enabled).await,
            vec![service.kf_id.clone()],
            "round {round}"
        );
        assert!(listed(!now.enabled).await.is_empty(), "round {round}");
    }

    // An update of a deleted record writes nothing back.
    assert!(
        store
            .delete_release_record::<TaskService>(&service.kf_id)
            .await
            .unwrap()
    );
    let updated = store
        .update_release_record::<TaskService>(&service.kf_id, &[("enabled", field_value(&true))])
        .await
        .unwrap();
    assert!(!updated);
    assert!(
        store
            .release_record::<TaskService>(&service.kf_id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(listed(true).await.is_empty());

    // A delete racing an update leaves no index entry behind, whichever runs first.
    for round in 0..20 {
        let doomed = task_service();
        store.insert_release_record(&doomed).await.unwrap();
        let disable = [("enabled", field_value(&false))];
        let (updated, deleted) = tokio::join!(
            store.update_release_record::<TaskService>(&doomed.kf_id, &disable),
            store.delete_release_record::<TaskService>(&doomed.kf_id),
        );
        assert!(deleted.unwrap(), "round {round}");
        updated.unwrap();
        for enabled in [true, false] {
            assert!(listed(enabled).await.is_empty(), "round {round}");
        }
    }
}

/// Creates a release of the one task service's task, drives the task to staged, and
/// publishes it; returns the version it was published as.
async fn publish_one(store: &Store, is_major: bool) -> String {
    let release = store
        .create_release(&NewRelease {
            name: format!("major {is_major}"),
            description: String::new(),
            author: String::new(),
            is_major,
            tags: Vec::new(),
            studies: Vec::new(),
        })
        .await
        .unwrap();
    let task = release.tasks[0].clone();
    for state in [
        TaskState::Initialized,
        TaskState::Running,
        TaskState::Staged,
    ] {
        store
            .apply_task_state(&task, state, None, None)
            .await
            .unwrap();
    }
    store.publish_release(&release.kf_id).await.unwrap();
    for state in [TaskState::Publishing, TaskState::Published] {
        store
            .apply_task_state(&task, state, None, None)
            .await
            .unwrap();
    }
    let published = store
        .release_record::<Release>(&release.kf_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(published.state, ReleaseState::Published, "{published:?}");
    published.version
}

#[tokio::test]
async fn publishing_takes_the_next_minor_or_major_version_of_the_latest_published() {
    let redis = RedisServer::start();
    let store = store(&redis).await;
    store.insert_release_record(&task_service()).await.unwrap();
    assert_eq!(publish_one(&store, false).await, "0.1.0");
    assert_eq!(publish_one(&store, false).await, "0.2.0");
    assert_eq!(publish_one(&store, true).await, "1.0.0");
    assert_eq!(publish_one(&store, false).await, "1.1.0");
    assert_eq!(
        store.latest_published_version().await.unwrap().to_string(),
        "1.1.0"
    );
}

//! The API key store against a real `redis-server`: sealed secrets, permissions, listing,
//! revoking, use times and the replay memory of signed requests.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use baton_tests::redis_server::RedisServer;
use baton_tests::unique_prefix;
use common::auth::api_key::NewApiKey;
use common::auth::permissions::Permission;
use common::auth::sealing::MasterKey;
use common::error::StoreError;
use common::store::Store;

async fn store(redis: &RedisServer) -> Store {
    redis.store(&unique_prefix()).await
}

fn master() -> MasterKey {
    MasterKey::from_secret("the-master-key-of-the-tests").unwrap()
}

fn new_key(id: &str, permissions: &[Permission], secret: Option<&str>) -> NewApiKey {
    NewApiKey {
        id: id.into(),
        permissions: permissions.iter().copied().collect(),
        report_permissions: Default::default(),
        secret: secret.map(String::from),
        allow_date_only: false,
    }
}

async fn raw_hash(redis: &RedisServer, key: &str) -> HashMap<String, String> {
    let mut conn = redis.connection().await;
    redis::cmd("HGETALL")
        .arg(key)
        .query_async(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn generated_secrets_are_stored_only_sealed() {
    let redis = RedisServer::start();
    let store = store(&redis).await;
    let master = master();

    let (key, secret) = store
        .create_api_key(
            &master,
            NewApiKey {
                allow_date_only: true,
                ..new_key(
                    "ops.team-1",
                    &[Permission::WorkflowsRead, Permission::WorkflowsRun],
                    None,
                )
            },
        )
        .await
        .unwrap();
    // 32 random bytes, URL-safe base64 without padding.
    assert_eq!(secret.len(), 43, "{secret}");
    assert!(
        secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{secret}"
    );
    assert_eq!(key.id, "ops.team-1");
    assert_eq!(
        key.permissions,
        BTreeSet::from([Permission::WorkflowsRead, Permission::WorkflowsRun])
    );
    assert!(key.allow_date_only);
    assert!(key.created_ms > 0);
    assert_eq!((key.last_used_ms, key.revoked_ms), (None, None));

    let (read, opened) = store
        .api_key_secret(&master, "ops.team-1")
        .await
        .unwrap()
        .expect("the key exists");
    assert_eq!(read, key);
    assert_eq!(opened, secret.as_bytes());
    assert_eq!(store.api_key("ops.team-1").await.unwrap(), Some(key));

    let fields = raw_hash(&redis, &store.keys().api_key("ops.team-1")).await;
    assert!(fields["secret"].starts_with("v2:"), "{fields:?}");
    assert_eq!(fields["permissions"], "workflows.read,workflows.run");
    for (name, value) in &fields {
        assert!(!name.contains(&secret), "{name}");
        assert!(!value.contains(&secret), "{name} = {value}");
    }

    let other = MasterKey::from_secret("another-master-key-entirely").unwrap();
    let error = store
        .api_key_secret(&other, "ops.team-1")
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Corrupt(_)), "{error:?}");
    assert!(!error.to_string().contains(&secret), "{error}");

    assert_eq!(store.api_key("nobody").await.unwrap(), None);
    assert!(
        store
            .api_key_secret(&master, "nobody")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn given_secrets_are_kept_and_ids_are_unique_and_checked() {
    let redis = RedisServer::start();
    let store = store(&redis).await;
    let master = master();

    let given = "a-secret-chosen-by-the-operator";
    let (_, secret) = store
        .create_api_key(
            &master,
            new_key("orchestra", &[Permission::Admin], Some(given)),
        )
        .await
        .unwrap();
    assert_eq!(secret, given);
    let (_, opened) = store
        .api_key_secret(&master, "orchestra")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(opened, given.as_bytes());
    let fields = raw_hash(&redis, &store.keys().api_key("orchestra")).await;
    assert!(fields.values().all(|value| !value.contains(given)));

    let error = store
        .create_api_key(
            &master,
            new_key(
                "orchestra",
                &[Permission::ReportsRead],
                Some("another-secret-of-the-operator"),
            ),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Invalid(_)), "{error:?}");
    assert!(error.to_string().contains("exists"), "{error}");
    // The refused duplicate changed nothing.
    let (key, opened) = store
        .api_key_secret(&master, "orchestra")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(key.permissions, BTreeSet::from([Permission::Admin]));
    assert_eq!(opened, given.as_bytes());

    let too_long = "k".repeat(65);
    for bad in ["", "a b", "a:b", "{x}", too_long.as_str()] {
        let error = store
            .create_api_key(&master, new_key(bad, &[Permission::Admin], None))
            .await
            .unwrap_err();
        assert!(
            matches!(error, StoreError::Invalid(_)),
            "{bad:?}: {error:?}"
        );
    }
    let longest = "k".repeat(64);
    store
        .create_api_key(&master, new_key(&longest, &[Permission::Admin], None))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_sealed_secret_moved_to_another_key_does_not_open() {
    let redis = RedisServer::start();
    let store = store(&redis).await;
    let master = master();
    let (_, secret_a) = store
        .create_api_key(&master, new_key("key-a", &[Permission::Admin], None))
        .await
        .unwrap();
    store
        .create_api_key(
            &master,
            new_key("key-b", &[Permission::WorkflowsRead], None),
        )
        .await
        .unwrap();

    let fields_a = raw_hash(&redis, &store.keys().api_key("key-a")).await;
    let mut conn = redis.connection().await;
    redis::cmd("HSET")
        .arg(store.keys().api_key("key-b"))
        .arg("secret")
        .arg(&fields_a["secret"])
        .query_async::<()>(&mut conn)
        .await
        .unwrap();

    let error = store.api_key_secret(&master, "key-b").await.unwrap_err();
    assert!(matches!(error, StoreError::Corrupt(_)), "{error:?}");
    assert!(!error.to_string().contains(&secret_a), "{error}");
    // Key a still opens where it belongs.
    let (_, opened) = store
        .api_key_secret(&master, "key-a")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(opened, secret_a.as_bytes());
}

#[tokio::test]
async fn keys_are_listed_revoked_and_touched() {
    let redis = RedisServer::start();
    let store = store(&redis).await;
    let master = master();
    assert!(store.list_api_keys().await.unwrap().is_empty());
    for id in ["zeta", "alpha", "mid.key"] {
        store
            .create_api_key(&master, new_key(id, &[Permission::ReportsRead], None))
            .await
            .unwrap();
    }
    let ids: Vec<String> = store
        .list_api_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|key| key.id)
        .collect();
    assert_eq!(ids, ["alpha", "mid.key", "zeta"]);

    assert!(store.revoke_api_key("mid.key").await.unwrap());
    assert!(!store.revoke_api_key("unknown").await.unwrap());
    let revoked = store.api_key("mid.key").await.unwrap().unwrap();
    assert!(revoked.revoked_ms.is_some());
    assert_eq!(
        store.api_key("alpha").await.unwrap().unwrap().revoked_ms,
        None
    );
    // A revoked key stays listed, marked revoked.
    let listed = store.list_api_keys().await.unwrap();
    assert_eq!(listed.len(), 3);
    assert!(listed[1].revoked_ms.is_some());

    store.touch_api_key("alpha", 1_234_567).await.unwrap();
    assert_eq!(
        store.api_key("alpha").await.unwrap().unwrap().last_used_ms,
        Some(1_234_567)
    );
    store.touch_api_key("alpha", 2_000_000).await.unwrap();
    assert_eq!(
        store.api_key("alpha").await.unwrap().unwrap().last_used_ms,
        Some(2_000_000)
    );
}

#[tokio::test]
async fn admission_refuses_replays_within_the_window_and_revoked_keys() {
    let redis = RedisServer::start();
    let store = store(&redis).await;
    let master = master();
    store
        .create_api_key(&master, new_key("client", &[Permission::Admin], None))
        .await
        .unwrap();
    let fingerprint = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    let first = store
        .admit_request("client", Some(fingerprint), 300)
        .await
        .unwrap();
    assert!(!first.replay && !first.revoked, "{first:?}");
    let used = store.api_key("client").await.unwrap().unwrap().last_used_ms;
    assert!(used.is_some());

    let again = store
        .admit_request("client", Some(fingerprint), 300)
        .await
        .unwrap();
    assert!(again.replay, "{again:?}");
    let other = store
        .admit_request("client", Some("another-fingerprint"), 300)
        .await
        .unwrap();
    assert!(!other.replay, "{other:?}");
    // A request without a fingerprint (a read) is never a replay, however often it comes.
    for _ in 0..2 {
        let read = store.admit_request("client", None, 300).await.unwrap();
        assert!(!read.replay && !read.revoked, "{read:?}");
    }

    tokio::time::sleep(Duration::from_millis(450)).await;
    let after_window = store
        .admit_request("client", Some(fingerprint), 300)
        .await
        .unwrap();
    assert!(!after_window.replay, "{after_window:?}");

    store.revoke_api_key("client").await.unwrap();
    let revoked = store
        .admit_request("client", Some("a-third-fingerprint"), 300)
        .await
        .unwrap();
    assert!(revoked.revoked, "{revoked:?}");
    let revoked_read = store.admit_request("client", None, 300).await.unwrap();
    assert!(revoked_read.revoked, "{revoked_read:?}");
}

#[tokio::test]
async fn a_keys_use_is_written_once_a_minute_per_process_not_on_every_request() {
    let redis = RedisServer::start();
    let prefix = unique_prefix();
    let store = redis.store(&prefix).await;
    store
        .create_api_key(&master(), new_key("busy", &[Permission::Admin], None))
        .await
        .unwrap();
    let last_used = || async { store.api_key("busy").await.unwrap().unwrap().last_used_ms };
    store.admit_request("busy", None, 300).await.unwrap();
    let first = last_used().await.expect("the first use is written");
    let mut monitor = redis.connection().await;
    let writes_before = hset_calls(&mut monitor).await;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(2)).await;
        let read = store.admit_request("busy", None, 300).await.unwrap();
        assert!(!read.revoked && !read.replay, "{read:?}");
    }
    assert_eq!(last_used().await, Some(first));
    assert_eq!(hset_calls(&mut monitor).await, writes_before);
    // Another process writes its own first use at once.
    let other = redis.store(&prefix).await;
    other.admit_request("busy", None, 300).await.unwrap();
    assert!(last_used().await.unwrap() > first);
    // Revocation is read on every request all the same.
    store.revoke_api_key("busy").await.unwrap();
    assert!(
        store
            .admit_request("busy", None, 300)
            .await
            .unwrap()
            .revoked
    );
}

/// How many `HSET` calls the server has run.
async fn hset_calls(conn: &mut redis::aio::MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await
        .unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix("cmdstat_hset:calls="))
        .and_then(|rest| rest.split(',').next())
        .and_then(|calls| calls.parse().ok())
        .unwrap_or(0)
}

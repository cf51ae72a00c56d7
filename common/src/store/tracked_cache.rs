//! Values read from Redis kept in memory while Redis tracks their keys for this process
//! (server-assisted client-side caching, `CLIENT TRACKING`), so that a value read again is
//! not read from Redis until its key changes.
//!
//! # How a value stays right
//! The values are read through one connection of their own, in RESP3 with tracking on: Redis
//! remembers every key read through it and, when one changes (or is deleted, or expires),
//! pushes an invalidation on that same connection, which removes the key's value here. The
//! connection hands each push over as it reads it, before any reply that follows it, so:
//! - **A reader sees every write finished before its read began.** A read first sends a
//!   round trip through this connection (its reads of the values it lacks, or a `PING`), and
//!   only then looks at the values it has: the invalidation of any write Redis finished before
//!   that round trip came before its reply, and has removed the value.
//! - **A value read just before a write is never kept.** Before a key's value is read, it gets
//!   a ticket; an invalidation of the key takes the ticket back, and the value is kept only
//!   with its ticket, under the same lock. An invalidation that comes after the value's reply
//!   but before it is kept (another task may handle it first) takes the ticket; one after it
//!   is kept removes it.
//! - **Nothing is kept long.** A value is used for at most [`MAX_AGE`], then read again:
//!   Redis deletes a key whose time to live has passed (which sends its invalidation) only when
//!   it next meets it, which for a key nobody reads can take long.
//! - **Nothing is kept across connections.** When the connection drops, every value and
//!   ticket is dropped (the invalidations sent meanwhile are lost), and the next read opens a
//!   new connection. A read whose round trip fails is answered without this cache.
//!
//! Only a single Redis server is tracked this way (a cluster's or a Sentinel master's keys
//! are read without a cache), and only when it speaks RESP3 and tracks (Redis 6 and later).
//! Redis keeps, for each tracked key, which connections read it, until the key changes: at
//! most the keys read through this connection within their lifetime.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, ProtocolVersion, PushInfo, PushKind, Value};

/// Longest wait for the tracking connection to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest wait for a reply on the tracking connection.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long reads go without the cache after the connection could not be opened.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// Longest a value is used before it is read again.
pub const MAX_AGE: Duration = Duration::from_secs(60);
/// The name the tracking connection of the listed runs' cache shows in `CLIENT LIST`.
pub const CONNECTION_NAME: &str = "baton-tracked-cache";
/// The name the tracking connection of the empty status indexes' cache shows in `CLIENT LIST`.
pub const INDEX_CONNECTION_NAME: &str = "baton-tracked-indexes";

/// A claim to keep the value about to be read of one key: taken back by an invalidation
/// of the key that comes before the value is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket(u64);

/// Values of type `V` by Redis key, valid while Redis tracks the key. Cheap to clone: clones
/// share the values and the connection.
#[derive(Clone)]
pub(crate) struct TrackedCache<V: Clone + Send + Sync + 'static> {
    shared: Arc<Shared<V>>,
}

/// What the connection's pushes and the readers share.
struct Shared<V> {
    /// The RESP3 client of the server; `None` when there is none to track (no cache).
    client: Option<redis::Client>,
    /// The name of the tracking connection.
    name: &'static str,
    /// Each key's value, and when it was kept.
    values: quick_cache::sync::Cache<String, (V, Instant)>,
    /// Most values kept.
    capacity: usize,
    max_age: Duration,
    /// The ticket of each key whose value is being read; also the lock under which values
    /// are kept and invalidated.
    tickets: Mutex<HashMap<String, u64>>,
    next_ticket: AtomicU64,
    link: Mutex<Link>,
}

/// The state of the tracking connection.
enum Link {
    /// None open; the next read opens one, unless the last attempt failed recently.
    Closed { failed_at: Option<Instant> },
    /// One read is opening it; the others read without the cache meanwhile.
    Opening,
    /// Open, tracking; `number` tells it from the connections before it.
    Open {
        connection: MultiplexedConnection,
        number: u64,
    },
    /// The server does not track keys: no cache.
    Unsupported,
}

impl<V: Clone + Send + Sync + 'static> std::fmt::Debug for TrackedCache<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrackedCache")
            .field("values", &self.shared.values.len())
            .finish()
    }
}

impl<V: Clone + Send + Sync + 'static> TrackedCache<V> {
    /// A cache of at most `capacity` values of the keys of the server `client` reaches (its
    /// address, credentials and TLS; the cache speaks RESP3 to it), or one that keeps nothing
    /// when `client` is `None` or `capacity` is 0.
    pub(crate) fn new(client: Option<&redis::Client>, capacity: usize) -> Self {
        Self::named(client, capacity, CONNECTION_NAME)
    }

    /// [`Self::new`], its tracking connection named `name`.
    pub(crate) fn named(
        client: Option<&redis::Client>,
        capacity: usize,
        name: &'static str,
    ) -> Self {
        Self::with_max_age(client, capacity, MAX_AGE, name)
    }

    /// [`Self::named`], its values used for at most `max_age`.
    fn with_max_age(
        client: Option<&redis::Client>,
        capacity: usize,
        max_age: Duration,
        name: &'static str,
    ) -> Self {
        let client = client.filter(|_| capacity > 0).and_then(|client| {
            let info = client.get_connection_info().clone();
            let settings = info
                .redis_settings()
                .clone()
                .set_protocol(ProtocolVersion::RESP3);
            redis::Client::open(info.set_redis_settings(settings)).ok()
        });
        Self::of_client(client, capacity, max_age, name)
    }

    /// A cache reaching the server through `client` (RESP3 already).
    fn of_client(
        client: Option<redis::Client>,
        capacity: usize,
        max_age: Duration,
        name: &'static str,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                client,
                name,
                values: quick_cache::sync::Cache::new(capacity.max(1)),
                capacity,
                max_age,
                tickets: Mutex::default(),
                next_ticket: AtomicU64::new(1),
                link: Mutex::new(Link::Closed { failed_at: None }),
            }),
        }
    }

    /// An empty cache like this one, with a tracking connection of its own (opened on the
    /// runtime of the task that first reads through it).
    pub(crate) fn another(&self) -> Self {
        let shared = &self.shared;
        Self::of_client(
            shared.client.clone(),
            shared.capacity,
            shared.max_age,
            shared.name,
        )
    }

    /// The value kept of `key`. Only valid after a round trip through [`Self::connection`]
    /// that began after the writes the caller must see.
    pub(crate) fn get(&self, key: &str) -> Option<V> {
        let (value, kept_at) = self.shared.values.get(key)?;
        (kept_at.elapsed() < self.shared.max_age).then_some(value)
    }

    /// A ticket for the value of `key` about to be read through [`Self::connection`].
    pub(crate) fn ticket(&self, key: &str) -> Ticket {
        let ticket = self.shared.next_ticket.fetch_add(1, Ordering::Relaxed);
        self.shared.lock_tickets().insert(key.to_owned(), ticket);
        Ticket(ticket)
    }

    /// Keeps `value`, read of `key` with `ticket`, unless an invalidation of the key came
    /// since the ticket was taken.
    pub(crate) fn keep(&self, key: &str, ticket: Ticket, value: V) {
        let mut tickets = self.shared.lock_tickets();
        if tickets.get(key) == Some(&ticket.0) {
            tickets.remove(key);
            self.shared
                .values
                .insert(key.to_owned(), (value, Instant::now()));
        }
    }

    /// The tracking connection, opened (with tracking on) when none is; `None` when there is
    /// no cache, the server does not track, or it cannot be reached now.
    pub(crate) async fn connection(&self) -> Option<TrackingConnection> {
        let client = self.shared.client.as_ref()?;
        {
            let mut link = self.shared.lock_link();
            match &*link {
                Link::Open { connection, number } => {
                    return Some(TrackingConnection {
                        connection: connection.clone(),
                        number: *number,
                    });
                }
                Link::Unsupported | Link::Opening => return None,
                Link::Closed {
                    failed_at: Some(at),
                } if at.elapsed() < RETRY_AFTER => return None,
                Link::Closed { .. } => {}
            }
            *link = Link::Opening;
        }
        let opening = Opening(&self.shared);
        let number = self.shared.next_ticket.fetch_add(1, Ordering::Relaxed);
        let opened = self.open(client, number).await;
        std::mem::forget(opening);
        let mut link = self.shared.lock_link();
        match opened {
            Ok(connection) => {
                // Values kept before were tracked by a connection gone: none is valid.
                self.shared.clear();
                *link = Link::Open {
                    connection: connection.clone(),
                    number,
                };
                Some(TrackingConnection { connection, number })
            }
            Err(error) if refuses_tracking(&error) => {
                tracing::warn!(%error, "Redis does not track keys (RESP3 and CLIENT TRACKING, Redis 6 or later): lists read every run from Redis");
                *link = Link::Unsupported;
                None
            }
            Err(error) => {
                tracing::debug!(%error, "the tracking connection could not be opened");
                *link = Link::Closed {
                    failed_at: Some(Instant::now()),
                };
                None
            }
        }
    }

    /// Drops `connection` after a failed round trip, and every value kept.
    pub(crate) fn failed(&self, connection: &TrackingConnection) {
        self.shared.closed(connection.number);
    }

    /// Opens connection `number` and turns tracking on.
    async fn open(
        &self,
        client: &redis::Client,
        number: u64,
    ) -> redis::RedisResult<MultiplexedConnection> {
        let shared = Arc::downgrade(&self.shared);
        let on_push = move |push: PushInfo| -> Result<(), std::convert::Infallible> {
            if let Some(shared) = shared.upgrade() {
                shared.apply(push, number);
            }
            Ok(())
        };
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_push_sender(on_push);
        let mut connection = client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        redis::pipe()
            .cmd("CLIENT")
            .arg("SETNAME")
            .arg(self.shared.name)
            .ignore()
            .cmd("CLIENT")
            .arg("TRACKING")
            .arg("ON")
            .ignore()
            .exec_async(&mut connection)
            .await?;
        Ok(connection)
    }
}

/// Marks the link closed again if the read opening it is dropped before it is done.
struct Opening<'a, V: Clone>(&'a Shared<V>);

impl<V: Clone> Drop for Opening<'_, V> {
    fn drop(&mut self) {
        let mut link = self.0.lock_link();
        if matches!(&*link, Link::Opening) {
            *link = Link::Closed { failed_at: None };
        }
    }
}

/// The tracking connection, as one read took it.
#[derive(Clone)]
pub(crate) struct TrackingConnection {
    /// The connection itself.
    pub(crate) connection: MultiplexedConnection,
    number: u64,
}

impl<V: Clone> Shared<V> {
    fn lock_tickets(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        self.tickets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock_link(&self) -> std::sync::MutexGuard<'_, Link> {
        self.link
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Applies a push of connection `number`.
    fn apply(&self, push: PushInfo, number: u64) {
        match push.kind {
            PushKind::Invalidate => match push.data.first() {
                Some(Value::Array(keys)) => {
                    let mut tickets = self.lock_tickets();
                    for key in keys {
                        if let Some(key) = key_text(key) {
                            tickets.remove(key);
                            self.values.remove(key);
                        }
                    }
                }
                // A null key list: the server flushed its keys, or dropped its tracking
                // table entries.
                _ => self.clear(),
            },
            PushKind::Disconnection => self.closed(number),
            _ => {}
        }
    }

    /// Connection `number` is gone: so is every value it tracked.
    fn closed(&self, number: u64) {
        let mut link = self.lock_link();
        if matches!(&*link, Link::Open { number: open, .. } if *open == number) {
            *link = Link::Closed { failed_at: None };
        }
        drop(link);
        self.clear();
    }

    /// Drops every value and ticket.
    fn clear(&self) {
        let mut tickets = self.lock_tickets();
        tickets.clear();
        self.values.clear();
    }
}

/// A key of an invalidation, as text.
fn key_text(key: &Value) -> Option<&str> {
    match key {
        Value::BulkString(bytes) => std::str::from_utf8(bytes).ok(),
        Value::SimpleString(text) => Some(text),
        _ => None,
    }
}

/// True when `error` says the server cannot track keys for this connection (no `HELLO 3`,
/// or no `CLIENT TRACKING`), rather than that it could not be reached.
fn refuses_tracking(error: &redis::RedisError) -> bool {
    use redis::{ErrorKind, ServerErrorKind};
    matches!(
        error.kind(),
        ErrorKind::RESP3NotSupported
            | ErrorKind::Server(ServerErrorKind::ResponseError | ServerErrorKind::NoPerm)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalidation(keys: Option<&[&str]>) -> PushInfo {
        let keys = match keys {
            Some(keys) => Value::Array(
                keys.iter()
                    .map(|key| Value::BulkString(key.as_bytes().to_vec()))
                    .collect(),
            ),
            None => Value::Nil,
        };
        PushInfo {
            kind: PushKind::Invalidate,
            data: vec![keys],
        }
    }

    #[test]
    fn a_value_is_kept_only_with_a_ticket_no_invalidation_took_back() {
        let cache = TrackedCache::<u32>::new(None, 10);
        let ticket = cache.ticket("a");
        cache.shared.apply(invalidation(Some(&["a"])), 0);
        cache.keep("a", ticket, 1);
        assert_eq!(cache.get("a"), None, "invalidated between read and keep");

        let ticket = cache.ticket("a");
        cache.keep("a", ticket, 2);
        assert_eq!(cache.get("a"), Some(2));
        // A ticket is good once, and a newer read's ticket replaces an older one.
        cache.keep("a", ticket, 3);
        assert_eq!(cache.get("a"), Some(2));
        let older = cache.ticket("b");
        let newer = cache.ticket("b");
        cache.keep("b", older, 4);
        assert_eq!(cache.get("b"), None);
        cache.keep("b", newer, 5);
        assert_eq!(cache.get("b"), Some(5));

        cache.shared.apply(invalidation(Some(&["a", "c"])), 0);
        assert_eq!((cache.get("a"), cache.get("b")), (None, Some(5)));
    }

    #[test]
    fn a_value_older_than_its_max_age_is_read_again() {
        let cache =
            TrackedCache::<u32>::with_max_age(None, 10, Duration::from_millis(30), CONNECTION_NAME);
        let ticket = cache.ticket("a");
        cache.keep("a", ticket, 1);
        assert_eq!(cache.get("a"), Some(1));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(cache.get("a"), None);
    }

    #[test]
    fn a_flush_or_a_dropped_connection_drops_every_value_and_ticket() {
        let cache = TrackedCache::<u32>::new(None, 10);
        for push in [
            invalidation(None),
            PushInfo {
                kind: PushKind::Disconnection,
                data: Vec::new(),
            },
        ] {
            let kept = cache.ticket("a");
            cache.keep("a", kept, 1);
            let pending = cache.ticket("b");
            cache.shared.apply(push, 0);
            cache.keep("b", pending, 2);
            assert_eq!((cache.get("a"), cache.get("b")), (None, None));
        }
    }
}

//! The Release Coordinator's records (task services, releases, tasks, events, release notes,
//! studies) and the release lifecycle.
//!
//! Every key lives under the `{rel}` hash tag, so one script changes a task, writes its
//! event, recomputes its release's state and writes that event atomically.
//!
//! - [`records`]: the records and their stored fields.
//! - [`lifecycle`]: creating releases, guarded transitions, and the phase runs that call the
//!   task services.
//! - [`services`]: task service health (pings and answers).

pub mod lifecycle;
pub mod records;
pub mod services;

use redis::AsyncCommands;

use super::{Store, StoreResult};
use records::{Fields, Record};

/// Most index entries examined by one filtered listing (the newest ones).
pub const LIST_SCAN_LIMIT: usize = 10_000;

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<R> {
    /// How many records match, over every page.
    pub count: usize,
    /// This page's records, oldest first.
    pub items: Vec<R>,
}

impl Store {
    /// One record, if it exists (`id` is checked for its kind's form first).
    pub async fn release_record<R: Record>(&self, id: &str) -> StoreResult<Option<R>> {
        Ok(self
            .release_records::<R>(&[id.to_owned()])
            .await?
            .pop()
            .flatten())
    }

    /// Records by id, in the order asked (`None` for unknown or malformed ids).
    pub async fn release_records<R: Record>(&self, ids: &[String]) -> StoreResult<Vec<Option<R>>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        for id in ids {
            if R::KIND.is_valid(id) {
                pipe.hgetall(self.keys.release_record(R::COLLECTION, id));
            } else {
                pipe.cmd("ECHO").arg("");
            }
        }
        let rows: Vec<redis::Value> = pipe.query_async(&mut conn).await?;
        rows.into_iter()
            .map(|row| {
                let fields: Fields = redis::from_redis_value(row).unwrap_or_default();
                if fields.is_empty() {
                    Ok(None)
                } else {
                    R::from_fields(&fields).map(Some)
                }
            })
            .collect()
    }

    /// A page of the records `keep` accepts, oldest first: `offset` skipped, at most `limit`.
    /// Looks at the newest [`LIST_SCAN_LIMIT`] records only.
    pub async fn list_release_records<R: Record>(
        &self,
        keep: impl Fn(&R) -> bool,
        offset: usize,
        limit: usize,
    ) -> StoreResult<Page<R>> {
        let mut conn = self.conn().await?;
        let ids: Vec<String> = conn
            .zrange(
                self.keys.release_index(R::COLLECTION),
                -(LIST_SCAN_LIMIT as isize),
                -1,
            )
            .await?;
        let matching: Vec<R> = self
            .release_records::<R>(&ids)
            .await?
            .into_iter()
            .flatten()
            .filter(|record| keep(record))
            .collect();
        let count = matching.len();
        let items = matching.into_iter().skip(offset).take(limit).collect();
        Ok(Page { count, items })
    }

    /// Writes a record and indexes it.
    pub async fn insert_release_record<R: Record>(&self, record: &R) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        add_record(self, &mut pipe, record);
        pipe.query_async::<()>(&mut conn).await?;
        Ok(())
    }

    /// Sets fields of an existing record; false when it does not exist.
    pub async fn update_release_record<R: Record>(
        &self,
        id: &str,
        fields: &[(&'static str, String)],
    ) -> StoreResult<bool> {
        if !R::KIND.is_valid(id) {
            return Ok(false);
        }
        let key = self.keys.release_record(R::COLLECTION, id);
        let mut conn = self.conn().await?;
        let exists: bool = conn.exists(&key).await?;
        if exists && !fields.is_empty() {
            let _: () = conn.hset_multiple(&key, fields).await?;
        }
        Ok(exists)
    }

    /// Deletes a record; false when it did not exist.
    pub async fn delete_release_record<R: Record>(&self, id: &str) -> StoreResult<bool> {
        if !R::KIND.is_valid(id) {
            return Ok(false);
        }
        let mut conn = self.conn().await?;
        let (deleted,): (i64,) = redis::pipe()
            .atomic()
            .del(self.keys.release_record(R::COLLECTION, id))
            .zrem(self.keys.release_index(R::COLLECTION), id)
            .ignore()
            .query_async(&mut conn)
            .await?;
        Ok(deleted > 0)
    }
}

/// Adds a record's writes (its hash and its index entry) to `pipe`.
fn add_record<R: Record>(store: &Store, pipe: &mut redis::Pipeline, record: &R) {
    let key = store.keys.release_record(R::COLLECTION, record.id());
    pipe.hset_multiple(&key, &record.to_fields())
        .ignore()
        .zadd(
            store.keys.release_index(R::COLLECTION),
            record.id(),
            record.score(),
        )
        .ignore();
}

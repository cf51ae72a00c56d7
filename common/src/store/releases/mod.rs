//! The Release Coordinator's records (task services, releases, tasks, events, release notes,
//! studies) and the release lifecycle.
//!
//! Every key lives under the `{rel}` hash tag, so one script changes a task, writes its
//! event, recomputes its release's state and writes that event atomically.
//!
//! - [`records`]: the records and their stored fields.
//! - [`lifecycle`]: creating releases, guarded transitions, and the phase runs that call the
//!   task services.
//! - [`services`]: task service registration (with its token) and health (pings and answers).
//! - [`studies`]: studies mirrored from the data service.

pub mod lifecycle;
pub mod records;
pub mod services;
pub mod studies;

use redis::AsyncCommands;

use super::{Store, StoreResult};
use crate::scripts;
use crate::store::record_fields::Fields;
use records::Record;

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<R> {
    /// How many records match, over every page.
    pub count: usize,
    /// This page's records, in the order the listing asked for.
    pub items: Vec<R>,
}

/// The order of a listing, by creation time (records created in the same millisecond keep
/// one order: by id, or, for events, the order they were written in).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Order {
    /// Oldest first.
    #[default]
    OldestFirst,
    /// Newest first, as the Release Coordinator lists everything (`-created_at`).
    NewestFirst,
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

    /// A page of records, oldest first: `offset` skipped, at most `limit`, of those whose
    /// indexed fields have every value in `filters` (every record when there is none).
    pub async fn list_release_records<R: Record>(
        &self,
        filters: &[(&'static str, &str)],
        offset: usize,
        limit: usize,
    ) -> StoreResult<Page<R>> {
        self.list_release_records_in(filters, Order::OldestFirst, offset, limit)
            .await
    }

    /// A page of records in `order`: `offset` skipped, at most `limit`, of those whose
    /// indexed fields have every value in `filters` (every record when there is none).
    ///
    /// No filter or one reads its page straight from the collection's index or the field's;
    /// several are intersected in Redis (`ZINTER`), at a cost that follows the smallest index.
    /// Either way a listing sees every matching record, however many others there are.
    pub async fn list_release_records_in<R: Record>(
        &self,
        filters: &[(&'static str, &str)],
        order: Order,
        offset: usize,
        limit: usize,
    ) -> StoreResult<Page<R>> {
        debug_assert!(filters.iter().all(|(field, _)| R::INDEXED.contains(field)));
        let index = |(field, value): &(&'static str, &str)| {
            self.keys.release_index_by(R::COLLECTION, field, value)
        };
        let mut conn = self.conn().await?;
        let (count, ids): (usize, Vec<String>) = match filters {
            [] | [_] => {
                let index = filters
                    .first()
                    .map(index)
                    .unwrap_or_else(|| self.keys.release_index(R::COLLECTION));
                let first = offset.min(isize::MAX as usize) as isize;
                let last = offset
                    .saturating_add(limit)
                    .saturating_sub(1)
                    .min(isize::MAX as usize) as isize;
                if limit == 0 {
                    (conn.zcard(&index).await?, Vec::new())
                } else {
                    let mut pipe = redis::pipe();
                    pipe.zcard(&index);
                    match order {
                        Order::OldestFirst => pipe.zrange(&index, first, last),
                        Order::NewestFirst => pipe.zrevrange(&index, first, last),
                    };
                    pipe.query_async(&mut conn).await?
                }
            }
            _ => {
                let mut intersection = redis::cmd("ZINTER");
                intersection.arg(filters.len());
                for filter in filters {
                    intersection.arg(index(filter));
                }
                let mut matching: Vec<String> = intersection
                    .arg("AGGREGATE")
                    .arg("MIN")
                    .query_async(&mut conn)
                    .await?;
                if order == Order::NewestFirst {
                    matching.reverse();
                }
                let count = matching.len();
                (
                    count,
                    matching.into_iter().skip(offset).take(limit).collect(),
                )
            }
        };
        let items = self
            .release_records::<R>(&ids)
            .await?
            .into_iter()
            .flatten()
            .collect();
        Ok(Page { count, items })
    }

    /// Every record whose indexed `field` is one of `values`, oldest first within each value.
    pub async fn release_records_by<R: Record>(
        &self,
        field: &'static str,
        values: &[&str],
    ) -> StoreResult<Vec<R>> {
        let mut pipe = redis::pipe();
        for value in values {
            pipe.zrange(
                self.keys.release_index_by(R::COLLECTION, field, value),
                0,
                -1,
            );
        }
        let mut conn = self.conn().await?;
        let ids: Vec<Vec<String>> = self.query_pipeline(&mut conn, &pipe).await?;
        let ids: Vec<String> = ids.into_iter().flatten().collect();
        Ok(self
            .release_records::<R>(&ids)
            .await?
            .into_iter()
            .flatten()
            .collect())
    }

    /// Writes a record and indexes it.
    pub async fn insert_release_record<R: Record>(&self, record: &R) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        add_record(self, &mut pipe, record)?;
        pipe.query_async::<()>(&mut conn).await?;
        Ok(())
    }

    /// Sets fields of an existing record, moving it between indexes when an indexed field
    /// changes, atomically; false when it does not exist.
    pub async fn update_release_record<R: Record>(
        &self,
        id: &str,
        fields: &[(&'static str, String)],
    ) -> StoreResult<bool> {
        // Its score (its creation time) never changes, so reading it first is safe.
        let Some(record) = self.release_record::<R>(id).await? else {
            return Ok(false);
        };
        let mut invocation = scripts::UPDATE_RECORD.prepare_invoke();
        invocation
            .key(self.keys.release_record(R::COLLECTION, id))
            .arg(id)
            .arg(record.score())
            .arg(self.keys.release_index_by_prefix(R::COLLECTION))
            .arg(fields.len());
        for (field, value) in fields {
            invocation
                .arg(*field)
                .arg(value)
                .arg(u8::from(R::INDEXED.contains(field)));
        }
        let mut conn = self.conn().await?;
        let updated: i64 = invocation.invoke_async(&mut conn).await?;
        Ok(updated == 1)
    }

    /// Deletes a record and its index entries, atomically; false when it did not exist.
    pub async fn delete_release_record<R: Record>(&self, id: &str) -> StoreResult<bool> {
        if !R::KIND.is_valid(id) {
            return Ok(false);
        }
        let mut invocation = scripts::DELETE_RECORD.prepare_invoke();
        invocation
            .key(self.keys.release_record(R::COLLECTION, id))
            .key(self.keys.release_index(R::COLLECTION))
            .arg(id)
            .arg(self.keys.release_index_by_prefix(R::COLLECTION));
        for field in R::INDEXED {
            invocation.arg(*field);
        }
        let mut conn = self.conn().await?;
        let deleted: i64 = invocation.invoke_async(&mut conn).await?;
        Ok(deleted == 1)
    }
}

/// Adds a record's writes (its hash and its index entries) to `pipe`.
fn add_record<R: Record>(store: &Store, pipe: &mut redis::Pipeline, record: &R) -> StoreResult<()> {
    let key = store.keys.release_record(R::COLLECTION, record.id());
    let fields = record.to_fields()?;
    pipe.hset_multiple(&key, &fields)
        .ignore()
        .zadd(
            store.keys.release_index(R::COLLECTION),
            record.id(),
            record.score(),
        )
        .ignore();
    for (field, value) in R::index_entries(&fields) {
        pipe.zadd(
            store.keys.release_index_by(R::COLLECTION, field, value),
            record.id(),
            record.score(),
        )
        .ignore();
    }
    Ok(())
}

//! Which status indexes are empty, kept in memory while Redis tracks them
//! ([`crate::store::tracked_cache`]), so that a listing of every run of a kind does not read
//! the status indexes that hold nothing (on a quiet system, most shards have no active, failed
//! or canceled run): a list then costs about what it did when each kind had one index of
//! all its runs.
//!
//! Each index's state (empty or not) is read with `EXISTS` through the tracking connection and
//! kept until the index changes. Only after a round trip through that connection begun when
//! the listing began (those reads, or a `PING`) are the states looked at, so the listing sees
//! every index change finished before it began; an index whose state is not known is read.

use crate::store::Store;
use crate::store::tracked_cache::{Ticket, TrackingConnection};

impl Store {
    /// For each of `keys` (sorted sets), true when it is known to be empty as of a round trip
    /// begun now; false when it holds runs or its state could not be learnt (no tracking
    /// connection, or its round trip failed).
    pub(super) async fn known_empty_indexes(&self, keys: &[String]) -> Vec<bool> {
        let Some(tracking) = self.empty_indexes.connection().await else {
            return vec![false; keys.len()];
        };
        match self.read_index_states(&tracking, keys).await {
            Ok(empty) => empty,
            Err(error) => {
                tracing::debug!(%error, "the tracking connection failed: lists read every status index");
                self.empty_indexes.failed(&tracking);
                vec![false; keys.len()]
            }
        }
    }

    /// [`Self::known_empty_indexes`] through `tracking`: reads the state of each key not kept
    /// (keeping it), or sends a `PING` when every state is kept, then answers from the states
    /// kept and read.
    async fn read_index_states(
        &self,
        tracking: &TrackingConnection,
        keys: &[String],
    ) -> redis::RedisResult<Vec<bool>> {
        let mut pipe = redis::pipe();
        let tickets: Vec<Option<Ticket>> = keys
            .iter()
            .map(|key| {
                if self.empty_indexes.get(key).is_some() {
                    return None;
                }
                pipe.cmd("EXISTS").arg(key);
                Some(self.empty_indexes.ticket(key))
            })
            .collect();
        let reads = pipe.len();
        if reads == 0 {
            pipe.cmd("PING").ignore();
        }
        let exists: Vec<bool> = pipe.query_async(&mut tracking.connection.clone()).await?;
        let mut exists = exists.into_iter();
        Ok(keys
            .iter()
            .zip(tickets)
            .map(|(key, ticket)| match ticket {
                // Looked at after the round trip: an index changed before it is gone by now.
                None => self.empty_indexes.get(key).unwrap_or(false),
                Some(ticket) => {
                    let empty = !exists.next().unwrap_or(true);
                    self.empty_indexes.keep(key, ticket, empty);
                    empty
                }
            })
            .collect())
    }
}

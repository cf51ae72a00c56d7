//! The scheduler's upkeep of the run indexes, shard by shard: healing lost status moves,
//! backfilling the definition and status indexes, and trimming entries of expired runs.
//!
//! The walks keep their cursors in [`Keys::runs_upkeep`](crate::keys::Keys::runs_upkeep), one
//! field per index walked and shard (`heal:KIND:SHARD`, `backfill:SHARD`), and the backfill
//! marks each shard done (`backfilled:SHARD`).

use super::RUN_KINDS;
use crate::engine::model::{RunKind, RunStatus};
use crate::keys::Shard;
use crate::store::{Store, StoreResult};

/// Entries one index's trimming examines per call.
const TRIM_BUDGET: usize = 5000;
/// Entries examined per trimming round trip.
const TRIM_BATCH: usize = 500;
/// Entries read past a walk's batch, so that those sharing the cursor's score and already
/// walked can be dropped.
const WALK_SLACK: usize = 1024;

/// One index a walk reads, with the upkeep field keeping its cursor.
struct Walk {
    index: String,
    field: String,
}

impl Store {
    /// Reindexes, from the oldest, the runs of the active indexes after the healer's cursors
    /// (one per kind and shard), so that a run whose index update was lost (its updater died
    /// after its script) is found in its terminal index. Each kind's `batch` is split evenly
    /// over the shards. Returns how many runs were found finished.
    pub async fn heal_run_indexes(&self, batch: usize) -> StoreResult<usize> {
        let per_shard = self.per_shard(batch);
        let walks: Vec<Walk> = self
            .keys
            .shards()
            .flat_map(|shard| {
                RUN_KINDS.into_iter().map(move |kind| Walk {
                    index: self.keys.active_index(shard, kind),
                    field: format!("heal:{}:{shard}", kind.as_str()),
                })
            })
            .collect();
        let ids: Vec<String> = self
            .walk_indexes(&walks, per_shard)
            .await?
            .into_iter()
            .flatten()
            .collect();
        let statuses = self.run_statuses(&ids).await?;
        let finished: Vec<String> = ids
            .into_iter()
            .zip(statuses)
            .filter(|(_, status)| status.is_some_and(RunStatus::is_finished))
            .map(|(id, _)| id)
            .collect();
        let healed = if finished.is_empty() {
            0
        } else {
            self.reindex_runs(&finished).await?
        };
        if healed > 0 {
            tracing::info!(runs = healed, "run status indexes healed");
        }
        Ok(healed)
    }

    /// Indexes by definition and status the workflow runs of the workflows' legacy kind
    /// indexes ([`Keys::legacy_kind_index`](crate::keys::Keys::legacy_kind_index)), up
    /// to `batch` of them split evenly over the shards not done yet, from each shard's
    /// backfill cursor; returns how many it read, 0 once every shard has been read to its end
    /// (which each shard remembers). Idempotent, and cheap once done.
    ///
    /// Each shard's done mark is dated `now_ms`.
    pub async fn backfill_run_indexes(&self, batch: usize, now_ms: u64) -> StoreResult<usize> {
        let shards: Vec<Shard> = self.keys.shards().collect();
        let mut conn = self.conn().await?;
        let done: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.keys.runs_upkeep())
            .arg(
                shards
                    .iter()
                    .map(|shard| format!("backfilled:{shard}"))
                    .collect::<Vec<_>>(),
            )
            .query_async(&mut conn)
            .await?;
        let pending: Vec<Shard> = shards
            .into_iter()
            .zip(done)
            .filter(|(_, done)| done.is_none())
            .map(|(shard, _)| shard)
            .collect();
        if pending.is_empty() {
            return Ok(0);
        }
        let walks: Vec<Walk> = pending
            .iter()
            .map(|shard| Walk {
                index: self.keys.legacy_kind_index(*shard, RunKind::Workflow),
                field: format!("backfill:{shard}"),
            })
            .collect();
        let pages = self.walk_indexes(&walks, self.per_shard(batch)).await?;
        let mut read = Vec::new();
        let mut finished_shards = Vec::new();
        for (shard, page) in pending.iter().zip(pages) {
            if page.is_empty() {
                finished_shards.push(shard);
            }
            read.extend(page);
        }
        if !finished_shards.is_empty() {
            let mut marks = redis::cmd("HSET");
            marks.arg(self.keys.runs_upkeep());
            for shard in &finished_shards {
                marks.arg(format!("backfilled:{shard}")).arg(now_ms);
            }
            marks.query_async::<()>(&mut conn).await?;
            if finished_shards.len() == pending.len() {
                tracing::info!("runs listed before the run indexes are indexed");
            }
        }
        if !read.is_empty() {
            self.reindex_runs(&read).await?;
        }
        Ok(read.len())
    }

    /// A walk's batch per shard: `batch` split evenly over the shards.
    fn per_shard(&self, batch: usize) -> usize {
        batch.div_ceil(usize::from(self.keys.shard_count()))
    }

    /// The next `batch` ids of each walk's index, oldest first, after the cursor kept in the
    /// upkeep hash under its field (a score and an id), which moves past them; a walk starts
    /// over at its index's end (and answers nothing that once). Three round trips in all.
    async fn walk_indexes(&self, walks: &[Walk], batch: usize) -> StoreResult<Vec<Vec<String>>> {
        if walks.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn().await?;
        let cursors: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.keys.runs_upkeep())
            .arg(walks.iter().map(|walk| &walk.field).collect::<Vec<_>>())
            .query_async(&mut conn)
            .await?;
        let cursors: Vec<(u64, String)> = cursors
            .iter()
            .map(|cursor| {
                cursor
                    .as_deref()
                    .and_then(|cursor| cursor.split_once(' '))
                    .and_then(|(score, id)| Some((score.parse::<u64>().ok()?, id.to_owned())))
                    .unwrap_or((0, String::new()))
            })
            .collect();
        let mut pipe = redis::pipe();
        for (walk, (score, _)) in walks.iter().zip(&cursors) {
            // Entries with the cursor's score are read again and those up to its id dropped:
            // ids with equal scores come in id order.
            pipe.cmd("ZRANGEBYSCORE")
                .arg(&walk.index)
                .arg(*score)
                .arg("+inf")
                .arg("WITHSCORES")
                .arg("LIMIT")
                .arg(0)
                .arg(batch + WALK_SLACK);
        }
        let answers: Vec<Vec<(String, f64)>> = self.query_pipeline(&mut conn, &pipe).await?;
        let mut pages = Vec::with_capacity(walks.len());
        let mut moves = redis::cmd("HSET");
        moves.arg(self.keys.runs_upkeep());
        for ((walk, (score, after)), answer) in walks.iter().zip(&cursors).zip(answers) {
            let page: Vec<(String, u64)> = answer
                .into_iter()
                .map(|(id, score)| (id, score as u64))
                .filter(|(id, entry_score)| *entry_score > *score || after.is_empty() || id > after)
                .take(batch)
                .collect();
            let next = match page.last() {
                Some((id, score)) => format!("{score} {id}"),
                None => String::new(),
            };
            moves.arg(&walk.field).arg(next);
            pages.push(page.into_iter().map(|(id, _)| id).collect());
        }
        moves.query_async::<()>(&mut conn).await?;
        Ok(pages)
    }

    /// Removes from every run index of every shard the entries older than the retention whose
    /// run no longer exists (expired); kinds whose runs are kept are left alone. Returns how
    /// many runs left the status indexes (the active and finished ones, which hold each run
    /// once).
    pub async fn trim_run_indexes(&self, now_ms: u64) -> StoreResult<usize> {
        let cutoff = now_ms.saturating_sub(self.retention_secs.saturating_mul(1000));
        let kinds: Vec<RunKind> = RUN_KINDS
            .into_iter()
            .filter(|kind| !kind.is_kept())
            .collect();
        let places: Vec<(Shard, RunKind)> = self
            .keys
            .shards()
            .flat_map(|shard| kinds.iter().map(move |kind| (shard, *kind)))
            .collect();
        if places.is_empty() {
            return Ok(0);
        }
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        for (shard, kind) in &places {
            pipe.cmd("SMEMBERS")
                .arg(self.keys.definitions_of_kind(*shard, *kind));
        }
        let definitions: Vec<Vec<String>> = self.query_pipeline(&mut conn, &pipe).await?;
        // Every index, with true for the status indexes (whose removals are counted).
        let mut indexes: Vec<(String, bool)> = Vec::new();
        for ((shard, kind), definitions) in places.into_iter().zip(definitions) {
            indexes.push((self.keys.legacy_kind_index(shard, kind), false));
            indexes.extend(
                self.keys
                    .status_indexes(shard, kind)
                    .into_iter()
                    .map(|index| (index, true)),
            );
            indexes.extend(
                definitions
                    .iter()
                    .map(|definition| (self.keys.definition_index(shard, kind, definition), false)),
            );
        }
        // Only indexes holding entries older than the cutoff are walked.
        let mut pipe = redis::pipe();
        for (index, _) in &indexes {
            pipe.cmd("ZCOUNT")
                .arg(index)
                .arg("-inf")
                .arg(format!("({cutoff}"));
        }
        let old: Vec<u64> = self.query_pipeline(&mut conn, &pipe).await?;
        let mut expired = 0;
        for ((index, counted), old) in indexes.iter().zip(old) {
            if old == 0 {
                continue;
            }
            let removed = self.trim_index(index, cutoff).await?;
            if *counted {
                expired += removed;
            }
        }
        Ok(expired)
    }

    /// Removes from `index` the entries scored before `cutoff` whose run no longer exists,
    /// examining at most [`TRIM_BUDGET`] of them; returns how many it removed.
    async fn trim_index(&self, index: &str, cutoff: u64) -> StoreResult<usize> {
        let mut conn = self.conn().await?;
        let mut offset = 0;
        let mut removed = 0;
        while offset < TRIM_BUDGET {
            let ids: Vec<String> = redis::cmd("ZRANGEBYSCORE")
                .arg(index)
                .arg("-inf")
                .arg(format!("({cutoff}"))
                .arg("LIMIT")
                .arg(offset)
                .arg(TRIM_BATCH)
                .query_async(&mut conn)
                .await?;
            if ids.is_empty() {
                break;
            }
            let mut pipe = redis::pipe();
            for id in &ids {
                pipe.cmd("EXISTS").arg(self.keys.run(id));
            }
            let exists: Vec<bool> = pipe.query_async(&mut conn).await?;
            let gone: Vec<&String> = ids
                .iter()
                .zip(&exists)
                .filter(|(_, exists)| !**exists)
                .map(|(id, _)| id)
                .collect();
            if !gone.is_empty() {
                redis::cmd("ZREM")
                    .arg(index)
                    .arg(&gone)
                    .query_async::<()>(&mut conn)
                    .await?;
            }
            removed += gone.len();
            offset += ids.len() - gone.len();
            if ids.len() < TRIM_BATCH {
                break;
            }
        }
        Ok(removed)
    }
}

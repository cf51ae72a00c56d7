//! Indexes of runs for filtered lists: by kind, by definition and by status, and
//! [`Store::list_runs`], which reads a page of them without scanning runs.
//!
//! # Design
//! Every index is a sorted set under the `{idx}` tag, scored by the run's creation time (Unix
//! ms), so a date range is a score range and the newest come first:
//! - by kind ([`Keys::runs_of_kind`]) and by definition ([`Keys::runs_of_definition`], the names
//!   kept in [`Keys::run_definitions`]): written with the run, in the pipeline that creates it
//!   and before its creation script, and never changed after (a run's kind and definition never
//!   change);
//! - by status: [`Keys::runs_active`] holds the runs not known to be finished (pending or in
//!   progress), [`Keys::runs_finished`] the runs finished with one status. A run enters the
//!   active index when it is created.
//!
//! A run's status changes inside Lua scripts on its own key (`{run:ID}`), which cannot also
//! touch an `{idx}` key, so the status indexes follow the run just after: whoever ran a script
//! that may have changed a run's status (a worker finishing a task, the scheduler failing a lost
//! one, a cancel, a requeue, a person submitting a human step) calls [`Store::reindex_runs`],
//! which reads the run's real status and moves it, in one `MULTI`, to the right index (added
//! there first, then removed from the others; every step idempotent). A requeue, which reopens a
//! finished run, puts the run back in the active index *before* its script. So a process killed
//! between a script and the index update leaves the run in the active index (or in two), never
//! in none, and it is healed:
//! - a reader that finds a run in a status index whose real status differs reindexes it and
//!   skips it (then reads the page again);
//! - the scheduler's periodic chore ([`Store::heal_run_indexes`]) walks the active index in
//!   bounded batches, with a cursor, and reindexes what finished.
//!
//! Runs that expire leave every index through [`Store::trim_run_indexes`] (the housekeeping
//! chore): entries older than the retention whose run no longer exists are removed. A reader
//! skips such an entry until then.
//!
//! Runs created before these indexes existed were in the workflows' listing index only, which
//! is the kind index of workflows (other kinds were not listed): [`Store::backfill_run_indexes`]
//! reindexes them once, in bounded batches, from the scheduler's housekeeping.

use super::runs::{RunView, stored_kind};
use super::{Store, StoreResult};
use crate::keys::Keys;
use crate::model::{RunKind, RunStatus};
use crate::time::now_ms;

/// Every kind of run.
pub const RUN_KINDS: [RunKind; 4] = [
    RunKind::Workflow,
    RunKind::Report,
    RunKind::Release,
    RunKind::Project,
];

/// The statuses of finished runs, each with its own index.
pub const FINISHED_STATUSES: [RunStatus; 3] =
    [RunStatus::Success, RunStatus::Error, RunStatus::Canceled];

/// Most runs on one page; a larger limit is taken as this one.
pub const MAX_PAGE: usize = 10_000;
/// Largest offset a listing passes to Redis; beyond it the page is empty.
const MAX_OFFSET: usize = i64::MAX as usize - MAX_PAGE - 1;
/// Most times a listing reads its page again after fixing index entries it found stale.
const LIST_ATTEMPTS: usize = 3;
/// Run ids whose statuses are read per round trip when filtering active runs.
const STATUS_CHUNK: usize = 1000;
/// How long a listing's temporary candidate set lives, should its reader die (ms).
const QUERY_TTL_MS: u64 = 30_000;
/// Entries one index's trimming examines per call.
const TRIM_BUDGET: usize = 5000;
/// Entries examined per trimming round trip.
const TRIM_BATCH: usize = 500;

/// Which runs to list: one kind, optionally narrowed by definition, status and creation time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunQuery {
    /// The kind of the runs.
    pub kind: RunKind,
    /// Runs made from any of these definitions; every definition when empty.
    pub definitions: Vec<String>,
    /// Runs with this status; any when `None`.
    pub status: Option<RunStatus>,
    /// Runs created at or after this time (Unix ms).
    pub created_from_ms: Option<u64>,
    /// Runs created at or before this time (Unix ms).
    pub created_to_ms: Option<u64>,
    /// Matching runs skipped, newest first, before the page.
    pub offset: usize,
    /// Most runs on the page (at most [`MAX_PAGE`]).
    pub limit: usize,
}

impl RunQuery {
    /// Every run of `kind`: the first `limit`, newest first.
    pub fn new(kind: RunKind, limit: usize) -> Self {
        Self {
            kind,
            definitions: Vec::new(),
            status: None,
            created_from_ms: None,
            created_to_ms: None,
            offset: 0,
            limit,
        }
    }
}

/// One page of runs, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct RunPage {
    /// The runs.
    pub runs: Vec<RunView>,
    /// True when more matching runs follow the page.
    pub has_more: bool,
    /// How many runs match, when that is cheap to count (not for pending or in-progress
    /// filters, whose index holds both).
    pub total: Option<u64>,
}

/// The index facts of one stored run.
struct Indexed {
    kind: RunKind,
    definition: String,
    status: RunStatus,
    created_ms: u64,
}

impl Store {
    /// Adds to `pipe` the index entries of new runs `(id, kind, definition)` created at `now`:
    /// by kind, by definition and active. `NX`: an existing run keeps its entries.
    pub(crate) fn index_new_runs<'a>(
        &self,
        pipe: &mut redis::Pipeline,
        runs: impl IntoIterator<Item = (&'a str, RunKind, &'a str)>,
        now: u64,
    ) {
        let mut named = std::collections::HashSet::new();
        for (id, kind, definition) in runs {
            pipe.cmd("ZADD")
                .arg(self.keys.runs_of_kind(kind))
                .arg("NX")
                .arg(now)
                .arg(id)
                .ignore();
            pipe.cmd("ZADD")
                .arg(self.keys.runs_of_definition(kind, definition))
                .arg("NX")
                .arg(now)
                .arg(id)
                .ignore();
            // Once per definition of the batch.
            if named.insert((kind, definition)) {
                pipe.cmd("SADD")
                    .arg(self.keys.run_definitions(kind))
                    .arg(definition)
                    .ignore();
            }
            pipe.cmd("ZADD")
                .arg(self.keys.runs_active(kind))
                .arg("NX")
                .arg(now)
                .arg(id)
                .ignore();
        }
    }

    /// Puts run `run_id` back in the active index (and out of the finished ones), before a
    /// script that may reopen it (a requeue), so that a crash right after the script leaves it
    /// where the healer looks; the reindex after the script puts a run it did not reopen back.
    pub(crate) async fn mark_run_active(&self, run_id: &str) -> StoreResult<()> {
        let Some(indexed) = self
            .indexed_runs(&[run_id.to_owned()])
            .await?
            .pop()
            .flatten()
        else {
            return Ok(());
        };
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("ZADD")
            .arg(self.keys.runs_active(indexed.kind))
            .arg(indexed.created_ms)
            .arg(run_id)
            .ignore();
        // Reopened, it is in no finished index until it finishes again.
        for status in FINISHED_STATUSES {
            pipe.cmd("ZREM")
                .arg(self.keys.runs_finished(indexed.kind, status))
                .arg(run_id)
                .ignore();
        }
        self.query_pipeline::<()>(&mut conn, &pipe).await?;
        Ok(())
    }

    /// Moves each run of `run_ids` to the index of its real status (and makes sure it is in
    /// its kind's and definition's); runs that no longer exist are left to trimming. Idempotent;
    /// returns how many runs were indexed.
    pub async fn reindex_runs(&self, run_ids: &[String]) -> StoreResult<usize> {
        let found = self.indexed_runs(run_ids).await?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        let mut count = 0;
        for (id, indexed) in run_ids.iter().zip(&found) {
            let Some(indexed) = indexed else { continue };
            add_index_moves(&mut pipe, &self.keys, id, indexed);
            count += 1;
        }
        if count > 0 {
            let mut conn = self.conn().await?;
            self.query_pipeline::<()>(&mut conn, &pipe).await?;
        }
        Ok(count)
    }

    /// Moves runs a worker has just seen finish from the active index to their status's, and
    /// nothing more: unlike [`Store::reindex_runs`], it leaves the kind's and definition's
    /// entries (written at creation) and the other statuses' (cleared when a run is reopened)
    /// alone, so the hot path pays two commands a run. Whatever a crash leaves half done, the
    /// healer and the readers mend.
    pub(crate) async fn index_finished_runs(&self, run_ids: &[String]) -> StoreResult<()> {
        let found = self.indexed_runs(run_ids).await?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        let mut count = 0;
        for (id, indexed) in run_ids.iter().zip(&found) {
            let Some(indexed) = indexed.as_ref().filter(|found| found.status.is_finished()) else {
                continue;
            };
            pipe.cmd("ZADD")
                .arg(self.keys.runs_finished(indexed.kind, indexed.status))
                .arg(indexed.created_ms)
                .arg(id)
                .ignore();
            pipe.cmd("ZREM")
                .arg(self.keys.runs_active(indexed.kind))
                .arg(id)
                .ignore();
            count += 1;
        }
        if count > 0 {
            let mut conn = self.conn().await?;
            self.query_pipeline::<()>(&mut conn, &pipe).await?;
        }
        Ok(())
    }

    /// The index facts of runs (`None` for a run that no longer exists), in one round trip.
    async fn indexed_runs(&self, run_ids: &[String]) -> StoreResult<Vec<Option<Indexed>>> {
        if run_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        for id in run_ids {
            pipe.cmd("HMGET")
                .arg(self.keys.run(id))
                .arg("kind")
                .arg("definition")
                .arg("status")
                .arg("created");
        }
        type Facts = (
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let replies: Vec<Facts> = pipe.query_async(&mut conn).await?;
        replies
            .into_iter()
            .map(|(kind, definition, status, created)| {
                let (Some(definition), Some(status)) = (definition, status) else {
                    return Ok(None);
                };
                Ok(Some(Indexed {
                    kind: stored_kind(kind.as_deref(), &definition)?,
                    status: status.parse()?,
                    created_ms: created.and_then(|c| c.parse().ok()).unwrap_or(0),
                    definition,
                }))
            })
            .collect()
    }

    /// The definitions that have (or had) runs of `kind`, sorted.
    pub async fn run_definitions(&self, kind: RunKind) -> StoreResult<Vec<String>> {
        let mut conn = self.conn().await?;
        let mut names: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.keys.run_definitions(kind))
            .query_async(&mut conn)
            .await?;
        names.sort();
        Ok(names)
    }

    /// A page of the runs `query` asks for, newest first, read from the indexes (see the
    /// module's documentation). A run found in a status index it has left is reindexed and
    /// skipped, and the page read again.
    pub async fn list_runs(&self, query: &RunQuery) -> StoreResult<RunPage> {
        let query = &RunQuery {
            limit: query.limit.min(MAX_PAGE),
            ..query.clone()
        };
        // Redis counts offsets in 64-bit signed integers; no index holds that many runs.
        if query.limit == 0 || query.offset > MAX_OFFSET {
            return Ok(RunPage {
                runs: Vec::new(),
                has_more: false,
                total: None,
            });
        }
        if query.status.is_some_and(|status| !status.is_finished()) {
            return self.list_active_runs(query).await;
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (ids, total) = self.indexed_page(query).await?;
            let has_more = ids.len() > query.limit;
            let ids = &ids[..ids.len().min(query.limit)];
            let runs = self.get_runs(ids).await?;
            let stale: Vec<String> = runs
                .iter()
                .filter(|run| query.status.is_some_and(|status| run.status != status))
                .map(|run| run.id.clone())
                .collect();
            if !stale.is_empty() {
                self.reindex_runs(&stale).await?;
                tracing::info!(runs = stale.len(), "run status index entries healed");
                if attempt < LIST_ATTEMPTS {
                    continue;
                }
            }
            let runs = runs
                .into_iter()
                .filter(|run| {
                    run.kind == query.kind && query.status.is_none_or(|status| run.status == status)
                })
                .collect();
            return Ok(RunPage {
                runs,
                has_more,
                total: Some(total),
            });
        }
    }

    /// The ids of one page (and one more, telling whether more follow) and the count of every
    /// match, from the smallest index or the intersection of the indexes `query` names.
    async fn indexed_page(&self, query: &RunQuery) -> StoreResult<(Vec<String>, u64)> {
        let (min, max) = score_range(query);
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        let (source, temporary) = self.query_source(&mut pipe, query);
        pipe.cmd("ZREVRANGEBYSCORE")
            .arg(&source)
            .arg(&max)
            .arg(&min)
            .arg("LIMIT")
            .arg(query.offset)
            .arg(query.limit + 1);
        pipe.cmd("ZCOUNT").arg(&source).arg(&min).arg(&max);
        if temporary {
            pipe.cmd("DEL").arg(&source).ignore();
        }
        let (ids, total): (Vec<String>, u64) = self.query_pipeline(&mut conn, &pipe).await?;
        Ok((ids, total))
    }

    /// The sorted set holding the candidates of `query`: one index as it is, or a temporary
    /// union of definitions' indexes, intersected with the status index (commands added to
    /// `pipe`, which must delete it after reading when the second value is true).
    fn query_source(&self, pipe: &mut redis::Pipeline, query: &RunQuery) -> (String, bool) {
        self.candidate_source(pipe, query, query.status)
    }

    /// [`Self::query_source`] narrowed by `status` instead of the query's own (`None`: by
    /// definition and kind only).
    fn candidate_source(
        &self,
        pipe: &mut redis::Pipeline,
        query: &RunQuery,
        status: Option<RunStatus>,
    ) -> (String, bool) {
        let status_index = match status {
            Some(status) if status.is_finished() => self.keys.runs_finished(query.kind, status),
            Some(_) => self.keys.runs_active(query.kind),
            None => self.keys.runs_of_kind(query.kind),
        };
        let definition_keys: Vec<String> = query
            .definitions
            .iter()
            .map(|definition| self.keys.runs_of_definition(query.kind, definition))
            .collect();
        match definition_keys.as_slice() {
            [] => (status_index, false),
            [only] if status.is_none() => (only.clone(), false),
            _ => {
                let temporary = self.keys.runs_query(&uuid::Uuid::new_v4().to_string());
                pipe.cmd("ZUNIONSTORE")
                    .arg(&temporary)
                    .arg(definition_keys.len())
                    .arg(&definition_keys)
                    .arg("AGGREGATE")
                    .arg("MAX")
                    .ignore();
                if status.is_some() {
                    pipe.cmd("ZINTERSTORE")
                        .arg(&temporary)
                        .arg(2)
                        .arg(&temporary)
                        .arg(&status_index)
                        .arg("AGGREGATE")
                        .arg("MAX")
                        .ignore();
                }
                (temporary, true)
            }
        }
    }

    /// Pending or in-progress runs: the active index holds both, so each candidate's status
    /// is read; those found finished are reindexed. Narrowed by definition, the candidates
    /// are the definitions' runs themselves (no intersection with the active index to build:
    /// unfinished runs are the newest, found first). The candidates are read newest first in
    /// windows growing from about the page's size, so a first page costs about a page of
    /// status reads however many runs there are.
    async fn list_active_runs(&self, query: &RunQuery) -> StoreResult<RunPage> {
        let (min, max) = score_range(query);
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        let from_active = query.definitions.is_empty();
        let (source, temporary) = if from_active {
            self.query_source(&mut pipe, query)
        } else {
            self.candidate_source(&mut pipe, query, None)
        };
        if temporary {
            // Read over several round trips: it outlives them, not a reader that dies.
            pipe.cmd("PEXPIRE").arg(&source).arg(QUERY_TTL_MS).ignore();
        }
        let mut window = (query.offset + query.limit + 1).clamp(64, STATUS_CHUNK);
        pipe.cmd("ZREVRANGEBYSCORE")
            .arg(&source)
            .arg(&max)
            .arg(&min)
            .arg("LIMIT")
            .arg(0)
            .arg(window);
        let (mut candidates,): (Vec<String>,) = self.query_pipeline(&mut conn, &pipe).await?;
        let mut read = 0;
        let mut matched = Vec::new();
        let mut skipped = 0;
        let mut finished = Vec::new();
        loop {
            let statuses = self.run_statuses(&candidates).await?;
            for (id, status) in candidates.iter().zip(statuses) {
                match status {
                    Some(status) if status.is_finished() && from_active => {
                        finished.push(id.clone());
                    }
                    Some(status) if status.is_finished() => {}
                    Some(status) if Some(status) == query.status => {
                        if skipped < query.offset {
                            skipped += 1;
                        } else {
                            matched.push(id.clone());
                        }
                    }
                    _ => {}
                }
            }
            read += candidates.len();
            if matched.len() > query.limit || candidates.len() < window {
                break;
            }
            window = (window * 2).min(STATUS_CHUNK);
            candidates = redis::cmd("ZREVRANGEBYSCORE")
                .arg(&source)
                .arg(&max)
                .arg(&min)
                .arg("LIMIT")
                .arg(read)
                .arg(window)
                .query_async(&mut conn)
                .await?;
        }
        if temporary {
            redis::cmd("DEL")
                .arg(&source)
                .query_async::<()>(&mut conn)
                .await?;
        }
        if !finished.is_empty() {
            self.reindex_runs(&finished).await?;
        }
        let has_more = matched.len() > query.limit;
        matched.truncate(query.limit);
        let mut runs = self.get_runs(&matched).await?;
        runs.retain(|run| run.kind == query.kind && Some(run.status) == query.status);
        Ok(RunPage {
            runs,
            has_more,
            total: None,
        })
    }

    /// Reindexes, from the oldest, at most `batch` runs of the active indexes after the
    /// healer's cursor, so that a run whose index update was lost (its updater died after its
    /// script) is found in its terminal index. Returns how many runs were found finished.
    pub async fn heal_run_indexes(&self, batch: usize) -> StoreResult<usize> {
        let mut healed = 0;
        for kind in RUN_KINDS {
            let field = format!("heal:{}", kind.as_str());
            let ids = self
                .walk_index(&self.keys.runs_active(kind), &field, batch)
                .await?;
            let statuses = self.run_statuses(&ids).await?;
            let finished: Vec<String> = ids
                .into_iter()
                .zip(statuses)
                .filter(|(_, status)| status.is_some_and(RunStatus::is_finished))
                .map(|(id, _)| id)
                .collect();
            if !finished.is_empty() {
                healed += self.reindex_runs(&finished).await?;
            }
        }
        if healed > 0 {
            tracing::info!(runs = healed, "run status indexes healed");
        }
        Ok(healed)
    }

    /// Indexes by definition and status up to `batch` runs that were listed before those
    /// indexes existed (the workflows' listing index), from the backfill's cursor; returns how
    /// many it read, 0 once every run has been seen. Idempotent, and cheap once done.
    pub async fn backfill_run_indexes(&self, batch: usize) -> StoreResult<usize> {
        let mut conn = self.conn().await?;
        let done: Option<String> = redis::cmd("HGET")
            .arg(self.keys.runs_upkeep())
            .arg("backfilled")
            .query_async(&mut conn)
            .await?;
        if done.is_some() {
            return Ok(0);
        }
        let ids = self
            .walk_index(
                &self.keys.runs_of_kind(RunKind::Workflow),
                "backfill",
                batch,
            )
            .await?;
        if ids.is_empty() {
            redis::cmd("HSET")
                .arg(self.keys.runs_upkeep())
                .arg("backfilled")
                .arg(now_ms())
                .query_async::<()>(&mut conn)
                .await?;
            tracing::info!("runs listed before the run indexes are indexed");
            return Ok(0);
        }
        self.reindex_runs(&ids).await?;
        Ok(ids.len())
    }

    /// The next `batch` ids of `index`, oldest first, after the cursor kept in the upkeep hash
    /// under `field` (a score and an id), which moves past them; starts over at the end
    /// (and answers nothing that once).
    async fn walk_index(&self, index: &str, field: &str, batch: usize) -> StoreResult<Vec<String>> {
        let mut conn = self.conn().await?;
        let cursor: Option<String> = redis::cmd("HGET")
            .arg(self.keys.runs_upkeep())
            .arg(field)
            .query_async(&mut conn)
            .await?;
        let (score, after) = cursor
            .as_deref()
            .and_then(|cursor| cursor.split_once(' '))
            .and_then(|(score, id)| Some((score.parse::<u64>().ok()?, id.to_owned())))
            .unwrap_or((0, String::new()));
        // Entries with the cursor's score are read again and those up to its id dropped: ids
        // with equal scores come in id order.
        let reply: Vec<(String, f64)> = redis::cmd("ZRANGEBYSCORE")
            .arg(index)
            .arg(score)
            .arg("+inf")
            .arg("WITHSCORES")
            .arg("LIMIT")
            .arg(0)
            .arg(batch + 1024)
            .query_async(&mut conn)
            .await?;
        let page: Vec<(String, u64)> = reply
            .into_iter()
            .map(|(id, score)| (id, score as u64))
            .filter(|(id, entry_score)| *entry_score > score || after.is_empty() || *id > after)
            .take(batch)
            .collect();
        let next = match page.last() {
            Some((id, score)) => format!("{score} {id}"),
            None => String::new(),
        };
        redis::cmd("HSET")
            .arg(self.keys.runs_upkeep())
            .arg(field)
            .arg(next)
            .query_async::<()>(&mut conn)
            .await?;
        Ok(page.into_iter().map(|(id, _)| id).collect())
    }

    /// Removes from every run index the entries older than the retention whose run no longer
    /// exists (expired); kinds whose runs are kept are left alone. Returns how many runs left
    /// the kind indexes.
    pub async fn trim_run_indexes(&self) -> StoreResult<usize> {
        let cutoff = now_ms().saturating_sub(self.retention_secs.saturating_mul(1000));
        let mut expired = 0;
        for kind in RUN_KINDS.into_iter().filter(|kind| !kind.is_kept()) {
            expired += self
                .trim_index(&self.keys.runs_of_kind(kind), cutoff)
                .await?;
            let mut others = vec![self.keys.runs_active(kind)];
            others.extend(
                FINISHED_STATUSES
                    .iter()
                    .map(|status| self.keys.runs_finished(kind, *status)),
            );
            others.extend(
                self.run_definitions(kind)
                    .await?
                    .iter()
                    .map(|definition| self.keys.runs_of_definition(kind, definition)),
            );
            for index in others {
                self.trim_index(&index, cutoff).await?;
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

/// Adds to `pipe` the moves that put run `id` where `indexed` says it belongs: its kind's and
/// definition's indexes, then the index of its status, then out of the other status indexes.
fn add_index_moves(pipe: &mut redis::Pipeline, keys: &Keys, id: &str, indexed: &Indexed) {
    let kind = indexed.kind;
    let score = indexed.created_ms;
    pipe.cmd("ZADD")
        .arg(keys.runs_of_kind(kind))
        .arg("NX")
        .arg(score)
        .arg(id)
        .ignore();
    pipe.cmd("ZADD")
        .arg(keys.runs_of_definition(kind, &indexed.definition))
        .arg("NX")
        .arg(score)
        .arg(id)
        .ignore();
    pipe.cmd("SADD")
        .arg(keys.run_definitions(kind))
        .arg(&indexed.definition)
        .ignore();
    let home = if indexed.status.is_finished() {
        keys.runs_finished(kind, indexed.status)
    } else {
        keys.runs_active(kind)
    };
    pipe.cmd("ZADD").arg(&home).arg(score).arg(id).ignore();
    let mut others: Vec<String> = FINISHED_STATUSES
        .iter()
        .filter(|status| **status != indexed.status)
        .map(|status| keys.runs_finished(kind, *status))
        .collect();
    if indexed.status.is_finished() {
        others.push(keys.runs_active(kind));
    }
    for other in others {
        pipe.cmd("ZREM").arg(other).arg(id).ignore();
    }
}

/// The score range (`min`, `max`) of `query`'s creation times, inclusive.
fn score_range(query: &RunQuery) -> (String, String) {
    let min = query
        .created_from_ms
        .map_or_else(|| "-inf".to_owned(), |ms| ms.to_string());
    let max = query
        .created_to_ms
        .map_or_else(|| "+inf".to_owned(), |ms| ms.to_string());
    (min, max)
}

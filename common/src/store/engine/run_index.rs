//! Indexes of runs for filtered lists: by kind, by definition and by status, and
//! [`Store::list_runs`], which reads a page of them without scanning runs.
//!
//! # Layout: every index is per shard
//! Runs are spread over the shards ([`Keys::shard_of`] their id), and so are their indexes: a
//! run's entries are on its own shard only, next to its hash, under the shard's hash tag. Each
//! index is a sorted set scored by the run's creation time (Unix ms), so a date range is a score
//! range and the newest come first:
//! - by definition ([`Keys::definition_index`], the names kept in
//!   [`Keys::definitions_of_kind`]): written with the run and never changed after (a run's
//!   kind and definition never change);
//! - by status: [`Keys::active_index`] holds the runs not known to be finished (pending or in
//!   progress), [`Keys::finished_index`] the runs finished with one status. A run enters the
//!   active index when it is created, and the script that finishes it moves it to its status's.
//!   Every run of a kind is in one of its kind's status indexes, so they are also the index of
//!   the kind: a listing of every run of a kind merges them, and a run costs two index entries,
//!   not three (one less per queued job to write and to hold).
//!
//! # Reading: the same query on every shard, merged
//! A listing (module `listing`) runs one query on each shard, all in one pipeline: the shard's
//! smallest index that answers it (for every run of a kind, its four status indexes, each read
//! as a lane of its own, less those known to be empty: module `empty_lanes`), or a union of
//! its definitions' indexes intersected with its status index, built in
//! [`Keys::query_scratch`] on that shard and deleted in the same pipeline. Each
//! lane answers at most `offset + limit + 1` ids, newest first, with their creation times; a
//! k-way merge (module `merge`) orders them newest first across lanes, ties broken by id (the
//! larger first, as each sorted set lists them), so every run has one place in the listing and
//! pages are stable (a run a crash left in two status indexes, until it is healed, comes out of
//! the merge twice in a row and is listed once); then the page is cut from the merged list. The
//! count of matches is the sum of the lanes' counts. Pending and in-progress runs (the active index
//! holds both) are read the same way, in windows per shard that grow, merged before their
//! statuses are read, so only about a page of statuses is read for a first page.
//!
//! # Keeping the status indexes right
//! Whoever ran something that may have changed a run's status outside the finish script (a
//! cancel, a requeue, the scheduler failing a lost job, a person submitting a human step)
//! calls [`Store::reindex_runs`], which reads the run's real status and moves it, in one
//! `MULTI` on the run's shard, to the right index (added there first, then removed from the
//! others; every step idempotent). A requeue, which reopens a finished run, puts the run back
//! in the active index *before* its script (`Store::mark_run_active`). So a process killed
//! in between leaves the run in the active index (or in two), never in none, and it is healed:
//! - a reader that finds a run in a status index whose real status differs reindexes it and
//!   skips it (then reads the page again);
//! - the scheduler's periodic chore ([`Store::heal_run_indexes`]) walks every shard's active
//!   indexes in bounded batches, with a cursor per shard, and reindexes what finished.
//!
//! Runs that expire leave every index through [`Store::trim_run_indexes`] (the housekeeping
//! chore): on every shard, entries older than the retention whose run no longer exists are
//! removed. A reader skips such an entry until then. [`Store::backfill_run_indexes`] indexes
//! by definition and status, once, the workflow runs found in the workflows' legacy kind
//! indexes.

mod empty_lanes;
mod listing;
mod merge;
mod upkeep;

use std::collections::BTreeMap;

use super::run_summaries::RunSummary;
use super::runs::{RunView, stored_kind};
use crate::engine::model::{RunKind, RunStatus};
use crate::keys::{INDEXED_FINISHED, INDEXED_KINDS, Keys, Shard};
use crate::store::{Store, StoreResult};

/// Every kind of run.
pub const RUN_KINDS: [RunKind; 4] = INDEXED_KINDS;

/// The statuses of finished runs, each with its own index.
pub const FINISHED_STATUSES: [RunStatus; 3] = INDEXED_FINISHED;

/// Most runs on one page; a larger limit is taken as this one.
pub const MAX_PAGE: usize = 10_000;

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
    /// Count every matching run ([`RunPage::total`]): one more command per shard.
    pub count: bool,
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
            count: false,
        }
    }
}

/// One page of runs, newest first: [`RunSummary`]s ([`Store::list_runs`]) or whole runs
/// ([`Store::list_whole_runs`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RunPage<R = RunSummary> {
    /// The runs.
    pub runs: Vec<R>,
    /// True when more matching runs follow the page.
    pub has_more: bool,
    /// How many runs match, when the query asked ([`RunQuery::count`]) and that is cheap to
    /// count (not for pending or in-progress filters, whose index holds both).
    pub total: Option<u64>,
}

/// A run as a page holds it, read by id: what the listing needs to know of it.
pub trait ListedRun: Sized + Send {
    /// The run's id.
    fn id(&self) -> &str;
    /// The run's kind.
    fn kind(&self) -> RunKind;
    /// The run's status.
    fn status(&self) -> RunStatus;
    /// The run's creation time (Unix ms): its score in every index.
    fn created_ms(&self) -> u64;
    /// The runs of `ids` in order, in one round trip, skipping those that no longer exist.
    fn read(
        store: &Store,
        ids: &[String],
    ) -> impl std::future::Future<Output = StoreResult<Vec<Self>>> + Send;
}

/// Implements [`ListedRun`] for a run type whose `id`, `kind`, `status` and `created_ms` are
/// fields, read by the store method `$read`.
macro_rules! listed_run {
    ($run:ty, $read:ident) => {
        impl ListedRun for $run {
            fn id(&self) -> &str {
                &self.id
            }
            fn kind(&self) -> RunKind {
                self.kind
            }
            fn status(&self) -> RunStatus {
                self.status
            }
            fn created_ms(&self) -> u64 {
                self.created_ms
            }
            async fn read(store: &Store, ids: &[String]) -> StoreResult<Vec<Self>> {
                store.$read(ids).await
            }
        }
    };
}

listed_run!(RunSummary, get_run_summaries);
listed_run!(RunView, get_runs);

/// The index facts of one stored run.
struct Indexed {
    kind: RunKind,
    definition: String,
    status: RunStatus,
    created_ms: u64,
}

impl Store {
    /// Puts run `run_id` back in the active index (and out of the finished ones) of its shard,
    /// before a script that may reopen it (a requeue), so that a crash right after the script
    /// leaves it where the healer looks; the reindex after the script puts a run it did not
    /// reopen back.
    pub(crate) async fn mark_run_active(&self, run_id: &str) -> StoreResult<()> {
        let Some(indexed) = self
            .indexed_runs(&[run_id.to_owned()])
            .await?
            .pop()
            .flatten()
        else {
            return Ok(());
        };
        let shard = self.keys.shard_of(run_id);
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("ZADD")
            .arg(self.keys.active_index(shard, indexed.kind))
            .arg(indexed.created_ms)
            .arg(run_id)
            .ignore();
        // Reopened, it is in no finished index until it finishes again.
        for status in FINISHED_STATUSES {
            pipe.cmd("ZREM")
                .arg(self.keys.finished_index(shard, indexed.kind, status))
                .arg(run_id)
                .ignore();
        }
        self.query_pipeline::<()>(&mut conn, &pipe).await?;
        Ok(())
    }

    /// Moves each run of `run_ids` to the index of its real status (and makes sure it is in
    /// its definition's), on its own shard, one `MULTI` per shard; runs that no
    /// longer exist are left to trimming. Idempotent; returns how many runs were indexed.
    pub async fn reindex_runs(&self, run_ids: &[String]) -> StoreResult<usize> {
        let found = self.indexed_runs(run_ids).await?;
        let mut by_shard: BTreeMap<Shard, redis::Pipeline> = BTreeMap::new();
        let mut count = 0;
        for (id, indexed) in run_ids.iter().zip(&found) {
            let Some(indexed) = indexed else { continue };
            let shard = self.keys.shard_of(id);
            let pipe = by_shard.entry(shard).or_insert_with(|| {
                let mut pipe = redis::pipe();
                pipe.atomic();
                pipe
            });
            add_index_moves(pipe, &self.keys, shard, id, indexed);
            count += 1;
        }
        if !by_shard.is_empty() {
            let mut conn = self.conn().await?;
            for pipe in by_shard.values() {
                self.query_pipeline::<()>(&mut conn, pipe).await?;
            }
        }
        Ok(count)
    }

    /// The index facts of runs (`None` for a run that no longer exists), in one round trip.
    async fn indexed_runs(&self, run_ids: &[String]) -> StoreResult<Vec<Option<Indexed>>> {
        type Facts = (
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let replies: Vec<Facts> = self
            .run_fields(run_ids, &["kind", "definition", "status", "created"])
            .await?;
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
}

/// Adds to `pipe` the moves that put run `id` (of `shard`) where `indexed` says it belongs:
/// its definition's index, then the index of its status, then out of the other
/// status indexes.
fn add_index_moves(
    pipe: &mut redis::Pipeline,
    keys: &Keys,
    shard: Shard,
    id: &str,
    indexed: &Indexed,
) {
    let kind = indexed.kind;
    let score = indexed.created_ms;
    pipe.cmd("ZADD")
        .arg(keys.definition_index(shard, kind, &indexed.definition))
        .arg("NX")
        .arg(score)
        .arg(id)
        .ignore();
    pipe.cmd("SADD")
        .arg(keys.definitions_of_kind(shard, kind))
        .arg(&indexed.definition)
        .ignore();
    let home = if indexed.status.is_finished() {
        keys.finished_index(shard, kind, indexed.status)
    } else {
        keys.active_index(shard, kind)
    };
    pipe.cmd("ZADD").arg(&home).arg(score).arg(id).ignore();
    let mut others: Vec<String> = FINISHED_STATUSES
        .iter()
        .filter(|status| **status != indexed.status)
        .map(|status| keys.finished_index(shard, kind, *status))
        .collect();
    if indexed.status.is_finished() {
        others.push(keys.active_index(shard, kind));
    }
    for other in others {
        pipe.cmd("ZREM").arg(other).arg(id).ignore();
    }
}

//! Reading a page of runs: the same query on every shard's indexes, merged newest first.

use std::collections::BTreeSet;

use redis::FromRedisValue;

use super::merge::{NewestFirst, Ranked};
use super::{ListedRun, MAX_PAGE, RunPage, RunQuery};
use crate::engine::model::{RunKind, RunStatus};
use crate::keys::Shard;
use crate::store::engine::run_summaries::RunSummary;
use crate::store::engine::runs::RunView;
use crate::store::{Store, StoreResult};

/// Largest offset a listing passes to Redis; beyond it the page is empty.
const MAX_OFFSET: usize = i64::MAX as usize - MAX_PAGE - 1;
/// Most times a listing reads its page again after fixing index entries it found stale.
const LIST_ATTEMPTS: usize = 3;
/// Most run ids whose statuses are read per round trip when filtering active runs, and most
/// candidates one shard answers per read.
const STATUS_CHUNK: usize = 1000;
/// Fewest candidates read at once, from one shard or for their statuses.
const MIN_WINDOW: usize = 16;
/// Fewest entries a page's first read takes from one shard's index: small, since a page is
/// spread over every shard (a shard that runs short is read again).
const MIN_FIRST_WINDOW: usize = 4;
/// The score range of a listing without time bounds: `(min, max)`.
const UNBOUNDED: (&str, &str) = ("-inf", "+inf");
/// How long a listing's scratch set lives, should its reader die before deleting it (ms).
const QUERY_TTL_MS: u64 = 30_000;

/// The sorted set one shard reads a listing's candidates from.
struct Source {
    key: String,
    /// True when the listing built it (in the shard's scratch key) and must delete it.
    scratch: bool,
}

/// Where one shard's candidates are read next: from `offset`, `window` of them.
#[derive(Debug, Clone, Copy)]
struct Read {
    offset: usize,
    window: usize,
}

impl Read {
    /// Moves past the `got` entries a read answered and grows the next window by `growth`
    /// (up to `cap`); true when the shard has no more (it answered fewer than asked).
    fn advance(&mut self, got: usize, growth: usize, cap: usize) -> bool {
        let complete = got < self.window;
        self.offset += got;
        self.window = self.window.saturating_mul(growth).min(cap);
        complete
    }
}

/// The ids of the runs of `runs`, read for `ids` (in their order, less those gone), whose
/// creation time is not the one they were ranked by (`ranked_ms`, one per id).
fn misranked<'a, R: ListedRun>(runs: &'a [R], ids: &[String], ranked_ms: &[u64]) -> Vec<&'a str> {
    let mut from = 0;
    runs.iter()
        .filter(
            |run| match ids[from..].iter().position(|id| id == run.id()) {
                Some(offset) => {
                    let at = from + offset;
                    from = at + 1;
                    ranked_ms[at] != run.created_ms()
                }
                None => true,
            },
        )
        .map(|run| run.id())
        .collect()
}

/// Adds to `pipe` the next window of candidates of each shard (lane) of `lanes`, newest
/// first, within the score range `(min, max)`, with their scores or without (Redis formats
/// each score as text: reading them costs it about as much as the ids). Without a range the
/// window is read by rank, which costs Redis less than by score.
fn read_windows(
    pipe: &mut redis::Pipeline,
    sources: &[Source],
    reads: &[Read],
    lanes: &[usize],
    (min, max): (&str, &str),
    with_scores: bool,
) {
    let unbounded = (min, max) == (UNBOUNDED.0, UNBOUNDED.1);
    for &lane in lanes {
        let read = reads[lane];
        let command = if unbounded {
            let last = read.offset.saturating_add(read.window.saturating_sub(1));
            pipe.cmd("ZRANGE")
                .arg(&sources[lane].key)
                .arg(read.offset)
                .arg(last)
                .arg("REV")
        } else {
            pipe.cmd("ZREVRANGEBYSCORE")
                .arg(&sources[lane].key)
                .arg(max)
                .arg(min)
        };
        if with_scores {
            command.arg("WITHSCORES");
        }
        if !unbounded {
            command.arg("LIMIT").arg(read.offset).arg(read.window);
        }
    }
}

impl Store {
    /// The definitions that have (or had) runs of `kind` on any shard, sorted.
    pub async fn run_definitions(&self, kind: RunKind) -> StoreResult<Vec<String>> {
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        for shard in self.keys.shards() {
            pipe.cmd("SMEMBERS")
                .arg(self.keys.definitions_of_kind(shard, kind));
        }
        let per_shard: Vec<Vec<String>> = self.query_pipeline(&mut conn, &pipe).await?;
        let names: BTreeSet<String> = per_shard.into_iter().flatten().collect();
        Ok(names.into_iter().collect())
    }

    /// A page of the runs `query` asks for, as lists show them (without their tasks), newest
    /// first across shards, read from the indexes (see the module's documentation). A run
    /// found in a status index it has left is reindexed and skipped, and the page read again.
    pub async fn list_runs(&self, query: &RunQuery) -> StoreResult<RunPage<RunSummary>> {
        self.list_page(query).await
    }

    /// A page of the runs `query` asks for, whole, with their tasks; as [`Store::list_runs`].
    pub async fn list_whole_runs(&self, query: &RunQuery) -> StoreResult<RunPage<RunView>> {
        self.list_page(query).await
    }

    /// A page of the runs `query` asks for, each read as `R`.
    async fn list_page<R: ListedRun>(&self, query: &RunQuery) -> StoreResult<RunPage<R>> {
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
            let (ranked, total, moved) = self.indexed_page(query).await?;
            if moved && attempt < LIST_ATTEMPTS {
                continue;
            }
            let has_more = ranked.len() > query.limit;
            let (ids, ranked_ms): (Vec<String>, Vec<u64>) = ranked
                .into_iter()
                .take(query.limit)
                .map(|entry| (entry.id, entry.created_ms))
                .unzip();
            let runs = R::read(self, &ids).await?;
            // A run made again under an id this process knew was ranked by its earlier
            // creation time: forgotten, and the page read again.
            let misranked = misranked(&runs, &ids, &ranked_ms);
            if !misranked.is_empty() && attempt < LIST_ATTEMPTS {
                misranked.iter().for_each(|id| self.run_facts.forget(id));
                continue;
            }
            let stale: Vec<String> = runs
                .iter()
                .filter(|run| query.status.is_some_and(|status| run.status() != status))
                .map(|run| run.id().to_owned())
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
                    run.kind() == query.kind
                        && query.status.is_none_or(|status| run.status() == status)
                })
                .collect();
            return Ok(RunPage {
                runs,
                has_more,
                total,
            });
        }
    }

    /// The ids of one page (and one more, telling whether more follow) and, when the query asks,
    /// the count of every match. Each shard is read newest first in windows: the first about
    /// twice its even share of the `offset + limit + 1` entries wanted (with its count, when
    /// asked, in one pipeline), then, only
    /// for a shard whose window the merge used up, a window twice as large; the answers are
    /// merged newest first. A first page of 100 over 16 shards reads 14 entries per shard,
    /// not 101; listing every run of a kind, each of a shard's status indexes is read with
    /// the shard's window (a shard's runs may all have one status), except those known to be
    /// empty (module `empty_lanes`). The last value is true when one of those is no longer
    /// known to be empty once the reads are done: a run that moved into it from a lane read
    /// since may have been read in neither, and the page is to be read again.
    async fn indexed_page(
        &self,
        query: &RunQuery,
    ) -> StoreResult<(Vec<Ranked>, Option<u64>, bool)> {
        let (min, max) = score_range(query);
        // No shard holds more than this many of the runs up to the page's end.
        let wanted = query.offset + query.limit + 1;
        let scratch_id = uuid::Uuid::new_v4().to_string();
        let mut pipe = redis::pipe();
        let sources: Vec<Source> = self
            .keys
            .shards()
            .flat_map(|shard| {
                self.candidate_sources(&mut pipe, shard, query, query.status, &scratch_id)
            })
            .collect();
        let first_window = wanted
            .div_ceil(usize::from(self.keys.shard_count()))
            .saturating_mul(2)
            .clamp(MIN_FIRST_WINDOW, wanted.max(MIN_FIRST_WINDOW));
        let mut reads = vec![
            Read {
                offset: 0,
                window: first_window,
            };
            sources.len()
        ];
        let mut merge = NewestFirst::new(sources.len());
        // Listing every run of a kind, a shard's status indexes known to be empty are not read.
        let every_run = query.definitions.is_empty() && query.status.is_none();
        let empty = if every_run {
            let keys: Vec<String> = sources.iter().map(|source| source.key.clone()).collect();
            self.known_empty_indexes(&keys).await
        } else {
            vec![false; sources.len()]
        };
        for (lane, _) in empty.iter().enumerate().filter(|(_, empty)| **empty) {
            merge.extend(lane, [], true);
        }
        let counted: Vec<&Source> = sources
            .iter()
            .zip(&empty)
            .filter(|(_, empty)| !**empty)
            .map(|(source, _)| source)
            .collect();
        if query.count {
            for source in &counted {
                pipe.cmd("ZCOUNT").arg(&source.key).arg(&min).arg(&max);
            }
        }
        let mut conn = self.conn().await?;
        let read_cap = wanted.max(MIN_FIRST_WINDOW);
        let mut ids: Vec<Ranked> = Vec::with_capacity(wanted.min(MAX_PAGE + 1));
        let mut last: Option<Ranked> = None;
        let mut doubled = Vec::new();
        let mut skipped = 0;
        // Counted lanes' counts come with the first read; with none, the count is 0.
        let mut total = (query.count && counted.is_empty()).then_some(0);
        loop {
            let starved = merge.starved();
            read_windows(&mut pipe, &sources, &reads, &starved, (&min, &max), false);
            if !pipe.is_empty() {
                let mut answers: Vec<redis::Value> = self.query_pipeline(&mut conn, &pipe).await?;
                pipe = redis::pipe();
                if query.count && total.is_none() {
                    let counts: Vec<u64> = answers
                        .drain(..counted.len())
                        .map(|count| u64::from_redis_value(count).map_err(redis::RedisError::from))
                        .collect::<Result<_, _>>()?;
                    total = Some(counts.iter().sum());
                }
                // Ranked by the creation times this process knows; a window with a run it
                // does not know is read again with its scores, which it then keeps.
                let mut unscored = Vec::new();
                for (lane, entries) in starved.into_iter().zip(answers) {
                    let entries: Vec<String> = FromRedisValue::from_redis_value(entries)
                        .map_err(redis::RedisError::from)?;
                    match self.ranked_by_known_times(entries) {
                        Some(ranked) => {
                            let complete = reads[lane].advance(ranked.len(), 4, read_cap);
                            merge.extend(lane, ranked, complete);
                        }
                        None => unscored.push(lane),
                    }
                }
                if !unscored.is_empty() {
                    let mut scored = redis::pipe();
                    read_windows(&mut scored, &sources, &reads, &unscored, (&min, &max), true);
                    let answers: Vec<Vec<(String, f64)>> =
                        self.query_pipeline(&mut conn, &scored).await?;
                    for (lane, entries) in unscored.into_iter().zip(answers) {
                        let complete = reads[lane].advance(entries.len(), 4, read_cap);
                        let ranked: Vec<Ranked> =
                            entries.into_iter().map(Ranked::from_scored).collect();
                        for entry in &ranked {
                            self.run_facts.remember_created(&entry.id, entry.created_ms);
                        }
                        merge.extend(lane, ranked, complete);
                    }
                }
            }
            while ids.len() <= query.limit {
                let Some(entry) = merge.pop() else { break };
                // A run in two lanes (two status indexes, until healed) comes out twice in a
                // row: listed once, and healed.
                if last.as_ref() == Some(&entry) {
                    doubled.push(entry.id);
                    continue;
                }
                last = Some(entry.clone());
                if skipped < query.offset {
                    skipped += 1;
                } else {
                    ids.push(entry);
                }
            }
            if ids.len() > query.limit || merge.starved().is_empty() {
                break;
            }
        }
        self.delete_scratch(&mut conn, &sources).await?;
        // A run finishing moves from the active index to its status's: into an index known
        // empty, after that was looked at and before its active index was read, it was read
        // in neither. The indexes not read are looked at again, after the reads.
        let skipped: Vec<String> = sources
            .iter()
            .zip(&empty)
            .filter(|(_, empty)| **empty)
            .map(|(source, _)| source.key.clone())
            .collect();
        let moved = !skipped.is_empty()
            && self
                .known_empty_indexes(&skipped)
                .await
                .into_iter()
                .any(|empty| !empty);
        if !doubled.is_empty() {
            self.reindex_runs(&doubled).await?;
            tracing::info!(
                runs = doubled.len(),
                "runs found in two status indexes healed"
            );
        }
        Ok((ids, total, moved))
    }

    /// The runs of `ids` ranked by the creation times this process knows of them (the index's
    /// scores); `None` when it does not know one of them.
    fn ranked_by_known_times(&self, ids: Vec<String>) -> Option<Vec<Ranked>> {
        ids.into_iter()
            .map(|id| {
                let created_ms = self.run_facts.created_ms(&id)?;
                Some(Ranked { created_ms, id })
            })
            .collect()
    }

    /// Deletes the scratch sets a listing built among `sources`.
    async fn delete_scratch(
        &self,
        conn: &mut crate::store::RedisConnection,
        sources: &[Source],
    ) -> StoreResult<()> {
        let mut cleanup = redis::pipe();
        for source in sources.iter().filter(|source| source.scratch) {
            cleanup.cmd("DEL").arg(&source.key).ignore();
        }
        self.query_pipeline::<()>(conn, &cleanup).await
    }

    /// The sorted sets on `shard` holding the candidates of `query` narrowed by `status`
    /// (`None`: by definition and kind only), each a lane of the merge: one index as it is,
    /// every status index of the kind (every run of it, without definitions), or the union of
    /// the definitions' indexes, intersected with the status index, built in the shard's
    /// scratch key `scratch_id` (commands added to `pipe`; the caller deletes it after reading).
    fn candidate_sources(
        &self,
        pipe: &mut redis::Pipeline,
        shard: Shard,
        query: &RunQuery,
        status: Option<RunStatus>,
        scratch_id: &str,
    ) -> Vec<Source> {
        let kind = query.kind;
        let index = |key: String| Source {
            key,
            scratch: false,
        };
        let definition_keys: Vec<String> = query
            .definitions
            .iter()
            .map(|definition| self.keys.definition_index(shard, kind, definition))
            .collect();
        let status_index = status.map(|status| {
            if status.is_finished() {
                self.keys.finished_index(shard, kind, status)
            } else {
                self.keys.active_index(shard, kind)
            }
        });
        match (definition_keys.as_slice(), status_index) {
            ([], None) => self
                .keys
                .status_indexes(shard, kind)
                .into_iter()
                .map(index)
                .collect(),
            ([], Some(status_index)) => vec![index(status_index)],
            ([only], None) => vec![index(only.clone())],
            (_, status_index) => {
                let scratch = self.keys.query_scratch(shard, scratch_id);
                pipe.cmd("ZUNIONSTORE")
                    .arg(&scratch)
                    .arg(definition_keys.len())
                    .arg(&definition_keys)
                    .arg("AGGREGATE")
                    .arg("MAX")
                    .ignore();
                if let Some(status_index) = status_index {
                    pipe.cmd("ZINTERSTORE")
                        .arg(&scratch)
                        .arg(2)
                        .arg(&scratch)
                        .arg(&status_index)
                        .arg("AGGREGATE")
                        .arg("MAX")
                        .ignore();
                }
                pipe.cmd("PEXPIRE").arg(&scratch).arg(QUERY_TTL_MS).ignore();
                vec![Source {
                    key: scratch,
                    scratch: true,
                }]
            }
        }
    }

    /// Pending or in-progress runs: the active index holds both, so each candidate's status
    /// is read; those found finished are reindexed. Narrowed by definition, the candidates
    /// are the definitions' runs themselves (no intersection with the active index to build:
    /// unfinished runs are the newest, found first). Every shard's candidates are read newest
    /// first in windows that grow, merged across shards, and their statuses read in merged
    /// order, about as many at a time as the page still needs, so a first page costs about a
    /// page of status reads however many runs there are.
    async fn list_active_runs<R: ListedRun>(&self, query: &RunQuery) -> StoreResult<RunPage<R>> {
        let (min, max) = score_range(query);
        let from_active = query.definitions.is_empty();
        let narrowed_by = if from_active { query.status } else { None };
        let scratch_id = uuid::Uuid::new_v4().to_string();
        let wanted = query.offset + query.limit + 1;
        // The first read of every shard shares a pipeline with the building of its scratch set.
        let mut pipe = redis::pipe();
        let sources: Vec<Source> = self
            .keys
            .shards()
            .flat_map(|shard| {
                self.candidate_sources(&mut pipe, shard, query, narrowed_by, &scratch_id)
            })
            .collect();
        let first_window = wanted
            .div_ceil(usize::from(self.keys.shard_count()))
            .saturating_mul(2)
            .clamp(MIN_WINDOW, STATUS_CHUNK);
        let mut reads = vec![
            Read {
                offset: 0,
                window: first_window,
            };
            sources.len()
        ];
        let mut conn = self.conn().await?;
        let mut merge = NewestFirst::new(sources.len());
        let mut skipped = 0;
        let mut matched = Vec::new();
        let mut finished = Vec::new();
        loop {
            let starved = merge.starved();
            if !starved.is_empty() {
                read_windows(&mut pipe, &sources, &reads, &starved, (&min, &max), true);
                let answers: Vec<Vec<(String, f64)>> =
                    self.query_pipeline(&mut conn, &pipe).await?;
                pipe = redis::pipe();
                for (lane, entries) in starved.into_iter().zip(answers) {
                    let complete = reads[lane].advance(entries.len(), 2, STATUS_CHUNK);
                    merge.extend(lane, entries.into_iter().map(Ranked::from_scored), complete);
                }
            }
            let still_needed = wanted.saturating_sub(skipped + matched.len());
            let candidates: Vec<String> = std::iter::from_fn(|| merge.pop())
                .take(still_needed.clamp(MIN_WINDOW, STATUS_CHUNK))
                .map(|entry| entry.id)
                .collect();
            if candidates.is_empty() {
                if merge.starved().is_empty() {
                    break; // every shard read to its end
                }
                continue;
            }
            let statuses = self.run_statuses(&candidates).await?;
            for (id, status) in candidates.into_iter().zip(statuses) {
                match status {
                    Some(status) if status.is_finished() && from_active => finished.push(id),
                    Some(status) if status.is_finished() => {}
                    Some(status) if Some(status) == query.status => {
                        if skipped < query.offset {
                            skipped += 1;
                        } else {
                            matched.push(id);
                        }
                    }
                    _ => {}
                }
            }
            if matched.len() > query.limit {
                break;
            }
        }
        self.delete_scratch(&mut conn, &sources).await?;
        if !finished.is_empty() {
            self.reindex_runs(&finished).await?;
        }
        let has_more = matched.len() > query.limit;
        matched.truncate(query.limit);
        let mut runs = R::read(self, &matched).await?;
        runs.retain(|run| run.kind() == query.kind && Some(run.status()) == query.status);
        Ok(RunPage {
            runs,
            has_more,
            total: None,
        })
    }
}

/// The score range (`min`, `max`) of `query`'s creation times, inclusive.
fn score_range(query: &RunQuery) -> (String, String) {
    let min = query
        .created_from_ms
        .map_or_else(|| UNBOUNDED.0.to_owned(), |ms| ms.to_string());
    let max = query
        .created_to_ms
        .map_or_else(|| UNBOUNDED.1.to_owned(), |ms| ms.to_string());
    (min, max)
}

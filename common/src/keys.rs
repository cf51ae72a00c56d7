//! Every Redis key Baton uses, built in one place.
//!
//! Runs are spread over shards (`BATON_SHARDS`, chosen from the run id). Every key of a run and
//! every queue stream, delayed set, dead letter, counter and run index of a shard share the
//! shard's hash tag (`{s:N}`), so one script may create, start or finish many runs of one shard
//! at once, and never touches two shards. The few global records keep tags of their own
//! (`{idx}`, `{auth}`, `{q:NAME}` for metrics, ...). So the same code runs on a single Redis,
//! Sentinel or Redis Cluster (where shards spread over nodes). The deployment prefix
//! (`BATON_PREFIX`) comes first, so several deployments and test suites share one Redis
//! without seeing each other.

mod catalogue;

use std::fmt;

pub use catalogue::{CATALOGUE, KeyDoc};

use crate::engine::model::{Priority, QueueName, RunKind, RunStatus};

/// The consumer group every worker joins on every job stream.
pub const CONSUMER_GROUP: &str = "baton";

/// Shards of a deployment unless configured otherwise.
pub const DEFAULT_SHARDS: u16 = 16;

/// Most shards a deployment may have.
pub const MAX_SHARDS: u16 = 1024;

/// The run kinds that have run indexes.
pub const INDEXED_KINDS: [RunKind; 4] = [
    RunKind::Workflow,
    RunKind::Report,
    RunKind::Release,
    RunKind::Project,
];

/// Finished statuses in the order their index keys appear in a kind's
/// [`Keys::kind_index_block`].
pub const INDEXED_FINISHED: [RunStatus; 3] =
    [RunStatus::Success, RunStatus::Error, RunStatus::Canceled];

/// Keys of one kind's run indexes within a shard, as [`Keys::kind_index_block`] lists them.
pub const KIND_INDEX_BLOCK_LEN: usize = 2 + INDEXED_FINISHED.len();

/// Keys of one queue within a shard, in the order [`Keys::queue_block`] lists them.
pub const QUEUE_BLOCK_LEN: usize = 11;

/// One shard of the keyspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Shard(u16);

impl Shard {
    /// The shard numbered `index` (from 0).
    pub fn new(index: u16) -> Self {
        Self(index)
    }

    /// Its number, from 0.
    pub fn index(self) -> u16 {
        self.0
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Builds key names under one deployment prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
    shards: u16,
}

impl Keys {
    /// Keys under `prefix` (e.g. `baton`), over [`DEFAULT_SHARDS`] shards.
    pub fn new(prefix: impl Into<String>) -> Self {
        Self::with_shards(prefix, DEFAULT_SHARDS)
    }

    /// Keys under `prefix` over `shards` shards (at least one, at most [`MAX_SHARDS`]).
    pub fn with_shards(prefix: impl Into<String>, shards: u16) -> Self {
        Self {
            prefix: prefix.into(),
            shards: shards.clamp(1, MAX_SHARDS),
        }
    }

    /// The deployment prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// How many shards runs are spread over.
    pub fn shard_count(&self) -> u16 {
        self.shards
    }

    /// Every shard, in order.
    pub fn shards(&self) -> impl Iterator<Item = Shard> + use<> {
        (0..self.shards).map(Shard)
    }

    /// The shard a run lives on, chosen from its id (CRC-32, stable across versions).
    pub fn shard_of(&self, run_id: &str) -> Shard {
        Shard((crc32fast::hash(run_id.as_bytes()) % u32::from(self.shards)) as u16)
    }

    /// The key `rest` of `shard`, built in one allocation.
    fn shard_key(&self, shard: Shard, rest: fmt::Arguments<'_>) -> String {
        format!("{}:{{s:{}}}:{rest}", self.prefix, shard.0)
    }

    /// Hash holding a run and the state of each of its tasks (`tN.status`, `tN.result`, ...),
    /// on the run's shard. (Written piece by piece: a page of runs builds one per run, and a
    /// `format!` costs several times as much.)
    pub fn run(&self, run_id: &str) -> String {
        const TAG_OPEN: &str = ":{s:";
        const TAG_CLOSE: &str = "}:run:";
        let mut shard = itoa::Buffer::new();
        let shard = shard.format(self.shard_of(run_id).0);
        let mut key = String::with_capacity(
            self.prefix.len() + TAG_OPEN.len() + shard.len() + TAG_CLOSE.len() + run_id.len(),
        );
        key.push_str(&self.prefix);
        key.push_str(TAG_OPEN);
        key.push_str(shard);
        key.push_str(TAG_CLOSE);
        key.push_str(run_id);
        key
    }

    /// Stream of log lines of every task of a run (field `t` names the task).
    pub fn run_log(&self, run_id: &str) -> String {
        self.shard_key(self.shard_of(run_id), format_args!("run:{run_id}:log"))
    }

    /// The job stream of one priority of a queue, on one shard.
    pub fn stream(&self, shard: Shard, queue: &QueueName, priority: Priority) -> String {
        self.shard_key(shard, format_args!("q:{queue}:{}", priority.as_str()))
    }

    /// Sorted set of the human tasks of one shard submitted for review and waiting for a
    /// reviewer: members `MS|RUN_ID|TASK` (the submission time, zero-padded), scored by the
    /// project's priority negated, so the most urgent and then the oldest come first.
    pub fn review_queue(&self, shard: Shard) -> String {
        self.shard_key(shard, format_args!("review"))
    }

    /// Set of the human tasks of one shard that `person` reviews or sent back (members
    /// `RUN_ID|TASK`), until they accept them or the task ends.
    pub fn reviewing(&self, shard: Shard, person: &str) -> String {
        self.shard_key(shard, format_args!("reviewing:{person}"))
    }

    /// Sorted set of a queue's delayed jobs on one shard, scored by due time (Unix ms).
    pub fn delayed(&self, shard: Shard, queue: &QueueName) -> String {
        self.shard_key(shard, format_args!("q:{queue}:delayed"))
    }

    /// Sorted set of the delayed jobs of a queue on one shard that are retries (the same
    /// members and scores as in [`Keys::delayed`]), so they are counted without reading it.
    pub fn retrying(&self, shard: Shard, queue: &QueueName) -> String {
        self.shard_key(shard, format_args!("q:{queue}:retrying"))
    }

    /// Stream of the dead-letter records of a queue on one shard.
    pub fn dead(&self, shard: Shard, queue: &QueueName) -> String {
        self.shard_key(shard, format_args!("q:{queue}:dead"))
    }

    /// Hash of a queue's counters on one shard (enqueued, started, succeeded, failed,
    /// retried, dead); a queue's counters are the sums over its shards.
    pub fn stats(&self, shard: Shard, queue: &QueueName) -> String {
        self.shard_key(shard, format_args!("q:{queue}:stats"))
    }

    /// The keys of one queue on one shard that scripts take as a block, in this order:
    /// high, normal and low streams, delayed set, retries set, dead letters, counters, pause
    /// marker, then the high, normal and low streams' wake lists.
    pub fn queue_block(&self, shard: Shard, queue: &QueueName) -> [String; QUEUE_BLOCK_LEN] {
        [
            self.stream(shard, queue, Priority::High),
            self.stream(shard, queue, Priority::Normal),
            self.stream(shard, queue, Priority::Low),
            self.delayed(shard, queue),
            self.retrying(shard, queue),
            self.dead(shard, queue),
            self.stats(shard, queue),
            self.pause_marker(shard, queue),
            self.wake_list(shard, queue, Priority::High),
            self.wake_list(shard, queue, Priority::Normal),
            self.wake_list(shard, queue, Priority::Low),
        ]
    }

    /// List of at most one element beside each job stream: whatever adds jobs to the stream
    /// replaces it with the newest job added (`ENTRY_ID|RUN_ID|TASK|ATTEMPT|REDELIVERIES`, or
    /// `-` when that is not known; `+` in front once a busy worker passed it on), and a worker
    /// with nothing to read waits on it with `BLPOP`, so each arrival wakes one waiting worker,
    /// not all of them.
    pub fn wake_list(&self, shard: Shard, queue: &QueueName, priority: Priority) -> String {
        self.shard_key(shard, format_args!("q:{queue}:{}:wake", priority.as_str()))
    }

    /// String present on every shard while a queue is paused (written before the queue joins
    /// [`Keys::paused_queues`], removed after it leaves), so a script that reads and starts
    /// jobs of one shard can tell a paused queue without reading a key of another slot.
    pub fn pause_marker(&self, shard: Shard, queue: &QueueName) -> String {
        self.shard_key(shard, format_args!("q:{queue}:paused"))
    }

    /// Sorted set of the runs of one kind on one shard, by creation time (Unix ms), as earlier
    /// versions wrote it. No longer written: the runs of a kind are its active index and its
    /// finished indexes together (each run is in one of them). Read only by the backfill of
    /// runs made before the status indexes, and trimmed until it is gone.
    pub fn legacy_kind_index(&self, shard: Shard, kind: RunKind) -> String {
        self.shard_key(shard, format_args!("runs:kind:{}", kind.as_str()))
    }

    /// Sorted set of the runs of one kind made from one definition on one shard, by creation
    /// time.
    pub fn definition_index(&self, shard: Shard, kind: RunKind, definition: &str) -> String {
        self.shard_key(
            shard,
            format_args!("runs:def:{}:{definition}", kind.as_str()),
        )
    }

    /// Set of the definitions that have runs of one kind on one shard (the names behind
    /// [`Keys::definition_index`]).
    pub fn definitions_of_kind(&self, shard: Shard, kind: RunKind) -> String {
        self.shard_key(shard, format_args!("runs:defs:{}", kind.as_str()))
    }

    /// Sorted set of the runs of one kind on one shard not known to be finished (pending or
    /// in progress), by creation time.
    pub fn active_index(&self, shard: Shard, kind: RunKind) -> String {
        self.shard_key(shard, format_args!("runs:active:{}", kind.as_str()))
    }

    /// Sorted set of the runs of one kind on one shard that finished with one status, by
    /// creation time.
    pub fn finished_index(&self, shard: Shard, kind: RunKind, status: RunStatus) -> String {
        self.shard_key(
            shard,
            format_args!("runs:status:{}:{}", kind.as_str(), status.as_str()),
        )
    }

    /// Every status index of one kind on one shard: its active index, then its finished index
    /// for each status of [`INDEXED_FINISHED`]. Each run of the kind is in one of them, so
    /// together they index every run of the kind.
    pub fn status_indexes(&self, shard: Shard, kind: RunKind) -> Vec<String> {
        std::iter::once(self.active_index(shard, kind))
            .chain(
                INDEXED_FINISHED
                    .iter()
                    .map(|status| self.finished_index(shard, kind, *status)),
            )
            .collect()
    }

    /// A short-lived sorted set a filtered run listing builds on one shard (union or
    /// intersection of its indexes) and deletes; it expires by itself should its reader die.
    pub fn query_scratch(&self, shard: Shard, id: &str) -> String {
        self.shard_key(shard, format_args!("runs:query:{id}"))
    }

    /// The run index keys of `kind` on a shard, as the shard scripts take them for each kind
    /// they declare: its active index, its set of definitions, then its finished index for
    /// each status of [`INDEXED_FINISHED`].
    pub fn kind_index_block(&self, shard: Shard, kind: RunKind) -> Vec<String> {
        let mut keys = Vec::with_capacity(KIND_INDEX_BLOCK_LEN);
        keys.push(self.active_index(shard, kind));
        keys.push(self.definitions_of_kind(shard, kind));
        for status in INDEXED_FINISHED {
            keys.push(self.finished_index(shard, kind, status));
        }
        keys
    }

    /// Hash of deployment-wide settings kept in Redis (`shards`: the shard count the data
    /// was written with, which every process must share).
    pub fn meta(&self) -> String {
        format!("{}:{{idx}}:meta", self.prefix)
    }

    /// Set of every queue name that has been used.
    pub fn queues(&self) -> String {
        format!("{}:{{idx}}:queues", self.prefix)
    }

    /// Hash of workflow definitions by name (JSON).
    pub fn definitions(&self) -> String {
        format!("{}:{{idx}}:definitions", self.prefix)
    }

    /// The published version of the definitions (hash: `hash`, `source`, `published`,
    /// `workflows`), next to them.
    pub fn definitions_version(&self) -> String {
        format!("{}:{{idx}}:definitions:version", self.prefix)
    }

    /// Hash of the last slot (Unix ms) fired for each periodic definition.
    pub fn periodic_slots(&self) -> String {
        format!("{}:{{idx}}:periodic", self.prefix)
    }

    /// Hash of live workers by id (JSON heartbeat records).
    pub fn workers(&self) -> String {
        format!("{}:{{workers}}", self.prefix)
    }

    /// String holding the scheduler leader's id, with the lease as its TTL.
    pub fn scheduler_lease(&self) -> String {
        format!("{}:{{scheduler}}:leader", self.prefix)
    }

    /// Hash of one API key (id, sealed secret, permissions, times).
    pub fn api_key(&self, id: &str) -> String {
        format!("{}:{{auth}}:key:{id}", self.prefix)
    }

    /// Set of every API key id.
    pub fn api_key_index(&self) -> String {
        format!("{}:{{auth}}:keys", self.prefix)
    }

    /// Login attempts of one user in the current window (login throttling).
    pub fn login_attempts_by_user(&self, user: &str) -> String {
        format!("{}:{{auth}}:login:user:{user}", self.prefix)
    }

    /// Login attempts from one client address in the current window (login throttling).
    pub fn login_attempts_from(&self, address: &str) -> String {
        format!("{}:{{auth}}:login:addr:{address}", self.prefix)
    }

    /// Marker of a signed change seen recently (replay refusal), expiring after the window.
    pub fn seen_request(&self, fingerprint: &str) -> String {
        format!("{}:{{auth}}:seen:{fingerprint}", self.prefix)
    }

    /// A report run, by its key (`adjective_animal`): JSON naming its run and version.
    pub fn report_run(&self, key: &str) -> String {
        format!("{}:{{reports}}:run:{key}", self.prefix)
    }

    /// Who holds a version id (`run:<run id>` or `import:<uuid>`), set with `SET NX` before
    /// any of the version's files is written; it shares the version's hash tag.
    pub fn report_version_reservation(&self, id: &str) -> String {
        format!("{}:{{reports}}:reserved:{id}", self.prefix)
    }

    /// Sorted set of report run keys not yet finalized (queued or running), by creation time.
    pub fn report_runs_active(&self) -> String {
        format!("{}:{{reports}}:active", self.prefix)
    }

    /// Hash of one report version: its record (JSON), report name and published flag.
    pub fn report_version(&self, id: &str) -> String {
        format!("{}:{{reports}}:version:{id}", self.prefix)
    }

    /// Sorted set of one report's version ids (equal scores: ordered by id, hence by time).
    pub fn report_versions(&self, name: &str) -> String {
        format!("{}:{{reports}}:versions:{name}", self.prefix)
    }

    /// Sorted set of one report's published version ids (ordered by id, hence by time).
    pub fn report_published(&self, name: &str) -> String {
        format!("{}:{{reports}}:published:{name}", self.prefix)
    }

    /// Sorted set of every version id of every report (ordered by id).
    pub fn all_report_versions(&self) -> String {
        format!("{}:{{reports}}:versions", self.prefix)
    }

    /// Sorted set of the names of reports that have versions.
    pub fn report_names(&self) -> String {
        format!("{}:{{reports}}:names", self.prefix)
    }

    /// Hash of one console session (its key, CSRF token and start), by the SHA-256 of its
    /// cookie; it expires with the session.
    pub fn session(&self, digest: &str) -> String {
        format!("{}:{{auth}}:session:{digest}", self.prefix)
    }

    /// Set of the session digests of one API key, so revoking the key ends them all.
    pub fn key_sessions(&self, key_id: &str) -> String {
        format!("{}:{{auth}}:key-sessions:{key_id}", self.prefix)
    }

    /// A user token's holder (the API key it stands for), by the token's SHA-256.
    pub fn bearer_token(&self, digest: &str) -> String {
        format!("{}:{{auth}}:bearer:{digest}", self.prefix)
    }

    /// Hash of one Release Coordinator record (`collection`: `service`, `release`, `task`,
    /// `event`, `note` or `study`). Every releases key shares the `{rel}` tag, so one script
    /// changes a task, its release and their events atomically.
    pub fn release_record(&self, collection: &str, id: &str) -> String {
        format!("{}:{{rel}}:{collection}:{id}", self.prefix)
    }

    /// Sorted set of one Release Coordinator collection's ids by creation time (Unix ms).
    pub fn release_index(&self, collection: &str) -> String {
        format!("{}:{{rel}}:{collection}s", self.prefix)
    }

    /// The start of the names of [`Keys::release_index_by`] for one collection.
    pub fn release_index_by_prefix(&self, collection: &str) -> String {
        format!("{}:{{rel}}:{collection}:by:", self.prefix)
    }

    /// Sorted set of the ids of one collection's records whose `field` is `value` (events of a
    /// release, tasks of a task service, ...), scored as in the collection's index.
    pub fn release_index_by(&self, collection: &str, field: &str, value: &str) -> String {
        format!(
            "{}{field}:{value}",
            self.release_index_by_prefix(collection)
        )
    }

    /// Sorted set of releases not finished yet, by creation time (the scheduler's work list).
    pub fn releases_active(&self) -> String {
        format!("{}:{{rel}}:active", self.prefix)
    }

    /// Hash of Release Coordinator settings kept in Redis (`version`: the latest published).
    pub fn releases_meta(&self) -> String {
        format!("{}:{{rel}}:meta", self.prefix)
    }

    /// Counter of the integer ids of projects, their tasks and assignments (Orchestra's ids).
    /// Every projects key shares the `{proj}` tag.
    pub fn project_ids(&self) -> String {
        format!("{}:{{proj}}:ids", self.prefix)
    }

    /// Hash of one project: its run id and the first of its task and assignment ids.
    pub fn project(&self, id: u64) -> String {
        format!("{}:{{proj}}:project:{id}", self.prefix)
    }

    /// Hash of the project of each task id (task id → project id).
    pub fn project_tasks(&self) -> String {
        format!("{}:{{proj}}:tasks", self.prefix)
    }

    /// Pub/sub channel on which canceled run ids are announced to workers.
    pub fn cancel_channel(&self) -> String {
        format!("{}:cancel", self.prefix)
    }

    /// Set of the names of paused queues: workers take no new job from them.
    pub fn paused_queues(&self) -> String {
        format!("{}:{{idx}}:paused", self.prefix)
    }

    /// Hash of a queue's outcomes per second within the minute starting at `minute_ms`
    /// (fields `s<second>` and `f<second>`: succeeded and failed), expiring on its own.
    pub fn queue_series_seconds(&self, queue: &QueueName, minute_ms: u64) -> String {
        format!("{}:{{q:{queue}}}:series:s:{minute_ms}", self.prefix)
    }

    /// Hash of a queue's outcomes per minute within the hour starting at `hour_ms` (fields
    /// `s<minute>` and `f<minute>`: succeeded and failed), expiring on its own.
    pub fn queue_series_minutes(&self, queue: &QueueName, hour_ms: u64) -> String {
        format!("{}:{{q:{queue}}}:series:m:{hour_ms}", self.prefix)
    }

    /// Hash of the run indexes' upkeep: the backfill's and the healer's cursors.
    pub fn runs_upkeep(&self) -> String {
        format!("{}:{{idx}}:runs:upkeep", self.prefix)
    }

    /// Hash of a queue's timing histograms (task duration and start latency): cumulative
    /// bucket counters, sum and count of each.
    pub fn queue_timings(&self, queue: &QueueName) -> String {
        format!("{}:{{q:{queue}}}:timings", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_carry_their_hash_tags_after_the_prefix() {
        let keys = Keys::new("baton");
        let queue = QueueName::parse("emails").unwrap();
        let shard = keys.shard_of("r1");
        assert_eq!(keys.run("r1"), format!("baton:{{s:{shard}}}:run:r1"));
        assert_eq!(
            keys.run_log("r1"),
            format!("baton:{{s:{shard}}}:run:r1:log")
        );
        assert_eq!(
            keys.stream(shard, &queue, Priority::High),
            format!("baton:{{s:{shard}}}:q:emails:high")
        );
        assert_eq!(
            keys.delayed(shard, &queue),
            format!("baton:{{s:{shard}}}:q:emails:delayed")
        );
        assert_eq!(
            keys.dead(shard, &queue),
            format!("baton:{{s:{shard}}}:q:emails:dead")
        );
        assert_eq!(keys.queue_timings(&queue), "baton:{q:emails}:timings");
        assert_eq!(
            keys.report_version_reservation("20240102-030405-0a1b2c3d"),
            "baton:{reports}:reserved:20240102-030405-0a1b2c3d"
        );
        assert_eq!(
            keys.report_version("20240102-030405-0a1b2c3d"),
            "baton:{reports}:version:20240102-030405-0a1b2c3d"
        );
    }

    #[test]
    fn shards_are_stable_spread_and_in_range() {
        let keys = Keys::with_shards("baton", 16);
        assert_eq!(keys.shard_of("r1"), keys.shard_of("r1"));
        let used: std::collections::BTreeSet<Shard> = (0..1000)
            .map(|i| keys.shard_of(&format!("run-{i}")))
            .collect();
        assert_eq!(used.len(), 16, "1000 ids should reach every shard");
        assert_eq!(
            Keys::with_shards("baton", 1).shard_of("anything"),
            Shard::new(0)
        );
        assert_eq!(Keys::with_shards("baton", 0).shard_count(), 1);
    }

    #[test]
    fn blocks_list_their_keys_in_the_order_the_scripts_read_them() {
        let keys = Keys::new("baton");
        let shard = Shard::new(3);
        let block = keys.kind_index_block(shard, RunKind::Report);
        assert_eq!(block.len(), KIND_INDEX_BLOCK_LEN);
        assert_eq!(block[0], keys.active_index(shard, RunKind::Report));
        assert_eq!(block[1], keys.definitions_of_kind(shard, RunKind::Report));
        assert_eq!(
            block[2],
            keys.finished_index(shard, RunKind::Report, RunStatus::Success)
        );
        assert!(block.iter().all(|key| key.starts_with("baton:{s:3}:")));
        // The scripts find a declared kind's keys at its offset, a status's after them.
        let prelude = include_str!("lua/shard_prelude.lua");
        let statuses: Vec<String> = INDEXED_FINISHED
            .iter()
            .enumerate()
            .map(|(at, status)| format!("{} = {}", status.as_str(), at + 2))
            .collect();
        assert!(prelude.contains(&format!(
            "local SLOT_AT = {{active = 0, defs = 1, {}}}",
            statuses.join(", ")
        )));
        assert!(prelude.contains(&format!("(i - 1) * {KIND_INDEX_BLOCK_LEN}")));
        assert!(prelude.contains(&format!("kinds * {KIND_INDEX_BLOCK_LEN}")));
        let queue = QueueName::parse("emails").unwrap();
        assert_eq!(keys.queue_block(shard, &queue).len(), QUEUE_BLOCK_LEN);
        assert!(prelude.contains(&format!("(i - 1) * {QUEUE_BLOCK_LEN}")));
        assert!(prelude.contains(&format!("declared * {QUEUE_BLOCK_LEN}")));
        let block = keys.queue_block(shard, &queue);
        assert_eq!(block[7], keys.pause_marker(shard, &queue));
        assert!(prelude.contains("paused = 7,"));
        for (at, priority) in Priority::ALL.iter().enumerate() {
            assert_eq!(block[8 + at], keys.wake_list(shard, &queue, *priority));
            assert!(prelude.contains(&format!("wake_{} = {}", priority.as_str(), 8 + at)));
        }
    }

    #[test]
    fn run_indexes_live_on_their_shard() {
        let keys = Keys::new("baton");
        let shard = Shard::new(5);
        assert_eq!(
            keys.legacy_kind_index(shard, RunKind::Report),
            "baton:{s:5}:runs:kind:report"
        );
        assert_eq!(
            keys.definition_index(shard, RunKind::Workflow, "example.ETL"),
            "baton:{s:5}:runs:def:workflow:example.ETL"
        );
        assert_eq!(
            keys.finished_index(shard, RunKind::Workflow, RunStatus::Error),
            "baton:{s:5}:runs:status:workflow:error"
        );
        assert_eq!(
            keys.status_indexes(shard, RunKind::Workflow),
            [
                "baton:{s:5}:runs:active:workflow",
                "baton:{s:5}:runs:status:workflow:success",
                "baton:{s:5}:runs:status:workflow:error",
                "baton:{s:5}:runs:status:workflow:canceled",
            ]
        );
        for key in [
            keys.active_index(shard, RunKind::Project),
            keys.definitions_of_kind(shard, RunKind::Workflow),
            keys.query_scratch(shard, "q1"),
        ] {
            assert!(key.starts_with("baton:{s:5}:runs:"), "{key}");
        }
        assert_eq!(keys.runs_upkeep(), "baton:{idx}:runs:upkeep");
    }
}

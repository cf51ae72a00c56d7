//! The catalogue of every key [`Keys`](super::Keys) builds, which `docs/keys.md` mirrors.

/// One kind of key (or channel) Baton uses, as `docs/keys.md` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyDoc {
    /// The key's name with its variable parts in capitals: `P` the deployment prefix
    /// (`BATON_PREFIX`), `N` a shard, `NAME` a queue, definition or report, and so on.
    pub pattern: &'static str,
    /// Its Redis type.
    pub kind: &'static str,
    /// What it holds, in one line.
    pub purpose: &'static str,
}

const fn key(pattern: &'static str, kind: &'static str, purpose: &'static str) -> KeyDoc {
    KeyDoc {
        pattern,
        kind,
        purpose,
    }
}

/// Every key [`Keys`](super::Keys) builds, in the order `docs/keys.md` lists them; a test checks each
/// builder's output against these patterns, and the docs' table against this list.
pub const CATALOGUE: &[KeyDoc] = &[
    key(
        "P:{s:N}:run:ID",
        "hash",
        "a run (with its `kind`: `workflow`, `report`, `release` or `project`) and its tasks (`tN.status`, `tN.result`, ...), on its shard N",
    ),
    key(
        "P:{s:N}:run:ID:log",
        "stream",
        "log lines of every task of a run (field `t` names the task; capped at 10,000)",
    ),
    key(
        "P:{s:N}:q:NAME:high",
        "stream",
        "shard N's high-priority jobs of a queue, read by the consumer group `baton`",
    ),
    key(
        "P:{s:N}:q:NAME:normal",
        "stream",
        "shard N's normal-priority jobs of a queue, read by the consumer group `baton`",
    ),
    key(
        "P:{s:N}:q:NAME:low",
        "stream",
        "shard N's low-priority jobs of a queue, read by the consumer group `baton`",
    ),
    key(
        "P:{s:N}:q:NAME:delayed",
        "sorted set",
        "delayed jobs (retries, scheduled runs) by due time (Unix ms)",
    ),
    key(
        "P:{s:N}:q:NAME:retrying",
        "sorted set",
        "the retries among the delayed jobs, so they are counted without reading them",
    ),
    key(
        "P:{s:N}:q:NAME:dead",
        "stream",
        "dead-letter records (their ids, `ENTRY.N`, name the shard)",
    ),
    key(
        "P:{s:N}:q:NAME:stats",
        "hash",
        "enqueued, started, succeeded, failed, retried, dead (a queue's counters are the sums over its shards)",
    ),
    key(
        "P:{s:N}:q:NAME:paused",
        "string",
        "present while the queue is paused, so the script that takes a woken worker's jobs sees the pause on the jobs' own shard",
    ),
    key(
        "P:{s:N}:q:NAME:PRIORITY:wake",
        "list",
        "at most one element: the newest job added to that priority's stream (`ENTRY|RUN|TASK|ATTEMPT|REDELIVERIES`, or `-`; `+` in front once a busy worker passed it on); an idle worker waits on it with `BLPOP`, so each arrival wakes one worker",
    ),
    key(
        "P:{s:N}:review",
        "sorted set",
        "shard N's human tasks submitted for review and waiting for a reviewer (`MS|RUN|TASK`, scored by the project's priority negated)",
    ),
    key(
        "P:{s:N}:reviewing:KEY",
        "set",
        "shard N's human tasks the person `KEY` reviews or sent back (`RUN|TASK`), until accepted or ended",
    ),
    key(
        "P:{s:N}:runs:kind:KIND",
        "sorted set",
        "shard N's runs of one kind, by creation time, as earlier versions wrote it: no longer written (a kind's runs are its active and finished indexes together), read once by the backfill and trimmed",
    ),
    key(
        "P:{s:N}:runs:def:KIND:NAME",
        "sorted set",
        "shard N's runs of one kind made from one definition, by creation time",
    ),
    key(
        "P:{s:N}:runs:defs:KIND",
        "set",
        "the definitions that have runs of one kind on shard N",
    ),
    key(
        "P:{s:N}:runs:active:KIND",
        "sorted set",
        "shard N's runs of one kind not known to be finished, by creation time",
    ),
    key(
        "P:{s:N}:runs:status:KIND:STATUS",
        "sorted set",
        "shard N's runs of one kind finished with one status, by creation time",
    ),
    key(
        "P:{s:N}:runs:query:ID",
        "sorted set",
        "scratch of a filtered run listing (union or intersection of indexes), deleted after use and expiring by itself",
    ),
    key(
        "P:{idx}:meta",
        "hash",
        "deployment-wide settings: `shards`, the shard count the data was written with",
    ),
    key("P:{idx}:queues", "set", "every queue name used"),
    key(
        "P:{idx}:definitions",
        "hash",
        "workflow definitions by name (JSON)",
    ),
    key(
        "P:{idx}:definitions:version",
        "hash",
        "the published set of definitions: `hash` of their contents, `source` (host and directory), `published`, `workflows`",
    ),
    key(
        "P:{idx}:periodic",
        "hash",
        "the last slot (Unix ms) fired for each periodic definition",
    ),
    key(
        "P:{idx}:paused",
        "set",
        "paused queues: workers take no new job from them",
    ),
    key(
        "P:{idx}:runs:upkeep",
        "hash",
        "the run indexes' upkeep: the backfill's and the healer's cursors",
    ),
    key(
        "P:{workers}",
        "hash",
        "worker heartbeats by id (host, pid, queues, concurrency, jobs in flight), kept `BATON_WORKER_TIMEOUT_SECS` after the last one",
    ),
    key(
        "P:{scheduler}:leader",
        "string",
        "the scheduler leader's id, with the lease as its TTL",
    ),
    key(
        "P:{auth}:key:ID",
        "hash",
        "an API key: id, sealed secret, permissions, times",
    ),
    key("P:{auth}:keys", "set", "every API key id"),
    key(
        "P:{auth}:login:user:NAME",
        "string",
        "login attempts of a user in the current window (with a TTL)",
    ),
    key(
        "P:{auth}:login:addr:IP",
        "string",
        "login attempts from a client address in the current window (with a TTL)",
    ),
    key(
        "P:{auth}:seen:SHA256",
        "string",
        "a signed change seen within 2 × (skew + 2 s), so a replay is refused (with a TTL)",
    ),
    key(
        "P:{auth}:session:SHA256",
        "hash",
        "a console session (its key, CSRF token and start) by the digest of its cookie, expiring with the session",
    ),
    key(
        "P:{auth}:key-sessions:ID",
        "set",
        "the session digests of an API key, so revoking the key ends them all",
    ),
    key(
        "P:{auth}:bearer:SHA256",
        "string",
        "a bearer token's holder (the API key it stands for) by the token's digest (with a TTL)",
    ),
    key(
        "P:{reports}:run:KEY",
        "string",
        "a report run's key → its run and version (JSON)",
    ),
    key(
        "P:{reports}:reserved:ID",
        "string",
        "who holds a version id (`run:RUN` or `import:UUID`), set with `SET NX` before any file of the version is written (with a TTL)",
    ),
    key(
        "P:{reports}:active",
        "sorted set",
        "report runs not yet finalized, by creation time",
    ),
    key(
        "P:{reports}:version:ID",
        "hash",
        "a version's record (`record`, JSON); what lists read (`listing`, JSON: names, date, people, resource names, commit; a version without it is listed from its record); its changelog entries (`changelog`, JSON), which changelogs read; report `name`; `published` flag",
    ),
    key(
        "P:{reports}:versions:NAME",
        "sorted set",
        "one report's version ids",
    ),
    key(
        "P:{reports}:published:NAME",
        "sorted set",
        "one report's published version ids",
    ),
    key(
        "P:{reports}:versions",
        "sorted set",
        "every version id of every report",
    ),
    key(
        "P:{reports}:names",
        "sorted set",
        "the names of reports that have versions",
    ),
    key(
        "P:{rel}:KIND:ID",
        "hash",
        "a releases front record (`service`, `release`, `task`, `event`, `note` or `study`); a service's also holds `token_sha256`, the digest of its token's random part",
    ),
    key(
        "P:{rel}:KINDs",
        "sorted set",
        "one kind of releases front records by creation time",
    ),
    key(
        "P:{rel}:KIND:by:FIELD:VALUE",
        "sorted set",
        "the ids of one kind's records with that value of a filterable field, so a filtered list reads only its matches",
    ),
    key(
        "P:{rel}:active",
        "sorted set",
        "releases not finished yet, by creation time",
    ),
    key(
        "P:{rel}:meta",
        "hash",
        "releases front settings: `version`, the latest published",
    ),
    key(
        "P:{proj}:ids",
        "string",
        "the counter of project, task and assignment ids (`INCRBY`)",
    ),
    key(
        "P:{proj}:project:ID",
        "hash",
        "a project: its run id and the first of its task and assignment ids",
    ),
    key("P:{proj}:tasks", "hash", "each task id's project"),
    key(
        "P:{q:NAME}:series:s:MINUTE",
        "hash",
        "a queue's jobs succeeded and failed per second within one minute (expiring)",
    ),
    key(
        "P:{q:NAME}:series:m:HOUR",
        "hash",
        "a queue's jobs succeeded and failed per minute within one hour (expiring)",
    ),
    key(
        "P:{q:NAME}:timings",
        "hash",
        "a queue's task duration and start latency histograms (bucket counters, sum and count)",
    ),
    key(
        "P:cancel",
        "pub/sub channel",
        "canceled run ids, announced to workers",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::model::{Priority, QueueName, RunKind, RunStatus};
    use crate::keys::{Keys, Shard};

    /// Whether `key` is an instance of `pattern`: its capitalised words (`P`, `N`, `ID`, ...)
    /// stand for any text without `:`, `{` or `}`; the rest must be as written.
    fn pattern_matches(pattern: &str, key: &str) -> bool {
        let mut tokens = Vec::new();
        let mut chars = pattern.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            let mut end = at + c.len_utf8();
            let variable = c.is_ascii_uppercase();
            while let Some(&(next, d)) = chars.peek() {
                let same = if variable {
                    d.is_ascii_uppercase() || d.is_ascii_digit() || d == '_'
                } else {
                    !d.is_ascii_uppercase()
                };
                if !same {
                    break;
                }
                end = next + d.len_utf8();
                chars.next();
            }
            tokens.push((variable, &pattern[at..end]));
        }
        matches_from(&tokens, key)
    }

    fn matches_from(tokens: &[(bool, &str)], key: &str) -> bool {
        let Some((&(variable, text), rest)) = tokens.split_first() else {
            return key.is_empty();
        };
        if !variable {
            return key
                .strip_prefix(text)
                .is_some_and(|key| matches_from(rest, key));
        }
        let longest = key.find([':', '{', '}']).unwrap_or(key.len());
        (1..=longest).any(|taken| matches_from(rest, &key[taken..]))
    }

    /// Builders that return the start of key names rather than a key.
    const NOT_KEYS: &[&str] = &["release_index_by_prefix"];

    /// Each key builder's name with its output for sample arguments.
    fn samples() -> Vec<(&'static str, String)> {
        let keys = Keys::new("baton");
        let shard = Shard::new(3);
        let queue = QueueName::parse("emails").unwrap();
        vec![
            ("run", keys.run("r1")),
            ("run_log", keys.run_log("r1")),
            ("stream", keys.stream(shard, &queue, Priority::High)),
            ("stream", keys.stream(shard, &queue, Priority::Normal)),
            ("stream", keys.stream(shard, &queue, Priority::Low)),
            ("review_queue", keys.review_queue(shard)),
            ("reviewing", keys.reviewing(shard, "alice")),
            ("delayed", keys.delayed(shard, &queue)),
            ("retrying", keys.retrying(shard, &queue)),
            ("dead", keys.dead(shard, &queue)),
            ("stats", keys.stats(shard, &queue)),
            ("pause_marker", keys.pause_marker(shard, &queue)),
            ("wake_list", keys.wake_list(shard, &queue, Priority::High)),
            ("wake_list", keys.wake_list(shard, &queue, Priority::Normal)),
            ("wake_list", keys.wake_list(shard, &queue, Priority::Low)),
            (
                "legacy_kind_index",
                keys.legacy_kind_index(shard, RunKind::Report),
            ),
            (
                "definition_index",
                keys.definition_index(shard, RunKind::Workflow, "example.ETL"),
            ),
            (
                "definitions_of_kind",
                keys.definitions_of_kind(shard, RunKind::Workflow),
            ),
            ("active_index", keys.active_index(shard, RunKind::Project)),
            (
                "finished_index",
                keys.finished_index(shard, RunKind::Workflow, RunStatus::Error),
            ),
            ("query_scratch", keys.query_scratch(shard, "q1")),
            ("meta", keys.meta()),
            ("queues", keys.queues()),
            ("definitions", keys.definitions()),
            ("definitions_version", keys.definitions_version()),
            ("periodic_slots", keys.periodic_slots()),
            ("workers", keys.workers()),
            ("scheduler_lease", keys.scheduler_lease()),
            ("api_key", keys.api_key("ops")),
            ("api_key_index", keys.api_key_index()),
            (
                "login_attempts_by_user",
                keys.login_attempts_by_user("alice"),
            ),
            ("login_attempts_from", keys.login_attempts_from("10.0.0.1")),
            ("seen_request", keys.seen_request("ab12")),
            ("report_run", keys.report_run("happy_cat")),
            (
                "report_version_reservation",
                keys.report_version_reservation("20240102-030405-0a1b2c3d"),
            ),
            ("report_runs_active", keys.report_runs_active()),
            (
                "report_version",
                keys.report_version("20240102-030405-0a1b2c3d"),
            ),
            ("report_versions", keys.report_versions("minimal")),
            ("report_published", keys.report_published("minimal")),
            ("all_report_versions", keys.all_report_versions()),
            ("report_names", keys.report_names()),
            ("session", keys.session("cd34")),
            ("key_sessions", keys.key_sessions("ops")),
            ("bearer_token", keys.bearer_token("ef56")),
            ("release_record", keys.release_record("release", "RE_1")),
            ("release_index", keys.release_index("service")),
            (
                "release_index_by",
                keys.release_index_by("event", "release", "RE_1"),
            ),
            ("releases_active", keys.releases_active()),
            ("releases_meta", keys.releases_meta()),
            ("project_ids", keys.project_ids()),
            ("project", keys.project(7)),
            ("project_tasks", keys.project_tasks()),
            ("cancel_channel", keys.cancel_channel()),
            ("paused_queues", keys.paused_queues()),
            (
                "queue_series_seconds",
                keys.queue_series_seconds(&queue, 60_000),
            ),
            (
                "queue_series_minutes",
                keys.queue_series_minutes(&queue, 3_600_000),
            ),
            ("runs_upkeep", keys.runs_upkeep()),
            ("queue_timings", keys.queue_timings(&queue)),
        ]
    }

    /// The names of the methods of `Keys` that answer a `String`, read from its source.
    fn string_builders() -> Vec<String> {
        let source = include_str!("../keys.rs");
        let body = &source[source.find("impl Keys {").unwrap()..];
        let body = &body[..body.find("\n}\n").unwrap()];
        body.split("pub fn ")
            .skip(1)
            .map(|rest| &rest[..rest.find('{').unwrap()])
            .filter(|signature| signature.contains("-> String"))
            .map(|signature| signature[..signature.find('(').unwrap()].to_owned())
            .collect()
    }

    #[test]
    fn every_builder_is_sampled() {
        let sampled: std::collections::BTreeSet<&str> =
            samples().iter().map(|(name, _)| *name).collect();
        for builder in string_builders() {
            assert!(
                sampled.contains(builder.as_str()) || NOT_KEYS.contains(&builder.as_str()),
                "Keys::{builder} builds a key the catalogue test does not sample: add it to \
                 samples() and, if new, to CATALOGUE and docs/keys.md"
            );
        }
    }

    #[test]
    fn every_key_built_is_catalogued_and_every_entry_is_built() {
        let samples = samples();
        for (builder, key) in &samples {
            let key = key.replacen("baton", "P", 1);
            assert!(
                CATALOGUE
                    .iter()
                    .any(|entry| pattern_matches(entry.pattern, &key)),
                "Keys::{builder} builds {key}, which no CATALOGUE entry describes"
            );
        }
        for entry in CATALOGUE {
            assert!(
                samples
                    .iter()
                    .any(|(_, key)| pattern_matches(entry.pattern, &key.replacen("baton", "P", 1))),
                "CATALOGUE lists {}, which no builder makes",
                entry.pattern
            );
        }
    }

    #[test]
    fn entries_are_distinct() {
        for (at, entry) in CATALOGUE.iter().enumerate() {
            assert!(
                CATALOGUE[..at]
                    .iter()
                    .all(|other| other.pattern != entry.pattern),
                "{} is listed twice",
                entry.pattern
            );
        }
    }

    #[test]
    fn patterns_match_only_their_keys() {
        assert!(pattern_matches("P:{s:N}:run:ID", "P:{s:3}:run:r1"));
        assert!(!pattern_matches("P:{s:N}:run:ID", "P:{s:3}:run:r1:log"));
        assert!(pattern_matches("P:{rel}:KINDs", "P:{rel}:services"));
        assert!(!pattern_matches("P:{rel}:KINDs", "P:{rel}:meta"));
        assert!(pattern_matches(
            "P:{q:NAME}:timings",
            "P:{q:emails}:timings"
        ));
        assert!(!pattern_matches("P:{q:NAME}:timings", "P:{q:a:b}:timings"));
    }
}

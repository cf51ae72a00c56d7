//! Report runs and report versions.
//!
//! A report run is an ordinary one-task run whose key (`adjective_animal`) is reserved here
//! before the run is created, and kept in the *active* set until it is finalized. A run that
//! succeeded is finalized into a version record, copied from the task's result; finalizing is
//! idempotent (the record is keyed by the version id fixed at creation), so the API's status
//! reads and the scheduler's chore may both do it, any number of times, and a crash at any
//! point leaves it to be done again.
//!
//! A version id is reserved (`SET NX`, [`Store::reserve_version`]) before any of its files is
//! written: by a run when it is created (its version id is fixed then), by a bundle import
//! before it stores the bundle's files. Only the holder writes files under that id, so an
//! import can never take over a queued or running report's version, and a run executed again
//! after a crash still holds its own.

use redis::AsyncCommands;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{Store, StoreResult};
use crate::engine::model::RunStatus;
use crate::error::StoreError;
use crate::reports::changelog::VersionChanges;
use crate::reports::ids::run_key;
use crate::reports::version::{VersionRecord, VersionSummary};
use crate::scripts;
use crate::time::now_ms;

/// Active entries older than this whose run does not exist are dropped (the creator died
/// between reserving the key and creating the run).
const ORPHAN_GRACE_MS: u64 = 60_000;
/// Attempts at an unused key before a longer one (more adjectives) is tried.
const KEY_ATTEMPTS: usize = 8;
/// How long a key stays reserved before its run is finalized (beyond the retention period).
const RESERVATION_SECS: u64 = 7 * 24 * 3600;
/// How long an import holds its version id while it stores the bundle's files; once the
/// version's record is written, the record itself keeps the id taken.
const IMPORT_RESERVATION_SECS: u64 = 24 * 3600;

/// The field of a version's hash holding its [`VersionSummary`]. Summaries stored before
/// they held the version's commit (in the field `summary`) are not read: such a version's
/// summary is made from its record.
const SUMMARY_FIELD: &str = "listing";

/// Who reserved a version id: the run that produces it, or one bundle import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionOwner(String);

impl VersionOwner {
    /// The run `run_id`: every execution of it, a re-execution after a crash included.
    pub fn run(run_id: &str) -> Self {
        Self(format!("run:{run_id}"))
    }

    /// One bundle import, unlike any other.
    pub fn import() -> Self {
        Self(format!("import:{}", uuid::Uuid::new_v4().simple()))
    }

    /// The owner as the reservation stores it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn is_import(&self) -> bool {
        self.0.starts_with("import:")
    }
}

/// A report run as its key names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRun {
    /// Its key (`adjective_animal`).
    pub key: String,
    /// The Baton run executing it.
    pub run_id: String,
    /// The report.
    pub name: String,
    /// The version it produces when it succeeds.
    pub version: String,
    /// Creation time (Unix ms).
    pub created_ms: u64,
    /// The id of the key (or user) that started it; `None` for runs recorded before it was
    /// kept, whose details only reviewers see.
    #[serde(default)]
    pub by: Option<String>,
}

/// A report run with the current status of its run (`None`: the run does not exist).
#[derive(Debug, Clone, PartialEq)]
pub struct ReportRunState {
    /// The run.
    pub run: ReportRun,
    /// Its status.
    pub status: Option<RunStatus>,
}

/// Which versions of a report a listing reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Versions {
    /// Every version (for reviewers).
    All,
    /// The published ones only.
    Published,
}

/// A version as lists show it: its summary and whether it is published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedVersion {
    /// What lists show of it.
    pub summary: VersionSummary,
    /// Whether readers without `reports.review` may see it.
    pub published: bool,
}

/// What a changelog needs of a version, and whether it is published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedChanges {
    /// Its id and changelog entries.
    pub changes: VersionChanges,
    /// Whether readers without `reports.review` may see it.
    pub published: bool,
}

/// A version as stored: its record and whether it is published.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredVersion {
    /// What the run produced.
    pub record: VersionRecord,
    /// Whether readers without `reports.review` may see it.
    pub published: bool,
}

fn corrupt(what: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {error}"))
}

/// A candidate key for the `attempt`-th try: `adjective_animal`, then with more adjectives.
fn candidate_key(attempt: usize) -> String {
    let mut key = run_key();
    for _ in 0..attempt / KEY_ATTEMPTS {
        let extra = run_key();
        let adjective = extra.split('_').next().unwrap_or("other");
        key = format!("{adjective}_{key}");
    }
    key
}

impl Store {
    /// Reserves `version` for run `run_id` ([`Store::reserve_version`]), then an unused key
    /// for that new run of report `name`, started by `by`, and marks it active. Call before
    /// creating the run. `None` when the version id is taken (by another run or an import):
    /// pick another id.
    pub async fn reserve_report_run(
        &self,
        name: &str,
        run_id: &str,
        version: &str,
        by: &str,
    ) -> StoreResult<Option<ReportRun>> {
        if !self
            .reserve_version(version, &VersionOwner::run(run_id))
            .await?
        {
            return Ok(None);
        }
        let mut conn = self.conn().await?;
        for attempt in 0..KEY_ATTEMPTS * 4 {
            let run = ReportRun {
                key: candidate_key(attempt),
                run_id: run_id.to_owned(),
                name: name.to_owned(),
                version: version.to_owned(),
                created_ms: now_ms(),
                by: Some(by.to_owned()),
            };
            let json = serde_json::to_string(&run).map_err(|e| corrupt("report run", e))?;
            // Kept until the run is finalized, then for the retention period; the long first
            // expiry only bounds a reservation whose creator died before creating the run.
            let reserved: Option<String> = redis::cmd("SET")
                .arg(self.keys.report_run(&run.key))
                .arg(&json)
                .arg("NX")
                .arg("EX")
                .arg(self.retention_secs + RESERVATION_SECS)
                .query_async(&mut conn)
                .await?;
            if reserved.is_some() {
                let _: () = conn
                    .zadd(self.keys.report_runs_active(), &run.key, run.created_ms)
                    .await?;
                return Ok(Some(run));
            }
        }
        Err(StoreError::Corrupt(
            "no unused report run key found; too many runs are kept".into(),
        ))
    }

    /// Reserves version id `id` for `owner` (`SET NX`), before any of its files is written.
    /// True when `owner` holds it: reserved now, or already held by that same owner (a run
    /// executed again after a crash). False when someone else holds it, or when a version
    /// with that id is already recorded.
    pub async fn reserve_version(&self, id: &str, owner: &VersionOwner) -> StoreResult<bool> {
        let ttl = if owner.is_import() {
            IMPORT_RESERVATION_SECS
        } else {
            self.retention_secs + RESERVATION_SECS
        };
        let key = self.keys.report_version_reservation(id);
        let mut conn = self.conn().await?;
        let reserved: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg(owner.as_str())
            .arg("NX")
            .arg("EX")
            .arg(ttl)
            .query_async(&mut conn)
            .await?;
        if reserved.is_none() {
            let holder: Option<String> = conn.get(&key).await?;
            return Ok(holder.as_deref() == Some(owner.as_str()));
        }
        // A version recorded whose reservation has expired (or that was recorded before
        // reservations existed) keeps its id all the same.
        let recorded: bool = conn.exists(self.keys.report_version(id)).await?;
        if recorded {
            self.release_version(id, owner).await?;
            return Ok(false);
        }
        Ok(true)
    }

    /// Gives up `owner`'s reservation of version id `id` (an import that failed before its
    /// version was recorded); nothing happens when someone else holds it.
    pub async fn release_version(&self, id: &str, owner: &VersionOwner) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        scripts::RELEASE_LEASE
            .key(self.keys.report_version_reservation(id))
            .arg(owner.as_str())
            .invoke_async::<i64>(&mut conn)
            .await?;
        Ok(())
    }

    /// The report run a key names.
    pub async fn report_run(&self, key: &str) -> StoreResult<Option<ReportRun>> {
        let mut conn = self.conn().await?;
        let json: Option<String> = conn.get(self.keys.report_run(key)).await?;
        json.map(|json| serde_json::from_str(&json).map_err(|e| corrupt("report run", e)))
            .transpose()
    }

    /// Runs not yet finalized (queued or running, or finished moments ago), oldest first, with
    /// their runs' statuses.
    pub async fn active_report_runs(&self, limit: usize) -> StoreResult<Vec<ReportRunState>> {
        let mut conn = self.conn().await?;
        let keys: Vec<String> = conn
            .zrange(self.keys.report_runs_active(), 0, limit.max(1) as isize - 1)
            .await?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for key in &keys {
            pipe.get(self.keys.report_run(key));
        }
        let entries: Vec<Option<String>> = pipe.query_async(&mut conn).await?;
        let runs: Vec<ReportRun> = entries
            .into_iter()
            .flatten()
            .filter_map(|json| serde_json::from_str(&json).ok())
            .collect();
        let ids: Vec<String> = runs.iter().map(|run| run.run_id.clone()).collect();
        let statuses = self.run_statuses(&ids).await?;
        Ok(runs
            .into_iter()
            .zip(statuses)
            .map(|(run, status)| ReportRunState { run, status })
            .collect())
    }

    /// Finalizes a report run whose run has finished: a success becomes its version (once;
    /// repeating is harmless), any end leaves the active set and lets the key expire with the
    /// retention period. A run that never started is given up once `now_ms` is past its grace
    /// period. Returns the run's status (`None` when the run does not exist).
    pub async fn finalize_report_run(
        &self,
        run: &ReportRun,
        now_ms: u64,
    ) -> StoreResult<Option<RunStatus>> {
        let mut conn = self.conn().await?;
        // One round trip tells the status and whether anything is left to do: a run already
        // finalized (every status read after its end) costs nothing more.
        let ((status, result), active): ((Option<String>, Option<String>), Option<f64>) =
            redis::pipe()
                .cmd("HMGET")
                .arg(self.keys.run(&run.run_id))
                .arg("status")
                .arg("t0.result")
                .zscore(self.keys.report_runs_active(), &run.key)
                .query_async(&mut conn)
                .await?;
        let status = status.map(|text| text.parse::<RunStatus>()).transpose()?;
        if active.is_none() {
            return Ok(status);
        }
        let mut pipe = redis::pipe();
        pipe.atomic();
        match status {
            Some(RunStatus::Success) => {
                let json = result.unwrap_or_default();
                let record: VersionRecord = serde_json::from_str(&json)
                    .map_err(|e| corrupt(&format!("version of report run {}", run.key), e))?;
                self.push_insert_version(&mut pipe, &record, &json);
            }
            Some(RunStatus::Error | RunStatus::Canceled) => {}
            None if now_ms.saturating_sub(run.created_ms) > ORPHAN_GRACE_MS => {}
            _ => return Ok(status),
        }
        // The version and the end of the run's activity, in one transaction. The version's
        // record now keeps its id taken; a failed run's id is kept as long as the run.
        pipe.zrem(self.keys.report_runs_active(), &run.key)
            .expire(self.keys.report_run(&run.key), self.retention_secs as i64)
            .expire(
                self.keys.report_version_reservation(&run.version),
                self.retention_secs as i64,
            );
        pipe.query_async::<redis::Value>(&mut conn).await?;
        Ok(status)
    }

    /// Finalizes every active report run that has finished as of `now_ms` (the scheduler's
    /// chore); returns how many were finalized.
    pub async fn finalize_report_runs(&self, limit: usize, now_ms: u64) -> StoreResult<usize> {
        let mut finalized = 0;
        for state in self.active_report_runs(limit).await? {
            let finished = state.status.is_none_or(RunStatus::is_finished);
            if finished
                && self
                    .finalize_report_run(&state.run, now_ms)
                    .await?
                    .is_some()
            {
                finalized += 1;
            }
        }
        Ok(finalized)
    }

    /// Records a version, unpublished; returns false when it already existed (then nothing
    /// changes, the published flag included).
    pub async fn insert_version(&self, record: &VersionRecord) -> StoreResult<bool> {
        let json = serde_json::to_string(record).map_err(|e| corrupt("version", e))?;
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        self.push_insert_version(&mut pipe, record, &json);
        let (created, ..): (bool, bool, bool, bool, bool, bool, bool, bool) =
            pipe.query_async(&mut conn).await?;
        Ok(created)
    }

    /// Adds the writes of a new version (`json` is its record) to `pipe`; the first reply says
    /// whether it was new. Nothing changes when it exists, the published flag included.
    fn push_insert_version(&self, pipe: &mut redis::Pipeline, record: &VersionRecord, json: &str) {
        let key = self.keys.report_version(&record.id);
        let summary = serde_json::to_string(&VersionSummary::from(record)).unwrap_or_default();
        let changelog = serde_json::to_string(&record.changelog).unwrap_or_default();
        pipe.hset_nx(&key, "record", json)
            .hset_nx(&key, SUMMARY_FIELD, summary)
            .hset_nx(&key, "changelog", changelog)
            .hset_nx(&key, "name", &record.name)
            .hset_nx(&key, "published", "0")
            .zadd(self.keys.report_versions(&record.name), &record.id, 0)
            .zadd(self.keys.all_report_versions(), &record.id, 0)
            .zadd(self.keys.report_names(), &record.name, 0);
    }

    /// One version, if it exists.
    pub async fn version(&self, id: &str) -> StoreResult<Option<StoredVersion>> {
        Ok(self.versions(&[id.to_owned()]).await?.pop().flatten())
    }

    /// Versions by id, in the order asked (`None` for unknown ids).
    pub async fn versions(&self, ids: &[String]) -> StoreResult<Vec<Option<StoredVersion>>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.cmd("HMGET")
                .arg(self.keys.report_version(id))
                .arg("record")
                .arg("published");
        }
        let rows: Vec<(Option<String>, Option<String>)> = pipe.query_async(&mut conn).await?;
        rows.into_iter()
            .map(|(record, published)| {
                record
                    .map(|json| {
                        Ok(StoredVersion {
                            record: serde_json::from_str(&json)
                                .map_err(|e| corrupt("version", e))?,
                            published: published.as_deref() == Some("1"),
                        })
                    })
                    .transpose()
            })
            .collect()
    }

    /// Versions by id as lists show them, in the order asked (`None` for unknown ids): one
    /// `HMGET` of the summary and the flag each.
    pub async fn version_summaries(
        &self,
        ids: &[String],
    ) -> StoreResult<Vec<Option<ListedVersion>>> {
        let found = self
            .version_fields(ids, SUMMARY_FIELD, |record| VersionSummary::from(record))
            .await?;
        Ok(found
            .into_iter()
            .map(|found| found.map(|(summary, published)| ListedVersion { summary, published }))
            .collect())
    }

    /// What the changelog of report `name` needs of each of its versions, oldest first: one
    /// `HMGET` of the entries and the flag each.
    pub async fn report_changes(&self, name: &str) -> StoreResult<Vec<ListedChanges>> {
        let ids = self.report_version_ids(name, Versions::All).await?;
        let found = self
            .version_fields(&ids, "changelog", |record| record.changelog.clone())
            .await?;
        Ok(ids
            .into_iter()
            .zip(found)
            .filter_map(|(id, found)| {
                found.map(|(entries, published)| ListedChanges {
                    changes: VersionChanges { id, entries },
                    published,
                })
            })
            .collect())
    }

    /// One JSON `field` of versions by id with each one's published flag, in the order asked
    /// (`None` for unknown ids): an `HMGET` each, in one round trip. A version stored before
    /// that field was has it made from its record by `from_record`.
    async fn version_fields<T: DeserializeOwned>(
        &self,
        ids: &[String],
        field: &str,
        from_record: fn(&VersionRecord) -> T,
    ) -> StoreResult<Vec<Option<(T, bool)>>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.cmd("HMGET")
                .arg(self.keys.report_version(id))
                .arg(field)
                .arg("published");
        }
        let rows: Vec<(Option<String>, Option<String>)> = pipe.query_async(&mut conn).await?;
        let without_field: Vec<String> = ids
            .iter()
            .zip(&rows)
            .filter(|(_, (value, published))| value.is_none() && published.is_some())
            .map(|(id, _)| id.clone())
            .collect();
        let mut older = self.versions(&without_field).await?.into_iter();
        rows.into_iter()
            .map(|(value, published)| match value {
                Some(json) => Ok(Some((
                    serde_json::from_str(&json).map_err(|e| corrupt(field, e))?,
                    published.as_deref() == Some("1"),
                ))),
                None => Ok(older
                    .next()
                    .flatten()
                    .map(|version| (from_record(&version.record), version.published))),
            })
            .collect()
    }

    /// Version ids of one report, oldest first: every one, or the published ones.
    pub async fn report_version_ids(
        &self,
        name: &str,
        which: Versions,
    ) -> StoreResult<Vec<String>> {
        let mut conn = self.conn().await?;
        Ok(conn.zrange(self.versions_key(name, which), 0, -1).await?)
    }

    /// Every version of one report as lists show them, oldest first.
    pub async fn report_summaries(&self, name: &str) -> StoreResult<Vec<ListedVersion>> {
        self.summaries_in(self.keys.report_versions(name)).await
    }

    /// The versions of the index `index` (sorted by id) as lists show them, oldest first.
    async fn summaries_in(&self, index: String) -> StoreResult<Vec<ListedVersion>> {
        let mut conn = self.conn().await?;
        let ids: Vec<String> = conn.zrange(index, 0, -1).await?;
        Ok(self
            .version_summaries(&ids)
            .await?
            .into_iter()
            .flatten()
            .collect())
    }

    /// True when report `name` has any version, published or not.
    pub async fn has_versions(&self, name: &str) -> StoreResult<bool> {
        let mut conn = self.conn().await?;
        let count: usize = conn.zcard(self.keys.report_versions(name)).await?;
        Ok(count > 0)
    }

    /// The latest version of each report asked (of every version, or of the published ones),
    /// in the order asked; reads one summary per report.
    pub async fn latest_versions(
        &self,
        wanted: &[(&str, Versions)],
    ) -> StoreResult<Vec<Option<ListedVersion>>> {
        let mut pipe = redis::pipe();
        for (name, which) in wanted {
            pipe.zrange(self.versions_key(name, *which), -1, -1);
        }
        let mut conn = self.conn().await?;
        let latest: Vec<Vec<String>> = self.query_pipeline(&mut conn, &pipe).await?;
        let ids: Vec<String> = latest
            .into_iter()
            .map(|mut ids| ids.pop().unwrap_or_default())
            .collect();
        let found = self.version_summaries(&ids).await?;
        Ok(ids
            .iter()
            .zip(found)
            .map(|(id, version)| version.filter(|_| !id.is_empty()))
            .collect())
    }

    fn versions_key(&self, name: &str, which: Versions) -> String {
        match which {
            Versions::All => self.keys.report_versions(name),
            Versions::Published => self.keys.report_published(name),
        }
    }

    /// Every version of every report, oldest first.
    pub async fn all_versions(&self) -> StoreResult<Vec<ListedVersion>> {
        self.summaries_in(self.keys.all_report_versions()).await
    }

    /// Names of the reports that have versions, sorted.
    pub async fn reports_with_versions(&self) -> StoreResult<Vec<String>> {
        let mut conn = self.conn().await?;
        Ok(conn.zrange(self.keys.report_names(), 0, -1).await?)
    }

    /// Sets a version's published flag (and its report's index of published versions); false
    /// when the version does not exist. Repeating it changes nothing.
    pub async fn set_published(&self, id: &str, published: bool) -> StoreResult<bool> {
        let mut conn = self.conn().await?;
        let key = self.keys.report_version(id);
        let name: Option<String> = conn.hget(&key, "name").await?;
        let Some(name) = name else {
            return Ok(false);
        };
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset(&key, "published", if published { "1" } else { "0" })
            .ignore();
        if published {
            pipe.zadd(self.keys.report_published(&name), id, 0).ignore();
        } else {
            pipe.zrem(self.keys.report_published(&name), id).ignore();
        }
        self.query_pipeline::<()>(&mut conn, &pipe).await?;
        Ok(true)
    }
}

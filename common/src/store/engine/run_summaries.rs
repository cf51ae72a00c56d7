//! Runs as lists show them: a run's status and times, read from the one field of its hash
//! that holds a copy of them (`listed`), with its fixed facts (definition, kind,
//! payload, periodic flag) read once per process and kept in memory. A page of runs is one
//! pipelined round trip of one `HGET` per run: a list shows none of the tasks' fields, nor
//! the run's queue or priority, and each value Redis answers costs the reader far more to
//! decode than its bytes do, so one value per run rather than four. Those values are kept
//! while Redis tracks their keys ([`crate::store::tracked_cache`]), so a run listed again
//! and unchanged since is not read at all: the page's round trip is then one `PING`.
//!
//! Runs stored before the copy existed have none; they are read from their own fields.

use std::sync::Arc;

use redis::Value;
use serde_json::value::RawValue;

use super::run_facts::FixedFacts;
use super::runs::{latest_time, stored_kind};
use crate::engine::model::{RunKind, RunStatus};
use crate::store::tracked_cache::{Ticket, TrackingConnection};
use crate::store::{Store, StoreError, StoreResult};

/// The run-hash field holding the copy of the run's status and times a list reads:
/// `"{status} {updated} {created} {finished}"`, times in Unix ms, `updated` empty until the
/// run first changes (it was updated when created), `finished` empty until it finishes.
/// Written at creation and, in the same `HSET` as the fields it copies, by every script that
/// changes a run's status (start, finish, fail, cancel, requeue).
pub(crate) const LISTED_FIELD: &str = "listed";

/// The fields that never change, read with [`LISTED_FIELD`] of a run this process does not know.
const FIXED_FIELDS: [&str; 4] = ["definition", "kind", "payload", "periodic"];

/// The fields of a run stored without [`LISTED_FIELD`]: those it copies, in its order, then
/// [`FIXED_FIELDS`]. `status`, which every stored run has, tells that it exists.
const UNLISTED_FIELDS: [&str; 8] = [
    "status",
    "updated",
    "created",
    "finished",
    "definition",
    "kind",
    "payload",
    "periodic",
];

/// [`LISTED_FIELD`] of a run created at `now_ms`.
pub(crate) fn listed_at_creation(now_ms: u64) -> String {
    format!("{}  {now_ms} ", RunStatus::Pending.as_str())
}

/// A run's status and times, as [`LISTED_FIELD`] holds them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Listed {
    status: RunStatus,
    updated_ms: u64,
    created_ms: u64,
    finished_ms: Option<u64>,
}

impl Listed {
    /// Parses [`LISTED_FIELD`] of run `id`.
    fn parse(id: &str, text: &[u8]) -> StoreResult<Self> {
        let corrupt = || StoreError::Corrupt(format!("run {id}: '{LISTED_FIELD}' malformed"));
        let text = std::str::from_utf8(text).map_err(|_| corrupt())?;
        let mut parts = text.splitn(4, ' ');
        let mut next = || parts.next().ok_or_else(corrupt);
        let status = next()?.parse()?;
        let (updated, created, finished) = (next()?, next()?, next()?);
        let created_ms = created.parse().unwrap_or(0);
        Ok(Self {
            status,
            updated_ms: updated.parse().unwrap_or(created_ms),
            created_ms,
            finished_ms: finished.parse().ok(),
        })
    }

    /// Reads run `id`'s status and times from its own fields (the first four of
    /// [`UNLISTED_FIELDS`]); `None` when it has no status (it does not exist).
    fn from_fields(id: &str, fields: &[Value]) -> StoreResult<Option<Self>> {
        let Some(status) = bulk(&fields[0]) else {
            return Ok(None);
        };
        let status = std::str::from_utf8(status)
            .map_err(|_| StoreError::Corrupt(format!("run {id}: 'status' is not text")))?
            .parse()?;
        let created_ms = bulk(&fields[2]).and_then(number).unwrap_or(0);
        let finished_ms = bulk(&fields[3]).and_then(number);
        Ok(Some(Self {
            status,
            updated_ms: latest_time(
                bulk(&fields[1]).and_then(number),
                created_ms,
                &[finished_ms],
            ),
            created_ms,
            finished_ms,
        }))
    }
}

/// A run as a list shows it: its run-level fields without its tasks, queue or priority.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// Run id.
    pub id: String,
    /// Definition it was made from.
    pub definition: String,
    /// The front it belongs to.
    pub kind: RunKind,
    /// Current status.
    pub status: RunStatus,
    /// Creation time (Unix ms).
    pub created_ms: u64,
    /// Last change (Unix ms).
    pub updated_ms: u64,
    /// When it finished (Unix ms), once it has.
    pub finished_ms: Option<u64>,
    /// The payload every task receives, as the JSON text it is stored as (`null` when the
    /// stored text is not JSON), so that a list can pass it on without parsing it.
    pub payload: Box<RawValue>,
    /// True when fired by the scheduler from a periodic definition.
    pub periodic: bool,
}

impl PartialEq for RunSummary {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
            && self.definition == other.definition
            && self.kind == other.kind
            && self.status == other.status
            && self.created_ms == other.created_ms
            && self.updated_ms == other.updated_ms
            && self.finished_ms == other.finished_ms
            && self.payload.get() == other.payload.get()
            && self.periodic == other.periodic
    }
}

impl RunSummary {
    /// The payload parsed.
    pub fn payload_value(&self) -> serde_json::Value {
        serde_json::from_str(self.payload.get()).unwrap_or(serde_json::Value::Null)
    }

    /// The summary of run `id` from its status and times and its fixed facts.
    fn new(id: &str, listed: Listed, facts: &FixedFacts) -> Self {
        Self {
            id: id.to_owned(),
            definition: facts.definition.clone(),
            kind: facts.kind,
            status: listed.status,
            created_ms: facts.created_ms,
            updated_ms: listed.updated_ms,
            finished_ms: listed.finished_ms,
            payload: facts.payload.clone(),
            periodic: facts.periodic,
        }
    }
}

/// The fixed facts of run `id` from the values of [`FIXED_FIELDS`], in order.
fn fixed_facts(id: &str, created_ms: u64, fixed: &mut [Value]) -> StoreResult<FixedFacts> {
    let text = |value: &mut Value| match std::mem::replace(value, Value::Nil) {
        Value::BulkString(bytes) => String::from_utf8(bytes).ok(),
        Value::SimpleString(text) => Some(text),
        _ => None,
    };
    let definition = text(&mut fixed[0])
        .ok_or_else(|| StoreError::Corrupt(format!("run {id} without 'definition'")))?;
    Ok(FixedFacts {
        kind: stored_kind(text(&mut fixed[1]).as_deref(), &definition)?,
        definition,
        created_ms,
        payload: text(&mut fixed[2])
            .and_then(|text| RawValue::from_string(text).ok())
            .unwrap_or_else(null_payload),
        periodic: bulk(&fixed[3]) == Some(b"1"),
    })
}

/// The bytes of a value Redis answered as a string; `None` for nil (or anything else).
fn bulk(value: &Value) -> Option<&[u8]> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(text) => Some(text.as_bytes()),
        _ => None,
    }
}

/// A stored number; `None` when absent or not one.
fn number(text: &[u8]) -> Option<u64> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// The payload of a run stored without one, or with one that is not JSON.
fn null_payload() -> Box<RawValue> {
    RawValue::from_string("null".to_owned()).expect("null is JSON")
}

impl Store {
    /// The runs of `run_ids` as lists show them, in order, in one round trip, skipping those
    /// that no longer exist. Of a run whose fixed facts this process keeps in memory (its
    /// run facts cache) only its `listed` field is read. A run found made again under the same
    /// id, or stored without that field, is read again from its own fields (a second round
    /// trip, for those only).
    pub async fn get_run_summaries(&self, run_ids: &[String]) -> StoreResult<Vec<RunSummary>> {
        if run_ids.is_empty() {
            return Ok(Vec::new());
        }
        let known: Vec<Option<Arc<FixedFacts>>> =
            run_ids.iter().map(|id| self.run_facts.get(id)).collect();
        let mut slots = self.read_listed(run_ids, &known).await?;
        let again: Vec<usize> = slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| matches!(slot, Slot::ReadAgain))
            .map(|(index, _)| index)
            .collect();
        if !again.is_empty() {
            let ids: Vec<String> = again.iter().map(|&index| run_ids[index].clone()).collect();
            for (index, slot) in again.into_iter().zip(self.read_unlisted(&ids).await?) {
                slots[index] = slot;
            }
        }
        Ok(slots
            .into_iter()
            .filter_map(|slot| match slot {
                Slot::Found(summary) => Some(summary),
                Slot::Gone | Slot::ReadAgain => None,
            })
            .collect())
    }

    /// One pipelined read of the summaries of `run_ids`: [`LISTED_FIELD`] of those whose
    /// facts are `known`, with [`FIXED_FIELDS`] of the others (whose facts are then kept).
    /// Through the tracking connection, when there is one, so that the values read are kept
    /// and a run listed again is not read.
    async fn read_listed(
        &self,
        run_ids: &[String],
        known: &[Option<Arc<FixedFacts>>],
    ) -> StoreResult<Vec<Slot>> {
        if let Some(tracking) = self.listed.connection().await {
            match self.read_listed_tracked(&tracking, run_ids, known).await {
                Ok(slots) => return Ok(slots),
                Err(StoreError::Redis(error)) => {
                    tracing::debug!(%error, "the tracking connection failed: lists read runs without it");
                    self.listed.failed(&tracking);
                }
                Err(other) => return Err(other),
            }
        }
        self.read_listed_untracked(run_ids, known).await
    }

    /// [`Self::read_listed`] through the shared connection, keeping nothing.
    async fn read_listed_untracked(
        &self,
        run_ids: &[String],
        known: &[Option<Arc<FixedFacts>>],
    ) -> StoreResult<Vec<Slot>> {
        let mut pipe = redis::pipe();
        for (id, facts) in run_ids.iter().zip(known) {
            self.read_summary(&mut pipe, &self.keys.run(id), facts.is_some());
        }
        let mut conn = self.conn().await?;
        let answers: Vec<Value> = pipe.query_async(&mut conn).await?;
        run_ids
            .iter()
            .zip(known)
            .zip(answers)
            .map(|((id, facts), answer)| Ok(self.slot_of(id, facts.as_deref(), answer)?.0))
            .collect()
    }

    /// [`Self::read_listed`] through the tracking connection `tracking`: the runs whose
    /// values are kept are not read, but only looked at once the round trip of the others
    /// (or a `PING`) is back, when every change made before it has removed its run's value;
    /// those removed meanwhile are read again through the shared connection.
    async fn read_listed_tracked(
        &self,
        tracking: &TrackingConnection,
        run_ids: &[String],
        known: &[Option<Arc<FixedFacts>>],
    ) -> StoreResult<Vec<Slot>> {
        let keys: Vec<String> = run_ids.iter().map(|id| self.keys.run(id)).collect();
        let mut pipe = redis::pipe();
        let tickets: Vec<Option<Ticket>> = keys
            .iter()
            .zip(known)
            .map(|(key, facts)| {
                if facts.is_some() && self.listed.get(key).is_some() {
                    return None;
                }
                let ticket = self.listed.ticket(key);
                self.read_summary(&mut pipe, key, facts.is_some());
                Some(ticket)
            })
            .collect();
        let reads = pipe.len();
        if reads == 0 {
            pipe.cmd("PING");
        }
        let mut answers: Vec<Value> = pipe.query_async(&mut tracking.connection.clone()).await?;
        if reads == 0 {
            answers.clear();
        }
        let mut answers = answers.into_iter();
        let mut slots = Vec::with_capacity(run_ids.len());
        let mut unkept = Vec::new();
        for (index, ((id, facts), ticket)) in run_ids.iter().zip(known).zip(tickets).enumerate() {
            let Some(ticket) = ticket else {
                match (facts, self.listed.get(&keys[index])) {
                    (Some(facts), Some(listed)) if listed.created_ms == facts.created_ms => {
                        slots.push(Slot::Found(RunSummary::new(id, listed, facts)));
                    }
                    _ => {
                        unkept.push(index);
                        slots.push(Slot::ReadAgain);
                    }
                }
                continue;
            };
            let answer = answers.next().ok_or_else(|| {
                StoreError::Corrupt(format!("no summary of run {id} in the reply"))
            })?;
            let (slot, listed) = self.slot_of(id, facts.as_deref(), answer)?;
            if let Some(listed) = listed {
                self.listed.keep(&keys[index], ticket, listed);
            }
            slots.push(slot);
        }
        if !unkept.is_empty() {
            let ids: Vec<String> = unkept.iter().map(|&index| run_ids[index].clone()).collect();
            let facts: Vec<_> = unkept.iter().map(|&index| known[index].clone()).collect();
            for (index, slot) in unkept
                .into_iter()
                .zip(self.read_listed_untracked(&ids, &facts).await?)
            {
                slots[index] = slot;
            }
        }
        Ok(slots)
    }

    /// Adds to `pipe` the read of the summary of the run at `key`: [`LISTED_FIELD`] alone
    /// when its facts are `known`, else with [`FIXED_FIELDS`].
    fn read_summary(&self, pipe: &mut redis::Pipeline, key: &str, known: bool) {
        if known {
            pipe.cmd("HGET").arg(key).arg(LISTED_FIELD);
        } else {
            pipe.cmd("HMGET")
                .arg(key)
                .arg(LISTED_FIELD)
                .arg(&FIXED_FIELDS);
        }
    }

    /// What `answer`, the reply to [`Self::read_summary`] of run `id` whose facts are `facts`
    /// when known, found; with its status and times when they are to be kept.
    fn slot_of(
        &self,
        id: &str,
        facts: Option<&FixedFacts>,
        answer: Value,
    ) -> StoreResult<(Slot, Option<Listed>)> {
        Ok(match (facts, answer) {
            (Some(_), Value::Nil) => {
                // Gone, or stored without the field: its own fields tell.
                self.run_facts.forget(id);
                (Slot::ReadAgain, None)
            }
            (Some(facts), answer) => {
                let listed = Listed::parse(id, bulk(&answer).unwrap_or_default())?;
                if listed.created_ms == facts.created_ms {
                    (
                        Slot::Found(RunSummary::new(id, listed, facts)),
                        Some(listed),
                    )
                } else {
                    self.run_facts.forget(id);
                    (Slot::ReadAgain, None)
                }
            }
            (None, Value::Array(mut values)) if values.len() == 1 + FIXED_FIELDS.len() => {
                match bulk(&values[0]) {
                    None => (Slot::ReadAgain, None),
                    Some(listed) => {
                        let listed = Listed::parse(id, listed)?;
                        (self.found(id, listed, &mut values[1..])?, Some(listed))
                    }
                }
            }
            (None, answer) => {
                return Err(StoreError::Corrupt(format!(
                    "summary of run {id} answered as {answer:?}"
                )));
            }
        })
    }

    /// The summaries of `run_ids` read from their own fields ([`UNLISTED_FIELDS`]), their
    /// facts kept: for runs stored without [`LISTED_FIELD`] and runs made again.
    async fn read_unlisted(&self, run_ids: &[String]) -> StoreResult<Vec<Slot>> {
        let mut pipe = redis::pipe();
        for id in run_ids {
            pipe.cmd("HMGET")
                .arg(self.keys.run(id))
                .arg(&UNLISTED_FIELDS);
        }
        let mut conn = self.conn().await?;
        let answers: Vec<Vec<Value>> = pipe.query_async(&mut conn).await?;
        let mut slots = Vec::with_capacity(run_ids.len());
        for (id, mut values) in run_ids.iter().zip(answers) {
            if values.len() != UNLISTED_FIELDS.len() {
                return Err(StoreError::Corrupt(format!(
                    "{} summary fields of run {id}",
                    values.len()
                )));
            }
            let slot = match Listed::from_fields(id, &values)? {
                None => {
                    self.run_facts.forget(id);
                    Slot::Gone
                }
                Some(listed) => self.found(id, listed, &mut values[4..])?,
            };
            slots.push(slot);
        }
        Ok(slots)
    }

    /// Run `id` found with `listed` and the values of its [`FIXED_FIELDS`], its facts kept.
    fn found(&self, id: &str, listed: Listed, fixed: &mut [Value]) -> StoreResult<Slot> {
        let facts = Arc::new(fixed_facts(id, listed.created_ms, fixed)?);
        self.run_facts.insert(id, Arc::clone(&facts));
        Ok(Slot::Found(RunSummary::new(id, listed, &facts)))
    }
}

/// What one read found of a run.
enum Slot {
    /// The run, summarised.
    Found(RunSummary),
    /// No such run (any more).
    Gone,
    /// To be read from its own fields: made again under an id whose earlier run's facts were
    /// known, stored without [`LISTED_FIELD`], or gone (which that read tells).
    ReadAgain,
}

//! Runs as lists show them: the few run-level fields of each run's hash a list shows, read
//! with one `HMGET` per run in one pipelined round trip and decoded by position, without the
//! tasks' fields (a run hash holds a dozen run fields and several per task; a list shows none
//! of the tasks', nor the run's queue or priority).

use std::sync::Arc;

use serde_json::value::RawValue;

use super::run_facts::FixedFacts;
use super::runs::stored_kind;
use crate::engine::model::{RunKind, RunStatus};
use crate::store::{Store, StoreError, StoreResult};

/// The fields a listed run is read with: first those that change (which alone are read of a
/// run whose fixed facts this process knows, `created` telling it is the same run), then the
/// fixed ones. The run's id is the key's; `status`, which every stored run has, tells that
/// it exists.
const SUMMARY_FIELDS: [&str; 8] = [
    "status",
    "updated",
    "finished",
    "created",
    "definition",
    "kind",
    "payload",
    "periodic",
];

/// How many of [`SUMMARY_FIELDS`] are read of a run whose fixed facts are known.
const CHANGING_FIELDS: usize = 4;

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

    /// A summary of run `id` from its changing fields (the first [`CHANGING_FIELDS`] of
    /// [`SUMMARY_FIELDS`], in that order) and its fixed facts.
    fn new(id: &str, changing: &mut [Option<String>], facts: &FixedFacts) -> StoreResult<Self> {
        let status = changing[0]
            .as_deref()
            .ok_or_else(|| StoreError::Corrupt(format!("run {id} without 'status'")))?
            .parse()?;
        Ok(Self {
            id: id.to_owned(),
            definition: facts.definition.clone(),
            kind: facts.kind,
            status,
            created_ms: facts.created_ms,
            updated_ms: number(changing[1].take()).unwrap_or(0),
            finished_ms: number(changing[2].take()),
            payload: facts.payload.clone(),
            periodic: facts.periodic,
        })
    }
}

/// The fixed facts of run `id` from the values of [`SUMMARY_FIELDS`] after the changing ones
/// but `created` (`definition`, `kind`, `payload`, `periodic`).
fn fixed_facts(id: &str, created_ms: u64, fixed: &mut [Option<String>]) -> StoreResult<FixedFacts> {
    let definition = fixed[0]
        .take()
        .ok_or_else(|| StoreError::Corrupt(format!("run {id} without 'definition'")))?;
    Ok(FixedFacts {
        kind: stored_kind(fixed[1].as_deref(), &definition)?,
        definition,
        created_ms,
        payload: fixed[2]
            .take()
            .and_then(|text| RawValue::from_string(text).ok())
            .unwrap_or_else(null_payload),
        periodic: fixed[3].as_deref() == Some("1"),
    })
}

/// A stored number; `None` when absent or not one.
fn number(value: Option<String>) -> Option<u64> {
    value.and_then(|text| text.parse::<u64>().ok())
}

/// The payload of a run stored without one, or with one that is not JSON.
fn null_payload() -> Box<RawValue> {
    RawValue::from_string("null".to_owned()).expect("null is JSON")
}

impl Store {
    /// The runs of `run_ids` as lists show them, in order, in one round trip, skipping those
    /// that no longer exist. Of a run whose fixed facts this process keeps in memory (its
    /// run facts cache) only the changing fields are read; a run found made again under
    /// the same id is read again whole (a second round trip, for those only).
    pub async fn get_run_summaries(&self, run_ids: &[String]) -> StoreResult<Vec<RunSummary>> {
        if run_ids.is_empty() {
            return Ok(Vec::new());
        }
        let known: Vec<Option<Arc<FixedFacts>>> =
            run_ids.iter().map(|id| self.run_facts.get(id)).collect();
        let mut slots = self.read_summaries(run_ids, &known).await?;
        let remade: Vec<usize> = slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| matches!(slot, Slot::Remade))
            .map(|(index, _)| index)
            .collect();
        if !remade.is_empty() {
            let ids: Vec<String> = remade.iter().map(|&index| run_ids[index].clone()).collect();
            let unknown = vec![None; ids.len()];
            for (index, slot) in remade
                .into_iter()
                .zip(self.read_summaries(&ids, &unknown).await?)
            {
                slots[index] = slot;
            }
        }
        Ok(slots
            .into_iter()
            .filter_map(|slot| match slot {
                Slot::Found(summary) => Some(summary),
                Slot::Gone | Slot::Remade => None,
            })
            .collect())
    }

    /// One pipelined read of the summaries of `run_ids`: the changing fields of those whose
    /// facts are `known`, every listed field of the others (whose facts are then kept).
    async fn read_summaries(
        &self,
        run_ids: &[String],
        known: &[Option<Arc<FixedFacts>>],
    ) -> StoreResult<Vec<Slot>> {
        let mut pipe = redis::pipe();
        for (id, facts) in run_ids.iter().zip(known) {
            let fields = match facts {
                Some(_) => &SUMMARY_FIELDS[..CHANGING_FIELDS],
                None => &SUMMARY_FIELDS[..],
            };
            pipe.cmd("HMGET").arg(self.keys.run(id)).arg(fields);
        }
        let mut conn = self.conn().await?;
        let all: Vec<Vec<Option<String>>> = pipe.query_async(&mut conn).await?;
        let mut slots = Vec::with_capacity(run_ids.len());
        for ((id, facts), mut values) in run_ids.iter().zip(known).zip(all) {
            let expected = if facts.is_some() {
                CHANGING_FIELDS
            } else {
                SUMMARY_FIELDS.len()
            };
            if values.len() != expected {
                return Err(StoreError::Corrupt(format!(
                    "{} summary fields of run {id}",
                    values.len()
                )));
            }
            if values[0].is_none() {
                self.run_facts.forget(id);
                slots.push(Slot::Gone);
                continue;
            }
            let created_ms = number(values[3].take()).unwrap_or(0);
            let facts = match facts {
                Some(facts) if facts.created_ms == created_ms => Arc::clone(facts),
                Some(_) => {
                    self.run_facts.forget(id);
                    slots.push(Slot::Remade);
                    continue;
                }
                None => {
                    let facts =
                        Arc::new(fixed_facts(id, created_ms, &mut values[CHANGING_FIELDS..])?);
                    self.run_facts.insert(id, Arc::clone(&facts));
                    facts
                }
            };
            slots.push(Slot::Found(RunSummary::new(id, &mut values, &facts)?));
        }
        Ok(slots)
    }
}

/// What one read found of a run.
enum Slot {
    /// The run, summarised.
    Found(RunSummary),
    /// No such run (any more).
    Gone,
    /// A run made again under an id whose earlier run's facts were known: to be read whole.
    Remade,
}

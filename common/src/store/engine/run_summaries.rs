//! Runs as lists show them: the few run-level fields of each run's hash a list shows, read
//! with one `HMGET` per run in one pipelined round trip and decoded by position, without the
//! tasks' fields (a run hash holds a dozen run fields and several per task; a list shows none
//! of the tasks', nor the run's queue or priority).

use serde_json::value::RawValue;

use crate::engine::model::{RunKind, RunStatus};
use crate::store::{Store, StoreError, StoreResult};

use super::runs::stored_kind;

/// The fields a listed run is read with, in the order [`RunSummary::decode`] takes them. The
/// run's id is the key's; `definition`, which every stored run has, tells that it exists.
const SUMMARY_FIELDS: [&str; 8] = [
    "definition",
    "kind",
    "status",
    "created",
    "updated",
    "finished",
    "payload",
    "periodic",
];

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

    /// A summary from the values of [`SUMMARY_FIELDS`] read for run `id`, in that order;
    /// `None` when the run no longer exists (it has no definition).
    fn decode(id: &str, values: Vec<Option<String>>) -> StoreResult<Option<Self>> {
        let [
            definition,
            kind,
            status,
            created,
            updated,
            finished,
            payload,
            periodic,
        ]: [Option<String>; 8] = values.try_into().map_err(|values: Vec<_>| {
            StoreError::Corrupt(format!("{} summary fields of run {id}", values.len()))
        })?;
        let Some(definition) = definition else {
            return Ok(None);
        };
        let number = |value: Option<String>| value.and_then(|text| text.parse::<u64>().ok());
        let status = status
            .ok_or_else(|| StoreError::Corrupt(format!("run {id} without 'status'")))?
            .parse()?;
        Ok(Some(Self {
            id: id.to_owned(),
            kind: stored_kind(kind.as_deref(), &definition)?,
            definition,
            status,
            created_ms: number(created).unwrap_or(0),
            updated_ms: number(updated).unwrap_or(0),
            finished_ms: number(finished),
            payload: payload
                .and_then(|text| RawValue::from_string(text).ok())
                .unwrap_or_else(null_payload),
            periodic: periodic.as_deref() == Some("1"),
        }))
    }
}

/// The payload of a run stored without one, or with one that is not JSON.
fn null_payload() -> Box<RawValue> {
    RawValue::from_string("null".to_owned()).expect("null is JSON")
}

impl Store {
    /// The runs of `run_ids` as lists show them, in order, in one round trip, skipping those
    /// that no longer exist.
    pub async fn get_run_summaries(&self, run_ids: &[String]) -> StoreResult<Vec<RunSummary>> {
        if run_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in run_ids {
            pipe.cmd("HMGET")
                .arg(self.keys.run(id))
                .arg(&SUMMARY_FIELDS[..]);
        }
        let mut conn = self.conn().await?;
        let all: Vec<Vec<Option<String>>> = pipe.query_async(&mut conn).await?;
        let mut summaries = Vec::with_capacity(run_ids.len());
        for (id, values) in run_ids.iter().zip(all) {
            summaries.extend(RunSummary::decode(id, values)?);
        }
        Ok(summaries)
    }
}

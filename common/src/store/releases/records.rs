//! How the Release Coordinator's records ([`crate::releases::records`]) are stored: one hash
//! each, its fields encoded by [`record_fields`], listed by a sorted set of ids by creation
//! time, with an index of ids per value of each indexed field.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::StoreError;
use crate::releases::IdKind;
use crate::releases::records::{Event, Release, ReleaseNote, Study, Task, TaskService};
use crate::store::record_fields::{self, Fields};

/// A record kind: its collection name (in key names), its id kind, and its indexed fields.
pub trait Record: Serialize + DeserializeOwned {
    /// The collection's name in key names (`release` → `P:{rel}:release:ID`, `P:{rel}:releases`).
    const COLLECTION: &'static str;
    /// The kind of its ids.
    const KIND: IdKind;
    /// Its id.
    fn id(&self) -> &str;
    /// Its creation time (Unix ms).
    fn created_ms(&self) -> u64;
    /// Its score in the collection's index: its creation time.
    fn score(&self) -> u64 {
        self.created_ms()
    }
    /// The fields listings filter on, each with an index of the ids by value.
    const INDEXED: &'static [&'static str] = &[];
    /// Its fields, as stored.
    fn to_fields(&self) -> Result<Vec<(String, String)>, StoreError> {
        record_fields::to_fields(self)
    }
    /// Of its stored `fields`, the indexed ones that have a value.
    fn index_entries(fields: &[(String, String)]) -> impl Iterator<Item = &(String, String)> {
        fields
            .iter()
            .filter(|(name, value)| !value.is_empty() && Self::INDEXED.contains(&name.as_str()))
    }
    /// Reads it back from its stored fields.
    fn from_fields(fields: &Fields) -> Result<Self, StoreError> {
        record_fields::from_fields(Self::COLLECTION, fields)
    }
}

impl Record for TaskService {
    const COLLECTION: &'static str = "service";
    const KIND: IdKind = IdKind::TaskService;
    const INDEXED: &'static [&'static str] = &["enabled"];
    fn id(&self) -> &str {
        &self.kf_id
    }
    fn created_ms(&self) -> u64 {
        self.created_ms
    }
}

impl Record for Release {
    const COLLECTION: &'static str = "release";
    const KIND: IdKind = IdKind::Release;
    const INDEXED: &'static [&'static str] = &["state"];
    fn id(&self) -> &str {
        &self.kf_id
    }
    fn created_ms(&self) -> u64 {
        self.created_ms
    }
}

impl Record for Task {
    const COLLECTION: &'static str = "task";
    const INDEXED: &'static [&'static str] = &["release", "task_service", "state"];
    const KIND: IdKind = IdKind::Task;
    fn id(&self) -> &str {
        &self.kf_id
    }
    fn created_ms(&self) -> u64 {
        self.created_ms
    }
}

impl Record for Event {
    const COLLECTION: &'static str = "event";
    const INDEXED: &'static [&'static str] = &["release", "task", "task_service", "study"];
    const KIND: IdKind = IdKind::Event;
    fn id(&self) -> &str {
        &self.kf_id
    }
    fn created_ms(&self) -> u64 {
        self.created_ms
    }
    /// Events are scored in microseconds, so the several a transition writes keep their order.
    fn score(&self) -> u64 {
        self.created_ms * 1000
    }
}

impl Record for ReleaseNote {
    const COLLECTION: &'static str = "note";
    const INDEXED: &'static [&'static str] = &["release", "study"];
    const KIND: IdKind = IdKind::Note;
    fn id(&self) -> &str {
        &self.kf_id
    }
    fn created_ms(&self) -> u64 {
        self.created_ms
    }
}

impl Record for Study {
    const COLLECTION: &'static str = "study";
    const KIND: IdKind = IdKind::Study;
    fn id(&self) -> &str {
        &self.kf_id
    }
    fn created_ms(&self) -> u64 {
        self.created_ms
    }
}

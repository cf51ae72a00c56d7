//! The Release Coordinator's records as stored: one hash each (string fields), listed by a
//! sorted set of ids by creation time.

use std::collections::HashMap;

use crate::error::StoreError;
use crate::releases::{IdKind, ReleaseState, TaskState};

/// Fields of a stored hash.
pub type Fields = HashMap<String, String>;

/// A record kind: its collection name (in key names), its id kind, and its hash fields.
pub trait Record: Sized {
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
    fn to_fields(&self) -> Vec<(&'static str, String)>;
    /// Its indexed fields that have a value.
    fn index_entries(&self) -> Vec<(&'static str, String)> {
        self.to_fields()
            .into_iter()
            .filter(|(name, value)| !value.is_empty() && Self::INDEXED.contains(name))
            .collect()
    }
    /// Reads it back from its stored fields.
    fn from_fields(fields: &Fields) -> Result<Self, StoreError>;
}

fn text(fields: &Fields, name: &str) -> String {
    fields.get(name).cloned().unwrap_or_default()
}

fn optional(fields: &Fields, name: &str) -> Option<String> {
    fields.get(name).filter(|value| !value.is_empty()).cloned()
}

fn number(fields: &Fields, name: &str) -> u64 {
    fields
        .get(name)
        .and_then(|value| value.parse().ok())
        .unwrap_or(0)
}

fn flag(fields: &Fields, name: &str) -> bool {
    fields.get(name).is_some_and(|value| value == "1")
}

/// A flag as stored (`1` or `0`).
pub fn bit(value: bool) -> String {
    if value { "1" } else { "0" }.to_owned()
}

fn list(fields: &Fields, name: &str) -> Vec<String> {
    fields
        .get(name)
        .map(|value| {
            value
                .split(',')
                .filter(|item| !item.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn corrupt(what: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {error}"))
}

/// A task service: an HTTP service that performs one part of every release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskService {
    /// `TS_...`.
    pub kf_id: String,
    /// Its name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// Who wrote it.
    pub author: String,
    /// Its base URL.
    pub url: String,
    /// Whether new releases get a task for it.
    pub enabled: bool,
    /// `ok`, or `down` after more than 3 failed pings in a row.
    pub health_status: String,
    /// Failed pings since the last one that answered.
    pub last_ok_status: u32,
    /// When it last answered (Unix ms).
    pub last_ok_ms: u64,
    /// Creation time (Unix ms).
    pub created_ms: u64,
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
    fn to_fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("kf_id", self.kf_id.clone()),
            ("name", self.name.clone()),
            ("description", self.description.clone()),
            ("author", self.author.clone()),
            ("url", self.url.clone()),
            ("enabled", bit(self.enabled)),
            ("health_status", self.health_status.clone()),
            ("last_ok_status", self.last_ok_status.to_string()),
            ("last_ok_ms", self.last_ok_ms.to_string()),
            ("created_ms", self.created_ms.to_string()),
        ]
    }
    fn from_fields(fields: &Fields) -> Result<Self, StoreError> {
        Ok(Self {
            kf_id: text(fields, "kf_id"),
            name: text(fields, "name"),
            description: text(fields, "description"),
            author: text(fields, "author"),
            url: text(fields, "url"),
            enabled: flag(fields, "enabled"),
            health_status: text(fields, "health_status"),
            last_ok_status: number(fields, "last_ok_status") as u32,
            last_ok_ms: number(fields, "last_ok_ms"),
            created_ms: number(fields, "created_ms"),
        })
    }
}

/// A release: one task per enabled task service, moved through the protocol together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// `RE_...`.
    pub kf_id: String,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Who started it.
    pub author: String,
    /// Whether publishing makes the next major version (else the next minor).
    pub is_major: bool,
    /// Its state.
    pub state: ReleaseState,
    /// Its version: the next patch while it runs, the published one once published.
    pub version: String,
    /// Free tags.
    pub tags: Vec<String>,
    /// The studies it releases (`SD_...`).
    pub studies: Vec<String>,
    /// Its tasks (`TA_...`), one per task service enabled at its creation.
    pub tasks: Vec<String>,
    /// Creation time (Unix ms).
    pub created_ms: u64,
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
    fn to_fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("kf_id", self.kf_id.clone()),
            ("name", self.name.clone()),
            ("description", self.description.clone()),
            ("author", self.author.clone()),
            ("is_major", bit(self.is_major)),
            ("state", self.state.as_str().to_owned()),
            ("version", self.version.clone()),
            (
                "tags",
                serde_json::to_string(&self.tags).unwrap_or_else(|_| "[]".into()),
            ),
            ("studies", self.studies.join(",")),
            ("tasks", self.tasks.join(",")),
            ("created_ms", self.created_ms.to_string()),
            ("updated_ms", self.created_ms.to_string()),
        ]
    }
    fn from_fields(fields: &Fields) -> Result<Self, StoreError> {
        Ok(Self {
            kf_id: text(fields, "kf_id"),
            name: text(fields, "name"),
            description: text(fields, "description"),
            author: text(fields, "author"),
            is_major: flag(fields, "is_major"),
            state: text(fields, "state")
                .parse()
                .map_err(|error| corrupt("release state", error))?,
            version: text(fields, "version"),
            tags: serde_json::from_str(&text(fields, "tags")).unwrap_or_default(),
            studies: list(fields, "studies"),
            tasks: list(fields, "tasks"),
            created_ms: number(fields, "created_ms"),
        })
    }
}

/// A task: one task service's part of one release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// `TA_...`.
    pub kf_id: String,
    /// Its release.
    pub release: String,
    /// Its task service.
    pub task_service: String,
    /// The service's name when the task was made.
    pub service_name: String,
    /// Its state.
    pub state: TaskState,
    /// Percent done, as the service reports it.
    pub progress: u8,
    /// Creation time (Unix ms).
    pub created_ms: u64,
    /// Last change of state (Unix ms).
    pub updated_ms: u64,
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
    fn to_fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("kf_id", self.kf_id.clone()),
            ("release", self.release.clone()),
            ("task_service", self.task_service.clone()),
            ("service_name", self.service_name.clone()),
            ("state", self.state.as_str().to_owned()),
            ("progress", self.progress.to_string()),
            ("created_ms", self.created_ms.to_string()),
            ("updated_ms", self.updated_ms.to_string()),
        ]
    }
    fn from_fields(fields: &Fields) -> Result<Self, StoreError> {
        Ok(Self {
            kf_id: text(fields, "kf_id"),
            release: text(fields, "release"),
            task_service: text(fields, "task_service"),
            service_name: text(fields, "service_name"),
            state: text(fields, "state")
                .parse()
                .map_err(|error| corrupt("task state", error))?,
            progress: number(fields, "progress").min(100) as u8,
            created_ms: number(fields, "created_ms"),
            updated_ms: number(fields, "updated_ms"),
        })
    }
}

/// An event: a change of state, or anything a client posts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `EV_...`.
    pub kf_id: String,
    /// `info`, `warning` or `error`.
    pub event_type: String,
    /// What happened.
    pub message: String,
    /// The release it concerns.
    pub release: Option<String>,
    /// The task it concerns.
    pub task: Option<String>,
    /// The task service it concerns.
    pub task_service: Option<String>,
    /// The study it concerns.
    pub study: Option<String>,
    /// Creation time (Unix ms).
    pub created_ms: u64,
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
    fn to_fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("kf_id", self.kf_id.clone()),
            ("event_type", self.event_type.clone()),
            ("message", self.message.clone()),
            ("release", self.release.clone().unwrap_or_default()),
            ("task", self.task.clone().unwrap_or_default()),
            (
                "task_service",
                self.task_service.clone().unwrap_or_default(),
            ),
            ("study", self.study.clone().unwrap_or_default()),
            ("created_ms", self.created_ms.to_string()),
        ]
    }
    fn from_fields(fields: &Fields) -> Result<Self, StoreError> {
        Ok(Self {
            kf_id: text(fields, "kf_id"),
            event_type: text(fields, "event_type"),
            message: text(fields, "message"),
            release: optional(fields, "release"),
            task: optional(fields, "task"),
            task_service: optional(fields, "task_service"),
            study: optional(fields, "study"),
            created_ms: number(fields, "created_ms"),
        })
    }
}

/// A release note: a change described for a release, optionally for one of its studies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseNote {
    /// `RN_...`.
    pub kf_id: String,
    /// The description of the changes.
    pub description: String,
    /// Who wrote it.
    pub author: String,
    /// The release it describes.
    pub release: String,
    /// The study it describes.
    pub study: Option<String>,
    /// Creation time (Unix ms).
    pub created_ms: u64,
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
    fn to_fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("kf_id", self.kf_id.clone()),
            ("description", self.description.clone()),
            ("author", self.author.clone()),
            ("release", self.release.clone()),
            ("study", self.study.clone().unwrap_or_default()),
            ("created_ms", self.created_ms.to_string()),
        ]
    }
    fn from_fields(fields: &Fields) -> Result<Self, StoreError> {
        Ok(Self {
            kf_id: text(fields, "kf_id"),
            description: text(fields, "description"),
            author: text(fields, "author"),
            release: text(fields, "release"),
            study: optional(fields, "study"),
            created_ms: number(fields, "created_ms"),
        })
    }
}

/// A study, mirrored from the data service (or, without one, made when a release first names
/// it); publishing a release records its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Study {
    /// `SD_...`.
    pub kf_id: String,
    /// Its name, as the data service gives it (its id when no data service described it).
    pub name: String,
    /// The version of the latest release that published it.
    pub version: Option<String>,
    /// Whether the data service shows it.
    pub visible: bool,
    /// The version it was last published in.
    pub last_pub_version: Option<String>,
    /// When it was last published (Unix ms).
    pub last_pub_date_ms: Option<u64>,
    /// Whether it was deleted from the data service (it no longer lists it).
    pub deleted: bool,
    /// Creation time (Unix ms).
    pub created_ms: u64,
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
    fn to_fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("kf_id", self.kf_id.clone()),
            ("name", self.name.clone()),
            ("version", self.version.clone().unwrap_or_default()),
            ("visible", bit(self.visible)),
            (
                "last_pub_version",
                self.last_pub_version.clone().unwrap_or_default(),
            ),
            (
                "last_pub_date_ms",
                self.last_pub_date_ms
                    .map(|ms| ms.to_string())
                    .unwrap_or_default(),
            ),
            ("deleted", bit(self.deleted)),
            ("created_ms", self.created_ms.to_string()),
        ]
    }
    fn from_fields(fields: &Fields) -> Result<Self, StoreError> {
        Ok(Self {
            kf_id: text(fields, "kf_id"),
            name: text(fields, "name"),
            version: optional(fields, "version"),
            visible: flag(fields, "visible"),
            last_pub_version: optional(fields, "last_pub_version"),
            last_pub_date_ms: optional(fields, "last_pub_date_ms").and_then(|ms| ms.parse().ok()),
            deleted: flag(fields, "deleted"),
            created_ms: number(fields, "created_ms"),
        })
    }
}

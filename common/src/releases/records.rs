//! The Release Coordinator's records: task services, releases, their tasks, events, notes and
//! studies. Each is stored as one hash of string fields ([`crate::store::record_fields`]),
//! listed by a sorted set of ids by creation time ([`crate::store::releases`]).

use serde::{Deserialize, Serialize};

use super::{ReleaseState, TaskState};

/// A task service: an HTTP service that performs one part of every release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// A release: one task per enabled task service, moved through the protocol together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Last change of state (Unix ms).
    pub updated_ms: u64,
}

/// A task: one task service's part of one release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// An event: a change of state, or anything a client posts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// A release note: a change described for a release, optionally for one of its studies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// A study, mirrored from the data service (or, without one, made when a release first names
/// it); publishing a release records its version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

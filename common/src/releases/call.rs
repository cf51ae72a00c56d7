//! One protocol call of a release phase, as the engine carries it to a worker: a domain
//! payload of type `release` that the worker's release executor decodes.

use serde::{Deserialize, Serialize};

use crate::engine::executor::DomainPayload;

/// One protocol call of a release phase: `action` for `task` of `release`, sent to the task
/// service at `url` (its base URL; the call goes to `<url>/tasks`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseCall {
    /// The release (`RE_...`).
    pub release: String,
    /// The task (`TA_...`).
    pub task: String,
    /// The action to send.
    pub action: super::Action,
    /// The task service's base URL.
    pub url: String,
    /// The release's study ids, sent with the action.
    #[serde(default)]
    pub studies: Vec<String>,
}
impl DomainPayload for ReleaseCall {
    const KIND: &'static str = "release";
}

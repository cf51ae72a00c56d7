//! A report run as the engine carries it to a worker: a domain payload of type `report`
//! that the worker's report executor decodes.

use serde::{Deserialize, Serialize};

use crate::engine::executor::DomainPayload;

/// A report run: which report, at which commit, with which parameters, as which version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSpec {
    /// The report's name (its folder under `src/`).
    pub report: String,
    /// The full commit to run.
    pub commit: String,
    /// The branch the commit was taken from, if one was asked for.
    #[serde(default)]
    pub branch: Option<String>,
    /// Parameter values, checked against the report's declared parameters.
    #[serde(default)]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Database instances, passed through.
    #[serde(default)]
    pub instances: serde_json::Map<String, serde_json::Value>,
    /// The version id the run produces; fixed when the run is created, so a run executed
    /// again after a crash overwrites its own version instead of making a second one.
    pub version: String,
    /// A changelog entry given with the run (`{"message", "type"}`), recorded with the version.
    #[serde(default)]
    pub changelog: Option<RunChangelog>,
}

/// A changelog entry given with a report run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunChangelog {
    /// The entry's text.
    pub message: String,
    /// Its label: `public` or `internal`.
    #[serde(rename = "type")]
    pub label: String,
}
impl DomainPayload for ReportSpec {
    const KIND: &'static str = "report";
}

//! A report version as Baton records it: what a successful report run (or an imported bundle)
//! produced. The worker builds it as the run's result; the reports front serves it.
//!
//! Files live in the artefact store: artefacts and resources (global resources among them)
//! under `<version id>/<name>`, data extracts content-addressed under `data/<md5>.csv` (and
//! `.rds`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The artefact-store "version" folder that holds data extracts by hash.
pub const DATA_FOLDER: &str = "data";

/// A stored file: its name (relative to the report's folder), size and md5.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionFile {
    /// Name relative to the report's folder (`source/inputdata.csv`).
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// md5 of the content, lowercase hex.
    pub md5: String,
}

/// A declared artefact and the files it produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtefactGroup {
    /// `staticgraph`, `data`, `report`, ...
    pub format: String,
    /// What it shows.
    #[serde(default)]
    pub description: Option<String>,
    /// Its files.
    pub files: Vec<VersionFile>,
}

/// One stored form of a data extract (`csv` or `rds`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataForm {
    /// Size in bytes.
    pub size: u64,
    /// md5 of the content: also its id (`/api/v1/data/csv/<md5>/`).
    pub md5: String,
}

/// A data extract of a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataExtract {
    /// The extract's name (`dat`).
    pub name: String,
    /// The CSV form.
    pub csv: DataForm,
    /// The RDS form, when the report produced one.
    #[serde(default)]
    pub rds: Option<DataForm>,
}

/// A changelog entry as a version declares it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangelogEntry {
    /// `public` (seen by every reader) or any other label such as `internal` (reviewers only).
    pub label: String,
    /// The text.
    pub value: String,
    /// True when it came from the report's `changelog.txt`, false when given with the run.
    pub from_file: bool,
}

impl ChangelogEntry {
    /// True for entries every reader may see.
    pub fn is_public(&self) -> bool {
        self.label == "public"
    }
}

/// What lists show of a version (`/reports/`, `/versions/`): stored beside its record, so a
/// list reads a few fields per version instead of every file, extract and changelog entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionSummary {
    /// Version id.
    pub id: String,
    /// Report name.
    pub name: String,
    /// Human-readable name.
    #[serde(default)]
    pub displayname: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// When the run started, as OrderlyWeb shows it.
    pub date: String,
    /// Requester, from `orderly.yml`.
    #[serde(default)]
    pub requester: Option<String>,
    /// Author, from `orderly.yml`.
    #[serde(default)]
    pub author: Option<String>,
    /// The names of the resources the script read.
    #[serde(default)]
    pub resources: Vec<String>,
    /// The git branch of the commit it ran at.
    #[serde(default)]
    pub git_branch: Option<String>,
    /// The commit it ran at.
    #[serde(default)]
    pub git_commit: Option<String>,
}

impl From<&VersionRecord> for VersionSummary {
    fn from(record: &VersionRecord) -> Self {
        Self {
            id: record.id.clone(),
            name: record.name.clone(),
            displayname: record.displayname.clone(),
            description: record.description.clone(),
            date: record.date.clone(),
            requester: record.requester.clone(),
            author: record.author.clone(),
            resources: record
                .resources
                .iter()
                .map(|file| file.name.clone())
                .collect(),
            git_branch: record.git_branch.clone(),
            git_commit: record.git_commit.clone(),
        }
    }
}

/// Everything recorded about one report version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionRecord {
    /// Version id (`20161006-142357-e80edf58`).
    pub id: String,
    /// Report name.
    pub name: String,
    /// Human-readable name.
    #[serde(default)]
    pub displayname: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// When the run started, as OrderlyWeb shows it (`2016-10-06 14:23:57.0`, UTC).
    pub date: String,
    /// Declared artefacts and their files.
    #[serde(default)]
    pub artefacts: Vec<ArtefactGroup>,
    /// Resources the script read.
    #[serde(default)]
    pub resources: Vec<VersionFile>,
    /// Data extracts.
    #[serde(default)]
    pub data: Vec<DataExtract>,
    /// Parameter values the run used (defaults filled in).
    #[serde(default)]
    pub parameter_values: Map<String, Value>,
    /// Database instances, as given.
    #[serde(default)]
    pub instances: Map<String, Value>,
    /// Requester, from `orderly.yml`.
    #[serde(default)]
    pub requester: Option<String>,
    /// Author, from `orderly.yml`.
    #[serde(default)]
    pub author: Option<String>,
    /// Git branch the run was asked for, if any.
    #[serde(default)]
    pub git_branch: Option<String>,
    /// Full git commit that ran.
    #[serde(default)]
    pub git_commit: Option<String>,
    /// Every entry of the report's `changelog.txt` at that commit, plus the run's own message.
    /// Entries already listed by an earlier version belong to that earlier version.
    #[serde(default)]
    pub changelog: Vec<ChangelogEntry>,
    /// The name of the report's README file, when it has one (kept with the resources).
    #[serde(default)]
    pub readme: Option<String>,
    /// The other reports' files the run used (`depends:`), with the versions they came from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends: Vec<DependencyUsed>,
    /// The resources that came from the repository's global resources folder
    /// (`global_resources:`); each is also listed, with its size and md5, among `resources`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub global_resources: Vec<GlobalResourceUsed>,
}

/// A resource a run copied from the repository's global resources folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalResourceUsed {
    /// Its name in the report's folder, as listed among the version's resources.
    pub name: String,
    /// The file it came from, relative to the global resources folder.
    pub source: String,
    /// md5 of its content, lowercase hex.
    pub md5: String,
}

/// One file of another report's version that a run used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DependencyUsed {
    /// The report depended on.
    pub name: String,
    /// The version used.
    pub id: String,
    /// Its artefact file.
    pub filename: String,
    /// The name the run gave it in its folder.
    #[serde(rename = "as")]
    pub as_name: String,
    /// md5 of the file.
    pub hash: String,
    /// Whether the dependency asked for `latest`.
    pub is_latest: bool,
}

/// The date OrderlyWeb shows for a version id (`20161006-142357-...` → `2016-10-06
/// 14:23:57.0`), or `None` when the id does not have that form.
pub fn version_date(id: &str) -> Option<String> {
    let bytes = id.as_bytes();
    if id.len() < 15
        || bytes[8] != b'-'
        || !bytes[..8]
            .iter()
            .chain(&bytes[9..15])
            .all(u8::is_ascii_digit)
    {
        return None;
    }
    Some(format!(
        "{}-{}-{} {}:{}:{}.0",
        &id[0..4],
        &id[4..6],
        &id[6..8],
        &id[9..11],
        &id[11..13],
        &id[13..15]
    ))
}

/// True for a version id Baton accepts: `YYYYMMDD-HHMMSS-` then letters and digits (the
/// usual 8 hex digits), so that it is safe as a folder name and carries its date.
pub fn is_version_id(id: &str) -> bool {
    version_date(id).is_some()
        && id.len() <= 64
        && id.as_bytes().get(15) == Some(&b'-')
        && id.len() > 16
        && id[16..].bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_come_from_version_ids() {
        assert_eq!(
            version_date("20161006-142357-e80edf58").as_deref(),
            Some("2016-10-06 14:23:57.0")
        );
        assert_eq!(version_date("not-a-version"), None);
        assert_eq!(version_date("20161006-14235é-x"), None, "no panic on UTF-8");
    }

    #[test]
    fn version_ids_are_safe_folder_names() {
        assert!(is_version_id("20161006-142357-e80edf58"));
        for bad in [
            "20161006-142357-",
            "20161006-142357-e80/../x",
            "20161006-142357_e80edf58",
            "not-a-version",
            "",
        ] {
            assert!(!is_version_id(bad), "{bad}");
        }
    }
}

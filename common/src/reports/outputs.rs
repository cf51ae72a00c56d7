//! What a report version records once its script has run: the declared artefacts, the
//! resources (the global resources copied in among them) and the data extracts, each with its
//! size and md5, the README's name, and the changelog.
//!
//! Three steps, so that a worker's run and an imported bundle record a version the same way:
//! [`collect`] reads the report's folder and builds the [`VersionRecord`] and the list of files
//! to keep (it stores nothing); [`verify`] checks files against a record; [`store`] puts them
//! in the artefact store: artefacts, resources and the README under `<version>/<name>`, data
//! extracts under [`DATA_FOLDER`] as `<md5>.csv` and `<md5>.rds`.

use std::fs::File;
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};
use serde_json::{Map, Value};

use crate::reports::artefacts::{ArtefactError, ArtefactStore};
use crate::reports::changelog::{self, ChangelogError};
use crate::reports::config::{ReportConfig, is_path_inside_folder};
use crate::reports::run_spec::RunChangelog;
use crate::reports::version::{
    ArtefactGroup, ChangelogEntry, DATA_FOLDER, DataExtract, DataForm, DependencyUsed,
    GlobalResourceUsed, VersionFile, VersionRecord, is_version_id, version_date,
};

/// The README a report's folder may hold, stored with the version's files.
pub const README: &str = "README.md";

/// The changelog a report's folder may hold.
pub const CHANGELOG: &str = "changelog.txt";

/// Why a version's outputs cannot be collected, checked or stored.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The script did not write a declared artefact.
    #[error("report '{report}' did not produce its declared {format} artefact '{name}'")]
    MissingArtefact {
        /// The report.
        report: String,
        /// The artefact's format.
        format: String,
        /// The missing file.
        name: String,
    },
    /// A declared resource is not in the report's folder.
    #[error("report '{report}': resource '{name}' does not exist")]
    MissingResource {
        /// The report.
        report: String,
        /// The missing file.
        name: String,
    },
    /// A declared data extract's file is not in the report's folder.
    #[error(
        "report '{report}' did not produce the {form} file '{path}' of its data extract '{extract}'"
    )]
    MissingData {
        /// The report.
        report: String,
        /// The extract's name.
        extract: String,
        /// `csv` or `rds`.
        form: &'static str,
        /// The missing file.
        path: String,
    },
    /// The report's `changelog.txt` is broken.
    #[error("report '{report}': changelog.txt {source}")]
    Changelog {
        /// The report.
        report: String,
        /// What is wrong.
        source: ChangelogError,
    },
    /// The version id does not have the `YYYYMMDD-HHMMSS-xxxxxxxx` form.
    #[error("'{0}' is not a version id (YYYYMMDD-HHMMSS-xxxxxxxx)")]
    BadVersionId(String),
    /// A record that does not fit its report's `orderly.yml` or names unsafe paths.
    #[error("{0}")]
    Inconsistent(String),
    /// A file differs from what the record says (or is missing).
    #[error("'{path}' does not match the version record: {message}")]
    Mismatch {
        /// The file, relative to the report's folder.
        path: String,
        /// How it differs.
        message: String,
    },
    /// A local file could not be read.
    #[error("cannot read {path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// The artefact store failed.
    #[error(transparent)]
    Store(#[from] ArtefactError),
}

/// What a run was asked for, as the version records it.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionInputs {
    /// The report's name.
    pub name: String,
    /// The version id.
    pub version: String,
    /// Parameter values, checked, with defaults filled in.
    pub parameters: Map<String, Value>,
    /// Database instances, as given.
    pub instances: Map<String, Value>,
    /// The branch the run was asked for.
    pub branch: Option<String>,
    /// The full commit that ran.
    pub commit: Option<String>,
    /// The changelog entry given with the run.
    pub changelog: Option<RunChangelog>,
    /// The other reports' files the run was given (`depends:`).
    pub depends: Vec<DependencyUsed>,
}

/// One file of a version: where it is now and where the artefact store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFile {
    /// The file on disk.
    pub local: PathBuf,
    /// Its path relative to the report's folder, for messages.
    pub source: String,
    /// The artefact-store folder: the version id, or [`DATA_FOLDER`].
    pub folder: String,
    /// Its name in that folder.
    pub name: String,
    /// Its size and md5 as the record lists them; `None` for the README, which the record
    /// names only.
    pub recorded: Option<Checksum>,
}

/// A file's size and md5.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    /// Size in bytes.
    pub size: u64,
    /// md5 of the content, lowercase hex.
    pub md5: String,
}

/// A collected version: its record and the files to keep.
#[derive(Debug, Clone, PartialEq)]
pub struct Outputs {
    /// What the version records.
    pub record: VersionRecord,
    /// Every file the record lists, located on disk.
    pub files: Vec<OutputFile>,
}

/// Size and md5 of a local file, streamed.
fn hash_file(path: &Path) -> Result<Checksum, OutputError> {
    let read_error = |error: std::io::Error| OutputError::Read {
        path: path.display().to_string(),
        message: error.to_string(),
    };
    let mut file = File::open(path).map_err(read_error)?;
    let mut hasher = Md5::new();
    let size = std::io::copy(&mut file, &mut hasher).map_err(read_error)?;
    Ok(Checksum {
        size,
        md5: format!("{:x}", hasher.finalize()),
    })
}

fn version_file(dir: &Path, name: &str) -> Result<VersionFile, OutputError> {
    let Checksum { size, md5 } = hash_file(&dir.join(name))?;
    Ok(VersionFile {
        name: name.to_owned(),
        size,
        md5,
    })
}

fn data_form(
    dir: &Path,
    report: &str,
    extract: &str,
    form: &'static str,
    path: &str,
) -> Result<DataForm, OutputError> {
    if !dir.join(path).is_file() {
        return Err(OutputError::MissingData {
            report: report.to_owned(),
            extract: extract.to_owned(),
            form,
            path: path.to_owned(),
        });
    }
    let Checksum { size, md5 } = hash_file(&dir.join(path))?;
    Ok(DataForm { size, md5 })
}

/// Reads a `changelog.txt`, naming the report when it is broken.
pub fn parse_changelog(report: &str, text: &str) -> Result<Vec<ChangelogEntry>, OutputError> {
    changelog::parse(text).map_err(|source| OutputError::Changelog {
        report: report.to_owned(),
        source,
    })
}

/// Collects what the version records from the report's folder `dir`, after its script ran:
/// every declared artefact (each must exist), resource and data extract (its csv file, and its
/// rds file when declared) with sizes and md5s; the README when there is one; and the
/// changelog: the run's own message, then the entries of `changelog_txt`. Reads files; stores
/// nothing.
pub fn collect(
    dir: &Path,
    config: &ReportConfig,
    inputs: &VersionInputs,
    changelog_txt: Option<&str>,
) -> Result<Outputs, OutputError> {
    let report = inputs.name.as_str();
    let date = version_date(&inputs.version)
        .filter(|_| is_version_id(&inputs.version))
        .ok_or_else(|| OutputError::BadVersionId(inputs.version.clone()))?;
    let mut changelog = Vec::new();
    if let Some(message) = &inputs.changelog {
        changelog.push(ChangelogEntry {
            label: message.label.clone(),
            value: message.message.clone(),
            from_file: false,
        });
    }
    if let Some(text) = changelog_txt {
        changelog.extend(parse_changelog(report, text)?);
    }

    let mut artefacts = Vec::new();
    for artefact in &config.artefacts {
        let mut files = Vec::new();
        for name in &artefact.filenames {
            if !dir.join(name).is_file() {
                return Err(OutputError::MissingArtefact {
                    report: report.to_owned(),
                    format: artefact.format.clone(),
                    name: name.clone(),
                });
            }
            files.push(version_file(dir, name)?);
        }
        artefacts.push(ArtefactGroup {
            format: artefact.format.clone(),
            description: artefact.description.clone(),
            files,
        });
    }

    let mut resources = Vec::new();
    for name in &config.resources {
        if !dir.join(name).is_file() {
            return Err(OutputError::MissingResource {
                report: report.to_owned(),
                name: name.clone(),
            });
        }
        resources.push(version_file(dir, name)?);
    }
    // Global resources were copied into the folder under their local names before the
    // script ran: they are the version's resources too, and it keeps where they came from.
    let mut global_resources = Vec::new();
    for global in &config.global_resources {
        if !dir.join(&global.name).is_file() {
            return Err(OutputError::MissingResource {
                report: report.to_owned(),
                name: global.name.clone(),
            });
        }
        let file = version_file(dir, &global.name)?;
        global_resources.push(GlobalResourceUsed {
            name: global.name.clone(),
            source: global.source.clone(),
            md5: file.md5.clone(),
        });
        resources.push(file);
    }
    let readme = dir.join(README).is_file().then(|| README.to_owned());

    let data = config
        .data
        .iter()
        .map(|extract| {
            Ok(DataExtract {
                name: extract.name.clone(),
                csv: data_form(dir, report, &extract.name, "csv", &extract.csv)?,
                rds: extract
                    .rds
                    .as_deref()
                    .map(|rds| data_form(dir, report, &extract.name, "rds", rds))
                    .transpose()?,
            })
        })
        .collect::<Result<_, OutputError>>()?;

    let record = VersionRecord {
        id: inputs.version.clone(),
        name: report.to_owned(),
        displayname: config.displayname.clone(),
        description: config.description.clone(),
        date,
        artefacts,
        resources,
        data,
        parameter_values: inputs.parameters.clone(),
        instances: inputs.instances.clone(),
        requester: config.requester.clone(),
        author: config.author.clone(),
        git_branch: inputs.branch.clone(),
        git_commit: inputs.commit.clone(),
        changelog,
        readme,
        depends: inputs.depends.clone(),
        global_resources,
    };
    let files = record_files(&record, config, dir)?;
    Ok(Outputs { record, files })
}

/// The files `record` lists, located in the report's folder `dir` (data extracts through the
/// paths `config` declares), with where the artefact store keeps each: artefacts, resources
/// and the README under the version, data extracts under [`DATA_FOLDER`]. Refuses names that
/// would leave the folder and extracts `config` does not declare.
pub fn record_files(
    record: &VersionRecord,
    config: &ReportConfig,
    dir: &Path,
) -> Result<Vec<OutputFile>, OutputError> {
    if !is_version_id(&record.id) {
        return Err(OutputError::BadVersionId(record.id.clone()));
    }
    if let Some(unlisted) = record
        .global_resources
        .iter()
        .find(|global| !record.resources.iter().any(|file| file.name == global.name))
    {
        return Err(OutputError::Inconsistent(format!(
            "global resource '{}' is not among the version's resources",
            unlisted.name
        )));
    }
    let mut files = Vec::new();
    let named = record
        .artefacts
        .iter()
        .flat_map(|group| &group.files)
        .chain(&record.resources);
    let version_file = |name: &str, recorded: Option<Checksum>| {
        if !is_path_inside_folder(name) {
            return Err(OutputError::Inconsistent(format!(
                "'{name}' is not a path inside the report's folder"
            )));
        }
        Ok(OutputFile {
            local: dir.join(name),
            source: name.to_owned(),
            folder: record.id.clone(),
            name: name.to_owned(),
            recorded,
        })
    };
    for file in named {
        let recorded = Checksum {
            size: file.size,
            md5: file.md5.clone(),
        };
        files.push(version_file(&file.name, Some(recorded))?);
    }
    if let Some(readme) = &record.readme
        && !files.iter().any(|file| &file.name == readme)
    {
        files.push(version_file(readme, None)?);
    }
    for extract in &record.data {
        let declared = config
            .data
            .iter()
            .find(|declared| declared.name == extract.name)
            .ok_or_else(|| {
                OutputError::Inconsistent(format!(
                    "data '{}' is not declared in orderly.yml",
                    extract.name
                ))
            })?;
        let forms = [
            ("csv", Some(&extract.csv), Some(&declared.csv)),
            ("rds", extract.rds.as_ref(), declared.rds.as_ref()),
        ];
        for (form, recorded, path) in forms {
            let Some(recorded) = recorded else { continue };
            let path = path.ok_or_else(|| {
                OutputError::Inconsistent(format!(
                    "data '{}' has an {form} form that orderly.yml does not declare",
                    extract.name
                ))
            })?;
            if !recorded.md5.bytes().all(|b| b.is_ascii_hexdigit()) || recorded.md5.len() != 32 {
                return Err(OutputError::Inconsistent(format!(
                    "data '{}': '{}' is not an md5",
                    extract.name, recorded.md5
                )));
            }
            files.push(OutputFile {
                local: dir.join(path),
                source: path.clone(),
                folder: DATA_FOLDER.to_owned(),
                name: format!("{}.{form}", recorded.md5),
                recorded: Some(Checksum {
                    size: recorded.size,
                    md5: recorded.md5.clone(),
                }),
            });
        }
    }
    Ok(files)
}

/// Checks that every file exists, with its recorded size and md5 when it has them.
pub fn verify(files: &[OutputFile]) -> Result<(), OutputError> {
    for file in files {
        if !file.local.is_file() {
            return Err(OutputError::Mismatch {
                path: file.source.clone(),
                message: "the file is missing".into(),
            });
        }
        let Some(recorded) = &file.recorded else {
            continue;
        };
        let found = hash_file(&file.local)?;
        if &found != recorded {
            return Err(OutputError::Mismatch {
                path: file.source.clone(),
                message: format!(
                    "recorded {} bytes with md5 {}, found {} bytes with md5 {}",
                    recorded.size, recorded.md5, found.size, found.md5
                ),
            });
        }
    }
    Ok(())
}

/// Puts every file in the artefact store, checking that what was stored is what was recorded.
pub async fn store(files: &[OutputFile], store: &ArtefactStore) -> Result<(), OutputError> {
    for file in files {
        let stored = store
            .put_file(&file.folder, &file.name, &file.local)
            .await?;
        if let Some(recorded) = &file.recorded
            && (stored.size != recorded.size || stored.md5 != recorded.md5)
        {
            return Err(OutputError::Mismatch {
                path: file.source.clone(),
                message: format!(
                    "it changed while being stored (md5 {} became {})",
                    recorded.md5, stored.md5
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;

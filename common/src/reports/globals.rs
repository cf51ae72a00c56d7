//! Global resources, as orderly 1 has them: files several reports share, kept in one folder
//! of the reports repository that its `orderly_config.yml` names, and copied into a report's
//! folder, under the names the report gives them, before its script runs.
//!
//! ```yaml
//! # orderly_config.yml
//! global_resources: global
//!
//! # src/<report>/orderly.yml: local name -> file in the global folder
//! global_resources:
//!   data.csv: shared/input.csv
//! ```
//!
//! orderly's older form, a list of files (`global_resources: [shared/input.csv]`), is read
//! too: each file keeps its base name in the report's folder (`input.csv`), as orderly did.
//! Names on both sides are paths inside their folders; the files are read from the
//! repository at the run's commit, never from a working tree.

use std::path::Path;

use serde_yaml::Value as Yaml;

use crate::error::InvalidInput;
use crate::reports::artefacts::md5_hex;
use crate::reports::config::is_path_inside_folder;
use crate::reports::databases::ORDERLY_CONFIG;
use crate::reports::repo::{RepoError, ReportsRepo};

/// The key of `orderly_config.yml` (the folder) and of `orderly.yml` (the files used).
pub const KEY: &str = "global_resources";

/// One global resource a report declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalResource {
    /// Its name in the report's folder (`data.csv`).
    pub name: String,
    /// The file it copies, relative to the global resources folder (`shared/input.csv`).
    pub source: String,
}

/// Reads the global resources folder an `orderly_config.yml` names, if any: a path inside the
/// repository (a trailing `/` is allowed).
pub fn parse_folder(text: &str) -> Result<Option<String>, InvalidInput> {
    let root: Yaml = serde_yaml::from_str(text).map_err(|error| {
        InvalidInput::new(format!("{ORDERLY_CONFIG} is not valid YAML: {error}"))
    })?;
    let folder = match root.get(KEY) {
        None | Some(Yaml::Null) => return Ok(None),
        Some(Yaml::String(folder)) => folder.trim().trim_end_matches('/').to_owned(),
        Some(_) => {
            return Err(InvalidInput::new(format!(
                "{ORDERLY_CONFIG}: '{KEY}' must name a folder of the repository"
            )));
        }
    };
    if !is_path_inside_folder(&folder) {
        return Err(InvalidInput::new(format!(
            "{ORDERLY_CONFIG}: '{KEY}' folder '{folder}' must be a path inside the repository"
        )));
    }
    Ok(Some(folder))
}

/// Reads the `global_resources:` of an `orderly.yml`: a mapping `local name: file in the
/// global folder`, or a list of files (each named by its base name). Both sides must be paths
/// inside their folders, and no two resources may share a local name.
pub fn parse_declared(value: Option<&Yaml>) -> Result<Vec<GlobalResource>, InvalidInput> {
    let pairs: Vec<(String, String)> = match value {
        None | Some(Yaml::Null) => return Ok(Vec::new()),
        Some(Yaml::Mapping(map)) => map
            .iter()
            .map(|(name, source)| match (name.as_str(), source.as_str()) {
                (Some(name), Some(source)) => Ok((name.to_owned(), source.to_owned())),
                _ => Err(InvalidInput::new(format!(
                    "'{KEY}' maps file names to files of the global resources folder"
                ))),
            })
            .collect::<Result<_, _>>()?,
        Some(Yaml::Sequence(list)) => list
            .iter()
            .map(|source| {
                let source = source.as_str().ok_or_else(|| {
                    InvalidInput::new(format!(
                        "'{KEY}' must list files of the global resources folder"
                    ))
                })?;
                let name = source.rsplit('/').next().unwrap_or(source);
                Ok((name.to_owned(), source.to_owned()))
            })
            .collect::<Result<_, InvalidInput>>()?,
        Some(_) => {
            return Err(InvalidInput::new(format!(
                "'{KEY}' must map file names to files of the global resources folder"
            )));
        }
    };
    let mut declared: Vec<GlobalResource> = Vec::with_capacity(pairs.len());
    for (name, source) in pairs {
        if !is_path_inside_folder(&name) {
            return Err(InvalidInput::new(format!(
                "'{KEY}': '{name}' must be a path inside the report's folder"
            )));
        }
        if !is_path_inside_folder(&source) {
            return Err(InvalidInput::new(format!(
                "'{KEY}': '{source}' must be a path inside the global resources folder"
            )));
        }
        if declared.iter().any(|earlier| earlier.name == name) {
            return Err(InvalidInput::new(format!(
                "'{KEY}': '{name}' is named twice"
            )));
        }
        declared.push(GlobalResource { name, source });
    }
    Ok(declared)
}

/// Why a report's global resources could not be copied into its folder.
#[derive(Debug, thiserror::Error)]
pub enum GlobalError {
    /// The report uses global resources, but the repository declares no folder for them.
    #[error(
        "global resource '{name}' cannot be found: {ORDERLY_CONFIG} declares no '{KEY}' folder"
    )]
    NoFolder {
        /// The first resource the report declares.
        name: String,
    },
    /// A declared file is not a file of the global folder at the run's commit.
    #[error(
        "global resource '{name}': '{file}' is not a file of the global resources folder '{folder}'"
    )]
    Missing {
        /// The resource's name in the report's folder.
        name: String,
        /// The file asked for, relative to the global folder.
        file: String,
        /// The global folder.
        folder: String,
    },
    /// The repository could not be read.
    #[error(transparent)]
    Repo(#[from] RepoError),
    /// The file could not be written into the report's folder.
    #[error("cannot write global resource '{name}': {message}")]
    Write {
        /// The resource's name in the report's folder.
        name: String,
        /// Why.
        message: String,
    },
}

/// One global resource copied into a report's folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    /// Its name in the report's folder.
    pub name: String,
    /// The file it came from, relative to the global folder.
    pub source: String,
    /// md5 of its content, lowercase hex.
    pub md5: String,
}

/// Copies the global resources `declared` from the global folder of `repo` at `commit` into
/// the report's folder `dir`, each under its local name. Every file must exist; nothing is
/// read from outside the global folder nor written outside `dir`. Runs git: call it from
/// blocking code.
pub fn copy_into(
    repo: &ReportsRepo,
    commit: &str,
    declared: &[GlobalResource],
    dir: &Path,
) -> Result<Vec<Copied>, GlobalError> {
    let Some(first) = declared.first() else {
        return Ok(Vec::new());
    };
    let folder = repo
        .global_folder(commit)?
        .ok_or_else(|| GlobalError::NoFolder {
            name: first.name.clone(),
        })?;
    let mut copied = Vec::with_capacity(declared.len());
    for resource in declared {
        // Checked when `orderly.yml` was read; checked again where it matters.
        if !is_path_inside_folder(&resource.name) || !is_path_inside_folder(&resource.source) {
            return Err(GlobalError::Missing {
                name: resource.name.clone(),
                file: resource.source.clone(),
                folder,
            });
        }
        let bytes = repo
            .file_at(commit, &format!("{folder}/{}", resource.source))?
            .ok_or_else(|| GlobalError::Missing {
                name: resource.name.clone(),
                file: resource.source.clone(),
                folder: folder.clone(),
            })?;
        let target = dir.join(&resource.name);
        let write_error = |error: std::io::Error| GlobalError::Write {
            name: resource.name.clone(),
            message: error.to_string(),
        };
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(write_error)?;
        }
        // A file the report's folder already holds under that name is replaced, not
        // written through (it may be a link).
        if std::fs::symlink_metadata(&target).is_ok() {
            std::fs::remove_file(&target).map_err(write_error)?;
        }
        std::fs::write(&target, &bytes).map_err(write_error)?;
        copied.push(Copied {
            name: resource.name.clone(),
            source: resource.source.clone(),
            md5: md5_hex(&bytes),
        });
    }
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{git, write};

    fn declared(text: &str) -> Result<Vec<GlobalResource>, InvalidInput> {
        let root: Yaml = serde_yaml::from_str(text).unwrap();
        parse_declared(root.get(KEY))
    }

    fn resource(name: &str, source: &str) -> GlobalResource {
        GlobalResource {
            name: name.into(),
            source: source.into(),
        }
    }

    #[test]
    fn the_folder_is_read_from_orderly_config() {
        assert_eq!(
            parse_folder("global_resources: global\n").unwrap(),
            Some("global".into())
        );
        assert_eq!(
            parse_folder("global_resources:\n  shared/files/\n").unwrap(),
            Some("shared/files".into())
        );
        assert_eq!(parse_folder("database: {}\n").unwrap(), None);
        for (text, expected) in [
            ("global_resources: ../elsewhere\n", "inside the repository"),
            ("global_resources: /etc\n", "inside the repository"),
            ("global_resources: [a, b]\n", "must name a folder"),
        ] {
            let error = parse_folder(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }

    #[test]
    fn reports_map_local_names_to_global_files_or_list_them() {
        assert_eq!(
            declared("global_resources:\n  data.csv: shared/input.csv\n  b.txt: b.txt\n").unwrap(),
            vec![
                resource("data.csv", "shared/input.csv"),
                resource("b.txt", "b.txt")
            ]
        );
        assert_eq!(
            declared("global_resources:\n  - data.csv\n  - shared/input.csv\n").unwrap(),
            vec![
                resource("data.csv", "data.csv"),
                resource("input.csv", "shared/input.csv")
            ]
        );
        assert_eq!(declared("script: s.sh\n").unwrap(), vec![]);
        assert_eq!(declared("global_resources: ~\n").unwrap(), vec![]);
    }

    #[test]
    fn paths_that_leave_either_folder_are_refused() {
        for (text, expected) in [
            (
                "global_resources:\n  data.csv: ../secret.csv\n",
                "'../secret.csv' must be a path inside the global resources folder",
            ),
            (
                "global_resources:\n  data.csv: /etc/passwd\n",
                "'/etc/passwd' must be a path inside the global resources folder",
            ),
            (
                "global_resources:\n  ../up.csv: input.csv\n",
                "'../up.csv' must be a path inside the report's folder",
            ),
            (
                "global_resources:\n  - ../../etc/passwd\n",
                "must be a path inside",
            ),
            (
                "global_resources:\n  a/./b.csv: input.csv\n",
                "inside the report's folder",
            ),
            ("global_resources: input.csv\n", "must map file names"),
            ("global_resources:\n  data.csv: [a]\n", "maps file names"),
            (
                "global_resources:\n  - a/x.csv\n  - b/x.csv\n",
                "'x.csv' is named twice",
            ),
        ] {
            let error = declared(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }

    #[test]
    fn files_are_copied_from_the_global_folder_at_the_commit() {
        let repo_dir = tempfile::tempdir().unwrap();
        let root = repo_dir.path();
        git(root, &["init", "-q", "-b", "main"]);
        write(root, "orderly_config.yml", "global_resources: global\n");
        write(root, "global/shared/input.csv", "a,b\n1,2\n");
        write(root, "global/dir/inner.txt", "x");
        write(root, "outside.txt", "secret");
        git(root, &["add", "."]);
        git(root, &["commit", "-q", "-m", "first"]);
        let first = git(root, &["rev-parse", "HEAD"]);
        write(root, "global/shared/input.csv", "changed\n");
        git(root, &["commit", "-q", "-am", "second"]);
        let repo = ReportsRepo::new(root);

        let out = tempfile::tempdir().unwrap();
        let copied = copy_into(
            &repo,
            &first,
            &[resource("in/data.csv", "shared/input.csv")],
            out.path(),
        )
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(out.path().join("in/data.csv")).unwrap(),
            "a,b\n1,2\n",
            "the file as it was at the run's commit"
        );
        assert_eq!(
            copied,
            vec![Copied {
                name: "in/data.csv".into(),
                source: "shared/input.csv".into(),
                md5: md5_hex(b"a,b\n1,2\n"),
            }]
        );

        for missing in ["shared/none.csv", "dir", "shared"] {
            let error = copy_into(&repo, &first, &[resource("x", missing)], out.path())
                .unwrap_err()
                .to_string();
            assert!(
                error.contains(&format!("'{missing}' is not a file of the global")),
                "{missing}: {error}"
            );
        }
        // Nothing outside the global folder, even when the declaration was not checked.
        let escaping = copy_into(
            &repo,
            &first,
            &[resource("x", "../outside.txt")],
            out.path(),
        );
        assert!(matches!(escaping, Err(GlobalError::Missing { .. })));
        assert!(!out.path().join("x").exists());

        write(root, "orderly_config.yml", "database: {}\n");
        git(root, &["commit", "-q", "-am", "no global folder"]);
        let head = git(root, &["rev-parse", "HEAD"]);
        let error = copy_into(&repo, &head, &[resource("data.csv", "a.csv")], out.path())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("'data.csv'") && error.contains("declares no 'global_resources'"),
            "{error}"
        );
        assert_eq!(copy_into(&repo, &head, &[], out.path()).unwrap(), vec![]);
    }
}

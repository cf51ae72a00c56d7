//! A report's `orderly.yml`: its script, artefacts, resources, data, dependencies and
//! parameters, read and checked.
//!
//! A parameter reaches the script as an environment variable of its name, so a parameter name
//! must be an identifier that no program reads as configuration: see
//! [`check_parameter_name`].

use serde_json::{Map, Value};
use serde_yaml::Value as Yaml;

use super::globals::{self, GlobalResource};
use crate::error::InvalidInput;
use crate::script_env;

/// Longest parameter name.
pub const MAX_PARAMETER_NAME: usize = 64;

/// Checks a report parameter's name, declared or asked for: an identifier (ASCII letters,
/// digits and `_`, not starting with a digit, at most [`MAX_PARAMETER_NAME`] characters),
/// since it becomes an environment variable, and not a name the script's environment already
/// gives a meaning (`PATH`, `HOME`, `LANG`, `LD_*`, `BATON_*`, `ORDERLY_*`, `PYTHON*`, `R_*`,
/// ...: see [`script_env::is_reserved_name`]), so that a parameter can never change how the
/// script or the programs it starts behave.
pub fn check_parameter_name(name: &str) -> Result<(), InvalidInput> {
    let mut chars = name.chars();
    let identifier = chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= MAX_PARAMETER_NAME;
    if !identifier {
        let shown: String = name.chars().take(MAX_PARAMETER_NAME).collect();
        return Err(InvalidInput::new(format!(
            "parameter name '{shown}' is not valid: use ASCII letters, digits and '_', not \
             starting with a digit, at most {MAX_PARAMETER_NAME} characters"
        )));
    }
    if script_env::is_reserved_name(name) {
        return Err(InvalidInput::new(format!(
            "parameter name '{name}' is reserved: the script's environment already gives it a \
             meaning (PATH, HOME, LANG, LC_*, LD_*, BATON_*, ORDERLY_*, PYTHON*, R_* and other \
             names programs read as configuration are taken)"
        )));
    }
    Ok(())
}

/// One declared artefact: its format and the files the script must produce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artefact {
    /// `staticgraph`, `interactivegraph`, `data`, `report` or `interactivehtml`.
    pub format: String,
    /// What it shows.
    pub description: Option<String>,
    /// Files, relative to the report's folder.
    pub filenames: Vec<String>,
}

/// Where a data query's SQL is: in `orderly.yml`, or in a `.sql` file of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuerySource {
    /// The SQL itself (`query: SELECT ...`).
    Sql(String),
    /// A file of the report's folder holding it (`query: extract.sql`).
    File(String),
}

/// A declared data extract: the result of a `query` run against one of the repository's
/// databases before the script starts, written as CSV (see
/// [`report_data`](crate::reports::data)); or, without a query, a CSV file that the script
/// writes (or the report's folder holds), optionally with an RDS form of the same data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDeclaration {
    /// The extract's name (`dat`).
    pub name: String,
    /// The CSV file, relative to the report's folder (for a query, `csv:` or `<name>.csv`).
    pub csv: String,
    /// The RDS file, relative to the report's folder, when the report makes one.
    pub rds: Option<String>,
    /// The query that makes the extract, if any.
    pub query: Option<QuerySource>,
    /// The database the query runs against (`None`: the repository's only one).
    pub database: Option<String>,
}

/// Which version of another report a dependency uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DependencyVersion {
    /// The newest version of the report, when the run starts.
    Latest,
    /// One version, by id.
    Id(String),
}

/// A declared dependency (`depends:`): files of another report's version, copied into the
/// report's folder before its script runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// The report depended on.
    pub report: String,
    /// Which of its versions.
    pub version: DependencyVersion,
    /// The files used: the name in this report's folder, and the artefact file it copies.
    pub uses: Vec<(String, String)>,
}

/// A declared parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    /// Its name.
    pub name: String,
    /// Its default; a parameter without one is required.
    pub default: Option<Value>,
}

/// A report's `orderly.yml`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportConfig {
    /// The program that runs the report, relative to its folder.
    pub script: String,
    /// Declared artefacts.
    pub artefacts: Vec<Artefact>,
    /// Files the script reads, relative to its folder.
    pub resources: Vec<String>,
    /// Declared parameters.
    pub parameters: Vec<Parameter>,
    /// Human-readable name.
    pub displayname: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Data extracts, in the order declared.
    pub data: Vec<DataDeclaration>,
    /// Author, when declared.
    pub author: Option<String>,
    /// Requester, when declared.
    pub requester: Option<String>,
    /// Other reports' artefacts this one uses, in the order declared.
    pub depends: Vec<Dependency>,
    /// Files of the repository's global resources folder this one uses
    /// (`global_resources:`), in the order declared.
    pub global_resources: Vec<GlobalResource>,
}

/// Artefact formats orderly knows.
pub const ARTEFACT_FORMATS: [&str; 5] = [
    "staticgraph",
    "interactivegraph",
    "data",
    "report",
    "interactivehtml",
];

fn text_list(value: &Yaml, what: &str) -> Result<Vec<String>, InvalidInput> {
    match value {
        Yaml::String(one) => Ok(vec![one.clone()]),
        Yaml::Sequence(many) => many
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| InvalidInput::new(format!("{what} must be file names")))
            })
            .collect(),
        Yaml::Null => Ok(Vec::new()),
        _ => Err(InvalidInput::new(format!(
            "{what} must be a file name or a list of them"
        ))),
    }
}

/// A path that names a file inside a report's folder: relative, with no empty, `.` or `..`
/// part. Artefacts, resources and data extracts are stored under such names.
pub fn is_path_inside_folder(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

fn file_list(value: Option<&Yaml>, what: &str) -> Result<Vec<String>, InvalidInput> {
    let names = value
        .map(|names| text_list(names, what))
        .transpose()?
        .unwrap_or_default();
    if let Some(outside) = names.iter().find(|name| !is_path_inside_folder(name)) {
        return Err(InvalidInput::new(format!(
            "{what}: '{outside}' must be a path inside the report's folder"
        )));
    }
    Ok(names)
}

fn optional_text(root: &Yaml, key: &str) -> Result<Option<String>, InvalidInput> {
    match root.get(key) {
        None | Some(Yaml::Null) => Ok(None),
        Some(Yaml::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(InvalidInput::new(format!("'{key}' must be text"))),
    }
}

fn json(value: &Yaml) -> Result<Value, InvalidInput> {
    serde_json::to_value(value)
        .map_err(|error| InvalidInput::new(format!("cannot be read as JSON: {error}")))
}

impl ReportConfig {
    /// Reads an `orderly.yml`; the error says what is wrong (with line and column for YAML
    /// syntax errors).
    pub fn parse(text: &str) -> Result<Self, InvalidInput> {
        let root: Yaml = serde_yaml::from_str(text).map_err(|error| {
            let at = error
                .location()
                .map(|location| {
                    format!(" at line {}, column {}", location.line(), location.column())
                })
                .unwrap_or_default();
            InvalidInput::new(format!("orderly.yml is not valid YAML{at}: {error}"))
        })?;
        if !root.is_mapping() {
            return Err(InvalidInput::new("orderly.yml must be a mapping"));
        }
        let script = optional_text(&root, "script")?
            .filter(|script| !script.trim().is_empty())
            .ok_or_else(|| InvalidInput::new("orderly.yml has no 'script'"))?;
        if script.starts_with('/') || script.split('/').any(|part| part == "..") {
            return Err(InvalidInput::new(
                "'script' must be a path inside the report's folder",
            ));
        }
        let resources = file_list(root.get("resources"), "'resources'")?;
        let global_resources = globals::parse_declared(root.get(globals::KEY))?;
        if let Some(both) = global_resources
            .iter()
            .find(|global| resources.contains(&global.name))
        {
            return Err(InvalidInput::new(format!(
                "'{}' is both a resource and a global resource",
                both.name
            )));
        }
        Ok(Self {
            script,
            artefacts: parse_artefacts(root.get("artefacts"))?,
            resources,
            parameters: parse_parameters(root.get("parameters"))?,
            displayname: optional_text(&root, "displayname")?,
            description: optional_text(&root, "description")?,
            data: parse_data(root.get("data"))?,
            author: optional_text(&root, "author")?,
            requester: optional_text(&root, "requester")?,
            depends: parse_depends(root.get("depends"))?,
            global_resources,
        })
    }

    /// Checks run parameters against the declared ones: every name is a valid, unreserved
    /// parameter name ([`check_parameter_name`]), every required parameter is given and
    /// nothing undeclared is. Returns the values with defaults filled in.
    pub fn check_parameters(
        &self,
        given: &Map<String, Value>,
    ) -> Result<Map<String, Value>, InvalidInput> {
        for name in given.keys() {
            check_parameter_name(name)?;
        }
        let undeclared: Vec<&str> = given
            .keys()
            .filter(|name| !self.parameters.iter().any(|p| &p.name == *name))
            .map(String::as_str)
            .collect();
        if !undeclared.is_empty() {
            return Err(InvalidInput::new(format!(
                "undeclared parameters: {}",
                undeclared.join(", ")
            )));
        }
        let missing: Vec<&str> = self
            .parameters
            .iter()
            .filter(|p| p.default.is_none() && !given.contains_key(&p.name))
            .map(|p| p.name.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(InvalidInput::new(format!(
                "missing parameters: {}",
                missing.join(", ")
            )));
        }
        let mut values = given.clone();
        for parameter in &self.parameters {
            if let (Some(default), false) =
                (&parameter.default, values.contains_key(&parameter.name))
            {
                values.insert(parameter.name.clone(), default.clone());
            }
        }
        Ok(values)
    }
}

fn parse_artefacts(value: Option<&Yaml>) -> Result<Vec<Artefact>, InvalidInput> {
    let entries: Vec<&Yaml> = match value {
        None | Some(Yaml::Null) => return Ok(Vec::new()),
        Some(Yaml::Sequence(list)) => list.iter().collect(),
        Some(single @ Yaml::Mapping(_)) => vec![single],
        Some(_) => {
            return Err(InvalidInput::new(
                "'artefacts' must be a list of {format: {description, filenames}}",
            ));
        }
    };
    let mut artefacts = Vec::new();
    for entry in entries {
        let Yaml::Mapping(entry) = entry else {
            return Err(InvalidInput::new(
                "each artefact must be {format: {description, filenames}}",
            ));
        };
        for (format, body) in entry {
            let format = format.as_str().unwrap_or_default().to_owned();
            if !ARTEFACT_FORMATS.contains(&format.as_str()) {
                return Err(InvalidInput::new(format!(
                    "unknown artefact format '{format}': use {}",
                    ARTEFACT_FORMATS.join(", ")
                )));
            }
            let filenames = file_list(body.get("filenames"), "artefact 'filenames'")?;
            if filenames.is_empty() {
                return Err(InvalidInput::new(format!(
                    "the {format} artefact has no 'filenames'"
                )));
            }
            artefacts.push(Artefact {
                format,
                description: optional_text(body, "description")?,
                filenames,
            });
        }
    }
    Ok(artefacts)
}

/// Reads `data:`: each extract maps to `{query: SQL or file.sql, database: name, csv: path}`
/// or, made by the script, `{csv: path, rds: path}`.
fn parse_data(value: Option<&Yaml>) -> Result<Vec<DataDeclaration>, InvalidInput> {
    let extracts = match value {
        None | Some(Yaml::Null) => return Ok(Vec::new()),
        Some(Yaml::Mapping(extracts)) => extracts,
        Some(_) => {
            return Err(InvalidInput::new(
                "'data' must map extract names to {csv, rds} files",
            ));
        }
    };
    extracts
        .iter()
        .map(|(name, extract)| {
            let name = name
                .as_str()
                .ok_or_else(|| InvalidInput::new("data names must be text"))?;
            if !extract.is_mapping() {
                return Err(InvalidInput::new(format!(
                    "data '{name}' must be a mapping with a 'csv' file"
                )));
            }
            let file = |key: &str| -> Result<Option<String>, InvalidInput> {
                let path = optional_text(extract, key).map_err(|_| {
                    InvalidInput::new(format!("data '{name}': '{key}' must be text"))
                })?;
                match path {
                    Some(path) if !is_path_inside_folder(&path) => Err(InvalidInput::new(format!(
                        "data '{name}': '{key}' must be a path inside the report's folder"
                    ))),
                    other => Ok(other),
                }
            };
            if !is_path_inside_folder(&format!("{name}.csv")) {
                return Err(InvalidInput::new(format!(
                    "data name '{name}' must be usable as a file name"
                )));
            }
            let query = optional_text(extract, "query")
                .map_err(|_| InvalidInput::new(format!("data '{name}': 'query' must be text")))?
                .map(|query| query.trim().to_owned())
                .filter(|query| !query.is_empty());
            let query = match query {
                Some(file) if file.ends_with(".sql") && !file.contains(char::is_whitespace) => {
                    if !is_path_inside_folder(&file) {
                        return Err(InvalidInput::new(format!(
                            "data '{name}': query file '{file}' must be inside the report's \
                             folder"
                        )));
                    }
                    Some(QuerySource::File(file))
                }
                Some(sql) => Some(QuerySource::Sql(sql)),
                None => None,
            };
            let csv = match (file("csv")?, &query) {
                (Some(csv), _) => csv,
                (None, Some(_)) => format!("{name}.csv"),
                (None, None) => {
                    return Err(InvalidInput::new(format!(
                        "data '{name}' needs a 'query' or a 'csv' file"
                    )));
                }
            };
            let database = optional_text(extract, "database").map_err(|_| {
                InvalidInput::new(format!("data '{name}': 'database' must be text"))
            })?;
            Ok(DataDeclaration {
                name: name.to_owned(),
                csv,
                rds: file("rds")?,
                query,
                database,
            })
        })
        .collect()
}

/// Reads `depends:`, a mapping (or a list of one-entry mappings) from report names to
/// `{id: latest | VERSION_ID, use: {local_name: artefact_file}}`.
fn parse_depends(value: Option<&Yaml>) -> Result<Vec<Dependency>, InvalidInput> {
    let entries: Vec<(&Yaml, &Yaml)> = match value {
        None | Some(Yaml::Null) => return Ok(Vec::new()),
        Some(Yaml::Mapping(map)) => map.iter().collect(),
        Some(Yaml::Sequence(list)) => list
            .iter()
            .map(|item| match item {
                Yaml::Mapping(map) if map.len() == 1 => Ok(map.iter().next().expect("one")),
                _ => Err(InvalidInput::new(
                    "each 'depends' entry must be {report: {id, use}}",
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(InvalidInput::new(
                "'depends' must map report names to {id, use}",
            ));
        }
    };
    entries
        .into_iter()
        .map(|(report, body)| {
            let report = report
                .as_str()
                .filter(|name| crate::reports::repo::valid_report_name(name))
                .ok_or_else(|| InvalidInput::new("'depends' must name reports"))?;
            let version = match optional_text(body, "id")
                .map_err(|_| InvalidInput::new(format!("depends '{report}': 'id' must be text")))?
                .as_deref()
            {
                None | Some("latest") => DependencyVersion::Latest,
                Some(id) if crate::reports::version::is_version_id(id) => {
                    DependencyVersion::Id(id.to_owned())
                }
                Some(other) => {
                    return Err(InvalidInput::new(format!(
                        "depends '{report}': id '{other}' is neither 'latest' nor a version id"
                    )));
                }
            };
            let Some(Yaml::Mapping(uses)) = body.get("use") else {
                return Err(InvalidInput::new(format!(
                    "depends '{report}' needs 'use': {{local_name: artefact_file}}"
                )));
            };
            let uses = uses
                .iter()
                .map(|(local, file)| {
                    let (Some(local), Some(file)) = (local.as_str(), file.as_str()) else {
                        return Err(InvalidInput::new(format!(
                            "depends '{report}': 'use' maps file names to file names"
                        )));
                    };
                    if !is_path_inside_folder(local) || !is_path_inside_folder(file) {
                        return Err(InvalidInput::new(format!(
                            "depends '{report}': '{local}' and '{file}' must be paths inside \
                             the reports' folders"
                        )));
                    }
                    Ok((local.to_owned(), file.to_owned()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Dependency {
                report: report.to_owned(),
                version,
                uses,
            })
        })
        .collect()
}

fn parse_parameters(value: Option<&Yaml>) -> Result<Vec<Parameter>, InvalidInput> {
    let parameters: Vec<Parameter> = match value {
        None | Some(Yaml::Null) => Vec::new(),
        Some(Yaml::Sequence(names)) => names
            .iter()
            .map(|name| {
                name.as_str()
                    .map(|name| Parameter {
                        name: name.to_owned(),
                        default: None,
                    })
                    .ok_or_else(|| InvalidInput::new("parameter names must be text"))
            })
            .collect::<Result<_, _>>()?,
        Some(Yaml::Mapping(declared)) => declared
            .iter()
            .map(|(name, spec)| {
                let name = name
                    .as_str()
                    .ok_or_else(|| InvalidInput::new("parameter names must be text"))?;
                let default = spec.get("default").map(json).transpose()?;
                Ok(Parameter {
                    name: name.to_owned(),
                    default,
                })
            })
            .collect::<Result<_, InvalidInput>>()?,
        Some(_) => {
            return Err(InvalidInput::new(
                "'parameters' must be a list of names or a mapping",
            ));
        }
    };
    for parameter in &parameters {
        check_parameter_name(&parameter.name)?;
    }
    Ok(parameters)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const FULL: &str = "script: script.sh\nartefacts:\n  - staticgraph:\n      description: A graph of things\n      filenames: mygraph.png\n  - data:\n      description: Tables\n      filenames: [a.csv, b.csv]\nresources:\n  - source/inputdata.csv\nparameters:\n  - param1\n  - param2\ndisplayname: Minimal example\ndescription: The simplest report\ndata:\n  extract:\n    query: SELECT 1\n    csv: extract.csv\n  other:\n    csv: out/other.csv\n    rds: out/other.rds\nauthor: Researcher McResearcherface\n";

    #[test]
    fn a_full_orderly_yml_is_read() {
        let config = ReportConfig::parse(FULL).unwrap();
        assert_eq!(config.script, "script.sh");
        assert_eq!(config.artefacts.len(), 2);
        assert_eq!(config.artefacts[0].format, "staticgraph");
        assert_eq!(config.artefacts[0].filenames, vec!["mygraph.png"]);
        assert_eq!(config.artefacts[1].filenames, vec!["a.csv", "b.csv"]);
        assert_eq!(config.resources, vec!["source/inputdata.csv"]);
        assert_eq!(config.parameters.len(), 2);
        assert_eq!(config.displayname.as_deref(), Some("Minimal example"));
        assert_eq!(
            config.data,
            vec![
                DataDeclaration {
                    name: "extract".into(),
                    csv: "extract.csv".into(),
                    rds: None,
                    query: Some(QuerySource::Sql("SELECT 1".into())),
                    database: None,
                },
                DataDeclaration {
                    name: "other".into(),
                    csv: "out/other.csv".into(),
                    rds: Some("out/other.rds".into()),
                    query: None,
                    database: None,
                },
            ]
        );
        assert_eq!(
            config.author.as_deref(),
            Some("Researcher McResearcherface")
        );
    }

    #[test]
    fn data_queries_name_their_sql_or_file_and_database() {
        let config = ReportConfig::parse(
            "script: s.sh\ndata:\n  dat:\n    query: extract.sql\n    database: source\n  \
             inline:\n    query: SELECT name FROM thing WHERE x = 'a.sql'\n",
        )
        .unwrap();
        assert_eq!(
            config.data[0].query,
            Some(QuerySource::File("extract.sql".into()))
        );
        assert_eq!(config.data[0].database.as_deref(), Some("source"));
        assert_eq!(config.data[0].csv, "dat.csv");
        assert!(matches!(config.data[1].query, Some(QuerySource::Sql(_))));
        for (text, expected) in [
            (
                "script: s.sh\ndata:\n  x: {query: ../up.sql}\n",
                "inside the report",
            ),
            (
                "script: s.sh\ndata:\n  x: {database: source}\n",
                "needs a 'query' or a 'csv'",
            ),
        ] {
            let error = ReportConfig::parse(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{error}");
        }
    }

    #[test]
    fn dependencies_name_a_report_a_version_and_the_files_they_use() {
        let config = ReportConfig::parse(
            "script: s.sh\ndepends:\n  other:\n    id: latest\n    use: {input.csv: out.csv}\n",
        )
        .unwrap();
        assert_eq!(
            config.depends,
            vec![Dependency {
                report: "other".into(),
                version: DependencyVersion::Latest,
                uses: vec![("input.csv".into(), "out.csv".into())],
            }]
        );
        let listed = ReportConfig::parse(
            "script: s.sh\ndepends:\n  - other:\n      id: 20161006-142357-e80edf58\n      use: {a: b}\n",
        )
        .unwrap();
        assert_eq!(
            listed.depends[0].version,
            DependencyVersion::Id("20161006-142357-e80edf58".into())
        );
        for (text, expected) in [
            (
                "script: s.sh\ndepends:\n  other: {id: yesterday, use: {a: b}}\n",
                "neither",
            ),
            (
                "script: s.sh\ndepends:\n  other: {id: latest}\n",
                "needs 'use'",
            ),
            (
                "script: s.sh\ndepends:\n  other: {use: {../a: b}}\n",
                "inside",
            ),
        ] {
            let error = ReportConfig::parse(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{error}");
        }
    }

    #[test]
    fn global_resources_are_read_in_both_forms() {
        let mapped = ReportConfig::parse(
            "script: s.sh\nresources: [a.csv]\nglobal_resources:\n  data.csv: shared/input.csv\n",
        )
        .unwrap();
        assert_eq!(
            mapped.global_resources,
            vec![GlobalResource {
                name: "data.csv".into(),
                source: "shared/input.csv".into(),
            }]
        );
        let listed =
            ReportConfig::parse("script: s.sh\nglobal_resources: [shared/input.csv]\n").unwrap();
        assert_eq!(listed.global_resources[0].name, "input.csv");
        assert!(
            ReportConfig::parse("script: s.sh\n")
                .unwrap()
                .global_resources
                .is_empty()
        );
        for (text, expected) in [
            (
                "script: s.sh\nglobal_resources:\n  data.csv: ../../etc/passwd\n",
                "inside the global resources folder",
            ),
            (
                "script: s.sh\nresources: [data.csv]\nglobal_resources: {data.csv: x.csv}\n",
                "'data.csv' is both a resource and a global resource",
            ),
        ] {
            let error = ReportConfig::parse(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }

    #[test]
    fn broken_files_say_what_is_wrong() {
        for (text, expected) in [
            ("script: [", "not valid YAML at line"),
            ("artefacts: []\n", "no 'script'"),
            ("script: ../../etc/passwd\n", "inside the report's folder"),
            (
                "script: s.sh\nartefacts:\n  - movie: {filenames: a.mp4}\n",
                "unknown artefact format 'movie'",
            ),
            (
                "script: s.sh\nartefacts:\n  - data: {description: x}\n",
                "has no 'filenames'",
            ),
            ("script: s.sh\nparameters: 3\n", "'parameters' must be"),
            (
                "script: s.sh\ndata:\n  dat: SELECT 1\n",
                "data 'dat' must be",
            ),
            ("script: s.sh\ndata: [a]\n", "'data' must map"),
            (
                "script: s.sh\ndata:\n  dat: {csv: ../secret.csv}\n",
                "data 'dat': 'csv' must be a path inside",
            ),
            (
                "script: s.sh\ndata:\n  dat: {csv: a.csv, rds: /etc/x.rds}\n",
                "data 'dat': 'rds' must be a path inside",
            ),
            (
                "script: s.sh\nresources: [../../etc/passwd]\n",
                "'../../etc/passwd' must be a path inside",
            ),
            (
                "script: s.sh\nartefacts:\n  - data: {filenames: /tmp/out.csv}\n",
                "'/tmp/out.csv' must be a path inside",
            ),
        ] {
            let error = ReportConfig::parse(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }

    #[test]
    fn parameters_must_be_declared_and_required_ones_given() {
        let config =
            ReportConfig::parse("script: s.sh\nparameters:\n  a: ~\n  b: {default: 2}\n").unwrap();
        let given = |value: Value| value.as_object().unwrap().clone();
        assert_eq!(
            config.check_parameters(&given(json!({"a": 1}))).unwrap(),
            given(json!({"a": 1, "b": 2}))
        );
        assert!(
            config
                .check_parameters(&given(json!({})))
                .unwrap_err()
                .to_string()
                .contains("missing parameters: a")
        );
        assert!(
            config
                .check_parameters(&given(json!({"a": 1, "c": 3})))
                .unwrap_err()
                .to_string()
                .contains("undeclared parameters: c")
        );
    }

    #[test]
    fn parameter_names_are_unreserved_identifiers() {
        for name in ["nmin", "label", "_x", "a1", "path", "r_version"] {
            assert_eq!(check_parameter_name(name), Ok(()), "{name}");
        }
        for name in ["", "1a", "a-b", "a b", "a.b", "é", &"a".repeat(65)] {
            let error = check_parameter_name(name).unwrap_err().to_string();
            assert!(error.contains("is not valid"), "{name:?}: {error}");
        }
        for name in [
            "PATH",
            "HOME",
            "LANG",
            "LD_PRELOAD",
            "BATON_MASTER_KEY",
            "ORDERLY_VERSION",
        ] {
            let error = check_parameter_name(name).unwrap_err().to_string();
            assert!(error.contains("is reserved"), "{name}: {error}");
        }
    }

    #[test]
    fn reserved_parameter_names_are_refused_in_orderly_yml_and_in_runs() {
        for text in [
            "script: s.sh\nparameters: [nmin, LD_PRELOAD]\n",
            "script: s.sh\nparameters:\n  PATH: {default: /tmp}\n",
            "script: s.sh\nparameters:\n  bad-name: ~\n",
        ] {
            let error = ReportConfig::parse(text).unwrap_err().to_string();
            assert!(error.starts_with("parameter name '"), "{text:?}: {error}");
        }
        let config = ReportConfig::parse("script: s.sh\nparameters: [nmin]\n").unwrap();
        for name in ["PATH", "LD_PRELOAD", "BATON_PAYLOAD", "x=y"] {
            let mut given = Map::new();
            given.insert(name.to_owned(), json!("/tmp/evil"));
            let error = config.check_parameters(&given).unwrap_err().to_string();
            assert!(error.contains(&format!("'{name}'")), "{name}: {error}");
        }
    }
}

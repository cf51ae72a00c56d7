//! A workflow's payload JSON Schema: read inline or from a file under `schemas/`, and compiled
//! once into a [`PayloadSchema`] that names each problem of a payload.

use std::path::{Component, Path};
use std::sync::Arc;

use serde_json::Value;
use serde_yaml::Value as Yaml;

use super::yaml::{describe, to_json};

/// A workflow's payload JSON Schema, compiled once when its definition loads; an invalid
/// schema is a load error naming the workflow. Cheap to clone (the validator is shared).
#[derive(Clone)]
pub struct PayloadSchema {
    /// The schema as written.
    json: Value,
    /// The compiled validator.
    validator: Arc<jsonschema::Validator>,
}

impl PayloadSchema {
    /// Compiles `json`; the error says why it is not a valid JSON Schema.
    pub fn compile(json: Value) -> Result<Self, String> {
        let validator = jsonschema::validator_for(&json)
            .map_err(|error| format!("'schema' is not a valid JSON Schema: {error}"))?;
        Ok(Self {
            json,
            validator: Arc::new(validator),
        })
    }

    /// The schema as written, for `GET /api/definitions`.
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// What is wrong with `payload`, each problem named with its JSON path from `payload`
    /// (`payload/name: 1 is not of type "string"`); empty when it is valid.
    pub fn problems(&self, payload: &Value) -> Vec<String> {
        self.validator
            .iter_errors(payload)
            .map(|error| format!("payload{}: {error}", error.instance_path))
            .collect()
    }
}

impl PartialEq for PayloadSchema {
    fn eq(&self, other: &Self) -> bool {
        self.json == other.json
    }
}

impl std::fmt::Debug for PayloadSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PayloadSchema").field(&self.json).finish()
    }
}

/// Reads `schema`: a JSON Schema inline, or the name of a file under `dir/schemas/`.
pub(super) fn read_schema(dir: &Path, value: &Yaml) -> Result<Value, String> {
    let schema = match value {
        Yaml::String(name) => read_schema_file(dir, name)?,
        Yaml::Mapping(_) | Yaml::Bool(_) => to_json(value)?,
        other => {
            return Err(format!(
                "'schema' must be a JSON Schema or a file name under schemas/, not {}",
                describe(other)
            ));
        }
    };
    if schema.is_object() || schema.is_boolean() {
        Ok(schema)
    } else {
        Err("'schema' must be a JSON Schema: an object (or a boolean)".into())
    }
}

/// Reads the schema file `name` (JSON or YAML) under `dir/schemas/`; `.json` is added to a
/// name without an extension.
fn read_schema_file(dir: &Path, name: &str) -> Result<Value, String> {
    let relative = Path::new(name);
    let plain = !name.is_empty()
        && relative
            .components()
            .all(|component| matches!(component, Component::Normal(_)));
    if !plain {
        return Err(format!(
            "schema file '{name}' must be a file name under schemas/"
        ));
    }
    let mut path = dir.join("schemas").join(relative);
    if path.extension().is_none() && !path.is_file() {
        path.set_extension("json");
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|error| format!("cannot read the schema file {}: {error}", path.display()))?;
    let yaml: Yaml = serde_yaml::from_str(&text).map_err(|error| {
        let at = error.location().map_or(String::new(), |location| {
            format!(":{}:{}", location.line(), location.column())
        });
        format!("invalid schema file {}{at}: {error}", path.display())
    })?;
    to_json(&yaml).map_err(|error| format!("schema file {}: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use serde_json::json;

    use crate::workflows::load::{load_dir, load_documents};
    use crate::workflows::tests::{error_in, workflow};

    #[test]
    fn schemas_inline_and_from_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("schemas")).unwrap();
        std::fs::write(
            dir.path().join("schemas/a.json"),
            r#"{"type": "object", "properties": {"n": {"type": "integer"}}}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("schemas/b.yaml"),
            "type: object\nrequired: [source]\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("flows.yml"),
            "handlers: [X]\np.INLINE:\n  tasks: [X]\n  schema:\n    type: object\n    properties: {source: {type: string}}\n    required: [source]\n\
             p.JSON:\n  tasks: [X]\n  schema: a.json\np.NOEXT:\n  tasks: [X]\n  schema: a\np.YAML:\n  tasks: [X]\n  schema: b.yaml\n",
        )
        .unwrap();
        let workflows = load_dir(dir.path()).unwrap();
        let schema = |name: &str| {
            workflow(&workflows, name)
                .schema
                .as_ref()
                .map(|s| s.json().clone())
        };
        assert_eq!(
            schema("p.INLINE"),
            Some(
                json!({"type": "object", "properties": {"source": {"type": "string"}}, "required": ["source"]})
            )
        );
        let a = json!({"type": "object", "properties": {"n": {"type": "integer"}}});
        assert_eq!(schema("p.JSON"), Some(a.clone()));
        assert_eq!(schema("p.NOEXT"), Some(a));
        assert_eq!(
            schema("p.YAML"),
            Some(json!({"type": "object", "required": ["source"]}))
        );

        std::fs::write(
            dir.path().join("flows.yml"),
            "p.A:\n  tasks: [X]\n\np.MISSING:\n  tasks: [X]\n  schema: nope.json\n",
        )
        .unwrap();
        let error = load_dir(dir.path()).unwrap_err().to_string();
        assert!(
            error.contains("flows.yml:4:1: workflow 'p.MISSING': cannot read the schema file"),
            "{error}"
        );
        for (schema, expected) in [
            ("../secret.json", "must be a file name under schemas/"),
            ("[1]", "'schema' must be a JSON Schema"),
            (
                "{type: object, properties: {n: {type: 12}}}",
                "workflow 'p.A': 'schema' is not a valid JSON Schema",
            ),
        ] {
            let error = error_in(
                dir.path(),
                &format!("p.A:\n  tasks: [X]\n  schema: {schema}\n"),
            );
            assert!(error.contains(expected), "{schema}: {error}");
        }
    }

    #[test]
    fn a_compiled_schema_names_each_problem_with_its_json_path() {
        let dir = tempfile::tempdir().unwrap();
        let workflows = load_documents(
            dir.path(),
            &[(
                PathBuf::from("x.yml"),
                "p.A:\n  tasks: [noop]\n  schema:\n    type: object\n    properties: {name: {type: string}, items: {type: array, items: {type: integer}}}\n    required: [name]\n".to_owned(),
            )],
        )
        .unwrap();
        let schema = workflow(&workflows, "p.A").schema.as_ref().unwrap();
        assert!(
            schema
                .problems(&json!({"name": "x", "items": [1]}))
                .is_empty()
        );
        let problems = schema.problems(&json!({"name": 1, "items": [1, "two"]}));
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems.iter().any(|p| p.starts_with("payload/name: ")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.starts_with("payload/items/1: ")),
            "{problems:?}"
        );
        let missing = schema.problems(&json!({}));
        assert!(
            missing[0].starts_with("payload: ") && missing[0].contains("name"),
            "{missing:?}"
        );
    }
}

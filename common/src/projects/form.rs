//! A human step's form: the JSON Schema its submitted `task_data` must match, declared as the
//! step's `form:` in its workflow file, compiled when the workflow loads and checked on every
//! submission (by the API and the console alike, through the same call).
//!
//! The schema describes an object (`type: object`): the task data is always one. The console
//! draws its properties as fields ([`StepForm::json`] is what it reads); the check here is the
//! one that counts, whatever a browser did before.

use std::sync::Arc;

use serde_json::Value;

/// The root every problem's path starts from: the submission's `task_data`.
pub const TASK_DATA: &str = "task_data";

/// A human step's form schema, compiled. Cheap to clone (the validator is shared).
#[derive(Clone)]
pub struct StepForm {
    /// The schema as written.
    json: Value,
    /// The names of its top-level properties in the order the file lists them (JSON objects
    /// keep no order).
    order: Vec<String>,
    /// The compiled validator.
    validator: Arc<jsonschema::Validator>,
}

impl StepForm {
    /// Compiles `json`; the error says why it is not a usable form (not an object's schema,
    /// or not a valid JSON Schema).
    pub fn compile(json: Value) -> Result<Self, String> {
        let Some(schema) = json.as_object() else {
            return Err("'form' must be a JSON Schema (a mapping), such as {type: object, properties: {...}}".into());
        };
        match schema.get("type") {
            Some(Value::String(kind)) if kind == "object" => {}
            None if schema.contains_key("properties") => {}
            _ => {
                return Err(
                    "'form' must describe an object (type: object): the task data is one".into(),
                );
            }
        }
        let validator = jsonschema::validator_for(&json)
            .map_err(|error| format!("'form' is not a valid JSON Schema: {error}"))?;
        Ok(Self {
            json,
            order: Vec::new(),
            validator: Arc::new(validator),
        })
    }

    /// Compiles a form as its workflow file wrote it, keeping the order of its properties.
    pub fn from_yaml(yaml: &serde_yaml::Value) -> Result<Self, String> {
        let json = serde_json::to_value(yaml)
            .map_err(|error| format!("'form' cannot be read as JSON: {error}"))?;
        let order = yaml
            .get("properties")
            .and_then(serde_yaml::Value::as_mapping)
            .map(|properties| {
                properties
                    .keys()
                    .filter_map(serde_yaml::Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            order,
            ..Self::compile(json)?
        })
    }

    /// The schema as written.
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// The names of the top-level properties in the order the file lists them (empty for a
    /// form not read from a file).
    pub fn property_order(&self) -> &[String] {
        &self.order
    }

    /// What is wrong with `data`, each problem named with its path from `task_data`
    /// (`task_data/score: "high" is not of type "integer"`); a missing required property is
    /// named at its own path (`task_data/reason: "reason" is a required property`), so that
    /// the console shows it next to its field. Empty when `data` is valid.
    pub fn problems(&self, data: &Value) -> Vec<String> {
        self.validator
            .iter_errors(data)
            .map(|error| {
                let mut path = error.instance_path.as_str().to_owned();
                if let jsonschema::error::ValidationErrorKind::Required {
                    property: Value::String(name),
                } = &error.kind
                {
                    path.push('/');
                    path.push_str(&name.replace('~', "~0").replace('/', "~1"));
                }
                format!("{TASK_DATA}{path}: {error}")
            })
            .collect()
    }
}

impl PartialEq for StepForm {
    fn eq(&self, other: &Self) -> bool {
        self.json == other.json
    }
}

impl std::fmt::Debug for StepForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("StepForm").field(&self.json).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn review_form() -> StepForm {
        StepForm::compile(json!({
            "type": "object",
            "required": ["verdict"],
            "properties": {
                "verdict": {"enum": ["accept", "reject"]},
                "score": {"type": "integer", "minimum": 1, "maximum": 5},
                "notes": {"type": "string", "format": "textarea"},
                "tags": {"type": "array", "items": {"type": "string"}}
            },
            "if": {"properties": {"verdict": {"const": "reject"}}},
            "then": {"required": ["reason"]}
        }))
        .unwrap()
    }

    #[test]
    fn valid_data_has_no_problems_and_unknown_formats_are_only_hints() {
        let form = review_form();
        let data = json!({"verdict": "accept", "score": 4, "notes": "fine", "tags": ["a"]});
        assert_eq!(form.problems(&data), Vec::<String>::new());
    }

    #[test]
    fn problems_name_their_field_from_task_data() {
        let form = review_form();
        let problems = form.problems(&json!({"score": "high", "tags": ["a", 3]}));
        assert!(
            problems.contains(&"task_data/verdict: \"verdict\" is a required property".into()),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|problem| problem.starts_with("task_data/score: ")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|problem| problem.starts_with("task_data/tags/1: ")),
            "{problems:?}"
        );
        let rejected = form.problems(&json!({"verdict": "reject"}));
        assert_eq!(
            rejected,
            vec!["task_data/reason: \"reason\" is a required property".to_owned()]
        );
    }

    #[test]
    fn forms_must_be_valid_schemas_of_objects() {
        let not_object = StepForm::compile(json!({"type": "string"})).unwrap_err();
        assert!(not_object.contains("describe an object"), "{not_object}");
        let not_mapping = StepForm::compile(json!(["a"])).unwrap_err();
        assert!(not_mapping.contains("mapping"), "{not_mapping}");
        let invalid =
            StepForm::compile(json!({"type": "object", "properties": {"a": {"type": 12}}}))
                .unwrap_err();
        assert!(invalid.contains("not a valid JSON Schema"), "{invalid}");
        assert!(StepForm::compile(json!({"properties": {}})).is_ok());
    }

    #[test]
    fn a_form_read_from_yaml_keeps_its_properties_in_order() {
        let yaml: serde_yaml::Value = serde_yaml::from_str(
            "type: object\nproperties:\n  zeta: {type: string}\n  alpha: {type: integer}\n  mid: {type: boolean}\n",
        )
        .unwrap();
        let form = StepForm::from_yaml(&yaml).unwrap();
        assert_eq!(form.property_order(), ["zeta", "alpha", "mid"]);
        assert_eq!(form.json()["properties"]["alpha"]["type"], "integer");
        assert_eq!(form.problems(&json!({"alpha": "x"})).len(), 1);
    }
}

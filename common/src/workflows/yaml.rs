//! Reading YAML values, shared by every block's reader: what a value is (for messages), a
//! value as JSON, the keys a mapping may have, and the rule for task names.

use serde_json::Value;
use serde_yaml::Value as Yaml;

/// The longest task name.
const MAX_TASK_NAME: usize = 128;

/// What a YAML value is, for messages.
pub(super) fn describe(value: &Yaml) -> &'static str {
    match value {
        Yaml::Null => "an empty value",
        Yaml::Bool(_) => "a boolean",
        Yaml::Number(_) => "a number",
        Yaml::String(_) => "a string",
        Yaml::Sequence(_) => "a list",
        Yaml::Mapping(_) => "a mapping",
        Yaml::Tagged(_) => "a tagged value",
    }
}

/// The value as JSON.
pub(super) fn to_json(value: &Yaml) -> Result<Value, String> {
    serde_json::to_value(value).map_err(|error| format!("cannot be read as JSON: {error}"))
}

/// Checks a task name: 1 to [`MAX_TASK_NAME`] ASCII letters, digits, `_`, `-` or `.`.
pub(super) fn check_task_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= MAX_TASK_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "invalid task name '{name}': use 1-{MAX_TASK_NAME} letters, digits, '_', '-' or '.'"
        ))
    }
}

/// Checks that a mapping has only `allowed` keys.
pub(super) fn check_keys(
    mapping: &serde_yaml::Mapping,
    allowed: &[&str],
    what: &str,
) -> Result<(), String> {
    for key in mapping.keys() {
        match key.as_str() {
            Some(key) if allowed.contains(&key) => {}
            Some(key) => {
                return Err(format!(
                    "unknown key '{key}' in {what} (known: {})",
                    allowed.join(", ")
                ));
            }
            None => return Err(format!("{what} has a key that is {}", describe(key))),
        }
    }
    Ok(())
}

//! How a report's script is started, the same way by the worker's `report` executor and by
//! `baton-worker bundle run`: its argv, and the variables carrying the run's parameters,
//! added to the explicit environment that [`script_env`](crate::script_env) describes.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

/// How the script is started from the report's folder: directly when it is executable, else
/// by the interpreter its extension names (`python3` for `.py`, `Rscript` for `.R`, else
/// `sh`).
pub fn argv(dir: &Path, script: &str) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let executable = std::fs::metadata(dir.join(script))
        .is_ok_and(|meta| meta.permissions().mode() & 0o111 != 0);
    let relative = format!("./{script}");
    if executable {
        return vec![relative];
    }
    let interpreter = match Path::new(script).extension().and_then(|e| e.to_str()) {
        Some("py") => "python3",
        Some("R" | "r") => "Rscript",
        _ => "sh",
    };
    vec![interpreter.to_owned(), relative]
}

/// A parameter's value as the script sees it in its environment: text as is, anything else
/// as JSON.
fn env_value(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The script's extra environment: one variable per parameter, plus `ORDERLY_VERSION`,
/// `ORDERLY_PARAMETERS` and `ORDERLY_INSTANCES` (both JSON objects).
pub fn environment(
    parameters: &Map<String, Value>,
    version: &str,
    instances: &Map<String, Value>,
) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = parameters
        .iter()
        .map(|(name, value)| (name.clone(), env_value(value)))
        .collect();
    env.insert("ORDERLY_VERSION".into(), version.to_owned());
    env.insert(
        "ORDERLY_PARAMETERS".into(),
        Value::Object(parameters.clone()).to_string(),
    );
    env.insert(
        "ORDERLY_INSTANCES".into(),
        Value::Object(instances.clone()).to_string(),
    );
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parameters_and_run_facts_reach_the_environment() {
        let parameters = json!({"n": 7, "label": "a b"});
        let instances = json!({"source": "production"});
        let env = environment(
            parameters.as_object().unwrap(),
            "20240102-030405-0a1b2c3d",
            instances.as_object().unwrap(),
        );
        assert_eq!(env["n"], "7");
        assert_eq!(env["label"], "a b");
        assert_eq!(env["ORDERLY_VERSION"], "20240102-030405-0a1b2c3d");
        assert_eq!(
            serde_json::from_str::<Value>(&env["ORDERLY_PARAMETERS"]).unwrap(),
            parameters
        );
        assert_eq!(
            serde_json::from_str::<Value>(&env["ORDERLY_INSTANCES"]).unwrap(),
            instances
        );
    }

    #[test]
    fn scripts_run_directly_or_through_their_interpreter() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("run.sh"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(
            dir.path().join("run.sh"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        std::fs::write(dir.path().join("script.R"), "1\n").unwrap();
        assert_eq!(argv(dir.path(), "run.sh"), vec!["./run.sh"]);
        assert_eq!(argv(dir.path(), "script.R"), vec!["Rscript", "./script.R"]);
        assert_eq!(argv(dir.path(), "go.py"), vec!["python3", "./go.py"]);
        assert_eq!(argv(dir.path(), "other"), vec!["sh", "./other"]);
    }
}

//! How a task is executed: the engine's own executors (a program, an HTTP call, a registered
//! handler, a person) and work a domain defines (a report run, a release call), which the
//! engine stores and delivers without knowing its shape.
//!
//! Stored as JSON with the task (`{"type": "command", "argv": [...]}`) and parsed by the worker
//! when it runs, so an unknown type fails that task instead of the worker.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// How a task is executed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Value", into = "Value")]
pub enum ExecutorSpec {
    /// Runs a program.
    Command(CommandSpec),
    /// POSTs the task input as JSON to a URL.
    Http(HttpSpec),
    /// Calls a Rust handler registered on the worker under `name`.
    Handler {
        /// The registered handler's name.
        name: String,
    },
    /// Waits for a person (a human step of a project): its jobs go to a human queue, which
    /// workers never consume; people claim and submit them through the projects API.
    Human,
    /// Work a domain defines: the worker's executor for its `type` decodes it.
    Domain(DomainCall),
}

/// The engine's own executors as stored: tagged by `type`, no unknown fields.
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
enum EngineExecutor {
    Command(CommandSpec),
    Http(HttpSpec),
    Handler { name: String },
    Human,
}

/// The `type`s the engine executes itself.
const ENGINE_TYPES: [&str; 4] = ["command", "http", "handler", "human"];

/// The `type`s a workflow or project definition may declare.
const DECLARED_TYPES: [&str; 3] = ["command", "http", "handler"];

/// A domain's unit of work as the engine carries it: its `type` and its fields, opaque here.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainCall {
    /// The `type` naming the domain executor (`report`, `release`, ...).
    pub kind: String,
    /// Its fields (without `type`).
    pub fields: Map<String, Value>,
}

/// A payload a domain defines and a worker's executor of that domain decodes.
pub trait DomainPayload: Serialize + DeserializeOwned {
    /// The executor `type` it is stored under.
    const KIND: &'static str;

    /// The executor running it.
    fn executor(&self) -> Result<ExecutorSpec, serde_json::Error> {
        let Value::Object(fields) = serde_json::to_value(self)? else {
            return Err(serde::ser::Error::custom(format!(
                "a {} payload must be a JSON object",
                Self::KIND
            )));
        };
        Ok(ExecutorSpec::Domain(DomainCall {
            kind: Self::KIND.to_owned(),
            fields,
        }))
    }

    /// Decodes it from a call of its kind.
    fn decode(call: &DomainCall) -> Result<Self, serde_json::Error> {
        if call.kind != Self::KIND {
            return Err(serde::de::Error::custom(format!(
                "a '{}' executor is not a '{}' one",
                call.kind,
                Self::KIND
            )));
        }
        serde_json::from_value(Value::Object(call.fields.clone()))
    }
}

impl TryFrom<Value> for ExecutorSpec {
    type Error = String;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        let kind = match value.get("type") {
            Some(Value::String(kind)) => kind.clone(),
            Some(other) => return Err(format!("'type' must be a string, not {other}")),
            None => return Err("missing field `type`".into()),
        };
        if ENGINE_TYPES.contains(&kind.as_str()) {
            let engine: EngineExecutor =
                serde_json::from_value(value).map_err(|error| error.to_string())?;
            return Ok(match engine {
                EngineExecutor::Command(command) => Self::Command(command),
                EngineExecutor::Http(http) => Self::Http(http),
                EngineExecutor::Handler { name } => Self::Handler { name },
                EngineExecutor::Human => Self::Human,
            });
        }
        let Value::Object(mut fields) = value else {
            unreachable!("a value with a 'type' field is an object")
        };
        fields.remove("type");
        Ok(Self::Domain(DomainCall { kind, fields }))
    }
}

impl From<ExecutorSpec> for Value {
    fn from(spec: ExecutorSpec) -> Self {
        let engine = match spec {
            ExecutorSpec::Command(command) => EngineExecutor::Command(command),
            ExecutorSpec::Http(http) => EngineExecutor::Http(http),
            ExecutorSpec::Handler { name } => EngineExecutor::Handler { name },
            ExecutorSpec::Human => EngineExecutor::Human,
            ExecutorSpec::Domain(DomainCall { kind, mut fields }) => {
                fields.insert("type".into(), Value::String(kind));
                return Value::Object(fields);
            }
        };
        serde_json::to_value(engine).unwrap_or(Value::Null)
    }
}

impl ExecutorSpec {
    /// Checks an executor a workflow or project definition declares: a mapping whose `type`
    /// is `command`, `http` or `handler`, with a program, a URL or a handler name. Every
    /// loader uses it, so a definition is refused the same way wherever it comes from.
    pub fn parse_declared(spec: &Value) -> Result<Self, String> {
        match spec.get("type").and_then(Value::as_str) {
            Some(kind) if DECLARED_TYPES.contains(&kind) => {}
            Some(other) => {
                return Err(format!(
                    "unknown type '{other}': use command, http or handler"
                ));
            }
            None => return Err("needs a 'type': command, http or handler".into()),
        }
        let parsed: Self =
            serde_json::from_value(spec.clone()).map_err(|error| error.to_string())?;
        match &parsed {
            Self::Command(command) if command.argv.is_empty() => {
                Err("'argv' needs at least the program".into())
            }
            Self::Http(http) if http.url.is_empty() => Err("'url' must not be empty".into()),
            Self::Handler { name } if name.is_empty() => Err("'name' must not be empty".into()),
            _ => Ok(parsed),
        }
    }
}

/// A program to run: its argv, extra environment and working directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSpec {
    /// Program and arguments; the program is looked up on `PATH`.
    pub argv: Vec<String>,
    /// Extra environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Working directory; the worker's own when absent.
    #[serde(default)]
    pub cwd: Option<String>,
}

/// An HTTP endpoint that receives the task input as a JSON POST.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSpec {
    /// The URL to POST to.
    pub url: String,
    /// Extra request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}
#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Greeting {
        to: String,
    }

    impl DomainPayload for Greeting {
        const KIND: &'static str = "greeting";
    }

    #[test]
    fn engine_executors_keep_their_stored_form() {
        let stored = json!({"type": "command", "argv": ["true"], "env": {}, "cwd": null});
        let spec: ExecutorSpec = serde_json::from_value(stored.clone()).unwrap();
        assert!(matches!(&spec, ExecutorSpec::Command(command) if command.argv == ["true"]));
        assert_eq!(serde_json::to_value(&spec).unwrap(), stored);
        let human: ExecutorSpec = serde_json::from_value(json!({"type": "human"})).unwrap();
        assert_eq!(human, ExecutorSpec::Human);
        let bad = serde_json::from_value::<ExecutorSpec>(json!({"type": "http", "x": 1}));
        assert!(
            bad.is_err(),
            "unknown fields of an engine executor are refused"
        );
    }

    #[test]
    fn a_domain_payload_travels_opaque_and_decodes_in_its_executor() {
        let spec = Greeting { to: "you".into() }.executor().unwrap();
        let stored = serde_json::to_value(&spec).unwrap();
        assert_eq!(stored, json!({"type": "greeting", "to": "you"}));
        let ExecutorSpec::Domain(call) = serde_json::from_value(stored).unwrap() else {
            panic!("a domain call")
        };
        assert_eq!(
            Greeting::decode(&call).unwrap(),
            Greeting { to: "you".into() }
        );
        let other = DomainCall {
            kind: "report".into(),
            fields: Map::new(),
        };
        assert!(Greeting::decode(&other).is_err());
    }

    #[test]
    fn declared_executors_are_checked_the_same_everywhere() {
        let check = |spec: Value| ExecutorSpec::parse_declared(&spec).map(|_| ()).unwrap_err();
        assert!(check(json!({"type": "report"})).contains("unknown type 'report'"));
        assert!(check(json!({"argv": ["x"]})).contains("needs a 'type'"));
        assert!(check(json!({"type": "command", "argv": []})).contains("'argv' needs"));
        assert!(check(json!({"type": "http", "url": ""})).contains("'url'"));
        assert!(check(json!({"type": "handler", "name": ""})).contains("'name'"));
        assert!(check(json!({"type": "command"})).contains("missing field `argv`"));
        assert!(ExecutorSpec::parse_declared(&json!({"type": "handler", "name": "h"})).is_ok());
    }
}

//! Runs tests and benchmarks create directly in the store: one task, built the same way
//! everywhere.

use common::engine::model::RunSpec;
use serde_json::{Value, json};

/// A workflow run of `definition` with `payload` and one task `key` that runs `executor`
/// once (no retries), on the default queue; the store picks its id.
pub fn one_task_run(definition: &str, key: &str, executor: Value, payload: Value) -> RunSpec {
    RunSpec::one_task(definition, key, executor, payload)
}

/// A one-task run of `definition` whose task `echo` runs `sh -c 'echo ok'`.
pub fn echo_run(definition: &str) -> RunSpec {
    one_task_run(
        definition,
        "echo",
        json!({"type": "command", "argv": ["sh", "-c", "echo ok"]}),
        json!({}),
    )
}

/// A one-task run of `definition` whose task `H` calls the Rust handler `handler` with
/// `payload`.
pub fn handler_run(definition: &str, handler: &str, payload: Value) -> RunSpec {
    one_task_run(
        definition,
        "H",
        json!({"type": "handler", "name": handler}),
        payload,
    )
}

//! Runs tests and benchmarks create directly in the store: one task, built the same way
//! everywhere.

use common::engine::model::{Priority, QueueName, RunKind, RunSpec, TaskSpec};
use serde_json::{Value, json};

/// A workflow run of `definition` with `payload` and one task `key` that runs `executor`
/// once (no retries), on the default queue; the store picks its id.
pub fn one_task_run(definition: &str, key: &str, executor: Value, payload: Value) -> RunSpec {
    RunSpec {
        id: None,
        definition: definition.into(),
        kind: RunKind::Workflow,
        payload,
        tasks: vec![TaskSpec {
            key: key.into(),
            executor,
            depends_on: vec![],
            queue: None,
            max_retries: 0,
            timeout_secs: None,
            is_hook: false,
        }],
        queue: QueueName::default(),
        priority: Priority::Normal,
        periodic: false,
        not_before_ms: None,
        hooks: Default::default(),
    }
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

//! Director workflows: start one from its definition, relaunch one, cancel one.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{OperationError, OperationResult};
use crate::engine::model::{RunKind, RunStatus};
use crate::store::Store;
use crate::store::engine::runs::{CancelOutcome, RunView};
use crate::time::now_ms;
use crate::workflows::definition::WorkflowDefinition;

/// The loaded workflow definitions, by full name (`project.NAME`).
pub type Definitions = BTreeMap<String, WorkflowDefinition>;

/// Starts a run of workflow `fullname` with `payload`, once the payload passes the
/// definition's JSON Schema (compiled when the definitions loaded); answers with the new run
/// as written (pending, its tasks not read back).
pub async fn start_workflow(
    store: &Store,
    definitions: &Definitions,
    fullname: &str,
    payload: Value,
) -> OperationResult<RunView> {
    let workflow = definitions
        .get(fullname)
        .ok_or_else(|| OperationError::UnknownWorkflow(fullname.to_owned()))?;
    if let Some(schema) = &workflow.schema {
        let problems = schema.problems(&payload);
        if !problems.is_empty() {
            return Err(OperationError::InvalidPayload(problems));
        }
    }
    let spec = workflow.definition.run_spec(payload);
    let now = now_ms();
    let id = store
        .create_runs_at(std::slice::from_ref(&spec), now)
        .await?
        .pop()
        .ok_or_else(|| OperationError::Interrupted("the run was not created".into()))?;
    Ok(RunView {
        id,
        definition: spec.definition,
        kind: spec.kind,
        status: RunStatus::Pending,
        created_ms: now,
        updated_ms: now,
        finished_ms: None,
        payload: spec.payload,
        periodic: spec.periodic,
        queue: spec.queue,
        priority: spec.priority,
        not_before_ms: None,
        tasks: Vec::new(),
    })
}

/// The workflow run `run_id` with its tasks; [`OperationError::WorkflowNotFound`] when no
/// workflow run has that id.
pub async fn workflow_run(store: &Store, run_id: &str) -> OperationResult<RunView> {
    store
        .runs_of(RunKind::Workflow)
        .get(run_id)
        .await?
        .ok_or_else(|| OperationError::WorkflowNotFound(run_id.to_owned()))
}

/// Starts a new run of the workflow run `run_id`'s definition with its payload (checked
/// again, as the definition may have changed).
pub async fn relaunch_workflow(
    store: &Store,
    definitions: &Definitions,
    run_id: &str,
) -> OperationResult<RunView> {
    let previous = workflow_run(store, run_id).await?;
    start_workflow(store, definitions, &previous.definition, previous.payload).await
}

/// Cancels the workflow run `run_id` (nothing changes when it already finished) and answers
/// with it as it now is.
pub async fn cancel_workflow(store: &Store, run_id: &str) -> OperationResult<RunView> {
    match store.runs_of(RunKind::Workflow).cancel(run_id).await? {
        CancelOutcome::NotFound => Err(OperationError::WorkflowNotFound(run_id.to_owned())),
        CancelOutcome::AlreadyFinished(_) | CancelOutcome::Canceled { .. } => {
            workflow_run(store, run_id).await
        }
    }
}

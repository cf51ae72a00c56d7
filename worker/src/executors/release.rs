//! The release executor: sends one protocol action of a release task to its task service,
//! records what the answer means for the task (a guarded transition that also recomputes the
//! release), then ensures the phase the release's state now calls for.
//!
//! Executed again after a crash, it finds the task already moved on, skips the call, and only
//! ensures the next phase: nothing is sent or recorded twice.

use common::outbound::{self, OutboundClient};
use common::releases::call::ReleaseCall;
use common::releases::records::Task;
use common::releases::task_service::{self, ActionBody, Answer};
use common::releases::{Action, TaskState};
use common::store::Store;
use serde_json::{Value, json};

use crate::context::TaskContext;
use crate::error::TaskError;

fn store_error(error: common::error::StoreError) -> TaskError {
    TaskError::Failed(format!("the store failed: {error}"))
}

/// Executes one release call.
pub async fn run_release_call(
    client: &OutboundClient,
    store: &Store,
    call: &ReleaseCall,
    ctx: &TaskContext,
) -> Result<Option<Value>, TaskError> {
    let Some(task) = store
        .release_record::<Task>(&call.task)
        .await
        .map_err(store_error)?
    else {
        ctx.log(format!("task {} no longer exists", call.task));
        return Ok(Some(json!({"task": call.task, "skipped": "no such task"})));
    };
    if !call.action.sent_in().contains(&task.state) {
        ctx.log(format!(
            "task {} is {}: {} is not sent",
            task.kf_id, task.state, call.action
        ));
        store
            .ensure_release_phase(&call.release)
            .await
            .map_err(store_error)?;
        return Ok(Some(
            json!({"task": task.kf_id, "state": task.state, "skipped": true}),
        ));
    }
    let answer = if call.url.is_empty() {
        Answer::Unreachable("the task service was deleted".into())
    } else {
        let body = ActionBody {
            action: call.action,
            task_id: call.task.clone(),
            release_id: call.release.clone(),
            studies: call.studies.clone(),
        };
        tokio::select! {
            answer = task_service::call(client, &call.url, &body) => answer,
            () = ctx.cancel.cancelled() => return Err(TaskError::Interrupted),
        }
    };
    ctx.log(format!(
        "{} {} to {}: {}",
        call.action,
        call.task,
        outbound::redact(&call.url),
        answer.describe()
    ));
    if answer.answered() {
        store
            .record_service_answer(&task.task_service, common::time::now_ms())
            .await
            .map_err(store_error)?;
    }
    let (state, reason) = match task_service::interpret(call.action, &answer) {
        Ok(state) => (state, None),
        Err(reason) => (failure_state(call.action), Some(reason)),
    };
    if let Some(reason) = &reason {
        tracing::warn!(task = %call.task, action = %call.action, %reason, "task service call failed");
    }
    let outcome = store
        .apply_task_state(&call.task, state, answer.progress(), reason)
        .await
        .map_err(store_error)?;
    store
        .ensure_release_phase(&call.release)
        .await
        .map_err(store_error)?;
    Ok(Some(json!({
        "task": call.task,
        "action": call.action,
        "state": state,
        "outcome": format!("{:?}", outcome.result),
        "release_state": outcome.release_state,
    })))
}

/// The task's state when the service's answer is not the expected one: a refused
/// `initialize` rejects the task, an unconfirmed `cancel` still cancels it (the coordinator
/// stops following it), anything else fails it.
fn failure_state(action: Action) -> TaskState {
    match action {
        Action::Initialize => TaskState::Rejected,
        Action::Cancel => TaskState::Canceled,
        Action::Start | Action::Publish | Action::GetStatus => TaskState::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_answers_reject_fail_or_cancel() {
        assert_eq!(failure_state(Action::Initialize), TaskState::Rejected);
        assert_eq!(failure_state(Action::Start), TaskState::Failed);
        assert_eq!(failure_state(Action::Publish), TaskState::Failed);
        assert_eq!(failure_state(Action::Cancel), TaskState::Canceled);
    }
}

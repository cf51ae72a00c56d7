//! Operator commands: inspect and requeue dead letters.

use common::engine::model::QueueName;
use common::error::StoreError;
use common::store::Store;
use common::store::engine::dead_letters::RequeueOutcome;
use serde_json::json;

use crate::config::OperatorCommand;

/// Runs an operator command and returns what to print.
pub async fn run_command(store: &Store, command: &OperatorCommand) -> Result<String, StoreError> {
    match command {
        OperatorCommand::DeadLetters { queue, limit } => {
            let records = store
                .dead_letters(&QueueName::parse(queue)?, *limit)
                .await?;
            let lines: Vec<String> = records
                .iter()
                .map(|record| {
                    json!({
                        "id": record.id,
                        "queue": record.queue.as_str(),
                        "priority": record.priority.as_str(),
                        "run_id": record.job.run_id,
                        "task": record.job.task,
                        "attempt": record.job.attempt,
                        "error": record.error,
                        "failed": common::time::iso8601(record.failed_ms),
                    })
                    .to_string()
                })
                .collect();
            Ok(lines.join("\n"))
        }
        OperatorCommand::Requeue { queue, id } => {
            let outcome = store
                .requeue_dead_letter(&QueueName::parse(queue)?, id)
                .await?;
            Ok(match outcome {
                RequeueOutcome::Requeued => format!("requeued {id}"),
                RequeueOutcome::NotFound => format!("no dead-letter record {id} on queue {queue}"),
                RequeueOutcome::Dropped => format!("dropped {id}: its task is no longer failed"),
            })
        }
    }
}

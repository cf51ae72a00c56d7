//! Executing one task attempt: parse its executor spec, dispatch, and turn what happened into
//! an outcome the store records.

use std::time::Duration;

use common::engine::backoff::Backoff;
use common::engine::executor::{DomainCall, DomainPayload, ExecutorSpec};
use common::releases::call::ReleaseCall;
use common::reports::run_spec::ReportSpec;
use common::store::engine::jobs::{AttemptOutcome, StartedTask};
use common::time::now_ms;
use serde_json::Value;

use crate::context::TaskContext;
use crate::error::TaskError;
use crate::executors::release::run_release_call;
use crate::executors::report::{ReportSettings, run_report};
use crate::executors::{command::run_command, http::run_http};
use crate::handlers::HandlerRegistry;
use crate::inflight::StopReason;

/// How long an executor may take to wind down (kill its processes) once told to stop.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Tools an execution may use.
#[derive(Debug, Clone)]
pub struct Executors {
    /// Rust handlers by name.
    pub handlers: HandlerRegistry,
    /// Client for `http` tasks and task services, following the outbound policy.
    pub http: common::outbound::OutboundClient,
    /// Reports repository and artefact store for `report` tasks, when configured.
    pub reports: Option<ReportSettings>,
    /// The store, for `release` tasks (they record the answers of task services).
    pub store: common::store::Store,
}

impl Executors {
    /// Runs the attempt until it ends or is stopped.
    pub async fn execute(
        &self,
        task: &StartedTask,
        ctx: &TaskContext,
    ) -> Result<Option<Value>, TaskError> {
        let spec: ExecutorSpec = serde_json::from_str(&task.executor).map_err(|error| {
            TaskError::Invalid(format!(
                "task '{}' has an invalid executor ({error}): {}",
                task.key, task.executor
            ))
        })?;
        let run = async {
            match &spec {
                ExecutorSpec::Command(command) => run_command(command, ctx).await,
                ExecutorSpec::Http(http) => run_http(&self.http, http, ctx).await,
                ExecutorSpec::Domain(call) => self.run_domain(task, call, ctx).await,
                ExecutorSpec::Human => Err(TaskError::Invalid(format!(
                    "task '{}' is a human step: its queue must hold only human steps, which \
                     people claim through the projects API, and no worker may consume it \
                     (check BATON_QUEUES and the step's queue)",
                    task.key
                ))),
                ExecutorSpec::Handler { name } => match self.handlers.get(name) {
                    Some(handler) => handler(ctx.clone()).await,
                    None => Err(TaskError::Invalid(format!(
                        "no handler named '{name}' is registered on this worker"
                    ))),
                },
            }
        };
        tokio::pin!(run);
        tokio::select! {
            result = &mut run => result,
            _ = ctx.cancel.cancelled() => {
                // Give the executor time to kill what it started; a handler that ignores its
                // token is dropped.
                tokio::time::timeout(STOP_GRACE, run).await.unwrap_or(Err(TaskError::Interrupted))
            }
        }
    }
}

impl Executors {
    /// Runs work a domain defines, by its `type`: decoded here, by the executor that knows it.
    async fn run_domain(
        &self,
        task: &StartedTask,
        call: &DomainCall,
        ctx: &TaskContext,
    ) -> Result<Option<Value>, TaskError> {
        let invalid = |error: serde_json::Error| {
            TaskError::Invalid(format!(
                "task '{}' has an invalid executor ({error}): {}",
                task.key, task.executor
            ))
        };
        match call.kind.as_str() {
            ReportSpec::KIND => {
                let report = ReportSpec::decode(call).map_err(invalid)?;
                match &self.reports {
                    Some(settings) => run_report(settings, &self.store, &report, ctx).await,
                    None => Err(TaskError::Invalid(
                        "this worker has no reports repository (set BATON_REPORTS_REPO)".into(),
                    )),
                }
            }
            ReleaseCall::KIND => {
                let release = ReleaseCall::decode(call).map_err(invalid)?;
                run_release_call(&self.http, &self.store, &release, ctx).await
            }
            other => Err(TaskError::Invalid(format!(
                "task '{}' has an invalid executor (unknown type '{other}'): {}",
                task.key, task.executor
            ))),
        }
    }
}

/// What to record for an attempt that ended with `result`; `None` when nothing must be
/// recorded because the worker is shutting down and the job is left for another worker.
pub fn outcome_of(
    result: Result<Option<Value>, TaskError>,
    stop: Option<StopReason>,
    task: &StartedTask,
    attempt: u32,
    backoff: &Backoff,
) -> Option<AttemptOutcome> {
    let error = match (result, stop) {
        (_, Some(StopReason::Shutdown)) => return None,
        (Ok(result), None) => return Some(AttemptOutcome::Succeeded(result)),
        (_, Some(StopReason::Canceled)) => return Some(AttemptOutcome::Failed("canceled".into())),
        (_, Some(StopReason::TimedOut)) => format!(
            "timed out after {} s and was killed",
            task.timeout_secs.unwrap_or_default()
        ),
        (Err(TaskError::Invalid(message)), None) => return Some(AttemptOutcome::Failed(message)),
        (Err(error), None) => error.to_string(),
    };
    if attempt <= task.max_retries {
        Some(AttemptOutcome::Retry {
            error,
            due_ms: now_ms() + backoff.delay_ms_random(attempt),
        })
    } else {
        Some(AttemptOutcome::Failed(error))
    }
}

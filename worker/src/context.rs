//! What a task sees while it runs: its input, a cancellation token, and a way to report
//! progress and log lines that clients can read while the task runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use common::store::engine::runs::TaskReport;

/// A report tagged with the task it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskEvent {
    /// The run.
    pub run_id: String,
    /// The task's index within its run.
    pub task: u32,
    /// What was reported.
    pub report: TaskReport,
}

/// The context a task executes in.
#[derive(Debug, Clone)]
pub struct TaskContext {
    /// The run the task belongs to.
    pub run_id: String,
    /// The task's name within its run (e.g. `EXTRACT`).
    pub task_key: String,
    /// The task's index within its run.
    pub task: u32,
    /// The attempt being executed, from 1.
    pub attempt: u32,
    /// The task's input: `{"run_id", "payload", "parents"}`, where `parents` holds the results
    /// of the tasks it depends on, in dependency order.
    pub input: Value,
    /// Fired when the task must stop: its run was canceled, it timed out, or the worker is
    /// shutting down past its grace period.
    pub cancel: CancellationToken,
    events: mpsc::UnboundedSender<TaskEvent>,
    sent: Option<Arc<AtomicU64>>,
}

impl TaskContext {
    /// Builds a context whose reports go to `events`.
    pub fn new(
        run_id: String,
        task_key: String,
        task: u32,
        attempt: u32,
        input: Value,
        cancel: CancellationToken,
        events: mpsc::UnboundedSender<TaskEvent>,
    ) -> Self {
        Self {
            run_id,
            task_key,
            task,
            attempt,
            input,
            cancel,
            events,
            sent: None,
        }
    }

    /// Counts every report this context sends in `sent`, so the worker can wait until what a
    /// task reported is written before it records the task's outcome.
    pub fn counting_into(mut self, sent: Arc<AtomicU64>) -> Self {
        self.sent = Some(sent);
        self
    }

    /// Appends one line to the task's log.
    pub fn log(&self, line: impl Into<String>) {
        self.report(TaskReport::Log(line.into()));
    }

    /// Records the task's progress; values above 100 are clamped.
    pub fn progress(&self, percent: u8) {
        self.report(TaskReport::Progress(percent.min(100)));
    }

    fn report(&self, report: TaskReport) {
        if let Some(sent) = &self.sent {
            sent.fetch_add(1, Ordering::SeqCst);
        }
        // The receiver only goes away when the worker is exiting; a lost report is harmless then.
        let unsent = self
            .events
            .send(TaskEvent {
                run_id: self.run_id.clone(),
                task: self.task,
                report,
            })
            .is_err();
        if unsent && let Some(sent) = &self.sent {
            sent.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

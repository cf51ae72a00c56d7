//! Rust task handlers registered on an embedded worker, called by name from `handler` tasks.
//!
//! Every registry starts with two built-in handlers:
//! - `noop` succeeds at once with no result;
//! - `probe` is a queue-latency probe for operators: it succeeds at once and, when the run's
//!   payload holds `enqueued_us` (Unix time in microseconds, taken by whoever enqueued the run
//!   just before the enqueue call), returns `{"waited_us": NOW_US - enqueued_us}`, the time
//!   from the enqueue to the start of the task, measured with the worker's clock. Create a
//!   one-task run whose executor is `{"type": "handler", "name": "probe"}` and read the
//!   task's result. The benchmark uses it for its latency numbers.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use futures::future::BoxFuture;
use serde_json::{Value, json};

use crate::context::TaskContext;
use crate::error::TaskError;

/// A registered handler: takes the task's context, returns its result.
pub type Handler =
    Arc<dyn Fn(TaskContext) -> BoxFuture<'static, Result<Option<Value>, TaskError>> + Send + Sync>;

/// Handlers by name.
#[derive(Clone, Default)]
pub struct HandlerRegistry {
    handlers: HashMap<String, Handler>,
}

impl std::fmt::Debug for HandlerRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.handlers.keys()).finish()
    }
}

impl HandlerRegistry {
    /// A registry with only the built-in handlers: `noop` (succeeds at once, no result) and
    /// `probe` (succeeds at once with the time the task waited, see [`probe_result`]).
    pub fn new() -> Self {
        let mut registry = Self::default();
        registry.register("noop", |_ctx| async { Ok(None) });
        registry.register("probe", |ctx| async move {
            Ok(probe_result(&ctx.input, unix_micros()))
        });
        registry
    }

    /// Registers `handler` under `name`, replacing any handler of that name.
    pub fn register<F, Fut>(&mut self, name: impl Into<String>, handler: F) -> &mut Self
    where
        F: Fn(TaskContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Option<Value>, TaskError>> + Send + 'static,
    {
        let handler =
            Arc::new(move |ctx: TaskContext| -> BoxFuture<'static, _> { Box::pin(handler(ctx)) });
        self.handlers.insert(name.into(), handler);
        self
    }

    /// The handler registered under `name`.
    pub fn get(&self, name: &str) -> Option<&Handler> {
        self.handlers.get(name)
    }
}

/// The result of the built-in `probe` handler for a task with `input` starting at `now_us`:
/// `{"waited_us": now_us - enqueued_us}` when the run's payload holds `enqueued_us` (a Unix
/// time in microseconds; 0 when it lies in the future), else no result.
pub fn probe_result(input: &Value, now_us: u64) -> Option<Value> {
    let enqueued_us = input["payload"]["enqueued_us"].as_u64()?;
    Some(json!({ "waited_us": now_us.saturating_sub(enqueued_us) }))
}

/// Microseconds since the Unix epoch (0 when the clock is before it).
fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_micros() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_returns_the_time_waited_since_the_enqueue() {
        let input = json!({ "run_id": "r", "payload": { "enqueued_us": 1_000 }, "parents": [] });
        assert_eq!(
            probe_result(&input, 1_750),
            Some(json!({ "waited_us": 750 }))
        );
        assert_eq!(probe_result(&input, 900), Some(json!({ "waited_us": 0 })));
    }

    #[test]
    fn the_probe_has_no_result_without_an_enqueue_time() {
        assert_eq!(probe_result(&json!({ "payload": null }), 5), None);
        assert_eq!(
            probe_result(&json!({ "payload": { "enqueued_us": "soon" } }), 5),
            None
        );
    }

    #[test]
    fn the_built_in_handlers_are_registered() {
        // The definitions loader accepts exactly these handler names without a `handlers:`.
        let registry = HandlerRegistry::new();
        for name in common::workflows::handlers::BUILT_IN_HANDLERS {
            assert!(registry.get(name).is_some(), "{name} is not registered");
        }
        assert_eq!(
            registry.handlers.len(),
            common::workflows::handlers::BUILT_IN_HANDLERS.len()
        );
    }
}

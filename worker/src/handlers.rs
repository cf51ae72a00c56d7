//! Rust task handlers registered on an embedded worker, called by name from `handler` tasks.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::Value;

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
    /// An empty registry with the built-in `noop` handler (succeeds at once, no result).
    pub fn new() -> Self {
        let mut registry = Self::default();
        registry.register("noop", |_ctx| async { Ok(None) });
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

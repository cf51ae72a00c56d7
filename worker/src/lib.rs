//! Baton's worker: joins a consumer group on each of its queues, executes jobs, reports their
//! progress, logs and results, and acknowledges each job only once its outcome is recorded.
//!
//! It is also a library: a Rust program can embed a worker and register its own handlers.
//!
//! ```no_run
//! use clap::Parser;
//! use worker::{HandlerRegistry, Worker, WorkerOptions};
//! use tokio_util::sync::CancellationToken;
//!
//! # async fn example() -> Result<(), worker::WorkerError> {
//! let mut handlers = HandlerRegistry::new();
//! handlers.register("greet", |ctx| async move {
//!     ctx.log("hello from Rust");
//!     ctx.progress(100);
//!     Ok(Some(serde_json::json!({ "greeted": ctx.input["payload"]["name"] })))
//! });
//! let options = WorkerOptions::parse_from(["my-worker", "--queues", "default"]);
//! Worker::new(options, handlers).await?.run(CancellationToken::new()).await
//! # }
//! ```
//!
//! # Layout
//! - [`config`]: flags and environment.
//! - [`runner`]: the loops: read, start, execute, record, heartbeat, cancel listener.
//! - [`execute`]: one attempt: executor dispatch, timeout and stop handling, retry decision.
//! - [`executors`]: `command` and `http` executors.
//! - [`handlers`]: Rust handlers registered by name.
//! - [`context`]: what a task sees while it runs.
//! - [`inflight`]: the attempts being executed and their stop switches.
//! - [`error`]: how an attempt fails.
//! - [`paused`]: which of the worker's queues are paused, so their jobs are left waiting.
//! - [`slots`]: the execution slots, handed to the shard readers most urgent work first.

pub mod config;
pub mod context;
pub mod error;
pub mod execute;
pub mod executors;
pub mod handlers;
pub mod inflight;
pub mod paused;
pub mod runner;
pub mod slots;

pub use config::WorkerOptions;
pub use context::TaskContext;
pub use error::TaskError;
pub use handlers::HandlerRegistry;
pub use runner::{Worker, WorkerError};

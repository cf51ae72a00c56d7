//! A worker run inside the test process, with Rust handlers the test registers.

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use worker::{HandlerRegistry, Worker, WorkerError, WorkerOptions};

/// A worker started with `options` and `handlers`, running until its token is canceled: the
/// token, and the task to await for the worker's end.
pub async fn spawn_worker(
    options: WorkerOptions,
    handlers: HandlerRegistry,
) -> (CancellationToken, JoinHandle<Result<(), WorkerError>>) {
    let shutdown = CancellationToken::new();
    let worker = Worker::new(options, handlers)
        .await
        .expect("the worker starts");
    (shutdown.clone(), tokio::spawn(worker.run(shutdown)))
}

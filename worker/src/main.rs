//! `baton-worker`: executes jobs from Baton's queues.

use clap::Parser;
use tokio_util::sync::CancellationToken;
use worker::{HandlerRegistry, Worker, WorkerOptions};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::config::init_tracing();
    let options = WorkerOptions::parse();
    let shutdown = CancellationToken::new();
    tokio::spawn(common::signals::cancel_on_signal(shutdown.clone()));
    let result = match Worker::new(options, HandlerRegistry::new()).await {
        Ok(worker) => worker.run(shutdown).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(cause = %error, "worker failed");
            std::process::ExitCode::FAILURE
        }
    }
}

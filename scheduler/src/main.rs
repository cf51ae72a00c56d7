//! `baton-scheduler`: periodic runs, delayed jobs, reclaiming and trimming, under a leader lease.

use clap::Parser;
use scheduler::SchedulerOptions;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::config::init_tracing();
    let options = SchedulerOptions::parse();
    let shutdown = CancellationToken::new();
    tokio::spawn(common::signals::cancel_on_signal(shutdown.clone()));
    match scheduler::run(options, shutdown).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(cause = %error, "scheduler failed");
            std::process::ExitCode::FAILURE
        }
    }
}

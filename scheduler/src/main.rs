//! `baton-scheduler`: periodic runs, delayed jobs, reclaiming and trimming, under a leader lease.
//! It refuses to start with `BATON_MASTER_KEY` in its environment: only `baton-api` needs it.

use clap::Parser;
use scheduler::SchedulerOptions;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::config::init_tracing();
    let options = SchedulerOptions::parse();
    if let Err(error) = common::config::refuse_master_key("baton-scheduler") {
        tracing::error!(cause = %error, "refusing to start");
        return std::process::ExitCode::FAILURE;
    }
    if let Some(command) = &options.command {
        return run_operator_command(&options, command).await;
    }
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

async fn run_operator_command(
    options: &SchedulerOptions,
    command: &scheduler::config::OperatorCommand,
) -> std::process::ExitCode {
    let result = match common::store::Store::connect(&options.store).await {
        Ok(store) => scheduler::operator::run_command(&store, command).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(output) => {
            if !output.is_empty() {
                println!("{output}");
            } else if let scheduler::config::OperatorCommand::DeadLetters { queue, .. } = command {
                // Nothing on stdout, so a script reading JSON lines reads none; a person is told.
                eprintln!("no dead letters on queue {queue}");
            }
            std::process::ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

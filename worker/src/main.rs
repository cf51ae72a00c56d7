//! `baton-worker`: executes jobs from Baton's queues, or completes a report bundle
//! (`baton-worker bundle run IN.zip OUT.zip`).
//!
//! It refuses to start with `BATON_MASTER_KEY` in its environment (only `baton-api` needs the
//! master key), and makes itself non-dumpable, so that the scripts and commands it runs (as
//! the same user) can neither read its environment in `/proc/PID/environ` nor attach to it.

use clap::Parser;
use mimalloc::MiMalloc;
use tokio_util::sync::CancellationToken;
use worker::config::{BundleCommand, WorkerCommand};
use worker::{HandlerRegistry, Worker, WorkerOptions};

/// mimalloc: the job loop allocates many small, short-lived buffers (replies, arguments),
/// where it costs less CPU than the system allocator.
#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

fn main() -> std::process::ExitCode {
    let options = WorkerOptions::parse();
    let runtime = match runtime(options.threads) {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("baton-worker: cannot start its runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(options))
}

/// The runtime of `threads` threads: one runs everything on the main thread, 0 takes one
/// per core. Blocking work (`spawn_blocking`) has threads of its own either way.
fn runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = match threads {
        1 => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    if threads > 1 {
        builder.worker_threads(threads);
    }
    builder.enable_all().build()
}

async fn run(options: WorkerOptions) -> std::process::ExitCode {
    common::config::init_tracing();
    if let Err(error) = common::config::refuse_master_key("baton-worker") {
        tracing::error!(cause = %error, "refusing to start");
        return std::process::ExitCode::FAILURE;
    }
    if let Err(error) = nix::sys::prctl::set_dumpable(false) {
        tracing::warn!(cause = %error, "cannot make the worker non-dumpable: the programs it runs may read its environment");
    }
    if let Some(WorkerCommand::Bundle(command)) = options.command {
        return run_bundle(command).await;
    }
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

/// Completes a report bundle: runs its report here and writes the bundle to import.
async fn run_bundle(command: BundleCommand) -> std::process::ExitCode {
    let BundleCommand::Run {
        input,
        output,
        max_unpacked_bytes,
    } = command;
    let written = output.clone();
    let result = tokio::task::spawn_blocking(move || {
        common::reports::bundles::run_bundle_file(&input, &output, max_unpacked_bytes)
    })
    .await;
    match result {
        Ok(Ok(record)) => {
            tracing::info!(version = %record.id, report = %record.name, output = %written.display(), "bundle completed");
            std::process::ExitCode::SUCCESS
        }
        Ok(Err(error)) => {
            tracing::error!(cause = %error, "bundle run failed");
            std::process::ExitCode::FAILURE
        }
        Err(error) => {
            tracing::error!(cause = %error, "bundle run interrupted");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::runtime;
    use tokio::runtime::RuntimeFlavor;

    #[test]
    fn one_thread_runs_everything_on_the_main_thread() {
        let runtime = runtime(1).unwrap();
        assert_eq!(
            runtime.handle().runtime_flavor(),
            RuntimeFlavor::CurrentThread
        );
        assert_eq!(runtime.block_on(async { 2 + 2 }), 4);
    }

    #[test]
    fn more_threads_are_as_many_as_asked_and_zero_is_one_per_core() {
        let three = runtime(3).unwrap();
        assert_eq!(three.handle().runtime_flavor(), RuntimeFlavor::MultiThread);
        assert_eq!(three.metrics().num_workers(), 3);
        let per_core = runtime(0).unwrap();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(per_core.metrics().num_workers(), cores);
    }
}

//! `baton-api`: Baton's HTTP API server, and its key-management commands.

use std::process::ExitCode;

use api::config::{ApiOptions, Command};
use api::server::build_state;
use api::serving::serve;
use clap::Parser;
use mimalloc::MiMalloc;
use tokio_util::sync::CancellationToken;

/// mimalloc: request handling allocates many small, short-lived buffers, where it costs
/// less CPU than the system allocator.
#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    common::config::init_tracing();
    let options = ApiOptions::parse();
    let command = match &options.command {
        Some(Command::Keys { action }) => Some(api::keys_cli::run(&options, action).await),
        Some(Command::Tokens { action }) => Some(api::keys_cli::run_tokens(&options, action).await),
        None => None,
    };
    if let Some(result) = command {
        return match result {
            Ok(output) => {
                if !output.is_empty() {
                    println!("{output}");
                }
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        };
    }
    // Bound before the state is built, so that links name the port actually bound (the
    // system picks one when the listen address's port is 0).
    let listener = match tokio::net::TcpListener::bind(options.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(cause = %error, listen = %options.listen, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    let mut options = options;
    if let Ok(bound) = listener.local_addr() {
        options.listen = bound;
    }
    let state = match build_state(&options).await {
        Ok(state) => state,
        Err(error) => {
            tracing::error!(cause = %error, "cannot start");
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(path) = &options.address_file
        && let Err(error) = write_address_file(path, options.listen)
    {
        tracing::error!(cause = %error, path = %path.display(), "cannot write the address file");
        return ExitCode::FAILURE;
    }
    let shutdown = CancellationToken::new();
    tokio::spawn(common::signals::cancel_on_signal(shutdown.clone()));
    tracing::info!(listen = %options.listen, "baton-api listening");
    serve(listener, state, options.threads, shutdown).await;
    ExitCode::SUCCESS
}

/// Writes `address` to `path` whole: to a temporary file beside it, then renamed over it, so a
/// reader never sees a partial address.
fn write_address_file(
    path: &std::path::Path,
    address: std::net::SocketAddr,
) -> std::io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    std::fs::write(&temporary, address.to_string())?;
    std::fs::rename(&temporary, path)
}

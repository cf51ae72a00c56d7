//! `baton-api`: Baton's HTTP front door. For now it serves `/healthz`, which checks Redis.

use std::net::SocketAddr;

use clap::Parser;
use common::config::StoreOptions;
use common::store::Store;
use tokio_util::sync::CancellationToken;
use warp::Filter;
use warp::http::StatusCode;

/// Serves Baton's HTTP API.
#[derive(Debug, Parser)]
#[command(name = "baton-api", version, about)]
struct ApiOptions {
    /// Redis connection and key prefix.
    #[command(flatten)]
    store: StoreOptions,

    /// Address to listen on.
    #[arg(long, env = "BATON_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::config::init_tracing();
    let options = ApiOptions::parse();
    let store = match Store::connect(&options.store).await {
        Ok(store) => store,
        Err(error) => {
            tracing::error!(cause = %error, "cannot connect to Redis");
            return std::process::ExitCode::FAILURE;
        }
    };
    let shutdown = CancellationToken::new();
    tokio::spawn(common::signals::cancel_on_signal(shutdown.clone()));
    let healthz = warp::path!("healthz").and(warp::get()).then(move || {
        let store = store.clone();
        async move {
            match store.ping().await {
                Ok(()) => warp::reply::with_status(
                    warp::reply::json(&serde_json::json!({"status": "ok"})),
                    StatusCode::OK,
                ),
                Err(error) => warp::reply::with_status(
                    warp::reply::json(
                        &serde_json::json!({"status": "error", "error": error.to_string()}),
                    ),
                    StatusCode::SERVICE_UNAVAILABLE,
                ),
            }
        }
    });
    let listener = match tokio::net::TcpListener::bind(options.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(cause = %error, listen = %options.listen, "cannot listen");
            return std::process::ExitCode::FAILURE;
        }
    };
    tracing::info!(listen = %options.listen, "baton-api listening");
    warp::serve(healthz)
        .incoming(listener)
        .graceful(async move { shutdown.cancelled().await })
        .run()
        .await;
    std::process::ExitCode::SUCCESS
}

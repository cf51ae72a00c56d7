//! Test harness for Baton's end-to-end tests and benchmark: real `redis-server` instances,
//! real `baton-*` processes and polling helpers.
//!
//! Every test gets its own `redis-server` on a free port (never 6379) in a temporary
//! directory, so tests can run in parallel and never touch a developer's Redis. The binaries
//! under test are the ones `cargo build --workspace --bins` left in the target directory; run
//! `scripts/test`, which builds them (and installs `redis-server` when missing) before
//! `cargo test --workspace`.
//!
//! Most tests start with [`TestApp::builder`]: one deployment (Redis, the API on a port the
//! system picks, workers, scheduler) and signed clients; console tests add a [`Browser`].
//!
//! # Layout
//! - [`app`]: [`TestApp`], a test's deployment, and [`Client`], signed requests to its API
//!   with a unique `X-Request-Id` each.
//! - [`baton_cli`]: running the `baton` command against an app's API.
//! - [`browser`]: [`Browser`], headless Chromium over WebDriver, with screenshots.
//! - [`mod@python`]: running Python snippets (the compatibility clients).
//! - [`fresh`]: the check that the spawned binaries are not older than their sources.
//! - [`redis_server`]: [`RedisServer`], a throw-away `redis-server` killed on drop.
//! - [`redis_cluster`]: [`RedisCluster`], a throw-away Redis Cluster of six nodes, for failovers.
//! - [`redis_sentinel`]: [`RedisSentinel`], a throw-away master, replica and three sentinels.
//! - [`redis_deployment`]: [`RedisDeployment`], the Redis a test runs on (one server, a
//!   cluster or Sentinel), picked by `BATON_TEST_REDIS_TOPOLOGY`.
//! - [`process`]: [`BatonProcess`], one spawned `baton-api` / `baton-worker` /
//!   `baton-scheduler` with its output in a log file, killed on drop; [`binary_path`]
//!   finds the binaries.
//! - [`wait`]: [`wait_until`], [`wait_for`] and [`poll_for`], polling async predicates with a
//!   deadline.
//! - [`fake_service`]: [`FakeService`], a scripted HTTP service that records what reached it.
//! - [`signed_http`]: signed requests to a running API.
//! - [`mod@bench`]: what the benchmark programs share, and the `default`, `peers` and `steady`
//!   protocols of `baton-bench`.
//! - [`runs`]: one-task runs created directly in the store.
//! - [`unique_prefix`]: a fresh key prefix per test.
//! - [`init_tracing`]: log output for the test process itself.
//! - `src/bin/baton-bench.rs`: the benchmark binary (not part of this library).

pub mod app;
pub mod baton_cli;
pub mod bench;
pub mod browser;
pub mod fake_service;
pub mod fresh;
pub mod in_process_worker;
pub mod other_api;
pub mod postgres;
pub mod process;
pub mod python;
pub mod redis_cluster;
pub mod redis_deployment;
pub mod redis_sentinel;
pub mod redis_server;
pub mod reports_client;
pub mod runs;
pub mod signed_http;
pub mod wait;

pub use app::{Client, TestApp, TestAppBuilder, spawn_app};
pub use browser::Browser;
pub use fake_service::{FakeService, Reply};
pub use process::{BatonProcess, binary_path};
pub use python::python;
pub use redis_cluster::RedisCluster;
pub use redis_deployment::{RedisDeployment, Topology};
pub use redis_sentinel::RedisSentinel;
pub use redis_server::RedisServer;
pub use wait::{poll_for, wait_for, wait_until};

/// A fresh Redis key prefix for one test, such as `t-1a2b3c4d`.
///
/// Give it to the binaries (`BATON_PREFIX`) and to the store so that tests sharing a Redis
/// server never see each other's keys.
pub fn unique_prefix() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("t-{}", &id[..8])
}

/// Installs a `tracing` subscriber for the test process that writes through the test
/// harness's captured output, filtered by `RUST_LOG` (default `info`).
///
/// Safe to call from every test: only the first call installs anything.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_prefixes_differ_and_have_the_expected_shape() {
        let a = unique_prefix();
        let b = unique_prefix();
        assert_ne!(a, b);
        assert_eq!(a.len(), 10, "{a}");
        assert!(a.starts_with("t-"), "{a}");
        assert!(a[2..].chars().all(|c| c.is_ascii_hexdigit()), "{a}");
    }
}

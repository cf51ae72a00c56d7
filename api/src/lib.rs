//! Baton's API server: HTTP-signature authentication, and the fronts that translate each
//! seed system's API onto Baton's runs.
//!
//! # Layout
//! - [`config`]: flags, environment and the `keys` commands.
//! - [`server`]: state building (definitions, master key) and the routes.
//! - [`serving`]: an acceptor handing connections to serving threads, each a single-threaded
//!   runtime with a Redis connection of its own (client errors logged at debug).
//! - [`fronts`]: one module per front (`workflows`: Director; `reports`: OrderlyWeb;
//!   `releases`: the Release Coordinator; `projects`: Orchestra; `baton`: health, metrics,
//!   OpenAPI).
//! - [`auth`]: admission (signatures and bearer tokens checked from the headers, then the
//!   body's digest and replays) and permissions.
//! - [`credentials`]: a key's secret presented as it is (user tokens, console sign-in),
//!   throttled and checked in constant time.
//! - [`request`]: the request as handlers see it, with the body limit.
//! - [`hosts`]: where absolute links point (`BATON_PUBLIC_URL`, known `Host`s only).
//! - [`error`]: the error catalogue and its rendering per front.
//! - [`metrics`]: Prometheus metrics.
//! - [`openapi`]: the OpenAPI document, one operation table per front.
//! - [`keys_cli`]: `baton-api keys create|list|revoke`.
//! - [`routes`]: the catalogue of every route (the document's operations and the console's
//!   pages) that `docs/routes.md` mirrors.
//! - [`state`]: what handlers share.

// The fronts' module docs are a map for the people working on them: they link the private
// modules each front is made of, which `cargo doc --document-private-items` renders.
#![allow(rustdoc::private_intra_doc_links)]

pub mod auth;
pub mod config;
pub mod credentials;
pub mod error;
pub mod fronts;
pub mod hosts;
pub mod keys_cli;
pub mod metrics;
pub mod openapi;
pub mod request;
pub mod routes;
pub mod server;
pub mod serving;
pub mod state;

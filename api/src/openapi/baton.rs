//! Baton's own routes.

use super::Operation;

/// `/healthz`, `/metrics` and this document.
pub const OPERATIONS: &[Operation] = &[
    Operation::get("/healthz", "Liveness and Redis check.").public(),
    Operation::get("/metrics", "Prometheus metrics.")
        .needs("admin")
        .produces("text/plain"),
    Operation::get("/openapi.json", "This document."),
];

//! Baton's own routes.

use super::Operation;

/// `/healthz`, `/metrics` and this document.
pub const OPERATIONS: &[Operation] = &[
    Operation::get("/healthz", "Liveness and Redis check.").public(),
    Operation::get(
        "/metrics",
        "Prometheus metrics: OpenMetrics 1.0.0 when Accept asks for \
         application/openmetrics-text, the 0.0.4 text format otherwise. Read with the scrape \
         token (BATON_METRICS_TOKEN) or signed with an admin key.",
    )
    .needs("admin")
    .metrics_token()
    .produces("text/plain")
    .or_produces(&["application/openmetrics-text"]),
    Operation::get("/openapi.json", "This document."),
];

//! Every error the API answers with: a stable code, an HTTP status and a message, rendered in
//! the error format of the front that was called, in one place.

use serde_json::{Value, json};
use warp::http::StatusCode;

/// The API front a request was made to; each renders errors in its own format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Front {
    /// Baton's own routes (`/healthz`, `/metrics`, `/openapi.json`).
    Baton,
    /// Celery Director's API (`/api/...`): `{"error": message, "errors": [...]}`.
    Workflows,
    /// OrderlyWeb's API (`/api/v1/...`): `{"status": "failure", "data": null, "errors":
    /// [{"code", "message"}]}`.
    Reports,
    /// The Release Coordinator's API (`/releases`, `/tasks`, ...): `{"message": "..."}`.
    Releases,
    /// Orchestra's API (`/orchestra/api/...`): `{"error": code, "message": "..."}`.
    Projects,
    /// The web console (`/ui/...`): an HTML page saying what went wrong; a request without a
    /// live session is sent to the sign-in page.
    Console,
}

/// An error answered to a client.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// No usable signature (missing, malformed, wrong, stale, replayed, unknown or revoked key).
    #[error("{0}")]
    Unauthorized(String),
    /// A valid key without the permission the route needs.
    #[error("{0}")]
    Forbidden(String),
    /// The request is malformed or invalid; details list each problem.
    #[error("{message}")]
    BadRequest {
        /// What is wrong.
        message: String,
        /// Each problem, one line each.
        details: Vec<String>,
    },
    /// The resource does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request would create something that exists.
    #[error("{0}")]
    Conflict(String),
    /// The body is larger than the limit.
    #[error("request body larger than {0} bytes")]
    PayloadTooLarge(u64),
    /// The route exists but not with this method; it takes these (answered in `Allow`).
    #[error("method not allowed (allowed: {})", .0.join(", "))]
    MethodNotAllowed(Vec<&'static str>),
    /// Too many attempts; the client may try again after this many seconds.
    #[error("too many attempts: try again in {0} s")]
    TooManyRequests(u64),
    /// Redis (or another dependency) failed.
    #[error("service unavailable: {0}")]
    Unavailable(String),
}

impl ApiError {
    /// A bad request with one message and no details.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest {
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::BadRequest { .. } => "bad_request",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::TooManyRequests(_) => "too_many_requests",
            Self::Unavailable(_) => "unavailable",
        }
    }

    /// The body in `front`'s error format.
    pub fn body(&self, front: Front) -> Value {
        let details = match self {
            Self::BadRequest { details, .. } => details.clone(),
            _ => Vec::new(),
        };
        match front {
            Front::Workflows => json!({"error": self.to_string(), "errors": details}),
            Front::Reports => {
                let mut errors = vec![
                    json!({"code": self.code().replace('_', "-"), "message": self.to_string()}),
                ];
                errors.extend(
                    details
                        .into_iter()
                        .map(|detail| json!({"code": "bad-request", "message": detail})),
                );
                json!({"status": "failure", "data": null, "errors": errors})
            }
            Front::Releases => {
                let mut message = self.to_string();
                if !details.is_empty() {
                    message = format!("{message}: {}", details.join("; "));
                }
                json!({"message": message})
            }
            Front::Projects => {
                let mut message = self.to_string();
                if !details.is_empty() {
                    message = format!("{message}: {}", details.join("; "));
                }
                json!({"error": self.code(), "message": message})
            }
            Front::Baton | Front::Console => {
                json!({"error": {"code": self.code(), "message": self.to_string(), "details": details}})
            }
        }
    }

    /// The response in `front`'s format: a 405 names the methods the route takes in `Allow`,
    /// a 429 says when to try again in `Retry-After`.
    pub fn into_response(self, front: Front) -> warp::reply::Response {
        use warp::Reply;
        if front == Front::Console {
            return crate::fronts::console::error_page(&self);
        }
        let mut response =
            warp::reply::with_status(warp::reply::json(&self.body(front)), self.status())
                .into_response();
        if let Self::MethodNotAllowed(methods) = &self
            && let Ok(allow) = warp::http::HeaderValue::from_str(&methods.join(", "))
        {
            response
                .headers_mut()
                .insert(warp::http::header::ALLOW, allow);
        }
        if let Self::TooManyRequests(secs) = self {
            response
                .headers_mut()
                .insert(warp::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

impl From<common::error::StoreError> for ApiError {
    fn from(error: common::error::StoreError) -> Self {
        use common::error::StoreError;
        match error {
            StoreError::Invalid(invalid) => Self::bad_request(invalid.to_string()),
            StoreError::RunNotFound(id) => Self::NotFound(format!("run {id} not found")),
            StoreError::NotReplicated { .. } => {
                tracing::warn!(cause = %error, "a creation was not confirmed by enough replicas");
                Self::Unavailable(format!(
                    "{error}: the write may not survive a failover; repeat the request"
                ))
            }
            other => {
                tracing::error!(cause = %other, "store failure");
                Self::Unavailable("the store failed; try again".into())
            }
        }
    }
}

impl From<common::operations::OperationError> for ApiError {
    fn from(error: common::operations::OperationError) -> Self {
        use common::operations::OperationError;
        match error {
            OperationError::UnknownWorkflow(_)
            | OperationError::WorkflowNotFound(_)
            | OperationError::ReportNotFound(_) => Self::NotFound(error.to_string()),
            OperationError::InvalidPayload(details) => Self::BadRequest {
                message: "Payload is not valid".into(),
                details,
            },
            OperationError::Invalid(message) => Self::bad_request(message),
            OperationError::Conflict(message) => Self::Conflict(message),
            OperationError::Interrupted(message) => Self::Unavailable(message),
            OperationError::Store(error) => error.into(),
        }
    }
}

//! Task services' own credential: the coordinator's task services report progress with an
//! unsigned `PATCH /tasks/<id>`, so a report may carry `Authorization: Bearer <token>`, the
//! token its service's registration answered, instead of a signature. It is checked from the
//! headers alone, in one Redis round trip (the service's token digest and the task's
//! service), before the body is read; it is good only for the tasks of its own service, and
//! registering the service again replaces it.

use common::releases::ServiceToken;
use subtle::ConstantTimeEq;

use super::reply::not_found;
use super::route::Collection;
use crate::error::ApiError;
use crate::request::RequestHead;
use crate::state::AppState;

/// The bearer token a request presents (`Authorization: Bearer <token>`), if any.
pub fn presented(head: &RequestHead) -> Option<&str> {
    let value = head.headers.get("authorization")?.to_str().ok()?;
    let scheme = value.get(..7)?;
    scheme
        .eq_ignore_ascii_case("bearer ")
        .then(|| value[7..].trim())
}

/// True when the request carries no credentials at all (neither `Authorization` nor
/// `Signature`).
pub fn absent(head: &RequestHead) -> bool {
    !head.headers.contains_key("authorization") && !head.headers.contains_key("signature")
}

/// The refusal of a report that carries no credentials.
pub fn missing() -> ApiError {
    ApiError::Unauthorized(
        "a progress report needs its task service's token ('Authorization: Bearer <token>', \
         answered at registration) or an HTTP signature"
            .into(),
    )
}

/// Checks `token` for a report on task `task_id`: 401 unless it is the current token of a
/// registered service, 403 when the task belongs to another service, 404 when there is no
/// such task. Answers the service's id.
pub async fn check(state: &AppState, token: &str, task_id: &str) -> Result<String, ApiError> {
    let invalid = || {
        ApiError::Unauthorized(
            "the task service token is not valid: unknown, or replaced by a later registration"
                .into(),
        )
    };
    let token = ServiceToken::parse(token).ok_or_else(invalid)?;
    let credentials = state
        .store
        .task_report_credentials(&token.service, task_id)
        .await?;
    let stored = credentials.token_digest.ok_or_else(invalid)?;
    if !bool::from(stored.as_bytes().ct_eq(token.digest().as_bytes())) {
        return Err(invalid());
    }
    match credentials.task_service {
        Some(owner) if owner == token.service => Ok(token.service),
        Some(_) => Err(ApiError::Forbidden(format!(
            "task {task_id} belongs to another task service: a service's token reports only \
             its own tasks"
        ))),
        None => Err(not_found(Collection::Tasks, task_id)),
    }
}

#[cfg(test)]
mod tests {
    use warp::http::{HeaderMap, HeaderValue, Method};

    use super::*;

    fn head(authorization: Option<&'static str>) -> RequestHead {
        let mut headers = HeaderMap::new();
        if let Some(value) = authorization {
            headers.insert("authorization", HeaderValue::from_static(value));
        }
        RequestHead {
            method: Method::PATCH,
            path_and_query: "/tasks/TA_ABCD1234".into(),
            headers,
            remote: None,
        }
    }

    #[test]
    fn only_a_bearer_authorization_presents_a_token() {
        assert_eq!(presented(&head(Some("Bearer TS_X.y"))), Some("TS_X.y"));
        assert_eq!(presented(&head(Some("bearer  TS_X.y "))), Some("TS_X.y"));
        assert_eq!(presented(&head(Some("Signature keyId=\"k\""))), None);
        assert_eq!(presented(&head(Some("Bear"))), None);
        assert_eq!(presented(&head(None)), None);
        assert!(absent(&head(None)));
        assert!(!absent(&head(Some("Signature keyId=\"k\""))));
    }
}

//! API keys (admin): the list, creating one (its secret answered once) and revoking one.

use common::auth::api_key::{ApiKey, NewApiKey};
use common::auth::permissions::{Grant, split_grants};
use common::time::iso8601;
use serde::Deserialize;
use serde_json::{Value, json};
use warp::http::StatusCode;

use super::json_response;
use crate::error::ApiError;
use crate::request::RequestParts;
use crate::state::AppState;

/// A key as listed, never with its secret.
fn key_json(key: &ApiKey) -> Value {
    json!({
        "id": key.id,
        "permissions": key.grant_names(),
        "allow_date_only": key.allow_date_only,
        "created": iso8601(key.created_ms),
        "last_used": key.last_used_ms.map(iso8601),
        "revoked": key.revoked_ms.map(iso8601),
    })
}

/// The body of `POST /api/keys`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKeyBody {
    /// The key id.
    id: String,
    /// Grants as written (`workflows.read`, `report:NAME/reports.run`, ...).
    permissions: Vec<String>,
    /// Accepts signatures over `date` alone.
    #[serde(default)]
    allow_date_only: bool,
}

/// `GET /api/keys`.
pub async fn list(state: &AppState) -> Result<warp::reply::Response, ApiError> {
    let keys: Vec<Value> = state
        .store
        .list_api_keys()
        .await?
        .iter()
        .map(key_json)
        .collect();
    Ok(json_response(StatusCode::OK, &Value::Array(keys)))
}

/// `POST /api/keys`: creates a key with a random secret, answered this once (201); an id in
/// use is a 409.
pub async fn create(
    state: &AppState,
    request: &RequestParts,
) -> Result<warp::reply::Response, ApiError> {
    let body: NewKeyBody =
        serde_json::from_slice(&request.body).map_err(|error| ApiError::BadRequest {
            message: "the body must be {\"id\": ..., \"permissions\": [...]}".into(),
            details: vec![error.to_string()],
        })?;
    let grants = body
        .permissions
        .iter()
        .map(|text| text.parse::<Grant>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| ApiError::bad_request(error.to_string()))?;
    if state.store.api_key(&body.id).await?.is_some() {
        return Err(ApiError::Conflict(format!("key '{}' exists", body.id)));
    }
    let (permissions, report_permissions) = split_grants(grants);
    let new = NewApiKey {
        id: body.id,
        permissions,
        report_permissions,
        secret: None,
        allow_date_only: body.allow_date_only,
    };
    let (key, secret) = state.store.create_api_key(&state.master_key, new).await?;
    tracing::info!(key = %key.id, by = %request_key(request), "key created over the API");
    let mut answer = key_json(&key);
    answer["secret"] = json!(secret);
    Ok(json_response(StatusCode::CREATED, &answer))
}

/// `POST /api/keys/{id}/revoke`: the key is refused from now on, its sessions end. The key
/// signing the request cannot revoke itself (409), so a script cannot lock itself out.
pub async fn revoke(
    state: &AppState,
    request: &RequestParts,
    id: &str,
) -> Result<warp::reply::Response, ApiError> {
    if request_key(request) == id {
        return Err(ApiError::Conflict(format!(
            "key '{id}' signs this request: revoke it with another admin key"
        )));
    }
    if !state.store.revoke_api_key(id).await? {
        return Err(ApiError::NotFound(format!("no key '{id}'")));
    }
    crate::auth::forget_key(state, id);
    tracing::info!(key = %id, by = %request_key(request), "key revoked over the API");
    let key = state
        .store
        .api_key(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no key '{id}'")))?;
    Ok(json_response(StatusCode::OK, &key_json(&key)))
}

/// The id of the key a request was made with.
fn request_key(request: &RequestParts) -> &str {
    request
        .caller
        .as_ref()
        .map_or("-", |caller| caller.key.id.as_str())
}

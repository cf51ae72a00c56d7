//! Request authentication (HTTP signatures over API keys kept in Redis) and permissions.
//!
//! A strict key's signature must cover `(request-target)` and `date`, and `digest` when the
//! request has a body; a key created with `--allow-date-only` accepts a signature over `date`
//! alone (Orchestra's client). `Date` must lie within the skew window, `Digest` must match the
//! body, and the same request is refused the second time it is seen inside the window.

use std::collections::BTreeSet;

use common::signing::{self, SignatureParams};
use common::store::apikeys::{ApiKey, Permission, grants};
use sha2::{Digest, Sha256};
use warp::http::HeaderMap;

use crate::error::ApiError;
use crate::request::RequestParts;
use crate::state::AppState;

/// The key a request was signed with, once verified.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The key.
    pub key: ApiKey,
}

impl Caller {
    /// True when the key holds `permission` (or `admin`).
    pub fn may(&self, permission: Permission) -> bool {
        grants(&self.key.permissions, permission)
    }
}

fn signature_params(headers: &HeaderMap) -> Result<SignatureParams, ApiError> {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let parsed = match (header("authorization"), header("signature")) {
        (Some(value), _) if value.len() > 10 && value[..10].eq_ignore_ascii_case("signature ") => {
            signing::parse_authorization(value)
        }
        (_, Some(value)) => signing::parse_signature_header(value),
        (Some(_), None) => {
            return Err(ApiError::Unauthorized(
                "the Authorization header is not an HTTP signature (expected 'Signature keyId=...')".into(),
            ));
        }
        (None, None) => {
            return Err(ApiError::Unauthorized(
                "missing HTTP signature: send 'Authorization: Signature keyId=...,signature=...'"
                    .into(),
            ));
        }
    };
    parsed.map_err(|error| ApiError::Unauthorized(format!("malformed signature: {error}")))
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A key and its secret, from the cache or from Redis.
async fn known_key(state: &AppState, id: &str) -> Result<(ApiKey, Vec<u8>), ApiError> {
    if let Some(cached) = lock(&state.key_cache).get(id) {
        return Ok(cached.clone());
    }
    let Some((key, secret)) = state.store.api_key_secret(&state.master_key, id).await? else {
        return Err(ApiError::Unauthorized(format!("unknown key '{id}'")));
    };
    if key.revoked_ms.is_none() {
        lock(&state.key_cache).insert(id.to_owned(), (key.clone(), secret.clone()));
    }
    Ok((key, secret))
}

/// The keyId a request claims to be signed with, for logs (unverified).
pub fn key_id_of(headers: &HeaderMap) -> Option<String> {
    signature_params(headers).ok().map(|params| params.key_id)
}

/// Verifies the request's signature and checks that its key holds `permission`.
pub async fn authorize(
    state: &AppState,
    request: &RequestParts,
    permission: Permission,
) -> Result<Caller, ApiError> {
    let caller = authenticate(state, request).await?;
    if !caller.may(permission) {
        return Err(ApiError::Forbidden(format!(
            "key '{}' lacks the '{}' permission",
            caller.key.id,
            permission.as_str()
        )));
    }
    Ok(caller)
}

/// Verifies the request's signature: any valid key passes.
pub async fn authenticate(state: &AppState, request: &RequestParts) -> Result<Caller, ApiError> {
    let params = signature_params(&request.headers)?;
    let (key, secret) = known_key(state, &params.key_id).await?;
    if key.revoked_ms.is_some() {
        return Err(ApiError::Unauthorized(format!(
            "key '{}' is revoked",
            key.id
        )));
    }
    if let Some(api_key) = request.headers.get("x-api-key")
        && api_key.as_bytes() != key.id.as_bytes()
    {
        return Err(ApiError::Unauthorized(
            "X-Api-Key does not match the signature's keyId".into(),
        ));
    }
    check_signed_headers(&key, &params.headers, !request.body.is_empty())?;
    check_date(&request.headers, state.signature_skew_secs)?;
    if params.headers.iter().any(|name| name == "digest") || request.headers.contains_key("digest")
    {
        let digest = request
            .headers
            .get("digest")
            .and_then(|value| value.to_str().ok())
            .ok_or_else(|| {
                ApiError::Unauthorized(
                    "the signature covers 'digest' but no Digest header was sent".into(),
                )
            })?;
        signing::check_digest(digest, &request.body)
            .map_err(|error| ApiError::Unauthorized(format!("bad Digest: {error}")))?;
    }
    let signing_string = signing::signing_string(
        &request.method,
        &request.path_and_query,
        &request.headers,
        &params.headers,
    )
    .map_err(|error| ApiError::Unauthorized(format!("cannot verify the signature: {error}")))?;
    if !signing::verify_signature(&secret, &signing_string, &params.signature) {
        return Err(ApiError::Unauthorized("signature does not match".into()));
    }
    // Only a request that changes something is refused when repeated: reading twice is what
    // polling clients do, and a repeated read changes nothing.
    let fingerprint = (!request.method.is_safe()).then(|| replay_fingerprint(request, &params));
    let window_ms = state.signature_skew_secs.saturating_mul(2000).max(1000);
    let admission = state
        .store
        .admit_request(&key.id, fingerprint.as_deref(), window_ms)
        .await?;
    if admission.revoked {
        lock(&state.key_cache).remove(&key.id);
        return Err(ApiError::Unauthorized(format!(
            "key '{}' is revoked",
            key.id
        )));
    }
    if admission.replay {
        return Err(ApiError::Unauthorized(
            "replayed request: this signed request was already received; to repeat a change \
             on purpose, send it with a new Date or sign an extra header such as X-Request-Id"
                .into(),
        ));
    }
    let caller = Caller { key };
    Ok(caller)
}

fn check_signed_headers(key: &ApiKey, signed: &[String], has_body: bool) -> Result<(), ApiError> {
    let signed: BTreeSet<&str> = signed.iter().map(String::as_str).collect();
    let mut required = vec!["date"];
    if !key.allow_date_only {
        required.push("(request-target)");
        if has_body {
            required.push("digest");
        }
    }
    let missing: Vec<&str> = required
        .into_iter()
        .filter(|name| !signed.contains(name))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Unauthorized(format!(
            "the signature must cover {}",
            missing
                .iter()
                .map(|name| format!("'{name}'"))
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }
}

fn check_date(headers: &HeaderMap, skew_secs: u64) -> Result<(), ApiError> {
    let date = headers
        .get("date")
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| ApiError::Unauthorized("missing Date header".into()))?;
    let sent = signing::parse_http_date(date)
        .map_err(|error| ApiError::Unauthorized(format!("bad Date header: {error}")))?;
    let skew = (chrono::Utc::now() - sent).num_seconds().unsigned_abs();
    if skew > skew_secs {
        return Err(ApiError::Unauthorized(format!(
            "Date is {skew} s away from the server's clock (at most {skew_secs} s allowed)"
        )));
    }
    Ok(())
}

/// What identifies one request for replay detection. A strict signature covers the method,
/// path, date and body digest, so the signature alone names the request; a date-only one does
/// not, so method, path and body join it.
fn replay_fingerprint(request: &RequestParts, params: &SignatureParams) -> String {
    let mut hasher = Sha256::new();
    hasher.update(params.key_id.as_bytes());
    hasher.update([0]);
    hasher.update(&params.signature);
    hasher.update([0]);
    hasher.update(request.method.as_str().as_bytes());
    hasher.update([0]);
    hasher.update(request.path_and_query.as_bytes());
    hasher.update([0]);
    hasher.update(Sha256::digest(&request.body));
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

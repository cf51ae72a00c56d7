//! Request authentication (HTTP signatures over API keys kept in Redis, and the reports
//! front's bearer tokens) and permissions.
//!
//! Admission runs in two steps around the body, so nothing expensive happens for a caller who
//! is not known: [`authenticate_head`] checks what the headers carry (the signature's shape,
//! `Date`, the key, the signature over the headers, whose `Digest` value stands for the body),
//! and only then is the body read; [`HeadAuth::admit`] checks the body against its `Digest`
//! and refuses replays. Handlers then call [`authorize`] or [`authenticate`], which read the
//! caller the route's wrapper admitted.
//!
//! A strict key's signature must cover `(request-target)` and `date`, and `digest` when the
//! request has a body; a key created with `--allow-date-only` accepts a signature over `date`
//! alone (Orchestra's client). `Date` must lie within the skew window, `Digest` must match the
//! body, and the same change is refused the second time it is seen while its `Date` could
//! still be accepted.

use std::collections::BTreeSet;

use common::auth::api_key::ApiKey;
use common::auth::permissions::{Permission, grants};
use common::auth::signing::{self, SignatureParams};
use sha2::{Digest, Sha256};
use warp::http::HeaderMap;

use crate::error::ApiError;
use crate::request::{RequestHead, RequestParts};
use crate::state::AppState;

/// What a route asks of its callers before their body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// Nobody: the route takes no credentials and no body (`/healthz`, login, ...).
    Public,
    /// An HTTP signature.
    Signed,
    /// A bearer token from the reports front's login, or an HTTP signature; with
    /// `query_token`, the token may also come as `?access_token=` (downloads, as OrderlyWeb
    /// allows).
    SignedOrBearer {
        /// Whether `?access_token=` is accepted.
        query_token: bool,
    },
    /// A console session cookie (the console's signed-in pages and actions).
    Session,
    /// Nobody, but with a small body (the console's sign-in form): read up to
    /// [`ANONYMOUS_BODY_LIMIT`] bytes.
    Anonymous,
}

/// Largest body a route guarded by [`Guard::Anonymous`] reads.
pub const ANONYMOUS_BODY_LIMIT: u64 = 8 * 1024;

/// How a caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// An HTTP signature.
    Signature,
    /// A bearer token in the `Authorization` header.
    Bearer,
    /// A bearer token in `?access_token=`.
    QueryToken,
    /// A console session cookie.
    Session,
}

/// The key a request was made with, once verified.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The key.
    pub key: ApiKey,
    /// How it was presented.
    pub credential: Credential,
    /// The console session it came with, for [`Credential::Session`].
    pub session: Option<common::store::auth::sessions::Session>,
}

impl Caller {
    /// True when the key holds `permission` (or `admin`).
    pub fn may(&self, permission: Permission) -> bool {
        grants(&self.key.permissions, permission)
    }
}

/// What the head of a request proved, before its body is read.
#[derive(Debug)]
pub enum HeadAuth {
    /// A public route: nobody to check.
    Public,
    /// A bearer token: nothing about the body to check.
    Bearer(Caller),
    /// A signature verified over the headers; the body's digest and the replay check remain.
    Signed {
        /// The key.
        key: ApiKey,
        /// The signature's parameters.
        params: SignatureParams,
    },
}

fn signature_params(headers: &HeaderMap) -> Result<SignatureParams, ApiError> {
    // A value too long to be a signature is refused by its length, before it is read.
    let too_long = |name: &str| {
        headers
            .get(name)
            .is_some_and(|value| value.len() > signing::MAX_SIGNATURE_PARAMS + "Signature ".len())
    };
    if too_long("authorization") || too_long("signature") {
        return Err(ApiError::Unauthorized(format!(
            "malformed signature: {}",
            signing::SignatureError::TooLong
        )));
    }
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let parsed = match (header("authorization"), header("signature")) {
        (Some(value), _) if value.len() > 10 && value[..10].eq_ignore_ascii_case("signature ") => {
            signing::parse::parse_authorization(value)
        }
        (_, Some(value)) => signing::parse::parse_signature_header(value),
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

/// Drops a key from this process's cache (when it is revoked here), so its next request is
/// checked against Redis from the start.
pub fn forget_key(state: &AppState, id: &str) {
    lock(&state.key_cache).remove(id);
}

/// The keyId a request claims to be signed with, for logs (unverified).
pub fn key_id_of(headers: &HeaderMap) -> Option<String> {
    signature_params(headers).ok().map(|params| params.key_id)
}

/// Checks that the request's caller holds `permission`; the caller is the one the route's
/// wrapper admitted.
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

/// The caller the route's wrapper admitted: any valid key passes. The state is not needed
/// (the head was verified once, before the body was read); it stays in the signature so
/// every handler asks the same way.
pub async fn authenticate(_state: &AppState, request: &RequestParts) -> Result<Caller, ApiError> {
    request
        .caller
        .clone()
        .ok_or_else(|| ApiError::Unauthorized("this route takes no credentials".into()))
}

/// The bearer token a request presents, and how, when `guard` accepts one.
fn bearer_of(head: &RequestHead, query_token: bool) -> Option<(String, Credential)> {
    let header = head
        .headers
        .get("authorization")
        .and_then(|value| value.to_str().ok());
    match header {
        Some(value) if value.len() > 7 && value[..7].eq_ignore_ascii_case("bearer ") => {
            Some((value[7..].trim().to_owned(), Credential::Bearer))
        }
        Some(_) => None,
        None if query_token && !head.headers.contains_key("signature") => head
            .query("access_token")
            .map(|token| (token, Credential::QueryToken)),
        None => None,
    }
}

/// Checks what the head of a request carries, as `guard` asks, before any of its body is
/// read: a bearer token, or a signature (its shape, `Date`, its key, and the signature over
/// the headers).
pub async fn authenticate_head(
    state: &AppState,
    head: &RequestHead,
    guard: Guard,
) -> Result<HeadAuth, ApiError> {
    match guard {
        Guard::Public | Guard::Anonymous => return Ok(HeadAuth::Public),
        Guard::Session => {
            return crate::fronts::console::session::session_caller(state, head)
                .await
                .map(HeadAuth::Bearer);
        }
        Guard::Signed => {}
        Guard::SignedOrBearer { query_token } => {
            if let Some((token, credential)) = bearer_of(head, query_token) {
                return bearer_caller(state, &token, credential)
                    .await
                    .map(HeadAuth::Bearer);
            }
        }
    }
    let params = signature_params(&head.headers)?;
    // The date costs nothing to check; the key costs a Redis read.
    check_date(&head.headers, state.signature_skew_secs)?;
    let (key, secret) = known_key(state, &params.key_id).await?;
    if key.revoked_ms.is_some() {
        return Err(ApiError::Unauthorized(format!(
            "key '{}' is revoked",
            key.id
        )));
    }
    if let Some(api_key) = head.headers.get("x-api-key")
        && api_key.as_bytes() != key.id.as_bytes()
    {
        return Err(ApiError::Unauthorized(
            "X-Api-Key does not match the signature's keyId".into(),
        ));
    }
    let announces_body = head.content_length().is_some_and(|length| length > 0);
    check_signed_headers(&key, &params.headers, announces_body)?;
    let signing_string = signing::parse::signing_string(
        &head.method,
        &head.path_and_query,
        &head.headers,
        &params.headers,
    )
    .map_err(|error| ApiError::Unauthorized(format!("cannot verify the signature: {error}")))?;
    if !signing::verify::verify_signature(&secret, &signing_string, &params.signature) {
        return Err(ApiError::Unauthorized("signature does not match".into()));
    }
    Ok(HeadAuth::Signed { key, params })
}

/// The holder of a bearer token, when the token is valid and its holder not revoked.
async fn bearer_caller(
    state: &AppState,
    token: &str,
    credential: Credential,
) -> Result<Caller, ApiError> {
    let invalid = || ApiError::Unauthorized("the bearer token is invalid or has expired".into());
    let holder = state
        .store
        .bearer_token_holder(token)
        .await?
        .ok_or_else(invalid)?;
    let key = state.store.api_key(&holder).await?.ok_or_else(invalid)?;
    if key.revoked_ms.is_some() {
        return Err(invalid());
    }
    Ok(Caller {
        key,
        credential,
        session: None,
    })
}

impl HeadAuth {
    /// Finishes admission once the body is read (`body_len` bytes with SHA-256 `body_sha256`):
    /// checks it against the signed `Digest`, then refuses a replayed change. The caller,
    /// `None` on a public route.
    pub async fn admit(
        self,
        state: &AppState,
        head: &RequestHead,
        body_len: u64,
        body_sha256: &[u8; 32],
    ) -> Result<Option<Caller>, ApiError> {
        let (key, params) = match self {
            Self::Public => return Ok(None),
            Self::Bearer(caller) => return Ok(Some(caller)),
            Self::Signed { key, params } => (key, params),
        };
        check_signed_headers(&key, &params.headers, body_len > 0)?;
        if params.headers.iter().any(|name| name == "digest") || head.headers.contains_key("digest")
        {
            let digest = head
                .headers
                .get("digest")
                .and_then(|value| value.to_str().ok())
                .ok_or_else(|| {
                    ApiError::Unauthorized(
                        "the signature covers 'digest' but no Digest header was sent".into(),
                    )
                })?;
            signing::verify::check_digest_hash(digest, body_sha256)
                .map_err(|error| ApiError::Unauthorized(format!("bad Digest: {error}")))?;
        }
        // Only a request that changes something is refused when repeated: reading twice is
        // what polling clients do, and a repeated read changes nothing.
        let fingerprint =
            (!head.method.is_safe()).then(|| replay_fingerprint(head, &params, body_sha256));
        let admission = state
            .store
            .admit_request(
                &key.id,
                fingerprint.as_deref(),
                replay_window_ms(state.signature_skew_secs),
            )
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
                "replayed request: this signed request was already received; to repeat a \
                 change on purpose, send it with a new Date or sign an extra header such as \
                 X-Request-Id"
                    .into(),
            ));
        }
        Ok(Some(Caller {
            key,
            credential: Credential::Signature,
            session: None,
        }))
    }
}

/// How long a request is remembered for replay detection, in milliseconds: a `Date` is
/// accepted from `skew` before to `skew` after it, read to the second, so a marker kept
/// `2 x (skew + 2 s)` outlives every moment the same request could be accepted, on any
/// replica whose clock is within a second of this one.
pub fn replay_window_ms(skew_secs: u64) -> u64 {
    skew_secs.saturating_add(2).saturating_mul(2000)
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

/// Refuses a `Date` more than `skew_secs` from the server's clock, compared in milliseconds.
fn check_date(headers: &HeaderMap, skew_secs: u64) -> Result<(), ApiError> {
    let date = headers
        .get("date")
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| ApiError::Unauthorized("missing Date header".into()))?;
    let sent = signing::parse::parse_http_date(date)
        .map_err(|error| ApiError::Unauthorized(format!("bad Date header: {error}")))?;
    let skew_ms = (chrono::Utc::now() - sent)
        .num_milliseconds()
        .unsigned_abs();
    if skew_ms > skew_secs.saturating_mul(1000) {
        return Err(ApiError::Unauthorized(format!(
            "Date is {:.1} s away from the server's clock (at most {skew_secs} s allowed)",
            skew_ms as f64 / 1000.0
        )));
    }
    Ok(())
}

/// What identifies one request for replay detection. A strict signature covers the method,
/// path, date and body digest, so the signature alone names the request; a date-only one does
/// not, so method, path and body join it.
fn replay_fingerprint(head: &RequestHead, params: &SignatureParams, body_sha256: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(params.key_id.as_bytes());
    hasher.update([0]);
    hasher.update(&params.signature);
    hasher.update([0]);
    hasher.update(head.method.as_str().as_bytes());
    hasher.update([0]);
    hasher.update(head.path_and_query.as_bytes());
    hasher.update([0]);
    hasher.update(body_sha256);
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_markers_outlive_every_accepted_date() {
        for skew in [0, 1, 5, 300] {
            // A Date read to the second is accepted over 2 x skew, plus up to a second at
            // each end.
            assert!(replay_window_ms(skew) >= 2 * (skew * 1000 + 1000), "{skew}");
        }
        assert_eq!(replay_window_ms(300), 604_000);
        assert_eq!(replay_window_ms(u64::MAX), u64::MAX);
    }

    #[test]
    fn dates_are_compared_in_milliseconds() {
        let mut headers = HeaderMap::new();
        let now = chrono::Utc::now();
        let date =
            |at: chrono::DateTime<chrono::Utc>| signing::sign::http_date(at).parse().unwrap();
        headers.insert("date", date(now + chrono::Duration::milliseconds(2_900)));
        // 1.9 s to 2.9 s away: whole seconds would read 1 or 2; milliseconds read more than 1.
        assert!(check_date(&headers, 1).is_err());
        headers.insert("date", date(now));
        assert!(check_date(&headers, 1).is_ok());
    }
}

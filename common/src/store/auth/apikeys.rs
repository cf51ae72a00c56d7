//! API keys: id, permissions and a secret sealed under the master key; and the memory of
//! recently seen signed requests that refuses replays.

use std::collections::HashMap;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::auth::api_key::{
    ApiKey, NewApiKey, SECRET_MIN_LEN, random_token, token_digest, valid_key_id,
};
use crate::auth::permissions::{Grant, split_grants};
use crate::auth::sealing::MasterKey;
use crate::error::{InvalidInput, StoreError};
use crate::scripts;
use crate::store::{Store, StoreResult};
use crate::time::now_ms;

/// What [`Store::admit_request`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    /// The key has been revoked.
    pub revoked: bool,
    /// The same signed request was seen within the window.
    pub replay: bool,
}

/// Login attempts counted by [`Store::count_login_attempt`] in the current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginAttempts {
    /// Attempts for the user, this one included.
    pub by_user: u64,
    /// Attempts from the address, this one included.
    pub from_address: u64,
    /// Milliseconds until both windows have ended.
    pub retry_after_ms: u64,
}

fn parse_key(fields: &HashMap<String, String>) -> StoreResult<ApiKey> {
    let number = |name: &str| fields.get(name).and_then(|value| value.parse::<u64>().ok());
    let granted: Vec<Grant> = fields
        .get("permissions")
        .map(String::as_str)
        .unwrap_or("")
        .split(',')
        .filter(|name| !name.is_empty())
        .map(Grant::from_str)
        .collect::<Result<_, _>>()?;
    let (permissions, report_permissions) = split_grants(granted);
    Ok(ApiKey {
        id: fields
            .get("id")
            .cloned()
            .ok_or_else(|| StoreError::Corrupt("api key without id".into()))?,
        permissions,
        report_permissions,
        allow_date_only: fields.get("allow_date_only").map(String::as_str) == Some("1"),
        created_ms: number("created").unwrap_or(0),
        last_used_ms: number("last_used"),
        revoked_ms: number("revoked"),
    })
}

impl Store {
    /// Issues a bearer token standing for key `key_id` for `ttl_secs` seconds. Only its
    /// SHA-256 is stored.
    pub async fn issue_bearer_token(&self, key_id: &str, ttl_secs: u64) -> StoreResult<String> {
        let token = random_token();
        let mut conn = self.conn().await?;
        redis::cmd("SET")
            .arg(self.keys.bearer_token(&token_digest(&token)))
            .arg(key_id)
            .arg("EX")
            .arg(ttl_secs.max(1))
            .query_async::<()>(&mut conn)
            .await?;
        Ok(token)
    }

    /// The key a bearer token stands for, while the token is valid.
    pub async fn bearer_token_holder(&self, token: &str) -> StoreResult<Option<String>> {
        let mut conn = self.conn().await?;
        Ok(redis::cmd("GET")
            .arg(self.keys.bearer_token(&token_digest(token)))
            .query_async(&mut conn)
            .await?)
    }

    /// Creates a key; returns it and its secret (generated when none was given), which is
    /// stored only sealed.
    pub async fn create_api_key(
        &self,
        master: &MasterKey,
        new: NewApiKey,
    ) -> StoreResult<(ApiKey, String)> {
        if !valid_key_id(&new.id) {
            return Err(InvalidInput::new(format!(
                "invalid key id '{}': use 1-64 letters, digits, '.', '_' or '-'",
                new.id
            ))
            .into());
        }
        if new.permissions.is_empty() && new.report_permissions.is_empty() {
            return Err(InvalidInput::new("a key needs at least one permission").into());
        }
        let secret = match new.secret {
            Some(secret) if secret.chars().count() < SECRET_MIN_LEN => {
                return Err(InvalidInput::new(format!(
                    "the secret must have at least {SECRET_MIN_LEN} characters \
                     (leave --secret out for a random 256-bit one)"
                ))
                .into());
            }
            Some(secret) => secret,
            None => URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>()),
        };
        let now = now_ms();
        let api_key = ApiKey {
            id: new.id,
            permissions: new.permissions,
            report_permissions: new.report_permissions,
            allow_date_only: new.allow_date_only,
            created_ms: now,
            last_used_ms: None,
            revoked_ms: None,
        };
        let permissions = api_key.grant_names();
        let id = &api_key.id;
        let mut conn = self.conn().await?;
        let key = self.keys.api_key(id);
        let created: bool = redis::cmd("HSETNX")
            .arg(&key)
            .arg("id")
            .arg(id)
            .query_async(&mut conn)
            .await?;
        if !created {
            return Err(InvalidInput::new(format!("key '{id}' exists")).into());
        }
        redis::pipe()
            .cmd("HSET")
            .arg(&key)
            .arg("secret")
            .arg(master.seal(secret.as_bytes(), id.as_bytes()))
            .arg("permissions")
            .arg(permissions.join(","))
            .arg("allow_date_only")
            .arg(u8::from(api_key.allow_date_only))
            .arg("created")
            .arg(now)
            .ignore()
            .cmd("SADD")
            .arg(self.keys.api_key_index())
            .arg(id)
            .ignore()
            .query_async::<()>(&mut conn)
            .await?;
        Ok((api_key, secret))
    }

    async fn api_key_fields(&self, id: &str) -> StoreResult<HashMap<String, String>> {
        let mut conn = self.conn().await?;
        Ok(redis::cmd("HGETALL")
            .arg(self.keys.api_key(id))
            .query_async(&mut conn)
            .await?)
    }

    /// A key, without its secret.
    pub async fn api_key(&self, id: &str) -> StoreResult<Option<ApiKey>> {
        if !valid_key_id(id) {
            return Ok(None);
        }
        let fields = self.api_key_fields(id).await?;
        if fields.is_empty() {
            Ok(None)
        } else {
            parse_key(&fields).map(Some)
        }
    }

    /// A key with its opened secret, for verifying a signature.
    pub async fn api_key_secret(
        &self,
        master: &MasterKey,
        id: &str,
    ) -> StoreResult<Option<(ApiKey, Vec<u8>)>> {
        if !valid_key_id(id) {
            return Ok(None);
        }
        let fields = self.api_key_fields(id).await?;
        if fields.is_empty() || !fields.contains_key("secret") {
            return Ok(None);
        }
        let key = parse_key(&fields)?;
        let secret = master
            .open(&fields["secret"], id.as_bytes())
            .map_err(|error| {
                StoreError::Corrupt(format!("the secret of key '{id}' does not open: {error}"))
            })?;
        Ok(Some((key, secret)))
    }

    /// Every key, by id.
    pub async fn list_api_keys(&self) -> StoreResult<Vec<ApiKey>> {
        let mut conn = self.conn().await?;
        let mut ids: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.keys.api_key_index())
            .query_async(&mut conn)
            .await?;
        ids.sort();
        let mut keys = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(key) = self.api_key(&id).await? {
                keys.push(key);
            }
        }
        Ok(keys)
    }

    /// Revokes a key; false when there is no such key.
    pub async fn revoke_api_key(&self, id: &str) -> StoreResult<bool> {
        if self.api_key(id).await?.is_none() {
            return Ok(false);
        }
        let mut conn = self.conn().await?;
        redis::cmd("HSET")
            .arg(self.keys.api_key(id))
            .arg("revoked")
            .arg(now_ms())
            .query_async::<()>(&mut conn)
            .await?;
        self.end_sessions_of(id).await?;
        Ok(true)
    }

    /// Records that a key was just used.
    pub async fn touch_api_key(&self, id: &str, now_ms: u64) -> StoreResult<()> {
        self.key_uses.forget(id);
        let mut conn = self.conn().await?;
        redis::cmd("HSET")
            .arg(self.keys.api_key(id))
            .arg("last_used")
            .arg(now_ms)
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    /// Counts a login attempt for `user` from `address` in one atomic step, each counter in a
    /// window of `window_ms` that starts with its first attempt.
    pub async fn count_login_attempt(
        &self,
        user: &str,
        address: &str,
        window_ms: u64,
    ) -> StoreResult<LoginAttempts> {
        let mut conn = self.conn().await?;
        let (by_user, from_address, retry_after_ms): (u64, u64, u64) = scripts::LOGIN_ATTEMPT
            .key(self.keys.login_attempts_by_user(user))
            .key(self.keys.login_attempts_from(address))
            .arg(window_ms.max(1))
            .invoke_async(&mut conn)
            .await?;
        Ok(LoginAttempts {
            by_user,
            from_address,
            retry_after_ms,
        })
    }

    /// Admits a request signed with key `id` in one round trip: whether the key has been
    /// revoked and, when the request has a `fingerprint` (those that change something), whether
    /// it is new within `ttl_ms` (a replay otherwise); records the key's use, at most once a
    /// minute per key and process (see [`super::key_uses`]).
    pub async fn admit_request(
        &self,
        id: &str,
        fingerprint: Option<&str>,
        ttl_ms: u64,
    ) -> StoreResult<Admission> {
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        pipe.cmd("HGET").arg(self.keys.api_key(id)).arg("revoked");
        if let Some(fingerprint) = fingerprint {
            pipe.cmd("SET")
                .arg(self.keys.seen_request(fingerprint))
                .arg(1)
                .arg("NX")
                .arg("PX")
                .arg(ttl_ms.max(1));
        }
        let now = now_ms();
        if self.key_uses.due(id, now) {
            pipe.cmd("HSET")
                .arg(self.keys.api_key(id))
                .arg("last_used")
                .arg(now)
                .ignore();
        }
        let answers: Vec<Option<String>> = pipe.query_async(&mut conn).await?;
        let answer = |index: usize| answers.get(index).cloned().flatten();
        Ok(Admission {
            revoked: answer(0).is_some(),
            replay: fingerprint.is_some() && answer(1).is_none(),
        })
    }
}

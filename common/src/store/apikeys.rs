//! API keys: id, permissions and a secret sealed under the master key; and the memory of
//! recently seen signed requests that refuses replays.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::{Store, StoreResult};
use crate::auth::sealing::MasterKey;
use crate::error::{InvalidInput, StoreError};
use crate::scripts;
use crate::time::now_ms;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Permission {
    /// Read workflows and definitions.
    WorkflowsRead,
    /// Start, relaunch and cancel workflows.
    WorkflowsRun,
    /// Read reports and published versions.
    ReportsRead,
    /// See unpublished versions; publish and unpublish.
    ReportsReview,
    /// Run reports.
    ReportsRun,
    /// Read releases.
    ReleasesRead,
    /// Create, change and cancel releases; register task services.
    ReleasesWrite,
    /// Read projects.
    ProjectsRead,
    /// Create projects.
    ProjectsWrite,
    /// Work on human tasks of projects.
    ProjectsWork,
    /// Review human tasks others submitted: accept them or send them back.
    ProjectsReview,
    /// Steer projects: end (abort) them, pause and resume them, assign and reassign their
    /// human tasks.
    ProjectsManage,
    /// See and steer queues, dead letters and workers.
    Operator,
    /// Everything.
    Admin,
}

impl Permission {
    /// Every permission.
    pub const ALL: [Permission; 14] = [
        Permission::WorkflowsRead,
        Permission::WorkflowsRun,
        Permission::ReportsRead,
        Permission::ReportsReview,
        Permission::ReportsRun,
        Permission::ReleasesRead,
        Permission::ReleasesWrite,
        Permission::ProjectsRead,
        Permission::ProjectsWrite,
        Permission::ProjectsWork,
        Permission::ProjectsReview,
        Permission::ProjectsManage,
        Permission::Operator,
        Permission::Admin,
    ];

    /// The permission's name (`workflows.read`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WorkflowsRead => "workflows.read",
            Self::WorkflowsRun => "workflows.run",
            Self::ReportsRead => "reports.read",
            Self::ReportsReview => "reports.review",
            Self::ReportsRun => "reports.run",
            Self::ReleasesRead => "releases.read",
            Self::ReleasesWrite => "releases.write",
            Self::ProjectsRead => "projects.read",
            Self::ProjectsWrite => "projects.write",
            Self::ProjectsWork => "projects.work",
            Self::ProjectsReview => "projects.review",
            Self::ProjectsManage => "projects.manage",
            Self::Operator => "operator",
            Self::Admin => "admin",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Permission {
    type Err = InvalidInput;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|permission| permission.as_str() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL
                    .iter()
                    .map(|permission| permission.as_str())
                    .collect();
                InvalidInput::new(format!(
                    "unknown permission '{text}': use {}",
                    names.join(", ")
                ))
            })
    }
}

/// True when `held` grants `wanted` (`admin` grants everything).
pub fn grants(held: &BTreeSet<Permission>, wanted: Permission) -> bool {
    held.contains(&wanted) || held.contains(&Permission::Admin)
}

/// The prefix of a permission scoped to one report: `report:NAME/reports.read`.
const REPORT_SCOPE: &str = "report:";

/// One granted permission as written: `reports.read`, or `report:NAME/reports.read` for
/// one report only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// Everywhere.
    Global(Permission),
    /// On one report only.
    Report(String, Permission),
}

impl FromStr for Grant {
    type Err = InvalidInput;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let Some(scoped) = text.strip_prefix(REPORT_SCOPE) else {
            return Ok(Self::Global(text.parse()?));
        };
        let (report, permission) = scoped.rsplit_once('/').ok_or_else(|| {
            InvalidInput::new(format!(
                "'{text}': a report permission reads 'report:NAME/reports.read'"
            ))
        })?;
        let permission: Permission = permission.parse()?;
        if !matches!(
            permission,
            Permission::ReportsRead | Permission::ReportsReview | Permission::ReportsRun
        ) {
            return Err(InvalidInput::new(format!(
                "'{text}': only reports.read, reports.review and reports.run can be given for one report"
            )));
        }
        // Grants are stored comma-separated: a name is a report's name, never a list.
        if !crate::reports::repo::valid_report_name(report) {
            return Err(InvalidInput::new(format!(
                "'{text}': '{report}' is not a report name (letters, digits, '_', '-', '.')"
            )));
        }
        Ok(Self::Report(report.to_owned(), permission))
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Global(permission) => write!(f, "{permission}"),
            Self::Report(report, permission) => write!(f, "{REPORT_SCOPE}{report}/{permission}"),
        }
    }
}

/// Splits grants into global permissions and per-report ones.
pub fn split_grants(
    grants: impl IntoIterator<Item = Grant>,
) -> (BTreeSet<Permission>, BTreeMap<String, BTreeSet<Permission>>) {
    let mut global = BTreeSet::new();
    let mut reports: BTreeMap<String, BTreeSet<Permission>> = BTreeMap::new();
    for grant in grants {
        match grant {
            Grant::Global(permission) => {
                global.insert(permission);
            }
            Grant::Report(report, permission) => {
                reports.entry(report).or_default().insert(permission);
            }
        }
    }
    (global, reports)
}

impl ApiKey {
    /// Every grant, as written (`reports.read`, `report:minimal/reports.run`, ...).
    pub fn grant_names(&self) -> Vec<String> {
        self.permissions
            .iter()
            .map(|permission| Grant::Global(*permission).to_string())
            .chain(self.report_permissions.iter().flat_map(|(report, held)| {
                held.iter()
                    .map(|permission| Grant::Report(report.clone(), *permission).to_string())
            }))
            .collect()
    }

    /// True when the key holds `wanted` everywhere, or on report `report`.
    pub fn may_on_report(&self, report: &str, wanted: Permission) -> bool {
        grants(&self.permissions, wanted)
            || self
                .report_permissions
                .get(report)
                .is_some_and(|held| held.contains(&wanted))
    }

    /// True when the key holds `wanted` everywhere or on at least one report.
    pub fn may_on_some_report(&self, wanted: Permission) -> bool {
        grants(&self.permissions, wanted)
            || self
                .report_permissions
                .values()
                .any(|held| held.contains(&wanted))
    }
}

/// An API key as stored, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// The key id (`keyId` of signatures).
    pub id: String,
    /// What it may do.
    pub permissions: BTreeSet<Permission>,
    /// What it may do on single reports only, by report name (`report:NAME/reports.read`).
    pub report_permissions: BTreeMap<String, BTreeSet<Permission>>,
    /// Accepts signatures over `date` alone (weaker; for Orchestra's client).
    pub allow_date_only: bool,
    /// Creation time (Unix ms).
    pub created_ms: u64,
    /// Last accepted request (Unix ms).
    pub last_used_ms: Option<u64>,
    /// When it was revoked (Unix ms).
    pub revoked_ms: Option<u64>,
}

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

/// A key to create.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// The key id: 1-64 letters, digits, `.`, `_` or `-`.
    pub id: String,
    /// What it may do.
    pub permissions: BTreeSet<Permission>,
    /// What it may do on single reports only, by report name.
    pub report_permissions: BTreeMap<String, BTreeSet<Permission>>,
    /// The secret (at least [`SECRET_MIN_LEN`] characters); a random 256-bit one is
    /// generated when absent.
    pub secret: Option<String>,
    /// Accepts signatures over `date` alone.
    pub allow_date_only: bool,
}

/// Shortest secret a key may be given; generated secrets are 32 random bytes.
pub const SECRET_MIN_LEN: usize = 24;

fn valid_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
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

/// A user token as `baton-api tokens create` prints it: `KEY_ID:SECRET`.
pub fn user_token(key_id: &str, secret: &str) -> String {
    format!("{key_id}:{secret}")
}

/// The key id and secret of a user token.
pub fn parse_user_token(token: &str) -> Option<(&str, &str)> {
    token
        .split_once(':')
        .filter(|(id, secret)| valid_key_id(id) && !secret.is_empty())
}

/// A fresh bearer token: 256 random bits, base64url without padding (43 characters). Such a
/// token is kept only as its [`token_digest`]: its entropy makes a plain SHA-256 enough.
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// The SHA-256 of a token, in hex: what is stored in its place.
pub fn token_digest(token: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
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
    /// it is new within `ttl_ms` (a replay otherwise); records the key's use.
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
        pipe.cmd("HSET")
            .arg(self.keys.api_key(id))
            .arg("last_used")
            .arg(now_ms())
            .ignore();
        let answers: Vec<Option<String>> = pipe.query_async(&mut conn).await?;
        let answer = |index: usize| answers.get(index).cloned().flatten();
        Ok(Admission {
            revoked: answer(0).is_some(),
            replay: fingerprint.is_some() && answer(1).is_none(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_parse_by_name_and_admin_grants_all() {
        for permission in Permission::ALL {
            assert_eq!(
                permission.as_str().parse::<Permission>().unwrap(),
                permission
            );
        }
        let error = "workflows.write".parse::<Permission>().unwrap_err();
        assert!(error.to_string().contains("workflows.run"));
        let admin = BTreeSet::from([Permission::Admin]);
        assert!(
            Permission::ALL
                .iter()
                .all(|&permission| grants(&admin, permission))
        );
        let reader = BTreeSet::from([Permission::WorkflowsRead]);
        assert!(grants(&reader, Permission::WorkflowsRead));
        assert!(!grants(&reader, Permission::WorkflowsRun));
    }

    #[test]
    fn report_grants_name_one_report() {
        assert_eq!(
            "report:minimal/reports.run".parse::<Grant>().unwrap(),
            Grant::Report("minimal".into(), Permission::ReportsRun)
        );
        for bad in [
            "report:/reports.read",
            "report:a,b/reports.read",
            "report:a b/reports.read",
            "report:minimal/admin",
            "report:minimal",
        ] {
            assert!(bad.parse::<Grant>().is_err(), "{bad}");
        }
    }

    #[test]
    fn key_ids_are_checked() {
        assert!(valid_key_id("ops.team-1_a"));
        for bad in ["", "a b", "a:b", "{x}", &"k".repeat(65)] {
            assert!(!valid_key_id(bad), "{bad:?}");
        }
    }
}

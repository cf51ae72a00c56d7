//! API keys as the rest of Baton sees them: an id, what it may do, and the tokens users and
//! sessions carry. Their storage (the secret sealed under the master key) is
//! [`crate::store::auth::apikeys`].

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::permissions::{Grant, Permission, grants};

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

/// True for a valid key id: 1-64 letters, digits, `.`, `_` or `-`.
pub fn valid_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
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
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_are_checked() {
        assert!(valid_key_id("ops.team-1_a"));
        for bad in ["", "a b", "a:b", "{x}", &"k".repeat(65)] {
            assert!(!valid_key_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn tokens_are_256_random_bits_and_stored_only_as_digests() {
        let token = random_token();
        assert_eq!(URL_SAFE_NO_PAD.decode(&token).unwrap().len(), 32);
        assert_ne!(token, random_token());
        let digest = token_digest(&token);
        assert_eq!(digest.len(), 64);
        assert!(!digest.contains(&token));
    }
}

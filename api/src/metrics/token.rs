//! The bearer token Prometheus scrapes `/metrics` with (`BATON_METRICS_TOKEN`), so a scraper
//! needs no API key nor per-request signature.

use common::auth::api_key::SECRET_MIN_LEN;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Why a metrics token was refused at start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricsTokenError {
    /// Shorter than [`SECRET_MIN_LEN`] characters.
    #[error("BATON_METRICS_TOKEN must have at least {SECRET_MIN_LEN} characters")]
    TooShort,
    /// Holds a character a bearer token cannot carry.
    #[error("BATON_METRICS_TOKEN must be printable ASCII without spaces")]
    NotPrintable,
}

/// The configured token, kept as its SHA-256 so a comparison takes the same time whatever
/// the presented token's length and content.
#[derive(Clone)]
pub struct MetricsToken {
    digest: [u8; 32],
}

impl std::fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsToken(..)")
    }
}

impl MetricsToken {
    /// The token `secret`, when it is long enough and fits in an `Authorization` header.
    pub fn new(secret: &str) -> Result<Self, MetricsTokenError> {
        if !secret.bytes().all(|byte| byte.is_ascii_graphic()) {
            return Err(MetricsTokenError::NotPrintable);
        }
        if secret.len() < SECRET_MIN_LEN {
            return Err(MetricsTokenError::TooShort);
        }
        Ok(Self {
            digest: Sha256::digest(secret.as_bytes()).into(),
        })
    }

    /// True when `presented` is the token, compared in constant time.
    pub fn matches(&self, presented: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        bool::from(self.digest.ct_eq(&digest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_configured_token_matches() {
        let token = MetricsToken::new("scrape-token-0123456789abcdef").unwrap();
        assert!(token.matches("scrape-token-0123456789abcdef"));
        assert!(!token.matches("scrape-token-0123456789abcdeF"));
        assert!(!token.matches("scrape-token-0123456789abcde"));
        assert!(!token.matches(""));
        assert_eq!(format!("{token:?}"), "MetricsToken(..)");
    }

    #[test]
    fn weak_or_unsendable_tokens_are_refused() {
        assert_eq!(
            MetricsToken::new("short").unwrap_err(),
            MetricsTokenError::TooShort
        );
        assert_eq!(
            MetricsToken::new(&"x".repeat(SECRET_MIN_LEN - 1)).unwrap_err(),
            MetricsTokenError::TooShort
        );
        assert!(MetricsToken::new(&"x".repeat(SECRET_MIN_LEN)).is_ok());
        assert_eq!(
            MetricsToken::new("a token with spaces in it, long enough").unwrap_err(),
            MetricsTokenError::NotPrintable
        );
        assert_eq!(
            MetricsToken::new("ünïcödé-token-that-is-long-enough").unwrap_err(),
            MetricsTokenError::NotPrintable
        );
    }
}

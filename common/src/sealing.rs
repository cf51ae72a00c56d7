//! Sealing secrets at rest under the server's master key (ChaCha20-Poly1305).
//!
//! A sealed value is `v1:` + base64(nonce ‖ ciphertext). The context (the API key id) is bound
//! as associated data, so a sealed secret cannot be moved to another key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use sha2::{Digest, Sha256};

use crate::error::InvalidInput;

/// Shortest master key accepted.
pub const MASTER_KEY_MIN_LEN: usize = 16;
const DOMAIN: &[u8] = b"baton-master-key-v1\0";
const VERSION: &str = "v1:";

/// Why a sealed value could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// Not a value this module sealed.
    #[error("not a sealed value")]
    Format,
    /// Wrong master key, wrong context, or tampered with.
    #[error("the sealed value does not open with this master key and context")]
    Rejected,
}

/// The server's master key.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// Derives the key from a secret text of at least 16 characters.
    pub fn from_secret(text: &str) -> Result<Self, InvalidInput> {
        if text.chars().count() < MASTER_KEY_MIN_LEN {
            return Err(InvalidInput::new(format!(
                "the master key must have at least {MASTER_KEY_MIN_LEN} characters"
            )));
        }
        let mut hasher = Sha256::new();
        hasher.update(DOMAIN);
        hasher.update(text.as_bytes());
        Ok(Self(hasher.finalize().into()))
    }

    /// Reads the key from `BATON_MASTER_KEY`.
    pub fn from_env() -> Result<Self, InvalidInput> {
        let text = std::env::var("BATON_MASTER_KEY")
            .map_err(|_| InvalidInput::new("BATON_MASTER_KEY is not set"))?;
        Self::from_secret(&text)
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(Key::from_slice(&self.0))
    }

    /// Seals `plaintext`, bound to `context`.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> String {
        let nonce_bytes: [u8; 12] = rand::random();
        let nonce = Nonce::from_slice(&nonce_bytes);
        // Encryption with a valid key and nonce cannot fail for inputs of this size.
        let ciphertext = self
            .cipher()
            .encrypt(
                nonce,
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            .unwrap_or_default();
        let mut sealed = nonce_bytes.to_vec();
        sealed.extend_from_slice(&ciphertext);
        format!("{VERSION}{}", STANDARD.encode(sealed))
    }

    /// Opens a value sealed with this key and `context`.
    pub fn open(&self, sealed: &str, context: &[u8]) -> Result<Vec<u8>, SealError> {
        let encoded = sealed.strip_prefix(VERSION).ok_or(SealError::Format)?;
        let bytes = STANDARD.decode(encoded).map_err(|_| SealError::Format)?;
        if bytes.len() < 12 + 16 {
            return Err(SealError::Format);
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        self.cipher()
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context,
                },
            )
            .map_err(|_| SealError::Rejected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(text: &str) -> MasterKey {
        MasterKey::from_secret(text).unwrap()
    }

    #[test]
    fn short_master_keys_are_refused() {
        assert!(MasterKey::from_secret("short").is_err());
        assert!(MasterKey::from_secret("sixteen-chars-ok").is_ok());
    }

    #[test]
    fn wrong_key_context_or_tampering_is_rejected() {
        let sealed = key("master-key-number-one").seal(b"secret", b"key-a");
        assert_eq!(
            key("master-key-number-one")
                .open(&sealed, b"key-a")
                .unwrap(),
            b"secret"
        );
        assert_eq!(
            key("master-key-number-two").open(&sealed, b"key-a"),
            Err(SealError::Rejected)
        );
        assert_eq!(
            key("master-key-number-one").open(&sealed, b"key-b"),
            Err(SealError::Rejected)
        );
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 3;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert!(
            key("master-key-number-one")
                .open(&tampered, b"key-a")
                .is_err()
        );
        assert_eq!(
            key("master-key-number-one").open("plain", b"key-a"),
            Err(SealError::Format)
        );
        assert!(!format!("{:?}", key("master-key-number-one")).contains("master"));
    }

    proptest! {
        #[test]
        fn sealing_round_trips(secret in proptest::collection::vec(any::<u8>(), 0..200), context in "[a-z]{1,20}") {
            let master = key("a-master-key-for-tests");
            let sealed = master.seal(&secret, context.as_bytes());
            prop_assert_eq!(master.open(&sealed, context.as_bytes()).unwrap(), secret);
        }
    }
}

//! Sealing secrets at rest under the server's master key (ChaCha20-Poly1305).
//!
//! The master key is 32 random bytes (64 hex characters or base64), or a passphrase of at
//! least 24 characters stretched with Argon2id; anything shorter is refused.
//!
//! A sealed value is `v2:` + base64(nonce ‖ ciphertext). The context (the API key id) is bound
//! as associated data, so a sealed secret cannot be moved to another key. Values sealed as
//! `v1:` (a key hashed once with SHA-256, before keys were stretched) still open.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use sha2::{Digest, Sha256};

use crate::error::InvalidInput;

/// Shortest passphrase accepted as a master key (a random key is 32 bytes, given as 64 hex
/// characters or in base64).
pub const MASTER_PASSPHRASE_MIN_LEN: usize = 24;
const LEGACY_DOMAIN: &[u8] = b"baton-master-key-v1\0";
/// Argon2id's salt for passphrases: fixed, so every process of a deployment derives the same
/// key from the same passphrase. It makes precomputed tables useless against Baton without
/// slowing a brute force of one passphrase; long passphrases or random keys are what resist it.
const PASSPHRASE_SALT: &[u8] = b"baton-master-key-passphrase-v2";
const VERSION: &str = "v2:";
const LEGACY_VERSION: &str = "v1:";

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

/// The server's master key, and the key that opens values sealed before keys were stretched.
#[derive(Clone)]
pub struct MasterKey {
    key: [u8; 32],
    legacy: [u8; 32],
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

/// The 32 bytes a text names when it is a random key: 64 hex characters, or base64 (standard
/// or URL-safe, padded or not) of exactly 32 bytes.
fn raw_key(text: &str) -> Option<[u8; 32]> {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    if text.len() == 64 {
        let mut key = [0u8; 32];
        if hex::decode_to_slice(text, &mut key).is_ok() {
            return Some(key);
        }
    }
    [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
}

impl MasterKey {
    /// The key a text names: 32 random bytes (64 hex characters or base64) are the key
    /// itself; any other text is a passphrase of at least [`MASTER_PASSPHRASE_MIN_LEN`]
    /// characters, stretched with Argon2id.
    pub fn from_secret(text: &str) -> Result<Self, InvalidInput> {
        let key = match raw_key(text) {
            Some(key) => key,
            None => Self::stretch(text)?,
        };
        let mut legacy = Sha256::new();
        legacy.update(LEGACY_DOMAIN);
        legacy.update(text.as_bytes());
        Ok(Self {
            key,
            legacy: legacy.finalize().into(),
        })
    }

    fn stretch(passphrase: &str) -> Result<[u8; 32], InvalidInput> {
        if passphrase.chars().count() < MASTER_PASSPHRASE_MIN_LEN {
            return Err(InvalidInput::new(format!(
                "the master key must be 32 random bytes (64 hex characters, or base64), \
                 or a passphrase of at least {MASTER_PASSPHRASE_MIN_LEN} characters; \
                 make one with `openssl rand -hex 32`"
            )));
        }
        let mut key = [0u8; 32];
        argon2::Argon2::default()
            .hash_password_into(passphrase.as_bytes(), PASSPHRASE_SALT, &mut key)
            .map_err(|error| {
                InvalidInput::new(format!("cannot stretch the master key: {error}"))
            })?;
        Ok(key)
    }

    /// Reads the key from `BATON_MASTER_KEY`.
    pub fn from_env() -> Result<Self, InvalidInput> {
        let text = std::env::var("BATON_MASTER_KEY")
            .map_err(|_| InvalidInput::new("BATON_MASTER_KEY is not set"))?;
        Self::from_secret(&text)
    }

    fn cipher(key: &[u8; 32]) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(Key::from_slice(key))
    }

    /// Seals `plaintext`, bound to `context`.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> String {
        let nonce_bytes: [u8; 12] = rand::random();
        let nonce = Nonce::from_slice(&nonce_bytes);
        // Encryption with a valid key and nonce cannot fail for inputs of this size.
        let ciphertext = Self::cipher(&self.key)
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

    /// Opens a value sealed with this key and `context` (also one sealed before keys were
    /// stretched, which is read with the legacy derivation and sealed anew when next written).
    pub fn open(&self, sealed: &str, context: &[u8]) -> Result<Vec<u8>, SealError> {
        let (key, encoded) = if let Some(encoded) = sealed.strip_prefix(VERSION) {
            (&self.key, encoded)
        } else if let Some(encoded) = sealed.strip_prefix(LEGACY_VERSION) {
            (&self.legacy, encoded)
        } else {
            return Err(SealError::Format);
        };
        let bytes = STANDARD.decode(encoded).map_err(|_| SealError::Format)?;
        if bytes.len() < 12 + 16 {
            return Err(SealError::Format);
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        Self::cipher(key)
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
    fn short_passphrases_are_refused_and_random_keys_taken_as_they_are() {
        assert!(MasterKey::from_secret("short").is_err());
        assert!(MasterKey::from_secret("sixteen-chars-ok").is_err());
        assert!(MasterKey::from_secret("twenty-four-characters!!").is_ok());
        let hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let raw = MasterKey::from_secret(hex).unwrap();
        assert_eq!(raw.key[1], 0x11);
        let base64 = STANDARD.encode(raw.key);
        assert_eq!(MasterKey::from_secret(&base64).unwrap().key, raw.key);
        // Hex too short to be a key is a passphrase, and too short for one.
        assert!(MasterKey::from_secret(&hex[..23]).is_err());
    }

    #[test]
    fn passphrases_are_stretched_with_argon2id() {
        let passphrase = "a passphrase of some length";
        let mut expected = [0u8; 32];
        argon2::Argon2::default()
            .hash_password_into(passphrase.as_bytes(), PASSPHRASE_SALT, &mut expected)
            .unwrap();
        assert_eq!(key(passphrase).key, expected);
        assert_ne!(key(passphrase).key, key("a passphrase of some lengtH").key);
    }

    #[test]
    fn values_sealed_before_keys_were_stretched_still_open() {
        let master = key("the-master-key-of-the-tests");
        let nonce = [7u8; 12];
        let ciphertext = MasterKey::cipher(&master.legacy)
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: b"old secret",
                    aad: b"key-a",
                },
            )
            .unwrap();
        let sealed = format!("v1:{}", STANDARD.encode([&nonce[..], &ciphertext].concat()));
        assert_eq!(master.open(&sealed, b"key-a").unwrap(), b"old secret");
        assert!(master.seal(b"new", b"key-a").starts_with("v2:"));
    }

    #[test]
    fn wrong_key_context_or_tampering_is_rejected() {
        let sealed = key("the-first-master-key-of-the-tests").seal(b"secret", b"key-a");
        assert_eq!(
            key("the-first-master-key-of-the-tests")
                .open(&sealed, b"key-a")
                .unwrap(),
            b"secret"
        );
        assert_eq!(
            key("the-second-master-key-of-the-tests").open(&sealed, b"key-a"),
            Err(SealError::Rejected)
        );
        assert_eq!(
            key("the-first-master-key-of-the-tests").open(&sealed, b"key-b"),
            Err(SealError::Rejected)
        );
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 3;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert!(
            key("the-first-master-key-of-the-tests")
                .open(&tampered, b"key-a")
                .is_err()
        );
        assert_eq!(
            key("the-first-master-key-of-the-tests").open("plain", b"key-a"),
            Err(SealError::Format)
        );
        assert!(!format!("{:?}", key("the-first-master-key-of-the-tests")).contains("master"));
    }

    proptest! {
        #[test]
        fn sealing_round_trips(secret in proptest::collection::vec(any::<u8>(), 0..200), context in "[a-z]{1,20}") {
            let master = key("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
            let sealed = master.seal(&secret, context.as_bytes());
            prop_assert_eq!(master.open(&sealed, context.as_bytes()).unwrap(), secret);
        }
    }
}

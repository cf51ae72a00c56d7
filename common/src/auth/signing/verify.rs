//! Verifying a request's signature: the HMAC compared in constant time, and the `Digest` header
//! checked against the body (or its hash). The API's own checks (key lookup, date window,
//! replays) build on these.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::Mac;
use hmac::digest::CtOutput;
use hmac::digest::generic_array::GenericArray;
use sha2::{Digest, Sha256};

use super::{SignatureError, mac};

/// True when `signature` is the HMAC-SHA256 of the signing string under `secret`, compared in
/// constant time.
pub fn verify_signature(secret: &[u8], signing_string: &str, signature: &[u8]) -> bool {
    let mut mac = mac(secret);
    mac.update(signing_string.as_bytes());
    mac.verify_slice(signature).is_ok()
}

/// Checks a `Digest` header against the body.
///
/// The header may list several `algorithm=value` digests separated by commas; the first
/// `SHA-256` one (the name in any case) is compared in constant time. Without one the answer is
/// [`SignatureError::UnsupportedDigest`]; a value that is not the body's digest (or not base64)
/// is [`SignatureError::DigestMismatch`].
pub fn check_digest(header_value: &str, body: &[u8]) -> Result<(), SignatureError> {
    check_digest_hash(header_value, &Sha256::digest(body).into())
}

/// [`check_digest`] against a body's SHA-256, for bodies hashed as they arrive rather than
/// held whole.
pub fn check_digest_hash(header_value: &str, sha256: &[u8; 32]) -> Result<(), SignatureError> {
    let entry = header_value
        .split(',')
        .filter_map(|entry| entry.trim().split_once('='))
        .find(|(algorithm, _)| algorithm.trim().eq_ignore_ascii_case("sha-256"))
        .ok_or(SignatureError::UnsupportedDigest)?;
    let given = STANDARD
        .decode(entry.1.trim().as_bytes())
        .map_err(|_| SignatureError::DigestMismatch)?;
    let expected = GenericArray::clone_from_slice(sha256);
    // The length is public (always 32); only the bytes are compared in constant time.
    if given.len() != expected.len() {
        return Err(SignatureError::DigestMismatch);
    }
    let given = CtOutput::<Sha256>::new(GenericArray::clone_from_slice(&given));
    if given == CtOutput::<Sha256>::new(expected) {
        Ok(())
    } else {
        Err(SignatureError::DigestMismatch)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use chrono::Utc;
    use http::{HeaderMap, HeaderValue, Method};
    use proptest::prelude::*;

    use super::*;
    use crate::auth::signing::SignatureParams;
    use crate::auth::signing::parse::parse_authorization;
    use crate::auth::signing::parse::signing_string;
    use crate::auth::signing::sign::{Signer, digest_header_value};

    /// Checks a request the way a server does: parse, digest, signing string, HMAC.
    pub(crate) fn verify_request(
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        body: &[u8],
        secret: &[u8],
    ) -> Result<SignatureParams, SignatureError> {
        let value = headers
            .get("authorization")
            .ok_or(SignatureError::MissingHeader("authorization".into()))?
            .to_str()
            .map_err(|_| SignatureError::BadHeaderValue("authorization".into()))?;
        let params = parse_authorization(value)?;
        if let Some(digest) = headers.get("digest") {
            check_digest(digest.to_str().unwrap(), body)?;
        }
        let text = signing_string(method, path, headers, &params.headers)?;
        if verify_signature(secret, &text, &params.signature) {
            Ok(params)
        } else {
            Err(SignatureError::Malformed("signature does not match".into()))
        }
    }

    #[test]
    fn a_signed_request_round_trips_and_tampering_fails() {
        let signer = Signer::new("k1", b"secret".to_vec());
        let path = "/api/workflows?x=1";
        let mut headers = HeaderMap::new();
        signer.sign_request(&Method::POST, path, &mut headers, b"{}", Utc::now());
        let params = verify_request(&Method::POST, path, &headers, b"{}", b"secret").unwrap();
        assert_eq!(params.headers, ["(request-target)", "date", "digest"]);
        assert_eq!(
            verify_request(&Method::POST, path, &headers, b"{ }", b"secret"),
            Err(SignatureError::DigestMismatch)
        );
        assert!(
            verify_request(
                &Method::POST,
                "/api/workflows?x=2",
                &headers,
                b"{}",
                b"secret"
            )
            .is_err()
        );
        assert!(verify_request(&Method::PUT, path, &headers, b"{}", b"secret").is_err());
        assert!(verify_request(&Method::POST, path, &headers, b"{}", b"other").is_err());
    }

    #[test]
    fn digests_check_against_a_hash_too() {
        let hash: [u8; 32] = Sha256::digest(b"body").into();
        assert_eq!(
            check_digest_hash(&digest_header_value(b"body"), &hash),
            Ok(())
        );
        assert_eq!(
            check_digest_hash(&digest_header_value(b"other"), &hash),
            Err(SignatureError::DigestMismatch)
        );
    }

    #[test]
    fn digests() {
        let empty = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
        assert_eq!(digest_header_value(b""), format!("SHA-256={empty}"));
        assert_eq!(check_digest(&format!("sha-256={empty}"), b""), Ok(()));
        assert_eq!(
            check_digest(&format!("MD5=abc, SHA-256={empty}"), b""),
            Ok(())
        );
        assert_eq!(
            check_digest(&format!("SHA-256={empty}"), b"x"),
            Err(SignatureError::DigestMismatch)
        );
        assert_eq!(
            check_digest("SHA-256=AAAA", b""),
            Err(SignatureError::DigestMismatch)
        );
        assert_eq!(
            check_digest("SHA-256=%%", b""),
            Err(SignatureError::DigestMismatch)
        );
        assert_eq!(
            check_digest("MD5=abc, SHA-512=def", b""),
            Err(SignatureError::UnsupportedDigest)
        );
        assert_eq!(
            check_digest("", b""),
            Err(SignatureError::UnsupportedDigest)
        );
    }

    fn methods() -> impl Strategy<Value = Method> {
        prop_oneof![
            Just(Method::GET),
            Just(Method::POST),
            Just(Method::PUT),
            Just(Method::DELETE),
            Just(Method::PATCH),
            "[A-Z]{1,12}".prop_map(|name| Method::from_bytes(name.as_bytes()).unwrap()),
        ]
    }

    proptest! {
        #[test]
        fn signed_requests_verify_and_any_single_byte_change_fails(
            method in methods(),
            path in "/[!-~]{0,40}",
            values in proptest::collection::vec("[!-~]([ -~]{0,30}[!-~])?", 1..3),
            body in proptest::collection::vec(any::<u8>(), 0..100),
            secret in proptest::collection::vec(any::<u8>(), 0..70),
            at in any::<prop::sample::Index>(),
            delta in 1u8..=255,
        ) {
            let signer = Signer {
                headers: vec!["(request-target)".into(), "date".into(), "x-extra".into()],
                ..Signer::new("key", secret.clone())
            };
            let mut headers = HeaderMap::new();
            for value in &values {
                headers.append("x-extra", HeaderValue::from_str(value).unwrap());
            }
            signer.try_sign_request(&method, &path, &mut headers, &body, Utc::now()).unwrap();
            let params = verify_request(&method, &path, &headers, &body, &secret).unwrap();
            let text = signing_string(&method, &path, &headers, &params.headers).unwrap();

            let mut signature = params.signature.clone();
            let byte = at.index(signature.len());
            signature[byte] ^= delta;
            prop_assert!(!verify_signature(&secret, &text, &signature));

            let mut changed = path.clone().into_bytes();
            let byte = at.index(changed.len());
            // Another visible ASCII character in the same place.
            changed[byte] = b'!' + (changed[byte] - b'!' + delta % 94 + u8::from(delta % 94 == 0)) % 94;
            let changed = String::from_utf8(changed).unwrap();
            prop_assert_ne!(&changed, &path);
            prop_assert!(verify_request(&method, &changed, &headers, &body, &secret).is_err());
        }
    }
}

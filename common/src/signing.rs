//! HTTP signatures (draft-cavage-http-signatures, `hmac-sha256`), as the Python `httpsig`
//! client sends them: parsing, signing strings, signing and constant-time verification, body
//! digests, HTTP dates, and a client-side [`Signer`]. Works on `http` types, so the API, the
//! tests and clients share it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderValue, Method};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Why a signature could not be read or checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The header is not a list of `name="value"` parameters.
    #[error("malformed signature parameters: {0}")]
    Malformed(String),
    /// No `keyId` parameter.
    #[error("the signature has no keyId")]
    MissingKeyId,
    /// No `signature` parameter.
    #[error("the signature has no signature value")]
    MissingSignature,
    /// The signature value is not base64.
    #[error("the signature value is not base64")]
    BadBase64,
    /// An algorithm other than hmac-sha256.
    #[error("unsupported algorithm '{0}' (use hmac-sha256)")]
    UnsupportedAlgorithm(String),
    /// A signed header is missing from the request.
    #[error("the signed header '{0}' is missing from the request")]
    MissingHeader(String),
    /// A header value is not visible ASCII.
    #[error("the header '{0}' is not valid text")]
    BadHeaderValue(String),
    /// The Digest header names no supported algorithm.
    #[error("the Digest header has no SHA-256 digest")]
    UnsupportedDigest,
    /// The body does not match its Digest.
    #[error("the Digest does not match the body")]
    DigestMismatch,
    /// The Date header is not an HTTP date.
    #[error("'{0}' is not an HTTP date")]
    BadDate(String),
}

/// The parameters of a signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureParams {
    /// The key id.
    pub key_id: String,
    /// The algorithm named, if any.
    pub algorithm: Option<String>,
    /// The signed headers, lower case, in order (`date` when the parameter is absent).
    pub headers: Vec<String>,
    /// The signature bytes.
    pub signature: Vec<u8>,
}

/// Parses an `Authorization: Signature keyId=...` value.
pub fn parse_authorization(value: &str) -> Result<SignatureParams, SignatureError> {
    let value = value.trim_start();
    let (scheme, params) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("signature") {
        return Err(SignatureError::Malformed(
            "expected the 'Signature' scheme".into(),
        ));
    }
    parse_signature_header(params)
}

/// Parses a `Signature:` header value (the parameters without a scheme).
pub fn parse_signature_header(value: &str) -> Result<SignatureParams, SignatureError> {
    let mut key_id = None;
    let mut algorithm = None;
    let mut headers = None;
    let mut signature = None;
    let mut rest = value.trim();
    while !rest.is_empty() {
        let (name, after) = rest
            .split_once('=')
            .ok_or_else(|| SignatureError::Malformed(format!("no '=' in '{rest}'")))?;
        let after = after.trim_start();
        let (parameter, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted
                .find('"')
                .ok_or_else(|| SignatureError::Malformed("unterminated quoted value".into()))?;
            (&quoted[..end], &quoted[end + 1..])
        } else {
            match after.find(',') {
                Some(comma) => (&after[..comma], &after[comma..]),
                None => (after, ""),
            }
        };
        match name.trim() {
            "keyId" => key_id = Some(parameter.to_owned()),
            "algorithm" => algorithm = Some(parameter.to_owned()),
            "headers" => {
                headers = Some(
                    parameter
                        .split_whitespace()
                        .map(str::to_ascii_lowercase)
                        .collect::<Vec<_>>(),
                )
            }
            "signature" => signature = Some(parameter.to_owned()),
            _ => {}
        }
        rest = remaining.trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    let key_id = key_id
        .filter(|id| !id.is_empty())
        .ok_or(SignatureError::MissingKeyId)?;
    let signature = signature
        .filter(|s| !s.is_empty())
        .ok_or(SignatureError::MissingSignature)?;
    if let Some(name) = &algorithm {
        let lower = name.to_ascii_lowercase();
        if lower != "hmac-sha256" && lower != "hs2019" {
            return Err(SignatureError::UnsupportedAlgorithm(name.clone()));
        }
    }
    let signature = STANDARD
        .decode(signature.as_bytes())
        .map_err(|_| SignatureError::BadBase64)?;
    let headers = headers
        .filter(|list| !list.is_empty())
        .unwrap_or_else(|| vec!["date".to_owned()]);
    Ok(SignatureParams {
        key_id,
        algorithm,
        headers,
        signature,
    })
}

/// The string a signature covers: `name: value` lines joined by `\n`, where
/// `(request-target)` is `method path?query` with the method in lower case.
pub fn signing_string(
    method: &Method,
    path_and_query: &str,
    headers: &HeaderMap,
    signed: &[String],
) -> Result<String, SignatureError> {
    let mut lines = Vec::with_capacity(signed.len());
    for name in signed {
        if name == "(request-target)" {
            lines.push(format!(
                "(request-target): {} {path_and_query}",
                method.as_str().to_ascii_lowercase()
            ));
            continue;
        }
        let values: Vec<&str> = headers
            .get_all(name.as_str())
            .iter()
            .map(|value| {
                value
                    .to_str()
                    .map_err(|_| SignatureError::BadHeaderValue(name.clone()))
            })
            .collect::<Result<_, _>>()?;
        if values.is_empty() {
            return Err(SignatureError::MissingHeader(name.clone()));
        }
        lines.push(format!("{name}: {}", values.join(", ")));
    }
    Ok(lines.join("\n"))
}

/// HMAC-SHA256 of the signing string.
pub fn sign(secret: &[u8], signing_string: &str) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(secret).unwrap_or_else(|_| unreachable_hmac());
    mac.update(signing_string.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// HMAC accepts keys of any length; this is never reached.
fn unreachable_hmac() -> HmacSha256 {
    HmacSha256::new_from_slice(b"").unwrap_or_else(|_| panic!("HMAC refused a key"))
}

/// True when `signature` is the HMAC-SHA256 of the signing string (constant-time).
pub fn verify_signature(secret: &[u8], signing_string: &str, signature: &[u8]) -> bool {
    let Ok(mut mac) = HmacSha256::new_from_slice(secret) else {
        return false;
    };
    mac.update(signing_string.as_bytes());
    mac.verify_slice(signature).is_ok()
}

/// The `Digest` header value of a body: `SHA-256=<base64>`.
pub fn digest_header_value(body: &[u8]) -> String {
    format!("SHA-256={}", STANDARD.encode(Sha256::digest(body)))
}

/// Checks a `Digest` header against the body (its SHA-256 entry, compared in constant time).
pub fn check_digest(header_value: &str, body: &[u8]) -> Result<(), SignatureError> {
    let expected = Sha256::digest(body);
    for entry in header_value.split(',') {
        let Some((algorithm, value)) = entry.trim().split_once('=') else {
            continue;
        };
        if !algorithm.trim().eq_ignore_ascii_case("sha-256") {
            continue;
        }
        let given = STANDARD
            .decode(value.trim().as_bytes())
            .map_err(|_| SignatureError::DigestMismatch)?;
        let mut difference = u8::from(given.len() != expected.len());
        for (a, b) in given.iter().zip(expected.iter()) {
            difference |= a ^ b;
        }
        return if difference == 0 {
            Ok(())
        } else {
            Err(SignatureError::DigestMismatch)
        };
    }
    Err(SignatureError::UnsupportedDigest)
}

/// An HTTP date (IMF-fixdate): `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn http_date(now: DateTime<Utc>) -> String {
    now.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// Parses an HTTP date (IMF-fixdate, or RFC 2822 with a zone).
pub fn parse_http_date(value: &str) -> Result<DateTime<Utc>, SignatureError> {
    let trimmed = value.trim();
    chrono::NaiveDateTime::parse_from_str(trimmed, "%a, %d %b %Y %H:%M:%S GMT")
        .map(|naive| naive.and_utc())
        .or_else(|_| DateTime::parse_from_rfc2822(trimmed).map(|date| date.with_timezone(&Utc)))
        .map_err(|_| SignatureError::BadDate(value.chars().take(64).collect()))
}

/// Signs requests for one key.
#[derive(Clone)]
pub struct Signer {
    /// The key id.
    pub key_id: String,
    /// The secret.
    pub secret: Vec<u8>,
    /// Headers to sign; `digest` is added when there is a body. Empty: `date` alone, with no
    /// `headers=` parameter (as Orchestra's client signs).
    pub headers: Vec<String>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("key_id", &self.key_id)
            .field("headers", &self.headers)
            .finish()
    }
}

impl Signer {
    /// A strict signer: `(request-target)`, `date`, and `digest` with a body.
    pub fn new(key_id: impl Into<String>, secret: Vec<u8>) -> Self {
        Self {
            key_id: key_id.into(),
            secret,
            headers: vec!["(request-target)".into(), "date".into()],
        }
    }

    /// A signer over `date` alone, like Orchestra's client.
    pub fn date_only(key_id: impl Into<String>, secret: Vec<u8>) -> Self {
        Self {
            key_id: key_id.into(),
            secret,
            headers: Vec::new(),
        }
    }

    /// Sets `Date`, `Digest` (when signed) and `Authorization` on a request.
    pub fn sign_request(
        &self,
        method: &Method,
        path_and_query: &str,
        headers: &mut HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) {
        let mut signed = self.headers.clone();
        if !signed.is_empty() && !body.is_empty() && !signed.iter().any(|name| name == "digest") {
            signed.push("digest".into());
        }
        if let Ok(date) = HeaderValue::from_str(&http_date(now)) {
            headers.insert(http::header::DATE, date);
        }
        if signed.iter().any(|name| name == "digest")
            && let Ok(digest) = HeaderValue::from_str(&digest_header_value(body))
        {
            headers.insert("digest", digest);
        }
        let covered = if signed.is_empty() {
            vec!["date".to_owned()]
        } else {
            signed.clone()
        };
        let Ok(text) = signing_string(method, path_and_query, headers, &covered) else {
            return;
        };
        let signature = STANDARD.encode(sign(&self.secret, &text));
        let value = if signed.is_empty() {
            format!(
                "Signature keyId=\"{}\",algorithm=\"hmac-sha256\",signature=\"{signature}\"",
                self.key_id
            )
        } else {
            format!(
                "Signature keyId=\"{}\",algorithm=\"hmac-sha256\",headers=\"{}\",signature=\"{signature}\"",
                self.key_id,
                signed.join(" ")
            )
        };
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(http::header::AUTHORIZATION, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn verify(
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        body: &[u8],
        secret: &[u8],
    ) -> Result<(), String> {
        let value = headers
            .get("authorization")
            .ok_or("no authorization")?
            .to_str()
            .map_err(|e| e.to_string())?;
        let params = parse_authorization(value).map_err(|e| e.to_string())?;
        if let Some(digest) = headers.get("digest") {
            check_digest(digest.to_str().unwrap(), body).map_err(|e| e.to_string())?;
        }
        let text =
            signing_string(method, path, headers, &params.headers).map_err(|e| e.to_string())?;
        if verify_signature(secret, &text, &params.signature) {
            Ok(())
        } else {
            Err("mismatch".into())
        }
    }

    #[test]
    fn a_signed_request_verifies_and_tampering_does_not() {
        let signer = Signer::new("k1", b"secret".to_vec());
        let mut headers = HeaderMap::new();
        signer.sign_request(
            &Method::POST,
            "/api/workflows?x=1",
            &mut headers,
            b"{}",
            Utc::now(),
        );
        assert!(
            verify(
                &Method::POST,
                "/api/workflows?x=1",
                &headers,
                b"{}",
                b"secret"
            )
            .is_ok()
        );
        assert!(
            verify(
                &Method::POST,
                "/api/workflows?x=2",
                &headers,
                b"{}",
                b"secret"
            )
            .is_err()
        );
        assert!(
            verify(
                &Method::GET,
                "/api/workflows?x=1",
                &headers,
                b"{}",
                b"secret"
            )
            .is_err()
        );
        assert!(
            verify(
                &Method::POST,
                "/api/workflows?x=1",
                &headers,
                b"{ }",
                b"secret"
            )
            .is_err()
        );
        assert!(
            verify(
                &Method::POST,
                "/api/workflows?x=1",
                &headers,
                b"{}",
                b"other"
            )
            .is_err()
        );
        let auth = headers["authorization"].to_str().unwrap();
        assert!(
            auth.contains("headers=\"(request-target) date digest\""),
            "{auth}"
        );
    }

    #[test]
    fn date_only_signatures_have_no_headers_parameter_and_default_to_date() {
        let signer = Signer::date_only("orchestra", b"s".to_vec());
        let mut headers = HeaderMap::new();
        signer.sign_request(&Method::GET, "/x", &mut headers, b"", Utc::now());
        let auth = headers["authorization"].to_str().unwrap();
        assert!(!auth.contains("headers="));
        let params = parse_authorization(auth).unwrap();
        assert_eq!(params.headers, vec!["date"]);
        assert!(
            verify(&Method::GET, "/other", &headers, b"", b"s").is_ok(),
            "date alone does not bind the path"
        );
    }

    #[test]
    fn malformed_parameters_are_named() {
        assert_eq!(
            parse_authorization("Signature signature=\"AA==\""),
            Err(SignatureError::MissingKeyId)
        );
        assert_eq!(
            parse_authorization("Signature keyId=\"a\""),
            Err(SignatureError::MissingSignature)
        );
        assert_eq!(
            parse_authorization("Signature keyId=\"a\",signature=\"%%%\""),
            Err(SignatureError::BadBase64)
        );
        assert!(matches!(
            parse_authorization(
                "Signature keyId=\"a\",algorithm=\"rsa-sha256\",signature=\"AA==\""
            ),
            Err(SignatureError::UnsupportedAlgorithm(_))
        ));
        assert!(matches!(
            parse_authorization("Bearer abc"),
            Err(SignatureError::Malformed(_))
        ));
        assert!(matches!(
            parse_signature_header("keyId=\"a"),
            Err(SignatureError::Malformed(_))
        ));
        let params =
            parse_signature_header("keyId=\"a\", signature=\"AA==\", headers=\"Date Digest\"")
                .unwrap();
        assert_eq!(params.headers, vec!["date", "digest"]);
    }

    #[test]
    fn digests_and_dates() {
        assert_eq!(
            digest_header_value(b""),
            "SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        assert!(check_digest("sha-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", b"").is_ok());
        assert_eq!(
            check_digest("SHA-256=AAAA", b""),
            Err(SignatureError::DigestMismatch)
        );
        assert_eq!(
            check_digest("MD5=abc", b""),
            Err(SignatureError::UnsupportedDigest)
        );
        let date = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(http_date(date), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert!(parse_http_date("yesterday").is_err());
    }

    /// The signing string as the draft (and Python `httpsig`) builds it; the end-to-end tests
    /// check real `httpsig` requests against the server.
    #[test]
    fn signing_strings_follow_the_draft() {
        let mut headers = HeaderMap::new();
        headers.insert("date", "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap());
        headers.insert("digest", digest_header_value(b"{}").parse().unwrap());
        let text = signing_string(
            &Method::POST,
            "/api/workflows?a=b",
            &headers,
            &["(request-target)".into(), "date".into(), "digest".into()],
        )
        .unwrap();
        assert_eq!(
            text,
            "(request-target): post /api/workflows?a=b\ndate: Sun, 06 Nov 1994 08:49:37 GMT\ndigest: SHA-256=RBNvo1WzZ4oRRq0W9+hknpT7T8If536DEMBg9hyq/4o="
        );
        assert_eq!(
            signing_string(&Method::GET, "/", &headers, &["host".into()]),
            Err(SignatureError::MissingHeader("host".into()))
        );
    }

    proptest! {
        #[test]
        fn signatures_round_trip_and_any_change_fails(
            path in "/[a-z0-9/]{0,30}(\\?[a-z=&0-9]{0,20})?",
            body in proptest::collection::vec(any::<u8>(), 0..100),
            secret in proptest::collection::vec(any::<u8>(), 1..40),
            flip in 0usize..32,
        ) {
            let signer = Signer::new("key", secret.clone());
            let mut headers = HeaderMap::new();
            signer.sign_request(&Method::PUT, &path, &mut headers, &body, Utc::now());
            prop_assert!(verify(&Method::PUT, &path, &headers, &body, &secret).is_ok());
            let params = parse_authorization(headers["authorization"].to_str().unwrap()).unwrap();
            let text = signing_string(&Method::PUT, &path, &headers, &params.headers).unwrap();
            let mut tampered = params.signature.clone();
            let at = flip % tampered.len();
            tampered[at] ^= 1;
            prop_assert!(!verify_signature(&secret, &text, &tampered));
            let other_path = format!("{path}x");
            let other = signing_string(&Method::PUT, &other_path, &headers, &params.headers).unwrap();
            prop_assert!(!verify_signature(&secret, &other, &params.signature));
        }
    }
}

//! Making signatures: the HMAC of a signing string, the `Digest` and `Date` header values, and
//! [`Signer`], which signs requests as Python's `httpsig` does (what clients, the CLI and the
//! tests use).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::Mac;
use http::{HeaderMap, HeaderValue, Method};
use sha2::{Digest, Sha256};

use super::parse::signing_string;
use super::{ALGORITHM, REQUEST_TARGET, SignatureError, mac};

/// The HMAC-SHA256 of the signing string under `secret`.
pub fn sign(secret: &[u8], signing_string: &str) -> Vec<u8> {
    let mut mac = mac(secret);
    mac.update(signing_string.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The `Digest` header value of a body: `SHA-256=<base64 of its SHA-256>`.
pub fn digest_header_value(body: &[u8]) -> String {
    format!("SHA-256={}", STANDARD.encode(Sha256::digest(body)))
}

/// An HTTP date (IMF-fixdate), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn http_date(now: DateTime<Utc>) -> String {
    now.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// Signs requests with one key, as Python's `httpsig` does.
#[derive(Clone)]
pub struct Signer {
    /// The key id sent as `keyId`.
    pub key_id: String,
    /// The HMAC secret.
    pub secret: Vec<u8>,
    /// The headers to sign, in order; `digest` is added after them when there is a body. Empty
    /// means `date` alone with no `headers=` parameter (as Orchestra's client signs).
    pub headers: Vec<String>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("key_id", &self.key_id)
            .field("secret", &"<redacted>")
            .field("headers", &self.headers)
            .finish()
    }
}

impl Signer {
    /// A strict signer: `(request-target) date`, and `digest` too when there is a body.
    pub fn new(key_id: impl Into<String>, secret: impl Into<Vec<u8>>) -> Self {
        Self {
            key_id: key_id.into(),
            secret: secret.into(),
            headers: vec![REQUEST_TARGET.into(), "date".into()],
        }
    }

    /// A signer over `date` alone, sent with no `headers=` parameter, like Orchestra's client.
    pub fn date_only(key_id: impl Into<String>, secret: impl Into<Vec<u8>>) -> Self {
        Self {
            key_id: key_id.into(),
            secret: secret.into(),
            headers: Vec::new(),
        }
    }

    /// The headers a request with this body is signed over (empty: `date`, unnamed).
    fn signed_headers(&self, body: &[u8]) -> Vec<String> {
        let mut signed: Vec<String> = self
            .headers
            .iter()
            .map(|name| name.trim().to_ascii_lowercase())
            .collect();
        if !signed.is_empty() && !body.is_empty() && !signed.iter().any(|name| name == "digest") {
            signed.push("digest".into());
        }
        signed
    }

    /// Sets `Date` (to `now`), `Digest` (when it is signed) and
    /// `Authorization: Signature keyId="..",algorithm="hmac-sha256",signature="..",headers=".."`
    /// (parameters in `httpsig`'s order; no `headers=` for [`Signer::date_only`]).
    ///
    /// A request it cannot sign (a signed header missing from `headers`, or a `keyId` that
    /// cannot be quoted) is left with no `Authorization` header, so the server refuses it;
    /// [`Signer::try_sign_request`] says why.
    pub fn sign_request(
        &self,
        method: &Method,
        path_and_query: &str,
        headers: &mut HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) {
        if self
            .try_sign_request(method, path_and_query, headers, body, now)
            .is_err()
        {
            headers.remove(http::header::AUTHORIZATION);
        }
    }

    /// [`Signer::sign_request`], returning why a request could not be signed.
    pub fn try_sign_request(
        &self,
        method: &Method,
        path_and_query: &str,
        headers: &mut HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), SignatureError> {
        if self.key_id.is_empty()
            || !self
                .key_id
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
        {
            return Err(SignatureError::BadKeyId);
        }
        let signed = self.signed_headers(body);
        headers.insert(
            http::header::DATE,
            HeaderValue::from_str(&http_date(now)).expect("an HTTP date is a header value"),
        );
        if signed.iter().any(|name| name == "digest") {
            headers.insert(
                "digest",
                HeaderValue::from_str(&digest_header_value(body))
                    .expect("base64 is a header value"),
            );
        }
        let covered = if signed.is_empty() {
            vec!["date".to_owned()]
        } else {
            signed.clone()
        };
        let text = signing_string(method, path_and_query, headers, &covered)?;
        let signature = STANDARD.encode(sign(&self.secret, &text));
        let mut value = format!(
            "Signature keyId=\"{}\",algorithm=\"{ALGORITHM}\",signature=\"{signature}\"",
            self.key_id
        );
        if !signed.is_empty() {
            value.push_str(&format!(",headers=\"{}\"", signed.join(" ")));
        }
        let value = HeaderValue::from_str(&value).map_err(|_| {
            SignatureError::Malformed("the signed headers cannot be sent in a header".into())
        })?;
        headers.insert(http::header::AUTHORIZATION, value);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::signing::parse::{
        parse_authorization, parse_http_date, parse_signature_header,
    };
    use crate::auth::signing::verify::tests::verify_request;

    /// A known answer from Python `httpsig`.
    struct Vector {
        key_id: &'static str,
        secret: &'static str,
        method: Method,
        path: &'static str,
        date: &'static str,
        body: &'static [u8],
        /// `None`: `Signer::date_only`; `Some(_)`: `Signer::new` (digest added with a body).
        headers: Option<&'static str>,
        digest: Option<&'static str>,
        authorization: &'static str,
    }

    /// Produced with Python `httpsig` 1.3.0 (`pip install httpsig requests`) by:
    ///
    /// ```python
    /// import base64, hashlib, httpsig
    /// def digest(body):
    ///     return 'SHA-256=' + base64.b64encode(hashlib.sha256(body).digest()).decode()
    /// hdrs = {'Date': date}
    /// if headers and 'digest' in headers:
    ///     hdrs['Digest'] = digest(body)
    /// signed = httpsig.HeaderSigner(key_id, secret, algorithm='hmac-sha256',
    ///                               headers=headers).sign(hdrs, method=method, path=path)
    /// print(signed['authorization'], hdrs.get('Digest'))
    /// ```
    ///
    /// with `headers` `['(request-target)', 'date', 'digest']`, `['(request-target)', 'date']`
    /// and `None` in turn. The same script also passed a prepared `requests.Request` through
    /// `httpsig.requests_auth.HTTPSignatureAuth` with the same arguments and asserted that its
    /// `Authorization` header was the same string.
    fn python_vectors() -> Vec<Vector> {
        vec![
            Vector {
                key_id: "director",
                secret: "s3cr3t-director",
                method: Method::POST,
                path: "/api/workflows?wait=1",
                date: "Tue, 07 Jun 2022 20:51:35 GMT",
                body: br#"{"project":"demo","name":"etl","payload":{}}"#,
                headers: Some("(request-target) date digest"),
                digest: Some("SHA-256=noqNPok/9F7s8b23uXqQMU33BOvxM/8UcQvO0kHL9II="),
                authorization: "Signature keyId=\"director\",algorithm=\"hmac-sha256\",signature=\"9WOt/1495E78v66byWa9fA6ryiA/56uUVCcXMajg+Tg=\",headers=\"(request-target) date digest\"",
            },
            Vector {
                key_id: "reader",
                secret: "reader-secret",
                method: Method::GET,
                path: "/api/runs/abc?limit=10",
                date: "Sun, 06 Nov 1994 08:49:37 GMT",
                body: b"",
                headers: Some("(request-target) date"),
                digest: None,
                authorization: "Signature keyId=\"reader\",algorithm=\"hmac-sha256\",signature=\"uhQZ6uLyTBAaMjfhZv1kv5ptPl2P2xvd0nPlaObhXa8=\",headers=\"(request-target) date\"",
            },
            Vector {
                key_id: "orchestra",
                secret: "orchestra-shared",
                method: Method::POST,
                path: "/api/workflows",
                date: "Mon, 01 Jan 2024 00:00:00 GMT",
                body: br#"{"payload":{"x":1}}"#,
                headers: None,
                digest: None,
                authorization: "Signature keyId=\"orchestra\",algorithm=\"hmac-sha256\",signature=\"B91fuqqLoguXR5MSRX81JVArwuSVG5Tj7AhFad+UYXo=\"",
            },
        ]
    }

    #[test]
    fn signer_matches_python_httpsig_byte_for_byte() {
        for vector in python_vectors() {
            let signer = match vector.headers {
                Some(_) => Signer::new(vector.key_id, vector.secret),
                None => Signer::date_only(vector.key_id, vector.secret),
            };
            let now = parse_http_date(vector.date).unwrap();
            let mut headers = HeaderMap::new();
            signer
                .try_sign_request(&vector.method, vector.path, &mut headers, vector.body, now)
                .unwrap();
            assert_eq!(headers["authorization"], vector.authorization);
            assert_eq!(headers["date"], vector.date);
            assert_eq!(
                headers.get("digest").map(|v| v.to_str().unwrap()),
                vector.digest
            );
            let params = verify_request(
                &vector.method,
                vector.path,
                &headers,
                vector.body,
                vector.secret.as_bytes(),
            )
            .unwrap();
            assert_eq!(params.key_id, vector.key_id);
            assert_eq!(params.algorithm.as_deref(), Some("hmac-sha256"));
            assert_eq!(
                params.headers.join(" "),
                vector.headers.unwrap_or("date"),
                "{}",
                vector.key_id
            );
            // The `Signature:` header form carries the same parameters without the scheme.
            let bare = vector.authorization.strip_prefix("Signature ").unwrap();
            assert_eq!(parse_signature_header(bare).unwrap(), params);
        }
    }

    #[test]
    fn an_empty_body_signs_no_digest_unless_asked() {
        let mut headers = HeaderMap::new();
        Signer::new("k", "s").sign_request(&Method::GET, "/", &mut headers, b"", Utc::now());
        assert!(headers.get("digest").is_none());
        assert!(
            headers["authorization"]
                .to_str()
                .unwrap()
                .ends_with("headers=\"(request-target) date\"")
        );

        let mut signer = Signer::new("k", "s");
        signer.headers.push("Digest".into());
        let mut headers = HeaderMap::new();
        signer.sign_request(&Method::GET, "/", &mut headers, b"", Utc::now());
        assert_eq!(headers["digest"], digest_header_value(b""));
        verify_request(&Method::GET, "/", &headers, b"", b"s").unwrap();
    }

    #[test]
    fn a_missing_headers_parameter_means_date() {
        let mut headers = HeaderMap::new();
        Signer::date_only("orchestra", "s").sign_request(
            &Method::GET,
            "/x",
            &mut headers,
            b"body",
            Utc::now(),
        );
        let auth = headers["authorization"].to_str().unwrap();
        assert!(!auth.contains("headers="), "{auth}");
        assert!(headers.get("digest").is_none());
        assert_eq!(parse_authorization(auth).unwrap().headers, ["date"]);
        // Date alone binds neither the path nor the body.
        verify_request(&Method::GET, "/other", &headers, b"", b"s").unwrap();
        // An explicitly empty list is the default too, as in httpsig.
        let params = parse_authorization("Signature keyId=\"a\",headers=\"\",signature=\"AA==\"");
        assert_eq!(params.unwrap().headers, ["date"]);
    }

    #[test]
    fn signers_report_what_they_cannot_sign() {
        let signer = Signer {
            headers: vec!["date".into(), "host".into()],
            ..Signer::new("k", "s")
        };
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "stale".parse().unwrap());
        assert_eq!(
            signer.try_sign_request(&Method::GET, "/", &mut headers, b"", Utc::now()),
            Err(SignatureError::MissingHeader("host".into()))
        );
        signer.sign_request(&Method::GET, "/", &mut headers, b"", Utc::now());
        assert!(headers.get("authorization").is_none());
        headers.insert("host", "localhost:8000".parse().unwrap());
        signer.sign_request(&Method::GET, "/", &mut headers, b"", Utc::now());
        let params = verify_request(&Method::GET, "/", &headers, b"", b"s").unwrap();
        assert_eq!(params.headers, ["date", "host"]);

        let quoted = Signer::new("a\"b", "s");
        assert_eq!(
            quoted.try_sign_request(&Method::GET, "/", &mut headers, b"", Utc::now()),
            Err(SignatureError::BadKeyId)
        );
        assert!(!format!("{:?}", Signer::new("k", "hunter2")).contains("hunter2"));
    }
}

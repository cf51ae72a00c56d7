//! HTTP signatures (draft-cavage-http-signatures-10/12), `hmac-sha256` only, as the Python
//! `httpsig` client (`httpsig.requests_auth.HTTPSignatureAuth`) sends them: parsing the
//! `Authorization: Signature ...` and `Signature:` headers, building signing strings, signing
//! and constant-time verification, `Digest` bodies, HTTP dates, and a client-side [`Signer`]
//! whose `Authorization` values are byte for byte what `httpsig` produces for the same inputs.
//! Works on `http` types, so the API, the tests and clients share it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::digest::CtOutput;
use hmac::digest::generic_array::GenericArray;
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderValue, Method};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// The algorithm this module signs with and the one it verifies.
pub const ALGORITHM: &str = "hmac-sha256";

/// The pseudo-header that stands for the request line.
pub const REQUEST_TARGET: &str = "(request-target)";

/// How much of a caller's input an error message repeats.
const EXCERPT_CHARS: usize = 40;

/// The most headers a signature may cover. Clients sign three or four; the cap keeps a
/// signature's cost small before its key is known.
pub const MAX_SIGNED_HEADERS: usize = 16;

/// The longest signing string built, in bytes.
pub const MAX_SIGNING_STRING: usize = 8 * 1024;

/// The longest signature parameters read, in bytes. Within the caps above (a key id of at
/// most 64 characters, at most 16 headers, each present in the request within an 8 KiB
/// signing string), a longer value cannot verify, so it is refused before it is parsed.
pub const MAX_SIGNATURE_PARAMS: usize = MAX_SIGNING_STRING;

/// Why a signature could not be read, built or checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The header is not a comma-separated list of `name="value"` parameters.
    #[error("malformed signature parameters: {0}")]
    Malformed(String),
    /// The `Authorization` header uses another scheme than `Signature`.
    #[error("the Authorization scheme is '{0}', not 'Signature'")]
    WrongScheme(String),
    /// No (or an empty) `keyId` parameter.
    #[error("the signature has no keyId parameter")]
    MissingKeyId,
    /// No (or an empty) `signature` parameter.
    #[error("the signature has no signature parameter")]
    MissingSignature,
    /// The `signature` parameter is not standard, padded base64.
    #[error("the signature parameter is not valid base64")]
    BadBase64,
    /// An algorithm other than `hmac-sha256` (or `hs2019`, taken as `hmac-sha256`).
    #[error("unsupported signature algorithm '{0}' (only hmac-sha256 is accepted)")]
    UnsupportedAlgorithm(String),
    /// A header named in the signed list is missing from the request.
    #[error("the signed header '{0}' is missing from the request")]
    MissingHeader(String),
    /// A signed header's value is not visible ASCII text.
    #[error("the signed header '{0}' is not visible ASCII text")]
    BadHeaderValue(String),
    /// The `keyId` cannot be sent inside a quoted parameter.
    #[error("the keyId must be visible ASCII without '\"' or '\\'")]
    BadKeyId,
    /// The `Digest` header has no `SHA-256` entry.
    #[error("the Digest header has no SHA-256 digest")]
    UnsupportedDigest,
    /// The body does not match its `SHA-256` digest.
    #[error("the Digest does not match the body")]
    DigestMismatch,
    /// The `Date` header is not an HTTP date.
    #[error("'{0}' is not an HTTP date")]
    BadDate(String),
    /// The parameters are longer than [`MAX_SIGNATURE_PARAMS`] bytes.
    #[error(
        "the signature parameters are longer than {MAX_SIGNATURE_PARAMS} bytes (a signature \
         covers at most {MAX_SIGNED_HEADERS} headers, in at most {MAX_SIGNING_STRING} bytes)"
    )]
    TooLong,
    /// The `headers` parameter lists more than [`MAX_SIGNED_HEADERS`] names.
    #[error("the signature covers more than {MAX_SIGNED_HEADERS} headers")]
    TooManyHeaders,
    /// The `headers` parameter names one header twice.
    #[error("the signature covers '{0}' twice")]
    RepeatedHeader(String),
    /// The signing string would be longer than [`MAX_SIGNING_STRING`] bytes.
    #[error("the signed headers are longer than {MAX_SIGNING_STRING} bytes")]
    SigningStringTooLong,
}

/// The parameters of a signature, as parsed from a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureParams {
    /// The key id (`keyId`).
    pub key_id: String,
    /// The algorithm named, if any (`hmac-sha256` or `hs2019`, in any case).
    pub algorithm: Option<String>,
    /// The signed headers, lower case, in order; `["date"]` when the parameter is absent.
    pub headers: Vec<String>,
    /// The signature bytes (decoded from base64).
    pub signature: Vec<u8>,
}

/// At most [`EXCERPT_CHARS`] characters of `text`, for error messages.
fn excerpt(text: &str) -> String {
    let mut short: String = text.chars().take(EXCERPT_CHARS).collect();
    if short.len() < text.len() {
        short.push_str("...");
    }
    short
}

/// Parses an `Authorization: Signature keyId="..",signature=".."` value (the scheme in any
/// case).
pub fn parse_authorization(value: &str) -> Result<SignatureParams, SignatureError> {
    if value.len() > MAX_SIGNATURE_PARAMS + "Signature ".len() {
        return Err(SignatureError::TooLong);
    }
    let value = value.trim();
    let (scheme, params) = value.split_once([' ', '\t']).unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("signature") {
        return Err(SignatureError::WrongScheme(excerpt(scheme)));
    }
    parse_signature_header(params)
}

/// Parses a `Signature:` header value: the same parameters with no scheme in front.
///
/// Parameter names match in any case, as `httpsig` reads them; unknown ones (such as draft 12's
/// `created` and `expires`) are ignored, a repeated one is malformed.
pub fn parse_signature_header(value: &str) -> Result<SignatureParams, SignatureError> {
    if value.len() > MAX_SIGNATURE_PARAMS {
        return Err(SignatureError::TooLong);
    }
    let mut key_id = None;
    let mut algorithm = None;
    let mut headers = None;
    let mut signature = None;
    for (name, parameter) in parse_params(value)? {
        let slot = match name.to_ascii_lowercase().as_str() {
            "keyid" => &mut key_id,
            "algorithm" => &mut algorithm,
            "headers" => &mut headers,
            "signature" => &mut signature,
            _ => continue,
        };
        if slot.replace(parameter).is_some() {
            return Err(SignatureError::Malformed(format!(
                "the parameter '{}' appears twice",
                excerpt(name)
            )));
        }
    }
    let key_id = key_id
        .filter(|id| !id.is_empty())
        .ok_or(SignatureError::MissingKeyId)?;
    let signature = signature
        .filter(|s| !s.is_empty())
        .ok_or(SignatureError::MissingSignature)?;
    if let Some(name) = &algorithm
        && !name.eq_ignore_ascii_case(ALGORITHM)
        && !name.eq_ignore_ascii_case("hs2019")
    {
        return Err(SignatureError::UnsupportedAlgorithm(excerpt(name)));
    }
    let signature = STANDARD
        .decode(signature.as_bytes())
        .map_err(|_| SignatureError::BadBase64)?;
    let headers = signed_header_names(headers.as_deref().unwrap_or(""))?;
    Ok(SignatureParams {
        key_id,
        algorithm,
        headers,
        signature,
    })
}

/// The names of a `headers=` parameter, lower case, in order: `["date"]` when empty. More
/// than [`MAX_SIGNED_HEADERS`] names, or one named twice, is refused as soon as it is seen,
/// so a long list costs no more than its first few names.
fn signed_header_names(list: &str) -> Result<Vec<String>, SignatureError> {
    let mut names: Vec<String> = Vec::new();
    for name in list.split_ascii_whitespace() {
        if names.len() == MAX_SIGNED_HEADERS {
            return Err(SignatureError::TooManyHeaders);
        }
        let name = name.to_ascii_lowercase();
        if names.contains(&name) {
            return Err(SignatureError::RepeatedHeader(excerpt(&name)));
        }
        names.push(name);
    }
    if names.is_empty() {
        names.push("date".to_owned());
    }
    Ok(names)
}

/// True for the characters of an RFC 7230 token.
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// Splits `name="value", name=value, ...` into pairs, unquoting (and unescaping) values.
fn parse_params(value: &str) -> Result<Vec<(&str, String)>, SignatureError> {
    let malformed = |message: String| SignatureError::Malformed(message);
    let mut pairs = Vec::new();
    let mut rest = value.trim_start();
    while !rest.is_empty() {
        let (name, after) = rest
            .split_once('=')
            .ok_or_else(|| malformed(format!("expected name=\"value\" at '{}'", excerpt(rest))))?;
        let name = name.trim();
        if name.is_empty() || !name.chars().all(is_token_char) {
            return Err(malformed(format!(
                "'{}' is not a parameter name",
                excerpt(name)
            )));
        }
        let after = after.trim_start();
        let (parameter, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            let mut parameter = String::new();
            let mut end = None;
            let mut chars = quoted.char_indices();
            while let Some((at, c)) = chars.next() {
                match c {
                    '"' => {
                        end = Some(at + 1);
                        break;
                    }
                    '\\' => match chars.next() {
                        Some((_, escaped)) => parameter.push(escaped),
                        None => break,
                    },
                    c => parameter.push(c),
                }
            }
            let end = end.ok_or_else(|| {
                malformed(format!(
                    "the value of '{}' has no closing quote",
                    excerpt(name)
                ))
            })?;
            (parameter, &quoted[end..])
        } else {
            let stop = after
                .find(|c: char| c == ',' || c.is_whitespace())
                .unwrap_or(after.len());
            if stop == 0 {
                return Err(malformed(format!(
                    "the parameter '{}' has no value",
                    excerpt(name)
                )));
            }
            (after[..stop].to_owned(), &after[stop..])
        };
        pairs.push((name, parameter));
        let remaining = remaining.trim_start();
        rest = match remaining.strip_prefix(',') {
            Some(next) => next.trim_start(),
            None if remaining.is_empty() => remaining,
            None => {
                return Err(malformed(format!(
                    "expected ',' after the parameter '{}'",
                    excerpt(name)
                )));
            }
        };
    }
    Ok(pairs)
}

/// The string a signature covers: one `name: value` line per signed header, joined by `\n`.
///
/// `(request-target)` is `method path?query` with the method in lower case; any other name is
/// looked up in `headers` (in any case; the line uses it in lower case), several values of one
/// header joined by `, ` and each trimmed. A header that is absent gives
/// [`SignatureError::MissingHeader`]. A string longer than [`MAX_SIGNING_STRING`] bytes is
/// refused before it is built whole.
pub fn signing_string(
    method: &Method,
    path_and_query: &str,
    headers: &HeaderMap,
    signed: &[String],
) -> Result<String, SignatureError> {
    let mut text = String::new();
    let mut push = |part: &str| {
        if text.len() + part.len() > MAX_SIGNING_STRING {
            return Err(SignatureError::SigningStringTooLong);
        }
        text.push_str(part);
        Ok(())
    };
    for (index, name) in signed.iter().enumerate() {
        let name = name.trim().to_ascii_lowercase();
        if index > 0 {
            push("\n")?;
        }
        if name == REQUEST_TARGET {
            push(REQUEST_TARGET)?;
            push(": ")?;
            push(&method.as_str().to_ascii_lowercase())?;
            push(" ")?;
            push(path_and_query)?;
            continue;
        }
        let mut values = headers.get_all(name.as_str()).iter().peekable();
        if values.peek().is_none() {
            return Err(SignatureError::MissingHeader(name));
        }
        push(&name)?;
        push(": ")?;
        for (at, value) in values.enumerate() {
            let value = value
                .to_str()
                .map_err(|_| SignatureError::BadHeaderValue(name.clone()))?;
            if at > 0 {
                push(", ")?;
            }
            push(value.trim())?;
        }
    }
    Ok(text)
}

/// A MAC keyed with `secret`.
fn mac(secret: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length")
}

/// The HMAC-SHA256 of the signing string under `secret`.
pub fn sign(secret: &[u8], signing_string: &str) -> Vec<u8> {
    let mut mac = mac(secret);
    mac.update(signing_string.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// True when `signature` is the HMAC-SHA256 of the signing string under `secret`, compared in
/// constant time.
pub fn verify_signature(secret: &[u8], signing_string: &str, signature: &[u8]) -> bool {
    let mut mac = mac(secret);
    mac.update(signing_string.as_bytes());
    mac.verify_slice(signature).is_ok()
}

/// The `Digest` header value of a body: `SHA-256=<base64 of its SHA-256>`.
pub fn digest_header_value(body: &[u8]) -> String {
    format!("SHA-256={}", STANDARD.encode(Sha256::digest(body)))
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

/// An HTTP date (IMF-fixdate), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn http_date(now: DateTime<Utc>) -> String {
    now.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// Parses an HTTP date: IMF-fixdate, or the obsolete RFC 850 and asctime forms HTTP recipients
/// accept, or an RFC 2822 date with a zone.
pub fn parse_http_date(value: &str) -> Result<DateTime<Utc>, SignatureError> {
    let trimmed = value.trim();
    [
        "%a, %d %b %Y %H:%M:%S GMT",
        "%A, %d-%b-%y %H:%M:%S GMT",
        "%a %b %e %H:%M:%S %Y",
    ]
    .iter()
    .find_map(|format| chrono::NaiveDateTime::parse_from_str(trimmed, format).ok())
    .map(|naive| naive.and_utc())
    .or_else(|| {
        DateTime::parse_from_rfc2822(trimmed)
            .ok()
            .map(|date| date.with_timezone(&Utc))
    })
    .ok_or_else(|| SignatureError::BadDate(excerpt(value)))
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
    use proptest::prelude::*;

    /// Checks a request the way a server does: parse, digest, signing string, HMAC.
    fn verify_request(
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
    fn each_bad_input_has_its_own_error() {
        use SignatureError::*;
        let parse = parse_authorization;
        assert_eq!(parse("Signature signature=\"AA==\""), Err(MissingKeyId));
        assert_eq!(
            parse("Signature keyId=\"\",signature=\"AA==\""),
            Err(MissingKeyId)
        );
        assert_eq!(parse("Signature keyId=\"a\""), Err(MissingSignature));
        assert_eq!(parse("Signature"), Err(MissingKeyId));
        assert_eq!(
            parse("Signature keyId=\"a\",signature=\"%%%\""),
            Err(BadBase64)
        );
        assert_eq!(
            parse("Signature keyId=\"a\",signature=\"AA\""),
            Err(BadBase64)
        );
        assert_eq!(
            parse("Signature keyId=\"a\",algorithm=\"rsa-sha256\",signature=\"AA==\""),
            Err(UnsupportedAlgorithm("rsa-sha256".into()))
        );
        assert_eq!(
            parse("Signature keyId=\"a\",algorithm=\"hmac-sha512\",signature=\"AA==\""),
            Err(UnsupportedAlgorithm("hmac-sha512".into()))
        );
        assert_eq!(parse("Bearer abc.def"), Err(WrongScheme("Bearer".into())));
        for malformed in [
            "Signature keyId=\"a",
            "Signature keyId",
            "Signature keyId=\"a\" signature=\"AA==\"",
            "Signature keyId=,signature=\"AA==\"",
            "Signature =\"a\",signature=\"AA==\"",
            "Signature key id=\"a\",signature=\"AA==\"",
            "Signature keyId=\"a\",keyId=\"b\",signature=\"AA==\"",
            "Signature keyId=\"a\",,signature=\"AA==\"",
        ] {
            assert!(matches!(parse(malformed), Err(Malformed(_))), "{malformed}");
        }
        // Every message reads on its own.
        assert_eq!(
            MissingHeader("host".into()).to_string(),
            "the signed header 'host' is missing from the request"
        );
    }

    #[test]
    fn long_or_repeated_header_lists_are_refused_while_parsing() {
        let with =
            |list: &str| format!("Signature keyId=\"a\",headers=\"{list}\",signature=\"AA==\"");
        let sixteen: Vec<String> = (0..MAX_SIGNED_HEADERS).map(|i| format!("x-{i}")).collect();
        assert_eq!(
            parse_authorization(&with(&sixteen.join(" ")))
                .unwrap()
                .headers,
            sixteen
        );
        let seventeen: Vec<String> = (0..=MAX_SIGNED_HEADERS).map(|i| format!("x-{i}")).collect();
        assert_eq!(
            parse_authorization(&with(&seventeen.join(" "))),
            Err(SignatureError::TooManyHeaders)
        );
        let many: Vec<String> = (0..20_000).map(|i| format!("x-{i}")).collect();
        // Refused by its length alone, before a byte of it is parsed.
        let error = parse_authorization(&with(&many.join(" "))).unwrap_err();
        assert_eq!(error, SignatureError::TooLong);
        assert!(error.to_string().contains("at most 16 headers"), "{error}");
        assert_eq!(
            parse_authorization(&with("date Date")),
            Err(SignatureError::RepeatedHeader("date".into()))
        );
        assert!(
            SignatureError::TooManyHeaders
                .to_string()
                .contains(&MAX_SIGNED_HEADERS.to_string())
        );
    }

    #[test]
    fn signing_strings_are_capped() {
        let mut headers = HeaderMap::new();
        headers.insert("x-big", "a".repeat(MAX_SIGNING_STRING).parse().unwrap());
        headers.insert("x-small", "a".repeat(100).parse().unwrap());
        assert_eq!(
            signing_string(&Method::GET, "/", &headers, &["x-big".into()]),
            Err(SignatureError::SigningStringTooLong)
        );
        let text = signing_string(&Method::GET, "/", &headers, &["x-small".into()]).unwrap();
        assert_eq!(text.len(), "x-small: ".len() + 100);
        assert_eq!(
            signing_string(
                &Method::GET,
                &"/".repeat(MAX_SIGNING_STRING),
                &headers,
                &[REQUEST_TARGET.into()]
            ),
            Err(SignatureError::SigningStringTooLong)
        );
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
    fn parsing_tolerates_what_clients_send() {
        let params = parse_signature_header(
            " KEYID=\"a\",  algorithm=\"HS2019\" ,\theaders=\"(Request-Target) Date  Digest\", \
             created=1402170695, signature=\"AA==\",",
        )
        .unwrap();
        assert_eq!(params.key_id, "a");
        assert_eq!(params.algorithm.as_deref(), Some("HS2019"));
        assert_eq!(params.headers, ["(request-target)", "date", "digest"]);
        assert_eq!(params.signature, [0]);
        let params = parse_authorization("signature keyId=plain,signature=\"AA==\"").unwrap();
        assert_eq!((params.key_id.as_str(), params.algorithm), ("plain", None));
        let params = parse_signature_header(r#"keyId="a\"b,c",signature="AA==""#).unwrap();
        assert_eq!(params.key_id, "a\"b,c");
    }

    #[test]
    fn signing_strings_follow_the_draft() {
        let mut headers = HeaderMap::new();
        headers.insert("date", "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap());
        headers.insert("digest", digest_header_value(b"{}").parse().unwrap());
        headers.insert("host", "example.org".parse().unwrap());
        headers.append("x-multi", "one".parse().unwrap());
        headers.append("x-multi", " two ".parse().unwrap());
        let signed: Vec<String> = ["(request-target)", "Host", "date", "DIGEST", "x-multi"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            signing_string(&Method::POST, "/api/workflows?a=b", &headers, &signed).unwrap(),
            "(request-target): post /api/workflows?a=b\nhost: example.org\n\
             date: Sun, 06 Nov 1994 08:49:37 GMT\n\
             digest: SHA-256=RBNvo1WzZ4oRRq0W9+hknpT7T8If536DEMBg9hyq/4o=\nx-multi: one, two"
        );
        assert_eq!(
            signing_string(&Method::GET, "/", &headers, &["content-type".into()]),
            Err(SignatureError::MissingHeader("content-type".into()))
        );
        assert_eq!(
            signing_string(&Method::GET, "/", &headers, &["not a name".into()]),
            Err(SignatureError::MissingHeader("not a name".into()))
        );
        headers.insert("x-bin", HeaderValue::from_bytes(b"caf\xe9").unwrap());
        assert_eq!(
            signing_string(&Method::GET, "/", &headers, &["x-bin".into()]),
            Err(SignatureError::BadHeaderValue("x-bin".into()))
        );
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

    #[test]
    fn dates() {
        let date = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(http_date(date), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), Ok(date));
        assert_eq!(parse_http_date("Sun Nov  6 08:49:37 1994"), Ok(date));
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 09:49:37 +0100"), Ok(date));
        assert_eq!(
            parse_http_date("yesterday"),
            Err(SignatureError::BadDate("yesterday".into()))
        );
        assert!(parse_http_date("Sun, 06 Nov 1994 25:49:37 GMT").is_err());
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

        #[test]
        fn parsing_never_panics(value in "\\PC{0,80}") {
            let _ = parse_authorization(&value);
            let _ = parse_signature_header(&value);
            let _ = parse_http_date(&value);
            let _ = check_digest(&value, b"");
        }
    }
}

//! HTTP signatures (draft-cavage-http-signatures-10/12), `hmac-sha256` only, as the Python
//! `httpsig` client (`httpsig.requests_auth.HTTPSignatureAuth`) sends them. Works on `http`
//! types, so the API, the tests and clients share it.
//!
//! - [`parse`]: reading a request's signature: the `Authorization: Signature ...` and
//!   `Signature:` headers, the signing string built from the request, HTTP dates.
//! - [`sign`]: making signatures: the HMAC, `Digest` and `Date` values, and a client-side
//!   [`Signer`](sign::Signer) whose `Authorization` values are byte for byte what `httpsig`
//!   produces for the same inputs.
//! - [`verify`]: checking a signature (constant-time) and a `Digest` against the body.
//!
//! This module holds what they share: the limits, [`SignatureError`] and [`SignatureParams`].

pub mod parse;
pub mod sign;
pub mod verify;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// HMAC-SHA256, the only MAC signatures use.
pub(super) type HmacSha256 = Hmac<Sha256>;

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
pub(super) fn excerpt(text: &str) -> String {
    let mut short: String = text.chars().take(EXCERPT_CHARS).collect();
    if short.len() < text.len() {
        short.push_str("...");
    }
    short
}

/// A MAC keyed with `secret`.
pub(super) fn mac(secret: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length")
}

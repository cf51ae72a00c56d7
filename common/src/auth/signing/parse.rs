//! Reading a request's signature: the parameters of an `Authorization: Signature ...` or
//! `Signature:` header, the signing string the request gives for the headers they name, and
//! HTTP dates.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use http::{HeaderMap, Method};

use super::{
    ALGORITHM, MAX_SIGNATURE_PARAMS, MAX_SIGNED_HEADERS, MAX_SIGNING_STRING, REQUEST_TARGET,
    SignatureError, SignatureParams, excerpt,
};

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

#[cfg(test)]
mod tests {
    use http::HeaderValue;
    use proptest::prelude::*;

    use super::*;
    use crate::auth::signing::sign::{digest_header_value, http_date};
    use crate::auth::signing::verify::check_digest;

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

    proptest! {

        #[test]
        fn parsing_never_panics(value in "\\PC{0,80}") {
            let _ = parse_authorization(&value);
            let _ = parse_signature_header(&value);
            let _ = parse_http_date(&value);
            let _ = check_digest(&value, b"");
        }
    }
}

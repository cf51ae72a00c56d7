//! Reaching Redis: the client a store connects with, built from its URL (`redis://HOST`,
//! `redis://:PASSWORD@HOST`, `redis://USER:PASSWORD@HOST` for an ACL user, `rediss://` for
//! TLS, `unix://PATH`) and, for TLS, optional certificate files; and the URL as logs and
//! errors may show it, with its password masked.

use redis::{ClientTlsConfig, ConnectionAddr, IntoConnectionInfo, TlsCertificates};

use crate::config::{RedisTlsOptions, StoreOptions};
use crate::error::{InvalidInput, StoreError};

/// What replaces a URL's password wherever the URL is shown.
const MASK: &str = "***";

/// The Redis client of `options`: its URL's address, credentials and database, over TLS for
/// a `rediss://` URL (verified against the CA file when one is given, else the system's
/// roots, and presenting the client certificate when one is given).
///
/// Certificate files with a URL that is not `rediss://` are refused, rather than silently
/// sending the password in clear text.
pub fn client(options: &StoreOptions) -> Result<redis::Client, StoreError> {
    let info = options
        .redis_url
        .as_str()
        .into_connection_info()
        .map_err(|error| {
            InvalidInput::new(format!(
                "BATON_REDIS_URL '{}' is not a Redis URL: {error}",
                redacted_url(&options.redis_url)
            ))
        })?;
    if !options.tls.is_configured() {
        return Ok(redis::Client::open(info)?);
    }
    if !matches!(info.addr(), ConnectionAddr::TcpTls { .. }) {
        return Err(InvalidInput::new(format!(
            "Redis certificate files are given, but BATON_REDIS_URL '{}' is not a rediss:// URL",
            redacted_url(&options.redis_url)
        ))
        .into());
    }
    Ok(redis::Client::build_with_tls(
        info,
        certificates(&options.tls)?,
    )?)
}

/// Reads the certificate files of `tls`.
fn certificates(tls: &RedisTlsOptions) -> Result<TlsCertificates, InvalidInput> {
    let read = |path: &std::path::Path, what: &str| {
        std::fs::read(path).map_err(|error| {
            InvalidInput::new(format!(
                "cannot read the Redis {what} {}: {error}",
                path.display()
            ))
        })
    };
    let root_cert = tls
        .redis_ca_cert
        .as_deref()
        .map(|path| read(path, "CA certificate"))
        .transpose()?;
    let client_tls = match (&tls.redis_client_cert, &tls.redis_client_key) {
        (Some(cert), Some(key)) => Some(ClientTlsConfig {
            client_cert: read(cert, "client certificate")?,
            client_key: read(key, "client key")?,
        }),
        (None, None) => None,
        _ => {
            return Err(InvalidInput::new(
                "a Redis client certificate needs its key, and a key its certificate \
                 (BATON_REDIS_CLIENT_CERT and BATON_REDIS_CLIENT_KEY)",
            ));
        }
    };
    Ok(TlsCertificates {
        client_tls,
        root_cert,
    })
}

/// `url` with its password (if any) replaced by `***`, fit for logs and error messages.
/// Text that is not a URL is shown only up to its scheme, since it may hold a password in a
/// form the parser did not understand.
pub fn redacted_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                // Only fails for URLs that cannot have a password, which this one has.
                let _ = parsed.set_password(Some(MASK));
            }
            parsed.to_string()
        }
        Err(_) => match url.split_once("://") {
            Some((scheme, _)) => format!("{scheme}://{MASK}"),
            None => MASK.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(url: &str, tls: RedisTlsOptions) -> StoreOptions {
        StoreOptions {
            redis_url: url.to_owned(),
            prefix: "baton".into(),
            retention_secs: 60,
            shards: crate::keys::DEFAULT_SHARDS,
            tls,
        }
    }

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            redacted_url("redis://:s3cret@redis:6379"),
            "redis://:***@redis:6379"
        );
        assert_eq!(
            redacted_url("rediss://baton:s3cret@redis.example.com:6380/2"),
            "rediss://baton:***@redis.example.com:6380/2"
        );
        assert_eq!(
            redacted_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
        assert_eq!(
            redacted_url("unix:///run/redis.sock"),
            "unix:///run/redis.sock"
        );
        assert_eq!(redacted_url("redis://:s3cret@[bad"), "redis://***");
        assert_eq!(redacted_url("s3cret"), "***");
    }

    #[test]
    fn debug_output_of_the_options_hides_the_password() {
        let shown = format!(
            "{:?}",
            options("redis://:s3cret@redis", RedisTlsOptions::default())
        );
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("redis://:***@redis"), "{shown}");
    }

    #[test]
    fn urls_with_and_without_credentials_or_tls_make_clients() {
        for url in [
            "redis://127.0.0.1:6379",
            "redis://:pw@127.0.0.1:6379",
            "redis://user:pw@127.0.0.1:6379/3",
            "rediss://:pw@redis.example.com:6380",
        ] {
            let client = client(&options(url, RedisTlsOptions::default())).unwrap();
            let info = client.get_connection_info();
            if url.contains(":pw@") {
                assert_eq!(info.redis_settings().password(), Some("pw"), "{url}");
            }
            assert_eq!(
                matches!(info.addr(), ConnectionAddr::TcpTls { .. }),
                url.starts_with("rediss://"),
                "{url}"
            );
        }
    }

    #[test]
    fn bad_urls_and_certificates_without_tls_are_refused_without_the_password() {
        let error = client(&options("http://:s3cret@x", RedisTlsOptions::default()))
            .unwrap_err()
            .to_string();
        assert!(!error.contains("s3cret"), "{error}");
        let tls = RedisTlsOptions {
            redis_ca_cert: Some("/nonexistent/ca.pem".into()),
            ..RedisTlsOptions::default()
        };
        let error = client(&options("redis://:s3cret@x", tls.clone()))
            .unwrap_err()
            .to_string();
        assert!(error.contains("not a rediss:// URL"), "{error}");
        assert!(!error.contains("s3cret"), "{error}");
        let error = client(&options("rediss://:s3cret@x", tls))
            .unwrap_err()
            .to_string();
        assert!(error.contains("/nonexistent/ca.pem"), "{error}");
    }
}

//! Checking a URL before anything is sent to it, and showing one without its credentials.

use std::net::IpAddr;

use reqwest::Url;
use reqwest::dns::Name;
use url::Host;

use super::address::{AddressKind, restricted_kind};
use super::allow::AllowList;

/// Why the outbound policy refuses a URL or an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    /// The text is not a URL (it is not repeated: it may hold credentials).
    #[error("the outbound policy refuses an invalid URL ({0})")]
    InvalidUrl(String),
    /// A scheme other than `http` or `https`.
    #[error("the outbound policy refuses the scheme '{0}': only http and https URLs are called")]
    Scheme(String),
    /// The URL names a user or a password.
    #[error(
        "the outbound policy refuses URLs with credentials (a user or password before the host)"
    )]
    Credentials,
    /// The URL has a `#fragment`.
    #[error("the outbound policy refuses URLs with a fragment ('#...')")]
    Fragment,
    /// The URL has no host.
    #[error("the outbound policy refuses a URL without a host")]
    NoHost,
    /// The host is, or resolves to, an address that is not public and not allowed.
    #[error(
        "the outbound policy refuses {host}: {address} is {kind} (allow it with BATON_OUTBOUND_ALLOW)"
    )]
    Restricted {
        /// The host as the URL names it.
        host: String,
        /// The address it is or resolves to.
        address: IpAddr,
        /// Why that address is not public.
        kind: AddressKind,
    },
}

/// Refuses `address` (the host `host` is or resolves to) when it is not public and not
/// allowed.
pub fn check_address(allow: &AllowList, host: &str, address: IpAddr) -> Result<(), OutboundError> {
    let address = address.to_canonical();
    match restricted_kind(address) {
        Some(kind) if !allow.allows_address(address) => Err(OutboundError::Restricted {
            host: host.to_owned(),
            address,
            kind,
        }),
        _ => Ok(()),
    }
}

/// Parses `url` and refuses it unless it is `http` or `https`, has a host, no credentials
/// and no fragment, and (when its host is an address) an address that is public or allowed.
/// A host name is checked when it is resolved, since its addresses are known only then.
pub fn check_url(allow: &AllowList, url: &str) -> Result<Url, OutboundError> {
    let parsed = Url::parse(url).map_err(|error| OutboundError::InvalidUrl(error.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(OutboundError::Scheme(parsed.scheme().to_owned()));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(OutboundError::Credentials);
    }
    if parsed.fragment().is_some() {
        return Err(OutboundError::Fragment);
    }
    match parsed.host() {
        None => return Err(OutboundError::NoHost),
        Some(Host::Ipv4(address)) => check_address(allow, url_host(&parsed), address.into())?,
        Some(Host::Ipv6(address)) => check_address(allow, url_host(&parsed), address.into())?,
        Some(Host::Domain(name)) => {
            // A name the resolver would not take (reqwest refuses it with a vaguer error).
            if name.parse::<Name>().is_err() {
                return Err(OutboundError::InvalidUrl("invalid host name".into()));
            }
        }
    }
    Ok(parsed)
}

fn url_host(url: &Url) -> &str {
    url.host_str().unwrap_or_default()
}

/// `url` without its user and password, fit for logs, events and errors (as it is when it has
/// none); text that is not an HTTP URL is not shown at all, since it may hold credentials
/// nonetheless.
pub fn redact(url: &str) -> String {
    match Url::parse(url) {
        Ok(parsed)
            if matches!(parsed.scheme(), "http" | "https")
                && parsed.username().is_empty()
                && parsed.password().is_none() =>
        {
            url.to_owned()
        }
        Ok(mut parsed) if matches!(parsed.scheme(), "http" | "https") => {
            // Both fail only for URLs that cannot carry credentials anyway.
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        _ => "(not an HTTP URL)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow(text: &str) -> AllowList {
        AllowList::parse(text).unwrap()
    }

    #[test]
    fn public_http_urls_pass() {
        let none = allow("");
        for url in [
            "http://tasks.example.org:8080/base",
            "https://93.184.216.34/",
            "http://[2606:4700:4700::1111]/",
            "http://localhost:5000/",
        ] {
            assert!(check_url(&none, url).is_ok(), "{url}");
        }
    }

    #[test]
    fn schemes_credentials_and_fragments_are_refused() {
        let none = allow("");
        assert_eq!(
            check_url(&none, "file:///etc/passwd"),
            Err(OutboundError::Scheme("file".into()))
        );
        assert_eq!(
            check_url(&none, "gopher://example.org/"),
            Err(OutboundError::Scheme("gopher".into()))
        );
        assert_eq!(
            check_url(&none, "http://user:secret@example.org/"),
            Err(OutboundError::Credentials)
        );
        assert_eq!(
            check_url(&none, "http://user@example.org/"),
            Err(OutboundError::Credentials)
        );
        assert_eq!(
            check_url(&none, "http://example.org/#top"),
            Err(OutboundError::Fragment)
        );
        assert!(matches!(
            check_url(&none, "not a url"),
            Err(OutboundError::InvalidUrl(_))
        ));
    }

    #[test]
    fn literal_addresses_are_checked_in_every_spelling() {
        let none = allow("");
        for url in [
            "http://127.0.0.1:8080/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0177.0.0.1/",
            "http://0.0.0.0/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:169.254.169.254]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.1/",
            "http://[fd00::1]/",
        ] {
            let refused = check_url(&none, url);
            assert!(
                matches!(refused, Err(OutboundError::Restricted { .. })),
                "{url}: {refused:?}"
            );
        }
        let loopback = allow("127.0.0.0/8,::1");
        assert!(check_url(&loopback, "http://127.0.0.1:8080/").is_ok());
        assert!(check_url(&loopback, "http://[::ffff:127.0.0.1]/").is_ok());
        assert!(check_url(&loopback, "http://[::1]/").is_ok());
        assert!(check_url(&loopback, "http://10.0.0.1/").is_err());
    }

    #[test]
    fn a_refusal_names_the_policy_and_the_setting() {
        let refused = check_url(&allow(""), "http://127.0.0.1:9/").unwrap_err();
        assert_eq!(
            refused.to_string(),
            "the outbound policy refuses 127.0.0.1: 127.0.0.1 is a loopback address \
             (allow it with BATON_OUTBOUND_ALLOW)"
        );
    }

    #[test]
    fn credentials_are_never_shown() {
        assert_eq!(
            redact("http://user:secret@example.org:81/x?y=1"),
            "http://example.org:81/x?y=1"
        );
        assert_eq!(redact("http://example.org/"), "http://example.org/");
        assert_eq!(redact("http://example.org:81"), "http://example.org:81");
        assert_eq!(redact("user:secret@nowhere"), "(not an HTTP URL)");
        assert_eq!(redact("not a url"), "(not an HTTP URL)");
    }
}

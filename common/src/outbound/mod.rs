//! The outbound HTTP policy, used by every call Baton makes to another service (task services'
//! registration, actions, status polls and health pings; the `http` executor):
//!
//! - only `http` and `https` URLs with a host, no credentials and no fragment are called;
//! - addresses that are not public (loopback, private, link-local, shared, multicast,
//!   reserved..., IPv6 forms of these included) are refused unless `BATON_OUTBOUND_ALLOW`
//!   allows them, checked on the literal address of a URL or, for a name, on the addresses its
//!   resolution gave, which are the ones connected to;
//! - redirects are never followed (a 3xx is an answer like any other), and no proxy from the
//!   environment is used (it would resolve names itself, out of the policy's sight);
//! - what a remote service answers is quoted only as a short, sanitised [`summary()`].
//!
//! # Layout
//! - [`address`]: which addresses are not public, and why.
//! - [`allow`]: the allow-list of networks and host names.
//! - [`target`]: checking a URL before it is called, and showing it without credentials.
//! - [`mod@summary`]: bounded, printable excerpts of remote answers.
//! - `resolver`: the DNS resolver that checks what a name resolves to.

pub mod address;
pub mod allow;
mod resolver;
pub mod summary;
pub mod target;

use std::error::Error as _;
use std::sync::Arc;

use clap::Args;
use reqwest::{Method, RequestBuilder};

pub use address::AddressKind;
pub use allow::{AllowList, InvalidAllowEntry};
pub use summary::{excerpt, summary};
pub use target::{OutboundError, redact};

/// Most characters of a failed call's description (its causes joined).
const ERROR_CHARS: usize = 300;

/// The outbound policy's setting, shared by every binary.
#[derive(Debug, Clone, Args)]
pub struct OutboundOptions {
    /// Comma-separated CIDRs (`10.20.0.0/16`), addresses (`127.0.0.1`) and host names
    /// (`tasks.internal`) that outbound HTTP (task services, `http` tasks) may reach although
    /// they are loopback, private, link-local or otherwise not public. Empty: public addresses
    /// only.
    #[arg(
        long = "outbound-allow",
        env = "BATON_OUTBOUND_ALLOW",
        default_value = "",
        value_parser = AllowList::parse
    )]
    pub outbound_allow: AllowList,
}

impl OutboundOptions {
    /// A client that follows the policy with this allow-list.
    pub fn client(&self) -> Result<OutboundClient, OutboundBuildError> {
        OutboundClient::new(self.outbound_allow.clone())
    }
}

/// The HTTP client could not be built (its TLS backend failed to start).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the outbound HTTP client: {0}")]
pub struct OutboundBuildError(String);

/// An HTTP client that calls only what the policy allows. Cheap to clone.
#[derive(Debug, Clone)]
pub struct OutboundClient {
    /// Never follows redirects, uses no proxy, resolves names through the policy.
    client: reqwest::Client,
    /// What may be reached although not public.
    allow: Arc<AllowList>,
}

impl OutboundClient {
    /// A client following the policy with `allow`.
    pub fn new(allow: AllowList) -> Result<Self, OutboundBuildError> {
        let allow = Arc::new(allow);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(resolver::PolicyResolver {
                allow: Arc::clone(&allow),
            }))
            .build()
            .map_err(|error| OutboundBuildError(describe(&error)))?;
        Ok(Self { client, allow })
    }

    /// Checks `url` as [`target::check_url`] does, with this client's allow-list.
    pub fn check(&self, url: &str) -> Result<reqwest::Url, OutboundError> {
        target::check_url(&self.allow, url)
    }

    /// A request to `url`, once it passes [`check`](Self::check).
    pub fn request(&self, method: Method, url: &str) -> Result<RequestBuilder, OutboundError> {
        let url = self.check(url)?;
        Ok(self.client.request(method, url))
    }
}

/// Why a call failed, without its URL: the policy's refusal when that is the cause (a name
/// that resolved to a refused address), else the error with its causes, bounded.
pub fn describe(error: &reqwest::Error) -> String {
    if let Some(refusal) = refusal(error) {
        return refusal.to_string();
    }
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        // reqwest names the URL in its message; it is shown redacted or not at all.
        text = text.replace(&format!(" ({url})"), "");
        text = text.replace(url.as_str(), &redact(url.as_str()));
    }
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    summary::excerpt_str(&text, ERROR_CHARS)
}

/// The policy's refusal among the causes of `error`, if it is one.
pub fn refusal(error: &reqwest::Error) -> Option<&OutboundError> {
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(refusal) = cause.downcast_ref::<OutboundError>() {
            return Some(refusal);
        }
        source = cause.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// Answers every connection with `answer`; counts connections.
    async fn server(answer: String) -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = Arc::clone(&seen);
        tokio::spawn(async move {
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let _ = socket.write_all(answer.as_bytes()).await;
                let _ = socket.shutdown().await;
            }
        });
        (port, seen)
    }

    fn client(allow: &str) -> OutboundClient {
        OutboundClient::new(AllowList::parse(allow).unwrap()).unwrap()
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_after_resolution() {
        let (port, seen) = server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".into()).await;
        let url = format!("http://localhost:{port}/");
        let request = client("").request(Method::GET, &url).unwrap();
        let error = request.send().await.unwrap_err();
        let refused = refusal(&error).expect("the policy's refusal is the cause");
        assert!(
            matches!(refused, OutboundError::Restricted { host, kind: AddressKind::Loopback, .. } if host == "localhost"),
            "{refused:?}"
        );
        assert!(describe(&error).starts_with("the outbound policy refuses localhost: "));
        assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 0);

        let allowed = client("localhost").request(Method::GET, &url).unwrap();
        assert_eq!(allowed.send().await.unwrap().status(), 200);
    }

    #[tokio::test]
    async fn redirects_are_answers_not_followed() {
        let (target, seen) = server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".into()).await;
        let (port, _) = server(format!(
            "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{target}/\r\nContent-Length: 0\r\n\r\n"
        ))
        .await;
        let client = client("127.0.0.1");
        let answer = client
            .request(Method::GET, &format!("http://127.0.0.1:{port}/"))
            .unwrap()
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 302);
        assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[test]
    fn the_setting_is_parsed_from_its_flag() {
        #[derive(clap::Parser)]
        struct Options {
            #[command(flatten)]
            outbound: OutboundOptions,
        }
        use clap::Parser as _;
        let options = Options::parse_from(["x", "--outbound-allow", "10.0.0.0/8,tasks.internal"]);
        assert!(
            options
                .outbound
                .outbound_allow
                .allows_address("10.1.1.1".parse().unwrap())
        );
        let options = Options::parse_from(["x"]);
        assert!(options.outbound.outbound_allow.is_empty());
        assert!(Options::try_parse_from(["x", "--outbound-allow", "not a host"]).is_err());
    }
}

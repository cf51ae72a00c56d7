//! Where absolute links in answers point: `BATON_PUBLIC_URL` when set; otherwise the
//! request's `Host`, but only a `Host` the server knows as its own (its listen address, or
//! one in `BATON_ALLOWED_HOSTS`), so a forged `Host` never reaches a link a client follows.

use std::net::SocketAddr;

use warp::http::{HeaderMap, header};

/// The bases absolute links may use.
#[derive(Debug, Clone)]
pub struct LinkBase {
    /// `BATON_PUBLIC_URL`, without a trailing slash.
    public_url: Option<String>,
    /// `Host` values (lower case, `host` or `host:port`) accepted as this server's own.
    allowed: Vec<String>,
    /// The base used when the `Host` is not among them.
    fallback: String,
}

impl LinkBase {
    /// The bases for a server listening on `listen`, reached at `public_url` when given, and
    /// also known by the `allowed_hosts` names (`host` for any port, or `host:port`).
    pub fn new(public_url: Option<&str>, listen: SocketAddr, allowed_hosts: &[String]) -> Self {
        let port = listen.port();
        let mut allowed = vec![listen.to_string()];
        let ip = listen.ip();
        if ip.is_loopback() || ip.is_unspecified() {
            allowed.push(format!("localhost:{port}"));
        }
        if ip.is_unspecified() {
            allowed.push(format!("127.0.0.1:{port}"));
            allowed.push(format!("[::1]:{port}"));
        }
        let fallback = if ip.is_unspecified() {
            format!("http://localhost:{port}")
        } else {
            format!("http://{listen}")
        };
        allowed.extend(
            allowed_hosts
                .iter()
                .map(|host| host.trim().to_ascii_lowercase())
                .filter(|host| !host.is_empty()),
        );
        Self {
            public_url: public_url.map(|url| url.trim_end_matches('/').to_owned()),
            allowed,
            fallback,
        }
    }

    /// True when `host` (a `Host` value) names this server.
    fn knows(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        let name = match host.rsplit_once(':') {
            Some((name, port))
                if !port.is_empty()
                    && port.bytes().all(|b| b.is_ascii_digit())
                    && !name.ends_with(':') =>
            {
                name
            }
            _ => host.as_str(),
        };
        self.allowed
            .iter()
            .any(|allowed| *allowed == host || *allowed == name)
    }

    /// The base (`scheme://host[:port]`, no trailing slash) of absolute links in the answer
    /// to a request with these headers.
    pub fn base_for(&self, headers: &HeaderMap) -> String {
        if let Some(url) = &self.public_url {
            return url.clone();
        }
        headers
            .get(header::HOST)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
            .filter(|host| self.knows(host))
            .map_or_else(|| self.fallback.clone(), |host| format!("http://{host}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_host(host: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, host.parse().unwrap());
        headers
    }

    #[test]
    fn the_public_url_wins() {
        let links = LinkBase::new(
            Some("https://releases.example.org/"),
            "127.0.0.1:8080".parse().unwrap(),
            &[],
        );
        assert_eq!(
            links.base_for(&with_host("127.0.0.1:8080")),
            "https://releases.example.org"
        );
    }

    #[test]
    fn only_known_hosts_are_echoed() {
        let links = LinkBase::new(
            None,
            "127.0.0.1:8080".parse().unwrap(),
            &["api.internal".into(), "Edge:443".into()],
        );
        assert_eq!(
            links.base_for(&with_host("127.0.0.1:8080")),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            links.base_for(&with_host("localhost:8080")),
            "http://localhost:8080"
        );
        assert_eq!(
            links.base_for(&with_host("api.internal:9000")),
            "http://api.internal:9000"
        );
        assert_eq!(links.base_for(&with_host("edge:443")), "http://edge:443");
        for forged in [
            "evil.example",
            "evil.example:8080",
            "edge:444",
            "127.0.0.1:9",
        ] {
            assert_eq!(
                links.base_for(&with_host(forged)),
                "http://127.0.0.1:8080",
                "{forged}"
            );
        }
        assert_eq!(links.base_for(&HeaderMap::new()), "http://127.0.0.1:8080");
    }

    #[test]
    fn a_server_on_every_address_is_localhost_by_default() {
        let links = LinkBase::new(None, "0.0.0.0:8080".parse().unwrap(), &[]);
        assert_eq!(
            links.base_for(&with_host("evil.example:8080")),
            "http://localhost:8080"
        );
        assert_eq!(
            links.base_for(&with_host("127.0.0.1:8080")),
            "http://127.0.0.1:8080"
        );
    }
}

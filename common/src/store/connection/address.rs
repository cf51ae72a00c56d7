//! What `BATON_REDIS_URL` names: one Redis server, a Redis Cluster (by its seed nodes) or a
//! master that Sentinels watch over.
//!
//! - One server: `redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]`, `rediss://` for TLS,
//!   `unix://PATH`.
//! - A cluster: `redis+cluster://[[USER]:PASSWORD@]HOST:PORT,HOST:PORT,...` (`rediss+cluster://`
//!   for TLS), or the seed nodes as a comma-separated list of single-server URLs.
//! - Sentinel: `redis+sentinel://[[USER]:PASSWORD@]HOST:PORT,HOST:PORT,.../MASTER_NAME[/DB]`
//!   (`rediss+sentinel://` for TLS to the sentinels and the master); the credentials are the
//!   master's; sentinels that want a password of their own take `?sentinel_password=...`.

use redis::{ConnectionAddr, ConnectionInfo, IntoConnectionInfo};

use crate::error::InvalidInput;

/// The port of a cluster node named without one.
const REDIS_PORT: u16 = 6379;
/// The port of a sentinel named without one.
const SENTINEL_PORT: u16 = 26379;

/// A Redis deployment as a URL names it.
#[derive(Clone)]
pub enum RedisAddress {
    /// One Redis server.
    Single(Box<ConnectionInfo>),
    /// A Redis Cluster, reached through any of its seed nodes.
    Cluster(ClusterAddress),
    /// A master found through its sentinels.
    Sentinel(SentinelAddress),
}

/// The seed nodes of a Redis Cluster and how to reach them.
#[derive(Clone)]
pub struct ClusterAddress {
    /// The seed nodes (each with the credentials).
    pub nodes: Vec<ConnectionInfo>,
    /// Whether the nodes speak TLS.
    pub tls: bool,
}

/// The sentinels of a master and how to reach the master once found.
#[derive(Clone)]
pub struct SentinelAddress {
    /// The sentinels' host and port.
    pub sentinels: Vec<(String, u16)>,
    /// The name the sentinels monitor the master under.
    pub master_name: String,
    /// The master's ACL user, if any.
    pub username: Option<String>,
    /// The master's password, if any.
    pub password: Option<String>,
    /// The sentinels' own password, if any.
    pub sentinel_password: Option<String>,
    /// The database number on the master.
    pub db: i64,
    /// Whether the sentinels and the master speak TLS.
    pub tls: bool,
}

impl RedisAddress {
    /// Parses a URL of any of the three forms; the error never shows the password.
    pub fn parse(url: &str) -> Result<Self, InvalidInput> {
        let url = url.trim();
        if let Some((scheme, rest)) = url.split_once("://") {
            match scheme {
                "redis+cluster" => return parse_cluster(rest, false),
                "rediss+cluster" => return parse_cluster(rest, true),
                "redis+sentinel" => return parse_sentinel(url, rest, false),
                "rediss+sentinel" => return parse_sentinel(url, rest, true),
                _ => {}
            }
        }
        if url.contains(',') {
            return parse_seed_list(url);
        }
        url.into_connection_info()
            .map(|info| Self::Single(Box::new(info)))
            .map_err(|error| {
                InvalidInput::new(format!(
                    "BATON_REDIS_URL '{}' is not a Redis URL: {error}",
                    super::redacted_url(url)
                ))
            })
    }

    /// Whether Redis is reached over TLS.
    pub fn is_tls(&self) -> bool {
        match self {
            Self::Single(info) => matches!(info.addr(), ConnectionAddr::TcpTls { .. }),
            Self::Cluster(cluster) => cluster.tls,
            Self::Sentinel(sentinel) => sentinel.tls,
        }
    }
}

/// `USERINFO@HOSTS/PATH?QUERY` split into its parts (`USERINFO` and `PATH` may be empty).
struct Parts<'a> {
    userinfo: Option<&'a str>,
    hosts: &'a str,
    path: &'a str,
    query: &'a str,
}

fn split_parts(rest: &str) -> Parts<'_> {
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, ""),
    };
    let (userinfo, hosts) = match authority.rfind('@') {
        Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
        None => (None, authority),
    };
    Parts {
        userinfo,
        hosts,
        path: path.trim_end_matches('/'),
        query,
    }
}

/// `HOST[:PORT]` with `default_port` when none is given.
fn host_port(text: &str, default_port: u16) -> Result<(String, u16), InvalidInput> {
    let text = text.trim();
    let (host, port) = match text.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || text.starts_with('[') => {
            let port = port
                .parse::<u16>()
                .map_err(|_| InvalidInput::new(format!("'{text}' has no valid port")))?;
            (host, port)
        }
        _ => (text, default_port),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(InvalidInput::new("a Redis address has an empty host"));
    }
    Ok((host.to_owned(), port))
}

/// Decodes `%XX` escapes of a URL part.
fn decoded(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

/// `USER:PASSWORD` (either may be empty) as an optional user and password.
fn credentials(userinfo: Option<&str>) -> (Option<String>, Option<String>) {
    let Some(userinfo) = userinfo else {
        return (None, None);
    };
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let non_empty = |text: &str| (!text.is_empty()).then(|| decoded(text));
    (non_empty(user), non_empty(password))
}

fn parse_cluster(rest: &str, tls: bool) -> Result<RedisAddress, InvalidInput> {
    let parts = split_parts(rest);
    if !parts.path.is_empty() && parts.path != "0" {
        return Err(InvalidInput::new(
            "a Redis Cluster has only database 0: drop the path from BATON_REDIS_URL",
        ));
    }
    let scheme = if tls { "rediss" } else { "redis" };
    let userinfo = parts
        .userinfo
        .map(|info| format!("{info}@"))
        .unwrap_or_default();
    let nodes = parts
        .hosts
        .split(',')
        .filter(|host| !host.trim().is_empty())
        .map(|host| {
            let (host, port) = host_port(host, REDIS_PORT)?;
            let host = if host.contains(':') {
                format!("[{host}]")
            } else {
                host
            };
            format!("{scheme}://{userinfo}{host}:{port}")
                .as_str()
                .into_connection_info()
                .map_err(|error| InvalidInput::new(format!("a cluster node address: {error}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if nodes.is_empty() {
        return Err(InvalidInput::new(
            "BATON_REDIS_URL names a Redis Cluster but no node",
        ));
    }
    Ok(RedisAddress::Cluster(ClusterAddress { nodes, tls }))
}

fn parse_seed_list(url: &str) -> Result<RedisAddress, InvalidInput> {
    let nodes = url
        .split(',')
        .filter(|node| !node.trim().is_empty())
        .map(|node| {
            node.trim().into_connection_info().map_err(|error| {
                InvalidInput::new(format!(
                    "BATON_REDIS_URL '{}' is not a list of Redis URLs: {error}",
                    super::redacted_url(node)
                ))
            })
        })
        .collect::<Result<Vec<ConnectionInfo>, _>>()?;
    let tls = nodes
        .iter()
        .any(|node| matches!(node.addr(), ConnectionAddr::TcpTls { .. }));
    Ok(RedisAddress::Cluster(ClusterAddress { nodes, tls }))
}

fn parse_sentinel(url: &str, rest: &str, tls: bool) -> Result<RedisAddress, InvalidInput> {
    let parts = split_parts(rest);
    let mut path = parts.path.split('/');
    let master_name = path.next().unwrap_or_default().to_owned();
    if master_name.is_empty() {
        return Err(InvalidInput::new(format!(
            "BATON_REDIS_URL '{}' names no master: add /MASTER_NAME after the sentinels",
            super::redacted_url(url)
        )));
    }
    let db = match path.next() {
        Some(db) => db.parse::<i64>().map_err(|_| {
            InvalidInput::new(format!(
                "'{db}' is not a database number in BATON_REDIS_URL"
            ))
        })?,
        None => 0,
    };
    let sentinels = parts
        .hosts
        .split(',')
        .filter(|host| !host.trim().is_empty())
        .map(|host| host_port(host, SENTINEL_PORT))
        .collect::<Result<Vec<_>, _>>()?;
    if sentinels.is_empty() {
        return Err(InvalidInput::new("BATON_REDIS_URL names no sentinel"));
    }
    let (username, password) = credentials(parts.userinfo);
    let sentinel_password = url::form_urlencoded::parse(parts.query.as_bytes())
        .find(|(name, _)| name == "sentinel_password")
        .map(|(_, value)| value.into_owned());
    Ok(RedisAddress::Sentinel(SentinelAddress {
        sentinels,
        master_name,
        username,
        password,
        sentinel_password,
        db,
        tls,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_server_urls_stay_single() {
        let address = RedisAddress::parse("redis://:pw@127.0.0.1:6380/2").unwrap();
        let RedisAddress::Single(info) = address else {
            panic!("not single");
        };
        assert_eq!(info.redis_settings().password(), Some("pw"));
        assert_eq!(info.redis_settings().db(), 2);
    }

    #[test]
    fn cluster_urls_name_every_seed_with_the_credentials() {
        for url in [
            "redis+cluster://user:pw@10.0.0.1:7000,10.0.0.2:7001,10.0.0.3",
            "redis://user:pw@10.0.0.1:7000,redis://user:pw@10.0.0.2:7001,redis://user:pw@10.0.0.3",
        ] {
            let RedisAddress::Cluster(cluster) = RedisAddress::parse(url).unwrap() else {
                panic!("not a cluster: {url}");
            };
            assert!(!cluster.tls);
            let addresses: Vec<String> = cluster
                .nodes
                .iter()
                .map(|node| node.addr().to_string())
                .collect();
            assert_eq!(
                addresses,
                ["10.0.0.1:7000", "10.0.0.2:7001", "10.0.0.3:6379"],
                "{url}"
            );
            for node in &cluster.nodes {
                assert_eq!(node.redis_settings().password(), Some("pw"));
                assert_eq!(node.redis_settings().username(), Some("user"));
            }
        }
        let RedisAddress::Cluster(cluster) =
            RedisAddress::parse("rediss+cluster://:pw@h1:7000,h2:7000").unwrap()
        else {
            panic!("not a cluster");
        };
        assert!(cluster.tls);
        assert!(RedisAddress::parse("redis+cluster://h1:7000/3").is_err());
        assert!(RedisAddress::parse("redis+cluster://").is_err());
    }

    #[test]
    fn sentinel_urls_name_the_sentinels_the_master_and_its_database() {
        let RedisAddress::Sentinel(sentinel) = RedisAddress::parse(
            "redis+sentinel://:p%40ss@s1:26380,s2,[::1]:26381/mymaster/3?sentinel_password=spw",
        )
        .unwrap() else {
            panic!("not sentinel");
        };
        assert_eq!(
            sentinel.sentinels,
            [
                ("s1".to_owned(), 26380),
                ("s2".to_owned(), 26379),
                ("::1".to_owned(), 26381)
            ]
        );
        assert_eq!(sentinel.master_name, "mymaster");
        assert_eq!(sentinel.db, 3);
        assert_eq!(sentinel.password.as_deref(), Some("p@ss"));
        assert_eq!(sentinel.username, None);
        assert_eq!(sentinel.sentinel_password.as_deref(), Some("spw"));
        let error = RedisAddress::parse("redis+sentinel://:secret@s1:26379")
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("MASTER_NAME"), "{error}");
        assert!(!error.contains("secret"), "{error}");
    }
}

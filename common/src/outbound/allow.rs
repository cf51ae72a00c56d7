//! The allow-list (`BATON_OUTBOUND_ALLOW`): networks and host names that outbound HTTP may
//! reach although they are not public.

use std::net::IpAddr;

use ipnet::IpNet;

/// An entry of `BATON_OUTBOUND_ALLOW` that is neither a CIDR, an address nor a host name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' in BATON_OUTBOUND_ALLOW is neither a CIDR (10.0.0.0/8), an address nor a host name")]
pub struct InvalidAllowEntry(pub String);

/// Networks and host names allowed although not public. Empty by default: only public
/// addresses are reached.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    /// Allowed networks; a single address is a /32 or /128.
    networks: Vec<IpNet>,
    /// Allowed host names, lowercase, without a trailing dot. Every address such a name
    /// resolves to is allowed.
    hosts: Vec<String>,
}

impl AllowList {
    /// Parses a comma-separated list of CIDRs (`10.1.0.0/16`, `fd00::/8`), addresses
    /// (`127.0.0.1`) and host names (`tasks.internal`); blanks around entries and empty entries
    /// are ignored.
    pub fn parse(text: &str) -> Result<Self, InvalidAllowEntry> {
        let mut list = Self::default();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if let Ok(network) = entry.parse::<IpNet>() {
                list.networks.push(network.trunc());
            } else if let Ok(address) = entry.parse::<IpAddr>() {
                list.networks.push(IpNet::from(address.to_canonical()));
            } else if let Some(host) = host_name(entry) {
                list.hosts.push(host);
            } else {
                return Err(InvalidAllowEntry(entry.to_owned()));
            }
        }
        Ok(list)
    }

    /// True when nothing is allowed beyond public addresses.
    pub fn is_empty(&self) -> bool {
        self.networks.is_empty() && self.hosts.is_empty()
    }

    /// Whether `address` is in an allowed network (IPv4-mapped IPv6 addresses count as their
    /// IPv4 address).
    pub fn allows_address(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.networks
            .iter()
            .any(|network| network.contains(&address))
    }

    /// Whether `host` (a DNS name, any case, with or without its trailing dot) is allowed by
    /// name.
    pub fn allows_host(&self, host: &str) -> bool {
        host_name(host).is_some_and(|host| self.hosts.contains(&host))
    }
}

/// `name` lowercased without its trailing dot, when it is a valid DNS host name.
fn host_name(name: &str) -> Option<String> {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    let valid_label = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    (name.len() <= 253 && name.split('.').all(valid_label)).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn cidrs_addresses_and_host_names_are_parsed() {
        let list =
            AllowList::parse(" 10.1.0.0/16, 127.0.0.1 ,fd00::/8,, Tasks.Internal., ::1").unwrap();
        assert!(list.allows_address(address("10.1.200.3")));
        assert!(!list.allows_address(address("10.2.0.1")));
        assert!(list.allows_address(address("127.0.0.1")));
        assert!(!list.allows_address(address("127.0.0.2")));
        assert!(list.allows_address(address("fd12::1")));
        assert!(list.allows_address(address("::1")));
        assert!(list.allows_host("tasks.internal"));
        assert!(list.allows_host("TASKS.internal."));
        assert!(!list.allows_host("other.internal"));
        assert!(!list.allows_host("internal"));
    }

    #[test]
    fn mapped_addresses_match_their_ipv4_network() {
        let list = AllowList::parse("127.0.0.0/8").unwrap();
        assert!(list.allows_address(address("::ffff:127.0.0.1")));
        let list = AllowList::parse("::ffff:10.0.0.1").unwrap();
        assert!(list.allows_address(address("10.0.0.1")));
    }

    #[test]
    fn a_network_with_host_bits_covers_its_whole_network() {
        let list = AllowList::parse("192.168.1.77/24").unwrap();
        assert!(list.allows_address(address("192.168.1.1")));
    }

    #[test]
    fn an_empty_list_allows_nothing() {
        let list = AllowList::parse("").unwrap();
        assert!(list.is_empty());
        assert!(!list.allows_address(address("127.0.0.1")));
        assert!(!list.allows_host("localhost"));
        assert!(AllowList::parse(" , ").unwrap().is_empty());
    }

    #[test]
    fn invalid_entries_are_refused() {
        for entry in [
            "10.0.0.0/33",
            "http://example.org",
            "host name",
            "-bad.example",
            "a..b",
            "*.example.org",
        ] {
            assert_eq!(
                AllowList::parse(entry),
                Err(InvalidAllowEntry(entry.to_owned())),
                "{entry}"
            );
        }
    }
}

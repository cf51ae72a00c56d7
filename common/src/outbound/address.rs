//! Which addresses are not public: loopback, private, link-local, shared (CGNAT), multicast,
//! documentation, reserved... Outbound HTTP reaches them only when the allow-list says so.
//!
//! IPv6 forms that carry an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`,
//! 6to4 `2002::/16`) are classified by the IPv4 address they carry, so `::ffff:127.0.0.1` is
//! as much a loopback address as `127.0.0.1`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

/// Why an address is not public.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressKind {
    /// `0.0.0.0/8`, `::`: "this host", which connects to the local machine.
    Unspecified,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// RFC 1918: `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16`.
    Private,
    /// RFC 6598 shared address space (carrier-grade NAT): `100.64.0.0/10`.
    SharedAddressSpace,
    /// `169.254.0.0/16` (cloud metadata services live here), `fe80::/10`.
    LinkLocal,
    /// `fc00::/7`, IPv6's private addresses.
    UniqueLocal,
    /// `fec0::/10`, deprecated site-local IPv6 addresses.
    SiteLocal,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// `192.0.2.0/24`, `198.51.100.0/24`, `203.0.113.0/24`, `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// `198.18.0.0/15`, network benchmarking.
    Benchmarking,
    /// IETF protocol assignments (`192.0.0.0/24`, `2001::/23`), local NAT64 (`64:ff9b:1::/48`),
    /// discard-only (`100::/64`), IPv4-compatible IPv6 (`::/96`), SRv6 (`5f00::/16`), the
    /// 6to4 relay anycast (`192.88.99.0/24`) and `240.0.0.0/4`.
    Reserved,
}

impl fmt::Display for AddressKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Unspecified => "an unspecified address",
            Self::Loopback => "a loopback address",
            Self::Private => "a private address",
            Self::SharedAddressSpace => "a shared (carrier-grade NAT) address",
            Self::LinkLocal => "a link-local address",
            Self::UniqueLocal => "a unique local address",
            Self::SiteLocal => "a site-local address",
            Self::Multicast => "a multicast address",
            Self::Broadcast => "the broadcast address",
            Self::Documentation => "a documentation address",
            Self::Benchmarking => "a benchmarking address",
            Self::Reserved => "a reserved address",
        })
    }
}

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len)
}

const fn v6(segments: [u16; 8], len: u8) -> Ipv6Net {
    let [a, b, c, d, e, f, g, h] = segments;
    Ipv6Net::new_assert(Ipv6Addr::new(a, b, c, d, e, f, g, h), len)
}

/// IPv4 ranges that are not public, with what they are.
const IPV4: &[(Ipv4Net, AddressKind)] = &[
    (v4(0, 0, 0, 0, 8), AddressKind::Unspecified),
    (v4(10, 0, 0, 0, 8), AddressKind::Private),
    (v4(100, 64, 0, 0, 10), AddressKind::SharedAddressSpace),
    (v4(127, 0, 0, 0, 8), AddressKind::Loopback),
    (v4(169, 254, 0, 0, 16), AddressKind::LinkLocal),
    (v4(172, 16, 0, 0, 12), AddressKind::Private),
    (v4(192, 0, 0, 0, 24), AddressKind::Reserved),
    (v4(192, 0, 2, 0, 24), AddressKind::Documentation),
    (v4(192, 88, 99, 0, 24), AddressKind::Reserved),
    (v4(192, 168, 0, 0, 16), AddressKind::Private),
    (v4(198, 18, 0, 0, 15), AddressKind::Benchmarking),
    (v4(198, 51, 100, 0, 24), AddressKind::Documentation),
    (v4(203, 0, 113, 0, 24), AddressKind::Documentation),
    (v4(224, 0, 0, 0, 4), AddressKind::Multicast),
    (v4(255, 255, 255, 255, 32), AddressKind::Broadcast),
    (v4(240, 0, 0, 0, 4), AddressKind::Reserved),
];

/// IPv6 ranges that are not public and carry no IPv4 address, with what they are; the first
/// match wins.
const IPV6: &[(Ipv6Net, AddressKind)] = &[
    (v6([0, 0, 0, 0, 0, 0, 0, 0], 128), AddressKind::Unspecified),
    (v6([0, 0, 0, 0, 0, 0, 0, 1], 128), AddressKind::Loopback),
    (v6([0, 0, 0, 0, 0, 0, 0, 0], 96), AddressKind::Reserved),
    (
        v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48),
        AddressKind::Reserved,
    ),
    (v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64), AddressKind::Reserved),
    (
        v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32),
        AddressKind::Documentation,
    ),
    (v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23), AddressKind::Reserved),
    (
        v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20),
        AddressKind::Documentation,
    ),
    (v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16), AddressKind::Reserved),
    (
        v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),
        AddressKind::UniqueLocal,
    ),
    (
        v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10),
        AddressKind::LinkLocal,
    ),
    (
        v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10),
        AddressKind::SiteLocal,
    ),
    (v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8), AddressKind::Multicast),
];

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`).
const MAPPED: Ipv6Net = v6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96);
/// The well-known NAT64 prefix: the IPv4 address is the last 32 bits.
const NAT64: Ipv6Net = v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96);
/// 6to4: the IPv4 address is bits 16 to 48.
const SIX_TO_FOUR: Ipv6Net = v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16);

/// What `address` is when it is not public; `None` for a public address.
pub fn restricted_kind(address: IpAddr) -> Option<AddressKind> {
    match address {
        IpAddr::V4(address) => ipv4_kind(address),
        IpAddr::V6(address) => match embedded_ipv4(address) {
            Some(carried) => ipv4_kind(carried),
            None => IPV6
                .iter()
                .find(|(net, _)| net.contains(&address))
                .map(|(_, kind)| *kind),
        },
    }
}

fn ipv4_kind(address: Ipv4Addr) -> Option<AddressKind> {
    IPV4.iter()
        .find(|(net, _)| net.contains(&address))
        .map(|(_, kind)| *kind)
}

/// The IPv4 address an IPv6 address stands for, when it is one of the forms that carry one.
fn embedded_ipv4(address: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(address);
    if MAPPED.contains(&address) || NAT64.contains(&address) {
        // The low 32 bits; the truncation is the point.
        Some(Ipv4Addr::from(bits as u32))
    } else if SIX_TO_FOUR.contains(&address) {
        Some(Ipv4Addr::from((bits >> 80) as u32))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(address: &str) -> Option<AddressKind> {
        restricted_kind(address.parse().unwrap())
    }

    #[test]
    fn ipv4_addresses_are_classified() {
        for (address, expected) in [
            ("0.0.0.0", AddressKind::Unspecified),
            ("0.1.2.3", AddressKind::Unspecified),
            ("127.0.0.1", AddressKind::Loopback),
            ("127.255.255.254", AddressKind::Loopback),
            ("10.0.0.1", AddressKind::Private),
            ("172.16.0.1", AddressKind::Private),
            ("172.31.255.255", AddressKind::Private),
            ("192.168.1.1", AddressKind::Private),
            ("100.64.0.1", AddressKind::SharedAddressSpace),
            ("100.127.255.255", AddressKind::SharedAddressSpace),
            ("169.254.169.254", AddressKind::LinkLocal),
            ("224.0.0.1", AddressKind::Multicast),
            ("239.255.255.250", AddressKind::Multicast),
            ("255.255.255.255", AddressKind::Broadcast),
            ("240.0.0.1", AddressKind::Reserved),
            ("192.0.0.8", AddressKind::Reserved),
            ("192.0.2.1", AddressKind::Documentation),
            ("198.51.100.7", AddressKind::Documentation),
            ("203.0.113.9", AddressKind::Documentation),
            ("198.18.0.1", AddressKind::Benchmarking),
        ] {
            assert_eq!(kind(address), Some(expected), "{address}");
        }
        for public in [
            "8.8.8.8",
            "1.1.1.1",
            "172.15.255.255",
            "172.32.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "192.169.0.1",
            "93.184.216.34",
        ] {
            assert_eq!(kind(public), None, "{public}");
        }
    }

    #[test]
    fn ipv6_addresses_are_classified() {
        for (address, expected) in [
            ("::", AddressKind::Unspecified),
            ("::1", AddressKind::Loopback),
            ("fe80::1", AddressKind::LinkLocal),
            ("febf::1", AddressKind::LinkLocal),
            ("fc00::1", AddressKind::UniqueLocal),
            ("fd12:3456::1", AddressKind::UniqueLocal),
            ("fec0::1", AddressKind::SiteLocal),
            ("ff02::1", AddressKind::Multicast),
            ("2001:db8::1", AddressKind::Documentation),
            ("3fff::1", AddressKind::Documentation),
            ("2001::1", AddressKind::Reserved),
            ("100::1", AddressKind::Reserved),
            ("64:ff9b:1::1", AddressKind::Reserved),
            ("::7f00:1", AddressKind::Reserved),
        ] {
            assert_eq!(kind(address), Some(expected), "{address}");
        }
        for public in [
            "2606:4700:4700::1111",
            "2a00:1450:4007:80f::200e",
            "2400::1",
        ] {
            assert_eq!(kind(public), None, "{public}");
        }
    }

    #[test]
    fn ipv6_forms_of_ipv4_addresses_are_classified_by_their_ipv4_address() {
        for (address, expected) in [
            ("::ffff:127.0.0.1", Some(AddressKind::Loopback)),
            ("::ffff:7f00:1", Some(AddressKind::Loopback)),
            ("::ffff:10.1.2.3", Some(AddressKind::Private)),
            ("::ffff:169.254.169.254", Some(AddressKind::LinkLocal)),
            ("::ffff:0.0.0.0", Some(AddressKind::Unspecified)),
            ("64:ff9b::127.0.0.1", Some(AddressKind::Loopback)),
            ("64:ff9b::192.168.0.1", Some(AddressKind::Private)),
            ("2002:7f00:1::", Some(AddressKind::Loopback)),
            ("2002:a9fe:a9fe::1", Some(AddressKind::LinkLocal)),
            ("::ffff:8.8.8.8", None),
            ("64:ff9b::8.8.8.8", None),
            ("2002:808:808::1", None),
        ] {
            assert_eq!(kind(address), expected, "{address}");
        }
    }
}

//! The DNS resolver of outbound clients: it resolves a name, then refuses it when any of its
//! addresses is not public and not allowed. The addresses it hands back are the only ones the
//! client connects to, so a name cannot pass the check with one address and connect to
//! another (DNS rebinding).

use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::allow::AllowList;
use super::target::check_address;

/// Resolves names with the system's resolver and checks their addresses.
#[derive(Debug)]
pub(super) struct PolicyResolver {
    /// What may be reached although not public.
    pub(super) allow: Arc<AllowList>,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = Arc::clone(&self.allow);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow.allows_host(&host) {
                for address in &addresses {
                    check_address(&allow, &host, address.ip())?;
                }
            }
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

//! The sender's DNS resolver: only public addresses come back (unless private ones are
//! allowed), so the address a delivery connects to is the address that was checked —
//! a name that resolves to a public address at creation and a private one later (DNS
//! rebinding) is refused at delivery.

use std::net::{IpAddr, SocketAddr};

use roster_core::webhooks::public_address;

pub(crate) struct Resolver {
    pub(crate) allow_private: bool,
}

const REFUSED: &str =
    "resolves only to loopback, private, link-local or metadata addresses, which webhooks may not call";

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|address| allow_private || public_address(address.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!("{host} {REFUSED}").into());
            }
            Ok(Box::new(found.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// A URL naming an address rather than a host is not resolved: it is checked here.
pub(crate) fn check_literal(url: &str, allow_private: bool) -> Result<(), String> {
    let url = url::Url::parse(url).map_err(|err| format!("the URL does not parse: {err}"))?;
    let address: Option<IpAddr> = match url.host() {
        Some(url::Host::Ipv4(v4)) => Some(v4.into()),
        Some(url::Host::Ipv6(v6)) => Some(v6.into()),
        _ => None,
    };
    match address {
        Some(address) if !allow_private && !public_address(address) => {
            Err(format!("{address} is a loopback, private, link-local or metadata address, which webhooks may not call"))
        }
        _ => Ok(()),
    }
}

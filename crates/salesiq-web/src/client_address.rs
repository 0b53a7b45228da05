//! A client's address behind reverse proxies: `X-Forwarded-For`, believed
//! only from the proxies the embedder trusts.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;

/// Which peers' `X-Forwarded-For` header is believed.
///
/// A reverse proxy (nginx, a load balancer) in front of the web server
/// makes every connection come from the proxy; it says who its client
/// was in `X-Forwarded-For`, appending the address it saw to whatever the
/// header said before. Anyone can send the header, so it is read only
/// from a peer listed in [`ClientAddress::trusted_proxies`], and then from
/// the right: the right-most address that is not itself a trusted proxy
/// is the client (what lies left of it was written by the client and
/// proves nothing). A header that cannot be read (not an address, not
/// text) is ignored, and so is the header of every other peer: the peer's
/// own address is the client's. The visitor's address is what `#b`
/// blocks and what the per-address limits count, so a stranger must not
/// choose it.
///
/// Addresses compare in their canonical form: a trusted `127.0.0.1`
/// covers a peer `::ffff:127.0.0.1` on a dual-stack listener.
///
/// ```
/// use std::net::IpAddr;
/// use axum::http::{HeaderMap, HeaderValue};
/// use salesiq_web::ClientAddress;
///
/// let proxy: IpAddr = "127.0.0.1".parse().unwrap();
/// let mut headers = HeaderMap::new();
/// headers.insert("x-forwarded-for", HeaderValue::from_static("10.9.9.9, 203.0.113.7"));
///
/// let mut behind_proxy = ClientAddress::default();
/// behind_proxy.trusted_proxies = vec![proxy];
/// assert_eq!(behind_proxy.of(proxy, &headers), "203.0.113.7".parse::<IpAddr>().unwrap());
/// // Without trusted proxies (the default), the header is ignored.
/// assert_eq!(ClientAddress::default().of(proxy, &headers), proxy);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientAddress {
    /// The reverse proxies whose `X-Forwarded-For` is believed. Empty by
    /// default: the header is ignored.
    pub trusted_proxies: Vec<IpAddr>,
}

/// The header a reverse proxy names its client in.
const X_FORWARDED_FOR: &str = "x-forwarded-for";

impl ClientAddress {
    /// The client's address on a connection from `peer` that sent
    /// `headers`.
    pub fn of(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        self.forwarded(headers).unwrap_or(peer)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted_proxies
            .iter()
            .any(|proxy| proxy.to_canonical() == ip)
    }

    /// The right-most address of `X-Forwarded-For` (every such header, in
    /// order) that is not a trusted proxy; the left-most if all are.
    /// `None` when there is no header or any part of it is not an address.
    fn forwarded(&self, headers: &HeaderMap) -> Option<IpAddr> {
        let mut hops = Vec::new();
        for value in headers.get_all(X_FORWARDED_FOR) {
            for hop in value.to_str().ok()?.split(',') {
                hops.push(hop_address(hop.trim())?);
            }
        }
        let first = *hops.first()?;
        Some(
            hops.into_iter()
                .rev()
                .find(|hop| !self.trusts(*hop))
                .unwrap_or(first),
        )
    }
}

/// One hop of `X-Forwarded-For`: an address, or an address with a port
/// (`192.0.2.1:4711`, `[2001:db8::1]:4711`), as some proxies write it.
fn hop_address(hop: &str) -> Option<IpAddr> {
    let ip = hop
        .parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()?;
    Some(ip.to_canonical())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use axum::http::HeaderValue;

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn headers(values: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(X_FORWARDED_FOR, HeaderValue::from_static(value));
        }
        headers
    }

    fn trusting(proxies: &[&str]) -> ClientAddress {
        ClientAddress {
            trusted_proxies: proxies.iter().map(|p| ip(p)).collect(),
        }
    }

    #[test]
    fn an_untrusted_peers_header_is_ignored() {
        let spoofed = headers(&["203.0.113.7"]);
        assert_eq!(
            ClientAddress::default().of(ip("198.51.100.1"), &spoofed),
            ip("198.51.100.1")
        );
        let client = trusting(&["127.0.0.1"]);
        assert_eq!(client.of(ip("198.51.100.1"), &spoofed), ip("198.51.100.1"));
    }

    #[test]
    fn a_trusted_proxy_names_the_client() {
        let client = trusting(&["127.0.0.1", "10.0.0.2"]);
        let proxy = ip("127.0.0.1");
        assert_eq!(
            client.of(proxy, &headers(&["203.0.113.7"])),
            ip("203.0.113.7")
        );
        // What the client wrote itself, left of what the proxy appended,
        // proves nothing; trusted proxies on the way are skipped.
        assert_eq!(
            client.of(proxy, &headers(&["1.1.1.1, 203.0.113.7, 10.0.0.2"])),
            ip("203.0.113.7")
        );
        // Several headers are one list, in order.
        assert_eq!(
            client.of(proxy, &headers(&["1.1.1.1", "203.0.113.8"])),
            ip("203.0.113.8")
        );
        // Ports and IPv6, as some proxies write them.
        assert_eq!(
            client.of(proxy, &headers(&["203.0.113.9:4711"])),
            ip("203.0.113.9")
        );
        assert_eq!(
            client.of(proxy, &headers(&["[2001:db8::7]:4711"])),
            ip("2001:db8::7")
        );
        assert_eq!(
            client.of(proxy, &headers(&[" 2001:db8::8 "])),
            ip("2001:db8::8")
        );
        // Only proxies: the furthest one.
        assert_eq!(
            client.of(proxy, &headers(&["10.0.0.2, 127.0.0.1"])),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn a_missing_or_malformed_header_is_the_peer() {
        let client = trusting(&["127.0.0.1"]);
        let proxy = ip("127.0.0.1");
        assert_eq!(client.of(proxy, &HeaderMap::new()), proxy);
        for bad in [
            "",
            "unknown",
            "203.0.113.7, nonsense",
            "203.0.113.7,,",
            "300.1.1.1",
        ] {
            assert_eq!(client.of(proxy, &headers(&[bad])), proxy, "{bad:?}");
        }
        let mut binary = HeaderMap::new();
        binary.insert(
            X_FORWARDED_FOR,
            HeaderValue::from_bytes(b"203.0.113.7\xff").unwrap(),
        );
        assert_eq!(client.of(proxy, &binary), proxy);
    }

    #[test]
    fn addresses_compare_in_canonical_form() {
        let client = trusting(&["127.0.0.1"]);
        let mapped = ip("::ffff:127.0.0.1");
        assert_eq!(
            client.of(mapped, &headers(&["203.0.113.7"])),
            ip("203.0.113.7")
        );
        assert_eq!(
            ClientAddress::default().of(mapped, &HeaderMap::new()),
            ip("127.0.0.1")
        );
        assert_eq!(
            client.of(ip("127.0.0.1"), &headers(&["::ffff:203.0.113.7"])),
            ip("203.0.113.7")
        );
    }
}

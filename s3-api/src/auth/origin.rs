//! Where a request came from, as the authorizer's conditions (`aws:SourceIp`, `aws:SecureTransport`)
//! and the sign-in throttle see it: the peer of the connection, or, behind trusted proxies (the router,
//! the console's frontend; `CLOUDVAULT_TRUSTED_PROXIES`), what they say in `X-Forwarded-For` and
//! `X-Forwarded-Proto`. Nothing a client writes itself is believed: only headers from trusted peers
//! count, and `cloudvault console` replaces `X-Forwarded-Proto` unless its own peer is trusted. (Trust
//! only the proxies themselves: whoever can connect from a trusted address can claim any client.)

use std::net::IpAddr;

/// The origin of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Origin {
    /// The client's address (`None` when unknown: a call made inside the process).
    pub source_ip: Option<IpAddr>,
    /// Whether the client reached CloudVault over TLS (this listener's, or a trusted proxy's).
    pub secure: bool,
}

impl Origin {
    /// The origin of a request that reached a listener from `peer` (over TLS when `tls`), with
    /// `headers` as received; `trusted`: the proxies whose forwarding headers are believed.
    pub fn of(peer: IpAddr, tls: bool, headers: &http::HeaderMap, trusted: &[ipnet::IpNet]) -> Self {
        let peer = peer.to_canonical();
        let via_trusted = trusted.iter().any(|net| net.contains(&peer));
        // The proxy that terminated TLS tells the scheme in the header it appended last.
        let forwarded_https = via_trusted
            && headers
                .get_all("x-forwarded-proto")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .next_back()
                .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
        Origin { source_ip: Some(client_address(peer, headers, trusted)), secure: tls || forwarded_https }
    }
}

/// The address a request came from: the peer, or, when the peer is a trusted proxy, the rightmost
/// `X-Forwarded-For` entry that is not itself a trusted proxy. Entries a client wrote itself sit to the
/// left of what trusted proxies appended, so they are never believed.
pub fn client_address(peer: IpAddr, headers: &http::HeaderMap, trusted: &[ipnet::IpNet]) -> IpAddr {
    // An IPv4 client of a dual-stack listener arrives as ::ffff:a.b.c.d; policies name a.b.c.d.
    let peer = peer.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    // From the right: what trusted proxies appended comes first; stop at the first entry that is not an
    // address (anything left of it was written by someone we do not trust).
    for entry in entries.into_iter().rev() {
        match entry.parse::<IpAddr>().map(|ip| ip.to_canonical()) {
            Ok(ip) if is_trusted(&ip) => continue,
            Ok(ip) => return ip,
            Err(_) => break,
        }
    }
    peer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for (name, value) in pairs {
            h.append(http::HeaderName::from_bytes(name.as_bytes()).expect("name"), value.parse().expect("value"));
        }
        h
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted: Vec<ipnet::IpNet> = vec!["10.128.0.0/14".parse().expect("net")];
        let proxy = ip("10.128.3.4");
        // The trusted proxy appended the client; a spoofed entry to its left is ignored.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.7")]);
        assert_eq!(client_address(proxy, &h, &trusted), ip("198.51.100.7"));
        // Chains of trusted proxies are skipped.
        let h = headers(&[("x-forwarded-for", "198.51.100.7, 10.128.0.9")]);
        assert_eq!(client_address(proxy, &h, &trusted), ip("198.51.100.7"));
        // An untrusted peer's header is never believed.
        let h = headers(&[("x-forwarded-for", "198.51.100.7")]);
        assert_eq!(client_address(ip("203.0.113.5"), &h, &trusted), ip("203.0.113.5"));
        // An entry that is not an address stops the walk: the proxy's own address is used.
        let h = headers(&[("x-forwarded-for", "198.51.100.7, garbage")]);
        assert_eq!(client_address(proxy, &h, &trusted), proxy);
    }

    #[test]
    fn secure_transport_is_tls_here_or_https_at_a_trusted_proxy() {
        let trusted: Vec<ipnet::IpNet> = vec!["127.0.0.1/32".parse().expect("net")];
        let https = headers(&[("x-forwarded-proto", "https")]);
        assert!(Origin::of(ip("127.0.0.1"), false, &https, &trusted).secure);
        assert!(!Origin::of(ip("192.0.2.1"), false, &https, &trusted).secure, "an untrusted client's claim");
        assert!(Origin::of(ip("192.0.2.1"), true, &http::HeaderMap::new(), &trusted).secure);
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().expect("ip");
        assert!(Origin::of(mapped, false, &https, &trusted).secure, "an IPv4-mapped peer is its IPv4 address");
        let spoofed = headers(&[("x-forwarded-proto", "https, http")]);
        assert!(!Origin::of(ip("127.0.0.1"), false, &spoofed, &trusted).secure, "the proxy's own entry is last");
    }
}

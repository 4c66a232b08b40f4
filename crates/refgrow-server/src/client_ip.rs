//! The visitor's address behind a reverse proxy.
//!
//! Forwarding headers are written by whoever sends the request, so they are believed only
//! from the peers listed in `REFGROW_TRUSTED_PROXIES` (addresses or CIDRs; default none).
//! From such a peer the chain of `Forwarded: for=…` (RFC 7239) or else `X-Forwarded-For` is
//! read right to left, skipping trusted hops: the first address that is not a trusted proxy
//! is the client (a visitor can prepend anything, but not what the proxies append). From any
//! other peer the headers are ignored and the socket's peer is the client. The click limiter,
//! the recorded click IP and every per-IP limit use this address.

use std::net::IpAddr;

use actix_web::HttpRequest;
use ipnet::IpNet;

/// Parses `REFGROW_TRUSTED_PROXIES`: comma- or space-separated addresses and CIDRs.
pub fn parse_trusted(raw: Option<&str>) -> Result<Vec<IpNet>, String> {
    let mut nets = Vec::new();
    for part in raw
        .unwrap_or_default()
        .split(|c: char| c == ',' || c.is_whitespace())
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let net = match part.parse::<IpNet>() {
            Ok(n) => n.trunc(),
            Err(_) => match part.parse::<IpAddr>() {
                Ok(ip) => IpNet::from(ip),
                Err(_) => {
                    return Err(format!(
                        "REFGROW_TRUSTED_PROXIES: '{part}' is not an IP address or CIDR (like 10.0.0.0/8)"
                    ))
                }
            },
        };
        nets.push(net);
    }
    Ok(nets)
}

/// Unwraps IPv4-mapped IPv6 addresses (a dual-stack socket's view of an IPv4 peer).
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

fn is_trusted(trusted: &[IpNet], ip: IpAddr) -> bool {
    let ip = canonical(ip);
    trusted.iter().any(|n| n.contains(&ip))
}

/// One `for=` or X-Forwarded-For node as an address: `1.2.3.4`, `1.2.3.4:80`, `"[::1]:80"`,
/// `[::1]`. Obfuscated names (`unknown`, `_hidden`) are `None`.
fn parse_node(raw: &str) -> Option<IpAddr> {
    let s = raw.trim().trim_matches('"').trim();
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok().map(canonical);
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    // `a.b.c.d:port`
    let (host, _port) = s.rsplit_once(':')?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// The hops a proxy chain reports, oldest first: from `Forwarded` when present, else from
/// `X-Forwarded-For`. A node that cannot be read ends up as `None`.
fn forwarded_chain(req: &HttpRequest) -> Vec<Option<IpAddr>> {
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("forwarded")
        .filter_map(|v| v.to_str().ok())
        .collect();
    if !forwarded.is_empty() {
        let mut chain = Vec::new();
        for header in forwarded {
            for element in header.split(',') {
                let node = element.split(';').find_map(|pair| {
                    let (k, v) = pair.split_once('=')?;
                    k.trim().eq_ignore_ascii_case("for").then_some(v)
                });
                if let Some(v) = node {
                    chain.push(parse_node(v));
                }
            }
        }
        return chain;
    }
    req.headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter(|s| !s.trim().is_empty())
        .map(parse_node)
        .collect()
}

/// The client's address: the socket's peer, or from a trusted peer the rightmost untrusted
/// hop of its forwarding chain.
pub fn client_ip(req: &HttpRequest, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = canonical(req.peer_addr()?.ip());
    if trusted.is_empty() || !is_trusted(trusted, peer) {
        return Some(peer);
    }
    let chain = forwarded_chain(req);
    let mut client = peer;
    for hop in chain.into_iter().rev() {
        match hop {
            Some(ip) if is_trusted(trusted, ip) => client = ip,
            Some(ip) => return Some(ip),
            // An unreadable hop cannot be vouched for: stop at the last trusted one.
            None => return Some(client),
        }
    }
    Some(client)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use actix_web::test::TestRequest;

    fn req(peer: &str, headers: &[(&str, &str)]) -> HttpRequest {
        let mut r = TestRequest::default().peer_addr(peer.parse().unwrap());
        for (k, v) in headers {
            r = r.append_header((*k, *v));
        }
        r.to_http_request()
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn headers_from_untrusted_peers_are_ignored() {
        let none = parse_trusted(None).unwrap();
        let r = req("203.0.113.9:5000", &[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(client_ip(&r, &none), ip("203.0.113.9"));
        let trusted = parse_trusted(Some("10.0.0.0/8")).unwrap();
        assert_eq!(client_ip(&r, &trusted), ip("203.0.113.9"));
    }

    #[test]
    fn rightmost_untrusted_hop_wins() {
        let trusted = parse_trusted(Some("10.0.0.0/8, 192.168.1.1")).unwrap();
        // The visitor forged the first entry; the proxy appended the real one.
        let r = req(
            "10.0.0.2:5000",
            &[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 192.168.1.1")],
        );
        assert_eq!(client_ip(&r, &trusted), ip("198.51.100.7"));
        let r = req(
            "10.0.0.2:5000",
            &[(
                "forwarded",
                r#"for=6.6.6.6, for="[2001:db8::1]:443";proto=https"#,
            )],
        );
        assert_eq!(client_ip(&r, &trusted), ip("2001:db8::1"));
        let r = req("10.0.0.2:5000", &[("forwarded", "for=198.51.100.7:8080")]);
        assert_eq!(client_ip(&r, &trusted), ip("198.51.100.7"));
        // No header: the proxy itself.
        let r = req("10.0.0.2:5000", &[]);
        assert_eq!(client_ip(&r, &trusted), ip("10.0.0.2"));
        // Unreadable hop: stop at the last trusted one.
        let r = req("10.0.0.2:5000", &[("x-forwarded-for", "garbage, 10.0.0.9")]);
        assert_eq!(client_ip(&r, &trusted), ip("10.0.0.9"));
    }

    #[test]
    fn bad_settings_are_refused() {
        assert!(parse_trusted(Some("10.0.0.0/8,nope")).is_err());
        assert_eq!(parse_trusted(Some(" ")).unwrap().len(), 0);
        assert_eq!(parse_trusted(Some("::1 127.0.0.1")).unwrap().len(), 2);
    }
}

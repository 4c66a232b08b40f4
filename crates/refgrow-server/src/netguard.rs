//! Where webhook deliveries may go: a guard against server-side request forgery.
//!
//! A webhook URL is chosen by a tenant, so without a guard any API key could make the server
//! POST to its own loopback, the cloud metadata service (169.254.169.254) or hosts of the
//! private network. Unless the operator opts in (`REFGROW_WEBHOOK_ALLOW_PRIVATE=true`),
//! only public unicast addresses are allowed, checked twice:
//!
//! - when an endpoint is registered or its URL changed ([`vet_url`]): a literal address, a
//!   `localhost` name, or a name that resolves to a refused address is a 400;
//! - at every delivery, after resolution ([`GuardedResolver`]): the worker's HTTP client
//!   resolves names itself, drops refused addresses and connects only to the vetted ones, so
//!   a name that is re-pointed at a private address later (DNS rebinding) is caught between
//!   the check and the connection. Literal addresses are checked by [`refused`] before the
//!   request is sent.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::{Ipv4Net, Ipv6Net};

use crate::error::ApiError;

/// IPv4 ranges never reached (besides what `Ipv4Addr`'s own predicates cover).
const V4_REFUSED: &[(&str, &str)] = &[
    ("0.0.0.0/8", "'this network'"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared address space (CGNAT)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "6to4 relay anycast"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
];

/// IPv6 ranges inside global unicast (2000::/3) that are still refused.
const V6_REFUSED: &[(&str, &str)] = &[
    ("2001::/23", "IETF protocol assignments (Teredo and others)"),
    ("2001:db8::/32", "documentation"),
    ("3fff::/20", "documentation"),
];

/// Why `ip` may not be reached, or `None` when it is a public unicast address.
pub fn refused(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => refused_v4(v4),
        IpAddr::V6(v6) => refused_v6(v6),
    }
}

fn refused_v4(ip: Ipv4Addr) -> Option<&'static str> {
    if ip.is_broadcast() {
        return Some("broadcast");
    }
    V4_REFUSED.iter().find_map(|(net, why)| {
        net.parse::<Ipv4Net>()
            .ok()
            .filter(|n| n.contains(&ip))
            .map(|_| *why)
    })
}

/// The IPv4 address that an IPv6 address carries in two of its 16-bit segments.
fn v4_of(high: u16, low: u16) -> Ipv4Addr {
    let [a, b] = high.to_be_bytes();
    let [c, d] = low.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

fn refused_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    // Addresses that carry an IPv4 address are judged by it: IPv4-mapped (::ffff:a.b.c.d),
    // NAT64 (64:ff9b::/96) and 6to4 (2002::/16).
    if let Some(v4) = ip.to_ipv4_mapped() {
        return refused_v4(v4);
    }
    let seg = ip.segments();
    if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return refused_v4(v4_of(seg[6], seg[7]));
    }
    if seg[0] == 0x2002 {
        return refused_v4(v4_of(seg[1], seg[2]));
    }
    // Only global unicast (2000::/3) is reachable; that leaves out ULA (fc00::/7),
    // link-local (fe80::/10), multicast (ff00::/8), IPv4-compatible (::/96) and the rest.
    let global = "2000::/3".parse::<Ipv6Net>().ok()?;
    if !global.contains(&ip) {
        return Some(if seg[0] & 0xfe00 == 0xfc00 {
            "unique local (private)"
        } else if seg[0] & 0xffc0 == 0xfe80 {
            "link-local"
        } else if seg[0] & 0xff00 == 0xff00 {
            "multicast"
        } else {
            "not global unicast"
        });
    }
    V6_REFUSED.iter().find_map(|(net, why)| {
        net.parse::<Ipv6Net>()
            .ok()
            .filter(|n| n.contains(&ip))
            .map(|_| *why)
    })
}

/// Whether a host name is local by name alone (`localhost`, `*.localhost`).
fn local_name(host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    h == "localhost" || h.ends_with(".localhost")
}

/// How long registration waits for a name to resolve.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(3);

fn url_error(issue: String) -> ApiError {
    ApiError::invalid("url", issue)
}

/// Checks a webhook URL (already syntax-checked) at registration: refuses a literal address,
/// a local name, or a name any of whose addresses is refused. A name that does not resolve
/// (yet) is accepted: deliveries check again after resolution.
pub async fn vet_url(raw: &str, allow_private: bool) -> Result<(), ApiError> {
    if allow_private {
        return Ok(());
    }
    let url = url::Url::parse(raw).map_err(|_| url_error("is not a URL".into()))?;
    let port = url.port_or_known_default().unwrap_or(443);
    match url.host() {
        Some(url::Host::Ipv4(ip)) => check_ip(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => check_ip(IpAddr::V6(ip)),
        Some(url::Host::Domain(name)) => {
            if local_name(name) {
                return Err(url_error(format!(
                    "must not point at this machine ('{name}'): webhooks go to public addresses only"
                )));
            }
            let lookup = tokio::net::lookup_host((name.to_string(), port));
            if let Ok(Ok(addrs)) = tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await {
                for a in addrs {
                    if let Some(why) = refused(a.ip()) {
                        return Err(url_error(format!(
                            "'{name}' resolves to {} ({why}): webhooks go to public addresses only",
                            a.ip()
                        )));
                    }
                }
            }
            Ok(())
        }
        None => Err(url_error("must have a host".into())),
    }
}

fn check_ip(ip: IpAddr) -> Result<(), ApiError> {
    match refused(ip) {
        Some(why) => Err(url_error(format!(
            "must not be a {why} address ({ip}): webhooks go to public addresses only"
        ))),
        None => Ok(()),
    }
}

/// The host of a URL when it is a literal address that is refused, with why.
pub fn refused_literal(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    let ip = match url.host()? {
        url::Host::Ipv4(ip) => IpAddr::V4(ip),
        url::Host::Ipv6(ip) => IpAddr::V6(ip),
        url::Host::Domain(name) if local_name(name) => {
            return Some(format!("{name} is this machine"))
        }
        url::Host::Domain(_) => return None,
    };
    refused(ip).map(|why| format!("{ip} is a {why} address"))
}

/// The delivery client's resolver: the system's, minus every refused address. A name left
/// with no address fails to connect with an error that says why.
#[derive(Debug, Clone, Default)]
pub struct GuardedResolver;

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> = all
                .iter()
                .copied()
                .filter(|a| refused(a.ip()).is_none())
                .collect();
            if kept.is_empty() {
                let shown: Vec<String> = all.iter().map(|a| a.ip().to_string()).collect();
                let err: Box<dyn std::error::Error + Send + Sync> = format!(
                    "refused: {host} resolves only to non-public addresses ({}); set \
                     REFGROW_WEBHOOK_ALLOW_PRIVATE=true to allow them",
                    shown.join(", ")
                )
                .into();
                return Err(err);
            }
            let addrs: reqwest::dns::Addrs = Box::new(kept.into_iter());
            Ok(addrs)
        })
    }
}

/// The resolver the delivery client uses: guarded unless private addresses are allowed.
pub fn resolver(allow_private: bool) -> Option<Arc<GuardedResolver>> {
    (!allow_private).then(|| Arc::new(GuardedResolver))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn no(s: &str) -> bool {
        refused(s.parse().unwrap()).is_some()
    }

    #[test]
    fn private_and_special_addresses_are_refused() {
        for ip in [
            "127.0.0.1",
            "127.1.2.3",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "240.0.0.1",
            "198.18.0.1",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "2002:a00:1::",
            "2002:7f00:1::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "2001::1",
        ] {
            assert!(no(ip), "{ip} should be refused");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "172.32.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::",
        ] {
            assert!(!no(ip), "{ip} should pass");
        }
    }

    #[tokio::test]
    async fn registration_vets_hosts_unless_private_is_allowed() {
        for bad in [
            "http://localhost:8080/x",
            "http://127.0.0.1/",
            "http://[::1]/",
            "http://169.254.169.254/latest",
        ] {
            assert!(vet_url(bad, false).await.is_err(), "{bad}");
            assert!(vet_url(bad, true).await.is_ok(), "{bad} with the opt-in");
        }
        assert!(vet_url("https://8.8.8.8/hook", false).await.is_ok());
        assert!(vet_url("https://[2606:4700:4700::1111]/", false)
            .await
            .is_ok());
    }

    #[test]
    fn literal_hosts_are_spotted() {
        assert!(refused_literal("http://127.0.0.1:9000/x").is_some());
        assert!(refused_literal("http://[::1]/").is_some());
        assert!(refused_literal("http://LOCALHOST./").is_some());
        assert!(refused_literal("http://api.localhost/").is_some());
        assert!(refused_literal("https://hooks.example.com/").is_none());
        assert!(refused_literal("https://8.8.8.8/").is_none());
    }
}

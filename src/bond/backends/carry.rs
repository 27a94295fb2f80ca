//! The layer-3 settings a card loses when it becomes a bond port, and which the bond must take
//! over so that the host stays reachable (issue 13): additional addresses, default gateways,
//! static routes, DNS servers and search domains.
//!
//! Each back-end reads these from a card's (or an existing bond's) configuration into a
//! [`Carried`] in its own syntax and writes them back under the bond, again in its own syntax;
//! this module is the neutral form in between. Values are re-parsed here (addresses as
//! `IpAddr`, domains as host names) so nothing an administrator wrote can break out of the
//! target format: what does not parse is reported in [`Carried::skipped`] and shown as a
//! warning, never silently lost.
//!
//! The bond's *first* IPv4 address is step 4's answer (BOND-7). It replaces the first IPv4
//! address of every source, exactly as the seed replaced the card's address; every other
//! address is carried.

use std::net::{IpAddr, Ipv4Addr};

use crate::bond::net;

/// A static route other than the default route (default routes are [`Carried::gateway4`] and
/// [`Carried::gateway6`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Destination in `address/prefix` form.
    pub to: String,
    pub via: Option<IpAddr>,
    pub metric: Option<u32>,
}

impl Route {
    pub fn is_v6(&self) -> bool {
        self.to.contains(':')
    }
}

/// What a bond inherits from the cards it enslaves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Carried {
    /// Addresses besides step 4's, `address/prefix`, IPv4 and IPv6 in the order found.
    pub addresses: Vec<String>,
    pub gateway4: Option<Ipv4Addr>,
    pub gateway6: Option<IpAddr>,
    pub routes: Vec<Route>,
    /// DNS servers, IPv4 and IPv6, in order of preference.
    pub dns: Vec<IpAddr>,
    pub search: Vec<String>,
    /// IPv6 autoconfiguration (SLAAC/DHCPv6) was on for a source whose back-end switches it
    /// off unless told (NetworkManager's `method=disabled`).
    pub ipv6_auto: bool,
    /// Settings found but not understood (`source: text`), for a warning.
    pub skipped: Vec<String>,
}

impl Carried {
    pub fn is_empty(&self) -> bool {
        self.addresses.is_empty()
            && self.gateway4.is_none()
            && self.gateway6.is_none()
            && self.routes.is_empty()
            && self.dns.is_empty()
            && self.search.is_empty()
    }

    pub fn addresses_v4(&self) -> impl Iterator<Item = &String> {
        self.addresses.iter().filter(|a| !a.contains(':'))
    }

    pub fn addresses_v6(&self) -> impl Iterator<Item = &String> {
        self.addresses.iter().filter(|a| a.contains(':'))
    }

    pub fn dns_v4(&self) -> impl Iterator<Item = &IpAddr> {
        self.dns.iter().filter(|a| a.is_ipv4())
    }

    pub fn dns_v6(&self) -> impl Iterator<Item = &IpAddr> {
        self.dns.iter().filter(|a| a.is_ipv6())
    }

    pub fn has_v6(&self) -> bool {
        self.addresses_v6().next().is_some()
            || self.gateway6.is_some()
            || self.routes.iter().any(Route::is_v6)
    }

    /// Adds `other` after what is already there: the first source's gateway wins, lists are
    /// joined without duplicates.
    pub fn merge(&mut self, other: Carried) {
        for a in other.addresses {
            push_unique(&mut self.addresses, a);
        }
        self.gateway4 = self.gateway4.or(other.gateway4);
        self.gateway6 = self.gateway6.or(other.gateway6);
        self.ipv6_auto |= other.ipv6_auto;
        for r in other.routes {
            if !self.routes.iter().any(|x| x.to == r.to && x.via == r.via) {
                self.routes.push(r);
            }
        }
        for d in other.dns {
            push_unique(&mut self.dns, d);
        }
        for s in other.search {
            push_unique(&mut self.search, s);
        }
        for s in other.skipped {
            push_unique(&mut self.skipped, s);
        }
    }

    /// Records an address of a source; `first_v4` tracks whether the source's first IPv4
    /// address (the one step 4 replaces) has been seen.
    pub fn add_address(&mut self, source: &str, text: &str, first_v4: &mut bool) {
        match normalize_cidr(text) {
            Some(cidr) if !cidr.contains(':') && !*first_v4 => *first_v4 = true,
            Some(cidr) => push_unique(&mut self.addresses, cidr),
            None => self.skip(source, text),
        }
    }

    /// A gateway of either family; `default via X` in whatever form the source had.
    pub fn add_gateway(&mut self, source: &str, text: &str) {
        let text = text.split('%').next().unwrap_or(text).trim();
        match text.parse::<IpAddr>() {
            Ok(IpAddr::V4(g)) => self.gateway4 = self.gateway4.or(Some(g)),
            Ok(g) => self.gateway6 = self.gateway6.or(Some(g)),
            Err(_) => self.skip(source, text),
        }
    }

    /// A route; a default destination becomes the gateway of its family.
    pub fn add_route(&mut self, source: &str, to: &str, via: Option<&str>, metric: Option<&str>) {
        let via_ip = match via.map(|v| v.trim().parse::<IpAddr>()) {
            None => None,
            Some(Ok(ip)) if !ip.is_unspecified() => Some(ip),
            Some(Ok(_)) => None,
            Some(Err(_)) => {
                return self.skip(source, &format!("route {to} via {}", via.unwrap_or("")))
            }
        };
        let metric = match metric.map(|m| m.trim().parse::<u32>()) {
            None => None,
            Some(Ok(m)) => Some(m),
            Some(Err(_)) => {
                return self.skip(
                    source,
                    &format!("route {to} metric {}", metric.unwrap_or("")),
                )
            }
        };
        let to = to.trim();
        let default = matches!(to, "default" | "0.0.0.0/0" | "::/0" | "0.0.0.0");
        if default && metric.is_none() {
            if let Some(via) = via_ip {
                return self.add_gateway(source, &via.to_string());
            }
        }
        let to = if to == "default" {
            if via_ip.is_some_and(|v| v.is_ipv6()) {
                "::/0".to_string()
            } else {
                "0.0.0.0/0".to_string()
            }
        } else {
            match normalize_cidr(to).or_else(|| {
                to.parse::<IpAddr>()
                    .ok()
                    .map(|ip| format!("{ip}/{}", if ip.is_ipv4() { 32 } else { 128 }))
            }) {
                Some(t) => t,
                None => return self.skip(source, &format!("route {to}")),
            }
        };
        let route = Route {
            to,
            via: via_ip,
            metric,
        };
        if !self.routes.contains(&route) {
            self.routes.push(route);
        }
    }

    /// One route in `ip route` syntax (`10.1.0.0/16 via 10.0.0.254 metric 100 dev eth0`):
    /// the `route-<if>` files of initscripts and ifupdown's `up ip route add …` lines. The
    /// device is dropped (the route moves to the bond); anything else is not understood.
    pub fn add_ip_route(&mut self, source: &str, line: &str) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some((to, rest)) = words.split_first() else {
            return;
        };
        let (mut via, mut metric) = (None, None);
        let mut i = 0;
        while i < rest.len() {
            match (rest[i], rest.get(i + 1)) {
                ("via", Some(v)) => via = Some(*v),
                ("metric", Some(m)) => metric = Some(*m),
                ("dev", Some(_)) => {}
                _ => return self.skip(source, line.trim()),
            }
            i += 2;
        }
        self.add_route(source, to, via, metric);
    }

    pub fn add_dns(&mut self, source: &str, text: &str) {
        for word in text.split([' ', ',', ';', '\t']).filter(|w| !w.is_empty()) {
            match word.parse::<IpAddr>() {
                Ok(ip) => push_unique(&mut self.dns, ip),
                Err(_) => self.skip(source, word),
            }
        }
    }

    pub fn add_search(&mut self, source: &str, text: &str) {
        for word in text.split([' ', ',', ';', '\t']).filter(|w| !w.is_empty()) {
            if is_domain(word) {
                push_unique(&mut self.search, word.to_string());
            } else {
                self.skip(source, word);
            }
        }
    }

    fn skip(&mut self, source: &str, text: &str) {
        push_unique(&mut self.skipped, format!("{source}: {text}"));
    }

    /// Warnings for the operator: what could not be carried, and a gateway step 4's network
    /// cannot reach.
    pub fn warnings(&self, ip: Ipv4Addr, mask: Ipv4Addr) -> Vec<String> {
        let mut out: Vec<String> = self
            .skipped
            .iter()
            .map(|s| format!("not carried over to the bond (not understood): {s}"))
            .collect();
        if let Some(gw) = self.gateway4 {
            let net = u32::from(mask);
            let reachable = u32::from(gw) & net == u32::from(ip) & net
                || self.addresses_v4().any(|a| {
                    net::parse_cidr(a).is_some_and(|(addr, m)| {
                        u32::from(gw) & u32::from(m) == u32::from(addr) & u32::from(m)
                    })
                });
            if !reachable {
                out.push(format!(
                    "the default gateway {gw} is outside the bond's network {ip}/{}; check it before restarting the network",
                    net::prefix_len(mask)
                ));
            }
        }
        out
    }
}

fn push_unique<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// `address/prefix` with a valid address and prefix (bare addresses get the host prefix),
/// re-printed in canonical form.
pub fn normalize_cidr(text: &str) -> Option<String> {
    let text = text.trim();
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let ip: IpAddr = addr.trim().parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix: u32 = match prefix {
        Some(p) if p.contains('.') => net::parse_netmask(p.trim()).map(net::prefix_len)?,
        Some(p) => p.trim().parse().ok()?,
        None => max,
    };
    (prefix <= max).then(|| format!("{ip}/{prefix}"))
}

/// A DNS search domain: letters, digits, `-`, `_`, dots (and networkd's `~` routing prefix).
fn is_domain(word: &str) -> bool {
    let body = word.strip_prefix('~').unwrap_or(word);
    !body.is_empty()
        && body
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_ipv4_is_replaced_and_the_rest_carried() {
        let mut c = Carried::default();
        let mut first = false;
        c.add_address("eth0", "10.0.0.5/24", &mut first);
        c.add_address("eth0", "10.0.1.5/255.255.255.0", &mut first);
        c.add_address("eth0", "2001:db8::5/64", &mut first);
        c.add_address("eth0", "bogus", &mut first);
        assert_eq!(c.addresses, ["10.0.1.5/24", "2001:db8::5/64"]);
        assert_eq!(c.skipped, ["eth0: bogus"]);
    }

    #[test]
    fn default_routes_become_gateways() {
        let mut c = Carried::default();
        c.add_route("x", "default", Some("10.0.0.1"), None);
        c.add_route("x", "::/0", Some("2001:db8::1"), None);
        c.add_route("x", "10.1.0.0/16", Some("10.0.0.254"), Some("100"));
        c.add_route("x", "default", Some("10.0.0.2"), Some("50"));
        assert_eq!(c.gateway4, Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(c.gateway6, "2001:db8::1".parse().ok());
        assert_eq!(c.routes.len(), 2);
        assert_eq!(c.routes[1].to, "0.0.0.0/0");
        assert!(c
            .warnings(Ipv4Addr::new(10, 0, 0, 5), Ipv4Addr::new(255, 255, 255, 0))
            .is_empty());
        assert_eq!(
            c.warnings(Ipv4Addr::new(10, 9, 0, 5), Ipv4Addr::new(255, 255, 255, 0))
                .len(),
            1
        );
    }

    #[test]
    fn merge_keeps_the_first_gateway_and_joins_lists() {
        let mut a = Carried::default();
        a.add_gateway("a", "10.0.0.1");
        a.add_dns("a", "1.1.1.1 8.8.8.8");
        let mut b = Carried::default();
        b.add_gateway("b", "10.0.0.9");
        b.add_dns("b", "8.8.8.8;9.9.9.9;");
        b.add_search("b", "example.com bad\"dom");
        a.merge(b);
        assert_eq!(a.gateway4, Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(a.dns.len(), 3);
        assert_eq!(a.search, ["example.com"]);
        assert_eq!(a.skipped, ["b: bad\"dom"]);
    }
}

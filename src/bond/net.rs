//! IPv4 address and netmask checks of the dialogue and the tool file (BOND-7 step 4,
//! BOND-10 exits 111/112), and the small conversions the back-ends need (prefix length,
//! broadcast for the seed's ifconfig-style NIC listing).

use std::net::Ipv4Addr;

/// Strict dotted quad: four decimal fields 0..=255, no spaces, no leading `+`, no empty field.
/// `Ipv4Addr::from_str` is not used on purpose: it is the validator the tool file's exact-format
/// rule (BOND-10) needs to mirror, so stray spaces must fail rather than be trimmed.
pub fn parse_ipv4(s: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut fields = s.split('.');
    for octet in &mut octets {
        let field = fields.next()?;
        if field.is_empty() || field.len() > 3 || !field.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *octet = field.parse::<u8>().ok()?;
    }
    if fields.next().is_some() {
        return None;
    }
    Some(Ipv4Addr::from(octets))
}

/// A usable address for a bond: not 0.0.0.0, not broadcast, not multicast, not loopback.
pub fn parse_host_address(s: &str) -> Option<Ipv4Addr> {
    parse_ipv4(s).filter(|a| {
        !a.is_unspecified() && !a.is_broadcast() && !a.is_multicast() && !a.is_loopback()
    })
}

/// A netmask: a dotted quad whose ones are contiguous, at least /1 (0.0.0.0 bonds nothing).
pub fn parse_netmask(s: &str) -> Option<Ipv4Addr> {
    let mask = parse_ipv4(s)?;
    let bits = u32::from(mask);
    (bits != 0 && bits.leading_ones() + bits.trailing_zeros() == 32).then_some(mask)
}

/// Prefix length of a (valid) netmask.
pub fn prefix_len(mask: Ipv4Addr) -> u32 {
    u32::from(mask).leading_ones()
}

/// Netmask of a prefix length, `None` above 32 or at 0.
pub fn mask_from_prefix(prefix: u32) -> Option<Ipv4Addr> {
    (1..=32)
        .contains(&prefix)
        .then(|| Ipv4Addr::from(u32::MAX << (32 - prefix)))
}

/// Broadcast address of `addr` in the network of `mask`.
pub fn broadcast(addr: Ipv4Addr, mask: Ipv4Addr) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(addr) | !u32::from(mask))
}

/// Parses `a.b.c.d/nn` (networkd, NetworkManager, netplan, ip) into address and mask.
pub fn parse_cidr(s: &str) -> Option<(Ipv4Addr, Ipv4Addr)> {
    let (addr, prefix) = s.split_once('/')?;
    let prefix: u32 = prefix.trim().parse().ok()?;
    Some((parse_ipv4(addr.trim())?, mask_from_prefix(prefix)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            parse_ipv4("172.28.125.77"),
            Some(Ipv4Addr::new(172, 28, 125, 77))
        );
        for bad in [
            "111.222.333.444",
            "1.2.3",
            "1.2.3.4.5",
            " 1.2.3.4",
            "1.2.3.4 ",
            "1..3.4",
            "a.b.c.d",
            "1.2.3.+4",
            "",
        ] {
            assert_eq!(parse_ipv4(bad), None, "{bad}");
        }
        assert_eq!(parse_host_address("0.0.0.0"), None);
        assert_eq!(parse_host_address("224.0.0.1"), None);
    }

    #[test]
    fn masks() {
        assert!(parse_netmask("255.255.255.0").is_some());
        assert!(parse_netmask("255.255.255.255").is_some());
        assert!(parse_netmask("255.0.255.0").is_none());
        assert!(parse_netmask("0.0.0.0").is_none());
        assert_eq!(prefix_len(Ipv4Addr::new(255, 255, 252, 0)), 22);
        assert_eq!(mask_from_prefix(24), Some(Ipv4Addr::new(255, 255, 255, 0)));
        assert_eq!(mask_from_prefix(33), None);
        assert_eq!(
            broadcast(
                Ipv4Addr::new(192, 168, 0, 70),
                Ipv4Addr::new(255, 255, 255, 0)
            ),
            Ipv4Addr::new(192, 168, 0, 255)
        );
        assert_eq!(
            parse_cidr("10.0.0.5/8").map(|c| c.1),
            Some(Ipv4Addr::new(255, 0, 0, 0))
        );
    }
}

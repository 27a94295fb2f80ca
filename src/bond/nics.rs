//! NIC discovery for steps 2 and 4 of the dialogue (BOND-7): which cards can be bonded, and
//! which address NIC1 has (the default of step 4). Also renders the seed's ifconfig-style list
//! (BOND-6).
//!
//! Discovery sits behind [`NicSource`] so unit tests can hand in a fixed list; the real source
//! reads `<root>/sys/class/net`, which integration tests fake with plain folders.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::errors::{code, BondError};
use super::net;

/// One bondable network card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nic {
    pub name: String,
    /// Permanent address as sysfs shows it (lower case), if known.
    pub mac: Option<String>,
    /// IPv4 address and netmask currently configured, if any.
    pub addr: Option<(Ipv4Addr, Ipv4Addr)>,
}

/// Where the NIC list comes from.
pub trait NicSource {
    fn nics(&self) -> Result<Vec<Nic>, BondError>;
}

/// A fixed list (unit tests, and callers that already know the NICs).
pub struct FixedNics(pub Vec<Nic>);

impl NicSource for FixedNics {
    fn nics(&self) -> Result<Vec<Nic>, BondError> {
        Ok(self.0.clone())
    }
}

/// Looks up the configured address of a NIC in the back-end's files.
pub type AddressLookup<'a> = &'a dyn Fn(&str) -> Option<(Ipv4Addr, Ipv4Addr)>;

/// `<root>/sys/class/net`, with addresses from the live kernel (`ip`) when the root is `/`,
/// else from the back-end's configuration files.
pub struct SysfsNics<'a> {
    pub root: PathBuf,
    pub live: bool,
    pub configured_address: AddressLookup<'a>,
}

impl NicSource for SysfsNics<'_> {
    fn nics(&self) -> Result<Vec<Nic>, BondError> {
        let class = self.root.join("sys/class/net");
        let entries = std::fs::read_dir(&class).map_err(|e| BondError::SystemInfo {
            code: code::SYSFS,
            detail: format!("{}: {e}", class.display()),
        })?;
        let mut nics = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let dir = entry.path();
            if !bondable(&name, &dir) {
                continue;
            }
            let mac = read_trimmed(&dir.join("address"));
            let addr = self
                .live
                .then(|| live_address(&name))
                .flatten()
                .or_else(|| (self.configured_address)(&name));
            nics.push(Nic { name, mac, addr });
        }
        nics.sort_by_key(|n| natural_key(&n.name));
        Ok(nics)
    }
}

/// Loopback, bond masters, bridges and software devices (veth, dummy, ifb, tun, ...) are not
/// cards one bonds; nor is anything whose link type is not Ethernet (ARPHRD_ETHER = 1).
fn bondable(name: &str, dir: &Path) -> bool {
    if name == "lo" || name.starts_with("bonding_masters") {
        return false;
    }
    if dir.join("bonding").is_dir() || dir.join("bridge").is_dir() {
        return false;
    }
    if let Ok(target) = std::fs::read_link(dir) {
        if target.to_string_lossy().contains("/virtual/") {
            return false;
        }
    }
    !matches!(read_trimmed(&dir.join("type")), Some(t) if t != "1")
}

fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// First IPv4 address of `name` as the kernel has it now (`ip -o -4 addr show dev NAME`).
fn live_address(name: &str) -> Option<(Ipv4Addr, Ipv4Addr)> {
    let out = Command::new("ip")
        .args(["-o", "-4", "addr", "show", "dev", name])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .and_then(net::parse_cidr)
}

/// `eth2` before `eth10`: digits compare as numbers.
fn natural_key(name: &str) -> Vec<(u8, u64, String)> {
    let mut key = Vec::new();
    let mut rest = name;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 {
            let (d, tail) = rest.split_at(digits);
            key.push((1, d.parse().unwrap_or(u64::MAX), String::new()));
            rest = tail;
        } else {
            let text = rest.len() - rest.trim_start_matches(|c: char| !c.is_ascii_digit()).len();
            let (t, tail) = rest.split_at(text);
            key.push((0, 0, t.to_string()));
            rest = tail;
        }
    }
    key
}

/// Step 2's list in the seed's ifconfig style (BOND-6): `<n>:<name>` padded to eight columns,
/// the HWaddr in upper case, and the `inet addr` line only for cards with an address.
pub fn format_listing(nics: &[Nic]) -> String {
    let mut out = String::new();
    for (i, nic) in nics.iter().enumerate() {
        let head = format!("{}:{}", i + 1, nic.name);
        let pad = 8usize.saturating_sub(head.len()).max(2);
        out.push_str(&head);
        out.push_str(&" ".repeat(pad));
        out.push_str("Link encap:Ethernet");
        if let Some(mac) = &nic.mac {
            out.push_str("  HWaddr ");
            out.push_str(&mac.to_ascii_uppercase());
        }
        out.push('\n');
        if let Some((addr, mask)) = nic.addr {
            out.push_str(&format!(
                "        inet addr:{addr}  Bcast:{}  Mask:{mask}\n",
                net::broadcast(addr, mask)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_matches_seed_shape() {
        let nics = vec![
            Nic {
                name: "eth0".into(),
                mac: Some("00:30:13:f1:6b:4e".into()),
                addr: Some((
                    Ipv4Addr::new(172, 28, 125, 70),
                    Ipv4Addr::new(255, 255, 255, 0),
                )),
            },
            Nic {
                name: "enp1s0f1".into(),
                mac: None,
                addr: None,
            },
        ];
        assert_eq!(
            format_listing(&nics),
            "1:eth0  Link encap:Ethernet  HWaddr 00:30:13:F1:6B:4E\n        inet addr:172.28.125.70  Bcast:172.28.125.255  Mask:255.255.255.0\n2:enp1s0f1  Link encap:Ethernet\n"
        );
    }

    #[test]
    fn natural_order() {
        let mut v = vec!["eth10", "eth2", "eth1"];
        v.sort_by_key(|n| natural_key(n));
        assert_eq!(v, ["eth1", "eth2", "eth10"]);
    }
}

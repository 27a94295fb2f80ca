//! NetworkManager keyfiles (`/etc/NetworkManager/system-connections/*.nmconnection`), the
//! modern counterpart of BOND-19/20: one `type=bond` profile holding the address and the
//! options of step 5, and one port profile per slave.
//!
//! What the seed did to `ifcfg-ethX` (make the card a slave) is done here by switching off
//! `autoconnect` on the card's other profiles, otherwise NetworkManager would keep activating
//! them and the card would never join the bond. Profiles are written 0600 because NetworkManager
//! ignores keyfiles that group or others can read.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::carry::Carried;
use super::{
    carried, files_with_suffix, ini_get, ini_sections, ini_set, read_optional, Backend,
    BackendKind, BondSetup, FileChange,
};
use crate::bond::args::BondName;
use crate::bond::errors::BondError;
use crate::bond::{net, params};

pub const DIR: &str = "etc/NetworkManager/system-connections";

pub struct NetworkManager;

struct Profile {
    path: PathBuf,
    text: String,
}

fn profiles(root: &Path) -> Result<Vec<Profile>, BondError> {
    let mut out = Vec::new();
    for path in files_with_suffix(&root.join(DIR), ".nmconnection") {
        if let Some(text) = read_optional(&path)? {
            let rel = path
                .strip_prefix(root)
                .map(Path::to_path_buf)
                .unwrap_or(path);
            out.push(Profile { path: rel, text });
        }
    }
    Ok(out)
}

fn is_type(text: &str, ty: &str) -> bool {
    let t = ini_get(text, "connection", "type").unwrap_or_default();
    t == ty || (ty == "ethernet" && t == "802-3-ethernet")
}

fn ifname(text: &str) -> Option<String> {
    ini_get(text, "connection", "interface-name")
}

/// A port profile (it has a controller), whose IP settings NetworkManager ignores.
fn is_port(text: &str) -> bool {
    ini_get(text, "connection", "master")
        .or_else(|| ini_get(text, "connection", "controller"))
        .is_some()
}

/// The `[ipv4]`/`[ipv6]` settings of one keyfile (nm-settings-keyfile(5)): `addressN=a/p[,gw]`,
/// `gateway`, `dns`, `dns-search`, `routeN=dest/p[,next-hop[,metric]]`.
fn read_ip_settings(c: &mut Carried, source: &str, text: &str, first_v4: &mut bool) {
    for (section, entries) in ini_sections(text) {
        if section != "ipv4" && section != "ipv6" {
            continue;
        }
        for (key, value) in entries {
            let numbered = |base: &str| {
                key.strip_prefix(base)
                    .is_some_and(|n| n.chars().all(|ch| ch.is_ascii_digit()))
            };
            if numbered("address") || numbered("addresses") {
                for item in value.split(';').filter(|i| !i.trim().is_empty()) {
                    let mut parts = item.split(',');
                    c.add_address(source, parts.next().unwrap_or(""), first_v4);
                    if let Some(gw) = parts.next().filter(|g| !g.trim().is_empty()) {
                        c.add_gateway(source, gw);
                    }
                }
            } else if numbered("route") || numbered("routes") {
                for item in value.split(';').filter(|i| !i.trim().is_empty()) {
                    let parts: Vec<&str> = item.split(',').map(str::trim).collect();
                    c.add_route(
                        source,
                        parts[0],
                        parts.get(1).copied().filter(|v| !v.is_empty()),
                        parts.get(2).copied().filter(|v| !v.is_empty()),
                    );
                }
            } else if key == "gateway" {
                c.add_gateway(source, &value);
            } else if key == "dns" {
                c.add_dns(source, &value);
            } else if key == "dns-search" {
                c.add_search(source, &value);
            } else if key.starts_with("route") && key.ends_with("_options") {
                c.skipped.push(format!("{source}: {key}={value}"));
            }
        }
    }
}

/// The `[ipv4]` and `[ipv6]` sections of the bond: step 4's address first, then what it
/// inherits. IPv6 is `manual` with inherited addresses, `auto` when a card had IPv6
/// autoconfiguration or only IPv6 routes, a gateway or DNS servers came over, and `disabled`
/// otherwise, as before.
fn ip_sections(ip: &str, c: &Carried) -> String {
    let route = |r: &super::carry::Route| {
        let none = if r.is_v6() { "::" } else { "0.0.0.0" };
        let mut v = r.to.clone();
        if r.via.is_some() || r.metric.is_some() {
            v.push(',');
            v.push_str(&r.via.map(|x| x.to_string()).unwrap_or_else(|| none.into()));
        }
        if let Some(m) = r.metric {
            v.push_str(&format!(",{m}"));
        }
        v
    };
    let list = |items: Vec<String>| items.iter().map(|i| format!("{i};")).collect::<String>();
    let mut s = format!("\n[ipv4]\naddress1={ip}\n");
    for (n, a) in c.addresses_v4().enumerate() {
        s.push_str(&format!("address{}={a}\n", n + 2));
    }
    let dns4: Vec<String> = c.dns_v4().map(|d| d.to_string()).collect();
    if !dns4.is_empty() {
        s.push_str(&format!("dns={}\n", list(dns4)));
    }
    if !c.search.is_empty() {
        s.push_str(&format!("dns-search={}\n", list(c.search.clone())));
    }
    if let Some(gw) = c.gateway4 {
        s.push_str(&format!("gateway={gw}\n"));
    }
    s.push_str("method=manual\n");
    for (n, r) in c.routes.iter().filter(|r| !r.is_v6()).enumerate() {
        s.push_str(&format!("route{}={}\n", n + 1, route(r)));
    }
    s.push_str("\n[ipv6]\n");
    let v6: Vec<&String> = c.addresses_v6().collect();
    for (n, a) in v6.iter().enumerate() {
        s.push_str(&format!("address{}={a}\n", n + 1));
    }
    let dns6: Vec<String> = c.dns_v6().map(|d| d.to_string()).collect();
    if !dns6.is_empty() {
        s.push_str(&format!("dns={}\n", list(dns6.clone())));
    }
    if let Some(gw) = c.gateway6 {
        s.push_str(&format!("gateway={gw}\n"));
    }
    let method = if !v6.is_empty() {
        "manual"
    } else if c.has_v6() || !dns6.is_empty() || c.ipv6_auto {
        "auto"
    } else {
        "disabled"
    };
    s.push_str(&format!("method={method}\n"));
    for (n, r) in c.routes.iter().filter(|r| r.is_v6()).enumerate() {
        s.push_str(&format!("route{}={}\n", n + 1, route(r)));
    }
    s
}

/// A stable UUID for a profile name, so re-running the tool (and the expected files of the
/// tests) give the same profile identity. RFC 9562 version 8 is the layout meant for
/// application-defined UUIDs; the 128 bits come from two FNV-1a passes.
pub fn stable_uuid(seed: &str) -> String {
    let fnv = |basis: u64| {
        seed.bytes().fold(basis, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&fnv(0xcbf2_9ce4_8422_2325).to_be_bytes());
    bytes[8..].copy_from_slice(&fnv(0x6c62_272e_07bb_0142).to_be_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

impl Backend for NetworkManager {
    fn kind(&self) -> BackendKind {
        BackendKind::NetworkManager
    }

    fn is_configured(&self, root: &Path, bond: BondName) -> bool {
        profiles(root)
            .map(|ps| {
                ps.iter().any(|p| {
                    is_type(&p.text, "bond") && ifname(&p.text).as_deref() == Some(bond.as_str())
                })
            })
            .unwrap_or(false)
    }

    fn nic_address(&self, root: &Path, nic: &str) -> Option<(Ipv4Addr, Ipv4Addr)> {
        profiles(root)
            .ok()?
            .iter()
            .filter(|p| ifname(&p.text).as_deref() == Some(nic))
            .find_map(|p| {
                let a = ini_get(&p.text, "ipv4", "address1")
                    .or_else(|| ini_get(&p.text, "ipv4", "addresses"))?;
                net::parse_cidr(a.split([',', ';']).next()?)
            })
    }

    fn settings_of(&self, root: &Path, name: &str) -> Result<Carried, BondError> {
        // The profiles that configure `name` now: not ports, and not switched off (a card's
        // old profile keeps its settings after the tool set autoconnect=false; re-running
        // must not resurrect them over the bond's).
        let mut c = Carried::default();
        let mut first_v4 = false;
        for p in profiles(root)? {
            if ifname(&p.text).as_deref() == Some(name)
                && !is_port(&p.text)
                && ini_get(&p.text, "connection", "autoconnect").as_deref() != Some("false")
            {
                read_ip_settings(
                    &mut c,
                    &p.path.display().to_string(),
                    &p.text,
                    &mut first_v4,
                );
                // No [ipv6] method means `auto` to NetworkManager: the card had SLAAC.
                c.ipv6_auto |= matches!(
                    ini_get(&p.text, "ipv6", "method").as_deref(),
                    None | Some("auto") | Some("dhcp")
                );
            }
        }
        Ok(c)
    }

    fn plan(&self, root: &Path, setup: &BondSetup) -> Result<Vec<FileChange>, BondError> {
        let options = params::to_networkmanager(&params::parse(&setup.params)?)?;
        let inherited = carried(self, root, setup)?;
        let bond = setup.bond.as_str();
        let existing = profiles(root)?;
        let mut changes = Vec::new();

        let old_bond = existing
            .iter()
            .find(|p| is_type(&p.text, "bond") && ifname(&p.text).as_deref() == Some(bond));
        let bond_uuid = old_bond
            .and_then(|p| ini_get(&p.text, "connection", "uuid"))
            .unwrap_or_else(|| stable_uuid(&format!("upkeep-bond:{bond}")));
        let mut text = format!("[connection]\nid={bond}\nuuid={bond_uuid}\ntype=bond\ninterface-name={bond}\n\n[bond]\n");
        for (k, v) in &options {
            text.push_str(&format!("{k}={v}\n"));
        }
        text.push_str(&ip_sections(
            &format!("{}/{}", setup.ip, net::prefix_len(setup.mask)),
            &inherited,
        ));
        let bond_path = old_bond
            .map(|p| p.path.clone())
            .unwrap_or_else(|| PathBuf::from(DIR).join(format!("{bond}.nmconnection")));
        changes.push(FileChange {
            path: bond_path,
            content: text,
            mode: Some(0o600),
        });

        for slave in setup.slaves() {
            let is_our_port = |p: &Profile| {
                let master = ini_get(&p.text, "connection", "master")
                    .or_else(|| ini_get(&p.text, "connection", "controller"));
                ifname(&p.text).as_deref() == Some(slave)
                    && (master.as_deref() == Some(bond)
                        || master.as_deref() == Some(bond_uuid.as_str()))
            };
            let port = existing.iter().find(|p| is_our_port(p));
            let id = format!("{bond}-slave-{slave}");
            let uuid = port
                .and_then(|p| ini_get(&p.text, "connection", "uuid"))
                .unwrap_or_else(|| stable_uuid(&format!("upkeep-bond:{id}")));
            let path = port
                .map(|p| p.path.clone())
                .unwrap_or_else(|| PathBuf::from(DIR).join(format!("{id}.nmconnection")));
            changes.push(FileChange {
                path,
                content: format!(
                    "[connection]\nid={id}\nuuid={uuid}\ntype=ethernet\ninterface-name={slave}\nmaster={bond}\nslave-type=bond\n\n[ethernet]\n"
                ),
                mode: Some(0o600),
            });
            for other in existing
                .iter()
                .filter(|p| ifname(&p.text).as_deref() == Some(slave) && !is_our_port(p))
            {
                if ini_get(&other.text, "connection", "autoconnect").as_deref() != Some("false") {
                    changes.push(FileChange {
                        path: other.path.clone(),
                        content: ini_set(&other.text, "connection", "autoconnect", "false"),
                        mode: Some(0o600),
                    });
                }
            }
        }
        Ok(changes)
    }

    fn restart_commands(&self, bond: BondName) -> Vec<Vec<String>> {
        vec![
            vec!["nmcli".into(), "connection".into(), "reload".into()],
            vec![
                "nmcli".into(),
                "connection".into(),
                "up".into(),
                bond.as_str().into(),
            ],
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_shape() {
        let u = stable_uuid("upkeep-bond:bond0");
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "8");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
        assert_eq!(u, stable_uuid("upkeep-bond:bond0"));
        assert_ne!(u, stable_uuid("upkeep-bond:bond1"));
    }
}

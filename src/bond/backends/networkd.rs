//! systemd-networkd files (systemd.netdev(5), systemd.network(5)), the modern counterpart of
//! BOND-19/20: a `.netdev` creating the bond with step 5's options, a `.network` giving it the
//! address of step 4, and one `.network` per slave with `Bond=`.
//!
//! networkd applies the first `.network` file (in file-name order) whose `[Match]` fits a link,
//! so the files are named `00-…`: they must win over a distribution's `*.network` that would
//! otherwise keep configuring the slave cards on their own.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::carry::Carried;
use super::{
    carried, files_with_suffix, ini_get, ini_sections, read_optional, Backend, BackendKind,
    BondSetup, FileChange,
};
use crate::bond::args::BondName;
use crate::bond::errors::BondError;
use crate::bond::{net, params};

pub const DIR: &str = "etc/systemd/network";

pub struct Networkd;

/// Every `key=` value of a section (networkd allows repeated `Address=`).
fn ini_all(text: &str, section: &str, key: &str) -> Vec<String> {
    let mut current = String::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') && t.ends_with(']') {
            current = t[1..t.len() - 1].to_string();
        } else if current == section {
            if let Some((k, v)) = t.split_once('=') {
                if k.trim() == key {
                    out.push(v.trim().to_string());
                }
            }
        }
    }
    out
}

/// Whether a `.network` file's `[Match] Name=` names `nic` itself (glob catch-alls such as
/// `Name=*` are a distribution's DHCP default, not this card's configuration).
fn matches_name(text: &str, nic: &str) -> bool {
    ini_all(text, "Match", "Name")
        .iter()
        .any(|n| n.split_whitespace().any(|w| w == nic))
}

/// systemd.network(5) settings of one file: `[Network]` `Address=`, `Gateway=`, `DNS=`,
/// `Domains=`; `[Address]` `Address=`; `[Route]` `Destination=`/`Gateway=`/`Metric=`.
fn read_settings(c: &mut Carried, source: &str, text: &str) {
    let mut first_v4 = false;
    for (section, entries) in ini_sections(text) {
        match section.as_str() {
            "Network" => {
                for (k, v) in entries {
                    match k.as_str() {
                        "Address" => c.add_address(source, &v, &mut first_v4),
                        "Gateway" => c.add_gateway(source, &v),
                        "DNS" => c.add_dns(source, &v),
                        "Domains" => c.add_search(source, &v),
                        _ => {}
                    }
                }
            }
            "Address" => {
                for (k, v) in entries {
                    if k == "Address" {
                        c.add_address(source, &v, &mut first_v4);
                    }
                }
            }
            "Route" => {
                let get = |key: &str| {
                    entries
                        .iter()
                        .rev()
                        .find(|(k, _)| k == key)
                        .map(|(_, v)| v.as_str())
                };
                if let Some((k, v)) = entries
                    .iter()
                    .find(|(k, _)| !matches!(k.as_str(), "Destination" | "Gateway" | "Metric"))
                {
                    c.skipped.push(format!("{source}: [Route] {k}={v}"));
                    continue;
                }
                let to = get("Destination").unwrap_or("default");
                c.add_route(source, to, get("Gateway"), get("Metric"));
            }
            _ => {}
        }
    }
}

/// The bond's `.network`: step 4's address, then what it inherits.
fn bond_network(bond: &str, address: &str, c: &Carried) -> String {
    let mut s = format!("[Match]\nName={bond}\n\n[Network]\nAddress={address}\n");
    for a in &c.addresses {
        s.push_str(&format!("Address={a}\n"));
    }
    if let Some(gw) = c.gateway4 {
        s.push_str(&format!("Gateway={gw}\n"));
    }
    if let Some(gw) = c.gateway6 {
        s.push_str(&format!("Gateway={gw}\n"));
    }
    for d in &c.dns {
        s.push_str(&format!("DNS={d}\n"));
    }
    if !c.search.is_empty() {
        s.push_str(&format!("Domains={}\n", c.search.join(" ")));
    }
    for r in &c.routes {
        s.push_str(&format!("\n[Route]\nDestination={}\n", r.to));
        if let Some(via) = r.via {
            s.push_str(&format!("Gateway={via}\n"));
        }
        if let Some(m) = r.metric {
            s.push_str(&format!("Metric={m}\n"));
        }
    }
    s
}

impl Backend for Networkd {
    fn kind(&self) -> BackendKind {
        BackendKind::Networkd
    }

    fn is_configured(&self, root: &Path, bond: BondName) -> bool {
        files_with_suffix(&root.join(DIR), ".netdev")
            .iter()
            .any(|p| {
                std::fs::read_to_string(p).is_ok_and(|t| {
                    ini_get(&t, "NetDev", "Name").as_deref() == Some(bond.as_str())
                        && ini_get(&t, "NetDev", "Kind").as_deref() == Some("bond")
                })
            })
    }

    fn nic_address(&self, root: &Path, nic: &str) -> Option<(Ipv4Addr, Ipv4Addr)> {
        files_with_suffix(&root.join(DIR), ".network")
            .iter()
            .find_map(|p| {
                let t = std::fs::read_to_string(p).ok()?;
                if !matches_name(&t, nic) {
                    return None;
                }
                ini_all(&t, "Network", "Address")
                    .into_iter()
                    .chain(ini_all(&t, "Address", "Address"))
                    .find_map(|a| net::parse_cidr(&a))
            })
    }

    fn settings_of(&self, root: &Path, name: &str) -> Result<Carried, BondError> {
        // networkd applies the first matching file only; so does the tool.
        let mut c = Carried::default();
        for path in files_with_suffix(&root.join(DIR), ".network") {
            let text = read_optional(&path)?.unwrap_or_default();
            if matches_name(&text, name) {
                let rel = path.strip_prefix(root).unwrap_or(&path);
                read_settings(&mut c, &rel.display().to_string(), &text);
                break;
            }
        }
        Ok(c)
    }

    fn plan(&self, root: &Path, setup: &BondSetup) -> Result<Vec<FileChange>, BondError> {
        let nd = params::to_networkd(&params::parse(&setup.params)?)?;
        let inherited = carried(self, root, setup)?;
        let bond = setup.bond.as_str();
        let dir = PathBuf::from(DIR);
        let mut netdev = format!("[NetDev]\nName={bond}\nKind=bond\n\n[Bond]\n");
        for (k, v) in &nd.settings {
            netdev.push_str(&format!("{k}={v}\n"));
        }
        let mut changes = vec![
            FileChange {
                path: dir.join(format!("00-{bond}.netdev")),
                content: netdev,
                mode: Some(0o644),
            },
            FileChange {
                path: dir.join(format!("00-{bond}.network")),
                content: bond_network(
                    bond,
                    &format!("{}/{}", setup.ip, net::prefix_len(setup.mask)),
                    &inherited,
                ),
                mode: Some(0o644),
            },
        ];
        for slave in setup.slaves() {
            let mut content = format!("[Match]\nName={slave}\n\n[Network]\nBond={bond}\n");
            if nd.primary.as_deref() == Some(slave) {
                content.push_str("PrimarySlave=yes\n");
            }
            changes.push(FileChange {
                path: dir.join(format!("00-{bond}-slave-{slave}.network")),
                content,
                mode: Some(0o644),
            });
        }
        Ok(changes)
    }

    fn restart_commands(&self, _bond: BondName) -> Vec<Vec<String>> {
        vec![
            vec!["networkctl".into(), "reload".into()],
            vec![
                "systemctl".into(),
                "restart".into(),
                "systemd-networkd".into(),
            ],
        ]
    }
}

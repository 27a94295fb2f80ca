//! systemd-networkd files (systemd.netdev(5), systemd.network(5)), the modern counterpart of
//! BOND-19/20: a `.netdev` creating the bond with step 5's options, a `.network` giving it the
//! address of step 4, and one `.network` per slave with `Bond=`.
//!
//! networkd applies the first `.network` file (in file-name order) whose `[Match]` fits a link,
//! so the files are named `00-…`: they must win over a distribution's `*.network` that would
//! otherwise keep configuring the slave cards on their own.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::{files_with_suffix, ini_get, Backend, BackendKind, BondSetup, FileChange};
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
                let names = ini_all(&t, "Match", "Name");
                if !names.iter().any(|n| n.split_whitespace().any(|w| w == nic)) {
                    return None;
                }
                ini_all(&t, "Network", "Address")
                    .into_iter()
                    .chain(ini_all(&t, "Address", "Address"))
                    .find_map(|a| net::parse_cidr(&a))
            })
    }

    fn plan(&self, _root: &Path, setup: &BondSetup) -> Result<Vec<FileChange>, BondError> {
        let nd = params::to_networkd(&params::parse(&setup.params)?)?;
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
                content: format!(
                    "[Match]\nName={bond}\n\n[Network]\nAddress={}/{}\n",
                    setup.ip,
                    net::prefix_len(setup.mask)
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

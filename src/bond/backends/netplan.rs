//! netplan YAML (`/etc/netplan/*.yaml`, netplan(5)), the modern counterpart of BOND-19/20 on
//! Ubuntu-style hosts: one file of the tool's own declaring the two cards (without DHCP) and
//! the bond with step 4's address and step 5's `parameters`.
//!
//! netplan merges all its files; the tool's file is named `90-upkeep-<bond>.yaml` so its
//! scalars (`dhcp4: false`) override an installer's `50-cloud-init.yaml`. Address *lists* are
//! appended across files, not replaced, so a static address another file gives a slave cannot
//! be undone from here: the tool warns about it instead of editing YAML it does not own.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::{files_with_suffix, Backend, BackendKind, BondSetup, FileChange};
use crate::bond::args::BondName;
use crate::bond::errors::BondError;
use crate::bond::{net, params};

pub const DIR: &str = "etc/netplan";

pub struct Netplan;

fn own_file(bond: BondName) -> PathBuf {
    PathBuf::from(DIR).join(format!("90-upkeep-{bond}.yaml"))
}

/// A line-level view of block-style YAML: enough to find `network.<kind>.<name>` and its
/// `addresses` without a YAML library (the files are read, never rewritten).
struct YamlScan<'a> {
    text: &'a str,
}

impl YamlScan<'_> {
    /// Calls `f(path, value)` for every `key: value` and every `- item` (path ends with the
    /// list's key) in the document.
    fn walk(&self, mut f: impl FnMut(&[String], &str)) {
        let mut stack: Vec<(usize, String)> = Vec::new();
        for raw in self.text.lines() {
            let line = match raw.find(" #") {
                Some(i) => &raw[..i],
                None if raw.trim_start().starts_with('#') => "",
                None => raw,
            };
            if line.trim().is_empty() {
                continue;
            }
            let indent = line.len() - line.trim_start().len();
            let content = line.trim();
            if let Some(item) = content.strip_prefix("- ") {
                while stack.last().is_some_and(|(i, _)| *i >= indent) {
                    stack.pop();
                }
                let path: Vec<String> = stack.iter().map(|(_, k)| k.clone()).collect();
                f(&path, item.trim());
                continue;
            }
            let Some((key, value)) = content.split_once(':') else {
                continue;
            };
            while stack.last().is_some_and(|(i, _)| *i >= indent) {
                stack.pop();
            }
            let key = key
                .trim()
                .trim_matches(|c| c == '"' || c == '\'')
                .to_string();
            stack.push((indent, key));
            let path: Vec<String> = stack.iter().map(|(_, k)| k.clone()).collect();
            f(&path, value.trim());
        }
    }

    fn defines(&self, kind: &str, name: &str) -> bool {
        let mut found = false;
        self.walk(|path, _| {
            found |= path.len() >= 3 && path[0] == "network" && path[1] == kind && path[2] == name
        });
        found
    }

    fn first_address(&self, kind: &str, name: &str) -> Option<(Ipv4Addr, Ipv4Addr)> {
        let mut found = None;
        self.walk(|path, value| {
            if found.is_some()
                || path.len() != 4
                || path[0] != "network"
                || path[1] != kind
                || path[2] != name
                || path[3] != "addresses"
            {
                return;
            }
            let items = value.trim_start_matches('[').trim_end_matches(']');
            found = items
                .split(',')
                .map(|s| s.trim().trim_matches(|c| c == '"' || c == '\''))
                .find_map(net::parse_cidr);
        });
        found
    }
}

fn yaml_files(root: &Path) -> Vec<(PathBuf, String)> {
    files_with_suffix(&root.join(DIR), ".yaml")
        .into_iter()
        .filter_map(|p| {
            let text = std::fs::read_to_string(&p).ok()?;
            Some((
                p.strip_prefix(root).map(Path::to_path_buf).unwrap_or(p),
                text,
            ))
        })
        .collect()
}

impl Backend for Netplan {
    fn kind(&self) -> BackendKind {
        BackendKind::Netplan
    }

    fn is_configured(&self, root: &Path, bond: BondName) -> bool {
        yaml_files(root)
            .iter()
            .any(|(_, t)| YamlScan { text: t }.defines("bonds", bond.as_str()))
    }

    fn nic_address(&self, root: &Path, nic: &str) -> Option<(Ipv4Addr, Ipv4Addr)> {
        // A bond's own address sits under `bonds`; it is the default when re-editing a bond.
        yaml_files(root).iter().find_map(|(_, t)| {
            let scan = YamlScan { text: t };
            scan.first_address("ethernets", nic)
                .or_else(|| scan.first_address("bonds", nic))
        })
    }

    fn plan(&self, _root: &Path, setup: &BondSetup) -> Result<Vec<FileChange>, BondError> {
        let parameters = params::to_netplan(&params::parse(&setup.params)?)?;
        let bond = setup.bond.as_str();
        let mut y = String::from("network:\n  version: 2\n  ethernets:\n");
        for slave in setup.slaves() {
            y.push_str(&format!(
                "    {slave}:\n      dhcp4: false\n      dhcp6: false\n"
            ));
        }
        y.push_str(&format!(
            "  bonds:\n    {bond}:\n      interfaces: [{}, {}]\n      addresses: [{}/{}]\n      dhcp4: false\n      dhcp6: false\n",
            setup.nic1,
            setup.nic2,
            setup.ip,
            net::prefix_len(setup.mask)
        ));
        if !parameters.is_empty() {
            y.push_str("      parameters:\n");
            for (k, v) in &parameters {
                y.push_str(&format!("        {k}: {v}\n"));
            }
        }
        Ok(vec![FileChange {
            path: own_file(setup.bond),
            content: y,
            mode: Some(0o600),
        }])
    }

    fn warnings(&self, root: &Path, setup: &BondSetup) -> Vec<String> {
        let own = own_file(setup.bond);
        let mut out = Vec::new();
        for (path, text) in yaml_files(root).iter().filter(|(p, _)| *p != own) {
            let scan = YamlScan { text };
            for slave in setup.slaves() {
                if scan.first_address("ethernets", slave).is_some() {
                    out.push(format!(
                        "{} still gives {slave} an address; netplan appends address lists across files, so remove it there",
                        path.display()
                    ));
                }
            }
            if scan.defines("bonds", setup.bond.as_str()) {
                out.push(format!(
                    "{} also defines {}; netplan merges both definitions",
                    path.display(),
                    setup.bond
                ));
            }
        }
        out
    }

    fn restart_commands(&self, _bond: BondName) -> Vec<Vec<String>> {
        vec![vec!["netplan".into(), "apply".into()]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_addresses_in_both_list_styles() {
        let block = "network:\n  ethernets:\n    eth0:\n      addresses:\n        - \"10.1.2.3/24\"\n    eth1:\n      dhcp4: true\n";
        let flow = "network:\n  version: 2\n  ethernets:\n    eth1:\n      addresses: [192.168.0.70/24, 10.0.0.1/8]\n";
        assert_eq!(
            YamlScan { text: block }
                .first_address("ethernets", "eth0")
                .map(|a| a.0),
            Some(Ipv4Addr::new(10, 1, 2, 3))
        );
        assert_eq!(
            YamlScan { text: block }.first_address("ethernets", "eth1"),
            None
        );
        assert_eq!(
            YamlScan { text: flow }.first_address("ethernets", "eth1"),
            Some((
                Ipv4Addr::new(192, 168, 0, 70),
                Ipv4Addr::new(255, 255, 255, 0)
            ))
        );
        assert!(!YamlScan { text: flow }.defines("bonds", "bond0"));
    }
}

//! Debian ifupdown (`/etc/network/interfaces`, interfaces(5) with ifenslave's `bond-*`
//! options), the modern counterpart of BOND-19/20: the bond gets an `inet static` stanza with
//! `bond-slaves` and step 5's options; each slave's old stanza is replaced by `inet manual`, as
//! the seed turned `ifcfg-ethX` into a slave.
//!
//! The file is edited, not regenerated: only the stanzas and `auto`/`allow-*` mentions of the
//! bond and its two slaves are taken out; everything else (loopback, other cards, comments,
//! `source` lines) stays where it was.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::{read_optional, Backend, BackendKind, BondSetup, FileChange};
use crate::bond::args::BondName;
use crate::bond::errors::BondError;
use crate::bond::{net, params};

pub const FILE: &str = "etc/network/interfaces";

pub struct Ifupdown;

fn is_stanza_keyword(word: &str) -> bool {
    matches!(
        word,
        "iface"
            | "mapping"
            | "auto"
            | "source"
            | "source-directory"
            | "source-dir"
            | "rename"
            | "no-auto-down"
            | "no-scripts"
    ) || word.starts_with("allow-")
}

/// The option lines of `iface <name> inet …`, if such a stanza exists.
fn stanza_options(text: &str, name: &str) -> Option<Vec<(String, String)>> {
    let mut found: Option<Vec<(String, String)>> = None;
    let mut inside = false;
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(first) = words.first() else { continue };
        if first.starts_with('#') {
            continue;
        }
        if is_stanza_keyword(first) {
            if inside {
                return found;
            }
            inside =
                *first == "iface" && words.get(1) == Some(&name) && words.get(2) == Some(&"inet");
            if inside {
                found = Some(Vec::new());
            }
        } else if inside {
            if let Some(opts) = found.as_mut() {
                opts.push((first.to_string(), words[1..].join(" ")));
            }
        }
    }
    found
}

/// `text` without the stanzas of `names` and without those names on `auto`/`allow-*` lines.
fn remove_interfaces(text: &str, names: &[&str]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut skipping = false;
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.first() {
            Some(first) if is_stanza_keyword(first) => {
                skipping = false;
                if *first == "iface" && words.get(1).is_some_and(|n| names.contains(n)) {
                    skipping = true;
                    continue;
                }
                if *first == "auto" || first.starts_with("allow-") {
                    let rest: Vec<&str> = words[1..]
                        .iter()
                        .copied()
                        .filter(|w| !names.contains(w))
                        .collect();
                    if rest.len() != words.len() - 1 {
                        if !rest.is_empty() {
                            out.push(format!("{} {}", first, rest.join(" ")));
                        }
                        continue;
                    }
                }
                out.push(line.to_string());
            }
            // Comments inside a removed stanza may describe the next one: keep them.
            Some(first) if skipping && !first.starts_with('#') => {}
            None if skipping => {}
            _ => out.push(line.to_string()),
        }
    }
    while out.last().is_some_and(|l| l.trim().is_empty()) {
        out.pop();
    }
    let mut s = out.join("\n");
    if !s.is_empty() {
        s.push('\n');
    }
    s
}

impl Backend for Ifupdown {
    fn kind(&self) -> BackendKind {
        BackendKind::Ifupdown
    }

    fn is_configured(&self, root: &Path, bond: BondName) -> bool {
        std::fs::read_to_string(root.join(FILE))
            .is_ok_and(|t| stanza_options(&t, bond.as_str()).is_some())
    }

    fn nic_address(&self, root: &Path, nic: &str) -> Option<(Ipv4Addr, Ipv4Addr)> {
        let text = std::fs::read_to_string(root.join(FILE)).ok()?;
        let opts = stanza_options(&text, nic)?;
        let get = |k: &str| {
            opts.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        };
        let address = get("address")?;
        if let Some(cidr) = net::parse_cidr(&address) {
            return Some(cidr);
        }
        Some((
            net::parse_ipv4(&address)?,
            net::parse_netmask(&get("netmask")?)?,
        ))
    }

    fn plan(&self, root: &Path, setup: &BondSetup) -> Result<Vec<FileChange>, BondError> {
        let options = params::to_ifupdown(&params::parse(&setup.params)?)?;
        let bond = setup.bond.as_str();
        let old = read_optional(&root.join(FILE))?.unwrap_or_default();
        let mut text = remove_interfaces(&old, &[bond, &setup.nic1, &setup.nic2]);
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&format!(
            "auto {bond}\niface {bond} inet static\n    address {}\n    netmask {}\n    bond-slaves {} {}\n",
            setup.ip, setup.mask, setup.nic1, setup.nic2
        ));
        for (k, v) in &options {
            text.push_str(&format!("    {k} {v}\n"));
        }
        for slave in setup.slaves() {
            text.push_str(&format!("\niface {slave} inet manual\n"));
        }
        Ok(vec![FileChange {
            path: PathBuf::from(FILE),
            content: text,
            mode: None,
        }])
    }

    fn restart_commands(&self, _bond: BondName) -> Vec<Vec<String>> {
        vec![vec![
            "systemctl".into(),
            "restart".into(),
            "networking".into(),
        ]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_only_named_stanzas() {
        let text = "auto lo eth0\niface lo inet loopback\n\n# uplink\niface eth0 inet static\n    address 10.0.0.5/24\n\nallow-hotplug eth2\niface eth2 inet dhcp\n";
        assert_eq!(
            remove_interfaces(text, &["eth0"]),
            "auto lo\niface lo inet loopback\n\n# uplink\nallow-hotplug eth2\niface eth2 inet dhcp\n"
        );
        let opts = stanza_options(text, "eth0").unwrap();
        assert_eq!(
            opts,
            vec![("address".to_string(), "10.0.0.5/24".to_string())]
        );
    }
}

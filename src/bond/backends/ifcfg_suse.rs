//! SuSE style ifcfg files (BOND-17, BOND-19): `/etc/sysconfig/network/ifcfg-<bond>` in the
//! SLES 9 template, plus the module lines of BOND-21/22 where those files exist.
//!
//! Deviation from the guide's template (MAP-24): a `NETMASK='…'` line is added. Without it
//! SuSE's scripts (and today's wicked) fall back to the classful mask, so the mask asked in
//! step 4 would be lost. The slaves' own files are left alone, as the seed's matrix says.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::carry::Carried;
use super::ifcfg_redhat::{ifcfg_exists, ifcfg_file_address, moved_route_files};
use super::{
    carried, edit_shell_keys, is_numbered, module_conf_changes, read_optional, shell_var, Backend,
    BackendKind, BondSetup, FileChange,
};
use crate::bond::args::BondName;
use crate::bond::errors::BondError;

pub const DIR: &str = "etc/sysconfig/network";

pub struct IfcfgSuse;

/// The layer-3 keys of a SuSE ifcfg file (ifcfg(5)): they move from a card's file to the bond's.
fn is_l3_key(key: &str) -> bool {
    [
        "IPADDR",
        "NETMASK",
        "PREFIXLEN",
        "BROADCAST",
        "LABEL",
        "REMOTE_IPADDR",
    ]
    .iter()
    .any(|base| is_numbered(key, base))
        && key != "LABEL"
        || key == "NETWORK"
}

/// `ifcfg-<name>` (addresses: `IPADDR`, `IPADDR_<suffix>` with `PREFIXLEN`/`NETMASK`) and
/// `ifroute-<name>` (routes(5): `DEST GATEWAY NETMASK INTERFACE [OPTIONS]`). DNS is not a
/// per-interface setting on SuSE (`NETCONFIG_DNS_STATIC_*` in `network/config` are global), so
/// there is nothing to carry for it and nothing is lost.
fn settings_in(root: &Path, name: &str) -> Result<Carried, BondError> {
    let mut c = Carried::default();
    let ifcfg = PathBuf::from(DIR).join(format!("ifcfg-{name}"));
    let src = ifcfg.display().to_string();
    if let Some(text) = read_optional(&root.join(&ifcfg))? {
        let mut first_v4 = false;
        let mut suffixes: Vec<String> = vec![String::new()];
        for line in text.lines() {
            if let Some((k, _)) = line.trim().split_once('=') {
                if let Some(sfx) = k.trim().strip_prefix("IPADDR_") {
                    suffixes.push(format!("_{sfx}"));
                }
            }
        }
        for sfx in suffixes {
            let Some(ip) = shell_var(&text, &format!("IPADDR{sfx}")).filter(|v| !v.is_empty())
            else {
                continue;
            };
            let prefix = shell_var(&text, &format!("PREFIXLEN{sfx}"))
                .or_else(|| shell_var(&text, &format!("NETMASK{sfx}")))
                .filter(|v| !v.is_empty());
            let cidr = match (ip.contains('/'), prefix) {
                (false, Some(p)) => format!("{ip}/{p}"),
                _ => ip,
            };
            c.add_address(&src, &cidr, &mut first_v4);
        }
    }
    let routes = PathBuf::from(DIR).join(format!("ifroute-{name}"));
    let src = routes.display().to_string();
    for line in read_optional(&root.join(&routes))?
        .unwrap_or_default()
        .lines()
    {
        read_route_line(&mut c, &src, line);
    }
    // The global `routes` file: only its lines that name this interface in column 4 (a line
    // with `-` there applies to whichever interface reaches the gateway, the bond included).
    let global = PathBuf::from(DIR).join("routes");
    let src = global.display().to_string();
    for line in read_optional(&root.join(&global))?
        .unwrap_or_default()
        .lines()
        .filter(|l| names_interface(l, name))
    {
        read_route_line(&mut c, &src, line);
    }
    Ok(c)
}

/// Whether a routes(5) line's interface column is `name`.
fn names_interface(line: &str, name: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    !words.first().is_some_and(|w| w.starts_with('#')) && words.get(3) == Some(&name)
}

/// One routes(5) line: `DESTINATION GATEWAY NETMASK INTERFACE [OPTIONS]`, `-` for none.
fn read_route_line(c: &mut Carried, src: &str, line: &str) {
    let words: Vec<&str> = line.split_whitespace().collect();
    if words.is_empty() || words[0].starts_with('#') {
        return;
    }
    let to = match dash(words.get(2)) {
        Some(mask) if !words[0].contains('/') && words[0] != "default" => {
            format!("{}/{mask}", words[0])
        }
        _ => words[0].to_string(),
    };
    let metric = match words.get(4..).unwrap_or_default() {
        [] => None,
        ["metric", m] => Some(*m),
        _ => {
            c.skipped.push(format!("{src}: {}", line.trim()));
            return;
        }
    };
    c.add_route(src, &to, dash(words.get(1)), metric);
}

/// A routes(5) column; `-` means none.
fn dash<'a>(w: Option<&&'a str>) -> Option<&'a str> {
    w.copied().filter(|w| *w != "-")
}

/// `IPADDR_<n>` lines for the addresses beyond step 4's.
fn carried_lines(c: &Carried) -> String {
    c.addresses
        .iter()
        .enumerate()
        .map(|(n, a)| format!("IPADDR_{}='{a}'\n", n + 1))
        .collect()
}

/// `ifroute-<bond>`: the default gateways and the static routes, all through the bond.
fn ifroute(c: &Carried, bond: &str) -> String {
    let mut out = String::new();
    for gw in c
        .gateway4
        .map(std::net::IpAddr::V4)
        .into_iter()
        .chain(c.gateway6)
    {
        out.push_str(&format!("default {gw} - {bond}\n"));
    }
    for r in &c.routes {
        let via = r.via.map(|v| v.to_string()).unwrap_or_else(|| "-".into());
        out.push_str(&format!("{} {via} - {bond}", r.to));
        if let Some(m) = r.metric {
            out.push_str(&format!(" metric {m}"));
        }
        out.push('\n');
    }
    out
}

impl Backend for IfcfgSuse {
    fn kind(&self) -> BackendKind {
        BackendKind::IfcfgSuse
    }

    fn is_configured(&self, root: &Path, bond: BondName) -> bool {
        ifcfg_exists(root, DIR, bond.as_str())
    }

    fn nic_address(&self, root: &Path, nic: &str) -> Option<(Ipv4Addr, Ipv4Addr)> {
        ifcfg_file_address(root, DIR, nic)
    }

    fn settings_of(&self, root: &Path, name: &str) -> Result<Carried, BondError> {
        settings_in(root, name)
    }

    fn plan(&self, root: &Path, setup: &BondSetup) -> Result<Vec<FileChange>, BondError> {
        crate::bond::params::check_quotable(&setup.params)?;
        let bond = setup.bond.as_str();
        let inherited = carried(self, root, setup)?;
        let content = format!(
            "BOOTPROTO='static'\nIPADDR='{}'\nNETMASK='{}'\nMTU=\"\"\nREMOTE_IPADDR=\"\"\nSTARTMODE='onboot'\nBONDING_MASTER='yes'\nBONDING_MODULE_OPTS='{}'\nBONDING_SLAVE0='{}'\nBONDING_SLAVE1='{}'\n{}",
            setup.ip,
            setup.mask,
            setup.params.trim(),
            setup.nic1,
            setup.nic2,
            carried_lines(&inherited)
        );
        let mut changes = vec![FileChange {
            path: PathBuf::from(DIR).join(format!("ifcfg-{bond}")),
            content,
            mode: None,
        }];
        let routes_rel = PathBuf::from(DIR).join(format!("ifroute-{bond}"));
        let routes = ifroute(&inherited, bond);
        if !routes.is_empty() || root.join(&routes_rel).is_file() {
            changes.push(FileChange {
                path: routes_rel,
                content: routes,
                mode: None,
            });
        }
        for slave in setup.slaves() {
            // BOND-17 leaves the cards' files alone; only a card file that gives the card an
            // address is edited (issue 13): the address and its routes now belong to the bond,
            // and a port must not configure one itself (`BOOTPROTO='none'`, as ifcfg-bonding(5)
            // asks of bond ports).
            let rel = PathBuf::from(DIR).join(format!("ifcfg-{slave}"));
            if let Some(old) = read_optional(&root.join(&rel))? {
                let edited = edit_shell_keys(&old, is_l3_key, ("BOOTPROTO", "BOOTPROTO='none'"));
                if edited != old {
                    changes.push(FileChange {
                        path: rel,
                        content: edited,
                        mode: None,
                    });
                }
            }
            changes.extend(moved_route_files(
                root,
                DIR,
                &[format!("ifroute-{slave}")],
                bond,
            ));
        }
        // Lines of the global routes file that name a card now belong to the bond.
        let global = PathBuf::from(DIR).join("routes");
        if let Some(text) = read_optional(&root.join(&global))? {
            let kept = super::without_lines(&text, |l| {
                setup.slaves().iter().any(|s| names_interface(l, s))
            });
            if kept != text {
                changes.push(FileChange {
                    path: global,
                    content: kept,
                    mode: None,
                });
            }
        }
        changes.extend(module_conf_changes(root, setup)?);
        Ok(changes)
    }

    fn restart_commands(&self, _bond: BondName) -> Vec<Vec<String>> {
        vec![vec!["systemctl".into(), "restart".into(), "network".into()]]
    }
}

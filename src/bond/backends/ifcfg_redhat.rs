//! Red Hat style ifcfg files, the seed's main format (BOND-17, BOND-19..22): `ifcfg-<bond>` is
//! created, `ifcfg-<slave>` gets `SLAVE=yes`/`MASTER=<bond>` appended, and the module lines go
//! to `modprobe.conf` / `modules.conf` where the host still has them.
//!
//! One addition to the seed's five-line `ifcfg-<bond>`: `BONDING_OPTS`, because initscripts
//! since RHEL 5 (and NetworkManager's ifcfg-rh plugin) take per-bond options only from there;
//! without it a modern host would ignore step 5's parameters.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::carry::Carried;
use super::{
    carried, edit_shell_keys, is_numbered, module_conf_changes, read_optional, shell_var,
    without_lines, Backend, BackendKind, BondSetup, FileChange,
};
use crate::bond::args::BondName;
use crate::bond::errors::BondError;
use crate::bond::net;

pub const DIR: &str = "etc/sysconfig/network-scripts";

pub struct IfcfgRedhat;

/// `IPADDR` with `NETMASK`, or `PREFIX`, or an `IPADDR=a.b.c.d/nn` (both ifcfg dialects).
pub(crate) fn ifcfg_address(text: &str) -> Option<(Ipv4Addr, Ipv4Addr)> {
    let ip = shell_var(text, "IPADDR").or_else(|| shell_var(text, "IPADDR0"))?;
    if let Some(cidr) = net::parse_cidr(&ip) {
        return Some(cidr);
    }
    let ip = net::parse_ipv4(&ip)?;
    let mask = shell_var(text, "NETMASK")
        .and_then(|m| net::parse_netmask(&m))
        .or_else(|| {
            shell_var(text, "PREFIX").and_then(|p| net::mask_from_prefix(p.parse().ok()?))
        })?;
    Some((ip, mask))
}

/// Whether `<root>/<dir>/ifcfg-<name>` exists (both ifcfg flavours keep one file per device).
pub(super) fn ifcfg_exists(root: &Path, dir: &str, name: &str) -> bool {
    root.join(dir).join(format!("ifcfg-{name}")).is_file()
}

/// The address and netmask in `<root>/<dir>/ifcfg-<nic>`, if it sets them.
pub(super) fn ifcfg_file_address(
    root: &Path,
    dir: &str,
    nic: &str,
) -> Option<(Ipv4Addr, Ipv4Addr)> {
    let text = std::fs::read_to_string(root.join(dir).join(format!("ifcfg-{nic}"))).ok()?;
    ifcfg_address(&text)
}

/// The layer-3 keys of a Red Hat ifcfg file: they move from a card's file to the bond's.
fn is_l3_key(key: &str) -> bool {
    ["IPADDR", "NETMASK", "PREFIX", "GATEWAY", "DNS"]
        .iter()
        .any(|base| is_numbered(key, base))
        && key != "DNS"
        || matches!(
            key,
            "NETWORK"
                | "BROADCAST"
                | "DOMAIN"
                | "IPV6ADDR"
                | "IPV6ADDR_SECONDARIES"
                | "IPV6_DEFAULTGW"
                | "DEFROUTE"
        )
}

/// The settings of `ifcfg-<name>`, `route-<name>` and `route6-<name>` (initscripts'
/// ifcfg-network-scripts documentation; NetworkManager's ifcfg-rh reads the same keys).
fn settings_in(root: &Path, name: &str) -> Result<Carried, BondError> {
    let mut c = Carried::default();
    let ifcfg = PathBuf::from(DIR).join(format!("ifcfg-{name}"));
    let src = ifcfg.display().to_string();
    if let Some(text) = read_optional(&root.join(&ifcfg))? {
        let mut first_v4 = false;
        for n in 0..=255u32 {
            let suffix = if n == 0 { String::new() } else { n.to_string() };
            let ip = shell_var(&text, &format!("IPADDR{suffix}"))
                .or_else(|| (n == 0).then(|| shell_var(&text, "IPADDR0")).flatten());
            let Some(ip) = ip else { continue };
            let prefix = shell_var(&text, &format!("PREFIX{suffix}"))
                .or_else(|| shell_var(&text, &format!("NETMASK{suffix}")))
                .or_else(|| (n == 0).then(|| shell_var(&text, "PREFIX0")).flatten())
                .or_else(|| (n == 0).then(|| shell_var(&text, "NETMASK0")).flatten());
            let cidr = match (ip.contains('/'), prefix) {
                (false, Some(p)) => format!("{ip}/{p}"),
                _ => ip,
            };
            c.add_address(&src, &cidr, &mut first_v4);
        }
        if let Some(gw) = shell_var(&text, "GATEWAY").or_else(|| shell_var(&text, "GATEWAY0")) {
            c.add_gateway(&src, &gw);
        }
        for n in 1..=9 {
            if let Some(dns) = shell_var(&text, &format!("DNS{n}")) {
                c.add_dns(&src, &dns);
            }
        }
        if let Some(domain) = shell_var(&text, "DOMAIN") {
            c.add_search(&src, &domain);
        }
        for key in ["IPV6ADDR", "IPV6ADDR_SECONDARIES"] {
            for a in shell_var(&text, key).unwrap_or_default().split_whitespace() {
                c.add_address(&src, a, &mut first_v4);
            }
        }
        if let Some(gw) = shell_var(&text, "IPV6_DEFAULTGW") {
            c.add_gateway(&src, &gw);
        }
    }
    for file in [format!("route-{name}"), format!("route6-{name}")] {
        let rel = PathBuf::from(DIR).join(&file);
        let src = rel.display().to_string();
        let Some(text) = read_optional(&root.join(&rel))? else {
            continue;
        };
        if shell_var(&text, "ADDRESS0").is_some() {
            // The older key form: ADDRESSn / NETMASKn / GATEWAYn / METRICn.
            for n in 0..=255 {
                let Some(addr) = shell_var(&text, &format!("ADDRESS{n}")) else {
                    continue;
                };
                let to = match shell_var(&text, &format!("NETMASK{n}")) {
                    Some(mask) => format!("{addr}/{mask}"),
                    None => addr,
                };
                c.add_route(
                    &src,
                    &to,
                    shell_var(&text, &format!("GATEWAY{n}")).as_deref(),
                    shell_var(&text, &format!("METRIC{n}")).as_deref(),
                );
            }
        } else {
            for line in text.lines() {
                let line = line.trim();
                if !line.is_empty() && !line.starts_with('#') {
                    c.add_ip_route(&src, line);
                }
            }
        }
    }
    Ok(c)
}

/// The bond's own lines for what it inherits, appended to `ifcfg-<bond>`.
fn carried_lines(c: &Carried) -> String {
    let mut out = String::new();
    for (n, a) in c.addresses_v4().enumerate() {
        if let Some((ip, prefix)) = a.split_once('/') {
            out.push_str(&format!("IPADDR{0}={ip}\nPREFIX{0}={prefix}\n", n + 1));
        }
    }
    if let Some(gw) = c.gateway4 {
        out.push_str(&format!("GATEWAY={gw}\n"));
    }
    for (n, d) in c.dns.iter().enumerate() {
        out.push_str(&format!("DNS{}={d}\n", n + 1));
    }
    if !c.search.is_empty() {
        out.push_str(&format!("DOMAIN=\"{}\"\n", c.search.join(" ")));
    }
    if c.has_v6() {
        out.push_str("IPV6INIT=yes\n");
        let v6: Vec<&String> = c.addresses_v6().collect();
        if let Some((first, rest)) = v6.split_first() {
            out.push_str(&format!("IPV6ADDR={first}\n"));
            if !rest.is_empty() {
                let rest: Vec<&str> = rest.iter().map(|s| s.as_str()).collect();
                out.push_str(&format!("IPV6ADDR_SECONDARIES=\"{}\"\n", rest.join(" ")));
            }
        }
        if let Some(gw) = c.gateway6 {
            out.push_str(&format!("IPV6_DEFAULTGW={gw}\n"));
        }
    }
    out
}

/// `route-<bond>` / `route6-<bond>` in `ip route` syntax, one route a line.
fn route_file(c: &Carried, bond: &str, v6: bool) -> String {
    let mut out = String::new();
    for r in c.routes.iter().filter(|r| r.is_v6() == v6) {
        out.push_str(&r.to);
        if let Some(via) = r.via {
            out.push_str(&format!(" via {via}"));
        }
        if let Some(m) = r.metric {
            out.push_str(&format!(" metric {m}"));
        }
        out.push_str(&format!(" dev {bond}\n"));
    }
    out
}

/// The route files of `name` that exist, replaced by a note: their routes now belong to the
/// bond, and a route through a port would point at a link that has no address.
pub(super) fn moved_route_files(
    root: &Path,
    dir: &str,
    files: &[String],
    bond: &str,
) -> Vec<FileChange> {
    files
        .iter()
        .map(|f| PathBuf::from(dir).join(f))
        .filter(|rel| root.join(rel).is_file())
        .map(|rel| FileChange {
            path: rel,
            content: format!("# The routes of this card were moved to {bond} by upkeep bond.\n"),
            mode: None,
        })
        .collect()
}

impl Backend for IfcfgRedhat {
    fn kind(&self) -> BackendKind {
        BackendKind::IfcfgRedhat
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
        let mut changes = vec![FileChange {
            path: PathBuf::from(DIR).join(format!("ifcfg-{bond}")),
            content: format!(
                "DEVICE={bond}\nIPADDR={}\nNETMASK={}\nONBOOT=yes\nBOOTPROTO=static\nBONDING_OPTS=\"{}\"\n{}",
                setup.ip,
                setup.mask,
                setup.params.trim(),
                carried_lines(&inherited)
            ),
            mode: None,
        }];
        for (file, v6) in [
            (format!("route-{bond}"), false),
            (format!("route6-{bond}"), true),
        ] {
            let rel = PathBuf::from(DIR).join(&file);
            let content = route_file(&inherited, bond, v6);
            // An old route file of the bond is rewritten even when empty now: its routes were
            // read into `inherited` and are written again if they still apply.
            if !content.is_empty() || root.join(&rel).is_file() {
                changes.push(FileChange {
                    path: rel,
                    content,
                    mode: None,
                });
            }
        }
        for slave in setup.slaves() {
            let rel = PathBuf::from(DIR).join(format!("ifcfg-{slave}"));
            // BOND-20 appends to the slave's file; earlier SLAVE/MASTER lines are dropped first
            // so that running the tool twice does not stack them. The layer-3 settings moved to
            // the bond above are taken out (issue 13): a port has no address of its own.
            let mut content = match read_optional(&root.join(&rel))? {
                Some(old) => without_lines(
                    &edit_shell_keys(&old, is_l3_key, ("BOOTPROTO", "BOOTPROTO=none")),
                    |l| {
                        let t = l.trim_start();
                        t.starts_with("SLAVE=") || t.starts_with("MASTER=")
                    },
                ),
                None => format!("DEVICE={slave}\nONBOOT=yes\nBOOTPROTO=none\n"),
            };
            content.push_str(&format!("SLAVE=yes\nMASTER={bond}\n"));
            changes.push(FileChange {
                path: rel,
                content,
                mode: None,
            });
        }
        for slave in setup.slaves() {
            changes.extend(moved_route_files(
                root,
                DIR,
                &[format!("route-{slave}"), format!("route6-{slave}")],
                bond,
            ));
        }
        changes.extend(module_conf_changes(root, setup)?);
        Ok(changes)
    }

    fn restart_commands(&self, _bond: BondName) -> Vec<Vec<String>> {
        vec![vec!["systemctl".into(), "restart".into(), "network".into()]]
    }
}

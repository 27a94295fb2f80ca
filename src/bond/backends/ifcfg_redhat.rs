//! Red Hat style ifcfg files, the seed's main format (BOND-17, BOND-19..22): `ifcfg-<bond>` is
//! created, `ifcfg-<slave>` gets `SLAVE=yes`/`MASTER=<bond>` appended, and the module lines go
//! to `modprobe.conf` / `modules.conf` where the host still has them.
//!
//! One addition to the seed's five-line `ifcfg-<bond>`: `BONDING_OPTS`, because initscripts
//! since RHEL 5 (and NetworkManager's ifcfg-rh plugin) take per-bond options only from there;
//! without it a modern host would ignore step 5's parameters.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::{
    module_conf_changes, read_optional, shell_var, without_lines, Backend, BackendKind, BondSetup,
    FileChange,
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

    fn plan(&self, root: &Path, setup: &BondSetup) -> Result<Vec<FileChange>, BondError> {
        crate::bond::params::check_quotable(&setup.params)?;
        let bond = setup.bond.as_str();
        let mut changes = vec![FileChange {
            path: PathBuf::from(DIR).join(format!("ifcfg-{bond}")),
            content: format!(
                "DEVICE={bond}\nIPADDR={}\nNETMASK={}\nONBOOT=yes\nBOOTPROTO=static\nBONDING_OPTS=\"{}\"\n",
                setup.ip,
                setup.mask,
                setup.params.trim()
            ),
            mode: None,
        }];
        for slave in setup.slaves() {
            let rel = PathBuf::from(DIR).join(format!("ifcfg-{slave}"));
            // BOND-20 appends to the slave's file; earlier SLAVE/MASTER lines are dropped first
            // so that running the tool twice does not stack them.
            let mut content = match read_optional(&root.join(&rel))? {
                Some(old) => without_lines(&old, |l| {
                    let t = l.trim_start();
                    t.starts_with("SLAVE=") || t.starts_with("MASTER=")
                }),
                None => format!("DEVICE={slave}\nONBOOT=yes\nBOOTPROTO=none\n"),
            };
            content.push_str(&format!("SLAVE=yes\nMASTER={bond}\n"));
            changes.push(FileChange {
                path: rel,
                content,
                mode: None,
            });
        }
        changes.extend(module_conf_changes(root, setup)?);
        Ok(changes)
    }

    fn restart_commands(&self, _bond: BondName) -> Vec<Vec<String>> {
        vec![vec!["systemctl".into(), "restart".into(), "network".into()]]
    }
}

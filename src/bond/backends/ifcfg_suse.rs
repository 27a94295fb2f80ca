//! SuSE style ifcfg files (BOND-17, BOND-19): `/etc/sysconfig/network/ifcfg-<bond>` in the
//! SLES 9 template, plus the module lines of BOND-21/22 where those files exist.
//!
//! Deviation from the guide's template (MAP-24): a `NETMASK='…'` line is added. Without it
//! SuSE's scripts (and today's wicked) fall back to the classful mask, so the mask asked in
//! step 4 would be lost. The slaves' own files are left alone, as the seed's matrix says.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::ifcfg_redhat::{ifcfg_exists, ifcfg_file_address};
use super::{module_conf_changes, Backend, BackendKind, BondSetup, FileChange};
use crate::bond::args::BondName;
use crate::bond::errors::BondError;

pub const DIR: &str = "etc/sysconfig/network";

pub struct IfcfgSuse;

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

    fn plan(&self, root: &Path, setup: &BondSetup) -> Result<Vec<FileChange>, BondError> {
        crate::bond::params::check_quotable(&setup.params)?;
        let content = format!(
            "BOOTPROTO='static'\nIPADDR='{}'\nNETMASK='{}'\nMTU=\"\"\nREMOTE_IPADDR=\"\"\nSTARTMODE='onboot'\nBONDING_MASTER='yes'\nBONDING_MODULE_OPTS='{}'\nBONDING_SLAVE0='{}'\nBONDING_SLAVE1='{}'\n",
            setup.ip,
            setup.mask,
            setup.params.trim(),
            setup.nic1,
            setup.nic2
        );
        let mut changes = vec![FileChange {
            path: PathBuf::from(DIR).join(format!("ifcfg-{}", setup.bond)),
            content,
            mode: None,
        }];
        changes.extend(module_conf_changes(root, setup)?);
        Ok(changes)
    }

    fn restart_commands(&self, _bond: BondName) -> Vec<Vec<String>> {
        vec![vec!["systemctl".into(), "restart".into(), "network".into()]]
    }
}

//! `-s`: the bonding driver's status file (BOND-12). The plain form prints the file as the
//! seed did; `--json` prints the parsed fields (mode, MII status, active slave, and per slave
//! its link, failure count and permanent address) for scripts and monitors.
//!
//! The parser takes the file as the driver writes it in any version from the 2.4-era
//! `/proc/net/bondN/info` to today's `/proc/net/bonding/bondN`: `Key: value` lines, a header
//! part for the bond and one block per `Slave Interface:`. Lines it does not know are skipped,
//! so new driver fields never break it.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::args::BondName;
use super::errors::{code, BondError};

/// The driver's status file of `bond` under `root`: the 2.6+ location first, then 2.4's.
pub fn locate(root: &Path, bond: BondName) -> Option<PathBuf> {
    [
        format!("proc/net/bonding/{bond}"),
        format!("proc/net/{bond}/info"),
    ]
    .into_iter()
    .map(|rel| root.join(rel))
    .find(|p| p.exists())
}

/// Reads the status file's text (108 when there is none or it cannot be read).
pub fn read(root: &Path, bond: BondName) -> Result<(PathBuf, String), BondError> {
    let path = locate(root, bond).ok_or_else(|| BondError::ReadStatus {
        code: code::NO_STATUS,
        detail: format!(
            "neither {} nor {} exists; {bond} is probably not configured",
            root.join(format!("proc/net/bonding/{bond}")).display(),
            root.join(format!("proc/net/{bond}/info")).display()
        ),
    })?;
    let bytes = std::fs::read(&path).map_err(|e| BondError::ReadStatus {
        code: code::STATUS_IO,
        detail: format!("{}: {e}", path.display()),
    })?;
    Ok((path, String::from_utf8_lossy(&bytes).into_owned()))
}

/// One slave block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SlaveStatus {
    pub interface: String,
    pub mii_status: Option<String>,
    pub speed: Option<String>,
    pub duplex: Option<String>,
    pub link_failure_count: Option<u64>,
    pub permanent_hw_addr: Option<String>,
    /// 802.3ad only.
    pub aggregator_id: Option<String>,
}

/// The parsed file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BondStatus {
    pub driver_version: Option<String>,
    /// The mode as the driver words it, e.g. `fault-tolerance (active-backup)`.
    pub mode_text: Option<String>,
    /// The mode's option name, e.g. `active-backup` (None when the wording is unknown).
    pub mode: Option<String>,
    pub mii_status: Option<String>,
    pub mii_polling_interval_ms: Option<u64>,
    pub up_delay_ms: Option<u64>,
    pub down_delay_ms: Option<u64>,
    pub primary_slave: Option<String>,
    pub active_slave: Option<String>,
    pub transmit_hash_policy: Option<String>,
    /// 802.3ad only.
    pub lacp_rate: Option<String>,
    /// 802.3ad only: the aggregator in use.
    pub active_aggregator_id: Option<String>,
    pub slaves: Vec<SlaveStatus>,
}

/// Maps the driver's wording of a mode to the option name (bond_mode_name() in the driver).
fn mode_name(text: &str) -> Option<&'static str> {
    const MODES: [(&str, &str); 7] = [
        ("round-robin", "balance-rr"),
        ("active-backup", "active-backup"),
        ("(xor)", "balance-xor"),
        ("broadcast", "broadcast"),
        ("802.3ad", "802.3ad"),
        ("transmit load balancing", "balance-tlb"),
        ("adaptive load balancing", "balance-alb"),
    ];
    let lower = text.to_ascii_lowercase();
    MODES
        .iter()
        .find(|(needle, _)| lower.contains(needle))
        .map(|(_, name)| *name)
}

/// `None` for the driver's "None" placeholder; also drops a trailing `(…)` remark.
fn named(value: &str) -> Option<String> {
    let v = value.split(" (").next().unwrap_or(value).trim();
    (!v.is_empty() && v != "None").then(|| v.to_string())
}

fn number(value: &str) -> Option<u64> {
    value.split_whitespace().next()?.parse().ok()
}

/// Parses the status file's text. Never fails: unknown or broken lines are skipped.
pub fn parse(text: &str) -> BondStatus {
    let mut st = BondStatus::default();
    let mut in_active_aggregator = false;
    for raw in text.lines() {
        let indented = raw.starts_with([' ', '\t']);
        let line = raw.trim();
        if let Some(v) = line.strip_prefix("Ethernet Channel Bonding Driver:") {
            st.driver_version = Some(v.trim().to_string());
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if key == "Slave Interface" {
            st.slaves.push(SlaveStatus {
                interface: value.to_string(),
                ..SlaveStatus::default()
            });
            continue;
        }
        if let Some(slave) = st.slaves.last_mut() {
            // Indented lines in a slave block are LACP PDU details, not the slave's own fields.
            if indented {
                continue;
            }
            match key {
                "MII Status" => slave.mii_status = Some(value.to_string()),
                "Speed" => slave.speed = Some(value.to_string()),
                "Duplex" => slave.duplex = Some(value.to_string()),
                "Link Failure Count" => slave.link_failure_count = number(value),
                "Permanent HW addr" => slave.permanent_hw_addr = Some(value.to_string()),
                "Aggregator ID" => slave.aggregator_id = Some(value.to_string()),
                _ => {}
            }
            continue;
        }
        if key == "Active Aggregator Info" {
            in_active_aggregator = true;
            continue;
        }
        if in_active_aggregator && indented {
            if key == "Aggregator ID" {
                st.active_aggregator_id = Some(value.to_string());
            }
            continue;
        }
        in_active_aggregator = false;
        match key {
            "Bonding Mode" => {
                st.mode = mode_name(value).map(str::to_string);
                st.mode_text = Some(value.to_string());
            }
            "MII Status" => st.mii_status = Some(value.to_string()),
            "MII Polling Interval (ms)" => st.mii_polling_interval_ms = number(value),
            "Up Delay (ms)" => st.up_delay_ms = number(value),
            "Down Delay (ms)" => st.down_delay_ms = number(value),
            "Primary Slave" => st.primary_slave = named(value),
            "Currently Active Slave" => st.active_slave = named(value),
            "Transmit Hash Policy" => st.transmit_hash_policy = named(value),
            "LACP rate" => st.lacp_rate = Some(value.to_string()),
            _ => {}
        }
    }
    st
}

/// The `--json` document: the bond, where its status came from, and the parsed fields.
#[derive(Serialize)]
pub struct StatusReport<'a> {
    pub bond: &'a str,
    pub source: String,
    #[serde(flatten)]
    pub status: BondStatus,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_does_not_panic() {
        let st = parse("::::\nSlave Interface:\n\u{0}\nLink Failure Count: x\nBonding Mode:");
        assert_eq!(st.slaves.len(), 1);
        assert_eq!(st.slaves[0].link_failure_count, None);
        assert_eq!(st.mode, None);
    }
}

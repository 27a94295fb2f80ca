//! The NIC Link Up/Down monitor (MON-1 `nic_link`, HWM-1..7, MAP-10, MAP-20): link state from
//! sysfs (`/sys/class/net/<if>/operstate` and `carrier`), the modern form of the seed's
//! ethtool / MII query. Error when the interface is missing, administratively down, or has no
//! carrier.

use std::io;
use std::path::PathBuf;

use upkeep_actors::host::ProbeResult;

use super::{FAILED, INVALID};

pub(super) async fn check(sysfs: PathBuf, interface: String) -> ProbeResult {
    let dir = sysfs.join("class/net").join(&interface);
    let operstate = match tokio::fs::read_to_string(dir.join("operstate")).await {
        Ok(s) => s.trim().to_owned(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return ProbeResult::error(INVALID, format!("interface {interface} does not exist"))
        }
        Err(e) => {
            return ProbeResult::error(FAILED, format!("cannot read the state of {interface}: {e}"))
        }
    };
    // Reading `carrier` of an interface that is administratively down fails with EINVAL.
    let carrier = match tokio::fs::read_to_string(dir.join("carrier")).await {
        Ok(s) => Some(s.trim() == "1"),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Some(false),
        Err(_) => None,
    };
    link_verdict(&interface, &operstate, carrier)
}

/// `operstate` is RFC 2863's; drivers that do not report it say `unknown` (loopback, some
/// virtual NICs), and then the carrier decides.
pub(crate) fn link_verdict(interface: &str, operstate: &str, carrier: Option<bool>) -> ProbeResult {
    match (operstate, carrier) {
        ("up", Some(true) | None) => ProbeResult::normal(),
        ("unknown" | "dormant", Some(true)) => ProbeResult::normal(),
        (state, Some(false)) => ProbeResult::error(
            FAILED,
            format!("link of {interface} is down (operstate {state}, no carrier)"),
        ),
        (state, _) => ProbeResult::error(
            FAILED,
            format!("link of {interface} is down (operstate {state})"),
        ),
    }
}
